/* sipgw presence: RFC 8048 subscriptions both ways (SUBSCRIBE/NOTIFY with PIDF <-> XMPP
 * presence and subscription states, RFC 6665 dialogs and refreshes), each subscription kept in
 * the store so that a restart neither loses nor duplicates it. */
#include "sipgw/sipgw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- presence (RFC 8048, RFC 6665), subscriptions kept in the store ---------------------------
 */

static bool sub_load(struct sipgw *gw, const char *id, struct db_subscription *out)
{
	struct db_txn *txn = NULL;
	bool ok = false;
	if (db_txn_begin(gw->db, &txn) == FG_OK) {
		ok = db_subscription_get(txn, id, out) == FG_OK;
		db_txn_end(txn);
	}
	return ok;
}

static enum fg_err sub_put_fn(struct db_txn *txn, void *ctx)
{
	return db_subscription_put(txn, ctx);
}

static enum fg_err sub_del_fn(struct db_txn *txn, void *ctx)
{
	enum fg_err err = db_subscription_del(txn, ctx);
	return err == FG_ERR_NOTFOUND ? FG_OK : err;
}

static void sub_save(struct sipgw *gw, struct db_subscription *s)
{
	enum fg_err err = db_write(gw->db, sub_put_fn, s);
	if (err != FG_OK)
		fg_log(FG_LOG_ERR, SIPGW_SUBSYS, "a presence subscription could not be stored: %s",
		       fg_strerror(err));
	/* its next refresh or expiry may come before everything else known */
	int64_t due = INT64_MAX;
	(void)sipgw__sub_due(s, fg_now_ms(), &due);
	if (gw->presence_due_ms != 0 && due < gw->presence_due_ms)
		gw->presence_due_ms = due;
}

static void sub_delete(struct sipgw *gw, const char *id)
{
	char copy[DB_ID_MAX];
	fg_strlcpy(copy, id, sizeof(copy));
	(void)db_write(gw->db, sub_del_fn, copy);
}

/* Finds a subscription by its dialog (Call-ID and our tag). */
static bool sub_find_dialog(struct sipgw *gw, enum db_sub_direction dir, const char *call_id,
                            const char *local_tag, struct db_subscription *out)
{
	struct db_txn *txn = NULL;
	struct db_subscription *subs = NULL;
	size_t n = 0;
	bool found = false;
	if (call_id == NULL || local_tag == NULL || db_txn_begin(gw->db, &txn) != FG_OK)
		return false;
	if (db_subscription_list(txn, &subs, &n) == FG_OK) {
		for (size_t i = 0; i < n && !found; i++) {
			if (subs[i].direction == dir && strcmp(subs[i].call_id, call_id) == 0 &&
			    strcmp(subs[i].local_tag, local_tag) == 0) {
				*out = subs[i];
				found = true;
			}
		}
	}
	free(subs);
	db_txn_end(txn);
	return found;
}

/* The dialog of a stored subscription, for an in-dialog request (RFC 3261 §12.2.1.1). */
struct sub_dialog {
	struct sip_dialog d;
	char local_uri[DB_SUB_URI_MAX + 2], remote_uri[DB_SUB_URI_MAX + 2];
	char target[DB_SUB_URI_MAX];
	char routes[DB_SUB_ROUTE_MAX];
};

static bool sub_dialog(const struct db_subscription *s, struct sub_dialog *sd)
{
	struct fg_buf mine = {0};
	const char *local = s->direction == DB_SUB_XMPP_WATCHER ? s->watcher : s->presentity;
	const char *remote = s->direction == DB_SUB_XMPP_WATCHER ? s->presentity : s->watcher;
	memset(sd, 0, sizeof(*sd));
	/* our side is an XMPP address: its SIP form (RFC 7247 §6.5) */
	if (xlate_addr_xmpp_to_sip(local, strlen(local), &mine, NULL) != FG_OK) {
		fg_buf_free(&mine);
		return false;
	}
	sipgw__fmt(sd->local_uri, sizeof(sd->local_uri), "<%s>", fg_buf_cstr(&mine));
	fg_buf_free(&mine);
	sipgw__fmt(sd->remote_uri, sizeof(sd->remote_uri), "<%s>", remote);
	fg_strlcpy(sd->target, s->remote_target[0] ? s->remote_target : remote, sizeof(sd->target));
	fg_strlcpy(sd->routes, s->routes, sizeof(sd->routes));
	sd->d.call_id = (char *)s->call_id;
	sd->d.local_tag = (char *)s->local_tag;
	sd->d.remote_tag = (char *)s->remote_tag;
	sd->d.local_uri = sd->local_uri;
	sd->d.remote_uri = sd->remote_uri;
	sd->d.remote_target = sd->target;
	sd->d.local_cseq = (uint32_t)s->local_cseq;
	sd->d.remote_cseq = (uint32_t)s->remote_cseq;
	sd->d.secure = false;
	/* the route set is stored one entry per line */
	for (char *r = sd->routes; *r != '\0' && sd->d.nroutes < SIP_MAX_ROUTES;) {
		char *nl = strchr(r, '\n');
		if (nl != NULL)
			*nl = '\0';
		sd->d.routes[sd->d.nroutes++] = r;
		if (nl == NULL)
			break;
		r = nl + 1;
	}
	return true;
}

/* Copies what a new dialog learnt (remote tag, target, route set) into the record. */
static void sub_take_dialog(struct db_subscription *s, const struct sip_dialog *d)
{
	fg_strlcpy(s->remote_tag, d->remote_tag ? d->remote_tag : "", sizeof(s->remote_tag));
	fg_strlcpy(s->remote_target, d->remote_target ? d->remote_target : "",
	           sizeof(s->remote_target));
	s->routes[0] = '\0';
	for (size_t i = 0; i < d->nroutes; i++) {
		size_t l = strlen(s->routes);
		sipgw__fmt(s->routes + l, sizeof(s->routes) - l, "%s%s", i ? "\n" : "",
		           d->routes[i]);
	}
}

/* XMPP side address of the SIP party of a subscription (its SIP domain mapped). */
static bool sub_sip_party_jid(const struct dom *d, const char *sip_uri, struct fg_buf *out)
{
	return sipgw__jid_from_sip(sip_uri, strlen(sip_uri), d->cf.xmpp, out, NULL) == FG_OK;
}

static void send_presence(struct sipgw *gw, enum sipgw_presence_type type, const char *from,
                          const char *to, const struct xlate_presence *p)
{
	struct fg_buf out = {0};
	if (sipgw_presence_stanza(type, from, to, p, &out) == FG_OK)
		sipgw__xmpp_send(gw, &out);
	fg_buf_free(&out);
}

static long header_expires(const struct sip_msg *m, long dflt)
{
	const struct sip_header *h = sipgw__hdr(m, "Expires");
	uint64_t v;
	if (h == NULL || !fg_parse_u64(h->value.p, 0, 0xffffffffu, &v))
		return dflt;
	return (long)v;
}

