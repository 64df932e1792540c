/* xmppconf: the allow list (seed 000 "Federated XMPP Domain names"), the policy default
 * and its exceptions (seed 003), and peers joined with their connection state. */
#include "xmppconf_internal.h"
#include "policy/policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The names a request may use ("" = the default) and the first is the one answers use. */
static const struct conf_choice auth_choices[] = {{"dialback", DB_AUTH_DIALBACK},
                                                  {"sasl_external", DB_AUTH_SASL_EXTERNAL},
                                                  {"sasl", DB_AUTH_SASL_EXTERNAL},
                                                  {"either", DB_AUTH_EITHER},
                                                  {"", DB_AUTH_EITHER},
                                                  {NULL, 0}};
static const struct conf_choice tls_choices[] = {{"required", DB_TLS_REQUIRED},
                                                 {"", DB_TLS_REQUIRED},
                                                 {"optional", DB_TLS_OPTIONAL},
                                                 {"off", DB_TLS_OFF},
                                                 {NULL, 0}};
static const struct conf_choice direction_choices[] = {{"both", DB_DIR_BOTH},
                                                       {"", DB_DIR_BOTH},
                                                       {"incoming", DB_DIR_INCOMING},
                                                       {"outgoing", DB_DIR_OUTGOING},
                                                       {NULL, 0}};

static const char *auth_name(enum db_auth_mode a)
{
	return conf_choice_name(auth_choices, (int)a, "either");
}

static const char *tls_name(enum db_tls_mode t)
{
	return conf_choice_name(tls_choices, (int)t, "required");
}

static const char *direction_name(enum db_direction d)
{
	return conf_choice_name(direction_choices, (int)d, "both");
}

json_t *xmppconf__allow_json(const struct db_allow_entry *a)
{
	return json_pack("{s:o, s:o, s:i, s:s, s:s, s:o, s:o, s:o}", "domain", conf_text(a->domain),
	                 "server", conf_text(a->server), "port", (int)a->port, "auth",
	                 auth_name(a->auth), "tls", tls_name(a->tls), "cert_id",
	                 conf_text(a->cert_id), "description", conf_text(a->description), "created",
	                 conf_time(a->created_ms));
}

/* Reads the whole policy from txn. */
static enum fg_err policy_load(struct db_txn *txn, bool *default_allow,
                               struct db_policy_rule **rules, size_t *n)
{
	char v[16];
	enum fg_err err = xmppconf__setting(txn, XMPPCONF_SETTING_POLICY, v, sizeof(v));
	if (err)
		return err;
	*default_allow = strcmp(v, "deny") != 0;
	return db_policy_list(txn, rules, n);
}

/* Does the policy deny domain in dir, as the engine decides (policy_check)? *rule names the
 * deciding exception ("*.example.com (deny, incoming)") or the default; *rule_id is the
 * exception's id, NULL for the default. */
static bool policy_denies(const struct policy *p, const struct db_policy_rule *rules, size_t n,
                          const char *domain, enum policy_direction dir, char *rule,
                          size_t rulesize, const char **rule_id)
{
	struct policy_verdict v;
	const struct db_policy_rule *r = NULL;
	policy_check(p, domain, dir, &v);
	for (size_t i = 0; v.rule_id && i < n && !r; i++)
		if (strcmp(rules[i].id, v.rule_id) == 0)
			r = &rules[i];
	*rule_id = r ? r->id : NULL;
	if (r)
		snprintf(rule, rulesize, "%s (%s, %s)", r->pattern, r->allow ? "allow" : "deny",
		         direction_name(r->direction));
	else
		fg_strlcpy(rule, v.rule, rulesize);
	return !v.allow;
}

/* Warns for each allow-listed domain the policy denies (in either direction). When only is
 * set, only rules with that id count as the decider worth warning about. */
