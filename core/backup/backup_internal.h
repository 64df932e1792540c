/* backup: internals shared with the unit tests (not a public contract). */
#ifndef FEDGW_BACKUP_INTERNAL_H
#define FEDGW_BACKUP_INTERNAL_H

#include "backup/backup.h"

/* backup_seal with chosen Argon2id parameters (tests use cheap ones to stay fast). */
enum fg_err backup__seal_with(const uint8_t *snapshot, size_t len, const char *passphrase,
                              uint32_t t_cost, uint32_t m_kib, uint32_t parallelism,
                              struct fg_buf *out);

#endif
