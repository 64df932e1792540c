/* sip: request and response builder (RFC 3261 §8.1.1, §8.2.6, §20). */
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

/* Pieces of a message, copied into one reservation: no formatting pass. */
#define PIECES_MAX 40
struct pieces {
	struct sip_str s[PIECES_MAX];
	size_t n;
};

static void pc_add(struct pieces *pc, const char *p, size_t len)
{
	/* Invariant: the builder below adds at most PIECES_MAX pieces. */
	FG_INVARIANT(pc->n < PIECES_MAX);
	pc->s[pc->n++] = (struct sip_str){p, len};
}
#define PC_LIT(pc, lit) pc_add((pc), (lit), sizeof(lit) - 1)
#define PC_STR(pc, str) pc_add((pc), (str), strlen(str))

static enum fg_err pc_write(struct fg_buf *out, const struct pieces *pc)
{
	size_t need = 0;
	for (size_t i = 0; i < pc->n; i++)
		need += pc->s[i].len;
	enum fg_err e = fg_buf_reserve(out, need);
	if (e)
		return e;
	char *at = (char *)out->data + out->len;
	for (size_t i = 0; i < pc->n; i++)
		at = put(at, pc->s[i].p, pc->s[i].len);
	out->len += need;
	return FG_OK;
}

#define SIP_STR_(x) #x
#define SIP_STR(x)  SIP_STR_(x)

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
	struct pieces pc = {.n = 0};
	PC_STR(&pc, s->method);
	PC_LIT(&pc, " ");
	PC_STR(&pc, s->ruri);
	PC_LIT(&pc, " SIP/2.0\r\nVia: SIP/2.0/");
	PC_STR(&pc, s->via_transport);
	PC_LIT(&pc, " ");
	PC_STR(&pc, s->via_sent_by);
	/* RFC 3261 §8.1.1.7: the branch starts with the magic cookie z9hG4bK. */
	PC_LIT(&pc, ";branch=" SIP_BRANCH_COOKIE);
	PC_STR(&pc, s->branch_random);
	PC_LIT(&pc, "\r\nMax-Forwards: " SIP_STR(SIP_MAX_FORWARDS_DEFAULT) "\r\n");
	e = pc_write(out, &pc);
	for (size_t i = 0; !e && i < s->nroutes; i++) {
		pc.n = 0;
		PC_LIT(&pc, "Route: ");
		PC_STR(&pc, s->routes[i]);
		PC_LIT(&pc, "\r\n");
		e = pc_write(out, &pc);
	}
	if (e)
		return e;
	char cseq[11], clen[21];
	pc.n = 0;
	PC_LIT(&pc, "From: ");
	PC_STR(&pc, s->from);
	PC_LIT(&pc, ";tag=");
	PC_STR(&pc, s->from_tag);
	PC_LIT(&pc, "\r\nTo: ");
	PC_STR(&pc, s->to);
	if (s->to_tag) {
		PC_LIT(&pc, ";tag=");
		PC_STR(&pc, s->to_tag);
	}
	PC_LIT(&pc, "\r\nCall-ID: ");
	PC_STR(&pc, s->call_id);
	PC_LIT(&pc, "\r\nCSeq: ");
	pc_add(&pc, cseq, put_u64(cseq, s->cseq));
	PC_LIT(&pc, " ");
	PC_STR(&pc, s->method);
	PC_LIT(&pc, "\r\n");
	if (s->contact) {
		PC_LIT(&pc, "Contact: ");
		PC_STR(&pc, s->contact);
		PC_LIT(&pc, "\r\n");
	}
	if (s->extra_headers)
		PC_STR(&pc, s->extra_headers);
	if (s->content_type && s->body_len) {
		PC_LIT(&pc, "Content-Type: ");
		PC_STR(&pc, s->content_type);
		PC_LIT(&pc, "\r\n");
	}
	PC_LIT(&pc, "Content-Length: ");
	pc_add(&pc, clen, put_u64(clen, s->body_len));
	PC_LIT(&pc, "\r\n\r\n");
	pc_add(&pc, (const char *)s->body, s->body_len);
	return pc_write(out, &pc);
}

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
