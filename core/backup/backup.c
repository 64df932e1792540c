/* backup: store backups sealed with Argon2id (RFC 9106) and ChaCha20-Poly1305 (RFC 8439). */
#include "backup/backup_internal.h"

#include <argon2.h>
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUBSYS "backup"

#define BACKUP_AEAD_CHACHA20_POLY1305 1
#define BACKUP_KDF_ARGON2ID           1
#define BACKUP_KEY_LEN                32

const char *backup_error_text(enum fg_err err)
{
	switch (err) {
	case FG_OK:
		return "done";
	case FG_ERR_AUTH:
		return "wrong passphrase, or the file is damaged";
	case FG_ERR_VERSION:
		return "the backup was made by a newer fedgw, or holds a newer store: restore it "
		       "with that version";
	case FG_ERR_TOOBIG:
		return "the file is larger than any backup can be (at most 1 GiB)";
	case FG_ERR_INVAL:
		return "the passphrase must have at least 12 characters";
	case FG_ERR_NOTFOUND:
		return "the file does not exist";
	case FG_ERR_NOMEM:
		return "not enough memory";
	case FG_ERR_PARSE:
		return "the file holds no fedgw store";
	default:
		return "the operation failed; see the log";
	}
}

bool backup_passphrase_check(const char *passphrase, const char **why)
{
	const char *reason = NULL;
	size_t chars = 0, bytes = passphrase ? strlen(passphrase) : 0;
	/* Count code points: continuation bytes (10xxxxxx) do not start a character. */
	for (size_t i = 0; i < bytes; i++)
		if (((unsigned char)passphrase[i] & 0xc0) != 0x80)
			chars++;
	if (bytes > BACKUP_PASSPHRASE_MAX_BYTES)
		reason = "the passphrase is too long (at most 1024 bytes)";
	else if (chars < BACKUP_PASSPHRASE_MIN_CHARS)
		reason = "the passphrase must have at least 12 characters";
	if (why)
		*why = reason;
	return reason == NULL;
}

/* ---- the sealed format ---------------------------------------------------------------- */

struct header {
	uint16_t version;
	uint8_t aead, kdf;
	uint32_t t_cost, m_kib, parallelism;
	uint8_t salt[BACKUP_SALT_LEN];
	uint8_t nonce[BACKUP_NONCE_LEN];
	uint64_t ct_len;
};

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static void header_encode(const struct header *h, uint8_t out[BACKUP_HEADER_LEN])
{
	uint8_t *p = out;
	memcpy(p, BACKUP_MAGIC, BACKUP_MAGIC_LEN);
	p += BACKUP_MAGIC_LEN;
	put_be(p, h->version, 2);
	p += 2;
	*p++ = h->aead;
	*p++ = h->kdf;
	put_be(p, h->t_cost, 4);
	p += 4;
	put_be(p, h->m_kib, 4);
	p += 4;
	put_be(p, h->parallelism, 4);
	p += 4;
	memcpy(p, h->salt, BACKUP_SALT_LEN);
	p += BACKUP_SALT_LEN;
	memcpy(p, h->nonce, BACKUP_NONCE_LEN);
	p += BACKUP_NONCE_LEN;
	put_be(p, h->ct_len, 8);
}

/* Checks everything the header says before any work is spent on it. */
static enum fg_err header_decode(const uint8_t *in, size_t file_len, struct header *h)
{
	const uint8_t *p = in;
	if (file_len < BACKUP_HEADER_LEN + BACKUP_TAG_LEN ||
	    memcmp(p, BACKUP_MAGIC, BACKUP_MAGIC_LEN) != 0)
		return FG_ERR_AUTH;
	p += BACKUP_MAGIC_LEN;
	h->version = (uint16_t)get_be(p, 2);
	p += 2;
	if (h->version > BACKUP_FORMAT_VERSION)
		return FG_ERR_VERSION;
	h->aead = *p++;
	h->kdf = *p++;
	h->t_cost = (uint32_t)get_be(p, 4);
	p += 4;
	h->m_kib = (uint32_t)get_be(p, 4);
	p += 4;
	h->parallelism = (uint32_t)get_be(p, 4);
	p += 4;
	memcpy(h->salt, p, BACKUP_SALT_LEN);
	p += BACKUP_SALT_LEN;
	memcpy(h->nonce, p, BACKUP_NONCE_LEN);
	p += BACKUP_NONCE_LEN;
	h->ct_len = get_be(p, 8);
	if (h->version < 1 || h->aead != BACKUP_AEAD_CHACHA20_POLY1305 ||
	    h->kdf != BACKUP_KDF_ARGON2ID)
		return FG_ERR_AUTH;
	/* Argon2 needs at least 8 KiB per lane (RFC 9106 §3.1). */
	if (h->t_cost < 1 || h->t_cost > BACKUP_KDF_T_MAX || h->parallelism < 1 ||
	    h->parallelism > BACKUP_KDF_P_MAX || h->m_kib < 8 * h->parallelism ||
	    h->m_kib > BACKUP_KDF_M_MAX)
		return FG_ERR_AUTH;
	if (h->ct_len != file_len - BACKUP_HEADER_LEN - BACKUP_TAG_LEN)
		return FG_ERR_AUTH; /* truncated or extended */
	return FG_OK;
}

