/* daemon: `fedgw init` and `fedgw admin` — the store, the console certificate, admins. */
#include "daemon/daemon.h"

#include "accounts/accounts.h"
#include "certs/certs.h"
#include "db/db.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void init_usage(FILE *out)
{
	fprintf(out,
	        "Usage: fedgw init [--data-dir DIR] [--admin-name NAME]\n"
	        "                  [--admin-password-file FILE] [--hostname NAME]\n"
	        "\n"
	        "Creates the store (directory 0700, files 0600), the console's self-signed\n"
	        "certificate for this host's name and addresses, and optionally the first\n"
	        "admin account. Safe to run again: nothing existing is replaced, except the\n"
	        "admin's password when --admin-password-file is given.\n"
	        "Without an admin, the console asks for one at the first visit.\n"
	        "\n"
	        "  --admin-name NAME           admin account name (default admin)\n"
	        "  --admin-password-file FILE  first line of FILE is the password (\"-\": stdin)\n"
	        "  --hostname NAME             name for the console certificate (default: this\n"
	        "                              machine's host name)\n");
}

int daemon_init_main(const struct daemon_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"admin-name", required_argument, NULL, 'n'},
	    {"admin-password-file", required_argument, NULL, 'p'},
	    {"hostname", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *admin = "admin", *pwfile = NULL, *hostname = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			admin = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'H':
			hostname = optarg;
			break;
		case 'h':
			init_usage(stdout);
			return EXIT_OK;
		default:
			init_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fedgw init: unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	const char *why = NULL;
	if (pwfile && !accounts_name_check(admin, &why)) {
		fprintf(stderr, "fedgw init: admin name \"%s\": %s\n", admin, why);
		return EXIT_USAGE;
	}
	struct db *db = NULL;
	int rc = daemon_open_store(o, &db);
	if (rc != EXIT_OK)
		return rc;
	char host[256], addrs[16][64];
	size_t naddrs = 0;
	daemon_host_identity(host, sizeof host, addrs, 16, &naddrs);
	if (hostname)
		fg_strlcpy(host, hostname, sizeof host);
	const char *addr_ptrs[16];
	for (size_t i = 0; i < naddrs; i++)
		addr_ptrs[i] = addrs[i];
	enum fg_err err = certs_console_ensure(db, host, addr_ptrs, naddrs, fg_now_ms());
	if (err) {
		fprintf(stderr, "fedgw init: could not make the console certificate: %s\n",
		        fg_strerror(err));
		rc = EXIT_FAIL;
		goto out;
	}
	if (pwfile) {
		err = accounts_init_from_file(db, admin, pwfile);
		if (err) {
			fprintf(stderr, "fedgw init: could not set the admin account: %s\n",
			        fg_strerror(err));
			rc = EXIT_FAIL;
			goto out;
		}
		printf("Admin account \"%s\" is ready.\n", admin);
	}
	size_t admins = 0;
	accounts_count(db, &admins);
	printf("Store ready in %s.\n", o->data_dir);
	if (admins == 0)
		printf("No admin account yet: open the console and set the admin password there,\n"
		       "or run: fedgw admin add NAME\n");
out:
	db_close(db);
	return rc;
}

static void admin_usage(FILE *out)
{
	fprintf(out,
	        "Usage: fedgw admin <add|passwd|delete|list> [options]\n"
	        "\n"
	        "  add NAME [--password-file FILE]     new console admin (asks for the password\n"
	        "                                      unless FILE is given; \"-\" reads stdin)\n"
	        "  passwd NAME [--password-file FILE]  set an admin's password; ends its sessions\n"
	        "  delete NAME                         remove an admin (not the last one)\n"
	        "  list                                names, creation and last login\n"
	        "\n"
	        "Names: 1-64 of A-Z a-z 0-9 . _ -; passwords: at least 10 characters.\n"
	        "Changes are recorded in the audit trail as cli:<your user>.\n");
}

