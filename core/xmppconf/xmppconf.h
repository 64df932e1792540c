/* xmppconf: validated, audited XMPP federation configuration (settings, local domains,
 * allow list, policy) for the console API and the CLI; RFC 6120 §3.2 records to publish. */
#ifndef FEDGW_XMPPCONF_H
#define FEDGW_XMPPCONF_H

#include "base/base.h"
#include "conf/conf.h"
#include "db/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every change runs one db_write holding the change and its audit entry (actor and source
 * as given: an admin name and a client address, or "cli:<user>" and "cli"). A committed
 * change bumps the configuration generation; the daemon notices and reconfigures the
 * engine, so nothing needs a restart. Inputs are JSON objects whose field names are the
 * API's (docs/api.yaml); the CLI builds the same objects from its arguments.
 *
 * Answers (*out, a new reference) carry "message" (what changed, in plain words),
 * "changed" (the fields that changed, each {"field","from","to"}), "warnings" (plain
 * words; the change was made anyway) and the resulting object. A refusal returns an error
 * and fills *e: plain words, the field concerned and what to do.
 *
 * The dialback secret is never part of any answer except xmppconf_secret_regenerate's.
 */

/* Lists in settings hold at most this many items (conf/conf.h). */
#define XMPPCONF_LIST_MAX CONF_LIST_MAX
/* The dialback secret: 32 random bytes as 64 hex characters (XEP-0185 §3). */
#define XMPPCONF_SECRET_BYTES 32
#define XMPPCONF_SECRET_HEX   (2 * XMPPCONF_SECRET_BYTES + 1)
/* Policy exceptions and allow-list entries a store may hold: each is checked per stanza
 * and listed whole in the console; ten thousand is far beyond any real deployment. */
#define XMPPCONF_RULES_MAX   10000
#define XMPPCONF_ALLOW_MAX   10000
#define XMPPCONF_DOMAINS_MAX 64

#define XMPPCONF_SETTING_SECRET "xmpp.dialback_secret"
#define XMPPCONF_SETTING_POLICY "policy.default"

/* struct conf_err: the refusal shape every configuration operation shares (status,
 * message, field, fix), defined in conf/conf.h. */

/* ---- validation shared with the engine and the CLI ------------------------------------ */

/* A DNS domain name as accepted for XMPP domains: RFC 1035 labels (letters, digits,
 * hyphens; 1-63 octets, no hyphen at either end), lowercase, at most 253 octets, no
 * trailing dot, not an IP address. On false, *why is a plain-words reason (static). */
bool xmppconf_domain_valid(const char *domain, const char **why);

/* ---- settings (docs/settings.md: every xmpp.* key and policy.default) ----------------- */

/* {"enabled":true, "bind":["0.0.0.0"], "port":5269, ..., "tls_mode":"required",
 *  "dialback_secret_set":true, "policy_default":"allow"}: keys are the settings' names
 * without "xmpp." (and policy_default), defaults filled in; booleans and numbers typed,
 * lists as arrays of strings. */
enum fg_err xmppconf_settings_get(struct db *db, json_t **out);
/* The xmpp.* settings table (names, types, ranges, defaults, help) the engine uses. */
const struct conf_settings *xmppconf_settings_table(void);
/* Partial update: any subset of the keys above (except dialback_secret_set). Values may be
 * typed or strings as on the command line ("true", "5269", "a, b"). All are validated
 * before anything is written; nothing is written when one is refused. */
enum fg_err xmppconf_settings_set(struct db *db, const char *actor, const char *source,
                                  json_t *changes, json_t **out, struct conf_err *e);
/* A new random dialback secret, stored and returned once (audited without the value). */
enum fg_err xmppconf_secret_regenerate(struct db *db, const char *actor, const char *source,
                                       char secret[XMPPCONF_SECRET_HEX]);

/* ---- local XMPP domains ------------------------------------------------------------ */

/* host: the gateway's host name for the SRV records to publish. Each domain is
 * {"domain","cert_id","cert_name","cert_covers","warnings":[],"records":[{"name","type",
 * "value","text"}]}. */
enum fg_err xmppconf_domain_list(struct db *db, const char *host, json_t **out);
/* in: {"domain", "cert_id"}; cert_id "" or absent = none. */
enum fg_err xmppconf_domain_add(struct db *db, const char *actor, const char *source, json_t *in,
                                const char *host, json_t **out, struct conf_err *e);
/* in: {"cert_id"} (and "domain" only if equal to domain). */
enum fg_err xmppconf_domain_edit(struct db *db, const char *actor, const char *source,
                                 const char *domain, json_t *in, const char *host, json_t **out,
                                 struct conf_err *e);
enum fg_err xmppconf_domain_delete(struct db *db, const char *actor, const char *source,
                                   const char *domain, json_t **out, struct conf_err *e);

/* ---- allow list ------------------------------------------------------------------------ */

/* Each entry {"domain","server","port","auth":"dialback|sasl_external|either",
 * "tls":"required|optional|off","cert_id","description","created"}. */
enum fg_err xmppconf_allow_list(struct db *db, json_t **out);
enum fg_err xmppconf_allow_add(struct db *db, const char *actor, const char *source, json_t *in,
                               json_t **out, struct conf_err *e);
/* Partial: the fields present replace the entry's. */
enum fg_err xmppconf_allow_edit(struct db *db, const char *actor, const char *source,
                                const char *domain, json_t *in, json_t **out, struct conf_err *e);
enum fg_err xmppconf_allow_delete(struct db *db, const char *actor, const char *source,
                                  const char *domain, json_t **out, struct conf_err *e);

/* ---- policy (seed 003) --------------------------------------------------------------- */

/* {"default":"allow|deny","rules":[{"id","pattern","verdict","direction","description",
 * "created"}], "warnings":[]}. */
enum fg_err xmppconf_policy_get(struct db *db, json_t **out);
enum fg_err xmppconf_policy_default_set(struct db *db, const char *actor, const char *source,
                                        const char *verdict, json_t **out, struct conf_err *e);
/* in: {"pattern","verdict":"allow|deny","direction":"both|incoming|outgoing",
 * "description"}. A rule that denies an allow-listed domain is stored with a warning. */
enum fg_err xmppconf_rule_add(struct db *db, const char *actor, const char *source, json_t *in,
                              json_t **out, struct conf_err *e);
enum fg_err xmppconf_rule_edit(struct db *db, const char *actor, const char *source, const char *id,
                               json_t *in, json_t **out, struct conf_err *e);
enum fg_err xmppconf_rule_delete(struct db *db, const char *actor, const char *source,
                                 const char *id, json_t **out, struct conf_err *e);

/* ---- peers (status objects of kind "xmpp-peer" written by the engine) ---------------- */

/* {"peers":[{"id","domain","local","direction","state","reason","since","since_ms",
 * ...the engine's extra fields}], "allow":[allow entry + "connection":{"state","peers"}]} */
enum fg_err xmppconf_peers(struct db *db, json_t **out);

/* ---- records to publish -------------------------------------------------------------- */

/* The SRV records for one local domain: _xmpp-server._tcp (and _xmpps-server._tcp when
 * the direct TLS port is set), as an array of {"name","type","value","text"}. */
json_t *xmppconf_records(const char *domain, const char *host, unsigned port,
                         unsigned direct_tls_port);

#endif
