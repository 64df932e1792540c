/* Unit tests for the SIP gateway's pure glue: router verdict -> SIP status (RFC 7247 §7, no
 * false success), stanza -> MESSAGE (RFC 7572), SIP error -> stanza error, subscription
 * refresh timing (RFC 6665), replies to unparsable requests (RFC 4475). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "pki/pki.h"
#include "sipgw/sipgw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_status_from_s2s(void **state)
{
	(void)state;
	/* 202 only when written to an authenticated stream */
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC__COUNT), 202);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_REMOTE_SERVER_NOT_FOUND), 404);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_POLICY_VIOLATION), 403);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_NOT_ALLOWED), 403);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_REMOTE_SERVER_TIMEOUT), 408);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_RESOURCE_CONSTRAINT), 503);
	/* RFC 7247 §7.1 note 5: never 503 (that would stop the edge using the gateway) */
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_SERVICE_UNAVAILABLE), 403);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_ITEM_NOT_FOUND), 404);
	assert_int_equal(sipgw_status_from_s2s(XMPP_SC_RECIPIENT_UNAVAILABLE), 480);
	for (int c = 0; c < XMPP_SC__COUNT; c++)
		assert_true(sipgw_status_from_s2s((enum xmpp_stanza_cond)c) >= 300);
}

struct parsed {
	struct sipgw_stanza_msg m;
	enum fg_err err;
	struct sipgw_request r;
	enum fg_err rerr;
	const char *why;
	char *from_copy, *to_copy, *id_copy;
};

static void msg_cb(void *ctx, const struct xmpp_node *n)
{
	struct parsed *p = ctx;
	p->err = sipgw_stanza_msg_read(n, &p->m);
	if (p->err == FG_OK)
		p->rerr = sipgw_message_to_sip(&p->m, "sip.example", &p->r, &p->why);
	/* the borrowed attribute strings die with the node */
	p->m.from = p->m.to = p->m.id = p->m.type = NULL;
}

static void parse(const char *xml, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(sipgw__parse_stanza((const uint8_t *)xml, strlen(xml), msg_cb, p), FG_OK);
}

static void parsed_clear(struct parsed *p)
{
	sipgw_stanza_msg_clear(&p->m);
	sipgw_request_clear(&p->r);
}

static void test_message_to_sip(void **state)
{
	(void)state;
	struct parsed p;
	parse("<message from='juliet@capulet.example/balcony' to='romeo@sip.xmpp.example' "
	      "type='chat' id='m1' xml:lang='en'><body>Art thou not Romeo?</body>"
	      "<subject>question</subject><thread>t-77</thread></message>",
	      &p);
	assert_int_equal(p.err, FG_OK);
	assert_int_equal(p.rerr, FG_OK);
	assert_string_equal(fg_buf_cstr(&p.r.ruri), "sip:romeo@sip.example");
	assert_string_equal(fg_buf_cstr(&p.r.to), "<sip:romeo@sip.example>");
	/* RFC 7247 §6.5 step 8: the resource travels as a GRUU parameter */
	assert_string_equal(fg_buf_cstr(&p.r.from), "<sip:juliet@capulet.example;gr=balcony>");
	assert_string_equal(fg_buf_cstr(&p.r.body), "Art thou not Romeo?");
	assert_non_null(strstr(p.r.content_type, "text/plain"));
	assert_non_null(strstr(fg_buf_cstr(&p.r.extra), "Subject: question"));
	assert_string_equal(p.m.im.thread, "t-77");
	assert_string_equal(p.m.im.lang, "en");
	parsed_clear(&p);
}

static void test_message_chatstate_only(void **state)
{
	(void)state;
	struct parsed p;
	parse("<message from='juliet@capulet.example' to='romeo@x.example' type='chat'>"
	      "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
	      &p);
	assert_int_equal(p.err, FG_OK);
	assert_true(p.m.has_chatstate);
	assert_int_equal(p.m.chatstate, XLATE_CS_COMPOSING);
	assert_int_equal(p.rerr, FG_OK);
	assert_string_equal(p.r.content_type, XLATE_ISCOMPOSING_TYPE);
	assert_non_null(strstr(fg_buf_cstr(&p.r.body), "active"));
	parsed_clear(&p);
}

