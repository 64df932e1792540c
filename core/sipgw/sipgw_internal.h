/* sipgw internals: limits, the configuration snapshot and the helpers shared by the
 * engine, the validation and the unit tests. */
#ifndef FEDGW_SIPGW_INTERNAL_H
#define FEDGW_SIPGW_INTERNAL_H

#include "sipgw/sipgw.h"

#include "db/db.h"
#include "resolve/resolve.h"
#include "sip/sip.h"
#include "tls/tls.h"

#include <stddef.h>

#define SIPGW_SUBSYS "sip"

/* SIP domains served at once: an appliance fronts a handful of edges. */
#define SIPGW_MAX_DOMAINS 64u
/* RFC 5626 §4.4.1: CRLF keepalive on idle connections to the next hop every
 * sip.keepalive_s (30 s by default); once the peer has answered one, the pong must come
 * within 10 s (§4.4.1) or the connection is dropped. */
#define SIPGW_KEEPALIVE_S  30
#define SIPGW_PONG_WAIT_MS 10000
/* OPTIONS ping toward every next hop. */
#define SIPGW_OPTIONS_MS 60000
/* A next hop that failed is tried again after this long. */
#define SIPGW_RETRY_MS 10000
/* Connect timeout per address (the TLS handshake gets the same again). */
#define SIPGW_CONNECT_TIMEOUT_MS 10000
/* Bytes waiting to be written to a peer that does not read: twice the largest message. */
#define SIPGW_WRITE_PENDING_MAX (2u * (SIP_MAX_HEAD + SIP_MAX_BODY))
/* Bytes queued for a next hop while its connection comes up. */
#define SIPGW_OUTQ_MAX (1024u * 1024u)
/* Bytes gathered for one write: the replies to one read's worth of requests; beyond it
 * they are written at once (a read is at most 64 KiB, its replies are about as big). */
#define SIPGW_WBUF_MAX (64u * 1024u)
/* Accepted connections at once: far above what a few edges open. */
#define SIPGW_MAX_CONNS 1024u
/* Text listing the SRV targets tried and why each failed (status, faults): a few
 * targets with a sentence each; longer lists are cut. */
#define SIPGW_TARGETS_TEXT 1024
/* SRV targets tried per connection attempt: an edge pool publishes a handful. */
#define SIPGW_MAX_TARGETS 16u
/* addresses of a next hop remembered for the trust of plain TCP (all of its SRV targets') */
#define SIPGW_HOP_ADDRS 16u
/* Engine tick: transaction timers, keepalives, OPTIONS, refreshes, status. */
#define SIPGW_TICK_MS 200
/* Full scan of the stored subscriptions at least this often (counts, outside changes);
 * refreshes and expiries in between run at their due time, checked every tick. */
#define SIPGW_SUB_SCAN_MS 5000
/* A fetch (RFC 6665 §4.4.3) waits this long for the XMPP server's answer to its probe
 * before its NOTIFY goes without the state: a server answers a probe at once. */
#define SIPGW_FETCH_WAIT_MS 2000
/* RFC 6665 §4.1.2.2 refresh margin (see sipgw_refresh_at): a refresh must complete before
 * the end, and a non-INVITE transaction may take Timer F = 64*T1 (RFC 3261 §17.1.2.2). */
#define SIPGW_REFRESH_MARGIN_MS (64 * SIP_T1_MS)
/* retry_at_ms of a subscription of ours whose XMPP user is offline: not refreshed until the
 * user is back (RFC 8048 §5.2.2 "during the XMPP user's active presence session", §8.1). */
#define SIPGW_SUB_DORMANT INT64_MAX
/* RFC 6665 §4.1.2.4: Timer N, the wait for the NOTIFY a SUBSCRIBE brings (64*T1). */
#define SIPGW_TIMER_N_MS (64 * SIP_T1_MS)
/* A SUBSCRIBE of ours with no answer at all by then (Timer F plus a margin) is tried again. */
#define SIPGW_SUBSCRIBE_WATCHDOG_MS (64 * SIP_T1_MS + 8000)
/* An XMPP user's unsubscribe waits this long for the notifier's final NOTIFY (RFC 6665
 * §4.1.2.3, §4.4.1) before the record goes. */
