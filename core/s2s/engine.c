/* s2s engine: XMPP server-to-server federation on the libuv loop — listeners, connections
 * driving the xmpp_s2s machines through TLS (RFC 6120 §5, XEP-0368), dialback
 * verification (XEP-0220), outbound SRV failover (RFC 6120 §3.2), routing with bounded
 * queues and bounces (RFC 6120 §8.3, §10), live configuration, status and faults. */
#include "s2s/s2s_internal.h"

#include "pki/pki.h"
#include "status/status.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Registered domains (other gateways in the process): one per SIP/component domain. */
#define MAX_REGS 32u
/* Decrypted bytes pulled per step from the TLS engine. */
#define APP_BUF 4096u
/* Streams at once: the target is 10,000 idle sessions on a small appliance; beyond three
 * times that, new peers are refused rather than exhausting descriptors and memory. */
#define MAX_CONNS 30000u
/* Buckets of the outgoing-stream index by (local, remote): lookups happen per stanza. */
#define OUT_HASH 4096u
/* Completion records kept for reuse: a burst's worth; beyond, they go back to the heap. */
#define DONE_FREE_MAX 256u
/* A busy connection keeps up to this much write buffer between loop turns; a quiet one
 * gives it back when its session is compacted (S2S_COMPACT_MS). */
#define S2S_OBUF_KEEP 16384u
/* Backpressure: while this many bytes wait to be written to a stream (ours and libuv's),
 * stanzas stay in the domain's queue, whose cap (xmpp.queue_max) then refuses more with
 * resource-constraint (the SIP side answers 503 with Retry-After) instead of a peer that
 * reads slowly making us hold megabytes or drop what we already accepted. */
#define S2S_WRITE_HIGH (256u * 1024u)
/* Status objects of closed streams kept for the console: peers choose the domain names
 * they claim, so the oldest go first rather than letting the registry grow. */
#define MAX_CLOSED_STATUS 256u
/* Faults about domains that are not in the allow list stop being raised past this many
 * active faults: a peer can claim any domain it likes. */
#define MAX_PEER_FAULTS 200u
/* Status of a connection is refreshed at most this often. */
#define TICK_MS 1000
/* Quiet time after which a session's parser and buffers are freed: short enough that idle
 * sessions stay small, long enough that a busy one is never rebuilt between reads. */
#define S2S_COMPACT_MS 1000
/* Sessions compacted in one tick that make returning freed heap pages worth a heap walk. */
#define S2S_TRIM_SESSIONS 32

enum conn_state {
	CS_RESOLVING = 0,
	CS_CONNECTING,
	CS_STREAM,
	CS_TLS,
	CS_AUTH,
	CS_ESTABLISHED,
	CS_CLOSED,
};

static const char *const state_names[] = {"connecting",     "connecting",  "authenticating", "tls",
                                          "authenticating", "established", "closed"};

struct verify_req {
	char local[DB_DOMAIN_MAX];
	char remote[DB_DOMAIN_MAX];
	char stream_id[XMPP_MAX_STREAM_ID + 1];
	char *key; /* until answered (a retried stream sends it again); wiped */
	bool sent;
};

/* Outbound setup state, freed once the stream is connected. */
struct out_ctx {
	struct dns_srv xmpps[DNS_MAX_SRV];
	size_t n_xmpps;
	struct dns_srv xmpp[DNS_MAX_SRV];
	size_t n_xmpp;
	enum resolve_status st_xmpps, st_xmpp;
	char dns_text[S2S_TEXT_MAX];
	struct dns_candidate cands[S2S_MAX_CANDIDATES];
	size_t n_cands, cand_i;
	char addrs[RESOLVE_MAX_ADDRS][64];
	size_t n_addrs, addr_i;
	struct resolve_query *q;
	bool any_timeout, any_refused, any_addr;
	bool cand_started;
	char tried[S2S_TEXT_MAX];
	bool static_route;
};

struct conn {
	struct s2s_engine *e;
	struct conn *prev, *next;
	struct conn *hnext; /* outgoing: the engine's index by domain pair */
	bool hashed;
	struct s2s_conf *conf;
	struct xmpp_s2s_config xcfg;
	struct xmpp_s2s *m;
	bool out;
	uv_tcp_t *tcp;
	uv_timer_t timer;
	int handles;
	bool dead;
	bool tcp_open;
	/* what this loop turn wrote, sent once by the engine's prepare handle: the stanzas a
	 * burst of SIP requests or a queue flush produces leave in one write (one TLS record) */
	struct fg_buf obuf;
	struct conn *onext; /* in the engine's list of connections with bytes in obuf */
	bool oqueued;
	struct tls_conn *tls;
	bool tls_up;
	bool direct_tls;
	bool faking; /* direct TLS: the machine's own STARTTLS exchange is played locally */
	struct xmpp_stream *sniff;
	struct xmpp_stream *trace; /* validation: sees the peer's features */
	bool sniff_after_tls;
	bool sniff_done;
	int64_t last_active_ms;
	enum xmpp_stream_error close_cond;
	const char *close_why;
	/* Exact-size copies, never NULL (no_text when empty): an idle session keeps only
	 * what its names need. Set with text_set. */
	char *local, *remote;
	char addr[DB_ADDR_MAX];
	enum conn_state state;
	enum xmpp_auth_method method;
	bool authenticated;
	bool need_flush;
	bool status_dirty;
	int64_t since_ms;
	uint64_t stanzas_in, stanzas_out;
	char *last_error; /* like local: exact size, no_text when none */
	int64_t deadline[XMPP_TIMER__COUNT];
	int64_t connect_deadline;
	int64_t last_io_ms;
	size_t wpending;
	struct s2s_queue queue;
	struct out_ctx *o;
	struct verify_req *verifies;
	size_t n_verify, cap_verify, verify_in_flight;
	struct tls_info *ti; /* after a TLS handshake; plaintext sessions carry none */
	bool compact;        /* the machine was compacted and nothing was read since */
};

/* What the status and validation show about a stream's TLS. */
struct tls_info {
	/* exact-size copies (NULL when the peer sent none): the certificate itself is
	 * released after the name checks */
	char *peer_subject, *peer_issuer;
	int64_t peer_not_after;
	char tls_version[24], tls_suite[64];
	char name_match[16];
};

static const struct tls_info no_tls_info;

/* The empty text, shared by every connection field that has none: never written or freed. */
static char no_text[1];

/* Replaces a connection's text field with an exact-size copy of v, cut below max bytes;
 * false (the field unchanged) without memory. v may be the field's current value. */
static bool text_set(char **dst, const char *v, size_t max)
{
	char *n = v[0] != '\0' ? strndup(v, max - 1) : no_text;
	if (n == NULL)
		return false;
	if (*dst != no_text)
		free(*dst);
	*dst = n;
	return true;
}

static void text_free(char **dst)
{
	if (*dst != no_text)
		free(*dst);
	*dst = no_text;
}

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* A copy of a certificate name for the status, cut at S2S_TEXT_MAX like any text shown. */
static char *name_dup(const char *s)
{
	return strndup(s, S2S_TEXT_MAX - 1);
}

static void tls_info_free(struct tls_info *ti)
{
	if (ti == NULL)
		return;
	free(ti->peer_subject);
	free(ti->peer_issuer);
	free(ti);
}

static const struct tls_info *tinfo(const struct conn *c)
{
	return c->ti != NULL ? c->ti : &no_tls_info;
}

struct listener {
	struct s2s_engine *e;
	struct listener *next;
	uv_tcp_t *tcp;
	uv_timer_t retry;
	char addr[DB_DOMAIN_MAX];
	uint16_t port;
	bool direct_tls;
	bool gone;
	char id[STATUS_ID_MAX];
	char last_err[S2S_TEXT_MAX];
};

struct reg {
	char domain[DB_DOMAIN_MAX];
	s2s_domain_cb cb;
	void *ctx;
};

struct done {
	s2s_sent_cb cb;
	void *ctx;
	enum xmpp_stanza_cond cond;
	char text[S2S_TEXT_MAX];
	struct done *next;
};

struct s2s_engine {
	uv_loop_t *loop;
	struct db *db;
	char version[64];
	struct s2s_conf *conf;
	struct resolver *resolver;
	char dns_key[2 * DB_SETTING_VALUE_MAX];
	struct listener *listeners;
	struct conn *conns;
	size_t n_conns;
	struct conn *out_hash[OUT_HASH];
	int64_t cnt_in, cnt_out;           /* counters added to the registry once per tick */
	char (*closed_ids)[STATUS_ID_MAX]; /* ring of closed streams' status ids */
	size_t closed_next;
	struct reg regs[MAX_REGS];
	size_t n_regs;
	uv_timer_t kick, tick;
	/* completions run after the loop's I/O callbacks of the same turn: the SIP answer to a
	 * relayed stanza is written on the next turn's flush, without a turn of its own */
	uv_check_t done_check;
	/* runs right before the loop blocks for I/O: writes every connection's obuf */
	uv_prepare_t flush_prep;
	struct conn *odirty;
	struct done *done_head, *done_tail;
	struct done *done_free; /* completions kept for reuse: no allocation per stanza */
	size_t n_done_free;
	int refs;
	bool stopping;
	struct xmpp_local_info info;
	struct s2s_validation *validation; /* private engine of a validation */
};

static void conn_kill(struct conn *c, enum s2s_fail fail, const char *why, bool graceful);
static void out_begin(struct conn *c);
static struct conn *conn_new(struct s2s_engine *e, bool out, const char *local, const char *remote);
static void route_out(struct s2s_engine *e, const uint8_t *data, size_t len, s2s_sent_cb cb,
                      void *ctx);
static void conn_flush_queue(struct conn *c);
static void verify_send(struct conn *o, struct verify_req *v);
static void verifies_flush(struct conn *o);
static void verifies_free(struct conn *c);

static int64_t now_ms(const struct s2s_engine *e)
{
	return (int64_t)uv_now(e->loop);
}

static int engines_alive;

static void done_run(struct s2s_engine *e);
static void engine_unref(struct s2s_engine *e)
{
	if (--e->refs > 0)
		return;
	/* completions of stanzas handed over while the engine was stopping */
	done_run(e);
	while (e->done_free != NULL) {
		struct done *d = e->done_free;
		e->done_free = d->next;
		free(d);
	}
	s2s__conf_unref(e->conf);
	free(e->closed_ids);
	free(e);
	if (--engines_alive == 0)
		s2s__parse_cleanup();
}

static void engine_handle_closed(uv_handle_t *h)
{
	engine_unref(h->data);
}

/* ---- completions (never from inside s2s_send) ------------------------------------------ */

static void kick_cb(uv_timer_t *t);

static void kick(struct s2s_engine *e)
{
	/* once per loop turn however many stanzas ask: restarting a due timer changes nothing */
	if (!e->stopping && !uv_is_active((const uv_handle_t *)&e->kick))
		uv_timer_start(&e->kick, kick_cb, 0, 0);
}

static void done_check_cb(uv_check_t *h)
{
	struct s2s_engine *e = h->data;
	uv_check_stop(h);
	done_run(e);
}

static void done_push(struct s2s_engine *e, s2s_sent_cb cb, void *ctx, enum xmpp_stanza_cond cond,
                      const char *text)
{
	if (cb == NULL)
		return;
	struct done *d = e->done_free;
	if (d != NULL) {
		e->done_free = d->next;
		e->n_done_free--;
	} else {
		d = malloc(sizeof(*d));
	}
	if (d == NULL) {
		/* Without memory the completion cannot be deferred: call it now. */
		cb(ctx, cond, text ? text : "");
		return;
	}
	d->cb = cb;
	d->ctx = ctx;
	d->cond = cond;
	d->next = NULL;
	fg_strlcpy(d->text, text ? text : "", sizeof(d->text));
	if (e->done_tail != NULL)
		e->done_tail->next = d;
	else
		e->done_head = d;
	e->done_tail = d;
	if (!e->stopping && !uv_is_active((const uv_handle_t *)&e->done_check))
		uv_check_start(&e->done_check, done_check_cb);
}

static void done_run(struct s2s_engine *e)
{
	struct done *d = e->done_head;
	e->done_head = e->done_tail = NULL;
	while (d != NULL) {
		struct done *next = d->next;
		d->cb(d->ctx, d->cond, d->text);
		if (e->n_done_free < DONE_FREE_MAX) {
			d->next = e->done_free;
			e->done_free = d;
			e->n_done_free++;
		} else {
			free(d);
		}
		d = next;
	}
}

static void kick_cb(uv_timer_t *t)
{
	struct s2s_engine *e = t->data;
	for (struct conn *c = e->conns; c != NULL;) {
		struct conn *next = c->next;
		if (c->close_why != NULL && !c->dead) {
			const char *why = c->close_why;
			c->close_why = NULL;
			fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "stream with %s refused: %s", c->remote,
			       why);
			(void)text_set(&c->last_error, why, S2S_TEXT_MAX);
			xmpp_s2s_close(c->m, c->close_cond, why);
			if (!c->dead)
				conn_kill(c, S2S_FAIL_POLICY, why, true);
		}
		if (c->need_flush && !c->dead) {
			c->need_flush = false;
			conn_flush_queue(c);
		}
		c = next;
	}
	done_run(e);
}

/* ---- status and faults ------------------------------------------------------------------ */

static void status_id(const struct conn *c, char *out, size_t outsize)
{
	s2s__fmt(out, outsize, "xmpp:%s:%s:%s", c->out ? "out" : "in", c->local, c->remote);
}

/* Remembers a closed stream's status object; the oldest beyond the cap is removed. */
static void closed_status_note(struct s2s_engine *e, const char *id)
{
	if (e->closed_ids == NULL) {
		e->closed_ids = calloc(MAX_CLOSED_STATUS, sizeof(*e->closed_ids));
		if (e->closed_ids == NULL)
			return;
	}
	for (size_t i = 0; i < MAX_CLOSED_STATUS; i++) {
		if (strcmp(e->closed_ids[i], id) == 0)
			return;
	}
	char *slot = e->closed_ids[e->closed_next];
	if (slot[0] != '\0' && status_state(slot) != NULL &&
	    strcmp(status_state(slot), "established") != 0)
		status_remove(slot);
	fg_strlcpy(slot, id, STATUS_ID_MAX);
	e->closed_next = (e->closed_next + 1) % MAX_CLOSED_STATUS;
}

