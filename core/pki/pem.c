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
	size_t max;
	bool too_big;
};

static void pem_dest(void *ctx, const void *src, size_t len)
{
	struct pem_sink *s = ctx;
	if (s->too_big)
		return;
	if (s->buf.len + len > s->max || fg_buf_append(&s->buf, src, len) != FG_OK)
		s->too_big = true;
}

/* With CRLF line ends BearSSL 0.6 leaves the CR (and "-----") in the BEGIN line's label. */
static void pem_label_trim(char *label)
{
	size_t n = strlen(label);
	while (n > 0 && (label[n - 1] == '\r' || label[n - 1] == ' '))
		label[--n] = '\0';
	if (n >= 5 && strcmp(label + n - 5, "-----") == 0)
		label[n - 5] = '\0';
}

enum fg_err pki_pem_each(const char *text, size_t len, size_t der_max, pki_pem_block_cb cb,
                         void *ctx, struct pki_pem_end *end)
{
	br_pem_decoder_context dc;
	struct pem_sink sink = {.max = der_max};
	enum fg_err e = FG_OK;
	size_t pos = 0;
	bool in_block = false, final_nl = false;

	memset(end, 0, sizeof(*end));
	br_pem_decoder_init(&dc);
	br_pem_decoder_setdest(&dc, pem_dest, &sink);
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
		switch (br_pem_decoder_event(&dc)) {
		case BR_PEM_BEGIN_OBJ:
			fg_strlcpy(end->label, br_pem_decoder_name(&dc), sizeof(end->label));
			pem_label_trim(end->label);
			fg_buf_reset(&sink.buf);
			sink.too_big = false;
			in_block = true;
			break;
		case BR_PEM_END_OBJ:
			in_block = false;
			end->after_last = pos;
			if (sink.too_big) {
				e = FG_ERR_TOOBIG;
				goto out;
			}
			e = cb(ctx, end->label, sink.buf.data, sink.buf.len);
			if (e != FG_OK)
				goto out;
			break;
		case BR_PEM_ERROR:
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
		end->unterminated = true;
		e = FG_ERR_PARSE;
	}
out:
	if (sink.buf.data != NULL)
		memset(sink.buf.data, 0, sink.buf.cap);
	fg_buf_free(&sink.buf);
	memset(&dc, 0, sizeof(dc));
	return e;
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

struct decode_ctx {
	struct pki_pem *out;
	char *err;
	size_t errsize;
	bool said; /* err holds the callback's own words */
};

static enum fg_err decode_block_cb(void *vctx, const char *label, const uint8_t *der, size_t len)
{
	struct decode_ctx *c = vctx;
	struct pki_pem *out = c->out;
	/* openssl ecparam -genkey writes the curve before the key. */
	if (strcmp(label, "EC PARAMETERS") == 0)
		return FG_OK;
	if (!pem_label_known(label)) {
		pki__err(c->err, c->errsize,
		         "unknown PEM block type \"%s\" (block %zu): "
		         "expected CERTIFICATE, PRIVATE KEY, EC PRIVATE "
		         "KEY, RSA PRIVATE KEY or CERTIFICATE REQUEST",
		         label, out->count + 1);
		c->said = true;
		return FG_ERR_PARSE;
	}
	if (out->count >= PKI_PEM_BLOCKS_MAX) {
		pki__err(c->err, c->errsize, "more than %d PEM blocks", PKI_PEM_BLOCKS_MAX);
		c->said = true;
		return FG_ERR_TOOBIG;
	}
	if (len == 0) {
		pki__err(c->err, c->errsize, "PEM block %zu (%s) is empty", out->count + 1, label);
		c->said = true;
		return FG_ERR_PARSE;
	}
	struct pki_pem_block *nb = realloc(out->blocks, (out->count + 1) * sizeof(*nb));
	if (nb == NULL)
		return FG_ERR_NOMEM;
	out->blocks = nb;
	struct pki_pem_block *b = &out->blocks[out->count];
	memset(b, 0, sizeof(*b));
	b->der = malloc(len);
	if (b->der == NULL)
		return FG_ERR_NOMEM;
	memcpy(b->der, der, len);
	b->len = len;
	fg_strlcpy(b->label, pem_label_canonical(label), sizeof(b->label));
	out->count++;
	return FG_OK;
}

enum fg_err pki_pem_decode(const char *text, size_t len, struct pki_pem *out, char *err,
                           size_t errsize)
{
	struct decode_ctx c = {out, err, errsize, false};
	struct pki_pem_end end;
	enum fg_err e;

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
	e = pki_pem_each(text, len, PKI_DER_MAX, decode_block_cb, &c, &end);
	if (e == FG_ERR_TOOBIG && !c.said)
		pki__err(err, errsize, "PEM block %zu (%s) is too large", out->count + 1,
		         end.label);
	else if (e == FG_ERR_PARSE && !c.said && end.unterminated)
		pki__err(err, errsize, "PEM block %zu (%s) has no END line", out->count + 1,
		         end.label);
	else if (e == FG_ERR_PARSE && !c.said)
		pki__err(err, errsize,
		         "PEM block %zu (%s) has invalid base64 or a missing "
		         "END line",
		         out->count + 1, end.label[0] != '\0' ? end.label : "unnamed");
	if (e != FG_OK)
		goto out;
	if (out->count == 0) {
		pki__err(err, errsize,
		         "no PEM block found: expected text starting with "
		         "\"-----BEGIN CERTIFICATE-----\" or \"-----BEGIN PRIVATE "
		         "KEY-----\"");
		e = FG_ERR_PARSE;
		goto out;
	}
	if (end.after_last < len && !only_space(text + end.after_last, len - end.after_last)) {
		pki__err(err, errsize,
		         "unexpected text after the last PEM block (after block "
		         "%zu): remove it",
		         out->count);
		e = FG_ERR_PARSE;
		goto out;
	}
out:
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
