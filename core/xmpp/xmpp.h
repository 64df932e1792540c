/* xmpp: sans-IO XMPP s2s cores: XML stream (RFC 6120 §4, §11), s2s negotiation (RFC 6120 §5,
 * §6, §9; XEP-0178, XEP-0220, XEP-0185, XEP-0344), stanza errors (RFC 6120 §8.3) and local
 * answers (XEP-0199, XEP-0030, XEP-0092). Nothing here opens a socket, reads a clock or logs:
 * bytes, events and the current time come in as arguments; bytes and actions go out. */
#ifndef FEDGW_XMPP_H
#define FEDGW_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define XMPP_NS_STREAMS       "http://etherx.jabber.org/streams"
#define XMPP_NS_SERVER        "jabber:server"
#define XMPP_NS_COMPONENT     "jabber:component:accept"
#define XMPP_NS_DIALBACK      "jabber:server:dialback"
#define XMPP_NS_TLS           "urn:ietf:params:xml:ns:xmpp-tls"
#define XMPP_NS_SASL          "urn:ietf:params:xml:ns:xmpp-sasl"
#define XMPP_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define XMPP_NS_STANZA_ERRORS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define XMPP_NS_XML           "http://www.w3.org/XML/1998/namespace"

/* Limits on what a peer controls. Each is a default; the stream config can lower them. */
/* A stanza after authentication: large enough for vCards/avatars inline, small enough that
 * a few hundred connections cannot exhaust memory (Prosody uses 512 KiB too). */
#define XMPP_MAX_STANZA_BYTES (512u * 1024u)
/* Before authentication only negotiation elements are legitimate; all are tiny. */
#define XMPP_MAX_STANZA_BYTES_PREAUTH (16u * 1024u)
/* Element nesting inside a stanza; real payloads stay under ~10 levels. */
#define XMPP_MAX_DEPTH 32u
/* Attributes on one element; real stanzas carry fewer than 10. */
#define XMPP_MAX_ATTRS 64u
/* Bytes before the stream header completes (XML declaration + header are < 1 KiB). */
#define XMPP_MAX_PREHEADER_BYTES 4096u
/* Elements in one stanza: bounds the DOM arena for stanzas made of tiny elements. */
#define XMPP_MAX_ELEMENTS 8192u
/* A domainpart is at most 1023 octets (RFC 7622 §3.2); a JID at most 3071. */
#define XMPP_MAX_DOMAIN 1023u
#define XMPP_MAX_JID    3071u
/* Stream ids we generate are 32 hex chars; peers' ids are capped to keep keys bounded. */
#define XMPP_MAX_STREAM_ID 128u

/* RFC 6120 §4.9.3 stream error conditions. XMPP_SE_NONE means no error. */
enum xmpp_stream_error {
	XMPP_SE_NONE = 0,
	XMPP_SE_BAD_FORMAT,
	XMPP_SE_BAD_NAMESPACE_PREFIX,
	XMPP_SE_CONFLICT,
	XMPP_SE_CONNECTION_TIMEOUT,
	XMPP_SE_HOST_GONE,
	XMPP_SE_HOST_UNKNOWN,
	XMPP_SE_IMPROPER_ADDRESSING,
	XMPP_SE_INTERNAL_SERVER_ERROR,
	XMPP_SE_INVALID_FROM,
	XMPP_SE_INVALID_NAMESPACE,
	XMPP_SE_INVALID_XML,
	XMPP_SE_NOT_AUTHORIZED,
	XMPP_SE_NOT_WELL_FORMED,
	XMPP_SE_POLICY_VIOLATION,
	XMPP_SE_REMOTE_CONNECTION_FAILED,
	XMPP_SE_RESET,
	XMPP_SE_RESOURCE_CONSTRAINT,
	XMPP_SE_RESTRICTED_XML,
	XMPP_SE_SEE_OTHER_HOST,
	XMPP_SE_SYSTEM_SHUTDOWN,
	XMPP_SE_UNDEFINED_CONDITION,
	XMPP_SE_UNSUPPORTED_ENCODING,
	XMPP_SE_UNSUPPORTED_FEATURE,
	XMPP_SE_UNSUPPORTED_STANZA_TYPE,
	XMPP_SE_UNSUPPORTED_VERSION,
	XMPP_SE__COUNT
};

