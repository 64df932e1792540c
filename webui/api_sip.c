/* webui api: SIP gateway configuration (settings, SIP domains with their live state) and
 * validate connection toward a SIP domain's next hop (RFC 3261, RFC 5922 §7; seed 001),
 * over core/sipconf. */
#include "webui/api.h"
#include "sipconf/sipconf.h"
#include "sipgw/sipgw.h"

#include <stdlib.h>
#include <string.h>

#define SUBSYS "console"

static enum MHD_Result store_failed(struct webui_req *req, enum fg_err err)
{
	FG_LOGE(SUBSYS, "cannot read the SIP configuration: %s", fg_strerror(err));
	return webui__fail(req, 500, "store", NULL, "See the log (fedgw journal).",
	                   "The store could not be read.");
}

/* ---- settings ------------------------------------------------------------------------- */

enum MHD_Result webui__api_sip_settings_get(struct webui_req *req)
{
	json_t *out = NULL;
	enum fg_err err = sipconf_settings_get(req->w->db, &out);
	if (err)
		return store_failed(req, err);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__api_sip_settings_put(struct webui_req *req)
{
	return webui__conf_body(req, sipconf_settings_set, 200);
}

/* ---- domains --------------------------------------------------------------------------- */

enum MHD_Result webui__api_sip_domains_list(struct webui_req *req)
{
	json_t *out = NULL;
	enum fg_err err = sipconf_domain_list(req->w->db, &out);
	if (err)
		return store_failed(req, err);
	return webui__reply_json(req, 200, json_pack("{s:o}", "domains", out));
}

enum MHD_Result webui__api_sip_domains_get(struct webui_req *req)
{
	json_t *out = NULL;
	struct conf_err e = {0};
	enum fg_err err = sipconf_domain_get(req->w->db, req->params[0], &out, &e);
	if (err)
		return webui__conf_failed(req, err, &e);
	return webui__reply_json(req, 200, out);
}

enum MHD_Result webui__api_sip_domains_add(struct webui_req *req)
{
	return webui__conf_body(req, sipconf_domain_add, 201);
}

enum MHD_Result webui__api_sip_domains_put(struct webui_req *req)
{
	return webui__conf_edit(req, sipconf_domain_edit);
}

enum MHD_Result webui__api_sip_domains_delete(struct webui_req *req)
{
	return webui__conf_delete(req, sipconf_domain_delete);
}

/* ---- validate connection ---------------------------------------------------------------- */

static void sip_validation_free(void *handle)
{
	sipgw_validate_free(handle);
}

enum MHD_Result webui__api_sip_validate_start(struct webui_req *req)
{
	json_t *in = NULL, *dom = NULL;
	struct webui_error we;
	struct conf_err e = {0};
	const char *domain = NULL;
	if (!webui__req_json(req, &in))
		return MHD_YES;
	if (!webui__field_string(in, "domain", true, DB_DOMAIN_MAX - 1, &domain, &we)) {
		json_decref(in);
		return webui__reply_error(req, &we);
	}
	/* Only a configured SIP domain has a next hop to check (seed 001: picked from a list). */
	enum fg_err err = sipconf_domain_get(req->w->db, domain, &dom, &e);
	json_decref(dom);
	if (err) {
		json_decref(in);
		if (err == FG_ERR_NOTFOUND) {
			webui__error_set(
			    &we, 422, "invalid", "domain",
			    "Pick one of the SIP domains from the list, or add it first.",
			    "There is no SIP domain of that name.");
			return webui__reply_error(req, &we);
		}
		return webui__conf_failed(req, err, &e);
	}
	struct webui_validation *slot = webui__validation_new(req, "sip", domain);
	json_decref(in);
	struct sipgw_validation *v = NULL;
	err = sipgw_validate_start(&v, webui_loop(req->w), req->w->db, slot->domain,
	                           webui__validation_step_cb, webui__validation_done_cb, slot);
	slot->handle = v;
	slot->handle_free = sip_validation_free;
	if (err) {
		FG_LOGE(SUBSYS, "cannot start validating SIP domain %s: %s", slot->domain,
		        fg_strerror(err));
		return webui__validation_start_failed(req, slot, err);
	}
	FG_LOGI(SUBSYS, "%s validates the connection of SIP domain %s", req->session.admin,
	        slot->domain);
	return webui__reply_json(req, 202, json_pack("{s:s}", "id", slot->id));
}

enum MHD_Result webui__api_sip_validate_get(struct webui_req *req)
{
	return webui__validation_reply(req, "sip");
}
