/* s2s validate connection: DNS (RFC 6120 §3.2, XEP-0368), the records to publish, TCP,
 * stream features, TLS (RFC 6125 names), authentication and a XEP-0199 ping towards one
 * remote domain, step by step with plain-words fixes. */
#include "s2s/s2s_internal.h"

#include "status/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The whole validation: DNS, up to 4 TCP probes and a stream negotiation. */
#define V_TIMEOUT_MS 45000
/* A ping answer normally takes one round trip plus the peer's dialback back to us. */
#define V_PING_TIMEOUT_MS 15000
/* Outside the gateway the answer cannot arrive here; the wait only shows it was sent. */
#define V_PING_TIMEOUT_CLI_MS 8000
/* From the CLI the running gateway publishes the answer in the store: poll it. */
#define V_PONG_POLL_MS 250
/* TCP probes: one per SRV target, the first 4 targets. */
#define V_MAX_TCP 4u
/* Local domains whose published records are checked. */
#define V_MAX_PUBLISH 4u
#define V_TEXT        512u

enum vstep_id {
	V_XMPPS = 0,
	V_SRV,
	V_ADDR,
	V_PUBLISH,
	V_TCP,
	V_STREAM,
	V_TLS,
	V_AUTH,
	V_PING,
	V_N
};

static const char *const step_ids[V_N] = {"dns.xmpps", "dns.srv", "dns.addr", "publish", "tcp",
                                          "stream",    "tls",     "auth",     "ping"};

struct vstep {
	char title[160];
	enum s2s_step_state state;
	bool started, ended;
	char detail[V_TEXT];
	char fix[V_TEXT];
	char tech[V_TEXT];
};

struct vtcp {
	uv_tcp_t t;
	uv_connect_t req;
	struct s2s_validation *v;
};

struct s2s_validation {
	uv_loop_t *loop;
	struct db *db;
	struct s2s_engine *e;
	char remote[DB_DOMAIN_MAX];
	char local[DB_DOMAIN_MAX];
	s2s_step_cb step_cb;
	s2s_done_cb done_cb;
	void *ctx;
	struct vstep steps[V_N];
	struct resolve_query *q;
	uv_timer_t *timer;
	struct dns_srv xmpps[DNS_MAX_SRV], xmpp[DNS_MAX_SRV];
	size_t n_xmpps, n_xmpp;
	struct dns_candidate cands[S2S_MAX_CANDIDATES];
	size_t n_cands, cand_i;
	char first_addr[S2S_MAX_CANDIDATES][64];
	size_t n_with_addr;
	size_t pub_i;
	char pub_host[DB_DOMAIN_MAX];
	uint16_t pub_port;
	size_t tcp_i, tcp_ok;
	struct vtcp *tcp;
	bool connected;
	bool finished;
	int64_t ping_sent;
	int64_t ping_sent_wall;
	char ping_id[40];
};

static void next_phase(struct s2s_validation *v);

const char *s2s_step_state_name(enum s2s_step_state s)
{
	switch (s) {
	case S2S_STEP_RUNNING:
		return "running";
	case S2S_STEP_PASS:
		return "pass";
	case S2S_STEP_FAIL:
		return "fail";
	case S2S_STEP_SKIP:
		return "skip";
	case S2S_STEP_WARN:
		return "warn";
	}
	return "running";
}

static void emit(struct s2s_validation *v, enum vstep_id i)
{
	struct vstep *s = &v->steps[i];
	struct s2s_step out = {
	    .id = step_ids[i],
	    .title = s->title,
	    .state = s->state,
	    .detail = s->detail,
	    .fix = s->fix,
	    .tech = s->tech,
	};
	if (v->step_cb != NULL && !v->finished)
		v->step_cb(v->ctx, &out);
}

static void step_start(struct s2s_validation *v, enum vstep_id i)
{
	struct vstep *s = &v->steps[i];
	if (s->started)
		return;
	s->started = true;
	s->state = S2S_STEP_RUNNING;
	emit(v, i);
}

static void step_end(struct s2s_validation *v, enum vstep_id i, enum s2s_step_state st,
                     const char *detail, const char *fix, const char *tech)
{
	struct vstep *s = &v->steps[i];
	if (s->ended)
		return;
	if (!s->started) {
		s->started = true;
		s->state = S2S_STEP_RUNNING;
		emit(v, i);
	}
	s->ended = true;
	s->state = st;
	if (detail != NULL)
		fg_strlcpy(s->detail, detail, sizeof(s->detail));
	if (fix != NULL)
		fg_strlcpy(s->fix, fix, sizeof(s->fix));
	if (tech != NULL)
		fg_strlcpy(s->tech, tech, sizeof(s->tech));
	emit(v, i);
}

