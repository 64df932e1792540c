/* webui api: certificates: list, show, PEM download, CSR and self-signed creation, import
 * of chains (RFC 5280) and CA bundles, deletion, and the console's certificate. */
#include "certs/certs.h"
#include "webui/api.h"

#include <stdlib.h>
#include <string.h>

/* A DNS name is at most 253 octets (RFC 1035 §2.3.4); addresses and names are shorter. */
#define CERT_FIELD_MAX 253
/* RFC 5280 upper bound for a common name (ub-common-name, Appendix A.1). */
#define CERT_CN_MAX 64
/* Key type names: "ec-p256" ... "rsa-3072", the size of db_key.type. */
#define CERT_KEY_TYPE_MAX 15
/* Certificate validity a self-signed request may ask for: ten years at most. */
#define CERT_DAYS_MAX 3650

static enum MHD_Result not_found(struct webui_req *req)
{
	return webui__fail(req, 404, "not_found", NULL, "Pick a certificate from the list.",
	                   "There is no certificate with that id.");
}

/* Maps a certs error to an answer; err_msg/fix (owned, may be NULL) are freed. */
static enum MHD_Result certs_failed(struct webui_req *req, enum fg_err err, char *err_msg,
                                    char *fix, const char *invalid_code, const char *default_fix)
{
	struct webui_error e;
	const char *msg = err_msg && *err_msg ? err_msg : NULL;
	switch (err) {
	case FG_ERR_NOTFOUND:
		webui__error_set(&e, 404, "not_found", NULL, "Pick a certificate from the list.",
		                 "%s", msg ? msg : "There is no certificate with that id.");
		break;
	case FG_ERR_BUSY:
		webui__error_set(&e, 409, "in_use", NULL,
		                 "Choose another certificate for that role first.", "%s",
		                 msg ? msg : "The certificate is in use.");
		break;
	case FG_ERR_EXISTS:
		webui__error_set(&e, 409, "exists", NULL, "Choose another name.", "%s",
		                 msg ? msg : "It already exists.");
		break;
	case FG_ERR_INVAL:
	case FG_ERR_PARSE:
	case FG_ERR_CRYPTO:
	case FG_ERR_VERSION:
	case FG_ERR_TOOBIG:
		webui__error_set(&e, 422, invalid_code, NULL, default_fix, "%s",
		                 msg ? msg : "The input is not acceptable.");
		break;
	default:
		webui__error_set(&e, 500, "internal", NULL, "See the log (fedgw journal).", "%s",
		                 "The certificate operation failed.");
		break;
	}
	enum MHD_Result rc;
	json_t *j = webui__error_json(&e);
	if (j && fix && *fix)
		json_object_set_new(json_object_get(j, "error"), "fix", webui__json_text(fix));
	if (j && msg) /* certs' text may quote certificate fields: never trust it as UTF-8 */
		json_object_set_new(json_object_get(j, "error"), "message", webui__json_text(msg));
	rc = webui__reply_json(req, e.status, j);
	free(err_msg);
	free(fix);
	return rc;
}

enum MHD_Result webui__api_certs_list(struct webui_req *req)
{
	json_t *arr = NULL;
	enum fg_err err = certs_list(req->w->db, fg_now_ms(), &arr);
	if (err)
		return certs_failed(req, err, NULL, NULL, "invalid", "");
	return webui__reply_json(req, 200, json_pack("{s:o}", "certificates", arr));
}

enum MHD_Result webui__api_certs_show(struct webui_req *req)
{
	json_t *obj = NULL;
	if (!db_id_valid(req->params[0]))
		return not_found(req);
	enum fg_err err = certs_show(req->w->db, req->params[0], fg_now_ms(), &obj);
	if (err)
		return certs_failed(req, err, NULL, NULL, "invalid", "");
	return webui__reply_json(req, 200, obj);
}

enum MHD_Result webui__api_certs_pem(struct webui_req *req)
{
	char *pem = NULL;
	char disp[64 + WEBUI_PARAM_MAX];
	if (!db_id_valid(req->params[0]))
		return not_found(req);
	enum fg_err err = certs_pem(req->w->db, req->params[0], &pem);
	if (err)
		return certs_failed(req, err, NULL, NULL, "invalid", "");
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(pem), pem, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(pem);
		return MHD_NO;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"fedgw-%s.pem\"", req->params[0]);
	MHD_add_response_header(resp, "Content-Type", "application/x-pem-file");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	return webui__reply(req, 200, resp);
}

