/* daemon: `fedgw xmpp` — XMPP federation settings, domains, allow list, policy, peers and
 * validate connection from a shell (RFC 6120 s2s, XEP-0220 dialback, seeds 000-003). */
#include "daemon/cli_conf.h"

#include "db/db.h"
#include "xmppconf/xmppconf.h"
#include "s2s/s2s.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void xmpp_usage(FILE *out)
{
	fprintf(out,
	        "Usage: fedgw xmpp <command> ...\n"
	        "\n"
	        "XMPP server-to-server federation: settings, the gateway's own domains, the allow\n"
	        "list, the policy, live peers and validate connection. Changes apply at once\n"
	        "(the running daemon picks them up without a restart) and go to the audit trail.\n"
	        "\n"
	        "  show [--json]                  settings, domains (with the DNS records to\n"
	        "                                 publish), allow list and policy\n"
	        "  set KEY=VALUE...               change settings (keys below)\n"
	        "  secret regenerate              new dialback secret, printed once\n"
	        "  domain add DOMAIN [--cert ID|NAME]\n"
	        "  domain edit DOMAIN --cert ID|NAME|none\n"
	        "  domain delete DOMAIN\n"
	        "  domain list [--json]           the gateway's XMPP domains and their records\n"
	        "  allow add DOMAIN [--server HOST] [--port N] [--auth dialback|sasl|either]\n"
	        "            [--tls required|optional|off] [--cert ID|NAME] [--description TEXT]\n"
	        "  allow edit DOMAIN [same options]\n"
	        "  allow delete DOMAIN\n"
	        "  allow list [--json]\n"
	        "  policy default allow|deny      verdict for domains no exception names\n"
	        "  policy add PATTERN allow|deny [--direction both|incoming|outgoing]\n"
	        "             [--description TEXT]\n"
	        "                                 PATTERN: example.com, *.example.com (the domain\n"
	        "                                 and every subdomain) or an IP address\n"
	        "  policy delete ID|PATTERN\n"
	        "  policy list [--json]\n"
	        "  peers [--json]                 connected domains, direction, state, TLS\n"
	        "  validate DOMAIN [--json]       DNS, TCP, TLS, authentication and ping, step\n"
	        "                                 by step; exit 0 when every step passes\n"
	        "\n");
	cli_settings_help(out, xmppconf_settings_table());
	fprintf(out,
	        "\n"
	        "Exit codes: 0 done, 1 refused or failed (the reason and the fix on stderr),\n"
	        "2 usage error, 3 not found, 4 the store could not be opened.\n"
	        "Example: fedgw xmpp domain add example.com --cert xmpp\n"
	        "         fedgw xmpp allow add partner.example --auth dialback --tls required\n");
}

/* ---- arguments ------------------------------------------------------------------------- */

/* ---- output ---------------------------------------------------------------------------- */

static void print_records(json_t *records, const char *indent)
{
	size_t i;
	json_t *r;
	json_array_foreach(records, i, r)
	    printf("%s%s\n", indent, json_string_value(json_object_get(r, "text")));
}

/* The records a domain's answer carries, to publish. */
static void answer_records(json_t *answer)
{
	json_t *dom = json_object_get(answer, "domain");
	if (json_is_object(dom) && json_array_size(json_object_get(dom, "records"))) {
		printf("DNS records to publish:\n");
		print_records(json_object_get(dom, "records"), "  ");
	}
}

static const struct cli_area area = {
    .noun = "xmpp",
    .set_example = "tls_mode=required",
    .settings = xmppconf_settings_table,
    .answer_more = answer_records,
};

static void host_name(char *out, size_t size)
{
	char addrs[1][64];
	size_t n = 0;
	daemon_host_identity(out, size, addrs, 0, &n);
}

/* ---- show / set / secret ---------------------------------------------------------------- */

static void print_domains(json_t *domains)
{
	size_t i;
	json_t *d;
	if (json_array_size(domains) == 0) {
		printf("  (none: fedgw xmpp domain add DOMAIN --cert NAME)\n");
		return;
	}
	json_array_foreach(domains, i, d)
	{
		const char *cert = cli_json_str(d, "cert_name");
		printf("  %s  certificate: %s%s\n", cli_json_str(d, "domain"),
		       cert[0] ? cert : "(none)",
		       json_is_false(json_object_get(d, "cert_covers"))
		           ? " (does not name the domain)"
		           : "");
		print_records(json_object_get(d, "records"), "    publish: ");
	}
}

