/* sip: arena, RFC 3261 §25.1 character classes, method names and reason phrases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_internal.h"

#define ARENA_CHUNK 4096 /* most messages fit in one or two chunks */

struct sip_arena *sip__arena_new(void)
{
	return calloc(1, sizeof(struct sip_arena));
}

void sip__arena_init(struct sip_arena *a, struct arena_chunk *first, size_t cap)
{
	first->next = NULL;
	first->used = 0;
	first->cap = cap;
	a->head = first;
	a->first = first;
}

void sip__arena_release(struct sip_arena *a)
{
	struct arena_chunk *c = a->head;
	while (c != NULL && c != a->first) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = a->first;
	if (a->first != NULL)
		a->first->used = 0;
}

void sip__arena_free(struct sip_arena *a)
{
	if (!a)
		return;
	sip__arena_release(a);
	free(a);
}

void *sip__arena_alloc(struct sip_arena *a, size_t n)
{
	size_t align = sizeof(max_align_t);
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) / align * align;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = a->head;
		a->head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

struct sip_str sip__arena_str(struct sip_arena *a, const char *p, size_t n)
{
	struct sip_str s = {NULL, 0};
	char *d = sip__arena_alloc(a, n + 1);
	if (!d)
		return s;
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	s.p = d;
	s.len = n;
	return s;
}

/* Generated from the RFC 3261 §25.1 sets (bits as in sip_internal.h); bytes >= 0x80
 * belong to none. tests/unit/sip checks every byte against the ABNF. */
const uint8_t sip__cc[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0xf9, 0x00, 0x00, 0xf0, 0xf1, 0x70, 0xf9, 0xf8, 0xf8, 0xf9, 0xf1, 0x30, 0xf9, 0xf9, 0xd0,
    0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xc0, 0x10, 0x00, 0x30, 0x00, 0x90,
    0x00, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb,
    0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xc0, 0x00, 0xc0, 0x00, 0xf9,
    0x01, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb,
    0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0xfb, 0x00, 0x00, 0x00, 0xf9, 0x00,
};

enum fg_err sip__append_hdr(struct fg_buf *b, const char *name, struct sip_str value,
                            const char *suffix)
{
	enum fg_err e = fg_buf_append_str(b, name);
	if (!e)
		e = fg_buf_append_str(b, ": ");
	if (!e)
		e = fg_buf_append(b, value.p, value.len);
	if (!e && suffix)
		e = fg_buf_append_str(b, suffix);
	if (!e)
		e = fg_buf_append_str(b, "\r\n");
	return e;
}

void sip__set_err(struct sip_error *err, size_t offset, const char *fmt, ...)
{
	if (!err)
		return;
	err->offset = offset;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->what, sizeof(err->what), fmt, ap);
	va_end(ap);
}

static const char *const method_names[] = {
    [SIP_METHOD_INVITE] = "INVITE",   [SIP_METHOD_ACK] = "ACK",
    [SIP_METHOD_BYE] = "BYE",         [SIP_METHOD_CANCEL] = "CANCEL",
    [SIP_METHOD_OPTIONS] = "OPTIONS", [SIP_METHOD_REGISTER] = "REGISTER",
    [SIP_METHOD_MESSAGE] = "MESSAGE", [SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
    [SIP_METHOD_NOTIFY] = "NOTIFY",   [SIP_METHOD_INFO] = "INFO",
    [SIP_METHOD_PRACK] = "PRACK",     [SIP_METHOD_UPDATE] = "UPDATE",
    [SIP_METHOD_REFER] = "REFER",     [SIP_METHOD_PUBLISH] = "PUBLISH",
};

enum sip_method sip_method_from_name(const char *name, size_t len)
{
	/* RFC 3261 §7.1: method names are case-sensitive. */
	for (size_t i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (len != 0 && method_names[i][0] == name[0] && strlen(method_names[i]) == len &&
		    memcmp(method_names[i], name, len) == 0)
			return (enum sip_method)i;
	return SIP_METHOD_OTHER;
}

const char *sip_method_name(enum sip_method m)
{
	if ((size_t)m == 0 || (size_t)m >= sizeof(method_names) / sizeof(method_names[0]))
		return NULL;
	return method_names[m];
}

static const struct {
	unsigned code;
	const char *reason;
} reasons[] = {
    {100, "Trying"},
    {180, "Ringing"},
    {181, "Call Is Being Forwarded"},
    {182, "Queued"},
    {183, "Session Progress"},
    {200, "OK"},
    {202, "Accepted"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {305, "Use Proxy"},
    {380, "Alternative Service"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Unsupported URI Scheme"},
    {420, "Bad Extension"},
    {421, "Extension Required"},
    {423, "Interval Too Brief"},
    {480, "Temporarily Unavailable"},
    {481, "Call/Transaction Does Not Exist"},
    {482, "Loop Detected"},
    {483, "Too Many Hops"},
    {484, "Address Incomplete"},
    {485, "Ambiguous"},
    {486, "Busy Here"},
    {487, "Request Terminated"},
    {488, "Not Acceptable Here"},
    {489, "Bad Event"},
    {491, "Request Pending"},
    {493, "Undecipherable"},
    {500, "Server Internal Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Server Time-out"},
    {505, "Version Not Supported"},
    {513, "Message Too Large"},
    {600, "Busy Everywhere"},
    {603, "Decline"},
    {604, "Does Not Exist Anywhere"},
    {606, "Not Acceptable"},
};

const char *sip_reason_phrase(unsigned status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].reason;
	return "Unknown";
}
