/* fake_db: in-memory admins, sessions and audit entries with transactional rollback. */
#include "fake_db.h"

#include <stdlib.h>
#include <string.h>

struct fake_db_state fake_db;
static int handle_byte;

struct db *fake_db_handle(void)
{
	return (struct db *)&handle_byte;
}

void fake_db_reset(void)
{
	memset(&fake_db, 0, sizeof(fake_db));
}

enum fg_err db_txn_begin(struct db *db, struct db_txn **out)
{
	*out = (struct db_txn *)&handle_byte;
	return FG_OK;
}

void db_txn_end(struct db_txn *txn)
{
}

enum fg_err db_write(struct db *db, db_write_fn fn, void *ctx)
{
	/* A failed write leaves nothing behind, like an aborted LMDB transaction. */
	struct fake_db_state *saved = malloc(sizeof(*saved));
	if (!saved)
		return FG_ERR_NOMEM;
	*saved = fake_db;
	enum fg_err err = fn((struct db_txn *)&handle_byte, ctx);
	if (err)
		fake_db = *saved;
	else
		fake_db.writes++;
	free(saved);
	return err;
}

static long admin_find(const char *name)
{
	for (size_t i = 0; i < fake_db.n_admins; i++)
		if (strcmp(fake_db.admins[i].name, name) == 0)
			return (long)i;
	return -1;
}

enum fg_err db_admin_get(struct db_txn *txn, const char *name, struct db_admin *out)
{
	long i = admin_find(name);
	if (i < 0)
		return FG_ERR_NOTFOUND;
	*out = fake_db.admins[i];
	return FG_OK;
}

enum fg_err db_admin_put(struct db_txn *txn, const struct db_admin *admin)
{
	long i = admin_find(admin->name);
	if (i >= 0) {
		fake_db.admins[i] = *admin;
		return FG_OK;
	}
	if (fake_db.n_admins == FAKE_DB_ADMINS)
		return FG_ERR_STORE;
	fake_db.admins[fake_db.n_admins++] = *admin;
	return FG_OK;
}

enum fg_err db_admin_del(struct db_txn *txn, const char *name)
{
	long i = admin_find(name);
	if (i < 0)
		return FG_ERR_NOTFOUND;
	fake_db.admins[i] = fake_db.admins[--fake_db.n_admins];
	return FG_OK;
}

enum fg_err db_admin_list(struct db_txn *txn, struct db_admin **out, size_t *count)
{
	*out = calloc(fake_db.n_admins + 1, sizeof(**out));
	if (!*out)
		return FG_ERR_NOMEM;
	memcpy(*out, fake_db.admins, fake_db.n_admins * sizeof(**out));
	*count = fake_db.n_admins;
	return FG_OK;
}

void db_admin_list_free(struct db_admin *admins, size_t count)
{
	free(admins);
}

enum fg_err db_admin_count(struct db_txn *txn, size_t *count)
{
	*count = fake_db.n_admins;
	return FG_OK;
}

static long session_find(const char *id)
{
	for (size_t i = 0; i < fake_db.n_sessions; i++)
		if (strcmp(fake_db.sessions[i].id, id) == 0)
			return (long)i;
	return -1;
}

enum fg_err db_session_get(struct db_txn *txn, const char *id, struct db_session *out)
{
	long i = session_find(id);
	if (i < 0)
		return FG_ERR_NOTFOUND;
	*out = fake_db.sessions[i];
	return FG_OK;
}

enum fg_err db_session_put(struct db_txn *txn, const struct db_session *s)
{
	long i = session_find(s->id);
	if (i >= 0) {
		fake_db.sessions[i] = *s;
		return FG_OK;
	}
	if (fake_db.n_sessions == FAKE_DB_SESSIONS)
		return FG_ERR_STORE;
	fake_db.sessions[fake_db.n_sessions++] = *s;
	return FG_OK;
}

enum fg_err db_session_del(struct db_txn *txn, const char *id)
{
	long i = session_find(id);
	if (i < 0)
		return FG_ERR_NOTFOUND;
	fake_db.sessions[i] = fake_db.sessions[--fake_db.n_sessions];
	return FG_OK;
}

enum fg_err db_session_del_admin(struct db_txn *txn, const char *admin, size_t *removed)
{
	size_t n = 0;
	for (size_t i = 0; i < fake_db.n_sessions;) {
		if (strcmp(fake_db.sessions[i].admin, admin) == 0) {
			fake_db.sessions[i] = fake_db.sessions[--fake_db.n_sessions];
			n++;
		} else {
			i++;
		}
	}
	if (removed)
		*removed = n;
	return FG_OK;
}

enum fg_err db_audit_append(struct db_txn *txn, const struct db_audit_entry *entry)
{
	if (fake_db.n_audit == FAKE_DB_AUDIT)
		return FG_ERR_STORE;
	fake_db.audit[fake_db.n_audit] = *entry;
	fake_db.audit[fake_db.n_audit].seq = fake_db.n_audit + 1;
	fake_db.n_audit++;
	return FG_OK;
}