static enum fg_err warn_denied(struct db_txn *txn, json_t *answer, const char *only_domain,
                               const char *only_rule)
{
	bool def_allow = true;
	struct db_policy_rule *rules = NULL;
	struct db_allow_entry *allow = NULL;
	struct policy *pol = NULL;
	size_t nr = 0, na = 0;
	enum fg_err err = policy_load(txn, &def_allow, &rules, &nr);
	if (!err)
		err = policy_new(&pol, def_allow, rules, nr);
	if (!err)
		err = db_allow_list(txn, &allow, &na);
	if (err)
		goto out;
	for (size_t i = 0; i < na; i++) {
		if (only_domain && strcasecmp(allow[i].domain, only_domain) != 0)
			continue;
		char rule[DB_DOMAIN_MAX + 64] = "", rule_out[DB_DOMAIN_MAX + 64] = "";
		const char *id_in = NULL, *id_out = NULL;
		bool in = policy_denies(pol, rules, nr, allow[i].domain, POLICY_INCOMING, rule,
		                        sizeof(rule), &id_in);
		bool outg = policy_denies(pol, rules, nr, allow[i].domain, POLICY_OUTGOING,
		                          rule_out, sizeof(rule_out), &id_out);
		if (!in && !outg)
			continue;
		const char *dirs = in && outg ? "both ways" : in ? "incoming" : "outgoing";
		const char *decider = in ? rule : rule_out;
		const char *decider_id = in ? id_in : id_out;
		/* Only the new rule's own effect is worth a warning here. */
		if (only_rule && (!decider_id || strcmp(decider_id, only_rule) != 0))
			continue;
		conf_answer_warn(answer,
		                 "%s is on the allow list but the policy denies it (%s, rule %s): "
		                 "its stanzas will be refused. Add an allow exception for it under "
		                 "Policy, or remove it from the allow list.",
		                 allow[i].domain, dirs, decider);
	}
out:
	policy_free(pol);
	free(rules);
	free(allow);
	return err;
}

/* ---- allow list ------------------------------------------------------------------------- */

enum fg_err xmppconf_allow_list(struct db *db, json_t **out)
{
	struct db_txn *txn = NULL;
	struct db_allow_entry *list = NULL;
	size_t n = 0;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_allow_list(txn, &list, &n);
	db_txn_end(txn);
	if (err)
		return err;
	*out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(*out, xmppconf__allow_json(&list[i]));
	free(list);
	return FG_OK;
}

static const char *const allow_fields[] = {"domain", "server",  "port",        "auth",
                                           "tls",    "cert_id", "description", NULL};
static const char *const allow_ignored[] = {"created", "connection", NULL};

/* Applies the fields present in `in` to *a; false with *e. */
static bool allow_apply(json_t *in, struct db_allow_entry *a, struct conf_err *e)
{
	const char *server = NULL, *auth = NULL, *tls = NULL, *cert = NULL, *desc = NULL;
	if (!conf_fields_known(in, allow_fields, allow_ignored, e) ||
	    !conf_field_str(in, "server", DB_DOMAIN_MAX - 1, &server, e) ||
	    !conf_field_str(in, "auth", 32, &auth, e) || !conf_field_str(in, "tls", 32, &tls, e) ||
	    !conf_field_str(in, "cert_id", DB_ID_MAX - 1, &cert, e) ||
	    !conf_field_str(in, "description", DB_TEXT_MAX - 1, &desc, e))
		return false;
	if (server) {
		const char *why = NULL;
		if (server[0] && !conf_ip_valid(server) && !xmppconf_domain_valid(server, &why)) {
			conf_fail(e, 422, "server",
			          "Give the peer server's host name (xmpp.example.com) or IP "
			          "address, or leave it empty to find it through DNS SRV.",
			          "The server is not a host name or IP address: %s.", why);
			return false;
		}
		fg_strlcpy(a->server, server, sizeof(a->server));
	}
	json_t *port = json_object_get(in, "port");
	if (port && !json_is_null(port)) {
		uint64_t p = 0;
		bool ok = json_is_integer(port)
		              ? json_integer_value(port) >= 0 && json_integer_value(port) <= 65535
		              : json_is_string(port) &&
		                    (json_string_length(port) == 0 ||
		                     fg_parse_u64(json_string_value(port), 0, 65535, &p));
		if (!ok) {
			conf_fail(e, 422, "port",
			          "Use a port from 1 to 65535, or leave it empty for the default "
			          "(5269, or what DNS SRV says).",
			          "The port is not a number from 0 to 65535.");
			return false;
		}
		a->port =
		    (uint16_t)(json_is_integer(port) ? json_integer_value(port) : (json_int_t)p);
	}
	int v;
	if (auth) {
		if (!conf_choice_value(auth_choices, auth, &v)) {
			conf_fail(e, 422, "auth", "Use dialback, sasl_external or either.",
			          "The authentication method is not one of the choices.");
			return false;
		}
		a->auth = (enum db_auth_mode)v;
	}
	if (tls) {
		if (!conf_choice_value(tls_choices, tls, &v)) {
			conf_fail(e, 422, "tls", "Use required, optional or off.",
			          "The TLS choice is not one of the choices.");
			return false;
		}
		a->tls = (enum db_tls_mode)v;
	}
	if (cert)
		fg_strlcpy(a->cert_id, cert, sizeof(a->cert_id));
	if (desc && !conf_description(desc, a->description, sizeof(a->description), e))
		return false;
	if (a->auth == DB_AUTH_SASL_EXTERNAL && a->tls == DB_TLS_OFF) {
		conf_fail(e, 422, "tls", "Set TLS to required or optional, or use dialback.",
		          "SASL EXTERNAL authenticates with the TLS certificate: it cannot "
		          "work with TLS off.");
		return false;
	}
	return true;
}

