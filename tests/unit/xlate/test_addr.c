/* Unit tests: RFC 7247 §6 address mapping with XEP-0106 escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip.h"
#include "xlate/xlate.h"

static const struct {
	const char *sip;
	const char *jid;
} to_xmpp[] = {
    {"sip:juliet@example.com", "juliet@example.com"},
    {"sips:juliet@example.com", "juliet@example.com"},
    {"sip:Juliet@EXAMPLE.Com", "Juliet@example.com"}, /* domain lower-cased, local kept */
    {"sip:juliet@example.com;gr=balcony", "juliet@example.com/balcony"},
    {"sip:juliet@example.com:5061;transport=tls", "juliet@example.com"},
    {"sip:juliet%20capulet@example.com", "juliet\\20capulet@example.com"},
    {"sip:d'artagnan@example.com", "d\\27artagnan@example.com"},
    {"sip:a%2Fb%3Ac@example.com", "a\\2fb\\3ac@example.com"},
    {"sip:%E2%98%83@example.com", "\xe2\x98\x83@example.com"},
    {"sip:example.com", "example.com"},
    {"sip:x@example.com;gr=urn:uuid:f81d4fae", "x@example.com/urn:uuid:f81d4fae"},
    /* the examples of RFC 7247 §6.4 (steps 3, 5 and 8) */
    {"sip:f%C3%BC@sip.example", "f\xc3\xbc@sip.example"},
    {"sip:o'malley@sip.example", "o\\27malley@sip.example"},
    {"sip:foo@sip.example;gr=bar", "foo@sip.example/bar"},
    /* XEP-0106 §5.1 example 9: '\' is escaped too (lossless; see jid_escape) */
    {"sip:c%3A%5Cnet@example.com", "c\\3a\\5cnet@example.com"},
};

/* RFC 7247 §6.4 step 1: im: (RFC 3860) and pres: (RFC 3859) URIs map the same way */
static const struct {
	const char *uri;
	const char *jid;
} im_pres[] = {
    {"im:romeo@example.net", "romeo@example.net"},
    {"pres:o'hara@x.example", "o\\27hara@x.example"},
    {"IM:a%20b@Example.NET.?subject=hi", "a\\20b@example.net"},
    {"pres:f%C3%BC@sip.example", "f\xc3\xbc@sip.example"},
};

static const char *const refused[] = {
    "tel:+15551234567",              /* not sip */
    "sip:null-%00-null@example.com", /* RFC 4475 escnull: NUL cannot be in a JID */
    "sip:bell%07@example.com",
    "sip:user@192.0.2.1", /* IP literal */
    "sip:user@[2001:db8::1]",
    "sip:%FF@example.com", /* not UTF-8 */
    "sip:user@",
    "sip:user@example.com;gr",       /* temporary GRUU: RFC 7247 §6.3 does not apply */
    "sip:user@example.com;gr=a%01b", /* RFC 7622 §3.4: no controls in a resourcepart */
    "sip:user@example.com;gr=a%7Fb",
    "im:romeo", /* no user@domain */
    "im:@example.net",
    "pres:romeo@",
    "pres:romeo@192.0.2.1", /* IP literal, as for sip: */
    "im:a%4@example.net",   /* broken percent-encoding */
    "im:a%00b@example.net",
    "im:a@exa mple.net",
};

static const struct {
	const char *jid;
	const char *sip;
} to_sip[] = {
    {"juliet@example.com", "sip:juliet@example.com"},
    {"juliet@Example.COM/balcony", "sip:juliet@example.com;gr=balcony"},
    {"juliet\\20capulet@example.com", "sip:juliet%20capulet@example.com"},
    {"d\\27artagnan@example.com", "sip:d'artagnan@example.com"},
    {"\xe2\x98\x83@example.com", "sip:%E2%98%83@example.com"},
    {"example.com", "sip:example.com"},
    {"a@example.com/res with space", "sip:a@example.com;gr=res%20with%20space"},
    {"a\\5cb@example.com", "sip:a%5Cb@example.com"},
    /* the examples of RFC 7247 §6.5 (steps 3, 5 and 8) */
    {"m\\26m@xmpp.example", "sip:m&m@xmpp.example"},
    {"tsch\xc3\xbcss@xmpp.example", "sip:tsch%C3%BCss@xmpp.example"},
    {"baz@xmpp.example/qux", "sip:baz@xmpp.example;gr=qux"},
    /* XEP-0106 §4.3: a sequence that is no escape stays as it is */
    {"foob\\41r@example.com", "sip:foob%5C41r@example.com"},
};

static void t_to_xmpp(void **st)
{
	for (size_t i = 0; i < sizeof(to_xmpp) / sizeof(to_xmpp[0]); i++) {
		struct fg_buf b = {0};
		const char *why = NULL;
		enum fg_err e =
		    xlate_addr_sip_to_xmpp(to_xmpp[i].sip, strlen(to_xmpp[i].sip), &b, &why);
		if (e)
			fprintf(stderr, "%s: %s\n", to_xmpp[i].sip, why);
		assert_int_equal(e, FG_OK);
		assert_string_equal(fg_buf_cstr(&b), to_xmpp[i].jid);
		fg_buf_free(&b);
	}
}

static void t_im_pres(void **st)
{
	for (size_t i = 0; i < sizeof(im_pres) / sizeof(im_pres[0]); i++) {
		struct fg_buf b = {0};
		const char *why = NULL;
		enum fg_err e =
		    xlate_addr_sip_to_xmpp(im_pres[i].uri, strlen(im_pres[i].uri), &b, &why);
		if (e)
			fprintf(stderr, "%s: %s\n", im_pres[i].uri, why);
		assert_int_equal(e, FG_OK);
		assert_string_equal(fg_buf_cstr(&b), im_pres[i].jid);
		fg_buf_free(&b);
	}
}

