/* s2s configuration: one reference-counted snapshot of the federation settings, local
 * domains with their certificates (RFC 6066 SNI), trust anchors, allow list and policy,
 * read from the store (docs/settings.md). */
#include "s2s/s2s_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
/* The system CA file is read whole; Debian's is ~200 kB. */
#define SYSTEM_CA_MAX (1024u * 1024u)

static void get(struct db_txn *txn, const char *key, char *out, size_t outsize, const char *dflt)
{
	if (db_setting_get(txn, key, out, outsize) != FG_OK)
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

static bool get_bool(struct db_txn *txn, const char *key, bool dflt)
{
	char v[16];
	get(txn, key, v, sizeof(v), "");
	return v[0] ? s2s__parse_bool(v, dflt) : dflt;
}

static void note(struct s2s_conf *c, const char *domain, const char *cert_id, const char *what)
{
	if (c->problems[0] == '\0')
		s2s__fmt(c->problems, sizeof(c->problems), "the certificate of %s (%s) %s", domain,
		         cert_id, what);
}

static struct tls_creds *load_creds(struct s2s_conf *c, struct db_txn *txn, const char *cert_id,
                                    const char *domain)
{
	struct db_cert cert = {0};
	struct db_key key = {0};
	struct tls_creds *creds = NULL;
	if (cert_id[0] == '\0')
		return NULL;
	if (db_cert_get(txn, cert_id, &cert) != FG_OK || cert.kind != DB_CERT_LEAF ||
	    cert.pem == NULL || cert.key_id[0] == '\0') {
		note(c, domain, cert_id, "is missing or has no key");
		goto out;
	}
	if (db_key_get(txn, cert.key_id, &key) != FG_OK || key.pem == NULL) {
		note(c, domain, cert_id, "has no private key in the store");
		goto out;
	}
	if (tls_creds_from_pem(&creds, cert.pem, strlen(cert.pem), key.pem, strlen(key.pem)) !=
	    FG_OK) {
		note(c, domain, cert_id, "cannot be used for TLS");
		creds = NULL;
	}
out:
	db_cert_clear(&cert);
	db_key_clear(&key);
	return creds;
}

static void load_trust(struct s2s_conf *c, struct db_txn *txn)
{
	struct db_cert *certs = NULL;
	size_t n = 0;
	struct fg_buf pem = {0};
	if (db_cert_list(txn, &certs, &n) == FG_OK) {
		for (size_t i = 0; i < n; i++) {
			if (certs[i].kind != DB_CERT_CA_BUNDLE || certs[i].pem == NULL)
				continue;
			(void)fg_buf_append_str(&pem, certs[i].pem);
			(void)fg_buf_append_str(&pem, "\n");
			c->n_trust++;
		}
		db_cert_list_free(certs, n);
	}
	if (c->allow_system_ca) {
		FILE *fp = fopen(SYSTEM_CA_FILE, "r");
		if (fp != NULL) {
			char buf[8192];
			size_t got;
			size_t total = 0;
			while ((got = fread(buf, 1, sizeof(buf), fp)) > 0 &&
			       total < SYSTEM_CA_MAX) {
				(void)fg_buf_append(&pem, buf, got);
				total += got;
			}
			fclose(fp);
			c->n_trust++;
		}
	}
	if (pem.len > 0 &&
	    tls_trust_from_pem(&c->trust, (const char *)pem.data, pem.len) != FG_OK) {
		if (c->problems[0] == '\0')
			fg_strlcpy(c->problems, "the CA bundles could not be read",
			           sizeof(c->problems));
		c->trust = NULL;
	}
	fg_buf_free(&pem);
}

enum fg_err s2s__conf_load(struct db *db, const char *const *extra, size_t n_extra,
                           struct s2s_conf **out)
{
	struct db_txn *txn = NULL;
	struct db_xmpp_domain *doms = NULL;
	struct db_policy_rule *rules = NULL;
	size_t n_doms = 0, n_rules = 0;
	char v[DB_SETTING_VALUE_MAX];
	*out = NULL;
	struct s2s_conf *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return FG_ERR_NOMEM;
	c->refs = 1;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err != FG_OK)
		goto fail;
	c->enabled = get_bool(txn, "xmpp.enabled", true);
	get(txn, "xmpp.bind", v, sizeof(v), "0.0.0.0");
	c->n_binds = s2s__split_list(v, c->binds, S2S_MAX_BINDS);
	c->port = (uint16_t)get_u64(txn, "xmpp.port", 1, 65535, 5269);
	c->direct_port = (uint16_t)get_u64(txn, "xmpp.direct_tls_port", 0, 65535, 0);
	get(txn, "xmpp.dns_servers", c->dns_servers, sizeof(c->dns_servers), "");
	get(txn, "xmpp.dns_transparent_zones", c->dns_zones, sizeof(c->dns_zones), "");
	get(txn, "xmpp.tls_mode", v, sizeof(v), "required");
	c->xcfg.tls_mode = s2s__parse_tls_mode(v, XMPP_TLS_REQUIRED);
	c->xcfg.require_client_cert = get_bool(txn, "xmpp.require_client_cert", false);
	c->xcfg.sasl_external_in = get_bool(txn, "xmpp.sasl_external_in", true);
	c->xcfg.sasl_external_out = get_bool(txn, "xmpp.sasl_external_out", true);
	c->xcfg.dialback = get_bool(txn, "xmpp.dialback", true);
	get(txn, "xmpp.dialback_secret", c->secret, sizeof(c->secret), "");
	c->max_stanza = get_u64(txn, "xmpp.max_stanza_bytes", 10240, 16777216, 524288);
	c->xcfg.max_stanza_bytes = c->max_stanza; /* incoming streams, after authentication */
	c->allow_system_ca = get_bool(txn, "xmpp.allow_system_ca", false);
	c->connect_timeout_ms = (int64_t)get_u64(txn, "xmpp.connect_timeout_s", 1, 120, 10) * 1000;
	c->queue_max = get_u64(txn, "xmpp.queue_max", 1, 100000, 1000);
	c->idle_timeout_ms = (int64_t)get_u64(txn, "xmpp.idle_timeout_s", 30, 86400, 600) * 1000;
	get(txn, "policy.default", v, sizeof(v), "allow");
	c->default_allow = strcasecmp(v, "deny") != 0;

	if (db_xmpp_domain_list(txn, &doms, &n_doms) != FG_OK)
		n_doms = 0;
	size_t cap = n_doms + n_extra;
	if (cap > S2S_MAX_LOCAL)
		cap = S2S_MAX_LOCAL;
	c->domains = calloc(cap ? cap : 1, sizeof(*c->domains));
	c->creds = calloc(cap ? cap : 1, sizeof(*c->creds));
	c->domain_ptrs = calloc(cap ? cap : 1, sizeof(*c->domain_ptrs));
	if (c->domains == NULL || c->creds == NULL || c->domain_ptrs == NULL) {
		err = FG_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n_doms && c->n_domains < cap; i++) {
		fg_strlcpy(c->domains[c->n_domains], doms[i].domain, DB_DOMAIN_MAX);
		c->creds[c->n_domains] = load_creds(c, txn, doms[i].cert_id, doms[i].domain);
		c->n_domains++;
	}
	for (size_t i = 0; i < n_extra && c->n_domains < cap; i++) {
		if (s2s__conf_domain(c, extra[i]) >= 0)
			continue;
		fg_strlcpy(c->domains[c->n_domains++], extra[i], DB_DOMAIN_MAX);
	}
	for (size_t i = 0; i < c->n_domains; i++)
		c->domain_ptrs[i] = c->domains[i];
	if (db_allow_list(txn, &c->allow, &c->n_allow) != FG_OK) {
		c->allow = NULL;
		c->n_allow = 0;
	}
	c->allow_creds = calloc(c->n_allow ? c->n_allow : 1, sizeof(*c->allow_creds));
	if (c->allow_creds == NULL) {
		err = FG_ERR_NOMEM;
		goto fail;
	}
	for (size_t i = 0; i < c->n_allow; i++)
		c->allow_creds[i] = load_creds(c, txn, c->allow[i].cert_id, c->allow[i].domain);
	if (db_policy_list(txn, &rules, &n_rules) != FG_OK) {
		rules = NULL;
		n_rules = 0;
	}
	err = policy_new(&c->policy, c->default_allow, rules, n_rules);
	if (err != FG_OK)
		goto fail;
	load_trust(c, txn);
	db_txn_end(txn);
	txn = NULL;
	free(doms);
	free(rules);
	c->xcfg.local_domains = c->domain_ptrs;
	c->xcfg.n_local_domains = c->n_domains;
	c->xcfg.dialback_secret = (const uint8_t *)c->secret;
	c->xcfg.dialback_secret_len = strlen(c->secret);
	c->xcfg.idle_timeout_ms = c->idle_timeout_ms;
	if (c->xcfg.dialback_secret_len == 0)
		c->xcfg.dialback = false;
	*out = c;
	return FG_OK;
fail:
	db_txn_end(txn);
	free(doms);
	free(rules);
	s2s__conf_unref(c);
	return err;
}

