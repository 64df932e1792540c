/* sipconf: the sip.* settings (docs/settings.md), validated and audited; the gateway's FQDN
 * is the name in Via, Contact and on its certificate (RFC 3261 §18, RFC 5922 §7). */
#include "sipconf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum setting_type { ST_BOOL, ST_UINT, ST_FQDN, ST_ADDR };

struct setting_def {
	const char *name;  /* API and CLI name */
	const char *key;   /* store key */
	const char *label; /* the console's words */
	enum setting_type type;
	const char *def; /* NULL: the host name */
	uint64_t min, max;
	const char *fix;
};

static const struct setting_def defs[] = {
    {"enabled", "sip.enabled", "SIP gateway on/off (enabled)", ST_BOOL, "true", 0, 0,
     "Use true or false."},
    {"fqdn", "sip.fqdn", "The gateway's FQDN (fqdn)", ST_FQDN, NULL, 0, 0,
     "Write the name on the gateway's SIP certificate, as in sipgw.example.com; leave it "
     "empty for the host name."},
    {"tcp_port", "sip.tcp_port", "The SIP over TCP port (tcp_port)", ST_UINT, "5060", 0, 65535,
     "Use 0 (off) or a port up to 65535 (5060 is the standard)."},
    {"tls_port", "sip.tls_port", "The SIP over TLS port (tls_port)", ST_UINT, "5061", 0, 65535,
     "Use 0 (off) or a port up to 65535 (5061 is the standard)."},
    {"bind", "sip.bind", "The listen address (bind)", ST_ADDR, "0.0.0.0", 0, 0,
     "Give one IPv4 or IPv6 address, e.g. 0.0.0.0 (every IPv4 address) or ::."},
    {"subscription_expires_s", "sip.subscription_expires_s",
     "The presence subscription period (subscription_expires_s)", ST_UINT, "3600", 60, 86400,
     "Use a number of seconds from 60 to 86400 (default 3600)."},
    {"max_pending", "sip.max_pending", "The pending request limit (max_pending)", ST_UINT, "1000",
     1, 1000000, "Use a number from 1 to 1000000 (default 1000)."},
    {"max_message_bytes", "sip.max_message_bytes",
     "The largest MESSAGE outside a session (max_message_bytes)", ST_UINT, "1300", 500, 131072,
     "Use a number of bytes from 500 to 131072 (default 1300, RFC 3428 §8)."},
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static void host_name(char out[DB_DOMAIN_MAX])
{
	if (gethostname(out, DB_DOMAIN_MAX - 1) != 0 || !out[0])
		fg_strlcpy(out, "localhost", DB_DOMAIN_MAX);
	out[DB_DOMAIN_MAX - 1] = '\0';
}

/* The stored value, or "" when unset (the default then applies). */
static enum fg_err stored(struct db_txn *txn, const struct setting_def *d, char *out, size_t size)
{
	enum fg_err err = db_setting_get(txn, d->key, out, size);
	if (err == FG_ERR_NOTFOUND) {
		out[0] = '\0';
		return FG_OK;
	}
	return err;
}

static const char *effective_text(const struct setting_def *d, const char *value,
                                  char host[DB_DOMAIN_MAX])
{
	if (value[0])
		return value;
	if (d->def)
		return d->def;
	host_name(host);
	return host;
}

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
		host_name(out);
}

