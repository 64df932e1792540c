/* micro_xml: ns per relayed SIP MESSAGE (RFC 3428 -> RFC 7572) for the XMPP half of the
 * relay, sans-IO: the From/Request-URI -> JID mapping (RFC 7247 §4), the stanza and its
 * write on an authenticated s2s stream (RFC 6120), over the benchmark's own MESSAGE.
 *   micro_xml [iterations]     (by hand, never in CI; perf record works on it)
 * "tree": the path as it was (text URIs parsed again, printf, strdup'ed fields, a tree
 * serialized by the stream); "routed": built once from the parsed request and written as
 * it is (xlate_addr_uri_to_jid, xlate_im_sip_to_xml, xmpp_s2s_send_bytes). Build with
 * -DMICRO_XML_BASE to time only "tree" against older sources. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "micro.h"
#include "sip/sip.h"
#include "xlate/xlate.h"
#include "xmpp/xmpp.h"

/* ---- an authenticated stream: XEP-0220 dialback between machines in memory ---- */

struct peer {
	struct xmpp_s2s *m;
	struct fg_buf outbox;
	bool authenticated;
	bool verify_seen;
	char vlocal[64], vremote[64], vid[160], vkey[160];
	bool vresult, vvalid;
	size_t written; /* bytes of stanzas sent once authenticated */
	bool count;
};

static void on_action(void *ctx, const struct xmpp_action *a)
{
	struct peer *p = ctx;
	switch (a->kind) {
	case XMPP_ACT_SEND:
		if (p->count)
			p->written += a->len; /* the socket write would take the bytes here */
		else
			(void)fg_buf_append(&p->outbox, a->data, a->len);
		break;
	case XMPP_ACT_AUTHENTICATED:
		p->authenticated = true;
		break;
	case XMPP_ACT_DIALBACK_VERIFY:
		p->verify_seen = true;
		snprintf(p->vlocal, sizeof(p->vlocal), "%s", a->local);
		snprintf(p->vremote, sizeof(p->vremote), "%s", a->remote);
		snprintf(p->vid, sizeof(p->vid), "%s", a->stream_id);
		snprintf(p->vkey, sizeof(p->vkey), "%s", a->key);
		break;
	case XMPP_ACT_VERIFY_RESULT:
		p->vresult = true;
		p->vvalid = a->valid;
		break;
	default:
		break;
	}
}

static void pump(struct peer *a, struct peer *b)
{
	for (int round = 0; round < 50; round++) {
		if (a->outbox.len == 0 && b->outbox.len == 0)
			return;
		struct fg_buf t = a->outbox;
		a->outbox = (struct fg_buf){0};
		xmpp_s2s_feed(b->m, t.data, t.len, 1000);
		fg_buf_free(&t);
		t = b->outbox;
		b->outbox = (struct fg_buf){0};
		xmpp_s2s_feed(a->m, t.data, t.len, 1000);
		fg_buf_free(&t);
	}
}

static const char *origin_domains[] = {"sip.xmpp.test"};
static const char *recv_domains[] = {"prosody.test"};

static void peer_new(struct peer *p, enum xmpp_s2s_role role, const struct xmpp_s2s_config *cfg,
                     const char *local, const char *remote)
{
	memset(p, 0, sizeof(*p));
	if (xmpp_s2s_new(&p->m, role, cfg, local, remote, on_action, p) != FG_OK)
		abort();
	xmpp_s2s_start(p->m, 1000);
}

static void peer_free(struct peer *p)
{
	xmpp_s2s_free(p->m);
	fg_buf_free(&p->outbox);
}

