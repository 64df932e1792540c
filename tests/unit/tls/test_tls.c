/* tls tests: client and server tls_conn wired back to back in memory (RFC 5246 handshake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls.h"

#include "test_certs.h"

struct pair {
	struct tls_conn *client;
	struct tls_conn *server;
	struct fg_buf c2s;
	struct fg_buf s2c;
};

static struct tls_creds *creds(const char *chain, const char *key)
{
	struct tls_creds *c = NULL;
	assert_int_equal(tls_creds_from_pem(&c, chain, strlen(chain), key, strlen(key)), FG_OK);
	return c;
}

static struct tls_trust *trust_ca(void)
{
	struct tls_trust *t = NULL;
	assert_int_equal(tls_trust_from_pem(&t, CA_PEM, strlen(CA_PEM)), FG_OK);
	return t;
}

/* One direction of the wire: bytes sent and not yet taken by the receiver. */
static bool move(struct tls_conn *from, struct tls_conn *to, struct fg_buf *wire)
{
	const uint8_t *buf;
	size_t len, used = 0;
	bool moved = false;
	tls_conn_take_output(from, &buf, &len);
	if (len > 0) {
		/* Like a socket: everything taken is sent, whatever the peer does with it. */
		assert_int_equal(fg_buf_append(wire, buf, len), FG_OK);
		tls_conn_output_done(from, len);
		moved = true;
	}
	if (wire->len > 0) {
		tls_conn_feed(to, wire->data, wire->len, &used);
		if (tls_conn_state(to) == TLS_STATE_FAILED)
			used = wire->len; /* a failed peer has closed its socket */
		fg_buf_consume(wire, used);
		moved = moved || used > 0;
	}
	return moved;
}

static void pump(struct pair *p)
{
	for (int i = 0; i < 1000; i++) {
		bool a = move(p->client, p->server, &p->c2s);
		bool b = move(p->server, p->client, &p->s2c);
		if (!a && !b)
			goto settled;
	}
	fail_msg("pump did not settle");
settled:
	if (getenv("TLS_TEST_DEBUG"))
		fprintf(stderr, "client %s/%d/%s server %s/%d/%s\n",
		        tls_conn_state_name(tls_conn_state(p->client)),
		        tls_conn_error_code(p->client), tls_conn_error_text(p->client),
		        tls_conn_state_name(tls_conn_state(p->server)),
		        tls_conn_error_code(p->server), tls_conn_error_text(p->server));
}

static void pair_free(struct pair *p)
{
	tls_conn_free(p->client);
	tls_conn_free(p->server);
	fg_buf_free(&p->c2s);
	fg_buf_free(&p->s2c);
}

static void pair_new(struct pair *p, const struct tls_config *ccfg, const struct tls_config *scfg)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(tls_conn_new(&p->client, ccfg), FG_OK);
	assert_int_equal(tls_conn_new(&p->server, scfg), FG_OK);
	pump(p);
	if (getenv("TLS_TEST_DEBUG"))
		fprintf(stderr, "client %s/%d/%s server %s/%d/%s\n",
		        tls_conn_state_name(tls_conn_state(p->client)),
		        tls_conn_error_code(p->client), tls_conn_error_text(p->client),
		        tls_conn_state_name(tls_conn_state(p->server)),
		        tls_conn_error_code(p->server), tls_conn_error_text(p->server));
}

static void send_and_check(struct tls_conn *from, struct tls_conn *to, struct pair *p, size_t size)
{
	uint8_t *data = malloc(size), *got = malloc(size);
	size_t sent = 0, recvd = 0;
	assert_non_null(data);
	assert_non_null(got);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	for (int rounds = 0; recvd < size && rounds < 10000; rounds++) {
		size_t used = 0, n = 0;
		if (sent < size) {
			assert_int_equal(tls_conn_write_app(from, data + sent, size - sent, &used),
			                 FG_OK);
			sent += used;
		}
		pump(p);
		assert_int_equal(tls_conn_read_app(to, got + recvd, size - recvd, &n), FG_OK);
		recvd += n;
		pump(p);
	}
	assert_int_equal(recvd, size);
	assert_memory_equal(data, got, size);
	free(data);
	free(got);
}