static bool bool_parse(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "on", "yes", "1"};
	static const char *const no[] = {"false", "off", "no", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static json_t *value_json(const struct setting_def *d, const char *text)
{
	uint64_t n = 0;
	bool b = false;
	switch (d->type) {
	case ST_BOOL:
		if (!bool_parse(text, &b))
			(void)bool_parse(d->def, &b);
		return json_boolean(b);
	case ST_UINT:
		if (!fg_parse_u64(text, d->min, d->max, &n))
			(void)fg_parse_u64(d->def, 0, UINT32_MAX, &n);
		return json_integer((json_int_t)n);
	default:
		return xmppconf__text(text);
	}
}

static enum fg_err settings_json(struct db_txn *txn, json_t *obj)
{
	char buf[DB_SETTING_VALUE_MAX], host[DB_DOMAIN_MAX];
	for (size_t i = 0; i < NDEFS; i++) {
		enum fg_err err = stored(txn, &defs[i], buf, sizeof(buf));
		if (err)
			return err;
		json_object_set_new(obj, defs[i].name,
		                    value_json(&defs[i], effective_text(&defs[i], buf, host)));
		if (defs[i].type == ST_FQDN)
			json_object_set_new(obj, "fqdn_default", json_boolean(buf[0] == '\0'));
	}
	return FG_OK;
}

enum fg_err sipconf_settings_get(struct db *db, json_t **out)
{
	struct db_txn *txn = NULL;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	json_t *obj = json_object();
	err = settings_json(txn, obj);
	db_txn_end(txn);
	if (err) {
		json_decref(obj);
		return err;
	}
	*out = obj;
	return FG_OK;
}

/* One requested value -> its canonical stored text ("" = back to the default). */
static bool value_canonical(const struct setting_def *d, json_t *v, char *out, size_t size,
                            struct xmppconf_err *e)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	const char *why = NULL;
	switch (d->type) {
	case ST_BOOL: {
		bool b;
		if (json_is_boolean(v))
			b = json_is_true(v);
		else if (!s || !bool_parse(s, &b)) {
			xmppconf__fail(e, 422, d->name, d->fix, "%s must be true or false.",
			               d->label);
			return false;
		}
		fg_strlcpy(out, b ? "true" : "false", size);
		return true;
	}
	case ST_UINT: {
		uint64_t n = 0;
		bool ok = false;
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			n = (uint64_t)json_integer_value(v);
			ok = n >= d->min && n <= d->max;
		} else if (s) {
			ok = fg_parse_u64(s, d->min, d->max, &n);
		}
		if (!ok) {
			xmppconf__fail(e, 422, d->name, d->fix,
			               "%s must be a whole number from %llu to %llu.", d->label,
			               (unsigned long long)d->min, (unsigned long long)d->max);
			return false;
		}
		snprintf(out, size, "%llu", (unsigned long long)n);
		return true;
	}
	case ST_FQDN:
		if (json_is_null(v) || (s && !s[0])) {
			out[0] = '\0';
			return true;
		}
		if (!s || strlen(s) != json_string_length(v) || strlen(s) >= DB_DOMAIN_MAX) {
			xmppconf__fail(e, 422, d->name, d->fix, "%s must be a domain name.",
			               d->label);
			return false;
		}
		if (!xmppconf_domain_valid(s, &why)) {
			xmppconf__fail(e, 422, d->name, d->fix, "%s is not a valid name: %s.",
			               d->label, why);
			return false;
		}
		fg_strlcpy(out, s, size);
		return true;
	case ST_ADDR:
		if (!s || strlen(s) != json_string_length(v) || strlen(s) >= DB_ADDR_MAX ||
		    !xmppconf__ip_valid(s)) {
			xmppconf__fail(e, 422, d->name, d->fix,
			               "%s must be one IPv4 or IPv6 address.", d->label);
			return false;
		}
		fg_strlcpy(out, s, size);
		return true;
	}
	return false;
}

struct set_ctx {
	const char *actor, *source;
	char values[NDEFS][DB_SETTING_VALUE_MAX];
	bool given[NDEFS];
	char cur[NDEFS][DB_SETTING_VALUE_MAX];
	json_t *answer;
	struct xmppconf_err *e;
};

static size_t def_index(const char *name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, name) == 0)
			return i;
	return NDEFS;
}

