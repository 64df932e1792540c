/* conf: the settings engine — one table of typed settings (docs/settings.md) read from and
 * written to the store, validated with a plain-words refusal per field, and audited. */
#include "conf/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void conf_host_name(char out[DB_DOMAIN_MAX])
{
	if (gethostname(out, DB_DOMAIN_MAX - 1) != 0 || !out[0])
		fg_strlcpy(out, "localhost", DB_DOMAIN_MAX);
	out[DB_DOMAIN_MAX - 1] = '\0';
}

const struct conf_setting *conf_setting_find(const struct conf_settings *t, const char *name)
{
	for (size_t i = 0; i < t->ndefs; i++)
		if (strcmp(t->defs[i].name, name) == 0)
			return &t->defs[i];
	return NULL;
}

static const struct conf_setting *find_key(const struct conf_settings *t, const char *key)
{
	for (size_t i = 0; i < t->ndefs; i++)
		if (strcmp(t->defs[i].key, key) == 0)
			return &t->defs[i];
	return NULL;
}

static size_t def_index(const struct conf_settings *t, const char *name)
{
	const struct conf_setting *d = conf_setting_find(t, name);
	return d ? (size_t)(d - t->defs) : t->ndefs;
}

/* The text in effect for a stored text ("" = unset: the default, or the host name). */
static const char *effective_text(const struct conf_setting *d, const char *value,
                                  char host[DB_DOMAIN_MAX])
{
	if (value[0])
		return value;
	if (d->def)
		return d->def;
	conf_host_name(host);
	return host;
}

/* The stored text as the area reads it: "" when unset (stored_raw), else the default. */
static enum fg_err stored(struct db_txn *txn, const struct conf_settings *t,
                          const struct conf_setting *d, char *out, size_t size)
{
	enum fg_err err = db_setting_get(txn, d->key, out, size);
	if (err != FG_ERR_NOTFOUND)
		return err;
	if (t->stored_raw || !d->def)
		out[0] = '\0';
	else
		fg_strlcpy(out, d->def, size);
	return FG_OK;
}

enum fg_err conf_setting_read(struct db_txn *txn, const struct conf_settings *t, const char *key,
                              char *out, size_t size)
{
	enum fg_err err = db_setting_get(txn, key, out, size);
	if (err == FG_ERR_NOTFOUND) {
		const struct conf_setting *d = find_key(t, key);
		char host[DB_DOMAIN_MAX];
		fg_strlcpy(out, d ? effective_text(d, "", host) : "", size);
		return FG_OK;
	}
	return err;
}

unsigned conf_setting_uint(struct db_txn *txn, const struct conf_settings *t, const char *key)
{
	char buf[DB_SETTING_VALUE_MAX];
	uint64_t v = 0;
	const struct conf_setting *d = find_key(t, key);
	if (conf_setting_read(txn, t, key, buf, sizeof(buf)) != FG_OK ||
	    !fg_parse_u64(buf, d ? d->min : 0, d ? d->max : 65535, &v)) {
		if (!d || !d->def || !fg_parse_u64(d->def, 0, UINT32_MAX, &v))
			v = 0;
	}
	return (unsigned)v;
}

/* ---- one value -> its canonical stored text ------------------------------------------- */

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
	return conf_ip_valid(addr);
}

/* Validates one list item; false with *why. */
static bool item_valid(enum conf_type t, const char *item, const char **why)
{
	switch (t) {
	case CONF_ADDRS:
		*why = "is not an IPv4 or IPv6 address";
		return conf_ip_valid(item);
	case CONF_DNS:
		*why = "is not an IP address with an optional @port";
		return dns_server_valid(item);
	case CONF_ZONES: {
		const char *dwhy = NULL;
		char zone[DB_DOMAIN_MAX];
		fg_strlcpy(zone, item, sizeof(zone));
		size_t n = strlen(zone);
		if (n > 1 && zone[n - 1] == '.')
			zone[n - 1] = '\0'; /* "test." and "test" name the same zone */
		*why = "is not a zone name";
		return conf_domain_valid(zone, &dwhy);
	}
	default:
		return false;
	}
}