static void conn_status(struct conn *c)
{
	if (c->local[0] == '\0' || c->remote[0] == '\0' || c->e->validation != NULL)
		return;
	/* an incoming stream is somebody only once authenticated (anyone can claim a name) */
	if (!c->out && !c->authenticated)
		return;
	if (c->state == CS_CLOSED) {
		/* another stream of the same pair and direction still serves: it is the status */
		for (struct conn *o = c->e->conns; o != NULL; o = o->next) {
			if (o != c && !o->dead && o->out == c->out && o->authenticated &&
			    strcasecmp(o->local, c->local) == 0 &&
			    strcasecmp(o->remote, c->remote) == 0) {
				conn_status(o);
				return;
			}
		}
	}
	char id[STATUS_ID_MAX], name[2 * DB_DOMAIN_MAX + 16], when[32];
	status_id(c, id, sizeof(id));
	s2s__fmt(name, sizeof(name), "%s %s %s", c->local, c->out ? "->" : "<-", c->remote);
	const char *st = state_names[c->state];
	if (c->state == CS_CLOSED && c->last_error[0] != '\0' && !c->authenticated)
		st = "failed";
	status_set(id, "xmpp-peer", name, st, c->state == CS_CLOSED ? c->last_error : "");
	struct fg_buf j = {0};
	(void)fg_buf_printf(&j, "{\"direction\":\"%s\",\"local\":\"", c->out ? "out" : "in");
	s2s__json_escape(&j, c->local);
	(void)fg_buf_append_str(&j, "\",\"remote\":\"");
	s2s__json_escape(&j, c->remote);
	(void)fg_buf_append_str(&j, "\",\"address\":\"");
	s2s__json_escape(&j, c->addr);
	(void)fg_buf_printf(&j, "\",\"auth\":\"%s\",\"tls_version\":\"",
	                    c->authenticated ? s2s__auth_name(c->method) : "");
	const struct tls_info *ti = tinfo(c);
	s2s__json_escape(&j, ti->tls_version);
	(void)fg_buf_append_str(&j, "\",\"tls_cipher\":\"");
	s2s__json_escape(&j, ti->tls_suite);
	(void)fg_buf_append_str(&j, "\",\"peer_cert_subject\":\"");
	s2s__json_escape(&j, str_or_empty(ti->peer_subject));
	(void)fg_buf_append_str(&j, "\",\"peer_cert_issuer\":\"");
	s2s__json_escape(&j, str_or_empty(ti->peer_issuer));
	when[0] = '\0';
	if (ti->peer_not_after != 0)
		fg_format_utc(when, sizeof(when), ti->peer_not_after);
	(void)fg_buf_printf(&j,
	                    "\",\"peer_cert_not_after\":\"%s\",\"since\":%lld,\"stanzas_in\":%llu,"
	                    "\"stanzas_out\":%llu,\"queued\":%zu,\"last_error\":\"",
	                    when, (long long)c->since_ms, (unsigned long long)c->stanzas_in,
	                    (unsigned long long)c->stanzas_out, c->queue.n);
	s2s__json_escape(&j, c->last_error);
	(void)fg_buf_append_str(&j, "\"}");
	status_set_extra(id, fg_buf_cstr(&j));
	fg_buf_free(&j);
	c->status_dirty = false;
	if (c->state == CS_CLOSED)
		closed_status_note(c->e, id);
}

static void conn_set_state(struct conn *c, enum conn_state st)
{
	if (c->state == st)
		return;
	c->state = st;
	conn_status(c);
}

static void fault(const struct s2s_engine *e, const char *kind, const char *domain,
                  const char *condition, const char *cause, const char *fix, const char *detail)
{
	char id[STATUS_ID_MAX], object[DB_DOMAIN_MAX + 32];
	if (e->validation != NULL)
		return; /* a validation reports its findings itself */
	s2s__fmt(id, sizeof(id), "xmpp.%s.%s", kind, domain);
	if (!status_fault_active(id) && s2s__conf_allow(e->conf, domain) == NULL &&
	    status_fault_active_count() >= MAX_PEER_FAULTS)
		return;
	s2s__fmt(object, sizeof(object), "XMPP federation with %s", domain);
	struct status_fault_desc d = {
	    .object = object,
	    .condition = condition,
	    .cause = cause,
	    .fix = fix,
	    .detail = detail,
	    .severity = FG_LOG_WARN,
	};
	status_fault_raise(id, &d);
}

static void fault_clear(const struct s2s_engine *e, const char *kind, const char *domain)
{
	if (e->validation != NULL)
		return;
	char id[STATUS_ID_MAX];
	s2s__fmt(id, sizeof(id), "xmpp.%s.%s", kind, domain);
	if (status_fault_active(id))
		status_fault_clear(id);
}

/* A certificate problem with a peer, in words: expired, wrong name, untrusted. */
enum cert_problem { CERT_OTHER = 0, CERT_EXPIRED, CERT_NAME, CERT_TRUST };

static void cert_fault(const struct conn *c, enum cert_problem p, const char *cause, int code)
{
	static const char *const conds[] = {"Certificate refused", "Certificate expired",
	                                    "Certificate has the wrong name",
	                                    "Certificate not trusted"};
	static const char *const fixes[] = {
	    "Check that the peer's certificate is valid, names the domain and is signed by a CA "
	    "in an uploaded CA bundle (Certificates screen).",
	    "The peer's certificate is expired or not yet valid: its administrator must renew it "
	    "(or check this gateway's clock).",
	    "The peer's certificate does not name its domain: its administrator needs one with "
	    "the domain as DNS or SRV name; or set a certificate override in the allow list.",
	    "Upload the CA bundle that signed the peer's certificate (Certificates screen), or "
	    "allow the system CA set.",
	};
	char detail[32] = "";
	if (code != 0)
		s2s__fmt(detail, sizeof(detail), "BearSSL error %d", code);
	fault(c->e, "cert", c->remote, conds[p], cause, fixes[p], detail[0] ? detail : NULL);
}

static enum cert_problem cert_problem_of(int code)
{
	if (code == BR_ERR_X509_EXPIRED)
		return CERT_EXPIRED;
	if (code == BR_ERR_X509_BAD_SERVER_NAME)
		return CERT_NAME;
	if (code == BR_ERR_X509_NOT_TRUSTED)
		return CERT_TRUST;
	return CERT_OTHER;
}

static void vev(struct conn *c, enum s2s_vev ev, const char *text)
{
	if (c->e->validation == NULL || !c->out)
		return;
	struct s2s_vinfo in = {
	    .addr = c->addr,
	    .text = text ? text : "",
	    .tls_version = tinfo(c)->tls_version,
	    .tls_suite = tinfo(c)->tls_suite,
	    .subject = str_or_empty(tinfo(c)->peer_subject),
	    .issuer = str_or_empty(tinfo(c)->peer_issuer),
	    .not_after_ms = tinfo(c)->peer_not_after,
	    .name_match = tinfo(c)->name_match,
	    .chain_ok = c->tls != NULL && tls_conn_peer_verified(c->tls),
	    .method = c->method,
	    .direct_tls = c->direct_tls,
	};
	s2s__validation_event(c->e->validation, ev, &in);
}

/* ---- bounces ----------------------------------------------------------------------------- */

static void route_local_node(struct s2s_engine *e, const struct xmpp_node *n);

struct bounce_ctx {
	struct s2s_engine *e;
	enum xmpp_stanza_cond cond;
	const char *text;
};

static void bounce_node_cb(void *ctx, const struct xmpp_node *n)
{
	struct bounce_ctx *b = ctx;
	struct fg_buf reply = {0};
	/* RFC 6120 §8.3.1: never an error in reply to an error */
	if (xmpp_stanza_error_reply(n, b->cond, b->text, NULL, &reply) == FG_OK)
		route_out(b->e, reply.data, reply.len, NULL, NULL);
	fg_buf_free(&reply);
}

/* Bounces one stanza: the completion gets the condition and the local sender gets an error
 * stanza (RFC 6120 §8.3). */
static void bounce(struct s2s_engine *e, const uint8_t *data, size_t len, s2s_sent_cb cb, void *ctx,
                   enum xmpp_stanza_cond cond, const char *text)
{
	status_counter_add("xmpp.bounces", 1);
	struct bounce_ctx b = {e, cond, text};
	(void)s2s__parse_stanza(data, len, bounce_node_cb, &b);
	done_push(e, cb, ctx, cond, text);
}

static void conn_bounce_all(struct conn *c, enum s2s_fail fail, const char *why)
{
	struct s2s_item *it;
	enum xmpp_stanza_cond cond = s2s__fail_cond(fail);
	while ((it = s2s__queue_pop(&c->queue)) != NULL) {
		bounce(c->e, it->data, it->len, it->cb, it->ctx, cond, why);
		s2s__item_free(it);
	}
}

static unsigned pair_hash(const char *local, const char *remote)
{
	/* FNV-1a over the lower-cased pair: domains compare case-insensitively */
	uint32_t h = 2166136261u;
	for (const char *s = local; *s != '\0'; s++)
		h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (const char *s = remote; *s != '\0'; s++)
		h = (h ^ (uint8_t)(*s | 0x20)) * 16777619u;
	return h % OUT_HASH;
}

static void out_index(struct conn *c)
{
	unsigned b = pair_hash(c->local, c->remote);
	c->hnext = c->e->out_hash[b];
	c->e->out_hash[b] = c;
	c->hashed = true;
}

static void out_unindex(struct conn *c)
{
	if (!c->hashed)
		return;
	struct conn **pp = &c->e->out_hash[pair_hash(c->local, c->remote)];
	while (*pp != NULL && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp == c)
		*pp = c->hnext;
	c->hnext = NULL;
	c->hashed = false;
}

/* ---- connection I/O ----------------------------------------------------------------------- */

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	uint8_t data[];
};

static bool conn_write_busy(const struct conn *c)
{
	return c->wpending + c->obuf.len >= S2S_WRITE_HIGH;
}

/* The queue waited for the stream to drain: let kick_cb send it again. */
static void conn_resume_queue(struct conn *c)
{
	if (!c->dead && c->authenticated && c->queue.n > 0 && !conn_write_busy(c)) {
		c->need_flush = true;
		kick(c->e);
	}
}

static void write_cb(uv_write_t *r, int status)
{
	struct wreq *w = (struct wreq *)r;
	w->c->wpending -= w->len;
	conn_resume_queue(w->c);
	if (status < 0 && status != UV_ECANCELED && !w->c->dead) {
		char why[S2S_TEXT_MAX];
		s2s__fmt(why, sizeof(why), "write failed: %s", uv_strerror(status));
		(void)text_set(&w->c->last_error, why, S2S_TEXT_MAX);
		conn_kill(w->c, S2S_FAIL_REFUSED, why, false);
	}
	free(w);
}

static void raw_write(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->tcp == NULL || !c->tcp_open || len == 0)
		return;
	c->last_io_ms = now_ms(c->e);
	if (c->wpending == 0) {
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
		int n = uv_try_write((uv_stream_t *)c->tcp, &b, 1);
		if (n == (int)len)
			return;
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n != UV_EAGAIN) {
			char why[S2S_TEXT_MAX];
			s2s__fmt(why, sizeof(why), "write failed: %s", uv_strerror(n));
			(void)text_set(&c->last_error, why, S2S_TEXT_MAX);
			conn_kill(c, S2S_FAIL_REFUSED, why, false);
			return;
		}
	}
	if (c->wpending + len > S2S_WRITE_PENDING_MAX) {
		conn_kill(c, S2S_FAIL_TIMEOUT, "the peer does not read what we send", false);
		return;
	}
	struct wreq *w = malloc(sizeof(*w) + len);
	if (w == NULL) {
		conn_kill(c, S2S_FAIL_REFUSED, "out of memory", false);
		return;
	}
	w->c = c;
	w->len = len;
	memcpy(w->data, data, len);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	int err = uv_write(&w->req, (uv_stream_t *)c->tcp, &b, 1, write_cb);
	if (err != 0) {
		free(w);
		conn_kill(c, S2S_FAIL_REFUSED, "write failed", false);
		return;
	}
	c->wpending += len;
}

/* A write error kills the connection and closes its socket (conn_kill -> tcp_close). Not
 * c->dead: close_notify is written after conn_kill has set it. */
static bool tls_write_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;
	raw_write(c, buf, len);
	return c->tcp_open;
}

static void tls_pump(struct conn *c)
{
	if (c->tls != NULL && c->tcp_open)
		(void)tls_conn_pump(c->tls, tls_write_cb, c);
}

/* Writes bytes of the stream now: as they are, or as TLS records. */
static void conn_write_now(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->dead)
		return;
	if (c->tls == NULL) {
		raw_write(c, data, len);
		return;
	}
	if (tls_conn_state(c->tls) != TLS_STATE_ESTABLISHED)
		return; /* nothing legitimate is written during a handshake */
	/* a write error has killed c (dead, socket closed) by the time this returns */
	if (tls_conn_write_all(c->tls, data, len, tls_write_cb, c) != FG_OK)
		conn_kill(c, S2S_FAIL_TLS, tls_conn_error_text(c->tls), false);
}

/* Sends the bytes written this turn. A write error kills the connection (raw_write). */
static void conn_flush_out(struct conn *c)
{
	if (c->obuf.len > 0)
		conn_write_now(c, c->obuf.data, c->obuf.len);
	/* the memory stays for the next turn unless one turn needed a lot of it */
	if (c->obuf.cap > S2S_OBUF_KEEP)
		fg_buf_free(&c->obuf);
	else
		fg_buf_reset(&c->obuf);
	conn_resume_queue(c);
}

static void flush_prep_cb(uv_prepare_t *h)
{
	struct s2s_engine *e = h->data;
	uv_prepare_stop(h);
	struct conn *c;
	while ((c = e->odirty) != NULL) {
		e->odirty = c->onext;
		c->onext = NULL;
		c->oqueued = false;
		conn_flush_out(c);
	}
}

static void conn_send(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->dead || len == 0)
		return;
	if (c->tls != NULL && tls_conn_state(c->tls) != TLS_STATE_ESTABLISHED)
		return; /* nothing legitimate is written during a handshake */
	if (fg_buf_append(&c->obuf, data, len) != FG_OK) {
		conn_kill(c, S2S_FAIL_REFUSED, "out of memory", false);
		return;
	}
	if (!c->oqueued) {
		struct s2s_engine *e = c->e;
		c->oqueued = true;
		c->onext = e->odirty;
		e->odirty = c;
		if (!uv_is_active((const uv_handle_t *)&e->flush_prep))
			uv_prepare_start(&e->flush_prep, flush_prep_cb);
	}
}

/* ---- timers -----------------------------------------------------------------------------------
 */

static void conn_timer_cb(uv_timer_t *t);

static void conn_rearm(struct conn *c)
{
	if (c->dead)
		return;
	int64_t next = c->connect_deadline;
	for (unsigned i = 0; i < XMPP_TIMER__COUNT; i++) {
		if (c->deadline[i] != 0 && (next == 0 || c->deadline[i] < next))
			next = c->deadline[i];
	}
	if (next == 0) {
		uv_timer_stop(&c->timer);
		return;
	}
	int64_t now = now_ms(c->e);
	uv_timer_start(&c->timer, conn_timer_cb, next > now ? (uint64_t)(next - now) : 0, 0);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	if (c->oqueued) {
		/* closed in this turn, before the prepare handle ran */
		struct conn **pp = &c->e->odirty;
		while (*pp != NULL && *pp != c)
			pp = &(*pp)->onext;
		if (*pp == c)
			*pp = c->onext;
	}
	fg_buf_free(&c->obuf);
	xmpp_s2s_free(c->m);
	xmpp_stream_free(c->sniff);
	xmpp_stream_free(c->trace);
	tls_conn_free(c->tls);
	tls_info_free(c->ti);
	text_free(&c->local);
	text_free(&c->remote);
	text_free(&c->last_error);
	s2s__conf_unref(c->conf);
	if (c->o != NULL && c->o->q != NULL)
		resolve_cancel(c->o->q);
	free(c->o);
	verifies_free(c);
	struct s2s_engine *e = c->e;
	free(c);
	engine_unref(e);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (h != (uv_handle_t *)&c->timer)
		free(h);
	if (--c->handles == 0)
		conn_free(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)status;
	uv_handle_t *h = (uv_handle_t *)req->handle;
	free(req);
	if (!uv_is_closing(h))
		uv_close(h, conn_handle_closed);
}

