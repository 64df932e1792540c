/* pki PEM: decoding and encoding of PEM blocks (RFC 7468) with BearSSL's PEM codec. */
#include "pki_internal.h"

#include <stdlib.h>
#include <string.h>

static const char *const pem_known[] = {
    "CERTIFICATE",    "X509 CERTIFICATE", "TRUSTED CERTIFICATE", "PRIVATE KEY",
    "EC PRIVATE KEY", "RSA PRIVATE KEY",  "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST",
};

struct pem_sink {
	struct fg_buf buf;
	bool too_big;
};

static void pem_dest(void *ctx, const void *src, size_t len)
{
	struct pem_sink *s = ctx;
	if (s->too_big)
		return;
	if (s->buf.len + len > PKI_DER_MAX || fg_buf_append(&s->buf, src, len) != FG_OK)
		s->too_big = true;
}

static bool pem_label_known(const char *label)
{
	for (size_t i = 0; i < sizeof(pem_known) / sizeof(pem_known[0]); i++)
		if (strcmp(label, pem_known[i]) == 0)
			return true;
	return false;
}

/* Normalises aliases so callers only see "CERTIFICATE" and "CERTIFICATE REQUEST". */
static const char *pem_label_canonical(const char *label)
{
	if (strcmp(label, "X509 CERTIFICATE") == 0 || strcmp(label, "TRUSTED CERTIFICATE") == 0)
		return "CERTIFICATE";
	if (strcmp(label, "NEW CERTIFICATE REQUEST") == 0)
		return "CERTIFICATE REQUEST";
	return label;
}

static bool only_space(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

static bool contains(const char *text, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(text + i, needle, n) == 0)
			return true;
	return false;
}

void pki_pem_clear(struct pki_pem *pem)
{
	if (pem == NULL)
		return;
	for (size_t i = 0; i < pem->count; i++) {
		if (pem->blocks[i].der != NULL) {
			memset(pem->blocks[i].der, 0, pem->blocks[i].len);
			free(pem->blocks[i].der);
		}
	}
	free(pem->blocks);
	pem->blocks = NULL;
	pem->count = 0;
}

