/* sipgw configuration: the "sip.*" settings and the SIP domains with their certificates and
 * CA bundles, read from the store (docs/settings.md, docs/sipgw.md). */
#include "sipgw/sipgw_internal.h"

#include <arpa/inet.h>
#include <bearssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void get(struct db_txn *txn, const char *key, char *out, size_t outsize, const char *dflt)
{
	if (db_setting_get(txn, key, out, outsize) != FG_OK || out[0] == '\0')
		fg_strlcpy(out, dflt, outsize);
}

static uint64_t get_u64(struct db_txn *txn, const char *key, uint64_t min, uint64_t max,
                        uint64_t dflt)
{
	char v[64];
	uint64_t out;
	get(txn, key, v, sizeof(v), "");
	if (v[0] == '\0' || !fg_parse_u64(v, min, max, &out))
		return dflt;
	return out;
}

void sipgw__settings_load(struct db_txn *txn, struct sipgw_settings *s)
{
	char v[16];
	memset(s, 0, sizeof(*s));
	get(txn, "sip.enabled", v, sizeof(v), "true");
	s->enabled =
	    strcasecmp(v, "false") != 0 && strcmp(v, "0") != 0 && strcasecmp(v, "off") != 0;
	char host[DB_DOMAIN_MAX] = "localhost";
	if (gethostname(host, sizeof(host)) != 0)
		fg_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	get(txn, "sip.fqdn", s->fqdn, sizeof(s->fqdn), host);
	s->tcp_port = (uint16_t)get_u64(txn, "sip.tcp_port", 0, 65535, 5060);
	s->tls_port = (uint16_t)get_u64(txn, "sip.tls_port", 0, 65535, 5061);
	get(txn, "sip.bind", s->bind, sizeof(s->bind), "0.0.0.0");
	s->subscription_expires_s =
	    (long)get_u64(txn, "sip.subscription_expires_s", 60, 86400, XLATE_SUB_DEFAULT_EXPIRES);
	s->max_pending = (size_t)get_u64(txn, "sip.max_pending", 1, 1000000, 1000);
	s->max_message_bytes =
	    (size_t)get_u64(txn, "sip.max_message_bytes", 500, 131072, SIPGW_MAX_MESSAGE_BYTES);
	s->keepalive_s = (unsigned)get_u64(txn, "sip.keepalive_s", 0, 3600, SIPGW_KEEPALIVE_S);
	/* the DNS servers are the federation's: one resolver configuration per box */
	get(txn, "xmpp.dns_servers", s->dns_servers, sizeof(s->dns_servers), "");
	get(txn, "xmpp.dns_transparent_zones", s->dns_zones, sizeof(s->dns_zones), "");
}

bool sipgw__domain_tls(const struct db_sip_domain *d)
{
	return strcasecmp(d->transport, "tcp") != 0;
}

uint16_t sipgw__default_port(bool tls)
{
	return tls ? 5061 : 5060;
}

