/* db: versioned JSON records ({"fmt":N,...}, compact jansson) described by field tables. */
#include "db/db_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(enum db_cert_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum fg_log_level) == sizeof(int), "enums are stored as int");

static int rec_fmt(const struct db_rec_desc *d)
{
	return d->fmt ? d->fmt : DB_RECORD_FMT;
}

void db__utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t left = strlen(s);
	while (*p) {
		size_t n = fg_utf8_decode(p, left, NULL);
		left -= n == 0 ? 1 : n;
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

static enum fg_err encode_field(const struct db_field *f, const void *obj, json_t *o)
{
	const char *p = (const char *)obj + f->off;
	json_t *v = NULL;
	switch (f->type) {
	case DB_F_STR:
		/* The struct's array must hold a terminated string: never read past it. */
		if (strnlen(p, f->size) >= f->size)
			return FG_ERR_INVAL;
		v = json_stringn(p, strlen(p));
		break;
	case DB_F_I64: {
		int64_t x;
		memcpy(&x, p, sizeof x);
		v = json_integer((json_int_t)x);
		break;
	}
	case DB_F_U16: {
		uint16_t x;
		memcpy(&x, p, sizeof x);
		v = json_integer(x);
		break;
	}
	case DB_F_BOOL: {
		bool x;
		memcpy(&x, p, sizeof x);
		v = json_boolean(x);
		break;
	}
	case DB_F_ENUM: {
		int x;
		memcpy(&x, p, sizeof x);
		if (x < 0 || x > f->max)
			return FG_ERR_INVAL;
		v = json_integer(x);
		break;
	}
	case DB_F_PEM: {
		const char *s;
		memcpy(&s, p, sizeof s);
		if (!s)
			s = "";
		if (strlen(s) > DB_PEM_MAX)
			return FG_ERR_TOOBIG;
		v = json_string(s);
		if (!v)
			return FG_ERR_INVAL; /* not UTF-8: PEM is ASCII */
		break;
	}
	}
	if (!v)
		return f->type == DB_F_STR ? FG_ERR_INVAL : FG_ERR_NOMEM;
	return json_object_set_new(o, f->name, v) ? FG_ERR_NOMEM : FG_OK;
}

enum fg_err db__rec_encode(const struct db_rec_desc *d, const void *obj, char **json)
{
	*json = NULL;
	enum fg_err err = FG_OK;
	json_t *o = json_object();
	if (!o)
		return FG_ERR_NOMEM;
	if (json_object_set_new(o, "fmt", json_integer(rec_fmt(d)))) {
		err = FG_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->nfields && !err; i++)
		err = encode_field(&d->fields[i], obj, o);
	if (err)
		goto out;
	*json = json_dumps(o, JSON_COMPACT);
	if (!*json)
		err = FG_ERR_NOMEM;
out:
	json_decref(o);
	return err;
}

static enum fg_err decode_field(const struct db_field *f, json_t *v, void *obj)
{
	char *p = (char *)obj + f->off;
	switch (f->type) {
	case DB_F_STR: {
		if (!json_is_string(v))
			return FG_ERR_PARSE;
		size_t n = json_string_length(v);
		const char *s = json_string_value(v);
		if (n >= f->size || strlen(s) != n)
			return FG_ERR_PARSE;
		memcpy(p, s, n + 1);
		return FG_OK;
	}
	case DB_F_I64: {
		if (!json_is_integer(v))
			return FG_ERR_PARSE;
		int64_t x = json_integer_value(v);
		memcpy(p, &x, sizeof x);
		return FG_OK;
	}
	case DB_F_U16: {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT16_MAX)
			return FG_ERR_PARSE;
		uint16_t x = (uint16_t)json_integer_value(v);
		memcpy(p, &x, sizeof x);
		return FG_OK;
	}
	case DB_F_BOOL: {
		if (!json_is_boolean(v))
			return FG_ERR_PARSE;
		bool x = json_is_true(v);
		memcpy(p, &x, sizeof x);
		return FG_OK;
	}
	case DB_F_ENUM: {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > f->max)
			return FG_ERR_PARSE;
		int x = (int)json_integer_value(v);
		memcpy(p, &x, sizeof x);
		return FG_OK;
	}
	case DB_F_PEM: {
		if (!json_is_string(v) || json_string_length(v) > DB_PEM_MAX)
			return FG_ERR_PARSE;
		char *s = strdup(json_string_value(v));
		if (!s)
			return FG_ERR_NOMEM;
		memcpy(p, &s, sizeof s);
		return FG_OK;
	}
	}
	return FG_ERR_PARSE;
}

