/* Unit tests of policy verdicts (seed 003): default, exceptions, wildcards, directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static struct db_policy_rule rule(const char *id, const char *pattern, bool allow,
                                  enum db_direction dir)
{
	struct db_policy_rule r;
	memset(&r, 0, sizeof(r));
	fg_strlcpy(r.id, id, sizeof(r.id));
	fg_strlcpy(r.pattern, pattern, sizeof(r.pattern));
	r.allow = allow;
	r.direction = dir;
	return r;
}

static void check(const struct policy *p, const char *domain, enum policy_direction dir, bool allow,
                  const char *rule_text, const char *rule_id)
{
	struct policy_verdict v;
	policy_check(p, domain, dir, &v);
	assert_int_equal(v.allow, allow);
	assert_string_equal(v.rule, rule_text);
	if (rule_id == NULL)
		assert_null(v.rule_id);
	else
		assert_string_equal(v.rule_id, rule_id);
}

static void test_defaults(void **state)
{
	(void)state;
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, true, NULL, 0), FG_OK);
	check(p, "example.com", POLICY_INCOMING, true, "default allow", NULL);
	check(p, "example.com", POLICY_OUTGOING, true, "default allow", NULL);
	policy_free(p);
	assert_int_equal(policy_new(&p, false, NULL, 0), FG_OK);
	check(p, "example.com", POLICY_INCOMING, false, "default deny", NULL);
	check(p, "example.com", POLICY_OUTGOING, false, "default deny", NULL);
	policy_free(p);
	policy_free(NULL);
	/* No policy at all fails closed. */
	struct policy_verdict v;
	policy_check(NULL, "example.com", POLICY_INCOMING, &v);
	assert_false(v.allow);
	assert_int_equal(policy_new(NULL, true, NULL, 0), FG_ERR_INVAL);
	assert_int_equal(policy_new(&p, true, NULL, 3), FG_ERR_INVAL);
}

static void test_default_deny_with_exception(void **state)
{
	(void)state;
	struct db_policy_rule r[] = {rule("r1", "partner.example", true, DB_DIR_BOTH)};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, false, r, 1), FG_OK);
	check(p, "partner.example", POLICY_INCOMING, true,
	      "partner.example (allow, both directions)", "r1");
	check(p, "partner.example", POLICY_OUTGOING, true,
	      "partner.example (allow, both directions)", "r1");
	check(p, "sub.partner.example", POLICY_INCOMING, false, "default deny", NULL);
	check(p, "other.example", POLICY_OUTGOING, false, "default deny", NULL);
	check(p, "xpartner.example", POLICY_OUTGOING, false, "default deny", NULL);
	policy_free(p);
}

static void test_wildcard(void **state)
{
	(void)state;
	struct db_policy_rule r[] = {rule("w", "*.example.com", false, DB_DIR_BOTH)};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, true, r, 1), FG_OK);
	const char *text = "*.example.com (deny, both directions)";
	check(p, "example.com", POLICY_INCOMING, false, text, "w");
	check(p, "a.example.com", POLICY_INCOMING, false, text, "w");
	check(p, "a.b.example.com", POLICY_OUTGOING, false, text, "w");
	check(p, "badexample.com", POLICY_OUTGOING, true, "default allow", NULL);
	check(p, "example.com.evil", POLICY_OUTGOING, true, "default allow", NULL);
	check(p, "com", POLICY_OUTGOING, true, "default allow", NULL);
	policy_free(p);
}

static void test_exact_beats_wildcard(void **state)
{
	(void)state;
	/* Order in the list must not matter: try both orders. */
	struct db_policy_rule a[] = {rule("w", "*.example.com", false, DB_DIR_BOTH),
	                             rule("e", "chat.example.com", true, DB_DIR_BOTH)};
	struct db_policy_rule b[] = {a[1], a[0]};
	for (int k = 0; k < 2; k++) {
		struct policy *p = NULL;
		assert_int_equal(policy_new(&p, true, k == 0 ? a : b, 2), FG_OK);
		check(p, "chat.example.com", POLICY_INCOMING, true,
		      "chat.example.com (allow, both directions)", "e");
		check(p, "mail.example.com", POLICY_INCOMING, false,
		      "*.example.com (deny, both directions)", "w");
		policy_free(p);
	}
}