static void close_both(struct pair *p)
{
	tls_conn_close(p->client);
	pump(p);
	assert_int_equal(tls_conn_state(p->client), TLS_STATE_CLOSED);
	assert_int_equal(tls_conn_state(p->server), TLS_STATE_CLOSED);
	assert_string_equal(tls_conn_error_text(p->client), "");
}

/* A client for console.test trusting the test CA, and a server with chain and key,
 * through the handshake. */
static void established_pair(struct pair *p, const char *chain, const char *key)
{
	struct tls_creds *sc = creds(chain, key);
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	struct tls_config ccfg = {
	    .role = TLS_ROLE_CLIENT, .trust = t, .server_name = "console.test"};
	pair_new(p, &ccfg, &scfg);
	/* The connections hold their own references. */
	tls_creds_free(sc);
	tls_trust_free(t);
	assert_int_equal(tls_conn_state(p->client), TLS_STATE_ESTABLISHED);
	assert_int_equal(tls_conn_state(p->server), TLS_STATE_ESTABLISHED);
}

static void handshake_and_talk(const char *chain, const char *key, const char *suite)
{
	struct pair p;

	established_pair(&p, chain, key);
	assert_string_equal(tls_conn_version_name(p.server), "TLS 1.2");
	assert_string_equal(tls_conn_suite_name(p.server), suite);
	assert_string_equal(tls_conn_suite_name(p.client), suite);
	assert_string_equal(tls_conn_server_name(p.server), "console.test");
	assert_true(tls_conn_peer_verified(p.client));
	assert_false(tls_conn_peer_verified(p.server));
	const uint8_t *der;
	size_t len;
	tls_conn_peer_cert(p.client, &der, &len);
	assert_true(len > 100);
	/* The copy is the certificate's own size (it parses as one whole DER SEQUENCE). */
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[1], 0x82);
	assert_int_equal((size_t)((der[2] << 8) | der[3]) + 4, len);
	/* Released after the name checks: gone, while verification and traffic stay. */
	tls_conn_release_peer_cert(p.client);
	tls_conn_peer_cert(p.client, &der, &len);
	assert_int_equal(len, 0);
	assert_null(der);
	assert_true(tls_conn_peer_verified(p.client));
	tls_conn_release_peer_cert(p.client);
	tls_conn_release_peer_cert(NULL);

	send_and_check(p.client, p.server, &p, 5);
	send_and_check(p.server, p.client, &p, 5);
	/* Larger than one record and than the engine's buffers: partial writes and feeds. */
	send_and_check(p.client, p.server, &p, 100000);
	send_and_check(p.server, p.client, &p, 100000);
	close_both(&p);
	pair_free(&p);
}

static void test_handshake_ec(void **state)
{
	handshake_and_talk(EC_CHAIN_PEM, EC_KEY_PEM, "ECDHE-ECDSA-AES128-GCM-SHA256");
}

static void test_handshake_rsa(void **state)
{
	handshake_and_talk(RSA_CHAIN_PEM, RSA_KEY_PEM, "ECDHE-RSA-AES128-GCM-SHA256");
}

static void expect_client_failure(struct tls_config *ccfg, struct tls_config *scfg,
                                  const char *client_text)
{
	struct pair p;
	pair_new(&p, ccfg, scfg);
	assert_int_equal(tls_conn_state(p.client), TLS_STATE_FAILED);
	assert_string_equal(tls_conn_error_text(p.client), client_text);
	/* BearSSL drops the connection without an alert: the server sees the socket close. */
	tls_conn_feed_eof(p.server);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_FAILED);
	assert_string_equal(tls_conn_error_text(p.server),
	                    "the peer closed the connection during the handshake");
	pair_free(&p);
}

static void test_untrusted(void **state)
{
	struct tls_creds *sc = creds(ROGUE_CHAIN_PEM, ROGUE_KEY_PEM);
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	struct tls_config ccfg = {
	    .role = TLS_ROLE_CLIENT, .trust = t, .server_name = "console.test"};
	expect_client_failure(&ccfg, &scfg,
	                      "the peer's certificate is not signed by a trusted authority");
	tls_creds_free(sc);
	tls_trust_free(t);
}

static void test_wrong_name(void **state)
{
	struct tls_creds *sc = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	struct tls_config ccfg = {.role = TLS_ROLE_CLIENT, .trust = t, .server_name = "other.test"};
	expect_client_failure(&ccfg, &scfg,
	                      "the peer's certificate does not match the expected name");
	tls_creds_free(sc);
	tls_trust_free(t);
}