#define SIPGW_FINAL_NOTIFY_WAIT_MS (64 * SIP_T1_MS)
/* Stanza ids we generate are 16 hex chars; a peer's (CPIM Message-ID) is cut to this. */
#define SIPGW_STANZA_ID_MAX 128
/* Ids of relays the router refused, remembered so its bounce stanza is not reported twice
 * (it can arrive just after the verdict). */
#define SIPGW_REFUSED_IDS 64u
/* 503 Retry-After when sip.max_pending is reached (seconds). */
#define SIPGW_RETRY_AFTER_S 5
/* RFC 3428 §8: an out-of-dialog MESSAGE MUST NOT exceed 1300 bytes unless every hop is
 * known to be congestion-safe; the default of sip.max_message_bytes. */
#define SIPGW_MAX_MESSAGE_BYTES 1300u
/* Presence subscriptions kept: each is one store record. */
#define SIPGW_MAX_SUBS 10000u
/* IM sessions (INVITE with m=message) at once. */
#define SIPGW_MAX_SESSIONS 4096u
/* An IM session with no message either way for this long is forgotten (its BYE was lost). */
#define SIPGW_SESSION_IDLE_MS (3600 * 1000)
/* An accepted connection that carried nothing for this long is closed: edges ping every
 * 30-120 s (RFC 5626 §4.4.1), so only dead or abandoned ones reach it. */
#define SIPGW_IDLE_IN_MS (15 * 60 * 1000)

struct sipgw_jid {
	char local[1024];
	char domain[1024];
	char resource[1024];
};
/* local@domain/resource into parts (local and resource may be ""); false if malformed. */
bool sipgw__jid_split(const char *jid, struct sipgw_jid *out);
/* sip:local@sip_domain (percent-encoded per RFC 3261 §25.1) appended to out. */
/* The canonical form of a SIP address of record (a presence watcher): user decoded and
 * encoded again as RFC 7247 §6.4/§6.5 do, host lower-cased, no parameters (RFC 7247 §6.4
 * step 7: the bare address; a GRUU is dropped). FG_ERR_INVAL with no user part. */
enum fg_err sipgw__sip_uri_canonical(const char *uri, size_t len, struct fg_buf *out,
                                     const char **why);
/* A language tag for xml:lang or Content-Language (RFC 8048 §6.2 Table 1, §6.3 Table 2):
 * the first of a list, letters, digits and hyphens only. False when there is none. */
#define SIPGW_MAX_LANG 63 /* RFC 5646 §4.4.1: 35 covers real tags; room for extensions */
bool sipgw__lang_tag(const char *in, size_t len, char *out, size_t outsize);
enum fg_err sipgw__sip_uri_for_local(const char *local, const char *sip_domain, struct fg_buf *out,
                                     const char **why);

/* Parses one serialized stanza (jabber:server) and calls cb with it once (glue.c). */
enum fg_err sipgw__parse_stanza(const uint8_t *data, size_t len,
                                void (*cb)(void *ctx, const struct xmpp_node *n), void *ctx);

/* ---- configuration (conf.c) ------------------------------------------------------------ */

struct sipgw_settings {
	bool enabled;
	char fqdn[DB_DOMAIN_MAX];
	uint16_t tcp_port, tls_port;
	char bind[DB_ADDR_MAX];
	long subscription_expires_s;
	size_t max_pending;
	size_t max_message_bytes; /* sip.max_message_bytes: RFC 3428 §8 out-of-dialog MESSAGE */
	unsigned keepalive_s;     /* sip.keepalive_s: RFC 5626 §4.4.1 CRLF ping, 0 = off */
	char dns_servers[DB_SETTING_VALUE_MAX];
	char dns_zones[DB_SETTING_VALUE_MAX];
};

/* One SIP domain with its TLS material (NULL when not configured or unusable; problem says
 * why in plain words). */
