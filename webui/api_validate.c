/* webui api: validate connection runs the console polls — XMPP (RFC 6120 s2s) and SIP
 * (RFC 3261 next hop) checks report the same steps (struct s2s_step) and share this table. */
#include "webui/api.h"
#include "s2s/s2s.h"

#include <stdlib.h>
#include <string.h>

#define SUBSYS "console"
/* Validations kept in memory for the page to poll: a few admins checking a few domains;
 * the oldest is dropped when a ninth starts. */
#define WEBUI_VALIDATIONS_MAX 8
/* Steps one validation may report: DNS kinds, a few targets, TCP, TLS, auth, ping. */
#define WEBUI_VALIDATION_STEPS_MAX 64

static struct webui_validation validations[WEBUI_VALIDATIONS_MAX];
static uint64_t validation_seq;

static void validation_clear(struct webui_validation *x)
{
	if (x->handle && x->handle_free)
		x->handle_free(x->handle);
	json_decref(x->steps);
	memset(x, 0, sizeof(*x));
}

/* Frees the engine handles of finished validations (never from inside their callbacks). */
static void validations_reap(void)
{
	for (size_t i = 0; i < WEBUI_VALIDATIONS_MAX; i++) {
		struct webui_validation *x = &validations[i];
		if (x->used && x->done && x->handle) {
			if (x->handle_free)
				x->handle_free(x->handle);
			x->handle = NULL;
		}
	}
}

struct webui_validation *webui__validation_new(struct webui_req *req, const char *kind,
                                               const char *domain)
{
	validations_reap();
	struct webui_validation *slot = NULL;
	for (size_t i = 0; i < WEBUI_VALIDATIONS_MAX && !slot; i++)
		if (!validations[i].used)
			slot = &validations[i];
	if (!slot) {
		slot = &validations[0];
		for (size_t i = 1; i < WEBUI_VALIDATIONS_MAX; i++)
			if (validations[i].started_seq < slot->started_seq)
				slot = &validations[i];
		validation_clear(slot);
	}
	uint8_t raw[16];
	fg_random(raw, sizeof(raw));
	slot->used = true;
	slot->w = req->w;
	fg_hex(slot->id, raw, sizeof(raw));
	fg_strlcpy(slot->kind, kind, sizeof(slot->kind));
	fg_strlcpy(slot->domain, domain, sizeof(slot->domain));
	slot->started_seq = ++validation_seq;
	slot->steps = json_array();
	return slot;
}

enum MHD_Result webui__validation_start_failed(struct webui_req *req, struct webui_validation *v,
                                               enum fg_err err)
{
	if (v)
		validation_clear(v);
	if (err == FG_ERR_AGAIN)
		return webui__fail(req, 503, "busy", NULL, "Try again in a moment.",
		                   "The gateway is busy and could not start the validation.");
	return webui__fail(req, 500, "internal", NULL, "Try again; see the log.",
	                   "The validation could not be started.");
}

static json_t *validation_json(const struct webui_validation *x)
{
	return json_pack("{s:s, s:o, s:b, s:b, s:O}", "id", x->id, "domain",
	                 webui__json_text(x->domain), "done", x->done, "ok", x->ok, "steps",
	                 x->steps);
}

enum MHD_Result webui__validation_reply(struct webui_req *req, const char *kind)
{
	validations_reap();
	for (size_t i = 0; i < WEBUI_VALIDATIONS_MAX; i++) {
		struct webui_validation *x = &validations[i];
		if (x->used && x->w == req->w && strcmp(x->kind, kind) == 0 &&
		    strcmp(x->id, req->params[0]) == 0)
			return webui__reply_json(req, 200, validation_json(x));
	}
	return webui__fail(req, 404, "not_found", NULL,
	                   "Start a new validation; only the last 8 are kept.",
	                   "There is no validation with that id.");
}

void webui__validation_step_cb(void *ctx, const struct s2s_step *step)
{
	struct webui_validation *x = ctx;
	json_t *s =
	    json_pack("{s:o, s:o, s:s, s:o, s:o, s:o}", "id", webui__json_text(step->id), "title",
	              webui__json_text(step->title), "state", s2s_step_state_name(step->state),
	              "detail", webui__json_text(step->detail ? step->detail : ""), "fix",
	              webui__json_text(step->fix ? step->fix : ""), "tech",
	              webui__json_text(step->tech ? step->tech : ""));
	if (!s)
		return;
	/* A step reports when it starts and when it ends: the end replaces the start. */
	size_t n = json_array_size(x->steps);
	for (size_t i = n; i-- > 0;) {
		json_t *old = json_array_get(x->steps, i);
		const char *old_id = json_string_value(json_object_get(old, "id"));
		const char *old_state = json_string_value(json_object_get(old, "state"));
		if (old_id && step->id && strcmp(old_id, step->id) == 0 && old_state &&
		    strcmp(old_state, "running") == 0) {
			json_array_set_new(x->steps, i, s);
			return;
		}
	}
	if (n >= WEBUI_VALIDATION_STEPS_MAX) {
		json_decref(s);
		return;
	}
	json_array_append_new(x->steps, s);
}

void webui__validation_done_cb(void *ctx, bool ok)
{
	struct webui_validation *x = ctx;
	x->done = true;
	x->ok = ok;
}
