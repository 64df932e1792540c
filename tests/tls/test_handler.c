/* tls_console test: a tiny request handler standing in for the console API (test only). */
#include "webui/webui_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Size of GET /big: large enough to cross every buffer and backpressure limit. */
#define BIG_BYTES (4u * 1024 * 1024)

struct test_req {
	size_t uploaded;
};

/* GET /big: byte i is (i * 7 + 3) & 0xff, so the client can check every byte. */
static ssize_t big_reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	if (pos >= BIG_BYTES)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = BIG_BYTES - (size_t)pos < max ? BIG_BYTES - (size_t)pos : max;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(((pos + i) * 7 + 3) & 0xff);
	return (ssize_t)n;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, const char *body)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result webui_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
	struct webui *w = cls;
	struct test_req *req = *req_cls;
	/* Answer on a later call so keep-alive works (MHD forces close otherwise). */
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*req_cls = req;
		if (strcmp(url, "/suspend") == 0)
			MHD_suspend_connection(conn); /* parked as the API parks a hashing login */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		req->uploaded += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/big") == 0) {
		struct MHD_Response *resp = MHD_create_response_from_callback(
		    BIG_BYTES, 64 * 1024, big_reader_cb, NULL, NULL);
		if (!resp)
			return MHD_NO;
		enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		return r;
	}
	char body[256];
	if (strcmp(url, "/count") == 0)
		snprintf(body, sizeof(body), "uploaded %zu\n", req->uploaded);
	else
		snprintf(body, sizeof(body), "fedgw console test %s %s version %s\n", method, url,
		         webui_version(w));
	return reply_text(conn, body);
}

void webui_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
	free(*req_cls);
	*req_cls = NULL;
}

void webui__api_free(struct webui_api *api)
{
}
