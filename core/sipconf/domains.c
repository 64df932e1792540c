/* sipconf: SIP domains — next hop (RFC 3263 names or addresses), transport and port
 * (RFC 3261 §18/§19.1.2), the SIP-side certificate and trusted CA for mutual TLS (RFC 5922
 * §7), and the mapped XMPP domain (RFC 7247 §4), with each domain's live state. */
#include "sipconf_internal.h"
#include "pki/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool sipconf_host_valid(const char *host, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	if (host && conf_ip_valid(host))
		return true;
	return conf_domain_valid(host, why);
}

bool sipconf__cert_names(struct db_txn *txn, const char *cert_id, const char *host, char *names,
                         size_t namesize)
{
	struct db_cert cert;
	struct pki_cert **chain = NULL;
	size_t n = 0, used = 0;
	char perr[128];
	bool ok = false;
	if (names && namesize)
		names[0] = '\0';
	if (db_cert_get(txn, cert_id, &cert) != FG_OK)
		return false;
	if (cert.pem &&
	    pki_certs_from_pem(cert.pem, strlen(cert.pem), &chain, &n, perr, sizeof(perr)) ==
	        FG_OK &&
	    n > 0) {
		/* RFC 5922 §7.1: DNS-ID SANs, the CN only without them; SRV-IDs and xmppAddr
		 * are XMPP's and do not count here. */
		enum pki_id_match m =
		    pki_cert_match_xmpp(chain[0]->der, chain[0]->der_len, host, NULL, 0);
		ok = m == PKI_ID_DNS || m == PKI_ID_CN;
		for (size_t i = 0; names && i < chain[0]->san_count; i++) {
			if (chain[0]->sans[i].type != PKI_SAN_DNS)
				continue;
			int w = snprintf(names + used, namesize - used, "%s%s", used ? ", " : "",
			                 chain[0]->sans[i].value);
			if (w < 0 || (size_t)w >= namesize - used)
				break;
			used += (size_t)w;
		}
		if (names && !used)
			snprintf(names, namesize, "%s", chain[0]->subject);
	}
	pki_certs_free(chain, n);
	db_cert_clear(&cert);
	return ok;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void cert_name(struct db_txn *txn, const char *id, char out[DB_NAME_MAX])
{
	struct db_cert cert;
	out[0] = '\0';
	if (!id[0] || db_cert_get(txn, id, &cert) != FG_OK)
		return;
	fg_strlcpy(out, cert.name, DB_NAME_MAX);
	db_cert_clear(&cert);
}

static const char *maps_to(const struct db_sip_domain *d)
{
	return d->xmpp_domain[0] ? d->xmpp_domain : d->domain;
}

static bool is_tls(const struct db_sip_domain *d)
{
	return strcasecmp(d->transport, "tcp") != 0;
}

/* Warnings about a domain as stored (the change is made anyway). */
static void domain_warnings(struct db_txn *txn, const struct db_sip_domain *d, json_t *warnings)
{
	char fqdn[DB_DOMAIN_MAX], names[256], name[DB_NAME_MAX];
	struct db_cert cert;
	sipconf__fqdn(txn, fqdn, NULL);
	if (d->cert_id[0]) {
		cert_name(txn, d->cert_id, name);
		if (!name[0])
			json_array_append_new(
			    warnings, json_sprintf("The SIP certificate of %s no longer exists: "
			                           "choose another one.",
			                           d->domain));
		else if (!sipconf__cert_names(txn, d->cert_id, fqdn, names, sizeof(names)))
			json_array_append_new(
			    warnings,
			    json_sprintf(
			        "The certificate \"%s\" does not name the gateway's FQDN "
			        "%s%s%s%s: the Access Edge checks that name and will refuse "
			        "the connection (\"peer's certificate does not contain a "
			        "matching FQDN\"). Use a certificate with %s among its "
			        "names, or set the FQDN to a name it has.",
			        name, fqdn, names[0] ? " (it names " : "", names,
			        names[0] ? ")" : "", fqdn));
	} else if (is_tls(d)) {
		json_array_append_new(
		    warnings, json_sprintf("%s has no SIP certificate: an Access Edge asking for "
		                           "mutual TLS will refuse the gateway. Choose one.",
		                           d->domain));
	}
	if (d->ca_id[0] && db_cert_get(txn, d->ca_id, &cert) == FG_OK)
		db_cert_clear(&cert);
	else if (d->ca_id[0])
		json_array_append_new(warnings,
		                      json_sprintf("The trusted CA bundle of %s no longer exists: "
		                                   "choose another one.",
		                                   d->domain));
	if (is_tls(d) && d->trusted_addrs[0])
		json_array_append_new(
		    warnings, json_sprintf("The trusted addresses of %s are not used: over TLS the "
		                           "edge is known by its certificate. They apply to "
		                           "transport TCP.",
		                           d->domain));
	struct db_xmpp_domain x;
	if (db_xmpp_domain_get(txn, maps_to(d), &x) == FG_OK)
		json_array_append_new(
		    warnings,
		    json_sprintf("%s is also one of the gateway's plain XMPP domains: stanzas for "
		                 "it go to SIP users of %s, not to the XMPP side. Map the SIP "
		                 "domain to another XMPP domain, or delete the XMPP domain.",
		                 maps_to(d), d->domain));
}

/* The status object "sip:<domain>" the engine writes, or JSON null. */
static json_t *status_json(const struct db_status *st, size_t ns, const char *domain)
{
	char id[DB_DOMAIN_MAX + 8];
	snprintf(id, sizeof(id), "sip:%s", domain);
	for (size_t i = 0; i < ns; i++) {
		if (strcmp(st[i].id, id) != 0)
			continue;
		json_t *s =
		    json_pack("{s:o, s:o, s:o, s:I}", "state", conf_text(st[i].state), "reason",
		              conf_text(st[i].reason), "since", conf_time(st[i].since_ms),
		              "since_ms", (json_int_t)st[i].since_ms);
		json_t *extra = st[i].extra[0] ? json_loads(st[i].extra, 0, NULL) : NULL;
		if (json_is_object(extra)) {
			const char *k;
			json_t *v;
			json_object_foreach(extra, k, v)
			{
				if (!json_object_get(s, k))
					json_object_set(s, k, v);
			}
		}
		json_decref(extra);
		return s;
	}
	return json_null();
}

static json_t *domain_json(struct db_txn *txn, const struct db_sip_domain *d,
                           const struct db_status *st, size_t ns)
{
	char cname[DB_NAME_MAX], caname[DB_NAME_MAX], fqdn[DB_DOMAIN_MAX];
	json_t *warnings = json_array();
	cert_name(txn, d->cert_id, cname);
	cert_name(txn, d->ca_id, caname);
	sipconf__fqdn(txn, fqdn, NULL);
	json_t *names = json_null();
	if (d->cert_id[0] && cname[0])
		names = json_boolean(sipconf__cert_names(txn, d->cert_id, fqdn, NULL, 0));
	domain_warnings(txn, d, warnings);
	return json_pack(
	    "{s:o, s:o, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o}",
	    "domain", conf_text(d->domain), "next_hop", conf_text(d->next_hop), "port",
	    (int)d->next_hop_port, "transport", is_tls(d) ? "tls" : "tcp", "cert_id",
	    conf_text(d->cert_id), "cert_name", cname[0] ? conf_text(cname) : json_null(),
	    "cert_names_fqdn", names, "ca_id", conf_text(d->ca_id), "ca_name",
	    caname[0] ? conf_text(caname) : json_null(), "bind", conf_text(d->bind), "xmpp_domain",
	    conf_text(d->xmpp_domain), "maps_to", conf_text(maps_to(d)), "trusted_addrs",
	    conf_text(d->trusted_addrs), "created", conf_time(d->created_ms), "warnings", warnings,
	    "status", status_json(st, ns, d->domain));
}

enum fg_err sipconf_domain_list(struct db *db, json_t **out)
{
	struct db_txn *txn = NULL;
	struct db_sip_domain *list = NULL;
	struct db_status *st = NULL;
	size_t n = 0, ns = 0;
	*out = NULL;
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return err;
	err = db_sip_domain_list(txn, &list, &n);
	if (!err)
		err = db_status_list(txn, &st, &ns);
	if (!err) {
		*out = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(*out, domain_json(txn, &list[i], st, ns));
	}
	db_txn_end(txn);
	db_status_list_free(st, ns);
	free(list);
	return err;
}

enum fg_err sipconf_domain_get(struct db *db, const char *domain, json_t **out, struct conf_err *e)
{
	struct db_txn *txn = NULL;
	struct db_sip_domain d;
	struct db_status *st = NULL;
	size_t ns = 0;
	*out = NULL;
	if (!conf_domain_valid(domain, NULL))
		return conf_fail(e, 404, "domain", "Pick a domain from the list.",
		                 "There is no such SIP domain.");
	enum fg_err err = db_txn_begin(db, &txn);
	if (err)
		return conf_fail(e, 500, NULL, "See the log (fedgw journal).",
		                 "The store could not be read: %s.", fg_strerror(err));
	err = db_sip_domain_get(txn, domain, &d);
	if (err == FG_ERR_NOTFOUND) {
		err = conf_fail(e, 404, "domain", "Pick a domain from the list.",
		                "There is no SIP domain %s.", domain);
	} else if (!err && (err = db_status_list(txn, &st, &ns)) == FG_OK) {
		*out = domain_json(txn, &d, st, ns);
	}
	if (err && err != FG_ERR_NOTFOUND)
		conf_fail(e, 500, NULL, "See the log (fedgw journal).",
		          "The store could not be read: %s.", fg_strerror(err));
	db_txn_end(txn);
	db_status_list_free(st, ns);
	return err;
}

static const struct conf_record sip_domain = {
    .del = db_sip_domain_del,
    .delete_action = "sip.domain.delete",
    .fix = "Pick a domain from the list.",
    .invalid = "There is no such SIP domain.",
    .missing_before = "There is no SIP domain ",
    .missing_after = ".",
    .delete_failed = "The SIP domain could not be deleted",
    .rename_fix = "To rename, add the new domain and delete the old one.",
    .renamed = "A SIP domain cannot be renamed.",
};

/* ---- add / edit ----------------------------------------------------------------------- */

/* The request's fields, validated for form before the write. NULL = not given. */
struct domain_in {
	const char *next_hop, *transport, *cert_id, *ca_id, *bind, *xmpp_domain;
	const char *trusted_addrs; /* in its usual form (trusted below), or NULL */
	char trusted[DB_TEXT_MAX];
	bool port_given;
	unsigned port; /* 0 = the transport's default */
};

struct domain_ctx {
	const char *actor, *source;
	bool create;
	char domain[DB_DOMAIN_MAX];
	struct domain_in in;
	json_t *answer;
	struct conf_err *e;
};

static const char *const domain_fields[] = {"domain",        "next_hop", "port", "transport",
                                            "cert_id",       "ca_id",    "bind", "xmpp_domain",
                                            "trusted_addrs", NULL};
static const char *const domain_ignored[] = {"cert_name", "cert_names_fqdn", "ca_name", "maps_to",
                                             "created",   "warnings",        "status",  NULL};

static enum fg_err next_hop_required(struct conf_err *e)
{
	return conf_fail(e, 422, "next_hop",
	                 "Type the Access Edge's host name (as on its certificate) or address.",
	                 "The next hop is required.");
}

static bool read_input(json_t *in, struct domain_in *d, struct conf_err *e)
{
	const char *why = NULL, *port_text = NULL, *trusted = NULL;
	memset(d, 0, sizeof(*d));
	if (!conf_fields_known(in, domain_fields, domain_ignored, e) ||
	    !conf_field_str(in, "next_hop", DB_DOMAIN_MAX - 1, &d->next_hop, e) ||
	    !conf_field_str(in, "transport", 7, &d->transport, e) ||
	    !conf_field_str(in, "cert_id", DB_ID_MAX - 1, &d->cert_id, e) ||
	    !conf_field_str(in, "ca_id", DB_ID_MAX - 1, &d->ca_id, e) ||
	    !conf_field_str(in, "bind", DB_ADDR_MAX - 1, &d->bind, e) ||
	    !conf_field_str(in, "xmpp_domain", DB_DOMAIN_MAX - 1, &d->xmpp_domain, e) ||
	    !conf_field_str(in, "trusted_addrs", 2 * DB_TEXT_MAX, &trusted, e))
		return false;
	if (trusted) {
		char bad[DB_TEXT_MAX];
		if (!fg_addr_list_norm(trusted, d->trusted, sizeof(d->trusted), bad, sizeof(bad),
		                       &why)) {
			conf_fail(
			    e, 422, "trusted_addrs",
			    "List the edge's IPv4 or IPv6 addresses or networks, as in 192.0.2.7, "
			    "10.0.0.0/8 (at most " FG_ADDR_LIST_MAX_TEXT "), or leave it empty to "
			    "trust only the next hop's own addresses.",
			    "The trusted address \"%s\" %s.", bad, why);
			return false;
		}
		d->trusted_addrs = d->trusted;
	}
	if (d->next_hop && !sipconf_host_valid(d->next_hop, &why)) {
		conf_fail(e, 422, "next_hop",
		          "Write the Access Edge's host name as in edge.example.com, or its "
		          "IPv4 or IPv6 address.",
		          "The next hop is not a host name or an address: %s.", why);
		return false;
	}
	json_t *p = json_object_get(in, "port");
	if (p && !json_is_null(p)) {
		uint64_t v = 0;
		bool ok = false;
		if (json_is_integer(p) && json_integer_value(p) >= 0) {
			v = (uint64_t)json_integer_value(p);
			ok = v <= 65535;
		} else if (json_is_string(p)) {
			port_text = json_string_value(p);
			ok = !port_text[0] || fg_parse_u64(port_text, 0, 65535, &v);
		}
		if (!ok) {
			conf_fail(e, 422, "port",
			          "Use a port from 1 to 65535, or leave it empty for "
			          "5061 (TLS) or 5060 (TCP).",
			          "The port must be a whole number from 1 to 65535.");
			return false;
		}
		d->port_given = true;
		d->port = (unsigned)v;
	}
	if (d->transport) {
		if (strcasecmp(d->transport, "tls") == 0)
			d->transport = "tls";
		else if (strcasecmp(d->transport, "tcp") == 0)
			d->transport = "tcp";
		else {
			conf_fail(e, 422, "transport",
			          "Use tls (SIP over mutual TLS, port 5061) or tcp.",
			          "The transport must be tls or tcp.");
			return false;
		}
	}
	if (d->bind && d->bind[0] && !conf_ip_valid(d->bind)) {
		conf_fail(e, 422, "bind",
		          "Give one of this machine's IPv4 or IPv6 addresses, or leave "
		          "it empty to let the system choose.",
		          "The bind address is not an IP address.");
		return false;
	}
	if (d->xmpp_domain && d->xmpp_domain[0] && !conf_domain_valid(d->xmpp_domain, &why)) {
		conf_fail(e, 422, "xmpp_domain",
		          "Write the XMPP domain as in example.com, or leave it empty "
		          "for the same name as the SIP domain.",
		          "The mapped XMPP domain is not a valid domain name: %s.", why);
		return false;
	}
	return true;
}

/* The certificate record id must be a leaf with its key (want_leaf) or a CA bundle. */
static enum fg_err cert_ref_check(struct db_txn *txn, const char *id, bool want_leaf,
                                  struct conf_err *e)
{
	struct db_cert cert;
	enum fg_err err;
	if (want_leaf) {
		if ((err = conf_cert_leaf(txn, id, "cert_id", "the Access Edge", &cert, e)) ==
		    FG_OK)
			db_cert_clear(&cert);
		return err;
	}
	err = db_cert_get(txn, id, &cert);
	if (err == FG_ERR_NOTFOUND)
		return conf_fail(e, 422, "ca_id",
		                 "Pick a CA bundle from the list, or import the Access Edge's CA "
		                 "under Certificates first.",
		                 "There is no CA bundle with that id.");
	if (err)
		return err;
	if (cert.kind != DB_CERT_CA_BUNDLE)
		err = conf_fail(e, 422, "ca_id",
		                "Pick a CA bundle (import the CA that issued the Access Edge's "
		                "certificate under Certificates).",
		                "\"%s\" is not a CA bundle.", cert.name);
	db_cert_clear(&cert);
	return err;
}

static void changed_text(json_t *answer, char *detail, size_t size, size_t *used, const char *field,
                         const char *from, const char *to)
{
	if (strcmp(from, to) == 0)
		return;
	conf_answer_changed(answer, field, from, to);
	int w = snprintf(detail + *used, size - *used, "%s%s: %.60s -> %.60s", *used ? "; " : "",
	                 field, from[0] ? from : "(none)", to[0] ? to : "(none)");
	if (w > 0 && (size_t)w < size - *used)
		*used += (size_t)w;
}

static enum fg_err domain_fn(struct db_txn *txn, void *vctx)
{
	struct domain_ctx *c = vctx;
	const struct domain_in *in = &c->in;
	struct db_sip_domain d, old;
	enum fg_err err;
	json_decref(c->answer);
	c->answer = conf_answer_new();
	memset(&old, 0, sizeof(old));
	err = conf_record_check(db_sip_domain_get(txn, c->domain, &old), c->create, "SIP domain",
	                        c->domain, c->e);
	if (err)
		return err;
	struct db_sip_domain *all = NULL;
	size_t n = 0;
	if ((err = db_sip_domain_list(txn, &all, &n)) != FG_OK)
		return err;
	if (c->create && n >= SIPCONF_DOMAINS_MAX) {
		free(all);
		return conf_fail(c->e, 422, "domain", "Delete a SIP domain you no longer use.",
		                 "The gateway already has %d SIP domains, the most it serves.",
		                 SIPCONF_DOMAINS_MAX);
	}
	if (c->create) {
		memset(&d, 0, sizeof(d));
		fg_strlcpy(d.domain, c->domain, sizeof(d.domain));
		fg_strlcpy(d.transport, "tls", sizeof(d.transport));
		d.created_ms = fg_now_ms();
	} else {
		d = old;
	}
	bool old_tls = c->create || is_tls(&old);
	if (in->transport)
		fg_strlcpy(d.transport, in->transport, sizeof(d.transport));
	if (in->next_hop)
		fg_strlcpy(d.next_hop, in->next_hop, sizeof(d.next_hop));
	if (in->cert_id)
		fg_strlcpy(d.cert_id, in->cert_id, sizeof(d.cert_id));
	if (in->ca_id)
		fg_strlcpy(d.ca_id, in->ca_id, sizeof(d.ca_id));
	if (in->bind)
		fg_strlcpy(d.bind, in->bind, sizeof(d.bind));
	if (in->xmpp_domain)
		fg_strlcpy(d.xmpp_domain, in->xmpp_domain, sizeof(d.xmpp_domain));
	if (in->trusted_addrs)
		fg_strlcpy(d.trusted_addrs, in->trusted_addrs, sizeof(d.trusted_addrs));
	/* RFC 3261 §19.1.2: 5061 for TLS, 5060 otherwise. A port that was the old transport's
	 * default follows a change of transport. */
	if (in->port_given && in->port != 0)
		d.next_hop_port = (uint16_t)in->port;
	else if (in->port_given || c->create ||
	         d.next_hop_port == (old_tls ? SIPCONF_PORT_TLS : SIPCONF_PORT_TCP))
		d.next_hop_port = is_tls(&d) ? SIPCONF_PORT_TLS : SIPCONF_PORT_TCP;
	if (!d.next_hop[0]) {
		free(all);
		return next_hop_required(c->e);
	}
	if (d.cert_id[0] && (err = cert_ref_check(txn, d.cert_id, true, c->e)) != FG_OK) {
		free(all);
		return err;
	}
	if (d.ca_id[0] && (err = cert_ref_check(txn, d.ca_id, false, c->e)) != FG_OK) {
		free(all);
		return err;
	}
	if (is_tls(&d) && !d.ca_id[0]) {
		free(all);
		return conf_fail(c->e, 422, "ca_id",
		                 "Pick the CA bundle that issued the Access Edge's certificate "
		                 "(import it under Certificates), or use transport tcp.",
		                 "SIP over TLS needs a trusted CA bundle to check the Access "
		                 "Edge's certificate.");
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].domain, d.domain) == 0 ||
		    strcasecmp(maps_to(&all[i]), maps_to(&d)) != 0)
			continue;
		char other[DB_DOMAIN_MAX];
		fg_strlcpy(other, all[i].domain, sizeof(other));
		free(all);
		return conf_fail(c->e, 409, "xmpp_domain",
		                 "Map this SIP domain to another XMPP domain.",
		                 "The XMPP domain %s is already mapped to the SIP domain %s.",
		                 maps_to(&d), other);
	}
	free(all);

	char detail[DB_TEXT_MAX] = "", op[8], np[8], cname[DB_NAME_MAX] = "";
	size_t used = 0;
	snprintf(op, sizeof(op), "%u", (unsigned)old.next_hop_port);
	snprintf(np, sizeof(np), "%u", (unsigned)d.next_hop_port);
	if (!c->create) {
		json_t *a = c->answer;
		changed_text(a, detail, sizeof(detail), &used, "next_hop", old.next_hop,
		             d.next_hop);
		changed_text(a, detail, sizeof(detail), &used, "port", op, np);
		changed_text(a, detail, sizeof(detail), &used, "transport", old.transport,
		             d.transport);
		changed_text(a, detail, sizeof(detail), &used, "cert_id", old.cert_id, d.cert_id);
		changed_text(a, detail, sizeof(detail), &used, "ca_id", old.ca_id, d.ca_id);
		changed_text(a, detail, sizeof(detail), &used, "bind", old.bind, d.bind);
		changed_text(a, detail, sizeof(detail), &used, "xmpp_domain", old.xmpp_domain,
		             d.xmpp_domain);
		changed_text(a, detail, sizeof(detail), &used, "trusted_addrs", old.trusted_addrs,
		             d.trusted_addrs);
		if (used == 0) {
			conf_answer_message(c->answer, "Nothing changed for %s.", d.domain);
			goto answer;
		}
	}
	if ((err = db_sip_domain_put(txn, &d)) != FG_OK)
		return err;
	cert_name(txn, d.cert_id, cname);
	if (c->create) {
		err = conf_audit(txn, c->actor, c->source, "sip.domain.add",
		                 "%s: next hop %s:%u %s, certificate %s, XMPP domain %s", d.domain,
		                 d.next_hop, (unsigned)d.next_hop_port, d.transport,
		                 cname[0] ? cname : "(none)", maps_to(&d));
		conf_answer_message(
		    c->answer,
		    "Added the SIP domain %s: the gateway connects to %s:%u over %s "
		    "now, and XMPP users reach its users as user@%s.",
		    d.domain, d.next_hop, (unsigned)d.next_hop_port, is_tls(&d) ? "TLS" : "TCP",
		    maps_to(&d));
	} else {
		err = conf_audit(txn, c->actor, c->source, "sip.domain.edit", "%s: %s", d.domain,
		                 detail);
		conf_answer_message(c->answer,
		                    "Saved %s (%s); the next-hop connection is remade now, without "
		                    "a restart.",
		                    d.domain, detail);
	}
	if (err)
		return err;
