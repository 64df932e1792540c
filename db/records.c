/* db: typed accessors for settings, certificates, keys, admins, sessions and federation. */
#include "db/db_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- settings -------------------------------------------------------------------------- */

struct setting_rec {
	char key[DB_SETTING_KEY_MAX];
	char value[DB_SETTING_VALUE_MAX];
};

static const struct db_field setting_fields[] = {
    DB_FLD(struct setting_rec, key, DB_F_STR, 0),
    DB_FLD(struct setting_rec, value, DB_F_STR, 0),
};

static const struct db_rec_desc setting_desc = {
    .kind = DB_KIND_SETTING,
    .size = sizeof(struct setting_rec),
    .fields = setting_fields,
    .nfields = sizeof setting_fields / sizeof setting_fields[0],
    .key_off = offsetof(struct setting_rec, key),
    .key_size = DB_SETTING_KEY_MAX,
};

enum fg_err db_setting_get(struct db_txn *txn, const char *key, char *val, size_t valsize)
{
	struct setting_rec *r = malloc(sizeof *r);
	if (!r)
		return FG_ERR_NOMEM;
	enum fg_err err = db__rec_get(txn, &setting_desc, key, r);
	if (!err && !fg_strlcpy(val, r->value, valsize))
		err = FG_ERR_TOOBIG;
	free(r);
	return err;
}

enum fg_err db_setting_put(struct db_txn *txn, const char *key, const char *val)
{
	if (!key || !val)
		return FG_ERR_INVAL;
	struct setting_rec *r = calloc(1, sizeof *r);
	if (!r)
		return FG_ERR_NOMEM;
	enum fg_err err = FG_OK;
	if (!fg_strlcpy(r->key, key, sizeof r->key) || !fg_strlcpy(r->value, val, sizeof r->value))
		err = FG_ERR_TOOBIG;
	else
		err = db__rec_put(txn, &setting_desc, r);
	free(r);
	return err;
}

enum fg_err db_setting_del(struct db_txn *txn, const char *key)
{
	return db__rec_del(txn, &setting_desc, key);
}

/* ---- certificates and keys ------------------------------------------------------------- */

static const struct db_field cert_fields[] = {
    DB_FLD(struct db_cert, id, DB_F_STR, 0),
    DB_FLD(struct db_cert, name, DB_F_STR, 0),
    DB_FLD(struct db_cert, kind, DB_F_ENUM, DB_CERT_CA_BUNDLE),
    DB_FLD(struct db_cert, key_id, DB_F_STR, 0),
    DB_FLD(struct db_cert, pem, DB_F_PEM, 0),
    DB_FLD(struct db_cert, created_ms, DB_F_I64, 0),
};

static const struct db_rec_desc cert_desc = {
    .kind = DB_KIND_CERT,
    .size = sizeof(struct db_cert),
    .fields = cert_fields,
    .nfields = sizeof cert_fields / sizeof cert_fields[0],
    .key_off = offsetof(struct db_cert, id),
    .key_size = DB_ID_MAX,
};

enum fg_err db_cert_get(struct db_txn *txn, const char *id, struct db_cert *out)
{
	return db__rec_get(txn, &cert_desc, id, out);
}

enum fg_err db_cert_put(struct db_txn *txn, const struct db_cert *cert)
{
	return db__rec_put(txn, &cert_desc, cert);
}

enum fg_err db_cert_del(struct db_txn *txn, const char *id)
{
	return db__rec_del(txn, &cert_desc, id);
}

enum fg_err db_cert_list(struct db_txn *txn, struct db_cert **out, size_t *count)
{
	return db__rec_list(txn, &cert_desc, (void **)out, count);
}

void db_cert_clear(struct db_cert *cert)
{
	db__rec_clear(&cert_desc, cert);
}

void db_cert_list_free(struct db_cert *certs, size_t count)
{
	db__rec_list_free(&cert_desc, certs, count);
}

static const struct db_field key_fields[] = {
    DB_FLD(struct db_key, id, DB_F_STR, 0),
    DB_FLD(struct db_key, type, DB_F_STR, 0),
    DB_FLD(struct db_key, pem, DB_F_PEM, 0),
    DB_FLD(struct db_key, created_ms, DB_F_I64, 0),
};

