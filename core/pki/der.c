/* pki DER: a small X.690 DER writer and reader, and RFC 5280 §4.1.2.5 times. */
#include "pki/pki.h"

#include <stdio.h>
#include <string.h>

/* OIDs we write have at most ~12 arcs; dotted text longer than this is a caller bug. */
#define DER_OID_TEXT_MAX 128

void pki_der_init(struct pki_der *d)
{
	memset(d, 0, sizeof(*d));
}

void pki_der_free(struct pki_der *d)
{
	if (d == NULL)
		return;
	fg_buf_free(&d->buf);
	d->depth = 0;
}

static void der_fail(struct pki_der *d, enum fg_err err)
{
	if (d->err == FG_OK)
		d->err = err;
}

static void der_put(struct pki_der *d, const void *p, size_t len)
{
	if (d->err != FG_OK)
		return;
	if (fg_buf_append(&d->buf, p, len) != FG_OK)
		der_fail(d, FG_ERR_NOMEM);
}

static size_t der_len_encode(uint8_t out[5], size_t len)
{
	if (len < 0x80) {
		out[0] = (uint8_t)len;
		return 1;
	}
	size_t n = 0;
	for (size_t v = len; v > 0; v >>= 8)
		n++;
	out[0] = (uint8_t)(0x80 | n);
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
	return 1 + n;
}

void pki_der_tlv(struct pki_der *d, uint8_t tag, const void *val, size_t len)
{
	uint8_t hdr[6];
	if (len > PKI_DER_MAX) {
		der_fail(d, FG_ERR_TOOBIG);
		return;
	}
	hdr[0] = tag;
	size_t n = der_len_encode(hdr + 1, len);
	der_put(d, hdr, 1 + n);
	if (len > 0)
		der_put(d, val, len);
}

void pki_der_raw(struct pki_der *d, const void *bytes, size_t len)
{
	der_put(d, bytes, len);
}

void pki_der_begin(struct pki_der *d, uint8_t tag)
{
	if (d->err != FG_OK)
		return;
	if (d->depth >= PKI_DER_DEPTH_MAX) {
		der_fail(d, FG_ERR_TOOBIG);
		return;
	}
	d->open[d->depth++] = d->buf.len;
	/* Tag now, length later: pki_der_end inserts it in front of the content. */
	der_put(d, &tag, 1);
}

void pki_der_end(struct pki_der *d)
{
	if (d->err != FG_OK)
		return;
	if (d->depth == 0) {
		der_fail(d, FG_ERR_INVAL);
		return;
	}
	size_t start = d->open[--d->depth] + 1;
	size_t len = d->buf.len - start;
	uint8_t hdr[5];
	size_t n = der_len_encode(hdr, len);
	if (fg_buf_reserve(&d->buf, n) != FG_OK) {
		der_fail(d, FG_ERR_NOMEM);
		return;
	}
	memmove(d->buf.data + start + n, d->buf.data + start, len);
	memcpy(d->buf.data + start, hdr, n);
	d->buf.len += n;
}

void pki_der_uint(struct pki_der *d, const uint8_t *be, size_t len)
{
	while (len > 1 && be[0] == 0) {
		be++;
		len--;
	}
	if (len == 0) {
		uint8_t z = 0;
		pki_der_tlv(d, PKI_TAG_INTEGER, &z, 1);
		return;
	}
	if (be[0] & 0x80) {
		/* X.690 §8.3.2: a positive value whose top bit is set needs a 0x00 prefix. */
		uint8_t hdr[6];
		hdr[0] = PKI_TAG_INTEGER;
		size_t n = der_len_encode(hdr + 1, len + 1);
		der_put(d, hdr, 1 + n);
		uint8_t z = 0;
		der_put(d, &z, 1);
		der_put(d, be, len);
		return;
	}
	pki_der_tlv(d, PKI_TAG_INTEGER, be, len);
}

void pki_der_int(struct pki_der *d, int64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (8 * (7 - i)));
	size_t off = 0;
	/* Minimal two's complement: drop a leading byte that only repeats the sign bit. */
	while (off < 7 && ((b[off] == 0x00 && !(b[off + 1] & 0x80)) ||
	                   (b[off] == 0xff && (b[off + 1] & 0x80))))
		off++;
	pki_der_tlv(d, PKI_TAG_INTEGER, b + off, 8 - off);
}

