/* db: restore the store's contents from a snapshot file made by db_snapshot (LMDB copy). */
#include "db/db_internal.h"

#include <string.h>
#include <sys/stat.h>

#define META_DB_NAME   "meta"
#define META_SCHEMA    "schema"
#define META_LOG_SEQ   "log.seq"
#define META_AUDIT_SEQ "audit.seq"

/* maxdbs of the snapshot environment: the same room db.c gives the live one. */
#define RESTORE_MAXDBS 32

/* Kinds a restore replaces: the configuration, and the log, audit trail and faults that
 * explain it. Sessions are emptied (everyone logs in again); object status and the SIP
 * gateway's presence subscriptions are the running engine's own and are left alone. */
static bool kind_restored(enum db_kind kind)
{
	return db_kind_is_config(kind) || kind == DB_KIND_LOG || kind == DB_KIND_AUDIT ||
	       kind == DB_KIND_FAULT;
}

static bool kind_left_alone(enum db_kind kind)
{
	return kind == DB_KIND_STATUS || kind == DB_KIND_SUBSCRIPTION;
}

static uint64_t be_to_u64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

/* A meta counter of the snapshot (0 when absent); false when malformed. */
static bool snap_meta_get(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *val)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int rc = mdb_get(txn, meta, &k, &v);
	*val = 0;
	if (rc == MDB_NOTFOUND)
		return true;
	if (rc || v.mv_size != 8)
		return false;
	*val = be_to_u64(v.mv_data);
	return true;
}

struct restore_ctx {
	MDB_env *snap;
	MDB_dbi snap_dbi[DB_KIND__COUNT];
	MDB_dbi snap_meta;
	size_t records;
};

/* Sequence counters never go back: the live one keeps the larger of the two values, so
 * records appended after the restore sort after every restored one. */
static enum fg_err keep_larger_seq(struct db_txn *txn, MDB_txn *stxn, MDB_dbi smeta,
                                   const char *key)
{
	uint64_t live = 0, snap = 0;
	enum fg_err err = db__meta_get(txn, key, &live);
	if (err)
		return err;
	if (!snap_meta_get(stxn, smeta, key, &snap)) {
		fg_log(FG_LOG_ERR, "store", "snapshot metadata %s is malformed", key);
		return FG_ERR_PARSE;
	}
	return snap > live ? db__meta_set(txn, key, snap) : FG_OK;
}

static enum fg_err copy_kind(struct db_txn *txn, MDB_txn *stxn, struct restore_ctx *c,
                             enum db_kind kind)
{
	MDB_dbi live = txn->db->dbi[kind];
	int rc = mdb_drop(txn->txn, live, 0);
	if (rc)
		return db__mdb_fail(txn, rc, "emptying a database for the restore");
	txn->touched |= 1u << kind;
	if (!kind_restored(kind))
		return FG_OK;
	MDB_cursor *cur = NULL;
	rc = mdb_cursor_open(stxn, c->snap_dbi[kind], &cur);
	if (rc)
		return db__mdb_fail(NULL, rc, "reading the snapshot");
	MDB_val k, v;
	enum fg_err err = FG_OK;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		/* Same key order on both sides (default comparator): append is exact and fast. */
		int prc = mdb_put(txn->txn, live, &k, &v, MDB_APPEND);
		if (prc) {
			err = db__mdb_fail(txn, prc, "writing a restored record");
			goto out;
		}
		c->records++;
	}
	if (rc != MDB_NOTFOUND)
		err = db__mdb_fail(NULL, rc, "reading the snapshot");
out:
	mdb_cursor_close(cur);
	return err;
}

static enum fg_err restore_fn(struct db_txn *txn, void *vctx)
{
	struct restore_ctx *c = vctx;
	MDB_txn *stxn = NULL;
	c->records = 0;
	int rc = mdb_txn_begin(c->snap, NULL, MDB_RDONLY, &stxn);
	if (rc)
		return db__mdb_fail(NULL, rc, "reading the snapshot");
	enum fg_err err = FG_OK;
	for (int k = 0; k < DB_KIND__COUNT && !err; k++)
		if (!kind_left_alone((enum db_kind)k))
			err = copy_kind(txn, stxn, c, (enum db_kind)k);
	if (!err)
		err = keep_larger_seq(txn, stxn, c->snap_meta, META_LOG_SEQ);
	if (!err)
		err = keep_larger_seq(txn, stxn, c->snap_meta, META_AUDIT_SEQ);
	/* The commit bumps the live generation (configuration kinds were touched), so a
	 * running daemon sees a new generation and applies the restored configuration. */
	mdb_txn_abort(stxn);
	return err;
}

