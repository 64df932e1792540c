/* daemon: `fedgw serve` — the event loop, signals, the console, live configuration and
 * the engine's own fault checks. */
#include "daemon/daemon.h"

#include "certs/certs.h"
#include "db/db.h"
#include "status/status.h"
#include "webui/webui.h"
#include "s2s/s2s.h"
#include "sipgw/sipgw.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <uv.h>

/* How often the daemon looks for changes made by another process (the CLI): the
 * configuration must apply within a second. */
#define SERVE_GENERATION_POLL_MS 500
#define SERVE_LOG_FLUSH_MS       200
#define SERVE_STATUS_FLUSH_MS    1000
#define SERVE_CHECK_MS           60000
/* The file system holding the store is reported when it is this full. */
#define SERVE_DISK_FULL_PERCENT 90

struct serve {
	uv_loop_t loop;
	struct db *db;
	struct webui *console;
	struct s2s_engine *s2s;
	struct sipgw *sipgw;
	struct webui_config console_cfg;
	const char *bind_override;
	int port_override;
	const char *log_file;
	FILE *log_fp;
	int log_file_sink;
	uint64_t generation;
	int64_t started_ms;
	int lock_fd;
	char hostname[256];
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t log_timer, status_timer, gen_timer, check_timer, apply_timer;
	int watch;
	bool stopping;
};

static void file_sink(void *ctx, const struct fg_log_record *rec)
{
	struct serve *s = ctx;
	if (!s->log_fp)
		return;
	char when[32];
	fg_format_utc(when, sizeof when, rec->time_ms);
	fprintf(s->log_fp, "%s %s %s: %s\n", when, fg_log_level_name(rec->level), rec->subsys,
	        rec->msg);
	fflush(s->log_fp);
}

static void reopen_log_file(struct serve *s)
{
	if (!s->log_file)
		return;
	FILE *fp = fopen(s->log_file, "a");
	if (!fp) {
		fg_log(FG_LOG_ERR, "core", "cannot open log file %s: %s", s->log_file,
		       strerror(errno));
		return;
	}
	FILE *old = s->log_fp;
	s->log_fp = fp;
	if (old)
		fclose(old);
}

/* ---- configuration ------------------------------------------------------------------ */

static void setting_or(struct db_txn *txn, const char *key, char *out, size_t outsize,
                       const char *dflt)
{
	if (db_setting_get(txn, key, out, outsize) != FG_OK)
		fg_strlcpy(out, dflt, outsize);
}

static void read_console_config(struct serve *s, struct webui_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	char port[16], idle[32];
	struct db_txn *txn = NULL;
	if (db_txn_begin(s->db, &txn) == FG_OK) {
		setting_or(txn, "console.bind", cfg->bind_addr, sizeof cfg->bind_addr, "0.0.0.0");
		setting_or(txn, "console.port", port, sizeof port, "8443");
		setting_or(txn, "console.cert", cfg->cert_id, sizeof cfg->cert_id, "");
		setting_or(txn, "console.session_idle_s", idle, sizeof idle, "1800");
		db_txn_end(txn);
	} else {
		fg_strlcpy(cfg->bind_addr, "0.0.0.0", sizeof cfg->bind_addr);
		fg_strlcpy(port, "8443", sizeof port);
		fg_strlcpy(idle, "1800", sizeof idle);
	}
	uint64_t v;
	cfg->port = fg_parse_u64(port, 1, 65535, &v) ? (uint16_t)v : FEDGW_DEFAULT_CONSOLE_PORT;
	cfg->session_idle_ms =
	    (fg_parse_u64(idle, 60, 7 * 86400, &v) ? (int64_t)v : FEDGW_DEFAULT_SESSION_IDLE_S) *
	    1000;
	if (s->bind_override)
		fg_strlcpy(cfg->bind_addr, s->bind_override, sizeof cfg->bind_addr);
	if (s->port_override > 0)
		cfg->port = (uint16_t)s->port_override;
}

