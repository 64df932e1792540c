/* pki_tool: test driver writing CSRs/certificates and checking chains for pki_openssl.sh. */
#include "pki/pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	size_t w = fwrite(text, 1, len, f);
	fclose(f);
	return w == len ? 0 : -1;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *buf = malloc(PKI_PEM_TEXT_MAX);
	*len = buf != NULL ? fread(buf, 1, PKI_PEM_TEXT_MAX, f) : 0;
	fclose(f);
	return buf;
}

/* gen <key-type> <dir>: key.pem, csr.pem, self.pem for CN=host.example.test. */
static int cmd_gen(const char *type_name, const char *dir)
{
	enum pki_key_type type;
	struct pki_key *key = NULL;
	struct fg_buf der = {0}, pem = {0};
	int rc = 1;
	const char *dns[] = {"host.example.test", "xmpp.example.test"};
	const char *ips[] = {"192.0.2.10", "2001:db8::1"};
	const char *xmpp[] = {"example.test"};
	struct pki_subject_params p = {.cn = "host.example.test",
	                               .o = "Example Org",
	                               .c = "DE",
	                               .dns = dns,
	                               .dns_count = 2,
	                               .ips = ips,
	                               .ip_count = 2,
	                               .xmpp_domains = xmpp,
	                               .xmpp_count = 1};
	if (!pki_key_type_parse(type_name, &type) || pki_key_generate(type, &key) != FG_OK)
		goto out;
	if (pki_key_to_pem(key, &pem) != FG_OK ||
	    write_file(dir, "key.pem", (char *)pem.data, pem.len))
		goto out;
	pki_buf_wipe(&pem);
	if (pki_csr_create(key, &p, &der) != FG_OK ||
	    pki_pem_encode(&pem, "CERTIFICATE REQUEST", der.data, der.len) != FG_OK ||
	    write_file(dir, "csr.pem", (char *)pem.data, pem.len))
		goto out;
	fg_buf_reset(&pem);
	if (pki_selfsigned_create(key, &p, fg_now_ms(), 30, &der) != FG_OK ||
	    pki_pem_encode(&pem, "CERTIFICATE", der.data, der.len) != FG_OK ||
	    write_file(dir, "self.pem", (char *)pem.data, pem.len))
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "gen %s failed\n", type_name);
	pki_key_free(key);
	fg_buf_free(&der);
	pki_buf_wipe(&pem);
	return rc;
}

/* chain <file>...: concatenates the files in the given order and checks the chain. */
static int cmd_chain(int argc, char **argv)
{
	struct fg_buf all = {0};
	struct pki_cert **certs = NULL;
	size_t n = 0;
	char err[PKI_MSG_MAX] = "";
	struct pki_chain_result res;
	for (int i = 0; i < argc; i++) {
		size_t len;
		char *t = read_file(argv[i], &len);
		if (t == NULL)
			return 2;
		fg_buf_append(&all, t, len);
		free(t);
	}
	if (pki_certs_from_pem((char *)all.data, all.len, &certs, &n, err, sizeof(err)) != FG_OK) {
		printf("parse error: %s\n", err);
		fg_buf_free(&all);
		return 2;
	}
	int64_t now = fg_now_ms();
	uint64_t v;
	const char *env = getenv("PKI_NOW_MS");
	if (env != NULL && fg_parse_u64(env, 0, INT64_MAX, &v))
		now = (int64_t)v;
	pki_chain_check(certs, n, now, &res);
	printf("%s index=%zu order=", res.ok ? "ok" : "bad", res.index);
	for (size_t i = 0; i < res.order_len; i++)
		printf("%s%zu", i ? "," : "", res.order[i] + 1);
	printf("\n%s\n%s\n", res.message, res.fix);
	pki_certs_free(certs, n);
	fg_buf_free(&all);
	return res.ok ? 0 : 1;
}

/* match <key.pem> <cert.pem>: exit 0 when the key belongs to the certificate. */
static int cmd_match(const char *keyf, const char *certf)
{
	size_t kl, cl;
	char *k = read_file(keyf, &kl), *c = read_file(certf, &cl);
	struct pki_key *key = NULL;
	struct pki_cert **certs = NULL;
	size_t n = 0;
	char err[PKI_MSG_MAX] = "";
	int rc = 2;
	if (k == NULL || c == NULL)
		goto out;
	if (pki_key_from_pem(k, kl, &key, err, sizeof(err)) != FG_OK ||
	    pki_certs_from_pem(c, cl, &certs, &n, err, sizeof(err)) != FG_OK) {
		printf("error: %s\n", err);
		goto out;
	}
	rc = pki_key_matches(key, certs[0]) ? 0 : 1;
	/* Whatever the input format, the key must re-encode as PKCS#8 for storage. */
	struct fg_buf pem = {0};
	if (rc == 0 && pki_key_to_pem(key, &pem) != FG_OK) {
		printf("error: cannot re-encode the key as PKCS#8\n");
		rc = 3;
	}
	pki_buf_wipe(&pem);
out:
	pki_key_free(key);
	pki_certs_free(certs, n);
	free(k);
	free(c);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0)
		return cmd_gen(argv[2], argv[3]);
	if (argc >= 3 && strcmp(argv[1], "chain") == 0)
		return cmd_chain(argc - 2, argv + 2);
	if (argc == 4 && strcmp(argv[1], "match") == 0)
		return cmd_match(argv[2], argv[3]);
	fprintf(stderr, "usage: pki_tool gen <type> <dir> | chain <pem>... | match <key> <cert>\n");
	return 2;
}
