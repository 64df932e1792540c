/* xlate: UTF-8 validation and the restricted expat wrapper (RFC 6120 §11.1 rules). */
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
