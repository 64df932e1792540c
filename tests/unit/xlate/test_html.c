/* Unit tests: text/html -> plain text + XHTML-IM (RFC 7572 §7, XEP-0071 recommended profile). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xlate/xlate.h"

#define HEAD                                                                                       \
	"<html xmlns='http://jabber.org/protocol/xhtml-im'><body "                                 \
	"xmlns='http://www.w3.org/1999/xhtml'>"
#define TAIL "</body></html>"

/* in -> text and the XHTML-IM body's content (want_x NULL: no <html/> at all) */
static void conv(const char *in, const char *want_t, const char *want_x)
{
	struct fg_buf t = {0}, x = {0};
	const char *why = NULL;
	enum fg_err e = xlate_html_convert((const uint8_t *)in, strlen(in), &t, &x, &why);
	if (e != FG_OK)
		fail_msg("%s: %s", in, why ? why : "?");
	assert_string_equal(fg_buf_cstr(&t), want_t);
	if (want_x == NULL) {
		assert_int_equal(x.len, 0);
	} else {
		char want[4096];
		snprintf(want, sizeof(want), "%s%s%s", HEAD, want_x, TAIL);
		assert_string_equal(fg_buf_cstr(&x), want);
	}
	fg_buf_free(&t);
	fg_buf_free(&x);
}

static void refused(const char *in, size_t len, enum fg_err want)
{
	struct fg_buf t = {0}, x = {0};
	fg_buf_append_str(&t, "keep");
	const char *why = NULL;
	assert_int_equal(xlate_html_convert((const uint8_t *)in, len, &t, &x, &why), want);
	assert_non_null(why);
	assert_string_equal(fg_buf_cstr(&t), "keep"); /* unchanged on error */
	assert_int_equal(x.len, 0);
	fg_buf_free(&t);
	fg_buf_free(&x);
}

