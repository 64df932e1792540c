/* Unit tests of RFC 6125 XMPP server identity checks (RFC 6120 §13.7.2): DNS-ID with
 * wildcards, SRV-ID (RFC 4985), id-on-xmppAddr, CN only without those SANs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pki/pki.h"

static struct pki_key *test_key;
static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	if (pki_key_generate(PKI_KEY_EC_P256, &test_key) != FG_OK)
		return -1;
	fg_strlcpy(tmpdir, "/tmp/fg-identity-XXXXXX", sizeof(tmpdir));
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[160];
	pki_key_free(test_key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A self-signed certificate from the pki writer. */
static void make_cert(const char *cn, const char *const *dns, size_t ndns, const char *const *xmpp,
                      size_t nxmpp, bool xmpp_addr, struct fg_buf *der)
{
	struct pki_subject_params p = {0};
	p.cn = cn;
	p.dns = dns;
	p.dns_count = ndns;
	p.xmpp_domains = xmpp;
	p.xmpp_count = nxmpp;
	p.xmpp_addr = xmpp_addr;
	assert_int_equal(pki_selfsigned_create(test_key, &p, fg_now_ms(), 30, der), FG_OK);
}

/* A self-signed certificate from the openssl command line; false if openssl is missing. */
static bool openssl_cert(const char *subj, const char *san, struct fg_buf *der)
{
	char cmd[1024], path[128];
	snprintf(path, sizeof(path), "%s/c.der", tmpdir);
	int n = snprintf(cmd, sizeof(cmd),
	                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	                 "-keyout '%s/k.pem' -subj '%s' -days 2 -outform DER -out '%s' %s%s%s "
	                 ">/dev/null 2>&1",
	                 tmpdir, subj, path, san != NULL ? "-addext 'subjectAltName=" : "",
	                 san != NULL ? san : "", san != NULL ? "'" : "");
	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	if (system(cmd) != 0)
		return false;
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t b[4096];
	size_t len = fread(b, 1, sizeof(b), f);
	fclose(f);
	assert_true(len > 0);
	assert_int_equal(fg_buf_append(der, b, len), FG_OK);
	return true;
}

static void expect(const struct fg_buf *der, const char *domain, enum pki_id_match want,
                   const char *why_part)
{
	char why[PKI_MSG_MAX];
	enum pki_id_match got = pki_cert_match_xmpp(der->data, der->len, domain, why, sizeof(why));
	if (got != want || (why_part != NULL && strstr(why, why_part) == NULL))
		print_error("domain %s: got %s (%s), want %s with \"%s\"\n", domain,
		            pki_id_match_name(got), why, pki_id_match_name(want),
		            why_part != NULL ? why_part : "");
	assert_int_equal(got, want);
	if (why_part != NULL)
		assert_non_null(strstr(why, why_part));
}

static void test_dns_id(void **state)
{
	(void)state;
	static const char *const dns[] = {"xmpp.example.org", "example.org"};
	struct fg_buf der = {0};
	make_cert("xmpp.example.org", dns, 2, NULL, 0, false, &der);
	expect(&der, "example.org", PKI_ID_DNS, "DNS-ID example.org matches example.org");
	expect(&der, "EXAMPLE.ORG", PKI_ID_DNS, NULL);
	expect(&der, "example.org.", PKI_ID_DNS, NULL);
	expect(&der, "xmpp.example.org", PKI_ID_DNS, NULL);
	expect(&der, "example.com", PKI_ID_NONE,
	       "the certificate names xmpp.example.org, example.org; none is example.com");
	expect(&der, "a.example.org", PKI_ID_NONE, NULL);
	expect(&der, "org", PKI_ID_NONE, NULL);
	fg_buf_free(&der);
}

static void test_srv_id(void **state)
{
	(void)state;
	static const char *const xmpp[] = {"chat.example.net"};
	struct fg_buf der = {0};
	/* SRVName only, and a CN that would match: the CN must not be used. */
	make_cert("other.example.net", NULL, 0, xmpp, 1, false, &der);
	expect(&der, "chat.example.net", PKI_ID_SRV,
	       "SRV-ID _xmpp-server.chat.example.net matches chat.example.net");
	expect(&der, "Chat.Example.Net", PKI_ID_SRV, NULL);
	expect(&der, "other.example.net", PKI_ID_NONE, "none is other.example.net");
	expect(&der, "example.net", PKI_ID_NONE, NULL);
	fg_buf_free(&der);
}

