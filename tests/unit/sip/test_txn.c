/* Unit tests: builder (RFC 3261 §8.2.6), transactions on a virtual clock (§17), dialogs (§12). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common.h"

static struct sip_msg *parse_buf(const struct fg_buf *b)
{
	struct sip_msg *m = NULL;
	struct sip_error err = {0};
	enum fg_err e = sip_msg_parse(b->data, b->len, SIP_PARSE_STREAM, &m, NULL, &err);
	if (e)
		fprintf(stderr, "parse: %s (%s)\n%.*s\n", fg_strerror(e), err.what, (int)b->len,
		        (const char *)b->data);
	assert_int_equal(e, FG_OK);
	return m;
}

static void build_req(struct fg_buf *b, const char *method, const char *branch, uint32_t cseq)
{
	struct sip_request_spec s = {
	    .method = method,
	    .ruri = "sip:bob@example.com",
	    .via_transport = "TCP",
	    .via_sent_by = "gw.example.net:5060",
	    .branch_random = branch,
	    .from = "\"Alice\" <sip:alice@example.net>",
	    .from_tag = "ftag1",
	    .to = "<sip:bob@example.com>",
	    .call_id = "call-1@gw.example.net",
	    .cseq = cseq,
	    .contact = "<sip:alice@gw.example.net;transport=tcp>",
	};
	if (strcmp(method, "MESSAGE") == 0) {
		s.content_type = "text/plain;charset=UTF-8";
		s.body = (const uint8_t *)"hello";
		s.body_len = 5;
	}
	assert_int_equal(sip_build_request(b, &s), FG_OK);
}

static struct sip_msg *response_to(const struct sip_msg *req, unsigned code, const char *tag,
                                   const char *extra)
{
	struct fg_buf b = {0};
	assert_int_equal(sip_build_response(&b, req, code, NULL, tag, extra, NULL, NULL, 0), FG_OK);
	struct sip_msg *m = parse_buf(&b);
	fg_buf_free(&b);
	return m;
}

static void t_build_request(void **st)
{
	struct fg_buf b = {0};
	build_req(&b, "MESSAGE", "abc123", 7);
	struct sip_msg *m = parse_buf(&b);
	assert_int_equal(m->method_id, SIP_METHOD_MESSAGE);
	assert_str(m->vias[0].branch, "z9hG4bKabc123");
	assert_str(m->vias[0].transport, "TCP");
	assert_int_equal(m->vias[0].port, 5060);
	assert_int_equal(m->max_forwards, 70);
	assert_str(m->from.tag, "ftag1");
	assert_str(m->from.display, "Alice");
	assert_null(m->to.tag.p);
	assert_int_equal(m->cseq, 7);
	assert_str(m->cseq_method, "MESSAGE");
	assert_int_equal(m->content_length, 5);
	assert_memory_equal(m->body, "hello", 5);
	assert_str(m->content_type, "text/plain;charset=UTF-8");
	sip_msg_free(m);
	fg_buf_free(&b);

	/* header injection refused */
	struct sip_request_spec s = {.method = "MESSAGE",
	                             .ruri = "sip:b@x\r\nX: y",
	                             .via_transport = "TCP",
	                             .via_sent_by = "h",
	                             .branch_random = "1",
	                             .from = "<sip:a@x>",
	                             .from_tag = "t",
	                             .to = "<sip:b@x>",
	                             .call_id = "c",
	                             .cseq = 1};
	assert_int_equal(sip_build_request(&b, &s), FG_ERR_INVAL);
	s.ruri = "sip:b@x";
	s.extra_headers = "X: y\r\n\r\nINVITE";
	assert_int_equal(sip_build_request(&b, &s), FG_ERR_INVAL);
	s.extra_headers = "X: y";
	assert_int_equal(sip_build_request(&b, &s), FG_ERR_INVAL);
	s.extra_headers = "X: y\r\nY: z\r\n";
	assert_int_equal(sip_build_request(&b, &s), FG_OK);
	fg_buf_free(&b);
}

