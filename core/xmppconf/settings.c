/* xmppconf: the xmpp.* settings and policy.default (docs/settings.md), the XEP-0185
 * dialback secret, validated and audited. */
#include "xmppconf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tls_modes[] = {"off", "optional", "required", NULL};
static const char *const verdicts[] = {"allow", "deny", NULL};

static const struct conf_setting defs[] = {
    {"enabled", "xmpp.enabled", "Federation on/off (enabled)", CONF_BOOL, "true", 0, 0, NULL,
     "Use true or false.", "true|false", "federation on/off"},
    {"bind", "xmpp.bind", "The listen addresses (bind)", CONF_ADDRS, "0.0.0.0", 0, 0, NULL,
     "Give IPv4 or IPv6 addresses separated by commas, e.g. 0.0.0.0 or 0.0.0.0, ::.", "ADDR[,ADDR]",
     "listener addresses (0.0.0.0)"},
    {"port", "xmpp.port", "The port (port)", CONF_UINT, "5269", 1, 65535, NULL,
     "Use a port from 1 to 65535 (5269 is "
     "the standard).",
     "N", "s2s port (5269)"},
    {"direct_tls_port", "xmpp.direct_tls_port", "The direct TLS port (direct_tls_port)", CONF_UINT,
     "0", 0, 65535, NULL, "Use 0 (off) or a port up to 65535 (commonly 5270).", "N",
     "XEP-0368 direct TLS port, 0 = off"},
    {"dns_servers", "xmpp.dns_servers", "The DNS servers (dns_servers)", CONF_DNS, "", 0, 0, NULL,
     "Give addresses with an optional @port separated by commas, e.g. 192.0.2.53, "
     "2001:db8::53@5353; leave empty for the system's servers.",
     "ADDR[@PORT],...", "DNS servers; empty = the system's"},
    {"dns_transparent_zones", "xmpp.dns_transparent_zones",
     "The special-use zones (dns_transparent_zones)", CONF_ZONES, "", 0, 0, NULL,
     "Give zone names separated by commas, e.g. test.", "ZONE,...",
     "special-use zones to resolve anyway"},
    {"tls_mode", "xmpp.tls_mode", "The security mode (tls_mode)", CONF_ENUM, "required", 0, 0,
     tls_modes, "Use off, optional or required.", "off|optional|required",
     "No TLS / TLS optional / TLS required"},
    {"require_client_cert", "xmpp.require_client_cert",
     "Require client-side certificates (require_client_cert)", CONF_BOOL, "false", 0, 0, NULL,
     "Use true or false.", "true|false", "refuse incoming TLS peers without a certificate"},
    {"sasl_external_in", "xmpp.sasl_external_in",
     "SASL EXTERNAL on incoming connections (sasl_external_in)", CONF_BOOL, "true", 0, 0, NULL,
     "Use true or false.", "true|false", "offer SASL EXTERNAL on incoming connections"},
    {"sasl_external_out", "xmpp.sasl_external_out",
     "SASL EXTERNAL on outgoing connections (sasl_external_out)", CONF_BOOL, "true", 0, 0, NULL,
     "Use true or false.", "true|false", "use SASL EXTERNAL on outgoing connections"},
    {"dialback", "xmpp.dialback", "Server Dialback (dialback)", CONF_BOOL, "true", 0, 0, NULL,
     "Use true or false.", "true|false", "Server Dialback (XEP-0220)"},
    {"max_stanza_bytes", "xmpp.max_stanza_bytes", "The stanza size limit (max_stanza_bytes)",
     CONF_UINT, "524288", 10240, 16777216, NULL,
     "Use a size in bytes from 10240 to 16777216 (default 524288).", "N",
     "10240-16777216 (524288)"},
    {"allow_system_ca", "xmpp.allow_system_ca", "Trusting the system CA set (allow_system_ca)",
     CONF_BOOL, "false", 0, 0, NULL, "Use true or false.", "true|false",
     "also trust the system CA set"},
    {"connect_timeout_s", "xmpp.connect_timeout_s", "The connect timeout (connect_timeout_s)",
     CONF_UINT, "10", 1, 120, NULL, "Use a number of seconds from 1 to 120.", "N", "1-120 (10)"},
    {"queue_max", "xmpp.queue_max", "The queue length (queue_max)", CONF_UINT, "1000", 1, 100000,
     NULL, "Use a number from 1 to 100000.", "N", "1-100000 (1000)"},
    {"idle_timeout_s", "xmpp.idle_timeout_s", "The idle timeout (idle_timeout_s)", CONF_UINT, "600",
     30, 86400, NULL, "Use a number of seconds from 30 to 86400.", "N", "30-86400 (600)"},
    {"policy_default", XMPPCONF_SETTING_POLICY, "The default policy (policy_default)", CONF_ENUM,
     "allow", 0, 0, verdicts, "Use allow or deny.", "allow|deny", "same as `policy default`"},
};

