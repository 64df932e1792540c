/* resolve probe: runs SRV and A/AAAA lookups through the resolver and prints each answer on
 * one line, for the dnsmasq network test (run inside the test's network namespace). */
#include "resolve/resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Lookups per run: the test asks about a dozen. */
#define PROBE_QUERIES_MAX 64

struct probe {
	char line[2048];
	bool done;
};

static int srv_cmp(const void *a, const void *b)
{
	const struct dns_srv *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return strcmp(x->target, y->target);
}

static void srv_cb(void *ctx, const struct resolve_srv_answer *ans)
{
	struct probe *p = ctx;
	struct dns_srv recs[DNS_MAX_SRV];
	size_t n = ans->n < DNS_MAX_SRV ? ans->n : DNS_MAX_SRV;
	size_t o = strlen(p->line);
	if (n > 0)
		memcpy(recs, ans->records, n * sizeof(recs[0]));
	/* dnsmasq rotates records: print them in a stable order. */
	qsort(recs, n, sizeof(recs[0]), srv_cmp);
	o += (size_t)snprintf(p->line + o, sizeof(p->line) - o, " %s %zu",
	                      resolve_status_name(ans->status), n);
	for (size_t i = 0; i < n && o < sizeof(p->line); i++)
		o += (size_t)snprintf(p->line + o, sizeof(p->line) - o, " | %u %u %u %s",
		                      recs[i].priority, recs[i].weight, recs[i].port,
		                      recs[i].target);
	if (o < sizeof(p->line))
		snprintf(p->line + o, sizeof(p->line) - o, " # %s", ans->text);
	p->done = true;
}

static void addr_cb(void *ctx, const struct resolve_addr_answer *ans)
{
	struct probe *p = ctx;
	size_t o = strlen(p->line);
	o += (size_t)snprintf(p->line + o, sizeof(p->line) - o, " %s %zu",
	                      resolve_status_name(ans->status), ans->n);
	for (size_t i = 0; i < ans->n && o < sizeof(p->line); i++)
		o += (size_t)snprintf(p->line + o, sizeof(p->line) - o, " %s", ans->addrs[i]);
	if (o < sizeof(p->line))
		snprintf(p->line + o, sizeof(p->line) - o, " # %s", ans->text);
	p->done = true;
}

static int usage(void)
{
	fprintf(stderr, "usage: resolve_probe SERVERS ZONES TIMEOUT_MS srv:NAME|addr:HOST...\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct probe probes[PROBE_QUERIES_MAX];
	uv_loop_t loop;
	struct resolver *r = NULL;
	uint64_t timeout;
	int rc = 0;
	if (argc < 5 || argc - 4 > PROBE_QUERIES_MAX || !fg_parse_u64(argv[3], 1, 60000, &timeout))
		return usage();
	fg_log_add_sink(fg_log_stderr_sink, NULL, FG_LOG_DEBUG);
	struct resolve_config cfg = {argv[1], argv[2], (int64_t)timeout};
	if (uv_loop_init(&loop) != 0 || resolver_new(&r, &loop, &cfg) != FG_OK) {
		fprintf(stderr, "resolve_probe: cannot create the resolver\n");
		return 1;
	}
	for (int i = 4; i < argc; i++) {
		struct probe *p = &probes[i - 4];
		const char *arg = argv[i];
		enum fg_err err;
		snprintf(p->line, sizeof(p->line), "%s", arg);
		if (strncmp(arg, "srv:", 4) == 0)
			err = resolve_srv(r, arg + 4, srv_cb, p, NULL);
		else if (strncmp(arg, "addr:", 5) == 0)
			err = resolve_addr(r, arg + 5, addr_cb, p, NULL);
		else
			err = FG_ERR_INVAL;
		if (err != FG_OK) {
			snprintf(p->line, sizeof(p->line), "%s REFUSED-BY-CALLER %s", arg,
			         fg_strerror(err));
			p->done = true;
		}
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	for (int i = 4; i < argc; i++) {
		if (!probes[i - 4].done) {
			printf("%s NO-CALLBACK\n", argv[i]);
			rc = 1;
			continue;
		}
		printf("%s\n", probes[i - 4].line);
	}
	resolver_free(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc;
}
