/* conf: refusals, answers, audit entries, field readers and name checks shared by every
 * configuration area (RFC 1035 §2.3.1 names, RFC 3629 §4 UTF-8). */
#include "conf/conf.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum fg_err conf_fail(struct conf_err *e, unsigned status, const char *field, const char *fix,
                      const char *fmt, ...)
{
	va_list ap;
	if (e) {
		e->status = status;
		fg_strlcpy(e->field, field ? field : "", sizeof(e->field));
		fg_strlcpy(e->fix, fix ? fix : "", sizeof(e->fix));
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
	switch (status) {
	case 404:
		return FG_ERR_NOTFOUND;
	case 409:
		return FG_ERR_EXISTS;
	case 413:
		return FG_ERR_TOOBIG;
	case 422:
		return FG_ERR_INVAL;
	default:
		return FG_ERR_STORE;
	}
}

enum fg_err conf_audit(struct db_txn *txn, const char *actor, const char *source,
                       const char *action, const char *fmt, ...)
{
	struct db_audit_entry a;
	va_list ap;
	memset(&a, 0, sizeof(a));
	a.time_ms = fg_now_ms();
	fg_strlcpy(a.actor, actor && actor[0] ? actor : "-", sizeof(a.actor));
	fg_strlcpy(a.source, source ? source : "", sizeof(a.source));
	fg_strlcpy(a.action, action, sizeof(a.action));
	va_start(ap, fmt);
	vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
	va_end(ap);
	a.ok = true;
	return db_audit_append(txn, &a);
}

json_t *conf_text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = strdup(s);
	if (!copy)
		return json_null();
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j ? j : json_null();
}

json_t *conf_time(int64_t ms)
{
	if (ms == 0)
		return json_null();
	char buf[32];
	fg_format_iso8601(buf, sizeof(buf), ms);
	return json_string(buf);
}

json_t *conf_answer_new(void)
{
	return json_pack("{s:s, s:[], s:[]}", "message", "", "changed", "warnings");
}

void conf_answer_changed(json_t *answer, const char *field, const char *from, const char *to)
{
	json_t *c = json_object();
	json_object_set_new(c, "field", json_string(field));
	json_object_set_new(c, "from", conf_text(from));
	json_object_set_new(c, "to", conf_text(to));
	json_array_append_new(json_object_get(answer, "changed"), c);
}

