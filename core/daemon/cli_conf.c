/* daemon: helpers shared by the configuration verbs (`fedgw xmpp`, `fedgw sip`): argument
 * splitting, answers and refusals, certificate references, validate connection steps. */
#include "daemon/cli_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_args_parse(const char *noun, int argc, char **argv, const char *const *valued,
                    struct cli_args *a, const char *cmd)
{
	/* Option names are copied here: argv may hold "--opt=value". */
	static char names[CLI_OPTS_MAX][32];
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			a->help = true;
			continue;
		}
		if (strncmp(s, "--", 2) == 0) {
			bool known = false;
			const char *eq = strchr(s, '=');
			size_t nlen = eq ? (size_t)(eq - s) : strlen(s);
			for (size_t k = 0; valued && valued[k]; k++)
				if (strlen(valued[k]) == nlen && strncmp(valued[k], s, nlen) == 0)
					known = true;
			if (!known) {
				fprintf(stderr,
				        "fedgw %s %s: unknown option \"%s\" (fedgw %s --help)\n",
				        noun, cmd, s, noun);
				return false;
			}
			if (a->nopt >= CLI_OPTS_MAX) {
				fprintf(stderr, "fedgw %s %s: too many options\n", noun, cmd);
				return false;
			}
			const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val) {
				fprintf(stderr, "fedgw %s %s: %s needs a value\n", noun, cmd, s);
				return false;
			}
			snprintf(names[a->nopt], sizeof(names[0]), "%.*s", (int)nlen, s);
			a->opt_name[a->nopt] = names[a->nopt];
			a->opt_val[a->nopt++] = val;
			continue;
		}
		if (a->npos >= CLI_ARGS_MAX) {
			fprintf(stderr, "fedgw %s %s: too many arguments\n", noun, cmd);
			return false;
		}
		a->pos[a->npos++] = s;
	}
	return true;
}

int cli_dispatch(const struct daemon_opts *o, const char *noun, const struct cli_cmd *cmds,
                 size_t ncmds, void (*usage)(FILE *out), int argc, char **argv)
{
	struct db *db = NULL;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (size_t i = 0; i < ncmds; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		for (int j = 2; j < argc; j++) {
			if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
				usage(stdout);
				return EXIT_OK;
			}
		}
		int rc = daemon_open_store(o, &db);
		if (rc != EXIT_OK)
			return rc;
		rc = cmds[i].fn(db, argc - 2, argv + 2);
		db_close(db);
		return rc;
	}
	fprintf(stderr, "fedgw %s: unknown command \"%s\"\n\n", noun, argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}

const char *cli_sub_args(const char *noun, const char *cmd, const char *subs, int argc, char **argv,
                         const char *const *valued, struct cli_args *a)
{
	if (argc < 1) {
		fprintf(stderr, "Usage: fedgw %s %s %s ...\n", noun, cmd, subs);
		return NULL;
	}
	if (!cli_args_parse(noun, argc - 1, argv + 1, valued, a, cmd))
		return NULL;
	return argv[0];
}

int cli_list_print(const char *noun, const char *cmd, enum fg_err err, json_t *list,
                   const char *member, bool as_json, void (*print)(json_t *list))
{
	if (err) {
		fprintf(stderr, "fedgw %s %s: cannot read the store: %s\n", noun, cmd,
		        fg_strerror(err));
		return EXIT_FAIL;
	}
	json_t *shown = member ? json_object_get(list, member) : list;
	if (as_json)
		cli_print_json(shown);
	else
		print(shown);
	json_decref(list);
	return EXIT_OK;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
	for (int i = a->nopt - 1; i >= 0; i--)
		if (strcmp(a->opt_name[i], name) == 0)
			return a->opt_val[i];
	return NULL;
}

