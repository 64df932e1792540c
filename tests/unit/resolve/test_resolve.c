/* Unit tests of the resolver (libunbound on libuv): no real DNS; answers come from IP
 * literals, unbound's local data, or a loopback socket that never answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "resolve/resolve_internal.h"

struct seen {
	int calls;
	enum resolve_status status;
	char text[512];
	char addrs[RESOLVE_MAX_ADDRS][64];
	size_t n;
	struct dns_srv srv[8];
	struct resolver *free_me; /* freed from inside the callback when set */
};

static void srv_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct seen *s = ctx;
	s->calls++;
	s->status = ans->status;
	fg_strlcpy(s->text, ans->text, sizeof(s->text));
	s->n = ans->n;
	for (size_t i = 0; i < ans->n && i < 8; i++)
		s->srv[i] = ans->records[i];
	if (s->free_me != NULL)
		resolver_free(s->free_me);
}

static void addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct seen *s = ctx;
	s->calls++;
	s->status = ans->status;
	fg_strlcpy(s->text, ans->text, sizeof(s->text));
	s->n = ans->n;
	for (size_t i = 0; i < ans->n && i < RESOLVE_MAX_ADDRS; i++)
		fg_strlcpy(s->addrs[i], ans->addrs[i], sizeof(s->addrs[i]));
	if (s->free_me != NULL)
		resolver_free(s->free_me);
}

/* A UDP socket on 127.0.0.1 that receives queries and never answers: "port" gets its port. */
static int silent_server(unsigned *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {0};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

struct fixture {
	uv_loop_t loop;
	struct resolver *r;
	int silent_fd;
	char servers[64];
};

static int setup(void **state)
{
	static struct fixture f;
	unsigned port;
	memset(&f, 0, sizeof(f));
	assert_int_equal(uv_loop_init(&f.loop), 0);
	f.silent_fd = silent_server(&port);
	snprintf(f.servers, sizeof(f.servers), "127.0.0.1@%u", port);
	struct resolve_config cfg = {f.servers, "test", 300};
	assert_int_equal(resolver_new(&f.r, &f.loop, &cfg), FG_OK);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	resolver_free(f->r);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->silent_fd);
	return 0;
}

