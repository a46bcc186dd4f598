/*
** recover.h: opening the log (recover.c) and the index checkpoint it loads
** (checkpoint_load.c).
*/
#ifndef EVS_RECOVER_H
#define EVS_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* recover.c: open the log of s->dir (or start a new one), build the index. */
int evs_log_open(evs_store *s);

/* A read_only handle catching up (caller holds wmu): replays what was
** committed to the open segment and to segments a roll added since. Sets
** *relayout instead when the log's layout changed (compaction, repair, a
** store in its place): the caller loads the store again. */
int evs_log_follow(evs_store *s, int *relayout);

/* checkpoint_load.c */
/* At open, with every listed segment mapped: is there a checkpoint that
** matches the log? Sets s->ckpt_state; when LOADED, *seg / *off is where
** the log after it begins and *file the checkpoint of *file_len bytes
** (malloc'ed: the caller frees it). Only out-of-memory is an error. */
int evs_checkpoint_find(evs_store *s, size_t *seg, uint64_t *off, uint8_t **file,
                        size_t *file_len);
/* Fill the (empty) index from the checkpoint file evs_checkpoint_find
** accepted. */
int evs_checkpoint_load(evs_store *s, const uint8_t *file, size_t file_len);

#endif