/* Splits a list given as a JSON array or as text ("a, b c") into canonical "a,b". */
static bool list_value(const struct conf_setting *d, json_t *v, char *out, size_t size,
                       struct conf_err *e)
{
	char items[CONF_LIST_MAX][DB_DOMAIN_MAX];
	size_t n = 0;
	char text[DB_SETTING_VALUE_MAX];
	const char *item = NULL;
	size_t i = 0;
	json_t *it = NULL;
	char *save = NULL, *tok = NULL;
	out[0] = '\0';
	if (json_is_array(v)) {
		/* walked below, item by item */
	} else if (json_is_string(v)) {
		if (!fg_strlcpy(text, json_string_value(v), sizeof(text))) {
			conf_fail(e, 422, d->name, d->fix, "%s: the value is too long.", d->label);
			return false;
		}
		tok = strtok_r(text, ", \t", &save);
	} else {
		conf_fail(e, 422, d->name, d->fix, "%s must be a list of text items.", d->label);
		return false;
	}
	for (;;) {
		if (json_is_array(v)) {
			if (i >= json_array_size(v))
				break;
			it = json_array_get(v, i++);
			if (!json_is_string(it)) {
				conf_fail(e, 422, d->name, d->fix, "%s: every item must be text.",
				          d->label);
				return false;
			}
			item = json_string_value(it);
		} else {
			if (!tok)
				break;
			item = tok;
			tok = strtok_r(NULL, ", \t", &save);
		}
		if (n >= CONF_LIST_MAX) {
			conf_fail(e, 422, d->name, "Remove some items.",
			          "%s has more than %d items.", d->label, CONF_LIST_MAX);
			return false;
		}
		if (!item[0])
			continue;
		if (!fg_strlcpy(items[n], item, sizeof(items[n]))) {
			conf_fail(e, 422, d->name, d->fix, "%s: an item is too long.", d->label);
			return false;
		}
		n++;
	}
	if (n == 0 && d->type == CONF_ADDRS) {
		conf_fail(e, 422, d->name, d->fix,
		          "Give at least one address to listen on (0.0.0.0 means all IPv4 "
		          "addresses).");
		return false;
	}
	size_t used = 0;
	for (i = 0; i < n; i++) {
		const char *why = "";
		if (!item_valid(d->type, items[i], &why)) {
			char shown[64];
			conf_shown(shown, sizeof(shown), items[i]);
			conf_fail(e, 422, d->name, d->fix, "%s: \"%s\" %s.", d->label, shown, why);
			return false;
		}
		int w = snprintf(out + used, size - used, "%s%s", i ? "," : "", items[i]);
		if (w < 0 || (size_t)w >= size - used) {
			conf_fail(e, 422, d->name, d->fix, "%s: the value is too long.", d->label);
			return false;
		}
		used += (size_t)w;
	}
	return true;
}

/* A string value without NUL bytes that fits in max bytes with its terminator. */
static const char *plain_string(json_t *v, size_t max)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	if (!s || strlen(s) != json_string_length(v) || strlen(s) >= max)
		return NULL;
	return s;
}