static void t_refused(void **st)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct fg_buf b = {0};
		const char *why = NULL;
		enum fg_err e = xlate_addr_sip_to_xmpp(refused[i], strlen(refused[i]), &b, &why);
		if (!e)
			fprintf(stderr, "accepted %s\n", refused[i]);
		assert_int_not_equal(e, FG_OK);
		assert_non_null(why);
		assert_int_equal(b.len, 0);
		fg_buf_free(&b);
	}
}

/* The parsed-URI form gives the same JID for every row, its parts, and the domain
 * replacement; refusals stay refusals. */
static void t_uri_to_jid(void **st)
{
	for (size_t i = 0; i < sizeof(to_xmpp) / sizeof(to_xmpp[0]); i++) {
		struct sip_uri *u = NULL;
		struct sip_error err;
		struct xlate_jid_parts p;
		char jid[3072];
		assert_int_equal(sip_uri_parse(to_xmpp[i].sip, strlen(to_xmpp[i].sip), &u, &err),
		                 FG_OK);
		assert_int_equal(xlate_addr_uri_to_jid(u, NULL, jid, sizeof(jid), &p, NULL), FG_OK);
		assert_string_equal(jid, to_xmpp[i].jid);
		assert_int_equal(p.len, strlen(jid));
		const char *at = strchr(to_xmpp[i].jid, '@');
		assert_int_equal(p.local_len, at ? (size_t)(at - to_xmpp[i].jid) : 0);
		assert_int_equal(p.domain_off, at ? p.local_len + 1 : 0);
		assert_true(p.domain_off + p.domain_len +
		                (p.resource_len ? p.resource_len + 1 : 0) ==
		            p.len);
		if (p.resource_len)
			assert_int_equal(jid[p.domain_off + p.domain_len], '/');
		/* a mapped domain replaces the host */
		assert_int_equal(
		    xlate_addr_uri_to_jid(u, "xmpp.example", jid, sizeof(jid), &p, NULL), FG_OK);
		assert_int_equal(p.domain_len, strlen("xmpp.example"));
		assert_memory_equal(jid + p.domain_off, "xmpp.example", p.domain_len);
		/* too small a buffer is refused, never cut */
		assert_int_equal(xlate_addr_uri_to_jid(u, NULL, jid, 5, &p, NULL), FG_ERR_TOOBIG);
		assert_int_equal(p.len, 0);
		sip_uri_free(u);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct sip_uri *u = NULL;
		struct sip_error err;
		struct xlate_jid_parts p;
		char jid[3072];
		if (sip_uri_parse(refused[i], strlen(refused[i]), &u, &err) != FG_OK)
			continue; /* the parser refuses it first */
		const char *why = NULL;
		assert_int_not_equal(xlate_addr_uri_to_jid(u, NULL, jid, sizeof(jid), &p, &why),
		                     FG_OK);
		assert_non_null(why);
		sip_uri_free(u);
	}
	/* a URI the message parser kept opaque (tel:) */
	struct sip_uri other = {.scheme = SIP_SCHEME_OTHER};
	struct xlate_jid_parts p;
	char jid[64];
	assert_int_equal(xlate_addr_uri_to_jid(&other, NULL, jid, sizeof(jid), &p, NULL),
	                 FG_ERR_VERSION);
}

static void t_to_sip(void **st)
{
	for (size_t i = 0; i < sizeof(to_sip) / sizeof(to_sip[0]); i++) {
		struct fg_buf b = {0};
		assert_int_equal(
		    xlate_addr_xmpp_to_sip(to_sip[i].jid, strlen(to_sip[i].jid), &b, NULL), FG_OK);
		assert_string_equal(fg_buf_cstr(&b), to_sip[i].sip);
		fg_buf_free(&b);
	}
	static const char *const bad[] = {"@example.com", "a@", "a@b/", "a@ex ample.com",
	                                  "a@\xc3\x28"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fg_buf b = {0};
		const char *why = NULL;
		assert_int_not_equal(xlate_addr_xmpp_to_sip(bad[i], strlen(bad[i]), &b, &why),
		                     FG_OK);
		assert_non_null(why);
		fg_buf_free(&b);
	}
}

static void t_round_trip(void **st)
{
	static const char *const jids[] = {"juliet\\20capulet@example.com", "o'hara@example.com",
	                                   "x@example.com/home"};
	for (size_t i = 0; i < sizeof(jids) / sizeof(jids[0]); i++) {
		struct fg_buf s = {0}, j = {0};
		assert_int_equal(xlate_addr_xmpp_to_sip(jids[i], strlen(jids[i]), &s, NULL), FG_OK);
		assert_int_equal(xlate_addr_sip_to_xmpp((const char *)s.data, s.len, &j, NULL),
		                 FG_OK);
		const char *want =
		    strcmp(jids[i], "o'hara@example.com") == 0 ? "o\\27hara@example.com" : jids[i];
		assert_string_equal(fg_buf_cstr(&j), want);
		fg_buf_free(&s);
		fg_buf_free(&j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_to_xmpp),    cmocka_unit_test(t_refused),
	    cmocka_unit_test(t_uri_to_jid), cmocka_unit_test(t_to_sip),
	    cmocka_unit_test(t_round_trip), cmocka_unit_test(t_im_pres),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
