/* Unit tests: PIDF/RPID <-> XMPP presence (RFC 8048), subscription table rows, isComposing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xlate/xlate.h"

static enum fg_err parse(const char *xml, struct xlate_presence *p, const char **why)
{
	return xlate_pidf_parse((const uint8_t *)xml, strlen(xml), p, why);
}

static void t_pidf_basic(void **st)
{
	const char *doc =
	    "<?xml version='1.0' encoding='UTF-8'?>\n"
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:juliet@example.com'>"
	    "<tuple id='a'><status><basic> open </basic></status>"
	    "<contact priority='0.8'>sip:juliet@example.com</contact>"
	    "<note xml:lang='en'>Wherefore &amp; why</note></tuple></presence>";
	struct xlate_presence p;
	assert_int_equal(parse(doc, &p, NULL), FG_OK);
	assert_true(p.available);
	assert_int_equal(p.show, XLATE_SHOW_NONE);
	assert_string_equal(p.status, "Wherefore & why");
	assert_string_equal(p.status_lang, "en");
	assert_true(p.has_priority);
	assert_int_equal(p.priority, 102); /* round(0.8 * 127) */
	xlate_presence_clear(&p);
	xlate_presence_clear(NULL);
}

static void t_pidf_closed_with_note(void **st)
{
	/* the status text of an unavailable contact is kept (never lost) */
	const char *doc = "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'>"
	                  "<tuple id='t'><status><basic>closed</basic></status></tuple>"
	                  "<note>Gone fishing</note></presence>";
	struct xlate_presence p;
	assert_int_equal(parse(doc, &p, NULL), FG_OK);
	assert_false(p.available);
	assert_string_equal(p.status, "Gone fishing");
	xlate_presence_clear(&p);
}

/* one test per show value: build then parse gives the same show and status */
static void t_show_row(void **st)
{
	enum xlate_show show = (enum xlate_show)(uintptr_t)*st;
	struct xlate_presence in = {.available = true,
	                            .show = show,
	                            .status = "Tea \xe2\x98\x95 <3",
	                            .status_lang = "en",
	                            .priority = 5,
	                            .has_priority = true};
	struct xlate_presence out;
	struct fg_buf b = {0};
	assert_int_equal(
	    xlate_pidf_build(&in, "pres:juliet@example.com", "sip:juliet@example.com", &b), FG_OK);
	const char *why = NULL;
	enum fg_err e = xlate_pidf_parse(b.data, b.len, &out, &why);
	if (e)
		fprintf(stderr, "%s\n%s\n", why, fg_buf_cstr(&b));
	assert_int_equal(e, FG_OK);
	assert_true(out.available);
	assert_int_equal(out.show, show);
	assert_string_equal(out.status, in.status);
	assert_string_equal(out.status_lang, "en");
	assert_int_equal(out.priority, 5);
	xlate_presence_clear(&out);
	fg_buf_free(&b);
}

/* RFC 8048 Example 4 (F10): the XMPP <show/> carried in PIDF (§6.3 Table 2 row 3) */
static void t_rfc8048_example4(void **st)
{
	const char *doc = "<?xml version='1.0' encoding='UTF-8'?>\n"
	                  "<presence xmlns='urn:ietf:params:xml:ns:pidf'\n"
	                  "          entity='pres:romeo@example.net'>\n"
	                  "  <tuple id='ID-dr4hcr0st3lup4c'>\n"
	                  "    <status>\n"
	                  "      <basic>open</basic>\n"
	                  "      <show xmlns='jabber:client'>away</show>\n"
	                  "    </status>\n"
	                  "  </tuple>\n"
	                  "</presence>";
	struct xlate_presence p;
	assert_int_equal(parse(doc, &p, NULL), FG_OK);
	assert_true(p.available);
	assert_int_equal(p.show, XLATE_SHOW_AWAY);
	xlate_presence_clear(&p);
	/* the jabber:client show wins over RPID; an unknown value is ignored, not fatal */
	doc = "<presence xmlns='urn:ietf:params:xml:ns:pidf' "
	      "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
	      "xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='pres:a@b'>"
	      "<tuple id='x'><status><basic>open</basic>"
	      "<show xmlns='jabber:client'>dnd</show></status></tuple>"
	      "<dm:person id='p'><rpid:activities><rpid:away/></rpid:activities></dm:person>"
	      "</presence>";
	assert_int_equal(parse(doc, &p, NULL), FG_OK);
	assert_int_equal(p.show, XLATE_SHOW_DND);
	xlate_presence_clear(&p);
	doc = "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:a@b'>"
	      "<tuple id='x'><status><basic>open</basic>"
	      "<show xmlns='jabber:client'>sleepy</show></status></tuple></presence>";
	assert_int_equal(parse(doc, &p, NULL), FG_OK);
	assert_int_equal(p.show, XLATE_SHOW_NONE);
	xlate_presence_clear(&p);
}