enum fg_err pki_pem_decode(const char *text, size_t len, struct pki_pem *out, char *err,
                           size_t errsize)
{
	br_pem_decoder_context dc;
	struct pem_sink sink = {0};
	enum fg_err e = FG_OK;
	size_t pos = 0, after_last = 0;
	bool in_block = false, skipping = false, final_nl = false;
	char label[64] = "";
	char *copy = NULL;

	memset(out, 0, sizeof(*out));
	if (len > PKI_PEM_TEXT_MAX) {
		pki__err(err, errsize, "the PEM text is larger than %d bytes", PKI_PEM_TEXT_MAX);
		return FG_ERR_TOOBIG;
	}
	/* RFC 1421 §4.6.1.1 legacy encryption header, and RFC 5958 EncryptedPrivateKeyInfo. */
	if (contains(text, len, "Proc-Type: 4,ENCRYPTED") ||
	    contains(text, len, "BEGIN ENCRYPTED PRIVATE KEY")) {
		pki__err(err, errsize,
		         "the private key is encrypted with a passphrase: decrypt it "
		         "first (e.g. openssl pkey -in key.pem -out plain.pem) and "
		         "upload the unencrypted key");
		return FG_ERR_INVAL;
	}
	/* BearSSL's decoder keeps a CR in the BEGIN line's label: read CRLF text as LF text. */
	copy = malloc(len + 1);
	if (copy == NULL)
		return FG_ERR_NOMEM;
	size_t clen = 0;
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\r')
			copy[clen++] = text[i];
	text = copy;
	len = clen;
	br_pem_decoder_init(&dc);
	while (pos < len || !final_nl) {
		size_t n;
		if (pos < len) {
			n = br_pem_decoder_push(&dc, text + pos, len - pos);
			pos += n;
		} else {
			/* BearSSL needs the END line terminated: feed one newline at the end. */
			n = br_pem_decoder_push(&dc, "\n", 1);
			if (n == 1)
				final_nl = true;
		}
		int ev = br_pem_decoder_event(&dc);
		switch (ev) {
		case BR_PEM_BEGIN_OBJ:
			fg_strlcpy(label, br_pem_decoder_name(&dc), sizeof(label));
			in_block = true;
			if (strcmp(label, "EC PARAMETERS") == 0) {
				/* openssl ecparam -genkey writes the curve before the key. */
				skipping = true;
				br_pem_decoder_setdest(&dc, NULL, NULL);
				break;
			}
			if (!pem_label_known(label)) {
				pki__err(err, errsize,
				         "unknown PEM block type \"%s\" (block %zu): "
				         "expected CERTIFICATE, PRIVATE KEY, EC PRIVATE "
				         "KEY, RSA PRIVATE KEY or CERTIFICATE REQUEST",
				         label, out->count + 1);
				e = FG_ERR_PARSE;
				goto out;
			}
			if (out->count >= PKI_PEM_BLOCKS_MAX) {
				pki__err(err, errsize, "more than %d PEM blocks",
				         PKI_PEM_BLOCKS_MAX);
				e = FG_ERR_TOOBIG;
				goto out;
			}
			skipping = false;
			fg_buf_reset(&sink.buf);
			sink.too_big = false;
			br_pem_decoder_setdest(&dc, pem_dest, &sink);
			break;
		case BR_PEM_END_OBJ: {
			in_block = false;
			after_last = pos;
			if (skipping) {
				skipping = false;
				break;
			}
			if (sink.too_big || sink.buf.len == 0) {
				pki__err(err, errsize, "PEM block %zu (%s) is %s", out->count + 1,
				         label, sink.too_big ? "too large" : "empty");
				e = sink.too_big ? FG_ERR_TOOBIG : FG_ERR_PARSE;
				goto out;
			}
			struct pki_pem_block *nb =
			    realloc(out->blocks, (out->count + 1) * sizeof(*nb));
			if (nb == NULL) {
				e = FG_ERR_NOMEM;
				goto out;
			}
			out->blocks = nb;
			struct pki_pem_block *b = &out->blocks[out->count];
			memset(b, 0, sizeof(*b));
			b->der = malloc(sink.buf.len);
			if (b->der == NULL) {
				e = FG_ERR_NOMEM;
				goto out;
			}
			memcpy(b->der, sink.buf.data, sink.buf.len);
			b->len = sink.buf.len;
			fg_strlcpy(b->label, pem_label_canonical(label), sizeof(b->label));
			out->count++;
			break;
		}
		case BR_PEM_ERROR:
			pki__err(err, errsize,
			         "PEM block %zu (%s) has invalid base64 or a missing "
			         "END line",
			         out->count + 1, label[0] != '\0' ? label : "unnamed");
			e = FG_ERR_PARSE;
			goto out;
		default:
			if (n == 0)
				goto done; /* no progress and no event: nothing more to read */
			break;
		}
	}
done:
	if (in_block) {
		pki__err(err, errsize, "PEM block %zu (%s) has no END line", out->count + 1, label);
		e = FG_ERR_PARSE;
		goto out;
	}
	if (out->count == 0) {
		pki__err(err, errsize,
		         "no PEM block found: expected text starting with "
		         "\"-----BEGIN CERTIFICATE-----\" or \"-----BEGIN PRIVATE "
		         "KEY-----\"");
		e = FG_ERR_PARSE;
		goto out;
	}
	if (after_last < len && !only_space(text + after_last, len - after_last)) {
		pki__err(err, errsize,
		         "unexpected text after the last PEM block (after block "
		         "%zu): remove it",
		         out->count);
		e = FG_ERR_PARSE;
		goto out;
	}
out:
	if (sink.buf.data != NULL)
		memset(sink.buf.data, 0, sink.buf.cap);
	fg_buf_free(&sink.buf);
	memset(&dc, 0, sizeof(dc));
	if (copy != NULL) {
		/* The text may hold a private key. */
		memset(copy, 0, len);
		free(copy);
	}
	if (e != FG_OK)
		pki_pem_clear(out);
	return e;
}

enum fg_err pki_pem_encode(struct fg_buf *out, const char *label, const uint8_t *der, size_t len)
{
	size_t n = br_pem_encode(NULL, der, len, label, BR_PEM_LINE64);
	enum fg_err e = fg_buf_reserve(out, n + 1);
	if (e != FG_OK)
		return e;
	br_pem_encode(out->data + out->len, der, len, label, BR_PEM_LINE64);
	out->len += n;
	out->data[out->len] = '\0';
	return FG_OK;
}
