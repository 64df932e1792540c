/* xlate: error condition tables, SIP response codes <-> XMPP stanza errors (RFC 7247 §7, RFC 6120
 * §8.3.3). */
#include <string.h>

#include "xlate/xlate.h"

static const char *const cond_names[XLATE_ERR__COUNT] = {
    [XLATE_ERR_BAD_REQUEST] = "bad-request",
    [XLATE_ERR_CONFLICT] = "conflict",
    [XLATE_ERR_FEATURE_NOT_IMPLEMENTED] = "feature-not-implemented",
    [XLATE_ERR_FORBIDDEN] = "forbidden",
    [XLATE_ERR_GONE] = "gone",
    [XLATE_ERR_INTERNAL_SERVER_ERROR] = "internal-server-error",
    [XLATE_ERR_ITEM_NOT_FOUND] = "item-not-found",
    [XLATE_ERR_JID_MALFORMED] = "jid-malformed",
    [XLATE_ERR_NOT_ACCEPTABLE] = "not-acceptable",
    [XLATE_ERR_NOT_ALLOWED] = "not-allowed",
    [XLATE_ERR_NOT_AUTHORIZED] = "not-authorized",
    [XLATE_ERR_POLICY_VIOLATION] = "policy-violation",
    [XLATE_ERR_RECIPIENT_UNAVAILABLE] = "recipient-unavailable",
    [XLATE_ERR_REDIRECT] = "redirect",
    [XLATE_ERR_REGISTRATION_REQUIRED] = "registration-required",
    [XLATE_ERR_REMOTE_SERVER_NOT_FOUND] = "remote-server-not-found",
    [XLATE_ERR_REMOTE_SERVER_TIMEOUT] = "remote-server-timeout",
    [XLATE_ERR_RESOURCE_CONSTRAINT] = "resource-constraint",
    [XLATE_ERR_SERVICE_UNAVAILABLE] = "service-unavailable",
    [XLATE_ERR_SUBSCRIPTION_REQUIRED] = "subscription-required",
    [XLATE_ERR_UNDEFINED_CONDITION] = "undefined-condition",
    [XLATE_ERR_UNEXPECTED_REQUEST] = "unexpected-request",
};

#define R(code, cls, cond, type)                                                                   \
	{                                                                                          \
		code, cls, XLATE_ERR_##cond, XLATE_TYPE_##type                                     \
	}
/* RFC 7247 §7.2 Table 3: SIP response codes to XMPP error conditions. The RFC gives no
 * error types: each is the RFC 6120 §8.3.3 type for the condition, except where a comment
 * says why. Class rows carry §7.2's rule for codes the table does not list. */
