/* daemon: `fedgw pki` — keys, CSRs and certificates from a shell (seed 004's `pki csr`). */
#include "daemon/cli_conf.h"
#include "daemon/daemon.h"

#include "certs/certs.h"
#include "db/db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bounds of a command line's certificate request: far beyond any real certificate. */
#define PKI_CLI_NAMES_MAX 64
#define PKI_CLI_FILE_MAX  (1024 * 1024)

static void pki_usage(FILE *out)
{
	fprintf(out,
	        "Usage: fedgw pki <verb> ...\n"
	        "\n"
	        "  csr NAME CN:<name> [subAltName:<a>,<b>,...] [O:<org>] [OU:<unit>] [C:<cc>]\n"
	        "      [--key-type ec-p256|ec-p384|rsa-2048|rsa-3072] [--xmpp-srv DOMAIN]\n"
	        "      new private key (kept in the store) and a CSR, printed as PEM;\n"
	        "      subAltName items that are IP addresses become IP SANs\n"
	        "  selfsign NAME CN:<name> [subAltName:...] [--days N] [--key-type T]\n"
	        "      new key and self-signed certificate\n"
	        "  import NAME CERT.pem [KEY.pem]\n"
	        "      a certificate with its chain (leaf first, then intermediates, root last);\n"
	        "      without KEY.pem it is matched to the key of a CSR made here\n"
	        "  import-ca NAME BUNDLE.pem   trusted CA certificates\n"
	        "  list [--json]               every certificate, CSR and CA bundle\n"
	        "  show ID|NAME                details and chain (JSON)\n"
	        "  pem ID|NAME                 the certificate chain, CSR or bundle in PEM\n"
	        "  delete ID|NAME              refused while a role uses it\n"
	        "  console ID|NAME             use this certificate for the console\n"
	        "\n"
	        "Private keys never leave the store. Example (as in seed 004):\n"
	        "  fedgw pki csr xmpp CN:example.com subAltName:xmpp.example.com,192.0.2.7\n");
}

