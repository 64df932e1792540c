/* db: the bounded log and audit trail (sequence-keyed), faults and object status. */
#include "db/db_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define META_LOG_SEQ   "log.seq"
#define META_AUDIT_SEQ "audit.seq"

/* Keys of the log and the audit trail: 8-byte big-endian sequence numbers, so LMDB's
 * byte order is time order and the oldest record is the first. */
static void seq_key(uint8_t out[8], uint64_t seq)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(seq & 0xff);
		seq >>= 8;
	}
}

static uint64_t seq_of(const MDB_val *k)
{
	uint64_t v = 0;
	if (k->mv_size != 8)
		return 0;
	const uint8_t *p = k->mv_data;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Appends under the next sequence number and drops the oldest records past max. */
static enum fg_err seq_append(struct db_txn *txn, enum db_kind kind, const char *seq_name,
                              size_t max, const char *json)
{
	uint64_t seq;
	enum fg_err err = db__meta_get(txn, seq_name, &seq);
	if (err)
		return err;
	seq++;
	uint8_t key[8];
	seq_key(key, seq);
	err = db__raw_put(txn, kind, key, sizeof key, json, strlen(json));
	if (!err)
		err = db__meta_set(txn, seq_name, seq);
	if (err)
		return err;
	MDB_stat st;
	int rc = mdb_stat(txn->txn, txn->db->dbi[kind], &st);
	if (rc)
		return db__mdb_fail(txn, rc, "counting records");
	if (st.ms_entries <= max)
		return FG_OK;
	MDB_cursor *cur;
	rc = mdb_cursor_open(txn->txn, txn->db->dbi[kind], &cur);
	if (rc)
		return db__mdb_fail(txn, rc, "trimming records");
	MDB_val k, v;
	for (size_t drop = st.ms_entries - max; drop > 0 && rc == 0; drop--) {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		if (!rc)
			rc = mdb_cursor_del(cur, 0);
	}
	mdb_cursor_close(cur);
	return rc ? db__mdb_fail(txn, rc, "trimming records") : FG_OK;
}

typedef bool (*seq_match_fn)(const void *obj, const void *filter);

/* A text filter can be tried on a record's stored bytes before decoding it when the text
 * has nothing JSON would escape (jansson escapes only '"', '\\' and control characters). */
static bool text_prefilterable(const char *text)
{
	if (!text || !*text)
		return false;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p == '"' || *p == '\\' || *p < 0x20)
			return false;
	return true;
}

/* Whether the bytes contain text, ASCII case-insensitively (as strcasestr compares). */
static bool raw_contains(const char *hay, size_t n, const char *text, size_t tlen)
{
	unsigned char lo = (unsigned char)tolower((unsigned char)text[0]);
	unsigned char up = (unsigned char)toupper((unsigned char)text[0]);
	for (size_t i = 0; i + tlen <= n; i++) {
		unsigned char c = (unsigned char)hay[i];
		if ((c == lo || c == up) && strncasecmp(hay + i, text, tlen) == 0)
			return true;
	}
	return false;
}

/* Newest first: counts every match in *total and keeps [offset, offset + limit). A NULL
 * match takes every record: then only the kept page is decoded (the console's default). */
