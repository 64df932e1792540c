/* db: the LMDB environment: open and migrate, write transactions, map growth, watchers. */
#include "db/db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One named database per kind; the names are part of the on-disk format. */
static const char *const kind_names[DB_KIND__COUNT] = {
    [DB_KIND_SETTING] = "settings",
    [DB_KIND_SIP_DOMAIN] = "sip_domains",
    [DB_KIND_XMPP_DOMAIN] = "xmpp_domains",
    [DB_KIND_ALLOW] = "allow",
    [DB_KIND_POLICY] = "policy",
    [DB_KIND_CERT] = "certs",
    [DB_KIND_KEY] = "keys",
    [DB_KIND_BRIDGE] = "bridges",
    [DB_KIND_ADMIN] = "admins",
    [DB_KIND_SESSION] = "sessions",
    [DB_KIND_LOG] = "log",
    [DB_KIND_AUDIT] = "audit",
    [DB_KIND_FAULT] = "faults",
    [DB_KIND_STATUS] = "status",
    [DB_KIND_SUBSCRIPTION] = "subscriptions",
};

#define META_DB_NAME    "meta"
#define META_SCHEMA     "schema"
#define META_GENERATION "generation"

/* maxdbs: the kinds plus meta, with room for kinds added by later schema versions. */
#define DB_MAXDBS 32
/* maxreaders: threads of the daemon plus CLI processes reading at the same time. */
#define DB_MAXREADERS 126

/* A write in progress on this thread (any handle): a nested db_write, e.g. from a log sink
 * reached while logging inside db_write, would deadlock on the LMDB writer lock. */
static _Thread_local bool tls_in_write;

const char *db_kind_name(enum db_kind kind)
{
	if ((unsigned)kind >= DB_KIND__COUNT)
		return "unknown";
	return kind_names[kind];
}

bool db_kind_is_config(enum db_kind kind)
{
	return (unsigned)kind < DB_KIND_SESSION;
}

static uint32_t config_mask(void)
{
	return (1u << DB_KIND_SESSION) - 1;
}

enum fg_err db__mdb_fail(struct db_txn *txn, int rc, const char *what)
{
	if (rc == MDB_NOTFOUND)
		return FG_ERR_NOTFOUND;
	if (rc == MDB_MAP_FULL && txn && txn->write) {
		/* Expected: db_write grows the map and runs the write again. */
		txn->map_full = true;
		return FG_ERR_STORE;
	}
	fg_log(FG_LOG_ERR, "store", "%s: %s", what, mdb_strerror(rc));
	return FG_ERR_STORE;
}

/* ---- meta: schema version, configuration generation, sequence counters ---------------- */

