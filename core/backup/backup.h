/* backup: the whole store as one passphrase-protected file (Argon2id, RFC 9106; ChaCha20-
 * Poly1305, RFC 8439), and restoring it. */
#ifndef FEDGW_BACKUP_H
#define FEDGW_BACKUP_H

#include "base/base.h"
#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * File format (all integers big-endian), the header being the AEAD's additional data:
 *   magic "FEDGWBK1" (8) | format version u16 | aead id u8 (1 = ChaCha20-Poly1305) |
 *   kdf id u8 (1 = Argon2id v1.3) | t_cost u32 | m_cost KiB u32 | parallelism u32 |
 *   salt (16) | nonce (12) | ciphertext length u64 | ciphertext | tag (16)
 * The plaintext is a compact LMDB snapshot of the store (db_snapshot), secrets included.
 * Wrong passphrase and every modified or missing byte give FG_ERR_AUTH; a newer format
 * version gives FG_ERR_VERSION.
 */

#define BACKUP_MAGIC          "FEDGWBK1"
#define BACKUP_MAGIC_LEN      8
#define BACKUP_FORMAT_VERSION 1
#define BACKUP_SALT_LEN       16
#define BACKUP_NONCE_LEN      12
#define BACKUP_TAG_LEN        16
#define BACKUP_HEADER_LEN     60

/* Argon2id parameters of new files: RFC 9106 §4's second recommended option. */
#define BACKUP_KDF_T_COST 3
#define BACKUP_KDF_M_KIB  65536
#define BACKUP_KDF_P      1

/* Parameters a file may ask for: beyond these a damaged or hostile header would make the
 * reader spend unbounded time or memory (256 MiB and 16 passes is 4x what we write). */
#define BACKUP_KDF_T_MAX 16
#define BACKUP_KDF_M_MAX (256u * 1024)
#define BACKUP_KDF_P_MAX 8
/* A backup read for restore: an appliance store is megabytes; 1 GiB leaves room. */
#define BACKUP_FILE_MAX ((uint64_t)1 << 30)

/* Passphrase rules: at least 12 characters (code points); 1024 bytes is far beyond any
 * typed passphrase and bounds the KDF input. */
#define BACKUP_PASSPHRASE_MIN_CHARS 12
#define BACKUP_PASSPHRASE_MAX_BYTES 1024

/* Plain-words text for a backup error ("wrong passphrase, or the file is damaged", ...). */
const char *backup_error_text(enum fg_err err);

/* True if a passphrase is acceptable for a new backup; *why (may be NULL) gets the reason. */
bool backup_passphrase_check(const char *passphrase, const char **why);

/* Encrypts a snapshot (plaintext) into a backup file image appended to out. Runs Argon2id
 * (~64 MiB, a fraction of a second): call it off the event loop. Touches no store. */
enum fg_err backup_seal(const uint8_t *snapshot, size_t len, const char *passphrase,
                        struct fg_buf *out);
/* Decrypts a backup file image into snapshot (appended). FG_ERR_AUTH for a wrong
 * passphrase or a damaged file, FG_ERR_VERSION for a newer format. Touches no store. */
enum fg_err backup_open(const uint8_t *file, size_t len, const char *passphrase,
                        struct fg_buf *snapshot);

/* A compact snapshot of the store read into memory (appended to out). */
enum fg_err backup_snapshot_mem(struct db *db, struct fg_buf *out);
/* Writes data to path atomically (a temporary file renamed over it), mode 0600. */
enum fg_err backup_file_write(const char *path, const uint8_t *data, size_t len);
/* Reads a whole file of at most max bytes (FG_ERR_TOOBIG beyond). */
enum fg_err backup_file_read(const char *path, uint64_t max, struct fg_buf *out);

/* Appends one audit entry ("backup.create", "backup.restore") in its own write. */
enum fg_err backup_audit(struct db *db, const char *actor, const char *source, const char *action,
                         bool ok, const char *detail);

/* The store into an encrypted backup file at path (0600); audited as "backup.create". */
enum fg_err backup_write(struct db *db, const char *path, const char *passphrase, const char *actor,
                         const char *source);
/* Decrypts the backup at path into a snapshot file at tmp_snapshot_path (0600). */
enum fg_err backup_read_to_snapshot(const char *path, const char *passphrase,
                                    const char *tmp_snapshot_path);
/* Replaces the store's contents with a decrypted snapshot (db_restore): sessions end, the
 * generation is bumped. *records (may be NULL) gets the count. Audited "backup.restore". */
enum fg_err backup_restore_snapshot(struct db *db, const uint8_t *snapshot, size_t len,
                                    const char *actor, const char *source, size_t *records);
/* The backup file at path into the store (backup_read_to_snapshot + db_restore); audited as
 * "backup.restore", refused attempts too. */
enum fg_err backup_restore(struct db *db, const char *path, const char *passphrase,
                           const char *actor, const char *source, size_t *records);

#endif