struct allow_ctx {
	const char *actor, *source;
	bool create;
	struct db_allow_entry entry; /* the requested entry (edit: fields applied later) */
	json_t *in;
	json_t *answer;
	struct conf_err *e;
};

static enum fg_err allow_fn(struct db_txn *txn, void *vctx)
{
	struct allow_ctx *c = vctx;
	struct db_allow_entry a, old;
	json_decref(c->answer);
	c->answer = conf_answer_new();
	enum fg_err err = db_allow_get(txn, c->entry.domain, &old);
	if (err && err != FG_ERR_NOTFOUND)
		return err;
	if (c->create && err == FG_OK)
		return conf_fail(c->e, 409, "domain", "Edit the existing entry instead.",
		                 "%s is on the allow list already.", c->entry.domain);
	if (!c->create && err == FG_ERR_NOTFOUND)
		return conf_fail(c->e, 404, "domain", "Pick an entry from the allow list.",
		                 "%s is not on the allow list.", c->entry.domain);
	if (c->create) {
		struct db_allow_entry *all = NULL;
		size_t n = 0;
		if ((err = db_allow_list(txn, &all, &n)) != FG_OK)
			return err;
		free(all);
		if (n >= XMPPCONF_ALLOW_MAX)
			return conf_fail(c->e, 422, "domain", "Remove entries you no longer use.",
			                 "The allow list is full (%d entries).",
			                 XMPPCONF_ALLOW_MAX);
		memset(&a, 0, sizeof(a));
		fg_strlcpy(a.domain, c->entry.domain, sizeof(a.domain));
		a.auth = DB_AUTH_EITHER;
		a.tls = DB_TLS_REQUIRED;
		a.created_ms = fg_now_ms();
	} else {
		a = old;
	}
	if (!allow_apply(c->in, &a, c->e))
		return FG_ERR_INVAL;
	if (a.cert_id[0]) {
		struct db_cert cert;
		err = db_cert_get(txn, a.cert_id, &cert);
		if (err == FG_ERR_NOTFOUND)
			return conf_fail(c->e, 422, "cert_id",
			                 "Pick a certificate from the list, or leave it empty to "
			                 "use the local domain's.",
			                 "There is no certificate with that id.");
		if (err)
			return err;
		bool usable = cert.kind == DB_CERT_LEAF && cert.key_id[0] != '\0';
		db_cert_clear(&cert);
		if (!usable)
			return conf_fail(c->e, 422, "cert_id",
			                 "Pick a certificate that has its private key.",
			                 "That certificate has no private key here, so it cannot "
			                 "be presented to the peer.");
	}
	if (!c->create && memcmp(&a, &old, sizeof(a)) == 0) {
		conf_answer_message(c->answer, "Nothing changed for %s.", a.domain);
	} else {
		if ((err = db_allow_put(txn, &a)) != FG_OK)
			return err;
		char desc[96];
		fg_strlcpy(desc, a.description, sizeof(desc)); /* the audit detail is bounded */
		err = conf_audit(txn, c->actor, c->source,
		                 c->create ? "xmpp.allow.add" : "xmpp.allow.edit",
		                 "%s server=%s port=%u auth=%s tls=%s cert=%s \"%s\"", a.domain,
		                 a.server[0] ? a.server : "(SRV)", a.port, auth_name(a.auth),
		                 tls_name(a.tls), a.cert_id[0] ? a.cert_id : "(domain's)", desc);
		if (err)
			return err;
		if (!c->create) {
			char from[16], to[16];
#define CHANGED_STR(f)                                                                             \
	if (strcmp(old.f, a.f) != 0)                                                               \
	conf_answer_changed(c->answer, #f, old.f, a.f)
			CHANGED_STR(server);
			CHANGED_STR(cert_id);
			CHANGED_STR(description);
#undef CHANGED_STR
			if (old.port != a.port) {
				snprintf(from, sizeof(from), "%u", old.port);
				snprintf(to, sizeof(to), "%u", a.port);
				conf_answer_changed(c->answer, "port", from, to);
			}
			if (old.auth != a.auth)
				conf_answer_changed(c->answer, "auth", auth_name(old.auth),
				                    auth_name(a.auth));
			if (old.tls != a.tls)
				conf_answer_changed(c->answer, "tls", tls_name(old.tls),
				                    tls_name(a.tls));
		}
		if (c->create)
			json_object_set_new(c->answer, "message",
			                    json_sprintf("Added %s to the allow list; the gateway "
			                                 "applies it now, without a restart.",
			                                 a.domain));
		else
			json_object_set_new(c->answer, "message",
			                    json_sprintf("Saved %s on the allow list; the gateway "
			                                 "applies it now, without a restart.",
			                                 a.domain));
	}
	if ((err = warn_denied(txn, c->answer, a.domain, NULL)) != FG_OK)
		return err;
	json_object_set_new(c->answer, "entry", xmppconf__allow_json(&a));
	return FG_OK;
}

static enum fg_err allow_run(struct db *db, struct allow_ctx *c, json_t **out, const char *what)
{
	char failed[64];
	snprintf(failed, sizeof(failed), "The allow-list entry could not be %s", what);
	return conf_write(db, allow_fn, c, &c->answer, out, c->e, failed);
}

static bool allow_domain_ok(const char *domain, struct conf_err *e)
{
	const char *why = NULL;
	if (xmppconf_domain_valid(domain, &why))
		return true;
	conf_fail(e, 422, "domain",
	          "Write the peer's XMPP domain as in example.com: lowercase, without a "
	          "final dot.",
	          "This is not a valid domain name: %s.", why);
	return false;
}

static const struct conf_record allow_entry = {
    .del = db_allow_del,
    .delete_action = "xmpp.allow.delete",
    .fix = "Pick an entry from the allow list.",
    .invalid = "That domain is not on the allow list.",
    .missing_before = "",
    .missing_after = " is not on the allow list.",
    .delete_failed = "The entry could not be deleted",
    .rename_fix = "To rename, add the new domain and delete the old entry.",
    .renamed = "An allow-list entry cannot be renamed.",
};

enum fg_err xmppconf_allow_add(struct db *db, const char *actor, const char *source, json_t *in,
                               json_t **out, struct conf_err *e)
{
	const char *domain = NULL;
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "No entry was given.");
	if (!conf_field_str(in, "domain", DB_DOMAIN_MAX - 1, &domain, e))
		return FG_ERR_INVAL;
	if (!domain)
		return conf_fail(e, 422, "domain", "Type the peer's XMPP domain.",
		                 "The domain is required.");
	if (!allow_domain_ok(domain, e))
		return FG_ERR_INVAL;
	struct allow_ctx c = {.actor = actor, .source = source, .create = true, .in = in, .e = e};
	fg_strlcpy(c.entry.domain, domain, sizeof(c.entry.domain));
	return allow_run(db, &c, out, "added");
}

