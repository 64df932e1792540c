/* sipconf: validated, audited SIP gateway configuration (sip.* settings, SIP domains with
 * their next hop, certificates and mapped XMPP domain) for the console API and the CLI
 * (RFC 3261 §18 transports, RFC 5922 §7 certificate names, RFC 7247 §4 domain mapping). */
#ifndef FEDGW_SIPCONF_H
#define FEDGW_SIPCONF_H

#include "base/base.h"
#include "conf/conf.h"
#include "db/db.h"

#include <jansson.h>
#include <stdbool.h>

/*
 * The conventions of every configuration area (conf/conf.h): every change is one db_write
 * holding the change and its audit entry (actor and source as given); the engine applies
 * it live. Answers (*out, a new reference) carry "message", "changed" [{"field","from",
 * "to"}], "warnings" and the resulting object. Refusals fill struct conf_err (status
 * 404/409/422/500, plain-words message, field, fix), the refusal shape every configuration
 * operation shares.
 */

/* SIP domains one gateway serves: one next-hop connection each; an OCS gateway had one,
 * a few dozen covers a hosting provider. */
#define SIPCONF_DOMAINS_MAX 64
/* Default next-hop ports (RFC 3261 §19.1.2). */
#define SIPCONF_PORT_TCP 5060
#define SIPCONF_PORT_TLS 5061

/* True if host is a next hop as the engine dials it: a DNS name (conf_domain_valid
 * rules) or an IPv4/IPv6 address (without brackets). */
bool sipconf_host_valid(const char *host, const char **why);

/* ---- settings (docs/settings.md, SIP table) ------------------------------------------- */

/* {"enabled":true, "fqdn":"gw.example.com", "fqdn_default":true, "tcp_port":5060,
 *  "tls_port":5061, "bind":"0.0.0.0", "subscription_expires_s":3600, "max_pending":1000,
 * "max_message_bytes":1300}: keys are the settings' names without "sip."; fqdn is the host name
 * while unset (fqdn_default true). */
enum fg_err sipconf_settings_get(struct db *db, json_t **out);
/* The sip.* settings table (names, types, ranges, defaults, help) the engine uses. */
const struct conf_settings *sipconf_settings_table(void);
/* Partial update of the keys above (fqdn "" goes back to the host name). Values typed or
 * as text ("true", "5061"); all validated before anything is written. */
enum fg_err sipconf_settings_set(struct db *db, const char *actor, const char *source,
                                 json_t *changes, json_t **out, struct conf_err *e);

/* ---- SIP domains ------------------------------------------------------------------------ */

/* Each domain: {"domain","next_hop","port","transport":"tls|tcp","cert_id","cert_name",
 * "cert_names_fqdn" (null without a certificate),"ca_id","ca_name","bind","xmpp_domain"
 * (as stored, "" = same name),"maps_to" (the XMPP domain in effect),"created",
 * "warnings":[], "status": null or {"state","reason","since", and the engine's fields:
 * "dns","tcp","tls","options","cert_match","peer_names","messages_in","messages_out",
 * "errors","subscriptions","sessions","last_error",...}} (status object "sip:<domain>"). */
enum fg_err sipconf_domain_list(struct db *db, json_t **out);
enum fg_err sipconf_domain_get(struct db *db, const char *domain, json_t **out, struct conf_err *e);
/* in: {"domain","next_hop","port","transport","cert_id","ca_id","bind","xmpp_domain"}:
 * domain and next_hop required; port 0/absent = 5061 for tls, 5060 for tcp; transport
 * defaults to tls, which needs a CA bundle (ca_id). */
enum fg_err sipconf_domain_add(struct db *db, const char *actor, const char *source, json_t *in,
                               json_t **out, struct conf_err *e);
/* Partial: the fields present replace the domain's ("" clears cert_id, bind, xmpp_domain).
 * A port left at the old transport's default follows a change of transport. */
enum fg_err sipconf_domain_edit(struct db *db, const char *actor, const char *source,
                                const char *domain, json_t *in, json_t **out, struct conf_err *e);
enum fg_err sipconf_domain_delete(struct db *db, const char *actor, const char *source,
                                  const char *domain, json_t **out, struct conf_err *e);

#endif
