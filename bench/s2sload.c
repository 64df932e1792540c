/* s2sload: an XMPP s2s load peer (RFC 6120 streams and STARTTLS, XEP-0220 dialback with
 * XEP-0185 keys, XEP-0199 pings) that measures a target server's round trips and memory. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "base/base.h"
#include "tls/tls.h"
#include "xmpp/xmpp.h"

/* Streams one run may open: 10,000 idle sessions is the target, with room above it. */
#define MAX_STREAMS 60000u
/* Pings in flight per stream: deep enough to saturate any server, bounded memory. */
#define MAX_WINDOW 4096u
/* Source addresses for outgoing connections (each gives ~28,000 ephemeral ports). */
#define MAX_SRC 64u
/* One read; loopback segments are at most 64 KiB. */
#define READ_BUF (64u * 1024u)
/* Plaintext taken out of TLS at once. */
#define APP_BUF (16u * 1024u)
/* Latency samples kept in one measurement: 100k pings/s for a minute. */
#define MAX_SAMPLES (8u * 1024u * 1024u)
/* PEM files read from disk (certificate chain, key, CA bundle). */
#define PEM_FILE_MAX (256u * 1024u)

enum mode { MODE_PING = 0, MODE_IDLE };
enum phase { PH_CONNECT = 0, PH_WARMUP, PH_MEASURE, PH_SETTLE, PH_HOLD, PH_DONE };

struct load;

/* A target's dialback request (XEP-0220 §2.1.2) on an incoming stream, answered after the
 * machine returns: the load peer trusts the server it benchmarks. */
struct db_accept {
	char *local;
	char *remote;
	char *stream_id;
};

struct conn {
	uv_tcp_t tcp;
	struct load *lp;
	struct xmpp_s2s *m;
	struct tls_conn *tls;
	bool outbound;
	bool tls_up;
	bool authed;
	bool dead;
	bool closing;
	uint32_t idx;
	uint64_t sent;
	uint64_t recvd;
	uint64_t *ts_ns; /* send time per window slot (ping mode, outbound) */
	struct db_accept *acc;
	size_t n_acc;
	size_t cap_acc;
	size_t wq; /* uv_write requests in flight */
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	char data[];
};

struct load {
	uv_loop_t *loop;
	enum mode mode;
	enum phase phase;
	const char *domain;
	const char *target_domain;
	struct sockaddr_in target;
	struct sockaddr_in listen_addr;
	struct sockaddr_in src[MAX_SRC];
	size_t n_src;
	uint32_t streams;
	uint32_t window;
	uint32_t batch;
	double warmup_s;
	double duration_s;
	double settle_s;
	double hold_s;
	double timeout_s;
	bool tls;
	int target_pid;
	struct tls_trust *trust;
	struct tls_creds *creds;
	uint8_t secret[32];
	char *ping_fmt_to;

	struct xmpp_s2s_config out_cfg;
	struct xmpp_s2s_config in_cfg;
	const char *local_domains[1];

	uv_tcp_t listener;
	uv_timer_t tick;
	uv_signal_t sigint;
	uv_signal_t sigterm;

	struct conn **outs;
	uint32_t launched;
	uint32_t authed;
	uint32_t failed;
	uint32_t closed_after_auth;
	uint32_t inbound;
	uint64_t phase_start_ns;
	uint64_t start_ns;

	uint64_t pongs;
	uint64_t pong_errors;
	uint64_t m_pongs0;
	uint64_t m_t0_ns;
	uint64_t m_t1_ns;
	uint64_t m_pongs1;
	long cpu0_ticks;
	long cpu1_ticks;
	long rss_before_kb;
	long rss_after_kb;
	uint32_t *lat_us;
	size_t n_lat;
	size_t cap_lat;
	int exit_code;
	char last_error[256];
};

static uint8_t read_buf[READ_BUF];

static void conn_kill(struct conn *c, const char *why);
static void launch_more(struct load *lp);
static void finish(struct load *lp);

/* ---- target process figures (/proc) ------------------------------------------------------ */

/* utime + stime of pid in clock ticks (proc(5) fields 14 and 15), -1 if unreadable. */
static long proc_cpu_ticks(int pid)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: count fields after the last ')' */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	p++;
	unsigned long ut = 0, st = 0;
	/* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
	 * utime(14) stime(15) */
	if (sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

static long proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* ---- writing ------------------------------------------------------------------------------- */

static void write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;
	c->wq--;
	free(w);
	if (status < 0 && !c->dead)
		conn_kill(c, uv_strerror(status));
}

