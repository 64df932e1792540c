/* Unit tests for the federation engine's configuration snapshot: defaults, settings,
 * local domains, allow list, policy, and the dialback secret made once when empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s2s/s2s_internal.h"

static char dir[64];
static struct db *db;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fgw-s2s-conf.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(db_open(&db, dir), FG_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	db_close(db);
	db = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_defaults(void **state)
{
	(void)state;
	struct s2s_conf *c = NULL;
	assert_int_equal(s2s__conf_load(db, NULL, 0, &c), FG_OK);
	assert_true(c->enabled);
	assert_int_equal(c->n_binds, 1);
	assert_string_equal(c->binds[0], "0.0.0.0");
	assert_int_equal(c->port, 5269);
	assert_int_equal(c->direct_port, 0);
	/* docs/settings.md: TLS required by default */
	assert_int_equal(c->xcfg.tls_mode, XMPP_TLS_REQUIRED);
	assert_true(c->xcfg.sasl_external_in);
	assert_true(c->xcfg.sasl_external_out);
	assert_int_equal(c->queue_max, 1000);
	assert_int_equal(c->connect_timeout_ms, 10000);
	assert_int_equal(c->idle_timeout_ms, 600000);
	assert_int_equal(c->max_stanza, 524288);
	assert_true(c->default_allow);
	assert_int_equal(c->n_domains, 0);
	assert_null(c->trust);
	/* without a secret there is no dialback */
	assert_false(c->xcfg.dialback);
	s2s__conf_unref(c);
}

static enum fg_err write_config(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	const char *kv[][2] = {
	    {"xmpp.bind", "127.0.0.1, ::1"}, {"xmpp.port", "5999"},
	    {"xmpp.tls_mode", "optional"},   {"xmpp.queue_max", "7"},
	    {"xmpp.connect_timeout_s", "0"}, /* out of range: the default stays */
	    {"policy.default", "deny"},      {"xmpp.sasl_external_out", "false"},
	};
	enum fg_err err = FG_OK;
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]) && err == FG_OK; i++)
		err = db_setting_put(txn, kv[i][0], kv[i][1]);
	struct db_xmpp_domain d = {0};
	fg_strlcpy(d.domain, "a.test", sizeof(d.domain));
	if (err == FG_OK)
		err = db_xmpp_domain_put(txn, &d);
	struct db_allow_entry a = {0};
	fg_strlcpy(a.domain, "partner.test", sizeof(a.domain));
	a.tls = DB_TLS_OFF;
	if (err == FG_OK)
		err = db_allow_put(txn, &a);
	struct db_policy_rule r = {0};
	db_new_id(r.id);
	fg_strlcpy(r.pattern, "*.partner.test", sizeof(r.pattern));
	r.allow = true;
	if (err == FG_OK)
		err = db_policy_put(txn, &r);
	return err;
}

static void test_settings_and_records(void **state)
{
	(void)state;
	assert_int_equal(db_write(db, write_config, NULL), FG_OK);
	const char *extra[] = {"sip.test", "A.TEST"};
	struct s2s_conf *c = NULL;
	assert_int_equal(s2s__conf_load(db, extra, 2, &c), FG_OK);
	assert_int_equal(c->n_binds, 2);
	assert_string_equal(c->binds[1], "::1");
	assert_int_equal(c->port, 5999);
	assert_int_equal(c->xcfg.tls_mode, XMPP_TLS_OPTIONAL);
	assert_false(c->xcfg.sasl_external_out);
	assert_int_equal(c->queue_max, 7);
	assert_int_equal(c->connect_timeout_ms, 10000);
	/* configured and registered domains; a registered duplicate is not added twice */
	assert_int_equal(c->n_domains, 2);
	assert_int_equal(s2s__conf_domain(c, "A.test"), 0);
	assert_int_equal(s2s__conf_domain(c, "sip.test"), 1);
	assert_int_equal(s2s__conf_domain(c, "b.test"), -1);
	assert_null(c->creds[0]);
	assert_int_equal(c->xcfg.n_local_domains, 2);
	const struct db_allow_entry *a = s2s__conf_allow(c, "PARTNER.test");
	assert_non_null(a);
	assert_int_equal(s2s__tls_for_peer(c->xcfg.tls_mode, a), XMPP_TLS_OFF);
	assert_null(s2s__conf_allow(c, "other.test"));
	/* no certificate anywhere: nothing to present, so no SASL EXTERNAL out */
	assert_null(s2s__conf_creds_for(c, "a.test", "partner.test"));
	assert_null(s2s__conf_creds_for(c, "a.test", "other.test"));
	struct policy_verdict v;
	policy_check(c->policy, "x.partner.test", POLICY_INCOMING, &v);
	assert_true(v.allow);
	policy_check(c->policy, "other.test", POLICY_OUTGOING, &v);
	assert_false(v.allow);
	/* a connection keeps its snapshot after the engine drops it */
	struct s2s_conf *held = s2s__conf_ref(c);
	s2s__conf_unref(c);
	assert_string_equal(held->domains[0], "a.test");
	s2s__conf_unref(held);
	s2s__conf_unref(NULL);
}

static void test_secret_made_once(void **state)
{
	(void)state;
	char s1[DB_SETTING_VALUE_MAX], s2[DB_SETTING_VALUE_MAX];
	struct db_txn *txn = NULL;
	assert_int_equal(s2s__ensure_secret(db), FG_OK);
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_setting_get(txn, "xmpp.dialback_secret", s1, sizeof(s1)), FG_OK);
	db_txn_end(txn);
	assert_int_equal(strlen(s1), 64);
	uint64_t gen = db_generation(db);
	/* already set: nothing is written */
	assert_int_equal(s2s__ensure_secret(db), FG_OK);
	assert_int_equal(db_generation(db), gen);
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_setting_get(txn, "xmpp.dialback_secret", s2, sizeof(s2)), FG_OK);
	db_txn_end(txn);
	assert_string_equal(s1, s2);
	struct s2s_conf *c = NULL;
	assert_int_equal(s2s__conf_load(db, NULL, 0, &c), FG_OK);
	assert_true(c->xcfg.dialback);
	assert_int_equal(c->xcfg.dialback_secret_len, 64);
	s2s__conf_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_settings_and_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_secret_made_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
