/* An intrusive chained hash table: the engine's indexes of SIP transactions (RFC 3261 §17). */
#include "sipgw_internal.h"

#include <stdlib.h>

/* Doubles the bucket array and relinks every entry by its stored hash: no entry moves in
 * memory and none is allocated. On allocation failure the old table stays (longer chains,
 * same answers). */
static void htab_grow(struct sipgw_htab *t)
{
	size_t n = t->size ? t->size * 2 : SIPGW_HTAB_MIN;
	struct sipgw_hlink **b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < t->size; i++) {
		for (struct sipgw_hlink *l = t->buckets[i]; l != NULL;) {
			struct sipgw_hlink *next = l->next;
			l->next = b[l->hash & (n - 1)];
			b[l->hash & (n - 1)] = l;
			l = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->size = n;
}

bool sipgw_htab_add(struct sipgw_htab *t, struct sipgw_hlink *l, uint32_t hash)
{
	if (t->count >= t->size && t->size < SIPGW_HTAB_MAX)
		htab_grow(t);
	if (t->buckets == NULL)
		return false;
	struct sipgw_hlink **b = &t->buckets[hash & (t->size - 1)];
	l->hash = hash;
	l->next = *b;
	*b = l;
	t->count++;
	return true;
}

void sipgw_htab_del(struct sipgw_htab *t, struct sipgw_hlink *l)
{
	if (t->buckets == NULL)
		return;
	for (struct sipgw_hlink **pp = &t->buckets[l->hash & (t->size - 1)]; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			l->next = NULL;
			t->count--;
			return;
		}
	}
}

void sipgw_htab_free(struct sipgw_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->size = 0;
	t->count = 0;
}
