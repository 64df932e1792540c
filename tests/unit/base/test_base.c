/* Unit tests for core/base: buffers, string helpers, parsing, logging sinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "base/base.h"

#include <stdio.h>
#include <string.h>

static void test_buf_append_and_consume(void **state)
{
	(void)state;
	struct fg_buf b = {0};
	assert_int_equal(fg_buf_append_str(&b, "hello "), FG_OK);
	assert_int_equal(fg_buf_printf(&b, "%s %d", "world", 42), FG_OK);
	assert_string_equal(fg_buf_cstr(&b), "hello world 42");
	fg_buf_consume(&b, 6);
	assert_string_equal(fg_buf_cstr(&b), "world 42");
	fg_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(fg_buf_append(&b, "x", 1), FG_OK);
	assert_int_equal(b.len, 10000);
	fg_buf_free(&b);
	assert_null(b.data);
}

static void test_strlcpy_truncates(void **state)
{
	(void)state;
	char small[4];
	assert_false(fg_strlcpy(small, "abcdef", sizeof small));
	assert_string_equal(small, "abc");
	assert_true(fg_strlcpy(small, "ab", sizeof small));
	assert_string_equal(small, "ab");
}

static void test_parse_u64(void **state)
{
	(void)state;
	uint64_t v;
	assert_true(fg_parse_u64("8443", 1, 65535, &v));
	assert_int_equal(v, 8443);
	assert_false(fg_parse_u64("70000", 1, 65535, &v));
	assert_false(fg_parse_u64("0", 1, 65535, &v));
	assert_false(fg_parse_u64("12x", 0, 100, &v));
	assert_false(fg_parse_u64("", 0, 100, &v));
	assert_false(fg_parse_u64("-1", 0, 100, &v));
	assert_false(fg_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v));
	assert_true(fg_parse_u64("18446744073709551615", 0, UINT64_MAX, &v));
}

static void test_ct_equal_and_hex(void **state)
{
	(void)state;
	assert_true(fg_ct_equal("abc", "abc", 3));
	assert_false(fg_ct_equal("abc", "abd", 3));
	char hex[9];
	fg_hex(hex, (const uint8_t *)"\x00\x1f\xa0\xff", 4);
	assert_string_equal(hex, "001fa0ff");
	assert_int_equal(fg_hex_digit('0'), 0);
	assert_int_equal(fg_hex_digit('a'), 10);
	assert_int_equal(fg_hex_digit('F'), 15);
	assert_int_equal(fg_hex_digit('g'), -1);
	assert_int_equal(fg_hex_digit('\0'), -1);
}

static void test_host_name_check(void **state)
{
	(void)state;
	size_t at = 99;
	assert_int_equal(fg_host_name_check("xmpp.example.com", 16, true, &at), FG_NAME_OK);
	assert_int_equal(fg_host_name_check("Example.COM", 11, false, NULL), FG_NAME_OK);
	assert_int_equal(fg_host_name_check("Example.com", 11, true, &at), FG_NAME_UPPERCASE);
	assert_int_equal(at, 0);
	assert_int_equal(fg_host_name_check("", 0, false, NULL), FG_NAME_EMPTY_LABEL);
	assert_int_equal(fg_host_name_check("a..b", 4, false, &at), FG_NAME_EMPTY_LABEL);
	assert_int_equal(at, 2);
	assert_int_equal(fg_host_name_check("a.b.", 4, false, NULL), FG_NAME_EMPTY_LABEL);
	assert_int_equal(fg_host_name_check("a-.b", 4, false, NULL), FG_NAME_HYPHEN_END);
	assert_int_equal(fg_host_name_check("a.-b", 4, false, NULL), FG_NAME_HYPHEN_START);
	assert_int_equal(fg_host_name_check("a_b", 3, false, &at), FG_NAME_BAD_CHAR);
	assert_int_equal(at, 1);
	char label[66];
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_int_equal(fg_host_name_check(label, 63, false, NULL), FG_NAME_OK);
	assert_int_equal(fg_host_name_check(label, 64, false, NULL), FG_NAME_LABEL_LONG);
}

static void test_format_iso8601(void **state)
{
	(void)state;
	char buf[32];
	assert_true(fg_format_iso8601(buf, sizeof(buf), 1795291542123LL));
	assert_string_equal(buf, "2026-11-21T20:05:42Z");
	assert_true(fg_format_iso8601(buf, sizeof(buf), 0));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	assert_false(fg_format_iso8601(buf, 10, 0));
	assert_string_equal(buf, "");
}

static void test_strerror_total(void **state)
{
	(void)state;
	for (int e = 0; e < FG_ERR__COUNT; e++)
		assert_non_null(fg_strerror((enum fg_err)e));
	assert_string_equal(fg_strerror((enum fg_err)999), "unknown error");
}

struct captured {
	int count;
	char last[FG_LOG_MSG_MAX];
	enum fg_log_level level;
};

static void capture_sink(void *ctx, const struct fg_log_record *rec)
{
	struct captured *c = ctx;
	c->count++;
	c->level = rec->level;
	fg_strlcpy(c->last, rec->msg, sizeof c->last);
}

static void test_log_sinks_filter_and_sanitise(void **state)
{
	(void)state;
	struct captured c = {0};
	int h = fg_log_add_sink(capture_sink, &c, FG_LOG_NOTICE);
	assert_true(h >= 0);
	FG_LOGI("test", "below the sink's level");
	assert_int_equal(c.count, 0);
	FG_LOGW("test", "line one\nforged line %d", 2);
	assert_int_equal(c.count, 1);
	assert_int_equal(c.level, FG_LOG_WARN);
	/* A newline from a peer must not forge a second log line. */
	assert_string_equal(c.last, "line one forged line 2");
	fg_log_remove_sink(h);
	FG_LOGE("test", "after removal");
	assert_int_equal(c.count, 1);
	enum fg_log_level l;
	assert_true(fg_log_level_parse("WARNING", &l));
	assert_int_equal(l, FG_LOG_WARN);
	assert_false(fg_log_level_parse("loud", &l));
}

