/* conf: what every configuration area (xmppconf, sipconf) shares — refusals, answers, audit
 * entries, field readers, name checks (RFC 1035 §2.3.1) and one table-driven settings
 * engine that reads, validates, writes and describes typed settings in the store. */
#ifndef FEDGW_CONF_H
#define FEDGW_CONF_H

#include "base/base.h"
#include "db/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every change runs one db_write holding the change and its audit entry (actor and source
 * as given). Answers (a new reference) carry "message" (what changed, in plain words),
 * "changed" (each {"field","from","to"}), "warnings" (plain words; the change was made
 * anyway) and the resulting object. A refusal returns an error and fills struct conf_err.
 */

/* A refusal: the status the API answers with, plain words, the field and the fix. */
struct conf_err {
	unsigned status;                /* 404 not found, 409 exists, 422 invalid, 500 store */
	char message[DB_TEXT_MAX];      /* plain words */
	char field[DB_SETTING_KEY_MAX]; /* the request field concerned, or "" */
	char fix[DB_TEXT_MAX];          /* what to do */
};

/* Lists in settings (bind addresses, DNS servers, zones) hold at most this many items:
 * a gateway listens on a few addresses and asks a few servers; more is a typing error. */
#define CONF_LIST_MAX 16

/* ---- refusals, answers, audit ------------------------------------------------------------ */

/* Sets *e (status, field, fix, message; e may be NULL); returns the fg_err matching the
 * status (404 NOTFOUND, 409 EXISTS, 413 TOOBIG, 422 INVAL, else STORE). */
