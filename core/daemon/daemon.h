/* daemon: the fedgw binary — `fedgw serve` and the command-line verbs. */
#ifndef FEDGW_DAEMON_H
#define FEDGW_DAEMON_H

#include "base/base.h"

#include <stdbool.h>
#include <stdint.h>

struct db;

#define FEDGW_DEFAULT_DATA_DIR       "/var/lib/fedgw"
#define FEDGW_DEFAULT_CONSOLE_PORT   8443
#define FEDGW_DEFAULT_SESSION_IDLE_S 1800
/* A certificate in use that expires within this many days raises a fault. */
#define FEDGW_CERT_WARN_DAYS 30

/* Exit codes: scripts can tell a usage error from a refused operation. */
enum daemon_exit {
	EXIT_OK = 0,
	EXIT_FAIL = 1,     /* the operation failed or was refused (message on stderr) */
	EXIT_USAGE = 2,    /* bad command line */
	EXIT_NOTFOUND = 3, /* the named object does not exist */
	EXIT_STORE = 4,    /* the store could not be opened */
};

struct daemon_opts {
	const char *data_dir;
};

const char *daemon_version(void);

/* Verbs: argv[0] is the verb name. Each returns an exit code. */
int daemon_serve_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_init_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_status_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_log_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_pki_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_admin_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_xmpp_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_sip_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_backup_main(const struct daemon_opts *o, int argc, char **argv);
int daemon_restore_main(const struct daemon_opts *o, int argc, char **argv);

/* Opens the store for a CLI verb, printing a clear message on failure. */
int daemon_open_store(const struct daemon_opts *o, struct db **out);
/* The actor recorded in the audit trail for CLI changes: "cli:<user>". */
const char *daemon_cli_actor(void);
/* True if a `fedgw serve` holds the data directory's lock. pid_out may be NULL. */
bool daemon_is_running(const char *data_dir, long *pid_out);

/* Log records into the store's bounded log: queued by a sink (any thread, never inside a
 * store transaction) and written by daemon_logstore_flush in one transaction. */
void daemon_logstore_attach(struct db *db);
void daemon_logstore_flush(void);
void daemon_logstore_detach(void);

/* Host name and the machine's addresses (for the console certificate). */
void daemon_host_identity(char *hostname, size_t hostsize, char addrs[][64], size_t max,
                          size_t *naddrs);

/* Reads a secret from the first line of a file ("-" = stdin), without the newline. */
int daemon_read_secret_file(const char *path, char *out, size_t outsize);
/* Asks on the terminal without echo (twice when confirm), or reads a line from stdin. */
int daemon_prompt_password(const char *prompt, bool confirm, char *out, size_t outsize);

#endif
