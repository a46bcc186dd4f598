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
/* One compaction pass (evs_compact is one with automatic 0). An automatic
** pass (maint.c) leaves the open segment open: sealing a small one on
** every pass while writers append would only trade dead bytes for
** segments. out may be NULL. */
int evs_compact_pass(evs_store *s, evs_compact_report *out, int automatic);

#endif