/* RFC 8048 §6.2: tuple id from the resource (note 2), <show/> in PIDF (note 7), priority
 * (note 6) */
static void t_pidf_build_rows(void **st)
{
	struct xlate_presence in = {.available = true, .show = XLATE_SHOW_AWAY};
	struct fg_buf b = {0};
	in.resource = "yn0cl4bnw0yr3vym";
	assert_int_equal(xlate_pidf_build(&in, "pres:juliet@example.com", NULL, &b), FG_OK);
	const char *doc = fg_buf_cstr(&b);
	assert_non_null(strstr(doc, "<tuple id='ID-yn0cl4bnw0yr3vym'>"));
	assert_non_null(strstr(doc, "<status><basic>open</basic>"
	                            "<show xmlns='jabber:client'>away</show></status>"));
	assert_non_null(strstr(doc, "<rpid:away/>")); /* note 7: both */
	assert_null(strstr(doc, "<contact"));
	/* an xs:ID: "ID-" first, what an NCName cannot hold becomes "_" */
	fg_buf_reset(&b);
	in.resource = "1 a/b\xc3\xa9:c";
	assert_int_equal(xlate_pidf_build(&in, "pres:juliet@example.com", NULL, &b), FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&b), "<tuple id='ID-1_a_b___c'>"));
	/* no resource: a fixed id */
	fg_buf_reset(&b);
	in.resource = NULL;
	assert_int_equal(xlate_pidf_build(&in, "pres:juliet@example.com", NULL, &b), FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&b), "<tuple id='t1'>"));
	/* note 6: a negative priority is never mapped; 0..127 -> 0..1 */
	fg_buf_reset(&b);
	in.has_priority = true;
	in.priority = -5;
	assert_int_equal(xlate_pidf_build(&in, "pres:j@example.com", "sip:j@example.com", &b),
	                 FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&b), "<contact>sip:j@example.com</contact>"));
	assert_null(strstr(fg_buf_cstr(&b), "priority="));
	static const struct {
		int xmpp;
		const char *pidf;
	} prio[] = {{0, "0.000"}, {1, "0.008"}, {2, "0.016"}, {126, "0.992"}, {127, "1.000"}};
	for (size_t i = 0; i < sizeof(prio) / sizeof(prio[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "<contact priority='%s'>", prio[i].pidf);
		fg_buf_reset(&b);
		in.priority = prio[i].xmpp;
		assert_int_equal(
		    xlate_pidf_build(&in, "pres:j@example.com", "sip:j@example.com", &b), FG_OK);
		assert_non_null(strstr(fg_buf_cstr(&b), want));
		struct xlate_presence out;
		assert_int_equal(xlate_pidf_parse(b.data, b.len, &out, NULL), FG_OK);
		assert_int_equal(out.priority, prio[i].xmpp);
		xlate_presence_clear(&out);
	}
	/* closed: no show */
	fg_buf_reset(&b);
	in.available = false;
	assert_int_equal(xlate_pidf_build(&in, "pres:j@example.com", NULL, &b), FG_OK);
	assert_non_null(strstr(fg_buf_cstr(&b), "<status><basic>closed</basic></status>"));
	assert_null(strstr(fg_buf_cstr(&b), "jabber:client"));
	fg_buf_free(&b);
}

