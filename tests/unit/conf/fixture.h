/* Test fixture shared by the configuration tests (conf, xmppconf, sipconf, certs): a store in
 * a temporary folder, JSON from text and the newest audit entry. Include after <cmocka.h>. */
#ifndef FEDGW_TEST_CONF_FIXTURE_H
#define FEDGW_TEST_CONF_FIXTURE_H

#include "db/db.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A new store in /tmp/fedgw-<name>-XXXXXX (dir holds 64 bytes); 0 or -1 as cmocka's setup. */
static inline int fx_store_open(char dir[64], struct db **db, const char *name)
{
	snprintf(dir, 64, "/tmp/fedgw-%s-XXXXXX", name);
	if (mkdtemp(dir) == NULL || db_open(db, dir) != FG_OK)
		return -1;
	return 0;
}

/* Closes the store and removes its folder; 0 or -1 as cmocka's teardown. */
static inline int fx_store_close(const char *dir, struct db *db)
{
	char cmd[128];
	db_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
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

#endif
