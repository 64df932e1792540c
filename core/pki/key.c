/* pki keys: EC/RSA generation, PKCS#8/SEC1/PKCS#1 keys (RFC 5958, 5915, 8017), signing. */
#include "pki_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest RSA modulus we accept in a key or certificate (BearSSL's i31 limit is 4096+). */
#define KEY_RSA_BITS_MAX 4096
/* SHA-256 hash + DigestInfo fits in the smallest modulus we sign with. */
#define KEY_SIG_MAX 512

static const struct {
	const char *name;
	int br_type;
	int curve;
	unsigned bits;
} key_types[PKI_KEY__COUNT] = {
    [PKI_KEY_EC_P256] = {"ec-p256", BR_KEYTYPE_EC, BR_EC_secp256r1, 256},
    [PKI_KEY_EC_P384] = {"ec-p384", BR_KEYTYPE_EC, BR_EC_secp384r1, 384},
    [PKI_KEY_RSA_2048] = {"rsa-2048", BR_KEYTYPE_RSA, 0, 2048},
    [PKI_KEY_RSA_3072] = {"rsa-3072", BR_KEYTYPE_RSA, 0, 3072},
    [PKI_KEY_RSA_4096] = {"rsa-4096", BR_KEYTYPE_RSA, 0, 4096},
};

void pki__err(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

const char *pki_key_type_name(enum pki_key_type type)
{
	if ((unsigned)type >= PKI_KEY__COUNT)
		return "unknown";
	return key_types[type].name;
}

bool pki_key_type_parse(const char *s, enum pki_key_type *out)
{
	for (unsigned i = 0; i < PKI_KEY__COUNT; i++) {
		if (strcmp(s, key_types[i].name) == 0) {
			*out = (enum pki_key_type)i;
			return true;
		}
	}
	return false;
}

void pki_buf_wipe(struct fg_buf *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		memset(b->data, 0, b->cap);
	fg_buf_free(b);
}

void pki_key_free(struct pki_key *key)
{
	if (key == NULL)
		return;
	if (key->kbuf != NULL) {
		memset(key->kbuf, 0, key->kbuf_len);
		free(key->kbuf);
	}
	memset(key, 0, sizeof(*key));
	free(key);
}

static const char *curve_name(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1:
		return "ec-p256";
	case BR_EC_secp384r1:
		return "ec-p384";
	case BR_EC_secp521r1:
		return "ec-p521";
	default:
		return NULL;
	}
}

/* Builds a key from a private EC key (deep copy) and computes its public point. */
static enum fg_err key_from_ec(const br_ec_private_key *sk, struct pki_key **out)
{
	const br_ec_impl *impl = br_ec_get_default();
	if (curve_name(sk->curve) == NULL || sk->xlen > BR_EC_KBUF_PRIV_MAX_SIZE)
		return FG_ERR_VERSION;
	struct pki_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return FG_ERR_NOMEM;
	k->kbuf_len = BR_EC_KBUF_PRIV_MAX_SIZE + BR_EC_KBUF_PUB_MAX_SIZE;
	k->kbuf = calloc(1, k->kbuf_len);
	if (k->kbuf == NULL) {
		free(k);
		return FG_ERR_NOMEM;
	}
	k->br_type = BR_KEYTYPE_EC;
	memcpy(k->kbuf, sk->x, sk->xlen);
	k->ec.curve = sk->curve;
	k->ec.x = k->kbuf;
	k->ec.xlen = sk->xlen;
	if (br_ec_compute_pub(impl, &k->ec_pub, k->kbuf + BR_EC_KBUF_PRIV_MAX_SIZE, &k->ec) == 0) {
		pki_key_free(k);
		return FG_ERR_CRYPTO;
	}
	fg_strlcpy(k->type_name, curve_name(sk->curve), sizeof(k->type_name));
	*out = k;
	return FG_OK;
}

