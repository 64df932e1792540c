/* dns srv: RFC 2782 SRV ordering and XEP-0368 / RFC 6120 §3.2 candidate lists. */
#include <string.h>

#include "dns/dns.h"

static uint32_t kernel_random(void *ctx, uint32_t max)
{
	(void)ctx;
	if (max == UINT32_MAX) {
		uint32_t v;
		fg_random(&v, sizeof(v));
		return v;
	}
	/* rejection sampling so every value in [0, max] is equally likely */
	uint64_t range = (uint64_t)max + 1;
	uint32_t limit = (uint32_t)(((uint64_t)UINT32_MAX + 1) / range * range - 1);
	uint32_t v;
	do {
		fg_random(&v, sizeof(v));
	} while (v > limit);
	return (uint32_t)(v % range);
}

static void swap(struct dns_srv *a, struct dns_srv *b)
{
	struct dns_srv t = *a;
	*a = *b;
	*b = t;
}

enum fg_err dns_srv_order(struct dns_srv *recs, size_t n, dns_random_cb rnd, void *ctx)
{
	if (n > DNS_MAX_SRV)
		return FG_ERR_TOOBIG;
	if (n == 0)
		return FG_OK;
	if (recs == NULL)
		return FG_ERR_INVAL;
	if (rnd == NULL)
		rnd = kernel_random;
	/* stable insertion sort by priority (n is small) */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && recs[j - 1].priority > recs[j].priority; j--)
			swap(&recs[j - 1], &recs[j]);
	}
	for (size_t start = 0; start < n;) {
		size_t end = start;
		while (end < n && recs[end].priority == recs[start].priority)
			end++;
		/* RFC 2782: select, one at a time, from the records of this priority not yet
		 * ordered; zero-weight records go to the front of the list (stable) */
		for (size_t pos = start; pos < end; pos++) {
			for (size_t i = pos + 1; i < end; i++) {
				if (recs[i].weight != 0)
					continue;
				for (size_t j = i; j > pos && recs[j - 1].weight != 0; j--)
					swap(&recs[j - 1], &recs[j]);
			}
			uint32_t sum = 0;
			for (size_t i = pos; i < end; i++)
				sum += recs[i].weight; /* <= 64 * 65535: no overflow */
			uint32_t r = rnd(ctx, sum);
			if (r > sum)
				r = sum; /* a misbehaving source must not index out of range */
			uint32_t running = 0;
			size_t pick = end - 1;
			for (size_t i = pos; i < end; i++) {
				running += recs[i].weight;
				if (running >= r) {
					pick = i;
					break;
				}
			}
			/* keep the rest in their relative order */
			struct dns_srv chosen = recs[pick];
			memmove(&recs[pos + 1], &recs[pos], (pick - pos) * sizeof(recs[0]));
			recs[pos] = chosen;
		}
		start = end;
	}
	return FG_OK;
}

bool dns_srv_is_no_service(const struct dns_srv *recs, size_t n)
{
	return n == 1 && (strcmp(recs[0].target, ".") == 0 || recs[0].target[0] == '\0');
}

static enum fg_err add_set(const struct dns_srv *set, size_t n, bool direct_tls, dns_random_cb rnd,
                           void *ctx, struct dns_candidate *out, size_t cap, size_t *n_out)
{
	struct dns_srv tmp[DNS_MAX_SRV];
	size_t m = 0;
	/* an answer larger than the cap is cut, not refused: the first records still work */
	for (size_t i = 0; i < n && m < DNS_MAX_SRV; i++) {
		if (strcmp(set[i].target, ".") == 0 || set[i].target[0] == '\0' || set[i].port == 0)
			continue;
		tmp[m++] = set[i];
	}
	enum fg_err err = dns_srv_order(tmp, m, rnd, ctx);
	if (err != FG_OK)
		return err;
	for (size_t i = 0; i < m && *n_out < cap; i++) {
		struct dns_candidate *c = &out[(*n_out)++];
		fg_strlcpy(c->host, tmp[i].target, sizeof(c->host));
		/* names in answers are absolute; connect by the name without the root dot */
		size_t len = strlen(c->host);
		if (len > 1 && c->host[len - 1] == '.')
			c->host[len - 1] = '\0';
		c->port = tmp[i].port;
		c->direct_tls = direct_tls;
	}
	return FG_OK;
}

enum fg_err dns_xmpp_candidates(const struct dns_xmpp_records *in, dns_random_cb rnd, void *ctx,
                                struct dns_candidate *out, size_t cap, size_t *n_out,
                                enum dns_xmpp_result *result)
{
	if (in == NULL || in->domain == NULL || n_out == NULL || result == NULL ||
	    (cap > 0 && out == NULL) || strlen(in->domain) > DNS_MAX_NAME)
		return FG_ERR_INVAL;
	*n_out = 0;
	size_t n_xmpps = in->allow_direct_tls ? in->n_xmpps : 0;
	bool xmpps_none = n_xmpps > 0 && dns_srv_is_no_service(in->xmpps, n_xmpps);
	bool xmpp_none = in->n_xmpp > 0 && dns_srv_is_no_service(in->xmpp, in->n_xmpp);
	enum fg_err err = FG_OK;
	/* XEP-0368 §3: direct TLS targets are tried before STARTTLS ones */
	if (n_xmpps > 0 && !xmpps_none)
		err = add_set(in->xmpps, n_xmpps, true, rnd, ctx, out, cap, n_out);
	if (err == FG_OK && in->n_xmpp > 0 && !xmpp_none)
		err = add_set(in->xmpp, in->n_xmpp, false, rnd, ctx, out, cap, n_out);
	if (err != FG_OK)
		return err;
	if (*n_out > 0) {
		*result = DNS_XMPP_CANDIDATES;
	} else if (n_xmpps == 0 && in->n_xmpp == 0) {
		/* RFC 6120 §3.2.2: no SRV records: the domain's A/AAAA on 5269 */
		*result = DNS_XMPP_FALLBACK;
		if (cap > 0) {
			fg_strlcpy(out[0].host, in->domain, sizeof(out[0].host));
			out[0].port = DNS_XMPP_SERVER_PORT;
			out[0].direct_tls = false;
			*n_out = 1;
		}
	} else {
		/* RFC 2782: a "." target says the service is decidedly not available; records
		 * with nothing usable (port 0, empty targets) mean the same for us */
		*result = DNS_XMPP_NO_SERVICE;
	}
	return FG_OK;
}

const char *dns_xmpp_result_name(enum dns_xmpp_result r)
{
	switch (r) {
	case DNS_XMPP_CANDIDATES:
		return "candidates";
	case DNS_XMPP_NO_SERVICE:
		return "no-service";
	case DNS_XMPP_FALLBACK:
		return "fallback";
	}
	return "unknown";
}
