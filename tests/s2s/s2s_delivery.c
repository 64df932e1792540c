/* s2s_delivery: the engine's router on a real loop over 127.0.0.1 (static routes, no DNS):
 * RFC 6120 §8.3 bounces (remote-server-not-found for a refused connection,
 * resource-constraint for a full queue, policy-violation), completions exactly once and
 * never from inside s2s_send, no error in reply to an error, local XEP-0199 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "db/db.h"
#include "s2s/s2s.h"
#include "status/status.h"

struct sent {
	int calls;
	enum xmpp_stanza_cond cond;
};

static struct {
	uv_loop_t loop;
	struct db *db;
	char dir[64];
	struct s2s_engine *e;
	uv_tcp_t silent;
	uint16_t silent_port;
	bool in_send;
	int local_msgs, local_errors, local_results;
	char last_error_cond[64];
} t;

static void sent_cb(void *ctx, enum xmpp_stanza_cond cond, const char *text)
{
	struct sent *s = ctx;
	(void)text;
	assert_false(t.in_send); /* never from inside s2s_send */
	s->calls++;
	s->cond = cond;
}

static void local_cb(void *ctx, const struct xmpp_node *n)
{
	(void)ctx;
	const char *type = xmpp_node_attr(n, "type");
	t.local_msgs++;
	if (type != NULL && strcmp(type, "error") == 0) {
		t.local_errors++;
		const struct xmpp_node *err = xmpp_node_child(n, NULL, "error");
		const struct xmpp_node *c = err ? err->children : NULL;
		while (c != NULL && c->name == NULL)
			c = c->next;
		fg_strlcpy(t.last_error_cond, c ? c->name : "", sizeof(t.last_error_cond));
	}
	if (type != NULL && strcmp(type, "result") == 0)
		t.local_results++;
}

static void silent_accept_cb(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	uv_tcp_t *c = malloc(sizeof(*c));
	uv_tcp_init(&t.loop, c);
	if (uv_accept(server, (uv_stream_t *)c) != 0)
		uv_close((uv_handle_t *)c, (uv_close_cb)free);
	/* accepted and never answered: the peer that accepts TCP but does not speak */
	c->data = NULL;
}

static enum fg_err setup_write(struct db_txn *txn, void *ctx)
{
	(void)ctx;
	char port[16];
	enum fg_err err = FG_OK;
	const char *kv[][2] = {
	    {"xmpp.bind", "127.0.0.1"},
	    {"xmpp.port", "0"},
	    {"xmpp.tls_mode", "off"},
	    {"xmpp.dns_servers", "127.0.0.1@9"},
	    {"xmpp.queue_max", "1"},
	    {"xmpp.connect_timeout_s", "2"},
	    {"xmpp.dialback_secret", "00112233445566778899aabbccddeeff"},
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]) && err == FG_OK; i++) {
		if (strcmp(kv[i][0], "xmpp.port") == 0)
			continue; /* no listener needed: leave the default unbound below */
		err = db_setting_put(txn, kv[i][0], kv[i][1]);
	}
	/* the listener is not needed: federation listens on a port nobody uses here */
	snprintf(port, sizeof(port), "%u", (unsigned)(40000 + getpid() % 20000));
	if (err == FG_OK)
		err = db_setting_put(txn, "xmpp.port", port);
	struct db_xmpp_domain d = {0};
	fg_strlcpy(d.domain, "local.test", sizeof(d.domain));
	if (err == FG_OK)
		err = db_xmpp_domain_put(txn, &d);
	struct db_allow_entry a = {0};
	fg_strlcpy(a.domain, "refused.test", sizeof(a.domain));
	fg_strlcpy(a.server, "127.0.0.1", sizeof(a.server));
	a.port = 9; /* discard: nothing listens on it here */
	if (err == FG_OK)
		err = db_allow_put(txn, &a);
	fg_strlcpy(a.domain, "silent.test", sizeof(a.domain));
	a.port = t.silent_port;
	if (err == FG_OK)
		err = db_allow_put(txn, &a);
	struct db_policy_rule r = {0};
	db_new_id(r.id);
	fg_strlcpy(r.pattern, "*.denied.test", sizeof(r.pattern));
	r.allow = false;
	r.direction = DB_DIR_OUTGOING;
	if (err == FG_OK)
		err = db_policy_put(txn, &r);
	return err;
}

