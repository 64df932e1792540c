/* daemon: helpers shared by the configuration verbs (`fedgw xmpp`, `fedgw sip`): argument
 * splitting, answers and refusals, certificate references, validate connection steps. */
#ifndef FEDGW_DAEMON_CLI_CONF_H
#define FEDGW_DAEMON_CLI_CONF_H

#include "daemon/daemon.h"
#include "db/db.h"
#include "xmppconf/xmppconf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_SOURCE "cli"
/* Options one command takes: a handful each. */
#define CLI_OPTS_MAX 8
/* Positional arguments one command takes (set takes one per setting). */
#define CLI_ARGS_MAX 32

struct cli_args {
	const char *pos[CLI_ARGS_MAX];
	int npos;
	const char *opt_name[CLI_OPTS_MAX];
	const char *opt_val[CLI_OPTS_MAX];
	int nopt;
	bool json;
	bool help;
};

/* Splits argv (after the command words) into positionals and --opt VALUE pairs; options
 * listed in valued take a value, --json and --help are flags. noun and cmd name the
 * command in messages ("fedgw <noun> <cmd>: ..."). */
bool cli_args_parse(const char *noun, int argc, char **argv, const char *const *valued,
                    struct cli_args *a, const char *cmd);
/* The value of the last --name given, or NULL. */
const char *cli_opt(const struct cli_args *a, const char *name);
/* The positionals KEY=VALUE as a JSON object of strings (NULL and a message on stderr when
 * one is not KEY=VALUE or not UTF-8). */
json_t *cli_settings_changes(const char *noun, const struct cli_args *a);

void cli_print_json(json_t *j);
/* A string member, or "" when absent. */
const char *cli_json_str(json_t *obj, const char *key);
/* The answer's warnings on stderr, one "warning: ..." line each. */
void cli_print_warnings(json_t *answer);
/* A refusal on stderr (message, field, fix); EXIT_NOTFOUND for a missing object, else
 * EXIT_FAIL. */
int cli_refused(const char *noun, const char *cmd, enum fg_err err, const struct xmppconf_err *e);
/* Accepts a certificate record id or name ("none" or "" clears: id ""). False with a
 * message when nothing or several records match. */
bool cli_cert_resolve(const char *noun, struct db *db, const char *ref, char id[DB_ID_MAX]);
/* The same without the "none" shorthand: ref must name exactly one record. */
bool cli_cert_find(const char *noun, struct db *db, const char *ref, char id[DB_ID_MAX]);

/* One command of a configuration verb: its word and what runs it on the open store. */
struct cli_cmd {
	const char *name;
	int (*fn)(struct db *db, int argc, char **argv);
};
/* Runs `fedgw <noun> <command> ...`: usage(stdout) for help (usage(stderr) and
 * EXIT_USAGE without a command or with an unknown one), else the command on the store. */
int cli_dispatch(const struct daemon_opts *o, const char *noun, const struct cli_cmd *cmds,
                 size_t ncmds, void (*usage)(FILE *out), int argc, char **argv);

#include "s2s/s2s.h"

#include <uv.h>
/* Validate connection run on the CLI's own loop: steps printed as they end (or collected
 * for --json). */
struct cli_validate_run {
	bool as_json;
	bool done;
	bool ok;
	json_t *steps;
};
void cli_validate_step_cb(void *ctx, const struct s2s_step *step);
void cli_validate_done_cb(void *ctx, bool ok);
/* Prints how the check ended (text, or JSON with --json); returns the exit status. */
int cli_validate_report(const char *noun, const struct cli_validate_run *r, const char *domain);
/* Lets the handles the check closed run their close callbacks, then closes loop. */
void cli_validate_loop_close(const char *noun, uv_loop_t *loop);

#endif