struct s2s_conf *s2s__conf_ref(struct s2s_conf *c)
{
	if (c != NULL)
		c->refs++;
	return c;
}

void s2s__conf_unref(struct s2s_conf *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	for (size_t i = 0; i < c->n_domains; i++)
		tls_creds_free(c->creds[i]);
	free(c->creds);
	free(c->domains);
	free(c->domain_ptrs);
	tls_trust_free(c->trust);
	policy_free(c->policy);
	for (size_t i = 0; c->allow_creds != NULL && i < c->n_allow; i++)
		tls_creds_free(c->allow_creds[i]);
	free(c->allow_creds);
	free(c->allow);
	explicit_bzero(c->secret, sizeof(c->secret));
	free(c);
}

int s2s__conf_domain(const struct s2s_conf *c, const char *domain)
{
	for (size_t i = 0; domain != NULL && i < c->n_domains; i++) {
		if (strcasecmp(c->domains[i], domain) == 0)
			return (int)i;
	}
	return -1;
}

const struct db_allow_entry *s2s__conf_allow(const struct s2s_conf *c, const char *domain)
{
	for (size_t i = 0; domain != NULL && i < c->n_allow; i++) {
		if (strcasecmp(c->allow[i].domain, domain) == 0)
			return &c->allow[i];
	}
	return NULL;
}

