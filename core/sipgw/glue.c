/* sipgw glue: pure SIP <-> XMPP mappings used by the engine — stanza -> MESSAGE (RFC 7572,
 * RFC 7247 §6.5), SIP error -> stanza error (RFC 7247 §7), subscription refresh timing
 * (RFC 6665 §4.1.2.2), replies to unparsable requests (RFC 3261 §8.2.6, RFC 4475), the
 * RFC 5922 §7.1 certificate name check, the last presence that answers SIP fetches (RFC 6665
 * §4.4.3) and isComposing timing both ways (RFC 3994 §3.2, §3.3). */
#include "sipgw/sipgw_internal.h"

#include "pki/pki.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"

unsigned sipgw_status_from_s2s(enum xmpp_stanza_cond result)
{
	switch (result) {
	case XMPP_SC__COUNT:
		return 202; /* RFC 3428 §7: accepted by the next hop (written to its stream) */
	case XMPP_SC_REMOTE_SERVER_NOT_FOUND:
		return 404;
	case XMPP_SC_POLICY_VIOLATION:
	case XMPP_SC_NOT_ALLOWED:
	case XMPP_SC_FORBIDDEN:
		return 403;
	case XMPP_SC_REMOTE_SERVER_TIMEOUT:
		return 408;
	case XMPP_SC_RESOURCE_CONSTRAINT:
		/* the router's queue is full: overload, RFC 3261 §21.5.4 503 with Retry-After
		 * rather than Table 2's 500, so the edge retries instead of failing */
		return 503;
	default:
		break;
	}
	enum xlate_stanza_error cond;
	if (!xlate_stanza_error_parse(xmpp_stanza_cond_name(result), &cond))
		cond = XLATE_ERR_UNDEFINED_CONDITION; /* RFC 6120 §8.3.2: unknown = undefined */
	return xlate_error_to_sip(cond);
}

/* ---- JIDs ------------------------------------------------------------------------------ */

bool sipgw__jid_split(const char *jid, struct sipgw_jid *out)
{
	memset(out, 0, sizeof(*out));
	if (jid == NULL || strlen(jid) > SIPGW_MAX_JID)
		return false;
	const char *slash = strchr(jid, '/');
	size_t barelen = slash ? (size_t)(slash - jid) : strlen(jid);
	const char *at = memchr(jid, '@', barelen);
	const char *dom = at ? at + 1 : jid;
	size_t domlen = barelen - (size_t)(dom - jid);
	if (domlen == 0 || domlen >= sizeof(out->domain))
		return false;
	if (at != NULL) {
		size_t ll = (size_t)(at - jid);
		if (ll == 0 || ll >= sizeof(out->local))
			return false;
		memcpy(out->local, jid, ll);
	}
	memcpy(out->domain, dom, domlen);
	if (slash != NULL) {
		if (slash[1] == '\0' || strlen(slash + 1) >= sizeof(out->resource))
			return false;
		fg_strlcpy(out->resource, slash + 1, sizeof(out->resource));
	}
	return true;
}

/* ---- XMPP message -> SIP MESSAGE --------------------------------------------------------- */

static char *node_text_dup(const struct xmpp_node *n)
{
	struct fg_buf b = {0};
	if (xmpp_node_text(n, &b) != FG_OK) {
		fg_buf_free(&b);
		return NULL;
	}
	char *s = strdup(fg_buf_cstr(&b));
	fg_buf_free(&b);
	return s;
}

enum fg_err sipgw_stanza_msg_read(const struct xmpp_node *stanza, struct sipgw_stanza_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (stanza == NULL || stanza->name == NULL || strcmp(stanza->name, "message") != 0)
		return FG_ERR_INVAL;
	out->from = xmpp_node_attr(stanza, "from");
	out->to = xmpp_node_attr(stanza, "to");
	out->id = xmpp_node_attr(stanza, "id");
	out->type = xmpp_node_attr(stanza, "type");
	if (out->from == NULL || out->to == NULL)
		return FG_ERR_INVAL;
	/* RFC 7572 §4 Table 1 note 2: 'type' has no SIP mapping. Errors are answers, not
	 * messages (RFC 6120 §8.3.1; late_error_in handles them); dropping headline and
	 * groupchat is gateway policy */
	if (out->type != NULL && strcmp(out->type, "chat") != 0 && strcmp(out->type, "normal") != 0)
		return FG_ERR_NOTFOUND;
	for (const struct xmpp_node *c = stanza->children; c != NULL; c = c->next) {
		if (c->name == NULL)
			continue;
		if (strcmp(c->ns, NS_CHATSTATES) == 0) {
			static const char *const names[] = {"active", "composing", "paused",
			                                    "inactive", "gone"};
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
				if (strcmp(c->name, names[i]) == 0) {
					out->has_chatstate = true;
					out->chatstate = (enum xlate_chatstate)i;
				}
			}
			continue;
		}
		if (strcmp(c->ns, XMPP_NS_SERVER) != 0)
			continue;
		char **slot = strcmp(c->name, "body") == 0      ? &out->im.body
		              : strcmp(c->name, "subject") == 0 ? &out->im.subject
		              : strcmp(c->name, "thread") == 0  ? &out->im.thread
		                                                : NULL;
		if (slot == NULL || *slot != NULL)
			continue; /* RFC 6121 §5.2.3: first body in the default language */
		*slot = node_text_dup(c);
		if (*slot == NULL) {
			sipgw_stanza_msg_clear(out);
			return FG_ERR_NOMEM;
		}
	}
	/* xml:lang is reported by the DOM as an attribute in the XML namespace */
	for (const struct xmpp_attr *a = stanza->attrs; a != NULL; a = a->next) {
		if (strcmp(a->ns, XMPP_NS_XML) == 0 && strcmp(a->name, "lang") == 0)
			out->im.lang = strdup(a->value);
	}
	if (out->id != NULL)
		out->im.id = strdup(out->id);
	if (out->im.body == NULL && !out->has_chatstate)
		return FG_ERR_NOTFOUND;
	return FG_OK;
}

void sipgw_stanza_msg_clear(struct sipgw_stanza_msg *m)
{
	if (m == NULL)
		return;
	xlate_im_clear(&m->im);
	memset(m, 0, sizeof(*m));
}

void sipgw_request_clear(struct sipgw_request *r)
{
	if (r == NULL)
		return;
	fg_buf_free(&r->ruri);
	fg_buf_free(&r->from);
	fg_buf_free(&r->to);
	fg_buf_free(&r->body);
	fg_buf_free(&r->extra);
	memset(r, 0, sizeof(*r));
}

