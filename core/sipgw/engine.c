/* sipgw engine: SIP over TCP and mutual TLS on the event loop (RFC 3261 §18, RFC 5626 §4.4.1
 * keepalives, RFC 5922 names, RFC 3263 §4.2 SRV), transactions (core/sip) and the glue to the
 * XMPP router: page-mode messages (RFC 7572, RFC 3428), IM sessions, presence (RFC 8048,
 * RFC 6665) and chat states (RFC 3994), with status and faults per SIP domain. */
#include "sipgw/sipgw_internal.h"

#include "status/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define APP_BUF 16384

struct sipgw;
struct conn;

/* snprintf that truncates silently: texts for logs, faults and ids may be cut. */
void sipgw__fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

/* While a read is handled, every "now" it needs (last_io, transaction clocks) is the time
 * the read came in: one clock read per read instead of several per message. */
static _Thread_local int64_t read_now = -1;

static int64_t now_mono(void)
{
	return read_now >= 0 ? read_now : fg_mono_ms();
}

static void gw_unref(struct sipgw *gw)
{
	if (--gw->refs == 0)
		free(gw);
}

static void handle_closed_free(uv_handle_t *h)
{
	struct sipgw *gw = h->data;
	free(h);
	gw_unref(gw);
}

/* Closes a heap handle that the engine owns alone (it holds one engine reference until
 * closed, so the engine outlives the close callback). */
static void close_handle(struct sipgw *gw, uv_handle_t *h)
{
	h->data = gw;
	gw->refs++;
	if (!uv_is_closing(h))
		uv_close(h, handle_closed_free);
}

/* ---- domains, status and faults ------------------------------------------------------- */

struct dom *sipgw__dom_find(struct sipgw *gw, const char *sip_domain)
{
	for (size_t i = 0; i < gw->ndoms; i++)
		if (strcasecmp(gw->doms[i]->cf.rec.domain, sip_domain) == 0)
			return gw->doms[i];
	return NULL;
}

static struct dom *dom_by_xmpp(struct sipgw *gw, const char *xmpp_domain)
{
	for (size_t i = 0; i < gw->ndoms; i++)
		if (strcasecmp(gw->doms[i]->cf.xmpp, xmpp_domain) == 0)
			return gw->doms[i];
	return NULL;
}

/* A fault of a SIP domain; detail is e.g. the list of SRV targets tried (may be NULL). */
static void out_fault(struct dom *d, const char *what, const char *condition, const char *cause,
                      const char *fix, const char *detail, enum fg_log_level severity)
{
	char id[STATUS_ID_MAX], object[160];
	sipgw__fmt(id, sizeof(id), "sip.%s.%s", what, d->cf.rec.domain);
	sipgw__fmt(object, sizeof(object), "SIP domain %s (next hop %s)", d->cf.rec.domain,
	           d->cf.rec.next_hop);
	struct status_fault_desc fd = {.object = object,
	                               .condition = condition,
	                               .cause = cause,
	                               .fix = fix,
	                               .detail = detail,
	                               .severity = severity};
	status_fault_raise(id, &fd);
	d->status_dirty = true;
}

static void fault(struct dom *d, const char *what, const char *condition, const char *cause,
                  const char *fix)
{
	out_fault(d, what, condition, cause, fix, NULL, FG_LOG_ERR);
	fg_strlcpy(d->last_error, cause, sizeof(d->last_error));
	d->errors++;
}

static void fault_clear(struct dom *d, const char *what)
{
	char id[STATUS_ID_MAX];
	sipgw__fmt(id, sizeof(id), "sip.%s.%s", what, d->cf.rec.domain);
	status_fault_clear(id);
}

static size_t count_sessions(struct sipgw *gw, const char *domain)
{
	size_t n = 0;
	for (struct session *s = gw->sessions; s != NULL; s = s->next)
		if (strcasecmp(s->domain, domain) == 0)
			n++;
	return n;
}

static size_t count_subs(struct sipgw *gw, const char *domain)
{
	struct db_txn *txn = NULL;
	struct db_subscription *subs = NULL;
	size_t n = 0, k = 0;
	if (db_txn_begin(gw->db, &txn) != FG_OK)
		return 0;
	if (db_subscription_list(txn, &subs, &n) == FG_OK)
		for (size_t i = 0; i < n; i++)
			if (strcasecmp(subs[i].sip_domain, domain) == 0 &&
			    subs[i].state != DB_SUB_TERMINATED)
				k++;
	free(subs);
	db_txn_end(txn);
	return k;
}

static void dom_status(struct sipgw *gw, struct dom *d)
{
	char id[STATUS_ID_MAX], name[160];
	sipgw__fmt(id, sizeof(id), "sip:%s", d->cf.rec.domain);
	sipgw__fmt(name, sizeof(name), "SIP domain %s", d->cf.rec.domain);
	const char *state = "connecting", *reason = "";
	if (!gw->set.enabled) {
		state = "disabled";
		reason = "sip.enabled is false";
	} else if (d->cf.problem[0] != '\0') {
		state = "failed";
		reason = d->cf.problem;
	} else if (strcmp(d->options, "ok") == 0 && d->out != NULL && d->out->state == CS_UP) {
		state = "up";
	} else if (d->last_error[0] != '\0') {
		state = "failed";
		reason = d->last_error;
	}
	status_set(id, "sip-domain", name, state, reason);
	struct fg_buf j = {0};
	(void)fg_buf_append_str(&j, "{\"next_hop\":\"");
	sipgw__json_escape(&j, d->cf.rec.next_hop);
	(void)fg_buf_printf(&j, "\",\"port\":%u,\"transport\":\"%s\",\"xmpp_domain\":\"",
	                    (unsigned)d->cf.rec.next_hop_port,
	                    sipgw__domain_tls(&d->cf.rec) ? "tls" : "tcp");
	sipgw__json_escape(&j, d->cf.xmpp);
	(void)fg_buf_append_str(&j, "\",\"address\":\"");
	sipgw__json_escape(&j, d->addr);
	(void)fg_buf_printf(&j,
	                    "\",\"dns\":\"%s\",\"tcp\":\"%s\",\"tls\":\"%s\",\"options\":\"%s\","
	                    "\"cert_match\":\"%s\",\"peer_names\":\"",
	                    d->dns, d->tcp, d->tls, d->options, d->cert);
	sipgw__json_escape(&j, d->peer_names);
	(void)fg_buf_printf(&j,
	                    "\",\"messages_in\":%llu,\"messages_out\":%llu,\"errors\":%llu,"
	                    "\"subscriptions\":%zu,\"sessions\":%zu,\"last_error\":\"",
	                    (unsigned long long)d->msgs_in, (unsigned long long)d->msgs_out,
	                    (unsigned long long)d->errors, count_subs(gw, d->cf.rec.domain),
	                    count_sessions(gw, d->cf.rec.domain));
	sipgw__json_escape(&j, d->last_error);
	/* the store keeps 2 KiB of extra JSON: the longer texts are cut */
	char cut[400];
	(void)fg_buf_printf(&j, "\",\"refused\":%llu,\"last_refused\":\"",
	                    (unsigned long long)d->refused);
	fg_strlcpy(cut, d->last_refused, sizeof(cut));
	sipgw__json_escape(&j, cut);
	/* RFC 3263 §4.4: the SRV target in use and those that failed before it */
	(void)fg_buf_append_str(&j, "\",\"target\":\"");
	sipgw__json_escape(&j, d->target);
	(void)fg_buf_append_str(&j, "\",\"targets_failed\":\"");
	fg_strlcpy(cut, d->targets_failed, sizeof(cut));
	sipgw__json_escape(&j, cut);
	(void)fg_buf_append_str(&j, "\"}");
	status_set_extra(id, fg_buf_cstr(&j));
	fg_buf_free(&j);
	d->status_dirty = false;
}

/* ---- connections: I/O ------------------------------------------------------------------- */

static void conn_kill(struct conn *c, const char *why, bool graceful);
static void conn_up(struct conn *c);
static void on_plain(struct conn *c, const uint8_t *buf, size_t len);
static void ctxn_fail_conn(struct sipgw *gw, struct conn *c, const char *why);

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	uint8_t data[];
};

static void write_cb(uv_write_t *r, int status)
{
	struct wreq *w = (struct wreq *)r;
	w->c->wpending -= w->len;
	/* a write on the socket of an SRV target given up (RFC 3263 §4.4) is no news about
	 * the connection, which has moved on to the next target */
	if (status < 0 && status != UV_ECANCELED && w->c->state != CS_DEAD &&
	    r->handle == (uv_stream_t *)w->c->tcp)
		conn_kill(w->c, uv_strerror(status), false);
	free(w);
}

static void raw_write_now(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->tcp == NULL || !c->tcp_open || len == 0 || c->state == CS_DEAD)
		return;
	c->last_io = now_mono();
	if (c->wpending == 0) {
		uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
		int n = uv_try_write((uv_stream_t *)c->tcp, &b, 1);
		if (n == (int)len)
			return;
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		} else if (n != UV_EAGAIN) {
			conn_kill(c, uv_strerror(n), false);
			return;
		}
	}
	if (c->wpending + len > SIPGW_WRITE_PENDING_MAX) {
		conn_kill(c, "the peer does not read what we send", false);
		return;
	}
	struct wreq *w = malloc(sizeof(*w) + len);
	if (w == NULL) {
		conn_kill(c, "out of memory", false);
		return;
	}
	w->c = c;
	w->len = len;
	memcpy(w->data, data, len);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)c->tcp, &b, 1, write_cb) != 0) {
		free(w);
		conn_kill(c, "write failed", false);
		return;
	}
	c->wpending += len;
}

/* Writes what wbuf gathered (a write error kills c, which may then be gone for the
 * caller only if it had no socket, and then nothing was gathered). */
static void raw_flush(struct conn *c)
{
	if (c->wbuf.len == 0)
		return;
	struct fg_buf b = c->wbuf;
	c->wbuf = (struct fg_buf){0};
	raw_write_now(c, b.data, b.len);
	if (c->state != CS_DEAD && c->wbuf.data == NULL && b.cap <= SIPGW_WBUF_MAX) {
		b.len = 0; /* written or copied: the memory serves the next turn */
		c->wbuf = b;
		return;
	}
	fg_buf_free(&b);
}

/* Gathers bytes for the socket: the replies produced by one read (and by the router's
 * verdicts of one loop turn) leave in one write, flushed before the loop waits again. */
static void raw_write(struct conn *c, const uint8_t *data, size_t len)
{
	if (c->tcp == NULL || !c->tcp_open || len == 0 || c->state == CS_DEAD)
		return;
	if (c->wbuf.len + len > SIPGW_WBUF_MAX) {
		raw_flush(c);
		raw_write_now(c, data, len);
		return;
	}
	if (fg_buf_append(&c->wbuf, data, len) != FG_OK) {
		conn_kill(c, "out of memory", false);
		return;
	}
	c->gw->wbuf_dirty = true;
}

static void stxn_reclaim(struct sipgw *gw);

static void flush_cb(uv_prepare_t *h)
{
	struct sipgw *gw = h->data;
	stxn_reclaim(gw);
	if (!gw->wbuf_dirty)
		return;
	gw->wbuf_dirty = false;
	for (struct conn *c = gw->conns; c != NULL;) {
		struct conn *next = c->next; /* a failed write unlinks c */
		raw_flush(c);
		c = next;
	}
}

/* A write error kills the connection (CS_DEAD); c itself stays until its handle closes. */
static bool tls_write_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;
	raw_write(c, buf, len);
	return c->state != CS_DEAD;
}

static void tls_pump(struct conn *c)
{
	if (c->tls != NULL && c->state != CS_DEAD)
		(void)tls_conn_pump(c->tls, tls_write_cb, c);
}

static void conn_send(struct conn *c, const uint8_t *data, size_t len)
{
	if (c == NULL || c->state == CS_DEAD || len == 0)
		return;
	if (c->state != CS_UP) {
		if (c->outq.len + len > SIPGW_OUTQ_MAX ||
		    fg_buf_append(&c->outq, data, len) != FG_OK)
			conn_kill(c, "too much waiting for the connection to come up", false);
		return;
	}
	if (c->tls == NULL) {
		raw_write(c, data, len);
		return;
	}
	if (tls_conn_write_all(c->tls, data, len, tls_write_cb, c) != FG_OK)
		conn_kill(c, tls_conn_error_text(c->tls), false);
}

static void conn_closed_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct sipgw *gw = c->gw;
	free(h);
	free(c);
	gw_unref(gw);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	(void)status;
	uv_tcp_t *t = (uv_tcp_t *)req->handle;
	free(req);
	if (!uv_is_closing((uv_handle_t *)t))
		uv_close((uv_handle_t *)t, conn_closed_cb);
}

static void conn_unlink(struct conn *c)
{
	struct sipgw *gw = c->gw;
	for (struct conn **pp = &gw->conns; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			gw->nconns--;
			break;
		}
	}
}

static void conn_free_state(struct conn *c)
{
	if (c->q != NULL) {
		resolve_cancel(c->q);
		c->q = NULL;
	}
	tls_conn_free(c->tls);
	c->tls = NULL;
	sip_stream_free(c->stream);
	c->stream = NULL;
	fg_buf_free(&c->outq);
	fg_buf_free(&c->wbuf);
	free(c->peer_der);
	c->peer_der = NULL;
}

static void conn_kill(struct conn *c, const char *why, bool graceful)
{
	raw_flush(c); /* what was answered before the close goes out first */
	if (c->state == CS_DEAD)
		return;
	struct sipgw *gw = c->gw;
	enum conn_state was = c->state;
	c->state = CS_DEAD;
	if (c->dom != NULL) {
		struct dom *d = c->dom;
		if (d->out == c)
			d->out = NULL;
		d->retry_at = now_mono() + SIPGW_RETRY_MS;
		if (was == CS_UP && !gw->stopping) {
			fg_log(FG_LOG_NOTICE, SIPGW_SUBSYS, "connection to %s (%s) closed: %s",
			       d->cf.rec.next_hop, c->peer, why);
			fg_strlcpy(d->tcp, "closed", sizeof(d->tcp));
			d->status_dirty = true;
		}
	} else if (!gw->stopping) {
		fg_log(FG_LOG_DEBUG, SIPGW_SUBSYS, "connection from %s closed: %s", c->peer, why);
	}
	/* transactions and sessions that answer on this connection lose it */
	for (struct stxn *s = gw->stxns; s != NULL; s = s->next)
		if (s->c == c)
			s->c = NULL;
	for (struct session *s = gw->sessions; s != NULL; s = s->next)
		if (s->c == c)
			s->c = NULL;
	ctxn_fail_conn(gw, c, why);
	conn_unlink(c);
	if (graceful && c->tls != NULL && c->tls_up) {
		c->state = CS_UP; /* let the close_notify out */
		tls_conn_close(c->tls);
		tls_pump(c);
		raw_flush(c);
		c->state = CS_DEAD;
	}
	conn_free_state(c);
	if (c->tcp == NULL) {
		free(c);
		gw_unref(gw);
		return;
	}
	if (graceful && c->tcp_open) {
		uv_shutdown_t *req = malloc(sizeof(*req));
		uv_read_stop((uv_stream_t *)c->tcp);
		if (req != NULL && uv_shutdown(req, (uv_stream_t *)c->tcp, shutdown_cb) == 0)
			return;
		free(req);
	}
	if (!uv_is_closing((uv_handle_t *)c->tcp))
		uv_close((uv_handle_t *)c->tcp, conn_closed_cb);
}

static struct conn *conn_new(struct sipgw *gw, bool out, bool use_tls)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->gw = gw;
	c->out = out;
	c->use_tls = use_tls;
	c->stream = sip_stream_new();
	if (c->stream == NULL) {
		free(c);
		return NULL;
	}
	c->last_io = now_mono();
	c->next = gw->conns;
	gw->conns = c;
	gw->nconns++;
	gw->refs++;
	return c;
}

static void out_target_failed(struct conn *c, const char *kind, const char *condition,
                              const char *cause, const char *why, const char *fix);
static void out_target_ok(struct conn *c);

static void conn_tls_failed(struct conn *c)
{
	int code = tls_conn_error_code(c->tls);
	const char *text = tls_conn_error_text(c->tls);
	char cause[512];
	if (c->dom != NULL) {
		struct dom *d = c->dom;
		/* BearSSL's X.509 errors (BR_ERR_X509_*) are 32..63 */
		bool cert = code >= 32 && code < 64;
		char why[300];
		sipgw__fmt(cause, sizeof(cause), "TLS with the next hop %s (%s) failed: %s",
		           d->cf.rec.next_hop, c->peer, text);
		sipgw__fmt(why, sizeof(why), "TLS with %s failed: %s", c->peer, text);
		fg_strlcpy(d->tls, "failed", sizeof(d->tls));
		out_target_failed(
		    c, "tls", cert ? "Next hop certificate refused" : "TLS handshake failed", cause,
		    why,
		    cert ? "Check that the trusted CA bundle chosen for this SIP domain holds the "
		           "CA that signed the next hop's certificate, and that the certificate "
		           "is valid; the next hop must also trust the CA of our SIP certificate."
		         : "Check that the next hop speaks TLS 1.2 on this port and trusts the CA "
		           "of our SIP certificate (mutual TLS).");
		return;
	}
	sipgw__fmt(cause, sizeof(cause), "TLS with incoming peer %s failed: %s", c->peer, text);
	fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "%s", cause);
	conn_kill(c, cause, false);
}