enum fg_err xmppconf_allow_edit(struct db *db, const char *actor, const char *source,
                                const char *domain, json_t *in, json_t **out, struct conf_err *e)
{
	const char *body_domain = NULL;
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "Nothing to change.");
	if (!conf_field_str(in, "domain", DB_DOMAIN_MAX - 1, &body_domain, e))
		return FG_ERR_INVAL;
	enum fg_err err = conf_record_edit_check(&allow_entry, domain, body_domain, e);
	if (err)
		return err;
	struct allow_ctx c = {.actor = actor, .source = source, .create = false, .in = in, .e = e};
	fg_strlcpy(c.entry.domain, domain, sizeof(c.entry.domain));
	return allow_run(db, &c, out, "saved");
}

enum fg_err xmppconf_allow_delete(struct db *db, const char *actor, const char *source,
                                  const char *domain, json_t **out, struct conf_err *e)
{
	enum fg_err err = conf_record_delete(db, &allow_entry, actor, source, domain, out, e);
	if (err)
		return err;
	conf_answer_message(*out,
	                    "Removed %s from the allow list; the gateway applies it now, without a "
	                    "restart.",
	                    domain);
	return FG_OK;
}

/* ---- policy ----------------------------------------------------------------------------- */

static json_t *rule_json(const struct db_policy_rule *r)
{
	return json_pack("{s:o, s:o, s:s, s:s, s:o, s:o}", "id", conf_text(r->id), "pattern",
	                 conf_text(r->pattern), "verdict", r->allow ? "allow" : "deny", "direction",
	                 direction_name(r->direction), "description", conf_text(r->description),
	                 "created", conf_time(r->created_ms));
}

