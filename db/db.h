/* db: the LMDB store, fedgw's single source of truth for configuration and its records. */
#ifndef FEDGW_DB_H
#define FEDGW_DB_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One LMDB environment per data directory, one named database per kind of record, a
 * schema version with migrations run by db_open, and a format version inside every
 * record. Records are stored as JSON objects carrying "fmt" (their format version).
 *
 * Reads happen in a read transaction (db_txn_begin() ... db_txn_end).
 * Writes happen only through db_write(), which runs the caller's function inside one
 * write transaction, commits, and when LMDB reports the map full, grows the map and runs
 * the function again: a full map grows instead of failing. A committed write that touched
 * a configuration kind bumps the configuration generation, and every watcher registered
 * in this process is called after the commit. Another process (the CLI) changes the
 * store through its own db handle; a daemon notices by polling db_generation().
 *
 * Strings in records are fixed-size, NUL-terminated arrays sized by the DB_*_MAX caps
 * below; blobs (PEM text) are heap pointers owned by the record: db_<kind>_clear() frees
 * them. Arrays returned by *_list() are freed with the matching *_list_free().
 */

#define DB_SCHEMA_VERSION 2

#define DB_ID_MAX            33  /* 128-bit random ids as 32 hex chars */
#define DB_NAME_MAX          65  /* admin names, certificate names, bridge names */
#define DB_DOMAIN_MAX        254 /* RFC 1035 domain name, 253 octets */
#define DB_TEXT_MAX          512 /* descriptions, causes, fixes */
#define DB_SETTING_KEY_MAX   65
#define DB_SETTING_VALUE_MAX 4096
#define DB_HASH_MAX          256 /* Argon2id encoded hash string */
#define DB_ADDR_MAX          64  /* textual IP address with port */

/* Default bounds of the log and the audit trail (oldest records dropped first). */
#define DB_LOG_MAX_RECORDS   20000
#define DB_AUDIT_MAX_RECORDS 50000
/* Cleared faults are kept this long so the console can show "recently cleared". */
#define DB_FAULT_CLEARED_KEEP_MS (7LL * 24 * 3600 * 1000)

struct db;
struct db_txn;

enum db_kind {
	DB_KIND_SETTING = 0,
	DB_KIND_SIP_DOMAIN,
	DB_KIND_XMPP_DOMAIN,
	DB_KIND_ALLOW,
	DB_KIND_POLICY,
	DB_KIND_CERT,
	DB_KIND_KEY,
	DB_KIND_BRIDGE,
	DB_KIND_ADMIN,
	/* Kinds below are not configuration: writing them does not bump the generation. */
	DB_KIND_SESSION,
	DB_KIND_LOG,
	DB_KIND_AUDIT,
	DB_KIND_FAULT,
	DB_KIND_STATUS,
	DB_KIND_SUBSCRIPTION, /* presence subscriptions of the SIP gateway (schema 2) */
	DB_KIND__COUNT
};

const char *db_kind_name(enum db_kind kind);
bool db_kind_is_config(enum db_kind kind);

/* Opens (creating if needed, mode 0700 directory, 0600 files) and migrates the store. */
enum fg_err db_open(struct db **out, const char *dir);
void db_close(struct db *db); /* NULL is a no-op */
const char *db_dir(const struct db *db);

/* Current configuration generation (0 on a new store); opens its own read transaction. */
uint64_t db_generation(struct db *db);

/* Map usage: bytes used by pages in use and the current map size. */
enum fg_err db_usage(struct db *db, uint64_t *used_bytes, uint64_t *map_bytes);

typedef void (*db_watch_cb)(void *ctx, uint64_t generation, uint32_t kinds_mask);
/* Called after each committed write in this process; kinds_mask has bit (1u << kind) for
 * every kind the write touched (a write that touched nothing is not reported). Watchers of
 * one handle do not see writes made through another handle or process: poll db_generation.
 * Returns a handle for db_unwatch (or -1 when full). */
int db_watch(struct db *db, db_watch_cb cb, void *ctx);
void db_unwatch(struct db *db, int handle);

enum db_txn_mode { DB_TXN_READ, DB_TXN_WRITE };
/* Read transactions only; writes go through db_write. */
enum fg_err db_txn_begin(struct db *db, struct db_txn **out);
void db_txn_end(struct db_txn *txn);

