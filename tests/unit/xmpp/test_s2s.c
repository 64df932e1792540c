/* Unit tests for the s2s state machines: machines wired back to back in memory (XEP-0220
 * dialback in both roles with the authoritative server, RFC 6120 STARTTLS and SASL EXTERNAL
 * per XEP-0178) and scripted peer bytes for refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xmpp/xmpp.h"

#define MAX_EVS 64

struct ev {
	enum xmpp_action_kind kind;
	char local[128];
	char remote[128];
	char stream_id[160];
	char key[256];
	bool valid;
	enum xmpp_stream_error cond;
	enum xmpp_auth_method method;
	enum xmpp_timer timer;
};

struct peer {
	struct xmpp_s2s *m;
	struct fg_buf outbox;
	struct fg_buf sent; /* everything ever sent */
	struct fg_buf delivered;
	struct ev evs[MAX_EVS];
	int n_evs;
	int n_delivered;
	bool want_tls;
	bool closed;
	bool cert;            /* presents a certificate in TLS */
	const char *verified; /* domain its peer's certificate is valid for */
};

static int64_t now = 1000;
static size_t chunk; /* 0: whole buffers, else bytes per feed */

static void on_action(void *ctx, const struct xmpp_action *a)
{
	struct peer *p = ctx;
	if (a->kind == XMPP_ACT_SEND) {
		fg_buf_append(&p->outbox, a->data, a->len);
		fg_buf_append(&p->sent, a->data, a->len);
		return;
	}
	if (a->kind == XMPP_ACT_TIMER_ARM || a->kind == XMPP_ACT_TIMER_CANCEL)
		return;
	assert_true(p->n_evs < MAX_EVS);
	struct ev *e = &p->evs[p->n_evs++];
	memset(e, 0, sizeof(*e));
	e->kind = a->kind;
	if (a->local)
		snprintf(e->local, sizeof(e->local), "%s", a->local);
	if (a->remote)
		snprintf(e->remote, sizeof(e->remote), "%s", a->remote);
	if (a->stream_id)
		snprintf(e->stream_id, sizeof(e->stream_id), "%s", a->stream_id);
	if (a->key)
		snprintf(e->key, sizeof(e->key), "%s", a->key);
	e->valid = a->valid;
	e->cond = a->condition;
	e->method = a->method;
	switch (a->kind) {
	case XMPP_ACT_START_TLS:
		p->want_tls = true;
		break;
	case XMPP_ACT_CLOSE:
		p->closed = true;
		break;
	case XMPP_ACT_DELIVER:
		p->n_delivered++;
		assert_int_equal(xmpp_node_serialize(a->stanza, XMPP_NS_SERVER, &p->delivered),
		                 FG_OK);
		break;
	default:
		break;
	}
}

static const struct ev *find_ev(const struct peer *p, enum xmpp_action_kind k)
{
	for (int i = 0; i < p->n_evs; i++) {
		if (p->evs[i].kind == k)
			return &p->evs[i];
	}
	return NULL;
}

static void feed(struct peer *p, const uint8_t *buf, size_t len)
{
	size_t step = chunk == 0 ? len : chunk;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		xmpp_s2s_feed(p->m, buf + off, n, now);
	}
}

static void feed_str(struct peer *p, const char *s)
{
	feed(p, (const uint8_t *)s, strlen(s));
}

static void tls_if_asked(struct peer *p)
{
	if (!p->want_tls)
		return;
	p->want_tls = false;
	if (p->verified != NULL)
		xmpp_s2s_peer_verified(p->m, p->verified);
	xmpp_s2s_tls_started(p->m, p->cert, now);
}

/* Moves bytes both ways until both sides are quiet. */
static void pump(struct peer *a, struct peer *b)
{
	for (int round = 0; round < 50; round++) {
		if (a->outbox.len == 0 && b->outbox.len == 0 && !a->want_tls && !b->want_tls)
			return;
		struct fg_buf t = a->outbox;
		a->outbox = (struct fg_buf){0};
		feed(b, t.data, t.len);
		fg_buf_free(&t);
		tls_if_asked(b);
		tls_if_asked(a);
		t = b->outbox;
		b->outbox = (struct fg_buf){0};
		feed(a, t.data, t.len);
		fg_buf_free(&t);
		tls_if_asked(a);
		tls_if_asked(b);
	}
	fail_msg("pump did not settle");
}