struct sipgw_domain_conf {
	struct db_sip_domain rec;
	char xmpp[DB_DOMAIN_MAX]; /* effective XMPP domain */
	struct tls_creds *creds;
	struct tls_trust *trust;
	char problem[256];
};

void sipgw__settings_load(struct db_txn *txn, struct sipgw_settings *s);
/* Reads every SIP domain; *out is an array of *n entries (free with sipgw__domains_free). */
enum fg_err sipgw__domains_load(struct db *db, struct sipgw_settings *s,
                                struct sipgw_domain_conf **out, size_t *n);
enum fg_err sipgw__domain_load(struct db *db, const char *domain, struct sipgw_settings *s,
                               struct sipgw_domain_conf *out);
void sipgw__domain_conf_clear(struct sipgw_domain_conf *d);
void sipgw__domains_free(struct sipgw_domain_conf *d, size_t n);
/* "tls" unless the record says "tcp". */
bool sipgw__domain_tls(const struct db_sip_domain *d);
/* Default port for a transport (RFC 3261 §19.1.2: 5060, 5061 for sips). */
uint16_t sipgw__default_port(bool tls);
/* The address part of a bind setting ("10.0.0.5", "10.0.0.5:5061", "[::1]:5061") into out;
 * false when it holds no IP address. */
bool sipgw__bind_addr(const char *bind, char *out, size_t outsize);
/* True when host is an IPv4/IPv6 literal. */
bool sipgw__is_ip_literal(const char *host);
/* Stable subscription id from direction, watcher and presentity (SHA-256, 32 hex). */
void sipgw__sub_id(enum db_sub_direction dir, const char *watcher, const char *presentity,
                   char out[DB_ID_MAX]);
/* JSON escaping (appends, no quotes). */
void sipgw__json_escape(struct fg_buf *out, const char *s);
/* Random token of 2*nbytes hex chars into out (size >= 2*nbytes+1). */
void sipgw__token(char *out, size_t nbytes);

/* ---- the engine's objects (engine.c, presence.c) ------------------------------------------ */

/* Where stanzas for the router go in tests without an XMPP side (sipgw__set_xmpp_sink). */
typedef void (*sipgw_xmpp_sink_cb)(void *ctx, const uint8_t *stanza, size_t len);

/* One configured SIP domain and the state of its next hop. */
struct dom {
	struct sipgw_domain_conf cf;
	struct conn *out;   /* the next-hop connection (reused for every request) */
	int64_t retry_at;   /* monotonic: when to connect again after a failure */
	int64_t options_at; /* monotonic: next OPTIONS ping */
	bool registered;    /* its XMPP domain is registered with the router */
	bool keep;          /* reconfigure: still configured */
	char dns[16], tcp[16], tls[16], options[16], cert[16];
	char peer_names[256];
	char last_error[256];
	char addr[80];
	uint64_t msgs_in, msgs_out, errors;
	/* requests refused because their connection may not speak for the domain, and the
	 * newest reason with its fix (once per connection) */
	uint64_t refused;
	char last_refused[512];
	bool status_dirty;
	/* RFC 3263 §4.4: the SRV target in use ("host:port") and those that failed before it
	 * in the last connection attempt, for the status */
	char target[DNS_MAX_NAME + 8];
	char targets_failed[SIPGW_TARGETS_TEXT];
	/* the next hop's targets in RFC 2782 order for the current attempt (one when no SRV
	 * record is used) */
	struct dns_srv targets[SIPGW_MAX_TARGETS];
	size_t ntargets;
	/* the next hop's addresses as DNS gave them (the newest first), whose requests over
	 * plain TCP the domain takes when its transport is TCP */
	char hop_addrs[SIPGW_HOP_ADDRS][64];
	size_t nhop_addrs;
};

enum conn_state { CS_RESOLVING = 0, CS_CONNECTING, CS_TLS, CS_UP, CS_DEAD };