/* In-dialog or initial SUBSCRIBE for an XMPP watcher of a SIP user. */
static void subscribe_send(struct sipgw *gw, struct dom *d, struct db_subscription *s, long expires)
{
	struct fg_buf req = {0};
	char extra[160];
	sipgw__fmt(extra, sizeof(extra),
	           "Event: presence\r\nAccept: application/pidf+xml\r\nExpires: %ld\r\n", expires);
	enum fg_err err;
	if (s->remote_tag[0] != '\0') {
		struct sub_dialog sd;
		char sent_by[DB_DOMAIN_MAX + 8], branch[33], contact[DB_DOMAIN_MAX + 48];
		const char *transport;
		if (!sub_dialog(s, &sd))
			return;
		sipgw__via_for(gw, d, sent_by, sizeof(sent_by), &transport);
		sipgw__token(branch, 16);
		sipgw__fmt(contact, sizeof(contact), "%sContact: <sip:%s;transport=%s>\r\n", extra,
		           sent_by, sipgw__domain_tls(&d->cf.rec) ? "tls" : "tcp");
		err = sip_dialog_build_request(&sd.d, &req, "SUBSCRIBE", transport, sent_by, branch,
		                               false, contact, NULL, NULL, 0);
		s->local_cseq = sd.d.local_cseq;
	} else {
		struct fg_buf from = {0}, to = {0};
		char tag[17];
		err = xlate_addr_xmpp_to_sip(s->watcher, strlen(s->watcher), &from, NULL);
		struct fg_buf fromh = {0};
		if (err == FG_OK)
			err = fg_buf_printf(&fromh, "<%s>", fg_buf_cstr(&from));
		if (err == FG_OK)
			err = fg_buf_printf(&to, "<%s>", s->presentity);
		if (err == FG_OK)
			err = sipgw__build_request(
			    gw, d, "SUBSCRIBE", s->presentity, fg_buf_cstr(&fromh),
			    fg_buf_cstr(&to), s->call_id, extra, NULL, NULL, 0, true, &req, tag);
		if (err == FG_OK) {
			fg_strlcpy(s->local_tag, tag, sizeof(s->local_tag));
			s->local_cseq = 1;
		}
		fg_buf_free(&from);
		fg_buf_free(&fromh);
		fg_buf_free(&to);
	}
	if (err != FG_OK) {
		fg_buf_free(&req);
		return;
	}
	int64_t now = fg_now_ms();
	if (s->remote_tag[0] == '\0' && expires > 0) {
		/* no subscription yet: its end is what the initial SUBSCRIBE asks for */
		s->refreshed_ms = now;
		s->expires_ms = now + (int64_t)expires * 1000;
	}
	/* RFC 6665 §4.1.2.2: a refresh that fails leaves the subscription valid until the
	 * last known end, so expires_ms moves only with a 2xx or a NOTIFY. Until the answer
	 * the record waits (retry_at_ms as a watchdog), and Timer N runs until a NOTIFY
	 * (§4.1.2.4); an Expires 0 brings only a final NOTIFY, which nothing waits for */
	s->retry_at_ms = now + SIPGW_SUBSCRIBE_WATCHDOG_MS;
	s->notify_by_ms = expires > 0 ? now + SIPGW_TIMER_N_MS : 0;
	sub_save(gw, s);
	struct ctxn *ct = calloc(1, sizeof(*ct));
	if (ct != NULL) {
		ct->p = P_SUBSCRIBE;
		fg_strlcpy(ct->sub_id, s->id, sizeof(ct->sub_id));
		sipgw__ctxn_start(gw, d, ct, SIP_METHOD_SUBSCRIBE, &req);
	}
	fg_buf_free(&req);
}

/* NOTIFY to a SIP watcher of an XMPP user (RFC 6665 §4.2.2), with PIDF when p is set. */
static void notify_send(struct sipgw *gw, struct dom *d, struct db_subscription *s,
                        const char *state, const struct xlate_presence *p)
{
	struct sub_dialog sd;
	struct fg_buf req = {0}, pidf = {0};
	char sent_by[DB_DOMAIN_MAX + 8], branch[33], extra[400];
	const char *transport;
	if (!sub_dialog(s, &sd))
		return;
	sipgw__via_for(gw, d, sent_by, sizeof(sent_by), &transport);
	sipgw__token(branch, 16);
	char sub_state[96];
	if (strcmp(state, "terminated") == 0 || strncmp(state, "terminated;", 11) == 0) {
		fg_strlcpy(sub_state, state, sizeof(sub_state));
	} else {
		int64_t left = (s->expires_ms - fg_now_ms()) / 1000;
		sipgw__fmt(sub_state, sizeof(sub_state), "%s;expires=%lld", state,
		           (long long)(left > 0 ? left : 0));
	}
	sipgw__fmt(
	    extra, sizeof(extra),
	    "Event: presence\r\nSubscription-State: %s\r\nContact: <sip:%s;transport=%s>\r\n",
	    sub_state, sent_by, sipgw__domain_tls(&d->cf.rec) ? "tls" : "tcp");
	char lang[SIPGW_MAX_LANG + 1];
	if (p != NULL && p->lang != NULL &&
	    sipgw__lang_tag(p->lang, strlen(p->lang), lang, sizeof(lang))) {
		/* RFC 8048 §6.2 Table 1: xml:lang -> Content-Language */
		size_t l = strlen(extra);
		sipgw__fmt(extra + l, sizeof(extra) - l, "Content-Language: %s\r\n", lang);
	}
	if (p != NULL) {
		/* RFC 3863 §4.1.1: the entity is the presentity's pres: URL (RFC 8048 Example
		 * 19); the contact, when there is one, its SIP form */
		char sipform[DB_SUB_URI_MAX + 2], entity[DB_SUB_URI_MAX + 8];
		fg_strlcpy(sipform, sd.local_uri + 1, sizeof(sipform));
		sipform[strcspn(sipform, ">")] = '\0';
		sipgw__fmt(entity, sizeof(entity), "pres:%s",
		           strncmp(sipform, "sip:", 4) == 0 ? sipform + 4 : sipform);
		/* RFC 8048 §6.2 note 6: priority 0..127 as the tuple's contact priority; a
		 * negative one is not mapped (xlate_pidf_build leaves it out) */
		const char *contact = p->has_priority && p->available ? sipform : NULL;
		if (xlate_pidf_build(p, entity, contact, &pidf) != FG_OK)
			fg_buf_reset(&pidf);
	}
	if (sip_dialog_build_request(&sd.d, &req, "NOTIFY", transport, sent_by, branch, false,
	                             extra, pidf.len ? "application/pidf+xml" : NULL, pidf.data,
	                             pidf.len) == FG_OK) {
		s->local_cseq = sd.d.local_cseq;
		sub_save(gw, s);
		struct ctxn *ct = calloc(1, sizeof(*ct));
		if (ct != NULL) {
			ct->p = P_NOTIFY;
			fg_strlcpy(ct->sub_id, s->id, sizeof(ct->sub_id));
			sipgw__ctxn_start(gw, d, ct, SIP_METHOD_NOTIFY, &req);
		}
	}
	fg_buf_free(&req);
	fg_buf_free(&pidf);
}

/* The final NOTIFY of a fetch (RFC 6665 §4.4.3), with the PIDF when the state is known; the
 * record that waited for it goes. */
static void fetch_end(struct sipgw *gw, struct dom *d, struct db_subscription *s, const char *state,
                      const struct xlate_presence *p)
{
	notify_send(gw, d, s, state, p);
	sub_delete(gw, s->id);
}

/* The id of a fetch's record. A fetch is its own dialog (RFC 6665 §4.4.3), so its record
 * is never the pair's subscription, which it leaves alone. SIP watchers' fetches are ours to
 * answer; XMPP watchers' (a probe, RFC 8048 §7.1) are ours to send. */
static void fetch_id_dir(enum db_sub_direction dir, const char *watcher, const char *presentity,
                         char id[DB_ID_MAX])
{
	char key[DB_SUB_URI_MAX + 8];
	sipgw__fmt(key, sizeof(key), "fetch %s", presentity);
	sipgw__sub_id(dir, watcher, key, id);
}

static void fetch_id(const char *watcher, const char *pres_bare, char id[DB_ID_MAX])
{
	fetch_id_dir(DB_SUB_SIP_WATCHER, watcher, pres_bare, id);
}

/* Is this record of ours the fetch an XMPP probe made (not a subscription)? */
static bool is_xmpp_fetch(const struct db_subscription *s)
{
	char id[DB_ID_MAX];
	if (s->direction != DB_SUB_XMPP_WATCHER)
		return false;
	fetch_id_dir(DB_SUB_XMPP_WATCHER, s->watcher, s->presentity, id);
	return strcmp(id, s->id) == 0;
}