/* ---- the engine's own checks -------------------------------------------------------- */

struct expiry_scan {
	char keep[64][STATUS_ID_MAX];
	size_t nkeep;
};

static void expiry_cb(void *ctx, const struct certs_expiry *e)
{
	struct expiry_scan *scan = ctx;
	char id[STATUS_ID_MAX], object[128], cause[DB_TEXT_MAX], fix[DB_TEXT_MAX], when[32];
	snprintf(id, sizeof id, "cert.expiry.%s", e->id);
	if (scan->nkeep < 64)
		fg_strlcpy(scan->keep[scan->nkeep++], id, sizeof scan->keep[0]);
	fg_format_utc(when, sizeof when, e->not_after_ms);
	snprintf(object, sizeof object, "certificate \"%s\"", e->name);
	bool expired = e->days_left < 0;
	if (expired)
		snprintf(cause, sizeof cause,
		         "The certificate \"%s\" used by %s expired on %s UTC: peers and browsers "
		         "refuse it.",
		         e->name, e->roles, when);
	else
		snprintf(cause, sizeof cause,
		         "The certificate \"%s\" used by %s expires in %lld day%s (%s UTC).",
		         e->name, e->roles, (long long)e->days_left, e->days_left == 1 ? "" : "s",
		         when);
	snprintf(fix, sizeof fix,
	         "Create a key and CSR (or renew with your CA), upload the new certificate and "
	         "select it for %s on the Certificates screen.",
	         e->roles);
	struct status_fault_desc d = {
	    .object = object,
	    .condition = expired ? "Certificate expired" : "Certificate expires soon",
	    .cause = cause,
	    .fix = fix,
	    .detail = NULL,
	    .severity = expired || e->days_left < 7 ? FG_LOG_ERR : FG_LOG_WARN,
	};
	status_fault_raise(id, &d);
}

static void check_certificates(struct serve *s)
{
	static struct expiry_scan scan;
	scan.nkeep = 0;
	int64_t now = fg_now_ms();
	enum fg_err err =
	    certs_expiring(s->db, now, (int64_t)FEDGW_CERT_WARN_DAYS * 86400000, expiry_cb, &scan);
	if (err) {
		fg_log(FG_LOG_ERR, "core", "certificate expiry check failed: %s", fg_strerror(err));
		return;
	}
	/* Clear the faults of certificates renewed, replaced or no longer in use. */
	const char *keep[64];
	for (size_t i = 0; i < scan.nkeep; i++)
		keep[i] = scan.keep[i];
	status_fault_clear_prefix("cert.expiry.", keep, scan.nkeep);
}

static void check_store(struct serve *s)
{
	uint64_t used = 0, map = 0;
	if (db_usage(s->db, &used, &map) == FG_OK && map > 0) {
		char extra[256];
		snprintf(extra, sizeof extra, "{\"used_bytes\":%llu,\"map_bytes\":%llu}",
		         (unsigned long long)used, (unsigned long long)map);
		status_set("store", "store", "configuration store", "ok", "");
		status_set_extra("store", extra);
	}
	struct statvfs vfs;
	if (statvfs(db_dir(s->db), &vfs) != 0 || vfs.f_blocks == 0)
		return;
	unsigned percent = (unsigned)(100 - (uint64_t)vfs.f_bavail * 100 / (uint64_t)vfs.f_blocks);
	if (percent >= SERVE_DISK_FULL_PERCENT) {
		char cause[DB_TEXT_MAX];
		snprintf(cause, sizeof cause,
		         "The file system holding the store (%s) is %u%% full. The store grows as "
		         "configuration and logs are written, and cannot once the disk is full.",
		         db_dir(s->db), percent);
		struct status_fault_desc d = {
		    .object = "store",
		    .condition = "Store disk almost full",
		    .cause = cause,
		    .fix = "Free space on that file system or give the data partition more room; "
		           "clearing the logs frees space inside the store.",
		    .severity = percent >= 98 ? FG_LOG_ERR : FG_LOG_WARN,
		};
		status_fault_raise("store.full", &d);
	} else {
		status_fault_clear("store.full");
	}
}