static void raw_write(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->dead || len == 0)
		return;
	if (c->wq == 0) {
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
		int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (r >= 0) {
			data += r;
			len -= (size_t)r;
		} else if (r != UV_EAGAIN) {
			conn_kill(c, uv_strerror(r));
			return;
		}
		if (len == 0)
			return;
	}
	struct wreq *w = malloc(sizeof(*w) + len);
	if (w == NULL) {
		conn_kill(c, "out of memory");
		return;
	}
	w->c = c;
	memcpy(w->data, data, len);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (r != 0) {
		free(w);
		conn_kill(c, uv_strerror(r));
		return;
	}
	c->wq++;
}

static bool tls_write_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;
	raw_write(c, buf, len);
	return !c->dead;
}

static void tls_pump(struct conn *c)
{
	if (c->tls != NULL && !c->dead)
		(void)tls_conn_pump(c->tls, tls_write_cb, c);
}

static void conn_send(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->dead)
		return;
	if (c->tls == NULL) {
		raw_write(c, data, len);
		return;
	}
	if (tls_conn_state(c->tls) != TLS_STATE_ESTABLISHED)
		return;
	if (tls_conn_write_all(c->tls, data, len, tls_write_cb, c) != FG_OK)
		conn_kill(c, tls_conn_error_text(c->tls));
}

/* ---- pings (XEP-0199) ------------------------------------------------------------------------ */

static void send_ping(struct conn *c, uint64_t now_ns)
{
	struct load *lp = c->lp;
	char buf[512];
	uint64_t seq = c->sent++;
	int n = snprintf(buf, sizeof(buf),
	                 "<iq type='get' from='%s' to='%s' id='%" PRIu32 ".%" PRIu64 "'>"
	                 "<ping xmlns='urn:xmpp:ping'/></iq>",
	                 lp->domain, lp->target_domain, c->idx, seq);
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return;
	c->ts_ns[seq % lp->window] = now_ns;
	conn_send(c, (const uint8_t *)buf, (size_t)n);
}