static void conn_tls_established(struct conn *c)
{
	c->tls_up = true;
	const uint8_t *der = NULL;
	size_t len = 0;
	tls_conn_peer_cert(c->tls, &der, &len);
	if (c->dom == NULL) {
		if (len > 0 && (c->peer_der = malloc(len)) != NULL) {
			memcpy(c->peer_der, der, len);
			c->peer_der_len = len;
		}
		conn_up(c);
		return;
	}
	struct dom *d = c->dom;
	fg_strlcpy(d->tls, "ok", sizeof(d->tls));
	char names[256] = "";
	/* RFC 5922 §4: the name to find is the configured next hop (the domain the SRV
	 * records belong to), never the SRV target's own name */
	bool ok = sipgw_cert_names_host(der, len, d->cf.rec.next_hop, names, sizeof(names));
	fg_strlcpy(d->peer_names, names, sizeof(d->peer_names));
	d->status_dirty = true;
	if (!ok) {
		/* seed 000: "peer's certificate does not contain a matching FQDN"; raised at
		 * once, even when another SRV target is tried next */
		char cause[512], fix[512], via[DNS_MAX_NAME + 120] = "", why[300];
		if (d->ntargets > 1 || strcasecmp(c->host, d->cf.rec.next_hop) != 0)
			sipgw__fmt(via, sizeof(via), " (SRV target %s port %u, %s)", c->host,
			           (unsigned)c->port, c->peer);
		sipgw__fmt(
		    cause, sizeof(cause),
		    "The next hop's certificate does not contain a matching FQDN: it names %s, "
		    "but the configured next hop is %s%s.",
		    names, d->cf.rec.next_hop, via);
		sipgw__fmt(
		    fix, sizeof(fix),
		    "Set the SIP domain's next hop to the name on the edge's certificate (one of: "
		    "%s), or give the edge a certificate whose subjectAltName DNS entry is %s.",
		    names, d->cf.rec.next_hop);
		sipgw__fmt(why, sizeof(why), "its certificate names %s, not %s", names,
		           d->cf.rec.next_hop);
		fg_strlcpy(d->cert, "mismatch", sizeof(d->cert));
		fault(d, "cert", "Next hop certificate name does not match", cause, fix);
		c->cert_mismatch = true;
		fg_strlcpy(c->cert_cause, cause, sizeof(c->cert_cause));
		out_target_failed(c, "cert", "Next hop certificate name does not match", cause, why,
		                  fix);
		return;
	}
	fg_strlcpy(d->cert, c->cert_mismatch ? "mismatch" : "ok", sizeof(d->cert));
	if (!c->cert_mismatch)
		fault_clear(d, "cert");
	out_target_ok(c);
	conn_up(c);
}

static bool tls_plain_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct conn *c = ctx;
	on_plain(c, buf, len);
	return c->state != CS_DEAD && c->tls != NULL;
}

static void conn_feed_tls(struct conn *c, const uint8_t *buf, size_t len)
{
	uint8_t app[APP_BUF];
	while (c->state != CS_DEAD && c->tls != NULL) {
		size_t used = 0;
		if (len > 0 && tls_conn_feed(c->tls, buf, len, &used) != FG_OK) {
			tls_pump(c);
			conn_tls_failed(c);
			return;
		}
		buf += used;
		len -= used;
		tls_pump(c);
		if (c->state == CS_DEAD)
			return;
		enum tls_state st = tls_conn_state(c->tls);
		if (st == TLS_STATE_FAILED) {
			conn_tls_failed(c);
			return;
		}
		if (st == TLS_STATE_CLOSED) {
			conn_kill(c, "the peer closed TLS", false);
			return;
		}
		if (st == TLS_STATE_ESTABLISHED && !c->tls_up) {
			conn_tls_established(c);
			if (c->state == CS_DEAD)
				return;
		}
		bool got_any =
		    c->tls != NULL && tls_conn_read_all(c->tls, app, sizeof(app), tls_plain_cb, c);
		if (len == 0 && !got_any)
			break;
		if (used == 0 && !got_any)
			break;
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = fg_readbuf_take(&buf->len);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (n > 0 && c->state != CS_DEAD) {
		read_now = fg_mono_ms();
		c->last_io = read_now;
		if (c->tls != NULL)
			conn_feed_tls(c, (const uint8_t *)buf->base, (size_t)n);
		else
			on_plain(c, (const uint8_t *)buf->base, (size_t)n);
	} else if (n < 0 && c->state != CS_DEAD) {
		if (c->tls != NULL && !c->tls_up) {
			tls_conn_feed_eof(c->tls);
			conn_tls_failed(c);
		} else {
			conn_kill(
			    c, n == UV_EOF ? "the peer closed the connection" : uv_strerror((int)n),
			    false);
		}
	}
	read_now = -1;
	fg_readbuf_give(buf->base);
}

static enum fg_err conn_start_tls(struct conn *c, bool server)
{
	struct sipgw *gw = c->gw;
	struct tls_config cfg = {.role = server ? TLS_ROLE_SERVER : TLS_ROLE_CLIENT};
	struct tls_trust *trust = NULL;
	if (server) {
		/* mutual TLS: any configured domain's CA may have signed the edge's certificate;
		 * the name is checked per request against the domain the request is for */
		struct fg_buf pem = {0};
		struct db_txn *txn = NULL;
		if (db_txn_begin(gw->db, &txn) == FG_OK) {
			for (size_t i = 0; i < gw->ndoms; i++) {
				struct db_cert ca = {0};
				if (gw->doms[i]->cf.rec.ca_id[0] != '\0' &&
				    db_cert_get(txn, gw->doms[i]->cf.rec.ca_id, &ca) == FG_OK &&
				    ca.pem != NULL) {
					(void)fg_buf_append_str(&pem, ca.pem);
					(void)fg_buf_append_str(&pem, "\n");
				}
				db_cert_clear(&ca);
			}
			db_txn_end(txn);
		}
		if (pem.len > 0 &&
		    tls_trust_from_pem(&trust, (const char *)pem.data, pem.len) != FG_OK)
			trust = NULL;
		fg_buf_free(&pem);
		for (size_t i = 0; i < gw->ndoms && cfg.creds == NULL; i++)
			cfg.creds = gw->doms[i]->cf.creds;
		if (cfg.creds == NULL || trust == NULL) {
			tls_trust_free(trust);
			return FG_ERR_INVAL;
		}
		cfg.trust = trust;
		cfg.require_client_cert = true;
	} else {
		cfg.creds = c->dom->cf.creds;
		cfg.trust = c->dom->cf.trust;
		if (cfg.trust == NULL)
			return FG_ERR_INVAL;
		/* SNI with the next hop's name (RFC 6066 §3: host names only, never an address
		 * literal) so that an edge with several certificates picks the right one; the
		 * name is checked by us (RFC 5922 §7.1) so that a mismatch can be reported with
		 * the names the certificate has */
		const char *hop = c->dom->cf.rec.next_hop;
		cfg.server_name = sipgw__is_ip_literal(hop) ? NULL : hop;
		cfg.sni_skip_name_check = true;
	}
	enum fg_err err = tls_conn_new(&c->tls, &cfg);
	tls_trust_free(trust);
	if (err != FG_OK)
		return err;
	c->state = CS_TLS;
	tls_pump(c);
	return FG_OK;
}

static void conn_up(struct conn *c)
{
	c->state = CS_UP;
	if (c->dom != NULL) {
		struct dom *d = c->dom;
		fault_clear(d, "connect");
		d->last_error[0] = '\0';
		d->status_dirty = true;
		fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "connected to the next hop of %s: %s (%s)",
		       d->cf.rec.domain, d->cf.rec.next_hop, c->peer);
		/* first OPTIONS at once: the status says soon whether the edge answers */
		d->options_at = now_mono();
	}
	if (c->outq.len > 0) {
		struct fg_buf q = c->outq;
		memset(&c->outq, 0, sizeof(c->outq));
		conn_send(c, q.data, q.len);
		fg_buf_free(&q);
	}
}

/* ---- outgoing connections ---------------------------------------------------------------- */

static void out_next_addr(struct conn *c);
static void out_try_target(struct conn *c);

/* "host:port" of the target being tried. */
static void out_target_name(const struct conn *c, char *out, size_t size)
{
	sipgw__fmt(out, size, strchr(c->host, ':') ? "[%s]:%u" : "%s:%u", c->host,
	           (unsigned)c->port);
}

/* Appends "; " + text to a list kept in a fixed buffer (cut when full). */
static void list_add(char *list, size_t size, const char *text)
{
	size_t l = strlen(list);
	if (l < size)
		sipgw__fmt(list + l, size - l, "%s%s", l ? "; " : "", text);
}

/* Drops what belongs to the target being tried (socket, TLS, framing) so that the next
 * target starts afresh; requests queued for the connection stay queued. */
static void out_reset(struct conn *c)
{
	struct sipgw *gw = c->gw;
	if (c->q != NULL) {
		resolve_cancel(c->q);
		c->q = NULL;
	}
	if (c->connect_q != NULL) {
		c->connect_q->data = NULL; /* its callback frees it */
		c->connect_q = NULL;
	}
	if (c->tcp != NULL) {
		if (c->tcp_open)
			uv_read_stop((uv_stream_t *)c->tcp);
		close_handle(gw, (uv_handle_t *)c->tcp);
		c->tcp = NULL;
	}
	c->tcp_open = false;
	tls_conn_free(c->tls);
	c->tls = NULL;
	c->tls_up = false;
	fg_buf_free(&c->wbuf);
	sip_stream_free(c->stream);
	c->stream = sip_stream_new();
	c->peer[0] = '\0';
	c->addr_error[0] = '\0';
	c->naddr = c->iaddr = 0;
}

/* One target failed. RFC 3263 §4.4: go on with the next one in SRV order; only when every
 * target failed is the failure a fault, which then names each target (the cause) and why
 * each failed (the detail). */
static void out_target_failed(struct conn *c, const char *kind, const char *condition,
                              const char *cause, const char *why, const char *fix)
{
	struct dom *d = c->dom;
	char name[DNS_MAX_NAME + 8], item[DNS_MAX_NAME + 320];
	out_target_name(c, name, sizeof(name));
	sipgw__fmt(item, sizeof(item), "%s: %s", name, why);
	list_add(c->tried, sizeof(c->tried), item);
	if (c->itarget + 1 < d->ntargets && !c->gw->stopping) {
		fg_log(FG_LOG_NOTICE, SIPGW_SUBSYS,
		       "next hop of %s: target %s failed (%s); trying the next SRV target",
		       d->cf.rec.domain, name, why);
		out_reset(c);
		if (c->stream == NULL) {
			conn_kill(c, "out of memory", false);
			return;
		}
		c->itarget++;
		out_try_target(c);
		return;
	}
	fg_strlcpy(d->targets_failed, c->tried, sizeof(d->targets_failed));
	d->target[0] = '\0';
	if (d->ntargets > 1) {
		char names[SIPGW_TARGETS_TEXT] = "", all[SIPGW_TARGETS_TEXT + 600];
		for (size_t i = 0; i < d->ntargets; i++) {
			char t[DNS_MAX_NAME + 8];
			sipgw__fmt(t, sizeof(t), "%s:%u", d->targets[i].target,
			           (unsigned)d->targets[i].port);
			list_add(names, sizeof(names), t);
		}
		sipgw__fmt(all, sizeof(all), "%s Every SRV target of %s failed: %s.", cause,
		           d->cf.rec.next_hop, names);
		out_fault(d, kind, condition, all, fix, c->tried, FG_LOG_ERR);
		fg_strlcpy(d->last_error, all, sizeof(d->last_error));
		d->errors++;
	} else {
		fault(d, kind, condition, cause, fix);
	}
	conn_kill(c, cause, false);
}

/* A target works: the status names it; failures of this attempt's earlier targets are no
 * longer faults, except a wrong-name certificate, which stays reported as a warning. */
static void out_target_ok(struct conn *c)
{
	struct dom *d = c->dom;
	out_target_name(c, d->target, sizeof(d->target));
	fg_strlcpy(d->targets_failed, c->tried, sizeof(d->targets_failed));
	fault_clear(d, "dns");
	fault_clear(d, "tls");
	if (c->cert_mismatch) {
		char cause[sizeof(c->cert_cause) + 300];
		sipgw__fmt(cause, sizeof(cause),
		           "%s The gateway uses the next SRV target, %s, instead.", c->cert_cause,
		           d->target);
		out_fault(
		    d, "cert", "Next hop certificate name does not match (on one SRV target)",
		    cause,
		    "Give every edge of the SRV set a certificate whose subjectAltName DNS entry "
		    "is the next hop, or remove the failing target from the SRV records.",
		    c->tried, FG_LOG_WARN);
	}
	d->status_dirty = true;
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	free(req);
	if (c == NULL)
		return; /* abandoned: the target was given up or timed out */
	c->connect_q = NULL;
	if (c->state == CS_DEAD)
		return;
	struct dom *d = c->dom;
	if (status < 0) {
		sipgw__fmt(c->addr_error, sizeof(c->addr_error), "TCP connect to %s failed: %s",
		           c->peer, uv_strerror(status));
		/* try the next address with a fresh handle */
		close_handle(c->gw, (uv_handle_t *)c->tcp);
		c->tcp = NULL;
		c->tcp_open = false;
		c->iaddr++;
		out_next_addr(c);
		return;
	}
	c->tcp_open = true;
	if (d != NULL) {
		fg_strlcpy(d->tcp, "ok", sizeof(d->tcp));
		fg_strlcpy(d->addr, c->peer, sizeof(d->addr));
		d->status_dirty = true;
	}
	uv_read_start((uv_stream_t *)c->tcp, alloc_cb, read_cb);
	if (c->use_tls) {
		if (conn_start_tls(c, false) != FG_OK) {
			if (d != NULL)
				fault(d, "tls", "TLS cannot start",
				      "The SIP certificate or the trusted CA bundle of this domain "
				      "cannot be used.",
				      "Choose a SIP certificate with its key and a CA bundle on "
				      "the SIP "
				      "domain.");
			conn_kill(c, "TLS cannot start", false);
		}
		return;
	}
	if (d != NULL) {
		fault_clear(d, "cert");
		out_target_ok(c);
	}
	conn_up(c);
}

static void out_all_failed(struct conn *c)
{
	struct dom *d = c->dom;
	if (d == NULL) {
		conn_kill(c, "no address accepted the connection", false);
		return;
	}
	char cause[512], why[200];
	sipgw__fmt(cause, sizeof(cause),
	           "No address of the next hop %s accepted a connection on port %u (%s).", c->host,
	           (unsigned)c->port, c->addr_error[0] ? c->addr_error : "no address");
	sipgw__fmt(why, sizeof(why), "%s", c->addr_error[0] ? c->addr_error : "no usable address");
	fg_strlcpy(d->tcp, "failed", sizeof(d->tcp));
	out_target_failed(c, "connect", "Cannot connect to the next hop", cause, why,
	                  "Check that the edge listens on that address and port and that no "
	                  "firewall blocks the gateway; check the next hop and port of the SIP "
	                  "domain.");
}

/* The deadline of the current step passed (conns_tick). A connect that hangs moves on to
 * the next address, a handshake or a lookup that hangs to the next target. */
static void out_timed_out(struct conn *c)
{
	struct dom *d = c->dom;
	char name[DNS_MAX_NAME + 8], cause[512], why[300];
	out_target_name(c, name, sizeof(name));
	if (c->state == CS_CONNECTING) {
		sipgw__fmt(c->addr_error, sizeof(c->addr_error), "TCP connect to %s timed out",
		           c->peer);
		if (c->connect_q != NULL) {
			c->connect_q->data = NULL;
			c->connect_q = NULL;
		}
		if (c->tcp != NULL)
			close_handle(c->gw, (uv_handle_t *)c->tcp);
		c->tcp = NULL;
		c->tcp_open = false;
		c->iaddr++;
		out_next_addr(c);
		return;
	}
	if (c->state == CS_TLS) {
		sipgw__fmt(cause, sizeof(cause),
		           "The TLS handshake with the next hop %s (%s) timed out.",
		           d->cf.rec.next_hop, c->peer);
		sipgw__fmt(why, sizeof(why), "TLS handshake with %s timed out", c->peer);
		fg_strlcpy(d->tls, "failed", sizeof(d->tls));
		out_target_failed(c, "tls", "TLS handshake timed out", cause, why,
		                  "Check that the next hop speaks TLS on this port.");
		return;
	}
	sipgw__fmt(cause, sizeof(cause), "The address of the next hop %s was not found in time.",
	           c->host);
	out_target_failed(c, "dns", "Next hop not found in DNS", cause, "no DNS answer in time",
	                  "Check that the DNS servers (xmpp.dns_servers) answer.");
}

static void out_next_addr(struct conn *c)
{
	struct sipgw *gw = c->gw;
	while (c->iaddr < c->naddr) {
		const char *a = c->addrs[c->iaddr];
		struct sockaddr_storage ss;
		if (uv_ip6_addr(a, c->port, (struct sockaddr_in6 *)&ss) != 0 &&
		    uv_ip4_addr(a, c->port, (struct sockaddr_in *)&ss) != 0) {
			c->iaddr++;
			continue;
		}
		uv_connect_t *req = malloc(sizeof(*req));
		c->tcp = malloc(sizeof(*c->tcp));
		if (c->tcp == NULL || req == NULL) {
			free(req);
			free(c->tcp);
			c->tcp = NULL;
			break;
		}
		uv_tcp_init(gw->loop, c->tcp);
		c->tcp->data = c;
		/* the SIP domain's bind address is the source of its next-hop connection, for
		 * edges that accept the gateway from one address only */
		char src[64];
		if (c->dom != NULL && sipgw__bind_addr(c->dom->cf.rec.bind, src, sizeof(src))) {
			struct sockaddr_storage bs;
			if ((uv_ip4_addr(src, 0, (struct sockaddr_in *)&bs) == 0 ||
			     uv_ip6_addr(src, 0, (struct sockaddr_in6 *)&bs) == 0) &&
			    uv_tcp_bind(c->tcp, (const struct sockaddr *)&bs, 0) != 0)
				fg_log(FG_LOG_WARN, SIPGW_SUBSYS,
				       "cannot use %s as the source address toward %s", src, a);
		}
		sipgw__fmt(c->peer, sizeof(c->peer), strchr(a, ':') ? "[%s]:%u" : "%s:%u", a,
		           (unsigned)c->port);
		fg_strlcpy(c->peer_ip, a, sizeof(c->peer_ip));
		req->data = c;
		c->state = CS_CONNECTING;
		c->deadline = now_mono() + SIPGW_CONNECT_TIMEOUT_MS;
		if (uv_tcp_connect(req, c->tcp, (const struct sockaddr *)&ss, connect_cb) == 0) {
			c->connect_q = req;
			return;
		}
		free(req);
		close_handle(gw, (uv_handle_t *)c->tcp);
		c->tcp = NULL;
		c->iaddr++;
	}
	out_all_failed(c);
}