static void test_expired(void **state)
{
	struct tls_creds *sc = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	/* Year 2200: past the test certificates' 100 years. */
	struct tls_config ccfg = {.role = TLS_ROLE_CLIENT,
	                          .trust = t,
	                          .server_name = "console.test",
	                          .now_s = 7258118400LL};
	expect_client_failure(&ccfg, &scfg, "the peer's certificate is expired (or not yet valid)");
	tls_creds_free(sc);
	tls_trust_free(t);
}

static void test_refuse_tls11(void **state)
{
	struct tls_creds *sc = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	struct tls_config ccfg = {.role = TLS_ROLE_CLIENT,
	                          .trust = t,
	                          .server_name = "console.test",
	                          .min_version = TLS_VERSION_1_1,
	                          .max_version = TLS_VERSION_1_1};
	struct pair p;
	pair_new(&p, &ccfg, &scfg);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_FAILED);
	assert_string_equal(tls_conn_error_text(p.server),
	                    "the peer offered only TLS versions older than 1.2 (protocol_version)");
	assert_int_equal(tls_conn_state(p.client), TLS_STATE_FAILED);
	pair_free(&p);
	tls_creds_free(sc);
	tls_trust_free(t);
}

static void test_mutual_tls(void **state)
{
	struct tls_creds *sc = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct tls_creds *cc = creds(CLIENT_CHAIN_PEM, CLIENT_KEY_PEM); /* PKCS#8 key */
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {
	    .role = TLS_ROLE_SERVER, .creds = sc, .trust = t, .require_client_cert = true};
	struct tls_config ccfg = {
	    .role = TLS_ROLE_CLIENT, .trust = t, .creds = cc, .server_name = "console.test"};
	struct pair p;
	pair_new(&p, &ccfg, &scfg);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_ESTABLISHED);
	assert_true(tls_conn_peer_verified(p.server));
	const uint8_t *der;
	size_t len;
	tls_conn_peer_cert(p.server, &der, &len);
	assert_true(len > 100);
	pair_free(&p);

	/* Without a client certificate a required one fails the handshake. */
	ccfg.creds = NULL;
	pair_new(&p, &ccfg, &scfg);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_FAILED);
	assert_string_equal(tls_conn_error_text(p.server),
	                    "the peer did not send a client certificate");
	pair_free(&p);

	/* Optional: the handshake completes, unverified. */
	scfg.require_client_cert = false;
	pair_new(&p, &ccfg, &scfg);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_ESTABLISHED);
	assert_false(tls_conn_peer_verified(p.server));
	pair_free(&p);

	/* Optional, with an untrusted certificate: tolerated, unverified. */
	struct tls_creds *rogue = creds(ROGUE_CHAIN_PEM, ROGUE_KEY_PEM);
	ccfg.creds = rogue;
	pair_new(&p, &ccfg, &scfg);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_ESTABLISHED);
	assert_false(tls_conn_peer_verified(p.server));
	pair_free(&p);

	/* Required, with an untrusted certificate: refused with the reason. */
	scfg.require_client_cert = true;
	pair_new(&p, &ccfg, &scfg);
	assert_int_equal(tls_conn_state(p.server), TLS_STATE_FAILED);
	assert_string_equal(tls_conn_error_text(p.server),
	                    "the peer's certificate is not signed by a trusted authority");
	pair_free(&p);
	tls_creds_free(rogue);

	tls_creds_free(sc);
	tls_creds_free(cc);
	tls_trust_free(t);
}

struct sni_pick {
	char seen[64];
	struct tls_creds *creds;
};

static struct tls_creds *pick_cb(void *ctx, const char *server_name)
{
	struct sni_pick *s = ctx;
	snprintf(s->seen, sizeof(s->seen), "%s", server_name);
	return strcmp(server_name, "console.test") == 0 ? s->creds : NULL;
}

static void test_sni_select(void **state)
{
	struct tls_creds *def = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct sni_pick pick = {.creds = creds(RSA_CHAIN_PEM, RSA_KEY_PEM)};
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {
	    .role = TLS_ROLE_SERVER, .creds = def, .select_creds = pick_cb, .select_ctx = &pick};
	struct tls_config ccfg = {
	    .role = TLS_ROLE_CLIENT, .trust = t, .server_name = "console.test"};
	struct pair p;
	pair_new(&p, &ccfg, &scfg);
	assert_string_equal(pick.seen, "console.test");
	assert_int_equal(tls_conn_state(p.client), TLS_STATE_ESTABLISHED);
	assert_string_equal(tls_conn_suite_name(p.client), "ECDHE-RSA-AES128-GCM-SHA256");
	pair_free(&p);
	tls_creds_free(def);
	tls_creds_free(pick.creds);
	tls_trust_free(t);
}

