/* sipgw validate connection: DNS of the next hop (RFC 3263 §4.2), TCP, TLS with both
 * certificates, the RFC 5922 §7.1 name match and a SIP OPTIONS round trip (RFC 3261 §11),
 * step by step with the fix for each failure. */
#include "sipgw/sipgw_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The whole validation gives up after this long. */
#define VAL_TIMEOUT_MS 20000
/* One SRV target that does not answer is given up after this long (the engine's connect
 * timeout), so that the next one is still checked within VAL_TIMEOUT_MS. */
#define VAL_TARGET_TIMEOUT_MS 10000
#define VAL_TEXT              512

/* V_SRV first: it is never "not reached" (the SRV lookup cannot fail the check). */
enum vstep { V_SRV = 0, V_DNS, V_TCP, V_TLS, V_CERT, V_OPTIONS, V__COUNT };

static const char *const step_ids[V__COUNT] = {"dns.srv", "dns", "tcp", "tls", "cert", "options"};

struct sipgw_validation {
	uv_loop_t *loop;
	struct sipgw_settings set;
	struct sipgw_domain_conf dc;
	s2s_step_cb step_cb;
	s2s_done_cb done_cb;
	void *ctx;
	struct resolver *resolver;
	struct resolve_query *q;
	uv_tcp_t *tcp;
	uv_connect_t *creq; /* freed by its callback; data cleared when we stop */
	uv_timer_t *timer;
	struct tls_conn *tls;
	bool tls_up;
	struct sip_stream *stream;
	enum vstep cur;
	bool done, freed, use_tls;
	char host[DB_DOMAIN_MAX];
	uint16_t port;
	char addrs[RESOLVE_MAX_ADDRS][64];
	size_t naddr, iaddr;
	char peer[80];
	char branch[33];
	/* RFC 3263 §4.4: the targets in SRV order (one without SRV), the one being tried and
	 * what went wrong with those before it */
	struct dns_srv targets[SIPGW_MAX_TARGETS];
	size_t ntargets, itarget;
	bool srv; /* the targets came from SRV records */
	char tried[SIPGW_TARGETS_TEXT];
	uint64_t give_up_at; /* loop time (ms) when the whole check ends */
};

static void vfmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void vfmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

static void step(struct sipgw_validation *v, enum vstep s, enum s2s_step_state st,
                 const char *detail, const char *fix, const char *tech)
{
	char title[DB_DOMAIN_MAX + 64];
	switch (s) {
	case V_SRV:
		vfmt(title, sizeof(title), "DNS SRV %s.%s", v->use_tls ? "_sips._tcp" : "_sip._tcp",
		     v->dc.rec.next_hop);
		break;
	case V_DNS:
		if (v->srv)
			vfmt(title, sizeof(title), "DNS of the next hop %s: SRV target %s",
			     v->dc.rec.next_hop, v->host);
		else
			vfmt(title, sizeof(title), "DNS of the next hop %s", v->dc.rec.next_hop);
		break;
	case V_TCP:
		vfmt(title, sizeof(title), "TCP connection to %s port %u", v->host,
		     (unsigned)v->port);
		break;
	case V_TLS:
		vfmt(title, sizeof(title), "TLS handshake with %s, both certificates", v->host);
		break;
	case V_CERT:
		if (v->srv)
			vfmt(title, sizeof(title), "Certificate of %s names the next hop %s",
			     v->host, v->dc.rec.next_hop);
		else
			vfmt(title, sizeof(title), "Next hop certificate names %s",
			     v->dc.rec.next_hop);
		break;
	case V_OPTIONS:
	case V__COUNT:
		vfmt(title, sizeof(title), "SIP OPTIONS round trip");
		break;
	}
	struct s2s_step out = {.id = step_ids[s < V__COUNT ? s : V_OPTIONS],
	                       .title = title,
	                       .state = st,
	                       .detail = detail ? detail : "",
	                       .fix = fix ? fix : "",
	                       .tech = tech ? tech : ""};
	v->cur = s;
	if (v->step_cb != NULL && !v->freed)
		v->step_cb(v->ctx, &out);
}

