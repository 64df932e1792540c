/* Unit tests for the SIP gateway's isComposing timing on a virtual clock: the receiver's
 * refresh timeout (RFC 3994 §3.3) and the composer's rate (RFC 3994 §3.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sipgw/sipgw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0     1000000
#define ALICE  "alice@sip.test"
#define JULIET "juliet@capulet.test"

struct idle_log {
	unsigned n;
	char from[64], to[64], thread[64];
};

static void idle_cb(void *ctx, const char *from, const char *to, const char *thread)
{
	struct idle_log *l = ctx;
	l->n++;
	snprintf(l->from, sizeof(l->from), "%s", from);
	snprintf(l->to, sizeof(l->to), "%s", to);
	snprintf(l->thread, sizeof(l->thread), "%s", thread);
}

static void active(struct sipgw_isc_rx *t, const char *from, const char *to, long refresh,
                   int64_t now, struct idle_log *l)
{
	sipgw__isc_rx_active(t, from, strlen(from), to, strlen(to), "th1", 3, refresh, now, idle_cb,
	                     l);
}

static void test_refresh_values(void **state)
{
	(void)state;
	assert_int_equal(sipgw__isc_refresh_s(-1), 120); /* RFC 3994 §3.3 default */
	assert_int_equal(sipgw__isc_refresh_s(0), 120);
	assert_int_equal(sipgw__isc_refresh_s(1), 1);
	assert_int_equal(sipgw__isc_refresh_s(90), 90);
	assert_int_equal(sipgw__isc_refresh_s(100000), XLATE_ISCOMPOSING_REFRESH_MAX);
}

static void test_rx_timeout(void **state)
{
	(void)state;
	struct sipgw_isc_rx *t = sipgw__isc_rx_new();
	struct idle_log l = {0};
	active(t, ALICE, JULIET, 2, T0, &l);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 1999, idle_cb, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 2000, idle_cb, &l), 1);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.from, ALICE);
	assert_string_equal(l.to, JULIET);
	assert_string_equal(l.thread, "th1");
	/* once: the composer is idle now */
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 9000, idle_cb, &l), 0);
	assert_int_equal(sipgw__isc_rx_count(t), 0);
	/* no <refresh>: 120 s */
	active(t, ALICE, JULIET, -1, T0, &l);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 119999, idle_cb, &l), 0);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 120000, idle_cb, &l), 1);
	sipgw__isc_rx_free(t);
}

static void test_rx_reset_and_cancel(void **state)
{
	(void)state;
	struct sipgw_isc_rx *t = sipgw__isc_rx_new();
	struct idle_log l = {0};
	/* another active resets the timer (and takes its own refresh) */
	active(t, ALICE, JULIET, 2, T0, &l);
	active(t, ALICE, JULIET, 5, T0 + 1500, &l);
	assert_int_equal(sipgw__isc_rx_count(t), 1);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 6499, idle_cb, &l), 0);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 6500, idle_cb, &l), 1);
	/* a content message or idle ends the wait: nothing is sent later */
	active(t, ALICE, JULIET, 2, T0, &l);
	assert_true(sipgw__isc_rx_cancel(t, ALICE, strlen(ALICE), JULIET, strlen(JULIET)));
	assert_false(sipgw__isc_rx_cancel(t, ALICE, strlen(ALICE), JULIET, strlen(JULIET)));
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 60000, idle_cb, &l), 0);
	assert_int_equal(l.n, 1);
	/* pairs are separate: another recipient's timer is untouched by this cancel */
	active(t, ALICE, JULIET, 2, T0, &l);
	active(t, ALICE, "romeo@montague.test", 2, T0, &l);
	assert_true(sipgw__isc_rx_cancel(t, ALICE, strlen(ALICE), JULIET, strlen(JULIET)));
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 2000, idle_cb, &l), 1);
	assert_string_equal(l.to, "romeo@montague.test");
	/* a NULL table (nothing armed yet) is a no-op */
	assert_false(sipgw__isc_rx_cancel(NULL, ALICE, strlen(ALICE), JULIET, strlen(JULIET)));
	assert_int_equal(sipgw__isc_rx_expire(NULL, T0, idle_cb, &l), 0);
	sipgw__isc_rx_free(NULL);
	sipgw__isc_rx_free(t);
}