static unsigned effective_uint(struct set_ctx *c, const char *name)
{
	size_t i = def_index(name);
	const char *t = c->given[i] ? c->values[i] : c->cur[i];
	uint64_t v = 0;
	if (!t[0] || !fg_parse_u64(t, 0, UINT32_MAX, &v))
		(void)fg_parse_u64(defs[i].def, 0, UINT32_MAX, &v);
	return (unsigned)v;
}

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
		xmppconf__warn(
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

static enum fg_err set_fn(struct db_txn *txn, void *vctx)
{
	struct set_ctx *c = vctx;
	char detail[DB_TEXT_MAX] = "", host[DB_DOMAIN_MAX];
	size_t dlen = 0, nchanged = 0;
	enum fg_err err;
	json_decref(c->answer);
	c->answer = xmppconf__answer();
	for (size_t i = 0; i < NDEFS; i++)
		if ((err = stored(txn, &defs[i], c->cur[i], sizeof(c->cur[i]))) != FG_OK)
			return err;

	unsigned tcp = effective_uint(c, "tcp_port"), tls = effective_uint(c, "tls_port");
	if (tcp != 0 && tcp == tls)
		return xmppconf__fail(
		    c->e, 422, c->given[def_index("tls_port")] ? "tls_port" : "tcp_port",
		    "Use two different ports (5060 for TCP, 5061 for TLS), or 0 to "
		    "turn one off.",
		    "SIP over TCP and SIP over TLS cannot listen on the same port "
		    "%u.",
		    tcp);

	for (size_t i = 0; i < NDEFS; i++) {
		if (!c->given[i] || strcmp(c->cur[i], c->values[i]) == 0)
			continue;
		if (c->values[i][0])
			err = db_setting_put(txn, defs[i].key, c->values[i]);
		else if ((err = db_setting_del(txn, defs[i].key)) == FG_ERR_NOTFOUND)
			err = FG_OK;
		if (err)
			return err;
		char from[DB_SETTING_VALUE_MAX], to[DB_SETTING_VALUE_MAX];
		fg_strlcpy(from, effective_text(&defs[i], c->cur[i], host), sizeof(from));
		fg_strlcpy(to, effective_text(&defs[i], c->values[i], host), sizeof(to));
		xmppconf__changed(c->answer, defs[i].name, from, to);
		int w = snprintf(detail + dlen, sizeof(detail) - dlen, "%s%s: %.60s -> %.60s",
		                 nchanged ? "; " : "", defs[i].name, from, to);
		if (w > 0 && (size_t)w < sizeof(detail) - dlen)
			dlen += (size_t)w;
		nchanged++;
	}
	if (nchanged == 0) {
		xmppconf__message(c->answer, "Nothing changed: the settings already had these "
		                             "values.");
		return FG_OK;
	}
	size_t fi = def_index("fqdn");
	if (c->given[fi] && strcmp(c->cur[fi], c->values[fi]) != 0) {
		char fqdn[DB_DOMAIN_MAX];
		fg_strlcpy(fqdn, effective_text(&defs[fi], c->values[fi], host), sizeof(fqdn));
		if ((err = fqdn_warnings(txn, c->answer, fqdn)) != FG_OK)
			return err;
	}
	size_t ei = def_index("enabled");
	bool enabled = true;
	(void)bool_parse(c->given[ei] ? c->values[ei] : (c->cur[ei][0] ? c->cur[ei] : "true"),
	                 &enabled);
	if (enabled && tcp == 0 && tls == 0)
		xmppconf__warn(c->answer, "Both SIP ports are 0: nothing listens, so the Access "
		                          "Edge cannot send anything to the gateway.");
	if (c->given[ei] && !enabled && strcmp(c->cur[ei], "false") != 0)
		xmppconf__warn(c->answer, "The SIP gateway is now off: its listeners and next-hop "
		                          "connections close.");
	xmppconf__message(c->answer,
	                  "Saved %zu change%s (%s); the gateway applies %s now, without a "
	                  "restart.",
	                  nchanged, nchanged == 1 ? "" : "s", detail,
	                  nchanged == 1 ? "it" : "them");
	return xmppconf__audit(txn, c->actor, c->source, "sip.settings", "%s", detail);
}

enum fg_err sipconf_settings_set(struct db *db, const char *actor, const char *source,
                                 json_t *changes, json_t **out, struct xmppconf_err *e)
{
	struct set_ctx *c = NULL;
	enum fg_err err;
	*out = NULL;
	if (!json_is_object(changes))
		return xmppconf__fail(e, 422, NULL, "Send a JSON object of settings.",
		                      "The settings must be given as an object.");
	c = calloc(1, sizeof(*c));
	if (!c)
		return FG_ERR_NOMEM;
	c->actor = actor;
	c->source = source;
	c->e = e;
	const char *key;
	json_t *v;
	size_t given = 0;
	json_object_foreach(changes, key, v)
	{
		if (strcmp(key, "fqdn_default") == 0)
			continue; /* read-only, sent back by forms */
		const char *name = strncmp(key, "sip.", 4) == 0 ? key + 4 : key;
		size_t i = def_index(name);
		if (i == NDEFS) {
			char shown[DB_SETTING_KEY_MAX];
			fg_strlcpy(shown, key, sizeof(shown));
			for (char *p = shown; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
					*p = '?';
			err = xmppconf__fail(e, 422, shown,
			                     "Use one of: enabled, fqdn, tcp_port, tls_port, bind, "
			                     "subscription_expires_s, max_pending, "
			                     "max_message_bytes.",
			                     "There is no SIP setting \"%s\".", shown);
			goto out;
		}
		if (!value_canonical(&defs[i], v, c->values[i], sizeof(c->values[i]), e)) {
			err = FG_ERR_INVAL;
			goto out;
		}
		c->given[i] = true;
		given++;
	}
	if (given == 0) {
		*out = xmppconf__answer();
		xmppconf__message(*out, "Nothing changed: no setting was given.");
		err = FG_OK;
		goto out;
	}
	err = db_write(db, set_fn, c);
	if (err) {
		if (err != FG_ERR_INVAL)
			xmppconf__fail(e, 500, NULL, "See the log (fedgw journal).",
			               "The SIP settings could not be saved: %s.",
			               fg_strerror(err));
		goto out;
	}
	json_t *now = NULL;
	if (sipconf_settings_get(db, &now) == FG_OK)
		json_object_set_new(c->answer, "settings", now);
	*out = c->answer;
	c->answer = NULL;
out:
	if (c) {
		json_decref(c->answer);
		free(c);
	}
	return err;
}
