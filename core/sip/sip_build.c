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

enum fg_err sip_build_response(struct fg_buf *out, const struct sip_msg *req, unsigned status,
                               const char *reason, const char *to_tag, const char *extra_headers,
                               const char *content_type, const uint8_t *body, size_t body_len)
{
	if (!req->is_request || status < 100 || status > 699 || !safe_opt(reason) ||
	    !safe_opt(to_tag) || !safe_lines(extra_headers) || !safe_opt(content_type) ||
	    (body_len && !body) || body_len > SIP_MAX_BODY)
		return FG_ERR_INVAL;
	enum fg_err e = fg_buf_printf(out, "SIP/2.0 %u %s\r\n", status,
	                              reason ? reason : sip_reason_phrase(status));
	/* RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID and CSeq copied; To copied
	 * with a tag added unless present or the response is 100 (Trying). */
	const struct sip_header *h;
	for (size_t i = 0; !e && (h = sip_msg_header(req, "Via", i)) != NULL; i++)
		e = sip__append_hdr(out, "Via", h->value, NULL);
	h = sip_msg_header(req, "From", 0);
	if (!e && h)
		e = sip__append_hdr(out, "From", h->value, NULL);
	h = sip_msg_header(req, "To", 0);
	if (!e && h) {
		bool add = !req->to.tag.p && status > 100 && to_tag;
		char tag[160];
		if (add && snprintf(tag, sizeof(tag), ";tag=%s", to_tag) >= (int)sizeof(tag))
			return FG_ERR_INVAL;
		e = sip__append_hdr(out, "To", h->value, add ? tag : NULL);
	}
	if (!e)
		e = sip__append_hdr(out, "Call-ID", req->call_id, NULL);
	if (!e)
		e = fg_buf_printf(out, "CSeq: %u ", (unsigned)req->cseq);
	if (!e)
		e = fg_buf_append(out, req->cseq_method.p, req->cseq_method.len);
	if (!e)
		e = fg_buf_append_str(out, "\r\n");
	if (!e)
		e = body_part(out, extra_headers, content_type, body, body_len);
	return e;
}
