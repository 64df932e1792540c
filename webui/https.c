/* webui https: the console's transport on the libuv loop: TCP listener, BearSSL TLS 1.2 front
 * (core/tls), libmicrohttpd behind a socketpair, and plain-HTTP redirects (RFC 9110 §15.4.2). */
#include "webui/webui_internal.h"

#include "db/db.h"
#include "status/status.h"
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SUBSYS "console"

/* Concurrent console connections: a console has a handful of admins; each connection costs
 * ~50 KiB (TLS and read buffers), so 256 bound the console to ~13 MiB. */
#define WEBUI_CONN_MAX 256
/* A plain-HTTP request head, read only to answer with a redirect. */
#define WEBUI_PLAIN_HEAD_MAX   8192
#define WEBUI_PLAIN_TIMEOUT_MS 5000
/* A TLS 1.2 handshake takes two round trips; 10 s covers slow links, not slowloris. */
#define WEBUI_HANDSHAKE_TIMEOUT_MS 10000
/* An established connection with no traffic either way is closed (close_notify) after this;
 * libmicrohttpd's own timeout (WEBUI_MHD_TIMEOUT_S) normally acts first. */
#define WEBUI_IDLE_TIMEOUT_MS 130000
#define WEBUI_MHD_TIMEOUT_S   120
/* libmicrohttpd's per-connection pool: request head plus buffers; bodies are streamed to the
 * API, which applies its own caps. */
#define WEBUI_MHD_MEMORY_LIMIT ((size_t)128 * 1024)
#define WEBUI_BIND_RETRY_MS    10000
/* Ciphertext waiting for the engine, plaintext waiting for libmicrohttpd, and bytes queued
 * to the socket: above these we stop reading from the other side (backpressure). */
#define WEBUI_IN_MAX          (64 * 1024)
#define WEBUI_TO_APP_MAX      (64 * 1024)
#define WEBUI_WRITE_QUEUE_MAX (256 * 1024)
#define WEBUI_READ_CHUNK      16384
/* A redirect target path longer than this is replaced by "/". */
#define WEBUI_REDIRECT_PATH_MAX 2048
/* How long a closing connection may wait for its last bytes to be written. */
#define WEBUI_LINGER_MS 2000

enum conn_phase {
	PHASE_SNIFF = 0, /* first bytes decide: TLS or plain HTTP */
	PHASE_PLAIN,     /* reading a plain request head to redirect */
	PHASE_TLS,       /* handshaking or established */
};

struct https_conn {
	struct webui_transport *t;
	struct https_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_poll_t app_poll;
	int handles; /* uv handles not yet closed */
	enum conn_phase phase;
	bool closing;   /* teardown started; memory lives until the handles close */
	bool finishing; /* close once the queued output is written */
	bool reading;
	bool app_poll_init;
	bool app_eof;
	bool handed_off; /* the socketpair end belongs to libmicrohttpd */
	int app_fd;      /* our end of the socketpair, or -1 */
	unsigned app_events;
	size_t write_bytes; /* queued in uv_write requests */
	struct tls_conn *tls;
	struct fg_buf in;       /* ciphertext not yet taken by the engine */
	struct fg_buf to_app;   /* plaintext for libmicrohttpd */
	struct fg_buf from_app; /* plaintext from libmicrohttpd for the engine */
	struct fg_buf head;     /* plain HTTP request head */
	struct sockaddr_storage peer;
	int peer_len;
	char peer_text[64];
	uint8_t rbuf[WEBUI_READ_CHUNK];
};

/* Every connection libmicrohttpd holds, so that webui_stop can resume the suspended ones:
 * stopping MHD with a suspended connection aborts the process. */
struct mhd_tracked {
	struct mhd_tracked *prev, *next;
	struct MHD_Connection *conn;
};

struct webui_transport {
	struct webui *w;
	struct mhd_tracked *mhd_conns;
	uv_tcp_t *listener; /* NULL while not listening */
	uv_timer_t retry_timer;
	uv_async_t reload; /* thread-safe: a store write may commit on a worker thread */
	uv_timer_t mhd_timer;
	uv_poll_t mhd_poll;
	uv_async_t kick;
	int handles; /* transport-owned handles (and listeners) not yet closed */
	bool stopping;
	bool limit_logged;
	int watch;
	struct tls_creds *creds; /* console credentials for new connections */
	uint64_t creds_tag;      /* hash of what creds were made from: unchanged means no reload */
	struct https_conn *conns;
	size_t nconns;
	char bound_text[96];               /* "127.0.0.1:8443" or "[::1]:8443" */
	char last_bind_error[DB_TEXT_MAX]; /* logged once per distinct cause, not per retry */
};

static void conn_pump(struct https_conn *c);
static void conn_destroy(struct https_conn *c);

/* The listener's kind-specific status: where it listens and how many connections it holds. */
static void listener_extra_update(struct webui_transport *t)
{
	char extra[256];
	if (!t->listener || t->stopping)
		return;
	/* bind_addr parsed as an IP literal before listening: no JSON escaping needed. */
	snprintf(extra, sizeof(extra), "{\"bind\":\"%s\",\"port\":%u,\"connections\":%zu}",
	         t->w->cfg.bind_addr, (unsigned)t->w->cfg.port, t->nconns);
	status_set_extra("listener:console", extra);
}
static void transport_maybe_free(struct webui_transport *t);
static void mhd_run(struct webui_transport *t);

/* ---- libmicrohttpd on the loop ----------------------------------------------------- */

