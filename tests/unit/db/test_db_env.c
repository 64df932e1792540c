/* Unit tests for the db environment: modes, schema versions, map growth, handles, backup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "db/db.h"
#include "db/db_internal.h"
#include "db_test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_non_null(tdir_make(f->dir, sizeof f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tdir_remove(f->dir);
	free(f);
	return 0;
}

/* Captures store log lines so tests can check what an operator would read. */
static char last_log[FG_LOG_MSG_MAX];

static void capture_sink(void *ctx, const struct fg_log_record *rec)
{
	(void)ctx;
	if (strcmp(rec->subsys, "store") == 0 && rec->level >= FG_LOG_WARN)
		fg_strlcpy(last_log, rec->msg, sizeof last_log);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_modes(void **state)
{
	struct fixture *f = *state;
	snprintf(f->path, sizeof f->path, "%s/data", f->dir);
	mode_t old = umask(0);
	struct db *db;
	enum fg_err err = db_open(&db, f->path);
	umask(old);
	assert_int_equal(err, FG_OK);
	assert_string_equal(db_dir(db), f->path);
	assert_int_equal(mode_of(f->path), 0700);
	char file[192];
	snprintf(file, sizeof file, "%s/data.mdb", f->path);
	assert_int_equal(mode_of(file), 0600);
	snprintf(file, sizeof file, "%s/lock.mdb", f->path);
	assert_int_equal(mode_of(file), 0600);
	/* Files left with looser modes are tightened on the next open. */
	db_close(db);
	assert_int_equal(chmod(file, 0644), 0);
	assert_int_equal(db_open(&db, f->path), FG_OK);
	assert_int_equal(mode_of(file), 0600);
	db_close(db);
	db_close(NULL);
	/* A data directory that is a file is refused. */
	snprintf(file, sizeof file, "%s/data.mdb", f->path);
	assert_int_equal(db_open(&db, file), FG_ERR_IO);
	assert_null(db);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	/* Only the last component is created. */
	snprintf(f->path, sizeof f->path, "%s/no/such", f->dir);
	assert_int_equal(db_open(&db, f->path), FG_ERR_IO);
	assert_null(db);
	/* LMDB's own errors come back as FG_ERR_STORE, logged with LMDB's text. */
	snprintf(f->path, sizeof f->path, "%s/data.mdb", f->dir);
	assert_int_equal(mkdir(f->path, 0700), 0);
	int sink = fg_log_add_sink(capture_sink, NULL, FG_LOG_DEBUG);
	last_log[0] = '\0';
	assert_int_equal(db_open(&db, f->dir), FG_ERR_STORE);
	fg_log_remove_sink(sink);
	assert_null(db);
	assert_non_null(strstr(last_log, "cannot open the store"));
	assert_non_null(strstr(last_log, "Is a directory"));
	assert_int_equal(db_open(&db, ""), FG_ERR_INVAL);
}

struct meta_op {
	const char *key;
	uint64_t value;
};

static enum fg_err set_meta(struct db_txn *txn, void *ctx)
{
	const struct meta_op *m = ctx;
	return db__meta_set(txn, m->key, m->value);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	assert_int_equal(db_open(&db, f->dir), FG_OK);
	struct meta_op m = {"schema", DB_SCHEMA_VERSION + 1};
	assert_int_equal(db_write(db, set_meta, &m), FG_OK);
	db_close(db);
	int sink = fg_log_add_sink(capture_sink, NULL, FG_LOG_DEBUG);
	last_log[0] = '\0';
	assert_int_equal(db_open(&db, f->dir), FG_ERR_VERSION);
	fg_log_remove_sink(sink);
	assert_null(db);
	char want[32];
	snprintf(want, sizeof want, "schema version %d", DB_SCHEMA_VERSION + 1);
	assert_non_null(strstr(last_log, want));
	assert_non_null(strstr(last_log, "refusing"));
}

/* Makes the store look like schema 1: no subscriptions database, schema counter 1. */
static enum fg_err make_schema1(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	int rc = mdb_drop(txn->txn, txn->db->dbi[DB_KIND_SUBSCRIPTION], 1);
	if (rc)
		return FG_ERR_STORE;
	return db__meta_set(txn, "schema", 1);
}

static enum fg_err put_sub(struct db_txn *txn, void *ctx)
{
	struct db_subscription s = {.state = DB_SUB_ACTIVE};
	(void)ctx;
	fg_strlcpy(s.id, "s1", sizeof s.id);
	return db_subscription_put(txn, &s);
}

static void test_migrate_1_to_2(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	assert_int_equal(db_open(&db, f->dir), FG_OK);
	assert_int_equal(db_write(db, make_schema1, NULL), FG_OK);
	db_close(db);
	/* schema 2 adds the subscriptions database; the records written before stay */
	assert_int_equal(db_open(&db, f->dir), FG_OK);
	struct db_txn *txn;
	uint64_t v = 0;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db__meta_get(txn, "schema", &v), FG_OK);
	db_txn_end(txn);
	assert_int_equal(v, 2);
	assert_int_equal(db_write(db, put_sub, NULL), FG_OK);
	struct db_subscription got;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_subscription_get(txn, "s1", &got), FG_OK);
	db_txn_end(txn);
	assert_int_equal(got.state, DB_SUB_ACTIVE);
	db_close(db);
}

