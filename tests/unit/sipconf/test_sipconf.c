/* Unit tests of sipconf on a real temporary store: settings and their refusals, SIP domain
 * add/edit/delete with every validation rule, defaults (RFC 3261 §19.1.2 ports, same-name
 * XMPP mapping), certificate warnings (RFC 5922 §7), audit entries and the live state. */
#include "certs/certs.h"
#include "sipconf/sipconf.h"

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

struct fx {
	struct fx_store store;
	char cert[DB_ID_MAX];  /* leaf with key, names sipgw.test */
	char ca[DB_ID_MAX];    /* CA bundle */
	char other[DB_ID_MAX]; /* leaf with key, names other.test */
};

static int setup(void **state)
{
	if (fx_store_new(state, sizeof(struct fx), "sipconf") != 0)
		return -1;
	struct fx *f = *state;
	fx_selfsigned(f->store.db, "sipgw", "sipgw.test", f->cert);
	fx_selfsigned(f->store.db, "other", "other.test", f->other);
	char root[DB_ID_MAX], *pem = NULL, *err = NULL;
	fx_selfsigned(f->store.db, "edge-root", "edge-ca.test", root);
	if (certs_pem(f->store.db, root, &pem) != FG_OK)
		return -1;
	if (certs_import_ca(f->store.db, "admin", "cli", "edge-ca", pem, f->ca, &err) != FG_OK)
		return -1;
	free(pem);
	free(err);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static struct db_sip_domain stored(struct db *db, const char *domain)
{
	struct db_txn *txn = NULL;
	struct db_sip_domain d;
	memset(&d, 0, sizeof(d));
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_sip_domain_get(txn, domain, &d), FG_OK);
	db_txn_end(txn);
	return d;
}

static enum fg_err add(struct fx *f, json_t *in, struct conf_err *e, json_t **out)
{
	json_t *dummy = NULL;
	memset(e, 0, sizeof(*e));
	enum fg_err err =
	    sipconf_domain_add(f->store.db, "admin", "192.0.2.1", in, out ? out : &dummy, e);
	json_decref(in);
	json_decref(dummy);
	return err;
}

/* ---- settings ------------------------------------------------------------------------------ */