/* One requested value -> its canonical stored text; false with *e. */
static bool value_canonical(const struct conf_setting *d, json_t *v, char *out, size_t size,
                            struct conf_err *e)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	const char *why = NULL;
	switch (d->type) {
	case CONF_BOOL: {
		bool b;
		if (json_is_boolean(v))
			b = json_is_true(v);
		else if (!s || !conf_bool_parse(s, &b)) {
			conf_fail(e, 422, d->name, d->fix, "%s must be true or false.", d->label);
			return false;
		}
		fg_strlcpy(out, b ? "true" : "false", size);
		return true;
	}
	case CONF_UINT: {
		uint64_t n = 0;
		bool ok = false;
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			n = (uint64_t)json_integer_value(v);
			ok = n >= d->min && n <= d->max;
		} else if (s) {
			ok = fg_parse_u64(s, d->min, d->max, &n);
		}
		if (!ok) {
			conf_fail(e, 422, d->name, d->fix,
			          "%s must be a whole number from %llu to %llu.", d->label,
			          (unsigned long long)d->min, (unsigned long long)d->max);
			return false;
		}
		snprintf(out, size, "%llu", (unsigned long long)n);
		return true;
	}
	case CONF_ENUM:
		for (size_t i = 0; d->choices[i]; i++) {
			if (strcasecmp(s ? s : "", d->choices[i]) == 0) {
				fg_strlcpy(out, d->choices[i], size);
				return true;
			}
		}
		conf_fail(e, 422, d->name, d->fix, "%s has no such choice.", d->label);
		return false;
	case CONF_HOST:
		if (json_is_null(v) || (s && !s[0])) {
			out[0] = '\0';
			return true;
		}
		if (!(s = plain_string(v, DB_DOMAIN_MAX))) {
			conf_fail(e, 422, d->name, d->fix, "%s must be a domain name.", d->label);
			return false;
		}
		if (!conf_domain_valid(s, &why)) {
			conf_fail(e, 422, d->name, d->fix, "%s is not a valid name: %s.", d->label,
			          why);
			return false;
		}
		fg_strlcpy(out, s, size);
		return true;
	case CONF_ADDR:
		if (!(s = plain_string(v, DB_ADDR_MAX)) || !conf_ip_valid(s)) {
			conf_fail(e, 422, d->name, d->fix, "%s must be one IPv4 or IPv6 address.",
			          d->label);
			return false;
		}
		fg_strlcpy(out, s, size);
		return true;
	default:
		return list_value(d, v, out, size, e);
	}
}

/* ---- get -------------------------------------------------------------------------------- */

/* The stored text of a setting as typed JSON. */
static json_t *value_json(const struct conf_setting *d, const char *text)
{
	uint64_t n = 0;
	bool b = false;
	switch (d->type) {
	case CONF_BOOL:
		if (!conf_bool_parse(text, &b))
			(void)conf_bool_parse(d->def, &b);
		return json_boolean(b);
	case CONF_UINT:
		if (!fg_parse_u64(text, d->min, d->max, &n))
			(void)fg_parse_u64(d->def, 0, UINT32_MAX, &n);
		return json_integer((json_int_t)n);
	case CONF_ENUM:
	case CONF_HOST:
	case CONF_ADDR:
		return conf_text(text);
	default: {
		json_t *arr = json_array();
		char buf[DB_SETTING_VALUE_MAX];
		char *save = NULL;
		fg_strlcpy(buf, text, sizeof(buf));
		for (char *tok = strtok_r(buf, ", \t", &save); tok;
		     tok = strtok_r(NULL, ", \t", &save))
			json_array_append_new(arr, conf_text(tok));
		return arr;
	}
	}
}

static enum fg_err settings_json(struct db_txn *txn, const struct conf_settings *t, json_t *obj)
{
	char buf[DB_SETTING_VALUE_MAX], host[DB_DOMAIN_MAX], key[DB_SETTING_KEY_MAX];
	for (size_t i = 0; i < t->ndefs; i++) {
		const struct conf_setting *d = &t->defs[i];
		enum fg_err err = stored(txn, t, d, buf, sizeof(buf));
		if (err)
			return err;
		json_object_set_new(
		    obj, d->name,
		    value_json(d, t->stored_raw ? effective_text(d, buf, host) : buf));
		if (d->type == CONF_HOST && !d->def) {
			snprintf(key, sizeof(key), "%s_default", d->name);
			json_object_set_new(obj, key, json_boolean(buf[0] == '\0'));
		}
	}
	return t->extra ? t->extra(txn, obj) : FG_OK;
}

enum fg_err conf_settings_get(struct db *db, const struct conf_settings *t, json_t **out)
{
	struct db_txn *txn = NULL;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	json_t *obj = json_object();
	err = settings_json(txn, t, obj);
	db_txn_end(txn);
	if (err) {
		json_decref(obj);
		return err;
	}
	*out = obj;
	return FG_OK;
}

/* ---- set -------------------------------------------------------------------------------- */

