/* sip: SIP/SIPS URI, host, parameter and name-addr parsing (RFC 3261 §19.1, §20.10, §25.1). */
#include <stdlib.h>
#include <string.h>

#include "sip/sip_internal.h"

/* Checks the characters against cls and percent-decodes (RFC 3261 §19.1.2: escaped
 * characters in user, password, parameters and headers). */
static enum fg_err decode(struct sip_arena *a, const char *p, size_t len, uint8_t cls,
                          const char *what, struct sip_str *out, struct sip_error *err, size_t off)
{
	char *d = sip__arena_alloc(a, len + 1);
	if (!d)
		return FG_ERR_NOMEM;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((sip__cc[c] & cls) == 0) {
			sip__set_err(err, off + i, "%s: character 0x%02x not allowed", what, c);
			return FG_ERR_PARSE;
		}
		if (c == '%') {
			int h, l;
			if (i + 2 >= len) {
				sip__set_err(err, off + i, "%s: truncated %%-escape", what);
				return FG_ERR_PARSE;
			}
			h = fg_hex_digit((unsigned char)p[i + 1]);
			l = fg_hex_digit((unsigned char)p[i + 2]);
			if (h < 0 || l < 0) {
				sip__set_err(err, off + i, "%s: bad %%-escape", what);
				return FG_ERR_PARSE;
			}
			d[n++] = (char)(h * 16 + l);
			i += 2;
		} else {
			d[n++] = (char)c;
		}
	}
	d[n] = '\0';
	out->p = d;
	out->len = n;
	return FG_OK;
}

static bool parse_port(const char *p, size_t len, uint16_t *port)
{
	if (len == 0 || len > 5)
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool is_ipv4(const char *p, size_t len)
{
	unsigned parts = 0, digits = 0, val = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || p[i] == '.') {
			if (digits == 0 || val > 255)
				return false;
			parts++;
			digits = 0;
			val = 0;
			continue;
		}
		if (p[i] < '0' || p[i] > '9' || ++digits > 3)
			return false;
		val = val * 10 + (unsigned)(p[i] - '0');
	}
	return parts == 4;
}

enum fg_err sip__hostport_parse(struct sip_arena *a, const char *p, size_t len,
                                struct sip_str *host, enum sip_host_type *type, uint16_t *port,
                                struct sip_error *err, size_t off)
{
	size_t hlen;
	*port = 0;
	if (len && p[0] == '[') {
		/* RFC 3261 §25.1 IPv6reference = "[" IPv6address "]" */
		const char *close = memchr(p, ']', len);
		if (!close || close == p + 1) {
			sip__set_err(err, off, "host: unterminated or empty IPv6 reference");
			return FG_ERR_PARSE;
		}
		size_t ilen = (size_t)(close - p) - 1;
		bool colon = false;
		for (size_t i = 1; i <= ilen; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == ':')
				colon = true;
			else if (fg_hex_digit(c) < 0 && c != '.') {
				sip__set_err(err, off + i, "host: bad IPv6 address character");
				return FG_ERR_PARSE;
			}
		}
		if (!colon || ilen > 45) {
			sip__set_err(err, off, "host: not an IPv6 address");
			return FG_ERR_PARSE;
		}
		*host = sip__arena_str(a, p + 1, ilen);
		*type = SIP_HOST_IPV6;
		hlen = ilen + 2;
	} else {
		const char *colon = memchr(p, ':', len);
		hlen = colon ? (size_t)(colon - p) : len;
		if (hlen == 0 || hlen > 255) {
			sip__set_err(err, off, "host: empty or longer than 255");
			return FG_ERR_PARSE;
		}
		/* RFC 3261 §25.1 hostname: labels of alphanum and '-', optional final dot. */
		size_t label = 0;
		for (size_t i = 0; i < hlen; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == '.') {
				if (label == 0) {
					sip__set_err(err, off + i, "host: empty label");
					return FG_ERR_PARSE;
				}
				label = 0;
			} else if (sip__is_alnum(c) || c == '-') {
				label++;
			} else {
				sip__set_err(err, off + i, "host: character 0x%02x not allowed", c);
				return FG_ERR_PARSE;
			}
		}
		*type = is_ipv4(p, hlen) ? SIP_HOST_IPV4 : SIP_HOST_NAME;
		*host = sip__arena_str(a, p, hlen);
	}
	if (!host->p)
		return FG_ERR_NOMEM;
	if (hlen < len) {
		if (p[hlen] != ':' || !parse_port(p + hlen + 1, len - hlen - 1, port)) {
			sip__set_err(err, off + hlen, "host: bad port");
			return FG_ERR_PARSE;
		}
	}
	return FG_OK;
}

