/* sip: message parser and stream framing (RFC 3261 §7, §18.3, §20, §25; RFC 5626 §4.4.1). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_internal.h"

/* RFC 3261 §7.3.3 compact forms and the canonical spelling of the headers we know. The
 * entries named in enum sip__known sit at their index. */
#define KNOWN(c, n, l)                                                                             \
	{                                                                                          \
		c, n, sizeof(n) - 1, l                                                             \
	}
static const struct {
	char compact;
	const char *name;
	uint8_t len;
	bool list; /* RFC 3261 §7.3.1: may be combined as a comma-separated list */
} known_headers[] = {
    [SIP__H_CALL_ID] = KNOWN('i', "Call-ID", false),
    [SIP__H_CONTACT] = KNOWN('m', "Contact", true),
    [SIP__H_CONTENT_ENCODING] = KNOWN('e', "Content-Encoding", true),
    [SIP__H_CONTENT_LENGTH] = KNOWN('l', "Content-Length", false),
    [SIP__H_CONTENT_TYPE] = KNOWN('c', "Content-Type", false),
    [SIP__H_FROM] = KNOWN('f', "From", false),
    [SIP__H_SUBJECT] = KNOWN('s', "Subject", false),
    [SIP__H_SUPPORTED] = KNOWN('k', "Supported", true),
    [SIP__H_TO] = KNOWN('t', "To", false),
    [SIP__H_VIA] = KNOWN('v', "Via", true),
    KNOWN('o', "Event", false),           /* RFC 6665 */
    KNOWN('u', "Allow-Events", true),     /* RFC 6665 */
    KNOWN('r', "Refer-To", false),        /* RFC 3515 */
    KNOWN('b', "Referred-By", false),     /* RFC 3892 */
    KNOWN('x', "Session-Expires", false), /* RFC 4028 */
    KNOWN('y', "Identity", false),        /* RFC 8224 */
    KNOWN('a', "Accept-Contact", true),   /* RFC 3841 */
    KNOWN('j', "Reject-Contact", true),   /* RFC 3841 */
    KNOWN('d', "Request-Disposition", true),
    [SIP__H_CSEQ] = KNOWN(0, "CSeq", false),
    [SIP__H_MAX_FORWARDS] = KNOWN(0, "Max-Forwards", false),
    [SIP__H_ROUTE] = KNOWN(0, "Route", true),
    [SIP__H_RECORD_ROUTE] = KNOWN(0, "Record-Route", true),
    KNOWN(0, "Path", true),
    KNOWN(0, "Service-Route", true),
    KNOWN(0, "Allow", true),
    KNOWN(0, "Require", true),
    KNOWN(0, "Proxy-Require", true),
    KNOWN(0, "Unsupported", true),
    KNOWN(0, "Accept", true),
    KNOWN(0, "Accept-Encoding", true),
    KNOWN(0, "Accept-Language", true),
    KNOWN(0, "Content-Language", true),
    KNOWN(0, "Alert-Info", true),
    KNOWN(0, "Call-Info", true),
    KNOWN(0, "Error-Info", true),
    KNOWN(0, "In-Reply-To", true),
    KNOWN(0, "Warning", true),
    KNOWN(0, "Expires", false),
    KNOWN(0, "Subscription-State", false),
    KNOWN(0, "Date", false),
    KNOWN(0, "Retry-After", false),
    KNOWN(0, "Content-Disposition", false),
};
#undef KNOWN
#define N_KNOWN (sizeof(known_headers) / sizeof(known_headers[0]))
_Static_assert(N_KNOWN <= SIP_KNOWN_HEADERS, "SIP_KNOWN_HEADERS holds the table");
_Static_assert(SIP_MAX_HEADERS < 255, "known_first holds 1 + a field index in a byte");
_Static_assert(SIP_KNOWN_HEADERS <= 64, "known_repeated has a bit per known header");

/* Known names chained by length (built once): a lookup compares one to six names. */
#define KNOWN_MAX_LEN 19                       /* "Request-Disposition", "Content-Disposition" */
static int8_t known_by_len[KNOWN_MAX_LEN + 1]; /* first index of that length, or -1 */
static int8_t known_next[N_KNOWN];             /* next index of the same length, or -1 */
static int8_t known_by_compact[26];            /* index for a compact form letter, or -1 */
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void known_index_build(void)
{
	memset(known_by_len, -1, sizeof(known_by_len));
	memset(known_by_compact, -1, sizeof(known_by_compact));
	for (size_t i = N_KNOWN; i-- > 0;) {
		size_t len = known_headers[i].len;
		FG_INVARIANT(len <= KNOWN_MAX_LEN);
		known_next[i] = known_by_len[len];
		known_by_len[len] = (int8_t)i;
		if (known_headers[i].compact)
			known_by_compact[known_headers[i].compact - 'a'] = (int8_t)i;
	}
}

