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
/* Stop and join the thread (at close). */
void evs_maint_stop(evs_store *s);

#endif