static void test_schema_recorded_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	assert_int_equal(db_open(&db, f->dir), FG_OK);
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	uint64_t v;
	assert_int_equal(db__meta_get(txn, "schema", &v), FG_OK);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	db_txn_end(txn);
	db_close(db);
	/* Reopening an up-to-date store changes nothing. */
	assert_int_equal(db_open(&db, f->dir), FG_OK);
	assert_int_equal(db_generation(db), 0);
	db_close(db);
}

/* Forty 4000-byte settings per write: a 256 KiB map must grow several times. */
struct fill {
	int round;
};

static void big_value(char *buf, size_t size, int n)
{
	memset(buf, 'a' + n % 26, size - 1);
	buf[size - 1] = '\0';
	snprintf(buf, 12, "%010d", n);
	buf[10] = '-';
}

static enum fg_err fill_fn(struct db_txn *txn, void *ctx)
{
	const struct fill *fl = ctx;
	char key[32], val[4000];
	for (int i = 0; i < 40; i++) {
		int n = fl->round * 40 + i;
		snprintf(key, sizeof key, "k%d", n);
		big_value(val, sizeof val, n);
		enum fg_err err = db_setting_put(txn, key, val);
		if (err)
			return err;
	}
	return FG_OK;
}

static void test_map_grows(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	assert_int_equal(db__open_mapsize(&db, f->dir, 256 * 1024), FG_OK);
	uint64_t used, map0, map;
	assert_int_equal(db_usage(db, &used, &map0), FG_OK);
	assert_int_equal(map0, 256 * 1024);
	assert_true(used > 0 && used <= map0);
	for (int r = 0; r < 12; r++) {
		struct fill fl = {r};
		assert_int_equal(db_write(db, fill_fn, &fl), FG_OK);
	}
	assert_int_equal(db_usage(db, &used, &map), FG_OK);
	assert_true(map >= 4 * map0);
	assert_true(used > 12 * 40 * 4000);
	assert_int_equal(db_generation(db), 12);
	db_close(db);

	/* The grown size survives a reopen, and every value is intact. */
	assert_int_equal(db__open_mapsize(&db, f->dir, 0), FG_OK);
	uint64_t map2;
	assert_int_equal(db_usage(db, &used, &map2), FG_OK);
	assert_true(map2 >= map);
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	char key[32], want[4000], got[4000];
	for (int n = 0; n < 12 * 40; n++) {
		snprintf(key, sizeof key, "k%d", n);
		big_value(want, sizeof want, n);
		assert_int_equal(db_setting_get(txn, key, got, sizeof got), FG_OK);
		assert_string_equal(got, want);
	}
	db_txn_end(txn);
	db_close(db);
}

static void test_growth_waits_for_readers(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	assert_int_equal(db__open_mapsize(&db, f->dir, 256 * 1024), FG_OK);
	struct db_txn *reader;
	assert_int_equal(db_txn_begin(db, &reader), FG_OK);
	struct fill fl = {0};
	enum fg_err err = FG_OK;
	for (int r = 0; r < 4 && !err; r++) {
		fl.round = r;
		err = db_write(db, fill_fn, &fl);
	}
	assert_int_equal(err, FG_ERR_AGAIN);
	db_txn_end(reader);
	assert_int_equal(db_write(db, fill_fn, &fl), FG_OK);
	db_close(db);
}

static enum fg_err put_setting(struct db_txn *txn, void *ctx)
{
	return db_setting_put(txn, ctx, "1");
}

