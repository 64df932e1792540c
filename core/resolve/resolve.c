/* resolve: asynchronous DNS on the libuv loop with libunbound: SRV (RFC 2782), A and AAAA
 * (RFC 3596), forwarding only to the configured servers (never recursion from the root). */
#include "resolve_internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

/*
 * Threads, not a forked process: libunbound's default asynchronous mode forks a copy of the
 * whole gateway (its memory holds private keys and the dialback secret) and talks to it over
 * pipes; with ub_ctx_async(ctx, 1) it runs one resolver thread inside the process instead.
 * Either way answers are read from ub_fd() and delivered by ub_process(), which this file
 * calls from a uv_poll callback, so every user callback runs on the loop thread.
 */

/* Servers in the setting: real sites give one to three. */
#define RESOLVE_SERVERS_MAX 8u
/* Transparent zones in the setting: tests use one ("test"). */
#define RESOLVE_ZONES_MAX 16u
/* Queries in flight per resolver: each remote domain needs four at most; this bounds the
 * memory a flood of outbound stanzas to many new domains can hold. */
#define RESOLVE_QUERIES_MAX 4096u
/* Timeout bounds: 0 means the default; a minute is longer than any useful wait. */
#define RESOLVE_TIMEOUT_DEFAULT_MS 5000
#define RESOLVE_TIMEOUT_MAX_MS     60000
/* RFC 1035 §2.3.4: 253 octets in presentation form, without the trailing dot. */
#define RESOLVE_NAME_MAX 253u
/* "addr@port" text of one server. */
#define RESOLVE_SERVER_TEXT_MAX 64u
#define RESOLVE_TEXT_MAX        512u
/* The servers as named in answer texts; a long list is cut (the setting has them all). */
#define RESOLVE_FROM_MAX 160u

#define RR_TYPE_A      1
#define RR_TYPE_AAAA   28
#define RR_TYPE_SRV    33
#define RR_CLASS_IN    1
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED  5

enum query_kind { QUERY_SRV, QUERY_ADDR };

/* One address family's part of an A+AAAA lookup. */
struct family_part {
	int ub_id;
	bool pending;
	bool answered;
	enum resolve_status status;
	int rcode;
	char why[RESOLVE_TEXT_MAX];
	char addrs[RESOLVE_MAX_ADDRS][INET6_ADDRSTRLEN];
	size_t n;
};

struct resolve_query {
	struct resolver *r;
	struct resolve_query *prev, *next;
	enum query_kind kind;
	resolve_srv_cb srv_cb;
	resolve_addr_cb addr_cb;
	void *ctx;
	char name[RESOLVE_NAME_MAX + 2];
	uv_timer_t timer;
	bool literal;    /* an IP literal: answered by the timer at once */
	bool delivering; /* inside the user callback: cancel is a no-op */
	bool released;   /* unlinked and closing (freed by the timer's close callback) */
	/* SRV: parts[0]; ADDR: parts[0] = AAAA, parts[1] = A. */
	struct family_part parts[2];
	struct dns_srv *srv; /* decoded SRV records (SRV queries) */
	size_t n_srv;
};

struct resolver {
	uv_loop_t *loop;
	struct ub_ctx *ub;
	uv_poll_t poll;
	bool polling;
	bool in_process;   /* inside ub_process: deleting the context must wait */
	bool free_pending; /* resolver_free was called from a callback inside ub_process */
	size_t ub_outstanding;
	size_t n_queries;
	int64_t timeout_ms;
	char from[RESOLVE_FROM_MAX]; /* "127.0.0.1@5353, ::1@53" for answer texts */
	struct resolve_query *queries;
};

/* Answer texts are for people: a name or server list cut short is acceptable there. */
static void text_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void text_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

const char *resolve_status_name(enum resolve_status s)
{
	switch (s) {
	case RESOLVE_OK:
		return "OK";
	case RESOLVE_NODATA:
		return "NODATA";
	case RESOLVE_NXDOMAIN:
		return "NXDOMAIN";
	case RESOLVE_SERVFAIL:
		return "SERVFAIL";
	case RESOLVE_TIMEOUT:
		return "TIMEOUT";
	case RESOLVE_ERROR:
		return "ERROR";
	}
	return "?";
}

