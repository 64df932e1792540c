/* assets: the console's static files, embedded into the binary at build time. */
#ifndef FEDGW_ASSETS_H
#define FEDGW_ASSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct asset {
	const char *path;          /* "/index.html", "/app.js", "/style.css" ... */
	const char *content_type;  /* "text/html; charset=utf-8" ... */
	const uint8_t *data;
	size_t len;
	const char *etag;          /* quoted strong ETag (hash of the content) */
};

/* Exact lookup of a request path ("/" maps to "/index.html"); NULL if none. Never
 * touches the file system: there is nothing to traverse. */
const struct asset *assets_find(const char *path);

#endif