/* RFC 3629 §4 and its §10 examples: shortest form only, no surrogates, at most U+10FFFF. */
static void test_utf8_decode(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t len, want;
		uint32_t cp;
	} rows[] = {
	    {"A", 1, 1, 0x41},
	    {"\xc3\xa9", 2, 2, 0xe9},             /* é */
	    {"\xe2\x82\xac", 3, 3, 0x20ac},       /* € */
	    {"\xf0\x9f\x98\x80", 4, 4, 0x1f600},  /* an emoji, 4 bytes */
	    {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff}, /* the last code point */
	    {"\xef\xbf\xbf", 3, 3, 0xffff},       /* a noncharacter is still UTF-8 */
	    {"\xc0\xaf", 2, 0, 0},                /* overlong '/' */
	    {"\xe0\x80\xaf", 3, 0, 0},            /* overlong, 3 bytes */
	    {"\xf0\x80\x80\xaf", 4, 0, 0},        /* overlong, 4 bytes */
	    {"\xed\xa0\x80", 3, 0, 0},            /* U+D800, a surrogate */
	    {"\xf4\x90\x80\x80", 4, 0, 0},        /* U+110000 */
	    {"\x80", 1, 0, 0},                    /* a lone continuation byte */
	    {"\xe2\x82", 2, 0, 0},                /* cut short */
	    {"\xe2\x28\xa1", 3, 0, 0},            /* bad continuation */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint32_t cp = 0xdead;
		size_t n = fg_utf8_decode((const uint8_t *)rows[i].bytes, rows[i].len, &cp);
		assert_int_equal(n, rows[i].want);
		if (n > 0)
			assert_int_equal(cp, rows[i].cp);
	}
	assert_int_equal(fg_utf8_decode((const uint8_t *)"A", 0, NULL), 0);
}

/* One buffer is lent over and over; a second take while it is out gets its own, and
 * giving either back leaves the first lendable again. */
static void test_readbuf(void **state)
{
	(void)state;
	size_t len = 0, len2 = 0, len3 = 0;
	char *a = fg_readbuf_take(&len);
	assert_non_null(a);
	assert_int_equal(len, FG_READ_BUF);
	a[0] = 'x';
	a[FG_READ_BUF - 1] = 'y';
	char *b = fg_readbuf_take(&len2);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(len2, FG_READ_BUF);
	b[FG_READ_BUF - 1] = 'z';
	fg_readbuf_give(b);
	assert_int_equal(a[FG_READ_BUF - 1], 'y');
	fg_readbuf_give(a);
	char *c = fg_readbuf_take(&len3);
	assert_ptr_equal(c, a);
	fg_readbuf_give(c);
	fg_readbuf_give(NULL);
}

/* The FNV reference vectors (draft-eastlake-fnv): "", "a", "foobar"; a hash continued over
 * two pieces equals the hash of the whole. */
