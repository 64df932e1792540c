/* xmpp stanza helpers: RFC 6120 §8.3 error replies and local answers for the gateway domain
 * (XEP-0199 ping, XEP-0030 disco#info, XEP-0092 software version). */
#include <string.h>

#include "xmpp/xmpp_internal.h"

#define NS_PING       "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_VERSION    "jabber:iq:version"

struct cond_info {
	const char *name;
	const char *type;
};

/* RFC 6120 §8.3.3: each condition with the error type the RFC shows for it. */
static const struct cond_info conds[XMPP_SC__COUNT] = {
    [XMPP_SC_BAD_REQUEST] = {"bad-request", "modify"},
    [XMPP_SC_CONFLICT] = {"conflict", "cancel"},
    [XMPP_SC_FEATURE_NOT_IMPLEMENTED] = {"feature-not-implemented", "cancel"},
    [XMPP_SC_FORBIDDEN] = {"forbidden", "auth"},
    [XMPP_SC_GONE] = {"gone", "cancel"},
    [XMPP_SC_INTERNAL_SERVER_ERROR] = {"internal-server-error", "cancel"},
    [XMPP_SC_ITEM_NOT_FOUND] = {"item-not-found", "cancel"},
    [XMPP_SC_JID_MALFORMED] = {"jid-malformed", "modify"},
    [XMPP_SC_NOT_ACCEPTABLE] = {"not-acceptable", "modify"},
    [XMPP_SC_NOT_ALLOWED] = {"not-allowed", "cancel"},
    [XMPP_SC_NOT_AUTHORIZED] = {"not-authorized", "auth"},
    [XMPP_SC_POLICY_VIOLATION] = {"policy-violation", "modify"},
    [XMPP_SC_RECIPIENT_UNAVAILABLE] = {"recipient-unavailable", "wait"},
    [XMPP_SC_REDIRECT] = {"redirect", "modify"},
    [XMPP_SC_REGISTRATION_REQUIRED] = {"registration-required", "auth"},
    [XMPP_SC_REMOTE_SERVER_NOT_FOUND] = {"remote-server-not-found", "cancel"},
    [XMPP_SC_REMOTE_SERVER_TIMEOUT] = {"remote-server-timeout", "wait"},
    [XMPP_SC_RESOURCE_CONSTRAINT] = {"resource-constraint", "wait"},
    [XMPP_SC_SERVICE_UNAVAILABLE] = {"service-unavailable", "cancel"},
    [XMPP_SC_SUBSCRIPTION_REQUIRED] = {"subscription-required", "auth"},
    [XMPP_SC_UNDEFINED_CONDITION] = {"undefined-condition", "cancel"},
    [XMPP_SC_UNEXPECTED_REQUEST] = {"unexpected-request", "wait"},
};

const char *xmpp_stanza_cond_name(enum xmpp_stanza_cond c)
{
	if ((unsigned)c >= XMPP_SC__COUNT)
		c = XMPP_SC_UNDEFINED_CONDITION;
	return conds[c].name;
}

const char *xmpp_stanza_cond_type(enum xmpp_stanza_cond c)
{
	if ((unsigned)c >= XMPP_SC__COUNT)
		c = XMPP_SC_UNDEFINED_CONDITION;
	return conds[c].type;
}

static bool is_stanza_kind(const struct xmpp_node *n)
{
	return n != NULL && n->name != NULL &&
	       (strcmp(n->name, "message") == 0 || strcmp(n->name, "presence") == 0 ||
	        strcmp(n->name, "iq") == 0);
}

static enum fg_err put_attr(struct fg_buf *out, const char *name, const char *value)
{
	if (value == NULL)
		return FG_OK;
	enum fg_err err = fg_buf_printf(out, " %s='", name);
	if (err == FG_OK)
		err = xmpp_escape(out, value, strlen(value), true);
	if (err == FG_OK)
		err = fg_buf_append_str(out, "'");
	return err;
}

/* Opens a reply element with to/from swapped and the same id. */
static enum fg_err open_reply(struct fg_buf *out, const struct xmpp_node *st, const char *type)
{
	enum fg_err err = fg_buf_printf(out, "<%s", st->name);
	if (err == FG_OK)
		err = put_attr(out, "from", xmpp_node_attr(st, "to"));
	if (err == FG_OK)
		err = put_attr(out, "to", xmpp_node_attr(st, "from"));
	if (err == FG_OK)
		err = put_attr(out, "id", xmpp_node_attr(st, "id"));
	if (err == FG_OK)
		err = put_attr(out, "type", type);
	return err;
}

