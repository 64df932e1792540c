/* Unit tests for db events: bounded log and audit queries, faults, status, sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "db/db.h"
#include "db/db_internal.h"
#include "db_test_util.h"

#include <stdlib.h>
#include <string.h>

struct fixture {
	char dir[64];
	struct db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_non_null(tdir_make(f->dir, sizeof f->dir));
	assert_int_equal(db_open(&f->db, f->dir), FG_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->db);
	tdir_remove(f->dir);
	free(f);
	return 0;
}

/* Record i: level cycles debug..error, every third mentions "Peer", subsystem alternates. */
static enum fg_err append_logs(struct db_txn *txn, void *ctx)
{
	const int *range = ctx;
	for (int i = range[0]; i < range[1]; i++) {
		char msg[64];
		snprintf(msg, sizeof msg, "line %d%s", i, i % 3 == 0 ? " from Peer x" : "");
		enum fg_err err = db_log_append(txn, 1000 + i, (enum fg_log_level)(i % 5),
		                                i % 2 ? "xmpp" : "sip", msg);
		if (err)
			return err;
	}
	return FG_OK;
}

static void test_log_bounded_and_queried(void **state)
{
	struct fixture *f = *state;
	db__set_limits(f->db, 50, 40);
	int range[2] = {0, 30};
	assert_int_equal(db_write(f->db, append_logs, range), FG_OK);
	range[0] = 30;
	range[1] = 80;
	assert_int_equal(db_write(f->db, append_logs, range), FG_OK);
	/* The log is not configuration. */
	assert_int_equal(db_generation(f->db), 0);

	struct db_txn *txn;
	struct db_log_entry *e;
	size_t n, total;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	/* Only the newest 50 of 80 remain, newest first, sequence numbers kept. */
	assert_int_equal(db_log_query(txn, NULL, &e, &n, &total), FG_OK);
	assert_int_equal(total, 50);
	assert_int_equal(n, 50);
	assert_string_equal(e[0].msg, "line 79");
	assert_int_equal(e[0].seq, 80);
	assert_int_equal(e[0].time_ms, 1079);
	assert_int_equal(e[0].level, 79 % 5);
	assert_string_equal(e[0].subsys, "xmpp");
	assert_string_equal(e[49].msg, "line 30 from Peer x");
	db_log_list_free(e, n);

	/* Level filter, then paging: offset and limit apply to matches, total counts them. */
	struct db_log_filter lf = {.min_level = FG_LOG_WARN};
	assert_int_equal(db_log_query(txn, &lf, &e, &n, &total), FG_OK);
	assert_int_equal(total, 20); /* i % 5 in {3, 4} for i in 30..79 */
	for (size_t i = 0; i < n; i++)
		assert_true(e[i].level >= FG_LOG_WARN);
	db_log_list_free(e, n);
	lf.offset = 5;
	lf.limit = 4;
	assert_int_equal(db_log_query(txn, &lf, &e, &n, &total), FG_OK);
	assert_int_equal(total, 20);
	assert_int_equal(n, 4);
	/* warn/error lines newest first: 79 78 74 73 69 68 64 63 59 ... */
	assert_string_equal(e[0].msg, "line 68");
	assert_string_equal(e[3].msg, "line 59");
	db_log_list_free(e, n);

	/* Case-insensitive text over message and subsystem. */
	struct db_log_filter tf = {.text = "peer X"};
	assert_int_equal(db_log_query(txn, &tf, &e, &n, &total), FG_OK);
	assert_int_equal(total, 17); /* multiples of 3 in 30..79 */
	assert_string_equal(e[0].msg, "line 78 from Peer x");
	db_log_list_free(e, n);
	tf.text = "XMPP";
	assert_int_equal(db_log_query(txn, &tf, &e, &n, &total), FG_OK);
	assert_int_equal(total, 25);
	db_log_list_free(e, n);
	tf.text = "nothing like this";
	tf.offset = 3;
	assert_int_equal(db_log_query(txn, &tf, &e, &n, &total), FG_OK);
	assert_int_equal(total, 0);
	assert_int_equal(n, 0);
	db_log_list_free(e, n);
	/* Unfiltered paging. */
	struct db_log_filter page = {.offset = 10, .limit = 5};
	assert_int_equal(db_log_query(txn, &page, &e, &n, &total), FG_OK);
	assert_int_equal(total, 50);
	assert_int_equal(n, 5);
	assert_string_equal(e[0].msg, "line 69 from Peer x");
	assert_int_equal(e[4].seq, 66);
	db_log_list_free(e, n);
	/* Offset past the end. */
	struct db_log_filter past = {.offset = 500};
	assert_int_equal(db_log_query(txn, &past, &e, &n, &total), FG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(total, 50);
	db_log_list_free(e, n);
	db_txn_end(txn);
}

static enum fg_err append_bad_utf8(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	struct db_audit_entry a = {.time_ms = 1};
	snprintf(a.actor, sizeof a.actor, "m\xfcller");
	snprintf(a.action, sizeof a.action, "login.failed");
	enum fg_err err = db_audit_append(txn, &a);
	return err ? err : db_log_append(txn, 1, FG_LOG_INFO, "xmpp", "peer sent \xff\x80 bytes");
}

static void test_malformed_text_still_recorded(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, append_bad_utf8, NULL), FG_OK);
	struct db_txn *txn;
	size_t n, total;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	struct db_log_entry *e;
	assert_int_equal(db_log_query(txn, NULL, &e, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].msg, "peer sent ?? bytes");
	db_log_list_free(e, n);
	struct db_audit_entry *a;
	assert_int_equal(db_audit_query(txn, NULL, &a, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].actor, "m?ller");
	db_audit_list_free(a, n);
	db_txn_end(txn);
}

