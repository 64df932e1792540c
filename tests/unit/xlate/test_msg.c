/* Unit tests: RFC 7572 message conversion (text/plain, message/cpim) and XML output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xlate/xlate.h"
#include "xmpp/xmpp.h"

static void t_plain(void **st)
{
	struct xlate_im im;
	const char *body = "Art thou not Romeo, and a Montague? \xe2\x98\x83";
	assert_int_equal(xlate_im_from_sip("text/plain; charset=\"UTF-8\"", (const uint8_t *)body,
	                                   strlen(body), "Question", "en", "call-77@example.com",
	                                   &im, NULL),
	                 FG_OK);
	assert_string_equal(im.body, body);
	assert_string_equal(im.subject, "Question");
	assert_string_equal(im.lang, "en");
	assert_string_equal(im.thread, "call-77@example.com");
	xlate_im_clear(&im);
	/* no Content-Type: text/plain; no charset: UTF-8 */
	assert_int_equal(
	    xlate_im_from_sip(NULL, (const uint8_t *)"hi", 2, NULL, NULL, NULL, &im, NULL), FG_OK);
	assert_string_equal(im.body, "hi");
	assert_null(im.subject);
	xlate_im_clear(&im);
	xlate_im_clear(NULL);
	/* Content-Language is a list (RFC 3261 §20.13): the first valid tag is xml:lang */
	static const char *const langs[][2] = {{"en, fr", "en"}, {" de-CH ,en", "de-CH"},
	                                       {"*, fr", "fr"},  {"q, x-klingon", "x-klingon"},
	                                       {"e\tn\n", NULL}, {"1en", NULL},
	                                       {"", NULL},       {"abcdefghi", NULL}};
	for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
		assert_int_equal(xlate_im_from_sip(NULL, (const uint8_t *)"hi", 2, NULL,
		                                   langs[i][0], NULL, &im, NULL),
		                 FG_OK);
		if (langs[i][1])
			assert_string_equal(im.lang, langs[i][1]);
		else
			assert_null(im.lang);
		xlate_im_clear(&im);
	}
}

static void t_refusals(void **st)
{
	struct xlate_im im;
	const char *why = NULL;
	assert_int_equal(xlate_im_from_sip("text/plain;charset=ISO-8859-1", (const uint8_t *)"x", 1,
	                                   NULL, NULL, NULL, &im, &why),
	                 FG_ERR_VERSION); /* answer 415 */
	assert_non_null(why);
	assert_int_equal(xlate_im_from_sip("text/enriched", (const uint8_t *)"<b>x</b>", 8, NULL,
	                                   NULL, NULL, &im, &why),
	                 FG_ERR_VERSION);
	assert_int_equal(xlate_im_from_sip("text/html;charset=ISO-8859-1", (const uint8_t *)"x", 1,
	                                   NULL, NULL, NULL, &im, &why),
	                 FG_ERR_VERSION);
	/* text/html with no text: nothing to put in <body/> (XEP-0071 MUST) */
	assert_int_equal(xlate_im_from_sip("text/html", (const uint8_t *)"<p> </p>", 8, NULL, NULL,
	                                   NULL, &im, &why),
	                 FG_ERR_PARSE);
	assert_int_equal(xlate_im_from_sip("text/html", (const uint8_t *)"<b>\xc3\x28</b>", 9, NULL,
	                                   NULL, NULL, &im, &why),
	                 FG_ERR_PARSE);
	assert_int_equal(xlate_im_from_sip("text/plain", (const uint8_t *)"\xc3\x28", 2, NULL, NULL,
	                                   NULL, &im, &why),
	                 FG_ERR_PARSE); /* not UTF-8: 400 */
	assert_int_equal(xlate_im_from_sip("text/plain", (const uint8_t *)"a\0b", 3, NULL, NULL,
	                                   NULL, &im, &why),
	                 FG_ERR_PARSE);
	assert_int_equal(
	    xlate_im_from_sip("text/plainx", (const uint8_t *)"a", 1, NULL, NULL, NULL, &im, &why),
	    FG_ERR_VERSION);
}