static void mhd_timer_cb(uv_timer_t *h)
{
	mhd_run(h->data);
}

static void mhd_run(struct webui_transport *t)
{
	struct webui *w = t->w;
	MHD_UNSIGNED_LONG_LONG timeout;

	if (t->stopping || !w->mhd)
		return;
	MHD_run(w->mhd);
	/* MHD keeps connections it could not finish on an internal ready list and then
	 * answers timeout 0: the timer below brings it back at once. */
	if (MHD_get_timeout(w->mhd, &timeout) == MHD_YES)
		uv_timer_start(&t->mhd_timer, mhd_timer_cb, timeout, 0);
	else
		uv_timer_stop(&t->mhd_timer);
}

static void mhd_poll_cb(uv_poll_t *h, int status, int events)
{
	mhd_run(h->data);
}

static void kick_cb(uv_async_t *h)
{
	mhd_run(h->data);
}

__attribute__((format(printf, 2, 0))) static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
	char msg[FG_LOG_MSG_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* On our AF_UNIX socketpair TCP options do not apply and there is no Nagle delay:
	 * MHD's complaints about them are noise. */
	bool noise = strstr(msg, "TCP_NODELAY") || strstr(msg, "TCP_CORK") ||
	             strstr(msg, "Failed to push the data");
	fg_log(noise ? FG_LOG_DEBUG : FG_LOG_INFO, SUBSYS, "http: %s", msg);
}

static void mhd_notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct webui_transport *t = cls;
	struct mhd_tracked *n = *socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		n = calloc(1, sizeof(*n));
		if (!n)
			return; /* not tracked: only matters if suspended at shutdown */
		n->conn = conn;
		n->next = t->mhd_conns;
		if (t->mhd_conns)
			t->mhd_conns->prev = n;
		t->mhd_conns = n;
		*socket_context = n;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && n) {
		if (n->prev)
			n->prev->next = n->next;
		else
			t->mhd_conns = n->next;
		if (n->next)
			n->next->prev = n->prev;
		free(n);
		*socket_context = NULL;
	}
}

/* MHD's documented contract: resume every suspended connection before MHD_stop_daemon. */
static void mhd_resume_all(struct webui_transport *t)
{
	for (struct mhd_tracked *n = t->mhd_conns; n; n = n->next) {
		const union MHD_ConnectionInfo *info =
		    MHD_get_connection_info(n->conn, MHD_CONNECTION_INFO_CONNECTION_SUSPENDED);
		if (info && info->suspended == MHD_YES)
			MHD_resume_connection(n->conn);
	}
}

static enum fg_err mhd_start(struct webui_transport *t)
{
	struct webui *w = t->w;
	w->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, webui_http_handler, w,
	    /* First, so that every message goes through fg_log. */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, w, MHD_OPTION_NOTIFY_CONNECTION, mhd_notify_cb,
	    t, MHD_OPTION_NOTIFY_COMPLETED, webui_http_completed, w, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)WEBUI_MHD_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    WEBUI_MHD_MEMORY_LIMIT, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)WEBUI_CONN_MAX,
	    MHD_OPTION_END);
	if (!w->mhd) {
		fg_log(FG_LOG_ERR, SUBSYS, "the HTTP engine (libmicrohttpd) did not start");
		return FG_ERR_IO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(w->mhd);
		w->mhd = NULL;
		return FG_ERR_IO;
	}
	if (uv_poll_init(w->loop, &t->mhd_poll, info->epoll_fd) != 0) {
		MHD_stop_daemon(w->mhd);
		w->mhd = NULL;
		return FG_ERR_IO;
	}
	t->mhd_poll.data = t;
	t->handles++;
	uv_poll_start(&t->mhd_poll, UV_READABLE, mhd_poll_cb);
	return FG_OK;
}

/* ---- credentials ------------------------------------------------------------------- */

static void creds_fault(const char *cert_id, const char *cause)
{
	struct status_fault_desc d = {
	    .object = "console certificate",
	    .condition = "Console certificate not usable",
	    .cause = cause,
	    .fix = "Import or generate a certificate with its private key and select it for the "
	           "console (setting console.cert, or fedgw pki verbs)",
	    .detail = cert_id,
	    .severity = FG_LOG_ERR,
	};
	status_fault_raise("console.cert", &d);
}

/* FNV-1a over the certificate chain and the key (not a secret: it only tells "same as
 * before" apart, in memory). */
