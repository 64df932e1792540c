/* Unit tests for the console API's pure helpers: times, CSRF, Origin/Host, session
 * tokens, the login throttle, JSON errors and request field validation. */
#define WEBUI_API_PURE_ONLY
#include "webui/api.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_iso_time(void **state)
{
	char buf[32];
	webui__iso_time(buf, 1795291542123LL);
	assert_string_equal(buf, "2026-11-21T20:05:42Z");
	webui__iso_time(buf, 0);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	json_t *j = webui__json_time(0);
	assert_true(json_is_null(j));
	json_decref(j);
	j = webui__json_time(1795291542000LL);
	assert_string_equal(json_string_value(j), "2026-11-21T20:05:42Z");
	json_decref(j);
}

static void test_csrf(void **state)
{
	assert_true(webui__csrf_equal("abcdef", "abcdef"));
	assert_false(webui__csrf_equal("abcdef", "abcdeg"));
	assert_false(webui__csrf_equal("abcdef", "abcde"));
	assert_false(webui__csrf_equal("abcdef", "abcdefg"));
	assert_false(webui__csrf_equal("abcdef", NULL));
	assert_false(webui__csrf_equal("", ""));
	assert_false(webui__csrf_equal(NULL, "x"));
}

static void test_origin(void **state)
{
	assert_true(webui__origin_matches_host("https://gw.example:8443", "gw.example:8443"));
	assert_true(webui__origin_matches_host("https://GW.example:8443", "gw.EXAMPLE:8443"));
	assert_true(webui__origin_matches_host("https://gw.example", "gw.example:443"));
	assert_true(webui__origin_matches_host("https://127.0.0.1:9000", "127.0.0.1:9000"));
	assert_true(webui__origin_matches_host("https://[::1]:8443", "[::1]:8443"));
	assert_false(webui__origin_matches_host("http://gw.example:8443", "gw.example:8443"));
	assert_false(webui__origin_matches_host("https://evil.example:8443", "gw.example:8443"));
	assert_false(webui__origin_matches_host("https://gw.example:8444", "gw.example:8443"));
	assert_false(webui__origin_matches_host("https://gw.example", "gw.example:8443"));
	assert_false(webui__origin_matches_host("null", "gw.example:8443"));
	assert_false(webui__origin_matches_host("https://gw.example:8443/", "gw.example:8443"));
	assert_false(webui__origin_matches_host("https://a@gw.example:8443", "gw.example:8443"));
	assert_false(webui__origin_matches_host("https://gw.example:x", "gw.example:x"));
	assert_false(webui__origin_matches_host("https://gw.example:8443", NULL));
	assert_false(webui__origin_matches_host(NULL, "gw.example"));
	assert_false(webui__origin_matches_host("https://", ""));
}

static void test_session_tokens(void **state)
{
	char token[WEBUI_TOKEN_HEX], id[65], csrf[65], id2[65];
	webui__session_new(token, id, csrf);
	assert_int_equal(strlen(token), 64);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strlen(csrf), 64);
	assert_string_not_equal(token, id);
	assert_string_not_equal(token, csrf);
	assert_true(webui__session_id_from_token(token, id2));
	assert_string_equal(id, id2);
	/* SHA-256 of 32 zero bytes. */
	char zeros[65];
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	assert_true(webui__session_id_from_token(zeros, id2));
	assert_string_equal(id2,
	                    "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
	assert_false(webui__session_id_from_token(NULL, id2));
	assert_false(webui__session_id_from_token("abc", id2));
	zeros[10] = 'g';
	assert_false(webui__session_id_from_token(zeros, id2));
}

static void test_session_state(void **state)
{
	const int64_t idle = 600000;
	assert_int_equal(webui__session_state(1000, 1000, idle), WEBUI_SESSION_FRESH);
	assert_int_equal(webui__session_state(1000, 1000 + WEBUI_SESSION_TOUCH_MS - 1, idle),
	                 WEBUI_SESSION_FRESH);
	assert_int_equal(webui__session_state(1000, 1000 + WEBUI_SESSION_TOUCH_MS, idle),
	                 WEBUI_SESSION_TOUCH);
	assert_int_equal(webui__session_state(1000, 1000 + idle, idle), WEBUI_SESSION_TOUCH);
	assert_int_equal(webui__session_state(1000, 1001 + idle, idle), WEBUI_SESSION_EXPIRED);
	assert_int_equal(webui__session_state(5000, 1000, idle), WEBUI_SESSION_FRESH);
	/* Unset idle time: the 30-minute default. */
	assert_int_equal(webui__session_state(0, 1800000, 0), WEBUI_SESSION_TOUCH);
	assert_int_equal(webui__session_state(0, 1800001, 0), WEBUI_SESSION_EXPIRED);
}