static bool is_loopback(const char *addr)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Next token of a comma/space separated list into tok; false at the end or when too long. */
static bool next_token(const char **s, char *tok, size_t toksize, bool *too_long)
{
	const char *p = *s;
	while (*p != '\0' && is_sep(*p))
		p++;
	const char *start = p;
	while (*p != '\0' && !is_sep(*p))
		p++;
	*s = p;
	size_t n = (size_t)(p - start);
	if (n == 0)
		return false;
	if (n >= toksize) {
		*too_long = true;
		return false;
	}
	memcpy(tok, start, n);
	tok[n] = '\0';
	return true;
}

static enum fg_err ub_err(const char *what, int rc)
{
	FG_LOGE("dns", "%s: %s", what, ub_strerror(rc));
	return rc == UB_NOMEM ? FG_ERR_NOMEM : FG_ERR_INVAL;
}

/* "addr" or "addr@port": the address must be a literal, the port 1-65535. */
static enum fg_err server_add(struct resolver *r, const char *tok, bool *loopback)
{
	char addr[RESOLVE_SERVER_TEXT_MAX];
	uint64_t port = 53;
	fg_strlcpy(addr, tok, sizeof(addr));
	char *at = strchr(addr, '@');
	if (at != NULL) {
		*at = '\0';
		if (!fg_parse_u64(at + 1, 1, 65535, &port)) {
			FG_LOGE("dns", "DNS server \"%s\": the port must be 1-65535", tok);
			return FG_ERR_INVAL;
		}
	}
	uint8_t bin[16];
	if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1) {
		FG_LOGE("dns", "DNS server \"%s\": not an IPv4 or IPv6 address", tok);
		return FG_ERR_INVAL;
	}
	if (is_loopback(addr))
		*loopback = true;
	int rc = ub_ctx_set_fwd(r->ub, tok);
	if (rc != 0)
		return ub_err("setting the DNS server", rc);
	size_t o = strlen(r->from);
	text_fmt(r->from + o, sizeof(r->from) - o, "%s%s@%u", o > 0 ? ", " : "", addr,
	         (unsigned)port);
	return FG_OK;
}

