/* sip: request and response builder (RFC 3261 §8.1.1, §8.2.6, §20). */
#include <stdio.h>
#include <string.h>

#include "sip/sip_internal.h"

/* A field that would break a header line (CR, LF, NUL) is header injection: refuse it. */
static bool safe(const char *s)
{
	return s && strpbrk(s, "\r\n") == NULL;
}

static bool safe_opt(const char *s)
{
	return !s || safe(s);
}

/* extra_headers must be whole "Name: value\r\n" lines. */
static bool safe_lines(const char *s)
{
	if (!s || !*s)
		return true;
	size_t n = strlen(s);
	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((s[i] == '\r' && s[i + 1] != '\n') ||
		    (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')))
			return false;
	return strstr(s, "\r\n\r\n") == NULL;
}

static enum fg_err body_part(struct fg_buf *out, const char *extra, const char *ctype,
                             const uint8_t *body, size_t body_len)
{
	enum fg_err e = FG_OK;
	if (extra)
		e = fg_buf_append_str(out, extra);
	if (!e && ctype && body_len)
		e = fg_buf_printf(out, "Content-Type: %s\r\n", ctype);
	if (!e)
		e = fg_buf_printf(out, "Content-Length: %zu\r\n\r\n", body_len);
	if (!e && body_len)
		e = fg_buf_append(out, body, body_len);
	return e;
}

enum fg_err sip_build_request(struct fg_buf *out, const struct sip_request_spec *s)
{
	enum fg_err e;
	if (!safe(s->method) || !safe(s->ruri) || !safe(s->via_transport) ||
	    !safe(s->via_sent_by) || !safe(s->branch_random) || !safe(s->from) ||
	    !safe(s->from_tag) || !safe(s->to) || !safe_opt(s->to_tag) || !safe(s->call_id) ||
	    !safe_opt(s->contact) || !safe_opt(s->content_type) || !safe_lines(s->extra_headers) ||
	    s->cseq > 0x7fffffffu || (s->body_len && !s->body) || s->body_len > SIP_MAX_BODY)
		return FG_ERR_INVAL;
	for (size_t i = 0; i < s->nroutes; i++)
		if (!safe(s->routes[i]))
			return FG_ERR_INVAL;
	for (const char *c = s->method; *c; c++)
		if (!sip__is_token((unsigned char)*c))
			return FG_ERR_INVAL;
	/* RFC 3261 §8.1.1.7: the branch starts with the magic cookie z9hG4bK. */
	e = fg_buf_printf(out,
	                  "%s %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=" SIP_BRANCH_COOKIE
	                  "%s\r\nMax-Forwards: %d\r\n",
	                  s->method, s->ruri, s->via_transport, s->via_sent_by, s->branch_random,
	                  SIP_MAX_FORWARDS_DEFAULT);
	for (size_t i = 0; !e && i < s->nroutes; i++)
		e = fg_buf_printf(out, "Route: %s\r\n", s->routes[i]);
	if (!e)
		e = fg_buf_printf(
		    out, "From: %s;tag=%s\r\nTo: %s%s%s\r\nCall-ID: %s\r\nCSeq: %u %s\r\n", s->from,
		    s->from_tag, s->to, s->to_tag ? ";tag=" : "", s->to_tag ? s->to_tag : "",
		    s->call_id, (unsigned)s->cseq, s->method);
	if (!e && s->contact)
		e = fg_buf_printf(out, "Contact: %s\r\n", s->contact);
	if (!e)
		e = body_part(out, s->extra_headers, s->content_type, s->body, s->body_len);
	return e;
}

/* Writes the decimal digits of v at p; returns how many (at most 20). */
static size_t put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* Appends into room reserved beforehand (no check: the caller counted). */
static char *put(char *at, const void *p, size_t n)
{
	if (n != 0)
		memcpy(at, p, n);
	return at + n;
}
#define PUT_LIT(at, lit) put((at), (lit), sizeof(lit) - 1)

enum fg_err sip_build_response(struct fg_buf *out, const struct sip_msg *req, unsigned status,
                               const char *reason, const char *to_tag, const char *extra_headers,
                               const char *content_type, const uint8_t *body, size_t body_len)
{
	if (!req->is_request || status < 100 || status > 699 || !safe_opt(reason) ||
	    !safe_opt(to_tag) || !safe_lines(extra_headers) || !safe_opt(content_type) ||
	    (body_len && !body) || body_len > SIP_MAX_BODY)
		return FG_ERR_INVAL;
	if (reason == NULL)
		reason = sip_reason_phrase(status);
	/* RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID and CSeq copied; To copied
	 * with a tag added unless present or the response is 100 (Trying). The bytes are
	 * counted first and copied into one reservation: no formatting pass. */
	const struct sip_header *from = sip__msg_known(req, SIP__H_FROM, 0);
	const struct sip_header *to = sip__msg_known(req, SIP__H_TO, 0);
	bool add_tag = to != NULL && !req->to.tag.p && status > 100 && to_tag;
	size_t reason_len = strlen(reason), tag_len = add_tag ? strlen(to_tag) : 0;
	size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
	size_t ctype_len = content_type && body_len ? strlen(content_type) : 0;
	if (add_tag && tag_len + 5 >= 160)
		return FG_ERR_INVAL; /* as long as the tag buffer this replaced allowed */
	size_t need = 8 + 3 + 1 + reason_len + 2;
	const struct sip_header *h;
	for (size_t i = 0; (h = sip__msg_known(req, SIP__H_VIA, i)) != NULL; i++)
		need += 5 + h->value.len + 2;
	if (from != NULL)
		need += 6 + from->value.len + 2;
	if (to != NULL)
		need += 4 + to->value.len + (add_tag ? 5 + tag_len : 0) + 2;
	need += 9 + req->call_id.len + 2;
	need += 6 + 10 + 1 + req->cseq_method.len + 2;
	need += extra_len;
	if (ctype_len)
		need += 14 + ctype_len + 2;
	need += 16 + 20 + 4 + body_len;
	enum fg_err e = fg_buf_reserve(out, need);
	if (e)
		return e;
	char *start = (char *)out->data + out->len, *at = start;
	at = PUT_LIT(at, "SIP/2.0 ");
	at += put_u64(at, status);
	*at++ = ' ';
	at = put(at, reason, reason_len);
	at = PUT_LIT(at, "\r\n");
	for (size_t i = 0; (h = sip__msg_known(req, SIP__H_VIA, i)) != NULL; i++) {
		at = PUT_LIT(at, "Via: ");
		at = put(at, h->value.p, h->value.len);
		at = PUT_LIT(at, "\r\n");
	}
	if (from != NULL) {
		at = PUT_LIT(at, "From: ");
		at = put(at, from->value.p, from->value.len);
		at = PUT_LIT(at, "\r\n");
	}
	if (to != NULL) {
		at = PUT_LIT(at, "To: ");
		at = put(at, to->value.p, to->value.len);
		if (add_tag) {
			at = PUT_LIT(at, ";tag=");
			at = put(at, to_tag, tag_len);
		}
		at = PUT_LIT(at, "\r\n");
	}
	at = PUT_LIT(at, "Call-ID: ");
	at = put(at, req->call_id.p, req->call_id.len);
	at = PUT_LIT(at, "\r\nCSeq: ");
	at += put_u64(at, req->cseq);
	*at++ = ' ';
	at = put(at, req->cseq_method.p, req->cseq_method.len);
	at = PUT_LIT(at, "\r\n");
	at = put(at, extra_headers, extra_len);
	if (ctype_len) {
		at = PUT_LIT(at, "Content-Type: ");
		at = put(at, content_type, ctype_len);
		at = PUT_LIT(at, "\r\n");
	}
	at = PUT_LIT(at, "Content-Length: ");
	at += put_u64(at, body_len);
	at = PUT_LIT(at, "\r\n\r\n");
	at = put(at, body, body_len);
	out->len += (size_t)(at - start);
	return FG_OK;
}