static int header_lookup(const char *name, size_t len)
{
	if (len == 0 || len > KNOWN_MAX_LEN)
		return -1;
	pthread_once(&known_once, known_index_build);
	unsigned char first = sip__lower((unsigned char)name[0]);
	if (len == 1)
		return first >= 'a' && first <= 'z' ? known_by_compact[first - 'a'] : -1;
	/* the first letter rules out all but one name before any case comparison; most
	 * senders write the canonical spelling, which one memcmp confirms */
	for (int i = known_by_len[len]; i >= 0; i = known_next[i])
		if (sip__lower((unsigned char)known_headers[i].name[0]) == first &&
		    (memcmp(name, known_headers[i].name, len) == 0 ||
		     sip__casecmp(name, len, known_headers[i].name)))
			return i;
	return -1;
}

/* Known header names are stored as the table's own pointer (header_line_values), so
 * that a field of a known header is found by pointer, not by comparing letters. */
static bool name_is(const struct sip_header *h, int k, const char *want)
{
	if (k >= 0)
		return h->name.p == known_headers[k].name;
	return sip__casecmp(h->name.p, h->name.len, want);
}

const struct sip_header *sip__msg_known(const struct sip_msg *msg, enum sip__known k, size_t idx)
{
	if (msg->known_first[k] == 0)
		return NULL;
	const char *want = known_headers[k].name;
	for (size_t i = msg->known_first[k] - 1u; i < msg->nheaders; i++)
		if (msg->headers[i].name.p == want && idx-- == 0)
			return &msg->headers[i];
	return NULL;
}

static size_t known_count(const struct sip_msg *msg, enum sip__known k)
{
	if (msg->known_first[k] == 0)
		return 0;
	const char *want = known_headers[k].name;
	size_t n = 0;
	for (size_t i = msg->known_first[k] - 1u; i < msg->nheaders; i++)
		n += msg->headers[i].name.p == want;
	return n;
}

const struct sip_header *sip_msg_header(const struct sip_msg *msg, const char *name, size_t idx)
{
	int k = header_lookup(name, strlen(name));
	if (k >= 0)
		return sip__msg_known(msg, (enum sip__known)k, idx);
	for (size_t i = 0; i < msg->nheaders; i++) {
		const struct sip_header *h = &msg->headers[i];
		if (name_is(h, k, name) && idx-- == 0)
			return h;
	}
	return NULL;
}

size_t sip_msg_header_count(const struct sip_msg *msg, const char *name)
{
	int k = header_lookup(name, strlen(name));
	if (k >= 0)
		return known_count(msg, (enum sip__known)k);
	size_t n = 0;
	for (size_t i = 0; i < msg->nheaders; i++)
		if (name_is(&msg->headers[i], k, name))
			n++;
	return n;
}

/* ---- message memory ---- */

/* A message, its arena and the arena's first chunk are one allocation; freed blocks are
 * kept for the next message, so a steady stream of messages costs no malloc. */
#define MSG_ARENA_FIRST 4096 /* the bench MESSAGE needs about 2 KiB, most fit */
#define MSG_CACHE_MAX   64   /* blocks kept per thread (~18 KiB each) */

struct msg_block {
	_Alignas(max_align_t) struct sip_msg msg;
	struct sip_arena arena;
	struct msg_block *next_free;
	/* followed by struct arena_chunk and MSG_ARENA_FIRST bytes */
};
_Static_assert(sizeof(struct msg_block) % _Alignof(max_align_t) == 0, "chunk alignment");

#define MSG_BLOCK_SIZE (sizeof(struct msg_block) + sizeof(struct arena_chunk) + MSG_ARENA_FIRST)

static _Thread_local struct msg_block *msg_cache;
static _Thread_local size_t msg_cache_n;

static struct sip_msg *msg_new(void)
{
	struct msg_block *b = msg_cache;
	if (b != NULL) {
		FG_UNPOISON(b, MSG_BLOCK_SIZE);
		msg_cache = b->next_free;
		msg_cache_n--;
	} else {
		b = malloc(MSG_BLOCK_SIZE);
		if (b == NULL)
			return NULL;
	}
	sip__arena_init(&b->arena, (struct arena_chunk *)(void *)(b + 1), MSG_ARENA_FIRST);
	/* Only what a parse reads before it writes: the arrays (headers, URI and address
	 * parameters, 13 KiB) are valid up to their counts. */
	struct sip_msg *m = &b->msg;
	m->is_request = false;
	m->method = (struct sip_str){NULL, 0};
	m->method_id = SIP_METHOD_OTHER;
	sip__uri_clear(&m->ruri);
	m->status = 0;
	m->reason = (struct sip_str){NULL, 0};
	m->nheaders = 0;
	memset(m->known_first, 0, sizeof(m->known_first));
	m->known_repeated = 0;
	m->vias = NULL;
	m->nvias = 0;
	m->from.display = m->to.display = (struct sip_str){NULL, 0};
	sip__uri_clear(&m->from.uri);
	sip__uri_clear(&m->to.uri);
	m->from.tag = m->to.tag = (struct sip_str){NULL, 0};
	m->from.star = m->to.star = false;
	m->from.nparams = m->to.nparams = 0;
	m->call_id = (struct sip_str){NULL, 0};
	m->cseq = 0;
	m->cseq_method = (struct sip_str){NULL, 0};
	m->cseq_method_id = SIP_METHOD_OTHER;
	m->max_forwards = -1;
	m->content_length = -1;
	m->content_type = (struct sip_str){NULL, 0};
	m->body = NULL;
	m->body_len = 0;
	m->arena = &b->arena;
	return m;
}

