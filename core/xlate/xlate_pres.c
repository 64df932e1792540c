/* xlate: PIDF/RPID presence <-> XMPP presence, subscription mapping (RFC 8048, RFC 3863, RFC 4480,
 * RFC 6665). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xlate/xlate_internal.h"

#define NS_PIDF "urn:ietf:params:xml:ns:pidf"
#define NS_DM   "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID "urn:ietf:params:xml:ns:pidf:rpid"
#define NS_XML  "http://www.w3.org/XML/1998/namespace"
#define NS_JC   "jabber:client" /* RFC 8048 §6.2 note 7: <show/> carried in PIDF */

void xlate_presence_clear(struct xlate_presence *p)
{
	if (!p)
		return;
	free(p->status);
	free(p->status_lang);
	free(p->resource);
	free(p->lang);
	memset(p, 0, sizeof(*p));
}

static const char *const show_names[] = {NULL, "away", "chat", "dnd", "xa"};

const char *xlate_show_name(enum xlate_show show)
{
	return (size_t)show < sizeof(show_names) / sizeof(show_names[0]) ? show_names[show] : NULL;
}

bool xlate_show_parse(const char *s, enum xlate_show *out)
{
	for (size_t i = 1; i < sizeof(show_names) / sizeof(show_names[0]); i++)
		if (strcmp(s, show_names[i]) == 0) {
			*out = (enum xlate_show)i;
			return true;
		}
	return false;
}

/* RFC 4480 §3.2 activities -> XMPP <show/>, for SIP clients that send RPID rather than the
 * <show xmlns='jabber:client'> of RFC 8048 §6.2 note 7 (which wins when both are present;
 * note 7 leaves custom extensions to the gateway). This table is our choice, documented
 * in docs/sip.md. */
static const struct {
	const char *activity;
	enum xlate_show show;
} activity_map[] = {
    {"away", XLATE_SHOW_AWAY},
    {"busy", XLATE_SHOW_DND},
    {"on-the-phone", XLATE_SHOW_DND},
    {"meeting", XLATE_SHOW_DND},
    {"appointment", XLATE_SHOW_DND},
    {"presentation", XLATE_SHOW_DND},
    {"performance", XLATE_SHOW_DND},
    {"worship", XLATE_SHOW_DND},
    {"vacation", XLATE_SHOW_XA},
    {"holiday", XLATE_SHOW_XA},
    {"permanent-absence", XLATE_SHOW_XA},
    {"sleeping", XLATE_SHOW_XA},
    {"travel", XLATE_SHOW_XA},
};

enum pidf_where { W_NONE = 0, W_BASIC, W_NOTE, W_CONTACT, W_OTHER, W_USER_INPUT, W_SHOW };

struct pidf_state {
	struct xlate__xml x;
	struct xlate_presence *p;
	bool root_seen;
	int tuple_depth; /* >0 inside a tuple */
	int tuples;
	bool in_activities;
	enum pidf_where where;
	struct fg_buf text;
	int note_rank; /* 3 tuple note, 2 person note, 1 presence note; keep the best */
	int cur_note_rank;
	char *cur_lang;
	bool any_open;
	bool idle;
	bool activity_away;
	long priority_milli;     /* -1 when absent */
	enum xlate_show jc_show; /* <show xmlns='jabber:client'>, NONE when absent */
};

static const char *local(const char *name, const char *ns)
{
	size_t n = strlen(ns);
	if (strncmp(name, ns, n) == 0 && name[n] == '|')
		return name + n + 1;
	return NULL;
}

static bool parse_qvalue(const char *s, long *milli)
{
	/* RFC 3863 §4.1.5 / RFC 3261 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ] */
	long v = 0;
	if (s[0] != '0' && s[0] != '1')
		return false;
	v = (s[0] - '0') * 1000;
	s++;
	if (*s == '.') {
		s++;
		long scale = 100;
		for (int i = 0; i < 3 && *s >= '0' && *s <= '9'; i++, s++, scale /= 10)
			v += (*s - '0') * scale;
	}
	if (*s || v > 1000)
		return false;
	*milli = v;
	return true;
}

