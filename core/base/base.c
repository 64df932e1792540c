/* base: error strings, byte buffers, small safe string helpers, clocks and randomness. */
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char *const err_names[FG_ERR__COUNT] = {
    [FG_OK] = "success",
    [FG_ERR_NOMEM] = "out of memory",
    [FG_ERR_INVAL] = "invalid argument",
    [FG_ERR_NOTFOUND] = "not found",
    [FG_ERR_EXISTS] = "already exists",
    [FG_ERR_TOOBIG] = "too large",
    [FG_ERR_IO] = "input/output error",
    [FG_ERR_STORE] = "store error",
    [FG_ERR_CRYPTO] = "cryptographic operation failed",
    [FG_ERR_PARSE] = "malformed input",
    [FG_ERR_BUSY] = "in use",
    [FG_ERR_PERM] = "not permitted",
    [FG_ERR_AUTH] = "authentication failed",
    [FG_ERR_TIMEOUT] = "timed out",
    [FG_ERR_VERSION] = "unsupported version",
    [FG_ERR_AGAIN] = "try again later",
};

const char *fg_strerror(enum fg_err err)
{
	if ((int)err < 0 || err >= FG_ERR__COUNT)
		return "unknown error";
	return err_names[err];
}

enum fg_err fg_buf_reserve(struct fg_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		return FG_ERR_TOOBIG;
	size_t need = b->len + extra + 1; /* room for fg_buf_cstr's NUL */
	if (need <= b->cap)
		return FG_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return FG_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return FG_OK;
}

enum fg_err fg_buf_append(struct fg_buf *b, const void *data, size_t len)
{
	enum fg_err err = fg_buf_reserve(b, len);
	if (err)
		return err;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return FG_OK;
}

enum fg_err fg_buf_append_str(struct fg_buf *b, const char *s)
{
	return fg_buf_append(b, s, strlen(s));
}

enum fg_err fg_buf_printf(struct fg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return FG_ERR_INVAL;
	enum fg_err err = fg_buf_reserve(b, (size_t)n);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return FG_OK;
}

void fg_buf_consume(struct fg_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void fg_buf_reset(struct fg_buf *b)
{
	b->len = 0;
}

void fg_buf_free(struct fg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

const char *fg_buf_cstr(struct fg_buf *b)
{
	if (fg_buf_reserve(b, 0) != FG_OK)
		return "";
	b->data[b->len] = '\0';
	return (const char *)b->data;
}

bool fg_strlcpy(char *dst, const char *src, size_t dstsize)
{
	if (dstsize == 0)
		return false;
	size_t n = strnlen(src, dstsize);
	bool fits = n < dstsize;
	if (!fits)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return fits;
}

bool fg_ct_equal(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t acc = 0;
	for (size_t i = 0; i < len; i++)
		acc |= (uint8_t)(x[i] ^ y[i]);
	return acc == 0;
}

bool fg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

void fg_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fg__invariant_failed("getrandom", __FILE__, __LINE__);
		}
		p += n;
		len -= (size_t)n;
	}
}

uint32_t fg_fnv1a32(uint32_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

uint64_t fg_fnv1a64(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

void fg_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

enum fg_name_fault fg_host_name_check(const char *s, size_t len, bool lowercase_only, size_t *at)
{
	size_t label = 0, dummy;
	if (at == NULL)
		at = &dummy;
	/* The end of the name closes the last label as a dot would. */
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';
		*at = i;
		if (c == '.') {
			if (label == 0)
				return FG_NAME_EMPTY_LABEL;
			if (s[i - 1] == '-')
				return FG_NAME_HYPHEN_END;
			label = 0;
			continue;
		}
		if (lowercase_only && c >= 'A' && c <= 'Z')
			return FG_NAME_UPPERCASE;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return FG_NAME_BAD_CHAR;
		if (c == '-' && label == 0)
			return FG_NAME_HYPHEN_START;
		if (++label > FG_HOST_LABEL_MAX)
			return FG_NAME_LABEL_LONG;
	}
	return FG_NAME_OK;
}

size_t fg_utf8_decode(const uint8_t *s, size_t avail, uint32_t *cp)
{
	if (avail == 0)
		return 0;
	uint8_t c = s[0];
	size_t n;
	uint32_t v;
	if (c < 0x80) {
		n = 1;
		v = c;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0; /* a continuation byte, or a lead byte only overlong forms use */
	}
	if (avail < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	if (cp != NULL)
		*cp = v;
	return n;
}

int fg_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int64_t fg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Thread_local char *readbuf;
static _Thread_local bool readbuf_out;

char *fg_readbuf_take(size_t *len)
{
	char *p;
	if (readbuf == NULL)
		readbuf = malloc(FG_READ_BUF);
	if (readbuf != NULL && !readbuf_out) {
		readbuf_out = true;
		p = readbuf;
	} else {
		p = malloc(FG_READ_BUF);
	}
	*len = p != NULL ? FG_READ_BUF : 0;
	return p;
}

void fg_readbuf_give(char *p)
{
	if (p != NULL && p == readbuf)
		readbuf_out = false;
	else
		free(p);
}

int64_t fg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fg_format_utc(char *out, size_t outsize, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outsize, "%Y-%m-%d %H:%M:%S", &tm);
}

bool fg_format_iso8601(char *out, size_t outsize, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, outsize, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (outsize > 0)
			out[0] = '\0';
		return false;
	}
	return true;
}

_Noreturn void fg__invariant_failed(const char *cond, const char *file, int line)
{
	fprintf(stderr, "fedgw: invariant failed: %s (%s:%d)\n", cond, file, line);
	abort();
}