void pki_der_bool(struct pki_der *d, bool v)
{
	uint8_t b = v ? 0xff : 0x00;
	pki_der_tlv(d, PKI_TAG_BOOLEAN, &b, 1);
}

void pki_der_null(struct pki_der *d)
{
	pki_der_tlv(d, PKI_TAG_NULL, NULL, 0);
}

void pki_der_oid(struct pki_der *d, const char *dotted)
{
	uint8_t out[DER_OID_TEXT_MAX];
	size_t n = 0;
	uint64_t arcs[32];
	size_t narcs = 0;
	const char *p = dotted;

	if (strlen(dotted) >= DER_OID_TEXT_MAX) {
		der_fail(d, FG_ERR_INVAL);
		return;
	}
	while (*p != '\0') {
		uint64_t v = 0;
		if (*p < '0' || *p > '9' || narcs == 32) {
			der_fail(d, FG_ERR_INVAL);
			return;
		}
		while (*p >= '0' && *p <= '9') {
			if (v > (UINT64_MAX - 9) / 10) {
				der_fail(d, FG_ERR_INVAL);
				return;
			}
			v = v * 10 + (uint64_t)(*p - '0');
			p++;
		}
		arcs[narcs++] = v;
		if (*p == '.')
			p++;
		else if (*p != '\0') {
			der_fail(d, FG_ERR_INVAL);
			return;
		}
	}
	if (narcs < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39)) {
		der_fail(d, FG_ERR_INVAL);
		return;
	}
	/* X.690 §8.19: the first two arcs share one subidentifier, base-128 big-endian. */
	for (size_t i = 1; i < narcs; i++) {
		uint64_t v = (i == 1) ? arcs[0] * 40 + arcs[1] : arcs[i];
		uint8_t tmp[10];
		size_t t = 0;
		do {
			tmp[t++] = (uint8_t)(v & 0x7f);
			v >>= 7;
		} while (v > 0);
		if (n + t > sizeof(out)) {
			der_fail(d, FG_ERR_INVAL);
			return;
		}
		while (t > 0) {
			t--;
			out[n++] = (uint8_t)(tmp[t] | (t > 0 ? 0x80 : 0));
		}
	}
	pki_der_tlv(d, PKI_TAG_OID, out, n);
}

void pki_der_string(struct pki_der *d, uint8_t tag, const char *s)
{
	pki_der_tlv(d, tag, s, strlen(s));
}

void pki_der_bits(struct pki_der *d, const void *bytes, size_t len)
{
	uint8_t hdr[7];
	if (len + 1 > PKI_DER_MAX) {
		der_fail(d, FG_ERR_TOOBIG);
		return;
	}
	hdr[0] = PKI_TAG_BIT_STRING;
	size_t n = der_len_encode(hdr + 1, len + 1);
	hdr[1 + n] = 0; /* unused bits */
	der_put(d, hdr, 2 + n);
	der_put(d, bytes, len);
}

void pki_der_octets(struct pki_der *d, const void *bytes, size_t len)
{
	pki_der_tlv(d, PKI_TAG_OCTET_STRING, bytes, len);
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian), H. Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned dd)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *dd)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*dd = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void pki_der_time(struct pki_der *d, int64_t ms)
{
	int64_t secs = ms / 1000;
	if (ms < 0 && ms % 1000 != 0)
		secs--;
	int64_t days = secs / 86400;
	int64_t rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned m, dd;
	civil_from_days(days, &y, &m, &dd);
	if (y < 0 || y > 9999) {
		der_fail(d, FG_ERR_INVAL);
		return;
	}
	char s[32];
	unsigned hh = (unsigned)(rem / 3600), mi = (unsigned)(rem / 60 % 60),
	         ss = (unsigned)(rem % 60);
	if (y >= 1950 && y <= 2049) {
		snprintf(s, sizeof(s), "%02u%02u%02u%02u%02u%02uZ", (unsigned)(y % 100), m, dd, hh,
		         mi, ss);
		pki_der_string(d, PKI_TAG_UTC_TIME, s);
	} else {
		snprintf(s, sizeof(s), "%04u%02u%02u%02u%02u%02uZ", (unsigned)y, m, dd, hh, mi, ss);
		pki_der_string(d, PKI_TAG_GENERALIZED_TIME, s);
	}
}