answer:;
	struct db_status *st = NULL;
	size_t ns = 0;
	if ((err = db_status_list(txn, &st, &ns)) != FG_OK)
		return err;
	json_t *dj = domain_json(txn, &d, st, ns);
	db_status_list_free(st, ns);
	conf_answer_object(c->answer, "domain", dj);
	return FG_OK;
}

static enum fg_err domain_run(struct db *db, struct domain_ctx *c, json_t **out)
{
	return conf_write(db, domain_fn, c, &c->answer, out, c->e,
	                  "The SIP domain could not be saved");
}

enum fg_err sipconf_domain_add(struct db *db, const char *actor, const char *source, json_t *in,
                               json_t **out, struct conf_err *e)
{
	const char *domain = NULL;
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "No domain was given.");
	struct domain_ctx c = {.actor = actor, .source = source, .create = true, .e = e};
	if (!conf_field_str(in, "domain", DB_DOMAIN_MAX - 1, &domain, e) ||
	    !read_input(in, &c.in, e))
		return FG_ERR_INVAL;
	if (!domain || !domain[0])
		return conf_fail(e, 422, "domain",
		                 "Type the SIP domain of your users (the part after @ in "
		                 "their SIP addresses).",
		                 "The SIP domain is required.");
	if (!conf_domain_param(domain, "domain", e))
		return FG_ERR_INVAL;
	if (!c.in.next_hop || !c.in.next_hop[0])
		return next_hop_required(e);
	fg_strlcpy(c.domain, domain, sizeof(c.domain));
	return domain_run(db, &c, out);
}

