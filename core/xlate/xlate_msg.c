/* xlate: SIP MESSAGE <-> XMPP chat message conversion (RFC 7572, CPIM RFC 3862; text/html as
 * XHTML-IM, RFC 7572 §7 and XEP-0071). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xlate/xlate_internal.h"

#define CPIM_MAX_HEADERS 64 /* RFC 3862 messages carry a handful of headers */
#define CPIM_MAX_PARAMS  8  /* RFC 3862 §3.6 header parameters: lang and rare extensions */

void xlate_im_clear(struct xlate_im *im)
{
	if (!im)
		return;
	free(im->body);
	free(im->subject);
	free(im->thread);
	free(im->lang);
	free(im->subject_lang);
	free(im->id);
	free(im->html);
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

bool xlate_media_type_is(const char *content_type, size_t len, const char *want)
{
	bool charset_ok;
	return content_type != NULL && media_is(content_type, len, want, &charset_ok);
}

/* Checks a message body: size cap, UTF-8, no NUL (RFC 7572 §5: the body is text). */
static enum fg_err body_check(const uint8_t *body, size_t len, const char **why)
{
	if (len > XLATE_MAX_BODY) {
		set_why(why, "message body too large");
		return FG_ERR_TOOBIG;
	}
	if (!xlate__utf8_valid(body, len) || memchr(body, '\0', len)) {
		set_why(why, "message body is not valid UTF-8 text");
		return FG_ERR_PARSE;
	}
	return FG_OK;
}

/* What RFC 7572 maps out of a SIP MESSAGE, as byte ranges borrowed from its body (CPIM
 * headers) or headers; p == NULL when absent. */
struct span {
	const char *p;
	size_t len;
};

/* RFC 3862 §3.6: Header = Header-name ":" *( ";" Parameter ) SP Header-value. Splits the
 * text after the colon into the parameters (";lang=fr;x=1", possibly empty) and the value.
 * A quoted String parameter value may hold SP and ';'. */
static bool cpim_params_split(const char *p, const char *lend, struct span *params,
                              struct span *value)
{
	*params = (struct span){p, 0};
	int count = 0;
	while (p < lend && *p == ';') {
		if (++count > CPIM_MAX_PARAMS)
			return false;
		p++;
		bool quoted = false;
		while (p < lend && (quoted || (*p != ';' && *p != ' '))) {
			if (*p == '\\' && quoted && p + 1 < lend)
				p++;
			else if (*p == '"')
				quoted = !quoted;
			p++;
		}
		if (quoted)
			return false;
	}
	params->len = (size_t)(p - params->p);
	p = skip_ws(p, lend);
	*value = (struct span){p, (size_t)(lend - p)};
	return true;
}

/* The value of parameter name (";name=value") in an RFC 3862 §3.6 parameter list. */
static struct span cpim_param(struct span params, const char *name)
{
	size_t nl = strlen(name);
	const char *p = params.p, *end = params.p + params.len;
	while (p < end) {
		p++; /* the ';' */
		const char *pe = p;
		bool quoted = false;
		while (pe < end && (quoted || *pe != ';')) {
			if (*pe == '"')
				quoted = !quoted;
			pe++;
		}
		if ((size_t)(pe - p) > nl && p[nl] == '=' && strncasecmp(p, name, nl) == 0)
			return (struct span){p + nl + 1, (size_t)(pe - p - nl - 1)};
		p = pe;
	}
	return (struct span){NULL, 0};
}

/* Reads one CRLF- (or LF-) terminated header block; returns the pointer after the
 * blank line, or NULL when malformed. Calls cb for each "Name:;params value". */
static const char *header_block(const char *p, const char *end,
                                bool (*cb)(void *ctx, const char *n, size_t nl, struct span params,
                                           struct span value),
                                void *ctx)
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
		struct span params, value;
		if (!cpim_params_split(colon + 1, lend, &params, &value) ||
		    !cb(ctx, p, (size_t)(colon - p), params, value))
			return NULL;
		p = le + 1;
	}
	return NULL;
}

struct im_view {
	struct span body, subject, subject_lang;
	bool html; /* body is text/html (RFC 7572 §7): converted before it is written */
};