static void vtcp_closed(uv_handle_t *h)
{
	free(h->data);
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Ends the run: remaining steps are skipped, the private engine stops, done_cb once. */
static void finish(struct s2s_validation *v)
{
	if (v->finished)
		return;
	for (int i = 0; i < V_N; i++) {
		if (!v->steps[i].ended)
			step_end(v, (enum vstep_id)i, S2S_STEP_SKIP,
			         v->steps[i].detail[0] ? NULL : "not run (an earlier step failed)",
			         "", NULL);
	}
	bool ok = true;
	for (int i = 0; i < V_N; i++) {
		if (v->steps[i].state == S2S_STEP_FAIL)
			ok = false;
	}
	v->finished = true;
	if (v->q != NULL) {
		resolve_cancel(v->q);
		v->q = NULL;
	}
	s2s__pong_forget(v);
	if (v->tcp != NULL) {
		v->tcp->v = NULL;
		uv_close((uv_handle_t *)&v->tcp->t, vtcp_closed);
		v->tcp = NULL;
	}
	if (v->timer != NULL)
		uv_timer_stop(v->timer);
	struct s2s_engine *e = v->e;
	v->e = NULL;
	if (e != NULL)
		s2s_engine_stop(e);
	if (v->done_cb != NULL)
		v->done_cb(v->ctx, ok);
}

static void fail_now(struct s2s_validation *v, enum vstep_id i, const char *detail, const char *fix,
                     const char *tech)
{
	step_end(v, i, S2S_STEP_FAIL, detail, fix, tech);
	finish(v);
}

/* ---- DNS ---------------------------------------------------------------------------------- */

static void srv_text(const struct dns_srv *r, size_t n, const char *name, char *out, size_t size)
{
	out[0] = '\0';
	for (size_t i = 0; i < n && strlen(out) + 8 < size; i++)
		s2s__fmt(out + strlen(out), size - strlen(out), "%s%s SRV %u %u %u %s.",
		         i ? "; " : "", name, r[i].priority, r[i].weight, r[i].port, r[i].target);
}

static void srv_xmpp_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct s2s_validation *v = ctx;
	char name[DB_DOMAIN_MAX + 32], text[V_TEXT];
	v->q = NULL;
	s2s__fmt(name, sizeof(name), "_xmpp-server._tcp.%s", v->remote);
	if (ans->status == RESOLVE_OK) {
		for (size_t i = 0; i < ans->n && v->n_xmpp < DNS_MAX_SRV; i++)
			v->xmpp[v->n_xmpp++] = ans->records[i];
		srv_text(v->xmpp, v->n_xmpp, name, text, sizeof(text));
		if (dns_srv_is_no_service(v->xmpp, v->n_xmpp))
			step_end(v, V_SRV, S2S_STEP_FAIL,
			         "The domain publishes that it offers no XMPP federation (target "
			         "\".\").",
			         "Ask the domain's administrator whether it federates at all.",
			         text);
		else
			step_end(v, V_SRV, S2S_STEP_PASS, text, "", ans->text);
	} else if (ans->status == RESOLVE_NXDOMAIN || ans->status == RESOLVE_NODATA) {
		s2s__fmt(
		    text, sizeof(text),
		    "No SRV record %s: servers fall back to %s on port 5269 (RFC 6120 §3.2.2).",
		    name, v->remote);
		step_end(v, V_SRV, S2S_STEP_WARN, text,
		         "Ask the domain's administrator to publish _xmpp-server._tcp SRV records.",
		         ans->text);
	} else {
		s2s__fmt(text, sizeof(text), "The lookup of %s failed: %s", name,
		         ans->text ? ans->text : resolve_status_name(ans->status));
		fail_now(
		    v, V_SRV, text,
		    "Check the DNS servers in the XMPP settings (xmpp.dns_servers) and that they "
		    "answer; if they do, the domain's DNS is broken: tell its administrator.",
		    resolve_status_name(ans->status));
		return;
	}
	if (v->steps[V_SRV].state == S2S_STEP_FAIL) {
		finish(v);
		return;
	}
	next_phase(v);
}

static void srv_xmpps_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct s2s_validation *v = ctx;
	char name[DB_DOMAIN_MAX + 32], text[V_TEXT];
	v->q = NULL;
	s2s__fmt(name, sizeof(name), "_xmpps-server._tcp.%s", v->remote);
	if (ans->status == RESOLVE_OK) {
		for (size_t i = 0; i < ans->n && v->n_xmpps < DNS_MAX_SRV; i++)
			v->xmpps[v->n_xmpps++] = ans->records[i];
		srv_text(v->xmpps, v->n_xmpps, name, text, sizeof(text));
		step_end(v, V_XMPPS, S2S_STEP_PASS, text, "", ans->text);
	} else if (ans->status == RESOLVE_NXDOMAIN || ans->status == RESOLVE_NODATA) {
		s2s__fmt(
		    text, sizeof(text),
		    "No %s record: the domain offers no direct TLS (XEP-0368); STARTTLS is used.",
		    name);
		step_end(v, V_XMPPS, S2S_STEP_PASS, text, "", ans->text);
	} else {
		s2s__fmt(text, sizeof(text), "The lookup of %s failed: %s", name,
		         ans->text ? ans->text : resolve_status_name(ans->status));
		step_end(v, V_XMPPS, S2S_STEP_WARN, text,
		         "Check the DNS servers in the XMPP settings (xmpp.dns_servers).",
		         resolve_status_name(ans->status));
	}
	next_phase(v);
}

