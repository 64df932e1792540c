/* Unit tests for accounts: Argon2id hashing, name/password rules, audited store changes
 * (against a real store in a temporary directory). */
#include "accounts/accounts.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* A fresh store per test, removed after it. */
static char store_dir[64];
static struct db *store;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	snprintf(store_dir, sizeof(store_dir), "/tmp/fedgw-acc-db-XXXXXX");
	if (!mkdtemp(store_dir))
		return -1;
	return db_open(&store, store_dir) == FG_OK ? 0 : -1;
}

static int teardown(void **state)
{
	db_close(store);
	store = NULL;
	return nftw(store_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static size_t admin_count(void)
{
	size_t n = 0;
	assert_int_equal(accounts_count(store, &n), FG_OK);
	return n;
}

static struct db_admin admin_get(const char *name)
{
	struct db_admin a;
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(store, &txn), FG_OK);
	assert_int_equal(db_admin_get(txn, name, &a), FG_OK);
	db_txn_end(txn);
	return a;
}

static bool session_exists(const char *id)
{
	struct db_session s;
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(store, &txn), FG_OK);
	enum fg_err err = db_session_get(txn, id, &s);
	db_txn_end(txn);
	assert_true(err == FG_OK || err == FG_ERR_NOTFOUND);
	return err == FG_OK;
}

static size_t audit_count(void)
{
	struct db_audit_entry *e = NULL;
	struct db_audit_filter f = {0};
	struct db_txn *txn;
	size_t n = 0, total = 0;
	assert_int_equal(db_txn_begin(store, &txn), FG_OK);
	assert_int_equal(db_audit_query(txn, &f, &e, &n, &total), FG_OK);
	db_txn_end(txn);
	db_audit_list_free(e, n);
	return total;
}

/* The i-th audit entry, oldest first. */
static struct db_audit_entry audit_at(size_t i)
{
	struct db_audit_entry *e = NULL, out;
	struct db_audit_filter f = {0};
	struct db_txn *txn;
	size_t n = 0, total = 0;
	assert_int_equal(db_txn_begin(store, &txn), FG_OK);
	assert_int_equal(db_audit_query(txn, &f, &e, &n, &total), FG_OK);
	db_txn_end(txn);
	assert_true(i < n);
	out = e[n - 1 - i]; /* the query answers newest first */
	db_audit_list_free(e, n);
	return out;
}

static struct db_audit_entry audit_last(void)
{
	return audit_at(audit_count() - 1);
}

static void test_hash_verify(void **state)
{
	char h[DB_HASH_MAX];
	assert_int_equal(accounts_hash("correct horse battery", h), FG_OK);
	assert_non_null(strstr(h, "$argon2id$v=19$m=19456,t=2,p=1$"));
	assert_true(accounts_verify(h, "correct horse battery"));
	assert_false(accounts_verify(h, "correct horse batterY"));
	assert_false(accounts_verify(h, ""));
	/* Salted: the same password hashes differently. */
	char h2[DB_HASH_MAX];
	assert_int_equal(accounts_hash("correct horse battery", h2), FG_OK);
	assert_string_not_equal(h, h2);
	/* No account: a dummy check that always fails. */
	assert_false(accounts_verify(NULL, "correct horse battery"));
	assert_false(accounts_verify("", "correct horse battery"));
	assert_false(accounts_verify("$argon2id$garbage", "correct horse battery"));
}

static void test_hash_too_long(void **state)
{
	char *pw = malloc(ACCOUNTS_PASSWORD_MAX_BYTES + 2);
	memset(pw, 'a', ACCOUNTS_PASSWORD_MAX_BYTES + 1);
	pw[ACCOUNTS_PASSWORD_MAX_BYTES + 1] = '\0';
	char h[DB_HASH_MAX];
	assert_int_equal(accounts_hash(pw, h), FG_ERR_TOOBIG);
	assert_false(accounts_verify("$argon2id$x", pw));
	free(pw);
}