static void t_rpid_activities(void **st)
{
	static const struct {
		const char *activity;
		enum xlate_show show;
	} rows[] = {{"busy", XLATE_SHOW_DND},
	            {"on-the-phone", XLATE_SHOW_DND},
	            {"vacation", XLATE_SHOW_XA},
	            {"away", XLATE_SHOW_AWAY},
	            {"breakfast", XLATE_SHOW_NONE}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char doc[1024];
		snprintf(doc, sizeof(doc),
		         "<presence xmlns='urn:ietf:params:xml:ns:pidf' "
		         "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
		         "xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' entity='pres:a@b'>"
		         "<tuple id='t'><status><basic>open</basic></status></tuple>"
		         "<dm:person id='p'><rpid:activities><rpid:%s/></rpid:activities>"
		         "<dm:note>person note</dm:note></dm:person></presence>",
		         rows[i].activity);
		struct xlate_presence p;
		assert_int_equal(parse(doc, &p, NULL), FG_OK);
		assert_int_equal(p.show, rows[i].show);
		assert_string_equal(p.status, "person note");
		assert_false(p.has_priority);
		xlate_presence_clear(&p);
	}
}

static void t_pidf_refused(void **st)
{
	static const char *const bad[] = {
	    "<?xml version='1.0'?><!DOCTYPE presence [<!ENTITY a 'aaaa'>]>"
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf'/>",
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf'><?pi x?></presence>",
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf'><!-- c --></presence>",
	    "<presence xmlns='urn:example:other'/>",
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='t'><status>"
	    "<basic>maybe</basic></status></tuple></presence>",
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='t'>"
	    "<contact priority='2'>sip:a@b</contact></tuple></presence>",
	    "<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple>",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xlate_presence p;
		const char *why = NULL;
		enum fg_err e = parse(bad[i], &p, &why);
		if (!e)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_not_equal(e, FG_OK);
		assert_non_null(why);
	}
	/* deep nesting refused */
	struct fg_buf b = {0};
	fg_buf_append_str(&b, "<presence xmlns='urn:ietf:params:xml:ns:pidf'>");
	for (int i = 0; i < 40; i++)
		fg_buf_append_str(&b, "<x>");
	for (int i = 0; i < 40; i++)
		fg_buf_append_str(&b, "</x>");
	fg_buf_append_str(&b, "</presence>");
	struct xlate_presence p;
	assert_int_equal(xlate_pidf_parse(b.data, b.len, &p, NULL), FG_ERR_PARSE);
	/* over-long note refused, not cut */
	fg_buf_reset(&b);
	fg_buf_append_str(&b, "<presence xmlns='urn:ietf:params:xml:ns:pidf'><note>");
	for (int i = 0; i < XLATE_MAX_NOTE + 1; i++)
		fg_buf_append_str(&b, "n");
	fg_buf_append_str(&b, "</note></presence>");
	assert_int_equal(xlate_pidf_parse(b.data, b.len, &p, NULL), FG_ERR_PARSE);
	fg_buf_free(&b);
}

/* ---- subscription table: one test per row ---- */

static void t_sub_row(void **st)
{
	const struct xlate_sub_row *r = &xlate_sub_table[(size_t)(uintptr_t)*st];
	assert_ptr_equal(xlate_sub_to_sip(r->xmpp), r);
	/* what the SIP side sends comes back as the same XMPP type */
	enum xlate_sub back;
	char state[64];
	if (r->state)
		snprintf(state, sizeof(state), "%s%s%s", r->state, r->reason ? ";reason=" : "",
		         r->reason ? r->reason : "");
	long expires = r->expires;
	bool exists = r->xmpp == XLATE_SUB_UNSUBSCRIBE;
	assert_true(
	    xlate_sub_from_sip(r->sip_method, expires, r->state ? state : NULL, exists, &back));
	/* RFC 8048 §5.3.3: the one row that is not symmetric. A SIP Expires 0 in the dialog
	 * ends the notification dialog ('unavailable'); the authorization stays */
	assert_int_equal(back, r->xmpp == XLATE_SUB_UNSUBSCRIBE ? XLATE_SUB_END_DIALOG : r->xmpp);
}