static void u64_to_be(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t be_to_u64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

static enum fg_err meta_get_raw(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *val)
{
	MDB_val k = {strlen(key), (void *)key}, v;
	int rc = mdb_get(txn, meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*val = 0;
		return FG_OK;
	}
	if (rc)
		return db__mdb_fail(NULL, rc, "reading store metadata");
	if (v.mv_size != 8) {
		fg_log(FG_LOG_ERR, "store", "metadata value %s has %zu bytes, expected 8", key,
		       v.mv_size);
		return FG_ERR_STORE;
	}
	*val = be_to_u64(v.mv_data);
	return FG_OK;
}

static int meta_set_raw(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t val)
{
	uint8_t buf[8];
	u64_to_be(buf, val);
	MDB_val k = {strlen(key), (void *)key}, v = {8, buf};
	return mdb_put(txn, meta, &k, &v, 0);
}

enum fg_err db__meta_get(struct db_txn *txn, const char *key, uint64_t *val)
{
	return meta_get_raw(txn->txn, txn->db->meta, key, val);
}

enum fg_err db__meta_set(struct db_txn *txn, const char *key, uint64_t val)
{
	if (!txn->write)
		return FG_ERR_INVAL;
	int rc = meta_set_raw(txn->txn, txn->db->meta, key, val);
	return rc ? db__mdb_fail(txn, rc, "writing store metadata") : FG_OK;
}

/* ---- schema migrations ----------------------------------------------------------------- */

typedef enum fg_err (*db_migration_fn)(struct db *db, MDB_txn *txn);

/* v0 -> v1: an empty environment gets every named database and generation 0. */
static enum fg_err migrate_0_to_1(struct db *db, MDB_txn *txn)
{
	for (int k = 0; k < DB_KIND__COUNT; k++) {
		int rc = mdb_dbi_open(txn, kind_names[k], MDB_CREATE, &db->dbi[k]);
		if (rc)
			return db__mdb_fail(NULL, rc, "creating a database");
	}
	int rc = meta_set_raw(txn, db->meta, META_GENERATION, 0);
	return rc ? db__mdb_fail(NULL, rc, "writing the generation") : FG_OK;
}

/* v1 -> v2: the SIP gateway's presence subscriptions get their database. A new store runs
 * both (migrate_0_to_1 already created every kind; MDB_CREATE keeps it). */
static enum fg_err migrate_1_to_2(struct db *db, MDB_txn *txn)
{
	int rc = mdb_dbi_open(txn, kind_names[DB_KIND_SUBSCRIPTION], MDB_CREATE,
	                      &db->dbi[DB_KIND_SUBSCRIPTION]);
	return rc ? db__mdb_fail(NULL, rc, "creating the subscriptions database") : FG_OK;
}

/* migrations[N] takes schema version N to N+1. */
static const db_migration_fn migrations[DB_SCHEMA_VERSION] = {
    migrate_0_to_1,
    migrate_1_to_2,
};

static enum fg_err migrate(struct db *db)
{
	MDB_txn *txn = NULL;
	enum fg_err err = FG_OK;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc)
		return db__mdb_fail(NULL, rc, "starting the schema check");
	rc = mdb_dbi_open(txn, META_DB_NAME, MDB_CREATE, &db->meta);
	if (rc) {
		err = db__mdb_fail(NULL, rc, "opening the metadata database");
		goto out;
	}
	uint64_t version;
	err = meta_get_raw(txn, db->meta, META_SCHEMA, &version);
	if (err)
		goto out;
	if (version > DB_SCHEMA_VERSION) {
		fg_log(FG_LOG_ERR, "store",
		       "store in %s has schema version %llu, newer than the %d this program "
		       "understands: refusing to open it (run the newer fedgw or restore a backup)",
		       db->dir, (unsigned long long)version, DB_SCHEMA_VERSION);
		err = FG_ERR_VERSION;
		goto out;
	}
	for (uint64_t v = version; v < DB_SCHEMA_VERSION; v++) {
		err = migrations[v](db, txn);
		if (err) {
			fg_log(FG_LOG_ERR, "store",
			       "migrating the store from schema %llu to %llu failed",
			       (unsigned long long)v, (unsigned long long)v + 1);
			goto out;
		}
		if (v == 0)
			fg_log(FG_LOG_NOTICE, "store", "new store created in %s", db->dir);
		else
			fg_log(FG_LOG_NOTICE, "store", "store migrated from schema %llu to %llu",
			       (unsigned long long)v, (unsigned long long)v + 1);
	}
	if (version != DB_SCHEMA_VERSION) {
		rc = meta_set_raw(txn, db->meta, META_SCHEMA, DB_SCHEMA_VERSION);
		if (rc) {
			err = db__mdb_fail(NULL, rc, "writing the schema version");
			goto out;
		}
	}
	for (int k = 0; k < DB_KIND__COUNT; k++) {
		rc = mdb_dbi_open(txn, kind_names[k], 0, &db->dbi[k]);
		if (rc) {
			err = db__mdb_fail(NULL, rc, "opening a database");
			goto out;
		}
	}
	/* Handles opened in a committed transaction stay valid for the environment. */
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		err = db__mdb_fail(NULL, rc, "committing the schema");
out:
	if (txn)
		mdb_txn_abort(txn);
	return err;
}

/* ---- open / close ---------------------------------------------------------------------- */

static enum fg_err make_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fg_log(FG_LOG_ERR, "store", "cannot create data directory %s: %s", dir,
		       strerror(errno));
		return FG_ERR_IO;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fg_log(FG_LOG_ERR, "store", "data directory %s is not a directory", dir);
		return FG_ERR_IO;
	}
	if (st.st_mode & 077)
		fg_log(FG_LOG_WARN, "store", "data directory %s is open to other users (mode %03o)",
		       dir, (unsigned)(st.st_mode & 0777));
	return FG_OK;
}

static enum fg_err fix_mode(const char *dir, const char *file)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if (chmod(path, 0600) != 0) {
		fg_log(FG_LOG_ERR, "store", "cannot set mode 0600 on %s: %s", path,
		       strerror(errno));
		return FG_ERR_IO;
	}
	return FG_OK;
}

