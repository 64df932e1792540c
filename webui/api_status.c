/* webui api: gateway status (objects, faults, counters), the log and the audit trail. */
#include "webui/api.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUBSYS "console"
/* The status page shows this many recent warnings and errors. */
#define STATUS_RECENT_MAX 20

static enum MHD_Result store_failed(struct webui_req *req)
{
	return webui__fail(req, 500, "store", NULL, "See the log (fedgw journal).",
	                   "The store could not be read.");
}

static const char *query(struct webui_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

static json_t *log_entry_json(const struct db_log_entry *l)
{
	return json_pack("{s:I, s:o, s:I, s:s, s:o, s:o}", "seq", (json_int_t)l->seq, "time",
	                 webui__json_time(l->time_ms), "time_ms", (json_int_t)l->time_ms, "level",
	                 fg_log_level_name(l->level), "subsystem", webui__json_text(l->subsys),
	                 "message", webui__json_text(l->msg));
}

static json_t *fault_json(const struct db_fault *f)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:I, s:o, s:I}", "id",
	                 webui__json_text(f->id), "object", webui__json_text(f->object),
	                 "condition", webui__json_text(f->condition), "cause",
	                 webui__json_text(f->cause), "fix", webui__json_text(f->fix), "detail",
	                 webui__json_text(f->detail), "severity", fg_log_level_name(f->severity),
	                 "raised", webui__json_time(f->raised_ms), "raised_ms",
	                 (json_int_t)f->raised_ms, "cleared", webui__json_time(f->cleared_ms),
	                 "cleared_ms", (json_int_t)f->cleared_ms);
}

static json_t *status_json(const struct db_status *s)
{
	json_t *extra = NULL;
	if (s->extra[0])
		extra = json_loads(s->extra, 0, NULL);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o}", "id", webui__json_text(s->id),
	                 "kind", webui__json_text(s->kind), "name", webui__json_text(s->name),
	                 "state", webui__json_text(s->state), "reason", webui__json_text(s->reason),
	                 "since", webui__json_time(s->since_ms), "since_ms",
	                 (json_int_t)s->since_ms, "extra", extra ? extra : json_null());
}

enum MHD_Result webui__api_status(struct webui_req *req)
{
	struct webui *w = req->w;
	struct db_txn *txn = NULL;
	struct db_status *st = NULL;
	struct db_fault *faults = NULL;
	struct db_log_entry *logs = NULL;
	size_t n_st = 0, n_faults = 0, n_logs = 0, total = 0;
	uint64_t used = 0, map = 0;
	char host[256] = "";
	int64_t now = fg_now_ms();
	enum MHD_Result rc;

	if (db_txn_begin(w->db, &txn) != FG_OK)
		return store_failed(req);
	struct db_log_filter lf = {FG_LOG_WARN, NULL, 0, STATUS_RECENT_MAX};
	enum fg_err err = db_status_list(txn, &st, &n_st);
	if (!err)
		err = db_fault_list(txn, &faults, &n_faults);
	if (!err)
		err = db_log_query(txn, &lf, &logs, &n_logs, &total);
	db_txn_end(txn);
	if (err) {
		rc = store_failed(req);
		goto out;
	}
	(void)db_usage(w->db, &used, &map);
	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';

