/* Unit tests for the intrusive hash table that indexes SIP transactions (RFC 3261 §17):
 * add, find by hash, remove, growth keeping every entry, removal of a missing entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "sipgw/sipgw_internal.h"

#include <stdlib.h>

struct item {
	int key;
	struct sipgw_hlink hl;
};

/* How many times it is found in the chain of its hash. */
static size_t count_in_bucket(const struct sipgw_htab *t, const struct item *it)
{
	size_t n = 0;
	for (struct sipgw_hlink *l = sipgw_htab_bucket(t, it->hl.hash); l != NULL; l = l->next)
		if (l->hash == it->hl.hash && SIPGW_HTAB_ENTRY(l, struct item, hl) == it)
			n++;
	return n;
}

/* Entries whose hash is h, found through the chain. */
static size_t find_by_hash(const struct sipgw_htab *t, uint32_t h, int key)
{
	size_t n = 0;
	for (struct sipgw_hlink *l = sipgw_htab_bucket(t, h); l != NULL; l = l->next)
		if (l->hash == h && SIPGW_HTAB_ENTRY(l, struct item, hl)->key == key)
			n++;
	return n;
}

static void test_empty(void **state)
{
	(void)state;
	struct sipgw_htab t = {0};
	assert_null(sipgw_htab_bucket(&t, 42));
	struct item it = {.key = 1};
	sipgw_htab_del(&t, &it.hl); /* no table: nothing happens */
	assert_int_equal(t.count, 0);
	sipgw_htab_free(&t);
	sipgw_htab_free(&t); /* twice is harmless */
}

static void test_add_find_del(void **state)
{
	(void)state;
	struct sipgw_htab t = {0};
	struct item a = {.key = 1}, b = {.key = 2}, c = {.key = 3};
	assert_true(sipgw_htab_add(&t, &a.hl, 7));
	assert_int_equal(t.size, SIPGW_HTAB_MIN);
	assert_true(sipgw_htab_add(&t, &b.hl, 7));                  /* same hash: same chain */
	assert_true(sipgw_htab_add(&t, &c.hl, 7 + SIPGW_HTAB_MIN)); /* same bucket, other hash */
	assert_int_equal(t.count, 3);
	assert_int_equal(a.hl.hash, 7);
	assert_int_equal(find_by_hash(&t, 7, 1), 1);
	assert_int_equal(find_by_hash(&t, 7, 2), 1);
	assert_int_equal(find_by_hash(&t, 7, 3), 0); /* its hash differs */
	assert_int_equal(find_by_hash(&t, 7 + SIPGW_HTAB_MIN, 3), 1);
	assert_int_equal(find_by_hash(&t, 8, 1), 0);

	sipgw_htab_del(&t, &b.hl);
	assert_int_equal(t.count, 2);
	assert_int_equal(find_by_hash(&t, 7, 2), 0);
	assert_int_equal(find_by_hash(&t, 7, 1), 1);
	assert_int_equal(count_in_bucket(&t, &c), 1);
	sipgw_htab_del(&t, &a.hl);
	sipgw_htab_del(&t, &c.hl);
	assert_int_equal(t.count, 0);
	assert_null(sipgw_htab_bucket(&t, 7));
	sipgw_htab_free(&t);
	assert_null(t.buckets);
	assert_int_equal(t.size, 0);
}

static void test_del_missing(void **state)
{
	(void)state;
	struct sipgw_htab t = {0};
	struct item a = {.key = 1}, b = {.key = 2}, gone = {.key = 3};
	assert_true(sipgw_htab_add(&t, &a.hl, 5));
	assert_true(sipgw_htab_add(&t, &b.hl, 5));
	gone.hl.hash = 5; /* same chain, never linked */
	sipgw_htab_del(&t, &gone.hl);
	assert_int_equal(t.count, 2);
	gone.hl.hash = 99; /* an empty chain */
	sipgw_htab_del(&t, &gone.hl);
	assert_int_equal(t.count, 2);
	sipgw_htab_del(&t, &a.hl);
	sipgw_htab_del(&t, &a.hl); /* already removed */
	assert_int_equal(t.count, 1);
	assert_int_equal(find_by_hash(&t, 5, 2), 1);
	sipgw_htab_free(&t);
}

static void test_growth_keeps_all(void **state)
{
	(void)state;
	/* more than four times the initial buckets: at least two doublings */
	enum { N = 4 * SIPGW_HTAB_MIN + 17 };
	struct item *items = calloc(N, sizeof(*items));
	assert_non_null(items);
	struct sipgw_htab t = {0};
	for (int i = 0; i < N; i++) {
		items[i].key = i;
		/* spread and collide: every hash appears about three times */
		assert_true(
		    sipgw_htab_add(&t, &items[i].hl, (uint32_t)(i % (N / 3)) * 2654435761u));
	}
	assert_int_equal(t.count, N);
	assert_true(t.size >= (size_t)N);
	assert_int_equal(t.size & (t.size - 1), 0);
	size_t linked = 0;
	for (size_t i = 0; i < t.size; i++)
		for (struct sipgw_hlink *l = t.buckets[i]; l != NULL; l = l->next) {
			assert_int_equal(l->hash & (t.size - 1), i);
			linked++;
		}
	assert_int_equal(linked, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(find_by_hash(&t, items[i].hl.hash, i), 1);
	/* remove every other one; the rest stay findable */
	for (int i = 0; i < N; i += 2)
		sipgw_htab_del(&t, &items[i].hl);
	assert_int_equal(t.count, N / 2);
	for (int i = 0; i < N; i++)
		assert_int_equal(find_by_hash(&t, items[i].hl.hash, i), (size_t)(i % 2));
	sipgw_htab_free(&t);
	free(items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_add_find_del),
	    cmocka_unit_test(test_del_missing),
	    cmocka_unit_test(test_growth_keeps_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