enum fg_err sipgw__sip_uri_for_local(const char *local, const char *sip_domain, struct fg_buf *out,
                                     const char **why)
{
	struct fg_buf jid = {0};
	enum fg_err err = fg_buf_append_str(&jid, local);
	if (err == FG_OK)
		err = fg_buf_append(&jid, "@", 1);
	if (err == FG_OK)
		err = fg_buf_append_str(&jid, sip_domain);
	if (err == FG_OK)
		err = xlate_addr_xmpp_to_sip((const char *)jid.data, jid.len, out, why);
	fg_buf_free(&jid);
	return err;
}

enum fg_err sipgw__sip_uri_canonical(const char *uri, size_t len, struct fg_buf *out,
                                     const char **why)
{
	/* SIP -> JID -> SIP through the RFC 7247 §6.4 and §6.5 mappings: the user part is
	 * decoded once and encoded once, so two spellings of one address give one URI and a
	 * decoded "\", "@" or "/" cannot change the address */
	struct fg_buf jid = {0};
	struct sipgw_jid j;
	enum fg_err err = xlate_addr_sip_to_xmpp(uri, len, &jid, why);
	if (err == FG_OK && (!sipgw__jid_split(fg_buf_cstr(&jid), &j) || j.local[0] == '\0')) {
		err = FG_ERR_INVAL;
		if (why)
			*why = "the address has no user part";
	}
	if (err == FG_OK)
		err = sipgw__sip_uri_for_local(j.local, j.domain, out, why); /* bare: no gr */
	fg_buf_free(&jid);
	return err;
}

/* "<uri>": a name-addr without a display name (RFC 3261 §20.20, §20.39) */
static enum fg_err name_addr(struct fg_buf *out, const struct fg_buf *uri)
{
	enum fg_err err = fg_buf_reserve(out, uri->len + 3);
	if (err != FG_OK)
		return err;
	char *at = (char *)out->data + out->len;
	at[0] = '<';
	if (uri->len > 0)
		memcpy(at + 1, uri->data, uri->len);
	at[uri->len + 1] = '>';
	at[uri->len + 2] = '\0';
	out->len += uri->len + 2;
	return FG_OK;
}

enum fg_err sipgw_message_to_sip(const struct sipgw_stanza_msg *m, const char *sip_domain,
                                 struct sipgw_request *out, const char **why)
{
	struct sipgw_jid to;
	const char *w = NULL;
	enum fg_err err = FG_OK;
	memset(out, 0, sizeof(*out));
	if (!sipgw__jid_split(m->to, &to) || to.local[0] == '\0') {
		w = "the recipient has no user part";
		err = FG_ERR_INVAL;
		goto out;
	}
	/* RFC 7247 §6.5: user@xmppdomain -> sip:user@sipdomain; the resource is our own mapping
	 * artefact on this side, so the Request-URI is the bare address of record */
	err = sipgw__sip_uri_for_local(to.local, sip_domain, &out->ruri, &w);
	if (err != FG_OK)
		goto out;
	err = name_addr(&out->to, &out->ruri);
	if (err != FG_OK)
		goto out;
	/* the sender keeps its own domain; a resource becomes a GRUU parameter (RFC 7247 §6.5
	 * step 8; RFC 7572 §4 Table 1 note 1 MUST) */
	struct fg_buf from = {0};
	err = xlate_addr_xmpp_to_sip(m->from, strlen(m->from), &from, &w);
	if (err == FG_OK)
		err = name_addr(&out->from, &from);
	fg_buf_free(&from);
	if (err != FG_OK)
		goto out;
	if (m->im.body != NULL) {
		err = xlate_im_to_sip(&m->im, &out->body, &out->extra, &out->content_type);
		if (err == FG_ERR_TOOBIG) {
			w = "the message is too large for SIP";
		} else if (err != FG_OK) {
			w = "the message cannot be carried in SIP (its text or language tag)";
			err = FG_ERR_PARSE;
		}
	} else {
		/* RFC 3994 §4: in page mode a chat state alone is the body of a MESSAGE */
		err = xlate_chatstate_to_iscomposing(m->chatstate, &out->body);
		out->content_type = XLATE_ISCOMPOSING_TYPE;
	}
out:
	if (err != FG_OK) {
		if (why != NULL)
			*why = w != NULL ? w : fg_strerror(err);
		sipgw_request_clear(out);
	}
	return err;
}

/* ---- IM session offer/answer (RFC 3264 §6) ---------------------------------------------- */

/* m= lines read from one offer: real offers carry one to four (audio, video, message). */
#define SIPGW_SDP_MAX_MEDIA 32u
/* One SDP token copied into the answer (media, proto, format). */
#define SIPGW_SDP_MAX_TOKEN 128u

