/* fuzz_pki: libFuzzer target for PEM (RFC 7468), X.509, PKCS#10, key and chain parsing. */
#include "pki/pki.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_pem pem = {0};
	struct pki_cert *certs[PKI_CHAIN_MAX];
	size_t n = 0;
	char err[PKI_MSG_MAX];
	struct pki_cert *c = NULL;
	struct pki_key *k = NULL;

	/* The raw bytes as DER of each kind. */
	if (pki_cert_parse(data, size, &c) == FG_OK)
		pki_cert_free(c);
	c = NULL;
	if (pki_csr_parse(data, size, &c) == FG_OK)
		pki_cert_free(c);
	if (pki_key_decode(data, size, &k) == FG_OK)
		pki_key_free(k);

	/* The bytes as PEM text, then each block by its label, then a chain check. */
	if (pki_pem_decode((const char *)data, size, &pem, err, sizeof(err)) != FG_OK)
		return 0;
	for (size_t i = 0; i < pem.count; i++) {
		const struct pki_pem_block *b = &pem.blocks[i];
		c = NULL;
		k = NULL;
		if (strcmp(b->label, "CERTIFICATE") == 0) {
			if (pki_cert_parse(b->der, b->len, &c) == FG_OK) {
				if (n < PKI_CHAIN_MAX)
					certs[n++] = c;
				else
					pki_cert_free(c);
			}
		} else if (strcmp(b->label, "CERTIFICATE REQUEST") == 0) {
			if (pki_csr_parse(b->der, b->len, &c) == FG_OK)
				pki_cert_free(c);
		} else if (pki_key_decode(b->der, b->len, &k) == FG_OK) {
			for (size_t j = 0; j < n; j++)
				(void)pki_key_matches(k, certs[j]);
			pki_key_free(k);
		}
	}
	if (n > 0) {
		struct pki_chain_result res;
		pki_chain_check(certs, n, 1795000000000LL, &res);
	}
	for (size_t j = 0; j < n; j++)
		pki_cert_free(certs[j]);
	pki_pem_clear(&pem);
	return 0;
}
