/* certs: certificate operations on the store for the console API and the CLI (RFC 5280). */
#ifndef FEDGW_CERTS_H
#define FEDGW_CERTS_H

#include "base/base.h"
#include "db/db.h"
#include "pki/pki.h"

#include <bearssl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validity of the console's own self-signed certificate: the CA/Browser Forum's former
 * maximum, which browsers and macOS still accept for self-signed leaves. */
#define CERTS_CONSOLE_DAYS            825
#define CERTS_CONSOLE_NAME            "console (self-signed)"
#define CERTS_SELFSIGNED_DAYS_DEFAULT 825
/* Names and addresses one request may carry: matches pki's SAN cap. */
#define CERTS_SAN_MAX 100

/* Parameters of a new CSR or self-signed certificate. Strings are borrowed. */
struct certs_csr_params {
	const char *name;       /* display name; NULL/"" = the CN */
	const char *cn;         /* required */
	const char *o, *ou, *c; /* optional subject attributes */
	const char *const *dns; /* DNS names (the CN is added when missing) */
	size_t dns_count;
	const char *const *ips; /* IPv4/IPv6 addresses */
	size_t ip_count;
	const char *const *xmpp_domains; /* SRVName _xmpp-server.<domain> for each */
	size_t xmpp_count;
	bool xmpp_addr;       /* also id-on-xmppAddr (off: ejabberd rejects it) */
	const char *key_type; /* "ec-p256" (default), "ec-p384", "rsa-2048", ... */
	unsigned days;        /* self-signed validity; 0 = default */
};

/* Every function that changes the store runs one db_write that also appends an audit entry
 * (actor and source as given). *err_msg, when set, is a malloc'd plain-words message the
 * caller frees; *fix likewise (may be NULL). */

enum fg_err certs_csr_create(struct db *db, const char *actor, const char *source,
                             const struct certs_csr_params *p, char id_out[DB_ID_MAX],
                             char **err_msg);
enum fg_err certs_selfsigned_create(struct db *db, const char *actor, const char *source,
                                    const struct certs_csr_params *p, int64_t now_ms,
                                    char id_out[DB_ID_MAX], char **err_msg);
/* The same with a key made beforehand, so that slow RSA generation (pki_key_generate) can
 * run off the event loop. key is borrowed (the caller frees it) and decides the key type;
 * p->key_type is only checked. */
enum fg_err certs_csr_create_with_key(struct db *db, const char *actor, const char *source,
                                      const struct certs_csr_params *p, const struct pki_key *key,
                                      char id_out[DB_ID_MAX], char **err_msg);
enum fg_err certs_selfsigned_create_with_key(struct db *db, const char *actor, const char *source,
                                             const struct certs_csr_params *p,
                                             const struct pki_key *key, int64_t now_ms,
                                             char id_out[DB_ID_MAX], char **err_msg);
/* Checks p as the create functions do, without touching the store or making a key;
 * *key_type (may be NULL) gets the requested key type. */
enum fg_err certs_csr_params_check(const struct certs_csr_params *p, enum pki_key_type *key_type,
                                   char **err_msg);

/* A leaf with its chain (leaf first). Without key_pem, the key of the pending CSR whose
 * public key matches is attached and the CSR record removed. The chain is checked first;
 * on a problem nothing is stored and err_msg/fix say what is wrong. cert_pem may also
 * carry the key. Keys in PKCS#8, SEC1 or PKCS#1 are stored as PKCS#8. */
enum fg_err certs_import(struct db *db, const char *actor, const char *source, const char *name,
                         const char *cert_pem, const char *key_pem, int64_t now_ms,
                         char id_out[DB_ID_MAX], char **err_msg, char **fix);
/* A bundle of trusted CA certificates; each must be a CA or a self-signed root. */
enum fg_err certs_import_ca(struct db *db, const char *actor, const char *source, const char *name,
                            const char *pem, char id_out[DB_ID_MAX], char **err_msg);

/* JSON array of every record (see certs_show for the fields). */
enum fg_err certs_list(struct db *db, int64_t now_ms, json_t **out);
/* One record with "chain" (each certificate's details) and "chain_check" {ok,message,fix}. */
enum fg_err certs_show(struct db *db, const char *id, int64_t now_ms, json_t **out);
/* The chain, CSR or bundle in PEM (malloc'd). Never the key. */
enum fg_err certs_pem(struct db *db, const char *id, char **pem);
/* Refused with FG_ERR_BUSY while a role uses it; also deletes its key. */
enum fg_err certs_delete(struct db *db, const char *actor, const char *source, const char *id,
                         char **err_msg);
/* Sets "console.cert": a certificate with a key, valid at now_ms. */
enum fg_err certs_console_set(struct db *db, const char *actor, const char *source, const char *id,
                              int64_t now_ms, char **err_msg);
/* First start: when "console.cert" is unset or dangling, creates a self-signed ECDSA
 * P-256 certificate for hostname ("localhost" and addrs as SANs) and selects it. */
enum fg_err certs_console_ensure(struct db *db, const char *hostname, const char *const *addrs,
                                 size_t n, int64_t now_ms);

/* TLS credentials for the TLS front, deep-copied out of the store. */
struct certs_creds {
	br_x509_certificate *chain; /* leaf first; each data is owned */
	size_t chain_len;
	int key_type; /* BR_KEYTYPE_EC or BR_KEYTYPE_RSA */
	br_ec_private_key ec;
	br_rsa_private_key rsa;
	unsigned char *key_buf; /* backing store of ec/rsa; wiped on free */
	size_t key_buf_len;
	int64_t not_after_ms; /* of the leaf */
	char id[DB_ID_MAX];
	char name[DB_NAME_MAX];
};

/* FG_ERR_NOTFOUND for an unknown id, FG_ERR_INVAL when the record has no key. */
enum fg_err certs_load_creds(struct db *db, const char *id, struct certs_creds *out);
void certs_creds_free(struct certs_creds *creds); /* NULL is a no-op; zeroes *creds */

struct certs_expiry {
	const char *id;
	const char *name;
	const char *subject;
	int64_t not_after_ms;
	int64_t days_left; /* negative once expired */
	const char *roles; /* "console, xmpp:example.com" */
};

typedef void (*certs_expiry_cb)(void *ctx, const struct certs_expiry *e);
/* Calls cb for every certificate in use that expires within within_ms of now_ms (or has
 * expired). Pointers in *e are valid during the call only. */
enum fg_err certs_expiring(struct db *db, int64_t now_ms, int64_t within_ms, certs_expiry_cb cb,
                           void *ctx);

#endif