enum fg_err pki_der_finish(struct pki_der *d)
{
	if (d->err == FG_OK && d->depth != 0)
		d->err = FG_ERR_INVAL;
	return d->err;
}

/* ---- reader ------------------------------------------------------------------------- */

bool pki_der_next(struct pki_der_rd *r, struct pki_tlv *out, bool *bad)
{
	if (r->len == 0)
		return false;
	const uint8_t *start = r->p;
	size_t avail = r->len;
	if (avail < 2)
		goto malformed;
	uint8_t tag = start[0];
	if ((tag & 0x1f) == 0x1f)
		goto malformed; /* multi-byte tags never occur in the structures we read */
	size_t pos = 1;
	size_t len;
	uint8_t l0 = start[pos++];
	if (l0 < 0x80) {
		len = l0;
	} else {
		size_t n = l0 & 0x7f;
		/* DER: definite length, at most 4 bytes, minimal form. */
		if (n == 0 || n > 4 || avail - pos < n)
			goto malformed;
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = (len << 8) | start[pos++];
		if (len < 0x80 || (n > 1 && start[2] == 0))
			goto malformed;
	}
	if (len > avail - pos)
		goto malformed;
	out->tag = tag;
	out->val = start + pos;
	out->len = len;
	out->raw = start;
	out->raw_len = pos + len;
	r->p += pos + len;
	r->len -= pos + len;
	return true;
malformed:
	if (bad != NULL)
		*bad = true;
	r->len = 0;
	return false;
}

bool pki_oid_to_text(const uint8_t *val, size_t len, char *out, size_t outsize)
{
	size_t o = 0;
	uint64_t v = 0;
	bool first = true;
	if (len == 0 || outsize == 0 || (val[len - 1] & 0x80))
		return false;
	out[0] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (v > (UINT64_MAX >> 7))
			return false;
		if (v == 0 && val[i] == 0x80)
			return false; /* non-minimal subidentifier */
		v = (v << 7) | (val[i] & 0x7f);
		if (val[i] & 0x80)
			continue;
		int w;
		if (first) {
			unsigned a = v < 40 ? 0 : v < 80 ? 1 : 2;
			w = snprintf(out + o, outsize - o, "%u.%llu", a,
			             (unsigned long long)(v - 40 * a));
			first = false;
		} else {
			w = snprintf(out + o, outsize - o, ".%llu", (unsigned long long)v);
		}
		if (w < 0 || (size_t)w >= outsize - o)
			return false;
		o += (size_t)w;
		v = 0;
	}
	return true;
}

static bool digits(const uint8_t *p, size_t n, unsigned *out)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	*out = v;
	return true;
}

bool pki_time_parse(uint8_t tag, const uint8_t *val, size_t len, int64_t *ms)
{
	unsigned y, mo, dd, hh, mi, ss;
	const uint8_t *p = val;
	/* RFC 5280 §4.1.2.5: YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ, always with seconds and Z. */
	if (tag == PKI_TAG_UTC_TIME && len == 13) {
		if (!digits(p, 2, &y))
			return false;
		y += y >= 50 ? 1900 : 2000;
		p += 2;
	} else if (tag == PKI_TAG_GENERALIZED_TIME && len == 15) {
		if (!digits(p, 4, &y))
			return false;
		p += 4;
	} else {
		return false;
	}
	if (!digits(p, 2, &mo) || !digits(p + 2, 2, &dd) || !digits(p + 4, 2, &hh) ||
	    !digits(p + 6, 2, &mi) || !digits(p + 8, 2, &ss) || p[10] != 'Z')
		return false;
	if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 60)
		return false;
	int64_t days = days_from_civil(y, mo, dd);
	*ms = ((days * 86400) + hh * 3600 + mi * 60 + ss) * 1000;
	return true;
}
