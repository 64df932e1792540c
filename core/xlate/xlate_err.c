/* xlate: error condition tables, SIP response codes <-> XMPP stanza errors (RFC 7247 §5, RFC 6120
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
/* RFC 7247 §5, Table 2: SIP response codes to XMPP error conditions; the error type is
 * the RFC 6120 §8.3.3 default for the condition. Class rows catch unlisted codes. */
const struct xlate_sip_to_xmpp_row xlate_sip_to_xmpp_table[] = {
    R(300, true, REDIRECT, MODIFY),
    R(300, false, REDIRECT, MODIFY),
    R(301, false, GONE, CANCEL),
    R(302, false, REDIRECT, MODIFY),
    R(305, false, REDIRECT, MODIFY),
    R(380, false, REDIRECT, MODIFY),
    R(400, true, SERVICE_UNAVAILABLE, CANCEL),
    R(400, false, BAD_REQUEST, MODIFY),
    R(401, false, NOT_AUTHORIZED, AUTH),
    R(402, false, BAD_REQUEST, MODIFY),
    R(403, false, FORBIDDEN, AUTH),
    R(404, false, ITEM_NOT_FOUND, CANCEL),
    R(405, false, FEATURE_NOT_IMPLEMENTED, CANCEL),
    R(406, false, NOT_ACCEPTABLE, MODIFY),
    R(407, false, NOT_AUTHORIZED, AUTH),
    R(408, false, REMOTE_SERVER_TIMEOUT, WAIT),
    R(410, false, GONE, CANCEL),
    R(413, false, POLICY_VIOLATION, MODIFY),
    R(414, false, JID_MALFORMED, MODIFY),
    R(415, false, NOT_ACCEPTABLE, MODIFY),
    R(416, false, JID_MALFORMED, MODIFY),
    R(420, false, FEATURE_NOT_IMPLEMENTED, CANCEL),
    R(421, false, NOT_ACCEPTABLE, MODIFY),
    R(423, false, RESOURCE_CONSTRAINT, WAIT),
    R(430, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(433, false, POLICY_VIOLATION, MODIFY),
    R(480, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(481, false, ITEM_NOT_FOUND, CANCEL),
    R(482, false, NOT_ACCEPTABLE, MODIFY),
    R(483, false, NOT_ACCEPTABLE, MODIFY),
    R(484, false, ITEM_NOT_FOUND, CANCEL),
    R(485, false, ITEM_NOT_FOUND, CANCEL),
    R(486, false, RECIPIENT_UNAVAILABLE, WAIT),
    R(487, false, SERVICE_UNAVAILABLE, CANCEL),
    R(488, false, NOT_ACCEPTABLE, MODIFY),
    R(491, false, UNEXPECTED_REQUEST, WAIT),
    R(493, false, BAD_REQUEST, MODIFY),
    R(500, true, INTERNAL_SERVER_ERROR, CANCEL),
    R(500, false, INTERNAL_SERVER_ERROR, CANCEL),
    R(501, false, FEATURE_NOT_IMPLEMENTED, CANCEL),
    R(502, false, REMOTE_SERVER_NOT_FOUND, CANCEL),
    R(503, false, SERVICE_UNAVAILABLE, CANCEL),
    R(504, false, REMOTE_SERVER_TIMEOUT, WAIT),
    R(505, false, NOT_ACCEPTABLE, MODIFY),
    R(513, false, POLICY_VIOLATION, MODIFY),
    R(600, true, SERVICE_UNAVAILABLE, CANCEL),
    R(600, false, SERVICE_UNAVAILABLE, CANCEL),
    R(603, false, SERVICE_UNAVAILABLE, CANCEL),
    R(604, false, ITEM_NOT_FOUND, CANCEL),
    R(606, false, NOT_ACCEPTABLE, MODIFY),
};
#undef R
const size_t xlate_sip_to_xmpp_table_len =
    sizeof(xlate_sip_to_xmpp_table) / sizeof(xlate_sip_to_xmpp_table[0]);

#define R(cond, code)                                                                              \
	{                                                                                          \
		XLATE_ERR_##cond, code                                                             \
	}
/* RFC 7247 §5, Table 1: XMPP error conditions to SIP response codes. */
const struct xlate_xmpp_to_sip_row xlate_xmpp_to_sip_table[] = {
    R(BAD_REQUEST, 400),
    R(CONFLICT, 400),
    R(FEATURE_NOT_IMPLEMENTED, 405),
    R(FORBIDDEN, 403),
    R(GONE, 301), /* permanent: the new address goes in Contact */
    R(INTERNAL_SERVER_ERROR, 500),
    R(ITEM_NOT_FOUND, 404),
    R(JID_MALFORMED, 400),
    R(NOT_ACCEPTABLE, 406),
    R(NOT_ALLOWED, 403),
    R(NOT_AUTHORIZED, 401),
    R(POLICY_VIOLATION, 403),
    R(RECIPIENT_UNAVAILABLE, 480),
    R(REDIRECT, 302),
    R(REGISTRATION_REQUIRED, 400),
    R(REMOTE_SERVER_NOT_FOUND, 404),
    R(REMOTE_SERVER_TIMEOUT, 408),
    R(RESOURCE_CONSTRAINT, 500),
    R(SERVICE_UNAVAILABLE, 503),
    R(SUBSCRIPTION_REQUIRED, 400),
    R(UNDEFINED_CONDITION, 400),
    R(UNEXPECTED_REQUEST, 491),
};
#undef R
const size_t xlate_xmpp_to_sip_table_len =
    sizeof(xlate_xmpp_to_sip_table) / sizeof(xlate_xmpp_to_sip_table[0]);

bool xlate_error_from_sip(unsigned code, enum xlate_stanza_error *cond, enum xlate_error_type *type)
{
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

unsigned xlate_error_to_sip(enum xlate_stanza_error cond)
{
	for (size_t i = 0; i < xlate_xmpp_to_sip_table_len; i++)
		if (xlate_xmpp_to_sip_table[i].cond == cond)
			return xlate_xmpp_to_sip_table[i].code;
	return 500;
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
