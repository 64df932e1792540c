/* webui api: the libmicrohttpd access handler: request bodies, routing of /api/v1 (JSON,
 * RFC 8259), sessions and CSRF checks, security headers, and the embedded static console. */
#include "webui/api.h"
#include "assets/assets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define SUBSYS "console"

/* ---- answers -------------------------------------------------------------------------- */

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'; form-action 'self'";

static void add_security_headers(struct MHD_Response *resp, bool is_api)
{
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	if (is_api)
		MHD_add_response_header(resp, "Cache-Control", "no-store");
}

enum MHD_Result webui__reply(struct webui_req *req, unsigned status, struct MHD_Response *resp)
{
	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	add_security_headers(resp, req->is_api);
	req->answered = true;
	if (!req->in_handler) {
		/* Made after a thread-pool job: kept until the connection is resumed. */
		if (req->pending)
			MHD_destroy_response(req->pending);
		req->pending = resp;
		req->pending_status = status;
		return MHD_YES;
	}
	enum MHD_Result rc = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

struct MHD_Response *webui__json_response(json_t *json)
{
	if (!json)
		return NULL;
	char *text = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (!text)
		return NULL;
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	return resp;
}

enum MHD_Result webui__reply_json(struct webui_req *req, unsigned status, json_t *json)
{
	return webui__reply(req, status, webui__json_response(json));
}

enum MHD_Result webui__reply_error(struct webui_req *req, const struct webui_error *e)
{
	return webui__reply_json(req, e->status, webui__error_json(e));
}

enum MHD_Result webui__fail(struct webui_req *req, unsigned status, const char *code,
                            const char *field, const char *fix, const char *message)
{
	struct webui_error e;
	webui__error_set(&e, status, code, field, fix, "%s", message);
	return webui__reply_error(req, &e);
}

enum MHD_Result webui__reply_status(struct webui_req *req, unsigned status)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	return webui__reply(req, status, resp);
}

/* ---- request state -------------------------------------------------------------------- */

struct webui_api *webui__api_get(struct webui *w)
{
	if (!w->api) {
		struct webui_api *api = calloc(1, sizeof(*api));
		if (!api)
			return NULL;
		api->throttle = webui__throttle_new();
		if (!api->throttle) {
			free(api);
			return NULL;
		}
		w->api = api;
	}
	return w->api;
}

static void api_really_free(struct webui_api *api)
{
	webui__throttle_free(api->throttle);
	free(api);
}

