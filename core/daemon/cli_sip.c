/* daemon: `fedgw sip` — SIP gateway settings, SIP domains (next hop, transport, mutual TLS
 * certificates, mapped XMPP domain) and validate connection from a shell (RFC 3261, RFC 5922
 * §7, RFC 7247 §4; seed 001). */
#include "daemon/cli_conf.h"

#include "db/db.h"
#include "sipconf/sipconf.h"
#include "sipgw/sipgw.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOUN "sip"

static void sip_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: fedgw sip <command> ...\n"
	    "\n"
	    "The SIP gateway: its settings, the SIP domains of your users with the Access Edge\n"
	    "(next hop) of each, and validate connection. Changes apply at once (the running\n"
	    "daemon picks them up without a restart) and go to the audit trail.\n"
	    "\n"
	    "  show [--json]                  settings and SIP domains with their state\n"
	    "  set KEY=VALUE...               change settings (keys below)\n"
	    "  domain add DOMAIN --next-hop HOST [--port N] [--transport tls|tcp]\n"
	    "             [--cert ID|NAME] [--ca ID|NAME] [--bind ADDR] [--xmpp-domain D]\n"
	    "                                 HOST: the Access Edge's name (as on its\n"
	    "                                 certificate) or address; port 5061 for tls,\n"
	    "                                 5060 for tcp; tls needs --ca (the bundle that\n"
	    "                                 issued the edge's certificate)\n"
	    "  domain edit DOMAIN [same options; \"none\" or \"\" clears --cert, --bind,\n"
	    "             --xmpp-domain]\n"
	    "  domain delete DOMAIN\n"
	    "  domain list [--json]           SIP domains, next hops and their live state\n"
	    "  validate DOMAIN [--json]       DNS, TCP, TLS (both certificates, the name\n"
	    "                                 match) and a SIP OPTIONS round trip; exit 0\n"
	    "                                 when every step passes\n"
	    "\n"
	    "Settings (docs/settings.md; KEY without \"sip.\"):\n"
	    "  enabled=true|false             SIP gateway on/off\n"
	    "  fqdn=NAME                      the gateway's FQDN (on its SIP certificate);\n"
	    "                                 empty = the host name\n"
	    "  tcp_port=N                     SIP over TCP listener, 0 = off (5060)\n"
	    "  tls_port=N                     SIP over mutual TLS listener, 0 = off (5061)\n"
	    "  bind=ADDR                      listener address (0.0.0.0)\n"
	    "  subscription_expires_s=N       60-86400 (3600)\n"
	    "  max_pending=N                  1-1000000 (1000)\n"
	    "  max_message_bytes=N            500-131072 (1300): largest MESSAGE outside a\n"
	    "                                 session (RFC 3428 §8)\n"
	    "\n"
	    "Exit codes: 0 done, 1 refused or failed (the reason and the fix on stderr),\n"
	    "2 usage error, 3 not found, 4 the store could not be opened.\n"
	    "Example: fedgw sip domain add sip.example.com --next-hop edge.example.com \\\n"
	    "             --cert sipgw --ca edge-ca\n"
	    "         fedgw sip validate sip.example.com\n");
}

/* Prints an answer: its message, warnings on stderr. */
static int answered(json_t *answer, bool as_json)
{
	if (as_json) {
		cli_print_json(answer);
	} else {
		const char *msg = cli_json_str(answer, "message");
		if (*msg)
			printf("%s\n", msg);
		cli_print_warnings(answer);
	}
	json_decref(answer);
	return EXIT_OK;
}

/* ---- show / set -------------------------------------------------------------------------- */

static void print_domains(json_t *domains)
{
	size_t i, k;
	json_t *d, *w;
	if (json_array_size(domains) == 0) {
		printf("  (none: fedgw sip domain add DOMAIN --next-hop HOST --cert NAME --ca "
		       "NAME)\n");
		return;
	}
	json_array_foreach(domains, i, d)
	{
		const char *cert = cli_json_str(d, "cert_name"), *ca = cli_json_str(d, "ca_name");
		const char *bind = cli_json_str(d, "bind");
		printf("  %s -> XMPP %s\n", cli_json_str(d, "domain"), cli_json_str(d, "maps_to"));
		printf("    next hop: %s:%lld %s%s%s\n", cli_json_str(d, "next_hop"),
		       (long long)json_integer_value(json_object_get(d, "port")),
		       cli_json_str(d, "transport"), bind[0] ? "  bind: " : "", bind);
		printf("    certificate: %s%s  trusted CA: %s\n", cert[0] ? cert : "(none)",
		       json_is_false(json_object_get(d, "cert_names_fqdn"))
		           ? " (does not name the gateway's FQDN)"
		           : "",
		       ca[0] ? ca : "(none)");
		json_t *st = json_object_get(d, "status");
		if (json_is_object(st)) {
			const char *reason = cli_json_str(st, "reason");
			printf("    state: %s%s%s  dns %s, tcp %s, tls %s, options %s, certificate "
			       "match %s\n",
			       cli_json_str(st, "state"), reason[0] ? " - " : "", reason,
			       cli_json_str(st, "dns"), cli_json_str(st, "tcp"),
			       cli_json_str(st, "tls"), cli_json_str(st, "options"),
			       cli_json_str(st, "cert_match"));
			printf("    messages in %lld, out %lld, errors %lld; subscriptions %lld, "
			       "sessions %lld\n",
			       (long long)json_integer_value(json_object_get(st, "messages_in")),
			       (long long)json_integer_value(json_object_get(st, "messages_out")),
			       (long long)json_integer_value(json_object_get(st, "errors")),
			       (long long)json_integer_value(json_object_get(st, "subscriptions")),
			       (long long)json_integer_value(json_object_get(st, "sessions")));
		} else {
			printf("    state: unknown (the gateway is not running)\n");
		}
		json_array_foreach(json_object_get(d, "warnings"), k, w)
		    printf("    warning: %s\n", json_string_value(w));
	}
}

