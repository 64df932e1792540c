/* Unit tests for the XMPP XML stream: RFC 6120 §4 header checks, §11 restricted XML, limits,
 * byte-at-a-time feeding and the serializer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xmpp/xmpp.h"

#define HDR                                                                                        \
	"<?xml version='1.0'?><stream:stream xmlns='jabber:server' "                               \
	"xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "       \
	"to='gw.example' from='peer.example' version='1.0'>"

struct rec {
	int headers;
	int stanzas;
	int closes;
	bool db;
	struct fg_buf log;   /* serialized stanzas, one per line */
	const char *halt_on; /* local name of a stanza after which to halt */
};

static bool on_header(void *ctx, const struct xmpp_stream_header *h)
{
	struct rec *r = ctx;
	r->headers++;
	r->db = h->dialback_ns;
	fg_buf_printf(&r->log, "HDR to=%s from=%s\n", h->to ? h->to : "-", h->from ? h->from : "-");
	return true;
}

static bool on_stanza(void *ctx, const struct xmpp_node *n)
{
	struct rec *r = ctx;
	r->stanzas++;
	assert_int_equal(xmpp_node_serialize(n, XMPP_NS_SERVER, &r->log), FG_OK);
	fg_buf_append_str(&r->log, "\n");
	return r->halt_on == NULL || strcmp(n->name, r->halt_on) != 0;
}

static void on_close(void *ctx)
{
	struct rec *r = ctx;
	r->closes++;
}

static const struct xmpp_stream_ops ops = {on_header, on_stanza, on_close};

/* When set, run() compacts the stream after every chunk: wherever the stream is at rest its
 * parser is freed and rebuilt on the next feed, which must change nothing. */
static bool compact_each;

/* Feeds input in chunks of `chunk` bytes (0: all at once) and returns the stream error. */
static enum xmpp_stream_error run(const char *input, size_t len, size_t chunk, struct rec *r,
                                  const struct xmpp_stream_config *cfg_in)
{
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER};
	if (cfg_in != NULL)
		cfg = *cfg_in;
	cfg.own_pages = compact_each; /* expat in pages of its own, as the s2s machine has it */
	struct xmpp_stream *s = NULL;
	assert_int_equal(xmpp_stream_new(&s, &cfg, &ops, r), FG_OK);
	enum xmpp_stream_error e = XMPP_SE_NONE;
	if (chunk == 0)
		chunk = len;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		e = xmpp_stream_feed(s, (const uint8_t *)input + off, n);
		if (compact_each)
			(void)xmpp_stream_compact(s);
	}
	xmpp_stream_free(s);
	return e;
}

/* Runs input whole and byte by byte; both must agree on the error and the stanzas seen. */
static enum xmpp_stream_error run_both(const char *input, size_t len, int *stanzas,
                                       const struct xmpp_stream_config *cfg)
{
	struct rec a = {0}, b = {0}, c = {0}, d = {0}, f = {0};
	enum xmpp_stream_error ea = run(input, len, 0, &a, cfg);
	enum xmpp_stream_error eb = run(input, len, 1, &b, cfg);
	enum xmpp_stream_error ec = run(input, len, 7, &c, cfg);
	compact_each = true;
	enum xmpp_stream_error ed = run(input, len, 1, &d, cfg);
	enum xmpp_stream_error ef = run(input, len, 7, &f, cfg);
	compact_each = false;
	assert_int_equal(ea, eb);
	assert_int_equal(ea, ec);
	assert_int_equal(ea, ed);
	assert_int_equal(ea, ef);
	assert_int_equal(a.log.len, d.log.len);
	assert_int_equal(a.log.len, f.log.len);
	if (a.log.len > 0) {
		assert_memory_equal(a.log.data, d.log.data, a.log.len);
		assert_memory_equal(a.log.data, f.log.data, a.log.len);
	}
	fg_buf_free(&d.log);
	fg_buf_free(&f.log);
	assert_int_equal(a.stanzas, b.stanzas);
	assert_int_equal(a.stanzas, c.stanzas);
	assert_int_equal(a.log.len, b.log.len);
	if (a.log.len > 0) {
		assert_memory_equal(a.log.data, b.log.data, a.log.len);
		assert_memory_equal(a.log.data, c.log.data, a.log.len);
	}
	if (stanzas != NULL)
		*stanzas = a.stanzas;
	fg_buf_free(&a.log);
	fg_buf_free(&b.log);
	fg_buf_free(&c.log);
	return ea;
}