struct conn {
	struct conn *next;
	struct sipgw *gw;
	struct dom *dom; /* outgoing: the domain whose next hop this is */
	bool out;
	bool use_tls;
	enum conn_state state;
	uv_tcp_t *tcp;
	bool tcp_open;
	struct tls_conn *tls;
	bool tls_up;
	struct sip_stream *stream;
	struct fg_buf outq; /* bytes written before the connection came up */
	struct fg_buf wbuf; /* bytes for the socket, written once per loop turn */
	size_t wpending;
	int64_t last_io, ping_sent, deadline;
	bool ping_out;
	bool ponged; /* the peer has answered a CRLF ping on this connection */
	char peer[80];
	char peer_ip[64];  /* the peer's address, for a TCP domain's trusted addresses */
	uint8_t *peer_der; /* incoming TLS: the client's certificate, for name checks */
	size_t peer_der_len;
	char trusted_for[DB_DOMAIN_MAX]; /* last SIP domain its certificate was checked for */
	char refused_for[DB_DOMAIN_MAX]; /* last SIP domain it was refused for (logged) */
	/* resolution */
	struct resolve_query *q;
	char addrs[RESOLVE_MAX_ADDRS][64];
	size_t naddr, iaddr;
	uint16_t port;
	char host[DB_DOMAIN_MAX];
	/* outgoing: the target of dom->targets being tried, and what went wrong with each
	 * one tried before it (RFC 3263 §4.4) */
	size_t itarget;
	char tried[SIPGW_TARGETS_TEXT];
	char addr_error[160];    /* the last address's failure, for the target's summary */
	uv_connect_t *connect_q; /* in flight; its data is cleared when abandoned */
	bool cert_mismatch;      /* a target of this attempt had a wrong-name certificate */
	char cert_cause[512];    /* ... and what the fault said about it */
};

/* The fate of a SIP request sent to XMPP (s2s_send's callback). Freed by the callback;
 * the server transaction and engine forget it by clearing their pointers. */
/* An intrusive chained hash table (htab.c): entries embed a sipgw_hlink, so adding,
 * finding and removing allocate nothing per entry. The bucket array doubles when it holds
 * more entries than buckets, from SIPGW_HTAB_MIN up to SIPGW_HTAB_MAX buckets (8 MiB of
 * pointers; beyond it chains grow, and sip.max_pending bounds the live entries). */
#define SIPGW_HTAB_MIN 1024
#define SIPGW_HTAB_MAX (1u << 20)
struct sipgw_hlink {
	struct sipgw_hlink *next; /* chain in one bucket */
	uint32_t hash;            /* the entry's full hash, kept for growth and for compares */
};
struct sipgw_htab {
	struct sipgw_hlink **buckets;
	size_t size;  /* a power of two, or 0 */
	size_t count; /* entries linked */
};
/* Doubles the bucket array (or makes the first one); rare, so out of line. */
void sipgw_htab_grow(struct sipgw_htab *t);
/* Links l under hash (growing first if due); false if there is no bucket array (out of
 * memory), and l is then not linked. Inline: it runs per SIP message. */
static inline bool sipgw_htab_add(struct sipgw_htab *t, struct sipgw_hlink *l, uint32_t hash)
{
	if (t->count >= t->size && t->size < SIPGW_HTAB_MAX)
		sipgw_htab_grow(t);
	if (t->buckets == NULL)
		return false;
	struct sipgw_hlink **b = &t->buckets[hash & (t->size - 1)];
	l->hash = hash;
	l->next = *b;
	*b = l;
	t->count++;
	return true;
}
/* Unlinks l if it is linked under its hash; a missing entry changes nothing. */
static inline void sipgw_htab_del(struct sipgw_htab *t, struct sipgw_hlink *l)
{
	if (t->buckets == NULL)
		return;
	for (struct sipgw_hlink **pp = &t->buckets[l->hash & (t->size - 1)]; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			t->count--;
			return;
		}
	}
}
/* Frees the bucket array (not the entries); the table is empty and reusable. */
void sipgw_htab_free(struct sipgw_htab *t);
/* The chain that holds every entry of this hash (and others): compare l->hash first. */
static inline struct sipgw_hlink *sipgw_htab_bucket(const struct sipgw_htab *t, uint32_t hash)
{
	return t->buckets != NULL ? t->buckets[hash & (t->size - 1)] : NULL;
}
/* The entry of type `type` whose member `member` is the link l. */
#define SIPGW_HTAB_ENTRY(l, type, member) ((type *)(void *)((char *)(l)-offsetof(type, member)))

