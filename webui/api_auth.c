/* webui api: first-run setup, login (Argon2id on the thread pool, throttled per address),
 * logout and the session endpoint. Cookies per RFC 6265 §4.1 (HttpOnly, Secure, SameSite). */
#include "accounts/accounts.h"
#include "webui/api.h"

#include <stdlib.h>
#include <string.h>

#define SUBSYS "console"

static const char clear_cookie[] =
    WEBUI_COOKIE_NAME "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0";

static enum MHD_Result reply_logged_in(struct webui_req *req, const char *admin)
{
	char csrf[65], cookie[WEBUI_SET_COOKIE_MAX];
	if (!webui__session_create(req, admin, csrf, cookie))
		return webui__fail(req, 500, "store", NULL, "See the log; try again.",
		                   "The session could not be stored.");
	struct MHD_Response *resp =
	    webui__json_response(json_pack("{s:s, s:s}", "admin", admin, "csrf", csrf));
	explicit_bzero(csrf, sizeof(csrf));
	if (resp)
		MHD_add_response_header(resp, "Set-Cookie", cookie);
	explicit_bzero(cookie, sizeof(cookie));
	return webui__reply(req, 200, resp);
}

/* Reads {"name","password"}; answers the error itself when false. With check_rules the
 * name and password rules apply (setup); for login they do not (any input just fails). */
static bool read_credentials(struct webui_req *req, json_t **root, const char **name,
                             const char **password, bool check_rules)
{
	struct webui_error e;
	const char *why = NULL;
	if (!webui__req_json(req, root))
		return false;
	if (!webui__field_string(*root, "name", true, WEBUI_NAME_FIELD_MAX, name, &e) ||
	    !webui__field_string(*root, "password", true, ACCOUNTS_PASSWORD_MAX_BYTES, password,
	                         &e)) {
		webui__reply_error(req, &e);
		goto fail;
	}
	if (check_rules && !accounts_name_check(*name, &why)) {
		webui__fail(req, 422, "invalid", "name", "Choose another name.", why);
		goto fail;
	}
	if (check_rules && !accounts_password_check(*name, *password, &why)) {
		webui__fail(req, 422, "invalid", "password", "Choose a longer password.", why);
		goto fail;
	}
	return true;
fail:
	json_decref(*root);
	*root = NULL;
	return false;
}

enum MHD_Result webui__api_setup_get(struct webui_req *req)
{
	size_t n = 0;
	if (accounts_count(req->w->db, &n) != FG_OK)
		return webui__fail(req, 500, "store", NULL, "See the log.",
		                   "The store could not be read.");
	return webui__reply_json(req, 200, json_pack("{s:b}", "needed", n == 0));
}

static void setup_run(struct webui_job *job)
{
	job->err = accounts_hash(job->password, job->hash);
}

static void setup_done(struct webui_job *job, struct webui_req *req)
{
	if (job->err) {
		webui__fail(req, 500, "crypto", NULL, "See the log.",
		            "The password could not be hashed.");
		return;
	}
	enum fg_err err = accounts_add(req->w->db, job->name, req->source, job->name, job->hash,
	                               true, fg_now_ms());
	if (err == FG_ERR_EXISTS) {
		webui__fail(req, 409, "setup_done", NULL, "Log in with an existing account.",
		            "Setup is already done: an admin account exists.");
		return;
	}
	if (err) {
		webui__fail(req, 500, "store", NULL, "See the log.",
		            "The account could not be stored.");
		return;
	}
	(void)accounts_login_record(req->w->db, job->name, req->source, true, fg_now_ms());
	reply_logged_in(req, job->name);
}

enum MHD_Result webui__api_setup_post(struct webui_req *req)
{
	json_t *root = NULL;
	const char *name, *password;
	size_t n = 0;
	if (!read_credentials(req, &root, &name, &password, true))
		return MHD_YES;
	enum MHD_Result rc;
	if (accounts_count(req->w->db, &n) != FG_OK) {
		rc = webui__fail(req, 500, "store", NULL, "See the log.",
		                 "The store could not be read.");
		goto out;
	}
	if (n > 0) {
		rc = webui__fail(req, 409, "setup_done", NULL, "Log in with an existing account.",
		                 "Setup is already done: an admin account exists.");
		goto out;
	}
	struct webui_job *job = webui__job_new(req);
	if (!job || !(job->password = strdup(password))) {
		free(job);
		rc = MHD_NO;
		goto out;
	}
	fg_strlcpy(job->name, name, sizeof(job->name));
	job->run = setup_run;
	job->done = setup_done;
	rc = webui__job_start(req, job);
out:
	json_decref(root);
	return rc;
}