/* Checks across settings, on the values as they will be. */
static enum fg_err check(const struct conf_settings_view *v, struct db_txn *txn, json_t *answer,
                         struct conf_err *e)
{
	(void)txn;
	unsigned port = 0, dtls = 0;
	uint64_t n;
	if (fg_parse_u64(conf_view_value(v, "port"), 1, 65535, &n))
		port = (unsigned)n;
	if (fg_parse_u64(conf_view_value(v, "direct_tls_port"), 0, 65535, &n))
		dtls = (unsigned)n;
	if (dtls != 0 && dtls == port)
		return conf_fail(
		    e, 422, conf_view_given(v, "direct_tls_port") ? "direct_tls_port" : "port",
		    "Use another port for direct TLS (commonly 5270) or 0 to turn "
		    "it off.",
		    "The direct TLS port cannot be the same as the s2s port %u.", port);
	bool tls_off = strcmp(conf_view_value(v, "tls_mode"), "off") == 0;
	bool dialback = conf_view_bool(v, "dialback");
	bool sasl_in = conf_view_bool(v, "sasl_external_in");
	bool sasl_out = conf_view_bool(v, "sasl_external_out");
	if (dtls != 0 && tls_off)
		conf_answer_warn(answer, "The direct TLS port is set but TLS is off: nothing will "
		                         "listen on it until TLS is optional or required.");
	if (tls_off && (sasl_in || sasl_out) && dialback)
		conf_answer_warn(answer, "SASL EXTERNAL needs TLS: with TLS off, peers "
		                         "authenticate with dialback only.");
	if (tls_off && conf_view_bool(v, "require_client_cert"))
		conf_answer_warn(answer, "Client certificates are only asked for over TLS: with "
		                         "TLS off this setting does nothing.");
	if (!dialback && (tls_off || (!sasl_in && !sasl_out)))
		conf_answer_warn(answer, "No authentication method is left (dialback off and no "
		                         "SASL EXTERNAL over TLS): federation will fail. Turn "
		                         "dialback on or enable TLS with SASL EXTERNAL.");
	return FG_OK;
}

/* XEP-0185: the secret is made from random bytes, never typed. */
static enum fg_err refuse(const char *key, struct conf_err *e)
{
	if (strcmp(key, "dialback_secret") != 0)
		return FG_OK;
	return conf_fail(e, 422, "dialback_secret",
	                 "Use Regenerate (fedgw xmpp secret regenerate): the "
	                 "secret is made from random bytes, never typed.",
	                 "The dialback secret cannot be set by hand.");
}

/* Whether a dialback secret is set; never the secret itself. */
static enum fg_err extra(struct db_txn *txn, json_t *obj)
{
	char buf[DB_SETTING_VALUE_MAX];
	enum fg_err err = db_setting_get(txn, XMPPCONF_SETTING_SECRET, buf, sizeof(buf));
	if (err && err != FG_ERR_NOTFOUND)
		return err;
	json_object_set_new(obj, "dialback_secret_set", json_boolean(err == FG_OK && buf[0]));
	explicit_bzero(buf, sizeof(buf));
	return FG_OK;
}

static const char *const readonly[] = {"dialback_secret_set", NULL};

static const struct conf_settings table = {
    .area = "XMPP",
    .prefix = "xmpp.",
    .action = "xmpp.settings",
    .what = "settings",
    .off_name = "enabled",
    .off_text = "Federation is now off: the listeners close and streams end with "
                "system-shutdown.",
    .stored_raw = false,
    .defs = defs,
    .ndefs = sizeof(defs) / sizeof(defs[0]),
    .readonly = readonly,
    .refuse = refuse,
    .check = check,
    .extra = extra,
};

enum fg_err xmppconf__setting(struct db_txn *txn, const char *key, char *out, size_t size)
{
	return conf_setting_read(txn, &table, key, out, size);
}

unsigned xmppconf__setting_uint(struct db_txn *txn, const char *key)
{
	return conf_setting_uint(txn, &table, key);
}

const struct conf_settings *xmppconf_settings_table(void)
{
	return &table;
}

enum fg_err xmppconf_settings_get(struct db *db, json_t **out)
{
	return conf_settings_get(db, &table, out);
}

enum fg_err xmppconf_settings_set(struct db *db, const char *actor, const char *source,
                                  json_t *changes, json_t **out, struct conf_err *e)
{
	return conf_settings_set(db, &table, actor, source, changes, out, e);
}

/* ---- dialback secret -------------------------------------------------------------- */

struct secret_ctx {
	const char *actor, *source;
	const char *secret;
};

static enum fg_err secret_fn(struct db_txn *txn, void *vctx)
{
	struct secret_ctx *c = vctx;
	enum fg_err err = db_setting_put(txn, XMPPCONF_SETTING_SECRET, c->secret);
	if (err)
		return err;
	/* The value itself never reaches the audit trail or the log. */
	return conf_audit(txn, c->actor, c->source, "xmpp.secret.regenerate",
	                  "new dialback secret (%d random bytes)", XMPPCONF_SECRET_BYTES);
}

enum fg_err xmppconf_secret_regenerate(struct db *db, const char *actor, const char *source,
                                       char secret[XMPPCONF_SECRET_HEX])
{
	uint8_t raw[XMPPCONF_SECRET_BYTES];
	fg_random(raw, sizeof(raw));
	fg_hex(secret, raw, sizeof(raw));
	explicit_bzero(raw, sizeof(raw));
	struct secret_ctx c = {actor, source, secret};
	enum fg_err err = db_write(db, secret_fn, &c);
	if (err)
		explicit_bzero(secret, XMPPCONF_SECRET_HEX);
	return err;
}
