/* tls: the sans-IO connection over BearSSL's engine: TLS 1.2 (RFC 5246) with ECDHE and AEAD
 * suites only (RFC 5289, RFC 7905), SNI (RFC 6066 §3), no renegotiation (RFC 5746). */
#include "tls/tls_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Server preference order: AES-GCM first (hardware AES), ChaCha20 for the rest. Every suite
 * is forward secret (ECDHE) and AEAD; CBC, static RSA and static ECDH are left out. */
static const uint16_t tls_suites[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};

/* Checks the peer's chain with br_x509_minimal and keeps its leaf for the protocol's own
 * name checks (RFC 6125) and records whether validation succeeded. */
struct tls_x509 {
	const br_x509_class *vtable; /* first: BearSSL passes &vtable as the context */
	br_x509_minimal_context minimal;
	struct tls_conn *conn;
	unsigned cert_index;
};

/* Server policy that picks credentials by SNI, then hands over to BearSSL's single-chain
 * policy for the chosen key. */
struct tls_policy {
	const br_ssl_server_policy_class *vtable; /* first, as above */
	struct tls_conn *conn;
	const br_ssl_server_policy_class **inner;
};

/* Transport-level failures that BearSSL cannot see. */
#define TLS_LOCAL_EOF_HANDSHAKE 1
#define TLS_LOCAL_TRUNCATED     2

struct tls_conn {
	enum tls_role role;
	union {
		br_ssl_server_context server;
		br_ssl_client_context client;
	} ctx;
	br_ssl_engine_context *eng;
	struct tls_x509 x509;
	struct tls_policy policy;
	struct tls_creds *creds;      /* default / client credentials (reference) */
	struct tls_creds *used_creds; /* chosen for this handshake (reference) */
	struct tls_trust *trust;      /* reference */
	tls_select_creds_cb select_creds;
	void *select_ctx;
	uint8_t *iobuf;
	uint8_t *peer_der; /* the leaf as announced, exact size; NULL until one arrives */
	size_t peer_len, peer_cap;
	bool peer_der_too_big;
	bool peer_verified;
	bool established;
	int local_err;
	bool skip_name_check; /* client: SNI sent, the name left to the caller */
};

/* ---- X.509 wrapper ------------------------------------------------------------------ */

static struct tls_x509 *x509_of(const br_x509_class **ctx)
{
	return (struct tls_x509 *)(void *)ctx;
}

static void x509_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_x509 *x = x509_of(ctx);
	x->cert_index = 0;
	free(x->conn->peer_der);
	x->conn->peer_der = NULL;
	x->conn->peer_len = 0;
	x->conn->peer_cap = 0;
	x->conn->peer_der_too_big = false;
	x->conn->peer_verified = false;
	/* BearSSL checks the name it sent as SNI unless told no name at all */
	x->minimal.vtable->start_chain(&x->minimal.vtable,
	                               x->conn->skip_name_check ? NULL : server_name);
}

static void x509_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_x509 *x = x509_of(ctx);
	struct tls_conn *c = x->conn;
	/* The leaf is copied at the size it announces (capped): a session keeps no more
	 * than its certificate, and only until the name checks release it. */
	if (x->cert_index == 0) {
		if (length == 0 || length > TLS_PEER_CERT_MAX ||
		    (c->peer_der = malloc(length)) == NULL)
			c->peer_der_too_big = true;
		else
			c->peer_cap = length;
	}
	x->minimal.vtable->start_cert(&x->minimal.vtable, length);
}

static void x509_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_x509 *x = x509_of(ctx);
	struct tls_conn *c = x->conn;
	if (x->cert_index == 0 && !c->peer_der_too_big) {
		if (len > c->peer_cap - c->peer_len) {
			c->peer_der_too_big = true;
		} else {
			memcpy(c->peer_der + c->peer_len, buf, len);
			c->peer_len += len;
		}
	}
	x->minimal.vtable->append(&x->minimal.vtable, buf, len);
}