static enum fg_err derive_key(const char *passphrase, const struct header *h,
                              uint8_t key[BACKUP_KEY_LEN])
{
	int rc =
	    argon2id_hash_raw(h->t_cost, h->m_kib, h->parallelism, passphrase, strlen(passphrase),
	                      h->salt, BACKUP_SALT_LEN, key, BACKUP_KEY_LEN);
	if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
		return FG_ERR_NOMEM;
	if (rc != ARGON2_OK) {
		FG_LOGE(SUBSYS, "deriving the backup key failed: %s", argon2_error_message(rc));
		return FG_ERR_CRYPTO;
	}
	return FG_OK;
}

enum fg_err backup__seal_with(const uint8_t *snapshot, size_t len, const char *passphrase,
                              uint32_t t_cost, uint32_t m_kib, uint32_t parallelism,
                              struct fg_buf *out)
{
	struct header h = {
	    .version = BACKUP_FORMAT_VERSION,
	    .aead = BACKUP_AEAD_CHACHA20_POLY1305,
	    .kdf = BACKUP_KDF_ARGON2ID,
	    .t_cost = t_cost,
	    .m_kib = m_kib,
	    .parallelism = parallelism,
	    .ct_len = len,
	};
	uint8_t hdr[BACKUP_HEADER_LEN], key[BACKUP_KEY_LEN], tag[BACKUP_TAG_LEN];
	if (!passphrase || strlen(passphrase) > BACKUP_PASSPHRASE_MAX_BYTES)
		return FG_ERR_INVAL;
	if ((uint64_t)len > BACKUP_FILE_MAX)
		return FG_ERR_TOOBIG;
	fg_random(h.salt, sizeof h.salt);
	/* A fresh key per file (new salt), so a random nonce never repeats under one key. */
	fg_random(h.nonce, sizeof h.nonce);
	header_encode(&h, hdr);
	enum fg_err err = derive_key(passphrase, &h, key);
	if (err)
		goto out;
	err = fg_buf_reserve(out, BACKUP_HEADER_LEN + len + BACKUP_TAG_LEN);
	if (err)
		goto out;
	fg_buf_append(out, hdr, sizeof hdr);
	uint8_t *ct = out->data + out->len;
	if (len)
		fg_buf_append(out, snapshot, len);
	/* RFC 8439 §2.8: AEAD over the header (additional data) and the snapshot. */
	br_poly1305_ctmul_run(key, h.nonce, ct, len, hdr, sizeof hdr, tag, br_chacha20_ct_run, 1);
	fg_buf_append(out, tag, sizeof tag);
out:
	explicit_bzero(key, sizeof key);
	return err;
}

enum fg_err backup_seal(const uint8_t *snapshot, size_t len, const char *passphrase,
                        struct fg_buf *out)
{
	return backup__seal_with(snapshot, len, passphrase, BACKUP_KDF_T_COST, BACKUP_KDF_M_KIB,
	                         BACKUP_KDF_P, out);
}