static int setup(void **state)
{
	(void)state;
	memset(&t, 0, sizeof(t));
	uv_loop_init(&t.loop);
	snprintf(t.dir, sizeof(t.dir), "/tmp/fgw-s2s-delivery.XXXXXX");
	assert_non_null(mkdtemp(t.dir));
	assert_int_equal(db_open(&t.db, t.dir), FG_OK);
	status_init(NULL, 0);
	/* the silent peer */
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	uv_tcp_init(&t.loop, &t.silent);
	assert_int_equal(uv_tcp_bind(&t.silent, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&t.silent, 8, silent_accept_cb), 0);
	int len = sizeof(sa);
	uv_tcp_getsockname(&t.silent, (struct sockaddr *)&sa, &len);
	t.silent_port = ntohs(sa.sin_port);
	assert_int_equal(db_write(t.db, setup_write, NULL), FG_OK);
	assert_int_equal(s2s_engine_start(&t.e, &t.loop, t.db, "test"), FG_OK);
	assert_int_equal(s2s_domain_register(t.e, "local.test", local_cb, NULL), FG_OK);
	return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->data == NULL && h->type == UV_TCP && h != (uv_handle_t *)&t.silent
		                ? (uv_close_cb)free
		                : NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (t.e != NULL)
		s2s_engine_stop(t.e);
	uv_close((uv_handle_t *)&t.silent, NULL);
	uv_run(&t.loop, UV_RUN_NOWAIT);
	uv_walk(&t.loop, close_walk, NULL);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	uv_loop_close(&t.loop);
	status_shutdown();
	db_close(t.db);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void send_stanza(const char *xml, struct sent *s)
{
	t.in_send = true;
	assert_int_equal(s2s_send(t.e, (const uint8_t *)xml, strlen(xml), sent_cb, s), FG_OK);
	t.in_send = false;
	assert_int_equal(s->calls, 0);
}

static void run_until(int *calls, int want, int max_ms)
{
	for (int i = 0; i < max_ms / 10 && *calls < want; i++) {
		uv_run(&t.loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
}

static void test_refused_bounces(void **state)
{
	(void)state;
	struct sent s = {0};
	send_stanza(
	    "<message from='u@local.test' to='x@refused.test' id='1'><body>hi</body></message>",
	    &s);
	run_until(&s.calls, 1, 5000);
	assert_int_equal(s.calls, 1);
	/* RFC 6120 §8.3.3.16 */
	assert_int_equal(s.cond, XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	run_until(&t.local_errors, 1, 200);
	assert_int_equal(t.local_errors, 1);
	assert_string_equal(t.last_error_cond, "remote-server-not-found");
	/* an error is never answered with an error */
	struct sent s2 = {0};
	send_stanza("<message type='error' from='u@local.test' to='x@refused.test' id='2'/>", &s2);
	run_until(&s2.calls, 1, 5000);
	assert_int_equal(s2.calls, 1);
	assert_int_equal(s2.cond, XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	run_until(&t.local_errors, 2, 300);
	assert_int_equal(t.local_errors, 1);
}

static void test_queue_full_and_shutdown(void **state)
{
	(void)state;
	struct sent a = {0}, b = {0};
	send_stanza("<message from='u@local.test' to='x@silent.test' id='a'/>", &a);
	send_stanza("<message from='u@local.test' to='x@silent.test' id='b'/>", &b);
	run_until(&b.calls, 1, 1000);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.cond, XMPP_SC_RESOURCE_CONSTRAINT);
	assert_int_equal(a.calls, 0); /* still waiting for its stream */
	s2s_engine_stop(t.e);
	t.e = NULL;
	run_until(&a.calls, 1, 1000);
	assert_int_equal(a.calls, 1);
	assert_int_not_equal(a.cond, XMPP_SC__COUNT);
	assert_int_equal(b.calls, 1);
}

static void test_policy_and_local(void **state)
{
	(void)state;
	struct sent p = {0};
	send_stanza("<iq type='get' id='p' from='local.test' to='x.denied.test'><ping "
	            "xmlns='urn:xmpp:ping'/></iq>",
	            &p);
	run_until(&p.calls, 1, 1000);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.cond, XMPP_SC_POLICY_VIOLATION);
	/* the gateway's own domain answers XEP-0199 */
	struct sent l = {0};
	send_stanza("<iq type='get' id='l' from='u@local.test/r' to='local.test'><ping "
	            "xmlns='urn:xmpp:ping'/></iq>",
	            &l);
	run_until(&l.calls, 1, 1000);
	assert_int_equal(t.local_results, 1);
	assert_int_equal(l.calls, 1);
	assert_int_equal(l.cond, XMPP_SC__COUNT);
	/* not from a local domain: refused */
	struct sent f = {0};
	send_stanza("<message from='u@elsewhere.test' to='x@refused.test'/>", &f);
	run_until(&f.calls, 1, 1000);
	assert_int_equal(f.cond, XMPP_SC_NOT_ALLOWED);
}

static void send_routed(const char *from, const char *to, const char *xml, struct sent *s)
{
	t.in_send = true;
	assert_int_equal(
	    s2s_send_routed(t.e, from, to, (const uint8_t *)xml, strlen(xml), sent_cb, s), FG_OK);
	t.in_send = false;
	assert_int_equal(s->calls, 0);
}

/* s2s_send_routed: the same verdicts as s2s_send from the domains the caller gives. */
static void test_routed(void **state)
{
	(void)state;
	struct sent r = {0};
	send_routed(
	    "local.test", "refused.test",
	    "<message from='u@local.test' to='x@refused.test' id='1'><body>hi</body></message>",
	    &r);
	run_until(&r.calls, 1, 5000);
	assert_int_equal(r.cond, XMPP_SC_REMOTE_SERVER_NOT_FOUND);
	run_until(&t.local_errors, 1, 200);
	assert_int_equal(t.local_errors, 1); /* the bounce reached the local sender */
	struct sent p = {0};
	send_routed("local.test", "x.denied.test",
	            "<message from='u@local.test' to='y@x.denied.test' id='p'/>", &p);
	run_until(&p.calls, 1, 1000);
	assert_int_equal(p.cond, XMPP_SC_POLICY_VIOLATION);
	struct sent f = {0};
	send_routed("elsewhere.test", "refused.test",
	            "<message from='u@elsewhere.test' to='x@refused.test'/>", &f);
	run_until(&f.calls, 1, 1000);
	assert_int_equal(f.cond, XMPP_SC_NOT_ALLOWED);
	struct sent a = {0}, b = {0};
	send_routed("local.test", "silent.test",
	            "<message from='u@local.test' to='x@silent.test'/>", &a);
	send_routed("local.test", "silent.test",
	            "<message from='u@local.test' to='x@silent.test'/>", &b);
	run_until(&b.calls, 1, 1000);
	assert_int_equal(b.cond, XMPP_SC_RESOURCE_CONSTRAINT);
	assert_int_equal(a.calls, 0); /* queued for its stream */
	assert_int_equal(
	    s2s_send_routed(t.e, "local.test", "", (const uint8_t *)"<a/>", 4, NULL, NULL),
	    FG_ERR_INVAL);
	static uint8_t big[XMPP_MAX_STANZA_BYTES + 1u];
	memset(big, ' ', sizeof(big));
	assert_int_equal(
	    s2s_send_routed(t.e, "local.test", "silent.test", big, sizeof(big), NULL, NULL),
	    FG_ERR_TOOBIG);
	s2s_engine_stop(t.e);
	t.e = NULL;
	run_until(&a.calls, 1, 1000);
	assert_int_equal(a.calls, 1);
	assert_int_not_equal(a.cond, XMPP_SC__COUNT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refused_bounces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_full_and_shutdown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_policy_and_local, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_routed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
