/* Unit tests of pki: DER encodings (X.690), PEM (RFC 7468), keys, CSRs, certificates, chains. */
#include "pki/pki.h"
#include "pki/pki_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW_MS 1795000000000LL /* 2026-11-18 11:06:40 UTC */
#define DAY_MS (86400LL * 1000)

static void der_is(struct pki_der *d, const char *hex)
{
	char got[1024];
	assert_int_equal(pki_der_finish(d), FG_OK);
	assert_true(d->buf.len * 2 < sizeof(got));
	fg_hex(got, d->buf.data, d->buf.len);
	assert_string_equal(got, hex);
	pki_der_free(d);
	pki_der_init(d);
}

static void test_der_integers(void **state)
{
	struct pki_der d;
	pki_der_init(&d);
	pki_der_int(&d, 0);
	der_is(&d, "020100");
	pki_der_int(&d, 127);
	der_is(&d, "02017f");
	pki_der_int(&d, 128);
	der_is(&d, "02020080");
	pki_der_int(&d, 256);
	der_is(&d, "02020100");
	pki_der_int(&d, -1);
	der_is(&d, "0201ff");
	pki_der_int(&d, -128);
	der_is(&d, "020180");
	pki_der_int(&d, -129);
	der_is(&d, "0202ff7f");
	pki_der_uint(&d, (const uint8_t *)"\x00\x00\x80\x01", 4);
	der_is(&d, "0203008001");
	pki_der_uint(&d, (const uint8_t *)"\x00\x00", 2);
	der_is(&d, "020100");
	pki_der_bool(&d, true);
	pki_der_null(&d);
	der_is(&d, "0101ff0500");
	pki_der_free(&d);
}

static void test_der_oid_strings(void **state)
{
	struct pki_der d;
	pki_der_init(&d);
	pki_der_oid(&d, "1.2.840.113549");
	der_is(&d, "06062a864886f70d");
	pki_der_oid(&d, "2.5.4.3");
	der_is(&d, "0603550403");
	pki_der_oid(&d, "1.3.6.1.5.5.7.8.7");
	der_is(&d, "06082b06010505070807");
	pki_der_string(&d, PKI_TAG_UTF8_STRING, "ab");
	pki_der_string(&d, PKI_TAG_PRINTABLE_STRING, "DE");
	pki_der_string(&d, PKI_TAG_IA5_STRING, "x");
	der_is(&d, "0c02616213024445160178");
	pki_der_bits(&d, "\x01", 1);
	pki_der_octets(&d, "\xaa", 1);
	der_is(&d, "030200010401aa");
	/* Bad OIDs are sticky errors. */
	pki_der_oid(&d, "1");
	assert_int_equal(pki_der_finish(&d), FG_ERR_INVAL);
	pki_der_free(&d);
	pki_der_init(&d);
	pki_der_oid(&d, "3.1");
	assert_int_equal(pki_der_finish(&d), FG_ERR_INVAL);
	pki_der_free(&d);
	pki_der_init(&d);
	pki_der_oid(&d, "1.2.x");
	assert_int_equal(pki_der_finish(&d), FG_ERR_INVAL);
	pki_der_free(&d);

	char txt[64];
	assert_true(
	    pki_oid_to_text((const uint8_t *)"\x2a\x86\x48\x86\xf7\x0d", 6, txt, sizeof(txt)));
	assert_string_equal(txt, "1.2.840.113549");
	assert_false(pki_oid_to_text((const uint8_t *)"\x2a\x86", 2, txt, sizeof(txt)));
}

