/* sipgw: the SIP gateway engine on the event loop — SIP over TCP and mutual TLS toward the
 * Access Edge (RFC 3261, RFC 5626 keepalives, RFC 5922 names), glued to the XMPP federation
 * engine with the RFC 7247 / RFC 7572 / RFC 8048 / RFC 3994 translations. */
#ifndef FEDGW_SIPGW_H
#define FEDGW_SIPGW_H

#include "base/base.h"
#include "s2s/s2s.h"
#include "xlate/xlate.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct db;

/*
 * Configuration comes from the store: settings "sip.*" (docs/settings.md) and the
 * db_sip_domain records (next hop, transport, certificates, mapped XMPP domain). Every SIP
 * domain's XMPP domain is registered with the s2s router (s2s_domain_register); stanzas
 * for it come to the gateway, and SIP requests from the edge go out with s2s_send. Status
 * objects "sip:<domain>" (kind "sip-domain") and faults "sip.<what>.<domain>" go to the
 * status registry.
 */
struct sipgw;

/* Starts listeners and one next-hop connection per SIP domain. s2s may be NULL (no XMPP
 * side: requests for XMPP get 503). */
enum fg_err sipgw_start(struct sipgw **out, uv_loop_t *loop, struct db *db, struct s2s_engine *s2s);
/* Re-reads the configuration and applies it live. */
void sipgw_reconfigure(struct sipgw *gw);
/* Closes every connection and listener and frees the engine (handles close on the loop). */
void sipgw_stop(struct sipgw *gw);

/* ---- validate connection (console, API, CLI) ------------------------------------------ */

/* Steps: "dns", "tcp", "tls", "cert" (name match), "options"; the same step shape and
 * state enum as the XMPP validation (struct s2s_step). */
struct sipgw_validation;
enum fg_err sipgw_validate_start(struct sipgw_validation **out, uv_loop_t *loop, struct db *db,
                                 const char *sip_domain, s2s_step_cb step_cb, s2s_done_cb done_cb,
                                 void *ctx);
/* Stops a validation (no more callbacks) and frees it; safe after done_cb too. */
void sipgw_validate_free(struct sipgw_validation *v);

/* ---- pure glue (sans-IO, unit-tested) -------------------------------------------------- */

/* Caps on what the glue keeps from a peer. */
#define SIPGW_MAX_JID  3071u /* RFC 7622: a full JID */
#define SIPGW_MAX_TEXT 8192u /* error text kept for a reply */

/* s2s_send's outcome -> the SIP final response for the request that caused it (RFC 3428 §7:
 * 202 only when written to an authenticated stream; otherwise the RFC 7247 §7.1 codes,
 * with gateway choices: remote-server-not-found 404,
 * policy-violation 403, remote-server-timeout 408, resource-constraint 503). */
unsigned sipgw_status_from_s2s(enum xmpp_stanza_cond result);

/* The parts of an XMPP message stanza the SIP side needs. Strings are borrowed from the
 * stanza (valid while it is). */
struct sipgw_stanza_msg {
	const char *from, *to, *id, *type;
	struct xlate_im im; /* owned copies (xlate_im_clear) */
	bool has_chatstate; /* XEP-0085 element present */
	enum xlate_chatstate chatstate;
};
/* Reads a <message/>. FG_ERR_NOTFOUND: nothing to send to SIP (error or headline type, no
 * body and no chat state). */
enum fg_err sipgw_stanza_msg_read(const struct xmpp_node *stanza, struct sipgw_stanza_msg *out);
void sipgw_stanza_msg_clear(struct sipgw_stanza_msg *m);

/* A SIP request made from a stanza: the Request-URI, the To and From name-addrs, the body
 * with its type, and extra header lines. */
struct sipgw_request {
	struct fg_buf ruri, from, to, body, extra;
	const char *content_type;
};
void sipgw_request_clear(struct sipgw_request *r);
/* RFC 7572 §4 / RFC 7247 §6.5: <message from='a@x' to='b@xmppdom'> -> MESSAGE
 * sip:b@sip_domain, From sip:a@x, body text/plain;charset=UTF-8 (or isComposing when only
 * a chat state is sent). why gets plain words on refusal: FG_ERR_INVAL a JID that cannot
 * map, FG_ERR_TOOBIG a body too large for SIP, FG_ERR_PARSE text or a language tag SIP
 * cannot carry. */
enum fg_err sipgw_message_to_sip(const struct sipgw_stanza_msg *m, const char *sip_domain,
                                 struct sipgw_request *out, const char **why);

/* RFC 3264 §6: the SDP answer to an INVITE that opens an IM session: one m= line per offered
 * one, in order; the first "m=message <port> sip ..." stream (text in SIP MESSAGE requests
 * inside the dialog, as OCS and Lync do) is accepted at port, every other stream is
 * rejected with port 0, and the t= line is the offer's. Returns 0 with the answer appended
 * to out, or the RFC 3261 §20.43 warn-code for a 488 (RFC 3261 §13.3.1.3): 302 when a message
 * stream is offered only over another transport (MSRP, RFC 4975), 304 when none is offered,
 * 399 when the offer cannot be read. */
unsigned sipgw_sdp_answer(const uint8_t *offer, size_t len, const char *fqdn, unsigned port,
                          const char *sess_id, struct fg_buf *out);