enum fg_err sipconf_domain_edit(struct db *db, const char *actor, const char *source,
                                const char *domain, json_t *in, json_t **out, struct conf_err *e)
{
	const char *body_domain = NULL;
	*out = NULL;
	if (!json_is_object(in))
		return conf_fail(e, 422, NULL, "Send a JSON object.", "Nothing to change.");
	struct domain_ctx c = {.actor = actor, .source = source, .create = false, .e = e};
	if (!conf_field_str(in, "domain", DB_DOMAIN_MAX - 1, &body_domain, e) ||
	    !read_input(in, &c.in, e))
		return FG_ERR_INVAL;
	enum fg_err err = conf_record_edit_check(&sip_domain, domain, body_domain, e);
	if (err)
		return err;
	if (c.in.next_hop && !c.in.next_hop[0])
		return next_hop_required(e);
	fg_strlcpy(c.domain, domain, sizeof(c.domain));
	return domain_run(db, &c, out);
}

/* ---- delete ------------------------------------------------------------------------------ */

enum fg_err sipconf_domain_delete(struct db *db, const char *actor, const char *source,
                                  const char *domain, json_t **out, struct conf_err *e)
{
	enum fg_err err = conf_record_delete(db, &sip_domain, actor, source, domain, out, e);
	if (err)
		return err;
	conf_answer_message(*out,
	                    "Deleted the SIP domain %s: its next-hop connection closes now and "
	                    "its users are no longer reachable from XMPP.",
	                    domain);
	return FG_OK;
}
