/* pki parse: reads X.509 certificates (RFC 5280 §4.1) and PKCS#10 requests (RFC 2986). */
#include "pki_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RDNs in one name: real names have fewer than 10. */
#define PARSE_RDN_MAX 32
/* Extensions in one certificate: real certificates have about 10. */
#define PARSE_EXT_MAX 64

struct dn_attr_name {
	const char *oid;
	const char *name;
};

static const struct dn_attr_name dn_names[] = {
    {"2.5.4.3", "CN"},
    {"2.5.4.6", "C"},
    {"2.5.4.7", "L"},
    {"2.5.4.8", "ST"},
    {"2.5.4.10", "O"},
    {"2.5.4.11", "OU"},
    {"2.5.4.5", "serialNumber"},
    {"2.5.4.9", "street"},
    {"1.2.840.113549.1.9.1", "emailAddress"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"0.9.2342.19200300.100.1.1", "UID"},
};

const char *pki_san_type_name(enum pki_san_type type)
{
	switch (type) {
	case PKI_SAN_DNS:
		return "DNS";
	case PKI_SAN_IP:
		return "IP";
	case PKI_SAN_URI:
		return "URI";
	case PKI_SAN_EMAIL:
		return "email";
	case PKI_SAN_SRV:
		return "SRV";
	case PKI_SAN_XMPP:
		return "xmppAddr";
	}
	return "?";
}

/* Appends printable text; RFC 4514 §2.4 special characters are escaped with '\'. */
static void text_append(char *out, size_t outsize, size_t *o, const uint8_t *p, size_t len,
                        bool escape)
{
	for (size_t i = 0; i < len && *o + 3 < outsize; i++) {
		uint8_t c = p[i];
		if (escape && (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' ||
		               c == '>' || c == ';'))
			out[(*o)++] = '\\';
		/* Control bytes never reach a page or a log line as they are. */
		out[(*o)++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[*o] = '\0';
}

static void str_append(char *out, size_t outsize, size_t *o, const char *s)
{
	text_append(out, outsize, o, (const uint8_t *)s, strlen(s), false);
}

static bool is_string_tag(uint8_t tag)
{
	return tag == PKI_TAG_UTF8_STRING || tag == PKI_TAG_PRINTABLE_STRING ||
	       tag == PKI_TAG_IA5_STRING || tag == 0x14 /* T61 */ || tag == 0x1e /* BMP */ ||
	       tag == 0x1c /* Universal */ || tag == 0x1a /* Visible */;
}

/* Formats a Name as "CN=a, O=b" in RFC 4514 order (last RDN first). */
static bool name_format(const uint8_t *val, size_t len, char *out, size_t outsize)
{
	struct pki_der_rd r = {val, len};
	struct pki_tlv rdns[PARSE_RDN_MAX], set;
	size_t n = 0, o = 0;
	bool bad = false;
	out[0] = '\0';
	while (pki_der_next(&r, &set, &bad)) {
		if (set.tag != PKI_TAG_SET || n == PARSE_RDN_MAX)
			return false;
		rdns[n++] = set;
	}
	if (bad)
		return false;
	for (size_t i = n; i-- > 0;) {
		struct pki_der_rd rs = {rdns[i].val, rdns[i].len};
		struct pki_tlv atv;
		bool first = true;
		while (pki_der_next(&rs, &atv, &bad)) {
			struct pki_der_rd ra = {atv.val, atv.len};
			struct pki_tlv oid, value;
			char oidtxt[64];
			const char *label = NULL;
			if (atv.tag != PKI_TAG_SEQUENCE || !pki_der_next(&ra, &oid, &bad) ||
			    !pki_der_next(&ra, &value, &bad) || oid.tag != PKI_TAG_OID ||
			    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)))
				return false;
			for (size_t k = 0; k < sizeof(dn_names) / sizeof(dn_names[0]); k++)
				if (strcmp(dn_names[k].oid, oidtxt) == 0)
					label = dn_names[k].name;
			if (o > 0)
				str_append(out, outsize, &o, first ? ", " : "+");
			first = false;
			str_append(out, outsize, &o, label != NULL ? label : oidtxt);
			str_append(out, outsize, &o, "=");
			if (value.tag == 0x1e) {
				/* BMPString: UCS-2; keep the ASCII characters. */
				for (size_t k = 0; k + 1 < value.len; k += 2) {
					uint8_t c = value.val[k] == 0 ? value.val[k + 1] : '?';
					text_append(out, outsize, &o, &c, 1, true);
				}
			} else if (is_string_tag(value.tag)) {
				text_append(out, outsize, &o, value.val, value.len, true);
			} else {
				str_append(out, outsize, &o, "#");
				for (size_t k = 0; k < value.len && o + 4 < outsize; k++)
					o += (size_t)snprintf(out + o, outsize - o, "%02x",
					                      value.val[k]);
			}
		}
		if (bad)
			return false;
	}
	return true;
}