static void addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct s2s_validation *v = ctx;
	v->q = NULL;
	struct vstep *s = &v->steps[V_ADDR];
	const struct dns_candidate *c = &v->cands[v->cand_i];
	size_t len = strlen(s->detail);
	if (ans->status == RESOLVE_OK && ans->n > 0) {
		fg_strlcpy(v->first_addr[v->cand_i], ans->addrs[0], sizeof(v->first_addr[0]));
		v->n_with_addr++;
		s2s__fmt(s->detail + len, sizeof(s->detail) - len, "%s%s ->", len ? "; " : "",
		         c->host);
		for (size_t i = 0; i < ans->n && i < 4; i++) {
			len = strlen(s->detail);
			s2s__fmt(s->detail + len, sizeof(s->detail) - len, " %s", ans->addrs[i]);
		}
	} else {
		s2s__fmt(s->detail + len, sizeof(s->detail) - len, "%s%s: no address (%s)",
		         len ? "; " : "", c->host,
		         ans->text ? ans->text : resolve_status_name(ans->status));
	}
	v->cand_i++;
	next_phase(v);
}

/* ---- published records of our own domains -------------------------------------------------- */

static bool addr_is_ours(const struct s2s_conf *conf, const char *addr)
{
	for (size_t i = 0; i < conf->n_binds; i++) {
		if (strcmp(conf->binds[i], addr) == 0)
			return true;
		if (strcmp(conf->binds[i], "0.0.0.0") == 0 || strcmp(conf->binds[i], "::") == 0) {
			uv_interface_address_t *ifs = NULL;
			int n = 0;
			bool found = false;
			if (uv_interface_addresses(&ifs, &n) != 0)
				continue;
			for (int k = 0; k < n && !found; k++) {
				char name[64] = "";
				if (ifs[k].address.address4.sin_family == AF_INET)
					uv_ip4_name(&ifs[k].address.address4, name, sizeof(name));
				else
					uv_ip6_name(&ifs[k].address.address6, name, sizeof(name));
				found = strcmp(name, addr) == 0;
			}
			uv_free_interface_addresses(ifs, n);
			if (found)
				return true;
		}
	}
	return false;
}

static void publish_note(struct s2s_validation *v, bool good, const char *piece)
{
	struct vstep *s = &v->steps[V_PUBLISH];
	size_t len = strlen(s->detail);
	s2s__fmt(s->detail + len, sizeof(s->detail) - len, "%s%s", len ? " " : "", piece);
	if (!good) {
		s->state = S2S_STEP_WARN;
		const struct s2s_conf *conf = s2s__engine_conf(v->e);
		char host[256] = "this-gateway.example";
		size_t hl = sizeof(host);
		(void)uv_os_gethostname(host, &hl);
		len = strlen(s->fix);
		s2s__fmt(
		    s->fix + len, sizeof(s->fix) - len,
		    "%sPublish _xmpp-server._tcp.%s. SRV 0 5 %u %s. and an A/AAAA record of %s "
		    "with this gateway's address.",
		    len ? " " : "", v->steps[V_PUBLISH].tech, conf->port, host, host);
	}
}

static void pub_addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct s2s_validation *v = ctx;
	v->q = NULL;
	const struct s2s_conf *conf = s2s__engine_conf(v->e);
	const char *dom = conf->domains[v->pub_i];
	bool ours = false;
	for (size_t i = 0; ans->status == RESOLVE_OK && i < ans->n; i++)
		ours = ours || addr_is_ours(conf, ans->addrs[i]);
	fg_strlcpy(v->steps[V_PUBLISH].tech, dom, sizeof(v->steps[V_PUBLISH].tech));
	if (ans->status != RESOLVE_OK) {
		char piece[V_TEXT];
		s2s__fmt(piece, sizeof(piece), "%s: the SRV target %s has no address.", dom,
		         v->pub_host);
		publish_note(v, false, piece);
	} else if (!ours || v->pub_port != conf->port) {
		char piece[V_TEXT];
		s2s__fmt(piece, sizeof(piece),
		         "%s: the SRV record points to %s, not to this gateway's listener.", dom,
		         v->pub_host);
		publish_note(v, false, piece);
	} else {
		char piece[V_TEXT];
		s2s__fmt(piece, sizeof(piece), "%s: published, points to this gateway (%s).", dom,
		         v->pub_host);
		publish_note(v, true, piece);
	}
	v->pub_i++;
	next_phase(v);
}