static void peer_init(struct peer *p, enum xmpp_s2s_role role, const struct xmpp_s2s_config *cfg,
                      const char *local, const char *remote)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(xmpp_s2s_new(&p->m, role, cfg, local, remote, on_action, p), FG_OK);
	xmpp_s2s_start(p->m, now);
}

static void peer_fini(struct peer *p)
{
	xmpp_s2s_free(p->m);
	fg_buf_free(&p->outbox);
	fg_buf_free(&p->sent);
	fg_buf_free(&p->delivered);
}

static void fixed_random(void *ctx, void *buf, size_t len)
{
	unsigned *counter = ctx;
	memset(buf, (int)(0x40 + (*counter)++ % 64), len);
}

static unsigned rnd_counter;
static const char *origin_domains[] = {"origin.example"};
static const char *recv_domains[] = {"recv.example"};
static const char secret_o[] = "origin-secret";
static const char secret_r[] = "recv-secret";

static struct xmpp_s2s_config cfg_o, cfg_r;

static int setup(void **state)
{
	now = 1000;
	cfg_o = (struct xmpp_s2s_config){.local_domains = origin_domains,
	                                 .n_local_domains = 1,
	                                 .tls_mode = XMPP_TLS_OFF,
	                                 .dialback = true,
	                                 .dialback_secret = (const uint8_t *)secret_o,
	                                 .dialback_secret_len = sizeof(secret_o) - 1,
	                                 .random_cb = fixed_random,
	                                 .random_ctx = &rnd_counter};
	cfg_r = cfg_o;
	cfg_r.local_domains = recv_domains;
	cfg_r.dialback_secret = (const uint8_t *)secret_r;
	cfg_r.dialback_secret_len = sizeof(secret_r) - 1;
	return 0;
}

/* Sends xml as a stanza through machine p (parsed first, since the API takes a DOM). */
struct send_ctx {
	struct xmpp_s2s *m;
	enum fg_err err;
};
static bool send_cb(void *ctx, const struct xmpp_node *n)
{
	struct send_ctx *c = ctx;
	c->err = xmpp_s2s_send_stanza(c->m, n);
	return true;
}
static enum fg_err send_stanza(struct peer *p, const char *xml)
{
	static const struct xmpp_stream_ops ops = {NULL, send_cb, NULL};
	struct xmpp_stream_config sc = {.content_ns = XMPP_NS_SERVER};
	struct send_ctx c = {p->m, FG_ERR_INVAL};
	struct xmpp_stream *s;
	assert_int_equal(xmpp_stream_new(&s, &sc, &ops, &c), FG_OK);
	const char *hdr = "<stream:stream xmlns='jabber:server' "
	                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)hdr, strlen(hdr)), XMPP_SE_NONE);
	assert_int_equal(xmpp_stream_feed(s, (const uint8_t *)xml, strlen(xml)), XMPP_SE_NONE);
	xmpp_stream_free(s);
	return c.err;
}