static void print_allow(json_t *allow)
{
	size_t i;
	json_t *a;
	if (json_array_size(allow) == 0) {
		printf("  (empty)\n");
		return;
	}
	json_array_foreach(allow, i, a)
	{
		long long port = json_integer_value(json_object_get(a, "port"));
		const char *server = cli_json_str(a, "server");
		printf("  %s  route: %s", cli_json_str(a, "domain"),
		       server[0] ? server : "DNS SRV");
		if (port)
			printf(":%lld", port);
		printf("  auth: %s  tls: %s", cli_json_str(a, "auth"), cli_json_str(a, "tls"));
		json_t *conn = json_object_get(a, "connection");
		if (conn)
			printf("  state: %s", cli_json_str(conn, "state"));
		const char *desc = cli_json_str(a, "description");
		if (desc[0])
			printf("  \"%s\"", desc);
		printf("\n");
	}
}

static void print_policy(json_t *pol)
{
	printf("  default: %s\n", cli_json_str(pol, "default"));
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(pol, "rules"), i, r)
	{
		const char *desc = cli_json_str(r, "description");
		printf("  %s  %-5s %-8s %s%s%s%s\n", cli_json_str(r, "id"),
		       cli_json_str(r, "verdict"), cli_json_str(r, "direction"),
		       cli_json_str(r, "pattern"), desc[0] ? "  \"" : "", desc,
		       desc[0] ? "\"" : "");
	}
	json_array_foreach(json_object_get(pol, "warnings"), i, r)
	    printf("  warning: %s\n", json_string_value(r));
}

static int cmd_show(struct db *db, int argc, char **argv)
{
	struct cli_args a;
	char host[256];
	json_t *settings = NULL, *domains = NULL, *policy = NULL, *peers = NULL;
	int rc = EXIT_FAIL;
	if (!cli_args_parse("xmpp", argc, argv, NULL, &a, "show") || a.npos > 0)
		return EXIT_USAGE;
	host_name(host, sizeof(host));
	enum fg_err err = xmppconf_settings_get(db, &settings);
	if (!err)
		err = xmppconf_domain_list(db, host, &domains);
	if (!err)
		err = xmppconf_policy_get(db, &policy);
	if (!err)
		err = xmppconf_peers(db, &peers);
	if (err) {
		fprintf(stderr, "fedgw xmpp show: cannot read the store: %s\n", fg_strerror(err));
		goto out;
	}
	if (a.json) {
		json_t *all =
		    json_pack("{s:O, s:O, s:O, s:O}", "settings", settings, "domains", domains,
		              "allow", json_object_get(peers, "allow"), "policy", policy);
		cli_print_json(all);
		json_decref(all);
	} else {
		printf("Settings:\n");
		cli_print_settings(settings, 22);
		printf("Domains:\n");
		print_domains(domains);
		printf("Allow list:\n");
		print_allow(json_object_get(peers, "allow"));
		printf("Policy:\n");
		print_policy(policy);
	}
	rc = EXIT_OK;
out:
	json_decref(settings);
	json_decref(domains);
	json_decref(policy);
	json_decref(peers);
	return rc;
}

static int cmd_set(struct db *db, int argc, char **argv)
{
	return cli_settings_set(&area, db, argc, argv);
}

static int cmd_secret(struct db *db, int argc, char **argv)
{
	char secret[XMPPCONF_SECRET_HEX];
	if (argc != 1 || strcmp(argv[0], "regenerate") != 0) {
		fprintf(stderr, "Usage: fedgw xmpp secret regenerate\n");
		return EXIT_USAGE;
	}
	enum fg_err err = xmppconf_secret_regenerate(db, daemon_cli_actor(), CLI_SOURCE, secret);
	if (err) {
		fprintf(stderr, "fedgw xmpp secret: cannot store the new secret: %s\n",
		        fg_strerror(err));
		return EXIT_FAIL;
	}
	printf("%s\n", secret);
	fprintf(stderr, "The new dialback secret is shown once (above); it is in use now. Give "
	                "it to the other servers of this domain if they share it.\n");
	explicit_bzero(secret, sizeof(secret));
	return EXIT_OK;
}

/* ---- domain ---------------------------------------------------------------------------- */