static enum fg_err policy_json(struct db_txn *txn, json_t **out)
{
	bool def_allow = true;
	struct db_policy_rule *rules = NULL;
	size_t n = 0;
	enum fg_err err = policy_load(txn, &def_allow, &rules, &n);
	if (err)
		return err;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, rule_json(&rules[i]));
	free(rules);
	*out = json_pack("{s:s, s:o, s:[]}", "default", def_allow ? "allow" : "deny", "rules", arr,
	                 "warnings");
	return warn_denied(txn, *out, NULL, NULL);
}

enum fg_err xmppconf_policy_get(struct db *db, json_t **out)
{
	struct db_txn *txn = NULL;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = policy_json(txn, out);
	db_txn_end(txn);
	if (err) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

struct default_ctx {
	const char *actor, *source;
	const char *verdict;
	json_t *answer;
};

static enum fg_err default_fn(struct db_txn *txn, void *vctx)
{
	struct default_ctx *c = vctx;
	char cur[16];
	json_decref(c->answer);
	c->answer = conf_answer_new();
	enum fg_err err = xmppconf__setting(txn, XMPPCONF_SETTING_POLICY, cur, sizeof(cur));
	if (err)
		return err;
	if (strcmp(cur, c->verdict) == 0) {
		conf_answer_message(c->answer, "Nothing changed: the default is %s already.", cur);
	} else {
		if ((err = db_setting_put(txn, XMPPCONF_SETTING_POLICY, c->verdict)) != FG_OK)
			return err;
		if ((err = conf_audit(txn, c->actor, c->source, "xmpp.policy.default", "%s -> %s",
		                      cur, c->verdict)) != FG_OK)
			return err;
		conf_answer_changed(c->answer, "default", cur, c->verdict);
		conf_answer_message(
		    c->answer,
		    "The default is now %s: domains no exception names are %s. The "
		    "gateway applies it now; streams it no longer allows are closed.",
		    c->verdict, strcmp(c->verdict, "allow") == 0 ? "allowed" : "denied");
	}
	return warn_denied(txn, c->answer, NULL, NULL);
}

enum fg_err xmppconf_policy_default_set(struct db *db, const char *actor, const char *source,
                                        const char *verdict, json_t **out, struct conf_err *e)
{
	*out = NULL;
	if (!verdict || (strcmp(verdict, "allow") != 0 && strcmp(verdict, "deny") != 0))
		return conf_fail(e, 422, "default", "Use allow or deny.",
		                 "The default verdict must be allow or deny.");
	struct default_ctx c = {actor, source, verdict, NULL};
	enum fg_err err = db_write(db, default_fn, &c);
	if (err) {
		json_decref(c.answer);
		conf_fail(e, 500, NULL, "See the log (fedgw journal).",
		          "The default could not be saved: %s.", fg_strerror(err));
		return err;
	}
	*out = c.answer;
	return FG_OK;
}

static const char *const rule_fields[] = {"pattern", "verdict", "direction", "description", NULL};
static const char *const rule_ignored[] = {"id", "created", NULL};

static bool rule_apply(json_t *in, struct db_policy_rule *r, struct conf_err *e)
{
	const char *pattern = NULL, *verdict = NULL, *dir = NULL, *desc = NULL;
	if (!conf_fields_known(in, rule_fields, rule_ignored, e) ||
	    !conf_field_str(in, "pattern", DB_DOMAIN_MAX - 1, &pattern, e) ||
	    !conf_field_str(in, "verdict", 16, &verdict, e) ||
	    !conf_field_str(in, "direction", 16, &dir, e) ||
	    !conf_field_str(in, "description", DB_TEXT_MAX - 1, &desc, e))
		return false;
	if (pattern) {
		const char *why = "it is empty";
		char lower[DB_DOMAIN_MAX];
		fg_strlcpy(lower, pattern, sizeof(lower));
		for (char *p = lower; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!lower[0] || !policy_pattern_valid(lower, &why)) {
			conf_fail(e, 422, "pattern",
			          "Give a domain (example.com), a wildcard (*.example.com matches "
			          "example.com and every subdomain) or a host's IP address.",
			          "The pattern is not valid: %s.", why ? why : "");
			return false;
		}
		fg_strlcpy(r->pattern, lower, sizeof(r->pattern));
	}
	if (verdict) {
		if (strcmp(verdict, "allow") != 0 && strcmp(verdict, "deny") != 0) {
			conf_fail(e, 422, "verdict", "Use allow or deny.",
			          "The verdict must be allow or deny.");
			return false;
		}
		r->allow = strcmp(verdict, "allow") == 0;
	}
	int v;
	if (dir) {
		if (!conf_choice_value(direction_choices, dir, &v)) {
			conf_fail(e, 422, "direction", "Use both, incoming or outgoing.",
			          "The direction must be both, incoming or outgoing.");
			return false;
		}
		r->direction = (enum db_direction)v;
	}
	if (desc && !conf_description(desc, r->description, sizeof(r->description), e))
		return false;
	return true;
}

struct rule_ctx {
	const char *actor, *source;
	bool create;
	char id[DB_ID_MAX]; /* edit: the rule; add: the new id (made once, before the write) */
	json_t *in;
	json_t *answer;
	struct conf_err *e;
};

static enum fg_err rule_fn(struct db_txn *txn, void *vctx)
{
	struct rule_ctx *c = vctx;
	struct db_policy_rule r, old;
	struct db_policy_rule *all = NULL;
	size_t n = 0;
	json_decref(c->answer);
	c->answer = conf_answer_new();
	memset(&r, 0, sizeof(r));
	memset(&old, 0, sizeof(old));
	enum fg_err err;
	if (!c->create) {
		err = db_policy_get(txn, c->id, &old);
		if (err == FG_ERR_NOTFOUND)
			return conf_fail(c->e, 404, "id", "Pick an exception from the list.",
			                 "There is no policy exception with that id.");
		if (err)
			return err;
		r = old;
	} else {
		fg_strlcpy(r.id, c->id, sizeof(r.id));
		r.direction = DB_DIR_BOTH;
		r.created_ms = fg_now_ms();
		if (!json_object_get(c->in, "pattern"))
			return conf_fail(c->e, 422, "pattern",
			                 "Give a domain, a wildcard such as *.example.com, or an "
			                 "IP address.",
			                 "The pattern is required.");
		if (!json_object_get(c->in, "verdict"))
			return conf_fail(c->e, 422, "verdict", "Use allow or deny.",
			                 "The verdict is required.");
	}
	if (!rule_apply(c->in, &r, c->e))
		return FG_ERR_INVAL;
	if ((err = db_policy_list(txn, &all, &n)) != FG_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].id, r.id) == 0 || strcmp(all[i].pattern, r.pattern) != 0)
			continue;
		bool overlap = all[i].direction == DB_DIR_BOTH || r.direction == DB_DIR_BOTH ||
		               all[i].direction == r.direction;
		if (overlap) {
			free(all);
			return conf_fail(
			    c->e, 409, "pattern", "Edit the existing exception instead.",
			    "An exception for %s in that direction exists already.", r.pattern);
		}
	}
	if (c->create && n >= XMPPCONF_RULES_MAX) {
		free(all);
		return conf_fail(c->e, 422, "pattern", "Remove exceptions you no longer use.",
		                 "The policy has %d exceptions, the most it holds.",
		                 XMPPCONF_RULES_MAX);
	}
	free(all);
	if (!c->create && memcmp(&r, &old, sizeof(r)) == 0) {
		conf_answer_message(c->answer, "Nothing changed for %s.", r.pattern);
	} else {
		if ((err = db_policy_put(txn, &r)) != FG_OK)
			return err;
		err = conf_audit(txn, c->actor, c->source,
		                 c->create ? "xmpp.policy.rule.add" : "xmpp.policy.rule.edit",
		                 "%s %s %s (id %s)", r.pattern, r.allow ? "allow" : "deny",
		                 direction_name(r.direction), r.id);
		if (err)
			return err;
		if (!c->create) {
			if (strcmp(old.pattern, r.pattern) != 0)
				conf_answer_changed(c->answer, "pattern", old.pattern, r.pattern);
			if (old.allow != r.allow)
				conf_answer_changed(c->answer, "verdict",
				                    old.allow ? "allow" : "deny",
				                    r.allow ? "allow" : "deny");
			if (old.direction != r.direction)
				conf_answer_changed(c->answer, "direction",
				                    direction_name(old.direction),
				                    direction_name(r.direction));
			if (strcmp(old.description, r.description) != 0)
				conf_answer_changed(c->answer, "description", old.description,
				                    r.description);
		}
		json_object_set_new(
		    c->answer, "message",
		    json_sprintf("%s the exception %s: %s, %s. The gateway applies it now; streams "
		                 "it no longer allows are closed.",
		                 c->create ? "Added" : "Saved", r.pattern,
		                 r.allow ? "allow" : "deny",
		                 r.direction == DB_DIR_BOTH       ? "both directions"
		                 : r.direction == DB_DIR_INCOMING ? "incoming only"
		                                                  : "outgoing only"));
	}
	if (!r.allow && (err = warn_denied(txn, c->answer, NULL, r.id)) != FG_OK)
		return err;
	json_object_set_new(c->answer, "rule", rule_json(&r));
	return FG_OK;
}