static void test_der_nesting_long_length(void **state)
{
	struct pki_der d;
	uint8_t big[200];
	memset(big, 0x11, sizeof(big));
	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_begin(&d, PKI_TAG_SET);
	pki_der_int(&d, 5);
	pki_der_end(&d);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(3));
	pki_der_end(&d);
	pki_der_tlv(&d, PKI_TAG_CTX(2), "a", 1);
	pki_der_end(&d);
	der_is(&d, "300a3103020105a300820161");
	pki_der_octets(&d, big, sizeof(big));
	assert_int_equal(pki_der_finish(&d), FG_OK);
	assert_int_equal(d.buf.len, 203);
	assert_memory_equal(d.buf.data, "\x04\x81\xc8", 3);
	pki_der_free(&d);

	/* 300 bytes inside a SEQUENCE: two length bytes inserted at the end. */
	uint8_t big2[300] = {0};
	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_octets(&d, big2, sizeof(big2));
	pki_der_end(&d);
	assert_int_equal(pki_der_finish(&d), FG_OK);
	assert_memory_equal(d.buf.data, "\x30\x82\x01\x30\x04\x82\x01\x2c", 8);
	pki_der_free(&d);

	/* An unclosed value is an error. */
	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	assert_int_equal(pki_der_finish(&d), FG_ERR_INVAL);
	pki_der_free(&d);
}

static void test_der_time(void **state)
{
	struct pki_der d;
	int64_t ms;
	pki_der_init(&d);
	pki_der_time(&d, 1795000000000LL); /* 2026-11-18 11:06:40 UTC */
	der_is(&d, "170d3236313131383131303634305a");
	pki_der_time(&d, 2524608000000LL); /* 2050-01-01 00:00:00: GeneralizedTime */
	der_is(&d, "180f32303530303130313030303030305a");
	pki_der_time(&d, 946684799000LL); /* 1999-12-31 23:59:59 */
	der_is(&d, "170d3939313233313233353935395a");
	pki_der_free(&d);

	assert_true(pki_time_parse(PKI_TAG_UTC_TIME, (const uint8_t *)"261118110640Z", 13, &ms));
	assert_int_equal(ms, 1795000000000LL);
	assert_true(pki_time_parse(PKI_TAG_UTC_TIME, (const uint8_t *)"991231235959Z", 13, &ms));
	assert_int_equal(ms, 946684799000LL);
	assert_true(
	    pki_time_parse(PKI_TAG_GENERALIZED_TIME, (const uint8_t *)"20500101000000Z", 15, &ms));
	assert_int_equal(ms, 2524608000000LL);
	assert_false(pki_time_parse(PKI_TAG_UTC_TIME, (const uint8_t *)"2611180946Z", 11, &ms));
	assert_false(pki_time_parse(PKI_TAG_UTC_TIME, (const uint8_t *)"261318094640Z", 13, &ms));
	assert_false(pki_time_parse(PKI_TAG_UTC_TIME, (const uint8_t *)"26111809464+Z", 13, &ms));
}

static void test_der_reader(void **state)
{
	struct pki_tlv t;
	bool bad = false;
	struct pki_der_rd r = {(const uint8_t *)"\x30\x03\x02\x01\x05\x04\x00", 7};
	assert_true(pki_der_next(&r, &t, &bad));
	assert_int_equal(t.tag, 0x30);
	assert_int_equal(t.len, 3);
	assert_true(pki_der_next(&r, &t, &bad));
	assert_int_equal(t.len, 0);
	assert_false(pki_der_next(&r, &t, &bad));
	assert_false(bad);
	/* Non-minimal length, truncated value, indefinite length, high tag number. */
	const char *badin[] = {"\x04\x81\x05\x00\x00\x00\x00\x00", "\x04\x05\x00",
	                       "\x30\x80\x00\x00", "\x1f\x01\x00"};
	const size_t badlen[] = {8, 3, 4, 3};
	for (size_t i = 0; i < 4; i++) {
		struct pki_der_rd rb = {(const uint8_t *)badin[i], badlen[i]};
		bad = false;
		assert_false(pki_der_next(&rb, &t, &bad));
		assert_true(bad);
	}
}

static const char pem_cert_text[] =
    "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";