static void test_status_names(void **state)
{
	(void)state;
	assert_string_equal(resolve_status_name(RESOLVE_OK), "OK");
	assert_string_equal(resolve_status_name(RESOLVE_NODATA), "NODATA");
	assert_string_equal(resolve_status_name(RESOLVE_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(resolve_status_name(RESOLVE_SERVFAIL), "SERVFAIL");
	assert_string_equal(resolve_status_name(RESOLVE_TIMEOUT), "TIMEOUT");
	assert_string_equal(resolve_status_name(RESOLVE_ERROR), "ERROR");
}

static void test_ip_literal(void **state)
{
	struct fixture *f = *state;
	struct seen a = {0}, b = {0}, c = {0};
	struct resolve_query *q = NULL;
	assert_int_equal(resolve_addr(f->r, "192.0.2.10", addr_cb, &a, &q), FG_OK);
	assert_non_null(q);
	assert_int_equal(resolve_addr(f->r, "[2001:DB8:0::1]", addr_cb, &b, NULL), FG_OK);
	assert_int_equal(resolve_addr(f->r, "::1", addr_cb, &c, NULL), FG_OK);
	/* Never from inside the call. */
	assert_int_equal(a.calls + b.calls + c.calls, 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, RESOLVE_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.addrs[0], "192.0.2.10");
	assert_non_null(strstr(a.text, "IP address"));
	assert_int_equal(b.calls, 1);
	assert_string_equal(b.addrs[0], "2001:db8::1");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.addrs[0], "::1");
}

static void test_bad_input(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	struct resolve_query *q = (struct resolve_query *)&s;
	static const char *const bad_names[] = {"",    ".",   "a..b",   ".a",
	                                        "a b", "a/b", "é.test", "a\nb"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		assert_int_equal(resolve_srv(f->r, bad_names[i], srv_cb, &s, &q), FG_ERR_INVAL);
		assert_null(q);
		assert_int_equal(resolve_addr(f->r, bad_names[i], addr_cb, &s, NULL), FG_ERR_INVAL);
	}
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(resolve_addr(f->r, longname, addr_cb, &s, NULL), FG_ERR_INVAL);
	char label[70];
	memset(label, 'a', 64);
	memcpy(label + 64, ".test", 6);
	assert_int_equal(resolve_addr(f->r, label, addr_cb, &s, NULL), FG_ERR_INVAL);
	assert_int_equal(resolve_srv(f->r, "192.0.2.1", srv_cb, &s, NULL), FG_ERR_INVAL);
	assert_int_equal(resolve_srv(f->r, "::1", srv_cb, &s, NULL), FG_ERR_INVAL);
	assert_int_equal(resolve_srv(NULL, "a.test", srv_cb, &s, NULL), FG_ERR_INVAL);
	assert_int_equal(resolve_srv(f->r, NULL, srv_cb, &s, NULL), FG_ERR_INVAL);
	assert_int_equal(resolve_srv(f->r, "a.test", NULL, &s, NULL), FG_ERR_INVAL);
	assert_int_equal(resolve_addr(f->r, "a.test", NULL, &s, NULL), FG_ERR_INVAL);
	resolve_cancel(NULL);
	resolver_free(NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 0);
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	struct resolver *r = NULL;
	static const char *const bad_servers[] = {
	    "dns.example",
	    "127.0.0.1@0",
	    "127.0.0.1@70000",
	    "127.0.0.1@x",
	    "1.2.3.4.5",
	    "1 2 3 4 5 6 7 8 9",
	    "127.0.0.1@53@53",
	    "0123456789012345678901234567890123456789012345678901234567890123456789"};
	for (size_t i = 0; i < sizeof(bad_servers) / sizeof(bad_servers[0]); i++) {
		struct resolve_config cfg = {bad_servers[i], NULL, 0};
		assert_int_equal(resolver_new(&r, &f->loop, &cfg) != FG_OK, true);
		assert_null(r);
	}
	struct resolve_config zones = {"127.0.0.1@5353", "test bad..zone", 0};
	assert_int_not_equal(resolver_new(&r, &f->loop, &zones), FG_OK);
	struct resolve_config neg = {"127.0.0.1", NULL, -1};
	assert_int_equal(resolver_new(&r, &f->loop, &neg), FG_ERR_INVAL);
	assert_int_equal(resolver_new(&r, &f->loop, NULL), FG_ERR_INVAL);
	assert_int_equal(resolver_new(NULL, &f->loop, &neg), FG_ERR_INVAL);
	/* Good lists: commas, spaces, IPv6, ports; trailing dots on zones. */
	struct resolve_config good = {" 127.0.0.1@5353, ::1  192.0.2.53@53,", "test. invalid", 0};
	assert_int_equal(resolver_new(&r, &f->loop, &good), FG_OK);
	resolver_free(r);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0}, a = {0};
	int64_t t0 = fg_mono_ms();
	assert_int_equal(resolve_srv(f->r, "_xmpp-server._tcp.slow.test", srv_cb, &s, NULL), FG_OK);
	assert_int_equal(resolve_addr(f->r, "slow.test", addr_cb, &a, NULL), FG_OK);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	int64_t took = fg_mono_ms() - t0;
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.status, RESOLVE_TIMEOUT);
	assert_non_null(strstr(s.text, f->servers));
	assert_non_null(strstr(s.text, "300 ms"));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.status, RESOLVE_TIMEOUT);
	assert_true(took >= 250 && took < 3000);
}

static void test_cancel(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0}, a = {0}, keep = {0};
	struct resolve_query *q1 = NULL, *q2 = NULL;
	assert_int_equal(resolve_srv(f->r, "_xmpp-server._tcp.c.test", srv_cb, &s, &q1), FG_OK);
	assert_int_equal(resolve_addr(f->r, "c.test", addr_cb, &a, &q2), FG_OK);
	assert_int_equal(resolve_addr(f->r, "192.0.2.1", addr_cb, &keep, NULL), FG_OK);
	resolve_cancel(q1);
	resolve_cancel(q2);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(a.calls, 0);
	assert_int_equal(keep.calls, 1);
	/* A literal can be cancelled too. */
	struct resolve_query *q3 = NULL;
	assert_int_equal(resolve_addr(f->r, "192.0.2.2", addr_cb, &keep, &q3), FG_OK);
	resolve_cancel(q3);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(keep.calls, 1);
}

static void test_free_outstanding(void **state)
{
	(void)state;
	uv_loop_t loop;
	struct resolver *r = NULL;
	struct seen s = {0};
	unsigned port;
	char servers[64];
	int fd = silent_server(&port);
	snprintf(servers, sizeof(servers), "127.0.0.1@%u", port);
	struct resolve_config cfg = {servers, "test", 300};
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(resolver_new(&r, &loop, &cfg), FG_OK);
	for (int i = 0; i < 5; i++) {
		char name[64];
		snprintf(name, sizeof(name), "_xmpp-server._tcp.d%d.test", i);
		assert_int_equal(resolve_srv(r, name, srv_cb, &s, NULL), FG_OK);
		assert_int_equal(resolve_addr(r, name + 18, addr_cb, &s, NULL), FG_OK);
	}
	assert_int_equal(resolve_addr(r, "192.0.2.3", addr_cb, &s, NULL), FG_OK);
	/* Let the queries reach the resolver thread, then free. */
	assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT) >= 0, true);
	resolver_free(r);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_int_equal(s.calls, 1); /* only the literal, answered on the NOWAIT turn */
	close(fd);
}