/* A SIP watcher's notification dialog ends (its SUBSCRIBE Expires 0, no refresh in time, or
 * a NOTIFY that failed): RFC 8048 §5.3.3, a NOTIFY terminated;reason=timeout with a PIDF
 * basic "closed" (when notify is set), and 'unavailable' from the SIP watcher to the XMPP
 * user. The XMPP authorization stays: never an unsubscribe (RFC 8048 §5.1, §5.3.3 Note). */
static void sip_watcher_end(struct sipgw *gw, struct dom *d, struct db_subscription *s, bool notify)
{
	struct xlate_presence closed = {.available = false};
	struct fg_buf wj = {0};
	if (notify)
		notify_send(gw, d, s, "terminated;reason=timeout", &closed);
	/* no more presence comes for it: what the pair learnt would go stale */
	sipgw__pres_cache_forget(gw->pres_cache, s->watcher, s->presentity);
	if (sub_sip_party_jid(d, s->watcher, &wj))
		send_presence(gw, SIPGW_PRES_UNAVAILABLE, fg_buf_cstr(&wj), s->presentity, NULL);
	fg_buf_free(&wj);
	sub_delete(gw, s->id);
	d->status_dirty = true;
}

/* Ours (XMPP watcher) tells the XMPP user about the SIP contact. */
static void to_xmpp_watcher(struct sipgw *gw, struct dom *d, const struct db_subscription *s,
                            enum sipgw_presence_type type, const struct xlate_presence *p)
{
	struct fg_buf pj = {0};
	if (sub_sip_party_jid(d, s->presentity, &pj))
		send_presence(gw, type, fg_buf_cstr(&pj), s->watcher, p);
	fg_buf_free(&pj);
}

/* Our subscription is over but a new one is allowed (RFC 6665 §4.1.2.2, §4.1.2.4, §4.1.3):
 * the XMPP user sees the contact unavailable (RFC 8048 §5.2.1: no state known), the dialog
 * is forgotten, and a new SUBSCRIBE with a fresh Call-ID and tag (§4.1.2.2) goes after
 * delay_ms (0: now). The XMPP authorization stays (RFC 8048 §5.2.2). */
static void xmpp_sub_lapse(struct sipgw *gw, struct dom *d, struct db_subscription *s,
                           int64_t delay_ms)
{
	if (s->state == DB_SUB_ACTIVE)
		to_xmpp_watcher(gw, d, s, SIPGW_PRES_UNAVAILABLE, NULL);
	s->state = DB_SUB_PENDING;
	s->remote_tag[0] = s->remote_target[0] = s->routes[0] = s->local_tag[0] = '\0';
	char r[33];
	sipgw__token(r, 16);
	sipgw__fmt(s->call_id, sizeof(s->call_id), "%s@%s", r, gw->set.fqdn);
	s->notify_by_ms = 0;
	if (s->retry_at_ms == SIPGW_SUB_DORMANT) {
		sub_save(gw, s); /* its XMPP user is offline: again when it is back */
		return;
	}
	if (delay_ms <= 0) {
		subscribe_send(gw, d, s, gw->set.subscription_expires_s);
		return;
	}
	s->retry_at_ms = fg_now_ms() + delay_ms;
	sub_save(gw, s);
}

/* Every subscription record, copied out of one read transaction. */
static enum fg_err subs_load(struct sipgw *gw, struct db_subscription **subs, size_t *n)
{
	struct db_txn *txn = NULL;
	enum fg_err err = db_txn_begin(gw->db, &txn);
	if (err != FG_OK)
		return err;
	err = db_subscription_list(txn, subs, n);
	db_txn_end(txn);
	return err;
}

/* RFC 8048 §8.1, §5.2.2: refreshes run only during the XMPP user's presence session. The
 * answer to the probe sent to the XMPP watcher's bare JID before each refresh (addressed to
 * the gateway's domain): 'unavailable' makes its subscriptions dormant (not refreshed; they
 * lapse at the notifier), 'available' wakes the dormant ones with a new SUBSCRIBE. */
static void watcher_online(struct sipgw *gw, struct dom *d, const char *watcher, bool online)
{
	struct db_subscription *subs = NULL;
	size_t n = 0;
	enum fg_err err = subs_load(gw, &subs, &n);
	for (size_t i = 0; err == FG_OK && i < n && i < SIPGW_MAX_SUBS; i++) {
		struct db_subscription *s = &subs[i];
		if (s->direction != DB_SUB_XMPP_WATCHER || s->state == DB_SUB_TERMINATED ||
		    strcmp(s->watcher, watcher) != 0 ||
		    strcmp(s->sip_domain, d->cf.rec.domain) != 0)
			continue;
		bool dormant = s->retry_at_ms == SIPGW_SUB_DORMANT;
		if (!online && !dormant) {
			s->retry_at_ms = SIPGW_SUB_DORMANT;
			s->notify_by_ms = 0;
			sub_save(gw, s);
		} else if (online && dormant) {
			subscribe_send(gw, d, s, gw->set.subscription_expires_s);
		}
	}
	free(subs);
}

/* A new record of an XMPP user watching a SIP user, in a dialog of its own (a fresh
 * Call-ID, RFC 3261 §8.1.1.4). */
static void xmpp_watcher_new(struct sipgw *gw, const struct dom *d, struct db_subscription *s,
                             const char *id, enum db_sub_state state, const char *watcher,
                             const char *presentity)
{
	memset(s, 0, sizeof(*s));
	fg_strlcpy(s->id, id, sizeof(s->id));
	fg_strlcpy(s->sip_domain, d->cf.rec.domain, sizeof(s->sip_domain));
	s->direction = DB_SUB_XMPP_WATCHER;
	s->state = state;
	fg_strlcpy(s->watcher, watcher, sizeof(s->watcher));
	fg_strlcpy(s->presentity, presentity, sizeof(s->presentity));
	char r[33];
	sipgw__token(r, 16);
	sipgw__fmt(s->call_id, sizeof(s->call_id), "%s@%s", r, gw->set.fqdn);
	s->created_ms = fg_now_ms();
}

/* RFC 8048 §7.1: an XMPP probe for a SIP user with no subscription of the pair becomes a
 * SUBSCRIBE Expires 0 in a new dialog; its NOTIFY's state goes back as presence. */
static void xmpp_fetch(struct sipgw *gw, struct dom *d, const char *watcher, const char *presentity)
{
	struct db_subscription f;
	char id[DB_ID_MAX];
	fetch_id_dir(DB_SUB_XMPP_WATCHER, watcher, presentity, id);
	if (sub_load(gw, id, &f))
		return; /* one fetch of the pair at a time */
	/* no subscription: only a final NOTIFY to come */
	xmpp_watcher_new(gw, d, &f, id, DB_SUB_TERMINATED, watcher, presentity);
	f.expires_ms = f.created_ms + SIPGW_FINAL_NOTIFY_WAIT_MS;
	subscribe_send(gw, d, &f, 0);
}

static void xmpp_subscribe(struct sipgw *gw, struct dom *d, const char *watcher,
                           const char *presentity)
{
	struct db_subscription s;
	char id[DB_ID_MAX];
	sipgw__sub_id(DB_SUB_XMPP_WATCHER, watcher, presentity, id);
	if (sub_load(gw, id, &s) && s.state != DB_SUB_TERMINATED) {
		/* the same subscription again (or after a restart): refresh, never duplicate */
		if (s.state == DB_SUB_ACTIVE) {
			struct fg_buf pj = {0};
			if (sub_sip_party_jid(d, s.presentity, &pj))
				send_presence(gw, SIPGW_PRES_SUBSCRIBED, fg_buf_cstr(&pj),
				              s.watcher, NULL);
			fg_buf_free(&pj);
		}
		subscribe_send(gw, d, &s, gw->set.subscription_expires_s);
		return;
	}
	if (gw->nsubs >= SIPGW_MAX_SUBS) {
		fg_log(FG_LOG_WARN, SIPGW_SUBSYS,
		       "subscription of %s to %s refused: %u subscriptions "
		       "stored already",
		       watcher, presentity, SIPGW_MAX_SUBS);
		return;
	}
	gw->nsubs++;
	xmpp_watcher_new(gw, d, &s, id, DB_SUB_PENDING, watcher, presentity);
	subscribe_send(gw, d, &s, gw->set.subscription_expires_s);
	d->status_dirty = true;
}

