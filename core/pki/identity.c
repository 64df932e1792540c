/* pki identity: RFC 6125 server identity checks for XMPP (RFC 6120 §13.7.2, XEP-0178):
 * DNS-ID, SRV-ID (RFC 4985), id-on-xmppAddr (RFC 6120 §13.7.1.4), CN-ID as a last resort. */
#include "pki_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 1035 §2.3.4: a name in presentation form is at most 253 octets (no trailing dot). */
#define ID_NAME_MAX 253u
/* RFC 6120 §13.7.1.2 / RFC 4985: the SRV-ID service label XMPP servers present. */
#define ID_SRV_PREFIX "_xmpp-server."
/* Presented names listed in an explanation: room for a few, so that the sentence still
 * ends with the domain in a PKI_MSG_MAX buffer. */
#define ID_NAMES_TEXT_MAX 240u

const char *pki_id_match_name(enum pki_id_match m)
{
	switch (m) {
	case PKI_ID_NONE:
		return "none";
	case PKI_ID_DNS:
		return "DNS-ID";
	case PKI_ID_SRV:
		return "SRV-ID";
	case PKI_ID_XMPPADDR:
		return "xmppAddr";
	case PKI_ID_CN:
		return "CN";
	}
	return "?";
}

struct id_check {
	const char *domain; /* reference identifier, without a trailing dot */
	size_t dlen;
	enum pki_id_match found;
	const uint8_t *found_val; /* the presented identifier that matched */
	size_t found_len;
	bool has_san_ext; /* the certificate has a subjectAltName extension */
	bool has_id_san;  /* ... with a DNS, SRV or xmppAddr entry (RFC 6125 §6.4.4) */
	char names[ID_NAMES_TEXT_MAX]; /* presented identifiers, for the explanation */
	size_t names_len;
	bool names_cut;
};

/* Bytes equal to s ignoring ASCII case; one trailing dot of v is ignored. */
static bool name_eq(const uint8_t *v, size_t vlen, const char *s, size_t slen)
{
	if (vlen > 1 && v[vlen - 1] == '.')
		vlen--;
	if (vlen != slen || vlen == 0)
		return false;
	for (size_t i = 0; i < vlen; i++) {
		uint8_t a = v[i], b = (uint8_t)s[i];
		/* A NUL or control byte inside a presented name never matches (no C-string
		 * truncation tricks such as "example.com\0.evil.org"). */
		if (a < 0x21 || a == 0x7f)
			return false;
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

/* RFC 6125 §6.4.3, restricted as RFC 6120 §13.7.1.2 allows: "*" only as the complete
 * leftmost label, matching exactly one non-empty label, and at least two labels after it
 * (no "*.com"). */
static bool wildcard_eq(const uint8_t *v, size_t vlen, const char *d, size_t dlen)
{
	if (vlen < 4 || v[0] != '*' || v[1] != '.')
		return false;
	const uint8_t *rest = v + 2;
	size_t rlen = vlen - 2;
	if (rest[rlen - 1] == '.')
		rlen--;
	if (memchr(rest, '.', rlen) == NULL || memchr(rest, '*', rlen) != NULL)
		return false;
	const char *dot = memchr(d, '.', dlen);
	if (dot == NULL || dot == d)
		return false;
	size_t off = (size_t)(dot - d) + 1;
	return name_eq(rest, rlen, d + off, dlen - off);
}

static void names_add(struct id_check *c, const char *prefix, const uint8_t *v, size_t len)
{
	size_t need = (c->names_len > 0 ? 2 : 0) + strlen(prefix) + len;
	if (c->names_cut || c->names_len + need + 4 >= sizeof(c->names)) {
		if (!c->names_cut && c->names_len + 6 < sizeof(c->names)) {
			memcpy(c->names + c->names_len, ", ...", 6);
			c->names_len += 5;
		}
		c->names_cut = true;
		return;
	}
	if (c->names_len > 0) {
		memcpy(c->names + c->names_len, ", ", 2);
		c->names_len += 2;
	}
	memcpy(c->names + c->names_len, prefix, strlen(prefix));
	c->names_len += strlen(prefix);
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = v[i];
		/* Peer bytes reach logs and pages: control bytes and non-ASCII shown as '?'. */
		c->names[c->names_len++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
	}
	c->names[c->names_len] = '\0';
}

static void found(struct id_check *c, enum pki_id_match m, const uint8_t *v, size_t len)
{
	if (c->found != PKI_ID_NONE)
		return;
	c->found = m;
	c->found_val = v;
	c->found_len = len;
}

/* One otherName (RFC 5280 §4.2.1.6): type-id OID and [0] EXPLICIT value. */
static void check_other_name(struct id_check *c, const struct pki_tlv *gn)
{
	struct pki_der_rd ro = {gn->val, gn->len};
	struct pki_tlv oid, wrap, inner;
	char oidtxt[64];
	if (!pki_der_next(&ro, &oid, NULL) || oid.tag != PKI_TAG_OID ||
	    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)) ||
	    !pki_der_next(&ro, &wrap, NULL) || wrap.tag != PKI_TAG_CTX_CONS(0))
		return;
	struct pki_der_rd rw = {wrap.val, wrap.len};
	if (!pki_der_next(&rw, &inner, NULL))
		return;
	if (strcmp(oidtxt, PKI_OID_SRV_NAME) == 0) {
		/* RFC 4985 §2: SRVName is an IA5String "_Service.Name"; any SRV-ID present
		 * means the CN is not consulted (RFC 6125 §6.4.4). */
		c->has_id_san = true;
		if (inner.tag != PKI_TAG_IA5_STRING)
			return;
		names_add(c, "", inner.val, inner.len);
		size_t plen = strlen(ID_SRV_PREFIX);
		if (inner.len > plen &&
		    strncasecmp((const char *)inner.val, ID_SRV_PREFIX, plen) == 0 &&
		    name_eq(inner.val + plen, inner.len - plen, c->domain, c->dlen))
			found(c, PKI_ID_SRV, inner.val, inner.len);
	} else if (strcmp(oidtxt, PKI_OID_XMPP_ADDR) == 0) {
		/* RFC 6120 §13.7.1.4: a UTF8String JID; for a server, the bare domain. */
		c->has_id_san = true;
		if (inner.tag != PKI_TAG_UTF8_STRING)
			return;
		names_add(c, "xmppAddr:", inner.val, inner.len);
		if (name_eq(inner.val, inner.len, c->domain, c->dlen))
			found(c, PKI_ID_XMPPADDR, inner.val, inner.len);
	}
}