static bool zone_valid(const char *z)
{
	size_t n = strlen(z);
	if (n == 0 || n > RESOLVE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = z[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return strstr(z, "..") == NULL && z[0] != '.';
}

static enum fg_err configure(struct resolver *r, const struct resolve_config *cfg)
{
	int rc;
	enum fg_err err;
	bool loopback = false, too_long = false;
	char tok[RESOLVE_NAME_MAX + 2];
	size_t n = 0;

	const char *s = cfg->servers != NULL ? cfg->servers : "";
	while (next_token(&s, tok, sizeof(tok), &too_long)) {
		if (++n > RESOLVE_SERVERS_MAX) {
			FG_LOGE("dns", "more than %u DNS servers", RESOLVE_SERVERS_MAX);
			return FG_ERR_TOOBIG;
		}
		if ((err = server_add(r, tok, &loopback)) != FG_OK)
			return err;
	}
	if (too_long) {
		FG_LOGE("dns", "a DNS server entry is too long");
		return FG_ERR_INVAL;
	}
	if (n == 0) {
		/* The system's servers, and /etc/hosts like every other program. */
		rc = ub_ctx_resolvconf(r->ub, NULL);
		if (rc != 0)
			return ub_err("reading /etc/resolv.conf", rc);
		rc = ub_ctx_hosts(r->ub, NULL);
		if (rc != 0)
			FG_LOGW("dns", "reading /etc/hosts: %s", ub_strerror(rc));
		fg_strlcpy(r->from, "the system's DNS servers", sizeof(r->from));
	}
	/* unbound refuses to query 127.0.0.0/8 and ::1 unless told: a local dnsmasq or
	 * systemd-resolved (127.0.0.53 in /etc/resolv.conf) is a normal forwarder here. */
	if ((loopback || n == 0) &&
	    (rc = ub_ctx_set_option(r->ub, "do-not-query-localhost:", "no")) != 0)
		return ub_err("do-not-query-localhost", rc);

	n = 0;
	s = cfg->transparent_zones != NULL ? cfg->transparent_zones : "";
	while (next_token(&s, tok, sizeof(tok), &too_long)) {
		char val[RESOLVE_NAME_MAX + 32];
		size_t len = strlen(tok);
		if (len > 1 && tok[len - 1] == '.')
			tok[len - 1] = '\0';
		if (++n > RESOLVE_ZONES_MAX || !zone_valid(tok)) {
			FG_LOGE("dns", "transparent zone \"%s\" refused", tok);
			return FG_ERR_INVAL;
		}
		/* RFC 6761 names ("test.", "invalid.") are answered NXDOMAIN by unbound's
		 * built-in local zones; transparent lets the forwarders answer them. */
		snprintf(val, sizeof(val), "%s. transparent", tok);
		if ((rc = ub_ctx_set_option(r->ub, "local-zone:", val)) != 0)
			return ub_err("local-zone", rc);
	}
	if (too_long) {
		FG_LOGE("dns", "a transparent zone is too long");
		return FG_ERR_INVAL;
	}
	if ((rc = ub_ctx_async(r->ub, 1)) != 0)
		return ub_err("threaded mode", rc);
	return FG_OK;
}

static void poll_update(struct resolver *r);
static void poll_cb(uv_poll_t *h, int status, int events);

enum fg_err resolver_new(struct resolver **out, uv_loop_t *loop, const struct resolve_config *cfg)
{
	struct resolver *r = NULL;
	enum fg_err err = FG_OK;
	if (out == NULL || loop == NULL || cfg == NULL)
		return FG_ERR_INVAL;
	*out = NULL;
	if (cfg->timeout_ms < 0 || cfg->timeout_ms > RESOLVE_TIMEOUT_MAX_MS)
		return FG_ERR_INVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return FG_ERR_NOMEM;
	r->loop = loop;
	r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : RESOLVE_TIMEOUT_DEFAULT_MS;
	r->ub = ub_ctx_create();
	if (r->ub == NULL) {
		FG_LOGE("dns", "could not create the resolver context");
		err = FG_ERR_NOMEM;
		goto out;
	}
	if ((err = configure(r, cfg)) != FG_OK)
		goto out;
	if (uv_poll_init(loop, &r->poll, ub_fd(r->ub)) != 0) {
		FG_LOGE("dns", "cannot watch the resolver's descriptor");
		err = FG_ERR_IO;
		goto out;
	}
	r->poll.data = r;
	*out = r;
	return FG_OK;
out:
	if (r->ub != NULL)
		ub_ctx_delete(r->ub);
	free(r);
	return err;
}

enum fg_err resolve__local_data_add(struct resolver *r, const char *zone, const char *zone_type,
                                    const char *rr)
{
	int rc;
	if (r == NULL || zone == NULL || zone_type == NULL)
		return FG_ERR_INVAL;
	if ((rc = ub_ctx_zone_add(r->ub, zone, zone_type)) != 0)
		return ub_err("local zone", rc);
	if (rr != NULL && (rc = ub_ctx_data_add(r->ub, rr)) != 0)
		return ub_err("local data", rc);
	return FG_OK;
}

static void poll_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

static void query_closed_cb(uv_handle_t *h)
{
	struct resolve_query *q = h->data;
	free(q->srv);
	free(q);
}

/* Unlinks q, cancels what unbound still has for it, and frees it on the loop. */
static void query_release(struct resolve_query *q)
{
	struct resolver *r = q->r;
	/* A callback may free the resolver (which releases every query) before its own query
	 * is released after it returns. */
	if (q->released)
		return;
	q->released = true;
	for (size_t i = 0; i < 2; i++) {
		if (!q->parts[i].pending)
			continue;
		/* In threaded mode the answer still arrives later and is dropped by ub_process
		 * without calling us (the query is marked cancelled). */
		(void)ub_cancel(r->ub, q->parts[i].ub_id);
		q->parts[i].pending = false;
		r->ub_outstanding--;
	}
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	r->n_queries--;
	uv_timer_stop(&q->timer);
	uv_close((uv_handle_t *)&q->timer, query_closed_cb);
	poll_update(r);
}

static void resolver_destroy(struct resolver *r)
{
	if (r->polling)
		uv_poll_stop(&r->poll);
	/* uv_close stops the watcher now; the descriptor closes with the context below and the
	 * struct goes when libuv is done with the handle. */
	r->poll.data = r;
	uv_close((uv_handle_t *)&r->poll, poll_closed_cb);
	ub_ctx_delete(r->ub);
	r->ub = NULL;
}

void resolver_free(struct resolver *r)
{
	if (r == NULL || r->free_pending)
		return;
	while (r->queries != NULL)
		query_release(r->queries);
	if (r->in_process) {
		r->free_pending = true;
		return;
	}
	resolver_destroy(r);
}

static void poll_update(struct resolver *r)
{
	if (r->free_pending)
		return;
	if (r->ub_outstanding > 0 && !r->polling) {
		if (uv_poll_start(&r->poll, UV_READABLE, poll_cb) == 0)
			r->polling = true;
		else
			FG_LOGE("dns", "cannot watch the resolver's descriptor");
	} else if (r->ub_outstanding == 0 && r->polling) {
		uv_poll_stop(&r->poll);
		r->polling = false;
	}
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct resolver *r = h->data;
	(void)events;
	if (status < 0)
		FG_LOGW("dns", "watching the resolver: %s", uv_strerror(status));
	r->in_process = true;
	int rc = ub_process(r->ub);
	r->in_process = false;
	if (rc != 0)
		FG_LOGE("dns", "reading answers: %s", ub_strerror(rc));
	if (r->free_pending)
		resolver_destroy(r);
}

/* ---- answers ------------------------------------------------------------------------- */

static const char *rr_name(int type)
{
	return type == RR_TYPE_SRV ? "SRV" : type == RR_TYPE_A ? "A" : "AAAA";
}

/* Classifies an unbound result (RFC 1035 §4.1.1 rcodes; RFC 2308 NODATA). */
static void classify(struct resolver *r, struct family_part *p, int err,
                     const struct ub_result *res, int type, const char *name)
{
	p->answered = true;
	if (err != 0 || res == NULL) {
		p->status = RESOLVE_ERROR;
		text_fmt(p->why, sizeof(p->why), "resolver error: %s", ub_strerror(err));
		return;
	}
	p->rcode = res->rcode;
	if (res->bogus) {
		p->status = RESOLVE_SERVFAIL;
		text_fmt(p->why, sizeof(p->why), "bogus DNSSEC answer from %s: %s", r->from,
		         res->why_bogus != NULL ? res->why_bogus : "no reason given");
	} else if (res->rcode == RCODE_NXDOMAIN || res->nxdomain) {
		p->status = RESOLVE_NXDOMAIN;
		text_fmt(p->why, sizeof(p->why), "NXDOMAIN from %s: %s does not exist", r->from,
		         name);
	} else if (res->rcode != 0) {
		p->status = RESOLVE_SERVFAIL;
		text_fmt(p->why, sizeof(p->why), "%s from %s for %s",
		         res->rcode == RCODE_REFUSED    ? "REFUSED"
		         : res->rcode == RCODE_SERVFAIL ? "SERVFAIL"
		                                        : "an error",
		         r->from, name);
		if (res->rcode != RCODE_REFUSED && res->rcode != RCODE_SERVFAIL) {
			size_t o = strlen(p->why);
			text_fmt(p->why + o, sizeof(p->why) - o, " (rcode %d)", res->rcode);
		}
	} else if (!res->havedata) {
		p->status = RESOLVE_NODATA;
		text_fmt(p->why, sizeof(p->why), "NODATA from %s: %s exists but has no %s record",
		         r->from, name, rr_name(type));
	} else {
		p->status = RESOLVE_OK;
	}
}

static void deliver_srv(struct resolve_query *q)
{
	struct resolver *r = q->r;
	struct family_part *p = &q->parts[0];
	char text[RESOLVE_TEXT_MAX];
	struct resolve_srv_answer ans = {0};
	ans.status = p->status;
	ans.records = q->srv;
	ans.n = q->n_srv;
	if (p->status == RESOLVE_OK)
		text_fmt(text, sizeof(text), "%zu SRV record%s for %s from %s", q->n_srv,
		         q->n_srv == 1 ? "" : "s", q->name, r->from);
	else
		fg_strlcpy(text, p->why, sizeof(text));
	ans.text = text;
	q->delivering = true;
	q->srv_cb(q->ctx, &ans);
}

/* Rank of a family's outcome when neither has addresses: the more telling one wins. */
static int outcome_rank(enum resolve_status s)
{
	switch (s) {
	case RESOLVE_NXDOMAIN:
		return 5; /* the name does not exist at all */
	case RESOLVE_SERVFAIL:
		return 4;
	case RESOLVE_ERROR:
		return 3;
	case RESOLVE_TIMEOUT:
		return 2;
	case RESOLVE_NODATA:
		return 1;
	case RESOLVE_OK:
		break;
	}
	return 0;
}

static void deliver_addr(struct resolve_query *q)
{
	struct resolver *r = q->r;
	struct family_part *p6 = &q->parts[0], *p4 = &q->parts[1];
	const char *list[RESOLVE_MAX_ADDRS];
	char text[RESOLVE_TEXT_MAX];
	struct resolve_addr_answer ans = {0};
	/* IPv6 first (RFC 6724 prefers it), but keep room for IPv4 when both exist. */
	size_t n4 = p4->n, n6 = p6->n;
	if (n6 + n4 > RESOLVE_MAX_ADDRS) {
		size_t keep4 = n4 < RESOLVE_MAX_ADDRS / 2 ? n4 : RESOLVE_MAX_ADDRS / 2;
		if (n6 > RESOLVE_MAX_ADDRS - keep4)
			n6 = RESOLVE_MAX_ADDRS - keep4;
		n4 = RESOLVE_MAX_ADDRS - n6 < n4 ? RESOLVE_MAX_ADDRS - n6 : n4;
	}
	for (size_t i = 0; i < n6; i++)
		list[ans.n++] = p6->addrs[i];
	for (size_t i = 0; i < n4; i++)
		list[ans.n++] = p4->addrs[i];
	ans.addrs = list;
	if (ans.n > 0) {
		ans.status = RESOLVE_OK;
		if (q->literal)
			text_fmt(text, sizeof(text), "%s is an IP address", q->name);
		else
			text_fmt(text, sizeof(text), "%zu address%s for %s from %s", ans.n,
			         ans.n == 1 ? "" : "es", q->name, r->from);
	} else {
		const struct family_part *w =
		    outcome_rank(p6->status) >= outcome_rank(p4->status) ? p6 : p4;
		ans.status = w->status;
		if (p6->status == RESOLVE_NODATA && p4->status == RESOLVE_NODATA)
			text_fmt(text, sizeof(text),
			         "NODATA from %s: %s exists but has no A or AAAA record", r->from,
			         q->name);
		else
			fg_strlcpy(text, w->why, sizeof(text));
	}
	ans.text = text;
	q->delivering = true;
	q->addr_cb(q->ctx, &ans);
}

static void deliver(struct resolve_query *q)
{
	if (q->kind == QUERY_SRV)
		deliver_srv(q);
	else
		deliver_addr(q);
	query_release(q);
}

static void srv_result(struct resolve_query *q, int err, struct ub_result *res)
{
	struct family_part *p = &q->parts[0];
	classify(q->r, p, err, res, RR_TYPE_SRV, q->name);
	if (p->status != RESOLVE_OK)
		return;
	size_t n = 0, bad = 0;
	while (res->data[n] != NULL)
		n++;
	if (n > DNS_MAX_SRV)
		n = DNS_MAX_SRV; /* the rest is dropped: dns_srv_order takes at most this many */
	q->srv = calloc(n > 0 ? n : 1, sizeof(*q->srv));
	if (q->srv == NULL) {
		p->status = RESOLVE_ERROR;
		fg_strlcpy(p->why, "resolver error: out of memory", sizeof(p->why));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (res->len[i] < 0 ||
		    !resolve__srv_rdata_parse((const uint8_t *)res->data[i], (size_t)res->len[i],
		                              &q->srv[q->n_srv])) {
			bad++;
			continue;
		}
		q->n_srv++;
	}
	if (bad > 0)
		FG_LOGW("dns", "%s: %zu malformed SRV record%s ignored", q->name, bad,
		        bad == 1 ? "" : "s");
	if (q->n_srv == 0) {
		p->status = RESOLVE_SERVFAIL;
		text_fmt(p->why, sizeof(p->why),
		         "SERVFAIL: every SRV record for %s from %s is malformed", q->name,
		         q->r->from);
	}
}

static void addr_result(struct resolve_query *q, struct family_part *p, int type, int err,
                        struct ub_result *res)
{
	classify(q->r, p, err, res, type, q->name);
	if (p->status != RESOLVE_OK)
		return;
	int af = type == RR_TYPE_A ? AF_INET : AF_INET6;
	size_t want = type == RR_TYPE_A ? 4 : 16;
	for (size_t i = 0; res->data[i] != NULL && p->n < RESOLVE_MAX_ADDRS; i++) {
		if (res->len[i] < 0 || (size_t)res->len[i] != want)
			continue;
		if (inet_ntop(af, res->data[i], p->addrs[p->n], sizeof(p->addrs[p->n])) != NULL)
			p->n++;
	}
	if (p->n == 0) {
		p->status = RESOLVE_NODATA;
		text_fmt(p->why, sizeof(p->why), "NODATA from %s: no usable %s record for %s",
		         q->r->from, rr_name(type), q->name);
	}
}

static void ub_cb(void *mydata, int err, struct ub_result *res, int part)
{
	struct resolve_query *q = mydata;
	struct family_part *p = &q->parts[part];
	p->pending = false;
	q->r->ub_outstanding--;
	if (q->kind == QUERY_SRV)
		srv_result(q, err, res);
	else
		addr_result(q, p, part == 0 ? RR_TYPE_AAAA : RR_TYPE_A, err, res);
	ub_resolve_free(res);
	if (!q->parts[0].pending && !q->parts[1].pending)
		deliver(q);
	else
		poll_update(q->r);
}

static void ub_cb0(void *mydata, int err, struct ub_result *res)
{
	ub_cb(mydata, err, res, 0);
}

static void ub_cb1(void *mydata, int err, struct ub_result *res)
{
	ub_cb(mydata, err, res, 1);
}

/* Our own deadline (the whole query), or the next-turn answer of an IP literal. */
static void timer_cb(uv_timer_t *t)
{
	struct resolve_query *q = t->data;
	for (size_t i = 0; i < 2; i++) {
		struct family_part *p = &q->parts[i];
		if (!p->pending)
			continue;
		p->answered = true;
		p->status = RESOLVE_TIMEOUT;
		text_fmt(p->why, sizeof(p->why), "TIMEOUT: no answer from %s within %lld ms for %s",
		         q->r->from, (long long)q->r->timeout_ms, q->name);
	}
	deliver(q); /* query_release cancels what is still pending in unbound */
}

/* ---- queries ------------------------------------------------------------------------- */

static bool name_valid(const char *name, size_t *len_out)
{
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > RESOLVE_NAME_MAX || name[0] == '.')
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		/* Host names and SRV owner names (RFC 2782 "_service._proto"). */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	*len_out = len;
	return true;
}

static enum fg_err query_new(struct resolver *r, enum query_kind kind, const char *name,
                             struct resolve_query **out)
{
	if (r->n_queries >= RESOLVE_QUERIES_MAX) {
		FG_LOGW("dns", "%u lookups in flight: refusing more", RESOLVE_QUERIES_MAX);
		return FG_ERR_AGAIN;
	}
	struct resolve_query *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return FG_ERR_NOMEM;
	q->r = r;
	q->kind = kind;
	fg_strlcpy(q->name, name, sizeof(q->name));
	if (uv_timer_init(r->loop, &q->timer) != 0) {
		free(q);
		return FG_ERR_IO;
	}
	q->timer.data = q;
	q->next = r->queries;
	if (r->queries != NULL)
		r->queries->prev = q;
	r->queries = q;
	r->n_queries++;
	*out = q;
	return FG_OK;
}

static enum fg_err query_start(struct resolve_query *q, size_t part, int type)
{
	struct resolver *r = q->r;
	struct family_part *p = &q->parts[part];
	int rc = ub_resolve_async(r->ub, q->name, type, RR_CLASS_IN, q, part == 0 ? ub_cb0 : ub_cb1,
	                          &p->ub_id);
	if (rc != 0) {
		FG_LOGE("dns", "starting the %s lookup of %s: %s", rr_name(type), q->name,
		        ub_strerror(rc));
		return rc == UB_NOMEM ? FG_ERR_NOMEM : FG_ERR_IO;
	}
	p->pending = true;
	r->ub_outstanding++;
	return FG_OK;
}

enum fg_err resolve_srv(struct resolver *r, const char *name, resolve_srv_cb cb, void *ctx,
                        struct resolve_query **qout)
{
	struct resolve_query *q = NULL;
	size_t len;
	uint8_t bin[16];
	enum fg_err err;
	if (qout != NULL)
		*qout = NULL;
	if (r == NULL || name == NULL || cb == NULL || r->free_pending)
		return FG_ERR_INVAL;
	if (!name_valid(name, &len) || inet_pton(AF_INET, name, bin) == 1)
		return FG_ERR_INVAL;
	if ((err = query_new(r, QUERY_SRV, name, &q)) != FG_OK)
		return err;
	q->srv_cb = cb;
	q->ctx = ctx;
	q->name[len] = '\0';
	if ((err = query_start(q, 0, RR_TYPE_SRV)) != FG_OK) {
		query_release(q);
		return err;
	}
	uv_timer_start(&q->timer, timer_cb, (uint64_t)r->timeout_ms, 0);
	poll_update(r);
	if (qout != NULL)
		*qout = q;
	return FG_OK;
}

/* An IP literal, optionally in brackets ("[2001:db8::1]"), into normalized text. */
static bool ip_literal(const char *host, char *out, size_t outsize, bool *v6)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	uint8_t bin[16];
	size_t len = strlen(host);
	if (len >= sizeof(tmp))
		return false;
	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		memcpy(tmp, host + 1, len - 2);
		tmp[len - 2] = '\0';
	} else {
		memcpy(tmp, host, len + 1);
	}
	if (inet_pton(AF_INET, tmp, bin) == 1) {
		*v6 = false;
		return inet_ntop(AF_INET, bin, out, (socklen_t)outsize) != NULL;
	}
	if (inet_pton(AF_INET6, tmp, bin) == 1) {
		*v6 = true;
		return inet_ntop(AF_INET6, bin, out, (socklen_t)outsize) != NULL;
	}
	return false;
}