void sipgw__presence_xmpp_in(struct sipgw *gw, struct dom *d, const struct xmpp_node *n)
{
	enum sipgw_presence_type type;
	struct xlate_presence p;
	struct fg_buf sip_user = {0};
	const char *from = xmpp_node_attr(n, "from"), *to = xmpp_node_attr(n, "to");
	struct sipgw_jid fj, tj;
	if (from == NULL || to == NULL || !sipgw__jid_split(from, &fj) ||
	    !sipgw__jid_split(to, &tj) || sipgw_presence_read(n, &type, &p) != FG_OK)
		return;
	char watcher_bare[SIPGW_MAX_JID + 1];
	sipgw__fmt(watcher_bare, sizeof(watcher_bare), "%s%s%s", fj.local, fj.local[0] ? "@" : "",
	           fj.domain);
	if (tj.local[0] == '\0') {
		/* to the gateway's domain: an answer to our RFC 8048 §8.1 probe */
		if (fj.local[0] != '\0' &&
		    (type == SIPGW_PRES_AVAILABLE || type == SIPGW_PRES_UNAVAILABLE))
			watcher_online(gw, d, watcher_bare, type == SIPGW_PRES_AVAILABLE);
		goto out;
	}
	if (sipgw__sip_uri_for_local(tj.local, d->cf.rec.domain, &sip_user, NULL) != FG_OK)
		goto out;
	const char *su = fg_buf_cstr(&sip_user);
	struct db_subscription s;
	char id[DB_ID_MAX];
	switch (type) {
	case SIPGW_PRES_SUBSCRIBE:
		/* RFC 8048 §5.2.1: an XMPP user subscribes to a SIP user */
		xmpp_subscribe(gw, d, watcher_bare, su);
		break;
	case SIPGW_PRES_UNSUBSCRIBE:
		sipgw__sub_id(DB_SUB_XMPP_WATCHER, watcher_bare, su, id);
		if (sub_load(gw, id, &s) && s.state != DB_SUB_TERMINATED) {
			/* RFC 8048 §5.2.3: SUBSCRIBE Expires 0, and 'unsubscribed' to the user once
			 * it has its 2xx. RFC 6665 §4.1.2.3, §4.4.1: the subscription lasts until
			 * the final NOTIFY, so the record waits for it (terminated) to answer it
			 * 200 rather than 481, and goes after SIPGW_FINAL_NOTIFY_WAIT_MS */
			bool dialog = s.remote_tag[0] != '\0';
			s.state = DB_SUB_TERMINATED;
			s.retry_at_ms = s.notify_by_ms = 0;
			s.expires_ms = fg_now_ms() + SIPGW_FINAL_NOTIFY_WAIT_MS;
			if (dialog) {
				subscribe_send(gw, d, &s, 0);
			} else {
				/* no dialog to end yet: the user is told now; should the initial
				 * SUBSCRIBE still get its 2xx, an Expires 0 follows it */
				to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNSUBSCRIBED, NULL);
				sub_save(gw, &s);
			}
			d->status_dirty = true;
		}
		break;
	case SIPGW_PRES_PROBE:
		sipgw__sub_id(DB_SUB_XMPP_WATCHER, watcher_bare, su, id);
		if (!sub_load(gw, id, &s) || s.state == DB_SUB_TERMINATED) {
			xmpp_fetch(gw, d, watcher_bare, su); /* RFC 8048 §7.1 */
			break;
		}
		/* the XMPP user's server probes at login (RFC 6121 §4.2.2): RFC 8048 §5.2.2, a
		 * new SUBSCRIBE. Inside a live subscription it is a fetch with Expires = the
		 * seconds left (RFC 6665 §4.4.3); otherwise (dormant, lapsed, waiting for a
		 * retry) a new subscription now */
		long left = (long)((s.expires_ms - fg_now_ms()) / 1000);
		if (s.remote_tag[0] != '\0' && s.retry_at_ms == 0 && left > 0)
			subscribe_send(gw, d, &s, left);
		else
			subscribe_send(gw, d, &s, gw->set.subscription_expires_s);
		break;
	case SIPGW_PRES_SUBSCRIBED:
	case SIPGW_PRES_UNSUBSCRIBED:
	case SIPGW_PRES_AVAILABLE:
	case SIPGW_PRES_UNAVAILABLE:
		/* a fetch waiting for the state (RFC 6665 §4.4.3): the answer to its probe ends
		 * it with the PIDF; a refusal ends it without */
		fetch_id(su, watcher_bare, id);
		if (sub_load(gw, id, &s) && s.state == DB_SUB_TERMINATED) {
			if (type == SIPGW_PRES_AVAILABLE || type == SIPGW_PRES_UNAVAILABLE)
				fetch_end(gw, d, &s, "terminated;reason=timeout", &p);
			else if (type == SIPGW_PRES_UNSUBSCRIBED)
				fetch_end(gw, d, &s, "terminated;reason=rejected", NULL);
		}
		/* the XMPP user answers or informs a SIP watcher (RFC 8048 §5.3.1, §6.2) */
		sipgw__sub_id(DB_SUB_SIP_WATCHER, su, watcher_bare, id);
		if (!sub_load(gw, id, &s) || s.state == DB_SUB_TERMINATED)
			break;
		if (type == SIPGW_PRES_SUBSCRIBED) {
			s.state = DB_SUB_ACTIVE;
			notify_send(gw, d, &s, "active", NULL);
		} else if (type == SIPGW_PRES_UNSUBSCRIBED) {
			notify_send(gw, d, &s, "terminated;reason=rejected", NULL);
			sub_delete(gw, id);
			sipgw__pres_cache_forget(gw->pres_cache, su, watcher_bare);
			d->status_dirty = true;
		} else if (s.state == DB_SUB_ACTIVE) {
			notify_send(gw, d, &s, "active", &p);
			/* RFC 6665 §4.4.3: the state a later fetch of this watcher gets at once */
			if (gw->pres_cache == NULL)
				gw->pres_cache = sipgw__pres_cache_new();
			sipgw__pres_cache_put(gw->pres_cache, su, watcher_bare, &p);
		}
		break;
	case SIPGW_PRES_ERROR:
		break;
	}
out:
	xlate_presence_clear(&p);
	fg_buf_free(&sip_user);
}