typedef enum fg_err (*db_write_fn)(struct db_txn *txn, void *ctx);
/* Runs fn in one write transaction and commits if it returns FG_OK (aborts otherwise and
 * returns fn's error). fn may run more than once (after the map grows): it must not have
 * side effects outside the transaction. Also returns FG_ERR_AGAIN when the map is full and
 * cannot grow because read transactions of this process are open (retry after they end),
 * and FG_ERR_BUSY for a nested call from inside a write on the same thread. */
enum fg_err db_write(struct db *db, db_write_fn fn, void *ctx);

/* ---- settings: key -> string value ------------------------------------------------ */
/* Returns FG_ERR_NOTFOUND when unset. */
enum fg_err db_setting_get(struct db_txn *txn, const char *key, char *val, size_t valsize);
enum fg_err db_setting_put(struct db_txn *txn, const char *key, const char *val);
enum fg_err db_setting_del(struct db_txn *txn, const char *key);

/* ---- certificates and private keys ---------------------------------------------- */
enum db_cert_kind {
	DB_CERT_LEAF = 0,  /* a certificate with its chain (leaf first), maybe with a key */
	DB_CERT_CSR,       /* a certificate signing request waiting for its certificate */
	DB_CERT_CA_BUNDLE, /* trusted CA certificates */
};

struct db_cert {
	char id[DB_ID_MAX];
	char name[DB_NAME_MAX];
	enum db_cert_kind kind;
	char key_id[DB_ID_MAX]; /* the private key in the keys database; "" if none */
	char *pem;              /* owned: certificate chain, CSR or bundle in PEM */
	int64_t created_ms;
};

enum fg_err db_cert_get(struct db_txn *txn, const char *id, struct db_cert *out);
enum fg_err db_cert_put(struct db_txn *txn, const struct db_cert *cert);
enum fg_err db_cert_del(struct db_txn *txn, const char *id);
enum fg_err db_cert_list(struct db_txn *txn, struct db_cert **out, size_t *count);
void db_cert_clear(struct db_cert *cert);
void db_cert_list_free(struct db_cert *certs, size_t count);

struct db_key {
	char id[DB_ID_MAX];
	char type[16]; /* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096" */
	char *pem;     /* owned: the private key in PEM; never logged, never sent back */
	int64_t created_ms;
};

enum fg_err db_key_get(struct db_txn *txn, const char *id, struct db_key *out);
enum fg_err db_key_put(struct db_txn *txn, const struct db_key *key);
enum fg_err db_key_del(struct db_txn *txn, const char *id);
void db_key_clear(struct db_key *key); /* wipes the PEM before freeing it */

/* ---- admin accounts and console sessions ------------------------------------------ */
struct db_admin {
	char name[DB_NAME_MAX];
	char hash[DB_HASH_MAX]; /* Argon2id encoded */
	int64_t created_ms;
	int64_t password_changed_ms;
	int64_t last_login_ms;
};

enum fg_err db_admin_get(struct db_txn *txn, const char *name, struct db_admin *out);
enum fg_err db_admin_put(struct db_txn *txn, const struct db_admin *admin);
enum fg_err db_admin_del(struct db_txn *txn, const char *name);
enum fg_err db_admin_list(struct db_txn *txn, struct db_admin **out, size_t *count);
void db_admin_list_free(struct db_admin *admins, size_t count);
enum fg_err db_admin_count(struct db_txn *txn, size_t *count);

struct db_session {
	char id[65]; /* hex SHA-256 of the cookie token: the token itself is not stored */
	char admin[DB_NAME_MAX];
	char csrf[65]; /* hex CSRF token handed to the page */
	char source[DB_ADDR_MAX];
	int64_t created_ms;
	int64_t last_seen_ms;
};

enum fg_err db_session_get(struct db_txn *txn, const char *id, struct db_session *out);
enum fg_err db_session_put(struct db_txn *txn, const struct db_session *s);
enum fg_err db_session_del(struct db_txn *txn, const char *id);
/* Deletes sessions idle since before idle_before_ms; *removed gets the count. */
enum fg_err db_session_expire(struct db_txn *txn, int64_t idle_before_ms, size_t *removed);
/* Deletes every session of one admin (after a password change or account removal). */
enum fg_err db_session_del_admin(struct db_txn *txn, const char *admin, size_t *removed);

