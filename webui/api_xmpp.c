/* webui api: XMPP federation configuration (settings, domains, allow list, policy), peers
 * and validate connection (RFC 6120 s2s, XEP-0220, XEP-0368), over core/xmppconf. */
#include "webui/api.h"
#include "xmppconf/xmppconf.h"
#include "s2s/s2s.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SUBSYS "console"

/* ---- answers -------------------------------------------------------------------------- */

enum MHD_Result webui__conf_failed(struct webui_req *req, enum fg_err err,
                                   const struct conf_err *ce)
{
	struct webui_error e;
	unsigned status = ce->status ? ce->status : 500;
	const char *code = status == 404   ? "not_found"
	                   : status == 409 ? "exists"
	                   : status == 422 ? "invalid"
	                   : status == 413 ? "too_large"
	                                   : "internal";
	if (status >= 500 || !ce->message[0]) {
		FG_LOGE(SUBSYS, "configuration change failed: %s", fg_strerror(err));
		return webui__fail(req, 500, "internal", NULL, "See the log (fedgw journal).",
		                   "The change could not be saved.");
	}
	webui__error_set(&e, status, code, NULL, NULL, "%s", ce->message);
	json_t *j = webui__error_json(&e);
	json_t *inner = json_object_get(j, "error");
	/* The message may quote what the admin typed: always sent as JSON text. */
	json_object_set_new(inner, "message", webui__json_text(ce->message));
	json_object_set_new(inner, "field",
	                    ce->field[0] ? webui__json_text(ce->field) : json_null());
	json_object_set_new(inner, "fix", ce->fix[0] ? webui__json_text(ce->fix) : json_null());
	return webui__reply_json(req, status, j);
}

enum MHD_Result webui__conf_body(struct webui_req *req, webui_conf_body_fn fn, unsigned status)
{
	json_t *in = NULL, *out = NULL;
	struct conf_err e = {0};
	if (!webui__req_json(req, &in))
		return MHD_YES;
	enum fg_err err = fn(req->w->db, req->session.admin, req->source, in, &out, &e);
	json_decref(in);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, status, out);
}

enum MHD_Result webui__conf_edit(struct webui_req *req, webui_conf_edit_fn fn)
{
	json_t *in = NULL, *out = NULL;
	struct conf_err e = {0};
	if (!webui__req_json(req, &in))
		return MHD_YES;
	enum fg_err err =
	    fn(req->w->db, req->session.admin, req->source, req->params[0], in, &out, &e);
	json_decref(in);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__conf_delete(struct webui_req *req, webui_conf_delete_fn fn)
{
	json_t *out = NULL;
	struct conf_err e = {0};
	enum fg_err err = fn(req->w->db, req->session.admin, req->source, req->params[0], &out, &e);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, 200, out);
}

static enum MHD_Result store_failed(struct webui_req *req, enum fg_err err)
{
	FG_LOGE(SUBSYS, "cannot read the XMPP configuration: %s", fg_strerror(err));
	return webui__fail(req, 500, "store", NULL, "See the log (fedgw journal).",
	                   "The store could not be read.");
}

/* The console's host name for the records to publish: the name the admin reached the
 * console by when it is a DNS name, otherwise the machine's host name. */