static enum MHD_Result reply_throttled(struct webui_req *req, unsigned retry_after_s)
{
	struct webui_error e;
	char secs[16];
	webui__error_set(&e, 429, "throttled", NULL, "Wait, then try again.",
	                 "Too many failed logins from your address. Try again in %u second%s.",
	                 retry_after_s, retry_after_s == 1 ? "" : "s");
	struct MHD_Response *resp = webui__json_response(webui__error_json(&e));
	snprintf(secs, sizeof(secs), "%u", retry_after_s);
	if (resp)
		MHD_add_response_header(resp, "Retry-After", secs);
	return webui__reply(req, 429, resp);
}

static void login_run(struct webui_job *job)
{
	job->ok = accounts_verify(job->stored_hash, job->password);
}

static void login_done(struct webui_job *job, struct webui_req *req)
{
	struct webui_api *api = job->api;
	int64_t now = fg_now_ms();
	if (!job->ok) {
		webui__throttle_fail(api->throttle, req->source, fg_mono_ms());
		(void)accounts_login_record(req->w->db, job->name, req->source, false, now);
		webui__fail(req, 401, "bad_credentials", NULL,
		            "Check the name and the password, then try again.",
		            "The name or the password is wrong.");
		return;
	}
	webui__throttle_success(api->throttle, req->source);
	(void)accounts_login_record(req->w->db, job->name, req->source, true, now);
	reply_logged_in(req, job->name);
}

enum MHD_Result webui__api_login(struct webui_req *req)
{
	struct webui_api *api = webui__api_get(req->w);
	json_t *root = NULL;
	const char *name, *password;
	unsigned retry = 0;
	struct db_admin adm;
	if (!api)
		return MHD_NO;
	if (!webui__throttle_check(api->throttle, req->source, fg_mono_ms(), &retry))
		return reply_throttled(req, retry);
	if (!read_credentials(req, &root, &name, &password, false))
		return MHD_YES;
	enum MHD_Result rc = MHD_NO;
	struct webui_job *job = webui__job_new(req);
	if (!job || !(job->password = strdup(password))) {
		free(job);
		goto out;
	}
	fg_strlcpy(job->name, name, sizeof(job->name));
	/* An unknown name verifies against a dummy hash: same time, same answer. */
	if (accounts_get(req->w->db, name, &adm) == FG_OK) {
		fg_strlcpy(job->stored_hash, adm.hash, sizeof(job->stored_hash));
		explicit_bzero(&adm, sizeof(adm));
	}
	job->run = login_run;
	job->done = login_done;
	rc = webui__job_start(req, job);
out:
	json_decref(root);
	return rc;
}

struct logout_ctx {
	const char *id;
	const struct db_audit_entry *audit;
};

static enum fg_err logout_fn(struct db_txn *txn, void *ctx)
{
	struct logout_ctx *c = ctx;
	enum fg_err err = db_session_del(txn, c->id);
	if (err && err != FG_ERR_NOTFOUND)
		return err;
	return db_audit_append(txn, c->audit);
}

enum MHD_Result webui__api_logout(struct webui_req *req)
{
	struct db_audit_entry a;
	memset(&a, 0, sizeof(a));
	a.time_ms = fg_now_ms();
	fg_strlcpy(a.actor, req->session.admin, sizeof(a.actor));
	fg_strlcpy(a.source, req->source, sizeof(a.source));
	fg_strlcpy(a.action, "logout", sizeof(a.action));
	a.ok = true;
	struct logout_ctx c = {req->session.id, &a};
	enum fg_err err = db_write(req->w->db, logout_fn, &c);
	if (err)
		return webui__fail(req, 500, "store", NULL, "See the log.",
		                   "The session could not be ended.");
	FG_LOGI(SUBSYS, "admin %s logged out", req->session.admin);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (resp)
		MHD_add_response_header(resp, "Set-Cookie", clear_cookie);
	return webui__reply(req, 204, resp);
}

enum MHD_Result webui__api_session(struct webui_req *req)
{
	int64_t idle =
	    req->w->cfg.session_idle_ms > 0 ? req->w->cfg.session_idle_ms : 1800LL * 1000;
	return webui__reply_json(req, 200,
	                         json_pack("{s:s, s:s, s:I}", "admin", req->session.admin, "csrf",
	                                   req->session.csrf, "idle_timeout_s",
	                                   (json_int_t)(idle / 1000)));
}