/* An optional array of strings; *out is a malloc'd array of borrowed pointers. */
static bool field_string_array(json_t *obj, const char *name, const char ***out, size_t *count,
                               struct webui_error *e)
{
	json_t *arr = json_object_get(obj, name);
	*out = NULL;
	*count = 0;
	if (!arr || json_is_null(arr))
		return true;
	if (!json_is_array(arr)) {
		webui__error_set(e, 400, "bad_field", name, "Send a list of strings.",
		                 "The field \"%s\" must be a list of strings.", name);
		return false;
	}
	size_t n = json_array_size(arr);
	if (n > CERTS_SAN_MAX) {
		webui__error_set(e, 422, "invalid", name, "Use fewer entries.",
		                 "The field \"%s\" has too many entries (at most %d).", name,
		                 CERTS_SAN_MAX);
		return false;
	}
	if (n == 0)
		return true;
	const char **list = calloc(n, sizeof(*list));
	if (!list) {
		webui__error_set(e, 500, "internal", NULL, "Try again.", "Out of memory.");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > CERT_FIELD_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			webui__error_set(e, 422, "invalid", name, "Fix or remove that entry.",
			                 "Entry %zu of \"%s\" is not a non-empty string of at "
			                 "most %d characters.",
			                 i + 1, name, CERT_FIELD_MAX);
			free(list);
			return false;
		}
		list[i] = json_string_value(v);
	}
	*out = list;
	*count = n;
	return true;
}

/* Shared by csr and selfsigned: the request fields into p (arrays malloc'd into p). */
static bool read_csr_params(json_t *root, struct certs_csr_params *p, bool with_days,
                            struct webui_error *e)
{
	const char *key_type = NULL;
	memset(p, 0, sizeof(*p));
	if (!webui__field_string(root, "name", false, DB_NAME_MAX - 1, &p->name, e) ||
	    !webui__field_string(root, "common_name", true, CERT_CN_MAX, &p->cn, e) ||
	    !webui__field_string(root, "key_type", false, CERT_KEY_TYPE_MAX, &key_type, e))
		return false;
	if (key_type && strcmp(key_type, "ec-p256") != 0 && strcmp(key_type, "ec-p384") != 0 &&
	    strcmp(key_type, "rsa-2048") != 0 && strcmp(key_type, "rsa-3072") != 0) {
		webui__error_set(e, 422, "invalid", "key_type",
		                 "Use ec-p256, ec-p384, rsa-2048 or rsa-3072.",
		                 "The key type is not supported.");
		return false;
	}
	p->key_type = key_type ? key_type : "ec-p256";
	if (with_days) {
		json_t *d = json_object_get(root, "days");
		if (d && !json_is_null(d)) {
			if (!json_is_integer(d) || json_integer_value(d) < 1 ||
			    json_integer_value(d) > CERT_DAYS_MAX) {
				webui__error_set(e, 422, "invalid", "days",
				                 "Use a number of days from 1 to 3650.",
				                 "The validity in days is out of range.");
				return false;
			}
			p->days = (unsigned)json_integer_value(d);
		}
	}
	const char **dns = NULL, **ips = NULL, **xmpp = NULL;
	if (!field_string_array(root, "dns_names", &dns, &p->dns_count, e))
		return false;
	if (!field_string_array(root, "ip_addresses", &ips, &p->ip_count, e)) {
		free(dns);
		return false;
	}
	if (!field_string_array(root, "xmpp_srv_names", &xmpp, &p->xmpp_count, e)) {
		free(dns);
		free(ips);
		return false;
	}
	p->dns = dns;
	p->ips = ips;
	p->xmpp_domains = xmpp;
	return true;
}

static void csr_params_clear(struct certs_csr_params *p)
{
	free((void *)p->dns);
	free((void *)p->ips);
	free((void *)p->xmpp_domains);
}