static void test_pem_roundtrip_and_errors(void **state)
{
	struct pki_pem p = {0};
	struct fg_buf b = {0};
	char err[PKI_MSG_MAX];
	assert_int_equal(
	    pki_pem_encode(&b, "CERTIFICATE", (const uint8_t *)"\x30\x03\x02\x01\x05", 5), FG_OK);
	assert_string_equal((char *)b.data, pem_cert_text);
	fg_buf_append_str(&b, "\r\n");
	assert_int_equal(pki_pem_encode(&b, "PRIVATE KEY", (const uint8_t *)"\x01\x02", 2), FG_OK);
	assert_int_equal(pki_pem_decode((char *)b.data, b.len, &p, err, sizeof(err)), FG_OK);
	assert_int_equal(p.count, 2);
	assert_string_equal(p.blocks[0].label, "CERTIFICATE");
	assert_int_equal(p.blocks[0].len, 5);
	assert_memory_equal(p.blocks[0].der, "\x30\x03\x02\x01\x05", 5);
	assert_string_equal(p.blocks[1].label, "PRIVATE KEY");
	pki_pem_clear(&p);
	fg_buf_free(&b);

	/* Without a final newline, with text before the block, with EC PARAMETERS, CRLF. */
	const char *good[] = {
	    "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----",
	    "subject=CN = x\n-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n\n",
	    ("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
	     "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n"),
	    "-----BEGIN CERTIFICATE-----\r\nMAMCAQU=\r\n-----END CERTIFICATE-----\r\n",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(pki_pem_decode(good[i], strlen(good[i]), &p, err, sizeof(err)),
		                 FG_OK);
		assert_int_equal(p.count, 1);
		pki_pem_clear(&p);
	}

	struct {
		const char *text;
		const char *says;
	} bad[] = {
	    {"hello", "no PEM block"},
	    {"", "no PEM block"},
	    {"-----BEGIN PUBLIC KEY-----\nMAMCAQU=\n-----END PUBLIC KEY-----\n",
	     "unknown PEM block"},
	    {"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAMCAQU=\n-----END ENCRYPTED PRIVATE "
	     "KEY-----\n",
	     "decrypt it first"},
	    {"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
	     "MAMCAQU=\n-----END RSA PRIVATE KEY-----\n",
	     "decrypt it first"},
	    {"-----BEGIN CERTIFICATE-----\nMA*CAQU=\n-----END CERTIFICATE-----\n",
	     "invalid base64"},
	    {"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\ngarbage\n",
	     "after the last PEM block"},
	    {"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n", "no END line"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_not_equal(
		    pki_pem_decode(bad[i].text, strlen(bad[i].text), &p, err, sizeof(err)), FG_OK);
		assert_int_equal(p.count, 0);
		if (strstr(err, bad[i].says) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].says);
	}
}

static struct pki_key *ec_key(enum pki_key_type t)
{
	struct pki_key *k = NULL;
	assert_int_equal(pki_key_generate(t, &k), FG_OK);
	return k;
}

static void test_key_pem_roundtrip(void **state)
{
	enum pki_key_type types[] = {PKI_KEY_EC_P256, PKI_KEY_EC_P384, PKI_KEY_RSA_2048};
	for (size_t i = 0; i < 3; i++) {
		struct pki_key *k = ec_key(types[i]), *k2 = NULL;
		struct fg_buf pem = {0};
		char err[PKI_MSG_MAX];
		assert_string_equal(k->type_name, pki_key_type_name(types[i]));
		assert_int_equal(pki_key_to_pem(k, &pem), FG_OK);
		assert_non_null(strstr((char *)pem.data, "-----BEGIN PRIVATE KEY-----"));
		assert_int_equal(pki_key_from_pem((char *)pem.data, pem.len, &k2, err, sizeof(err)),
		                 FG_OK);
		assert_string_equal(k2->type_name, k->type_name);
		if (k->br_type == BR_KEYTYPE_EC)
			assert_memory_equal(k2->ec_pub.q, k->ec_pub.q, k->ec_pub.qlen);
		else
			assert_memory_equal(k2->rsa_pub.n, k->rsa_pub.n, k->rsa_pub.nlen);
		pki_buf_wipe(&pem);
		pki_key_free(k);
		pki_key_free(k2);
	}
	enum pki_key_type t;
	assert_true(pki_key_type_parse("rsa-3072", &t));
	assert_int_equal(t, PKI_KEY_RSA_3072);
	assert_false(pki_key_type_parse("dsa", &t));
	pki_key_free(NULL);

	char err[PKI_MSG_MAX];
	struct pki_key *k = NULL;
	assert_int_not_equal(
	    pki_key_from_pem(pem_cert_text, strlen(pem_cert_text), &k, err, sizeof(err)), FG_OK);
	assert_non_null(strstr(err, "no private key"));
	const char junk[] = "-----BEGIN PRIVATE KEY-----\nMAMCAQU=\n-----END PRIVATE KEY-----\n";
	assert_int_not_equal(pki_key_from_pem(junk, strlen(junk), &k, err, sizeof(err)), FG_OK);
	assert_non_null(strstr(err, "not a valid private key"));
}