void db__rec_clear(const struct db_rec_desc *d, void *obj)
{
	if (!obj)
		return;
	for (size_t i = 0; i < d->nfields; i++) {
		const struct db_field *f = &d->fields[i];
		if (f->type != DB_F_PEM)
			continue;
		char *s;
		memcpy(&s, (char *)obj + f->off, sizeof s);
		if (s && d->wipe)
			explicit_bzero(s, strlen(s));
		free(s);
		s = NULL;
		memcpy((char *)obj + f->off, &s, sizeof s);
	}
	if (d->wipe)
		explicit_bzero(obj, d->size);
}

void db__rec_list_free(const struct db_rec_desc *d, void *arr, size_t count)
{
	if (!arr)
		return;
	for (size_t i = 0; i < count; i++)
		db__rec_clear(d, (char *)arr + i * d->size);
	free(arr);
}

enum fg_err db__rec_decode(const struct db_rec_desc *d, const void *data, size_t len, void *obj)
{
	memset(obj, 0, d->size);
	json_error_t jerr;
	enum fg_err err = FG_OK;
	json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		fg_log(FG_LOG_ERR, "store", "a %s record is not a JSON object",
		       db_kind_name(d->kind));
		err = FG_ERR_PARSE;
		goto out;
	}
	json_t *fmt = json_object_get(o, "fmt");
	if (!json_is_integer(fmt) || json_integer_value(fmt) < 1) {
		fg_log(FG_LOG_ERR, "store", "a %s record has no valid format version",
		       db_kind_name(d->kind));
		err = FG_ERR_PARSE;
		goto out;
	}
	json_int_t version = json_integer_value(fmt);
	if (version > rec_fmt(d)) {
		fg_log(FG_LOG_ERR, "store",
		       "a %s record has format %lld, newer than the %d this program understands",
		       db_kind_name(d->kind), (long long)version, rec_fmt(d));
		err = FG_ERR_VERSION;
		goto out;
	}
	/* Older records are upgraded in memory; the next put stores the current format. */
	if (version < rec_fmt(d) && d->upgrade) {
		err = d->upgrade(o, (int)version);
		if (err)
			goto out;
	}
	/* A field missing from an older record keeps its zero default. */
	for (size_t i = 0; i < d->nfields && !err; i++) {
		json_t *v = json_object_get(o, d->fields[i].name);
		if (v)
			err = decode_field(&d->fields[i], v, obj);
	}
	if (err) {
		fg_log(FG_LOG_ERR, "store", "a %s record is malformed", db_kind_name(d->kind));
		db__rec_clear(d, obj);
		memset(obj, 0, d->size);
	}
out:
	json_decref(o);
	return err;
}

/* ---- keys ------------------------------------------------------------------------------ */

static enum fg_err make_key(const struct db_rec_desc *d, const char *key, char *buf, size_t bufsize,
                            MDB_val *k)
{
	if (!key)
		return FG_ERR_INVAL;
	size_t n = strnlen(key, d->key_size);
	if (n == 0 || n >= d->key_size || n >= bufsize || n > DB_KEY_MAX)
		return n == 0 ? FG_ERR_INVAL : FG_ERR_TOOBIG;
	for (size_t i = 0; i < n; i++)
		buf[i] = d->key_lower ? (char)tolower((unsigned char)key[i]) : key[i];
	buf[n] = '\0';
	k->mv_size = n;
	k->mv_data = buf;
	return FG_OK;
}

static void wipe_free(const struct db_rec_desc *d, char *json)
{
	if (json && d->wipe)
		explicit_bzero(json, strlen(json));
	free(json);
}

/* ---- generic CRUD ---------------------------------------------------------------------- */

enum fg_err db__rec_get(struct db_txn *txn, const struct db_rec_desc *d, const char *key, void *obj)
{
	char kb[DB_KEY_MAX + 1];
	MDB_val k, v;
	memset(obj, 0, d->size);
	enum fg_err err = make_key(d, key, kb, sizeof kb, &k);
	if (err)
		return err == FG_ERR_TOOBIG ? FG_ERR_NOTFOUND : err;
	int rc = mdb_get(txn->txn, txn->db->dbi[d->kind], &k, &v);
	if (rc)
		return db__mdb_fail(txn, rc, "reading a record");
	return db__rec_decode(d, v.mv_data, v.mv_size, obj);
}

enum fg_err db__rec_put(struct db_txn *txn, const struct db_rec_desc *d, const void *obj)
{
	if (!txn->write)
		return FG_ERR_INVAL;
	char kb[DB_KEY_MAX + 1];
	MDB_val k;
	enum fg_err err = make_key(d, (const char *)obj + d->key_off, kb, sizeof kb, &k);
	if (err)
		return err;
	char *json = NULL;
	err = db__rec_encode(d, obj, &json);
	if (err)
		return err;
	MDB_val v = {strlen(json), json};
	int rc = mdb_put(txn->txn, txn->db->dbi[d->kind], &k, &v, 0);
	wipe_free(d, json);
	if (rc)
		return db__mdb_fail(txn, rc, "writing a record");
	txn->touched |= 1u << d->kind;
	return FG_OK;
}

