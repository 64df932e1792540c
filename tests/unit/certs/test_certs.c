/* Unit tests of certs: import from CSR, chains, CA bundles, roles, console, expiry. */
#include "certs/certs.h"
#include "pki/pki_internal.h"

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

#define DAY_MS (86400LL * 1000)

struct fx {
	struct fx_store store;
	int64_t now;
};

static int setup(void **state)
{
	if (fx_store_new(state, sizeof(struct fx), "certs") != 0)
		return -1;
	struct fx *f = *state;
	f->now = fg_now_ms();
	return 0;
}

/* A certificate for cn with subject_key, signed by issuer_key as issuer_cn, in PEM. */
static void make_cert_pem(struct fg_buf *pem, const char *cn, const struct pki_key *subject_key,
                          const char *issuer_cn, const struct pki_key *issuer_key, bool ca,
                          int64_t nb, int64_t na)
{
	struct pki_der d, o;
	uint8_t sig[200];
	size_t sig_len;
	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(0));
	pki_der_int(&d, 2);
	pki_der_end(&d);
	pki_der_int(&d, 99);
	pki__sig_alg(&d, issuer_key);
	const char *names[2] = {issuer_cn, cn};
	for (int i = 0; i < 2; i++) {
		if (i == 1) {
			pki_der_begin(&d, PKI_TAG_SEQUENCE);
			pki_der_time(&d, nb);
			pki_der_time(&d, na);
			pki_der_end(&d);
		}
		pki_der_begin(&d, PKI_TAG_SEQUENCE);
		pki_der_begin(&d, PKI_TAG_SET);
		pki_der_begin(&d, PKI_TAG_SEQUENCE);
		pki_der_oid(&d, PKI_OID_CN);
		pki_der_string(&d, PKI_TAG_UTF8_STRING, names[i]);
		pki_der_end(&d);
		pki_der_end(&d);
		pki_der_end(&d);
	}
	pki__spki(&d, subject_key);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(3));
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_oid(&d, PKI_OID_BASIC_CONSTRAINTS);
	if (ca)
		pki_der_octets(&d, "\x30\x03\x01\x01\xff", 5);
	else
		pki_der_octets(&d, "\x30\x00", 2);
	pki_der_end(&d);
	pki_der_end(&d);
	pki_der_end(&d);
	pki_der_end(&d);
	assert_int_equal(pki_der_finish(&d), FG_OK);
	assert_int_equal(pki__sign(issuer_key, d.buf.data, d.buf.len, sig, sizeof(sig), &sig_len),
	                 FG_OK);
	pki_der_init(&o);
	pki_der_begin(&o, PKI_TAG_SEQUENCE);
	pki_der_raw(&o, d.buf.data, d.buf.len);
	pki__sig_alg(&o, issuer_key);
	pki_der_bits(&o, sig, sig_len);
	pki_der_end(&o);
	assert_int_equal(pki_der_finish(&o), FG_OK);
	assert_int_equal(pki_pem_encode(pem, "CERTIFICATE", o.buf.data, o.buf.len), FG_OK);
	fg_buf_cstr(pem);
	pki_der_free(&d);
	pki_der_free(&o);
}

static json_t *find(json_t *list, const char *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
			return v;
	}
	return NULL;
}

static size_t count_records(struct fx *f)
{
	json_t *list = NULL;
	assert_int_equal(certs_list(f->store.db, f->now, &list), FG_OK);
	size_t n = json_array_size(list);
	json_decref(list);
	return n;
}