static int cmd_domain(struct db *db, int argc, char **argv)
{
	static const char *const valued[] = {"--cert", NULL};
	struct cli_args a;
	struct conf_err e = {0};
	json_t *out = NULL;
	char host[256];
	enum fg_err err;
	const char *sub =
	    cli_sub_args("xmpp", "domain", "add|edit|delete|list", argc, argv, valued, &a);
	if (!sub)
		return EXIT_USAGE;
	host_name(host, sizeof(host));
	if (strcmp(sub, "list") == 0) {
		if (a.npos)
			return EXIT_USAGE;
		err = xmppconf_domain_list(db, host, &out);
		return cli_list_print("xmpp", "domain", err, out, NULL, a.json, print_domains);
	}
	if (a.npos != 1) {
		fprintf(stderr, "fedgw xmpp domain %s: give one DOMAIN\n", sub);
		return EXIT_USAGE;
	}
	static const struct cli_field fields[] = {{"--cert", "cert_id", CLI_FIELD_CERT}};
	const char *cert = cli_opt(&a, "--cert");
	json_t *in = json_object();
	int rc = EXIT_USAGE;
	if (!cli_fields("xmpp", "domain", db, &a, fields, 1, in, &rc)) {
		json_decref(in);
		return rc;
	}
	if (strcmp(sub, "add") == 0) {
		if (!cli_add_domain("xmpp", "domain", in, a.pos[0])) {
			json_decref(in);
			return EXIT_USAGE;
		}
		err = xmppconf_domain_add(db, daemon_cli_actor(), CLI_SOURCE, in, host, &out, &e);
	} else if (strcmp(sub, "edit") == 0) {
		if (!cert) {
			json_decref(in);
			fprintf(stderr, "fedgw xmpp domain edit: give --cert ID|NAME|none\n");
			return EXIT_USAGE;
		}
		err = xmppconf_domain_edit(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0], in, host,
		                           &out, &e);
	} else if (strcmp(sub, "delete") == 0) {
		err =
		    xmppconf_domain_delete(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0], &out, &e);
	} else {
		json_decref(in);
		fprintf(stderr, "fedgw xmpp domain: unknown command \"%s\"\n", sub);
		return EXIT_USAGE;
	}
	json_decref(in);
	if (err)
		return cli_refused("xmpp", "domain", err, &e);
	return cli_answered(&area, out, a.json);
}

/* ---- allow ----------------------------------------------------------------------------- */

static int cmd_allow(struct db *db, int argc, char **argv)
{
	static const char *const valued[] = {"--server", "--port",        "--auth", "--tls",
	                                     "--cert",   "--description", NULL};
	struct cli_args a;
	struct conf_err e = {0};
	json_t *out = NULL;
	enum fg_err err;
	const char *sub =
	    cli_sub_args("xmpp", "allow", "add|edit|delete|list", argc, argv, valued, &a);
	if (!sub)
		return EXIT_USAGE;
	if (strcmp(sub, "list") == 0) {
		if (a.npos)
			return EXIT_USAGE;
		err = xmppconf_peers(db, &out);
		return cli_list_print("xmpp", "allow", err, out, "allow", a.json, print_allow);
	}
	if (a.npos != 1) {
		fprintf(stderr, "fedgw xmpp allow %s: give one DOMAIN\n", sub);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "delete") == 0) {
		err = xmppconf_allow_delete(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0], &out, &e);
		if (err)
			return cli_refused("xmpp", "allow", err, &e);
		return cli_answered(&area, out, a.json);
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "edit") != 0) {
		fprintf(stderr, "fedgw xmpp allow: unknown command \"%s\"\n", sub);
		return EXIT_USAGE;
	}
	static const struct cli_field fields[] = {
	    {"--server", "server", CLI_FIELD_TEXT},
	    {"--port", "port", CLI_FIELD_TEXT},
	    {"--auth", "auth", CLI_FIELD_TEXT},
	    {"--tls", "tls", CLI_FIELD_TEXT},
	    {"--description", "description", CLI_FIELD_TEXT},
	    {"--cert", "cert_id", CLI_FIELD_CERT},
	};
	json_t *in = json_object();
	int rc = EXIT_USAGE;
	if (!cli_fields("xmpp", "allow", db, &a, fields, sizeof(fields) / sizeof(fields[0]), in,
	                &rc)) {
		json_decref(in);
		return rc;
	}
	if (strcmp(sub, "add") == 0) {
		if (!cli_add_domain("xmpp", "allow", in, a.pos[0])) {
			json_decref(in);
			return EXIT_USAGE;
		}
		err = xmppconf_allow_add(db, daemon_cli_actor(), CLI_SOURCE, in, &out, &e);
	} else {
		err =
		    xmppconf_allow_edit(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0], in, &out, &e);
	}
	json_decref(in);
	if (err)
		return cli_refused("xmpp", "allow", err, &e);
	return cli_answered(&area, out, a.json);
}

