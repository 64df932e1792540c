/* webui api: admin accounts: list, add, delete, change password (hashing on the pool). */
#include "accounts/accounts.h"
#include "webui/api.h"

#include <stdlib.h>
#include <string.h>

static json_t *admin_json(const struct db_admin *a)
{
	return json_pack("{s:s, s:o, s:I, s:o, s:I, s:o, s:I}", "name", a->name, "created",
	                 webui__json_time(a->created_ms), "created_ms", (json_int_t)a->created_ms,
	                 "password_changed", webui__json_time(a->password_changed_ms),
	                 "password_changed_ms", (json_int_t)a->password_changed_ms, "last_login",
	                 webui__json_time(a->last_login_ms), "last_login_ms",
	                 (json_int_t)a->last_login_ms);
}

static enum MHD_Result store_failed(struct webui_req *req)
{
	return webui__fail(req, 500, "store", NULL, "See the log (fedgw journal).",
	                   "The store could not be read or written.");
}

static enum MHD_Result no_such_admin(struct webui_req *req)
{
	return webui__fail(req, 404, "not_found", NULL, "Pick an admin from the list.",
	                   "There is no admin account with that name.");
}

enum MHD_Result webui__api_admins_list(struct webui_req *req)
{
	struct db_admin *list = NULL;
	size_t n = 0;
	if (accounts_list(req->w->db, &list, &n) != FG_OK)
		return store_failed(req);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, admin_json(&list[i]));
	db_admin_list_free(list, n);
	return webui__reply_json(req, 200, json_pack("{s:o}", "admins", arr));
}

static void hash_run(struct webui_job *job)
{
	job->err = accounts_hash(job->password, job->hash);
}

static void add_done(struct webui_job *job, struct webui_req *req)
{
	struct db_admin adm;
	if (job->err) {
		webui__fail(req, 500, "crypto", NULL, "See the log.",
		            "The password could not be hashed.");
		return;
	}
	enum fg_err err = accounts_add(req->w->db, req->session.admin, req->source, job->name,
	                               job->hash, false, fg_now_ms());
	if (err == FG_ERR_EXISTS) {
		webui__fail(req, 409, "exists", "name", "Choose another name.",
		            "An admin account with that name already exists.");
		return;
	}
	if (err || accounts_get(req->w->db, job->name, &adm) != FG_OK) {
		store_failed(req);
		return;
	}
	webui__reply_json(req, 201, admin_json(&adm));
}

enum MHD_Result webui__api_admins_add(struct webui_req *req)
{
	json_t *root = NULL;
	const char *name, *password, *why;
	struct webui_error e;
	struct db_admin adm;
	enum MHD_Result rc = MHD_YES;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!webui__field_string(root, "name", true, WEBUI_NAME_FIELD_MAX, &name, &e) ||
	    !webui__field_string(root, "password", true, ACCOUNTS_PASSWORD_MAX_BYTES, &password,
	                         &e)) {
		rc = webui__reply_error(req, &e);
		goto out;
	}
	if (!accounts_name_check(name, &why)) {
		rc = webui__fail(req, 422, "invalid", "name", "Choose another name.", why);
		goto out;
	}
	if (!accounts_password_check(name, password, &why)) {
		rc = webui__fail(req, 422, "invalid", "password", "Choose a longer password.", why);
		goto out;
	}
	if (accounts_get(req->w->db, name, &adm) == FG_OK) {
		rc = webui__fail(req, 409, "exists", "name", "Choose another name.",
		                 "An admin account with that name already exists.");
		goto out;
	}
	struct webui_job *job = webui__job_new(req);
	if (!job || !(job->password = strdup(password))) {
		free(job);
		rc = MHD_NO;
		goto out;
	}
	fg_strlcpy(job->name, name, sizeof(job->name));
	job->run = hash_run;
	job->done = add_done;
	rc = webui__job_start(req, job);
out:
	json_decref(root);
	return rc;
}

enum MHD_Result webui__api_admins_delete(struct webui_req *req)
{
	const char *name = req->params[0];
	if (!accounts_name_check(name, NULL))
		return no_such_admin(req);
	if (strcmp(name, req->session.admin) == 0)
		return webui__fail(req, 409, "self", NULL,
		                   "Log in as another admin to delete this account.",
		                   "You cannot delete the account you are logged in with.");
	enum fg_err err =
	    accounts_delete(req->w->db, req->session.admin, req->source, name, fg_now_ms());
	if (err == FG_ERR_NOTFOUND)
		return no_such_admin(req);
	if (err == FG_ERR_BUSY)
		return webui__fail(req, 409, "last_admin", NULL, "Add another admin first.",
		                   "The last admin account cannot be deleted.");
	if (err)
		return store_failed(req);
	return webui__reply_status(req, 204);
}

static void password_run(struct webui_job *job)
{
	/* job->password is the current password when the admin changes their own. */
	job->ok = !job->password || accounts_verify(job->stored_hash, job->password);
	if (job->ok)
		job->err = accounts_hash(job->new_password, job->hash);
}

static void password_done(struct webui_job *job, struct webui_req *req)
{
	if (!job->ok) {
		webui__fail(req, 422, "wrong_password", "current_password",
		            "Type your current password again.", "The current password is wrong.");
		return;
	}
	if (job->err) {
		webui__fail(req, 500, "crypto", NULL, "See the log.",
		            "The password could not be hashed.");
		return;
	}
	bool self = strcmp(job->name, req->session.admin) == 0;
	enum fg_err err =
	    accounts_password_set(req->w->db, req->session.admin, req->source, job->name, job->hash,
	                          self ? req->session.id : NULL, fg_now_ms(), NULL);
	if (err == FG_ERR_NOTFOUND) {
		no_such_admin(req);
		return;
	}
	if (err) {
		store_failed(req);
		return;
	}
	webui__reply_status(req, 204);
}

enum MHD_Result webui__api_admins_password(struct webui_req *req)
{
	const char *name = req->params[0];
	json_t *root = NULL;
	const char *current, *new_pw, *why;
	struct webui_error e;
	struct db_admin adm;
	enum MHD_Result rc = MHD_YES;
	if (accounts_get(req->w->db, name, &adm) != FG_OK)
		return no_such_admin(req);
	bool self = strcmp(name, req->session.admin) == 0;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!webui__field_string(root, "current_password", self, ACCOUNTS_PASSWORD_MAX_BYTES,
	                         &current, &e) ||
	    !webui__field_string(root, "new_password", true, ACCOUNTS_PASSWORD_MAX_BYTES, &new_pw,
	                         &e)) {
		rc = webui__reply_error(req, &e);
		goto out;
	}
	if (!accounts_password_check(name, new_pw, &why)) {
		rc = webui__fail(req, 422, "invalid", "new_password", "Choose a longer password.",
		                 why);
		goto out;
	}
	struct webui_job *job = webui__job_new(req);
	if (!job || !(job->new_password = strdup(new_pw)) ||
	    (self && !(job->password = strdup(current)))) {
		if (job)
			free(job->new_password);
		free(job);
		rc = MHD_NO;
		goto out;
	}
	fg_strlcpy(job->name, name, sizeof(job->name));
	fg_strlcpy(job->stored_hash, adm.hash, sizeof(job->stored_hash));
	job->run = password_run;
	job->done = password_done;
	rc = webui__job_start(req, job);
out:
	explicit_bzero(&adm, sizeof(adm));
	json_decref(root);
	return rc;
}