static enum fg_err open_env(struct db *db, uint64_t forced_map)
{
	int rc = mdb_env_create(&db->env);
	if (rc)
		return db__mdb_fail(NULL, rc, "creating the environment");
	mdb_env_set_maxdbs(db->env, DB_MAXDBS);
	mdb_env_set_maxreaders(db->env, DB_MAXREADERS);
	/* Only a test forces the map before open: otherwise LMDB keeps the (possibly grown)
	 * size recorded in the file, and a smaller one is raised to the default below. */
	if (forced_map)
		mdb_env_set_mapsize(db->env, forced_map);
	mode_t old = umask(077);
	rc = mdb_env_open(db->env, db->dir, MDB_NOTLS, 0600);
	umask(old);
	if (rc) {
		fg_log(FG_LOG_ERR, "store", "cannot open the store in %s: %s", db->dir,
		       mdb_strerror(rc));
		return FG_ERR_STORE;
	}
	enum fg_err err = fix_mode(db->dir, "data.mdb");
	if (!err)
		err = fix_mode(db->dir, "lock.mdb");
	if (err)
		return err;
	MDB_envinfo info;
	mdb_env_info(db->env, &info);
	if (!forced_map && info.me_mapsize < DB_MAP_INITIAL_BYTES) {
		rc = mdb_env_set_mapsize(db->env, DB_MAP_INITIAL_BYTES);
		if (rc)
			return db__mdb_fail(NULL, rc, "setting the map size");
	}
	/* Reader slots left by processes that died (a killed CLI) are released. */
	int dead = 0;
	mdb_reader_check(db->env, &dead);
	if (dead)
		fg_log(FG_LOG_INFO, "store", "released %d reader slots of dead processes", dead);
	return FG_OK;
}

enum fg_err db__open_mapsize(struct db **out, const char *dir, uint64_t map_bytes)
{
	*out = NULL;
	if (!dir || !*dir)
		return FG_ERR_INVAL;
	struct db *db = calloc(1, sizeof *db);
	if (!db)
		return FG_ERR_NOMEM;
	enum fg_err err = FG_OK;
	pthread_mutex_init(&db->write_lock, NULL);
	pthread_mutex_init(&db->lock, NULL);
	db->log_max = DB_LOG_MAX_RECORDS;
	db->audit_max = DB_AUDIT_MAX_RECORDS;
	if (!fg_strlcpy(db->dir, dir, sizeof db->dir)) {
		err = FG_ERR_TOOBIG;
		goto out;
	}
	err = make_dir(dir);
	if (err)
		goto out;
	err = open_env(db, map_bytes);
	if (err)
		goto out;
	err = migrate(db);
	if (err)
		goto out;
	*out = db;
	db = NULL;
out:
	db_close(db);
	return err;
}

enum fg_err db_open(struct db **out, const char *dir)
{
	return db__open_mapsize(out, dir, 0);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->env)
		mdb_env_close(db->env);
	pthread_mutex_destroy(&db->write_lock);
	pthread_mutex_destroy(&db->lock);
	free(db);
}

const char *db_dir(const struct db *db)
{
	return db->dir;
}

void db__set_limits(struct db *db, size_t log_max, size_t audit_max)
{
	db->log_max = log_max;
	db->audit_max = audit_max;
}

/* ---- read transactions ----------------------------------------------------------------- */

/* Another process grew the map past ours: adopt its size. Needs no transaction open in this
 * process; the caller holds write_lock. */
static enum fg_err adopt_map_locked(struct db *db, unsigned own_readers)
{
	pthread_mutex_lock(&db->lock);
	unsigned readers = db->readers;
	int rc = readers == own_readers ? mdb_env_set_mapsize(db->env, 0) : 0;
	pthread_mutex_unlock(&db->lock);
	if (readers != own_readers) {
		fg_log(FG_LOG_WARN, "store",
		       "another process grew the store; %u read transactions still open", readers);
		return FG_ERR_AGAIN;
	}
	if (rc)
		return db__mdb_fail(NULL, rc, "adopting the grown map");
	MDB_envinfo info;
	mdb_env_info(db->env, &info);
	fg_log(FG_LOG_INFO, "store", "another process grew the store map to %llu KiB",
	       (unsigned long long)(info.me_mapsize >> 10));
	return FG_OK;
}