static void tcp_close(struct conn *c, bool graceful)
{
	if (c->tcp == NULL)
		return;
	uv_tcp_t *t = c->tcp;
	c->tcp = NULL;
	bool was_open = c->tcp_open;
	c->tcp_open = false;
	uv_read_stop((uv_stream_t *)t);
	/* while the engine stops, handles close now: the loop is about to end */
	if (graceful && was_open && !c->e->stopping) {
		uv_shutdown_t *req = malloc(sizeof(*req));
		if (req != NULL && uv_shutdown(req, (uv_stream_t *)t, shutdown_cb) == 0)
			return;
		free(req);
	}
	uv_close((uv_handle_t *)t, conn_handle_closed);
}

static void verifies_fail(struct conn *c);

/* Ends a connection: no more machine calls; queued stanzas bounce; handles close and the
 * connection is freed once they have. */
static void conn_kill(struct conn *c, enum s2s_fail fail, const char *why, bool graceful)
{
	if (c->dead)
		return;
	if (graceful)
		conn_flush_out(c); /* what was written before the close goes first */
	if (c->dead)
		return; /* that write failed and ended the connection */
	c->dead = true;
	if (why != NULL && why[0] != '\0' && c->last_error[0] == '\0')
		(void)text_set(&c->last_error, why, S2S_TEXT_MAX);
	if (c->tls != NULL && graceful && tls_conn_state(c->tls) == TLS_STATE_ESTABLISHED) {
		/* close_notify (RFC 5246 §7.2.1); a write error here cannot re-enter: dead */
		tls_conn_close(c->tls);
		tls_pump(c);
	}
	if (c->o != NULL && c->o->q != NULL) {
		resolve_cancel(c->o->q);
		c->o->q = NULL;
	}
	c->e->n_conns--;
	out_unindex(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (c->e->conns == c)
		c->e->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	conn_bounce_all(c, fail == S2S_FAIL_NONE ? S2S_FAIL_REFUSED : fail,
	                c->last_error[0] ? c->last_error : "connection closed");
	verifies_fail(c);
	c->state = CS_CLOSED;
	conn_status(c);
	vev(c, S2S_VEV_CLOSED, c->last_error);
	if (c->authenticated || c->out)
		fg_log(c->authenticated ? FG_LOG_INFO : FG_LOG_WARN, S2S_SUBSYS,
		       "%s stream %s %s %s closed%s%s", c->out ? "outgoing" : "incoming", c->local,
		       c->out ? "->" : "<-", c->remote[0] ? c->remote : c->addr,
		       c->last_error[0] ? ": " : "", c->last_error);
	tcp_close(c, graceful);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

/* ---- the machine's actions --------------------------------------------------------------------
 */

static void conn_timer_arm(struct conn *c, enum xmpp_timer t, int64_t deadline)
{
	if ((unsigned)t < XMPP_TIMER__COUNT) {
		c->deadline[t] = deadline;
		conn_rearm(c);
	}
}

static struct tls_creds *sni_cb(void *ctx, const char *server_name)
{
	struct conn *c = ctx;
	int i = s2s__conf_domain(c->conf, server_name);
	if (i >= 0 && c->conf->creds[i] != NULL)
		return c->conf->creds[i];
	i = s2s__conf_domain(c->conf, c->local);
	if (i >= 0)
		return c->conf->creds[i];
	return NULL;
}

static struct tls_creds *default_creds(const struct s2s_conf *conf, const char *local)
{
	int i = s2s__conf_domain(conf, local);
	if (i >= 0 && conf->creds[i] != NULL)
		return conf->creds[i];
	for (size_t k = 0; k < conf->n_domains; k++) {
		if (conf->creds[k] != NULL)
			return conf->creds[k];
	}
	return NULL;
}

static enum fg_err conn_tls_new(struct conn *c)
{
	struct tls_config cfg = {0};
	if (c->out) {
		cfg.role = TLS_ROLE_CLIENT;
		cfg.creds = s2s__conf_creds_for(c->conf, c->local, c->remote);
		cfg.trust = c->conf->trust;
		cfg.server_name = c->remote;
	} else {
		cfg.role = TLS_ROLE_SERVER;
		cfg.creds = default_creds(c->conf, c->local);
		cfg.select_creds = sni_cb;
		cfg.select_ctx = c;
		cfg.trust = c->conf->trust;
		cfg.require_client_cert = c->conf->xcfg.require_client_cert && c->conf->trust;
	}
	return tls_conn_new(&c->tls, &cfg);
}

static void conn_start_tls(struct conn *c)
{
	/* <proceed/> (or <starttls/>) and whatever came before it leave in the clear first */
	conn_flush_out(c);
	if (c->dead)
		return;
	if (conn_tls_new(c) != FG_OK) {
		conn_kill(c, S2S_FAIL_TLS, "TLS could not start (no certificate or CA bundle)",
		          false);
		return;
	}
	conn_set_state(c, CS_TLS);
	tls_pump(c); /* the client's hello */
}

static const char *judge(const struct s2s_conf *nc, const struct conn *c,
                         enum xmpp_stream_error *cond, bool check_policy);
static void conn_dialback_verify(struct conn *c, const struct xmpp_action *a);
static void conn_verify_result(struct conn *c, const struct xmpp_action *a);
static void route_in(struct conn *c, const char *local, const char *remote,
                     const struct xmpp_node *n);

static void conn_action(void *ctx, const struct xmpp_action *a)
{
	struct conn *c = ctx;
	if (c->dead && a->kind != XMPP_ACT_CLOSE)
		return;
	switch (a->kind) {
	case XMPP_ACT_SEND:
		if (c->faking)
			break;
		conn_send(c, a->data, a->len);
		break;
	case XMPP_ACT_START_TLS:
		if (!c->faking)
			conn_start_tls(c);
		break;
	case XMPP_ACT_AUTHENTICATED:
		if (!c->authenticated) {
			c->authenticated = true;
			c->method = a->method;
			if (!c->out) {
				(void)text_set(&c->local, a->local, DB_DOMAIN_MAX);
				(void)text_set(&c->remote, a->remote, DB_DOMAIN_MAX);
			}
			c->since_ms = fg_now_ms();
		}
		fg_log(FG_LOG_INFO, S2S_SUBSYS, "%s stream %s %s %s authenticated (%s%s%s)",
		       c->out ? "outgoing" : "incoming", a->local, c->out ? "->" : "<-", a->remote,
		       s2s__auth_name(a->method), c->tls_up ? ", " : "",
		       c->tls_up ? tinfo(c)->tls_version : "");
		if (c->out) {
			fault_clear(c->e, "dns", c->remote);
			fault_clear(c->e, "connect", c->remote);
			fault_clear(c->e, "tls", c->remote);
			fault_clear(c->e, "cert", c->remote);
			fault_clear(c->e, "dialback", c->remote);
			c->need_flush = true;
			kick(c->e);
		} else {
			fault_clear(c->e, "dialback", a->remote);
			if (c->tls_up && tls_conn_peer_verified(c->tls))
				fault_clear(c->e, "cert", a->remote);
		}
		c->state = CS_ESTABLISHED;
		conn_status(c);
		vev(c, S2S_VEV_AUTH, "");
		/* the allow list's TLS and authentication requirements for this peer */
		c->close_why = judge(c->conf, c, &c->close_cond, false);
		if (c->close_why != NULL)
			kick(c->e);
		break;
	case XMPP_ACT_DIALBACK_VERIFY:
		conn_dialback_verify(c, a);
		break;
	case XMPP_ACT_VERIFY_RESULT:
		conn_verify_result(c, a);
		break;
	case XMPP_ACT_DELIVER:
		route_in(c, a->local, a->remote, a->stanza);
		break;
	case XMPP_ACT_CLOSE: {
		char why[S2S_TEXT_MAX];
		enum s2s_fail f = S2S_FAIL_REFUSED;
		if (a->condition == XMPP_SE_CONNECTION_TIMEOUT)
			f = S2S_FAIL_TIMEOUT;
		else if (a->condition == XMPP_SE_NOT_AUTHORIZED ||
		         a->condition == XMPP_SE_INVALID_FROM)
			f = S2S_FAIL_AUTH;
		else if (a->condition == XMPP_SE_POLICY_VIOLATION)
			f = S2S_FAIL_POLICY;
		else if (a->condition == XMPP_SE_SYSTEM_SHUTDOWN)
			f = S2S_FAIL_SHUTDOWN;
		if (a->condition != XMPP_SE_NONE)
			s2s__fmt(why, sizeof(why), "%s (%s)", a->text ? a->text : "stream error",
			         xmpp_stream_error_name(a->condition));
		else
			s2s__fmt(why, sizeof(why), "%s", a->text ? a->text : "closed");
		conn_kill(c, f, why, true);
		break;
	}
	case XMPP_ACT_TIMER_ARM:
		conn_timer_arm(c, a->timer, a->deadline_ms);
		break;
	case XMPP_ACT_TIMER_CANCEL:
		conn_timer_arm(c, a->timer, 0);
		break;
	}
}

static void conn_timer_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	int64_t now = now_ms(c->e);
	if (c->dead)
		return;
	if (c->connect_deadline != 0 && now >= c->connect_deadline) {
		c->connect_deadline = 0;
		/* the connect attempt ran out of time: close it, the close moves on */
		if (c->o != NULL) {
			c->o->any_timeout = true;
			size_t len = strlen(c->o->tried);
			s2s__fmt(c->o->tried + len, sizeof(c->o->tried) - len, "%s%s timed out",
			         len ? "; " : "", c->addr);
		}
		if (c->tcp != NULL) {
			uv_tcp_t *tcp = c->tcp;
			c->tcp = NULL;
			uv_close((uv_handle_t *)tcp, conn_handle_closed);
		}
		out_begin(c); /* next address */
		return;
	}
	for (unsigned i = 0; i < XMPP_TIMER__COUNT && !c->dead; i++) {
		if (c->deadline[i] != 0 && now >= c->deadline[i]) {
			/* an outgoing stream is idle when no stanza went either way, not when the
			 * peer is silent (it never sends stanzas on our stream) */
			if (i == XMPP_TIMER_IDLE && c->out &&
			    now - c->last_active_ms < c->conf->idle_timeout_ms) {
				c->deadline[i] = c->last_active_ms + c->conf->idle_timeout_ms;
				continue;
			}
			c->deadline[i] = 0;
			xmpp_s2s_on_timer(c->m, (enum xmpp_timer)i, now);
		}
	}
	conn_rearm(c);
}

/* ---- reading ----------------------------------------------------------------------------------
 */

static bool sniff_header_cb(void *ctx, const struct xmpp_stream_header *h)
{
	struct conn *c = ctx;
	char d[XMPP_MAX_DOMAIN + 1];
	c->sniff_done = true;
	if (h->to != NULL && xmpp_jid_domain(h->to, d, sizeof(d)) && strlen(d) < DB_DOMAIN_MAX)
		(void)text_set(&c->local, d, DB_DOMAIN_MAX);
	if (h->from != NULL && xmpp_jid_domain(h->from, d, sizeof(d)) && strlen(d) < DB_DOMAIN_MAX)
		(void)text_set(&c->remote, d, DB_DOMAIN_MAX);
	if (!c->sniff_after_tls) {
		/* the allow entry of the claimed domain overrides TLS and authentication */
		const struct db_allow_entry *a = s2s__conf_allow(c->conf, c->remote);
		if (a != NULL && !c->direct_tls) {
			c->xcfg.tls_mode = s2s__tls_for_peer(c->conf->xcfg.tls_mode, a);
			if (a->auth == DB_AUTH_DIALBACK)
				c->xcfg.sasl_external_in = false;
			if (a->auth == DB_AUTH_SASL_EXTERNAL)
				c->xcfg.dialback = false;
		}
		/* A domain without a certificate can only federate without TLS. */
		int i = s2s__conf_domain(c->conf, c->local);
		if ((i >= 0 && c->conf->creds[i] == NULL && !c->direct_tls) ||
		    default_creds(c->conf, NULL) == NULL)
			c->xcfg.tls_mode = XMPP_TLS_OFF;
		return false;
	}
	/* RFC 6125 / XEP-0178: the certificate must name the domain the peer claims */
	const uint8_t *der = NULL;
	size_t len = 0;
	if (c->tls != NULL && c->remote[0] != '\0' && tls_conn_peer_verified(c->tls)) {
		tls_conn_peer_cert(c->tls, &der, &len);
		char why[S2S_TEXT_MAX];
		if (len > 0 &&
		    pki_cert_match_xmpp(der, len, c->remote, why, sizeof(why)) != PKI_ID_NONE)
			xmpp_s2s_peer_verified(c->m, c->remote);
		else {
			char cause[2 * S2S_TEXT_MAX];
			s2s__fmt(
			    cause, sizeof(cause),
			    "The certificate presented by the peer claiming %s (%s) does not name "
			    "that domain: %s",
			    c->remote, c->addr, why);
			fg_log(FG_LOG_INFO, S2S_SUBSYS, "%s", cause);
			cert_fault(c, CERT_NAME, cause, 0);
		}
	}
	/* the name check was the last use of the peer's certificate (status keeps ti) */
	if (c->tls != NULL)
		tls_conn_release_peer_cert(c->tls);
	return false;
}

static bool sniff_stanza_cb(void *ctx, const struct xmpp_node *n)
{
	(void)ctx;
	(void)n;
	return false;
}

static void sniff_close_cb(void *ctx)
{
	(void)ctx;
}

static const struct xmpp_stream_ops sniff_ops = {sniff_header_cb, sniff_stanza_cb, sniff_close_cb};

static void sniff_start(struct conn *c, bool after_tls)
{
	struct xmpp_stream_config sc = {.content_ns = XMPP_NS_SERVER};
	xmpp_stream_free(c->sniff);
	c->sniff = NULL;
	c->sniff_after_tls = after_tls;
	c->sniff_done = false;
	if (xmpp_stream_new(&c->sniff, &sc, &sniff_ops, c) != FG_OK)
		c->sniff = NULL;
}

static bool trace_header_cb(void *ctx, const struct xmpp_stream_header *h)
{
	(void)ctx;
	(void)h;
	return true;
}

static bool trace_stanza_cb(void *ctx, const struct xmpp_node *n)
{
	struct conn *c = ctx;
	if (!xmpp_node_is(n, XMPP_NS_STREAMS, "features"))
		return true;
	char text[S2S_TEXT_MAX] = "";
	const struct xmpp_node *tls = xmpp_node_child(n, XMPP_NS_TLS, "starttls");
	if (tls != NULL)
		s2s__fmt(text + strlen(text), sizeof(text) - strlen(text), "STARTTLS%s, ",
		         xmpp_node_child(tls, XMPP_NS_TLS, "required") ? " (required)" : "");
	const struct xmpp_node *m = xmpp_node_child(n, XMPP_NS_SASL, "mechanisms");
	for (const struct xmpp_node *k = m ? m->children : NULL; k != NULL; k = k->next) {
		struct fg_buf t = {0};
		if (k->name != NULL && xmpp_node_text(k, &t) == FG_OK)
			s2s__fmt(text + strlen(text), sizeof(text) - strlen(text), "SASL %s, ",
			         fg_buf_cstr(&t));
		fg_buf_free(&t);
	}
	if (xmpp_node_child(n, "urn:xmpp:features:dialback", "dialback") != NULL)
		s2s__fmt(text + strlen(text), sizeof(text) - strlen(text), "dialback, ");
	size_t len = strlen(text);
	if (len >= 2)
		text[len - 2] = '\0';
	else
		fg_strlcpy(text, "none", sizeof(text));
	vev(c, S2S_VEV_FEATURES, text);
	return true;
}

static const struct xmpp_stream_ops trace_ops = {trace_header_cb, trace_stanza_cb, sniff_close_cb};

static void trace_start(struct conn *c)
{
	struct xmpp_stream_config sc = {.content_ns = XMPP_NS_SERVER};
	xmpp_stream_free(c->trace);
	c->trace = NULL;
	if (c->e->validation != NULL && xmpp_stream_new(&c->trace, &sc, &trace_ops, c) != FG_OK)
		c->trace = NULL;
}

static void deliver_plain(struct conn *c, const uint8_t *buf, size_t len)
{
	if (c->trace != NULL)
		(void)xmpp_stream_feed(c->trace, buf, len);
	if (c->sniff != NULL) {
		enum xmpp_stream_error se = xmpp_stream_feed(c->sniff, buf, len);
		if (se != XMPP_SE_NONE || xmpp_stream_is_closed(c->sniff) || c->sniff_done) {
			xmpp_stream_free(c->sniff);
			c->sniff = NULL;
		}
	}
	xmpp_s2s_feed(c->m, buf, len, now_ms(c->e));
}

/* XEP-0368 direct TLS: the machines know TLS only through STARTTLS (RFC 6120 §5), so the
 * exchange that would have happened in clear is played to the machine locally — its
 * output is dropped — and TLS then "starts", exactly as after <proceed/>. From there the
 * stream is negotiated inside TLS like any other: certificate checks, SASL EXTERNAL, the
 * TLS requirement. */
static void direct_tls_prelude(struct conn *c)
{
	char text[2 * DB_DOMAIN_MAX + 512];
	int64_t now = now_ms(c->e);
	c->faking = true;
	xmpp_s2s_start(c->m, now);
	if (c->out) {
		s2s__fmt(
		    text, sizeof(text),
		    "<stream:stream xmlns='jabber:server' "
		    "xmlns:stream='http://etherx.jabber.org/streams' from='%s' id='direct-tls' "
		    "version='1.0'><stream:features><starttls "
		    "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
		    c->remote);
		xmpp_s2s_feed(c->m, (const uint8_t *)text, strlen(text), now);
		static const char proceed[] = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
		if (!c->dead)
			xmpp_s2s_feed(c->m, (const uint8_t *)proceed, sizeof(proceed) - 1, now);
	} else {
		/* the name the peer asked for (SNI), else a local domain with a certificate */
		const char *to = tls_conn_server_name(c->tls);
		int i = s2s__conf_domain(c->conf, to);
		if (i < 0 || c->conf->creds[i] == NULL) {
			to = NULL;
			for (size_t k = 0; k < c->conf->n_domains && to == NULL; k++) {
				if (c->conf->creds[k] != NULL)
					to = c->conf->domains[k];
			}
		}
		s2s__fmt(text, sizeof(text),
		         "<stream:stream xmlns='jabber:server' "
		         "xmlns:stream='http://etherx.jabber.org/streams' to='%s' "
		         "version='1.0'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		         to ? to : "");
		xmpp_s2s_feed(c->m, (const uint8_t *)text, strlen(text), now);
	}
	c->faking = false;
}

static void conn_tls_up(struct conn *c)
{
	c->tls_up = true;
	if (c->ti == NULL)
		c->ti = calloc(1, sizeof(*c->ti));
	if (c->ti == NULL) {
		conn_kill(c, S2S_FAIL_TLS, "out of memory", false);
		return;
	}
	fg_strlcpy(c->ti->tls_version, tls_conn_version_name(c->tls), sizeof(c->ti->tls_version));
	fg_strlcpy(c->ti->tls_suite, tls_conn_suite_name(c->tls), sizeof(c->ti->tls_suite));
	const uint8_t *der = NULL;
	size_t len = 0;
	tls_conn_peer_cert(c->tls, &der, &len);
	struct pki_cert *pc = NULL;
	if (len > 0 && pki_cert_parse(der, len, &pc) == FG_OK) {
		free(c->ti->peer_subject);
		free(c->ti->peer_issuer);
		c->ti->peer_subject = name_dup(pc->subject);
		c->ti->peer_issuer = name_dup(pc->issuer);
		c->ti->peer_not_after = pc->not_after_ms;
		pki_cert_free(pc);
	}
	bool verified = tls_conn_peer_verified(c->tls);
	if (c->out) {
		char why[S2S_TEXT_MAX] = "";
		enum pki_id_match match =
		    len == 0 ? PKI_ID_NONE
		             : pki_cert_match_xmpp(der, len, c->remote, why, sizeof(why));
		static const char *const match_names[] = {"", "DNS-ID", "SRV-ID", "xmppAddr", "CN"};
		fg_strlcpy(c->ti->name_match, (unsigned)match < 5 ? match_names[match] : "",
		           sizeof(c->ti->name_match));
		vev(c, S2S_VEV_TLS_UP, why);
		trace_start(c);
		if (match == PKI_ID_NONE) {
			char cause[2 * S2S_TEXT_MAX];
			s2s__fmt(cause, sizeof(cause),
			         "The certificate of %s does not name that domain: %s", c->remote,
			         why);
			fault(c->e, "cert", c->remote, "Certificate has the wrong name", cause,
			      "Ask the administrator of that domain for a certificate naming it "
			      "(DNS or SRV name), or set a certificate override in the allow list.",
			      NULL);
			conn_kill(c, S2S_FAIL_TLS, cause, false);
			return;
		}
		tls_conn_release_peer_cert(c->tls); /* the name check above was its last use */
		if (c->direct_tls)
			direct_tls_prelude(c);
		if (!c->dead)
			xmpp_s2s_tls_started(c->m, true, now_ms(c->e));
	} else {
		if (len > 0 && !verified && c->conf->trust != NULL && c->remote[0] != '\0') {
			/* tolerated (TLS optional for client certificates), but worth saying */
			char cause[2 * S2S_TEXT_MAX];
			bool expired =
			    c->ti->peer_not_after != 0 && c->ti->peer_not_after < fg_now_ms();
			s2s__fmt(
			    cause, sizeof(cause),
			    "The certificate %s presented when connecting to this gateway (%s) %s; "
			    "it can only authenticate with dialback.",
			    c->remote, c->addr,
			    expired ? "is expired" : "is not signed by a trusted authority");
			cert_fault(c, expired ? CERT_EXPIRED : CERT_TRUST, cause, 0);
		}
		if (c->direct_tls)
			direct_tls_prelude(c);
		if (!c->dead) {
			sniff_start(c, true);
			xmpp_s2s_tls_started(c->m, verified, now_ms(c->e));
		}
	}
	if (!c->dead && c->state == CS_TLS)
		conn_set_state(c, CS_AUTH);
}

static void conn_tls_failed(struct conn *c)
{
	int code = tls_conn_error_code(c->tls);
	const char *text = tls_conn_error_text(c->tls);
	char cause[2 * S2S_TEXT_MAX];
	/* BearSSL's X.509 errors (BR_ERR_X509_*) are 32..63 */
	bool cert = code >= 32 && code < 64;
	if (c->out) {
		s2s__fmt(cause, sizeof(cause), "TLS with %s (%s) failed: %s", c->remote, c->addr,
		         text);
		if (cert)
			cert_fault(c, cert_problem_of(code), cause, code);
		else
			fault(c->e, "tls", c->remote, "TLS handshake failed", cause,
			      "Check the TLS settings of both sides (TLS 1.2 is required) and the "
			      "peer's certificate.",
			      NULL);
		vev(c, S2S_VEV_TLS_FAILED, cause);
		if (c->xcfg.tls_mode == XMPP_TLS_OPTIONAL && !c->direct_tls &&
		    c->e->validation == NULL && !c->e->stopping) {
			/* TLS optional: the same peer again without TLS, stanzas move along */
			struct conn *n = conn_new(c->e, true, c->local, c->remote);
			if (n != NULL) {
				n->xcfg.tls_mode = XMPP_TLS_OFF;
				n->queue = c->queue;
				memset(&c->queue, 0, sizeof(c->queue));
				/* dialback verifications asked of this stream go on the new one */
				n->verifies = c->verifies;
				n->n_verify = c->n_verify;
				n->cap_verify = c->cap_verify;
				for (size_t i = 0; i < n->n_verify; i++)
					n->verifies[i].sent = false;
				c->verifies = NULL;
				c->n_verify = c->cap_verify = c->verify_in_flight = 0;
				fg_log(FG_LOG_NOTICE, S2S_SUBSYS,
				       "%s; TLS is optional: trying %s again without TLS", cause,
				       c->remote);
				conn_kill(c, S2S_FAIL_TLS, cause, false);
				n->state = CS_RESOLVING;
				out_begin(n);
				return;
			}
		}
	} else {
		s2s__fmt(cause, sizeof(cause), "TLS with incoming peer %s%s%s failed: %s",
		         c->remote[0] ? c->remote : "", c->remote[0] ? " at " : "", c->addr, text);
		fg_log(FG_LOG_INFO, S2S_SUBSYS, "%s", cause);
		/* the domain is known from the stream header sent before STARTTLS */
		if (cert && c->remote[0] != '\0')
			cert_fault(c, cert_problem_of(code), cause, code);
	}
	conn_kill(c, S2S_FAIL_TLS, cause, false);
}

/* The replies a stanza produced leave at once, in order with the records already queued. */
static bool tls_plain_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;
	deliver_plain(c, buf, len);
	if (c->dead)
		return false;
	tls_pump(c);
	return !c->dead;
}

static void conn_feed_tls(struct conn *c, const uint8_t *buf, size_t len)
{
	uint8_t app[APP_BUF];
	while (!c->dead && c->tls != NULL) {
		size_t used = 0;
		if (len > 0 && tls_conn_feed(c->tls, buf, len, &used) != FG_OK) {
			tls_pump(c);
			conn_tls_failed(c);
			return;
		}
		buf += used;
		len -= used;
		tls_pump(c);
		if (c->dead)
			return;
		enum tls_state st = tls_conn_state(c->tls);
		if (st == TLS_STATE_FAILED) {
			conn_tls_failed(c);
			return;
		}
		if (st == TLS_STATE_CLOSED) {
			conn_kill(c, S2S_FAIL_REFUSED, "the peer closed TLS", false);
			return;
		}
		if (st == TLS_STATE_ESTABLISHED && !c->tls_up) {
			conn_tls_up(c);
			if (c->dead)
				return;
		}
		bool got_any = tls_conn_read_all(c->tls, app, sizeof(app), tls_plain_cb, c);
		if (len == 0 && !got_any)
			break;
		if (used == 0 && !got_any)
			break;
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = fg_readbuf_take(&buf->len);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (n > 0 && !c->dead) {
		c->last_io_ms = now_ms(c->e);
		c->compact = false;
		if (c->tls != NULL)
			conn_feed_tls(c, (const uint8_t *)buf->base, (size_t)n);
		else
			deliver_plain(c, (const uint8_t *)buf->base, (size_t)n);
	} else if (n < 0 && !c->dead) {
		if (c->tls != NULL && !c->tls_up) {
			tls_conn_feed_eof(c->tls);
			conn_tls_failed(c);
		} else {
			conn_kill(c, S2S_FAIL_REFUSED,
			          n == UV_EOF ? "the peer closed the connection"
			                      : uv_strerror((int)n),
			          false);
		}
	}
	fg_readbuf_give(buf->base);
}

/* ---- connections ------------------------------------------------------------------------------
 */

static struct conn *conn_new(struct s2s_engine *e, bool out, const char *local, const char *remote)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->e = e;
	c->out = out;
	c->conf = s2s__conf_ref(e->conf);
	c->xcfg = c->conf->xcfg;
	c->local = no_text;
	c->remote = no_text;
	c->last_error = no_text;
	bool names_ok = (local == NULL || text_set(&c->local, local, DB_DOMAIN_MAX)) &&
	                (remote == NULL || text_set(&c->remote, remote, DB_DOMAIN_MAX));
	c->since_ms = fg_now_ms();
	if (out) {
		const struct db_allow_entry *a = s2s__conf_allow(c->conf, remote);
		c->xcfg.tls_mode = s2s__tls_for_peer(c->conf->xcfg.tls_mode, a);
		if (a != NULL && a->auth == DB_AUTH_DIALBACK)
			c->xcfg.sasl_external_out = false;
		if (a != NULL && a->auth == DB_AUTH_SASL_EXTERNAL)
			c->xcfg.dialback = false;
		if (s2s__conf_creds_for(c->conf, local, remote) == NULL)
			c->xcfg.sasl_external_out = false;
		/* TLS as a client needs trust anchors; optional TLS without any goes plain */
		if (c->conf->trust == NULL && c->xcfg.tls_mode == XMPP_TLS_OPTIONAL)
			c->xcfg.tls_mode = XMPP_TLS_OFF;
	} else if (default_creds(c->conf, NULL) == NULL) {
		/* no local domain has a certificate: nothing to offer STARTTLS with */
		c->xcfg.tls_mode = XMPP_TLS_OFF;
	}
	c->last_active_ms = (int64_t)uv_now(e->loop);
	uv_timer_init(e->loop, &c->timer);
	c->timer.data = c;
	c->handles = 1;
	e->refs++;
	if (!names_ok ||
	    xmpp_s2s_new(&c->m, out ? XMPP_S2S_INITIATING : XMPP_S2S_RECEIVING, &c->xcfg,
	                 out ? c->local : NULL, out ? c->remote : NULL, conn_action, c) != FG_OK) {
		c->dead = true;
		uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
		return NULL;
	}
	c->next = e->conns;
	if (e->conns != NULL)
		e->conns->prev = c;
	e->conns = c;
	e->n_conns++;
	if (out)
		out_index(c);
	return c;
}

static void peer_addr_text(uv_tcp_t *t, char *out, size_t outsize)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[64] = "?";
	unsigned port = 0;
	if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(s6, host, sizeof(host));
			port = ntohs(s6->sin6_port);
			s2s__fmt(out, outsize, "[%s]:%u", host, port);
			return;
		}
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		uv_ip4_name(s4, host, sizeof(host));
		port = ntohs(s4->sin_port);
	}
	s2s__fmt(out, outsize, "%s:%u", host, port);
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct s2s_engine *e = l->e;
	if (status < 0 || e->stopping)
		return;
	uv_tcp_t *t = malloc(sizeof(*t));
	if (t == NULL)
		return;
	uv_tcp_init(e->loop, t);
	if (uv_accept(server, (uv_stream_t *)t) != 0 || !e->conf->enabled ||
	    e->n_conns >= MAX_CONNS) {
		uv_close((uv_handle_t *)t, (uv_close_cb)free);
		return;
	}
	struct conn *c = conn_new(e, false, NULL, NULL);
	if (c == NULL) {
		uv_close((uv_handle_t *)t, (uv_close_cb)free);
		return;
	}
	t->data = c;
	c->tcp = t;
	c->tcp_open = true;
	c->handles++;
	uv_tcp_nodelay(t, 1);
	peer_addr_text(t, c->addr, sizeof(c->addr));
	c->state = CS_STREAM;
	c->direct_tls = l->direct_tls;
	if (c->direct_tls) {
		/* XEP-0368: TLS from the first byte; the stream is negotiated inside it */
		if (c->xcfg.tls_mode == XMPP_TLS_OFF)
			c->xcfg.tls_mode = XMPP_TLS_OPTIONAL;
		if (conn_tls_new(c) != FG_OK) {
			conn_kill(c, S2S_FAIL_TLS, "no certificate for direct TLS", false);
			return;
		}
		c->state = CS_TLS;
	} else {
		sniff_start(c, false);
		xmpp_s2s_start(c->m, now_ms(e));
	}
	uv_read_start((uv_stream_t *)t, alloc_cb, read_cb);
}