json_t *cli_settings_changes(const char *noun, const struct cli_args *a)
{
	json_t *changes = json_object();
	for (int i = 0; i < a->npos; i++) {
		const char *eq = strchr(a->pos[i], '=');
		if (!eq || eq == a->pos[i]) {
			fprintf(stderr, "fedgw %s set: \"%s\" is not KEY=VALUE\n", noun, a->pos[i]);
			json_decref(changes);
			return NULL;
		}
		char key[DB_SETTING_KEY_MAX];
		snprintf(key, sizeof(key), "%.*s", (int)(eq - a->pos[i]), a->pos[i]);
		json_t *v = json_string(eq + 1);
		if (!v) {
			fprintf(stderr, "fedgw %s set: the value of %s is not UTF-8 text\n", noun,
			        key);
			json_decref(changes);
			return NULL;
		}
		json_object_set_new(changes, key, v);
	}
	return changes;
}

void cli_print_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text) {
		printf("%s\n", text);
		free(text);
	}
}

const char *cli_json_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

void cli_print_warnings(json_t *answer)
{
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(answer, "warnings"), i, w)
	    fprintf(stderr, "warning: %s\n", json_string_value(w));
}

int cli_answered(const struct cli_area *area, json_t *answer, bool as_json)
{
	if (as_json) {
		cli_print_json(answer);
	} else {
		const char *msg = cli_json_str(answer, "message");
		if (*msg)
			printf("%s\n", msg);
		if (area->answer_more)
			area->answer_more(answer);
		cli_print_warnings(answer);
	}
	json_decref(answer);
	return EXIT_OK;
}