enum fg_err resolve_addr(struct resolver *r, const char *host, resolve_addr_cb cb, void *ctx,
                         struct resolve_query **qout)
{
	struct resolve_query *q = NULL;
	char lit[INET6_ADDRSTRLEN];
	bool v6 = false;
	size_t len;
	enum fg_err err;
	if (qout != NULL)
		*qout = NULL;
	if (r == NULL || host == NULL || cb == NULL || r->free_pending)
		return FG_ERR_INVAL;
	if (ip_literal(host, lit, sizeof(lit), &v6)) {
		if ((err = query_new(r, QUERY_ADDR, lit, &q)) != FG_OK)
			return err;
		q->addr_cb = cb;
		q->ctx = ctx;
		q->literal = true;
		struct family_part *p = &q->parts[v6 ? 0 : 1];
		p->status = RESOLVE_OK;
		fg_strlcpy(p->addrs[0], lit, sizeof(p->addrs[0]));
		p->n = 1;
		q->parts[v6 ? 1 : 0].status = RESOLVE_NODATA;
		/* Never call back from inside this call: answer on the next loop turn. */
		uv_timer_start(&q->timer, timer_cb, 0, 0);
		if (qout != NULL)
			*qout = q;
		return FG_OK;
	}
	if (!name_valid(host, &len))
		return FG_ERR_INVAL;
	if ((err = query_new(r, QUERY_ADDR, host, &q)) != FG_OK)
		return err;
	q->addr_cb = cb;
	q->ctx = ctx;
	q->name[len] = '\0';
	if ((err = query_start(q, 0, RR_TYPE_AAAA)) != FG_OK ||
	    (err = query_start(q, 1, RR_TYPE_A)) != FG_OK) {
		query_release(q);
		return err;
	}
	uv_timer_start(&q->timer, timer_cb, (uint64_t)r->timeout_ms, 0);
	poll_update(r);
	if (qout != NULL)
		*qout = q;
	return FG_OK;
}

void resolve_cancel(struct resolve_query *q)
{
	if (q == NULL || q->delivering || q->released)
		return;
	query_release(q);
}
