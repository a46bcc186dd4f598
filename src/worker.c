/*
** worker.c: the store's helper thread, which lends the caller of a batch a
** second core for the batch's long tasks (validating and compressing the
** large payloads) while the caller prepares the rest and encodes. One
** worker per store, started on first use, stopped at close; none when the
** process may run on one CPU only. It serves one batch at a time: a
** caller that finds it busy works alone, so concurrent appenders never
** wait for each other here.
**
** Tasks are claimed one at a time with a compare-and-swap on their state,
** so whichever thread gets to a task first runs it, and the caller waits
** only for a task the worker has already started: a worker that is slow to
** wake, or preempted between tasks, costs the caller nothing. The states
** are the worker's memory, not the caller's, so a caller can return as
** soon as every task is done, even if the worker has not yet noticed.
*/
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"
#include "worker.h"

/* How long the caller spins for a task the worker is on before it sleeps.
** Waking a sleeping thread costs tens of microseconds on a VM, as much as
** a task. */
#define SPIN_NS 200000

/* One batch in PROBE goes the way the averages say is slower, to keep
** both averages current. */
#define PROBE 16

enum { TASK_FREE, TASK_CLAIMED, TASK_DONE };

struct evs_worker {
  pthread_mutex_t mu;
  pthread_cond_t wake; /* worker: a share was posted, or stop */
  pthread_cond_t idle; /* caller: a task is done */
  pthread_t th;
  evs_share *owner;  /* the share the task states belong to, until its
                     ** caller finishes */
  evs_share *posted; /* waiting for the worker to take it */
  int busy;          /* the worker is inside a share's tasks */
  int stop;
  int sleeping;      /* atomic: the caller sleeps on idle */
  uint8_t *state;    /* the tasks of the share being served */
  size_t cap;
  /* Whether sharing pays here and now: when the other CPU is busy with
  ** other work, the worker gets to its tasks late or is preempted in the
  ** middle of one, and the caller waits. So batches are timed, as moving
  ** averages of ns per byte alone ([0]) and shared ([1]). */
  double cost[2];
  unsigned nbatch;
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
  CPU_CLR((size_t)cpu, &m);
  if (CPU_COUNT(&m) && !pthread_setaffinity_np(pthread_self(), sizeof m, &m))
    pthread_setaffinity_np(pthread_self(), sizeof w->mask, &w->mask);
#else
  (void)w, (void)cpu;
#endif
}

