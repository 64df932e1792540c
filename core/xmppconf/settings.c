/* xmppconf: the xmpp.* settings and policy.default (docs/settings.md), the XEP-0185
 * dialback secret, validated and audited. */
#include "xmppconf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum setting_type { ST_BOOL, ST_UINT, ST_ENUM, ST_ADDRS, ST_DNS, ST_ZONES };

struct setting_def {
	const char *name; /* API and CLI name */
	const char *key;  /* store key */
	enum setting_type type;
	const char *def;
	uint64_t min, max;
	const char *const *choices;
	const char *fix;
};

static const char *const tls_modes[] = {"off", "optional", "required", NULL};
static const char *const verdicts[] = {"allow", "deny", NULL};

static const struct setting_def defs[] = {
    {"enabled", "xmpp.enabled", ST_BOOL, "true", 0, 0, NULL, "Use true or false."},
    {"bind", "xmpp.bind", ST_ADDRS, "0.0.0.0", 0, 0, NULL,
     "Give IPv4 or IPv6 addresses separated by commas, e.g. 0.0.0.0 or 0.0.0.0, ::."},
    {"port", "xmpp.port", ST_UINT, "5269", 1, 65535, NULL,
     "Use a port from 1 to 65535 (5269 is "
     "the standard)."},
    {"direct_tls_port", "xmpp.direct_tls_port", ST_UINT, "0", 0, 65535, NULL,
     "Use 0 (off) or a port up to 65535 (commonly 5270)."},
    {"dns_servers", "xmpp.dns_servers", ST_DNS, "", 0, 0, NULL,
     "Give addresses with an optional @port separated by commas, e.g. 192.0.2.53, "
     "2001:db8::53@5353; leave empty for the system's servers."},
    {"dns_transparent_zones", "xmpp.dns_transparent_zones", ST_ZONES, "", 0, 0, NULL,
     "Give zone names separated by commas, e.g. test."},
    {"tls_mode", "xmpp.tls_mode", ST_ENUM, "required", 0, 0, tls_modes,
     "Use off, optional or required."},
    {"require_client_cert", "xmpp.require_client_cert", ST_BOOL, "false", 0, 0, NULL,
     "Use true or false."},
    {"sasl_external_in", "xmpp.sasl_external_in", ST_BOOL, "true", 0, 0, NULL,
     "Use true or false."},
    {"sasl_external_out", "xmpp.sasl_external_out", ST_BOOL, "true", 0, 0, NULL,
     "Use true or false."},
    {"dialback", "xmpp.dialback", ST_BOOL, "true", 0, 0, NULL, "Use true or false."},
    {"max_stanza_bytes", "xmpp.max_stanza_bytes", ST_UINT, "524288", 10240, 16777216, NULL,
     "Use a size in bytes from 10240 to 16777216 (default 524288)."},
    {"allow_system_ca", "xmpp.allow_system_ca", ST_BOOL, "false", 0, 0, NULL, "Use true or false."},
    {"connect_timeout_s", "xmpp.connect_timeout_s", ST_UINT, "10", 1, 120, NULL,
     "Use a number of seconds from 1 to 120."},
    {"queue_max", "xmpp.queue_max", ST_UINT, "1000", 1, 100000, NULL,
     "Use a number from 1 to 100000."},
    {"idle_timeout_s", "xmpp.idle_timeout_s", ST_UINT, "600", 30, 86400, NULL,
     "Use a number of seconds from 30 to 86400."},
    {"policy_default", XMPPCONF_SETTING_POLICY, ST_ENUM, "allow", 0, 0, verdicts,
     "Use allow or deny."},
};

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* How messages name a setting: the console's words, the key in parentheses. */
static const char *label_of(const struct setting_def *d)
{
	static const char *const labels[][2] = {
	    {"enabled", "Federation on/off (enabled)"},
	    {"bind", "The listen addresses (bind)"},
	    {"port", "The port (port)"},
	    {"direct_tls_port", "The direct TLS port (direct_tls_port)"},
	    {"dns_servers", "The DNS servers (dns_servers)"},
	    {"dns_transparent_zones", "The special-use zones (dns_transparent_zones)"},
	    {"tls_mode", "The security mode (tls_mode)"},
	    {"require_client_cert", "Require client-side certificates (require_client_cert)"},
	    {"sasl_external_in", "SASL EXTERNAL on incoming connections (sasl_external_in)"},
	    {"sasl_external_out", "SASL EXTERNAL on outgoing connections (sasl_external_out)"},
	    {"dialback", "Server Dialback (dialback)"},
	    {"max_stanza_bytes", "The stanza size limit (max_stanza_bytes)"},
	    {"allow_system_ca", "Trusting the system CA set (allow_system_ca)"},
	    {"connect_timeout_s", "The connect timeout (connect_timeout_s)"},
	    {"queue_max", "The queue length (queue_max)"},
	    {"idle_timeout_s", "The idle timeout (idle_timeout_s)"},
	    {"policy_default", "The default policy (policy_default)"},
	};
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strcmp(labels[i][0], d->name) == 0)
			return labels[i][1];
	return d->name;
}

