/*
** compress.h: zstd compression of payloads with pooled contexts (compress.c).
*/
#ifndef EVS_COMPRESS_H
#define EVS_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include <zstd.h>

/* Compress src into dst (cap bytes); returns the compressed size, or 0
** when compression does not save at least 1/8. */
size_t evs_zstd_compress(evs_store *s, const ZSTD_CDict *cd, const void *src, size_t n,
                         void *dst, size_t cap);
/* Decompress exactly raw bytes (with the store's dictionary if the frame
** names one). 0, EVS_ECORRUPT with the reason in why, or EVS_ENOMEM. */
int evs_zstd_decompress(evs_store *s, void *dst, size_t raw, const void *src,
                        size_t n, char *why, size_t whycap);
void evs_zstd_pools_free(evs_store *s);

#endif
