/* xmpp stream: expat push parser for one XML stream with RFC 6120 §4 header checks, §11
 * restricted XML, per-stanza DOM and size/depth limits (§4.9.3.14 policy-violation). */
#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "xmpp/xmpp_internal.h"

/* expat joins "namespace-URI SEP local-name"; U+0001 cannot appear in XML 1.0 names/URIs. */
#define NS_SEP '\x01'
/* Bytes handed to expat per call, so that limits are checked at a fine grain. */
#define FEED_SLICE 4096u
/* The peer's stream header start tag kept to rebuild a compacted stream's parser: a header
 * is a few hundred bytes; one above this (many namespace declarations) keeps its parser. */
#define RAW_HEADER_MAX 2048u

/* expat's memory for one parser comes first from pages of its own (parser_create): a
 * parser makes about 40 small allocations (10 kB after a header and a few stanzas), which
 * freed one by one leave holes between other sessions' objects that the C library never
 * gives back; unmapped as one block on compaction, they are returned to the system. */
#define SLAB_BYTES  12288u /* three pages: a parser's usual needs; beyond, plain malloc */
#define SLAB_ALIGN  16u    /* max_align_t */
#define SLAB_HEADER 16u    /* each piece's size, kept for realloc */
#define NO_PIECE    SIZE_MAX

struct slab {
	uint8_t *base;
	size_t used;
	size_t last; /* offset of the newest piece (it alone can grow or be given back);
	              * NO_PIECE when it was given back */
};

/* expat's allocation hooks take no context: the slab of the parser being called, set
 * around every expat call that may allocate or free (slab_enter / slab_leave). */
static _Thread_local struct slab *cur_slab;

static bool in_slab(const struct slab *sl, const void *p)
{
	return sl != NULL && (const uint8_t *)p >= sl->base &&
	       (const uint8_t *)p < sl->base + SLAB_BYTES;
}

static size_t piece_size(const void *p)
{
	size_t n;
	memcpy(&n, (const uint8_t *)p - SLAB_HEADER, sizeof(n));
	return n;
}

static void *slab_malloc(size_t n)
{
	struct slab *sl = cur_slab;
	size_t need = SLAB_HEADER + ((n + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1));
	if (sl == NULL || n > SLAB_BYTES || need > SLAB_BYTES - sl->used)
		return malloc(n);
	uint8_t *p = sl->base + sl->used + SLAB_HEADER;
	memcpy(p - SLAB_HEADER, &n, sizeof(n));
	sl->last = sl->used;
	sl->used += need;
	return p;
}

static void slab_free(void *p)
{
	struct slab *sl = cur_slab;
	if (!in_slab(sl, p)) {
		free(p);
		return;
	}
	/* only the newest piece goes back; the others wait for the whole block */
	if (sl->last != NO_PIECE && (uint8_t *)p - SLAB_HEADER == sl->base + sl->last) {
		sl->used = sl->last;
		sl->last = NO_PIECE;
	}
}

static void *slab_realloc(void *p, size_t n)
{
	struct slab *sl = cur_slab;
	if (p == NULL)
		return slab_malloc(n);
	if (!in_slab(sl, p))
		return realloc(p, n);
	size_t old = piece_size(p);
	size_t need = SLAB_HEADER + ((n + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1));
	if (sl->last != NO_PIECE && (uint8_t *)p - SLAB_HEADER == sl->base + sl->last &&
	    n <= SLAB_BYTES && need <= SLAB_BYTES - sl->last) {
		memcpy((uint8_t *)p - SLAB_HEADER, &n, sizeof(n));
		sl->used = sl->last + need;
		return p;
	}
	void *q = slab_malloc(n);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	slab_free(p);
	return q;
}

static const XML_Memory_Handling_Suite slab_suite = {slab_malloc, slab_realloc, slab_free};

struct xmpp_stream {
	XML_Parser parser;
	struct slab slab; /* base NULL while no parser exists */
	struct xmpp_stream_config cfg;
	const struct xmpp_stream_ops *ops;
	void *ctx;

	enum xmpp_stream_error err;
	const char *err_text;
	bool in_parse;
	bool halted;
	bool closed;
	bool header_seen;
	bool content_ns_ok; /* default namespace on the header was cfg.content_ns */
	bool dialback_ns;