static void x509_end_cert(const br_x509_class **ctx)
{
	struct tls_x509 *x = x509_of(ctx);
	x->cert_index++;
	x->minimal.vtable->end_cert(&x->minimal.vtable);
}

static unsigned x509_end_chain(const br_x509_class **ctx)
{
	struct tls_x509 *x = x509_of(ctx);
	unsigned r = x->minimal.vtable->end_chain(&x->minimal.vtable);
	x->conn->peer_verified = (r == 0);
	if (x->conn->peer_der_too_big)
		x->conn->peer_len = 0;
	return r;
}

static const br_x509_pkey *x509_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_x509 *x = (const struct tls_x509 *)(const void *)ctx;
	return x->minimal.vtable->get_pkey(&x->minimal.vtable, usages);
}

static const br_x509_class tls_x509_vtable = {
    .context_size = sizeof(struct tls_x509),
    .start_chain = x509_start_chain,
    .start_cert = x509_start_cert,
    .append = x509_append,
    .end_cert = x509_end_cert,
    .end_chain = x509_end_chain,
    .get_pkey = x509_get_pkey,
};

/* ---- server policy ------------------------------------------------------------------ */

static int policy_choose(const br_ssl_server_policy_class **pctx, const br_ssl_server_context *cc,
                         br_ssl_server_choices *choices)
{
	struct tls_policy *p = (struct tls_policy *)(void *)pctx;
	struct tls_conn *c = p->conn;
	br_ssl_server_context *sc = &c->ctx.server;
	struct tls_creds *chosen = NULL;

	if (c->select_creds)
		chosen = c->select_creds(c->select_ctx, br_ssl_engine_get_server_name(c->eng));
	if (!chosen)
		chosen = c->creds;
	if (!chosen)
		return 0;
	tls_creds_free(c->used_creds);
	c->used_creds = tls_creds_ref(chosen);
	/* Only signing usage: ECDHE suites sign the key exchange (RFC 4492 §5.4). */
	if (chosen->key_type == BR_KEYTYPE_EC)
		br_ssl_server_set_single_ec(sc, chosen->chain, chosen->chain_len, &chosen->ec,
		                            BR_KEYTYPE_SIGN, chosen->issuer_key_type,
		                            br_ec_get_default(), br_ecdsa_sign_asn1_get_default());
	else
		br_ssl_server_set_single_rsa(sc, chosen->chain, chosen->chain_len, &chosen->rsa,
		                             BR_KEYTYPE_SIGN, br_rsa_private_get_default(),
		                             br_rsa_pkcs1_sign_get_default());
	/* set_single_* points the engine at the inner policy; keep it behind ours. */
	p->inner = sc->policy_vtable;
	sc->policy_vtable = &p->vtable;
	return (*p->inner)->choose(p->inner, cc, choices);
}

static uint32_t policy_do_keyx(const br_ssl_server_policy_class **pctx, unsigned char *data,
                               size_t *len)
{
	struct tls_policy *p = (struct tls_policy *)(void *)pctx;
	if (!p->inner)
		return 0;
	return (*p->inner)->do_keyx(p->inner, data, len);
}

static size_t policy_do_sign(const br_ssl_server_policy_class **pctx, unsigned algo_id,
                             unsigned char *data, size_t hv_len, size_t len)
{
	struct tls_policy *p = (struct tls_policy *)(void *)pctx;
	if (!p->inner)
		return 0;
	return (*p->inner)->do_sign(p->inner, algo_id, data, hv_len, len);
}

static const br_ssl_server_policy_class tls_policy_vtable = {
    .context_size = sizeof(struct tls_policy),
    .choose = policy_choose,
    .do_keyx = policy_do_keyx,
    .do_sign = policy_do_sign,
};

/* ---- set-up ------------------------------------------------------------------------ */

