/* libFuzzer target: SIP message parser (datagram and stream framing) and response builder. */
#include <stddef.h>
#include <stdint.h>

#include "sip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg *m = NULL;
	struct sip_error err;
	if (sip_msg_parse(data, size, SIP_PARSE_DATAGRAM, &m, NULL, &err) == FG_OK) {
		/* everything a parsed message offers must be safe to use */
		for (size_t i = 0; i < m->nheaders; i++) {
			struct sip_addr a;
			(void)sip_msg_parse_addr(m, &m->headers[i], &a, &err);
		}
		if (m->is_request && m->method_id != SIP_METHOD_ACK) {
			struct fg_buf b = {0};
			if (sip_build_response(&b, m, 400, NULL, "t", NULL, NULL, NULL, 0) ==
			    FG_OK) {
				struct sip_msg *r = NULL;
				/* what we build must parse again */
				if (sip_msg_parse(b.data, b.len, SIP_PARSE_STREAM, &r, NULL,
				                  &err) != FG_OK)
					__builtin_trap();
				sip_msg_free(r);
			}
			fg_buf_free(&b);
			struct sip_txn *t = NULL;
			struct sip_txn_actions acts;
			if (sip_txn_server_new(m, false, 0, &t, &acts) == FG_OK) {
				(void)sip_txn_match_request(t, m);
				sip_txn_free(t);
			}
		}
		sip_msg_free(m);
	}
	/* the same bytes through the stream reader, in two pieces */
	struct sip_stream *s = sip_stream_new();
	if (!s)
		return 0;
	size_t half = size / 2;
	for (int part = 0; part < 2; part++) {
		if (sip_stream_feed(s, data + (part ? half : 0), part ? size - half : half) !=
		    FG_OK)
			break;
		for (int guard = 0; guard < 64; guard++) {
			enum sip_stream_event ev;
			struct sip_msg *sm = NULL;
			if (sip_stream_next(s, &ev, &sm, &err) != FG_OK ||
			    ev == SIP_STREAM_NEED_MORE)
				break;
			sip_msg_free(sm);
		}
	}
	sip_stream_free(s);
	return 0;
}