/* ---- dialback across streams (XEP-0220 §2.1.2-2.1.4) ------------------------------------------
 */

static struct conn *find_out(struct s2s_engine *e, const char *local, const char *remote)
{
	for (struct conn *c = e->out_hash[pair_hash(local, remote)]; c != NULL; c = c->hnext) {
		if (!c->dead && strcasecmp(c->local, local) == 0 &&
		    strcasecmp(c->remote, remote) == 0)
			return c;
	}
	return NULL;
}

static struct conn *out_open(struct s2s_engine *e, const char *local, const char *remote)
{
	struct conn *c = find_out(e, local, remote);
	if (c != NULL)
		return c;
	c = conn_new(e, true, local, remote);
	if (c == NULL)
		return NULL;
	c->state = CS_RESOLVING;
	conn_status(c);
	out_begin(c);
	return c->dead ? NULL : c;
}

static void verify_send(struct conn *o, struct verify_req *v)
{
	if (v->key == NULL || v->sent || o->verify_in_flight >= S2S_VERIFY_IN_FLIGHT)
		return;
	enum fg_err err = xmpp_s2s_send_verify(o->m, v->local, v->remote, v->stream_id, v->key);
	if (err == FG_OK) {
		v->sent = true;
		o->verify_in_flight++;
	} else if (err != FG_ERR_AGAIN) {
		fg_log(FG_LOG_WARN, S2S_SUBSYS, "cannot send the dialback verification for %s",
		       v->remote);
	}
	/* FG_ERR_AGAIN: the machine still counts the answer being delivered; the next answer
	 * or the stream's authentication sends it */
}

