/* tls: credentials and trust anchors decoded from PEM (RFC 7468) with BearSSL's decoders. */
#include "tls/tls_internal.h"
#include "pki/pki.h"

#include <stdlib.h>
#include <string.h>

/* A DER collector for the trust anchors' distinguished names. */
struct dn_sink {
	struct fg_buf der;
	bool failed;
};

/* Calls cb for every PEM object in text (RFC 7468, read by pki); stops at the first
 * error it returns. Text around the blocks (openssl's "Bag Attributes") is ignored. */
static enum fg_err pem_each(const char *text, size_t len, pki_pem_block_cb cb, void *ctx)
{
	struct pki_pem_end end;
	if (len > TLS_PEM_MAX)
		return FG_ERR_TOOBIG;
	return pki_pem_each(text, len, TLS_PEM_MAX, cb, ctx, &end);
}

static bool is_cert_label(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0;
}

/* ---- credentials ------------------------------------------------------------------ */

struct chain_ctx {
	struct tls_creds *creds;
};

static enum fg_err chain_obj_cb(void *ctx, const char *name, const uint8_t *der, size_t len)
{
	struct tls_creds *c = ((struct chain_ctx *)ctx)->creds;
	if (!is_cert_label(name))
		return FG_OK; /* e.g. a key or parameters block pasted along: not ours here */
	if (c->chain_len >= TLS_CHAIN_MAX)
		return FG_ERR_TOOBIG;
	if (len == 0)
		return FG_ERR_PARSE;
	uint8_t *copy = malloc(len);
	if (!copy)
		return FG_ERR_NOMEM;
	memcpy(copy, der, len);
	c->chain[c->chain_len].data = copy;
	c->chain[c->chain_len].data_len = len;
	c->chain_len++;
	return FG_OK;
}

struct key_ctx {
	struct tls_creds *creds;
	bool found;
};

static enum fg_err key_copy(struct tls_creds *c, const br_skey_decoder_context *dc)
{
	int type = br_skey_decoder_key_type(dc);
	if (type == BR_KEYTYPE_EC) {
		const br_ec_private_key *ek = br_skey_decoder_get_ec(dc);
		c->key_mem = malloc(ek->xlen);
		if (!c->key_mem)
			return FG_ERR_NOMEM;
		c->key_mem_len = ek->xlen;
		memcpy(c->key_mem, ek->x, ek->xlen);
		c->ec.curve = ek->curve;
		c->ec.x = c->key_mem;
		c->ec.xlen = ek->xlen;
		c->key_type = BR_KEYTYPE_EC;
		return FG_OK;
	}
	if (type == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *rk = br_skey_decoder_get_rsa(dc);
		size_t total = rk->plen + rk->qlen + rk->dplen + rk->dqlen + rk->iqlen;
		uint8_t *p = malloc(total);
		if (!p)
			return FG_ERR_NOMEM;
		c->key_mem = p;
		c->key_mem_len = total;
		c->rsa.n_bitlen = rk->n_bitlen;
#define KEY_PART(f)                                                                                \
	do {                                                                                       \
		memcpy(p, rk->f, rk->f##len);                                                      \
		c->rsa.f = p;                                                                      \
		c->rsa.f##len = rk->f##len;                                                        \
		p += rk->f##len;                                                                   \
	} while (0)
		KEY_PART(p);
		KEY_PART(q);
		KEY_PART(dp);
		KEY_PART(dq);
		KEY_PART(iq);
#undef KEY_PART
		c->key_type = BR_KEYTYPE_RSA;
		return FG_OK;
	}
	return FG_ERR_VERSION;
}

static enum fg_err key_obj_cb(void *ctx, const char *name, const uint8_t *der, size_t len)
{
	struct key_ctx *kc = ctx;
	br_skey_decoder_context dc;
	enum fg_err err;