static void pub_srv_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct s2s_validation *v = ctx;
	v->q = NULL;
	const struct s2s_conf *conf = s2s__engine_conf(v->e);
	const char *dom = conf->domains[v->pub_i];
	fg_strlcpy(v->steps[V_PUBLISH].tech, dom, sizeof(v->steps[V_PUBLISH].tech));
	if (ans->status == RESOLVE_OK && ans->n > 0 &&
	    !dns_srv_is_no_service(ans->records, ans->n)) {
		fg_strlcpy(v->pub_host, ans->records[0].target, sizeof(v->pub_host));
		v->pub_port = ans->records[0].port;
		if (resolve_addr(s2s__engine_resolver(v->e), v->pub_host, pub_addr_cb, v, &v->q) ==
		    FG_OK)
			return;
	}
	{
		char piece[V_TEXT];
		s2s__fmt(piece, sizeof(piece),
		         "%s: no _xmpp-server._tcp SRV record is published%s.", dom,
		         ans->status == RESOLVE_OK ? "" : " (peers cannot find this gateway)");
		publish_note(v, false, piece);
	}
	v->pub_i++;
	next_phase(v);
}

/* ---- TCP probes -------------------------------------------------------------------------------
 */

static void tcp_done(struct s2s_validation *v, const char *result)
{
	struct vstep *s = &v->steps[V_TCP];
	size_t len = strlen(s->detail);
	s2s__fmt(s->detail + len, sizeof(s->detail) - len, "%s%s port %u: %s", len ? "; " : "",
	         v->first_addr[v->tcp_i], v->cands[v->tcp_i].port, result);
	if (v->tcp != NULL) {
		v->tcp->v = NULL;
		uv_close((uv_handle_t *)&v->tcp->t, vtcp_closed);
		v->tcp = NULL;
	}
	uv_timer_stop(v->timer);
	v->tcp_i++;
	next_phase(v);
}

static void tcp_connect_cb(uv_connect_t *req, int status)
{
	struct vtcp *t = req->data;
	struct s2s_validation *v = t->v;
	if (v == NULL || status == UV_ECANCELED)
		return;
	if (status == 0)
		v->tcp_ok++;
	tcp_done(v, status == 0                 ? "open"
	            : status == UV_ECONNREFUSED ? "refused"
	                                        : uv_strerror(status));
}

static void tcp_probe(struct s2s_validation *v);

/* Did the running gateway publish the answer to our ping (status "xmpp-pong:<id>")? */
static bool pong_in_store(struct s2s_validation *v, int64_t *at, bool *error)
{
	struct db_txn *txn = NULL;
	struct db_status *st = NULL;
	size_t n = 0;
	bool found = false;
	char id[STATUS_ID_MAX];
	s2s__fmt(id, sizeof(id), "xmpp-pong:%s", v->ping_id);
	if (db_txn_begin(v->db, &txn) != FG_OK)
		return false;
	if (db_status_list(txn, &st, &n) == FG_OK) {
		for (size_t i = 0; i < n && !found; i++) {
			if (strcmp(st[i].id, id) != 0)
				continue;
			found = true;
			*at = st[i].since_ms;
			*error = strcmp(st[i].state, "error") == 0;
		}
		db_status_list_free(st, n);
	}
	db_txn_end(txn);
	return found;
}

static void timer_cb(uv_timer_t *h)
{
	struct s2s_validation *v = h->data;
	if (v->tcp != NULL) {
		tcp_done(v, "timed out");
		return;
	}
	if (v->ping_sent != 0 && v->steps[V_AUTH].ended && !s2s__engine_serving()) {
		int64_t at = 0;
		bool error = false;
		if (pong_in_store(v, &at, &error)) {
			char text[V_TEXT];
			s2s__fmt(
			    text, sizeof(text),
			    "%s answered the ping in %lld ms%s (the running gateway received the "
			    "answer).",
			    v->remote,
			    (long long)(at > v->ping_sent_wall ? at - v->ping_sent_wall : 0),
			    error ? " (with an error, but it answered)" : "");
			step_end(v, V_PING, S2S_STEP_PASS, text, "", v->ping_id);
			finish(v);
			return;
		}
		if ((int64_t)uv_now(v->loop) - v->ping_sent < V_PING_TIMEOUT_CLI_MS) {
			uv_timer_start(v->timer, timer_cb, V_PONG_POLL_MS, 0);
			return;
		}
	}
	if (v->ping_sent != 0 && v->steps[V_AUTH].ended) {
		step_end(
		    v, V_PING, S2S_STEP_WARN,
		    s2s__engine_serving()
		        ? "No answer to the XEP-0199 ping in time."
		        : "No answer to the XEP-0199 ping reached the running gateway in time (the "
		          "peer answers through its own connection to this gateway's domain).",
		    "Check that the gateway is running and reachable from the peer on the "
		    "published SRV target and port.",
		    v->ping_id);
		finish(v);
		return;
	}
	for (int i = V_STREAM; i <= V_AUTH; i++) {
		if (!v->steps[i].ended) {
			fail_now(
			    v, (enum vstep_id)i, "The step did not finish in time.",
			    "Check that the peer's server answers (it accepts TCP but does not "
			    "complete the stream) and the firewall in between.",
			    "timeout");
			return;
		}
	}
	finish(v);
}

