/* base: the error enum, growable byte buffers and the logging API every module shares. */
#ifndef FEDGW_BASE_H
#define FEDGW_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Memory kept in a free list or cache for reuse is poisoned under AddressSanitizer while
 * unused, so that a use after its release is still reported in tests; without ASan these
 * do nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define FG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FG_ASAN 1
#endif
#endif
#ifdef FG_ASAN
#include <sanitizer/asan_interface.h>
#define FG_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define FG_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FG_POISON(p, n)   ((void)(p), (void)(n))
#define FG_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* One status enum for the whole product; 0 is success. Library errors (MDB_*, BR_ERR_*,
 * UB_*) are translated where they are called and logged with their own text. */
enum fg_err {
	FG_OK = 0,
	FG_ERR_NOMEM,    /* allocation failed */
	FG_ERR_INVAL,    /* caller passed an invalid argument or malformed input */
	FG_ERR_NOTFOUND, /* no such record / object */
	FG_ERR_EXISTS,   /* record already exists */
	FG_ERR_TOOBIG,   /* input exceeds a named limit */
	FG_ERR_IO,       /* operating system I/O error (see errno in the log) */
	FG_ERR_STORE,    /* the LMDB store failed (see the log for mdb_strerror) */
	FG_ERR_CRYPTO,   /* a cryptographic operation failed */
	FG_ERR_PARSE,    /* malformed encoding (PEM, DER, JSON, XML, SIP) */
	FG_ERR_BUSY,     /* object in use; refused (e.g. deleting a certificate in use) */
	FG_ERR_PERM,     /* not allowed */
	FG_ERR_AUTH,     /* authentication failed */
	FG_ERR_TIMEOUT,  /* an operation timed out */
	FG_ERR_VERSION,  /* unsupported format or schema version */
	FG_ERR_AGAIN,    /* try again later (rate limited, not ready) */
	FG_ERR__COUNT
};

const char *fg_strerror(enum fg_err err);

/* Growable byte buffer. Zero-initialise ({0}) before use; fg_buf_free releases it. */
struct fg_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