const char *conf_view_value(const struct conf_settings_view *v, const char *name)
{
	size_t i = def_index(v->table, name);
	if (i == v->table->ndefs)
		return "";
	const char *t = v->given[i] ? v->values[i] : v->cur[i];
	if (!t[0] && v->table->stored_raw && v->table->defs[i].def)
		return v->table->defs[i].def;
	return t;
}

bool conf_view_given(const struct conf_settings_view *v, const char *name)
{
	size_t i = def_index(v->table, name);
	return i < v->table->ndefs && v->given[i];
}

bool conf_view_bool(const struct conf_settings_view *v, const char *name)
{
	bool b = false;
	const struct conf_setting *d = conf_setting_find(v->table, name);
	if (!conf_bool_parse(conf_view_value(v, name), &b) && d && d->def)
		(void)conf_bool_parse(d->def, &b);
	return b;
}

struct set_ctx {
	const char *actor, *source;
	struct conf_settings_view view;
	bool *given;
	json_t *answer; /* rebuilt on every run of the write */
	struct conf_err *e;
};

/* Stores one changed setting ("" deletes it where unset means the default). */
static enum fg_err put(struct db_txn *txn, const struct conf_settings *t,
                       const struct conf_setting *d, const char *value)
{
	enum fg_err err;
	if (value[0] || !t->stored_raw)
		return db_setting_put(txn, d->key, value);
	if ((err = db_setting_del(txn, d->key)) == FG_ERR_NOTFOUND)
		err = FG_OK;
	return err;
}

static enum fg_err set_fn(struct db_txn *txn, void *vctx)
{
	struct set_ctx *c = vctx;
	const struct conf_settings *t = c->view.table;
	char(*cur)[DB_SETTING_VALUE_MAX] = c->view.cur;
	char(*values)[DB_SETTING_VALUE_MAX] = c->view.values;
	char detail[DB_TEXT_MAX] = "", host[DB_DOMAIN_MAX];
	size_t dlen = 0, nchanged = 0;
	enum fg_err err;
	json_decref(c->answer);
	c->answer = conf_answer_new();
	for (size_t i = 0; i < t->ndefs; i++)
		if ((err = stored(txn, t, &t->defs[i], cur[i], sizeof(cur[i]))) != FG_OK)
			return err;
	/* Checks across settings, on the values as they will be. */
	if (t->check && (err = t->check(&c->view, txn, c->answer, c->e)) != FG_OK)
		return err;

	for (size_t i = 0; i < t->ndefs; i++) {
		const struct conf_setting *d = &t->defs[i];
		if (!c->given[i] || strcmp(cur[i], values[i]) == 0)
			continue;
		if ((err = put(txn, t, d, values[i])) != FG_OK)
			return err;
		char from[DB_SETTING_VALUE_MAX], to[DB_SETTING_VALUE_MAX];
		fg_strlcpy(from, t->stored_raw ? effective_text(d, cur[i], host) : cur[i],
		           sizeof(from));
		fg_strlcpy(to, t->stored_raw ? effective_text(d, values[i], host) : values[i],
		           sizeof(to));
		conf_answer_changed(c->answer, d->name, from, to);
		int w = snprintf(detail + dlen, sizeof(detail) - dlen, "%s%s: %.60s -> %.60s",
		                 nchanged ? "; " : "", d->name, from[0] ? from : "(empty)",
		                 to[0] ? to : "(empty)");
		if (w > 0 && (size_t)w < sizeof(detail) - dlen)
			dlen += (size_t)w;
		nchanged++;
	}
	if (nchanged == 0) {
		conf_answer_message(c->answer, "Nothing changed: the settings already had these "
		                               "values.");
		return FG_OK;
	}
	if (t->changed && (err = t->changed(&c->view, txn, c->answer)) != FG_OK)
		return err;
	if (t->off_name && conf_view_given(&c->view, t->off_name)) {
		size_t i = def_index(t, t->off_name);
		bool was_on = false;
		const char *was = cur[i][0] || !t->defs[i].def ? cur[i] : t->defs[i].def;
		if (strcmp(values[i], "false") == 0 && conf_bool_parse(was, &was_on) && was_on)
			conf_answer_warn(c->answer, "%s", t->off_text);
	}
	conf_answer_message(c->answer,
	                    "Saved %zu change%s (%s); the gateway applies %s now, without a "
	                    "restart.",
	                    nchanged, nchanged == 1 ? "" : "s", detail,
	                    nchanged == 1 ? "it" : "them");
	return conf_audit(txn, c->actor, c->source, t->action, "%s", detail);
}

