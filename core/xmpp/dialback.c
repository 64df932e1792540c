/* xmpp dialback keys: XEP-0185 §3 key generation and constant-time checking (BearSSL). */
#include <bearssl.h>
#include <string.h>

#include "xmpp/xmpp_internal.h"

enum fg_err xmpp_dialback_key(char *out, const uint8_t *secret, size_t secret_len,
                              const char *receiving, const char *originating, const char *stream_id)
{
	if (out == NULL || receiving == NULL || originating == NULL || stream_id == NULL ||
	    (secret == NULL && secret_len > 0))
		return FG_ERR_INVAL;
	/* XEP-0185 §3: the HMAC key is SHA-256 of the secret, in hex (as in its example) */
	uint8_t digest[br_sha256_SIZE];
	char digest_hex[2 * br_sha256_SIZE + 1];
	br_sha256_context sha;
	br_sha256_init(&sha);
	br_sha256_update(&sha, secret, secret_len);
	br_sha256_out(&sha, digest);
	fg_hex(digest_hex, digest, sizeof(digest));

	br_hmac_key_context kc;
	br_hmac_context hc;
	br_hmac_key_init(&kc, &br_sha256_vtable, digest_hex, 2 * br_sha256_SIZE);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, receiving, strlen(receiving));
	br_hmac_update(&hc, " ", 1);
	br_hmac_update(&hc, originating, strlen(originating));
	br_hmac_update(&hc, " ", 1);
	br_hmac_update(&hc, stream_id, strlen(stream_id));
	uint8_t mac[br_sha256_SIZE];
	br_hmac_out(&hc, mac);
	fg_hex(out, mac, sizeof(mac));
	explicit_bzero(digest, sizeof(digest));
	explicit_bzero(digest_hex, sizeof(digest_hex));
	explicit_bzero(&kc, sizeof(kc));
	explicit_bzero(&hc, sizeof(hc));
	return FG_OK;
}

bool xmpp_dialback_key_check(const char *key, const uint8_t *secret, size_t secret_len,
                             const char *receiving, const char *originating, const char *stream_id)
{
	char want[XMPP_DIALBACK_KEY_HEX + 1];
	if (key == NULL || strlen(key) != XMPP_DIALBACK_KEY_HEX)
		return false;
	if (xmpp_dialback_key(want, secret, secret_len, receiving, originating, stream_id) != FG_OK)
		return false;
	bool ok = fg_ct_equal(key, want, XMPP_DIALBACK_KEY_HEX);
	explicit_bzero(want, sizeof(want));
	return ok;
}
