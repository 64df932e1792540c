/* Unit tests for backup (Argon2id + ChaCha20-Poly1305 files) and db_restore, on real stores. */
#include "backup/backup_internal.h"
#include "db/db_internal.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define PASS "correct horse battery staple"

/* Cheap Argon2id parameters keep the tests fast; one test uses the real ones. */
#define T_COST 1
#define M_KIB  64
#define LANES  1

struct fixture {
	char dir_a[64], dir_b[64], files[64];
	struct db *a, *b;
};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir_a, sizeof f->dir_a, "/tmp/fgbk-a-XXXXXX");
	snprintf(f->dir_b, sizeof f->dir_b, "/tmp/fgbk-b-XXXXXX");
	snprintf(f->files, sizeof f->files, "/tmp/fgbk-f-XXXXXX");
	if (!mkdtemp(f->dir_a) || !mkdtemp(f->dir_b) || !mkdtemp(f->files))
		return -1;
	if (db_open(&f->a, f->dir_a) || db_open(&f->b, f->dir_b))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->a);
	db_close(f->b);
	nftw(f->dir_a, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	nftw(f->dir_b, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	nftw(f->files, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\nMIGHsecret\n-----END PRIVATE KEY-----\n";

/* Store A: settings, a certificate with its key, an admin, an allow entry, a session. */
static enum fg_err fill_a(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	enum fg_err err;
	if ((err = db_setting_put(txn, "console.port", "9443")) ||
	    (err = db_setting_put(txn, "xmpp.domain", "chat.example.com")))
		return err;
	struct db_key k = {.id = "k1", .type = "ec-p256", .pem = (char *)key_pem, .created_ms = 5};
	struct db_cert c = {.id = "c1",
	                    .name = "leaf",
	                    .kind = DB_CERT_LEAF,
	                    .key_id = "k1",
	                    .pem = (char *)cert_pem,
	                    .created_ms = 6};
	if ((err = db_key_put(txn, &k)) || (err = db_cert_put(txn, &c)))
		return err;
	struct db_admin adm = {.name = "root",
	                       .hash = "$argon2id$v=19$m=19456,t=2,p=1$abc$def",
	                       .created_ms = 7,
	                       .password_changed_ms = 8,
	                       .last_login_ms = 9};
	if ((err = db_admin_put(txn, &adm)))
		return err;
	struct db_allow_entry al = {.domain = "Partner.Example",
	                            .server = "xmpp.partner.example",
	                            .port = 5269,
	                            .auth = DB_AUTH_SASL_EXTERNAL,
	                            .tls = DB_TLS_REQUIRED,
	                            .description = "partner",
	                            .created_ms = 10};
	if ((err = db_allow_put(txn, &al)))
		return err;
	struct db_session s = {.id = "sessA", .admin = "root", .csrf = "x", .source = "1.2.3.4"};
	if ((err = db_session_put(txn, &s)))
		return err;
	return db_log_append(txn, 11, FG_LOG_NOTICE, "core", "store A");
}

/* Store B: other content that a restore must replace. */
static enum fg_err fill_b(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	enum fg_err err;
	if ((err = db_setting_put(txn, "console.port", "1111")) ||
	    (err = db_setting_put(txn, "only.in.b", "yes")))
		return err;
	struct db_admin adm = {.name = "other", .hash = "$x", .created_ms = 1};
	if ((err = db_admin_put(txn, &adm)))
		return err;
	struct db_session s = {.id = "sessB", .admin = "other", .csrf = "y", .source = "::1"};
	if ((err = db_session_put(txn, &s)))
		return err;
	for (int i = 0; i < 5; i++)
		if ((err = db_log_append(txn, 100 + i, FG_LOG_INFO, "core", "store B")))
			return err;
	return FG_OK;
}

static void make_backup(struct fixture *f, struct fg_buf *file)
{
	struct fg_buf snap = {0};
	assert_int_equal(db_write(f->a, fill_a, NULL), FG_OK);
	assert_int_equal(backup_snapshot_mem(f->a, &snap), FG_OK);
	assert_true(snap.len > 0);
	assert_int_equal(backup__seal_with(snap.data, snap.len, PASS, T_COST, M_KIB, LANES, file),
	                 FG_OK);
	assert_int_equal(file->len, BACKUP_HEADER_LEN + snap.len + BACKUP_TAG_LEN);
	assert_memory_equal(file->data, BACKUP_MAGIC, BACKUP_MAGIC_LEN);
	fg_buf_free(&snap);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	assert_int_equal(backup_file_write(path, data, len), FG_OK);
}

static void check_a_contents(struct db *db)
{
	struct db_txn *txn;
	char val[DB_SETTING_VALUE_MAX];
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_setting_get(txn, "console.port", val, sizeof val), FG_OK);
	assert_string_equal(val, "9443");
	assert_int_equal(db_setting_get(txn, "xmpp.domain", val, sizeof val), FG_OK);
	assert_string_equal(val, "chat.example.com");
	assert_int_equal(db_setting_get(txn, "only.in.b", val, sizeof val), FG_ERR_NOTFOUND);
	struct db_cert c;
	assert_int_equal(db_cert_get(txn, "c1", &c), FG_OK);
	assert_string_equal(c.pem, cert_pem);
	assert_string_equal(c.key_id, "k1");
	assert_int_equal(c.created_ms, 6);
	db_cert_clear(&c);
	struct db_key k;
	assert_int_equal(db_key_get(txn, "k1", &k), FG_OK);
	assert_string_equal(k.pem, key_pem);
	assert_string_equal(k.type, "ec-p256");
	db_key_clear(&k);
	struct db_admin adm;
	assert_int_equal(db_admin_get(txn, "root", &adm), FG_OK);
	assert_string_equal(adm.hash, "$argon2id$v=19$m=19456,t=2,p=1$abc$def");
	assert_int_equal(adm.last_login_ms, 9);
	assert_int_equal(db_admin_get(txn, "other", &adm), FG_ERR_NOTFOUND);
	struct db_allow_entry al;
	assert_int_equal(db_allow_get(txn, "partner.example", &al), FG_OK);
	assert_string_equal(al.domain, "Partner.Example");
	assert_string_equal(al.server, "xmpp.partner.example");
	assert_int_equal(al.port, 5269);
	assert_int_equal(al.auth, DB_AUTH_SASL_EXTERNAL);
	assert_int_equal(al.tls, DB_TLS_REQUIRED);
	struct db_session s;
	/* Every session ends: the restored one and the live one. */
	assert_int_equal(db_session_get(txn, "sessA", &s), FG_ERR_NOTFOUND);
	assert_int_equal(db_session_get(txn, "sessB", &s), FG_ERR_NOTFOUND);
	db_txn_end(txn);
}

/* Raw record bytes of one key: a restore copies them unchanged. */
static char *raw_record(struct db *db, enum db_kind kind, const char *key)
{
	struct db_txn *txn;
	char *json = NULL;
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db__raw_get(txn, kind, key, strlen(key), &json), FG_OK);
	db_txn_end(txn);
	return json;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct fg_buf file = {0};
	char path[128];
	size_t records = 0;
	make_backup(f, &file);
	snprintf(path, sizeof path, "%s/a.fgbk", f->files);
	write_file(path, file.data, file.len);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	uint64_t gen_before = db_generation(f->b);
	assert_int_equal(backup_restore(f->b, path, PASS, "cli:test", "cli", &records), FG_OK);
	/* 2 settings, cert, key, admin, allow entry, 1 log line, and A's audit (none). */
	assert_int_equal(records, 7);
	assert_true(db_generation(f->b) > gen_before);
	check_a_contents(f->b);

	/* Byte-exact: the stored records are the same bytes on both sides. */
	const char *keys[][2] = {{"k1", "keys"}, {"c1", "certs"}, {"root", "admins"}};
	enum db_kind kinds[] = {DB_KIND_KEY, DB_KIND_CERT, DB_KIND_ADMIN};
	for (size_t i = 0; i < 3; i++) {
		char *ra = raw_record(f->a, kinds[i], keys[i][0]);
		char *rb = raw_record(f->b, kinds[i], keys[i][0]);
		assert_string_equal(ra, rb);
		free(ra);
		free(rb);
	}

	/* The log is A's, and the restore itself is in the audit trail. */
	struct db_txn *txn;
	struct db_log_entry *log = NULL;
	struct db_audit_entry *audit = NULL;
	size_t n, total;
	struct db_log_filter lf = {.min_level = FG_LOG_DEBUG};
	struct db_audit_filter af = {0};
	assert_int_equal(db_txn_begin(f->b, &txn), FG_OK);
	assert_int_equal(db_log_query(txn, &lf, &log, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(log[0].msg, "store A");
	assert_int_equal(db_audit_query(txn, &af, &audit, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(audit[0].action, "backup.restore");
	assert_true(audit[0].ok);
	assert_string_equal(audit[0].actor, "cli:test");
	db_log_list_free(log, 1);
	db_audit_list_free(audit, 1);
	db_txn_end(txn);

	/* Log sequence numbers never go back: a new line sorts after the restored ones. */
	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	assert_int_equal(db_txn_begin(f->b, &txn), FG_OK);
	assert_int_equal(db_log_query(txn, &lf, &log, &n, &total), FG_OK);
	assert_int_equal(n, 6);
	assert_string_equal(log[5].msg, "store A");
	assert_true(log[0].seq > log[5].seq);
	db_log_list_free(log, n);
	db_txn_end(txn);
	fg_buf_free(&file);
}

/* The real parameters (Argon2id t=3, 64 MiB) through the file functions, once. */
static void test_write_restore_files(void **state)
{
	struct fixture *f = *state;
	char path[128], snap[128];
	snprintf(path, sizeof path, "%s/real.fgbk", f->files);
	snprintf(snap, sizeof snap, "%s/snap.mdb", f->files);
	assert_int_equal(db_write(f->a, fill_a, NULL), FG_OK);
	assert_int_equal(backup_write(f->a, path, "short", "root", "cli"), FG_ERR_INVAL);
	assert_int_equal(backup_write(f->a, path, PASS, "root", "127.0.0.1"), FG_OK);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(backup_read_to_snapshot(path, PASS, snap), FG_OK);
	assert_int_equal(stat(snap, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	size_t records = 0;
	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	assert_int_equal(db_restore(f->b, snap, &records), FG_OK);
	check_a_contents(f->b);
	/* The creation was audited in A (after its snapshot was taken). */
	struct db_txn *txn;
	struct db_audit_entry *audit = NULL;
	size_t n, total;
	struct db_audit_filter af = {.text = "backup.create"};
	assert_int_equal(db_txn_begin(f->a, &txn), FG_OK);
	assert_int_equal(db_audit_query(txn, &af, &audit, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_true(audit[0].ok);
	db_audit_list_free(audit, n);
	db_txn_end(txn);
}

static void test_wrong_passphrase(void **state)
{
	struct fixture *f = *state;
	struct fg_buf file = {0}, snap = {0};
	char path[128];
	make_backup(f, &file);
	assert_int_equal(backup_open(file.data, file.len, PASS "x", &snap), FG_ERR_AUTH);
	assert_int_equal(snap.len, 0);
	assert_string_equal(backup_error_text(FG_ERR_AUTH),
	                    "wrong passphrase, or the file is damaged");
	snprintf(path, sizeof path, "%s/a.fgbk", f->files);
	write_file(path, file.data, file.len);
	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	uint64_t gen = db_generation(f->b);
	assert_int_equal(backup_restore(f->b, path, "not the passphrase", "root", "::1", NULL),
	                 FG_ERR_AUTH);
	assert_int_equal(db_generation(f->b), gen);
	/* Nothing replaced; the refusal is audited. */
	struct db_txn *txn;
	char val[64];
	struct db_audit_entry *audit = NULL;
	size_t n, total;
	struct db_audit_filter af = {0};
	assert_int_equal(db_txn_begin(f->b, &txn), FG_OK);
	assert_int_equal(db_setting_get(txn, "only.in.b", val, sizeof val), FG_OK);
	assert_int_equal(db_audit_query(txn, &af, &audit, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(audit[0].action, "backup.restore");
	assert_false(audit[0].ok);
	assert_null(strstr(audit[0].detail, "not the passphrase"));
	db_audit_list_free(audit, n);
	db_txn_end(txn);
	fg_buf_free(&snap);
	fg_buf_free(&file);
}

static void flip_and_check(const struct fg_buf *file, size_t pos)
{
	struct fg_buf snap = {0};
	file->data[pos] ^= 0xff;
	enum fg_err err = backup_open(file->data, file->len, PASS, &snap);
	file->data[pos] ^= 0xff;
	/* Bytes 8-9 are the format version: flipped, it reads as a newer one. */
	if (pos == 8 || pos == 9)
		assert_int_equal(err, FG_ERR_VERSION);
	else if (err != FG_ERR_AUTH)
		fail_msg("flipping byte %zu gave %s", pos, fg_strerror(err));
	assert_int_equal(snap.len, 0);
	fg_buf_free(&snap);
}

static void test_flipped_byte(void **state)
{
	struct fixture *f = *state;
	struct fg_buf file = {0}, snap = {0};
	make_backup(f, &file);
	/* Every header byte, every tag byte, and a spread of ciphertext bytes. */
	for (size_t i = 0; i < BACKUP_HEADER_LEN; i++)
		flip_and_check(&file, i);
	for (size_t i = BACKUP_HEADER_LEN; i < file.len - BACKUP_TAG_LEN; i += 997)
		flip_and_check(&file, i);
	flip_and_check(&file, file.len - BACKUP_TAG_LEN - 1);
	for (size_t i = file.len - BACKUP_TAG_LEN; i < file.len; i++)
		flip_and_check(&file, i);
	/* Unmodified, it still opens. */
	assert_int_equal(backup_open(file.data, file.len, PASS, &snap), FG_OK);
	fg_buf_free(&snap);
	fg_buf_free(&file);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct fg_buf file = {0}, snap = {0};
	make_backup(f, &file);
	size_t cuts[] = {0, 1, 8, 59, 60, 61, 75, 76, file.len / 2, file.len - 16, file.len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		assert_int_equal(backup_open(file.data, cuts[i], PASS, &snap), FG_ERR_AUTH);
		assert_int_equal(snap.len, 0);
	}
	/* One byte too many is damage too. */
	fg_buf_append(&file, "", 1);
	assert_int_equal(backup_open(file.data, file.len, PASS, &snap), FG_ERR_AUTH);
	/* Not a backup at all. */
	static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	                          "................................................\n";
	assert_int_equal(backup_open((const uint8_t *)pem, sizeof pem - 1, PASS, &snap),
	                 FG_ERR_AUTH);
	fg_buf_free(&snap);
	fg_buf_free(&file);
}

static void test_newer_format(void **state)
{
	struct fixture *f = *state;
	struct fg_buf file = {0}, snap = {0};
	make_backup(f, &file);
	file.data[9] = BACKUP_FORMAT_VERSION + 1;
	assert_int_equal(backup_open(file.data, file.len, PASS, &snap), FG_ERR_VERSION);
	fg_buf_free(&file);
	fg_buf_free(&snap);
}

static enum fg_err bump_schema(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	return db__meta_set(txn, "schema", DB_SCHEMA_VERSION + 1);
}

/* A snapshot of a newer store schema is refused and nothing changes. */
static void test_newer_schema(void **state)
{
	struct fixture *f = *state;
	char snap[128];
	snprintf(snap, sizeof snap, "%s/newer.mdb", f->files);
	assert_int_equal(db_write(f->a, fill_a, NULL), FG_OK);
	assert_int_equal(db_write(f->a, bump_schema, NULL), FG_OK);
	assert_int_equal(db_snapshot(f->a, snap), FG_OK);
	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	uint64_t gen = db_generation(f->b);
	assert_int_equal(db_restore(f->b, snap, NULL), FG_ERR_VERSION);
	assert_int_equal(db_generation(f->b), gen);
	/* Not a store at all. */
	write_file(snap, (const uint8_t *)"garbage garbage garbage", 23);
	assert_int_not_equal(db_restore(f->b, snap, NULL), FG_OK);
	assert_int_equal(db_generation(f->b), gen);
}

/* Makes store A look like one written by schema 1 (before the subscriptions kind). */
static enum fg_err to_schema_1(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	int rc = mdb_drop(txn->txn, txn->db->dbi[DB_KIND_SUBSCRIPTION], 1);
	if (rc)
		return db__mdb_fail(txn, rc, "dropping subscriptions");
	return db__meta_set(txn, "schema", 1);
}

static enum fg_err put_subscription(struct db_txn *txn, void *ctx)
{
	struct db_subscription s = {.id = "sub1",
	                            .sip_domain = "sip.example",
	                            .watcher = "sip:a@sip.example",
	                            .presentity = "b@x.example"};
	(void)ctx;
	return db_subscription_put(txn, &s);
}

/* A schema-1 snapshot restores into the current schema: the kinds it lacks are ones a
 * restore leaves alone, and the live store keeps them. */
static void test_older_schema(void **state)
{
	struct fixture *f = *state;
	char snap[128];
	size_t records = 0;
	snprintf(snap, sizeof snap, "%s/v1.mdb", f->files);
	assert_int_equal(db_write(f->a, fill_a, NULL), FG_OK);
	assert_int_equal(db_write(f->a, to_schema_1, NULL), FG_OK);
	assert_int_equal(db_snapshot(f->a, snap), FG_OK);
	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	assert_int_equal(db_write(f->b, put_subscription, NULL), FG_OK);
	assert_int_equal(db_restore(f->b, snap, &records), FG_OK);
	assert_int_equal(records, 7);
	check_a_contents(f->b);
	struct db_txn *txn;
	struct db_subscription s;
	assert_int_equal(db_txn_begin(f->b, &txn), FG_OK);
	assert_int_equal(db_subscription_get(txn, "sub1", &s), FG_OK);
	db_txn_end(txn);
}

/* A second handle on the restored store (like the daemon while the CLI restores) sees the
 * new generation and the restored configuration. */
static void test_other_handle_sees_generation(void **state)
{
	struct fixture *f = *state;
	struct fg_buf file = {0}, snap = {0};
	struct db *daemon = NULL;
	make_backup(f, &file);
	assert_int_equal(db_write(f->b, fill_b, NULL), FG_OK);
	assert_int_equal(db_open(&daemon, f->dir_b), FG_OK);
	uint64_t gen = db_generation(daemon);
	assert_int_equal(backup_open(file.data, file.len, PASS, &snap), FG_OK);
	size_t records = 0;
	assert_int_equal(
	    backup_restore_snapshot(f->b, snap.data, snap.len, "root", "::1", &records), FG_OK);
	assert_int_equal(records, 7);
	assert_true(db_generation(daemon) > gen);
	check_a_contents(daemon);
	db_close(daemon);
	fg_buf_free(&snap);
	fg_buf_free(&file);
}

static void test_passphrase_rules(void **state)
{
	(void)state;
	const char *why = NULL;
	assert_true(backup_passphrase_check("twelve chars", &why));
	assert_null(why);
	assert_false(backup_passphrase_check("eleven char", &why));
	assert_non_null(strstr(why, "12"));
	assert_false(backup_passphrase_check(NULL, NULL));
	/* Characters, not bytes: 11 two-byte letters are too short, 12 are enough. */
	assert_false(backup_passphrase_check("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	                                     NULL));
	assert_true(backup_passphrase_check("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	                                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
	                                    NULL));
	char *big = malloc(BACKUP_PASSPHRASE_MAX_BYTES + 2);
	memset(big, 'a', BACKUP_PASSPHRASE_MAX_BYTES + 1);
	big[BACKUP_PASSPHRASE_MAX_BYTES + 1] = '\0';
	assert_false(backup_passphrase_check(big, &why));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_restore_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_passphrase, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flipped_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_older_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_handle_sees_generation, setup, teardown),
	    cmocka_unit_test(test_passphrase_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