static void run_checks(struct serve *s)
{
	check_certificates(s);
	check_store(s);
}

/* ---- live configuration ------------------------------------------------------------- */

static void apply_config(struct serve *s)
{
	uint64_t gen = db_generation(s->db);
	if (gen == s->generation)
		return;
	s->generation = gen;
	struct webui_config cfg;
	read_console_config(s, &cfg);
	if (memcmp(&cfg, &s->console_cfg, sizeof cfg) != 0) {
		if (strcmp(cfg.cert_id, s->console_cfg.cert_id) != 0)
			fg_log(FG_LOG_NOTICE, "console",
			       "console certificate changed; new connections use it");
		s->console_cfg = cfg;
		if (s->console)
			webui_reconfigure(s->console, &cfg);
	}
	if (s->s2s)
		s2s_engine_reconfigure(s->s2s);
	if (s->sipgw)
		sipgw_reconfigure(s->sipgw);
	run_checks(s);
}

static void apply_timer_cb(uv_timer_t *t)
{
	apply_config(t->data);
}

static void watch_cb(void *ctx, uint64_t generation, uint32_t kinds_mask)
{
	struct serve *s = ctx;
	(void)generation;
	(void)kinds_mask;
	/* Apply outside the writer's call stack (it may be inside an HTTP request). */
	if (!s->stopping)
		uv_timer_start(&s->apply_timer, apply_timer_cb, 0, 0);
}

static void log_timer_cb(uv_timer_t *t)
{
	(void)t;
	daemon_logstore_flush();
}

static void status_timer_cb(uv_timer_t *t)
{
	struct serve *s = t->data;
	char extra[512];
	snprintf(extra, sizeof extra,
	         "{\"version\":\"%s\",\"pid\":%ld,\"started_ms\":%lld,\"hostname\":\"%s\"}",
	         daemon_version(), (long)getpid(), (long long)s->started_ms, s->hostname);
	status_set_extra("daemon", extra);
	status_flush(fg_now_ms());
}

static void check_timer_cb(uv_timer_t *t)
{
	run_checks(t->data);
}

/* ---- signals and shutdown ----------------------------------------------------------- */

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop(struct serve *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = true;
	fg_log(FG_LOG_NOTICE, "core", "shutting down (%s)", why);
	if (s->console) {
		webui_stop(s->console);
		s->console = NULL;
	}
	if (s->s2s) {
		s2s_engine_stop(s->s2s);
		s->s2s = NULL;
	}
	/* after the federation engine: its last verdicts still answer pending SIP requests,
	 * and removing a stopped engine's SIP-mapped domains closes no stream twice */
	if (s->sipgw) {
		sipgw_stop(s->sipgw);
		s->sipgw = NULL;
	}
	uv_timer_stop(&s->log_timer);
	uv_timer_stop(&s->status_timer);
	uv_timer_stop(&s->gen_timer);
	uv_timer_stop(&s->check_timer);
	uv_timer_stop(&s->apply_timer);
	uv_signal_stop(&s->sigterm);
	uv_signal_stop(&s->sigint);
	uv_signal_stop(&s->sighup);
	uv_walk(&s->loop, close_walk_cb, NULL);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct serve *s = h->data;
	if (signum == SIGHUP) {
		fg_log(FG_LOG_NOTICE, "core", "SIGHUP: reopening the log file");
		reopen_log_file(s);
		return;
	}
	stop(s, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- the data directory lock -------------------------------------------------------- */

static int lock_data_dir(const char *dir, int *fd_out)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/fedgw.pid", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "fedgw: cannot open %s: %s\n", path, strerror(errno));
		return EXIT_STORE;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		long pid = 0;
		daemon_is_running(dir, &pid);
		fprintf(stderr,
		        "fedgw: another fedgw serve (pid %ld) is already running on %s.\n"
		        "Stop it first (systemctl stop fedgw), or use another --data-dir.\n",
		        pid, dir);
		close(fd);
		return EXIT_FAIL;
	}
	char pidtext[32];
	int n = snprintf(pidtext, sizeof pidtext, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, pidtext, (size_t)n) != n)
		fprintf(stderr, "fedgw: cannot write %s: %s\n", path, strerror(errno));
	*fd_out = fd;
	return EXIT_OK;
}

