/* Unit test helpers for db: a fresh temporary data directory per test, removed after. */
#ifndef FEDGW_DB_TEST_UTIL_H
#define FEDGW_DB_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int tdir_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Creates /tmp/fgdb-XXXXXX into buf (at least 64 bytes); returns buf or NULL. */
static inline char *tdir_make(char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/fgdb-XXXXXX");
	return mkdtemp(buf);
}

static inline void tdir_remove(const char *path)
{
	nftw(path, tdir_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