static enum fg_err rule_run(struct db *db, struct rule_ctx *c, json_t **out)
{
	return conf_write(db, rule_fn, c, &c->answer, out, c->e,
	                  "The exception could not be saved");
}

enum fg_err xmppconf_rule_add(struct db *db, const char *actor, const char *source, json_t *in,
                              json_t **out, struct conf_err *e)
{
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "No exception was given.");
	struct rule_ctx c = {.actor = actor, .source = source, .create = true, .in = in, .e = e};
	db_new_id(c.id);
	return rule_run(db, &c, out);
}

enum fg_err xmppconf_rule_edit(struct db *db, const char *actor, const char *source, const char *id,
                               json_t *in, json_t **out, struct conf_err *e)
{
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "Nothing to change.");
	if (!id || !db_id_valid(id))
		return conf_fail(e, 404, "id", "Pick an exception from the list.",
		                 "There is no policy exception with that id.");
	struct rule_ctx c = {.actor = actor, .source = source, .create = false, .in = in, .e = e};
	fg_strlcpy(c.id, id, sizeof(c.id));
	return rule_run(db, &c, out);
}

struct rule_del_ctx {
	const char *actor, *source, *id;
	char pattern[DB_DOMAIN_MAX];
	struct conf_err *e;
};

static enum fg_err rule_del_fn(struct db_txn *txn, void *vctx)
{
	struct rule_del_ctx *c = vctx;
	struct db_policy_rule r;
	enum fg_err err = db_policy_get(txn, c->id, &r);
	if (err == FG_ERR_NOTFOUND)
		return conf_fail(c->e, 404, "id", "Pick an exception from the list.",
		                 "There is no policy exception with that id.");
	if (err)
		return err;
	fg_strlcpy(c->pattern, r.pattern, sizeof(c->pattern));
	if ((err = db_policy_del(txn, c->id)) != FG_OK)
		return err;
	return conf_audit(txn, c->actor, c->source, "xmpp.policy.rule.delete", "%s %s %s (id %s)",
	                  r.pattern, r.allow ? "allow" : "deny", direction_name(r.direction), r.id);
}