static uint64_t creds_hash(const char *cert_pem, const char *key_pem)
{
	uint64_t h = 14695981039346656037ULL;
	for (const char *p = cert_pem; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (const char *p = key_pem; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

/* Loads the console's certificate chain and key from the store. */
static void creds_reload(struct webui_transport *t)
{
	struct webui *w = t->w;
	struct db_txn *txn = NULL;
	struct db_cert cert = {0};
	struct db_key key = {0};
	struct tls_creds *creds = NULL;
	char cause[DB_TEXT_MAX];
	enum fg_err err;

	if (w->cfg.cert_id[0] == '\0') {
		snprintf(cause, sizeof(cause), "no certificate is selected for the console");
		err = FG_ERR_NOTFOUND;
		goto out;
	}
	err = db_txn_begin(w->db, &txn);
	if (err) {
		snprintf(cause, sizeof(cause), "the store could not be read (%s)",
		         fg_strerror(err));
		goto out;
	}
	err = db_cert_get(txn, w->cfg.cert_id, &cert);
	if (err) {
		snprintf(cause, sizeof(cause), "certificate %s could not be read (%s)",
		         w->cfg.cert_id, fg_strerror(err));
		goto out;
	}
	if (cert.kind != DB_CERT_LEAF || cert.key_id[0] == '\0' || !cert.pem) {
		snprintf(cause, sizeof(cause),
		         "certificate \"%s\" has no private key in this gateway (a CA bundle, a "
		         "pending request, or an imported certificate without its key)",
		         cert.name);
		err = FG_ERR_INVAL;
		goto out;
	}
	err = db_key_get(txn, cert.key_id, &key);
	if (err || !key.pem) {
		snprintf(cause, sizeof(cause),
		         "the private key of certificate \"%s\" could not be "
		         "read (%s)",
		         cert.name, fg_strerror(err ? err : FG_ERR_NOTFOUND));
		err = err ? err : FG_ERR_NOTFOUND;
		goto out;
	}
	/* every configuration change calls this: only a different certificate or key (a
	 * renewal, another selection) makes new credentials and a log line */
	uint64_t tag = creds_hash(cert.pem, key.pem);
	if (t->creds != NULL && tag == t->creds_tag)
		goto out;
	err = tls_creds_from_pem(&creds, cert.pem, strlen(cert.pem), key.pem, strlen(key.pem));
	if (err) {
		snprintf(cause, sizeof(cause),
		         "certificate \"%s\" or its key could not be used for TLS (%s)%s",
		         cert.name, fg_strerror(err),
		         err == FG_ERR_INVAL ? ": the key does not belong to the certificate" : "");
		goto out;
	}
out:
	db_txn_end(txn);
	if (err) {
		/* Keep serving with the previous credentials, if any. */
		fg_log(FG_LOG_WARN, SUBSYS, "console certificate not loaded: %s", cause);
		creds_fault(w->cfg.cert_id, cause);
	} else if (creds == NULL) {
		status_fault_clear("console.cert"); /* the one in use was selected again */
	} else {
		tls_creds_free(t->creds);
		t->creds = creds;
		t->creds_tag = creds_hash(cert.pem, key.pem);
		status_fault_clear("console.cert");
		fg_log(FG_LOG_INFO, SUBSYS, "console certificate \"%s\" (%s key) loaded", cert.name,
		       tls_creds_key_type(creds));
	}
	db_cert_clear(&cert);
	db_key_clear(&key);
}

static void reload_cb(uv_async_t *h)
{
	struct webui_transport *t = h->data;
	if (!t->stopping)
		creds_reload(t);
}

/* A certificate or key written in this process (renewal, import) applies to new connections
 * without waiting for a configuration change. Runs after the commit, possibly on a worker
 * thread: the reload is handed to the loop (uv_async_send is the thread-safe call). */
static void store_watch_cb(void *ctx, uint64_t generation, uint32_t kinds_mask)
{
	struct webui_transport *t = ctx;
	if (t->stopping)
		return;
	if (kinds_mask & ((1u << DB_KIND_CERT) | (1u << DB_KIND_KEY)))
		uv_async_send(&t->reload);
}

/* ---- connection teardown -------------------------------------------------------------- */

static void conn_handle_closed_cb(uv_handle_t *h)
{
	struct https_conn *c = h->data;
	if (--c->handles > 0)
		return;
	struct webui_transport *t = c->t;
	if (c->prev)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->nconns--;
	listener_extra_update(t);
	if (t->nconns < WEBUI_CONN_MAX)
		t->limit_logged = false;
	tls_conn_free(c->tls);
	fg_buf_free(&c->in);
	fg_buf_free(&c->to_app);
	fg_buf_free(&c->from_app);
	fg_buf_free(&c->head);
	free(c);
	transport_maybe_free(t);
}

static void conn_destroy(struct https_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->app_poll_init) {
		uv_poll_stop(&c->app_poll);
		uv_close((uv_handle_t *)&c->app_poll, conn_handle_closed_cb);
	}
	if (c->app_fd >= 0) {
		/* libmicrohttpd sees end of file on its end and finishes the request. */
		close(c->app_fd);
		c->app_fd = -1;
	}
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed_cb);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed_cb);
}

static void linger_timeout_cb(uv_timer_t *h)
{
	conn_destroy(h->data);
}

/* Close after the queued bytes (a redirect, a close_notify) reach the socket. */
static void conn_finish(struct https_conn *c)
{
	if (c->closing || c->finishing)
		return;
	c->finishing = true;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	if (c->write_bytes == 0) {
		conn_destroy(c);
		return;
	}
	uv_timer_start(&c->timer, linger_timeout_cb, WEBUI_LINGER_MS, 0);
}

/* ---- socket writes ----------------------------------------------------------------- */

struct write_req {
	uv_write_t req;
	struct https_conn *c;
	size_t len;
	uint8_t data[];
};

static void write_cb(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct https_conn *c = wr->c;
	c->write_bytes -= wr->len;
	free(wr);
	if (c->closing)
		return;
	if (status < 0) {
		conn_destroy(c);
		return;
	}
	if (c->finishing) {
		if (c->write_bytes == 0)
			conn_destroy(c);
		return;
	}
	conn_pump(c);
}

static bool conn_send(struct https_conn *c, const void *data, size_t len)
{
	struct write_req *wr = malloc(sizeof(*wr) + len);
	if (!wr)
		return false;
	wr->c = c;
	wr->len = len;
	memcpy(wr->data, data, len);
	uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned int)len);
	if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
		free(wr);
		return false;
	}
	c->write_bytes += len;
	return true;
}

/* ---- plain HTTP: redirect to https ---------------------------------------------------- */

