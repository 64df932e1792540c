/* certs: creates, imports, selects and deletes certificates in the store (RFC 5280). */
#include "certs_internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERTS_SETTING_CONSOLE "console.cert"

char *certs__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

static void set_msg(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_msg(char **out, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (out == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(*out);
	*out = certs__strdup(buf);
}

enum fg_err certs__audit(struct db_txn *txn, const char *actor, const char *source,
                         const char *action, bool ok, const char *fmt, ...)
{
	struct db_audit_entry e;
	va_list ap;
	memset(&e, 0, sizeof(e));
	e.time_ms = fg_now_ms();
	fg_strlcpy(e.actor, actor != NULL && actor[0] != '\0' ? actor : "-", sizeof(e.actor));
	fg_strlcpy(e.source, source != NULL ? source : "", sizeof(e.source));
	fg_strlcpy(e.action, action, sizeof(e.action));
	va_start(ap, fmt);
	vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
	va_end(ap);
	e.ok = ok;
	return db_audit_append(txn, &e);
}

/* ---- one write: key, record, CSR removal, console setting, audit ------------------------ */

struct put_ctx {
	const char *actor, *source, *action;
	struct db_cert cert;     /* pem borrowed */
	struct db_key key;       /* pem borrowed; written when key.id is set */
	char del_csr[DB_ID_MAX]; /* CSR record to remove (its key moves to the new record) */
	char detail[DB_TEXT_MAX];
	bool set_console;
	bool only_if_console_missing;
	bool skipped;
};

static enum fg_err put_fn(struct db_txn *txn, void *vctx)
{
	struct put_ctx *c = vctx;
	enum fg_err err;
	c->skipped = false;
	if (c->only_if_console_missing) {
		/* Another process may have set it since we looked: then keep theirs. */
		char cur[DB_ID_MAX];
		struct db_cert existing;
		if (db_setting_get(txn, CERTS_SETTING_CONSOLE, cur, sizeof(cur)) == FG_OK &&
		    db_cert_get(txn, cur, &existing) == FG_OK) {
			db_cert_clear(&existing);
			c->skipped = true;
			return FG_OK;
		}
	}
	if (c->key.id[0] != '\0' && (err = db_key_put(txn, &c->key)) != FG_OK)
		return err;
	if ((err = db_cert_put(txn, &c->cert)) != FG_OK)
		return err;
	if (c->del_csr[0] != '\0') {
		err = db_cert_del(txn, c->del_csr);
		if (err != FG_OK && err != FG_ERR_NOTFOUND)
			return err;
	}
	if (c->set_console &&
	    (err = db_setting_put(txn, CERTS_SETTING_CONSOLE, c->cert.id)) != FG_OK)
		return err;
	return certs__audit(txn, c->actor, c->source, c->action, true, "%s", c->detail);
}

struct audit_ctx {
	const char *actor, *source, *action, *detail;
};

static enum fg_err audit_fn(struct db_txn *txn, void *vctx)
{
	struct audit_ctx *a = vctx;
	return certs__audit(txn, a->actor, a->source, a->action, false, "%s", a->detail);
}

/* Records a refused operation in the audit trail (nothing else is written). */
static void audit_refused(struct db *db, const char *actor, const char *source, const char *action,
                          const char *detail)
{
	struct audit_ctx a = {actor, source, action, detail != NULL ? detail : ""};
	enum fg_err err = db_write(db, audit_fn, &a);
	if (err != FG_OK)
		FG_LOGW("certs", "cannot record refused %s in the audit trail: %s", action,
		        fg_strerror(err));
}

/* ---- new key + CSR / self-signed ------------------------------------------------------ */

static bool hostname_like(const char *s)
{
	if (s[0] == '\0' || strlen(s) > 253)
		return false;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '*'))
			return false;
	/* Single-label names ("fedgw") are fine: appliances are often reached by them. */
	return s[0] != '.' && s[0] != '-';
}