/* The answer to a created CSR or self-signed certificate (on the loop). */
static enum MHD_Result reply_created(struct webui_req *req, bool selfsigned, const char *id)
{
	if (selfsigned)
		return webui__reply_json(req, 201, json_pack("{s:s}", "id", id));
	char *pem = NULL;
	enum fg_err err = certs_pem(req->w->db, id, &pem);
	if (err)
		return certs_failed(req, err, NULL, NULL, "invalid", "");
	enum MHD_Result rc = webui__reply_json(
	    req, 201, json_pack("{s:s, s:o}", "id", id, "pem", webui__json_text(pem)));
	free(pem);
	return rc;
}

/* An RSA key being made on the thread pool for a CSR or self-signed certificate. */
struct keygen_ext {
	struct certs_csr_params p; /* strings borrowed from job->input, arrays owned */
	enum pki_key_type type;
	bool selfsigned;
	struct pki_key *key; /* made by the worker */
};

static void keygen_ext_free(void *vx)
{
	struct keygen_ext *x = vx;
	if (!x)
		return;
	csr_params_clear(&x->p);
	pki_key_free(x->key); /* wipes the key material */
	free(x);
}

static void keygen_run(struct webui_job *job)
{
	struct keygen_ext *x = job->ext;
	job->err = pki_key_generate(x->type, &x->key);
}

/* Back on the loop: the store part (the store and its watchers belong to the loop). */
static void keygen_done(struct webui_job *job, struct webui_req *req)
{
	struct keygen_ext *x = job->ext;
	char id[DB_ID_MAX] = "";
	char *err_msg = NULL;
	enum fg_err err = job->err;
	if (err) {
		certs_failed(req, FG_ERR_STORE, NULL, NULL, "invalid", "");
		return;
	}
	err = x->selfsigned
	          ? certs_selfsigned_create_with_key(req->w->db, req->session.admin, req->source,
	                                             &x->p, x->key, fg_now_ms(), id, &err_msg)
	          : certs_csr_create_with_key(req->w->db, req->session.admin, req->source, &x->p,
	                                      x->key, id, &err_msg);
	if (err) {
		certs_failed(req, err, err_msg, NULL, "invalid", "Check the names and addresses.");
		return;
	}
	free(err_msg);
	reply_created(req, x->selfsigned, id);
}

/*
 * EC keys take milliseconds and are made here on the loop thread. RSA-2048 takes about
 * 0.3 s and RSA-3072 seconds, which would pause the console and the engine: those keys are
 * made on the libuv thread pool with the connection suspended, and the certificate or CSR
 * is then written on the loop.
 */
static enum MHD_Result create_cert(struct webui_req *req, bool selfsigned)
{
	json_t *root = NULL;
	struct certs_csr_params p;
	struct webui_error e;
	char id[DB_ID_MAX] = "";
	char *err_msg = NULL;
	enum pki_key_type kt = PKI_KEY_EC_P256;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!read_csr_params(root, &p, selfsigned, &e)) {
		json_decref(root);
		return webui__reply_error(req, &e);
	}
	/* Checked before any key is made: a bad request costs no key generation. */
	enum fg_err err = certs_csr_params_check(&p, &kt, &err_msg);
	if (err) {
		csr_params_clear(&p);
		json_decref(root);
		return certs_failed(req, err, err_msg, NULL, "invalid",
		                    "Check the names and addresses.");
	}
	if (kt != PKI_KEY_EC_P256 && kt != PKI_KEY_EC_P384) {
		struct webui_job *job = webui__job_new(req);
		struct keygen_ext *x = calloc(1, sizeof(*x));
		if (!job || !x) {
			free(job);
			free(x);
			csr_params_clear(&p);
			json_decref(root);
			return MHD_NO;
		}
		x->p = p;
		x->type = kt;
		x->selfsigned = selfsigned;
		job->input = root; /* owns the strings p points into */
		job->ext = x;
		job->ext_free = keygen_ext_free;
		job->run = keygen_run;
		job->done = keygen_done;
		return webui__job_start(req, job);
	}
	err = selfsigned
	          ? certs_selfsigned_create(req->w->db, req->session.admin, req->source, &p,
	                                    fg_now_ms(), id, &err_msg)
	          : certs_csr_create(req->w->db, req->session.admin, req->source, &p, id, &err_msg);
	csr_params_clear(&p);
	json_decref(root);
	if (err)
		return certs_failed(req, err, err_msg, NULL, "invalid",
		                    "Check the names and addresses.");
	free(err_msg);
	return reply_created(req, selfsigned, id);
}

