/* s2s helpers: the per-domain stanza queue, RFC 6120 §8.3.3 bounce rules, setting parsers
 * and one-stanza parsing; pure code, unit-tested without sockets. */
#include "s2s/s2s_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum fg_err s2s__queue_push(struct s2s_queue *q, size_t max, const uint8_t *data, size_t len,
                            s2s_sent_cb cb, void *ctx)
{
	if (q->n >= max)
		return FG_ERR_TOOBIG;
	if (len > SIZE_MAX - sizeof(struct s2s_item))
		return FG_ERR_TOOBIG;
	struct s2s_item *it = malloc(sizeof(*it) + (len ? len : 1));
	if (it == NULL)
		return FG_ERR_NOMEM;
	it->data = (uint8_t *)(it + 1);
	it->routed = false;
	it->next = NULL;
	memcpy(it->data, data, len);
	it->len = len;
	it->cb = cb;
	it->ctx = ctx;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n++;
	return FG_OK;
}

size_t s2s__queue_cap(size_t queue_max, const char *type)
{
	return type != NULL && strcmp(type, "error") == 0 ? queue_max * S2S_ERROR_QUEUE_FACTOR
	                                                  : queue_max;
}

struct s2s_item *s2s__queue_pop(struct s2s_queue *q)
{
	struct s2s_item *it = q->head;
	if (it == NULL)
		return NULL;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	it->next = NULL;
	return it;
}

void s2s__item_free(struct s2s_item *it)
{
	if (it == NULL)
		return;
	free(it);
}

enum xmpp_stanza_cond s2s__fail_cond(enum s2s_fail f)
{
	switch (f) {
	case S2S_FAIL_TIMEOUT:
		return XMPP_SC_REMOTE_SERVER_TIMEOUT;
	case S2S_FAIL_POLICY:
		return XMPP_SC_POLICY_VIOLATION;
	case S2S_FAIL_SHUTDOWN:
		return XMPP_SC_SERVICE_UNAVAILABLE;
	case S2S_FAIL_NONE:
	case S2S_FAIL_DNS:
	case S2S_FAIL_REFUSED:
	case S2S_FAIL_TLS:
	case S2S_FAIL_AUTH:
		break;
	}
	/* RFC 6120 §8.3.3.16: the remote server cannot be resolved or reached */
	return XMPP_SC_REMOTE_SERVER_NOT_FOUND;
}

const char *s2s__fail_name(enum s2s_fail f)
{
	static const char *const names[] = {"none",    "DNS failure", "connection refused",
	                                    "timeout", "TLS failure", "authentication failure",
	                                    "policy",  "shutdown"};
	if ((unsigned)f >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[f];
}

enum s2s_fail s2s__resolve_fail(enum resolve_status st)
{
	switch (st) {
	case RESOLVE_OK:
		return S2S_FAIL_NONE;
	case RESOLVE_TIMEOUT:
		return S2S_FAIL_TIMEOUT;
	case RESOLVE_NODATA:
	case RESOLVE_NXDOMAIN:
	case RESOLVE_SERVFAIL:
	case RESOLVE_ERROR:
		break;
	}
	return S2S_FAIL_DNS;
}

size_t s2s__split_list(const char *s, char (*out)[DB_DOMAIN_MAX], size_t max)
{
	size_t n = 0;
	if (s == NULL)
		return 0;
	while (*s != '\0' && n < max) {
		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		size_t len = strcspn(s, ", \t\r\n");
		if (len == 0)
			break;
		if (len < DB_DOMAIN_MAX) {
			memcpy(out[n], s, len);
			out[n][len] = '\0';
			n++;
		}
		s += len;
	}
	return n;
}

bool s2s__parse_bool(const char *s, bool dflt)
{
	if (s == NULL)
		return dflt;
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcasecmp(s, "on") == 0)
		return true;
	if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcasecmp(s, "no") == 0 ||
	    strcasecmp(s, "off") == 0)
		return false;
	return dflt;
}

enum xmpp_tls_mode s2s__parse_tls_mode(const char *s, enum xmpp_tls_mode dflt)
{
	if (s == NULL)
		return dflt;
	if (strcasecmp(s, "off") == 0 || strcasecmp(s, "none") == 0)
		return XMPP_TLS_OFF;
	if (strcasecmp(s, "optional") == 0)
		return XMPP_TLS_OPTIONAL;
	if (strcasecmp(s, "required") == 0)
		return XMPP_TLS_REQUIRED;
	return dflt;
}

const char *s2s__tls_mode_name(enum xmpp_tls_mode m)
{
	switch (m) {
	case XMPP_TLS_OFF:
		return "off";
	case XMPP_TLS_OPTIONAL:
		return "optional";
	case XMPP_TLS_REQUIRED:
		return "required";
	}
	return "unknown";
}

