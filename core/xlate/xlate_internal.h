/* xlate internals: UTF-8 checks and a restricted expat parser. */
#ifndef FEDGW_XLATE_INTERNAL_H
#define FEDGW_XLATE_INTERNAL_H

#include <expat.h>

#include "xlate/xlate.h"
#include "xmpp/xmpp.h" /* xmpp_escape: the one XML escaper, as the s2s stream writes */

bool xlate__utf8_valid(const uint8_t *s, size_t len);
char *xlate__strndup(const char *s, size_t len);

/* Restricted XML parsing (no DOCTYPE, entities, PIs or comments; depth and size caps).
 * Names arrive as "namespace-uri|local". */
struct xlate__xml {
	XML_Parser parser;
	int depth;
	const char *why; /* reason when refused */
	void *user;
	void (*start_cb)(struct xlate__xml *x, const char *name, const char **attrs);
	void (*end_cb)(struct xlate__xml *x, const char *name);
	void (*text_cb)(struct xlate__xml *x, const char *s, int len);
};
/* Parses the whole document; FG_ERR_PARSE with x->why on failure. */
enum fg_err xlate__xml_run(struct xlate__xml *x, const uint8_t *xml, size_t len);
/* Stops the parse with a reason (from callbacks). */
void xlate__xml_fail(struct xlate__xml *x, const char *why);

#endif
