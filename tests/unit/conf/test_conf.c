/* Unit tests of conf on a real temporary store: the settings engine with a table of every
 * type (defaults, typed and text values, refusals in plain words, read-only and unknown
 * names, raw storage, the on/off warning, audit), record checks and deletes. */
#include "conf/conf.h"

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
	return fx_store_new(state, sizeof(struct fx_store), "conf");
}

static const char *const modes[] = {"off", "on", NULL};

static const struct conf_setting defs[] = {
    {"enabled", "t.enabled", "On/off (enabled)", CONF_BOOL, "true", 0, 0, NULL, "Use true.",
     "true|false", "the enabled"},
    {"port", "t.port", "The port (port)", CONF_UINT, "5000", 1, 65535, NULL, "Use a port.", "N",
     "the port"},
    {"mode", "t.mode", "The mode (mode)", CONF_ENUM, "off", 0, 0, modes, "Use off or on.", "off|on",
     "the mode"},
    {"name", "t.name", "The name (name)", CONF_HOST, NULL, 0, 0, NULL, "Use a name.", "NAME",
     "the name"},
    {"bind", "t.bind", "The address (bind)", CONF_ADDR, "0.0.0.0", 0, 0, NULL, "Use an IP.", "ADDR",
     "the bind"},
    {"listen", "t.listen", "The addresses (listen)", CONF_ADDRS, "::", 0, 0, NULL, "Use IPs.",
     "ADDR,...", "the listen"},
    {"dns", "t.dns", "The servers (dns)", CONF_DNS, "", 0, 0, NULL, "Use IP@port.",
     "ADDR[@PORT],...", "the dns"},
    {"zones", "t.zones", "The zones (zones)", CONF_ZONES, "", 0, 0, NULL, "Use zones.", "ZONE,...",
     "the zones"},
};

static const char *const readonly[] = {"name_default", NULL};

static struct conf_settings table(bool raw)
{
	struct conf_settings t = {.area = "test",
	                          .prefix = "t.",
	                          .action = "t.settings",
	                          .what = "test settings",
	                          .off_name = "enabled",
	                          .off_text = "Now off.",
	                          .stored_raw = raw,
	                          .defs = defs,
	                          .ndefs = sizeof(defs) / sizeof(defs[0]),
	                          .readonly = readonly};
	return t;
}

static enum fg_err set(struct fx_store *f, const struct conf_settings *t, const char *json,
                       struct conf_err *e, json_t **out)
{
	json_t *in = fx_json("%s", json), *dummy = NULL;
	memset(e, 0, sizeof(*e));
	enum fg_err err =
	    conf_settings_set(f->db, t, "admin", "192.0.2.1", in, out ? out : &dummy, e);
	json_decref(in);
	json_decref(dummy);
	return err;
}

static void test_defaults(void **state)
{
	struct fx_store *f = *state;
	struct conf_settings t = table(true);
	json_t *s = NULL;
	char host[DB_DOMAIN_MAX];
	conf_host_name(host);
	assert_int_equal(conf_settings_get(f->db, &t, &s), FG_OK);
	assert_true(json_is_true(json_object_get(s, "enabled")));
	assert_int_equal(json_integer_value(json_object_get(s, "port")), 5000);
	assert_string_equal(json_string_value(json_object_get(s, "mode")), "off");
	assert_string_equal(json_string_value(json_object_get(s, "name")), host);
	assert_true(json_is_true(json_object_get(s, "name_default")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(s, "listen"), 0)),
	                    "::");
	assert_int_equal(json_array_size(json_object_get(s, "dns")), 0);
	json_decref(s);
}

