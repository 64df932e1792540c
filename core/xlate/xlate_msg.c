/* xlate: SIP MESSAGE <-> XMPP chat message conversion (RFC 7572, CPIM RFC 3862). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xlate/xlate_internal.h"

#define CPIM_MAX_HEADERS 64 /* RFC 3862 messages carry a handful of headers */

void xlate_im_clear(struct xlate_im *im)
{
	if (!im)
		return;
	free(im->body);
	free(im->subject);
	free(im->thread);
	free(im->lang);
	free(im->id);
	memset(im, 0, sizeof(*im));
}

static void set_why(const char **why, const char *s)
{
	if (why)
		*why = s;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* Checks a Content-Type value: type/subtype must match, charset absent or UTF-8/ASCII. */
static bool media_is(const char *ct, size_t len, const char *want, bool *charset_ok)
{
	const char *end = ct + len, *p = skip_ws(ct, end);
	size_t wl = strlen(want);
	*charset_ok = true;
	if ((size_t)(end - p) < wl || strncasecmp(p, want, wl) != 0)
		return false;
	p += wl;
	p = skip_ws(p, end);
	if (p < end && *p != ';')
		return false;
	while (p < end && *p == ';') {
		p = skip_ws(p + 1, end);
		const char *ne = p;
		while (ne < end && *ne != '=' && *ne != ';')
			ne++;
		const char *n_end = ne;
		while (n_end > p && (n_end[-1] == ' ' || n_end[-1] == '\t'))
			n_end--;
		const char *v = ne < end && *ne == '=' ? skip_ws(ne + 1, end) : ne;
		const char *ve = v;
		while (ve < end && *ve != ';')
			ve++;
		const char *v_end = ve;
		while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
			v_end--;
		if ((size_t)(n_end - p) == 7 && strncasecmp(p, "charset", 7) == 0) {
			const char *cv = v;
			size_t cl = (size_t)(v_end - v);
			if (cl >= 2 && cv[0] == '"' && cv[cl - 1] == '"') {
				cv++;
				cl -= 2;
			}
			*charset_ok = (cl == 5 && strncasecmp(cv, "utf-8", 5) == 0) ||
			              (cl == 8 && strncasecmp(cv, "us-ascii", 8) == 0);
		}
		p = ve;
	}
	return true;
}

static enum fg_err text_body(const uint8_t *body, size_t len, char **out, const char **why)
{
	if (len > XLATE_MAX_BODY) {
		set_why(why, "message body too large");
		return FG_ERR_TOOBIG;
	}
	if (!xlate__utf8_valid(body, len) || memchr(body, '\0', len)) {
		set_why(why, "message body is not valid UTF-8 text");
		return FG_ERR_PARSE;
	}
	*out = xlate__strndup((const char *)body, len);
	return *out ? FG_OK : FG_ERR_NOMEM;
}

/* Reads one CRLF- (or LF-) terminated header block; returns the pointer after the
 * blank line, or NULL when malformed. Calls cb for each "Name: value". */
static const char *
header_block(const char *p, const char *end,
             bool (*cb)(void *ctx, const char *n, size_t nl, const char *v, size_t vl), void *ctx)
{
	int count = 0;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		if (!le)
			return NULL;
		const char *lend = le > p && le[-1] == '\r' ? le - 1 : le;
		if (lend == p)
			return le + 1; /* blank line */
		if (++count > CPIM_MAX_HEADERS)
			return NULL;
		const char *colon = memchr(p, ':', (size_t)(lend - p));
		if (!colon || colon == p)
			return NULL;
		const char *v = skip_ws(colon + 1, lend);
		if (!cb(ctx, p, (size_t)(colon - p), v, (size_t)(lend - v)))
			return NULL;
		p = le + 1;
	}
	return NULL;
}

struct cpim_ctx {
	struct xlate_im *im;
	const char *ctype;
	size_t ctype_len;
	bool oom;
};

static bool cpim_msg_hdr(void *ctx, const char *n, size_t nl, const char *v, size_t vl)
{
	struct cpim_ctx *c = ctx;
	/* RFC 3862 §3.2: "Subject" possibly with ;lang=xx parameter */
	if (nl >= 7 && strncasecmp(n, "Subject", 7) == 0 && (nl == 7 || n[7] == ';')) {
		if (c->im->subject)
			return true; /* first one wins; others are other languages */
		c->im->subject = xlate__strndup(v, vl);
		if (!c->im->subject)
			c->oom = true;
		const char *lang = nl > 7 ? strstr(n, ";lang=") : NULL;
		if (lang && lang < n + nl && !c->im->lang) {
			c->im->lang = xlate__strndup(lang + 6, (size_t)(n + nl - lang - 6));
			if (!c->im->lang)
				c->oom = true;
		}
	}
	return true;
}

static bool cpim_mime_hdr(void *ctx, const char *n, size_t nl, const char *v, size_t vl)
{
	struct cpim_ctx *c = ctx;
	if (nl == 12 && strncasecmp(n, "Content-Type", 12) == 0) {
		c->ctype = v;
		c->ctype_len = vl;
	}
	return true;
}