static void test_settings(void **state)
{
	struct fx *f = *state;
	struct conf_err e = {0};
	json_t *s = NULL, *out = NULL;
	char host[DB_DOMAIN_MAX] = "";
	gethostname(host, sizeof(host) - 1);
	assert_int_equal(sipconf_settings_get(f->store.db, &s), FG_OK);
	assert_true(json_is_true(json_object_get(s, "enabled")));
	assert_int_equal(json_integer_value(json_object_get(s, "tcp_port")), 5060);
	assert_int_equal(json_integer_value(json_object_get(s, "tls_port")), 5061);
	assert_string_equal(json_string_value(json_object_get(s, "bind")), "0.0.0.0");
	assert_string_equal(json_string_value(json_object_get(s, "fqdn")), host);
	assert_true(json_is_true(json_object_get(s, "fqdn_default")));
	assert_int_equal(json_integer_value(json_object_get(s, "subscription_expires_s")), 3600);
	assert_int_equal(json_integer_value(json_object_get(s, "max_pending")), 1000);
	json_decref(s);

	json_t *in =
	    fx_json("{\"fqdn\":\"sipgw.test\", \"sip.tls_port\":\"5071\", \"enabled\":\"off\","
	            " \"bind\":\"::1\", \"max_pending\": 50, \"fqdn_default\": true}");
	assert_int_equal(sipconf_settings_set(f->store.db, "admin", "192.0.2.1", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	assert_int_equal(json_array_size(json_object_get(out, "changed")), 5);
	assert_true(fx_has_text(json_object_get(out, "message"), "tls_port: 5061 -> 5071"));
	assert_true(fx_has_text(json_object_get(out, "warnings"), "now off"));
	json_t *now = json_object_get(out, "settings");
	assert_string_equal(json_string_value(json_object_get(now, "fqdn")), "sipgw.test");
	assert_false(json_is_true(json_object_get(now, "fqdn_default")));
	assert_false(json_is_true(json_object_get(now, "enabled")));
	json_decref(out);
	struct db_audit_entry a = fx_last_audit(f->store.db, NULL);
	assert_string_equal(a.action, "sip.settings");
	assert_string_equal(a.actor, "admin");
	assert_string_equal(a.source, "192.0.2.1");
	assert_non_null(strstr(a.detail, "fqdn: "));

	/* Same values: nothing written, no audit entry. */
	size_t before = fx_audit_count(f->store.db);
	in = fx_json("{\"max_pending\":\"50\"}");
	assert_int_equal(sipconf_settings_set(f->store.db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	json_decref(out);
	assert_int_equal(fx_audit_count(f->store.db), before);

	/* fqdn "" goes back to the host name. */
	in = fx_json("{\"fqdn\":\"\"}");
	assert_int_equal(sipconf_settings_set(f->store.db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "settings"), "fqdn")), host);
	json_decref(out);

	static const struct {
		const char *key, *value;
	} bad[] = {
	    {"enabled", "\"maybe\""},
	    {"fqdn", "\"Sipgw.test\""},
	    {"fqdn", "\"192.0.2.1\""},
	    {"fqdn", "\"a..b\""},
	    {"fqdn", "5"},
	    {"tcp_port", "65536"},
	    {"tcp_port", "\"x\""},
	    {"tls_port", "-1"},
	    {"bind", "\"\""},
	    {"bind", "\"example.com\""},
	    {"subscription_expires_s", "59"},
	    {"subscription_expires_s", "86401"},
	    {"max_pending", "0"},
	    {"max_pending", "1000001"},
	    {"nonsense", "1"},
	    {"tls_port", "5060"}, /* the TCP port */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"%s\": %s}", bad[i].key, bad[i].value);
		in = fx_json("%s", text);
		before = fx_audit_count(f->store.db);
		memset(&e, 0, sizeof(e));
		out = NULL;
		if (sipconf_settings_set(f->store.db, "admin", "cli", in, &out, &e) != FG_ERR_INVAL)
			fail_msg("%s was accepted", text);
		json_decref(in);
		assert_null(out);
		assert_int_equal(e.status, 422);
		assert_string_equal(e.field, bad[i].key);
		assert_true(e.message[0] && e.fix[0]);
		assert_int_equal(fx_audit_count(f->store.db), before);
	}
	/* Both ports off: allowed, with a warning. */
	in = fx_json("{\"tcp_port\":0, \"tls_port\":0, \"enabled\":true}");
	assert_int_equal(sipconf_settings_set(f->store.db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	assert_true(fx_has_text(json_object_get(out, "warnings"), "nothing listens"));
	json_decref(out);
}

/* ---- domains ------------------------------------------------------------------------------- */

static void test_domain_add(void **state)
{
	struct fx *f = *state;
	struct conf_err e;
	json_t *out = NULL;
	size_t before = fx_audit_count(f->store.db);
	assert_int_equal(add(f,
	                     fx_json("{\"domain\":\"sip.test\",\"next_hop\":\"edge.sip.test\","
	                             "\"cert_id\":\"%s\",\"ca_id\":\"%s\"}",
	                             f->cert, f->ca),
	                     &e, &out),
	                 FG_OK);
	assert_int_equal(fx_audit_count(f->store.db), before + 1);
	struct db_audit_entry a = fx_last_audit(f->store.db, NULL);
	assert_string_equal(a.action, "sip.domain.add");
	assert_non_null(strstr(a.detail, "edge.sip.test:5061 tls"));
	json_t *d = json_object_get(out, "domain");
	assert_int_equal(json_integer_value(json_object_get(d, "port")), 5061);
	assert_string_equal(json_string_value(json_object_get(d, "transport")), "tls");
	assert_string_equal(json_string_value(json_object_get(d, "maps_to")), "sip.test");
	assert_string_equal(json_string_value(json_object_get(d, "xmpp_domain")), "");
	assert_string_equal(json_string_value(json_object_get(d, "cert_name")), "sipgw");
	assert_string_equal(json_string_value(json_object_get(d, "ca_name")), "edge-ca");
	assert_true(json_is_null(json_object_get(d, "status")));
	/* sip.fqdn is the host name here, which the certificate does not name. */
	assert_false(json_is_true(json_object_get(d, "cert_names_fqdn")));
	assert_true(
	    fx_has_text(json_object_get(out, "warnings"), "does not name the gateway's FQDN"));
	json_decref(out);

	/* With sip.fqdn set to the certificate's name the warning goes away. */
	json_t *in = fx_json("{\"fqdn\":\"sipgw.test\"}");
	assert_int_equal(sipconf_settings_set(f->store.db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	assert_int_equal(json_array_size(json_object_get(out, "warnings")), 0);
	json_decref(out);
	assert_int_equal(sipconf_domain_list(f->store.db, &out), FG_OK);
	assert_int_equal(json_array_size(out), 1);
	d = json_array_get(out, 0);
	assert_true(json_is_true(json_object_get(d, "cert_names_fqdn")));
	assert_int_equal(json_array_size(json_object_get(d, "warnings")), 0);
	json_decref(out);
	/* Changing the FQDN warns about the domains whose certificate lacks it. */
	in = fx_json("{\"fqdn\":\"gw.other.test\"}");
	assert_int_equal(sipconf_settings_set(f->store.db, "admin", "cli", in, &out, &e), FG_OK);
	json_decref(in);
	assert_true(fx_has_text(json_object_get(out, "warnings"), "sip.test does not name"));
	json_decref(out);

	/* TCP with an address, its default port, a mapped XMPP domain. */
	assert_int_equal(add(f,
	                     fx_json("{\"domain\":\"tcp.test\",\"next_hop\":\"2001:db8::5\","
	                             "\"transport\":\"TCP\",\"xmpp_domain\":\"xmpp.tcp.test\","
	                             "\"bind\":\"127.0.0.1\",\"port\":\"\"}"),
	                     &e, &out),
	                 FG_OK);
	struct db_sip_domain s = stored(f->store.db, "tcp.test");
	assert_int_equal(s.next_hop_port, 5060);
	assert_string_equal(s.transport, "tcp");
	assert_string_equal(s.next_hop, "2001:db8::5");
	assert_string_equal(s.xmpp_domain, "xmpp.tcp.test");
	assert_string_equal(s.bind, "127.0.0.1");
	assert_string_equal(s.trusted_addrs, "");
	assert_true(s.created_ms > 0);
	json_decref(out);

	/* Trusted addresses, written in their usual form and shown back. */
	assert_int_equal(add(f,
	                     fx_json("{\"domain\":\"t.test\",\"next_hop\":\"edge.t.test\","
	                             "\"transport\":\"tcp\",\"trusted_addrs\":"
	                             "\" 192.0.2.7,10.0.0.0/8  2001:DB8::/32 \"}"),
	                     &e, &out),
	                 FG_OK);
	json_decref(out);
	assert_string_equal(stored(f->store.db, "t.test").trusted_addrs,
	                    "192.0.2.7, 10.0.0.0/8, 2001:db8::/32");
	assert_int_equal(sipconf_domain_list(f->store.db, &out), FG_OK);
	bool shown = false;
	size_t i;
	json_t *v;
	json_array_foreach(out, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "domain")), "t.test") == 0)
			shown = strcmp(json_string_value(json_object_get(v, "trusted_addrs")),
			               "192.0.2.7, 10.0.0.0/8, 2001:db8::/32") == 0;
	}
	assert_true(shown);
	json_decref(out);

	/* A port given stays. */
	assert_int_equal(add(f,
	                     fx_json("{\"domain\":\"p.test\",\"next_hop\":\"10.0.0.1\","
	                             "\"transport\":\"tcp\",\"port\":5080}"),
	                     &e, NULL),
	                 FG_OK);
	assert_int_equal(stored(f->store.db, "p.test").next_hop_port, 5080);
}

/* Copies tmpl with "@CA@" replaced by id and "@CA31@" by its first 31 characters. */
static void subst(char *out, size_t size, const char *tmpl, const char *id)
{
	size_t o = 0;
	while (*tmpl && o + 1 < size) {
		if (strncmp(tmpl, "@CA31@", 6) == 0 || strncmp(tmpl, "@CA@", 4) == 0) {
			bool short_id = tmpl[3] == '3';
			size_t n = short_id ? 31 : strlen(id);
			for (size_t i = 0; i < n && o + 1 < size; i++)
				out[o++] = id[i];
			tmpl += short_id ? 6 : 4;
			continue;
		}
		out[o++] = *tmpl++;
	}
	out[o] = '\0';
}

static void test_domain_refused(void **state)
{
	struct fx *f = *state;
	struct conf_err e;
	char text[512];
	static const struct {
		const char *json; /* %s = CA id */
		unsigned status;
		const char *field;
	} bad[] = {
	    {"{\"next_hop\":\"e.test\",\"ca_id\":\"@CA@\"}", 422, "domain"},
	    {"{\"domain\":\"\",\"next_hop\":\"e.test\",\"ca_id\":\"@CA@\"}", 422, "domain"},
	    {"{\"domain\":\"Sip.test\",\"next_hop\":\"e.test\",\"ca_id\":\"@CA@\"}", 422, "domain"},
	    {"{\"domain\":\"sip.test.\",\"next_hop\":\"e.test\",\"ca_id\":\"@CA@\"}", 422,
	     "domain"},
	    {"{\"domain\":\"192.0.2.1\",\"next_hop\":\"e.test\",\"ca_id\":\"@CA@\"}", 422,
	     "domain"},
	    {"{\"domain\":\"a<b>.test\",\"next_hop\":\"e.test\",\"ca_id\":\"@CA@\"}", 422,
	     "domain"},
	    {"{\"domain\":\"s.test\",\"ca_id\":\"@CA@\"}", 422, "next_hop"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"\",\"ca_id\":\"@CA@\"}", 422, "next_hop"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e_x.test\",\"ca_id\":\"@CA@\"}", 422,
	     "next_hop"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"[::1]\",\"ca_id\":\"@CA@\"}", 422, "next_hop"},
	    {"{\"domain\":\"s.test\",\"next_hop\":5,\"ca_id\":\"@CA@\"}", 422, "next_hop"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"port\":70000,\"ca_id\":\"@CA@\"}",
	     422, "port"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"port\":\"x\",\"ca_id\":\"@CA@\"}",
	     422, "port"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"port\":-1,\"ca_id\":\"@CA@\"}", 422,
	     "port"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"transport\":\"udp\",\"ca_id\":\"%"
	     "s\"}",
	     422, "transport"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"bind\":\"eth0\",\"ca_id\":\"@CA@\"}",
	     422, "bind"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"xmpp_domain\":\"X.test\","
	     "\"ca_id\":\"@CA@\"}",
	     422, "xmpp_domain"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"cert_id\":\"@CA@\"}", 422,
	     "cert_id"}, /* a CA bundle is not a leaf */
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"ca_id\":\"@CA31@0\"}", 422,
	     "ca_id"}, /* no such record (unless the last digit was 0) */
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"extra\":1,\"ca_id\":\"@CA@\"}", 422,
	     "extra"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"transport\":\"tcp\","
	     "\"trusted_addrs\":\"10.0.0.1, edge.test\"}",
	     422, "trusted_addrs"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"transport\":\"tcp\","
	     "\"trusted_addrs\":\"10.0.0.1/8\"}",
	     422, "trusted_addrs"},
	    {"{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"transport\":\"tcp\","
	     "\"trusted_addrs\":[\"10.0.0.1\"]}",
	     422, "trusted_addrs"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		subst(text, sizeof(text), bad[i].json, f->ca);
		if (strstr(bad[i].json, "@CA31@") && f->ca[31] == '0')
			continue;
		size_t before = fx_audit_count(f->store.db);
		if (add(f, fx_json("%s", text), &e, NULL) == FG_OK)
			fail_msg("%s was accepted", text);
		assert_int_equal(e.status, bad[i].status);
		if (strcmp(e.field, bad[i].field) != 0)
			fail_msg("%s: field %s, not %s (%s)", text, e.field, bad[i].field,
			         e.message);
		assert_true(e.message[0] && e.fix[0]);
		assert_int_equal(fx_audit_count(f->store.db), before);
	}
	/* TLS needs a CA bundle; the CA field must be a bundle, not a leaf. */
	assert_int_equal(
	    add(f, fx_json("{\"domain\":\"s.test\",\"next_hop\":\"e.test\"}"), &e, NULL),
	    FG_ERR_INVAL);
	assert_string_equal(e.field, "ca_id");
	assert_int_equal(
	    add(f,
	        fx_json("{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"ca_id\":\"%s\"}",
	                f->cert),
	        &e, NULL),
	    FG_ERR_INVAL);
	assert_string_equal(e.field, "ca_id");
	assert_non_null(strstr(e.message, "not a CA bundle"));
	/* Exists already; an XMPP domain mapped twice. */
	assert_int_equal(
	    add(f, fx_json("{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"transport\":\"tcp\"}"),
	        &e, NULL),
	    FG_OK);
	assert_int_equal(
	    add(f, fx_json("{\"domain\":\"s.test\",\"next_hop\":\"e.test\",\"transport\":\"tcp\"}"),
	        &e, NULL),
	    FG_ERR_EXISTS);
	assert_int_equal(e.status, 409);
	assert_int_equal(add(f,
	                     fx_json("{\"domain\":\"t.test\",\"next_hop\":\"e.test\",\"transport\":"
	                             "\"tcp\",\"xmpp_domain\":\"s.test\"}"),
	                     &e, NULL),
	                 FG_ERR_EXISTS);
	assert_string_equal(e.field, "xmpp_domain");
}

