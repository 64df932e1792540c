/* sip: dialogs from INVITE/2xx and SUBSCRIBE/NOTIFY, in-dialog requests (RFC 3261 §12, RFC 6665
 * §4.1.3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_internal.h"

static char *dup_str(struct sip_str s)
{
	if (!s.p)
		return NULL;
	char *d = malloc(s.len + 1);
	if (d) {
		memcpy(d, s.p, s.len);
		d[s.len] = '\0';
	}
	return d;
}

static char *angle(struct sip_str uri)
{
	char *d = malloc(uri.len + 3);
	if (d) {
		d[0] = '<';
		memcpy(d + 1, uri.p, uri.len);
		d[uri.len + 1] = '>';
		d[uri.len + 2] = '\0';
	}
	return d;
}

static bool str_tag_eq(struct sip_str a, const char *b)
{
	return a.p && b && a.len == strlen(b) && memcmp(a.p, b, a.len) == 0;
}

void sip_dialog_free(struct sip_dialog *d)
{
	if (!d)
		return;
	free(d->call_id);
	free(d->local_tag);
	free(d->remote_tag);
	free(d->local_uri);
	free(d->remote_uri);
	free(d->remote_target);
	for (size_t i = 0; i < d->nroutes; i++)
		free(d->routes[i]);
	free(d);
}

/* Remote target from the Contact of msg (RFC 3261 §12.1.1, §12.1.2). */
static enum fg_err set_target(struct sip_dialog *d, const struct sip_msg *msg)
{
	const struct sip_header *h = sip_msg_header(msg, "Contact", 0);
	struct sip_addr a;
	if (!h)
		return FG_ERR_INVAL;
	enum fg_err e = sip_msg_parse_addr((struct sip_msg *)msg, h, &a, NULL);
	if (e || a.star)
		return FG_ERR_INVAL;
	char *t = dup_str(a.uri.text);
	if (!t)
		return FG_ERR_NOMEM;
	free(d->remote_target);
	d->remote_target = t;
	return FG_OK;
}

/* Route set from Record-Route: in order for the UAS, reversed for the UAC. */
static enum fg_err set_routes(struct sip_dialog *d, const struct sip_msg *msg, bool reverse)
{
	size_t n = sip_msg_header_count(msg, "Record-Route");
	if (n > SIP_MAX_ROUTES)
		return FG_ERR_TOOBIG;
	for (size_t i = 0; i < n; i++) {
		const struct sip_header *h =
		    sip_msg_header(msg, "Record-Route", reverse ? n - 1 - i : i);
		d->routes[i] = dup_str(h->value);
		if (!d->routes[i])
			return FG_ERR_NOMEM;
		d->nroutes = i + 1;
	}
	return FG_OK;
}

enum fg_err sip_dialog_new_uac(const struct sip_msg *req, const struct sip_msg *rsp,
                               struct sip_dialog **out)
{
	*out = NULL;
	bool notify = rsp->is_request;
	if (!req->is_request || !req->from.tag.p)
		return FG_ERR_INVAL;
	if (notify) {
		/* RFC 6665 §4.1.2.4: a NOTIFY for our SUBSCRIBE creates the dialog. */
		if (rsp->method_id != SIP_METHOD_NOTIFY || req->method_id != SIP_METHOD_SUBSCRIBE ||
		    !rsp->from.tag.p || !rsp->to.tag.p || rsp->to.tag.len != req->from.tag.len ||
		    memcmp(rsp->to.tag.p, req->from.tag.p, req->from.tag.len) != 0)
			return FG_ERR_INVAL;
	} else if (rsp->status < 101 || rsp->status > 299 || !rsp->to.tag.p) {
		return FG_ERR_INVAL;
	}
	if (rsp->call_id.len != req->call_id.len ||
	    memcmp(rsp->call_id.p, req->call_id.p, req->call_id.len) != 0)
		return FG_ERR_INVAL;
	struct sip_dialog *d = calloc(1, sizeof(*d));
	if (!d)
		return FG_ERR_NOMEM;
	enum fg_err e = FG_ERR_NOMEM;
	d->call_id = dup_str(req->call_id);
	d->local_tag = dup_str(req->from.tag);
	d->remote_tag = dup_str(notify ? rsp->from.tag : rsp->to.tag);
	d->local_uri = angle(req->from.uri.text);
	d->remote_uri = angle(req->to.uri.text);
	if (!d->call_id || !d->local_tag || !d->remote_tag || !d->local_uri || !d->remote_uri)
		goto out;
	d->local_cseq = req->cseq;
	d->remote_cseq = notify ? rsp->cseq : 0;
	d->secure = req->ruri.scheme == SIP_SCHEME_SIPS;
	d->early = !notify && rsp->status < 200;
	e = set_routes(d, rsp, !notify);
	if (e)
		goto out;
	e = set_target(d, rsp);
	if (e)
		goto out;
	*out = d;
	d = NULL;
out:
	sip_dialog_free(d);
	return e;
}

