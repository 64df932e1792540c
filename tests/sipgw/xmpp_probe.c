/* sipgw_xmpp_probe: the SIP gateway engine alone on a loop with the store of the loopback
 * test, its XMPP side replaced by stdin/stdout: stanzas it would route are printed as
 * "XMPP <stanza>", and a script of stanzas is handed to it as if federated peers sent them
 * (XMPP -> SIP messages, chat states, presence subscriptions both ways). */
#include "db/db.h"
#include "sipgw/sipgw_internal.h"
#include "status/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct probe {
	struct sipgw *gw;
	uv_timer_t timer;
	int phase;
	int64_t t0, phase_at;
	int rc;
	bool answer_probe; /* the XMPP server's answer to a fetch's probe, on the next tick */
};

static void sink(void *ctx, const uint8_t *stanza, size_t len)
{
	struct probe *p = ctx;
	printf("XMPP %.*s\n", (int)len, (const char *)stanza);
	fflush(stdout);
	/* RFC 6121 §4.3: the server answers a probe with the user's presence */
	char text[1024];
	snprintf(text, sizeof(text), "%.*s", (int)len, (const char *)stanza);
	if (strstr(text, "type='probe'") && strstr(text, "to='carol@nowhere.test'"))
		p->answer_probe = true;
}

static void inject(struct probe *p, const char *xml)
{
	if (sipgw__inject(p->gw, xml) != FG_OK) {
		printf("inject failed: %s\n", xml);
		p->rc = 1;
	}
}

static const char *const script1[] = {
    "<message from='juliet@capulet.test/balcony' to='romeo@sip.test' type='chat' id='m1'>"
    "<body>hi from XMPP</body><thread>th-1</thread></message>",
    "<message from='juliet@capulet.test/balcony' to='nobody@sip.test' type='chat' id='m2'>"
    "<body>anyone?</body></message>",
    "<message from='juliet@capulet.test/balcony' to='romeo@sip.test' type='chat'>"
    "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<presence from='juliet@capulet.test' to='romeo@sip.test' type='subscribe'/>",
    "<presence from='bob@nowhere.test' to='alice@sip.test' type='subscribed'/>",
    "<presence from='bob@nowhere.test/r' to='alice@sip.test'><show>dnd</show>"
    "<status>busy now</status><priority>5</priority></presence>",
    /* RFC 8048 §5.2.2: a 503 is transient, a 403 cancels the authorization */
    "<presence from='juliet@capulet.test' to='busy@sip.test' type='subscribe'/>",
    "<presence from='juliet@capulet.test' to='denied@sip.test' type='subscribe'/>",
    /* RFC 6665 §4.1.3: the notifier ends these at once, with reasons that allow more */
    "<presence from='juliet@capulet.test' to='prob@sip.test' type='subscribe'/>",
    "<presence from='juliet@capulet.test' to='moved@sip.test' type='subscribe'/>",
    /* RFC 8048 §7.1: a probe with no subscription of the pair is a fetch */
    "<presence from='juliet@capulet.test/balcony' to='mercutio@sip.test' type='probe'/>",
};

/* The message path (engine.c): one pending MESSAGE per URI (RFC 3428 §8), a thread that is
 * no Call-ID (RFC 7572 Table 1); a message too large for SIP outside a session is sent
 * by the tick (RFC 3428 §8, RFC 7572 §6). */