	size_t depth;  /* 0: before header, 1: in stream, >= 2: inside a stanza */
	uint64_t fed;  /* bytes given to this parser since the last reset */
	uint64_t mark; /* where the pending stanza (or inter-stanza gap) starts */
	uint8_t utf8_tail[4];
	size_t utf8_tail_len;

	struct xmpp__arena arena;
	struct xmpp_node *root;
	struct xmpp_node *cur;
	size_t n_elements;
	struct fg_buf text;

	/* Compaction (xmpp_stream_compact): between stanzas the parser (about 10 kB of expat
	 * state, pools and buffer) is freed; the next feed creates one and replays the peer's
	 * header start tag to it, so that its namespace bindings and element name hold. */
	uint8_t *raw_header; /* exact copy of the header start tag; NULL if not kept */
	size_t raw_header_len;
	int64_t shift;  /* parser byte index + shift = offset in fed (the replay is not fed) */
	bool replaying; /* callbacks ignore the replayed header */
};

static const char *const se_names[XMPP_SE__COUNT] = {
    [XMPP_SE_NONE] = "",
    [XMPP_SE_BAD_FORMAT] = "bad-format",
    [XMPP_SE_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
    [XMPP_SE_CONFLICT] = "conflict",
    [XMPP_SE_CONNECTION_TIMEOUT] = "connection-timeout",
    [XMPP_SE_HOST_GONE] = "host-gone",
    [XMPP_SE_HOST_UNKNOWN] = "host-unknown",
    [XMPP_SE_IMPROPER_ADDRESSING] = "improper-addressing",
    [XMPP_SE_INTERNAL_SERVER_ERROR] = "internal-server-error",
    [XMPP_SE_INVALID_FROM] = "invalid-from",
    [XMPP_SE_INVALID_NAMESPACE] = "invalid-namespace",
    [XMPP_SE_INVALID_XML] = "invalid-xml",
    [XMPP_SE_NOT_AUTHORIZED] = "not-authorized",
    [XMPP_SE_NOT_WELL_FORMED] = "not-well-formed",
    [XMPP_SE_POLICY_VIOLATION] = "policy-violation",
    [XMPP_SE_REMOTE_CONNECTION_FAILED] = "remote-connection-failed",
    [XMPP_SE_RESET] = "reset",
    [XMPP_SE_RESOURCE_CONSTRAINT] = "resource-constraint",
    [XMPP_SE_RESTRICTED_XML] = "restricted-xml",
    [XMPP_SE_SEE_OTHER_HOST] = "see-other-host",
    [XMPP_SE_SYSTEM_SHUTDOWN] = "system-shutdown",
    [XMPP_SE_UNDEFINED_CONDITION] = "undefined-condition",
    [XMPP_SE_UNSUPPORTED_ENCODING] = "unsupported-encoding",
    [XMPP_SE_UNSUPPORTED_FEATURE] = "unsupported-feature",
    [XMPP_SE_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
    [XMPP_SE_UNSUPPORTED_VERSION] = "unsupported-version",
};

const char *xmpp_stream_error_name(enum xmpp_stream_error e)
{
	if ((unsigned)e >= XMPP_SE__COUNT)
		return "undefined-condition";
	return se_names[e];
}

enum xmpp_stream_error xmpp_stream_error_parse(const char *name)
{
	for (unsigned i = 1; i < XMPP_SE__COUNT; i++) {
		if (strcmp(se_names[i], name) == 0)
			return (enum xmpp_stream_error)i;
	}
	return XMPP_SE_UNDEFINED_CONDITION;
}

static void fail(struct xmpp_stream *s, enum xmpp_stream_error e, const char *text)
{
	if (s->err == XMPP_SE_NONE) {
		s->err = e;
		s->err_text = text;
	}
	if (s->in_parse)
		XML_StopParser(s->parser, XML_FALSE);
}

/* Splits an expat "uri SEP local" name; ns is "" for unqualified names. */
static void split_name(const char *full, const char **ns, size_t *ns_len, const char **local)
{
	const char *sep = strchr(full, NS_SEP);
	if (sep == NULL) {
		*ns = "";
		*ns_len = 0;
		*local = full;
	} else {
		*ns = full;
		*ns_len = (size_t)(sep - full);
		*local = sep + 1;
	}
}

static struct slab *slab_enter(struct xmpp_stream *s)
{
	struct slab *prev = cur_slab;
	cur_slab = s->slab.base != NULL ? &s->slab : NULL;
	return prev;
}

static void slab_leave(struct slab *prev)
{
	cur_slab = prev;
}

/* A new parser in a fresh block (or plain malloc if the block cannot be had). */
static XML_Parser parser_create(struct xmpp_stream *s)
{
	/* without the mapping (e.g. the process's map count is exhausted) expat uses malloc */
	void *m = MAP_FAILED;
	if (s->cfg.own_pages)
		m = mmap(NULL, SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		         0);
	s->slab.base = m != MAP_FAILED ? m : NULL;
	s->slab.used = 0;
	s->slab.last = NO_PIECE;
	struct slab *prev = slab_enter(s);
	/* RFC 6120 §11.6: the encoding is forced to UTF-8 whatever the document declares */
	XML_Parser p = XML_ParserCreate_MM("UTF-8", &slab_suite, (const XML_Char[]){NS_SEP, 0});
	slab_leave(prev);
	return p;
}

static void parser_free(struct xmpp_stream *s)
{
	if (s->parser != NULL) {
		struct slab *prev = slab_enter(s);
		XML_ParserFree(s->parser);
		slab_leave(prev);
		s->parser = NULL;
	}
	if (s->slab.base != NULL)
		munmap(s->slab.base, SLAB_BYTES);
	s->slab.base = NULL;
}

static uint64_t event_end(struct xmpp_stream *s)
{
	return (uint64_t)((int64_t)XML_GetCurrentByteIndex(s->parser) +
	                  (int64_t)XML_GetCurrentByteCount(s->parser) + s->shift);
}

/* Keeps the bytes of the header start tag being reported, from expat's own input context
 * (absent without XML_CONTEXT_BYTES: the stream then never compacts). */
static void keep_raw_header(struct xmpp_stream *s)
{
	int off = 0, size = 0;
	const char *ctx = XML_GetInputContext(s->parser, &off, &size);
	int count = XML_GetCurrentByteCount(s->parser);
	free(s->raw_header);
	s->raw_header = NULL;
	s->raw_header_len = 0;
	if (ctx == NULL || count <= 0 || off < 0 || off > size || count > size - off ||
	    (size_t)count > RAW_HEADER_MAX)
		return;
	s->raw_header = malloc((size_t)count);
	if (s->raw_header == NULL)
		return;
	memcpy(s->raw_header, ctx + off, (size_t)count);
	s->raw_header_len = (size_t)count;
}

static bool flush_text(struct xmpp_stream *s)
{
	if (s->text.len == 0 || s->cur == NULL)
		return true;
	struct xmpp_node *t = xmpp__arena_alloc(&s->arena, sizeof(*t));
	if (t == NULL)
		goto nomem;
	memset(t, 0, sizeof(*t));
	t->ns = "";
	t->text = xmpp__arena_strndup(&s->arena, (const char *)s->text.data, s->text.len);
	if (t->text == NULL)
		goto nomem;
	t->text_len = s->text.len;
	t->parent = s->cur;
	if (s->cur->last_child != NULL)
		s->cur->last_child->next = t;
	else
		s->cur->children = t;
	s->cur->last_child = t;
	fg_buf_reset(&s->text);
	return true;
nomem:
	fail(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
	return false;
}

static void handle_header(struct xmpp_stream *s, const char *ns, size_t ns_len, const char *local,
                          const XML_Char **atts)
{
	/* RFC 6120 §4.8.1: the stream element lives in the streams namespace */
	if (ns_len != strlen(XMPP_NS_STREAMS) || strncmp(ns, XMPP_NS_STREAMS, ns_len) != 0 ||
	    strcmp(local, "stream") != 0) {
		fail(s, XMPP_SE_INVALID_NAMESPACE, "not a stream element");
		return;
	}
	/* RFC 6120 §4.8.2: the content namespace must be declared and be ours */
	if (!s->content_ns_ok) {
		fail(s, XMPP_SE_INVALID_NAMESPACE, "wrong content namespace");
		return;
	}
	struct xmpp_stream_header h = {.dialback_ns = s->dialback_ns};
	for (size_t i = 0; atts[i] != NULL; i += 2) {
		const char *ans, *alocal;
		size_t ans_len;
		split_name(atts[i], &ans, &ans_len, &alocal);
		const char *v = atts[i + 1];
		if (ans_len == 0) {
			if (strcmp(alocal, "to") == 0)
				h.to = v;
			else if (strcmp(alocal, "from") == 0)
				h.from = v;
			else if (strcmp(alocal, "id") == 0)
				h.id = v;
			else if (strcmp(alocal, "version") == 0)
				h.version = v;
		} else if (ans_len == strlen(XMPP_NS_XML) &&
		           strncmp(ans, XMPP_NS_XML, ans_len) == 0 && strcmp(alocal, "lang") == 0) {
			h.lang = v;
		}
	}
	/* RFC 6120 §4.7.5: we speak 1.0 only; a major version above 1 is unsupported, a
	 * missing version means a pre-RFC 3920 peer, which cannot negotiate TLS either */
	if (h.version == NULL || strncmp(h.version, "1.", 2) != 0 ||
	    strspn(h.version + 2, "0123456789") != strlen(h.version + 2) || h.version[2] == '\0') {
		fail(s, XMPP_SE_UNSUPPORTED_VERSION, "version 1.0 required");
		return;
	}
	if (h.to != NULL && strlen(h.to) > XMPP_MAX_DOMAIN) {
		fail(s, XMPP_SE_HOST_UNKNOWN, "'to' too long");
		return;
	}
	if (h.from != NULL && strlen(h.from) > XMPP_MAX_DOMAIN) {
		fail(s, XMPP_SE_INVALID_FROM, "'from' too long");
		return;
	}
	if (h.id != NULL && strlen(h.id) > XMPP_MAX_STREAM_ID) {
		fail(s, XMPP_SE_BAD_FORMAT, "stream id too long");
		return;
	}
	s->header_seen = true;
	s->depth = 1;
	s->mark = event_end(s);
	keep_raw_header(s);
	if (s->ops->header_cb != NULL && !s->ops->header_cb(s->ctx, &h))
		xmpp_stream_halt(s);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xmpp_stream *s = ud;
	const char *ns, *local;
	size_t ns_len;
	if (s->err != XMPP_SE_NONE || s->halted)
		return;
	if (s->replaying) {
		/* the header was checked and reported when the peer sent it */
		s->depth = 1;
		return;
	}
	split_name(name, &ns, &ns_len, &local);
	if (s->depth == 0) {
		handle_header(s, ns, ns_len, local, atts);
		return;
	}
	size_t n_atts = 0;
	while (atts[n_atts * 2] != NULL)
		n_atts++;
	if (n_atts > s->cfg.max_attrs) {
		fail(s, XMPP_SE_POLICY_VIOLATION, "too many attributes");
		return;
	}
	if (s->depth - 1 >= s->cfg.max_depth) {
		fail(s, XMPP_SE_POLICY_VIOLATION, "elements nested too deep");
		return;
	}
	if (++s->n_elements > XMPP_MAX_ELEMENTS) {
		fail(s, XMPP_SE_POLICY_VIOLATION, "too many elements in one stanza");
		return;
	}
	if (!flush_text(s))
		return;
	struct xmpp_node *n = xmpp__arena_alloc(&s->arena, sizeof(*n));
	if (n == NULL)
		goto nomem;
	memset(n, 0, sizeof(*n));
	n->ns = xmpp__arena_strndup(&s->arena, ns, ns_len);
	n->name = xmpp__arena_strndup(&s->arena, local, strlen(local));
	if (n->ns == NULL || n->name == NULL)
		goto nomem;
	struct xmpp_attr **tail = &n->attrs;
	for (size_t i = 0; i < n_atts; i++) {
		const char *ans, *alocal;
		size_t ans_len;
		split_name(atts[2 * i], &ans, &ans_len, &alocal);
		struct xmpp_attr *a = xmpp__arena_alloc(&s->arena, sizeof(*a));
		if (a == NULL)
			goto nomem;
		a->ns = xmpp__arena_strndup(&s->arena, ans, ans_len);
		a->name = xmpp__arena_strndup(&s->arena, alocal, strlen(alocal));
		a->value = xmpp__arena_strndup(&s->arena, atts[2 * i + 1], strlen(atts[2 * i + 1]));
		if (a->ns == NULL || a->name == NULL || a->value == NULL)
			goto nomem;
		a->next = NULL;
		*tail = a;
		tail = &a->next;
	}
	if (s->depth == 1) {
		s->root = n;
	} else {
		n->parent = s->cur;
		if (s->cur->last_child != NULL)
			s->cur->last_child->next = n;
		else
			s->cur->children = n;
		s->cur->last_child = n;
	}
	s->cur = n;
	s->depth++;
	return;
nomem:
	fail(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct xmpp_stream *s = ud;
	(void)name;
	if (s->err != XMPP_SE_NONE || s->halted)
		return;
	if (s->depth == 1) {
		/* </stream:stream> (RFC 6120 §4.4) */
		s->depth = 0;
		s->closed = true;
		if (s->in_parse)
			XML_StopParser(s->parser, XML_FALSE);
		if (s->ops->close_cb != NULL)
			s->ops->close_cb(s->ctx);
		return;
	}
	if (!flush_text(s))
		return;
	s->depth--;
	s->cur = s->cur->parent;
	if (s->depth > 1)
		return;
	/* a complete stanza */
	uint64_t end = event_end(s);
	if (end - s->mark > s->cfg.max_stanza_bytes) {
		fail(s, XMPP_SE_POLICY_VIOLATION, "stanza too large");
		return;
	}
	s->mark = end;
	struct xmpp_node *root = s->root;
	s->root = NULL;
	s->cur = NULL;
	bool go_on = s->ops->stanza_cb == NULL || s->ops->stanza_cb(s->ctx, root);
	xmpp__arena_recycle(&s->arena);
	s->n_elements = 0;
	if (!go_on)
		xmpp_stream_halt(s);
}

static void XMLCALL on_text(void *ud, const XML_Char *txt, int len)
{
	struct xmpp_stream *s = ud;
	if (s->err != XMPP_SE_NONE || s->halted || len <= 0)
		return;
	if (s->depth == 1) {
		/* RFC 6120 §4.6.1: whitespace keepalives between stanzas; nothing else */
		for (int i = 0; i < len; i++) {
			if (txt[i] != ' ' && txt[i] != '\t' && txt[i] != '\r' && txt[i] != '\n') {
				fail(s, XMPP_SE_BAD_FORMAT, "text at stream level");
				return;
			}
		}
		s->mark = event_end(s);
		return;
	}
	if (s->depth < 1)
		return;
	if (fg_buf_append(&s->text, txt, (size_t)len) != FG_OK)
		fail(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
}

static void XMLCALL on_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
	struct xmpp_stream *s = ud;
	if (s->depth != 0 || uri == NULL)
		return;
	if (prefix == NULL && strcmp(uri, s->cfg.content_ns) == 0)
		s->content_ns_ok = true;
	if (prefix != NULL && strcmp(prefix, "db") == 0 && strcmp(uri, XMPP_NS_DIALBACK) == 0)
		s->dialback_ns = true;
}

/* RFC 6120 §11.1: refuse restricted XML features as soon as the parser sees them, before
 * any entity could be expanded. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
	fail(ud, XMPP_SE_RESTRICTED_XML, "DOCTYPE not allowed");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
	fail(ud, XMPP_SE_RESTRICTED_XML, "entity declaration not allowed");
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
	fail(ud, XMPP_SE_RESTRICTED_XML, "comments not allowed");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	fail(ud, XMPP_SE_RESTRICTED_XML, "processing instructions not allowed");
}

static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int is_param)
{
	fail(ud, XMPP_SE_RESTRICTED_XML, "entity references not allowed");
}

static void XMLCALL on_xmldecl(void *ud, const XML_Char *version, const XML_Char *encoding,
                               int standalone)
{
	struct xmpp_stream *s = ud;
	/* RFC 6120 §11.6: UTF-8 only */
	if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		fail(s, XMPP_SE_UNSUPPORTED_ENCODING, "only UTF-8 is supported");
	/* an XML declaration is legitimate only before the stream header */
	else if (s->depth != 0)
		fail(s, XMPP_SE_RESTRICTED_XML, "misplaced XML declaration");
}

static enum fg_err setup_parser(struct xmpp_stream *s)
{
	XML_Parser p = s->parser;
	XML_SetUserData(p, s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetStartNamespaceDeclHandler(p, on_ns_start);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity_decl);
	XML_SetCommentHandler(p, on_comment);
	XML_SetProcessingInstructionHandler(p, on_pi);
	XML_SetSkippedEntityHandler(p, on_skipped_entity);
	XML_SetXmlDeclHandler(p, on_xmldecl);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef FEDGW_HAVE_XML_REPARSE_DEFERRAL
	/* NOTES.md: otherwise tokens split across reads sit unparsed (CVE-2023-52425 fix) */
	XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
	return FG_OK;
}

enum fg_err xmpp_stream_new(struct xmpp_stream **out, const struct xmpp_stream_config *cfg,
                            const struct xmpp_stream_ops *ops, void *ctx)
{
	*out = NULL;
	if (cfg == NULL || ops == NULL)
		return FG_ERR_INVAL;
	struct xmpp_stream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return FG_ERR_NOMEM;
	s->cfg = *cfg;
	if (s->cfg.content_ns == NULL)
		s->cfg.content_ns = XMPP_NS_SERVER;
	if (s->cfg.max_stanza_bytes == 0)
		s->cfg.max_stanza_bytes = XMPP_MAX_STANZA_BYTES_PREAUTH;
	if (s->cfg.max_depth == 0)
		s->cfg.max_depth = XMPP_MAX_DEPTH;
	if (s->cfg.max_attrs == 0)
		s->cfg.max_attrs = XMPP_MAX_ATTRS;
	if (s->cfg.max_preheader == 0)
		s->cfg.max_preheader = XMPP_MAX_PREHEADER_BYTES;
	s->ops = ops;
	s->ctx = ctx;
	s->parser = parser_create(s);
	if (s->parser == NULL) {
		parser_free(s);
		free(s);
		return FG_ERR_NOMEM;
	}
	setup_parser(s);
	*out = s;
	return FG_OK;
}

void xmpp_stream_free(struct xmpp_stream *s)
{
	if (s == NULL)
		return;
	parser_free(s);
	xmpp__arena_reset(&s->arena);
	fg_buf_free(&s->text);
	free(s->raw_header);
	free(s);
}

static enum xmpp_stream_error map_expat_error(enum XML_Error e)
{
	switch (e) {
	case XML_ERROR_UNDEFINED_ENTITY:
	case XML_ERROR_RECURSIVE_ENTITY_REF:
	case XML_ERROR_BINARY_ENTITY_REF:
	case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
	case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
	case XML_ERROR_ENTITY_DECLARED_IN_PE:
	case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
		return XMPP_SE_RESTRICTED_XML;
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		return XMPP_SE_UNSUPPORTED_ENCODING;
	case XML_ERROR_UNBOUND_PREFIX:
		return XMPP_SE_BAD_NAMESPACE_PREFIX;
	case XML_ERROR_NO_MEMORY:
		return XMPP_SE_RESOURCE_CONSTRAINT;
	default:
		return XMPP_SE_NOT_WELL_FORMED;
	}
}

/* Length of the longest prefix of buf that is valid UTF-8 given the carried tail, stopping
 * before an incomplete trailing sequence (*incomplete set) or an invalid byte. */
static size_t utf8_scan(const uint8_t *buf, size_t len, bool *invalid, size_t *incomplete)
{
	size_t i = 0;
	*invalid = false;
	*incomplete = 0;
	while (i < len) {
		/* ASCII, most of a stream, eight bytes at a time */
		while (len - i >= 8) {
			uint64_t w;
			memcpy(&w, buf + i, 8);
			if ((w & UINT64_C(0x8080808080808080)) != 0)
				break;
			i += 8;
		}
		if (i == len)
			break;
		uint8_t b = buf[i];
		size_t n = b < 0x80             ? 1
		           : (b & 0xe0) == 0xc0 ? 2
		           : (b & 0xf0) == 0xe0 ? 3
		           : (b & 0xf8) == 0xf0 ? 4
		                                : 0;
		if (n == 0) {
			*invalid = true;
			return i;
		}
		if (i + n > len) {
			/* check what we have of it so far */
			for (size_t k = i + 1; k < len; k++) {
				if ((buf[k] & 0xc0) != 0x80) {
					*invalid = true;
					return i;
				}
			}
			*incomplete = len - i;
			return i;
		}
		/* overlong, surrogate or beyond U+10FFFF; the checker also refuses
		 * U+FFFE/U+FFFF, which are not XML characters either */
		if (n > 1 && !xmpp__xml_chars_ok(buf + i, n)) {
			*invalid = true;
			return i;
		}
		i += n;
	}
	return i;
}

/* A parser for a compacted stream: the peer's header start tag replayed, offsets mapped. */
static bool wake(struct xmpp_stream *s)
{
	s->parser = parser_create(s);
	if (s->parser == NULL) {
		parser_free(s);
		fail(s, XMPP_SE_RESOURCE_CONSTRAINT, "out of memory");
		return false;
	}
	setup_parser(s);
	s->replaying = true;
	s->in_parse = true;
	s->depth = 0;
	struct slab *prev = slab_enter(s);
	enum XML_Status st =
	    XML_Parse(s->parser, (const char *)s->raw_header, (int)s->raw_header_len, XML_FALSE);
	slab_leave(prev);
	s->in_parse = false;
	s->replaying = false;
	if (st != XML_STATUS_OK || s->depth != 1) {
		s->depth = 1;
		fail(s, XMPP_SE_INTERNAL_SERVER_ERROR, "cannot resume the stream");
		return false;
	}
	s->shift = (int64_t)s->fed - (int64_t)s->raw_header_len;
	return true;
}

static enum xmpp_stream_error parse_slice(struct xmpp_stream *s, const uint8_t *buf, size_t len)
{
	if (s->parser == NULL && !wake(s))
		return s->err;
	s->in_parse = true;
	struct slab *prev = slab_enter(s);
	enum XML_Status st = XML_Parse(s->parser, (const char *)buf, (int)len, XML_FALSE);
	slab_leave(prev);
	s->in_parse = false;
	s->fed += len;
	if (st == XML_STATUS_ERROR && s->err == XMPP_SE_NONE && !s->halted && !s->closed) {
		enum XML_Error e = XML_GetErrorCode(s->parser);
		s->err = map_expat_error(e);
		s->err_text = XML_ErrorString(e);
	}
	return s->err;
}

/* Feeds valid UTF-8 in slices small enough that the pre-header and stanza caps hold. */
static enum xmpp_stream_error feed_checked(struct xmpp_stream *s, const uint8_t *buf, size_t len)
{
	while (len > 0 && s->err == XMPP_SE_NONE && !s->halted && !s->closed) {
		uint64_t cap;
		if (!s->header_seen) {
			if (s->fed >= s->cfg.max_preheader) {
				fail(s, XMPP_SE_POLICY_VIOLATION,
				     "too many bytes before stream header");
				break;
			}
			cap = s->cfg.max_preheader - s->fed;
		} else {
			/* at most one byte past the stanza cap, so 1-byte and bulk feeding agree */
			uint64_t limit = s->mark + s->cfg.max_stanza_bytes + 1;
			cap = limit > s->fed ? limit - s->fed : 1;
		}
		size_t n = len < FEED_SLICE ? len : FEED_SLICE;
		if (n > cap)
			n = (size_t)cap;
		parse_slice(s, buf, n);
		buf += n;
		len -= n;
		if (s->err == XMPP_SE_NONE && s->header_seen && !s->halted && !s->closed &&
		    s->fed - s->mark > s->cfg.max_stanza_bytes)
			fail(s, XMPP_SE_POLICY_VIOLATION, "stanza too large");
	}
	return s->err;
}

enum xmpp_stream_error xmpp_stream_feed(struct xmpp_stream *s, const uint8_t *buf, size_t len)
{
	if (s->err != XMPP_SE_NONE || s->halted || s->closed)
		return s->err;
	/* complete a UTF-8 sequence carried over from the previous call */
	while (s->utf8_tail_len > 0 && len > 0) {
		uint8_t tmp[4];
		memcpy(tmp, s->utf8_tail, s->utf8_tail_len);
		tmp[s->utf8_tail_len] = buf[0];
		bool invalid;
		size_t incomplete;
		size_t ok = utf8_scan(tmp, s->utf8_tail_len + 1, &invalid, &incomplete);
		buf++;
		len--;
		if (invalid) {
			fail(s, XMPP_SE_UNSUPPORTED_ENCODING, "invalid UTF-8");
			return s->err;
		}
		if (incomplete > 0) {
			memcpy(s->utf8_tail, tmp, incomplete);
			s->utf8_tail_len = incomplete;
			continue;
		}
		s->utf8_tail_len = 0;
		if (feed_checked(s, tmp, ok) != XMPP_SE_NONE || s->halted || s->closed)
			return s->err;
	}
	if (len == 0)
		return s->err;
	bool invalid;
	size_t incomplete;
	size_t ok = utf8_scan(buf, len, &invalid, &incomplete);
	if (feed_checked(s, buf, ok) != XMPP_SE_NONE || s->halted || s->closed)
		return s->err;
	if (invalid) {
		/* RFC 6120 §4.9.3.22: improperly encoded UTF-8 */
		fail(s, XMPP_SE_UNSUPPORTED_ENCODING, "invalid UTF-8");
		return s->err;
	}
	if (incomplete > 0) {
		memcpy(s->utf8_tail, buf + ok, incomplete);
		s->utf8_tail_len = incomplete;
	}
	return s->err;
}

const char *xmpp_stream_error_text(const struct xmpp_stream *s)
{
	return s->err_text != NULL ? s->err_text : "";
}

void xmpp_stream_halt(struct xmpp_stream *s)
{
	s->halted = true;
	if (s->in_parse)
		XML_StopParser(s->parser, XML_FALSE);
}

enum fg_err xmpp_stream_restart(struct xmpp_stream *s)
{
	if (s->in_parse)
		return FG_ERR_BUSY;
	if (s->parser != NULL) {
		struct slab *prev = slab_enter(s);
		XML_Bool ok = XML_ParserReset(s->parser, "UTF-8");
		slab_leave(prev);
		if (ok != XML_TRUE)
			parser_free(s);
	}
	if (s->parser == NULL)
		s->parser = parser_create(s);
	if (s->parser == NULL) {
		parser_free(s);
		return FG_ERR_NOMEM;
	}
	setup_parser(s);
	free(s->raw_header);
	s->raw_header = NULL;
	s->raw_header_len = 0;
	s->shift = 0;
	xmpp__arena_reset(&s->arena);
	fg_buf_reset(&s->text);
	s->err = XMPP_SE_NONE;
	s->err_text = NULL;
	s->halted = false;
	s->closed = false;
	s->header_seen = false;
	s->content_ns_ok = false;
	s->dialback_ns = false;
	s->depth = 0;
	s->fed = 0;
	s->mark = 0;
	s->utf8_tail_len = 0;
	s->root = NULL;
	s->cur = NULL;
	s->n_elements = 0;
	return FG_OK;
}

bool xmpp_stream_compact(struct xmpp_stream *s)
{
	if (s->parser == NULL)
		return true;
	/* at rest: inside the stream, every byte fed parsed into a finished event */
	if (s->in_parse || !s->header_seen || s->depth != 1 || s->err != XMPP_SE_NONE ||
	    s->halted || s->closed || s->mark != s->fed || s->utf8_tail_len != 0 ||
	    s->root != NULL || s->raw_header == NULL)
		return false;
	parser_free(s);
	xmpp__arena_reset(&s->arena);
	fg_buf_free(&s->text);
	return true;
}

void xmpp_stream_set_max_stanza(struct xmpp_stream *s, size_t max_bytes)
{
	s->cfg.max_stanza_bytes = max_bytes;
}

bool xmpp_stream_is_closed(const struct xmpp_stream *s)
{
	return s->closed;
}