/* ---- log and audit (bounded, newest kept) ----------------------------------------- */
struct db_log_entry {
	uint64_t seq;
	int64_t time_ms;
	enum fg_log_level level;
	char subsys[FG_LOG_SUBSYS_MAX];
	char msg[FG_LOG_MSG_MAX];
};

struct db_log_filter {
	enum fg_log_level min_level; /* entries below are skipped */
	const char *text;            /* case-insensitive substring of subsys or msg; NULL = any */
	size_t offset;               /* matches to skip, newest first */
	size_t limit;                /* at most this many returned (0 = no limit) */
};

/* Appends one record, dropping the oldest past DB_LOG_MAX_RECORDS. */
enum fg_err db_log_append(struct db_txn *txn, int64_t time_ms, enum fg_log_level level,
                          const char *subsys, const char *msg);
/* Newest first; *total gets the number of matches before offset/limit. */
enum fg_err db_log_query(struct db_txn *txn, const struct db_log_filter *filter,
                         struct db_log_entry **out, size_t *count, size_t *total);
enum fg_err db_log_clear(struct db_txn *txn, size_t *removed);
void db_log_list_free(struct db_log_entry *entries, size_t count);

struct db_audit_entry {
	uint64_t seq;
	int64_t time_ms;
	char actor[DB_NAME_MAX];  /* admin name, "cli:<user>", or "-" for unknown */
	char source[DB_ADDR_MAX]; /* client address, or "cli" */
	char action[64];          /* "login", "login.failed", "cert.import", ... */
	char detail[DB_TEXT_MAX];
	bool ok;
};

struct db_audit_filter {
	const char *text; /* substring of actor, action or detail; NULL = any */
	size_t offset;
	size_t limit;
};

enum fg_err db_audit_append(struct db_txn *txn, const struct db_audit_entry *entry);
enum fg_err db_audit_query(struct db_txn *txn, const struct db_audit_filter *filter,
                           struct db_audit_entry **out, size_t *count, size_t *total);
void db_audit_list_free(struct db_audit_entry *entries, size_t count);

/* ---- faults and object status (written by the engine, read by console and CLI) ----- */
struct db_fault {
	char id[128];             /* stable condition key, e.g. "console.cert.expiry" */
	char object[128];         /* what it concerns, e.g. "listener console 0.0.0.0:8443" */
	char condition[128];      /* short name: "Certificate expires soon" */
	char cause[DB_TEXT_MAX];  /* plain words */
	char fix[DB_TEXT_MAX];    /* what the admin should do */
	char detail[DB_TEXT_MAX]; /* technical detail for the expert (error codes) */
	enum fg_log_level severity;
	int64_t raised_ms;
	int64_t cleared_ms; /* 0 while active */
};

enum fg_err db_fault_put(struct db_txn *txn, const struct db_fault *fault);
enum fg_err db_fault_get(struct db_txn *txn, const char *id, struct db_fault *out);
/* Active faults first (newest raised first), then cleared ones (newest cleared first). */
enum fg_err db_fault_list(struct db_txn *txn, struct db_fault **out, size_t *count);
/* Drops cleared faults cleared before cleared_before_ms. */
enum fg_err db_fault_prune(struct db_txn *txn, int64_t cleared_before_ms);
void db_fault_list_free(struct db_fault *faults, size_t count);

struct db_status {
	char id[128];   /* "listener:console", "daemon" ... */
	char kind[32];  /* "listener", "daemon", "connection", "domain" */
	char name[128]; /* human name: "console https 0.0.0.0:8443" */
	char state[32]; /* "listening", "failed", "running", "stopped", ... */
	char reason[DB_TEXT_MAX];
	int64_t since_ms;
	char extra[2048]; /* JSON object with kind-specific fields, or "" */
};

enum fg_err db_status_put(struct db_txn *txn, const struct db_status *st);
enum fg_err db_status_del(struct db_txn *txn, const char *id);
enum fg_err db_status_list(struct db_txn *txn, struct db_status **out, size_t *count);
enum fg_err db_status_clear_all(struct db_txn *txn);
void db_status_list_free(struct db_status *st, size_t count);