enum fg_err conf_fail(struct conf_err *e, unsigned status, const char *field, const char *fix,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends an audit entry (actor "-" when empty) in txn. */
enum fg_err conf_audit(struct db_txn *txn, const char *actor, const char *source,
                       const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A JSON string even for bytes that are not UTF-8 (they become '?'); null for NULL. */
json_t *conf_text(const char *s);
/* "2026-11-21T20:05:42Z", or JSON null for 0. */
json_t *conf_time(int64_t ms);
/* {"message", "changed":[], "warnings":[]} to fill. */
json_t *conf_answer_new(void);
void conf_answer_changed(json_t *answer, const char *field, const char *from, const char *to);
void conf_answer_warn(json_t *answer, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conf_answer_message(json_t *answer, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends the warnings of obj["warnings"] to the answer's and sets answer[key] = obj (the
 * reference is taken). */
void conf_answer_object(json_t *answer, const char *key, json_t *obj);
/* Copies s into out (size > 1) with control and non-ASCII bytes as '?': a name from a
 * request, safe to quote in a message. */
void conf_shown(char *out, size_t size, const char *s);

/* ---- writes ------------------------------------------------------------------------------ */

/* Runs fn in one db_write; fn rebuilds *answer on every run. On success *out takes the
 * answer; else it is dropped and a store error becomes a 500 refusal "<failed>: <reason>."
 * (refusals fn made, 422/409/404, are kept). */
enum fg_err conf_write(struct db *db, db_write_fn fn, void *ctx, json_t **answer, json_t **out,
                       struct conf_err *e, const char *failed);

/* got: the result of reading the record a change names. Refuses adding one that exists
 * (409) or editing one that does not (404), in the words "The <what> <name> ..."; passes
 * other store errors on. */
enum fg_err conf_record_check(enum fg_err got, bool create, const char *what, const char *name,
                              struct conf_err *e);

/* A kind of record named by a domain (a SIP domain, an allow-list entry): its store
 * delete and the words of its refusals. */
struct conf_record {
	enum fg_err (*del)(struct db_txn *txn, const char *domain);
	const char *delete_action; /* audit action, detail: the domain */
	const char *fix;           /* when there is no such record (field "domain") */
	const char *invalid;       /* ... and the name is not even a domain name */
	/* ... in words around the name: "There is no SIP domain " and "." */
	const char *missing_before, *missing_after;
	const char *delete_failed; /* "The SIP domain could not be deleted" */
	const char *rename_fix;    /* an edit whose body names another domain */
	const char *renamed;       /* ... "A SIP domain cannot be renamed." */
};
/* Deletes the record and audits it; *out is an answer without a message yet. */
enum fg_err conf_record_delete(struct db *db, const struct conf_record *r, const char *actor,
                               const char *source, const char *domain, json_t **out,
                               struct conf_err *e);
/* Before an edit of the record domain: 404 when domain is not a domain name, 422 when the
 * request's "domain" (body, may be NULL) names another. */
enum fg_err conf_record_edit_check(const struct conf_record *r, const char *domain,
                                   const char *body, struct conf_err *e);

/* The certificate record id a request names for the gateway to present to `to` ("peers"):
 * a leaf with its private key here. FG_OK with *cert filled (db_cert_clear it), else a 422
 * refusal in field (or the store's error). */
enum fg_err conf_cert_leaf(struct db_txn *txn, const char *id, const char *field, const char *to,
                           struct db_cert *cert, struct conf_err *e);

/* ---- request fields ---------------------------------------------------------------------- */

/* Reads an optional string field: absent/null -> *out NULL; wrong type or too long -> 422. */
bool conf_field_str(json_t *in, const char *name, size_t max, const char **out, struct conf_err *e);
/* Refuses fields of in that are not listed (a typing error should not pass silently);
 * names in ignored are accepted and skipped (read-only fields a form sends back). */
bool conf_fields_known(json_t *in, const char *const *known, const char *const *ignored,
                       struct conf_err *e);
/* A name a request may use for a choice and the value it stands for ("" = the default). */
struct conf_choice {
	const char *name;
	int value;
};
/* The value of name in choices (ended by a NULL name); false when it is none of them. */
bool conf_choice_value(const struct conf_choice *choices, const char *name, int *value);
/* The first name of value in choices, or fallback. */
const char *conf_choice_name(const struct conf_choice *choices, int value, const char *fallback);
/* A description as typed: one line of UTF-8 text, copied to out; false with *e (field
 * "description"). */
bool conf_description(const char *desc, char *out, size_t size, struct conf_err *e);
/* Text a person typed: UTF-8 (RFC 3629), no control characters. */
bool conf_text_valid(const char *s);
bool conf_ip_valid(const char *s);
/* A DNS domain name: RFC 1035 labels (letters, digits, hyphens; 1-63 octets, no hyphen at
 * either end), lowercase, at most 253 octets, no trailing dot, not an IP address. On false,
 * *why (may be NULL) is a plain-words reason (static). */
bool conf_domain_valid(const char *domain, const char **why);
/* A domain a request names (field): true, or false with a 422 refusal saying why. */
bool conf_domain_param(const char *domain, const char *field, struct conf_err *e);
/* Accepts true/on/yes/1 and false/off/no/0 (any case). */
bool conf_bool_parse(const char *s, bool *out);

/* ---- settings engine ---------------------------------------------------------------------- */

enum conf_type {
	CONF_BOOL,  /* "true" / "false" */
	CONF_UINT,  /* whole number in [min, max] */
	CONF_ENUM,  /* one of choices (any case given, stored as listed) */
	CONF_HOST,  /* a domain name; "" = the default (def NULL: the host name) */
	CONF_ADDR,  /* one IPv4 or IPv6 address */
	CONF_ADDRS, /* IP addresses, at least one ("a,b") */
	CONF_DNS,   /* IP addresses with an optional @port */
	CONF_ZONES, /* zone names (a final dot allowed) */
};

/* One setting: its API/CLI name, store key, the console's words for messages, type,
 * default (text; NULL for CONF_HOST = this machine's host name), range, choices (NULL
 * terminated), the fix shown with a refusal and the command line's help. */
struct conf_setting {
	const char *name;
	const char *key;
	const char *label;
	enum conf_type type;
	const char *def;
	uint64_t min, max;
	const char *const *choices;
	const char *fix;
	/* The command line's help: the value's form ("true|false", "N") and what it does
	 * ('\n' starts a continuation line). */
	const char *form, *help;
};

/* A set of settings as a request will have them: the checks across settings see this. */
struct conf_settings_view {
	const struct conf_settings *table;
	const bool *given;
	char (*values)[DB_SETTING_VALUE_MAX]; /* canonical requested values */
	char (*cur)[DB_SETTING_VALUE_MAX];    /* as read in the write (see stored_raw) */
};

/* A settings area: the table and what differs between areas. */
struct conf_settings {
	const char *area;     /* "SIP", "XMPP": "There is no <area> setting" */
	const char *prefix;   /* "sip.": accepted before a name */
	const char *action;   /* audit action ("sip.settings") */
	const char *what;     /* "SIP settings": "The <what> could not be saved" */
	const char *off_name; /* the on/off switch, or NULL */
	const char *off_text; /* the warning when it goes from on to off */
	/* true: an unset key reads as "" (the default then applies, "" deletes the key);
	 * false: an unset key reads as its default. */
	bool stored_raw;
	const struct conf_setting *defs;
	size_t ndefs;
	/* Read-only names forms send back (skipped), NULL terminated, or NULL. */
	const char *const *readonly;
	/* A name refused with its own message (fill e and return its error), or NULL. */
	enum fg_err (*refuse)(const char *key, struct conf_err *e);
	/* Checks across settings before anything is written (may refuse, may warn). */
	enum fg_err (*check)(const struct conf_settings_view *v, struct db_txn *txn, json_t *answer,
	                     struct conf_err *e);
	/* Warnings once something changed. */
	enum fg_err (*changed)(const struct conf_settings_view *v, struct db_txn *txn,
	                       json_t *answer);
	/* Adds members to the settings object after the table's (may be NULL). */
	enum fg_err (*extra)(struct db_txn *txn, json_t *obj);
};

/* The setting with that API name, or NULL. */
const struct conf_setting *conf_setting_find(const struct conf_settings *t, const char *name);
/* The value in effect from txn (the default when unset; the host name for a CONF_HOST
 * without default). */
enum fg_err conf_setting_read(struct db_txn *txn, const struct conf_settings *t, const char *key,
                              char *out, size_t size);
/* A number setting in effect (its default when unset or out of range; 0 if unknown). */
unsigned conf_setting_uint(struct db_txn *txn, const struct conf_settings *t, const char *key);
/* This machine's host name ("localhost" when it has none). */
void conf_host_name(char out[DB_DOMAIN_MAX]);

/* In a view: the value the setting will have (requested, else stored, else default when
 * the area stores raw values). */
const char *conf_view_value(const struct conf_settings_view *v, const char *name);
bool conf_view_given(const struct conf_settings_view *v, const char *name);
bool conf_view_bool(const struct conf_settings_view *v, const char *name);

/* {name: typed value, ...} with defaults filled in; a CONF_HOST without default adds
 * "<name>_default" (true while unset). */
enum fg_err conf_settings_get(struct db *db, const struct conf_settings *t, json_t **out);
/* Partial update (values typed or text as on the command line), all validated before
 * anything is written; answers with "settings" as they now are. */
enum fg_err conf_settings_set(struct db *db, const struct conf_settings *t, const char *actor,
                              const char *source, json_t *changes, json_t **out,
                              struct conf_err *e);

#endif