/* GeneralNames of the subjectAltName extension. */
static bool check_san(struct id_check *c, const uint8_t *val, size_t len)
{
	struct pki_der_rd r = {val, len};
	struct pki_tlv seq, gn;
	bool bad = false;
	if (!pki_der_next(&r, &seq, &bad) || seq.tag != PKI_TAG_SEQUENCE)
		return false;
	c->has_san_ext = true;
	struct pki_der_rd rs = {seq.val, seq.len};
	while (pki_der_next(&rs, &gn, &bad)) {
		if (gn.tag == PKI_TAG_CTX(2)) {
			/* dNSName, IA5String */
			c->has_id_san = true;
			names_add(c, "", gn.val, gn.len);
			if (name_eq(gn.val, gn.len, c->domain, c->dlen) ||
			    wildcard_eq(gn.val, gn.len, c->domain, c->dlen))
				found(c, PKI_ID_DNS, gn.val, gn.len);
		} else if (gn.tag == PKI_TAG_CTX_CONS(0)) {
			check_other_name(c, &gn);
		}
	}
	return !bad;
}

/* Walks the TBSCertificate to its extensions (RFC 5280 §4.1). */
static bool check_extensions(struct id_check *c, const struct pki_cert *cert)
{
	struct pki_der_rd r = {cert->tbs, cert->tbs_len};
	struct pki_tlv tbs, t;
	bool bad = false;
	if (!pki_der_next(&r, &tbs, &bad) || tbs.tag != PKI_TAG_SEQUENCE)
		return false;
	struct pki_der_rd rt = {tbs.val, tbs.len};
	while (pki_der_next(&rt, &t, &bad)) {
		if (t.tag != PKI_TAG_CTX_CONS(3))
			continue;
		struct pki_der_rd rx = {t.val, t.len};
		struct pki_tlv exts, ext;
		if (!pki_der_next(&rx, &exts, &bad) || exts.tag != PKI_TAG_SEQUENCE)
			return false;
		struct pki_der_rd re = {exts.val, exts.len};
		while (pki_der_next(&re, &ext, &bad)) {
			struct pki_der_rd ri = {ext.val, ext.len};
			struct pki_tlv oid, v;
			char oidtxt[64];
			if (ext.tag != PKI_TAG_SEQUENCE || !pki_der_next(&ri, &oid, &bad) ||
			    oid.tag != PKI_TAG_OID ||
			    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)) ||
			    !pki_der_next(&ri, &v, &bad))
				return false;
			if (v.tag == PKI_TAG_BOOLEAN && !pki_der_next(&ri, &v, &bad))
				return false;
			if (v.tag != PKI_TAG_OCTET_STRING)
				return false;
			if (strcmp(oidtxt, PKI_OID_SAN) == 0 && !check_san(c, v.val, v.len))
				return false;
		}
		if (bad)
			return false;
	}
	return !bad;
}

/* The most specific CN of the subject (the last one in DER order, RFC 6125 §6.4.4 "the
 * most specific Common Name field"). */