static void t_sub_from_sip(void **st)
{
	enum xlate_sub s;
	assert_true(xlate_sub_from_sip("SUBSCRIBE", 3600, NULL, false, &s));
	assert_int_equal(s, XLATE_SUB_SUBSCRIBE);
	assert_true(xlate_sub_from_sip("SUBSCRIBE", -1, NULL, true, &s));
	assert_int_equal(s, XLATE_SUB_SUBSCRIBE);
	assert_true(xlate_sub_from_sip("NOTIFY", -1, "active;expires=600", true, &s));
	assert_int_equal(s, XLATE_SUB_SUBSCRIBED);
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "pending;expires=600", true, &s));
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=timeout", true, &s));
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=deactivated", true, &s));
	assert_true(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=noresource", true, &s));
	assert_int_equal(s, XLATE_SUB_UNSUBSCRIBED);
	assert_true(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=invariant", true, &s));
	assert_int_equal(s, XLATE_SUB_UNSUBSCRIBED);
	assert_true(xlate_sub_from_sip("NOTIFY", -1, "terminated; Reason = rejected", true, &s));
	assert_int_equal(s, XLATE_SUB_UNSUBSCRIBED);
	/* RFC 6665 §4.1.3: no reason or an unknown one allows a new subscription */
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "terminated", true, &s));
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=moved", true, &s));
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=probation;retry-after=30",
	                                true, &s));
	assert_false(xlate_sub_from_sip("NOTIFY", -1, "terminated;reason=giveup", true, &s));
	/* RFC 8048 §5.3.3: Expires 0 in a dialog ends it, outside one it is a fetch (§7.2) */
	assert_true(xlate_sub_from_sip("SUBSCRIBE", 0, NULL, true, &s));
	assert_int_equal(s, XLATE_SUB_END_DIALOG);
	assert_string_equal(xlate_sub_name(s), "unavailable");
	assert_true(xlate_sub_from_sip("SUBSCRIBE", 0, NULL, false, &s));
	assert_int_equal(s, XLATE_SUB_PROBE);
	/* retry-after (RFC 6665 §4.1.3) */
	assert_int_equal(xlate_sub_retry_after("terminated;reason=probation;retry-after=30"), 30);
	assert_int_equal(xlate_sub_retry_after("terminated;retry-after=30;reason=giveup"), 30);
	assert_int_equal(xlate_sub_retry_after("terminated;reason=giveup"), -1);
	assert_int_equal(xlate_sub_retry_after("terminated;retry-after=x"), -1);
	assert_int_equal(xlate_sub_retry_after("terminated;retry-after=-5"), -1);
	assert_int_equal(xlate_sub_retry_after("terminated;retry-after=99999999"),
	                 XLATE_SUB_MAX_RETRY_AFTER);
	assert_false(xlate_sub_from_sip("NOTIFY", -1, NULL, true, &s));
	assert_false(xlate_sub_from_sip("MESSAGE", -1, NULL, true, &s));
	assert_string_equal(xlate_sub_name(XLATE_SUB_PROBE), "probe");
}

/* ---- chat states: one test per XEP-0085 state ---- */

static void t_chatstate_row(void **st)
{
	enum xlate_chatstate cs = (enum xlate_chatstate)(uintptr_t)*st;
	struct fg_buf b = {0};
	enum xlate_chatstate back;
	assert_int_equal(xlate_chatstate_to_iscomposing(cs, &b), FG_OK);
	assert_int_equal(xlate_chatstate_from_iscomposing(b.data, b.len, &back, NULL), FG_OK);
	/* RFC 3994 has two states: composing <-> active, everything else -> idle, and idle ->
	 * active (RFC 7573 §6 Tables 3 and 4) */
	assert_int_equal(back, cs == XLATE_CS_COMPOSING ? XLATE_CS_COMPOSING : XLATE_CS_ACTIVE);
	if (cs == XLATE_CS_COMPOSING)
		assert_non_null(strstr(fg_buf_cstr(&b), "<refresh>90</refresh>"));
	fg_buf_free(&b);
}

/* RFC 3994 §3.3: the receiver's timeout is the last active's <refresh>, 120 s without one */
static void t_iscomposing_refresh(void **st)
{
	(void)st;
	static const struct {
		const char *refresh; /* NULL: no element */
		long want;
	} rows[] = {
	    {NULL, -1},
	    {"90", 90},
	    {" 2\n", 2}, /* XML whitespace around it */
	    {"1", 1},
	    {"0", -1}, /* xs:positiveInteger */
	    {"-5", -1},
	    {"1.5", -1},
	    {"1 5", -1}, /* one number, not two */
	    {"", -1},
	    {"86400", XLATE_ISCOMPOSING_REFRESH_MAX}, /* capped */
	    {"99999999999999999999", -1},             /* longer than any count of seconds */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char doc[512];
		snprintf(doc, sizeof(doc),
		         "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'>"
		         "<state>active</state>%s%s%s</isComposing>",
		         rows[i].refresh ? "<refresh>" : "", rows[i].refresh ? rows[i].refresh : "",
		         rows[i].refresh ? "</refresh>" : "");
		enum xlate_chatstate cs;
		long refresh = 12345;
		assert_int_equal(
		    xlate_iscomposing_parse((const uint8_t *)doc, strlen(doc), &cs, &refresh, NULL),
		    FG_OK);
		assert_int_equal(cs, XLATE_CS_COMPOSING);
		assert_int_equal(refresh, rows[i].want);
	}
	/* a <refresh> not in the isComposing namespace, or nested deeper, is not the one */
	static const char other[] = "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'>"
	                            "<state>active</state><x><refresh>5</refresh></x>"
	                            "<refresh xmlns='urn:x'>7</refresh></isComposing>";
	enum xlate_chatstate cs;
	long refresh = 0;
	assert_int_equal(
	    xlate_iscomposing_parse((const uint8_t *)other, sizeof(other) - 1, &cs, &refresh, NULL),
	    FG_OK);
	assert_int_equal(refresh, -1);
}