/* One row per mapping of XEP-0071 recommended profile. */
static void t_tags(void **st)
{
	(void)st;
	conv("plain", "plain", "plain");
	conv("<b>b</b>", "b", "<strong>b</strong>");
	conv("<strong>s</strong>", "s", "<strong>s</strong>");
	conv("<i>i</i>", "i", "<em>i</em>");
	conv("<em>e</em>", "e", "<em>e</em>");
	conv("<u>u</u>", "u", "<span style='text-decoration: underline'>u</span>");
	conv("<s>s</s>", "s", "<span style='text-decoration: line-through'>s</span>");
	conv("<code>c</code>", "c", "<span style='font-family: monospace'>c</span>");
	conv("<cite>c</cite>", "c", "<cite>c</cite>");
	conv("<span>s</span>", "s", "<span>s</span>");
	conv("<p>p</p>", "p", "<p>p</p>");
	conv("<div>d</div>", "d", "<p>d</p>");
	conv("<h2>Title</h2>x", "Title\n\nx", "<p style='font-weight: bold'>Title</p>x");
	conv("<blockquote>q</blockquote>", "q", "<blockquote>q</blockquote>");
	conv("a<br>b<br/>c<BR >d", "a\nb\nc\nd", "a<br/>b<br/>c<br/>d");
	conv("<ul><li>one</li><li>two</li></ul>", "one\ntwo", "<ul><li>one</li><li>two</li></ul>");
	conv("<ol><li>1<li>2</ol>", "1\n2", "<ol><li>1</li><li>2</li></ol>");
	conv("<li>no list</li>", "no list", "no list");
	conv("<a href='http://example.com/'>site</a>", "site <http://example.com/>",
	     "<a href='http://example.com/'>site</a>");
	conv("<a href='https://example.com/'>https://example.com/</a>", "https://example.com/",
	     "<a href='https://example.com/'>https://example.com/</a>");
	conv("<a href='mailto:a@example.com'>a@example.com</a>", "a@example.com",
	     "<a href='mailto:a@example.com'>a@example.com</a>");
	conv("<a href='xmpp:a@example.com'>x</a> <a href='sip:b@example.com'>y</a>",
	     "x <xmpp:a@example.com> y <sip:b@example.com>",
	     "<a href='xmpp:a@example.com'>x</a> <a href='sip:b@example.com'>y</a>");
	conv("<img src='https://example.com/a.png' alt='cat' width='20' height='10%'>", "cat",
	     "<img alt='cat' src='https://example.com/a.png' width='20' height='10%'/>");
	conv("<img src='https://e.com/a.png' alt=x width='20px'>", "x",
	     "<img alt='x' src='https://e.com/a.png'/>");
	conv("<font color='#ff0000' size='5' face='Arial, sans-serif'>f</font>", "f",
	     "<span style='color: #ff0000; font-size: x-large; font-family: Arial, "
	     "sans-serif'>f</span>");
	conv("<font size='-1'>f</font>", "f", "<span style='font-size: small'>f</span>");
	conv("<font color='red;x:y'>f</font>", "f", "<span>f</span>");
	/* unknown elements: dropped, their text kept */
	conv("<marquee>m</marquee><blink>b</blink>", "mb", "mb");
	conv("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc",
	     "a b<br/>c");
	conv("<html><head><title>T</title><meta charset='utf-8'></head><body>x</body></html>", "x",
	     "x");
	/* <head> text is dropped until </head>, <body> or an element of the body */
	conv("<head>meta text<meta name=x></head>body", "body", "body");
	conv("<head>h<body>b", "b", "b");
	conv("<head>h<p>p</p>", "p", "<p>p</p>");
	conv("<HEAD>h<Title>t</title><style>s</style></HEAD><i>i</i>", "i", "<em>i</em>");
	conv("<pre>a  b\n c</pre>", "a  b\n c",
	     "<p style='font-family: monospace'>a  b<br/> c</p>");
	conv("<!-- note -->a<!DOCTYPE html><?php x ?>b<!---->c<!-->d", "abcd", "abcd");
	conv("1 < 2 > 0", "1 < 2 > 0", "1 &lt; 2 &gt; 0");
	/* every mapped element is found (the table is searched by halves) */
	conv(
	    "<xmp>x</xmp><title>t</title><template>x</template><textarea>x</textarea>"
	    "<noembed>x</noembed><noframes>x</noframes>a<tt>b</tt><var>c</var><dfn>d</dfn>"
	    "<samp>e</samp><kbd>f</kbd><ins>g</ins><del>h</del><strike>i</strike><small>j</small>"
	    "<big>k</big>",
	    "abcdefghijk",
	    "a<span style='font-family: monospace'>b</span><em>c</em><em>d</em>"
	    "<span style='font-family: monospace'>e</span><span style='font-family: monospace'>f"
	    "</span><span style='text-decoration: underline'>g</span><span style='text-decoration: "
	    "line-through'>h</span><span style='text-decoration: line-through'>i</span><span "
	    "style='font-size: smaller'>j</span><span style='font-size: larger'>k</span>");
	conv("<center>c</center><address>a</address><hr>x</hr>y</br>z", "c\na\nxyz",
	     "<p style='text-align: center'>c</p>a<br/>xyz");
}