static enum fg_err seq_query(struct db_txn *txn, const struct db_rec_desc *d, size_t seq_off,
                             seq_match_fn match, const void *filter, const char *text,
                             size_t offset, size_t limit, void **out, size_t *count, size_t *total)
{
	*out = NULL;
	*count = 0;
	*total = 0;
	MDB_cursor *cur = NULL;
	enum fg_err err = FG_OK;
	char *arr = NULL, *obj = NULL;
	size_t n = 0, cap = 0, matches = 0;
	bool all = match == NULL;
	size_t tlen = text_prefilterable(text) ? strlen(text) : 0;
	MDB_stat st;
	int rc = mdb_stat(txn->txn, txn->db->dbi[d->kind], &st);
	if (rc)
		return db__mdb_fail(txn, rc, "counting records");
	obj = malloc(d->size);
	if (!obj)
		return FG_ERR_NOMEM;
	rc = mdb_cursor_open(txn->txn, txn->db->dbi[d->kind], &cur);
	if (rc) {
		err = db__mdb_fail(txn, rc, "reading records");
		goto out;
	}
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		if (all) {
			if (++matches <= offset)
				continue;
			if (limit && n >= limit)
				break;
		}
		/* Most records miss a text search: skip those without decoding them. */
		if (!all && tlen && !raw_contains(v.mv_data, v.mv_size, text, tlen))
			continue;
		err = db__rec_decode(d, v.mv_data, v.mv_size, obj);
		if (err)
			goto out;
		uint64_t seq = seq_of(&k);
		memcpy(obj + seq_off, &seq, sizeof seq);
		if (!all) {
			if (!match(obj, filter))
				continue;
			matches++;
			if (matches <= offset || (limit && n >= limit))
				continue;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char *p = realloc(arr, ncap * d->size);
			if (!p) {
				err = FG_ERR_NOMEM;
				goto out;
			}
			arr = p;
			cap = ncap;
		}
		memcpy(arr + n * d->size, obj, d->size);
		n++;
	}
	if (rc != MDB_NOTFOUND && !(all && rc == 0))
		err = db__mdb_fail(txn, rc, "reading records");
	if (all)
		matches = st.ms_entries;
out:
	mdb_cursor_close(cur);
	free(obj);
	if (err) {
		free(arr);
		return err;
	}
	if (!arr)
		arr = calloc(1, d->size); /* an empty result is still a valid array */
	if (!arr)
		return FG_ERR_NOMEM;
	*out = arr;
	*count = n;
	*total = matches;
	return FG_OK;
}

/* ---- log ------------------------------------------------------------------------------- */

static const struct db_field log_fields[] = {
    DB_FLD(struct db_log_entry, time_ms, DB_F_I64, 0),
    DB_FLD(struct db_log_entry, level, DB_F_ENUM, FG_LOG_ERR),
    DB_FLD(struct db_log_entry, subsys, DB_F_STR, 0),
    DB_FLD(struct db_log_entry, msg, DB_F_STR, 0),
};

static const struct db_rec_desc log_desc = {
    .kind = DB_KIND_LOG,
    .size = sizeof(struct db_log_entry),
    .fields = log_fields,
    .nfields = sizeof log_fields / sizeof log_fields[0],
};

enum fg_err db_log_append(struct db_txn *txn, int64_t time_ms, enum fg_log_level level,
                          const char *subsys, const char *msg)
{
	if (!txn->write || (unsigned)level > FG_LOG_ERR)
		return FG_ERR_INVAL;
	struct db_log_entry *e = calloc(1, sizeof *e);
	if (!e)
		return FG_ERR_NOMEM;
	e->time_ms = time_ms;
	e->level = level;
	/* Log lines are bounded already (FG_LOG_MSG_MAX); a longer one is cut, not refused. */
	fg_strlcpy(e->subsys, subsys ? subsys : "", sizeof e->subsys);
	fg_strlcpy(e->msg, msg ? msg : "", sizeof e->msg);
	/* Peer bytes may reach a log line: never let one make the record unwritable. */
	db__utf8_sanitize(e->subsys);
	db__utf8_sanitize(e->msg);
	char *json = NULL;
	enum fg_err err = db__rec_encode(&log_desc, e, &json);
	if (!err)
		err = seq_append(txn, DB_KIND_LOG, META_LOG_SEQ, txn->db->log_max, json);
	free(json);
	free(e);
	return err;
}

static bool log_match(const void *obj, const void *filter)
{
	const struct db_log_entry *e = obj;
	const struct db_log_filter *f = filter;
	if (e->level < f->min_level)
		return false;
	if (f->text && *f->text && !strcasestr(e->subsys, f->text) && !strcasestr(e->msg, f->text))
		return false;
	return true;
}

enum fg_err db_log_query(struct db_txn *txn, const struct db_log_filter *filter,
                         struct db_log_entry **out, size_t *count, size_t *total)
{
	static const struct db_log_filter any = {0};
	if (!filter)
		filter = &any;
	bool all = filter->min_level <= FG_LOG_DEBUG && (!filter->text || !*filter->text);
	return seq_query(txn, &log_desc, offsetof(struct db_log_entry, seq), all ? NULL : log_match,
	                 filter, filter->text, filter->offset, filter->limit, (void **)out, count,
	                 total);
}