void conf_answer_warn(json_t *answer, const char *fmt, ...)
{
	char buf[DB_TEXT_MAX * 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_array_append_new(json_object_get(answer, "warnings"), conf_text(buf));
}

void conf_answer_message(json_t *answer, const char *fmt, ...)
{
	char buf[DB_TEXT_MAX * 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(answer, "message", conf_text(buf));
}

void conf_answer_object(json_t *answer, const char *key, json_t *obj)
{
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(obj, "warnings"), i, w)
	    json_array_append(json_object_get(answer, "warnings"), w);
	json_object_set_new(answer, key, obj);
}

void conf_shown(char *out, size_t size, const char *s)
{
	fg_strlcpy(out, s, size);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
			*p = '?';
}

bool conf_bool_parse(const char *s, bool *out)
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

bool conf_field_str(json_t *in, const char *name, size_t max, const char **out, struct conf_err *e)
{
	json_t *v = json_object_get(in, name);
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		conf_fail(e, 422, name, "Send text for this field.",
		          "The field \"%s\" must be text.", name);
		return false;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		conf_fail(e, 422, name, "Remove the NUL character.",
		          "The field \"%s\" contains a NUL character.", name);
		return false;
	}
	if (json_string_length(v) > max) {
		conf_fail(e, 422, name, "Shorten it.",
		          "The field \"%s\" is too long (at most %zu characters).", name, max);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

static bool listed(const char *const *names, const char *key)
{
	for (size_t i = 0; names && names[i]; i++)
		if (strcmp(names[i], key) == 0)
			return true;
	return false;
}

bool conf_fields_known(json_t *in, const char *const *known, const char *const *ignored,
                       struct conf_err *e)
{
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v)
	{
		(void)v;
		if (listed(known, key) || listed(ignored, key))
			continue;
		char field[DB_SETTING_KEY_MAX];
		conf_shown(field, sizeof(field), key);
		conf_fail(e, 422, field, "Check the spelling against the API description.",
		          "There is no field \"%s\" here.", field);
		return false;
	}
	return true;
}

/* RFC 3629 §4: well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			s++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

bool conf_text_valid(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return utf8_valid((const unsigned char *)s);
}

bool conf_ip_valid(const char *s)
{
	unsigned char raw[16];
	return inet_pton(AF_INET, s, raw) == 1 || inet_pton(AF_INET6, s, raw) == 1;
}

bool conf_domain_valid(const char *domain, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	if (!domain || !domain[0]) {
		*why = "the domain name is empty";
		return false;
	}
	size_t len = strlen(domain);
	if (len > DB_DOMAIN_MAX - 1) {
		*why = "the domain name is longer than 253 characters";
		return false;
	}
	if (domain[len - 1] == '.') {
		*why = "the domain name ends with a dot: leave the final dot out";
		return false;
	}
	if (conf_ip_valid(domain)) {
		*why = "that is an IP address, not a domain name";
		return false;
	}
	switch (fg_host_name_check(domain, len, true, NULL)) {
	case FG_NAME_OK:
		return true;
	case FG_NAME_EMPTY_LABEL:
		*why = "the domain name has an empty label (two dots in a row or a leading dot)";
		break;
	case FG_NAME_HYPHEN_END:
		*why = "a label of the domain name ends with a hyphen";
		break;
	case FG_NAME_UPPERCASE:
		*why = "the domain name has capital letters: write it in lowercase";
		break;
	case FG_NAME_BAD_CHAR:
		*why = "the domain name may hold only letters a-z, digits, hyphens and dots";
		break;
	case FG_NAME_HYPHEN_START:
		*why = "a label of the domain name starts with a hyphen";
		break;
	case FG_NAME_LABEL_LONG:
		*why = "a label of the domain name is longer than 63 characters";
		break;
	}
	return false;
}

enum fg_err conf_write(struct db *db, db_write_fn fn, void *ctx, json_t **answer, json_t **out,
                       struct conf_err *e, const char *failed)
{
	enum fg_err err = db_write(db, fn, ctx);
	if (err) {
		if (err != FG_ERR_INVAL && err != FG_ERR_EXISTS && err != FG_ERR_NOTFOUND)
			conf_fail(e, 500, NULL, "See the log (fedgw journal).", "%s: %s.", failed,
			          fg_strerror(err));
		json_decref(*answer);
		*answer = NULL;
		return err;
	}
	*out = *answer;
	*answer = NULL;
	return FG_OK;
}

struct delete_ctx {
	const struct conf_record *d;
	const char *actor, *source, *domain;
	struct conf_err *e;
};

static enum fg_err delete_fn(struct db_txn *txn, void *vctx)
{
	struct delete_ctx *c = vctx;
	enum fg_err err = c->d->del(txn, c->domain);
	if (err == FG_ERR_NOTFOUND)
		return conf_fail(c->e, 404, "domain", c->d->fix, "%s%s%s", c->d->missing_before,
		                 c->domain, c->d->missing_after);
	if (err)
		return err;
	return conf_audit(txn, c->actor, c->source, c->d->delete_action, "%s", c->domain);
}

enum fg_err conf_record_delete(struct db *db, const struct conf_record *d, const char *actor,
                               const char *source, const char *domain, json_t **out,
                               struct conf_err *e)
{
	*out = NULL;
	if (!conf_domain_valid(domain, NULL))
		return conf_fail(e, 404, "domain", d->fix, "%s", d->invalid);
	struct delete_ctx c = {d, actor, source, domain, e};
	enum fg_err err = db_write(db, delete_fn, &c);
	if (err) {
		if (err != FG_ERR_NOTFOUND)
			conf_fail(e, 500, NULL, "See the log (fedgw journal).", "%s: %s.",
			          d->delete_failed, fg_strerror(err));
		return err;
	}
	*out = conf_answer_new();
	return FG_OK;
}

enum fg_err conf_record_check(enum fg_err got, bool create, const char *what, const char *name,
                              struct conf_err *e)
{
	if (got && got != FG_ERR_NOTFOUND)
		return got;
	if (create && got == FG_OK)
		return conf_fail(e, 409, "domain", "Edit the existing domain instead.",
		                 "The %s %s exists already.", what, name);
	if (!create && got == FG_ERR_NOTFOUND)
		return conf_fail(e, 404, "domain", "Pick a domain from the list.",
		                 "There is no %s %s.", what, name);
	return FG_OK;
}

enum fg_err conf_record_edit_check(const struct conf_record *r, const char *domain,
                                   const char *body, struct conf_err *e)
{
	if (!conf_domain_valid(domain, NULL))
		return conf_fail(e, 404, "domain", r->fix, "%s", r->invalid);
	if (body && strcmp(body, domain) != 0)
		return conf_fail(e, 422, "domain", r->rename_fix, "%s", r->renamed);
	return FG_OK;
}

bool conf_choice_value(const struct conf_choice *choices, const char *name, int *value)
{
	for (size_t i = 0; choices[i].name; i++) {
		if (strcmp(choices[i].name, name) == 0) {
			*value = choices[i].value;
			return true;
		}
	}
	return false;
}

const char *conf_choice_name(const struct conf_choice *choices, int value, const char *fallback)
{
	for (size_t i = 0; choices[i].name; i++)
		if (choices[i].value == value)
			return choices[i].name;
	return fallback;
}

bool conf_description(const char *desc, char *out, size_t size, struct conf_err *e)
{
	if (!conf_text_valid(desc)) {
		conf_fail(e, 422, "description",
		          "Write the description on one line, without control characters.",
		          "The description has control characters or is not UTF-8 text.");
		return false;
	}
	fg_strlcpy(out, desc, size);
	return true;
}

bool conf_domain_param(const char *domain, const char *field, struct conf_err *e)
{
	const char *why = NULL;
	if (conf_domain_valid(domain, &why))
		return true;
	conf_fail(e, 422, field,
	          "Write the domain as in example.com: lowercase letters, digits and "
	          "hyphens between dots, without a final dot.",
	          "This is not a valid domain name: %s.", why);
	return false;
}

enum fg_err conf_cert_leaf(struct db_txn *txn, const char *id, const char *field, const char *to,
                           struct db_cert *cert, struct conf_err *e)
{
	enum fg_err err = db_cert_get(txn, id, cert);
	if (err == FG_ERR_NOTFOUND)
		return conf_fail(e, 422, field,
		                 "Pick a certificate from the list, or create or import one under "
		                 "Certificates first.",
		                 "There is no certificate with that id.");
	if (err)
		return err;
	if (cert->kind == DB_CERT_LEAF && cert->key_id[0])
		return FG_OK;
	err = conf_fail(e, 422, field,
	                "Pick a certificate that has its private key (import the certificate "
	                "issued for a CSR made here, or make a self-signed one).",
	                "The certificate \"%s\" has no private key here, so it cannot be "
	                "presented to %s.",
	                cert->name, to);
	db_cert_clear(cert);
	return err;
}
