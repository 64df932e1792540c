/* certs view: listing, roles, PEM export, TLS credentials and expiry (RFC 5280 fields). */
#include "certs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERTS_SETTING_CONSOLE "console.cert"
#define DAY_MS                (86400LL * 1000)
/* Longest roles text handed to the expiry callback; more roles are cut off with "...". */
#define CERTS_ROLES_TEXT_MAX 512

/* ---- roles ------------------------------------------------------------------------------ */

enum fg_err certs__roles_load(struct db_txn *txn, struct certs_roles *r)
{
	enum fg_err err;
	memset(r, 0, sizeof(*r));
	err = db_setting_get(txn, CERTS_SETTING_CONSOLE, r->console, sizeof(r->console));
	if (err == FG_ERR_NOTFOUND || err == FG_ERR_TOOBIG)
		r->console[0] = '\0';
	else if (err != FG_OK)
		return err;
	if ((err = db_xmpp_domain_list(txn, &r->xmpp, &r->xmpp_count)) != FG_OK ||
	    (err = db_sip_domain_list(txn, &r->sip, &r->sip_count)) != FG_OK ||
	    (err = db_allow_list(txn, &r->allow, &r->allow_count)) != FG_OK) {
		certs__roles_free(r);
		return err;
	}
	return FG_OK;
}

void certs__roles_free(struct certs_roles *r)
{
	if (r == NULL)
		return;
	free(r->xmpp);
	free(r->sip);
	free(r->allow);
	memset(r, 0, sizeof(*r));
}

static enum fg_err arr_add(json_t *arr, const char *prefix, const char *domain)
{
	char buf[DB_DOMAIN_MAX + 16];
	snprintf(buf, sizeof(buf), "%s%s", prefix, domain);
	return json_array_append_new(arr, json_string(buf)) == 0 ? FG_OK : FG_ERR_NOMEM;
}

enum fg_err certs__roles_json(const struct certs_roles *r, const char *id, json_t *arr)
{
	enum fg_err err = FG_OK;
	if (id[0] == '\0')
		return FG_OK;
	if (strcmp(r->console, id) == 0)
		err = arr_add(arr, "console", "");
	for (size_t i = 0; i < r->xmpp_count && err == FG_OK; i++)
		if (strcmp(r->xmpp[i].cert_id, id) == 0)
			err = arr_add(arr, "xmpp:", r->xmpp[i].domain);
	for (size_t i = 0; i < r->sip_count && err == FG_OK; i++) {
		if (strcmp(r->sip[i].cert_id, id) == 0)
			err = arr_add(arr, "sip:", r->sip[i].domain);
		if (err == FG_OK && strcmp(r->sip[i].ca_id, id) == 0)
			err = arr_add(arr, "sip-ca:", r->sip[i].domain);
	}
	for (size_t i = 0; i < r->allow_count && err == FG_OK; i++)
		if (strcmp(r->allow[i].cert_id, id) == 0)
			err = arr_add(arr, "allow:", r->allow[i].domain);
	return err;
}