static void handle_free_cb(uv_handle_t *h)
{
	free(h);
}

static void drop_target_io(struct sipgw_validation *v);

static void release_io(struct sipgw_validation *v)
{
	drop_target_io(v);
	if (v->timer != NULL) {
		uv_timer_stop(v->timer);
		uv_close((uv_handle_t *)v->timer, handle_free_cb);
		v->timer = NULL;
	}
	sip_stream_free(v->stream);
	v->stream = NULL;
}

static void finish(struct sipgw_validation *v, bool ok)
{
	if (v->done)
		return;
	v->done = true;
	release_io(v);
	/* the remaining steps were not reached */
	for (int s = (int)v->cur + 1; s < V__COUNT && !ok; s++) {
		if ((s == V_TLS || s == V_CERT) && !v->use_tls)
			continue;
		step(v, (enum vstep)s, S2S_STEP_SKIP, "not reached", NULL, NULL);
	}
	if (v->done_cb != NULL && !v->freed)
		v->done_cb(v->ctx, ok);
}

static void fail(struct sipgw_validation *v, const char *detail, const char *fix, const char *tech)
{
	step(v, v->cur, S2S_STEP_FAIL, detail, fix, tech);
	finish(v, false);
}

static void try_target(struct sipgw_validation *v);

/* Drops the socket and TLS of the target being tried (the next one starts afresh). */
static void drop_target_io(struct sipgw_validation *v)
{
	if (v->q != NULL) {
		resolve_cancel(v->q);
		v->q = NULL;
	}
	if (v->creq != NULL) {
		v->creq->data = NULL;
		v->creq = NULL;
	}
	if (v->tcp != NULL) {
		v->tcp->data = NULL;
		uv_close((uv_handle_t *)v->tcp, handle_free_cb);
		v->tcp = NULL;
	}
	tls_conn_free(v->tls);
	v->tls = NULL;
	v->tls_up = false;
	v->naddr = v->iaddr = 0;
}

/* The current step failed for this target. RFC 3263 §4.4: with SRV targets left, that is
 * a warning and the next target is tried; the last target's failure fails the check and
 * lists every target tried. */
static void target_failed(struct sipgw_validation *v, const char *detail, const char *fix,
                          const char *tech)
{
	char item[DB_DOMAIN_MAX + VAL_TEXT];
	vfmt(item, sizeof(item), "%s port %u: %s", v->host, (unsigned)v->port, detail);
	size_t l = strlen(v->tried);
	if (l < sizeof(v->tried))
		vfmt(v->tried + l, sizeof(v->tried) - l, "%s%s", l ? "; " : "", item);
	if (v->itarget + 1 < v->ntargets) {
		char more[VAL_TEXT + 64];
		vfmt(more, sizeof(more), "%s (trying the next SRV target)", detail);
		step(v, v->cur, S2S_STEP_WARN, more, fix, tech);
		drop_target_io(v);
		v->itarget++;
		try_target(v);
		return;
	}
	if (v->ntargets > 1) {
		char all[SIPGW_TARGETS_TEXT + VAL_TEXT + 64];
		vfmt(all, sizeof(all), "%s; every SRV target was tried: %s", detail, v->tried);
		fail(v, all, fix, tech);
		return;
	}
	fail(v, detail, fix, tech);
}

static void timeout_cb(uv_timer_t *t)
{
	struct sipgw_validation *v = t->data;
	const char *fix =
	    v->cur == V_OPTIONS
	        ? "Check that the edge accepts SIP from the gateway's FQDN and answers OPTIONS."
	        : "Check that the next hop is up and that no firewall drops the traffic.";
	/* a target that does not answer: the next one, while time is left (RFC 3263 §4.4) */
	if (v->cur != V_OPTIONS && uv_now(v->loop) < v->give_up_at) {
		target_failed(v, "no answer in time", fix, NULL);
		return;
	}
	fail(v, "no answer in time", fix, NULL);
}

