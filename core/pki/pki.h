/* pki: DER, keys, CSRs (RFC 2986), X.509 (RFC 5280), PEM (RFC 7468), XMPP SANs (RFC 4985). */
#ifndef FEDGW_PKI_H
#define FEDGW_PKI_H

#include "base/base.h"

#include <bearssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting depth of the DER writer: a certificate nests at most ~8 levels deep. */
#define PKI_DER_DEPTH_MAX 16
/* A PEM text larger than this is not a certificate bundle anyone should upload. */
#define PKI_PEM_TEXT_MAX (1024 * 1024)
/* Blocks in one PEM text: a chain plus a key, or a CA bundle of reasonable size. */
#define PKI_PEM_BLOCKS_MAX 256
/* One DER object: RSA-8192 certificates with many SANs stay well below 32 KiB. */
#define PKI_DER_MAX (64 * 1024)
/* Certificates in one chain/bundle given to the chain checker. */
#define PKI_CHAIN_MAX 16
/* SAN entries kept per certificate for listing (more are counted, not kept). */
#define PKI_SAN_MAX       64
#define PKI_SAN_VALUE_MAX 256
#define PKI_DN_MAX        512
#define PKI_MSG_MAX       512

/* ---- DER writer (X.690) ------------------------------------------------------------- */
#define PKI_TAG_BOOLEAN          0x01
#define PKI_TAG_INTEGER          0x02
#define PKI_TAG_BIT_STRING       0x03
#define PKI_TAG_OCTET_STRING     0x04
#define PKI_TAG_NULL             0x05
#define PKI_TAG_OID              0x06
#define PKI_TAG_UTF8_STRING      0x0c
#define PKI_TAG_PRINTABLE_STRING 0x13
#define PKI_TAG_IA5_STRING       0x16
#define PKI_TAG_UTC_TIME         0x17
#define PKI_TAG_GENERALIZED_TIME 0x18
#define PKI_TAG_SEQUENCE         0x30
#define PKI_TAG_SET              0x31
/* Context-specific tags: [n] IMPLICIT primitive and [n] constructed (EXPLICIT). */
#define PKI_TAG_CTX(n)      (0x80 | (n))
#define PKI_TAG_CTX_CONS(n) (0xa0 | (n))

/* Errors are sticky: the first failure is kept and returned by pki_der_finish. */
struct pki_der {
	struct fg_buf buf;
	size_t open[PKI_DER_DEPTH_MAX]; /* offsets of the open constructed values */
	size_t depth;
	enum fg_err err;
};

void pki_der_init(struct pki_der *d);
void pki_der_free(struct pki_der *d);
/* Opens a constructed value (SEQUENCE, SET, [n] EXPLICIT); closed by pki_der_end. */
void pki_der_begin(struct pki_der *d, uint8_t tag);
void pki_der_end(struct pki_der *d);
void pki_der_tlv(struct pki_der *d, uint8_t tag, const void *val, size_t len);
void pki_der_raw(struct pki_der *d, const void *bytes, size_t len);
/* Unsigned big-endian magnitude; leading zeros dropped, 0x00 added when the top bit is set. */
void pki_der_uint(struct pki_der *d, const uint8_t *be, size_t len);
void pki_der_int(struct pki_der *d, int64_t v);
void pki_der_bool(struct pki_der *d, bool v);
void pki_der_null(struct pki_der *d);
/* Dotted OID, e.g. "2.5.4.3". */
void pki_der_oid(struct pki_der *d, const char *dotted);
void pki_der_string(struct pki_der *d, uint8_t tag, const char *s);
/* BIT STRING with zero unused bits. */
void pki_der_bits(struct pki_der *d, const void *bytes, size_t len);
void pki_der_octets(struct pki_der *d, const void *bytes, size_t len);
/* RFC 5280 §4.1.2.5: UTCTime for years 1950-2049, GeneralizedTime otherwise, seconds, Z. */
void pki_der_time(struct pki_der *d, int64_t ms);
/* Returns the sticky error, or FG_OK with every value closed; the bytes are in d->buf. */
enum fg_err pki_der_finish(struct pki_der *d);

