/*
** maint.c: background maintenance. One thread per store, started the
** first time it is needed, writes the periodic index checkpoint, runs
** automatic compaction and trains the payload dictionary, so no caller's
** append pays for any of them. With an eventfd (evs_store_eventfd) it
** also signals it when a lease or a delay ends: an event becomes
** claimable then with no commit to say so. Errors are
** kept for evs_stats (a failed checkpoint only makes the next open slower;
** a failed sync already turns the store read-only).
*/
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "compact.h"
#include "dict.h"
#include "maint.h"
#include "store.h"

int64_t evs_next_lease_end(evs_store *s, int64_t now) {
  int64_t first = INT64_MAX;
  pthread_rwlock_rdlock(&s->ilock);
  const evs_leases *l = &s->state.idx.leases;
  for (size_t i = 0; l->tab && i <= l->mask; i++)
    if (l->tab[i].id && l->tab[i].until_us > now && l->tab[i].until_us < first)
      first = l->tab[i].until_us;
  pthread_rwlock_unlock(&s->ilock);
  return first;
}

/* Sleep (bgmu held) until work comes or, with an eventfd, lease_next
** passes. The store's clock may be any function (a test's fake one): the
** sleep is at most LEASE_NAP_MS, then the clock is read again. */
#define LEASE_NAP_MS 100
static void sleep_for_work(evs_store *s) {
  while (!s->bg_stop && !s->bg_work) {
    int64_t next = __atomic_load_n(&s->lease_next, __ATOMIC_ACQUIRE);
    if (next == INT64_MAX || __atomic_load_n(&s->ev_fd, __ATOMIC_ACQUIRE) < 0) {
      pthread_cond_wait(&s->bgcv, &s->bgmu);
      continue;
    }
    int64_t left = next - evs_now(s);
    if (left <= 0) {
      s->bg_work |= EVS_BG_LEASE;
      break;
    }
    if (left > LEASE_NAP_MS * INT64_C(1000)) left = LEASE_NAP_MS * INT64_C(1000);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(left / 1000000);
    until.tv_nsec += (long)(left % 1000000) * 1000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&s->bgcv, &s->bgmu, &until);
  }
}

/* A lease or a delay ended (or may have): signal the eventfd, and find
** the next end. */
static void lease_timer(evs_store *s) {
  int64_t now = evs_now(s);
  if (__atomic_load_n(&s->lease_next, __ATOMIC_ACQUIRE) <= now) {
    int fd = __atomic_load_n(&s->ev_fd, __ATOMIC_ACQUIRE);
    uint64_t one = 1;
    if (fd >= 0) {
      ssize_t r = write(fd, &one, sizeof one); /* EAGAIN: still readable */
      (void)r;
    }
  }
  /* A commit may lower lease_next meanwhile: only ever move it to the
  ** earlier of the two. */
  int64_t next = evs_next_lease_end(s, now), cur = __atomic_load_n(&s->lease_next, __ATOMIC_ACQUIRE);
  while (!__atomic_compare_exchange_n(&s->lease_next, &cur, cur > now && cur < next ? cur : next,
                                      0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
}

static void *maint_main(void *arg) {
  evs_store *s = arg;
  pthread_mutex_lock(&s->bgmu);
  for (;;) {
    sleep_for_work(s);
    int work = s->bg_work;
    s->bg_work = 0;
    /* Closing: a dictionary that is due is still trained (it takes
    ** ~50 ms; the next open would only start over); checkpoint and
    ** compaction are close's business or can wait. */
    if (s->bg_stop) work &= EVS_BG_DICT;
    if (!work) break;
    pthread_mutex_unlock(&s->bgmu);
    if (work & EVS_BG_LEASE) lease_timer(s);
    if (work & EVS_BG_DICT) evs_bg_note(s, evs_dict_train(s));
    int rc = 0;
    if (work & EVS_BG_COMPACT) {
      uint64_t dead, total;
      evs_compact_estimate(s, &dead, &total);
      if (total && dead * 100 >= (uint64_t)s->opt.auto_compact_percent * total)
        rc = evs_compact_pass(s, NULL, 1);
    }
    if (!rc && (work & EVS_BG_CKPT)) rc = evs_checkpoint_write(s);
    evs_bg_note(s, rc);
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
