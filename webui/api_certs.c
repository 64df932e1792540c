/* webui api: certificate endpoints (placeholder until the certificate store is built). */
#include "webui/api.h"

static enum MHD_Result unavailable(struct webui_req *req)
{
	return webui__fail(req, 503, "unavailable", NULL, "Use a newer build.",
	                   "Certificate management is not available in this build.");
}

enum MHD_Result webui__api_certs_list(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_show(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_pem(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_csr(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_selfsigned(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_import(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_ca(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_certs_delete(struct webui_req *req)
{
	return unavailable(req);
}
enum MHD_Result webui__api_console_cert(struct webui_req *req)
{
	return unavailable(req);
}