static int claim(uint8_t *st) {
  uint8_t want = TASK_FREE;
  if (__atomic_load_n(st, __ATOMIC_RELAXED) != TASK_FREE) return 0;
  return __atomic_compare_exchange_n(st, &want, TASK_CLAIMED, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}

/* The worker's side: every task it can claim, in order. fn, ctx and m are
** copies: the caller's evs_share may be gone once the tasks are done. */
static void serve(evs_worker *w, evs_task_fn fn, void *ctx, size_t m) {
  for (size_t k = 0; k < m; k++) {
    if (!claim(&w->state[k])) continue;
    fn(ctx, k);
    /* Sequentially consistent with the caller's announcement that it
    ** sleeps (evs_share_wait): one of the two sees the other's store. */
    __atomic_store_n(&w->state[k], TASK_DONE, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&w->sleeping, __ATOMIC_SEQ_CST)) {
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
    evs_share *sh = w->posted;
    evs_task_fn fn = sh->fn;
    void *ctx = sh->ctx;
    size_t m = sh->m;
    int cpu = sh->cpu;
    w->posted = NULL;
    w->busy = 1;
    pthread_mutex_unlock(&w->mu);
    leave_cpu(w, cpu);
    serve(w, fn, ctx, m);
    pthread_mutex_lock(&w->mu);
    w->busy = 0;
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

void evs_share_start(evs_store *s, evs_share *sh) {
  sh->w = sh->timed = NULL;
  sh->state = NULL;
  if (!sh->m) return;
  pthread_mutex_lock(&s->poolmu);
  int fresh = !s->worker && !s->worker_off;
  if (fresh) s->worker_off = !(s->worker = worker_start());
  evs_worker *w = s->worker;
  pthread_mutex_unlock(&s->poolmu);
  if (!w) return;
  sh->cpu = this_cpu();
  sh->t0 = mono_ns();
  pthread_mutex_lock(&w->mu);
  /* While the worker serves another batch this one goes alone, untimed:
  ** it says nothing about sharing. The task states are reset only when
  ** neither the last share's caller nor the worker can still read them
  ** (the worker may still be looking for tasks after its caller left). */
  if (!w->owner && !w->busy && !evs_grow((void **)&w->state, &w->cap, sh->m, 1)) {
    int arm = w->cost[1] == 0 ? 1 : w->cost[0] == 0 ? 0 : w->cost[1] <= w->cost[0];
    if (++w->nbatch % PROBE == 0) arm = !arm;
    sh->arm = arm;
    sh->timed = fresh ? NULL : w; /* starting the thread is not sharing */
    if (arm) {
      memset(w->state, TASK_FREE, sh->m);
      w->owner = w->posted = sh;
      sh->w = w;
      sh->state = w->state;
      pthread_cond_signal(&w->wake);
    }
  }
  pthread_mutex_unlock(&w->mu);
}

int evs_share_run(evs_share *sh, size_t k) {
  if (sh->w && !claim(&sh->state[k])) return 0;
  sh->fn(sh->ctx, k);
  if (sh->w) __atomic_store_n(&sh->state[k], TASK_DONE, __ATOMIC_RELEASE);
  return 1;
}

int evs_share_done(const evs_share *sh, size_t k) {
  return __atomic_load_n(&sh->state[k], __ATOMIC_ACQUIRE) == TASK_DONE;
}

void evs_share_wait(evs_share *sh, size_t k) {
  if (!sh->w || evs_share_done(sh, k)) return;
  int64_t until = 0;
  for (unsigned i = 1; !evs_share_done(sh, k); i++) {
    cpu_relax();
    if (i % 64) continue;
    int64_t t = mono_ns();
    if (!until) until = t + SPIN_NS;
    else if (t > until) break;
  }
  if (evs_share_done(sh, k)) return;
  evs_worker *w = sh->w;
  pthread_mutex_lock(&w->mu);
  __atomic_store_n(&w->sleeping, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&sh->state[k], __ATOMIC_SEQ_CST) != TASK_DONE)
    pthread_cond_wait(&w->idle, &w->mu);
  __atomic_store_n(&w->sleeping, 0, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&w->mu);
}

void evs_share_finish(evs_share *sh) {
  evs_worker *w = sh->w;
  if (!w && !sh->timed) return;
  if (w)
    for (size_t k = 0; k < sh->m; k++)
      if (!evs_share_run(sh, k)) evs_share_wait(sh, k);
  double c = (double)(mono_ns() - sh->t0) / (double)(sh->bytes ? sh->bytes : 1);
  if (!w) w = sh->timed;
  /* Every task is done: take the share back if the worker never got to
  ** it. If it did, it finds nothing left and touches only its own
  ** memory. */
  pthread_mutex_lock(&w->mu);
  if (w->owner == sh) w->owner = NULL;
  if (w->posted == sh) w->posted = NULL;
  if (sh->timed) {
    /* A batch preempted for a time slice would swing the average for
    ** long: a sample counts at most twice the average. */
    double *avg = &w->cost[sh->arm];
    *avg = *avg != 0 ? *avg + (EVS_MIN(c, 2 * *avg) - *avg) / 8 : c;
  }
  pthread_mutex_unlock(&w->mu);
  sh->w = sh->timed = NULL;
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
  free(w->state);
  free(w);
  s->worker = NULL;
}