/* SUBSCRIBE from the edge: a SIP user watches an XMPP user (RFC 8048 §5.3.1). */
static void subscribe_in(struct sipgw *gw, struct dom *d, struct stxn *st)
{
	const struct sip_msg *m = st->req;
	struct fg_buf presentity = {0}, watcher_uri = {0}, watcher_jid = {0};
	const struct sip_header *ev = sipgw__hdr(m, "Event");
	if (ev == NULL || strncasecmp(ev->value.p, "presence", 8) != 0 ||
	    (ev->value.len > 8 && ev->value.p[8] != ';' && ev->value.p[8] != ' ')) {
		sipgw__respond(st, 489, "Allow-Events: presence\r\n", NULL, NULL,
		               0); /* RFC 6665 §4.2.1.1 */
		return;
	}
	/* RFC 6665 §3.1.1, RFC 3856 §6.4: no Expires means the package default (3600 s); the
	 * notifier may shorten (§4.2.1.1), never lengthen */
	long expires = sipgw_granted_expires(header_expires(m, -1), gw->set.subscription_expires_s);
	struct db_subscription s;
	bool in_dialog = m->to.tag.p != NULL;
	if (in_dialog) {
		/* the Request-URI is our Contact (RFC 3261 §12.2.1.1): the dialog says who */
		if (!sub_find_dialog(gw, DB_SUB_SIP_WATCHER, m->call_id.p, m->to.tag.p, &s) ||
		    s.state == DB_SUB_TERMINATED /* a fetch's dialog, ending */) {
			sipgw__respond(st, 481, NULL, NULL, NULL, 0);
			goto out;
		}
		(void)fg_buf_append_str(&presentity, s.presentity);
	}
	if (m->ruri.scheme == SIP_SCHEME_OTHER || m->from.uri.user.p == NULL ||
	    (!in_dialog && sipgw__jid_from_sip(m->ruri.text.p, m->ruri.text.len, NULL, &presentity,
	                                       NULL) != FG_OK) ||
	    sipgw__sip_uri_canonical(m->from.uri.text.p, m->from.uri.text.len, &watcher_uri,
	                             NULL) != FG_OK ||
	    !sub_sip_party_jid(d, fg_buf_cstr(&watcher_uri), &watcher_jid)) {
		sipgw__respond(st, 404, NULL, NULL, NULL, 0);
		goto out;
	}
	struct sipgw_jid pj;
	if (!sipgw__jid_split(fg_buf_cstr(&presentity), &pj) || pj.local[0] == '\0') {
		sipgw__respond(st, 404, NULL, NULL, NULL, 0);
		goto out;
	}
	char pres_bare[SIPGW_MAX_JID + 1], id[DB_ID_MAX], extra[200];
	sipgw__fmt(pres_bare, sizeof(pres_bare), "%s@%s", pj.local, pj.domain);
	sipgw__sub_id(DB_SUB_SIP_WATCHER, fg_buf_cstr(&watcher_uri), pres_bare, id);
	bool exists = in_dialog || (sub_load(gw, id, &s) && s.state != DB_SUB_TERMINATED);
	if (in_dialog) {
		/* refresh or end of an existing subscription (RFC 6665 §4.2.1.1, §4.2.1.4) */
		if (strcmp(s.id, id) != 0) {
			sipgw__respond(st, 481, NULL, NULL, NULL, 0); /* another watcher's dialog */
			goto out;
		}
		s.remote_cseq = m->cseq;
		sipgw__fmt(extra, sizeof(extra), "Expires: %ld\r\n", expires);
		sipgw__respond(st, 200, extra, NULL, NULL, 0);
		if (expires == 0) {
			/* RFC 8048 §5.3.3: the end of the notification dialog, not of the
			 * authorization: NOTIFY with PIDF closed, and 'unavailable' */
			sip_watcher_end(gw, d, &s, true);
			goto out;
		}
		s.refreshed_ms = fg_now_ms();
		s.expires_ms = s.refreshed_ms + (int64_t)expires * 1000;
		notify_send(gw, d, &s, s.state == DB_SUB_ACTIVE ? "active" : "pending", NULL);
		if (s.state == DB_SUB_ACTIVE) /* the current state for the NOTIFY to come */
			send_presence(gw, SIPGW_PRES_PROBE, fg_buf_cstr(&watcher_jid), pres_bare,
			              NULL);
		goto out;
	}
	struct sip_dialog *dlg = NULL;
	if (sip_dialog_new_uas(m, st->to_tag, &dlg) != FG_OK) {
		sipgw__respond(st, 500, NULL, NULL, NULL, 0);
		goto out;
	}
	if (expires == 0) {
		/* a fetch (RFC 6665 §4.4.3, RFC 8048 §7.2): its own dialog, a probe on the XMPP
		 * side whose answer the final NOTIFY carries. A subscription of the same pair
		 * in another dialog is left alone: it is not this dialog's to end */
		struct fg_buf hdrs = {0};
		(void)fg_buf_append_str(&hdrs, "Expires: 0\r\n");
		sipgw__copy_record_route(m, &hdrs);
		sipgw__respond(st, 200, fg_buf_cstr(&hdrs), NULL, NULL, 0);
		fg_buf_free(&hdrs);
		struct db_subscription f = {.direction = DB_SUB_SIP_WATCHER};
		fetch_id(fg_buf_cstr(&watcher_uri), pres_bare, f.id);
		struct db_subscription earlier;
		if (sub_load(gw, f.id, &earlier)) /* an earlier fetch still waits: it ends now */
			fetch_end(gw, d, &earlier, "terminated;reason=timeout", NULL);
		fg_strlcpy(f.sip_domain, d->cf.rec.domain, sizeof(f.sip_domain));
		fg_strlcpy(f.watcher, fg_buf_cstr(&watcher_uri), sizeof(f.watcher));
		fg_strlcpy(f.presentity, pres_bare, sizeof(f.presentity));
		fg_strlcpy(f.call_id, m->call_id.p, sizeof(f.call_id));
		fg_strlcpy(f.local_tag, st->to_tag, sizeof(f.local_tag));
		sub_take_dialog(&f, dlg);
		sip_dialog_free(dlg);
		/* a fetch: its NOTIFY carries the current state (RFC 6665 §4.4.3). The last
		 * presence this watcher's active subscription brought answers it at once;
		 * without one the record waits as "terminated" (no subscription) for the
		 * answer to a probe, at most SIPGW_FETCH_WAIT_MS, and without an answer the
		 * NOTIFY has no body (RFC 8048 §5.3.2, §7.2) */
		f.state = DB_SUB_TERMINATED;
		f.remote_cseq = m->cseq;
		f.created_ms = f.refreshed_ms = fg_now_ms();
		f.expires_ms = f.refreshed_ms + SIPGW_FETCH_WAIT_MS;
		struct xlate_presence known;
		if (sipgw__pres_cache_get(gw->pres_cache, f.watcher, pres_bare, &known)) {
			fetch_end(gw, d, &f, "terminated;reason=timeout", &known);
			xlate_presence_clear(&known);
			goto out;
		}
		sub_save(gw, &f);
		send_presence(gw, SIPGW_PRES_PROBE, fg_buf_cstr(&watcher_jid), pres_bare, NULL);
		goto out;
	}
	if (!exists && gw->nsubs >= SIPGW_MAX_SUBS) {
		sip_dialog_free(dlg);
		sipgw__respond(st, 503, "Retry-After: 3600\r\n", NULL, NULL, 0);
		goto out;
	}
	if (!exists) {
		gw->nsubs++;
		memset(&s, 0, sizeof(s));
		fg_strlcpy(s.id, id, sizeof(s.id));
		s.direction = DB_SUB_SIP_WATCHER;
		s.state = DB_SUB_PENDING;
		s.created_ms = fg_now_ms();
		fg_strlcpy(s.watcher, fg_buf_cstr(&watcher_uri), sizeof(s.watcher));
		fg_strlcpy(s.presentity, pres_bare, sizeof(s.presentity));
	}
	/* a new dialog replaces the old one of the same pair: one subscription, not two */
	fg_strlcpy(s.sip_domain, d->cf.rec.domain, sizeof(s.sip_domain));
	fg_strlcpy(s.call_id, m->call_id.p, sizeof(s.call_id));
	fg_strlcpy(s.local_tag, st->to_tag, sizeof(s.local_tag));
	sub_take_dialog(&s, dlg);
	sip_dialog_free(dlg);
	s.local_cseq = 0;
	s.remote_cseq = m->cseq;
	s.refreshed_ms = fg_now_ms();
	s.expires_ms = s.refreshed_ms + (int64_t)expires * 1000;
	sub_save(gw, &s);
	bool tls = sipgw__domain_tls(&d->cf.rec);
	struct fg_buf hdrs = {0};
	(void)fg_buf_printf(&hdrs, "Expires: %ld\r\nContact: <sip:%s:%u;transport=%s>\r\n", expires,
	                    gw->set.fqdn, (unsigned)(tls ? gw->set.tls_port : gw->set.tcp_port),
	                    tls ? "tls" : "tcp");
	sipgw__copy_record_route(m, &hdrs);
	sipgw__respond(st, 200, fg_buf_cstr(&hdrs), NULL, NULL, 0); /* RFC 6665 §8.3.1: no 202 */
	fg_buf_free(&hdrs);
	/* RFC 6665 §4.2.1.2: a NOTIFY at once, pending until the XMPP user answers */
	notify_send(gw, d, &s, s.state == DB_SUB_ACTIVE ? "active" : "pending", NULL);
	/* RFC 8048 §5.3.1: ask for the subscription; once it is approved the XMPP server sends
	 * the current presence itself (RFC 6121 §3.1.5). A probe before approval would only
	 * earn an "unsubscribed" (RFC 6121 §4.3.2), so it is sent for approved ones only. */
	send_presence(gw, s.state == DB_SUB_ACTIVE ? SIPGW_PRES_PROBE : SIPGW_PRES_SUBSCRIBE,
	              fg_buf_cstr(&watcher_jid), pres_bare, NULL);
	d->status_dirty = true;
out:
	fg_buf_free(&presentity);
	fg_buf_free(&watcher_uri);
	fg_buf_free(&watcher_jid);
}