static bool has_string(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

static struct pki_key *stored_key(struct fx *f, const char *cert_id)
{
	struct db_txn *txn;
	struct db_cert rec;
	struct db_key k;
	struct pki_key *key = NULL;
	assert_int_equal(db_txn_begin(f->store.db, &txn), FG_OK);
	assert_int_equal(db_cert_get(txn, cert_id, &rec), FG_OK);
	assert_int_equal(db_key_get(txn, rec.key_id, &k), FG_OK);
	assert_int_equal(pki_key_from_pem(k.pem, strlen(k.pem), &key, NULL, 0), FG_OK);
	db_key_clear(&k);
	db_cert_clear(&rec);
	db_txn_end(txn);
	return key;
}

static void test_csr_then_import(void **state)
{
	struct fx *f = *state;
	char csr_id[DB_ID_MAX], leaf_id[DB_ID_MAX];
	char *err = NULL, *fix = NULL, *pem = NULL;
	const char *dns[] = {"example.com"};
	const char *xd[] = {"example.com"};
	struct certs_csr_params p = {.name = "xmpp",
	                             .cn = "xmpp.example.com",
	                             .dns = dns,
	                             .dns_count = 1,
	                             .xmpp_domains = xd,
	                             .xmpp_count = 1};
	assert_int_equal(certs_csr_create(f->store.db, "admin", "127.0.0.1", &p, csr_id, &err),
	                 FG_OK);
	assert_null(err);

	json_t *list = NULL;
	assert_int_equal(certs_list(f->store.db, f->now, &list), FG_OK);
	json_t *csr = find(list, csr_id);
	assert_non_null(csr);
	assert_string_equal(json_string_value(json_object_get(csr, "kind")), "csr");
	assert_string_equal(json_string_value(json_object_get(csr, "subject")),
	                    "CN=xmpp.example.com");
	assert_true(json_is_true(json_object_get(csr, "has_key")));
	json_t *sans = json_object_get(csr, "sans");
	assert_true(has_string(sans, "DNS:xmpp.example.com")); /* the CN is added */
	assert_true(has_string(sans, "DNS:example.com"));
	assert_true(has_string(sans, "SRV:_xmpp-server.example.com"));
	assert_string_equal(json_string_value(json_object_get(csr, "key_type")), "ec-p256");
	json_decref(list);

	assert_int_equal(certs_pem(f->store.db, csr_id, &pem), FG_OK);
	assert_non_null(strstr(pem, "BEGIN CERTIFICATE REQUEST"));
	assert_null(strstr(pem, "PRIVATE KEY"));
	free(pem);

	/* The CA signs the request's key; import without a key attaches the CSR's key. */
	struct pki_key *ca = NULL, *leaf_key = stored_key(f, csr_id);
	assert_int_equal(pki_key_generate(PKI_KEY_EC_P256, &ca), FG_OK);
	struct fg_buf leaf = {0}, root = {0}, chain = {0}, wrong = {0};
	make_cert_pem(&leaf, "xmpp.example.com", leaf_key, "Test CA", ca, false, f->now - DAY_MS,
	              f->now + 90 * DAY_MS);
	make_cert_pem(&root, "Test CA", ca, "Test CA", ca, true, f->now - DAY_MS,
	              f->now + 900 * DAY_MS);

	/* Wrong order: refused with message and fix, nothing stored. */
	fg_buf_append_str(&wrong, fg_buf_cstr(&root));
	fg_buf_append_str(&wrong, fg_buf_cstr(&leaf));
	size_t before = count_records(f);
	assert_int_equal(certs_import(f->store.db, "admin", "127.0.0.1", "", fg_buf_cstr(&wrong),
	                              NULL, f->now, leaf_id, &err, &fix),
	                 FG_ERR_INVAL);
	assert_non_null(strstr(err, "out of order"));
	assert_non_null(fix);
	free(err);
	free(fix);
	err = fix = NULL;
	assert_int_equal(count_records(f), before);

	/* A key that is not the certificate's: refused. */
	struct fg_buf ca_pem = {0};
	assert_int_equal(pki_key_to_pem(ca, &ca_pem), FG_OK);
	fg_buf_append_str(&chain, fg_buf_cstr(&leaf));
	fg_buf_append_str(&chain, fg_buf_cstr(&root));
	assert_int_equal(certs_import(f->store.db, "admin", "127.0.0.1", "", fg_buf_cstr(&chain),
	                              fg_buf_cstr(&ca_pem), f->now, leaf_id, &err, &fix),
	                 FG_ERR_INVAL);
	assert_non_null(strstr(err, "does not belong"));
	free(err);
	free(fix);
	err = fix = NULL;

	assert_int_equal(certs_import(f->store.db, "admin", "127.0.0.1", "", fg_buf_cstr(&chain),
	                              NULL, f->now, leaf_id, &err, &fix),
	                 FG_OK);
	assert_int_equal(count_records(f), before); /* CSR replaced by the certificate */
	json_t *shown = NULL;
	assert_int_equal(certs_show(f->store.db, csr_id, f->now, &shown), FG_ERR_NOTFOUND);
	assert_int_equal(certs_show(f->store.db, leaf_id, f->now, &shown), FG_OK);
	assert_string_equal(json_string_value(json_object_get(shown, "kind")), "certificate");
	assert_string_equal(json_string_value(json_object_get(shown, "name")), "xmpp.example.com");
	assert_string_equal(json_string_value(json_object_get(shown, "issuer")), "CN=Test CA");
	assert_true(json_is_true(json_object_get(shown, "has_key")));
	assert_int_equal(json_integer_value(json_object_get(shown, "chain_length")), 2);
	assert_int_equal(json_integer_value(json_object_get(shown, "days_left")), 89);
	assert_int_equal(json_array_size(json_object_get(shown, "chain")), 2);
	assert_true(json_is_true(json_object_get(json_object_get(shown, "chain_check"), "ok")));
	json_decref(shown);

	/* The key moved with it: the TLS front can load the credentials. */
	struct certs_creds cr;
	assert_int_equal(certs_load_creds(f->store.db, leaf_id, &cr), FG_OK);
	assert_int_equal(cr.chain_len, 2);
	assert_int_equal(cr.key_type, BR_KEYTYPE_EC);
	assert_memory_equal(cr.ec.x, leaf_key->ec.x, leaf_key->ec.xlen);
	assert_int_equal(cr.not_after_ms / 1000, (f->now + 90 * DAY_MS) / 1000);
	certs_creds_free(&cr);
	certs_creds_free(NULL);

	pki_key_free(ca);
	pki_key_free(leaf_key);
	fg_buf_free(&leaf);
	fg_buf_free(&root);
	fg_buf_free(&chain);
	fg_buf_free(&wrong);
	pki_buf_wipe(&ca_pem);
}

static void test_import_with_key_and_ca_bundle(void **state)
{
	struct fx *f = *state;
	char id[DB_ID_MAX];
	char *err = NULL, *fix = NULL;
	struct pki_key *ca = NULL, *k = NULL;
	struct fg_buf leaf = {0}, root = {0}, kpem = {0}, both = {0};
	assert_int_equal(pki_key_generate(PKI_KEY_EC_P256, &ca), FG_OK);
	assert_int_equal(pki_key_generate(PKI_KEY_EC_P384, &k), FG_OK);
	make_cert_pem(&leaf, "sip.example.com", k, "Root", ca, false, f->now - DAY_MS,
	              f->now + 10 * DAY_MS);
	make_cert_pem(&root, "Root", ca, "Root", ca, true, f->now - DAY_MS, f->now + 10 * DAY_MS);
	assert_int_equal(pki_key_to_pem(k, &kpem), FG_OK);
	/* Key in the same text as the certificate. */
	fg_buf_append_str(&both, fg_buf_cstr(&leaf));
	fg_buf_append_str(&both, fg_buf_cstr(&kpem));
	assert_int_equal(certs_import(f->store.db, "admin", "cli", "sip", fg_buf_cstr(&both), NULL,
	                              f->now, id, &err, &fix),
	                 FG_OK);
	struct certs_creds cr;
	assert_int_equal(certs_load_creds(f->store.db, id, &cr), FG_OK);
	assert_int_equal(cr.chain_len, 1);
	certs_creds_free(&cr);

	/* A key given for a request made here: the request goes, its key is reused. */
	char csr[DB_ID_MAX], id3[DB_ID_MAX];
	struct certs_csr_params cp = {.cn = "req.example.com"};
	assert_int_equal(certs_csr_create(f->store.db, "admin", "cli", &cp, csr, &err), FG_OK);
	struct pki_key *rk = stored_key(f, csr);
	struct fg_buf rleaf = {0}, rkpem = {0};
	make_cert_pem(&rleaf, "req.example.com", rk, "Root", ca, false, f->now - DAY_MS,
	              f->now + 10 * DAY_MS);
	assert_int_equal(pki_key_to_pem(rk, &rkpem), FG_OK);
	size_t before = count_records(f);
	assert_int_equal(certs_import(f->store.db, "admin", "cli", "", fg_buf_cstr(&rleaf),
	                              fg_buf_cstr(&rkpem), f->now, id3, &err, &fix),
	                 FG_OK);
	assert_int_equal(count_records(f), before);
	json_t *shown = NULL;
	assert_int_equal(certs_show(f->store.db, csr, f->now, &shown), FG_ERR_NOTFOUND);
	assert_int_equal(certs_load_creds(f->store.db, id3, &cr), FG_OK);
	certs_creds_free(&cr);
	pki_key_free(rk);
	fg_buf_free(&rleaf);
	pki_buf_wipe(&rkpem);

	/* A CA bundle refuses a leaf and names it. */
	struct fg_buf bundle = {0};
	fg_buf_append_str(&bundle, fg_buf_cstr(&root));
	fg_buf_append_str(&bundle, fg_buf_cstr(&leaf));
	assert_int_equal(
	    certs_import_ca(f->store.db, "admin", "cli", "CAs", fg_buf_cstr(&bundle), id, &err),
	    FG_ERR_INVAL);
	assert_non_null(strstr(err, "certificate 2 (CN=sip.example.com) is not a CA certificate"));
	free(err);
	err = NULL;
	assert_int_equal(
	    certs_import_ca(f->store.db, "admin", "cli", "CAs", fg_buf_cstr(&root), id, &err),
	    FG_OK);
	json_t *o = NULL;
	assert_int_equal(certs_show(f->store.db, id, f->now, &o), FG_OK);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "ca_bundle");
	assert_false(json_is_true(json_object_get(o, "has_key")));
	json_decref(o);
	/* A bundle has no key: it cannot serve TLS. */
	assert_int_equal(certs_load_creds(f->store.db, id, &cr), FG_ERR_INVAL);
	/* Garbage is refused with the PEM reason. */
	assert_int_equal(
	    certs_import(f->store.db, "admin", "cli", "x", "hello", NULL, f->now, id, &err, &fix),
	    FG_ERR_PARSE);
	assert_non_null(strstr(err, "no PEM block"));
	free(err);
	free(fix);
	pki_key_free(ca);
	pki_key_free(k);
	fg_buf_free(&leaf);
	fg_buf_free(&root);
	pki_buf_wipe(&kpem);
	pki_buf_wipe(&both);
	fg_buf_free(&bundle);
}