/* ---- DER reader ----------------------------------------------------------------------- */
struct pki_der_rd {
	const uint8_t *p;
	size_t len;
};

struct pki_tlv {
	uint8_t tag;
	const uint8_t *val;
	size_t len;
	const uint8_t *raw; /* tag, length and value */
	size_t raw_len;
};

/* Takes the next TLV (single-byte tags, definite lengths in minimal form). Returns false
 * at the end or on malformed input (then *bad is set when given). */
bool pki_der_next(struct pki_der_rd *r, struct pki_tlv *out, bool *bad);
/* Dotted text of an OID value; false if malformed or does not fit. */
bool pki_oid_to_text(const uint8_t *val, size_t len, char *out, size_t outsize);
/* ms since the epoch of a UTCTime/GeneralizedTime value; false if malformed. */
bool pki_time_parse(uint8_t tag, const uint8_t *val, size_t len, int64_t *ms);

/* ---- keys ----------------------------------------------------------------------------- */
enum pki_key_type {
	PKI_KEY_EC_P256 = 0,
	PKI_KEY_EC_P384,
	PKI_KEY_RSA_2048,
	PKI_KEY_RSA_3072,
	PKI_KEY_RSA_4096,
	PKI_KEY__COUNT
};

/* "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096". */
const char *pki_key_type_name(enum pki_key_type type);
bool pki_key_type_parse(const char *s, enum pki_key_type *out);

/* A private key with its public half, in BearSSL form. Heap object owned by the caller. */
struct pki_key {
	int br_type;        /* BR_KEYTYPE_EC or BR_KEYTYPE_RSA */
	char type_name[16]; /* "ec-p256", "rsa-2048", ...; "rsa-<bits>" for other sizes */
	br_ec_private_key ec;
	br_ec_public_key ec_pub;
	br_rsa_private_key rsa;
	br_rsa_public_key rsa_pub;
	unsigned char *kbuf; /* backing store of every field above; wiped on free */
	size_t kbuf_len;
};

enum fg_err pki_key_generate(enum pki_key_type type, struct pki_key **out);
/* Decodes a PKCS#8, SEC1 or PKCS#1 DER private key. */
enum fg_err pki_key_decode(const uint8_t *der, size_t len, struct pki_key **out);
/* Finds the one private key block in a PEM text and decodes it; err gets plain words. */
enum fg_err pki_key_from_pem(const char *pem, size_t len, struct pki_key **out, char *err,
                             size_t errsize);
/* PKCS#8 "PRIVATE KEY" PEM, NUL-terminated, in out (caller wipes with pki_buf_wipe). */
enum fg_err pki_key_to_pem(const struct pki_key *key, struct fg_buf *out);
void pki_key_free(struct pki_key *key);
/* Zeroes and frees a buffer that held key material. */
void pki_buf_wipe(struct fg_buf *b);

/* ---- PEM ------------------------------------------------------------------------------ */
struct pki_pem_block {
	char label[64]; /* "CERTIFICATE", "PRIVATE KEY", ... */
	uint8_t *der;
	size_t len;
};

struct pki_pem {
	struct pki_pem_block *blocks;
	size_t count;
};

/* Where pki_pem_each stopped: the label of the last block begun ("" when none), the offset
 * just past the last END line, and whether the text ended inside a block. */
struct pki_pem_end {
	char label[64];
	size_t after_last;
	bool unterminated;
};
/* One block as written: label as in its BEGIN line (no aliases resolved), DER borrowed for the
 * call. A non-OK return stops the reading with that error. */
typedef enum fg_err (*pki_pem_block_cb)(void *ctx, const char *label, const uint8_t *der,
                                        size_t len);