/* SIP toward a next hop (RFC 6066 §3 with RFC 5922 §7.1): the client sends SNI, the server
 * sees it, and the name check is left to the caller, which gets the certificate. */
static void test_sni_without_name_check(void **state)
{
	struct tls_creds *def = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct sni_pick pick = {.creds = NULL};
	struct tls_trust *t = trust_ca();
	struct tls_config scfg = {
	    .role = TLS_ROLE_SERVER, .creds = def, .select_creds = pick_cb, .select_ctx = &pick};
	struct tls_config ccfg = {.role = TLS_ROLE_CLIENT,
	                          .trust = t,
	                          .server_name = "edge.other.test",
	                          .sni_skip_name_check = true};
	struct pair p;
	pair_new(&p, &ccfg, &scfg);
	assert_string_equal(pick.seen, "edge.other.test");
	assert_string_equal(tls_conn_server_name(p.server), "edge.other.test");
	assert_int_equal(tls_conn_state(p.client), TLS_STATE_ESTABLISHED);
	assert_true(tls_conn_peer_verified(p.client));
	const uint8_t *der;
	size_t len;
	tls_conn_peer_cert(p.client, &der, &len);
	assert_true(len > 100);
	pair_free(&p);

	/* the chain is still checked */
	struct tls_creds *rogue = creds(ROGUE_CHAIN_PEM, ROGUE_KEY_PEM);
	struct tls_config rcfg = {.role = TLS_ROLE_SERVER, .creds = rogue};
	expect_client_failure(&ccfg, &rcfg,
	                      "the peer's certificate is not signed by a trusted authority");
	tls_creds_free(rogue);
	tls_creds_free(def);
	tls_trust_free(t);
}

static void test_eof_during_handshake(void **state)
{
	struct tls_creds *sc = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	struct tls_conn *s = NULL;
	assert_int_equal(tls_conn_new(&s, &scfg), FG_OK);
	assert_int_equal(tls_conn_state(s), TLS_STATE_HANDSHAKING);
	tls_conn_feed_eof(s);
	assert_int_equal(tls_conn_state(s), TLS_STATE_FAILED);
	assert_string_equal(tls_conn_error_text(s),
	                    "the peer closed the connection during the handshake");
	tls_conn_free(s);
	tls_creds_free(sc);
}

static void test_not_tls(void **state)
{
	struct tls_creds *sc = creds(EC_CHAIN_PEM, EC_KEY_PEM);
	struct tls_config scfg = {.role = TLS_ROLE_SERVER, .creds = sc};
	struct tls_conn *s = NULL;
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t used;
	assert_int_equal(tls_conn_new(&s, &scfg), FG_OK);
	assert_int_equal(tls_conn_feed(s, (const uint8_t *)req, sizeof(req) - 1, &used),
	                 FG_ERR_CRYPTO);
	assert_int_equal(tls_conn_state(s), TLS_STATE_FAILED);
	assert_true(strlen(tls_conn_error_text(s)) > 0);
	tls_conn_free(s);
	tls_creds_free(sc);
}

