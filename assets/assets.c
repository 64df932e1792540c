/* assets: lookup of the console's embedded static files by request path. */
#include "assets/assets.h"
#include "assets_internal.h"

#include <string.h>

/* Longer than any embedded path; a longer request cannot match, so stop early. */
#define ASSETS_MAX_PATH_BYTES 256

const struct asset *assets_find(const char *path)
{
	size_t len;

	if (path == NULL || path[0] != '/')
		return NULL;
	len = strnlen(path, ASSETS_MAX_PATH_BYTES + 1);
	if (len > ASSETS_MAX_PATH_BYTES)
		return NULL;
	/* The console is a single page: "/" is its index. */
	if (len == 1)
		path = "/index.html";
	/* Exact match against a fixed table: "/../x", "//x" and "%2e" never match. */
	for (size_t i = 0; i < assets__count; i++) {
		if (strcmp(assets__table[i].path, path) == 0)
			return &assets__table[i];
	}
	return NULL;
}
