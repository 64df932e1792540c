/* xlate: UTF-8 validation, XML escaping and the restricted expat wrapper (RFC 6120 §11.1 rules). */
#include <stdlib.h>
#include <string.h>

#include "xlate/xlate_internal.h"

bool xlate__utf8_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = fg_utf8_decode(s + i, len - i, NULL);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

enum fg_err xlate__xml_escape(struct fg_buf *out, const char *s, size_t len)
{
	enum fg_err e = FG_OK;
	for (size_t i = 0; i < len && !e; i++) {
		unsigned char c = (unsigned char)s[i];
		/* XML 1.0 §2.2: no control characters other than TAB, LF, CR */
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return FG_ERR_INVAL;
		switch (c) {
		case '&':
			e = fg_buf_append_str(out, "&amp;");
			break;
		case '<':
			e = fg_buf_append_str(out, "&lt;");
			break;
		case '>':
			e = fg_buf_append_str(out, "&gt;");
			break;
		case '\'':
			e = fg_buf_append_str(out, "&apos;");
			break;
		case '"':
			e = fg_buf_append_str(out, "&quot;");
			break;
		case '\r':
			e = fg_buf_append_str(out, "&#13;");
			break;
		default:
			e = fg_buf_append(out, &s[i], 1);
		}
	}
	return e;
}

/* XML 1.0 §2.2 Char for one UTF-8 sequence at s (U+FFFE and U+FFFF are not XML
 * characters): its length, or 0. */
static size_t xml_utf8_char(const uint8_t *s, size_t avail)
{
	uint32_t cp;
	size_t n = fg_utf8_decode(s, avail, &cp);
	return n == 0 || cp == 0xfffe || cp == 0xffff ? 0 : n;
}

enum fg_err xlate__xml_put(struct fg_buf *out, const char *s, size_t len, bool attr)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + len, *run = p;
	size_t start = out->len;
	enum fg_err e = fg_buf_reserve(out, len);
	while (e == FG_OK && p < end) {
		uint8_t c = *p;
		if (c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' && c != '\'' &&
		    c != '"') {
			p++;
			continue;
		}
		if (c >= 0x80) {
			size_t n = xml_utf8_char(p, (size_t)(end - p));
			if (n == 0) {
				e = FG_ERR_INVAL;
				break;
			}
			p += n;
			continue;
		}
		const char *ent = NULL;
		switch (c) {
		case '&':
			ent = "&amp;";
			break;
		case '<':
			ent = "&lt;";
			break;
		case '>':
			ent = "&gt;"; /* XML 1.0 §2.4: "]]>" cannot end up in text */
			break;
		case '\'':
			ent = "&apos;";
			break;
		case '"':
			ent = "&quot;";
			break;
		case '\r':
			ent = "&#13;"; /* a raw CR would be normalised away by the receiver */
			break;
		case '\t':
			/* XML 1.0 §3.3.3: attribute values are whitespace-normalised */
			ent = attr ? "&#9;" : NULL;
			break;
		case '\n':
			ent = attr ? "&#10;" : NULL;
			break;
		default:
			e = FG_ERR_INVAL; /* XML 1.0 §2.2: no other C0 control */
			continue;
		}
		if (ent == NULL) {
			p++;
			continue;
		}
		e = fg_buf_append(out, run, (size_t)(p - run));
		if (e == FG_OK)
			e = fg_buf_append_str(out, ent);
		run = ++p;
	}
	if (e == FG_OK)
		e = fg_buf_append(out, run, (size_t)(p - run));
	if (e != FG_OK)
		out->len = start;
	return e;
}

char *xlate__strndup(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

void xlate__xml_fail(struct xlate__xml *x, const char *why)
{
	if (!x->why)
		x->why = why;
	XML_StopParser(x->parser, XML_FALSE);
}

static void on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xlate__xml *x = ud;
	if (++x->depth > XLATE_MAX_XML_DEPTH) {
		xlate__xml_fail(x, "XML nested too deeply");
		return;
	}
	if (x->start_cb)
		x->start_cb(x, name, attrs);
}

static void on_end(void *ud, const XML_Char *name)
{
	struct xlate__xml *x = ud;
	x->depth--;
	if (x->end_cb)
		x->end_cb(x, name);
}

static void on_text(void *ud, const XML_Char *s, int len)
{
	struct xlate__xml *x = ud;
	if (x->text_cb)
		x->text_cb(x, s, len);
}

static void on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                       int has_internal)
{
	xlate__xml_fail(ud, "DOCTYPE not allowed");
}

static void on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                      int value_len, const XML_Char *base, const XML_Char *sysid,
                      const XML_Char *pubid, const XML_Char *notation)
{
	xlate__xml_fail(ud, "entity declaration not allowed");
}

static void on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	xlate__xml_fail(ud, "processing instruction not allowed");
}

static void on_comment(void *ud, const XML_Char *data)
{
	xlate__xml_fail(ud, "comment not allowed");
}

enum fg_err xlate__xml_run(struct xlate__xml *x, const uint8_t *xml, size_t len)
{
	if (len > XLATE_MAX_XML) {
		x->why = "XML document too large";
		return FG_ERR_TOOBIG;
	}
	x->parser = XML_ParserCreateNS("UTF-8", '|');
	if (!x->parser)
		return FG_ERR_NOMEM;
	XML_SetUserData(x->parser, x);
	XML_SetElementHandler(x->parser, on_start, on_end);
	XML_SetCharacterDataHandler(x->parser, on_text);
	XML_SetStartDoctypeDeclHandler(x->parser, on_doctype);
	XML_SetEntityDeclHandler(x->parser, on_entity);
	XML_SetProcessingInstructionHandler(x->parser, on_pi);
	XML_SetCommentHandler(x->parser, on_comment);
	enum XML_Status st = XML_Parse(x->parser, (const char *)xml, (int)len, XML_TRUE);
	enum fg_err e = FG_OK;
	if (st != XML_STATUS_OK || x->why) {
		if (!x->why)
			x->why = XML_ErrorString(XML_GetErrorCode(x->parser));
		e = FG_ERR_PARSE;
	}
	XML_ParserFree(x->parser);
	x->parser = NULL;
	return e;
}