/* Does (n, e) verify a signature made with sk? */
static bool rsa_pub_works(const br_rsa_private_key *sk, unsigned char *n, size_t nlen, uint32_t e)
{
	unsigned char eb[4] = {(unsigned char)(e >> 24), (unsigned char)(e >> 16),
	                       (unsigned char)(e >> 8), (unsigned char)e};
	size_t skip = 0;
	while (skip < 3 && eb[skip] == 0)
		skip++;
	br_rsa_public_key pk = {.n = n, .nlen = nlen, .e = eb + skip, .elen = 4 - skip};
	unsigned char hash[32] = {1, 2, 3}, check[32];
	unsigned char sig[KEY_RSA_BITS_MAX / 8];
	if (nlen > sizeof(sig) ||
	    !br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, sizeof(hash), sk, sig))
		return false;
	return br_rsa_pkcs1_vrfy_get_default()(sig, nlen, BR_HASH_OID_SHA256, sizeof(hash), &pk,
	                                       check) == 1 &&
	       memcmp(hash, check, sizeof(hash)) == 0;
}

/* BearSSL's PKCS#1/PKCS#8 decoder keeps only the CRT values, and br_rsa_compute_pubexp
 * fails for many keys made by other tools: then try the usual exponents (F4 first). */
static uint32_t rsa_pubexp(const br_rsa_private_key *sk, unsigned char *n, size_t nlen)
{
	static const uint32_t common[] = {65537, 3, 17, 5, 257};
	uint32_t e = br_rsa_compute_pubexp_get_default()(sk);
	if (e != 0)
		return e;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (rsa_pub_works(sk, n, nlen, common[i]))
			return common[i];
	return 0;
}

static enum fg_err key_from_rsa(const br_rsa_private_key *sk, struct pki_key **out)
{
	unsigned char nbuf[KEY_RSA_BITS_MAX / 8];
	if (sk->n_bitlen < 1024 || sk->n_bitlen > KEY_RSA_BITS_MAX)
		return FG_ERR_VERSION;
	size_t nlen = br_rsa_compute_modulus_get_default()(NULL, sk);
	if (nlen == 0 || nlen > sizeof(nbuf))
		return FG_ERR_CRYPTO;
	br_rsa_compute_modulus_get_default()(nbuf, sk);
	uint32_t e = rsa_pubexp(sk, nbuf, nlen);
	if (e == 0)
		return FG_ERR_CRYPTO;
	struct pki_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return FG_ERR_NOMEM;
	size_t priv = sk->plen + sk->qlen + sk->dplen + sk->dqlen + sk->iqlen;
	k->kbuf_len = priv + nlen + 4;
	k->kbuf = calloc(1, k->kbuf_len);
	if (k->kbuf == NULL) {
		free(k);
		return FG_ERR_NOMEM;
	}
	k->br_type = BR_KEYTYPE_RSA;
	unsigned char *p = k->kbuf;
	k->rsa.n_bitlen = sk->n_bitlen;
#define KEY_COPY(f)                                                                                \
	do {                                                                                       \
		memcpy(p, sk->f, sk->f##len);                                                      \
		k->rsa.f = p;                                                                      \
		k->rsa.f##len = sk->f##len;                                                        \
		p += sk->f##len;                                                                   \
	} while (0)
	KEY_COPY(p);
	KEY_COPY(q);
	KEY_COPY(dp);
	KEY_COPY(dq);
	KEY_COPY(iq);
#undef KEY_COPY
	br_rsa_compute_modulus_get_default()(p, &k->rsa);
	k->rsa_pub.n = p;
	k->rsa_pub.nlen = nlen;
	p += nlen;
	p[0] = (unsigned char)(e >> 24);
	p[1] = (unsigned char)(e >> 16);
	p[2] = (unsigned char)(e >> 8);
	p[3] = (unsigned char)e;
	size_t skip = 0;
	while (skip < 3 && p[skip] == 0)
		skip++;
	k->rsa_pub.e = p + skip;
	k->rsa_pub.elen = 4 - skip;
	snprintf(k->type_name, sizeof(k->type_name), "rsa-%u", sk->n_bitlen);
	*out = k;
	return FG_OK;
}

enum fg_err pki_key_generate(enum pki_key_type type, struct pki_key **out)
{
	enum fg_err err = FG_OK;
	br_hmac_drbg_context rng;
	uint8_t seed[48];
	unsigned char *tmp = NULL;
	size_t tmp_len = 0;