static void test_creds_errors(void **state)
{
	struct tls_creds *c = NULL;
	/* A key that is not the leaf's. */
	assert_int_equal(tls_creds_from_pem(&c, EC_CHAIN_PEM, strlen(EC_CHAIN_PEM), ROGUE_KEY_PEM,
	                                    strlen(ROGUE_KEY_PEM)),
	                 FG_ERR_INVAL);
	assert_int_equal(tls_creds_from_pem(&c, RSA_CHAIN_PEM, strlen(RSA_CHAIN_PEM), EC_KEY_PEM,
	                                    strlen(EC_KEY_PEM)),
	                 FG_ERR_INVAL);
	assert_null(c);
	/* No certificate, no key, junk. */
	assert_int_equal(tls_creds_from_pem(&c, "junk", 4, EC_KEY_PEM, strlen(EC_KEY_PEM)),
	                 FG_ERR_PARSE);
	assert_int_equal(tls_creds_from_pem(&c, EC_CHAIN_PEM, strlen(EC_CHAIN_PEM), "", 0),
	                 FG_ERR_PARSE);
	static const char enc[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
	                          "-----END ENCRYPTED PRIVATE KEY-----\n";
	assert_int_equal(
	    tls_creds_from_pem(&c, EC_CHAIN_PEM, strlen(EC_CHAIN_PEM), enc, strlen(enc)),
	    FG_ERR_PERM);
	/* Key and chain in one text, with a CA appended: accepted. */
	char both[8192];
	snprintf(both, sizeof(both), "%s%s", EC_CHAIN_PEM, CA_PEM);
	assert_int_equal(tls_creds_from_pem(&c, both, strlen(both), EC_KEY_PEM, strlen(EC_KEY_PEM)),
	                 FG_OK);
	assert_string_equal(tls_creds_key_type(c), "EC");
	tls_creds_free(c);
	tls_creds_free(NULL);
	/* Text around the blocks (openssl x509 -text, Bag Attributes) and CRLF line ends. */
	char noisy[8192], crlf[8192];
	snprintf(noisy, sizeof(noisy),
	         "Bag Attributes\n    friendlyName: x\nsubject=/CN=y\n%s\n"
	         "trailing words\n",
	         EC_CHAIN_PEM);
	size_t j = 0;
	for (size_t i = 0; EC_KEY_PEM[i] && j + 2 < sizeof(crlf); i++) {
		if (EC_KEY_PEM[i] == '\n')
			crlf[j++] = '\r';
		crlf[j++] = EC_KEY_PEM[i];
	}
	crlf[j] = '\0';
	assert_int_equal(tls_creds_from_pem(&c, noisy, strlen(noisy), crlf, strlen(crlf)), FG_OK);
	tls_creds_free(c);
	/* A PEM without its final newline. */
	char trimmed[8192];
	snprintf(trimmed, sizeof(trimmed), "%s", EC_CHAIN_PEM);
	trimmed[strlen(trimmed) - 1] = '\0';
	assert_int_equal(
	    tls_creds_from_pem(&c, trimmed, strlen(trimmed), EC_KEY_PEM, strlen(EC_KEY_PEM)),
	    FG_OK);
	tls_creds_free(c);
	/* Truncated: BEGIN without END. */
	size_t half = strlen(EC_CHAIN_PEM) / 2;
	assert_int_equal(tls_creds_from_pem(&c, EC_CHAIN_PEM, half, EC_KEY_PEM, strlen(EC_KEY_PEM)),
	                 FG_ERR_PARSE);
	struct tls_trust *t = NULL;
	assert_int_equal(tls_trust_from_pem(&t, "junk", 4), FG_ERR_PARSE);
	/* A bundle: every certificate becomes an anchor. */
	char bundle[8192];
	snprintf(bundle, sizeof(bundle), "%s%s", CA_PEM, ROGUE_CHAIN_PEM);
	assert_int_equal(tls_trust_from_pem(&t, bundle, strlen(bundle)), FG_OK);
	assert_int_equal(tls_trust_count(t), 2);
	tls_trust_free(t);
	tls_trust_free(NULL);
}

static void test_error_texts(void **state)
{
	assert_string_equal(tls_error_text(16), "no cipher suite in common");
	assert_string_equal(tls_error_text(54),
	                    "the peer's certificate is expired (or not yet valid)");
	assert_string_equal(tls_error_text(256 + 48),
	                    "the peer does not trust the authority that signed our certificate "
	                    "(unknown_ca)");
	assert_string_equal(tls_error_text(512 + 1),
	                    "we aborted the connection with a fatal alert");
	assert_string_equal(tls_version_name(TLS_VERSION_1_2), "TLS 1.2");
	assert_string_equal(tls_suite_name(0xCCA9), "ECDHE-ECDSA-CHACHA20-POLY1305");
}

/* ---- tls_conn_pump / tls_conn_write_all ------------------------------------------------ */

/* A transport or a protocol: keeps what it is given, and can report the connection dead after n
 * writes (as a failed socket write kills a connection in the engines). */
struct sink {
	struct fg_buf wire;
	int calls;
	int die_after; /* 0: never */
};

static bool sink_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct sink *k = ctx;
	assert_true(len > 0);
	assert_int_equal(fg_buf_append(&k->wire, buf, len), FG_OK);
	k->calls++;
	return k->die_after == 0 || k->calls < k->die_after;
}

