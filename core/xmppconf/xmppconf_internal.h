/* xmppconf internal: helpers shared by the settings, domain, allow-list and policy files. */
#ifndef FEDGW_XMPPCONF_INTERNAL_H
#define FEDGW_XMPPCONF_INTERNAL_H

#include "xmppconf/xmppconf.h"

#define XMPPCONF_SUBSYS "xmpp"

/* Effective value of a setting (the default when unset) from txn. */
enum fg_err xmppconf__setting(struct db_txn *txn, const char *key, char *out, size_t size);
unsigned xmppconf__setting_uint(struct db_txn *txn, const char *key);

/* The allow-list entry as JSON (without connection state). */
json_t *xmppconf__allow_json(const struct db_allow_entry *a);

#endif
