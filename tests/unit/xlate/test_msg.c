/* Unit tests: RFC 7572 message conversion (text/plain, message/cpim) and XML output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xlate/xlate.h"

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
}

static void t_refusals(void **st)
{
	struct xlate_im im;
	const char *why = NULL;
	assert_int_equal(xlate_im_from_sip("text/plain;charset=ISO-8859-1", (const uint8_t *)"x", 1,
	                                   NULL, NULL, NULL, &im, &why),
	                 FG_ERR_VERSION); /* answer 415 */
	assert_non_null(why);
	assert_int_equal(xlate_im_from_sip("text/html", (const uint8_t *)"<b>x</b>", 8, NULL, NULL,
	                                   NULL, &im, &why),
	                 FG_ERR_VERSION);
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

static void t_cpim(void **st)
{
	const char *cpim = "From: Romeo <im:romeo@example.net>\r\n"
	                   "To: Juliet <im:juliet@example.com>\r\n"
	                   "DateTime: 2000-12-13T13:40:00-08:00\r\n"
	                   "Subject;lang=en: Hello\r\n"
	                   "\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-ID: <1234567890@example.net>\r\n"
	                   "\r\n"
	                   "Wherefore art thou?";
	struct xlate_im im;
	const char *why = NULL;
	assert_int_equal(xlate_im_from_sip("message/cpim", (const uint8_t *)cpim, strlen(cpim),
	                                   NULL, NULL, "c1", &im, &why),
	                 FG_OK);
	assert_string_equal(im.body, "Wherefore art thou?");
	assert_string_equal(im.subject, "Hello");
	assert_string_equal(im.lang, "en");
	assert_string_equal(im.thread, "c1");
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
	assert_string_equal(fg_buf_cstr(&out),
	                    "<message type='chat' from='romeo@example.net' to='juliet@example.com' "
	                    "id='m1' xml:lang='fr'><subject>s</subject><body>a&lt;b &amp; "
	                    "&apos;c&apos;</body><thread>t</thread></message>");
	fg_buf_reset(&out);
	im.body = "bell\x07";
	assert_int_equal(xlate_im_to_xml(&im, "a@b", "c@d", &out), FG_ERR_INVAL);
	assert_int_equal(out.len, 0);
	fg_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_plain),  cmocka_unit_test(t_refusals), cmocka_unit_test(t_cpim),
	    cmocka_unit_test(t_to_sip), cmocka_unit_test(t_to_xml),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