static void test_throttle(void **state)
{
	struct webui_throttle *t = webui__throttle_new();
	unsigned retry = 0;
	const char *a = "192.0.2.7";
	int64_t now = 1000000;
	assert_true(webui__throttle_check(t, a, now, &retry));
	for (int i = 0; i < 2; i++) {
		webui__throttle_fail(t, a, now);
		assert_true(webui__throttle_check(t, a, now, &retry));
	}
	/* Third failure: 1 s, then 2 s, 4 s ... up to 60 s. */
	webui__throttle_fail(t, a, now);
	assert_false(webui__throttle_check(t, a, now, &retry));
	assert_int_equal(retry, 1);
	assert_true(webui__throttle_check(t, "192.0.2.8", now, &retry));
	assert_true(webui__throttle_check(t, a, now + 1000, &retry));
	webui__throttle_fail(t, a, now + 1000);
	assert_false(webui__throttle_check(t, a, now + 1500, &retry));
	assert_int_equal(retry, 2);
	for (int i = 0; i < 10; i++)
		webui__throttle_fail(t, a, now + 2000);
	assert_false(webui__throttle_check(t, a, now + 2000, &retry));
	assert_int_equal(retry, 60);
	/* The window passes: forgotten. */
	assert_true(webui__throttle_check(t, a, now + 2000 + WEBUI_THROTTLE_WINDOW_MS, &retry));
	assert_int_equal(webui__throttle_count(t), 0);
	/* Success clears. */
	for (int i = 0; i < 3; i++)
		webui__throttle_fail(t, a, now);
	webui__throttle_success(t, a);
	assert_true(webui__throttle_check(t, a, now, &retry));
	webui__throttle_free(t);
	webui__throttle_free(NULL);
}

static void test_throttle_bounded(void **state)
{
	struct webui_throttle *t = webui__throttle_new();
	char addr[32];
	unsigned retry;
	/* The first address fails three times at the earliest time, then the table fills. */
	for (int i = 0; i < 3; i++)
		webui__throttle_fail(t, "10.0.0.0", 0);
	for (int i = 1; i <= WEBUI_THROTTLE_SOURCES + 10; i++) {
		snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
		webui__throttle_fail(t, addr, i);
	}
	assert_int_equal(webui__throttle_count(t), WEBUI_THROTTLE_SOURCES);
	/* The oldest was evicted. */
	assert_true(webui__throttle_check(t, "10.0.0.0", 100, &retry));
	webui__throttle_free(t);
}

static void test_error_json(void **state)
{
	struct webui_error e;
	webui__error_set(&e, 422, "invalid", "name", "Choose another.", "Bad %s", "name");
	json_t *j = webui__error_json(&e);
	json_t *err = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(err, "code")), "invalid");
	assert_string_equal(json_string_value(json_object_get(err, "message")), "Bad name");
	assert_string_equal(json_string_value(json_object_get(err, "field")), "name");
	assert_string_equal(json_string_value(json_object_get(err, "fix")), "Choose another.");
	json_decref(j);
	webui__error_set(&e, 400, "bad_json", NULL, "x", "y");
	j = webui__error_json(&e);
	assert_true(json_is_null(json_object_get(json_object_get(j, "error"), "field")));
	json_decref(j);
}

static void test_body_parse(void **state)
{
	struct webui_error e;
	json_t *root = NULL;
	const char ok[] = "{\"name\":\"a\"}";
	assert_true(webui__body_parse((const uint8_t *)ok, strlen(ok), &root, &e));
	json_decref(root);
	const char bad[] = "{\"name\":\n <script>}";
	assert_false(webui__body_parse((const uint8_t *)bad, strlen(bad), &root, &e));
	assert_int_equal(e.status, 400);
	assert_string_equal(e.code, "bad_json");
	assert_non_null(strstr(e.message, "line 2"));
	assert_null(strstr(e.message, "<script"));
	const char arr[] = "[1,2]";
	assert_false(webui__body_parse((const uint8_t *)arr, strlen(arr), &root, &e));
	assert_string_equal(e.code, "bad_json");
	const char dup[] = "{\"a\":1,\"a\":2}";
	assert_false(webui__body_parse((const uint8_t *)dup, strlen(dup), &root, &e));
	assert_false(webui__body_parse(NULL, 0, &root, &e));
	assert_null(root);
}

