/* pki chain: orders and checks uploaded chains by DN and signature (RFC 5280 §6.1). */
#include "pki_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool dn_equal(const struct pki_cert *a_issuer_of, const struct pki_cert *b_subject)
{
	return a_issuer_of->issuer_der_len == b_subject->subject_der_len &&
	       memcmp(a_issuer_of->issuer_der, b_subject->subject_der,
	              b_subject->subject_der_len) == 0;
}

/* Does certs[j] issue certs[i] (issuer DN equals subject DN and the signature verifies)? */
static bool issues(struct pki_cert *const *certs, size_t j, size_t i)
{
	return dn_equal(certs[i], certs[j]) && pki_cert_signed_by(certs[i], certs[j]);
}

/* Treats a version 1 self-signed root (no basicConstraints) as a CA, as browsers do. */
static bool may_issue(const struct pki_cert *c)
{
	return c->is_ca || c->self_signed;
}

/* "CN=host.example.com" or the full DN when it has no CN. */
static const char *short_name(const struct pki_cert *c, char *buf, size_t size)
{
	const char *s = c->subject;
	const char *cn = strstr(s, "CN=");
	if (cn != NULL && (cn == s || cn[-1] == ' ')) {
		size_t n = 0;
		while (cn[n] != '\0' && !(cn[n] == ',' && (n == 0 || cn[n - 1] != '\\')))
			n++;
		if (n + 1 > size)
			n = size - 1;
		memcpy(buf, cn, n);
		buf[n] = '\0';
		return buf;
	}
	fg_strlcpy(buf, s[0] != '\0' ? s : "empty subject", size);
	return buf;
}

static void fail(struct pki_chain_result *res, size_t index, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct pki_chain_result *res, size_t index, const char *fix, const char *fmt, ...)
{
	va_list ap;
	res->ok = false;
	res->index = index;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	fg_strlcpy(res->fix, fix, sizeof(res->fix));
}

/* Suggested order: the leaf (a certificate that issues none of the others, preferring a
 * non-CA one), then each issuer in turn, then whatever is left in upload order. */
static void suggest_order(struct pki_cert *const *certs, size_t n, struct pki_chain_result *res)
{
	bool used[PKI_CHAIN_MAX] = {false};
	size_t leaf = n;
	for (size_t pass = 0; pass < 2 && leaf == n; pass++) {
		for (size_t i = 0; i < n && leaf == n; i++) {
			bool issues_any = false;
			for (size_t k = 0; k < n; k++)
				if (k != i && issues(certs, i, k))
					issues_any = true;
			if (!issues_any && (pass == 1 || !certs[i]->is_ca))
				leaf = i;
		}
	}
	if (leaf == n)
		leaf = 0; /* every certificate issues another: a loop; keep upload order */
	res->order_len = 0;
	for (size_t cur = leaf; cur < n && !used[cur];) {
		used[cur] = true;
		res->order[res->order_len++] = cur;
		size_t next = n;
		if (certs[cur]->self_signed)
			break;
		for (size_t j = 0; j < n && next == n; j++)
			if (!used[j] && issues(certs, j, cur))
				next = j;
		cur = next;
	}
	for (size_t i = 0; i < n; i++)
		if (!used[i])
			res->order[res->order_len++] = i;
}

void pki_chain_check(struct pki_cert *const *certs, size_t count, int64_t now_ms,
                     struct pki_chain_result *res)
{
	char a[128], b[128], c[128], when[32];
	static const char order_fix[] =
	    "upload the certificates in this order: leaf first, then intermediates, root last "
	    "(the suggested order is given)";

	memset(res, 0, sizeof(*res));
	res->ok = true;
	if (count == 0) {
		fail(res, 0, "upload the certificate, followed by its intermediates",
		     "no certificate given");
		return;
	}
	if (count > PKI_CHAIN_MAX) {
		fail(res, 0, "upload only the certificate and its own chain",
		     "the chain has %zu certificates; at most %d are accepted", count,
		     PKI_CHAIN_MAX);
		return;
	}
	/* 0. The same certificate twice confuses every later step: name it first. */
	for (size_t i = 0; i < count; i++) {
		for (size_t j = i + 1; j < count; j++) {
			if (certs[i]->der_len == certs[j]->der_len &&
			    memcmp(certs[i]->der, certs[j]->der, certs[i]->der_len) == 0) {
				fail(res, j + 1, "remove the duplicate certificate",
				     "certificate %zu (%s) is the same as certificate %zu", j + 1,
				     short_name(certs[j], a, sizeof(a)), i + 1);
				for (size_t k = 0; k < count; k++)
					if (k != j)
						res->order[res->order_len++] = k;
				return;
			}
		}
	}
	suggest_order(certs, count, res);

