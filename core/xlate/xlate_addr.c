/* xlate: SIP URI <-> JID address mapping (RFC 7247 §4, XEP-0106 JID escaping, RFC 7622). */
#include <ctype.h>
#include <string.h>

#include "sip/sip.h"
#include "xlate/xlate_internal.h"

static void set_why(const char **why, const char *s)
{
	if (why)
		*why = s;
}

/* XEP-0106 §4.2: the characters a localpart cannot carry and their escapes. */
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
		/* RFC 7247 §4.2: a JID domainpart is a domain name; IP literals do not map. */
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
				/* RFC 7622 §3.3.1 (PRECIS IdentifierClass): no controls, no NUL */
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
		/* RFC 7247 §4.2: domain names compare case-insensitively; emit lower case. */
		for (size_t i = 0; i < u->host.len; i++) {
			char c = u->host.p[i];
			out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		if (n > 0 && out[n - 1] == '.')
			n--; /* RFC 7622 §3.2: strip a trailing dot */
	}
	parts->domain_len = n - parts->domain_off;
	/* RFC 7247 §4.2: a GRUU's gr parameter becomes the resourcepart. */
	const struct sip_param *gr = u->nparams ? sip_uri_param(u, "gr") : NULL;
	if (gr && gr->value.p && gr->value.len) {
		if (gr->value.len > XLATE_MAX_JID_PART ||
		    !xlate__utf8_valid((const uint8_t *)gr->value.p, gr->value.len) ||
		    memchr(gr->value.p, '\0', gr->value.len)) {
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

enum fg_err xlate_addr_sip_to_xmpp(const char *text, size_t len, struct fg_buf *jid,
                                   const char **why)
{
	struct sip_uri *u = NULL;
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
		/* XEP-0106 §4.3: undo the escapes, then percent-encode for SIP. */
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
		/* RFC 7247 §4.1: the resourcepart is carried as a GRUU gr parameter. */
		e = fg_buf_append_str(uri, ";gr=");
		if (!e)
			e = pct(uri, slash + 1, len - bare - 1, is_param_unescaped);
	}
	if (e)
		uri->len = start;
	return e;
}
