/* pki X.509: writes PKCS#10 requests (RFC 2986) and self-signed certificates (RFC 5280). */
#include "pki_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* RFC 5280 §4.1.2.5: start validity a little in the past to absorb peers' clock skew. */
#define X509_BACKDATE_MS (5LL * 60 * 1000)
/* Validity we agree to write: beyond ~100 years is a typo, not a policy. */
#define X509_DAYS_MAX 36500
/* SAN entries one request may carry (Let's Encrypt allows 100 names). */
#define X509_SAN_ENTRIES_MAX 100
/* A signature: ECDSA P-521 DER <= 139 bytes, RSA-4096 = 512 bytes. */
#define X509_SIG_MAX 520

static bool nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void put_rdn(struct pki_der *d, const char *oid, uint8_t tag, const char *value)
{
	pki_der_begin(d, PKI_TAG_SET);
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	pki_der_oid(d, oid);
	pki_der_string(d, tag, value);
	pki_der_end(d);
	pki_der_end(d);
}

/* RFC 5280 §4.1.2.4: most general first (C, O, OU), CN last. */
static void put_name(struct pki_der *d, const struct pki_subject_params *p)
{
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	if (nonempty(p->c))
		put_rdn(d, PKI_OID_C, PKI_TAG_PRINTABLE_STRING, p->c);
	if (nonempty(p->o))
		put_rdn(d, PKI_OID_O, PKI_TAG_UTF8_STRING, p->o);
	if (nonempty(p->ou))
		put_rdn(d, PKI_OID_OU, PKI_TAG_UTF8_STRING, p->ou);
	put_rdn(d, PKI_OID_CN, PKI_TAG_UTF8_STRING, p->cn);
	pki_der_end(d);
}

static enum fg_err check_params(const struct pki_subject_params *p)
{
	if (!nonempty(p->cn) || strlen(p->cn) > 64) /* RFC 5280 ub-common-name */
		return FG_ERR_INVAL;
	if (nonempty(p->c) && strlen(p->c) != 2)
		return FG_ERR_INVAL;
	if (p->dns_count + p->ip_count + p->xmpp_count * 2 > X509_SAN_ENTRIES_MAX)
		return FG_ERR_TOOBIG;
	for (size_t i = 0; i < p->dns_count; i++)
		if (!nonempty(p->dns[i]) || strlen(p->dns[i]) > 253)
			return FG_ERR_INVAL;
	for (size_t i = 0; i < p->xmpp_count; i++)
		if (!nonempty(p->xmpp_domains[i]) || strlen(p->xmpp_domains[i]) > 240)
			return FG_ERR_INVAL;
	for (size_t i = 0; i < p->ip_count; i++) {
		uint8_t a[16];
		if (inet_pton(AF_INET, p->ips[i], a) != 1 && inet_pton(AF_INET6, p->ips[i], a) != 1)
			return FG_ERR_INVAL;
	}
	return FG_OK;
}

static bool has_sans(const struct pki_subject_params *p)
{
	return p->dns_count + p->ip_count + p->xmpp_count > 0;
}