/* io: sip.xmpp.test -> prosody.test, authenticated; the others are freed. */
static void stream_up(struct peer *io)
{
	static const char so[] = "origin-secret", sr[] = "recv-secret";
	struct xmpp_s2s_config co = {.local_domains = origin_domains,
	                             .n_local_domains = 1,
	                             .tls_mode = XMPP_TLS_OFF,
	                             .dialback = true,
	                             .dialback_secret = (const uint8_t *)so,
	                             .dialback_secret_len = sizeof(so) - 1};
	struct xmpp_s2s_config cr = co;
	cr.local_domains = recv_domains;
	cr.dialback_secret = (const uint8_t *)sr;
	cr.dialback_secret_len = sizeof(sr) - 1;
	static struct xmpp_s2s_config keep_o, keep_r;
	keep_o = co;
	keep_r = cr;
	struct peer rin, rout, oin;
	peer_new(io, XMPP_S2S_INITIATING, &keep_o, "sip.xmpp.test", "prosody.test");
	peer_new(&rin, XMPP_S2S_RECEIVING, &keep_r, NULL, NULL);
	pump(io, &rin);
	peer_new(&rout, XMPP_S2S_INITIATING, &keep_r, "prosody.test", "sip.xmpp.test");
	peer_new(&oin, XMPP_S2S_RECEIVING, &keep_o, NULL, NULL);
	if (!rin.verify_seen ||
	    xmpp_s2s_send_verify(rout.m, rin.vlocal, rin.vremote, rin.vid, rin.vkey) != FG_OK)
		abort();
	pump(&rout, &oin);
	if (!rout.vresult || !rout.vvalid)
		abort();
	xmpp_s2s_dialback_result(rin.m, rin.vlocal, rin.vremote, rin.vid, true, 1000);
	pump(io, &rin);
	if (!io->authenticated)
		abort();
	io->count = true;
	peer_free(&rin);
	peer_free(&rout);
	peer_free(&oin);
}

/* ---- the path as it was ---- */

/* sipgw__jid_from_sip before: parse the text again, split the JID, print it again */
static void jid_tree(const struct sip_str *uri, const char *xmpp_domain, struct fg_buf *out)
{
	struct fg_buf tmp = {0};
	if (xlate_addr_sip_to_xmpp(uri->p, uri->len, &tmp, NULL) != FG_OK)
		abort();
	char local[1024] = "", domain[1024] = "", res[1024] = "";
	const char *j = fg_buf_cstr(&tmp), *at = strchr(j, '@');
	if (at) {
		memcpy(local, j, (size_t)(at - j));
		snprintf(domain, sizeof(domain), "%s", at + 1);
	}
	if (xmpp_domain)
		snprintf(domain, sizeof(domain), "%s", xmpp_domain);
	(void)fg_buf_printf(out, "%s%s%s%s%s", local, local[0] ? "@" : "", domain,
	                    res[0] ? "/" : "", res);
	fg_buf_free(&tmp);
}

struct im_tree {
	struct xmpp_node msg, el[3], text[3];
	struct xmpp_attr attr[5];
};

static void im_tree_build(struct im_tree *t, const struct xlate_im *im, const char *from,
                          const char *to)
{
	memset(t, 0, sizeof(*t));
	const char *names[5] = {"type", "from", "to", "id", "lang"};
	const char *values[5] = {"chat", from, to, im->id, im->lang};
	struct xmpp_attr **link = &t->msg.attrs;
	for (size_t i = 0; i < 5; i++) {
		if (values[i] == NULL)
			continue;
		t->attr[i] =
		    (struct xmpp_attr){i == 4 ? XMPP_NS_XML : "", names[i], values[i], NULL};
		*link = &t->attr[i];
		link = &t->attr[i].next;
	}
	t->msg.ns = XMPP_NS_SERVER;
	t->msg.name = "message";
	const char *cnames[3] = {"subject", "body", "thread"};
	const char *cvalues[3] = {im->subject, im->body, im->thread};
	for (size_t i = 0; i < 3; i++) {
		if (cvalues[i] == NULL)
			continue;
		struct xmpp_node *el = &t->el[i], *tx = &t->text[i];
		*tx = (struct xmpp_node){
		    .ns = "", .text = cvalues[i], .text_len = strlen(cvalues[i]), .parent = el};
		*el = (struct xmpp_node){.ns = XMPP_NS_SERVER,
		                         .name = cnames[i],
		                         .parent = &t->msg,
		                         .children = tx,
		                         .last_child = tx};
		if (t->msg.last_child != NULL)
			t->msg.last_child->next = el;
		else
			t->msg.children = el;
		t->msg.last_child = el;
	}
}