enum fg_err xmpp_stanza_error_reply(const struct xmpp_node *stanza, enum xmpp_stanza_cond cond,
                                    const char *text, const char *by, struct fg_buf *out)
{
	if (!is_stanza_kind(stanza))
		return FG_ERR_INVAL;
	const char *type = xmpp_node_attr(stanza, "type");
	/* RFC 6120 §8.3.1: never an error in reply to an error */
	if (type != NULL && strcmp(type, "error") == 0)
		return FG_ERR_PERM;
	/* an iq result carries no request to fail (RFC 6120 §8.2.3) */
	if (strcmp(stanza->name, "iq") == 0 && type != NULL && strcmp(type, "result") == 0)
		return FG_ERR_PERM;
	if (xmpp_node_attr(stanza, "from") == NULL)
		return FG_ERR_PERM;
	size_t start = out->len;
	enum fg_err err = open_reply(out, stanza, "error");
	if (err == FG_OK)
		err = fg_buf_printf(out, "><error type='%s'", xmpp_stanza_cond_type(cond));
	if (err == FG_OK)
		err = put_attr(out, "by", by);
	if (err == FG_OK)
		err = fg_buf_printf(out, "><%s xmlns='" XMPP_NS_STANZA_ERRORS "'/>",
		                    xmpp_stanza_cond_name(cond));
	if (err == FG_OK && text != NULL && text[0] != '\0') {
		err = fg_buf_append_str(out, "<text xmlns='" XMPP_NS_STANZA_ERRORS "'>");
		if (err == FG_OK)
			err = xmpp_escape(out, text, strlen(text), false);
		if (err == FG_OK)
			err = fg_buf_append_str(out, "</text>");
	}
	if (err == FG_OK)
		err = fg_buf_printf(out, "</error></%s>", stanza->name);
	if (err != FG_OK)
		out->len = start;
	return err;
}

static enum fg_err put_text_el(struct fg_buf *out, const char *name, const char *text)
{
	enum fg_err err = fg_buf_printf(out, "<%s>", name);
	if (err == FG_OK)
		err = xmpp_escape(out, text, strlen(text), false);
	if (err == FG_OK)
		err = fg_buf_printf(out, "</%s>", name);
	return err;
}

enum fg_err xmpp_local_answer(const struct xmpp_node *stanza, const struct xmpp_local_info *info,
                              struct fg_buf *out)
{
	if (stanza == NULL || stanza->name == NULL || strcmp(stanza->name, "iq") != 0)
		return FG_ERR_NOTFOUND;
	const char *type = xmpp_node_attr(stanza, "type");
	if (type == NULL || (strcmp(type, "get") != 0 && strcmp(type, "set") != 0))
		return FG_ERR_NOTFOUND;
	if (xmpp_node_attr(stanza, "from") == NULL)
		return FG_ERR_NOTFOUND;
	/* RFC 6120 §8.2.3: an iq get/set has exactly one payload child */
	const struct xmpp_node *q = xmpp_node_child(stanza, NULL, NULL);
	size_t start = out->len;
	enum fg_err err = FG_OK;
	bool get = strcmp(type, "get") == 0;
	if (get && xmpp_node_is(q, NS_PING, "ping")) {
		/* XEP-0199 §4: an empty result */
		if ((err = open_reply(out, stanza, "result")) == FG_OK)
			err = fg_buf_append_str(out, "/>");
	} else if (get && xmpp_node_is(q, NS_DISCO_INFO, "query")) {
		if (xmpp_node_attr(q, "node") != NULL)
			return xmpp_stanza_error_reply(stanza, XMPP_SC_ITEM_NOT_FOUND, NULL, NULL,
			                               out);
		/* XEP-0030 §3.1: identities and features of the gateway domain */
		err = open_reply(out, stanza, "result");
		if (err == FG_OK)
			err = fg_buf_append_str(out, "><query xmlns='" NS_DISCO_INFO "'>"
			                             "<identity category='gateway' type='sip'");
		if (err == FG_OK && info != NULL && info->identity_name != NULL)
			err = put_attr(out, "name", info->identity_name);
		if (err == FG_OK)
			err = fg_buf_append_str(out, "/><identity category='server' type='im'/>"
			                             "<feature var='" NS_DISCO_INFO "'/>"
			                             "<feature var='" NS_PING "'/>"
			                             "<feature var='" NS_VERSION "'/>"
			                             "</query></iq>");
	} else if (get && xmpp_node_is(q, NS_VERSION, "query")) {
		/* XEP-0092 §3: name and version; the OS is deliberately not disclosed */
		err = open_reply(out, stanza, "result");
		if (err == FG_OK)
			err = fg_buf_append_str(out, "><query xmlns='" NS_VERSION "'>");
		if (err == FG_OK)
			err = put_text_el(
			    out, "name", info != NULL && info->name != NULL ? info->name : "fedgw");
		if (err == FG_OK)
			err = put_text_el(out, "version",
			                  info != NULL && info->version != NULL ? info->version
			                                                        : "unknown");
		if (err == FG_OK)
			err = fg_buf_append_str(out, "</query></iq>");
	} else {
		/* RFC 6120 §8.4: unknown payloads get service-unavailable */
		return xmpp_stanza_error_reply(stanza, XMPP_SC_SERVICE_UNAVAILABLE, NULL, NULL,
		                               out);
	}
	if (err != FG_OK)
		out->len = start;
	return err;
}