enum fg_err db_txn_begin(struct db *db, struct db_txn **out)
{
	*out = NULL;
	struct db_txn *t = calloc(1, sizeof *t);
	if (!t)
		return FG_ERR_NOMEM;
	t->db = db;
	pthread_mutex_lock(&db->lock);
	db->readers++;
	pthread_mutex_unlock(&db->lock);
	enum fg_err err = FG_OK;
	for (int attempt = 0;; attempt++) {
		int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t->txn);
		if (rc == 0)
			break;
		if (rc != MDB_MAP_RESIZED || attempt >= 2) {
			err = db__mdb_fail(NULL, rc, "starting a read transaction");
			goto out;
		}
		/* Inside db_write on this thread the lock may be ours: never wait for it then. */
		if (tls_in_write) {
			if (pthread_mutex_trylock(&db->write_lock) != 0) {
				err = FG_ERR_AGAIN;
				goto out;
			}
		} else {
			pthread_mutex_lock(&db->write_lock);
		}
		err = adopt_map_locked(db, 1);
		pthread_mutex_unlock(&db->write_lock);
		if (err)
			goto out;
	}
	*out = t;
	t = NULL;
out:
	if (t) {
		pthread_mutex_lock(&db->lock);
		db->readers--;
		pthread_mutex_unlock(&db->lock);
		free(t);
	}
	return err;
}

void db_txn_end(struct db_txn *txn)
{
	if (!txn)
		return;
	if (txn->txn)
		mdb_txn_abort(txn->txn);
	pthread_mutex_lock(&txn->db->lock);
	txn->db->readers--;
	pthread_mutex_unlock(&txn->db->lock);
	free(txn);
}

uint64_t db_generation(struct db *db)
{
	struct db_txn *txn;
	uint64_t gen = 0;
	if (db_txn_begin(db, &txn) != FG_OK)
		return 0;
	if (db__meta_get(txn, META_GENERATION, &gen) != FG_OK)
		gen = 0;
	db_txn_end(txn);
	return gen;
}

/* ---- writes ---------------------------------------------------------------------------- */

/* The map is full: double it. LMDB remaps, so no transaction may be open in this process;
 * the caller holds write_lock, which keeps writers out. */
static enum fg_err grow_map_locked(struct db *db)
{
	MDB_envinfo info;
	mdb_env_info(db->env, &info);
	uint64_t cur = info.me_mapsize;
	if (cur >= DB_MAP_MAX_BYTES) {
		fg_log(FG_LOG_ERR, "store", "store map is full at its maximum of %llu MiB",
		       (unsigned long long)(cur >> 20));
		return FG_ERR_STORE;
	}
	uint64_t next = cur * 2 > DB_MAP_MAX_BYTES ? DB_MAP_MAX_BYTES : cur * 2;
	pthread_mutex_lock(&db->lock);
	unsigned readers = db->readers;
	int rc = readers == 0 ? mdb_env_set_mapsize(db->env, next) : 0;
	pthread_mutex_unlock(&db->lock);
	if (readers) {
		fg_log(FG_LOG_WARN, "store",
		       "store map is full (%llu KiB) and cannot grow while %u read transactions "
		       "are open; try again",
		       (unsigned long long)(cur >> 10), readers);
		return FG_ERR_AGAIN;
	}
	if (rc)
		return db__mdb_fail(NULL, rc, "growing the map");
	fg_log(FG_LOG_NOTICE, "store", "store map grown from %llu KiB to %llu KiB",
	       (unsigned long long)(cur >> 10), (unsigned long long)(next >> 10));
	return FG_OK;
}

/* Bumps the generation when a configuration kind was touched, then commits. */
static enum fg_err commit(struct db_txn *t, uint64_t *gen)
{
	enum fg_err err = db__meta_get(t, META_GENERATION, gen);
	if (!err && (t->touched & config_mask()))
		err = db__meta_set(t, META_GENERATION, ++*gen);
	if (err) {
		mdb_txn_abort(t->txn);
		return err;
	}
	int rc = mdb_txn_commit(t->txn);
	return rc ? db__mdb_fail(t, rc, "committing a write") : FG_OK;
}

static void notify(struct db *db, uint64_t gen, uint32_t mask)
{
	struct db_watch_slot copy[DB_WATCH_MAX];
	pthread_mutex_lock(&db->lock);
	memcpy(copy, db->watchers, sizeof copy);
	pthread_mutex_unlock(&db->lock);
	for (int i = 0; i < DB_WATCH_MAX; i++)
		if (copy[i].cb)
			copy[i].cb(copy[i].ctx, gen, mask);
}

