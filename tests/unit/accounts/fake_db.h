/* fake_db: an in-memory stand-in for the store functions the accounts module uses. */
#ifndef FEDGW_TEST_FAKE_DB_H
#define FEDGW_TEST_FAKE_DB_H

#include "db/db.h"

#define FAKE_DB_ADMINS   16
#define FAKE_DB_SESSIONS 16
#define FAKE_DB_AUDIT    64

struct fake_db_state {
	struct db_admin admins[FAKE_DB_ADMINS];
	size_t n_admins;
	struct db_session sessions[FAKE_DB_SESSIONS];
	size_t n_sessions;
	struct db_audit_entry audit[FAKE_DB_AUDIT];
	size_t n_audit;
	size_t writes; /* committed writes */
};

extern struct fake_db_state fake_db;
/* A db handle to pass around (never dereferenced). */
struct db *fake_db_handle(void);
void fake_db_reset(void);

#endif