/* ---- federation configuration (used by the XMPP, SIP and component engines) ------- */
enum db_tls_mode { DB_TLS_OFF = 0, DB_TLS_OPTIONAL, DB_TLS_REQUIRED };
enum db_auth_mode { DB_AUTH_EITHER = 0, DB_AUTH_DIALBACK, DB_AUTH_SASL_EXTERNAL };
enum db_direction { DB_DIR_BOTH = 0, DB_DIR_INCOMING, DB_DIR_OUTGOING };

struct db_xmpp_domain {
	char domain[DB_DOMAIN_MAX];
	char cert_id[DB_ID_MAX]; /* certificate presented for this domain ("" = none) */
	int64_t created_ms;
};

struct db_sip_domain {
	char domain[DB_DOMAIN_MAX];
	char next_hop[DB_DOMAIN_MAX]; /* Access Edge FQDN or address */
	uint16_t next_hop_port;
	char transport[8];       /* "tls" or "tcp" */
	char cert_id[DB_ID_MAX]; /* SIP-side certificate */
	char ca_id[DB_ID_MAX];   /* trusted CA bundle */
	char bind[DB_ADDR_MAX];
	char xmpp_domain[DB_DOMAIN_MAX]; /* mapped XMPP domain; "" = same name */
	/* transport tcp: the addresses and prefixes, besides the next hop's own, whose requests
	 * over plain TCP are taken for the domain ("192.0.2.7, 10.0.0.0/8"; fg_addr_list) */
	char trusted_addrs[DB_TEXT_MAX];
	int64_t created_ms;
};

struct db_allow_entry {
	char domain[DB_DOMAIN_MAX];
	char server[DB_DOMAIN_MAX]; /* static route host; "" = use DNS SRV */
	uint16_t port;              /* 0 = default */
	enum db_auth_mode auth;
	enum db_tls_mode tls;
	char cert_id[DB_ID_MAX]; /* certificate override; "" = the domain's */
	char description[DB_TEXT_MAX];
	int64_t created_ms;
};

struct db_policy_rule {
	char id[DB_ID_MAX];
	char pattern[DB_DOMAIN_MAX]; /* "example.com", "*.example.com" or a host */
	bool allow;                  /* the exception's verdict */
	enum db_direction direction;
	char description[DB_TEXT_MAX];
	int64_t created_ms;
};

struct db_bridge {
	char name[DB_NAME_MAX];
	char domain[DB_DOMAIN_MAX]; /* the component's JID domain */
	char secret[128];           /* XEP-0114 shared secret; never logged */
	int64_t created_ms;
};

enum fg_err db_xmpp_domain_get(struct db_txn *txn, const char *domain, struct db_xmpp_domain *out);
enum fg_err db_xmpp_domain_put(struct db_txn *txn, const struct db_xmpp_domain *d);
enum fg_err db_xmpp_domain_del(struct db_txn *txn, const char *domain);
enum fg_err db_xmpp_domain_list(struct db_txn *txn, struct db_xmpp_domain **out, size_t *count);

enum fg_err db_sip_domain_get(struct db_txn *txn, const char *domain, struct db_sip_domain *out);
enum fg_err db_sip_domain_put(struct db_txn *txn, const struct db_sip_domain *d);
enum fg_err db_sip_domain_del(struct db_txn *txn, const char *domain);
enum fg_err db_sip_domain_list(struct db_txn *txn, struct db_sip_domain **out, size_t *count);

enum fg_err db_allow_get(struct db_txn *txn, const char *domain, struct db_allow_entry *out);
enum fg_err db_allow_put(struct db_txn *txn, const struct db_allow_entry *e);
enum fg_err db_allow_del(struct db_txn *txn, const char *domain);
enum fg_err db_allow_list(struct db_txn *txn, struct db_allow_entry **out, size_t *count);

enum fg_err db_policy_get(struct db_txn *txn, const char *id, struct db_policy_rule *out);
enum fg_err db_policy_put(struct db_txn *txn, const struct db_policy_rule *r);
enum fg_err db_policy_del(struct db_txn *txn, const char *id);
enum fg_err db_policy_list(struct db_txn *txn, struct db_policy_rule **out, size_t *count);

