/* webui api: pure helpers: times (RFC 3339), CSRF and Origin checks (RFC 6454), session
 * tokens, the login throttle table, JSON error bodies and request field validation. */
#include "webui/api.h"

#include <bearssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void webui__iso_time(char out[32], int64_t ms)
{
	if (ms < 0 || !fg_format_iso8601(out, 32, ms))
		fg_strlcpy(out, "1970-01-01T00:00:00Z", 32);
}

json_t *webui__json_time(int64_t ms)
{
	char buf[32];
	if (ms <= 0)
		return json_null();
	webui__iso_time(buf, ms);
	return json_string(buf);
}

bool webui__csrf_equal(const char *expected, const char *given)
{
	if (!expected || !given || !*expected)
		return false;
	size_t len = strlen(expected);
	/* The length of a token is no secret; only its bytes are compared in constant time. */
	if (strlen(given) != len)
		return false;
	return fg_ct_equal(expected, given, len);
}

/* Splits "host[:port]" (or "[v6]:port") into a lowercase host and a port (def if absent).
 * False on anything malformed. */
static bool split_authority(const char *s, size_t len, unsigned def_port, char *host,
                            size_t hostsize, unsigned *port)
{
	size_t hlen;
	const char *p;
	if (len == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return false;
		hlen = (size_t)(close - s) + 1;
		p = close + 1;
	} else {
		const char *colon = memchr(s, ':', len);
		hlen = colon ? (size_t)(colon - s) : len;
		p = s + hlen;
	}
	if (hlen == 0 || hlen >= hostsize)
		return false;
	for (size_t i = 0; i < hlen; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		host[i] = c;
	}
	host[hlen] = '\0';
	size_t rest = len - (size_t)(p - s);
	if (rest == 0) {
		*port = def_port;
		return true;
	}
	if (*p != ':' || rest < 2 || rest > 6)
		return false;
	char num[8];
	memcpy(num, p + 1, rest - 1);
	num[rest - 1] = '\0';
	uint64_t v;
	if (!fg_parse_u64(num, 1, 65535, &v))
		return false;
	*port = (unsigned)v;
	return true;
}

bool webui__origin_matches_host(const char *origin, const char *host)
{
	static const char scheme[] = "https://";
	char oh[256], hh[256];
	unsigned op, hp;
	if (!origin || !host)
		return false;
	/* The console answers only over HTTPS: any other scheme (or "null") is foreign. */
	if (strncasecmp(origin, scheme, sizeof(scheme) - 1) != 0)
		return false;
	const char *auth = origin + sizeof(scheme) - 1;
	if (strchr(auth, '/') || strchr(auth, '@'))
		return false;
	if (!split_authority(auth, strlen(auth), 443, oh, sizeof(oh), &op))
		return false;
	if (!split_authority(host, strlen(host), 443, hh, sizeof(hh), &hp))
		return false;
	return op == hp && strcmp(oh, hh) == 0;
}

bool webui__session_id_from_token(const char *token_hex, char id[65])
{
	uint8_t raw[WEBUI_TOKEN_BYTES];
	uint8_t digest[32];
	if (!token_hex || strlen(token_hex) != 2 * WEBUI_TOKEN_BYTES)
		return false;
	for (size_t i = 0; i < WEBUI_TOKEN_BYTES; i++) {
		int hi = fg_hex_digit((unsigned char)token_hex[2 * i]),
		    lo = fg_hex_digit((unsigned char)token_hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, raw, sizeof(raw));
	br_sha256_out(&sc, digest);
	fg_hex(id, digest, sizeof(digest));
	return true;
}

void webui__session_new(char token[WEBUI_TOKEN_HEX], char id[65], char csrf[65])
{
	uint8_t raw[WEBUI_TOKEN_BYTES];
	fg_random(raw, sizeof(raw));
	fg_hex(token, raw, sizeof(raw));
	webui__session_id_from_token(token, id);
	fg_random(raw, sizeof(raw));
	fg_hex(csrf, raw, sizeof(raw));
}

enum webui_session_state webui__session_state(int64_t last_seen_ms, int64_t now_ms, int64_t idle_ms)
{
	if (idle_ms <= 0)
		idle_ms = 1800LL * 1000;
	if (now_ms - last_seen_ms > idle_ms)
		return WEBUI_SESSION_EXPIRED;
	/* A clock that stepped back counts as recent use, not as a reason to write. */
	if (now_ms - last_seen_ms >= WEBUI_SESSION_TOUCH_MS)
		return WEBUI_SESSION_TOUCH;
	return WEBUI_SESSION_FRESH;
}

/* ---- login throttle ------------------------------------------------------------------ */

struct throttle_entry {
	char addr[DB_ADDR_MAX];
	unsigned failures;
	int64_t last_failure_ms;
};

struct webui_throttle {
	struct throttle_entry entries[WEBUI_THROTTLE_SOURCES];
	size_t count;
};

struct webui_throttle *webui__throttle_new(void)
{
	return calloc(1, sizeof(struct webui_throttle));
}

void webui__throttle_free(struct webui_throttle *t)
{
	free(t);
}

static struct throttle_entry *throttle_find(struct webui_throttle *t, const char *addr)
{
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->entries[i].addr, addr) == 0)
			return &t->entries[i];
	return NULL;
}

