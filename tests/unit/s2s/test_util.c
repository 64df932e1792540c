/* Unit tests for the federation engine's pure helpers: the bounded queue, RFC 6120 §8.3.3
 * bounce conditions, setting parsers and one-stanza parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s2s/s2s_internal.h"

static int calls;

static void sent_cb(void *ctx, enum xmpp_stanza_cond result, const char *text)
{
	(void)ctx;
	(void)result;
	(void)text;
	calls++;
}

/* Error stanzas may queue beyond xmpp.queue_max (their loss is never answered); nothing
 * else may. */
static void test_queue_cap(void **state)
{
	(void)state;
	assert_int_equal(s2s__queue_cap(1000, NULL), 1000);
	assert_int_equal(s2s__queue_cap(1000, "chat"), 1000);
	assert_int_equal(s2s__queue_cap(1000, "errors"), 1000);
	assert_int_equal(s2s__queue_cap(1000, "error"), 1000 * S2S_ERROR_QUEUE_FACTOR);
	assert_true(S2S_ERROR_QUEUE_FACTOR > 1);
}

static void test_queue_bounded(void **state)
{
	(void)state;
	struct s2s_queue q = {0};
	const uint8_t a[] = "<message/>";
	assert_int_equal(s2s__queue_push(&q, 2, a, sizeof(a) - 1, sent_cb, NULL), FG_OK);
	assert_int_equal(s2s__queue_push(&q, 2, a, 3, NULL, NULL), FG_OK);
	/* the third stanza is refused: resource-constraint for the sender */
	assert_int_equal(s2s__queue_push(&q, 2, a, 1, NULL, NULL), FG_ERR_TOOBIG);
	assert_int_equal(q.n, 2);
	struct s2s_item *it = s2s__queue_pop(&q);
	assert_non_null(it);
	assert_int_equal(it->len, sizeof(a) - 1);
	assert_memory_equal(it->data, a, it->len);
	assert_ptr_equal(it->cb, sent_cb);
	assert_false(it->routed); /* only s2s_send_routed marks its items */
	assert_null(it->next);
	s2s__item_free(it);
	it = s2s__queue_pop(&q);
	assert_int_equal(it->len, 3);
	s2s__item_free(it);
	assert_null(s2s__queue_pop(&q));
	assert_null(q.head);
	assert_null(q.tail);
	/* an empty stanza still gets its own storage */
	assert_int_equal(s2s__queue_push(&q, 2, a, 0, NULL, NULL), FG_OK);
	assert_non_null(q.head->data);
	assert_int_equal(q.head->len, 0);
	s2s__item_free(s2s__queue_pop(&q));
	/* usable again after draining */
	assert_int_equal(s2s__queue_push(&q, 2, a, 1, NULL, NULL), FG_OK);
	s2s__item_free(s2s__queue_pop(&q));
	s2s__item_free(NULL);
}