/* "not-well-formed" etc.; "" for XMPP_SE_NONE. */
const char *xmpp_stream_error_name(enum xmpp_stream_error e);
/* Parses a condition element name; XMPP_SE_UNDEFINED_CONDITION when unknown. */
enum xmpp_stream_error xmpp_stream_error_parse(const char *name);

/* ---- DOM ------------------------------------------------------------------------------ */

struct xmpp_attr {
	const char *ns;    /* namespace URI, "" when unqualified */
	const char *name;  /* local name */
	const char *value; /* UTF-8, entities already resolved */
	struct xmpp_attr *next;
};

/* An element (name != NULL) or a text node (name == NULL, text/text_len set). */
struct xmpp_node {
	const char *ns;   /* element namespace URI ("" if none) */
	const char *name; /* local name; NULL for text */
	const char *text; /* text node content (NUL-terminated) */
	size_t text_len;
	struct xmpp_attr *attrs;
	struct xmpp_node *parent;
	struct xmpp_node *children;
	struct xmpp_node *last_child;
	struct xmpp_node *next;
};

/* Unqualified attribute value or NULL. */
const char *xmpp_node_attr(const struct xmpp_node *n, const char *name);
/* First child element with that namespace (NULL: any) and name (NULL: any). */
const struct xmpp_node *xmpp_node_child(const struct xmpp_node *n, const char *ns,
                                        const char *name);
/* True if n is an element with this namespace and name. */
bool xmpp_node_is(const struct xmpp_node *n, const char *ns, const char *name);
/* Concatenated direct text children into out (appended, NUL-terminated via fg_buf_cstr). */
enum fg_err xmpp_node_text(const struct xmpp_node *n, struct fg_buf *out);

/* Appends s (len bytes of UTF-8) escaped for XML text (attr=false) or a single- or
 * double-quoted attribute value (attr=true): & < > " ' always become entities; in
 * attributes TAB/LF are written as character references too (CR always). Refuses invalid
 * UTF-8 and characters XML 1.0 forbids (C0 controls except TAB/LF/CR, U+FFFE, U+FFFF) with
 * FG_ERR_INVAL, leaving out unchanged. */
enum fg_err xmpp_escape(struct fg_buf *out, const char *s, size_t len, bool attr);
/* Serializes n; parent_ns is the default namespace in scope ("jabber:server" for stanzas
 * inside an s2s stream) so that xmlns is written only where it changes. */
enum fg_err xmpp_node_serialize(const struct xmpp_node *n, const char *parent_ns,
                                struct fg_buf *out);

/* ---- XML stream ----------------------------------------------------------------------- */

struct xmpp_stream_header {
	const char *to;      /* NULL when absent */
	const char *from;    /* NULL when absent */
	const char *id;      /* NULL when absent */
	const char *version; /* NULL when absent */
	const char *lang;    /* xml:lang, NULL when absent */
	bool dialback_ns;    /* xmlns:db='jabber:server:dialback' declared (XEP-0220 §2.1) */
};

struct xmpp_stream_ops {
	/* The peer's stream header passed the RFC 6120 §4.7 checks. Returns false to stop. */
	bool (*header_cb)(void *ctx, const struct xmpp_stream_header *hdr);
	/* One complete top-level element. The node and its arena are valid only during the
	 * call. Returns false to stop parsing (xmpp_stream_halt is implied). */
	bool (*stanza_cb)(void *ctx, const struct xmpp_node *stanza);
	/* The peer sent </stream:stream>. */
	void (*close_cb)(void *ctx);
};

struct xmpp_stream_config {
	const char *content_ns;  /* XMPP_NS_SERVER or XMPP_NS_COMPONENT */
	size_t max_stanza_bytes; /* 0: XMPP_MAX_STANZA_BYTES_PREAUTH */
	size_t max_depth;        /* 0: XMPP_MAX_DEPTH */
	size_t max_attrs;        /* 0: XMPP_MAX_ATTRS */
	size_t max_preheader;    /* 0: XMPP_MAX_PREHEADER_BYTES */
	/* A long-lived stream: expat's memory in pages of its own, given back to the system
	 * whole by xmpp_stream_compact (a mapping per parser: not for one-stanza parses). */
	bool own_pages;
};

struct xmpp_stream;