static bool ip_valid(const char *s)
{
	uint8_t a[16];
	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Checks p and fills sp; dns_buf gets the CN first when it is a host name not listed. */
static enum fg_err subject_from(const struct certs_csr_params *p, struct pki_subject_params *sp,
                                const char **dns_buf, enum pki_key_type *kt, char **err_msg)
{
	if (p == NULL || p->cn == NULL || p->cn[0] == '\0' || strlen(p->cn) > 64) {
		set_msg(err_msg, "the common name (CN) is required, at most 64 characters");
		return FG_ERR_INVAL;
	}
	if (p->name != NULL && strlen(p->name) >= DB_NAME_MAX) {
		set_msg(err_msg, "the name is longer than %d characters", DB_NAME_MAX - 1);
		return FG_ERR_INVAL;
	}
	if (p->c != NULL && p->c[0] != '\0' && strlen(p->c) != 2) {
		set_msg(err_msg, "the country (C) must be a two-letter code such as DE");
		return FG_ERR_INVAL;
	}
	if (p->dns_count + p->ip_count + p->xmpp_count + 1 > CERTS_SAN_MAX / 2) {
		set_msg(err_msg, "too many names and addresses: at most %d", CERTS_SAN_MAX / 2 - 1);
		return FG_ERR_TOOBIG;
	}
	*kt = PKI_KEY_EC_P256;
	if (p->key_type != NULL && p->key_type[0] != '\0' && !pki_key_type_parse(p->key_type, kt)) {
		set_msg(err_msg,
		        "unknown key type \"%s\": use ec-p256, ec-p384, rsa-2048, rsa-3072 "
		        "or rsa-4096",
		        p->key_type);
		return FG_ERR_INVAL;
	}
	for (size_t i = 0; i < p->dns_count; i++) {
		if (!hostname_like(p->dns[i])) {
			set_msg(err_msg, "\"%s\" is not a valid DNS name", p->dns[i]);
			return FG_ERR_INVAL;
		}
	}
	for (size_t i = 0; i < p->xmpp_count; i++) {
		if (!hostname_like(p->xmpp_domains[i])) {
			set_msg(err_msg, "\"%s\" is not a valid XMPP domain", p->xmpp_domains[i]);
			return FG_ERR_INVAL;
		}
	}
	for (size_t i = 0; i < p->ip_count; i++) {
		if (!ip_valid(p->ips[i])) {
			set_msg(err_msg, "\"%s\" is not a valid IPv4 or IPv6 address", p->ips[i]);
			return FG_ERR_INVAL;
		}
	}
	size_t n = 0;
	bool cn_listed = false;
	for (size_t i = 0; i < p->dns_count; i++)
		if (strcasecmp(p->dns[i], p->cn) == 0)
			cn_listed = true;
	/* RFC 6125 §6.4.4: peers ignore the CN when SANs exist, so the CN goes in as a SAN. */
	if (!cn_listed && hostname_like(p->cn))
		dns_buf[n++] = p->cn;
	for (size_t i = 0; i < p->dns_count; i++)
		dns_buf[n++] = p->dns[i];
	memset(sp, 0, sizeof(*sp));
	sp->cn = p->cn;
	sp->o = p->o;
	sp->ou = p->ou;
	sp->c = p->c;
	sp->dns = dns_buf;
	sp->dns_count = n;
	sp->ips = p->ips;
	sp->ip_count = p->ip_count;
	sp->xmpp_domains = p->xmpp_domains;
	sp->xmpp_count = p->xmpp_count;
	sp->xmpp_addr = p->xmpp_addr;
	return FG_OK;
}

enum fg_err certs_csr_params_check(const struct certs_csr_params *p, enum pki_key_type *key_type,
                                   char **err_msg)
{
	const char *dns_buf[CERTS_SAN_MAX];
	struct pki_subject_params sp;
	enum pki_key_type kt;
	enum fg_err err = subject_from(p, &sp, dns_buf, &kt, err_msg);
	if (err == FG_OK && key_type != NULL)
		*key_type = kt;
	return err;
}

/* given: a key made beforehand (borrowed), or NULL to generate one of p's type here. */
static enum fg_err create_common(struct db *db, const char *actor, const char *source,
                                 const struct certs_csr_params *p, bool selfsigned, int64_t now_ms,
                                 const struct pki_key *given, char id_out[DB_ID_MAX],
                                 char **err_msg)
{
	const char *dns_buf[CERTS_SAN_MAX];
	struct pki_subject_params sp;
	enum pki_key_type kt;
	struct pki_key *generated = NULL;
	const struct pki_key *key = given;
	struct fg_buf der = {0}, pem = {0}, key_pem = {0};
	struct put_ctx c;
	enum fg_err err = subject_from(p, &sp, dns_buf, &kt, err_msg);
	if (err != FG_OK)
		goto out;
	if (key == NULL) {
		err = pki_key_generate(kt, &generated);
		if (err != FG_OK) {
			set_msg(err_msg, "generating the %s key failed", pki_key_type_name(kt));
			goto out;
		}
		key = generated;
	}
	if (selfsigned)
		err = pki_selfsigned_create(
		    key, &sp, now_ms, p->days != 0 ? p->days : CERTS_SELFSIGNED_DAYS_DEFAULT, &der);
	else
		err = pki_csr_create(key, &sp, &der);
	if (err == FG_OK)
		err = pki_pem_encode(&pem, selfsigned ? "CERTIFICATE" : "CERTIFICATE REQUEST",
		                     der.data, der.len);
	if (err == FG_OK)
		err = pki_key_to_pem(key, &key_pem);
	if (err != FG_OK) {
		set_msg(err_msg,
		        "creating the %s failed (%s): check the subject, names and "
		        "validity",
		        selfsigned ? "certificate" : "request", fg_strerror(err));
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.actor = actor;
	c.source = source;
	c.action = selfsigned ? "cert.selfsigned" : "cert.csr";
	db_new_id(c.cert.id);
	db_new_id(c.key.id);
	fg_strlcpy(c.cert.name, p->name != NULL && p->name[0] != '\0' ? p->name : p->cn,
	           sizeof(c.cert.name));
	c.cert.kind = selfsigned ? DB_CERT_LEAF : DB_CERT_CSR;
	fg_strlcpy(c.cert.key_id, c.key.id, sizeof(c.cert.key_id));
	c.cert.pem = (char *)fg_buf_cstr(&pem);
	c.cert.created_ms = fg_now_ms();
	fg_strlcpy(c.key.type, key->type_name, sizeof(c.key.type));
	c.key.pem = (char *)fg_buf_cstr(&key_pem);
	c.key.created_ms = c.cert.created_ms;
	snprintf(c.detail, sizeof(c.detail), "%s \"%s\" CN=%s key %s id %s",
	         selfsigned ? "self-signed certificate" : "certificate request", c.cert.name, p->cn,
	         key->type_name, c.cert.id);
	err = db_write(db, put_fn, &c);
	if (err != FG_OK) {
		set_msg(err_msg, "storing the %s failed: %s",
		        selfsigned ? "certificate" : "request", fg_strerror(err));
		goto out;
	}
	if (id_out != NULL)
		fg_strlcpy(id_out, c.cert.id, DB_ID_MAX);
out:
	pki_key_free(generated);
	fg_buf_free(&der);
	fg_buf_free(&pem);
	pki_buf_wipe(&key_pem);
	return err;
}

enum fg_err certs_csr_create(struct db *db, const char *actor, const char *source,
                             const struct certs_csr_params *p, char id_out[DB_ID_MAX],
                             char **err_msg)
{
	return create_common(db, actor, source, p, false, 0, NULL, id_out, err_msg);
}

enum fg_err certs_selfsigned_create(struct db *db, const char *actor, const char *source,
                                    const struct certs_csr_params *p, int64_t now_ms,
                                    char id_out[DB_ID_MAX], char **err_msg)
{
	return create_common(db, actor, source, p, true, now_ms, NULL, id_out, err_msg);
}

enum fg_err certs_csr_create_with_key(struct db *db, const char *actor, const char *source,
                                      const struct certs_csr_params *p, const struct pki_key *key,
                                      char id_out[DB_ID_MAX], char **err_msg)
{
	if (key == NULL)
		return FG_ERR_INVAL;
	return create_common(db, actor, source, p, false, 0, key, id_out, err_msg);
}

enum fg_err certs_selfsigned_create_with_key(struct db *db, const char *actor, const char *source,
                                             const struct certs_csr_params *p,
                                             const struct pki_key *key, int64_t now_ms,
                                             char id_out[DB_ID_MAX], char **err_msg)
{
	if (key == NULL)
		return FG_ERR_INVAL;
	return create_common(db, actor, source, p, true, now_ms, key, id_out, err_msg);
}

/* ---- import ----------------------------------------------------------------------------- */

/* Re-encodes parsed certificates as one canonical PEM text. */
static enum fg_err chain_pem(struct pki_cert *const *certs, size_t n, struct fg_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		enum fg_err err =
		    pki_pem_encode(out, "CERTIFICATE", certs[i]->der, certs[i]->der_len);
		if (err != FG_OK)
			return err;
	}
	fg_buf_cstr(out);
	return FG_OK;
}

static bool has_key_block(const char *pem)
{
	return strstr(pem, "PRIVATE KEY-----") != NULL;
}

/* Finds the pending CSR whose key matches leaf: its record id and key id. */
static enum fg_err find_csr(struct db *db, const struct pki_cert *leaf, char csr_id[DB_ID_MAX],
                            char key_id[DB_ID_MAX])
{
	struct db_txn *txn = NULL;
	struct db_cert *list = NULL;
	size_t n = 0;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err != FG_OK)
		return err;
	err = db_cert_list(txn, &list, &n);
	if (err != FG_OK)
		goto out;
	err = FG_ERR_NOTFOUND;
	for (size_t i = 0; i < n && err == FG_ERR_NOTFOUND; i++) {
		struct db_key k;
		struct pki_key *key = NULL;
		if (list[i].kind != DB_CERT_CSR || list[i].key_id[0] == '\0')
			continue;
		if (db_key_get(txn, list[i].key_id, &k) != FG_OK)
			continue;
		if (pki_key_from_pem(k.pem, strlen(k.pem), &key, NULL, 0) == FG_OK &&
		    pki_key_matches(key, leaf)) {
			fg_strlcpy(csr_id, list[i].id, DB_ID_MAX);
			fg_strlcpy(key_id, list[i].key_id, DB_ID_MAX);
			err = FG_OK;
		}
		pki_key_free(key);
		db_key_clear(&k);
	}
out:
	db_cert_list_free(list, n);
	db_txn_end(txn);
	return err;
}