/* XEP-0220 §2.1.2: ask the originating domain's authoritative server. On a stream that
 * may authenticate with SASL EXTERNAL the request waits until SASL is over (success, or
 * our own <db:result> shows dialback began): a <db:verify> answer arriving during SASL
 * would be taken for a protocol error. Waiting for dialback itself would deadlock two
 * servers verifying each other, so that is never done. */
static void conn_dialback_verify(struct conn *c, const struct xmpp_action *a)
{
	struct s2s_engine *e = c->e;
	struct conn *o = out_open(e, a->local, a->remote);
	if (o == NULL || o->n_verify >= S2S_MAX_VERIFY) {
		fg_log(FG_LOG_WARN, S2S_SUBSYS, "cannot verify %s's dialback key for %s", a->remote,
		       a->local);
		return; /* the machine's dialback timer answers the peer */
	}
	if (o->n_verify == o->cap_verify) {
		/* grows as peers ask; most servers verify one or two keys at a time */
		size_t cap = o->cap_verify ? 2 * o->cap_verify : 4;
		if (cap > S2S_MAX_VERIFY)
			cap = S2S_MAX_VERIFY;
		struct verify_req *nv = realloc(o->verifies, cap * sizeof(*nv));
		if (nv == NULL)
			return;
		memset(nv + o->cap_verify, 0, (cap - o->cap_verify) * sizeof(*nv));
		o->verifies = nv;
		o->cap_verify = cap;
	}
	struct verify_req *v = &o->verifies[o->n_verify];
	v->sent = false;
	v->key = strdup(a->key);
	if (v->key == NULL)
		return;
	fg_strlcpy(v->local, a->local, sizeof(v->local));
	fg_strlcpy(v->remote, a->remote, sizeof(v->remote));
	fg_strlcpy(v->stream_id, a->stream_id, sizeof(v->stream_id));
	o->n_verify++;
	verify_send(o, v);
}

static void verifies_flush(struct conn *o)
{
	for (size_t i = 0; i < o->n_verify && o->verify_in_flight < S2S_VERIFY_IN_FLIGHT; i++)
		verify_send(o, &o->verifies[i]);
}

static void verifies_free(struct conn *c)
{
	for (size_t i = 0; c->verifies != NULL && i < c->n_verify; i++) {
		if (c->verifies[i].key != NULL) {
			explicit_bzero(c->verifies[i].key, strlen(c->verifies[i].key));
			free(c->verifies[i].key);
		}
	}
	free(c->verifies);
}

static struct conn *find_in_by_stream(struct s2s_engine *e, const char *stream_id)
{
	for (struct conn *c = e->conns; c != NULL; c = c->next) {
		if (!c->out && !c->dead && strcmp(xmpp_s2s_stream_id(c->m), stream_id) == 0)
			return c;
	}
	return NULL;
}

static void answer_verify(struct s2s_engine *e, const char *local, const char *remote,
                          const char *stream_id, bool valid, const char *why)
{
	struct conn *in = find_in_by_stream(e, stream_id);
	if (!valid) {
		char cause[3 * DB_DOMAIN_MAX];
		s2s__fmt(cause, sizeof(cause),
		         "A peer claiming to be %s connected to %s, and %s's authoritative server "
		         "%s",
		         remote, local, remote, why);
		fault(e, "dialback", remote, "Dialback failed", cause,
		      "If the peer really is that domain, check that its DNS SRV records point to "
		      "its own server and that the dialback secret did not change mid-session; "
		      "otherwise nothing to do (the connection was refused).",
		      NULL);
	}
	if (in != NULL)
		xmpp_s2s_dialback_result(in->m, local, remote, stream_id, valid, now_ms(e));
}

static void conn_verify_result(struct conn *c, const struct xmpp_action *a)
{
	for (size_t i = 0; i < c->n_verify; i++) {
		if (strcmp(c->verifies[i].stream_id, a->stream_id) != 0)
			continue;
		if (c->verifies[i].key != NULL) {
			explicit_bzero(c->verifies[i].key, strlen(c->verifies[i].key));
			free(c->verifies[i].key);
		}
		if (c->verifies[i].sent && c->verify_in_flight > 0)
			c->verify_in_flight--;
		c->verifies[i] = c->verifies[c->n_verify - 1];
		memset(&c->verifies[c->n_verify - 1], 0, sizeof(c->verifies[0]));
		c->n_verify--;
		/* the next waiting request takes the freed place */
		verifies_flush(c);
		break;
	}
	answer_verify(c->e, a->local, a->remote, a->stream_id, a->valid,
	              a->valid ? "" : "said the key is not valid (or did not answer)");
}

static void verifies_fail(struct conn *c)
{
	for (size_t i = 0; i < c->n_verify; i++) {
		char why[S2S_TEXT_MAX + 32];
		s2s__fmt(why, sizeof(why), "could not be reached (%s)",
		         c->last_error[0] ? c->last_error : "connection failed");
		answer_verify(c->e, c->verifies[i].local, c->verifies[i].remote,
		              c->verifies[i].stream_id, false, why);
		if (c->verifies[i].key != NULL) {
			explicit_bzero(c->verifies[i].key, strlen(c->verifies[i].key));
			free(c->verifies[i].key);
			c->verifies[i].key = NULL;
		}
	}
	c->n_verify = 0;
	c->verify_in_flight = 0;
}

/* ---- outbound: SRV, candidates, addresses, connect (RFC 6120 §3.2, XEP-0368) ------------------
 */

static void out_fail(struct conn *c, enum s2s_fail f, const char *why)
{
	(void)text_set(&c->last_error, why, S2S_TEXT_MAX);
	conn_kill(c, f, why, false);
}

static void out_next_addr(struct conn *c);

static void out_all_failed(struct conn *c)
{
	struct out_ctx *o = c->o;
	char cause[2 * S2S_TEXT_MAX];
	if (!o->any_addr) {
		s2s__fmt(cause, sizeof(cause), "No address found for the servers of %s", c->remote);
		fault(c->e, "dns", c->remote, "No address for the XMPP server", cause,
		      "Ask the administrator of that domain to publish A/AAAA records for the "
		      "targets of its _xmpp-server._tcp SRV records, or set a static route in the "
		      "allow list.",
		      o->dns_text);
		out_fail(c, S2S_FAIL_DNS, cause);
		return;
	}
	s2s__fmt(cause, sizeof(cause), "Could not connect to the servers of %s: %s", c->remote,
	         o->tried);
	fault(c->e, "connect", c->remote,
	      o->any_timeout ? "Connection timed out" : "Connection refused", cause,
	      "Check that the peer's server is up and that firewalls let TCP 5269 (or the SRV "
	      "port) through from this gateway.",
	      NULL);
	out_fail(c, o->any_timeout ? S2S_FAIL_TIMEOUT : S2S_FAIL_REFUSED, cause);
}

static void out_next_cand(struct conn *c);

static void addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct conn *c = ctx;
	struct out_ctx *o = c->o;
	o->q = NULL;
	o->n_addrs = 0;
	o->addr_i = 0;
	if (ans->status == RESOLVE_OK) {
		for (size_t i = 0; i < ans->n && o->n_addrs < RESOLVE_MAX_ADDRS; i++)
			fg_strlcpy(o->addrs[o->n_addrs++], ans->addrs[i], sizeof(o->addrs[0]));
	} else {
		s2s__fmt(o->dns_text, sizeof(o->dns_text), "%s: %s", o->cands[o->cand_i].host,
		         ans->text ? ans->text : resolve_status_name(ans->status));
	}
	if (o->n_addrs > 0)
		o->any_addr = true;
	out_next_addr(c);
}

static void out_next_cand(struct conn *c)
{
	struct out_ctx *o = c->o;
	if (o->cand_started)
		o->cand_i++;
	o->cand_started = true;
	o->n_addrs = o->addr_i = 0;
	if (o->cand_i >= o->n_cands) {
		out_all_failed(c);
		return;
	}
	if (resolve_addr(c->e->resolver, o->cands[o->cand_i].host, addr_cb, c, &o->q) != FG_OK)
		out_fail(c, S2S_FAIL_DNS, "the resolver refused the lookup");
}

static void connect_cb(uv_connect_t *req, int status)
{
	uv_tcp_t *t = (uv_tcp_t *)req->handle;
	free(req);
	struct conn *c = t->data;
	if (status == UV_ECANCELED || c->dead || c->tcp != t)
		return;
	c->connect_deadline = 0;
	conn_rearm(c);
	if (status < 0) {
		struct out_ctx *o = c->o;
		if (status == UV_ECONNREFUSED)
			o->any_refused = true;
		if (status == UV_ETIMEDOUT)
			o->any_timeout = true;
		size_t len = strlen(o->tried);
		s2s__fmt(o->tried + len, sizeof(o->tried) - len, "%s%s %s", len ? "; " : "",
		         c->addr, status == UV_ECONNREFUSED ? "refused" : uv_strerror(status));
		c->tcp = NULL;
		uv_close((uv_handle_t *)t, conn_handle_closed);
		out_next_addr(c);
		return;
	}
	c->tcp_open = true;
	uv_tcp_nodelay(t, 1);
	struct dns_candidate *cand = &c->o->cands[c->o->cand_i];
	c->direct_tls = cand->direct_tls;
	free(c->o);
	c->o = NULL;
	fg_log(FG_LOG_INFO, S2S_SUBSYS, "connected to %s for %s -> %s%s", c->addr, c->local,
	       c->remote, c->direct_tls ? " (direct TLS)" : "");
	uv_read_start((uv_stream_t *)t, alloc_cb, read_cb);
	vev(c, S2S_VEV_CONNECTED, "");
	trace_start(c);
	if (c->direct_tls) {
		conn_start_tls(c);
		return;
	}
	conn_set_state(c, CS_STREAM);
	xmpp_s2s_start(c->m, now_ms(c->e));
}

static void out_next_addr(struct conn *c)
{
	struct out_ctx *o = c->o;
	if (c->dead)
		return;
	if (o->addr_i >= o->n_addrs) {
		out_next_cand(c);
		return;
	}
	const char *addr = o->addrs[o->addr_i++];
	uint16_t port = o->cands[o->cand_i].port;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		s2s__fmt(c->addr, sizeof(c->addr), "[%s]:%u", addr, port);
		if (uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss) != 0) {
			out_next_addr(c);
			return;
		}
	} else {
		s2s__fmt(c->addr, sizeof(c->addr), "%s:%u", addr, port);
		if (uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss) != 0) {
			out_next_addr(c);
			return;
		}
	}
	uv_tcp_t *t = malloc(sizeof(*t));
	uv_connect_t *req = malloc(sizeof(*req));
	if (t == NULL || req == NULL) {
		free(t);
		free(req);
		out_fail(c, S2S_FAIL_REFUSED, "out of memory");
		return;
	}
	uv_tcp_init(c->e->loop, t);
	t->data = c;
	c->handles++;
	c->tcp = t;
	conn_set_state(c, CS_CONNECTING);
	int err = uv_tcp_connect(req, t, (const struct sockaddr *)&ss, connect_cb);
	if (err != 0) {
		free(req);
		c->tcp = NULL;
		uv_close((uv_handle_t *)t, conn_handle_closed);
		size_t len = strlen(o->tried);
		s2s__fmt(o->tried + len, sizeof(o->tried) - len, "%s%s %s", len ? "; " : "",
		         c->addr, uv_strerror(err));
		out_next_addr(c);
		return;
	}
	c->connect_deadline = now_ms(c->e) + c->conf->connect_timeout_ms;
	conn_rearm(c);
}