struct tls_creds *s2s__conf_creds_for(const struct s2s_conf *c, const char *local,
                                      const char *remote)
{
	const struct db_allow_entry *a = s2s__conf_allow(c, remote);
	if (a != NULL && c->allow_creds != NULL && c->allow_creds[a - c->allow] != NULL)
		return c->allow_creds[a - c->allow];
	int i = s2s__conf_domain(c, local);
	return i >= 0 ? c->creds[i] : NULL;
}

static enum fg_err secret_write(struct db_txn *txn, void *ctx)
{
	char cur[DB_SETTING_VALUE_MAX];
	if (db_setting_get(txn, "xmpp.dialback_secret", cur, sizeof(cur)) == FG_OK &&
	    cur[0] != '\0')
		return FG_OK; /* someone else made one meanwhile */
	return db_setting_put(txn, "xmpp.dialback_secret", ctx);
}

enum fg_err s2s__ensure_secret(struct db *db)
{
	char cur[DB_SETTING_VALUE_MAX] = "";
	struct db_txn *txn = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err != FG_OK)
		return err;
	bool have = db_setting_get(txn, "xmpp.dialback_secret", cur, sizeof(cur)) == FG_OK &&
	            cur[0] != '\0';
	db_txn_end(txn);
	explicit_bzero(cur, sizeof(cur));
	if (have)
		return FG_OK;
	uint8_t raw[32];
	char hex[2 * sizeof(raw) + 1];
	fg_random(raw, sizeof(raw));
	fg_hex(hex, raw, sizeof(raw));
	err = db_write(db, secret_write, hex);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(hex, sizeof(hex));
	if (err == FG_OK)
		fg_log(FG_LOG_NOTICE, S2S_SUBSYS, "generated a new dialback secret");
	return err;
}