static enum xmpp_stream_error run_str(const char *input, int *stanzas)
{
	return run_both(input, strlen(input), stanzas, NULL);
}

static void test_good_stream(void **state)
{
	const char *in = HDR "<message to='a@gw.example' from='b@peer.example' id='1'>"
	                     "<body>h&amp;i &lt;3 &#x263A; \xe2\x98\x83</body></message>\n  "
	                     "<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>"
	                     "<presence xml:lang='en'><status><![CDATA[<x>]]></status></presence>"
	                     "</stream:stream>";
	struct rec r = {0};
	assert_int_equal(run(in, strlen(in), 1, &r, NULL), XMPP_SE_NONE);
	assert_int_equal(r.headers, 1);
	assert_int_equal(r.stanzas, 3);
	assert_int_equal(r.closes, 1);
	assert_true(r.db);
	const char *want = "HDR to=gw.example from=peer.example\n"
	                   "<message to='a@gw.example' from='b@peer.example' id='1'>"
	                   "<body>h&amp;i &lt;3 \xe2\x98\xba \xe2\x98\x83</body></message>\n"
	                   "<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>\n"
	                   "<presence xml:lang='en'><status>&lt;x&gt;</status></presence>\n";
	assert_string_equal(fg_buf_cstr(&r.log), want);
	fg_buf_free(&r.log);
	int n;
	assert_int_equal(run_str(in, &n), XMPP_SE_NONE);
	assert_int_equal(n, 3);
}

/* An idle stream frees its parser between stanzas and resumes with the peer's namespace
 * bindings (db: prefix, default namespace, its own stream prefix) intact. */
static void test_compact(void **state)
{
	struct rec r = {0};
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER, .own_pages = true};
	struct xmpp_stream *s = NULL;
	assert_int_equal(xmpp_stream_new(&s, &cfg, &ops, &r), FG_OK);
	assert_false(xmpp_stream_compact(s)); /* before the header */
	const char *hdr = "<s:stream xmlns='jabber:server' xmlns:s='http://etherx.jabber.org/"
	                  "streams' xmlns:db='jabber:server:dialback' to='gw.example' "
	                  "version='1.0'>";
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)hdr, strlen(hdr)), XMPP_SE_NONE);
	assert_true(xmpp_stream_compact(s));
	assert_true(xmpp_stream_compact(s)); /* already compact */
	const char *part = "<db:result from='peer.example' to='gw.example'>ab";
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)part, strlen(part)), XMPP_SE_NONE);
	assert_false(xmpp_stream_compact(s)); /* inside a stanza */
	const char *rest = "cd</db:result> \n";
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)rest, strlen(rest)), XMPP_SE_NONE);
	assert_true(xmpp_stream_compact(s));
	const char *tail = "<message/><s:error/></s:stream>";
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)tail, strlen(tail)), XMPP_SE_NONE);
	assert_int_equal(r.headers, 1);
	assert_int_equal(r.stanzas, 3);
	assert_int_equal(r.closes, 1);
	assert_true(r.db);
	assert_false(xmpp_stream_compact(s)); /* closed */
	/* the replayed header bound db: and the default namespace as the peer did */
	const char *log = fg_buf_cstr(&r.log);
	assert_non_null(strstr(log,
	                       "HDR to=gw.example from=-\n<result xmlns='jabber:server:dialback' "
	                       "from='peer.example' to='gw.example'>abcd</result>\n"));
	assert_non_null(strstr(log, "\n<message/>\n"));
	/* a restart after compaction starts a fresh stream */
	assert_int_equal(xmpp_stream_restart(s), FG_OK);
	assert_false(xmpp_stream_compact(s));
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)hdr, strlen(hdr)), XMPP_SE_NONE);
	assert_true(xmpp_stream_compact(s));
	assert_int_equal(xmpp_stream_restart(s), FG_OK);
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)hdr, strlen(hdr)), XMPP_SE_NONE);
	assert_int_equal(r.headers, 3);
	xmpp_stream_free(s);
	fg_buf_free(&r.log);
}

