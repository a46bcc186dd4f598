/*
** cursor.h: opaque inbox cursors. A cursor is base64url of
**   u8 version | u8 zero | u64 last id | u64 filter fingerprint
**   | u64 store id | u64 check
** where check = XXH3_64bits_withSeed(first 26 bytes, the store's secret
** cursor key). The check makes tampering and truncation detectable; it is
** not a cryptographic MAC.
*/
#ifndef EVS_CURSOR_H
#define EVS_CURSOR_H

#include <stdint.h>

#include "evstore.h"

#define EVS_CURSOR_MAX 64 /* encoded length bound, NUL included */

/* Fingerprint of everything in q that selects events (not limit/cursor). */
uint64_t evs_filter_fp(const evs_query *q);

void evs_cursor_encode(const evs_store *s, uint64_t last_id, uint64_t fp,
                       char out[EVS_CURSOR_MAX]);

/* Decode and verify; EVS_ECURSOR with a message on any mismatch. */
int evs_cursor_decode(const evs_store *s, const char *c, uint64_t fp,
                      uint64_t *last_id);

#endif