static const struct setting_def *def_by_name(const char *name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

static const struct setting_def *def_by_key(const char *key)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].key, key) == 0)
			return &defs[i];
	return NULL;
}

enum fg_err xmppconf__setting(struct db_txn *txn, const char *key, char *out, size_t size)
{
	enum fg_err err = db_setting_get(txn, key, out, size);
	if (err == FG_ERR_NOTFOUND) {
		const struct setting_def *d = def_by_key(key);
		fg_strlcpy(out, d ? d->def : "", size);
		return FG_OK;
	}
	return err;
}

unsigned xmppconf__setting_uint(struct db_txn *txn, const char *key)
{
	char buf[DB_SETTING_VALUE_MAX];
	uint64_t v = 0;
	const struct setting_def *d = def_by_key(key);
	if (xmppconf__setting(txn, key, buf, sizeof(buf)) != FG_OK ||
	    !fg_parse_u64(buf, d ? d->min : 0, d ? d->max : 65535, &v)) {
		if (!d || !fg_parse_u64(d->def, 0, UINT32_MAX, &v))
			v = 0;
	}
	return (unsigned)v;
}

/* ---- one value -> its canonical stored text ----------------------------------------- */

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

static bool dns_server_valid(const char *item)
{
	char addr[DB_ADDR_MAX];
	if (!fg_strlcpy(addr, item, sizeof(addr)))
		return false;
	char *at = strrchr(addr, '@');
	if (at) {
		uint64_t port;
		*at = '\0';
		if (!fg_parse_u64(at + 1, 1, 65535, &port))
			return false;
	}
	return xmppconf__ip_valid(addr);
}

/* Validates one list item; false with *why. */
static bool item_valid(enum setting_type t, const char *item, const char **why)
{
	switch (t) {
	case ST_ADDRS:
		*why = "is not an IPv4 or IPv6 address";
		return xmppconf__ip_valid(item);
	case ST_DNS:
		*why = "is not an IP address with an optional @port";
		return dns_server_valid(item);
	case ST_ZONES: {
		const char *dwhy = NULL;
		char zone[DB_DOMAIN_MAX];
		fg_strlcpy(zone, item, sizeof(zone));
		size_t n = strlen(zone);
		if (n > 1 && zone[n - 1] == '.')
			zone[n - 1] = '\0'; /* "test." and "test" name the same zone */
		*why = "is not a zone name";
		return xmppconf_domain_valid(zone, &dwhy);
	}
	default:
		return false;
	}
}