enum fg_err db_log_clear(struct db_txn *txn, size_t *removed)
{
	if (removed)
		*removed = 0;
	if (!txn->write)
		return FG_ERR_INVAL;
	MDB_stat st;
	int rc = mdb_stat(txn->txn, txn->db->dbi[DB_KIND_LOG], &st);
	if (!rc)
		rc = mdb_drop(txn->txn, txn->db->dbi[DB_KIND_LOG], 0);
	if (rc)
		return db__mdb_fail(txn, rc, "clearing the log");
	txn->touched |= 1u << DB_KIND_LOG;
	if (removed)
		*removed = st.ms_entries;
	return FG_OK;
}

void db_log_list_free(struct db_log_entry *entries, size_t count)
{
	(void)count;
	free(entries);
}

/* ---- audit trail ----------------------------------------------------------------------- */

static const struct db_field audit_fields[] = {
    DB_FLD(struct db_audit_entry, time_ms, DB_F_I64, 0),
    DB_FLD(struct db_audit_entry, actor, DB_F_STR, 0),
    DB_FLD(struct db_audit_entry, source, DB_F_STR, 0),
    DB_FLD(struct db_audit_entry, action, DB_F_STR, 0),
    DB_FLD(struct db_audit_entry, detail, DB_F_STR, 0),
    DB_FLD(struct db_audit_entry, ok, DB_F_BOOL, 0),
};

static const struct db_rec_desc audit_desc = {
    .kind = DB_KIND_AUDIT,
    .size = sizeof(struct db_audit_entry),
    .fields = audit_fields,
    .nfields = sizeof audit_fields / sizeof audit_fields[0],
};

enum fg_err db_audit_append(struct db_txn *txn, const struct db_audit_entry *entry)
{
	if (!txn->write || !entry)
		return FG_ERR_INVAL;
	struct db_audit_entry *e = malloc(sizeof *e);
	if (!e)
		return FG_ERR_NOMEM;
	*e = *entry;
	/* The trail must record even a request with malformed text in it. */
	e->actor[sizeof e->actor - 1] = '\0';
	e->source[sizeof e->source - 1] = '\0';
	e->action[sizeof e->action - 1] = '\0';
	e->detail[sizeof e->detail - 1] = '\0';
	db__utf8_sanitize(e->actor);
	db__utf8_sanitize(e->source);
	db__utf8_sanitize(e->action);
	db__utf8_sanitize(e->detail);
	char *json = NULL;
	enum fg_err err = db__rec_encode(&audit_desc, e, &json);
	free(e);
	if (!err)
		err = seq_append(txn, DB_KIND_AUDIT, META_AUDIT_SEQ, txn->db->audit_max, json);
	free(json);
	return err;
}

static bool audit_match(const void *obj, const void *filter)
{
	const struct db_audit_entry *e = obj;
	const char *text = ((const struct db_audit_filter *)filter)->text;
	if (!text || !*text)
		return true;
	return strcasestr(e->actor, text) || strcasestr(e->action, text) ||
	       strcasestr(e->detail, text);
}

enum fg_err db_audit_query(struct db_txn *txn, const struct db_audit_filter *filter,
                           struct db_audit_entry **out, size_t *count, size_t *total)
{
	static const struct db_audit_filter any = {0};
	if (!filter)
		filter = &any;
	bool all = !filter->text || !*filter->text;
	return seq_query(txn, &audit_desc, offsetof(struct db_audit_entry, seq),
	                 all ? NULL : audit_match, filter, filter->text, filter->offset,
	                 filter->limit, (void **)out, count, total);
}

void db_audit_list_free(struct db_audit_entry *entries, size_t count)
{
	(void)count;
	free(entries);
}

/* ---- faults ---------------------------------------------------------------------------- */

static const struct db_field fault_fields[] = {
    DB_FLD(struct db_fault, id, DB_F_STR, 0),
    DB_FLD(struct db_fault, object, DB_F_STR, 0),
    DB_FLD(struct db_fault, condition, DB_F_STR, 0),
    DB_FLD(struct db_fault, cause, DB_F_STR, 0),
    DB_FLD(struct db_fault, fix, DB_F_STR, 0),
    DB_FLD(struct db_fault, detail, DB_F_STR, 0),
    DB_FLD(struct db_fault, severity, DB_F_ENUM, FG_LOG_ERR),
    DB_FLD(struct db_fault, raised_ms, DB_F_I64, 0),
    DB_FLD(struct db_fault, cleared_ms, DB_F_I64, 0),
};