/* Origin O opens to R; R asks O's authoritative server over its own stream; O answers. */
static void dialback_flow(bool forge)
{
	struct peer io, rin, rout, oin;
	struct xmpp_s2s_config cfg_attacker = cfg_o;
	cfg_attacker.dialback_secret = (const uint8_t *)"guess";
	cfg_attacker.dialback_secret_len = 5;
	peer_init(&io, XMPP_S2S_INITIATING, forge ? &cfg_attacker : &cfg_o, "origin.example",
	          "recv.example");
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	pump(&io, &rin);
	const struct ev *v = find_ev(&rin, XMPP_ACT_DIALBACK_VERIFY);
	assert_non_null(v);
	assert_string_equal(v->local, "recv.example");
	assert_string_equal(v->remote, "origin.example");
	assert_string_equal(v->stream_id, xmpp_s2s_stream_id(rin.m));
	assert_string_equal(v->stream_id, xmpp_s2s_stream_id(io.m));
	assert_null(find_ev(&io, XMPP_ACT_AUTHENTICATED));

	/* R -> authoritative O: db:verify over R's initiating stream */
	peer_init(&rout, XMPP_S2S_INITIATING, &cfg_r, "recv.example", "origin.example");
	peer_init(&oin, XMPP_S2S_RECEIVING, &cfg_o, NULL, NULL);
	assert_int_equal(xmpp_s2s_send_verify(rout.m, v->local, v->remote, v->stream_id, v->key),
	                 FG_OK);
	pump(&rout, &oin);
	const struct ev *vr = find_ev(&rout, XMPP_ACT_VERIFY_RESULT);
	assert_non_null(vr);
	assert_int_equal(vr->valid, !forge);
	assert_string_equal(vr->stream_id, v->stream_id);

	xmpp_s2s_dialback_result(rin.m, vr->local, vr->remote, vr->stream_id, vr->valid, now);
	pump(&io, &rin);
	if (!forge) {
		const struct ev *a = find_ev(&io, XMPP_ACT_AUTHENTICATED);
		assert_non_null(a);
		assert_int_equal(a->method, XMPP_AUTH_DIALBACK);
		assert_non_null(find_ev(&rin, XMPP_ACT_AUTHENTICATED));
		assert_true(xmpp_s2s_is_authenticated(rin.m, "recv.example", "origin.example"));
		assert_int_equal(send_stanza(&io, "<message from='a@origin.example' "
		                                  "to='b@recv.example' id='m1'><body>hi &amp; "
		                                  "bye</body></message>"),
		                 FG_OK);
		/* not an authenticated pair for this stream */
		assert_int_equal(send_stanza(&io, "<message from='a@origin.example' "
		                                  "to='b@other.example'/>"),
		                 FG_ERR_PERM);
		/* bytes the caller serialized go out as they are, on an authenticated pair only */
		static const char raw[] = "<message from='a@origin.example' to='b@recv.example' "
		                          "id='m2'><body>raw</body></message>";
		assert_int_equal(xmpp_s2s_send_bytes(io.m, "Origin.example", "recv.example",
		                                     (const uint8_t *)raw, sizeof(raw) - 1),
		                 FG_OK);
		assert_int_equal(xmpp_s2s_send_bytes(io.m, "origin.example", "other.example",
		                                     (const uint8_t *)raw, sizeof(raw) - 1),
		                 FG_ERR_PERM);
		assert_int_equal(xmpp_s2s_send_bytes(rin.m, "recv.example", "origin.example",
		                                     (const uint8_t *)raw, sizeof(raw) - 1),
		                 FG_ERR_PERM);
		assert_int_equal(xmpp_s2s_send_bytes(io.m, "origin.example", "recv.example",
		                                     (const uint8_t *)raw, 0),
		                 FG_ERR_INVAL);
		pump(&io, &rin);
		assert_int_equal(rin.n_delivered, 2);
		assert_string_equal(fg_buf_cstr(&rin.delivered),
		                    "<message from='a@origin.example' to='b@recv.example' "
		                    "id='m1'><body>hi &amp; bye</body></message>"
		                    "<message from='a@origin.example' to='b@recv.example' "
		                    "id='m2'><body>raw</body></message>");
		assert_false(rin.closed);
	} else {
		assert_null(find_ev(&io, XMPP_ACT_AUTHENTICATED));
		assert_null(find_ev(&rin, XMPP_ACT_AUTHENTICATED));
		assert_true(rin.closed);
		assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_NOT_AUTHORIZED);
		assert_true(io.closed);
		assert_int_equal(send_stanza(&io, "<message from='a@origin.example' "
		                                  "to='b@recv.example'/>"),
		                 FG_ERR_IO);
		assert_int_equal(xmpp_s2s_send_bytes(io.m, "origin.example", "recv.example",
		                                     (const uint8_t *)"<message/>", 10),
		                 FG_ERR_IO);
		assert_int_equal(rin.n_delivered, 0);
	}
	if (getenv("S2S_TRACE"))
		fprintf(stderr, "IO>>> %s\nRIN>>> %s\nROUT>>> %s\nOIN>>> %s\n",
		        fg_buf_cstr(&io.sent), fg_buf_cstr(&rin.sent), fg_buf_cstr(&rout.sent),
		        fg_buf_cstr(&oin.sent));
	peer_fini(&io);
	peer_fini(&rin);
	peer_fini(&rout);
	peer_fini(&oin);
}

static void test_dialback_happy(void **state)
{
	chunk = 0;
	dialback_flow(false);
	chunk = 1;
	dialback_flow(false);
	chunk = 0;
}

static void test_dialback_wrong_key(void **state)
{
	dialback_flow(true);
}

#define PEER_HDR                                                                                   \
	"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "    \
	"xmlns:db='jabber:server:dialback' from='origin.example' to='recv.example' "               \
	"version='1.0'>"