/* One parser per stream. cfg is copied; ops/ctx are borrowed for the stream's life. */
enum fg_err xmpp_stream_new(struct xmpp_stream **out, const struct xmpp_stream_config *cfg,
                            const struct xmpp_stream_ops *ops, void *ctx);
void xmpp_stream_free(struct xmpp_stream *s);
/* Pushes bytes. Returns XMPP_SE_NONE or the (sticky) stream error to send before closing.
 * After an error, halt or close, further bytes are ignored. */
enum xmpp_stream_error xmpp_stream_feed(struct xmpp_stream *s, const uint8_t *buf, size_t len);
/* Human-readable detail for the last error (static string, never peer data). */
const char *xmpp_stream_error_text(const struct xmpp_stream *s);
/* Stops parsing now: the rest of the current buffer and everything fed later is dropped
 * until xmpp_stream_restart. Used after <proceed/> (RFC 6120 §5.4.3.3). */
void xmpp_stream_halt(struct xmpp_stream *s);
/* RFC 6120 §5.3.3/§6.3.2: a fresh stream after TLS or SASL; resets the parser and drops any
 * bytes not yet parsed. */
enum fg_err xmpp_stream_restart(struct xmpp_stream *s);
/* Raises or lowers the stanza size cap (after authentication: XMPP_MAX_STANZA_BYTES). */
void xmpp_stream_set_max_stanza(struct xmpp_stream *s, size_t max_bytes);
/* For an idle stream: frees the XML parser and buffers while the stream rests between
 * stanzas; the next feed rebuilds them from the peer's header, invisibly to the callbacks.
 * True when the stream holds no parser afterwards; false (nothing freed) when it is not at
 * rest (inside a stanza, before the header, halted, closed or failed). */
bool xmpp_stream_compact(struct xmpp_stream *s);
bool xmpp_stream_is_closed(const struct xmpp_stream *s);

/* ---- XEP-0185 dialback keys ----------------------------------------------------------- */

#define XMPP_DIALBACK_KEY_HEX 64u

/* key = hex(HMAC-SHA256(SHA256(secret), receiving + ' ' + originating + ' ' + stream_id)).
 * out must hold XMPP_DIALBACK_KEY_HEX + 1 bytes. */
enum fg_err xmpp_dialback_key(char *out, const uint8_t *secret, size_t secret_len,
                              const char *receiving, const char *originating,
                              const char *stream_id);
/* Constant-time check of a key received from a peer. */
bool xmpp_dialback_key_check(const char *key, const uint8_t *secret, size_t secret_len,
                             const char *receiving, const char *originating, const char *stream_id);

/* ---- s2s state machine ---------------------------------------------------------------- */

enum xmpp_tls_mode { XMPP_TLS_OFF = 0, XMPP_TLS_OPTIONAL, XMPP_TLS_REQUIRED };
enum xmpp_s2s_role { XMPP_S2S_INITIATING = 0, XMPP_S2S_RECEIVING };
enum xmpp_auth_method { XMPP_AUTH_NONE = 0, XMPP_AUTH_SASL_EXTERNAL, XMPP_AUTH_DIALBACK };

enum xmpp_timer {
	XMPP_TIMER_OPEN = 0, /* stream open until authenticated */
	XMPP_TIMER_DIALBACK, /* earliest pending dialback request */
	XMPP_TIMER_IDLE,     /* no bytes from the peer */
	XMPP_TIMER__COUNT
};

enum xmpp_action_kind {
	XMPP_ACT_SEND = 0,        /* data/len: bytes to write (through TLS once started) */
	XMPP_ACT_START_TLS,       /* begin the TLS handshake now; call xmpp_s2s_tls_started */
	XMPP_ACT_AUTHENTICATED,   /* local/remote pair authenticated with method */
	XMPP_ACT_DIALBACK_VERIFY, /* ask remote's authoritative server: send db:verify with
	                             local (receiving), remote (originating), stream_id, key */
	XMPP_ACT_VERIFY_RESULT,   /* answer to our db:verify: local/remote/stream_id, valid */
	XMPP_ACT_DELIVER,         /* stanza accepted from remote for local */
	XMPP_ACT_CLOSE,           /* close the connection; condition (NONE: clean) and text */
	XMPP_ACT_TIMER_ARM,       /* timer at deadline_ms */
	XMPP_ACT_TIMER_CANCEL,    /* timer */
};