/* RFC 9110 §7.2 / RFC 3986 §3.2.2: a DNS name or IPv4 address, or "[IPv6]", each with an
 * optional ":port". *has_port tells whether a port was given. */
static bool host_valid(const char *host, bool *has_port)
{
	const char *port = NULL;
	size_t len = strlen(host);

	*has_port = false;
	if (len == 0 || len > 253 + 6)
		return false;
	if (host[0] == '[') {
		const char *end = strchr(host, ']');
		char v6[64];
		struct in6_addr a;
		if (!end || (size_t)(end - host - 1) >= sizeof(v6) || end == host + 1)
			return false;
		memcpy(v6, host + 1, (size_t)(end - host - 1));
		v6[end - host - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &a) != 1)
			return false;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return false;
	} else {
		const char *colon = strchr(host, ':');
		size_t name_len = colon ? (size_t)(colon - host) : len;
		if (name_len == 0 || name_len > 253 ||
		    fg_host_name_check(host, name_len, false, NULL) != FG_NAME_OK)
			return false;
		if (colon)
			port = colon + 1;
	}
	if (port) {
		uint64_t p;
		if (strlen(port) > 5 || !fg_parse_u64(port, 1, 65535, &p))
			return false;
		*has_port = true;
	}
	return true;
}

static bool path_valid(const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n > WEBUI_REDIRECT_PATH_MAX || path[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f)
			return false;
	return true;
}

static void plain_reply(struct https_conn *c, const char *status, const char *location,
                        const char *body)
{
	struct fg_buf out = {0};
	enum fg_err err = fg_buf_printf(&out, "HTTP/1.1 %s\r\n", status);
	if (!err && location)
		err = fg_buf_printf(&out, "Location: %s\r\n", location);
	if (!err)
		err = fg_buf_printf(&out,
		                    "Content-Type: text/plain; charset=utf-8\r\n"
		                    "Content-Length: %zu\r\n"
		                    "Connection: close\r\n\r\n%s",
		                    strlen(body), body);
	if (!err)
		conn_send(c, out.data, out.len);
	fg_buf_free(&out);
	conn_finish(c);
}

