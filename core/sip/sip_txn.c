/* sip: client and server transaction state machines and matching (RFC 3261 §17). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_internal.h"

#define NEVER INT64_MAX

enum { TM_RETX = 0, TM_TIMEOUT, TM_WAIT, TM__COUNT };

/* Matching keys of the usual size are kept in the transaction's own block. */
#define SKEYS_INLINE 448

struct sip_txn {
	enum sip_txn_kind kind;
	enum sip_txn_state state;
	bool reliable;
	enum sip_method method;
	struct sip_msg *req;     /* client: the request (parsed copy) */
	struct skeys *keys;      /* server: what matching a request needs (§17.2.3) */
	struct fg_buf req_bytes; /* client: request as sent */
	struct fg_buf last;      /* server: last response sent; INVITE client: the ACK */
	int64_t due[TM__COUNT];
	int64_t retx_interval;
	struct sip_txn *next_free; /* in txn_cache while unused */
	_Alignas(max_align_t) unsigned char keys_inline[SKEYS_INLINE];
};

/* A server transaction's matching keys (RFC 3261 §17.2.3), copied into one block: the
 * strings follow the struct. */
struct skeys {
	struct sip_str method, branch, host, ruri, from_tag, to_tag, call_id;
	enum sip_method method_id;
	uint32_t cseq;
	uint16_t port;
};

static struct skeys *skeys_new(struct sip_txn *t, const struct sip_msg *req)
{
	const struct sip_via *v = &req->vias[0];
	struct sip_str src[7] = {req->method,   v->branch,   v->host,     req->ruri.text,
	                         req->from.tag, req->to.tag, req->call_id};
	size_t total = sizeof(struct skeys);
	for (size_t i = 0; i < 7; i++)
		total += src[i].p != NULL ? src[i].len : 0;
	struct skeys *k =
	    total <= SKEYS_INLINE ? (struct skeys *)(void *)t->keys_inline : malloc(total);
	if (k == NULL)
		return NULL;
	char *at = (char *)(k + 1);
	struct sip_str *dst[7] = {&k->method,   &k->branch, &k->host,   &k->ruri,
	                          &k->from_tag, &k->to_tag, &k->call_id};
	for (size_t i = 0; i < 7; i++) {
		if (src[i].p == NULL) {
			*dst[i] = (struct sip_str){NULL, 0};
			continue;
		}
		memcpy(at, src[i].p, src[i].len);
		*dst[i] = (struct sip_str){at, src[i].len};
		at += src[i].len;
	}
	k->method_id = req->method_id;
	k->cseq = req->cseq;
	k->port = v->port;
	return k;
}

static void act(struct sip_txn_actions *a, enum sip_txn_action_kind k, const struct fg_buf *b,
                const struct sip_msg *m)
{
	/* Invariant: no transition emits more than SIP_TXN_MAX_ACTIONS actions. */
	FG_INVARIANT(a->n < SIP_TXN_MAX_ACTIONS);
	struct sip_txn_action *x = &a->act[a->n++];
	x->kind = k;
	x->bytes = b ? b->data : NULL;
	x->len = b ? b->len : 0;
	x->msg = m;
}

static void terminate(struct sip_txn *t, struct sip_txn_actions *a)
{
	t->state = SIP_TXN_TERMINATED;
	for (int i = 0; i < TM__COUNT; i++)
		t->due[i] = NEVER;
	act(a, SIP_TXN_ACT_TERMINATE, NULL, NULL);
}

/* Arms the wait timer (D, K, I, J); zero on reliable transports ends the transaction at
 * once (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2). */
static void wait_or_end(struct sip_txn *t, int64_t now, int64_t unreliable_ms,
                        struct sip_txn_actions *a)
{
	t->due[TM_RETX] = NEVER;
	t->due[TM_TIMEOUT] = NEVER;
	if (t->reliable)
		terminate(t, a);
	else
		t->due[TM_WAIT] = now + unreliable_ms;
}

/* Freed transactions are kept for the next ones: a steady stream of requests costs no
 * malloc. */
#define TXN_CACHE_MAX 256 /* ~600 bytes each */
static _Thread_local struct sip_txn *txn_cache;
static _Thread_local size_t txn_cache_n;