static void san_add(struct pki_cert *c, enum pki_san_type type, const uint8_t *v, size_t len)
{
	if (c->san_count >= PKI_SAN_MAX)
		return;
	struct pki_san *s = &c->sans[c->san_count++];
	size_t o = 0;
	s->type = type;
	s->value[0] = '\0';
	text_append(s->value, sizeof(s->value), &o, v, len, false);
}

/* GeneralNames (RFC 5280 §4.2.1.6). */
static bool parse_san(struct pki_cert *c, const uint8_t *val, size_t len)
{
	struct pki_der_rd r = {val, len};
	struct pki_tlv seq, gn;
	bool bad = false;
	if (!pki_der_next(&r, &seq, &bad) || seq.tag != PKI_TAG_SEQUENCE)
		return false;
	struct pki_der_rd rs = {seq.val, seq.len};
	while (pki_der_next(&rs, &gn, &bad)) {
		switch (gn.tag) {
		case PKI_TAG_CTX(1):
			san_add(c, PKI_SAN_EMAIL, gn.val, gn.len);
			break;
		case PKI_TAG_CTX(2):
			san_add(c, PKI_SAN_DNS, gn.val, gn.len);
			break;
		case PKI_TAG_CTX(6):
			san_add(c, PKI_SAN_URI, gn.val, gn.len);
			break;
		case PKI_TAG_CTX(7): {
			char txt[INET6_ADDRSTRLEN];
			int af = gn.len == 4 ? AF_INET : gn.len == 16 ? AF_INET6 : 0;
			if (af != 0 && inet_ntop(af, gn.val, txt, sizeof(txt)) != NULL)
				san_add(c, PKI_SAN_IP, (const uint8_t *)txt, strlen(txt));
			break;
		}
		case PKI_TAG_CTX_CONS(0): {
			/* otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } */
			struct pki_der_rd ro = {gn.val, gn.len};
			struct pki_tlv oid, wrap, inner;
			char oidtxt[64];
			if (!pki_der_next(&ro, &oid, &bad) || oid.tag != PKI_TAG_OID ||
			    !pki_der_next(&ro, &wrap, &bad) || wrap.tag != PKI_TAG_CTX_CONS(0))
				break;
			struct pki_der_rd rw = {wrap.val, wrap.len};
			if (!pki_der_next(&rw, &inner, &bad) ||
			    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)))
				break;
			if (strcmp(oidtxt, PKI_OID_SRV_NAME) == 0 &&
			    inner.tag == PKI_TAG_IA5_STRING)
				san_add(c, PKI_SAN_SRV, inner.val, inner.len);
			else if (strcmp(oidtxt, PKI_OID_XMPP_ADDR) == 0 &&
			         inner.tag == PKI_TAG_UTF8_STRING)
				san_add(c, PKI_SAN_XMPP, inner.val, inner.len);
			break;
		}
		default:
			break;
		}
	}
	return !bad;
}

static bool parse_basic_constraints(struct pki_cert *c, const uint8_t *val, size_t len)
{
	struct pki_der_rd r = {val, len};
	struct pki_tlv seq, b;
	bool bad = false;
	if (!pki_der_next(&r, &seq, &bad) || seq.tag != PKI_TAG_SEQUENCE)
		return false;
	struct pki_der_rd rs = {seq.val, seq.len};
	if (pki_der_next(&rs, &b, &bad) && b.tag == PKI_TAG_BOOLEAN && b.len == 1)
		c->is_ca = b.val[0] != 0;
	return !bad;
}