/* Remembers one of the next hop's addresses, the newest first; the oldest goes when the
 * list is full. */
static void hop_addr_learn(struct dom *d, const char *addr)
{
	size_t i = 0;
	while (i < d->nhop_addrs && strcmp(d->hop_addrs[i], addr) != 0)
		i++;
	if (i == d->nhop_addrs && d->nhop_addrs < SIPGW_HOP_ADDRS)
		d->nhop_addrs++;
	if (i == SIPGW_HOP_ADDRS)
		i--;
	memmove(d->hop_addrs[1], d->hop_addrs[0], i * sizeof(d->hop_addrs[0]));
	fg_strlcpy(d->hop_addrs[0], addr, sizeof(d->hop_addrs[0]));
}

static void addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct conn *c = ctx;
	c->q = NULL;
	struct dom *d = c->dom;
	if (ans->status != RESOLVE_OK || ans->n == 0) {
		const char *text = ans->text ? ans->text : resolve_status_name(ans->status);
		if (d == NULL) {
			conn_kill(c, "DNS failure", false);
			return;
		}
		char cause[512], why[300];
		sipgw__fmt(cause, sizeof(cause), "The next hop %s has no address: %s.", c->host,
		           text);
		sipgw__fmt(why, sizeof(why), "no address (%s)", text);
		fg_strlcpy(d->dns, "failed", sizeof(d->dns));
		out_target_failed(
		    c, "dns", "Next hop not found in DNS", cause, why,
		    "Check the next hop name of the SIP domain and that the DNS servers "
		    "(xmpp.dns_servers) publish an address for it, or enter its IP "
		    "address.");
		return;
	}
	if (d != NULL) {
		fg_strlcpy(d->dns, "ok", sizeof(d->dns));
		d->status_dirty = true;
		for (size_t i = 0; i < ans->n; i++)
			hop_addr_learn(d, ans->addrs[i]);
	}
	c->naddr = 0;
	for (size_t i = 0; i < ans->n && c->naddr < RESOLVE_MAX_ADDRS; i++)
		fg_strlcpy(c->addrs[c->naddr++], ans->addrs[i], sizeof(c->addrs[0]));
	c->iaddr = 0;
	out_next_addr(c);
}

/* Resolves the address of dom->targets[c->itarget]. */
static void out_try_target(struct conn *c)
{
	struct dom *d = c->dom;
	const struct dns_srv *t = &d->targets[c->itarget];
	fg_strlcpy(c->host, t->target, sizeof(c->host));
	c->port = t->port;
	c->state = CS_RESOLVING;
	/* the resolver gives up after 5 s: this only catches a lost callback */
	c->deadline = now_mono() + 2 * SIPGW_CONNECT_TIMEOUT_MS;
	if (resolve_addr(c->gw->resolver, c->host, addr_cb, c, &c->q) != FG_OK)
		conn_kill(c, "DNS query failed", false);
}

static void srv_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct conn *c = ctx;
	c->q = NULL;
	struct dom *d = c->dom;
	if (ans->status == RESOLVE_OK && ans->n > 0 &&
	    !dns_srv_is_no_service(ans->records, ans->n)) {
		struct dns_srv recs[DNS_MAX_SRV];
		size_t n = ans->n < DNS_MAX_SRV ? ans->n : DNS_MAX_SRV;
		memcpy(recs, ans->records, n * sizeof(recs[0]));
		(void)dns_srv_order(recs, n, NULL, NULL);
		/* RFC 3263 §4.4 / RFC 2782: every target in order, each tried in turn */
		d->ntargets = n < SIPGW_MAX_TARGETS ? n : SIPGW_MAX_TARGETS;
		memcpy(d->targets, recs, d->ntargets * sizeof(recs[0]));
	} else {
		/* RFC 3263 §4.2: no SRV records: the name itself on the default port */
		memset(&d->targets[0], 0, sizeof(d->targets[0]));
		fg_strlcpy(d->targets[0].target, d->cf.rec.next_hop, sizeof(d->targets[0].target));
		d->targets[0].port = sipgw__default_port(c->use_tls);
		d->ntargets = 1;
	}
	c->itarget = 0;
	out_try_target(c);
}

static void dom_connect(struct sipgw *gw, struct dom *d)
{
	if (d->out != NULL || gw->stopping || !gw->set.enabled || gw->resolver == NULL)
		return;
	if (d->cf.problem[0] != '\0' && sipgw__domain_tls(&d->cf.rec))
		return;
	bool use_tls = sipgw__domain_tls(&d->cf.rec);
	struct conn *c = conn_new(gw, true, use_tls);
	if (c == NULL)
		return;
	c->dom = d;
	d->out = c;
	c->state = CS_RESOLVING;
	c->deadline = now_mono() + 2 * SIPGW_CONNECT_TIMEOUT_MS;
	fg_strlcpy(c->host, d->cf.rec.next_hop, sizeof(c->host));
	fg_strlcpy(d->dns, "pending", sizeof(d->dns));
	if (d->cf.rec.next_hop_port != 0 || sipgw__is_ip_literal(c->host)) {
		/* a configured port or an address: one target, no SRV (RFC 3263 §4.2) */
		memset(&d->targets[0], 0, sizeof(d->targets[0]));
		fg_strlcpy(d->targets[0].target, d->cf.rec.next_hop, sizeof(d->targets[0].target));
		d->targets[0].port = d->cf.rec.next_hop_port ? d->cf.rec.next_hop_port
		                                             : sipgw__default_port(use_tls);
		d->ntargets = 1;
		c->itarget = 0;
		out_try_target(c);
		return;
	}
	/* RFC 3263 §4.2 / RFC 5630: SIP over TLS is found with _sips._tcp */
	char name[DB_DOMAIN_MAX + 16];
	sipgw__fmt(name, sizeof(name), "%s.%s", use_tls ? "_sips._tcp" : "_sip._tcp", c->host);
	if (resolve_srv(gw->resolver, name, srv_cb, c, &c->q) != FG_OK)
		conn_kill(c, "DNS query failed", false);
}

/* ---- incoming connections ---------------------------------------------------------------- */

static void accept_cb(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct sipgw *gw = l->gw;
	if (status < 0 || gw->stopping)
		return;
	uv_tcp_t *t = malloc(sizeof(*t));
	if (t == NULL)
		return;
	uv_tcp_init(gw->loop, t);
	if (uv_accept(server, (uv_stream_t *)t) != 0 || gw->nconns >= SIPGW_MAX_CONNS) {
		close_handle(gw, (uv_handle_t *)t);
		return;
	}
	struct conn *c = conn_new(gw, false, l->use_tls);
	if (c == NULL) {
		close_handle(gw, (uv_handle_t *)t);
		return;
	}
	c->tcp = t;
	c->tcp_open = true;
	t->data = c;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	char ip[64] = "?";
	if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
		else
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
		fg_strlcpy(c->peer_ip, ip, sizeof(c->peer_ip));
		sipgw__fmt(c->peer, sizeof(c->peer), "%s:%u", ip,
		           ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
		                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	c->deadline = now_mono() + SIPGW_CONNECT_TIMEOUT_MS;
	uv_read_start((uv_stream_t *)t, alloc_cb, read_cb);
	if (l->use_tls) {
		if (conn_start_tls(c, true) != FG_OK) {
			fg_log(FG_LOG_WARN, SIPGW_SUBSYS,
			       "TLS connection from %s refused: no SIP certificate or CA bundle is "
			       "configured",
			       c->peer);
			conn_kill(c, "no TLS credentials", false);
		}
		return;
	}
	conn_up(c);
}

static void listener_close(struct listener *l)
{
	if (l->tcp != NULL) {
		close_handle(l->gw, (uv_handle_t *)l->tcp);
		l->tcp = NULL;
	}
}

static void listener_apply(struct sipgw *gw, struct listener *l, uint16_t port, bool use_tls)
{
	bool want = gw->set.enabled && port != 0 && !gw->stopping;
	if (l->tcp != NULL && want && l->port == port && strcmp(l->addr, gw->set.bind) == 0)
		return;
	listener_close(l);
	if (!want) {
		char sid[64];
		sipgw__fmt(sid, sizeof(sid), "listener:sip-%s", use_tls ? "tls" : "tcp");
		status_remove(sid);
		return;
	}
	l->gw = gw;
	l->use_tls = use_tls;
	l->port = port;
	fg_strlcpy(l->addr, gw->set.bind, sizeof(l->addr));
	char id[64], name[128];
	sipgw__fmt(id, sizeof(id), "listener:sip-%s", use_tls ? "tls" : "tcp");
	sipgw__fmt(name, sizeof(name), "SIP %s %s:%u", use_tls ? "TLS" : "TCP", l->addr,
	           (unsigned)port);
	struct sockaddr_storage ss;
	if (uv_ip4_addr(l->addr, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(l->addr, port, (struct sockaddr_in6 *)&ss) != 0) {
		status_set(id, "listener", name, "failed", "the bind address is not an IP address");
		return;
	}
	l->tcp = malloc(sizeof(*l->tcp));
	if (l->tcp == NULL)
		return;
	uv_tcp_init(gw->loop, l->tcp);
	l->tcp->data = l;
	int rc = uv_tcp_bind(l->tcp, (const struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)l->tcp, 128, accept_cb);
	if (rc != 0) {
		char why[160];
		sipgw__fmt(why, sizeof(why), "cannot listen: %s", uv_strerror(rc));
		status_set(id, "listener", name, "failed", why);
		if (!l->failed)
			fg_log(FG_LOG_ERR, SIPGW_SUBSYS, "%s %s (tried again every %d s)", name,
			       why, SIPGW_RETRY_MS / 1000);
		l->failed = true;
		listener_close(l);
		return;
	}
	l->failed = false;
	status_set(id, "listener", name, "listening", "");
	fg_log(FG_LOG_NOTICE, SIPGW_SUBSYS, "listening on %s", name);
}

/* ---- transactions -------------------------------------------------------------------------- */

#define ALLOW_METHODS "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY"

static void dispatch(struct stxn *st);
static void ctxn_finish(struct ctxn *ct, unsigned status, const struct sip_msg *rsp,
                        const char *why);

static void stxn_hash_del(struct sipgw *gw, struct stxn *st);

static void stxn_actions(struct stxn *st, const struct sip_txn_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		const struct sip_txn_action *a = &acts->act[i];
		switch (a->kind) {
		case SIP_TXN_ACT_SEND:
			if (st->c != NULL)
				conn_send(st->c, a->bytes, a->len);
			break;
		case SIP_TXN_ACT_DELIVER:
			dispatch(st);
			break;
		case SIP_TXN_ACT_TIMEOUT:
			break;
		case SIP_TXN_ACT_TERMINATE:
			st->dead = true;
			stxn_hash_del(st->gw, st); /* matches nothing from now on */
			if (!st->reclaim_queued) {
				/* its request and transaction go back to their free lists at the
				 * end of this loop turn (flush_cb), not at the next sweep */
				st->reclaim_queued = true;
				st->reclaim_next = st->gw->reclaim;
				st->gw->reclaim = st;
			}
			break;
		}
	}
}

/* Frees what terminated transactions hold; the records stay listed until sweep. Runs
 * where no caller can still be looking at them (once per loop turn, before the poll). */
static void stxn_reclaim(struct sipgw *gw)
{
	while (gw->reclaim != NULL) {
		struct stxn *st = gw->reclaim;
		gw->reclaim = st->reclaim_next;
		st->reclaim_next = NULL;
		st->reclaim_queued = false;
		if (st->pend != NULL)
			continue; /* the router's verdict still reads the request */
		sip_txn_free(st->t);
		st->t = NULL;
		sip_msg_free(st->req);
		st->req = NULL;
	}
}

/* Where responses are built: kept from one response to the next (no malloc per message);
 * a response built while another is being sent (a write failure can answer other
 * transactions) gets a buffer of its own. */
#define RESPOND_BUF_KEEP 16384 /* a 202 is ~250 bytes, a 200 with SDP ~1 KiB */
static _Thread_local struct fg_buf respond_buf;
static _Thread_local bool respond_busy;

void sipgw__respond(struct stxn *st, unsigned status, const char *extra, const char *ctype,
                    const uint8_t *body, size_t blen)
{
	if (st->t == NULL || st->dead || sip_txn_state(st->t) == SIP_TXN_TERMINATED)
		return;
	struct fg_buf own = {0};
	struct fg_buf *out = respond_busy ? &own : &respond_buf;
	bool outer = !respond_busy;
	respond_busy = true;
	fg_buf_reset(out);
	struct sip_txn_actions acts = {0};
	if (sip_build_response(out, st->req, status, sip_reason_phrase(status), st->to_tag, extra,
	                       ctype, body, blen) == FG_OK &&
	    sip_txn_send_response(st->t, status, out->data, out->len, now_mono(), &acts) == FG_OK)
		stxn_actions(st, &acts);
	if (outer) {
		respond_busy = false;
		if (respond_buf.cap > RESPOND_BUF_KEEP)
			fg_buf_free(&respond_buf); /* a big body: do not keep its memory */
	}
	fg_buf_free(&own);
}

/* RFC 3261 §17.2.3: a request with a magic-cookie branch matches on branch, sent-by and
 * method, an RFC 2543 one on Call-ID, CSeq and more. The hash covers the parts compared
 * byte for byte (branch, or Call-ID and CSeq number); sip_txn_match_request decides. */
static uint32_t stxn_hash(const struct sip_msg *m)
{
	uint32_t h = FG_FNV32_INIT;
	const struct sip_via *v = &m->vias[0];
	if (v->branch.len > 7 && memcmp(v->branch.p, SIP_BRANCH_COOKIE, 7) == 0)
		return fg_fnv1a32(h, v->branch.p, v->branch.len);
	h = fg_fnv1a32(h, &m->cseq, sizeof(m->cseq));
	return m->call_id.p != NULL ? fg_fnv1a32(h, m->call_id.p, m->call_id.len) : h;
}

static void stxn_hash_add(struct sipgw *gw, struct stxn *st)
{
	/* out of memory: left unhashed, unmatchable, like a transaction already gone */
	st->hashed = sipgw_htab_add(&gw->stxn_tab, &st->hl, stxn_hash(st->req));
}

static void stxn_hash_del(struct sipgw *gw, struct stxn *st)
{
	if (!st->hashed)
		return;
	sipgw_htab_del(&gw->stxn_tab, &st->hl);
	st->hashed = false;
}

static struct stxn *stxn_find(struct sipgw *gw, const struct conn *c, const struct sip_msg *m)
{
	if (gw->stxn_tab.buckets == NULL || m->nvias == 0)
		return NULL;
	uint32_t h = stxn_hash(m);
	for (struct sipgw_hlink *l = sipgw_htab_bucket(&gw->stxn_tab, h); l != NULL; l = l->next) {
		struct stxn *st = SIPGW_HTAB_ENTRY(l, struct stxn, hl);
		if (l->hash != h || st->dead || st->t == NULL || st->c != c ||
		    !sip_txn_match_request(st->t, m))
			continue;
		return st;
	}
	return NULL;
}

static uint32_t branch_hash(struct sip_str b)
{
	return b.p != NULL ? fg_fnv1a32(FG_FNV32_INIT, b.p, b.len) : FG_FNV32_INIT;
}

/* Links a client transaction into the list and, once it has a request, the index. */
static void ctxn_link(struct sipgw *gw, struct ctxn *ct)
{
	ct->next = gw->ctxns;
	gw->ctxns = ct;
	if (ct->t == NULL)
		return;
	ct->hashed = sipgw_htab_add(&gw->ctxn_tab, &ct->hl, branch_hash(sip_txn_branch(ct->t)));
	if (!ct->hashed)
		ct->dead = true; /* out of memory: its answer could not be found */
}

static void ctxn_hash_del(struct sipgw *gw, struct ctxn *ct)
{
	if (!ct->hashed)
		return;
	sipgw_htab_del(&gw->ctxn_tab, &ct->hl);
	ct->hashed = false;
}

/* Freed records are kept for the next requests (no calloc/free per message); under
 * AddressSanitizer they are poisoned meanwhile, so a use after stxn_free is reported. */
#define STXN_CACHE_MAX   4096 /* ~100 bytes each: a 200 ms sweep frees 1,200 at 6,000/s */
#define STXN_POISON(p)   FG_POISON(&(p)->hl, sizeof(struct stxn) - sizeof(struct stxn *))
#define STXN_UNPOISON(p) FG_UNPOISON((p), sizeof(struct stxn))
static _Thread_local struct stxn *stxn_cache;
static _Thread_local size_t stxn_cache_n;

static struct stxn *stxn_new(void)
{
	struct stxn *st = stxn_cache;
	if (st == NULL)
		return calloc(1, sizeof(*st));
	STXN_UNPOISON(st);
	stxn_cache = st->next;
	stxn_cache_n--;
	memset(st, 0, sizeof(*st));
	return st;
}

static void stxn_free(struct stxn *st)
{
	stxn_hash_del(st->gw, st);
	if (st->reclaim_queued) {
		for (struct stxn **pp = &st->gw->reclaim; *pp != NULL; pp = &(*pp)->reclaim_next)
			if (*pp == st) {
				*pp = st->reclaim_next;
				break;
			}
		st->reclaim_queued = false;
	}
	if (st->pend != NULL) {
		/* the router's answer will find nobody to tell */
		if (st->gw->npending > 0)
			st->gw->npending--;
		st->pend->st = NULL;
		st->pend = NULL;
	}
	sip_txn_free(st->t);
	sip_msg_free(st->req);
	if (stxn_cache_n >= STXN_CACHE_MAX) {
		free(st);
		return;
	}
	st->next = stxn_cache;
	stxn_cache = st;
	stxn_cache_n++;
	/* next (the first member) stays readable: it links the free list */
	STXN_POISON(st);
}

static void mq_detach(struct ctxn *ct);

static void ctxn_free(struct ctxn *ct)
{
	mq_detach(ct);
	if (ct->gw != NULL)
		ctxn_hash_del(ct->gw, ct);
	sip_txn_free(ct->t);
	free(ct->orig_from);
	free(ct->orig_to);
	free(ct->orig_id);
	free(ct->req);
	free(ct);
}

static void ctxn_actions(struct ctxn *ct, const struct sip_txn_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		const struct sip_txn_action *a = &acts->act[i];
		switch (a->kind) {
		case SIP_TXN_ACT_SEND:
			if (ct->c != NULL)
				conn_send(ct->c, a->bytes, a->len);
			break;
		case SIP_TXN_ACT_DELIVER:
			if (a->msg != NULL && a->msg->status >= 200)
				ctxn_finish(ct, a->msg->status, a->msg, NULL);
			break;
		case SIP_TXN_ACT_TIMEOUT:
			/* RFC 3261 §8.1.3.1: Timer F is a 408 */
			ctxn_finish(ct, 408, NULL, "no answer from the next hop (Timer F)");
			break;
		case SIP_TXN_ACT_TERMINATE:
			ct->dead = true;
			break;
		}
	}
}