static void test_longer_wildcard_wins(void **state)
{
	(void)state;
	struct db_policy_rule a[] = {rule("short", "*.example.com", false, DB_DIR_BOTH),
	                             rule("long", "*.eu.example.com", true, DB_DIR_BOTH)};
	struct db_policy_rule b[] = {a[1], a[0]};
	for (int k = 0; k < 2; k++) {
		struct policy *p = NULL;
		assert_int_equal(policy_new(&p, false, k == 0 ? a : b, 2), FG_OK);
		check(p, "x.eu.example.com", POLICY_OUTGOING, true,
		      "*.eu.example.com (allow, both directions)", "long");
		check(p, "eu.example.com", POLICY_OUTGOING, true,
		      "*.eu.example.com (allow, both directions)", "long");
		check(p, "us.example.com", POLICY_OUTGOING, false,
		      "*.example.com (deny, both directions)", "short");
		policy_free(p);
	}
}

static void test_directions(void **state)
{
	(void)state;
	struct db_policy_rule r[] = {rule("in", "in.example", true, DB_DIR_INCOMING),
	                             rule("out", "out.example", true, DB_DIR_OUTGOING),
	                             rule("wi", "*.mixed.example", false, DB_DIR_INCOMING)};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, false, r, 3), FG_OK);
	check(p, "in.example", POLICY_INCOMING, true, "in.example (allow, incoming only)", "in");
	check(p, "in.example", POLICY_OUTGOING, false, "default deny", NULL);
	check(p, "out.example", POLICY_OUTGOING, true, "out.example (allow, outgoing only)", "out");
	check(p, "out.example", POLICY_INCOMING, false, "default deny", NULL);
	policy_free(p);

	/* Default allow; a wildcard deny for incoming only. */
	assert_int_equal(policy_new(&p, true, r + 2, 1), FG_OK);
	check(p, "a.mixed.example", POLICY_INCOMING, false, "*.mixed.example (deny, incoming only)",
	      "wi");
	check(p, "a.mixed.example", POLICY_OUTGOING, true, "default allow", NULL);
	policy_free(p);
}

static void test_tie_breaks(void **state)
{
	(void)state;
	/* Same pattern: the one-direction rule beats the both-directions rule. */
	struct db_policy_rule r[] = {rule("both", "x.example", false, DB_DIR_BOTH),
	                             rule("in", "x.example", true, DB_DIR_INCOMING)};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, true, r, 2), FG_OK);
	check(p, "x.example", POLICY_INCOMING, true, "x.example (allow, incoming only)", "in");
	check(p, "x.example", POLICY_OUTGOING, false, "x.example (deny, both directions)", "both");
	policy_free(p);
	/* Same pattern, same direction, contradicting verdicts: deny wins. */
	struct db_policy_rule t[] = {rule("a", "y.example", true, DB_DIR_BOTH),
	                             rule("d", "y.example", false, DB_DIR_BOTH)};
	assert_int_equal(policy_new(&p, true, t, 2), FG_OK);
	check(p, "y.example", POLICY_INCOMING, false, "y.example (deny, both directions)", "d");
	policy_free(p);
}