static const struct db_rec_desc key_desc = {
    .kind = DB_KIND_KEY,
    .size = sizeof(struct db_key),
    .fields = key_fields,
    .nfields = sizeof key_fields / sizeof key_fields[0],
    .key_off = offsetof(struct db_key, id),
    .key_size = DB_ID_MAX,
    .wipe = true,
};

enum fg_err db_key_get(struct db_txn *txn, const char *id, struct db_key *out)
{
	return db__rec_get(txn, &key_desc, id, out);
}

enum fg_err db_key_put(struct db_txn *txn, const struct db_key *key)
{
	return db__rec_put(txn, &key_desc, key);
}

enum fg_err db_key_del(struct db_txn *txn, const char *id)
{
	return db__rec_del(txn, &key_desc, id);
}

void db_key_clear(struct db_key *key)
{
	db__rec_clear(&key_desc, key);
}

/* ---- admins and sessions --------------------------------------------------------------- */

static const struct db_field admin_fields[] = {
    DB_FLD(struct db_admin, name, DB_F_STR, 0),
    DB_FLD(struct db_admin, hash, DB_F_STR, 0),
    DB_FLD(struct db_admin, created_ms, DB_F_I64, 0),
    DB_FLD(struct db_admin, password_changed_ms, DB_F_I64, 0),
    DB_FLD(struct db_admin, last_login_ms, DB_F_I64, 0),
};

static const struct db_rec_desc admin_desc = {
    .kind = DB_KIND_ADMIN,
    .size = sizeof(struct db_admin),
    .fields = admin_fields,
    .nfields = sizeof admin_fields / sizeof admin_fields[0],
    .key_off = offsetof(struct db_admin, name),
    .key_size = DB_NAME_MAX,
};

enum fg_err db_admin_get(struct db_txn *txn, const char *name, struct db_admin *out)
{
	return db__rec_get(txn, &admin_desc, name, out);
}

enum fg_err db_admin_put(struct db_txn *txn, const struct db_admin *admin)
{
	return db__rec_put(txn, &admin_desc, admin);
}

enum fg_err db_admin_del(struct db_txn *txn, const char *name)
{
	return db__rec_del(txn, &admin_desc, name);
}

enum fg_err db_admin_list(struct db_txn *txn, struct db_admin **out, size_t *count)
{
	return db__rec_list(txn, &admin_desc, (void **)out, count);
}

void db_admin_list_free(struct db_admin *admins, size_t count)
{
	db__rec_list_free(&admin_desc, admins, count);
}

enum fg_err db_admin_count(struct db_txn *txn, size_t *count)
{
	MDB_stat st;
	*count = 0;
	int rc = mdb_stat(txn->txn, txn->db->dbi[DB_KIND_ADMIN], &st);
	if (rc)
		return db__mdb_fail(txn, rc, "counting admins");
	*count = st.ms_entries;
	return FG_OK;
}

static const struct db_field session_fields[] = {
    DB_FLD(struct db_session, id, DB_F_STR, 0),
    DB_FLD(struct db_session, admin, DB_F_STR, 0),
    DB_FLD(struct db_session, csrf, DB_F_STR, 0),
    DB_FLD(struct db_session, source, DB_F_STR, 0),
    DB_FLD(struct db_session, created_ms, DB_F_I64, 0),
    DB_FLD(struct db_session, last_seen_ms, DB_F_I64, 0),
};

static const struct db_rec_desc session_desc = {
    .kind = DB_KIND_SESSION,
    .size = sizeof(struct db_session),
    .fields = session_fields,
    .nfields = sizeof session_fields / sizeof session_fields[0],
    .key_off = offsetof(struct db_session, id),
    .key_size = sizeof(((struct db_session *)0)->id),
};

enum fg_err db_session_get(struct db_txn *txn, const char *id, struct db_session *out)
{
	return db__rec_get(txn, &session_desc, id, out);
}

enum fg_err db_session_put(struct db_txn *txn, const struct db_session *s)
{
	return db__rec_put(txn, &session_desc, s);
}

enum fg_err db_session_del(struct db_txn *txn, const char *id)
{
	return db__rec_del(txn, &session_desc, id);
}

static bool session_idle(const void *obj, const void *arg)
{
	return ((const struct db_session *)obj)->last_seen_ms < *(const int64_t *)arg;
}

enum fg_err db_session_expire(struct db_txn *txn, int64_t idle_before_ms, size_t *removed)
{
	return db__rec_delete_if(txn, &session_desc, session_idle, &idle_before_ms, removed);
}