static void ctxn_fail_conn(struct sipgw *gw, struct conn *c, const char *why)
{
	for (struct ctxn *ct = gw->ctxns; ct != NULL; ct = ct->next) {
		if (ct->c != c || ct->dead)
			continue;
		ct->c = NULL;
		/* RFC 3261 §8.1.3.1: a transport failure is reported like a 503 */
		ctxn_finish(ct, 0, NULL, why);
		ct->dead = true;
	}
}

static void sweep(struct sipgw *gw)
{
	for (struct stxn **pp = &gw->stxns; *pp != NULL;) {
		struct stxn *st = *pp;
		if (st->dead || st->c == NULL) {
			*pp = st->next;
			stxn_free(st);
		} else {
			pp = &st->next;
		}
	}
	for (struct ctxn **pp = &gw->ctxns; *pp != NULL;) {
		struct ctxn *ct = *pp;
		if (ct->dead) {
			*pp = ct->next;
			ctxn_free(ct);
		} else {
			pp = &ct->next;
		}
	}
}

/* Sends a request to a domain's next hop in a new client transaction. The caller's ct
 * fields (purpose, stanza) are already set; ct is taken over. */
void sipgw__ctxn_start(struct sipgw *gw, struct dom *d, struct ctxn *ct, enum sip_method method,
                       const struct fg_buf *req)
{
	struct sip_txn_actions acts = {0};
	ct->gw = gw;
	fg_strlcpy(ct->domain, d->cf.rec.domain, sizeof(ct->domain));
	/* kept for what reads the request later (a SUBSCRIBE's Expires); a MESSAGE's bytes
	 * are the transaction's */
	if (ct->req == NULL && ct->p != P_MESSAGE && (ct->req = malloc(req->len)) != NULL) {
		memcpy(ct->req, req->data, req->len);
		ct->req_len = req->len;
	}
	dom_connect(gw, d);
	ct->c = d->out;
	if (sip_txn_client_new(method, req->data, req->len, true, now_mono(), &ct->t, &acts) !=
	    FG_OK) {
		ctxn_link(gw, ct);
		ctxn_finish(ct, 500, NULL, "the request could not be built");
		ct->dead = true;
		return;
	}
	ctxn_link(gw, ct);
	if (ct->c == NULL) {
		ctxn_finish(ct, 0, NULL, d->last_error[0] ? d->last_error : d->cf.problem);
		ct->dead = true;
		return;
	}
	ctxn_actions(ct, &acts);
}

/* Appends at most max bytes of src to out at offset at, cut to size and NUL-terminated as
 * snprintf would; returns the new offset. For the per-message header values: no
 * formatting pass. */
static size_t str_put(char *out, size_t size, size_t at, const char *src, size_t max)
{
	size_t n = strnlen(src, max);
	if (at >= size)
		return at;
	if (n > size - 1 - at)
		n = size - 1 - at;
	memcpy(out + at, src, n);
	out[at + n] = '\0';
	return at + n;
}

/* Via sent-by and transport for requests to a domain's next hop (RFC 3261 §18.1.1: the
 * gateway's FQDN, the name on its certificate). */