static void engine_common(br_ssl_engine_context *eng, unsigned vmin, unsigned vmax)
{
	static const br_hash_class *const hashes[] = {
	    &br_md5_vtable,    &br_sha1_vtable,   &br_sha224_vtable,
	    &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
	};
	br_ssl_engine_set_versions(eng, vmin, vmax);
	for (int id = br_md5_ID; id <= br_sha512_ID; id++)
		br_ssl_engine_set_hash(eng, id, hashes[id - 1]);
	br_ssl_engine_set_prf10(eng, &br_tls10_prf);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_default_aes_gcm(eng);
	br_ssl_engine_set_default_chapol(eng);
	br_ssl_engine_set_default_ec(eng);
	/* Needed to check the peer's signatures (ServerKeyExchange, CertificateVerify); without
	 * them client-certificate verification fails with BR_ERR_BAD_SIGNATURE. */
	br_ssl_engine_set_default_ecdsa(eng);
	br_ssl_engine_set_default_rsavrfy(eng);
	/* RFC 5746 is honoured by refusing any renegotiation at all. */
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
}

static void x509_setup(struct tls_conn *c, int64_t now_s)
{
	static const br_hash_class *const hashes[] = {
	    &br_md5_vtable,    &br_sha1_vtable,   &br_sha224_vtable,
	    &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
	};
	br_x509_minimal_context *m = &c->x509.minimal;
	const br_x509_trust_anchor *tas = c->trust ? c->trust->anchors : NULL;
	size_t n = c->trust ? c->trust->count : 0;

	br_x509_minimal_init(m, &br_sha256_vtable, tas, n);
	for (int id = br_sha1_ID; id <= br_sha512_ID; id++)
		br_x509_minimal_set_hash(m, id, hashes[id - 1]);
	br_x509_minimal_set_rsa(m, br_rsa_pkcs1_vrfy_get_default());
	br_x509_minimal_set_ecdsa(m, br_ec_get_default(), br_ecdsa_vrfy_asn1_get_default());
	if (now_s > 0) {
		/* BearSSL counts days from 1 January of year 0 (proleptic Gregorian). */
		uint32_t days = (uint32_t)(now_s / 86400) + 719528u;
		uint32_t secs = (uint32_t)(now_s % 86400);
		br_x509_minimal_set_time(m, days, secs);
	}
	c->x509.vtable = &tls_x509_vtable;
	c->x509.conn = c;
	br_ssl_engine_set_x509(c->eng, &c->x509.vtable);
}

enum fg_err tls_conn_new(struct tls_conn **out, const struct tls_config *cfg)
{
	struct tls_conn *c;
	enum fg_err err = FG_OK;
	unsigned vmin = cfg->min_version ? cfg->min_version : TLS_VERSION_1_2;
	unsigned vmax = cfg->max_version ? cfg->max_version : TLS_VERSION_1_2;

	*out = NULL;
	if (vmin < TLS_VERSION_1_0 || vmax > TLS_VERSION_1_2 || vmin > vmax)
		return FG_ERR_INVAL;
	if (cfg->role == TLS_ROLE_CLIENT && !cfg->trust)
		return FG_ERR_INVAL; /* an unauthenticated server is never acceptable here */
	if (cfg->role == TLS_ROLE_SERVER && !cfg->creds && !cfg->select_creds)
		return FG_ERR_INVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return FG_ERR_NOMEM;
	c->role = cfg->role;
	c->creds = tls_creds_ref(cfg->creds);
	c->trust = tls_trust_ref(cfg->trust);
	c->select_creds = cfg->select_creds;
	c->select_ctx = cfg->select_ctx;
	c->skip_name_check = cfg->role == TLS_ROLE_CLIENT && cfg->sni_skip_name_check;
	c->iobuf = malloc(BR_SSL_BUFSIZE_BIDI);
	if (!c->iobuf) {
		err = FG_ERR_NOMEM;
		goto out;
	}

