/*
** test_api_threads.c: appends, transactions, inbox paging and idempotency from
** several threads at once; evs_errmsg per thread.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "evstore.h"
#include "testlib.h"

/* ---- threads ----------------------------------------------------------- */

typedef struct thr_arg {
  evs_store *s;
  int n;
  uint64_t *ids;
  int errors;
  atomic_int *flag;
} thr_arg;

static void *thr_append(void *p) {
  thr_arg *a = p;
  for (int i = 0; i < a->n; i++) {
    evs_append_result r;
    if (app(a->s, NULL, "thr", "t", "{\"x\":1}", &r) != 0) {
      a->errors++;
      continue;
    }
    a->ids[i] = r.id;
    if (i % 50 == 0) {
      evs_query q;
      memset(&q, 0, sizeof q);
      evs_page *pg = NULL;
      if (evs_inbox(a->s, NULL, &q, &pg) != 0) a->errors++;
      evs_page_free(pg);
      evs_stats st;
      if (evs_stats_get(a->s, &st) != 0) a->errors++;
    }
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void t_threads_concurrent_appends(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { NT = 4, PER = 300 };
  pthread_t th[NT];
  thr_arg args[NT];
  uint64_t *all = calloc(NT * PER, sizeof *all);
  for (int i = 0; i < NT; i++) {
    args[i].s = s;
    args[i].n = PER;
    args[i].ids = all + i * PER;
    args[i].errors = 0;
    args[i].flag = NULL;
    pthread_create(&th[i], NULL, thr_append, &args[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  int errors = 0;
  for (int i = 0; i < NT; i++) errors += args[i].errors;
  CHECK_EQ(errors, 0);
  qsort(all, NT * PER, sizeof *all, cmp_u64);
  int bad = 0;
  for (int i = 0; i < NT * PER; i++)
    if (all[i] != (uint64_t)i + 1) bad++;
  CHECK_EQ(bad, 0);
  /* Each thread's own ids are increasing. */
  for (int t = 0; t < NT; t++)
    for (int i = 1; i < PER; i++)
      if (args[t].ids[i] <= args[t].ids[i - 1]) {
        CHECK(args[t].ids[i] > args[t].ids[i - 1]);
        break;
      }
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, NT * PER);
  CHECK_EQ(st.next_id, NT * PER + 1);
  free(all);
  evs_store_close(s);
}

typedef struct txn_thr {
  evs_store *s;
  atomic_int stage;
  int rc_get, rc_begin, rc_app, rc_commit;
  uint64_t id;
} txn_thr;

static void *thr_reader(void *p) {
  txn_thr *a = p;
  evs_event *e = NULL;
  a->rc_get = evs_get(a->s, NULL, 2, &e);
  evs_event_free(e);
  return NULL;
}

static void *thr_writer(void *p) {
  txn_thr *a = p;
  evs_txn *t = NULL;
  atomic_store(&a->stage, 1);
  a->rc_begin = evs_txn_begin(a->s, &t);
  atomic_store(&a->stage, 2);
  if (a->rc_begin == 0) {
    evs_append_result r;
    memset(&r, 0, sizeof r);
    a->rc_app = app(a->s, t, "other", "thread", "{}", &r);
    a->id = r.id;
    a->rc_commit = evs_txn_commit(t);
  }
  return NULL;
}

static void t_txn_threads(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  CHECK_EQ(app(s, t, "s", "t", "{}", NULL), 0); /* id 2, uncommitted */
  /* A reader in another thread is not blocked and does not see it. */
  txn_thr a;
  memset(&a, 0, sizeof a);
  a.s = s;
  atomic_init(&a.stage, 0);
  a.rc_get = 12345;
  pthread_t th;
  pthread_create(&th, NULL, thr_reader, &a);
  pthread_join(th, NULL);
  CHECK_EQ(a.rc_get, EVS_ENOTFOUND);
  /* A writer in another thread waits for the transaction. */
  pthread_create(&th, NULL, thr_writer, &a);
  while (atomic_load(&a.stage) < 1) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  struct timespec ts = {0, 100000000}; /* 100 ms */
  nanosleep(&ts, NULL);
  CHECK_EQ(atomic_load(&a.stage), 1); /* still waiting */
  CHECK_EQ(evs_txn_commit(t), 0);
  pthread_join(th, NULL);
  CHECK_EQ(a.rc_begin, 0);
  CHECK_EQ(a.rc_app, 0);
  CHECK_EQ(a.rc_commit, 0);
  CHECK_EQ(a.id, 3);
  /* Now the reader sees id 2. */
  a.rc_get = 12345;
  pthread_create(&th, NULL, thr_reader, &a);
  pthread_join(th, NULL);
  CHECK_EQ(a.rc_get, 0);
  evs_store_close(s);
}


/* Readers see a transaction's writes all at once. */
typedef struct vis_arg {
  evs_store *s;
  atomic_int done;
  int torn;
  atomic_int reads;
} vis_arg;

static void *thr_vis_reader(void *p) {
  vis_arg *a = p;
  while (!atomic_load(&a->done)) {
    evs_stats st;
    if (evs_stats_get(a->s, &st) != 0) continue;
    if (st.pending % 10 != 0 || (st.next_id - 1) % 10 != 0 ||
        st.acknowledged % 10 != 0)
      a->torn++;
    uint64_t hi = st.next_id - 1;
    if (hi >= 10) {
      /* The last event of a committed batch exists: so does its first. */
      evs_event *e = NULL;
      if (evs_get(a->s, NULL, hi - 9, &e) != 0) a->torn++;
      evs_event_free(e);
    }
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 100;
    q.created_after_us = 0;
    evs_page *pg = NULL;
    if (evs_inbox(a->s, NULL, &q, &pg) == 0) {
      size_t n = evs_page_count(pg);
      if (n < 100 && n % 10 != 0) a->torn++;
      /* Acks go oldest first in tens: the first pending id is 10k+1. */
      if (n && evs_page_event(pg, 0)->id % 10 != 1) a->torn++;
    }
    evs_page_free(pg);
    atomic_fetch_add(&a->reads, 1);
  }
  return NULL;
}

static void t_threads_atomic_visibility(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  vis_arg a;
  memset(&a, 0, sizeof a);
  a.s = s;
  atomic_init(&a.done, 0);
  atomic_init(&a.reads, 0);
  pthread_t th;
  pthread_create(&th, NULL, thr_vis_reader, &a);
  int bad = 0, rounds = 0;
  uint64_t acked_upto = 0;
  for (int round = 0; round < 300 || (atomic_load(&a.reads) < 200 && round < 20000);
       round++) {
    rounds++;
    if (round % 3 == 2) {
      /* Ack the 10 oldest pending events in one transaction. */
      uint64_t ids[10];
      int rcs[10];
      for (int i = 0; i < 10; i++) ids[i] = ++acked_upto;
      if (evs_ack_batch(s, NULL, ids, 10, rcs) != 0) bad++;
      for (int i = 0; i < 10; i++)
        if (rcs[i] != 0) bad++;
      rounds--;
      continue;
    }
    if (round % 2) {
      evs_event_in ev[10];
      evs_append_result res[10];
      for (int i = 0; i < 10; i++) ev[i] = ev_make("v", "t", "{\"b\":1}");
      if (evs_append_batch(s, NULL, ev, 10, res) != 0) bad++;
    } else {
      evs_txn *t = NULL;
      if (evs_txn_begin(s, &t) != 0) {
        bad++;
        continue;
      }
      for (int i = 0; i < 10; i++)
        if (app(s, t, "v", "t", "{\"t\":1}", NULL) != 0) bad++;
      if (evs_txn_commit(t) != 0) bad++;
    }
  }
  /* Under valgrind (one thread runs at a time) the reader may not have
  ** been scheduled yet: give it up to 10 s to read the final state at
  ** least once, so the check below means something. */
  for (int k = 0; k < 1000 && atomic_load(&a.reads) == 0; k++) {
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  atomic_store(&a.done, 1);
  pthread_join(th, NULL);
  CHECK_EQ(bad, 0);
  CHECK_EQ(a.torn, 0);
  CHECK(atomic_load(&a.reads) > 0);
  CHECK_EQ(stats(s).pending, (uint64_t)rounds * 10 - acked_upto);
  CHECK_EQ(stats(s).acknowledged, acked_upto);
  evs_store_close(s);
}

/* Paging with a cursor while other threads append: nothing skipped or
** repeated, in id order. */
typedef struct pager_arg {
  evs_store *s;
  atomic_int writers_done;
  uint64_t *seen;
  long nseen, cap;
  int errors;
} pager_arg;

static void *thr_pager(void *p) {
  pager_arg *a = p;
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 7;
  evs_page *pg = NULL;
  char *cur = NULL;
  for (;;) {
    int done = atomic_load(&a->writers_done);
    q.cursor = cur;
    if (evs_inbox(a->s, NULL, &q, &pg) != 0) {
      a->errors++;
      break;
    }
    for (size_t i = 0; i < evs_page_count(pg); i++)
      if (a->nseen < a->cap) a->seen[a->nseen++] = evs_page_event(pg, i)->id;
    free(cur);
    cur = strdup(evs_page_cursor(pg));
    if (done && !evs_page_more(pg) && evs_page_count(pg) == 0) break;
  }
  free(cur);
  evs_page_free(pg);
  return NULL;
}

static void *thr_writer_n(void *p) {
  thr_arg *a = p;
  for (int i = 0; i < a->n; i++)
    if (app(a->s, NULL, "w", "t", "{\"w\":1}", NULL) != 0) a->errors++;
  return NULL;
}

static void run_paging_with_writers(evs_store *s, int nwriters, int per) {
  pager_arg pa;
  memset(&pa, 0, sizeof pa);
  pa.s = s;
  atomic_init(&pa.writers_done, 0);
  pa.cap = (long)nwriters * per + 10;
  pa.seen = calloc((size_t)pa.cap, sizeof *pa.seen);
  pthread_t pt, wt[8];
  thr_arg wa[8];
  pthread_create(&pt, NULL, thr_pager, &pa);
  for (int i = 0; i < nwriters; i++) {
    memset(&wa[i], 0, sizeof wa[i]);
    wa[i].s = s;
    wa[i].n = per;
    pthread_create(&wt[i], NULL, thr_writer_n, &wa[i]);
  }
  int errors = 0;
  for (int i = 0; i < nwriters; i++) {
    pthread_join(wt[i], NULL);
    errors += wa[i].errors;
  }
  atomic_store(&pa.writers_done, 1);
  pthread_join(pt, NULL);
  CHECK_EQ(errors, 0);
  CHECK_EQ(pa.errors, 0);
  CHECK_EQ(pa.nseen, (long)nwriters * per);
  for (long i = 0; i < pa.nseen; i++)
    if (pa.seen[i] != (uint64_t)i + 1) {
      fprintf(stderr, "  seen[%ld] = %" PRIu64 "\n", i, pa.seen[i]);
      CHECK_EQ(pa.seen[i], i + 1);
      break;
    }
  free(pa.seen);
}

static void t_threads_paging_with_writers(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  run_paging_with_writers(s, 4, 500);
  evs_store_close(s);
}

/* Several threads append the same keys at once: each key is stored once and
** every thread gets the same id for it. */
typedef struct key_arg {
  evs_store *s;
  int start;
  uint64_t ids[200];
  int dups, errors;
} key_arg;

static void *thr_keys(void *p) {
  key_arg *a = p;
  for (int j = 0; j < 200; j++) {
    int i = (j + a->start) % 200;
    char key[16];
    snprintf(key, sizeof key, "race-%d", i);
    evs_append_result r;
    if (app_key(a->s, NULL, key, &r) != 0) {
      a->errors++;
      continue;
    }
    a->ids[i] = r.id;
    a->dups += r.duplicate;
  }
  return NULL;
}

static void t_threads_idempotency_race(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { NT = 4 };
  key_arg *a = calloc(NT, sizeof *a);
  pthread_t th[NT];
  for (int i = 0; i < NT; i++) {
    a[i].s = s;
    a[i].start = i * 37;
    pthread_create(&th[i], NULL, thr_keys, &a[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  int dups = 0, errors = 0, mismatch = 0;
  for (int i = 0; i < NT; i++) {
    dups += a[i].dups;
    errors += a[i].errors;
    for (int k = 0; k < 200; k++)
      if (a[i].ids[k] != a[0].ids[k]) mismatch++;
  }
  CHECK_EQ(errors, 0);
  CHECK_EQ(dups, (NT - 1) * 200);
  CHECK_EQ(mismatch, 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 200);
  CHECK_EQ(st.next_id, 201);
  free(a);
  evs_store_close(s);
}

static void *thr_fail_call(void *p) {
  evs_store *s = p;
  /* A failure in this thread does not change the main thread's message. */
  app(s, NULL, "s", "t", "[not an object]", NULL);
  return NULL;
}

static void t_errmsg_per_thread(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "", "t", "{}", NULL), EVS_EINVAL);
  char saved[512];
  snprintf(saved, sizeof saved, "%s", evs_errmsg(s));
  CHECK_CONTAINS(saved, "source");
  pthread_t th;
  pthread_create(&th, NULL, thr_fail_call, s);
  pthread_join(th, NULL);
  CHECK_STR(evs_errmsg(s), saved);
  /* The message is for that store: another store does not show it. */
  evs_store *s2 = open_mem(NULL);
  REQUIRE(s2);
  CHECK(strstr(evs_errmsg(s2), "source") == NULL);
  CHECK(evs_errmsg(s2) != NULL);
  evs_store_close(s2);
  evs_store_close(s);
}

int main(void) {
  RUN(t_threads_concurrent_appends);
  RUN(t_txn_threads);
  RUN(t_threads_atomic_visibility);
  RUN(t_threads_paging_with_writers);
  RUN(t_threads_idempotency_race);
  RUN(t_errmsg_per_thread);
  return TEST_EXIT();
}