struct put_domain {
	const char *domain, *cert_id;
};

static enum fg_err put_domain_fn(struct db_txn *txn, void *ctx)
{
	struct put_domain *p = ctx;
	struct db_xmpp_domain d;
	memset(&d, 0, sizeof(d));
	fg_strlcpy(d.domain, p->domain, sizeof(d.domain));
	fg_strlcpy(d.cert_id, p->cert_id, sizeof(d.cert_id));
	return db_xmpp_domain_put(txn, &d);
}

static void test_roles_delete_console(void **state)
{
	struct fx *f = *state;
	char id[DB_ID_MAX], csr[DB_ID_MAX], cur[DB_ID_MAX];
	char *err = NULL;
	struct certs_csr_params p = {.cn = "gw.example.net"};
	assert_int_equal(certs_selfsigned_create(f->store.db, "admin", "::1", &p, f->now, id, &err),
	                 FG_OK);
	assert_int_equal(certs_csr_create(f->store.db, "admin", "::1", &p, csr, &err), FG_OK);

	/* The console refuses a CSR, then takes the certificate. */
	assert_int_equal(certs_console_set(f->store.db, "admin", "::1", csr, f->now, &err),
	                 FG_ERR_INVAL);
	assert_non_null(strstr(err, "certificate request"));
	free(err);
	err = NULL;
	assert_int_equal(certs_console_set(f->store.db, "admin", "::1", id, f->now, &err), FG_OK);
	struct put_domain pd = {"example.net", id};
	assert_int_equal(db_write(f->store.db, put_domain_fn, &pd), FG_OK);

	json_t *o = NULL;
	assert_int_equal(certs_show(f->store.db, id, f->now, &o), FG_OK);
	json_t *roles = json_object_get(o, "roles");
	assert_int_equal(json_array_size(roles), 2);
	assert_true(has_string(roles, "console"));
	assert_true(has_string(roles, "xmpp:example.net"));
	assert_true(json_is_true(json_object_get(o, "self_signed")));
	json_decref(o);

	assert_int_equal(certs_delete(f->store.db, "admin", "::1", id, &err), FG_ERR_BUSY);
	assert_string_equal(err, "used by the console; choose another console certificate first");
	free(err);
	err = NULL;

	/* The refusal is in the audit trail. */
	struct db_txn *txn;
	struct db_audit_entry *ae = NULL;
	size_t n = 0, total = 0;
	struct db_audit_filter af = {.text = "cert.delete"};
	assert_int_equal(db_txn_begin(f->store.db, &txn), FG_OK);
	assert_int_equal(db_audit_query(txn, &af, &ae, &n, &total), FG_OK);
	assert_true(n >= 1);
	assert_false(ae[0].ok);
	assert_string_equal(ae[0].actor, "admin");
	db_audit_list_free(ae, n);
	db_txn_end(txn);

	/* Another certificate for the console: then the XMPP domain still holds it. */
	char id2[DB_ID_MAX];
	assert_int_equal(
	    certs_selfsigned_create(f->store.db, "admin", "::1", &p, f->now, id2, &err), FG_OK);
	assert_int_equal(certs_console_set(f->store.db, "admin", "::1", id2, f->now, &err), FG_OK);
	assert_int_equal(certs_delete(f->store.db, "admin", "::1", id, &err), FG_ERR_BUSY);
	assert_non_null(strstr(err, "XMPP domain example.net"));
	free(err);
	err = NULL;
	pd.cert_id = "";
	assert_int_equal(db_write(f->store.db, put_domain_fn, &pd), FG_OK);
	assert_int_equal(certs_delete(f->store.db, "admin", "::1", id, &err), FG_OK);
	assert_int_equal(certs_delete(f->store.db, "admin", "::1", id, &err), FG_ERR_NOTFOUND);
	free(err);
	err = NULL;
	assert_int_equal(certs_delete(f->store.db, "admin", "::1", csr, &err), FG_OK);

	/* Names are checked before anything is generated. */
	const char *bad_dns[] = {"bad name"};
	struct certs_csr_params bp = {.cn = "x.example", .dns = bad_dns, .dns_count = 1};
	assert_int_equal(certs_csr_create(f->store.db, "admin", "::1", &bp, csr, &err),
	                 FG_ERR_INVAL);
	assert_string_equal(err, "\"bad name\" is not a valid DNS name");
	free(err);
	err = NULL;
	bp.dns_count = 0;
	bp.key_type = "dsa-1024";
	assert_int_equal(certs_csr_create(f->store.db, "admin", "::1", &bp, csr, &err),
	                 FG_ERR_INVAL);
	assert_non_null(strstr(err, "unknown key type"));
	free(err);
	err = NULL;

	/* console_ensure keeps a valid setting. */
	assert_int_equal(certs_console_ensure(f->store.db, "gw", NULL, 0, f->now), FG_OK);
	assert_int_equal(db_txn_begin(f->store.db, &txn), FG_OK);
	assert_int_equal(db_setting_get(txn, "console.cert", cur, sizeof(cur)), FG_OK);
	db_txn_end(txn);
	assert_string_equal(cur, id2);

	/* An expired certificate is refused for the console. */
	char old[DB_ID_MAX];
	p.days = 1;
	assert_int_equal(certs_selfsigned_create(f->store.db, "admin", "::1", &p,
	                                         f->now - 10 * DAY_MS, old, &err),
	                 FG_OK);
	assert_int_equal(certs_console_set(f->store.db, "admin", "::1", old, f->now, &err),
	                 FG_ERR_INVAL);
	assert_non_null(strstr(err, "expired on"));
	free(err);
}