enum fg_err certs_import(struct db *db, const char *actor, const char *source, const char *name,
                         const char *cert_pem, const char *key_pem, int64_t now_ms,
                         char id_out[DB_ID_MAX], char **err_msg, char **fix)
{
	struct pki_cert **certs = NULL;
	size_t n = 0;
	struct pki_key *key = NULL;
	struct fg_buf pem = {0}, kpem = {0};
	struct pki_chain_result res;
	struct put_ctx c;
	char err_text[PKI_MSG_MAX] = "";
	enum fg_err err;

	memset(&c, 0, sizeof(c));
	if (cert_pem == NULL || cert_pem[0] == '\0') {
		set_msg(err_msg, "no certificate given");
		set_msg(fix, "paste the certificate chain in PEM, leaf first");
		return FG_ERR_INVAL;
	}
	if (name != NULL && strlen(name) >= DB_NAME_MAX) {
		set_msg(err_msg, "the name is longer than %d characters", DB_NAME_MAX - 1);
		return FG_ERR_INVAL;
	}
	err =
	    pki_certs_from_pem(cert_pem, strlen(cert_pem), &certs, &n, err_text, sizeof(err_text));
	if (err != FG_OK) {
		set_msg(err_msg, "certificate: %s", err_text);
		set_msg(fix,
		        "paste the certificate chain in PEM (-----BEGIN CERTIFICATE-----), leaf "
		        "first");
		goto refused;
	}
	pki_chain_check(certs, n, now_ms, &res);
	if (!res.ok) {
		set_msg(err_msg, "%s", res.message);
		set_msg(fix, "%s", res.fix);
		err = FG_ERR_INVAL;
		goto refused;
	}
	const char *kp = key_pem != NULL && key_pem[0] != '\0' ? key_pem
	                 : has_key_block(cert_pem)             ? cert_pem
	                                                       : NULL;
	if (kp != NULL) {
		err = pki_key_from_pem(kp, strlen(kp), &key, err_text, sizeof(err_text));
		if (err != FG_OK) {
			set_msg(err_msg, "private key: %s", err_text);
			set_msg(fix, "paste the unencrypted private key in PEM (PKCS#8, SEC1 or "
			             "PKCS#1)");
			goto refused;
		}
		if (!pki_key_matches(key, certs[0])) {
			set_msg(err_msg,
			        "the private key does not belong to certificate 1 (%s): its "
			        "public key is different",
			        certs[0]->subject);
			set_msg(fix,
			        "upload the key that was created with this certificate's request");
			err = FG_ERR_INVAL;
			goto refused;
		}
		/* The key of a request made here: reuse its stored key, drop the request. */
		err = find_csr(db, certs[0], c.del_csr, c.cert.key_id);
		if (err == FG_OK)
			goto store;
		c.del_csr[0] = '\0';
		c.cert.key_id[0] = '\0';
		if ((err = pki_key_to_pem(key, &kpem)) != FG_OK) {
			set_msg(err_msg, "the private key cannot be stored: %s", fg_strerror(err));
			goto refused;
		}
		db_new_id(c.key.id);
		fg_strlcpy(c.key.type, key->type_name, sizeof(c.key.type));
		c.key.pem = (char *)fg_buf_cstr(&kpem);
		c.key.created_ms = fg_now_ms();
		fg_strlcpy(c.cert.key_id, c.key.id, sizeof(c.cert.key_id));
	} else {
		err = find_csr(db, certs[0], c.del_csr, c.cert.key_id);
		if (err == FG_ERR_NOTFOUND) {
			set_msg(err_msg,
			        "no private key given, and no pending certificate request "
			        "here has the key of certificate 1 (%s)",
			        certs[0]->subject);
			set_msg(fix,
			        "upload the private key together with the certificate, or import "
			        "the certificate issued for a request made on this appliance");
			err = FG_ERR_INVAL;
			goto refused;
		}
		if (err != FG_OK) {
			set_msg(err_msg, "reading the pending requests failed: %s",
			        fg_strerror(err));
			goto out;
		}
	}
store:
	if ((err = chain_pem(certs, n, &pem)) != FG_OK)
		goto out;

	c.actor = actor;
	c.source = source;
	c.action = "cert.import";
	db_new_id(c.cert.id);
	const char *cn = strstr(certs[0]->subject, "CN=");
	fg_strlcpy(c.cert.name,
	           name != NULL && name[0] != '\0' ? name
	           : cn != NULL                    ? cn + 3
	                                           : certs[0]->subject,
	           sizeof(c.cert.name));
	char *comma = name != NULL && name[0] != '\0' ? NULL : strchr(c.cert.name, ',');
	if (comma != NULL)
		*comma = '\0';
	c.cert.kind = DB_CERT_LEAF;
	c.cert.pem = (char *)fg_buf_cstr(&pem);
	c.cert.created_ms = fg_now_ms();
	snprintf(c.detail, sizeof(c.detail),
	         "certificate \"%s\" %.200s, chain of %zu, SHA-256 %s%s, id %s", c.cert.name,
	         certs[0]->subject, n, certs[0]->fingerprint,
	         c.del_csr[0] != '\0' ? ", key of the pending request" : "", c.cert.id);
	err = db_write(db, put_fn, &c);
	if (err != FG_OK) {
		set_msg(err_msg, "storing the certificate failed: %s", fg_strerror(err));
		goto out;
	}
	if (id_out != NULL)
		fg_strlcpy(id_out, c.cert.id, DB_ID_MAX);
	goto out;
refused:
	audit_refused(db, actor, source, "cert.import", err_msg != NULL ? *err_msg : NULL);
out:
	pki_certs_free(certs, n);
	pki_key_free(key);
	fg_buf_free(&pem);
	pki_buf_wipe(&kpem);
	return err;
}