static bool listed(const char *const *names, const char *key)
{
	for (size_t i = 0; names && names[i]; i++)
		if (strcmp(names[i], key) == 0)
			return true;
	return false;
}

/* A request key -> its setting: "name", "<prefix>name" or the store key. */
static const struct conf_setting *requested(const struct conf_settings *t, const char *key)
{
	size_t plen = strlen(t->prefix);
	const char *name = strncmp(key, t->prefix, plen) == 0 ? key + plen : key;
	const struct conf_setting *d = conf_setting_find(t, name);
	return d ? d : find_key(t, key);
}

static enum fg_err unknown(const struct conf_settings *t, const char *key, struct conf_err *e)
{
	char shown[DB_SETTING_KEY_MAX], fix[DB_TEXT_MAX] = "Use one of: ";
	size_t used = strlen(fix);
	conf_shown(shown, sizeof(shown), key);
	for (size_t i = 0; i < t->ndefs; i++) {
		int w = snprintf(fix + used, sizeof(fix) - used, "%s%s", t->defs[i].name,
		                 i + 1 < t->ndefs ? ", " : ".");
		if (w > 0 && (size_t)w < sizeof(fix) - used)
			used += (size_t)w;
	}
	return conf_fail(e, 422, shown, fix, "There is no %s setting \"%s\".", t->area, shown);
}

enum fg_err conf_settings_set(struct db *db, const struct conf_settings *t, const char *actor,
                              const char *source, json_t *changes, json_t **out, struct conf_err *e)
{
	struct set_ctx c = {.actor = actor, .source = source, .e = e};
	enum fg_err err;
	*out = NULL;
	if (!json_is_object(changes))
		return conf_fail(e, 422, NULL, "Send a JSON object of settings.",
		                 "The settings must be given as an object.");
	c.given = calloc(t->ndefs, sizeof(*c.given));
	c.view.values = calloc(t->ndefs, sizeof(*c.view.values));
	c.view.cur = calloc(t->ndefs, sizeof(*c.view.cur));
	c.view.table = t;
	c.view.given = c.given;
	if (!c.given || !c.view.values || !c.view.cur) {
		err = FG_ERR_NOMEM;
		goto out;
	}
	const char *key;
	json_t *v;
	size_t given = 0;
	json_object_foreach(changes, key, v)
	{
		if (listed(t->readonly, key))
			continue; /* read-only, sent back by forms */
		if (t->refuse && (err = t->refuse(key, e)) != FG_OK)
			goto out;
		const struct conf_setting *d = requested(t, key);
		if (!d) {
			err = unknown(t, key, e);
			goto out;
		}
		size_t i = (size_t)(d - t->defs);
		if (!value_canonical(d, v, c.view.values[i], sizeof(c.view.values[i]), e)) {
			err = FG_ERR_INVAL;
			goto out;
		}
		c.given[i] = true;
		given++;
	}
	if (given == 0) {
		*out = conf_answer_new();
		conf_answer_message(*out, "Nothing changed: no setting was given.");
		err = FG_OK;
		goto out;
	}
	err = db_write(db, set_fn, &c);
	if (err) {
		if (err != FG_ERR_INVAL)
			conf_fail(e, 500, NULL, "See the log (fedgw journal).",
			          "The %s could not be saved: %s.", t->what, fg_strerror(err));
		goto out;
	}
	/* The answer carries the settings as they now are. */
	json_t *now = NULL;
	if (conf_settings_get(db, t, &now) == FG_OK)
		json_object_set_new(c.answer, "settings", now);
	*out = c.answer;
	c.answer = NULL;
out:
	json_decref(c.answer);
	free(c.given);
	free(c.view.values);
	free(c.view.cur);
	return err;
}