/* ---- I/O ------------------------------------------------------------------------------------ */

static void send_bytes(struct sipgw_validation *v, const uint8_t *data, size_t len);

static void write_done(uv_write_t *r, int status)
{
	(void)status;
	free(r);
}

static void raw_send(struct sipgw_validation *v, const uint8_t *data, size_t len)
{
	if (v->tcp == NULL || len == 0)
		return;
	uv_write_t *r = malloc(sizeof(*r) + len);
	if (r == NULL)
		return;
	uint8_t *copy = (uint8_t *)(r + 1);
	memcpy(copy, data, len);
	uv_buf_t b = uv_buf_init((char *)copy, (unsigned)len);
	if (uv_write(r, (uv_stream_t *)v->tcp, &b, 1, write_done) != 0)
		free(r);
}

/* raw_send never ends the probe: a failed write shows as the peer's silence. */
static bool tls_write_cb(void *ctx, const uint8_t *buf, size_t len)
{
	raw_send(ctx, buf, len);
	return true;
}

static void tls_pump(struct sipgw_validation *v)
{
	if (v->tls != NULL)
		(void)tls_conn_pump(v->tls, tls_write_cb, v);
}

static void send_bytes(struct sipgw_validation *v, const uint8_t *data, size_t len)
{
	if (v->tls == NULL) {
		raw_send(v, data, len);
		return;
	}
	/* a refusal is the TLS failure the read path reports */
	(void)tls_conn_write_all(v->tls, data, len, tls_write_cb, v);
}

static void send_options(struct sipgw_validation *v)
{
	struct fg_buf req = {0};
	char ruri[DB_DOMAIN_MAX + 8], from[DB_DOMAIN_MAX + 8], to[DB_DOMAIN_MAX + 8];
	char sent_by[DB_DOMAIN_MAX + 8], tag[17], cid[80], r[33];
	step(v, V_OPTIONS, S2S_STEP_RUNNING, "", NULL, NULL);
	vfmt(ruri, sizeof(ruri), "sip:%s", v->dc.rec.next_hop);
	vfmt(from, sizeof(from), "<sip:%s>", v->set.fqdn);
	vfmt(to, sizeof(to), "<sip:%s>", v->dc.rec.next_hop);
	vfmt(sent_by, sizeof(sent_by), "%s:%u", v->set.fqdn,
	     (unsigned)(v->use_tls ? v->set.tls_port : v->set.tcp_port));
	sipgw__token(v->branch, 16);
	sipgw__token(tag, 8);
	sipgw__token(r, 16);
	vfmt(cid, sizeof(cid), "%s@%.40s", r, v->set.fqdn);
	struct sip_request_spec spec = {.method = "OPTIONS",
	                                .ruri = ruri,
	                                .via_transport = v->use_tls ? "TLS" : "TCP",
	                                .via_sent_by = sent_by,
	                                .branch_random = v->branch,
	                                .from = from,
	                                .from_tag = tag,
	                                .to = to,
	                                .call_id = cid,
	                                .cseq = 1};
	if (sip_build_request(&req, &spec) == FG_OK)
		send_bytes(v, req.data, req.len);
	fg_buf_free(&req);
}

