/* Unit tests: RFC 7247 §7 error tables, one test per row, written from the RFC text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xlate/xlate.h"

/* RFC 7247 §7.2 Table 3, as text: code, condition, type. Types are RFC 6120 §8.3.3's
 * (503: wait, see xlate_err.c). The class rows are checked with codes the table does not
 * list (§7.2: 3xx redirect, 4xx bad-request, 5xx internal-server-error, 6xx
 * recipient-unavailable). */
static const struct {
	unsigned code;
	const char *cond;
	const char *type;
	int is_class;
} sip_rows[] = {
    {300, "redirect", "modify", 0},
    {301, "gone", "cancel", 0},
    {302, "redirect", "modify", 0},
    {305, "redirect", "modify", 0},
    {380, "not-acceptable", "modify", 0},
    {303, "redirect", "modify", 1}, /* 3xx */
    {399, "redirect", "modify", 1}, /* 3xx */
    {400, "bad-request", "modify", 0},
    {401, "not-authorized", "auth", 0},
    {402, "bad-request", "modify", 0},
    {403, "forbidden", "auth", 0},
    {404, "item-not-found", "cancel", 0},
    {405, "feature-not-implemented", "cancel", 0},
    {406, "not-acceptable", "modify", 0},
    {407, "registration-required", "auth", 0},
    {408, "remote-server-timeout", "wait", 0},
    {410, "gone", "cancel", 0},
    {413, "policy-violation", "modify", 0},
    {414, "policy-violation", "modify", 0},
    {415, "not-acceptable", "modify", 0},
    {416, "not-acceptable", "modify", 0},
    {420, "feature-not-implemented", "cancel", 0},
    {421, "not-acceptable", "modify", 0},
    {423, "resource-constraint", "wait", 0},
    {430, "recipient-unavailable", "wait", 0},
    {439, "feature-not-implemented", "cancel", 0},
    {440, "policy-violation", "modify", 0},
    {480, "recipient-unavailable", "wait", 0},
    {481, "item-not-found", "cancel", 0},
    {482, "not-acceptable", "modify", 0},
    {483, "not-acceptable", "modify", 0},
    {484, "item-not-found", "cancel", 0},
    {485, "item-not-found", "cancel", 0},
    {486, "recipient-unavailable", "wait", 0},
    {487, "recipient-unavailable", "wait", 0},
    {488, "not-acceptable", "modify", 0},
    {489, "policy-violation", "modify", 0},
    {491, "unexpected-request", "wait", 0},
    {493, "bad-request", "modify", 0},
    {409, "bad-request", "modify", 1}, /* 4xx */
    {433, "bad-request", "modify", 1}, /* 4xx: not in Table 3 */
    {494, "bad-request", "modify", 1}, /* 4xx */
    {499, "bad-request", "modify", 1}, /* 4xx */
    {500, "internal-server-error", "cancel", 0},
    {501, "feature-not-implemented", "cancel", 0},
    {502, "remote-server-not-found", "cancel", 0},
    {503, "internal-server-error", "wait", 0},
    {504, "remote-server-timeout", "wait", 0},
    {505, "not-acceptable", "modify", 0},
    {513, "policy-violation", "modify", 0},
    {580, "internal-server-error", "cancel", 1}, /* 5xx */
    {599, "internal-server-error", "cancel", 1}, /* 5xx */
    {600, "recipient-unavailable", "wait", 0},
    {603, "recipient-unavailable", "wait", 0},
    {604, "item-not-found", "cancel", 0},
    {606, "not-acceptable", "modify", 0},
    {607, "recipient-unavailable", "wait", 1}, /* 6xx */
    {699, "recipient-unavailable", "wait", 1}, /* 6xx */
};

/* RFC 7247 §7.1 Table 2, as text: condition, code for a full JID, code for a bare JID
 * (notes 1 and 2: 4xx / 6xx, 405 / 501), code when <gone/> carries a new address. */
static const struct {
	const char *cond;
	unsigned full, bare, moved;
} xmpp_rows[] = {
    {"bad-request", 400, 400, 400},
    {"conflict", 400, 400, 400},
    {"feature-not-implemented", 405, 501, 405},
    {"forbidden", 403, 603, 403},
    {"gone", 410, 410, 301},
    {"internal-server-error", 500, 500, 500},
    {"item-not-found", 404, 604, 404},
    {"jid-malformed", 400, 400, 400},
    {"not-acceptable", 406, 606, 406},
    {"not-allowed", 403, 403, 403},
    {"not-authorized", 401, 401, 401},
    {"policy-violation", 403, 403, 403},
    {"recipient-unavailable", 480, 600, 480},
    {"redirect", 302, 302, 302},
    {"registration-required", 407, 407, 407},
    {"remote-server-not-found", 404, 404, 404},
    {"remote-server-timeout", 408, 408, 408},
    {"resource-constraint", 500, 500, 500},
    {"service-unavailable", 403, 403, 403}, /* note 5: never 503 */
    {"subscription-required", 400, 400, 400},
    {"undefined-condition", 400, 400, 400},
    {"unexpected-request", 400, 400, 400}, /* "491 or 400" */
};

#define N_SIP  (sizeof(sip_rows) / sizeof(sip_rows[0]))
#define N_XMPP (sizeof(xmpp_rows) / sizeof(xmpp_rows[0]))