enum fg_err backup_open(const uint8_t *file, size_t len, const char *passphrase,
                        struct fg_buf *snapshot)
{
	struct header h;
	uint8_t key[BACKUP_KEY_LEN], tag[BACKUP_TAG_LEN];
	if (!file || !passphrase || strlen(passphrase) > BACKUP_PASSPHRASE_MAX_BYTES)
		return FG_ERR_AUTH;
	if ((uint64_t)len > BACKUP_FILE_MAX + BACKUP_HEADER_LEN + BACKUP_TAG_LEN)
		return FG_ERR_TOOBIG;
	enum fg_err err = header_decode(file, len, &h);
	if (err)
		return err;
	err = derive_key(passphrase, &h, key);
	if (err)
		goto out;
	size_t start = snapshot->len, ct_len = (size_t)h.ct_len;
	err = fg_buf_append(snapshot, file + BACKUP_HEADER_LEN, ct_len);
	if (err)
		goto out;
	uint8_t *pt = snapshot->data + start;
	br_poly1305_ctmul_run(key, h.nonce, pt, ct_len, file, BACKUP_HEADER_LEN, tag,
	                      br_chacha20_ct_run, 0);
	if (!fg_ct_equal(tag, file + BACKUP_HEADER_LEN + ct_len, BACKUP_TAG_LEN)) {
		/* Nothing decrypted under a wrong key or a forged file is kept. */
		explicit_bzero(pt, ct_len);
		snapshot->len = start;
		err = FG_ERR_AUTH;
	}
out:
	explicit_bzero(key, sizeof key);
	explicit_bzero(tag, sizeof tag);
	return err;
}

/* ---- files ------------------------------------------------------------------------------ */

static void buf_wipe_free(struct fg_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	fg_buf_free(b);
}

/* A private temporary file in dir: its path into out. */
static enum fg_err temp_path(const char *dir, const char *prefix, char *out, size_t outsize)
{
	int n = snprintf(out, outsize, "%s/%s-XXXXXX", dir, prefix);
	if (n < 0 || (size_t)n >= outsize)
		return FG_ERR_TOOBIG;
	int fd = mkstemp(out);
	if (fd < 0) {
		FG_LOGE(SUBSYS, "cannot create a temporary file in %s: %s", dir, strerror(errno));
		return FG_ERR_IO;
	}
	fchmod(fd, 0600);
	close(fd);
	return FG_OK;
}

enum fg_err backup_file_read(const char *path, uint64_t max, struct fg_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		FG_LOGE(SUBSYS, "cannot open %s: %s", path, strerror(errno));
		return errno == ENOENT ? FG_ERR_NOTFOUND : FG_ERR_IO;
	}
	enum fg_err err = FG_OK;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		FG_LOGE(SUBSYS, "%s is not a regular file", path);
		err = FG_ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = FG_ERR_TOOBIG;
		goto out;
	}
	err = fg_buf_reserve(out, (size_t)st.st_size);
	if (err)
		goto out;
	for (;;) {
		if (out->len > max) {
			err = FG_ERR_TOOBIG; /* grew while we read */
			goto out;
		}
		/* The reserve above sized the buffer for the file: this only runs if it grew. */
		if (out->cap - out->len < 2 && (err = fg_buf_reserve(out, 65536)) != FG_OK)
			goto out;
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			FG_LOGE(SUBSYS, "cannot read %s: %s", path, strerror(errno));
			err = FG_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	if (out->len > max)
		err = FG_ERR_TOOBIG;
out:
	close(fd);
	return err;
}