void webui__api_free(struct webui_api *api)
{
	if (!api)
		return;
	if (api->pending_jobs > 0) {
		/* Jobs still run on the pool; the last one to finish frees the state. */
		api->orphaned = true;
		return;
	}
	api_really_free(api);
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void job_free(struct webui_job *job)
{
	wipe_free(job->password);
	wipe_free(job->new_password);
	explicit_bzero(job->hash, sizeof(job->hash));
	explicit_bzero(job->stored_hash, sizeof(job->stored_hash));
	json_decref(job->input);
	json_decref(job->output);
	free(job->err_msg);
	if (job->ext_free)
		job->ext_free(job->ext);
	free(job);
}

struct webui_job *webui__job_new(struct webui_req *req)
{
	struct webui_job *job = calloc(1, sizeof(*job));
	if (job)
		job->work.data = job;
	return job;
}

static void job_work_cb(uv_work_t *work)
{
	struct webui_job *job = work->data;
	job->run(job);
}

static void job_after_cb(uv_work_t *work, int status)
{
	struct webui_job *job = work->data;
	struct webui_api *api = job->api;
	struct webui_req *req = job->req;
	api->pending_jobs--;
	if (api->orphaned) {
		/* The console stopped meanwhile: nobody to answer. */
		job_free(job);
		if (api->pending_jobs == 0)
			api_really_free(api);
		return;
	}
	if (req) {
		req->job = NULL;
		if (status == 0)
			job->done(job, req);
		if (!req->answered)
			webui__fail(req, 500, "internal", NULL, "Try again; see the log.",
			            "The request could not be completed.");
		MHD_resume_connection(req->conn);
		webui_kick(req->w);
	}
	job_free(job);
}

enum MHD_Result webui__job_start(struct webui_req *req, struct webui_job *job)
{
	struct webui_api *api = webui__api_get(req->w);
	if (!api) {
		job_free(job);
		return MHD_NO;
	}
	job->api = api;
	job->req = req;
	int rc = uv_queue_work(req->w->loop, &job->work, job_work_cb, job_after_cb);
	if (rc != 0) {
		FG_LOGE(SUBSYS, "cannot queue work: %s", uv_strerror(rc));
		job_free(job);
		return webui__fail(req, 503, "busy", NULL, "Try again in a moment.",
		                   "The console is busy.");
	}
	api->pending_jobs++;
	req->job = job;
	MHD_suspend_connection(req->conn);
	return MHD_YES;
}

bool webui__req_json(struct webui_req *req, json_t **out)
{
	struct webui_error e;
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
	if (!webui__is_json_type(ct)) {
		webui__fail(req, 415, "content_type", NULL,
		            "Send the header Content-Type: application/json.",
		            "The request body must be JSON (Content-Type: application/json).");
		return false;
	}
	if (!webui__body_parse(req->body.data, req->body.len, out, &e)) {
		webui__reply_error(req, &e);
		return false;
	}
	return true;
}

/* ---- sessions ------------------------------------------------------------------------- */

struct session_put_ctx {
	const struct db_session *s;
	int64_t expire_before_ms;
};

static enum fg_err session_put_fn(struct db_txn *txn, void *ctx)
{
	struct session_put_ctx *c = ctx;
	size_t removed = 0;
	enum fg_err err = db_session_expire(txn, c->expire_before_ms, &removed);
	if (err)
		return err;
	return db_session_put(txn, c->s);
}

bool webui__session_create(struct webui_req *req, const char *admin, char csrf[65],
                           char cookie[WEBUI_SET_COOKIE_MAX])
{
	char token[WEBUI_TOKEN_HEX];
	struct db_session s;
	int64_t now = fg_now_ms();
	memset(&s, 0, sizeof(s));
	webui__session_new(token, s.id, s.csrf);
	fg_strlcpy(s.admin, admin, sizeof(s.admin));
	fg_strlcpy(s.source, req->source, sizeof(s.source));
	s.created_ms = now;
	s.last_seen_ms = now;
	struct session_put_ctx c = {&s, now - req->w->cfg.session_idle_ms};
	enum fg_err err = db_write(req->w->db, session_put_fn, &c);
	if (err) {
		FG_LOGE(SUBSYS, "cannot store console session: %s", fg_strerror(err));
		explicit_bzero(token, sizeof(token));
		return false;
	}
	fg_strlcpy(csrf, s.csrf, 65);
	snprintf(cookie, WEBUI_SET_COOKIE_MAX,
	         WEBUI_COOKIE_NAME "=%s; HttpOnly; Secure; SameSite=Strict; Path=/", token);
	explicit_bzero(token, sizeof(token));
	req->authed = true;
	req->session = s;
	return true;
}

struct session_touch_ctx {
	const char *id;
	int64_t now_ms;
	bool expired;
};

static enum fg_err session_touch_fn(struct db_txn *txn, void *ctx)
{
	struct session_touch_ctx *c = ctx;
	struct db_session s;
	enum fg_err err = db_session_get(txn, c->id, &s);
	if (err)
		return err;
	if (c->expired)
		return db_session_del(txn, c->id);
	s.last_seen_ms = c->now_ms;
	return db_session_put(txn, &s);
}

/* Looks up the session named by the cookie; false when there is none or it is idle. */
static bool session_load(struct webui_req *req)
{
	const char *token =
	    MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, WEBUI_COOKIE_NAME);
	char id[65];
	struct db_txn *txn = NULL;
	if (!webui__session_id_from_token(token, id))
		return false;
	if (db_txn_begin(req->w->db, &txn) != FG_OK)
		return false;
	enum fg_err err = db_session_get(txn, id, &req->session);
	db_txn_end(txn);
	if (err)
		return false;
	int64_t now = fg_now_ms();
	enum webui_session_state state =
	    webui__session_state(req->session.last_seen_ms, now, req->w->cfg.session_idle_ms);
	struct session_touch_ctx c = {id, now, false};
	if (state == WEBUI_SESSION_EXPIRED) {
		c.expired = true;
		(void)db_write(req->w->db, session_touch_fn, &c);
		return false;
	}
	if (state == WEBUI_SESSION_TOUCH) {
		if (db_write(req->w->db, session_touch_fn, &c) == FG_OK)
			req->session.last_seen_ms = now;
	}
	req->authed = true;
	return true;
}