static void t_build_response(void **st)
{
	size_t len;
	uint8_t *buf = read_data("valid/wsinv.dat", &len);
	struct sip_msg *req;
	assert_int_equal(sip_msg_parse(buf, len, SIP_PARSE_DATAGRAM, &req, NULL, NULL), FG_OK);
	free(buf);
	/* wsinv's To already has a tag: kept, not added (§8.2.6.2) */
	struct sip_msg *rsp = response_to(req, 486, "newtag", NULL);
	assert_int_equal(rsp->status, 486);
	assert_str(rsp->reason, "Busy Here");
	assert_int_equal(rsp->nvias, 3);
	assert_str(rsp->vias[1].branch, "z9hG4bK9ikj8");
	assert_str(rsp->to.tag, "1918181833n");
	assert_str(rsp->from.tag, "98asjd8");
	assert_str(rsp->call_id, "wsinv.ndaksdj@192.0.2.1");
	assert_int_equal(rsp->cseq, 9);
	assert_str(rsp->cseq_method, "INVITE");
	sip_msg_free(rsp);
	sip_msg_free(req);

	struct fg_buf b = {0};
	build_req(&b, "OPTIONS", "x1", 1);
	req = parse_buf(&b);
	fg_buf_free(&b);
	rsp = response_to(req, 100, "t9", NULL);
	assert_null(rsp->to.tag.p); /* no tag on 100 Trying */
	sip_msg_free(rsp);
	rsp = response_to(req, 200, "t9", "Allow: INVITE, MESSAGE\r\n");
	assert_str(rsp->to.tag, "t9");
	assert_int_equal(sip_msg_header_count(rsp, "Allow"), 2);
	sip_msg_free(rsp);
	sip_msg_free(req);
}

/* ---- transactions ---- */

static bool has(const struct sip_txn_actions *a, enum sip_txn_action_kind k)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->act[i].kind == k)
			return true;
	return false;
}

static size_t count(const struct sip_txn_actions *a, enum sip_txn_action_kind k)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		n += a->act[i].kind == k;
	return n;
}

/* Found by fuzz_sip_msg: a To display name holding an escaped NUL (RFC 4475 intmeth) was
 * cut at the NUL when copied into the response. */
static void t_build_response_nul(void **st)
{
	size_t len;
	uint8_t *buf = read_data("valid/intmeth.dat", &len);
	struct sip_msg *req;
	assert_int_equal(sip_msg_parse(buf, len, SIP_PARSE_DATAGRAM, &req, NULL, NULL), FG_OK);
	free(buf);
	struct sip_msg *rsp = response_to(req, 400, "t", NULL);
	assert_int_equal(rsp->to.display.len, req->to.display.len);
	assert_memory_equal(rsp->to.display.p, req->to.display.p, req->to.display.len);
	sip_msg_free(rsp);
	sip_msg_free(req);
}

static void t_nict_unreliable_timers(void **st)
{
	struct fg_buf b = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "MESSAGE", "e1", 1);
	assert_int_equal(sip_txn_client_new(SIP_METHOD_MESSAGE, b.data, b.len, false, 0, &t, &a),
	                 FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_SEND));
	assert_int_equal(sip_txn_state(t), SIP_TXN_TRYING);
	/* Timer E: 500, 1000, 2000, 4000, 4000 ... (capped at T2) */
	int64_t expect[] = {500, 1500, 3500, 7500, 11500, 15500};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(sip_txn_next_timer(t), expect[i]);
		assert_int_equal(sip_txn_on_timer(t, expect[i], &a), FG_OK);
		assert_true(has(&a, SIP_TXN_ACT_SEND));
	}
	/* Timer F = 64*T1 = 32 s */
	int64_t now = expect[5];
	while (sip_txn_next_timer(t) < 32000) {
		now = sip_txn_next_timer(t);
		assert_int_equal(sip_txn_on_timer(t, now, &a), FG_OK);
	}
	assert_int_equal(sip_txn_next_timer(t), 32000);
	assert_int_equal(sip_txn_on_timer(t, 32000, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_TIMEOUT));
	assert_true(has(&a, SIP_TXN_ACT_TERMINATE));
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_txn_free(t);
	fg_buf_free(&b);
}

