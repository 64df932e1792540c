/* libFuzzer target: the XML stream (RFC 6120 §4, §11) fed arbitrary bytes in arbitrary
 * pieces; every stanza is serialized again, and <proceed/> exercises halt and restart. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xmpp/xmpp.h"

struct ctx {
	struct fg_buf out;
	bool restart;
};

static bool on_header(void *c, const struct xmpp_stream_header *h)
{
	(void)c;
	return h != NULL;
}

static bool on_stanza(void *c, const struct xmpp_node *n)
{
	struct ctx *x = c;
	fg_buf_reset(&x->out);
	(void)xmpp_node_serialize(n, XMPP_NS_SERVER, &x->out);
	(void)xmpp_node_attr(n, "to");
	(void)xmpp_node_child(n, NULL, "body");
	if (xmpp_node_is(n, XMPP_NS_TLS, "proceed")) {
		x->restart = true;
		return false;
	}
	return true;
}

static void on_close(void *c)
{
	(void)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xmpp_stream_ops ops = {on_header, on_stanza, on_close};
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER, .max_stanza_bytes = 4096};
	struct ctx x = {{0}, false};
	struct xmpp_stream *s = NULL;
	if (xmpp_stream_new(&s, &cfg, &ops, &x) != FG_OK)
		return 0;
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (xmpp_stream_feed(s, data + off, n) != XMPP_SE_NONE)
			break;
		if (x.restart) {
			x.restart = false;
			(void)xmpp_stream_restart(s);
		}
	}
	xmpp_stream_free(s);
	fg_buf_free(&x.out);
	return 0;
}