static void t_media_type(void **st)
{
	static const char ic[] = "application/im-iscomposing+xml";
	assert_true(xlate_media_type_is(ic, strlen(ic), ic));
	assert_true(xlate_media_type_is("Application/IM-isComposing+XML ; charset=utf-8", 46, ic));
	assert_false(xlate_media_type_is("application/im-iscomposing+xmlfoo", 34, ic));
	assert_false(xlate_media_type_is("application/im-iscomposing", 26, ic));
	assert_false(xlate_media_type_is(NULL, 0, ic));
	/* the length bounds the value: the text after it is not read */
	assert_false(xlate_media_type_is(ic, 10, ic));
}

/* RFC 7572 Table 1: <thread/> -> Call-ID, valid by RFC 3261 §25.1 */
static void t_thread_call_id(void **st)
{
	char out[256];
	bool derived = true;
	static const char uuid[] = "e0ffe42b28561960c6b12b944a980bcc";
	assert_int_equal(
	    xlate_call_id_from_thread(uuid, strlen(uuid), "gw.example", out, sizeof(out), &derived),
	    FG_OK);
	assert_string_equal(out, uuid); /* kept as it is */
	assert_false(derived);
	assert_int_equal(
	    xlate_call_id_from_thread("th-1@host", 9, "gw.example", out, sizeof(out), &derived),
	    FG_OK);
	assert_string_equal(out, "th-1@host");
	static const char *const bad[] = {"a b", "caf\xc3\xa9", "a@b@c", "@x", "x@", "a\r\nb", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char again[256];
		bool d2 = false;
		assert_int_equal(xlate_call_id_from_thread(bad[i], strlen(bad[i]), "gw.example",
		                                           out, sizeof(out), &derived),
		                 FG_OK);
		assert_true(derived);
		assert_true(xlate_call_id_valid(out, strlen(out)));
		assert_memory_equal(out, "th-", 3);
		assert_non_null(strstr(out, "@gw.example"));
		assert_int_equal(strlen(out), 3 + 32 + 1 + 10);
		/* the same thread gives the same Call-ID: one conversation keeps one */
		assert_int_equal(xlate_call_id_from_thread(bad[i], strlen(bad[i]), "gw.example",
		                                           again, sizeof(again), &d2),
		                 FG_OK);
		assert_string_equal(out, again);
	}
	char a[256], b[256];
	assert_int_equal(xlate_call_id_from_thread("a b", 3, "h", a, sizeof(a), &derived), FG_OK);
	assert_int_equal(xlate_call_id_from_thread("a c", 3, "h", b, sizeof(b), &derived), FG_OK);
	assert_string_not_equal(a, b);
	/* longer than XLATE_MAX_THREAD_CALL_ID: derived, though valid */
	char longt[XLATE_MAX_THREAD_CALL_ID + 2];
	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = '\0';
	assert_int_equal(
	    xlate_call_id_from_thread(longt, strlen(longt), "h", out, sizeof(out), &derived),
	    FG_OK);
	assert_true(derived);
	assert_int_equal(
	    xlate_call_id_from_thread(longt, strlen(longt) - 1, "h", out, sizeof(out), &derived),
	    FG_OK);
	assert_false(derived);
	/* no room */
	assert_int_equal(xlate_call_id_from_thread("a b", 3, "h", out, 10, &derived),
	                 FG_ERR_TOOBIG);
	assert_true(xlate_call_id_valid("a\"<>:/[]?{}\\b@c", 15));
	assert_false(xlate_call_id_valid("a;b", 3));
	/* a thread with CR/LF is no longer refused for SIP: its Call-ID is derived */
	struct xlate_im im = {.body = "x", .thread = "a\r\nb"};
	struct fg_buf body = {0}, hdrs = {0};
	const char *ct;
	assert_int_equal(xlate_im_to_sip(&im, &body, &hdrs, &ct), FG_OK);
	fg_buf_free(&body);
	fg_buf_free(&hdrs);
}