void sipgw__via_for(struct sipgw *gw, const struct dom *d, char *sent_by, size_t size,
                    const char **transport)
{
	bool tls = sipgw__domain_tls(&d->cf.rec);
	*transport = tls ? "TLS" : "TCP";
	char port[8];
	unsigned v = tls ? gw->set.tls_port : gw->set.tcp_port;
	size_t n = 0;
	do { /* digits backwards, then turned */
		port[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(port) - 1);
	for (size_t i = 0; i < n / 2; i++) {
		char c = port[i];
		port[i] = port[n - 1 - i];
		port[n - 1 - i] = c;
	}
	port[n] = '\0';
	size_t at = str_put(sent_by, size, 0, gw->set.fqdn, SIZE_MAX);
	at = str_put(sent_by, size, at, ":", 1);
	(void)str_put(sent_by, size, at, port, n);
}

enum fg_err sipgw__build_request(struct sipgw *gw, const struct dom *d, const char *method,
                                 const char *ruri, const char *from, const char *to,
                                 const char *call_id, const char *extra, const char *ctype,
                                 const uint8_t *body, size_t blen, bool contact, struct fg_buf *out,
                                 char *from_tag_out)
{
	char sent_by[DB_DOMAIN_MAX + 8], branch[33], tag[17], cid[80],
	    contact_hdr[DB_DOMAIN_MAX + 40];
	const char *transport;
	sipgw__via_for(gw, d, sent_by, sizeof(sent_by), &transport);
	sipgw__token(branch, 16);
	sipgw__token(tag, 8);
	if (from_tag_out != NULL)
		memcpy(from_tag_out, tag, sizeof(tag));
	if (call_id == NULL) {
		char r[33];
		sipgw__token(r, 16);
		size_t at = str_put(cid, sizeof(cid), 0, r, SIZE_MAX);
		at = str_put(cid, sizeof(cid), at, "@", 1);
		(void)str_put(cid, sizeof(cid), at, gw->set.fqdn, 40);
		call_id = cid;
	}
	if (contact) {
		size_t at = str_put(contact_hdr, sizeof(contact_hdr), 0, "<sip:", 5);
		at = str_put(contact_hdr, sizeof(contact_hdr), at, sent_by, SIZE_MAX);
		(void)str_put(contact_hdr, sizeof(contact_hdr), at,
		              sipgw__domain_tls(&d->cf.rec) ? ";transport=tls>" : ";transport=tcp>",
		              SIZE_MAX);
	}
	struct sip_request_spec spec = {.method = method,
	                                .ruri = ruri,
	                                .via_transport = transport,
	                                .via_sent_by = sent_by,
	                                .branch_random = branch,
	                                .from = from,
	                                .from_tag = tag,
	                                .to = to,
	                                .call_id = call_id,
	                                .cseq = 1,
	                                .contact = contact ? contact_hdr : NULL,
	                                .extra_headers = extra,
	                                .content_type = ctype,
	                                .body = body,
	                                .body_len = blen};
	return sip_build_request(out, &spec);
}

static void send_options(struct sipgw *gw, struct dom *d)
{
	struct fg_buf req = {0};
	char ruri[DB_DOMAIN_MAX + 16], from[DB_DOMAIN_MAX + 16], to[DB_DOMAIN_MAX + 16];
	sipgw__fmt(ruri, sizeof(ruri), "sip:%s", d->cf.rec.next_hop);
	sipgw__fmt(from, sizeof(from), "<sip:%s>", gw->set.fqdn);
	sipgw__fmt(to, sizeof(to), "<sip:%s>", d->cf.rec.next_hop);
	if (sipgw__build_request(gw, d, "OPTIONS", ruri, from, to, NULL,
	                         "Accept: application/sdp, text/plain, application/pidf+xml\r\n",
	                         NULL, NULL, 0, true, &req, NULL) == FG_OK) {
		struct ctxn *ct = calloc(1, sizeof(*ct));
		if (ct != NULL) {
			ct->p = P_OPTIONS;
			sipgw__ctxn_start(gw, d, ct, SIP_METHOD_OPTIONS, &req);
		}
	}
	fg_buf_free(&req);
}

/* ---- XMPP side helpers --------------------------------------------------------------------- */

void sipgw__xmpp_send(struct sipgw *gw, const struct fg_buf *stanza)
{
	if (gw->sink != NULL && stanza->len > 0) {
		gw->sink(gw->sink_ctx, stanza->data, stanza->len);
		return;
	}
	if (gw->s2s == NULL || gw->stopping || stanza->len == 0)
		return;
	(void)s2s_send(gw->s2s, stanza->data, stanza->len, NULL, NULL);
}

/* A JID built for a relay, with its parts (no allocation: it lives on the stack). */
struct relay_jid {
	char text[SIPGW_MAX_JID + 1];
	struct xlate_jid_parts parts;
};

/* sip:alice@sip.example;gr=x -> alice@<xmpp_domain>/x (RFC 7247 §6.4, gr: step 8; the SIP
 * domain replaced by the XMPP domain it is mapped to, local policy as §6.1 leaves domains
 * out of scope), from the URI the parser already split. */
static enum fg_err jid_from_uri(const struct sip_uri *u, const char *xmpp_domain,
                                struct relay_jid *j, const char **why)
{
	if (u->scheme == SIP_SCHEME_OTHER) {
		if (why)
			*why = "not a sip: or sips: URI";
		return FG_ERR_VERSION;
	}
	if (u->text.len > SIP_MAX_URI) {
		if (why)
			*why = "malformed SIP URI";
		return FG_ERR_TOOBIG;
	}
	/* a domainpart is 1-1023 bytes (RFC 7622 §3.2), after the trailing dot goes */
	size_t hl = u->host.len;
	if (hl > 0 && u->host.p[hl - 1] == '.')
		hl--;
	if (u->host_type == SIP_HOST_NAME && (hl == 0 || hl > XLATE_MAX_JID_PART)) {
		if (why)
			*why = "the address cannot be a JID";
		return FG_ERR_INVAL;
	}
	return xlate_addr_uri_to_jid(u, xmpp_domain, j->text, sizeof(j->text), &j->parts, why);
}

enum fg_err sipgw__jid_from_sip(const char *uri, size_t len, const char *xmpp_domain,
                                struct fg_buf *out, const char **why)
{
	struct sip_uri *u = NULL;
	struct sip_error serr;
	struct relay_jid *j = NULL;
	enum fg_err err = sip_uri_parse(uri, len, &u, &serr);
	if (err != FG_OK) {
		if (why)
			*why =
			    err == FG_ERR_VERSION ? "not a sip: or sips: URI" : "malformed SIP URI";
		return err;
	}
	j = malloc(sizeof(*j));
	err = j == NULL ? FG_ERR_NOMEM : jid_from_uri(u, xmpp_domain, j, why);
	if (err == FG_OK)
		err = fg_buf_append(out, j->text, j->parts.len);
	free(j);
	sip_uri_free(u);
	return err;
}

/* The parts of a stored JID (a session's peer), with the checks of sipgw__jid_split. */
static bool relay_jid_set(struct relay_jid *j, const char *jid)
{
	size_t len = strlen(jid);
	if (len > SIPGW_MAX_JID)
		return false;
	const char *slash = memchr(jid, '/', len);
	size_t bare = slash ? (size_t)(slash - jid) : len;
	const char *at = memchr(jid, '@', bare);
	size_t doff = at ? (size_t)(at - jid) + 1 : 0;
	if (bare - doff == 0 || bare - doff > XLATE_MAX_JID_PART || (at && doff - 1 == 0) ||
	    (at && doff - 1 > XLATE_MAX_JID_PART) ||
	    (slash && (len - bare - 1 == 0 || len - bare - 1 > XLATE_MAX_JID_PART)))
		return false;
	memcpy(j->text, jid, len + 1);
	j->parts = (struct xlate_jid_parts){.len = len,
	                                    .local_len = at ? doff - 1 : 0,
	                                    .domain_off = doff,
	                                    .domain_len = bare - doff,
	                                    .resource_len = slash ? len - bare - 1 : 0};
	return true;
}

/* The domainpart of j into out (XLATE_MAX_JID_PART + 1 bytes); strip_dot: as
 * xmpp_jid_domain gives it to the router (RFC 7622 §3.2). */
static const char *relay_jid_domain(const struct relay_jid *j, char *out, bool strip_dot)
{
	size_t n = j->parts.domain_len;
	memcpy(out, j->text + j->parts.domain_off, n);
	if (strip_dot && n > 1 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return out;
}

void sipgw__presence_ctxn_done(struct sipgw *gw, struct ctxn *ct, enum purpose p, unsigned status,
                               const struct sip_msg *rsp);
static void message_queue_next(struct sipgw *gw, struct ctxn *done);
static void isc_refused_add(struct sipgw *gw, uint64_t key);
static bool isc_refused(const struct sipgw *gw, uint64_t key);

static void ctxn_finish(struct ctxn *ct, unsigned status, const struct sip_msg *rsp,
                        const char *why)
{
	struct sipgw *gw = ct->gw;
	if (ct->p == P_OTHER)
		return;
	enum purpose p = ct->p;
	ct->p = P_OTHER; /* exactly once */
	if (gw == NULL || gw->stopping)
		return;
	struct dom *d = sipgw__dom_find(gw, ct->domain);
	switch (p) {
	case P_OPTIONS:
		if (d == NULL)
			break;
		if (status >= 200) {
			/* any final answer proves the next hop's SIP layer is alive */
			if (strcmp(d->options, "ok") != 0)
				fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "OPTIONS to %s answered %u",
				       d->cf.rec.next_hop, status);
			fg_strlcpy(d->options, "ok", sizeof(d->options));
			fault_clear(d, "options");
			if (d->out != NULL && d->out->state == CS_UP)
				d->last_error[0] = '\0';
		} else {
			char cause[512];
			sipgw__fmt(cause, sizeof(cause),
			           "The next hop %s did not answer OPTIONS: %s.",
			           d->cf.rec.next_hop, why ? why : "no answer");
			fg_strlcpy(d->options, "failed", sizeof(d->options));
			fault(d, "options", "Next hop does not answer", cause,
			      "Check that the edge accepts SIP from the gateway (its trusted hosts "
			      "or "
			      "federation settings list the gateway's FQDN) and routes OPTIONS for "
			      "it.");
		}
		d->status_dirty = true;
		break;
	case P_MESSAGE:
		if (status == 415 && ct->isc_key != 0)
			isc_refused_add(gw, ct->isc_key); /* RFC 3994 §4 */
		message_queue_next(gw, ct);
		if (status >= 200 && status < 300) {
			if (d != NULL)
				d->msgs_out++;
			break;
		}
		if (ct->orig_from == NULL || ct->orig_to == NULL)
			break;
		struct fg_buf err = {0};
		if (status == 0) {
			/* the next hop cannot be reached: as RFC 6120 §8.3.3.16 for a server */
			(void)sipgw_error_stanza_cond(
			    "message", ct->orig_from, ct->orig_to, ct->orig_id,
			    XLATE_ERR_REMOTE_SERVER_NOT_FOUND, XLATE_TYPE_CANCEL, why, &err);
		} else {
			(void)sipgw_error_stanza("message", ct->orig_from, ct->orig_to, ct->orig_id,
			                         status, why, &err);
		}
		if (d != NULL)
			d->errors++;
		sipgw__xmpp_send(gw, &err);
		fg_buf_free(&err);
		break;
	case P_SUBSCRIBE:
	case P_NOTIFY:
		sipgw__presence_ctxn_done(gw, ct, p, status, rsp);
		break;
	case P_OTHER:
		break;
	}
}

/* ---- SIP from the edge: framing and dispatch ------------------------------------------------ */

static void on_request(struct conn *c, struct sip_msg *m);
static void on_response(struct conn *c, struct sip_msg *m);

/* The stream refused the bytes: answer what can be answered (RFC 4475 §3.1.2) and close,
 * since a stream cannot find the next message after a framing error. */
static void bad_input(struct conn *c, enum fg_err err, const struct sip_error *e)
{
	unsigned status = err == FG_ERR_VERSION ? 505 : err == FG_ERR_TOOBIG ? 513 : 400;
	struct fg_buf out = {0};
	fg_log(FG_LOG_INFO, SIPGW_SUBSYS,
	       "malformed SIP from %s (answered %u, closing): %s at byte %zu", c->peer, status,
	       e->what, e->offset);
	status_counter_add("sip.malformed", 1);
	const uint8_t *raw;
	size_t raw_len;
	sip_stream_pending(c->stream, &raw, &raw_len);
	if (sipgw_reply_unparsed(raw, raw_len, status, sip_reason_phrase(status), &out))
		conn_send(c, out.data, out.len);
	fg_buf_free(&out);
	conn_kill(c, "malformed SIP", true);
}

static void on_plain(struct conn *c, const uint8_t *buf, size_t len)
{
	/* the stream keeps the bytes of the message being framed (bad_input answers from
	 * them): no copy of its own, no second search for the end of the head */
	enum fg_err err = sip_stream_feed(c->stream, buf, len);
	struct sip_error e = {0};
	if (err != FG_OK) {
		fg_strlcpy(e.what, "message larger than the limits", sizeof(e.what));
		bad_input(c, err, &e);
		return;
	}
	while (c->state != CS_DEAD) {
		enum sip_stream_event ev;
		struct sip_msg *m = NULL;
		err = sip_stream_next(c->stream, &ev, &m, &e);
		if (err != FG_OK) {
			bad_input(c, err, &e);
			return;
		}
		if (ev == SIP_STREAM_NEED_MORE)
			break;
		if (ev == SIP_STREAM_PING) {
			/* RFC 5626 §4.4.1: answer a CRLFCRLF ping with one CRLF */
			conn_send(c, (const uint8_t *)"\r\n", 2);
			continue;
		}
		/* RFC 5626 §4.4.1 waits for the pong; a message that arrives meanwhile proves the
		 * flow alive as well, so a busy peer that answers pings late (or not at all) is
		 * not cut off with transactions in flight */
		c->ping_out = false;
		if (ev == SIP_STREAM_PONG) {
			c->ponged = true;
			continue;
		}
		if (m->is_request)
			on_request(c, m);
		else
			on_response(c, m);
	}
}

static void on_response(struct conn *c, struct sip_msg *m)
{
	struct sipgw *gw = c->gw;
	uint32_t h = m->nvias > 0 ? branch_hash(m->vias[0].branch) : 0;
	for (struct sipgw_hlink *l = m->nvias > 0 ? sipgw_htab_bucket(&gw->ctxn_tab, h) : NULL;
	     l != NULL; l = l->next) {
		struct ctxn *ct = SIPGW_HTAB_ENTRY(l, struct ctxn, hl);
		if (l->hash != h || ct->dead || ct->t == NULL || !sip_txn_match_response(ct->t, m))
			continue;
		struct sip_txn_actions acts = {0};
		if (sip_txn_on_response(ct->t, m, now_mono(), &acts) == FG_OK)
			ctxn_actions(ct, &acts);
		break;
	}
	/* a response matching nothing is dropped (RFC 3261 §17.1.3, §18.1.2) */
	sip_msg_free(m);
}

static void on_request(struct conn *c, struct sip_msg *m)
{
	struct sipgw *gw = c->gw;
	struct sip_txn_actions acts = {0};
	struct stxn *old = stxn_find(gw, c, m);
	if (old != NULL) {
		if (sip_txn_on_request(old->t, m, now_mono(), &acts) == FG_OK)
			stxn_actions(old, &acts);
		sip_msg_free(m);
		return;
	}
	if (m->method_id == SIP_METHOD_ACK) {
		/* the ACK for a 2xx to INVITE is its own transaction: nothing to answer */
		sip_msg_free(m);
		return;
	}
	struct stxn *st = stxn_new();
	if (st == NULL) {
		sip_msg_free(m);
		return;
	}
	st->c = c;
	st->gw = gw;
	st->req = m;
	sipgw__token(st->to_tag, 8);
	if (sip_txn_server_new(m, true, now_mono(), &st->t, &acts) != FG_OK) {
		stxn_free(st);
		return;
	}
	st->next = gw->stxns;
	gw->stxns = st;
	stxn_hash_add(gw, st);
	stxn_actions(st, &acts);
}

/* A refused request is counted in the domain's status; it says why in the log and in the
 * status, once per connection until it is refused for another domain. */
static void refused_log(struct conn *c, struct dom *d, const char *why, const char *fix)
{
	d->refused++;
	d->status_dirty = true;
	if (strcasecmp(c->refused_for, d->cf.rec.domain) == 0)
		return;
	fg_strlcpy(c->refused_for, d->cf.rec.domain, sizeof(c->refused_for));
	fg_log(FG_LOG_WARN, SIPGW_SUBSYS,
	       "requests for SIP domain %s from %s are refused with 403: %s. %s", d->cf.rec.domain,
	       c->peer, why, fix);
	sipgw__fmt(d->last_refused, sizeof(d->last_refused), "from %s: %s. %s", c->peer, why, fix);
}

/* Does a TCP domain trust a client's address: the next hop's own (as written, or as DNS
 * gave it) or one of its trusted addresses? */
static bool dom_trusts_addr(const struct dom *d, const char *ip)
{
	if (fg_addr_list_match(d->cf.rec.trusted_addrs, ip) ||
	    fg_addr_list_match(d->cf.rec.next_hop, ip))
		return true;
	for (size_t i = 0; i < d->nhop_addrs; i++)
		if (fg_addr_list_match(d->hop_addrs[i], ip))
			return true;
	return false;
}

/* Is this connection allowed to speak for a SIP domain? Over TLS the peer's certificate
 * must name the domain's next hop (RFC 5922 §7.3). Plain TCP has no name to check: it
 * speaks for a domain whose transport is TCP from the next hop's addresses and the
 * domain's trusted addresses, and for the domain whose next hop it is our connection to.
 * A domain set to TLS takes requests only over mutual TLS, whatever comes to the TCP
 * listener. */
bool sipgw__conn_speaks_for(struct conn *c, struct dom *d)
{
	if (c->dom != NULL && c->dom == d)
		return true;
	if (!c->use_tls) {
		if (!sipgw__domain_tls(&d->cf.rec)) {
			if (dom_trusts_addr(d, c->peer_ip))
				return true;
			const char *ip = c->peer_ip[0] ? c->peer_ip : "the client";
			const char *list = d->cf.rec.trusted_addrs;
			char why[400], fix[1000];
			sipgw__fmt(why, sizeof(why),
			           "%s is neither an address of the next hop %s nor among the "
			           "domain's trusted addresses",
			           ip, d->cf.rec.next_hop);
			sipgw__fmt(fix, sizeof(fix),
			           "If %s is your edge, add it to the domain's trusted addresses "
			           "(console: SIP domains, Edit; or fedgw sip domain edit %s "
			           "--trusted \"%s%s%s\").",
			           ip, d->cf.rec.domain, list, list[0] ? ", " : "", ip);
			refused_log(c, d, why, fix);
			return false;
		}
		refused_log(c, d,
		            "they came over plain TCP, and this domain takes requests over "
		            "mutual TLS only",
		            "The edge must send them over TLS to the gateway's TLS port.");
		return false;
	}
	if (c->dom != NULL)
		return false;
	if (strcasecmp(c->trusted_for, d->cf.rec.domain) == 0)
		return true;
	char names[256];
	if (sipgw_cert_names_host(c->peer_der, c->peer_der_len, d->cf.rec.next_hop, names,
	                          sizeof(names))) {
		fg_strlcpy(c->trusted_for, d->cf.rec.domain, sizeof(c->trusted_for));
		return true;
	}
	char why[400];
	sipgw__fmt(why, sizeof(why), "the client's certificate names %s, not the next hop %s",
	           names[0] ? names : "no host", d->cf.rec.next_hop);
	refused_log(c, d, why,
	            "Set the domain's next hop to the edge's name on its certificate, or give "
	            "the edge a certificate that names it.");
	return false;
}

struct dom *sipgw__sender_domain(struct sipgw *gw, const struct sip_msg *m)
{
	if (m->from.uri.scheme == SIP_SCHEME_OTHER || m->from.uri.host.p == NULL)
		return NULL;
	return sipgw__dom_find(gw, m->from.uri.host.p);
}

const struct sip_header *sipgw__hdr(const struct sip_msg *m, const char *name)
{
	return sip_msg_header(m, name, 0);
}

/* RFC 3261 §12.1.1: a dialog-creating response copies the request's Record-Route values,
 * in order, so that the edge stays in the path of the dialog's later requests. */
void sipgw__copy_record_route(const struct sip_msg *m, struct fg_buf *out)
{
	size_t n = sip_msg_header_count(m, "Record-Route");
	for (size_t i = 0; i < n; i++) {
		const struct sip_header *h = sip_msg_header(m, "Record-Route", i);
		if (h != NULL && h->value.len > 0 &&
		    memchr(h->value.p, '\r', h->value.len) == NULL &&
		    memchr(h->value.p, '\n', h->value.len) == NULL)
			(void)fg_buf_printf(out, "Record-Route: %.*s\r\n", (int)h->value.len,
			                    h->value.p);
	}
}

/* ---- message-path memory: threads and Call-IDs, the RFC 3428 §8 queue --------------------- */

/* Threads whose Call-ID had to be derived (xlate_call_id_from_thread), so that a reply's
 * Call-ID maps back to the thread (RFC 7572 Table 2): the recent conversations. */
#define SIPGW_THREAD_MAP 64u
/* A longer thread is not remembered: its replies carry the derived Call-ID as thread. */
#define SIPGW_THREAD_MAX  256u
#define SIPGW_CALL_ID_MAX (XLATE_MAX_THREAD_CALL_ID + DB_DOMAIN_MAX + 2)
/* Out-of-dialog MESSAGEs waiting behind the pending one to the same URI (RFC 3428 §8); past
 * this the sender is told to wait (a client flooding one recipient). */
#define SIPGW_MSG_QUEUE_MAX 64u

struct thread_pair {
	char call_id[SIPGW_CALL_ID_MAX];
	char thread[SIPGW_THREAD_MAX + 1];
};

/* (XMPP sender, SIP Request-URI) pairs whose isComposing MESSAGE got 415: RFC 3994 §4 "the
 * composer MUST cease transmitting status messages". Forgotten after a while, so that a
 * client that learns the type is reached again. */
#define SIPGW_ISC_REFUSED    128u
#define SIPGW_ISC_REFUSED_MS (3600 * 1000)

struct isc_refusal {
	uint64_t key;
	int64_t until_ms;
};

struct msg_memory {
	struct thread_pair threads[SIPGW_THREAD_MAP];
	unsigned threads_next;
	struct isc_refusal isc_refused[SIPGW_ISC_REFUSED];
	unsigned isc_next;
};

static struct msg_memory *msg_memory(struct sipgw *gw)
{
	if (gw->msg_mem == NULL)
		gw->msg_mem = calloc(1, sizeof(*gw->msg_mem));
	return gw->msg_mem;
}

static void thread_remember(struct sipgw *gw, const char *call_id, const char *thread)
{
	struct msg_memory *mm = msg_memory(gw);
	size_t tl = strlen(thread);
	if (mm == NULL || tl > SIPGW_THREAD_MAX || strlen(call_id) >= SIPGW_CALL_ID_MAX)
		return;
	for (unsigned i = 0; i < SIPGW_THREAD_MAP; i++)
		if (strcmp(mm->threads[i].call_id, call_id) == 0)
			return;
	struct thread_pair *tp = &mm->threads[mm->threads_next++ % SIPGW_THREAD_MAP];
	fg_strlcpy(tp->call_id, call_id, sizeof(tp->call_id));
	memcpy(tp->thread, thread, tl + 1);
}

/* The thread of a Call-ID (RFC 7572 Table 2): the one it was derived from, or itself. */
static struct sip_str thread_of_call_id(struct sipgw *gw, struct sip_str call_id)
{
	static const char prefix[] = XLATE_THREAD_CALL_ID_PREFIX;
	if (gw->msg_mem == NULL || call_id.p == NULL || call_id.len < sizeof(prefix) - 1 ||
	    memcmp(call_id.p, prefix, sizeof(prefix) - 1) != 0)
		return call_id;
	for (unsigned i = 0; i < SIPGW_THREAD_MAP; i++) {
		const struct thread_pair *tp = &gw->msg_mem->threads[i];
		if (strlen(tp->call_id) == call_id.len &&
		    memcmp(tp->call_id, call_id.p, call_id.len) == 0)
			return (struct sip_str){tp->thread, strlen(tp->thread)};
	}
	return call_id;
}

/* RFC 3428 §8 queue key: the Request-URI as the gateway wrote it (one form per address). */
static uint64_t message_queue_key(const char *ruri)
{
	return fg_fnv1a64(FG_FNV64_INIT, ruri, strlen(ruri)) | 1; /* 0: not queued */
}

/* RFC 3994 §4 refusal key: the sender's bare JID and the Request-URI. */
static uint64_t isc_key(const char *from_jid, const char *ruri)
{
	const char *slash = strchr(from_jid, '/');
	size_t bare = slash ? (size_t)(slash - from_jid) : strlen(from_jid);
	uint64_t h = fg_fnv1a64(0x84222325cbf29ce4ull, from_jid, bare);
	return fg_fnv1a64(h ^ 0xff, ruri, strlen(ruri)) | 1;
}

static void isc_refused_add(struct sipgw *gw, uint64_t key)
{
	struct msg_memory *mm = msg_memory(gw);
	if (mm == NULL)
		return;
	int64_t until = now_mono() + SIPGW_ISC_REFUSED_MS;
	for (unsigned i = 0; i < SIPGW_ISC_REFUSED; i++) {
		if (mm->isc_refused[i].key == key) {
			mm->isc_refused[i].until_ms = until;
			return;
		}
	}
	mm->isc_refused[mm->isc_next++ % SIPGW_ISC_REFUSED] = (struct isc_refusal){key, until};
}

static bool isc_refused(const struct sipgw *gw, uint64_t key)
{
	if (gw->msg_mem == NULL)
		return false;
	for (unsigned i = 0; i < SIPGW_ISC_REFUSED; i++)
		if (gw->msg_mem->isc_refused[i].key == key)
			return gw->msg_mem->isc_refused[i].until_ms > now_mono();
	return false;
}

/* One Request-URI's out-of-dialog MESSAGEs (RFC 3428 §8): the transaction pending for it
 * and the ones waiting behind it, oldest first. Exists while either is there. */
struct mqueue {
	struct sipgw_hlink hl; /* in sipgw.mq_tab, by queue key */
	uint64_t key;
	struct ctxn *active;
	struct ctxn *head, *tail;
	size_t waiting;
	bool kicking; /* mq_kick is starting the next one: an inner finish only detaches */
};

static uint32_t mq_hash(uint64_t key)
{
	return (uint32_t)(key ^ (key >> 32));
}

static struct mqueue *mq_find(struct sipgw *gw, uint64_t key)
{
	for (struct sipgw_hlink *l = sipgw_htab_bucket(&gw->mq_tab, mq_hash(key)); l != NULL;
	     l = l->next) {
		struct mqueue *mq = SIPGW_HTAB_ENTRY(l, struct mqueue, hl);
		if (mq->key == key)
			return mq;
	}
	return NULL;
}

static void mq_drop_if_empty(struct sipgw *gw, struct mqueue *mq)
{
	if (mq->active != NULL || mq->head != NULL || mq->kicking)
		return;
	sipgw_htab_del(&gw->mq_tab, &mq->hl);
	free(mq);
}

/* Starts the oldest waiting MESSAGE while none is pending. One whose domain went, or whose
 * receiver refused isComposing meanwhile (RFC 3994 §4), fails instead. */
static void mq_kick(struct sipgw *gw, struct mqueue *mq)
{
	if (mq->kicking)
		return;
	mq->kicking = true;
	while (mq->active == NULL && mq->head != NULL) {
		struct ctxn *next = mq->head;
		mq->head = next->qnext;
		if (mq->head == NULL)
			mq->tail = NULL;
		mq->waiting--;
		next->qnext = NULL;
		struct dom *d = sipgw__dom_find(gw, next->domain);
		bool refused = next->isc_key != 0 && isc_refused(gw, next->isc_key);
		if (d == NULL || refused) {
			next->mq = NULL;
			ctxn_link(gw, next);
			next->dead = true;
			ctxn_finish(next, 0, NULL,
			            refused ? "isComposing refused (415)"
			                    : "the SIP domain was removed");
			continue;
		}
		mq->active = next; /* a start that fails at once detaches it again */
		struct fg_buf req = {.data = next->req, .len = next->req_len, .cap = next->req_len};
		sipgw__ctxn_start(gw, d, next, SIP_METHOD_MESSAGE, &req);
	}
	mq->kicking = false;
	mq_drop_if_empty(gw, mq);
}

/* RFC 3428 §8: "A UAC MUST NOT initiate a new out-of-dialog MESSAGE transaction to a given
 * URI if there is a previous out-of-dialog transaction pending for the same URI." Starts ct
 * (ct->queue_key set) now, or queues it (no transaction yet) to be started by mq_kick when
 * the one before it is answered. False: too many wait already; ct is not taken. */
static bool message_send(struct sipgw *gw, struct dom *d, struct ctxn *ct, const struct fg_buf *req)
{
	struct mqueue *mq = mq_find(gw, ct->queue_key);
	if (mq == NULL) {
		if ((mq = calloc(1, sizeof(*mq))) == NULL)
			return false;
		mq->key = ct->queue_key;
		if (!sipgw_htab_add(&gw->mq_tab, &mq->hl, mq_hash(mq->key))) {
			free(mq);
			return false;
		}
	}
	ct->mq = mq;
	if (mq->active == NULL && mq->head == NULL) {
		mq->active = ct;
		/* a start that fails at once (no connection) finishes ct in it: mq must outlive
		 * that, and goes after it when nothing is left */
		mq->kicking = true;
		sipgw__ctxn_start(gw, d, ct, SIP_METHOD_MESSAGE, req);
		mq->kicking = false;
		mq_drop_if_empty(gw, mq);
		return true;
	}
	if (mq->waiting >= SIPGW_MSG_QUEUE_MAX || (ct->req = malloc(req->len)) == NULL) {
		ct->mq = NULL;
		return false;
	}
	memcpy(ct->req, req->data, req->len);
	ct->req_len = req->len;
	ct->gw = gw;
	fg_strlcpy(ct->domain, d->cf.rec.domain, sizeof(ct->domain));
	if (mq->tail != NULL)
		mq->tail->qnext = ct;
	else
		mq->head = ct;
	mq->tail = ct;
	mq->waiting++;
	mq_kick(gw, mq); /* in case the pending one went without an answer */
	return true;
}

/* Takes ct out of its URI's queue (no longer the pending one); returns the queue. */
static struct mqueue *mq_leave(struct ctxn *ct)
{
	struct mqueue *mq = ct->mq;
	if (mq == NULL)
		return NULL;
	ct->mq = NULL;
	if (mq->active == ct)
		mq->active = NULL;
	return mq;
}

/* The out-of-dialog MESSAGE done was answered (or failed): the next one for its URI may go. */
static void message_queue_next(struct sipgw *gw, struct ctxn *done)
{
	struct mqueue *mq = mq_leave(done);
	if (mq != NULL && !gw->stopping)
		mq_kick(gw, mq);
}

/* A pending MESSAGE freed without an answer (which message_queue_next handles) leaves its
 * queue: the next message_send to the URI starts the ones behind it. */
static void mq_detach(struct ctxn *ct)
{
	struct mqueue *mq = mq_leave(ct);
	if (mq != NULL && ct->gw != NULL)
		mq_drop_if_empty(ct->gw, mq);
}

/* Frees every queue and the MESSAGEs still waiting in them (the engine stops). */
static void mq_free_all(struct sipgw *gw)
{
	for (size_t i = 0; i < gw->mq_tab.size; i++) {
		while (gw->mq_tab.buckets[i] != NULL) {
			struct mqueue *mq =
			    SIPGW_HTAB_ENTRY(gw->mq_tab.buckets[i], struct mqueue, hl);
			gw->mq_tab.buckets[i] = mq->hl.next;
			if (mq->active != NULL)
				mq->active->mq = NULL;
			while (mq->head != NULL) {
				struct ctxn *ct = mq->head;
				mq->head = ct->qnext;
				ct->mq = NULL;
				ctxn_free(ct);
			}
			free(mq);
		}
	}
	sipgw_htab_free(&gw->mq_tab);
}

/* ---- SIP MESSAGE -> XMPP (RFC 7572 §5; RFC 3428 §7: 202 only once accepted) --------------- */

static void pending_unlink(struct sipgw *gw, struct pending *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else if (gw->pendings == p)
		gw->pendings = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

/* Is an error stanza for one of our relays the router's own bounce, whose condition the SIP
 * request is (or was) answered with? */
static bool router_bounce(struct sipgw *gw, const char *id)
{
	if (id == NULL || id[0] == '\0')
		return false;
	for (struct pending *p = gw->pendings; p != NULL; p = p->next)
		if (strcmp(p->id, id) == 0)
			return true;
	for (unsigned i = 0; i < SIPGW_REFUSED_IDS; i++)
		if (strcmp(gw->refused_ids[i], id) == 0)
			return true;
	return false;
}

/* Pending records come from a free list: one per relayed MESSAGE, and a burst reuses them. */
#define SIPGW_PENDING_FREE_MAX 1024u

static struct pending *pending_get(struct sipgw *gw)
{
	struct pending *p = gw->pending_free;
	if (p == NULL)
		return malloc(sizeof(*p));
	gw->pending_free = p->next;
	gw->n_pending_free--;
	return p;
}

/* gw NULL: the engine stopped and forgot the record. */
static void pending_put(struct sipgw *gw, struct pending *p)
{
	if (gw == NULL || gw->stopping || gw->n_pending_free >= SIPGW_PENDING_FREE_MAX) {
		free(p);
		return;
	}
	p->next = gw->pending_free;
	gw->pending_free = p;
	gw->n_pending_free++;
}

static void relay_done_cb(void *ctx, enum xmpp_stanza_cond result, const char *text)
{
	struct pending *p = ctx;
	if (p->gw != NULL) {
		pending_unlink(p->gw, p);
		if (result != XMPP_SC__COUNT) {
			fg_strlcpy(p->gw->refused_ids[p->gw->refused_next % SIPGW_REFUSED_IDS],
			           p->id, SIPGW_STANZA_ID_MAX);
			p->gw->refused_next++;
		}
	}
	if (p->st != NULL) {
		struct stxn *st = p->st;
		st->pend = NULL;
		if (p->gw->npending > 0)
			p->gw->npending--;
		unsigned code = sipgw_status_from_s2s(result);
		if (code >= 300) {
			fg_log(FG_LOG_INFO, SIPGW_SUBSYS,
			       "message to %s not delivered: %s%s%s (%u)", p->to,
			       xmpp_stanza_cond_name(result), text && text[0] ? ": " : "",
			       text ? text : "", code);
			struct dom *d = sipgw__sender_domain(p->gw, st->req);
			if (d != NULL)
				d->errors++;
		}
		char extra[64] = "";
		if (code == 503)
			sipgw__fmt(extra, sizeof(extra), "Retry-After: %d\r\n",
			           SIPGW_RETRY_AFTER_S);
		sipgw__respond(st, code, extra[0] ? extra : NULL, NULL, NULL, 0);
	}
	pending_put(p->gw, p);
}

static struct session *session_for_request(struct sipgw *gw, const struct sip_msg *m)
{
	for (struct session *s = gw->sessions; s != NULL; s = s->next)
		if (m->to.tag.p != NULL && strcmp(s->d->call_id, m->call_id.p) == 0 &&
		    strcmp(s->d->local_tag, m->to.tag.p) == 0)
			return s;
	return NULL;
}

/* Relays one stanza to XMPP for a server transaction; the answer comes with s2s's verdict.
 * from_dom/to_dom (NULL: the router parses the stanza for them): the stanza was built here
 * and is routed as it is (s2s_send_routed), written once. */
static void relay_to_xmpp(struct sipgw *gw, struct stxn *st, const struct fg_buf *stanza,
                          const char *from_dom, const char *to_dom, const struct relay_jid *to,
                          const char *id)
{
	if (gw->sink != NULL) {
		gw->sink(gw->sink_ctx, stanza->data, stanza->len);
		sipgw__respond(st, 202, NULL, NULL, NULL, 0);
		return;
	}
	if (gw->s2s == NULL) {
		sipgw__respond(st, 503, "Retry-After: 60\r\n", NULL, NULL, 0);
		return;
	}
	if (gw->npending >= gw->set.max_pending) {
		/* sip.max_pending: backpressure instead of an unbounded backlog */
		status_counter_add("sip.overload", 1);
		char extra[64];
		sipgw__fmt(extra, sizeof(extra), "Retry-After: %d\r\n", SIPGW_RETRY_AFTER_S);
		sipgw__respond(st, 503, extra, NULL, NULL, 0);
		return;
	}
	struct pending *p = pending_get(gw);
	if (p == NULL) {
		sipgw__respond(st, 500, NULL, NULL, NULL, 0);
		return;
	}
	p->gw = gw;
	p->st = st;
	p->prev = NULL;
	/* to fits: both are SIPGW_MAX_JID + 1 bytes */
	memcpy(p->to, to->text, to->parts.len + 1);
	fg_strlcpy(p->id, id ? id : "", sizeof(p->id));
	p->next = gw->pendings;
	if (gw->pendings != NULL)
		gw->pendings->prev = p;
	gw->pendings = p;
	st->pend = p;
	gw->npending++;
	enum fg_err err = from_dom != NULL
	                      ? s2s_send_routed(gw->s2s, from_dom, to_dom, stanza->data,
	                                        stanza->len, relay_done_cb, p)
	                      : s2s_send(gw->s2s, stanza->data, stanza->len, relay_done_cb, p);
	if (err != FG_OK) {
		st->pend = NULL;
		gw->npending--;
		pending_unlink(gw, p);
		pending_put(gw, p);
		sipgw__respond(st, err == FG_ERR_TOOBIG ? 513 : 500, NULL, NULL, NULL, 0);
	}
}

/* A relay buffer larger than this goes back to the heap after use (a big MESSAGE does not
 * pin its memory); typical stanzas are a few hundred bytes. */
#define SIPGW_RELAY_BUF_KEEP 16384u

/* RFC 3994 §3.3: a SIP composer's refresh ran out with no new "active" and no content: the
 * XMPP recipient is told it went idle, as RFC 7573 §6 Table 3 maps idle (<active/>). Best
 * effort like every chat state: no SIP transaction waits for it. */
static void isc_idle_cb(void *ctx, const char *from, const char *to, const char *thread)
{
	struct sipgw *gw = ctx;
	struct fg_buf stanza = {0};
	char sid[17];
	sipgw__token(sid, 8);
	(void)fg_buf_append_str(&stanza, "<message type='chat' from='");
	(void)xmpp_escape(&stanza, from, strlen(from), true);
	(void)fg_buf_append_str(&stanza, "' to='");
	(void)xmpp_escape(&stanza, to, strlen(to), true);
	(void)fg_buf_printf(&stanza,
	                    "' id='%s'><%s xmlns='http://jabber.org/protocol/chatstates'/>", sid,
	                    xlate_chatstate_name(XLATE_CS_ACTIVE));
	if (thread[0] != '\0') {
		(void)fg_buf_append_str(&stanza, "<thread>");
		(void)xmpp_escape(&stanza, thread, strlen(thread), false);
		(void)fg_buf_append_str(&stanza, "</thread>");
	}
	(void)fg_buf_append_str(&stanza, "</message>");
	sipgw__xmpp_send(gw, &stanza);
	fg_buf_free(&stanza);
}

static void message_in(struct sipgw *gw, struct stxn *st)
{
	const struct sip_msg *m = st->req;
	struct dom *d = sipgw__sender_domain(gw, m);
	/* the relay buffer is taken for the call: nothing that runs inside can reuse it */
	struct fg_buf stanza = gw->relay_buf;
	struct relay_jid from, to;
	const char *why = NULL;
	gw->relay_buf = (struct fg_buf){0};
	stanza.len = 0;
	if (d == NULL || !sipgw__conn_speaks_for(st->c, d)) {
		sipgw__respond(st, 403, NULL, NULL, NULL, 0);
		goto out;
	}
	struct session *sess = NULL;
	if (m->to.tag.p != NULL && (sess = session_for_request(gw, m)) == NULL) {
		sipgw__respond(st, 481, NULL, NULL, NULL, 0);
		goto out;
	}
	if (jid_from_uri(&m->from.uri, d->cf.xmpp, &from, &why) != FG_OK) {
		sipgw__respond(st, 400, NULL, NULL, NULL, 0);
		goto out;
	}
	bool to_ok;
	if (sess != NULL) {
		sess->last_active = now_mono();
		to_ok = relay_jid_set(&to, sess->jid);
	} else if (m->ruri.scheme == SIP_SCHEME_OTHER ||
	           jid_from_uri(&m->ruri, NULL, &to, &why) != FG_OK) {
		sipgw__respond(st, 416, NULL, NULL, NULL, 0);
		goto out;
	} else {
		to_ok = true;
	}
	char to_dom[XLATE_MAX_JID_PART + 1], route_to[XLATE_MAX_JID_PART + 1],
	    route_from[XLATE_MAX_JID_PART + 1];
	if (!to_ok || dom_by_xmpp(gw, relay_jid_domain(&to, to_dom, false)) != NULL ||
	    sipgw__dom_find(gw, to_dom) != NULL) {
		/* the target is one of our own SIP-mapped domains: refuse rather than loop */
		sipgw__respond(st, 404, NULL, NULL, NULL, 0);
		goto out;
	}
	const struct sip_header *subj = sipgw__hdr(m, "Subject"),
	                        *lang = sipgw__hdr(m, "Content-Language");
	char sid[SIPGW_STANZA_ID_MAX] = "";
	bool routed = false;
	if (xlate_media_type_is(m->content_type.p, m->content_type.len, XLATE_ISCOMPOSING_TYPE)) {
		/* RFC 3994 -> XEP-0085. type='chat' even in pager mode: XEP-0085 chat states
		 * belong to one-to-one chats, RFC 7573 §6 maps isComposing so, and the MUST of
		 * RFC 7572 §5 is about the message content (pager-mode text) */
		enum xlate_chatstate cs;
		long refresh_s = -1;
		if (xlate_iscomposing_parse(m->body, m->body_len, &cs, &refresh_s, &why) != FG_OK) {
			sipgw__respond(st, 400, NULL, NULL, NULL, 0);
			goto out;
		}
		sipgw__token(sid, 8);
		(void)fg_buf_append_str(&stanza, "<message type='chat' from='");
		(void)xmpp_escape(&stanza, from.text, from.parts.len, true);
		(void)fg_buf_append_str(&stanza, "' to='");
		(void)xmpp_escape(&stanza, to.text, to.parts.len, true);
		(void)fg_buf_printf(&stanza,
		                    "' id='%s'><%s xmlns='http://jabber.org/protocol/chatstates'/>",
		                    sid, xlate_chatstate_name(cs));
		struct sip_str thread = thread_of_call_id(gw, m->call_id);
		(void)fg_buf_append_str(&stanza, "<thread>");
		(void)xmpp_escape(&stanza, thread.p, thread.len, false);
		(void)fg_buf_append_str(&stanza, "</thread></message>");
		/* RFC 3994 §3.3: "active" falls back to idle after its refresh unless another
		 * "active" or content comes first; "idle" ends the wait */
		if (cs == XLATE_CS_COMPOSING) {
			if (gw->isc_rx == NULL)
				gw->isc_rx = sipgw__isc_rx_new();
			sipgw__isc_rx_active(gw->isc_rx, from.text, from.parts.len, to.text,
			                     to.parts.len, thread.p, thread.len, refresh_s,
			                     now_mono(), isc_idle_cb, gw);
		} else {
			(void)sipgw__isc_rx_cancel(gw->isc_rx, from.text, from.parts.len, to.text,
			                           to.parts.len);
		}
	} else {
		/* RFC 7572 §5, written once: these bytes are what the stream carries */
		sipgw__token(sid, 8);
		/* RFC 7572 Table 2: Call-ID -> <thread/>, back to the thread it was made from */
		struct sip_str thread = thread_of_call_id(gw, m->call_id);
		struct xlate_im_sip in = {
		    .content_type = m->content_type.p ? m->content_type.p : "",
		    .content_type_len = m->content_type.p ? m->content_type.len : 0,
		    .body = m->body,
		    .body_len = m->body_len,
		    .subject = subj ? subj->value.p : NULL,
		    .subject_len = subj ? subj->value.len : 0,
		    .content_language = lang ? lang->value.p : NULL,
		    .content_language_len = lang ? lang->value.len : 0,
		    .call_id = thread.p,
		    .call_id_len = thread.len,
		    /* RFC 7572 §5: a pager-mode MESSAGE gets no type; inside an IM session it
		     * is a chat (RFC 7573 §5) */
		    .chat = sess != NULL};
		enum fg_err err = xlate_im_sip_to_xml(&in, from.text, from.parts.len, to.text,
		                                      to.parts.len, sid, &stanza, &why);
		if (err == FG_ERR_VERSION) {
			/* RFC 3428 §7, RFC 3261 §21.4.13: Accept lists every type taken here */
			sipgw__respond(
			    st, 415,
			    "Accept: text/plain, text/html, message/cpim, " XLATE_ISCOMPOSING_TYPE
			    "\r\n",
			    NULL, NULL, 0);
			goto out;
		}
		if (err != FG_OK) {
			sipgw__respond(st, 400, NULL, NULL, NULL, 0);
			goto out;
		}
		routed = true;
	}
	if (routed) /* RFC 3994 §3.3: a content message: the composer is idle */
		(void)sipgw__isc_rx_cancel(gw->isc_rx, from.text, from.parts.len, to.text,
		                           to.parts.len);
	d->msgs_in++;
	d->status_dirty = true;
	relay_to_xmpp(gw, st, &stanza, routed ? relay_jid_domain(&from, route_from, true) : NULL,
	              routed ? relay_jid_domain(&to, route_to, true) : NULL, &to, sid);
out:
	if (stanza.cap > SIPGW_RELAY_BUF_KEEP || gw->relay_buf.data != NULL || gw->stopping)
		fg_buf_free(&stanza);
	else
		gw->relay_buf = stanza;
}

/* ---- IM sessions (INVITE with an m=message offer, RFC 4975-less OCS/Lync style) ------------- */

static void session_free(struct session *s)
{
	sip_dialog_free(s->d);
	free(s);
}

static void session_remove(struct sipgw *gw, struct session *s)
{
	for (struct session **pp = &gw->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			gw->nsessions--;
			session_free(s);
			return;
		}
	}
}

/* Ends an IM session from the XMPP side (RFC 7573 §6.1: <gone/> -> BYE) and forgets it. */
static void session_bye(struct sipgw *gw, struct dom *d, struct session *s)
{
	struct fg_buf req = {0};
	char sent_by[DB_DOMAIN_MAX + 8], branch[33];
	const char *transport;
	sipgw__via_for(gw, d, sent_by, sizeof(sent_by), &transport);
	sipgw__token(branch, 16);
	struct ctxn *ct = NULL;
	if (s->c != NULL &&
	    sip_dialog_build_request(s->d, &req, "BYE", transport, sent_by, branch, false, NULL,
	                             NULL, NULL, 0) == FG_OK &&
	    (ct = calloc(1, sizeof(*ct))) != NULL) {
		struct sip_txn_actions acts = {0};
		ct->p = P_OTHER; /* the session is gone whatever the answer */
		ct->gw = gw;
		fg_strlcpy(ct->domain, d->cf.rec.domain, sizeof(ct->domain));
		ct->c = s->c;
		if (sip_txn_client_new(SIP_METHOD_BYE, req.data, req.len, true, now_mono(), &ct->t,
		                       &acts) == FG_OK) {
			ctxn_link(gw, ct);
			ctxn_actions(ct, &acts);
		} else {
			ctxn_free(ct);
		}
	}
	fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "IM session %s ended by %s (gone)", s->d->call_id,
	       s->jid);
	d->status_dirty = true;
	session_remove(gw, s);
	fg_buf_free(&req);
}

