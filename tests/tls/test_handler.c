/* tls_console test: a tiny request handler standing in for the console API (test only). */
#include "webui/webui_internal.h"

#include <string.h>

enum MHD_Result webui_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
	static int first_call_marker;
	struct webui *w = cls;
	/* Answer on the second call so keep-alive works (MHD forces close otherwise). */
	if (*req_cls == NULL) {
		*req_cls = &first_call_marker;
		return MHD_YES;
	}
	if (strcmp(url, "/suspend") == 0 && *req_cls == &first_call_marker) {
		/* Parks the request as the API does while a password hashes. */
		*req_cls = (void *)url;
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		*upload_data_size = 0; /* consume and ignore bodies */
		return MHD_YES;
	}
	char body[256];
	snprintf(body, sizeof(body), "fedgw console test %s %s version %s\n", method, url,
	         webui_version(w));
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

void webui_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
	*req_cls = NULL;
}

void webui__api_free(struct webui_api *api)
{
}