	json_t *listeners = json_array(), *objects = json_array(), *active = json_array(),
	       *cleared = json_array(), *recent = json_array(), *counters = json_object();
	for (size_t i = 0; i < n_st; i++) {
		json_array_append_new(objects, status_json(&st[i]));
		if (strcmp(st[i].kind, "listener") == 0)
			json_array_append_new(listeners, status_json(&st[i]));
		if (strcmp(st[i].id, "counters") == 0 && st[i].extra[0]) {
			json_t *c = json_loads(st[i].extra, 0, NULL);
			if (json_is_object(c)) {
				json_decref(counters);
				counters = c;
			} else {
				json_decref(c);
			}
		}
	}
	for (size_t i = 0; i < n_faults; i++)
		json_array_append_new(faults[i].cleared_ms ? cleared : active,
		                      fault_json(&faults[i]));
	for (size_t i = 0; i < n_logs; i++)
		json_array_append_new(recent, log_entry_json(&logs[i]));
	json_t *out = json_pack(
	    "{s:s, s:o, s:I, s:I, s:o, s:o, s:I, s:{s:I, s:I, s:f}, s:o, s:o, s:{s:o, s:o}, "
	    "s:o, s:o}",
	    "version", w->version, "started", webui__json_time(w->started_ms), "started_ms",
	    (json_int_t)w->started_ms, "uptime_s", (json_int_t)((now - w->started_ms) / 1000),
	    "data_dir", webui__json_text(db_dir(w->db)), "hostname", webui__json_text(host),
	    "generation", (json_int_t)db_generation(w->db), "store", "used_bytes", (json_int_t)used,
	    "map_bytes", (json_int_t)map, "percent", map ? (double)used * 100.0 / (double)map : 0.0,
	    "listeners", listeners, "objects", objects, "faults", "active", active, "cleared",
	    cleared, "recent", recent, "counters", counters);
	rc = webui__reply_json(req, 200, out);
out:
	db_status_list_free(st, n_st);
	db_fault_list_free(faults, n_faults);
	db_log_list_free(logs, n_logs);
	return rc;
}

/* Reads level and q; answers the error itself when false. */
static bool log_filter_read(struct webui_req *req, struct db_log_filter *f)
{
	const char *level = query(req, "level");
	memset(f, 0, sizeof(*f));
	f->min_level = FG_LOG_DEBUG;
	if (level && *level && !fg_log_level_parse(level, &f->min_level)) {
		webui__fail(req, 400, "bad_parameter", "level",
		            "Use debug, info, notice, warning or error.",
		            "The parameter \"level\" is not a log level.");
		return false;
	}
	const char *q = query(req, "q");
	f->text = q && *q ? q : NULL;
	return true;
}

static bool page_read(struct webui_req *req, size_t *offset, size_t *limit)
{
	struct webui_error e;
	uint64_t off, lim;
	if (!webui__query_uint(query(req, "offset"), "offset", UINT32_MAX, 0, &off, &e) ||
	    !webui__query_uint(query(req, "limit"), "limit", UINT32_MAX, WEBUI_LIST_LIMIT_DEFAULT,
	                       &lim, &e)) {
		webui__reply_error(req, &e);
		return false;
	}
	if (lim == 0)
		lim = WEBUI_LIST_LIMIT_DEFAULT;
	*offset = (size_t)off;
	*limit = lim > WEBUI_LIST_LIMIT_MAX ? WEBUI_LIST_LIMIT_MAX : (size_t)lim;
	return true;
}

enum MHD_Result webui__api_logs(struct webui_req *req)
{
	struct db_log_filter f;
	struct db_txn *txn = NULL;
	struct db_log_entry *logs = NULL;
	size_t n = 0, total = 0;
	if (!log_filter_read(req, &f) || !page_read(req, &f.offset, &f.limit))
		return MHD_YES;
	if (db_txn_begin(req->w->db, &txn) != FG_OK)
		return store_failed(req);
	enum fg_err err = db_log_query(txn, &f, &logs, &n, &total);
	db_txn_end(txn);
	if (err)
		return store_failed(req);
	json_t *entries = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(entries, log_entry_json(&logs[i]));
	db_log_list_free(logs, n);
	return webui__reply_json(
	    req, 200, json_pack("{s:I, s:o}", "total", (json_int_t)total, "entries", entries));
}

