/* accounts: console administrator accounts: Argon2id password hashes (RFC 9106), name and
 * password rules, and audited add / password change / delete on the store. */
#ifndef FEDGW_ACCOUNTS_H
#define FEDGW_ACCOUNTS_H

#include "base/base.h"
#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Admin names: 1-64 characters from [A-Za-z0-9._-] (safe in URLs, logs and HTML). */
#define ACCOUNTS_NAME_MAX 64
/* Passwords: at least 10 characters (UTF-8 code points). */
#define ACCOUNTS_PASSWORD_MIN_CHARS 10
/* Longer passphrases add no strength and only make an attacker's request cost us more. */
#define ACCOUNTS_PASSWORD_MAX_BYTES 1024

/* Argon2id cost (RFC 9106 §4, OWASP's second recommended profile): t=2, m=19 MiB, p=1. */
#define ACCOUNTS_ARGON2_T     2
#define ACCOUNTS_ARGON2_M_KIB 19456
#define ACCOUNTS_ARGON2_P     1
#define ACCOUNTS_SALT_BYTES   16
#define ACCOUNTS_HASH_BYTES   32

/* Name rules. On false, *why (if not NULL) gets a plain-words sentence (static string). */
bool accounts_name_check(const char *name, const char **why);
/* Password rules for the account name (the password must not equal the name). */
bool accounts_password_check(const char *name, const char *password, const char **why);

/*
 * Hashing and verification touch no store and no shared state: call them from a worker
 * thread (uv_queue_work). Each costs tens of milliseconds on purpose.
 */
/* Argon2id encoded hash ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") of password. */
enum fg_err accounts_hash(const char *password, char out[DB_HASH_MAX]);
/* True if password matches encoded. With encoded NULL or "" (no such account) it still
 * spends the same time on a dummy hash and returns false, so timing does not reveal
 * which names exist. The comparison inside libargon2 is constant time. */
bool accounts_verify(const char *encoded, const char *password);

/* Store operations. Each is one db_write that also appends an audit entry with actor and
 * source (a refused operation is audited with ok=false in a write of its own). */

/* Adds an admin with an already computed hash. only_if_none: refuse (FG_ERR_EXISTS) when
 * any admin exists (first-run setup). FG_ERR_EXISTS also when the name is taken. */
enum fg_err accounts_add(struct db *db, const char *actor, const char *source, const char *name,
                         const char *hash, bool only_if_none, int64_t now_ms);
/* Replaces an admin's hash and ends that admin's console sessions except keep_session_id
 * (NULL: end them all); *ended (may be NULL) gets how many. FG_ERR_NOTFOUND if no such. */
enum fg_err accounts_password_set(struct db *db, const char *actor, const char *source,
                                  const char *name, const char *hash, const char *keep_session_id,
                                  int64_t now_ms, size_t *ended);
/* Deletes an admin and its sessions. FG_ERR_NOTFOUND if no such admin, FG_ERR_BUSY when it
 * is the last one (the console would become unreachable). */
enum fg_err accounts_delete(struct db *db, const char *actor, const char *source, const char *name,
                            int64_t now_ms);
/* Every admin, sorted by name; free with db_admin_list_free. */
enum fg_err accounts_list(struct db *db, struct db_admin **out, size_t *count);
enum fg_err accounts_get(struct db *db, const char *name, struct db_admin *out);
enum fg_err accounts_count(struct db *db, size_t *count);
/* Records a login attempt: ok updates last_login and audits "login"; otherwise audits
 * "login.failed" with the name tried (sanitised, the name may be anything). */
enum fg_err accounts_login_record(struct db *db, const char *name, const char *source, bool ok,
                                  int64_t now_ms);

/* `fedgw init --admin-password-file F`: creates admin `name` (or sets its password when it
 * exists) from the first line of the file ("-": standard input). Warns when the file is
 * group/world readable. */
enum fg_err accounts_init_from_file(struct db *db, const char *name, const char *path);

#endif