static const char *const dns[] = {"xmpp.example.com", "example.com"};
static const char *const ips[] = {"192.0.2.1", "2001:db8::5"};
static const char *const xd[] = {"example.com"};

static struct pki_subject_params params(void)
{
	struct pki_subject_params p = {.cn = "xmpp.example.com",
	                               .o = "Example",
	                               .c = "SE",
	                               .dns = dns,
	                               .dns_count = 2,
	                               .ips = ips,
	                               .ip_count = 2,
	                               .xmpp_domains = xd,
	                               .xmpp_count = 1};
	return p;
}

static bool has_san(const struct pki_cert *c, enum pki_san_type t, const char *v)
{
	for (size_t i = 0; i < c->san_count; i++)
		if (c->sans[i].type == t && strcmp(c->sans[i].value, v) == 0)
			return true;
	return false;
}

static void test_csr_create_parse(void **state)
{
	struct pki_key *k = ec_key(PKI_KEY_EC_P256);
	struct pki_subject_params p = params();
	struct fg_buf der = {0};
	struct pki_cert *c = NULL;
	assert_int_equal(pki_csr_create(k, &p, &der), FG_OK);
	assert_int_equal(pki_csr_parse(der.data, der.len, &c), FG_OK);
	assert_true(c->is_csr);
	assert_string_equal(c->subject, "CN=xmpp.example.com, O=Example, C=SE");
	assert_string_equal(c->key_type, "ec-p256");
	assert_true(c->self_signed); /* the request's signature verifies */
	assert_true(has_san(c, PKI_SAN_DNS, "example.com"));
	assert_true(has_san(c, PKI_SAN_IP, "2001:db8::5"));
	assert_true(has_san(c, PKI_SAN_SRV, "_xmpp-server.example.com"));
	assert_false(has_san(c, PKI_SAN_XMPP, "example.com"));
	assert_true(pki_key_matches(k, c));
	/* A CSR is not a certificate. */
	struct pki_cert *c2 = NULL;
	assert_int_equal(pki_cert_parse(der.data, der.len, &c2), FG_ERR_PARSE);
	pki_cert_free(c);
	/* Missing CN is refused. */
	p.cn = "";
	assert_int_equal(pki_csr_create(k, &p, &der), FG_ERR_INVAL);
	p = params();
	const char *bad_ip[] = {"300.1.1.1"};
	p.ips = bad_ip;
	p.ip_count = 1;
	assert_int_equal(pki_csr_create(k, &p, &der), FG_ERR_INVAL);
	fg_buf_free(&der);
	pki_key_free(k);
}

