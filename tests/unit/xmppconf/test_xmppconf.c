/* Unit tests of xmppconf on a real temporary store: every validation rule, audit entries,
 * the dialback secret kept out of answers, records to publish, policy warnings, peers. */
#include "certs/certs.h"
#include "xmppconf/xmppconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

static int setup(void **state)
{
	return fx_store_new(state, sizeof(struct fx_store), "xmppconf");
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void setting(struct db *db, const char *key, char *out, size_t size)
{
	struct db_txn *txn = NULL;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	if (db_setting_get(txn, key, out, size) != FG_OK)
		out[0] = '\0';
	db_txn_end(txn);
}

/* Sets one value given as JSON text; returns the error and the field refused. */
static enum fg_err set1(struct db *db, const char *key, const char *json_value, struct conf_err *e)
{
	char text[512];
	snprintf(text, sizeof(text), "{\"%s\": %s}", key, json_value);
	json_t *in = fx_json("%s", text), *out = NULL;
	memset(e, 0, sizeof(*e));
	enum fg_err err = xmppconf_settings_set(db, "admin", "192.0.2.1", in, &out, e);
	json_decref(in);
	json_decref(out);
	return err;
}

struct put_cert_ctx {
	struct db_cert cert;
};

static enum fg_err put_cert_fn(struct db_txn *txn, void *ctx)
{
	return db_cert_put(txn, &((struct put_cert_ctx *)ctx)->cert);
}

/* A record without a key (a CA bundle): refused as a domain's certificate. */
static void keyless_cert(struct db *db, char id[DB_ID_MAX])
{
	struct put_cert_ctx c;
	memset(&c, 0, sizeof(c));
	db_new_id(c.cert.id);
	fg_strlcpy(c.cert.name, "bundle", sizeof(c.cert.name));
	c.cert.kind = DB_CERT_CA_BUNDLE;
	c.cert.pem = (char *)"";
	assert_int_equal(db_write(db, put_cert_fn, &c), FG_OK);
	fg_strlcpy(id, c.cert.id, DB_ID_MAX);
}

/* ---- domain names ----------------------------------------------------------------------- */

static void test_domain_names(void **state)
{
	(void)state;
	static const char *const good[] = {"example.com",    "a.test",    "xn--bcher-kva.example",
	                                   "a-b.c1.example", "localhost", "1a.example"};
	static const char *const bad[] = {
	    "",           "Example.com",   "example.com.",   ".example.com", "a..b",
	    "-a.example", "a-.example",    "a_b.example",    "a b.example",  "192.0.2.1",
	    "::1",        "*.example.com", "exa<script>.com"};
	const char *why = NULL;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(xmppconf_domain_valid(good[i], &why));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_false(xmppconf_domain_valid(bad[i], &why));
		assert_non_null(why);
	}
	char label[80], name[300];
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	assert_false(xmppconf_domain_valid(name, &why)); /* label of 64 */
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	assert_true(xmppconf_domain_valid(name, &why));
	/* 253 octets is the most (RFC 1035 §2.3.4): labels of 63 'a' joined by dots. */
	for (size_t len = 250; len <= 254; len++) {
		memset(name, 0, sizeof(name));
		for (size_t i = 0; i < len; i++)
			name[i] = (i % 64 == 63) ? '.' : 'a';
		if (name[len - 1] == '.')
			continue;
		if (len <= 253)
			assert_true(xmppconf_domain_valid(name, &why));
		else
			assert_false(xmppconf_domain_valid(name, &why));
	}
	assert_false(xmppconf_domain_valid(name, &why));
}

/* ---- settings --------------------------------------------------------------------------- */

