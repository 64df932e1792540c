/* pki internal: helpers shared by the pki source files (signing, hashing, OIDs). */
#ifndef FEDGW_PKI_INTERNAL_H
#define FEDGW_PKI_INTERNAL_H

#include "pki/pki.h"

#define PKI_OID_RSA_ENCRYPTION    "1.2.840.113549.1.1.1"
#define PKI_OID_SHA256_WITH_RSA   "1.2.840.113549.1.1.11"
#define PKI_OID_EC_PUBLIC_KEY     "1.2.840.10045.2.1"
#define PKI_OID_ECDSA_SHA256      "1.2.840.10045.4.3.2"
#define PKI_OID_P256              "1.2.840.10045.3.1.7"
#define PKI_OID_P384              "1.3.132.0.34"
#define PKI_OID_P521              "1.3.132.0.35"
#define PKI_OID_CN                "2.5.4.3"
#define PKI_OID_C                 "2.5.4.6"
#define PKI_OID_O                 "2.5.4.10"
#define PKI_OID_OU                "2.5.4.11"
#define PKI_OID_SAN               "2.5.29.17"
#define PKI_OID_BASIC_CONSTRAINTS "2.5.29.19"
#define PKI_OID_KEY_USAGE         "2.5.29.15"
#define PKI_OID_EXT_KEY_USAGE     "2.5.29.37"
#define PKI_OID_SKI               "2.5.29.14"
#define PKI_OID_EXTENSION_REQUEST "1.2.840.113549.1.9.14"
#define PKI_OID_SRV_NAME          "1.3.6.1.5.5.7.8.7" /* RFC 4985 id-on-dnsSRV */
#define PKI_OID_XMPP_ADDR         "1.3.6.1.5.5.7.8.5" /* RFC 6120 §13.7.1.4 id-on-xmppAddr */
#define PKI_OID_SERVER_AUTH       "1.3.6.1.5.5.7.3.1"
#define PKI_OID_CLIENT_AUTH       "1.3.6.1.5.5.7.3.2"

/* Appends the signature AlgorithmIdentifier matching key (ECDSA-SHA256 / RSA-SHA256). */
void pki__sig_alg(struct pki_der *d, const struct pki_key *key);
/* Signs data with SHA-256; the DER-encoded ECDSA or PKCS#1 v1.5 signature goes in sig. */
enum fg_err pki__sign(const struct pki_key *key, const uint8_t *data, size_t len, uint8_t *sig,
                      size_t sigsize, size_t *sig_len);
/* Appends SubjectPublicKeyInfo of key. */
void pki__spki(struct pki_der *d, const struct pki_key *key);
/* Hash of data with the br_*_ID hash; returns the length or 0 if unsupported. */
size_t pki__hash(int hash_id, const uint8_t *data, size_t len, uint8_t out[64]);
bool pki__verify(const struct pki_pubkey *pub, int sig_key, int sig_hash, const uint8_t *data,
                 size_t len, const uint8_t *sig, size_t sig_len);
/* Formats into err if err is not NULL. */
void pki__err(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