/* Splits a list given as a JSON array or as text ("a, b c") into canonical "a,b". */
static bool list_value(const struct setting_def *d, json_t *v, char *out, size_t size,
                       struct xmppconf_err *e)
{
	char items[XMPPCONF_LIST_MAX][DB_DOMAIN_MAX];
	size_t n = 0;
	char text[DB_SETTING_VALUE_MAX];
	out[0] = '\0';
	if (json_is_array(v)) {
		size_t i;
		json_t *it;
		json_array_foreach(v, i, it)
		{
			if (!json_is_string(it)) {
				xmppconf__fail(e, 422, d->name, d->fix,
				               "%s: every item must be text.", label_of(d));
				return false;
			}
			if (n >= XMPPCONF_LIST_MAX) {
				xmppconf__fail(e, 422, d->name, "Remove some items.",
				               "%s has more than %d items.", label_of(d),
				               XMPPCONF_LIST_MAX);
				return false;
			}
			if (json_string_length(it) == 0)
				continue;
			if (!fg_strlcpy(items[n], json_string_value(it), sizeof(items[n]))) {
				xmppconf__fail(e, 422, d->name, d->fix, "%s: an item is too long.",
				               label_of(d));
				return false;
			}
			n++;
		}
	} else if (json_is_string(v)) {
		if (!fg_strlcpy(text, json_string_value(v), sizeof(text))) {
			xmppconf__fail(e, 422, d->name, d->fix, "%s: the value is too long.",
			               label_of(d));
			return false;
		}
		char *save = NULL;
		for (char *tok = strtok_r(text, ", \t", &save); tok;
		     tok = strtok_r(NULL, ", \t", &save)) {
			if (n >= XMPPCONF_LIST_MAX) {
				xmppconf__fail(e, 422, d->name, "Remove some items.",
				               "%s has more than %d items.", label_of(d),
				               XMPPCONF_LIST_MAX);
				return false;
			}
			if (!fg_strlcpy(items[n], tok, sizeof(items[n]))) {
				xmppconf__fail(e, 422, d->name, d->fix, "%s: an item is too long.",
				               label_of(d));
				return false;
			}
			n++;
		}
	} else {
		xmppconf__fail(e, 422, d->name, d->fix, "%s must be a list of text items.",
		               label_of(d));
		return false;
	}
	if (n == 0 && d->type == ST_ADDRS) {
		xmppconf__fail(e, 422, d->name, d->fix,
		               "Give at least one address to listen on (0.0.0.0 means all IPv4 "
		               "addresses).");
		return false;
	}
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const char *why = "";
		if (!item_valid(d->type, items[i], &why)) {
			char shown[64];
			fg_strlcpy(shown, items[i], sizeof(shown));
			for (char *p = shown; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
					*p = '?';
			xmppconf__fail(e, 422, d->name, d->fix, "%s: \"%s\" %s.", label_of(d),
			               shown, why);
			return false;
		}
		int w = snprintf(out + used, size - used, "%s%s", i ? "," : "", items[i]);
		if (w < 0 || (size_t)w >= size - used) {
			xmppconf__fail(e, 422, d->name, d->fix, "%s: the value is too long.",
			               label_of(d));
			return false;
		}
		used += (size_t)w;
	}
	return true;
}

/* One requested value -> canonical text; false with *e. */
static bool value_canonical(const struct setting_def *d, json_t *v, char *out, size_t size,
                            struct xmppconf_err *e)
{
	char num[32];
	switch (d->type) {
	case ST_BOOL: {
		bool b;
		if (json_is_boolean(v))
			b = json_is_true(v);
		else if (!json_is_string(v) || !bool_parse(json_string_value(v), &b)) {
			xmppconf__fail(e, 422, d->name, d->fix, "%s must be true or false.",
			               label_of(d));
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
		} else if (json_is_string(v)) {
			ok = fg_parse_u64(json_string_value(v), d->min, d->max, &n);
		}
		if (!ok) {
			xmppconf__fail(e, 422, d->name, d->fix,
			               "%s must be a whole number from %llu to %llu.", label_of(d),
			               (unsigned long long)d->min, (unsigned long long)d->max);
			return false;
		}
		snprintf(num, sizeof(num), "%llu", (unsigned long long)n);
		fg_strlcpy(out, num, size);
		return true;
	}
	case ST_ENUM: {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		for (size_t i = 0; d->choices[i]; i++) {
			if (strcasecmp(s, d->choices[i]) == 0) {
				fg_strlcpy(out, d->choices[i], size);
				return true;
			}
		}
		xmppconf__fail(e, 422, d->name, d->fix, "%s has no such choice.", label_of(d));
		return false;
	}
	default:
		return list_value(d, v, out, size, e);
	}
}

/* The stored text of a setting as typed JSON. */
static json_t *value_json(const struct setting_def *d, const char *text)
{
	uint64_t n = 0;
	switch (d->type) {
	case ST_BOOL: {
		bool b = false;
		if (!bool_parse(text, &b))
			(void)bool_parse(d->def, &b);
		return json_boolean(b);
	}
	case ST_UINT:
		if (!fg_parse_u64(text, d->min, d->max, &n))
			(void)fg_parse_u64(d->def, 0, UINT32_MAX, &n);
		return json_integer((json_int_t)n);
	case ST_ENUM:
		return xmppconf__text(text);
	default: {
		json_t *arr = json_array();
		char buf[DB_SETTING_VALUE_MAX];
		char *save = NULL;
		fg_strlcpy(buf, text, sizeof(buf));
		for (char *tok = strtok_r(buf, ", \t", &save); tok;
		     tok = strtok_r(NULL, ", \t", &save))
			json_array_append_new(arr, xmppconf__text(tok));
		return arr;
	}
	}
}

