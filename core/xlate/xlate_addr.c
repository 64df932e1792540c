/* xlate: SIP URI <-> JID address mapping (RFC 7247 §6: §6.4 SIP -> XMPP, §6.5 XMPP -> SIP;
 * XEP-0106 JID escaping; RFC 7622). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "sip/sip.h"
#include "xlate/xlate_internal.h"

static void set_why(const char **why, const char *s)
{
	if (why)
		*why = s;
}

/* XEP-0106 §3.2: the characters a localpart cannot carry and their escapes. '\' is always
 * escaped too, as in the examples of XEP-0106 §5.1 (c:\net -> c\3a\5cnet): the mapping stays
 * lossless, and the way back (§3.3) undoes exactly these ten sequences. */
static const char *jid_escape(unsigned char c)
{
	switch (c) {
	case ' ':
		return "\\20";
	case '"':
		return "\\22";
	case '&':
		return "\\26";
	case '\'':
		return "\\27";
	case '/':
		return "\\2f";
	case ':':
		return "\\3a";
	case '<':
		return "\\3c";
	case '>':
		return "\\3e";
	case '@':
		return "\\40";
	case '\\':
		return "\\5c";
	default:
		return NULL;
	}
}

enum fg_err xlate_addr_uri_to_jid(const struct sip_uri *u, const char *domain, char *out,
                                  size_t outsize, struct xlate_jid_parts *parts, const char **why)
{
	size_t n = 0;
	memset(parts, 0, sizeof(*parts));
	if (outsize == 0)
		return FG_ERR_TOOBIG;
	out[0] = '\0';
	if (u->scheme == SIP_SCHEME_OTHER) {
		set_why(why, "not a sip: or sips: URI");
		return FG_ERR_VERSION;
	}
	if (u->host_type != SIP_HOST_NAME) {
		/* gateway policy: RFC 7622 §3.2 allows IP literals as domainparts, but domain
		 * mapping is out of RFC 7247's scope (§6.1) and an IP is no federated domain */
		set_why(why, "SIP URI host is an IP address");
		return FG_ERR_INVAL;
	}
	if (u->user.p) {
		if (u->user.len == 0 || u->user.len > XLATE_MAX_JID_PART) {
			set_why(why, "user part empty or too long for a JID");
			return FG_ERR_TOOBIG;
		}
		if (!xlate__utf8_valid((const uint8_t *)u->user.p, u->user.len)) {
			set_why(why, "user part is not UTF-8");
			return FG_ERR_INVAL;
		}
		for (size_t i = 0; i < u->user.len; i++) {
			unsigned char c = (unsigned char)u->user.p[i];
			if (c < 0x20 || c == 0x7f) {
				/* RFC 7622 §3.3 (PRECIS IdentifierClass): no controls, no NUL */
				set_why(why, "user part holds a control character");
				return FG_ERR_INVAL;
			}
			if (n + 4 > outsize)
				goto too_long;
			const char *esc = jid_escape(c);
			if (esc != NULL) {
				memcpy(out + n, esc, 3);
				n += 3;
			} else {
				out[n++] = (char)c;
			}
		}
		if (n > XLATE_MAX_JID_PART) {
			set_why(why, "escaped localpart too long for a JID");
			return FG_ERR_TOOBIG;
		}
		parts->local_len = n;
		out[n++] = '@';
	}
	parts->domain_off = n;
	if (domain != NULL) {
		size_t dl = strlen(domain);
		if (n + dl + 1 > outsize)
			goto too_long;
		memcpy(out + n, domain, dl);
		n += dl;
	} else {
		if (n + u->host.len + 1 > outsize)
			goto too_long;
		/* RFC 7622 §3.2: domain names compare case-insensitively; emit lower case. */
		for (size_t i = 0; i < u->host.len; i++) {
			char c = u->host.p[i];
			out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		if (n > 0 && out[n - 1] == '.')
			n--; /* RFC 7622 §3.2: strip a trailing dot */
	}
	parts->domain_len = n - parts->domain_off;
	/* RFC 7247 §6.3, §6.4 step 8: a GRUU's gr parameter becomes the resourcepart */
	const struct sip_param *gr = u->nparams ? sip_uri_param(u, "gr") : NULL;
	if (gr && (gr->value.p == NULL || gr->value.len == 0)) {
		/* RFC 7247 §6.3: not for temporary GRUUs (RFC 5627 §3.2: a gr with no value;
		 * the user part is opaque, no address of record to map) */
		set_why(why, "a temporary GRUU has no address of record");
		return FG_ERR_INVAL;
	}
	if (gr) {
		bool ctl = false;
		for (size_t i = 0; i < gr->value.len; i++)
			ctl = ctl || (unsigned char)gr->value.p[i] < 0x20 ||
			      (unsigned char)gr->value.p[i] == 0x7f;
		/* RFC 7622 §3.4: a resourcepart (OpaqueString) has no control characters */
		if (ctl || gr->value.len > XLATE_MAX_JID_PART ||
		    !xlate__utf8_valid((const uint8_t *)gr->value.p, gr->value.len)) {
			set_why(why, "gr parameter is not a valid resource");
			return FG_ERR_INVAL;
		}
		if (n + 1 + gr->value.len + 1 > outsize)
			goto too_long;
		out[n++] = '/';
		memcpy(out + n, gr->value.p, gr->value.len);
		n += gr->value.len;
		parts->resource_len = gr->value.len;
	}
	out[n] = '\0';
	parts->len = n;
	return FG_OK;
too_long:
	out[0] = '\0';
	memset(parts, 0, sizeof(*parts));
	set_why(why, "too long for a JID");
	return FG_ERR_TOOBIG;
}

/* RFC 7247 §6.4 for an im: or pres: URI (RFC 3860, RFC 3859: scheme ":" mailbox, then
 * optional "?" headers): the local part is percent-decoded, the domain must be a host name.
 * The result is split as the SIP parser would split a sip: URI, so the one mapping applies. */
static enum fg_err im_pres_to_jid(const char *text, size_t len, size_t scheme_len,
                                  struct fg_buf *jid, const char **why)
{
	const char *p = text + scheme_len, *end = text + len;
	const char *q = memchr(p, '?', (size_t)(end - p));
	if (q != NULL)
		end = q; /* headers carry nothing an address needs */
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at == NULL || at == p || at + 1 == end) {
		set_why(why, "im:/pres: URI is not user@domain");
		return FG_ERR_INVAL;
	}
	char user[XLATE_MAX_JID_PART + 1];
	size_t ul = 0;
	for (const char *c = p; c < at; c++) {
		if (ul >= XLATE_MAX_JID_PART) {
			set_why(why, "user part empty or too long for a JID");
			return FG_ERR_TOOBIG;
		}
		if (*c == '%' && at - c > 2 && fg_hex_digit(c[1]) >= 0 && fg_hex_digit(c[2]) >= 0) {
			user[ul++] = (char)(fg_hex_digit(c[1]) * 16 + fg_hex_digit(c[2]));
			c += 2;
		} else if (*c == '%') {
			set_why(why, "malformed percent-encoding");
			return FG_ERR_INVAL;
		} else {
			user[ul++] = *c;
		}
	}
	const char *host = at + 1;
	size_t hl = (size_t)(end - host);
	bool digits_only = true;
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)host[i];
		if (!(isalnum(c) || c == '-' || c == '.')) {
			set_why(why, "im:/pres: domain is not a host name");
			return FG_ERR_INVAL;
		}
		digits_only = digits_only && (isdigit(c) || c == '.');
	}
	if (hl > XLATE_MAX_JID_PART) {
		set_why(why, "domain too long for a JID");
		return FG_ERR_TOOBIG;
	}
	struct sip_uri u = {.scheme = SIP_SCHEME_SIP,
	                    .text = {text, len},
	                    .user = {user, ul},
	                    .host = {host, hl},
	                    .host_type = digits_only ? SIP_HOST_IPV4 : SIP_HOST_NAME};
	struct xlate_jid_parts parts;
	enum fg_err e = fg_buf_reserve(jid, 3 * len + 4);
	if (!e)
		e = xlate_addr_uri_to_jid(&u, NULL, (char *)jid->data + jid->len,
		                          jid->cap - jid->len, &parts, why);
	if (!e)
		jid->len += parts.len;
	return e;
}