	if ((unsigned)type >= PKI_KEY__COUNT)
		return FG_ERR_INVAL;
	fg_random(seed, sizeof(seed));
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof(seed));
	memset(seed, 0, sizeof(seed));

	if (key_types[type].br_type == BR_KEYTYPE_EC) {
		br_ec_private_key sk;
		unsigned char kb[BR_EC_KBUF_PRIV_MAX_SIZE];
		if (br_ec_keygen(&rng.vtable, br_ec_get_default(), &sk, kb,
		                 key_types[type].curve) == 0) {
			err = FG_ERR_CRYPTO;
			goto out;
		}
		err = key_from_ec(&sk, out);
		memset(kb, 0, sizeof(kb));
	} else {
		unsigned bits = key_types[type].bits;
		br_rsa_private_key sk;
		tmp_len = BR_RSA_KBUF_PRIV_SIZE(bits);
		tmp = calloc(1, tmp_len);
		if (tmp == NULL) {
			err = FG_ERR_NOMEM;
			goto out;
		}
		if (!br_rsa_keygen_get_default()(&rng.vtable, &sk, tmp, NULL, NULL, bits, 65537)) {
			err = FG_ERR_CRYPTO;
			goto out;
		}
		err = key_from_rsa(&sk, out);
	}
out:
	if (tmp != NULL) {
		memset(tmp, 0, tmp_len);
		free(tmp);
	}
	memset(&rng, 0, sizeof(rng));
	return err;
}

enum fg_err pki_key_decode(const uint8_t *der, size_t len, struct pki_key **out)
{
	br_skey_decoder_context dc;
	enum fg_err err;

	if (len == 0 || len > PKI_DER_MAX)
		return FG_ERR_PARSE;
	br_skey_decoder_init(&dc);
	br_skey_decoder_push(&dc, der, len);
	if (br_skey_decoder_last_error(&dc) != 0) {
		err = FG_ERR_PARSE;
		goto out;
	}
	switch (br_skey_decoder_key_type(&dc)) {
	case BR_KEYTYPE_EC:
		err = key_from_ec(br_skey_decoder_get_ec(&dc), out);
		break;
	case BR_KEYTYPE_RSA:
		err = key_from_rsa(br_skey_decoder_get_rsa(&dc), out);
		break;
	default:
		err = FG_ERR_PARSE;
		break;
	}
out:
	memset(&dc, 0, sizeof(dc));
	return err;
}

enum fg_err pki_key_from_pem(const char *pem, size_t len, struct pki_key **out, char *err,
                             size_t errsize)
{
	struct pki_pem p = {0};
	enum fg_err e = pki_pem_decode(pem, len, &p, err, errsize);
	const struct pki_pem_block *found = NULL;
	if (e != FG_OK)
		goto out;
	for (size_t i = 0; i < p.count; i++) {
		const char *l = p.blocks[i].label;
		if (strcmp(l, "PRIVATE KEY") != 0 && strcmp(l, "EC PRIVATE KEY") != 0 &&
		    strcmp(l, "RSA PRIVATE KEY") != 0)
			continue;
		if (found != NULL) {
			pki__err(err, errsize,
			         "the key text holds more than one private key: "
			         "give exactly one");
			e = FG_ERR_INVAL;
			goto out;
		}
		found = &p.blocks[i];
	}
	if (found == NULL) {
		pki__err(err, errsize,
		         "no private key found: expected a PEM block \"PRIVATE "
		         "KEY\", \"EC PRIVATE KEY\" or \"RSA PRIVATE KEY\"");
		e = FG_ERR_PARSE;
		goto out;
	}
	e = pki_key_decode(found->der, found->len, out);
	if (e == FG_ERR_VERSION)
		pki__err(err, errsize,
		         "unsupported private key: use ECDSA P-256/P-384/P-521 or "
		         "RSA 1024-4096 bits");
	else if (e != FG_OK)
		pki__err(err, errsize, "the \"%s\" block is not a valid private key", found->label);
out:
	pki_pem_clear(&p);
	return e;
}

enum fg_err pki_key_to_pem(const struct pki_key *key, struct fg_buf *out)
{
	enum fg_err err = FG_OK;
	uint8_t *der = NULL;
	size_t der_len = 0;
	uint8_t d[KEY_RSA_BITS_MAX / 8 + 8];
	size_t dlen = 0;

