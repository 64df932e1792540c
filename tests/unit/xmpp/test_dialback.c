/* Unit tests for XEP-0185 dialback keys (known answer from XEP-0185 §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xmpp/xmpp.h"

static const char secret[] = "s3cr3tf0rd14lb4ck";

static void test_kat(void **state)
{
	char key[XMPP_DIALBACK_KEY_HEX + 1];
	assert_int_equal(xmpp_dialback_key(key, (const uint8_t *)secret, strlen(secret),
	                                   "xmpp.example.com", "example.org", "D60000229F"),
	                 FG_OK);
	assert_string_equal(key,
	                    "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643");
	assert_true(xmpp_dialback_key_check(key, (const uint8_t *)secret, strlen(secret),
	                                    "xmpp.example.com", "example.org", "D60000229F"));
	/* roles swapped, other id, other secret, truncated: all fail */
	assert_false(xmpp_dialback_key_check(key, (const uint8_t *)secret, strlen(secret),
	                                     "example.org", "xmpp.example.com", "D60000229F"));
	assert_false(xmpp_dialback_key_check(key, (const uint8_t *)secret, strlen(secret),
	                                     "xmpp.example.com", "example.org", "D60000229E"));
	assert_false(xmpp_dialback_key_check(key, (const uint8_t *)"x", 1, "xmpp.example.com",
	                                     "example.org", "D60000229F"));
	key[10] = '\0';
	assert_false(xmpp_dialback_key_check(key, (const uint8_t *)secret, strlen(secret),
	                                     "xmpp.example.com", "example.org", "D60000229F"));
	assert_false(xmpp_dialback_key_check(NULL, (const uint8_t *)secret, strlen(secret),
	                                     "xmpp.example.com", "example.org", "D60000229F"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
