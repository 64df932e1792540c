/* Unit tests for the SIP gateway's last-presence cache that answers SIP fetches (RFC 6665
 * §4.4.3, RFC 8048 §7.2): per watcher and XMPP resource, bounded, unavailable and forget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sipgw/sipgw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W1  "sip:alice@sip.test"
#define W2  "sip:eve@sip.test"
#define BOB "bob@nowhere.test"

static struct xlate_presence pres(bool available, const char *resource, const char *status)
{
	struct xlate_presence p = {.available = available, .show = XLATE_SHOW_AWAY};
	p.resource = (char *)resource;
	p.status = (char *)status;
	return p;
}

static void put(struct sipgw_pres_cache *c, const char *w, const char *bare, bool available,
                const char *resource, const char *status)
{
	struct xlate_presence p = pres(available, resource, status);
	sipgw__pres_cache_put(c, w, bare, &p); /* copies: p's strings stay ours */
}

static void test_empty_and_null(void **state)
{
	(void)state;
	struct xlate_presence out;
	/* before any presence (and after a restart) there is nothing: the probe path */
	assert_false(sipgw__pres_cache_get(NULL, W1, BOB, &out));
	put(NULL, W1, BOB, true, "r", "x"); /* no table: nothing happens */
	sipgw__pres_cache_forget(NULL, W1, BOB);
	sipgw__pres_cache_free(NULL);
	struct sipgw_pres_cache *c = sipgw__pres_cache_new();
	assert_non_null(c);
	assert_false(sipgw__pres_cache_get(c, W1, BOB, &out));
	sipgw__pres_cache_free(c);
}

static void test_latest_per_watcher(void **state)
{
	(void)state;
	struct sipgw_pres_cache *c = sipgw__pres_cache_new();
	struct xlate_presence out;
	put(c, W1, BOB, true, "r", "busy now");
	assert_true(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_true(out.available);
	assert_string_equal(out.status, "busy now");
	assert_string_equal(out.resource, "r");
	assert_int_equal(out.show, XLATE_SHOW_AWAY);
	xlate_presence_clear(&out);
	/* XMPP authorizes per contact: another watcher learns nothing from W1's subscription */
	assert_false(sipgw__pres_cache_get(c, W2, BOB, &out));
	assert_false(sipgw__pres_cache_get(c, W1, "carol@nowhere.test", &out));
	/* the same resource again: replaced, not added */
	put(c, W1, BOB, true, "r", "back");
	assert_int_equal(sipgw__pres_cache_count(c), 1);
	assert_true(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_string_equal(out.status, "back");
	xlate_presence_clear(&out);
	sipgw__pres_cache_free(c);
}

static void test_resources_and_unavailable(void **state)
{
	(void)state;
	struct sipgw_pres_cache *c = sipgw__pres_cache_new();
	struct xlate_presence out;
	put(c, W1, BOB, true, "home", "at home");
	put(c, W1, BOB, true, "work", "at work");
	assert_true(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_string_equal(out.status, "at work"); /* the latest */
	xlate_presence_clear(&out);
	/* one resource goes offline: an available one still answers */
	put(c, W1, BOB, false, "work", NULL);
	assert_true(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_true(out.available);
	assert_string_equal(out.status, "at home");
	xlate_presence_clear(&out);
	/* the last one too: the fetch gets unavailable (closed), not stale open presence */
	put(c, W1, BOB, false, "home", "gone home");
	assert_true(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_false(out.available);
	assert_string_equal(out.status, "gone home");
	xlate_presence_clear(&out);
	/* unavailable from the bare JID takes every resource offline */
	put(c, W1, BOB, true, "home", "again");
	put(c, W1, BOB, true, "work", "again");
	put(c, W1, BOB, false, NULL, NULL);
	assert_int_equal(sipgw__pres_cache_count(c), 1);
	assert_true(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_false(out.available);
	assert_null(out.resource);
	xlate_presence_clear(&out);
	sipgw__pres_cache_free(c);
}

static void test_forget(void **state)
{
	(void)state;
	struct sipgw_pres_cache *c = sipgw__pres_cache_new();
	struct xlate_presence out;
	put(c, W1, BOB, true, "r", "a");
	put(c, W1, BOB, true, "s", "b");
	put(c, W2, BOB, true, "r", "c");
	/* W1's subscription ended or was refused (unsubscribed): W1's entries go */
	sipgw__pres_cache_forget(c, W1, BOB);
	assert_false(sipgw__pres_cache_get(c, W1, BOB, &out));
	assert_true(sipgw__pres_cache_get(c, W2, BOB, &out));
	assert_string_equal(out.status, "c");
	xlate_presence_clear(&out);
	assert_int_equal(sipgw__pres_cache_count(c), 1);
	sipgw__pres_cache_free(c);
}

static void test_cap_evicts_oldest(void **state)
{
	(void)state;
	struct sipgw_pres_cache *c = sipgw__pres_cache_new();
	struct xlate_presence out;
	char bare[64];
	for (unsigned i = 0; i < SIPGW_PRES_CACHE_MAX; i++) {
		snprintf(bare, sizeof(bare), "u%u@nowhere.test", i);
		put(c, W1, bare, true, "r", "s");
	}
	assert_int_equal(sipgw__pres_cache_count(c), SIPGW_PRES_CACHE_MAX);
	/* u0 changes again: it is now the newest, so u1 is the one that goes */
	put(c, W1, "u0@nowhere.test", true, "r", "fresh");
	put(c, W1, "new@nowhere.test", true, "r", "s");
	assert_int_equal(sipgw__pres_cache_count(c), SIPGW_PRES_CACHE_MAX);
	assert_false(sipgw__pres_cache_get(c, W1, "u1@nowhere.test", &out));
	assert_true(sipgw__pres_cache_get(c, W1, "u0@nowhere.test", &out));
	assert_string_equal(out.status, "fresh");
	xlate_presence_clear(&out);
	assert_true(sipgw__pres_cache_get(c, W1, "new@nowhere.test", &out));
	xlate_presence_clear(&out);
	sipgw__pres_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_and_null),
	    cmocka_unit_test(test_latest_per_watcher),
	    cmocka_unit_test(test_resources_and_unavailable),
	    cmocka_unit_test(test_forget),
	    cmocka_unit_test(test_cap_evicts_oldest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
