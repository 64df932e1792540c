/* sip internals shared by the sip module's files: arena, character classes, helpers. */
#ifndef FEDGW_SIP_INTERNAL_H
#define FEDGW_SIP_INTERNAL_H

#include <stdarg.h>

#include "sip/sip.h"

/* Per-message arena: every string of a parsed message is freed in one call. A bump
 * allocator over chunks; the first chunk may be caller memory (sip__arena_init), so that a
 * message and its strings take one allocation. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};
struct sip_arena {
	struct arena_chunk *head;
	struct arena_chunk *first; /* caller memory, never freed here (NULL if none) */
};
struct sip_arena *sip__arena_new(void);
void sip__arena_free(struct sip_arena *a);
/* Starts an arena in caller memory: first holds cap bytes of data after its header. */
void sip__arena_init(struct sip_arena *a, struct arena_chunk *first, size_t cap);
/* Frees the chunks the arena added; the caller's first chunk stays, emptied. */
void sip__arena_release(struct sip_arena *a);
void *sip__arena_alloc(struct sip_arena *a, size_t n);
/* Copies n bytes and NUL-terminates; returns {NULL,0} on allocation failure. */
struct sip_str sip__arena_str(struct sip_arena *a, const char *p, size_t n);

/* RFC 3261 §25.1 character classes, one bit each in sip__cc (sip_util.c; the unit
 * test checks the table against the ABNF sets). */
enum {
	SIP_CC_TOKEN = 0x01,    /* token */
	SIP_CC_ALNUM = 0x02,    /* alphanum */
	SIP_CC_WS = 0x04,       /* SP / HTAB */
	SIP_CC_UNRES = 0x08,    /* unreserved = alphanum / mark */
	SIP_CC_USER = 0x10,     /* unreserved / escaped / user-unreserved */
	SIP_CC_PASSWORD = 0x20, /* unreserved / escaped / "&=+$," */
	SIP_CC_PARAM = 0x40,    /* paramchar: param-unreserved / unreserved / escaped */
	SIP_CC_HNV = 0x80,      /* hnv-unreserved / unreserved / escaped, and '?' ':' '/' */
};
extern const uint8_t sip__cc[256];

static inline bool sip__is_token(unsigned char c)
{
	return (sip__cc[c] & SIP_CC_TOKEN) != 0;
}
static inline bool sip__is_alnum(unsigned char c)
{
	return (sip__cc[c] & SIP_CC_ALNUM) != 0;
}
static inline bool sip__is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}
static inline unsigned char sip__lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}
/* a[0..alen) equals the C string b, ignoring ASCII case. */
static inline bool sip__casecmp(const char *a, size_t alen, const char *b)
{
	for (size_t i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (y == 0 || sip__lower(x) != sip__lower(y))
			return false;
	}
	return b[alen] == 0;
}

/* Appends "name: value[suffix]\r\n"; value is copied by length (it may hold NUL). */
enum fg_err sip__append_hdr(struct fg_buf *b, const char *name, struct sip_str value,
                            const char *suffix);

/* Indexes of the parser's table of well-known headers (sip_msg.c) that the sip module
 * looks up itself: a lookup by index needs neither strlen nor a name comparison. */
enum sip__known {
	SIP__H_CALL_ID = 0,
	SIP__H_CONTACT,
	SIP__H_CONTENT_ENCODING,
	SIP__H_CONTENT_LENGTH,
	SIP__H_CONTENT_TYPE,
	SIP__H_FROM,
	SIP__H_SUBJECT,
	SIP__H_SUPPORTED,
	SIP__H_TO,
	SIP__H_VIA,
	SIP__H_CSEQ = 19,
	SIP__H_MAX_FORWARDS,
	SIP__H_ROUTE,
	SIP__H_RECORD_ROUTE,
};
/* The idx-th field of a known header, or NULL. */
const struct sip_header *sip__msg_known(const struct sip_msg *msg, enum sip__known k, size_t idx);

void sip__set_err(struct sip_error *err, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets what sip__uri_parse sets (not the parameter arrays, valid up to their counts). */
void sip__uri_clear(struct sip_uri *u);
/* Parses a sip/sips URI in [p, p+len) into out with strings in arena a.
 * allow_headers: '?' headers permitted (not in a Request-URI, RFC 3261 §19.1.1).
 * Unknown schemes: out->scheme = SIP_SCHEME_OTHER and FG_OK when allow_other. */
enum fg_err sip__uri_parse(struct sip_arena *a, const char *p, size_t len, bool allow_headers,
                           bool allow_other, struct sip_uri *out, struct sip_error *err,
                           size_t base_off);
/* Parses host[:port] with host name / IPv4 / [IPv6]. */
enum fg_err sip__hostport_parse(struct sip_arena *a, const char *p, size_t len,
                                struct sip_str *host, enum sip_host_type *type, uint16_t *port,
                                struct sip_error *err, size_t base_off);
/* Parses ";name[=value]" header parameters (LWS allowed around ';' and '=' per
 * RFC 3261 §25.1 SEMI/EQUAL). Quoted values are kept with their quotes. */
enum fg_err sip__params_parse(struct sip_arena *a, const char *p, size_t len,
                              struct sip_param *params, size_t *nparams, const char *what,
                              struct sip_error *err, size_t base_off);
enum fg_err sip__addr_parse(struct sip_arena *a, const char *p, size_t len, bool contact,
                            struct sip_addr *out, struct sip_error *err, size_t base_off);

#endif