/* Extensions ::= SEQUENCE OF Extension */
static bool parse_extensions(struct pki_cert *c, const uint8_t *val, size_t len)
{
	struct pki_der_rd r = {val, len};
	struct pki_tlv ext;
	bool bad = false;
	size_t n = 0;
	while (pki_der_next(&r, &ext, &bad)) {
		struct pki_der_rd re = {ext.val, ext.len};
		struct pki_tlv oid, t;
		char oidtxt[64];
		if (ext.tag != PKI_TAG_SEQUENCE || ++n > PARSE_EXT_MAX ||
		    !pki_der_next(&re, &oid, &bad) || oid.tag != PKI_TAG_OID ||
		    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)) ||
		    !pki_der_next(&re, &t, &bad))
			return false;
		if (t.tag == PKI_TAG_BOOLEAN && !pki_der_next(&re, &t, &bad))
			return false;
		if (t.tag != PKI_TAG_OCTET_STRING)
			return false;
		if (strcmp(oidtxt, PKI_OID_SAN) == 0) {
			if (!parse_san(c, t.val, t.len))
				return false;
		} else if (strcmp(oidtxt, PKI_OID_BASIC_CONSTRAINTS) == 0) {
			if (!parse_basic_constraints(c, t.val, t.len))
				return false;
		}
	}
	return !bad;
}

static const uint8_t *strip(const uint8_t *p, size_t *len)
{
	while (*len > 1 && p[0] == 0) {
		p++;
		(*len)--;
	}
	return p;
}

/* SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; RFC 5480 for EC, RFC 8017 for RSA). */
static bool parse_spki(struct pki_cert *c, const uint8_t *val, size_t len)
{
	struct pki_der_rd r = {val, len};
	struct pki_tlv alg, bits, oid, param;
	char oidtxt[64], ptxt[64];
	bool bad = false;
	fg_strlcpy(c->key_type, "unknown", sizeof(c->key_type));
	if (!pki_der_next(&r, &alg, &bad) || alg.tag != PKI_TAG_SEQUENCE ||
	    !pki_der_next(&r, &bits, &bad) || bits.tag != PKI_TAG_BIT_STRING || bits.len < 2 ||
	    bits.val[0] != 0)
		return false;
	struct pki_der_rd ra = {alg.val, alg.len};
	if (!pki_der_next(&ra, &oid, &bad) || oid.tag != PKI_TAG_OID ||
	    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)))
		return false;
	if (strcmp(oidtxt, PKI_OID_EC_PUBLIC_KEY) == 0) {
		if (!pki_der_next(&ra, &param, &bad) || param.tag != PKI_TAG_OID ||
		    !pki_oid_to_text(param.val, param.len, ptxt, sizeof(ptxt)))
			return true; /* explicit curve parameters: listed as unknown */
		int curve = 0;
		unsigned bitsz = 0;
		if (strcmp(ptxt, PKI_OID_P256) == 0) {
			curve = BR_EC_secp256r1;
			bitsz = 256;
		} else if (strcmp(ptxt, PKI_OID_P384) == 0) {
			curve = BR_EC_secp384r1;
			bitsz = 384;
		} else if (strcmp(ptxt, PKI_OID_P521) == 0) {
			curve = BR_EC_secp521r1;
			bitsz = 521;
		}
		if (curve == 0)
			return true;
		c->pub.br_type = BR_KEYTYPE_EC;
		c->pub.curve = curve;
		c->pub.q = bits.val + 1;
		c->pub.q_len = bits.len - 1;
		c->key_bits = bitsz;
		snprintf(c->key_type, sizeof(c->key_type), "ec-p%u", bitsz);
		return true;
	}
	if (strcmp(oidtxt, PKI_OID_RSA_ENCRYPTION) == 0) {
		struct pki_der_rd rk = {bits.val + 1, bits.len - 1};
		struct pki_tlv seq, n, e;
		if (!pki_der_next(&rk, &seq, &bad) || seq.tag != PKI_TAG_SEQUENCE)
			return false;
		struct pki_der_rd rs = {seq.val, seq.len};
		if (!pki_der_next(&rs, &n, &bad) || n.tag != PKI_TAG_INTEGER || n.len == 0 ||
		    !pki_der_next(&rs, &e, &bad) || e.tag != PKI_TAG_INTEGER || e.len == 0)
			return false;
		c->pub.br_type = BR_KEYTYPE_RSA;
		c->pub.n_len = n.len;
		c->pub.n = strip(n.val, &c->pub.n_len);
		c->pub.e_len = e.len;
		c->pub.e = strip(e.val, &c->pub.e_len);
		unsigned bitsz = (unsigned)c->pub.n_len * 8;
		for (uint8_t top = c->pub.n[0]; bitsz > 0 && !(top & 0x80); top <<= 1)
			bitsz--;
		c->key_bits = bitsz;
		snprintf(c->key_type, sizeof(c->key_type), "rsa-%u", bitsz);
		return true;
	}
	return true; /* other algorithms (Ed25519, DSA): listed as unknown */
}