void sip_msg_free(struct sip_msg *msg)
{
	if (!msg)
		return;
	struct msg_block *b = (struct msg_block *)(void *)msg;
	sip__arena_release(&b->arena);
	if (msg_cache_n >= MSG_CACHE_MAX) {
		free(b);
		return;
	}
	b->next_free = msg_cache;
	msg_cache = b;
	msg_cache_n++;
	FG_POISON(b, offsetof(struct msg_block, next_free));
	FG_POISON(b + 1, MSG_BLOCK_SIZE - sizeof(*b));
}

static char *find_crlf(char *p, const char *end)
{
	while (p + 1 < end) {
		char *cr = memchr(p, '\r', (size_t)(end - p - 1));
		if (cr == NULL)
			return NULL;
		if (cr[1] == '\n')
			return cr;
		p = cr + 1;
	}
	return NULL;
}

/* Index of the first CRLFCRLF in d[from, n), or SIZE_MAX. */
static size_t find_head_end(const uint8_t *d, size_t from, size_t n)
{
	size_t j = from + 1; /* the first LF of CRLFCRLF */
	while (j + 2 < n) {
		const uint8_t *lf = memchr(d + j, '\n', n - 2 - j);
		if (lf == NULL)
			break;
		j = (size_t)(lf - d);
		if (d[j - 1] == '\r' && d[j + 1] == '\r' && d[j + 2] == '\n')
			return j - 1;
		j++;
	}
	return SIZE_MAX;
}