enum fg_err sip_dialog_new_uas(const struct sip_msg *req, const char *local_tag,
                               struct sip_dialog **out)
{
	*out = NULL;
	if (!req->is_request || !req->from.tag.p || !local_tag || !*local_tag)
		return FG_ERR_INVAL;
	if (req->method_id != SIP_METHOD_INVITE && req->method_id != SIP_METHOD_SUBSCRIBE &&
	    req->method_id != SIP_METHOD_REFER)
		return FG_ERR_INVAL;
	struct sip_dialog *d = calloc(1, sizeof(*d));
	if (!d)
		return FG_ERR_NOMEM;
	enum fg_err e = FG_ERR_NOMEM;
	d->call_id = dup_str(req->call_id);
	d->local_tag = strdup(local_tag);
	d->remote_tag = dup_str(req->from.tag);
	d->local_uri = angle(req->to.uri.text);
	d->remote_uri = angle(req->from.uri.text);
	if (!d->call_id || !d->local_tag || !d->remote_tag || !d->local_uri || !d->remote_uri)
		goto out;
	d->remote_cseq = req->cseq;
	d->local_cseq = 0; /* RFC 3261 §12.1.1: empty; the first request uses 1 */
	d->secure = req->ruri.scheme == SIP_SCHEME_SIPS;
	e = set_routes(d, req, false);
	if (e)
		goto out;
	e = set_target(d, req);
	if (e)
		goto out;
	*out = d;
	d = NULL;
out:
	sip_dialog_free(d);
	return e;
}

enum fg_err sip_dialog_confirm(struct sip_dialog *d, const struct sip_msg *rsp)
{
	if (rsp->is_request || rsp->status < 200 || rsp->status > 299 ||
	    !str_tag_eq(rsp->to.tag, d->remote_tag) || !str_tag_eq(rsp->from.tag, d->local_tag))
		return FG_ERR_INVAL;
	if (!d->early)
		return FG_OK; /* a retransmitted 2xx changes nothing */
	for (size_t i = 0; i < d->nroutes; i++) {
		free(d->routes[i]);
		d->routes[i] = NULL;
	}
	d->nroutes = 0;
	enum fg_err e = set_routes(d, rsp, true);
	if (!e)
		e = set_target(d, rsp);
	if (!e)
		d->early = false;
	return e;
}

static bool is_target_refresh(enum sip_method m)
{
	/* RFC 3261 §12.2.2 (re-INVITE), RFC 3311 UPDATE, RFC 6665 §3.1 and §3.2 (SUBSCRIBE, NOTIFY)
	 */
	return m == SIP_METHOD_INVITE || m == SIP_METHOD_UPDATE || m == SIP_METHOD_SUBSCRIBE ||
	       m == SIP_METHOD_NOTIFY;
}