/* A client that has just written its ClientHello. */
static struct tls_conn *new_client(void)
{
	struct tls_trust *t = trust_ca();
	struct tls_config ccfg = {
	    .role = TLS_ROLE_CLIENT, .trust = t, .server_name = "console.test"};
	struct tls_conn *c = NULL;
	assert_int_equal(tls_conn_new(&c, &ccfg), FG_OK);
	tls_trust_free(t);
	return c;
}

static void test_pump_handshake(void **state)
{
	(void)state;
	struct tls_conn *c = new_client();
	struct sink k = {0};
	/* The ClientHello goes out whole, as one TLS handshake record (RFC 5246 §6.2.1). */
	assert_true(tls_conn_pump(c, sink_write, &k));
	assert_true(k.calls >= 1);
	assert_true(k.wire.len > 5);
	assert_int_equal(k.wire.data[0], 22);
	assert_false(tls_conn_want_output(c));
	/* Nothing waiting: no write at all. */
	int calls = k.calls;
	assert_true(tls_conn_pump(c, sink_write, &k));
	assert_int_equal(k.calls, calls);
	tls_conn_free(c);
	fg_buf_free(&k.wire);
}

static void test_pump_dies_in_write(void **state)
{
	(void)state;
	struct tls_conn *c = new_client();
	struct sink k = {.die_after = 1};
	assert_false(tls_conn_pump(c, sink_write, &k));
	assert_int_equal(k.calls, 1);
	/* The output was not acknowledged after the connection died. */
	const uint8_t *buf;
	size_t len;
	tls_conn_take_output(c, &buf, &len);
	assert_int_equal(len, k.wire.len);
	assert_memory_equal(buf, k.wire.data, len);
	tls_conn_free(c);
	fg_buf_free(&k.wire);
}

static void test_write_all(void **state)
{
	(void)state;
	struct pair p;
	established_pair(&p, EC_CHAIN_PEM, EC_KEY_PEM);
	/* Larger than the engine's record buffer: written in chunks, each pumped out. */
	size_t size = 100000;
	uint8_t *data = malloc(size), *got = malloc(size);
	assert_non_null(data);
	assert_non_null(got);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	struct sink k = {0};
	assert_int_equal(tls_conn_write_all(p.client, data, size, sink_write, &k), FG_OK);
	assert_true(k.calls > 1);
	assert_false(tls_conn_want_output(p.client));
	/* The peer reads it all back. */
	size_t recvd = 0, off = 0;
	for (int rounds = 0; recvd < size && rounds < 10000; rounds++) {
		size_t used = 0, n = 0;
		if (off < k.wire.len) {
			assert_int_equal(
			    tls_conn_feed(p.server, k.wire.data + off, k.wire.len - off, &used),
			    FG_OK);
			off += used;
		}
		assert_int_equal(tls_conn_read_app(p.server, got + recvd, size - recvd, &n), FG_OK);
		recvd += n;
	}
	assert_int_equal(recvd, size);
	assert_memory_equal(data, got, size);
	/* Nothing to write: no record. */
	int calls = k.calls;
	assert_int_equal(tls_conn_write_all(p.client, data, 0, sink_write, &k), FG_OK);
	assert_int_equal(k.calls, calls);
	free(data);
	free(got);
	fg_buf_free(&k.wire);
	pair_free(&p);
}

static void test_write_all_dies(void **state)
{
	(void)state;
	struct pair p;
	established_pair(&p, EC_CHAIN_PEM, EC_KEY_PEM);
	size_t size = 100000;
	uint8_t *data = calloc(1, size);
	assert_non_null(data);
	struct sink k = {.die_after = 1};
	/* The connection dies in the first write: one write, no error for the caller. */
	assert_int_equal(tls_conn_write_all(p.client, data, size, sink_write, &k), FG_OK);
	assert_int_equal(k.calls, 1);
	free(data);
	fg_buf_free(&k.wire);
	pair_free(&p);
}