static void test_fnv1a(void **state)
{
	(void)state;
	assert_int_equal(fg_fnv1a32(FG_FNV32_INIT, "", 0), 0x811c9dc5u);
	assert_int_equal(fg_fnv1a32(FG_FNV32_INIT, "a", 1), 0xe40c292cu);
	assert_int_equal(fg_fnv1a32(FG_FNV32_INIT, "foobar", 6), 0xbf9cf968u);
	assert_true(fg_fnv1a64(FG_FNV64_INIT, "", 0) == 0xcbf29ce484222325ull);
	assert_true(fg_fnv1a64(FG_FNV64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
	assert_true(fg_fnv1a64(FG_FNV64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
	assert_int_equal(fg_fnv1a32(fg_fnv1a32(FG_FNV32_INIT, "foo", 3), "bar", 3), 0xbf9cf968u);
	assert_true(fg_fnv1a64(fg_fnv1a64(FG_FNV64_INIT, "foo", 3), "bar", 3) ==
	            0x85944171f73967e8ull);
}

/* Address lists: items in their usual form, each fault named with its item, and matching by
 * prefix in both families (an IPv4-mapped IPv6 peer is its IPv4 address). */
static void test_addr_list(void **state)
{
	(void)state;
	char out[256], bad[64];
	const char *why = NULL;
	assert_true(fg_addr_list_norm(" 192.0.2.7,10.0.0.0/8  2001:DB8:0::/32,\n::1/128 ", out,
	                              sizeof(out), bad, sizeof(bad), &why));
	assert_string_equal(out, "192.0.2.7, 10.0.0.0/8, 2001:db8::/32, ::1");
	assert_true(fg_addr_list_norm("", out, sizeof(out), bad, sizeof(bad), &why));
	assert_string_equal(out, "");
	static const struct {
		const char *in, *bad, *why;
	} faults[] = {
	    {"192.0.2.7, edge.example.com", "edge.example.com", "is not an IPv4"},
	    {"10.0.0.5/8", "10.0.0.5/8", "has address bits set past"},
	    {"10.0.0.0/33", "10.0.0.0/33", "is not 0 to 32"},
	    {"2001:db8::/129", "2001:db8::/129", "is not 0 to 128"},
	    {"10.0.0.0/", "10.0.0.0/", "is not 0 to 32"},
	    {"10.0.0.0/x", "10.0.0.0/x", "is not 0 to 32"},
	    {"256.1.1.1", "256.1.1.1", "is not an IPv4"},
	};
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		why = NULL;
		assert_false(
		    fg_addr_list_norm(faults[i].in, out, sizeof(out), bad, sizeof(bad), &why));
		assert_string_equal(bad, faults[i].bad);
		assert_non_null(strstr(why, faults[i].why));
	}
	char many[1024] = "";
	for (int i = 0; i <= FG_ADDR_LIST_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d ", i);
	char big[1024];
	assert_false(fg_addr_list_norm(many, big, sizeof(big), bad, sizeof(bad), &why));
	assert_string_equal(bad, "10.0.0.32");
	assert_non_null(strstr(why, "too many"));
	assert_false(fg_addr_list_norm(many, out, 40, bad, sizeof(bad), &why));
	assert_non_null(strstr(why, "too long"));
	assert_true(strlen(out) < 40);

	const char *list = "192.0.2.7, 10.0.0.0/8, 172.16.0.0/12, 2001:db8::/32, 0.0.0.0/32";
	assert_true(fg_addr_list_match(list, "192.0.2.7"));
	assert_false(fg_addr_list_match(list, "192.0.2.8"));
	assert_true(fg_addr_list_match(list, "10.255.1.2"));
	assert_true(fg_addr_list_match(list, "172.31.255.255"));
	assert_false(fg_addr_list_match(list, "172.32.0.1"));
	assert_true(fg_addr_list_match(list, "2001:db8:1::5"));
	assert_false(fg_addr_list_match(list, "2001:db9::5"));
	assert_true(fg_addr_list_match(list, "::ffff:10.1.2.3"));
	assert_false(fg_addr_list_match(list, "::ffff:11.1.2.3"));
	assert_false(fg_addr_list_match(list, "not an address"));
	assert_false(fg_addr_list_match("", "192.0.2.7"));
	assert_true(fg_addr_list_match("0.0.0.0/0", "203.0.113.9"));
	assert_false(fg_addr_list_match("0.0.0.0/0", "2001:db8::1"));
	assert_true(fg_addr_list_match("::/0", "2001:db8::1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_append_and_consume),
	    cmocka_unit_test(test_strlcpy_truncates),
	    cmocka_unit_test(test_parse_u64),
	    cmocka_unit_test(test_ct_equal_and_hex),
	    cmocka_unit_test(test_host_name_check),
	    cmocka_unit_test(test_format_iso8601),
	    cmocka_unit_test(test_strerror_total),
	    cmocka_unit_test(test_log_sinks_filter_and_sanitise),
	    cmocka_unit_test(test_utf8_decode),
	    cmocka_unit_test(test_fnv1a),
	    cmocka_unit_test(test_readbuf),
	    cmocka_unit_test(test_addr_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