static void t_sip_row(void **st)
{
	size_t i = (size_t)(uintptr_t)*st;
	enum xlate_stanza_error cond;
	enum xlate_error_type type;
	assert_true(xlate_error_from_sip(sip_rows[i].code, &cond, &type));
	assert_string_equal(xlate_stanza_error_name(cond), sip_rows[i].cond);
	assert_string_equal(xlate_error_type_name(type), sip_rows[i].type);
	/* a listed code has its own row; a class code has none */
	int own = 0;
	for (size_t j = 0; j < xlate_sip_to_xmpp_table_len; j++)
		own += !xlate_sip_to_xmpp_table[j].is_class &&
		       xlate_sip_to_xmpp_table[j].code == sip_rows[i].code;
	assert_int_equal(own, !sip_rows[i].is_class);
}

static void t_xmpp_row(void **st)
{
	size_t i = (size_t)(uintptr_t)*st;
	enum xlate_stanza_error cond;
	assert_true(xlate_stanza_error_parse(xmpp_rows[i].cond, &cond));
	assert_string_equal(xlate_stanza_error_name(cond), xmpp_rows[i].cond);
	assert_int_equal(xlate_error_to_sip(cond), xmpp_rows[i].full);
	assert_int_equal(xlate_error_to_sip_for(cond, false, false), xmpp_rows[i].full);
	assert_int_equal(xlate_error_to_sip_for(cond, true, false), xmpp_rows[i].bare);
	assert_int_equal(xlate_error_to_sip_for(cond, false, true), xmpp_rows[i].moved);
}

static void t_tables_complete(void **st)
{
	(void)st;
	/* every condition of RFC 6120 §8.3.3 has one row, and every row a test */
	assert_int_equal(XLATE_ERR__COUNT, 22);
	assert_int_equal(xlate_xmpp_to_sip_table_len, XLATE_ERR__COUNT);
	assert_int_equal(xlate_xmpp_to_sip_table_len, N_XMPP);
	size_t listed = 0, classes = 0, tested = 0;
	for (size_t i = 0; i < xlate_sip_to_xmpp_table_len; i++) {
		const struct xlate_sip_to_xmpp_row *r = &xlate_sip_to_xmpp_table[i];
		if (r->is_class) {
			classes++;
			assert_int_equal(r->code % 100, 0);
		} else {
			listed++;
		}
	}
	for (size_t i = 0; i < N_SIP; i++)
		tested += !sip_rows[i].is_class;
	assert_int_equal(classes, 4); /* 3xx 4xx 5xx 6xx */
	assert_int_equal(listed, tested);
}

static void t_outside_tables(void **st)
{
	(void)st;
	enum xlate_stanza_error cond = XLATE_ERR_CONFLICT;
	enum xlate_error_type type = XLATE_TYPE_AUTH;
	/* RFC 7247 §7: nothing for 1xx and 2xx; past 699 is no SIP status */
	assert_false(xlate_error_from_sip(100, &cond, &type));
	assert_false(xlate_error_from_sip(180, &cond, &type));
	assert_false(xlate_error_from_sip(200, &cond, &type));
	assert_false(xlate_error_from_sip(299, &cond, &type));
	assert_false(xlate_error_from_sip(700, &cond, &type));
	assert_false(xlate_error_from_sip(0, &cond, &type));
	assert_int_equal(cond, XLATE_ERR_CONFLICT); /* untouched */
	assert_int_equal(type, XLATE_TYPE_AUTH);
	assert_false(xlate_stanza_error_parse("no-such-condition", &cond));
	assert_false(xlate_stanza_error_parse("payment-required", &cond)); /* left RFC 6120 */
	/* RFC 6120 §8.3.2: an unknown condition counts as undefined-condition (400) */
	assert_int_equal(xlate_error_to_sip(XLATE_ERR__COUNT), 400);
	assert_string_equal(xlate_stanza_error_name(XLATE_ERR__COUNT), "undefined-condition");
	assert_string_equal(xlate_error_type_name(XLATE_TYPE_CONTINUE), "continue");
}

int main(void)
{
	struct CMUnitTest *tests = calloc(N_SIP + N_XMPP + 2, sizeof(*tests));
	char(*names)[64] = calloc(N_SIP + N_XMPP, 64);
	if (tests == NULL || names == NULL)
		return 1;
	size_t n = 0;
	for (size_t i = 0; i < N_SIP; i++, n++) {
		snprintf(names[n], 64, "sip_%u%s_to_%s", sip_rows[i].code,
		         sip_rows[i].is_class ? "_class" : "", sip_rows[i].cond);
		tests[n] =
		    (struct CMUnitTest){names[n], t_sip_row, NULL, NULL, (void *)(uintptr_t)i};
	}
	for (size_t i = 0; i < N_XMPP; i++, n++) {
		snprintf(names[n], 64, "xmpp_%s_to_%u", xmpp_rows[i].cond, xmpp_rows[i].full);
		tests[n] =
		    (struct CMUnitTest){names[n], t_xmpp_row, NULL, NULL, (void *)(uintptr_t)i};
	}
	tests[n++] = (struct CMUnitTest){"tables_complete", t_tables_complete, NULL, NULL, NULL};
	tests[n++] = (struct CMUnitTest){"outside_tables", t_outside_tables, NULL, NULL, NULL};
	int rc = _cmocka_run_group_tests("xlate_err", tests, n, NULL, NULL);
	free(tests);
	free(names);
	return rc;
}
