/* tls: structures shared by the credential decoder (creds.c) and the engine (conn.c). */
#ifndef FEDGW_TLS_INTERNAL_H
#define FEDGW_TLS_INTERNAL_H

#include "tls/tls.h"

#include <bearssl.h>

struct tls_creds {
	int refs;
	br_x509_certificate chain[TLS_CHAIN_MAX];
	size_t chain_len;
	int key_type;             /* BR_KEYTYPE_EC or BR_KEYTYPE_RSA */
	unsigned issuer_key_type; /* key type of the leaf's issuer, for static ECDH rules */
	br_ec_private_key ec;     /* points into key_mem */
	br_rsa_private_key rsa;   /* points into key_mem */
	uint8_t *key_mem;         /* the key's bytes; wiped before free */
	size_t key_mem_len;
};

struct tls_trust {
	int refs;
	br_x509_trust_anchor *anchors; /* TLS_TRUST_MAX slots */
	size_t count;
};

#endif