const struct xlate_sip_to_xmpp_row xlate_sip_to_xmpp_table[] = {
    R(300, true, REDIRECT, MODIFY),
    R(300, false, REDIRECT, MODIFY),
    R(301, false, GONE, CANCEL), /* §7.2 note 1: <gone/> carries the Contact address */
    R(302, false, REDIRECT, MODIFY),
    R(305, false, REDIRECT, MODIFY),
    R(380, false, NOT_ACCEPTABLE, MODIFY),
    R(400, true, BAD_REQUEST, MODIFY),
    R(400, false, BAD_REQUEST, MODIFY),
    R(401, false, NOT_AUTHORIZED, AUTH),
    R(402, false, BAD_REQUEST, MODIFY), /* note 2: <payment-required/> left RFC 6120 */
    R(403, false, FORBIDDEN, AUTH),
    R(404, false, ITEM_NOT_FOUND, CANCEL),
    R(405, false, FEATURE_NOT_IMPLEMENTED, CANCEL),
    R(406, false, NOT_ACCEPTABLE, MODIFY),
    R(407, false, REGISTRATION_REQUIRED, AUTH),
    R(408, false, REMOTE_SERVER_TIMEOUT, WAIT),
    R(410, false, GONE, CANCEL), /* §7.2 note 1: no new address in <gone/> */
    R(413, false, POLICY_VIOLATION, MODIFY),
    R(414, false, POLICY_VIOLATION, MODIFY),
    R(415, false, NOT_ACCEPTABLE, MODIFY),
    R(416, false, NOT_ACCEPTABLE, MODIFY),
    R(420, false, FEATURE_NOT_IMPLEMENTED, CANCEL),
    R(421, false, NOT_ACCEPTABLE, MODIFY),
    R(423, false, RESOURCE_CONSTRAINT, WAIT),
    R(430, false, RECIPIENT_UNAVAILABLE, WAIT),     /* RFC 5626 */
    R(439, false, FEATURE_NOT_IMPLEMENTED, CANCEL), /* RFC 5626 */
    R(440, false, POLICY_VIOLATION, MODIFY),        /* RFC 5393 */
    /* 433 (RFC 5079) is not in Table 3: the 4xx rule makes it bad-request */
    R(480, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(481, false, ITEM_NOT_FOUND, CANCEL),
    R(482, false, NOT_ACCEPTABLE, MODIFY),
    R(483, false, NOT_ACCEPTABLE, MODIFY),
    R(484, false, ITEM_NOT_FOUND, CANCEL),
    R(485, false, ITEM_NOT_FOUND, CANCEL),
    R(486, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(487, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(488, false, NOT_ACCEPTABLE, MODIFY),
    R(489, false, POLICY_VIOLATION, MODIFY), /* RFC 6665 */
    R(491, false, UNEXPECTED_REQUEST, WAIT),
    R(493, false, BAD_REQUEST, MODIFY),
    R(500, true, INTERNAL_SERVER_ERROR, CANCEL),
    R(500, false, INTERNAL_SERVER_ERROR, CANCEL),
    R(501, false, FEATURE_NOT_IMPLEMENTED, CANCEL),
    R(502, false, REMOTE_SERVER_NOT_FOUND, CANCEL),
    /* note 9: not <service-unavailable/>. Type wait, not RFC 6120's cancel: a 503 is
     * temporary (RFC 3261 §21.5.4, overload or maintenance) and RFC 6120 §8.3.3 allows
     * another type where it fits better */
    R(503, false, INTERNAL_SERVER_ERROR, WAIT),
    R(504, false, REMOTE_SERVER_TIMEOUT, WAIT),
    R(505, false, NOT_ACCEPTABLE, MODIFY),
    R(513, false, POLICY_VIOLATION, MODIFY),
    R(600, true, RECIPIENT_UNAVAILABLE, WAIT),
    R(600, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(603, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(604, false, ITEM_NOT_FOUND, CANCEL),
    R(606, false, NOT_ACCEPTABLE, MODIFY),
};
#undef R
const size_t xlate_sip_to_xmpp_table_len =
    sizeof(xlate_sip_to_xmpp_table) / sizeof(xlate_sip_to_xmpp_table[0]);

#define R(cond, code, code_bare)                                                                   \
	{                                                                                          \
		XLATE_ERR_##cond, code, code_bare                                                  \
	}
/* RFC 7247 §7.1 Table 2: XMPP error conditions to SIP response codes. Where the table says
 * "4xx or 6xx" (notes 1, 2) the first code is for an error about a full JID, the second
 * for a bare JID. */
const struct xlate_xmpp_to_sip_row xlate_xmpp_to_sip_table[] = {
    R(BAD_REQUEST, 400, 400),
    R(CONFLICT, 400, 400),
    R(FEATURE_NOT_IMPLEMENTED, 405, 501), /* note 1 */
    R(FORBIDDEN, 403, 603),               /* note 2 */
    /* note 3: 301 only when <gone/> holds the new address (xlate_error_to_sip_for), which
     * then goes in Contact; 410 otherwise */
    R(GONE, 410, 410),
    R(INTERNAL_SERVER_ERROR, 500, 500),
    R(ITEM_NOT_FOUND, 404, 604), /* note 2 */
    R(JID_MALFORMED, 400, 400),
    R(NOT_ACCEPTABLE, 406, 606), /* note 2 */
    R(NOT_ALLOWED, 403, 403),
    R(NOT_AUTHORIZED, 401, 401),
    R(POLICY_VIOLATION, 403, 403),
    R(RECIPIENT_UNAVAILABLE, 480, 600), /* note 2 */
    R(REDIRECT, 302, 302),
    R(REGISTRATION_REQUIRED, 407, 407),
    /* note 4: 404 when the server does not exist, 408 when it cannot be resolved; the
     * condition alone (RFC 6120 §8.3.3.16 covers both) cannot tell them apart */
    R(REMOTE_SERVER_NOT_FOUND, 404, 404),
    R(REMOTE_SERVER_TIMEOUT, 408, 408),
    R(RESOURCE_CONSTRAINT, 500, 500),
    /* note 5: 503 is NOT RECOMMENDED (a SIP client would stop using the whole server);
     * 403 and 405 are closest, and 405 would need an Allow header (RFC 3261 §21.4.6) */
    R(SERVICE_UNAVAILABLE, 403, 403),
    R(SUBSCRIPTION_REQUIRED, 400, 400),
    R(UNDEFINED_CONDITION, 400, 400),
    /* "491 or 400": 491 says the UAS has a request pending in the same dialog (RFC 3261
     * §21.4.27) and makes the client retry a re-INVITE (§14.1); the requests the gateway
     * carries (MESSAGE, SUBSCRIBE, NOTIFY) are not in that state */
    R(UNEXPECTED_REQUEST, 400, 400),
};
#undef R
const size_t xlate_xmpp_to_sip_table_len =
    sizeof(xlate_xmpp_to_sip_table) / sizeof(xlate_xmpp_to_sip_table[0]);

bool xlate_error_from_sip(unsigned code, enum xlate_stanza_error *cond, enum xlate_error_type *type)
{
	/* RFC 7247 §7: no XMPP condition is equivalent to 1xx or 2xx */
	if (code < 300 || code > 699)
		return false;
	const struct xlate_sip_to_xmpp_row *cls = NULL;
	for (size_t i = 0; i < xlate_sip_to_xmpp_table_len; i++) {
		const struct xlate_sip_to_xmpp_row *r = &xlate_sip_to_xmpp_table[i];
		if (r->is_class) {
			if (r->code / 100 == code / 100)
				cls = r;
		} else if (r->code == code) {
			*cond = r->cond;
			*type = r->type;
			return true;
		}
	}
	if (!cls)
		return false;
	*cond = cls->cond;
	*type = cls->type;
	return true;
}

static const struct xlate_xmpp_to_sip_row *xmpp_row(enum xlate_stanza_error cond)
{
	/* RFC 6120 §8.3.2: a condition not understood is <undefined-condition/> */
	if ((size_t)cond >= XLATE_ERR__COUNT)
		cond = XLATE_ERR_UNDEFINED_CONDITION;
	for (size_t i = 0; i < xlate_xmpp_to_sip_table_len; i++)
		if (xlate_xmpp_to_sip_table[i].cond == cond)
			return &xlate_xmpp_to_sip_table[i];
	return NULL;
}

unsigned xlate_error_to_sip(enum xlate_stanza_error cond)
{
	return xlate_error_to_sip_for(cond, false, false);
}

unsigned xlate_error_to_sip_for(enum xlate_stanza_error cond, bool bare_jid, bool new_address)
{
	if (cond == XLATE_ERR_GONE && new_address)
		return 301; /* RFC 7247 §7.1 note 3 */
	const struct xlate_xmpp_to_sip_row *r = xmpp_row(cond);
	if (r == NULL)
		return 400; /* every condition has a row: the tests check it */
	return bare_jid ? r->code_bare : r->code;
}

const char *xlate_stanza_error_name(enum xlate_stanza_error cond)
{
	if ((size_t)cond >= XLATE_ERR__COUNT)
		return "undefined-condition";
	return cond_names[cond];
}

bool xlate_stanza_error_parse(const char *name, enum xlate_stanza_error *out)
{
	for (size_t i = 0; i < XLATE_ERR__COUNT; i++)
		if (strcmp(cond_names[i], name) == 0) {
			*out = (enum xlate_stanza_error)i;
			return true;
		}
	return false;
}

const char *xlate_error_type_name(enum xlate_error_type type)
{
	static const char *const names[] = {"auth", "cancel", "continue", "modify", "wait"};
	return (size_t)type < sizeof(names) / sizeof(names[0]) ? names[type] : "cancel";
}
