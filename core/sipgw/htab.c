/* An intrusive chained hash table: the engine's indexes of SIP transactions (RFC 3261 §17). */
#include "sipgw_internal.h"

#include <stdlib.h>

/* Relinks every entry by its stored hash: no entry moves in memory and none is allocated.
 * On allocation failure the old table stays (longer chains, same answers). */
void sipgw_htab_grow(struct sipgw_htab *t)
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

void sipgw_htab_free(struct sipgw_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->size = 0;
	t->count = 0;
}