/* A resolver answering from unbound's local data: no server is ever asked. */
static struct resolver *local_resolver(uv_loop_t *loop, const char *servers)
{
	struct resolver *r = NULL;
	struct resolve_config cfg = {servers, "test", 2000};
	assert_int_equal(resolver_new(&r, loop, &cfg), FG_OK);
	assert_int_equal(resolve__local_data_add(r, "a.test.", "static",
	                                         "_xmpp-server._tcp.a.test. 60 IN SRV 10 5 5269 "
	                                         "xmpp1.a.test."),
	                 FG_OK);
	assert_int_equal(resolve__local_data_add(r, "a.test.", "static",
	                                         "_xmpp-server._tcp.a.test. 60 IN SRV 20 0 5270 "
	                                         "xmpp2.a.test."),
	                 FG_OK);
	assert_int_equal(
	    resolve__local_data_add(r, "a.test.", "static", "xmpp1.a.test. 60 IN A 192.0.2.11"),
	    FG_OK);
	assert_int_equal(resolve__local_data_add(r, "a.test.", "static",
	                                         "xmpp1.a.test. 60 IN AAAA 2001:db8::11"),
	                 FG_OK);
	assert_int_equal(
	    resolve__local_data_add(r, "a.test.", "static", "v4.a.test. 60 IN A 192.0.2.12"),
	    FG_OK);
	assert_int_equal(
	    resolve__local_data_add(r, "a.test.", "static",
	                            "_xmpp-server._tcp.nosrv.a.test. 60 IN SRV 0 0 0 ."),
	    FG_OK);
	return r;
}

static void test_local_answers(void **state)
{
	struct fixture *f = *state;
	uv_loop_t *loop = &f->loop;
	struct resolver *r = local_resolver(loop, f->servers);
	struct seen srv = {0}, dot = {0}, both = {0}, v4 = {0}, nodata = {0}, nx = {0}, nxs = {0};
	assert_int_equal(resolve_srv(r, "_xmpp-server._tcp.a.test", srv_cb, &srv, NULL), FG_OK);
	assert_int_equal(resolve_srv(r, "_xmpp-server._tcp.nosrv.a.test.", srv_cb, &dot, NULL),
	                 FG_OK);
	assert_int_equal(resolve_addr(r, "XMPP1.a.test", addr_cb, &both, NULL), FG_OK);
	assert_int_equal(resolve_addr(r, "v4.a.test", addr_cb, &v4, NULL), FG_OK);
	assert_int_equal(resolve_srv(r, "xmpp1.a.test", srv_cb, &nodata, NULL), FG_OK);
	assert_int_equal(resolve_addr(r, "unknown.a.test", addr_cb, &nx, NULL), FG_OK);
	assert_int_equal(resolve_srv(r, "_xmpp-server._tcp.unknown.a.test", srv_cb, &nxs, NULL),
	                 FG_OK);
	assert_int_equal(srv.calls + dot.calls + both.calls, 0);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);

	assert_int_equal(srv.calls, 1);
	assert_int_equal(srv.status, RESOLVE_OK);
	assert_int_equal(srv.n, 2);
	const struct dns_srv *s10 = srv.srv[0].priority == 10 ? &srv.srv[0] : &srv.srv[1];
	const struct dns_srv *s20 = srv.srv[0].priority == 10 ? &srv.srv[1] : &srv.srv[0];
	assert_int_equal(s10->port, 5269);
	assert_int_equal(s10->weight, 5);
	assert_string_equal(s10->target, "xmpp1.a.test");
	assert_int_equal(s20->port, 5270);
	assert_string_equal(s20->target, "xmpp2.a.test");
	assert_non_null(strstr(srv.text, "2 SRV records"));

	assert_int_equal(dot.status, RESOLVE_OK);
	assert_int_equal(dot.n, 1);
	assert_string_equal(dot.srv[0].target, ".");
	assert_true(dns_srv_is_no_service(dot.srv, dot.n));

	assert_int_equal(both.status, RESOLVE_OK);
	assert_int_equal(both.n, 2);
	assert_string_equal(both.addrs[0], "2001:db8::11"); /* IPv6 first */
	assert_string_equal(both.addrs[1], "192.0.2.11");

	assert_int_equal(v4.status, RESOLVE_OK);
	assert_int_equal(v4.n, 1);
	assert_string_equal(v4.addrs[0], "192.0.2.12");

	assert_int_equal(nodata.status, RESOLVE_NODATA);
	assert_int_equal(nodata.n, 0);
	assert_non_null(strstr(nodata.text, "NODATA"));
	assert_int_equal(nx.status, RESOLVE_NXDOMAIN);
	assert_non_null(strstr(nx.text, "NXDOMAIN from 127.0.0.1@"));
	assert_int_equal(nxs.status, RESOLVE_NXDOMAIN);
	resolver_free(r);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
}