static void srv_done(struct conn *c)
{
	struct out_ctx *o = c->o;
	struct dns_xmpp_records rec = {
	    .domain = c->remote,
	    .xmpps = o->xmpps,
	    .n_xmpps = o->n_xmpps,
	    .xmpp = o->xmpp,
	    .n_xmpp = o->n_xmpp,
	    .allow_direct_tls = c->xcfg.tls_mode != XMPP_TLS_OFF,
	};
	enum dns_xmpp_result res;
	if (dns_xmpp_candidates(&rec, NULL, NULL, o->cands, S2S_MAX_CANDIDATES, &o->n_cands,
	                        &res) != FG_OK) {
		out_fail(c, S2S_FAIL_DNS, "the SRV answer could not be used");
		return;
	}
	if (res == DNS_XMPP_NO_SERVICE) {
		char cause[S2S_TEXT_MAX + DB_DOMAIN_MAX];
		s2s__fmt(cause, sizeof(cause),
		         "%s publishes that it offers no XMPP federation "
		         "(SRV target \".\")",
		         c->remote);
		fault(c->e, "dns", c->remote, "Domain offers no XMPP federation", cause,
		      "Ask the administrator of that domain whether it federates at all.", NULL);
		out_fail(c, S2S_FAIL_DNS, cause);
		return;
	}
	if (res == DNS_XMPP_FALLBACK &&
	    (o->st_xmpp == RESOLVE_SERVFAIL || o->st_xmpp == RESOLVE_TIMEOUT)) {
		char cause[S2S_TEXT_MAX + DB_DOMAIN_MAX];
		s2s__fmt(cause, sizeof(cause), "The DNS lookup of _xmpp-server._tcp.%s failed: %s",
		         c->remote, o->dns_text);
		fault(
		    c->e, "dns", c->remote, "DNS lookup failed", cause,
		    "Check the DNS servers in the XMPP settings (xmpp.dns_servers) and that they "
		    "answer for that domain; ask the domain's administrator if its DNS is broken.",
		    NULL);
		out_fail(c, s2s__resolve_fail(o->st_xmpp), cause);
		return;
	}
	out_next_cand(c);
}

static void srv_xmpp_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct conn *c = ctx;
	struct out_ctx *o = c->o;
	o->q = NULL;
	o->st_xmpp = ans->status;
	if (ans->status == RESOLVE_OK) {
		for (size_t i = 0; i < ans->n && o->n_xmpp < DNS_MAX_SRV; i++)
			o->xmpp[o->n_xmpp++] = ans->records[i];
	} else {
		s2s__fmt(o->dns_text, sizeof(o->dns_text), "%s",
		         ans->text ? ans->text : resolve_status_name(ans->status));
	}
	srv_done(c);
}

static void srv_lookup_xmpp(struct conn *c)
{
	char name[DB_DOMAIN_MAX + 32];
	s2s__fmt(name, sizeof(name), "_xmpp-server._tcp.%s", c->remote);
	if (resolve_srv(c->e->resolver, name, srv_xmpp_cb, c, &c->o->q) != FG_OK)
		out_fail(c, S2S_FAIL_DNS, "the resolver refused the lookup");
}

static void srv_xmpps_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct conn *c = ctx;
	struct out_ctx *o = c->o;
	o->q = NULL;
	o->st_xmpps = ans->status;
	if (ans->status == RESOLVE_OK) {
		for (size_t i = 0; i < ans->n && o->n_xmpps < DNS_MAX_SRV; i++)
			o->xmpps[o->n_xmpps++] = ans->records[i];
	}
	srv_lookup_xmpp(c);
}

/* Starts (or continues after a timed-out connect) the way to the remote's server. */
static void out_begin(struct conn *c)
{
	if (c->dead)
		return;
	if (c->o != NULL) {
		out_next_addr(c);
		return;
	}
	c->o = calloc(1, sizeof(*c->o));
	if (c->o == NULL) {
		out_fail(c, S2S_FAIL_REFUSED, "out of memory");
		return;
	}
	if (c->xcfg.tls_mode == XMPP_TLS_REQUIRED && c->conf->trust == NULL) {
		char cause[S2S_TEXT_MAX];
		s2s__fmt(cause, sizeof(cause),
		         "TLS is required towards %s but no CA bundle is "
		         "uploaded to check its certificate",
		         c->remote);
		fault(c->e, "cert", c->remote, "No CA bundle to check certificates", cause,
		      "Upload the CA certificates that sign your peers' certificates (Certificates "
		      "screen, CA bundle), allow the system CA set, or make TLS optional.",
		      NULL);
		out_fail(c, S2S_FAIL_TLS, cause);
		return;
	}
	const struct db_allow_entry *a = s2s__conf_allow(c->conf, c->remote);
	if (a != NULL && a->server[0] != '\0') {
		/* the allow list's static route replaces DNS SRV */
		fg_strlcpy(c->o->cands[0].host, a->server, sizeof(c->o->cands[0].host));
		c->o->cands[0].port = a->port ? a->port : DNS_XMPP_SERVER_PORT;
		c->o->n_cands = 1;
		c->o->static_route = true;
		out_next_cand(c);
		return;
	}
	if (c->e->resolver == NULL) {
		out_fail(c, S2S_FAIL_DNS, "no DNS resolver");
		return;
	}
	if (c->xcfg.tls_mode != XMPP_TLS_OFF) {
		char name[DB_DOMAIN_MAX + 32];
		s2s__fmt(name, sizeof(name), "_xmpps-server._tcp.%s", c->remote);
		if (resolve_srv(c->e->resolver, name, srv_xmpps_cb, c, &c->o->q) != FG_OK)
			out_fail(c, S2S_FAIL_DNS, "the resolver refused the lookup");
		return;
	}
	srv_lookup_xmpp(c);
}

/* ---- routing ------------------------------------------------------------------------------------
 */

struct send_ctx {
	struct conn *c;
	enum fg_err err;
};

static void send_node_cb(void *ctx, const struct xmpp_node *n)
{
	struct send_ctx *s = ctx;
	s->err = xmpp_s2s_send_stanza(s->c->m, n);
}

static void conn_flush_queue(struct conn *c)
{
	struct s2s_item *it;
	if (!c->dead && c->authenticated)
		verifies_flush(c);
	while (!c->dead && c->authenticated && !conn_write_busy(c) &&
	       (it = s2s__queue_pop(&c->queue)) != NULL) {
		struct send_ctx s = {c, FG_ERR_PARSE};
		if (it->routed)
			s.err = xmpp_s2s_send_bytes(c->m, c->local, c->remote, it->data, it->len);
		else
			(void)s2s__parse_stanza(it->data, it->len, send_node_cb, &s);
		if (s.err == FG_OK) {
			c->stanzas_out++;
			c->status_dirty = true;
			c->last_active_ms = now_ms(c->e);
			c->e->cnt_out++;
			done_push(c->e, it->cb, it->ctx, XMPP_SC__COUNT, "");
		} else {
			bounce(c->e, it->data, it->len, it->cb, it->ctx,
			       XMPP_SC_UNDEFINED_CONDITION,
			       "the stanza could not be sent on the stream");
		}
		s2s__item_free(it);
	}
}

/* One routing decision for one parsed stanza (RFC 6120 §10). */
struct route_ctx {
	struct s2s_engine *e;
	const uint8_t *data;
	size_t len;
	s2s_sent_cb cb;
	void *ctx;
	bool seen;
	bool policy_reply; /* the error answering a denied stanza: not judged again */
};

static void bounce_node(struct s2s_engine *e, const struct xmpp_node *n, s2s_sent_cb cb, void *ctx,
                        enum xmpp_stanza_cond cond, const char *text)
{
	status_counter_add("xmpp.bounces", 1);
	struct bounce_ctx b = {e, cond, text};
	bounce_node_cb(&b, n);
	done_push(e, cb, ctx, cond, text);
}

static void route_node_cb(void *arg, const struct xmpp_node *n)
{
	struct route_ctx *r = arg;
	struct s2s_engine *e = r->e;
	char from_dom[XMPP_MAX_DOMAIN + 1], to_dom[XMPP_MAX_DOMAIN + 1];
	const char *from = xmpp_node_attr(n, "from"), *to = xmpp_node_attr(n, "to");
	r->seen = true;
	if (from == NULL || to == NULL || !xmpp_jid_domain(from, from_dom, sizeof(from_dom)) ||
	    !xmpp_jid_domain(to, to_dom, sizeof(to_dom))) {
		done_push(e, r->cb, r->ctx, XMPP_SC_BAD_REQUEST,
		          "not a stanza with 'to' and 'from'");
		return;
	}
	struct s2s_conf *conf = e->conf;
	if (s2s__conf_domain(conf, to_dom) >= 0) {
		/* between two local domains: no federation involved */
		route_local_node(e, n);
		done_push(e, r->cb, r->ctx, XMPP_SC__COUNT, "");
		return;
	}
	if (s2s__conf_domain(conf, from_dom) < 0) {
		done_push(e, r->cb, r->ctx, XMPP_SC_NOT_ALLOWED, "'from' is not a local domain");
		return;
	}
	if (!conf->enabled || e->stopping) {
		bounce_node(e, n, r->cb, r->ctx, XMPP_SC_SERVICE_UNAVAILABLE,
		            "XMPP federation is turned off");
		return;
	}
	struct policy_verdict v;
	policy_check(conf->policy, to_dom, POLICY_OUTGOING, &v);
	if (!v.allow && !r->policy_reply) {
		fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "stanza from %s to %s refused by policy rule %s",
		       from_dom, to_dom, v.rule);
		bounce_node(e, n, r->cb, r->ctx, XMPP_SC_POLICY_VIOLATION, "denied by policy");
		return;
	}
	struct conn *c = find_out(e, from_dom, to_dom);
	if (c != NULL && c->authenticated && c->queue.n == 0 && !c->need_flush &&
	    !conn_write_busy(c) && xmpp_s2s_send_stanza(c->m, n) == FG_OK) {
		c->stanzas_out++;
		c->status_dirty = true;
		c->last_active_ms = now_ms(e);
		c->e->cnt_out++;
		done_push(e, r->cb, r->ctx, XMPP_SC__COUNT, "");
		return;
	}
	if (c == NULL) {
		c = out_open(e, from_dom, to_dom);
		if (c == NULL) {
			/* out_open failed at once (its fault says why) */
			bounce_node(e, n, r->cb, r->ctx, XMPP_SC_REMOTE_SERVER_NOT_FOUND,
			            "the remote server could not be reached");
			return;
		}
	}
	struct fg_buf own = {0}; /* s2s_send_node: the queue holds bytes */
	const uint8_t *data = r->data;
	size_t len = r->len;
	if (data == NULL) {
		if (xmpp_node_serialize(n, XMPP_NS_SERVER, &own) != FG_OK) {
			fg_buf_free(&own);
			done_push(e, r->cb, r->ctx, XMPP_SC_BAD_REQUEST,
			          "not a well-formed stanza");
			return;
		}
		data = own.data;
		len = own.len;
	}
	size_t cap = s2s__queue_cap(conf->queue_max, xmpp_node_attr(n, "type"));
	enum fg_err qerr = s2s__queue_push(&c->queue, cap, data, len, r->cb, r->ctx);
	fg_buf_free(&own);
	if (qerr != FG_OK) {
		bounce_node(e, n, r->cb, r->ctx, XMPP_SC_RESOURCE_CONSTRAINT,
		            "too many stanzas waiting for that domain");
		return;
	}
	c->status_dirty = true;
	if (c->authenticated) {
		c->need_flush = true;
		kick(e);
	}
}

static void route_out(struct s2s_engine *e, const uint8_t *data, size_t len, s2s_sent_cb cb,
                      void *ctx)
{
	struct route_ctx r = {e, data, len, cb, ctx, false, false};
	if (s2s__parse_stanza(data, len, route_node_cb, &r) != FG_OK && !r.seen)
		done_push(e, cb, ctx, XMPP_SC_BAD_REQUEST, "not a well-formed stanza");
}

static const struct reg *find_reg(const struct s2s_engine *e, const char *domain)
{
	for (size_t i = 0; i < e->n_regs; i++) {
		if (strcasecmp(e->regs[i].domain, domain) == 0)
			return &e->regs[i];
	}
	return NULL;
}

static bool is_gateway_query(const struct xmpp_node *n)
{
	if (n->name == NULL || strcmp(n->name, "iq") != 0)
		return false;
	return xmpp_node_child(n, "urn:xmpp:ping", "ping") != NULL ||
	       xmpp_node_child(n, "jabber:iq:version", "query") != NULL ||
	       xmpp_node_child(n, "http://jabber.org/protocol/disco#info", "query") != NULL;
}

static void reply_error(struct s2s_engine *e, const struct xmpp_node *n, enum xmpp_stanza_cond cond,
                        const char *text)
{
	struct fg_buf reply = {0};
	if (xmpp_stanza_error_reply(n, cond, text, NULL, &reply) == FG_OK) {
		/* RFC 6120 §8.3: the sender learns why; a policy refusal is answered even when
		 * the policy also denies outgoing stanzas to that domain */
		struct route_ctx r = {
		    e, reply.data, reply.len, NULL, NULL, false, cond == XMPP_SC_POLICY_VIOLATION};
		(void)s2s__parse_stanza(reply.data, reply.len, route_node_cb, &r);
	}
	fg_buf_free(&reply);
}

/* Engines serving in this process: without one, ping answers go to another process. */
static int main_engines;

bool s2s__engine_serving(void)
{
	return main_engines > 0;
}

/* An answer we made (xmpp_local_answer) to a peer's query: written straight to the
 * authenticated stream back to the peer when there is one (the common case, and the one
 * that matters for throughput), else routed like any stanza. */
static void send_answer(struct s2s_engine *e, const struct xmpp_node *query, const char *local,
                        struct fg_buf *reply)
{
	const char *from = xmpp_node_attr(query, "from");
	char remote[XMPP_MAX_DOMAIN + 1];
	struct conn *c = NULL;
	if (from != NULL && xmpp_jid_domain(from, remote, sizeof(remote)))
		c = find_out(e, local, remote);
	if (c != NULL && c->authenticated && c->queue.n == 0 && !c->need_flush &&
	    !conn_write_busy(c) && e->conf->enabled && !e->stopping) {
		struct policy_verdict v;
		policy_check(e->conf->policy, remote, POLICY_OUTGOING, &v);
		if (v.allow) {
			conn_send(c, reply->data, reply->len);
			c->stanzas_out++;
			c->status_dirty = true;
			c->last_active_ms = now_ms(e);
			e->cnt_out++;
			return;
		}
	}
	route_out(e, reply->data, reply->len, NULL, NULL);
}