static void test_message_not_mapped(void **state)
{
	(void)state;
	struct parsed p;
	/* RFC 7572 §5: errors and headlines are not sent to SIP; nor is an empty message */
	parse("<message from='a@b.example' to='c@d.example' type='error'><body>x</body></message>",
	      &p);
	assert_int_equal(p.err, FG_ERR_NOTFOUND);
	parsed_clear(&p);
	parse(
	    "<message from='a@b.example' to='c@d.example' type='headline'><body>x</body></message>",
	    &p);
	assert_int_equal(p.err, FG_ERR_NOTFOUND);
	parsed_clear(&p);
	parse("<message from='a@b.example' to='c@d.example' type='chat'/>", &p);
	assert_int_equal(p.err, FG_ERR_NOTFOUND);
	parsed_clear(&p);
	/* a domain JID has no SIP user */
	parse("<message from='a@b.example' to='d.example' type='chat'><body>x</body></message>",
	      &p);
	assert_int_equal(p.err, FG_OK);
	assert_int_equal(p.rerr, FG_ERR_INVAL);
	assert_non_null(p.why);
	parsed_clear(&p);
	/* a body too large for SIP and a language tag SIP cannot carry: distinct errors
	 * (policy-violation, RFC 7572 §6; bad-request) */
	char *big = malloc(XLATE_MAX_BODY + 200);
	assert_non_null(big);
	int n = snprintf(big, 200, "<message from='a@b.example' to='c@d.example'><body>");
	memset(big + n, 'x', XLATE_MAX_BODY + 1);
	memcpy(big + n + XLATE_MAX_BODY + 1, "</body></message>", 18);
	parse(big, &p);
	free(big);
	assert_int_equal(p.err, FG_OK);
	assert_int_equal(p.rerr, FG_ERR_TOOBIG);
	assert_non_null(p.why);
	parsed_clear(&p);
	parse(
	    "<message from='a@b.example' to='c@d.example' xml:lang='e n'><body>x</body></message>",
	    &p);
	assert_int_equal(p.rerr, FG_ERR_PARSE);
	parsed_clear(&p);
}

static void test_message_escaping(void **state)
{
	(void)state;
	struct parsed p;
	/* XEP-0106 escapes are undone, then RFC 3261 §25.1 percent-encoding applies */
	parse("<message from='a@b.example' to='d\\27artagnan@x.example' type='chat'>"
	      "<body>x</body></message>",
	      &p);
	assert_int_equal(p.rerr, FG_OK);
	assert_string_equal(fg_buf_cstr(&p.r.ruri), "sip:d'artagnan@sip.example");
	parsed_clear(&p);
}

/* RFC 7572 §4: XHTML-IM (XEP-0071) beside the body goes to SIP as text/plain from <body/>;
 * the markup is not sent */
static void test_message_xhtml_im(void **state)
{
	(void)state;
	struct parsed p;
	parse("<message from='a@b.example' to='c@d.example' type='chat'><body>plain text</body>"
	      "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
	      "<body xmlns='http://www.w3.org/1999/xhtml'><p><strong>rich</strong> text</p></body>"
	      "</html></message>",
	      &p);
	assert_int_equal(p.err, FG_OK);
	assert_int_equal(p.rerr, FG_OK);
	assert_string_equal(fg_buf_cstr(&p.r.body), "plain text");
	assert_string_equal(p.r.content_type, "text/plain;charset=UTF-8");
	assert_null(p.m.im.html);
	parsed_clear(&p);
}