static void invite_in(struct sipgw *gw, struct stxn *st)
{
	const struct sip_msg *m = st->req;
	struct dom *d = sipgw__sender_domain(gw, m);
	struct fg_buf to = {0}, from = {0}, sdp = {0}, extra = {0};
	const char *why = NULL;
	if (d == NULL || !sipgw__conn_speaks_for(st->c, d)) {
		sipgw__respond(st, 403, NULL, NULL, NULL, 0);
		goto out;
	}
	if (m->to.tag.p != NULL) {
		/* re-INVITE inside a session: keep it, nothing to renegotiate for text */
		struct session *s = session_for_request(gw, m);
		sipgw__respond(st, s ? 488 : 481, NULL, NULL, NULL, 0);
		goto out;
	}
	/* RFC 3264 §6: the answer has the offer's m= lines, each but the message stream
	 * rejected; with no usable message stream (audio only, MSRP only), 488 with a Warning
	 * (RFC 3261 §13.3.1.3) */
	bool tls = sipgw__domain_tls(&d->cf.rec);
	unsigned port = tls ? gw->set.tls_port : gw->set.tcp_port;
	char sid[17];
	sipgw__token(sid, 4);
	unsigned warn =
	    !xlate_media_type_is(m->content_type.p, m->content_type.len, "application/sdp")
	        ? 304
	        : sipgw_sdp_answer(m->body, m->body_len, gw->set.fqdn, port, sid, &sdp);
	if (warn != 0) {
		char warning[DB_DOMAIN_MAX + 64];
		sipgw__fmt(warning, sizeof(warning), "Warning: %u %s \"%s\"\r\n", warn,
		           gw->set.fqdn, sipgw_sdp_warning_text(warn));
		sipgw__respond(st, 488, warning, NULL, NULL, 0);
		goto out;
	}
	if (gw->nsessions >= SIPGW_MAX_SESSIONS) {
		sipgw__respond(st, 503, "Retry-After: 60\r\n", NULL, NULL, 0);
		goto out;
	}
	if (m->ruri.scheme == SIP_SCHEME_OTHER ||
	    sipgw__jid_from_sip(m->ruri.text.p, m->ruri.text.len, NULL, &to, &why) != FG_OK ||
	    sipgw__jid_from_sip(m->from.uri.text.p, m->from.uri.text.len, d->cf.xmpp, &from,
	                        &why) != FG_OK) {
		sipgw__respond(st, 404, NULL, NULL, NULL, 0);
		goto out;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (s == NULL || sip_dialog_new_uas(m, st->to_tag, &s->d) != FG_OK) {
		free(s);
		sipgw__respond(st, 500, NULL, NULL, NULL, 0);
		goto out;
	}
	fg_strlcpy(s->domain, d->cf.rec.domain, sizeof(s->domain));
	fg_strlcpy(s->sip_user, m->from.uri.text.p, sizeof(s->sip_user));
	struct sipgw_jid tj;
	if (sipgw__jid_split(fg_buf_cstr(&to), &tj))
		sipgw__fmt(s->jid, sizeof(s->jid), "%s@%s", tj.local, tj.domain);
	fg_strlcpy(s->from_jid, fg_buf_cstr(&from), sizeof(s->from_jid));
	s->c = st->c;
	s->last_active = now_mono();
	s->next = gw->sessions;
	gw->sessions = s;
	gw->nsessions++;
	/* the answer (sdp) was made above; the text itself travels in MESSAGE requests inside
	 * the dialog, as OCS and Lync do. RFC 6665 §4.4.4: Allow-Events in responses to
	 * dialog-initiating requests */
	(void)fg_buf_printf(&extra,
	                    "Contact: <sip:%s:%u;transport=%s>\r\nAllow: %s\r\n"
	                    "Allow-Events: presence\r\n",
	                    gw->set.fqdn, port, tls ? "tls" : "tcp", ALLOW_METHODS);
	sipgw__copy_record_route(m, &extra);
	sipgw__respond(st, 200, fg_buf_cstr(&extra), "application/sdp", sdp.data, sdp.len);
	fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "IM session %s between %s and %s", s->d->call_id,
	       s->sip_user, s->jid);
	d->status_dirty = true;
out:
	fg_buf_free(&to);
	fg_buf_free(&from);
	fg_buf_free(&sdp);
	fg_buf_free(&extra);
}

