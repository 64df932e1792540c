/* xmppconf: the gateway's own XMPP domains with their certificates (RFC 6125 §6 name
 * coverage) and the SRV records to publish (RFC 6120 §3.2.1, XEP-0368). */
#include "xmppconf_internal.h"
#include "pki/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool xmppconf_domain_valid(const char *domain, const char **why)
{
	return conf_domain_valid(domain, why);
}

json_t *xmppconf_records(const char *domain, const char *host, unsigned port,
                         unsigned direct_tls_port)
{
	json_t *arr = json_array();
	const char *target = host && host[0] ? host : domain;
	size_t tl = strlen(target);
	const char *dot = tl > 0 && target[tl - 1] == '.' ? "" : ".";
	char name[DB_DOMAIN_MAX + 32], value[DB_DOMAIN_MAX + 32], text[2 * DB_DOMAIN_MAX + 80];
	for (int pass = 0; pass < 2; pass++) {
		/* XEP-0368 §3: direct TLS is listed first, as peers try it first. */
		unsigned p = pass == 0 ? direct_tls_port : port;
		if (p == 0)
			continue;
		snprintf(name, sizeof(name), "%s._tcp.%s.",
		         pass == 0 ? "_xmpps-server" : "_xmpp-server", domain);
		snprintf(value, sizeof(value), "0 5 %u %s%s", p, target, dot);
		snprintf(text, sizeof(text), "%s SRV %s", name, value);
		json_array_append_new(arr, json_pack("{s:o, s:s, s:o, s:o}", "name",
		                                     conf_text(name), "type", "SRV", "value",
		                                     conf_text(value), "text", conf_text(text)));
	}
	return arr;
}

/* Looks the certificate up in txn: *cert_name gets its name; *covers whether its names
 * cover domain. Refusals fill e. */
static enum fg_err cert_check(struct db_txn *txn, const char *cert_id, const char *domain,
                              char cert_name[DB_NAME_MAX], bool *covers, char *why, size_t whysize,
                              struct conf_err *e)
{
	struct db_cert cert;
	struct pki_cert **chain = NULL;
	size_t n = 0;
	char perr[128];
	*covers = false;
	cert_name[0] = '\0';
	if (why && whysize)
		why[0] = '\0';
	enum fg_err err = conf_cert_leaf(txn, cert_id, "cert_id", "peers", &cert, e);
	if (err)
		return err;
	fg_strlcpy(cert_name, cert.name, DB_NAME_MAX);
	if (cert.pem &&
	    pki_certs_from_pem(cert.pem, strlen(cert.pem), &chain, &n, perr, sizeof(perr)) ==
	        FG_OK &&
	    n > 0)
		/* RFC 6125 §6.4 as peers check it: DNS-ID, SRV-ID, xmppAddr; the CN only
		 * without those SANs. */
		*covers = pki_cert_match_xmpp(chain[0]->der, chain[0]->der_len, domain, why,
		                              whysize) != PKI_ID_NONE;
	pki_certs_free(chain, n);
	db_cert_clear(&cert);
	return err;
}

static json_t *domain_json(struct db_txn *txn, const struct db_xmpp_domain *d, const char *host,
                           unsigned port, unsigned dtls)
{
	json_t *warnings = json_array();
	json_t *cert_name = json_null();
	json_t *covers = json_null();
	if (d->cert_id[0]) {
		char name[DB_NAME_MAX], why[256];
		bool ok = false;
		struct conf_err e;
		if (cert_check(txn, d->cert_id, d->domain, name, &ok, why, sizeof(why), &e) ==
		    FG_OK) {
			cert_name = conf_text(name);
			covers = json_boolean(ok);
			if (!ok)
				json_array_append_new(
				    warnings,
				    json_sprintf(
				        "The certificate \"%s\" does not name %s%s%s%s: peers "
				        "checking names will refuse it. Use a certificate with %s "
				        "(or _xmpp-server.%s) among its names.",
				        name, d->domain, why[0] ? " (" : "", why, why[0] ? ")" : "",
				        d->domain, d->domain));
		} else {
			json_array_append_new(warnings, conf_text(e.message));
		}
	} else {
		json_array_append_new(warnings,
		                      json_sprintf("%s has no certificate: peers that require TLS "
		                                   "cannot federate with it. Choose one.",
		                                   d->domain));
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "domain", conf_text(d->domain),
	                 "cert_id", conf_text(d->cert_id), "cert_name", cert_name, "cert_covers",
	                 covers, "created", conf_time(d->created_ms), "warnings", warnings,
	                 "records", xmppconf_records(d->domain, host, port, dtls));
}

