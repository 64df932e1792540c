/* webui: state shared between the HTTPS transport (https.c) and the API (api*.c). */
#ifndef FEDGW_WEBUI_INTERNAL_H
#define FEDGW_WEBUI_INTERNAL_H

#include "webui/webui.h"

struct webui_transport; /* https.c: listener, TLS connections, MHD pumping */
struct webui_api;       /* api*.c: login throttling table, pending work */

struct webui {
	uv_loop_t *loop;
	struct db *db;
	struct webui_config cfg;
	char version[64];
	int64_t started_ms;
	struct MHD_Daemon *mhd; /* owned by https.c; no listen socket of its own */
	struct webui_transport *transport;
	struct webui_api *api; /* created lazily by the API on first request */
};

/* Frees the API's private state (called by webui_stop). */
void webui__api_free(struct webui_api *api);

#endif