	if (key->br_type == BR_KEYTYPE_EC) {
		der_len = br_encode_ec_pkcs8_der(NULL, &key->ec, &key->ec_pub);
	} else {
		uint32_t e = 0;
		for (size_t i = 0; i < key->rsa_pub.elen; i++)
			e = (e << 8) | key->rsa_pub.e[i];
		dlen = br_rsa_compute_privexp_get_default()(d, &key->rsa, e);
		if (dlen == 0) {
			err = FG_ERR_CRYPTO;
			goto out;
		}
		der_len = br_encode_rsa_pkcs8_der(NULL, &key->rsa, &key->rsa_pub, d, dlen);
	}
	if (der_len == 0) {
		err = FG_ERR_CRYPTO;
		goto out;
	}
	der = malloc(der_len);
	if (der == NULL) {
		err = FG_ERR_NOMEM;
		goto out;
	}
	if (key->br_type == BR_KEYTYPE_EC)
		br_encode_ec_pkcs8_der(der, &key->ec, &key->ec_pub);
	else
		br_encode_rsa_pkcs8_der(der, &key->rsa, &key->rsa_pub, d, dlen);
	err = pki_pem_encode(out, "PRIVATE KEY", der, der_len);
out:
	if (der != NULL) {
		memset(der, 0, der_len);
		free(der);
	}
	memset(d, 0, sizeof(d));
	return err;
}

/* ---- signing and verification ------------------------------------------------------- */

void pki__sig_alg(struct pki_der *d, const struct pki_key *key)
{
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	if (key->br_type == BR_KEYTYPE_EC) {
		/* RFC 5758 §3.2: ecdsa-with-SHA256 has absent parameters. */
		pki_der_oid(d, PKI_OID_ECDSA_SHA256);
	} else {
		/* RFC 4055 §5: sha256WithRSAEncryption with NULL parameters. */
		pki_der_oid(d, PKI_OID_SHA256_WITH_RSA);
		pki_der_null(d);
	}
	pki_der_end(d);
}

void pki__spki(struct pki_der *d, const struct pki_key *key)
{
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	pki_der_begin(d, PKI_TAG_SEQUENCE);
	if (key->br_type == BR_KEYTYPE_EC) {
		/* RFC 5480 §2.1.1: id-ecPublicKey with the named curve. */
		pki_der_oid(d, PKI_OID_EC_PUBLIC_KEY);
		pki_der_oid(d, key->ec.curve == BR_EC_secp256r1   ? PKI_OID_P256
		               : key->ec.curve == BR_EC_secp384r1 ? PKI_OID_P384
		                                                  : PKI_OID_P521);
		pki_der_end(d);
		pki_der_bits(d, key->ec_pub.q, key->ec_pub.qlen);
	} else {
		pki_der_oid(d, PKI_OID_RSA_ENCRYPTION);
		pki_der_null(d);
		pki_der_end(d);
		/* RFC 8017 A.1.1: RSAPublicKey inside the BIT STRING. */
		struct pki_der in;
		pki_der_init(&in);
		pki_der_begin(&in, PKI_TAG_SEQUENCE);
		pki_der_uint(&in, key->rsa_pub.n, key->rsa_pub.nlen);
		pki_der_uint(&in, key->rsa_pub.e, key->rsa_pub.elen);
		pki_der_end(&in);
		if (pki_der_finish(&in) != FG_OK && d->err == FG_OK)
			d->err = in.err;
		else
			pki_der_bits(d, in.buf.data, in.buf.len);
		pki_der_free(&in);
	}
	pki_der_end(d);
}