static void tls_up(struct sipgw_validation *v)
{
	char detail[VAL_TEXT], names[256] = "";
	v->tls_up = true;
	vfmt(detail, sizeof(detail), "%s %s; our certificate was presented%s",
	     tls_conn_version_name(v->tls), tls_conn_suite_name(v->tls),
	     tls_conn_peer_verified(v->tls) ? "; the next hop's chain leads to the trusted CA"
	                                    : "");
	step(v, V_TLS, S2S_STEP_PASS, detail, NULL, NULL);
	step(v, V_CERT, S2S_STEP_RUNNING, "", NULL, NULL);
	const uint8_t *der = NULL;
	size_t len = 0;
	tls_conn_peer_cert(v->tls, &der, &len);
	if (!sipgw_cert_names_host(der, len, v->dc.rec.next_hop, names, sizeof(names))) {
		char fix[VAL_TEXT];
		vfmt(
		    detail, sizeof(detail),
		    "peer's certificate does not contain a matching FQDN: it names %s, expected %s",
		    names, v->dc.rec.next_hop);
		vfmt(fix, sizeof(fix),
		     "Set the next hop to the name on the edge's certificate (one of: %s), or give "
		     "the "
		     "edge a certificate with the subjectAltName DNS:%s.",
		     names, v->dc.rec.next_hop);
		target_failed(v, detail, fix, "RFC 5922 §7.1");
		return;
	}
	vfmt(detail, sizeof(detail), "the certificate names %s (%s)", v->dc.rec.next_hop, names);
	step(v, V_CERT, S2S_STEP_PASS, detail, NULL, NULL);
	send_options(v);
}