static bool parse_uint(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Adds the field v[0, vlen) of the parser's private copy of the head: the value stays
 * where it is and is NUL-terminated in place (the byte after it is already read). */
static enum fg_err add_header(struct sip_msg *m, int k, struct sip_str name, char *v, size_t vlen,
                              struct sip_error *err, size_t off)
{
	if (m->nheaders == SIP_MAX_HEADERS) {
		sip__set_err(err, off, "more than %d header fields", SIP_MAX_HEADERS);
		return FG_ERR_TOOBIG;
	}
	while (vlen && sip__is_ws((unsigned char)*v)) {
		v++;
		vlen--;
	}
	while (vlen && sip__is_ws((unsigned char)v[vlen - 1]))
		vlen--;
	struct sip_header *h = &m->headers[m->nheaders];
	h->name = name;
	v[vlen] = '\0';
	h->value.p = v;
	h->value.len = vlen;
	if (k >= 0 && m->known_first[k] == 0)
		m->known_first[k] = (uint8_t)(m->nheaders + 1);
	else if (k >= 0)
		m->known_repeated |= (uint64_t)1 << k;
	m->nheaders++;
	return FG_OK;
}

/* Adds one logical header line (already unfolded, NUL-terminated, in the parser's copy). */
static enum fg_err header_line_values(struct sip_msg *m, char *line, size_t len,
                                      struct sip_error *err, size_t off)
{
	char *colon = memchr(line, ':', len);
	if (!colon) {
		sip__set_err(err, off, "header line without ':'");
		return FG_ERR_PARSE;
	}
	size_t nlen = (size_t)(colon - line);
	while (nlen && sip__is_ws((unsigned char)line[nlen - 1]))
		nlen--;
	if (nlen == 0) {
		sip__set_err(err, off, "header with empty name");
		return FG_ERR_PARSE;
	}
	for (size_t i = 0; i < nlen; i++)
		if (!sip__is_token((unsigned char)line[i])) {
			sip__set_err(err, off + i, "header name: character 0x%02x not allowed",
			             (unsigned char)line[i]);
			return FG_ERR_PARSE;
		}
	int k = header_lookup(line, nlen);
	struct sip_str name;
	char *v = colon + 1;
	if (k >= 0) {
		name = (struct sip_str){known_headers[k].name, known_headers[k].len};
	} else {
		line[nlen] = '\0'; /* the ':' or a blank before it */
		name = (struct sip_str){line, nlen};
	}
	size_t vlen = len - (size_t)(v - line);
	size_t voff = off + (size_t)(v - line);
	if (k < 0 || !known_headers[k].list)
		return add_header(m, k, name, v, vlen, err, voff);
	/* no comma and no quote: one element, as the split below would find (which adds
	 * nothing when the value ends inside <>) */
	if (memchr(v, ',', vlen) == NULL && memchr(v, '"', vlen) == NULL) {
		const char *lt = memrchr(v, '<', vlen), *gt = memrchr(v, '>', vlen);
		if (lt != NULL && (gt == NULL || gt < lt))
			return FG_OK;
		return add_header(m, k, name, v, vlen, err, voff);
	}
	/* Split at commas outside quotes and <> (RFC 3261 §7.3.1). An empty value is
	 * allowed only for the whole header (e.g. "Accept:"), never for one element. */
	size_t s = 0, i = 0;
	bool inq = false, inangle = false, any = false;
	for (size_t j = 0; j < vlen; j++)
		if (!sip__is_ws((unsigned char)v[j]))
			any = true;
	if (!any)
		return add_header(m, k, name, v, vlen, err, voff);
	for (i = 0; i <= vlen; i++) {
		char c = i < vlen ? v[i] : ',';
		if (inq) {
			if (c == '\\' && i + 1 < vlen)
				i++;
			else if (c == '"')
				inq = false;
			continue;
		}
		if (c == '"')
			inq = true;
		else if (c == '<')
			inangle = true;
		else if (c == '>')
			inangle = false;
		else if (c == ',' && !inangle) {
			size_t a = s, b = i;
			while (a < b && sip__is_ws((unsigned char)v[a]))
				a++;
			if (a == b) {
				sip__set_err(err, voff + s, "%s: empty list element", name.p);
				return FG_ERR_PARSE;
			}
			enum fg_err e = add_header(m, k, name, v + s, i - s, err, voff + s);
			if (e)
				return e;
			s = i + 1;
		}
	}
	if (inq) {
		sip__set_err(err, voff, "%s: unterminated quoted string", name.p);
		return FG_ERR_PARSE;
	}
	return FG_OK;
}

static enum fg_err header_line(struct sip_msg *m, char *line, size_t len, struct sip_error *err,
                               size_t off)
{
	size_t first = m->nheaders;
	enum fg_err e = header_line_values(m, line, len, err, off);
	for (size_t i = first; i < m->nheaders; i++)
		m->headers[i].offset = off;
	return e;
}

static enum fg_err parse_via(struct sip_msg *m, const struct sip_header *h, struct sip_via *via,
                             struct sip_error *err)
{
	const char *p = h->value.p;
	size_t len = h->value.len, i = 0;
	const char *parts[3];
	size_t plen[3];
	/* not the 1 KiB parameter array: valid up to nparams */
	via->transport = via->host = via->branch = via->received = (struct sip_str){NULL, 0};
	via->host_type = SIP_HOST_NAME;
	via->port = 0;
	via->rport = false;
	via->nparams = 0;
	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport, with
	 * SLASH = SWS "/" SWS (RFC 3261 §25.1; RFC 4475 wsinv). */
	for (int k = 0; k < 3; k++) {
		while (i < len && sip__is_ws((unsigned char)p[i]))
			i++;
		size_t s = i;
		while (i < len && sip__is_token((unsigned char)p[i]))
			i++;
		parts[k] = p + s;
		plen[k] = i - s;
		if (plen[k] == 0) {
			sip__set_err(err, h->offset, "Via: malformed sent-protocol");
			return FG_ERR_PARSE;
		}
		while (i < len && sip__is_ws((unsigned char)p[i]))
			i++;
		if (k < 2) {
			if (i >= len || p[i] != '/') {
				sip__set_err(err, h->offset, "Via: expected '/' in sent-protocol");
				return FG_ERR_PARSE;
			}
			i++;
		}
	}
	if (!sip__casecmp(parts[0], plen[0], "SIP") || !sip__casecmp(parts[1], plen[1], "2.0")) {
		sip__set_err(err, h->offset, "Via: protocol is not SIP/2.0");
		return FG_ERR_VERSION;
	}
	via->transport = sip__arena_str(m->arena, parts[2], plen[2]);
	size_t s = i;
	while (i < len && p[i] != ';' && !sip__is_ws((unsigned char)p[i]))
		i++;
	if (i == s) {
		sip__set_err(err, h->offset, "Via: no sent-by");
		return FG_ERR_PARSE;
	}
	enum fg_err e = sip__hostport_parse(m->arena, p + s, i - s, &via->host, &via->host_type,
	                                    &via->port, err, h->offset);
	if (e)
		return e;
	e = sip__params_parse(m->arena, p + i, len - i, via->params, &via->nparams, "Via", err,
	                      h->offset);
	if (e)
		return e;
	for (size_t k = 0; k < via->nparams; k++) {
		struct sip_param *pr = &via->params[k];
		if (sip__casecmp(pr->name.p, pr->name.len, "branch") && pr->value.p)
			via->branch = pr->value;
		else if (sip__casecmp(pr->name.p, pr->name.len, "received") && pr->value.p)
			via->received = pr->value;
		else if (sip__casecmp(pr->name.p, pr->name.len, "rport"))
			via->rport = true;
	}
	return FG_OK;
}

enum fg_err sip_msg_parse_addr(struct sip_msg *msg, const struct sip_header *h,
                               struct sip_addr *out, struct sip_error *err)
{
	bool contact = sip__casecmp(h->name.p, h->name.len, "Contact");
	return sip__addr_parse(msg->arena, h->value.p, h->value.len, contact, out, err, h->offset);
}

static void prefix_err(struct sip_error *err, const char *header)
{
	if (!err)
		return;
	char tmp[sizeof(err->what)];
	size_t hl = strlen(header);
	fg_strlcpy(tmp, err->what, sizeof(tmp));
	/* "<header>: <what>", truncated to fit */
	if (hl + 2 < sizeof(err->what)) {
		memcpy(err->what, header, hl);
		memcpy(err->what + hl, ": ", 2);
		fg_strlcpy(err->what + hl + 2, tmp, sizeof(err->what) - hl - 2);
	}
}

/* Validates the essential headers (RFC 3261 §8.1.1, §8.2.2, §20). */
static enum fg_err interpret(struct sip_msg *m, struct sip_error *err)
{
	static const enum sip__known single[] = {
	    SIP__H_TO,           SIP__H_FROM,           SIP__H_CALL_ID,     SIP__H_CSEQ,
	    SIP__H_MAX_FORWARDS, SIP__H_CONTENT_LENGTH, SIP__H_CONTENT_TYPE};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		if ((m->known_repeated & ((uint64_t)1 << single[i])) == 0)
			continue;
		const struct sip_header *second = sip__msg_known(m, single[i], 1);
		if (second != NULL) {
			sip__set_err(err, second->offset, "%s appears more than once",
			             known_headers[single[i]].name);
			return FG_ERR_PARSE;
		}
	}
	static const enum sip__known required[] = {SIP__H_TO, SIP__H_FROM, SIP__H_CALL_ID,
	                                           SIP__H_CSEQ, SIP__H_VIA};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (m->known_first[required[i]] == 0) {
			sip__set_err(err, 0, "missing %s", known_headers[required[i]].name);
			return FG_ERR_PARSE;
		}
	enum fg_err e;
	const struct sip_header *h;
	size_t nvias = known_count(m, SIP__H_VIA);
	if (nvias > SIP_MAX_VIAS) {
		sip__set_err(err, sip__msg_known(m, SIP__H_VIA, SIP_MAX_VIAS)->offset,
		             "more than %d Via values", SIP_MAX_VIAS);
		return FG_ERR_TOOBIG;
	}
	/* allocated per message: a fixed array would cost 70 KiB for every parse */
	m->vias = sip__arena_alloc(m->arena, nvias * sizeof(*m->vias));
	if (!m->vias)
		return FG_ERR_NOMEM;
	for (size_t i = m->known_first[SIP__H_VIA] - 1u; i < m->nheaders; i++) {
		h = &m->headers[i];
		if (h->name.p != known_headers[SIP__H_VIA].name)
			continue;
		e = parse_via(m, h, &m->vias[m->nvias], err);
		if (e)
			return e;
		m->nvias++;
	}
	h = sip__msg_known(m, SIP__H_FROM, 0);
	e = sip__addr_parse(m->arena, h->value.p, h->value.len, false, &m->from, err, h->offset);
	if (e) {
		prefix_err(err, "From");
		return e;
	}
	h = sip__msg_known(m, SIP__H_TO, 0);
	e = sip__addr_parse(m->arena, h->value.p, h->value.len, false, &m->to, err, h->offset);
	if (e) {
		prefix_err(err, "To");
		return e;
	}
	/* Contact, Route and Record-Route must parse too: a proxy or dialog uses them. */
	static const enum sip__known addrs[] = {SIP__H_CONTACT, SIP__H_ROUTE, SIP__H_RECORD_ROUTE};
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; (h = sip__msg_known(m, addrs[k], i)) != NULL; i++) {
			struct sip_addr tmp;
			e = sip__addr_parse(m->arena, h->value.p, h->value.len,
			                    addrs[k] == SIP__H_CONTACT, &tmp, err, h->offset);
			if (e)
				return e;
		}
	h = sip__msg_known(m, SIP__H_CALL_ID, 0);
	if (h->value.len == 0) {
		sip__set_err(err, h->offset, "Call-ID: empty");
		return FG_ERR_PARSE;
	}
	for (size_t i = 0; i < h->value.len; i++)
		if ((unsigned char)h->value.p[i] <= ' ') {
			sip__set_err(err, h->offset, "Call-ID: whitespace or control character");
			return FG_ERR_PARSE;
		}
	m->call_id = h->value;
	h = sip__msg_known(m, SIP__H_CSEQ, 0);
	{
		const char *p = h->value.p;
		size_t len = h->value.len, i = 0;
		uint64_t v;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		/* RFC 3261 §8.1.1.5: the sequence number MUST be less than 2^31. */
		if (!parse_uint(p, i, 0x7fffffffu, &v)) {
			sip__set_err(err, h->offset, "CSeq: number missing or not below 2^31");
			return FG_ERR_PARSE;
		}
		m->cseq = (uint32_t)v;
		size_t s = i;
		while (i < len && sip__is_ws((unsigned char)p[i]))
			i++;
		if (i == s || i == len) {
			sip__set_err(err, h->offset, "CSeq: no method");
			return FG_ERR_PARSE;
		}
		for (size_t k = i; k < len; k++)
			if (!sip__is_token((unsigned char)p[k])) {
				sip__set_err(err, h->offset, "CSeq: bad method character");
				return FG_ERR_PARSE;
			}
		m->cseq_method.p = p + i;
		m->cseq_method.len = len - i;
		m->cseq_method_id = sip_method_from_name(p + i, len - i);
		if (m->is_request && (m->cseq_method.len != m->method.len ||
		                      memcmp(m->cseq_method.p, m->method.p, m->method.len) != 0)) {
			sip__set_err(err, h->offset, "CSeq method differs from the request method");
			return FG_ERR_PARSE;
		}
	}
	m->max_forwards = -1;
	h = sip__msg_known(m, SIP__H_MAX_FORWARDS, 0);
	if (h) {
		uint64_t v;
		if (!parse_uint(h->value.p, h->value.len, 255, &v)) {
			sip__set_err(err, h->offset, "Max-Forwards: not a number in 0-255");
			return FG_ERR_PARSE;
		}
		m->max_forwards = (int)v;
	}
	h = sip__msg_known(m, SIP__H_CONTENT_TYPE, 0);
	if (h)
		m->content_type = h->value;
	return FG_OK;
}