static void test_stanza_before_auth(void **state)
{
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin,
	         PEER_HDR "<db:result from='origin.example' to='recv.example'>abcd"
	                  "</db:result><message from='a@origin.example' to='b@recv.example'/>");
	assert_int_equal(rin.n_delivered, 0);
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_NOT_AUTHORIZED);
	assert_non_null(strstr(fg_buf_cstr(&rin.sent),
	                       "<not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"));
	peer_fini(&rin);
}

/* Authenticates origin.example -> recv.example on rin via the XEP-0344 path is not possible
 * without TLS, so answer the verify directly. */
static void auth_rin(struct peer *rin)
{
	feed_str(rin, PEER_HDR "<db:result from='origin.example' to='recv.example'>k</db:result>");
	const struct ev *v = find_ev(rin, XMPP_ACT_DIALBACK_VERIFY);
	assert_non_null(v);
	xmpp_s2s_dialback_result(rin->m, "recv.example", "origin.example", v->stream_id, true, now);
	assert_non_null(find_ev(rin, XMPP_ACT_AUTHENTICATED));
}

static void test_unauthenticated_domain(void **state)
{
	struct {
		const char *stanza;
		enum xmpp_stream_error cond;
	} cases[] = {
	    {"<message from='x@evil.example' to='b@recv.example'/>", XMPP_SE_INVALID_FROM},
	    {"<message from='a@origin.example' to='b@elsewhere.example'/>", XMPP_SE_HOST_UNKNOWN},
	    {"<message to='b@recv.example'/>", XMPP_SE_IMPROPER_ADDRESSING},
	    {"<foo xmlns='urn:x'/>", XMPP_SE_UNSUPPORTED_STANZA_TYPE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer rin;
		peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
		auth_rin(&rin);
		feed_str(&rin, "<presence from='a@origin.example/r' to='b@recv.example'/>");
		assert_int_equal(rin.n_delivered, 1);
		feed_str(&rin, cases[i].stanza);
		assert_int_equal(rin.n_delivered, 1);
		assert_true(rin.closed);
		assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, cases[i].cond);
		peer_fini(&rin);
	}
}

static void test_header_host_unknown(void **state)
{
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, "<stream:stream xmlns='jabber:server' "
	               "xmlns:stream='http://etherx.jabber.org/streams' to='nope.example' "
	               "version='1.0'>");
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_HOST_UNKNOWN);
	const char *sent = fg_buf_cstr(&rin.sent);
	/* RFC 6120 §4.9.1.2: header first, then the error */
	assert_non_null(strstr(sent, "<stream:stream "));
	assert_true(strstr(sent, "<stream:stream ") < strstr(sent, "<host-unknown"));
	peer_fini(&rin);
	/* malformed XML from the peer becomes a stream error too */
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, PEER_HDR "<!-- no -->");
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_RESTRICTED_XML);
	peer_fini(&rin);
}

static void test_starttls_required(void **state)
{
	/* receiving requires TLS; a peer that skips STARTTLS is refused */
	struct xmpp_s2s_config req = cfg_r;
	req.tls_mode = XMPP_TLS_REQUIRED;
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &req, NULL, NULL);
	feed_str(&rin, PEER_HDR);
	assert_non_null(strstr(fg_buf_cstr(&rin.sent), "<required/>"));
	assert_null(strstr(fg_buf_cstr(&rin.sent), "urn:xmpp:features:dialback"));
	feed_str(&rin, "<db:result from='origin.example' to='recv.example'>k</db:result>");
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_POLICY_VIOLATION);
	assert_null(find_ev(&rin, XMPP_ACT_DIALBACK_VERIFY));
	peer_fini(&rin);

	/* machine to machine: our initiating side has TLS off, the peer requires it */
	struct peer io;
	peer_init(&io, XMPP_S2S_INITIATING, &cfg_o, "origin.example", "recv.example");
	peer_init(&rin, XMPP_S2S_RECEIVING, &req, NULL, NULL);
	pump(&io, &rin);
	assert_true(io.closed);
	assert_null(find_ev(&io, XMPP_ACT_AUTHENTICATED));
	peer_fini(&io);
	peer_fini(&rin);

	/* our initiating side requires TLS; the peer does not offer it */
	struct xmpp_s2s_config oreq = cfg_o;
	oreq.tls_mode = XMPP_TLS_REQUIRED;
	peer_init(&io, XMPP_S2S_INITIATING, &oreq, "origin.example", "recv.example");
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	pump(&io, &rin);
	assert_true(io.closed);
	assert_int_equal(find_ev(&io, XMPP_ACT_CLOSE)->cond, XMPP_SE_POLICY_VIOLATION);
	assert_null(strstr(fg_buf_cstr(&io.sent), "db:result from"));
	peer_fini(&io);
	peer_fini(&rin);
}

