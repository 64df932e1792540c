/* Unit tests for RFC 2782 SRV ordering, XEP-0368 candidate lists, "." and the fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"

/* Scripted source: returns the next value of a fixed sequence, clamped to max. */
struct script {
	const uint32_t *vals;
	size_t n;
	size_t i;
	uint32_t last_max[16];
};

static uint32_t scripted(void *ctx, uint32_t max)
{
	struct script *s = ctx;
	if (s->i < 16)
		s->last_max[s->i] = max;
	uint32_t v = s->vals[s->i % s->n];
	s->i++;
	return v > max ? max : v;
}

/* Deterministic LCG in [0, max] for the distribution test. */
static uint32_t lcg(void *ctx, uint32_t max)
{
	uint64_t *st = ctx;
	*st = *st * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((*st >> 33) % ((uint64_t)max + 1));
}

static struct dns_srv srv(uint16_t prio, uint16_t weight, uint16_t port, const char *target)
{
	struct dns_srv r = {prio, weight, port, ""};
	fg_strlcpy(r.target, target, sizeof(r.target));
	return r;
}

static void test_priority_then_weight(void **state)
{
	struct dns_srv r[] = {srv(20, 0, 1, "c"), srv(10, 60, 2, "a"), srv(10, 40, 3, "b"),
	                      srv(5, 0, 4, "first")};
	/* priority 5: sum 0 -> 0; priority 10: sum 100, r=70 -> running a=60 <70, b=100 -> b;
	 * then only a left (sum 60); priority 20: sum 0 */
	const uint32_t vals[] = {0, 70, 0, 0};
	struct script s = {vals, 4, 0, {0}};
	assert_int_equal(dns_srv_order(r, 4, scripted, &s), FG_OK);
	assert_string_equal(r[0].target, "first");
	assert_string_equal(r[1].target, "b");
	assert_string_equal(r[2].target, "a");
	assert_string_equal(r[3].target, "c");
	assert_int_equal(s.last_max[1], 100);
	assert_int_equal(s.last_max[2], 60);
}

static void test_zero_weight(void **state)
{
	/* RFC 2782: zero-weight records sit at the front of the running sum, so r = 0 picks
	 * one of them and any r > 0 picks a weighted record */
	struct dns_srv r[] = {srv(1, 10, 1, "w"), srv(1, 0, 2, "z")};
	const uint32_t zero[] = {0};
	struct script s = {zero, 1, 0, {0}};
	assert_int_equal(dns_srv_order(r, 2, scripted, &s), FG_OK);
	assert_string_equal(r[0].target, "z");
	struct dns_srv r2[] = {srv(1, 10, 1, "w"), srv(1, 0, 2, "z")};
	const uint32_t one[] = {1};
	struct script s2 = {one, 1, 0, {0}};
	assert_int_equal(dns_srv_order(r2, 2, scripted, &s2), FG_OK);
	assert_string_equal(r2[0].target, "w");
	assert_string_equal(r2[1].target, "z");
}

static void test_distribution(void **state)
{
	int first[3] = {0};
	uint64_t seed = 42;
	for (int k = 0; k < 10000; k++) {
		struct dns_srv r[] = {srv(0, 60, 1, "a"), srv(0, 30, 2, "b"), srv(0, 10, 3, "c")};
		assert_int_equal(dns_srv_order(r, 3, lcg, &seed), FG_OK);
		first[r[0].port - 1]++;
	}
	/* expected 6000 / 3000 / 1000 (r in [0,100]; tolerance covers sampling noise) */
	assert_in_range(first[0], 5700, 6300);
	assert_in_range(first[1], 2700, 3300);
	assert_in_range(first[2], 850, 1150);
	/* the kernel source works too and keeps every record */
	struct dns_srv r[] = {srv(2, 5, 1, "a"), srv(1, 5, 2, "b"), srv(1, 0, 3, "c")};
	assert_int_equal(dns_srv_order(r, 3, NULL, NULL), FG_OK);
	assert_int_equal(r[2].port, 1);
	assert_int_equal(r[0].port + r[1].port, 5);
}