static void on_plain(struct sipgw_validation *v, const uint8_t *buf, size_t len)
{
	if (v->cur != V_OPTIONS || v->stream == NULL)
		return;
	if (sip_stream_feed(v->stream, buf, len) != FG_OK) {
		fail(v, "the next hop sent something that is not SIP",
		     "Check that the next hop port is a SIP port.", NULL);
		return;
	}
	for (;;) {
		enum sip_stream_event ev;
		struct sip_msg *m = NULL;
		struct sip_error e;
		if (sip_stream_next(v->stream, &ev, &m, &e) != FG_OK) {
			fail(v, "the next hop's answer is not valid SIP",
			     "Check that the next hop port is a SIP port.", e.what);
			return;
		}
		if (ev == SIP_STREAM_NEED_MORE)
			return;
		if (ev != SIP_STREAM_MESSAGE)
			continue;
		bool mine = !m->is_request && m->nvias > 0 && m->vias[0].branch.p != NULL &&
		            strstr(m->vias[0].branch.p, v->branch) != NULL;
		unsigned status = m->status;
		char detail[VAL_TEXT];
		vfmt(detail, sizeof(detail), "answered %u %.*s", status, (int)m->reason.len,
		     m->reason.p ? m->reason.p : "");
		sip_msg_free(m);
		if (!mine || status < 200)
			continue;
		/* any final answer proves the SIP layer of the next hop reached us */
		step(v, V_OPTIONS, status < 300 ? S2S_STEP_PASS : S2S_STEP_WARN, detail,
		     status < 300
		         ? NULL
		         : "The edge answers but refuses OPTIONS: check that it trusts the "
		           "gateway's FQDN as a federated/trusted host.",
		     NULL);
		finish(v, true);
		return;
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = malloc(16384);
	buf->len = buf->base ? 16384 : 0;
}

static void tls_failed(struct sipgw_validation *v)
{
	int code = tls_conn_error_code(v->tls);
	char tech[64];
	vfmt(tech, sizeof(tech), "BearSSL error %d", code);
	bool cert = code >= 32 && code < 64;
	target_failed(
	    v, tls_conn_error_text(v->tls),
	    cert ? "The next hop's certificate does not lead to the CA bundle chosen for this SIP "
	           "domain, or it is expired: upload the edge's CA and choose it on the domain."
	         : "The next hop refused the handshake: check that it trusts the CA of our SIP "
	           "certificate (mutual TLS) and speaks TLS 1.2.",
	    tech);
}

static bool tls_plain_cb(void *ctx, const uint8_t *buf, size_t len)
{
	struct sipgw_validation *v = ctx;
	on_plain(v, buf, len);
	return !v->done && v->tls != NULL;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct sipgw_validation *v = s->data;
	if (v == NULL || v->done) {
		free(buf->base);
		return;
	}
	if (n < 0) {
		free(buf->base);
		if (v->tls != NULL && !v->tls_up) {
			tls_conn_feed_eof(v->tls);
			tls_failed(v);
		} else {
			fail(v, "the next hop closed the connection",
			     v->use_tls
			         ? "Check that the edge trusts the CA of our SIP certificate."
			         : "Check that the next hop accepts SIP over TCP.",
			     NULL);
		}
		return;
	}
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t len = (size_t)n;
	if (v->tls == NULL) {
		on_plain(v, p, len);
		free(buf->base);
		return;
	}
	uint8_t app[16384];
	while (!v->done && v->tls != NULL) {
		size_t used = 0;
		if (len > 0 && tls_conn_feed(v->tls, p, len, &used) != FG_OK) {
			tls_pump(v);
			tls_failed(v);
			break;
		}
		p += used;
		len -= used;
		tls_pump(v);
		if (tls_conn_state(v->tls) == TLS_STATE_FAILED) {
			tls_failed(v);
			break;
		}
		if (tls_conn_state(v->tls) == TLS_STATE_ESTABLISHED && !v->tls_up) {
			tls_up(v);
			if (v->done)
				break;
		}
		bool got =
		    v->tls != NULL && tls_conn_read_all(v->tls, app, sizeof(app), tls_plain_cb, v);
		if ((len == 0 || used == 0) && !got)
			break;
	}
	free(buf->base);
}

static void try_next_addr(struct sipgw_validation *v);

static void connect_cb(uv_connect_t *req, int status)
{
	struct sipgw_validation *v = req->data;
	free(req);
	if (v == NULL || v->done || v->tcp == NULL)
		return;
	v->creq = NULL;
	if (status < 0) {
		v->tcp->data = NULL;
		uv_close((uv_handle_t *)v->tcp, handle_free_cb);
		v->tcp = NULL;
		v->iaddr++;
		if (v->iaddr < v->naddr) {
			try_next_addr(v);
			return;
		}
		char detail[VAL_TEXT];
		vfmt(detail, sizeof(detail), "%s: %s", v->peer, uv_strerror(status));
		target_failed(
		    v, detail,
		    "Check that the edge listens on this address and port, and that no firewall "
		    "blocks the gateway.",
		    uv_err_name(status));
		return;
	}
	char detail[VAL_TEXT];
	vfmt(detail, sizeof(detail), "connected to %s", v->peer);
	step(v, V_TCP, S2S_STEP_PASS, detail, NULL, NULL);
	v->tcp->data = v;
	uv_read_start((uv_stream_t *)v->tcp, alloc_cb, read_cb);
	if (!v->use_tls) {
		send_options(v);
		return;
	}
	step(v, V_TLS, S2S_STEP_RUNNING, "", NULL, NULL);
	/* SNI with the next hop's name, never an address (RFC 6066 §3); the name check is
	 * ours (RFC 5922 §7.1), so that the step can say which names the certificate has */
	const char *hop = v->dc.rec.next_hop;
	struct tls_config cfg = {.role = TLS_ROLE_CLIENT,
	                         .creds = v->dc.creds,
	                         .trust = v->dc.trust,
	                         .server_name = sipgw__is_ip_literal(hop) ? NULL : hop,
	                         .sni_skip_name_check = true};
	if (v->dc.trust == NULL || tls_conn_new(&v->tls, &cfg) != FG_OK) {
		fail(v, v->dc.problem[0] ? v->dc.problem : "TLS cannot start",
		     "Choose a SIP certificate with its private key and a trusted CA bundle on the "
		     "SIP "
		     "domain.",
		     NULL);
		return;
	}
	tls_pump(v);
}

static void try_next_addr(struct sipgw_validation *v)
{
	struct sockaddr_storage ss;
	const char *a = v->addrs[v->iaddr];
	if (uv_ip6_addr(a, v->port, (struct sockaddr_in6 *)&ss) != 0 &&
	    uv_ip4_addr(a, v->port, (struct sockaddr_in *)&ss) != 0) {
		fail(v, "the address is not usable", NULL, a);
		return;
	}
	vfmt(v->peer, sizeof(v->peer), strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, (unsigned)v->port);
	v->tcp = malloc(sizeof(*v->tcp));
	if (v->tcp == NULL) {
		fail(v, "out of memory", NULL, NULL);
		return;
	}
	uv_tcp_init(v->loop, v->tcp);
	v->tcp->data = v;
	v->creq = malloc(sizeof(*v->creq));
	if (v->creq == NULL) {
		fail(v, "out of memory", NULL, NULL);
		return;
	}
	v->creq->data = v;
	if (uv_tcp_connect(v->creq, v->tcp, (const struct sockaddr *)&ss, connect_cb) != 0) {
		free(v->creq);
		v->creq = NULL;
		fail(v, "cannot start the connection", NULL, NULL);
	}
}

static void addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct sipgw_validation *v = ctx;
	v->q = NULL;
	if (ans->status != RESOLVE_OK || ans->n == 0) {
		target_failed(v, ans->text ? ans->text : resolve_status_name(ans->status),
		              "Check the next hop name on the SIP domain and that the DNS servers "
		              "(xmpp.dns_servers) publish its address, or enter the IP address.",
		              resolve_status_name(ans->status));
		return;
	}
	char detail[VAL_TEXT] = "";
	for (size_t i = 0; i < ans->n && v->naddr < RESOLVE_MAX_ADDRS; i++) {
		fg_strlcpy(v->addrs[v->naddr++], ans->addrs[i], sizeof(v->addrs[0]));
		size_t l = strlen(detail);
		vfmt(detail + l, sizeof(detail) - l, "%s%s", i ? ", " : "", ans->addrs[i]);
	}
	char full[VAL_TEXT + 64];
	vfmt(full, sizeof(full), "%s has %s (port %u)", v->host, detail, (unsigned)v->port);
	step(v, V_DNS, S2S_STEP_PASS, full, NULL, NULL);
	step(v, V_TCP, S2S_STEP_RUNNING, "", NULL, NULL);
	v->iaddr = 0;
	try_next_addr(v);
}

