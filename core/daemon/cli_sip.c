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
	    "             [--trusted ADDRS]\n"
	    "                                 HOST: the Access Edge's name (as on its\n"
	    "                                 certificate) or address; port 5061 for tls,\n"
	    "                                 5060 for tcp; tls needs --ca (the bundle that\n"
	    "                                 issued the edge's certificate)\n"
	    "                                 ADDRS (tcp): addresses or networks, besides\n"
	    "                                 the next hop's own, whose requests over plain\n"
	    "                                 TCP are taken, as in \"192.0.2.7,10.0.0.0/8\"\n"
	    "  domain edit DOMAIN [same options; \"none\" or \"\" clears --cert, --bind,\n"
	    "             --xmpp-domain, --trusted]\n"
	    "  domain delete DOMAIN\n"
	    "  domain list [--json]           SIP domains, next hops and their live state\n"
	    "  validate DOMAIN [--json]       DNS, TCP, TLS (both certificates, the name\n"
	    "                                 match) and a SIP OPTIONS round trip; exit 0\n"
	    "                                 when every step passes\n"
	    "\n");
	cli_settings_help(out, sipconf_settings_table());
	fprintf(out,
	        "\n"
	        "Exit codes: 0 done, 1 refused or failed (the reason and the fix on stderr),\n"
	        "2 usage error, 3 not found, 4 the store could not be opened.\n"
	        "Example: fedgw sip domain add sip.example.com --next-hop edge.example.com \\\n"
	        "             --cert sipgw --ca edge-ca\n"
	        "         fedgw sip validate sip.example.com\n");
}

static const struct cli_area area = {
    .noun = NOUN,
    .set_example = "fqdn=sipgw.example.com",
    .settings = sipconf_settings_table,
};

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
		if (strcmp(cli_json_str(d, "transport"), "tcp") == 0) {
			const char *trusted = cli_json_str(d, "trusted_addrs");
			printf("    requests over TCP from: the next hop%s%s\n",
			       trusted[0] ? ", " : "", trusted);
		}
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
			if (json_integer_value(json_object_get(st, "refused")) > 0)
				printf(
				    "    refused %lld requests; last %s\n",
				    (long long)json_integer_value(json_object_get(st, "refused")),
				    cli_json_str(st, "last_refused"));
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
		printf("Settings:\n");
		cli_print_settings(settings, 24);
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
	return cli_settings_set(&area, db, argc, argv);
}

/* ---- domain ------------------------------------------------------------------------------ */

/* The options of `domain add|edit` as the API's fields. */
static const struct cli_field domain_fields[] = {
    {"--next-hop", "next_hop", CLI_FIELD_TEXT},
    {"--port", "port", CLI_FIELD_TEXT},
    {"--transport", "transport", CLI_FIELD_TEXT},
    {"--bind", "bind", CLI_FIELD_TEXT_NONE},
    {"--xmpp-domain", "xmpp_domain", CLI_FIELD_TEXT_NONE},
    {"--trusted", "trusted_addrs", CLI_FIELD_TEXT_NONE},
    {"--cert", "cert_id", CLI_FIELD_CERT},
    {"--ca", "ca_id", CLI_FIELD_CERT},
};

static bool domain_input(struct db *db, const struct cli_args *a, json_t *in, int *rc)
{
	return cli_fields(NOUN, "domain", db, a, domain_fields,
	                  sizeof(domain_fields) / sizeof(domain_fields[0]), in, rc);
}

static int cmd_domain(struct db *db, int argc, char **argv)
{
	static const char *const valued[] = {"--next-hop",    "--port",    "--transport",
	                                     "--cert",        "--ca",      "--bind",
	                                     "--xmpp-domain", "--trusted", NULL};
	struct cli_args a;
	struct conf_err e = {0};
	json_t *out = NULL;
	enum fg_err err;
	int rc = EXIT_USAGE;
	const char *sub =
	    cli_sub_args(NOUN, "domain", "add|edit|delete|list", argc, argv, valued, &a);
	if (!sub)
		return EXIT_USAGE;
	if (strcmp(sub, "list") == 0) {
		if (a.npos || a.nopt)
			return EXIT_USAGE;
		err = sipconf_domain_list(db, &out);
		return cli_list_print(NOUN, "domain", err, out, NULL, a.json, print_domains);
	}
	if (a.npos != 1) {
		fprintf(stderr, "fedgw sip domain %s: give one DOMAIN\n", sub);
		return EXIT_USAGE;
	}
	json_t *in = json_object();
	if (strcmp(sub, "add") == 0) {
		if (!cli_add_domain(NOUN, "domain", in, a.pos[0])) {
			json_decref(in);
			return EXIT_USAGE;
		}
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
	return cli_answered(&area, out, a.json);
}

/* ---- validate ---------------------------------------------------------------------------- */

/* Only a configured SIP domain has a next hop to check. */
static int validate_check(struct db *db, const char *domain)
{
	struct conf_err e = {0};
	json_t *dom = NULL;
	enum fg_err err = sipconf_domain_get(db, domain, &dom, &e);
	json_decref(dom);
	return err ? cli_refused(NOUN, "validate", err, &e) : EXIT_OK;
}

static enum fg_err validate_start(void **v, uv_loop_t *loop, struct db *db, const char *domain,
                                  s2s_step_cb step_cb, s2s_done_cb done_cb, void *ctx)
{
	struct sipgw_validation *sv = NULL;
	enum fg_err err = sipgw_validate_start(&sv, loop, db, domain, step_cb, done_cb, ctx);
	*v = sv;
	return err;
}

static void validate_free(void *v)
{
	sipgw_validate_free(v);
}

static int cmd_validate(struct db *db, int argc, char **argv)
{
	static const struct cli_validator vd = {
	    .intro_before = "Validating the connection of SIP domain ",
	    .intro_after = " to its next hop",
	    .start = validate_start,
	    .free = validate_free,
	    .check = validate_check,
	};
	return cli_validate_cmd(NOUN, &vd, db, argc, argv);
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
