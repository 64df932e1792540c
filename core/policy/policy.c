/* policy: federation verdicts by default and by exception (seed 003): exact names, "*.domain"
 * wildcards covering the domain and its subdomains (RFC 4592 style suffix match), hosts by
 * IP literal, each for incoming, outgoing or both directions. */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Exceptions in one policy: an admin lists tens; more than this is a configuration bug. */
#define POLICY_RULES_MAX 10000u
/* RFC 1035 §2.3.4: 253 octets in presentation form without the trailing dot. */
#define POLICY_NAME_MAX 253u

struct policy_rule {
	struct db_policy_rule rec;
	size_t name_len; /* length of the name part (after "*." for a wildcard) */
	bool wildcard;
};

struct policy {
	bool default_allow;
	struct policy_rule *rules;
	size_t n;
};

/* Length without one trailing dot (an absolute name "example.com." is the same domain). */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		n--;
	return n;
}

static bool ip_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	char ta[64], tb[64];
	uint8_t ba[16], bb[16];
	if (alen >= sizeof(ta) || blen >= sizeof(tb))
		return false;
	memcpy(ta, a, alen);
	ta[alen] = '\0';
	memcpy(tb, b, blen);
	tb[blen] = '\0';
	if (inet_pton(AF_INET, ta, ba) == 1)
		return inet_pton(AF_INET, tb, bb) == 1 && memcmp(ba, bb, 4) == 0;
	if (inet_pton(AF_INET6, ta, ba) == 1)
		return inet_pton(AF_INET6, tb, bb) == 1 && memcmp(ba, bb, 16) == 0;
	return false;
}

static bool pattern_match_len(const char *pattern, const char *domain)
{
	size_t plen = name_len(pattern), dlen = name_len(domain);
	if (plen == 0 || dlen == 0)
		return false;
	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* "*.example.com" covers example.com itself and every name below it. */
		const char *suffix = pattern + 2;
		size_t slen = plen - 2;
		if (slen == 0 || dlen < slen)
			return false;
		if (dlen == slen)
			return strncasecmp(domain, suffix, slen) == 0;
		return domain[dlen - slen - 1] == '.' &&
		       strncasecmp(domain + dlen - slen, suffix, slen) == 0;
	}
	if (plen == dlen && strncasecmp(pattern, domain, plen) == 0)
		return true;
	/* Hosts: "::1" and "0:0::1" are the same address. */
	return ip_equal(pattern, plen, domain, dlen);
}

bool policy_pattern_matches(const char *pattern, const char *domain)
{
	if (pattern == NULL || domain == NULL)
		return false;
	return pattern_match_len(pattern, domain);
}