/* Parses one message. Stream mode returns FG_ERR_AGAIN while incomplete and sets
 * *need to the total number of bytes wanted when it is known. head_end: where the stream
 * found the first CRLFCRLF (an index into buf), or SIZE_MAX to search here.
 * The head is copied once into the message's arena and split there in place: header
 * values and unknown header names are NUL-terminated where they stand. */
static enum fg_err parse(const uint8_t *buf, size_t len, enum sip_parse_mode mode,
                         struct sip_msg **out, size_t *consumed, size_t *need, size_t head_end,
                         struct sip_error *err)
{
	const char *start = (const char *)buf, *end = start + len;
	enum fg_err e = FG_OK;
	struct sip_msg *m = NULL;
	*out = NULL;
	if (need)
		*need = 0;
	/* RFC 3261 §7.5: ignore CRLFs before the start line. */
	const char *in = start;
	while (in + 1 < end && in[0] == '\r' && in[1] == '\n')
		in += 2;
	size_t off = (size_t)(in - start);
	/* Find the end of the head within the cap. */
	size_t avail_head = (size_t)(end - in);
	if (avail_head > SIP_MAX_HEAD)
		avail_head = SIP_MAX_HEAD;
	size_t k =
	    head_end != SIZE_MAX && off == 0 ? head_end : find_head_end(buf, off, off + avail_head);
	if (k != SIZE_MAX)
		k -= off;
	if (k != SIZE_MAX && k + 4 > avail_head)
		k = SIZE_MAX; /* beyond the cap */
	if (k == SIZE_MAX) {
		if ((size_t)(end - in) >= SIP_MAX_HEAD) {
			sip__set_err(err, SIP_MAX_HEAD, "head longer than %d bytes", SIP_MAX_HEAD);
			return FG_ERR_TOOBIG;
		}
		if (mode == SIP_PARSE_STREAM)
			return FG_ERR_AGAIN;
		sip__set_err(err, len, "no empty line after the headers");
		return FG_ERR_PARSE;
	}
	const char *body = in + k + 4;
	m = msg_new();
	if (!m)
		return FG_ERR_NOMEM;
	/* the head through the blank line's CRLF, in the message's own memory */
	char *p = sip__arena_alloc(m->arena, k + 5);
	if (!p) {
		e = FG_ERR_NOMEM;
		goto out;
	}
	memcpy(p, in, k + 4);
	p[k + 4] = '\0';
	char *hend = p + k + 2; /* the blank line */
	/* ---- start line ---- */
	char *sl_end = find_crlf(p, hend + 2);
	size_t sl_len = (size_t)(sl_end - p);
	for (size_t i = 0; i < sl_len; i++)
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n') {
			sip__set_err(err, off + i, "control character in start line");
			e = FG_ERR_PARSE;
			goto out;
		}
	if (sl_len >= 4 && memcmp(p, "SIP/", 4) == 0) {
		/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF */
		if (sl_len < 12 || !sip__casecmp(p, 7, "SIP/2.0") || p[7] != ' ') {
			sip__set_err(err, off, "status line: unsupported SIP version");
			e = FG_ERR_VERSION;
			goto out;
		}
		uint64_t code;
		if (!parse_uint(p + 8, 3, 699, &code) || code < 100 || p[11] != ' ') {
			sip__set_err(err, off + 8,
			             "status line: status code is not 3 digits in 100-699");
			e = FG_ERR_PARSE;
			goto out;
		}
		m->status = (unsigned)code;
		sl_end[0] = '\0'; /* the start line's CR: the header lines start after it */
		m->reason = (struct sip_str){p + 12, sl_len - 12};
	} else {
		/* Request-Line = Method SP Request-URI SP SIP-Version CRLF, single SPs. */
		char *sp1 = memchr(p, ' ', sl_len);
		const char *sp2 = NULL;
		for (const char *q = p + sl_len; q > p; q--)
			if (q[-1] == ' ') {
				sp2 = q - 1;
				break;
			}
		if (!sp1 || sp2 == sp1) {
			sip__set_err(err, off, "request line: expected 'Method SP URI SP SIP/2.0'");
			e = FG_ERR_PARSE;
			goto out;
		}
		for (const char *q = p; q < sp1; q++)
			if (!sip__is_token((unsigned char)*q)) {
				sip__set_err(err, off + (size_t)(q - p),
				             "request line: bad method character");
				e = FG_ERR_PARSE;
				goto out;
			}
		if (sp1 == p) {
			sip__set_err(err, off, "request line: empty method");
			e = FG_ERR_PARSE;
			goto out;
		}
		size_t vlen = sl_len - (size_t)(sp2 + 1 - p);
		if (!(vlen == 7 && sip__casecmp(sp2 + 1, 7, "SIP/2.0"))) {
			sip__set_err(err, off + (size_t)(sp2 + 1 - p),
			             "request line: version is not SIP/2.0");
			e = vlen >= 4 && sip__casecmp(sp2 + 1, 4, "SIP/") ? FG_ERR_VERSION
			                                                  : FG_ERR_PARSE;
			goto out;
		}
		m->is_request = true;
		m->method = (struct sip_str){p, (size_t)(sp1 - p)};
		m->method_id = sip_method_from_name(p, (size_t)(sp1 - p));
		const char *u = sp1 + 1;
		size_t ulen = (size_t)(sp2 - u);
		for (size_t i = 0; i < ulen; i++)
			if (sip__is_ws((unsigned char)u[i])) {
				sip__set_err(
				    err, off + (size_t)(u - p) + i,
				    "request line: whitespace in or around the Request-URI");
				e = FG_ERR_PARSE;
				goto out;
			}
		e = sip__uri_parse(m->arena, u, ulen, false, true, &m->ruri, err,
		                   off + (size_t)(u - p));
		if (e)
			goto out;
		*sp1 = '\0'; /* the method ends here; the URI was copied */
	}
	/* ---- header lines, unfolded in place (RFC 3261 §7.3.1) ---- */
	char *q = sl_end + 2;
	while (q < hend) {
		/* the usual line: its first LF ends it, right after its only CR */
		char *lend = memchr(q, '\n', (size_t)(hend + 2 - q));
		bool plain = lend != NULL && lend > q && lend[-1] == '\r' &&
		             memchr(q, '\r', (size_t)(lend - 1 - q)) == NULL;
		lend = plain ? lend - 1 : find_crlf(q, hend + 2);
		if (sip__is_ws((unsigned char)*q)) {
			sip__set_err(err, off + (size_t)(q - p),
			             "continuation line without a header");
			e = FG_ERR_PARSE;
			goto out;
		}
		/* extend over continuation lines */
		while (lend + 2 < hend && sip__is_ws((unsigned char)lend[2])) {
			lend = find_crlf(lend + 2, hend + 2);
			plain = false;
		}
		size_t raw = (size_t)(lend - q);
		if (raw > SIP_MAX_LINE) {
			sip__set_err(err, off + (size_t)(q - p), "header line longer than %d bytes",
			             SIP_MAX_LINE);
			e = FG_ERR_TOOBIG;
			goto out;
		}
		/* the unfolded line is never longer than the raw one: write it over it (each
		 * byte is read before it is written); a plain line has no CR or LF inside */
		char *line = q;
		size_t n = plain ? raw : 0;
		for (const char *c = q + n; c < lend; c++) {
			if (c[0] == '\r' && c + 1 < lend && c[1] == '\n') {
				/* fold: CRLF + whitespace becomes one SP */
				line[n++] = ' ';
				c++;
				while (c + 1 < lend && sip__is_ws((unsigned char)c[1]))
					c++;
				continue;
			}
			if (*c == '\r' || *c == '\n') {
				sip__set_err(err, off + (size_t)(c - p),
				             "bare CR or LF in a header");
				e = FG_ERR_PARSE;
				goto out;
			}
			line[n++] = *c;
		}
		line[n] = '\0';
		e = header_line(m, line, n, err, off + (size_t)(q - p));
		if (e)
			goto out;
		q = lend + 2;
	}
	e = interpret(m, err);
	if (e)
		goto out;
	/* ---- body framing (RFC 3261 §18.3, §20.14) ---- */
	size_t avail = (size_t)(end - body);
	const struct sip_header *cl = sip__msg_known(m, SIP__H_CONTENT_LENGTH, 0);
	size_t blen;
	if (cl) {
		uint64_t v;
		if (!parse_uint(cl->value.p, cl->value.len, UINT64_MAX, &v)) {
			sip__set_err(err, cl->offset, "Content-Length: not a non-negative number");
			e = FG_ERR_PARSE;
			goto out;
		}
		if (v > SIP_MAX_BODY) {
			sip__set_err(err, cl->offset, "Content-Length: body larger than %d bytes",
			             SIP_MAX_BODY);
			e = FG_ERR_TOOBIG;
			goto out;
		}
		blen = (size_t)v;
		m->content_length = (long)v;
		if (blen > avail) {
			if (mode == SIP_PARSE_STREAM) {
				if (need)
					*need = (size_t)(body - start) + blen;
				e = FG_ERR_AGAIN;
				goto out;
			}
			sip__set_err(err, len, "Content-Length %zu larger than the %zu body bytes",
			             blen, avail);
			e = FG_ERR_PARSE;
			goto out;
		}
	} else if (mode == SIP_PARSE_STREAM) {
		sip__set_err(err, 0, "Content-Length is required on a stream");
		e = FG_ERR_PARSE;
		goto out;
	} else {
		blen = avail;
		if (blen > SIP_MAX_BODY) {
			sip__set_err(err, 0, "body larger than %d bytes", SIP_MAX_BODY);
			e = FG_ERR_TOOBIG;
			goto out;
		}
	}
	uint8_t *b = sip__arena_alloc(m->arena, blen + 1);
	if (!b) {
		e = FG_ERR_NOMEM;
		goto out;
	}
	memcpy(b, body, blen);
	b[blen] = 0;
	m->body = b;
	m->body_len = blen;
	if (consumed)
		*consumed = (size_t)(body - start) + blen;
	*out = m;
	m = NULL;