static bool subject_cn(const struct pki_cert *cert, const uint8_t **cn, size_t *cn_len)
{
	struct pki_der_rd r = {cert->subject_der, cert->subject_der_len};
	struct pki_tlv name, set, atv;
	bool bad = false, any = false;
	if (!pki_der_next(&r, &name, &bad) || name.tag != PKI_TAG_SEQUENCE)
		return false;
	struct pki_der_rd rn = {name.val, name.len};
	while (pki_der_next(&rn, &set, &bad)) {
		struct pki_der_rd rs = {set.val, set.len};
		while (set.tag == PKI_TAG_SET && pki_der_next(&rs, &atv, &bad)) {
			struct pki_der_rd ra = {atv.val, atv.len};
			struct pki_tlv oid, value;
			char oidtxt[64];
			if (atv.tag != PKI_TAG_SEQUENCE || !pki_der_next(&ra, &oid, &bad) ||
			    oid.tag != PKI_TAG_OID || !pki_der_next(&ra, &value, &bad) ||
			    !pki_oid_to_text(oid.val, oid.len, oidtxt, sizeof(oidtxt)) ||
			    strcmp(oidtxt, PKI_OID_CN) != 0)
				continue;
			if (value.tag != PKI_TAG_UTF8_STRING &&
			    value.tag != PKI_TAG_PRINTABLE_STRING &&
			    value.tag != PKI_TAG_IA5_STRING && value.tag != 0x14 /* T61 */)
				continue;
			*cn = value.val;
			*cn_len = value.len;
			any = true;
		}
	}
	return any;
}

static void say(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whysize, const char *fmt, ...)
{
	if (why == NULL || whysize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whysize, fmt, ap);
	va_end(ap);
}

/* Printable copy of presented bytes for an explanation. */
static void printable(char *out, size_t outsize, const uint8_t *v, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < outsize; i++)
		out[o++] = (v[i] < 0x20 || v[i] >= 0x7f) ? '?' : (char)v[i];
	out[o] = '\0';
}

enum pki_id_match pki_cert_match_xmpp(const uint8_t *der, size_t len, const char *domain, char *why,
                                      size_t whysize)
{
	struct pki_cert *cert = NULL;
	struct id_check c;
	enum pki_id_match result = PKI_ID_NONE;
	char shown[ID_NAME_MAX + 1];

	memset(&c, 0, sizeof(c));
	say(why, whysize, "%s", "");
	size_t dlen = domain != NULL ? strlen(domain) : 0;
	if (dlen > 1 && domain[dlen - 1] == '.')
		dlen--;
	if (dlen == 0 || dlen > ID_NAME_MAX || memchr(domain, '*', dlen) != NULL) {
		say(why, whysize, "no valid domain to check the certificate against");
		return PKI_ID_NONE;
	}
	c.domain = domain;
	c.dlen = dlen;
	printable(shown, sizeof(shown), (const uint8_t *)domain, dlen);

	if (der == NULL || pki_cert_parse(der, len, &cert) != FG_OK) {
		say(why, whysize, "the certificate cannot be read (it is not valid X.509 DER)");
		return PKI_ID_NONE;
	}
	if (!check_extensions(&c, cert)) {
		say(why, whysize, "the certificate's extensions cannot be read");
		goto out;
	}
	if (c.found != PKI_ID_NONE) {
		char v[ID_NAME_MAX + 32];
		printable(v, sizeof(v), c.found_val, c.found_len);
		say(why, whysize, "the certificate's %s %s matches %s", pki_id_match_name(c.found),
		    v, shown);
		result = c.found;
		goto out;
	}
	if (c.has_id_san) {
		say(why, whysize, "the certificate names %s; none is %s", c.names, shown);
		goto out;
	}

	/* RFC 6125 §6.4.4: no DNS-ID, SRV-ID or xmppAddr, so the CN may stand in. */
	const uint8_t *cn = NULL;
	size_t cn_len = 0;
	const char *san_words =
	    c.has_san_ext ? "no DNS, SRV or xmppAddr subjectAltName" : "no subjectAltName";
	if (!subject_cn(cert, &cn, &cn_len)) {
		say(why, whysize, "the certificate has no name for %s (it has %s and no CN)", shown,
		    san_words);
		goto out;
	}
	char cntxt[ID_NAME_MAX + 32];
	printable(cntxt, sizeof(cntxt), cn, cn_len);
	if (name_eq(cn, cn_len, c.domain, c.dlen) || wildcard_eq(cn, cn_len, c.domain, c.dlen)) {
		say(why, whysize, "the certificate's CN %s matches %s (it has %s)", cntxt, shown,
		    san_words);
		result = PKI_ID_CN;
		goto out;
	}
	say(why, whysize, "the certificate has no name for %s (it has %s and its CN is '%s')",
	    shown, san_words, cntxt);
out:
	pki_cert_free(cert);
	return result;
}