static void sasl_flow(bool cert_ok, bool dialback)
{
	struct xmpp_s2s_config co = cfg_o, cr = cfg_r;
	co.tls_mode = cr.tls_mode = XMPP_TLS_REQUIRED;
	co.sasl_external_out = cr.sasl_external_in = true;
	co.dialback = cr.dialback = dialback;
	cr.require_client_cert = true;
	struct peer io, rin;
	peer_init(&io, XMPP_S2S_INITIATING, &co, "origin.example", "recv.example");
	peer_init(&rin, XMPP_S2S_RECEIVING, &cr, NULL, NULL);
	io.cert = rin.cert = true;
	io.verified = "recv.example";
	rin.verified = cert_ok ? "origin.example" : "other.example";
	pump(&io, &rin);
	if (cert_ok) {
		const struct ev *a = find_ev(&io, XMPP_ACT_AUTHENTICATED);
		assert_non_null(a);
		assert_int_equal(a->method, XMPP_AUTH_SASL_EXTERNAL);
		a = find_ev(&rin, XMPP_ACT_AUTHENTICATED);
		assert_non_null(a);
		assert_int_equal(a->method, XMPP_AUTH_SASL_EXTERNAL);
		assert_string_equal(a->remote, "origin.example");
		assert_false(io.closed);
		assert_false(rin.closed);
		assert_int_equal(
		    send_stanza(&io, "<iq from='origin.example' to='recv.example' "
		                     "type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>"),
		    FG_OK);
		pump(&io, &rin);
		assert_int_equal(rin.n_delivered, 1);
	} else {
		assert_null(find_ev(&rin, XMPP_ACT_AUTHENTICATED));
		assert_non_null(strstr(fg_buf_cstr(&rin.sent), "<not-authorized/></failure>"));
		if (dialback) {
			/* XEP-0178 §4: fall back to dialback on the same stream */
			assert_non_null(find_ev(&rin, XMPP_ACT_DIALBACK_VERIFY));
			assert_false(io.closed);
		} else {
			assert_true(io.closed);
			assert_null(find_ev(&io, XMPP_ACT_AUTHENTICATED));
		}
	}
	peer_fini(&io);
	peer_fini(&rin);
}

static void test_sasl_external_success(void **state)
{
	sasl_flow(true, false);
	chunk = 1;
	sasl_flow(true, true);
	chunk = 0;
}

static void test_sasl_external_failure(void **state)
{
	sasl_flow(false, false);
	sasl_flow(false, true);
}

static void test_client_cert_required(void **state)
{
	struct xmpp_s2s_config cr = cfg_r;
	cr.tls_mode = XMPP_TLS_REQUIRED;
	cr.require_client_cert = true;
	struct xmpp_s2s_config co = cfg_o;
	co.tls_mode = XMPP_TLS_OPTIONAL;
	struct peer io, rin;
	peer_init(&io, XMPP_S2S_INITIATING, &co, "origin.example", "recv.example");
	peer_init(&rin, XMPP_S2S_RECEIVING, &cr, NULL, NULL);
	rin.cert = false;
	pump(&io, &rin);
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_POLICY_VIOLATION);
	peer_fini(&io);
	peer_fini(&rin);
}

/* RFC 6120 §5.4.3.3: bytes after <starttls/>/<proceed/> in the same read are dropped. */
static void test_proceed_injection(void **state)
{
	struct xmpp_s2s_config cr = cfg_r;
	cr.tls_mode = XMPP_TLS_OPTIONAL;
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cr, NULL, NULL);
	feed_str(&rin, PEER_HDR "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
	                        "<db:result from='origin.example' to='recv.example'>k</db:result>");
	assert_non_null(find_ev(&rin, XMPP_ACT_START_TLS));
	assert_null(find_ev(&rin, XMPP_ACT_DIALBACK_VERIFY));
	feed_str(&rin, "<message from='a@origin.example' to='b@recv.example'/>");
	xmpp_s2s_tls_started(rin.m, false, now);
	assert_false(rin.closed);
	assert_null(find_ev(&rin, XMPP_ACT_DIALBACK_VERIFY));
	peer_fini(&rin);

	/* initiating side: a forged dialback success right after <proceed/> */
	struct xmpp_s2s_config co = cfg_o;
	co.tls_mode = XMPP_TLS_OPTIONAL;
	struct peer io;
	peer_init(&io, XMPP_S2S_INITIATING, &co, "origin.example", "recv.example");
	feed_str(&io, "<stream:stream xmlns='jabber:server' "
	              "xmlns:stream='http://etherx.jabber.org/streams' "
	              "xmlns:db='jabber:server:dialback' from='recv.example' id='abc' "
	              "version='1.0'><stream:features><starttls "
	              "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>");
	assert_non_null(strstr(fg_buf_cstr(&io.sent), "<starttls"));
	feed_str(&io, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><db:result "
	              "from='recv.example' to='origin.example' type='valid'/>");
	assert_non_null(find_ev(&io, XMPP_ACT_START_TLS));
	assert_null(find_ev(&io, XMPP_ACT_AUTHENTICATED));
	peer_fini(&io);
}