static void record_latency(struct load *lp, uint64_t ns)
{
	if (lp->n_lat == lp->cap_lat) {
		if (lp->cap_lat >= MAX_SAMPLES)
			return;
		size_t cap = lp->cap_lat ? lp->cap_lat * 2 : 65536;
		uint32_t *p = realloc(lp->lat_us, cap * sizeof(*p));
		if (p == NULL)
			return;
		lp->lat_us = p;
		lp->cap_lat = cap;
	}
	uint64_t us = ns / 1000u;
	lp->lat_us[lp->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* A result from the target on one of its streams to us: id "<stream>.<seq>". */
static void on_pong(struct load *lp, const struct xmpp_node *st)
{
	const char *type = xmpp_node_attr(st, "type");
	const char *id = xmpp_node_attr(st, "id");
	if (!xmpp_node_is(st, XMPP_NS_SERVER, "iq") || type == NULL || id == NULL)
		return;
	if (strcmp(type, "result") != 0) {
		lp->pong_errors++;
		return;
	}
	char *end = NULL;
	errno = 0;
	unsigned long idx = strtoul(id, &end, 10);
	if (errno != 0 || end == id || *end != '.' || idx >= lp->launched)
		return;
	const char *sp = end + 1;
	unsigned long long seq = strtoull(sp, &end, 10);
	if (errno != 0 || end == sp || *end != '\0')
		return;
	struct conn *c = lp->outs[idx];
	if (c == NULL || c->dead || seq >= c->sent || seq + lp->window < c->sent)
		return;
	uint64_t now = uv_hrtime();
	c->recvd++;
	lp->pongs++;
	if (lp->phase == PH_MEASURE)
		record_latency(lp, now - c->ts_ns[seq % lp->window]);
	if (lp->phase == PH_WARMUP || lp->phase == PH_MEASURE)
		send_ping(c, now);
}

/* ---- the s2s machine's actions ----------------------------------------------------------------
 */

static void start_tls(struct conn *c)
{
	struct load *lp = c->lp;
	struct tls_config tc = {0};
	if (c->outbound) {
		tc.role = TLS_ROLE_CLIENT;
		tc.trust = lp->trust;
		tc.server_name = lp->target_domain;
	} else {
		tc.role = TLS_ROLE_SERVER;
		tc.creds = lp->creds;
	}
	if (tls_conn_new(&c->tls, &tc) != FG_OK) {
		conn_kill(c, "TLS set-up failed");
		return;
	}
	tls_pump(c); /* the client's hello */
}

static void action_cb(void *ctx, const struct xmpp_action *a)
{
	struct conn *c = ctx;
	struct load *lp = c->lp;
	switch (a->kind) {
	case XMPP_ACT_SEND:
		conn_send(c, a->data, a->len);
		break;
	case XMPP_ACT_START_TLS:
		start_tls(c);
		break;
	case XMPP_ACT_AUTHENTICATED:
		if (c->outbound && !c->authed) {
			c->authed = true;
			lp->authed++;
		}
		break;
	case XMPP_ACT_DIALBACK_VERIFY: {
		if (c->n_acc == c->cap_acc) {
			size_t cap = c->cap_acc ? c->cap_acc * 2 : 4;
			struct db_accept *p = realloc(c->acc, cap * sizeof(*p));
			if (p == NULL)
				break;
			c->acc = p;
			c->cap_acc = cap;
		}
		struct db_accept *d = &c->acc[c->n_acc];
		d->local = strdup(a->local);
		d->remote = strdup(a->remote);
		d->stream_id = strdup(a->stream_id);
		if (d->local && d->remote && d->stream_id) {
			c->n_acc++;
		} else {
			free(d->local);
			free(d->remote);
			free(d->stream_id);
		}
		break;
	}
	case XMPP_ACT_DELIVER:
		on_pong(lp, a->stanza);
		break;
	case XMPP_ACT_CLOSE:
		if (a->condition != XMPP_SE_NONE)
			snprintf(lp->last_error, sizeof(lp->last_error),
			         "%s stream closed: %s (%s)", c->outbound ? "outgoing" : "incoming",
			         xmpp_stream_error_name(a->condition), a->text ? a->text : "");
		conn_kill(c, a->text ? a->text : "closed");
		break;
	case XMPP_ACT_VERIFY_RESULT:
	case XMPP_ACT_TIMER_ARM:
	case XMPP_ACT_TIMER_CANCEL:
		/* timers: the runner bounds the whole run; sessions must stay up while idle */
		break;
	}
}

static void accept_pending(struct conn *c)
{
	while (c->n_acc > 0 && !c->dead) {
		struct db_accept d = c->acc[--c->n_acc];
		xmpp_s2s_dialback_result(c->m, d.local, d.remote, d.stream_id, true,
		                         (int64_t)uv_now(c->lp->loop));
		free(d.local);
		free(d.remote);
		free(d.stream_id);
	}
}

static void feed_plain(struct conn *c, const uint8_t *buf, size_t len)
{
	xmpp_s2s_feed(c->m, buf, len, (int64_t)uv_now(c->lp->loop));
	accept_pending(c);
}

static bool tls_plain_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;
	feed_plain(c, buf, len);
	return !c->dead;
}

static void feed_tls(struct conn *c, const uint8_t *buf, size_t len)
{
	static uint8_t app[APP_BUF];
	while (!c->dead && c->tls != NULL) {
		size_t used = 0;
		if (len > 0 && tls_conn_feed(c->tls, buf, len, &used) != FG_OK) {
			snprintf(c->lp->last_error, sizeof(c->lp->last_error), "TLS: %s",
			         tls_conn_error_text(c->tls));
			conn_kill(c, "TLS failed");
			return;
		}
		buf += used;
		len -= used;
		tls_pump(c);
		if (c->dead)
			return;
		enum tls_state st = tls_conn_state(c->tls);
		if (st == TLS_STATE_FAILED || st == TLS_STATE_CLOSED) {
			snprintf(c->lp->last_error, sizeof(c->lp->last_error), "TLS: %s",
			         tls_conn_error_text(c->tls));
			conn_kill(c, "TLS ended");
			return;
		}
		if (st == TLS_STATE_ESTABLISHED && !c->tls_up) {
			c->tls_up = true;
			/* RFC 6120 §5.4.3.3: a fresh stream over TLS */
			xmpp_s2s_tls_started(c->m, false, (int64_t)uv_now(c->lp->loop));
			if (c->dead)
				return;
		}
		bool got_any = tls_conn_read_all(c->tls, app, sizeof(app), tls_plain_cb, c);
		if ((len == 0 || used == 0) && !got_any)
			break;
	}
}

/* ---- connections --------------------------------------------------------------------------------
 */

static void close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	xmpp_s2s_free(c->m);
	tls_conn_free(c->tls);
	for (size_t i = 0; i < c->n_acc; i++) {
		free(c->acc[i].local);
		free(c->acc[i].remote);
		free(c->acc[i].stream_id);
	}
	free(c->acc);
	free(c->ts_ns);
	if (c->outbound && c->lp->outs[c->idx] == c)
		c->lp->outs[c->idx] = NULL;
	free(c);
}

