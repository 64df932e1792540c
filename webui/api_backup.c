/* webui api: backup download and restore upload of the whole store (Argon2id and ChaCha20-
 * Poly1305 on the thread pool; attachment per RFC 6266). */
#include "backup/backup.h"
#include "webui/api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SUBSYS "console"

/* The restore passphrase header: percent-encoded UTF-8 (RFC 3986 §2.1), because browsers
 * send only ISO-8859-1 in header values; plain ASCII without '%' passes unchanged. */
#define BACKUP_PASSPHRASE_HEADER "X-Backup-Passphrase"
/* Percent-encoding triples a byte at most. */
#define BACKUP_PASSPHRASE_HEADER_MAX (3 * BACKUP_PASSPHRASE_MAX_BYTES)

/* What a backup or restore job carries between the loop and the worker. */
struct backup_ext {
	struct fg_buf in;  /* snapshot (backup) or uploaded file (restore) */
	struct fg_buf out; /* sealed file (backup) or decrypted snapshot (restore) */
	char passphrase[BACKUP_PASSPHRASE_MAX_BYTES + 1];
};

static void buf_wipe_free(struct fg_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	fg_buf_free(b);
}

static void ext_free(void *p)
{
	struct backup_ext *x = p;
	if (!x)
		return;
	buf_wipe_free(&x->in);
	buf_wipe_free(&x->out);
	explicit_bzero(x->passphrase, sizeof x->passphrase);
	free(x);
}

static struct webui_job *job_with_ext(struct webui_req *req, struct backup_ext **out)
{
	struct webui_job *job = webui__job_new(req);
	struct backup_ext *x = calloc(1, sizeof *x);
	if (!job || !x) {
		free(job);
		free(x);
		return NULL;
	}
	job->ext = x;
	job->ext_free = ext_free;
	*out = x;
	return job;
}

/* "fedgw-<host>-<YYYY-MM-DD>.fgbk" with the host reduced to letters, digits, '.' and '-'. */
static void backup_filename(char *out, size_t outsize, int64_t now_ms)
{
	char host[64] = "", date[32];
	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			*p = '-';
	webui__iso_time(date, now_ms);
	date[10] = '\0'; /* "YYYY-MM-DD" */
	snprintf(out, outsize, "fedgw-%s-%s.fgbk", host[0] ? host : "appliance", date);
}

/* ---- POST /api/v1/backup {"passphrase"} -> the file ----------------------------------- */

static void backup_run(struct webui_job *job)
{
	struct backup_ext *x = job->ext;
	job->err = backup_seal(x->in.data, x->in.len, x->passphrase, &x->out);
}

static void backup_done(struct webui_job *job, struct webui_req *req)
{
	struct backup_ext *x = job->ext;
	char name[128], disp[160], detail[DB_TEXT_MAX];
	if (job->err) {
		snprintf(detail, sizeof detail, "backup download failed: %s",
		         fg_strerror(job->err));
		(void)backup_audit(req->w->db, req->session.admin, req->source, "backup.create",
		                   false, detail);
		webui__fail(req, 500, "internal", NULL, "See the log; try again.",
		            "The backup could not be made.");
		return;
	}
	backup_filename(name, sizeof name, fg_now_ms());
	snprintf(detail, sizeof detail, "backup downloaded as %s (%zu bytes)", name, x->out.len);
	(void)backup_audit(req->w->db, req->session.admin, req->source, "backup.create", true,
	                   detail);
	FG_LOGN(SUBSYS, "admin %s downloaded a backup (%zu bytes)", req->session.admin, x->out.len);
	/* The sealed file holds nothing secret without the passphrase: hand it over as is. */
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(x->out.len, x->out.data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		webui__fail(req, 500, "internal", NULL, "Try again.", "Out of memory.");
		return;
	}
	x->out = (struct fg_buf){0}; /* owned by the response now */
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	webui__reply(req, 200, resp);
}

enum MHD_Result webui__api_backup(struct webui_req *req)
{
	json_t *root = NULL;
	const char *pass = NULL, *why = NULL;
	struct webui_error e;
	struct backup_ext *x = NULL;
	enum MHD_Result rc;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!webui__field_string(root, "passphrase", true, BACKUP_PASSPHRASE_MAX_BYTES, &pass,
	                         &e)) {
		rc = webui__reply_error(req, &e);
		goto out;
	}
	if (!backup_passphrase_check(pass, &why)) {
		rc = webui__fail(req, 422, "invalid", "passphrase",
		                 "Choose a passphrase of at least 12 characters.", why);
		goto out;
	}
	struct webui_job *job = job_with_ext(req, &x);
	if (!job) {
		rc = MHD_NO;
		goto out;
	}
	fg_strlcpy(x->passphrase, pass, sizeof x->passphrase);
	/* The snapshot is read here (the store belongs to the loop); sealing, with Argon2id's
	 * 64 MiB and several passes, runs on the pool. */
	enum fg_err err = backup_snapshot_mem(req->w->db, &x->in);
	if (err) {
		ext_free(x);
		free(job);
		rc = webui__fail(req, 500, "store", NULL, "See the log; try again.",
		                 "The store could not be copied.");
		goto out;
	}
	job->run = backup_run;
	job->done = backup_done;
	rc = webui__job_start(req, job);