static void bye_in(struct sipgw *gw, struct stxn *st)
{
	struct session *s = session_for_request(gw, st->req);
	if (s == NULL) {
		sipgw__respond(st, 481, NULL, NULL, NULL, 0);
		return;
	}
	/* the session's dialog ends only by its domain's edge (RFC 5922 §7.3 as for the INVITE) */
	struct dom *d = sipgw__dom_find(gw, s->domain);
	if (d == NULL || !sipgw__conn_speaks_for(st->c, d)) {
		sipgw__respond(st, 403, NULL, NULL, NULL, 0);
		return;
	}
	/* XEP-0085: the other side has left the conversation */
	struct fg_buf gone = {0};
	(void)fg_buf_append_str(&gone, "<message type='chat' from='");
	(void)xmpp_escape(&gone, s->from_jid, strlen(s->from_jid), true);
	(void)fg_buf_append_str(&gone, "' to='");
	(void)xmpp_escape(&gone, s->jid, strlen(s->jid), true);
	(void)fg_buf_append_str(&gone,
	                        "'><gone xmlns='http://jabber.org/protocol/chatstates'/><thread>");
	(void)xmpp_escape(&gone, s->d->call_id, strlen(s->d->call_id), false);
	(void)fg_buf_append_str(&gone, "</thread></message>");
	sipgw__xmpp_send(gw, &gone);
	fg_buf_free(&gone);
	d->status_dirty = true;
	session_remove(gw, s);
	sipgw__respond(st, 200, NULL, NULL, NULL, 0);
}

void sipgw__presence_sip_in(struct sipgw *gw, struct stxn *st);

static void dispatch(struct stxn *st)
{
	struct sipgw *gw = st->gw;
	const struct sip_msg *m = st->req;
	if (m->ruri.scheme == SIP_SCHEME_OTHER) {
		sipgw__respond(st, 416, NULL, NULL, NULL, 0); /* RFC 3261 §8.2.2.1 */
		return;
	}
	switch (m->method_id) {
	case SIP_METHOD_OPTIONS:
		sipgw__respond(
		    st, 200,
		    "Allow: " ALLOW_METHODS "\r\nAccept: text/plain, text/html, message/cpim, "
		    "application/sdp, application/pidf+xml, application/im-iscomposing+xml\r\n"
		    "Supported: \r\n"
		    /* RFC 6665 §4.4.4: the packages we support, in OPTIONS responses */
		    "Allow-Events: presence\r\n",
		    NULL, NULL, 0);
		return;
	case SIP_METHOD_MESSAGE:
		message_in(gw, st);
		return;
	case SIP_METHOD_INVITE:
		invite_in(gw, st);
		return;
	case SIP_METHOD_BYE:
		bye_in(gw, st);
		return;
	case SIP_METHOD_CANCEL:
		/* INVITEs are answered at once: nothing is left to cancel (RFC 3261 §9.2) */
		sipgw__respond(st, 481, NULL, NULL, NULL, 0);
		return;
	case SIP_METHOD_SUBSCRIBE:
	case SIP_METHOD_NOTIFY:
		sipgw__presence_sip_in(gw, st);
		return;
	case SIP_METHOD_REGISTER:
	case SIP_METHOD_INFO:
	case SIP_METHOD_PRACK:
	case SIP_METHOD_UPDATE:
	case SIP_METHOD_REFER:
	case SIP_METHOD_PUBLISH:
		sipgw__respond(st, 405, "Allow: " ALLOW_METHODS "\r\n", NULL, NULL, 0);
		return;
	case SIP_METHOD_ACK:
	case SIP_METHOD_OTHER:
		break;
	}
	sipgw__respond(st, 501, "Allow: " ALLOW_METHODS "\r\n", NULL, NULL, 0);
}

/* ---- XMPP -> SIP -------------------------------------------------------------------------- */

static struct session *session_for_xmpp(struct sipgw *gw, const char *from_jid, const char *sip_uri)
{
	struct sipgw_jid fj;
	if (gw->sessions == NULL || !sipgw__jid_split(from_jid, &fj))
		return NULL;
	char bare[SIPGW_MAX_JID + 1];
	sipgw__fmt(bare, sizeof(bare), "%s@%s", fj.local, fj.domain);
	for (struct session *s = gw->sessions; s != NULL; s = s->next)
		if (strcasecmp(s->jid, bare) == 0 && strcasecmp(s->sip_user, sip_uri) == 0)
			return s;
	return NULL;
}

static void stanza_error_reply(struct sipgw *gw, const struct xmpp_node *n,
                               enum xmpp_stanza_cond cond, const char *text)
{
	struct fg_buf out = {0};
	if (xmpp_stanza_error_reply(n, cond, text, NULL, &out) == FG_OK)
		sipgw__xmpp_send(gw, &out);
	fg_buf_free(&out);
}

static void xmpp_message_in(struct sipgw *gw, struct dom *d, const struct xmpp_node *n)
{
	struct sipgw_stanza_msg sm;
	struct sipgw_request r = {0};
	struct fg_buf req = {0};
	const char *why = NULL;
	enum fg_err err = sipgw_stanza_msg_read(n, &sm);
	if (err == FG_ERR_NOTFOUND)
		goto out;
	if (err != FG_OK) {
		stanza_error_reply(gw, n, XMPP_SC_BAD_REQUEST, NULL);
		goto out;
	}
	err = sipgw_message_to_sip(&sm, d->cf.rec.domain, &r, &why);
	if (err != FG_OK) {
		/* too large: RFC 7572 §6 policy-violation; an address: jid-malformed */
		stanza_error_reply(gw, n,
		                   err == FG_ERR_TOOBIG  ? XMPP_SC_POLICY_VIOLATION
		                   : err == FG_ERR_PARSE ? XMPP_SC_BAD_REQUEST
		                                         : XMPP_SC_JID_MALFORMED,
		                   why);
		goto out;
	}
	struct session *s = session_for_xmpp(gw, sm.from, fg_buf_cstr(&r.ruri));
	bool chatstate_only = sm.im.body == NULL;
	if (chatstate_only && sm.chatstate == XLATE_CS_GONE) {
		/* RFC 7573 §6.1, Table 4: <gone/> maps to no isComposing state; in a session it
		 * ends the session with a BYE */
		if (s != NULL)
			session_bye(gw, d, s);
		goto out;
	}
	uint64_t pair = isc_key(sm.from, fg_buf_cstr(&r.ruri));
	uint64_t isc = chatstate_only ? pair : 0;
	if (isc != 0 && isc_refused(gw, isc)) {
		/* RFC 3994 §4: the receiver answered 415 to isComposing; send no more */
		goto out;
	}
	if (s != NULL) {
		/* inside the IM session the user accepted (RFC 3261 §12.2.1.1) */
		char sent_by[DB_DOMAIN_MAX + 8], branch[33];
		const char *transport;
		sipgw__via_for(gw, d, sent_by, sizeof(sent_by), &transport);
		sipgw__token(branch, 16);
		err = sip_dialog_build_request(s->d, &req, "MESSAGE", transport, sent_by, branch,
		                               false, r.extra.len ? fg_buf_cstr(&r.extra) : NULL,
		                               r.content_type, r.body.data, r.body.len);
	} else {
		/* RFC 7572 Table 1: <thread/> -> Call-ID, made valid (RFC 3261 §25.1) when the
		 * thread is not one; the pair is kept to map replies back */
		char call_id[SIPGW_CALL_ID_MAX];
		bool derived = false;
		if (sm.im.thread != NULL &&
		    xlate_call_id_from_thread(sm.im.thread, strlen(sm.im.thread), gw->set.fqdn,
		                              call_id, sizeof(call_id), &derived) != FG_OK) {
			stanza_error_reply(gw, n, XMPP_SC_BAD_REQUEST,
			                   "the thread cannot be carried in SIP");
			goto out;
		}
		if (derived)
			thread_remember(gw, call_id, sm.im.thread);
		err = sipgw__build_request(
		    gw, d, "MESSAGE", fg_buf_cstr(&r.ruri), fg_buf_cstr(&r.from),
		    fg_buf_cstr(&r.to), sm.im.thread ? call_id : NULL,
		    r.extra.len ? fg_buf_cstr(&r.extra) : NULL, r.content_type, r.body.data,
		    r.body.len, false, &req, NULL);
		if (err == FG_OK && req.len > gw->set.max_message_bytes) {
			/* RFC 3428 §8: an out-of-dialog MESSAGE MUST NOT exceed 1300 bytes (unless
			 * every hop is congestion-safe: sip.max_message_bytes); RFC 7572 §6 */
			char text[128];
			sipgw__fmt(
			    text, sizeof(text),
			    "the message is %zu bytes as SIP; at most %zu are allowed outside "
			    "a session",
			    req.len, gw->set.max_message_bytes);
			stanza_error_reply(gw, n, XMPP_SC_POLICY_VIOLATION, text);
			goto out;
		}
	}
	if (err != FG_OK) {
		stanza_error_reply(gw, n, XMPP_SC_BAD_REQUEST,
		                   "the message cannot be carried in SIP");
		goto out;
	}
	/* RFC 3994 §3.2: "active" once per refresh interval we announced, no "idle" that
	 * says nothing new (after idle, or after the content message that implied it) */
	if (gw->isc_tx == NULL)
		gw->isc_tx = sipgw__isc_tx_new();
	if (!sipgw__isc_tx_decide(gw->isc_tx, pair, !chatstate_only, sm.chatstate, now_mono()))
		goto out;
	struct ctxn *ct = calloc(1, sizeof(*ct));
	if (ct == NULL)
		goto out;
	ct->p = P_MESSAGE;
	ct->isc_key = isc;
	/* chat states are best effort: their failures are not reported back */
	if (sm.im.body != NULL) {
		ct->orig_from = strdup(sm.from);
		ct->orig_to = strdup(sm.to);
		ct->orig_id = sm.id ? strdup(sm.id) : NULL;
	}
	if (s != NULL)
		s->last_active = now_mono();
	if (s != NULL && s->c != NULL) {
		/* in-dialog requests follow the dialog's connection (else the next hop's) */
		struct sip_txn_actions acts = {0};
		ct->gw = gw;
		fg_strlcpy(ct->domain, d->cf.rec.domain, sizeof(ct->domain));
		ct->c = s->c;
		if (sip_txn_client_new(SIP_METHOD_MESSAGE, req.data, req.len, true, now_mono(),
		                       &ct->t, &acts) != FG_OK) {
			ctxn_free(ct);
			goto out;
		}
		ctxn_link(gw, ct);
		ctxn_actions(ct, &acts);
	} else if (s != NULL) {
		/* a session whose connection went: its request goes to the next hop */
		sipgw__ctxn_start(gw, d, ct, SIP_METHOD_MESSAGE, &req);
	} else {
		ct->queue_key = message_queue_key(fg_buf_cstr(&r.ruri));
		if (!message_send(gw, d, ct, &req)) {
			if (ct->orig_from != NULL)
				stanza_error_reply(
				    gw, n, XMPP_SC_RESOURCE_CONSTRAINT,
				    "too many messages are waiting for this recipient");
			ctxn_free(ct);
		}
	}
out:
	sipgw_stanza_msg_clear(&sm);
	sipgw_request_clear(&r);
	fg_buf_free(&req);
}

void sipgw__presence_xmpp_in(struct sipgw *gw, struct dom *d, const struct xmpp_node *n);

/* An XMPP error for a message a SIP user sent: its SIP request was answered when the stanza
 * was written to the peer's stream (202), so the error goes back to the SIP sender as a new
 * MESSAGE from the address that refused it (gateway policy: no RFC maps a late error), and is
 * logged. */
static void late_error_in(struct sipgw *gw, struct dom *d, const struct xmpp_node *n)
{
	const char *from = xmpp_node_attr(n, "from"), *to = xmpp_node_attr(n, "to");
	const char *id = xmpp_node_attr(n, "id");
	const struct xmpp_node *e = xmpp_node_child(n, XMPP_NS_SERVER, "error");
	const char *cond = "undefined-condition";
	struct fg_buf text = {0}, body = {0}, orig = {0}, ruri = {0}, fromh = {0}, from_uri = {0};
	struct fg_buf toh = {0}, req = {0};
	struct sipgw_jid tj;
	for (const struct xmpp_node *c = e ? e->children : NULL; c != NULL; c = c->next) {
		if (c->name == NULL || strcmp(c->ns, XMPP_NS_STANZA_ERRORS) != 0)
			continue;
		if (strcmp(c->name, "text") == 0)
			(void)xmpp_node_text(c, &text);
		else
			cond = c->name;
	}
	if (router_bounce(gw, id)) {
		/* the router's own bounce: the SIP request is (or was) answered with it */
		fg_log(FG_LOG_DEBUG, SIPGW_SUBSYS,
		       "router bounce %s for message %s: answered in SIP", cond, id);
		goto out;
	}
	const struct xmpp_node *ob = xmpp_node_child(n, XMPP_NS_SERVER, "body");
	if (ob != NULL)
		(void)xmpp_node_text(ob, &orig);
	fg_log(FG_LOG_NOTICE, SIPGW_SUBSYS,
	       "XMPP error %s from %s for message %s of %s (answered 202 already; told the SIP "
	       "sender)",
	       cond, from ? from : "?", id ? id : "-", to);
	d->errors++;
	d->status_dirty = true;
	if (from == NULL || !sipgw__jid_split(to, &tj) || tj.local[0] == '\0' ||
	    sipgw__sip_uri_for_local(tj.local, d->cf.rec.domain, &ruri, NULL) != FG_OK ||
	    xlate_addr_xmpp_to_sip(from, strlen(from), &from_uri, NULL) != FG_OK)
		goto out;
	(void)fg_buf_printf(&body, "Message to %s not delivered: %s", from, cond);
	if (text.len > 0)
		(void)fg_buf_printf(&body, " (%s)", fg_buf_cstr(&text));
	if (orig.len > 0)
		(void)fg_buf_printf(&body, "\r\n> %s", fg_buf_cstr(&orig));
	(void)fg_buf_printf(&fromh, "<%s>", fg_buf_cstr(&from_uri));
	(void)fg_buf_printf(&toh, "<%s>", fg_buf_cstr(&ruri));
	if (sipgw__build_request(gw, d, "MESSAGE", fg_buf_cstr(&ruri), fg_buf_cstr(&fromh),
	                         fg_buf_cstr(&toh), NULL, NULL, "text/plain;charset=UTF-8",
	                         body.data, body.len, false, &req, NULL) == FG_OK) {
		struct ctxn *ct = calloc(1, sizeof(*ct));
		if (ct != NULL) {
			/* a MESSAGE with no stanza to answer: its failure is not reported again */
			ct->p = P_MESSAGE;
			ct->queue_key = message_queue_key(fg_buf_cstr(&ruri));
			if (!message_send(gw, d, ct, &req))
				ctxn_free(ct);
		}
	}
out:
	fg_buf_free(&text);
	fg_buf_free(&body);
	fg_buf_free(&orig);
	fg_buf_free(&ruri);
	fg_buf_free(&fromh);
	fg_buf_free(&from_uri);
	fg_buf_free(&toh);
	fg_buf_free(&req);
}