/* Finds the end of the request head; returns its length or 0 when incomplete. */
static size_t head_end(const struct fg_buf *b)
{
	for (size_t i = 0; i + 1 < b->len; i++) {
		if (b->data[i] == '\n' && b->data[i + 1] == '\n')
			return i + 2;
		if (i + 3 < b->len && memcmp(b->data + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

static void plain_bad_request(struct https_conn *c)
{
	char body[256];
	snprintf(body, sizeof(body), "This is an HTTPS-only port: use https://%s/ instead.\n",
	         c->t->bound_text);
	plain_reply(c, "400 Bad Request", NULL, body);
}

/* Next line of a NUL-terminated head: returns it (terminated in place) and advances *p;
 * NULL at the end. */
static char *next_line(char **p)
{
	char *line = *p;
	if (!line || *line == '\0')
		return NULL;
	char *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = line + strlen(line);
	}
	size_t n = strlen(line);
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

#define WEBUI_LOCATION_MAX (300 + WEBUI_REDIRECT_PATH_MAX + 32)

/* Pure part of the redirect: from a complete request head (modified in place) and the
 * listening port, the https URL to send the client to. False: answer 400. */
static bool redirect_location(char *head, unsigned listen_port, char *location, size_t size)
{
	char *cursor = head;
	char *line = next_line(&cursor);
	char host[300] = "";
	int hosts = 0;
	char path[WEBUI_REDIRECT_PATH_MAX + 1] = "/";

	if (!line)
		return false;
	/* Request line: method SP request-target SP HTTP-version (RFC 9112 §3). */
	char *sp1 = strchr(line, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return false;
	*sp2 = '\0';
	const char *target = sp1 + 1;
	if (strncasecmp(target, "http://", 7) == 0) {
		/* Absolute form (RFC 9112 §3.2.2): keep its path. */
		const char *slash = strchr(target + 7, '/');
		target = slash ? slash : "/";
	}
	if (path_valid(target))
		fg_strlcpy(path, target, sizeof(path));

	while ((line = next_line(&cursor)) != NULL) {
		if (line[0] == '\0')
			break; /* end of the head */
		if (strncasecmp(line, "Host:", 5) != 0)
			continue;
		const char *v = line + 5;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!fg_strlcpy(host, v, sizeof(host)))
			host[0] = '\0';
		size_t n = strlen(host);
		while (n > 0 && (host[n - 1] == ' ' || host[n - 1] == '\t'))
			host[--n] = '\0';
		hosts++;
	}
	bool has_port = false;
	/* RFC 9112 §3.2: exactly one valid Host header, or 400. */
	if (hosts != 1 || !host_valid(host, &has_port))
		return false;
	char port[8] = "";
	/* Same port for both: without a port in Host, the browser would go to 443. */
	if (!has_port && listen_port != 443)
		snprintf(port, sizeof(port), ":%u", listen_port);
	snprintf(location, size, "https://%s%s%s", host, port, path);
	return true;
}

/* Answers a complete plain request head: 301 to the same place over https. */
static void plain_answer(struct https_conn *c, char *head)
{
	char location[WEBUI_LOCATION_MAX];
	if (!redirect_location(head, c->t->w->cfg.port, location, sizeof(location))) {
		plain_bad_request(c);
		return;
	}
	char body[sizeof(location) + 64];
	snprintf(body, sizeof(body), "This console is served over HTTPS only: %s\n", location);
	fg_log(FG_LOG_DEBUG, SUBSYS, "plain HTTP from %s redirected to https", c->peer_text);
	status_counter_add("console.http_redirects", 1);
	plain_reply(c, "301 Moved Permanently", location, body);
}

static void plain_timeout_cb(uv_timer_t *h)
{
	conn_destroy(h->data);
}

static void plain_input(struct https_conn *c, const uint8_t *data, size_t len)
{
	size_t room = WEBUI_PLAIN_HEAD_MAX - c->head.len;
	if (fg_buf_append(&c->head, data, len < room ? len : room) != FG_OK) {
		conn_destroy(c);
		return;
	}
	size_t end = head_end(&c->head);
	if (end == 0) {
		if (c->head.len >= WEBUI_PLAIN_HEAD_MAX)
			plain_bad_request(c);
		return;
	}
	c->head.len = end;
	plain_answer(c, (char *)fg_buf_cstr(&c->head));
}

/* ---- TLS connections --------------------------------------------------------------- */

static void idle_timeout_cb(uv_timer_t *h)
{
	struct https_conn *c = h->data;
	if (c->closing)
		return;
	if (tls_conn_state(c->tls) == TLS_STATE_HANDSHAKING) {
		status_counter_add("console.tls_failures", 1);
		fg_log(FG_LOG_INFO, SUBSYS, "TLS handshake with %s timed out after %d s",
		       c->peer_text, WEBUI_HANDSHAKE_TIMEOUT_MS / 1000);
		conn_destroy(c);
		return;
	}
	tls_conn_close(c->tls);
	conn_pump(c);
	conn_finish(c);
}

static void conn_touch(struct https_conn *c)
{
	if (!c->closing && !c->finishing && c->handed_off)
		uv_timer_start(&c->timer, idle_timeout_cb, WEBUI_IDLE_TIMEOUT_MS, 0);
}

static void app_poll_cb(uv_poll_t *h, int status, int events);

static void app_update_poll(struct https_conn *c)
{
	unsigned ev = 0;
	if (!c->app_poll_init || c->closing)
		return;
	if (c->to_app.len > 0)
		ev |= UV_WRITABLE;
	if (!c->app_eof && c->from_app.len == 0 && c->write_bytes < WEBUI_WRITE_QUEUE_MAX &&
	    !c->finishing)
		ev |= UV_READABLE;
	if (ev == c->app_events)
		return;
	c->app_events = ev;
	if (ev)
		uv_poll_start(&c->app_poll, (int)ev, app_poll_cb);
	else
		uv_poll_stop(&c->app_poll);
}

static void app_poll_cb(uv_poll_t *h, int status, int events)
{
	struct https_conn *c = h->data;
	if (c->closing)
		return;
	if (status < 0) {
		conn_destroy(c);
		return;
	}
	if ((events & UV_READABLE) && c->from_app.len == 0 && !c->app_eof) {
		uint8_t buf[WEBUI_READ_CHUNK];
		ssize_t n = recv(c->app_fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (fg_buf_append(&c->from_app, buf, (size_t)n) != FG_OK) {
				conn_destroy(c);
				return;
			}
			conn_touch(c);
		} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			/* libmicrohttpd closed its end: the response is complete. */
			c->app_eof = true;
		}
	}
	conn_pump(c);
}

/* After the handshake: one end of a socketpair goes to libmicrohttpd with the real peer
 * address (for logs and login throttling); we pump plaintext through the other. */
static bool conn_hand_off(struct https_conn *c)
{
	struct webui *w = c->t->w;
	int sv[2];

	if (!w->mhd)
		return false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		fg_log(FG_LOG_WARN, SUBSYS, "socketpair failed: %s", strerror(errno));
		return false;
	}
	if (uv_poll_init(w->loop, &c->app_poll, sv[0]) != 0) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	c->app_fd = sv[0];
	c->app_poll.data = c;
	c->app_poll_init = true;
	c->handles++;
	c->handed_off = true;
	/* MHD owns sv[1] from here, and closes it itself on failure. */
	if (MHD_add_connection(w->mhd, sv[1], (const struct sockaddr *)&c->peer,
	                       (socklen_t)c->peer_len) != MHD_YES) {
		fg_log(FG_LOG_WARN, SUBSYS, "the HTTP engine refused the connection from %s",
		       c->peer_text);
		return false;
	}
	fg_log(FG_LOG_DEBUG, SUBSYS, "TLS from %s: %s %s", c->peer_text,
	       tls_conn_version_name(c->tls), tls_conn_suite_name(c->tls));
	conn_touch(c);
	uv_async_send(&c->t->kick);
	return true;
}

static void tcp_read_start(struct https_conn *c);

/* Moves bytes between the socket, the engine and libmicrohttpd until nothing moves. */
static void conn_pump(struct https_conn *c)
{
	bool progress = true;

	while (progress && !c->closing) {
		progress = false;
		/* Ciphertext in. */
		if (c->in.len > 0) {
			size_t used = 0;
			tls_conn_feed(c->tls, c->in.data, c->in.len, &used);
			if (used > 0) {
				fg_buf_consume(&c->in, used);
				progress = true;
			}
		}
		/* Ciphertext out. */
		const uint8_t *out;
		size_t out_len;
		tls_conn_take_output(c->tls, &out, &out_len);
		if (out_len > 0) {
			if (!conn_send(c, out, out_len)) {
				conn_destroy(c);
				return;
			}
			tls_conn_output_done(c->tls, out_len);
			progress = true;
		}
		enum tls_state st = tls_conn_state(c->tls);
		if (st == TLS_STATE_FAILED) {
			status_counter_add("console.tls_failures", 1);
			fg_log(FG_LOG_INFO, SUBSYS, "TLS %s %s failed: %s",
			       c->handed_off ? "connection with" : "handshake with", c->peer_text,
			       tls_conn_error_text(c->tls));
			conn_finish(c);
			return;
		}
		if (st == TLS_STATE_CLOSED) {
			conn_finish(c);
			return;
		}
		if (st != TLS_STATE_ESTABLISHED)
			continue;
		if (!c->handed_off && !c->finishing) {
			if (!conn_hand_off(c)) {
				tls_conn_close(c->tls);
				c->app_eof = true;
			}
			progress = true;
		}
		/* Plaintext from the peer to libmicrohttpd. */
		if (c->to_app.len < WEBUI_TO_APP_MAX && tls_conn_has_app(c->tls)) {
			uint8_t buf[WEBUI_READ_CHUNK];
			size_t got = 0;
			tls_conn_read_app(c->tls, buf, sizeof(buf), &got);
			if (got > 0) {
				if (fg_buf_append(&c->to_app, buf, got) != FG_OK) {
					conn_destroy(c);
					return;
				}
				conn_touch(c);
				progress = true;
			}
		}
		if (c->to_app.len > 0 && c->app_fd >= 0) {
			ssize_t n = send(c->app_fd, c->to_app.data, c->to_app.len, MSG_NOSIGNAL);
			if (n > 0) {
				fg_buf_consume(&c->to_app, (size_t)n);
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			           errno != EINTR) {
				fg_buf_reset(&c->to_app);
				c->app_eof = true;
			}
		}
		/* Plaintext from libmicrohttpd to the peer. */
		if (c->from_app.len > 0) {
			size_t used = 0;
			if (tls_conn_write_app(c->tls, c->from_app.data, c->from_app.len, &used) !=
			    FG_OK) {
				conn_destroy(c);
				return;
			}
			if (used > 0) {
				fg_buf_consume(&c->from_app, used);
				progress = true;
			}
		}
		if (c->app_eof && c->from_app.len == 0 && !c->finishing) {
			/* RFC 5246 §7.2.1: close_notify, then close without waiting for the reply.
			 */
			tls_conn_close(c->tls);
			tls_conn_take_output(c->tls, &out, &out_len);
			if (out_len > 0 && conn_send(c, out, out_len))
				tls_conn_output_done(c->tls, out_len);
			conn_finish(c);
			return;
		}
	}
	if (c->closing)
		return;
	app_update_poll(c);
	/* Backpressure: stop reading the socket while the engine holds enough. */
	if (c->reading && (c->in.len >= WEBUI_IN_MAX || c->write_bytes >= WEBUI_WRITE_QUEUE_MAX)) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	} else if (!c->reading && !c->finishing && c->in.len < WEBUI_IN_MAX &&
	           c->write_bytes < WEBUI_WRITE_QUEUE_MAX) {
		tcp_read_start(c);
	}
}

static bool conn_start_tls(struct https_conn *c)
{
	struct webui_transport *t = c->t;
	if (!t->creds) {
		fg_log(FG_LOG_INFO, SUBSYS,
		       "TLS handshake with %s refused: no usable console "
		       "certificate",
		       c->peer_text);
		return false;
	}
	struct tls_config cfg = {.role = TLS_ROLE_SERVER, .creds = t->creds};
	if (tls_conn_new(&c->tls, &cfg) != FG_OK)
		return false;
	c->phase = PHASE_TLS;
	uv_timer_start(&c->timer, idle_timeout_cb, WEBUI_HANDSHAKE_TIMEOUT_MS, 0);
	return true;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct https_conn *c = h->data;
	*buf = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct https_conn *c = s->data;
	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		if (c->phase == PHASE_TLS && !c->finishing) {
			bool was_handshaking = tls_conn_state(c->tls) == TLS_STATE_HANDSHAKING;
			tls_conn_feed_eof(c->tls);
			if (was_handshaking)
				status_counter_add("console.tls_failures", 1);
			fg_log(FG_LOG_INFO, SUBSYS, "TLS handshake with %s failed: %s",
			       c->peer_text, tls_conn_error_text(c->tls));
		}
		conn_destroy(c);
		return;
	}
	const uint8_t *data = (const uint8_t *)buf->base;
	size_t len = (size_t)nread;
	if (c->phase == PHASE_SNIFF) {
		/* RFC 5246 §6.2.1: a TLS connection opens with a handshake record (type 22). */
		if (data[0] == 0x16) {
			if (!conn_start_tls(c)) {
				conn_destroy(c);
				return;
			}
		} else {
			/* Never serve the console in clear: answer with a redirect and close. */
			c->phase = PHASE_PLAIN;
			uv_timer_start(&c->timer, plain_timeout_cb, WEBUI_PLAIN_TIMEOUT_MS, 0);
		}
	}
	if (c->phase == PHASE_PLAIN) {
		if (!c->finishing)
			plain_input(c, data, len);
		return;
	}
	if (fg_buf_append(&c->in, data, len) != FG_OK) {
		conn_destroy(c);
		return;
	}
	conn_pump(c);
}

