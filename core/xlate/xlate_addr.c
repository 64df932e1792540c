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

enum fg_err xlate_addr_sip_to_xmpp(const char *text, size_t len, struct fg_buf *jid,
                                   const char **why)
{
	struct sip_uri *u = NULL;
	struct sip_error err;
	enum fg_err e = sip_uri_parse(text, len, &u, &err);
	if (e) {
		set_why(why, e == FG_ERR_VERSION ? "not a sip: or sips: URI" : "malformed SIP URI");
		return e;
	}
	size_t start = jid->len;
	if (u->host_type != SIP_HOST_NAME) {
		/* RFC 7247 §4.2: a JID domainpart is a domain name; IP literals do not map. */
		set_why(why, "SIP URI host is an IP address");
		e = FG_ERR_INVAL;
		goto out;
	}
	if (u->user.p) {
		if (u->user.len == 0 || u->user.len > XLATE_MAX_JID_PART) {
			set_why(why, "user part empty or too long for a JID");
			e = FG_ERR_TOOBIG;
			goto out;
		}
		if (!xlate__utf8_valid((const uint8_t *)u->user.p, u->user.len)) {
			set_why(why, "user part is not UTF-8");
			e = FG_ERR_INVAL;
			goto out;
		}
		for (size_t i = 0; i < u->user.len && !e; i++) {
			unsigned char c = (unsigned char)u->user.p[i];
			if (c < 0x20 || c == 0x7f) {
				/* RFC 7622 §3.3.1 (PRECIS IdentifierClass): no controls, no NUL */
				set_why(why, "user part holds a control character");
				e = FG_ERR_INVAL;
				goto out;
			}
			const char *esc = jid_escape(c);
			e = esc ? fg_buf_append_str(jid, esc) : fg_buf_append(jid, &c, 1);
		}
		if (!e && jid->len - start > XLATE_MAX_JID_PART) {
			set_why(why, "escaped localpart too long for a JID");
			e = FG_ERR_TOOBIG;
		}
		if (!e)
			e = fg_buf_append_str(jid, "@");
	}
	if (e)
		goto out;
	/* RFC 7247 §4.2: domain names compare case-insensitively; emit lower case. */
	for (size_t i = 0; i < u->host.len && !e; i++) {
		char c = (char)tolower((unsigned char)u->host.p[i]);
		e = fg_buf_append(jid, &c, 1);
	}
	if (!e && jid->len && jid->data[jid->len - 1] == '.')
		jid->len--; /* RFC 7622 §3.2: strip a trailing dot */
	/* RFC 7247 §4.2: a GRUU's gr parameter becomes the resourcepart. */
	const struct sip_param *gr = sip_uri_param(u, "gr");
	if (!e && gr && gr->value.p && gr->value.len) {
		if (gr->value.len > XLATE_MAX_JID_PART ||
		    !xlate__utf8_valid((const uint8_t *)gr->value.p, gr->value.len) ||
		    memchr(gr->value.p, '\0', gr->value.len)) {
			set_why(why, "gr parameter is not a valid resource");
			e = FG_ERR_INVAL;
			goto out;
		}
		e = fg_buf_append_str(jid, "/");
		if (!e)
			e = fg_buf_append(jid, gr->value.p, gr->value.len);
	}
out:
	if (e)
		jid->len = start;
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