struct stxn;
struct pending {
	struct sipgw *gw; /* NULL once the engine stopped */
	struct stxn *st;  /* NULL once the SIP transaction is gone */
	struct pending *prev, *next;
	char to[SIPGW_MAX_JID + 1];
	char id[SIPGW_STANZA_ID_MAX]; /* the stanza's id: the router's own bounce carries it */
};

/* A server transaction: a request from the edge and where to answer it. */
struct stxn {
	struct stxn *next;
	struct sipgw_hlink hl; /* in sipgw.stxn_tab, by stxn_hash of the request */
	bool hashed;
	struct sipgw *gw;
	struct sip_txn *t;
	struct conn *c;
	struct sip_msg *req;
	struct pending *pend;
	char to_tag[24];
	bool dead;
	bool reclaim_queued;       /* in sipgw.reclaim */
	struct stxn *reclaim_next; /* chain in sipgw.reclaim */
};

enum purpose { P_OPTIONS = 0, P_MESSAGE, P_SUBSCRIBE, P_NOTIFY, P_OTHER };

/* A client transaction: a request we sent to a next hop and what to do with its answer. */
struct ctxn {
	struct ctxn *next;
	struct sipgw_hlink hl; /* in sipgw.ctxn_tab, by hash of its request's top Via branch */
	bool hashed;
	struct sipgw *gw;
	struct sip_txn *t;
	struct conn *c;
	enum purpose p;
	char domain[DB_DOMAIN_MAX];
	char *orig_from, *orig_to, *orig_id; /* the stanza that caused it (error replies) */
	char sub_id[DB_ID_MAX];
	uint64_t queue_key; /* out-of-dialog MESSAGE: its Request-URI's hash (RFC 3428 §8) */
	struct mqueue *mq;  /* that Request-URI's queue while pending in it or waiting */
	struct ctxn *qnext; /* waiting behind the pending one (not in sipgw.ctxns meanwhile) */
	uint64_t isc_key;   /* isComposing MESSAGE: (sender, Request-URI) hash (RFC 3994 §4) */
	uint8_t *req;
	size_t req_len;
	bool dead;
};

/* An IM session (INVITE with an m=message offer, as OCS and Lync use them). */
struct session {
	struct session *next;
	struct sip_dialog *d;
	char domain[DB_DOMAIN_MAX];
	char sip_user[DB_SUB_URI_MAX]; /* sip:... of the SIP party */
	char jid[SIPGW_MAX_JID + 1];   /* bare JID of the XMPP party */
	char from_jid[SIPGW_MAX_JID + 1];
	struct conn *c;
	int64_t last_active;
};

struct listener {
	struct sipgw *gw;
	uv_tcp_t *tcp;
	bool use_tls;
	uint16_t port;
	char addr[DB_ADDR_MAX];
	bool failed; /* logged once until it works */
};