enum fg_err db_write(struct db *db, db_write_fn fn, void *ctx)
{
	if (tls_in_write) {
		fg_log(FG_LOG_WARN, "store",
		       "nested write refused (a write is already running "
		       "on this thread)");
		return FG_ERR_BUSY;
	}
	enum fg_err err = FG_ERR_STORE;
	uint64_t gen = 0;
	uint32_t touched = 0;
	pthread_mutex_lock(&db->write_lock);
	tls_in_write = true;
	for (int attempt = 0; attempt < DB_WRITE_ATTEMPTS_MAX; attempt++) {
		struct db_txn t = {.db = db, .write = true};
		int rc = mdb_txn_begin(db->env, NULL, 0, &t.txn);
		if (rc == MDB_MAP_RESIZED) {
			err = adopt_map_locked(db, 0);
			if (err)
				break;
			continue;
		}
		if (rc) {
			err = db__mdb_fail(NULL, rc, "starting a write transaction");
			break;
		}
		err = fn(&t, ctx);
		if (err == FG_OK && !t.map_full)
			err = commit(&t, &gen);
		else
			mdb_txn_abort(t.txn);
		if (t.map_full) {
			err = grow_map_locked(db);
			if (err)
				break;
			err = FG_ERR_STORE;
			continue;
		}
		touched = t.touched;
		break;
	}
	tls_in_write = false;
	pthread_mutex_unlock(&db->write_lock);
	if (err == FG_OK && touched)
		notify(db, gen, touched);
	return err;
}

int db_watch(struct db *db, db_watch_cb cb, void *ctx)
{
	int handle = -1;
	pthread_mutex_lock(&db->lock);
	for (int i = 0; i < DB_WATCH_MAX; i++) {
		if (!db->watchers[i].cb) {
			db->watchers[i] = (struct db_watch_slot){cb, ctx};
			handle = i;
			break;
		}
	}
	pthread_mutex_unlock(&db->lock);
	return handle;
}

void db_unwatch(struct db *db, int handle)
{
	if (handle < 0 || handle >= DB_WATCH_MAX)
		return;
	pthread_mutex_lock(&db->lock);
	db->watchers[handle] = (struct db_watch_slot){0};
	pthread_mutex_unlock(&db->lock);
}

/* ---- usage, snapshot, ids -------------------------------------------------------------- */

enum fg_err db_usage(struct db *db, uint64_t *used_bytes, uint64_t *map_bytes)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(db->env, &info);
	if (!rc)
		rc = mdb_env_stat(db->env, &st);
	if (rc)
		return db__mdb_fail(NULL, rc, "reading map usage");
	*used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	*map_bytes = info.me_mapsize;
	return FG_OK;
}

enum fg_err db_snapshot(struct db *db, const char *path)
{
	enum fg_err err = FG_OK;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fg_log(FG_LOG_ERR, "store", "cannot create snapshot %s: %s", path, strerror(errno));
		return FG_ERR_IO;
	}
	if (fchmod(fd, 0600) != 0) {
		fg_log(FG_LOG_ERR, "store", "cannot set mode 0600 on %s: %s", path,
		       strerror(errno));
		err = FG_ERR_IO;
		goto out;
	}
	/* The copy runs in its own read transaction: count it so the map is not resized. */
	pthread_mutex_lock(&db->lock);
	db->readers++;
	pthread_mutex_unlock(&db->lock);
	int rc = mdb_env_copyfd2(db->env, fd, MDB_CP_COMPACT);
	pthread_mutex_lock(&db->lock);
	db->readers--;
	pthread_mutex_unlock(&db->lock);
	if (rc) {
		err = db__mdb_fail(NULL, rc, "writing a snapshot");
		goto out;
	}
	if (fsync(fd) != 0) {
		fg_log(FG_LOG_ERR, "store", "cannot sync snapshot %s: %s", path, strerror(errno));
		err = FG_ERR_IO;
	}
out:
	if (close(fd) != 0 && !err)
		err = FG_ERR_IO;
	/* A partial snapshot must not be mistaken for a backup. */
	if (err)
		unlink(path);
	return err;
}

bool db_id_valid(const char *id)
{
	size_t len = strlen(id);
	if (len != DB_ID_MAX - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

void db_new_id(char out[DB_ID_MAX])
{
	uint8_t raw[(DB_ID_MAX - 1) / 2];
	fg_random(raw, sizeof raw);
	fg_hex(out, raw, sizeof raw);
}