static void test_timers(void **state)
{
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, PEER_HDR "<db:result from='origin.example' to='recv.example'>k</db:result>");
	assert_non_null(find_ev(&rin, XMPP_ACT_DIALBACK_VERIFY));
	/* stale timer: nothing happens */
	xmpp_s2s_on_timer(rin.m, XMPP_TIMER_DIALBACK, now + 10);
	assert_null(strstr(fg_buf_cstr(&rin.sent), "type='error'"));
	xmpp_s2s_on_timer(rin.m, XMPP_TIMER_DIALBACK, now + 30000);
	assert_non_null(strstr(fg_buf_cstr(&rin.sent), "<remote-server-timeout"));
	assert_false(rin.closed);
	xmpp_s2s_on_timer(rin.m, XMPP_TIMER_OPEN, now + 30000);
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_CONNECTION_TIMEOUT);
	peer_fini(&rin);

	/* initiating: no answer to our db:result */
	struct peer io, r2;
	peer_init(&io, XMPP_S2S_INITIATING, &cfg_o, "origin.example", "recv.example");
	peer_init(&r2, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	pump(&io, &r2);
	xmpp_s2s_on_timer(io.m, XMPP_TIMER_DIALBACK, now + 30000);
	assert_true(io.closed);
	peer_fini(&io);
	peer_fini(&r2);
}

static void test_authoritative_verify(void **state)
{
	/* O answers a db:verify for a key it generated, and refuses a wrong one */
	char key[XMPP_DIALBACK_KEY_HEX + 1];
	assert_int_equal(xmpp_dialback_key(key, (const uint8_t *)secret_o, strlen(secret_o),
	                                   "recv.example", "origin.example", "SID1"),
	                 FG_OK);
	struct peer oin;
	peer_init(&oin, XMPP_S2S_RECEIVING, &cfg_o, NULL, NULL);
	char buf[512];
	snprintf(
	    buf, sizeof(buf),
	    "<stream:stream xmlns='jabber:server' "
	    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
	    "from='recv.example' to='origin.example' version='1.0'>"
	    "<db:verify from='recv.example' to='origin.example' id='SID1'>%s</db:verify>"
	    "<db:verify from='recv.example' to='origin.example' id='SID2'>%s</db:verify>",
	    key, key);
	feed_str(&oin, buf);
	const char *sent = fg_buf_cstr(&oin.sent);
	assert_non_null(strstr(sent, "<db:verify from='origin.example' to='recv.example' "
	                             "id='SID1' type='valid'/>"));
	assert_non_null(strstr(sent, "<db:verify from='origin.example' to='recv.example' "
	                             "id='SID2' type='invalid'/>"));
	assert_false(oin.closed);
	peer_fini(&oin);
}

