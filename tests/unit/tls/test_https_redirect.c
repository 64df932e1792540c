/* tls tests: the console's plain-HTTP redirect parsing (RFC 9112 request head, RFC 3986
 * host), compiled from webui/https.c itself so its file-local helpers are reachable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../../webui/https.c"

/* The transport links against the console API; these stand in for it. */
enum MHD_Result webui_http_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
	return MHD_NO;
}

void webui_http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
}

void webui__api_free(struct webui_api *api)
{
}

static bool redirect(const char *head, unsigned port, char *out, size_t size)
{
	char copy[WEBUI_PLAIN_HEAD_MAX + 1];
	fg_strlcpy(copy, head, sizeof(copy));
	return redirect_location(copy, port, out, size);
}

static void test_host_valid(void **state)
{
	bool port;
	assert_true(host_valid("gw.example.com", &port));
	assert_false(port);
	assert_true(host_valid("gw.example.com:8443", &port));
	assert_true(port);
	assert_true(host_valid("10.0.0.5", &port));
	assert_true(host_valid("[::1]:8443", &port));
	assert_true(port);
	assert_true(host_valid("[2001:db8::1]", &port));
	assert_false(port);
	assert_true(host_valid("localhost", &port));

	assert_false(host_valid("", &port));
	assert_false(host_valid("bad_host", &port));
	assert_false(host_valid("a..b", &port));
	assert_false(host_valid("-a.b", &port));
	assert_false(host_valid("a-.b", &port));
	assert_false(host_valid("a.b:", &port));
	assert_false(host_valid("a.b:0", &port));
	assert_false(host_valid("a.b:65536", &port));
	assert_false(host_valid("a.b:80:80", &port));
	assert_false(host_valid("[::1", &port));
	assert_false(host_valid("[zz::1]", &port));
	assert_false(host_valid("[::1]x", &port));
	assert_false(host_valid("a.b\r\nSet-Cookie: x", &port));
	assert_false(host_valid("user@host", &port));
	char label[80];
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_false(host_valid(label, &port)); /* label over 63 octets */
}

static void test_redirect(void **state)
{
	char loc[WEBUI_LOCATION_MAX];
	assert_true(redirect("GET /status?x=1 HTTP/1.1\r\nHost: gw.example.com:8443\r\n\r\n", 8443,
	                     loc, sizeof(loc)));
	assert_string_equal(loc, "https://gw.example.com:8443/status?x=1");
	/* No port in Host: add ours unless it is 443. */
	assert_true(redirect("GET / HTTP/1.1\r\nhost: gw\r\n\r\n", 8443, loc, sizeof(loc)));
	assert_string_equal(loc, "https://gw:8443/");
	assert_true(redirect("GET /a HTTP/1.0\nHost: gw\n\n", 443, loc, sizeof(loc)));
	assert_string_equal(loc, "https://gw/a");
	/* Absolute form keeps its path; Host still decides the authority. */
	assert_true(
	    redirect("GET http://other/x/y HTTP/1.1\r\nHost: gw:1\r\n\r\n", 1, loc, sizeof(loc)));
	assert_string_equal(loc, "https://gw:1/x/y");
	/* A path with controls or spaces is replaced by "/". */
	assert_true(redirect("GET /\x01x HTTP/1.1\r\nHost: gw:1\r\n\r\n", 1, loc, sizeof(loc)));
	assert_string_equal(loc, "https://gw:1/");
	assert_true(redirect("OPTIONS * HTTP/1.1\r\nHost: [::1]:9\r\n\r\n", 9, loc, sizeof(loc)));
	assert_string_equal(loc, "https://[::1]:9/");

	/* 400 cases: no Host, two Hosts, a bad Host, not HTTP. */
	assert_false(redirect("GET / HTTP/1.1\r\n\r\n", 8443, loc, sizeof(loc)));
	assert_false(
	    redirect("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 8443, loc, sizeof(loc)));
	assert_false(redirect("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 8443, loc, sizeof(loc)));
	assert_false(redirect("SSH-2.0-OpenSSH_9.2\r\n\r\n", 8443, loc, sizeof(loc)));
	assert_false(redirect("", 8443, loc, sizeof(loc)));
	/* Headers after the blank line are not part of the head. */
	assert_false(redirect("GET / HTTP/1.1\r\n\r\nHost: a\r\n", 8443, loc, sizeof(loc)));
}

static void test_head_end(void **state)
{
	struct fg_buf b = {0};
	fg_buf_append_str(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	assert_int_equal(head_end(&b), 0);
	fg_buf_append_str(&b, "\r\nbody");
	assert_int_equal(head_end(&b), b.len - 4);
	fg_buf_reset(&b);
	fg_buf_append_str(&b, "GET / HTTP/1.0\n\n");
	assert_int_equal(head_end(&b), b.len);
	fg_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_valid),
	    cmocka_unit_test(test_redirect),
	    cmocka_unit_test(test_head_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