enum MHD_Result webui__api_logs_download(struct webui_req *req)
{
	struct db_log_filter f;
	struct db_txn *txn = NULL;
	struct db_log_entry *logs = NULL;
	size_t n = 0, total = 0;
	struct fg_buf out = {0};
	if (!log_filter_read(req, &f))
		return MHD_YES;
	if (db_txn_begin(req->w->db, &txn) != FG_OK)
		return store_failed(req);
	enum fg_err err = db_log_query(txn, &f, &logs, &n, &total);
	db_txn_end(txn);
	if (err)
		return store_failed(req);
	/* The store answers newest first; a file reads oldest first. */
	for (size_t i = n; i > 0 && !err; i--) {
		const struct db_log_entry *l = &logs[i - 1];
		char when[32];
		fg_format_utc(when, sizeof(when), l->time_ms);
		err = fg_buf_printf(&out, "%s %s %s: %s\n", when, fg_log_level_name(l->level),
		                    l->subsys, l->msg);
	}
	db_log_list_free(logs, n);
	if (err) {
		fg_buf_free(&out);
		return MHD_NO;
	}
	struct MHD_Response *resp;
	if (out.len == 0) {
		fg_buf_free(&out);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(out.len, out.data, MHD_RESPMEM_MUST_FREE);
		if (!resp)
			fg_buf_free(&out);
	}
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
		MHD_add_response_header(resp, "Content-Disposition",
		                        "attachment; filename=\"fedgw-log.txt\"");
	}
	return webui__reply(req, 200, resp);
}

struct clear_ctx {
	const char *actor, *source;
	size_t removed;
};

static enum fg_err clear_fn(struct db_txn *txn, void *ctx)
{
	struct clear_ctx *c = ctx;
	struct db_audit_entry a;
	enum fg_err err = db_log_clear(txn, &c->removed);
	if (err)
		return err;
	memset(&a, 0, sizeof(a));
	a.time_ms = fg_now_ms();
	fg_strlcpy(a.actor, c->actor, sizeof(a.actor));
	fg_strlcpy(a.source, c->source, sizeof(a.source));
	fg_strlcpy(a.action, "log.clear", sizeof(a.action));
	snprintf(a.detail, sizeof(a.detail), "%zu log messages cleared", c->removed);
	a.ok = true;
	return db_audit_append(txn, &a);
}

enum MHD_Result webui__api_logs_clear(struct webui_req *req)
{
	struct clear_ctx c = {req->session.admin, req->source, 0};
	enum fg_err err = db_write(req->w->db, clear_fn, &c);
	if (err)
		return webui__fail(req, 500, "store", NULL, "See the log (fedgw journal).",
		                   "The log could not be cleared.");
	/* After the commit, so this line is the first of the new log. */
	FG_LOGN(SUBSYS, "%zu log messages cleared by %s", c.removed, req->session.admin);
	return webui__reply_json(req, 200, json_pack("{s:I}", "removed", (json_int_t)c.removed));
}

enum MHD_Result webui__api_audit(struct webui_req *req)
{
	struct db_audit_filter f;
	struct db_txn *txn = NULL;
	struct db_audit_entry *ents = NULL;
	size_t n = 0, total = 0;
	memset(&f, 0, sizeof(f));
	const char *q = query(req, "q");
	f.text = q && *q ? q : NULL;
	if (!page_read(req, &f.offset, &f.limit))
		return MHD_YES;
	if (db_txn_begin(req->w->db, &txn) != FG_OK)
		return store_failed(req);
	enum fg_err err = db_audit_query(txn, &f, &ents, &n, &total);
	db_txn_end(txn);
	if (err)
		return store_failed(req);
	json_t *entries = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct db_audit_entry *a = &ents[i];
		json_array_append_new(
		    entries,
		    json_pack("{s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:b}", "seq", (json_int_t)a->seq,
		              "time", webui__json_time(a->time_ms), "time_ms",
		              (json_int_t)a->time_ms, "actor", webui__json_text(a->actor), "source",
		              webui__json_text(a->source), "action", webui__json_text(a->action),
		              "detail", webui__json_text(a->detail), "ok", a->ok));
	}
	db_audit_list_free(ents, n);
	return webui__reply_json(
	    req, 200, json_pack("{s:I, s:o}", "total", (json_int_t)total, "entries", entries));
}