static struct sip_txn *txn_alloc(enum sip_txn_kind kind, bool reliable)
{
	struct sip_txn *t = txn_cache;
	if (t != NULL) {
		FG_UNPOISON(t, sizeof(*t));
		txn_cache = t->next_free;
		txn_cache_n--;
	} else {
		t = malloc(sizeof(*t));
		if (!t)
			return NULL;
	}
	/* the fields only: keys_inline is written before it is read */
	t->kind = kind;
	t->state = SIP_TXN_CALLING;
	t->reliable = reliable;
	t->method = SIP_METHOD_OTHER;
	t->req = NULL;
	t->keys = NULL;
	t->req_bytes = (struct fg_buf){0};
	t->last = (struct fg_buf){0};
	t->retx_interval = 0;
	t->next_free = NULL;
	for (int i = 0; i < TM__COUNT; i++)
		t->due[i] = NEVER;
	return t;
}

void sip_txn_free(struct sip_txn *t)
{
	if (!t)
		return;
	sip_msg_free(t->req);
	if ((void *)t->keys != (void *)t->keys_inline)
		free(t->keys);
	fg_buf_free(&t->req_bytes);
	fg_buf_free(&t->last);
	if (txn_cache_n >= TXN_CACHE_MAX) {
		free(t);
		return;
	}
	t->next_free = txn_cache;
	txn_cache = t;
	txn_cache_n++;
	FG_POISON(t, offsetof(struct sip_txn, next_free));
	FG_POISON(t->keys_inline, sizeof(t->keys_inline));
}

/* The top Via's branch (RFC 3261 §8.1.1.7) of a request as this process builds them: the
 * first header line named Via or v, ";branch=" in its first via-parm, no LWS around it.
 * False for anything else (folding, LWS, no branch): the full parser decides then. */
static bool quick_branch(const uint8_t *req, size_t len, struct sip_str *branch)
{
	const char *p = (const char *)req, *end = p + len;
	const char *line = memchr(p, '\n', len); /* the end of the request line */
	while (line != NULL && ++line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL || eol - line <= 1 || *line == ' ' || *line == '\t')
			return false; /* no end, the end of the head, or folding */
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL)
			return false;
		size_t nl = (size_t)(colon - line);
		while (nl > 0 && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
			nl--;
		if (!((nl == 3 && strncasecmp(line, "via", 3) == 0) ||
		      (nl == 1 && (*line | 0x20) == 'v'))) {
			line = eol;
			continue;
		}
		const char *ve = eol[-1] == '\r' ? eol - 1 : eol;
		const char *comma = memchr(colon, ',', (size_t)(ve - colon));
		if (comma != NULL)
			ve = comma;
		for (const char *q = memchr(colon, ';', (size_t)(ve - colon)); q != NULL;
		     q = memchr(q + 1, ';', (size_t)(ve - q - 1))) {
			if (ve - q <= 8 || strncasecmp(q, ";branch=", 8) != 0)
				continue;
			const char *b = q + 8, *e = b;
			while (e < ve && *e != ';' && *e != ' ' && *e != '\t')
				e++;
			if (e == b)
				return false;
			*branch = (struct sip_str){b, (size_t)(e - b)};
			return true;
		}
		return false;
	}
	return false;
}

/* A non-INVITE client transaction matches responses by branch and method only (RFC 3261
 * §17.1.3): it keeps those two, pointing into the request bytes, rather than a parsed copy
 * (only the INVITE one needs the request, to build the ACK). False: not a request of this
 * process's shape (the caller parses it). */
static bool client_quick_keys(struct sip_txn *t, enum sip_method method)
{
	const char *name = sip_method_name(method);
	const uint8_t *d = t->req_bytes.data;
	size_t len = t->req_bytes.len, ml = name ? strlen(name) : 0;
	struct sip_str branch;
	if (name == NULL || len <= ml || memcmp(d, name, ml) != 0 || d[ml] != ' ' ||
	    !quick_branch(d, len, &branch))
		return false;
	struct skeys *k = (struct skeys *)(void *)t->keys_inline;
	*k = (struct skeys){.method = {(const char *)d, ml}, .branch = branch, .method_id = method};
	t->keys = k;
	return true;
}