static void t_cpim(void **st)
{
	const char *cpim = "From: Romeo <im:romeo@example.net>\r\n"
	                   "To: Juliet <im:juliet@example.com>\r\n"
	                   "DateTime: 2000-12-13T13:40:00-08:00\r\n"
	                   "Subject:;lang=fr Objet de message\r\n"
	                   "Subject:;lang=en Message subject\r\n"
	                   "\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-ID: <1234567890@example.net>\r\n"
	                   "\r\n"
	                   "Wherefore art thou?";
	struct xlate_im im;
	const char *why = NULL;
	/* RFC 3862 §3.3: the ;lang of a Subject is the subject's language; the message's
	 * comes from Content-Language (RFC 7572 §8) */
	assert_int_equal(xlate_im_from_sip("message/cpim", (const uint8_t *)cpim, strlen(cpim),
	                                   NULL, "en", "c1", &im, &why),
	                 FG_OK);
	assert_string_equal(im.body, "Wherefore art thou?");
	assert_string_equal(im.subject, "Objet de message");
	assert_string_equal(im.subject_lang, "fr");
	assert_string_equal(im.lang, "en");
	assert_string_equal(im.thread, "c1");
	struct fg_buf xml = {0};
	assert_int_equal(xlate_im_to_xml(&im, "a@b", "c@d", &xml), FG_OK);
	assert_string_equal(fg_buf_cstr(&xml),
	                    "<message from='a@b' to='c@d' xml:lang='en'><subject xml:lang='fr'>"
	                    "Objet de message</subject><body>Wherefore art thou?</body>"
	                    "<thread>c1</thread></message>");
	fg_buf_free(&xml);
	xlate_im_clear(&im);
	/* no Content-Language: the subject's language does not become the message's */
	assert_int_equal(xlate_im_from_sip("message/cpim", (const uint8_t *)cpim, strlen(cpim),
	                                   NULL, NULL, NULL, &im, &why),
	                 FG_OK);
	assert_null(im.lang);
	assert_string_equal(im.subject_lang, "fr");
	xlate_im_clear(&im);
	/* parameters with a quoted value, and a Subject with none */
	const char *q = "Subject:;x=\"a; b\";lang=de Betreff\r\n\r\n"
	                "Content-Type: text/plain\r\n\r\nx";
	assert_int_equal(xlate_im_from_sip("message/cpim", (const uint8_t *)q, strlen(q), NULL,
	                                   NULL, NULL, &im, &why),
	                 FG_OK);
	assert_string_equal(im.subject, "Betreff");
	assert_string_equal(im.subject_lang, "de");
	xlate_im_clear(&im);
	const char *nolang = "Subject: Plain\r\n\r\nContent-Type: text/plain\r\n\r\nx";
	assert_int_equal(xlate_im_from_sip("message/cpim", (const uint8_t *)nolang, strlen(nolang),
	                                   NULL, NULL, NULL, &im, &why),
	                 FG_OK);
	assert_string_equal(im.subject, "Plain");
	assert_null(im.subject_lang);
	xlate_im_clear(&im);
	const char *bad = "From: x\r\n\r\nContent-Type: image/png\r\n\r\nPNG";
	assert_int_equal(xlate_im_from_sip("Message/CPIM", (const uint8_t *)bad, strlen(bad), NULL,
	                                   NULL, NULL, &im, &why),
	                 FG_ERR_VERSION);
	const char *trunc = "From: x\r\nTo y\r\n";
	assert_int_equal(xlate_im_from_sip("message/cpim", (const uint8_t *)trunc, strlen(trunc),
	                                   NULL, NULL, NULL, &im, &why),
	                 FG_ERR_PARSE);
}