void cli_settings_help(FILE *out, const struct conf_settings *t)
{
	char form[64];
	fprintf(out, "Settings (docs/settings.md; KEY without \"%s\"):\n", t->prefix);
	for (size_t i = 0; i < t->ndefs; i++) {
		snprintf(form, sizeof(form), "%s=%s", t->defs[i].name, t->defs[i].form);
		fprintf(out, "  %-30s ", form);
		/* Continuation lines line up under the first. */
		const char *h = t->defs[i].help, *nl;
		for (; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
			fprintf(out, "%.*s\n%33s", (int)(nl - h), h, "");
		fprintf(out, "%s\n", h);
	}
}

void cli_print_settings(json_t *settings, int width)
{
	const char *key;
	json_t *v;
	json_object_foreach(settings, key, v)
	{
		if (json_is_boolean(v))
			printf("  %-*s %s\n", width, key, json_is_true(v) ? "true" : "false");
		else if (json_is_integer(v))
			printf("  %-*s %lld\n", width, key, (long long)json_integer_value(v));
		else if (json_is_string(v))
			printf("  %-*s %s\n", width, key, json_string_value(v));
		else if (json_is_array(v)) {
			printf("  %-*s ", width, key);
			size_t i;
			json_t *it;
			json_array_foreach(v, i, it)
			    printf("%s%s", i ? ", " : "", json_string_value(it));
			printf("%s\n", json_array_size(v) ? "" : "(none)");
		}
	}
}

int cli_settings_set(const struct cli_area *area, struct db *db, int argc, char **argv)
{
	struct cli_args a;
	struct conf_err e = {0};
	json_t *out = NULL;
	if (!cli_args_parse(area->noun, argc, argv, NULL, &a, "set"))
		return EXIT_USAGE;
	if (a.npos == 0) {
		fprintf(stderr,
		        "fedgw %s set: give KEY=VALUE pairs, e.g. %s (fedgw %s --help lists the "
		        "keys)\n",
		        area->noun, area->set_example, area->noun);
		return EXIT_USAGE;
	}
	json_t *changes = cli_settings_changes(area->noun, &a);
	if (!changes)
		return EXIT_USAGE;
	enum fg_err err = conf_settings_set(db, area->settings(), daemon_cli_actor(), CLI_SOURCE,
	                                    changes, &out, &e);
	json_decref(changes);
	if (err)
		return cli_refused(area->noun, "set", err, &e);
	return cli_answered(area, out, a.json);
}

int cli_refused(const char *noun, const char *cmd, enum fg_err err, const struct conf_err *e)
{
	if (e->message[0]) {
		fprintf(stderr, "fedgw %s %s: %s\n", noun, cmd, e->message);
		if (e->field[0])
			fprintf(stderr, "  field: %s\n", e->field);
		if (e->fix[0])
			fprintf(stderr, "  fix: %s\n", e->fix);
	} else {
		fprintf(stderr, "fedgw %s %s: failed: %s\n", noun, cmd, fg_strerror(err));
	}
	return err == FG_ERR_NOTFOUND ? EXIT_NOTFOUND : EXIT_FAIL;
}

bool cli_fields(const char *noun, const char *cmd, struct db *db, const struct cli_args *a,
                const struct cli_field *fields, size_t n, json_t *in, int *rc)
{
	/* Texts are checked before any certificate is looked up, as a typing error is the
	 * cheaper thing to report. */
	for (int certs = 0; certs < 2; certs++) {
		for (size_t i = 0; i < n; i++) {
			const char *v = cli_opt(a, fields[i].opt);
			if (!v || (fields[i].kind == CLI_FIELD_CERT) != certs)
				continue;
			json_t *s = NULL;
			char id[DB_ID_MAX];
			if (fields[i].kind == CLI_FIELD_CERT) {
				if (!cli_cert_resolve(noun, db, v, id)) {
					*rc = EXIT_NOTFOUND;
					return false;
				}
				s = json_string(id);
			} else {
				if (fields[i].kind == CLI_FIELD_TEXT_NONE && strcmp(v, "none") == 0)
					v = "";
				if (!(s = json_string(v))) {
					fprintf(stderr, "fedgw %s %s: %s is not UTF-8 text\n", noun,
					        cmd, fields[i].opt);
					*rc = EXIT_USAGE;
					return false;
				}
			}
			json_object_set_new(in, fields[i].field, s);
		}
	}
	return true;
}

bool cli_add_domain(const char *noun, const char *cmd, json_t *in, const char *domain)
{
	json_t *d = json_string(domain);
	if (!d) {
		fprintf(stderr, "fedgw %s %s add: the domain is not UTF-8 text\n", noun, cmd);
		return false;
	}
	json_object_set_new(in, "domain", d);
	return true;
}

bool cli_cert_resolve(const char *noun, struct db *db, const char *ref, char id[DB_ID_MAX])
{
	id[0] = '\0';
	if (!ref[0] || strcmp(ref, "none") == 0)
		return true;
	return cli_cert_find(noun, db, ref, id);
}

bool cli_cert_find(const char *noun, struct db *db, const char *ref, char id[DB_ID_MAX])
{
	struct db_txn *txn = NULL;
	struct db_cert *certs = NULL;
	size_t n = 0, matches = 0;
	id[0] = '\0';
	if (db_txn_begin(db, &txn) != FG_OK)
		return false;
	enum fg_err err = db_cert_list(txn, &certs, &n);
	db_txn_end(txn);
	if (err) {
		fprintf(stderr, "fedgw %s: cannot read the store: %s\n", noun, fg_strerror(err));
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(certs[i].id, ref) == 0) {
			fg_strlcpy(id, certs[i].id, DB_ID_MAX);
			matches = 1;
			break;
		}
		if (strcmp(certs[i].name, ref) == 0) {
			fg_strlcpy(id, certs[i].id, DB_ID_MAX);
			matches++;
		}
	}
	db_cert_list_free(certs, n);
	if (matches == 0)
		fprintf(stderr,
		        "fedgw %s: no certificate with id or name \"%s\" (fedgw pki list)\n", noun,
		        ref);
	else if (matches > 1)
		fprintf(stderr, "fedgw %s: several certificates are named \"%s\": use the id\n",
		        noun, ref);
	return matches == 1;
}

/* Validate connection run on the CLI's own loop: steps printed as they end (or collected
 * for --json). */
struct validate_run {
	bool as_json;
	bool done;
	bool ok;
	json_t *steps;
};