bool daemon_is_running(const char *data_dir, long *pid_out)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/fedgw.pid", data_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool running = flock(fd, LOCK_SH | LOCK_NB) != 0;
	if (running && pid_out) {
		char buf[32] = {0};
		ssize_t n = read(fd, buf, sizeof buf - 1);
		uint64_t v = 0;
		if (n > 0) {
			buf[strcspn(buf, "\n")] = '\0';
			if (fg_parse_u64(buf, 1, INT32_MAX, &v))
				*pid_out = (long)v;
		}
	}
	close(fd);
	return running;
}

/* ---- main --------------------------------------------------------------------------- */

static void serve_usage(FILE *out)
{
	fprintf(out,
	        "Usage: fedgw serve [--data-dir DIR] [options]\n"
	        "\n"
	        "Runs the gateway in the foreground (systemd runs it so): the federation engine\n"
	        "and the HTTPS admin console. Logs go to stderr (journald) and to the store.\n"
	        "\n"
	        "Options:\n"
	        "  --data-dir DIR       the store (default " FEDGW_DEFAULT_DATA_DIR ")\n"
	        "  --console-bind ADDR  console address for this run (default: setting\n"
	        "                       console.bind, else 0.0.0.0)\n"
	        "  --console-port PORT  console port for this run (default: setting\n"
	        "                       console.port, else 8443)\n"
	        "  --log-level LEVEL    debug, info, notice, warning or error on stderr\n"
	        "                       (default info)\n"
	        "  --log-file PATH      also append logs to PATH (reopened on SIGHUP)\n"
	        "  -h, --help           this help\n"
	        "\n"
	        "Signals: SIGTERM or SIGINT stop cleanly; SIGHUP reopens the log file.\n");
}

