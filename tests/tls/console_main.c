/* tls_console test: runs the real console transport on a temporary store until SIGTERM. */
#include "db/db.h"
#include "status/status.h"
#include "webui/webui.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Usage: console_main DATA_DIR BIND PORT CHAIN KEY [FAULTS_FILE [NEW_PORT [CHAIN2 KEY2]]]
 * Stores the certificate and key, starts the console, and on SIGUSR1 writes the active
 * fault ids and the listener state to FAULTS_FILE; SIGHUP reconfigures to NEW_PORT and the
 * second certificate. */

struct put_ctx {
	struct db_cert cert;
	struct db_key key;
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct fg_buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fg_buf_append(&b, chunk, n);
	fclose(f);
	fg_buf_cstr(&b);
	return (char *)b.data;
}

static enum fg_err put_fn(struct db_txn *txn, void *ctx)
{
	struct put_ctx *p = ctx;
	enum fg_err err = db_key_put(txn, &p->key);
	if (!err)
		err = db_cert_put(txn, &p->cert);
	return err;
}

/* Reads a chain and key and stores them as one certificate record with its key. */
static bool store_creds(struct db *db, struct put_ctx *p, const char *chain, const char *key,
                        const char *name)
{
	db_new_id(p->key.id);
	fg_strlcpy(p->key.type, "ec-p256", sizeof(p->key.type));
	p->key.pem = read_file(key);
	db_new_id(p->cert.id);
	fg_strlcpy(p->cert.name, name, sizeof(p->cert.name));
	p->cert.kind = DB_CERT_LEAF;
	fg_strlcpy(p->cert.key_id, p->key.id, sizeof(p->cert.key_id));
	p->cert.pem = read_file(chain);
	if (!p->key.pem || !p->cert.pem || db_write(db, put_fn, p) != FG_OK) {
		fprintf(stderr, "cannot store the credentials %s\n", chain);
		return false;
	}
	return true;
}

static struct webui *console;
static const char *faults_path;
static uv_signal_t sig_term, sig_usr1, sig_hup;
static struct webui_config new_cfg;

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void term_cb(uv_signal_t *h, int signum)
{
	webui_stop(console);
	console = NULL;
	uv_signal_stop(&sig_term);
	uv_signal_stop(&sig_usr1);
	uv_signal_stop(&sig_hup);
	uv_walk(h->loop, close_walk_cb, NULL);
}

static void hup_cb(uv_signal_t *h, int signum)
{
	if (console && new_cfg.port)
		webui_reconfigure(console, &new_cfg);
}

static void usr1_cb(uv_signal_t *h, int signum)
{
	FILE *f = fopen(faults_path, "w");
	if (!f)
		return;
	const char *st = status_state("listener:console");
	fprintf(f, "listener %s\n", st ? st : "unknown");
	fprintf(f, "console.bind %s\n", status_fault_active("console.bind") ? "active" : "clear");
	fprintf(f, "console.cert %s\n", status_fault_active("console.cert") ? "active" : "clear");
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s DATA_DIR BIND PORT CHAIN KEY [FAULTS_FILE]\n", argv[0]);
		return 2;
	}
	uint64_t port;
	if (!fg_parse_u64(argv[3], 1, 65535, &port))
		return 2;
	faults_path = argc > 6 ? argv[6] : "/dev/null";
	signal(SIGPIPE, SIG_IGN);
	fg_log_add_sink(fg_log_stderr_sink, NULL, FG_LOG_DEBUG);

	struct db *db = NULL;
	if (db_open(&db, argv[1]) != FG_OK) {
		fprintf(stderr, "cannot open store %s\n", argv[1]);
		return 1;
	}
	struct put_ctx p = {0}, p2 = {0};
	if (!store_creds(db, &p, argv[4], argv[5], "console test"))
		return 1;
	/* Optional second certificate, selected by SIGHUP with the new port. */
	if (argc > 9 && !store_creds(db, &p2, argv[8], argv[9], "console test 2"))
		return 1;

	uv_loop_t loop;
	uv_loop_init(&loop);
	status_init(db, fg_now_ms());
	struct webui_config cfg = {.port = (uint16_t)port, .session_idle_ms = 1800000};
	fg_strlcpy(cfg.bind_addr, argv[2], sizeof(cfg.bind_addr));
	fg_strlcpy(cfg.cert_id, p.cert.id, sizeof(cfg.cert_id));
	if (webui_start(&console, &loop, db, &cfg, "test", fg_now_ms()) != FG_OK) {
		fprintf(stderr, "webui_start failed\n");
		return 1;
	}
	uv_signal_init(&loop, &sig_term);
	uv_signal_init(&loop, &sig_usr1);
	uv_signal_start(&sig_term, term_cb, SIGTERM);
	uv_signal_start(&sig_usr1, usr1_cb, SIGUSR1);
	new_cfg = cfg;
	new_cfg.port = 0;
	if (argc > 7 && fg_parse_u64(argv[7], 1, 65535, &port))
		new_cfg.port = (uint16_t)port;
	if (p2.cert.id[0])
		fg_strlcpy(new_cfg.cert_id, p2.cert.id, sizeof(new_cfg.cert_id));
	uv_signal_init(&loop, &sig_hup);
	uv_signal_start(&sig_hup, hup_cb, SIGHUP);
	fprintf(stderr, "console_main ready\n");
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	status_shutdown();
	db_cert_clear(&p.cert);
	db_key_clear(&p.key);
	db_cert_clear(&p2.cert);
	db_key_clear(&p2.key);
	db_close(db);
	fprintf(stderr, "console_main stopped (loop close %d)\n", rc);
	return rc == 0 ? 0 : 1;
}
