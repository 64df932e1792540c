/* Unit tests for db records: round trips of every kind, formats, generation and watchers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "db/db.h"
#include "db/db_internal.h"
#include "db_test_util.h"

#include <stdlib.h>
#include <string.h>

struct fixture {
	char dir[64];
	struct db *db;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	assert_non_null(tdir_make(f->dir, sizeof f->dir));
	assert_int_equal(db_open(&f->db, f->dir), FG_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->db);
	tdir_remove(f->dir);
	free(f);
	return 0;
}

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

/* Puts one sample record of a kind, keyed by key. */
static enum fg_err put_sample(struct db_txn *txn, enum db_kind kind, const char *key)
{
	switch (kind) {
	case DB_KIND_SETTING:
		return db_setting_put(txn, key, "value-of-setting");
	case DB_KIND_SIP_DOMAIN: {
		struct db_sip_domain d = {.next_hop_port = 5061, .created_ms = 11};
		fg_strlcpy(d.domain, key, sizeof d.domain);
		fg_strlcpy(d.next_hop, "edge.sip.example", sizeof d.next_hop);
		fg_strlcpy(d.transport, "tls", sizeof d.transport);
		fg_strlcpy(d.cert_id, "c1", sizeof d.cert_id);
		fg_strlcpy(d.ca_id, "ca1", sizeof d.ca_id);
		fg_strlcpy(d.bind, "0.0.0.0:5061", sizeof d.bind);
		fg_strlcpy(d.xmpp_domain, "xmpp.example", sizeof d.xmpp_domain);
		return db_sip_domain_put(txn, &d);
	}
	case DB_KIND_XMPP_DOMAIN: {
		struct db_xmpp_domain d = {.created_ms = 12};
		fg_strlcpy(d.domain, key, sizeof d.domain);
		fg_strlcpy(d.cert_id, "c2", sizeof d.cert_id);
		return db_xmpp_domain_put(txn, &d);
	}
	case DB_KIND_ALLOW: {
		struct db_allow_entry e = {.port = 5269,
		                           .auth = DB_AUTH_SASL_EXTERNAL,
		                           .tls = DB_TLS_REQUIRED,
		                           .created_ms = 13};
		fg_strlcpy(e.domain, key, sizeof e.domain);
		fg_strlcpy(e.server, "xmpp.peer.example", sizeof e.server);
		fg_strlcpy(e.description, "partner \"quoted\" \xc3\xa9", sizeof e.description);
		return db_allow_put(txn, &e);
	}
	case DB_KIND_POLICY: {
		struct db_policy_rule r = {
		    .allow = true, .direction = DB_DIR_INCOMING, .created_ms = 14};
		fg_strlcpy(r.id, key, sizeof r.id);
		fg_strlcpy(r.pattern, "*.example.com", sizeof r.pattern);
		fg_strlcpy(r.description, "exception", sizeof r.description);
		return db_policy_put(txn, &r);
	}
	case DB_KIND_CERT: {
		struct db_cert c = {
		    .kind = DB_CERT_LEAF, .pem = (char *)cert_pem, .created_ms = 15};
		fg_strlcpy(c.id, key, sizeof c.id);
		fg_strlcpy(c.name, "console", sizeof c.name);
		fg_strlcpy(c.key_id, "k1", sizeof c.key_id);
		return db_cert_put(txn, &c);
	}
	case DB_KIND_KEY: {
		struct db_key k = {.pem = (char *)key_pem, .created_ms = 16};
		fg_strlcpy(k.id, key, sizeof k.id);
		fg_strlcpy(k.type, "ec-p256", sizeof k.type);
		return db_key_put(txn, &k);
	}
	case DB_KIND_BRIDGE: {
		struct db_bridge b = {.created_ms = 17};
		fg_strlcpy(b.name, key, sizeof b.name);
		fg_strlcpy(b.domain, "bridge.example", sizeof b.domain);
		fg_strlcpy(b.secret, "s3cret", sizeof b.secret);
		return db_bridge_put(txn, &b);
	}
	case DB_KIND_ADMIN: {
		struct db_admin a = {
		    .created_ms = 18, .password_changed_ms = 19, .last_login_ms = 20};
		fg_strlcpy(a.name, key, sizeof a.name);
		fg_strlcpy(a.hash, "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA", sizeof a.hash);
		return db_admin_put(txn, &a);
	}
	case DB_KIND_SESSION: {
		struct db_session s = {.created_ms = 21, .last_seen_ms = 22};
		fg_strlcpy(s.id, key, sizeof s.id);
		fg_strlcpy(s.admin, "admin", sizeof s.admin);
		fg_strlcpy(s.csrf, "abcd", sizeof s.csrf);
		fg_strlcpy(s.source, "127.0.0.1:5555", sizeof s.source);
		return db_session_put(txn, &s);
	}
	case DB_KIND_LOG:
		return db_log_append(txn, 23, FG_LOG_WARN, "test", key);
	case DB_KIND_AUDIT: {
		struct db_audit_entry e = {.time_ms = 24, .ok = true};
		fg_strlcpy(e.actor, "admin", sizeof e.actor);
		fg_strlcpy(e.source, "127.0.0.1", sizeof e.source);
		fg_strlcpy(e.action, "login", sizeof e.action);
		fg_strlcpy(e.detail, key, sizeof e.detail);
		return db_audit_append(txn, &e);
	}
	case DB_KIND_FAULT: {
		struct db_fault fl = {.severity = FG_LOG_ERR, .raised_ms = 25};
		fg_strlcpy(fl.id, key, sizeof fl.id);
		fg_strlcpy(fl.object, "listener", sizeof fl.object);
		fg_strlcpy(fl.condition, "Broken", sizeof fl.condition);
		fg_strlcpy(fl.cause, "because", sizeof fl.cause);
		fg_strlcpy(fl.fix, "fix it", sizeof fl.fix);
		return db_fault_put(txn, &fl);
	}
	case DB_KIND_STATUS: {
		struct db_status st = {.since_ms = 26};
		fg_strlcpy(st.id, key, sizeof st.id);
		fg_strlcpy(st.kind, "listener", sizeof st.kind);
		fg_strlcpy(st.name, "console", sizeof st.name);
		fg_strlcpy(st.state, "listening", sizeof st.state);
		fg_strlcpy(st.extra, "{\"port\":8443}", sizeof st.extra);
		return db_status_put(txn, &st);
	}
	case DB_KIND_SUBSCRIPTION: {
		struct db_subscription sub = {.direction = DB_SUB_XMPP_WATCHER,
		                              .state = DB_SUB_ACTIVE,
		                              .local_cseq = 3,
		                              .expires_ms = 27};
		fg_strlcpy(sub.id, key, sizeof sub.id);
		fg_strlcpy(sub.sip_domain, "sip.example", sizeof sub.sip_domain);
		fg_strlcpy(sub.watcher, "juliet@xmpp.example", sizeof sub.watcher);
		fg_strlcpy(sub.presentity, "sip:romeo@sip.example", sizeof sub.presentity);
		fg_strlcpy(sub.call_id, "c1@gw", sizeof sub.call_id);
		return db_subscription_put(txn, &sub);
	}
	case DB_KIND__COUNT:
		break;
	}
	return FG_ERR_INVAL;
}