static void test_name_rules(void **state)
{
	const char *why = NULL;
	assert_true(accounts_name_check("admin", &why));
	assert_null(why);
	assert_true(accounts_name_check("A.b_c-9", NULL));
	assert_false(accounts_name_check("", &why));
	assert_non_null(why);
	assert_false(accounts_name_check(NULL, &why));
	assert_false(accounts_name_check("<script>", &why));
	assert_non_null(strstr(why, "letters"));
	assert_false(accounts_name_check("a b", NULL));
	assert_false(accounts_name_check("../etc", NULL));
	assert_false(accounts_name_check("caf\xc3\xa9", NULL));
	char n[70];
	memset(n, 'x', 64);
	n[64] = '\0';
	assert_true(accounts_name_check(n, NULL));
	n[64] = 'x';
	n[65] = '\0';
	assert_false(accounts_name_check(n, &why));
	assert_non_null(strstr(why, "64"));
}

static void test_password_rules(void **state)
{
	const char *why = NULL;
	assert_true(accounts_password_check("admin", "0123456789", &why));
	assert_null(why);
	assert_false(accounts_password_check("admin", "012345678", &why));
	assert_non_null(strstr(why, "at least 10"));
	assert_false(accounts_password_check("administrator", "Administrator", &why));
	assert_non_null(strstr(why, "same as the account name"));
	/* Ten characters in UTF-8, more bytes: accepted; nine two-byte ones: refused. */
	assert_true(accounts_password_check("a",
	                                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	                                    NULL));
	assert_false(accounts_password_check("a",
	                                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	                                     NULL));
	assert_false(accounts_password_check("a", NULL, &why));
	char *pw = malloc(ACCOUNTS_PASSWORD_MAX_BYTES + 2);
	memset(pw, 'a', ACCOUNTS_PASSWORD_MAX_BYTES + 1);
	pw[ACCOUNTS_PASSWORD_MAX_BYTES + 1] = '\0';
	assert_false(accounts_password_check("a", pw, &why));
	assert_non_null(strstr(why, "too long"));
	free(pw);
}

static void test_add_and_audit(void **state)
{
	struct db *db = store;
	assert_int_equal(accounts_add(db, "-", "127.0.0.1", "root", "$h1", true, 1000), FG_OK);
	assert_int_equal(admin_count(), 1);
	assert_int_equal(admin_get("root").created_ms, 1000);
	assert_int_equal(audit_count(), 1);
	assert_string_equal(audit_at(0).action, "admin.setup");
	assert_string_equal(audit_at(0).source, "127.0.0.1");
	assert_true(audit_at(0).ok);
	/* Setup again once an admin exists: refused, audited, nothing added. */
	assert_int_equal(accounts_add(db, "-", "127.0.0.1", "other", "$h2", true, 2000),
	                 FG_ERR_EXISTS);
	assert_int_equal(admin_count(), 1);
	assert_int_equal(audit_count(), 2);
	assert_false(audit_at(1).ok);
	/* A normal add by an admin. */
	assert_int_equal(accounts_add(db, "root", "10.0.0.1", "bob", "$h2", false, 3000), FG_OK);
	assert_int_equal(admin_count(), 2);
	assert_string_equal(audit_at(2).actor, "root");
	assert_string_equal(audit_at(2).action, "admin.add");
	assert_non_null(strstr(audit_at(2).detail, "bob"));
	/* Taken name and invalid name. */
	assert_int_equal(accounts_add(db, "root", "10.0.0.1", "bob", "$h3", false, 3000),
	                 FG_ERR_EXISTS);
	assert_int_equal(accounts_add(db, "root", "10.0.0.1", "b<b", "$h3", false, 3000),
	                 FG_ERR_INVAL);
	assert_int_equal(admin_count(), 2);
	size_t n = 0;
	assert_int_equal(accounts_count(db, &n), FG_OK);
	assert_int_equal(n, 2);
	struct db_admin *list = NULL;
	assert_int_equal(accounts_list(db, &list, &n), FG_OK);
	assert_int_equal(n, 2);
	db_admin_list_free(list, n);
}

static enum fg_err session_put_fn(struct db_txn *txn, void *ctx)
{
	return db_session_put(txn, ctx);
}

static void add_session(const char *id, const char *admin)
{
	struct db_session s;
	memset(&s, 0, sizeof(s));
	fg_strlcpy(s.id, id, sizeof(s.id));
	fg_strlcpy(s.admin, admin, sizeof(s.admin));
	assert_int_equal(db_write(store, session_put_fn, &s), FG_OK);
}

