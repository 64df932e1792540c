/* xlate: XEP-0085 chat states <-> RFC 3994 isComposing documents, mapped as RFC 7573 §6
 * Tables 3 and 4 suggest. */
#include <stdint.h>
#include <string.h>

#include "xlate/xlate_internal.h"

#define NS_ISC "urn:ietf:params:xml:ns:im-iscomposing"

const char *xlate_chatstate_name(enum xlate_chatstate cs)
{
	static const char *const names[] = {"active", "composing", "paused", "inactive", "gone"};
	return (size_t)cs < sizeof(names) / sizeof(names[0]) ? names[cs] : "active";
}

enum fg_err xlate_chatstate_to_iscomposing(enum xlate_chatstate cs, struct fg_buf *out)
{
	/* RFC 3994 §3: "active" means the user is composing; the refresh interval tells
	 * the receiver when to fall back to idle on its own. */
	if (cs == XLATE_CS_COMPOSING)
		return fg_buf_printf(out,
		                     "<?xml version='1.0' encoding='UTF-8'?>\n"
		                     "<isComposing xmlns='" NS_ISC "'><state>active</state>"
		                     "<contenttype>text/plain</contenttype><refresh>%d</refresh>"
		                     "</isComposing>\n",
		                     XLATE_ISCOMPOSING_REFRESH);
	return fg_buf_append_str(out, "<?xml version='1.0' encoding='UTF-8'?>\n"
	                              "<isComposing xmlns='" NS_ISC "'><state>idle</state>"
	                              "<contenttype>text/plain</contenttype></isComposing>\n");
}

/* Digits of a <refresh> kept (leading whitespace aside): 10 hold any 32-bit count of seconds;
 * a longer one is refused as a refresh (XLATE_ISCOMPOSING_REFRESH_MAX is far below). */
#define ISC_REFRESH_DIGITS 10

struct isc_state {
	struct xlate__xml x;
	bool root_seen;
	bool in_state;
	bool have_state;
	bool composing;
	bool state_long; /* longer than any token we know: some other state, so idle */
	struct fg_buf text;
	/* RFC 3994 §3.3: <refresh> in integer seconds, kept up to ISC_REFRESH_DIGITS */
	bool in_refresh;
	bool refresh_bad;  /* too long or not digits: as if absent */
	bool refresh_tail; /* whitespace after the digits: nothing but whitespace may follow */
	char refresh[ISC_REFRESH_DIGITS + 1];
	size_t refresh_len;
	long refresh_s;
};

/* Longest state token kept: "active" and "idle" are the only ones known; a longer one is
 * another state, which RFC 3994 §3.5 says to read as idle, so it need not be kept. */
#define ISC_STATE_MAX 64

static void isc_start(struct xlate__xml *x, const char *name, const char **attrs)
{
	struct isc_state *st = x->user;
	if (!st->root_seen) {
		st->root_seen = true;
		if (strcmp(name, NS_ISC "|isComposing") != 0)
			xlate__xml_fail(x, "root element is not isComposing");
		return;
	}
	st->in_state = strcmp(name, NS_ISC "|state") == 0 && x->depth == 2;
	st->in_refresh = strcmp(name, NS_ISC "|refresh") == 0 && x->depth == 2;
	if (st->in_refresh) {
		st->refresh_len = 0;
		st->refresh_bad = st->refresh_tail = false;
	}
	fg_buf_reset(&st->text);
}

static void isc_text(struct xlate__xml *x, const char *s, int len)
{
	struct isc_state *st = x->user;
	if (st->in_refresh) {
		for (int i = 0; i < len && !st->refresh_bad; i++) {
			char c = s[i];
			/* XML whitespace may surround the number (xs:positiveInteger) */
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				st->refresh_tail = st->refresh_len > 0;
				continue;
			}
			if (c < '0' || c > '9' || st->refresh_tail ||
			    st->refresh_len == ISC_REFRESH_DIGITS)
				st->refresh_bad = true;
			else
				st->refresh[st->refresh_len++] = c;
		}
		return;
	}
	if (!st->in_state)
		return;
	if (st->state_long || st->text.len + (size_t)len > ISC_STATE_MAX) {
		st->state_long = true;
		return;
	}
	if (fg_buf_append(&st->text, s, (size_t)len))
		xlate__xml_fail(x, "out of memory");
}

static void isc_end(struct xlate__xml *x, const char *name)
{
	struct isc_state *st = x->user;
	if (st->in_refresh) {
		st->in_refresh = false;
		uint64_t v;
		st->refresh[st->refresh_len] = '\0';
		if (!st->refresh_bad &&
		    fg_parse_u64(st->refresh, 1, XLATE_ISCOMPOSING_REFRESH_MAX, &v))
			st->refresh_s = (long)v;
		else if (!st->refresh_bad && fg_parse_u64(st->refresh, 1, UINT64_MAX, &v))
			st->refresh_s = XLATE_ISCOMPOSING_REFRESH_MAX; /* longer: our cap */
		return;
	}
	if (st->in_state) {
		st->in_state = false;
		/* the token may be surrounded by XML whitespace */
		const char *t = fg_buf_cstr(&st->text);
		size_t n = st->text.len;
		while (n > 0 && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')) {
			t++;
			n--;
		}
		while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' ||
		                 t[n - 1] == '\n'))
			n--;
		/* RFC 3994 §3.5: recipients MUST treat state tokens other than "idle" and
		 * "active" as "idle" */
		st->have_state = true;
		st->composing = !st->state_long && n == 6 && memcmp(t, "active", 6) == 0;
	}
}

enum fg_err xlate_chatstate_from_iscomposing(const uint8_t *xml, size_t len,
                                             enum xlate_chatstate *out, const char **why)
{
	long refresh_s;
	return xlate_iscomposing_parse(xml, len, out, &refresh_s, why);
}

enum fg_err xlate_iscomposing_parse(const uint8_t *xml, size_t len, enum xlate_chatstate *out,
                                    long *refresh_s, const char **why)
{
	struct isc_state st = {.refresh_s = -1};
	st.x.user = &st;
	st.x.start_cb = isc_start;
	st.x.end_cb = isc_end;
	st.x.text_cb = isc_text;
	enum fg_err e = xlate__xml_run(&st.x, xml, len);
	if (!e && !st.have_state) {
		st.x.why = "no state element";
		e = FG_ERR_PARSE;
	}
	if (e) {
		if (why)
			*why = st.x.why;
	} else {
		/* RFC 7573 §6 Table 3: active -> composing, idle -> active (the user is in the
		 * conversation and not typing; XEP-0085 "paused" would claim typing had begun) */
		*out = st.composing ? XLATE_CS_COMPOSING : XLATE_CS_ACTIVE;
		*refresh_s = st.refresh_s;
	}
	fg_buf_free(&st.text);
	return e;
}