static void tcp_read_start(struct https_conn *c)
{
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
		c->reading = true;
}

static void sniff_timeout_cb(uv_timer_t *h)
{
	conn_destroy(h->data);
}

/* ---- listener ------------------------------------------------------------------------ */

static void listener_closed_cb(uv_handle_t *h)
{
	struct webui_transport *t = h->data;
	free(h);
	t->handles--;
	transport_maybe_free(t);
}

static void listener_close(struct webui_transport *t)
{
	if (!t->listener)
		return;
	uv_close((uv_handle_t *)t->listener, listener_closed_cb);
	t->listener = NULL;
}

static void accept_cb(uv_stream_t *server, int status)
{
	struct webui_transport *t = server->data;
	struct https_conn *c;

	if (status < 0 || t->stopping)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->t = t;
	c->app_fd = -1;
	uv_tcp_init(t->w->loop, &c->tcp);
	uv_timer_init(t->w->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->handles = 2;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->nconns++;
	status_counter_add("console.connections", 1);
	listener_extra_update(t);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_destroy(c);
		return;
	}
	if (t->nconns > WEBUI_CONN_MAX) {
		if (!t->limit_logged)
			fg_log(FG_LOG_WARN, SUBSYS,
			       "console connection limit (%d) reached: "
			       "refusing new connections",
			       WEBUI_CONN_MAX);
		t->limit_logged = true;
		conn_destroy(c);
		return;
	}
	c->peer_len = sizeof(c->peer);
	uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &c->peer_len);
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (c->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&c->peer;
		uv_ip6_name(a, ip, sizeof(ip));
		port = ntohs(a->sin6_port);
		snprintf(c->peer_text, sizeof(c->peer_text), "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&c->peer;
		uv_ip4_name(a, ip, sizeof(ip));
		port = ntohs(a->sin_port);
		snprintf(c->peer_text, sizeof(c->peer_text), "%s:%u", ip, port);
	}
	uv_tcp_nodelay(&c->tcp, 1);
	/* A client that connects and says nothing is dropped like a stalled handshake. */
	uv_timer_start(&c->timer, sniff_timeout_cb, WEBUI_HANDSHAKE_TIMEOUT_MS, 0);
	tcp_read_start(c);
}

