/* s2s validate connection: DNS, published records, TCP, stream, TLS, authentication and
 * XEP-0199 ping towards one remote domain, step by step with plain-words fixes. */
#include "s2s/s2s_internal.h"

#include <stdlib.h>

struct s2s_validation {
	int unused;
};

enum fg_err s2s_validate_start(struct s2s_validation **out, uv_loop_t *loop, struct db *db,
                               const char *remote_domain, s2s_step_cb step_cb, s2s_done_cb done_cb,
                               void *ctx)
{
	(void)loop;
	(void)db;
	(void)remote_domain;
	(void)step_cb;
	(void)done_cb;
	(void)ctx;
	*out = NULL;
	return FG_ERR_AGAIN;
}

void s2s_validate_free(struct s2s_validation *v)
{
	free(v);
}
