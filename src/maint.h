/*
** maint.h: the background maintenance thread (maint.c).
*/
#ifndef EVS_MAINT_H
#define EVS_MAINT_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* Start the thread if needed and give it work (EVS_BG_* bits, store.h):
** the store's notify hook. */
void evs_maint_kick(evs_store *s, int work);
/* The first time after now (store clock) at which a lease or a delay
** ends; INT64_MAX if none. Walks the lease table (takes ilock shared). */
int64_t evs_next_lease_end(evs_store *s, int64_t now);
/* Stop and join the thread (at close). */
void evs_maint_stop(evs_store *s);

#endif