/* All pointers are borrowed and valid only during the action callback. */
struct xmpp_action {
	enum xmpp_action_kind kind;
	const uint8_t *data;
	size_t len;
	const char *local;
	const char *remote;
	enum xmpp_auth_method method;
	const char *stream_id;
	const char *key;
	bool valid;
	const struct xmpp_node *stanza;
	enum xmpp_stream_error condition;
	const char *text;
	enum xmpp_timer timer;
	int64_t deadline_ms;
};

/* Called synchronously from the xmpp_s2s_* functions. It must not drive the same machine
 * (feed, tls_started, dialback_result, on_timer, close are ignored there); send_verify is
 * queued and sent when the outer call returns. */
typedef void (*xmpp_action_cb)(void *ctx, const struct xmpp_action *act);
/* Fills buf with unpredictable bytes (stream ids). */
typedef void (*xmpp_random_cb)(void *ctx, void *buf, size_t len);

struct xmpp_s2s_config {
	const char *const *local_domains; /* domains this gateway serves */
	size_t n_local_domains;
	enum xmpp_tls_mode tls_mode;
	bool require_client_cert;       /* receiving: refuse a TLS peer without a certificate */
	bool sasl_external_in;          /* receiving: offer SASL EXTERNAL (XEP-0178) */
	bool sasl_external_out;         /* initiating: use SASL EXTERNAL when offered */
	bool dialback;                  /* XEP-0220 in both roles */
	const uint8_t *dialback_secret; /* XEP-0185 secret, borrowed */
	size_t dialback_secret_len;
	int64_t open_timeout_ms;     /* 0: 30 s */
	int64_t dialback_timeout_ms; /* 0: 30 s */
	int64_t idle_timeout_ms;     /* 0: 600 s */
	/* Stanza size cap once a domain pair is authenticated (xmpp.max_stanza_bytes); before,
	 * XMPP_MAX_STANZA_BYTES_PREAUTH holds. 0: XMPP_MAX_STANZA_BYTES. */
	size_t max_stanza_bytes;
	xmpp_random_cb random_cb; /* NULL: fg_random */
	void *random_ctx;
};

struct xmpp_s2s;

/* cfg is borrowed (strings and secret must outlive the machine). For the initiating role
 * local/remote name the pair this connection is for; for receiving both may be NULL. */
enum fg_err xmpp_s2s_new(struct xmpp_s2s **out, enum xmpp_s2s_role role,
                         const struct xmpp_s2s_config *cfg, const char *local, const char *remote,
                         xmpp_action_cb cb, void *cb_ctx);
void xmpp_s2s_free(struct xmpp_s2s *s);
/* Connection established: initiating sends its header; both arm timers. */
void xmpp_s2s_start(struct xmpp_s2s *s, int64_t now_ms);
/* Bytes from the peer (after TLS decryption once TLS runs). */
void xmpp_s2s_feed(struct xmpp_s2s *s, const uint8_t *buf, size_t len, int64_t now_ms);
/* The TLS handshake finished. peer_cert: the peer presented a certificate. */
void xmpp_s2s_tls_started(struct xmpp_s2s *s, bool peer_cert, int64_t now_ms);
/* The I/O layer verified the peer's certificate for domain (RFC 6125 name checks). */
void xmpp_s2s_peer_verified(struct xmpp_s2s *s, const char *domain);
/* Receiving: the authoritative server answered our db:verify for (local, remote). */
void xmpp_s2s_dialback_result(struct xmpp_s2s *s, const char *local, const char *remote,
                              const char *stream_id, bool valid, int64_t now_ms);
/* Initiating: send a db:verify (XEP-0220 §2.1.3) on this stream; the answer comes back as
 * XMPP_ACT_VERIFY_RESULT. Queued until the stream is ready. */
enum fg_err xmpp_s2s_send_verify(struct xmpp_s2s *s, const char *local, const char *remote,
                                 const char *stream_id, const char *key);
/* Sends a stanza; its from/to domains must be an authenticated pair (initiating). */
enum fg_err xmpp_s2s_send_stanza(struct xmpp_s2s *s, const struct xmpp_node *stanza);
/* Sends a stanza already serialized by the caller, who vouches that it is one well-formed
 * element in the stream's namespace (jabber:server, written without xmlns) whose 'from'
 * and 'to' domains are local and remote, an authenticated pair (initiating). The bytes go
 * out as they are, without a copy when nothing else waits (XMPP_ACT_SEND points at them). */