bool certs__roles_first_use(const struct certs_roles *r, const char *id, char *msg, size_t size)
{
	if (id[0] == '\0')
		return false;
	if (strcmp(r->console, id) == 0) {
		snprintf(msg, size,
		         "used by the console; choose another console certificate first");
		return true;
	}
	for (size_t i = 0; i < r->xmpp_count; i++) {
		if (strcmp(r->xmpp[i].cert_id, id) == 0) {
			snprintf(msg, size,
			         "used by XMPP domain %s; choose another certificate for it "
			         "first",
			         r->xmpp[i].domain);
			return true;
		}
	}
	for (size_t i = 0; i < r->sip_count; i++) {
		if (strcmp(r->sip[i].cert_id, id) == 0) {
			snprintf(msg, size,
			         "used by SIP domain %s; choose another certificate for it "
			         "first",
			         r->sip[i].domain);
			return true;
		}
		if (strcmp(r->sip[i].ca_id, id) == 0) {
			snprintf(msg, size,
			         "used as the trusted CA bundle of SIP domain %s; choose "
			         "another CA bundle for it first",
			         r->sip[i].domain);
			return true;
		}
	}
	for (size_t i = 0; i < r->allow_count; i++) {
		if (strcmp(r->allow[i].cert_id, id) == 0) {
			snprintf(msg, size,
			         "used by the allow-list entry for %s; remove its "
			         "certificate override first",
			         r->allow[i].domain);
			return true;
		}
	}
	return false;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static const char *kind_name(enum db_cert_kind k)
{
	switch (k) {
	case DB_CERT_LEAF:
		return "certificate";
	case DB_CERT_CSR:
		return "csr";
	case DB_CERT_CA_BUNDLE:
		return "ca_bundle";
	}
	return "unknown";
}

static json_t *sans_json(const struct pki_cert *c)
{
	json_t *arr = json_array();
	char buf[PKI_SAN_VALUE_MAX + 16];
	for (size_t i = 0; arr != NULL && i < c->san_count; i++) {
		snprintf(buf, sizeof(buf), "%s:%s", pki_san_type_name(c->sans[i].type),
		         c->sans[i].value);
		json_array_append_new(arr, json_string(buf));
	}
	return arr;
}

static int64_t days_left(int64_t not_after_ms, int64_t now_ms)
{
	int64_t d = not_after_ms - now_ms;
	/* Floor division: one hour past expiry is "-1 days", not "0 days". */
	return d >= 0 ? d / DAY_MS : -((-d + DAY_MS - 1) / DAY_MS);
}

/* The certificate fields shared by list entries and chain entries. */
static void cert_fields(json_t *o, const struct pki_cert *c, int64_t now_ms)
{
	char nb[32], na[32];
	json_object_set_new(o, "subject", json_string(c->subject));
	json_object_set_new(o, "sans", sans_json(c));
	json_object_set_new(o, "key_type", json_string(c->key_type));
	json_object_set_new(o, "fingerprint_sha256", json_string(c->fingerprint));
	if (c->is_csr) {
		json_object_set_new(o, "issuer", json_string(""));
		json_object_set_new(o, "serial", json_string(""));
		json_object_set_new(o, "not_before", json_null());
		json_object_set_new(o, "not_after", json_null());
		json_object_set_new(o, "not_before_ms", json_null());
		json_object_set_new(o, "not_after_ms", json_null());
		json_object_set_new(o, "days_left", json_null());
		json_object_set_new(o, "self_signed", json_false());
		json_object_set_new(o, "is_ca", json_false());
		return;
	}
	fg_format_iso8601(nb, sizeof(nb), c->not_before_ms);
	fg_format_iso8601(na, sizeof(na), c->not_after_ms);
	json_object_set_new(o, "issuer", json_string(c->issuer));
	json_object_set_new(o, "serial", json_string(c->serial_hex));
	json_object_set_new(o, "not_before", json_string(nb));
	json_object_set_new(o, "not_after", json_string(na));
	json_object_set_new(o, "not_before_ms", json_integer(c->not_before_ms));
	json_object_set_new(o, "not_after_ms", json_integer(c->not_after_ms));
	json_object_set_new(o, "days_left", json_integer(days_left(c->not_after_ms, now_ms)));
	json_object_set_new(o, "self_signed", json_boolean(c->self_signed));
	json_object_set_new(o, "is_ca", json_boolean(c->is_ca));
}

/* Parses a record's PEM: certificates, or the CSR. */
static enum fg_err record_parse(const struct db_cert *rec, struct pki_cert ***certs, size_t *n)
{
	if (rec->pem == NULL)
		return FG_ERR_PARSE;
	if (rec->kind != DB_CERT_CSR)
		return pki_certs_from_pem(rec->pem, strlen(rec->pem), certs, n, NULL, 0);
	struct pki_pem p = {0};
	enum fg_err err = pki_pem_decode(rec->pem, strlen(rec->pem), &p, NULL, 0);
	if (err != FG_OK)
		return err;
	err = FG_ERR_PARSE;
	for (size_t i = 0; i < p.count && err == FG_ERR_PARSE; i++) {
		if (strcmp(p.blocks[i].label, "CERTIFICATE REQUEST") != 0)
			continue;
		*certs = calloc(1, sizeof(**certs));
		if (*certs == NULL) {
			err = FG_ERR_NOMEM;
			break;
		}
		err = pki_csr_parse(p.blocks[i].der, p.blocks[i].len, &(*certs)[0]);
		if (err == FG_OK) {
			*n = 1;
		} else {
			free(*certs);
			*certs = NULL;
		}
	}
	pki_pem_clear(&p);
	return err;
}

static json_t *record_json(const struct db_cert *rec, const struct certs_roles *roles,
                           int64_t now_ms, bool detail)
{
	struct pki_cert **certs = NULL;
	size_t n = 0;
	char created[32];
	json_t *o = json_object();
	json_t *r = json_array();
	if (o == NULL || r == NULL) {
		json_decref(o);
		json_decref(r);
		return NULL;
	}
	fg_format_iso8601(created, sizeof(created), rec->created_ms);
	json_object_set_new(o, "id", json_string(rec->id));
	json_object_set_new(o, "name", json_string(rec->name));
	json_object_set_new(o, "kind", json_string(kind_name(rec->kind)));
	json_object_set_new(o, "has_key", json_boolean(rec->key_id[0] != '\0'));
	json_object_set_new(o, "created", json_string(created));
	json_object_set_new(o, "created_ms", json_integer(rec->created_ms));
	certs__roles_json(roles, rec->id, r);
	json_object_set_new(o, "roles", r);
	if (record_parse(rec, &certs, &n) != FG_OK || n == 0) {
		/* A record we cannot read is still listed, so it can be deleted. */
		json_object_set_new(o, "subject", json_string(""));
		json_object_set_new(o, "sans", json_array());
		json_object_set_new(o, "chain_length", json_integer(0));
		json_object_set_new(o, "error", json_string("the stored PEM cannot be read"));
		return o;
	}
	cert_fields(o, certs[0], now_ms);
	json_object_set_new(o, "chain_length", json_integer((json_int_t)n));
	if (rec->kind == DB_CERT_CA_BUNDLE && n > 1) {
		/* A bundle expires, for the console's purposes, with its first member to expire. */
		int64_t soonest = certs[0]->not_after_ms;
		for (size_t i = 1; i < n; i++)
			if (certs[i]->not_after_ms < soonest)
				soonest = certs[i]->not_after_ms;
		char na[32];
		fg_format_iso8601(na, sizeof(na), soonest);
		json_object_set_new(o, "not_after", json_string(na));
		json_object_set_new(o, "not_after_ms", json_integer(soonest));
		json_object_set_new(o, "days_left", json_integer(days_left(soonest, now_ms)));
	}
	if (detail) {
		json_t *chain = json_array();
		for (size_t i = 0; chain != NULL && i < n; i++) {
			json_t *e = json_object();
			if (e == NULL)
				break;
			cert_fields(e, certs[i], now_ms);
			json_array_append_new(chain, e);
		}
		json_object_set_new(o, "chain", chain);
		if (rec->kind == DB_CERT_LEAF) {
			struct pki_chain_result res;
			pki_chain_check(certs, n, now_ms, &res);
			json_object_set_new(o, "chain_check",
			                    json_pack("{s:b, s:s, s:s}", "ok", res.ok, "message",
			                              res.message, "fix", res.fix));
		}
	}
	pki_certs_free(certs, n);
	return o;
}

enum fg_err certs_list(struct db *db, int64_t now_ms, json_t **out)
{
	struct db_txn *txn = NULL;
	struct db_cert *list = NULL;
	size_t n = 0;
	struct certs_roles roles;
	json_t *arr = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	memset(&roles, 0, sizeof(roles));
	if (err != FG_OK)
		return err;
	if ((err = db_cert_list(txn, &list, &n)) != FG_OK ||
	    (err = certs__roles_load(txn, &roles)) != FG_OK)
		goto out;
	arr = json_array();
	if (arr == NULL) {
		err = FG_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = record_json(&list[i], &roles, now_ms, false);
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			err = FG_ERR_NOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;
out:
	json_decref(arr);
	certs__roles_free(&roles);
	db_cert_list_free(list, n);
	db_txn_end(txn);
	return err;
}

enum fg_err certs_show(struct db *db, const char *id, int64_t now_ms, json_t **out)
{
	struct db_txn *txn = NULL;
	struct db_cert rec;
	struct certs_roles roles;
	bool have = false;
	enum fg_err err;
	memset(&roles, 0, sizeof(roles));
	if (id == NULL || strlen(id) >= DB_ID_MAX)
		return FG_ERR_NOTFOUND;
	if ((err = db_txn_begin(db, &txn)) != FG_OK)
		return err;
	if ((err = db_cert_get(txn, id, &rec)) != FG_OK)
		goto out;
	have = true;
	if ((err = certs__roles_load(txn, &roles)) != FG_OK)
		goto out;
	*out = record_json(&rec, &roles, now_ms, true);
	if (*out == NULL)
		err = FG_ERR_NOMEM;
out:
	certs__roles_free(&roles);
	if (have)
		db_cert_clear(&rec);
	db_txn_end(txn);
	return err;
}

enum fg_err certs_pem(struct db *db, const char *id, char **pem)
{
	struct db_txn *txn = NULL;
	struct db_cert rec;
	enum fg_err err;
	if (id == NULL || strlen(id) >= DB_ID_MAX)
		return FG_ERR_NOTFOUND;
	if ((err = db_txn_begin(db, &txn)) != FG_OK)
		return err;
	err = db_cert_get(txn, id, &rec);
	db_txn_end(txn);
	if (err != FG_OK)
		return err;
	/* The record holds only certificates or the request; keys live in their own kind. */
	*pem = certs__strdup(rec.pem != NULL ? rec.pem : "");
	db_cert_clear(&rec);
	return *pem != NULL ? FG_OK : FG_ERR_NOMEM;
}

/* ---- TLS credentials -------------------------------------------------------------------- */

void certs_creds_free(struct certs_creds *creds)
{
	if (creds == NULL)
		return;
	for (size_t i = 0; i < creds->chain_len; i++)
		free(creds->chain[i].data);
	free(creds->chain);
	if (creds->key_buf != NULL) {
		memset(creds->key_buf, 0, creds->key_buf_len);
		free(creds->key_buf);
	}
	memset(creds, 0, sizeof(*creds));
}

static enum fg_err creds_key(struct certs_creds *out, const struct pki_key *key)
{
	/* One buffer backs every key field, so certs_creds_free wipes it all at once. */
	if (key->br_type == BR_KEYTYPE_EC) {
		out->key_buf_len = key->ec.xlen;
		out->key_buf = malloc(out->key_buf_len);
		if (out->key_buf == NULL)
			return FG_ERR_NOMEM;
		memcpy(out->key_buf, key->ec.x, key->ec.xlen);
		out->key_type = BR_KEYTYPE_EC;
		out->ec.curve = key->ec.curve;
		out->ec.x = out->key_buf;
		out->ec.xlen = key->ec.xlen;
		return FG_OK;
	}
	const br_rsa_private_key *sk = &key->rsa;
	out->key_buf_len = sk->plen + sk->qlen + sk->dplen + sk->dqlen + sk->iqlen;
	out->key_buf = malloc(out->key_buf_len);
	if (out->key_buf == NULL)
		return FG_ERR_NOMEM;
	unsigned char *p = out->key_buf;
	out->key_type = BR_KEYTYPE_RSA;
	out->rsa.n_bitlen = sk->n_bitlen;
#define CREDS_COPY(f)                                                                              \
	do {                                                                                       \
		memcpy(p, sk->f, sk->f##len);                                                      \
		out->rsa.f = p;                                                                    \
		out->rsa.f##len = sk->f##len;                                                      \
		p += sk->f##len;                                                                   \
	} while (0)
	CREDS_COPY(p);
	CREDS_COPY(q);
	CREDS_COPY(dp);
	CREDS_COPY(dq);
	CREDS_COPY(iq);
#undef CREDS_COPY
	return FG_OK;
}

enum fg_err certs_load_creds(struct db *db, const char *id, struct certs_creds *out)
{
	struct db_txn *txn = NULL;
	struct db_cert rec;
	struct db_key k;
	bool have_rec = false, have_key = false;
	struct pki_cert **certs = NULL;
	size_t n = 0;
	struct pki_key *key = NULL;
	enum fg_err err;
	memset(out, 0, sizeof(*out));
	if (id == NULL || strlen(id) >= DB_ID_MAX)
		return FG_ERR_NOTFOUND;
	if ((err = db_txn_begin(db, &txn)) != FG_OK)
		return err;
	if ((err = db_cert_get(txn, id, &rec)) != FG_OK)
		goto out;
	have_rec = true;
	if (rec.kind != DB_CERT_LEAF || rec.key_id[0] == '\0') {
		err = FG_ERR_INVAL;
		goto out;
	}
	if ((err = db_key_get(txn, rec.key_id, &k)) != FG_OK)
		goto out;
	have_key = true;
	if ((err = pki_certs_from_pem(rec.pem, strlen(rec.pem), &certs, &n, NULL, 0)) != FG_OK ||
	    (err = pki_key_from_pem(k.pem, strlen(k.pem), &key, NULL, 0)) != FG_OK)
		goto out;
	out->chain = calloc(n, sizeof(*out->chain));
	if (out->chain == NULL) {
		err = FG_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		out->chain[i].data = malloc(certs[i]->der_len);
		if (out->chain[i].data == NULL) {
			err = FG_ERR_NOMEM;
			goto out;
		}
		memcpy(out->chain[i].data, certs[i]->der, certs[i]->der_len);
		out->chain[i].data_len = certs[i]->der_len;
		out->chain_len++;
	}
	if ((err = creds_key(out, key)) != FG_OK)
		goto out;
	out->not_after_ms = certs[0]->not_after_ms;
	fg_strlcpy(out->id, rec.id, sizeof(out->id));
	fg_strlcpy(out->name, rec.name, sizeof(out->name));
out:
	if (err != FG_OK)
		certs_creds_free(out);
	pki_key_free(key);
	pki_certs_free(certs, n);
	if (have_key)
		db_key_clear(&k);
	if (have_rec)
		db_cert_clear(&rec);
	db_txn_end(txn);
	return err;
}

/* ---- expiry ----------------------------------------------------------------------------- */

enum fg_err certs_expiring(struct db *db, int64_t now_ms, int64_t within_ms, certs_expiry_cb cb,
                           void *ctx)
{
	struct db_txn *txn = NULL;
	struct db_cert *list = NULL;
	size_t n = 0;
	struct certs_roles roles;
	enum fg_err err = db_txn_begin(db, &txn);
	memset(&roles, 0, sizeof(roles));
	if (err != FG_OK)
		return err;
	if ((err = db_cert_list(txn, &list, &n)) != FG_OK ||
	    (err = certs__roles_load(txn, &roles)) != FG_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct pki_cert **certs = NULL;
		size_t cn = 0;
		json_t *r = json_array();
		char text[CERTS_ROLES_TEXT_MAX] = "";
		if (r == NULL) {
			err = FG_ERR_NOMEM;
			goto out;
		}
		certs__roles_json(&roles, list[i].id, r);
		if (list[i].kind == DB_CERT_CSR || json_array_size(r) == 0 ||
		    record_parse(&list[i], &certs, &cn) != FG_OK) {
			json_decref(r);
			continue;
		}
		/* The earliest expiry among the chain: an expired intermediate breaks it too. */
		int64_t na = certs[0]->not_after_ms;
		for (size_t k = 1; k < cn; k++)
			if (certs[k]->not_after_ms < na)
				na = certs[k]->not_after_ms;
		if (na - now_ms <= within_ms) {
			size_t o = 0;
			for (size_t k = 0; k < json_array_size(r); k++) {
				int w = snprintf(text + o, sizeof(text) - o, "%s%s", k ? ", " : "",
				                 json_string_value(json_array_get(r, k)));
				if (w < 0 || (size_t)w >= sizeof(text) - o)
					break;
				o += (size_t)w;
			}
			struct certs_expiry e = {.id = list[i].id,
			                         .name = list[i].name,
			                         .subject = certs[0]->subject,
			                         .not_after_ms = na,
			                         .days_left = days_left(na, now_ms),
			                         .roles = text};
			cb(ctx, &e);
		}
		pki_certs_free(certs, cn);
		json_decref(r);
	}
out:
	certs__roles_free(&roles);
	db_cert_list_free(list, n);
	db_txn_end(txn);
	return err;
}