static void pidf_start(struct xlate__xml *x, const char *name, const char **attrs)
{
	struct pidf_state *st = x->user;
	const char *l;
	if (!st->root_seen) {
		st->root_seen = true;
		if (!(l = local(name, NS_PIDF)) || strcmp(l, "presence") != 0)
			xlate__xml_fail(x, "root element is not PIDF <presence/>");
		return;
	}
	st->where = W_NONE;
	fg_buf_reset(&st->text);
	if ((l = local(name, NS_PIDF)) != NULL) {
		if (strcmp(l, "tuple") == 0) {
			st->tuple_depth = x->depth;
			st->tuples++;
		} else if (strcmp(l, "basic") == 0 && st->tuple_depth) {
			st->where = W_BASIC;
		} else if (strcmp(l, "contact") == 0 && st->tuple_depth && st->tuples == 1) {
			for (size_t i = 0; attrs[i]; i += 2)
				if (strcmp(attrs[i], "priority") == 0 &&
				    !parse_qvalue(attrs[i + 1], &st->priority_milli))
					xlate__xml_fail(x, "bad contact priority");
		} else if (strcmp(l, "note") == 0) {
			st->where = W_NOTE;
			st->cur_note_rank = st->tuple_depth ? 3 : 1;
		}
	} else if ((l = local(name, NS_JC)) != NULL) {
		if (strcmp(l, "show") == 0 && st->tuple_depth)
			st->where = W_SHOW;
	} else if ((l = local(name, NS_DM)) != NULL) {
		if (strcmp(l, "note") == 0) {
			st->where = W_NOTE;
			st->cur_note_rank = 2;
		}
	} else if ((l = local(name, NS_RPID)) != NULL) {
		if (strcmp(l, "activities") == 0) {
			st->in_activities = true;
		} else if (strcmp(l, "user-input") == 0) {
			st->where = W_USER_INPUT;
		} else if (st->in_activities) {
			if (strcmp(l, "other") == 0) {
				st->where = W_OTHER;
			} else {
				for (size_t i = 0;
				     i < sizeof(activity_map) / sizeof(activity_map[0]); i++)
					if (strcmp(l, activity_map[i].activity) == 0 &&
					    st->p->show == XLATE_SHOW_NONE) {
						st->p->show = activity_map[i].show;
						st->activity_away = strcmp(l, "away") == 0;
					}
			}
		}
	}
	if (st->where == W_NOTE) {
		free(st->cur_lang);
		st->cur_lang = NULL;
		for (size_t i = 0; attrs[i]; i += 2)
			if ((l = local(attrs[i], NS_XML)) && strcmp(l, "lang") == 0)
				st->cur_lang = strdup(attrs[i + 1]);
	}
}

static void pidf_text(struct xlate__xml *x, const char *s, int len)
{
	struct pidf_state *st = x->user;
	if (st->where == W_NONE)
		return;
	if (st->text.len + (size_t)len > XLATE_MAX_NOTE) {
		xlate__xml_fail(x, "note longer than the status text limit");
		return;
	}
	if (fg_buf_append(&st->text, s, (size_t)len))
		xlate__xml_fail(x, "out of memory");
}