static void publish_host(struct webui_req *req, char *out, size_t size)
{
	const char *host = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Host");
	char name[DB_DOMAIN_MAX] = "";
	if (host && host[0] != '[') {
		size_t n = strcspn(host, ":");
		if (n < sizeof(name)) {
			memcpy(name, host, n);
			name[n] = '\0';
		}
		for (char *p = name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	}
	if (name[0] && strchr(name, '.') && strcmp(name, "localhost") != 0 &&
	    xmppconf_domain_valid(name, NULL)) {
		fg_strlcpy(out, name, size);
		return;
	}
	if (gethostname(out, size - 1) != 0 || !out[0])
		fg_strlcpy(out, "fedgw", size);
	out[size - 1] = '\0';
}

/* ---- settings ------------------------------------------------------------------------- */

enum MHD_Result webui__api_xmpp_settings_get(struct webui_req *req)
{
	json_t *out = NULL;
	enum fg_err err = xmppconf_settings_get(req->w->db, &out);
	if (err)
		return store_failed(req, err);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__api_xmpp_settings_put(struct webui_req *req)
{
	return webui__conf_body(req, xmppconf_settings_set, 200);
}

enum MHD_Result webui__api_xmpp_secret(struct webui_req *req)
{
	char secret[XMPPCONF_SECRET_HEX];
	enum fg_err err =
	    xmppconf_secret_regenerate(req->w->db, req->session.admin, req->source, secret);
	if (err) {
		struct conf_err e = {0};
		return webui__conf_failed(req, err, &e);
	}
	/* The only answer that ever carries the secret: shown once for copying. */
	json_t *out = json_pack("{s:s, s:s}", "secret", secret, "message",
	                        "A new dialback secret is in use. It is shown this once: copy it "
	                        "now if other servers of your domain share it.");
	explicit_bzero(secret, sizeof(secret));
	return webui__reply_json(req, 200, out);
}

/* ---- domains --------------------------------------------------------------------------- */

enum MHD_Result webui__api_xmpp_domains_list(struct webui_req *req)
{
	json_t *out = NULL;
	char host[DB_DOMAIN_MAX];
	publish_host(req, host, sizeof(host));
	enum fg_err err = xmppconf_domain_list(req->w->db, host, &out);
	if (err)
		return store_failed(req, err);
	return webui__reply_json(
	    req, 200, json_pack("{s:o, s:o}", "domains", out, "host", webui__json_text(host)));
}

enum MHD_Result webui__api_xmpp_domains_add(struct webui_req *req)
{
	json_t *in = NULL, *out = NULL;
	struct conf_err e = {0};
	char host[DB_DOMAIN_MAX];
	if (!webui__req_json(req, &in))
		return MHD_YES;
	publish_host(req, host, sizeof(host));
	enum fg_err err =
	    xmppconf_domain_add(req->w->db, req->session.admin, req->source, in, host, &out, &e);
	json_decref(in);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, 201, out);
}

enum MHD_Result webui__api_xmpp_domains_put(struct webui_req *req)
{
	json_t *in = NULL, *out = NULL;
	struct conf_err e = {0};
	char host[DB_DOMAIN_MAX];
	if (!webui__req_json(req, &in))
		return MHD_YES;
	publish_host(req, host, sizeof(host));
	enum fg_err err = xmppconf_domain_edit(req->w->db, req->session.admin, req->source,
	                                       req->params[0], in, host, &out, &e);
	json_decref(in);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__api_xmpp_domains_delete(struct webui_req *req)
{
	return webui__conf_delete(req, xmppconf_domain_delete);
}

/* ---- allow list ------------------------------------------------------------------------ */

enum MHD_Result webui__api_xmpp_allow_list(struct webui_req *req)
{
	json_t *out = NULL;
	enum fg_err err = xmppconf_peers(req->w->db, &out);
	if (err)
		return store_failed(req, err);
	json_t *allow = json_incref(json_object_get(out, "allow"));
	json_decref(out);
	return webui__reply_json(req, 200, json_pack("{s:o}", "allow", allow));
}

enum MHD_Result webui__api_xmpp_allow_add(struct webui_req *req)
{
	return webui__conf_body(req, xmppconf_allow_add, 201);
}

enum MHD_Result webui__api_xmpp_allow_put(struct webui_req *req)
{
	return webui__conf_edit(req, xmppconf_allow_edit);
}

enum MHD_Result webui__api_xmpp_allow_delete(struct webui_req *req)
{
	return webui__conf_delete(req, xmppconf_allow_delete);
}

/* ---- policy ---------------------------------------------------------------------------- */

enum MHD_Result webui__api_xmpp_policy_get(struct webui_req *req)
{
	json_t *out = NULL;
	enum fg_err err = xmppconf_policy_get(req->w->db, &out);
	if (err)
		return store_failed(req, err);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__api_xmpp_policy_put(struct webui_req *req)
{
	json_t *in = NULL, *out = NULL;
	struct conf_err e = {0};
	struct webui_error we;
	const char *verdict = NULL;
	if (!webui__req_json(req, &in))
		return MHD_YES;
	if (!webui__field_string(in, "default", true, 16, &verdict, &we)) {
		json_decref(in);
		return webui__reply_error(req, &we);
	}
	enum fg_err err = xmppconf_policy_default_set(req->w->db, req->session.admin, req->source,
	                                              verdict, &out, &e);
	json_decref(in);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__api_xmpp_rules_add(struct webui_req *req)
{
	return webui__conf_body(req, xmppconf_rule_add, 201);
}

enum MHD_Result webui__api_xmpp_rules_put(struct webui_req *req)
{
	return webui__conf_edit(req, xmppconf_rule_edit);
}

enum MHD_Result webui__api_xmpp_rules_delete(struct webui_req *req)
{
	return webui__conf_delete(req, xmppconf_rule_delete);
}

/* ---- peers ----------------------------------------------------------------------------- */

enum MHD_Result webui__api_xmpp_peers(struct webui_req *req)
{
	json_t *out = NULL;
	enum fg_err err = xmppconf_peers(req->w->db, &out);
	if (err)
		return store_failed(req, err);
	return webui__reply_json(req, 200, out);
}

/* ---- validate connection ---------------------------------------------------------------- */

static void s2s_validation_free(void *handle)
{
	s2s_validate_free(handle);
}

enum MHD_Result webui__api_xmpp_validate_start(struct webui_req *req)
{
	json_t *in = NULL;
	struct webui_error we;
	const char *domain = NULL, *why = NULL;
	if (!webui__req_json(req, &in))
		return MHD_YES;
	if (!webui__field_string(in, "domain", true, DB_DOMAIN_MAX - 1, &domain, &we)) {
		json_decref(in);
		return webui__reply_error(req, &we);
	}
	if (!xmppconf_domain_valid(domain, &why)) {
		webui__error_set(&we, 422, "invalid", "domain",
		                 "Type the XMPP domain to check, as in example.com.",
		                 "This is not a valid domain name: %s.", why);
		json_decref(in);
		return webui__reply_error(req, &we);
	}
	struct webui_validation *slot = webui__validation_new(req, "xmpp", domain);
	json_decref(in);
	struct s2s_validation *v = NULL;
	enum fg_err err =
	    s2s_validate_start(&v, webui_loop(req->w), req->w->db, slot->domain,
	                       webui__validation_step_cb, webui__validation_done_cb, slot);
	slot->handle = v;
	slot->handle_free = s2s_validation_free;
	if (err) {
		FG_LOGE(SUBSYS, "cannot start validating %s: %s", slot->domain, fg_strerror(err));
		return webui__validation_start_failed(req, slot, err);
	}
	FG_LOGI(SUBSYS, "%s validates XMPP federation with %s", req->session.admin, slot->domain);
	return webui__reply_json(req, 202, json_pack("{s:s}", "id", slot->id));
}

enum MHD_Result webui__api_xmpp_validate_get(struct webui_req *req)
{
	return webui__validation_reply(req, "xmpp");
}