/* Splits [p, p+len) at sep into name[=value] pairs, decoding each. */
static enum fg_err uri_pairs(struct sip_arena *a, const char *p, size_t len, char sep, uint8_t cls,
                             bool need_value, const char *what, struct sip_param *out, size_t *n,
                             struct sip_error *err, size_t off)
{
	size_t i = 0;
	*n = 0;
	while (i <= len) {
		const char *end = memchr(p + i, sep, len - i);
		size_t plen = end ? (size_t)(end - (p + i)) : len - i;
		if (plen == 0) {
			sip__set_err(err, off + i, "%s: empty entry", what);
			return FG_ERR_PARSE;
		}
		if (*n == SIP_MAX_PARAMS) {
			sip__set_err(err, off + i, "%s: more than %d entries", what,
			             SIP_MAX_PARAMS);
			return FG_ERR_TOOBIG;
		}
		const char *eq = memchr(p + i, '=', plen);
		size_t nlen = eq ? (size_t)(eq - (p + i)) : plen;
		struct sip_param *pr = &out[*n];
		memset(pr, 0, sizeof(*pr));
		if (nlen == 0 || (need_value && !eq)) {
			sip__set_err(err, off + i, "%s: entry without a name or value", what);
			return FG_ERR_PARSE;
		}
		enum fg_err e = decode(a, p + i, nlen, cls, what, &pr->name, err, off + i);
		if (e)
			return e;
		if (eq) {
			e = decode(a, eq + 1, plen - nlen - 1, cls, what, &pr->value, err,
			           off + i + nlen + 1);
			if (e)
				return e;
		}
		(*n)++;
		i += plen + 1;
	}
	return FG_OK;
}

/* Clears what a parse sets; the parameter arrays (2 KiB) are valid up to their counts
 * only, so they are not wiped on every parse. */
void sip__uri_clear(struct sip_uri *u)
{
	u->scheme = SIP_SCHEME_SIP;
	u->text = (struct sip_str){NULL, 0};
	u->user = (struct sip_str){NULL, 0};
	u->password = (struct sip_str){NULL, 0};
	u->host = (struct sip_str){NULL, 0};
	u->host_type = SIP_HOST_NAME;
	u->port = 0;
	u->nparams = 0;
	u->nheaders = 0;
}

static bool is_scheme_char(unsigned char c)
{
	return sip__is_alnum(c) || c == '+' || c == '-' || c == '.';
}