static enum fg_err append_escaped(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	static const char *const msgs[] = {"path a/b", "caf\xc3\xa9 open", "said \"hi\" back",
	                                   "tab\there", "back\\slash"};
	for (int i = 0; i < 5; i++) {
		enum fg_err err = db_log_append(txn, i, FG_LOG_INFO, "core", msgs[i]);
		if (err)
			return err;
	}
	return FG_OK;
}

static size_t log_matches(struct db *db, const char *text)
{
	struct db_txn *txn;
	struct db_log_entry *e;
	size_t n, total;
	struct db_log_filter f = {.text = text};
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_log_query(txn, &f, &e, &n, &total), FG_OK);
	db_log_list_free(e, n);
	db_txn_end(txn);
	return total;
}

/* Text search finds what JSON stored escaped, and never matches the record's own keys. */
static void test_log_text_search_escapes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, append_escaped, NULL), FG_OK);
	assert_int_equal(log_matches(f->db, "A/B"), 1);
	assert_int_equal(log_matches(f->db, "CAF\xc3\xa9"), 1);
	assert_int_equal(log_matches(f->db, "\"hi\""), 1);
	assert_int_equal(log_matches(f->db, "tab\th"), 1);
	assert_int_equal(log_matches(f->db, "k\\s"), 1);
	assert_int_equal(log_matches(f->db, "fmt"), 0);
	assert_int_equal(log_matches(f->db, "msg"), 0);
	assert_int_equal(log_matches(f->db, "CORE"), 5);
	assert_int_equal(log_matches(f->db, "time_ms"), 0);
}

static enum fg_err clear_log(struct db_txn *txn, void *ctx)
{
	return db_log_clear(txn, ctx);
}

static void test_log_clear_keeps_sequence(void **state)
{
	struct fixture *f = *state;
	int range[2] = {0, 10};
	assert_int_equal(db_write(f->db, append_logs, range), FG_OK);
	size_t removed = 0;
	assert_int_equal(db_write(f->db, clear_log, &removed), FG_OK);
	assert_int_equal(removed, 10);
	range[0] = 10;
	range[1] = 11;
	assert_int_equal(db_write(f->db, append_logs, range), FG_OK);
	struct db_txn *txn;
	struct db_log_entry *e;
	size_t n, total;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	assert_int_equal(db_log_query(txn, NULL, &e, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].seq, 11);
	db_log_list_free(e, n);
	db_txn_end(txn);
}

