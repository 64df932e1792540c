/* sip internals shared by the sip module's files: arena, character classes, helpers. */
#ifndef FEDGW_SIP_INTERNAL_H
#define FEDGW_SIP_INTERNAL_H

#include <stdarg.h>

#include "sip/sip.h"

/* Per-message arena: every string of a parsed message is freed in one call. */
struct sip_arena;
struct sip_arena *sip__arena_new(void);
void sip__arena_free(struct sip_arena *a);
void *sip__arena_alloc(struct sip_arena *a, size_t n);
/* Copies n bytes and NUL-terminates; returns {NULL,0} on allocation failure. */
struct sip_str sip__arena_str(struct sip_arena *a, const char *p, size_t n);

/* RFC 3261 §25.1 character classes. */
bool sip__is_token(unsigned char c);
bool sip__is_alnum(unsigned char c);
bool sip__is_ws(unsigned char c);
bool sip__casecmp(const char *a, size_t alen, const char *b); /* equal, ignoring case */

/* Appends "name: value[suffix]\r\n"; value is copied by length (it may hold NUL). */
enum fg_err sip__append_hdr(struct fg_buf *b, const char *name, struct sip_str value,
                            const char *suffix);

void sip__set_err(struct sip_error *err, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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