static size_t run_tree(const struct sip_msg *m, struct peer *io)
{
	struct fg_buf from = {0}, to = {0}, stanza = {0};
	struct xlate_im im;
	jid_tree(&m->from.uri.text, "sip.xmpp.test", &from);
	jid_tree(&m->ruri.text, NULL, &to);
	if (xlate_im_from_sip(m->content_type.p, m->body, m->body_len, NULL, NULL, m->call_id.p,
	                      &im, NULL) != FG_OK)
		abort();
	im.id = malloc(17);
	memcpy(im.id, "0123456789abcdef", 17);
	if (xlate_im_to_xml(&im, fg_buf_cstr(&from), fg_buf_cstr(&to), &stanza) != FG_OK)
		abort();
	struct im_tree t;
	im_tree_build(&t, &im, fg_buf_cstr(&from), fg_buf_cstr(&to));
	if (xmpp_s2s_send_stanza(io->m, &t.msg) != FG_OK)
		abort();
	size_t n = stanza.len;
	xlate_im_clear(&im);
	fg_buf_free(&from);
	fg_buf_free(&to);
	fg_buf_free(&stanza);
	return n;
}

#ifndef MICRO_XML_BASE
/* ---- built once, written as it is ---- */

static size_t run_routed(const struct sip_msg *m, struct peer *io, struct fg_buf *stanza)
{
	char from[3072], to[3072];
	struct xlate_jid_parts fp, tp;
	if (xlate_addr_uri_to_jid(&m->from.uri, "sip.xmpp.test", from, sizeof(from), &fp, NULL) !=
	        FG_OK ||
	    xlate_addr_uri_to_jid(&m->ruri, NULL, to, sizeof(to), &tp, NULL) != FG_OK)
		abort();
	struct xlate_im_sip in = {.content_type = m->content_type.p,
	                          .content_type_len = m->content_type.len,
	                          .body = m->body,
	                          .body_len = m->body_len,
	                          .call_id = m->call_id.p,
	                          .call_id_len = m->call_id.len};
	stanza->len = 0;
	if (xlate_im_sip_to_xml(&in, from, fp.len, to, tp.len, "0123456789abcdef", stanza, NULL) !=
	    FG_OK)
		abort();
	char td[1024];
	memcpy(td, to + tp.domain_off, tp.domain_len);
	td[tp.domain_len] = '\0';
	if (xmpp_s2s_send_bytes(io->m, "sip.xmpp.test", td, stanza->data, stanza->len) != FG_OK)
		abort();
	return stanza->len;
}
#endif

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 300000;
	if (iters <= 0)
		iters = 300000;
	struct sip_msg *m = NULL;
	struct sip_error err;
	if (sip_msg_parse((const uint8_t *)bench_msg, sizeof(bench_msg) - 1, SIP_PARSE_STREAM, &m,
	                  NULL, &err) != FG_OK) {
		fprintf(stderr, "parse: %s\n", err.what);
		return 1;
	}
	struct peer io;
	stream_up(&io);
	size_t len = 0;
	double t0 = now_ns();
	for (long i = 0; i < iters; i++)
		len += run_tree(m, &io);
	double t1 = now_ns();
	printf("tree:   %.0f ns/msg (%ld msgs, stanza %zu bytes)\n", (t1 - t0) / (double)iters,
	       iters, len / (size_t)iters);
#ifndef MICRO_XML_BASE
	struct fg_buf stanza = {0};
	len = 0;
	t0 = now_ns();
	for (long i = 0; i < iters; i++)
		len += run_routed(m, &io, &stanza);
	t1 = now_ns();
	printf("routed: %.0f ns/msg (%ld msgs, stanza %zu bytes)\n", (t1 - t0) / (double)iters,
	       iters, len / (size_t)iters);
	fg_buf_free(&stanza);
#endif
	peer_free(&io);
	sip_msg_free(m);
	return 0;
}
