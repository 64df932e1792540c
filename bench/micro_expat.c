/* micro_expat: ns per stanza that XML parsing alone costs in the XMPP -> SIP relay, over
 * the stanza Prosody relays in the benchmark (docs/bench-sip.md), fed in reads of 1 and of
 * 8 stanzas as the s2s socket gives them:
 *   "expat": expat on its own, created as fedgw's stream creates it (UTF-8, namespace
 *            processing) with handlers that do nothing: the least any expat-based gateway
 *            pays per stanza;
 *   "stream": fedgw's XMPP stream (expat, its checks and the stanza's tree), the stanza
 *            handed to a callback that does nothing.
 *   micro_expat [iterations]     (by hand, never in CI) */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro.h"
#include "xmpp/xmpp.h"

static const char stream_head[] =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "to='sip.test' from='prosody.test' id='f8c1e3' version='1.0'>";

/* a stanza as Prosody 0.12 relays xload.py's message */
static const char stanza[] =
    "<message type='chat' id='xf2000-7' to='u7@sip.test' from='load@prosody.test/xload'>"
    "<body>r=xf2000 n=7 t=1763762400.123456</body></message>";

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	(void)ud;
	(void)name;
	(void)atts;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	(void)ud;
	(void)name;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	(void)ud;
	(void)s;
	(void)len;
}

static long stanzas_seen;

static bool header_cb(void *ctx, const struct xmpp_stream_header *hdr)
{
	(void)ctx;
	(void)hdr;
	return true;
}

static bool stanza_cb(void *ctx, const struct xmpp_node *n)
{
	(void)ctx;
	(void)n;
	stanzas_seen++;
	return true;
}

static void close_cb(void *ctx)
{
	(void)ctx;
}

static double run_expat(const char *chunk, size_t len, long reads)
{
	XML_Parser p = XML_ParserCreateNS("UTF-8", '\x01');
	if (p == NULL)
		exit(1);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	if (XML_Parse(p, stream_head, (int)strlen(stream_head), XML_FALSE) != XML_STATUS_OK)
		exit(1);
	double t0 = now_ns();
	for (long i = 0; i < reads; i++)
		if (XML_Parse(p, chunk, (int)len, XML_FALSE) != XML_STATUS_OK) {
			fprintf(stderr, "expat: %s\n", XML_ErrorString(XML_GetErrorCode(p)));
			exit(1);
		}
	double t1 = now_ns();
	XML_ParserFree(p);
	return t1 - t0;
}

static double run_stream(const char *chunk, size_t len, long reads, long per_read)
{
	static const struct xmpp_stream_ops ops = {header_cb, stanza_cb, close_cb};
	struct xmpp_stream_config cfg = {
	    .content_ns = XMPP_NS_SERVER, .max_stanza_bytes = 262144, .own_pages = true};
	struct xmpp_stream *s;
	if (xmpp_stream_new(&s, &cfg, &ops, NULL) != FG_OK)
		exit(1);
	if (xmpp_stream_feed(s, (const uint8_t *)stream_head, strlen(stream_head)) != XMPP_SE_NONE)
		exit(1);
	stanzas_seen = 0;
	double t0 = now_ns();
	for (long i = 0; i < reads; i++)
		if (xmpp_stream_feed(s, (const uint8_t *)chunk, len) != XMPP_SE_NONE) {
			fprintf(stderr, "stream: %s\n", xmpp_stream_error_text(s));
			exit(1);
		}
	double t1 = now_ns();
	if (stanzas_seen != reads * per_read) {
		fprintf(stderr, "stream: %ld stanzas of %ld\n", stanzas_seen, reads * per_read);
		exit(1);
	}
	xmpp_stream_free(s);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 400000;
	if (iters < 8)
		iters = 8;
	static const long per_read[] = {1, 8};
	for (size_t k = 0; k < sizeof(per_read) / sizeof(per_read[0]); k++) {
		long n = per_read[k];
		size_t one = strlen(stanza);
		char *chunk = malloc(one * (size_t)n);
		if (chunk == NULL)
			return 1;
		for (long i = 0; i < n; i++)
			memcpy(chunk + (size_t)i * one, stanza, one);
		long reads = iters / n;
		(void)run_expat(chunk, one * (size_t)n, reads / 10); /* warm up */
		double te = run_expat(chunk, one * (size_t)n, reads);
		(void)run_stream(chunk, one * (size_t)n, reads / 10, n);
		double ts = run_stream(chunk, one * (size_t)n, reads, n);
		printf("%ld stanza(s) per read, %zu bytes each: expat %.0f ns/stanza, "
		       "stream %.0f ns/stanza\n",
		       n, one, te / (double)(reads * n), ts / (double)(reads * n));
		free(chunk);
	}
	return 0;
}