static void conn_kill(struct conn *c, const char *why)
{
	struct load *lp = c->lp;
	if (c->dead)
		return;
	c->dead = true;
	if (c->outbound) {
		if (c->authed)
			lp->closed_after_auth++;
		else
			lp->failed++;
		if (lp->phase != PH_DONE && lp->last_error[0] == '\0')
			snprintf(lp->last_error, sizeof(lp->last_error), "stream %" PRIu32 ": %s",
			         c->idx, why);
	}
	if (!c->closing) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, close_cb);
	}
	if (c->outbound && !c->authed && lp->phase == PH_CONNECT)
		launch_more(lp);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	/* one shared buffer: every read is consumed before the next one starts */
	buf->base = (char *)read_buf;
	buf->len = sizeof(read_buf);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	uint32_t before = c->lp->authed;
	if (n > 0 && !c->dead) {
		if (c->tls != NULL)
			feed_tls(c, (const uint8_t *)buf->base, (size_t)n);
		else
			feed_plain(c, (const uint8_t *)buf->base, (size_t)n);
	} else if (n < 0 && !c->dead) {
		conn_kill(c,
		          n == UV_EOF ? "the target closed the connection" : uv_strerror((int)n));
	}
	if (c->lp->authed != before && c->lp->phase == PH_CONNECT)
		launch_more(c->lp);
}