enum fg_err xlate_im_from_sip(const char *content_type, const uint8_t *body, size_t len,
                              const char *subject, const char *content_language,
                              const char *call_id, struct xlate_im *out, const char **why)
{
	enum fg_err e = FG_OK;
	bool charset_ok;
	memset(out, 0, sizeof(*out));
	if (!content_type)
		content_type = "text/plain"; /* RFC 3261 §20.15 default for a bodied MESSAGE */
	if (media_is(content_type, strlen(content_type), "text/plain", &charset_ok)) {
		if (!charset_ok) {
			set_why(why, "charset other than UTF-8");
			return FG_ERR_VERSION;
		}
		e = text_body(body, len, &out->body, why);
	} else if (media_is(content_type, strlen(content_type), "message/cpim", &charset_ok)) {
		struct cpim_ctx c = {.im = out};
		const char *p = (const char *)body, *end = p + len;
		if (len > XLATE_MAX_BODY) {
			set_why(why, "message body too large");
			return FG_ERR_TOOBIG;
		}
		p = header_block(p, end, cpim_msg_hdr, &c);
		if (p)
			p = header_block(p, end, cpim_mime_hdr, &c);
		if (c.oom) {
			e = FG_ERR_NOMEM;
			goto out;
		}
		if (!p) {
			set_why(why, "malformed message/cpim");
			e = FG_ERR_PARSE;
			goto out;
		}
		if (!c.ctype || !media_is(c.ctype, c.ctype_len, "text/plain", &charset_ok) ||
		    !charset_ok) {
			set_why(why, "message/cpim content is not UTF-8 text/plain");
			e = FG_ERR_VERSION;
			goto out;
		}
		e = text_body((const uint8_t *)p, (size_t)(end - p), &out->body, why);
	} else {
		set_why(why, "content type is neither text/plain nor message/cpim");
		return FG_ERR_VERSION;
	}
	if (e)
		goto out;
	/* RFC 7572 §5: Subject -> <subject/>, Content-Language -> xml:lang, Call-ID -> <thread/> */
	if (subject && !out->subject && !(out->subject = strdup(subject)))
		e = FG_ERR_NOMEM;
	if (!e && content_language && !out->lang && !(out->lang = strdup(content_language)))
		e = FG_ERR_NOMEM;
	if (!e && call_id && !(out->thread = strdup(call_id)))
		e = FG_ERR_NOMEM;
	if (!e && ((out->subject &&
	            !xlate__utf8_valid((const uint8_t *)out->subject, strlen(out->subject))))) {
		set_why(why, "subject is not UTF-8");
		e = FG_ERR_PARSE;
	}
out:
	if (e)
		xlate_im_clear(out);
	return e;
}

static bool header_safe(const char *s)
{
	return !strpbrk(s, "\r\n");
}

enum fg_err xlate_im_to_sip(const struct xlate_im *im, struct fg_buf *body,
                            struct fg_buf *extra_headers, const char **content_type)
{
	enum fg_err e = FG_OK;
	*content_type = "text/plain;charset=UTF-8";
	if (im->body) {
		size_t n = strlen(im->body);
		if (n > XLATE_MAX_BODY)
			return FG_ERR_TOOBIG;
		if (!xlate__utf8_valid((const uint8_t *)im->body, n))
			return FG_ERR_PARSE;
		e = fg_buf_append(body, im->body, n);
	}
	/* Header injection guard: an XMPP subject with a line break must not end a header.
	 * RFC 7572 keeps the subject; fold line breaks to spaces. */
	if (!e && im->subject) {
		e = fg_buf_append_str(extra_headers, "Subject: ");
		for (const char *c = im->subject; *c && !e; c++)
			e = fg_buf_append(extra_headers, (*c == '\r' || *c == '\n') ? " " : c, 1);
		if (!e)
			e = fg_buf_append_str(extra_headers, "\r\n");
	}
	if (!e && im->lang) {
		for (const char *c = im->lang; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '-')
				return FG_ERR_INVAL; /* RFC 5646 tags are alphanumerics and '-' */
		e = fg_buf_printf(extra_headers, "Content-Language: %s\r\n", im->lang);
	}
	if (!e && im->thread && !header_safe(im->thread))
		return FG_ERR_INVAL;
	return e;
}

static enum fg_err attr(struct fg_buf *out, const char *name, const char *v)
{
	enum fg_err e = fg_buf_printf(out, " %s='", name);
	if (!e)
		e = xlate__xml_escape(out, v, strlen(v));
	if (!e)
		e = fg_buf_append_str(out, "'");
	return e;
}

static enum fg_err elem(struct fg_buf *out, const char *name, const char *v)
{
	enum fg_err e = fg_buf_printf(out, "<%s>", name);
	if (!e)
		e = xlate__xml_escape(out, v, strlen(v));
	if (!e)
		e = fg_buf_printf(out, "</%s>", name);
	return e;
}

enum fg_err xlate_im_to_xml(const struct xlate_im *im, const char *from, const char *to,
                            struct fg_buf *out)
{
	size_t start = out->len;
	enum fg_err e = fg_buf_append_str(out, "<message type='chat'");
	if (!e)
		e = attr(out, "from", from);
	if (!e)
		e = attr(out, "to", to);
	if (!e && im->id)
		e = attr(out, "id", im->id);
	if (!e && im->lang)
		e = attr(out, "xml:lang", im->lang);
	if (!e)
		e = fg_buf_append_str(out, ">");
	if (!e && im->subject)
		e = elem(out, "subject", im->subject);
	if (!e && im->body)
		e = elem(out, "body", im->body);
	if (!e && im->thread)
		e = elem(out, "thread", im->thread);
	if (!e)
		e = fg_buf_append_str(out, "</message>");
	if (e)
		out->len = start;
	return e;
}
