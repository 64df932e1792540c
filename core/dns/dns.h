/* dns: pure XMPP s2s target selection: RFC 2782 SRV ordering, XEP-0368 direct TLS first,
 * RFC 6120 §3.2 fallback. No resolver here: records come in, ordered candidates go out. */
#ifndef FEDGW_DNS_H
#define FEDGW_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* A DNS name in presentation form is at most 253 characters (RFC 1035 §2.3.4). */
#define DNS_MAX_NAME 255u
/* SRV records considered per answer; real domains publish a handful. */
#define DNS_MAX_SRV 64u
/* RFC 6120 §3.2.2: port when no SRV record exists. */
#define DNS_XMPP_SERVER_PORT 5269u

struct dns_srv {
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
	char target[DNS_MAX_NAME + 1];
};

/* Returns a uniformly distributed integer in [0, max] (inclusive, as RFC 2782 asks). */
typedef uint32_t (*dns_random_cb)(void *ctx, uint32_t max);

/* Orders recs in place per RFC 2782: priority ascending, weighted random within a priority
 * (zero-weight records first in the running sum, so they are rarely picked first).
 * rnd NULL: the kernel's random source. FG_ERR_TOOBIG above DNS_MAX_SRV records. */
enum fg_err dns_srv_order(struct dns_srv *recs, size_t n, dns_random_cb rnd, void *ctx);

/* RFC 2782: a single record whose target is "." means the service is not offered. */
bool dns_srv_is_no_service(const struct dns_srv *recs, size_t n);

struct dns_candidate {
	char host[DNS_MAX_NAME + 1];
	uint16_t port;
	bool direct_tls; /* XEP-0368: TLS from the first byte, no STARTTLS */
};

enum dns_xmpp_result {
	DNS_XMPP_CANDIDATES = 0, /* out holds SRV targets in the order to try */
	DNS_XMPP_NO_SERVICE,     /* the domain says it offers no s2s service ("." target) */
	DNS_XMPP_FALLBACK,       /* no SRV at all: out holds domain:5269 (RFC 6120 §3.2.2) */
};

struct dns_xmpp_records {
	const char *domain;          /* the peer domain */
	const struct dns_srv *xmpps; /* _xmpps-server._tcp answer (may be empty) */
	size_t n_xmpps;
	const struct dns_srv *xmpp; /* _xmpp-server._tcp answer (may be empty) */
	size_t n_xmpp;
	bool allow_direct_tls; /* TLS is allowed at all (not off) */
};

/* Builds the connection candidates: XEP-0368 direct-TLS targets first (when allowed), then
 * STARTTLS targets, each set ordered with dns_srv_order. At most cap candidates are written
 * (more are dropped). */
enum fg_err dns_xmpp_candidates(const struct dns_xmpp_records *in, dns_random_cb rnd, void *ctx,
                                struct dns_candidate *out, size_t cap, size_t *n_out,
                                enum dns_xmpp_result *result);

const char *dns_xmpp_result_name(enum dns_xmpp_result r);

#endif
