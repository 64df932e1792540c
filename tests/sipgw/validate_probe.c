/* sipgw_validate_probe: runs "validate connection" for one SIP domain on its own loop with
 * the store of a running daemon and prints each finished step as "id state detail | fix". */
#include "db/db.h"
#include "sipgw/sipgw.h"

#include <stdio.h>
#include <stdlib.h>

static const char *state_name(enum s2s_step_state s)
{
	static const char *const names[] = {"running", "pass", "fail", "skip", "warn"};
	return (unsigned)s < 5 ? names[s] : "?";
}

static void step_cb(void *ctx, const struct s2s_step *st)
{
	(void)ctx;
	if (st->state != S2S_STEP_RUNNING)
		printf("%s %s %s | %s\n", st->id, state_name(st->state), st->detail, st->fix);
}

static void done_cb(void *ctx, bool ok)
{
	*(int *)ctx = ok ? 1 : 2;
	printf("done %s\n", ok ? "ok" : "failed");
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	int result = 0;
	if (argc != 3) {
		fprintf(stderr, "usage: sipgw_validate_probe DATA_DIR SIP_DOMAIN\n");
		return 2;
	}
	if (db_open(&db, argv[1]) != FG_OK)
		return 4;
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct sipgw_validation *v = NULL;
	enum fg_err err = sipgw_validate_start(&v, &loop, db, argv[2], step_cb, done_cb, &result);
	if (err != FG_OK) {
		fprintf(stderr, "cannot validate %s: %s\n", argv[2], fg_strerror(err));
		db_close(db);
		return 3;
	}
	while (result == 0 && uv_run(&loop, UV_RUN_ONCE) != 0)
		;
	sipgw_validate_free(v);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	db_close(db);
	return result == 1 ? 0 : 1;
}