static const char *const script_msg[] = {
    "<message from='juliet@capulet.test/balcony' to='romeo@sip.test' id='q1'>"
    "<body>slow-first</body></message>",
    "<message from='juliet@capulet.test/balcony' to='romeo@sip.test' id='q2'>"
    "<body>queued-second</body><thread>a b\xc3\xa9</thread></message>",
    /* the edge answers 415 to isComposing for noisc: RFC 3994 §4, no more status messages
     * (the second waits behind the first and is dropped), text still goes */
    "<message from='juliet@capulet.test/balcony' to='noisc@sip.test' type='chat'>"
    "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<message from='juliet@capulet.test/balcony' to='noisc@sip.test' type='chat'>"
    "<paused xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<message from='juliet@capulet.test/balcony' to='noisc@sip.test' type='chat' id='t415'>"
    "<body>text after 415</body></message>",
    /* RFC 7573 Table 4: <gone/> outside a session maps to nothing */
    "<message from='juliet@capulet.test/balcony' to='romeo@sip.test' type='chat'>"
    "<gone xmlns='http://jabber.org/protocol/chatstates'/></message>",
    /* a TLS domain with no certificate cannot connect: each MESSAGE fails as it starts,
     * inside its URI's queue, and comes back as an error */
    "<message from='juliet@capulet.test/balcony' to='x@nocert.sip.test' type='chat' id='nc1'>"
    "<body>no way out</body></message>",
    "<message from='juliet@capulet.test/balcony' to='x@nocert.sip.test' type='chat' id='nc2'>"
    "<body>no way out again</body></message>",
};
static const char *const script2[] = {
    "<presence from='juliet@capulet.test' to='romeo@sip.test' type='unsubscribe'/>",
    "<presence from='bob@nowhere.test' to='alice@sip.test' type='unsubscribed'/>",
};

static void stop_cb(uv_handle_t *h)
{
	(void)h;
}

static void tick(uv_timer_t *t)
{
	struct probe *p = t->data;
	int64_t now = fg_mono_ms();
	const char *st = sipgw__domain_state(p->gw, "sip.test");
	if (p->answer_probe && p->gw != NULL) {
		p->answer_probe = false;
		inject(p, "<presence from='carol@nowhere.test/home' to='alice@sip.test'>"
		          "<show>away</show><status>fetched state</status></presence>");
	}
	switch (p->phase) {
	case 0:
		if (st != NULL && strcmp(st, "up") == 0) {
			printf("up\n");
			for (size_t i = 0; i < sizeof(script1) / sizeof(script1[0]); i++)
				inject(p, script1[i]);
			for (size_t i = 0; i < sizeof(script_msg) / sizeof(script_msg[0]); i++)
				inject(p, script_msg[i]);
			char big[2048];
			int n = snprintf(
			    big, sizeof(big),
			    "<message from='juliet@capulet.test/balcony' to='romeo@sip.test' "
			    "id='big1'><body>");
			memset(big + n, 'x', 1400);
			snprintf(big + n + 1400, sizeof(big) - (size_t)n - 1400,
			         "</body></message>");
			inject(p, big);
			p->phase = 1;
			p->phase_at = now;
		} else if (now - p->t0 > 15000) {
			printf("the SIP domain never came up (%s)\n", st ? st : "unknown");
			p->rc = 1;
			p->phase = 3;
		}
		return;
	case 1:
		/* long enough for the refresh of a short grant (Expires: 10, due at 5 s) */
		if (now - p->phase_at < 7000)
			return;
		for (size_t i = 0; i < sizeof(script2) / sizeof(script2[0]); i++)
			inject(p, script2[i]);
		p->phase = 2;
		p->phase_at = now;
		return;
	case 2:
		if (now - p->phase_at < 2000)
			return;
		p->phase = 3;
		return;
	default:
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, stop_cb);
		sipgw_stop(p->gw);
		p->gw = NULL;
		return;
	}
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	struct probe p = {0};
	if (argc != 2) {
		fprintf(stderr, "usage: sipgw_xmpp_probe DATA_DIR\n");
		return 2;
	}
	if (db_open(&db, argv[1]) != FG_OK)
		return 4;
	status_init(NULL, fg_now_ms());
	uv_loop_t loop;
	uv_loop_init(&loop);
	if (sipgw_start(&p.gw, &loop, db, NULL) != FG_OK)
		return 3;
	sipgw__set_xmpp_sink(p.gw, sink, &p);
	p.t0 = fg_mono_ms();
	uv_timer_init(&loop, &p.timer);
	p.timer.data = &p;
	uv_timer_start(&p.timer, tick, 100, 100);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	status_shutdown();
	db_close(db);
	printf("done\n");
	return p.rc;
}