static bool session_of(const void *obj, const void *arg)
{
	return strcmp(((const struct db_session *)obj)->admin, arg) == 0;
}

enum fg_err db_session_del_admin(struct db_txn *txn, const char *admin, size_t *removed)
{
	if (!admin)
		return FG_ERR_INVAL;
	return db__rec_delete_if(txn, &session_desc, session_of, admin, removed);
}

/* ---- federation configuration ---------------------------------------------------------- */

static const struct db_field xmpp_domain_fields[] = {
    DB_FLD(struct db_xmpp_domain, domain, DB_F_STR, 0),
    DB_FLD(struct db_xmpp_domain, cert_id, DB_F_STR, 0),
    DB_FLD(struct db_xmpp_domain, created_ms, DB_F_I64, 0),
};

/* Domain keys are lower-cased: DNS names compare case-insensitively (RFC 4343). */
static const struct db_rec_desc xmpp_domain_desc = {
    .kind = DB_KIND_XMPP_DOMAIN,
    .size = sizeof(struct db_xmpp_domain),
    .fields = xmpp_domain_fields,
    .nfields = sizeof xmpp_domain_fields / sizeof xmpp_domain_fields[0],
    .key_off = offsetof(struct db_xmpp_domain, domain),
    .key_size = DB_DOMAIN_MAX,
    .key_lower = true,
};

enum fg_err db_xmpp_domain_get(struct db_txn *txn, const char *domain, struct db_xmpp_domain *out)
{
	return db__rec_get(txn, &xmpp_domain_desc, domain, out);
}

enum fg_err db_xmpp_domain_put(struct db_txn *txn, const struct db_xmpp_domain *d)
{
	return db__rec_put(txn, &xmpp_domain_desc, d);
}

enum fg_err db_xmpp_domain_del(struct db_txn *txn, const char *domain)
{
	return db__rec_del(txn, &xmpp_domain_desc, domain);
}

enum fg_err db_xmpp_domain_list(struct db_txn *txn, struct db_xmpp_domain **out, size_t *count)
{
	return db__rec_list(txn, &xmpp_domain_desc, (void **)out, count);
}

static const struct db_field sip_domain_fields[] = {
    DB_FLD(struct db_sip_domain, domain, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, next_hop, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, next_hop_port, DB_F_U16, 0),
    DB_FLD(struct db_sip_domain, transport, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, cert_id, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, ca_id, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, bind, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, xmpp_domain, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, trusted_addrs, DB_F_STR, 0),
    DB_FLD(struct db_sip_domain, created_ms, DB_F_I64, 0),
};

static const struct db_rec_desc sip_domain_desc = {
    .kind = DB_KIND_SIP_DOMAIN,
    .size = sizeof(struct db_sip_domain),
    .fields = sip_domain_fields,
    .nfields = sizeof sip_domain_fields / sizeof sip_domain_fields[0],
    .key_off = offsetof(struct db_sip_domain, domain),
    .key_size = DB_DOMAIN_MAX,
    .key_lower = true,
};

enum fg_err db_sip_domain_get(struct db_txn *txn, const char *domain, struct db_sip_domain *out)
{
	return db__rec_get(txn, &sip_domain_desc, domain, out);
}

enum fg_err db_sip_domain_put(struct db_txn *txn, const struct db_sip_domain *d)
{
	return db__rec_put(txn, &sip_domain_desc, d);
}

enum fg_err db_sip_domain_del(struct db_txn *txn, const char *domain)
{
	return db__rec_del(txn, &sip_domain_desc, domain);
}

enum fg_err db_sip_domain_list(struct db_txn *txn, struct db_sip_domain **out, size_t *count)
{
	return db__rec_list(txn, &sip_domain_desc, (void **)out, count);
}

static const struct db_field allow_fields[] = {
    DB_FLD(struct db_allow_entry, domain, DB_F_STR, 0),
    DB_FLD(struct db_allow_entry, server, DB_F_STR, 0),
    DB_FLD(struct db_allow_entry, port, DB_F_U16, 0),
    DB_FLD(struct db_allow_entry, auth, DB_F_ENUM, DB_AUTH_SASL_EXTERNAL),
    DB_FLD(struct db_allow_entry, tls, DB_F_ENUM, DB_TLS_REQUIRED),
    DB_FLD(struct db_allow_entry, cert_id, DB_F_STR, 0),
    DB_FLD(struct db_allow_entry, description, DB_F_STR, 0),
    DB_FLD(struct db_allow_entry, created_ms, DB_F_I64, 0),
};

