/* webui api: internals shared by the console's JSON API files (api*.c) and their tests. */
#ifndef FEDGW_WEBUI_API_H
#define FEDGW_WEBUI_API_H

#include "base/base.h"
#include "db/db.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Request body caps: JSON requests are small; a CA bundle (~220 KiB for the Mozilla set)
 * with room to spare fits in the certificate upload cap. */
#define WEBUI_BODY_MAX_JSON (64 * 1024)
#define WEBUI_BODY_MAX_CERT (1024 * 1024)
/* A backup file uploaded for restore: an appliance store is a few MiB compacted; 64 MiB
 * leaves room for years of log and audit records (the CLI takes up to 1 GiB). */
#define WEBUI_BODY_MAX_BACKUP (64 * 1024 * 1024)
/* A declared length this far over every cap is refused before reading a byte. */
#define WEBUI_BODY_MAX_DECLARED (8 * 1024 * 1024)

/* Login throttling per client address: 3 free failures, then 1 s doubling up to 60 s;
 * an address is forgotten 15 minutes after its last failure. 1024 addresses bound the
 * table (~100 KiB); when full, the entry with the oldest failure is evicted. */
#define WEBUI_THROTTLE_SOURCES        1024
#define WEBUI_THROTTLE_FREE_FAILURES  3
#define WEBUI_THROTTLE_FIRST_DELAY_MS 1000
#define WEBUI_THROTTLE_MAX_DELAY_MS   60000
#define WEBUI_THROTTLE_WINDOW_MS      (15 * 60 * 1000)

/* A session's last_seen is written at most this often (saves a store write per request). */
#define WEBUI_SESSION_TOUCH_MS 30000
/* Lists return at most this many entries per page. */
#define WEBUI_LIST_LIMIT_MAX     500
#define WEBUI_LIST_LIMIT_DEFAULT 100
/* Path parameters (admin names, certificate ids) are short; longer ones match nothing. */
#define WEBUI_PARAM_MAX 128

/* An admin name field is read up to this size; the name rules then allow 64 characters,
 * and the larger read lets the answer say "too long" rather than "wrong type". */
#define WEBUI_NAME_FIELD_MAX 256

#define WEBUI_COOKIE_NAME "fedgw_session"
/* Our Set-Cookie value: the name, 64 hex chars and the attributes. */
#define WEBUI_SET_COOKIE_MAX 256
/* Cookie token: 32 random bytes as 64 hex chars; the store keeps only its SHA-256. */
#define WEBUI_TOKEN_BYTES 32
#define WEBUI_TOKEN_HEX   (2 * WEBUI_TOKEN_BYTES + 1)

/* ---- pure helpers (api_util.c): no I/O, no clock, unit tested ---------------------- */

/* "2026-11-21T20:05:42Z" (RFC 3339 UTC). */
void webui__iso_time(char out[32], int64_t ms);
/* The ISO string, or JSON null when ms is 0 (never happened). New reference. */
json_t *webui__json_time(int64_t ms);
/* Constant-time comparison of the session's CSRF token with the header's. */
bool webui__csrf_equal(const char *expected, const char *given);
/* True if an Origin header ("https://host[:port]") names the same authority as the Host
 * header (RFC 6454 §7; case-insensitive host, default port 443 for https). */
bool webui__origin_matches_host(const char *origin, const char *host);
/* Cookie token (hex) -> session id (hex SHA-256 of the token bytes). False if the token
 * is not exactly 64 hex digits. */
bool webui__session_id_from_token(const char *token_hex, char id[65]);
/* A new random token, its session id and a CSRF token. */
void webui__session_new(char token[WEBUI_TOKEN_HEX], char id[65], char csrf[65]);

enum webui_session_state {
	WEBUI_SESSION_FRESH,   /* valid, last_seen recent enough */
	WEBUI_SESSION_TOUCH,   /* valid, write last_seen now (WEBUI_SESSION_TOUCH_MS passed) */
	WEBUI_SESSION_EXPIRED, /* idle longer than idle_ms (<= 0: the 1800 s default) */
};
enum webui_session_state webui__session_state(int64_t last_seen_ms, int64_t now_ms,
                                              int64_t idle_ms);

struct webui_throttle;
struct webui_throttle *webui__throttle_new(void);
void webui__throttle_free(struct webui_throttle *t);
/* True if a login attempt from addr may proceed now; otherwise *retry_after_s gets the
 * seconds to wait (at least 1). */