/* The language tag of Content-Language or a CPIM ;lang= (RFC 5646 §2.1: alphanumeric
 * subtags of 1-8 characters joined by '-', the first one 2-8 letters or "x"/"i"). SIP
 * allows a list ("en, fr", RFC 3261 §20.13): the first valid tag wins; none: p == NULL. */
#define XLATE_MAX_LANG 64 /* RFC 5646 §4.4.1 asks for 35; longer tags are private use */
static bool lang_tag_ok(const char *p, size_t len)
{
	size_t sub = 0;
	bool first = true;
	if (len == 0 || len > XLATE_MAX_LANG)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '-') {
			if (sub == 0 || sub > 8)
				return false;
			sub = 0;
			first = false;
			continue;
		}
		unsigned char c = (unsigned char)p[i];
		if (!(isalpha(c) || (!first && isdigit(c))))
			return false;
		sub++;
	}
	/* a one-letter first subtag is only the "x-"/"i-" prefix of a longer tag */
	return !(len == 1 || (p[1] == '-' && tolower((unsigned char)p[0]) != 'x' &&
	                      tolower((unsigned char)p[0]) != 'i'));
}

static struct span lang_first(struct span v)
{
	const char *p = v.p, *end = v.p ? v.p + v.len : NULL;
	while (p != NULL && p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		const char *te = p;
		while (te < end && *te != ',' && *te != ' ' && *te != '\t' && *te != ';')
			te++;
		if (te > p && lang_tag_ok(p, (size_t)(te - p)))
			return (struct span){p, (size_t)(te - p)};
		while (te < end && *te != ',') /* skip ";q=..." and the rest of this entry */
			te++;
		p = te;
	}
	return (struct span){NULL, 0};
}

struct cpim_ctx {
	struct im_view *v;
	const char *ctype;
	size_t ctype_len;
};

static bool cpim_msg_hdr(void *ctx, const char *n, size_t nl, struct span params, struct span value)
{
	struct cpim_ctx *c = ctx;
	/* RFC 3862 §3.3, §3.6: "Subject:;lang=fr Objet de message"; the language is the
	 * subject's own, not the message's (that is Content-Language, RFC 7572 §8) */
	if (nl == 7 && strncasecmp(n, "Subject", 7) == 0) {
		if (c->v->subject.p)
			return true; /* first one wins; others are other languages */
		c->v->subject = value;
		c->v->subject_lang = lang_first(cpim_param(params, "lang"));
	}
	return true;
}

static bool cpim_mime_hdr(void *ctx, const char *n, size_t nl, struct span params,
                          struct span value)
{
	struct cpim_ctx *c = ctx;
	/* a MIME header (RFC 2045) has no CPIM parameters: a ';' right after the colon is
	 * part of the value */
	if (nl == 12 && strncasecmp(n, "Content-Type", 12) == 0) {
		c->ctype = params.len ? params.p : value.p;
		c->ctype_len = (size_t)(value.p + value.len - c->ctype);
	}
	return true;
}

/* The media type decision and the CPIM wrapper (RFC 3862): fills v with borrowed ranges.
 * The body is not checked yet. */
static enum fg_err im_view_parse(const char *content_type, size_t ct_len, const uint8_t *body,
                                 size_t len, struct im_view *v, const char **why)
{
	bool charset_ok;
	memset(v, 0, sizeof(*v));
	bool plain = media_is(content_type, ct_len, "text/plain", &charset_ok);
	/* RFC 7572 §7: an IM-aware gateway SHOULD take text/html and make it XHTML-IM */
	bool html = !plain && media_is(content_type, ct_len, "text/html", &charset_ok);
	if (plain || html) {
		if (!charset_ok) {
			set_why(why, "charset other than UTF-8");
			return FG_ERR_VERSION;
		}
		if (len > XLATE_MAX_BODY) {
			set_why(why, "message body too large");
			return FG_ERR_TOOBIG;
		}
		v->body = (struct span){(const char *)body, len};
		v->html = html;
		return FG_OK;
	}
	if (!media_is(content_type, ct_len, "message/cpim", &charset_ok)) {
		set_why(why, "content type is neither text/plain, text/html nor message/cpim");
		return FG_ERR_VERSION;
	}
	struct cpim_ctx c = {.v = v};
	const char *p = (const char *)body, *end = p + len;
	if (len > XLATE_MAX_BODY) {
		set_why(why, "message body too large");
		return FG_ERR_TOOBIG;
	}
	p = header_block(p, end, cpim_msg_hdr, &c);
	if (p)
		p = header_block(p, end, cpim_mime_hdr, &c);
	if (!p) {
		set_why(why, "malformed message/cpim");
		return FG_ERR_PARSE;
	}
	if (c.ctype && media_is(c.ctype, c.ctype_len, "text/html", &charset_ok) && charset_ok)
		v->html = true;
	else if (!c.ctype || !media_is(c.ctype, c.ctype_len, "text/plain", &charset_ok) ||
	         !charset_ok) {
		set_why(why, "message/cpim content is not UTF-8 text/plain or text/html");
		return FG_ERR_VERSION;
	}
	v->body = (struct span){p, (size_t)(end - p)};
	return FG_OK;
}