static void validate_step_cb(void *ctx, const struct s2s_step *step)
{
	struct validate_run *r = ctx;
	if (step->state == S2S_STEP_RUNNING)
		return;
	json_array_append_new(
	    r->steps, json_pack("{s:s?, s:s?, s:s, s:s?, s:s?, s:s?}", "id", step->id, "title",
	                        step->title, "state", s2s_step_state_name(step->state), "detail",
	                        step->detail, "fix", step->fix, "tech", step->tech));
	if (r->as_json)
		return;
	printf("[%-4s] %s\n", s2s_step_state_name(step->state), step->title ? step->title : "");
	if (step->detail && step->detail[0])
		printf("       %s\n", step->detail);
	if (step->fix && step->fix[0] && step->state != S2S_STEP_PASS)
		printf("       fix: %s\n", step->fix);
	if (step->tech && step->tech[0] && step->state == S2S_STEP_FAIL)
		printf("       detail: %s\n", step->tech);
	fflush(stdout);
}

static void validate_done_cb(void *ctx, bool ok)
{
	struct validate_run *r = ctx;
	r->done = true;
	r->ok = ok;
}

/* Prints how the check ended (text, or JSON with --json); returns the exit status. */
static int validate_report(const char *noun, const struct validate_run *r, const char *domain)
{
	if (!r->done)
		fprintf(stderr, "fedgw %s validate: the check ended without a result\n", noun);
	if (r->as_json) {
		json_t *all = json_pack("{s:s, s:b, s:b, s:O}", "domain", domain, "done", r->done,
		                        "ok", r->ok, "steps", r->steps);
		cli_print_json(all);
		json_decref(all);
	} else {
		printf("%s\n", r->ok ? "Every step passed."
		                     : "Validation failed: see the fix under each failed step.");
	}
	return r->ok ? EXIT_OK : EXIT_FAIL;
}

/* Lets the handles the check closed run their close callbacks, then closes loop. */
static void validate_loop_close(const char *noun, uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	if (uv_loop_close(loop) != 0)
		fprintf(stderr, "fedgw %s validate: warning: handles left open\n", noun);
}

int cli_validate_cmd(const char *noun, const struct cli_validator *vd, struct db *db, int argc,
                     char **argv)
{
	struct cli_args a;
	if (!cli_args_parse(noun, argc, argv, NULL, &a, "validate"))
		return EXIT_USAGE;
	if (a.npos != 1) {
		fprintf(stderr, "Usage: fedgw %s validate DOMAIN [--json]\n", noun);
		return EXIT_USAGE;
	}
	const char *why = NULL;
	if (!xmppconf_domain_valid(a.pos[0], &why)) {
		fprintf(stderr, "fedgw %s validate: \"%s\" is not a domain name: %s\n", noun,
		        a.pos[0], why);
		return EXIT_USAGE;
	}
	int rc = vd->check ? vd->check(db, a.pos[0]) : EXIT_OK;
	if (rc != EXIT_OK)
		return rc;
	uv_loop_t loop;
	void *v = NULL;
	struct validate_run r = {.as_json = a.json, .steps = json_array()};
	rc = EXIT_FAIL;
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "fedgw %s validate: cannot start an event loop\n", noun);
		json_decref(r.steps);
		return EXIT_FAIL;
	}
	if (!a.json)
		printf("%s%s%s\n", vd->intro_before, a.pos[0], vd->intro_after);
	enum fg_err err =
	    vd->start(&v, &loop, db, a.pos[0], validate_step_cb, validate_done_cb, &r);
	if (err) {
		fprintf(stderr, "fedgw %s validate: cannot start: %s\n", noun, fg_strerror(err));
	} else {
		while (!r.done && uv_run(&loop, UV_RUN_ONCE) != 0)
			;
		vd->free(v);
		rc = validate_report(noun, &r, a.pos[0]);
	}
	validate_loop_close(noun, &loop);
	json_decref(r.steps);
	return rc;
}