static bool sdp_token_ok(const char *p, size_t len)
{
	if (len == 0 || len > SIPGW_SDP_MAX_TOKEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
			return false; /* RFC 4566 §9: tokens are visible ASCII */
	return true;
}

/* The next space-separated token of [*p, end). */
static bool sdp_token(const char **p, const char *end, const char **tok, size_t *len)
{
	while (*p < end && **p == ' ')
		(*p)++;
	*tok = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*len = (size_t)(*p - *tok);
	return *len > 0;
}

unsigned sipgw_sdp_answer(const uint8_t *offer, size_t len, const char *fqdn, unsigned port,
                          const char *sess_id, struct fg_buf *out)
{
	const char *p = (const char *)offer, *end = p + len;
	struct fg_buf media = {0};
	const char *t_line = NULL;
	size_t t_len = 0, nmedia = 0;
	bool accepted = false, message_other_proto = false;
	unsigned warn = 0;
	enum fg_err e = FG_OK;
	while (p < end && !e) {
		const char *le = memchr(p, '\n', (size_t)(end - p));
		const char *lend = le ? le : end;
		const char *next = le ? le + 1 : end;
		if (lend > p && lend[-1] == '\r')
			lend--;
		if (lend - p >= 2 && p[0] == 't' && p[1] == '=' && t_line == NULL &&
		    lend - p <= (ptrdiff_t)SIPGW_SDP_MAX_TOKEN) {
			/* RFC 3264 §6: the answer's t= line MUST equal the offer's */
			bool printable = true;
			for (const char *c = p; c < lend; c++)
				printable = printable && (unsigned char)*c >= 0x20 &&
				            (unsigned char)*c < 0x7f;
			if (printable) {
				t_line = p;
				t_len = (size_t)(lend - p);
			}
		}
		if (lend - p < 2 || p[0] != 'm' || p[1] != '=') {
			p = next;
			continue;
		}
		/* RFC 4566 §5.14: m=<media> <port>[/<number>] <proto> <fmt> ... */
		const char *q = p + 2, *mt, *pt, *pr, *fm;
		size_t ml, pl, prl, fml;
		if (++nmedia > SIPGW_SDP_MAX_MEDIA || !sdp_token(&q, lend, &mt, &ml) ||
		    !sdp_token(&q, lend, &pt, &pl) || !sdp_token(&q, lend, &pr, &prl) ||
		    !sdp_token_ok(mt, ml) || !sdp_token_ok(pr, prl)) {
			warn = 399; /* not an offer that can be answered line by line */
			goto out;
		}
		bool is_message = ml == 7 && strncasecmp(mt, "message", 7) == 0;
		bool sip_proto = prl == 3 && strncasecmp(pr, "sip", 3) == 0;
		bool offered_port = !(pl == 1 && pt[0] == '0');
		if (is_message && sip_proto && offered_port && !accepted) {
			/* the OCS/Lync form: text in SIP MESSAGE requests inside the dialog */
			accepted = true;
			e = fg_buf_printf(
			    &media, "m=message %u sip sip:%s\r\na=accept-types:text/plain\r\n",
			    port, fqdn);
			p = next;
			continue;
		}
		if (is_message && offered_port && !sip_proto)
			message_other_proto = true; /* e.g. TCP/MSRP (RFC 4975, RFC 7573) */
		/* RFC 3264 §6: a rejected stream keeps its line with port 0 and its formats */
		e = fg_buf_printf(&media, "m=%.*s 0 %.*s", (int)ml, mt, (int)prl, pr);
		size_t nfmt = 0;
		while (!e && sdp_token(&q, lend, &fm, &fml)) {
			if (!sdp_token_ok(fm, fml))
				continue;
			e = fg_buf_printf(&media, " %.*s", (int)fml, fm);
			nfmt++;
		}
		if (!e && nfmt == 0)
			e = fg_buf_append_str(&media, " *"); /* SDP needs one format */
		if (!e)
			e = fg_buf_append_str(&media, "\r\n");
		p = next;
	}
	if (e) {
		warn = 399;
		goto out;
	}
	if (!accepted) {
		/* RFC 3261 §13.3.1.3: 488 with a Warning; RFC 3261 §20.43 codes */
		warn = message_other_proto ? 302 : 304;
		goto out;
	}
	e = fg_buf_printf(out, "v=0\r\no=- %s 1 IN IP4 %s\r\ns=session\r\nc=IN IP4 %s\r\n", sess_id,
	                  fqdn, fqdn);
	if (!e)
		e = t_line ? fg_buf_printf(out, "%.*s\r\n", (int)t_len, t_line)
		           : fg_buf_append_str(out, "t=0 0\r\n");
	if (!e)
		e = fg_buf_append(out, media.data, media.len);
	if (e)
		warn = 399;
out:
	fg_buf_free(&media);
	return warn;
}

const char *sipgw_sdp_warning_text(unsigned warn)
{
	switch (warn) {
	case 302:
		return "Incompatible transport protocol"; /* RFC 3261 §20.43 */
	case 304:
		return "Media type not available";
	default:
		return "Miscellaneous warning";
	}
}

/* ---- stanza errors ---------------------------------------------------------------------- */

enum fg_err sipgw_error_stanza_cond(const char *stanza_kind, const char *orig_from,
                                    const char *orig_to, const char *orig_id,
                                    enum xlate_stanza_error cond, enum xlate_error_type type,
                                    const char *text, struct fg_buf *out)
{
	if (stanza_kind == NULL || orig_from == NULL || orig_to == NULL)
		return FG_ERR_INVAL;
	size_t start = out->len;
	enum fg_err err = fg_buf_printf(out, "<%s from='", stanza_kind);
	/* RFC 6120 §8.3.1: the error goes back to the sender, from the original addressee */
	if (err == FG_OK)
		err = xmpp_escape(out, orig_to, strlen(orig_to), true);
	if (err == FG_OK)
		err = fg_buf_append_str(out, "' to='");
	if (err == FG_OK)
		err = xmpp_escape(out, orig_from, strlen(orig_from), true);
	if (err == FG_OK && orig_id != NULL) {
		err = fg_buf_append_str(out, "' id='");
		if (err == FG_OK)
			err = xmpp_escape(out, orig_id, strlen(orig_id), true);
	}
	if (err == FG_OK)
		err = fg_buf_printf(out, "' type='error'><error type='%s'><%s xmlns='%s'/>",
		                    xlate_error_type_name(type), xlate_stanza_error_name(cond),
		                    XMPP_NS_STANZA_ERRORS);
	if (err == FG_OK && text != NULL && text[0] != '\0') {
		size_t tl = strnlen(text, SIPGW_MAX_TEXT);
		/* RFC 6120 §8.3.2: the text SHOULD carry xml:lang. Ours is English, and so are
		 * the reason phrases SIP peers send (RFC 3261 §21 gives them no language tag) */
		err = fg_buf_printf(out, "<text xmlns='%s' xml:lang='en'>", XMPP_NS_STANZA_ERRORS);
		if (err == FG_OK && xmpp_escape(out, text, tl, false) != FG_OK)
			err = fg_buf_append_str(out, "error"); /* text not valid UTF-8: say less */
		if (err == FG_OK)
			err = fg_buf_append_str(out, "</text>");
	}
	if (err == FG_OK)
		err = fg_buf_printf(out, "</error></%s>", stanza_kind);
	if (err != FG_OK)
		out->len = start;
	return err;
}

bool sipgw_error_stanza(const char *stanza_kind, const char *orig_from, const char *orig_to,
                        const char *orig_id, unsigned sip_status, const char *text,
                        struct fg_buf *out)
{
	enum xlate_stanza_error cond;
	enum xlate_error_type type;
	if (!xlate_error_from_sip(sip_status, &cond, &type))
		return false;
	return sipgw_error_stanza_cond(stanza_kind, orig_from, orig_to, orig_id, cond, type, text,
	                               out) == FG_OK;
}

/* ---- subscription refresh --------------------------------------------------------------- */

int64_t sipgw_refresh_at(int64_t granted_at_ms, long expires_s)
{
	if (expires_s <= 0)
		return granted_at_ms;
	int64_t period = (int64_t)expires_s * 1000;
	int64_t at = period * 4 / 5;
	/* RFC 6665 §4.1.2.2 leaves the margin to the subscriber: keep at least Timer F so the
	 * refresh transaction completes before the end, but never refresh before half */
	if (period - at < SIPGW_REFRESH_MARGIN_MS)
		at = period - SIPGW_REFRESH_MARGIN_MS;
	if (at < period / 2)
		at = period / 2;
	return granted_at_ms + at;
}

long sipgw_granted_expires(long requested, long configured)
{
	long want = requested < 0 ? XLATE_SUB_DEFAULT_EXPIRES : requested;
	return want > configured ? configured : want;
}

enum sipgw_subscribe_failure sipgw_subscribe_failure_action(unsigned status, bool is_refresh)
{
	switch (status) {
	case 403:
	case 489:
	case 603:
		return SIPGW_SUBFAIL_CANCEL; /* RFC 8048 §5.2.2 MUST */
	case 423:
		return SIPGW_SUBFAIL_INTERVAL;
	case 404:
	case 405:
	case 410:
	case 416:
	case 501:
	case 604:
		return is_refresh ? SIPGW_SUBFAIL_NEW_DIALOG : SIPGW_SUBFAIL_RETRY;
	default:
		break;
	}
	if (status >= 480 && status <= 485)
		return is_refresh ? SIPGW_SUBFAIL_NEW_DIALOG : SIPGW_SUBFAIL_RETRY;
	return SIPGW_SUBFAIL_RETRY;
}

int64_t sipgw_subscribe_backoff_ms(unsigned failures)
{
	unsigned shift = failures > 1 ? failures - 1 : 0;
	if (shift > 7)
		shift = 7; /* 30 s << 7 is past the hour already */
	int64_t ms = (int64_t)30000 << shift;
	return ms > 3600000 ? 3600000 : ms;
}

bool sipgw_notify_failure_ends(unsigned status)
{
	switch (status) {
	case 0:   /* transport failure */
	case 408: /* Timer F */
	case 404:
	case 405:
	case 410:
	case 416:
	case 489:
	case 501:
	case 604:
		return true;
	default:
		return status >= 480 && status <= 485;
	}
}

/* ---- replies to unparsable requests ------------------------------------------------------ */

static const char *canonical_name(const char *name, size_t len)
{
	static const struct {
		const char *compact, *full;
	} names[] = {{"v", "Via"}, {"f", "From"}, {"t", "To"}, {"i", "Call-ID"}};
	static const char *const full[] = {"Via", "From", "To", "Call-ID", "CSeq"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (len == 1 && tolower((unsigned char)name[0]) == names[i].compact[0])
			return names[i].full;
	for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++)
		if (strlen(full[i]) == len && strncasecmp(name, full[i], len) == 0)
			return full[i];
	return NULL;
}

bool sipgw_reply_unparsed(const uint8_t *raw, size_t len, unsigned status, const char *reason,
                          struct fg_buf *out)
{
	const char *p = (const char *)raw;
	/* skip CRLFs before a request (RFC 3261 §7.5) */
	while (len >= 2 && p[0] == '\r' && p[1] == '\n') {
		p += 2;
		len -= 2;
	}
	if (len > SIP_MAX_HEAD)
		len = SIP_MAX_HEAD;
	const char *end = p + len;
	const char *eol = memchr(p, '\n', len);
	if (eol == NULL || len < 4 || strncmp(p, "SIP/", 4) == 0)
		return false; /* a response is never answered (RFC 3261 §8.1.3.1) */
	if (memchr(p, ' ', (size_t)(eol - p)) == NULL)
		return false;
	size_t start = out->len;
	bool ok = fg_buf_printf(out, "SIP/2.0 %u %s\r\n", status, reason) == FG_OK;
	bool have_to_tag = false, wrote_to = false;
	const char *line = eol + 1;
	while (ok && line < end) {
		const char *le = memchr(line, '\n', (size_t)(end - line));
		if (le == NULL)
			le = end;
		size_t ll = (size_t)(le - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break; /* end of the head */
		/* unfold continuation lines (RFC 3261 §7.3.1) into one value */
		const char *next = le < end ? le + 1 : end;
		struct fg_buf val = {0};
		const char *colon = memchr(line, ':', ll);
		const char *name_end = colon;
		while (name_end != NULL && name_end > line &&
		       (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		const char *canon =
		    colon != NULL ? canonical_name(line, (size_t)(name_end - line)) : NULL;
		if (canon != NULL)
			(void)fg_buf_append(&val, colon + 1, ll - (size_t)(colon + 1 - line));
		while (next < end && (*next == ' ' || *next == '\t')) {
			const char *ne = memchr(next, '\n', (size_t)(end - next));
			if (ne == NULL)
				ne = end;
			size_t nl = (size_t)(ne - next);
			if (nl > 0 && next[nl - 1] == '\r')
				nl--;
			if (canon != NULL) {
				(void)fg_buf_append(&val, " ", 1);
				(void)fg_buf_append(&val, next, nl);
			}
			next = ne < end ? ne + 1 : end;
		}
		if (canon != NULL) {
			const char *v = fg_buf_cstr(&val);
			while (*v == ' ' || *v == '\t')
				v++;
			/* a NUL or bare CR inside would split our reply: copy printable bytes only
			 */
			bool clean = strlen(v) == val.len - (size_t)(v - (const char *)val.data) &&
			             strchr(v, '\r') == NULL;
			if (clean) {
				ok = fg_buf_printf(out, "%s: %s", canon, v) == FG_OK;
				if (strcmp(canon, "To") == 0) {
					wrote_to = true;
					have_to_tag = strstr(v, ";tag=") != NULL;
					if (!have_to_tag) {
						uint8_t rnd[6];
						char hex[13];
						fg_random(rnd, sizeof(rnd));
						fg_hex(hex, rnd, sizeof(rnd));
						ok = ok &&
						     fg_buf_printf(out, ";tag=%s", hex) == FG_OK;
					}
				}
				ok = ok && fg_buf_append_str(out, "\r\n") == FG_OK;
			}
		}
		fg_buf_free(&val);
		line = next;
	}
	(void)wrote_to;
	ok = ok && fg_buf_append_str(out, "Content-Length: 0\r\n\r\n") == FG_OK;
	if (!ok)
		out->len = start;
	return ok;
}

/* ---- RFC 5922 §7.1 names ----------------------------------------------------------------- */

static bool host_match(const char *pattern, const char *host)
{
	size_t pl = strlen(pattern), hl = strlen(host);
	if (pl > 0 && pattern[pl - 1] == '.')
		pl--;
	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pl == hl && strncasecmp(pattern, host, pl) == 0)
		return true;
	/* RFC 6125 §6.4.3: "*" only as the complete leftmost label, matching one label */
	if (pl > 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		if (dot == NULL || dot == host)
			return false;
		size_t rest = hl - (size_t)(dot - host);
		return rest == pl - 1 && strncasecmp(dot, pattern + 1, rest) == 0;
	}
	return false;
}

static void names_add(char *names, size_t namesize, const char *kind, const char *value)
{
	size_t l = strlen(names);
	if (l + 1 >= namesize)
		return;
	char *dst = names + l;
	size_t room = namesize - l;
	int n = 0;
	if (l > 0)
		n = snprintf(dst, room, ", %s:%s", kind, value);
	else
		n = snprintf(dst, room, "%s:%s", kind, value);
	(void)n;
}

bool sipgw_cert_names_host(const uint8_t *der, size_t len, const char *host, char *names,
                           size_t namesize)
{
	struct pki_cert *c = NULL;
	bool match = false, any_san = false;
	if (names != NULL && namesize > 0)
		names[0] = '\0';
	if (der == NULL || len == 0 || pki_cert_parse(der, len, &c) != FG_OK)
		return false;
	for (size_t i = 0; i < c->san_count && i < PKI_SAN_MAX; i++) {
		const struct pki_san *s = &c->sans[i];
		if (s->type == PKI_SAN_DNS) {
			any_san = true;
			if (names)
				names_add(names, namesize, "DNS", s->value);
			if (host_match(s->value, host))
				match = true;
		} else if (s->type == PKI_SAN_URI) {
			const char *v = s->value;
			if (strncasecmp(v, "sip:", 4) == 0)
				v += 4;
			else if (strncasecmp(v, "sips:", 5) == 0)
				v += 5;
			else
				continue;
			any_san = true;
			if (names)
				names_add(names, namesize, "URI", s->value);
			if (strchr(v, '@') == NULL && strcasecmp(v, host) == 0)
				match = true;
		}
	}
	if (!any_san) {
		/* RFC 5922 §7.1: the CN is used only when no SAN of these kinds is present */
		const char *cn = strstr(c->subject, "CN=");
		if (cn != NULL && (cn == c->subject || cn[-1] == ' ')) {
			char val[256];
			size_t vl = strcspn(cn + 3, ",");
			if (vl >= sizeof(val))
				vl = sizeof(val) - 1;
			memcpy(val, cn + 3, vl);
			val[vl] = '\0';
			if (names)
				names_add(names, namesize, "CN", val);
			match = strchr(val, '*') == NULL && strcasecmp(val, host) == 0;
		}
	}
	if (names != NULL && names[0] == '\0' && namesize > 0)
		fg_strlcpy(names, "no DNS name at all", namesize);
	pki_cert_free(c);
	return match;
}

/* ---- presence stanzas (RFC 8048 §5 subscriptions, §6 notifications; RFC 6121 §4.7) ------- */

static const char *const pres_type_names[] = {NULL,         "unavailable", "subscribe",
                                              "subscribed", "unsubscribe", "unsubscribed",
                                              "probe",      "error"};

enum fg_err sipgw_presence_read(const struct xmpp_node *stanza, enum sipgw_presence_type *type,
                                struct xlate_presence *p)
{
	memset(p, 0, sizeof(*p));
	const char *t = xmpp_node_attr(stanza, "type");
	*type = SIPGW_PRES_AVAILABLE;
	if (t != NULL) {
		size_t i;
		for (i = 1; i < sizeof(pres_type_names) / sizeof(pres_type_names[0]); i++)
			if (strcmp(t, pres_type_names[i]) == 0)
				break;
		if (i == sizeof(pres_type_names) / sizeof(pres_type_names[0]))
			return FG_ERR_INVAL;
		*type = (enum sipgw_presence_type)i;
	}
	p->available = *type == SIPGW_PRES_AVAILABLE;
	if (*type != SIPGW_PRES_AVAILABLE && *type != SIPGW_PRES_UNAVAILABLE)
		return FG_OK;
	/* RFC 8048 §6.2 Table 1: the resource becomes the tuple id, xml:lang the
	 * Content-Language */
	const char *from = xmpp_node_attr(stanza, "from");
	const char *slash = from != NULL ? strchr(from, '/') : NULL;
	if (slash != NULL && slash[1] != '\0' && strlen(slash + 1) < 1024)
		p->resource = strdup(slash + 1);
	for (const struct xmpp_attr *a = stanza->attrs; a != NULL; a = a->next)
		if (strcmp(a->ns, XMPP_NS_XML) == 0 && strcmp(a->name, "lang") == 0 &&
		    p->lang == NULL)
			p->lang = strdup(a->value);
	for (const struct xmpp_node *c = stanza->children; c != NULL; c = c->next) {
		if (c->name == NULL || strcmp(c->ns, XMPP_NS_SERVER) != 0)
			continue;
		struct fg_buf b = {0};
		if (xmpp_node_text(c, &b) != FG_OK) {
			fg_buf_free(&b);
			continue;
		}
		const char *v = fg_buf_cstr(&b);
		if (strcmp(c->name, "show") == 0) {
			(void)xlate_show_parse(v, &p->show);
		} else if (strcmp(c->name, "status") == 0 && p->status == NULL) {
			/* RFC 8048 §6.2 Table 1: <status/> -> <note/>; kept whole (our policy) */
			p->status = strdup(v);
			for (const struct xmpp_attr *a = c->attrs; a != NULL; a = a->next)
				if (strcmp(a->ns, XMPP_NS_XML) == 0 && strcmp(a->name, "lang") == 0)
					p->status_lang = strdup(a->value);
		} else if (strcmp(c->name, "priority") == 0) {
			char *end = NULL;
			long pr = strtol(v, &end, 10);
			/* RFC 6121 §4.7.2.3: -128..127 */
			if (end != v && *end == '\0' && pr >= -128 && pr <= 127) {
				p->priority = (int)pr;
				p->has_priority = true;
			}
		}
		fg_buf_free(&b);
	}
	return FG_OK;
}

enum fg_err sipgw_presence_stanza(enum sipgw_presence_type type, const char *from, const char *to,
                                  const struct xlate_presence *p, struct fg_buf *out)
{
	size_t start = out->len;
	if ((unsigned)type >= sizeof(pres_type_names) / sizeof(pres_type_names[0]) ||
	    from == NULL || to == NULL)
		return FG_ERR_INVAL;
	if (p != NULL && !p->available && type == SIPGW_PRES_AVAILABLE)
		type = SIPGW_PRES_UNAVAILABLE;
	enum fg_err err = fg_buf_append_str(out, "<presence from='");
	if (err == FG_OK)
		err = xmpp_escape(out, from, strlen(from), true);
	if (err == FG_OK)
		err = fg_buf_append_str(out, "' to='");
	if (err == FG_OK)
		err = xmpp_escape(out, to, strlen(to), true);
	if (err == FG_OK && pres_type_names[type] != NULL)
		err = fg_buf_printf(out, "' type='%s", pres_type_names[type]);
	char lang[SIPGW_MAX_LANG + 1];
	if (err == FG_OK && p != NULL && p->lang != NULL &&
	    sipgw__lang_tag(p->lang, strlen(p->lang), lang, sizeof(lang)))
		/* RFC 8048 §6.3 Table 2: Content-Language -> xml:lang */
		err = fg_buf_printf(out, "' xml:lang='%s", lang);
	if (err == FG_OK)
		err = fg_buf_append_str(out, "'>");
	if (err == FG_OK && p != NULL && type == SIPGW_PRES_AVAILABLE &&
	    xlate_show_name(p->show) != NULL)
		err = fg_buf_printf(out, "<show>%s</show>", xlate_show_name(p->show));
	if (err == FG_OK && p != NULL && p->status != NULL) {
		err = fg_buf_append_str(out, "<status");
		if (err == FG_OK && p->status_lang != NULL) {
			err = fg_buf_append_str(out, " xml:lang='");
			if (err == FG_OK)
				err =
				    xmpp_escape(out, p->status_lang, strlen(p->status_lang), true);
			if (err == FG_OK)
				err = fg_buf_append_str(out, "'");
		}
		if (err == FG_OK)
			err = fg_buf_append_str(out, ">");
		if (err == FG_OK)
			err = xmpp_escape(out, p->status, strlen(p->status), false);
		if (err == FG_OK)
			err = fg_buf_append_str(out, "</status>");
	}
	if (err == FG_OK && p != NULL && p->has_priority && type == SIPGW_PRES_AVAILABLE)
		err = fg_buf_printf(out, "<priority>%d</priority>", p->priority);
	if (err == FG_OK)
		err = fg_buf_append_str(out, "</presence>");
	if (err != FG_OK)
		out->len = start;
	return err;
}

bool sipgw__lang_tag(const char *in, size_t len, char *out, size_t outsize)
{
	/* the first tag of a Content-Language list (RFC 3261 §20.13), in the shape of an
	 * RFC 5646 tag: letters, digits and hyphens, starting with a letter */
	while (len > 0 && (*in == ' ' || *in == '\t')) {
		in++;
		len--;
	}
	size_t n = 0;
	while (n < len && in[n] != ',' && in[n] != ' ' && in[n] != '\t' && in[n] != ';')
		n++;
	if (n == 0 || n > SIPGW_MAX_LANG || n >= outsize ||
	    !((in[0] >= 'a' && in[0] <= 'z') || (in[0] >= 'A' && in[0] <= 'Z')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		out[i] = c;
	}
	out[n] = '\0';
	return true;
}

/* ---- one stanza from bytes ---------------------------------------------------------------- */

struct parse_one {
	void (*cb)(void *ctx, const struct xmpp_node *n);
	void *ctx;
	int seen;
};

static bool one_header_cb(void *ctx, const struct xmpp_stream_header *hdr)
{
	(void)ctx;
	(void)hdr;
	return true;
}

static bool one_stanza_cb(void *ctx, const struct xmpp_node *n)
{
	struct parse_one *p = ctx;
	if (p->seen++ == 0)
		p->cb(p->ctx, n);
	return false;
}

static void one_close_cb(void *ctx)
{
	(void)ctx;
}

enum fg_err sipgw__parse_stanza(const uint8_t *data, size_t len,
                                void (*cb)(void *ctx, const struct xmpp_node *n), void *ctx)
{
	static const struct xmpp_stream_ops ops = {one_header_cb, one_stanza_cb, one_close_cb};
	static const char hdr[] = "<stream:stream xmlns='jabber:server' "
	                          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
	struct parse_one p = {cb, ctx, 0};
	struct xmpp_stream_config cfg = {.content_ns = XMPP_NS_SERVER,
	                                 .max_stanza_bytes = XMPP_MAX_STANZA_BYTES};
	struct xmpp_stream *s = NULL;
	if (len > XMPP_MAX_STANZA_BYTES)
		return FG_ERR_TOOBIG;
	enum fg_err err = xmpp_stream_new(&s, &cfg, &ops, &p);
	if (err != FG_OK)
		return err;
	if (xmpp_stream_feed(s, (const uint8_t *)hdr, sizeof(hdr) - 1) == XMPP_SE_NONE)
		(void)xmpp_stream_feed(s, data, len);
	xmpp_stream_free(s);
	return p.seen > 0 ? FG_OK : FG_ERR_PARSE;
}

/* ---- last presence of XMPP users for SIP fetches (RFC 6665 §4.4.3, RFC 8048 §7.2) --------- */

struct pres_cache_entry {
	uint32_t pair_hash;      /* of watcher and bare JID: compared before the strings */
	uint64_t stamp;          /* the put that last changed it: the oldest goes first */
	char *watcher;           /* the SIP watcher's address of record */
	char *bare;              /* the XMPP user's bare JID */
	struct xlate_presence p; /* p.resource: the full JID's resource, NULL for the bare one */
};

struct sipgw_pres_cache {
	struct pres_cache_entry *e;
	size_t n, cap;
	uint64_t stamp;
};

static uint32_t pair_hash(const char *watcher, const char *bare)
{
	uint32_t h = fg_fnv1a32(FG_FNV32_INIT, watcher, strlen(watcher));
	h = fg_fnv1a32(h, "\n", 1);
	return fg_fnv1a32(h, bare, strlen(bare));
}

static bool str_eq_opt(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static bool strdup_opt(char **out, const char *s)
{
	*out = s != NULL ? strdup(s) : NULL;
	return s == NULL || *out != NULL;
}

static bool presence_copy(struct xlate_presence *out, const struct xlate_presence *p)
{
	*out = *p;
	out->status = out->status_lang = out->resource = out->lang = NULL;
	if (strdup_opt(&out->status, p->status) && strdup_opt(&out->status_lang, p->status_lang) &&
	    strdup_opt(&out->resource, p->resource) && strdup_opt(&out->lang, p->lang))
		return true;
	xlate_presence_clear(out);
	return false;
}

static void entry_clear(struct pres_cache_entry *e)
{
	free(e->watcher);
	free(e->bare);
	xlate_presence_clear(&e->p);
	memset(e, 0, sizeof(*e));
}

static bool entry_of(const struct pres_cache_entry *e, uint32_t h, const char *watcher,
                     const char *bare)
{
	return e->pair_hash == h && strcmp(e->watcher, watcher) == 0 && strcmp(e->bare, bare) == 0;
}

struct sipgw_pres_cache *sipgw__pres_cache_new(void)
{
	return calloc(1, sizeof(struct sipgw_pres_cache));
}

void sipgw__pres_cache_free(struct sipgw_pres_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		entry_clear(&c->e[i]);
	free(c->e);
	free(c);
}

size_t sipgw__pres_cache_count(const struct sipgw_pres_cache *c)
{
	return c != NULL ? c->n : 0;
}

/* Removes entry i (the last one takes its place). */
static void entry_remove(struct sipgw_pres_cache *c, size_t i)
{
	entry_clear(&c->e[i]);
	c->e[i] = c->e[--c->n];
	memset(&c->e[c->n], 0, sizeof(c->e[c->n]));
}

/* A free slot: a new one while below the cap, else the least recently changed entry's. */
static struct pres_cache_entry *entry_slot(struct sipgw_pres_cache *c)
{
	if (c->n == c->cap && c->cap < SIPGW_PRES_CACHE_MAX) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		if (cap > SIPGW_PRES_CACHE_MAX)
			cap = SIPGW_PRES_CACHE_MAX;
		struct pres_cache_entry *e = realloc(c->e, cap * sizeof(*e));
		if (e != NULL) {
			c->e = e;
			c->cap = cap;
		}
	}
	if (c->n < c->cap) {
		struct pres_cache_entry *e = &c->e[c->n++];
		memset(e, 0, sizeof(*e)); /* realloc's memory: nothing to free if filling fails */
		return e;
	}
	if (c->n == 0)
		return NULL;
	size_t old = 0;
	for (size_t i = 1; i < c->n; i++)
		if (c->e[i].stamp < c->e[old].stamp)
			old = i;
	entry_clear(&c->e[old]);
	return &c->e[old];
}

void sipgw__pres_cache_put(struct sipgw_pres_cache *c, const char *watcher, const char *bare,
                           const struct xlate_presence *p)
{
	if (c == NULL)
		return;
	uint32_t h = pair_hash(watcher, bare);
	uint64_t stamp = ++c->stamp;
	if (!p->available && p->resource == NULL) {
		/* unavailable from the bare JID: every resource of it is offline */
		for (size_t i = 0; i < c->n;)
			if (entry_of(&c->e[i], h, watcher, bare))
				entry_remove(c, i);
			else
				i++;
	}
	struct pres_cache_entry *e = NULL;
	for (size_t i = 0; i < c->n && e == NULL; i++)
		if (entry_of(&c->e[i], h, watcher, bare) &&
		    str_eq_opt(c->e[i].p.resource, p->resource))
			e = &c->e[i];
	if (e != NULL) {
		struct xlate_presence copy;
		if (!presence_copy(&copy, p))
			return;
		xlate_presence_clear(&e->p);
		e->p = copy;
		e->stamp = stamp;
		return;
	}
	e = entry_slot(c);
	if (e == NULL)
		return;
	e->pair_hash = h;
	e->stamp = stamp;
	e->watcher = strdup(watcher);
	e->bare = strdup(bare);
	if (e->watcher == NULL || e->bare == NULL || !presence_copy(&e->p, p))
		entry_remove(c, (size_t)(e - c->e));
}

void sipgw__pres_cache_forget(struct sipgw_pres_cache *c, const char *watcher, const char *bare)
{
	if (c == NULL)
		return;
	uint32_t h = pair_hash(watcher, bare);
	for (size_t i = 0; i < c->n;)
		if (entry_of(&c->e[i], h, watcher, bare))
			entry_remove(c, i);
		else
			i++;
}

bool sipgw__pres_cache_get(const struct sipgw_pres_cache *c, const char *watcher, const char *bare,
                           struct xlate_presence *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return false;
	uint32_t h = pair_hash(watcher, bare);
	const struct pres_cache_entry *best = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct pres_cache_entry *e = &c->e[i];
		if (!entry_of(e, h, watcher, bare))
			continue;
		/* an available resource wins over offline ones; among equals the latest */
		if (best == NULL || (e->p.available && !best->p.available) ||
		    (e->p.available == best->p.available && e->stamp > best->stamp))
			best = e;
	}
	return best != NULL && presence_copy(out, &best->p);
}

/* ---- isComposing timing both ways (RFC 3994 §3.2, §3.3) ----------------------------------- */

struct isc_rx_entry {
	int64_t due_ms;
	char *from, *to, *thread; /* the chat state stanza's from, to and thread */
};

struct sipgw_isc_rx {
	struct isc_rx_entry e[SIPGW_ISC_RX_MAX];
	size_t n;
	int64_t next_due_ms; /* the earliest due_ms (INT64_MAX: none) */
};

static bool same_len(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

static void isc_rx_remove(struct sipgw_isc_rx *t, size_t i)
{
	free(t->e[i].from);
	free(t->e[i].to);
	free(t->e[i].thread);
	t->e[i] = t->e[--t->n];
	memset(&t->e[t->n], 0, sizeof(t->e[t->n]));
}

static void isc_rx_next_due(struct sipgw_isc_rx *t)
{
	t->next_due_ms = INT64_MAX;
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].due_ms < t->next_due_ms)
			t->next_due_ms = t->e[i].due_ms;
}

struct sipgw_isc_rx *sipgw__isc_rx_new(void)
{
	struct sipgw_isc_rx *t = calloc(1, sizeof(*t));
	if (t != NULL)
		t->next_due_ms = INT64_MAX;
	return t;
}

void sipgw__isc_rx_free(struct sipgw_isc_rx *t)
{
	if (t == NULL)
		return;
	while (t->n > 0)
		isc_rx_remove(t, t->n - 1);
	free(t);
}

size_t sipgw__isc_rx_count(const struct sipgw_isc_rx *t)
{
	return t != NULL ? t->n : 0;
}

static size_t isc_rx_find(const struct sipgw_isc_rx *t, const char *from, size_t from_len,
                          const char *to, size_t to_len)
{
	for (size_t i = 0; i < t->n; i++)
		if (same_len(t->e[i].from, from, from_len) && same_len(t->e[i].to, to, to_len))
			return i;
	return SIZE_MAX;
}

long sipgw__isc_refresh_s(long refresh_s)
{
	/* RFC 3994 §3.3: "otherwise, it is 120 seconds" */
	if (refresh_s <= 0)
		return SIPGW_ISC_REFRESH_DEFAULT_S;
	if (refresh_s < SIPGW_ISC_REFRESH_MIN_S)
		return SIPGW_ISC_REFRESH_MIN_S;
	return refresh_s < XLATE_ISCOMPOSING_REFRESH_MAX ? refresh_s
	                                                 : XLATE_ISCOMPOSING_REFRESH_MAX;
}

void sipgw__isc_rx_active(struct sipgw_isc_rx *t, const char *from, size_t from_len, const char *to,
                          size_t to_len, const char *thread, size_t thread_len, long refresh_s,
                          int64_t now_ms, sipgw_isc_idle_cb cb, void *ctx)
{
	if (t == NULL)
		return;
	int64_t due = now_ms + (int64_t)sipgw__isc_refresh_s(refresh_s) * 1000;
	size_t i = isc_rx_find(t, from, from_len, to, to_len);
	if (i == SIZE_MAX && t->n == SIPGW_ISC_RX_MAX) {
		/* full: the composer due first is taken idle now rather than never */
		size_t first = 0;
		for (size_t k = 1; k < t->n; k++)
			if (t->e[k].due_ms < t->e[first].due_ms)
				first = k;
		if (cb != NULL)
			cb(ctx, t->e[first].from, t->e[first].to, t->e[first].thread);
		isc_rx_remove(t, first);
	}
	if (i == SIZE_MAX) {
		struct isc_rx_entry *e = &t->e[t->n];
		e->from = strndup(from, from_len);
		e->to = strndup(to, to_len);
		e->thread = strndup(thread != NULL ? thread : "", thread != NULL ? thread_len : 0);
		if (e->from == NULL || e->to == NULL || e->thread == NULL) {
			free(e->from);
			free(e->to);
			free(e->thread);
			memset(e, 0, sizeof(*e));
			return;
		}
		i = t->n++;
	} else if (thread != NULL && !same_len(t->e[i].thread, thread, thread_len)) {
		char *th = strndup(thread, thread_len);
		if (th != NULL) {
			free(t->e[i].thread);
			t->e[i].thread = th;
		}
	}
	/* "Each transmission ... resets the timer" (RFC 3994 §3.2): the latest active counts */
	t->e[i].due_ms = due;
	isc_rx_next_due(t);
}

bool sipgw__isc_rx_cancel(struct sipgw_isc_rx *t, const char *from, size_t from_len, const char *to,
                          size_t to_len)
{
	if (t == NULL)
		return false;
	size_t i = isc_rx_find(t, from, from_len, to, to_len);
	if (i == SIZE_MAX)
		return false;
	isc_rx_remove(t, i);
	isc_rx_next_due(t);
	return true;
}

size_t sipgw__isc_rx_expire(struct sipgw_isc_rx *t, int64_t now_ms, sipgw_isc_idle_cb cb, void *ctx)
{
	size_t ended = 0;
	if (t == NULL || now_ms < t->next_due_ms)
		return 0;
	for (size_t i = 0; i < t->n;) {
		if (t->e[i].due_ms <= now_ms) {
			if (cb != NULL)
				cb(ctx, t->e[i].from, t->e[i].to, t->e[i].thread);
			isc_rx_remove(t, i);
			ended++;
		} else {
			i++;
		}
	}
	isc_rx_next_due(t);
	return ended;
}

enum isc_tx_state { ISC_TX_FREE = 0, ISC_TX_ACTIVE, ISC_TX_IDLE };

struct isc_tx_entry {
	uint64_t key;
	int64_t at_ms; /* when the state was sent (or the body that implied idle) */
	enum isc_tx_state state;
};

struct sipgw_isc_tx {
	struct isc_tx_entry e[SIPGW_ISC_TX_MAX];
};

struct sipgw_isc_tx *sipgw__isc_tx_new(void)
{
	return calloc(1, sizeof(struct sipgw_isc_tx));
}

void sipgw__isc_tx_free(struct sipgw_isc_tx *t)
{
	free(t);
}

bool sipgw__isc_tx_decide(struct sipgw_isc_tx *t, uint64_t key, bool body, enum xlate_chatstate cs,
                          int64_t now_ms)
{
	if (t == NULL)
		return true;
	/* the key's set of SIPGW_ISC_TX_WAYS slots (keys are hashes already): one look at a
	 * few slots per message, not a walk of the table */
	size_t set = (size_t)(key % (SIPGW_ISC_TX_MAX / SIPGW_ISC_TX_WAYS)) * SIPGW_ISC_TX_WAYS;
	struct isc_tx_entry *e = NULL, *slot = NULL;
	for (size_t i = set; i < set + SIPGW_ISC_TX_WAYS; i++) {
		struct isc_tx_entry *x = &t->e[i];
		if (x->state != ISC_TX_FREE && x->key == key) {
			e = x;
			break;
		}
		/* a free slot, else the pair of the set whose state went longest ago */
		if (slot == NULL || (slot->state != ISC_TX_FREE &&
		                     (x->state == ISC_TX_FREE || x->at_ms < slot->at_ms)))
			slot = x;
	}
	bool active = !body && cs == XLATE_CS_COMPOSING;
	bool send = true;
	if (e != NULL && !body) {
		/* RFC 3994 §3.2: "the message rate is limited to one status message per refresh
		 * threshold interval" for active; an idle after idle, or right after a content
		 * message ("no 'idle' state indication is needed"), says nothing new */
		if (active)
			send = e->state != ISC_TX_ACTIVE ||
			       now_ms - e->at_ms >= (int64_t)XLATE_ISCOMPOSING_REFRESH * 1000;
		else
			send = e->state != ISC_TX_IDLE;
	}
	if (!send)
		return false;
	if (e == NULL)
		e = slot;
	e->key = key;
	e->at_ms = now_ms;
	e->state = active ? ISC_TX_ACTIVE : ISC_TX_IDLE;
	return true;
}
