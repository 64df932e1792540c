/* resolve SRV RDATA: decodes RFC 2782 SRV records from their wire form (RFC 1035 §3.1 names). */
#include "resolve_internal.h"

#include <string.h>

/* RFC 1035 §2.3.4: labels are at most 63 octets, a name at most 255 octets on the wire. */
#define SRV_LABEL_MAX     63u
#define SRV_WIRE_NAME_MAX 255u

static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool resolve__srv_rdata_parse(const uint8_t *rdata, size_t len, struct dns_srv *out)
{
	if (rdata == NULL || out == NULL || len < 7)
		return false;
	memset(out, 0, sizeof(*out));
	out->priority = (uint16_t)(rdata[0] << 8 | rdata[1]);
	out->weight = (uint16_t)(rdata[2] << 8 | rdata[3]);
	out->port = (uint16_t)(rdata[4] << 8 | rdata[5]);
	size_t i = 6, o = 0, wire = 0;
	for (;;) {
		if (i >= len)
			return false;
		uint8_t l = rdata[i++];
		wire += 1u + l;
		/* RFC 2782: the target is not compressed; 0xC0 pointers are refused. */
		if (l > SRV_LABEL_MAX || wire > SRV_WIRE_NAME_MAX)
			return false;
		if (l == 0)
			break;
		if (l > len - i)
			return false;
		if (o > 0)
			out->target[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			if (!host_char(rdata[i + k]) || o + 1 >= sizeof(out->target))
				return false;
			out->target[o++] = (char)rdata[i + k];
		}
		i += l;
	}
	/* Nothing may follow the name inside the RDATA. */
	if (i != len)
		return false;
	if (o == 0)
		out->target[o++] = '.'; /* RFC 2782: "." means the service is not available */
	out->target[o] = '\0';
	return true;
}