static const char *bind_condition(int uverr)
{
	switch (uverr) {
	case UV_EADDRNOTAVAIL:
		return "Console address not available";
	case UV_EADDRINUSE:
		return "Console port in use";
	case UV_EACCES:
	case UV_EPERM:
		return "Console port not permitted";
	default:
		return "Console cannot listen";
	}
}

static const char *bind_cause_words(int uverr)
{
	switch (uverr) {
	case UV_EADDRNOTAVAIL:
		return "is not available on this machine";
	case UV_EADDRINUSE:
		return "is already in use by another program";
	case UV_EACCES:
	case UV_EPERM:
		return "may not be used by this process (ports below 1024 need privileges)";
	default:
		return "could not be listened on";
	}
}

static void retry_timer_cb(uv_timer_t *h);

static void listen_failed(struct webui_transport *t, int uverr, const char *why)
{
	char cause[DB_TEXT_MAX];
	char name[160];
	char object[160];
	char detail[128];

	if (uverr)
		snprintf(cause, sizeof(cause), "bind address %s %s (%s)", t->bound_text,
		         bind_cause_words(uverr), strerror(-uverr));
	else
		snprintf(cause, sizeof(cause), "bind address %s: %s", t->bound_text,
		         why ? why : "cannot listen");
	snprintf(name, sizeof(name), "console https %s", t->bound_text);
	snprintf(object, sizeof(object), "listener console %s", t->bound_text);
	snprintf(detail, sizeof(detail), "%s", uverr ? uv_err_name(uverr) : "EINVAL");
	const char *fix =
	    uverr == UV_EADDRINUSE
	        ? "Stop the other program using that port, or choose another port "
	          "(fedgw serve --console-port, or setting console.port)"
	        : "Choose an address this machine has (fedgw serve --console-bind, or "
	          "setting console.bind), e.g. 0.0.0.0 for all";
	struct status_fault_desc d = {
	    .object = object,
	    .condition = uverr ? bind_condition(uverr) : "Console address invalid",
	    .cause = cause,
	    .fix = fix,
	    .detail = detail,
	    .severity = FG_LOG_ERR,
	};
	status_set("listener:console", "listener", name, "failed", cause);
	status_fault_raise("console.bind", &d);
	if (strcmp(cause, t->last_bind_error) != 0) {
		fg_log(FG_LOG_WARN, SUBSYS, "cannot listen on %s: %s; retrying every %d s",
		       t->bound_text, cause, WEBUI_BIND_RETRY_MS / 1000);
		fg_strlcpy(t->last_bind_error, cause, sizeof(t->last_bind_error));
	}
	uv_timer_start(&t->retry_timer, retry_timer_cb, WEBUI_BIND_RETRY_MS, 0);
}