enum MHD_Result webui__api_certs_csr(struct webui_req *req)
{
	return create_cert(req, false);
}

enum MHD_Result webui__api_certs_selfsigned(struct webui_req *req)
{
	return create_cert(req, true);
}

enum MHD_Result webui__api_certs_import(struct webui_req *req)
{
	json_t *root = NULL;
	const char *name, *cert_pem, *key_pem;
	struct webui_error e;
	char id[DB_ID_MAX] = "";
	char *err_msg = NULL, *fix = NULL;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!webui__field_string(root, "name", true, DB_NAME_MAX - 1, &name, &e) ||
	    !webui__field_string(root, "certificate_pem", true, WEBUI_BODY_MAX_CERT, &cert_pem,
	                         &e) ||
	    !webui__field_string(root, "private_key_pem", false, WEBUI_BODY_MAX_CERT, &key_pem,
	                         &e)) {
		json_decref(root);
		return webui__reply_error(req, &e);
	}
	if (key_pem && !*key_pem)
		key_pem = NULL;
	enum fg_err err = certs_import(req->w->db, req->session.admin, req->source, name, cert_pem,
	                               key_pem, fg_now_ms(), id, &err_msg, &fix);
	json_decref(root);
	if (err)
		return certs_failed(req, err, err_msg, fix, "chain",
		                    "Paste the certificate with its chain, leaf first, in PEM.");
	free(err_msg);
	free(fix);
	return webui__reply_json(req, 201, json_pack("{s:s}", "id", id));
}

enum MHD_Result webui__api_certs_ca(struct webui_req *req)
{
	json_t *root = NULL;
	const char *name, *pem;
	struct webui_error e;
	char id[DB_ID_MAX] = "";
	char *err_msg = NULL;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!webui__field_string(root, "name", true, DB_NAME_MAX - 1, &name, &e) ||
	    !webui__field_string(root, "pem", true, WEBUI_BODY_MAX_CERT, &pem, &e)) {
		json_decref(root);
		return webui__reply_error(req, &e);
	}
	enum fg_err err =
	    certs_import_ca(req->w->db, req->session.admin, req->source, name, pem, id, &err_msg);
	json_decref(root);
	if (err)
		return certs_failed(req, err, err_msg, NULL, "chain",
		                    "Paste CA certificates (roots or intermediates) in PEM.");
	free(err_msg);
	return webui__reply_json(req, 201, json_pack("{s:s}", "id", id));
}

enum MHD_Result webui__api_certs_delete(struct webui_req *req)
{
	char *err_msg = NULL;
	if (!db_id_valid(req->params[0]))
		return not_found(req);
	enum fg_err err =
	    certs_delete(req->w->db, req->session.admin, req->source, req->params[0], &err_msg);
	if (err)
		return certs_failed(req, err, err_msg, NULL, "invalid", "");
	free(err_msg);
	return webui__reply_status(req, 204);
}

enum MHD_Result webui__api_console_cert(struct webui_req *req)
{
	json_t *root = NULL;
	const char *id;
	struct webui_error e;
	char *err_msg = NULL;
	if (!webui__req_json(req, &root))
		return MHD_YES;
	if (!webui__field_string(root, "id", true, DB_ID_MAX - 1, &id, &e)) {
		json_decref(root);
		return webui__reply_error(req, &e);
	}
	if (!db_id_valid(id)) {
		json_decref(root);
		return not_found(req);
	}
	/* The daemon notices the changed setting and swaps the certificate live. */
	enum fg_err err = certs_console_set(req->w->db, req->session.admin, req->source, id,
	                                    fg_now_ms(), &err_msg);
	json_t *out = err ? NULL : json_pack("{s:s}", "id", id);
	json_decref(root);
	if (err)
		return certs_failed(req, err, err_msg, NULL, "invalid",
		                    "Choose a certificate that has its private key and is valid.");
	free(err_msg);
	return webui__reply_json(req, 200, out);
}