static void test_error_stanza(void **state)
{
	(void)state;
	struct fg_buf out = {0};
	/* RFC 7247 §7 Table 3: 404 -> item-not-found; from/to swapped, id kept */
	assert_true(sipgw_error_stanza("message", "juliet@capulet.example/balcony",
	                               "romeo@sip.example", "m1", 404, "no such user", &out));
	const char *s = fg_buf_cstr(&out);
	assert_non_null(strstr(s, "<message from='romeo@sip.example' "
	                          "to='juliet@capulet.example/balcony' id='m1' type='error'>"));
	assert_non_null(strstr(s, "<error type='cancel'><item-not-found "
	                          "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"));
	/* RFC 6120 §8.3.2: the text carries its language */
	assert_non_null(strstr(s, "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' "
	                          "xml:lang='en'>no such user</text>"));
	fg_buf_reset(&out);
	assert_true(sipgw_error_stanza("message", "a@b", "c@d", NULL, 486, NULL, &out));
	assert_non_null(strstr(fg_buf_cstr(&out), "<error type='wait'><recipient-unavailable"));
	assert_null(strstr(fg_buf_cstr(&out), " id="));
	fg_buf_reset(&out);
	assert_true(sipgw_error_stanza("message", "a@b", "c@d", "x", 408, NULL, &out));
	assert_non_null(strstr(fg_buf_cstr(&out), "remote-server-timeout"));
	fg_buf_reset(&out);
	assert_false(sipgw_error_stanza("message", "a@b", "c@d", "x", 202, NULL, &out));
	assert_int_equal(out.len, 0);
	/* attribute values are escaped */
	assert_true(sipgw_error_stanza("presence", "a'b@c", "d@e", "<id>", 503, "x & y", &out));
	assert_non_null(strstr(fg_buf_cstr(&out), "to='a&apos;b@c' id='&lt;id&gt;'"));
	assert_non_null(strstr(fg_buf_cstr(&out), "x &amp; y"));
	fg_buf_free(&out);
}

static void test_refresh_at(void **state)
{
	(void)state;
	/* 80% of the period */
	assert_int_equal(sipgw_refresh_at(1000, 3600), 1000 + 2880000);
	assert_int_equal(sipgw_refresh_at(0, 600), 480000);
	/* shorter periods keep Timer F (32 s) of margin so a slow refresh still completes,
	 * but never refresh before half the period */
	assert_int_equal(sipgw_refresh_at(0, 120), 88000);
	assert_int_equal(sipgw_refresh_at(0, 60), 30000);
	assert_int_equal(sipgw_refresh_at(0, 20), 10000);
	assert_int_equal(sipgw_refresh_at(0, 6), 3000);
	assert_int_equal(sipgw_refresh_at(500, 0), 500);
}

static void test_granted_expires(void **state)
{
	(void)state;
	/* RFC 6665 §3.1.1, RFC 3856 §6.4: no Expires is the package default, 3600 s */
	assert_int_equal(sipgw_granted_expires(-1, 86400), 3600);
	assert_int_equal(sipgw_granted_expires(-1, 600), 600);
	/* never longer than asked, nor than configured */
	assert_int_equal(sipgw_granted_expires(60, 86400), 60);
	assert_int_equal(sipgw_granted_expires(7200, 3600), 3600);
	assert_int_equal(sipgw_granted_expires(0, 3600), 0);
}

static void test_subscribe_failure(void **state)
{
	(void)state;
	/* RFC 8048 §5.2.2: only 403, 489, 603 cancel the authorization */
	static const unsigned cancel[] = {403, 489, 603};
	for (size_t i = 0; i < sizeof(cancel) / sizeof(cancel[0]); i++) {
		assert_int_equal(sipgw_subscribe_failure_action(cancel[i], false),
		                 SIPGW_SUBFAIL_CANCEL);
		assert_int_equal(sipgw_subscribe_failure_action(cancel[i], true),
		                 SIPGW_SUBFAIL_CANCEL);
	}
	assert_int_equal(sipgw_subscribe_failure_action(423, true), SIPGW_SUBFAIL_INTERVAL);
	/* RFC 6665 §4.1.2.2: these end a refreshed subscription (a new dialog later); 481 is
	 * transient for RFC 8048 §5.2.2, and so is the rest for an initial SUBSCRIBE */
	static const unsigned ends[] = {404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 501, 604};
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		assert_int_equal(sipgw_subscribe_failure_action(ends[i], true),
		                 SIPGW_SUBFAIL_NEW_DIALOG);
		assert_int_equal(sipgw_subscribe_failure_action(ends[i], false),
		                 SIPGW_SUBFAIL_RETRY);
	}
	/* timeouts, overload, an unreachable next hop: transient, never a cancellation */
	static const unsigned transient[] = {0, 408, 500, 503, 504, 486, 600};
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++) {
		assert_int_equal(sipgw_subscribe_failure_action(transient[i], true),
		                 SIPGW_SUBFAIL_RETRY);
		assert_int_equal(sipgw_subscribe_failure_action(transient[i], false),
		                 SIPGW_SUBFAIL_RETRY);
	}
	/* backoff: 30 s doubling, at most an hour */
	assert_int_equal(sipgw_subscribe_backoff_ms(0), 30000);
	assert_int_equal(sipgw_subscribe_backoff_ms(1), 30000);
	assert_int_equal(sipgw_subscribe_backoff_ms(2), 60000);
	assert_int_equal(sipgw_subscribe_backoff_ms(7), 1920000);
	assert_int_equal(sipgw_subscribe_backoff_ms(8), 3600000);
	assert_int_equal(sipgw_subscribe_backoff_ms(1000), 3600000);
}

