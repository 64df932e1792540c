/* store_crash: a writer killed with SIGKILL mid-write never loses or corrupts a commit. */
#include "db/db.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLS 100
/* The child writes at most this many before giving up (it is always killed long before). */
#define CHILD_WRITES_MAX 1000000

struct crash_write {
	uint64_t n;
};

static enum fg_err write_fn(struct db_txn *txn, void *ctx)
{
	const struct crash_write *w = ctx;
	char key[32], val[32];
	snprintf(key, sizeof key, "k%llu", (unsigned long long)w->n);
	snprintf(val, sizeof val, "v%llu", (unsigned long long)w->n);
	enum fg_err err = db_setting_put(txn, key, val);
	if (err)
		return err;
	struct db_allow_entry e = {.port = (uint16_t)(w->n % 65536), .tls = DB_TLS_REQUIRED};
	snprintf(e.domain, sizeof e.domain, "d%llu.example", (unsigned long long)w->n);
	snprintf(e.description, sizeof e.description, "v%llu", (unsigned long long)w->n);
	return db_allow_put(txn, &e);
}

/* The child: configuration writes in a loop, reporting each number after its commit. A
 * pipe write of 8 bytes is atomic (PIPE_BUF) and outlives the killed writer. */
static _Noreturn void run_child(const char *dir, uint64_t first, int fd)
{
	struct db *db;
	if (db_open(&db, dir) != FG_OK)
		_exit(2);
	for (uint64_t n = first; n < first + CHILD_WRITES_MAX; n++) {
		struct crash_write w = {n};
		if (db_write(db, write_fn, &w) != FG_OK)
			_exit(3);
		if (write(fd, &n, sizeof n) != (ssize_t)sizeof n)
			_exit(4);
	}
	_exit(0);
}

static bool verify(struct db *db, uint64_t from, uint64_t to)
{
	struct db_txn *txn;
	if (db_txn_begin(db, &txn) != FG_OK) {
		fprintf(stderr, "store_crash: cannot begin a read transaction\n");
		return false;
	}
	bool ok = true;
	for (uint64_t n = from; n <= to && ok; n++) {
		char key[32], want[32], got[64];
		snprintf(key, sizeof key, "k%llu", (unsigned long long)n);
		snprintf(want, sizeof want, "v%llu", (unsigned long long)n);
		enum fg_err err = db_setting_get(txn, key, got, sizeof got);
		if (err || strcmp(got, want) != 0) {
			fprintf(stderr, "store_crash: setting %s lost or damaged (%s)\n", key,
			        fg_strerror(err));
			ok = false;
			break;
		}
		struct db_allow_entry e;
		snprintf(key, sizeof key, "d%llu.example", (unsigned long long)n);
		err = db_allow_get(txn, key, &e);
		if (err || strcmp(e.description, want) != 0 || e.port != n % 65536 ||
		    e.tls != DB_TLS_REQUIRED) {
			fprintf(stderr, "store_crash: allow entry %s lost or damaged (%s)\n", key,
			        fg_strerror(err));
			ok = false;
		}
	}
	db_txn_end(txn);
	return ok;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* With --live the parent keeps its own handle open the whole time, as the daemon does while
 * a CLI process writes and dies: the survivor must recover LMDB's locks and keep writing. */
static enum fg_err parent_fn(struct db_txn *txn, void *ctx)
{
	char val[16];
	snprintf(val, sizeof val, "%d", *(const int *)ctx);
	return db_setting_put(txn, "parent.kill", val);
}

int main(int argc, char **argv)
{
	bool live = argc > 1 && strcmp(argv[1], "--live") == 0;
	struct db *live_db = NULL;
	char dir[] = "/tmp/fgdb-crash-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	int rc = 1;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	const char *s = getenv("STORE_CRASH_SEED");
	if (s)
		seed = (unsigned)strtoul(s, NULL, 10);
	srand(seed);
	fg_log_add_sink(fg_log_stderr_sink, NULL, FG_LOG_WARN);

	/* The store exists before the first child, as on an appliance. */
	struct db *db;
	if (db_open(&db, dir) != FG_OK) {
		fprintf(stderr, "store_crash: cannot create the store\n");
		goto out;
	}
	db_close(db);
	if (live && db_open(&live_db, dir) != FG_OK) {
		fprintf(stderr, "store_crash: cannot open the store\n");
		goto out;
	}

	uint64_t committed = 0; /* writes 1..committed were reported by children */
	for (int kill_no = 0; kill_no < KILLS; kill_no++) {
		int p[2];
		if (pipe(p) != 0) {
			perror("pipe");
			goto out;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			goto out;
		}
		if (pid == 0) {
			close(p[0]);
			run_child(dir, committed + 1, p[1]);
		}
		close(p[1]);
		sleep_ms(1 + rand() % 30);
		kill(pid, SIGKILL);
		int status = 0;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFSIGNALED(status)) {
			fprintf(stderr, "store_crash: child exited with %d before the kill\n",
			        WEXITSTATUS(status));
			close(p[0]);
			goto out;
		}
		uint64_t first = committed + 1, n;
		ssize_t got;
		while ((got = read(p[0], &n, sizeof n)) == (ssize_t)sizeof n) {
			if (n != committed + 1) {
				fprintf(stderr, "store_crash: child reported %llu after %llu\n",
				        (unsigned long long)n, (unsigned long long)committed);
				close(p[0]);
				goto out;
			}
			committed = n;
		}
		close(p[0]);
		if (got != 0) {
			fprintf(stderr, "store_crash: partial report from the child\n");
			goto out;
		}
		if (live) {
			db = live_db;
		} else if (db_open(&db, dir) != FG_OK) {
			fprintf(stderr, "store_crash: store does not open after kill %d\n",
			        kill_no + 1);
			goto out;
		}
		bool ok = verify(db, first, committed);
		uint64_t gen = db_generation(db);
		if (gen < committed) {
			fprintf(stderr,
			        "store_crash: generation %llu below %llu committed writes\n",
			        (unsigned long long)gen, (unsigned long long)committed);
			ok = false;
		}
		/* Every tenth kill, everything committed so far is checked again. */
		if (ok && kill_no % 10 == 9)
			ok = verify(db, 1, committed);
		if (ok && live && db_write(db, parent_fn, &kill_no) != FG_OK) {
			fprintf(stderr, "store_crash: the surviving handle cannot write\n");
			ok = false;
		}
		if (!live)
			db_close(db);
		if (!ok) {
			fprintf(stderr, "store_crash: failed after kill %d (seed %u)\n",
			        kill_no + 1, seed);
			goto out;
		}
	}
	if (committed == 0) {
		fprintf(stderr, "store_crash: no child ever committed a write (seed %u)\n", seed);
		goto out;
	}
	printf("store_crash%s: %d kills, %llu committed writes verified\n",
	       live ? " (live handle)" : "", KILLS, (unsigned long long)committed);
	rc = 0;
out:
	db_close(live_db);
	nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
}
