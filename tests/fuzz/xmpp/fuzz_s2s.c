/* libFuzzer target: the s2s receiving machine (RFC 6120, XEP-0220, XEP-0178) fed arbitrary
 * bytes after a valid stream header; dialback answers and TLS come from the input too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xmpp/xmpp.h"

struct ctx {
	bool want_tls;
	bool verify;
	char local[64];
	char remote[64];
	char id[160];
	size_t delivered;
};

static void on_action(void *c, const struct xmpp_action *a)
{
	struct ctx *x = c;
	switch (a->kind) {
	case XMPP_ACT_START_TLS:
		x->want_tls = true;
		break;
	case XMPP_ACT_DIALBACK_VERIFY:
		x->verify = true;
		fg_strlcpy(x->local, a->local, sizeof(x->local));
		fg_strlcpy(x->remote, a->remote, sizeof(x->remote));
		fg_strlcpy(x->id, a->stream_id, sizeof(x->id));
		break;
	case XMPP_ACT_DELIVER:
		x->delivered++;
		break;
	default:
		break;
	}
}

static void fixed_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	memset(buf, 0x5a, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *locals[] = {"recv.example", "other.example"};
	static const char hdr[] = "<stream:stream xmlns='jabber:server' "
	                          "xmlns:stream='http://etherx.jabber.org/streams' "
	                          "xmlns:db='jabber:server:dialback' from='origin.example' "
	                          "to='recv.example' version='1.0'>";
	if (size < 2)
		return 0;
	uint8_t flags = data[0];
	size_t chunk = (size_t)(data[1] % 13) + 1;
	data += 2;
	size -= 2;
	struct xmpp_s2s_config cfg = {
	    .local_domains = locals,
	    .n_local_domains = 2,
	    .tls_mode = (enum xmpp_tls_mode)(flags % 3),
	    .require_client_cert = (flags & 0x08) != 0,
	    .sasl_external_in = (flags & 0x10) != 0,
	    .dialback = (flags & 0x20) == 0,
	    .dialback_secret = (const uint8_t *)"s",
	    .dialback_secret_len = 1,
	    .random_cb = fixed_random,
	};
	struct ctx x = {0};
	struct xmpp_s2s *m = NULL;
	if (xmpp_s2s_new(&m, XMPP_S2S_RECEIVING, &cfg, NULL, NULL, on_action, &x) != FG_OK)
		return 0;
	int64_t now = 1;
	xmpp_s2s_start(m, now);
	xmpp_s2s_feed(m, (const uint8_t *)hdr, sizeof(hdr) - 1, now);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		xmpp_s2s_feed(m, data + off, n, ++now);
		if (x.want_tls) {
			x.want_tls = false;
			if (flags & 0x40)
				xmpp_s2s_peer_verified(m, "origin.example");
			xmpp_s2s_tls_started(m, (flags & 0x80) != 0, now);
			xmpp_s2s_feed(m, (const uint8_t *)hdr, sizeof(hdr) - 1, now);
		}
		if (x.verify) {
			x.verify = false;
			xmpp_s2s_dialback_result(m, x.local, x.remote, x.id, (data[off] & 1) != 0,
			                         now);
		}
		if ((data[off] & 0xf0) == 0xf0)
			xmpp_s2s_on_timer(m, (enum xmpp_timer)(data[off] % XMPP_TIMER__COUNT),
			                  now + 60000);
	}
	xmpp_s2s_free(m);
	return 0;
}
