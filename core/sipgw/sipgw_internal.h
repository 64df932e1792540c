/* sipgw internals: limits, the configuration snapshot and the helpers shared by the
 * engine, the validation and the unit tests. */
#ifndef FEDGW_SIPGW_INTERNAL_H
#define FEDGW_SIPGW_INTERNAL_H

#include "sipgw/sipgw.h"

#include "db/db.h"
#include "resolve/resolve.h"
#include "sip/sip.h"
#include "tls/tls.h"

#define SIPGW_SUBSYS "sip"

/* SIP domains served at once: an appliance fronts a handful of edges. */
#define SIPGW_MAX_DOMAINS 64u
/* RFC 5626 §4.4.1: CRLF keepalive on idle connections every 30 s; the pong must come
 * within 10 s (§4.4.1 suggests the same order) or the connection is dropped. */
#define SIPGW_KEEPALIVE_MS 30000
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
/* Accepted connections at once: far above what a few edges open. */
#define SIPGW_MAX_CONNS 1024u
/* Engine tick: transaction timers, keepalives, OPTIONS, refreshes, status. */
#define SIPGW_TICK_MS 200
/* RFC 6665 §4.1.2.1 refresh margin (see sipgw_refresh_at). */
#define SIPGW_REFRESH_MARGIN_MS 5000
/* Stanza ids we generate are 16 hex chars; a peer's (CPIM Message-ID) is cut to this. */
#define SIPGW_STANZA_ID_MAX 128
/* Ids of relays the router refused, remembered so its bounce stanza is not reported twice
 * (it can arrive just after the verdict). */
#define SIPGW_REFUSED_IDS 64u
/* 503 Retry-After when sip.max_pending is reached (seconds). */
#define SIPGW_RETRY_AFTER_S 5
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

/* ---- test entry points (engine.c) ----------------------------------------------------- */

/* Stanzas the engine would hand to the router go to sink instead (tests without an XMPP
 * side); relayed SIP requests are then answered as written (202). */
typedef void (*sipgw_xmpp_sink_cb)(void *ctx, const uint8_t *stanza, size_t len);
void sipgw__set_xmpp_sink(struct sipgw *gw, sipgw_xmpp_sink_cb cb, void *ctx);
/* Delivers one serialized stanza as if the router had handed it over for a SIP domain. */
enum fg_err sipgw__inject(struct sipgw *gw, const char *xml);
/* State of a SIP domain's status object ("up", ...), or NULL. */
const char *sipgw__domain_state(struct sipgw *gw, const char *sip_domain);

#endif
