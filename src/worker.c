/*
** worker.c: the store's helper thread, which lends the caller of a batch a
** second core for preparing the batch's items (JSON validation,
** compression) while the caller prepares others and encodes the prepared
** ones in order. One worker per store, started on first use, stopped at
** close; none when the process may run on one CPU only. It serves one
** batch at a time: a caller that finds it busy prepares its batch alone,
** so concurrent appenders never wait for each other here.
**
** Items are claimed one at a time with a compare-and-swap on their state,
** so whichever thread gets to an item first prepares it, and the caller
** waits only for an item the worker has already started: a worker that is
** slow to wake, or preempted, costs the caller nothing. The worker takes
** items in the order the caller gives (the longest first), the caller in
** index order, which is the order it encodes them in.
*/
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

/* How long the caller spins for an item the worker is on before it
** sleeps. Waking a sleeping thread costs tens of microseconds on a VM,
** as much as a 20 KB item. */
#define SPIN_NS 200000

enum { ITEM_FREE, ITEM_CLAIMED, ITEM_DONE };

struct evs_worker {
  pthread_mutex_t mu;
  pthread_cond_t wake; /* worker: a pipe was posted, or stop */
  pthread_cond_t idle; /* caller: an item is done, or the worker left */
  pthread_t th;
  evs_pipe *posted; /* waiting for the worker to take it */
  evs_pipe *cur;    /* the worker is working on this one */
  int stop;
#ifdef __linux__
  cpu_set_t mask; /* the worker's own affinity */
#endif
};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static int64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The CPU the calling thread runs on, or -1. */
static int this_cpu(void) {
#ifdef __linux__
  return sched_getcpu();
#else
  return -1;
#endif
}

/* Linux wakes a thread where it last ran if that CPU is idle, else often
** on the waker's CPU without looking further (it skips the search for an
** idle CPU when the cache domain looks busy). Once the worker has run on
** the caller's CPU it can stay trapped there, taking turns with the
** caller instead of running beside it (measured: 2000 of 2000 wake-ups on
** the caller's CPU in some runs, none in others). Moving off it once
** makes the other CPU its home again. */
static void leave_cpu(evs_worker *w, int cpu) {
#ifdef __linux__
  if (cpu < 0 || this_cpu() != cpu) return;
  cpu_set_t m = w->mask;
  CPU_CLR(cpu, &m);
  if (CPU_COUNT(&m) && !pthread_setaffinity_np(pthread_self(), sizeof m, &m))
    pthread_setaffinity_np(pthread_self(), sizeof w->mask, &w->mask);
#else
  (void)w, (void)cpu;
#endif
}

static int claim(evs_pipe *p, size_t i) {
  uint8_t want = ITEM_FREE;
  if (__atomic_load_n(&p->state[i], __ATOMIC_RELAXED) != ITEM_FREE) return 0;
  return __atomic_compare_exchange_n(&p->state[i], &want, ITEM_CLAIMED, 0,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static int is_done(evs_pipe *p, size_t i) {
  return __atomic_load_n(&p->state[i], __ATOMIC_ACQUIRE) == ITEM_DONE;
}

/* The worker's side: every item it can claim, in p->order. */
static void pipe_work(evs_worker *w, evs_pipe *p) {
  for (size_t k = 0; k < p->n; k++) {
    size_t i = p->order[k];
    if (!claim(p, i)) continue;
    p->fn(p->ctx, i);
    /* Sequentially consistent with the caller's announcement that it
    ** sleeps (evs_pipe_wait): one of the two sees the other's store. */
    __atomic_store_n(&p->state[i], ITEM_DONE, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&p->sleeping, __ATOMIC_SEQ_CST)) {
      pthread_mutex_lock(&w->mu);
      pthread_cond_signal(&w->idle);
      pthread_mutex_unlock(&w->mu);
    }
  }
}

static void *worker_main(void *arg) {
  evs_worker *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->posted && !w->stop) pthread_cond_wait(&w->wake, &w->mu);
    if (w->stop) break;
    evs_pipe *p = w->posted;
    w->posted = NULL;
    w->cur = p;
    pthread_mutex_unlock(&w->mu);
    leave_cpu(w, p->cpu);
    pipe_work(w, p);
    pthread_mutex_lock(&w->mu);
    w->cur = NULL;
    pthread_cond_signal(&w->idle);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* A worker, or NULL when there is no second CPU to run it on (or no
** memory or thread for it). */
static evs_worker *worker_start(void) {
  evs_worker *w = calloc(1, sizeof *w);
  if (!w) return NULL;
#ifdef __linux__
  if (sched_getaffinity(0, sizeof w->mask, &w->mask) || CPU_COUNT(&w->mask) < 2) {
    free(w);
    return NULL;
  }
#else
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    free(w);
    return NULL;
  }
#endif
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->wake, NULL);
  pthread_cond_init(&w->idle, NULL);
  if (pthread_create(&w->th, NULL, worker_main, w)) {
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
  }
  return w;
}