enum fg_err sip__uri_parse(struct sip_arena *a, const char *p, size_t len, bool allow_headers,
                           bool allow_other, struct sip_uri *out, struct sip_error *err, size_t off)
{
	enum fg_err e;
	sip__uri_clear(out);
	if (len == 0) {
		sip__set_err(err, off, "URI: empty");
		return FG_ERR_PARSE;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"') {
			sip__set_err(err, off + i, "URI: character 0x%02x not allowed", c);
			return FG_ERR_PARSE;
		}
	}
	out->text = sip__arena_str(a, p, len);
	if (!out->text.p)
		return FG_ERR_NOMEM;
	const char *colon = memchr(p, ':', len);
	size_t slen = colon ? (size_t)(colon - p) : 0;
	bool scheme_ok = slen > 0 && ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'));
	for (size_t i = 0; scheme_ok && i < slen; i++)
		scheme_ok = is_scheme_char((unsigned char)p[i]);
	if (!scheme_ok) {
		sip__set_err(err, off, "URI: no scheme");
		return FG_ERR_PARSE;
	}
	if (sip__casecmp(p, slen, "sip")) {
		out->scheme = SIP_SCHEME_SIP;
	} else if (sip__casecmp(p, slen, "sips")) {
		out->scheme = SIP_SCHEME_SIPS;
	} else {
		out->scheme = SIP_SCHEME_OTHER;
		if (allow_other)
			return FG_OK;
		sip__set_err(err, off, "URI: scheme '%.*s' is not sip or sips",
		             (int)(slen > 16 ? 16 : slen), p);
		return FG_ERR_VERSION;
	}
	size_t i = slen + 1;
	const char *rest = p + i;
	size_t rlen = len - i;
	/* userinfo ends at the first '@' reachable through user/password characters. */
	size_t u = 0;
	while (u < rlen && ((sip__cc[(unsigned char)rest[u]] & SIP_CC_USER) != 0 || rest[u] == ':'))
		u++;
	if (u < rlen && rest[u] == '@') {
		const char *pc = memchr(rest, ':', u);
		size_t ulen = pc ? (size_t)(pc - rest) : u;
		if (ulen == 0) {
			sip__set_err(err, off + i, "URI: empty user");
			return FG_ERR_PARSE;
		}
		e = decode(a, rest, ulen, SIP_CC_USER, "URI user", &out->user, err, off + i);
		if (e)
			return e;
		if (pc) {
			e = decode(a, pc + 1, u - ulen - 1, SIP_CC_PASSWORD, "URI password",
			           &out->password, err, off + i + ulen + 1);
			if (e)
				return e;
		}
		i += u + 1;
	}
	/* hostport ends at ';' or '?' */
	size_t h = i;
	while (h < len && p[h] != ';' && p[h] != '?')
		h++;
	e = sip__hostport_parse(a, p + i, h - i, &out->host, &out->host_type, &out->port, err,
	                        off + i);
	if (e)
		return e;
	i = h;
	if (i < len && p[i] == ';') {
		const char *q = memchr(p + i, '?', len - i);
		size_t end = q ? (size_t)(q - p) : len;
		e = uri_pairs(a, p + i + 1, end - i - 1, ';', SIP_CC_PARAM, false, "URI parameter",
		              out->params, &out->nparams, err, off + i + 1);
		if (e)
			return e;
		i = end;
	}
	if (i < len && p[i] == '?') {
		if (!allow_headers) {
			/* RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI. */
			sip__set_err(err, off + i, "URI: headers not allowed here");
			return FG_ERR_PARSE;
		}
		e = uri_pairs(a, p + i + 1, len - i - 1, '&', SIP_CC_HNV, true, "URI header",
		              out->headers, &out->nheaders, err, off + i + 1);
		if (e)
			return e;
	}
	return FG_OK;
}

/* A parsed URI, its arena and the arena's first chunk are one block; freed blocks are
 * kept for the next parse (address translation parses a URI per message). */
#define URI_ARENA_FIRST 1024 /* a usual URI and its decoded parts fit */
#define URI_CACHE_MAX   16

struct uri_box {
	_Alignas(max_align_t) struct sip_uri uri;
	struct sip_arena arena;
	struct uri_box *next_free;
	/* followed by struct arena_chunk and URI_ARENA_FIRST bytes */
};
_Static_assert(sizeof(struct uri_box) % _Alignof(max_align_t) == 0, "chunk alignment");

#define URI_BOX_SIZE (sizeof(struct uri_box) + sizeof(struct arena_chunk) + URI_ARENA_FIRST)

static _Thread_local struct uri_box *uri_cache;
static _Thread_local size_t uri_cache_n;

enum fg_err sip_uri_parse(const char *text, size_t len, struct sip_uri **out, struct sip_error *err)
{
	*out = NULL;
	if (len > SIP_MAX_URI) {
		sip__set_err(err, 0, "URI: longer than %d bytes", SIP_MAX_URI);
		return FG_ERR_TOOBIG;
	}
	struct uri_box *box = uri_cache;
	if (box != NULL) {
		FG_UNPOISON(box, URI_BOX_SIZE);
		uri_cache = box->next_free;
		uri_cache_n--;
	} else {
		box = malloc(URI_BOX_SIZE);
		if (!box)
			return FG_ERR_NOMEM;
	}
	sip__arena_init(&box->arena, (struct arena_chunk *)(void *)(box + 1), URI_ARENA_FIRST);
	enum fg_err e = sip__uri_parse(&box->arena, text, len, true, false, &box->uri, err, 0);
	if (e) {
		sip_uri_free(&box->uri);
		return e;
	}
	*out = &box->uri;
	return FG_OK;
}