static struct conn *conn_new(struct load *lp, bool outbound, uint32_t idx)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->lp = lp;
	c->outbound = outbound;
	c->idx = idx;
	if (uv_tcp_init(lp->loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	c->tcp.data = c;
	enum fg_err err;
	if (outbound) {
		err = xmpp_s2s_new(&c->m, XMPP_S2S_INITIATING, &lp->out_cfg, lp->domain,
		                   lp->target_domain, action_cb, c);
		if (err == FG_OK && lp->mode == MODE_PING) {
			c->ts_ns = calloc(lp->window, sizeof(*c->ts_ns));
			if (c->ts_ns == NULL)
				err = FG_ERR_NOMEM;
		}
	} else {
		err =
		    xmpp_s2s_new(&c->m, XMPP_S2S_RECEIVING, &lp->in_cfg, NULL, NULL, action_cb, c);
	}
	if (err != FG_OK) {
		c->dead = true;
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, close_cb);
		return NULL;
	}
	return c;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	free(req);
	if (c->dead)
		return;
	if (status < 0) {
		conn_kill(c, uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	xmpp_s2s_start(c->m, (int64_t)uv_now(c->lp->loop));
}

static void launch_one(struct load *lp)
{
	uint32_t idx = lp->launched;
	struct conn *c = conn_new(lp, true, idx);
	lp->launched++;
	if (c == NULL) {
		lp->failed++;
		return;
	}
	lp->outs[idx] = c;
	const struct sockaddr_in *src = &lp->src[idx % lp->n_src];
	int r = uv_tcp_bind(&c->tcp, (const struct sockaddr *)src, 0);
	uv_connect_t *req = malloc(sizeof(*req));
	if (r != 0 || req == NULL) {
		free(req);
		conn_kill(c, r != 0 ? uv_strerror(r) : "out of memory");
		return;
	}
	req->data = c;
	r = uv_tcp_connect(req, &c->tcp, (const struct sockaddr *)&lp->target, connect_cb);
	if (r != 0) {
		free(req);
		conn_kill(c, uv_strerror(r));
	}
}

/* Keeps at most `batch` streams negotiating at once: a burst of thousands of handshakes
 * measures the target's accept queue, not its sessions. */
static void launch_more(struct load *lp)
{
	while (lp->launched < lp->streams && lp->launched - lp->authed - lp->failed < lp->batch)
		launch_one(lp);
}

static void listen_cb(uv_stream_t *server, int status)
{
	struct load *lp = server->data;
	if (status < 0)
		return;
	struct conn *c = conn_new(lp, false, 0);
	if (c == NULL)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_kill(c, "accept failed");
		return;
	}
	lp->inbound++;
	uv_tcp_nodelay(&c->tcp, 1);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	xmpp_s2s_start(c->m, (int64_t)uv_now(lp->loop));
}

/* ---- phases ------------------------------------------------------------------------------------
 */

static double since_s(uint64_t from_ns)
{
	return (double)(uv_hrtime() - from_ns) / 1e9;
}

static void enter(struct load *lp, enum phase ph)
{
	lp->phase = ph;
	lp->phase_start_ns = uv_hrtime();
}

static void start_pings(struct load *lp)
{
	uint64_t now = uv_hrtime();
	for (uint32_t i = 0; i < lp->launched; i++) {
		struct conn *c = lp->outs[i];
		if (c == NULL || c->dead || !c->authed)
			continue;
		for (uint32_t w = 0; w < lp->window && !c->dead; w++)
			send_ping(c, now);
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct load *lp = t->data;
	switch (lp->phase) {
	case PH_CONNECT:
		if (lp->authed + lp->failed >= lp->streams) {
			fprintf(stderr,
			        "s2sload: %" PRIu32 " of %" PRIu32
			        " streams authenticated in %.1f s\n",
			        lp->authed, lp->streams, since_s(lp->phase_start_ns));
			if (lp->authed == 0) {
				lp->exit_code = 2;
				finish(lp);
				return;
			}
			if (lp->mode == MODE_PING) {
				enter(lp, PH_WARMUP);
				start_pings(lp);
			} else {
				enter(lp, PH_SETTLE);
			}
		} else if (since_s(lp->start_ns) > lp->timeout_s) {
			fprintf(stderr,
			        "s2sload: timeout with %" PRIu32 " of %" PRIu32 " authenticated\n",
			        lp->authed, lp->streams);
			lp->exit_code = 2;
			if (lp->mode == MODE_IDLE && lp->authed > 0) {
				enter(lp, PH_SETTLE);
				return;
			}
			finish(lp);
		}
		break;
	case PH_WARMUP:
		if (since_s(lp->phase_start_ns) >= lp->warmup_s) {
			enter(lp, PH_MEASURE);
			lp->m_t0_ns = uv_hrtime();
			lp->m_pongs0 = lp->pongs;
			lp->cpu0_ticks = proc_cpu_ticks(lp->target_pid);
		}
		break;
	case PH_MEASURE:
		if (since_s(lp->phase_start_ns) >= lp->duration_s) {
			lp->m_t1_ns = uv_hrtime();
			lp->m_pongs1 = lp->pongs;
			lp->cpu1_ticks = proc_cpu_ticks(lp->target_pid);
			finish(lp);
		}
		break;
	case PH_SETTLE:
		if (since_s(lp->phase_start_ns) >= lp->settle_s) {
			lp->rss_after_kb = proc_rss_kb(lp->target_pid);
			enter(lp, PH_HOLD);
		}
		break;
	case PH_HOLD:
		if (since_s(lp->phase_start_ns) >= lp->hold_s)
			finish(lp);
		break;
	case PH_DONE:
		break;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void report(struct load *lp)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double self_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	                  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("result mode=%s tls=%d streams=%" PRIu32 " authenticated=%" PRIu32 " failed=%" PRIu32
	       " dropped=%" PRIu32 " inbound=%" PRIu32,
	       lp->mode == MODE_PING ? "ping" : "idle", lp->tls, lp->streams, lp->authed,
	       lp->failed, lp->closed_after_auth, lp->inbound);
	if (lp->mode == MODE_PING && lp->m_t1_ns > lp->m_t0_ns) {
		double secs = (double)(lp->m_t1_ns - lp->m_t0_ns) / 1e9;
		uint64_t pings = lp->m_pongs1 - lp->m_pongs0;
		qsort(lp->lat_us, lp->n_lat, sizeof(*lp->lat_us), cmp_u32);
		uint32_t p50 = lp->n_lat ? lp->lat_us[lp->n_lat / 2] : 0;
		uint32_t p99 = lp->n_lat ? lp->lat_us[(lp->n_lat * 99) / 100] : 0;
		printf(" window=%" PRIu32 " seconds=%.3f pings=%" PRIu64
		       " rate=%.0f p50_us=%" PRIu32 " p99_us=%" PRIu32 " pong_errors=%" PRIu64,
		       lp->window, secs, pings, (double)pings / secs, p50, p99, lp->pong_errors);
		if (lp->cpu0_ticks >= 0 && lp->cpu1_ticks >= 0 && pings > 0) {
			double cpu_s = (double)(lp->cpu1_ticks - lp->cpu0_ticks) / (double)hz;
			printf(" target_cpu_s=%.3f cpu_us_per_ping=%.2f pings_per_cpu_s=%.0f",
			       cpu_s, cpu_s * 1e6 / (double)pings,
			       cpu_s > 0 ? (double)pings / cpu_s : 0.0);
		}
	}
	if (lp->mode == MODE_IDLE) {
		printf(" rss_before_kb=%ld rss_after_kb=%ld", lp->rss_before_kb, lp->rss_after_kb);
		if (lp->authed > 0 && lp->rss_before_kb >= 0 && lp->rss_after_kb >= 0)
			printf(" kb_per_session=%.2f",
			       (double)(lp->rss_after_kb - lp->rss_before_kb) / (double)lp->authed);
	}
	printf(" load_cpu_s=%.2f\n", self_cpu);
	if (lp->last_error[0] != '\0')
		printf("last_error %s\n", lp->last_error);
	fflush(stdout);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (uv_is_closing(h))
		return;
	if (h->type == UV_TCP && h->data != NULL && h != h->loop->data) {
		struct conn *c = h->data;
		c->dead = true;
		c->closing = true;
		uv_close(h, close_cb);
		return;
	}
	uv_close(h, NULL);
}

static void finish(struct load *lp)
{
	if (lp->phase == PH_DONE)
		return;
	enter(lp, PH_DONE);
	report(lp);
	lp->listener.data = NULL;
	uv_walk(lp->loop, close_walk_cb, NULL);
}

static void signal_cb(uv_signal_t *s, int signum)
{
	(void)signum;
	struct load *lp = s->data;
	if (lp->phase == PH_MEASURE) {
		lp->m_t1_ns = uv_hrtime();
		lp->m_pongs1 = lp->pongs;
		lp->cpu1_ticks = proc_cpu_ticks(lp->target_pid);
	}
	finish(lp);
}

/* ---- set-up ------------------------------------------------------------------------------------
 */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(PEM_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, PEM_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (buf == NULL || n > PEM_FILE_MAX) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool parse_addr(const char *s, int def_port, struct sockaddr_in *out)
{
	char host[64];
	int port = def_port;
	fg_strlcpy(host, s, sizeof(host));
	char *colon = strchr(host, ':');
	if (colon != NULL) {
		uint64_t p;
		*colon = '\0';
		if (!fg_parse_u64(colon + 1, 0, 65535, &p))
			return false;
		port = (int)p;
	}
	return uv_ip4_addr(host, port, out) == 0;
}

static bool parse_double(const char *s, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return false;
	*out = v;
	return true;
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	if (!fg_parse_u64(s, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: s2sload --target-domain D --target-addr IP[:PORT] --listen IP[:PORT]\n"
	        "               [--domain load.test] [--src IP,IP,...] [--streams N] [--window W]\n"
	        "               [--idle] [--tls --ca FILE --cert FILE --key FILE] [--secret TEXT]\n"
	        "               [--target-pid PID] [--warmup S] [--duration S] [--settle S]\n"
	        "               [--hold S] [--batch N] [--timeout S]\n"
	        "Opens N dialback-authenticated s2s streams from --domain to the target, then\n"
	        "pushes XEP-0199 pings (W in flight per stream) or holds the streams idle, and\n"
	        "prints one 'result key=value ...' line.\n");
}

enum opt {
	O_TARGET_DOMAIN = 256,
	O_TARGET_ADDR,
	O_LISTEN,
	O_DOMAIN,
	O_SRC,
	O_STREAMS,
	O_WINDOW,
	O_IDLE,
	O_TLS,
	O_CA,
	O_CERT,
	O_KEY,
	O_SECRET,
	O_PID,
	O_WARMUP,
	O_DURATION,
	O_SETTLE,
	O_HOLD,
	O_BATCH,
	O_TIMEOUT,
};

static const struct option long_opts[] = {
    {"target-domain", required_argument, NULL, O_TARGET_DOMAIN},
    {"target-addr", required_argument, NULL, O_TARGET_ADDR},
    {"listen", required_argument, NULL, O_LISTEN},
    {"domain", required_argument, NULL, O_DOMAIN},
    {"src", required_argument, NULL, O_SRC},
    {"streams", required_argument, NULL, O_STREAMS},
    {"window", required_argument, NULL, O_WINDOW},
    {"idle", no_argument, NULL, O_IDLE},
    {"tls", no_argument, NULL, O_TLS},
    {"ca", required_argument, NULL, O_CA},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"secret", required_argument, NULL, O_SECRET},
    {"target-pid", required_argument, NULL, O_PID},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"duration", required_argument, NULL, O_DURATION},
    {"settle", required_argument, NULL, O_SETTLE},
    {"hold", required_argument, NULL, O_HOLD},
    {"batch", required_argument, NULL, O_BATCH},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {NULL, 0, NULL, 0},
};

static bool parse_src(struct load *lp, const char *list)
{
	char buf[2048];
	if (!fg_strlcpy(buf, list, sizeof(buf)))
		return false;
	lp->n_src = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (lp->n_src == MAX_SRC || uv_ip4_addr(tok, 0, &lp->src[lp->n_src]) != 0)
			return false;
		lp->n_src++;
	}
	return lp->n_src > 0;
}

static bool parse_args(struct load *lp, int argc, char **argv, const char **ca, const char **cert,
                       const char **key, const char **secret)
{
	bool have_target = false, have_addr = false, have_listen = false;
	int o;
	while ((o = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		bool ok = true;
		switch (o) {
		case O_TARGET_DOMAIN:
			lp->target_domain = optarg;
			have_target = true;
			break;
		case O_TARGET_ADDR:
			ok = have_addr = parse_addr(optarg, 5269, &lp->target);
			break;
		case O_LISTEN:
			ok = have_listen = parse_addr(optarg, 5269, &lp->listen_addr);
			break;
		case O_DOMAIN:
			lp->domain = optarg;
			break;
		case O_SRC:
			ok = parse_src(lp, optarg);
			break;
		case O_STREAMS:
			ok = parse_u32(optarg, 1, MAX_STREAMS, &lp->streams);
			break;
		case O_WINDOW:
			ok = parse_u32(optarg, 1, MAX_WINDOW, &lp->window);
			break;
		case O_IDLE:
			lp->mode = MODE_IDLE;
			break;
		case O_TLS:
			lp->tls = true;
			break;
		case O_CA:
			*ca = optarg;
			break;
		case O_CERT:
			*cert = optarg;
			break;
		case O_KEY:
			*key = optarg;
			break;
		case O_SECRET:
			*secret = optarg;
			break;
		case O_PID: {
			uint32_t pid;
			ok = parse_u32(optarg, 1, INT32_MAX, &pid);
			lp->target_pid = (int)pid;
			break;
		}
		case O_WARMUP:
			ok = parse_double(optarg, &lp->warmup_s);
			break;
		case O_DURATION:
			ok = parse_double(optarg, &lp->duration_s);
			break;
		case O_SETTLE:
			ok = parse_double(optarg, &lp->settle_s);
			break;
		case O_HOLD:
			ok = parse_double(optarg, &lp->hold_s);
			break;
		case O_BATCH:
			ok = parse_u32(optarg, 1, MAX_STREAMS, &lp->batch);
			break;
		case O_TIMEOUT:
			ok = parse_double(optarg, &lp->timeout_s);
			break;
		default:
			return false;
		}
		if (!ok) {
			fprintf(stderr, "s2sload: bad value for an option: %s\n", optarg);
			return false;
		}
	}
	if (!have_target || !have_addr || !have_listen || optind != argc)
		return false;
	if (lp->tls && (*ca == NULL || *cert == NULL || *key == NULL)) {
		fprintf(stderr, "s2sload: --tls needs --ca, --cert and --key\n");
		return false;
	}
	return true;
}

static enum fg_err load_tls(struct load *lp, const char *ca, const char *cert, const char *key)
{
	size_t ca_len = 0, cert_len = 0, key_len = 0;
	char *ca_pem = read_file(ca, &ca_len);
	char *cert_pem = read_file(cert, &cert_len);
	char *key_pem = read_file(key, &key_len);
	enum fg_err err = FG_ERR_INVAL;
	if (ca_pem == NULL || cert_pem == NULL || key_pem == NULL)
		goto out;
	err = tls_trust_from_pem(&lp->trust, ca_pem, ca_len);
	if (err != FG_OK)
		goto out;
	err = tls_creds_from_pem(&lp->creds, cert_pem, cert_len, key_pem, key_len);
out:
	if (key_pem != NULL)
		explicit_bzero(key_pem, key_len);
	free(ca_pem);
	free(cert_pem);
	free(key_pem);
	return err;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct load load;
	struct load *lp = &load;
	const char *ca = NULL, *cert = NULL, *key = NULL, *secret = NULL;
	int rc = 1;

	lp->domain = "load.test";
	lp->streams = 1;
	lp->window = 16;
	lp->batch = 200;
	lp->warmup_s = 1.0;
	lp->duration_s = 5.0;
	lp->settle_s = 2.0;
	lp->timeout_s = 180.0;
	lp->n_src = 1;
	uv_ip4_addr("0.0.0.0", 0, &lp->src[0]);
	if (!parse_args(lp, argc, argv, &ca, &cert, &key, &secret)) {
		usage();
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (lp->tls && load_tls(lp, ca, cert, key) != FG_OK) {
		fprintf(stderr, "s2sload: cannot load the CA, certificate or key\n");
		goto out;
	}
	if (secret != NULL) {
		size_t n = strlen(secret);
		memcpy(lp->secret, secret, n < sizeof(lp->secret) ? n : sizeof(lp->secret));
	} else {
		fg_random(lp->secret, sizeof(lp->secret));
	}
	lp->local_domains[0] = lp->domain;
	struct xmpp_s2s_config base = {
	    .local_domains = lp->local_domains,
	    .n_local_domains = 1,
	    .tls_mode = lp->tls ? XMPP_TLS_REQUIRED : XMPP_TLS_OFF,
	    .dialback = true,
	    .dialback_secret = lp->secret,
	    .dialback_secret_len = sizeof(lp->secret),
	};
	lp->out_cfg = base;
	lp->in_cfg = base;
	/* the target's streams to us: STARTTLS offered in TLS runs, never demanded */
	lp->in_cfg.tls_mode = lp->tls ? XMPP_TLS_OPTIONAL : XMPP_TLS_OFF;
	lp->outs = calloc(lp->streams, sizeof(*lp->outs));
	if (lp->outs == NULL)
		goto out;

	lp->loop = uv_default_loop();
	if (uv_tcp_init(lp->loop, &lp->listener) != 0)
		goto out;
	lp->loop->data = &lp->listener;
	lp->listener.data = lp;
	int r = uv_tcp_bind(&lp->listener, (const struct sockaddr *)&lp->listen_addr, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&lp->listener, 4096, listen_cb);
	if (r != 0) {
		fprintf(stderr, "s2sload: cannot listen: %s\n", uv_strerror(r));
		goto out;
	}
	uv_timer_init(lp->loop, &lp->tick);
	lp->tick.data = lp;
	uv_timer_start(&lp->tick, tick_cb, 20, 20);
	uv_signal_init(lp->loop, &lp->sigint);
	uv_signal_init(lp->loop, &lp->sigterm);
	lp->sigint.data = lp->sigterm.data = lp;
	uv_signal_start(&lp->sigint, signal_cb, SIGINT);
	uv_signal_start(&lp->sigterm, signal_cb, SIGTERM);

	lp->rss_before_kb = proc_rss_kb(lp->target_pid);
	lp->start_ns = uv_hrtime();
	enter(lp, PH_CONNECT);
	launch_more(lp);
	uv_run(lp->loop, UV_RUN_DEFAULT);
	rc = lp->exit_code;
out:
	if (lp->loop != NULL) {
		uv_walk(lp->loop, close_walk_cb, NULL);
		uv_run(lp->loop, UV_RUN_DEFAULT);
		uv_loop_close(lp->loop);
	}
	free(lp->outs);
	free(lp->lat_us);
	tls_trust_free(lp->trust);
	tls_creds_free(lp->creds);
	explicit_bzero(lp->secret, sizeof(lp->secret));
	return rc;
}