static const struct db_rec_desc allow_desc = {
    .kind = DB_KIND_ALLOW,
    .size = sizeof(struct db_allow_entry),
    .fields = allow_fields,
    .nfields = sizeof allow_fields / sizeof allow_fields[0],
    .key_off = offsetof(struct db_allow_entry, domain),
    .key_size = DB_DOMAIN_MAX,
    .key_lower = true,
};

enum fg_err db_allow_get(struct db_txn *txn, const char *domain, struct db_allow_entry *out)
{
	return db__rec_get(txn, &allow_desc, domain, out);
}

enum fg_err db_allow_put(struct db_txn *txn, const struct db_allow_entry *e)
{
	return db__rec_put(txn, &allow_desc, e);
}

enum fg_err db_allow_del(struct db_txn *txn, const char *domain)
{
	return db__rec_del(txn, &allow_desc, domain);
}

enum fg_err db_allow_list(struct db_txn *txn, struct db_allow_entry **out, size_t *count)
{
	return db__rec_list(txn, &allow_desc, (void **)out, count);
}

static const struct db_field policy_fields[] = {
    DB_FLD(struct db_policy_rule, id, DB_F_STR, 0),
    DB_FLD(struct db_policy_rule, pattern, DB_F_STR, 0),
    DB_FLD(struct db_policy_rule, allow, DB_F_BOOL, 0),
    DB_FLD(struct db_policy_rule, direction, DB_F_ENUM, DB_DIR_OUTGOING),
    DB_FLD(struct db_policy_rule, description, DB_F_STR, 0),
    DB_FLD(struct db_policy_rule, created_ms, DB_F_I64, 0),
};

static const struct db_rec_desc policy_desc = {
    .kind = DB_KIND_POLICY,
    .size = sizeof(struct db_policy_rule),
    .fields = policy_fields,
    .nfields = sizeof policy_fields / sizeof policy_fields[0],
    .key_off = offsetof(struct db_policy_rule, id),
    .key_size = DB_ID_MAX,
};

enum fg_err db_policy_get(struct db_txn *txn, const char *id, struct db_policy_rule *out)
{
	return db__rec_get(txn, &policy_desc, id, out);
}

enum fg_err db_policy_put(struct db_txn *txn, const struct db_policy_rule *r)
{
	return db__rec_put(txn, &policy_desc, r);
}

enum fg_err db_policy_del(struct db_txn *txn, const char *id)
{
	return db__rec_del(txn, &policy_desc, id);
}

enum fg_err db_policy_list(struct db_txn *txn, struct db_policy_rule **out, size_t *count)
{
	return db__rec_list(txn, &policy_desc, (void **)out, count);
}

static const struct db_field bridge_fields[] = {
    DB_FLD(struct db_bridge, name, DB_F_STR, 0),
    DB_FLD(struct db_bridge, domain, DB_F_STR, 0),
    DB_FLD(struct db_bridge, secret, DB_F_STR, 0),
    DB_FLD(struct db_bridge, created_ms, DB_F_I64, 0),
};

/* The XEP-0114 secret is private material: buffers holding it are wiped. */
static const struct db_rec_desc bridge_desc = {
    .kind = DB_KIND_BRIDGE,
    .size = sizeof(struct db_bridge),
    .fields = bridge_fields,
    .nfields = sizeof bridge_fields / sizeof bridge_fields[0],
    .key_off = offsetof(struct db_bridge, name),
    .key_size = DB_NAME_MAX,
    .wipe = true,
};

enum fg_err db_bridge_get(struct db_txn *txn, const char *name, struct db_bridge *out)
{
	return db__rec_get(txn, &bridge_desc, name, out);
}

enum fg_err db_bridge_put(struct db_txn *txn, const struct db_bridge *b)
{
	return db__rec_put(txn, &bridge_desc, b);
}

enum fg_err db_bridge_del(struct db_txn *txn, const char *name)
{
	return db__rec_del(txn, &bridge_desc, name);
}

enum fg_err db_bridge_list(struct db_txn *txn, struct db_bridge **out, size_t *count)
{
	return db__rec_list(txn, &bridge_desc, (void **)out, count);
}