static void test_bounce_conditions(void **state)
{
	(void)state;
	/* RFC 6120 §8.3.3.16: DNS failures and refused connections */
	assert_int_equal(s2s__fail_cond(S2S_FAIL_DNS), XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	assert_int_equal(s2s__fail_cond(S2S_FAIL_REFUSED), XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	assert_int_equal(s2s__fail_cond(S2S_FAIL_TLS), XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	assert_int_equal(s2s__fail_cond(S2S_FAIL_AUTH), XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	/* §8.3.3.14: timeouts */
	assert_int_equal(s2s__fail_cond(S2S_FAIL_TIMEOUT), XMPP_SC_REMOTE_SERVER_TIMEOUT);
	assert_int_equal(s2s__fail_cond(S2S_FAIL_POLICY), XMPP_SC_POLICY_VIOLATION);
	assert_int_equal(s2s__fail_cond(S2S_FAIL_SHUTDOWN), XMPP_SC_SERVICE_UNAVAILABLE);
	assert_int_equal(s2s__resolve_fail(RESOLVE_NXDOMAIN), S2S_FAIL_DNS);
	assert_int_equal(s2s__resolve_fail(RESOLVE_NODATA), S2S_FAIL_DNS);
	assert_int_equal(s2s__resolve_fail(RESOLVE_SERVFAIL), S2S_FAIL_DNS);
	assert_int_equal(s2s__resolve_fail(RESOLVE_TIMEOUT), S2S_FAIL_TIMEOUT);
	assert_int_equal(s2s__resolve_fail(RESOLVE_OK), S2S_FAIL_NONE);
	assert_string_equal(s2s__fail_name(S2S_FAIL_TIMEOUT), "timeout");
	assert_string_equal(s2s__fail_name((enum s2s_fail)99), "unknown");
}

static void test_settings_parsers(void **state)
{
	(void)state;
	char out[4][DB_DOMAIN_MAX];
	assert_int_equal(s2s__split_list(" 127.0.0.1, ::1  10.0.0.1,,", out, 4), 3);
	assert_string_equal(out[0], "127.0.0.1");
	assert_string_equal(out[1], "::1");
	assert_string_equal(out[2], "10.0.0.1");
	assert_int_equal(s2s__split_list("a b c d e", out, 4), 4);
	assert_int_equal(s2s__split_list("", out, 4), 0);
	assert_int_equal(s2s__split_list(NULL, out, 4), 0);
	assert_true(s2s__parse_bool("true", false));
	assert_false(s2s__parse_bool("false", true));
	assert_true(s2s__parse_bool("junk", true));
	assert_int_equal(s2s__parse_tls_mode("off", XMPP_TLS_REQUIRED), XMPP_TLS_OFF);
	assert_int_equal(s2s__parse_tls_mode("optional", XMPP_TLS_OFF), XMPP_TLS_OPTIONAL);
	assert_int_equal(s2s__parse_tls_mode("required", XMPP_TLS_OFF), XMPP_TLS_REQUIRED);
	assert_int_equal(s2s__parse_tls_mode("x", XMPP_TLS_OPTIONAL), XMPP_TLS_OPTIONAL);
	struct db_allow_entry a = {0};
	assert_int_equal(s2s__tls_for_peer(XMPP_TLS_OPTIONAL, NULL), XMPP_TLS_OPTIONAL);
	a.tls = DB_TLS_REQUIRED;
	assert_int_equal(s2s__tls_for_peer(XMPP_TLS_OFF, &a), XMPP_TLS_REQUIRED);
	a.tls = DB_TLS_OFF;
	assert_int_equal(s2s__tls_for_peer(XMPP_TLS_REQUIRED, &a), XMPP_TLS_OFF);
	assert_string_equal(s2s__tls_mode_name(XMPP_TLS_OPTIONAL), "optional");
	assert_string_equal(s2s__auth_name(XMPP_AUTH_DIALBACK), "dialback");
}

static void test_json_escape(void **state)
{
	(void)state;
	struct fg_buf b = {0};
	s2s__json_escape(&b, "a\"b\\c\n");
	assert_string_equal(fg_buf_cstr(&b), "a\\\"b\\\\c\\u000a");
	fg_buf_free(&b);
	char small[8];
	s2s__fmt(small, sizeof(small), "%s", "longer than eight");
	assert_string_equal(small, "longer ");
}

struct seen {
	char to[64];
	bool error;
	int n;
};

static void node_cb(void *ctx, const struct xmpp_node *n)
{
	struct seen *s = ctx;
	s->n++;
	fg_strlcpy(s->to, xmpp_node_attr(n, "to") ? xmpp_node_attr(n, "to") : "", sizeof(s->to));
	s->error = s2s__is_error_stanza(n);
}

static void test_parse_stanza(void **state)
{
	(void)state;
	struct seen s = {0};
	const char *ok = "<iq type='get' id='1' from='a.test' to='b.test'><ping "
	                 "xmlns='urn:xmpp:ping'/></iq>";
	assert_int_equal(s2s__parse_stanza((const uint8_t *)ok, strlen(ok), node_cb, &s), FG_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.to, "b.test");
	assert_false(s.error);
	const char *err = "<message type='error' from='a.test' to='u@b.test'/>";
	assert_int_equal(s2s__parse_stanza((const uint8_t *)err, strlen(err), node_cb, &s), FG_OK);
	assert_true(s.error);
	/* restricted XML and broken input are refused, never handed out */
	const char *bad = "<!DOCTYPE x><message/>";
	s.n = 0;
	assert_int_equal(s2s__parse_stanza((const uint8_t *)bad, strlen(bad), node_cb, &s),
	                 FG_ERR_PARSE);
	const char *cut = "<message to='x'";
	assert_int_equal(s2s__parse_stanza((const uint8_t *)cut, strlen(cut), node_cb, &s),
	                 FG_ERR_PARSE);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_queue_cap),         cmocka_unit_test(test_queue_bounded),
	    cmocka_unit_test(test_bounce_conditions), cmocka_unit_test(test_settings_parsers),
	    cmocka_unit_test(test_json_escape),       cmocka_unit_test(test_parse_stanza),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