	if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0)
		return FG_ERR_PERM; /* needs a passphrase we do not have */
	if (strcmp(name, "PRIVATE KEY") != 0 && strcmp(name, "EC PRIVATE KEY") != 0 &&
	    strcmp(name, "RSA PRIVATE KEY") != 0)
		return FG_OK; /* "EC PARAMETERS" from openssl ecparam, certificates: skip */
	if (kc->found)
		return FG_ERR_INVAL; /* two keys: ambiguous */
	br_skey_decoder_init(&dc);
	br_skey_decoder_push(&dc, der, len);
	if (br_skey_decoder_last_error(&dc) != 0) {
		err = FG_ERR_PARSE;
		goto out;
	}
	err = key_copy(kc->creds, &dc);
	if (!err)
		kc->found = true;
out:
	explicit_bzero(&dc, sizeof(dc));
	return err;
}

static void dn_ignore_cb(void *ctx, const void *buf, size_t len)
{
}

/* Strips leading zero bytes of a big-endian integer. */
static void trim_zeros(const uint8_t **p, size_t *len)
{
	while (*len > 0 && **p == 0) {
		(*p)++;
		(*len)--;
	}
}

/* The key must belong to the leaf: a mismatch fails every handshake with an obscure error,
 * so refuse it here with a clear one. */
static enum fg_err creds_check_match(struct tls_creds *c)
{
	br_x509_decoder_context dc;
	enum fg_err err = FG_ERR_INVAL;

	br_x509_decoder_init(&dc, dn_ignore_cb, NULL);
	br_x509_decoder_push(&dc, c->chain[0].data, c->chain[0].data_len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || br_x509_decoder_last_error(&dc) != 0)
		return FG_ERR_PARSE;
	c->issuer_key_type = br_x509_decoder_get_signer_key_type(&dc);
	if (c->issuer_key_type == 0)
		c->issuer_key_type = c->key_type;
	if (pk->key_type != c->key_type)
		return FG_ERR_INVAL;
	if (c->key_type == BR_KEYTYPE_EC) {
		uint8_t pub[BR_EC_KBUF_PUB_MAX_SIZE];
		br_ec_public_key epk;
		if (pk->key.ec.curve != c->ec.curve)
			return FG_ERR_INVAL;
		size_t n = br_ec_compute_pub(br_ec_get_default(), &epk, pub, &c->ec);
		if (n == 0)
			return FG_ERR_CRYPTO;
		if (epk.qlen == pk->key.ec.qlen && memcmp(epk.q, pk->key.ec.q, epk.qlen) == 0)
			err = FG_OK;
	} else {
		br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
		size_t nlen = modulus(NULL, &c->rsa);
		uint8_t *nbuf = nlen ? malloc(nlen) : NULL;
		if (!nbuf)
			return nlen ? FG_ERR_NOMEM : FG_ERR_CRYPTO;
		modulus(nbuf, &c->rsa);
		const uint8_t *a = nbuf, *b = pk->key.rsa.n;
		size_t alen = nlen, blen = pk->key.rsa.nlen;
		trim_zeros(&a, &alen);
		trim_zeros(&b, &blen);
		if (alen == blen && memcmp(a, b, alen) == 0)
			err = FG_OK;
		free(nbuf);
	}
	return err;
}

enum fg_err tls_creds_from_pem(struct tls_creds **out, const char *chain_pem, size_t chain_len,
                               const char *key_pem, size_t key_len)
{
	enum fg_err err;
	struct tls_creds *c = NULL;

	*out = NULL;
	if (!chain_pem || !key_pem)
		return FG_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return FG_ERR_NOMEM;
	c->refs = 1;
	struct chain_ctx cc = {.creds = c};
	err = pem_each(chain_pem, chain_len, chain_obj_cb, &cc);
	if (err)
		goto out;
	if (c->chain_len == 0) {
		err = FG_ERR_PARSE;
		goto out;
	}
	struct key_ctx kc = {.creds = c};
	err = pem_each(key_pem, key_len, key_obj_cb, &kc);
	if (err)
		goto out;
	if (!kc.found) {
		err = FG_ERR_PARSE;
		goto out;
	}
	err = creds_check_match(c);
out:
	if (err) {
		tls_creds_free(c);
		return err;
	}
	*out = c;
	return FG_OK;
}