static int cmd_show(struct db *db, int argc, char **argv)
{
	struct cli_args a;
	json_t *settings = NULL, *domains = NULL;
	int rc = EXIT_FAIL;
	if (!cli_args_parse(NOUN, argc, argv, NULL, &a, "show") || a.npos > 0)
		return EXIT_USAGE;
	enum fg_err err = sipconf_settings_get(db, &settings);
	if (!err)
		err = sipconf_domain_list(db, &domains);
	if (err) {
		fprintf(stderr, "fedgw sip show: cannot read the store: %s\n", fg_strerror(err));
		goto out;
	}
	if (a.json) {
		json_t *all = json_pack("{s:O, s:O}", "settings", settings, "domains", domains);
		cli_print_json(all);
		json_decref(all);
	} else {
		const char *key;
		json_t *v;
		printf("Settings:\n");
		json_object_foreach(settings, key, v)
		{
			if (json_is_boolean(v))
				printf("  %-24s %s\n", key, json_is_true(v) ? "true" : "false");
			else if (json_is_integer(v))
				printf("  %-24s %lld\n", key, (long long)json_integer_value(v));
			else
				printf("  %-24s %s\n", key, json_string_value(v));
		}
		printf("SIP domains:\n");
		print_domains(domains);
	}
	rc = EXIT_OK;
out:
	json_decref(settings);
	json_decref(domains);
	return rc;
}

static int cmd_set(struct db *db, int argc, char **argv)
{
	struct cli_args a;
	struct xmppconf_err e = {0};
	json_t *out = NULL;
	if (!cli_args_parse(NOUN, argc, argv, NULL, &a, "set"))
		return EXIT_USAGE;
	if (a.npos == 0) {
		fprintf(stderr, "fedgw sip set: give KEY=VALUE pairs, e.g. fqdn=sipgw.example.com "
		                "(fedgw sip --help lists the keys)\n");
		return EXIT_USAGE;
	}
	json_t *changes = cli_settings_changes(NOUN, &a);
	if (!changes)
		return EXIT_USAGE;
	enum fg_err err =
	    sipconf_settings_set(db, daemon_cli_actor(), CLI_SOURCE, changes, &out, &e);
	json_decref(changes);
	if (err)
		return cli_refused(NOUN, "set", err, &e);
	return answered(out, a.json);
}

/* ---- domain ------------------------------------------------------------------------------ */

/* The options as the API's fields; false (message printed) when a reference is unknown. */
static bool domain_input(struct db *db, const struct cli_args *a, json_t *in, int *rc)
{
	static const char *const map[][2] = {{"--next-hop", "next_hop"},
	                                     {"--port", "port"},
	                                     {"--transport", "transport"},
	                                     {"--bind", "bind"},
	                                     {"--xmpp-domain", "xmpp_domain"}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v = cli_opt(a, map[i][0]);
		if (!v)
			continue;
		if (strcmp(v, "none") == 0 &&
		    (strcmp(map[i][1], "bind") == 0 || strcmp(map[i][1], "xmpp_domain") == 0))
			v = "";
		json_t *s = json_string(v);
		if (!s) {
			fprintf(stderr, "fedgw sip domain: %s is not UTF-8 text\n", map[i][0]);
			*rc = EXIT_USAGE;
			return false;
		}
		json_object_set_new(in, map[i][1], s);
	}
	static const char *const refs[][2] = {{"--cert", "cert_id"}, {"--ca", "ca_id"}};
	for (size_t i = 0; i < 2; i++) {
		const char *v = cli_opt(a, refs[i][0]);
		char id[DB_ID_MAX];
		if (!v)
			continue;
		if (!cli_cert_resolve(NOUN, db, v, id)) {
			*rc = EXIT_NOTFOUND;
			return false;
		}
		json_object_set_new(in, refs[i][1], json_string(id));
	}
	return true;
}

