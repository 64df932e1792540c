/* Unit tests: RFC 7247 §5 error tables, one test per row, checked against the RFC text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xlate/xlate.h"

/* RFC 7247 §5 Table 2, as text: code, condition, type (RFC 6120 §8.3.3 default). */
static const struct {
	unsigned code;
	const char *cond;
	const char *type;
} sip_rows[] = {
    {300, "redirect", "modify"},
    {301, "gone", "cancel"},
    {302, "redirect", "modify"},
    {305, "redirect", "modify"},
    {380, "redirect", "modify"},
    {399, "redirect", "modify"}, /* 3xx class */
    {400, "bad-request", "modify"},
    {401, "not-authorized", "auth"},
    {402, "bad-request", "modify"},
    {403, "forbidden", "auth"},
    {404, "item-not-found", "cancel"},
    {405, "feature-not-implemented", "cancel"},
    {406, "not-acceptable", "modify"},
    {407, "not-authorized", "auth"},
    {408, "remote-server-timeout", "wait"},
    {410, "gone", "cancel"},
    {413, "policy-violation", "modify"},
    {414, "jid-malformed", "modify"},
    {415, "not-acceptable", "modify"},
    {416, "jid-malformed", "modify"},
    {420, "feature-not-implemented", "cancel"},
    {421, "not-acceptable", "modify"},
    {423, "resource-constraint", "wait"},
    {430, "recipient-unavailable", "wait"},
    {433, "policy-violation", "modify"},
    {480, "recipient-unavailable", "wait"},
    {481, "item-not-found", "cancel"},
    {482, "not-acceptable", "modify"},
    {483, "not-acceptable", "modify"},
    {484, "item-not-found", "cancel"},
    {485, "item-not-found", "cancel"},
    {486, "recipient-unavailable", "wait"},
    {487, "service-unavailable", "cancel"},
    {488, "not-acceptable", "modify"},
    {491, "unexpected-request", "wait"},
    {493, "bad-request", "modify"},
    {499, "service-unavailable", "cancel"}, /* 4xx class */
    {500, "internal-server-error", "cancel"},
    {501, "feature-not-implemented", "cancel"},
    {502, "remote-server-not-found", "cancel"},
    {503, "service-unavailable", "cancel"},
    {504, "remote-server-timeout", "wait"},
    {505, "not-acceptable", "modify"},
    {513, "policy-violation", "modify"},
    {580, "internal-server-error", "cancel"}, /* 5xx class */
    {600, "service-unavailable", "cancel"},
    {603, "service-unavailable", "cancel"},
    {604, "item-not-found", "cancel"},
    {606, "not-acceptable", "modify"},
    {699, "service-unavailable", "cancel"}, /* 6xx class */
};

/* RFC 7247 §5 Table 1, as text. */
static const struct {
	const char *cond;
	unsigned code;
} xmpp_rows[] = {
    {"bad-request", 400},
    {"conflict", 400},
    {"feature-not-implemented", 405},
    {"forbidden", 403},
    {"gone", 301},
    {"internal-server-error", 500},
    {"item-not-found", 404},
    {"jid-malformed", 400},
    {"not-acceptable", 406},
    {"not-allowed", 403},
    {"not-authorized", 401},
    {"policy-violation", 403},
    {"recipient-unavailable", 480},
    {"redirect", 302},
    {"registration-required", 400},
    {"remote-server-not-found", 404},
    {"remote-server-timeout", 408},
    {"resource-constraint", 500},
    {"service-unavailable", 503},
    {"subscription-required", 400},
    {"undefined-condition", 400},
    {"unexpected-request", 491},
};

static void t_sip_row(void **st)
{
	size_t i = (size_t)(uintptr_t)*st;
	enum xlate_stanza_error cond;
	enum xlate_error_type type;
	assert_true(xlate_error_from_sip(sip_rows[i].code, &cond, &type));
	assert_string_equal(xlate_stanza_error_name(cond), sip_rows[i].cond);
	assert_string_equal(xlate_error_type_name(type), sip_rows[i].type);
}

static void t_xmpp_row(void **st)
{
	size_t i = (size_t)(uintptr_t)*st;
	enum xlate_stanza_error cond;
	assert_true(xlate_stanza_error_parse(xmpp_rows[i].cond, &cond));
	assert_int_equal(xlate_error_to_sip(cond), xmpp_rows[i].code);
}

static void t_tables_complete(void **st)
{
	/* every table row is covered by a test row and every condition has a SIP code */
	assert_int_equal(xlate_xmpp_to_sip_table_len, XLATE_ERR__COUNT);
	assert_int_equal(xlate_xmpp_to_sip_table_len, sizeof(xmpp_rows) / sizeof(xmpp_rows[0]));
	size_t listed = 0;
	for (size_t i = 0; i < xlate_sip_to_xmpp_table_len; i++)
		listed += !xlate_sip_to_xmpp_table[i].is_class;
	assert_int_equal(listed + 4, sizeof(sip_rows) / sizeof(sip_rows[0]));
	enum xlate_stanza_error cond;
	enum xlate_error_type type;
	assert_false(xlate_error_from_sip(200, &cond, &type));
	assert_false(xlate_error_from_sip(180, &cond, &type));
	assert_false(xlate_error_from_sip(700, &cond, &type));
	assert_false(xlate_stanza_error_parse("no-such-condition", &cond));
}

int main(void)
{
	size_t ns = sizeof(sip_rows) / sizeof(sip_rows[0]);
	size_t nx = sizeof(xmpp_rows) / sizeof(xmpp_rows[0]);
	struct CMUnitTest *tests = calloc(ns + nx + 1, sizeof(*tests));
	char(*names)[64] = calloc(ns + nx, 64);
	size_t n = 0;
	for (size_t i = 0; i < ns; i++, n++) {
		snprintf(names[n], 64, "sip_%u_to_%s", sip_rows[i].code, sip_rows[i].cond);
		tests[n] =
		    (struct CMUnitTest){names[n], t_sip_row, NULL, NULL, (void *)(uintptr_t)i};
	}
	for (size_t i = 0; i < nx; i++, n++) {
		snprintf(names[n], 64, "xmpp_%s_to_%u", xmpp_rows[i].cond, xmpp_rows[i].code);
		tests[n] =
		    (struct CMUnitTest){names[n], t_xmpp_row, NULL, NULL, (void *)(uintptr_t)i};
	}
	tests[n++] = (struct CMUnitTest){"tables_complete", t_tables_complete, NULL, NULL, NULL};
	int rc = _cmocka_run_group_tests("xlate_err", tests, n, NULL, NULL);
	free(tests);
	free(names);
	return rc;
}