void sip_uri_free(struct sip_uri *uri)
{
	if (!uri)
		return;
	struct uri_box *box = (struct uri_box *)(void *)uri;
	sip__arena_release(&box->arena);
	if (uri_cache_n >= URI_CACHE_MAX) {
		free(box);
		return;
	}
	box->next_free = uri_cache;
	uri_cache = box;
	uri_cache_n++;
	FG_POISON(box, offsetof(struct uri_box, next_free));
	FG_POISON(box + 1, URI_BOX_SIZE - sizeof(*box));
}

const struct sip_param *sip_uri_param(const struct sip_uri *uri, const char *name)
{
	for (size_t i = 0; i < uri->nparams; i++)
		if (sip__casecmp(uri->params[i].name.p, uri->params[i].name.len, name))
			return &uri->params[i];
	return NULL;
}

static size_t skip_ws(const char *p, size_t len, size_t i)
{
	while (i < len && sip__is_ws((unsigned char)p[i]))
		i++;
	return i;
}

/* Parses a quoted-string starting at p[i] == '"'. Returns the index after the closing
 * quote, or 0 when unterminated. If out is set, stores the unescaped content. */
static size_t quoted(struct sip_arena *a, const char *p, size_t len, size_t i, struct sip_str *out)
{
	size_t start = ++i;
	char *d = out ? sip__arena_alloc(a, len - start + 1) : NULL;
	size_t n = 0;
	if (out && !d)
		return 0;
	while (i < len) {
		char c = p[i];
		if (c == '"') {
			if (out) {
				d[n] = '\0';
				out->p = d;
				out->len = n;
			}
			return i + 1;
		}
		if (c == '\\') {
			/* RFC 3261 §25.1 quoted-pair: any octet but CR and LF. */
			if (i + 1 >= len || p[i + 1] == '\r' || p[i + 1] == '\n')
				return 0;
			i++;
			c = p[i];
		} else if (c == '\r' || c == '\n') {
			return 0;
		}
		if (d)
			d[n++] = c;
		i++;
	}
	return 0;
}

enum fg_err sip__params_parse(struct sip_arena *a, const char *p, size_t len,
                              struct sip_param *params, size_t *nparams, const char *what,
                              struct sip_error *err, size_t off)
{
	size_t i = skip_ws(p, len, 0);
	*nparams = 0;
	while (i < len) {
		if (p[i] != ';') {
			sip__set_err(err, off + i, "%s: expected ';'", what);
			return FG_ERR_PARSE;
		}
		i = skip_ws(p, len, i + 1);
		size_t ns = i;
		while (i < len && sip__is_token((unsigned char)p[i]))
			i++;
		if (i == ns) {
			sip__set_err(err, off + i, "%s: empty parameter", what);
			return FG_ERR_PARSE;
		}
		if (*nparams == SIP_MAX_PARAMS) {
			sip__set_err(err, off + i, "%s: more than %d parameters", what,
			             SIP_MAX_PARAMS);
			return FG_ERR_TOOBIG;
		}
		struct sip_param *pr = &params[(*nparams)++];
		memset(pr, 0, sizeof(*pr));
		pr->name = sip__arena_str(a, p + ns, i - ns);
		if (!pr->name.p)
			return FG_ERR_NOMEM;
		i = skip_ws(p, len, i);
		if (i < len && p[i] == '=') {
			i = skip_ws(p, len, i + 1);
			size_t vs = i;
			if (i < len && p[i] == '"') {
				i = quoted(a, p, len, i, NULL);
				if (!i) {
					sip__set_err(err, off + vs, "%s: unterminated quoted value",
					             what);
					return FG_ERR_PARSE;
				}
			} else {
				/* gen-value = token / host / quoted-string */
				while (i < len && (sip__is_token((unsigned char)p[i]) ||
				                   p[i] == '[' || p[i] == ']' || p[i] == ':'))
					i++;
			}
			if (i == vs) {
				sip__set_err(err, off + vs, "%s: empty parameter value", what);
				return FG_ERR_PARSE;
			}
			pr->value = sip__arena_str(a, p + vs, i - vs);
			if (!pr->value.p)
				return FG_ERR_NOMEM;
			i = skip_ws(p, len, i);
		}
	}
	return FG_OK;
}

