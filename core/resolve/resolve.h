/* resolve: asynchronous DNS on the event loop (libunbound): SRV, A and AAAA lookups. */
#ifndef FEDGW_RESOLVE_H
#define FEDGW_RESOLVE_H

#include "base/base.h"
#include "dns/dns.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/*
 * One resolver per engine, on the loop (ub_fd watched with uv_poll). The DNS servers are
 * a setting ("xmpp.dns_servers"): empty means the system's (/etc/resolv.conf); otherwise a
 * list like "127.0.0.1@5353 ::1" (comma or space separated, "addr" or "addr@port"), which
 * are used as forwarders, never recursion from the root. Tests always give their own
 * server. Every answer says plainly what happened (NXDOMAIN, no records, SERVFAIL, timeout).
 */

/* Addresses per answer: real hosts publish a handful. */
#define RESOLVE_MAX_ADDRS 16u

enum resolve_status {
	RESOLVE_OK = 0,   /* records present */
	RESOLVE_NODATA,   /* the name exists but has no record of that type */
	RESOLVE_NXDOMAIN, /* the name does not exist */
	RESOLVE_SERVFAIL, /* the server failed (SERVFAIL, REFUSED, bogus DNSSEC) */
	RESOLVE_TIMEOUT,  /* no answer in time */
	RESOLVE_ERROR,    /* local failure (see text) */
};

const char *resolve_status_name(enum resolve_status s); /* "NXDOMAIN", ... */

struct resolve_config {
	const char *servers; /* see above; NULL or "" = system */
	/* Names under these zones are resolved through the servers even though unbound treats
	 * them as special-use (RFC 6761 "test.", "invalid."...). Comma/space separated. */
	const char *transparent_zones;
	int64_t timeout_ms; /* 0: 5000 */
};

struct resolve_srv_answer {
	enum resolve_status status;
	const char *text; /* plain words, e.g. "NXDOMAIN from 127.0.0.1@5353" */
	const struct dns_srv *records;
	size_t n;
};

struct resolve_addr_answer {
	enum resolve_status status; /* OK if at least one address of either family */
	const char *text;
	const char *const *addrs; /* textual IPv6 first, then IPv4 ("::1", "127.0.0.1") */
	size_t n;
};

struct resolver;
struct resolve_query;

typedef void (*resolve_srv_cb)(void *ctx, const struct resolve_srv_answer *ans);
typedef void (*resolve_addr_cb)(void *ctx, const struct resolve_addr_answer *ans);

enum fg_err resolver_new(struct resolver **out, uv_loop_t *loop, const struct resolve_config *cfg);
/* Cancels outstanding queries (their callbacks are not called) and closes on the loop. */
void resolver_free(struct resolver *r);

/* Callbacks run on the loop, never from inside these calls. Answers are valid during the
 * callback only. *q (may be NULL) can cancel the query before its callback. */
enum fg_err resolve_srv(struct resolver *r, const char *name, resolve_srv_cb cb, void *ctx,
                        struct resolve_query **q);
/* A and AAAA of host together; an IP literal answers at once (on the next loop turn). */
enum fg_err resolve_addr(struct resolver *r, const char *host, resolve_addr_cb cb, void *ctx,
                         struct resolve_query **q);
void resolve_cancel(struct resolve_query *q);

#endif