int daemon_serve_main(const struct daemon_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"console-bind", required_argument, NULL, 'b'},
	    {"console-port", required_argument, NULL, 'p'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"log-file", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct serve s;
	memset(&s, 0, sizeof s);
	s.lock_fd = -1;
	s.log_file_sink = -1;
	s.watch = -1;
	enum fg_log_level stderr_level = FG_LOG_INFO;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		uint64_t v;
		switch (c) {
		case 'b':
			s.bind_override = optarg;
			break;
		case 'p':
			if (!fg_parse_u64(optarg, 1, 65535, &v)) {
				fprintf(stderr,
				        "fedgw serve: --console-port must be 1-65535, not "
				        "\"%s\"\n",
				        optarg);
				return EXIT_USAGE;
			}
			s.port_override = (int)v;
			break;
		case 'l':
			if (!fg_log_level_parse(optarg, &stderr_level)) {
				fprintf(stderr,
				        "fedgw serve: unknown log level \"%s\" (debug, info, "
				        "notice, warning, error)\n",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			s.log_file = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return EXIT_OK;
		default:
			serve_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fedgw serve: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}

	signal(SIGPIPE, SIG_IGN);
	int stderr_sink = fg_log_add_sink(fg_log_stderr_sink, NULL, stderr_level);
	int rc = daemon_open_store(o, &s.db);
	if (rc != EXIT_OK)
		goto out;
	rc = lock_data_dir(o->data_dir, &s.lock_fd);
	if (rc != EXIT_OK)
		goto out;
	reopen_log_file(&s);
	if (s.log_file)
		s.log_file_sink = fg_log_add_sink(file_sink, &s, FG_LOG_INFO);
	daemon_logstore_attach(s.db);
	s.started_ms = fg_now_ms();
	status_init(s.db, s.started_ms);
	status_set("daemon", "daemon", "fedgw", "running", "");

	char addrs[16][64];
	size_t naddrs = 0;
	daemon_host_identity(s.hostname, sizeof s.hostname, addrs, 16, &naddrs);
	const char *addr_ptrs[16];
	for (size_t i = 0; i < naddrs; i++)
		addr_ptrs[i] = addrs[i];
	enum fg_err err = certs_console_ensure(s.db, s.hostname, addr_ptrs, naddrs, s.started_ms);
	if (err)
		fg_log(FG_LOG_ERR, "console", "could not make the console certificate: %s",
		       fg_strerror(err));

	uv_loop_init(&s.loop);
	s.generation = db_generation(s.db);
	read_console_config(&s, &s.console_cfg);
	fg_log(FG_LOG_NOTICE, "core", "fedgw %s starting (data directory %s)", daemon_version(),
	       o->data_dir);
	err =
	    webui_start(&s.console, &s.loop, s.db, &s.console_cfg, daemon_version(), s.started_ms);
	if (err)
		fg_log(FG_LOG_ERR, "console", "the console could not start: %s", fg_strerror(err));
	err = s2s_engine_start(&s.s2s, &s.loop, s.db, daemon_version());
	if (err)
		fg_log(FG_LOG_ERR, "xmpp", "the federation engine could not start: %s",
		       fg_strerror(err));
	/* the engine may have written the dialback secret: do not re-apply for that */
	s.generation = db_generation(s.db);
	err = sipgw_start(&s.sipgw, &s.loop, s.db, s.s2s);
	if (err)
		fg_log(FG_LOG_ERR, "sip", "the SIP gateway could not start: %s", fg_strerror(err));

	uv_signal_init(&s.loop, &s.sigterm);
	uv_signal_init(&s.loop, &s.sigint);
	uv_signal_init(&s.loop, &s.sighup);
	s.sigterm.data = s.sigint.data = s.sighup.data = &s;
	uv_signal_start(&s.sigterm, signal_cb, SIGTERM);
	uv_signal_start(&s.sigint, signal_cb, SIGINT);
	uv_signal_start(&s.sighup, signal_cb, SIGHUP);
	uv_timer_t *timers[] = {&s.log_timer, &s.status_timer, &s.gen_timer, &s.check_timer,
	                        &s.apply_timer};
	for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
		uv_timer_init(&s.loop, timers[i]);
		timers[i]->data = &s;
	}
	uv_timer_start(&s.log_timer, log_timer_cb, SERVE_LOG_FLUSH_MS, SERVE_LOG_FLUSH_MS);
	uv_timer_start(&s.status_timer, status_timer_cb, 0, SERVE_STATUS_FLUSH_MS);
	uv_timer_start(&s.gen_timer, apply_timer_cb, SERVE_GENERATION_POLL_MS,
	               SERVE_GENERATION_POLL_MS);
	uv_timer_start(&s.check_timer, check_timer_cb, 0, SERVE_CHECK_MS);
	s.watch = db_watch(s.db, watch_cb, &s);

	uv_run(&s.loop, UV_RUN_DEFAULT);

	db_unwatch(s.db, s.watch);
	status_set("daemon", "daemon", "fedgw", "stopped", "clean shutdown");
	status_flush(fg_now_ms());
	fg_log(FG_LOG_NOTICE, "core", "stopped");
	uv_loop_close(&s.loop);
	rc = EXIT_OK;
out:
	daemon_logstore_detach();
	status_shutdown();
	fg_log_remove_sink(s.log_file_sink);
	if (s.log_fp)
		fclose(s.log_fp);
	if (s.lock_fd >= 0)
		close(s.lock_fd);
	db_close(s.db);
	fg_log_remove_sink(stderr_sink);
	return rc;
}
