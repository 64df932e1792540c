/* daemon: `fedgw backup` and `fedgw restore` — the whole store as one encrypted file. */
#include "daemon/daemon.h"

#include "backup/backup.h"
#include "db/db.h"

#include <stdio.h>
#include <string.h>

static void backup_usage(FILE *out, bool restore)
{
	if (restore)
		fprintf(
		    out,
		    "Usage: fedgw restore FILE [--passphrase-file F]\n"
		    "\n"
		    "Replaces the whole configuration (settings, domains, allow list, policy,\n"
		    "certificates and keys, bridges, admins), the log, the audit trail and the\n"
		    "faults with the contents of a backup made by `fedgw backup`. Every console\n"
		    "session ends. A running daemon applies the restored configuration within a\n"
		    "second.\n"
		    "\n"
		    "  --passphrase-file F  first line of F is the passphrase (\"-\": stdin);\n"
		    "                       otherwise it is asked for on the terminal\n");
	else
		fprintf(
		    out,
		    "Usage: fedgw backup FILE [--passphrase-file F]\n"
		    "\n"
		    "Writes the whole store, secrets and private keys included, to FILE (mode\n"
		    "0600), encrypted with a passphrase of at least 12 characters (Argon2id and\n"
		    "ChaCha20-Poly1305). Works while the daemon runs. Keep the passphrase: "
		    "without\n"
		    "it the backup cannot be restored.\n"
		    "\n"
		    "  --passphrase-file F  first line of F is the passphrase (\"-\": stdin);\n"
		    "                       otherwise it is asked for twice on the terminal\n");
}

static int run(const struct daemon_opts *o, int argc, char **argv, bool restore)
{
	const char *verb = restore ? "restore" : "backup";
	const char *file = NULL, *passfile = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--passphrase-file") == 0 && i + 1 < argc) {
			passfile = argv[++i];
		} else if (strncmp(argv[i], "--passphrase-file=", 18) == 0) {
			passfile = argv[i] + 18;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			backup_usage(stdout, restore);
			return EXIT_OK;
		} else if ((argv[i][0] == '-' && argv[i][1] != '\0') || file) {
			fprintf(stderr, "fedgw %s: unexpected argument \"%s\"\n", verb, argv[i]);
			backup_usage(stderr, restore);
			return EXIT_USAGE;
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		fprintf(stderr, "fedgw %s: which file? (fedgw %s FILE)\n", verb, verb);
		return EXIT_USAGE;
	}
	char pass[BACKUP_PASSPHRASE_MAX_BYTES + 2];
	int rc = passfile
	             ? daemon_read_secret_file(passfile, pass, sizeof pass)
	             : daemon_prompt_password("Backup passphrase: ", !restore, pass, sizeof pass);
	if (rc != EXIT_OK)
		return rc;
	const char *why = NULL;
	if (!restore && !backup_passphrase_check(pass, &why)) {
		fprintf(stderr, "fedgw backup: %s\n", why);
		rc = EXIT_USAGE;
		goto wipe;
	}
	struct db *db = NULL;
	rc = daemon_open_store(o, &db);
	if (rc != EXIT_OK)
		goto wipe;
	enum fg_err err;
	size_t records = 0;
	if (restore)
		err = backup_restore(db, file, pass, daemon_cli_actor(), "cli", &records);
	else
		err = backup_write(db, file, pass, daemon_cli_actor(), "cli");
	db_close(db);
	if (err) {
		fprintf(stderr, "fedgw %s: %s: %s\n", verb, file, backup_error_text(err));
		rc = err == FG_ERR_NOTFOUND ? EXIT_NOTFOUND : EXIT_FAIL;
	} else if (restore) {
		printf("Restored %zu records from %s. Console sessions have ended: log in again.\n",
		       records, file);
	} else {
		printf("Backup written to %s. Keep the passphrase: the file cannot be restored "
		       "without it.\n",
		       file);
	}
wipe:
	explicit_bzero(pass, sizeof pass);
	return rc;
}

int daemon_backup_main(const struct daemon_opts *o, int argc, char **argv)
{
	return run(o, argc, argv, false);
}

int daemon_restore_main(const struct daemon_opts *o, int argc, char **argv)
{
	return run(o, argc, argv, true);
}