out:
	sip_msg_free(m);
	return e;
}

enum fg_err sip_msg_parse(const uint8_t *buf, size_t len, enum sip_parse_mode mode,
                          struct sip_msg **out, size_t *consumed, struct sip_error *err)
{
	enum fg_err e = parse(buf, len, mode, out, consumed, NULL, SIZE_MAX, err);
	if (e == FG_ERR_AGAIN) {
		sip__set_err(err, len, "message incomplete");
		e = FG_ERR_PARSE;
	}
	return e;
}

/* ---- stream framing ---- */

struct sip_stream {
	struct fg_buf in;
	size_t off;      /* in's bytes before this are framed (compacted by the next feed) */
	size_t need;     /* bytes needed before reparsing (0: unknown) */
	size_t scanned;  /* bytes already searched for the end of the head */
	size_t head_end; /* where the first CRLFCRLF starts, SIZE_MAX while not found */
	bool pong_expected;
	enum fg_err sticky;
	struct sip_error sticky_err;
};

struct sip_stream *sip_stream_new(void)
{
	struct sip_stream *s = calloc(1, sizeof(struct sip_stream));
	if (s != NULL)
		s->head_end = SIZE_MAX;
	return s;
}

void sip_stream_free(struct sip_stream *s)
{
	if (!s)
		return;
	fg_buf_free(&s->in);
	free(s);
}

