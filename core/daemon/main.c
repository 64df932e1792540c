/* daemon: the fedgw command line — global options and verb dispatch. */
#include "daemon/daemon.h"

#include "db/db.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#ifndef FEDGW_VERSION
#define FEDGW_VERSION "unknown"
#endif

const char *daemon_version(void)
{
	return FEDGW_VERSION;
}

struct verb {
	const char *name;
	int (*main)(const struct daemon_opts *o, int argc, char **argv);
	const char *summary;
};

static const struct verb verbs[] = {
    {"serve", daemon_serve_main, "run the gateway and its HTTPS console (foreground)"},
    {"init", daemon_init_main, "create the store, the console certificate and an admin"},
    {"status", daemon_status_main, "show the daemon, listeners, faults and counters"},
    {"log", daemon_log_main, "show or clear the log kept in the store"},
    {"pki", daemon_pki_main, "keys, CSRs and certificates (csr, selfsign, import, ...)"},
    {"admin", daemon_admin_main, "console admin accounts (add, passwd, list, delete)"},
    {"xmpp", daemon_xmpp_main, "XMPP federation: settings, domains, allow list, policy, peers"},
    {"sip", daemon_sip_main, "SIP gateway: settings, SIP domains and their next hops, validate"},
    {"backup", daemon_backup_main, "write the whole store to a passphrase-protected file"},
    {"restore", daemon_restore_main, "replace the store's contents with a backup file"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: fedgw [--data-dir DIR] <verb> [options]\n"
	             "\n"
	             "fedgw is a federation gateway appliance: XMPP server-to-server federation,\n"
	             "SIP, XMPP components, and an HTTPS admin console, in one process.\n"
	             "\n"
	             "Verbs:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		fprintf(out, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out,
	        "  %-8s %s\n"
	        "\n"
	        "Global options:\n"
	        "  --data-dir DIR  the store's directory (default " FEDGW_DEFAULT_DATA_DIR
	        ", or $FEDGW_DATA_DIR)\n"
	        "  -h, --help      this help; `fedgw <verb> --help` explains a verb\n"
	        "  --version       same as `fedgw version`\n"
	        "\n"
	        "Exit codes: 0 success, 1 refused or failed, 2 usage error, 3 not found,\n"
	        "4 the store could not be opened.\n",
	        "version", "print the build version");
}

int daemon_open_store(const struct daemon_opts *o, struct db **out)
{
	enum fg_err err = db_open(out, o->data_dir);
	if (err == FG_OK)
		return EXIT_OK;
	fprintf(stderr, "fedgw: cannot open the store in %s: %s\n", o->data_dir, fg_strerror(err));
	if (err == FG_ERR_VERSION)
		fprintf(stderr, "The store was written by a newer fedgw; run that version or "
		                "restore a backup.\n");
	else if (access(o->data_dir, W_OK) != 0 && errno == EACCES)
		fprintf(stderr, "Run as the user that owns %s (or root), or pass --data-dir.\n",
		        o->data_dir);
	return EXIT_STORE;
}

const char *daemon_cli_actor(void)
{
	static char actor[DB_NAME_MAX];
	if (actor[0])
		return actor;
	struct passwd *pw = getpwuid(getuid());
	snprintf(actor, sizeof actor, "cli:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
	return actor;
}

void daemon_host_identity(char *hostname, size_t hostsize, char addrs[][64], size_t max,
                          size_t *naddrs)
{
	*naddrs = 0;
	if (gethostname(hostname, hostsize) != 0 || !hostname[0])
		fg_strlcpy(hostname, "fedgw", hostsize);
	hostname[hostsize - 1] = '\0';
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) != 0)
		return;
	for (struct ifaddrs *p = ifa; p && *naddrs < max; p = p->ifa_next) {
		if (!p->ifa_addr)
			continue;
		const void *raw = NULL;
		int family = p->ifa_addr->sa_family;
		if (family == AF_INET)
			raw = &((struct sockaddr_in *)p->ifa_addr)->sin_addr;
		else if (family == AF_INET6) {
			const struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)p->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr))
				continue; /* needs a zone: useless in a URL or a certificate */
			raw = &a6->sin6_addr;
		} else
			continue;
		char text[64];
		if (!inet_ntop(family, raw, text, sizeof text))
			continue;
		bool dup = false;
		for (size_t i = 0; i < *naddrs && !dup; i++)
			dup = strcmp(addrs[i], text) == 0;
		if (!dup)
			fg_strlcpy(addrs[(*naddrs)++], text, 64);
	}
	freeifaddrs(ifa);
}