static void test_doctype(void **state)
{
	assert_int_equal(run_str("<?xml version='1.0'?><!DOCTYPE stream:stream>" HDR, NULL),
	                 XMPP_SE_RESTRICTED_XML);
}

static void test_billion_laughs(void **state)
{
	const char *in = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
	                 "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
	                 "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>" HDR
	                 "<message><body>&lol3;</body></message>";
	assert_int_equal(run_str(in, NULL), XMPP_SE_RESTRICTED_XML);
}

static void test_comment(void **state)
{
	int n = -1;
	assert_int_equal(run_str(HDR "<message><!-- hi --></message>", &n), XMPP_SE_RESTRICTED_XML);
	assert_int_equal(n, 0);
	assert_int_equal(run_str("<!-- hi -->" HDR, NULL), XMPP_SE_RESTRICTED_XML);
}

static void test_pi(void **state)
{
	assert_int_equal(run_str(HDR "<message><?foo bar?></message>", NULL),
	                 XMPP_SE_RESTRICTED_XML);
	assert_int_equal(run_str("<?xml-stylesheet href='x'?>" HDR, NULL), XMPP_SE_RESTRICTED_XML);
}

static void test_bad_entity(void **state)
{
	assert_int_equal(run_str(HDR "<message><body>&foo;</body></message>", NULL),
	                 XMPP_SE_RESTRICTED_XML);
	assert_int_equal(run_str(HDR "<message a='&foo;'/>", NULL), XMPP_SE_RESTRICTED_XML);
}

static void test_invalid_utf8(void **state)
{
	int n = -1;
	/* one good stanza, then a lone continuation byte */
	assert_int_equal(run_str(HDR "<message/><message><body>\x80</body></message>", &n),
	                 XMPP_SE_UNSUPPORTED_ENCODING);
	assert_int_equal(n, 1);
	/* overlong '/' and a UTF-16 surrogate */
	assert_int_equal(run_str(HDR "<message><body>\xc0\xaf</body></message>", NULL),
	                 XMPP_SE_UNSUPPORTED_ENCODING);
	assert_int_equal(run_str(HDR "<message><body>\xed\xa0\x80</body></message>", NULL),
	                 XMPP_SE_UNSUPPORTED_ENCODING);
	/* declared non-UTF-8 encoding */
	assert_int_equal(run_str("<?xml version='1.0' encoding='ISO-8859-1'?>" HDR, NULL),
	                 XMPP_SE_UNSUPPORTED_ENCODING);
	/* UTF-16 with a byte order mark */
	assert_int_equal(run_both("\xff\xfe<\0s\0", 6, NULL, NULL), XMPP_SE_UNSUPPORTED_ENCODING);
	/* a UTF-8 sequence split across reads is fine (covered by run_both), a truncated one
	 * followed by ASCII is not */
	assert_int_equal(run_str(HDR "<message><body>\xe2\x98x</body></message>", NULL),
	                 XMPP_SE_UNSUPPORTED_ENCODING);
	/* XML-forbidden control character */
	assert_int_equal(run_str(HDR "<message><body>\x01</body></message>", NULL),
	                 XMPP_SE_NOT_WELL_FORMED);
	/* ASCII is checked eight bytes at a time: a bad byte at each place of such a word,
	 * and good multi-byte characters between runs of ASCII */
	for (size_t at = 0; at < 9; at++) {
		char in[512];
		snprintf(in, sizeof(in), HDR "<message/><message><body>%.*s\xff%s</body></message>",
		         (int)at, "abcdefghijklmnop", "qrstuvwxyz");
		n = -1;
		assert_int_equal(run_str(in, &n), XMPP_SE_UNSUPPORTED_ENCODING);
		assert_int_equal(n, 1);
	}
	n = -1;
	assert_int_equal(run_str(HDR "<message><body>abcdefgh\xc3\xa9ijklmnopq\xf0\x9f\x98\x80"
	                             "rstuvwxyz0123456789</body></message>",
	                         &n),
	                 XMPP_SE_NONE);
	assert_int_equal(n, 1);
}

