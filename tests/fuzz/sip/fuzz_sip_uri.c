/* libFuzzer target: SIP URI parser and the SIP <-> XMPP address mapping. */
#include <stddef.h>
#include <stdint.h>

#include "sip/sip.h"
#include "xlate/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uri *u = NULL;
	struct sip_error err;
	if (sip_uri_parse((const char *)data, size, &u, &err) == FG_OK) {
		(void)sip_uri_param(u, "gr");
		sip_uri_free(u);
	}
	struct fg_buf jid = {0}, uri = {0};
	if (xlate_addr_sip_to_xmpp((const char *)data, size, &jid, NULL) == FG_OK) {
		/* a JID we produced must map back to a SIP URI */
		if (xlate_addr_xmpp_to_sip((const char *)jid.data, jid.len, &uri, NULL) != FG_OK &&
		    jid.len <= 1023)
			__builtin_trap();
	}
	fg_buf_reset(&uri);
	(void)xlate_addr_xmpp_to_sip((const char *)data, size, &uri, NULL);
	fg_buf_free(&jid);
	fg_buf_free(&uri);
	return 0;
}
