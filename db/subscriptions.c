/* db: the SIP gateway's presence subscriptions (RFC 6665 dialogs, RFC 8048), one record each. */
#include "db/db_internal.h"

#include <stdlib.h>
#include <string.h>

static const struct db_field sub_fields[] = {
    DB_FLD(struct db_subscription, id, DB_F_STR, 0),
    DB_FLD(struct db_subscription, sip_domain, DB_F_STR, 0),
    DB_FLD(struct db_subscription, direction, DB_F_ENUM, DB_SUB_XMPP_WATCHER),
    DB_FLD(struct db_subscription, state, DB_F_ENUM, DB_SUB_TERMINATED),
    DB_FLD(struct db_subscription, watcher, DB_F_STR, 0),
    DB_FLD(struct db_subscription, presentity, DB_F_STR, 0),
    DB_FLD(struct db_subscription, call_id, DB_F_STR, 0),
    DB_FLD(struct db_subscription, local_tag, DB_F_STR, 0),
    DB_FLD(struct db_subscription, remote_tag, DB_F_STR, 0),
    DB_FLD(struct db_subscription, remote_target, DB_F_STR, 0),
    DB_FLD(struct db_subscription, routes, DB_F_STR, 0),
    DB_FLD(struct db_subscription, local_cseq, DB_F_I64, 0),
    DB_FLD(struct db_subscription, remote_cseq, DB_F_I64, 0),
    DB_FLD(struct db_subscription, expires_ms, DB_F_I64, 0),
    DB_FLD(struct db_subscription, created_ms, DB_F_I64, 0),
    DB_FLD(struct db_subscription, refreshed_ms, DB_F_I64, 0),
    DB_FLD(struct db_subscription, retry_at_ms, DB_F_I64, 0),
    DB_FLD(struct db_subscription, failures, DB_F_I64, 0),
    DB_FLD(struct db_subscription, notify_by_ms, DB_F_I64, 0),
};

static const struct db_rec_desc sub_desc = {
    .kind = DB_KIND_SUBSCRIPTION,
    .size = sizeof(struct db_subscription),
    .fields = sub_fields,
    .nfields = sizeof sub_fields / sizeof sub_fields[0],
    .key_off = offsetof(struct db_subscription, id),
    .key_size = DB_ID_MAX,
};

enum fg_err db_subscription_get(struct db_txn *txn, const char *id, struct db_subscription *out)
{
	return db__rec_get(txn, &sub_desc, id, out);
}

enum fg_err db_subscription_put(struct db_txn *txn, const struct db_subscription *s)
{
	return db__rec_put(txn, &sub_desc, s);
}

enum fg_err db_subscription_del(struct db_txn *txn, const char *id)
{
	return db__rec_del(txn, &sub_desc, id);
}

enum fg_err db_subscription_list(struct db_txn *txn, struct db_subscription **out, size_t *count)
{
	return db__rec_list(txn, &sub_desc, (void **)out, count);
}