enum fg_err db_bridge_get(struct db_txn *txn, const char *name, struct db_bridge *out);
enum fg_err db_bridge_put(struct db_txn *txn, const struct db_bridge *b);
enum fg_err db_bridge_del(struct db_txn *txn, const char *name);
enum fg_err db_bridge_list(struct db_txn *txn, struct db_bridge **out, size_t *count);

/* Arrays from the five list functions above are plain (no owned pointers): free(). */

/* ---- presence subscriptions of the SIP gateway (RFC 6665, RFC 8048) ---------------- */
/* Kept so that a restart neither loses nor duplicates a subscription. Not configuration:
 * writing one does not bump the generation and a restore leaves them alone. */
#define DB_SUB_URI_MAX   512  /* a SIP URI or JID with its resource */
#define DB_SUB_TAG_MAX   128  /* Call-ID and tags: generators use 10-64 characters */
#define DB_SUB_ROUTE_MAX 1024 /* route set, comma separated: a few Record-Route entries */

enum db_sub_direction {
	DB_SUB_SIP_WATCHER = 0, /* a SIP user watches an XMPP user: we send NOTIFY */
	DB_SUB_XMPP_WATCHER,    /* an XMPP user watches a SIP user: we send SUBSCRIBE */
};
enum db_sub_state { DB_SUB_PENDING = 0, DB_SUB_ACTIVE, DB_SUB_TERMINATED };

struct db_subscription {
	char id[DB_ID_MAX]; /* derived from direction, watcher and presentity */
	char sip_domain[DB_DOMAIN_MAX];
	enum db_sub_direction direction;
	enum db_sub_state state;
	char watcher[DB_SUB_URI_MAX];    /* sip: URI or bare JID */
	char presentity[DB_SUB_URI_MAX]; /* sip: URI or bare JID */
	char call_id[DB_SUB_TAG_MAX];    /* the subscription's dialog */
	char local_tag[DB_SUB_TAG_MAX];
	char remote_tag[DB_SUB_TAG_MAX];
	char remote_target[DB_SUB_URI_MAX];
	char routes[DB_SUB_ROUTE_MAX];
	int64_t local_cseq;
	int64_t remote_cseq;
	int64_t expires_ms; /* wall clock when the subscription ends unless refreshed */
	int64_t created_ms;
	int64_t refreshed_ms;
	/* Ours (XMPP watcher): the next SUBSCRIBE after a failure (wall clock, 0: none) and the
	 * failures in a row for its backoff (RFC 8048 §5.2.2, RFC 6665 §4.1.2.2); the end of
	 * Timer N, waiting for the NOTIFY a SUBSCRIBE brings (RFC 6665 §4.1.2.4, 0: none).
	 * Added within schema 2: older records read them as 0. */
	int64_t retry_at_ms;
	int64_t failures;
	int64_t notify_by_ms;
};

enum fg_err db_subscription_get(struct db_txn *txn, const char *id, struct db_subscription *out);
enum fg_err db_subscription_put(struct db_txn *txn, const struct db_subscription *s);
enum fg_err db_subscription_del(struct db_txn *txn, const char *id);
/* Plain array: free(). */
enum fg_err db_subscription_list(struct db_txn *txn, struct db_subscription **out, size_t *count);

/* A new random id (32 hex chars). */
void db_new_id(char out[DB_ID_MAX]);
/* Is id shaped as db_new_id makes them (32 lower-case hex chars)? For ids from requests. */
bool db_id_valid(const char *id);

/* Backup: copies a consistent snapshot of the environment to a file (mdb_env_copy2). */
enum fg_err db_snapshot(struct db *db, const char *path);

/* Restore: replaces every configuration kind, the log, the audit trail and the faults with
 * the contents of a snapshot made by db_snapshot, in one write; every console session is
 * deleted and the generation is bumped, so a running daemon applies the restored
 * configuration. A snapshot of a newer schema is refused (FG_ERR_VERSION); one that is not
 * a store, FG_ERR_PARSE. *records (may be NULL) gets the number of records copied. */
enum fg_err db_restore(struct db *db, const char *snapshot_path, size_t *records);

#endif
