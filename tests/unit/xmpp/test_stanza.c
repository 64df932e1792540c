/* Unit tests for RFC 6120 §8.3 error replies and the gateway's local answers (XEP-0199,
 * XEP-0030, XEP-0092). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xmpp/xmpp.h"

struct one {
	struct fg_buf out;
	enum fg_err err;
	int mode; /* 0: error reply, 1: local answer */
	enum xmpp_stanza_cond cond;
};

static bool cb(void *ctx, const struct xmpp_node *n)
{
	struct one *o = ctx;
	static const struct xmpp_local_info info = {"fedgw", "0.1.0", "fedgw gateway"};
	if (o->mode == 0)
		o->err = xmpp_stanza_error_reply(n, o->cond, "why <not>", "gw.example", &o->out);
	else
		o->err = xmpp_local_answer(n, &info, &o->out);
	return true;
}

static enum fg_err apply(const char *xml, int mode, enum xmpp_stanza_cond cond, struct fg_buf *out)
{
	static const struct xmpp_stream_ops ops = {NULL, cb, NULL};
	struct xmpp_stream_config sc = {.content_ns = XMPP_NS_SERVER};
	struct one o = {.mode = mode, .cond = cond, .err = FG_ERR__COUNT};
	struct xmpp_stream *s;
	assert_int_equal(xmpp_stream_new(&s, &sc, &ops, &o), FG_OK);
	const char *hdr = "<stream:stream xmlns='jabber:server' "
	                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)hdr, strlen(hdr)), XMPP_SE_NONE);
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)xml, strlen(xml)), XMPP_SE_NONE);
	xmpp_stream_free(s);
	*out = o.out;
	return o.err;
}

static void test_error_reply(void **state)
{
	struct fg_buf out;
	assert_int_equal(apply("<message from='a@peer.example/r' to='b@gw.example' id='x1' "
	                       "type='chat'><body>hi</body></message>",
	                       0, XMPP_SC_REMOTE_SERVER_NOT_FOUND, &out),
	                 FG_OK);
	assert_string_equal(
	    fg_buf_cstr(&out),
	    "<message from='b@gw.example' to='a@peer.example/r' id='x1' "
	    "type='error'><error type='cancel' by='gw.example'>"
	    "<remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>why &lt;not&gt;</text>"
	    "</error></message>");
	fg_buf_free(&out);
	assert_int_equal(apply("<iq from='a@p' to='gw' id='1' type='get'><q xmlns='u'/></iq>", 0,
	                       XMPP_SC_REMOTE_SERVER_TIMEOUT, &out),
	                 FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&out), "<error type='wait' by='gw.example'>"
	                                          "<remote-server-timeout"));
	fg_buf_free(&out);
	assert_int_equal(
	    apply("<presence from='a@p' to='gw'/>", 0, XMPP_SC_RESOURCE_CONSTRAINT, &out), FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&out), "type='wait'"));
	fg_buf_free(&out);
	assert_int_equal(apply("<message from='a@p' to='gw'/>", 0, XMPP_SC_POLICY_VIOLATION, &out),
	                 FG_OK);
	assert_non_null(
	    strstr(fg_buf_cstr(&out), "<error type='modify' by='gw.example'><policy-violation"));
	fg_buf_free(&out);
	assert_int_equal(apply("<message from='a@p' to='gw'/>", 0, XMPP_SC_NOT_ALLOWED, &out),
	                 FG_OK);
	assert_non_null(
	    strstr(fg_buf_cstr(&out), "<error type='cancel' by='gw.example'><not-allowed"));
	fg_buf_free(&out);
}