enum fg_err sip__addr_parse(struct sip_arena *a, const char *p, size_t len, bool contact,
                            struct sip_addr *out, struct sip_error *err, size_t off)
{
	enum fg_err e;
	out->display = (struct sip_str){NULL, 0};
	sip__uri_clear(&out->uri);
	out->tag = (struct sip_str){NULL, 0};
	out->star = false;
	out->nparams = 0;
	size_t i = skip_ws(p, len, 0);
	while (len > i && sip__is_ws((unsigned char)p[len - 1]))
		len--;
	if (i == len) {
		sip__set_err(err, off, "address: empty");
		return FG_ERR_PARSE;
	}
	if (contact && len - i == 1 && p[i] == '*') {
		out->star = true;
		return FG_OK;
	}
	size_t uri_s, uri_e, after;
	if (p[i] == '"') {
		size_t q = quoted(a, p, len, i, &out->display);
		if (!q) {
			sip__set_err(err, off + i, "address: unterminated quoted display name");
			return FG_ERR_PARSE;
		}
		i = skip_ws(p, len, q);
		if (i >= len || p[i] != '<') {
			sip__set_err(err, off + i, "address: expected '<' after display name");
			return FG_ERR_PARSE;
		}
	} else {
		const char *lt = memchr(p + i, '<', len - i);
		if (lt) {
			/* display-name = *(token LWS): tokens and whitespace only */
			size_t ds = i, de = (size_t)(lt - p);
			for (size_t k = ds; k < de; k++) {
				unsigned char c = (unsigned char)p[k];
				if (!sip__is_token(c) && !sip__is_ws(c)) {
					sip__set_err(
					    err, off + k,
					    "address: character 0x%02x in unquoted display name",
					    c);
					return FG_ERR_PARSE;
				}
			}
			while (de > ds && sip__is_ws((unsigned char)p[de - 1]))
				de--;
			if (de > ds) {
				out->display = sip__arena_str(a, p + ds, de - ds);
				if (!out->display.p)
					return FG_ERR_NOMEM;
			}
			i = (size_t)(lt - p);
		}
	}
	if (i < len && p[i] == '<') {
		const char *gt = memchr(p + i, '>', len - i);
		if (!gt) {
			sip__set_err(err, off + i, "address: '<' without '>'");
			return FG_ERR_PARSE;
		}
		uri_s = i + 1;
		uri_e = (size_t)(gt - p);
		after = uri_e + 1;
		e = sip__uri_parse(a, p + uri_s, uri_e - uri_s, true, true, &out->uri, err,
		                   off + uri_s);
	} else {
		/* RFC 3261 §20.10: without <>, the URI ends at the first ';' and may not
		 * contain ',', '?' or ';' (those would be ambiguous). */
		uri_s = i;
		uri_e = i;
		while (uri_e < len && p[uri_e] != ';' && !sip__is_ws((unsigned char)p[uri_e]))
			uri_e++;
		after = uri_e;
		for (size_t k = uri_s; k < uri_e; k++) {
			if (p[k] == '?' || p[k] == ',') {
				sip__set_err(err, off + k, "address: URI with '%c' needs <>", p[k]);
				return FG_ERR_PARSE;
			}
		}
		e = sip__uri_parse(a, p + uri_s, uri_e - uri_s, false, true, &out->uri, err,
		                   off + uri_s);
	}
	if (e)
		return e;
	e = sip__params_parse(a, p + after, len - after, out->params, &out->nparams, "address", err,
	                      off + after);
	if (e)
		return e;
	for (size_t k = 0; k < out->nparams; k++)
		if (sip__casecmp(out->params[k].name.p, out->params[k].name.len, "tag")) {
			if (!out->params[k].value.p) {
				sip__set_err(err, off, "address: tag without value");
				return FG_ERR_PARSE;
			}
			out->tag = out->params[k].value;
		}
	return FG_OK;
}