static void test_candidates_xep0368(void **state)
{
	struct dns_srv xmpps[] = {srv(0, 0, 5270, "tls.example.org.")};
	struct dns_srv xmpp[] = {srv(10, 0, 5269, "b.example.org."),
	                         srv(5, 0, 5269, "a.example.org.")};
	struct dns_xmpp_records in = {"example.org", xmpps, 1, xmpp, 2, true};
	struct dns_candidate c[8];
	size_t n;
	enum dns_xmpp_result res;
	assert_int_equal(dns_xmpp_candidates(&in, NULL, NULL, c, 8, &n, &res), FG_OK);
	assert_int_equal(res, DNS_XMPP_CANDIDATES);
	assert_int_equal(n, 3);
	assert_string_equal(c[0].host, "tls.example.org");
	assert_true(c[0].direct_tls);
	assert_int_equal(c[0].port, 5270);
	assert_string_equal(c[1].host, "a.example.org");
	assert_false(c[1].direct_tls);
	assert_string_equal(c[2].host, "b.example.org");
	/* TLS off: direct TLS targets are not used */
	in.allow_direct_tls = false;
	assert_int_equal(dns_xmpp_candidates(&in, NULL, NULL, c, 8, &n, &res), FG_OK);
	assert_int_equal(n, 2);
	assert_false(c[0].direct_tls);
	/* cap */
	in.allow_direct_tls = true;
	assert_int_equal(dns_xmpp_candidates(&in, NULL, NULL, c, 2, &n, &res), FG_OK);
	assert_int_equal(n, 2);
}

static void test_no_service(void **state)
{
	struct dns_srv dot[] = {srv(0, 0, 0, ".")};
	struct dns_xmpp_records in = {"example.org", NULL, 0, dot, 1, true};
	struct dns_candidate c[4];
	size_t n = 99;
	enum dns_xmpp_result res;
	assert_true(dns_srv_is_no_service(dot, 1));
	assert_int_equal(dns_xmpp_candidates(&in, NULL, NULL, c, 4, &n, &res), FG_OK);
	assert_int_equal(res, DNS_XMPP_NO_SERVICE);
	assert_int_equal(n, 0);
	assert_string_equal(dns_xmpp_result_name(res), "no-service");
	/* "." for STARTTLS but a direct TLS target exists: use it */
	struct dns_srv xmpps[] = {srv(0, 0, 5270, "tls.example.org")};
	in.xmpps = xmpps;
	in.n_xmpps = 1;
	assert_int_equal(dns_xmpp_candidates(&in, NULL, NULL, c, 4, &n, &res), FG_OK);
	assert_int_equal(res, DNS_XMPP_CANDIDATES);
	assert_int_equal(n, 1);
	assert_true(c[0].direct_tls);
}

static void test_fallback(void **state)
{
	struct dns_xmpp_records in = {"example.org", NULL, 0, NULL, 0, true};
	struct dns_candidate c[4];
	size_t n;
	enum dns_xmpp_result res;
	assert_int_equal(dns_xmpp_candidates(&in, NULL, NULL, c, 4, &n, &res), FG_OK);
	assert_int_equal(res, DNS_XMPP_FALLBACK);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].host, "example.org");
	assert_int_equal(c[0].port, 5269);
	assert_false(c[0].direct_tls);
	struct dns_srv many[DNS_MAX_SRV + 1];
	for (size_t i = 0; i < DNS_MAX_SRV + 1; i++)
		many[i] = srv(0, 1, 1, "x");
	assert_int_equal(dns_srv_order(many, DNS_MAX_SRV + 1, NULL, NULL), FG_ERR_TOOBIG);
	assert_int_equal(dns_xmpp_candidates(NULL, NULL, NULL, c, 4, &n, &res), FG_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_priority_then_weight), cmocka_unit_test(test_zero_weight),
	    cmocka_unit_test(test_distribution),         cmocka_unit_test(test_candidates_xep0368),
	    cmocka_unit_test(test_no_service),           cmocka_unit_test(test_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