/* Reads every PEM block of text with BearSSL's decoder, CRLF or LF lines, text between and
 * around blocks ignored, and hands each to cb. FG_ERR_PARSE on bad base64 or a BEGIN without
 * END (end->unterminated), FG_ERR_TOOBIG for a block over der_max bytes. The caller caps
 * len. The DER buffer is wiped after use (blocks may hold keys). */
enum fg_err pki_pem_each(const char *text, size_t len, size_t der_max, pki_pem_block_cb cb,
                         void *ctx, struct pki_pem_end *end);
/* Decodes every block. Refuses: no block, unknown labels, encrypted keys, bad base64,
 * text after the last block. "EC PARAMETERS" blocks are skipped. err gets plain words. */
enum fg_err pki_pem_decode(const char *text, size_t len, struct pki_pem *out, char *err,
                           size_t errsize);
void pki_pem_clear(struct pki_pem *pem); /* wipes the DER (it may hold keys) */
/* Appends one PEM block (64-column lines) to out. */
enum fg_err pki_pem_encode(struct fg_buf *out, const char *label, const uint8_t *der, size_t len);

/* ---- certificate and CSR creation ----------------------------------------------------- */
struct pki_subject_params {
	const char *cn;         /* required */
	const char *o, *ou, *c; /* optional: NULL or "" omits; c is two letters */
	const char *const *dns; /* subjectAltName dNSName entries */
	size_t dns_count;
	const char *const *ips; /* textual IPv4/IPv6 addresses (iPAddress) */
	size_t ip_count;
	const char *const *xmpp_domains; /* SRVName "_xmpp-server.<domain>" (RFC 4985) */
	size_t xmpp_count;
	/* Also id-on-xmppAddr for each xmpp domain (RFC 6120 §13.7.1.4). Off by default:
	 * ejabberd 23.01 fails s2s authentication on certificates carrying it. */
	bool xmpp_addr;
};

/* PKCS#10 request signed with ECDSA-SHA256 or RSA-SHA256; DER in der_out. */
enum fg_err pki_csr_create(const struct pki_key *key, const struct pki_subject_params *p,
                           struct fg_buf *der_out);
/* Self-signed X.509 v3 leaf valid from now - 5 min for days days. */
enum fg_err pki_selfsigned_create(const struct pki_key *key, const struct pki_subject_params *p,
                                  int64_t now_ms, unsigned days, struct fg_buf *der_out);

/* ---- parsing for listing -------------------------------------------------------------- */
enum pki_san_type {
	PKI_SAN_DNS = 0,
	PKI_SAN_IP,
	PKI_SAN_URI,
	PKI_SAN_EMAIL,
	PKI_SAN_SRV,
	PKI_SAN_XMPP
};

struct pki_san {
	enum pki_san_type type;
	char value[PKI_SAN_VALUE_MAX];
};

/* "DNS", "IP", "URI", "email", "SRV", "xmppAddr". */
const char *pki_san_type_name(enum pki_san_type type);

struct pki_pubkey {
	int br_type;      /* BR_KEYTYPE_EC or BR_KEYTYPE_RSA; 0 = unsupported */
	int curve;        /* BR_EC_* */
	const uint8_t *q; /* EC point, into der */
	size_t q_len;
	const uint8_t *n, *e; /* RSA, leading zeros stripped, into der */
	size_t n_len, e_len;
};

/* A parsed certificate or CSR. For a CSR (is_csr) issuer, serial, validity and is_ca are
 * empty and self_signed says whether the request's signature verifies. */