/* Resolves the address of the target being tried. */
static void try_target(struct sipgw_validation *v)
{
	const struct dns_srv *t = &v->targets[v->itarget];
	if (v->timer != NULL) {
		uint64_t now = uv_now(v->loop),
		         left = v->give_up_at > now ? v->give_up_at - now : 0;
		/* the last target has what is left of the whole check */
		bool more = v->itarget + 1 < v->ntargets;
		uv_timer_start(v->timer, timeout_cb,
		               more && left > VAL_TARGET_TIMEOUT_MS ? VAL_TARGET_TIMEOUT_MS : left,
		               0);
	}
	fg_strlcpy(v->host, t->target, sizeof(v->host));
	v->port = t->port;
	step(v, V_DNS, S2S_STEP_RUNNING, "", NULL, NULL);
	if (resolve_addr(v->resolver, v->host, addr_cb, v, &v->q) != FG_OK)
		fail(v, "the DNS query could not start", NULL, NULL);
}

/* One target: the next hop itself on port (no SRV). */
static void one_target(struct sipgw_validation *v, uint16_t port)
{
	memset(&v->targets[0], 0, sizeof(v->targets[0]));
	fg_strlcpy(v->targets[0].target, v->dc.rec.next_hop, sizeof(v->targets[0].target));
	v->targets[0].port = port;
	v->ntargets = 1;
	v->itarget = 0;
}

