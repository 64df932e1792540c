/* s2s internals: the engine's objects shared by its files, and the pure helpers (queue,
 * bounce rules, state names, list parsing) that the unit tests exercise without sockets. */
#ifndef FEDGW_S2S_INTERNAL_H
#define FEDGW_S2S_INTERNAL_H

#include "s2s/s2s.h"

#include "db/db.h"
#include "dns/dns.h"
#include "policy/policy.h"
#include "resolve/resolve.h"
#include "tls/tls.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define S2S_SUBSYS "xmpp"

/* Bind addresses in the setting: a gateway has a handful of interfaces. */
#define S2S_MAX_BINDS 16u
/* Local domains (configured plus registered): an appliance serves a few dozen at most. */
#define S2S_MAX_LOCAL 64u
/* Connection candidates per remote domain: SRV answers are capped at DNS_MAX_SRV; trying
 * more than 16 targets only delays the bounce. */
#define S2S_MAX_CANDIDATES 16u
/* Bytes waiting to be written to one peer: a peer that stops reading is dropped rather
 * than making the gateway hold an unbounded backlog (twice the largest stanza). */
#define S2S_WRITE_PENDING_MAX (2u * 1024u * 1024u)
/* Dialback verifications in flight on one outgoing stream (the core's own cap). */
#define S2S_VERIFY_IN_FLIGHT 16u
/* Verifications waiting for one authoritative server: a peer opening thousands of streams
 * at once; each waiting entry is ~700 bytes, and the peer's own timer ends the wait. */
#define S2S_MAX_VERIFY 4096u
/* Whitespace keepalive on idle authenticated outgoing streams (RFC 6120 §4.6.1). */
#define S2S_KEEPALIVE_MS 60000
/* A failed listener is retried this often. */
#define S2S_BIND_RETRY_MS 10000
/* Stanza handed to s2s_send: the largest the protocol allows after authentication. */
#define S2S_MAX_SEND_BYTES XMPP_MAX_STANZA_BYTES
/* Text kept for a connection's last error. */
#define S2S_TEXT_MAX 256u

/* ---- pure helpers (util.c) ----------------------------------------------------------- */

/* One stanza waiting for its stream, with its completion. */
struct s2s_item {
	uint8_t *data; /* stored after the item itself: one allocation */
	size_t len;
	s2s_sent_cb cb;
	void *ctx;
	bool routed; /* s2s_send_routed: written as it is, not parsed again */
	struct s2s_item *next;
};

/* A bounded FIFO of stanzas (xmpp.queue_max per remote domain). */
struct s2s_queue {
	struct s2s_item *head, *tail;
	size_t n;
};

/* Appends a copy; FG_ERR_TOOBIG when n == max (resource-constraint), FG_ERR_NOMEM. */
enum fg_err s2s__queue_push(struct s2s_queue *q, size_t max, const uint8_t *data, size_t len,
                            s2s_sent_cb cb, void *ctx);
/* Error stanzas may fill a stream's queue to this many times xmpp.queue_max: when a peer
 * reads slowly while its stanzas bounce, the bounces are what must not be dropped. */
#define S2S_ERROR_QUEUE_FACTOR 4u
/* The queue cap for a stanza of this type ("error", another, or NULL): an error stanza is its
 * sender's only news of a failure, and nothing answers the loss of one (RFC 6120 §8.3.1), so
 * errors may wait beyond queue_max, up to a bound. */
size_t s2s__queue_cap(size_t queue_max, const char *type);
/* Removes the head (caller frees it with s2s__item_free); NULL when empty. */
struct s2s_item *s2s__queue_pop(struct s2s_queue *q);
void s2s__item_free(struct s2s_item *it);

/* Why an outgoing stream could not be set up, reduced to what the bounce says. */
enum s2s_fail {
	S2S_FAIL_NONE = 0,
	S2S_FAIL_DNS,     /* NXDOMAIN, no service, no address: remote-server-not-found */
	S2S_FAIL_REFUSED, /* every address refused: remote-server-not-found */
	S2S_FAIL_TIMEOUT, /* connect or negotiation timed out: remote-server-timeout */
	S2S_FAIL_TLS,     /* handshake or certificate failure: remote-server-not-found */
	S2S_FAIL_AUTH,    /* dialback/SASL refused: remote-server-not-found */
	S2S_FAIL_POLICY,  /* policy or configuration closed it: policy-violation */
	S2S_FAIL_SHUTDOWN /* the engine stopped or federation was turned off */
};

/* RFC 6120 §8.3.3.16/.17: the condition a stanza bounces with. */
enum xmpp_stanza_cond s2s__fail_cond(enum s2s_fail f);
const char *s2s__fail_name(enum s2s_fail f);
/* A resolver status as a failure: TIMEOUT/SERVFAIL count as timeouts of the DNS step. */
enum s2s_fail s2s__resolve_fail(enum resolve_status st);

/* Splits a comma/space separated list into at most max entries of entsize bytes. Returns
 * the count; entries that do not fit are skipped. */