static void test_two_handles(void **state)
{
	struct fixture *f = *state;
	struct db *a, *b;
	assert_int_equal(db_open(&a, f->dir), FG_OK);
	assert_int_equal(db_open(&b, f->dir), FG_OK);
	assert_int_equal(db_generation(a), 0);
	assert_int_equal(db_write(a, put_setting, "from.a"), FG_OK);
	assert_int_equal(db_generation(b), 1);
	assert_int_equal(db_write(b, put_setting, "from.b"), FG_OK);
	assert_int_equal(db_generation(a), 2);
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(a, &txn), FG_OK);
	char v[8];
	assert_int_equal(db_setting_get(txn, "from.b", v, sizeof v), FG_OK);
	db_txn_end(txn);
	db_close(b);
	db_close(a);
}

/* Another handle (as another process would) grows the map past this one's size. */
static void test_map_grown_elsewhere(void **state)
{
	struct fixture *f = *state;
	struct db *a, *b;
	assert_int_equal(db__open_mapsize(&a, f->dir, 256 * 1024), FG_OK);
	assert_int_equal(db__open_mapsize(&b, f->dir, 256 * 1024), FG_OK);
	for (int r = 0; r < 8; r++) {
		struct fill fl = {r};
		assert_int_equal(db_write(b, fill_fn, &fl), FG_OK);
	}
	uint64_t used, map_a, map_b;
	assert_int_equal(db_usage(b, &used, &map_b), FG_OK);
	assert_true(map_b > 256 * 1024);
	/* The reader adopts the new size, then the writer can write past the old end. */
	assert_int_equal(db_generation(a), 8);
	assert_int_equal(db_usage(a, &used, &map_a), FG_OK);
	assert_int_equal(map_a, map_b);
	struct fill fl = {8};
	assert_int_equal(db_write(a, fill_fn, &fl), FG_OK);
	assert_int_equal(db_generation(b), 9);
	db_close(b);
	db_close(a);
}

static void test_write_adopts_grown_map(void **state)
{
	struct fixture *f = *state;
	struct db *a, *b;
	assert_int_equal(db__open_mapsize(&a, f->dir, 256 * 1024), FG_OK);
	assert_int_equal(db__open_mapsize(&b, f->dir, 256 * 1024), FG_OK);
	for (int r = 0; r < 8; r++) {
		struct fill fl = {r};
		assert_int_equal(db_write(b, fill_fn, &fl), FG_OK);
	}
	struct fill fl = {8};
	assert_int_equal(db_write(a, fill_fn, &fl), FG_OK);
	assert_int_equal(db_generation(a), 9);
	db_close(b);
	db_close(a);
}

struct reader_ctx {
	struct db *db;
	volatile bool stop;
	int reads;
	int failures;
};

static void *reader_main(void *arg)
{
	struct reader_ctx *r = arg;
	while (!r->stop) {
		struct db_txn *txn;
		enum fg_err err = db_txn_begin(r->db, &txn);
		if (err) {
			r->failures++;
			continue;
		}
		char v[4000];
		err = db_setting_get(txn, "k0", v, sizeof v);
		if (err != FG_OK && err != FG_ERR_NOTFOUND)
			r->failures++;
		db_txn_end(txn);
		r->reads++;
		usleep(200); /* a daemon thread reads now and then, not back to back */
	}
	return NULL;
}

/* Threads read while the map grows: a write that finds readers open is told to try again
 * (FG_ERR_AGAIN) and succeeds on a later attempt; no read ever fails. */
static void test_threads_read_while_growing(void **state)
{
	struct fixture *f = *state;
	struct reader_ctx r = {0};
	assert_int_equal(db__open_mapsize(&r.db, f->dir, 256 * 1024), FG_OK);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &r), 0);
	int again = 0;
	for (int round = 0; round < 8; round++) {
		struct fill fl = {round};
		enum fg_err err;
		while ((err = db_write(r.db, fill_fn, &fl)) == FG_ERR_AGAIN)
			again++;
		assert_int_equal(err, FG_OK);
	}
	r.stop = true;
	pthread_join(th, NULL);
	assert_int_equal(r.failures, 0);
	assert_true(r.reads > 0);
	assert_int_equal(db_generation(r.db), 8);
	uint64_t used, map;
	assert_int_equal(db_usage(r.db, &used, &map), FG_OK);
	assert_true(map > 256 * 1024);
	db_close(r.db);
}

/* A log sink that appends each line to the store right away (the daemon queues them, but
 * nothing may hang or recurse if one does not). */
struct store_sink {
	struct db *db;
	int stored;
	int refused;
};