static enum fg_err settings_json(struct db_txn *txn, json_t *obj)
{
	char buf[DB_SETTING_VALUE_MAX];
	for (size_t i = 0; i < NDEFS; i++) {
		enum fg_err err = xmppconf__setting(txn, defs[i].key, buf, sizeof(buf));
		if (err)
			return err;
		json_object_set_new(obj, defs[i].name, value_json(&defs[i], buf));
	}
	enum fg_err err = db_setting_get(txn, XMPPCONF_SETTING_SECRET, buf, sizeof(buf));
	if (err && err != FG_ERR_NOTFOUND)
		return err;
	json_object_set_new(obj, "dialback_secret_set", json_boolean(err == FG_OK && buf[0]));
	explicit_bzero(buf, sizeof(buf));
	return FG_OK;
}

enum fg_err xmppconf_settings_get(struct db *db, json_t **out)
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

/* ---- set ------------------------------------------------------------------------------- */

struct set_ctx {
	const char *actor, *source;
	char values[NDEFS][DB_SETTING_VALUE_MAX]; /* canonical requested values */
	bool given[NDEFS];
	char cur[NDEFS][DB_SETTING_VALUE_MAX]; /* the stored values, read in the write */
	json_t *answer;                        /* rebuilt on every run of the write */
	struct xmppconf_err *e;
};

static size_t def_index(const char *name)
{
	for (size_t i = 0; i < NDEFS; i++)
		if (strcmp(defs[i].name, name) == 0)
			return i;
	return NDEFS;
}

static bool effective_bool(struct set_ctx *c, char cur[][DB_SETTING_VALUE_MAX], const char *name)
{
	size_t i = def_index(name);
	bool b = false;
	(void)bool_parse(c->given[i] ? c->values[i] : cur[i], &b);
	return b;
}

static const char *effective(struct set_ctx *c, char cur[][DB_SETTING_VALUE_MAX], const char *name)
{
	size_t i = def_index(name);
	return c->given[i] ? c->values[i] : cur[i];
}

static enum fg_err set_fn(struct db_txn *txn, void *vctx)
{
	struct set_ctx *c = vctx;
	char(*cur)[DB_SETTING_VALUE_MAX] = c->cur;
	char detail[DB_TEXT_MAX] = "";
	size_t dlen = 0, nchanged = 0;
	enum fg_err err;
	json_decref(c->answer);
	c->answer = xmppconf__answer();
	for (size_t i = 0; i < NDEFS; i++)
		if ((err = xmppconf__setting(txn, defs[i].key, cur[i], sizeof(cur[i]))) != FG_OK)
			return err;

	/* Checks across settings, on the values as they will be. */
	unsigned port = 0, dtls = 0;
	uint64_t v;
	if (fg_parse_u64(effective(c, cur, "port"), 1, 65535, &v))
		port = (unsigned)v;
	if (fg_parse_u64(effective(c, cur, "direct_tls_port"), 0, 65535, &v))
		dtls = (unsigned)v;
	if (dtls != 0 && dtls == port)
		return xmppconf__fail(
		    c->e, 422, c->given[def_index("direct_tls_port")] ? "direct_tls_port" : "port",
		    "Use another port for direct TLS (commonly 5270) or 0 to turn "
		    "it off.",
		    "The direct TLS port cannot be the same as the s2s port %u.", port);
	const char *tls = effective(c, cur, "tls_mode");
	bool tls_off = strcmp(tls, "off") == 0;
	bool dialback = effective_bool(c, cur, "dialback");
	bool sasl_in = effective_bool(c, cur, "sasl_external_in");
	bool sasl_out = effective_bool(c, cur, "sasl_external_out");
	if (dtls != 0 && tls_off)
		xmppconf__warn(c->answer, "The direct TLS port is set but TLS is off: nothing will "
		                          "listen on it until TLS is optional or required.");
	if (tls_off && (sasl_in || sasl_out) && dialback)
		xmppconf__warn(c->answer, "SASL EXTERNAL needs TLS: with TLS off, peers "
		                          "authenticate with dialback only.");
	if (tls_off && effective_bool(c, cur, "require_client_cert"))
		xmppconf__warn(c->answer, "Client certificates are only asked for over TLS: with "
		                          "TLS off this setting does nothing.");
	if (!dialback && (tls_off || (!sasl_in && !sasl_out)))
		xmppconf__warn(c->answer, "No authentication method is left (dialback off and no "
		                          "SASL EXTERNAL over TLS): federation will fail. Turn "
		                          "dialback on or enable TLS with SASL EXTERNAL.");

