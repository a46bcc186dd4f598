/*
** checkpoint.h: writing the index checkpoint (checkpoint.c).
*/
#ifndef EVS_CHECKPOINT_H
#define EVS_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* Write a checkpoint of the committed index (waits for the writer; with
** nowait, as at close where nobody else can hold it, takes it without
** waiting so no lock order is implied with the caller's own locks). */
int evs_checkpoint_write(evs_store *s);
/* checkpoint.c */
int evs_checkpoint_write_nowait(evs_store *s);

#endif
