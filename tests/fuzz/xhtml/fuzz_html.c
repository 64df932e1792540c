/* libFuzzer target: text/html -> plain text + XHTML-IM (RFC 7572 §7, XEP-0071); the output
 * must be well-formed XML holding only the recommended profile's elements and attributes. */
#include <expat.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "xlate/xlate.h"

#define NS_XHTML "http://www.w3.org/1999/xhtml"

struct check {
	int depth;
	bool bad;
};

static bool allowed(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

static void start_cb(void *ud, const char *name, const char **attrs)
{
	static const char *const elements[] = {NS_XHTML "|p",
	                                       NS_XHTML "|br",
	                                       NS_XHTML "|span",
	                                       NS_XHTML "|a",
	                                       NS_XHTML "|em",
	                                       NS_XHTML "|strong",
	                                       NS_XHTML "|cite",
	                                       NS_XHTML "|blockquote",
	                                       NS_XHTML "|ul",
	                                       NS_XHTML "|ol",
	                                       NS_XHTML "|li",
	                                       NS_XHTML "|img",
	                                       NULL};
	static const char *const attributes[] = {"style", "href",   "src", "alt",
	                                         "width", "height", NULL};
	struct check *c = ud;
	/* html, body, the open elements, and a void one (br, img) inside the deepest */
	c->depth++;
	if (c->depth == 1) {
		c->bad |= strcmp(name, XLATE_XHTML_IM_NS "|html") != 0;
		return;
	}
	if (c->depth == 2) {
		c->bad |= strcmp(name, NS_XHTML "|body") != 0;
		return;
	}
	c->bad |= !allowed(name, elements) || c->depth > XLATE_HTML_MAX_DEPTH + 3;
	for (size_t i = 0; attrs[i] != NULL; i += 2) {
		c->bad |= !allowed(attrs[i], attributes);
		const char *v = attrs[i + 1];
		if (strcmp(attrs[i], "href") == 0 || strcmp(attrs[i], "src") == 0)
			c->bad |=
			    !(strncasecmp(v, "http:", 5) == 0 || strncasecmp(v, "https:", 6) == 0 ||
			      strncasecmp(v, "mailto:", 7) == 0 ||
			      strncasecmp(v, "xmpp:", 5) == 0 || strncasecmp(v, "sip:", 4) == 0);
		if (strcmp(attrs[i], "style") == 0)
			c->bad |= strcasestr(v, "url(") != NULL ||
			          strcasestr(v, "expression(") != NULL || strchr(v, '\\') != NULL ||
			          strchr(v, '/') != NULL;
	}
}

static void end_cb(void *ud, const char *name)
{
	(void)name;
	((struct check *)ud)->depth--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fg_buf text = {0}, x = {0};
	if (xlate_html_convert(data, size, &text, &x, NULL) == FG_OK) {
		if (text.len == 0)
			__builtin_trap(); /* no text is refused, never an empty <body/> */
		if (x.len > 0) {
			struct check c = {0};
			XML_Parser p = XML_ParserCreateNS("UTF-8", '|');
			XML_SetUserData(p, &c);
			XML_SetElementHandler(p, start_cb, end_cb);
			if (XML_Parse(p, (const char *)x.data, (int)x.len, XML_TRUE) !=
			        XML_STATUS_OK ||
			    c.bad)
				__builtin_trap();
			XML_ParserFree(p);
		}
	}
	fg_buf_free(&text);
	fg_buf_free(&x);
	/* the stanza path: the same input as a SIP MESSAGE body */
	struct xlate_im_sip in = {
	    .content_type = "text/html", .content_type_len = 9, .body = data, .body_len = size};
	struct fg_buf out = {0};
	(void)xlate_im_sip_to_xml(&in, "a@b", 3, "c@d", 3, "i", &out, NULL);
	fg_buf_free(&out);
	return 0;
}
