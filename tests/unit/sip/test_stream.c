/* Unit tests: stream framing (RFC 3261 §18.3) and CRLF keepalives (RFC 5626 §4.4.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common.h"

/* Feeds buf in pieces of step bytes; records events as a string ("M:REGISTER P " ...). */
static void run(const uint8_t *buf, size_t len, size_t step, struct fg_buf *log)
{
	struct sip_stream *s = sip_stream_new();
	assert_non_null(s);
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		assert_int_equal(sip_stream_feed(s, buf + off, n), FG_OK);
		for (;;) {
			enum sip_stream_event ev;
			struct sip_msg *m;
			struct sip_error err;
			enum fg_err e = sip_stream_next(s, &ev, &m, &err);
			if (e) {
				fg_buf_printf(log, "E:%s ", err.what);
				goto out;
			}
			if (ev == SIP_STREAM_NEED_MORE)
				break;
			if (ev == SIP_STREAM_MESSAGE) {
				fg_buf_printf(log, "M:%.*s/%zu ", (int)m->method.len,
				              m->method.p ? m->method.p : "rsp", m->body_len);
				sip_msg_free(m);
			} else {
				fg_buf_printf(log, "%s ", ev == SIP_STREAM_PING ? "PING" : "PONG");
			}
		}
	}
out:
	sip_stream_free(s);
}

static void check_equal(const uint8_t *buf, size_t len, const char *expect)
{
	struct fg_buf one = {0}, bytes = {0}, seven = {0};
	run(buf, len, len, &one);
	run(buf, len, 1, &bytes);
	run(buf, len, 7, &seven);
	assert_string_equal(fg_buf_cstr(&one), expect);
	assert_string_equal(fg_buf_cstr(&bytes), expect);
	assert_string_equal(fg_buf_cstr(&seven), expect);
	fg_buf_free(&one);
	fg_buf_free(&bytes);
	fg_buf_free(&seven);
}

static void t_dblreq_stream(void **st)
{
	size_t len;
	uint8_t *buf = read_data("valid/dblreq.dat", &len);
	/* on a stream both messages of RFC 4475 dblreq come out, one at a time */
	check_equal(buf, len, "M:REGISTER/0 M:INVITE/150 ");
	free(buf);
}

static void t_all_valid_bytewise(void **st)
{
	static const char *const files[] = {"wsinv",      "intmeth", "esc01",   "escnull",
	                                    "esc02",      "lwsdisp", "longreq", "semiuri",
	                                    "transports", "mpart01", "zeromf",  "regescrt"};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char rel[64], expect[256];
		size_t len;
		snprintf(rel, sizeof(rel), "valid/%s.dat", files[i]);
		uint8_t *buf = read_data(rel, &len);
		struct sip_msg *m;
		assert_int_equal(sip_msg_parse(buf, len, SIP_PARSE_DATAGRAM, &m, NULL, NULL),
		                 FG_OK);
		snprintf(expect, sizeof(expect), "M:%.*s/%zu ", (int)m->method.len, m->method.p,
		         m->body_len);
		sip_msg_free(m);
		check_equal(buf, len, expect);
		free(buf);
	}
}

static void t_keepalive(void **st)
{
	const char *in = "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
	                 "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
	                 "CSeq: 1 OPTIONS\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n\r\nX";
	check_equal((const uint8_t *)in, strlen(in), "PING M:OPTIONS/2 PING PONG ");
}

static void t_pong(void **st)
{
	struct sip_stream *s = sip_stream_new();
	enum sip_stream_event ev;
	struct sip_msg *m;
	sip_stream_expect_pong(s);
	assert_int_equal(sip_stream_feed(s, (const uint8_t *)"\r\n", 2), FG_OK);
	assert_int_equal(sip_stream_next(s, &ev, &m, NULL), FG_OK);
	assert_int_equal(ev, SIP_STREAM_PONG);
	sip_stream_free(s);
	sip_stream_free(NULL);
}

static void t_stream_needs_length(void **st)
{
	size_t len;
	uint8_t *buf = read_data("valid/inv2543.dat", &len);
	struct fg_buf log = {0};
	run(buf, len, len, &log);
	assert_non_null(strstr(fg_buf_cstr(&log), "Content-Length is required"));
	fg_buf_free(&log);
	free(buf);
}

static void t_stream_head_cap(void **st)
{
	struct sip_stream *s = sip_stream_new();
	uint8_t chunk[4096];
	memset(chunk, 'a', sizeof(chunk));
	enum fg_err e = FG_OK;
	enum sip_stream_event ev;
	struct sip_msg *m;
	for (int i = 0; i < 20 && !e; i++) {
		assert_int_equal(sip_stream_feed(s, chunk, sizeof(chunk)), FG_OK);
		e = sip_stream_next(s, &ev, &m, NULL);
	}
	assert_int_equal(e, FG_ERR_TOOBIG);
	/* sticky */
	assert_int_equal(sip_stream_next(s, &ev, &m, NULL), FG_ERR_TOOBIG);
	sip_stream_free(s);
}

/* The bytes not yet framed are those of the message that failed (the gateway answers
 * from them), and framed bytes leave the buffer. */
static void t_stream_pending(void **st)
{
	(void)st;
	static const char ok[] = "OPTIONS sip:a@a.example SIP/2.0\r\nVia: SIP/2.0/TCP a.example"
	                         ";branch=z9hG4bK1\r\nFrom: <sip:b@b.example>;tag=1\r\n"
	                         "To: <sip:a@a.example>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
	                         "Content-Length: 0\r\n\r\n";
	static const char bad[] = "OPTIONS sip:a@a.example SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
	struct sip_stream *s = sip_stream_new();
	const uint8_t *d;
	size_t n;
	enum sip_stream_event ev;
	struct sip_msg *m;
	struct sip_error err;
	sip_stream_pending(s, &d, &n);
	assert_int_equal(n, 0);
	assert_int_equal(sip_stream_feed(s, (const uint8_t *)ok, sizeof(ok) - 1), FG_OK);
	assert_int_equal(sip_stream_feed(s, (const uint8_t *)"\r\n\r\n", 4), FG_OK);
	assert_int_equal(sip_stream_feed(s, (const uint8_t *)bad, 10), FG_OK);
	assert_int_equal(sip_stream_next(s, &ev, &m, &err), FG_OK);
	assert_int_equal(ev, SIP_STREAM_MESSAGE);
	sip_msg_free(m);
	sip_stream_pending(s, &d, &n);
	assert_int_equal(n, 14);
	assert_memory_equal(d, "\r\n\r\nOPTIONS si", 14);
	assert_int_equal(sip_stream_next(s, &ev, &m, &err), FG_OK);
	assert_int_equal(ev, SIP_STREAM_PING);
	assert_int_equal(sip_stream_next(s, &ev, &m, &err), FG_OK);
	assert_int_equal(ev, SIP_STREAM_NEED_MORE);
	assert_int_equal(sip_stream_feed(s, (const uint8_t *)bad + 10, sizeof(bad) - 11), FG_OK);
	assert_int_equal(sip_stream_next(s, &ev, &m, &err), FG_ERR_PARSE);
	sip_stream_pending(s, &d, &n);
	assert_int_equal(n, sizeof(bad) - 1);
	assert_memory_equal(d, bad, n);
	sip_stream_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_dblreq_stream),       cmocka_unit_test(t_all_valid_bytewise),
	    cmocka_unit_test(t_keepalive),           cmocka_unit_test(t_pong),
	    cmocka_unit_test(t_stream_needs_length), cmocka_unit_test(t_stream_head_cap),
	    cmocka_unit_test(t_stream_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