static void test_delete_last_admin(void **state)
{
	struct db *db = store;
	assert_int_equal(accounts_add(db, "-", "s", "root", "$h", true, 1), FG_OK);
	assert_int_equal(accounts_add(db, "root", "s", "bob", "$h", false, 1), FG_OK);
	add_session("s-bob", "bob");
	add_session("s-root", "root");
	assert_int_equal(accounts_delete(db, "root", "s", "nobody", 2), FG_ERR_NOTFOUND);
	assert_int_equal(accounts_delete(db, "root", "s", "bob", 2), FG_OK);
	assert_int_equal(admin_count(), 1);
	assert_false(session_exists("s-bob")); /* bob's session ended */
	assert_true(session_exists("s-root"));
	size_t before = audit_count();
	assert_string_equal(audit_at(before - 1).action, "admin.delete");
	/* The last admin stays, and the refusal is audited. */
	assert_int_equal(accounts_delete(db, "root", "s", "root", 3), FG_ERR_BUSY);
	assert_int_equal(admin_count(), 1);
	assert_int_equal(audit_count(), before + 1);
	assert_false(audit_at(before).ok);
	assert_string_equal(audit_at(before).action, "admin.delete");
}

static void test_password_set_ends_sessions(void **state)
{
	struct db *db = store;
	assert_int_equal(accounts_add(db, "-", "s", "root", "$old", true, 1), FG_OK);
	add_session("a", "root");
	add_session("b", "root");
	add_session("c", "root");
	add_session("d", "other");
	size_t ended = 99;
	assert_int_equal(accounts_password_set(db, "root", "s", "root", "$new", "b", 50, &ended),
	                 FG_OK);
	assert_int_equal(ended, 2);
	assert_string_equal(admin_get("root").hash, "$new");
	assert_int_equal(admin_get("root").password_changed_ms, 50);
	/* "b" kept, "d" belongs to someone else */
	assert_false(session_exists("a"));
	assert_true(session_exists("b"));
	assert_false(session_exists("c"));
	assert_true(session_exists("d"));
	assert_string_equal(audit_last().action, "admin.password");
	/* Without a session to keep, all of them end. */
	assert_int_equal(accounts_password_set(db, "x", "s", "root", "$n2", NULL, 60, &ended),
	                 FG_OK);
	assert_int_equal(ended, 1);
	assert_int_equal(accounts_password_set(db, "x", "s", "ghost", "$n2", NULL, 60, &ended),
	                 FG_ERR_NOTFOUND);
}

static void test_login_record(void **state)
{
	struct db *db = store;
	assert_int_equal(accounts_add(db, "-", "s", "root", "$h", true, 1), FG_OK);
	assert_int_equal(accounts_login_record(db, "root", "192.0.2.1", true, 77), FG_OK);
	assert_int_equal(admin_get("root").last_login_ms, 77);
	struct db_audit_entry last = audit_last();
	struct db_audit_entry *a = &last;
	assert_string_equal(a->action, "login");
	assert_string_equal(a->actor, "root");
	assert_true(a->ok);
	assert_int_equal(accounts_login_record(db, "evil\n\x01name", "192.0.2.1", false, 78),
	                 FG_OK);
	last = audit_last();
	assert_string_equal(a->action, "login.failed");
	assert_false(a->ok);
	assert_non_null(strstr(a->detail, "evil??name"));
}

static void test_init_from_file(void **state)
{
	struct db *db = store;
	char path[] = "/tmp/fedgw-acc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a-long-password\nsecond line\n", 28), 28);
	close(fd);
	assert_int_equal(accounts_init_from_file(db, "admin", path), FG_OK);
	assert_int_equal(admin_count(), 1);
	assert_true(accounts_verify(admin_get("admin").hash, "a-long-password"));
	/* Again: the password is replaced, not a second account. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "short\n", 6), 6);
	close(fd);
	assert_int_equal(accounts_init_from_file(db, "admin", path), FG_ERR_INVAL);
	assert_int_equal(accounts_init_from_file(db, "admin", "/nonexistent/x"), FG_ERR_IO);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hash_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_name_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_and_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_last_admin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password_set_ends_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_login_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_from_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
