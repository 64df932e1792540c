/* daemon: `fedgw status` and `fedgw log` — read what the engine wrote to the store. */
#include "daemon/daemon.h"

#include "db/db.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fmt_ago(char *out, size_t outsize, int64_t since_ms, int64_t now_ms)
{
	int64_t s = (now_ms - since_ms) / 1000;
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, outsize, "%llds ago", (long long)s);
	else if (s < 7200)
		snprintf(out, outsize, "%lldmin ago", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, outsize, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(out, outsize, "%lldd ago", (long long)(s / 86400));
}

static void status_usage(FILE *out)
{
	fprintf(out, "Usage: fedgw status [--data-dir DIR] [--json]\n"
	             "\n"
	             "Whether the daemon runs, its version and uptime, listeners and objects with\n"
	             "their state, active and recently cleared fault conditions with the fix,\n"
	             "and counters. Exit code 0 when the daemon runs with no active fault, 1 when\n"
	             "faults are active or the daemon is not running.\n");
}

static json_t *fault_json(const struct db_fault *f)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "id", f->id, "object", f->object,
	                 "condition", f->condition, "cause", f->cause, "fix", f->fix, "detail",
	                 f->detail, "severity", fg_log_level_name(f->severity), "raised_ms",
	                 (json_int_t)f->raised_ms, "cleared_ms", (json_int_t)f->cleared_ms);
}

int daemon_status_main(const struct daemon_opts *o, int argc, char **argv)
{
	bool as_json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			status_usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "fedgw status: unexpected argument \"%s\"\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	struct db *db = NULL;
	int rc = daemon_open_store(o, &db);
	if (rc != EXIT_OK)
		return rc;
	long pid = 0;
	bool running = daemon_is_running(o->data_dir, &pid);
	struct db_txn *txn = NULL;
	struct db_status *objs = NULL;
	struct db_fault *faults = NULL;
	size_t nobjs = 0, nfaults = 0, active = 0;
	enum fg_err err = db_txn_begin(db, &txn);
	if (!err)
		err = db_status_list(txn, &objs, &nobjs);
	if (!err)
		err = db_fault_list(txn, &faults, &nfaults);
	if (txn)
		db_txn_end(txn);
	if (err) {
		fprintf(stderr, "fedgw status: cannot read the store: %s\n", fg_strerror(err));
		rc = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < nfaults; i++)
		active += faults[i].cleared_ms == 0;
	int64_t now = fg_now_ms();
	const struct db_status *daemon = NULL, *counters = NULL;
	for (size_t i = 0; i < nobjs; i++) {
		if (strcmp(objs[i].id, "daemon") == 0)
			daemon = &objs[i];
		else if (strcmp(objs[i].id, "counters") == 0)
			counters = &objs[i];
	}
	json_t *dinfo = daemon && daemon->extra[0] ? json_loads(daemon->extra, 0, NULL) : NULL;
	json_t *cinfo =
	    counters && counters->extra[0] ? json_loads(counters->extra, 0, NULL) : NULL;
	if (as_json) {
		json_t *root = json_object();
		json_object_set_new(root, "running", json_boolean(running));
		json_object_set_new(root, "pid", running ? json_integer(pid) : json_null());
		json_object_set_new(root, "cli_version", json_string(daemon_version()));
		json_object_set_new(root, "data_dir", json_string(o->data_dir));
		json_object_set_new(root, "daemon", dinfo ? json_incref(dinfo) : json_null());
		json_t *arr = json_array();
		for (size_t i = 0; i < nobjs; i++)
			if (&objs[i] != counters)
				json_array_append_new(
				    arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", objs[i].id,
				                   "kind", objs[i].kind, "name", objs[i].name,
				                   "state", objs[i].state, "reason", objs[i].reason,
				                   "since_ms", (json_int_t)objs[i].since_ms));
		json_object_set_new(root, "objects", arr);
		json_t *fa = json_array(), *fc = json_array();
		for (size_t i = 0; i < nfaults; i++)
			json_array_append_new(faults[i].cleared_ms ? fc : fa,
			                      fault_json(&faults[i]));
		json_object_set_new(root, "faults",
		                    json_pack("{s:o,s:o}", "active", fa, "cleared", fc));
		json_object_set_new(root, "counters", cinfo ? json_incref(cinfo) : json_object());
		char *text = json_dumps(root, JSON_INDENT(2));
		puts(text ? text : "{}");
		free(text);
		json_decref(root);
	} else {
		if (running) {
			int64_t started = json_integer_value(json_object_get(dinfo, "started_ms"));
			char up[32] = "?", when[32] = "?";
			if (started) {
				fmt_ago(up, sizeof up, started, now);
				fg_format_utc(when, sizeof when, started);
			}
			printf("fedgw %s: running (pid %ld), started %s UTC (%s)\n",
			       json_string_value(json_object_get(dinfo, "version"))
			           ?: daemon_version(),
			       pid, when, up);
		} else {
			printf("fedgw: not running (data directory %s)\n", o->data_dir);
		}
		printf("Data directory: %s\n\n", o->data_dir);
		if (nobjs > (size_t)(daemon != NULL) + (size_t)(counters != NULL)) {
			printf("%-40s %-12s %-12s %s\n", "OBJECT", "STATE", "SINCE", "REASON");
			for (size_t i = 0; i < nobjs; i++) {
				if (&objs[i] == daemon || &objs[i] == counters)
					continue;
				char ago[32];
				fmt_ago(ago, sizeof ago, objs[i].since_ms, now);
				printf("%-40s %-12s %-12s %s\n", objs[i].name, objs[i].state, ago,
				       objs[i].reason);
			}
			printf("\n");
		}
		printf("Faults: %zu active\n", active);
		for (size_t i = 0; i < nfaults; i++) {
			const struct db_fault *f = &faults[i];
			char raised[32], cleared[32];
			fg_format_utc(raised, sizeof raised, f->raised_ms);
			if (f->cleared_ms) {
				if (now - f->cleared_ms > 86400000)
					continue;
				fg_format_utc(cleared, sizeof cleared, f->cleared_ms);
				printf("  cleared %s  %s (%s)\n", cleared, f->condition, f->object);
			} else {
				printf("  %s %s  %s: %s\n      Fix: %s\n",
				       fg_log_level_name(f->severity), raised, f->condition,
				       f->cause, f->fix);
				if (f->detail[0])
					printf("      Detail: %s\n", f->detail);
			}
		}
		if (cinfo && json_object_size(cinfo)) {
			printf("\nCounters:\n");
			const char *k;
			json_t *v;
			json_object_foreach(cinfo, k, v)
			{
				printf("  %-32s %lld\n", k, (long long)json_integer_value(v));
			}
		}
	}
	json_decref(dinfo);
	json_decref(cinfo);
	rc = running && active == 0 ? EXIT_OK : EXIT_FAIL;