/* ---- routing -------------------------------------------------------------------------- */

typedef enum MHD_Result (*route_fn)(struct webui_req *req);

enum route_flags {
	ROUTE_PUBLIC = 1, /* no session needed */
	ROUTE_CERT = 2,   /* certificate upload: the larger body cap */
	ROUTE_BACKUP = 4, /* backup file upload: the largest body cap */
};

struct route {
	const char *method;
	const char *pattern; /* below /api/v1; "*" matches one path segment */
	unsigned flags;
	route_fn fn;
};

static const struct route routes[] = {
    {"GET", "setup", ROUTE_PUBLIC, webui__api_setup_get},
    {"POST", "setup", ROUTE_PUBLIC, webui__api_setup_post},
    {"POST", "login", ROUTE_PUBLIC, webui__api_login},
    {"POST", "logout", 0, webui__api_logout},
    {"GET", "session", 0, webui__api_session},
    {"GET", "status", 0, webui__api_status},
    {"GET", "logs", 0, webui__api_logs},
    {"DELETE", "logs", 0, webui__api_logs_clear},
    {"GET", "logs/download", 0, webui__api_logs_download},
    {"GET", "audit", 0, webui__api_audit},
    {"GET", "admins", 0, webui__api_admins_list},
    {"POST", "admins", 0, webui__api_admins_add},
    {"DELETE", "admins/*", 0, webui__api_admins_delete},
    {"POST", "admins/*/password", 0, webui__api_admins_password},
    {"GET", "certificates", 0, webui__api_certs_list},
    {"POST", "certificates/csr", ROUTE_CERT, webui__api_certs_csr},
    {"POST", "certificates/selfsigned", ROUTE_CERT, webui__api_certs_selfsigned},
    {"POST", "certificates/import", ROUTE_CERT, webui__api_certs_import},
    {"POST", "certificates/ca", ROUTE_CERT, webui__api_certs_ca},
    {"GET", "certificates/*", 0, webui__api_certs_show},
    {"DELETE", "certificates/*", 0, webui__api_certs_delete},
    {"GET", "certificates/*/pem", 0, webui__api_certs_pem},
    {"PUT", "console/certificate", 0, webui__api_console_cert},
    {"GET", "xmpp/settings", 0, webui__api_xmpp_settings_get},
    {"PUT", "xmpp/settings", 0, webui__api_xmpp_settings_put},
    {"POST", "xmpp/settings/dialback-secret", 0, webui__api_xmpp_secret},
    {"GET", "xmpp/domains", 0, webui__api_xmpp_domains_list},
    {"POST", "xmpp/domains", 0, webui__api_xmpp_domains_add},
    {"PUT", "xmpp/domains/*", 0, webui__api_xmpp_domains_put},
    {"DELETE", "xmpp/domains/*", 0, webui__api_xmpp_domains_delete},
    {"GET", "xmpp/allow", 0, webui__api_xmpp_allow_list},
    {"POST", "xmpp/allow", 0, webui__api_xmpp_allow_add},
    {"PUT", "xmpp/allow/*", 0, webui__api_xmpp_allow_put},
    {"DELETE", "xmpp/allow/*", 0, webui__api_xmpp_allow_delete},
    {"GET", "xmpp/policy", 0, webui__api_xmpp_policy_get},
    {"PUT", "xmpp/policy", 0, webui__api_xmpp_policy_put},
    {"POST", "xmpp/policy/rules", 0, webui__api_xmpp_rules_add},
    {"PUT", "xmpp/policy/rules/*", 0, webui__api_xmpp_rules_put},
    {"DELETE", "xmpp/policy/rules/*", 0, webui__api_xmpp_rules_delete},
    {"GET", "xmpp/peers", 0, webui__api_xmpp_peers},
    {"POST", "xmpp/validate", 0, webui__api_xmpp_validate_start},
    {"GET", "xmpp/validate/*", 0, webui__api_xmpp_validate_get},
    {"GET", "sip/settings", 0, webui__api_sip_settings_get},
    {"PUT", "sip/settings", 0, webui__api_sip_settings_put},
    {"GET", "sip/domains", 0, webui__api_sip_domains_list},
    {"POST", "sip/domains", 0, webui__api_sip_domains_add},
    {"GET", "sip/domains/*", 0, webui__api_sip_domains_get},
    {"PUT", "sip/domains/*", 0, webui__api_sip_domains_put},
    {"DELETE", "sip/domains/*", 0, webui__api_sip_domains_delete},
    {"POST", "sip/validate", 0, webui__api_sip_validate_start},
    {"GET", "sip/validate/*", 0, webui__api_sip_validate_get},
    {"POST", "backup", 0, webui__api_backup},
    {"POST", "restore", ROUTE_BACKUP, webui__api_restore},
};

