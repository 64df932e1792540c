/* xmppconf: names shared by the XMPP configuration files (RFC 1035 §2.3.1 names are
 * checked by conf). */
#include "xmppconf_internal.h"

bool xmppconf_domain_valid(const char *domain, const char **why)
{
	return conf_domain_valid(domain, why);
}

const char *xmppconf__direction_name(enum db_direction d)
{
	switch (d) {
	case DB_DIR_INCOMING:
		return "incoming";
	case DB_DIR_OUTGOING:
		return "outgoing";
	default:
		return "both";
	}
}
