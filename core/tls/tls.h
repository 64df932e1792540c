/* tls: a sans-IO TLS 1.2 wrapper over BearSSL's engine (RFC 5246, RFC 5289, RFC 7905,
 * RFC 6066 SNI), for the console, XMPP STARTTLS/direct TLS and SIP TLS, both roles. */
#ifndef FEDGW_TLS_H
#define FEDGW_TLS_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The engine does no I/O. The caller moves bytes:
 *   socket -> tls_conn_feed()          (ciphertext in)
 *   tls_conn_take_output() -> socket,  then tls_conn_output_done(n)
 *   tls_conn_write_app() / tls_conn_read_app() for plaintext
 * and after each step asks tls_conn_state() and the want_* helpers what to do next.
 * Everything runs on the caller's thread; nothing here blocks, sleeps or logs.
 */

/* Caps on what a peer or a file can make us hold. */
#define TLS_CHAIN_MAX     8            /* certificates per chain: real chains have 2-4 */
#define TLS_PEM_MAX       (256 * 1024) /* PEM text per chain/key/bundle: ~100 certificates */
#define TLS_TRUST_MAX     256          /* trust anchors per set: a full public CA bundle is ~150 */
#define TLS_PEER_CERT_MAX 16384        /* peer leaf certificate kept for name checks: one record */

/* Wire values (RFC 5246 §6.2.1 ProtocolVersion). */
#define TLS_VERSION_1_0 0x0301
#define TLS_VERSION_1_1 0x0302
#define TLS_VERSION_1_2 0x0303

/* ---- credentials: a certificate chain and its private key ------------------------- */

/* Reference-counted; a connection holds a reference for its lifetime, so replacing the
 * credentials in a listener never pulls them from under a running handshake. Used from
 * one thread only. */
struct tls_creds;

/* Decodes a PEM chain (leaf first; "CERTIFICATE" blocks) and a PEM private key (PKCS#8
 * "PRIVATE KEY", SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"), deep-copied. Checks
 * that an EC key belongs to the leaf certificate. The key text is never logged or kept. */
enum fg_err tls_creds_from_pem(struct tls_creds **out, const char *chain_pem, size_t chain_len,
                               const char *key_pem, size_t key_len);
struct tls_creds *tls_creds_ref(struct tls_creds *creds);
/* Drops one reference; frees (wiping the key) at zero. NULL is a no-op. */
void tls_creds_free(struct tls_creds *creds);
/* "EC" or "RSA". */
const char *tls_creds_key_type(const struct tls_creds *creds);
/* The leaf certificate in DER; borrowed for the lifetime of creds. */
void tls_creds_leaf(const struct tls_creds *creds, const uint8_t **der, size_t *len);

/* ---- trust anchors: CA certificates a peer's chain must lead to ------------------- */

struct tls_trust;

/* Every "CERTIFICATE" block in pem becomes a trust anchor (at least one is required). */
enum fg_err tls_trust_from_pem(struct tls_trust **out, const char *pem, size_t len);
struct tls_trust *tls_trust_ref(struct tls_trust *trust);
void tls_trust_free(struct tls_trust *trust); /* drops one reference; NULL is a no-op */
size_t tls_trust_count(const struct tls_trust *trust);

/* ---- connections -------------------------------------------------------------------- */

enum tls_role { TLS_ROLE_SERVER = 0, TLS_ROLE_CLIENT };

enum tls_state {
	TLS_STATE_HANDSHAKING = 0,
	TLS_STATE_ESTABLISHED,
	TLS_STATE_CLOSED, /* closed cleanly (close_notify both ways) */
	TLS_STATE_FAILED, /* see tls_conn_error_text() */
};

/* Server side: picks the credentials for the name the client asked for (SNI, RFC 6066
 * §3; "" when none). Return NULL to use tls_config.creds. The result is borrowed; the
 * connection takes its own reference. */
typedef struct tls_creds *(*tls_select_creds_cb)(void *ctx, const char *server_name);

struct tls_config {
	enum tls_role role;
	/* Server: default credentials (required unless select_creds always answers).
	 * Client: the client certificate for mutual TLS (optional). */
	struct tls_creds *creds;
	tls_select_creds_cb select_creds;
	void *select_ctx;
	/* Client: anchors for the server's chain (required).
	 * Server: anchors for a client certificate; set to request one (mutual TLS). */
	struct tls_trust *trust;
	/* Server with trust: refuse a client that sends no valid certificate. Without it, a
	 * missing or invalid client certificate is tolerated and tls_conn_peer_verified() is
	 * false: the protocol decides (e.g. XMPP falls back to dialback). */
	bool require_client_cert;
	/* Client: the name sent as SNI and checked against the certificate by BearSSL (a
	 * baseline; RFC 6125 checks belong to the protocol). NULL: no SNI, no name check. */
	const char *server_name;
	/* Client: send server_name as SNI (RFC 6066 §3) but leave the name check to the
	 * caller, which reads tls_conn_peer_cert() after the handshake (RFC 5922 §7.1 in SIP:
	 * the caller reports which names the certificate has). The chain is still checked. */
	bool sni_skip_name_check;
	/* Protocol versions; 0 means TLS 1.2. The product only uses TLS 1.2: older versions
	 * exist to test that a peer limited to them is refused. */
	uint16_t min_version;
	uint16_t max_version;
	/* Validation time for certificates, seconds since the epoch; 0 = the system clock. */
	int64_t now_s;
};