static void t_to_sip(void **st)
{
	struct xlate_im im = {.body = "hi <there> & you",
	                      .subject = "line1\r\nX-Injected: 1",
	                      .lang = "en-GB",
	                      .thread = "t-1"};
	struct fg_buf body = {0}, hdrs = {0};
	const char *ct;
	assert_int_equal(xlate_im_to_sip(&im, &body, &hdrs, &ct), FG_OK);
	assert_string_equal(ct, "text/plain;charset=UTF-8");
	assert_string_equal(fg_buf_cstr(&body), "hi <there> & you");
	/* the subject's line break cannot start a header */
	assert_string_equal(fg_buf_cstr(&hdrs),
	                    "Subject: line1  X-Injected: 1\r\nContent-Language: en-GB\r\n");
	fg_buf_reset(&hdrs);
	im.lang = "en\r\nX: y";
	assert_int_equal(xlate_im_to_sip(&im, &body, &hdrs, &ct), FG_ERR_INVAL);
	fg_buf_free(&body);
	fg_buf_free(&hdrs);
}

static void t_to_xml(void **st)
{
	struct xlate_im im = {
	    .body = "a<b & 'c'", .subject = "s", .thread = "t", .lang = "fr", .id = "m1"};
	struct fg_buf out = {0};
	assert_int_equal(xlate_im_to_xml(&im, "romeo@example.net", "juliet@example.com", &out),
	                 FG_OK);
	/* RFC 7572 §5: a pager-mode MESSAGE MUST give no type (or 'normal') */
	assert_string_equal(fg_buf_cstr(&out),
	                    "<message from='romeo@example.net' to='juliet@example.com' "
	                    "id='m1' xml:lang='fr'><subject>s</subject><body>a&lt;b &amp; "
	                    "&apos;c&apos;</body><thread>t</thread></message>");
	fg_buf_reset(&out);
	/* inside an IM session: a chat (RFC 7573 §5) */
	im.chat = true;
	assert_int_equal(xlate_im_to_xml(&im, "romeo@example.net", "juliet@example.com", &out),
	                 FG_OK);
	assert_string_equal(fg_buf_cstr(&out),
	                    "<message type='chat' from='romeo@example.net' to='juliet@example.com' "
	                    "id='m1' xml:lang='fr'><subject>s</subject><body>a&lt;b &amp; "
	                    "&apos;c&apos;</body><thread>t</thread></message>");
	fg_buf_reset(&out);
	im.chat = false;
	im.body = "bell\x07";
	assert_int_equal(xlate_im_to_xml(&im, "a@b", "c@d", &out), FG_ERR_INVAL);
	assert_int_equal(out.len, 0);
	fg_buf_free(&out);
}

/* The one-pass SIP -> stanza gives the bytes of xlate_im_from_sip + xlate_im_to_xml, and
 * the same refusals. */
static void sip_to_xml_same(const char *ctype, const char *body, const char *subject,
                            const char *lang, const char *call_id)
{
	struct xlate_im im;
	struct fg_buf a = {0}, b = {0};
	enum fg_err e1 = xlate_im_from_sip(ctype, (const uint8_t *)body, strlen(body), subject,
	                                   lang, call_id, &im, NULL);
	if (e1 == FG_OK) {
		im.id = "id1";
		e1 = xlate_im_to_xml(&im, "a@b.example", "c@d.example/r", &a);
		im.id = NULL;
		xlate_im_clear(&im);
	}
	struct xlate_im_sip in = {ctype,
	                          ctype ? strlen(ctype) : 0,
	                          (const uint8_t *)body,
	                          strlen(body),
	                          subject,
	                          subject ? strlen(subject) : 0,
	                          lang,
	                          lang ? strlen(lang) : 0,
	                          call_id,
	                          call_id ? strlen(call_id) : 0,
	                          false};
	const char *why = NULL;
	enum fg_err e2 =
	    xlate_im_sip_to_xml(&in, "a@b.example", 11, "c@d.example/r", 13, "id1", &b, &why);
	if (e1 == FG_ERR_VERSION || e2 == FG_ERR_VERSION)
		assert_int_equal(e1, e2);
	else
		assert_int_equal(e1 != FG_OK, e2 != FG_OK);
	if (e2 == FG_OK)
		assert_string_equal(fg_buf_cstr(&a), fg_buf_cstr(&b));
	else
		assert_int_equal(b.len, 0);
	fg_buf_free(&a);
	fg_buf_free(&b);
}