enum fg_err certs_import_ca(struct db *db, const char *actor, const char *source, const char *name,
                            const char *pem_text, char id_out[DB_ID_MAX], char **err_msg)
{
	struct pki_cert **certs = NULL;
	size_t n = 0;
	struct fg_buf pem = {0};
	struct put_ctx c;
	char err_text[PKI_MSG_MAX] = "";
	enum fg_err err;

	memset(&c, 0, sizeof(c));
	if (pem_text == NULL || (name != NULL && strlen(name) >= DB_NAME_MAX)) {
		set_msg(err_msg, "no CA certificates given, or the name is too long");
		return FG_ERR_INVAL;
	}
	if (has_key_block(pem_text)) {
		set_msg(err_msg, "a CA bundle holds only certificates: remove the private key");
		err = FG_ERR_INVAL;
		goto refused;
	}
	err =
	    pki_certs_from_pem(pem_text, strlen(pem_text), &certs, &n, err_text, sizeof(err_text));
	if (err != FG_OK) {
		set_msg(err_msg, "CA bundle: %s", err_text);
		goto refused;
	}
	for (size_t i = 0; i < n; i++) {
		if (!certs[i]->is_ca && !certs[i]->self_signed) {
			set_msg(err_msg,
			        "certificate %zu (%s) is not a CA certificate: a CA bundle "
			        "holds only CA certificates (basicConstraints CA:TRUE) or "
			        "self-signed roots",
			        i + 1, certs[i]->subject);
			err = FG_ERR_INVAL;
			goto refused;
		}
	}
	if ((err = chain_pem(certs, n, &pem)) != FG_OK)
		goto out;
	c.actor = actor;
	c.source = source;
	c.action = "cert.import_ca";
	db_new_id(c.cert.id);
	fg_strlcpy(c.cert.name, name != NULL && name[0] != '\0' ? name : "CA bundle",
	           sizeof(c.cert.name));
	c.cert.kind = DB_CERT_CA_BUNDLE;
	c.cert.pem = (char *)fg_buf_cstr(&pem);
	c.cert.created_ms = fg_now_ms();
	snprintf(c.detail, sizeof(c.detail),
	         "CA bundle \"%s\" with %zu certificates, first %.200s, id %s", c.cert.name, n,
	         certs[0]->subject, c.cert.id);
	err = db_write(db, put_fn, &c);
	if (err != FG_OK) {
		set_msg(err_msg, "storing the CA bundle failed: %s", fg_strerror(err));
		goto out;
	}
	if (id_out != NULL)
		fg_strlcpy(id_out, c.cert.id, DB_ID_MAX);
	goto out;
refused:
	audit_refused(db, actor, source, "cert.import_ca", err_msg != NULL ? *err_msg : NULL);
out:
	pki_certs_free(certs, n);
	fg_buf_free(&pem);
	return err;
}