struct kind_op {
	enum db_kind kind;
	const char *key;
};

static enum fg_err put_fn(struct db_txn *txn, void *ctx)
{
	struct kind_op *op = ctx;
	return put_sample(txn, op->kind, op->key);
}

static enum fg_err put_every_kind(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	for (int k = 0; k < DB_KIND__COUNT; k++) {
		enum fg_err err = put_sample(txn, (enum db_kind)k,
		                             k == DB_KIND_SETTING       ? "console.port"
		                             : k == DB_KIND_ALLOW       ? "Peer.Example"
		                             : k == DB_KIND_SIP_DOMAIN  ? "sip.example"
		                             : k == DB_KIND_XMPP_DOMAIN ? "xmpp.example"
		                                                        : "rec1");
		if (err)
			return err;
	}
	return FG_OK;
}

static void test_round_trip_every_kind(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_every_kind, NULL), FG_OK);

	struct db_txn *txn;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	char val[64];
	assert_int_equal(db_setting_get(txn, "console.port", val, sizeof val), FG_OK);
	assert_string_equal(val, "value-of-setting");
	char tiny[4];
	assert_int_equal(db_setting_get(txn, "console.port", tiny, sizeof tiny), FG_ERR_TOOBIG);
	assert_int_equal(db_setting_get(txn, "nope", val, sizeof val), FG_ERR_NOTFOUND);

	struct db_sip_domain sd;
	assert_int_equal(db_sip_domain_get(txn, "SIP.example", &sd), FG_OK);
	assert_string_equal(sd.next_hop, "edge.sip.example");
	assert_int_equal(sd.next_hop_port, 5061);
	assert_string_equal(sd.xmpp_domain, "xmpp.example");
	assert_int_equal(sd.created_ms, 11);

	struct db_xmpp_domain xd;
	assert_int_equal(db_xmpp_domain_get(txn, "xmpp.example", &xd), FG_OK);
	assert_string_equal(xd.cert_id, "c2");

	/* Domain keys compare case-insensitively; the record keeps its spelling. */
	struct db_allow_entry ae;
	assert_int_equal(db_allow_get(txn, "peer.example", &ae), FG_OK);
	assert_string_equal(ae.domain, "Peer.Example");
	assert_int_equal(ae.port, 5269);
	assert_int_equal(ae.auth, DB_AUTH_SASL_EXTERNAL);
	assert_int_equal(ae.tls, DB_TLS_REQUIRED);
	assert_string_equal(ae.description, "partner \"quoted\" \xc3\xa9");

	struct db_policy_rule pr;
	assert_int_equal(db_policy_get(txn, "rec1", &pr), FG_OK);
	assert_true(pr.allow);
	assert_int_equal(pr.direction, DB_DIR_INCOMING);
	assert_string_equal(pr.pattern, "*.example.com");

	struct db_cert c;
	assert_int_equal(db_cert_get(txn, "rec1", &c), FG_OK);
	assert_string_equal(c.pem, cert_pem);
	assert_string_equal(c.key_id, "k1");
	assert_int_equal(c.kind, DB_CERT_LEAF);
	db_cert_clear(&c);
	db_cert_clear(NULL);

	struct db_key k;
	assert_int_equal(db_key_get(txn, "rec1", &k), FG_OK);
	assert_string_equal(k.pem, key_pem);
	assert_string_equal(k.type, "ec-p256");
	db_key_clear(&k);
	assert_null(k.pem);

	struct db_bridge b;
	assert_int_equal(db_bridge_get(txn, "rec1", &b), FG_OK);
	assert_string_equal(b.secret, "s3cret");

	struct db_admin a;
	assert_int_equal(db_admin_get(txn, "rec1", &a), FG_OK);
	assert_int_equal(a.last_login_ms, 20);
	size_t n;
	assert_int_equal(db_admin_count(txn, &n), FG_OK);
	assert_int_equal(n, 1);

	struct db_session s;
	assert_int_equal(db_session_get(txn, "rec1", &s), FG_OK);
	assert_string_equal(s.source, "127.0.0.1:5555");

	struct db_fault fl;
	assert_int_equal(db_fault_get(txn, "rec1", &fl), FG_OK);
	assert_string_equal(fl.fix, "fix it");

	struct db_status *sts;
	assert_int_equal(db_status_list(txn, &sts, &n), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(sts[0].extra, "{\"port\":8443}");
	db_status_list_free(sts, n);

	struct db_subscription sub;
	assert_int_equal(db_subscription_get(txn, "rec1", &sub), FG_OK);
	assert_int_equal(sub.direction, DB_SUB_XMPP_WATCHER);
	assert_int_equal(sub.state, DB_SUB_ACTIVE);
	assert_string_equal(sub.presentity, "sip:romeo@sip.example");
	assert_int_equal(sub.local_cseq, 3);
	struct db_subscription *subs;
	assert_int_equal(db_subscription_list(txn, &subs, &n), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(subs[0].call_id, "c1@gw");
	free(subs);

	struct db_log_entry *le;
	size_t total;
	assert_int_equal(db_log_query(txn, NULL, &le, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(le[0].msg, "rec1");
	db_log_list_free(le, n);

	struct db_audit_entry *au;
	assert_int_equal(db_audit_query(txn, NULL, &au, &n, &total), FG_OK);
	assert_int_equal(n, 1);
	assert_true(au[0].ok);
	db_audit_list_free(au, n);

	/* Every record carries its format version. */
	char *json;
	assert_int_equal(db__raw_get(txn, DB_KIND_SETTING, "console.port", 12, &json), FG_OK);
	assert_non_null(strstr(json, "\"fmt\":1"));
	free(json);
	assert_int_equal(db__raw_get(txn, DB_KIND_ALLOW, "peer.example", 12, &json), FG_OK);
	assert_non_null(strstr(json, "\"fmt\":1"));
	free(json);
	db_txn_end(txn);
}

static enum fg_err put_lists(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	static const char *const keys[] = {"c.example", "a.example", "b.example"};
	for (int k = 0; k < DB_KIND_SESSION; k++)
		for (int i = 0; i < 3; i++) {
			enum fg_err err = put_sample(txn, (enum db_kind)k, keys[i]);
			if (err)
				return err;
		}
	return FG_OK;
}

static enum fg_err del_b(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	enum fg_err err = FG_OK;
	const char *key = "b.example";
	err = err ? err : db_setting_del(txn, key);
	err = err ? err : db_sip_domain_del(txn, "B.EXAMPLE");
	err = err ? err : db_xmpp_domain_del(txn, key);
	err = err ? err : db_allow_del(txn, key);
	err = err ? err : db_policy_del(txn, key);
	err = err ? err : db_cert_del(txn, key);
	err = err ? err : db_key_del(txn, key);
	err = err ? err : db_bridge_del(txn, key);
	err = err ? err : db_admin_del(txn, key);
	return err;
}

static void test_lists_and_deletes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(db_write(f->db, put_lists, NULL), FG_OK);
	assert_int_equal(db_write(f->db, del_b, NULL), FG_OK);
	/* Deleting what is gone reports it and changes nothing. */
	assert_int_equal(db_write(f->db, del_b, NULL), FG_ERR_NOTFOUND);

	struct db_txn *txn;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	size_t n;
	struct db_sip_domain *sd;
	assert_int_equal(db_sip_domain_list(txn, &sd, &n), FG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(sd[0].domain, "a.example");
	assert_string_equal(sd[1].domain, "c.example");
	free(sd);
	struct db_xmpp_domain *xd;
	assert_int_equal(db_xmpp_domain_list(txn, &xd, &n), FG_OK);
	assert_int_equal(n, 2);
	free(xd);
	struct db_allow_entry *ae;
	assert_int_equal(db_allow_list(txn, &ae, &n), FG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ae[1].domain, "c.example");
	free(ae);
	struct db_policy_rule *pr;
	assert_int_equal(db_policy_list(txn, &pr, &n), FG_OK);
	assert_int_equal(n, 2);
	free(pr);
	struct db_bridge *br;
	assert_int_equal(db_bridge_list(txn, &br, &n), FG_OK);
	assert_int_equal(n, 2);
	free(br);
	struct db_cert *certs;
	assert_int_equal(db_cert_list(txn, &certs, &n), FG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(certs[0].pem, cert_pem);
	db_cert_list_free(certs, n);
	struct db_admin *admins;
	assert_int_equal(db_admin_list(txn, &admins, &n), FG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(admins[0].name, "a.example");
	db_admin_list_free(admins, n);
	struct db_key k;
	assert_int_equal(db_key_get(txn, "b.example", &k), FG_ERR_NOTFOUND);
	char v[32];
	assert_int_equal(db_setting_get(txn, "b.example", v, sizeof v), FG_ERR_NOTFOUND);
	assert_int_equal(db_setting_get(txn, "a.example", v, sizeof v), FG_OK);
	/* A read transaction cannot write. */
	assert_int_equal(db_setting_put(txn, "x", "y"), FG_ERR_INVAL);
	db_txn_end(txn);
	db_txn_end(NULL);
}

struct watch_log {
	int calls;
	uint64_t generation;
	uint32_t mask;
};

static void watch_cb(void *ctx, uint64_t generation, uint32_t kinds_mask)
{
	struct watch_log *w = ctx;
	w->calls++;
	w->generation = generation;
	w->mask = kinds_mask;
}

static void test_generation_and_watchers(void **state)
{
	struct fixture *f = *state;
	struct watch_log w = {0};
	int h = db_watch(f->db, watch_cb, &w);
	assert_true(h >= 0);
	assert_int_equal(db_generation(f->db), 0);
	uint64_t expect = 0;
	for (int k = 0; k < DB_KIND__COUNT; k++) {
		struct kind_op op = {(enum db_kind)k, "gen.example"};
		int calls = w.calls;
		assert_int_equal(db_write(f->db, put_fn, &op), FG_OK);
		if (db_kind_is_config((enum db_kind)k))
			expect++;
		assert_int_equal(db_generation(f->db), expect);
		assert_int_equal(w.calls, calls + 1);
		assert_int_equal(w.mask, 1u << k);
		assert_int_equal(w.generation, expect);
	}
	assert_int_equal(expect, DB_KIND_SESSION);
	assert_true(db_kind_is_config(DB_KIND_ADMIN));
	assert_false(db_kind_is_config(DB_KIND_LOG));
	assert_string_equal(db_kind_name(DB_KIND_ALLOW), "allow");
	assert_string_equal(db_kind_name(DB_KIND__COUNT), "unknown");

	/* One write touching several kinds bumps once and reports them all. */
	assert_int_equal(db_write(f->db, put_every_kind, NULL), FG_OK);
	assert_int_equal(db_generation(f->db), expect + 1);
	assert_int_equal(w.mask, (1u << DB_KIND__COUNT) - 1);

	db_unwatch(f->db, h);
	struct kind_op op = {DB_KIND_SETTING, "after.unwatch"};
	int calls = w.calls;
	assert_int_equal(db_write(f->db, put_fn, &op), FG_OK);
	assert_int_equal(w.calls, calls);
	db_unwatch(f->db, -1);
}

static enum fg_err put_then_fail(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	enum fg_err err = db_setting_put(txn, "half", "written");
	if (!err)
		err = put_sample(txn, DB_KIND_ALLOW, "half.example");
	return err ? err : FG_ERR_PERM;
}

static void test_failed_write_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct watch_log w = {0};
	int h = db_watch(f->db, watch_cb, &w);
	assert_int_equal(db_write(f->db, put_then_fail, NULL), FG_ERR_PERM);
	assert_int_equal(w.calls, 0);
	assert_int_equal(db_generation(f->db), 0);
	struct db_txn *txn;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	char v[32];
	assert_int_equal(db_setting_get(txn, "half", v, sizeof v), FG_ERR_NOTFOUND);
	struct db_allow_entry e;
	assert_int_equal(db_allow_get(txn, "half.example", &e), FG_ERR_NOTFOUND);
	db_txn_end(txn);
	db_unwatch(f->db, h);
}

struct raw_rec {
	enum db_kind kind;
	const char *key;
	const char *json;
};

static enum fg_err put_raw_fn(struct db_txn *txn, void *ctx)
{
	const struct raw_rec *r = ctx;
	return db__raw_put(txn, r->kind, r->key, strlen(r->key), r->json, strlen(r->json));
}

static void test_record_formats(void **state)
{
	struct fixture *f = *state;
	struct raw_rec newer = {DB_KIND_SETTING, "future",
	                        "{\"fmt\":2,\"key\":\"future\",\"value\":\"x\"}"};
	struct raw_rec nofmt = {DB_KIND_SETTING, "nofmt", "{\"key\":\"nofmt\",\"value\":\"x\"}"};
	struct raw_rec junk = {DB_KIND_SETTING, "junk", "not json"};
	struct raw_rec older = {DB_KIND_ALLOW, "old.example",
	                        "{\"fmt\":1,\"domain\":\"old.example\"}"};
	struct raw_rec toolong = {DB_KIND_XMPP_DOMAIN, "long.example",
	                          "{\"fmt\":1,\"domain\":\"long.example\",\"cert_id\":"
	                          "\"0123456789012345678901234567890123456789\"}"};
	struct raw_rec badenum = {DB_KIND_ALLOW, "enum.example",
	                          "{\"fmt\":1,\"domain\":\"enum.example\",\"tls\":7}"};
	assert_int_equal(db_write(f->db, put_raw_fn, &newer), FG_OK);
	assert_int_equal(db_write(f->db, put_raw_fn, &nofmt), FG_OK);
	assert_int_equal(db_write(f->db, put_raw_fn, &junk), FG_OK);
	assert_int_equal(db_write(f->db, put_raw_fn, &older), FG_OK);
	assert_int_equal(db_write(f->db, put_raw_fn, &toolong), FG_OK);
	assert_int_equal(db_write(f->db, put_raw_fn, &badenum), FG_OK);

	struct db_txn *txn;
	assert_int_equal(db_txn_begin(f->db, &txn), FG_OK);
	char v[32];
	assert_int_equal(db_setting_get(txn, "future", v, sizeof v), FG_ERR_VERSION);
	assert_int_equal(db_setting_get(txn, "nofmt", v, sizeof v), FG_ERR_PARSE);
	assert_int_equal(db_setting_get(txn, "junk", v, sizeof v), FG_ERR_PARSE);
	/* Fields missing from a record keep their defaults. */
	struct db_allow_entry e;
	assert_int_equal(db_allow_get(txn, "old.example", &e), FG_OK);
	assert_int_equal(e.port, 0);
	assert_string_equal(e.server, "");
	struct db_xmpp_domain xd;
	assert_int_equal(db_xmpp_domain_get(txn, "long.example", &xd), FG_ERR_PARSE);
	assert_int_equal(db_allow_get(txn, "enum.example", &e), FG_ERR_PARSE);
	db_txn_end(txn);
}

/* A kind at format 2 whose format 1 called the field "old_name". */
struct v2_rec {
	char name[16];
	int64_t n;
};

static const struct db_field v2_fields[] = {
    DB_FLD(struct v2_rec, name, DB_F_STR, 0),
    DB_FLD(struct v2_rec, n, DB_F_I64, 0),
};

static enum fg_err v2_upgrade(json_t *obj, int from_fmt)
{
	if (from_fmt == 1) {
		json_t *old = json_object_get(obj, "old_name");
		if (old && json_object_set(obj, "name", old))
			return FG_ERR_NOMEM;
	}
	return FG_OK;
}

static const struct db_rec_desc v2_desc = {
    .kind = DB_KIND_SETTING,
    .size = sizeof(struct v2_rec),
    .fields = v2_fields,
    .nfields = 2,
    .key_off = offsetof(struct v2_rec, name),
    .key_size = 16,
    .fmt = 2,
    .upgrade = v2_upgrade,
};

static void test_older_format_upgraded(void **state)
{
	(void)state;
	struct v2_rec r;
	const char old[] = "{\"fmt\":1,\"old_name\":\"legacy\",\"n\":7}";
	assert_int_equal(db__rec_decode(&v2_desc, old, strlen(old), &r), FG_OK);
	assert_string_equal(r.name, "legacy");
	assert_int_equal(r.n, 7);
	const char newer[] = "{\"fmt\":3,\"name\":\"x\"}";
	assert_int_equal(db__rec_decode(&v2_desc, newer, strlen(newer), &r), FG_ERR_VERSION);
	char *json;
	struct v2_rec w = {"now", 9};
	assert_int_equal(db__rec_encode(&v2_desc, &w, &json), FG_OK);
	assert_string_equal(json, "{\"fmt\":2,\"name\":\"now\",\"n\":9}");
	free(json);
}

static void test_utf8_sanitize(void **state)
{
	(void)state;
	char s[] = "ok \xc3\xa9 bad \xff\xfe over \xc0\xaf sur \xed\xa0\x80 cut \xe2\x82";
	db__utf8_sanitize(s);
	assert_string_equal(s, "ok \xc3\xa9 bad ?? over ?? sur ??? cut ??");
}

static enum fg_err put_invalid(struct db_txn *txn, void *ctx)
{
	int which = *(int *)ctx;
	char longkey[100];
	memset(longkey, 'k', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	struct db_allow_entry e = {.tls = 9};
	fg_strlcpy(e.domain, "x.example", sizeof e.domain);
	struct db_admin a = {0};
	switch (which) {
	case 0:
		return db_setting_put(txn, longkey, "v");
	case 1:
		return db_setting_put(txn, "", "v");
	case 2:
		return db_allow_put(txn, &e);
	case 3:
		memset(a.name, 'n', sizeof a.name); /* not terminated */
		return db_admin_put(txn, &a);
	default:
		return db_setting_put(txn, NULL, "v");
	}
}

static void test_invalid_records_refused(void **state)
{
	struct fixture *f = *state;
	static const enum fg_err expect[] = {FG_ERR_TOOBIG, FG_ERR_INVAL, FG_ERR_INVAL,
	                                     FG_ERR_TOOBIG, FG_ERR_INVAL};
	for (int i = 0; i < 5; i++)
		assert_int_equal(db_write(f->db, put_invalid, &i), expect[i]);
	assert_int_equal(db_generation(f->db), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip_every_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lists_and_deletes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generation_and_watchers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_write_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_formats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_records_refused, setup, teardown),
	    cmocka_unit_test(test_older_format_upgraded),
	    cmocka_unit_test(test_utf8_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
