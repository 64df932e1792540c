/* Unit tests for the timing of presence subscriptions (RFC 6665 §4.1.2.2 refresh, §4.1.2.4
 * Timer N, §4.2.1.4 expiry; RFC 8048 §5.2.2 retries, §8.1 dormancy): what is due when, and
 * that an engine checking every tick acts at the due time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sipgw/sipgw_internal.h"

#include <stdint.h>
#include <string.h>

#define T0 1700000000000LL /* wall clock of the grant, ms */

static struct db_subscription granted(enum db_sub_direction dir, long expires_s, bool dialog)
{
	struct db_subscription s;
	memset(&s, 0, sizeof(s));
	s.direction = dir;
	s.state = DB_SUB_ACTIVE;
	s.refreshed_ms = T0;
	s.expires_ms = T0 + (int64_t)expires_s * 1000;
	if (dialog)
		memcpy(s.remote_tag, "edge1", 6);
	return s;
}

static void test_refresh_due(void **state)
{
	(void)state;
	struct db_subscription s = granted(DB_SUB_XMPP_WATCHER, 600, true);
	int64_t due = 0;
	/* 80% of 600 s */
	assert_int_equal(sipgw__sub_due(&s, T0, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + 480000);
	assert_int_equal(sipgw__sub_due(&s, T0 + 479999, &due), SIPGW_SUB_WAIT);
	assert_int_equal(sipgw__sub_due(&s, T0 + 480000, &due), SIPGW_SUB_REFRESH);
	/* a short grant (Expires: 10): Timer F margin, never before half the period */
	s = granted(DB_SUB_XMPP_WATCHER, 10, true);
	assert_int_equal(sipgw__sub_due(&s, T0, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + 5000);
	assert_true(due < s.expires_ms);
	/* no dialog: a new SUBSCRIBE just after its end (RFC 8048 §5.2.2: the authorization
	 * is long-lived), never a refresh */
	s = granted(DB_SUB_XMPP_WATCHER, 10, false);
	assert_int_equal(sipgw__sub_due(&s, T0 + 9000, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + 10001);
	assert_int_equal(sipgw__sub_due(&s, T0 + 10001, &due), SIPGW_SUB_RETRY);
	/* a grant with no length left is not refreshed every tick */
	s = granted(DB_SUB_XMPP_WATCHER, 0, true);
	assert_int_equal(sipgw__sub_due(&s, T0, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + SIPGW_SUB_SCAN_MS);
	/* unsubscribed: kept for the final NOTIFY until expires_ms, then dropped (RFC 6665
	 * §4.1.2.3) */
	s = granted(DB_SUB_XMPP_WATCHER, 10, true);
	s.state = DB_SUB_TERMINATED;
	s.expires_ms = T0 + SIPGW_FINAL_NOTIFY_WAIT_MS;
	s.retry_at_ms = T0 + 1; /* the Expires 0 in flight changes nothing */
	assert_int_equal(sipgw__sub_due(&s, T0 + 1000, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + SIPGW_FINAL_NOTIFY_WAIT_MS);
	assert_int_equal(sipgw__sub_due(&s, T0 + SIPGW_FINAL_NOTIFY_WAIT_MS, &due), SIPGW_SUB_DROP);
}

static void test_retry_and_timer_n(void **state)
{
	(void)state;
	int64_t due = 0;
	/* a SUBSCRIBE in flight, or a failed one (RFC 8048 §5.2.2 transient): the retry time
	 * wins over the refresh */
	struct db_subscription s = granted(DB_SUB_XMPP_WATCHER, 600, true);
	s.retry_at_ms = T0 + 30000;
	assert_int_equal(sipgw__sub_due(&s, T0, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + 30000);
	assert_int_equal(sipgw__sub_due(&s, T0 + 30000, &due), SIPGW_SUB_RETRY);
	/* RFC 6665 §4.1.2.4: Timer N (64*T1) with no NOTIFY */
	s = granted(DB_SUB_XMPP_WATCHER, 600, true);
	s.notify_by_ms = T0 + SIPGW_TIMER_N_MS;
	assert_int_equal(SIPGW_TIMER_N_MS, 32000);
	assert_int_equal(sipgw__sub_due(&s, T0, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + SIPGW_TIMER_N_MS);
	assert_int_equal(sipgw__sub_due(&s, T0 + SIPGW_TIMER_N_MS, &due), SIPGW_SUB_NO_NOTIFY);
	/* a NOTIFY came (notify_by_ms cleared): the refresh as usual */
	s.notify_by_ms = 0;
	assert_int_equal(sipgw__sub_due(&s, T0 + SIPGW_TIMER_N_MS, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + 480000);
	/* no dialog yet and no NOTIFY: Timer N comes first */
	s = granted(DB_SUB_XMPP_WATCHER, 600, false);
	s.notify_by_ms = T0 + SIPGW_TIMER_N_MS;
	assert_int_equal(sipgw__sub_due(&s, T0, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + SIPGW_TIMER_N_MS);
	assert_int_equal(sipgw__sub_due(&s, T0 + SIPGW_TIMER_N_MS, &due), SIPGW_SUB_NO_NOTIFY);
	/* RFC 8048 §8.1, §5.2.2: dormant while the XMPP user is offline: nothing, ever (no
	 * refresh, no Timer N) until the user is back */
	s = granted(DB_SUB_XMPP_WATCHER, 10, true);
	s.retry_at_ms = SIPGW_SUB_DORMANT;
	s.notify_by_ms = T0 + 1;
	assert_int_equal(sipgw__sub_due(&s, T0 + 3600000, &due), SIPGW_SUB_WAIT);
	assert_true(due == INT64_MAX);
	/* Timer N does not apply to the SIP watchers' subscriptions (we are the notifier) */
	s = granted(DB_SUB_SIP_WATCHER, 600, true);
	s.notify_by_ms = T0 + 1;
	assert_int_equal(sipgw__sub_due(&s, T0 + 2, &due), SIPGW_SUB_WAIT);
}

static void test_watcher_expiry_due(void **state)
{
	(void)state;
	struct db_subscription s = granted(DB_SUB_SIP_WATCHER, 10, true);
	int64_t due = 0;
	assert_int_equal(sipgw__sub_due(&s, T0 + 10000, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + 10001);
	assert_int_equal(sipgw__sub_due(&s, T0 + 10001, &due), SIPGW_SUB_EXPIRE);
	/* a fetch waiting for the state (RFC 6665 §4.4.3): its NOTIFY at the end of the wait */
	s = granted(DB_SUB_SIP_WATCHER, 0, true);
	s.state = DB_SUB_TERMINATED;
	s.expires_ms = T0 + SIPGW_FETCH_WAIT_MS;
	assert_int_equal(sipgw__sub_due(&s, T0 + 1, &due), SIPGW_SUB_WAIT);
	assert_int_equal(due, T0 + SIPGW_FETCH_WAIT_MS);
	assert_int_equal(sipgw__sub_due(&s, T0 + SIPGW_FETCH_WAIT_MS, &due), SIPGW_SUB_FETCH_END);
}

/* The engine's loop on a virtual clock: a tick every SIPGW_TICK_MS from an arbitrary phase;
 * the store is read when sipgw__presence_scan_due says so. Returns when the first action
 * happened. */
static int64_t first_action(const struct db_subscription *s, int64_t start,
                            enum sipgw_sub_action *act)
{
	int64_t due_known = 0, last_scan = 0;
	for (int64_t now = start; now < start + 120000; now += SIPGW_TICK_MS) {
		if (!sipgw__presence_scan_due(now, due_known, last_scan))
			continue;
		last_scan = now;
		int64_t due = INT64_MAX;
		*act = sipgw__sub_due(s, now, &due);
		if (*act != SIPGW_SUB_WAIT)
			return now;
		due_known = due;
	}
	return -1;
}

static void test_acts_on_time(void **state)
{
	(void)state;
	/* whatever the phase of the ticks against the grant, the action comes within one
	 * tick of its due time: a 10 s grant is refreshed at 5 s, never at 10 s or later */
	for (int64_t phase = 0; phase < 5000; phase += 37) {
		enum sipgw_sub_action act = SIPGW_SUB_WAIT;
		struct db_subscription s = granted(DB_SUB_XMPP_WATCHER, 10, true);
		int64_t at = first_action(&s, T0 - 4999 + phase, &act);
		assert_int_equal(act, SIPGW_SUB_REFRESH);
		assert_true(at >= T0 + 5000);
		assert_true(at < T0 + 5000 + SIPGW_TICK_MS);

		s = granted(DB_SUB_SIP_WATCHER, 10, true);
		at = first_action(&s, T0 - 4999 + phase, &act);
		assert_int_equal(act, SIPGW_SUB_EXPIRE);
		assert_true(at >= T0 + 10001);
		assert_true(at < T0 + 10001 + SIPGW_TICK_MS);
	}
}

static void test_scan_due(void **state)
{
	(void)state;
	/* unknown: scan at once; nothing due: only the periodic scan; the clock going back */
	assert_true(sipgw__presence_scan_due(T0, 0, T0));
	assert_false(sipgw__presence_scan_due(T0 + 1000, INT64_MAX, T0));
	assert_false(sipgw__presence_scan_due(T0 + 1000, T0 + 1001, T0));
	assert_true(sipgw__presence_scan_due(T0 + 1001, T0 + 1001, T0));
	assert_true(sipgw__presence_scan_due(T0 + SIPGW_SUB_SCAN_MS, INT64_MAX, T0));
	assert_true(sipgw__presence_scan_due(T0 - 1, INT64_MAX, T0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refresh_due),       cmocka_unit_test(test_watcher_expiry_due),
	    cmocka_unit_test(test_retry_and_timer_n), cmocka_unit_test(test_acts_on_time),
	    cmocka_unit_test(test_scan_due),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