/* ---- delete ----------------------------------------------------------------------------- */

struct del_ctx {
	const char *actor, *source, *id;
	char msg[DB_TEXT_MAX];
};

static enum fg_err del_fn(struct db_txn *txn, void *vctx)
{
	struct del_ctx *d = vctx;
	struct db_cert cert;
	struct certs_roles roles;
	enum fg_err err = db_cert_get(txn, d->id, &cert);
	d->msg[0] = '\0';
	if (err != FG_OK) {
		if (err == FG_ERR_NOTFOUND)
			snprintf(d->msg, sizeof(d->msg), "no certificate with id %s", d->id);
		return err;
	}
	err = certs__roles_load(txn, &roles);
	if (err != FG_OK)
		goto out;
	if (certs__roles_first_use(&roles, d->id, d->msg, sizeof(d->msg))) {
		err = FG_ERR_BUSY;
		goto out;
	}
	if ((err = db_cert_del(txn, d->id)) != FG_OK)
		goto out;
	if (cert.key_id[0] != '\0') {
		err = db_key_del(txn, cert.key_id);
		if (err == FG_ERR_NOTFOUND)
			err = FG_OK;
		if (err != FG_OK)
			goto out;
	}
	err = certs__audit(txn, d->actor, d->source, "cert.delete", true, "\"%s\" id %s%s",
	                   cert.name, d->id, cert.key_id[0] != '\0' ? " with its key" : "");
out:
	certs__roles_free(&roles);
	db_cert_clear(&cert);
	return err;
}