enum fg_err sip_txn_client_new(enum sip_method method, const uint8_t *req, size_t len,
                               bool reliable, int64_t now_ms, struct sip_txn **out,
                               struct sip_txn_actions *acts)
{
	enum fg_err e;
	acts->n = 0;
	*out = NULL;
	if (method == SIP_METHOD_ACK)
		return FG_ERR_INVAL; /* RFC 3261 §17.1: ACK for non-2xx belongs to the INVITE txn */
	struct sip_txn *t = txn_alloc(method == SIP_METHOD_INVITE ? SIP_TXN_INVITE_CLIENT
	                                                          : SIP_TXN_NON_INVITE_CLIENT,
	                              reliable);
	if (!t)
		return FG_ERR_NOMEM;
	t->method = method;
	e = fg_buf_append(&t->req_bytes, req, len);
	if (e)
		goto out;
	if (method == SIP_METHOD_INVITE || !client_quick_keys(t, method)) {
		e = sip_msg_parse(req, len, SIP_PARSE_DATAGRAM, &t->req, NULL, NULL);
		if (e)
			goto out;
		if (t->req->method_id != method || !t->req->vias[0].branch.p) {
			e = FG_ERR_INVAL;
			goto out;
		}
	}
	if (t->kind == SIP_TXN_INVITE_CLIENT) {
		t->state = SIP_TXN_CALLING;
		if (!reliable) { /* Timer A */
			t->retx_interval = SIP_T1_MS;
			t->due[TM_RETX] = now_ms + SIP_T1_MS;
		}
	} else {
		t->state = SIP_TXN_TRYING;
		if (!reliable) { /* Timer E */
			t->retx_interval = SIP_T1_MS;
			t->due[TM_RETX] = now_ms + SIP_T1_MS;
		}
	}
	t->due[TM_TIMEOUT] = now_ms + 64 * SIP_T1_MS; /* Timer B / F */
	act(acts, SIP_TXN_ACT_SEND, &t->req_bytes, NULL);
	*out = t;
	t = NULL;
out:
	sip_txn_free(t);
	return e;
}

/* RFC 3261 §17.1.1.3: the ACK for a non-2xx final response. */
static enum fg_err build_ack(struct sip_txn *t, const struct sip_msg *rsp)
{
	const struct sip_msg *r = t->req;
	const struct sip_header *via = sip_msg_header(r, "Via", 0);
	const struct sip_header *from = sip_msg_header(r, "From", 0);
	const struct sip_header *to = sip_msg_header(rsp, "To", 0);
	const struct sip_header *h;
	fg_buf_reset(&t->last);
	enum fg_err e = fg_buf_append_str(&t->last, "ACK ");
	if (!e)
		e = fg_buf_append(&t->last, r->ruri.text.p, r->ruri.text.len);
	if (!e)
		e = fg_buf_append_str(&t->last, " SIP/2.0\r\n");
	if (!e)
		e = sip__append_hdr(&t->last, "Via", via->value, NULL);
	if (!e)
		e = fg_buf_printf(&t->last, "Max-Forwards: %d\r\n", SIP_MAX_FORWARDS_DEFAULT);
	for (size_t i = 0; !e && (h = sip_msg_header(r, "Route", i)) != NULL; i++)
		e = sip__append_hdr(&t->last, "Route", h->value, NULL);
	if (!e)
		e = sip__append_hdr(&t->last, "From", from->value, NULL);
	if (!e)
		e = sip__append_hdr(&t->last, "To", to->value, NULL);
	if (!e)
		e = sip__append_hdr(&t->last, "Call-ID", r->call_id, NULL);
	if (!e)
		e = fg_buf_printf(&t->last, "CSeq: %u ACK\r\nContent-Length: 0\r\n\r\n",
		                  (unsigned)r->cseq);
	return e;
}

