/* resolve internal: RDATA decoding shared by the resolver and its unit tests (RFC 2782). */
#ifndef FEDGW_RESOLVE_INTERNAL_H
#define FEDGW_RESOLVE_INTERNAL_H

#include "resolve/resolve.h"

/* Decodes one SRV RDATA (RFC 2782: priority, weight, port, target in uncompressed wire
 * form) into out; the target in presentation form without the trailing dot, "." for the
 * root. False on any malformation or a target with bytes outside letters, digits, '-' and
 * '_' (such a name cannot be a host we connect to). */
bool resolve__srv_rdata_parse(const uint8_t *rdata, size_t len, struct dns_srv *out);

/* Serves zone (a local-zone type such as "static") and the record rr (zone-file syntax,
 * "a.test. 60 IN A 192.0.2.1"; NULL for none) from inside the resolver, without any server:
 * for unit tests. Call before the first query. */
enum fg_err resolve__local_data_add(struct resolver *r, const char *zone, const char *zone_type,
                                    const char *rr);

#endif