static void test_selfsigned_create_parse(void **state)
{
	struct pki_key *k = ec_key(PKI_KEY_EC_P384), *other = ec_key(PKI_KEY_EC_P384);
	struct pki_subject_params p = params();
	struct fg_buf der = {0};
	struct pki_cert *c = NULL;
	p.xmpp_addr = true;
	assert_int_equal(pki_selfsigned_create(k, &p, NOW_MS, 90, &der), FG_OK);
	assert_int_equal(pki_cert_parse(der.data, der.len, &c), FG_OK);
	assert_false(c->is_csr);
	assert_string_equal(c->subject, "CN=xmpp.example.com, O=Example, C=SE");
	assert_string_equal(c->issuer, c->subject);
	assert_int_equal(c->not_before_ms, NOW_MS - 5 * 60 * 1000);
	assert_int_equal(c->not_after_ms, NOW_MS + 90 * DAY_MS);
	assert_string_equal(c->key_type, "ec-p384");
	assert_int_equal(c->key_bits, 384);
	assert_false(c->is_ca);
	assert_true(c->self_signed);
	assert_int_equal(strlen(c->serial_hex), 32);
	assert_int_equal(strlen(c->fingerprint), 95);
	assert_int_equal(c->fingerprint[2], ':');
	assert_true(has_san(c, PKI_SAN_DNS, "xmpp.example.com"));
	assert_true(has_san(c, PKI_SAN_IP, "192.0.2.1"));
	assert_true(has_san(c, PKI_SAN_SRV, "_xmpp-server.example.com"));
	assert_true(has_san(c, PKI_SAN_XMPP, "example.com"));
	assert_true(pki_key_matches(k, c));
	assert_false(pki_key_matches(other, c));
	/* A flipped signature byte: no longer self-signed. */
	der.data[der.len - 3] ^= 1;
	pki_cert_free(c);
	assert_int_equal(pki_cert_parse(der.data, der.len, &c), FG_OK);
	assert_false(c->self_signed);
	pki_cert_free(c);
	/* Every truncation of a certificate fails cleanly. */
	for (size_t n = 0; n < der.len; n += 7) {
		c = NULL;
		assert_int_not_equal(pki_cert_parse(der.data, n, &c), FG_OK);
		assert_null(c);
	}
	assert_int_equal(pki_selfsigned_create(k, &p, NOW_MS, 0, &der), FG_ERR_INVAL);
	fg_buf_free(&der);
	pki_key_free(k);
	pki_key_free(other);
}

static void test_selfsigned_rsa(void **state)
{
	struct pki_key *k = ec_key(PKI_KEY_RSA_2048);
	struct pki_subject_params p = {.cn = "console.local"};
	struct fg_buf der = {0};
	struct pki_cert *c = NULL;
	assert_int_equal(pki_selfsigned_create(k, &p, NOW_MS, 825, &der), FG_OK);
	assert_int_equal(pki_cert_parse(der.data, der.len, &c), FG_OK);
	assert_string_equal(c->key_type, "rsa-2048");
	assert_string_equal(c->subject, "CN=console.local");
	assert_int_equal(c->san_count, 0);
	assert_true(c->self_signed);
	assert_true(pki_key_matches(k, c));
	pki_cert_free(c);
	fg_buf_free(&der);
	pki_key_free(k);
}

/* A certificate for cn signed by issuer_key under issuer_cn (test helper). */
static struct pki_cert *make_cert(const char *cn, const struct pki_key *subject_key,
                                  const char *issuer_cn, const struct pki_key *issuer_key, bool ca,
                                  int64_t nb, int64_t na)
{
	struct pki_der d;
	uint8_t sig[200];
	size_t sig_len;
	struct pki_cert *c = NULL;
	pki_der_init(&d);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(0));
	pki_der_int(&d, 2);
	pki_der_end(&d);
	pki_der_int(&d, 7);
	pki__sig_alg(&d, issuer_key);
	const char *names[2] = {issuer_cn, cn};
	for (int i = 0; i < 2; i++) {
		if (i == 1) {
			pki_der_begin(&d, PKI_TAG_SEQUENCE);
			pki_der_time(&d, nb);
			pki_der_time(&d, na);
			pki_der_end(&d);
		}
		pki_der_begin(&d, PKI_TAG_SEQUENCE);
		pki_der_begin(&d, PKI_TAG_SET);
		pki_der_begin(&d, PKI_TAG_SEQUENCE);
		pki_der_oid(&d, PKI_OID_CN);
		pki_der_string(&d, PKI_TAG_UTF8_STRING, names[i]);
		pki_der_end(&d);
		pki_der_end(&d);
		pki_der_end(&d);
	}
	pki__spki(&d, subject_key);
	pki_der_begin(&d, PKI_TAG_CTX_CONS(3));
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_begin(&d, PKI_TAG_SEQUENCE);
	pki_der_oid(&d, PKI_OID_BASIC_CONSTRAINTS);
	if (ca)
		pki_der_octets(&d, "\x30\x03\x01\x01\xff", 5);
	else
		pki_der_octets(&d, "\x30\x00", 2);
	pki_der_end(&d);
	pki_der_end(&d);
	pki_der_end(&d);
	pki_der_end(&d);
	assert_int_equal(pki_der_finish(&d), FG_OK);
	assert_int_equal(pki__sign(issuer_key, d.buf.data, d.buf.len, sig, sizeof(sig), &sig_len),
	                 FG_OK);
	struct pki_der o;
	pki_der_init(&o);
	pki_der_begin(&o, PKI_TAG_SEQUENCE);
	pki_der_raw(&o, d.buf.data, d.buf.len);
	pki__sig_alg(&o, issuer_key);
	pki_der_bits(&o, sig, sig_len);
	pki_der_end(&o);
	assert_int_equal(pki_der_finish(&o), FG_OK);
	assert_int_equal(pki_cert_parse(o.buf.data, o.buf.len, &c), FG_OK);
	pki_der_free(&d);
	pki_der_free(&o);
	return c;
}

