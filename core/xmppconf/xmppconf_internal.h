/* xmppconf internal: helpers shared by the settings, domain, allow-list and policy files. */
#ifndef FEDGW_XMPPCONF_INTERNAL_H
#define FEDGW_XMPPCONF_INTERNAL_H

#include "xmppconf/xmppconf.h"

#define XMPPCONF_SUBSYS "xmpp"

/* Sets *e (status, field, fix, message); returns the fg_err matching the status. */
enum fg_err xmppconf__fail(struct xmppconf_err *e, unsigned status, const char *field,
                           const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum fg_err xmppconf__audit(struct db_txn *txn, const char *actor, const char *source,
                            const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A JSON string even for bytes that are not UTF-8 (they become '?'); null for NULL. */
json_t *xmppconf__text(const char *s);
/* "2026-11-21T20:05:42Z", or JSON null for 0. */
json_t *xmppconf__time(int64_t ms);
/* {"message", "changed":[], "warnings":[]} to fill. */
json_t *xmppconf__answer(void);
void xmppconf__changed(json_t *answer, const char *field, const char *from, const char *to);
void xmppconf__warn(json_t *answer, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xmppconf__message(json_t *answer, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads an optional string field: absent/null -> *out NULL; wrong type or too long -> 422. */
bool xmppconf__field_str(json_t *in, const char *name, size_t max, const char **out,
                         struct xmppconf_err *e);
/* Refuses fields of in that are not listed (a typing error should not pass silently);
 * names in ignored are accepted and skipped (read-only fields a form sends back). */
bool xmppconf__fields_known(json_t *in, const char *const *known, const char *const *ignored,
                            struct xmppconf_err *e);
/* Text a person typed: UTF-8, no control characters. */
bool xmppconf__text_valid(const char *s);
bool xmppconf__ip_valid(const char *s);

/* Effective value of a setting (the default when unset) from txn. */
enum fg_err xmppconf__setting(struct db_txn *txn, const char *key, char *out, size_t size);
unsigned xmppconf__setting_uint(struct db_txn *txn, const char *key);

const char *xmppconf__direction_name(enum db_direction d);

/* The allow-list entry as JSON (without connection state). */
json_t *xmppconf__allow_json(const struct db_allow_entry *a);

#endif