bool sipgw__is_ip_literal(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void load_tls(struct db_txn *txn, struct sipgw_domain_conf *d)
{
	struct db_cert cert = {0}, ca = {0};
	struct db_key key = {0};
	if (d->rec.cert_id[0] != '\0') {
		if (db_cert_get(txn, d->rec.cert_id, &cert) != FG_OK || cert.pem == NULL ||
		    cert.kind != DB_CERT_LEAF || cert.key_id[0] == '\0') {
			fg_strlcpy(d->problem, "the SIP certificate is missing or has no key",
			           sizeof(d->problem));
		} else if (db_key_get(txn, cert.key_id, &key) != FG_OK || key.pem == NULL) {
			fg_strlcpy(d->problem,
			           "the SIP certificate has no private key in the store",
			           sizeof(d->problem));
		} else if (tls_creds_from_pem(&d->creds, cert.pem, strlen(cert.pem), key.pem,
		                              strlen(key.pem)) != FG_OK) {
			d->creds = NULL;
			fg_strlcpy(d->problem, "the SIP certificate cannot be used for TLS",
			           sizeof(d->problem));
		}
	} else if (sipgw__domain_tls(&d->rec)) {
		fg_strlcpy(d->problem, "no SIP certificate is chosen for this domain",
		           sizeof(d->problem));
	}
	if (d->rec.ca_id[0] != '\0') {
		if (db_cert_get(txn, d->rec.ca_id, &ca) != FG_OK || ca.pem == NULL ||
		    tls_trust_from_pem(&d->trust, ca.pem, strlen(ca.pem)) != FG_OK) {
			d->trust = NULL;
			if (d->problem[0] == '\0')
				fg_strlcpy(d->problem, "the trusted CA bundle cannot be read",
				           sizeof(d->problem));
		}
	} else if (sipgw__domain_tls(&d->rec) && d->problem[0] == '\0') {
		fg_strlcpy(d->problem, "no trusted CA bundle is chosen for this domain",
		           sizeof(d->problem));
	}
	db_cert_clear(&cert);
	db_cert_clear(&ca);
	db_key_clear(&key);
}

static void fill(struct db_txn *txn, struct sipgw_domain_conf *d)
{
	fg_strlcpy(d->xmpp, d->rec.xmpp_domain[0] ? d->rec.xmpp_domain : d->rec.domain,
	           sizeof(d->xmpp));
	for (char *p = d->xmpp; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	load_tls(txn, d);
}

enum fg_err sipgw__domains_load(struct db *db, struct sipgw_settings *s,
                                struct sipgw_domain_conf **out, size_t *n)
{
	struct db_txn *txn = NULL;
	struct db_sip_domain *recs = NULL;
	size_t nrec = 0;
	*out = NULL;
	*n = 0;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err != FG_OK)
		return err;
	sipgw__settings_load(txn, s);
	err = db_sip_domain_list(txn, &recs, &nrec);
	if (err != FG_OK)
		goto out;
	if (nrec > SIPGW_MAX_DOMAINS)
		nrec = SIPGW_MAX_DOMAINS;
	if (nrec > 0) {
		*out = calloc(nrec, sizeof(**out));
		if (*out == NULL) {
			err = FG_ERR_NOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < nrec; i++) {
		(*out)[i].rec = recs[i];
		fill(txn, &(*out)[i]);
	}
	*n = nrec;
out:
	free(recs);
	db_txn_end(txn);
	return err;
}

enum fg_err sipgw__domain_load(struct db *db, const char *domain, struct sipgw_settings *s,
                               struct sipgw_domain_conf *out)
{
	struct db_txn *txn = NULL;
	memset(out, 0, sizeof(*out));
	enum fg_err err = db_txn_begin(db, &txn);
	if (err != FG_OK)
		return err;
	sipgw__settings_load(txn, s);
	err = db_sip_domain_get(txn, domain, &out->rec);
	if (err == FG_OK)
		fill(txn, out);
	db_txn_end(txn);
	return err;
}

void sipgw__domain_conf_clear(struct sipgw_domain_conf *d)
{
	if (d == NULL)
		return;
	tls_creds_free(d->creds);
	tls_trust_free(d->trust);
	d->creds = NULL;
	d->trust = NULL;
}

void sipgw__domains_free(struct sipgw_domain_conf *d, size_t n)
{
	for (size_t i = 0; d != NULL && i < n; i++)
		sipgw__domain_conf_clear(&d[i]);
	free(d);
}

void sipgw__sub_id(enum db_sub_direction dir, const char *watcher, const char *presentity,
                   char out[DB_ID_MAX])
{
	br_sha256_context h;
	uint8_t digest[32];
	const char sep = '\n';
	const char d = dir == DB_SUB_SIP_WATCHER ? 's' : 'x';
	br_sha256_init(&h);
	br_sha256_update(&h, &d, 1);
	br_sha256_update(&h, &sep, 1);
	br_sha256_update(&h, watcher, strlen(watcher));
	br_sha256_update(&h, &sep, 1);
	br_sha256_update(&h, presentity, strlen(presentity));
	br_sha256_out(&h, digest);
	fg_hex(out, digest, (DB_ID_MAX - 1) / 2);
}

void sipgw__json_escape(struct fg_buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			(void)fg_buf_printf(out, "\\%c", ch);
		else if (ch < 0x20)
			(void)fg_buf_printf(out, "\\u%04x", ch);
		else
			(void)fg_buf_append(out, &ch, 1);
	}
}

/* Tokens (tags, branches, ids) come from ChaCha20 keyed from getrandom, so that a message
 * costs no system call. RFC 3261 §19.3 wants tags and branches unguessable (32 random
 * bits at least): the key never leaves this file, each refill replaces it with fresh
 * keystream first (fast key erasure: a later memory dump does not reveal earlier tokens),
 * and the kernel reseeds it every TOKEN_RESEED_BYTES of output. */
#define TOKEN_BLOCK        512           /* keystream per refill: 32 key bytes + output */
#define TOKEN_RESEED_BYTES (1024 * 1024) /* output between two getrandom reseeds */

struct token_rng {
	uint8_t key[32];
	uint8_t buf[TOKEN_BLOCK - 32];
	size_t avail;      /* unread bytes at the end of buf */
	size_t since_seed; /* output since the last reseed */
	uint64_t nonce;    /* a fresh key per block makes it unique anyway */
	bool seeded;
};
static _Thread_local struct token_rng token_rng;

static void token_refill(struct token_rng *r)
{
	if (!r->seeded || r->since_seed >= TOKEN_RESEED_BYTES) {
		uint8_t seed[32];
		fg_random(seed, sizeof(seed));
		for (size_t i = 0; i < sizeof(seed); i++)
			r->key[i] ^= seed[i];
		explicit_bzero(seed, sizeof(seed));
		r->since_seed = 0;
		r->seeded = true;
	}
	uint8_t block[TOKEN_BLOCK] = {0};
	uint8_t iv[12] = {0};
	r->nonce++;
	memcpy(iv + 4, &r->nonce, sizeof(r->nonce));
	static br_chacha20_run run;
	if (run == NULL) {
		run = br_chacha20_sse2_get(); /* 0 where SSE2 is missing */
		if (run == NULL)
			run = br_chacha20_ct_run;
	}
	run(r->key, iv, 0, block, sizeof(block));
	memcpy(r->key, block, sizeof(r->key));
	memcpy(r->buf, block + sizeof(r->key), sizeof(r->buf));
	explicit_bzero(block, sizeof(block));
	r->avail = sizeof(r->buf);
}

static void token_bytes(uint8_t *out, size_t n)
{
	struct token_rng *r = &token_rng;
	while (n > 0) {
		if (r->avail == 0)
			token_refill(r);
		size_t take = n < r->avail ? n : r->avail;
		uint8_t *from = r->buf + sizeof(r->buf) - r->avail;
		memcpy(out, from, take);
		memset(from, 0, take); /* handed out: not kept */
		r->avail -= take;
		r->since_seed += take;
		out += take;
		n -= take;
	}
}

void sipgw__token(char *out, size_t nbytes)
{
	uint8_t rnd[32];
	if (nbytes > sizeof(rnd))
		nbytes = sizeof(rnd);
	token_bytes(rnd, nbytes);
	fg_hex(out, rnd, nbytes);
}

bool sipgw__bind_addr(const char *bind, char *out, size_t outsize)
{
	char tmp[DB_ADDR_MAX];
	if (bind == NULL || bind[0] == '\0' || !fg_strlcpy(tmp, bind, sizeof(tmp)))
		return false;
	char *a = tmp;
	if (a[0] == '[') {
		a++;
		char *end = strchr(a, ']');
		if (end == NULL)
			return false;
		*end = '\0';
	} else if (!sipgw__is_ip_literal(a)) {
		/* "a.b.c.d:port": one colon only, so an IPv6 literal is never cut */
		char *colon = strchr(a, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL)
			*colon = '\0';
	}
	if (!sipgw__is_ip_literal(a))
		return false;
	return fg_strlcpy(out, a, outsize);
}