enum fg_err certs_delete(struct db *db, const char *actor, const char *source, const char *id,
                         char **err_msg)
{
	struct del_ctx d = {.actor = actor, .source = source, .id = id};
	if (id == NULL || id[0] == '\0' || strlen(id) >= DB_ID_MAX) {
		set_msg(err_msg, "no such certificate");
		return FG_ERR_NOTFOUND;
	}
	enum fg_err err = db_write(db, del_fn, &d);
	if (err == FG_OK)
		return FG_OK;
	if (d.msg[0] != '\0')
		set_msg(err_msg, "%s", d.msg);
	else
		set_msg(err_msg, "deleting the certificate failed: %s", fg_strerror(err));
	if (err == FG_ERR_BUSY) {
		char detail[DB_TEXT_MAX];
		snprintf(detail, sizeof(detail), "id %s: %.400s", id, d.msg);
		audit_refused(db, actor, source, "cert.delete", detail);
	}
	return err;
}

/* ---- console certificate ---------------------------------------------------------------- */

struct console_ctx {
	const char *actor, *source, *id, *name;
};

static enum fg_err console_fn(struct db_txn *txn, void *vctx)
{
	struct console_ctx *c = vctx;
	enum fg_err err = db_setting_put(txn, CERTS_SETTING_CONSOLE, c->id);
	if (err != FG_OK)
		return err;
	return certs__audit(txn, c->actor, c->source, "console.cert", true,
	                    "console certificate \"%s\" id %s", c->name, c->id);
}

