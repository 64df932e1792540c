/* sip: sans-IO SIP core: parser, builder, transactions, dialogs (RFC 3261, RFC 6665, RFC 5626). */
#ifndef FEDGW_SIP_H
#define FEDGW_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Limits on what a peer may send. Each one is far above what real SIP traffic uses and
 * low enough that a hostile peer cannot make us hold much memory per connection. */
#define SIP_MAX_HEADERS   128   /* header fields (after splitting comma lists) */
#define SIP_KNOWN_HEADERS 48    /* entries in the parser's table of well-known headers */
#define SIP_MAX_LINE      8192  /* one header line, after unfolding */
#define SIP_MAX_HEAD      65536 /* start line + headers + blank line */
#define SIP_MAX_BODY      65536 /* Content-Length cap (MESSAGE/NOTIFY bodies are small) */
#define SIP_MAX_PARAMS    32    /* parameters on one URI, Via or name-addr */
#define SIP_MAX_VIAS      64    /* Via values (RFC 4475 longreq carries 33) */
#define SIP_MAX_ROUTES    16    /* entries in a dialog's route set */
#define SIP_MAX_URI       4096  /* a URI given to sip_uri_parse on its own */

/* A byte string inside a parsed object. p is NUL-terminated for convenience, but the
 * value may hold NUL bytes (RFC 4475 escnull: %00 in a user part), so use len. */
struct sip_str {
	const char *p;
	size_t len;
};

/* Where and why a parse failed. */
struct sip_error {
	size_t offset;  /* byte offset into the input where the problem was found */
	char what[128]; /* plain words: "Via: empty parameter" */
};

struct sip_param {
	struct sip_str name;  /* percent-decoded for URI parameters */
	struct sip_str value; /* p == NULL when the parameter has no '=' */
};

enum sip_scheme {
	SIP_SCHEME_SIP = 0,
	SIP_SCHEME_SIPS,
	SIP_SCHEME_OTHER, /* tel:, http:, ...: kept opaque in headers, refused by sip_uri_parse */
};

enum sip_host_type {
	SIP_HOST_NAME = 0,
	SIP_HOST_IPV4,
	SIP_HOST_IPV6, /* host holds the address without brackets */
};

struct sip_uri {
	enum sip_scheme scheme;
	struct sip_str text;     /* the URI as written */
	struct sip_str user;     /* percent-decoded; p == NULL when absent */
	struct sip_str password; /* percent-decoded; p == NULL when absent */
	struct sip_str host;     /* as written (hosts carry no escapes) */
	enum sip_host_type host_type;
	uint16_t port; /* 0 when absent */
	struct sip_param params[SIP_MAX_PARAMS];
	size_t nparams;
	struct sip_param headers[SIP_MAX_PARAMS]; /* after '?', percent-decoded */
	size_t nheaders;
};

/* Parses a sip: or sips: URI (RFC 3261 §19.1, §25.1). Other schemes (tel:, ...) are
 * refused with FG_ERR_VERSION and a reason. The result and its strings live until
 * sip_uri_free. */
enum fg_err sip_uri_parse(const char *text, size_t len, struct sip_uri **out,
                          struct sip_error *err);
void sip_uri_free(struct sip_uri *uri);
/* Looks up a URI parameter by name (case-insensitive); NULL when absent. */
const struct sip_param *sip_uri_param(const struct sip_uri *uri, const char *name);

enum sip_method {
	SIP_METHOD_OTHER = 0,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_REGISTER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_INFO,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_REFER,
	SIP_METHOD_PUBLISH,
};
enum sip_method sip_method_from_name(const char *name, size_t len);
const char *sip_method_name(enum sip_method m); /* NULL for SIP_METHOD_OTHER */

/* Header field (name canonical long form for the known compact forms, RFC 3261 §7.3.3). */
struct sip_header {
	struct sip_str name;
	struct sip_str value; /* unfolded, surrounding whitespace removed */
	size_t offset;        /* where the header line starts in the parsed input */
};

struct sip_via {
	struct sip_str transport; /* "UDP", "TCP", "TLS", ... upper-cased as written */
	struct sip_str host;
	enum sip_host_type host_type;
	uint16_t port;
	struct sip_str branch; /* p == NULL when absent (RFC 2543 peers) */
	struct sip_str received;
	bool rport;
	struct sip_param params[SIP_MAX_PARAMS];
	size_t nparams;
};

/* name-addr / addr-spec with header parameters (From, To, Contact, Route, ...). */
struct sip_addr {
	struct sip_str display; /* unquoted and unescaped; p == NULL when absent */
	struct sip_uri uri;     /* scheme SIP_SCHEME_OTHER: only uri.text is set */
	struct sip_str tag;     /* p == NULL when absent */
	bool star;              /* Contact: * */
	struct sip_param params[SIP_MAX_PARAMS];
	size_t nparams;
};