static void tcp_probe(struct s2s_validation *v)
{
	while (v->tcp_i < v->n_cands && v->tcp_i < V_MAX_TCP && v->first_addr[v->tcp_i][0] == '\0')
		v->tcp_i++;
	if (v->tcp_i >= v->n_cands || v->tcp_i >= V_MAX_TCP) {
		next_phase(v);
		return;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	const char *a = v->first_addr[v->tcp_i];
	uint16_t port = v->cands[v->tcp_i].port;
	int err = strchr(a, ':') ? uv_ip6_addr(a, port, (struct sockaddr_in6 *)&ss)
	                         : uv_ip4_addr(a, port, (struct sockaddr_in *)&ss);
	struct vtcp *t = err == 0 ? calloc(1, sizeof(*t)) : NULL;
	if (t == NULL) {
		tcp_done(v, "cannot connect");
		return;
	}
	uv_tcp_init(v->loop, &t->t);
	t->t.data = t;
	t->req.data = t;
	t->v = v;
	v->tcp = t;
	err = uv_tcp_connect(&t->req, &t->t, (const struct sockaddr *)&ss, tcp_connect_cb);
	if (err != 0) {
		tcp_done(v, uv_strerror(err));
		return;
	}
	uv_timer_start(v->timer, timer_cb, (uint64_t)s2s__engine_conf(v->e)->connect_timeout_ms, 0);
}

/* ---- the phases ----------------------------------------------------------------------------- */

static void candidates(struct s2s_validation *v)
{
	const struct s2s_conf *conf = s2s__engine_conf(v->e);
	const struct db_allow_entry *a = s2s__conf_allow(conf, v->remote);
	if (a != NULL && a->server[0] != '\0') {
		fg_strlcpy(v->cands[0].host, a->server, sizeof(v->cands[0].host));
		v->cands[0].port = a->port ? a->port : DNS_XMPP_SERVER_PORT;
		v->n_cands = 1;
		return;
	}
	struct dns_xmpp_records rec = {
	    .domain = v->remote,
	    .xmpps = v->xmpps,
	    .n_xmpps = v->n_xmpps,
	    .xmpp = v->xmpp,
	    .n_xmpp = v->n_xmpp,
	    .allow_direct_tls = conf->xcfg.tls_mode != XMPP_TLS_OFF,
	};
	enum dns_xmpp_result res;
	if (dns_xmpp_candidates(&rec, NULL, NULL, v->cands, S2S_MAX_CANDIDATES, &v->n_cands,
	                        &res) != FG_OK)
		v->n_cands = 0;
}

static void ping_sent_cb(void *ctx, enum xmpp_stanza_cond result, const char *text)
{
	struct s2s_validation *v = ctx;
	char detail[V_TEXT];
	if (v->finished || result == XMPP_SC__COUNT)
		return;
	s2s__pong_forget(v);
	if (result == XMPP_SC_POLICY_VIOLATION)
		s2s__fmt(detail, sizeof(detail),
		         "The policy denies stanzas to %s, so the ping was not sent (%s).",
		         v->remote, text);
	else
		s2s__fmt(detail, sizeof(detail), "The ping could not be sent: %s (%s).",
		         xmpp_stanza_cond_name(result), text);
	fail_now(
	    v, V_PING, detail,
	    result == XMPP_SC_POLICY_VIOLATION
	        ? "Add a policy exception allowing that domain (outgoing) if it should federate."
	        : "",
	    xmpp_stanza_cond_name(result));
}

static void send_ping(struct s2s_validation *v)
{
	uint8_t raw[8];
	char hex[17];
	fg_random(raw, sizeof(raw));
	fg_hex(hex, raw, sizeof(raw));
	s2s__fmt(v->ping_id, sizeof(v->ping_id), "%s%s", S2S_PING_ID_PREFIX, hex);
	char iq[3 * DB_DOMAIN_MAX + 128];
	s2s__fmt(iq, sizeof(iq),
	         "<iq type='get' id='%s' from='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
	         v->ping_id, v->local, v->remote);
	step_start(v, V_PING);
	v->ping_sent = (int64_t)uv_now(v->loop);
	v->ping_sent_wall = fg_now_ms();
	if (s2s_send(v->e, (const uint8_t *)iq, strlen(iq), ping_sent_cb, v) != FG_OK) {
		fail_now(v, V_PING, "The ping could not be sent.", "", NULL);
		return;
	}
	/* after the send: a bounce made inside s2s_send is not the peer's answer */
	s2s__pong_expect(v, v->ping_id);
	/* outside the gateway (the CLI) the answer reaches the running daemon, which
	 * publishes it in the store */
	if (s2s__engine_serving())
		uv_timer_start(v->timer, timer_cb, V_PING_TIMEOUT_MS, 0);
	else
		uv_timer_start(v->timer, timer_cb, V_PONG_POLL_MS, 0);
}

static void next_phase(struct s2s_validation *v)
{
	if (v->finished)
		return;
	const struct s2s_conf *conf = s2s__engine_conf(v->e);
	char name[DB_DOMAIN_MAX + 32];
	if (!v->steps[V_XMPPS].ended) {
		if (conf->xcfg.tls_mode == XMPP_TLS_OFF) {
			step_end(v, V_XMPPS, S2S_STEP_SKIP, "TLS is off: direct TLS is not used.",
			         "", NULL);
		} else {
			step_start(v, V_XMPPS);
			s2s__fmt(name, sizeof(name), "_xmpps-server._tcp.%s", v->remote);
			if (resolve_srv(s2s__engine_resolver(v->e), name, srv_xmpps_cb, v, &v->q) !=
			    FG_OK)
				fail_now(v, V_XMPPS, "The resolver refused the lookup.", "", NULL);
			return;
		}
	}
	if (!v->steps[V_SRV].ended) {
		step_start(v, V_SRV);
		s2s__fmt(name, sizeof(name), "_xmpp-server._tcp.%s", v->remote);
		if (resolve_srv(s2s__engine_resolver(v->e), name, srv_xmpp_cb, v, &v->q) != FG_OK)
			fail_now(v, V_SRV, "The resolver refused the lookup.", "", NULL);
		return;
	}
	if (!v->steps[V_ADDR].ended) {
		if (!v->steps[V_ADDR].started) {
			step_start(v, V_ADDR);
			candidates(v);
			v->cand_i = 0;
		}
		/* a target listed for both services is looked up once */
		while (v->cand_i < v->n_cands) {
			size_t k;
			for (k = 0; k < v->cand_i; k++) {
				if (strcasecmp(v->cands[k].host, v->cands[v->cand_i].host) == 0)
					break;
			}
			if (k == v->cand_i)
				break;
			fg_strlcpy(v->first_addr[v->cand_i], v->first_addr[k],
			           sizeof(v->first_addr[0]));
			if (v->first_addr[k][0] != '\0')
				v->n_with_addr++;
			v->cand_i++;
		}
		if (v->cand_i < v->n_cands) {
			if (resolve_addr(s2s__engine_resolver(v->e), v->cands[v->cand_i].host,
			                 addr_cb, v, &v->q) != FG_OK)
				fail_now(v, V_ADDR, "The resolver refused the lookup.", "", NULL);
			return;
		}
		if (v->n_with_addr == 0) {
			fail_now(
			    v, V_ADDR, NULL,
			    "Ask the domain's administrator to publish A/AAAA records for its "
			    "XMPP server, or set a static route (server and port) in the allow "
			    "list.",
			    NULL);
			return;
		}
		step_end(v, V_ADDR, v->n_with_addr == v->n_cands ? S2S_STEP_PASS : S2S_STEP_WARN,
		         NULL, v->n_with_addr == v->n_cands ? "" : "Some targets have no address.",
		         NULL);
	}
	if (!v->steps[V_PUBLISH].ended) {
		step_start(v, V_PUBLISH);
		if (conf->n_domains == 0) {
			step_end(
			    v, V_PUBLISH, S2S_STEP_FAIL,
			    "This gateway has no XMPP domain: peers have nothing to federate with.",
			    "Add the gateway's XMPP domain (XMPP screen, or fedgw xmpp domain "
			    "add).",
			    NULL);
		} else if (v->pub_i < conf->n_domains && v->pub_i < V_MAX_PUBLISH) {
			if (v->steps[V_PUBLISH].state == S2S_STEP_RUNNING && v->pub_i == 0)
				v->steps[V_PUBLISH].state = S2S_STEP_PASS;
			s2s__fmt(name, sizeof(name), "_xmpp-server._tcp.%s",
			         conf->domains[v->pub_i]);
			if (resolve_srv(s2s__engine_resolver(v->e), name, pub_srv_cb, v, &v->q) ==
			    FG_OK)
				return;
			v->pub_i = conf->n_domains;
		}
		if (!v->steps[V_PUBLISH].ended) {
			struct vstep *s = &v->steps[V_PUBLISH];
			enum s2s_step_state st =
			    s->state == S2S_STEP_RUNNING ? S2S_STEP_PASS : s->state;
			s->tech[0] = '\0';
			step_end(v, V_PUBLISH, st, NULL, NULL, NULL);
		}
	}
	if (!v->steps[V_TCP].ended) {
		if (!v->steps[V_TCP].started) {
			step_start(v, V_TCP);
			v->tcp_i = 0;
		}
		if (v->tcp_i < v->n_cands && v->tcp_i < V_MAX_TCP) {
			tcp_probe(v);
			return;
		}
		if (v->tcp_ok == 0) {
			fail_now(
			    v, V_TCP, NULL,
			    "Check that the peer's server is running and that firewalls let TCP "
			    "through from this gateway to the SRV target's port (usually 5269).",
			    NULL);
			return;
		}
		step_end(v, V_TCP, S2S_STEP_PASS, NULL, "", NULL);
	}
	if (!v->steps[V_STREAM].started) {
		step_start(v, V_STREAM);
		if (v->local[0] == '\0') {
			fail_now(v, V_STREAM,
			         "This gateway has no XMPP domain to open a stream from.",
			         "Add the gateway's XMPP domain first.", NULL);
			return;
		}
		uv_timer_start(v->timer, timer_cb, V_TIMEOUT_MS, 0);
		if (s2s__engine_open(v->e, v->local, v->remote) != FG_OK && !v->finished)
			fail_now(v, V_STREAM, "The stream could not be opened.", "", NULL);
	}
}

/* ---- events from the private engine --------------------------------------------------------- */

void s2s__validation_event(struct s2s_validation *v, enum s2s_vev ev, const struct s2s_vinfo *in)
{
	char text[V_TEXT], when[32];
	if (v == NULL || v->finished)
		return;
	const struct s2s_conf *conf = s2s__engine_conf(v->e);
	switch (ev) {
	case S2S_VEV_CONNECTED:
		v->connected = true;
		s2s__fmt(v->steps[V_STREAM].tech, sizeof(v->steps[V_STREAM].tech), "%s", in->addr);
		if (in->direct_tls)
			step_start(v, V_TLS);
		break;
	case S2S_VEV_CONNECT_FAILED:
		break;
	case S2S_VEV_FEATURES:
		if (!v->steps[V_STREAM].ended) {
			s2s__fmt(text, sizeof(text), "Stream opened with %s; features offered: %s.",
			         v->steps[V_STREAM].tech, in->text);
			step_end(v, V_STREAM, S2S_STEP_PASS, text, "", NULL);
			if (conf->xcfg.tls_mode == XMPP_TLS_OFF)
				step_end(v, V_TLS, S2S_STEP_SKIP,
				         "TLS is off in the XMPP settings.", "", NULL);
			else if (strstr(in->text, "STARTTLS") != NULL)
				step_start(v, V_TLS);
			else if (!v->steps[V_TLS].started)
				step_end(v, V_TLS,
				         conf->xcfg.tls_mode == XMPP_TLS_REQUIRED ? S2S_STEP_FAIL
				                                                  : S2S_STEP_WARN,
				         "The peer does not offer STARTTLS.",
				         "Ask the peer's administrator to enable TLS, or set TLS "
				         "optional "
				         "for that domain in the allow list.",
				         NULL);
			step_start(v, V_AUTH);
		}
		break;
	case S2S_VEV_TLS_UP: {
		fg_format_utc(when, sizeof(when), in->not_after_ms);
		bool expired = in->not_after_ms != 0 && in->not_after_ms < fg_now_ms();
		bool named = in->name_match != NULL && in->name_match[0] != '\0';
		s2s__fmt(
		    text, sizeof(text),
		    "%s %s; certificate \"%s\" issued by \"%s\", valid until %s UTC; chain %s; "
		    "name %s.",
		    in->tls_version, in->tls_suite, in->subject, in->issuer, when,
		    in->chain_ok ? "trusted" : "not checked", named ? in->name_match : "no match");
		step_end(v, V_TLS, named && !expired ? S2S_STEP_PASS : S2S_STEP_FAIL, text,
		         named ? (expired ? "The peer's certificate has expired: its administrator "
		                            "must renew it."
		                          : "")
		               : "The certificate does not name the domain: the peer needs a "
		                 "certificate with the domain as DNS name or SRV name.",
		         in->text);
		break;
	}
	case S2S_VEV_TLS_FAILED:
		step_end(
		    v, V_TLS, S2S_STEP_FAIL, in->text,
		    "Upload the CA bundle that signs the peer's certificate (Certificates screen) "
		    "or check the certificate's name and dates; TLS 1.2 is required.",
		    NULL);
		break;
	case S2S_VEV_AUTH:
		s2s__fmt(text, sizeof(text), "Authenticated %s -> %s with %s.", v->local, v->remote,
		         s2s__auth_name(in->method));
		step_end(v, V_AUTH, S2S_STEP_PASS, text, "", NULL);
		if (!v->steps[V_TLS].ended)
			step_end(v, V_TLS, S2S_STEP_SKIP, "TLS was not used.", "", NULL);
		send_ping(v);
		break;
	case S2S_VEV_CLOSED: {
		enum vstep_id at = !v->connected                                       ? V_STREAM
		                   : !v->steps[V_STREAM].ended                         ? V_STREAM
		                   : !v->steps[V_TLS].ended && v->steps[V_TLS].started ? V_TLS
		                   : !v->steps[V_AUTH].ended                           ? V_AUTH
		                                                                       : V_PING;
		if (at == V_PING && v->steps[V_PING].ended)
			break;
		if (at == V_PING)
			break; /* the stream may close after authenticating; the timer decides */
		s2s__fmt(text, sizeof(text), "The stream ended: %s", in->text);
		fail_now(
		    v, at, text,
		    at == V_AUTH
		        ? "Dialback needs the peer to reach this gateway back: publish the "
		          "_xmpp-server._tcp SRV record of this gateway's domain, open TCP "
		          "5269 to it and keep the gateway running; for SASL EXTERNAL the peer "
		          "must trust this gateway's certificate."
		        : "Check the peer's server and the settings of both sides.",
		    NULL);
		break;
	}
	case S2S_VEV_PONG: {
		int64_t rtt = (int64_t)uv_now(v->loop) - v->ping_sent;
		s2s__fmt(text, sizeof(text), "%s answered the ping in %lld ms%s.", v->remote,
		         (long long)rtt, in->text[0] ? " (with an error, but it answered)" : "");
		step_end(v, V_PING, S2S_STEP_PASS, text, "", in->id);
		finish(v);
		break;
	}
	}
}

enum fg_err s2s_validate_start(struct s2s_validation **out, uv_loop_t *loop, struct db *db,
                               const char *remote_domain, s2s_step_cb step_cb, s2s_done_cb done_cb,
                               void *ctx)
{
	*out = NULL;
	char dom[XMPP_MAX_DOMAIN + 1];
	if (loop == NULL || db == NULL || remote_domain == NULL ||
	    !xmpp_jid_domain(remote_domain, dom, sizeof(dom)) || strlen(dom) >= DB_DOMAIN_MAX ||
	    strcmp(dom, remote_domain) != 0)
		return FG_ERR_INVAL;
	struct s2s_validation *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return FG_ERR_NOMEM;
	v->loop = loop;
	v->db = db;
	fg_strlcpy(v->remote, dom, sizeof(v->remote));
	v->step_cb = step_cb;
	v->done_cb = done_cb;
	v->ctx = ctx;
	v->timer = malloc(sizeof(*v->timer));
	enum fg_err err = v->timer ? s2s__engine_private(&v->e, loop, db, v) : FG_ERR_NOMEM;
	if (err != FG_OK) {
		free(v->timer);
		free(v);
		return err;
	}
	uv_timer_init(loop, v->timer);
	v->timer->data = v;
	const struct s2s_conf *conf = s2s__engine_conf(v->e);
	if (conf->n_domains > 0)
		fg_strlcpy(v->local, conf->domains[0], sizeof(v->local));
	static const char *const title_pre[V_N] = {
	    "DNS SRV _xmpps-server._tcp.",
	    "DNS SRV _xmpp-server._tcp.",
	    "Addresses of the servers of ",
	    "Records this gateway must publish for federation with ",
	    "TCP to the servers of ",
	    "XMPP stream to ",
	    "TLS with ",
	    "Authentication with ",
	    "XEP-0199 ping to "};
	for (int i = 0; i < V_N; i++)
		s2s__fmt(v->steps[i].title, sizeof(v->steps[i].title), "%s%s%s", title_pre[i],
		         v->remote, i == V_XMPPS ? " (direct TLS)" : "");
	if (s2s__engine_resolver(v->e) == NULL) {
		step_end(v, V_XMPPS, S2S_STEP_FAIL, "The DNS resolver could not start.",
		         "Check the DNS servers setting (xmpp.dns_servers).", NULL);
		*out = v;
		finish(v);
		return FG_OK;
	}
	*out = v;
	next_phase(v);
	return FG_OK;
}

void s2s_validate_free(struct s2s_validation *v)
{
	if (v == NULL)
		return;
	v->step_cb = NULL;
	v->done_cb = NULL;
	finish(v);
	uv_close((uv_handle_t *)v->timer, timer_closed);
	free(v);
}
