/* s2s: the XMPP server-to-server federation engine on the event loop — listeners,
 * outbound streams with SRV failover, TLS, dialback and SASL EXTERNAL, routing with queues
 * and bounces, policy, live configuration, status and faults — and "validate connection". */
#ifndef FEDGW_S2S_H
#define FEDGW_S2S_H

#include "base/base.h"
#include "xmpp/xmpp.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct db;

/*
 * Configuration comes from the store only (settings "xmpp.*", "policy.default", records
 * xmpp_domains, allow, policy, certs and CA bundles). s2s_engine_reconfigure re-reads it;
 * sessions the new configuration no longer allows are closed with the right stream error
 * (policy-violation, not-authorized, host-unknown...). Status objects (kind "xmpp-peer",
 * id "xmpp:<direction>:<local>:<remote>") and faults go to the status registry.
 */
struct s2s_engine;

enum fg_err s2s_engine_start(struct s2s_engine **out, uv_loop_t *loop, struct db *db,
                             const char *version);
/* Re-reads the configuration from the store and applies it live. */
void s2s_engine_reconfigure(struct s2s_engine *e);
/* Closes every stream (system-shutdown) and stops listening; completes on the loop. */
void s2s_engine_stop(struct s2s_engine *e);

/* ---- the router, for the other gateways in the process (SIP, components) ------------ */

/* Stanzas from federated peers addressed to a registered local domain (or a JID in it)
 * are handed to cb instead of being answered by the gateway itself. The node is valid
 * during the call only. Registering a domain makes it a local domain of the engine. */
typedef void (*s2s_domain_cb)(void *ctx, const struct xmpp_node *stanza);
enum fg_err s2s_domain_register(struct s2s_engine *e, const char *domain, s2s_domain_cb cb,
                                void *ctx);
void s2s_domain_unregister(struct s2s_engine *e, const char *domain);

/* Outcome of sending one stanza to a remote domain: XMPP_SC__COUNT means it was written to
 * an authenticated stream; otherwise the condition it bounced with
 * (remote-server-not-found for DNS failures, remote-server-timeout, resource-constraint
 * when the queue is full, policy-violation/not-allowed when policy denies). */
typedef void (*s2s_sent_cb)(void *ctx, enum xmpp_stanza_cond result, const char *text);

/* Routes one serialized stanza (jabber:server namespace, from a local domain) to the
 * domain of its 'to'. cb (may be NULL) is called exactly once, on the loop, never from
 * inside this call. */
enum fg_err s2s_send(struct s2s_engine *e, const uint8_t *stanza, size_t len, s2s_sent_cb cb,
                     void *ctx);
/* Same for a stanza already built as a tree by the caller (element in jabber:server, or
 * in no namespace for its children to inherit): no parse, one serialisation when written.
 * The tree is only read during the call. */
enum fg_err s2s_send_node(struct s2s_engine *e, const struct xmpp_node *stanza, s2s_sent_cb cb,
                          void *ctx);

/* Same for a stanza the caller serialized and vouches for: one well-formed element in
 * jabber:server (written without xmlns) whose 'from' and 'to' domains are from_domain and
 * to_domain, as xmpp_jid_domain gives them. The router takes the domains as given instead
 * of parsing the bytes, applies the same limits (xmpp.max_stanza_bytes: FG_ERR_TOOBIG) and
 * policy, and writes the bytes as they are: straight to an authenticated stream, or one
 * copy into its queue. The bytes are only read during the call. */
enum fg_err s2s_send_routed(struct s2s_engine *e, const char *from_domain, const char *to_domain,
                            const uint8_t *stanza, size_t len, s2s_sent_cb cb, void *ctx);

/* ---- validate connection (console, API, CLI) ----------------------------------------- */

enum s2s_step_state {
	S2S_STEP_RUNNING = 0,
	S2S_STEP_PASS,
	S2S_STEP_FAIL,
	S2S_STEP_SKIP,
	S2S_STEP_WARN
};

/* "running", "pass", "fail", "skip", "warn": the names the API and the CLI print. */
const char *s2s_step_state_name(enum s2s_step_state s);

struct s2s_step {
	const char *id;    /* "dns.srv", "dns.xmpps", "dns.addr", "publish", "tcp", "stream",
	                      "tls", "auth", "ping" */
	const char *title; /* "DNS SRV _xmpp-server._tcp.example.org" */
	enum s2s_step_state state;
	const char *detail; /* what was found, plain words */
	const char *fix;    /* what to do when it failed ("" otherwise) */
	const char *tech;   /* technical detail for the expert (codes), may be "" */
};

/* Called for every step as it starts and as it ends; done_cb once at the end with the
 * overall result. Runs on any loop (the daemon's, or the CLI's own) with the
 * configuration in the store; the CLI can run it while the daemon runs. */
typedef void (*s2s_step_cb)(void *ctx, const struct s2s_step *step);
typedef void (*s2s_done_cb)(void *ctx, bool ok);

struct s2s_validation;
enum fg_err s2s_validate_start(struct s2s_validation **out, uv_loop_t *loop, struct db *db,
                               const char *remote_domain, s2s_step_cb step_cb, s2s_done_cb done_cb,
                               void *ctx);
/* Stops a validation (no more callbacks) and frees it; safe after done_cb too. */
void s2s_validate_free(struct s2s_validation *v);

#endif