struct sip_msg {
	bool is_request;
	/* request line */
	struct sip_str method;
	enum sip_method method_id;
	struct sip_uri ruri; /* scheme SIP_SCHEME_OTHER: only ruri.text is set */
	/* status line */
	unsigned status;
	struct sip_str reason;
	/* all header fields in order; comma lists are split one value per entry */
	struct sip_header headers[SIP_MAX_HEADERS];
	size_t nheaders;
	/* per known header (sip_msg.c's table): 1 + index of its first field, 0 when absent;
	 * filled at parse time so that lookups need no scan of the names */
	uint8_t known_first[SIP_KNOWN_HEADERS];
	uint64_t known_repeated; /* bit k: known header k has more than one field */
	/* the fields every transaction needs, parsed */
	struct sip_via *vias; /* nvias entries, in the arena */
	size_t nvias;
	struct sip_addr from, to;
	struct sip_str call_id;
	uint32_t cseq;
	struct sip_str cseq_method;
	enum sip_method cseq_method_id;
	int max_forwards;    /* -1 when absent */
	long content_length; /* -1 when absent */
	struct sip_str content_type;
	const uint8_t *body;
	size_t body_len;
	struct sip_arena *arena; /* owns every string above */
};

enum sip_parse_mode {
	SIP_PARSE_DATAGRAM = 0, /* body = rest of datagram if no Content-Length (RFC 3261 §18.3) */
	SIP_PARSE_STREAM,       /* Content-Length required (RFC 3261 §18.3, §20.14) */
};

/* Parses one message from buf. In datagram mode bytes after Content-Length are ignored
 * (RFC 4475 dblreq); *consumed (may be NULL) says how many bytes the message used.
 * Validates what RFC 3261 §8.1.1/§8.2.2/§20 require of a message: mandatory
 * headers, single-valued headers appearing once, scalar ranges, CSeq method.
 * The message owns copies of everything (buf may be freed at once); every string in
 * it lives until sip_msg_free. Errors: FG_ERR_PARSE (answer 400), FG_ERR_VERSION (505:
 * not SIP/2.0), FG_ERR_TOOBIG (a named limit: 413 or 513). A Request-URI with another
 * scheme parses (ruri.scheme == SIP_SCHEME_OTHER); the caller answers 416. */
enum fg_err sip_msg_parse(const uint8_t *buf, size_t len, enum sip_parse_mode mode,
                          struct sip_msg **out, size_t *consumed, struct sip_error *err);
void sip_msg_free(struct sip_msg *msg);
/* The idx-th value (0-based) of a header by name (long or compact form, any case). */
const struct sip_header *sip_msg_header(const struct sip_msg *msg, const char *name, size_t idx);
size_t sip_msg_header_count(const struct sip_msg *msg, const char *name);
/* Parses a name-addr header value (Contact, Route, Record-Route, ...) into out; strings
 * live in msg's arena. */
enum fg_err sip_msg_parse_addr(struct sip_msg *msg, const struct sip_header *h,
                               struct sip_addr *out, struct sip_error *err);

/* Stream framing (RFC 3261 §18.3): bytes in, one complete message out at a time. */
struct sip_stream;
enum sip_stream_event {
	SIP_STREAM_NEED_MORE = 0, /* nothing complete yet */
	SIP_STREAM_MESSAGE,       /* *msg set: caller frees it */
	SIP_STREAM_PING,          /* RFC 5626 §4.4.1 CRLFCRLF keepalive: answer CRLF */
	SIP_STREAM_PONG,          /* RFC 5626 §4.4.1 single CRLF answer to our ping */
};
struct sip_stream *sip_stream_new(void);
void sip_stream_free(struct sip_stream *s);
/* We sent a CRLFCRLF ping: the next lone CRLF is reported as PONG at once. */
void sip_stream_expect_pong(struct sip_stream *s);
/* Appends bytes (FG_ERR_TOOBIG past SIP_MAX_HEAD + SIP_MAX_BODY buffered). */
enum fg_err sip_stream_feed(struct sip_stream *s, const uint8_t *buf, size_t len);
/* The bytes buffered and not yet framed (after an error: the message that failed, for an
 * answer built from its raw head). Borrowed until the next call on the stream. */
void sip_stream_pending(const struct sip_stream *s, const uint8_t **data, size_t *len);
/* Returns the next event. A parse error is sticky: the stream cannot resync and the
 * caller closes the connection (after a 400 if it can build one). */
enum fg_err sip_stream_next(struct sip_stream *s, enum sip_stream_event *ev, struct sip_msg **msg,
                            struct sip_error *err);