/* NOTIFY from the edge for an XMPP watcher's subscription (RFC 8048 §5.2.1, §6.3). */
static bool expires0_unanswered(struct sipgw *gw, const char *sub_id);

static void notify_in(struct sipgw *gw, struct dom *d, struct stxn *st)
{
	const struct sip_msg *m = st->req;
	struct db_subscription s;
	const struct sip_header *ev = sipgw__hdr(m, "Event");
	const struct sip_header *ss = sipgw__hdr(m, "Subscription-State");
	/* RFC 6665 §4.1.3: only the presence package is ours (489), and a NOTIFY MUST carry
	 * Subscription-State: without one it is malformed (400) */
	if (ev == NULL || strncasecmp(ev->value.p, "presence", 8) != 0 ||
	    (ev->value.len > 8 && ev->value.p[8] != ';' && ev->value.p[8] != ' ')) {
		sipgw__respond(st, 489, "Allow-Events: presence\r\n", NULL, NULL, 0);
		return;
	}
	if (ss == NULL || ss->value.len == 0) {
		sipgw__respond(st, 400, NULL, NULL, NULL, 0);
		return;
	}
	if (!sub_find_dialog(gw, DB_SUB_XMPP_WATCHER, m->call_id.p, m->to.tag.p, &s)) {
		sipgw__respond(st, 481, NULL, NULL, NULL, 0);
		return;
	}
	sipgw__respond(st, 200, NULL, NULL, NULL, 0);
	const char *state = ss->value.p;
	bool terminated = strncasecmp(state, "terminated", 10) == 0;
	bool had_dialog = s.remote_tag[0] != '\0';
	/* RFC 6665 §4.4.1 (a NOTIFY may create the dialog usage), §4.1.2.4 (it may come
	 * before the 2xx) */
	if (!had_dialog && m->from.tag.p != NULL)
		fg_strlcpy(s.remote_tag, m->from.tag.p, sizeof(s.remote_tag));
	if (s.remote_target[0] == '\0') {
		const struct sip_header *ch = sipgw__hdr(m, "Contact");
		struct sip_addr a;
		struct sip_error e;
		if (ch != NULL && sip_msg_parse_addr((struct sip_msg *)m, ch, &a, &e) == FG_OK)
			fg_strlcpy(s.remote_target, a.uri.text.p, sizeof(s.remote_target));
	}
	s.remote_cseq = m->cseq;
	if (s.state == DB_SUB_TERMINATED && is_xmpp_fetch(&s)) {
		/* our fetch for an XMPP probe (RFC 8048 §7.1): its state goes back as presence
		 * unless the notifier refuses (RFC 8048 §5.2.1: nothing while pending) */
		enum xlate_sub fs;
		bool refused = xlate_sub_from_sip("NOTIFY", -1, state, true, &fs) &&
		               fs == XLATE_SUB_UNSUBSCRIBED;
		bool pending = strncasecmp(state, "pending", 7) == 0;
		if (!refused && !pending && m->body_len > 0 && m->content_type.p != NULL &&
		    strncasecmp(m->content_type.p, "application/pidf+xml", 20) == 0) {
			struct xlate_presence p;
			if (xlate_pidf_parse(m->body, m->body_len, &p, NULL) == FG_OK)
				to_xmpp_watcher(gw, d, &s, SIPGW_PRES_AVAILABLE, &p);
			xlate_presence_clear(&p);
		}
		if (terminated)
			sub_delete(gw, s.id);
		else
			sub_save(gw, &s);
		return;
	}
	if (s.state == DB_SUB_TERMINATED) {
		/* the XMPP user unsubscribed: this is the final NOTIFY (RFC 6665 §4.1.2.3), or
		 * one that came before we could send the Expires 0 */
		if (terminated) {
			/* The edge may send it before the 2xx to our Expires 0 reaches us (two
			 * transactions, no order between them): the subscription is over either
			 * way, so 'unsubscribed' (RFC 8048 §5.2.3) goes now, and the late 2xx
			 * finds no record */
			if (!is_xmpp_fetch(&s) && expires0_unanswered(gw, s.id))
				to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNSUBSCRIBED, NULL);
			sub_delete(gw, s.id);
		} else if (!had_dialog && s.remote_tag[0] != '\0')
			subscribe_send(gw, d, &s, 0);
		else
			sub_save(gw, &s);
		return;
	}
	s.notify_by_ms = 0; /* Timer N is satisfied (RFC 6665 §4.1.2.4) */
	enum xlate_sub sub;
	bool mapped = xlate_sub_from_sip("NOTIFY", -1, state, true, &sub);
	bool active = mapped && sub == XLATE_SUB_SUBSCRIBED;
	if (active && s.state != DB_SUB_ACTIVE) {
		s.state = DB_SUB_ACTIVE;
		s.failures = 0; /* it works: the next failure starts the backoff afresh */
		to_xmpp_watcher(gw, d, &s, SIPGW_PRES_SUBSCRIBED, NULL);
	}
	const char *exp = strstr(state, "expires=");
	uint64_t left;
	char num[16];
	if (exp != NULL && !terminated) {
		/* RFC 6665 §4.1.3: the authoritative duration; the next refresh is reckoned
		 * from now */
		fg_strlcpy(num, exp + 8, sizeof(num));
		num[strcspn(num, "; \t")] = '\0';
		if (fg_parse_u64(num, 0, 0xffffffffu, &left)) {
			s.refreshed_ms = fg_now_ms();
			s.expires_ms = s.refreshed_ms + (int64_t)left * 1000;
		}
	}
	/* RFC 8048 §5.2.1: a pending NOTIFY is answered but no presence goes to the XMPP
	 * user; only an active subscription's state is forwarded */
	if (active && m->body_len > 0 && m->content_type.p != NULL &&
	    strncasecmp(m->content_type.p, "application/pidf+xml", 20) == 0) {
		struct xlate_presence p;
		const char *why = NULL;
		const struct sip_header *cl = sipgw__hdr(m, "Content-Language");
		char lang[SIPGW_MAX_LANG + 1];
		if (xlate_pidf_parse(m->body, m->body_len, &p, &why) == FG_OK) {
			/* RFC 8048 §6.3 Table 2: Content-Language -> xml:lang */
			if (cl != NULL &&
			    sipgw__lang_tag(cl->value.p, cl->value.len, lang, sizeof(lang)))
				p.lang = strdup(lang);
			to_xmpp_watcher(gw, d, &s, SIPGW_PRES_AVAILABLE, &p);
		} else
			fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "PIDF from %s refused: %s", s.presentity,
			       why ? why : "malformed");
		xlate_presence_clear(&p);
	} else if (active && m->body_len == 0) {
		/* RFC 8048 §5.2.1: an active NOTIFY without a body carries no state, which the
		 * gateway "would interpret ... as unknown or 'closed'": the XMPP user must not
		 * keep showing the contact's last presence (after 'subscribed' on the first) */
		to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNAVAILABLE, NULL);
	}
	if (!terminated) {
		sub_save(gw, &s);
		return;
	}
	d->status_dirty = true;
	if (mapped && sub == XLATE_SUB_UNSUBSCRIBED) {
		/* rejected, noresource, invariant: no new subscription (RFC 6665 §4.1.3) */
		to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNAVAILABLE, NULL);
		to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNSUBSCRIBED, NULL);
		sub_delete(gw, s.id);
		return;
	}
	/* RFC 6665 §4.1.3: any other reason, an unknown one or none lets us subscribe again,
	 * not before retry-after when given; probation asks for "some later time". A
	 * notifier that ends every new subscription at once meets the backoff */
	long retry_after = xlate_sub_retry_after(state);
	int64_t delay = 0;
	if (retry_after >= 0)
		delay = (int64_t)retry_after * 1000;
	else if (strstr(state, "probation") != NULL || s.failures > 0)
		delay = sipgw_subscribe_backoff_ms((unsigned)s.failures + 1);
	s.failures++;
	if (s.state != DB_SUB_ACTIVE)
		to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNAVAILABLE, NULL);
	xmpp_sub_lapse(gw, d, &s, delay);
}