static void test_set_and_audit(void **state)
{
	struct fx_store *f = *state;
	struct conf_settings t = table(true);
	struct conf_err e;
	json_t *out = NULL;
	char host[DB_DOMAIN_MAX], want[512];
	conf_host_name(host);
	assert_int_equal(set(f, &t,
	                     "{\"t.port\": \"5001\", \"mode\": \"ON\", \"name\": \"gw.example\", "
	                     "\"listen\": \"192.0.2.1, ::1\", \"zones\": [\"test.\"], "
	                     "\"name_default\": false}",
	                     &e, &out),
	                 FG_OK);
	snprintf(want, sizeof(want),
	         "Saved 5 changes (port: 5000 -> 5001; mode: off -> on; name: %s -> gw.example; "
	         "listen: :: -> 192.0.2.1,::1; zones: (empty) -> test.); the gateway applies "
	         "them now, without a restart.",
	         host);
	assert_string_equal(json_string_value(json_object_get(out, "message")), want);
	json_t *now = json_object_get(out, "settings");
	assert_false(json_is_true(json_object_get(now, "name_default")));
	assert_int_equal(json_array_size(json_object_get(out, "changed")), 5);
	json_decref(out);
	struct db_audit_entry a = fx_last_audit(f->db, NULL);
	assert_string_equal(a.action, "t.settings");
	assert_string_equal(a.actor, "admin");

	/* The same values again change nothing and write no audit entry. */
	size_t before = fx_audit_count(f->db);
	assert_int_equal(set(f, &t, "{\"port\": 5001}", &e, &out), FG_OK);
	assert_string_equal(json_string_value(json_object_get(out, "message")),
	                    "Nothing changed: the settings already had these values.");
	json_decref(out);
	assert_int_equal(fx_audit_count(f->db), before);

	/* Raw storage: "" deletes the key and the default applies again. */
	assert_int_equal(set(f, &t, "{\"name\": \"\"}", &e, NULL), FG_OK);
	struct db_txn *txn = NULL;
	char v[64];
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	assert_int_equal(db_setting_get(txn, "t.name", v, sizeof(v)), FG_ERR_NOTFOUND);
	assert_int_equal(conf_setting_read(txn, &t, "t.name", v, sizeof(v)), FG_OK);
	assert_string_equal(v, host);
	assert_int_equal(conf_setting_uint(txn, &t, "t.port"), 5001);
	db_txn_end(txn);

	/* Turning the switch off warns once. */
	assert_int_equal(set(f, &t, "{\"enabled\": \"off\"}", &e, &out), FG_OK);
	assert_string_equal(json_string_value(json_array_get(json_object_get(out, "warnings"), 0)),
	                    "Now off.");
	json_decref(out);
}

static void test_refused(void **state)
{
	struct fx_store *f = *state;
	struct conf_settings t = table(false);
	static const struct {
		const char *json, *field, *message;
	} bad[] = {
	    {"{\"enabled\": 2}", "enabled", "On/off (enabled) must be true or false."},
	    {"{\"port\": 0}", "port", "The port (port) must be a whole number from 1 to 65535."},
	    {"{\"mode\": \"auto\"}", "mode", "The mode (mode) has no such choice."},
	    {"{\"name\": \"A.example\"}", "name",
	     "The name (name) is not a valid name: the domain name has capital letters: write "
	     "it in lowercase."},
	    {"{\"bind\": \"host\"}", "bind",
	     "The address (bind) must be one IPv4 or IPv6 address."},
	    {"{\"listen\": \"\"}", "listen",
	     "Give at least one address to listen on (0.0.0.0 means all IPv4 addresses)."},
	    {"{\"dns\": \"192.0.2.1@0\"}", "dns",
	     "The servers (dns): \"192.0.2.1@0\" is not an IP address with an optional @port."},
	    {"{\"zones\": [1]}", "zones", "The zones (zones): every item must be text."},
	    {"{\"t.nope\": 1}", "t.nope", "There is no test setting \"t.nope\"."},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf_err e;
		assert_int_equal(set(f, &t, bad[i].json, &e, NULL), FG_ERR_INVAL);
		assert_int_equal(e.status, 422);
		assert_string_equal(e.field, bad[i].field);
		assert_string_equal(e.message, bad[i].message);
	}
	struct conf_err e;
	assert_int_equal(set(f, &t, "{\"nope\": 1}", &e, NULL), FG_ERR_INVAL);
	assert_string_equal(e.fix, "Use one of: enabled, port, mode, name, bind, listen, dns, "
	                           "zones.");
	assert_int_equal(fx_audit_count(f->db), 0);
}

