/* db: internals shared by the store's source files and its tests (not a public contract). */
#ifndef FEDGW_DB_INTERNAL_H
#define FEDGW_DB_INTERNAL_H

#include "db/db.h"

#include <jansson.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>

/* Initial map: room for thousands of certificates and the full log and audit trail. */
#define DB_MAP_INITIAL_BYTES (64ULL << 20)
/* Growth stops here: an appliance store this large means something is writing garbage. */
#define DB_MAP_MAX_BYTES (64ULL << 30)
/* A write is retried at most this often (each retry after the map doubled or was adopted). */
#define DB_WRITE_ATTEMPTS_MAX 24
#define DB_WATCH_MAX          16
/* LMDB's default maximum key size (mdb_env_get_maxkeysize). */
#define DB_KEY_MAX 511
/* PEM blobs: a large CA bundle (the Mozilla set is ~220 KiB) fits with room to spare. */
#define DB_PEM_MAX ((size_t)1 << 20)
/* Format version of records ("fmt" inside each JSON object) unless a kind sets its own. */
#define DB_RECORD_FMT 1

struct db_watch_slot {
	db_watch_cb cb;
	void *ctx;
};

struct db {
	MDB_env *env;
	MDB_dbi meta;
	MDB_dbi dbi[DB_KIND__COUNT];
	char dir[PATH_MAX];
	/* Serialises db_write and map resizes inside this process. */
	pthread_mutex_t write_lock;
	/* Guards readers and watchers; never held while calling out or logging. */
	pthread_mutex_t lock;
	unsigned readers; /* read transactions open in this process (a resize must wait) */
	struct db_watch_slot watchers[DB_WATCH_MAX];
	size_t log_max;
	size_t audit_max;
};

struct db_txn {
	struct db *db;
	MDB_txn *txn;
	bool write;
	bool map_full; /* an operation hit MDB_MAP_FULL: db_write grows the map and retries */
	uint32_t touched;
};

/* Replaces every byte that does not start a valid UTF-8 sequence with '?' (JSON strings
 * must be UTF-8; log lines and truncated text may not be). */
void db__utf8_sanitize(char *s);

/* ---- db.c ---- */
/* Translates an LMDB error: FG_ERR_NOTFOUND for MDB_NOTFOUND, FG_ERR_STORE otherwise
 * (logged with mdb_strerror; MDB_MAP_FULL marks txn so db_write grows the map). */
enum fg_err db__mdb_fail(struct db_txn *txn, int rc, const char *what);
enum fg_err db__meta_get(struct db_txn *txn, const char *key, uint64_t *val);
enum fg_err db__meta_set(struct db_txn *txn, const char *key, uint64_t val);
/* Test entry point: opens with a given initial map size (applied before mdb_env_open). */
enum fg_err db__open_mapsize(struct db **out, const char *dir, uint64_t map_bytes);
/* Test entry point: lowers the log and audit bounds of this handle. */
void db__set_limits(struct db *db, size_t log_max, size_t audit_max);

/* ---- record.c: JSON records described by field tables ---- */
enum db_field_type {
	DB_F_STR,  /* char[size], NUL-terminated */
	DB_F_I64,  /* int64_t */
	DB_F_U16,  /* uint16_t */
	DB_F_BOOL, /* bool */
	DB_F_ENUM, /* int-sized enum in [0, max] */
	DB_F_PEM,  /* char *, heap, owned by the record */
};

struct db_field {
	const char *name;
	enum db_field_type type;
	size_t off;
	size_t size;
	int max;
};

#define DB_FLD(type, member, ftype, maxv)                                                          \
	{                                                                                          \
#member, ftype, offsetof(type, member), sizeof(((type *)0)->member), maxv          \
	}

struct db_rec_desc {
	enum db_kind kind;
	size_t size;
	const struct db_field *fields;
	size_t nfields;
	size_t key_off; /* a DB_F_STR field used as the key; unused for sequence kinds */
	size_t key_size;
	bool key_lower; /* domain names: RFC 4343, compare case-insensitively */
	bool wipe;      /* private material: wipe buffers before freeing them */
	int fmt;        /* this kind's current format version (0: DB_RECORD_FMT) */
	/* Upgrades a record of an older fmt in place (NULL: nothing changed yet). */
	enum fg_err (*upgrade)(json_t *obj, int from_fmt);
};

enum fg_err db__rec_encode(const struct db_rec_desc *d, const void *obj, char **json);
enum fg_err db__rec_decode(const struct db_rec_desc *d, const void *data, size_t len, void *obj);
void db__rec_clear(const struct db_rec_desc *d, void *obj);
void db__rec_list_free(const struct db_rec_desc *d, void *arr, size_t count);

enum fg_err db__rec_get(struct db_txn *txn, const struct db_rec_desc *d, const char *key,
                        void *obj);
enum fg_err db__rec_put(struct db_txn *txn, const struct db_rec_desc *d, const void *obj);
enum fg_err db__rec_del(struct db_txn *txn, const struct db_rec_desc *d, const char *key);
enum fg_err db__rec_list(struct db_txn *txn, const struct db_rec_desc *d, void **out,
                         size_t *count);
typedef bool (*db_rec_pred)(const void *obj, const void *arg);
/* Deletes every record for which pred is true; *removed (may be NULL) gets the count. */
enum fg_err db__rec_delete_if(struct db_txn *txn, const struct db_rec_desc *d, db_rec_pred pred,
                              const void *arg, size_t *removed);

/* Raw access by kind and key, for sequence-keyed kinds and for tests. */
enum fg_err db__raw_put(struct db_txn *txn, enum db_kind kind, const void *key, size_t klen,
                        const void *val, size_t vlen);
/* *json gets a malloc'd NUL-terminated copy of the stored record. */
enum fg_err db__raw_get(struct db_txn *txn, enum db_kind kind, const void *key, size_t klen,
                        char **json);

#endif
