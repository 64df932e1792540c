/* sipconf internal: what the settings and domain files share. */
#ifndef FEDGW_SIPCONF_INTERNAL_H
#define FEDGW_SIPCONF_INTERNAL_H

#include "sipconf/sipconf.h"

/* The gateway's FQDN in effect: sip.fqdn, or the host name while unset (as the engine). */
void sipconf__fqdn(struct db_txn *txn, char out[DB_DOMAIN_MAX], bool *is_default);
/* Does the leaf certificate cert_id name host (RFC 5922 §7.1: DNS-ID SANs, the CN only
 * without them)? False when it cannot be read. names gets what it names instead. */
bool sipconf__cert_names(struct db_txn *txn, const char *cert_id, const char *host, char *names,
                         size_t namesize);

#endif