static void listen_try(struct webui_transport *t)
{
	struct webui *w = t->w;
	struct sockaddr_storage ss;
	int err;

	listener_close(t);
	memset(&ss, 0, sizeof(ss));
	if (strchr(w->cfg.bind_addr, ':')) {
		snprintf(t->bound_text, sizeof(t->bound_text), "[%s]:%u", w->cfg.bind_addr,
		         (unsigned)w->cfg.port);
		err = uv_ip6_addr(w->cfg.bind_addr, w->cfg.port, (struct sockaddr_in6 *)&ss);
	} else {
		snprintf(t->bound_text, sizeof(t->bound_text), "%s:%u", w->cfg.bind_addr,
		         (unsigned)w->cfg.port);
		err = uv_ip4_addr(w->cfg.bind_addr, w->cfg.port, (struct sockaddr_in *)&ss);
	}
	if (err) {
		listen_failed(t, 0, "not an IPv4 or IPv6 address");
		return;
	}
	uv_tcp_t *l = malloc(sizeof(*l));
	if (!l) {
		listen_failed(t, UV_ENOMEM, NULL);
		return;
	}
	uv_tcp_init(w->loop, l);
	l->data = t;
	t->handles++;
	t->listener = l;
	/* libuv defers some bind errors (EADDRINUSE) to listen: check both. */
	err = uv_tcp_bind(l, (const struct sockaddr *)&ss, 0);
	if (!err)
		err = uv_listen((uv_stream_t *)l, 128, accept_cb);
	if (err) {
		listener_close(t);
		listen_failed(t, err, NULL);
		return;
	}
	char name[160];
	snprintf(name, sizeof(name), "console https %s", t->bound_text);
	status_set("listener:console", "listener", name, "listening", "");
	listener_extra_update(t);
	t->last_bind_error[0] = '\0';
	if (status_fault_active("console.bind"))
		status_fault_clear("console.bind");
	fg_log(FG_LOG_NOTICE, SUBSYS, "console listening on https://%s/", t->bound_text);
}

static void retry_timer_cb(uv_timer_t *h)
{
	struct webui_transport *t = h->data;
	if (!t->stopping && !t->listener)
		listen_try(t);
}

/* ---- lifetime ---------------------------------------------------------------------- */

static void transport_handle_closed_cb(uv_handle_t *h)
{
	struct webui_transport *t = h->data;
	t->handles--;
	transport_maybe_free(t);
}

static void transport_maybe_free(struct webui_transport *t)
{
	if (!t->stopping || t->handles > 0 || t->conns)
		return;
	struct webui *w = t->w;
	tls_creds_free(t->creds);
	free(t);
	free(w);
}

enum fg_err webui_start(struct webui **out, uv_loop_t *loop, struct db *db,
                        const struct webui_config *cfg, const char *version, int64_t started_ms)
{
	struct webui *w;
	struct webui_transport *t;
	enum fg_err err;

	*out = NULL;
	if (!loop || !db || !cfg)
		return FG_ERR_INVAL;
	w = calloc(1, sizeof(*w));
	t = calloc(1, sizeof(*t));
	if (!w || !t) {
		free(w);
		free(t);
		return FG_ERR_NOMEM;
	}
	w->loop = loop;
	w->db = db;
	w->cfg = *cfg;
	fg_strlcpy(w->version, version ? version : "", sizeof(w->version));
	w->started_ms = started_ms;
	w->transport = t;
	t->w = w;
	t->watch = -1;

	err = mhd_start(t);
	if (err) {
		free(t);
		free(w);
		return err;
	}
	uv_timer_init(loop, &t->retry_timer);
	uv_async_init(loop, &t->reload, reload_cb);
	uv_timer_init(loop, &t->mhd_timer);
	uv_async_init(loop, &t->kick, kick_cb);
	t->retry_timer.data = t->reload.data = t->mhd_timer.data = t->kick.data = t;
	t->handles += 4;

	creds_reload(t);
	if (db)
		t->watch = db_watch(db, store_watch_cb, t);
	listen_try(t);
	*out = w;
	return FG_OK;
}

enum fg_err webui_reconfigure(struct webui *w, const struct webui_config *cfg)
{
	struct webui_transport *t = w->transport;
	bool relisten = strcmp(cfg->bind_addr, w->cfg.bind_addr) != 0 || cfg->port != w->cfg.port;

	w->cfg = *cfg;
	/* New credentials apply to new connections; open ones keep theirs (reference). */
	creds_reload(t);
	if (relisten) {
		uv_timer_stop(&t->retry_timer);
		listen_try(t);
	}
	return FG_OK;
}

void webui_stop(struct webui *w)
{
	if (!w)
		return;
	struct webui_transport *t = w->transport;
	if (t->stopping)
		return;
	t->stopping = true;
	if (t->watch >= 0 && w->db)
		db_unwatch(w->db, t->watch);
	listener_close(t);
	for (struct https_conn *c = t->conns; c; c = c->next)
		conn_destroy(c);
	uv_poll_stop(&t->mhd_poll);
	uv_close((uv_handle_t *)&t->mhd_poll, transport_handle_closed_cb);
	uv_close((uv_handle_t *)&t->retry_timer, transport_handle_closed_cb);
	uv_close((uv_handle_t *)&t->reload, transport_handle_closed_cb);
	uv_close((uv_handle_t *)&t->mhd_timer, transport_handle_closed_cb);
	uv_close((uv_handle_t *)&t->kick, transport_handle_closed_cb);
	/* Our socketpair ends are closed: MHD finishes and frees every request now. */
	mhd_resume_all(t);
	MHD_stop_daemon(w->mhd);
	w->mhd = NULL;
	webui__api_free(w->api);
	w->api = NULL;
	char name[160];
	snprintf(name, sizeof(name), "console https %s", t->bound_text);
	status_set("listener:console", "listener", name, "stopped", "");
}

void webui_kick(struct webui *w)
{
	if (w && w->transport && !w->transport->stopping)
		uv_async_send(&w->transport->kick);
}

uv_loop_t *webui_loop(struct webui *w)
{
	return w->loop;
}

struct db *webui_db(struct webui *w)
{
	return w->db;
}

const char *webui_version(struct webui *w)
{
	return w->version;
}

int64_t webui_started_ms(struct webui *w)
{
	return w->started_ms;
}

const struct webui_config *webui_config_get(struct webui *w)
{
	return &w->cfg;
}