size_t s2s__split_list(const char *s, char (*out)[DB_DOMAIN_MAX], size_t max);
bool s2s__parse_bool(const char *s, bool dflt);
enum xmpp_tls_mode s2s__parse_tls_mode(const char *s, enum xmpp_tls_mode dflt);
const char *s2s__tls_mode_name(enum xmpp_tls_mode m);
const char *s2s__auth_name(enum xmpp_auth_method m);
/* Effective TLS mode towards a peer: an allow-list entry overrides the global mode. */
enum xmpp_tls_mode s2s__tls_for_peer(enum xmpp_tls_mode global, const struct db_allow_entry *a);
/* snprintf that truncates silently (texts for logs and faults may be cut). */
void s2s__fmt(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* JSON string escaping into out (appends, without quotes). */
void s2s__json_escape(struct fg_buf *out, const char *s);
/* Is the stanza's 'type' error (never answer an error with an error, RFC 6120 §8.3.1)? */
bool s2s__is_error_stanza(const struct xmpp_node *n);

/* ---- configuration snapshot (config.c) ----------------------------------------------- */

/* Read from the store; reference-counted so that connections keep the snapshot they
 * started with (its strings back their machines' borrowed xmpp_s2s_config). */
struct s2s_conf {
	int refs;
	bool enabled;
	char (*domains)[DB_DOMAIN_MAX];
	struct tls_creds **creds; /* per domain, NULL = no certificate (no TLS) */
	const char **domain_ptrs;
	size_t n_domains;
	struct tls_trust *trust; /* NULL: no CA configured */
	size_t n_trust;
	struct policy *policy;
	bool default_allow;
	struct db_allow_entry *allow;
	struct tls_creds **allow_creds; /* per allow entry: its certificate override or NULL */
	size_t n_allow;
	struct xmpp_s2s_config xcfg; /* global defaults; domain list, secret */
	char secret[DB_SETTING_VALUE_MAX];
	char binds[S2S_MAX_BINDS][DB_DOMAIN_MAX];
	size_t n_binds;
	uint16_t port, direct_port;
	char dns_servers[DB_SETTING_VALUE_MAX];
	char dns_zones[DB_SETTING_VALUE_MAX];
	int64_t connect_timeout_ms, idle_timeout_ms;
	size_t queue_max, max_stanza;
	bool allow_system_ca;
	char problems[S2S_TEXT_MAX]; /* first configuration problem found, for the log */
};

/* Extra local domains (registered by other gateways in the process). */
enum fg_err s2s__conf_load(struct db *db, const char *const *extra, size_t n_extra,
                           struct s2s_conf **out);
struct s2s_conf *s2s__conf_ref(struct s2s_conf *c);
void s2s__conf_unref(struct s2s_conf *c);
/* Index of a local domain or -1. */
int s2s__conf_domain(const struct s2s_conf *c, const char *domain);
const struct db_allow_entry *s2s__conf_allow(const struct s2s_conf *c, const char *domain);
/* The certificate presented to that peer: the allow entry's override, else the local
 * domain's; NULL when neither has one. */
struct tls_creds *s2s__conf_creds_for(const struct s2s_conf *c, const char *local,
                                      const char *remote);
/* Makes and stores a dialback secret when none is set (one db_write). */
enum fg_err s2s__ensure_secret(struct db *db);

/* ---- a stanza from bytes (util.c) ---------------------------------------------------- */

typedef void (*s2s_node_cb)(void *ctx, const struct xmpp_node *n);
/* Parses one serialized stanza in the jabber:server namespace; cb sees it once. */
enum fg_err s2s__parse_stanza(const uint8_t *data, size_t len, s2s_node_cb cb, void *ctx);
/* Frees the parsers kept between calls (at engine shutdown). */
void s2s__parse_cleanup(void);

/* ---- validation hooks (engine.c <-> validate.c) ---------------------------------------- */

enum s2s_vev {
	S2S_VEV_CONNECTED = 0,  /* TCP up: info->addr */
	S2S_VEV_CONNECT_FAILED, /* every address failed: info->text */
	S2S_VEV_FEATURES,       /* stream features seen: info->text */
	S2S_VEV_TLS_UP,         /* handshake done: version, suite, peer certificate */
	S2S_VEV_TLS_FAILED,     /* info->text */
	S2S_VEV_AUTH,           /* info->method */
	S2S_VEV_CLOSED,         /* info->text */
	S2S_VEV_PONG,           /* info->id answered (info->text: "" or the error) */
};

struct s2s_vinfo {
	const char *addr;
	const char *text;
	const char *tls_version, *tls_suite;
	const char *subject, *issuer;
	int64_t not_after_ms;
	const char *name_match; /* "DNS-ID", ... or "" when the name did not match */
	bool chain_ok;
	enum xmpp_auth_method method;
	bool direct_tls;
	const char *id;
};

void s2s__validation_event(struct s2s_validation *v, enum s2s_vev ev, const struct s2s_vinfo *in);
/* An engine without listeners whose outgoing streams report to v. */
enum fg_err s2s__engine_private(struct s2s_engine **out, uv_loop_t *loop, struct db *db,
                                struct s2s_validation *v);
const struct s2s_conf *s2s__engine_conf(const struct s2s_engine *e);
struct resolver *s2s__engine_resolver(const struct s2s_engine *e);
/* Opens (or finds) the outgoing stream local -> remote. */
enum fg_err s2s__engine_open(struct s2s_engine *e, const char *local, const char *remote);
/* Ids of validation pings: answers with this prefix are published for the CLI. */
#define S2S_PING_ID_PREFIX "fedgw-validate-"
/* True when a serving engine runs in this process (ping answers can reach it). */
bool s2s__engine_serving(void);
/* Ping answers reach whichever engine of the process receives them. */
void s2s__pong_expect(struct s2s_validation *v, const char *id);
void s2s__pong_forget(struct s2s_validation *v);

#endif