struct tls_conn;

enum fg_err tls_conn_new(struct tls_conn **out, const struct tls_config *cfg);
void tls_conn_free(struct tls_conn *conn); /* NULL is a no-op */

/* Ciphertext from the peer. *used gets how much the engine took: less than len when it
 * first needs the caller to drain plaintext or output. Returns FG_ERR_CRYPTO once the
 * connection failed. */
enum fg_err tls_conn_feed(struct tls_conn *conn, const uint8_t *buf, size_t len, size_t *used);
/* The peer's transport reached end of file: without close_notify this is a failure
 * (truncation, RFC 5246 §7.2.1) or, during the handshake, an abandoned handshake. */
void tls_conn_feed_eof(struct tls_conn *conn);
/* Ciphertext to send. *buf is borrowed until the next call on conn; *len 0: nothing. */
void tls_conn_take_output(struct tls_conn *conn, const uint8_t **buf, size_t *len);
void tls_conn_output_done(struct tls_conn *conn, size_t n);
bool tls_conn_want_output(struct tls_conn *conn);
/* True while the engine can take ciphertext. */
bool tls_conn_want_input(struct tls_conn *conn);

/* Plaintext to the peer (only when established). *used may be less than len when the
 * engine's record buffer is full: send output first. Records are flushed at once. */
enum fg_err tls_conn_write_app(struct tls_conn *conn, const uint8_t *buf, size_t len, size_t *used);
/* Plaintext from the peer into buf; *got 0 when none is waiting. */
enum fg_err tls_conn_read_app(struct tls_conn *conn, uint8_t *buf, size_t cap, size_t *got);
/* True when plaintext is waiting for tls_conn_read_app. */
bool tls_conn_has_app(struct tls_conn *conn);

/* ---- driving a connection over a transport ------------------------------------------- */

/* Sends ciphertext to the peer's transport. Returns whether the connection is still alive
 * afterwards (the caller's own test: a failed write may kill it, and its tls_conn with it);
 * on false the helpers below stop at once and do not touch conn again. */
typedef bool (*tls_write_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Moves every waiting record to write (take_output -> write -> output_done) until the engine
 * has nothing more. Returns false when write said the connection died. */
bool tls_conn_pump(struct tls_conn *conn, tls_write_fn write, void *ctx);
/* Writes plaintext as records and pumps them out after each chunk, until all of it is
 * written, the connection dies, or the engine takes nothing and has nothing to send.
 * tls_conn_write_app's error when the engine refused (tls_conn_error_text says why; conn
 * is still valid), FG_OK otherwise (including a connection that died in write). */
enum fg_err tls_conn_write_all(struct tls_conn *conn, const uint8_t *buf, size_t len,
                               tls_write_fn write, void *ctx);
/* Handles plaintext from the peer. Returns whether the connection is still alive after
 * (the caller's own test); on false tls_conn_read_all stops and does not touch conn again. */
typedef bool (*tls_plain_fn)(void *ctx, const uint8_t *buf, size_t len);
/* Reads the waiting plaintext into buf, cap bytes at a time, and hands each piece to
 * on_plain until none is waiting or on_plain says the connection died. Returns whether
 * anything was read (the caller's feed loop stops once neither side moves). */
bool tls_conn_read_all(struct tls_conn *conn, uint8_t *buf, size_t cap, tls_plain_fn on_plain,
                       void *ctx);

/* Starts a clean close (sends close_notify); keep taking output until it is empty. */
void tls_conn_close(struct tls_conn *conn);
enum tls_state tls_conn_state(struct tls_conn *conn);
const char *tls_conn_state_name(enum tls_state state);

/* Why the connection failed, in plain words ("the peer's certificate is expired"), or ""
 * while it has not failed. tls_conn_error_code gives BearSSL's code (BR_ERR_*, with
 * BR_ERR_SEND_FATAL_ALERT/BR_ERR_RECV_FATAL_ALERT + alert) or -1 for a transport EOF. */
const char *tls_conn_error_text(struct tls_conn *conn);
int tls_conn_error_code(struct tls_conn *conn);
/* Text for any BearSSL error code (including alerts). */
const char *tls_error_text(int br_err);

/* After the handshake: "TLS 1.2" and "ECDHE-ECDSA-AES128-GCM-SHA256" (OpenSSL names),
 * or "" before. */
const char *tls_conn_version_name(struct tls_conn *conn);
const char *tls_conn_suite_name(struct tls_conn *conn);
const char *tls_version_name(unsigned version);
const char *tls_suite_name(unsigned suite);
/* Server: the SNI name the client sent ("" if none). Client: the name it asked for. */
const char *tls_conn_server_name(struct tls_conn *conn);
/* True when the peer presented a chain that validated to the trust anchors. */
bool tls_conn_peer_verified(struct tls_conn *conn);
/* The peer's leaf certificate in DER (len 0 if none or larger than TLS_PEER_CERT_MAX);
 * borrowed until tls_conn_release_peer_cert or tls_conn_free. */
void tls_conn_peer_cert(struct tls_conn *conn, const uint8_t **der, size_t *len);
/* Frees the copy of the peer's leaf once the caller has done its name checks; afterwards
 * tls_conn_peer_cert gives len 0 (tls_conn_peer_verified is kept). NULL is a no-op. */
void tls_conn_release_peer_cert(struct tls_conn *conn);

#endif
