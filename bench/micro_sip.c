/* micro_sip: ns per operation of the SIP half of the relay path (RFC 3428 MESSAGE in,
 * 202 out): stream framing + parse, the 202, a to-tag, a server transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "micro.h"
#include "sip/sip.h"
#include "sipgw/sipgw_internal.h"

static void fail(const char *what)
{
	fprintf(stderr, "micro_sip: %s\n", what);
	exit(1);
}

/* One stream per connection, one message per read, as sipp sends at these rates. */
static double bench_parse(long n)
{
	struct sip_stream *s = sip_stream_new();
	size_t len = strlen(bench_msg);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		enum sip_stream_event ev;
		struct sip_msg *m = NULL;
		struct sip_error err;
		if (sip_stream_feed(s, (const uint8_t *)bench_msg, len) != FG_OK ||
		    sip_stream_next(s, &ev, &m, &err) != FG_OK || ev != SIP_STREAM_MESSAGE)
			fail("parse");
		sip_msg_free(m);
	}
	double t = (now_ns() - t0) / (double)n;
	sip_stream_free(s);
	return t;
}

static struct sip_msg *parse_once(void)
{
	struct sip_msg *m = NULL;
	if (sip_msg_parse((const uint8_t *)bench_msg, strlen(bench_msg), SIP_PARSE_STREAM, &m, NULL,
	                  NULL) != FG_OK)
		fail("parse_once");
	return m;
}

static double bench_202(long n, size_t *len_out)
{
	struct sip_msg *m = parse_once();
	struct fg_buf out = {0};
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		fg_buf_reset(&out);
		if (sip_build_response(&out, m, 202, sip_reason_phrase(202), "0123456789abcdef",
		                       NULL, NULL, NULL, 0) != FG_OK)
			fail("202");
	}
	double t = (now_ns() - t0) / (double)n;
	*len_out = out.len;
	fg_buf_free(&out);
	sip_msg_free(m);
	return t;
}

static double bench_token(long n)
{
	char tag[24];
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		sipgw__token(tag, 8);
	return (now_ns() - t0) / (double)n;
}

static double bench_txn(long n)
{
	struct sip_msg *m = parse_once();
	static const char rsp[] = "SIP/2.0 202 Accepted\r\n\r\n";
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		struct sip_txn *t = NULL;
		struct sip_txn_actions acts;
		if (sip_txn_server_new(m, true, 0, &t, &acts) != FG_OK ||
		    sip_txn_send_response(t, 202, (const uint8_t *)rsp, sizeof(rsp) - 1, 0,
		                          &acts) != FG_OK)
			fail("txn");
		sip_txn_free(t);
	}
	double t = (now_ns() - t0) / (double)n;
	sip_msg_free(m);
	return t;
}

/* The whole SIP half of one relayed message, as the engine runs it: framing and parse,
 * a server transaction with a to-tag, the 202 built and handed to the transaction, and
 * everything freed. */
static double bench_half(long n)
{
	struct sip_stream *s = sip_stream_new();
	struct fg_buf out = {0};
	size_t len = strlen(bench_msg);
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		enum sip_stream_event ev;
		struct sip_msg *m = NULL;
		struct sip_txn *t = NULL;
		struct sip_txn_actions acts;
		char tag[24];
		if (sip_stream_feed(s, (const uint8_t *)bench_msg, len) != FG_OK ||
		    sip_stream_next(s, &ev, &m, NULL) != FG_OK || ev != SIP_STREAM_MESSAGE)
			fail("half: parse");
		sipgw__token(tag, 8);
		if (sip_txn_server_new(m, true, 0, &t, &acts) != FG_OK)
			fail("half: txn");
		fg_buf_reset(&out);
		if (sip_build_response(&out, m, 202, sip_reason_phrase(202), tag, NULL, NULL, NULL,
		                       0) != FG_OK ||
		    sip_txn_send_response(t, 202, out.data, out.len, 0, &acts) != FG_OK)
			fail("half: 202");
		sip_txn_free(t);
		sip_msg_free(m);
	}
	double r = (now_ns() - t0) / (double)n;
	fg_buf_free(&out);
	sip_stream_free(s);
	return r;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 300000;
	const char *only = argc > 2 ? argv[2] : "";
	if (n <= 0)
		n = 300000;
	size_t rlen = 0;
	if (!*only || strcmp(only, "parse") == 0)
		printf("stream feed+parse+free  %8.1f ns/msg\n", bench_parse(n));
	if (!*only || strcmp(only, "202") == 0) {
		double t = bench_202(n, &rlen);
		printf("202 build (%zu bytes)  %8.1f ns/msg\n", rlen, t);
	}
	if (!*only || strcmp(only, "token") == 0)
		printf("to-tag (8 bytes)        %8.1f ns/msg\n", bench_token(n));
	if (!*only || strcmp(only, "txn") == 0)
		printf("server txn new+202+free %8.1f ns/msg\n", bench_txn(n));
	if (!*only || strcmp(only, "half") == 0)
		printf("SIP half, all of it     %8.1f ns/msg\n", bench_half(n));
	return 0;
}