	for (size_t i = 0; i < NDEFS; i++) {
		if (!c->given[i] || strcmp(cur[i], c->values[i]) == 0)
			continue;
		if ((err = db_setting_put(txn, defs[i].key, c->values[i])) != FG_OK)
			return err;
		xmppconf__changed(c->answer, defs[i].name, cur[i], c->values[i]);
		int w = snprintf(detail + dlen, sizeof(detail) - dlen, "%s%s: %.60s -> %.60s",
		                 nchanged ? "; " : "", defs[i].name, cur[i][0] ? cur[i] : "(empty)",
		                 c->values[i][0] ? c->values[i] : "(empty)");
		if (w > 0 && (size_t)w < sizeof(detail) - dlen)
			dlen += (size_t)w;
		nchanged++;
	}
	if (nchanged == 0) {
		xmppconf__message(c->answer, "Nothing changed: the settings already had these "
		                             "values.");
		return FG_OK;
	}
	if (c->given[def_index("enabled")] &&
	    strcmp(c->values[def_index("enabled")], "false") == 0 &&
	    strcmp(cur[def_index("enabled")], "true") == 0)
		xmppconf__warn(c->answer, "Federation is now off: the listeners close and streams "
		                          "end with system-shutdown.");
	xmppconf__message(c->answer,
	                  "Saved %zu change%s (%s); the gateway applies %s now, "
	                  "without a restart.",
	                  nchanged, nchanged == 1 ? "" : "s", detail,
	                  nchanged == 1 ? "it" : "them");
	return xmppconf__audit(txn, c->actor, c->source, "xmpp.settings", "%s", detail);
}

enum fg_err xmppconf_settings_set(struct db *db, const char *actor, const char *source,
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
		if (strcmp(key, "dialback_secret_set") == 0)
			continue; /* read-only, sent back by forms */
		if (strcmp(key, "dialback_secret") == 0) {
			err = xmppconf__fail(e, 422, "dialback_secret",
			                     "Use Regenerate (fedgw xmpp secret regenerate): the "
			                     "secret is made from random bytes, never typed.",
			                     "The dialback secret cannot be set by hand.");
			goto out;
		}
		const char *name = strncmp(key, "xmpp.", 5) == 0 ? key + 5 : key;
		if (strcmp(key, XMPPCONF_SETTING_POLICY) == 0)
			name = "policy_default";
		const struct setting_def *d = def_by_name(name);
		if (!d) {
			char shown[DB_SETTING_KEY_MAX];
			fg_strlcpy(shown, key, sizeof(shown));
			for (char *p = shown; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
					*p = '?';
			err = xmppconf__fail(e, 422, shown,
			                     "Use one of: enabled, bind, port, direct_tls_port, "
			                     "dns_servers, dns_transparent_zones, tls_mode, "
			                     "require_client_cert, sasl_external_in, "
			                     "sasl_external_out, dialback, max_stanza_bytes, "
			                     "allow_system_ca, connect_timeout_s, queue_max, "
			                     "idle_timeout_s, policy_default.",
			                     "There is no XMPP setting \"%s\".", shown);
			goto out;
		}
		size_t i = (size_t)(d - defs);
		if (!value_canonical(d, v, c->values[i], sizeof(c->values[i]), e)) {
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
			               "The settings could not be saved: %s.", fg_strerror(err));
		goto out;
	}
	/* The answer carries the settings as they now are. */
	json_t *now = NULL;
	if (xmppconf_settings_get(db, &now) == FG_OK)
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
	return xmppconf__audit(txn, c->actor, c->source, "xmpp.secret.regenerate",
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