struct sink_line {
	const struct fg_log_record *rec;
};

static enum fg_err sink_append(struct db_txn *txn, void *ctx)
{
	const struct fg_log_record *rec = ((struct sink_line *)ctx)->rec;
	return db_log_append(txn, rec->time_ms, rec->level, rec->subsys, rec->msg);
}

static void store_sink_cb(void *ctx, const struct fg_log_record *rec)
{
	struct store_sink *s = ctx;
	struct sink_line line = {rec};
	if (db_write(s->db, sink_append, &line) == FG_OK)
		s->stored++;
	else
		s->refused++;
}

static void test_log_sink_into_store(void **state)
{
	struct fixture *f = *state;
	struct store_sink s = {0};
	assert_int_equal(db__open_mapsize(&s.db, f->dir, 256 * 1024), FG_OK);
	int h = fg_log_add_sink(store_sink_cb, &s, FG_LOG_INFO);
	fg_log(FG_LOG_INFO, "core", "hello from outside any write");
	assert_int_equal(s.stored, 1);
	/* Growing the map logs from inside db_write: that line is refused, not deadlocked. */
	for (int r = 0; r < 4; r++) {
		struct fill fl = {r};
		assert_int_equal(db_write(s.db, fill_fn, &fl), FG_OK);
	}
	assert_true(s.refused > 0);
	fg_log_remove_sink(h);
	struct db_txn *txn;
	struct db_log_entry *e;
	size_t n, total;
	assert_int_equal(db_txn_begin(s.db, &txn), FG_OK);
	assert_int_equal(db_log_query(txn, NULL, &e, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].msg, "hello from outside any write");
	db_log_list_free(e, n);
	db_txn_end(txn);
	db_close(s.db);
}

struct nested {
	struct db *db;
	enum fg_err inner;
};

static enum fg_err nested_fn(struct db_txn *txn, void *ctx)
{
	struct nested *n = ctx;
	n->inner = db_write(n->db, put_setting, "inner");
	return db_setting_put(txn, "outer", "1");
}

static void test_nested_write_refused(void **state)
{
	struct fixture *f = *state;
	struct nested n = {0};
	assert_int_equal(db_open(&n.db, f->dir), FG_OK);
	assert_int_equal(db_write(n.db, nested_fn, &n), FG_OK);
	assert_int_equal(n.inner, FG_ERR_BUSY);
	assert_int_equal(db_generation(n.db), 1);
	db_close(n.db);
}

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct db *db;
	snprintf(f->path, sizeof f->path, "%s/live", f->dir);
	assert_int_equal(db_open(&db, f->path), FG_OK);
	assert_int_equal(db_write(db, put_setting, "kept"), FG_OK);
	char copy_dir[128], snap[192];
	snprintf(copy_dir, sizeof copy_dir, "%s/restored", f->dir);
	assert_int_equal(mkdir(copy_dir, 0700), 0);
	snprintf(snap, sizeof snap, "%s/data.mdb", copy_dir);
	assert_int_equal(db_snapshot(db, snap), FG_OK);
	assert_int_equal(mode_of(snap), 0600);
	char bad[192];
	snprintf(bad, sizeof bad, "%s/missing/data.mdb", f->dir);
	assert_int_equal(db_snapshot(db, bad), FG_ERR_IO);
	db_close(db);
	/* The snapshot is a complete store. */
	assert_int_equal(db_open(&db, copy_dir), FG_OK);
	assert_int_equal(db_generation(db), 1);
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	char v[8];
	assert_int_equal(db_setting_get(txn, "kept", v, sizeof v), FG_OK);
	db_txn_end(txn);
	db_close(db);
}

static void test_new_id(void **state)
{
	(void)state;
	char a[DB_ID_MAX], b[DB_ID_MAX];
	db_new_id(a);
	db_new_id(b);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
	assert_true(db_id_valid(a));
	assert_false(db_id_valid(""));
	assert_false(db_id_valid("0123456789ABCDEF0123456789abcdef"));
	assert_false(db_id_valid("0123456789abcdef0123456789abcde"));
	assert_false(db_id_valid("0123456789abcdef0123456789abcdef0"));
}

int main(void)
{
	if (getenv("DB_TEST_LOG"))
		fg_log_add_sink(fg_log_stderr_sink, NULL, FG_LOG_DEBUG);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_schema_recorded_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_1_to_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_grows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_growth_waits_for_readers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads_read_while_growing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_grown_elsewhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_adopts_grown_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_write_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_sink_into_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_id, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