static void test_notify_failure(void **state)
{
	(void)state;
	/* RFC 6665 §4.2.2: MUST remove on these, SHOULD on Timer F and transport failure */
	static const unsigned ends[] = {0,   404, 405, 408, 410, 416, 480, 481,
	                                482, 483, 484, 485, 489, 501, 604};
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		assert_true(sipgw_notify_failure_ends(ends[i]));
	static const unsigned keeps[] = {200, 400, 403, 415, 486, 500, 503, 603};
	for (size_t i = 0; i < sizeof(keeps) / sizeof(keeps[0]); i++)
		assert_false(sipgw_notify_failure_ends(keeps[i]));
}

static void test_reply_unparsed(void **state)
{
	(void)state;
	static const char req[] = "INVITE sip:t@example.com SIP/7.0\r\n"
	                          "v: SIP/2.0/TCP host1.example.com;branch=z9hG4bK1\r\n"
	                          "Max-Forwards: 70\r\n"
	                          "f: <sip:a@example.com>;tag=1\r\n"
	                          "To: <sip:t@example.com>\r\n"
	                          "Call-ID: \r\n  folded@example\r\n"
	                          "CSeq: 1 INVITE\r\n"
	                          "Contact: <sip:x@y>\r\n\r\nbody";
	struct fg_buf out = {0};
	assert_true(sipgw_reply_unparsed((const uint8_t *)req, sizeof(req) - 1, 505,
	                                 "Version Not Supported", &out));
	const char *s = fg_buf_cstr(&out);
	assert_true(strncmp(s, "SIP/2.0 505 Version Not Supported\r\n", 35) == 0);
	assert_non_null(strstr(s, "\r\nVia: SIP/2.0/TCP host1.example.com;branch=z9hG4bK1\r\n"));
	assert_non_null(strstr(s, "\r\nFrom: <sip:a@example.com>;tag=1\r\n"));
	assert_non_null(strstr(s, "\r\nTo: <sip:t@example.com>;tag="));
	assert_non_null(strstr(s, "\r\nCall-ID: folded@example\r\n"));
	assert_non_null(strstr(s, "\r\nCSeq: 1 INVITE\r\n"));
	assert_null(strstr(s, "Contact"));
	assert_null(strstr(s, "Max-Forwards"));
	assert_non_null(strstr(s, "Content-Length: 0\r\n\r\n"));
	fg_buf_reset(&out);
	/* responses and junk are never answered */
	static const char rsp[] = "SIP/2.0 200 OK\r\nVia: x\r\n\r\n";
	assert_false(sipgw_reply_unparsed((const uint8_t *)rsp, sizeof(rsp) - 1, 400, "Bad", &out));
	assert_false(sipgw_reply_unparsed((const uint8_t *)"garbage", 7, 400, "Bad", &out));
	assert_int_equal(out.len, 0);
	/* a NUL inside a value is not copied into the reply */
	static const char nul[] =
	    "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: a\0b\r\nCSeq: 1 OPTIONS\r\n\r\n";
	assert_true(
	    sipgw_reply_unparsed((const uint8_t *)nul, sizeof(nul) - 1, 400, "Bad Request", &out));
	assert_null(strstr(fg_buf_cstr(&out), "Call-ID"));
	assert_non_null(strstr(fg_buf_cstr(&out), "CSeq: 1 OPTIONS"));
	fg_buf_free(&out);
}

static void test_jid_split(void **state)
{
	(void)state;
	struct sipgw_jid j;
	assert_true(sipgw__jid_split("a@b.example/r/x", &j));
	assert_string_equal(j.local, "a");
	assert_string_equal(j.domain, "b.example");
	assert_string_equal(j.resource, "r/x");
	assert_true(sipgw__jid_split("b.example", &j));
	assert_string_equal(j.local, "");
	assert_false(sipgw__jid_split("@b.example", &j));
	assert_false(sipgw__jid_split("a@", &j));
	assert_false(sipgw__jid_split("a@b/", &j));
	assert_false(sipgw__jid_split(NULL, &j));
}