enum fg_err xmppconf_domain_list(struct db *db, const char *host, json_t **out)
{
	struct db_txn *txn = NULL;
	struct db_xmpp_domain *list = NULL;
	size_t n = 0;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_xmpp_domain_list(txn, &list, &n);
	if (!err) {
		unsigned port = xmppconf__setting_uint(txn, "xmpp.port");
		unsigned dtls = xmppconf__setting_uint(txn, "xmpp.direct_tls_port");
		*out = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(*out, domain_json(txn, &list[i], host, port, dtls));
	}
	db_txn_end(txn);
	free(list);
	return err;
}

/* ---- add / edit / delete ------------------------------------------------------------ */

struct domain_ctx {
	const char *actor, *source, *host;
	bool create;
	char domain[DB_DOMAIN_MAX];
	const char *cert_id; /* NULL = keep (edit) */
	json_t *answer;
	struct conf_err *e;
};

static enum fg_err domain_fn(struct db_txn *txn, void *vctx)
{
	struct domain_ctx *c = vctx;
	struct db_xmpp_domain d, old;
	char cert_name[DB_NAME_MAX] = "", old_name[DB_NAME_MAX] = "";
	bool covers = true, dummy;
	json_decref(c->answer);
	c->answer = conf_answer_new();
	memset(&d, 0, sizeof(d));
	enum fg_err err = conf_record_check(db_xmpp_domain_get(txn, c->domain, &old), c->create,
	                                    "XMPP domain", c->domain, c->e);
	if (err)
		return err;
	if (c->create) {
		struct db_xmpp_domain *all = NULL;
		size_t n = 0;
		if ((err = db_xmpp_domain_list(txn, &all, &n)) != FG_OK)
			return err;
		free(all);
		if (n >= XMPPCONF_DOMAINS_MAX)
			return conf_fail(c->e, 422, "domain", "Delete a domain you no longer use.",
			                 "The gateway already has %d XMPP domains, the most it "
			                 "serves.",
			                 XMPPCONF_DOMAINS_MAX);
		fg_strlcpy(d.domain, c->domain, sizeof(d.domain));
		d.created_ms = fg_now_ms();
	} else {
		d = old;
		if (old.cert_id[0] && cert_check(txn, old.cert_id, old.domain, old_name, &dummy,
		                                 NULL, 0, NULL) != FG_OK)
			old_name[0] = '\0';
	}
	if (c->cert_id) {
		if (c->cert_id[0]) {
			if ((err = cert_check(txn, c->cert_id, c->domain, cert_name, &covers, NULL,
			                      0, c->e)))
				return err;
		}
		fg_strlcpy(d.cert_id, c->cert_id, sizeof(d.cert_id));
	}
	if (!c->create && strcmp(d.cert_id, old.cert_id) == 0) {
		conf_answer_message(c->answer, "Nothing changed for %s.", c->domain);
	} else {
		if ((err = db_xmpp_domain_put(txn, &d)) != FG_OK)
			return err;
		if (c->create) {
			err = conf_audit(txn, c->actor, c->source, "xmpp.domain.add",
			                 "%s, certificate %s", d.domain,
			                 d.cert_id[0] ? cert_name : "(none)");
			conf_answer_message(c->answer,
			                    "Added the XMPP domain %s; the gateway serves it now. "
			                    "Publish the DNS records below so peers find it.",
			                    d.domain);
		} else {
			err = conf_audit(txn, c->actor, c->source, "xmpp.domain.edit",
			                 "%s: certificate %s -> %s", d.domain,
			                 old.cert_id[0] ? (old_name[0] ? old_name : old.cert_id)
			                                : "(none)",
			                 d.cert_id[0] ? cert_name : "(none)");
			conf_answer_message(
			    c->answer,
			    "Saved: %s now presents %s%s%s; new connections use it at "
			    "once.",
			    d.domain, d.cert_id[0] ? "the certificate \"" : "no certificate",
			    d.cert_id[0] ? cert_name : "", d.cert_id[0] ? "\"" : "");
			conf_answer_changed(c->answer, "cert_id", old.cert_id, d.cert_id);
		}
		if (err)
			return err;
	}
	unsigned port = xmppconf__setting_uint(txn, "xmpp.port");
	unsigned dtls = xmppconf__setting_uint(txn, "xmpp.direct_tls_port");
	json_t *dj = domain_json(txn, &d, c->host, port, dtls);
	conf_answer_object(c->answer, "domain", dj);
	return FG_OK;
}

