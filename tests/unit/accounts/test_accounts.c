/* Unit tests for accounts: Argon2id hashing, name/password rules, audited store changes. */
#include "accounts/accounts.h"
#include "fake_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static int reset(void **state)
{
	fake_db_reset();
	return 0;
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
	struct db *db = fake_db_handle();
	assert_int_equal(accounts_add(db, "-", "127.0.0.1", "root", "$h1", true, 1000), FG_OK);
	assert_int_equal(fake_db.n_admins, 1);
	assert_int_equal(fake_db.admins[0].created_ms, 1000);
	assert_int_equal(fake_db.n_audit, 1);
	assert_string_equal(fake_db.audit[0].action, "admin.setup");
	assert_string_equal(fake_db.audit[0].source, "127.0.0.1");
	assert_true(fake_db.audit[0].ok);
	/* Setup again once an admin exists: refused, audited, nothing added. */
	assert_int_equal(accounts_add(db, "-", "127.0.0.1", "other", "$h2", true, 2000),
	                 FG_ERR_EXISTS);
	assert_int_equal(fake_db.n_admins, 1);
	assert_int_equal(fake_db.n_audit, 2);
	assert_false(fake_db.audit[1].ok);
	/* A normal add by an admin. */
	assert_int_equal(accounts_add(db, "root", "10.0.0.1", "bob", "$h2", false, 3000), FG_OK);
	assert_int_equal(fake_db.n_admins, 2);
	assert_string_equal(fake_db.audit[2].actor, "root");
	assert_string_equal(fake_db.audit[2].action, "admin.add");
	assert_non_null(strstr(fake_db.audit[2].detail, "bob"));
	/* Taken name and invalid name. */
	assert_int_equal(accounts_add(db, "root", "10.0.0.1", "bob", "$h3", false, 3000),
	                 FG_ERR_EXISTS);
	assert_int_equal(accounts_add(db, "root", "10.0.0.1", "b<b", "$h3", false, 3000),
	                 FG_ERR_INVAL);
	assert_int_equal(fake_db.n_admins, 2);
	size_t n = 0;
	assert_int_equal(accounts_count(db, &n), FG_OK);
	assert_int_equal(n, 2);
	struct db_admin *list = NULL;
	assert_int_equal(accounts_list(db, &list, &n), FG_OK);
	assert_int_equal(n, 2);
	db_admin_list_free(list, n);
}

static void add_session(const char *id, const char *admin)
{
	struct db_session s;
	memset(&s, 0, sizeof(s));
	fg_strlcpy(s.id, id, sizeof(s.id));
	fg_strlcpy(s.admin, admin, sizeof(s.admin));
	fake_db.sessions[fake_db.n_sessions++] = s;
}

static void test_delete_last_admin(void **state)
{
	struct db *db = fake_db_handle();
	assert_int_equal(accounts_add(db, "-", "s", "root", "$h", true, 1), FG_OK);
	assert_int_equal(accounts_add(db, "root", "s", "bob", "$h", false, 1), FG_OK);
	add_session("s-bob", "bob");
	add_session("s-root", "root");
	assert_int_equal(accounts_delete(db, "root", "s", "nobody", 2), FG_ERR_NOTFOUND);
	assert_int_equal(accounts_delete(db, "root", "s", "bob", 2), FG_OK);
	assert_int_equal(fake_db.n_admins, 1);
	assert_int_equal(fake_db.n_sessions, 1); /* bob's session ended */
	assert_string_equal(fake_db.sessions[0].admin, "root");
	size_t before = fake_db.n_audit;
	assert_string_equal(fake_db.audit[before - 1].action, "admin.delete");
	/* The last admin stays, and the refusal is audited. */
	assert_int_equal(accounts_delete(db, "root", "s", "root", 3), FG_ERR_BUSY);
	assert_int_equal(fake_db.n_admins, 1);
	assert_int_equal(fake_db.n_audit, before + 1);
	assert_false(fake_db.audit[before].ok);
	assert_string_equal(fake_db.audit[before].action, "admin.delete");
}

static void test_password_set_ends_sessions(void **state)
{
	struct db *db = fake_db_handle();
	assert_int_equal(accounts_add(db, "-", "s", "root", "$old", true, 1), FG_OK);
	add_session("a", "root");
	add_session("b", "root");
	add_session("c", "root");
	add_session("d", "other");
	size_t ended = 99;
	assert_int_equal(accounts_password_set(db, "root", "s", "root", "$new", "b", 50, &ended),
	                 FG_OK);
	assert_int_equal(ended, 2);
	assert_string_equal(fake_db.admins[0].hash, "$new");
	assert_int_equal(fake_db.admins[0].password_changed_ms, 50);
	assert_int_equal(fake_db.n_sessions, 2); /* "b" kept, "d" belongs to someone else */
	struct db_session s;
	assert_int_equal(db_session_get(NULL, "b", &s), FG_OK);
	assert_int_equal(db_session_get(NULL, "d", &s), FG_OK);
	assert_string_equal(fake_db.audit[fake_db.n_audit - 1].action, "admin.password");
	/* Without a session to keep, all of them end. */
	assert_int_equal(accounts_password_set(db, "x", "s", "root", "$n2", NULL, 60, &ended),
	                 FG_OK);
	assert_int_equal(ended, 1);
	assert_int_equal(accounts_password_set(db, "x", "s", "ghost", "$n2", NULL, 60, &ended),
	                 FG_ERR_NOTFOUND);
}

static void test_login_record(void **state)
{
	struct db *db = fake_db_handle();
	assert_int_equal(accounts_add(db, "-", "s", "root", "$h", true, 1), FG_OK);
	assert_int_equal(accounts_login_record(db, "root", "192.0.2.1", true, 77), FG_OK);
	assert_int_equal(fake_db.admins[0].last_login_ms, 77);
	struct db_audit_entry *a = &fake_db.audit[fake_db.n_audit - 1];
	assert_string_equal(a->action, "login");
	assert_string_equal(a->actor, "root");
	assert_true(a->ok);
	assert_int_equal(accounts_login_record(db, "evil\n\x01name", "192.0.2.1", false, 78),
	                 FG_OK);
	a = &fake_db.audit[fake_db.n_audit - 1];
	assert_string_equal(a->action, "login.failed");
	assert_false(a->ok);
	assert_non_null(strstr(a->detail, "evil??name"));
}

static void test_init_from_file(void **state)
{
	struct db *db = fake_db_handle();
	char path[] = "/tmp/fedgw-acc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a-long-password\nsecond line\n", 28), 28);
	close(fd);
	assert_int_equal(accounts_init_from_file(db, "admin", path), FG_OK);
	assert_int_equal(fake_db.n_admins, 1);
	assert_true(accounts_verify(fake_db.admins[0].hash, "a-long-password"));
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
	    cmocka_unit_test_setup(test_hash_verify, reset),
	    cmocka_unit_test_setup(test_hash_too_long, reset),
	    cmocka_unit_test_setup(test_name_rules, reset),
	    cmocka_unit_test_setup(test_password_rules, reset),
	    cmocka_unit_test_setup(test_add_and_audit, reset),
	    cmocka_unit_test_setup(test_delete_last_admin, reset),
	    cmocka_unit_test_setup(test_password_set_ends_sessions, reset),
	    cmocka_unit_test_setup(test_login_record, reset),
	    cmocka_unit_test_setup(test_init_from_file, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