#define API_PREFIX "/api/v1/"

static const struct route *route_find(const char *url, const char *method, char *allow,
                                      size_t allowsize, char params[2][WEBUI_PARAM_MAX])
{
	const char *path = url + strlen(API_PREFIX);
	bool any = false;
	allow[0] = '\0';
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char tmp[2][WEBUI_PARAM_MAX];
		if (!webui__path_match(routes[i].pattern, path, tmp))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			memcpy(params, tmp, sizeof(tmp));
			return &routes[i];
		}
		if (strstr(allow, routes[i].method) == NULL) {
			size_t len = strlen(allow);
			snprintf(allow + len, allowsize - len, "%s%s", any ? ", " : "",
			         routes[i].method);
			any = true;
		}
	}
	return NULL;
}

static bool is_state_changing(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static enum MHD_Result api_dispatch(struct webui_req *req)
{
	char allow[64];
	const struct route *r =
	    route_find(req->url, req->method, allow, sizeof(allow), req->params);
	if (!r) {
		if (allow[0]) {
			struct webui_error e;
			webui__error_set(&e, 405, "method", NULL, "Use one of the allowed methods.",
			                 "This method is not allowed here (allowed: %s).", allow);
			struct MHD_Response *resp = webui__json_response(webui__error_json(&e));
			if (resp)
				MHD_add_response_header(resp, "Allow", allow);
			return webui__reply(req, 405, resp);
		}
		return webui__fail(req, 404, "not_found", NULL,
		                   "Check the address against the API description.",
		                   "There is no such API endpoint.");
	}
	/* A browser sends Origin on cross-site requests; a foreign one is never ours. */
	const char *origin = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Origin");
	if (origin) {
		const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Host");
		if (!webui__origin_matches_host(origin, host))
			return webui__fail(req, 403, "origin", NULL,
			                   "Open the console at its own address.",
			                   "The request came from another web site.");
	}
	if (req->body_too_big) {
		const char *msg = "The request body is too large (at most 64 KiB).";
		if (r->flags & ROUTE_BACKUP)
			msg = "The backup file is too large for the console (at most 64 MiB); "
			      "restore it with fedgw restore.";
		else if (r->flags & ROUTE_CERT)
			msg = "The request body is too large (at most 1 MiB).";
		return webui__fail(req, 413, "too_large", NULL, "Send a smaller request.", msg);
	}
	if (r->flags & ROUTE_PUBLIC) {
		if (is_state_changing(req->method)) {
			/* Browsers cannot add this header cross-site without a CORS preflight,
			 * which we never grant. */
			const char *xrw = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
			                                              "X-Requested-With");
			if (!xrw || strcmp(xrw, "fedgw") != 0)
				return webui__fail(
				    req, 403, "csrf", NULL,
				    "Send the header X-Requested-With: fedgw.",
				    "This request lacks the header that shows it comes "
				    "from the console.");
		}
		return r->fn(req);
	}
	if (!session_load(req))
		return webui__fail(req, 401, "unauthenticated", NULL, "Log in again.",
		                   "You are not logged in, or your session has ended.");
	if (is_state_changing(req->method)) {
		const char *token =
		    MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-CSRF-Token");
		if (!webui__csrf_equal(req->session.csrf, token))
			return webui__fail(req, 403, "csrf", NULL,
			                   "Reload the console page and try again.",
			                   "The request's security token is missing or wrong.");
	}
	return r->fn(req);
}

/* ---- static console ------------------------------------------------------------------- */