void sip_stream_expect_pong(struct sip_stream *s)
{
	s->pong_expected = true;
}

enum fg_err sip_stream_feed(struct sip_stream *s, const uint8_t *buf, size_t len)
{
	if (s->off > 0) {
		/* once per read, not once per message */
		fg_buf_consume(&s->in, s->off);
		s->off = 0;
	}
	if (s->in.len + len > SIP_MAX_HEAD + SIP_MAX_BODY + 4)
		return FG_ERR_TOOBIG;
	return fg_buf_append(&s->in, buf, len);
}

void sip_stream_pending(const struct sip_stream *s, const uint8_t **data, size_t *len)
{
	*data = s->in.data != NULL ? s->in.data + s->off : (const uint8_t *)"";
	*len = s->in.len - s->off;
}

/* Drops n framed bytes and forgets what was learnt about them. */
static void stream_drop(struct sip_stream *s, size_t n)
{
	s->off += n;
	if (s->off == s->in.len) {
		s->in.len = 0;
		s->off = 0;
	}
	s->need = 0;
	s->scanned = 0;
	s->head_end = SIZE_MAX;
}

static bool has_head_end(struct sip_stream *s, const uint8_t *d, size_t n)
{
	if (s->head_end != SIZE_MAX)
		return true;
	s->head_end = find_head_end(d, s->scanned > 3 ? s->scanned - 3 : 0, n);
	if (s->head_end != SIZE_MAX)
		return true;
	s->scanned = n;
	return false;
}