bool webui__throttle_check(struct webui_throttle *t, const char *addr, int64_t now_ms,
                           unsigned *retry_after_s);
void webui__throttle_fail(struct webui_throttle *t, const char *addr, int64_t now_ms);
void webui__throttle_success(struct webui_throttle *t, const char *addr);
size_t webui__throttle_count(const struct webui_throttle *t);

/* A client-caused error with everything the answer needs. */
struct webui_error {
	unsigned status;   /* 400, 401, 403, 404, 409, 413, 415, 422, 429 ... */
	const char *code;  /* machine-readable: "bad_json", "invalid", ... (static) */
	char message[320]; /* plain words */
	const char *field; /* request field concerned, or NULL (static or borrowed) */
	const char *fix;   /* what to do (static) */
};

void webui__error_set(struct webui_error *e, unsigned status, const char *code, const char *field,
                      const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* {"error":{"code","message","field","fix"}}. New reference (NULL on no memory). */
json_t *webui__error_json(const struct webui_error *e);

/* Parses a request body that must be one JSON object; 400 "bad_json" otherwise, with
 * jansson's line and column (the offending text is not echoed). */
bool webui__body_parse(const uint8_t *data, size_t len, json_t **out, struct webui_error *e);
/* Gets string field `name` of obj: absent -> NULL (an error if required), wrong type,
 * empty (when required) or longer than max_bytes -> 400/422. *out is borrowed from obj. */
bool webui__field_string(json_t *obj, const char *name, bool required, size_t max_bytes,
                         const char **out, struct webui_error *e);
/* Strict unsigned query parameter: NULL/"" -> def; junk or > max -> 400 "bad_parameter". */
bool webui__query_uint(const char *value, const char *name, uint64_t max, uint64_t def,
                       uint64_t *out, struct webui_error *e);
/* Matches an API path (below /api/v1/) against a pattern whose "*" segments match any
 * one non-empty segment (copied into params, at most 2, each under WEBUI_PARAM_MAX). */
bool webui__path_match(const char *pattern, const char *path, char params[2][WEBUI_PARAM_MAX]);
/* A JSON string of s even when s is not valid UTF-8 (bytes >= 0x80 become '?' then);
 * JSON null for NULL. New reference. */
json_t *webui__json_text(const char *s);
/* True if a Content-Type header value is application/json (parameters allowed). */
bool webui__is_json_type(const char *content_type);

/* ---- request handling (api.c), shared by the endpoint files --------------------------- */
#ifndef WEBUI_API_PURE_ONLY
#include "webui/webui_internal.h"

#include <uv.h>

struct webui_job;

/* One HTTP request, from libmicrohttpd's first callback to its completion. */
struct webui_req {
	struct webui *w;
	struct MHD_Connection *conn;
	const char *method; /* borrowed from MHD for the request's lifetime */
	char *url;          /* owned copy (decoded path) */
	bool is_api;
	bool in_handler; /* true while inside webui_http_handler */
	struct fg_buf body;
	size_t body_max;
	bool body_too_big;
	char source[DB_ADDR_MAX];        /* client IP address */
	char params[2][WEBUI_PARAM_MAX]; /* path parameters ({name}, {id}) */
	bool authed;
	struct db_session session;    /* valid when authed */
	struct webui_job *job;        /* work running on the thread pool, or NULL */
	struct MHD_Response *pending; /* answer made while suspended */
	unsigned pending_status;
	bool answered;
};

/* Work on the libuv thread pool (Argon2id, key generation) with the connection suspended. */
typedef void (*webui_job_run_fn)(struct webui_job *job); /* worker thread: no store */
typedef void (*webui_job_done_fn)(struct webui_job *job, struct webui_req *req); /* loop */

struct webui_job {
	uv_work_t work;
	struct webui_api *api;
	struct webui_req *req; /* NULL once the request went away */
	webui_job_run_fn run;
	webui_job_done_fn done;
	/* inputs and results; the passwords are wiped before the job is freed */
	char name[DB_NAME_MAX];
	char *password;
	char *new_password;
	char stored_hash[DB_HASH_MAX];
	char hash[DB_HASH_MAX];
	bool ok;
	enum fg_err err;
	json_t *input;  /* parsed body for jobs that need it (owned) */
	json_t *output; /* result object (owned) */
	char *err_msg;  /* owned */
	/* Endpoint-specific state (buffers, keys), freed with ext_free when the job ends,
	 * also when the request went away before done ran. */
	void *ext;
	void (*ext_free)(void *ext);
};

struct webui_api {
	struct webui_throttle *throttle;
	unsigned pending_jobs;
	bool orphaned; /* the console stopped; the last job frees this */
};

/* Answers: the security headers are added; a response made while the connection is
 * suspended is kept and sent on resume. They take ownership of json/resp. */
enum MHD_Result webui__reply(struct webui_req *req, unsigned status, struct MHD_Response *resp);
enum MHD_Result webui__reply_json(struct webui_req *req, unsigned status, json_t *json);
enum MHD_Result webui__reply_error(struct webui_req *req, const struct webui_error *e);
enum MHD_Result webui__reply_status(struct webui_req *req, unsigned status);
struct MHD_Response *webui__json_response(json_t *json);
enum MHD_Result webui__fail(struct webui_req *req, unsigned status, const char *code,
                            const char *field, const char *fix, const char *message);

/* Parses the request body as a JSON object; answers the error itself on failure. */
bool webui__req_json(struct webui_req *req, json_t **out);
/* Starts job on the thread pool and suspends the connection. */
enum MHD_Result webui__job_start(struct webui_req *req, struct webui_job *job);
struct webui_job *webui__job_new(struct webui_req *req);
struct webui_api *webui__api_get(struct webui *w);
/* Makes a session for admin, with Set-Cookie on resp; false on store failure. */
bool webui__session_create(struct webui_req *req, const char *admin, char csrf[65],
                           char cookie[WEBUI_SET_COOKIE_MAX]);

/* A configuration refusal (core/xmppconf, core/sipconf) as the API's error answer:
 * 404/409/413/422 with message, field and fix; anything else a logged 500. */
struct conf_err;
enum MHD_Result webui__conf_failed(struct webui_req *req, enum fg_err err,
                                   const struct conf_err *ce);
/* The shapes of the xmppconf/sipconf operations behind one route each: the body in, a
 * record key (the route's parameter) and the body, or the key alone. */
typedef enum fg_err (*webui_conf_body_fn)(struct db *db, const char *actor, const char *source,
                                          json_t *in, json_t **out, struct conf_err *e);
typedef enum fg_err (*webui_conf_edit_fn)(struct db *db, const char *actor, const char *source,
                                          const char *key, json_t *in, json_t **out,
                                          struct conf_err *e);
typedef enum fg_err (*webui_conf_delete_fn)(struct db *db, const char *actor, const char *source,
                                            const char *key, json_t **out, struct conf_err *e);
/* Runs one such operation for the session's admin and answers with its JSON (status on
 * success) or the refusal (webui__conf_failed). */
enum MHD_Result webui__conf_body(struct webui_req *req, webui_conf_body_fn fn, unsigned status);
enum MHD_Result webui__conf_edit(struct webui_req *req, webui_conf_edit_fn fn);
enum MHD_Result webui__conf_delete(struct webui_req *req, webui_conf_delete_fn fn);

/* Validate connection runs the page polls (api_validate.c), shared by XMPP and SIP. The
 * engine's check runs on the console's loop; its handle is freed with handle_free once it
 * is done (lazily, on a later request) and the steps stay. */
struct webui_validation {
	bool used;
	struct webui *w;
	char kind[8]; /* "xmpp", "sip": ids are looked up per kind */
	char id[33];  /* 16 random bytes as 32 hex characters */
	char domain[DB_DOMAIN_MAX];
	uint64_t started_seq; /* for dropping the oldest */
	bool done, ok;
	json_t *steps;
	void *handle; /* the engine's validation, set by the caller after starting it */
	void (*handle_free)(void *handle);
};
/* A fresh slot (the oldest is dropped when all are used). */
struct webui_validation *webui__validation_new(struct webui_req *req, const char *kind,
                                               const char *domain);
/* Releases a slot whose engine check could not start (err) and answers: 503 busy for
 * FG_ERR_AGAIN, else 500. */
enum MHD_Result webui__validation_start_failed(struct webui_req *req, struct webui_validation *v,
                                               enum fg_err err);
/* GET .../validate/{id}: the run's steps, or 404. */
enum MHD_Result webui__validation_reply(struct webui_req *req, const char *kind);
/* The engines' s2s_step_cb / s2s_done_cb, ctx the slot: a step's end replaces its start. */
struct s2s_step;
void webui__validation_step_cb(void *ctx, const struct s2s_step *step);
void webui__validation_done_cb(void *ctx, bool ok);

/* Endpoint handlers (api_auth.c, api_status.c, api_admins.c, api_certs.c). */
enum MHD_Result webui__api_setup_get(struct webui_req *req);
enum MHD_Result webui__api_setup_post(struct webui_req *req);
enum MHD_Result webui__api_login(struct webui_req *req);
enum MHD_Result webui__api_logout(struct webui_req *req);
enum MHD_Result webui__api_session(struct webui_req *req);
enum MHD_Result webui__api_status(struct webui_req *req);
enum MHD_Result webui__api_logs(struct webui_req *req);
enum MHD_Result webui__api_logs_download(struct webui_req *req);
enum MHD_Result webui__api_logs_clear(struct webui_req *req);
enum MHD_Result webui__api_audit(struct webui_req *req);
enum MHD_Result webui__api_admins_list(struct webui_req *req);
enum MHD_Result webui__api_admins_add(struct webui_req *req);
enum MHD_Result webui__api_admins_delete(struct webui_req *req);
enum MHD_Result webui__api_admins_password(struct webui_req *req);
enum MHD_Result webui__api_certs_list(struct webui_req *req);
enum MHD_Result webui__api_certs_show(struct webui_req *req);
enum MHD_Result webui__api_certs_pem(struct webui_req *req);
enum MHD_Result webui__api_certs_csr(struct webui_req *req);
enum MHD_Result webui__api_certs_selfsigned(struct webui_req *req);
enum MHD_Result webui__api_certs_import(struct webui_req *req);
enum MHD_Result webui__api_certs_ca(struct webui_req *req);
enum MHD_Result webui__api_certs_delete(struct webui_req *req);
enum MHD_Result webui__api_console_cert(struct webui_req *req);
/* XMPP configuration (api_xmpp.c). */
enum MHD_Result webui__api_xmpp_settings_get(struct webui_req *req);
enum MHD_Result webui__api_xmpp_settings_put(struct webui_req *req);
enum MHD_Result webui__api_xmpp_secret(struct webui_req *req);
enum MHD_Result webui__api_xmpp_domains_list(struct webui_req *req);
enum MHD_Result webui__api_xmpp_domains_add(struct webui_req *req);
enum MHD_Result webui__api_xmpp_domains_put(struct webui_req *req);
enum MHD_Result webui__api_xmpp_domains_delete(struct webui_req *req);
enum MHD_Result webui__api_xmpp_allow_list(struct webui_req *req);
enum MHD_Result webui__api_xmpp_allow_add(struct webui_req *req);
enum MHD_Result webui__api_xmpp_allow_put(struct webui_req *req);
enum MHD_Result webui__api_xmpp_allow_delete(struct webui_req *req);
enum MHD_Result webui__api_xmpp_policy_get(struct webui_req *req);
enum MHD_Result webui__api_xmpp_policy_put(struct webui_req *req);
enum MHD_Result webui__api_xmpp_rules_add(struct webui_req *req);
enum MHD_Result webui__api_xmpp_rules_put(struct webui_req *req);
enum MHD_Result webui__api_xmpp_rules_delete(struct webui_req *req);
enum MHD_Result webui__api_xmpp_peers(struct webui_req *req);
enum MHD_Result webui__api_xmpp_validate_start(struct webui_req *req);
enum MHD_Result webui__api_xmpp_validate_get(struct webui_req *req);
/* SIP configuration (api_sip.c). */
enum MHD_Result webui__api_sip_settings_get(struct webui_req *req);
enum MHD_Result webui__api_sip_settings_put(struct webui_req *req);
enum MHD_Result webui__api_sip_domains_list(struct webui_req *req);
enum MHD_Result webui__api_sip_domains_get(struct webui_req *req);
enum MHD_Result webui__api_sip_domains_add(struct webui_req *req);
enum MHD_Result webui__api_sip_domains_put(struct webui_req *req);
enum MHD_Result webui__api_sip_domains_delete(struct webui_req *req);
enum MHD_Result webui__api_sip_validate_start(struct webui_req *req);
enum MHD_Result webui__api_sip_validate_get(struct webui_req *req);
enum MHD_Result webui__api_backup(struct webui_req *req);
enum MHD_Result webui__api_restore(struct webui_req *req);
#endif

#endif