/* ---- building messages (RFC 3261 §8.1.1, §8.2.6) ---- */

#define SIP_BRANCH_COOKIE "z9hG4bK" /* RFC 3261 §8.1.1.7 */

struct sip_request_spec {
	const char *method;        /* "MESSAGE" */
	const char *ruri;          /* "sip:bob@example.com" */
	const char *via_transport; /* "TCP" / "TLS" */
	const char *via_sent_by;   /* "gw.example.net:5061" */
	const char *branch_random; /* caller-provided randomness, appended to z9hG4bK */
	const char *from;          /* name-addr, "<sip:alice@example.net>" */
	const char *from_tag;
	const char *to;     /* name-addr */
	const char *to_tag; /* NULL outside a dialog */
	const char *call_id;
	uint32_t cseq;
	const char *contact;       /* may be NULL */
	const char *const *routes; /* route set, in order; may be NULL */
	size_t nroutes;
	const char *extra_headers; /* already formatted "Name: value\r\n" lines, may be NULL */
	const char *content_type;  /* NULL when no body */
	const uint8_t *body;
	size_t body_len;
};
#define SIP_MAX_FORWARDS_DEFAULT 70 /* RFC 3261 §8.1.1.6 */

/* Appends a request to out. */
enum fg_err sip_build_request(struct fg_buf *out, const struct sip_request_spec *spec);
/* Appends a response to req: copies every Via, From, To (adding to_tag when To has
 * none and status > 100), Call-ID and CSeq (RFC 3261 §8.2.6.2). extra_headers as above. */
enum fg_err sip_build_response(struct fg_buf *out, const struct sip_msg *req, unsigned status,
                               const char *reason, const char *to_tag, const char *extra_headers,
                               const char *content_type, const uint8_t *body, size_t body_len);
/* Default reason phrase for a status code ("Not Found"); "Unknown" otherwise. */
const char *sip_reason_phrase(unsigned status);

/* ---- transactions (RFC 3261 §17) ---- */

#define SIP_T1_MS 500  /* RFC 3261 §17.1.1.1: RTT estimate */
#define SIP_T2_MS 4000 /* max retransmit interval for non-INVITE requests and INVITE responses */
#define SIP_T4_MS 5000 /* max time a message stays in the network */

enum sip_txn_kind {
	SIP_TXN_INVITE_CLIENT = 0,
	SIP_TXN_NON_INVITE_CLIENT,
	SIP_TXN_INVITE_SERVER,
	SIP_TXN_NON_INVITE_SERVER,
};

enum sip_txn_state {
	SIP_TXN_CALLING = 0, /* INVITE client */
	SIP_TXN_TRYING,      /* non-INVITE client and server */
	SIP_TXN_PROCEEDING,
	SIP_TXN_COMPLETED,
	SIP_TXN_CONFIRMED, /* INVITE server */
	SIP_TXN_ACCEPTED,  /* INVITE client and server after a 2xx (RFC 6026 §7.1, §7.2) */
	SIP_TXN_TERMINATED,
};

/* What the caller must do after each call into a transaction. */
enum sip_txn_action_kind {
	SIP_TXN_ACT_SEND = 0,  /* send bytes (the stored request or response) */
	SIP_TXN_ACT_DELIVER,   /* pass the response/request to the transaction user */
	SIP_TXN_ACT_TIMEOUT,   /* tell the TU the transaction timed out (Timer B/F/H) */
	SIP_TXN_ACT_TERMINATE, /* the transaction is over: free it */
};
struct sip_txn_action {
	enum sip_txn_action_kind kind;
	const uint8_t *bytes; /* SEND: borrowed until the next call on the txn (a final
	                       * response on a reliable non-INVITE server transaction is
	                       * the caller's own rsp bytes: the txn ends, nothing is kept) */
	size_t len;
	const struct sip_msg *msg; /* DELIVER: borrowed (the message passed in) */
};
#define SIP_TXN_MAX_ACTIONS 4
struct sip_txn_actions {
	struct sip_txn_action act[SIP_TXN_MAX_ACTIONS];
	size_t n;
};

struct sip_txn;
/* Client transaction: takes a copy of the request bytes (built by sip_build_request; the
 * branch is read from its top Via) and sends them (action SEND).
 * reliable: the transport is TCP/TLS (no retransmissions, zero wait timers). */
enum fg_err sip_txn_client_new(enum sip_method method, const uint8_t *req, size_t len,
                               bool reliable, int64_t now_ms, struct sip_txn **out,
                               struct sip_txn_actions *acts);