enum fg_err sip_txn_on_response(struct sip_txn *t, const struct sip_msg *rsp, int64_t now_ms,
                                struct sip_txn_actions *acts)
{
	acts->n = 0;
	if (rsp->is_request ||
	    (t->kind != SIP_TXN_INVITE_CLIENT && t->kind != SIP_TXN_NON_INVITE_CLIENT))
		return FG_ERR_INVAL;
	unsigned code = rsp->status;
	if (t->kind == SIP_TXN_INVITE_CLIENT) {
		switch (t->state) {
		case SIP_TXN_CALLING:
		case SIP_TXN_PROCEEDING:
			if (code < 200) {
				t->state = SIP_TXN_PROCEEDING;
				t->due[TM_RETX] = NEVER; /* stop Timer A */
				t->due[TM_TIMEOUT] = NEVER;
				act(acts, SIP_TXN_ACT_DELIVER, NULL, rsp);
			} else if (code < 300) {
				/* RFC 6026 §8.4: 2xx goes to the TU, which ACKs it itself; the
				 * transaction stays Accepted for Timer M (64*T1) so that 2xx
				 * retransmissions from other forks reach the TU too. */
				act(acts, SIP_TXN_ACT_DELIVER, NULL, rsp);
				t->state = SIP_TXN_ACCEPTED;
				t->due[TM_RETX] = NEVER;
				t->due[TM_TIMEOUT] = NEVER;
				t->due[TM_WAIT] = now_ms + 64 * SIP_T1_MS;
			} else {
				enum fg_err e = build_ack(t, rsp);
				if (e)
					return e;
				t->state = SIP_TXN_COMPLETED;
				act(acts, SIP_TXN_ACT_SEND, &t->last, NULL);
				act(acts, SIP_TXN_ACT_DELIVER, NULL, rsp);
				wait_or_end(t, now_ms, 32000, acts); /* Timer D: >= 32 s */
			}
			break;
		case SIP_TXN_COMPLETED:
			if (code >= 300) /* retransmitted final: ACK again */
				act(acts, SIP_TXN_ACT_SEND, &t->last, NULL);
			break;
		case SIP_TXN_ACCEPTED:
			if (code >= 200 && code < 300) /* RFC 6026 §8.4 */
				act(acts, SIP_TXN_ACT_DELIVER, NULL, rsp);
			break;
		default:
			break;
		}
		return FG_OK;
	}
	switch (t->state) {
	case SIP_TXN_TRYING:
	case SIP_TXN_PROCEEDING:
		act(acts, SIP_TXN_ACT_DELIVER, NULL, rsp);
		if (code < 200) {
			t->state = SIP_TXN_PROCEEDING;
		} else {
			t->state = SIP_TXN_COMPLETED;
			wait_or_end(t, now_ms, SIP_T4_MS, acts); /* Timer K */
		}
		break;
	default:
		break;
	}
	return FG_OK;
}

enum fg_err sip_txn_server_new(const struct sip_msg *req, bool reliable, int64_t now_ms,
                               struct sip_txn **out, struct sip_txn_actions *acts)
{
	acts->n = 0;
	*out = NULL;
	if (!req->is_request || req->method_id == SIP_METHOD_ACK || req->nvias == 0)
		return FG_ERR_INVAL;
	struct sip_txn *t = txn_alloc(
	    req->method_id == SIP_METHOD_INVITE ? SIP_TXN_INVITE_SERVER : SIP_TXN_NON_INVITE_SERVER,
	    reliable);
	if (!t)
		return FG_ERR_NOMEM;
	t->method = req->method_id;
	/* Keep a private copy of the matching keys only (the caller's message may go). */
	t->keys = skeys_new(t, req);
	if (t->keys == NULL) {
		sip_txn_free(t);
		return FG_ERR_NOMEM;
	}
	t->state = t->kind == SIP_TXN_INVITE_SERVER ? SIP_TXN_PROCEEDING : SIP_TXN_TRYING;
	(void)now_ms;
	act(acts, SIP_TXN_ACT_DELIVER, NULL, req);
	*out = t;
	return FG_OK;
}