enum fg_err fg_buf_reserve(struct fg_buf *b, size_t extra);
enum fg_err fg_buf_append(struct fg_buf *b, const void *data, size_t len);
enum fg_err fg_buf_append_str(struct fg_buf *b, const char *s);
enum fg_err fg_buf_printf(struct fg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes. */
void fg_buf_consume(struct fg_buf *b, size_t n);
void fg_buf_reset(struct fg_buf *b);
void fg_buf_free(struct fg_buf *b);
/* Appends a NUL (not counted in len) and returns data as a C string. */
const char *fg_buf_cstr(struct fg_buf *b);

/* Bounded string copy: always NUL-terminates; returns false if src was truncated. */
bool fg_strlcpy(char *dst, const char *src, size_t dstsize);
/* Constant-time comparison of two byte strings of the same length. */
bool fg_ct_equal(const void *a, const void *b, size_t len);
/* Strict decimal parse of an unsigned integer in [min,max]; false on junk or overflow. */
bool fg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Cryptographically secure random bytes (getrandom); aborts if the kernel cannot supply. */
void fg_random(void *buf, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void fg_hex(char *out, const uint8_t *in, size_t len);
/* FNV-1a over len bytes, continuing from h (start with FG_FNV32_INIT / FG_FNV64_INIT): the
 * hash of the in-memory indexes, not for anything a peer could use to collide on purpose
 * beyond longer bucket chains. */
#define FG_FNV32_INIT 2166136261u
#define FG_FNV64_INIT 0xcbf29ce484222325ull
uint32_t fg_fnv1a32(uint32_t h, const void *p, size_t len);
uint64_t fg_fnv1a64(uint64_t h, const void *p, size_t len);
/* Value of one hex digit (either case), or -1 when c is not one. */
int fg_hex_digit(int c);
/* One UTF-8 sequence at s, of the avail bytes there (RFC 3629 §4: shortest form, no
 * surrogates, at most U+10FFFF): its length (1-4) with the code point in *cp (cp may be
 * NULL), or 0 when the bytes are not one (invalid, or cut short by avail). */
size_t fg_utf8_decode(const uint8_t *s, size_t avail, uint32_t *cp);

/* Address lists, the peers a setting trusts: IPv4 and IPv6 addresses and prefixes
 * ("192.0.2.7", "10.0.0.0/8", "2001:db8::/32") separated by commas or white space, at most
 * FG_ADDR_LIST_MAX of them. */
#define FG_ADDR_LIST_MAX      32
#define FG_ADDR_LIST_MAX_TEXT "32"
/* Checks a list and writes it in its usual form into out ("192.0.2.7, 10.0.0.0/8"; empty
 * for an empty list). False when an item is wrong: that item in bad and what is wrong with
 * it in *why ("is not an IPv4 or IPv6 address"). */
bool fg_addr_list_norm(const char *in, char *out, size_t outsize, char *bad, size_t badsize,
                       const char **why);
/* Is the address ip (text, as a socket gives it) inside one of the list's items? An
 * IPv4-mapped IPv6 address is its IPv4 address. */
bool fg_addr_list_match(const char *list, const char *ip);

/* RFC 1035 §2.3.4: a label is at most 63 octets. */
#define FG_HOST_LABEL_MAX 63
/* What is wrong with a host name's syntax (fg_host_name_check), in the order it is found. */
enum fg_name_fault {
	FG_NAME_OK = 0,
	FG_NAME_EMPTY_LABEL,  /* two dots in a row, a leading or trailing dot, or nothing */
	FG_NAME_HYPHEN_END,   /* a label ends with '-' */
	FG_NAME_UPPERCASE,    /* 'A'-'Z' where only lower case is accepted */
	FG_NAME_BAD_CHAR,     /* not a letter, digit, hyphen or dot */
	FG_NAME_HYPHEN_START, /* a label starts with '-' */
	FG_NAME_LABEL_LONG,   /* a label is longer than FG_HOST_LABEL_MAX */
};
/* RFC 1123 §2.1 host name syntax over len bytes: letters, digits and hyphens in labels of
 * 1-63 octets that neither start nor end with '-', separated by single dots. The caller
 * checks the total length and trailing-dot conventions. *at (may be NULL) gets the offset of
 * the fault. */
enum fg_name_fault fg_host_name_check(const char *s, size_t len, bool lowercase_only, size_t *at);

/* The receive buffer of an event loop's read: libuv asks for a buffer, reads into it and
 * hands the bytes to the read callback at once, and the callback is done with them when it
 * returns (whatever it keeps, it copies). So one FG_READ_BUF-byte buffer per thread serves
 * every connection, and idle connections hold none. A second take while the first is out
 * (which libuv does not do) gets a buffer of its own; fg_readbuf_give frees or returns
 * either. NULL with *len 0 when out of memory. */
#define FG_READ_BUF 65536u
char *fg_readbuf_take(size_t *len);
void fg_readbuf_give(char *p);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in milliseconds.
 * Protocol cores never call these: the I/O edge passes time in. */
int64_t fg_now_ms(void);
int64_t fg_mono_ms(void);
/* "2026-11-21 20:05:42" (UTC) into out (at least 20 bytes). */
void fg_format_utc(char *out, size_t outsize, int64_t ms);
/* RFC 3339 §5.6 "2026-11-21T20:05:42Z" (UTC, whole seconds) into out (at least 21 bytes);
 * false, with out empty, when the time cannot be formatted. */
bool fg_format_iso8601(char *out, size_t outsize, int64_t ms);

/* Logging: levels and subsystems. Messages go to every registered sink (stderr for
 * journald, the store's bounded log). Never log secrets or private keys. */
enum fg_log_level {
	FG_LOG_DEBUG = 0,
	FG_LOG_INFO,
	FG_LOG_NOTICE,
	FG_LOG_WARN,
	FG_LOG_ERR,
};

#define FG_LOG_SUBSYS_MAX 16
#define FG_LOG_MSG_MAX    1024

const char *fg_log_level_name(enum fg_log_level level);
/* Parses "debug", "info", "notice", "warning"/"warn", "error"/"err". */
bool fg_log_level_parse(const char *s, enum fg_log_level *out);

struct fg_log_record {
	int64_t time_ms;
	enum fg_log_level level;
	const char *subsys; /* e.g. "core", "store", "console", "xmpp", "sip" */
	const char *msg;    /* formatted, at most FG_LOG_MSG_MAX - 1 bytes */
};

typedef void (*fg_log_sink_cb)(void *ctx, const struct fg_log_record *rec);

/* Registers a sink; returns a handle for fg_log_remove_sink (or -1 when full). */
int fg_log_add_sink(fg_log_sink_cb cb, void *ctx, enum fg_log_level min_level);
void fg_log_remove_sink(int handle);
/* Built-in stderr sink: "<level> subsys: message" with a syslog priority prefix that
 * journald understands ("<3>" etc.) when stderr is not a terminal. */
void fg_log_stderr_sink(void *ctx, const struct fg_log_record *rec);

void fg_log(enum fg_log_level level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fg_logv(enum fg_log_level level, const char *subsys, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define FG_LOGD(sub, ...) fg_log(FG_LOG_DEBUG, sub, __VA_ARGS__)
#define FG_LOGI(sub, ...) fg_log(FG_LOG_INFO, sub, __VA_ARGS__)
#define FG_LOGN(sub, ...) fg_log(FG_LOG_NOTICE, sub, __VA_ARGS__)
#define FG_LOGW(sub, ...) fg_log(FG_LOG_WARN, sub, __VA_ARGS__)
#define FG_LOGE(sub, ...) fg_log(FG_LOG_ERR, sub, __VA_ARGS__)

/* Invariant check: aborts loudly in every build. Never use on peer input. */
#define FG_INVARIANT(cond)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fg__invariant_failed(#cond, __FILE__, __LINE__);                           \
	} while (0)
_Noreturn void fg__invariant_failed(const char *cond, const char *file, int line);

#endif