static void test_oversized_stanza(void **state)
{
	struct fg_buf b = {0};
	fg_buf_append_str(&b, HDR "<message><body>");
	for (size_t i = 0; i < XMPP_MAX_STANZA_BYTES_PREAUTH; i++)
		fg_buf_append_str(&b, "x");
	fg_buf_append_str(&b, "</body></message>");
	int n = -1;
	assert_int_equal(run_both((const char *)b.data, b.len, &n, NULL), XMPP_SE_POLICY_VIOLATION);
	assert_int_equal(n, 0);
	/* one huge attribute value inside a single start tag */
	fg_buf_reset(&b);
	fg_buf_append_str(&b, HDR "<message a='");
	for (size_t i = 0; i < XMPP_MAX_STANZA_BYTES_PREAUTH; i++)
		fg_buf_append_str(&b, "x");
	fg_buf_append_str(&b, "'/>");
	assert_int_equal(run_both((const char *)b.data, b.len, &n, NULL), XMPP_SE_POLICY_VIOLATION);
	/* exactly at the cap is fine: stanza = whitespace-free "<m>...</m>" */
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER, .max_stanza_bytes = 100};
	fg_buf_reset(&b);
	fg_buf_append_str(&b, HDR "<message>");
	for (size_t i = 0; i < 100 - strlen("<message></message>"); i++)
		fg_buf_append_str(&b, "y");
	fg_buf_append_str(&b, "</message>");
	assert_int_equal(run_both((const char *)b.data, b.len, &n, &cfg), XMPP_SE_NONE);
	assert_int_equal(n, 1);
	fg_buf_append_str(&b, "<message>");
	for (size_t i = 0; i < 101 - strlen("<message></message>"); i++)
		fg_buf_append_str(&b, "y");
	fg_buf_append_str(&b, "</message>");
	assert_int_equal(run_both((const char *)b.data, b.len, &n, &cfg), XMPP_SE_POLICY_VIOLATION);
	assert_int_equal(n, 1);
	fg_buf_free(&b);
}

static void test_too_deep(void **state)
{
	struct fg_buf b = {0};
	fg_buf_append_str(&b, HDR "<message>");
	for (int i = 0; i < 40; i++)
		fg_buf_append_str(&b, "<a>");
	int n;
	assert_int_equal(run_both((const char *)b.data, b.len, &n, NULL), XMPP_SE_POLICY_VIOLATION);
	fg_buf_reset(&b);
	fg_buf_append_str(&b, HDR "<message");
	for (int i = 0; i < 70; i++)
		fg_buf_printf(&b, " a%d='1'", i);
	fg_buf_append_str(&b, "/>");
	assert_int_equal(run_both((const char *)b.data, b.len, &n, NULL), XMPP_SE_POLICY_VIOLATION);
	fg_buf_free(&b);
}