static bool text_is(struct fg_buf *b, const char *want)
{
	/* element content may be surrounded by whitespace */
	const char *s = fg_buf_cstr(b);
	size_t n = b->len;
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

static void pidf_end(struct xlate__xml *x, const char *name)
{
	struct pidf_state *st = x->user;
	const char *l;
	if (st->tuple_depth && x->depth + 1 == st->tuple_depth)
		st->tuple_depth = 0;
	if ((l = local(name, NS_RPID)) && strcmp(l, "activities") == 0)
		st->in_activities = false;
	switch (st->where) {
	case W_BASIC:
		if (text_is(&st->text, "open"))
			st->any_open = true;
		else if (!text_is(&st->text, "closed"))
			xlate__xml_fail(x, "basic is neither open nor closed");
		break;
	case W_NOTE:
		if (st->cur_note_rank > st->note_rank) {
			free(st->p->status);
			free(st->p->status_lang);
			st->p->status = xlate__strndup(
			    (const char *)(st->text.data ? st->text.data : (uint8_t *)""),
			    st->text.len);
			st->p->status_lang = st->cur_lang;
			st->cur_lang = NULL;
			st->note_rank = st->cur_note_rank;
			if (!st->p->status)
				xlate__xml_fail(x, "out of memory");
		}
		break;
	case W_OTHER:
		if (text_is(&st->text, "chat") && st->p->show == XLATE_SHOW_NONE)
			st->p->show = XLATE_SHOW_CHAT;
		break;
	case W_USER_INPUT:
		if (text_is(&st->text, "idle"))
			st->idle = true;
		break;
	case W_SHOW:
		/* RFC 6121 §4.7.2.1 values; an unknown one is ignored, not fatal. The first
		 * tuple's wins, as for the priority */
		for (int v = XLATE_SHOW_AWAY; v <= XLATE_SHOW_XA; v++)
			if (st->jc_show == XLATE_SHOW_NONE &&
			    text_is(&st->text, xlate_show_name((enum xlate_show)v)))
				st->jc_show = (enum xlate_show)v;
		break;
	default:
		break;
	}
	st->where = W_NONE;
	fg_buf_reset(&st->text);
}

enum fg_err xlate_pidf_parse(const uint8_t *xml, size_t len, struct xlate_presence *p,
                             const char **why)
{
	struct pidf_state st = {0};
	memset(p, 0, sizeof(*p));
	st.p = p;
	st.priority_milli = -1;
	st.x.user = &st;
	st.x.start_cb = pidf_start;
	st.x.end_cb = pidf_end;
	st.x.text_cb = pidf_text;
	enum fg_err e = xlate__xml_run(&st.x, xml, len);
	if (!e && !st.root_seen) {
		st.x.why = "empty document";
		e = FG_ERR_PARSE;
	}
	if (e) {
		if (why)
			*why = st.x.why;
		xlate_presence_clear(p);
	} else {
		/* RFC 8048 §6.3 Table 2 note 1: open in any tuple -> available */
		p->available = st.any_open;
		if (!p->available)
			p->show = XLATE_SHOW_NONE;
		else if (st.jc_show != XLATE_SHOW_NONE)
			p->show = st.jc_show; /* §6.3 Table 2 row 3 */
		else if (p->show == XLATE_SHOW_AWAY && st.activity_away && st.idle)
			p->show = XLATE_SHOW_XA; /* our xa encoding: away + idle */
		if (st.priority_milli >= 0) {
			p->has_priority = true;
			p->priority = (int)((st.priority_milli * 127 + 500) / 1000);
		}
	}
	free(st.cur_lang);
	fg_buf_free(&st.text);
	return e;
}

enum fg_err xlate_pidf_build(const struct xlate_presence *p, const char *entity,
                             const char *contact, struct fg_buf *out)
{
	size_t start = out->len;
	enum fg_err e = fg_buf_append_str(
	    out, "<?xml version='1.0' encoding='UTF-8'?>\n<presence xmlns='" NS_PIDF
	         "' xmlns:dm='" NS_DM "' xmlns:rpid='" NS_RPID "' entity='");
	if (!e)
		e = xmpp_escape(out, entity, strlen(entity), true);
	if (!e)
		e = fg_buf_append_str(out, "'>\n<tuple id='");
	if (!e && p->resource != NULL && p->resource[0] != '\0') {
		/* RFC 8048 §6.2 note 2: the resource is the tuple id, with "ID-" in front as
		 * an xs:ID cannot start with a digit; what an NCName cannot hold becomes "_"
		 * (a byte of a non-ASCII character too: simple, and always valid) */
		e = fg_buf_append_str(out, "ID-");
		for (const char *c = p->resource; !e && *c; c++) {
			char ch = *c;
			bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
			e = fg_buf_append(out, ok ? &ch : "_", 1);
		}
	} else if (!e) {
		e = fg_buf_append_str(out, "t1");
	}
	if (!e)
		e = fg_buf_printf(out, "'><status><basic>%s</basic>",
		                  p->available ? "open" : "closed");
	if (!e && p->available && xlate_show_name(p->show) != NULL)
		/* RFC 8048 §6.2 note 7 (RECOMMENDED): the XMPP <show/> itself; PIDF <status>
		 * takes elements of other namespaces (RFC 3863 §4.1.3) */
		e = fg_buf_printf(out, "<show xmlns='" NS_JC "'>%s</show>",
		                  xlate_show_name(p->show));
	if (!e)
		e = fg_buf_append_str(out, "</status>");
	if (!e && contact) {
		/* RFC 8048 §6.2 note 6: a negative priority MUST NOT be mapped; 0..127 ->
		 * 0..1, each value distinct (1 -> 0.008, 126 -> 0.992, 127 -> 1) */
		e = fg_buf_append_str(out, "<contact");
		if (!e && p->has_priority && p->priority >= 0) {
			long milli = ((long)p->priority * 1000 + 63) / 127;
			if (milli > 1000)
				milli = 1000;
			e = fg_buf_printf(out, " priority='%ld.%03ld'", milli / 1000, milli % 1000);
		}
		if (!e)
			e = fg_buf_append_str(out, ">");
		if (!e)
			e = xmpp_escape(out, contact, strlen(contact), false);
		if (!e)
			e = fg_buf_append_str(out, "</contact>");
	}
	if (!e && p->status) {
		/* RFC 8048 §6.2 Table 1: <status/> -> <note/>, language kept */
		e = fg_buf_append_str(out, "<note");
		if (!e && p->status_lang) {
			e = fg_buf_append_str(out, " xml:lang='");
			if (!e)
				e = xmpp_escape(out, p->status_lang, strlen(p->status_lang), true);
			if (!e)
				e = fg_buf_append_str(out, "'");
		}
		if (!e)
			e = fg_buf_append_str(out, ">");
		if (!e)
			e = xmpp_escape(out, p->status, strlen(p->status), false);
		if (!e)
			e = fg_buf_append_str(out, "</note>");
	}
	if (!e)
		e = fg_buf_append_str(out, "</tuple>\n");
	if (!e && p->available && p->show != XLATE_SHOW_NONE) {
		const char *act = NULL, *other = NULL;
		bool idle = false;
		switch (p->show) {
		case XLATE_SHOW_AWAY:
			act = "away";
			break;
		case XLATE_SHOW_XA:
			act = "away";
			idle = true;
			break;
		case XLATE_SHOW_DND:
			act = "busy";
			break;
		case XLATE_SHOW_CHAT:
			other = "chat";
			break;
		default:
			break;
		}
		e = fg_buf_append_str(out, "<dm:person id='p1'><rpid:activities>");
		if (!e && act)
			e = fg_buf_printf(out, "<rpid:%s/>", act);
		if (!e && other)
			e = fg_buf_printf(out, "<rpid:other>%s</rpid:other>", other);
		if (!e)
			e = fg_buf_append_str(out, "</rpid:activities>");
		if (!e && idle)
			e = fg_buf_append_str(out, "<rpid:user-input>idle</rpid:user-input>");
		if (!e)
			e = fg_buf_append_str(out, "</dm:person>\n");
	}
	if (!e)
		e = fg_buf_append_str(out, "</presence>\n");
	if (e)
		out->len = start;
	return e;
}

/* RFC 8048 §5.2 (XMPP -> SIP), §5.3 (SIP -> XMPP) and §7 (probe and fetch) subscription
 * handling. The rows read both ways except UNSUBSCRIBE: an XMPP unsubscribe becomes SUBSCRIBE
 * Expires 0 (§5.2.3), but a SIP SUBSCRIBE Expires 0 only ends the notification dialog and
 * becomes 'unavailable' (§5.3.3, XLATE_SUB_END_DIALOG). */
const struct xlate_sub_row xlate_sub_table[] = {
    {XLATE_SUB_SUBSCRIBE, "SUBSCRIBE", -1, NULL, NULL},
    {XLATE_SUB_UNSUBSCRIBE, "SUBSCRIBE", 0, NULL, NULL},
    /* RFC 8048 §7.1, RFC 6665 §4.4.3: a fetch, Expires 0 in a new dialog */
    {XLATE_SUB_PROBE, "SUBSCRIBE", 0, NULL, NULL},
    {XLATE_SUB_SUBSCRIBED, "NOTIFY", -1, "active", NULL},
    {XLATE_SUB_UNSUBSCRIBED, "NOTIFY", -1, "terminated", "rejected"},
};
const size_t xlate_sub_table_len = sizeof(xlate_sub_table) / sizeof(xlate_sub_table[0]);

const struct xlate_sub_row *xlate_sub_to_sip(enum xlate_sub sub)
{
	for (size_t i = 0; i < xlate_sub_table_len; i++)
		if (xlate_sub_table[i].xmpp == sub)
			return &xlate_sub_table[i];
	return NULL;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(s, w, n) == 0;
}

/* The value of parameter name in a Subscription-State value (after the first ';'), or
 * NULL; *len gets its length. Parameter names are case-insensitive (RFC 6665 §8.4). */
static const char *state_param(const char *state, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	for (const char *p = strchr(state, ';'); p != NULL; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ' || *q == '\t')
			q++;
		if (strncasecmp(q, name, nl) != 0)
			continue;
		q += nl;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ' || *q == '\t')
			q++;
		*len = strcspn(q, "; \t");
		return q;
	}
	return NULL;
}

bool xlate_sub_from_sip(const char *method, long expires, const char *state,
                        bool subscription_exists, enum xlate_sub *out)
{
	if (strcmp(method, "SUBSCRIBE") == 0) {
		if (expires == 0)
			*out = subscription_exists ? XLATE_SUB_END_DIALOG : XLATE_SUB_PROBE;
		else
			*out = XLATE_SUB_SUBSCRIBE;
		return true;
	}
	if (strcmp(method, "NOTIFY") != 0 || !state)
		return false;
	/* substate-value *( SEMI subexp-params ) (RFC 6665 §8.4) */
	const char *semi = strchr(state, ';');
	size_t n = semi ? (size_t)(semi - state) : strlen(state);
	while (n && (state[n - 1] == ' ' || state[n - 1] == '\t'))
		n--;
	if (word_is(state, n, "active")) {
		*out = XLATE_SUB_SUBSCRIBED;
		return true;
	}
	if (!word_is(state, n, "terminated"))
		return false; /* pending, or an extension state: nothing for XMPP yet */
	size_t rl = 0;
	const char *r = state_param(state, "reason", &rl);
	/* RFC 6665 §4.1.3: after rejected, noresource and invariant the subscriber SHOULD NOT
	 * subscribe again; with no reason, an unknown one or any other it may (RFC 8048
	 * §5.2.2: the XMPP authorization is long-lived), so only those three cancel it */
	if (r != NULL && (word_is(r, rl, "rejected") || word_is(r, rl, "noresource") ||
	                  word_is(r, rl, "invariant"))) {
		*out = XLATE_SUB_UNSUBSCRIBED;
		return true;
	}
	return false;
}

long xlate_sub_retry_after(const char *state)
{
	size_t n = 0;
	const char *v = state ? state_param(state, "retry-after", &n) : NULL;
	char num[16];
	if (v == NULL || n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, v, n);
	num[n] = '\0';
	char *end = NULL;
	unsigned long secs = strtoul(num, &end, 10);
	if (end == num || *end != '\0' || num[0] == '-' || num[0] == '+')
		return -1;
	return secs > XLATE_SUB_MAX_RETRY_AFTER ? XLATE_SUB_MAX_RETRY_AFTER : (long)secs;
}

const char *xlate_sub_name(enum xlate_sub sub)
{
	static const char *const names[] = {"subscribe",    "subscribed", "unsubscribe",
	                                    "unsubscribed", "probe",      "unavailable"};
	return (size_t)sub < sizeof(names) / sizeof(names[0]) ? names[sub] : "unknown";
}