enum fg_err certs_console_set(struct db *db, const char *actor, const char *source, const char *id,
                              int64_t now_ms, char **err_msg)
{
	struct db_txn *txn = NULL;
	struct db_cert cert;
	struct pki_cert **certs = NULL;
	size_t n = 0;
	bool have = false;
	char when[32];
	enum fg_err err;
	memset(&cert, 0, sizeof(cert));
	if (id == NULL || strlen(id) >= DB_ID_MAX) {
		set_msg(err_msg, "no such certificate");
		return FG_ERR_NOTFOUND;
	}
	if ((err = db_txn_begin(db, &txn)) != FG_OK)
		return err;
	err = db_cert_get(txn, id, &cert);
	db_txn_end(txn);
	if (err != FG_OK) {
		set_msg(err_msg,
		        err == FG_ERR_NOTFOUND ? "no certificate with id %s"
		                               : "reading certificate %s failed",
		        id);
		return err;
	}
	have = true;
	if (cert.kind != DB_CERT_LEAF || cert.key_id[0] == '\0') {
		set_msg(err_msg,
		        "\"%s\" is %s: the console needs a certificate with its private key",
		        cert.name,
		        cert.kind == DB_CERT_CSR         ? "a certificate request, not yet signed"
		        : cert.kind == DB_CERT_CA_BUNDLE ? "a CA bundle"
		                                         : "a certificate without a private key");
		err = FG_ERR_INVAL;
		goto out;
	}
	err = pki_certs_from_pem(cert.pem, strlen(cert.pem), &certs, &n, NULL, 0);
	if (err != FG_OK) {
		set_msg(err_msg, "the stored certificate \"%s\" cannot be read", cert.name);
		goto out;
	}
	if (certs[0]->not_after_ms < now_ms || certs[0]->not_before_ms > now_ms) {
		fg_format_utc(when, sizeof(when),
		              certs[0]->not_after_ms < now_ms ? certs[0]->not_after_ms
		                                              : certs[0]->not_before_ms);
		set_msg(err_msg, "\"%s\" %s %s UTC: choose a valid certificate", cert.name,
		        certs[0]->not_after_ms < now_ms ? "expired on" : "is not valid before",
		        when);
		err = FG_ERR_INVAL;
		goto out;
	}
	struct console_ctx c = {actor, source, id, cert.name};
	err = db_write(db, console_fn, &c);
	if (err != FG_OK)
		set_msg(err_msg, "storing the console setting failed: %s", fg_strerror(err));
out:
	pki_certs_free(certs, n);
	if (have)
		db_cert_clear(&cert);
	return err;
}