static void test_case_and_dots(void **state)
{
	(void)state;
	struct db_policy_rule r[] = {rule("e", "Partner.Example", true, DB_DIR_BOTH),
	                             rule("w", "*.WILD.example", true, DB_DIR_BOTH),
	                             rule("ip", "2001:db8::1", true, DB_DIR_BOTH),
	                             rule("ip4", "192.0.2.7", true, DB_DIR_BOTH)};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, false, r, 4), FG_OK);
	check(p, "PARTNER.example", POLICY_INCOMING, true,
	      "Partner.Example (allow, both directions)", "e");
	check(p, "partner.example.", POLICY_INCOMING, true,
	      "Partner.Example (allow, both directions)", "e");
	check(p, "A.wild.EXAMPLE", POLICY_OUTGOING, true, "*.WILD.example (allow, both directions)",
	      "w");
	check(p, "2001:DB8:0::1", POLICY_OUTGOING, true, "2001:db8::1 (allow, both directions)",
	      "ip");
	check(p, "192.0.2.7", POLICY_OUTGOING, true, "192.0.2.7 (allow, both directions)", "ip4");
	check(p, "192.0.2.70", POLICY_OUTGOING, false, "default deny", NULL);
	check(p, "", POLICY_OUTGOING, false, "default deny", NULL);
	check(p, NULL, POLICY_OUTGOING, false, "default deny", NULL);
	policy_free(p);
}

static void test_rules_copied(void **state)
{
	(void)state;
	struct db_policy_rule r[] = {rule("e", "copy.example", true, DB_DIR_BOTH)};
	struct policy *p = NULL;
	assert_int_equal(policy_new(&p, false, r, 1), FG_OK);
	memset(r, 0, sizeof(r));
	check(p, "copy.example", POLICY_INCOMING, true, "copy.example (allow, both directions)",
	      "e");
	policy_free(p);
}

static void test_pattern_matches(void **state)
{
	(void)state;
	assert_true(policy_pattern_matches("example.com", "EXAMPLE.com"));
	assert_true(policy_pattern_matches("*.example.com", "example.com"));
	assert_true(policy_pattern_matches("*.example.com", "a.b.example.com"));
	assert_false(policy_pattern_matches("*.example.com", "aexample.com"));
	assert_false(policy_pattern_matches("example.com", "a.example.com"));
	assert_false(policy_pattern_matches("", "example.com"));
	assert_false(policy_pattern_matches("*.", "example.com"));
	assert_false(policy_pattern_matches(NULL, "example.com"));
	assert_false(policy_pattern_matches("example.com", NULL));
}

static void test_pattern_valid(void **state)
{
	(void)state;
	const char *why = "x";
	static const char *const good[] = {"example.com", "*.example.com", "a-b.c0.example",
	                                   "localhost",   "192.0.2.1",     "2001:db8::1",
	                                   "*.test",      "example.com."};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(policy_pattern_valid(good[i], &why));
		assert_null(why);
	}
	static const char *const bad[] = {"",       "*",        "*.",          "a.*.example",
	                                  "*a.com", "**.a.com", "a..b",        ".a.b",
	                                  "-a.com", "a-.com",   "a b.com",     "a_b.com",
	                                  "é.com",  "a.com/x",  "1.2.3.4.5:6", "*.*.a.com"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_false(policy_pattern_valid(bad[i], &why));
		assert_non_null(why);
		assert_true(strlen(why) > 10);
	}
	assert_false(policy_pattern_valid(NULL, NULL));
	char label[80];
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_false(policy_pattern_valid(label, &why));
	assert_non_null(strstr(why, "63"));
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 50; i < sizeof(longname) - 1; i += 50)
		longname[i] = '.';
	assert_false(policy_pattern_valid(longname, &why));
	assert_non_null(strstr(why, "253"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_default_deny_with_exception),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_exact_beats_wildcard),
	    cmocka_unit_test(test_longer_wildcard_wins),
	    cmocka_unit_test(test_directions),
	    cmocka_unit_test(test_tie_breaks),
	    cmocka_unit_test(test_case_and_dots),
	    cmocka_unit_test(test_rules_copied),
	    cmocka_unit_test(test_pattern_matches),
	    cmocka_unit_test(test_pattern_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