static void test_no_error_for_error(void **state)
{
	struct fg_buf out;
	assert_int_equal(apply("<message from='a@p' to='gw' type='error'><error type='cancel'/>"
	                       "</message>",
	                       0, XMPP_SC_REMOTE_SERVER_NOT_FOUND, &out),
	                 FG_ERR_PERM);
	assert_int_equal(out.len, 0);
	fg_buf_free(&out);
	assert_int_equal(apply("<iq from='a@p' to='gw' type='result' id='1'/>", 0,
	                       XMPP_SC_REMOTE_SERVER_NOT_FOUND, &out),
	                 FG_ERR_PERM);
	fg_buf_free(&out);
	/* nobody to answer */
	assert_int_equal(apply("<message to='gw'/>", 0, XMPP_SC_REMOTE_SERVER_NOT_FOUND, &out),
	                 FG_ERR_PERM);
	fg_buf_free(&out);
	assert_string_equal(xmpp_stanza_cond_name(XMPP_SC_SERVICE_UNAVAILABLE),
	                    "service-unavailable");
	assert_string_equal(xmpp_stanza_cond_type(XMPP_SC_FORBIDDEN), "auth");
}

static void test_ping(void **state)
{
	struct fg_buf out;
	assert_int_equal(apply("<iq from='a@peer.example/r' to='gw.example' id='p1' type='get'>"
	                       "<ping xmlns='urn:xmpp:ping'/></iq>",
	                       1, 0, &out),
	                 FG_OK);
	assert_string_equal(fg_buf_cstr(&out), "<iq from='gw.example' to='a@peer.example/r' "
	                                       "id='p1' type='result'/>");
	fg_buf_free(&out);
}

static void test_disco_info(void **state)
{
	struct fg_buf out;
	assert_int_equal(apply("<iq from='a@p' to='gw.example' id='d1' type='get'>"
	                       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
	                       1, 0, &out),
	                 FG_OK);
	const char *r = fg_buf_cstr(&out);
	assert_non_null(strstr(r, "type='result'"));
	assert_non_null(
	    strstr(r, "<identity category='gateway' type='sip' name='fedgw gateway'/>"));
	assert_non_null(strstr(r, "<identity category='server' type='im'/>"));
	assert_non_null(strstr(r, "<feature var='urn:xmpp:ping'/>"));
	assert_non_null(strstr(r, "<feature var='jabber:iq:version'/>"));
	assert_non_null(strstr(r, "<feature var='http://jabber.org/protocol/disco#info'/>"));
	fg_buf_free(&out);
	assert_int_equal(
	    apply("<iq from='a@p' to='gw.example' id='d2' type='get'>"
	          "<query xmlns='http://jabber.org/protocol/disco#info' node='x'/></iq>",
	          1, 0, &out),
	    FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&out), "<item-not-found"));
	fg_buf_free(&out);
}

static void test_version(void **state)
{
	struct fg_buf out;
	assert_int_equal(apply("<iq from='a@p' to='gw.example' id='v1' type='get'>"
	                       "<query xmlns='jabber:iq:version'/></iq>",
	                       1, 0, &out),
	                 FG_OK);
	assert_string_equal(fg_buf_cstr(&out),
	                    "<iq from='gw.example' to='a@p' id='v1' type='result'><query "
	                    "xmlns='jabber:iq:version'><name>fedgw</name><version>0.1.0</version>"
	                    "</query></iq>");
	fg_buf_free(&out);
}

static void test_not_local(void **state)
{
	struct fg_buf out;
	assert_int_equal(
	    apply("<message from='a@p' to='gw.example'><body>x</body></message>", 1, 0, &out),
	    FG_ERR_NOTFOUND);
	fg_buf_free(&out);
	assert_int_equal(apply("<iq from='a@p' to='gw.example' type='result' id='1'/>", 1, 0, &out),
	                 FG_ERR_NOTFOUND);
	fg_buf_free(&out);
	assert_int_equal(apply("<iq from='a@p' to='gw.example' type='set' id='1'><x "
	                       "xmlns='urn:unknown'/></iq>",
	                       1, 0, &out),
	                 FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&out), "<error type='cancel'><service-unavailable"));
	fg_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_reply), cmocka_unit_test(test_no_error_for_error),
	    cmocka_unit_test(test_ping),        cmocka_unit_test(test_disco_info),
	    cmocka_unit_test(test_version),     cmocka_unit_test(test_not_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