static enum fg_err del_setting(struct db_txn *txn, const char *domain)
{
	return db_setting_del(txn, domain);
}

static enum fg_err put_thing(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	return db_setting_put(txn, "b.test", "1");
}

static void test_records(void **state)
{
	struct fx_store *f = *state;
	struct conf_err e = {0};
	static const struct conf_record d = {
	    .del = del_setting,
	    .delete_action = "t.delete",
	    .fix = "Pick one.",
	    .invalid = "There is no such thing.",
	    .missing_before = "There is no thing ",
	    .missing_after = ".",
	    .delete_failed = "The thing could not be deleted",
	    .rename_fix = "Add another.",
	    .renamed = "A thing cannot be renamed.",
	};
	json_t *out = NULL;
	assert_int_equal(conf_record_check(FG_OK, true, "thing", "a.test", &e), FG_ERR_EXISTS);
	assert_string_equal(e.message, "The thing a.test exists already.");
	assert_int_equal(conf_record_check(FG_ERR_NOTFOUND, false, "thing", "a.test", &e),
	                 FG_ERR_NOTFOUND);
	assert_string_equal(e.message, "There is no thing a.test.");
	assert_int_equal(conf_record_check(FG_ERR_NOTFOUND, true, "thing", "a.test", &e), FG_OK);

	assert_int_equal(conf_record_delete(f->db, &d, "admin", "cli", "Not a name", &out, &e),
	                 FG_ERR_NOTFOUND);
	assert_string_equal(e.message, "There is no such thing.");
	assert_int_equal(conf_record_delete(f->db, &d, "admin", "cli", "a.test", &out, &e),
	                 FG_ERR_NOTFOUND);
	assert_string_equal(e.message, "There is no thing a.test.");
	assert_null(out);
	assert_int_equal(conf_record_edit_check(&d, "a.test", NULL, &e), FG_OK);
	assert_int_equal(conf_record_edit_check(&d, "a.test", "a.test", &e), FG_OK);
	assert_int_equal(conf_record_edit_check(&d, "a.test", "b.test", &e), FG_ERR_INVAL);
	assert_string_equal(e.message, "A thing cannot be renamed.");
	assert_int_equal(conf_record_edit_check(&d, "A..", NULL, &e), FG_ERR_NOTFOUND);
	assert_string_equal(e.fix, "Pick one.");

	assert_int_equal(db_write(f->db, put_thing, NULL), FG_OK);
	assert_int_equal(conf_record_delete(f->db, &d, "admin", "cli", "b.test", &out, &e), FG_OK);
	assert_non_null(out);
	json_decref(out);
	struct db_audit_entry a = fx_last_audit(f->db, NULL);
	assert_string_equal(a.action, "t.delete");
	assert_string_equal(a.detail, "b.test");
}

static void test_choices(void **state)
{
	(void)state;
	static const struct conf_choice c[] = {{"on", 1}, {"", 1}, {"off", 0}, {NULL, 0}};
	int v = -1;
	struct conf_err e = {0};
	char out[16];
	assert_true(conf_choice_value(c, "", &v));
	assert_int_equal(v, 1);
	assert_true(conf_choice_value(c, "off", &v));
	assert_int_equal(v, 0);
	assert_false(conf_choice_value(c, "ON", &v));
	assert_string_equal(conf_choice_name(c, 1, "x"), "on");
	assert_string_equal(conf_choice_name(c, 7, "x"), "x");
	assert_true(conf_description("lab peers", out, sizeof(out), &e));
	assert_string_equal(out, "lab peers");
	assert_false(conf_description("two\nlines", out, sizeof(out), &e));
	assert_string_equal(e.field, "description");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_set_and_audit, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_refused, setup, fx_store_free),
	    cmocka_unit_test_setup_teardown(test_records, setup, fx_store_free),
	    cmocka_unit_test(test_choices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