static const struct {
	const char *oid;
	int key;
	int hash;
} sig_algs[] = {
    {"1.2.840.113549.1.1.5", BR_KEYTYPE_RSA, br_sha1_ID},
    {"1.2.840.113549.1.1.14", BR_KEYTYPE_RSA, br_sha224_ID},
    {"1.2.840.113549.1.1.11", BR_KEYTYPE_RSA, br_sha256_ID},
    {"1.2.840.113549.1.1.12", BR_KEYTYPE_RSA, br_sha384_ID},
    {"1.2.840.113549.1.1.13", BR_KEYTYPE_RSA, br_sha512_ID},
    {"1.2.840.10045.4.1", BR_KEYTYPE_EC, br_sha1_ID},
    {"1.2.840.10045.4.3.1", BR_KEYTYPE_EC, br_sha224_ID},
    {"1.2.840.10045.4.3.2", BR_KEYTYPE_EC, br_sha256_ID},
    {"1.2.840.10045.4.3.3", BR_KEYTYPE_EC, br_sha384_ID},
    {"1.2.840.10045.4.3.4", BR_KEYTYPE_EC, br_sha512_ID},
};

static bool parse_sig(struct pki_cert *c, const struct pki_tlv *alg, const struct pki_tlv *sig)
{
	struct pki_der_rd r = {alg->val, alg->len};
	struct pki_tlv oid;
	char oidtxt[64];
	if (alg->tag != PKI_TAG_SEQUENCE || sig->tag != PKI_TAG_BIT_STRING || sig->len < 2 ||
	    sig->val[0] != 0 || !pki_der_next(&r, &oid, NULL) || oid.tag != PKI_TAG_OID ||
	    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)))
		return false;
	for (size_t i = 0; i < sizeof(sig_algs) / sizeof(sig_algs[0]); i++) {
		if (strcmp(sig_algs[i].oid, oidtxt) == 0) {
			c->sig_key = sig_algs[i].key;
			c->sig_hash = sig_algs[i].hash;
		}
	}
	c->sig = sig->val + 1;
	c->sig_len = sig->len - 1;
	return true;
}

static void fingerprint(struct pki_cert *c)
{
	uint8_t h[64];
	size_t n = pki__hash(br_sha256_ID, c->der, c->der_len, h);
	size_t o = 0;
	static const char hexd[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n && o + 3 < sizeof(c->fingerprint); i++) {
		if (i > 0)
			c->fingerprint[o++] = ':';
		c->fingerprint[o++] = hexd[h[i] >> 4];
		c->fingerprint[o++] = hexd[h[i] & 15];
	}
	c->fingerprint[o] = '\0';
}

static struct pki_cert *cert_alloc(const uint8_t *der, size_t len)
{
	if (len == 0 || len > PKI_DER_MAX)
		return NULL;
	struct pki_cert *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->der = malloc(len);
	if (c->der == NULL) {
		free(c);
		return NULL;
	}
	memcpy(c->der, der, len);
	c->der_len = len;
	fingerprint(c);
	return c;
}

void pki_cert_free(struct pki_cert *cert)
{
	if (cert == NULL)
		return;
	free(cert->der);
	free(cert);
}

bool pki_cert_signed_by(const struct pki_cert *subject, const struct pki_cert *issuer)
{
	if (subject == NULL || issuer == NULL || subject->sig_hash == 0)
		return false;
	return pki__verify(&issuer->pub, subject->sig_key, subject->sig_hash, subject->tbs,
	                   subject->tbs_len, subject->sig, subject->sig_len);
}