static struct span cspan(const char *s)
{
	return (struct span){s, s ? strlen(s) : 0};
}

static enum fg_err span_dup(struct span s, char **out)
{
	if (s.p == NULL)
		return FG_OK;
	*out = xlate__strndup(s.p, s.len);
	return *out ? FG_OK : FG_ERR_NOMEM;
}

/* text/html -> the plain text and the XHTML-IM, both owned. */
static enum fg_err html_dup(struct span html, char **body, char **xhtml, const char **why)
{
	struct fg_buf t = {0}, x = {0};
	enum fg_err e = xlate_html_convert((const uint8_t *)html.p, html.len, &t, &x, why);
	if (!e) {
		*body = xlate__strndup(t.len ? (const char *)t.data : "", t.len);
		if (x.len)
			*xhtml = xlate__strndup((const char *)x.data, x.len);
		if (!*body || (x.len && !*xhtml))
			e = FG_ERR_NOMEM;
	}
	fg_buf_free(&t);
	fg_buf_free(&x);
	return e;
}

enum fg_err xlate_im_from_sip(const char *content_type, const uint8_t *body, size_t len,
                              const char *subject, const char *content_language,
                              const char *call_id, struct xlate_im *out, const char **why)
{
	struct im_view v;
	memset(out, 0, sizeof(*out));
	if (!content_type)
		/* RFC 3261 §20.15 wants a Content-Type with every body; taking text/plain when
		 * it is missing is leniency (the default of RFC 2045 §5.2) */
		content_type = "text/plain";
	enum fg_err e = im_view_parse(content_type, strlen(content_type), body, len, &v, why);
	if (e)
		return e;
	if (v.html)
		e = html_dup(v.body, &out->body, &out->html, why);
	else
		e = body_check((const uint8_t *)v.body.p, v.body.len, why);
	if (!e && !v.html)
		e = span_dup(v.body, &out->body);
	if (!e)
		e = span_dup(v.subject, &out->subject);
	if (!e)
		e = span_dup(v.subject_lang, &out->subject_lang);
	if (!e && content_language)
		e = span_dup(lang_first(cspan(content_language)), &out->lang);
	if (e)
		goto out;
	/* RFC 7572 §5: Subject -> <subject/>, Content-Language -> xml:lang, Call-ID -> <thread/> */
	if (subject && !out->subject && !(out->subject = strdup(subject)))
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
	/* im->thread is not a header here: xlate_call_id_from_thread makes the Call-ID */
	return e;
}

/* RFC 3261 §25.1: callid = word [ "@" word ], word = 1*(alphanum / "-" / "." / "!" / "%" /
 * "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" /
 * "[" / "]" / "?" / "{" / "}"). */
static bool callid_word_char(unsigned char c)
{
	return isalnum(c) || (c && strchr("-.!%*_+`'~()<>:\\\"/[]?{}", c) != NULL);
}

bool xlate_call_id_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (len == 0 || at == s || (at && at == s + len - 1))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s + i != at && !callid_word_char((unsigned char)s[i]))
			return false;
	return true;
}