enum fg_err db__rec_del(struct db_txn *txn, const struct db_rec_desc *d, const char *key)
{
	if (!txn->write)
		return FG_ERR_INVAL;
	char kb[DB_KEY_MAX + 1];
	MDB_val k;
	enum fg_err err = make_key(d, key, kb, sizeof kb, &k);
	if (err)
		return err == FG_ERR_TOOBIG ? FG_ERR_NOTFOUND : err;
	int rc = mdb_del(txn->txn, txn->db->dbi[d->kind], &k, NULL);
	if (rc)
		return db__mdb_fail(txn, rc, "deleting a record");
	txn->touched |= 1u << d->kind;
	return FG_OK;
}

enum fg_err db__rec_list(struct db_txn *txn, const struct db_rec_desc *d, void **out, size_t *count)
{
	*out = NULL;
	*count = 0;
	MDB_stat st;
	MDB_cursor *cur = NULL;
	char *arr = NULL;
	size_t n = 0;
	enum fg_err err = FG_OK;
	int rc = mdb_stat(txn->txn, txn->db->dbi[d->kind], &st);
	if (rc)
		return db__mdb_fail(txn, rc, "counting records");
	/* One spare slot so an empty list is still a valid allocation. */
	arr = calloc(st.ms_entries + 1, d->size);
	if (!arr)
		return FG_ERR_NOMEM;
	rc = mdb_cursor_open(txn->txn, txn->db->dbi[d->kind], &cur);
	if (rc) {
		err = db__mdb_fail(txn, rc, "listing records");
		goto out;
	}
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < st.ms_entries;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		err = db__rec_decode(d, v.mv_data, v.mv_size, arr + n * d->size);
		if (err)
			goto out;
		n++;
	}
	if (rc && rc != MDB_NOTFOUND)
		err = db__mdb_fail(txn, rc, "listing records");
out:
	mdb_cursor_close(cur);
	if (err) {
		db__rec_list_free(d, arr, n);
		return err;
	}
	*out = arr;
	*count = n;
	return FG_OK;
}

enum fg_err db__rec_delete_if(struct db_txn *txn, const struct db_rec_desc *d, db_rec_pred pred,
                              const void *arg, size_t *removed)
{
	if (removed)
		*removed = 0;
	if (!txn->write)
		return FG_ERR_INVAL;
	MDB_cursor *cur = NULL;
	enum fg_err err = FG_OK;
	size_t n = 0;
	void *obj = malloc(d->size);
	if (!obj)
		return FG_ERR_NOMEM;
	int rc = mdb_cursor_open(txn->txn, txn->db->dbi[d->kind], &cur);
	if (rc) {
		err = db__mdb_fail(txn, rc, "scanning records");
		goto out;
	}
	MDB_val k, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		err = db__rec_decode(d, v.mv_data, v.mv_size, obj);
		if (err)
			goto out;
		bool hit = pred(obj, arg);
		db__rec_clear(d, obj);
		if (hit) {
			rc = mdb_cursor_del(cur, 0);
			if (rc) {
				err = db__mdb_fail(txn, rc, "deleting a record");
				goto out;
			}
			n++;
		}
		/* After mdb_cursor_del, MDB_NEXT yields the record that followed the deleted one.
		 */
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != MDB_NOTFOUND)
		err = db__mdb_fail(txn, rc, "scanning records");
	if (n)
		txn->touched |= 1u << d->kind;
out:
	mdb_cursor_close(cur);
	free(obj);
	if (removed)
		*removed = n;
	return err;
}

/* ---- raw access ------------------------------------------------------------------------ */

enum fg_err db__raw_put(struct db_txn *txn, enum db_kind kind, const void *key, size_t klen,
                        const void *val, size_t vlen)
{
	if (!txn->write || (unsigned)kind >= DB_KIND__COUNT)
		return FG_ERR_INVAL;
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc = mdb_put(txn->txn, txn->db->dbi[kind], &k, &v, 0);
	if (rc)
		return db__mdb_fail(txn, rc, "writing a record");
	txn->touched |= 1u << kind;
	return FG_OK;
}

enum fg_err db__raw_get(struct db_txn *txn, enum db_kind kind, const void *key, size_t klen,
                        char **json)
{
	*json = NULL;
	if ((unsigned)kind >= DB_KIND__COUNT)
		return FG_ERR_INVAL;
	MDB_val k = {klen, (void *)key}, v;
	int rc = mdb_get(txn->txn, txn->db->dbi[kind], &k, &v);
	if (rc)
		return db__mdb_fail(txn, rc, "reading a record");
	*json = malloc(v.mv_size + 1);
	if (!*json)
		return FG_ERR_NOMEM;
	memcpy(*json, v.mv_data, v.mv_size);
	(*json)[v.mv_size] = '\0';
	return FG_OK;
}