static void t_iscomposing_states(void **st)
{
	static const struct {
		const char *state;
		enum xlate_chatstate want;
	} rows[] = {
	    {"active", XLATE_CS_COMPOSING},
	    {"\n  active \n", XLATE_CS_COMPOSING}, /* XML whitespace around the token */
	    {"idle", XLATE_CS_ACTIVE},
	    /* RFC 3994 §3.5: any other token is idle */
	    {"typing", XLATE_CS_ACTIVE},
	    {"Active", XLATE_CS_ACTIVE},
	    {"", XLATE_CS_ACTIVE},
	    {"activeactiveactiveactiveactiveactiveactiveactiveactiveactiveactiveactive",
	     XLATE_CS_ACTIVE},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char doc[256];
		snprintf(doc, sizeof(doc),
		         "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'><state>%s"
		         "</state><refresh>60</refresh></isComposing>",
		         rows[i].state);
		enum xlate_chatstate cs = XLATE_CS_GONE;
		assert_int_equal(
		    xlate_chatstate_from_iscomposing((const uint8_t *)doc, strlen(doc), &cs, NULL),
		    FG_OK);
		assert_int_equal(cs, rows[i].want);
	}
}

static void t_iscomposing_refused(void **st)
{
	static const char *const bad[] = {
	    "<isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'/>",
	    "<isComposing><state>active</state></isComposing>",
	    "<!DOCTYPE x><isComposing xmlns='urn:ietf:params:xml:ns:im-iscomposing'/>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum xlate_chatstate cs;
		const char *why = NULL;
		assert_int_not_equal(xlate_chatstate_from_iscomposing((const uint8_t *)bad[i],
		                                                      strlen(bad[i]), &cs, &why),
		                     FG_OK);
		assert_non_null(why);
	}
}

int main(void)
{
	struct CMUnitTest tests[64];
	static char names[32][48];
	size_t n = 0, k = 0;
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_pidf_basic);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_pidf_closed_with_note);
	for (int s = XLATE_SHOW_NONE; s <= XLATE_SHOW_XA; s++, k++) {
		snprintf(names[k], sizeof(names[k]), "show_%s",
		         xlate_show_name((enum xlate_show)s) ? xlate_show_name((enum xlate_show)s)
		                                             : "none");
		tests[n++] =
		    (struct CMUnitTest){names[k], t_show_row, NULL, NULL, (void *)(uintptr_t)s};
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_rfc8048_example4);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_pidf_build_rows);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_rpid_activities);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_pidf_refused);
	for (size_t i = 0; i < xlate_sub_table_len; i++, k++) {
		snprintf(names[k], sizeof(names[k]), "sub_%s",
		         xlate_sub_name(xlate_sub_table[i].xmpp));
		tests[n++] =
		    (struct CMUnitTest){names[k], t_sub_row, NULL, NULL, (void *)(uintptr_t)i};
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_sub_from_sip);
	for (int c = XLATE_CS_ACTIVE; c <= XLATE_CS_GONE; c++, k++) {
		snprintf(names[k], sizeof(names[k]), "chatstate_%s",
		         xlate_chatstate_name((enum xlate_chatstate)c));
		tests[n++] = (struct CMUnitTest){names[k], t_chatstate_row, NULL, NULL,
		                                 (void *)(uintptr_t)c};
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_iscomposing_states);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_iscomposing_refresh);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(t_iscomposing_refused);
	return _cmocka_run_group_tests("xlate_pres", tests, n, NULL, NULL);
}