enum fg_err xlate_call_id_from_thread(const char *thread, size_t len, const char *host, char *out,
                                      size_t outsize, bool *derived)
{
	*derived = false;
	if (len <= XLATE_MAX_THREAD_CALL_ID && xlate_call_id_valid(thread, len)) {
		if (len + 1 > outsize)
			return FG_ERR_TOOBIG;
		memcpy(out, thread, len);
		out[len] = '\0';
		return FG_OK;
	}
	/* the same thread always gives the same Call-ID, so a conversation keeps one */
	/* FNV-1a from two starts: the 128 bits of a derived Call-ID */
	uint64_t h1 = fg_fnv1a64(FG_FNV64_INIT, thread, len);
	uint64_t h2 = fg_fnv1a64(0x84222325cbf29ce4ull, thread, len);
	int n = snprintf(out, outsize, "%s%016llx%016llx@%s", XLATE_THREAD_CALL_ID_PREFIX,
	                 (unsigned long long)h1, (unsigned long long)h2, host);
	if (n < 0 || (size_t)n >= outsize || !xlate_call_id_valid(out, (size_t)n))
		return FG_ERR_TOOBIG;
	*derived = true;
	return FG_OK;
}

/* Literal markup of known length (no printf, no strlen). */
#define PUT_LIT(out, lit) fg_buf_append((out), (lit), sizeof(lit) - 1)

/* The stanza of RFC 7572 §5 (<message> with from, to, id, xml:lang, then <subject/>,
 * <body/>, <thread/>), every value escaped in the same pass that checks it. chat: the
 * MESSAGE came inside an IM session (RFC 7573 maps those to type='chat'); a pager-mode
 * MESSAGE MUST get no type or 'normal' (RFC 7572 §5): no type is the shorter. */
struct im_xml {
	struct span from, to, id, lang, subject, subject_lang, body, thread;
	struct span html; /* the XHTML-IM element, markup written as it is (XEP-0071) */
	bool chat;
};

static enum fg_err put_attr(struct fg_buf *out, const char *lit, size_t lit_len, struct span v)
{
	if (v.p == NULL)
		return FG_OK;
	enum fg_err e = fg_buf_append(out, lit, lit_len);
	if (!e)
		e = xmpp_escape(out, v.p, v.len, true);
	if (!e)
		e = PUT_LIT(out, "'");
	return e;
}

static enum fg_err put_elem(struct fg_buf *out, const char *open, size_t open_len,
                            const char *close, size_t close_len, struct span v)
{
	if (v.p == NULL)
		return FG_OK;
	enum fg_err e = fg_buf_append(out, open, open_len);
	if (!e)
		e = xmpp_escape(out, v.p, v.len, false);
	if (!e)
		e = fg_buf_append(out, close, close_len);
	return e;
}

#define ATTR(out, lit, v) put_attr((out), lit, sizeof(lit) - 1, (v))
#define ELEM(out, name, v)                                                                         \
	put_elem((out), "<" name ">", sizeof(name) + 1, "</" name ">", sizeof(name) + 2, (v))

/* body_bad: the body failed the XML check (it is not UTF-8 text: FG_ERR_PARSE). */
static enum fg_err im_xml_write(const struct im_xml *x, struct fg_buf *out, bool *body_bad)
{
	size_t start = out->len;
	/* one allocation for the usual stanza: the markup is ~120 bytes */
	enum fg_err e = fg_buf_reserve(out, 180 + x->from.len + x->to.len + x->id.len +
	                                        x->lang.len + x->subject.len + x->subject_lang.len +
	                                        x->body.len + x->thread.len + x->html.len);
	if (!e)
		e = x->chat ? PUT_LIT(out, "<message type='chat'") : PUT_LIT(out, "<message");
	if (!e)
		e = ATTR(out, " from='", x->from);
	if (!e)
		e = ATTR(out, " to='", x->to);
	if (!e)
		e = ATTR(out, " id='", x->id);
	if (!e)
		e = ATTR(out, " xml:lang='", x->lang);
	if (!e)
		e = PUT_LIT(out, ">");
	if (!e && x->subject.p && x->subject_lang.p &&
	    (x->lang.p == NULL || x->subject_lang.len != x->lang.len ||
	     strncasecmp(x->subject_lang.p, x->lang.p, x->lang.len) != 0)) {
		/* RFC 6121 §5.2.4: a subject in a language other than the stanza's says so */
		e = ATTR(out, "<subject xml:lang='", x->subject_lang);
		if (!e)
			e = put_elem(out, ">", 1, "</subject>", 10, x->subject);
	} else if (!e) {
		e = ELEM(out, "subject", x->subject);
	}
	if (!e) {
		e = ELEM(out, "body", x->body);
		if (e == FG_ERR_INVAL)
			*body_bad = true;
	}
	if (!e && x->html.p)
		e = fg_buf_append(out, x->html.p, x->html.len); /* XEP-0071: after <body/> */
	if (!e)
		e = ELEM(out, "thread", x->thread);
	if (!e)
		e = PUT_LIT(out, "</message>");
	if (e)
		out->len = start;
	return e;
}