enum fg_err xmppconf_rule_delete(struct db *db, const char *actor, const char *source,
                                 const char *id, json_t **out, struct conf_err *e)
{
	*out = NULL;
	if (!id || !db_id_valid(id))
		return conf_fail(e, 404, "id", "Pick an exception from the list.",
		                 "There is no policy exception with that id.");
	struct rule_del_ctx c = {.actor = actor, .source = source, .id = id, .e = e};
	enum fg_err err = db_write(db, rule_del_fn, &c);
	if (err) {
		if (err != FG_ERR_NOTFOUND)
			conf_fail(e, 500, NULL, "See the log (fedgw journal).",
			          "The exception could not be deleted: %s.", fg_strerror(err));
		return err;
	}
	*out = conf_answer_new();
	conf_answer_message(*out,
	                    "Deleted the exception for %s; the gateway applies it now, without a "
	                    "restart.",
	                    c.pattern);
	return FG_OK;
}

/* ---- peers ------------------------------------------------------------------------------ */

/* "xmpp:<direction>:<local>:<remote>" -> its parts; false for other ids. */
static bool peer_id_split(const char *id, char *dir, size_t dsize, char *local, size_t lsize,
                          char *remote, size_t rsize)
{
	if (strncmp(id, "xmpp:", 5) != 0)
		return false;
	const char *p = id + 5, *c1 = strchr(p, ':');
	if (!c1)
		return false;
	const char *c2 = strchr(c1 + 1, ':');
	if (!c2)
		return false;
	snprintf(dir, dsize, "%.*s", (int)(c1 - p), p);
	snprintf(local, lsize, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	snprintf(remote, rsize, "%s", c2 + 1);
	return true;
}

enum fg_err xmppconf_peers(struct db *db, json_t **out)
{
	struct db_txn *txn = NULL;
	struct db_status *st = NULL;
	struct db_allow_entry *allow = NULL;
	size_t ns = 0, na = 0;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_status_list(txn, &st, &ns);
	if (!err)
		err = db_allow_list(txn, &allow, &na);
	db_txn_end(txn);
	if (err)
		goto out;
	json_t *peers = json_array();
	for (size_t i = 0; i < ns; i++) {
		if (strcmp(st[i].kind, "xmpp-peer") != 0)
			continue;
		char dir[16] = "", local[DB_DOMAIN_MAX] = "", remote[DB_DOMAIN_MAX] = "";
		(void)peer_id_split(st[i].id, dir, sizeof(dir), local, sizeof(local), remote,
		                    sizeof(remote));
		json_t *p = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "id",
		                      conf_text(st[i].id), "name", conf_text(st[i].name), "domain",
		                      conf_text(remote), "local", conf_text(local), "direction",
		                      conf_text(dir), "state", conf_text(st[i].state), "reason",
		                      conf_text(st[i].reason), "since", conf_time(st[i].since_ms),
		                      "since_ms", (json_int_t)st[i].since_ms);
		json_t *extra = st[i].extra[0] ? json_loads(st[i].extra, 0, NULL) : NULL;
		if (json_is_object(extra)) {
			/* The engine's own fields (auth, TLS, counters, certificate...) join in;
			 * the fields above, parsed from the record, stay unless empty. */
			const char *k;
			json_t *v;
			json_object_foreach(extra, k, v)
			{
				static const char *const own[] = {"id",    "name",   "domain",
				                                  "local", "since",  "since_ms",
				                                  "state", "reason", "direction"};
				bool mine = false;
				for (size_t o = 0; o < sizeof(own) / sizeof(own[0]) && !mine; o++)
					mine = strcmp(k, own[o]) == 0;
				if (!mine || json_string_length(json_object_get(p, k)) == 0)
					json_object_set(p, k, v);
			}
		}
		json_decref(extra);
		json_array_append_new(peers, p);
	}
	json_t *allow_arr = json_array();
	for (size_t i = 0; i < na; i++) {
		json_t *a = xmppconf__allow_json(&allow[i]);
		json_t *conns = json_array();
		char state[256] = "";
		size_t j, used = 0;
		json_t *p;
		json_array_foreach(peers, j, p)
		{
			const char *pd = json_string_value(json_object_get(p, "domain"));
			if (!pd || strcasecmp(pd, allow[i].domain) != 0)
				continue;
			json_array_append_new(conns,
			                      json_pack("{s:O, s:O, s:O}", "direction",
			                                json_object_get(p, "direction"), "state",
			                                json_object_get(p, "state"), "since",
			                                json_object_get(p, "since")));
			/* "incoming: authenticated, outgoing: connecting" */
			int w = snprintf(state + used, sizeof(state) - used, "%s%s: %s",
			                 used ? ", " : "",
			                 json_string_value(json_object_get(p, "direction")),
			                 json_string_value(json_object_get(p, "state")));
			if (w > 0 && (size_t)w < sizeof(state) - used)
				used += (size_t)w;
		}
		json_object_set_new(a, "connection",
		                    json_pack("{s:o, s:o}", "state",
		                              conf_text(used ? state : "not connected"), "peers",
		                              conns));
		json_array_append_new(allow_arr, a);
	}
	*out = json_pack("{s:o, s:o}", "peers", peers, "allow", allow_arr);
out:
	db_status_list_free(st, ns);
	free(allow);
	return err;
}
