/* libFuzzer target: PIDF/RPID presence parser, PIDF builder round trip, isComposing parser. */
#include <stddef.h>
#include <stdint.h>

#include "xlate/xlate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlate_presence p;
	if (xlate_pidf_parse(data, size, &p, NULL) == FG_OK) {
		struct fg_buf b = {0};
		/* a note we parsed is valid XML text, so building must succeed */
		if (xlate_pidf_build(&p, "pres:a@example.com", "sip:a@example.com", &b) == FG_OK) {
			struct xlate_presence q;
			if (xlate_pidf_parse(b.data, b.len, &q, NULL) != FG_OK)
				__builtin_trap();
			xlate_presence_clear(&q);
		}
		fg_buf_free(&b);
		xlate_presence_clear(&p);
	}
	enum xlate_chatstate cs;
	(void)xlate_chatstate_from_iscomposing(data, size, &cs, NULL);
	return 0;
}