out:
	db_status_list_free(objs, nobjs);
	db_fault_list_free(faults, nfaults);
	db_close(db);
	return rc;
}

static void log_usage(FILE *out)
{
	fprintf(out,
	        "Usage: fedgw log show [--level LEVEL] [--grep TEXT] [--limit N] [--offset N]\n"
	        "       fedgw log clear\n"
	        "\n"
	        "show   prints the log kept in the store, oldest first within the page; the\n"
	        "       page holds the newest N matching lines (default 50; 0 = all)\n"
	        "       --level: debug, info, notice, warning, error (that level and above)\n"
	        "       --grep: case-insensitive text in the subsystem or the message\n"
	        "clear  deletes every log line; the clearing itself is logged and audited\n");
}

struct log_clear_ctx {
	size_t removed;
	const char *actor;
};

static enum fg_err log_clear_fn(struct db_txn *txn, void *ctx)
{
	struct log_clear_ctx *c = ctx;
	enum fg_err err = db_log_clear(txn, &c->removed);
	if (err)
		return err;
	char msg[128];
	snprintf(msg, sizeof msg, "%zu log messages cleared by %s", c->removed, c->actor);
	int64_t now = fg_now_ms();
	err = db_log_append(txn, now, FG_LOG_NOTICE, "core", msg);
	if (err)
		return err;
	struct db_audit_entry a = {.time_ms = now, .ok = true};
	fg_strlcpy(a.actor, c->actor, sizeof a.actor);
	fg_strlcpy(a.source, "cli", sizeof a.source);
	fg_strlcpy(a.action, "log.clear", sizeof a.action);
	fg_strlcpy(a.detail, msg, sizeof a.detail);
	return db_audit_append(txn, &a);
}

int daemon_log_main(const struct daemon_opts *o, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		log_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	const char *sub = argv[1];
	struct db_log_filter filter = {.min_level = FG_LOG_DEBUG, .limit = 50};
	for (int i = 2; i < argc; i++) {
		uint64_t v;
		if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
			if (!fg_log_level_parse(argv[++i], &filter.min_level)) {
				fprintf(stderr, "fedgw log: unknown level \"%s\"\n", argv[i]);
				return EXIT_USAGE;
			}
		} else if (strcmp(argv[i], "--grep") == 0 && i + 1 < argc) {
			filter.text = argv[++i];
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			if (!fg_parse_u64(argv[++i], 0, 1000000, &v)) {
				fprintf(stderr, "fedgw log: --limit must be a number\n");
				return EXIT_USAGE;
			}
			filter.limit = (size_t)v;
		} else if (strcmp(argv[i], "--offset") == 0 && i + 1 < argc) {
			if (!fg_parse_u64(argv[++i], 0, 1000000000, &v)) {
				fprintf(stderr, "fedgw log: --offset must be a number\n");
				return EXIT_USAGE;
			}
			filter.offset = (size_t)v;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			log_usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "fedgw log %s: unexpected argument \"%s\"\n", sub, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (strcmp(sub, "show") != 0 && strcmp(sub, "clear") != 0) {
		fprintf(stderr, "fedgw log: unknown action \"%s\"\n\n", sub);
		log_usage(stderr);
		return EXIT_USAGE;
	}
	struct db *db = NULL;
	int rc = daemon_open_store(o, &db);
	if (rc != EXIT_OK)
		return rc;
	enum fg_err err;
	if (strcmp(sub, "clear") == 0) {
		struct log_clear_ctx c = {0, daemon_cli_actor()};
		err = db_write(db, log_clear_fn, &c);
		if (!err)
			printf("%zu log messages cleared.\n", c.removed);
	} else {
		struct db_txn *txn = NULL;
		struct db_log_entry *e = NULL;
		size_t n = 0, total = 0;
		err = db_txn_begin(db, &txn);
		if (!err) {
			err = db_log_query(txn, &filter, &e, &n, &total);
			db_txn_end(txn);
		}
		if (!err) {
			for (size_t i = n; i-- > 0;) {
				char when[32];
				fg_format_utc(when, sizeof when, e[i].time_ms);
				printf("%s %-7s %s: %s\n", when, fg_log_level_name(e[i].level),
				       e[i].subsys, e[i].msg);
			}
			if (total > n)
				fprintf(stderr,
				        "(%zu of %zu matching lines; --limit 0 shows all)\n", n,
				        total);
			db_log_list_free(e, n);
		}
	}
	if (err) {
		fprintf(stderr, "fedgw log %s: %s\n", sub, fg_strerror(err));
		rc = EXIT_FAIL;
	}
	db_close(db);
	return rc;
}