struct chain_fixture {
	struct pki_key *root_k, *int_k, *leaf_k;
	struct pki_cert *root, *inter, *leaf, *expired_leaf, *nonca, *leaf_of_nonca;
};

static int chain_setup(void **state)
{
	struct chain_fixture *f = calloc(1, sizeof(*f));
	int64_t nb = NOW_MS - 10 * DAY_MS, na = NOW_MS + 100 * DAY_MS;
	f->root_k = ec_key(PKI_KEY_EC_P256);
	f->int_k = ec_key(PKI_KEY_EC_P384);
	f->leaf_k = ec_key(PKI_KEY_EC_P256);
	f->root = make_cert("Root CA", f->root_k, "Root CA", f->root_k, true, nb, na);
	f->inter = make_cert("Intermediate CA", f->int_k, "Root CA", f->root_k, true, nb, na);
	f->leaf =
	    make_cert("host.example.com", f->leaf_k, "Intermediate CA", f->int_k, false, nb, na);
	f->expired_leaf = make_cert("host.example.com", f->leaf_k, "Intermediate CA", f->int_k,
	                            false, nb, NOW_MS - DAY_MS);
	f->nonca = make_cert("Not A CA", f->int_k, "Root CA", f->root_k, false, nb, na);
	f->leaf_of_nonca =
	    make_cert("host.example.com", f->leaf_k, "Not A CA", f->int_k, false, nb, na);
	*state = f;
	return 0;
}

static int chain_teardown(void **state)
{
	struct chain_fixture *f = *state;
	pki_key_free(f->root_k);
	pki_key_free(f->int_k);
	pki_key_free(f->leaf_k);
	pki_cert_free(f->root);
	pki_cert_free(f->inter);
	pki_cert_free(f->leaf);
	pki_cert_free(f->expired_leaf);
	pki_cert_free(f->nonca);
	pki_cert_free(f->leaf_of_nonca);
	free(f);
	return 0;
}