struct pki_cert {
	uint8_t *der; /* owned copy of the encoding */
	size_t der_len;
	bool is_csr;
	char subject[PKI_DN_MAX]; /* "CN=a, O=b", most specific first (RFC 4514 order) */
	char issuer[PKI_DN_MAX];
	char serial_hex[80];
	int64_t not_before_ms, not_after_ms;
	struct pki_san sans[PKI_SAN_MAX];
	size_t san_count;
	char key_type[16]; /* "ec-p256", "rsa-2048", "unknown" */
	unsigned key_bits;
	char fingerprint[96]; /* SHA-256 of the DER, "AB:CD:..." */
	bool is_ca;           /* basicConstraints cA */
	bool self_signed;     /* issuer == subject and the signature verifies */
	struct pki_pubkey pub;
	/* Pieces used to link and verify, pointing into der. */
	const uint8_t *tbs, *subject_der, *issuer_der, *sig;
	size_t tbs_len, subject_der_len, issuer_der_len, sig_len;
	int sig_hash; /* br_sha*_ID of the signature algorithm, 0 = unknown */
	int sig_key;  /* BR_KEYTYPE_EC / BR_KEYTYPE_RSA of the signature */
};

enum fg_err pki_cert_parse(const uint8_t *der, size_t len, struct pki_cert **out);
enum fg_err pki_csr_parse(const uint8_t *der, size_t len, struct pki_cert **out);
void pki_cert_free(struct pki_cert *cert);
/* Does issuer's key verify subject's signature (DN bytes are not compared here)? */
bool pki_cert_signed_by(const struct pki_cert *subject, const struct pki_cert *issuer);
/* Is this the private key of that certificate's (or CSR's) public key? */
bool pki_key_matches(const struct pki_key *key, const struct pki_cert *cert);

/* Parses every CERTIFICATE block of a PEM text (other blocks are ignored); err gets plain
 * words naming the block that failed. Free with pki_certs_free. */
enum fg_err pki_certs_from_pem(const char *pem, size_t len, struct pki_cert ***out, size_t *count,
                               char *err, size_t errsize);
void pki_certs_free(struct pki_cert **certs, size_t count);

/* ---- RFC 6125 identity of an XMPP server (RFC 6120 §13.7.2, XEP-0178) ---------------- */
enum pki_id_match { PKI_ID_NONE = 0, PKI_ID_DNS, PKI_ID_SRV, PKI_ID_XMPPADDR, PKI_ID_CN };

/* Does the certificate (DER) prove the XMPP server domain? Reference identifiers: DNS-ID
 * domain (a "*" wildcard only as the whole leftmost label, matching exactly one label),
 * SRV-ID "_xmpp-server.<domain>" (RFC 4985), id-on-xmppAddr equal to the domain; the
 * subject CN only when the certificate has none of those subjectAltName types (RFC 6125
 * §6.4.4). ASCII case-insensitive; one trailing dot ignored. Structural: the SANs and the
 * subject are read from the DER, never from formatted DN text. why (may be NULL) gets plain
 * words either way: what matched, or which names the certificate has instead. */
enum pki_id_match pki_cert_match_xmpp(const uint8_t *der, size_t len, const char *domain, char *why,
                                      size_t whysize);
/* "none", "DNS-ID", "SRV-ID", "xmppAddr", "CN". */
const char *pki_id_match_name(enum pki_id_match m);

/* ---- chain checking ------------------------------------------------------------------- */
struct pki_chain_result {
	bool ok;
	size_t index;                /* 1-based certificate at fault; 0 when ok */
	char message[PKI_MSG_MAX];   /* what is wrong, in plain words */
	char fix[PKI_MSG_MAX];       /* what to do about it */
	size_t order[PKI_CHAIN_MAX]; /* suggested order: 0-based indexes into the input */
	size_t order_len;
};

/* Checks certificates in upload order: leaf first, then intermediates, root (optional)
 * last. Links by issuer/subject DN bytes and signature; reports order, missing
 * intermediates, non-CA issuers, expired and not-yet-valid certificates. */
void pki_chain_check(struct pki_cert *const *certs, size_t count, int64_t now_ms,
                     struct pki_chain_result *res);

#endif