enum fg_err xmpp_s2s_send_bytes(struct xmpp_s2s *s, const char *local, const char *remote,
                                const uint8_t *stanza, size_t len);
void xmpp_s2s_on_timer(struct xmpp_s2s *s, enum xmpp_timer t, int64_t now_ms);
/* Graceful close (we send </stream:stream>) or with a stream error. */
void xmpp_s2s_close(struct xmpp_s2s *s, enum xmpp_stream_error cond, const char *text);
/* For an idle stream (the caller decides, e.g. no I/O for a second): returns the parser
 * and drained output buffers to the heap (xmpp_stream_compact); the machine goes on as
 * before on the next feed or send. True when the stream holds no parser afterwards. */
bool xmpp_s2s_compact(struct xmpp_s2s *s);
bool xmpp_s2s_is_authenticated(const struct xmpp_s2s *s, const char *local, const char *remote);
/* Our stream id (receiving) or the peer's (initiating); "" before the header. */
const char *xmpp_s2s_stream_id(const struct xmpp_s2s *s);

/* ---- stanza helpers ------------------------------------------------------------------- */

/* RFC 6120 §8.3.3 defined conditions. */
enum xmpp_stanza_cond {
	XMPP_SC_BAD_REQUEST = 0,
	XMPP_SC_CONFLICT,
	XMPP_SC_FEATURE_NOT_IMPLEMENTED,
	XMPP_SC_FORBIDDEN,
	XMPP_SC_GONE,
	XMPP_SC_INTERNAL_SERVER_ERROR,
	XMPP_SC_ITEM_NOT_FOUND,
	XMPP_SC_JID_MALFORMED,
	XMPP_SC_NOT_ACCEPTABLE,
	XMPP_SC_NOT_ALLOWED,
	XMPP_SC_NOT_AUTHORIZED,
	XMPP_SC_POLICY_VIOLATION,
	XMPP_SC_RECIPIENT_UNAVAILABLE,
	XMPP_SC_REDIRECT,
	XMPP_SC_REGISTRATION_REQUIRED,
	XMPP_SC_REMOTE_SERVER_NOT_FOUND,
	XMPP_SC_REMOTE_SERVER_TIMEOUT,
	XMPP_SC_RESOURCE_CONSTRAINT,
	XMPP_SC_SERVICE_UNAVAILABLE,
	XMPP_SC_SUBSCRIPTION_REQUIRED,
	XMPP_SC_UNDEFINED_CONDITION,
	XMPP_SC_UNEXPECTED_REQUEST,
	XMPP_SC__COUNT
};

const char *xmpp_stanza_cond_name(enum xmpp_stanza_cond c);
/* The error type RFC 6120 §8.3.3 gives for the condition: "cancel", "wait", ... */
const char *xmpp_stanza_cond_type(enum xmpp_stanza_cond c);

/* RFC 6120 §8.3: an error reply to stanza (to/from swapped, same id, type='error').
 * FG_ERR_PERM if stanza is itself an error (never answer an error with an error) or has no
 * 'from' to reply to. text (may be NULL) goes in <text/>; by (may be NULL) is the 'by'
 * attribute. Appends to out. */
enum fg_err xmpp_stanza_error_reply(const struct xmpp_node *stanza, enum xmpp_stanza_cond cond,
                                    const char *text, const char *by, struct fg_buf *out);

struct xmpp_local_info {
	const char *name;          /* XEP-0092 software name, e.g. "fedgw" */
	const char *version;       /* XEP-0092 version */
	const char *identity_name; /* XEP-0030 identity name (may be NULL) */
};

/* Answers an iq addressed to the gateway's own domain: XEP-0199 ping, XEP-0030 disco#info,
 * XEP-0092 version; other iq get/set get service-unavailable (RFC 6120 §8.4).
 * FG_OK: reply appended to out. FG_ERR_NOTFOUND: not an iq for us to answer (messages,
 * presence, results/errors). */
enum fg_err xmpp_local_answer(const struct xmpp_node *stanza, const struct xmpp_local_info *info,
                              struct fg_buf *out);

/* Domain part of a JID into out (outsize bytes); false if malformed or too long. */
bool xmpp_jid_domain(const char *jid, char *out, size_t outsize);

#endif