struct sipgw {
	uv_loop_t *loop;
	struct db *db;
	struct s2s_engine *s2s;
	struct sipgw_settings set;
	struct dom *doms[SIPGW_MAX_DOMAINS];
	size_t ndoms;
	struct listener tcp_l, tls_l;
	struct conn *conns;
	size_t nconns;
	struct stxn *stxns;
	struct stxn *reclaim; /* terminated this loop turn: their requests are freed soon */
	/* server transactions by RFC 3261 §17.2.3 key hash, so that matching a request
	 * costs one bucket, not a walk of every transaction */
	struct sipgw_htab stxn_tab;
	struct ctxn *ctxns;
	/* client transactions by branch (RFC 3261 §17.1.3), for matching responses */
	struct sipgw_htab ctxn_tab;
	/* out-of-dialog MESSAGE queues by Request-URI (RFC 3428 §8), so that sending one
	 * costs one bucket, not a walk of every transaction */
	struct sipgw_htab mq_tab;
	struct session *sessions;
	size_t nsessions;
	struct resolver *resolver;
	char dns_key[2 * DB_SETTING_VALUE_MAX + 2];
	uv_timer_t tick;
	uv_prepare_t flush; /* writes every connection's wbuf before the loop waits */
	bool wbuf_dirty;    /* some connection has bytes in wbuf */
	int refs;
	bool stopping;
	size_t npending;
	unsigned ticks;
	size_t nsubs;             /* stored subscriptions, counted every 5 s */
	struct pending *pendings; /* relays waiting for the router's verdict */
	/* pending records kept for reuse (SIPGW_PENDING_FREE_MAX in engine.c) */
	struct pending *pending_free;
	size_t n_pending_free;
	/* the stanza being relayed: its memory is kept between relays */
	struct fg_buf relay_buf;
	/* ids of relays the router refused: their bounce stanza is not reported twice */
	char refused_ids[SIPGW_REFUSED_IDS][SIPGW_STANZA_ID_MAX];
	unsigned refused_next;
	/* engine.c: message-path memory (derived Call-IDs of threads, isComposing refusals),
	 * made on first use */
	struct msg_memory *msg_mem;
	sipgw_xmpp_sink_cb sink; /* tests only */
	void *sink_ctx;
	/* presence.c: wall-clock time of the earliest refresh or expiry due among the stored
	 * subscriptions (0: not known yet, scan now), and of the last full scan */
	int64_t presence_due_ms;
	int64_t presence_scan_ms;
	/* presence.c: the last presence for SIP fetches, made on first use */
	struct sipgw_pres_cache *pres_cache;
	/* engine.c: RFC 3994 §3.3 refresh timers of SIP composers, and what was last sent
	 * to each SIP recipient (§3.2), made on first use */
	struct sipgw_isc_rx *isc_rx;
	struct sipgw_isc_tx *isc_tx;
};