static void test_xmpp_addr(void **state)
{
	(void)state;
	static const char *const xmpp[] = {"im.example.edu"};
	struct fg_buf der = {0};
	make_cert("im.example.edu", NULL, 0, xmpp, 1, true, &der);
	/* The SRV-ID comes first in the certificate; either way the domain is proved. */
	char why[PKI_MSG_MAX];
	enum pki_id_match m =
	    pki_cert_match_xmpp(der.data, der.len, "im.example.edu", why, sizeof(why));
	assert_true(m == PKI_ID_SRV || m == PKI_ID_XMPPADDR);
	fg_buf_free(&der);

	/* xmppAddr alone, from openssl. */
	struct fg_buf od = {0};
	if (!openssl_cert("/CN=unrelated.example", "otherName:1.3.6.1.5.5.7.8.5;UTF8:example.com",
	                  &od))
		skip();
	expect(&od, "example.com", PKI_ID_XMPPADDR, "xmppAddr example.com matches example.com");
	expect(&od, "unrelated.example", PKI_ID_NONE,
	       "the certificate names xmppAddr:example.com; none is unrelated.example");
	fg_buf_free(&od);
}

static void test_wildcard(void **state)
{
	(void)state;
	struct fg_buf der = {0};
	if (!openssl_cert("/CN=wild", "DNS:*.example.com", &der))
		skip();
	expect(&der, "a.example.com", PKI_ID_DNS, "DNS-ID *.example.com matches a.example.com");
	expect(&der, "A.Example.COM", PKI_ID_DNS, NULL);
	expect(&der, "example.com", PKI_ID_NONE, "none is example.com");
	expect(&der, "a.b.example.com", PKI_ID_NONE, NULL);
	expect(&der, "aexample.com", PKI_ID_NONE, NULL);
	expect(&der, ".example.com", PKI_ID_NONE, NULL);
	fg_buf_free(&der);

	/* Partial-label and non-leftmost wildcards are not wildcards; "*.com" is refused. */
	struct fg_buf bad = {0};
	if (!openssl_cert("/CN=wild", "DNS:f*.example.com,DNS:a.*.example.com,DNS:*.com", &bad))
		skip();
	expect(&bad, "foo.example.com", PKI_ID_NONE, NULL);
	expect(&bad, "a.b.example.com", PKI_ID_NONE, NULL);
	expect(&bad, "example.com", PKI_ID_NONE, NULL);
	fg_buf_free(&bad);
}

static void test_cn_only(void **state)
{
	(void)state;
	struct fg_buf der = {0};
	make_cert("cn.example.org", NULL, 0, NULL, 0, false, &der);
	expect(&der, "cn.example.org", PKI_ID_CN, "CN cn.example.org matches cn.example.org");
	expect(&der, "example.com", PKI_ID_NONE,
	       "the certificate has no name for example.com (it has no subjectAltName and its "
	       "CN is 'cn.example.org')");
	fg_buf_free(&der);

	/* An IP address SAN does not stop the CN from counting (RFC 6125 §6.4.4). */
	struct fg_buf ip = {0};
	if (!openssl_cert("/O=Org/CN=foo", "IP:192.0.2.1", &ip))
		skip();
	expect(&ip, "foo", PKI_ID_CN, NULL);
	expect(&ip, "example.com", PKI_ID_NONE,
	       "(it has no DNS, SRV or xmppAddr subjectAltName and its CN is 'foo')");
	fg_buf_free(&ip);

	/* No SAN, no CN. */
	struct fg_buf none = {0};
	if (!openssl_cert("/O=Nameless", NULL, &none))
		skip();
	expect(&none, "example.com", PKI_ID_NONE, "no subjectAltName and no CN");
	fg_buf_free(&none);
}

static void test_cn_ignored_with_dns(void **state)
{
	(void)state;
	struct fg_buf der = {0};
	if (!openssl_cert("/CN=example.com", "DNS:other.example", &der))
		skip();
	expect(&der, "example.com", PKI_ID_NONE,
	       "the certificate names other.example; none is example.com");
	expect(&der, "other.example", PKI_ID_DNS, NULL);
	fg_buf_free(&der);
}