static void srv_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct sipgw_validation *v = ctx;
	v->q = NULL;
	if (ans->status == RESOLVE_OK && ans->n > 0 &&
	    !dns_srv_is_no_service(ans->records, ans->n)) {
		struct dns_srv recs[DNS_MAX_SRV];
		size_t n = ans->n < DNS_MAX_SRV ? ans->n : DNS_MAX_SRV;
		memcpy(recs, ans->records, n * sizeof(recs[0]));
		(void)dns_srv_order(recs, n, NULL, NULL);
		/* RFC 3263 §4.4: every target in RFC 2782 order, as the engine tries them */
		v->ntargets = n < SIPGW_MAX_TARGETS ? n : SIPGW_MAX_TARGETS;
		memcpy(v->targets, recs, v->ntargets * sizeof(recs[0]));
		v->itarget = 0;
		v->srv = true;
		/* the order the targets are checked in, as the engine tries them */
		char list[VAL_TEXT] = "";
		for (size_t i = 0; i < v->ntargets; i++) {
			size_t l = strlen(list);
			vfmt(list + l, sizeof(list) - l, "%s%s port %u (priority %u, weight %u)",
			     i ? ", " : "", v->targets[i].target, (unsigned)v->targets[i].port,
			     (unsigned)v->targets[i].priority, (unsigned)v->targets[i].weight);
		}
		step(v, V_SRV, S2S_STEP_PASS, list, NULL, ans->text);
	} else {
		one_target(v, sipgw__default_port(v->use_tls));
		char detail[VAL_TEXT];
		vfmt(detail, sizeof(detail),
		     "no SRV record (%s): the next hop itself on port %u (RFC 3263 §4.2)",
		     ans->text ? ans->text : resolve_status_name(ans->status),
		     (unsigned)v->targets[0].port);
		step(v, V_SRV, S2S_STEP_PASS, detail, NULL, NULL);
	}
	try_target(v);
}

enum fg_err sipgw_validate_start(struct sipgw_validation **out, uv_loop_t *loop, struct db *db,
                                 const char *sip_domain, s2s_step_cb step_cb, s2s_done_cb done_cb,
                                 void *ctx)
{
	*out = NULL;
	if (loop == NULL || db == NULL || sip_domain == NULL)
		return FG_ERR_INVAL;
	struct sipgw_validation *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return FG_ERR_NOMEM;
	enum fg_err err = sipgw__domain_load(db, sip_domain, &v->set, &v->dc);
	if (err != FG_OK) {
		free(v);
		return err;
	}
	v->loop = loop;
	v->step_cb = step_cb;
	v->done_cb = done_cb;
	v->ctx = ctx;
	v->use_tls = sipgw__domain_tls(&v->dc.rec);
	v->stream = sip_stream_new();
	fg_strlcpy(v->host, v->dc.rec.next_hop, sizeof(v->host));
	struct resolve_config rc = {.servers = v->set.dns_servers,
	                            .transparent_zones = v->set.dns_zones};
	if (v->stream == NULL || resolver_new(&v->resolver, loop, &rc) != FG_OK) {
		sip_stream_free(v->stream);
		sipgw__domain_conf_clear(&v->dc);
		free(v);
		return FG_ERR_NOMEM;
	}
	v->timer = malloc(sizeof(*v->timer));
	if (v->timer != NULL) {
		uv_timer_init(loop, v->timer);
		v->timer->data = v;
		uv_timer_start(v->timer, timeout_cb, VAL_TIMEOUT_MS, 0);
		v->give_up_at = uv_now(loop) + VAL_TIMEOUT_MS;
	}
	*out = v;
	if (v->dc.rec.next_hop_port != 0 || sipgw__is_ip_literal(v->host)) {
		one_target(v, v->dc.rec.next_hop_port ? v->dc.rec.next_hop_port
		                                      : sipgw__default_port(v->use_tls));
		try_target(v);
		return FG_OK;
	} else {
		char name[DB_DOMAIN_MAX + 16];
		vfmt(name, sizeof(name), "%s.%s", v->use_tls ? "_sips._tcp" : "_sip._tcp", v->host);
		step(v, V_SRV, S2S_STEP_RUNNING, "", NULL, NULL);
		err = resolve_srv(v->resolver, name, srv_cb, v, &v->q);
	}
	if (err != FG_OK)
		fail(v, "the DNS query could not start", NULL, NULL);
	return FG_OK;
}

void sipgw_validate_free(struct sipgw_validation *v)
{
	if (v == NULL)
		return;
	v->freed = true;
	release_io(v);
	resolver_free(v->resolver);
	sipgw__domain_conf_clear(&v->dc);
	free(v);
}
