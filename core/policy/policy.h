/* policy: who may federate — the default verdict, exceptions by domain or wildcard with a
 * direction (seed 003), and the allow list's per-domain connection settings (seed 000). */
#ifndef FEDGW_POLICY_H
#define FEDGW_POLICY_H

#include "base/base.h"
#include "db/db.h"

#include <stdbool.h>

/* Sans-IO: built from store records, evaluated per stanza in both directions. */

enum policy_direction { POLICY_INCOMING = 1, POLICY_OUTGOING = 2 };

struct policy;

/* Builds from the default verdict and the exception rules (copied). */
enum fg_err policy_new(struct policy **out, bool default_allow, const struct db_policy_rule *rules,
                       size_t n);
void policy_free(struct policy *p);

struct policy_verdict {
	bool allow;
	/* The rule that decided ("*.example.com (deny, incoming only)") or "default allow". */
	char rule[DB_DOMAIN_MAX + 64];
	/* The exception's id (valid while the policy lives), NULL for the default. */
	const char *rule_id;
};

/* Verdict for a remote domain (or host) in one direction. Matching is case-insensitive;
 * "*.example.com" matches example.com and every subdomain; an exact pattern beats a
 * wildcard, a longer wildcard beats a shorter one; rules whose direction does not include
 * dir are skipped. */
void policy_check(const struct policy *p, const char *remote_domain, enum policy_direction dir,
                  struct policy_verdict *out);

/* Validates a pattern as the console and CLI accept it (a domain name, "*.domain", or an
 * IP literal for a host). On false, *why is a plain-words reason (static string). */
bool policy_pattern_valid(const char *pattern, const char **why);

/* Does one pattern match a domain or host (the matching rule of policy_check, without
 * direction)? Case-insensitive; one trailing dot on either side is ignored. */
bool policy_pattern_matches(const char *pattern, const char *domain);

#endif