void sipgw__presence_sip_in(struct sipgw *gw, struct stxn *st)
{
	struct dom *d = sipgw__sender_domain(gw, st->req);
	if (d == NULL || !sipgw__conn_speaks_for(st->c, d)) {
		sipgw__respond(st, 403, NULL, NULL, NULL, 0);
		return;
	}
	if (st->req->method_id == SIP_METHOD_SUBSCRIBE)
		subscribe_in(gw, d, st);
	else
		notify_in(gw, d, st);
}

/* The Expires of the request a client transaction sent (-1: none or unreadable). */
static long ctxn_req_expires(const struct ctxn *ct)
{
	struct sip_msg *req = NULL;
	long v = -1;
	if (ct->req != NULL &&
	    sip_msg_parse(ct->req, ct->req_len, SIP_PARSE_STREAM, &req, NULL, NULL) == FG_OK)
		v = header_expires(req, -1);
	sip_msg_free(req);
	return v;
}

/* Is an Expires 0 SUBSCRIBE of this record still waiting for its final answer? */
static bool expires0_unanswered(struct sipgw *gw, const char *sub_id)
{
	for (const struct ctxn *ct = gw->ctxns; ct != NULL; ct = ct->next) {
		if (!ct->dead && ct->p == P_SUBSCRIBE && strcmp(ct->sub_id, sub_id) == 0 &&
		    ctxn_req_expires(ct) == 0)
			return true;
	}
	return false;
}

/* Was the request of this transaction sent in the record's current dialog? A late answer to
 * a request of a dialog the record has since replaced (a new subscription of the pair, a
 * fresh dialog after a failure) says nothing about the current one. */
static bool ctxn_in_dialog_of(const struct ctxn *ct, const struct db_subscription *s)
{
	struct sip_msg *req = NULL;
	bool same = true; /* unreadable: as before, take it */
	if (ct->req != NULL &&
	    sip_msg_parse(ct->req, ct->req_len, SIP_PARSE_STREAM, &req, NULL, NULL) == FG_OK &&
	    req->call_id.p != NULL)
		same = strcmp(req->call_id.p, s->call_id) == 0;
	sip_msg_free(req);
	return same;
}

/* Our SUBSCRIBE got a 2xx: the dialog it made, the period granted. */
static void subscribe_ok(struct sipgw *gw, struct dom *d, struct ctxn *ct,
                         struct db_subscription *s, const struct sip_msg *rsp)
{
	bool had_dialog = s->remote_tag[0] != '\0';
	if (!had_dialog && rsp != NULL) {
		struct sip_msg *req = NULL;
		struct sip_dialog *dlg = NULL;
		if (ct->req != NULL &&
		    sip_msg_parse(ct->req, ct->req_len, SIP_PARSE_STREAM, &req, NULL, NULL) ==
		        FG_OK &&
		    sip_dialog_new_uac(req, rsp, &dlg) == FG_OK)
			sub_take_dialog(s, dlg);
		sip_dialog_free(dlg);
		sip_msg_free(req);
	}
	if (s->state == DB_SUB_TERMINATED && is_xmpp_fetch(s)) {
		sub_save(gw, s); /* the fetch waits for its NOTIFY */
		return;
	}
	if (s->state == DB_SUB_TERMINATED) {
		if (ctxn_req_expires(ct) == 0) {
			/* RFC 8048 §5.2.3 (F20, F21): the 2xx to the Expires 0 */
			to_xmpp_watcher(gw, d, s, SIPGW_PRES_UNSUBSCRIBED, NULL);
			sub_save(gw, s); /* still waits for the final NOTIFY */
		} else if (!had_dialog && s->remote_tag[0] != '\0') {
			/* the initial SUBSCRIBE's 2xx after the user unsubscribed: end it now */
			subscribe_send(gw, d, s, 0);
		}
		return;
	}
	long exp = rsp != NULL ? header_expires(rsp, -1) : -1;
	if (exp < 0) /* RFC 6665 §3.1.1 wants it in the 2xx; without one, what we asked for */
		exp = ctxn_req_expires(ct);
	if (exp > 0) {
		s->refreshed_ms = fg_now_ms();
		s->expires_ms = s->refreshed_ms + (int64_t)exp * 1000;
	}
	s->retry_at_ms = 0;
	sub_save(gw, s);
}

/* Answers to our SUBSCRIBE and NOTIFY requests. */
void sipgw__presence_ctxn_done(struct sipgw *gw, struct ctxn *ct, enum purpose p, unsigned status,
                               const struct sip_msg *rsp)
{
	struct db_subscription s;
	struct dom *d = sipgw__dom_find(gw, ct->domain);
	if (d == NULL || !sub_load(gw, ct->sub_id, &s) || !ctxn_in_dialog_of(ct, &s))
		return;
	if (p == P_NOTIFY) {
		/* RFC 6665 §4.2.2: these end the SIP watcher's subscription; RFC 8048 §5.3.3:
		 * the XMPP user sees it 'unavailable', the authorization stays */
		if (s.direction == DB_SUB_SIP_WATCHER && s.state != DB_SUB_TERMINATED &&
		    sipgw_notify_failure_ends(status))
			sip_watcher_end(gw, d, &s, false);
		return;
	}
	if (status >= 200 && status < 300) {
		subscribe_ok(gw, d, ct, &s, rsp);
		return;
	}
	if (status >= 100 && status < 200)
		return;
	if (s.state == DB_SUB_TERMINATED && is_xmpp_fetch(&s)) {
		sub_delete(gw, s.id); /* a failed fetch: no state to give */
		return;
	}
	if (s.state == DB_SUB_TERMINATED) {
		/* the Expires 0 failed: the dialog is gone or going all the same (RFC 6665
		 * §4.1.2.2), and the user asked for it */
		if (ctxn_req_expires(ct) == 0) {
			to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNSUBSCRIBED, NULL);
			sub_delete(gw, s.id);
		}
		return;
	}
	bool refresh = s.remote_tag[0] != '\0';
	s.failures++;
	switch (sipgw_subscribe_failure_action(status, refresh)) {
	case SIPGW_SUBFAIL_CANCEL:
		/* RFC 8048 §5.2.2: the authorization is permanently cancelled; tell the user */
		fg_log(FG_LOG_INFO, SIPGW_SUBSYS, "SUBSCRIBE from %s to %s refused (%u)", s.watcher,
		       s.presentity, status);
		if (s.state == DB_SUB_ACTIVE)
			to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNAVAILABLE, NULL);
		to_xmpp_watcher(gw, d, &s, SIPGW_PRES_UNSUBSCRIBED, NULL);
		sub_delete(gw, s.id);
		d->status_dirty = true;
		return;
	case SIPGW_SUBFAIL_INTERVAL: {
		/* RFC 6665 §4.2.1.1, RFC 3261 §21.4.17: again with the Min-Expires asked
		 * for, once; a notifier that still refuses meets the backoff */
		long min = -1;
		const struct sip_header *h = rsp != NULL ? sipgw__hdr(rsp, "Min-Expires") : NULL;
		uint64_t v;
		if (h != NULL && fg_parse_u64(h->value.p, 1, 86400, &v))
			min = (long)v;
		if (min > 0 && s.failures <= 1) {
			subscribe_send(gw, d, &s, min);
			return;
		}
		break;
	}
	case SIPGW_SUBFAIL_NEW_DIALOG:
		/* RFC 6665 §4.1.2.2: the subscription is over; a new one, later */
		xmpp_sub_lapse(gw, d, &s, sipgw_subscribe_backoff_ms((unsigned)s.failures));
		return;
	case SIPGW_SUBFAIL_RETRY:
		break;
	}
	/* transient (RFC 8048 §5.2.2): the subscription, if any, stays valid until its known
	 * end (RFC 6665 §4.1.2.2); the next try after the backoff */
	fg_log(FG_LOG_DEBUG, SIPGW_SUBSYS, "SUBSCRIBE from %s to %s failed (%u): again later",
	       s.watcher, s.presentity, status);
	s.retry_at_ms = fg_now_ms() + sipgw_subscribe_backoff_ms((unsigned)s.failures);
	s.notify_by_ms = 0;
	sub_save(gw, &s);
}

