/* Test helpers for the sip unit tests: reading torture files, comparing strings. */
#ifndef FEDGW_TEST_SIP_COMMON_H
#define FEDGW_TEST_SIP_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"

static inline uint8_t *read_data(const char *rel, size_t *len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", SIP_TEST_DATA, rel);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static inline bool str_is(struct sip_str s, const char *lit)
{
	return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

#define assert_str(s, lit)                                                                         \
	do {                                                                                       \
		if (!str_is((s), (lit))) {                                                         \
			fprintf(stderr, "expected '%s' got '%.*s'\n", (lit), (int)(s).len,         \
			        (s).p ? (s).p : "(null)");                                         \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

#endif