static void test_bind_addr(void **state)
{
	(void)state;
	char a[64];
	assert_true(sipgw__bind_addr("10.0.0.5", a, sizeof(a)));
	assert_string_equal(a, "10.0.0.5");
	assert_true(sipgw__bind_addr("10.0.0.5:5061", a, sizeof(a)));
	assert_string_equal(a, "10.0.0.5");
	assert_true(sipgw__bind_addr("[2001:db8::1]:5061", a, sizeof(a)));
	assert_string_equal(a, "2001:db8::1");
	assert_true(sipgw__bind_addr("2001:db8::1", a, sizeof(a)));
	assert_string_equal(a, "2001:db8::1");
	assert_false(sipgw__bind_addr("", a, sizeof(a)));
	assert_false(sipgw__bind_addr("gw.example.com:5061", a, sizeof(a)));
	assert_false(sipgw__bind_addr("[::1", a, sizeof(a)));
	assert_false(sipgw__bind_addr(NULL, a, sizeof(a)));
}

static void test_sub_id(void **state)
{
	(void)state;
	char a[DB_ID_MAX], b[DB_ID_MAX], c[DB_ID_MAX];
	sipgw__sub_id(DB_SUB_XMPP_WATCHER, "juliet@x", "sip:romeo@y", a);
	sipgw__sub_id(DB_SUB_XMPP_WATCHER, "juliet@x", "sip:romeo@y", b);
	sipgw__sub_id(DB_SUB_SIP_WATCHER, "juliet@x", "sip:romeo@y", c);
	/* stable across restarts (no duplicates), distinct per direction */
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), DB_ID_MAX - 1);
}

struct pres_parsed {
	enum sipgw_presence_type type;
	struct xlate_presence p;
	enum fg_err err;
};

static void pres_cb(void *ctx, const struct xmpp_node *n)
{
	struct pres_parsed *pp = ctx;
	pp->err = sipgw_presence_read(n, &pp->type, &pp->p);
}

static void pres_parse(const char *xml, struct pres_parsed *pp)
{
	memset(pp, 0, sizeof(*pp));
	assert_int_equal(sipgw__parse_stanza((const uint8_t *)xml, strlen(xml), pres_cb, pp),
	                 FG_OK);
}

static void test_presence_read(void **state)
{
	(void)state;
	struct pres_parsed pp;
	pres_parse(
	    "<presence from='a@b' to='c@d'><show>dnd</show><status xml:lang='en'>busy</status>"
	    "<priority>-5</priority></presence>",
	    &pp);
	assert_int_equal(pp.err, FG_OK);
	assert_int_equal(pp.type, SIPGW_PRES_AVAILABLE);
	assert_true(pp.p.available);
	assert_int_equal(pp.p.show, XLATE_SHOW_DND);
	assert_string_equal(pp.p.status, "busy");
	assert_string_equal(pp.p.status_lang, "en");
	assert_true(pp.p.has_priority);
	assert_int_equal(pp.p.priority, -5);
	assert_null(pp.p.resource);
	assert_null(pp.p.lang);
	xlate_presence_clear(&pp.p);
	/* RFC 8048 §6.2 Table 1: the resource (-> tuple id) and xml:lang (-> Content-Language) */
	pres_parse("<presence from='juliet@example.com/yn0cl4bnw0yr3vym' to='c@d' xml:lang='fr'/>",
	           &pp);
	assert_int_equal(pp.err, FG_OK);
	assert_string_equal(pp.p.resource, "yn0cl4bnw0yr3vym");
	assert_string_equal(pp.p.lang, "fr");
	xlate_presence_clear(&pp.p);
	/* RFC 6121 §4.7.2.3: a priority out of range is ignored */
	pres_parse("<presence from='a@b' to='c@d' type='unavailable'><status>gone</status>"
	           "<priority>300</priority></presence>",
	           &pp);
	assert_int_equal(pp.type, SIPGW_PRES_UNAVAILABLE);
	assert_false(pp.p.available);
	assert_false(pp.p.has_priority);
	assert_string_equal(pp.p.status, "gone");
	xlate_presence_clear(&pp.p);
	static const struct {
		const char *type;
		enum sipgw_presence_type want;
	} rows[] = {{"subscribe", SIPGW_PRES_SUBSCRIBE},
	            {"subscribed", SIPGW_PRES_SUBSCRIBED},
	            {"unsubscribe", SIPGW_PRES_UNSUBSCRIBE},
	            {"unsubscribed", SIPGW_PRES_UNSUBSCRIBED},
	            {"probe", SIPGW_PRES_PROBE},
	            {"error", SIPGW_PRES_ERROR}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char xml[128];
		snprintf(xml, sizeof(xml), "<presence from='a@b' to='c@d' type='%s'/>",
		         rows[i].type);
		pres_parse(xml, &pp);
		assert_int_equal(pp.err, FG_OK);
		assert_int_equal(pp.type, rows[i].want);
		xlate_presence_clear(&pp.p);
	}
	pres_parse("<presence from='a@b' to='c@d' type='bogus'/>", &pp);
	assert_int_equal(pp.err, FG_ERR_INVAL);
	xlate_presence_clear(&pp.p);
}