enum fg_err xlate_addr_sip_to_xmpp(const char *text, size_t len, struct fg_buf *jid,
                                   const char **why)
{
	struct sip_uri *u = NULL;
	/* RFC 7247 §6.4 step 1: sip, sips, im and pres URIs map */
	if (len > 3 && strncasecmp(text, "im:", 3) == 0)
		return im_pres_to_jid(text, len, 3, jid, why);
	if (len > 5 && strncasecmp(text, "pres:", 5) == 0)
		return im_pres_to_jid(text, len, 5, jid, why);
	struct sip_error err;
	struct xlate_jid_parts parts;
	enum fg_err e = sip_uri_parse(text, len, &u, &err);
	if (e) {
		set_why(why, e == FG_ERR_VERSION ? "not a sip: or sips: URI" : "malformed SIP URI");
		return e;
	}
	/* user, host and gr are disjoint pieces of the text, never longer decoded; an escape
	 * triples a user byte: 3 * len bounds the JID */
	e = fg_buf_reserve(jid, 3 * len + 4);
	if (!e)
		e = xlate_addr_uri_to_jid(u, NULL, (char *)jid->data + jid->len,
		                          jid->cap - jid->len, &parts, why);
	if (!e)
		jid->len += parts.len;
	sip_uri_free(u);
	return e;
}