static int admin_password(const char *name, const char *pwfile, char hash[DB_HASH_MAX])
{
	char pw[ACCOUNTS_PASSWORD_MAX_BYTES + 2];
	int rc = pwfile ? daemon_read_secret_file(pwfile, pw, sizeof pw)
	                : daemon_prompt_password("Password: ", true, pw, sizeof pw);
	if (rc != EXIT_OK)
		return rc;
	const char *why = NULL;
	if (!accounts_password_check(name, pw, &why)) {
		fprintf(stderr, "fedgw admin: %s\n", why);
		fg_random(pw, sizeof pw);
		return EXIT_USAGE;
	}
	enum fg_err err = accounts_hash(pw, hash);
	fg_random(pw, sizeof pw); /* do not leave the password in memory */
	if (err) {
		fprintf(stderr, "fedgw admin: could not hash the password: %s\n", fg_strerror(err));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

int daemon_admin_main(const struct daemon_opts *o, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		admin_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	const char *sub = argv[1];
	const char *pwfile = NULL, *name = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc)
			pwfile = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			admin_usage(stdout);
			return EXIT_OK;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "fedgw admin %s: unexpected argument \"%s\"\n", sub,
			        argv[i]);
			return EXIT_USAGE;
		} else
			name = argv[i];
	}
	bool needs_name = strcmp(sub, "list") != 0;
	if (needs_name && !name) {
		fprintf(stderr, "fedgw admin %s: which admin? (fedgw admin %s NAME)\n", sub, sub);
		return EXIT_USAGE;
	}
	const char *why = NULL;
	if (strcmp(sub, "add") == 0 && !accounts_name_check(name, &why)) {
		fprintf(stderr, "fedgw admin add: \"%s\": %s\n", name, why);
		return EXIT_USAGE;
	}
	struct db *db = NULL;
	int rc = daemon_open_store(o, &db);
	if (rc != EXIT_OK)
		return rc;
	const char *actor = daemon_cli_actor();
	char hash[DB_HASH_MAX];
	enum fg_err err = FG_OK;
	if (strcmp(sub, "list") == 0) {
		struct db_admin *admins = NULL;
		size_t n = 0;
		err = accounts_list(db, &admins, &n);
		if (!err) {
			printf("%-24s %-20s %-20s\n", "NAME", "CREATED (UTC)", "LAST LOGIN (UTC)");
			for (size_t i = 0; i < n; i++) {
				char created[32], last[32] = "never";
				fg_format_utc(created, sizeof created, admins[i].created_ms);
				if (admins[i].last_login_ms)
					fg_format_utc(last, sizeof last, admins[i].last_login_ms);
				printf("%-24s %-20s %-20s\n", admins[i].name, created, last);
			}
			if (n == 0)
				printf("No admin accounts yet: fedgw admin add NAME\n");
			db_admin_list_free(admins, n);
		}
	} else if (strcmp(sub, "add") == 0) {
		rc = admin_password(name, pwfile, hash);
		if (rc == EXIT_OK) {
			err = accounts_add(db, actor, "cli", name, hash, false, fg_now_ms());
			if (err == FG_ERR_EXISTS) {
				fprintf(stderr,
				        "fedgw admin add: \"%s\" already exists; use fedgw "
				        "admin passwd %s\n",
				        name, name);
				rc = EXIT_FAIL;
				err = FG_OK;
			} else if (!err)
				printf("Admin \"%s\" added.\n", name);
		}
	} else if (strcmp(sub, "passwd") == 0) {
		struct db_admin a;
		if (accounts_get(db, name, &a) != FG_OK) {
			fprintf(stderr, "fedgw admin passwd: no admin named \"%s\"\n", name);
			rc = EXIT_NOTFOUND;
			goto out;
		}
		rc = admin_password(name, pwfile, hash);
		if (rc == EXIT_OK) {
			size_t ended = 0;
			err = accounts_password_set(db, actor, "cli", name, hash, NULL, fg_now_ms(),
			                            &ended);
			if (!err)
				printf("Password of \"%s\" changed; %zu console session%s ended.\n",
				       name, ended, ended == 1 ? "" : "s");
		}
	} else if (strcmp(sub, "delete") == 0) {
		err = accounts_delete(db, actor, "cli", name, fg_now_ms());
		if (err == FG_ERR_NOTFOUND) {
			fprintf(stderr, "fedgw admin delete: no admin named \"%s\"\n", name);
			rc = EXIT_NOTFOUND;
			err = FG_OK;
		} else if (err == FG_ERR_BUSY) {
			fprintf(stderr,
			        "fedgw admin delete: \"%s\" is the last admin; add another "
			        "one first or the console becomes unreachable\n",
			        name);
			rc = EXIT_FAIL;
			err = FG_OK;
		} else if (!err)
			printf("Admin \"%s\" deleted.\n", name);
	} else {
		fprintf(stderr, "fedgw admin: unknown action \"%s\"\n\n", sub);
		admin_usage(stderr);
		rc = EXIT_USAGE;
	}
	if (err) {
		fprintf(stderr, "fedgw admin %s: %s\n", sub, fg_strerror(err));
		rc = EXIT_FAIL;
	}
out:
	db_close(db);
	return rc;
}