static void test_settings_defaults(void **state)
{
	struct fx_store *f = *state;
	json_t *s = NULL;
	assert_int_equal(xmppconf_settings_get(f->db, &s), FG_OK);
	assert_true(json_is_true(json_object_get(s, "enabled")));
	assert_int_equal(json_integer_value(json_object_get(s, "port")), 5269);
	assert_int_equal(json_integer_value(json_object_get(s, "direct_tls_port")), 0);
	assert_string_equal(json_string_value(json_object_get(s, "tls_mode")), "required");
	assert_string_equal(json_string_value(json_array_get(json_object_get(s, "bind"), 0)),
	                    "0.0.0.0");
	assert_int_equal(json_array_size(json_object_get(s, "dns_servers")), 0);
	assert_int_equal(json_integer_value(json_object_get(s, "max_stanza_bytes")), 524288);
	assert_int_equal(json_integer_value(json_object_get(s, "connect_timeout_s")), 10);
	assert_int_equal(json_integer_value(json_object_get(s, "queue_max")), 1000);
	assert_int_equal(json_integer_value(json_object_get(s, "idle_timeout_s")), 600);
	assert_false(json_is_true(json_object_get(s, "require_client_cert")));
	assert_true(json_is_true(json_object_get(s, "sasl_external_in")));
	assert_true(json_is_true(json_object_get(s, "sasl_external_out")));
	assert_true(json_is_true(json_object_get(s, "dialback")));
	assert_false(json_is_true(json_object_get(s, "allow_system_ca")));
	assert_string_equal(json_string_value(json_object_get(s, "policy_default")), "allow");
	assert_false(json_is_true(json_object_get(s, "dialback_secret_set")));
	assert_null(json_object_get(s, "dialback_secret"));
	json_decref(s);
}

static void test_settings_set_and_audit(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	json_t *in = fx_json("{\"port\": \"5270\", \"tls_mode\": \"optional\", \"enabled\": false,"
	                     " \"bind\": \"127.0.0.1, ::1\", \"dns_servers\": [\"127.0.0.1@5353\"],"
	                     " \"dns_transparent_zones\": \"test.\", \"xmpp.queue_max\": 5,"
	                     " \"policy_default\": \"deny\", \"dialback_secret_set\": true}");
	json_t *out = NULL;
	assert_int_equal(xmppconf_settings_set(f->db, "admin", "192.0.2.1", in, &out, &e), FG_OK);
	json_decref(in);
	assert_int_equal(json_array_size(json_object_get(out, "changed")), 8);
	assert_non_null(
	    strstr(json_string_value(json_object_get(out, "message")), "port: 5269 -> 5270"));
	json_t *now = json_object_get(out, "settings");
	assert_int_equal(json_integer_value(json_object_get(now, "port")), 5270);
	assert_int_equal(json_array_size(json_object_get(now, "bind")), 2);
	json_decref(out);

	char v[128];
	setting(f->db, "xmpp.bind", v, sizeof(v));
	assert_string_equal(v, "127.0.0.1,::1");
	setting(f->db, "xmpp.enabled", v, sizeof(v));
	assert_string_equal(v, "false");
	setting(f->db, "xmpp.dns_transparent_zones", v, sizeof(v));
	assert_string_equal(v, "test.");
	setting(f->db, "policy.default", v, sizeof(v));
	assert_string_equal(v, "deny");

	struct db_audit_entry a = fx_last_audit(f->db, NULL);
	assert_string_equal(a.action, "xmpp.settings");
	assert_string_equal(a.actor, "admin");
	assert_string_equal(a.source, "192.0.2.1");
	assert_non_null(strstr(a.detail, "tls_mode: required -> optional"));

	/* The same values again: nothing written, no audit entry. */
	size_t before = fx_audit_count(f->db);
	assert_int_equal(set1(f->db, "port", "5270", &e), FG_OK);
	assert_int_equal(fx_audit_count(f->db), before);
}