/* ---- policy ---------------------------------------------------------------------------- */

/* ID, or a pattern naming exactly one exception. */
static bool rule_resolve(struct db *db, const char *ref, char id[DB_ID_MAX])
{
	json_t *pol = NULL;
	size_t matches = 0, i;
	json_t *r;
	if (xmppconf_policy_get(db, &pol) != FG_OK) {
		fprintf(stderr, "fedgw xmpp policy: cannot read the store\n");
		return false;
	}
	json_array_foreach(json_object_get(pol, "rules"), i, r)
	{
		if (strcmp(cli_json_str(r, "id"), ref) == 0) {
			fg_strlcpy(id, ref, DB_ID_MAX);
			matches = 1;
			break;
		}
		if (strcasecmp(cli_json_str(r, "pattern"), ref) == 0) {
			fg_strlcpy(id, cli_json_str(r, "id"), DB_ID_MAX);
			matches++;
		}
	}
	json_decref(pol);
	if (matches == 0)
		fprintf(stderr,
		        "fedgw xmpp policy: no exception with id or pattern \"%s\" "
		        "(fedgw xmpp policy list)\n",
		        ref);
	else if (matches > 1)
		fprintf(stderr,
		        "fedgw xmpp policy: several exceptions have the pattern \"%s\": "
		        "use the id\n",
		        ref);
	return matches == 1;
}

static int cmd_policy(struct db *db, int argc, char **argv)
{
	static const char *const valued[] = {"--direction", "--description", NULL};
	struct cli_args a;
	struct conf_err e = {0};
	json_t *out = NULL;
	enum fg_err err;
	const char *sub =
	    cli_sub_args("xmpp", "policy", "default|add|delete|list", argc, argv, valued, &a);
	if (!sub)
		return EXIT_USAGE;
	if (strcmp(sub, "list") == 0) {
		if (a.npos)
			return EXIT_USAGE;
		err = xmppconf_policy_get(db, &out);
		return cli_list_print("xmpp", "policy", err, out, NULL, a.json, print_policy);
	}
	if (strcmp(sub, "default") == 0) {
		if (a.npos != 1) {
			fprintf(stderr, "Usage: fedgw xmpp policy default allow|deny\n");
			return EXIT_USAGE;
		}
		err = xmppconf_policy_default_set(db, daemon_cli_actor(), CLI_SOURCE, a.pos[0],
		                                  &out, &e);
	} else if (strcmp(sub, "add") == 0) {
		if (a.npos != 2) {
			fprintf(stderr,
			        "Usage: fedgw xmpp policy add PATTERN allow|deny "
			        "[--direction both|incoming|outgoing] [--description TEXT]\n");
			return EXIT_USAGE;
		}
		json_t *in = json_pack("{s:s?, s:s?}", "pattern", a.pos[0], "verdict", a.pos[1]);
		const char *dir = cli_opt(&a, "--direction"), *desc = cli_opt(&a, "--description");
		if (in && dir)
			json_object_set_new(in, "direction", json_string(dir));
		if (in && desc)
			json_object_set_new(in, "description", json_string(desc));
		if (!in) {
			fprintf(stderr,
			        "fedgw xmpp policy add: the arguments are not UTF-8 text\n");
			return EXIT_USAGE;
		}
		err = xmppconf_rule_add(db, daemon_cli_actor(), CLI_SOURCE, in, &out, &e);
		json_decref(in);
		if (!err && !a.json) {
			json_t *rule = json_object_get(out, "rule");
			printf("id %s\n", cli_json_str(rule, "id"));
		}
	} else if (strcmp(sub, "delete") == 0) {
		char id[DB_ID_MAX];
		if (a.npos != 1) {
			fprintf(stderr, "Usage: fedgw xmpp policy delete ID|PATTERN\n");
			return EXIT_USAGE;
		}
		if (!rule_resolve(db, a.pos[0], id))
			return EXIT_NOTFOUND;
		err = xmppconf_rule_delete(db, daemon_cli_actor(), CLI_SOURCE, id, &out, &e);
	} else {
		fprintf(stderr, "fedgw xmpp policy: unknown command \"%s\"\n", sub);
		return EXIT_USAGE;
	}
	if (err)
		return cli_refused("xmpp", "policy", err, &e);
	return cli_answered(&area, out, a.json);
}

/* ---- peers ----------------------------------------------------------------------------- */