static void test_lang_tag(void **state)
{
	(void)state;
	char out[SIPGW_MAX_LANG + 1];
	assert_true(sipgw__lang_tag("en", 2, out, sizeof(out)));
	assert_string_equal(out, "en");
	assert_true(sipgw__lang_tag(" fr-CA, en", 10, out, sizeof(out)));
	assert_string_equal(out, "fr-CA");
	assert_false(sipgw__lang_tag("", 0, out, sizeof(out)));
	assert_false(sipgw__lang_tag("1en", 3, out, sizeof(out)));
	assert_false(sipgw__lang_tag("e'n", 3, out, sizeof(out)));
	assert_false(sipgw__lang_tag("en\r\nX: y", 9, out, sizeof(out)));
}

/* A14: the watcher's address is decoded once and encoded once (RFC 7247 §6.4, §6.5) */
static void test_sip_uri_canonical(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} rows[] = {
	    {"sip:alice@sip.test", "sip:alice@sip.test"},
	    {"sip:alice@SIP.Test;transport=tls", "sip:alice@sip.test"},
	    {"sip:alice@sip.test;gr=abc", "sip:alice@sip.test"},
	    {"sip:%61lice@sip.test", "sip:alice@sip.test"},
	    /* a decoded "\26" stays "\26", never "&" (another user) */
	    {"sip:a%5C26b@x.test", "sip:a%5C26b@x.test"},
	    {"sip:a&b@x.test", "sip:a&b@x.test"},
	    /* a decoded "@" or "/" stays in the user part */
	    {"sip:a%40b@x.test", "sip:a%40b@x.test"},
	    {"sip:a%2Fb@x.test", "sip:a/b@x.test"}, /* "/" is user-unreserved (RFC 3261 §25.1) */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct fg_buf out = {0};
		assert_int_equal(
		    sipgw__sip_uri_canonical(rows[i].in, strlen(rows[i].in), &out, NULL), FG_OK);
		assert_string_equal(fg_buf_cstr(&out), rows[i].want);
		fg_buf_free(&out);
	}
	struct fg_buf out = {0};
	assert_int_not_equal(sipgw__sip_uri_canonical("sip:x.test", 10, &out, NULL), FG_OK);
	fg_buf_free(&out);
}