static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "fedgw pki: cannot read %s: %s\n", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(PKI_CLI_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, PKI_CLI_FILE_MAX + 1, fp) : 0;
	fclose(fp);
	if (!buf)
		return NULL;
	if (n > PKI_CLI_FILE_MAX) {
		fprintf(stderr, "fedgw pki: %s is larger than 1 MiB: not a PEM file\n", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

struct req_args {
	struct certs_csr_params p;
	const char *dns[PKI_CLI_NAMES_MAX];
	const char *ips[PKI_CLI_NAMES_MAX];
	const char *srv[PKI_CLI_NAMES_MAX];
	char san_copy[4096];
	int days;
};

static int parse_request(int argc, char **argv, struct req_args *r, bool selfsign)
{
	memset(r, 0, sizeof *r);
	r->days = 365;
	r->p.key_type = "ec-p256";
	if (argc < 3) {
		fprintf(stderr, "fedgw pki %s: give a NAME and CN:<common name>\n", argv[0]);
		return EXIT_USAGE;
	}
	r->p.name = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		if (strncasecmp(a, "CN:", 3) == 0)
			r->p.cn = a + 3;
		else if (strncasecmp(a, "O:", 2) == 0)
			r->p.o = a + 2;
		else if (strncasecmp(a, "OU:", 3) == 0)
			r->p.ou = a + 3;
		else if (strncasecmp(a, "C:", 2) == 0)
			r->p.c = a + 2;
		else if (strncasecmp(a, "subAltName:", 11) == 0) {
			fg_strlcpy(r->san_copy, a + 11, sizeof r->san_copy);
			char *save = NULL;
			for (char *tok = strtok_r(r->san_copy, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				unsigned char raw[16];
				bool ip = inet_pton(AF_INET, tok, raw) == 1 ||
				          inet_pton(AF_INET6, tok, raw) == 1;
				if ((ip ? r->p.ip_count : r->p.dns_count) >= PKI_CLI_NAMES_MAX) {
					fprintf(stderr, "fedgw pki: too many subAltNames\n");
					return EXIT_USAGE;
				}
				if (ip)
					r->ips[r->p.ip_count++] = tok;
				else
					r->dns[r->p.dns_count++] = tok;
			}
		} else if (strcmp(a, "--key-type") == 0 && i + 1 < argc)
			r->p.key_type = argv[++i];
		else if (strcmp(a, "--xmpp-srv") == 0 && i + 1 < argc &&
		         r->p.xmpp_count < PKI_CLI_NAMES_MAX)
			r->srv[r->p.xmpp_count++] = argv[++i];
		else if (selfsign && strcmp(a, "--days") == 0 && i + 1 < argc) {
			if (!fg_parse_u64(argv[++i], 1, 3650, &v)) {
				fprintf(stderr, "fedgw pki selfsign: --days must be 1-3650\n");
				return EXIT_USAGE;
			}
			r->days = (int)v;
		} else {
			fprintf(stderr, "fedgw pki %s: unexpected argument \"%s\"\n", argv[0], a);
			return EXIT_USAGE;
		}
	}
	if (!r->p.cn || !*r->p.cn) {
		fprintf(stderr, "fedgw pki %s: CN:<common name> is required\n", argv[0]);
		return EXIT_USAGE;
	}
	r->p.dns = r->dns;
	r->p.ips = r->ips;
	r->p.xmpp_domains = r->srv;
	return EXIT_OK;
}

static int report(enum fg_err err, char *msg, const char *what)
{
	if (!err)
		return EXIT_OK;
	fprintf(stderr, "fedgw pki %s: %s\n", what, msg ? msg : fg_strerror(err));
	free(msg);
	return err == FG_ERR_NOTFOUND ? EXIT_NOTFOUND : EXIT_FAIL;
}

static void print_list(json_t *list)
{
	printf("%-32s %-24s %-11s %-28s %-12s %s\n", "ID", "NAME", "KIND", "SUBJECT", "EXPIRES",
	       "ROLES");
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c)
	{
		const char *na = json_string_value(json_object_get(c, "not_after"));
		char roles[256] = "";
		size_t j;
		json_t *r;
		json_array_foreach(json_object_get(c, "roles"), j, r)
		{
			if (j)
				strncat(roles, ",", sizeof roles - strlen(roles) - 1);
			strncat(roles, json_string_value(r) ?: "",
			        sizeof roles - strlen(roles) - 1);
		}
		printf("%-32s %-24.24s %-11s %-28.28s %-12.10s %s\n",
		       json_string_value(json_object_get(c, "id")) ?: "",
		       json_string_value(json_object_get(c, "name")) ?: "",
		       json_string_value(json_object_get(c, "kind")) ?: "",
		       json_string_value(json_object_get(c, "subject")) ?: "", na ? na : "-",
		       roles);
	}
	if (json_array_size(list) == 0)
		printf("No certificates yet: fedgw pki csr NAME CN:<name> subAltName:<names>\n");
}

int daemon_pki_main(const struct daemon_opts *o, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		pki_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			pki_usage(stdout);
			return EXIT_OK;
		}
	}
	const char *sub = argv[1];
	int sargc = argc - 1;
	char **sargv = argv + 1;
	struct req_args req;
	int rc = EXIT_OK;
	bool is_csr = strcmp(sub, "csr") == 0, is_self = strcmp(sub, "selfsign") == 0;
	if (is_csr || is_self) {
		rc = parse_request(sargc, sargv, &req, is_self);
		if (rc != EXIT_OK)
			return rc;
	} else if (strcmp(sub, "list") == 0) {
		if (sargc > 2 || (sargc == 2 && strcmp(sargv[1], "--json") != 0)) {
			fprintf(stderr, "fedgw pki list: unexpected argument \"%s\"\n", sargv[1]);
			return EXIT_USAGE;
		}
	} else if (strcmp(sub, "import") == 0) {
		if (sargc < 3 || sargc > 4) {
			fprintf(stderr, "fedgw pki import: give NAME CERT.pem [KEY.pem]\n");
			return EXIT_USAGE;
		}
	} else if (strcmp(sub, "import-ca") == 0) {
		if (sargc != 3) {
			fprintf(stderr, "fedgw pki import-ca: give NAME BUNDLE.pem\n");
			return EXIT_USAGE;
		}
	} else if (strcmp(sub, "show") == 0 || strcmp(sub, "pem") == 0 ||
	           strcmp(sub, "delete") == 0 || strcmp(sub, "console") == 0) {
		if (sargc != 2) {
			fprintf(stderr, "fedgw pki %s: give one ID or NAME\n", sub);
			return EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "fedgw pki: unknown verb \"%s\"\n\n", sub);
		pki_usage(stderr);
		return EXIT_USAGE;
	}

	struct db *db = NULL;
	rc = daemon_open_store(o, &db);
	if (rc != EXIT_OK)
		return rc;
	const char *actor = daemon_cli_actor();
	int64_t now = fg_now_ms();
	char id[DB_ID_MAX] = "";
	char *msg = NULL;
	enum fg_err err = FG_OK;
	if (is_csr) {
		err = certs_csr_create(db, actor, "cli", &req.p, id, &msg);
		rc = report(err, msg, sub);
		if (rc == EXIT_OK) {
			char *pem = NULL;
			if (certs_pem(db, id, &pem) == FG_OK) {
				fputs(pem, stdout);
				free(pem);
			}
			fprintf(stderr,
			        "CSR \"%s\" created (id %s); give it to your CA, then: "
			        "fedgw pki import %s CERT.pem\n",
			        req.p.name, id, req.p.name);
		}
	} else if (is_self) {
		req.p.days = (unsigned)req.days;
		err = certs_selfsigned_create(db, actor, "cli", &req.p, now, id, &msg);
		rc = report(err, msg, sub);
		if (rc == EXIT_OK)
			printf("Self-signed certificate \"%s\" created (id %s), valid %d days.\n",
			       req.p.name, id, req.days);
	} else if (strcmp(sub, "import") == 0 || strcmp(sub, "import-ca") == 0) {
		bool ca = strcmp(sub, "import-ca") == 0;
		char *cert = read_file(sargv[2]);
		char *key = !ca && sargc == 4 ? read_file(sargv[3]) : NULL;
		if (!cert || (!ca && sargc == 4 && !key)) {
			rc = EXIT_FAIL;
		} else {
			char *fix = NULL;
			err = ca ? certs_import_ca(db, actor, "cli", sargv[1], cert, id, &msg)
			         : certs_import(db, actor, "cli", sargv[1], cert, key, now, id,
			                        &msg, &fix);
			if (err && fix)
				fprintf(stderr, "%s\nFix: %s\n", msg ? msg : fg_strerror(err), fix);
			rc = err && fix ? EXIT_FAIL : report(err, fix ? NULL : msg, sub);
			if (err && fix)
				free(msg);
			free(fix);
			if (rc == EXIT_OK)
				printf("%s \"%s\" imported (id %s).\n",
				       ca ? "CA bundle" : "Certificate", sargv[1], id);
		}
		free(cert);
		if (key) {
			memset(key, 0, strlen(key));
			free(key);
		}
	} else if (strcmp(sub, "list") == 0) {
		json_t *list = NULL;
		err = certs_list(db, now, &list);
		rc = report(err, NULL, sub);
		if (rc == EXIT_OK) {
			if (sargc == 2) {
				char *text = json_dumps(list, JSON_INDENT(2));
				puts(text ? text : "[]");
				free(text);
			} else {
				print_list(list);
			}
		}
		json_decref(list);
	} else if (!cli_cert_find("pki", db, sargv[1], id)) {
		rc = EXIT_NOTFOUND;
	} else if (strcmp(sub, "show") == 0) {
		json_t *c = NULL;
		err = certs_show(db, id, now, &c);
		rc = report(err, NULL, sub);
		if (rc == EXIT_OK) {
			char *text = json_dumps(c, JSON_INDENT(2));
			puts(text ? text : "{}");
			free(text);
		}
		json_decref(c);
	} else if (strcmp(sub, "pem") == 0) {
		char *pem = NULL;
		err = certs_pem(db, id, &pem);
		rc = report(err, NULL, sub);
		if (rc == EXIT_OK)
			fputs(pem, stdout);
		free(pem);
	} else if (strcmp(sub, "delete") == 0) {
		err = certs_delete(db, actor, "cli", id, &msg);
		rc = report(err, msg, sub);
		if (rc == EXIT_OK)
			printf("Deleted %s.\n", sargv[1]);
	} else if (strcmp(sub, "console") == 0) {
		err = certs_console_set(db, actor, "cli", id, now, &msg);
		rc = report(err, msg, sub);
		if (rc == EXIT_OK)
			printf("The console now uses %s (new connections, within a second).\n",
			       sargv[1]);
	}
	db_close(db);
	return rc;
}