static void throttle_remove(struct webui_throttle *t, struct throttle_entry *e)
{
	*e = t->entries[--t->count];
}

/* Delay imposed after `failures` failures: none for the free ones, then 1 s doubling. */
static int64_t throttle_delay_ms(unsigned failures)
{
	if (failures < WEBUI_THROTTLE_FREE_FAILURES)
		return 0;
	unsigned shift = failures - WEBUI_THROTTLE_FREE_FAILURES;
	if (shift > 16)
		return WEBUI_THROTTLE_MAX_DELAY_MS;
	int64_t d = (int64_t)WEBUI_THROTTLE_FIRST_DELAY_MS << shift;
	return d > WEBUI_THROTTLE_MAX_DELAY_MS ? WEBUI_THROTTLE_MAX_DELAY_MS : d;
}

bool webui__throttle_check(struct webui_throttle *t, const char *addr, int64_t now_ms,
                           unsigned *retry_after_s)
{
	struct throttle_entry *e = throttle_find(t, addr);
	if (!e)
		return true;
	if (now_ms - e->last_failure_ms >= WEBUI_THROTTLE_WINDOW_MS) {
		throttle_remove(t, e);
		return true;
	}
	int64_t until = e->last_failure_ms + throttle_delay_ms(e->failures);
	if (now_ms >= until)
		return true;
	int64_t wait = until - now_ms;
	*retry_after_s = (unsigned)((wait + 999) / 1000);
	if (*retry_after_s == 0)
		*retry_after_s = 1;
	return false;
}

void webui__throttle_fail(struct webui_throttle *t, const char *addr, int64_t now_ms)
{
	struct throttle_entry *e = throttle_find(t, addr);
	if (e && now_ms - e->last_failure_ms >= WEBUI_THROTTLE_WINDOW_MS) {
		e->failures = 0;
	} else if (!e) {
		if (t->count == WEBUI_THROTTLE_SOURCES) {
			/* Full: forget the address whose last failure is oldest. */
			size_t oldest = 0;
			for (size_t i = 1; i < t->count; i++)
				if (t->entries[i].last_failure_ms <
				    t->entries[oldest].last_failure_ms)
					oldest = i;
			throttle_remove(t, &t->entries[oldest]);
		}
		e = &t->entries[t->count++];
		memset(e, 0, sizeof(*e));
		fg_strlcpy(e->addr, addr, sizeof(e->addr));
	}
	if (e->failures < 64)
		e->failures++;
	e->last_failure_ms = now_ms;
}

void webui__throttle_success(struct webui_throttle *t, const char *addr)
{
	struct throttle_entry *e = throttle_find(t, addr);
	if (e)
		throttle_remove(t, e);
}

size_t webui__throttle_count(const struct webui_throttle *t)
{
	return t->count;
}