static enum fg_err append_audit(struct db_txn *txn, void *ctx)
{
	const int *count = ctx;
	for (int i = 0; i < *count; i++) {
		struct db_audit_entry a = {.time_ms = 5000 + i, .ok = i % 4 != 0};
		snprintf(a.actor, sizeof a.actor, "%s", i % 2 ? "Alice" : "cli:root");
		snprintf(a.source, sizeof a.source, "%s", i % 2 ? "192.0.2.1" : "cli");
		snprintf(a.action, sizeof a.action, "%s", i % 4 ? "allow.add" : "login.failed");
		snprintf(a.detail, sizeof a.detail, "entry %d", i);
		enum fg_err err = db_audit_append(txn, &a);
		if (err)
			return err;
	}
	return FG_OK;
}

static void test_audit_bounded_and_queried(void **state)
{
	struct fixture *f = *state;
	db__set_limits(f->db, 50, 40);
	int count = 60;
	assert_int_equal(db_write(f->db, append_audit, &count), FG_OK);
	struct db_txn *txn;
	struct db_audit_entry *e;
	size_t n, total;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	assert_int_equal(db_audit_query(txn, NULL, &e, &n, &total), FG_OK);
	assert_int_equal(total, 40);
	assert_string_equal(e[0].detail, "entry 59");
	assert_int_equal(e[0].seq, 60);
	assert_string_equal(e[39].detail, "entry 20");
	assert_string_equal(e[0].actor, "Alice");
	assert_true(e[0].ok);
	db_audit_list_free(e, n);

	struct db_audit_filter page = {.offset = 38, .limit = 10};
	assert_int_equal(db_audit_query(txn, &page, &e, &n, &total), FG_OK);
	assert_int_equal(total, 40);
	assert_int_equal(n, 2);
	assert_string_equal(e[1].detail, "entry 20");
	db_audit_list_free(e, n);
	struct db_audit_filter af = {.text = "alice", .limit = 3, .offset = 1};
	assert_int_equal(db_audit_query(txn, &af, &e, &n, &total), FG_OK);
	assert_int_equal(total, 20);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].detail, "entry 57");
	db_audit_list_free(e, n);
	af = (struct db_audit_filter){.text = "LOGIN.failed"};
	assert_int_equal(db_audit_query(txn, &af, &e, &n, &total), FG_OK);
	assert_int_equal(total, 10);
	assert_false(e[0].ok);
	db_audit_list_free(e, n);
	af = (struct db_audit_filter){.text = "entry 2"};
	assert_int_equal(db_audit_query(txn, &af, &e, &n, &total), FG_OK);
	assert_int_equal(total, 10); /* entry 20..29 */
	db_audit_list_free(e, n);
	db_txn_end(txn);
}

struct fault_spec {
	const char *id;
	int64_t raised;
	int64_t cleared;
};

static const struct fault_spec faults[] = {
    {"a.old.active", 100, 0},     {"b.cleared.late", 50, 900}, {"c.new.active", 300, 0},
    {"d.cleared.early", 60, 400}, {"e.mid.active", 200, 0},
};

static enum fg_err put_faults(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		struct db_fault fl = {.severity = FG_LOG_WARN,
		                      .raised_ms = faults[i].raised,
		                      .cleared_ms = faults[i].cleared};
		fg_strlcpy(fl.id, faults[i].id, sizeof fl.id);
		fg_strlcpy(fl.condition, "cond", sizeof fl.condition);
		enum fg_err err = db_fault_put(txn, &fl);
		if (err)
			return err;
	}
	return FG_OK;
}

static enum fg_err prune_faults(struct db_txn *txn, void *ctx)
{
	return db_fault_prune(txn, *(const int64_t *)ctx);
}

