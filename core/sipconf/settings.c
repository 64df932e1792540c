/* sipconf: the sip.* settings (docs/settings.md), validated and audited; the gateway's FQDN
 * is the name in Via, Contact and on its certificate (RFC 3261 §18, RFC 5922 §7). */
#include "sipconf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct conf_setting defs[] = {
    {"enabled", "sip.enabled", "SIP gateway on/off (enabled)", CONF_BOOL, "true", 0, 0, NULL,
     "Use true or false.", "true|false", "SIP gateway on/off"},
    {"fqdn", "sip.fqdn", "The gateway's FQDN (fqdn)", CONF_HOST, NULL, 0, 0, NULL,
     "Write the name on the gateway's SIP certificate, as in sipgw.example.com; leave it "
     "empty for the host name.",
     "NAME", "the gateway's FQDN (on its SIP certificate);\nempty = the host name"},
    {"tcp_port", "sip.tcp_port", "The SIP over TCP port (tcp_port)", CONF_UINT, "5060", 0, 65535,
     NULL, "Use 0 (off) or a port up to 65535 (5060 is the standard).", "N",
     "SIP over TCP listener, 0 = off (5060)"},
    {"tls_port", "sip.tls_port", "The SIP over TLS port (tls_port)", CONF_UINT, "5061", 0, 65535,
     NULL, "Use 0 (off) or a port up to 65535 (5061 is the standard).", "N",
     "SIP over mutual TLS listener, 0 = off (5061)"},
    {"bind", "sip.bind", "The listen address (bind)", CONF_ADDR, "0.0.0.0", 0, 0, NULL,
     "Give one IPv4 or IPv6 address, e.g. 0.0.0.0 (every IPv4 address) or ::.", "ADDR",
     "listener address (0.0.0.0)"},
    {"subscription_expires_s", "sip.subscription_expires_s",
     "The presence subscription period (subscription_expires_s)", CONF_UINT, "3600", 60, 86400,
     NULL, "Use a number of seconds from 60 to 86400 (default 3600).", "N", "60-86400 (3600)"},
    {"max_pending", "sip.max_pending", "The pending request limit (max_pending)", CONF_UINT, "1000",
     1, 1000000, NULL, "Use a number from 1 to 1000000 (default 1000).", "N", "1-1000000 (1000)"},
    {"max_message_bytes", "sip.max_message_bytes",
     "The largest MESSAGE outside a session (max_message_bytes)", CONF_UINT, "1300", 500, 131072,
     NULL, "Use a number of bytes from 500 to 131072 (default 1300, RFC 3428 §8).", "N",
     "500-131072 (1300): largest MESSAGE outside a\nsession (RFC 3428 §8)"},
    {"keepalive_s", "sip.keepalive_s", "The CRLF keepalive interval (keepalive_s)", CONF_UINT, "30",
     0, 3600, NULL, "Use 0 (off) or a number of seconds up to 3600 (default 30, RFC 5626 §4.4.1).",
     "N", "0-3600 (30): CRLF keepalive on idle connections to\nthe next hop, 0 = off (RFC 5626)"},
};

/* Warns about each SIP domain whose certificate does not name the new FQDN: the edge
 * checks the gateway's certificate against it (RFC 5922 §7.2). */
static enum fg_err fqdn_warnings(struct db_txn *txn, json_t *answer, const char *fqdn)
{
	struct db_sip_domain *list = NULL;
	size_t n = 0;
	enum fg_err err = db_sip_domain_list(txn, &list, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		char names[256] = "";
		if (!list[i].cert_id[0] ||
		    sipconf__cert_names(txn, list[i].cert_id, fqdn, names, sizeof(names)))
			continue;
		conf_answer_warn(
		    answer,
		    "The SIP certificate of %s does not name %s%s%s%s: the Access Edge "
		    "will refuse the gateway's TLS connections. Use a certificate with %s "
		    "among its names.",
		    list[i].domain, fqdn, names[0] ? " (it names " : "", names, names[0] ? ")" : "",
		    fqdn);
	}
	free(list);
	return FG_OK;
}

/* SIP over TCP and over TLS need two listeners: two ports, unless one is off. */
static unsigned port_of(const struct conf_settings_view *v, const char *name)
{
	uint64_t n = 0;
	if (!fg_parse_u64(conf_view_value(v, name), 0, UINT32_MAX, &n))
		(void)fg_parse_u64(conf_setting_find(v->table, name)->def, 0, UINT32_MAX, &n);
	return (unsigned)n;
}

static enum fg_err check(const struct conf_settings_view *v, struct db_txn *txn, json_t *answer,
                         struct conf_err *e)
{
	(void)txn;
	(void)answer;
	unsigned tcp = port_of(v, "tcp_port"), tls = port_of(v, "tls_port");
	if (tcp != 0 && tcp == tls)
		return conf_fail(e, 422, conf_view_given(v, "tls_port") ? "tls_port" : "tcp_port",
		                 "Use two different ports (5060 for TCP, 5061 for TLS), or 0 to "
		                 "turn one off.",
		                 "SIP over TCP and SIP over TLS cannot listen on the same port %u.",
		                 tcp);
	return FG_OK;
}

static enum fg_err changed(const struct conf_settings_view *v, struct db_txn *txn, json_t *answer)
{
	enum fg_err err;
	size_t fi = (size_t)(conf_setting_find(v->table, "fqdn") - v->table->defs);
	if (v->given[fi] && strcmp(v->cur[fi], v->values[fi]) != 0) {
		char fqdn[DB_DOMAIN_MAX];
		if (v->values[fi][0])
			fg_strlcpy(fqdn, v->values[fi], sizeof(fqdn));
		else
			conf_host_name(fqdn);
		if ((err = fqdn_warnings(txn, answer, fqdn)) != FG_OK)
			return err;
	}
	if (conf_view_bool(v, "enabled") && port_of(v, "tcp_port") == 0 &&
	    port_of(v, "tls_port") == 0)
		conf_answer_warn(answer, "Both SIP ports are 0: nothing listens, so the Access "
		                         "Edge cannot send anything to the gateway.");
	return FG_OK;
}

static const char *const readonly[] = {"fqdn_default", NULL};

static const struct conf_settings table = {
    .area = "SIP",
    .prefix = "sip.",
    .action = "sip.settings",
    .what = "SIP settings",
    .off_name = "enabled",
    .off_text = "The SIP gateway is now off: its listeners and next-hop connections close.",
    .stored_raw = true,
    .defs = defs,
    .ndefs = sizeof(defs) / sizeof(defs[0]),
    .readonly = readonly,
    .check = check,
    .changed = changed,
};

void sipconf__fqdn(struct db_txn *txn, char out[DB_DOMAIN_MAX], bool *is_default)
{
	char v[DB_SETTING_VALUE_MAX] = "";
	if (db_setting_get(txn, "sip.fqdn", v, sizeof(v)) != FG_OK)
		v[0] = '\0';
	if (is_default)
		*is_default = v[0] == '\0';
	if (v[0])
		fg_strlcpy(out, v, DB_DOMAIN_MAX);
	else
		conf_host_name(out);
}

const struct conf_settings *sipconf_settings_table(void)
{
	return &table;
}

enum fg_err sipconf_settings_get(struct db *db, json_t **out)
{
	return conf_settings_get(db, &table, out);
}

enum fg_err sipconf_settings_set(struct db *db, const char *actor, const char *source,
                                 json_t *changes, json_t **out, struct conf_err *e)
{
	return conf_settings_set(db, &table, actor, source, changes, out, e);
}
