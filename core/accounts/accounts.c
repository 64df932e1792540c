/* accounts: admin accounts with Argon2id hashes (RFC 9106) and audited store changes. */
#include "accounts/accounts.h"

#include <argon2.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SUBSYS "console"

/* The password file holds one line; anything longer than a password cannot be one. */
#define ACCOUNTS_PASSWORD_FILE_MAX (ACCOUNTS_PASSWORD_MAX_BYTES + 2)

bool accounts_name_check(const char *name, const char **why)
{
	const char *msg = NULL;
	size_t len = name ? strlen(name) : 0;
	if (len == 0)
		msg = "The name must not be empty.";
	else if (len > ACCOUNTS_NAME_MAX)
		msg = "The name is too long: use at most 64 characters.";
	for (size_t i = 0; !msg && i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			msg = "The name may only contain letters, digits, dots, underscores and "
			      "hyphens.";
	}
	if (why)
		*why = msg;
	return msg == NULL;
}

/* Counts UTF-8 code points: every byte that is not a continuation byte starts one. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

bool accounts_password_check(const char *name, const char *password, const char **why)
{
	const char *msg = NULL;
	if (!password || utf8_chars(password) < ACCOUNTS_PASSWORD_MIN_CHARS)
		msg = "The password must be at least 10 characters long.";
	else if (strlen(password) > ACCOUNTS_PASSWORD_MAX_BYTES)
		msg = "The password is too long: use at most 1024 characters.";
	else if (name && strcasecmp(name, password) == 0)
		msg = "The password must not be the same as the account name.";
	if (why)
		*why = msg;
	return msg == NULL;
}

enum fg_err accounts_hash(const char *password, char out[DB_HASH_MAX])
{
	uint8_t salt[ACCOUNTS_SALT_BYTES];
	size_t len = strlen(password);
	if (len > ACCOUNTS_PASSWORD_MAX_BYTES)
		return FG_ERR_TOOBIG;
	fg_random(salt, sizeof(salt));
	int rc = argon2id_hash_encoded(ACCOUNTS_ARGON2_T, ACCOUNTS_ARGON2_M_KIB, ACCOUNTS_ARGON2_P,
	                               password, len, salt, sizeof(salt), ACCOUNTS_HASH_BYTES, out,
	                               DB_HASH_MAX);
	if (rc != ARGON2_OK) {
		/* Logging is thread-safe in base; the message carries no secret. */
		FG_LOGE(SUBSYS, "password hashing failed: %s", argon2_error_message(rc));
		return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? FG_ERR_NOMEM : FG_ERR_CRYPTO;
	}
	return FG_OK;
}