enum fg_err backup_file_write(const char *path, const uint8_t *data, size_t len)
{
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return FG_ERR_TOOBIG;
	int fd = mkstemp(tmp);
	if (fd < 0) {
		FG_LOGE(SUBSYS, "cannot create %s: %s", tmp, strerror(errno));
		return FG_ERR_IO;
	}
	enum fg_err err = FG_OK;
	if (fchmod(fd, 0600) != 0) {
		err = FG_ERR_IO;
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			FG_LOGE(SUBSYS, "cannot write %s: %s", path, strerror(errno));
			err = FG_ERR_IO;
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		err = FG_ERR_IO;
out:
	if (close(fd) != 0 && !err)
		err = FG_ERR_IO;
	if (!err && rename(tmp, path) != 0) {
		FG_LOGE(SUBSYS, "cannot write %s: %s", path, strerror(errno));
		err = FG_ERR_IO;
	}
	if (err)
		unlink(tmp);
	return err;
}

enum fg_err backup_snapshot_mem(struct db *db, struct fg_buf *out)
{
	char path[PATH_MAX];
	enum fg_err err = temp_path(db_dir(db), "backup-snapshot", path, sizeof path);
	if (err)
		return err;
	err = db_snapshot(db, path);
	if (!err)
		err = backup_file_read(path, BACKUP_FILE_MAX, out);
	unlink(path);
	return err;
}

/* ---- audited operations ----------------------------------------------------------------- */

struct audit_ctx {
	const struct db_audit_entry *entry;
};

static enum fg_err audit_fn(struct db_txn *txn, void *vctx)
{
	struct audit_ctx *c = vctx;
	return db_audit_append(txn, c->entry);
}

enum fg_err backup_audit(struct db *db, const char *actor, const char *source, const char *action,
                         bool ok, const char *detail)
{
	struct db_audit_entry e;
	memset(&e, 0, sizeof e);
	e.time_ms = fg_now_ms();
	fg_strlcpy(e.actor, actor && *actor ? actor : "-", sizeof e.actor);
	fg_strlcpy(e.source, source ? source : "", sizeof e.source);
	fg_strlcpy(e.action, action, sizeof e.action);
	fg_strlcpy(e.detail, detail ? detail : "", sizeof e.detail);
	e.ok = ok;
	struct audit_ctx c = {&e};
	enum fg_err err = db_write(db, audit_fn, &c);
	if (err)
		FG_LOGW(SUBSYS, "cannot record %s in the audit trail: %s", action,
		        fg_strerror(err));
	return err;
}

enum fg_err backup_write(struct db *db, const char *path, const char *passphrase, const char *actor,
                         const char *source)
{
	struct fg_buf snap = {0}, file = {0};
	char detail[DB_TEXT_MAX];
	if (!backup_passphrase_check(passphrase, NULL))
		return FG_ERR_INVAL;
	enum fg_err err = backup_snapshot_mem(db, &snap);
	if (!err)
		err = backup_seal(snap.data, snap.len, passphrase, &file);
	if (!err)
		err = backup_file_write(path, file.data, file.len);
	if (err)
		snprintf(detail, sizeof detail, "backup to %s failed: %s", path, fg_strerror(err));
	else
		snprintf(detail, sizeof detail, "backup of %zu bytes written to %s", file.len,
		         path);
	(void)backup_audit(db, actor, source, "backup.create", err == FG_OK, detail);
	if (!err)
		FG_LOGN(SUBSYS, "backup written to %s (%zu bytes)", path, file.len);
	buf_wipe_free(&snap);
	fg_buf_free(&file);
	return err;
}

enum fg_err backup_read_to_snapshot(const char *path, const char *passphrase,
                                    const char *tmp_snapshot_path)
{
	struct fg_buf file = {0}, snap = {0};
	enum fg_err err =
	    backup_file_read(path, BACKUP_FILE_MAX + BACKUP_HEADER_LEN + BACKUP_TAG_LEN, &file);
	if (!err)
		err = backup_open(file.data, file.len, passphrase, &snap);
	if (!err)
		err = backup_file_write(tmp_snapshot_path, snap.data, snap.len);
	buf_wipe_free(&snap);
	fg_buf_free(&file);
	return err;
}

enum fg_err backup_restore_snapshot(struct db *db, const uint8_t *snapshot, size_t len,
                                    const char *actor, const char *source, size_t *records)
{
	char path[PATH_MAX], detail[DB_TEXT_MAX];
	size_t n = 0;
	if (records)
		*records = 0;
	enum fg_err err = temp_path(db_dir(db), "restore-snapshot", path, sizeof path);
	if (err)
		return err;
	err = backup_file_write(path, snapshot, len);
	if (!err)
		err = db_restore(db, path, &n);
	/* The snapshot holds secrets in clear: overwrite before unlinking is not reliable on
	 * every file system, so it lives only in the 0700 data directory and only briefly. */
	unlink(path);
	if (err)
		snprintf(detail, sizeof detail, "restore refused: %s", backup_error_text(err));
	else
		snprintf(detail, sizeof detail, "restored %zu records; every session ended", n);
	/* Written after the restore, so the restored audit trail records it too. */
	(void)backup_audit(db, actor, source, "backup.restore", err == FG_OK, detail);
	if (!err) {
		FG_LOGN(SUBSYS, "store restored from a backup: %zu records", n);
		if (records)
			*records = n;
	}
	return err;
}

enum fg_err backup_restore(struct db *db, const char *path, const char *passphrase,
                           const char *actor, const char *source, size_t *records)
{
	struct fg_buf file = {0}, snap = {0};
	char detail[DB_TEXT_MAX];
	if (records)
		*records = 0;
	enum fg_err err =
	    backup_file_read(path, BACKUP_FILE_MAX + BACKUP_HEADER_LEN + BACKUP_TAG_LEN, &file);
	if (!err)
		err = backup_open(file.data, file.len, passphrase, &snap);
	fg_buf_free(&file);
	if (err) {
		snprintf(detail, sizeof detail, "restore from %s refused: %s", path,
		         backup_error_text(err));
		(void)backup_audit(db, actor, source, "backup.restore", false, detail);
		goto out;
	}
	err = backup_restore_snapshot(db, snap.data, snap.len, actor, source, records);
out:
	buf_wipe_free(&snap);
	return err;
}