static void test_free_in_callback(void **state)
{
	struct fixture *f = *state;
	uv_loop_t *loop = &f->loop;
	/* Inside ub_process (an unbound answer), with another query still outstanding. */
	struct resolver *r = local_resolver(loop, f->servers);
	struct seen first = {0}, other = {0};
	first.free_me = r;
	assert_int_equal(resolve_srv(r, "_xmpp-server._tcp.a.test", srv_cb, &first, NULL), FG_OK);
	assert_int_equal(resolve_srv(r, "_xmpp-server._tcp.b.test", srv_cb, &other, NULL), FG_OK);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(first.calls, 1);
	assert_int_equal(other.calls, 0);

	/* Inside a timer callback (an IP literal). */
	r = local_resolver(loop, f->servers);
	struct seen lit = {0}, lit2 = {0};
	lit.free_me = r;
	assert_int_equal(resolve_addr(r, "192.0.2.4", addr_cb, &lit, NULL), FG_OK);
	assert_int_equal(resolve_addr(r, "v4.a.test", addr_cb, &lit2, NULL), FG_OK);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(lit.calls, 1);
	assert_int_equal(lit2.calls, 0);
}

static void test_srv_rdata(void **state)
{
	(void)state;
	struct dns_srv s;
	static const uint8_t ok[] = {0,   10,  0, 5,   0x14, 0x95, 5,   'x', 'm', 'p',
	                             'p', '1', 1, 'a', 4,    't',  'e', 's', 't', 0};
	assert_true(resolve__srv_rdata_parse(ok, sizeof(ok), &s));
	assert_int_equal(s.priority, 10);
	assert_int_equal(s.weight, 5);
	assert_int_equal(s.port, 5269);
	assert_string_equal(s.target, "xmpp1.a.test");
	static const uint8_t root[] = {0, 0, 0, 0, 0, 0, 0};
	assert_true(resolve__srv_rdata_parse(root, sizeof(root), &s));
	assert_string_equal(s.target, ".");
	/* Every truncation fails. */
	for (size_t n = 0; n < sizeof(ok); n++)
		assert_false(resolve__srv_rdata_parse(ok, n, &s));
	/* Trailing bytes, compression pointer, label over 63, bad bytes. */
	uint8_t buf[300];
	memcpy(buf, ok, sizeof(ok));
	buf[sizeof(ok)] = 0;
	assert_false(resolve__srv_rdata_parse(buf, sizeof(ok) + 1, &s));
	static const uint8_t ptr[] = {0, 0, 0, 0, 0, 0, 0xc0, 0x0c};
	assert_false(resolve__srv_rdata_parse(ptr, sizeof(ptr), &s));
	static const uint8_t dotin[] = {0, 0, 0, 0, 0, 0, 3, 'a', '.', 'b', 0};
	assert_false(resolve__srv_rdata_parse(dotin, sizeof(dotin), &s));
	static const uint8_t nul[] = {0, 0, 0, 0, 0, 0, 3, 'a', 0, 'b', 0};
	assert_false(resolve__srv_rdata_parse(nul, sizeof(nul), &s));
	memset(buf, 0, sizeof(buf));
	buf[6] = 64;
	memset(buf + 7, 'a', 64);
	assert_false(resolve__srv_rdata_parse(buf, 7 + 64 + 1, &s));
	/* A name longer than 255 octets on the wire: 5 labels of 63. */
	size_t o = 6;
	for (int i = 0; i < 5 && o + 64 < sizeof(buf); i++) {
		buf[o++] = 63;
		memset(buf + o, 'b', 63);
		o += 63;
	}
	buf[o++] = 0;
	assert_false(resolve__srv_rdata_parse(buf, o, &s));
	/* Four labels of 63 (wire 257 with the root) is too long too; three fit. */
	o = 6;
	for (int i = 0; i < 3; i++) {
		buf[o++] = 63;
		memset(buf + o, 'c', 63);
		o += 63;
	}
	buf[o++] = 0;
	assert_true(resolve__srv_rdata_parse(buf, o, &s));
	assert_int_equal(strlen(s.target), 3 * 63 + 2);
	assert_false(resolve__srv_rdata_parse(NULL, 7, &s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test(test_srv_rdata),
	    cmocka_unit_test_setup_teardown(test_ip_literal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	    cmocka_unit_test(test_free_outstanding),
	    cmocka_unit_test_setup_teardown(test_local_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_in_callback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