static void test_close_paths(void **state)
{
	/* the peer closes cleanly: we answer </stream:stream> */
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	auth_rin(&rin);
	feed_str(&rin, "</stream:stream>");
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_NONE);
	const char *sent = fg_buf_cstr(&rin.sent);
	assert_string_equal(sent + strlen(sent) - strlen("</stream:stream>"), "</stream:stream>");
	/* nothing more after close */
	feed_str(&rin, "<message from='a@origin.example' to='b@recv.example'/>");
	assert_int_equal(rin.n_delivered, 0);
	peer_fini(&rin);

	/* the peer sends a stream error */
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, PEER_HDR "<stream:error><system-shutdown "
	                        "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_SYSTEM_SHUTDOWN);
	peer_fini(&rin);

	/* we close with an error, and the idle timer closes gracefully */
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, PEER_HDR);
	xmpp_s2s_close(rin.m, XMPP_SE_SYSTEM_SHUTDOWN, "bye");
	assert_non_null(
	    strstr(fg_buf_cstr(&rin.sent),
	           "<system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
	           "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bye</text></stream:error></"
	           "stream:stream>"));
	peer_fini(&rin);
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, PEER_HDR);
	xmpp_s2s_on_timer(rin.m, XMPP_TIMER_IDLE, now + 600000);
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_NONE);
	peer_fini(&rin);

	/* an initiating stream refuses stanzas from the peer */
	struct peer io;
	peer_init(&io, XMPP_S2S_INITIATING, &cfg_o, "origin.example", "recv.example");
	feed_str(&io, "<stream:stream xmlns='jabber:server' "
	              "xmlns:stream='http://etherx.jabber.org/streams' from='recv.example' id='i1' "
	              "version='1.0'><message from='x@recv.example' to='y@origin.example'/>");
	assert_int_equal(find_ev(&io, XMPP_ACT_CLOSE)->cond, XMPP_SE_NOT_AUTHORIZED);
	peer_fini(&io);
	/* an answer claiming another domain */
	peer_init(&io, XMPP_S2S_INITIATING, &cfg_o, "origin.example", "recv.example");
	feed_str(&io, "<stream:stream xmlns='jabber:server' "
	              "xmlns:stream='http://etherx.jabber.org/streams' from='evil.example' id='i1' "
	              "version='1.0'>");
	assert_int_equal(find_ev(&io, XMPP_ACT_CLOSE)->cond, XMPP_SE_INVALID_FROM);
	peer_fini(&io);
}

static void test_verify_queued_from_callback(void **state)
{
	/* a verify queued before the stream is ready goes out with the features */
	struct peer rout, oin;
	peer_init(&rout, XMPP_S2S_INITIATING, &cfg_r, "recv.example", "origin.example");
	peer_init(&oin, XMPP_S2S_RECEIVING, &cfg_o, NULL, NULL);
	assert_int_equal(xmpp_s2s_send_verify(rout.m, "recv.example", "origin.example", "S", "bad"),
	                 FG_OK);
	assert_null(strstr(fg_buf_cstr(&rout.sent), "db:verify"));
	pump(&rout, &oin);
	const struct ev *vr = find_ev(&rout, XMPP_ACT_VERIFY_RESULT);
	assert_non_null(vr);
	assert_false(vr->valid);
	/* an unanswered verify times out as invalid */
	assert_int_equal(xmpp_s2s_send_verify(rout.m, "recv.example", "origin.example", "T", "k"),
	                 FG_OK);
	int before = rout.n_evs;
	xmpp_s2s_on_timer(rout.m, XMPP_TIMER_DIALBACK, now + 60000);
	assert_true(rout.n_evs > before);
	peer_fini(&rout);
	peer_fini(&oin);
}

/* RFC 6120 §4.9.3.14: oversized stanzas close the stream; the cap grows after auth. */
static void test_stanza_size_caps(void **state)
{
	struct fg_buf big = {0};
	fg_buf_append_str(&big, "<message from='a@origin.example' to='b@recv.example'><body>");
	for (int i = 0; i < 20000; i++)
		fg_buf_append_str(&big, "x");
	fg_buf_append_str(&big, "</body></message>");
	struct peer rin;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	feed_str(&rin, PEER_HDR);
	feed(&rin, big.data, big.len);
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_POLICY_VIOLATION);
	assert_non_null(strstr(fg_buf_cstr(&rin.sent), "<policy-violation"));
	peer_fini(&rin);
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	auth_rin(&rin);
	feed(&rin, big.data, big.len);
	assert_false(rin.closed);
	assert_int_equal(rin.n_delivered, 1);
	peer_fini(&rin);
	fg_buf_free(&big);
}