	/* 1. Order: the upload must follow the issuer links. */
	for (size_t k = 0; k < count; k++) {
		if (res->order[k] == k)
			continue;
		size_t want = res->order[k];
		if (k == 0) {
			fail(res, 1, order_fix,
			     "certificate 1 (%s) is not the leaf: certificate %zu (%s) is — the "
			     "chain is out of order: expected leaf first, then intermediates, root "
			     "last",
			     short_name(certs[0], a, sizeof(a)), want + 1,
			     short_name(certs[want], b, sizeof(b)));
			return;
		}
		if (issues(certs, want, k - 1)) {
			fail(res, k + 1, order_fix,
			     "certificate %zu (%s) does not sign certificate %zu (%s): certificate "
			     "%zu (%s) does — the chain is out of order: expected leaf first, then "
			     "intermediates, root last",
			     k + 1, short_name(certs[k], a, sizeof(a)), k,
			     short_name(certs[k - 1], b, sizeof(b)), want + 1,
			     short_name(certs[want], c, sizeof(c)));
			return;
		}
		break; /* not a link problem: reported below as missing issuer */
	}

	/* 2. Links in upload order: each certificate must be issued by the next one. */
	for (size_t i = 0; i + 1 < count; i++) {
		if (certs[i]->self_signed) {
			fail(
			    res, i + 1,
			    "put the root certificate last, or leave it out: peers have it already",
			    "certificate %zu (%s) is a self-signed root but is followed by more "
			    "certificates",
			    i + 1, short_name(certs[i], a, sizeof(a)));
			return;
		}
		if (!issues(certs, i + 1, i)) {
			bool dn = dn_equal(certs[i], certs[i + 1]);
			fail(
			    res, i + 2,
			    "add the missing intermediate certificate (your CA publishes it) "
			    "between "
			    "them, or remove certificates that do not belong to this chain",
			    dn ? "certificate %zu (%s) has the right name but its key did not sign "
			         "certificate %zu (%s), and no certificate in the upload did: the "
			         "issuer certificate (%s) is missing or was replaced"
			       : "certificate %zu (%s) does not sign certificate %zu (%s), and no "
			         "certificate in the upload does: the intermediate certificate of "
			         "its issuer (%s) is missing",
			    i + 2, short_name(certs[i + 1], a, sizeof(a)), i + 1,
			    short_name(certs[i], b, sizeof(b)), certs[i]->issuer);
			return;
		}
		if (!may_issue(certs[i + 1])) {
			fail(res, i + 2,
			     "the issuing certificate must be a CA certificate (basicConstraints "
			     "CA:TRUE): ask the CA for the right intermediate",
			     "certificate %zu (%s) signs certificate %zu (%s) but is not a CA "
			     "certificate",
			     i + 2, short_name(certs[i + 1], a, sizeof(a)), i + 1,
			     short_name(certs[i], b, sizeof(b)));
			return;
		}
	}

	/* 3. Validity of every certificate at now. */
	for (size_t i = 0; i < count; i++) {
		if (certs[i]->not_after_ms < now_ms) {
			fg_format_utc(when, sizeof(when), certs[i]->not_after_ms);
			fail(res, i + 1,
			     i == 0 ? "renew the certificate and upload the new one"
			            : "get the current intermediate/root from the CA and upload it",
			     "certificate %zu (%s) expired on %s UTC", i + 1,
			     short_name(certs[i], a, sizeof(a)), when);
			return;
		}
		if (certs[i]->not_before_ms > now_ms) {
			fg_format_utc(when, sizeof(when), certs[i]->not_before_ms);
			fail(res, i + 1,
			     "check the system clock, or wait until the certificate is valid",
			     "certificate %zu (%s) is not valid before %s UTC", i + 1,
			     short_name(certs[i], a, sizeof(a)), when);
			return;
		}
	}
}