static void t_nict_reliable(void **st)
{
	struct fg_buf b = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "MESSAGE", "r1", 1);
	assert_int_equal(sip_txn_client_new(SIP_METHOD_MESSAGE, b.data, b.len, true, 1000, &t, &a),
	                 FG_OK);
	/* no Timer E on reliable transports; Timer F still runs */
	assert_int_equal(sip_txn_next_timer(t), 1000 + 64 * SIP_T1_MS);
	struct sip_msg *req = parse_buf(&b);
	struct sip_msg *r1 = response_to(req, 180, "tt", NULL);
	struct sip_msg *r2 = response_to(req, 200, "tt", NULL);
	assert_true(sip_txn_match_response(t, r1));
	assert_int_equal(sip_txn_on_response(t, r1, 1100, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	assert_int_equal(sip_txn_state(t), SIP_TXN_PROCEEDING);
	assert_int_equal(sip_txn_on_response(t, r2, 1200, &a), FG_OK);
	/* Timer K = 0 on reliable: delivered and terminated at once */
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	assert_true(has(&a, SIP_TXN_ACT_TERMINATE));
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_msg_free(r1);
	sip_msg_free(r2);
	sip_msg_free(req);
	sip_txn_free(t);
	fg_buf_free(&b);
}

static void t_nict_unreliable_timer_k(void **st)
{
	struct fg_buf b = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "OPTIONS", "k1", 1);
	assert_int_equal(sip_txn_client_new(SIP_METHOD_OPTIONS, b.data, b.len, false, 0, &t, &a),
	                 FG_OK);
	struct sip_msg *req = parse_buf(&b);
	struct sip_msg *r = response_to(req, 404, "tt", NULL);
	assert_int_equal(sip_txn_on_response(t, r, 100, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_COMPLETED);
	assert_int_equal(sip_txn_next_timer(t), 100 + SIP_T4_MS); /* Timer K = T4 */
	assert_int_equal(sip_txn_on_timer(t, 100 + SIP_T4_MS, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_msg_free(r);
	sip_msg_free(req);
	sip_txn_free(t);
	fg_buf_free(&b);
}

static void t_ict_unreliable(void **st)
{
	struct fg_buf b = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "INVITE", "i1", 1);
	assert_int_equal(sip_txn_client_new(SIP_METHOD_INVITE, b.data, b.len, false, 0, &t, &a),
	                 FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_CALLING);
	/* Timer A doubles without cap: 500, 1500, 3500, 7500, 15500, 31500 */
	int64_t expect[] = {500, 1500, 3500, 7500, 15500, 31500};
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(sip_txn_next_timer(t), expect[i]);
		assert_int_equal(sip_txn_on_timer(t, expect[i], &a), FG_OK);
		assert_int_equal(count(&a, SIP_TXN_ACT_SEND), 1);
	}
	/* Timer B = 32 s */
	assert_int_equal(sip_txn_next_timer(t), 32000);
	struct sip_msg *req = parse_buf(&b);
	struct sip_msg *r = response_to(req, 486, "bt", NULL);
	assert_int_equal(sip_txn_on_response(t, r, 31800, &a), FG_OK);
	/* ACK sent, response delivered, Timer D = 32 s on unreliable */
	assert_int_equal(sip_txn_state(t), SIP_TXN_COMPLETED);
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	const struct sip_txn_action *send = &a.act[0];
	assert_int_equal(send->kind, SIP_TXN_ACT_SEND);
	struct fg_buf ackb = {0};
	fg_buf_append(&ackb, send->bytes, send->len);
	struct sip_msg *ack = parse_buf(&ackb);
	assert_int_equal(ack->method_id, SIP_METHOD_ACK);
	assert_str(ack->vias[0].branch, "z9hG4bKi1"); /* same branch as the INVITE */
	assert_str(ack->to.tag, "bt");
	assert_int_equal(ack->cseq, 1);
	assert_str(ack->cseq_method, "ACK");
	assert_int_equal(sip_txn_next_timer(t), 31800 + 32000);
	/* retransmitted 486: ACK again, not delivered */
	assert_int_equal(sip_txn_on_response(t, r, 32000, &a), FG_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.act[0].kind, SIP_TXN_ACT_SEND);
	assert_int_equal(sip_txn_on_timer(t, 31800 + 32000, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_msg_free(ack);
	fg_buf_free(&ackb);
	sip_msg_free(r);
	sip_msg_free(req);
	sip_txn_free(t);
	fg_buf_free(&b);
}

static void t_ict_reliable_timeout_and_2xx(void **st)
{
	struct fg_buf b = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "INVITE", "i2", 1);
	assert_int_equal(sip_txn_client_new(SIP_METHOD_INVITE, b.data, b.len, true, 0, &t, &a),
	                 FG_OK);
	assert_int_equal(sip_txn_next_timer(t), 32000); /* only Timer B */
	assert_int_equal(sip_txn_on_timer(t, 32000, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_TIMEOUT));
	sip_txn_free(t);

	assert_int_equal(sip_txn_client_new(SIP_METHOD_INVITE, b.data, b.len, true, 0, &t, &a),
	                 FG_OK);
	struct sip_msg *req = parse_buf(&b);
	struct sip_msg *r = response_to(req, 603, "x", NULL);
	assert_int_equal(sip_txn_on_response(t, r, 10, &a), FG_OK);
	/* Timer D = 0 on reliable: ACK, deliver, terminate in one step */
	assert_true(has(&a, SIP_TXN_ACT_SEND));
	assert_true(has(&a, SIP_TXN_ACT_TERMINATE));
	sip_txn_free(t);
	sip_msg_free(r);

	assert_int_equal(sip_txn_client_new(SIP_METHOD_INVITE, b.data, b.len, true, 0, &t, &a),
	                 FG_OK);
	r = response_to(req, 200, "x", NULL);
	assert_int_equal(sip_txn_on_response(t, r, 10, &a), FG_OK);
	assert_false(has(&a, SIP_TXN_ACT_SEND)); /* the TU ACKs a 2xx */
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	/* RFC 6026: Accepted, further 2xx delivered, Timer M = 64*T1 */
	assert_int_equal(sip_txn_state(t), SIP_TXN_ACCEPTED);
	assert_int_equal(sip_txn_next_timer(t), 10 + 64 * SIP_T1_MS);
	assert_int_equal(sip_txn_on_response(t, r, 20, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	assert_int_equal(sip_txn_on_timer(t, 10 + 64 * SIP_T1_MS, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_txn_free(t);
	sip_msg_free(r);
	sip_msg_free(req);
	fg_buf_free(&b);
}

static void t_ist(void **st)
{
	struct fg_buf b = {0}, rb = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "INVITE", "s1", 5);
	struct sip_msg *req = parse_buf(&b);
	assert_int_equal(sip_txn_server_new(req, false, 0, &t, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	assert_int_equal(sip_txn_state(t), SIP_TXN_PROCEEDING);
	assert_true(sip_txn_match_request(t, req));
	/* a retransmitted INVITE before any response: nothing to resend */
	assert_int_equal(sip_txn_on_request(t, req, 5, &a), FG_OK);
	assert_int_equal(a.n, 0);
	assert_int_equal(sip_build_response(&rb, req, 404, NULL, "st", NULL, NULL, NULL, 0), FG_OK);
	assert_int_equal(sip_txn_send_response(t, 404, rb.data, rb.len, 10, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_COMPLETED);
	/* Timer G: 500, 1000, 2000, 4000, 4000 */
	int64_t expect[] = {510, 1510, 3510, 7510, 11510};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(sip_txn_next_timer(t), expect[i]);
		assert_int_equal(sip_txn_on_timer(t, expect[i], &a), FG_OK);
		assert_true(has(&a, SIP_TXN_ACT_SEND));
	}
	/* ACK matches the INVITE transaction: Confirmed, Timer I = T4 */
	struct fg_buf ab = {0};
	fg_buf_printf(
	    &ab, "ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP "
	         "gw.example.net:5060;branch=z9hG4bKs1\r\n"
	         "From: <sip:alice@example.net>;tag=ftag1\r\nTo: <sip:bob@example.com>;tag=st\r\n"
	         "Call-ID: call-1@gw.example.net\r\nCSeq: 5 ACK\r\nContent-Length: 0\r\n\r\n");
	struct sip_msg *ack = parse_buf(&ab);
	assert_true(sip_txn_match_request(t, ack));
	assert_int_equal(sip_txn_on_request(t, ack, 12000, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_CONFIRMED);
	assert_int_equal(sip_txn_next_timer(t), 12000 + SIP_T4_MS);
	assert_int_equal(sip_txn_on_timer(t, 12000 + SIP_T4_MS, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_txn_free(t);

	/* Timer H: no ACK within 64*T1 */
	assert_int_equal(sip_txn_server_new(req, true, 0, &t, &a), FG_OK);
	assert_int_equal(sip_txn_send_response(t, 404, rb.data, rb.len, 0, &a), FG_OK);
	assert_int_equal(sip_txn_next_timer(t), 64 * SIP_T1_MS); /* no Timer G on reliable */
	assert_int_equal(sip_txn_on_timer(t, 64 * SIP_T1_MS, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_TIMEOUT));
	sip_txn_free(t);

	/* Timer I = 0 on reliable */
	assert_int_equal(sip_txn_server_new(req, true, 0, &t, &a), FG_OK);
	assert_int_equal(sip_txn_send_response(t, 404, rb.data, rb.len, 0, &a), FG_OK);
	assert_int_equal(sip_txn_on_request(t, ack, 1, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_TERMINATE));
	sip_txn_free(t);

	/* RFC 6026: 2xx moves the INVITE server transaction to Accepted (Timer L) */
	assert_int_equal(sip_txn_server_new(req, true, 0, &t, &a), FG_OK);
	assert_int_equal(sip_txn_send_response(t, 200, rb.data, rb.len, 0, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_ACCEPTED);
	assert_int_equal(sip_txn_next_timer(t), 64 * SIP_T1_MS);
	/* the TU retransmits its 2xx through the transaction; a 486 is refused */
	assert_int_equal(sip_txn_send_response(t, 200, rb.data, rb.len, 500, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_SEND));
	assert_int_equal(sip_txn_send_response(t, 486, rb.data, rb.len, 600, &a), FG_ERR_BUSY);
	/* a retransmitted INVITE is absorbed, a matching ACK goes to the TU */
	assert_int_equal(sip_txn_on_request(t, req, 700, &a), FG_OK);
	assert_int_equal(a.n, 0);
	assert_int_equal(sip_txn_on_request(t, ack, 800, &a), FG_OK);
	assert_true(has(&a, SIP_TXN_ACT_DELIVER));
	assert_int_equal(sip_txn_on_timer(t, 64 * SIP_T1_MS, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_txn_free(t);

	sip_msg_free(ack);
	sip_msg_free(req);
	fg_buf_free(&ab);
	fg_buf_free(&rb);
	fg_buf_free(&b);
}

static void t_nist(void **st)
{
	struct fg_buf b = {0}, rb = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "MESSAGE", "n1", 3);
	struct sip_msg *req = parse_buf(&b);
	assert_int_equal(sip_txn_server_new(req, false, 0, &t, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TRYING);
	assert_int_equal(sip_build_response(&rb, req, 200, NULL, "st", NULL, NULL, NULL, 0), FG_OK);
	assert_int_equal(sip_txn_send_response(t, 200, rb.data, rb.len, 100, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_COMPLETED);
	/* retransmission answered from the transaction */
	assert_int_equal(sip_txn_on_request(t, req, 200, &a), FG_OK);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.act[0].len, rb.len);
	/* Timer J = 64*T1 on unreliable */
	assert_int_equal(sip_txn_next_timer(t), 100 + 64 * SIP_T1_MS);
	assert_int_equal(sip_txn_on_timer(t, 100 + 64 * SIP_T1_MS, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_txn_free(t);
	/* Timer J = 0 on reliable */
	assert_int_equal(sip_txn_server_new(req, true, 0, &t, &a), FG_OK);
	assert_int_equal(sip_txn_send_response(t, 200, rb.data, rb.len, 100, &a), FG_OK);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TERMINATED);
	sip_txn_free(t);
	sip_txn_free(NULL);
	sip_msg_free(req);
	fg_buf_free(&rb);
	fg_buf_free(&b);
}

static void t_matching(void **st)
{
	struct fg_buf b = {0}, b2 = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "MESSAGE", "m1", 3);
	struct sip_msg *req = parse_buf(&b);
	assert_int_equal(sip_txn_server_new(req, true, 0, &t, &a), FG_OK);
	/* same branch, other sent-by: another transaction (§17.2.3) */
	struct sip_request_spec s = {.method = "MESSAGE",
	                             .ruri = "sip:bob@example.com",
	                             .via_transport = "TCP",
	                             .via_sent_by = "other.example.net",
	                             .branch_random = "m1",
	                             .from = "<sip:a@x>",
	                             .from_tag = "t",
	                             .to = "<sip:b@x>",
	                             .call_id = "c",
	                             .cseq = 3};
	assert_int_equal(sip_build_request(&b2, &s), FG_OK);
	struct sip_msg *other = parse_buf(&b2);
	assert_false(sip_txn_match_request(t, other));
	sip_msg_free(other);
	/* same branch, other method (CANCEL is its own transaction) */
	fg_buf_reset(&b2);
	s.method = "CANCEL";
	s.via_sent_by = "gw.example.net:5060";
	assert_int_equal(sip_build_request(&b2, &s), FG_OK);
	other = parse_buf(&b2);
	assert_false(sip_txn_match_request(t, other));
	sip_msg_free(other);
	sip_txn_free(t);

	/* client: branch and CSeq method */
	assert_int_equal(sip_txn_client_new(SIP_METHOD_MESSAGE, b.data, b.len, true, 0, &t, &a),
	                 FG_OK);
	struct sip_msg *r = response_to(req, 200, "x", NULL);
	assert_true(sip_txn_match_response(t, r));
	sip_msg_free(r);
	fg_buf_reset(&b2);
	build_req(&b2, "MESSAGE", "m2", 3);
	struct sip_msg *req2 = parse_buf(&b2);
	r = response_to(req2, 200, "x", NULL);
	assert_false(sip_txn_match_response(t, r));
	sip_msg_free(r);
	sip_msg_free(req2);
	sip_txn_free(t);
	sip_msg_free(req);
	fg_buf_free(&b);
	fg_buf_free(&b2);
}

/* A server transaction keeps its own keys: the request it came from may be freed, and a
 * retransmission still matches; a client transaction gives its branch for indexing. */
static void t_server_keys_outlive_request(void **st)
{
	(void)st;
	struct fg_buf b = {0};
	struct sip_txn *t;
	struct sip_txn_actions a;
	build_req(&b, "MESSAGE", "k1", 7);
	struct sip_msg *req = parse_buf(&b);
	assert_int_equal(sip_txn_server_new(req, true, 0, &t, &a), FG_OK);
	assert_int_equal(sip_txn_branch(t).p, NULL);
	sip_msg_free(req);
	struct sip_msg *again = parse_buf(&b);
	assert_true(sip_txn_match_request(t, again));
	sip_msg_free(again);
	sip_txn_free(t);
	assert_int_equal(sip_txn_client_new(SIP_METHOD_MESSAGE, b.data, b.len, true, 0, &t, &a),
	                 FG_OK);
	struct sip_str br = sip_txn_branch(t);
	assert_int_equal(br.len, strlen(SIP_BRANCH_COOKIE "k1"));
	assert_memory_equal(br.p, SIP_BRANCH_COOKIE "k1", br.len);
	sip_txn_free(t);
	fg_buf_free(&b);
}

/* A non-INVITE client transaction takes its branch straight from the request bytes when
 * they have the builder's shape, and from the full parser otherwise (compact form, LWS
 * around '=', a folded Via, a Via list): the same branch and matching either way; a
 * request without a branch or of another method is refused. */
static void t_client_branch_forms(void **st)
{
	(void)st;
	static const struct {
		const char *req;
		const char *branch; /* NULL: refused */
	} rows[] = {
	    {"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h:5060;branch=z9hG4bKq1\r\n"
	     "From: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
	     "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
	     "z9hG4bKq1"},
	    {"MESSAGE sip:b@x SIP/2.0\r\nMax-Forwards: 70\r\nv: SIP/2.0/TCP "
	     "h;rport;branch=z9hG4bKq2;x"
	     "\r\nFrom: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
	     "Content-Length: 0\r\n\r\n",
	     "z9hG4bKq2"},
	    {"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h ; branch = z9hG4bKq3\r\n"
	     "From: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
	     "Content-Length: 0\r\n\r\n",
	     "z9hG4bKq3"},
	    {"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n ;branch=z9hG4bKq4\r\n"
	     "From: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
	     "Content-Length: 0\r\n\r\n",
	     "z9hG4bKq4"},
	    {"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKq5, SIP/2.0/TCP "
	     "i;branch=z9hG4bKo"
	     "\r\nFrom: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
	     "Content-Length: 0\r\n\r\n",
	     "z9hG4bKq5"},
	    {"MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;received=1.2.3.4\r\n"
	     "From: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n"
	     "Content-Length: 0\r\n\r\n",
	     NULL},
	    {"OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKq7\r\n"
	     "From: <sip:a@y>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
	     "Content-Length: 0\r\n\r\n",
	     NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sip_txn *t = NULL;
		struct sip_txn_actions a;
		const uint8_t *req = (const uint8_t *)rows[i].req;
		size_t len = strlen(rows[i].req);
		enum fg_err e = sip_txn_client_new(SIP_METHOD_MESSAGE, req, len, true, 0, &t, &a);
		if (rows[i].branch == NULL) {
			assert_int_not_equal(e, FG_OK);
			assert_null(t);
			continue;
		}
		assert_int_equal(e, FG_OK);
		struct sip_str br = sip_txn_branch(t);
		assert_int_equal(br.len, strlen(rows[i].branch));
		assert_memory_equal(br.p, rows[i].branch, br.len);
		struct sip_msg *m = NULL;
		assert_int_equal(sip_msg_parse(req, len, SIP_PARSE_DATAGRAM, &m, NULL, NULL),
		                 FG_OK);
		struct sip_msg *r = response_to(m, 200, "x", NULL);
		assert_true(sip_txn_match_response(t, r));
		sip_msg_free(r);
		sip_msg_free(m);
		sip_txn_free(t);
	}
}

static void t_rfc2543_matching(void **st)
{
	size_t len;
	uint8_t *buf = read_data("valid/inv2543.dat", &len);
	struct sip_msg *req;
	struct sip_txn *t;
	struct sip_txn_actions a;
	assert_int_equal(sip_msg_parse(buf, len, SIP_PARSE_DATAGRAM, &req, NULL, NULL), FG_OK);
	free(buf);
	assert_int_equal(sip_txn_server_new(req, false, 0, &t, &a), FG_OK);
	assert_true(sip_txn_match_request(t, req));
	sip_txn_free(t);
	sip_msg_free(req);
}

/* ---- dialogs ---- */

static void t_dialog_invite(void **st)
{
	struct fg_buf b = {0}, rb = {0}, nb = {0};
	build_req(&b, "INVITE", "d1", 10);
	struct sip_msg *req = parse_buf(&b);
	assert_int_equal(sip_build_response(&rb, req, 200, NULL, "bobtag",
	                                    "Record-Route: <sip:p1.example.com;lr>\r\n"
	                                    "Record-Route: <sip:p2.example.com;lr>\r\n"
	                                    "Contact: <sip:bob@192.0.2.4:5070>\r\n",
	                                    NULL, NULL, 0),
	                 FG_OK);
	struct sip_msg *rsp = parse_buf(&rb);
	struct sip_dialog *uac, *uas;
	assert_int_equal(sip_dialog_new_uac(req, rsp, &uac), FG_OK);
	assert_string_equal(uac->local_tag, "ftag1");
	assert_string_equal(uac->remote_tag, "bobtag");
	assert_string_equal(uac->remote_target, "sip:bob@192.0.2.4:5070");
	assert_int_equal(uac->nroutes, 2);
	assert_string_equal(uac->routes[0], "<sip:p2.example.com;lr>"); /* reversed for UAC */
	assert_false(uac->early);
	/* in-dialog BYE: next CSeq, remote target, route set, both tags */
	assert_int_equal(sip_dialog_build_request(uac, &nb, "BYE", "TCP", "gw.example.net", "b2",
	                                          false, NULL, NULL, NULL, 0),
	                 FG_OK);
	struct sip_msg *bye = parse_buf(&nb);
	assert_str(bye->ruri.text, "sip:bob@192.0.2.4:5070");
	assert_int_equal(bye->cseq, 11);
	assert_str(bye->to.tag, "bobtag");
	assert_str(bye->from.tag, "ftag1");
	assert_str(sip_msg_header(bye, "Route", 0)->value, "<sip:p2.example.com;lr>");
	assert_str(sip_msg_header(bye, "Route", 1)->value, "<sip:p1.example.com;lr>");

	/* UAS side receives it */
	assert_int_equal(sip_dialog_new_uas(req, "bobtag", &uas), FG_OK);
	assert_int_equal(uas->nroutes, 0); /* the INVITE carried no Record-Route */
	assert_int_equal(sip_dialog_on_request(uas, req), FG_ERR_NOTFOUND); /* no To tag */
	assert_int_equal(sip_dialog_on_request(uas, bye), FG_OK);
	assert_int_equal(uas->remote_cseq, 11);
	/* the same CSeq again is out of order: 500 (§12.2.2) */
	assert_int_equal(sip_dialog_on_request(uas, bye), FG_ERR_INVAL);
	sip_msg_free(bye);

	/* strict router first: it becomes the Request-URI, target goes last */
	free(uac->routes[0]);
	uac->routes[0] = strdup("<sip:strict.example.com>");
	fg_buf_reset(&nb);
	assert_int_equal(sip_dialog_build_request(uac, &nb, "INFO", "TCP", "gw.example.net", "b3",
	                                          false, NULL, NULL, NULL, 0),
	                 FG_OK);
	bye = parse_buf(&nb);
	assert_str(bye->ruri.text, "sip:strict.example.com");
	assert_int_equal(sip_msg_header_count(bye, "Route"), 2);
	assert_str(sip_msg_header(bye, "Route", 1)->value, "<sip:bob@192.0.2.4:5070>");
	assert_int_equal(bye->cseq, 12);
	sip_msg_free(bye);

	sip_dialog_free(uac);
	sip_dialog_free(uas);
	sip_dialog_free(NULL);
	sip_msg_free(rsp);
	sip_msg_free(req);
	fg_buf_free(&b);
	fg_buf_free(&rb);
	fg_buf_free(&nb);
}

static void t_dialog_early_confirm(void **st)
{
	struct fg_buf b = {0}, r1 = {0}, r2 = {0};
	build_req(&b, "INVITE", "e1", 3);
	struct sip_msg *req = parse_buf(&b);
	assert_int_equal(sip_build_response(&r1, req, 183, NULL, "bt",
	                                    "Record-Route: <sip:early.example.com;lr>\r\n"
	                                    "Contact: <sip:bob@early.example.com>\r\n",
	                                    NULL, NULL, 0),
	                 FG_OK);
	assert_int_equal(sip_build_response(&r2, req, 200, NULL, "bt",
	                                    "Contact: <sip:bob@final.example.com>\r\n", NULL, NULL,
	                                    0),
	                 FG_OK);
	struct sip_msg *p183 = parse_buf(&r1), *ok = parse_buf(&r2);
	struct sip_dialog *d;
	assert_int_equal(sip_dialog_new_uac(req, p183, &d), FG_OK);
	assert_true(d->early);
	assert_int_equal(d->nroutes, 1);
	assert_int_equal(sip_dialog_confirm(d, ok), FG_OK);
	assert_false(d->early);
	assert_int_equal(d->nroutes, 0); /* the 2xx's (empty) route set wins */
	assert_string_equal(d->remote_target, "sip:bob@final.example.com");
	assert_int_equal(sip_dialog_confirm(d, p183), FG_ERR_INVAL);
	sip_dialog_free(d);
	sip_msg_free(p183);
	sip_msg_free(ok);
	sip_msg_free(req);
	fg_buf_free(&b);
	fg_buf_free(&r1);
	fg_buf_free(&r2);
}

static void t_dialog_subscribe_notify(void **st)
{
	struct fg_buf b = {0}, nb = {0};
	build_req(&b, "SUBSCRIBE", "sub1", 1);
	struct sip_msg *sub = parse_buf(&b);
	/* RFC 6665 §4.1.2.4: the NOTIFY may arrive before the 2xx and creates the dialog */
	fg_buf_printf(&nb, "NOTIFY sip:alice@gw.example.net SIP/2.0\r\n"
	                   "Via: SIP/2.0/TCP pres.example.com;branch=z9hG4bKn1\r\n"
	                   "From: <sip:bob@example.com>;tag=presence1\r\n"
	                   "To: <sip:alice@example.net>;tag=ftag1\r\n"
	                   "Call-ID: call-1@gw.example.net\r\nCSeq: 7 NOTIFY\r\n"
	                   "Event: presence\r\nSubscription-State: active;expires=3600\r\n"
	                   "Contact: <sip:pres.example.com;transport=tcp>\r\n"
	                   "Record-Route: <sip:rr.example.com;lr>\r\nContent-Length: 0\r\n\r\n");
	struct sip_msg *notify = parse_buf(&nb);
	struct sip_dialog *d;
	assert_int_equal(sip_dialog_new_uac(sub, notify, &d), FG_OK);
	assert_string_equal(d->remote_tag, "presence1");
	assert_string_equal(d->remote_target, "sip:pres.example.com;transport=tcp");
	assert_int_equal(d->remote_cseq, 7);
	assert_string_equal(d->routes[0], "<sip:rr.example.com;lr>");
	sip_dialog_free(d);
	/* a NOTIFY for somebody else's SUBSCRIBE does not */
	struct sip_msg *other;
	fg_buf_reset(&b);
	build_req(&b, "INVITE", "x", 1);
	other = parse_buf(&b);
	assert_int_equal(sip_dialog_new_uac(other, notify, &d), FG_ERR_INVAL);
	sip_msg_free(other);
	sip_msg_free(notify);
	sip_msg_free(sub);
	fg_buf_free(&b);
	fg_buf_free(&nb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_build_request),
	    cmocka_unit_test(t_build_response),
	    cmocka_unit_test(t_build_response_nul),
	    cmocka_unit_test(t_nict_unreliable_timers),
	    cmocka_unit_test(t_nict_reliable),
	    cmocka_unit_test(t_nict_unreliable_timer_k),
	    cmocka_unit_test(t_ict_unreliable),
	    cmocka_unit_test(t_ict_reliable_timeout_and_2xx),
	    cmocka_unit_test(t_ist),
	    cmocka_unit_test(t_nist),
	    cmocka_unit_test(t_matching),
	    cmocka_unit_test(t_server_keys_outlive_request),
	    cmocka_unit_test(t_rfc2543_matching),
	    cmocka_unit_test(t_client_branch_forms),
	    cmocka_unit_test(t_dialog_invite),
	    cmocka_unit_test(t_dialog_early_confirm),
	    cmocka_unit_test(t_dialog_subscribe_notify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
