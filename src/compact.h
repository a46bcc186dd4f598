/*
** compact.h: compaction (compact.c), for maintenance.
*/
#ifndef EVS_COMPACT_H
#define EVS_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* Estimated dead bytes of the sealed segments and the log's size. */
void evs_compact_estimate(evs_store *s, uint64_t *dead, uint64_t *total);

#endif