static bool is_user_unescaped(unsigned char c)
{
	/* RFC 3261 §25.1: unreserved / user-unreserved */
	return isalnum(c) || (c && strchr("-_.!~*'()&=+$,;?/", c) != NULL);
}

static bool is_param_unescaped(unsigned char c)
{
	return isalnum(c) || (c && strchr("-_.!~*'()[]/:&+$", c) != NULL);
}

static enum fg_err pct(struct fg_buf *out, const char *s, size_t len, bool (*ok)(unsigned char))
{
	enum fg_err e = FG_OK;
	for (size_t i = 0; i < len && !e; i++) {
		unsigned char c = (unsigned char)s[i];
		e = ok(c) ? fg_buf_append(out, &c, 1) : fg_buf_printf(out, "%%%02X", c);
	}
	return e;
}

enum fg_err xlate_addr_xmpp_to_sip(const char *jid, size_t len, struct fg_buf *uri,
                                   const char **why)
{
	size_t start = uri->len;
	enum fg_err e;
	if (!xlate__utf8_valid((const uint8_t *)jid, len) || memchr(jid, '\0', len)) {
		set_why(why, "JID is not UTF-8");
		return FG_ERR_INVAL;
	}
	/* RFC 7622 §3.1: domainpart ends at the first '/', localpart at the first '@'
	 * before that. */
	const char *slash = memchr(jid, '/', len);
	size_t bare = slash ? (size_t)(slash - jid) : len;
	const char *at = memchr(jid, '@', bare);
	const char *dom = at ? at + 1 : jid;
	size_t dlen = bare - (size_t)(dom - jid);
	size_t llen = at ? (size_t)(at - jid) : 0;
	if (dlen == 0 || dlen > XLATE_MAX_JID_PART || (at && llen == 0) ||
	    llen > XLATE_MAX_JID_PART ||
	    (slash && (len - bare - 1 == 0 || len - bare - 1 > XLATE_MAX_JID_PART))) {
		set_why(why, "JID part empty or too long");
		return FG_ERR_INVAL;
	}
	for (size_t i = 0; i < dlen; i++) {
		unsigned char c = (unsigned char)dom[i];
		if (!(isalnum(c) || c == '-' || c == '.')) {
			/* SIP hosts are LDH names (RFC 3261 §25.1); IDNs need A-labels first. */
			set_why(why, "JID domain is not an ASCII host name");
			return FG_ERR_INVAL;
		}
	}
	e = fg_buf_append_str(uri, "sip:");
	if (!e && at) {
		/* RFC 7247 §6.5 step 3, XEP-0106 §3.3: undo the escapes (only the ten sequences;
		 * §4.3: others stay as they are), then percent-encode for SIP (step 5) */
		for (size_t i = 0; i < llen && !e; i++) {
			unsigned char c = (unsigned char)jid[i];
			if (c == '\\' && i + 2 < llen && fg_hex_digit(jid[i + 1]) >= 0 &&
			    fg_hex_digit(jid[i + 2]) >= 0) {
				unsigned char d = (unsigned char)(fg_hex_digit(jid[i + 1]) * 16 +
				                                  fg_hex_digit(jid[i + 2]));
				if (jid_escape(d)) {
					c = d;
					i += 2;
				}
			}
			e = pct(uri, (const char *)&c, 1, is_user_unescaped);
		}
		if (!e)
			e = fg_buf_append_str(uri, "@");
	}
	for (size_t i = 0; i < dlen && !e; i++) {
		char c = (char)tolower((unsigned char)dom[i]);
		e = fg_buf_append(uri, &c, 1);
	}
	if (!e && slash) {
		/* RFC 7247 §6.5 step 8, §6.3: the resourcepart is carried as a GRUU gr
		 * parameter */
		e = fg_buf_append_str(uri, ";gr=");
		if (!e)
			e = pct(uri, slash + 1, len - bare - 1, is_param_unescaped);
	}
	if (e)
		uri->len = start;
	return e;
}