/* Opens the snapshot read-only and checks its schema; the handles stay valid for the
 * environment's lifetime. */
static enum fg_err snap_open(struct restore_ctx *c, const char *path)
{
	int rc = mdb_env_create(&c->snap);
	if (rc)
		return db__mdb_fail(NULL, rc, "opening the snapshot");
	mdb_env_set_maxdbs(c->snap, RESTORE_MAXDBS);
	/* A private file: no lock file beside it, nobody else opens it. */
	rc = mdb_env_open(c->snap, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0600);
	if (rc) {
		fg_log(FG_LOG_ERR, "store", "cannot open the snapshot %s: %s", path,
		       mdb_strerror(rc));
		return FG_ERR_PARSE;
	}
	MDB_txn *txn = NULL;
	enum fg_err err = FG_OK;
	rc = mdb_txn_begin(c->snap, NULL, MDB_RDONLY, &txn);
	if (rc)
		return db__mdb_fail(NULL, rc, "reading the snapshot");
	rc = mdb_dbi_open(txn, META_DB_NAME, 0, &c->snap_meta);
	if (rc) {
		fg_log(FG_LOG_ERR, "store", "the snapshot %s is not a fedgw store (no metadata)",
		       path);
		err = FG_ERR_PARSE;
		goto out;
	}
	uint64_t version = 0;
	if (!snap_meta_get(txn, c->snap_meta, META_SCHEMA, &version)) {
		fg_log(FG_LOG_ERR, "store", "the snapshot's schema version is malformed");
		err = FG_ERR_PARSE;
		goto out;
	}
	if (version > DB_SCHEMA_VERSION) {
		fg_log(FG_LOG_ERR, "store",
		       "the snapshot has schema version %llu, newer than the %d this program "
		       "understands: restore it with the newer fedgw",
		       (unsigned long long)version, DB_SCHEMA_VERSION);
		err = FG_ERR_VERSION;
		goto out;
	}
	/* Schema 1 is the first with records; a version-0 store holds nothing to restore.
	 * Older snapshots need no migration of their own as long as what later schemas added
	 * is left alone by a restore (schema 2: subscriptions); a later schema that changes
	 * restored records must migrate them here after the copy. */
	if (version < 1) {
		fg_log(FG_LOG_ERR, "store",
		       "the snapshot has schema version %llu, which holds no records: refusing it",
		       (unsigned long long)version);
		err = FG_ERR_VERSION;
		goto out;
	}
	for (int k = 0; k < DB_KIND__COUNT; k++) {
		rc = mdb_dbi_open(txn, db_kind_name((enum db_kind)k), 0, &c->snap_dbi[k]);
		/* a schema-1 snapshot has no subscriptions database: nothing is read from it */
		if (rc == MDB_NOTFOUND && kind_left_alone((enum db_kind)k))
			continue;
		if (rc) {
			fg_log(FG_LOG_ERR, "store", "the snapshot lacks the %s database: %s",
			       db_kind_name((enum db_kind)k), mdb_strerror(rc));
			err = FG_ERR_PARSE;
			goto out;
		}
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		err = db__mdb_fail(NULL, rc, "reading the snapshot");
out:
	if (txn)
		mdb_txn_abort(txn);
	return err;
}

enum fg_err db_restore(struct db *db, const char *snapshot_path, size_t *records)
{
	struct restore_ctx c;
	memset(&c, 0, sizeof c);
	if (records)
		*records = 0;
	if (!db || !snapshot_path)
		return FG_ERR_INVAL;
	struct stat st;
	if (stat(snapshot_path, &st) != 0 || !S_ISREG(st.st_mode)) {
		fg_log(FG_LOG_ERR, "store", "snapshot %s is not a readable file", snapshot_path);
		return FG_ERR_NOTFOUND;
	}
	enum fg_err err = snap_open(&c, snapshot_path);
	if (!err)
		err = db_write(db, restore_fn, &c);
	if (!err) {
		fg_log(FG_LOG_NOTICE, "store", "store restored from a snapshot: %zu records",
		       c.records);
		if (records)
			*records = c.records;
	}
	if (c.snap)
		mdb_env_close(c.snap);
	return err;
}