static void t_sip_to_xml(void **st)
{
	sip_to_xml_same("text/plain", "r=f3000 n=7 t=1763762400.123456", NULL, NULL,
	                "7-1234@127.0.0.5");
	sip_to_xml_same("text/plain;charset=UTF-8", "a<b & 'c' \"d\"\r\n\tx \xe2\x98\x83",
	                "S & <s>", "fr", "c'1");
	sip_to_xml_same("text/plain", "", NULL, NULL, NULL);
	sip_to_xml_same("", "x", NULL, NULL, NULL);
	sip_to_xml_same(NULL, "x", NULL, NULL, NULL);
	sip_to_xml_same("text/html", "x", NULL, NULL, NULL);
	sip_to_xml_same("text/html; charset=utf-8", "<b>bold</b> &amp; <i>it</i>", "S", "fr", "c1");
	sip_to_xml_same("text/html", "<p> </p>", NULL, NULL, NULL);
	sip_to_xml_same("text/html", "<b>\x07</b>", NULL, NULL, NULL);
	sip_to_xml_same("message/cpim",
	                "Subject: s\r\n\r\nContent-Type: text/html;charset=UTF-8\r\n\r\n"
	                "<u>under</u><script>x</script>",
	                NULL, NULL, NULL);
	sip_to_xml_same("text/plain;charset=latin1", "x", NULL, NULL, NULL);
	sip_to_xml_same("text/plain", "\xc3\x28", NULL, NULL, NULL);
	sip_to_xml_same("text/plain", "bell\x07", NULL, NULL, NULL);
	sip_to_xml_same("text/plain", "x", "\xff", NULL, NULL);
	sip_to_xml_same("message/cpim",
	                "From: x\r\nSubject:;lang=en Hello\r\n\r\n"
	                "Content-Type: text/plain\r\n\r\nWherefore & why",
	                "ignored", "de", "c1");
	sip_to_xml_same("message/cpim",
	                "Subject:;lang=DE Hallo\r\n\r\nContent-Type: text/plain\r\n\r\nx", NULL,
	                "de", NULL);
	sip_to_xml_same(
	    "message/cpim",
	    "Subject:;lang=\"unterminated Hallo\r\n\r\nContent-Type: text/plain\r\n\r\nx", NULL,
	    NULL, NULL);
	sip_to_xml_same("text/plain", "x", NULL, "fr, en", NULL);
	sip_to_xml_same("text/plain", "x", NULL, "?", NULL);
	sip_to_xml_same("message/cpim", "From: x\r\nTo y\r\n", NULL, NULL, NULL);
	sip_to_xml_same("message/cpim", "From: x\r\n\r\nContent-Type: image/png\r\n\r\nP", NULL,
	                NULL, NULL);
	/* attribute values: TAB and LF as character references; U+FFFF refused */
	struct xlate_im_sip in = {.content_type = "text/plain",
	                          .content_type_len = 10,
	                          .body = (const uint8_t *)"\xef\xbf\xbf",
	                          .body_len = 3};
	struct fg_buf out = {0};
	assert_int_equal(xlate_im_sip_to_xml(&in, "a", 1, "b", 1, NULL, &out, NULL), FG_ERR_PARSE);
	in.body = (const uint8_t *)"hi";
	in.body_len = 2;
	in.content_language = "e\tn\n";
	in.content_language_len = 5;
	assert_int_equal(xlate_im_sip_to_xml(&in, "a", 1, "b", 1, NULL, &out, NULL), FG_OK);
	/* not a language tag (RFC 5646): no xml:lang rather than a wrong one */
	assert_string_equal(fg_buf_cstr(&out),
	                    "<message from='a' to='b'><body>hi</body></message>");
	fg_buf_reset(&out);
	in.content_language = "en-GB, fr";
	in.content_language_len = 9;
	assert_int_equal(xlate_im_sip_to_xml(&in, "a", 1, "b", 1, NULL, &out, NULL), FG_OK);
	assert_string_equal(fg_buf_cstr(&out),
	                    "<message from='a' to='b' xml:lang='en-GB'><body>hi</body></message>");
	/* a header value ends at its first NUL, as a C string would */
	fg_buf_reset(&out);
	in.content_language = NULL;
	in.call_id = "c1\0junk";
	in.call_id_len = 7;
	assert_int_equal(xlate_im_sip_to_xml(&in, "a", 1, "b", 1, "i", &out, NULL), FG_OK);
	assert_string_equal(fg_buf_cstr(&out), "<message from='a' to='b' id='i'>"
	                                       "<body>hi</body><thread>c1</thread></message>");
	/* a MESSAGE inside an IM session is a chat */
	fg_buf_reset(&out);
	in.chat = true;
	assert_int_equal(xlate_im_sip_to_xml(&in, "a", 1, "b", 1, "i", &out, NULL), FG_OK);
	assert_string_equal(fg_buf_cstr(&out), "<message type='chat' from='a' to='b' id='i'>"
	                                       "<body>hi</body><thread>c1</thread></message>");
	fg_buf_free(&out);
}