static void test_settings_refused(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e;
	static const struct {
		const char *key, *value;
	} bad[] = {
	    {"enabled", "\"maybe\""},
	    {"enabled", "3"},
	    {"port", "0"},
	    {"port", "65536"},
	    {"port", "\"52x\""},
	    {"port", "-1"},
	    {"direct_tls_port", "70000"},
	    {"bind", "\"\""},
	    {"bind", "\"example.com\""},
	    {"bind", "[1]"},
	    {"dns_servers", "\"127.0.0.1@0\""},
	    {"dns_servers", "\"127.0.0.1@99999\""},
	    {"dns_servers", "\"dns.example\""},
	    {"dns_transparent_zones", "\"bad_zone\""},
	    {"tls_mode", "\"sometimes\""},
	    {"tls_mode", "true"},
	    {"require_client_cert", "\"\""},
	    {"max_stanza_bytes", "10239"},
	    {"max_stanza_bytes", "16777217"},
	    {"connect_timeout_s", "0"},
	    {"connect_timeout_s", "121"},
	    {"queue_max", "0"},
	    {"queue_max", "100001"},
	    {"idle_timeout_s", "29"},
	    {"idle_timeout_s", "86401"},
	    {"policy_default", "\"maybe\""},
	    {"no_such_key", "1"},
	    {"dialback_secret", "\"00\""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t before = fx_audit_count(f->db);
		enum fg_err err = set1(f->db, bad[i].key, bad[i].value, &e);
		if (err != FG_ERR_INVAL)
			fail_msg("%s=%s was accepted", bad[i].key, bad[i].value);
		assert_int_equal(e.status, 422);
		assert_string_equal(e.field, bad[i].key);
		assert_true(e.message[0] != '\0');
		assert_true(e.fix[0] != '\0');
		assert_int_equal(fx_audit_count(f->db), before);
	}
	/* Seventeen list items are too many. */
	assert_int_equal(set1(f->db, "bind",
	                      "\"1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 "
	                      "1.1.1.9 1.1.1.10 1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 "
	                      "1.1.1.16 1.1.1.17\"",
	                      &e),
	                 FG_ERR_INVAL);
	/* One bad value refuses the whole change. */
	json_t *in = fx_json("{\"port\": 6000, \"queue_max\": 0}"), *out = NULL;
	assert_int_equal(xmppconf_settings_set(f->db, "admin", "cli", in, &out, &e), FG_ERR_INVAL);
	json_decref(in);
	assert_null(out);
	char v[32];
	setting(f->db, "xmpp.port", v, sizeof(v));
	assert_string_equal(v, "");
	/* The direct TLS port cannot be the s2s port, whichever of the two changes. */
	assert_int_equal(set1(f->db, "direct_tls_port", "5269", &e), FG_ERR_INVAL);
	assert_string_equal(e.field, "direct_tls_port");
	assert_int_equal(set1(f->db, "direct_tls_port", "5270", &e), FG_OK);
	assert_int_equal(set1(f->db, "port", "5270", &e), FG_ERR_INVAL);
	assert_string_equal(e.field, "port");
}

static void test_settings_warnings(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	json_t *in = fx_json("{\"tls_mode\": \"off\"}"), *out = NULL;
	assert_int_equal(xmppconf_settings_set(f->db, "admin", "cli", in, &out, &e), FG_OK);
	assert_true(fx_has_text(json_object_get(out, "warnings"), "SASL EXTERNAL needs TLS"));
	json_decref(in);
	json_decref(out);
	in = fx_json("{\"dialback\": false}");
	assert_int_equal(xmppconf_settings_set(f->db, "admin", "cli", in, &out, &e), FG_OK);
	assert_true(fx_has_text(json_object_get(out, "warnings"), "No authentication method"));
	json_decref(in);
	json_decref(out);
}

static void test_secret(void **state)
{
	struct fx_store *f = *state;
	char secret[XMPPCONF_SECRET_HEX], again[XMPPCONF_SECRET_HEX], stored[128];
	assert_int_equal(xmppconf_secret_regenerate(f->db, "admin", "cli", secret), FG_OK);
	assert_int_equal(strlen(secret), 64);
	setting(f->db, XMPPCONF_SETTING_SECRET, stored, sizeof(stored));
	assert_string_equal(stored, secret);
	struct db_audit_entry a = fx_last_audit(f->db, NULL);
	assert_string_equal(a.action, "xmpp.secret.regenerate");
	assert_null(strstr(a.detail, secret));

	json_t *s = NULL;
	assert_int_equal(xmppconf_settings_get(f->db, &s), FG_OK);
	assert_true(json_is_true(json_object_get(s, "dialback_secret_set")));
	assert_false(fx_has_text(s, secret));
	json_decref(s);

	/* A settings change answers with the settings: still without the secret. */
	json_t *in = fx_json("{\"port\": 5280}"), *out = NULL;
	struct conf_err e = {0};
	assert_int_equal(xmppconf_settings_set(f->db, "admin", "cli", in, &out, &e), FG_OK);
	assert_false(fx_has_text(out, secret));
	json_decref(in);
	json_decref(out);

	assert_int_equal(xmppconf_secret_regenerate(f->db, "admin", "cli", again), FG_OK);
	assert_string_not_equal(secret, again);
}

/* ---- domains ---------------------------------------------------------------------------- */

static void test_domains(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	json_t *out = NULL, *in;
	char good[DB_ID_MAX], other[DB_ID_MAX], keyless[DB_ID_MAX], text[256];
	fx_selfsigned(f->db, "gw", "gw.example", good);
	fx_selfsigned(f->db, "other", "other.example", other);
	keyless_cert(f->db, keyless);

	/* Refusals name the field. */
	in = fx_json("{\"domain\": \"GW.example\"}");
	assert_int_equal(
	    xmppconf_domain_add(f->db, "admin", "cli", in, "gw-host.example", &out, &e),
	    FG_ERR_INVAL);
	assert_string_equal(e.field, "domain");
	json_decref(in);
	in = fx_json("{}");
	assert_int_equal(xmppconf_domain_add(f->db, "admin", "cli", in, "h", &out, &e),
	                 FG_ERR_INVAL);
	assert_string_equal(e.field, "domain");
	json_decref(in);
	in = fx_json(
	    "{\"domain\": \"gw.example\", \"cert_id\": \"0123456789abcdef0123456789abcdef\"}");
	assert_int_equal(xmppconf_domain_add(f->db, "admin", "cli", in, "h", &out, &e),
	                 FG_ERR_INVAL);
	assert_string_equal(e.field, "cert_id");
	json_decref(in);
	snprintf(text, sizeof(text), "{\"domain\": \"gw.example\", \"cert_id\": \"%s\"}", keyless);
	in = fx_json("%s", text);
	assert_int_equal(xmppconf_domain_add(f->db, "admin", "cli", in, "h", &out, &e),
	                 FG_ERR_INVAL);
	assert_string_equal(e.field, "cert_id");
	assert_non_null(strstr(e.message, "no private key"));
	json_decref(in);
	in = fx_json("{\"domain\": \"gw.example\", \"colour\": \"red\"}");
	assert_int_equal(xmppconf_domain_add(f->db, "admin", "cli", in, "h", &out, &e),
	                 FG_ERR_INVAL);
	assert_string_equal(e.field, "colour");
	json_decref(in);

	/* A good one: the records to publish name the host and the port. */
	snprintf(text, sizeof(text), "{\"domain\": \"gw.example\", \"cert_id\": \"%s\"}", good);
	in = fx_json("%s", text);
	assert_int_equal(
	    xmppconf_domain_add(f->db, "admin", "192.0.2.9", in, "gw-host.example", &out, &e),
	    FG_OK);
	json_t *d = json_object_get(out, "domain");
	assert_true(json_is_true(json_object_get(d, "cert_covers")));
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(d, "records"), 0), "text")),
	                    "_xmpp-server._tcp.gw.example. SRV 0 5 5269 gw-host.example.");
	assert_int_equal(json_array_size(json_object_get(out, "warnings")), 0);
	json_decref(out);
	struct db_audit_entry a = fx_last_audit(f->db, NULL);
	assert_string_equal(a.action, "xmpp.domain.add");
	assert_non_null(strstr(a.detail, "gw.example"));
	assert_int_equal(xmppconf_domain_add(f->db, "admin", "cli", in, "h", &out, &e),
	                 FG_ERR_EXISTS);
	assert_int_equal(e.status, 409);
	json_decref(in);

	/* A certificate that does not name the domain is accepted with a warning. */
	snprintf(text, sizeof(text), "{\"cert_id\": \"%s\"}", other);
	in = fx_json("%s", text);
	assert_int_equal(
	    xmppconf_domain_edit(f->db, "admin", "cli", "gw.example", in, "h", &out, &e), FG_OK);
	assert_true(json_is_false(json_object_get(json_object_get(out, "domain"), "cert_covers")));
	assert_true(fx_has_text(json_object_get(out, "warnings"), "does not name gw.example"));
	assert_int_equal(json_array_size(json_object_get(out, "changed")), 1);
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.domain.edit");
	assert_int_equal(
	    xmppconf_domain_edit(f->db, "admin", "cli", "missing.example", in, "h", &out, &e),
	    FG_ERR_NOTFOUND);
	json_decref(in);

	/* Direct TLS adds the _xmpps-server record, listed first (XEP-0368). */
	assert_int_equal(set1(f->db, "direct_tls_port", "5270", &e), FG_OK);
	assert_int_equal(xmppconf_domain_list(f->db, "gw-host.example", &out), FG_OK);
	json_t *recs = json_object_get(json_array_get(out, 0), "records");
	assert_int_equal(json_array_size(recs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "name")),
	                    "_xmpps-server._tcp.gw.example.");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 0), "value")),
	                    "0 5 5270 gw-host.example.");
	json_decref(out);

	assert_int_equal(xmppconf_domain_delete(f->db, "admin", "cli", "gw.example", &out, &e),
	                 FG_OK);
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.domain.delete");
	assert_int_equal(xmppconf_domain_delete(f->db, "admin", "cli", "gw.example", &out, &e),
	                 FG_ERR_NOTFOUND);
	assert_int_equal(e.status, 404);
}