static void test_presence_stanza(void **state)
{
	(void)state;
	struct fg_buf out = {0};
	struct xlate_presence p = {.available = true,
	                           .show = XLATE_SHOW_AWAY,
	                           .status = (char *)"in a <meeting>",
	                           .status_lang = (char *)"en",
	                           .priority = 3,
	                           .has_priority = true};
	assert_int_equal(sipgw_presence_stanza(SIPGW_PRES_AVAILABLE, "romeo@sip.example",
	                                       "juliet@capulet.example", &p, &out),
	                 FG_OK);
	assert_string_equal(fg_buf_cstr(&out),
	                    "<presence from='romeo@sip.example' to='juliet@capulet.example'>"
	                    "<show>away</show><status xml:lang='en'>in a &lt;meeting&gt;</status>"
	                    "<priority>3</priority></presence>");
	fg_buf_reset(&out);
	/* RFC 8048 §6.3 Table 2: Content-Language -> xml:lang (a valid tag only) */
	p.lang = (char *)"de";
	assert_int_equal(sipgw_presence_stanza(SIPGW_PRES_AVAILABLE, "a@b", "c@d", &p, &out),
	                 FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&out), "<presence from='a@b' to='c@d' xml:lang='de'>"));
	fg_buf_reset(&out);
	p.lang = (char *)"d'e";
	assert_int_equal(sipgw_presence_stanza(SIPGW_PRES_AVAILABLE, "a@b", "c@d", &p, &out),
	                 FG_OK);
	assert_null(strstr(fg_buf_cstr(&out), "xml:lang='d"));
	p.lang = NULL;
	fg_buf_reset(&out);
	/* PIDF closed -> unavailable, the note kept (RFC 8048 §6.3 Table 2) */
	p.available = false;
	assert_int_equal(sipgw_presence_stanza(SIPGW_PRES_AVAILABLE, "a@b", "c@d", &p, &out),
	                 FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&out), "type='unavailable'"));
	assert_null(strstr(fg_buf_cstr(&out), "<show>"));
	assert_null(strstr(fg_buf_cstr(&out), "<priority>"));
	assert_non_null(strstr(fg_buf_cstr(&out), "in a &lt;meeting&gt;"));
	fg_buf_reset(&out);
	assert_int_equal(sipgw_presence_stanza(SIPGW_PRES_SUBSCRIBED, "a@b", "c@d", NULL, &out),
	                 FG_OK);
	assert_string_equal(fg_buf_cstr(&out), "<presence from='a@b' to='c@d' type='subscribed'>"
	                                       "</presence>");
	fg_buf_free(&out);
}

/* A self-signed certificate with these DNS names (CN cn). */
static struct pki_key *key;

static void make_cert(const char *cn, const char *const *dns, size_t n, struct fg_buf *der)
{
	if (key == NULL)
		assert_int_equal(pki_key_generate(PKI_KEY_EC_P256, &key), FG_OK);
	struct pki_subject_params sp = {.cn = cn, .dns = dns, .dns_count = n};
	fg_buf_reset(der);
	assert_int_equal(pki_selfsigned_create(key, &sp, fg_now_ms(), 30, der), FG_OK);
}

static void test_cert_names(void **state)
{
	(void)state;
	struct fg_buf der = {0};
	char names[256];
	const char *const edge[] = {"edge.example.com", "sip.example.com"};
	make_cert("edge.example.com", edge, 2, &der);
	assert_true(
	    sipgw_cert_names_host(der.data, der.len, "edge.example.com", names, sizeof(names)));
	assert_true(sipgw_cert_names_host(der.data, der.len, "SIP.Example.com.", NULL, 0));
	/* seed 000: a next hop the certificate does not name; the names are reported */
	assert_false(
	    sipgw_cert_names_host(der.data, der.len, "access.example.com", names, sizeof(names)));
	assert_string_equal(names, "DNS:edge.example.com, DNS:sip.example.com");
	/* RFC 6125 §6.4.3: the wildcard covers one label only */
	const char *const wild[] = {"*.example.com"};
	make_cert("x", wild, 1, &der);
	assert_true(sipgw_cert_names_host(der.data, der.len, "edge.example.com", NULL, 0));
	assert_false(sipgw_cert_names_host(der.data, der.len, "a.edge.example.com", NULL, 0));
	assert_false(sipgw_cert_names_host(der.data, der.len, "example.com", NULL, 0));
	/* the CN counts only without DNS names (RFC 5922 §7.1) */
	assert_false(sipgw_cert_names_host(der.data, der.len, "x", NULL, 0));
	make_cert("cn-only.example.com", NULL, 0, &der);
	assert_true(
	    sipgw_cert_names_host(der.data, der.len, "cn-only.example.com", names, sizeof(names)));
	assert_string_equal(names, "CN:cn-only.example.com");
	assert_false(sipgw_cert_names_host((const uint8_t *)"junk", 4, "x", names, sizeof(names)));
	assert_false(sipgw_cert_names_host(NULL, 0, "x", NULL, 0));
	fg_buf_free(&der);
	pki_key_free(key);
	key = NULL;
}

/* RFC 3264 §6: one answer m= line per offered one; only the SIP-MESSAGE stream is taken */
static unsigned sdp(const char *offer, struct fg_buf *out)
{
	fg_buf_reset(out);
	return sipgw_sdp_answer((const uint8_t *)offer, strlen(offer), "gw.example", 5061, "42",
	                        out);
}