static void test_namespaces(void **state)
{
	assert_int_equal(run_str("<stream:stream xmlns='jabber:client' "
	                         "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
	                         NULL),
	                 XMPP_SE_INVALID_NAMESPACE);
	assert_int_equal(run_str("<stream:stream xmlns='jabber:server' "
	                         "xmlns:stream='http://example.com/streams' version='1.0'>",
	                         NULL),
	                 XMPP_SE_INVALID_NAMESPACE);
	assert_int_equal(run_str("<stream:stream xmlns='jabber:server' version='1.0'>", NULL),
	                 XMPP_SE_BAD_NAMESPACE_PREFIX);
	assert_int_equal(run_str("<stream:stream xmlns='jabber:server' "
	                         "xmlns:stream='http://etherx.jabber.org/streams'>",
	                         NULL),
	                 XMPP_SE_UNSUPPORTED_VERSION);
	assert_int_equal(run_str("<stream:stream xmlns='jabber:server' "
	                         "xmlns:stream='http://etherx.jabber.org/streams' version='2.0'>",
	                         NULL),
	                 XMPP_SE_UNSUPPORTED_VERSION);
	/* component streams use their own content namespace (XEP-0114) */
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_COMPONENT};
	const char *comp =
	    "<stream:stream xmlns='jabber:component:accept' "
	    "xmlns:stream='http://etherx.jabber.org/streams' to='c.gw' version='1.0'>";
	assert_int_equal(run_both(comp, strlen(comp), NULL, &cfg), XMPP_SE_NONE);
	assert_int_equal(run_str(comp, NULL), XMPP_SE_INVALID_NAMESPACE);
}

static void test_not_well_formed(void **state)
{
	assert_int_equal(run_str(HDR "<message></iq>", NULL), XMPP_SE_NOT_WELL_FORMED);
	assert_int_equal(run_str(HDR "<message a='1' a='2'/>", NULL), XMPP_SE_NOT_WELL_FORMED);
	assert_int_equal(run_str(HDR "hello", NULL), XMPP_SE_BAD_FORMAT);
}

static void test_preheader_limit(void **state)
{
	struct fg_buf b = {0};
	fg_buf_append_str(&b, "<?xml version='1.0'?>");
	for (int i = 0; i < 5000; i++)
		fg_buf_append_str(&b, " ");
	fg_buf_append_str(&b, HDR);
	assert_int_equal(run_both((const char *)b.data, b.len, NULL, NULL),
	                 XMPP_SE_POLICY_VIOLATION);
	fg_buf_free(&b);
}

/* RFC 6120 §5.4.3.3: nothing received in clear after <proceed/> may be processed. */
static void test_proceed_then_injection(void **state)
{
	const char *in = HDR "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
	                     "<message from='evil@peer.example'><body>injected</body></message>";
	for (size_t chunk = 0; chunk <= 1; chunk++) {
		struct rec r = {.halt_on = "proceed"};
		struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER};
		struct xmpp_stream *s = NULL;
		assert_int_equal(xmpp_stream_new(&s, &cfg, &ops, &r), FG_OK);
		size_t len = strlen(in), step = chunk == 0 ? len : 1;
		for (size_t off = 0; off < len; off += step)
			assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)in + off, step),
			                 XMPP_SE_NONE);
		assert_int_equal(r.stanzas, 1);
		/* after the restart a new header is expected; the injected stanza never shows */
		assert_int_equal(xmpp_stream_restart(s), FG_OK);
		const char *tls = HDR "<message from='ok@peer.example'/>";
		assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)tls, strlen(tls)),
		                 XMPP_SE_NONE);
		assert_int_equal(r.headers, 2);
		assert_int_equal(r.stanzas, 2);
		assert_null(strstr(fg_buf_cstr(&r.log), "injected"));
		xmpp_stream_free(s);
		fg_buf_free(&r.log);
	}
}