/* Cross-file engine helpers (engine.c). */
void sipgw__fmt(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct dom *sipgw__dom_find(struct sipgw *gw, const char *sip_domain);
/* Final or provisional answer to a server transaction (borrowed strings). */
void sipgw__respond(struct stxn *st, unsigned status, const char *extra, const char *ctype,
                    const uint8_t *body, size_t blen);
const struct sip_header *sipgw__hdr(const struct sip_msg *m, const char *name);
void sipgw__copy_record_route(const struct sip_msg *m, struct fg_buf *out);
struct dom *sipgw__sender_domain(struct sipgw *gw, const struct sip_msg *m);
bool sipgw__conn_speaks_for(struct conn *c, struct dom *d);
void sipgw__via_for(struct sipgw *gw, const struct dom *d, char *sent_by, size_t size,
                    const char **transport);
enum fg_err sipgw__build_request(struct sipgw *gw, const struct dom *d, const char *method,
                                 const char *ruri, const char *from, const char *to,
                                 const char *call_id, const char *extra, const char *ctype,
                                 const uint8_t *body, size_t blen, bool contact, struct fg_buf *out,
                                 char *from_tag_out);
/* Sends a request to the domain's next hop in a new client transaction (takes ct). */
void sipgw__ctxn_start(struct sipgw *gw, struct dom *d, struct ctxn *ct, enum sip_method method,
                       const struct fg_buf *req);
void sipgw__xmpp_send(struct sipgw *gw, const struct fg_buf *stanza);
enum fg_err sipgw__jid_from_sip(const char *uri, size_t len, const char *xmpp_domain,
                                struct fg_buf *out, const char **why);
/* Presence (presence.c). */
void sipgw__presence_sip_in(struct sipgw *gw, struct stxn *st);
void sipgw__presence_xmpp_in(struct sipgw *gw, struct dom *d, const struct xmpp_node *n);
void sipgw__presence_ctxn_done(struct sipgw *gw, struct ctxn *ct, enum purpose p, unsigned status,
                               const struct sip_msg *rsp);
/* Every engine tick: refreshes and expiries that are due (cheap when none is). */
void sipgw__presence_tick(struct sipgw *gw);

/* What a stored subscription needs at now_ms (wall clock), and in *due_ms when it next needs
 * something (INT64_MAX: never): our SUBSCRIBE refreshed at sipgw_refresh_at (RFC 6665
 * §4.1.2.2), tried again after a failure (retry_at_ms) or when Timer N ran out (§4.1.2.4);
 * an unsubscribed one of ours dropped once its final NOTIFY had its time; a SIP watcher's
 * subscription ended once expired (§4.2.1.4); a fetch answered (§4.4.3). */
enum sipgw_sub_action {
	SIPGW_SUB_WAIT = 0,
	SIPGW_SUB_REFRESH,
	SIPGW_SUB_EXPIRE,
	SIPGW_SUB_DROP,
	SIPGW_SUB_FETCH_END, /* a fetch's wait for the state is over (RFC 6665 §4.4.3) */
	/* ours: the next try after a failure, or a SUBSCRIBE that got no answer at all */
	SIPGW_SUB_RETRY,
	/* ours: Timer N ran out with no NOTIFY (RFC 6665 §4.1.2.4, §4.1.2.2) */
	SIPGW_SUB_NO_NOTIFY,
};
enum sipgw_sub_action sipgw__sub_due(const struct db_subscription *s, int64_t now_ms,
                                     int64_t *due_ms);
/* Whether the subscriptions must be read from the store this tick: something is due, or
 * the periodic scan (SIPGW_SUB_SCAN_MS) that counts them and sees records others changed. */
bool sipgw__presence_scan_due(int64_t now_ms, int64_t due_ms, int64_t last_scan_ms);

/* ---- the last presence of XMPP users, for SIP fetches (glue.c) ---------------------------- */

/* RFC 6665 §4.4.3, RFC 8048 §7.2: a SIP watcher's fetch is answered at once from the last
 * presence the gateway received for that watcher's active subscription to the XMPP user; an
 * XMPP probe goes only when there is none. Kept per (SIP watcher, XMPP full JID), since XMPP
 * authorizes presence per contact; in memory only (a restart starts empty). Entries at most:
 * a few per subscription of SIPGW_MAX_SUBS is far more than fetches ever ask for; beyond it
 * the least recently changed entry goes. */
#define SIPGW_PRES_CACHE_MAX 4096u
struct sipgw_pres_cache;
struct sipgw_pres_cache *sipgw__pres_cache_new(void);
void sipgw__pres_cache_free(struct sipgw_pres_cache *c); /* NULL: no-op */
/* Remembers p (copied) as what watcher last saw of bare's resource p->resource (NULL: the
 * bare JID). An unavailable without a resource takes every resource of bare offline. */
void sipgw__pres_cache_put(struct sipgw_pres_cache *c, const char *watcher, const char *bare,
                           const struct xlate_presence *p);
/* The pair's subscription ended or was refused: what it learnt is no longer current. */
void sipgw__pres_cache_forget(struct sipgw_pres_cache *c, const char *watcher, const char *bare);
/* What answers watcher's fetch of bare: the latest available resource, else the latest
 * unavailable one; out is a copy the caller clears. False when nothing is known. */
bool sipgw__pres_cache_get(const struct sipgw_pres_cache *c, const char *watcher, const char *bare,
                           struct xlate_presence *out);
size_t sipgw__pres_cache_count(const struct sipgw_pres_cache *c);

/* ---- isComposing timing both ways (glue.c, RFC 3994 §3.2, §3.3) ------------------------- */

/* The receiver side: a SIP composer's "active" falls back to idle after its <refresh>
 * (120 s without one) with no new "active" and no content message (RFC 3994 §3.3), and the
 * XMPP recipient is then sent the state idle maps to (RFC 7573 §6 Table 3: <active/>).
 * Composers timed at once: each is a (SIP sender, XMPP recipient) pair typing right now,
 * which an appliance's users never approach; when full, the one due first ends at once. */
#define SIPGW_ISC_RX_MAX            1024u
#define SIPGW_ISC_REFRESH_DEFAULT_S 120 /* RFC 3994 §3.3 */
/* The RFC sets no floor on <refresh> (§3.2 asks composers for 60 s or more); a zero-length
 * wait would end every "active" on the next tick, so 1 s is the shortest taken. */
#define SIPGW_ISC_REFRESH_MIN_S 1
/* The timer's wait for a <refresh> (-1: none) as xlate_iscomposing_parse gives it. */
long sipgw__isc_refresh_s(long refresh_s);
typedef void (*sipgw_isc_idle_cb)(void *ctx, const char *from, const char *to, const char *thread);
struct sipgw_isc_rx;
struct sipgw_isc_rx *sipgw__isc_rx_new(void);
void sipgw__isc_rx_free(struct sipgw_isc_rx *t); /* NULL: no-op */
/* An "active" from `from` to `to` at now_ms: its timer starts again (refresh_s -1: none
 * given). Should the table be full, cb is called first for the composer due first. */
void sipgw__isc_rx_active(struct sipgw_isc_rx *t, const char *from, size_t from_len, const char *to,
                          size_t to_len, const char *thread, size_t thread_len, long refresh_s,
                          int64_t now_ms, sipgw_isc_idle_cb cb, void *ctx);
/* An "idle" or a content message of the pair: its timer goes; true if one ran. */
bool sipgw__isc_rx_cancel(struct sipgw_isc_rx *t, const char *from, size_t from_len, const char *to,
                          size_t to_len);
/* Calls cb for every composer whose refresh ran out by now_ms and forgets it; how many.
 * Cheap when none is due (one compare). */
size_t sipgw__isc_rx_expire(struct sipgw_isc_rx *t, int64_t now_ms, sipgw_isc_idle_cb cb,
                            void *ctx);
size_t sipgw__isc_rx_count(const struct sipgw_isc_rx *t);

/* The composer side (XMPP -> SIP): what was last sent to each (XMPP sender, SIP
 * Request-URI) pair. RFC 3994 §3.2: "active" at most once per XLATE_ISCOMPOSING_REFRESH
 * unless an idle came between, and no "idle" after idle or after a content message. Pairs
 * remembered: as SIPGW_ISC_RX_MAX, in sets of SIPGW_ISC_TX_WAYS by key; beyond that the
 * pair of the set whose state went longest ago is forgotten (then at most one status
 * message more goes to it). */
#define SIPGW_ISC_TX_MAX  1024u
#define SIPGW_ISC_TX_WAYS 8u
struct sipgw_isc_tx;
struct sipgw_isc_tx *sipgw__isc_tx_new(void);
void sipgw__isc_tx_free(struct sipgw_isc_tx *t); /* NULL: no-op */
/* A chat state cs (body false) or a content message (body true, cs ignored) for the pair
 * key at now_ms: whether its isComposing goes; what goes is remembered (a content message
 * always "goes" and counts as idle). A NULL table sends everything. */
bool sipgw__isc_tx_decide(struct sipgw_isc_tx *t, uint64_t key, bool body, enum xlate_chatstate cs,
                          int64_t now_ms);

/* ---- test entry points (engine.c) ----------------------------------------------------- */

/* Stanzas the engine would hand to the router go to sink instead (tests without an XMPP
 * side); relayed SIP requests are then answered as written (202). */
void sipgw__set_xmpp_sink(struct sipgw *gw, sipgw_xmpp_sink_cb cb, void *ctx);
/* Delivers one serialized stanza as if the router had handed it over for a SIP domain. */
enum fg_err sipgw__inject(struct sipgw *gw, const char *xml);
/* State of a SIP domain's status object ("up", ...), or NULL. */
const char *sipgw__domain_state(struct sipgw *gw, const char *sip_domain);

#endif
