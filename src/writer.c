/*
** writer.c: the writer lock (one writing thread at a time) and the
** store's permission to write (read_only, or broken after an I/O failure).
*/
#include <stdio.h>
#include <time.h>

#include "error.h"
#include "store.h"
#include "writer.h"

int evs_check_writable(const evs_store *s) {
  if (s->opt.read_only)
    return evs_err(s, EVS_EREADONLY, "store %s is open read-only", s->dir);
  if (__atomic_load_n(&s->broken, __ATOMIC_ACQUIRE))
    return evs_err(s, EVS_EREADONLY,
                   "store refuses writes after an I/O failure (%s); close and "
                   "reopen it to recover",
                   s->broken_why);
  return 0;
}

void evs_set_broken(evs_store *s, int rc, const char *why) {
  pthread_mutex_lock(&s->smu);
  if (!s->broken) {
    snprintf(s->broken_why, sizeof s->broken_why, "%s", why);
    /* Release: a reader that sees broken also sees broken_why. */
    __atomic_store_n(&s->broken, rc, __ATOMIC_RELEASE);
  }
  pthread_cond_broadcast(&s->scv);
  pthread_mutex_unlock(&s->smu);
}

/* The address of a thread-local is the thread's identity: unlike
** pthread_t it can be read and written atomically. */
static _Thread_local char tl_self;

int evs_writer_held(const evs_store *s) {
  return __atomic_load_n(&s->writer, __ATOMIC_ACQUIRE) == &tl_self;
}

int evs_writer_lock_timeout(evs_store *s, int timeout_ms) {
  if (evs_writer_held(s))
    return evs_err(s, EVS_EDEADLK,
                   "this thread already holds the write transaction; pass its "
                   "evs_txn to the call, or commit it first");
  if (timeout_ms < 0) {
    pthread_mutex_lock(&s->wmu);
  } else {
    struct timespec t0, now, nap = {0, 20000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (pthread_mutex_trylock(&s->wmu)) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >=
          timeout_ms)
        return evs_err(s, EVS_EBUSY,
                       "another thread holds the write transaction (waited %d ms)",
                       timeout_ms);
      nanosleep(&nap, NULL);
      if (nap.tv_nsec < 1000000) nap.tv_nsec *= 2; /* back off to 1 ms */
    }
  }
  __atomic_store_n(&s->writer, &tl_self, __ATOMIC_RELEASE);
  return 0;
}

int evs_writer_trylock(evs_store *s) {
  if (evs_writer_held(s) || pthread_mutex_trylock(&s->wmu)) return EVS_EBUSY;
  __atomic_store_n(&s->writer, &tl_self, __ATOMIC_RELEASE);
  return 0;
}

/* s->txn is not touched here: maintenance holds the writer without a
** transaction, and only a transaction's owner writes s->txn. */
void evs_writer_unlock(evs_store *s) {
  __atomic_store_n(&s->writer, NULL, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&s->wmu);
}