static void domain_cb(void *ctx, const struct xmpp_node *n)
{
	struct sipgw *gw = ctx;
	const char *to = xmpp_node_attr(n, "to");
	struct sipgw_jid tj;
	if (gw->stopping || n->name == NULL || to == NULL || !sipgw__jid_split(to, &tj))
		return;
	struct dom *d = dom_by_xmpp(gw, tj.domain);
	if (d == NULL)
		return;
	const char *type = xmpp_node_attr(n, "type");
	if (strcmp(n->name, "message") == 0 && type != NULL && strcmp(type, "error") == 0) {
		late_error_in(gw, d, n);
		return;
	}
	if (strcmp(n->name, "message") == 0) {
		xmpp_message_in(gw, d, n);
	} else if (strcmp(n->name, "presence") == 0) {
		sipgw__presence_xmpp_in(gw, d, n);
	} else if (strcmp(n->name, "iq") == 0) {
		/* RFC 6120 §8.4: no SIP equivalent for queries to users */
		if (type != NULL && (strcmp(type, "get") == 0 || strcmp(type, "set") == 0))
			stanza_error_reply(gw, n, XMPP_SC_SERVICE_UNAVAILABLE, NULL);
	}
}

/* ---- engine: tick, configuration, lifecycle -------------------------------------------------- */

void sipgw__presence_tick(struct sipgw *gw);

static void timers_run(struct sipgw *gw, int64_t now)
{
	for (struct ctxn *ct = gw->ctxns; ct != NULL; ct = ct->next) {
		if (ct->dead || ct->t == NULL || sip_txn_next_timer(ct->t) > now)
			continue;
		struct sip_txn_actions acts = {0};
		if (sip_txn_on_timer(ct->t, now, &acts) == FG_OK)
			ctxn_actions(ct, &acts);
	}
	for (struct stxn *st = gw->stxns; st != NULL; st = st->next) {
		if (st->dead || st->t == NULL || sip_txn_next_timer(st->t) > now)
			continue;
		struct sip_txn_actions acts = {0};
		if (sip_txn_on_timer(st->t, now, &acts) == FG_OK)
			stxn_actions(st, &acts);
	}
}

static void conns_tick(struct sipgw *gw, int64_t now)
{
	for (struct conn *c = gw->conns; c != NULL;) {
		struct conn *next = c->next;
		if (c->state != CS_UP && c->state != CS_DEAD && now > c->deadline) {
			if (c->dom != NULL) {
				out_timed_out(c); /* the next address or SRV target */
				c = next;
				continue;
			}
			conn_kill(c, "timeout", false);
		} else if (c->state == CS_UP && !c->out && now - c->last_io > SIPGW_IDLE_IN_MS) {
			conn_kill(c, "idle", true);
		} else if (c->state == CS_UP && c->out && gw->set.keepalive_s > 0) {
			/* RFC 5626 §4.4.1 keepalive on the connection we opened. A peer that has
			 * never answered one is not cut off for that: without RFC 5626 it may
			 * ignore the CRLFs (RFC 3261 §7.5). The ping still keeps firewalls and NATs
			 * open, and the OPTIONS ping checks that the peer answers. */
			int64_t every = (int64_t)gw->set.keepalive_s * 1000;
			if (c->ping_out && now - c->ping_sent > SIPGW_PONG_WAIT_MS) {
				if (c->ponged)
					conn_kill(c, "no answer to the CRLF keepalive", false);
				else
					c->ping_out = false;
			} else if (!c->ping_out && now - c->last_io >= every) {
				c->ping_out = true;
				c->ping_sent = now;
				sip_stream_expect_pong(c->stream);
				conn_send(c, (const uint8_t *)"\r\n\r\n", 4);
			}
		}
		c = next;
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct sipgw *gw = t->data;
	int64_t now = now_mono();
	timers_run(gw, now);
	conns_tick(gw, now);
	if (gw->set.enabled) {
		for (size_t i = 0; i < gw->ndoms; i++) {
			struct dom *d = gw->doms[i];
			if (d->out == NULL && now >= d->retry_at)
				dom_connect(gw, d);
			else if (d->out != NULL && d->out->state == CS_UP && now >= d->options_at) {
				d->options_at = now + SIPGW_OPTIONS_MS;
				send_options(gw, d);
			}
		}
	}
	sweep(gw);
	for (struct session *s = gw->sessions; s != NULL;) {
		struct session *next = s->next;
		if (now - s->last_active > SIPGW_SESSION_IDLE_MS)
			session_remove(gw, s);
		s = next;
	}
	/* due refreshes and expiries at once (RFC 6665 §4.1.2.2): cheap when none is */
	sipgw__presence_tick(gw);
	/* SIP composers whose "active" ran out (RFC 3994 §3.3): one compare when none did */
	(void)sipgw__isc_rx_expire(gw->isc_rx, now, isc_idle_cb, gw);
	if (++gw->ticks % (1000 / SIPGW_TICK_MS) == 0) {
		/* a listener that could not bind (address busy or not yet up) is tried again */
		if (gw->ticks % (SIPGW_RETRY_MS / SIPGW_TICK_MS) == 0) {
			if (gw->tcp_l.tcp == NULL)
				listener_apply(gw, &gw->tcp_l, gw->set.tcp_port, false);
			if (gw->tls_l.tcp == NULL)
				listener_apply(gw, &gw->tls_l, gw->set.tls_port, true);
		}
		for (size_t i = 0; i < gw->ndoms; i++)
			dom_status(gw, gw->doms[i]);
	}
}

static void resolver_apply(struct sipgw *gw)
{
	char key[sizeof(gw->dns_key)];
	sipgw__fmt(key, sizeof(key), "%s|%s", gw->set.dns_servers, gw->set.dns_zones);
	if (gw->resolver != NULL && strcmp(key, gw->dns_key) == 0)
		return;
	struct resolve_config rc = {.servers = gw->set.dns_servers,
	                            .transparent_zones = gw->set.dns_zones};
	struct resolver *r = NULL;
	if (resolver_new(&r, gw->loop, &rc) != FG_OK) {
		fg_log(FG_LOG_ERR, SIPGW_SUBSYS,
		       "the DNS resolver could not start (servers \"%s\")", gw->set.dns_servers);
		return;
	}
	/* connections still resolving start over on the new resolver */
	for (struct conn *c = gw->conns; c != NULL;) {
		struct conn *next = c->next;
		if (c->state == CS_RESOLVING)
			conn_kill(c, "DNS servers changed", false);
		c = next;
	}
	resolver_free(gw->resolver);
	gw->resolver = r;
	fg_strlcpy(gw->dns_key, key, sizeof(gw->dns_key));
	for (size_t i = 0; i < gw->ndoms; i++)
		gw->doms[i]->retry_at = 0;
}

static bool rec_same(const struct db_sip_domain *a, const struct db_sip_domain *b)
{
	return strcasecmp(a->domain, b->domain) == 0 && strcasecmp(a->next_hop, b->next_hop) == 0 &&
	       a->next_hop_port == b->next_hop_port &&
	       strcasecmp(a->transport, b->transport) == 0 && strcmp(a->cert_id, b->cert_id) == 0 &&
	       strcmp(a->ca_id, b->ca_id) == 0 && strcmp(a->bind, b->bind) == 0 &&
	       strcasecmp(a->xmpp_domain, b->xmpp_domain) == 0;
}

static void dom_unregister(struct sipgw *gw, struct dom *d)
{
	if (!d->registered || gw->s2s == NULL)
		return;
	d->registered = false;
	/* another domain may map to the same XMPP domain: it keeps the registration */
	for (size_t i = 0; i < gw->ndoms; i++)
		if (gw->doms[i] != d && gw->doms[i]->registered &&
		    strcasecmp(gw->doms[i]->cf.xmpp, d->cf.xmpp) == 0)
			return;
	s2s_domain_unregister(gw->s2s, d->cf.xmpp);
}

static void dom_register(struct sipgw *gw, struct dom *d)
{
	if (d->registered || gw->s2s == NULL || !gw->set.enabled)
		return;
	enum fg_err err = s2s_domain_register(gw->s2s, d->cf.xmpp, domain_cb, gw);
	if (err == FG_OK || err == FG_ERR_EXISTS)
		d->registered = true;
	else
		fg_log(FG_LOG_ERR, SIPGW_SUBSYS,
		       "the XMPP domain %s of SIP domain %s cannot be "
		       "registered with the federation engine: %s",
		       d->cf.xmpp, d->cf.rec.domain, fg_strerror(err));
}

static void dom_free(struct sipgw *gw, struct dom *d)
{
	char id[STATUS_ID_MAX];
	dom_unregister(gw, d);
	if (d->out != NULL) {
		struct conn *c = d->out;
		c->dom = NULL;
		d->out = NULL;
		conn_kill(c, "the SIP domain was removed or changed", true);
	}
	for (struct conn *c = gw->conns; c != NULL; c = c->next)
		if (c->dom == d)
			c->dom = NULL;
	sipgw__fmt(id, sizeof(id), "sip:%s", d->cf.rec.domain);
	status_remove(id);
	static const char *const kinds[] = {"dns", "connect", "tls", "cert", "options"};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fault_clear(d, kinds[i]);
	sipgw__domain_conf_clear(&d->cf);
	free(d);
}

static void dom_init_state(struct dom *d)
{
	fg_strlcpy(d->dns, "unknown", sizeof(d->dns));
	fg_strlcpy(d->tcp, "unknown", sizeof(d->tcp));
	fg_strlcpy(d->tls, sipgw__domain_tls(&d->cf.rec) ? "unknown" : "off", sizeof(d->tls));
	fg_strlcpy(d->options, "unknown", sizeof(d->options));
	fg_strlcpy(d->cert, sipgw__domain_tls(&d->cf.rec) ? "unknown" : "n/a", sizeof(d->cert));
	d->status_dirty = true;
}

void sipgw_reconfigure(struct sipgw *gw)
{
	if (gw == NULL || gw->stopping)
		return;
	struct sipgw_domain_conf *confs = NULL;
	size_t n = 0;
	struct sipgw_settings set;
	if (sipgw__domains_load(gw->db, &set, &confs, &n) != FG_OK) {
		fg_log(FG_LOG_ERR, SIPGW_SUBSYS, "the SIP configuration cannot be read");
		return;
	}
	gw->set = set;
	resolver_apply(gw);
	for (size_t i = 0; i < gw->ndoms; i++)
		gw->doms[i]->keep = false;
	for (size_t k = 0; k < n; k++) {
		struct dom *d = sipgw__dom_find(gw, confs[k].rec.domain);
		if (d != NULL && rec_same(&d->cf.rec, &confs[k].rec)) {
			/* same next hop: keep the connection, take the re-read TLS material */
			sipgw__domain_conf_clear(&d->cf);
			d->cf = confs[k];
			memset(&confs[k], 0, sizeof(confs[k]));
			d->keep = true;
			continue;
		}
		if (d != NULL) {
			/* changed: drop it and start again below */
			for (size_t i = 0; i < gw->ndoms; i++)
				if (gw->doms[i] == d) {
					gw->doms[i] = gw->doms[--gw->ndoms];
					break;
				}
			dom_free(gw, d);
		}
		if (gw->ndoms >= SIPGW_MAX_DOMAINS)
			continue;
		d = calloc(1, sizeof(*d));
		if (d == NULL)
			continue;
		d->cf = confs[k];
		memset(&confs[k], 0, sizeof(confs[k]));
		d->keep = true;
		dom_init_state(d);
		gw->doms[gw->ndoms++] = d;
		if (d->cf.problem[0] != '\0')
			fg_log(FG_LOG_WARN, SIPGW_SUBSYS, "SIP domain %s: %s", d->cf.rec.domain,
			       d->cf.problem);
	}
	sipgw__domains_free(confs, n);
	for (size_t i = 0; i < gw->ndoms;) {
		struct dom *d = gw->doms[i];
		if (!d->keep || !gw->set.enabled) {
			if (!d->keep) {
				gw->doms[i] = gw->doms[--gw->ndoms];
				dom_free(gw, d);
				continue;
			}
			dom_unregister(gw, d);
			if (d->out != NULL)
				conn_kill(d->out, "SIP is disabled", true);
		} else {
			dom_register(gw, d);
		}
		i++;
	}
	listener_apply(gw, &gw->tcp_l, gw->set.tcp_port, false);
	listener_apply(gw, &gw->tls_l, gw->set.tls_port, true);
	for (size_t i = 0; i < gw->ndoms; i++)
		dom_status(gw, gw->doms[i]);
}

enum fg_err sipgw_start(struct sipgw **out, uv_loop_t *loop, struct db *db, struct s2s_engine *s2s)
{
	*out = NULL;
	struct sipgw *gw = calloc(1, sizeof(*gw));
	if (gw == NULL)
		return FG_ERR_NOMEM;
	gw->loop = loop;
	gw->db = db;
	gw->s2s = s2s;
	gw->refs = 3; /* the caller's, the tick timer's and the flush handle's */
	gw->tcp_l.gw = gw->tls_l.gw = gw;
	uv_timer_init(loop, &gw->tick);
	gw->tick.data = gw;
	uv_prepare_init(loop, &gw->flush);
	gw->flush.data = gw;
	uv_prepare_start(&gw->flush, flush_cb);
	uv_unref((uv_handle_t *)&gw->flush); /* it never keeps the loop running by itself */
	sipgw_reconfigure(gw);
	uv_timer_start(&gw->tick, tick_cb, SIPGW_TICK_MS, SIPGW_TICK_MS);
	fg_log(FG_LOG_NOTICE, SIPGW_SUBSYS, "SIP gateway started: %zu SIP domain%s, FQDN %s%s",
	       gw->ndoms, gw->ndoms == 1 ? "" : "s", gw->set.fqdn,
	       gw->set.enabled ? "" : " (disabled)");
	*out = gw;
	return FG_OK;
}

static void tick_closed(uv_handle_t *h)
{
	gw_unref(h->data);
}

void sipgw_stop(struct sipgw *gw)
{
	if (gw == NULL || gw->stopping)
		return;
	gw->stopping = true;
	for (size_t i = 0; i < gw->ndoms; i++)
		dom_unregister(gw, gw->doms[i]);
	while (gw->conns != NULL)
		conn_kill(gw->conns, "the gateway is stopping", false); /* the loop closes soon */
	while (gw->stxns != NULL) {
		struct stxn *st = gw->stxns;
		gw->stxns = st->next;
		stxn_free(st);
	}
	sipgw_htab_free(&gw->stxn_tab);
	/* the router may still answer: its callbacks find nobody */
	while (gw->pendings != NULL) {
		struct pending *p = gw->pendings;
		pending_unlink(gw, p);
		p->gw = NULL;
		p->st = NULL;
	}
	while (gw->pending_free != NULL) {
		struct pending *p = gw->pending_free;
		gw->pending_free = p->next;
		free(p);
	}
	gw->n_pending_free = 0;
	fg_buf_free(&gw->relay_buf);
	free(gw->msg_mem);
	gw->msg_mem = NULL;
	mq_free_all(gw);
	sipgw__pres_cache_free(gw->pres_cache);
	gw->pres_cache = NULL;
	sipgw__isc_rx_free(gw->isc_rx);
	gw->isc_rx = NULL;
	sipgw__isc_tx_free(gw->isc_tx);
	gw->isc_tx = NULL;
	while (gw->ctxns != NULL) {
		struct ctxn *ct = gw->ctxns;
		gw->ctxns = ct->next;
		ctxn_free(ct);
	}
	sipgw_htab_free(&gw->ctxn_tab);
	while (gw->sessions != NULL) {
		struct session *s = gw->sessions;
		gw->sessions = s->next;
		session_free(s);
	}
	listener_close(&gw->tcp_l);
	listener_close(&gw->tls_l);
	for (size_t i = 0; i < gw->ndoms; i++) {
		sipgw__domain_conf_clear(&gw->doms[i]->cf);
		free(gw->doms[i]);
	}
	gw->ndoms = 0;
	resolver_free(gw->resolver);
	gw->resolver = NULL;
	uv_timer_stop(&gw->tick);
	uv_close((uv_handle_t *)&gw->tick, tick_closed);
	uv_prepare_stop(&gw->flush);
	uv_close((uv_handle_t *)&gw->flush, tick_closed);
	gw_unref(gw);
}

/* ---- test entry points ------------------------------------------------------------------------
 */

void sipgw__set_xmpp_sink(struct sipgw *gw, sipgw_xmpp_sink_cb cb, void *ctx)
{
	gw->sink = cb;
	gw->sink_ctx = ctx;
}

static void inject_cb(void *ctx, const struct xmpp_node *n)
{
	domain_cb(ctx, n);
}

enum fg_err sipgw__inject(struct sipgw *gw, const char *xml)
{
	return sipgw__parse_stanza((const uint8_t *)xml, strlen(xml), inject_cb, gw);
}

const char *sipgw__domain_state(struct sipgw *gw, const char *sip_domain)
{
	char id[STATUS_ID_MAX];
	struct dom *d = sipgw__dom_find(gw, sip_domain);
	if (d == NULL)
		return NULL;
	dom_status(gw, d);
	sipgw__fmt(id, sizeof(id), "sip:%s", sip_domain);
	return status_state(id);
}
