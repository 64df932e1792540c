/* xmpp internals shared between the stream, DOM and s2s files (not part of the API). */
#ifndef FEDGW_XMPP_INTERNAL_H
#define FEDGW_XMPP_INTERNAL_H

#include "xmpp/xmpp.h"

/* Bump allocator for one stanza's DOM: everything is released by one reset. */
struct xmpp__arena_chunk;
struct xmpp__arena {
	struct xmpp__arena_chunk *chunks;
	size_t used; /* bytes handed out since the last reset */
};

void *xmpp__arena_alloc(struct xmpp__arena *a, size_t size);
char *xmpp__arena_strndup(struct xmpp__arena *a, const char *s, size_t len);
void xmpp__arena_reset(struct xmpp__arena *a);
/* Empties the arena for the next stanza: a chunk of the usual size is kept (a stream that
 * carries one stanza after another costs no malloc for its tree), larger ones are freed. */
void xmpp__arena_recycle(struct xmpp__arena *a);

/* Validates UTF-8 and XML 1.0 Char production; true if all of s[0..len) is acceptable. */
bool xmpp__xml_chars_ok(const uint8_t *s, size_t len);

/* Appends a domain part of a JID check helper: true if name is in the list. */
bool xmpp__domain_in(const char *name, const char *const *list, size_t n);

#endif