/* Matches path against pattern segment by segment, capturing "*" segments. */
bool webui__path_match(const char *pattern, const char *path, char params[2][WEBUI_PARAM_MAX])
{
	size_t np = 0;
	while (*pattern && *path) {
		size_t plen = strcspn(pattern, "/"), slen = strcspn(path, "/");
		if (plen == 1 && pattern[0] == '*') {
			if (slen == 0 || slen >= WEBUI_PARAM_MAX || np >= 2)
				return false;
			memcpy(params[np], path, slen);
			params[np][slen] = '\0';
			np++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
		if (*pattern != *path)
			return false;
		if (*pattern == '/') {
			pattern++;
			path++;
			if (!*pattern || !*path)
				return *pattern == *path;
		}
	}
	return !*pattern && !*path;
}

/* ---- errors and request fields -------------------------------------------------------- */

void webui__error_set(struct webui_error *e, unsigned status, const char *code, const char *field,
                      const char *fix, const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	e->code = code;
	e->field = field;
	e->fix = fix;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

json_t *webui__error_json(const struct webui_error *e)
{
	return json_pack("{s:{s:s, s:s, s:o, s:s}}", "error", "code", e->code ? e->code : "error",
	                 "message", e->message, "field",
	                 e->field ? json_string(e->field) : json_null(), "fix",
	                 e->fix ? e->fix : "");
}

bool webui__body_parse(const uint8_t *data, size_t len, json_t **out, struct webui_error *e)
{
	json_error_t jerr;
	*out = NULL;
	if (len == 0) {
		webui__error_set(e, 400, "bad_json", NULL,
		                 "Send a JSON object as the request body.",
		                 "The request body is empty.");
		return false;
	}
	json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jansson's text may quote the input ("near '<x'"): keep only the reason. */
		char reason[sizeof(jerr.text)];
		fg_strlcpy(reason, jerr.text, sizeof(reason));
		char *near = strstr(reason, " near ");
		if (near)
			*near = '\0';
		for (char *p = reason; *p; p++)
			if (*p == '<' || *p == '>' || *p == '\'' || *p == '"')
				*p = ' ';
		webui__error_set(e, 400, "bad_json", NULL, "Send a valid JSON object.",
		                 "The request body is not valid JSON: %s (line %d, column %d).",
		                 reason, jerr.line, jerr.column);
		return false;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		webui__error_set(e, 400, "bad_json", NULL, "Send a JSON object ({...}).",
		                 "The request body must be a JSON object.");
		return false;
	}
	*out = root;
	return true;
}

bool webui__field_string(json_t *obj, const char *name, bool required, size_t max_bytes,
                         const char **out, struct webui_error *e)
{
	json_t *v = json_object_get(obj, name);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (!required)
			return true;
		webui__error_set(e, 400, "bad_field", name, "Fill in this field.",
		                 "The field \"%s\" is required.", name);
		return false;
	}
	if (!json_is_string(v)) {
		webui__error_set(e, 400, "bad_field", name, "Send this field as a JSON string.",
		                 "The field \"%s\" must be a string.", name);
		return false;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (strlen(s) != len) {
		webui__error_set(e, 422, "invalid", name, "Remove the NUL character.",
		                 "The field \"%s\" contains a NUL character.", name);
		return false;
	}
	if (required && len == 0) {
		webui__error_set(e, 422, "invalid", name, "Fill in this field.",
		                 "The field \"%s\" must not be empty.", name);
		return false;
	}
	if (len > max_bytes) {
		webui__error_set(e, 422, "invalid", name, "Shorten the value.",
		                 "The field \"%s\" is too long (at most %zu bytes).", name,
		                 max_bytes);
		return false;
	}
	*out = s;
	return true;
}

bool webui__query_uint(const char *value, const char *name, uint64_t max, uint64_t def,
                       uint64_t *out, struct webui_error *e)
{
	if (!value || !*value) {
		*out = def;
		return true;
	}
	if (!fg_parse_u64(value, 0, max, out)) {
		webui__error_set(e, 400, "bad_parameter", name, "Use a whole number in range.",
		                 "The parameter \"%s\" must be a whole number from 0 to %llu.",
		                 name, (unsigned long long)max);
		return false;
	}
	return true;
}

bool webui__is_json_type(const char *content_type)
{
	static const char want[] = "application/json";
	if (!content_type)
		return false;
	while (*content_type == ' ')
		content_type++;
	if (strncasecmp(content_type, want, sizeof(want) - 1) != 0)
		return false;
	char next = content_type[sizeof(want) - 1];
	return next == '\0' || next == ';' || next == ' ';
}

json_t *webui__json_text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	/* Not valid UTF-8 (text from a peer): keep the ASCII, mark the rest. */
	size_t len = strlen(s);
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i <= len; i++)
		copy[i] = ((unsigned char)s[i] < 0x80) ? s[i] : '?';
	j = json_string(copy);
	free(copy);
	return j;
}