enum fg_err pki_cert_parse(const uint8_t *der, size_t len, struct pki_cert **out)
{
	struct pki_cert *c = cert_alloc(der, len);
	struct pki_tlv cert, tbs, alg, sig, t;
	bool bad = false;
	if (c == NULL)
		return len == 0 || len > PKI_DER_MAX ? FG_ERR_PARSE : FG_ERR_NOMEM;
	struct pki_der_rd r = {c->der, c->der_len};
	if (!pki_der_next(&r, &cert, &bad) || cert.tag != PKI_TAG_SEQUENCE || r.len != 0)
		goto malformed;
	struct pki_der_rd rc = {cert.val, cert.len};
	if (!pki_der_next(&rc, &tbs, &bad) || tbs.tag != PKI_TAG_SEQUENCE ||
	    !pki_der_next(&rc, &alg, &bad) || !pki_der_next(&rc, &sig, &bad) || rc.len != 0 ||
	    !parse_sig(c, &alg, &sig))
		goto malformed;
	c->tbs = tbs.raw;
	c->tbs_len = tbs.raw_len;

	/* TBSCertificate (RFC 5280 §4.1.2). */
	struct pki_der_rd rt = {tbs.val, tbs.len};
	if (!pki_der_next(&rt, &t, &bad))
		goto malformed;
	if (t.tag == PKI_TAG_CTX_CONS(0) && !pki_der_next(&rt, &t, &bad))
		goto malformed;
	if (t.tag != PKI_TAG_INTEGER || t.len == 0)
		goto malformed;
	size_t so = 0;
	for (size_t i = 0; i < t.len && so + 3 < sizeof(c->serial_hex); i++)
		so += (size_t)snprintf(c->serial_hex + so, sizeof(c->serial_hex) - so, "%02X",
		                       t.val[i]);
	if (!pki_der_next(&rt, &t, &bad) || t.tag != PKI_TAG_SEQUENCE) /* signature alg */
		goto malformed;
	if (!pki_der_next(&rt, &t, &bad) || t.tag != PKI_TAG_SEQUENCE ||
	    !name_format(t.val, t.len, c->issuer, sizeof(c->issuer)))
		goto malformed;
	c->issuer_der = t.raw;
	c->issuer_der_len = t.raw_len;
	if (!pki_der_next(&rt, &t, &bad) || t.tag != PKI_TAG_SEQUENCE)
		goto malformed;
	struct pki_der_rd rv = {t.val, t.len};
	struct pki_tlv nb, na;
	if (!pki_der_next(&rv, &nb, &bad) || !pki_der_next(&rv, &na, &bad) ||
	    !pki_time_parse(nb.tag, nb.val, nb.len, &c->not_before_ms) ||
	    !pki_time_parse(na.tag, na.val, na.len, &c->not_after_ms))
		goto malformed;
	if (!pki_der_next(&rt, &t, &bad) || t.tag != PKI_TAG_SEQUENCE ||
	    !name_format(t.val, t.len, c->subject, sizeof(c->subject)))
		goto malformed;
	c->subject_der = t.raw;
	c->subject_der_len = t.raw_len;
	if (!pki_der_next(&rt, &t, &bad) || t.tag != PKI_TAG_SEQUENCE ||
	    !parse_spki(c, t.val, t.len))
		goto malformed;
	while (pki_der_next(&rt, &t, &bad)) {
		if (t.tag == PKI_TAG_CTX_CONS(3)) {
			struct pki_der_rd rx = {t.val, t.len};
			struct pki_tlv exts;
			if (!pki_der_next(&rx, &exts, &bad) || exts.tag != PKI_TAG_SEQUENCE ||
			    !parse_extensions(c, exts.val, exts.len))
				goto malformed;
		}
	}
	if (bad)
		goto malformed;
	c->self_signed = c->issuer_der_len == c->subject_der_len &&
	                 memcmp(c->issuer_der, c->subject_der, c->subject_der_len) == 0 &&
	                 pki_cert_signed_by(c, c);
	*out = c;
	return FG_OK;
malformed:
	pki_cert_free(c);
	return FG_ERR_PARSE;
}

