/* assets: the generated table of embedded console files (see embed.cmake). */
#ifndef FEDGW_ASSETS_INTERNAL_H
#define FEDGW_ASSETS_INTERNAL_H

#include "assets/assets.h"

#include <stddef.h>

/* Sorted by path; generated into assets_data.c at build time. */
extern const struct asset assets__table[];
extern const size_t assets__count;
extern const size_t assets__total_bytes;

#endif
