/* daemon: the log sink that keeps log records in the store (bounded there). */
#include "daemon/daemon.h"

#include "db/db.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Records wait here between a log call and the next flush (at most ~200 ms in `serve`).
 * Past the cap, records are counted and reported as dropped rather than stalling. */
#define LOGSTORE_QUEUE_MAX 4096

struct queued {
	int64_t time_ms;
	enum fg_log_level level;
	char subsys[FG_LOG_SUBSYS_MAX];
	char msg[FG_LOG_MSG_MAX];
};

static struct {
	pthread_mutex_t lock;
	struct db *db;
	int sink;
	struct queued *q;
	size_t n;
	size_t dropped;
} ls = {.lock = PTHREAD_MUTEX_INITIALIZER, .sink = -1};

static struct queued queue_storage[LOGSTORE_QUEUE_MAX];

static void logstore_sink(void *ctx, const struct fg_log_record *rec)
{
	(void)ctx;
	pthread_mutex_lock(&ls.lock);
	if (ls.n < LOGSTORE_QUEUE_MAX) {
		struct queued *e = &ls.q[ls.n++];
		e->time_ms = rec->time_ms;
		e->level = rec->level;
		fg_strlcpy(e->subsys, rec->subsys, sizeof e->subsys);
		fg_strlcpy(e->msg, rec->msg, sizeof e->msg);
	} else {
		ls.dropped++;
	}
	pthread_mutex_unlock(&ls.lock);
}

void daemon_logstore_attach(struct db *db)
{
	ls.db = db;
	ls.q = queue_storage;
	ls.sink = fg_log_add_sink(logstore_sink, NULL, FG_LOG_INFO);
}

struct flush_ctx {
	struct queued *items;
	size_t n;
	size_t dropped;
};

static enum fg_err flush_fn(struct db_txn *txn, void *ctx)
{
	struct flush_ctx *c = ctx;
	enum fg_err err = FG_OK;
	for (size_t i = 0; i < c->n && !err; i++)
		err = db_log_append(txn, c->items[i].time_ms, c->items[i].level, c->items[i].subsys,
		                    c->items[i].msg);
	if (!err && c->dropped) {
		char msg[128];
		snprintf(msg, sizeof msg,
		         "%zu log messages were dropped (logging faster than "
		         "the store could keep them)",
		         c->dropped);
		err = db_log_append(txn, fg_now_ms(), FG_LOG_WARN, "core", msg);
	}
	return err;
}

void daemon_logstore_flush(void)
{
	static struct queued batch[LOGSTORE_QUEUE_MAX];
	if (!ls.db)
		return;
	pthread_mutex_lock(&ls.lock);
	struct flush_ctx c = {batch, ls.n, ls.dropped};
	memcpy(batch, ls.q, ls.n * sizeof batch[0]);
	ls.n = 0;
	ls.dropped = 0;
	pthread_mutex_unlock(&ls.lock);
	if (c.n == 0 && c.dropped == 0)
		return;
	enum fg_err err = db_write(ls.db, flush_fn, &c);
	if (err)
		fprintf(stderr, "fedgw: could not write %zu log records to the store: %s\n", c.n,
		        fg_strerror(err));
}

void daemon_logstore_detach(void)
{
	daemon_logstore_flush();
	fg_log_remove_sink(ls.sink);
	ls.sink = -1;
	ls.db = NULL;
}