enum fg_err pki_csr_parse(const uint8_t *der, size_t len, struct pki_cert **out)
{
	struct pki_cert *c = cert_alloc(der, len);
	struct pki_tlv req, info, alg, sig, t;
	bool bad = false;
	if (c == NULL)
		return len == 0 || len > PKI_DER_MAX ? FG_ERR_PARSE : FG_ERR_NOMEM;
	c->is_csr = true;
	struct pki_der_rd r = {c->der, c->der_len};
	if (!pki_der_next(&r, &req, &bad) || req.tag != PKI_TAG_SEQUENCE || r.len != 0)
		goto malformed;
	struct pki_der_rd rc = {req.val, req.len};
	if (!pki_der_next(&rc, &info, &bad) || info.tag != PKI_TAG_SEQUENCE ||
	    !pki_der_next(&rc, &alg, &bad) || !pki_der_next(&rc, &sig, &bad) || rc.len != 0 ||
	    !parse_sig(c, &alg, &sig))
		goto malformed;
	c->tbs = info.raw;
	c->tbs_len = info.raw_len;
	/* CertificationRequestInfo (RFC 2986 §4.1). */
	struct pki_der_rd ri = {info.val, info.len};
	if (!pki_der_next(&ri, &t, &bad) || t.tag != PKI_TAG_INTEGER)
		goto malformed;
	if (!pki_der_next(&ri, &t, &bad) || t.tag != PKI_TAG_SEQUENCE ||
	    !name_format(t.val, t.len, c->subject, sizeof(c->subject)))
		goto malformed;
	c->subject_der = t.raw;
	c->subject_der_len = t.raw_len;
	if (!pki_der_next(&ri, &t, &bad) || t.tag != PKI_TAG_SEQUENCE ||
	    !parse_spki(c, t.val, t.len))
		goto malformed;
	if (pki_der_next(&ri, &t, &bad) && t.tag == PKI_TAG_CTX_CONS(0)) {
		struct pki_der_rd ra = {t.val, t.len};
		struct pki_tlv attr;
		while (pki_der_next(&ra, &attr, &bad)) {
			struct pki_der_rd rat = {attr.val, attr.len};
			struct pki_tlv oid, set, exts;
			char oidtxt[64];
			if (attr.tag != PKI_TAG_SEQUENCE || !pki_der_next(&rat, &oid, &bad) ||
			    oid.tag != PKI_TAG_OID || !pki_der_next(&rat, &set, &bad) ||
			    set.tag != PKI_TAG_SET ||
			    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)))
				goto malformed;
			if (strcmp(oidtxt, PKI_OID_EXTENSION_REQUEST) != 0)
				continue;
			struct pki_der_rd rs = {set.val, set.len};
			if (!pki_der_next(&rs, &exts, &bad) || exts.tag != PKI_TAG_SEQUENCE ||
			    !parse_extensions(c, exts.val, exts.len))
				goto malformed;
		}
	}
	if (bad)
		goto malformed;
	c->is_ca = false;
	c->self_signed = pki_cert_signed_by(c, c);
	*out = c;
	return FG_OK;
malformed:
	pki_cert_free(c);
	return FG_ERR_PARSE;
}

void pki_certs_free(struct pki_cert **certs, size_t count)
{
	if (certs == NULL)
		return;
	for (size_t i = 0; i < count; i++)
		pki_cert_free(certs[i]);
	free(certs);
}

enum fg_err pki_certs_from_pem(const char *pem, size_t len, struct pki_cert ***out, size_t *count,
                               char *err, size_t errsize)
{
	struct pki_pem p = {0};
	struct pki_cert **list = NULL;
	size_t n = 0;
	enum fg_err e = pki_pem_decode(pem, len, &p, err, errsize);
	if (e != FG_OK)
		return e;
	list = calloc(p.count, sizeof(*list));
	if (list == NULL) {
		e = FG_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < p.count; i++) {
		if (strcmp(p.blocks[i].label, "CERTIFICATE") != 0)
			continue;
		e = pki_cert_parse(p.blocks[i].der, p.blocks[i].len, &list[n]);
		if (e != FG_OK) {
			pki__err(err, errsize,
			         "certificate %zu (PEM block %zu) is not a valid "
			         "X.509 certificate",
			         n + 1, i + 1);
			goto out;
		}
		n++;
	}
	if (n == 0) {
		pki__err(err, errsize,
		         "no certificate found: expected a PEM block \"BEGIN "
		         "CERTIFICATE\"");
		e = FG_ERR_PARSE;
		goto out;
	}
	*out = list;
	*count = n;
	list = NULL;
out:
	pki_certs_free(list, n);
	pki_pem_clear(&p);
	return e;
}