/* Pings of validations in this process waiting for their answer. */
#define MAX_PONGS 8u
static struct {
	struct s2s_validation *v;
	char id[48];
} pongs[MAX_PONGS];

void s2s__pong_expect(struct s2s_validation *v, const char *id)
{
	for (size_t i = 0; i < MAX_PONGS; i++) {
		if (pongs[i].v == NULL) {
			pongs[i].v = v;
			fg_strlcpy(pongs[i].id, id, sizeof(pongs[i].id));
			return;
		}
	}
}

void s2s__pong_forget(struct s2s_validation *v)
{
	for (size_t i = 0; i < MAX_PONGS; i++) {
		if (pongs[i].v == v)
			pongs[i].v = NULL;
	}
}

/* Answers to validation pings sent from another process (the CLI) are published as
 * short-lived status objects "xmpp-pong:<id>" that the validation reads from the store. */
#define MAX_PONG_NOTES 8u
#define PONG_NOTE_MS   20000
static struct {
	char id[STATUS_ID_MAX];
	int64_t at;
} pong_notes[MAX_PONG_NOTES];

static void pong_note(const char *id, bool error)
{
	size_t slot = 0;
	for (size_t i = 0; i < MAX_PONG_NOTES; i++) {
		if (pong_notes[i].id[0] == '\0') {
			slot = i;
			break;
		}
		if (pong_notes[i].at < pong_notes[slot].at)
			slot = i;
	}
	if (pong_notes[slot].id[0] != '\0')
		status_remove(pong_notes[slot].id);
	s2s__fmt(pong_notes[slot].id, sizeof(pong_notes[slot].id), "xmpp-pong:%s", id);
	pong_notes[slot].at = fg_mono_ms();
	status_set(pong_notes[slot].id, "xmpp-pong", "validation ping answer",
	           error ? "error" : "answered", "");
}

static void pong_notes_expire(void)
{
	int64_t now = fg_mono_ms();
	for (size_t i = 0; i < MAX_PONG_NOTES; i++) {
		if (pong_notes[i].id[0] != '\0' && now - pong_notes[i].at > PONG_NOTE_MS) {
			status_remove(pong_notes[i].id);
			pong_notes[i].id[0] = '\0';
		}
	}
}

static bool pong_match(const struct s2s_engine *e, const struct xmpp_node *n)
{
	const char *type = xmpp_node_attr(n, "type"), *id = xmpp_node_attr(n, "id");
	if (n->name == NULL || strcmp(n->name, "iq") != 0 || type == NULL || id == NULL ||
	    (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
		return false;
	for (size_t i = 0; i < MAX_PONGS; i++) {
		if (pongs[i].v != NULL && strcmp(pongs[i].id, id) == 0) {
			struct s2s_validation *v = pongs[i].v;
			pongs[i].v = NULL;
			struct s2s_vinfo in = {.id = id,
			                       .text = strcmp(type, "error") == 0 ? "error" : ""};
			s2s__validation_event(v, S2S_VEV_PONG, &in);
			return true;
		}
	}
	if (e->validation == NULL &&
	    strncmp(id, S2S_PING_ID_PREFIX, strlen(S2S_PING_ID_PREFIX)) == 0 && strlen(id) < 64) {
		pong_note(id, strcmp(type, "error") == 0);
		return true;
	}
	return false;
}

static void route_local_node(struct s2s_engine *e, const struct xmpp_node *n)
{
	const char *to = xmpp_node_attr(n, "to");
	char dom[XMPP_MAX_DOMAIN + 1];
	if (to == NULL || !xmpp_jid_domain(to, dom, sizeof(dom)))
		return;
	if (pong_match(e, n))
		return;
	bool bare = strcasecmp(to, dom) == 0;
	const struct reg *r = find_reg(e, dom);
	if (bare && (r == NULL || is_gateway_query(n))) {
		/* XEP-0199, XEP-0030, XEP-0092 on the gateway's own domain */
		struct fg_buf reply = {0};
		if (xmpp_local_answer(n, &e->info, &reply) == FG_OK)
			send_answer(e, n, dom, &reply);
		fg_buf_free(&reply);
		return;
	}
	if (r != NULL) {
		r->cb(r->ctx, n);
		return;
	}
	if (!s2s__is_error_stanza(n))
		reply_error(e, n, XMPP_SC_SERVICE_UNAVAILABLE, NULL);
}

static void route_in(struct conn *c, const char *local, const char *remote,
                     const struct xmpp_node *n)
{
	struct s2s_engine *e = c->e;
	c->stanzas_in++;
	c->status_dirty = true;
	c->last_active_ms = now_ms(e);
	e->cnt_in++;
	struct policy_verdict v;
	policy_check(e->conf->policy, remote, POLICY_INCOMING, &v);
	if (!v.allow) {
		fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "stanza from %s to %s refused by policy rule %s",
		       remote, local, v.rule);
		status_counter_add("xmpp.policy_denied", 1);
		if (!s2s__is_error_stanza(n))
			reply_error(e, n, XMPP_SC_POLICY_VIOLATION, "denied by policy");
		return;
	}
	route_local_node(e, n);
}

/* ---- listeners
 * ------------------------------------------------------------------------------------ */

static void listener_try(struct listener *l);

static void listener_retry_cb(uv_timer_t *t)
{
	struct listener *l = t->data;
	if (!l->gone && l->tcp == NULL)
		listener_try(l);
}

static void listener_tcp_closed(uv_handle_t *h)
{
	struct s2s_engine *e = h->data;
	free(h);
	engine_unref(e);
}

static void listener_close_tcp(struct listener *l)
{
	if (l->tcp == NULL)
		return;
	/* the listener may be freed before this handle's close callback runs */
	l->tcp->data = l->e;
	uv_close((uv_handle_t *)l->tcp, listener_tcp_closed);
	l->tcp = NULL;
}

static void listener_try(struct listener *l)
{
	struct s2s_engine *e = l->e;
	struct sockaddr_storage ss;
	char text[DB_DOMAIN_MAX + 16];
	int err;
	memset(&ss, 0, sizeof(ss));
	if (strchr(l->addr, ':') != NULL) {
		s2s__fmt(text, sizeof(text), "[%s]:%u", l->addr, l->port);
		err = uv_ip6_addr(l->addr, l->port, (struct sockaddr_in6 *)&ss);
	} else {
		s2s__fmt(text, sizeof(text), "%s:%u", l->addr, l->port);
		err = uv_ip4_addr(l->addr, l->port, (struct sockaddr_in *)&ss);
	}
	char name[DB_DOMAIN_MAX + 48];
	s2s__fmt(name, sizeof(name), "xmpp s2s%s %s", l->direct_tls ? " direct TLS" : "", text);
	if (err == 0) {
		l->tcp = malloc(sizeof(*l->tcp));
		if (l->tcp == NULL) {
			err = UV_ENOMEM;
		} else {
			uv_tcp_init(e->loop, l->tcp);
			l->tcp->data = l;
			e->refs++;
			err = uv_tcp_bind(l->tcp, (const struct sockaddr *)&ss, 0);
			if (err == 0)
				err = uv_listen((uv_stream_t *)l->tcp, 128, accept_cb);
			if (err != 0)
				listener_close_tcp(l);
		}
	}
	char fid[STATUS_ID_MAX];
	s2s__fmt(fid, sizeof(fid), "xmpp.bind.%s:%u", l->addr, l->port);
	if (err != 0) {
		char cause[S2S_TEXT_MAX + 64];
		s2s__fmt(cause, sizeof(cause), "cannot listen on %s: %s", text, uv_strerror(err));
		struct status_fault_desc d = {
		    .object = name,
		    .condition =
		        err == UV_EADDRINUSE ? "Port already in use" : "Bind address not available",
		    .cause = cause,
		    .fix = err == UV_EADDRINUSE
		               ? "Stop the other program using that port, or choose another port "
		                 "(setting xmpp.port or xmpp.direct_tls_port)."
		               : "Choose an address this machine has (setting xmpp.bind), e.g. "
		                 "0.0.0.0 for all.",
		    .detail = uv_err_name(err),
		    .severity = FG_LOG_ERR,
		};
		status_set(l->id, "listener", name, "failed", cause);
		status_fault_raise(fid, &d);
		if (strcmp(cause, l->last_err) != 0) {
			fg_log(FG_LOG_WARN, S2S_SUBSYS, "%s; retrying every %d s", cause,
			       S2S_BIND_RETRY_MS / 1000);
			fg_strlcpy(l->last_err, cause, sizeof(l->last_err));
		}
		uv_timer_start(&l->retry, listener_retry_cb, S2S_BIND_RETRY_MS, 0);
		return;
	}
	l->last_err[0] = '\0';
	status_set(l->id, "listener", name, "listening", "");
	if (status_fault_active(fid))
		status_fault_clear(fid);
	fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "XMPP federation listening on %s%s", text,
	       l->direct_tls ? " (direct TLS)" : "");
}

static void listener_add(struct s2s_engine *e, const char *addr, uint16_t port, bool direct)
{
	struct listener *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return;
	l->e = e;
	fg_strlcpy(l->addr, addr, sizeof(l->addr));
	l->port = port;
	l->direct_tls = direct;
	s2s__fmt(l->id, sizeof(l->id), "listener:xmpp:%s:%u", addr, port);
	uv_timer_init(e->loop, &l->retry);
	l->retry.data = l;
	e->refs++;
	l->next = e->listeners;
	e->listeners = l;
	listener_try(l);
}

static void listener_retry_closed(uv_handle_t *h)
{
	struct listener *l = h->data;
	struct s2s_engine *e = l->e;
	free(l);
	engine_unref(e);
}

static void listener_remove(struct listener *l)
{
	char fid[STATUS_ID_MAX];
	s2s__fmt(fid, sizeof(fid), "xmpp.bind.%s:%u", l->addr, l->port);
	if (status_fault_active(fid))
		status_fault_clear(fid);
	status_remove(l->id);
	l->gone = true;
	listener_close_tcp(l);
	uv_timer_stop(&l->retry);
	uv_close((uv_handle_t *)&l->retry, listener_retry_closed);
}

static bool want_listener(const struct s2s_conf *c, const char *addr, uint16_t port, bool direct)
{
	if (!c->enabled)
		return false;
	if (direct ? port != c->direct_port || c->direct_port == 0 : port != c->port)
		return false;
	for (size_t i = 0; i < c->n_binds; i++) {
		if (strcmp(c->binds[i], addr) == 0)
			return true;
	}
	return false;
}

static void listeners_apply(struct s2s_engine *e)
{
	struct s2s_conf *c = e->conf;
	struct listener **pp = &e->listeners;
	while (*pp != NULL) {
		struct listener *l = *pp;
		if (e->stopping || !want_listener(c, l->addr, l->port, l->direct_tls)) {
			*pp = l->next;
			listener_remove(l);
		} else {
			pp = &l->next;
		}
	}
	if (e->stopping || !c->enabled)
		return;
	for (size_t i = 0; i < c->n_binds; i++) {
		for (int d = 0; d < 2; d++) {
			uint16_t port = d ? c->direct_port : c->port;
			if (port == 0)
				continue;
			bool have = false;
			for (struct listener *l = e->listeners; l != NULL; l = l->next) {
				if (strcmp(l->addr, c->binds[i]) == 0 && l->port == port &&
				    l->direct_tls == (d == 1))
					have = true;
			}
			if (!have)
				listener_add(e, c->binds[i], port, d == 1);
		}
	}
}

/* ---- the engine ---------------------------------------------------------------------------------
 */