static void test_write_all_after_close(void **state)
{
	(void)state;
	struct pair p;
	established_pair(&p, EC_CHAIN_PEM, EC_KEY_PEM);
	close_both(&p);
	struct sink k = {0};
	const uint8_t data[] = "late";
	/* The engine refuses: the caller gets the error and conn stays usable. */
	assert_int_not_equal(tls_conn_write_all(p.client, data, sizeof(data), sink_write, &k),
	                     FG_OK);
	assert_int_equal(k.calls, 0);
	assert_int_equal(tls_conn_state(p.client), TLS_STATE_CLOSED);
	fg_buf_free(&k.wire);
	pair_free(&p);
}

/* Sends size bytes from the client and feeds all of it to the server, without reading. */
static void feed_server(struct pair *p, const uint8_t *data, size_t size)
{
	struct sink k = {0};
	assert_int_equal(tls_conn_write_all(p->client, data, size, sink_write, &k), FG_OK);
	size_t off = 0;
	for (int rounds = 0; off < k.wire.len && rounds < 100; rounds++) {
		size_t used = 0;
		assert_int_equal(
		    tls_conn_feed(p->server, k.wire.data + off, k.wire.len - off, &used), FG_OK);
		off += used;
		if (used == 0)
			break;
	}
	/* the engine holds one record of plaintext: the rest waits until it is read */
	fg_buf_consume(&k.wire, off);
	fg_buf_free(&p->c2s);
	p->c2s = k.wire;
}

static void test_read_all(void **state)
{
	(void)state;
	struct pair p;
	established_pair(&p, EC_CHAIN_PEM, EC_KEY_PEM);
	size_t size = 50000;
	uint8_t *data = malloc(size);
	assert_non_null(data);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	feed_server(&p, data, size);
	/* Read in small pieces, feeding the rest of the wire as the engine makes room. */
	struct sink got = {0};
	uint8_t piece[1000];
	for (int rounds = 0; got.wire.len < size && rounds < 1000; rounds++) {
		assert_true(tls_conn_read_all(p.server, piece, sizeof(piece), sink_write, &got));
		assert_false(tls_conn_has_app(p.server));
		size_t used = 0;
		if (p.c2s.len > 0) {
			assert_int_equal(tls_conn_feed(p.server, p.c2s.data, p.c2s.len, &used),
			                 FG_OK);
			fg_buf_consume(&p.c2s, used);
		}
	}
	assert_int_equal(got.wire.len, size);
	assert_memory_equal(got.wire.data, data, size);
	assert_true(got.calls >= (int)(size / sizeof(piece)));
	/* Nothing waiting: nothing read, no call. */
	int calls = got.calls;
	assert_false(tls_conn_read_all(p.server, piece, sizeof(piece), sink_write, &got));
	assert_int_equal(got.calls, calls);
	free(data);
	fg_buf_free(&got.wire);
	pair_free(&p);
}

static void test_read_all_dies(void **state)
{
	(void)state;
	struct pair p;
	established_pair(&p, EC_CHAIN_PEM, EC_KEY_PEM);
	uint8_t data[5000] = {1, 2, 3};
	feed_server(&p, data, sizeof(data));
	struct sink got = {.die_after = 1};
	uint8_t piece[100];
	/* The connection dies handling the first piece: no second call, the rest stays. */
	assert_true(tls_conn_read_all(p.server, piece, sizeof(piece), sink_write, &got));
	assert_int_equal(got.calls, 1);
	assert_int_equal(got.wire.len, sizeof(piece));
	assert_true(tls_conn_has_app(p.server));
	fg_buf_free(&got.wire);
	pair_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_ec),
	    cmocka_unit_test(test_handshake_rsa),
	    cmocka_unit_test(test_untrusted),
	    cmocka_unit_test(test_wrong_name),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_refuse_tls11),
	    cmocka_unit_test(test_mutual_tls),
	    cmocka_unit_test(test_sni_select),
	    cmocka_unit_test(test_sni_without_name_check),
	    cmocka_unit_test(test_eof_during_handshake),
	    cmocka_unit_test(test_not_tls),
	    cmocka_unit_test(test_creds_errors),
	    cmocka_unit_test(test_error_texts),
	    cmocka_unit_test(test_pump_handshake),
	    cmocka_unit_test(test_pump_dies_in_write),
	    cmocka_unit_test(test_write_all),
	    cmocka_unit_test(test_write_all_dies),
	    cmocka_unit_test(test_write_all_after_close),
	    cmocka_unit_test(test_read_all),
	    cmocka_unit_test(test_read_all_dies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