static const struct db_rec_desc fault_desc = {
    .kind = DB_KIND_FAULT,
    .size = sizeof(struct db_fault),
    .fields = fault_fields,
    .nfields = sizeof fault_fields / sizeof fault_fields[0],
    .key_off = offsetof(struct db_fault, id),
    .key_size = sizeof(((struct db_fault *)0)->id),
};

enum fg_err db_fault_put(struct db_txn *txn, const struct db_fault *fault)
{
	return db__rec_put(txn, &fault_desc, fault);
}

enum fg_err db_fault_get(struct db_txn *txn, const char *id, struct db_fault *out)
{
	return db__rec_get(txn, &fault_desc, id, out);
}

static int fault_order(const void *a, const void *b)
{
	const struct db_fault *x = a, *y = b;
	bool xa = x->cleared_ms == 0, ya = y->cleared_ms == 0;
	if (xa != ya)
		return xa ? -1 : 1;
	int64_t tx = xa ? x->raised_ms : x->cleared_ms;
	int64_t ty = ya ? y->raised_ms : y->cleared_ms;
	if (tx != ty)
		return tx > ty ? -1 : 1;
	return strcmp(x->id, y->id);
}

enum fg_err db_fault_list(struct db_txn *txn, struct db_fault **out, size_t *count)
{
	enum fg_err err = db__rec_list(txn, &fault_desc, (void **)out, count);
	if (!err)
		qsort(*out, *count, sizeof **out, fault_order);
	return err;
}

static bool fault_stale(const void *obj, const void *arg)
{
	const struct db_fault *f = obj;
	return f->cleared_ms != 0 && f->cleared_ms < *(const int64_t *)arg;
}

enum fg_err db_fault_prune(struct db_txn *txn, int64_t cleared_before_ms)
{
	return db__rec_delete_if(txn, &fault_desc, fault_stale, &cleared_before_ms, NULL);
}

void db_fault_list_free(struct db_fault *faults, size_t count)
{
	(void)count;
	free(faults);
}

/* ---- object status --------------------------------------------------------------------- */

static const struct db_field status_fields[] = {
    DB_FLD(struct db_status, id, DB_F_STR, 0),     DB_FLD(struct db_status, kind, DB_F_STR, 0),
    DB_FLD(struct db_status, name, DB_F_STR, 0),   DB_FLD(struct db_status, state, DB_F_STR, 0),
    DB_FLD(struct db_status, reason, DB_F_STR, 0), DB_FLD(struct db_status, since_ms, DB_F_I64, 0),
    DB_FLD(struct db_status, extra, DB_F_STR, 0),
};

static const struct db_rec_desc status_desc = {
    .kind = DB_KIND_STATUS,
    .size = sizeof(struct db_status),
    .fields = status_fields,
    .nfields = sizeof status_fields / sizeof status_fields[0],
    .key_off = offsetof(struct db_status, id),
    .key_size = sizeof(((struct db_status *)0)->id),
};

enum fg_err db_status_put(struct db_txn *txn, const struct db_status *st)
{
	return db__rec_put(txn, &status_desc, st);
}

enum fg_err db_status_del(struct db_txn *txn, const char *id)
{
	return db__rec_del(txn, &status_desc, id);
}

enum fg_err db_status_list(struct db_txn *txn, struct db_status **out, size_t *count)
{
	return db__rec_list(txn, &status_desc, (void **)out, count);
}

enum fg_err db_status_clear_all(struct db_txn *txn)
{
	if (!txn->write)
		return FG_ERR_INVAL;
	int rc = mdb_drop(txn->txn, txn->db->dbi[DB_KIND_STATUS], 0);
	if (rc)
		return db__mdb_fail(txn, rc, "clearing object status");
	txn->touched |= 1u << DB_KIND_STATUS;
	return FG_OK;
}

void db_status_list_free(struct db_status *st, size_t count)
{
	(void)count;
	free(st);
}