static void test_sdp_answer(void **state)
{
	(void)state;
	struct fg_buf out = {0};
	const char *head = "v=0\r\no=- 1 1 IN IP4 edge\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
	                   "t=3034423619 3042462419\r\n";
	char offer[1024];
	snprintf(offer, sizeof(offer), "%sm=message 5060 sip sip:bob@x\r\n", head);
	assert_int_equal(sdp(offer, &out), 0);
	assert_string_equal(fg_buf_cstr(&out),
	                    "v=0\r\no=- 42 1 IN IP4 gw.example\r\ns=session\r\n"
	                    "c=IN IP4 gw.example\r\nt=3034423619 3042462419\r\n"
	                    "m=message 5061 sip sip:gw.example\r\na=accept-types:text/plain\r\n");
	/* audio and video rejected in place, the message stream answered */
	snprintf(offer, sizeof(offer),
	         "%sm=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\nm=message 5060 SIP null\n"
	         "m=video 51372 RTP/AVP 31\r\n",
	         head);
	assert_int_equal(sdp(offer, &out), 0);
	assert_non_null(strstr(fg_buf_cstr(&out), "m=audio 0 RTP/AVP 0 8\r\nm=message 5061 sip "
	                                          "sip:gw.example\r\na=accept-types:text/plain\r\n"
	                                          "m=video 0 RTP/AVP 31\r\n"));
	/* MSRP only (RFC 4975): 488 with 302; audio only: 304; nothing: 304 */
	snprintf(offer, sizeof(offer), "%sm=message 7394 TCP/MSRP *\r\n", head);
	assert_int_equal(sdp(offer, &out), 302);
	assert_string_equal(sipgw_sdp_warning_text(302), "Incompatible transport protocol");
	snprintf(offer, sizeof(offer), "%sm=audio 49170 RTP/AVP 0\r\n", head);
	assert_int_equal(sdp(offer, &out), 304);
	assert_string_equal(sipgw_sdp_warning_text(304), "Media type not available");
	assert_int_equal(sdp(head, &out), 304);
	assert_int_equal(sdp("", &out), 304);
	/* a message stream offered with port 0 is not taken */
	snprintf(offer, sizeof(offer), "%sm=message 0 sip null\r\n", head);
	assert_int_equal(sdp(offer, &out), 304);
	/* MSRP next to SIP: the SIP one is taken, the MSRP one rejected */
	snprintf(offer, sizeof(offer), "%sm=message 7394 TCP/MSRP *\r\nm=message 5060 sip x\r\n",
	         head);
	assert_int_equal(sdp(offer, &out), 0);
	assert_non_null(strstr(fg_buf_cstr(&out), "m=message 0 TCP/MSRP *\r\nm=message 5061 sip"));
	/* malformed m= lines, control characters: refused, nothing echoed */
	assert_int_equal(sdp("m=message\r\n", &out), 399);
	assert_int_equal(sdp("m=au\x01dio 1 RTP/AVP 0\r\nm=message 1 sip x\r\n", &out), 399);
	/* no t= line: t=0 0 */
	assert_int_equal(sdp("m=message 1 sip x\r\n", &out), 0);
	assert_non_null(strstr(fg_buf_cstr(&out), "\r\nt=0 0\r\n"));
	fg_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_from_s2s),
	    cmocka_unit_test(test_message_to_sip),
	    cmocka_unit_test(test_message_chatstate_only),
	    cmocka_unit_test(test_message_not_mapped),
	    cmocka_unit_test(test_message_escaping),
	    cmocka_unit_test(test_message_xhtml_im),
	    cmocka_unit_test(test_error_stanza),
	    cmocka_unit_test(test_refresh_at),
	    cmocka_unit_test(test_granted_expires),
	    cmocka_unit_test(test_subscribe_failure),
	    cmocka_unit_test(test_notify_failure),
	    cmocka_unit_test(test_reply_unparsed),
	    cmocka_unit_test(test_jid_split),
	    cmocka_unit_test(test_sub_id),
	    cmocka_unit_test(test_bind_addr),
	    cmocka_unit_test(test_presence_read),
	    cmocka_unit_test(test_presence_stanza),
	    cmocka_unit_test(test_lang_tag),
	    cmocka_unit_test(test_sip_uri_canonical),
	    cmocka_unit_test(test_cert_names),
	    cmocka_unit_test(test_sdp_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