static void test_rx_full(void **state)
{
	(void)state;
	struct sipgw_isc_rx *t = sipgw__isc_rx_new();
	struct idle_log l = {0};
	char from[64];
	for (unsigned i = 0; i < SIPGW_ISC_RX_MAX; i++) {
		snprintf(from, sizeof(from), "u%u@sip.test", i);
		/* u7 is due first */
		active(t, from, JULIET, i == 7 ? 10 : 60, T0, &l);
	}
	assert_int_equal(l.n, 0);
	/* full: the composer due first is taken idle now, not left composing forever */
	active(t, "late@sip.test", JULIET, 60, T0, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.from, "u7@sip.test");
	assert_int_equal(sipgw__isc_rx_count(t), SIPGW_ISC_RX_MAX);
	assert_int_equal(sipgw__isc_rx_expire(t, T0 + 60000, idle_cb, &l), SIPGW_ISC_RX_MAX);
	sipgw__isc_rx_free(t);
}

static void test_tx_rate(void **state)
{
	(void)state;
	struct sipgw_isc_tx *t = sipgw__isc_tx_new();
	const uint64_t k = 0x1234, other = 0x5678;
	const int64_t refresh = (int64_t)XLATE_ISCOMPOSING_REFRESH * 1000;
	/* first composing goes; again within the announced refresh: not again */
	assert_true(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0));
	assert_false(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + 1000));
	assert_false(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + refresh - 1));
	/* another pair is its own */
	assert_true(sipgw__isc_tx_decide(t, other, false, XLATE_CS_COMPOSING, T0 + 1000));
	/* past the refresh interval: the refresh goes */
	assert_true(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + refresh));
	/* paused -> idle goes once; a second idle state (inactive) says nothing new */
	assert_true(sipgw__isc_tx_decide(t, k, false, XLATE_CS_PAUSED, T0 + refresh + 1));
	assert_false(sipgw__isc_tx_decide(t, k, false, XLATE_CS_INACTIVE, T0 + refresh + 2));
	/* after an idle, active goes at once */
	assert_true(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + refresh + 3));
	/* a content message: no idle right after it (it already implied idle) */
	assert_true(sipgw__isc_tx_decide(t, k, true, XLATE_CS_ACTIVE, T0 + refresh + 4));
	assert_false(sipgw__isc_tx_decide(t, k, false, XLATE_CS_ACTIVE, T0 + refresh + 5));
	/* ... and composing again goes at once */
	assert_true(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + refresh + 6));
	/* a NULL table sends everything */
	assert_true(sipgw__isc_tx_decide(NULL, k, false, XLATE_CS_COMPOSING, T0));
	sipgw__isc_tx_free(NULL);
	sipgw__isc_tx_free(t);
}

static void test_tx_full(void **state)
{
	(void)state;
	struct sipgw_isc_tx *t = sipgw__isc_tx_new();
	const uint64_t sets = SIPGW_ISC_TX_MAX / SIPGW_ISC_TX_WAYS;
	/* every pair of the table remembered: a second active within the interval is held */
	for (uint64_t k = 1; k <= SIPGW_ISC_TX_MAX; k++)
		assert_true(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + (int64_t)k));
	for (uint64_t k = 1; k <= SIPGW_ISC_TX_MAX; k++)
		assert_false(sipgw__isc_tx_decide(t, k, false, XLATE_CS_COMPOSING, T0 + 3000));
	/* a new pair takes, in its set, the slot of the one whose state went longest ago:
	 * 1 + SIPGW_ISC_TX_MAX falls in key 1's set, where key 1 is the oldest */
	uint64_t nk = 1 + SIPGW_ISC_TX_MAX;
	assert_int_equal(nk % sets, 1 % sets);
	assert_true(sipgw__isc_tx_decide(t, nk, false, XLATE_CS_COMPOSING, T0 + 5000));
	assert_true(sipgw__isc_tx_decide(t, 1, false, XLATE_CS_COMPOSING, T0 + 5001));
	/* key 1 came back in the slot of the then oldest of the set, 1 + sets */
	assert_true(sipgw__isc_tx_decide(t, 1 + sets, false, XLATE_CS_COMPOSING, T0 + 5002));
	assert_false(sipgw__isc_tx_decide(t, 1, false, XLATE_CS_COMPOSING, T0 + 5003));
	sipgw__isc_tx_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refresh_values),
	    cmocka_unit_test(test_rx_timeout),
	    cmocka_unit_test(test_rx_reset_and_cancel),
	    cmocka_unit_test(test_rx_full),
	    cmocka_unit_test(test_tx_rate),
	    cmocka_unit_test(test_tx_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