struct expiry_seen {
	int calls;
	char roles[128];
	int64_t days_left;
};

static void expiry_cb(void *ctx, const struct certs_expiry *e)
{
	struct expiry_seen *s = ctx;
	s->calls++;
	fg_strlcpy(s->roles, e->roles, sizeof(s->roles));
	s->days_left = e->days_left;
}

static void test_console_ensure_and_expiry(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"192.0.2.7", "fe80::1", "not-an-ip"};
	int64_t made = f->now - 820 * DAY_MS;
	assert_int_equal(certs_console_ensure(f->store.db, "appliance.lan", addrs, 3, made), FG_OK);
	assert_int_equal(count_records(f), 1);
	assert_int_equal(certs_console_ensure(f->store.db, "appliance.lan", addrs, 3, made), FG_OK);
	assert_int_equal(count_records(f), 1); /* idempotent */

	json_t *list = NULL;
	assert_int_equal(certs_list(f->store.db, f->now, &list), FG_OK);
	json_t *c = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(c, "name")), "console (self-signed)");
	json_t *sans = json_object_get(c, "sans");
	assert_true(has_string(sans, "DNS:appliance.lan"));
	assert_true(has_string(sans, "DNS:localhost"));
	assert_true(has_string(sans, "IP:192.0.2.7"));
	assert_true(has_string(sans, "IP:fe80::1"));
	assert_int_equal(json_array_size(sans), 4);
	assert_true(has_string(json_object_get(c, "roles"), "console"));
	assert_int_equal(json_integer_value(json_object_get(c, "days_left")), 4);
	char id[DB_ID_MAX];
	fg_strlcpy(id, json_string_value(json_object_get(c, "id")), sizeof(id));
	json_decref(list);

	struct expiry_seen seen = {0};
	assert_int_equal(certs_expiring(f->store.db, f->now, 3 * DAY_MS, expiry_cb, &seen), FG_OK);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(certs_expiring(f->store.db, f->now, 30 * DAY_MS, expiry_cb, &seen), FG_OK);
	assert_int_equal(seen.calls, 1);
	assert_string_equal(seen.roles, "console");
	assert_int_equal(seen.days_left, 4);

	/* Unused certificates do not raise expiry faults. */
	char other[DB_ID_MAX];
	char *err = NULL;
	struct certs_csr_params p = {.cn = "unused.example", .days = 2};
	assert_int_equal(
	    certs_selfsigned_create(f->store.db, "admin", "::1", &p, f->now, other, &err), FG_OK);
	seen.calls = 0;
	assert_int_equal(certs_expiring(f->store.db, f->now, 30 * DAY_MS, expiry_cb, &seen), FG_OK);
	assert_int_equal(seen.calls, 1);

	/* Pointing the setting at a missing record makes ensure create a new one. */
	assert_int_equal(certs_console_set(f->store.db, "admin", "::1", other, f->now, &err),
	                 FG_OK);
	assert_int_equal(certs_delete(f->store.db, "admin", "::1", id, &err), FG_OK);
	struct certs_creds cr;
	assert_int_equal(certs_load_creds(f->store.db, id, &cr), FG_ERR_NOTFOUND);
	assert_int_equal(certs_load_creds(f->store.db, other, &cr), FG_OK);
	certs_creds_free(&cr);
}