void evs_pipe_start(evs_store *s, evs_pipe *p) {
  p->w = NULL;
  p->next = 0;
  p->sleeping = 0;
  if (p->n < 2) return;
  pthread_mutex_lock(&s->poolmu);
  if (!s->worker && !s->worker_off) s->worker_off = !(s->worker = worker_start());
  evs_worker *w = s->worker;
  pthread_mutex_unlock(&s->poolmu);
  if (!w) return;
  p->cpu = this_cpu();
  pthread_mutex_lock(&w->mu);
  if (!w->posted && !w->cur) {
    w->posted = p;
    p->w = w;
    pthread_cond_signal(&w->wake);
  }
  pthread_mutex_unlock(&w->mu);
}

/* Prepare the next free item at or after p->next on this thread; 0 when
** there is none. */
static int help(evs_pipe *p) {
  for (; p->next < p->n; p->next++) {
    size_t i = p->next;
    if (!claim(p, i)) continue;
    p->fn(p->ctx, i);
    __atomic_store_n(&p->state[i], ITEM_DONE, __ATOMIC_RELEASE);
    p->next++;
    return 1;
  }
  return 0;
}

void evs_pipe_wait(evs_pipe *p, size_t i) {
  if (claim(p, i)) {
    p->fn(p->ctx, i);
    __atomic_store_n(&p->state[i], ITEM_DONE, __ATOMIC_RELEASE);
    return;
  }
  /* The worker has it: prepare later items meanwhile, then spin, then
  ** sleep. */
  while (!is_done(p, i))
    if (!help(p)) break;
  int64_t until = 0;
  for (unsigned k = 1; !is_done(p, i); k++) {
    cpu_relax();
    if (k % 64) continue;
    int64_t t = mono_ns();
    if (!until) until = t + SPIN_NS;
    else if (t > until) break;
  }
  if (is_done(p, i)) return;
  evs_worker *w = p->w;
  pthread_mutex_lock(&w->mu);
  __atomic_store_n(&p->sleeping, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&p->state[i], __ATOMIC_SEQ_CST) != ITEM_DONE)
    pthread_cond_wait(&w->idle, &w->mu);
  __atomic_store_n(&p->sleeping, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&w->mu);
}

void evs_pipe_finish(evs_pipe *p) {
  for (size_t i = 0; i < p->n; i++) evs_pipe_wait(p, i);
  evs_worker *w = p->w;
  if (!w) return;
  /* Take the pipe back if the worker never got to it, else wait until it
  ** has left: the pipe lives on the caller's stack. */
  pthread_mutex_lock(&w->mu);
  if (w->posted == p) w->posted = NULL;
  while (w->cur == p) pthread_cond_wait(&w->idle, &w->mu);
  pthread_mutex_unlock(&w->mu);
  p->w = NULL;
}

void evs_worker_stop(evs_store *s) {
  evs_worker *w = s->worker;
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->th, NULL);
  pthread_cond_destroy(&w->idle);
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->mu);
  free(w);
  s->worker = NULL;
}
