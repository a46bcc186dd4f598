/*
** worker.h: the batch worker thread (worker.c).
*/
#ifndef EVS_WORKER_H
#define EVS_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* Tasks of a batch run on the calling thread and, when it is
** free, the store's worker thread (started on first use). */
typedef void (*evs_task_fn)(void *ctx, size_t k);
typedef struct evs_share {
  evs_task_fn fn; /* run task k; safe on two threads for two k */
  void *ctx;
  size_t m;       /* tasks */
  size_t bytes;   /* the batch's size, to compare batch times by */
  evs_worker *w;  /* set by evs_share_start when the worker takes part */
  uint8_t *state; /* the worker's: one per task */
  evs_worker *timed; /* whose averages the batch's time goes to, or NULL */
  int cpu, arm;
  int64_t t0;
} evs_share;
/* Offer the tasks to the worker if it is free and sharing has paid off
** lately (batches are timed from here to evs_share_finish). Whether or not
** the worker takes part, the caller then runs every task it needs with
** evs_share_run, waiting with evs_share_wait for those the worker has, and
** ends with evs_share_finish. */
void evs_share_start(evs_store *s, evs_share *sh);
/* Run task k here unless the worker has it or it is done: 1 if it ran
** here. Without the worker, always runs it: call it once per task. */
int evs_share_run(evs_share *sh, size_t k);
/* Is task k done? (Only with the worker.) */
int evs_share_done(const evs_share *sh, size_t k);
/* Return when task k is done (at once without the worker). */
void evs_share_wait(evs_share *sh, size_t k);
/* With the worker: run or wait for every task left, and take the tasks
** back, after which the worker touches nothing of the caller's. */
void evs_share_finish(evs_share *sh);
/* Join and free the worker, if it was started. The store must be idle. */
void evs_worker_stop(evs_store *s);

#endif