/* The recommended warn-text of a warn-code of sipgw_sdp_answer (RFC 3261 §20.43). */
const char *sipgw_sdp_warning_text(unsigned warn);

/* RFC 7247 §7.2 Table 3: a SIP final error response to the stanza error sent back to the
 * XMPP sender (from = the original 'to', to = the original 'from'). stanza_kind is
 * "message", "presence" or "iq". False for codes below 300 (no error). */
bool sipgw_error_stanza(const char *stanza_kind, const char *orig_from, const char *orig_to,
                        const char *orig_id, unsigned sip_status, const char *text,
                        struct fg_buf *out);
/* The same for an XMPP condition known by name (bounces from the router). */
enum fg_err sipgw_error_stanza_cond(const char *stanza_kind, const char *orig_from,
                                    const char *orig_to, const char *orig_id,
                                    enum xlate_stanza_error cond, enum xlate_error_type type,
                                    const char *text, struct fg_buf *out);

/* Presence stanza kinds the gateway handles: RFC 8048 §5 (authorizations), §6
 * (notifications), §7 (probe and fetch). */
enum sipgw_presence_type {
	SIPGW_PRES_AVAILABLE = 0, /* no type */
	SIPGW_PRES_UNAVAILABLE,
	SIPGW_PRES_SUBSCRIBE,
	SIPGW_PRES_SUBSCRIBED,
	SIPGW_PRES_UNSUBSCRIBE,
	SIPGW_PRES_UNSUBSCRIBED,
	SIPGW_PRES_PROBE,
	SIPGW_PRES_ERROR,
};
/* Reads a <presence/>: its type and, for availability, show/status/priority into p (owned
 * strings, xlate_presence_clear). FG_ERR_INVAL for an unknown type. */
enum fg_err sipgw_presence_read(const struct xmpp_node *stanza, enum sipgw_presence_type *type,
                                struct xlate_presence *p);
/* <presence from to [type]> with show/status/priority from p (NULL: none), for NOTIFY ->
 * XMPP and subscription answers. Appends to out. */
enum fg_err sipgw_presence_stanza(enum sipgw_presence_type type, const char *from, const char *to,
                                  const struct xlate_presence *p, struct fg_buf *out);

/* RFC 6665 §4.1.2.2: refresh a subscription before it expires. Returns the wall-clock time
 * to send the refresh: 80% of the granted period, but at least Timer F (32 s,
 * SIPGW_REFRESH_MARGIN_MS) before the end so that a slow transaction still completes in
 * time, and never before half the period (short periods). */
int64_t sipgw_refresh_at(int64_t granted_at_ms, long expires_s);

/* The period granted to a SUBSCRIBE (RFC 6665 §4.2.1.1): requested (-1: no Expires header,
 * which means the package default, XLATE_SUB_DEFAULT_EXPIRES, RFC 3856 §6.4) shortened to
 * the configured maximum, never longer than asked (RFC 6665 §3.1.1). */
long sipgw_granted_expires(long requested, long configured);

/* What to do when a SUBSCRIBE of ours fails (RFC 8048 §5.2.2, RFC 6665 §4.1.2.2). */
enum sipgw_subscribe_failure {
	/* 403, 489, 603: the authorization is cancelled; the XMPP user gets 'unsubscribed' */
	SIPGW_SUBFAIL_CANCEL = 0,
	/* 423: again at once with the Min-Expires asked for (RFC 6665 §4.2.1.1) */
	SIPGW_SUBFAIL_INTERVAL,
	/* a refresh got 404, 405, 410, 416, 480-485, 501 or 604: the subscription is over, a
	 * new one goes in a fresh dialog after a backoff; the authorization stays */
	SIPGW_SUBFAIL_NEW_DIALOG,
	/* anything else, a timeout (408) or no answer (0): transient, tried again after a
	 * backoff; the authorization stays (RFC 8048 §5.2.2: "transient error") */
	SIPGW_SUBFAIL_RETRY,
};
enum sipgw_subscribe_failure sipgw_subscribe_failure_action(unsigned status, bool is_refresh);
/* Delay before the next try after failures in a row (1, 2, ...): 30 s doubling, at most an
 * hour, so a notifier that is down is not flooded (RFC 8048 §8.1). */
int64_t sipgw_subscribe_backoff_ms(unsigned failures);
/* RFC 6665 §4.2.2: does this answer to a NOTIFY of ours end the SIP watcher's subscription?
 * MUST for 404, 405, 410, 416, 480-485, 489, 501, 604; SHOULD for Timer F (408) and for a
 * transport failure (status 0). */
bool sipgw_notify_failure_ends(unsigned status);

/* A best-effort response to a request that did not parse (RFC 3261 §8.2.6: copy Via, From,
 * To, Call-ID, CSeq as written; RFC 4475 §3.1.2: malformed requests get 400). Appends
 * nothing and returns false for a response or something without a request line. */
bool sipgw_reply_unparsed(const uint8_t *raw, size_t len, unsigned status, const char *reason,
                          struct fg_buf *out);

/* RFC 5922 §7.1: does the certificate (DER) name the host? DNS-ID subjectAltNames (a "*"
 * wildcard only as the whole leftmost label) and sip:host URI SANs; the subject CN only when
 * the certificate has no SANs of those kinds. names gets the names found (for the fault). */
bool sipgw_cert_names_host(const uint8_t *der, size_t len, const char *host, char *names,
                           size_t namesize);

#endif