static void expect_fault_order(struct db *db, const char *const *ids, size_t count)
{
	struct db_txn *txn;
	struct db_fault *fl;
	size_t n;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_fault_list(txn, &fl, &n), FG_OK);
	assert_int_equal(n, count);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(fl[i].id, ids[i]);
	db_fault_list_free(fl, n);
	db_txn_end(txn);
}

static void test_fault_order_and_prune(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_faults, NULL), FG_OK);
	static const char *const all[] = {"c.new.active", "e.mid.active", "a.old.active",
	                                  "b.cleared.late", "d.cleared.early"};
	expect_fault_order(f->db, all, 5);
	int64_t before = 500;
	assert_int_equal(db_write(f->db, prune_faults, &before), FG_OK);
	static const char *const pruned[] = {"c.new.active", "e.mid.active", "a.old.active",
	                                     "b.cleared.late"};
	expect_fault_order(f->db, pruned, 4);
	before = INT64_MAX;
	assert_int_equal(db_write(f->db, prune_faults, &before), FG_OK);
	expect_fault_order(f->db, all, 3);
}

static enum fg_err put_sessions(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < 10; i++) {
		struct db_session s = {.created_ms = 10, .last_seen_ms = 100 * i};
		snprintf(s.id, sizeof s.id, "%064d", i);
		snprintf(s.admin, sizeof s.admin, "%s", i % 2 ? "alice" : "bob");
		enum fg_err err = db_session_put(txn, &s);
		if (err)
			return err;
	}
	return FG_OK;
}

static enum fg_err expire_sessions(struct db_txn *txn, void *ctx)
{
	return db_session_expire(txn, 450, ctx);
}

static enum fg_err drop_alice(struct db_txn *txn, void *ctx)
{
	return db_session_del_admin(txn, "alice", ctx);
}

static void test_session_expiry(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_sessions, NULL), FG_OK);
	size_t removed = 0;
	assert_int_equal(db_write(f->db, expire_sessions, &removed), FG_OK);
	assert_int_equal(removed, 5); /* last seen 0..400 */
	assert_int_equal(db_write(f->db, drop_alice, &removed), FG_OK);
	assert_int_equal(removed, 3); /* 5, 7, 9 */
	assert_int_equal(db_write(f->db, drop_alice, &removed), FG_OK);
	assert_int_equal(removed, 0);
	/* Sessions are not configuration. */
	assert_int_equal(db_generation(f->db), 0);
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	struct db_session s;
	char id[65];
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof id, "%064d", i);
		bool kept = i >= 5 && i % 2 == 0;
		assert_int_equal(db_session_get(txn, id, &s), kept ? FG_OK : FG_ERR_NOTFOUND);
	}
	db_txn_end(txn);
}

static enum fg_err put_status(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	static const char *const ids[] = {"listener:console", "daemon", "listener:s2s"};
	for (int i = 0; i < 3; i++) {
		struct db_status st = {.since_ms = i};
		fg_strlcpy(st.id, ids[i], sizeof st.id);
		fg_strlcpy(st.state, "running", sizeof st.state);
		enum fg_err err = db_status_put(txn, &st);
		if (err)
			return err;
	}
	return db_status_del(txn, "listener:s2s");
}

static enum fg_err clear_status(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	return db_status_clear_all(txn);
}

static void test_status_objects(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_status, NULL), FG_OK);
	struct db_txn *txn;
	struct db_status *st;
	size_t n;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	assert_int_equal(db_status_list(txn, &st, &n), FG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(st[0].id, "daemon");
	assert_string_equal(st[1].id, "listener:console");
	db_status_list_free(st, n);
	db_txn_end(txn);
	assert_int_equal(db_write(f->db, clear_status, NULL), FG_OK);
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	assert_int_equal(db_status_list(txn, &st, &n), FG_OK);
	assert_int_equal(n, 0);
	db_status_list_free(st, n);
	db_txn_end(txn);
	assert_int_equal(db_generation(f->db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_log_bounded_and_queried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_clear_keeps_sequence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_text_still_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_text_search_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_bounded_and_queried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_order_and_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_objects, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