	if (cfg->role == TLS_ROLE_SERVER) {
		br_ssl_server_context *sc = &c->ctx.server;
		c->eng = &sc->eng;
		br_ssl_server_zero(sc);
		engine_common(c->eng, vmin, vmax);
		br_ssl_engine_set_suites(c->eng, tls_suites,
		                         sizeof(tls_suites) / sizeof(tls_suites[0]));
		br_ssl_engine_add_flags(c->eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
		c->policy.vtable = &tls_policy_vtable;
		c->policy.conn = c;
		sc->policy_vtable = &c->policy.vtable;
		if (c->trust) {
			/* Mutual TLS: request a certificate naming our anchors (RFC 5246 §7.4.4).
			 */
			x509_setup(c, cfg->now_s);
			br_ssl_server_set_trust_anchor_names_alt(sc, c->trust->anchors,
			                                         c->trust->count);
			if (!cfg->require_client_cert)
				br_ssl_engine_add_flags(c->eng, BR_OPT_TOLERATE_NO_CLIENT_AUTH);
		}
		br_ssl_engine_set_buffer(c->eng, c->iobuf, BR_SSL_BUFSIZE_BIDI, 1);
		if (!br_ssl_server_reset(sc)) {
			err = FG_ERR_CRYPTO;
			goto out;
		}
	} else {
		br_ssl_client_context *cc = &c->ctx.client;
		c->eng = &cc->eng;
		br_ssl_client_init_full(cc, &c->x509.minimal, c->trust->anchors, c->trust->count);
		engine_common(c->eng, vmin, vmax);
		/* AEAD suites exist only in TLS 1.2; a client limited to older versions (tests
		 * of refusal) keeps BearSSL's full list so that it can say hello at all. */
		if (vmax >= TLS_VERSION_1_2)
			br_ssl_engine_set_suites(c->eng, tls_suites,
			                         sizeof(tls_suites) / sizeof(tls_suites[0]));
		x509_setup(c, cfg->now_s);
		if (c->creds) {
			struct tls_creds *k = c->creds;
			if (k->key_type == BR_KEYTYPE_EC)
				br_ssl_client_set_single_ec(cc, k->chain, k->chain_len, &k->ec,
				                            BR_KEYTYPE_SIGN, k->issuer_key_type,
				                            br_ec_get_default(),
				                            br_ecdsa_sign_asn1_get_default());
			else
				br_ssl_client_set_single_rsa(cc, k->chain, k->chain_len, &k->rsa,
				                             br_rsa_pkcs1_sign_get_default());
		}
		br_ssl_engine_set_buffer(c->eng, c->iobuf, BR_SSL_BUFSIZE_BIDI, 1);
		if (!br_ssl_client_reset(cc, cfg->server_name, 0)) {
			err = FG_ERR_CRYPTO;
			goto out;
		}
	}
out:
	if (err) {
		tls_conn_free(c);
		return err;
	}
	*out = c;
	return FG_OK;
}

void tls_conn_free(struct tls_conn *c)
{
	if (!c)
		return;
	tls_creds_free(c->creds);
	tls_creds_free(c->used_creds);
	tls_trust_free(c->trust);
	if (c->iobuf) {
		/* The buffer held plaintext and key material. */
		explicit_bzero(c->iobuf, BR_SSL_BUFSIZE_BIDI);
		free(c->iobuf);
	}
	free(c->peer_der);
	explicit_bzero(&c->ctx, sizeof(c->ctx));
	free(c);
}

/* ---- pumping ----------------------------------------------------------------------- */

static unsigned engine_state(struct tls_conn *c)
{
	unsigned st = br_ssl_engine_current_state(c->eng);
	if (!c->established && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
		c->established = true;
	return st;
}

enum tls_state tls_conn_state(struct tls_conn *c)
{
	unsigned st = engine_state(c);
	if (c->local_err)
		return TLS_STATE_FAILED;
	if (st == BR_SSL_CLOSED)
		return br_ssl_engine_last_error(c->eng) == BR_ERR_OK ? TLS_STATE_CLOSED
		                                                     : TLS_STATE_FAILED;
	return c->established ? TLS_STATE_ESTABLISHED : TLS_STATE_HANDSHAKING;
}

const char *tls_conn_state_name(enum tls_state state)
{
	switch (state) {
	case TLS_STATE_HANDSHAKING:
		return "handshaking";
	case TLS_STATE_ESTABLISHED:
		return "established";
	case TLS_STATE_CLOSED:
		return "closed";
	case TLS_STATE_FAILED:
		return "failed";
	}
	return "unknown";
}

enum fg_err tls_conn_feed(struct tls_conn *c, const uint8_t *buf, size_t len, size_t *used)
{
	*used = 0;
	while (len > 0 && !c->local_err) {
		unsigned st = engine_state(c);
		if (st == BR_SSL_CLOSED || !(st & BR_SSL_RECVREC))
			break;
		size_t n;
		unsigned char *p = br_ssl_engine_recvrec_buf(c->eng, &n);
		if (n > len)
			n = len;
		memcpy(p, buf, n);
		br_ssl_engine_recvrec_ack(c->eng, n);
		buf += n;
		len -= n;
		*used += n;
	}
	return tls_conn_state(c) == TLS_STATE_FAILED ? FG_ERR_CRYPTO : FG_OK;
}

void tls_conn_feed_eof(struct tls_conn *c)
{
	if (engine_state(c) == BR_SSL_CLOSED || c->local_err)
		return;
	c->local_err = c->established ? TLS_LOCAL_TRUNCATED : TLS_LOCAL_EOF_HANDSHAKE;
}

void tls_conn_take_output(struct tls_conn *c, const uint8_t **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (engine_state(c) & BR_SSL_SENDREC)
		*buf = br_ssl_engine_sendrec_buf(c->eng, len);
}

void tls_conn_output_done(struct tls_conn *c, size_t n)
{
	if (n > 0)
		br_ssl_engine_sendrec_ack(c->eng, n);
}

bool tls_conn_want_output(struct tls_conn *c)
{
	return (engine_state(c) & BR_SSL_SENDREC) != 0;
}

bool tls_conn_want_input(struct tls_conn *c)
{
	return !c->local_err && (engine_state(c) & BR_SSL_RECVREC) != 0;
}

enum fg_err tls_conn_write_app(struct tls_conn *c, const uint8_t *buf, size_t len, size_t *used)
{
	*used = 0;
	while (len > 0) {
		unsigned st = engine_state(c);
		if (st == BR_SSL_CLOSED || c->local_err)
			return FG_ERR_CRYPTO;
		if (!(st & BR_SSL_SENDAPP))
			break;
		size_t n;
		unsigned char *p = br_ssl_engine_sendapp_buf(c->eng, &n);
		if (n > len)
			n = len;
		memcpy(p, buf, n);
		br_ssl_engine_sendapp_ack(c->eng, n);
		buf += n;
		len -= n;
		*used += n;
	}
	if (*used > 0)
		br_ssl_engine_flush(c->eng, 0);
	return FG_OK;
}

enum fg_err tls_conn_read_app(struct tls_conn *c, uint8_t *buf, size_t cap, size_t *got)
{
	*got = 0;
	while (cap > 0 && (engine_state(c) & BR_SSL_RECVAPP)) {
		size_t n;
		unsigned char *p = br_ssl_engine_recvapp_buf(c->eng, &n);
		if (n > cap)
			n = cap;
		memcpy(buf, p, n);
		br_ssl_engine_recvapp_ack(c->eng, n);
		buf += n;
		cap -= n;
		*got += n;
	}
	return FG_OK;
}

bool tls_conn_has_app(struct tls_conn *c)
{
	return (engine_state(c) & BR_SSL_RECVAPP) != 0;
}

void tls_conn_close(struct tls_conn *c)
{
	if (engine_state(c) != BR_SSL_CLOSED)
		br_ssl_engine_close(c->eng);
}

/* ---- reporting ---------------------------------------------------------------------- */

int tls_conn_error_code(struct tls_conn *c)
{
	if (c->local_err)
		return -1;
	return br_ssl_engine_last_error(c->eng);
}

const char *tls_conn_error_text(struct tls_conn *c)
{
	if (c->local_err == TLS_LOCAL_EOF_HANDSHAKE)
		return "the peer closed the connection during the handshake";
	if (c->local_err == TLS_LOCAL_TRUNCATED)
		return "the peer closed the connection without a TLS close_notify";
	int e = br_ssl_engine_last_error(c->eng);
	/* After the handshake, a handshake_failure can only answer our refusal of the peer's
	 * renegotiation (RFC 5746 §4.4): say so rather than "no cipher suite in common". */
	if (c->established && e == BR_ERR_RECV_FATAL_ALERT + 40)
		return "the peer gave up after its renegotiation was refused (handshake_failure)";
	return e == BR_ERR_OK ? "" : tls_error_text(e);
}

struct code_text {
	int code;
	const char *text;
};

/* Alerts the peer sent us (RFC 5246 §7.2.2), the usual reasons first. */
static const struct code_text alert_texts[] = {
    {0, "the peer closed the connection"},
    {10, "the peer received a message it did not expect (unexpected_message)"},
    {20, "the peer could not verify a record (bad_record_mac)"},
    {40, "the peer found no cipher suite or parameters in common (handshake_failure)"},
    {42, "the peer refused our certificate (bad_certificate)"},
    {43, "the peer does not support our certificate's type (unsupported_certificate)"},
    {44, "the peer says our certificate is revoked (certificate_revoked)"},
    {45, "the peer says our certificate is expired (certificate_expired)"},
    {46, "the peer refused our certificate (certificate_unknown)"},
    {47, "the peer refused a handshake parameter (illegal_parameter)"},
    {48, "the peer does not trust the authority that signed our certificate (unknown_ca)"},
    {49, "the peer refused access (access_denied)"},
    {50, "the peer could not decode a message (decode_error)"},
    {51, "the peer could not verify the handshake (decrypt_error)"},
    {70, "the peer does not support our TLS version (protocol_version)"},
    {71, "the peer requires stronger security (insufficient_security)"},
    {80, "the peer had an internal error (internal_error)"},
    {90, "the peer cancelled the handshake (user_canceled)"},
    {100, "the peer refused renegotiation (no_renegotiation)"},
    {110, "the peer does not support a requested extension (unsupported_extension)"},
    {112, "the peer does not know the server name we asked for (unrecognized_name)"},
};

static const struct code_text error_texts[] = {
    {BR_ERR_OK, "no error"},
    {BR_ERR_BAD_PARAM, "internal error: bad TLS parameter"},
    {BR_ERR_BAD_STATE, "internal error: TLS engine in a wrong state"},
    {BR_ERR_UNSUPPORTED_VERSION, "no TLS version in common with the peer (only TLS 1.2 is "
                                 "accepted)"},
    {BR_ERR_BAD_VERSION, "the peer changed the TLS version during the connection"},
    {BR_ERR_BAD_LENGTH, "the peer sent a record with a wrong length"},
    {BR_ERR_TOO_LARGE, "the peer sent a record that is too large"},
    {BR_ERR_BAD_MAC, "a record failed its integrity check (corrupted or tampered with)"},
    {BR_ERR_NO_RANDOM, "no source of randomness available"},
    {BR_ERR_UNKNOWN_TYPE, "the peer sent a record of an unknown type"},
    {BR_ERR_UNEXPECTED, "the peer sent a message out of order (or attempted renegotiation)"},
    {BR_ERR_BAD_CCS, "the peer sent a malformed ChangeCipherSpec"},
    {BR_ERR_BAD_ALERT, "the peer sent a malformed alert"},
    {BR_ERR_BAD_HANDSHAKE, "the peer sent a malformed handshake message (not TLS, or "
                           "unsupported features)"},
    {BR_ERR_OVERSIZED_ID, "the peer sent an oversized session id"},
    {BR_ERR_BAD_CIPHER_SUITE, "no cipher suite in common"},
    {BR_ERR_BAD_COMPRESSION, "the peer asked for compression, which is not supported"},
    {BR_ERR_BAD_FRAGLEN, "the peer asked for an invalid maximum fragment length"},
    {BR_ERR_BAD_SECRENEG, "the peer failed secure renegotiation checks (RFC 5746)"},
    {BR_ERR_EXTRA_EXTENSION, "the peer sent an extension it should not send"},
    {BR_ERR_BAD_SNI, "the peer sent a malformed server name (SNI)"},
    {BR_ERR_BAD_HELLO_DONE, "the peer sent a malformed ServerHelloDone"},
    {BR_ERR_LIMIT_EXCEEDED, "the peer exceeded a TLS limit (too many certificates, names or "
                            "extensions)"},
    {BR_ERR_BAD_FINISHED, "the handshake check failed (Finished mismatch)"},
    {BR_ERR_RESUME_MISMATCH, "the peer resumed a session with different parameters"},
    {BR_ERR_INVALID_ALGORITHM, "the peer used an unsupported or invalid algorithm"},
    {BR_ERR_BAD_SIGNATURE, "the peer's handshake signature is invalid"},
    {BR_ERR_WRONG_KEY_USAGE, "the peer's certificate key may not be used for this purpose"},
    {BR_ERR_NO_CLIENT_AUTH, "the peer did not send a client certificate"},
    {BR_ERR_IO, "an input/output error occurred on the connection"},
    {BR_ERR_X509_INVALID_VALUE, "the peer's certificate is malformed (invalid value)"},
    {BR_ERR_X509_TRUNCATED, "the peer's certificate is malformed (truncated)"},
    {BR_ERR_X509_EMPTY_CHAIN, "the peer sent no certificate"},
    {BR_ERR_X509_INNER_TRUNC, "the peer's certificate is malformed (inner truncation)"},
    {BR_ERR_X509_BAD_TAG_CLASS, "the peer's certificate is malformed (tag class)"},
    {BR_ERR_X509_BAD_TAG_VALUE, "the peer's certificate is malformed (tag value)"},
    {BR_ERR_X509_INDEFINITE_LENGTH, "the peer's certificate is malformed (indefinite length)"},
    {BR_ERR_X509_EXTRA_ELEMENT, "the peer's certificate is malformed (extra element)"},
    {BR_ERR_X509_UNEXPECTED, "the peer's certificate is malformed (unexpected element)"},
    {BR_ERR_X509_NOT_CONSTRUCTED, "the peer's certificate is malformed (not constructed)"},
    {BR_ERR_X509_NOT_PRIMITIVE, "the peer's certificate is malformed (not primitive)"},
    {BR_ERR_X509_PARTIAL_BYTE, "the peer's certificate is malformed (partial byte)"},
    {BR_ERR_X509_BAD_BOOLEAN, "the peer's certificate is malformed (boolean)"},
    {BR_ERR_X509_OVERFLOW, "the peer's certificate is malformed (overflow)"},
    {BR_ERR_X509_BAD_DN, "the peer's certificate has a malformed name (DN)"},
    {BR_ERR_X509_BAD_TIME, "the peer's certificate has a malformed validity date"},
    {BR_ERR_X509_UNSUPPORTED, "the peer's certificate uses an unsupported feature"},
    {BR_ERR_X509_LIMIT_EXCEEDED, "the peer's certificate exceeds a size limit"},
    {BR_ERR_X509_WRONG_KEY_TYPE, "the peer's certificate key type does not match the cipher "
                                 "suite"},
    {BR_ERR_X509_BAD_SIGNATURE, "the peer's certificate chain has an invalid signature"},
    {BR_ERR_X509_TIME_UNKNOWN, "the current time is unknown, so certificates cannot be "
                               "checked"},
    {BR_ERR_X509_EXPIRED, "the peer's certificate is expired (or not yet valid)"},
    {BR_ERR_X509_DN_MISMATCH, "the peer's certificate chain is out of order (issuer and "
                              "subject names do not match)"},
    {BR_ERR_X509_BAD_SERVER_NAME, "the peer's certificate does not match the expected name"},
    {BR_ERR_X509_CRITICAL_EXTENSION, "the peer's certificate has an unsupported critical "
                                     "extension"},
    {BR_ERR_X509_NOT_CA, "the peer's chain contains an issuer that is not a CA"},
    {BR_ERR_X509_FORBIDDEN_KEY_USAGE, "the peer's certificate key usage forbids this use"},
    {BR_ERR_X509_WEAK_PUBLIC_KEY, "the peer's certificate key is too weak"},
    {BR_ERR_X509_NOT_TRUSTED, "the peer's certificate is not signed by a trusted authority"},
};

/* Alerts we sent: BearSSL reports the refusal it made by the alert it chose. */
static const struct code_text sent_alert_texts[] = {
    {10, "the peer sent a message out of order (unexpected_message)"},
    {40, "no cipher suite or parameters in common with the peer (it offered no ECDHE suite "
         "with AES-GCM or ChaCha20-Poly1305)"},
    {47, "the peer sent an invalid handshake parameter (illegal_parameter)"},
    {50, "the peer sent a malformed handshake message (decode_error)"},
    {70, "the peer offered only TLS versions older than 1.2 (protocol_version)"},
    {100, "the peer attempted a renegotiation, which is refused (no_renegotiation)"},
};

const char *tls_error_text(int e)
{
	if (e >= BR_ERR_SEND_FATAL_ALERT) {
		int alert = e - BR_ERR_SEND_FATAL_ALERT;
		for (size_t i = 0; i < sizeof(sent_alert_texts) / sizeof(sent_alert_texts[0]); i++)
			if (sent_alert_texts[i].code == alert)
				return sent_alert_texts[i].text;
		return "we aborted the connection with a fatal alert";
	}
	if (e >= BR_ERR_RECV_FATAL_ALERT) {
		int alert = e - BR_ERR_RECV_FATAL_ALERT;
		for (size_t i = 0; i < sizeof(alert_texts) / sizeof(alert_texts[0]); i++)
			if (alert_texts[i].code == alert)
				return alert_texts[i].text;
		return "the peer aborted the connection with a fatal alert";
	}
	for (size_t i = 0; i < sizeof(error_texts) / sizeof(error_texts[0]); i++)
		if (error_texts[i].code == e)
			return error_texts[i].text;
	return "unknown TLS error";
}

const char *tls_version_name(unsigned version)
{
	switch (version) {
	case TLS_VERSION_1_0:
		return "TLS 1.0";
	case TLS_VERSION_1_1:
		return "TLS 1.1";
	case TLS_VERSION_1_2:
		return "TLS 1.2";
	default:
		return "";
	}
}

const char *tls_suite_name(unsigned suite)
{
	switch (suite) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-RSA-CHACHA20-POLY1305";
	default:
		return "";
	}
}

const char *tls_conn_version_name(struct tls_conn *c)
{
	if (!c->established)
		return "";
	return tls_version_name(br_ssl_engine_get_version(c->eng));
}

const char *tls_conn_suite_name(struct tls_conn *c)
{
	br_ssl_session_parameters pp;
	if (!c->established)
		return "";
	br_ssl_engine_get_session_parameters(c->eng, &pp);
	return tls_suite_name(pp.cipher_suite);
}

const char *tls_conn_server_name(struct tls_conn *c)
{
	return br_ssl_engine_get_server_name(c->eng);
}

bool tls_conn_peer_verified(struct tls_conn *c)
{
	return c->peer_verified;
}

void tls_conn_peer_cert(struct tls_conn *c, const uint8_t **der, size_t *len)
{
	*der = c->peer_der;
	*len = c->peer_der_too_big || c->peer_der == NULL ? 0 : c->peer_len;
}

void tls_conn_release_peer_cert(struct tls_conn *c)
{
	if (!c)
		return;
	free(c->peer_der);
	c->peer_der = NULL;
	c->peer_len = 0;
	c->peer_cap = 0;
}