static void test_other_srv_and_jid(void **state)
{
	(void)state;
	/* An SRV-ID for another service still counts as an SRV-ID: the CN is not consulted. */
	struct fg_buf der = {0};
	if (!openssl_cert("/CN=example.com", "otherName:1.3.6.1.5.5.7.8.7;IA5:_sip.example.com",
	                  &der))
		skip();
	expect(&der, "example.com", PKI_ID_NONE,
	       "the certificate names _sip.example.com; none is example.com");
	fg_buf_free(&der);
	/* An xmppAddr holding a user's JID is not the server's domain. */
	struct fg_buf jid = {0};
	if (!openssl_cert("/CN=x", "otherName:1.3.6.1.5.5.7.8.5;UTF8:user@example.com", &jid))
		skip();
	expect(&jid, "example.com", PKI_ID_NONE, "xmppAddr:user@example.com");
	fg_buf_free(&jid);
	/* A wildcard CN follows the DNS-ID rule when the CN is used. */
	struct fg_buf wcn = {0};
	if (!openssl_cert("/CN=*.example.net", NULL, &wcn))
		skip();
	expect(&wcn, "chat.example.net", PKI_ID_CN, NULL);
	expect(&wcn, "example.net", PKI_ID_NONE, NULL);
	fg_buf_free(&wcn);
}

static void test_bad_input(void **state)
{
	(void)state;
	char why[PKI_MSG_MAX];
	static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	assert_int_equal(pki_cert_match_xmpp(junk, sizeof(junk), "example.com", why, sizeof(why)),
	                 PKI_ID_NONE);
	assert_non_null(strstr(why, "cannot be read"));
	assert_int_equal(pki_cert_match_xmpp(NULL, 0, "example.com", why, sizeof(why)),
	                 PKI_ID_NONE);
	static const char *const dns[] = {"example.org"};
	struct fg_buf der = {0};
	make_cert("example.org", dns, 1, NULL, 0, false, &der);
	assert_int_equal(pki_cert_match_xmpp(der.data, der.len, NULL, why, sizeof(why)),
	                 PKI_ID_NONE);
	assert_int_equal(pki_cert_match_xmpp(der.data, der.len, "", why, sizeof(why)), PKI_ID_NONE);
	assert_int_equal(pki_cert_match_xmpp(der.data, der.len, "*.example.org", why, sizeof(why)),
	                 PKI_ID_NONE);
	/* why may be NULL or tiny. */
	assert_int_equal(pki_cert_match_xmpp(der.data, der.len, "example.org", NULL, 0),
	                 PKI_ID_DNS);
	char small[8];
	assert_int_equal(
	    pki_cert_match_xmpp(der.data, der.len, "example.org", small, sizeof(small)),
	    PKI_ID_DNS);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	/* Every truncation of the DER is refused without reading past it. */
	for (size_t n = 0; n < der.len; n++)
		assert_int_equal(pki_cert_match_xmpp(der.data, n, "example.org", why, sizeof(why)),
		                 PKI_ID_NONE);
	assert_string_equal(pki_id_match_name(PKI_ID_XMPPADDR), "xmppAddr");
	fg_buf_free(&der);
}

static void test_many_names(void **state)
{
	(void)state;
	/* More names than the explanation holds: it is cut, the match still found. */
	enum { N = 60 };
	static char names[N][64];
	const char *dns[N];
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "host-%02zu.long-name.example.org", i);
		dns[i] = names[i];
	}
	struct fg_buf der = {0};
	make_cert("x", dns, N, NULL, 0, false, &der);
	expect(&der, "host-59.long-name.example.org", PKI_ID_DNS, NULL);
	expect(&der, "example.com", PKI_ID_NONE, ", ...; none is example.com");
	fg_buf_free(&der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dns_id),
	    cmocka_unit_test(test_srv_id),
	    cmocka_unit_test(test_xmpp_addr),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_cn_only),
	    cmocka_unit_test(test_cn_ignored_with_dns),
	    cmocka_unit_test(test_other_srv_and_jid),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_many_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