int daemon_read_secret_file(const char *path, char *out, size_t outsize)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "fedgw: cannot read %s: %s\n", path, strerror(errno));
		return EXIT_FAIL;
	}
	if (fp != stdin) {
		struct stat st;
		if (fstat(fileno(fp), &st) == 0 && (st.st_mode & 077))
			fprintf(stderr,
			        "fedgw: warning: %s is readable by other users; "
			        "chmod 600 it or delete it after use\n",
			        path);
	}
	int rc = EXIT_OK;
	if (!fgets(out, (int)outsize, fp)) {
		fprintf(stderr, "fedgw: %s is empty\n", path);
		rc = EXIT_FAIL;
	} else {
		out[strcspn(out, "\r\n")] = '\0';
	}
	if (fp != stdin)
		fclose(fp);
	return rc;
}

static int read_line_noecho(const char *prompt, char *out, size_t outsize)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, noecho;
	if (tty) {
		fprintf(stderr, "%s", prompt);
		tcgetattr(STDIN_FILENO, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	char *got = fgets(out, (int)outsize, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (!got)
		return EXIT_FAIL;
	out[strcspn(out, "\r\n")] = '\0';
	return EXIT_OK;
}

int daemon_prompt_password(const char *prompt, bool confirm, char *out, size_t outsize)
{
	if (read_line_noecho(prompt, out, outsize) != EXIT_OK) {
		fprintf(stderr, "fedgw: no password given\n");
		return EXIT_FAIL;
	}
	if (confirm && isatty(STDIN_FILENO)) {
		char *again = malloc(outsize);
		bool same = again &&
		            read_line_noecho("Repeat the password: ", again, outsize) == EXIT_OK &&
		            strcmp(again, out) == 0;
		if (again) {
			explicit_bzero(again, outsize);
			free(again);
		}
		if (!same) {
			fprintf(stderr, "fedgw: the passwords do not match\n");
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct daemon_opts o = {.data_dir = getenv("FEDGW_DATA_DIR")};
	if (!o.data_dir || !*o.data_dir)
		o.data_dir = FEDGW_DEFAULT_DATA_DIR;
	umask(077); /* data directory 0700, files 0600 */

	/* Global options come before the verb; --data-dir is also accepted after it. */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
			o.data_dir = argv[++i];
		} else if (strncmp(argv[i], "--data-dir=", 11) == 0) {
			o.data_dir = argv[i] + 11;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("fedgw %s\n", daemon_version());
			return EXIT_OK;
		} else {
			fprintf(stderr, "fedgw: unknown option \"%s\"\n\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[i];
	if (strcmp(name, "version") == 0) {
		printf("fedgw %s\n", daemon_version());
		return EXIT_OK;
	}
	if (strcmp(name, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	/* Pull "--data-dir X" out of the verb's arguments so every verb accepts it. */
	int vargc = 0;
	char **vargv = calloc((size_t)(argc - i + 1), sizeof *vargv);
	if (!vargv)
		return EXIT_FAIL;
	for (int j = i; j < argc; j++) {
		if (strcmp(argv[j], "--data-dir") == 0 && j + 1 < argc) {
			o.data_dir = argv[++j];
			continue;
		}
		if (strncmp(argv[j], "--data-dir=", 11) == 0) {
			o.data_dir = argv[j] + 11;
			continue;
		}
		vargv[vargc++] = argv[j];
	}
	int rc = EXIT_USAGE;
	bool found = false;
	for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
		if (strcmp(name, verbs[v].name) == 0) {
			rc = verbs[v].main(&o, vargc, vargv);
			found = true;
			break;
		}
	}
	if (!found) {
		fprintf(stderr, "fedgw: unknown verb \"%s\"\n\n", name);
		usage(stderr);
	}
	free(vargv);
	return rc;
}