/* Server transaction for a received request; delivers it to the TU. */
enum fg_err sip_txn_server_new(const struct sip_msg *req, bool reliable, int64_t now_ms,
                               struct sip_txn **out, struct sip_txn_actions *acts);
void sip_txn_free(struct sip_txn *t);
/* Client: a response that matched this transaction (sip_txn_match_response). */
enum fg_err sip_txn_on_response(struct sip_txn *t, const struct sip_msg *rsp, int64_t now_ms,
                                struct sip_txn_actions *acts);
/* Server: the TU sends a response (bytes are copied for retransmission, except a final
 * response that ends a reliable non-INVITE transaction at once: the SEND action then
 * points at rsp, which must stay valid while the caller runs the actions). */
enum fg_err sip_txn_send_response(struct sip_txn *t, unsigned status, const uint8_t *rsp,
                                  size_t len, int64_t now_ms, struct sip_txn_actions *acts);
/* Server: a retransmitted request or an ACK matched this transaction. */
enum fg_err sip_txn_on_request(struct sip_txn *t, const struct sip_msg *req, int64_t now_ms,
                               struct sip_txn_actions *acts);
/* Fires due timers. Call when now_ms >= sip_txn_next_timer(t). */
enum fg_err sip_txn_on_timer(struct sip_txn *t, int64_t now_ms, struct sip_txn_actions *acts);
/* Absolute time of the next timer, or INT64_MAX when none is armed. */
int64_t sip_txn_next_timer(const struct sip_txn *t);
enum sip_txn_state sip_txn_state(const struct sip_txn *t);
enum sip_txn_kind sip_txn_kind(const struct sip_txn *t);
const char *sip_txn_state_name(enum sip_txn_state s);

/* RFC 3261 §17.1.3: does a response belong to the client transaction (branch, method)? */
bool sip_txn_match_response(const struct sip_txn *t, const struct sip_msg *rsp);
/* Client: the top Via branch of its request, the key responses match on (RFC 3261
 * §17.1.3), for indexing transactions; {NULL, 0} for a server transaction. */
struct sip_str sip_txn_branch(const struct sip_txn *t);
/* RFC 3261 §17.2.3: does a request belong to the server transaction (branch, sent-by,
 * method; ACK matches INVITE)? Falls back to RFC 2543 matching when no magic cookie. */
bool sip_txn_match_request(const struct sip_txn *t, const struct sip_msg *req);

/* ---- dialogs (RFC 3261 §12, RFC 6665 §4.1.3) ---- */

struct sip_dialog {
	char *call_id;
	char *local_tag;
	char *remote_tag;
	char *local_uri; /* name-addr as in From (UAC) */
	char *remote_uri;
	char *remote_target;          /* Contact URI of the peer */
	char *routes[SIP_MAX_ROUTES]; /* route set, "<sip:...;lr>" */
	size_t nroutes;
	uint32_t local_cseq;
	uint32_t remote_cseq; /* 0 when no request received yet */
	bool secure;
	bool early;
};
/* UAC side: from the request we sent (its From tag, CSeq, Call-ID) and a 2xx/1xx with
 * To tag, or a NOTIFY for our SUBSCRIBE (RFC 6665 §4.1.3: dialog from NOTIFY). */
enum fg_err sip_dialog_new_uac(const struct sip_msg *req, const struct sip_msg *rsp_or_notify,
                               struct sip_dialog **out);
/* UAS side: from a received INVITE/SUBSCRIBE and the local tag we put in the answer. */
enum fg_err sip_dialog_new_uas(const struct sip_msg *req, const char *local_tag,
                               struct sip_dialog **out);
void sip_dialog_free(struct sip_dialog *d);
/* UAC: a 2xx for the request that created an early dialog confirms it; the route set
 * and remote target are taken again from the 2xx (RFC 3261 §12.1.2, §13.2.2.4). */
enum fg_err sip_dialog_confirm(struct sip_dialog *d, const struct sip_msg *rsp);
/* Does an in-dialog request belong to this dialog (Call-ID, tags)? Checks CSeq order
 * (RFC 3261 §12.2.2: a lower CSeq gets 500) and updates remote_cseq. */
enum fg_err sip_dialog_on_request(struct sip_dialog *d, const struct sip_msg *req);
/* Builds an in-dialog request (RFC 3261 §12.2.1.1): next local CSeq (ACK and CANCEL
 * callers pass reuse_cseq), Request-URI = remote target, Route = route set. */
enum fg_err sip_dialog_build_request(struct sip_dialog *d, struct fg_buf *out, const char *method,
                                     const char *via_transport, const char *via_sent_by,
                                     const char *branch_random, bool reuse_cseq,
                                     const char *extra_headers, const char *content_type,
                                     const uint8_t *body, size_t body_len);

#endif
