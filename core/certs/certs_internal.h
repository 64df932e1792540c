/* certs internal: the roles index (which settings and records use a certificate). */
#ifndef FEDGW_CERTS_INTERNAL_H
#define FEDGW_CERTS_INTERNAL_H

#include "certs/certs.h"

struct certs_roles {
	char console[DB_ID_MAX];
	struct db_xmpp_domain *xmpp;
	size_t xmpp_count;
	struct db_sip_domain *sip;
	size_t sip_count;
	struct db_allow_entry *allow;
	size_t allow_count;
};

enum fg_err certs__roles_load(struct db_txn *txn, struct certs_roles *r);
void certs__roles_free(struct certs_roles *r);
/* Appends "console", "xmpp:<d>", "sip:<d>", "sip-ca:<d>", "allow:<d>" strings for id. */
enum fg_err certs__roles_json(const struct certs_roles *r, const char *id, json_t *arr);
/* The first use of id in plain words with what to do first; false when unused. */
bool certs__roles_first_use(const struct certs_roles *r, const char *id, char *msg, size_t size);
char *certs__strdup(const char *s);
enum fg_err certs__audit(struct db_txn *txn, const char *actor, const char *source,
                         const char *action, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