/* ---- allow list --------------------------------------------------------------------------- */

static void test_allow(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	json_t *out = NULL, *in;
	static const struct {
		const char *json, *field;
	} bad[] = {
	    {"{\"domain\": \"bad domain\"}", "domain"},
	    {"{\"server\": \"x\"}", "domain"},
	    {"{\"domain\": \"p.example\", \"server\": \"not a host\"}", "server"},
	    {"{\"domain\": \"p.example\", \"port\": 65536}", "port"},
	    {"{\"domain\": \"p.example\", \"port\": \"x\"}", "port"},
	    {"{\"domain\": \"p.example\", \"auth\": \"password\"}", "auth"},
	    {"{\"domain\": \"p.example\", \"tls\": \"maybe\"}", "tls"},
	    {"{\"domain\": \"p.example\", \"auth\": \"sasl_external\", \"tls\": \"off\"}", "tls"},
	    {"{\"domain\": \"p.example\", \"cert_id\": \"0123456789abcdef0123456789abcdef\"}",
	     "cert_id"},
	    {"{\"domain\": \"p.example\", \"description\": \"line\\nbreak\"}", "description"},
	    {"{\"domain\": \"p.example\", \"description\": 5}", "description"},
	    {"{\"domain\": \"p.example\", \"speed\": 5}", "speed"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = fx_json("%s", bad[i].json);
		if (xmppconf_allow_add(f->db, "admin", "cli", in, &out, &e) != FG_ERR_INVAL)
			fail_msg("accepted %s", bad[i].json);
		assert_string_equal(e.field, bad[i].field);
		assert_true(e.fix[0] != '\0');
		json_decref(in);
	}

	in = fx_json("{\"domain\": \"p.example\", \"server\": \"xmpp.p.example\", \"port\": 5299,"
	             " \"auth\": \"dialback\", \"tls\": \"optional\","
	             " \"description\": \"<img src=x onerror=alert(1)> partner\"}");
	assert_int_equal(xmppconf_allow_add(f->db, "admin", "cli", in, &out, &e), FG_OK);
	json_t *entry = json_object_get(out, "entry");
	assert_string_equal(json_string_value(json_object_get(entry, "description")),
	                    "<img src=x onerror=alert(1)> partner");
	assert_int_equal(json_integer_value(json_object_get(entry, "port")), 5299);
	assert_string_equal(json_string_value(json_object_get(entry, "auth")), "dialback");
	json_decref(out);
	assert_int_equal(xmppconf_allow_add(f->db, "admin", "cli", in, &out, &e), FG_ERR_EXISTS);
	json_decref(in);
	struct db_audit_entry a = fx_last_audit(f->db, NULL);
	assert_string_equal(a.action, "xmpp.allow.add");
	assert_non_null(strstr(a.detail, "p.example"));

	/* Edit is partial: only the given fields change. */
	in = fx_json("{\"tls\": \"required\", \"auth\": \"sasl\", \"created\": \"ignored\"}");
	assert_int_equal(xmppconf_allow_edit(f->db, "admin", "cli", "p.example", in, &out, &e),
	                 FG_OK);
	entry = json_object_get(out, "entry");
	assert_string_equal(json_string_value(json_object_get(entry, "auth")), "sasl_external");
	assert_string_equal(json_string_value(json_object_get(entry, "server")), "xmpp.p.example");
	assert_int_equal(json_array_size(json_object_get(out, "changed")), 2);
	json_decref(out);
	assert_int_equal(xmppconf_allow_edit(f->db, "admin", "cli", "q.example", in, &out, &e),
	                 FG_ERR_NOTFOUND);
	json_decref(in);
	in = fx_json("{\"domain\": \"other.example\"}");
	assert_int_equal(xmppconf_allow_edit(f->db, "admin", "cli", "p.example", in, &out, &e),
	                 FG_ERR_INVAL);
	json_decref(in);

	assert_int_equal(xmppconf_allow_list(f->db, &out), FG_OK);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	assert_int_equal(xmppconf_allow_delete(f->db, "admin", "cli", "p.example", &out, &e),
	                 FG_OK);
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.allow.delete");
	assert_int_equal(xmppconf_allow_delete(f->db, "admin", "cli", "p.example", &out, &e),
	                 FG_ERR_NOTFOUND);
}

/* ---- policy -------------------------------------------------------------------------------- */

static void test_policy(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	json_t *out = NULL, *in;
	in = fx_json("{\"domain\": \"p.example\"}");
	assert_int_equal(xmppconf_allow_add(f->db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	json_decref(out);

	assert_int_equal(xmppconf_policy_default_set(f->db, "admin", "cli", "maybe", &out, &e),
	                 FG_ERR_INVAL);
	assert_string_equal(e.field, "default");
	/* Default deny: the allow-listed domain is now denied, which the answer says. */
	assert_int_equal(xmppconf_policy_default_set(f->db, "admin", "cli", "deny", &out, &e),
	                 FG_OK);
	assert_true(
	    fx_has_text(json_object_get(out, "warnings"), "p.example is on the allow list"));
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.policy.default");

	static const struct {
		const char *json, *field;
	} bad[] = {
	    {"{\"verdict\": \"allow\"}", "pattern"},
	    {"{\"pattern\": \"p.example\"}", "verdict"},
	    {"{\"pattern\": \"bad pattern\", \"verdict\": \"allow\"}", "pattern"},
	    {"{\"pattern\": \"*.*.example\", \"verdict\": \"allow\"}", "pattern"},
	    {"{\"pattern\": \"a.*.example\", \"verdict\": \"allow\"}", "pattern"},
	    {"{\"pattern\": \"\", \"verdict\": \"allow\"}", "pattern"},
	    {"{\"pattern\": \"p.example\", \"verdict\": \"maybe\"}", "verdict"},
	    {"{\"pattern\": \"p.example\", \"verdict\": \"allow\", \"direction\": \"up\"}",
	     "direction"},
	    {"{\"pattern\": \"p.example\", \"verdict\": \"allow\", \"description\": \"\\u0007\"}",
	     "description"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = fx_json("%s", bad[i].json);
		if (xmppconf_rule_add(f->db, "admin", "cli", in, &out, &e) != FG_ERR_INVAL)
			fail_msg("accepted %s", bad[i].json);
		assert_string_equal(e.field, bad[i].field);
		json_decref(in);
	}

	/* An allow exception for the domain by wildcard: the warning goes away. */
	in = fx_json("{\"pattern\": \"*.P.example\", \"verdict\": \"allow\", \"description\": "
	             "\"<b>x</b>\"}");
	assert_int_equal(xmppconf_rule_add(f->db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	json_t *rule = json_object_get(out, "rule");
	char id[DB_ID_MAX];
	fg_strlcpy(id, json_string_value(json_object_get(rule, "id")), sizeof(id));
	assert_string_equal(json_string_value(json_object_get(rule, "pattern")), "*.p.example");
	assert_string_equal(json_string_value(json_object_get(rule, "direction")), "both");
	assert_string_equal(json_string_value(json_object_get(rule, "description")), "<b>x</b>");
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.policy.rule.add");
	assert_int_equal(xmppconf_policy_get(f->db, &out), FG_OK);
	assert_string_equal(json_string_value(json_object_get(out, "default")), "deny");
	assert_int_equal(json_array_size(json_object_get(out, "rules")), 1);
	assert_int_equal(json_array_size(json_object_get(out, "warnings")), 0);
	json_decref(out);

	/* The same pattern in an overlapping direction is a duplicate. */
	in = fx_json(
	    "{\"pattern\": \"*.p.example\", \"verdict\": \"deny\", \"direction\": \"incoming\"}");
	assert_int_equal(xmppconf_rule_add(f->db, "admin", "cli", in, &out, &e), FG_ERR_EXISTS);
	assert_string_equal(e.field, "pattern");
	json_decref(in);

	/* An exact deny beats the wildcard: denying an allow-listed domain warns. */
	in = fx_json(
	    "{\"pattern\": \"p.example\", \"verdict\": \"deny\", \"direction\": \"outgoing\"}");
	assert_int_equal(xmppconf_rule_add(f->db, "admin", "cli", in, &out, &e), FG_OK);
	assert_true(
	    fx_has_text(json_object_get(out, "warnings"), "p.example is on the allow list"));
	char deny_id[DB_ID_MAX];
	fg_strlcpy(deny_id, json_string_value(json_object_get(json_object_get(out, "rule"), "id")),
	           sizeof(deny_id));
	json_decref(out);
	json_decref(in);

	/* Edit: the deny becomes an allow; the warning goes. */
	in = fx_json("{\"verdict\": \"allow\"}");
	assert_int_equal(xmppconf_rule_edit(f->db, "admin", "cli", deny_id, in, &out, &e), FG_OK);
	assert_int_equal(json_array_size(json_object_get(out, "warnings")), 0);
	assert_int_equal(json_array_size(json_object_get(out, "changed")), 1);
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.policy.rule.edit");
	assert_int_equal(xmppconf_rule_edit(f->db, "admin", "cli", "nope", in, &out, &e),
	                 FG_ERR_NOTFOUND);
	assert_int_equal(xmppconf_rule_edit(f->db, "admin", "cli",
	                                    "0123456789abcdef0123456789abcdef", in, &out, &e),
	                 FG_ERR_NOTFOUND);
	json_decref(in);

	assert_int_equal(xmppconf_rule_delete(f->db, "admin", "cli", id, &out, &e), FG_OK);
	json_decref(out);
	assert_string_equal(fx_last_audit(f->db, NULL).action, "xmpp.policy.rule.delete");
	assert_int_equal(xmppconf_rule_delete(f->db, "admin", "cli", id, &out, &e),
	                 FG_ERR_NOTFOUND);
}

/* ---- peers ---------------------------------------------------------------------------------- */

static void test_peers(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	json_t *out = NULL, *in = fx_json("{\"domain\": \"p.example\"}");
	assert_int_equal(xmppconf_allow_add(f->db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	json_decref(out);
	struct db_status st;
	memset(&st, 0, sizeof(st));
	fg_strlcpy(st.id, "xmpp:outgoing:gw.example:p.example", sizeof(st.id));
	fg_strlcpy(st.kind, "xmpp-peer", sizeof(st.kind));
	fg_strlcpy(st.name, "p.example (outgoing)", sizeof(st.name));
	fg_strlcpy(st.state, "authenticated", sizeof(st.state));
	st.since_ms = fg_now_ms();
	fg_strlcpy(st.extra, "{\"auth\":\"dialback\",\"stanzas_in\":3,\"tls_version\":\"TLS 1.2\"}",
	           sizeof(st.extra));
	assert_int_equal(db_write(f->db, fx_status_put, &st), FG_OK);
	fg_strlcpy(st.id, "listener:xmpp", sizeof(st.id));
	fg_strlcpy(st.kind, "listener", sizeof(st.kind));
	assert_int_equal(db_write(f->db, fx_status_put, &st), FG_OK);

	assert_int_equal(xmppconf_peers(f->db, &out), FG_OK);
	json_t *peers = json_object_get(out, "peers");
	assert_int_equal(json_array_size(peers), 1);
	json_t *p = json_array_get(peers, 0);
	assert_string_equal(json_string_value(json_object_get(p, "domain")), "p.example");
	assert_string_equal(json_string_value(json_object_get(p, "local")), "gw.example");
	assert_string_equal(json_string_value(json_object_get(p, "direction")), "outgoing");
	assert_string_equal(json_string_value(json_object_get(p, "auth")), "dialback");
	assert_int_equal(json_integer_value(json_object_get(p, "stanzas_in")), 3);
	json_t *conn =
	    json_object_get(json_array_get(json_object_get(out, "allow"), 0), "connection");
	assert_string_equal(json_string_value(json_object_get(conn, "state")),
	                    "outgoing: authenticated");
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_domain_names),
	    cmocka_unit_test_setup_teardown(test_settings_defaults, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_settings_set_and_audit, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_settings_refused, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_settings_warnings, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_secret, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_domains, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_allow, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_policy, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_peers, setup, fx_store_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
