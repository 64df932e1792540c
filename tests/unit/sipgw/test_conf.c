/* Unit tests for the SIP gateway's configuration: "sip.*" defaults and values, SIP domains
 * with the mapped XMPP domain and the plain-words problem when TLS material is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sipgw/sipgw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	struct db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sipgw-conf-XXXXXX");
	if (mkdtemp(f->dir) == NULL || db_open(&f->db, f->dir) != FG_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];
	db_close(f->db);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static enum fg_err put_settings(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	enum fg_err err = db_setting_put(txn, "sip.fqdn", "gw.example.net");
	if (!err)
		err = db_setting_put(txn, "sip.tls_port", "15061");
	if (!err)
		err = db_setting_put(txn, "sip.enabled", "false");
	if (!err)
		err = db_setting_put(txn, "sip.max_pending", "0"); /* out of range: default */
	if (!err)
		err = db_setting_put(txn, "sip.subscription_expires_s", "600");
	return err;
}

static enum fg_err put_domains(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	struct db_sip_domain a = {.next_hop_port = 5061};
	fg_strlcpy(a.domain, "sip.example.com", sizeof(a.domain));
	fg_strlcpy(a.next_hop, "edge.example.com", sizeof(a.next_hop));
	fg_strlcpy(a.transport, "tls", sizeof(a.transport));
	fg_strlcpy(a.xmpp_domain, "XMPP.Example.com", sizeof(a.xmpp_domain));
	struct db_sip_domain b = {0};
	fg_strlcpy(b.domain, "tcp.example.com", sizeof(b.domain));
	fg_strlcpy(b.next_hop, "10.0.0.9", sizeof(b.next_hop));
	fg_strlcpy(b.transport, "tcp", sizeof(b.transport));
	enum fg_err err = db_sip_domain_put(txn, &a);
	return err ? err : db_sip_domain_put(txn, &b);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct db_txn *txn;
	struct sipgw_settings s;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	sipgw__settings_load(txn, &s);
	db_txn_end(txn);
	assert_true(s.enabled);
	assert_int_equal(s.tcp_port, 5060);
	assert_int_equal(s.tls_port, 5061);
	assert_string_equal(s.bind, "0.0.0.0");
	assert_int_equal(s.subscription_expires_s, 3600);
	assert_int_equal(s.max_pending, 1000);
	assert_true(s.fqdn[0] != '\0'); /* the host name */
}

static void test_settings(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_settings, NULL), FG_OK);
	struct db_txn *txn;
	struct sipgw_settings s;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	sipgw__settings_load(txn, &s);
	db_txn_end(txn);
	assert_false(s.enabled);
	assert_string_equal(s.fqdn, "gw.example.net");
	assert_int_equal(s.tls_port, 15061);
	assert_int_equal(s.max_pending, 1000);
	assert_int_equal(s.subscription_expires_s, 600);
}

static void test_domains(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_domains, NULL), FG_OK);
	struct sipgw_settings s;
	struct sipgw_domain_conf *d = NULL;
	size_t n = 0;
	assert_int_equal(sipgw__domains_load(f->db, &s, &d, &n), FG_OK);
	assert_int_equal(n, 2);
	const struct sipgw_domain_conf *tls =
	    strcmp(d[0].rec.domain, "sip.example.com") == 0 ? &d[0] : &d[1];
	const struct sipgw_domain_conf *tcp = tls == &d[0] ? &d[1] : &d[0];
	/* the mapped XMPP domain, lower-cased; "" means the same name */
	assert_string_equal(tls->xmpp, "xmpp.example.com");
	assert_string_equal(tcp->xmpp, "tcp.example.com");
	assert_true(sipgw__domain_tls(&tls->rec));
	assert_false(sipgw__domain_tls(&tcp->rec));
	/* TLS without a certificate says so in plain words; TCP needs none */
	assert_non_null(strstr(tls->problem, "no SIP certificate"));
	assert_null(tls->creds);
	assert_string_equal(tcp->problem, "");
	sipgw__domains_free(d, n);
	struct sipgw_domain_conf one;
	assert_int_equal(sipgw__domain_load(f->db, "TCP.example.com", &s, &one), FG_OK);
	assert_string_equal(one.rec.next_hop, "10.0.0.9");
	sipgw__domain_conf_clear(&one);
	assert_int_equal(sipgw__domain_load(f->db, "none.example.com", &s, &one), FG_ERR_NOTFOUND);
	assert_true(sipgw__is_ip_literal("10.0.0.9"));
	assert_true(sipgw__is_ip_literal("::1"));
	assert_false(sipgw__is_ip_literal("edge.example.com"));
	assert_int_equal(sipgw__default_port(true), 5061);
	assert_int_equal(sipgw__default_port(false), 5060);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