enum fg_err sip_dialog_on_request(struct sip_dialog *d, const struct sip_msg *req)
{
	if (!req->is_request)
		return FG_ERR_INVAL;
	if (strlen(d->call_id) != req->call_id.len ||
	    memcmp(d->call_id, req->call_id.p, req->call_id.len) != 0 ||
	    !str_tag_eq(req->from.tag, d->remote_tag) || !str_tag_eq(req->to.tag, d->local_tag))
		return FG_ERR_NOTFOUND; /* 481 */
	if (req->method_id != SIP_METHOD_ACK && req->method_id != SIP_METHOD_CANCEL) {
		/* RFC 3261 §12.2.2: lower than the remote sequence number: 500 */
		if (d->remote_cseq && req->cseq <= d->remote_cseq)
			return FG_ERR_INVAL;
		d->remote_cseq = req->cseq;
	}
	if (is_target_refresh(req->method_id) && sip_msg_header(req, "Contact", 0)) {
		enum fg_err e = set_target(d, req);
		if (e)
			return e;
	}
	return FG_OK;
}

static bool route_is_loose(const char *route)
{
	/* RFC 3261 §12.2.1.1: a route without ;lr is a strict router */
	struct sip_arena *a = sip__arena_new();
	struct sip_addr addr;
	bool loose = true;
	if (!a)
		return true;
	if (sip__addr_parse(a, route, strlen(route), false, &addr, NULL, 0) == FG_OK)
		loose = sip_uri_param(&addr.uri, "lr") != NULL;
	sip__arena_free(a);
	return loose;
}

enum fg_err sip_dialog_build_request(struct sip_dialog *d, struct fg_buf *out, const char *method,
                                     const char *via_transport, const char *via_sent_by,
                                     const char *branch_random, bool reuse_cseq,
                                     const char *extra_headers, const char *content_type,
                                     const uint8_t *body, size_t body_len)
{
	const char *routes[SIP_MAX_ROUTES + 1];
	size_t nroutes = 0;
	char *ruri = NULL;
	enum fg_err e;
	uint32_t cseq = reuse_cseq ? d->local_cseq : d->local_cseq + 1;
	if (cseq == 0 || cseq > 0x7fffffffu)
		return FG_ERR_INVAL;
	if (d->nroutes && !route_is_loose(d->routes[0])) {
		/* strict routing: first route becomes the Request-URI, target goes last */
		const char *r = d->routes[0];
		size_t n = strlen(r);
		const char *lt = strchr(r, '<'), *gt = strrchr(r, '>');
		if (lt && gt && gt > lt) {
			ruri = strndup(lt + 1, (size_t)(gt - lt - 1));
		} else {
			ruri = strndup(r, n);
		}
		if (!ruri)
			return FG_ERR_NOMEM;
		for (size_t i = 1; i < d->nroutes; i++)
			routes[nroutes++] = d->routes[i];
		routes[nroutes++] = NULL; /* placeholder for <remote target> */
	} else {
		for (size_t i = 0; i < d->nroutes; i++)
			routes[nroutes++] = d->routes[i];
	}
	char *target_route = NULL;
	if (ruri) {
		size_t n = strlen(d->remote_target) + 3;
		target_route = malloc(n);
		if (!target_route) {
			free(ruri);
			return FG_ERR_NOMEM;
		}
		snprintf(target_route, n, "<%s>", d->remote_target);
		routes[nroutes - 1] = target_route;
	}
	struct sip_request_spec spec = {
	    .method = method,
	    .ruri = ruri ? ruri : d->remote_target,
	    .via_transport = via_transport,
	    .via_sent_by = via_sent_by,
	    .branch_random = branch_random,
	    .from = d->local_uri,
	    .from_tag = d->local_tag,
	    .to = d->remote_uri,
	    .to_tag = d->remote_tag,
	    .call_id = d->call_id,
	    .cseq = cseq,
	    .routes = routes,
	    .nroutes = nroutes,
	    .extra_headers = extra_headers,
	    .content_type = content_type,
	    .body = body,
	    .body_len = body_len,
	};
	e = sip_build_request(out, &spec);
	if (!e)
		d->local_cseq = cseq;
	free(ruri);
	free(target_route);
	return e;
}