static void expect_msg(const struct pki_chain_result *r, size_t index, const char *part)
{
	assert_false(r->ok);
	assert_int_equal(r->index, index);
	if (strstr(r->message, part) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", r->message, part);
	assert_true(r->fix[0] != '\0');
}

static void test_chain_cases(void **state)
{
	struct chain_fixture *f = *state;
	struct pki_chain_result r;
	assert_true(f->root->self_signed);
	assert_true(f->root->is_ca);
	assert_false(f->leaf->self_signed);

	struct pki_cert *right[] = {f->leaf, f->inter, f->root};
	pki_chain_check(right, 3, NOW_MS, &r);
	assert_true(r.ok);
	assert_int_equal(r.order_len, 3);
	assert_int_equal(r.order[0], 0);
	assert_int_equal(r.order[2], 2);
	pki_chain_check(right, 2, NOW_MS, &r); /* root left out */
	assert_true(r.ok);

	struct pki_cert *swapped[] = {f->leaf, f->root, f->inter};
	pki_chain_check(swapped, 3, NOW_MS, &r);
	expect_msg(&r, 2,
	           "certificate 2 (CN=Root CA) does not sign certificate 1 (CN=host.example.com): "
	           "certificate 3 (CN=Intermediate CA) does — the chain is out of order: expected "
	           "leaf first, then intermediates, root last");
	assert_int_equal(r.order[1], 2);
	assert_int_equal(r.order[2], 1);

	struct pki_cert *reversed[] = {f->root, f->inter, f->leaf};
	pki_chain_check(reversed, 3, NOW_MS, &r);
	expect_msg(&r, 1,
	           "certificate 1 (CN=Root CA) is not the leaf: certificate 3 "
	           "(CN=host.example.com) is");
	assert_int_equal(r.order[0], 2);
	assert_int_equal(r.order[1], 1);
	assert_int_equal(r.order[2], 0);

	struct pki_cert *missing[] = {f->leaf, f->root};
	pki_chain_check(missing, 2, NOW_MS, &r);
	expect_msg(&r, 2,
	           "the intermediate certificate of its issuer (CN=Intermediate CA) is "
	           "missing");

	struct pki_cert *expired[] = {f->expired_leaf, f->inter, f->root};
	pki_chain_check(expired, 3, NOW_MS, &r);
	expect_msg(&r, 1, "certificate 1 (CN=host.example.com) expired on ");
	pki_chain_check(right, 3, NOW_MS + 200 * DAY_MS, &r);
	expect_msg(&r, 1, "expired on");
	pki_chain_check(right, 3, NOW_MS - 20 * DAY_MS, &r);
	expect_msg(&r, 1, "is not valid before");

	struct pki_cert *nonca[] = {f->leaf_of_nonca, f->nonca, f->root};
	pki_chain_check(nonca, 3, NOW_MS, &r);
	expect_msg(&r, 2,
	           "certificate 2 (CN=Not A CA) signs certificate 1 (CN=host.example.com) "
	           "but is not a CA certificate");

	struct pki_cert *root_first[] = {f->root, f->leaf};
	pki_chain_check(root_first, 2, NOW_MS, &r);
	assert_false(r.ok);

	struct pki_cert *dup[] = {f->leaf, f->inter, f->inter, f->root};
	pki_chain_check(dup, 4, NOW_MS, &r);
	expect_msg(&r, 3, "certificate 3 (CN=Intermediate CA) is the same as certificate 2");
	assert_int_equal(r.order_len, 3);

	pki_chain_check(NULL, 0, NOW_MS, &r);
	assert_false(r.ok);
}

static void test_certs_from_pem(void **state)
{
	struct chain_fixture *f = *state;
	struct fg_buf pem = {0};
	struct pki_cert **list = NULL;
	size_t n = 0;
	char err[PKI_MSG_MAX];
	pki_pem_encode(&pem, "CERTIFICATE", f->leaf->der, f->leaf->der_len);
	pki_pem_encode(&pem, "CERTIFICATE", f->inter->der, f->inter->der_len);
	assert_int_equal(pki_certs_from_pem((char *)pem.data, pem.len, &list, &n, err, sizeof(err)),
	                 FG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(list[1]->subject, "CN=Intermediate CA");
	assert_true(pki_key_matches(f->leaf_k, list[0]));
	pki_certs_free(list, n);
	/* A block that is not a certificate. */
	pki_pem_encode(&pem, "CERTIFICATE", (const uint8_t *)"\x30\x03\x02\x01\x05", 5);
	assert_int_equal(pki_certs_from_pem((char *)pem.data, pem.len, &list, &n, err, sizeof(err)),
	                 FG_ERR_PARSE);
	assert_non_null(strstr(err, "certificate 3"));
	fg_buf_free(&pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_der_integers),
	    cmocka_unit_test(test_der_oid_strings),
	    cmocka_unit_test(test_der_nesting_long_length),
	    cmocka_unit_test(test_der_time),
	    cmocka_unit_test(test_der_reader),
	    cmocka_unit_test(test_pem_roundtrip_and_errors),
	    cmocka_unit_test(test_key_pem_roundtrip),
	    cmocka_unit_test(test_csr_create_parse),
	    cmocka_unit_test(test_selfsigned_create_parse),
	    cmocka_unit_test(test_selfsigned_rsa),
	    cmocka_unit_test_setup_teardown(test_chain_cases, chain_setup, chain_teardown),
	    cmocka_unit_test_setup_teardown(test_certs_from_pem, chain_setup, chain_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