out:
	json_decref(root);
	return rc;
}

/* ---- POST /api/v1/restore (the file as the body) -> {"records"} ----------------------- */

/* Percent-decodes s into out; false on a malformed escape or when it does not fit. */
static bool percent_decode(const char *s, char *out, size_t outsize)
{
	size_t n = 0;
	for (; *s; s++) {
		char c = *s;
		if (c == '%') {
			int hi = fg_hex_digit((unsigned char)s[1]),
			    lo = hi < 0 ? -1 : fg_hex_digit((unsigned char)s[2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			s += 2;
		}
		if (c == '\0' || n + 1 >= outsize)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

static void restore_run(struct webui_job *job)
{
	struct backup_ext *x = job->ext;
	job->err = backup_open(x->in.data, x->in.len, x->passphrase, &x->out);
	buf_wipe_free(&x->in);
}

static void restore_done(struct webui_job *job, struct webui_req *req)
{
	struct backup_ext *x = job->ext;
	struct webui_error e;
	char detail[DB_TEXT_MAX];
	size_t records = 0;
	enum fg_err err = job->err;
	if (err) {
		snprintf(detail, sizeof detail, "restore upload refused: %s",
		         backup_error_text(err));
		(void)backup_audit(req->w->db, req->session.admin, req->source, "backup.restore",
		                   false, detail);
		if (err == FG_ERR_VERSION)
			webui__error_set(&e, 422, "version", "file",
			                 "Restore it with the fedgw version that made it.",
			                 "The backup was made by a newer fedgw.");
		else if (err == FG_ERR_AUTH)
			webui__error_set(&e, 422, "bad_backup", "passphrase",
			                 "Check the passphrase and the file, then try again.",
			                 "Wrong passphrase, or the file is damaged.");
		else
			webui__error_set(&e, 500, "internal", NULL, "See the log; try again.",
			                 "The backup could not be read.");
		webui__reply_error(req, &e);
		return;
	}
	/* The store is the loop's: the restore and its watchers run here. */
	err = backup_restore_snapshot(req->w->db, x->out.data, x->out.len, req->session.admin,
	                              req->source, &records);
	buf_wipe_free(&x->out);
	if (err == FG_ERR_VERSION) {
		webui__fail(req, 422, "version", "file",
		            "Restore it with the fedgw version that made it.",
		            "The backup holds a store of a newer fedgw.");
		return;
	}
	if (err) {
		webui__fail(req, 500, "store", NULL, "See the log; try again.",
		            "The store could not be restored; nothing was changed.");
		return;
	}
	FG_LOGN(SUBSYS, "admin %s restored a backup: %zu records; every session ended",
	        req->session.admin, records);
	/* The restore deleted every session, this one too: the browser forgets its cookie. */
	struct MHD_Response *resp =
	    webui__json_response(json_pack("{s:I}", "records", (json_int_t)records));
	if (resp)
		MHD_add_response_header(resp, "Set-Cookie",
		                        WEBUI_COOKIE_NAME
		                        "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
	webui__reply(req, 200, resp);
}

enum MHD_Result webui__api_restore(struct webui_req *req)
{
	struct backup_ext *x = NULL;
	const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
	if (!ct || strncasecmp(ct, "application/octet-stream", 24) != 0 ||
	    (ct[24] != '\0' && ct[24] != ';' && ct[24] != ' '))
		return webui__fail(req, 415, "content_type", NULL,
		                   "Send the file with Content-Type: application/octet-stream.",
		                   "The request body must be the backup file.");
	const char *hdr =
	    MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, BACKUP_PASSPHRASE_HEADER);
	if (!hdr || !*hdr)
		return webui__fail(req, 400, "missing", "passphrase",
		                   "Enter the passphrase the backup was made with.",
		                   "The passphrase is missing (header X-Backup-Passphrase).");
	if (strlen(hdr) > BACKUP_PASSPHRASE_HEADER_MAX)
		return webui__fail(req, 422, "invalid", "passphrase", "Check the passphrase.",
		                   "The passphrase is too long.");
	if (req->body.len == 0)
		return webui__fail(req, 400, "missing", "file", "Choose a backup file.",
		                   "No backup file was sent.");
	struct webui_job *job = job_with_ext(req, &x);
	if (!job)
		return MHD_NO;
	if (!percent_decode(hdr, x->passphrase, sizeof x->passphrase)) {
		ext_free(x);
		free(job);
		return webui__fail(req, 422, "invalid", "passphrase", "Check the passphrase.",
		                   "The passphrase header is not valid percent-encoded text.");
	}
	/* The job owns the upload from here: the request may go away while Argon2id runs. */
	x->in = req->body;
	req->body = (struct fg_buf){0};
	job->run = restore_run;
	job->done = restore_done;
	return webui__job_start(req, job);
}
