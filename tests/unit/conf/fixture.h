/* Test fixture shared by the configuration tests (conf, xmppconf, sipconf, certs): a store in
 * a temporary folder, JSON from text, the newest audit entry, a status record and (after
 * certs/certs.h) a self-signed certificate. Include after <cmocka.h>. */
#ifndef FEDGW_TEST_CONF_FIXTURE_H
#define FEDGW_TEST_CONF_FIXTURE_H

#include "db/db.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A store in a temporary folder: the first member of each test's state. */
struct fx_store {
	char dir[64];
	struct db *db;
};

/* cmocka setup: *state = size zeroed bytes starting with a struct fx_store whose store is
 * new in /tmp/fedgw-<name>-XXXXXX. */
static inline int fx_store_new(void **state, size_t size, const char *name)
{
	struct fx_store *s = calloc(1, size);
	if (!s)
		return -1;
	*state = s;
	snprintf(s->dir, sizeof(s->dir), "/tmp/fedgw-%s-XXXXXX", name);
	if (mkdtemp(s->dir) == NULL || db_open(&s->db, s->dir) != FG_OK)
		return -1;
	return 0;
}

/* cmocka teardown: closes the store, removes its folder and frees the state. */
static inline int fx_store_free(void **state)
{
	struct fx_store *s = *state;
	char cmd[128];
	db_close(s->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	int rc = system(cmd) == 0 ? 0 : -1;
	free(s);
	return rc;
}

/* JSON from printf-style text; fails the test when it does not parse. */
static inline json_t *fx_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline json_t *fx_json(const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return j;
}

/* The newest audit entry (zeroed when there is none); *total the number of entries. */
static inline struct db_audit_entry fx_last_audit(struct db *db, size_t *total)
{
	struct db_txn *txn = NULL;
	struct db_audit_entry *list = NULL, out;
	size_t n = 0, t = 0;
	struct db_audit_filter flt = {NULL, 0, 1};
	assert_int_equal(db_txn_begin(db, &txn), FG_OK);
	assert_int_equal(db_audit_query(txn, &flt, &list, &n, &t), FG_OK);
	db_txn_end(txn);
	memset(&out, 0, sizeof(out));
	if (n > 0)
		out = list[0];
	db_audit_list_free(list, n);
	if (total)
		*total = t;
	return out;
}

static inline size_t fx_audit_count(struct db *db)
{
	size_t t = 0;
	(void)fx_last_audit(db, &t);
	return t;
}

/* Does the JSON text of j contain needle? */
static inline bool fx_has_text(json_t *j, const char *needle)
{
	char *s = json_dumps(j, JSON_ENCODE_ANY);
	bool found = s && strstr(s, needle);
	free(s);
	return found;
}

/* db_write callback storing the status record ctx (struct db_status *), as the engine does. */
static inline enum fg_err fx_status_put(struct db_txn *txn, void *ctx)
{
	return db_status_put(txn, ctx);
}

#ifdef FEDGW_CERTS_H
/* A self-signed certificate with its key named name, for cn (also its one DNS name). */
static inline void fx_selfsigned(struct db *db, const char *name, const char *cn,
                                 char id[DB_ID_MAX])
{
	const char *dns[] = {cn};
	struct certs_csr_params p = {.name = name, .cn = cn, .dns = dns, .dns_count = 1};
	char *err = NULL;
	assert_int_equal(certs_selfsigned_create(db, "admin", "cli", &p, fg_now_ms(), id, &err),
	                 FG_OK);
	free(err);
}
#endif

#endif