static int cmd_domain(struct db *db, int argc, char **argv)
{
	static const char *const valued[] = {"--next-hop", "--port", "--transport",   "--cert",
	                                     "--ca",       "--bind", "--xmpp-domain", NULL};
	struct cli_args a;
	struct xmppconf_err e = {0};
	json_t *out = NULL;
	enum fg_err err;
	int rc = EXIT_USAGE;
	if (argc < 1) {
		fprintf(stderr, "Usage: fedgw sip domain add|edit|delete|list ...\n");
		return EXIT_USAGE;
	}
	const char *sub = argv[0];
	if (!cli_args_parse(NOUN, argc - 1, argv + 1, valued, &a, "domain"))
		return EXIT_USAGE;
	if (strcmp(sub, "list") == 0) {
		if (a.npos || a.nopt)
			return EXIT_USAGE;
		if ((err = sipconf_domain_list(db, &out)) != FG_OK) {
			fprintf(stderr, "fedgw sip domain: cannot read the store: %s\n",
			        fg_strerror(err));
			return EXIT_FAIL;
		}
		if (a.json)
			cli_print_json(out);
		else
			print_domains(out);
		json_decref(out);
		return EXIT_OK;
	}
	if (a.npos != 1) {
		fprintf(stderr, "fedgw sip domain %s: give one DOMAIN\n", sub);
		return EXIT_USAGE;
	}
	json_t *in = json_object();
	if (strcmp(sub, "add") == 0) {
		json_t *d = json_string(a.pos[0]);
		if (!d) {
			json_decref(in);
			fprintf(stderr, "fedgw sip domain add: the domain is not UTF-8 text\n");
			return EXIT_USAGE;
		}
		json_object_set_new(in, "domain", d);
		if (!cli_opt(&a, "--next-hop")) {
			json_decref(in);
			fprintf(stderr, "fedgw sip domain add: give --next-hop HOST (the Access "
			                "Edge's name or address)\n");
			return EXIT_USAGE;
		}
		if (!domain_input(db, &a, in, &rc)) {
			json_decref(in);
			return rc;
		}
		err = sipconf_domain_add(db, daemon_cli_actor(), CLI_SOURCE, in, &out, &e);
	} else if (strcmp(sub, "edit") == 0) {
		if (a.nopt == 0) {
			json_decref(in);
			fprintf(stderr, "fedgw sip domain edit: give the options to change "
			                "(fedgw sip --help)\n");
			return EXIT_USAGE;
		}
		if (!domain_input(db, &a, in, &rc)) {
			json_decref(in);
			return rc;
		}
		err =
		    sipconf_domain_edit(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0], in, &out, &e);
	} else if (strcmp(sub, "delete") == 0) {
		if (a.nopt) {
			json_decref(in);
			return EXIT_USAGE;
		}
		err = sipconf_domain_delete(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0], &out, &e);
	} else {
		json_decref(in);
		fprintf(stderr, "fedgw sip domain: unknown command \"%s\"\n", sub);
		return EXIT_USAGE;
	}
	json_decref(in);
	if (err)
		return cli_refused(NOUN, "domain", err, &e);
	return answered(out, a.json);
}

/* ---- validate ---------------------------------------------------------------------------- */

static int cmd_validate(struct db *db, int argc, char **argv)
{
	struct cli_args a;
	if (!cli_args_parse(NOUN, argc, argv, NULL, &a, "validate"))
		return EXIT_USAGE;
	if (a.npos != 1) {
		fprintf(stderr, "Usage: fedgw sip validate DOMAIN [--json]\n");
		return EXIT_USAGE;
	}
	const char *why = NULL;
	if (!xmppconf_domain_valid(a.pos[0], &why)) {
		fprintf(stderr, "fedgw sip validate: \"%s\" is not a domain name: %s\n", a.pos[0],
		        why);
		return EXIT_USAGE;
	}
	struct xmppconf_err e = {0};
	json_t *dom = NULL;
	enum fg_err err = sipconf_domain_get(db, a.pos[0], &dom, &e);
	json_decref(dom);
	if (err)
		return cli_refused(NOUN, "validate", err, &e);
	uv_loop_t loop;
	struct sipgw_validation *v = NULL;
	struct cli_validate_run r = {.as_json = a.json, .steps = json_array()};
	int rc = EXIT_FAIL;
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "fedgw sip validate: cannot start an event loop\n");
		json_decref(r.steps);
		return EXIT_FAIL;
	}
	if (!a.json)
		printf("Validating the connection of SIP domain %s to its next hop\n", a.pos[0]);
	err = sipgw_validate_start(&v, &loop, db, a.pos[0], cli_validate_step_cb,
	                           cli_validate_done_cb, &r);
	if (err) {
		fprintf(stderr, "fedgw sip validate: cannot start: %s\n", fg_strerror(err));
	} else {
		while (!r.done && uv_run(&loop, UV_RUN_ONCE) != 0)
			;
		sipgw_validate_free(v);
		rc = cli_validate_report(NOUN, &r, a.pos[0]);
	}
	cli_validate_loop_close(NOUN, &loop);
	json_decref(r.steps);
	return rc;
}

/* ---- dispatch ---------------------------------------------------------------------------- */

int daemon_sip_main(const struct daemon_opts *o, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {{"show", cmd_show},
	                                      {"set", cmd_set},
	                                      {"domain", cmd_domain},
	                                      {"validate", cmd_validate}};
	return cli_dispatch(o, "sip", cmds, sizeof(cmds) / sizeof(cmds[0]), sip_usage, argc, argv);
}