enum fg_err certs_console_ensure(struct db *db, const char *hostname, const char *const *addrs,
                                 size_t n, int64_t now_ms)
{
	struct db_txn *txn = NULL;
	char cur[DB_ID_MAX];
	struct db_cert existing;
	const char *dns[2];
	const char *ips[CERTS_SAN_MAX / 2];
	size_t nips = 0, ndns = 0;
	struct pki_key *key = NULL;
	struct fg_buf der = {0}, pem = {0}, key_pem = {0};
	struct put_ctx c;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err != FG_OK)
		return err;
	bool present = db_setting_get(txn, CERTS_SETTING_CONSOLE, cur, sizeof(cur)) == FG_OK &&
	               db_cert_get(txn, cur, &existing) == FG_OK;
	db_txn_end(txn);
	if (present) {
		db_cert_clear(&existing);
		return FG_OK;
	}
	if (hostname == NULL || hostname[0] == '\0' || strlen(hostname) > 64)
		hostname = "localhost";
	if (hostname_like(hostname))
		dns[ndns++] = hostname;
	if (strcmp(hostname, "localhost") != 0)
		dns[ndns++] = "localhost";
	for (size_t i = 0; i < n && nips < sizeof(ips) / sizeof(ips[0]); i++)
		if (addrs[i] != NULL && ip_valid(addrs[i]))
			ips[nips++] = addrs[i];
	struct pki_subject_params sp = {
	    .cn = hostname, .dns = dns, .dns_count = ndns, .ips = ips, .ip_count = nips};
	if ((err = pki_key_generate(PKI_KEY_EC_P256, &key)) != FG_OK ||
	    (err = pki_selfsigned_create(key, &sp, now_ms, CERTS_CONSOLE_DAYS, &der)) != FG_OK ||
	    (err = pki_pem_encode(&pem, "CERTIFICATE", der.data, der.len)) != FG_OK ||
	    (err = pki_key_to_pem(key, &key_pem)) != FG_OK) {
		FG_LOGE("certs", "cannot create the console certificate: %s", fg_strerror(err));
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.actor = "-";
	c.source = "daemon";
	c.action = "cert.selfsigned";
	c.set_console = true;
	c.only_if_console_missing = true;
	db_new_id(c.cert.id);
	db_new_id(c.key.id);
	fg_strlcpy(c.cert.name, CERTS_CONSOLE_NAME, sizeof(c.cert.name));
	c.cert.kind = DB_CERT_LEAF;
	fg_strlcpy(c.cert.key_id, c.key.id, sizeof(c.cert.key_id));
	c.cert.pem = (char *)fg_buf_cstr(&pem);
	c.cert.created_ms = now_ms;
	fg_strlcpy(c.key.type, key->type_name, sizeof(c.key.type));
	c.key.pem = (char *)fg_buf_cstr(&key_pem);
	c.key.created_ms = now_ms;
	snprintf(c.detail, sizeof(c.detail),
	         "console certificate created for CN=%s with %zu addresses, id %s", hostname, nips,
	         c.cert.id);
	err = db_write(db, put_fn, &c);
	if (err == FG_OK && !c.skipped)
		FG_LOGN("certs", "created a self-signed console certificate for %s", hostname);
out:
	pki_key_free(key);
	fg_buf_free(&der);
	fg_buf_free(&pem);
	pki_buf_wipe(&key_pem);
	return err;
}