enum fg_err sip_txn_send_response(struct sip_txn *t, unsigned status, const uint8_t *rsp,
                                  size_t len, int64_t now_ms, struct sip_txn_actions *acts)
{
	acts->n = 0;
	if (t->kind != SIP_TXN_INVITE_SERVER && t->kind != SIP_TXN_NON_INVITE_SERVER)
		return FG_ERR_INVAL;
	if (status < 100 || status > 699)
		return FG_ERR_INVAL;
	bool open = t->state == SIP_TXN_TRYING || t->state == SIP_TXN_PROCEEDING ||
	            (t->state == SIP_TXN_ACCEPTED && status >= 200 && status < 300);
	if (!open)
		return FG_ERR_BUSY; /* a final response was already sent */
	if (t->reliable && t->kind == SIP_TXN_NON_INVITE_SERVER && status >= 200) {
		/* RFC 3261 §17.2.2: Timer J is 0 on a reliable transport, the transaction
		 * ends now and never resends: the caller's bytes go out as they are. */
		struct sip_txn_action *x = &acts->act[acts->n++];
		*x = (struct sip_txn_action){SIP_TXN_ACT_SEND, rsp, len, NULL};
		t->state = SIP_TXN_COMPLETED;
		wait_or_end(t, now_ms, 64 * SIP_T1_MS, acts); /* Timer J */
		return FG_OK;
	}
	fg_buf_reset(&t->last);
	enum fg_err e = fg_buf_append(&t->last, rsp, len);
	if (e)
		return e;
	act(acts, SIP_TXN_ACT_SEND, &t->last, NULL);
	if (status < 200) {
		t->state = SIP_TXN_PROCEEDING;
		return FG_OK;
	}
	if (t->kind == SIP_TXN_INVITE_SERVER) {
		if (status < 300) {
			/* RFC 6026 §8.5-8.7: Accepted for Timer L (64*T1); the TU
			 * retransmits the 2xx through us, request retransmissions are
			 * absorbed. */
			if (t->state != SIP_TXN_ACCEPTED)
				t->due[TM_WAIT] = now_ms + 64 * SIP_T1_MS;
			t->state = SIP_TXN_ACCEPTED;
		} else {
			t->state = SIP_TXN_COMPLETED;
			if (!t->reliable) { /* Timer G */
				t->retx_interval = SIP_T1_MS;
				t->due[TM_RETX] = now_ms + SIP_T1_MS;
			}
			t->due[TM_TIMEOUT] = now_ms + 64 * SIP_T1_MS; /* Timer H */
		}
	} else {
		t->state = SIP_TXN_COMPLETED;
		wait_or_end(t, now_ms, 64 * SIP_T1_MS, acts); /* Timer J */
	}
	return FG_OK;
}

enum fg_err sip_txn_on_request(struct sip_txn *t, const struct sip_msg *req, int64_t now_ms,
                               struct sip_txn_actions *acts)
{
	acts->n = 0;
	if (t->kind != SIP_TXN_INVITE_SERVER && t->kind != SIP_TXN_NON_INVITE_SERVER)
		return FG_ERR_INVAL;
	if (t->kind == SIP_TXN_INVITE_SERVER && req->method_id == SIP_METHOD_ACK) {
		if (t->state == SIP_TXN_COMPLETED) {
			t->state = SIP_TXN_CONFIRMED;
			t->due[TM_RETX] = NEVER; /* stop G and H */
			t->due[TM_TIMEOUT] = NEVER;
			if (t->reliable)
				terminate(t, acts); /* Timer I = 0 */
			else
				t->due[TM_WAIT] = now_ms + SIP_T4_MS;
		}
		if (t->state == SIP_TXN_ACCEPTED) /* RFC 6026 §8.7: the ACK goes to the TU */
			act(acts, SIP_TXN_ACT_DELIVER, NULL, req);
		return FG_OK; /* ACKs in Confirmed are absorbed */
	}
	/* retransmitted request: resend the last response, if any */
	if ((t->state == SIP_TXN_PROCEEDING || t->state == SIP_TXN_COMPLETED) && t->last.len)
		act(acts, SIP_TXN_ACT_SEND, &t->last, NULL);
	return FG_OK;
}

enum fg_err sip_txn_on_timer(struct sip_txn *t, int64_t now_ms, struct sip_txn_actions *acts)
{
	acts->n = 0;
	if (t->state == SIP_TXN_TERMINATED)
		return FG_OK;
	if (t->due[TM_TIMEOUT] <= now_ms) {
		/* Timer B, F or H */
		act(acts, SIP_TXN_ACT_TIMEOUT, NULL, NULL);
		terminate(t, acts);
		return FG_OK;
	}
	if (t->due[TM_WAIT] <= now_ms) {
		/* Timer D, K, I or J */
		terminate(t, acts);
		return FG_OK;
	}
	if (t->due[TM_RETX] <= now_ms) {
		switch (t->kind) {
		case SIP_TXN_INVITE_CLIENT: /* Timer A doubles without cap (§17.1.1.2) */
			t->retx_interval *= 2;
			act(acts, SIP_TXN_ACT_SEND, &t->req_bytes, NULL);
			break;
		case SIP_TXN_NON_INVITE_CLIENT: /* Timer E: doubles up to T2, T2 when Proceeding */
			t->retx_interval =
			    t->state == SIP_TXN_PROCEEDING
			        ? SIP_T2_MS
			        : (t->retx_interval * 2 < SIP_T2_MS ? t->retx_interval * 2
			                                            : SIP_T2_MS);
			act(acts, SIP_TXN_ACT_SEND, &t->req_bytes, NULL);
			break;
		case SIP_TXN_INVITE_SERVER: /* Timer G: doubles up to T2 */
			t->retx_interval =
			    t->retx_interval * 2 < SIP_T2_MS ? t->retx_interval * 2 : SIP_T2_MS;
			act(acts, SIP_TXN_ACT_SEND, &t->last, NULL);
			break;
		default:
			break;
		}
		t->due[TM_RETX] = now_ms + t->retx_interval;
	}
	return FG_OK;
}

