/* webui: the HTTPS admin console: BearSSL TLS front, libmicrohttpd, the JSON API. */
#ifndef FEDGW_WEBUI_H
#define FEDGW_WEBUI_H

#include "base/base.h"

#include <microhttpd.h>
#include <stdint.h>
#include <uv.h>

struct db;

/* Console configuration, read from settings by the daemon. */
struct webui_config {
	char bind_addr[64];      /* "0.0.0.0", "127.0.0.1", "::" ... (setting console.bind) */
	uint16_t port;           /* setting console.port, default 8443 */
	char cert_id[33];        /* certificate id for the console (setting console.cert) */
	int64_t session_idle_ms; /* setting console.session_idle_s, default 1800 s */
};

struct webui;

/* Transport side (webui/https.c). Starts listening on the loop. A bind failure does not
 * fail this call: it raises the fault "console.bind" and retries every 10 s. */
enum fg_err webui_start(struct webui **out, uv_loop_t *loop, struct db *db,
                        const struct webui_config *cfg, const char *version, int64_t started_ms);
/* Applies a changed configuration live (new certificate, new bind address). */
enum fg_err webui_reconfigure(struct webui *w, const struct webui_config *cfg);
/* Stops listening, closes every connection; callbacks finish on the loop. */
void webui_stop(struct webui *w);
/* Asks the transport to run libmicrohttpd soon (after a suspended request resumed). */
void webui_kick(struct webui *w);
uv_loop_t *webui_loop(struct webui *w);
struct db *webui_db(struct webui *w);
const char *webui_version(struct webui *w);
int64_t webui_started_ms(struct webui *w);
const struct webui_config *webui_config_get(struct webui *w);

/* Request side (webui/api*.c): the libmicrohttpd access handler for every request, the
 * static console assets and the JSON API under /api/v1. cls is the struct webui. */
enum MHD_Result webui_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls);
/* Frees per-request state (MHD_OPTION_NOTIFY_COMPLETED). */
void webui_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe);

#endif