static void resolver_apply(struct s2s_engine *e)
{
	char key[sizeof(e->dns_key)];
	s2s__fmt(key, sizeof(key), "%s|%s", e->conf->dns_servers, e->conf->dns_zones);
	if (e->resolver != NULL && strcmp(key, e->dns_key) == 0)
		return;
	struct resolve_config rc = {
	    .servers = e->conf->dns_servers,
	    .transparent_zones = e->conf->dns_zones,
	};
	struct resolver *r = NULL;
	if (resolver_new(&r, e->loop, &rc) != FG_OK) {
		fg_log(FG_LOG_ERR, S2S_SUBSYS, "the DNS resolver could not start (servers \"%s\")",
		       e->conf->dns_servers);
		return;
	}
	/* queries on the old resolver are cancelled: those connections start over */
	struct resolver *old = e->resolver;
	e->resolver = r;
	fg_strlcpy(e->dns_key, key, sizeof(e->dns_key));
	if (old == NULL)
		return;
	for (struct conn *c = e->conns; c != NULL; c = c->next) {
		if (c->o != NULL && c->o->q != NULL) {
			resolve_cancel(c->o->q);
			c->o->q = NULL;
		}
	}
	resolver_free(old);
	for (struct conn *c = e->conns; c != NULL;) {
		struct conn *next = c->next;
		if (c->out && c->state == CS_RESOLVING && c->o != NULL) {
			free(c->o);
			c->o = NULL;
			out_begin(c);
		}
		c = next;
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct s2s_engine *e = t->data;
	int64_t now = now_ms(e);
	size_t compacted = 0;
	if (e->validation == NULL)
		pong_notes_expire();
	if (e->cnt_in != 0)
		status_counter_add("xmpp.stanzas_in", e->cnt_in);
	if (e->cnt_out != 0)
		status_counter_add("xmpp.stanzas_out", e->cnt_out);
	e->cnt_in = e->cnt_out = 0;
	for (struct conn *c = e->conns; c != NULL;) {
		struct conn *next = c->next;
		if (c->status_dirty)
			conn_status(c);
		/* RFC 6120 §4.6.1: whitespace keepalive on idle authenticated outgoing streams */
		if (c->out && c->authenticated && !c->dead &&
		    now - c->last_io_ms >= S2S_KEEPALIVE_MS) {
			static const uint8_t space = ' ';
			conn_send(c, &space, 1);
		}
		/* an idle session keeps no parser or drained buffers (about 10 kB each) */
		if (!c->dead && !c->compact && c->m != NULL &&
		    now - c->last_io_ms >= S2S_COMPACT_MS && xmpp_s2s_compact(c->m)) {
			c->compact = true;
			compacted++;
		}
		/* nor a write buffer */
		if (!c->oqueued && c->obuf.cap > 0 && now - c->last_io_ms >= S2S_COMPACT_MS)
			fg_buf_free(&c->obuf);
		c = next;
	}
#ifdef __GLIBC__
	/* The freed parsers sit between live allocations, where free() cannot give pages back
	 * to the system: when many sessions went quiet at once, ask for them explicitly. */
	if (compacted >= S2S_TRIM_SESSIONS)
		(void)malloc_trim(0);
#endif
}

/* A domain in the allow list that the policy denies cannot federate: say so at once. */
static void check_allow_policy(const struct s2s_engine *e)
{
	const struct s2s_conf *c = e->conf;
	char keep[64][STATUS_ID_MAX];
	const char *keep_ptrs[64];
	size_t nkeep = 0;
	for (size_t i = 0; i < c->n_allow; i++) {
		struct policy_verdict in, out;
		const char *dom = c->allow[i].domain;
		policy_check(c->policy, dom, POLICY_INCOMING, &in);
		policy_check(c->policy, dom, POLICY_OUTGOING, &out);
		if (in.allow && out.allow)
			continue;
		char cause[2 * DB_DOMAIN_MAX + 128];
		s2s__fmt(cause, sizeof(cause),
		         "%s is in the allow list but the policy rule %s denies it (%s)", dom,
		         in.allow ? out.rule : in.rule,
		         !in.allow && !out.allow ? "both directions"
		         : !in.allow             ? "incoming"
		                                 : "outgoing");
		fault(e, "policy", dom, "Policy denies an allow-listed domain", cause,
		      "Add a policy exception allowing that domain, or remove it from the allow "
		      "list.",
		      NULL);
		if (nkeep < 64) {
			s2s__fmt(keep[nkeep], sizeof(keep[0]), "xmpp.policy.%s", dom);
			keep_ptrs[nkeep] = keep[nkeep];
			nkeep++;
		}
	}
	if (e->validation == NULL)
		status_fault_clear_prefix("xmpp.policy.", keep_ptrs, nkeep);
}

static enum fg_err load_conf(struct s2s_engine *e, struct s2s_conf **out)
{
	const char *extra[MAX_REGS];
	for (size_t i = 0; i < e->n_regs; i++)
		extra[i] = e->regs[i].domain;
	enum fg_err err = s2s__conf_load(e->db, extra, e->n_regs, out);
	if (err == FG_OK && (*out)->problems[0] != '\0')
		fg_log(FG_LOG_WARN, S2S_SUBSYS, "configuration: %s", (*out)->problems);
	return err;
}

static enum fg_err engine_new(struct s2s_engine **out, uv_loop_t *loop, struct db *db,
                              const char *version, struct s2s_validation *v)
{
	*out = NULL;
	struct s2s_engine *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return FG_ERR_NOMEM;
	e->loop = loop;
	e->db = db;
	e->validation = v;
	engines_alive++;
	fg_strlcpy(e->version, version ? version : "", sizeof(e->version));
	e->info.name = "fedgw";
	e->info.version = e->version;
	e->info.identity_name = "fedgw federation gateway";
	e->refs = 1;
	enum fg_err err = s2s__ensure_secret(db);
	if (err != FG_OK)
		fg_log(FG_LOG_ERR, S2S_SUBSYS, "could not store a dialback secret: %s",
		       fg_strerror(err));
	err = load_conf(e, &e->conf);
	if (err != FG_OK) {
		engine_unref(e);
		return err;
	}
	uv_timer_init(loop, &e->kick);
	uv_timer_init(loop, &e->tick);
	uv_check_init(loop, &e->done_check);
	uv_prepare_init(loop, &e->flush_prep);
	e->kick.data = e->tick.data = e->done_check.data = e->flush_prep.data = e;
	e->refs += 4;
	/* the kick timer's callback is set once; kick() restarts it */
	uv_timer_start(&e->kick, kick_cb, 0, 0);
	uv_timer_start(&e->tick, tick_cb, TICK_MS, TICK_MS);
	resolver_apply(e);
	*out = e;
	return FG_OK;
}

enum fg_err s2s__engine_private(struct s2s_engine **out, uv_loop_t *loop, struct db *db,
                                struct s2s_validation *v)
{
	return engine_new(out, loop, db, "", v);
}

const struct s2s_conf *s2s__engine_conf(const struct s2s_engine *e)
{
	return e->conf;
}

struct resolver *s2s__engine_resolver(const struct s2s_engine *e)
{
	return e->resolver;
}

enum fg_err s2s__engine_open(struct s2s_engine *e, const char *local, const char *remote)
{
	return out_open(e, local, remote) != NULL ? FG_OK : FG_ERR_IO;
}

enum fg_err s2s_engine_start(struct s2s_engine **out, uv_loop_t *loop, struct db *db,
                             const char *version)
{
	enum fg_err err = engine_new(out, loop, db, version, NULL);
	if (err != FG_OK)
		return err;
	struct s2s_engine *e = *out;
	main_engines++;
	check_allow_policy(e);
	listeners_apply(e);
	fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "federation engine started: %zu local domain%s, TLS %s%s",
	       e->conf->n_domains, e->conf->n_domains == 1 ? "" : "s",
	       s2s__tls_mode_name(e->conf->xcfg.tls_mode), e->conf->enabled ? "" : " (disabled)");
	*out = e;
	return FG_OK;
}

struct closing {
	char remote[DB_DOMAIN_MAX];
	const char *why;
	unsigned n;
};

static const char *judge(const struct s2s_conf *nc, const struct conn *c,
                         enum xmpp_stream_error *cond, bool check_policy)
{
	if (!nc->enabled) {
		*cond = XMPP_SE_SYSTEM_SHUTDOWN;
		return "XMPP federation was turned off";
	}
	if (c->local[0] != '\0' && s2s__conf_domain(nc, c->local) < 0) {
		*cond = XMPP_SE_HOST_UNKNOWN;
		return "the local domain was removed";
	}
	if (c->remote[0] == '\0' || !c->authenticated)
		return NULL;
	struct policy_verdict v;
	policy_check(nc->policy, c->remote, c->out ? POLICY_OUTGOING : POLICY_INCOMING, &v);
	if (check_policy && !v.allow) {
		*cond = XMPP_SE_POLICY_VIOLATION;
		return "the policy now denies it";
	}
	const struct db_allow_entry *a = s2s__conf_allow(nc, c->remote);
	if (s2s__tls_for_peer(nc->xcfg.tls_mode, a) == XMPP_TLS_REQUIRED && c->tls == NULL) {
		*cond = XMPP_SE_NOT_AUTHORIZED;
		return "TLS is now required";
	}
	if (a != NULL && a->auth == DB_AUTH_SASL_EXTERNAL && c->method != XMPP_AUTH_SASL_EXTERNAL) {
		*cond = XMPP_SE_NOT_AUTHORIZED;
		return "SASL EXTERNAL is now required";
	}
	if (!nc->xcfg.dialback && c->method == XMPP_AUTH_DIALBACK) {
		*cond = XMPP_SE_NOT_AUTHORIZED;
		return "dialback was turned off";
	}
	return NULL;
}

static void close_disallowed(struct s2s_engine *e, struct s2s_conf *nc)
{
	struct closing closed[32];
	size_t nd = 0;
	for (struct conn *c = e->conns; c != NULL;) {
		struct conn *next = c->next;
		enum xmpp_stream_error cond = XMPP_SE_NONE;
		const char *why = c->dead ? NULL : judge(nc, c, &cond, true);
		if (why != NULL) {
			size_t k;
			for (k = 0; k < nd; k++) {
				if (closed[k].why == why &&
				    strcasecmp(closed[k].remote, c->remote) == 0)
					break;
			}
			if (k == nd && nd < 32) {
				fg_strlcpy(closed[nd].remote, c->remote, sizeof(closed[nd].remote));
				closed[nd].why = why;
				closed[nd].n = 0;
				nd++;
			}
			if (k < nd)
				closed[k].n++;
			(void)text_set(&c->last_error, why, S2S_TEXT_MAX);
			xmpp_s2s_close(c->m, cond, why);
			if (!c->dead)
				conn_kill(c,
				          cond == XMPP_SE_SYSTEM_SHUTDOWN ? S2S_FAIL_SHUTDOWN
				                                          : S2S_FAIL_POLICY,
				          why, true);
			/* the list may have changed under us: start over from the head */
			next = e->conns;
		}
		c = next;
	}
	for (size_t k = 0; k < nd; k++)
		fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "%u session%s with %s closed: %s", closed[k].n,
		       closed[k].n == 1 ? "" : "s",
		       closed[k].remote[0] ? closed[k].remote : "a peer", closed[k].why);
}

void s2s_engine_reconfigure(struct s2s_engine *e)
{
	if (e == NULL || e->stopping)
		return;
	struct s2s_conf *nc = NULL;
	if (s2s__ensure_secret(e->db) != FG_OK || load_conf(e, &nc) != FG_OK) {
		fg_log(FG_LOG_ERR, S2S_SUBSYS,
		       "the new XMPP configuration could not be read; "
		       "keeping the previous one");
		return;
	}
	bool was_enabled = e->conf->enabled;
	s2s__conf_unref(e->conf);
	e->conf = nc;
	check_allow_policy(e);
	close_disallowed(e, nc);
	resolver_apply(e);
	listeners_apply(e);
	if (was_enabled != nc->enabled)
		fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "XMPP federation %s",
		       nc->enabled ? "enabled" : "disabled");
}

void s2s_engine_stop(struct s2s_engine *e)
{
	if (e == NULL || e->stopping)
		return;
	e->stopping = true;
	if (e->validation == NULL)
		main_engines--;
	while (e->conns != NULL) {
		struct conn *c = e->conns;
		/* a validation's own stream just ends; the gateway's streams say why */
		if (e->validation != NULL)
			xmpp_s2s_close(c->m, XMPP_SE_NONE, NULL);
		else
			xmpp_s2s_close(c->m, XMPP_SE_SYSTEM_SHUTDOWN,
			               "the gateway is shutting down");
		if (!c->dead)
			conn_kill(c, S2S_FAIL_SHUTDOWN, "shutdown", true);
	}
	listeners_apply(e);
	if (e->resolver != NULL)
		resolver_free(e->resolver);
	e->resolver = NULL;
	done_run(e);
	uv_timer_stop(&e->kick);
	uv_timer_stop(&e->tick);
	uv_check_stop(&e->done_check);
	flush_prep_cb(&e->flush_prep);
	uv_close((uv_handle_t *)&e->flush_prep, engine_handle_closed);
	uv_close((uv_handle_t *)&e->kick, engine_handle_closed);
	uv_close((uv_handle_t *)&e->tick, engine_handle_closed);
	uv_close((uv_handle_t *)&e->done_check, engine_handle_closed);
	engine_unref(e);
}

enum fg_err s2s_domain_register(struct s2s_engine *e, const char *domain, s2s_domain_cb cb,
                                void *ctx)
{
	if (e == NULL || domain == NULL || cb == NULL || strlen(domain) >= DB_DOMAIN_MAX)
		return FG_ERR_INVAL;
	if (find_reg(e, domain) != NULL)
		return FG_ERR_EXISTS;
	if (e->n_regs >= MAX_REGS)
		return FG_ERR_TOOBIG;
	struct reg *r = &e->regs[e->n_regs++];
	fg_strlcpy(r->domain, domain, sizeof(r->domain));
	r->cb = cb;
	r->ctx = ctx;
	struct s2s_conf *nc = NULL;
	if (load_conf(e, &nc) == FG_OK) {
		s2s__conf_unref(e->conf);
		e->conf = nc;
	}
	return FG_OK;
}

void s2s_domain_unregister(struct s2s_engine *e, const char *domain)
{
	if (e == NULL || domain == NULL)
		return;
	for (size_t i = 0; i < e->n_regs; i++) {
		if (strcasecmp(e->regs[i].domain, domain) == 0) {
			e->regs[i] = e->regs[--e->n_regs];
			s2s_engine_reconfigure(e);
			return;
		}
	}
}

enum fg_err s2s_send_node(struct s2s_engine *e, const struct xmpp_node *stanza, s2s_sent_cb cb,
                          void *ctx)
{
	if (e == NULL || stanza == NULL || stanza->name == NULL)
		return FG_ERR_INVAL;
	/* the caller built the tree: routed as is, without a serialise and parse round trip */
	struct route_ctx r = {e, NULL, 0, cb, ctx, false, false};
	route_node_cb(&r, stanza);
	return FG_OK;
}

enum fg_err s2s_send_routed(struct s2s_engine *e, const char *from_domain, const char *to_domain,
                            const uint8_t *stanza, size_t len, s2s_sent_cb cb, void *ctx)
{
	if (e == NULL || from_domain == NULL || to_domain == NULL || from_domain[0] == '\0' ||
	    to_domain[0] == '\0' || stanza == NULL || len == 0)
		return FG_ERR_INVAL;
	if (strlen(from_domain) > XMPP_MAX_DOMAIN || strlen(to_domain) > XMPP_MAX_DOMAIN)
		return FG_ERR_INVAL; /* RFC 7622 §3.2 */
	if (len > e->conf->max_stanza || len > S2S_MAX_SEND_BYTES)
		return FG_ERR_TOOBIG;
	struct s2s_conf *conf = e->conf;
	/* The decisions of route_node_cb, in its order, from the given domains. Whatever is
	 * not the common case (local target, foreign sender, federation off, policy denial)
	 * takes the parsing path, which decides the same and builds the bounce it needs. */
	if (s2s__conf_domain(conf, to_domain) >= 0 || s2s__conf_domain(conf, from_domain) < 0 ||
	    !conf->enabled || e->stopping) {
		route_out(e, stanza, len, cb, ctx);
		return FG_OK;
	}
	struct policy_verdict v;
	policy_check(conf->policy, to_domain, POLICY_OUTGOING, &v);
	if (!v.allow) {
		route_out(e, stanza, len, cb, ctx);
		return FG_OK;
	}
	struct conn *c = find_out(e, from_domain, to_domain);
	if (c != NULL && c->authenticated && c->queue.n == 0 && !c->need_flush &&
	    !conn_write_busy(c) &&
	    xmpp_s2s_send_bytes(c->m, from_domain, to_domain, stanza, len) == FG_OK) {
		c->stanzas_out++;
		c->status_dirty = true;
		c->last_active_ms = now_ms(e);
		e->cnt_out++;
		done_push(e, cb, ctx, XMPP_SC__COUNT, "");
		return FG_OK;
	}
	if (c == NULL) {
		c = out_open(e, from_domain, to_domain);
		if (c == NULL) {
			/* out_open failed at once (its fault says why) */
			bounce(e, stanza, len, cb, ctx, XMPP_SC_REMOTE_SERVER_NOT_FOUND,
			       "the remote server could not be reached");
			return FG_OK;
		}
	}
	if (s2s__queue_push(&c->queue, conf->queue_max, stanza, len, cb, ctx) != FG_OK) {
		bounce(e, stanza, len, cb, ctx, XMPP_SC_RESOURCE_CONSTRAINT,
		       "too many stanzas waiting for that domain");
		return FG_OK;
	}
	c->queue.tail->routed = true;
	c->status_dirty = true;
	if (c->authenticated) {
		c->need_flush = true;
		kick(e);
	}
	return FG_OK;
}

enum fg_err s2s_send(struct s2s_engine *e, const uint8_t *stanza, size_t len, s2s_sent_cb cb,
                     void *ctx)
{
	if (e == NULL || stanza == NULL || len == 0)
		return FG_ERR_INVAL;
	if (len > e->conf->max_stanza || len > S2S_MAX_SEND_BYTES)
		return FG_ERR_TOOBIG;
	route_out(e, stanza, len, cb, ctx);
	return FG_OK;
}