static bool is_ip_literal(const char *s)
{
	uint8_t b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* RFC 1123 §2.1 host names: letters, digits, hyphens; labels 1-63, not starting or ending
 * with a hyphen. Underscores are refused: no XMPP domain or host carries one. */
static bool domain_valid(const char *s, size_t len, const char **why)
{
	size_t at;
	if (len == 0) {
		*why = "the domain name is empty";
		return false;
	}
	if (len > POLICY_NAME_MAX) {
		*why = "the domain name is longer than 253 characters";
		return false;
	}
	switch (fg_host_name_check(s, len, false, &at)) {
	case FG_NAME_OK:
		return true;
	case FG_NAME_EMPTY_LABEL:
		*why = "the domain name has an empty label (two dots in a row, or a dot at the "
		       "start)";
		break;
	case FG_NAME_HYPHEN_END:
		*why = "a label of the domain name ends with a hyphen";
		break;
	case FG_NAME_UPPERCASE:
	case FG_NAME_BAD_CHAR:
		*why = s[at] == '*'
		           ? "a wildcard is allowed only as \"*.\" at the start (\"*.example.com\")"
		           : "the domain name may contain only letters, digits, hyphens and dots";
		break;
	case FG_NAME_HYPHEN_START:
		*why = "a label of the domain name starts with a hyphen";
		break;
	case FG_NAME_LABEL_LONG:
		*why = "a label of the domain name is longer than 63 characters";
		break;
	}
	return false;
}

bool policy_pattern_valid(const char *pattern, const char **why)
{
	const char *dummy;
	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (pattern == NULL || pattern[0] == '\0') {
		*why = "the pattern is empty";
		return false;
	}
	if (is_ip_literal(pattern))
		return true;
	size_t len = name_len(pattern);
	if (pattern[0] == '*') {
		if (len < 3 || pattern[1] != '.') {
			*why = "a wildcard must be \"*.\" followed by a domain (\"*.example.com\")";
			return false;
		}
		return domain_valid(pattern + 2, len - 2, why);
	}
	return domain_valid(pattern, len, why);
}

enum fg_err policy_new(struct policy **out, bool default_allow, const struct db_policy_rule *rules,
                       size_t n)
{
	struct policy *p = NULL;
	enum fg_err err = FG_OK;
	if (out == NULL || (rules == NULL && n > 0))
		return FG_ERR_INVAL;
	if (n > POLICY_RULES_MAX)
		return FG_ERR_TOOBIG;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return FG_ERR_NOMEM;
	p->default_allow = default_allow;
	if (n > 0) {
		p->rules = calloc(n, sizeof(*p->rules));
		if (p->rules == NULL) {
			err = FG_ERR_NOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct policy_rule *r = &p->rules[p->n];
		r->rec = rules[i];
		/* Records come from the store: make sure every string ends. */
		r->rec.id[sizeof(r->rec.id) - 1] = '\0';
		r->rec.pattern[sizeof(r->rec.pattern) - 1] = '\0';
		r->rec.description[sizeof(r->rec.description) - 1] = '\0';
		size_t len = name_len(r->rec.pattern);
		if (len == 0)
			continue; /* an empty pattern matches nothing */
		r->wildcard = len >= 2 && r->rec.pattern[0] == '*' && r->rec.pattern[1] == '.';
		r->name_len = r->wildcard ? len - 2 : len;
		p->n++;
	}
	*out = p;
	p = NULL;
out:
	policy_free(p);
	return err;
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	free(p->rules);
	free(p);
}

static bool dir_includes(enum db_direction rule_dir, enum policy_direction dir)
{
	switch (rule_dir) {
	case DB_DIR_BOTH:
		return true;
	case DB_DIR_INCOMING:
		return dir == POLICY_INCOMING;
	case DB_DIR_OUTGOING:
		return dir == POLICY_OUTGOING;
	}
	return false;
}

static const char *dir_words(enum db_direction d)
{
	switch (d) {
	case DB_DIR_INCOMING:
		return "incoming only";
	case DB_DIR_OUTGOING:
		return "outgoing only";
	case DB_DIR_BOTH:
		break;
	}
	return "both directions";
}

/* Is a more specific than b? An exact name beats any wildcard; a longer wildcard beats a
 * shorter one; at equal length a rule for one direction beats one for both (the admin
 * narrowed it on purpose); then deny beats allow, so equal rules fail closed. */
static bool more_specific(const struct policy_rule *a, const struct policy_rule *b)
{
	if (a->wildcard != b->wildcard)
		return !a->wildcard;
	if (a->name_len != b->name_len)
		return a->name_len > b->name_len;
	bool a_dir = a->rec.direction != DB_DIR_BOTH, b_dir = b->rec.direction != DB_DIR_BOTH;
	if (a_dir != b_dir)
		return a_dir;
	return !a->rec.allow && b->rec.allow;
}

void policy_check(const struct policy *p, const char *remote_domain, enum policy_direction dir,
                  struct policy_verdict *out)
{
	const struct policy_rule *best = NULL;
	if (out == NULL)
		return;
	memset(out, 0, sizeof(*out));
	if (p == NULL) {
		/* No policy built: nothing may pass. */
		out->allow = false;
		fg_strlcpy(out->rule, "no policy loaded (deny)", sizeof(out->rule));
		return;
	}
	for (size_t i = 0; remote_domain != NULL && i < p->n; i++) {
		const struct policy_rule *r = &p->rules[i];
		if (!dir_includes(r->rec.direction, dir) ||
		    !pattern_match_len(r->rec.pattern, remote_domain))
			continue;
		if (best == NULL || more_specific(r, best))
			best = r;
	}
	if (best == NULL) {
		out->allow = p->default_allow;
		fg_strlcpy(out->rule, p->default_allow ? "default allow" : "default deny",
		           sizeof(out->rule));
		return;
	}
	out->allow = best->rec.allow;
	out->rule_id = best->rec.id;
	snprintf(out->rule, sizeof(out->rule), "%s (%s, %s)", best->rec.pattern,
	         best->rec.allow ? "allow" : "deny", dir_words(best->rec.direction));
}