struct tls_creds *tls_creds_ref(struct tls_creds *creds)
{
	if (creds)
		creds->refs++;
	return creds;
}

void tls_creds_free(struct tls_creds *c)
{
	if (!c || --c->refs > 0)
		return;
	for (size_t i = 0; i < c->chain_len; i++)
		free(c->chain[i].data);
	if (c->key_mem) {
		explicit_bzero(c->key_mem, c->key_mem_len);
		free(c->key_mem);
	}
	explicit_bzero(c, sizeof(*c));
	free(c);
}

const char *tls_creds_key_type(const struct tls_creds *creds)
{
	return creds->key_type == BR_KEYTYPE_EC ? "EC" : "RSA";
}

void tls_creds_leaf(const struct tls_creds *creds, const uint8_t **der, size_t *len)
{
	*der = creds->chain[0].data;
	*len = creds->chain[0].data_len;
}

/* ---- trust anchors ------------------------------------------------------------------ */

static void dn_append_cb(void *ctx, const void *buf, size_t len)
{
	struct dn_sink *s = ctx;
	if (s->failed)
		return;
	if (fg_buf_append(&s->der, buf, len) != FG_OK)
		s->failed = true;
}

static void *dup_bytes(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);
	if (q && len)
		memcpy(q, p, len);
	return q;
}

static enum fg_err trust_obj_cb(void *ctx, const char *name, const uint8_t *der, size_t len)
{
	struct tls_trust *t = ctx;
	br_x509_decoder_context dc;
	struct dn_sink dn = {0};
	enum fg_err err = FG_OK;

	if (!is_cert_label(name))
		return FG_OK;
	if (t->count >= TLS_TRUST_MAX)
		return FG_ERR_TOOBIG;
	br_x509_decoder_init(&dc, dn_append_cb, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (!pk || br_x509_decoder_last_error(&dc) != 0 || dn.failed) {
		err = dn.failed ? FG_ERR_NOMEM : FG_ERR_PARSE;
		goto out;
	}
	br_x509_trust_anchor *ta = &t->anchors[t->count];
	memset(ta, 0, sizeof(*ta));
	ta->dn.data = dup_bytes(dn.der.data, dn.der.len);
	ta->dn.len = dn.der.len;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		t->count++; /* counted first so trust_free releases a partial copy */
		if (!ta->dn.data || !ta->pkey.key.rsa.n || !ta->pkey.key.rsa.e)
			err = FG_ERR_NOMEM;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		t->count++;
		if (!ta->dn.data || !ta->pkey.key.ec.q)
			err = FG_ERR_NOMEM;
	}
out:
	fg_buf_free(&dn.der);
	return err;
}

enum fg_err tls_trust_from_pem(struct tls_trust **out, const char *pem, size_t len)
{
	enum fg_err err;
	struct tls_trust *t;

	*out = NULL;
	if (!pem)
		return FG_ERR_INVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return FG_ERR_NOMEM;
	t->refs = 1;
	t->anchors = calloc(TLS_TRUST_MAX, sizeof(*t->anchors));
	if (!t->anchors) {
		err = FG_ERR_NOMEM;
		goto out;
	}
	err = pem_each(pem, len, trust_obj_cb, t);
	if (!err && t->count == 0)
		err = FG_ERR_PARSE;
out:
	if (err) {
		tls_trust_free(t);
		return err;
	}
	*out = t;
	return FG_OK;
}

struct tls_trust *tls_trust_ref(struct tls_trust *trust)
{
	if (trust)
		trust->refs++;
	return trust;
}

void tls_trust_free(struct tls_trust *t)
{
	if (!t || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->count; i++) {
		br_x509_trust_anchor *ta = &t->anchors[i];
		free(ta->dn.data);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
			free(ta->pkey.key.rsa.n);
			free(ta->pkey.key.rsa.e);
		} else {
			free(ta->pkey.key.ec.q);
		}
	}
	free(t->anchors);
	free(t);
}

size_t tls_trust_count(const struct tls_trust *trust)
{
	return trust ? trust->count : 0;
}