enum sipgw_sub_action sipgw__sub_due(const struct db_subscription *s, int64_t now_ms,
                                     int64_t *due_ms)
{
	if (s->state == DB_SUB_TERMINATED && s->direction == DB_SUB_SIP_WATCHER) {
		/* a fetch waiting for the state: its NOTIFY goes without it at the end */
		*due_ms = s->expires_ms;
		return now_ms >= *due_ms ? SIPGW_SUB_FETCH_END : SIPGW_SUB_WAIT;
	}
	if (s->state == DB_SUB_TERMINATED) {
		/* unsubscribed: the final NOTIFY had its time (RFC 6665 §4.1.2.3) */
		*due_ms = s->expires_ms;
		return now_ms >= *due_ms ? SIPGW_SUB_DROP : SIPGW_SUB_WAIT;
	}
	if (s->direction == DB_SUB_SIP_WATCHER) {
		/* §4.2.1.4: not refreshed in time, it ends (just after its last moment) */
		*due_ms = s->expires_ms + 1;
		return now_ms >= *due_ms ? SIPGW_SUB_EXPIRE : SIPGW_SUB_WAIT;
	}
	if (s->retry_at_ms > 0) {
		/* a SUBSCRIBE waits for its answer, or the next try after a failure */
		*due_ms = s->retry_at_ms;
		return now_ms >= *due_ms ? SIPGW_SUB_RETRY : SIPGW_SUB_WAIT;
	}
	if (s->notify_by_ms > 0 && now_ms >= s->notify_by_ms) {
		*due_ms = s->notify_by_ms;
		return SIPGW_SUB_NO_NOTIFY;
	}
	int64_t timer_n = s->notify_by_ms > 0 ? s->notify_by_ms : INT64_MAX;
	if (s->remote_tag[0] == '\0') {
		/* answered but no dialog (a 2xx without a tag, or a record from before a
		 * restart): a new SUBSCRIBE once past its end */
		*due_ms = s->expires_ms + 1 < timer_n ? s->expires_ms + 1 : timer_n;
		return now_ms >= s->expires_ms + 1 ? SIPGW_SUB_RETRY : SIPGW_SUB_WAIT;
	}
	long period = (long)((s->expires_ms - s->refreshed_ms) / 1000);
	/* a grant with no length left would be refreshed every tick: every scan at most */
	int64_t at = period > 0 ? sipgw_refresh_at(s->refreshed_ms, period)
	                        : s->refreshed_ms + SIPGW_SUB_SCAN_MS;
	*due_ms = at < timer_n ? at : timer_n;
	return now_ms >= at ? SIPGW_SUB_REFRESH : SIPGW_SUB_WAIT;
}
bool sipgw__presence_scan_due(int64_t now_ms, int64_t due_ms, int64_t last_scan_ms)
{
	return due_ms == 0 || now_ms >= due_ms || now_ms - last_scan_ms >= SIPGW_SUB_SCAN_MS ||
	       now_ms < last_scan_ms; /* the wall clock went back */
}

/* Every tick: refresh our subscriptions at their due time (RFC 6665 §4.1.2.2), try failed ones
 * again, and end the SIP watchers' ones that were not refreshed in time (§4.2.1.4). The store is
 * read only when something is due, or every SIPGW_SUB_SCAN_MS to count them. */
void sipgw__presence_tick(struct sipgw *gw)
{
	int64_t now = fg_now_ms();
	if (!sipgw__presence_scan_due(now, gw->presence_due_ms, gw->presence_scan_ms))
		return;
	struct db_subscription *subs = NULL;
	size_t n = 0;
	enum fg_err err = subs_load(gw, &subs, &n);
	if (err != FG_OK)
		return;
	gw->presence_scan_ms = now;
	/* sub_save lowers it for what the actions below store */
	gw->presence_due_ms = INT64_MAX;
	int64_t next = INT64_MAX;
	gw->nsubs = n;
	for (size_t i = 0; i < n && i < SIPGW_MAX_SUBS; i++) {
		struct db_subscription *s = &subs[i];
		struct dom *d = sipgw__dom_find(gw, s->sip_domain);
		int64_t due = INT64_MAX;
		enum sipgw_sub_action act = sipgw__sub_due(s, now, &due);
		if (d == NULL)
			continue;
		switch (act) {
		case SIPGW_SUB_WAIT:
			if (due < next)
				next = due;
			break;
		case SIPGW_SUB_DROP:
			sub_delete(gw, s->id); /* unsubscribed, its final NOTIFY had its time */
			break;
		case SIPGW_SUB_FETCH_END:
			fetch_end(gw, d, s, "terminated;reason=timeout", NULL);
			break;
		case SIPGW_SUB_REFRESH:
			/* RFC 8048 §8.1: first a probe of the XMPP user's bare JID from the
			 * gateway; an 'unavailable' answer makes the next refresh wait for the
			 * user to come back (watcher_online) */
			send_presence(gw, SIPGW_PRES_PROBE, d->cf.xmpp, s->watcher, NULL);
			subscribe_send(gw, d, s, gw->set.subscription_expires_s);
			break;
		case SIPGW_SUB_EXPIRE:
			/* RFC 6665 §4.2.1.4, RFC 8048 §5.3.3: the dialog ends, not the
			 * authorization */
			sip_watcher_end(gw, d, s, true);
			break;
		case SIPGW_SUB_RETRY:
			if (s->remote_tag[0] != '\0' && now >= s->expires_ms) {
				/* past its last known end (RFC 6665 §4.1.2.2): over */
				xmpp_sub_lapse(gw, d, s, 0);
			} else {
				subscribe_send(gw, d, s, gw->set.subscription_expires_s);
			}
			break;
		case SIPGW_SUB_NO_NOTIFY:
			/* RFC 6665 §4.1.2.4, §4.1.2.2: Timer N ran out; a new subscription after
			 * the backoff (RFC 8048 §5.2.2: transient) */
			s->failures++;
			xmpp_sub_lapse(gw, d, s, sipgw_subscribe_backoff_ms((unsigned)s->failures));
			break;
		}
	}
	if (next < gw->presence_due_ms)
		gw->presence_due_ms = next;
	free(subs);
}