const char *s2s__auth_name(enum xmpp_auth_method m)
{
	switch (m) {
	case XMPP_AUTH_NONE:
		return "none";
	case XMPP_AUTH_SASL_EXTERNAL:
		return "SASL EXTERNAL";
	case XMPP_AUTH_DIALBACK:
		return "dialback";
	}
	return "unknown";
}

enum xmpp_tls_mode s2s__tls_for_peer(enum xmpp_tls_mode global, const struct db_allow_entry *a)
{
	if (a == NULL)
		return global;
	switch (a->tls) {
	case DB_TLS_OFF:
		return XMPP_TLS_OFF;
	case DB_TLS_OPTIONAL:
		return XMPP_TLS_OPTIONAL;
	case DB_TLS_REQUIRED:
		return XMPP_TLS_REQUIRED;
	}
	return global;
}

void s2s__fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

void s2s__json_escape(struct fg_buf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			(void)fg_buf_printf(out, "\\%c", ch);
		else if (ch < 0x20)
			(void)fg_buf_printf(out, "\\u%04x", ch);
		else
			(void)fg_buf_append(out, &ch, 1);
	}
}

bool s2s__is_error_stanza(const struct xmpp_node *n)
{
	const char *type = xmpp_node_attr(n, "type");
	return type != NULL && strcmp(type, "error") == 0;
}

/* ---- one stanza from bytes -------------------------------------------------------------- */

struct parse_ctx {
	s2s_node_cb cb;
	void *ctx;
	int seen;
};

static bool parse_header_cb(void *ctx, const struct xmpp_stream_header *hdr)
{
	(void)ctx;
	(void)hdr;
	return true;
}

static bool parse_stanza_cb(void *ctx, const struct xmpp_node *n)
{
	struct parse_ctx *p = *(struct parse_ctx **)ctx;
	if (p->seen++ == 0)
		p->cb(p->ctx, n);
	return true;
}

static void parse_close_cb(void *ctx)
{
	(void)ctx;
}

/* Parsers kept between calls (creating an expat parser per stanza costs more than the
 * routing); one per nesting level, since routing a stanza can route another (a bounce, a
 * local answer) from inside the callback. Deeper nesting gets a parser of its own. */
#define PARSE_POOL 4
static struct xmpp_stream *pool[PARSE_POOL];
static struct parse_ctx *pool_ctx[PARSE_POOL];
static int depth;

static const struct xmpp_stream_ops parse_ops = {parse_header_cb, parse_stanza_cb, parse_close_cb};
static const char parse_hdr[] = "<stream:stream xmlns='jabber:server' "
                                "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

enum fg_err s2s__parse_stanza(const uint8_t *data, size_t len, s2s_node_cb cb, void *ctx)
{
	struct parse_ctx p = {cb, ctx, 0};
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER,
	                                 .max_stanza_bytes = S2S_MAX_SEND_BYTES};
	struct xmpp_stream *s = NULL, *own = NULL;
	struct parse_ctx *slot = &p, **slotp = &slot;
	enum fg_err err = FG_OK;
	if (len > S2S_MAX_SEND_BYTES)
		return FG_ERR_TOOBIG;
	int level = depth;
	if (level < PARSE_POOL) {
		slotp = &pool_ctx[level];
		*slotp = &p;
		if (pool[level] == NULL)
			err = xmpp_stream_new(&pool[level], &cfg, &parse_ops, slotp);
		else
			err = xmpp_stream_restart(pool[level]);
		s = pool[level];
	} else {
		err = xmpp_stream_new(&own, &cfg, &parse_ops, slotp);
		s = own;
	}
	if (err != FG_OK) {
		if (level < PARSE_POOL) {
			xmpp_stream_free(pool[level]);
			pool[level] = NULL;
		}
		return err;
	}
	depth++;
	enum xmpp_stream_error se =
	    xmpp_stream_feed(s, (const uint8_t *)parse_hdr, sizeof(parse_hdr) - 1);
	if (se == XMPP_SE_NONE)
		se = xmpp_stream_feed(s, data, len);
	depth--;
	if (level < PARSE_POOL && (se != XMPP_SE_NONE || xmpp_stream_is_closed(s))) {
		/* a stream that failed is not reused */
		xmpp_stream_free(pool[level]);
		pool[level] = NULL;
	}
	xmpp_stream_free(own);
	if (p.seen == 0)
		return FG_ERR_PARSE;
	return FG_OK;
}

void s2s__parse_cleanup(void)
{
	for (int i = 0; i < PARSE_POOL; i++) {
		xmpp_stream_free(pool[i]);
		pool[i] = NULL;
	}
}