/* xmpp.max_stanza_bytes: the configured cap replaces XMPP_MAX_STANZA_BYTES after auth. */
static void test_stanza_size_configured(void **state)
{
	struct fg_buf mid = {0}, big = {0};
	fg_buf_append_str(&mid, "<message from='a@origin.example' to='b@recv.example'><body>");
	fg_buf_append(&big, mid.data, mid.len);
	for (int i = 0; i < 20000; i++)
		fg_buf_append_str(&mid, "x");
	for (int i = 0; i < 40000; i++)
		fg_buf_append_str(&big, "x");
	fg_buf_append_str(&mid, "</body></message>");
	fg_buf_append_str(&big, "</body></message>");
	struct peer rin;
	/* default (0): 512 kB */
	peer_init(&rin, XMPP_S2S_RECEIVING, &cfg_r, NULL, NULL);
	auth_rin(&rin);
	feed(&rin, big.data, big.len);
	assert_false(rin.closed);
	assert_int_equal(rin.n_delivered, 1);
	peer_fini(&rin);
	/* configured 30,000: a 20 kB stanza passes, a 40 kB one closes the stream */
	struct xmpp_s2s_config cr = cfg_r;
	cr.max_stanza_bytes = 30000;
	peer_init(&rin, XMPP_S2S_RECEIVING, &cr, NULL, NULL);
	auth_rin(&rin);
	feed(&rin, mid.data, mid.len);
	assert_false(rin.closed);
	assert_int_equal(rin.n_delivered, 1);
	feed(&rin, big.data, big.len);
	assert_true(rin.closed);
	assert_int_equal(find_ev(&rin, XMPP_ACT_CLOSE)->cond, XMPP_SE_POLICY_VIOLATION);
	assert_int_equal(rin.n_delivered, 1);
	peer_fini(&rin);
	fg_buf_free(&mid);
	fg_buf_free(&big);
}

/* A db:verify answer that arrives while SASL EXTERNAL is under way (the verify went out
 * with the features, before <auth/>) is delivered, and the stream goes on to SASL success. */
static void verify_during_sasl(void)
{
	struct xmpp_s2s_config co = cfg_r, cr = cfg_o;
	co.tls_mode = cr.tls_mode = XMPP_TLS_REQUIRED;
	co.sasl_external_out = cr.sasl_external_in = true;
	cr.require_client_cert = true;
	struct peer rout, oin;
	peer_init(&rout, XMPP_S2S_INITIATING, &co, "recv.example", "origin.example");
	peer_init(&oin, XMPP_S2S_RECEIVING, &cr, NULL, NULL);
	rout.cert = oin.cert = true;
	rout.verified = "origin.example";
	oin.verified = "recv.example";
	assert_int_equal(xmpp_s2s_send_verify(rout.m, "recv.example", "origin.example", "S", "bad"),
	                 FG_OK);
	pump(&rout, &oin);
	const char *sent = fg_buf_cstr(&rout.sent);
	const char *v = strstr(sent, "<db:verify");
	const char *auth = strstr(sent, "<auth");
	assert_non_null(v);
	assert_non_null(auth);
	assert_true(v < auth);
	const struct ev *vr = find_ev(&rout, XMPP_ACT_VERIFY_RESULT);
	assert_non_null(vr);
	assert_false(vr->valid);
	assert_string_equal(vr->stream_id, "S");
	const struct ev *a = find_ev(&rout, XMPP_ACT_AUTHENTICATED);
	assert_non_null(a);
	assert_int_equal(a->method, XMPP_AUTH_SASL_EXTERNAL);
	assert_false(rout.closed);
	assert_false(oin.closed);
	peer_fini(&rout);
	peer_fini(&oin);
}

static void test_verify_during_sasl(void **state)
{
	verify_during_sasl();
	chunk = 1;
	verify_during_sasl();
	chunk = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_dialback_happy, setup),
	    cmocka_unit_test_setup(test_dialback_wrong_key, setup),
	    cmocka_unit_test_setup(test_stanza_before_auth, setup),
	    cmocka_unit_test_setup(test_unauthenticated_domain, setup),
	    cmocka_unit_test_setup(test_header_host_unknown, setup),
	    cmocka_unit_test_setup(test_starttls_required, setup),
	    cmocka_unit_test_setup(test_sasl_external_success, setup),
	    cmocka_unit_test_setup(test_sasl_external_failure, setup),
	    cmocka_unit_test_setup(test_client_cert_required, setup),
	    cmocka_unit_test_setup(test_proceed_injection, setup),
	    cmocka_unit_test_setup(test_timers, setup),
	    cmocka_unit_test_setup(test_authoritative_verify, setup),
	    cmocka_unit_test_setup(test_close_paths, setup),
	    cmocka_unit_test_setup(test_stanza_size_caps, setup),
	    cmocka_unit_test_setup(test_verify_queued_from_callback, setup),
	    cmocka_unit_test_setup(test_stanza_size_configured, setup),
	    cmocka_unit_test_setup(test_verify_during_sasl, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