enum fg_err pki__sign(const struct pki_key *key, const uint8_t *data, size_t len, uint8_t *sig,
                      size_t sigsize, size_t *sig_len)
{
	uint8_t hash[64];
	size_t hlen = pki__hash(br_sha256_ID, data, len, hash);
	if (key->br_type == BR_KEYTYPE_EC) {
		if (sigsize < 160)
			return FG_ERR_INVAL;
		size_t n = br_ecdsa_i31_sign_asn1(br_ec_get_default(), &br_sha256_vtable, hash,
		                                  &key->ec, sig);
		if (n == 0)
			return FG_ERR_CRYPTO;
		*sig_len = n;
		return FG_OK;
	}
	size_t mlen = (key->rsa.n_bitlen + 7) / 8;
	if (sigsize < mlen)
		return FG_ERR_INVAL;
	if (!br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash, hlen, &key->rsa, sig))
		return FG_ERR_CRYPTO;
	*sig_len = mlen;
	return FG_OK;
}

static const br_hash_class *hash_class(int id)
{
	switch (id) {
	case br_sha1_ID:
		return &br_sha1_vtable;
	case br_sha224_ID:
		return &br_sha224_vtable;
	case br_sha256_ID:
		return &br_sha256_vtable;
	case br_sha384_ID:
		return &br_sha384_vtable;
	case br_sha512_ID:
		return &br_sha512_vtable;
	default:
		return NULL;
	}
}

size_t pki__hash(int hash_id, const uint8_t *data, size_t len, uint8_t out[64])
{
	const br_hash_class *hc = hash_class(hash_id);
	br_hash_compat_context ctx;
	if (hc == NULL)
		return 0;
	hc->init(&ctx.vtable);
	hc->update(&ctx.vtable, data, len);
	hc->out(&ctx.vtable, out);
	return (hc->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
}

static const unsigned char *hash_oid(int id)
{
	switch (id) {
	case br_sha1_ID:
		return BR_HASH_OID_SHA1;
	case br_sha224_ID:
		return BR_HASH_OID_SHA224;
	case br_sha256_ID:
		return BR_HASH_OID_SHA256;
	case br_sha384_ID:
		return BR_HASH_OID_SHA384;
	case br_sha512_ID:
		return BR_HASH_OID_SHA512;
	default:
		return NULL;
	}
}

bool pki__verify(const struct pki_pubkey *pub, int sig_key, int sig_hash, const uint8_t *data,
                 size_t len, const uint8_t *sig, size_t sig_len)
{
	uint8_t hash[64], check[64];
	size_t hlen = pki__hash(sig_hash, data, len, hash);
	if (hlen == 0 || pub->br_type == 0 || pub->br_type != sig_key)
		return false;
	if (pub->br_type == BR_KEYTYPE_EC) {
		br_ec_public_key pk = {
		    .curve = pub->curve, .q = (unsigned char *)pub->q, .qlen = pub->q_len};
		return br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), hash, hlen, &pk, sig,
		                                        sig_len) == 1;
	}
	br_rsa_public_key pk = {.n = (unsigned char *)pub->n,
	                        .nlen = pub->n_len,
	                        .e = (unsigned char *)pub->e,
	                        .elen = pub->e_len};
	if (pub->n_len * 8 > KEY_RSA_BITS_MAX * 2 || sig_len != pub->n_len)
		return false;
	if (!br_rsa_pkcs1_vrfy_get_default()(sig, sig_len, hash_oid(sig_hash), hlen, &pk, check))
		return false;
	return memcmp(hash, check, hlen) == 0;
}

static const uint8_t *strip_zeros(const uint8_t *p, size_t *len)
{
	while (*len > 0 && p[0] == 0) {
		p++;
		(*len)--;
	}
	return p;
}

bool pki_key_matches(const struct pki_key *key, const struct pki_cert *cert)
{
	const struct pki_pubkey *pub = &cert->pub;
	if (key == NULL || cert == NULL || key->br_type != pub->br_type)
		return false;
	if (key->br_type == BR_KEYTYPE_EC) {
		return key->ec.curve == pub->curve && key->ec_pub.qlen == pub->q_len &&
		       memcmp(key->ec_pub.q, pub->q, pub->q_len) == 0;
	}
	size_t kn = key->rsa_pub.nlen, ke = key->rsa_pub.elen;
	const uint8_t *n = strip_zeros(key->rsa_pub.n, &kn);
	const uint8_t *e = strip_zeros(key->rsa_pub.e, &ke);
	return kn == pub->n_len && ke == pub->e_len && memcmp(n, pub->n, kn) == 0 &&
	       memcmp(e, pub->e, ke) == 0;
}