/* The subjectAltName extension value (GeneralNames, RFC 5280 §4.2.1.6). */
static void put_san_value(struct pki_der *d, const struct pki_subject_params *p)
{
	char srv[256];
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	for (size_t i = 0; i < p->dns_count; i++)
		pki_der_string(d, PKI_TAG_CTX(2), p->dns[i]);
	for (size_t i = 0; i < p->ip_count; i++) {
		uint8_t a[16];
		if (inet_pton(AF_INET, p->ips[i], a) == 1)
			pki_der_tlv(d, PKI_TAG_CTX(7), a, 4);
		else if (inet_pton(AF_INET6, p->ips[i], a) == 1)
			pki_der_tlv(d, PKI_TAG_CTX(7), a, 16);
	}
	for (size_t i = 0; i < p->xmpp_count; i++) {
		/* RFC 4985 §2: SRVName is "_Service.Name" as IA5String in an otherName. */
		snprintf(srv, sizeof(srv), "_xmpp-server.%s", p->xmpp_domains[i]);
		pki_der_begin(d, PKI_TAG_CTX_CONS(0));
		pki_der_oid(d, PKI_OID_SRV_NAME);
		pki_der_begin(d, PKI_TAG_CTX_CONS(0));
		pki_der_string(d, PKI_TAG_IA5_STRING, srv);
		pki_der_end(d);
		pki_der_end(d);
		if (p->xmpp_addr) {
			/* RFC 6120 §13.7.1.4: id-on-xmppAddr carries a UTF8String JID. */
			pki_der_begin(d, PKI_TAG_CTX_CONS(0));
			pki_der_oid(d, PKI_OID_XMPP_ADDR);
			pki_der_begin(d, PKI_TAG_CTX_CONS(0));
			pki_der_string(d, PKI_TAG_UTF8_STRING, p->xmpp_domains[i]);
			pki_der_end(d);
			pki_der_end(d);
		}
	}
	pki_der_end(d);
}

/* Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }. */
static void put_ext(struct pki_der *d, const char *oid, bool critical, const struct pki_der *val)
{
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	pki_der_oid(d, oid);
	if (critical)
		pki_der_bool(d, true);
	if (val->err != FG_OK) {
		if (d->err == FG_OK)
			d->err = val->err;
	} else {
		pki_der_octets(d, val->buf.data, val->buf.len);
	}
	pki_der_end(d);
}

static void put_san_ext(struct pki_der *d, const struct pki_subject_params *p)
{
	struct pki_der v;
	pki_der_init(&v);
	put_san_value(&v, p);
	pki_der_finish(&v);
	put_ext(d, PKI_OID_SAN, false, &v);
	pki_der_free(&v);
}

/* Signs the TBS in tbs and writes SEQUENCE { tbs, alg, BIT STRING sig } into out. */
static enum fg_err sign_wrap(const struct pki_key *key, struct pki_der *tbs, struct fg_buf *out)
{
	uint8_t sig[X509_SIG_MAX];
	size_t sig_len = 0;
	struct pki_der d;
	enum fg_err err = pki_der_finish(tbs);
	if (err != FG_OK)
		return err;
	err = pki__sign(key, tbs->buf.data, tbs->buf.len, sig, sizeof(sig), &sig_len);
	if (err != FG_OK)
		return err;
	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_raw(&d, tbs->buf.data, tbs->buf.len);
	pki__sig_alg(&d, key);
	pki_der_bits(&d, sig, sig_len);
	pki_der_end(&d);
	err = pki_der_finish(&d);
	if (err == FG_OK) {
		fg_buf_reset(out);
		err = fg_buf_append(out, d.buf.data, d.buf.len);
	}
	pki_der_free(&d);
	return err;
}

enum fg_err pki_csr_create(const struct pki_key *key, const struct pki_subject_params *p,
                           struct fg_buf *der_out)
{
	struct pki_der d;
	enum fg_err err = check_params(p);
	if (err != FG_OK)
		return err;
	pki_der_init(&d);
	/* RFC 2986 §4.1 CertificationRequestInfo. */
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_int(&d, 0);
	put_name(&d, p);
	pki__spki(&d, key);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(0)); /* attributes [0] IMPLICIT SET */
	if (has_sans(p)) {
		/* RFC 2985 §5.4.2 extensionRequest carrying the subjectAltName. */
		pki_der_begin(&d, PKI_TAG_SEQUENCE);
		pki_der_oid(&d, PKI_OID_EXTENSION_REQUEST);
		pki_der_begin(&d, PKI_TAG_SET);
		pki_der_begin(&d, PKI_TAG_SEQUENCE);
		put_san_ext(&d, p);
		pki_der_end(&d);
		pki_der_end(&d);
		pki_der_end(&d);
	}
	pki_der_end(&d);
	pki_der_end(&d);
	err = sign_wrap(key, &d, der_out);
	pki_der_free(&d);
	return err;
}

/* RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value. */
static void put_ski_ext(struct pki_der *d, const struct pki_key *key)
{
	struct pki_der spki, v;
	uint8_t hash[64];
	pki_der_init(&spki);
	pki_der_init(&v);
	pki__spki(&spki, key);
	if (pki_der_finish(&spki) == FG_OK) {
		struct pki_der_rd r = {spki.buf.data, spki.buf.len};
		struct pki_tlv outer, alg, bits;
		if (pki_der_next(&r, &outer, NULL)) {
			struct pki_der_rd in = {outer.val, outer.len};
			if (pki_der_next(&in, &alg, NULL) && pki_der_next(&in, &bits, NULL) &&
			    bits.len > 1) {
				size_t n = pki__hash(br_sha1_ID, bits.val + 1, bits.len - 1, hash);
				pki_der_octets(&v, hash, n);
			}
		}
	}
	if (pki_der_finish(&v) == FG_OK && v.buf.len > 0)
		put_ext(d, PKI_OID_SKI, false, &v);
	else if (d->err == FG_OK)
		d->err = FG_ERR_CRYPTO;
	pki_der_free(&spki);
	pki_der_free(&v);
}

enum fg_err pki_selfsigned_create(const struct pki_key *key, const struct pki_subject_params *p,
                                  int64_t now_ms, unsigned days, struct fg_buf *der_out)
{
	struct pki_der d, v;
	uint8_t serial[16];
	enum fg_err err = check_params(p);
	if (err != FG_OK)
		return err;
	if (days == 0 || days > X509_DAYS_MAX)
		return FG_ERR_INVAL;
	/* RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes, top bit clear. */
	fg_random(serial, sizeof(serial));
	serial[0] &= 0x7f;
	serial[0] |= 0x40;

	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(0));
	pki_der_int(&d, 2); /* v3 */
	pki_der_end(&d);
	pki_der_uint(&d, serial, sizeof(serial));
	pki__sig_alg(&d, key);
	put_name(&d, p);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_time(&d, now_ms - X509_BACKDATE_MS);
	pki_der_time(&d, now_ms + (int64_t)days * 86400 * 1000);
	pki_der_end(&d);
	put_name(&d, p);
	pki__spki(&d, key);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(3));
	pki_der_begin(&d, PKI_TAG_SEQUENCE);

	/* basicConstraints: CA:FALSE is the DEFAULT, so the value is an empty SEQUENCE. */
	pki_der_init(&v);
	pki_der_begin(&v, PKI_TAG_SEQUENCE);
	pki_der_end(&v);
	pki_der_finish(&v);
	put_ext(&d, PKI_OID_BASIC_CONSTRAINTS, true, &v);
	pki_der_free(&v);

	/* keyUsage (RFC 5280 §4.2.1.3): digitalSignature, + keyEncipherment for RSA. DER
	 * named bit strings drop trailing zero bits: 7 unused bits, or 5 with bit 2 set. */
	pki_der_init(&v);
	if (key->br_type == BR_KEYTYPE_RSA)
		pki_der_raw(&v, "\x03\x02\x05\xa0", 4);
	else
		pki_der_raw(&v, "\x03\x02\x07\x80", 4);
	put_ext(&d, PKI_OID_KEY_USAGE, true, &v);
	pki_der_free(&v);

	/* extendedKeyUsage: serverAuth for s2s/console, clientAuth for outgoing s2s. */
	pki_der_init(&v);
	pki_der_begin(&v, PKI_TAG_SEQUENCE);
	pki_der_oid(&v, PKI_OID_SERVER_AUTH);
	pki_der_oid(&v, PKI_OID_CLIENT_AUTH);
	pki_der_end(&v);
	pki_der_finish(&v);
	put_ext(&d, PKI_OID_EXT_KEY_USAGE, false, &v);
	pki_der_free(&v);

	if (has_sans(p))
		put_san_ext(&d, p);
	put_ski_ext(&d, key);

	pki_der_end(&d);
	pki_der_end(&d);
	pki_der_end(&d);
	err = sign_wrap(key, &d, der_out);
	pki_der_free(&d);
	return err;
}