int64_t sip_txn_next_timer(const struct sip_txn *t)
{
	int64_t m = NEVER;
	for (int i = 0; i < TM__COUNT; i++)
		if (t->due[i] < m)
			m = t->due[i];
	return m;
}

enum sip_txn_state sip_txn_state(const struct sip_txn *t)
{
	return t->state;
}

enum sip_txn_kind sip_txn_kind(const struct sip_txn *t)
{
	return t->kind;
}

const char *sip_txn_state_name(enum sip_txn_state s)
{
	static const char *const names[] = {"calling",   "trying",   "proceeding", "completed",
	                                    "confirmed", "accepted", "terminated"};
	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static bool str_eq(struct sip_str a, struct sip_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool str_ieq(struct sip_str a, struct sip_str b)
{
	return a.p && b.p && a.len == b.len && strncasecmp(a.p, b.p, a.len) == 0;
}

static bool has_cookie(struct sip_str branch)
{
	return branch.len > 7 && memcmp(branch.p, SIP_BRANCH_COOKIE, 7) == 0;
}

struct sip_str sip_txn_branch(const struct sip_txn *t)
{
	if (t->req == NULL) /* a non-INVITE client transaction keeps its keys only */
		return t->keys != NULL && t->kind == SIP_TXN_NON_INVITE_CLIENT
		           ? t->keys->branch
		           : (struct sip_str){NULL, 0};
	if (t->req->nvias == 0)
		return (struct sip_str){NULL, 0};
	return t->req->vias[0].branch;
}

bool sip_txn_match_response(const struct sip_txn *t, const struct sip_msg *rsp)
{
	if (rsp->is_request || rsp->nvias == 0)
		return false;
	if (t->kind != SIP_TXN_INVITE_CLIENT && t->kind != SIP_TXN_NON_INVITE_CLIENT)
		return false;
	/* RFC 3261 §17.1.3: top Via branch and CSeq method. */
	if (!str_eq(rsp->vias[0].branch, sip_txn_branch(t)))
		return false;
	return str_eq(rsp->cseq_method, t->req ? t->req->method : t->keys->method) ||
	       (rsp->cseq_method_id == t->method && t->method != SIP_METHOD_OTHER);
}

bool sip_txn_match_request(const struct sip_txn *t, const struct sip_msg *req)
{
	if (!req->is_request || req->nvias == 0)
		return false;
	if (t->kind != SIP_TXN_INVITE_SERVER && t->kind != SIP_TXN_NON_INVITE_SERVER)
		return false;
	const struct skeys *o = t->keys;
	bool method_ok = str_eq(req->method, o->method) ||
	                 (req->method_id == SIP_METHOD_ACK && o->method_id == SIP_METHOD_INVITE);
	if (!method_ok)
		return false;
	const struct sip_via *a = &req->vias[0];
	if (has_cookie(a->branch)) {
		/* RFC 3261 §17.2.3: branch, sent-by and method. */
		return str_eq(a->branch, o->branch) && str_ieq(a->host, o->host) &&
		       a->port == o->port;
	}
	/* RFC 2543 peers (§17.2.3, last paragraphs): Request-URI, tags, Call-ID, CSeq, Via. */
	if (req->method_id != SIP_METHOD_ACK && !str_eq(req->to.tag, o->to_tag))
		return false;
	return str_eq(req->ruri.text, o->ruri) && str_eq(req->from.tag, o->from_tag) &&
	       str_eq(req->call_id, o->call_id) && req->cseq == o->cseq &&
	       str_ieq(a->host, o->host) && a->port == o->port && str_eq(a->branch, o->branch);
}