static enum MHD_Result serve_asset(struct webui_req *req)
{
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, "Allow", "GET, HEAD");
		return webui__reply(req, 405, resp);
	}
	/* An exact lookup in the embedded table: no path ever reaches the file system. */
	const struct asset *a = assets_find(req->url);
	if (!a) {
		static const char body[] = "Not found\n";
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
		if (resp)
			MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
		return webui__reply(req, 404, resp);
	}
	const char *inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match");
	bool fresh = inm && a->etag && strcmp(inm, a->etag) == 0;
	struct MHD_Response *resp =
	    fresh
	        ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
	        : MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (resp) {
		if (!fresh)
			MHD_add_response_header(resp, "Content-Type", a->content_type);
		if (a->etag)
			MHD_add_response_header(resp, "ETag", a->etag);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
	}
	return webui__reply(req, fresh ? 304 : 200, resp);
}

/* ---- the access handler --------------------------------------------------------------- */

static void client_address(struct MHD_Connection *conn, char *out, size_t outsize)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	fg_strlcpy(out, "-", outsize);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)outsize);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          out, (socklen_t)outsize);
}

static struct webui_req *req_new(struct webui *w, struct MHD_Connection *conn, const char *url,
                                 const char *method)
{
	struct webui_req *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->url = strdup(url ? url : "/");
	if (!req->url) {
		free(req);
		return NULL;
	}
	req->w = w;
	req->conn = conn;
	req->method = method;
	req->is_api = strncmp(req->url, "/api/", 5) == 0 || strcmp(req->url, "/api") == 0;
	req->body_max = strncmp(req->url, API_PREFIX "certificates/", 21) == 0
	                    ? WEBUI_BODY_MAX_CERT
	                    : WEBUI_BODY_MAX_JSON;
	/* Only the restore endpoint takes a backup file. */
	if (strcmp(req->url, API_PREFIX "restore") == 0)
		req->body_max = WEBUI_BODY_MAX_BACKUP;
	client_address(conn, req->source, sizeof(req->source));
	return req;
}

enum MHD_Result webui_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
	struct webui *w = cls;
	struct webui_req *req = *req_cls;
	enum MHD_Result rc;
	if (!req) {
		req = req_new(w, conn, url, method);
		if (!req)
			return MHD_NO;
		*req_cls = req;
		const char *cl =
		    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		uint64_t declared = 0;
		if (cl && fg_parse_u64(cl, 0, UINT64_MAX, &declared) &&
		    declared > WEBUI_BODY_MAX_DECLARED && declared > req->body_max) {
			/* Far over every cap: answer now rather than read it (MHD then closes). */
			req->in_handler = true;
			rc = webui__fail(req, 413, "too_large", NULL, "Send a smaller request.",
			                 "The request body is too large.");
			req->in_handler = false;
			return rc;
		}
		/* Answering on the first callback would force Connection: close. */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!req->body_too_big && !req->answered) {
			if (req->body.len + *upload_data_size > req->body_max) {
				req->body_too_big = true;
				fg_buf_free(&req->body);
			} else if (fg_buf_append(&req->body, upload_data, *upload_data_size)) {
				return MHD_NO;
			}
		}
		*upload_data_size = 0; /* consumed (or discarded past the cap) */
		return MHD_YES;
	}
	if (req->pending) {
		/* Resumed after a thread-pool job: send what it answered. */
		struct MHD_Response *resp = req->pending;
		req->pending = NULL;
		rc = MHD_queue_response(conn, req->pending_status, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	if (req->answered || req->job)
		return MHD_YES;
	req->in_handler = true;
	if (req->is_api) {
		if (strncmp(req->url, API_PREFIX, strlen(API_PREFIX)) != 0)
			rc = webui__fail(req, 404, "not_found", NULL,
			                 "Check the address against the API description.",
			                 "There is no such API endpoint.");
		else
			rc = api_dispatch(req);
	} else {
		rc = serve_asset(req);
	}
	req->in_handler = false;
	return rc;
}

void webui_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct webui_req *req = *req_cls;
	if (!req)
		return;
	*req_cls = NULL;
	if (req->job)
		req->job->req = NULL; /* the job finishes on its own and frees itself */
	if (req->pending)
		MHD_destroy_response(req->pending);
	fg_buf_free(&req->body);
	explicit_bzero(&req->session, sizeof(req->session));
	free(req->url);
	free(req);
}
