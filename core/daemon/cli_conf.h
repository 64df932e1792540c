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
/* `fedgw <noun> <cmd> SUB ...`: SUB (argv[0]) with the rest parsed into *a; NULL after a
 * usage line naming subs ("add|edit|delete|list") or a parse error. */
const char *cli_sub_args(const char *noun, const char *cmd, const char *subs, int argc, char **argv,
                         const char *const *valued, struct cli_args *a);
/* Ends a `list`: the store's error on stderr (EXIT_FAIL), or list[member] (the whole list
 * when member is NULL) as JSON or printed with print; list is dropped. */
int cli_list_print(const char *noun, const char *cmd, enum fg_err err, json_t *list,
                   const char *member, bool as_json, void (*print)(json_t *list));
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
int cli_refused(const char *noun, const char *cmd, enum fg_err err, const struct conf_err *e);
/* A command-line option and the API field it fills. */
enum cli_field_kind {
	CLI_FIELD_TEXT,      /* as given */
	CLI_FIELD_TEXT_NONE, /* as given; "none" clears ("") */
	CLI_FIELD_CERT,      /* a certificate id or name ("none" or "" clears) -> its id */
};
struct cli_field {
	const char *opt;   /* "--next-hop" */
	const char *field; /* "next_hop" */
	enum cli_field_kind kind;
};
/* Sets in[field] for each option given, texts first then certificates, in table order;
 * false with the reason printed and *rc the exit status (EXIT_USAGE for text that is not
 * UTF-8, EXIT_NOTFOUND for an unknown certificate). */
bool cli_fields(const char *noun, const char *cmd, struct db *db, const struct cli_args *a,
                const struct cli_field *fields, size_t n, json_t *in, int *rc);
/* in["domain"] = domain for `<noun> <cmd> add`; false (the reason printed) when it is not
 * UTF-8 text. */
bool cli_add_domain(const char *noun, const char *cmd, json_t *in, const char *domain);
/* Accepts a certificate record id or name ("none" or "" clears: id ""). False with a
 * message when nothing or several records match. */
bool cli_cert_resolve(const char *noun, struct db *db, const char *ref, char id[DB_ID_MAX]);
/* The same without the "none" shorthand: ref must name exactly one record. */
bool cli_cert_find(const char *noun, struct db *db, const char *ref, char id[DB_ID_MAX]);

/* A configuration area as its verbs see it. */
struct cli_area {
	const char *noun;                              /* "sip": `fedgw sip ...` */
	const char *set_example;                       /* a KEY=VALUE for `set` without arguments */
	const struct conf_settings *(*settings)(void); /* the area's settings table */
	/* Prints what an answer carries beyond its message (may be NULL). */
	void (*answer_more)(json_t *answer);
};
/* Prints an answer (its message, answer_more, warnings on stderr; or the JSON) and drops
 * it; EXIT_OK. */
int cli_answered(const struct cli_area *area, json_t *answer, bool as_json);
/* "Settings (docs/settings.md; KEY without "<prefix>"):" and a line per setting. */
void cli_settings_help(FILE *out, const struct conf_settings *t);
/* The settings object as "  KEY   VALUE" lines, KEY padded to width. */
void cli_print_settings(json_t *settings, int width);
/* `fedgw <noun> set KEY=VALUE... [--json]`. */
int cli_settings_set(const struct cli_area *area, struct db *db, int argc, char **argv);

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
/* How a verb validates the connection of one domain: its engine's start and free, the
 * words of the line printed first (around the domain) and an optional check that the
 * domain is one to validate (EXIT_OK to go on, else the exit status, the reason printed). */
struct cli_validator {
	const char *intro_before, *intro_after;
	enum fg_err (*start)(void **v, uv_loop_t *loop, struct db *db, const char *domain,
	                     s2s_step_cb step_cb, s2s_done_cb done_cb, void *ctx);
	void (*free)(void *v);
	int (*check)(struct db *db, const char *domain);
};
/* `fedgw <noun> validate DOMAIN [--json]`: steps printed as they end; exit 0 when every
 * step passes. */
int cli_validate_cmd(const char *noun, const struct cli_validator *vd, struct db *db, int argc,
                     char **argv);

#endif
