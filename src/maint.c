/*
** maint.c: background maintenance. One thread per store, started the
** first time it is needed, writes the periodic index checkpoint, runs
** automatic compaction and trains the payload dictionary, so no caller's
** append pays for any of them. Errors are
** kept for evs_stats (a failed checkpoint only makes the next open slower;
** a failed sync already turns the store read-only).
*/
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "compact.h"
#include "dict.h"
#include "maint.h"
#include "store.h"

static void note(evs_store *s, int rc) {
  if (!rc) return;
  pthread_mutex_lock(&s->bgmu);
  s->bg_rc = rc;
  snprintf(s->bg_err, sizeof s->bg_err, "%s", evs_errmsg(s));
  pthread_mutex_unlock(&s->bgmu);
}

static void *maint_main(void *arg) {
  evs_store *s = arg;
  pthread_mutex_lock(&s->bgmu);
  for (;;) {
    while (!s->bg_stop && !s->bg_work) pthread_cond_wait(&s->bgcv, &s->bgmu);
    int work = s->bg_work;
    s->bg_work = 0;
    /* Closing: a dictionary that is due is still trained (it takes
    ** ~50 ms; the next open would only start over); checkpoint and
    ** compaction are close's business or can wait. */
    if (s->bg_stop) work &= EVS_BG_DICT;
    if (!work) break;
    pthread_mutex_unlock(&s->bgmu);
    if (work & EVS_BG_DICT) note(s, evs_dict_train(s));
    int rc = 0;
    if (work & EVS_BG_COMPACT) {
      uint64_t dead, total;
      evs_compact_estimate(s, &dead, &total);
      if (total && dead * 100 >= (uint64_t)s->opt.auto_compact_percent * total)
        rc = evs_compact_pass(s, NULL, 1);
    }
    if (!rc && (work & EVS_BG_CKPT)) rc = evs_checkpoint_write(s);
    note(s, rc);
    pthread_mutex_lock(&s->bgmu);
  }
  pthread_mutex_unlock(&s->bgmu);
  return NULL;
}

void evs_maint_kick(evs_store *s, int work) {
  if (!s->dir) work &= ~EVS_BG_CKPT;
  if (!work) return;
  pthread_mutex_lock(&s->bgmu);
  if (!s->bg_stop) {
    if (!s->bg_started && !pthread_create(&s->bg, NULL, maint_main, s)) s->bg_started = 1;
    s->bg_work |= work;
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