static const char *const domain_fields[] = {"domain", "cert_id", NULL};
static const char *const domain_ignored[] = {"cert_name", "cert_covers", "created",
                                             "warnings",  "records",     NULL};

static enum fg_err domain_run(struct db *db, struct domain_ctx *c, json_t **out)
{
	return conf_write(db, domain_fn, c, &c->answer, out, c->e,
	                  "The XMPP domain could not be saved");
}

static const struct conf_record xmpp_domain = {
    .del = db_xmpp_domain_del,
    .delete_action = "xmpp.domain.delete",
    .fix = "Pick a domain from the list.",
    .invalid = "There is no such XMPP domain.",
    .missing_before = "There is no XMPP domain ",
    .missing_after = ".",
    .delete_failed = "The XMPP domain could not be deleted",
    .rename_fix = "To rename, add the new domain and delete the old one.",
    .renamed = "A domain cannot be renamed.",
};

enum fg_err xmppconf_domain_add(struct db *db, const char *actor, const char *source, json_t *in,
                                const char *host, json_t **out, struct conf_err *e)
{
	const char *domain = NULL, *cert_id = NULL;
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "No domain was given.");
	if (!conf_fields_known(in, domain_fields, domain_ignored, e) ||
	    !conf_field_str(in, "domain", DB_DOMAIN_MAX - 1, &domain, e) ||
	    !conf_field_str(in, "cert_id", DB_ID_MAX - 1, &cert_id, e))
		return FG_ERR_INVAL;
	if (!domain)
		return conf_fail(e, 422, "domain", "Type the domain you federate as.",
		                 "The domain is required.");
	if (!conf_domain_param(domain, "domain", e))
		return FG_ERR_INVAL;
	struct domain_ctx c = {.actor = actor,
	                       .source = source,
	                       .host = host,
	                       .create = true,
	                       .cert_id = cert_id ? cert_id : "",
	                       .e = e};
	fg_strlcpy(c.domain, domain, sizeof(c.domain));
	return domain_run(db, &c, out);
}

enum fg_err xmppconf_domain_edit(struct db *db, const char *actor, const char *source,
                                 const char *domain, json_t *in, const char *host, json_t **out,
                                 struct conf_err *e)
{
	const char *body_domain = NULL, *cert_id = NULL;
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "Nothing to change.");
	if (!conf_fields_known(in, domain_fields, domain_ignored, e) ||
	    !conf_field_str(in, "domain", DB_DOMAIN_MAX - 1, &body_domain, e) ||
	    !conf_field_str(in, "cert_id", DB_ID_MAX - 1, &cert_id, e))
		return FG_ERR_INVAL;
	enum fg_err err = conf_record_edit_check(&xmpp_domain, domain, body_domain, e);
	if (err)
		return err;
	struct domain_ctx c = {.actor = actor,
	                       .source = source,
	                       .host = host,
	                       .create = false,
	                       .cert_id = cert_id,
	                       .e = e};
	fg_strlcpy(c.domain, domain, sizeof(c.domain));
	return domain_run(db, &c, out);
}

enum fg_err xmppconf_domain_delete(struct db *db, const char *actor, const char *source,
                                   const char *domain, json_t **out, struct conf_err *e)
{
	enum fg_err err = conf_record_delete(db, &xmpp_domain, actor, source, domain, out, e);
	if (err)
		return err;
	conf_answer_message(*out,
	                    "Deleted the XMPP domain %s: its streams close now. Remove its DNS "
	                    "records if no other server uses them.",
	                    domain);
	return FG_OK;
}