static enum fg_err xmpp_domain_fn(struct db_txn *txn, void *ctx)
{
	struct db_xmpp_domain d;
	memset(&d, 0, sizeof(d));
	fg_strlcpy(d.domain, ctx, sizeof(d.domain));
	return db_xmpp_domain_put(txn, &d);
}

static void test_domain_edit_delete(void **state)
{
	struct fx *f = *state;
	struct conf_err e;
	json_t *out = NULL, *in;
	assert_int_equal(add(f,
	                     fx_json("{\"domain\":\"sip.test\",\"next_hop\":\"edge.test\","
	                             "\"transport\":\"tcp\"}"),
	                     &e, NULL),
	                 FG_OK);
	/* Switching to TLS: the default port follows; a CA is needed. */
	in = fx_json("{\"transport\":\"tls\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_ERR_INVAL);
	json_decref(in);
	assert_string_equal(e.field, "ca_id");
	in = fx_json("{\"transport\":\"tls\",\"ca_id\":\"%s\",\"cert_id\":\"%s\",\"warnings\":[],"
	             "\"status\":null}",
	             f->ca, f->other);
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	assert_int_equal(stored(f->store.db, "sip.test").next_hop_port, 5061);
	assert_true(fx_has_text(json_object_get(out, "changed"), "\"port\""));
	json_decref(out);
	struct db_audit_entry a = fx_last_audit(f->store.db, NULL);
	assert_string_equal(a.action, "sip.domain.edit");
	assert_non_null(strstr(a.detail, "transport: tcp -> tls"));
	/* Nothing changed: no audit entry. */
	size_t before = fx_audit_count(f->store.db);
	in = fx_json("{\"next_hop\":\"edge.test\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	assert_true(fx_has_text(json_object_get(out, "message"), "Nothing changed"));
	json_decref(out);
	assert_int_equal(fx_audit_count(f->store.db), before);
	/* A custom port stays when the transport changes back. */
	in = fx_json("{\"port\":7000}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	json_decref(out);
	in = fx_json("{\"transport\":\"tcp\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	json_decref(out);
	assert_int_equal(stored(f->store.db, "sip.test").next_hop_port, 7000);
	/* Trusted addresses: audited when they change; over TLS they are not used, and the
	 * domain says so. */
	in = fx_json("{\"trusted_addrs\":\"192.0.2.0/24\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	json_decref(out);
	a = fx_last_audit(f->store.db, NULL);
	assert_non_null(strstr(a.detail, "trusted_addrs: (none) -> 192.0.2.0/24"));
	in = fx_json("{\"transport\":\"tls\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	json_decref(out);
	assert_int_equal(sipconf_domain_list(f->store.db, &out), FG_OK);
	assert_true(fx_has_text(json_object_get(json_array_get(out, 0), "warnings"),
	                        "trusted addresses of sip.test are not used"));
	json_decref(out);
	in = fx_json("{\"transport\":\"tcp\",\"trusted_addrs\":\"\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_OK);
	json_decref(in);
	json_decref(out);
	assert_string_equal(stored(f->store.db, "sip.test").trusted_addrs, "");
	/* Renaming, an unknown domain. */
	in = fx_json("{\"domain\":\"other.test\"}");
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "sip.test", in, &out, &e),
	                 FG_ERR_INVAL);
	json_decref(in);
	in = fx_json("{\"next_hop\":\"x.test\"}");
	assert_int_equal(
	    sipconf_domain_edit(f->store.db, "admin", "cli", "nope.test", in, &out, &e),
	    FG_ERR_NOTFOUND);
	assert_int_equal(e.status, 404);
	assert_int_equal(sipconf_domain_edit(f->store.db, "admin", "cli", "../x", in, &out, &e),
	                 FG_ERR_NOTFOUND);
	json_decref(in);

	/* The mapped XMPP domain is also a plain XMPP domain: stored with a warning. */
	assert_int_equal(db_write(f->store.db, xmpp_domain_fn, (void *)"sip.test"), FG_OK);
	assert_int_equal(sipconf_domain_get(f->store.db, "sip.test", &out, &e), FG_OK);
	assert_true(fx_has_text(json_object_get(out, "warnings"), "plain XMPP domains"));
	json_decref(out);

	/* The engine's status object joins the domain. */
	struct db_status st;
	memset(&st, 0, sizeof(st));
	fg_strlcpy(st.id, "sip:sip.test", sizeof(st.id));
	fg_strlcpy(st.kind, "sip-domain", sizeof(st.kind));
	fg_strlcpy(st.state, "failed", sizeof(st.state));
	fg_strlcpy(st.reason, "TCP connection refused", sizeof(st.reason));
	st.since_ms = fg_now_ms();
	fg_strlcpy(
	    st.extra,
	    "{\"dns\":\"ok\",\"tcp\":\"failed\",\"tls\":\"\",\"options\":\"\",\"messages_in\":"
	    "4,\"subscriptions\":2,\"state\":\"ignored\"}",
	    sizeof(st.extra));
	assert_int_equal(db_write(f->store.db, fx_status_put, &st), FG_OK);
	assert_int_equal(sipconf_domain_get(f->store.db, "sip.test", &out, &e), FG_OK);
	json_t *s = json_object_get(out, "status");
	assert_string_equal(json_string_value(json_object_get(s, "state")), "failed");
	assert_string_equal(json_string_value(json_object_get(s, "tcp")), "failed");
	assert_int_equal(json_integer_value(json_object_get(s, "messages_in")), 4);
	assert_int_equal(json_integer_value(json_object_get(s, "subscriptions")), 2);
	json_decref(out);

	/* Delete. */
	assert_int_equal(sipconf_domain_delete(f->store.db, "admin", "cli", "sip.test", &out, &e),
	                 FG_OK);
	assert_true(fx_has_text(json_object_get(out, "message"), "Deleted"));
	json_decref(out);
	assert_string_equal(fx_last_audit(f->store.db, NULL).action, "sip.domain.delete");
	assert_int_equal(sipconf_domain_delete(f->store.db, "admin", "cli", "sip.test", &out, &e),
	                 FG_ERR_NOTFOUND);
	assert_int_equal(sipconf_domain_get(f->store.db, "sip.test", &out, &e), FG_ERR_NOTFOUND);
	assert_int_equal(e.status, 404);
}

static void test_host_valid(void **state)
{
	(void)state;
	const char *why = NULL;
	assert_true(sipconf_host_valid("edge.example.com", &why));
	assert_true(sipconf_host_valid("192.0.2.1", &why));
	assert_true(sipconf_host_valid("2001:db8::1", &why));
	assert_false(sipconf_host_valid("[2001:db8::1]", &why));
	assert_false(sipconf_host_valid("edge.example.com:5061", &why));
	assert_false(sipconf_host_valid("", &why));
	assert_non_null(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_valid),
	    cmocka_unit_test_setup_teardown(test_settings, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_domain_add, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_domain_refused, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_domain_edit_delete, setup, fx_store_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