/* A key made beforehand (as the console does for RSA on its thread pool) is the one stored,
 * whatever key_type the parameters name; bad parameters are refused before any key. */
static void test_create_with_key(void **state)
{
	struct fx *f = *state;
	char csr_id[DB_ID_MAX], self_id[DB_ID_MAX];
	char *err = NULL;
	struct pki_key *key = NULL;
	struct fg_buf want = {0}, got = {0};
	enum pki_key_type kt = PKI_KEY__COUNT;
	struct certs_csr_params p = {.cn = "gw.example.com", .key_type = "rsa-3072"};
	assert_int_equal(certs_csr_params_check(&p, &kt, &err), FG_OK);
	assert_int_equal(kt, PKI_KEY_RSA_3072);
	assert_int_equal(pki_key_generate(PKI_KEY_EC_P384, &key), FG_OK);
	assert_int_equal(
	    certs_csr_create_with_key(f->store.db, "admin", "::1", &p, key, csr_id, &err), FG_OK);
	assert_null(err);
	struct pki_key *stored = stored_key(f, csr_id);
	assert_int_equal(pki_key_to_pem(key, &want), FG_OK);
	assert_int_equal(pki_key_to_pem(stored, &got), FG_OK);
	assert_string_equal(fg_buf_cstr(&want), fg_buf_cstr(&got));
	assert_string_equal(stored->type_name, "ec-p384");
	pki_key_free(stored);
	assert_int_equal(certs_selfsigned_create_with_key(f->store.db, "admin", "::1", &p, key,
	                                                  f->now, self_id, &err),
	                 FG_OK);
	json_t *obj = NULL;
	assert_int_equal(certs_show(f->store.db, self_id, f->now, &obj), FG_OK);
	assert_string_equal(json_string_value(json_object_get(obj, "kind")), "certificate");
	json_decref(obj);
	assert_int_equal(
	    certs_csr_create_with_key(f->store.db, "admin", "::1", &p, NULL, csr_id, &err),
	    FG_ERR_INVAL);
	struct certs_csr_params bad = {.cn = "", .key_type = "rsa-3072"};
	assert_int_equal(certs_csr_params_check(&bad, NULL, &err), FG_ERR_INVAL);
	assert_non_null(err);
	free(err);
	pki_buf_wipe(&want);
	pki_buf_wipe(&got);
	pki_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_csr_then_import, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_import_with_key_and_ca_bundle, setup,
	                                    fx_store_free),
	    cmocka_unit_test_setup_teardown(test_roles_delete_console, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_console_ensure_and_expiry, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_create_with_key, setup, fx_store_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
