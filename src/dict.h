/*
** dict.h: the zstd dictionary for small payloads (dict.c).
*/
#ifndef EVS_DICT_H
#define EVS_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "store.h"

/* Smaller payloads are not worth a frame even with the dictionary. */
#define EVS_DICT_MIN 64
/* At open, before the log: load evstore.dict if there is one (a damaged
** one leaves the store usable, state EVS_DICT_CORRUPT). */
int evs_dict_open(evs_store *s);
/* At open, after the log: arm (or start) training if one is wanted. */
void evs_dict_arm(evs_store *s);
void evs_dict_free(evs_store *s);
/* A commit of n events (while dict_collect): count down to training. */
static inline void evs_dict_count(evs_store *s, uint64_t n) {
  if (__atomic_sub_fetch(&s->dict_countdown, (int64_t)n, __ATOMIC_RELAXED) <= 0 &&
      __atomic_exchange_n(&s->dict_collect, 0, __ATOMIC_RELAXED))
    evs_notify(s, EVS_BG_DICT);
}
/* Maintenance thread: sample the log, train, write the file, publish. */
int evs_dict_train(evs_store *s);

#endif