/* The bytes xlate_im_sip_to_xml writes are the bytes the router wrote before, when it
 * serialized the message as a tree (xmpp_node_serialize in jabber:server). */
static void same_as_tree(bool chat, const char *from, const char *to, const char *id,
                         const char *lang, const char *subject, const char *body,
                         const char *thread)
{
	struct xmpp_node msg = {.ns = XMPP_NS_SERVER, .name = "message"}, el[3], tx[3];
	struct xmpp_attr at[5];
	const char *names[5] = {"type", "from", "to", "id", "lang"};
	const char *values[5] = {chat ? "chat" : NULL, from, to, id, lang};
	struct xmpp_attr **link = &msg.attrs;
	for (size_t i = 0; i < 5; i++) {
		if (values[i] == NULL)
			continue;
		at[i] = (struct xmpp_attr){i == 4 ? XMPP_NS_XML : "", names[i], values[i], NULL};
		*link = &at[i];
		link = &at[i].next;
	}
	const char *cnames[3] = {"subject", "body", "thread"};
	const char *cvalues[3] = {subject, body, thread};
	for (size_t i = 0; i < 3; i++) {
		if (cvalues[i] == NULL)
			continue;
		tx[i] = (struct xmpp_node){
		    .ns = "", .text = cvalues[i], .text_len = strlen(cvalues[i])};
		el[i] = (struct xmpp_node){.ns = XMPP_NS_SERVER,
		                           .name = cnames[i],
		                           .children = &tx[i],
		                           .last_child = &tx[i]};
		if (msg.last_child != NULL)
			msg.last_child->next = &el[i];
		else
			msg.children = &el[i];
		msg.last_child = &el[i];
	}
	struct fg_buf want = {0}, got = {0};
	enum fg_err e1 = xmpp_node_serialize(&msg, XMPP_NS_SERVER, &want);
	struct xlate_im_sip in = {"text/plain",
	                          10,
	                          (const uint8_t *)body,
	                          strlen(body),
	                          subject,
	                          subject ? strlen(subject) : 0,
	                          lang,
	                          lang ? strlen(lang) : 0,
	                          thread,
	                          thread ? strlen(thread) : 0,
	                          chat};
	enum fg_err e2 =
	    xlate_im_sip_to_xml(&in, from, strlen(from), to, strlen(to), id, &got, NULL);
	assert_int_equal(e1 == FG_OK, e2 == FG_OK);
	if (e1 == FG_OK)
		assert_string_equal(fg_buf_cstr(&got), fg_buf_cstr(&want));
	fg_buf_free(&want);
	fg_buf_free(&got);
}