enum fg_err xlate_im_to_xml(const struct xlate_im *im, const char *from, const char *to,
                            struct fg_buf *out)
{
	struct im_xml x = {.from = cspan(from),
	                   .to = cspan(to),
	                   .id = cspan(im->id),
	                   .lang = cspan(im->lang),
	                   .subject = cspan(im->subject),
	                   .subject_lang = cspan(im->subject_lang),
	                   .body = cspan(im->body),
	                   .thread = cspan(im->thread),
	                   .html = cspan(im->html),
	                   .chat = im->chat};
	bool body_bad = false;
	return im_xml_write(&x, out, &body_bad);
}

/* A header value: up to len bytes or its first NUL, as the C string APIs above read it. */
static struct span hspan(const char *p, size_t len)
{
	return (struct span){p, p ? strnlen(p, len) : 0};
}

enum fg_err xlate_im_sip_to_xml(const struct xlate_im_sip *in, const char *from, size_t from_len,
                                const char *to, size_t to_len, const char *id, struct fg_buf *out,
                                const char **why)
{
	struct im_view v;
	struct span ct = in->content_type ? hspan(in->content_type, in->content_type_len)
	                                  : cspan("text/plain"); /* RFC 2045 §5.2, leniency */
	enum fg_err e = im_view_parse(ct.p, ct.len, in->body, in->body_len, &v, why);
	if (e)
		return e;
	struct fg_buf text = {0}, xhtml = {0};
	if (v.html) {
		/* RFC 7572 §7: <body/> gets the plain text, <html/> the XHTML-IM (XEP-0071) */
		e = xlate_html_convert((const uint8_t *)v.body.p, v.body.len, &text, &xhtml, why);
		if (e) {
			fg_buf_free(&text);
			fg_buf_free(&xhtml);
			return e;
		}
		v.body = (struct span){text.len ? (const char *)text.data : "", text.len};
	}
	/* RFC 7572 §5: Subject -> <subject/>, Content-Language -> xml:lang (its first valid
	 * tag), Call-ID -> <thread/>; a CPIM Subject (with its own ;lang) comes first */
	struct im_xml x = {.from = {from, from_len},
	                   .to = {to, to_len},
	                   .id = cspan(id),
	                   .lang =
	                       lang_first(hspan(in->content_language, in->content_language_len)),
	                   .subject = v.subject.p ? v.subject : hspan(in->subject, in->subject_len),
	                   .subject_lang = v.subject.p ? v.subject_lang : (struct span){NULL, 0},
	                   .body = v.body,
	                   .thread = hspan(in->call_id, in->call_id_len),
	                   .html = {xhtml.len ? (const char *)xhtml.data : NULL, xhtml.len},
	                   .chat = in->chat};
	bool body_bad = false; /* a NUL or a non-UTF-8 byte: the body's one pass finds both */
	e = im_xml_write(&x, out, &body_bad);
	if (v.html) {
		fg_buf_free(&text);
		fg_buf_free(&xhtml);
	}
	if (body_bad) {
		set_why(why, "message body is not valid UTF-8 text");
		return FG_ERR_PARSE;
	}
	if (e == FG_ERR_INVAL)
		set_why(why, "a header is not UTF-8 text XML can carry");
	return e == FG_ERR_INVAL ? FG_ERR_PARSE : e;
}