static void test_escape(void **state)
{
	struct fg_buf b = {0};
	const char *raw = "a&b<c>d\"e'f\tg\nh\ri]]>";
	assert_int_equal(xmpp_escape(&b, raw, strlen(raw), true), FG_OK);
	assert_string_equal(fg_buf_cstr(&b),
	                    "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#13;i]]&gt;");
	fg_buf_reset(&b);
	assert_int_equal(xmpp_escape(&b, raw, strlen(raw), false), FG_OK);
	assert_string_equal(fg_buf_cstr(&b), "a&amp;b&lt;c&gt;d&quot;e&apos;f\tg\nh&#13;i]]&gt;");
	fg_buf_reset(&b);
	assert_int_equal(xmpp_escape(&b, "x\x01y", 3, false), FG_ERR_INVAL);
	assert_int_equal(xmpp_escape(&b, "x\x00y", 3, false), FG_ERR_INVAL);
	assert_int_equal(xmpp_escape(&b, "\xef\xbf\xbe", 3, false), FG_ERR_INVAL);
	assert_int_equal(xmpp_escape(&b, "\xff", 1, true), FG_ERR_INVAL);
	assert_int_equal(b.len, 0);
	fg_buf_free(&b);
}

/* Serialize then parse again: the second serialization must equal the first. */
static void test_roundtrip(void **state)
{
	const char *in =
	    HDR "<message to='a&amp;b@gw.example' x='&quot;&apos;&lt;&gt;&#9;&#10;&#13;'>"
	        "<body>&lt;/body&gt;&amp;amp; ]]&gt; &quot;&apos;&#13;\n\t</body>"
	        "<x xmlns='urn:example' xmlns:p='urn:p' p:q='v'><p:y/></x></message>";
	struct rec r1 = {0};
	assert_int_equal(run(in, strlen(in), 0, &r1, NULL), XMPP_SE_NONE);
	const char *first = fg_buf_cstr(&r1.log);
	const char *nl = strchr(first, '\n');
	struct fg_buf again = {0};
	fg_buf_append_str(&again, HDR);
	fg_buf_append_str(&again, nl + 1);
	struct rec r2 = {0};
	assert_int_equal(run((const char *)again.data, again.len, 1, &r2, NULL), XMPP_SE_NONE);
	assert_int_equal(r2.stanzas, 1);
	assert_string_equal(fg_buf_cstr(&r1.log), fg_buf_cstr(&r2.log));
	assert_non_null(
	    strstr(first, "<body>&lt;/body&gt;&amp;amp; ]]&gt; &quot;&apos;&#13;\n\t</body>"));
	fg_buf_free(&r1.log);
	fg_buf_free(&r2.log);
	fg_buf_free(&again);
}

static void test_error_names(void **state)
{
	assert_string_equal(xmpp_stream_error_name(XMPP_SE_RESTRICTED_XML), "restricted-xml");
	assert_int_equal(xmpp_stream_error_parse("host-unknown"), XMPP_SE_HOST_UNKNOWN);
	assert_int_equal(xmpp_stream_error_parse("bogus"), XMPP_SE_UNDEFINED_CONDITION);
	char d[64];
	assert_true(xmpp_jid_domain("u@Example.org/r@x", d, sizeof(d)));
	assert_string_equal(d, "Example.org");
	assert_true(xmpp_jid_domain("example.org.", d, sizeof(d)));
	assert_string_equal(d, "example.org");
	assert_false(xmpp_jid_domain("u@/r", d, sizeof(d)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_stream),      cmocka_unit_test(test_compact),
	    cmocka_unit_test(test_doctype),          cmocka_unit_test(test_billion_laughs),
	    cmocka_unit_test(test_comment),          cmocka_unit_test(test_pi),
	    cmocka_unit_test(test_bad_entity),       cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_oversized_stanza), cmocka_unit_test(test_too_deep),
	    cmocka_unit_test(test_namespaces),       cmocka_unit_test(test_not_well_formed),
	    cmocka_unit_test(test_preheader_limit),  cmocka_unit_test(test_proceed_then_injection),
	    cmocka_unit_test(test_escape),           cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_error_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
