/* sipgw_seed, interop_sip_seed: writes the SIP side of a test's configuration into a fedgw
 * store with the db API (sip.* settings, certificates with keys, CA bundles, SIP domains),
 * one command per stdin line; --subs lists the stored presence subscriptions (RFC 8048),
 * --status ID prints a status object's state and extra JSON. */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Test PEM files are a certificate chain or a key: a few kilobytes. */
#define SEED_FILE_MAX (256 * 1024)
/* The longest command: domain DOMAIN HOP PORT TRANSPORT CERT CA XMPP TRUSTED. */
#define SEED_WORDS_MAX 9

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	char *buf = calloc(1, SEED_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, SEED_FILE_MAX, fp) : 0;
	fclose(fp);
	if (buf != NULL)
		buf[n] = '\0';
	return buf;
}

struct line {
	char *w[SEED_WORDS_MAX];
	int n;
};

static const char *opt_word(const char *w)
{
	return strcmp(w, "-") == 0 ? "" : w;
}

static enum fg_err put_cert(struct db_txn *txn, struct line *l)
{
	/* cert ID NAME CHAIN.pem KEY.pem */
	struct db_cert c = {.kind = DB_CERT_LEAF};
	struct db_key k = {0};
	fg_strlcpy(c.id, l->w[1], sizeof(c.id));
	fg_strlcpy(c.name, l->w[2], sizeof(c.name));
	snprintf(c.key_id, sizeof(c.key_id), "k%.30s", l->w[1]);
	fg_strlcpy(k.id, c.key_id, sizeof(k.id));
	fg_strlcpy(k.type, "ec-p256", sizeof(k.type));
	c.pem = slurp(l->w[3]);
	k.pem = slurp(l->w[4]);
	enum fg_err err = c.pem && k.pem ? FG_OK : FG_ERR_IO;
	if (err == FG_OK)
		err = db_key_put(txn, &k);
	if (err == FG_OK)
		err = db_cert_put(txn, &c);
	free(c.pem);
	free(k.pem);
	return err;
}

static enum fg_err put_ca(struct db_txn *txn, struct line *l)
{
	/* ca ID NAME BUNDLE.pem */
	struct db_cert c = {.kind = DB_CERT_CA_BUNDLE};
	fg_strlcpy(c.id, l->w[1], sizeof(c.id));
	fg_strlcpy(c.name, l->w[2], sizeof(c.name));
	c.pem = slurp(l->w[3]);
	enum fg_err err = c.pem ? db_cert_put(txn, &c) : FG_ERR_IO;
	free(c.pem);
	return err;
}

static enum fg_err put_domain(struct db_txn *txn, struct line *l)
{
	/* domain DOMAIN NEXT_HOP PORT TRANSPORT CERT_ID|- CA_ID|- XMPP_DOMAIN|- [TRUSTED]
	 * (TRUSTED: the trusted addresses, comma-separated) */
	struct db_sip_domain d = {0};
	uint64_t port = 0;
	if (!fg_parse_u64(l->w[3], 0, 65535, &port))
		return FG_ERR_INVAL;
	fg_strlcpy(d.domain, l->w[1], sizeof(d.domain));
	fg_strlcpy(d.next_hop, l->w[2], sizeof(d.next_hop));
	d.next_hop_port = (uint16_t)port;
	fg_strlcpy(d.transport, l->w[4], sizeof(d.transport));
	fg_strlcpy(d.cert_id, opt_word(l->w[5]), sizeof(d.cert_id));
	fg_strlcpy(d.ca_id, opt_word(l->w[6]), sizeof(d.ca_id));
	fg_strlcpy(d.xmpp_domain, opt_word(l->w[7]), sizeof(d.xmpp_domain));
	if (l->n == 9)
		fg_strlcpy(d.trusted_addrs, l->w[8], sizeof(d.trusted_addrs));
	return db_sip_domain_put(txn, &d);
}

static enum fg_err apply(struct db_txn *txn, void *ctx)
{
	struct line *l = ctx;
	const char *cmd = l->w[0];
	if (strcmp(cmd, "set") == 0 && l->n == 3)
		return db_setting_put(txn, l->w[1], l->w[2]);
	if (strcmp(cmd, "cert") == 0 && l->n == 5)
		return put_cert(txn, l);
	if (strcmp(cmd, "ca") == 0 && l->n == 4)
		return put_ca(txn, l);
	if (strcmp(cmd, "domain") == 0 && (l->n == 8 || l->n == 9))
		return put_domain(txn, l);
	if (strcmp(cmd, "deldomain") == 0 && l->n == 2)
		return db_sip_domain_del(txn, l->w[1]);
	return FG_ERR_INVAL;
}

static int list_subs(struct db *db)
{
	/* one line each: direction state watcher presentity */
	struct db_txn *txn = NULL;
	struct db_subscription *subs = NULL;
	size_t n = 0;
	int rc = 1;
	if (db_txn_begin(db, &txn) == FG_OK && db_subscription_list(txn, &subs, &n) == FG_OK) {
		for (size_t i = 0; i < n; i++)
			printf("%s %d %s %s\n",
			       subs[i].direction == DB_SUB_SIP_WATCHER ? "sip-watcher"
			                                               : "xmpp-watcher",
			       (int)subs[i].state, subs[i].watcher, subs[i].presentity);
		rc = 0;
	}
	free(subs);
	db_txn_end(txn);
	return rc;
}

static int print_status(struct db *db, const char *id)
{
	/* "state<TAB>extra JSON" of one status object */
	struct db_txn *txn = NULL;
	struct db_status *objs = NULL;
	size_t n = 0;
	int rc = 1;
	if (db_txn_begin(db, &txn) == FG_OK && db_status_list(txn, &objs, &n) == FG_OK) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(objs[i].id, id) == 0) {
				printf("%s\t%s\n", objs[i].state, objs[i].extra);
				rc = 0;
			}
	}
	db_status_list_free(objs, n);
	db_txn_end(txn);
	return rc;
}

static void split(char *buf, struct line *l)
{
	for (char *p = buf; l->n < SEED_WORDS_MAX;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			*p++ = '\0';
		if (*p == '\0')
			break;
		l->w[l->n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
	}
}

int main(int argc, char **argv)
{
	struct db *db = NULL;
	/* The same program is built under two names; messages carry the one it runs as. */
	const char *slash = strrchr(argv[0], '/');
	const char *prog = slash ? slash + 1 : argv[0];
	if (argc != 2 && !(argc == 3 && strcmp(argv[2], "--subs") == 0) &&
	    !(argc == 4 && strcmp(argv[2], "--status") == 0)) {
		fprintf(stderr, "usage: %s DATA_DIR [--subs | --status ID] < commands\n", prog);
		return 2;
	}
	if (db_open(&db, argv[1]) != FG_OK) {
		fprintf(stderr, "%s: cannot open the store %s\n", prog, argv[1]);
		return 1;
	}
	if (argc >= 3) {
		int rc = argc == 4 ? print_status(db, argv[3]) : list_subs(db);
		db_close(db);
		return rc;
	}
	char buf[4096];
	int rc = 0;
	while (fgets(buf, sizeof(buf), stdin) != NULL) {
		struct line l = {0};
		split(buf, &l);
		if (l.n == 0 || l.w[0][0] == '#')
			continue;
		enum fg_err err = db_write(db, apply, &l);
		if (err != FG_OK) {
			fprintf(stderr, "%s: \"%s\" failed: %s\n", prog, l.w[0], fg_strerror(err));
			rc = 1;
		}
	}
	db_close(db);
	return rc;
}