static char dummy_hash[DB_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_hash_init(void)
{
	uint8_t rnd[16];
	char pw[33];
	fg_random(rnd, sizeof(rnd));
	fg_hex(pw, rnd, sizeof(rnd));
	if (accounts_hash(pw, dummy_hash) != FG_OK)
		dummy_hash[0] = '\0';
}

bool accounts_verify(const char *encoded, const char *password)
{
	if (!password)
		return false;
	size_t len = strlen(password);
	if (len > ACCOUNTS_PASSWORD_MAX_BYTES)
		return false;
	if (!encoded || !*encoded) {
		/* Spend the same time as a real check so absent names cannot be told apart. */
		pthread_once(&dummy_once, dummy_hash_init);
		if (dummy_hash[0])
			(void)argon2id_verify(dummy_hash, password, len);
		return false;
	}
	return argon2id_verify(encoded, password, len) == ARGON2_OK;
}

/* ---- store operations ------------------------------------------------------------- */

static void audit_fill(struct db_audit_entry *a, const char *actor, const char *source,
                       const char *action, bool ok, int64_t now_ms)
{
	memset(a, 0, sizeof(*a));
	a->time_ms = now_ms;
	fg_strlcpy(a->actor, actor && *actor ? actor : "-", sizeof(a->actor));
	fg_strlcpy(a->source, source && *source ? source : "-", sizeof(a->source));
	fg_strlcpy(a->action, action, sizeof(a->action));
	a->ok = ok;
}

struct audit_only_ctx {
	const struct db_audit_entry *entry;
};

static enum fg_err audit_only_fn(struct db_txn *txn, void *ctx)
{
	struct audit_only_ctx *c = ctx;
	return db_audit_append(txn, c->entry);
}

/* A refused change is audited too, in its own write (the refused one was rolled back). */
static void audit_refused(struct db *db, const char *actor, const char *source, const char *action,
                          const char *detail, int64_t now_ms)
{
	struct db_audit_entry a;
	audit_fill(&a, actor, source, action, false, now_ms);
	fg_strlcpy(a.detail, detail, sizeof(a.detail));
	struct audit_only_ctx c = {&a};
	enum fg_err err = db_write(db, audit_only_fn, &c);
	if (err)
		FG_LOGW(SUBSYS, "could not write audit entry: %s", fg_strerror(err));
}

struct add_ctx {
	const char *actor, *source, *name, *hash;
	bool only_if_none;
	int64_t now_ms;
};

static enum fg_err add_fn(struct db_txn *txn, void *ctx)
{
	struct add_ctx *c = ctx;
	struct db_admin adm;
	enum fg_err err;
	if (c->only_if_none) {
		size_t n = 0;
		err = db_admin_count(txn, &n);
		if (err)
			return err;
		if (n > 0)
			return FG_ERR_EXISTS;
	}
	err = db_admin_get(txn, c->name, &adm);
	if (err == FG_OK)
		return FG_ERR_EXISTS;
	if (err != FG_ERR_NOTFOUND)
		return err;
	memset(&adm, 0, sizeof(adm));
	fg_strlcpy(adm.name, c->name, sizeof(adm.name));
	if (!fg_strlcpy(adm.hash, c->hash, sizeof(adm.hash)))
		return FG_ERR_INVAL;
	adm.created_ms = c->now_ms;
	adm.password_changed_ms = c->now_ms;
	err = db_admin_put(txn, &adm);
	if (err)
		return err;
	struct db_audit_entry a;
	audit_fill(&a, c->actor, c->source, c->only_if_none ? "admin.setup" : "admin.add", true,
	           c->now_ms);
	snprintf(a.detail, sizeof(a.detail), "admin %s added", c->name);
	return db_audit_append(txn, &a);
}

enum fg_err accounts_add(struct db *db, const char *actor, const char *source, const char *name,
                         const char *hash, bool only_if_none, int64_t now_ms)
{
	if (!accounts_name_check(name, NULL) || !hash || !*hash)
		return FG_ERR_INVAL;
	struct add_ctx c = {actor, source, name, hash, only_if_none, now_ms};
	enum fg_err err = db_write(db, add_fn, &c);
	if (err == FG_OK)
		FG_LOGN(SUBSYS, "admin %s added by %s", name, actor && *actor ? actor : "-");
	else if (err == FG_ERR_EXISTS)
		audit_refused(db, actor, source, only_if_none ? "admin.setup" : "admin.add",
		              only_if_none ? "refused: an admin account already exists"
		                           : "refused: the name is taken",
		              now_ms);
	return err;
}

struct pw_ctx {
	const char *actor, *source, *name, *hash, *keep;
	int64_t now_ms;
	size_t ended;
};

static enum fg_err pw_fn(struct db_txn *txn, void *ctx)
{
	struct pw_ctx *c = ctx;
	struct db_admin adm;
	struct db_session keep;
	bool have_keep = false;
	enum fg_err err = db_admin_get(txn, c->name, &adm);
	if (err)
		return err;
	if (!fg_strlcpy(adm.hash, c->hash, sizeof(adm.hash)))
		return FG_ERR_INVAL;
	adm.password_changed_ms = c->now_ms;
	err = db_admin_put(txn, &adm);
	if (err)
		return err;
	if (c->keep && *c->keep && db_session_get(txn, c->keep, &keep) == FG_OK &&
	    strcmp(keep.admin, c->name) == 0)
		have_keep = true;
	c->ended = 0;
	err = db_session_del_admin(txn, c->name, &c->ended);
	if (err)
		return err;
	if (have_keep) {
		/* The session making the change survives; every other one ends. */
		err = db_session_put(txn, &keep);
		if (err)
			return err;
		if (c->ended > 0)
			c->ended--;
	}
	struct db_audit_entry a;
	audit_fill(&a, c->actor, c->source, "admin.password", true, c->now_ms);
	snprintf(a.detail, sizeof(a.detail), "password of %s changed; %zu session(s) ended",
	         c->name, c->ended);
	return db_audit_append(txn, &a);
}

enum fg_err accounts_password_set(struct db *db, const char *actor, const char *source,
                                  const char *name, const char *hash, const char *keep_session_id,
                                  int64_t now_ms, size_t *ended)
{
	if (!accounts_name_check(name, NULL) || !hash || !*hash)
		return FG_ERR_INVAL;
	struct pw_ctx c = {actor, source, name, hash, keep_session_id, now_ms, 0};
	enum fg_err err = db_write(db, pw_fn, &c);
	if (err == FG_OK)
		FG_LOGN(SUBSYS, "password of admin %s changed by %s", name,
		        actor && *actor ? actor : "-");
	if (ended)
		*ended = err ? 0 : c.ended;
	return err;
}

struct del_ctx {
	const char *actor, *source, *name;
	int64_t now_ms;
};

static enum fg_err del_fn(struct db_txn *txn, void *ctx)
{
	struct del_ctx *c = ctx;
	struct db_admin adm;
	size_t n = 0, ended = 0;
	enum fg_err err = db_admin_get(txn, c->name, &adm);
	if (err)
		return err;
	err = db_admin_count(txn, &n);
	if (err)
		return err;
	if (n <= 1)
		return FG_ERR_BUSY; /* the last admin: nobody could log in afterwards */
	err = db_admin_del(txn, c->name);
	if (err)
		return err;
	err = db_session_del_admin(txn, c->name, &ended);
	if (err)
		return err;
	struct db_audit_entry a;
	audit_fill(&a, c->actor, c->source, "admin.delete", true, c->now_ms);
	snprintf(a.detail, sizeof(a.detail), "admin %s deleted", c->name);
	return db_audit_append(txn, &a);
}

enum fg_err accounts_delete(struct db *db, const char *actor, const char *source, const char *name,
                            int64_t now_ms)
{
	if (!accounts_name_check(name, NULL))
		return FG_ERR_NOTFOUND;
	struct del_ctx c = {actor, source, name, now_ms};
	enum fg_err err = db_write(db, del_fn, &c);
	if (err == FG_OK) {
		FG_LOGN(SUBSYS, "admin %s deleted by %s", name, actor && *actor ? actor : "-");
	} else if (err == FG_ERR_BUSY) {
		char detail[DB_TEXT_MAX];
		snprintf(detail, sizeof(detail), "refused to delete %s: the last admin", name);
		audit_refused(db, actor, source, "admin.delete", detail, now_ms);
	}
	return err;
}

enum fg_err accounts_list(struct db *db, struct db_admin **out, size_t *count)
{
	struct db_txn *txn = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_admin_list(txn, out, count);
	db_txn_end(txn);
	return err;
}

enum fg_err accounts_get(struct db *db, const char *name, struct db_admin *out)
{
	if (!accounts_name_check(name, NULL))
		return FG_ERR_NOTFOUND;
	struct db_txn *txn = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_admin_get(txn, name, out);
	db_txn_end(txn);
	return err;
}

enum fg_err accounts_count(struct db *db, size_t *count)
{
	struct db_txn *txn = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_admin_count(txn, count);
	db_txn_end(txn);
	return err;
}

struct login_ctx {
	const char *name, *source;
	bool ok;
	int64_t now_ms;
};

/* Copies a name an attacker typed into printable ASCII for the audit trail and the log. */
static void sanitize_name(char *out, size_t outsize, const char *in)
{
	size_t j = 0;
	for (size_t i = 0; in && in[i] && j + 1 < outsize; i++) {
		unsigned char c = (unsigned char)in[i];
		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[j] = '\0';
}

static enum fg_err login_fn(struct db_txn *txn, void *ctx)
{
	struct login_ctx *c = ctx;
	struct db_audit_entry a;
	enum fg_err err;
	if (c->ok) {
		struct db_admin adm;
		err = db_admin_get(txn, c->name, &adm);
		if (err)
			return err;
		adm.last_login_ms = c->now_ms;
		err = db_admin_put(txn, &adm);
		if (err)
			return err;
	}
	audit_fill(&a, c->ok ? c->name : "-", c->source, c->ok ? "login" : "login.failed", c->ok,
	           c->now_ms);
	char tried[DB_NAME_MAX];
	sanitize_name(tried, sizeof(tried), c->name);
	snprintf(a.detail, sizeof(a.detail), "%s %s",
	         c->ok ? "logged in as" : "name tried:", tried);
	return db_audit_append(txn, &a);
}

enum fg_err accounts_login_record(struct db *db, const char *name, const char *source, bool ok,
                                  int64_t now_ms)
{
	struct login_ctx c = {name ? name : "", source, ok, now_ms};
	char tried[DB_NAME_MAX];
	sanitize_name(tried, sizeof(tried), c.name);
	if (ok)
		FG_LOGI(SUBSYS, "admin %s logged in from %s", tried, source ? source : "-");
	else
		FG_LOGW(SUBSYS, "failed login for \"%s\" from %s", tried, source ? source : "-");
	return db_write(db, login_fn, &c);
}

enum fg_err accounts_init_from_file(struct db *db, const char *name, const char *path)
{
	enum fg_err err = FG_OK;
	char line[ACCOUNTS_PASSWORD_FILE_MAX + 1];
	char hash[DB_HASH_MAX];
	const char *why = NULL;
	struct stat st;
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *f = from_stdin ? stdin : fopen(path, "r");
	if (!f) {
		FG_LOGE(SUBSYS, "cannot open password file %s: %s", path, strerror(errno));
		return FG_ERR_IO;
	}
	if (!from_stdin && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)))
		FG_LOGW(SUBSYS, "password file %s is readable by other users; make it mode 0600",
		        path);
	if (!fgets(line, sizeof(line), f)) {
		FG_LOGE(SUBSYS, "password file %s is empty", path);
		err = FG_ERR_INVAL;
		goto out;
	}
	size_t len = strcspn(line, "\r\n");
	if (line[len] == '\0' && len > ACCOUNTS_PASSWORD_MAX_BYTES) {
		FG_LOGE(SUBSYS, "password in %s is too long", path);
		err = FG_ERR_TOOBIG;
		goto out;
	}
	line[len] = '\0';
	if (!accounts_name_check(name, &why) || !accounts_password_check(name, line, &why)) {
		FG_LOGE(SUBSYS, "cannot create admin %s: %s", name ? name : "", why);
		err = FG_ERR_INVAL;
		goto out;
	}
	err = accounts_hash(line, hash);
	if (err)
		goto out;
	struct db_admin existing;
	if (accounts_get(db, name, &existing) == FG_OK)
		err = accounts_password_set(db, "cli", "cli", name, hash, NULL, fg_now_ms(), NULL);
	else
		err = accounts_add(db, "cli", "cli", name, hash, false, fg_now_ms());
out:
	explicit_bzero(line, sizeof(line));
	explicit_bzero(hash, sizeof(hash));
	if (!from_stdin)
		fclose(f);
	return err;
}
