/*
** maint.c: background maintenance. One thread per store, started the
** first time it is needed, writes the periodic index checkpoint and runs
** automatic compaction, so no caller's append pays for either. Errors are
** kept for evs_stats (a failed checkpoint only makes the next open slower;
** a failed sync already turns the store read-only).
*/
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"

static void *maint_main(void *arg) {
  evs_store *s = arg;
  pthread_mutex_lock(&s->bgmu);
  for (;;) {
    while (!s->bg_stop && !s->bg_ckpt && !s->bg_compact) pthread_cond_wait(&s->bgcv, &s->bgmu);
    if (s->bg_stop) break;
    int ckpt = s->bg_ckpt, compact = s->bg_compact;
    s->bg_ckpt = s->bg_compact = 0;
    pthread_mutex_unlock(&s->bgmu);
    int rc = 0;
    if (compact) {
      uint64_t dead, total;
      evs_compact_estimate(s, &dead, &total);
      if (total && dead * 100 >= (uint64_t)s->opt.auto_compact_percent * total)
        rc = evs_compact(s, NULL);
    }
    if (!rc && ckpt) rc = evs_checkpoint_write(s);
    pthread_mutex_lock(&s->bgmu);
    if (rc) {
      s->bg_rc = rc;
      snprintf(s->bg_err, sizeof s->bg_err, "%s", evs_errmsg(s));
    }
  }
  pthread_mutex_unlock(&s->bgmu);
  return NULL;
}

void evs_maint_kick(evs_store *s, int ckpt, int compact) {
  if (!s->dir && ckpt && !compact) return;
  pthread_mutex_lock(&s->bgmu);
  if (!s->bg_stop) {
    if (!s->bg_started && !pthread_create(&s->bg, NULL, maint_main, s)) s->bg_started = 1;
    s->bg_ckpt |= ckpt;
    s->bg_compact |= compact;
    pthread_cond_signal(&s->bgcv);
  }
  pthread_mutex_unlock(&s->bgmu);
}

void evs_maint_stop(evs_store *s) {
  pthread_mutex_lock(&s->bgmu);
  s->bg_stop = 1;
  pthread_cond_signal(&s->bgcv);
  int started = s->bg_started;
  s->bg_started = 0; /* joined once (close and free both stop it) */
  pthread_mutex_unlock(&s->bgmu);
  if (started) pthread_join(s->bg, NULL);
}