/* RFC 7572 §7: text/html -> <body/> with the plain text, then the XHTML-IM <html/>
 * (XEP-0071), directly and inside message/cpim. */
static void t_html(void **st)
{
	(void)st;
	static const char *const xhtml =
	    "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
	    "<body xmlns='http://www.w3.org/1999/xhtml'><p>Hi <strong>you</strong> &amp; "
	    "<a href='https://e.com/'>me</a></p></body></html>";
	static const char *const html = "<html><head><style>p{}</style></head><body>"
	                                "<p onclick='x()'>Hi <b>you</b> &amp; "
	                                "<a href='https://e.com/'>me</a></body></html>";
	struct xlate_im im;
	assert_int_equal(xlate_im_from_sip("text/html;charset=UTF-8", (const uint8_t *)html,
	                                   strlen(html), NULL, NULL, NULL, &im, NULL),
	                 FG_OK);
	assert_string_equal(im.body, "Hi you & me <https://e.com/>");
	assert_string_equal(im.html, xhtml);
	xlate_im_clear(&im);
	struct fg_buf cpim = {0}, out = {0};
	fg_buf_printf(&cpim, "From: <sip:a@b>\r\n\r\nContent-Type: text/html\r\n\r\n%s", html);
	struct xlate_im_sip in = {.content_type = "message/cpim",
	                          .content_type_len = 12,
	                          .body = cpim.data,
	                          .body_len = cpim.len,
	                          .call_id = "c1",
	                          .call_id_len = 2};
	assert_int_equal(xlate_im_sip_to_xml(&in, "a", 1, "b", 1, "i", &out, NULL), FG_OK);
	struct fg_buf want = {0};
	fg_buf_printf(&want,
	              "<message from='a' to='b' id='i'><body>Hi you &amp; me &lt;https://e.com/&gt;"
	              "</body>%s<thread>c1</thread></message>",
	              xhtml);
	assert_string_equal(fg_buf_cstr(&out), fg_buf_cstr(&want));
	fg_buf_free(&cpim);
	fg_buf_free(&out);
	fg_buf_free(&want);
}

static void t_wire_bytes(void **st)
{
	same_as_tree(false, "load@sip.xmpp.test", "sink@prosody.test", "0123456789abcdef", NULL,
	             NULL, "r=f3000 n=7 t=1763762400.123456", "7-1234@127.0.0.5");
	same_as_tree(true, "a\\27b@x.test/r&'\"<>", "c@d.test/\t\n\r", "i", "en-GB",
	             "s\t\n\r&<>'\"", "b\t\n\r&<>'\"\xc3\xa9\xf0\x9f\x98\x80\x7f", "t&1");
	same_as_tree(false, "a@b", "c@d", NULL, NULL, NULL, "bad \xef\xbf\xbe", NULL);
	same_as_tree(true, "a@b", "c@d", NULL, NULL, NULL, "bad \x01", NULL);
	same_as_tree(false, "a@b", "c\xed\xa0\x80@d", NULL, NULL, NULL, "surrogate in to", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_plain),      cmocka_unit_test(t_refusals),
	    cmocka_unit_test(t_media_type), cmocka_unit_test(t_thread_call_id),
	    cmocka_unit_test(t_cpim),       cmocka_unit_test(t_to_sip),
	    cmocka_unit_test(t_to_xml),     cmocka_unit_test(t_sip_to_xml),
	    cmocka_unit_test(t_wire_bytes), cmocka_unit_test(t_html),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
