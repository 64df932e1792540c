/* Unit tests for core/status: object states, faults and counters, in memory and stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "db/db.h"
#include "status/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct status_fault_desc bind_fault = {
    .object = "console listener 10.0.0.5:8443",
    .condition = "Console address not available",
    .cause = "bind address 10.0.0.5:8443 is not available on this machine",
    .fix = "Choose an address this machine has",
    .detail = "EADDRNOTAVAIL",
    .severity = FG_LOG_ERR,
};

static void test_object_state_and_since(void **state)
{
	(void)state;
	status_init(NULL, 0);
	assert_null(status_state("listener:console"));
	status_set("listener:console", "listener", "console", "starting", "");
	assert_string_equal(status_state("listener:console"), "starting");
	status_set("listener:console", "listener", "console", "listening", "");
	assert_string_equal(status_state("listener:console"), "listening");
	status_remove("listener:console");
	assert_null(status_state("listener:console"));
	status_shutdown();
}

static void test_fault_raise_clear(void **state)
{
	(void)state;
	status_init(NULL, 0);
	assert_false(status_fault_active("console.bind"));
	status_fault_raise("console.bind", &bind_fault);
	status_fault_raise("console.bind", &bind_fault); /* refresh: still one */
	assert_true(status_fault_active("console.bind"));
	assert_int_equal(status_fault_active_count(), 1);
	status_fault_clear("console.bind");
	assert_false(status_fault_active("console.bind"));
	assert_int_equal(status_fault_active_count(), 0);
	status_fault_clear("console.bind"); /* no-op */
	status_shutdown();
}

static void test_fault_clear_prefix_keeps(void **state)
{
	(void)state;
	status_init(NULL, 0);
	status_fault_raise("cert.expiry.a", &bind_fault);
	status_fault_raise("cert.expiry.b", &bind_fault);
	status_fault_raise("store.full", &bind_fault);
	const char *keep[] = {"cert.expiry.b"};
	status_fault_clear_prefix("cert.expiry.", keep, 1);
	assert_false(status_fault_active("cert.expiry.a"));
	assert_true(status_fault_active("cert.expiry.b"));
	assert_true(status_fault_active("store.full"));
	status_shutdown();
}

static void test_counters(void **state)
{
	(void)state;
	status_init(NULL, 0);
	status_counter_add("console.logins", 1);
	status_counter_add("console.logins", 2);
	assert_int_equal(status_counter_get("console.logins"), 3);
	assert_int_equal(status_counter_get("unknown"), 0);
	status_shutdown();
}

static void test_persisted_to_store(void **state)
{
	(void)state;
	char dir[] = "/tmp/fedgw-status-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct db *db = NULL;
	assert_int_equal(db_open(&db, dir), FG_OK);
	status_init(db, fg_now_ms());
	status_set("listener:console", "listener", "console https 127.0.0.1:8443", "listening", "");
	status_counter_add("console.requests", 5);
	status_fault_raise("console.bind", &bind_fault);
	status_flush(fg_now_ms());

	struct db_txn *txn = NULL;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	struct db_status *objs = NULL;
	size_t n = 0;
	assert_int_equal(db_status_list(txn, &objs, &n), FG_OK);
	bool saw_listener = false, saw_counters = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(objs[i].id, "listener:console") == 0) {
			saw_listener = true;
			assert_string_equal(objs[i].state, "listening");
		}
		if (strcmp(objs[i].id, "counters") == 0) {
			saw_counters = true;
			assert_non_null(strstr(objs[i].extra, "\"console.requests\":5"));
		}
	}
	assert_true(saw_listener);
	assert_true(saw_counters);
	db_status_list_free(objs, n);
	struct db_fault f;
	assert_int_equal(db_fault_get(txn, "console.bind", &f), FG_OK);
	assert_int_equal(f.cleared_ms, 0);
	assert_string_equal(f.fix, bind_fault.fix);
	db_txn_end(txn);

	/* A restart clears the previous run's objects and marks its faults cleared. */
	status_init(db, fg_now_ms());
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_fault_get(txn, "console.bind", &f), FG_OK);
	assert_true(f.cleared_ms > 0);
	assert_int_equal(db_status_list(txn, &objs, &n), FG_OK);
	assert_int_equal(n, 0);
	db_status_list_free(objs, n);
	db_txn_end(txn);
	status_shutdown();
	db_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_object_state_and_since),
	    cmocka_unit_test(test_fault_raise_clear),
	    cmocka_unit_test(test_fault_clear_prefix_keeps),
	    cmocka_unit_test(test_counters),
	    cmocka_unit_test(test_persisted_to_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