static void fmt_ago(char *out, size_t size, int64_t since_ms, int64_t now_ms)
{
	int64_t s = (now_ms - since_ms) / 1000;
	if (since_ms <= 0) {
		fg_strlcpy(out, "-", size);
		return;
	}
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, size, "%llds ago", (long long)s);
	else if (s < 7200)
		snprintf(out, size, "%lldmin ago", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, size, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(out, size, "%lldd ago", (long long)(s / 86400));
}

/* A field of the engine's extra data as text, whatever its JSON type. */
static void field_text(json_t *obj, const char *key, char *out, size_t size)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		fg_strlcpy(out, json_string_value(v), size);
	else if (json_is_integer(v))
		snprintf(out, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_boolean(v))
		fg_strlcpy(out, json_is_true(v) ? "yes" : "no", size);
	else
		fg_strlcpy(out, "-", size);
}

static int cmd_peers(struct db *db, int argc, char **argv)
{
	struct cli_args a;
	json_t *out = NULL;
	if (!cli_args_parse("xmpp", argc, argv, NULL, &a, "peers") || a.npos)
		return EXIT_USAGE;
	enum fg_err err = xmppconf_peers(db, &out);
	if (err) {
		fprintf(stderr, "fedgw xmpp peers: cannot read the store: %s\n", fg_strerror(err));
		return EXIT_FAIL;
	}
	if (a.json) {
		cli_print_json(out);
		json_decref(out);
		return EXIT_OK;
	}
	json_t *peers = json_object_get(out, "peers");
	if (!daemon_is_running(db_dir(db), NULL))
		fprintf(stderr, "note: the daemon is not running; this is the last state it "
		                "recorded.\n");
	if (json_array_size(peers) == 0) {
		printf("No XMPP peers connected.\n");
	} else {
		int64_t now = fg_now_ms();
		printf("%-30s %-9s %-15s %-14s %-8s %-12s %7s %7s  %s\n", "DOMAIN", "DIRECTION",
		       "STATE", "AUTH", "TLS", "SINCE", "IN", "OUT", "LAST ERROR");
		size_t i;
		json_t *p;
		json_array_foreach(peers, i, p)
		{
			char auth[32], tls[32], in[24], outc[24], last[256], ago[32];
			field_text(p, "auth", auth, sizeof(auth));
			field_text(p, "tls_version", tls, sizeof(tls));
			if (strcmp(tls, "-") == 0)
				field_text(p, "tls", tls, sizeof(tls));
			field_text(p, "stanzas_in", in, sizeof(in));
			field_text(p, "stanzas_out", outc, sizeof(outc));
			field_text(p, "last_error", last, sizeof(last));
			fmt_ago(ago, sizeof(ago),
			        json_integer_value(json_object_get(p, "since_ms")), now);
			printf("%-30s %-9s %-15s %-14s %-8s %-12s %7s %7s  %s\n",
			       cli_json_str(p, "domain"), cli_json_str(p, "direction"),
			       cli_json_str(p, "state"), auth, tls, ago, in, outc,
			       strcmp(last, "-") == 0 ? "" : last);
		}
	}
	json_decref(out);
	return EXIT_OK;
}

/* ---- validate -------------------------------------------------------------------------- */

static enum fg_err validate_start(void **v, uv_loop_t *loop, struct db *db, const char *domain,
                                  s2s_step_cb step_cb, s2s_done_cb done_cb, void *ctx)
{
	struct s2s_validation *sv = NULL;
	enum fg_err err = s2s_validate_start(&sv, loop, db, domain, step_cb, done_cb, ctx);
	*v = sv;
	return err;
}

static void validate_free(void *v)
{
	s2s_validate_free(v);
}

static int cmd_validate(struct db *db, int argc, char **argv)
{
	static const struct cli_validator vd = {
	    .intro_before = "Validating federation with ",
	    .intro_after = "",
	    .start = validate_start,
	    .free = validate_free,
	};
	return cli_validate_cmd("xmpp", &vd, db, argc, argv);
}

/* ---- dispatch -------------------------------------------------------------------------- */

int daemon_xmpp_main(const struct daemon_opts *o, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {{"show", cmd_show},     {"set", cmd_set},
	                                      {"secret", cmd_secret}, {"domain", cmd_domain},
	                                      {"allow", cmd_allow},   {"policy", cmd_policy},
	                                      {"peers", cmd_peers},   {"validate", cmd_validate}};
	return cli_dispatch(o, "xmpp", cmds, sizeof(cmds) / sizeof(cmds[0]), xmpp_usage, argc,
	                    argv);
}