enum fg_err sip_stream_next(struct sip_stream *s, enum sip_stream_event *ev, struct sip_msg **msg,
                            struct sip_error *err)
{
	*ev = SIP_STREAM_NEED_MORE;
	*msg = NULL;
	if (s->sticky) {
		if (err)
			*err = s->sticky_err;
		return s->sticky;
	}
	const uint8_t *d = s->in.data + s->off;
	size_t n = s->in.len - s->off;
	/* RFC 5626 §4.4.1: CRLFCRLF is a ping, a lone CRLF the pong. */
	if (n >= 2 && d[0] == '\r' && d[1] == '\n') {
		if (n >= 4 && d[2] == '\r' && d[3] == '\n') {
			stream_drop(s, 4);
			*ev = SIP_STREAM_PING;
			return FG_OK;
		}
		if (s->pong_expected || (n >= 3 && d[2] != '\r') || (n >= 4 && d[3] != '\n')) {
			stream_drop(s, 2);
			s->pong_expected = false;
			*ev = SIP_STREAM_PONG;
			return FG_OK;
		}
		return FG_OK;
	}
	if (n == 0 || (s->need && n < s->need))
		return FG_OK;
	if (!s->need && !has_head_end(s, d, n)) {
		if (n >= SIP_MAX_HEAD) {
			s->sticky = FG_ERR_TOOBIG;
			sip__set_err(&s->sticky_err, SIP_MAX_HEAD, "head longer than %d bytes",
			             SIP_MAX_HEAD);
			if (err)
				*err = s->sticky_err;
			return s->sticky;
		}
		return FG_OK;
	}
	size_t consumed = 0, need = 0;
	enum fg_err e =
	    parse(d, n, SIP_PARSE_STREAM, msg, &consumed, &need, s->head_end, &s->sticky_err);
	if (e == FG_ERR_AGAIN) {
		s->need = need;
		return FG_OK;
	}
	if (e) {
		s->sticky = e;
		if (err)
			*err = s->sticky_err;
		return e;
	}
	stream_drop(s, consumed);
	*ev = SIP_STREAM_MESSAGE;
	return FG_OK;
}