static void t_entities(void **st)
{
	(void)st;
	conv("&amp;&lt;&gt;&quot;&apos;", "&<>\"'", "&amp;&lt;&gt;&quot;&apos;");
	conv("a&nbsp;b&copy;&reg;",
	     "a\xc2\xa0"
	     "b\xc2\xa9\xc2\xae",
	     "a\xc2\xa0"
	     "b\xc2\xa9\xc2\xae");
	conv("&eacute;&Uuml;&szlig;&yuml;&iexcl;", "\xc3\xa9\xc3\x9c\xc3\x9f\xc3\xbf\xc2\xa1",
	     "\xc3\xa9\xc3\x9c\xc3\x9f\xc3\xbf\xc2\xa1");
	conv("&#65;&#x42;&#X43;&#68", "ABCD", "ABCD");
	conv("&#x1F600;", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
	/* windows-1252 for 0x80-0x9F; NUL, controls, surrogates, too large: U+FFFD */
	conv("&#128;&#0;&#1;&#xD800;&#x110000;",
	     "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	     "\xef\xbf\xbd",
	     "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* not entities: stay as they are */
	conv("AT&T &unknown; & &#; &", "AT&T &unknown; & &#; &",
	     "AT&amp;T &amp;unknown; &amp; &amp;#; &amp;");
	conv("<a href='http://e.com/?a=1&amp;b=2'>q</a>", "q <http://e.com/?a=1&b=2>",
	     "<a href='http://e.com/?a=1&amp;b=2'>q</a>");
	conv("&#10;a&#32;&#32;b", "a b", "a b"); /* references are white space too */
	/* an attribute value is decoded once */
	conv("<img src='http://x/' alt='&amp;lt;'>", "&lt;",
	     "<img alt='&amp;lt;' src='http://x/'/>");
	conv("<img alt='a&amp;b'>", "a&b", "a&amp;b");
}

static void t_whitespace(void **st)
{
	(void)st;
	conv("  a \t\r\n b  ", "a b", "a b");
	conv("<p> one </p>  <p>two</p>", "one\n\ntwo", "<p>one</p><p>two</p>");
	conv("a <b>b</b> c", "a b c", "a <strong>b</strong> c");
	conv("<div>a<div>b</div>c</div>", "a\nb\nc", "<p>a</p><p>b</p>c");
	conv("x<br><br>y<br>", "x\n\ny", "x<br/><br/>y<br/>");
	conv("<br>lead", "lead", "lead");
}

/* Open elements are closed, stray end tags ignored, misnested markup well-formed. */
static void t_nesting(void **st)
{
	(void)st;
	conv("<b><i>x", "x", "<strong><em>x</em></strong>");
	conv("</b></p>x</i>", "x", "x");
	conv("<b>1<i>2</b>3</i>", "123", "<strong>1<em>2</em></strong>3");
	conv("<p>a<p>b", "a\n\nb", "<p>a</p><p>b</p>");
	conv("<b>x<p>y</p></b>", "x\n\ny", "<strong>x</strong><p>y</p>");
	conv("<a href='http://a'>1<a href='http://b'>2</a>", "1 <http://a>2 <http://b>",
	     "<a href='http://a'>1</a><a href='http://b'>2</a>");
	conv("<ul><li>a<ul><li>b</ul></ul>", "a\nb", "<ul><li>a<ul><li>b</li></ul></li></ul>");
	conv("x<b", "x", "x"); /* a tag cut by the end is dropped */
}

/* XLATE_HTML_MAX_DEPTH: deeper elements are dropped, their text kept. */
static void t_depth(void **st)
{
	(void)st;
	struct fg_buf in = {0}, want = {0};
	for (int i = 0; i < XLATE_HTML_MAX_DEPTH + 4; i++)
		fg_buf_append_str(&in, "<i>");
	fg_buf_append_str(&in, "deep");
	for (int i = 0; i < XLATE_HTML_MAX_DEPTH; i++)
		fg_buf_append_str(&want, "<em>");
	fg_buf_append_str(&want, "deep");
	for (int i = 0; i < XLATE_HTML_MAX_DEPTH; i++)
		fg_buf_append_str(&want, "</em>");
	conv(fg_buf_cstr(&in), "deep", fg_buf_cstr(&want));
	/* a void element still goes in at the cap: <br/> one level below the deepest */
	fg_buf_append_str(&in, "<br>x");
	want.len -= XLATE_HTML_MAX_DEPTH * 5;
	fg_buf_append_str(&want, "<br/>x");
	for (int i = 0; i < XLATE_HTML_MAX_DEPTH; i++)
		fg_buf_append_str(&want, "</em>");
	conv(fg_buf_cstr(&in), "deep\nx", fg_buf_cstr(&want));
	fg_buf_free(&in);
	fg_buf_free(&want);
	/* a big flat body stays whole; one past the XHTML cap loses the <html/> only */
	size_t n = XLATE_MAX_BODY;
	char *big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i += 8)
		memcpy(big + i, "<u>x</u>", 8); /* six times longer as XHTML-IM */
	big[n] = '\0';
	struct fg_buf t = {0}, x = {0};
	assert_int_equal(xlate_html_convert((const uint8_t *)big, n, &t, &x, NULL), FG_OK);
	assert_int_equal(t.len, n / 8);
	assert_int_equal(x.len, 0);
	fg_buf_free(&t);
	fg_buf_free(&x);
	free(big);
}

/* script, style, event handlers, javascript: and other schemes never reach XHTML-IM. */
static void t_sanitise(void **st)
{
	(void)st;
	conv("<script>alert('x')</script>a<SCRIPT type=x>b</script >c", "ac", "ac");
	conv("<style>p { color: red }</style>x", "x", "x");
	conv("<script>if (a</script>b) {}</script>y", "b) {}y", "b) {}y");
	conv("x<script>never closed", "x", "x");
	conv("<p onclick='evil()' style='color: red' class='c' id='i'>x</p>", "x",
	     "<p style='color: red'>x</p>");
	conv("<a href='javascript:alert(1)'>j</a>", "j", "j");
	conv("<a href=' JaVaScRiPt:alert(1)'>j</a>", "j", "j");
	conv("<a href='java\tscript:alert(1)'>j</a>", "j", "j");
	conv("<a href='http://a b'>s</a>", "s", "s");
	conv("<a href='data:text/html,x'>d</a><a href='/rel'>r</a><a>n</a>", "drn", "drn");
	conv("<a href='vbscript:x' onmouseover='y'>v</a>", "v", "v");
	conv("<img src='javascript:x' onerror='alert(1)'>t", "t", "t");
	conv("<iframe src='http://e.com'>inner</iframe>t", "t", "t");
	conv("<span style='background: url(http://e.com/x); color: blue'>s</span>", "s",
	     "<span style='color: blue'>s</span>");
	conv("<span style='color: expression(alert(1)); font-weight: bold'>s</span>", "s",
	     "<span style='font-weight: bold'>s</span>");
	conv("<span style='color: rgb(1, 2, 3); position: fixed; font-size: 12px "
	     "!important'>s</span>",
	     "s", "<span style='color: rgb(1, 2, 3)'>s</span>");
	conv("<span style='color: \\72 ed; font-family: \"a;b\"'>s</span>", "s", "<span>s</span>");
	conv("<span style='COLOR:Red;margin-left:2em;text-align:center'>s</span>", "s",
	     "<span style='color: Red; margin-left: 2em; text-align: center'>s</span>");
	conv("<b style='color: red'>b</b>", "b", "<strong>b</strong>"); /* strong: no style */
	conv("<p title='&apos;&gt;&lt;script&gt;'>x</p>", "x", "<p>x</p>");
	conv("<span style='font-family: &apos;A&apos;&lt;'>x</span>", "x", "<span>x</span>");
}

static void t_refusals(void **st)
{
	(void)st;
	refused("<b>\xc3\x28</b>", 8, FG_ERR_PARSE); /* invalid UTF-8 */
	refused("<b>a\0b</b>", 10, FG_ERR_PARSE);    /* NUL */
	refused("a\x07", 2, FG_ERR_PARSE);           /* a control XML cannot carry */
	refused("", 0, FG_ERR_PARSE);                /* no text at all */
	refused("<p> </p><br><img src='http://x/y'>", 34, FG_ERR_PARSE);
	refused("<script>x</script><style>y</style>", 34, FG_ERR_PARSE);
	refused("<b", 2, FG_ERR_PARSE);
	refused("<script>never closed", 20, FG_ERR_PARSE);
	char *big = calloc(1, XLATE_MAX_BODY + 2);
	assert_non_null(big);
	memset(big, 'a', XLATE_MAX_BODY + 1);
	refused(big, XLATE_MAX_BODY + 1, FG_ERR_TOOBIG);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_tags),       cmocka_unit_test(t_entities),
	    cmocka_unit_test(t_whitespace), cmocka_unit_test(t_nesting),
	    cmocka_unit_test(t_depth),      cmocka_unit_test(t_sanitise),
	    cmocka_unit_test(t_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