static void test_fields(void **state)
{
	struct webui_error e;
	const char *s;
	json_t *o = json_pack("{s:s, s:i, s:s, s:s}", "name", "bob", "num", 3, "empty", "", "long",
	                      "0123456789");
	assert_true(webui__field_string(o, "name", true, 64, &s, &e));
	assert_string_equal(s, "bob");
	assert_true(webui__field_string(o, "absent", false, 64, &s, &e));
	assert_null(s);
	assert_false(webui__field_string(o, "absent", true, 64, &s, &e));
	assert_int_equal(e.status, 400);
	assert_string_equal(e.field, "absent");
	assert_false(webui__field_string(o, "num", true, 64, &s, &e));
	assert_string_equal(e.code, "bad_field");
	assert_false(webui__field_string(o, "empty", true, 64, &s, &e));
	assert_int_equal(e.status, 422);
	assert_false(webui__field_string(o, "long", true, 5, &s, &e));
	assert_int_equal(e.status, 422);
	json_object_set_new(o, "nul", json_stringn("a\0b", 3));
	assert_false(webui__field_string(o, "nul", true, 64, &s, &e));
	json_decref(o);
}

static void test_query_and_types(void **state)
{
	struct webui_error e;
	uint64_t v;
	assert_true(webui__query_uint(NULL, "limit", 500, 100, &v, &e));
	assert_int_equal(v, 100);
	assert_true(webui__query_uint("42", "limit", 500, 100, &v, &e));
	assert_int_equal(v, 42);
	assert_false(webui__query_uint("-1", "limit", 500, 100, &v, &e));
	assert_string_equal(e.field, "limit");
	assert_false(webui__query_uint("12x", "limit", 500, 100, &v, &e));
	assert_false(webui__query_uint("501", "limit", 500, 100, &v, &e));
	assert_true(webui__is_json_type("application/json"));
	assert_true(webui__is_json_type("application/json; charset=utf-8"));
	assert_true(webui__is_json_type("Application/JSON"));
	assert_false(webui__is_json_type("application/jsonp"));
	assert_false(webui__is_json_type("text/plain"));
	assert_false(webui__is_json_type(NULL));
	json_t *j = webui__json_text("ok \xff\xfe end");
	assert_string_equal(json_string_value(j), "ok ?? end");
	json_decref(j);
}

static void test_path_match(void **state)
{
	char p[2][WEBUI_PARAM_MAX];
	assert_true(webui__path_match("admins", "admins", p));
	assert_false(webui__path_match("admins", "admins/", p));
	assert_false(webui__path_match("admins", "admin", p));
	assert_false(webui__path_match("admins", "adminsx", p));
	assert_true(webui__path_match("admins/*", "admins/bob", p));
	assert_string_equal(p[0], "bob");
	assert_false(webui__path_match("admins/*", "admins/", p));
	assert_false(webui__path_match("admins/*", "admins/bob/", p));
	assert_false(webui__path_match("admins/*", "admins//x", p));
	assert_true(webui__path_match("admins/*/password", "admins/x.y/password", p));
	assert_string_equal(p[0], "x.y");
	assert_false(webui__path_match("admins/*/password", "admins/bob/passwordx", p));
	assert_false(webui__path_match("admins/*/password", "admins/bob", p));
	assert_true(webui__path_match("certificates/*/pem", "certificates/00ff/pem", p));
	char longseg[300] = "admins/";
	memset(longseg + 7, 'a', 200);
	longseg[207] = '\0';
	assert_false(webui__path_match("admins/*", longseg, p));
	assert_false(webui__path_match("logs", "", p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_iso_time),   cmocka_unit_test(test_csrf),
	    cmocka_unit_test(test_origin),     cmocka_unit_test(test_session_tokens),
	    cmocka_unit_test(test_throttle),   cmocka_unit_test(test_throttle_bounded),
	    cmocka_unit_test(test_error_json), cmocka_unit_test(test_body_parse),
	    cmocka_unit_test(test_fields),     cmocka_unit_test(test_query_and_types),
	    cmocka_unit_test(test_path_match), cmocka_unit_test(test_session_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
