/*
** test_threads.c: multi-threaded invariant tests of the public API.
**
**  t_isolation          a reader never sees an open transaction's writes; a
**                       writer waits for the transaction to finish;
**                       evs_txn_begin_timeout gives up while it is held
**  t_ack_race           several threads ack the same ids: one winner each
**  t_idempotency_race   several threads append the same keys: one event each
**  t_mixed              appenders (single + batch), ackers, a deleter, inbox
**                       readers walking with cursors and a thread running
**                       transactions (committed ones checked for atomic
**                       visibility, rolled-back ones, also to a savepoint,
**                       must never be seen; readers also walk every event
**                       newest first);
**                       then everything is checked, also after reopen;
**                       evs_verify runs alongside and must find nothing
**  t_walk_no_skip       readers walk with cursors while appenders append:
**                       no id skipped or repeated, per source too
**  t_group_commit_full  8 threads appending with EVS_SYNC_FULL, then reopen:
**                       every event exactly once with its payload
**  t_batch_worker       threads appending batches that use the store's
**                       worker thread (large payloads, explicit transactions,
**                       failing items): every event there with its payload
**  t_crash_kill         a child process appends from 4 threads and is
**                       killed; every append it saw succeed is there after
**                       reopen, batches are all-or-nothing
**  t_close_during_maintenance  closes while the background checkpoint
**                       holds and releases the writer: no race, no loss
*/
#include "evstore.h"
#include "testlib.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

/* Thread-safe checks: counted here, added to the test's count at the end. */
static atomic_int g_fail;
static pthread_mutex_t g_printmu = PTHREAD_MUTEX_INITIALIZER;

static void tfail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tfail(const char *file, int line, const char *fmt, ...) {
  int n = atomic_fetch_add(&g_fail, 1);
  if (n >= 30) return; /* enough said */
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&g_printmu);
  fprintf(stderr, "  %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  pthread_mutex_unlock(&g_printmu);
  va_end(ap);
}
#define TCHECK(c)                                                          \
  do {                                                                     \
    if (!(c)) tfail(__FILE__, __LINE__, "CHECK(%s) failed", #c);           \
  } while (0)
#define TCHECK_EQ(a, b)                                                    \
  do {                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                    \
    if (a_ != b_)                                                          \
      tfail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, \
            #b, b_);                                                       \
  } while (0)
#define TFAIL(...) tfail(__FILE__, __LINE__, __VA_ARGS__)

static void collect_failures(void) {
  int n = atomic_exchange(&g_fail, 0);
  t_failed_checks += n;
}

/* per-thread random numbers */
static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint32_t rn(uint64_t *s, uint32_t n) {
  return n ? (uint32_t)(rnd(s) % n) : 0;
}

static evs_options base_opts(int sync) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = sync;
  o.retention_us = -1;
  return o;
}

/* Walk the whole inbox (optional source filter); calls fn for each event.
** Checks ids strictly increase. Returns the number of events or -1. */
static long walk_all(evs_store *s, evs_txn *txn, const char *source,
                     void (*fn)(const evs_event *, void *), void *arg) {
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = EVS_PAGE_MAX;
  q.source = source;
  evs_page *p = NULL;
  char *cur = NULL;
  long n = 0;
  uint64_t last = 0;
  for (int guard = 0; guard < 100000; guard++) {
    q.cursor = cur;
    int rc = evs_inbox(s, txn, &q, &p);
    if (rc != 0) {
      TFAIL("inbox rc %d: %s", rc, evs_errmsg(s));
      n = -1;
      break;
    }
    size_t c = evs_page_count(p);
    for (size_t i = 0; i < c; i++) {
      const evs_event *e = evs_page_event(p, i);
      if (e->id <= last)
        TFAIL("walk: id %" PRIu64 " after %" PRIu64, e->id, last);
      last = e->id;
      if (fn) fn(e, arg);
      n++;
    }
    free(cur);
    cur = strdup(evs_page_cursor(p));
    if (!evs_page_more(p)) break;
  }
  free(cur);
  if (p) evs_page_free(p);
  return n;
}

/* ---- t_isolation --------------------------------------------------------- */
typedef struct {
  evs_store *s;
  sem_t go, done, committed;
  uint64_t txn_id;
  atomic_int b_finished;
  uint64_t b_id;
} iso_ctx;

static void *iso_reader(void *arg) {
  iso_ctx *c = arg;
  sem_wait(&c->go);
  /* the txn holds an uncommitted event */
  evs_event *e = NULL;
  int rc = evs_get(c->s, NULL, c->txn_id, &e);
  TCHECK_EQ(rc, EVS_ENOTFOUND);
  if (rc == 0) evs_event_free(e);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.source = "iso";
  evs_page *p = NULL;
  rc = evs_inbox(c->s, NULL, &q, &p);
  TCHECK_EQ(rc, 0);
  if (p) {
    TCHECK_EQ(evs_page_count(p), 0);
    evs_page_free(p);
  }
  /* begin with a timeout gives up while the other thread holds it */
  evs_txn *t2 = NULL;
  TCHECK_EQ(evs_txn_begin_timeout(c->s, 0, &t2), EVS_EBUSY);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  TCHECK_EQ(evs_txn_begin_timeout(c->s, 30, &t2), EVS_EBUSY);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 +
                   (t1.tv_nsec - t0.tv_nsec) / 1000000;
  TCHECK(waited_ms >= 25);
  sem_post(&c->done);
  sem_wait(&c->committed);
  /* free now: the timeout variant gets it */
  t2 = NULL;
  TCHECK_EQ(evs_txn_begin_timeout(c->s, 5000, &t2), 0);
  if (t2) TCHECK_EQ(evs_txn_rollback(t2), 0);
  e = NULL;
  rc = evs_get(c->s, NULL, c->txn_id, &e);
  TCHECK_EQ(rc, 0);
  if (rc == 0) {
    TCHECK(strcmp(e->source, "iso") == 0);
    evs_event_free(e);
  }
  return NULL;
}

static void *iso_writer(void *arg) {
  iso_ctx *c = arg;
  sem_wait(&c->go);
  evs_event_in in = ev_in("writer", "t", "{\"w\":1}", NULL);
  evs_append_result r;
  int rc = evs_append(c->s, NULL, &in, &r); /* waits for the txn */
  TCHECK_EQ(rc, 0);
  c->b_id = r.id;
  atomic_store(&c->b_finished, 1);
  return NULL;
}

static void t_isolation(void) {
  iso_ctx c;
  memset(&c, 0, sizeof c);
  evs_options o = base_opts(EVS_SYNC_OFF);
  char *dir = t_tmpdir();
  REQUIRE(evs_store_open(dir, &o, &c.s) == 0);
  evs_event_in in = ev_in("other", "t", "{\"o\":1}", NULL);
  CHECK_EQ(evs_append(c.s, NULL, &in, NULL), 0);
  sem_init(&c.go, 0, 0);
  sem_init(&c.done, 0, 0);
  sem_init(&c.committed, 0, 0);
  pthread_t rt, wt;
  pthread_create(&rt, NULL, iso_reader, &c);
  pthread_create(&wt, NULL, iso_writer, &c);

  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(c.s, &t), 0);
  evs_event_in ti = ev_in("iso", "t", "{\"iso\":1}", NULL);
  evs_append_result r;
  CHECK_EQ(evs_append(c.s, t, &ti, &r), 0);
  c.txn_id = r.id;
  CHECK_EQ(r.id, 2);
  /* own writes are visible inside */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(c.s, t, r.id, &e), 0);
  if (e) evs_event_free(e);
  sem_post(&c.go);
  sem_post(&c.go);
  sem_wait(&c.done);
  /* the writer must still be waiting for the transaction */
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  CHECK_EQ(atomic_load(&c.b_finished), 0);
  CHECK_EQ(evs_append(c.s, t, &ti, &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(evs_txn_commit(t), 0);
  sem_post(&c.committed);
  pthread_join(rt, NULL);
  pthread_join(wt, NULL);
  collect_failures();
  CHECK_EQ(atomic_load(&c.b_finished), 1);
  CHECK_EQ(c.b_id, 4);
  evs_stats st;
  CHECK_EQ(evs_stats_get(c.s, &st), 0);
  CHECK_EQ(st.pending, 4);
  CHECK_EQ(st.next_id, 5);
  CHECK_EQ(evs_store_close(c.s), 0);
  sem_destroy(&c.go);
  sem_destroy(&c.done);
  sem_destroy(&c.committed);
  t_rmdir(dir);
}

/* ---- t_ack_race ------------------------------------------------------------ */
#define AR_N 600
#define AR_T 4
typedef struct {
  evs_store *s;
  int t;
  atomic_int *wins;
  pthread_barrier_t *bar;
} ar_arg;

static void *ack_racer(void *arg) {
  ar_arg *a = arg;
  uint64_t rs = 77 + (uint64_t)a->t;
  pthread_barrier_wait(a->bar);
  for (uint64_t id = 1; id <= AR_N;) {
    if (a->t % 2 == 0) {
      int64_t at = 0;
      int rc = evs_ack(a->s, NULL, id, &at);
      if (rc == 0) {
        atomic_fetch_add(&a->wins[id], 1);
        TCHECK(at > 0);
      } else if (rc != EVS_ECONFLICT) {
        TFAIL("ack %" PRIu64 ": rc %d", id, rc);
      }
      id++;
    } else {
      uint64_t ids[8];
      int rcs[8];
      size_t n = 1 + rn(&rs, 8);
      for (size_t i = 0; i < n; i++) ids[i] = id + i <= AR_N ? id + i : id;
      int rc = evs_ack_batch(a->s, NULL, ids, n, rcs);
      TCHECK_EQ(rc, 0);
      if (rc == 0)
        for (size_t i = 0; i < n; i++) {
          if (rcs[i] == 0)
            atomic_fetch_add(&a->wins[ids[i]], 1);
          else if (rcs[i] != EVS_ECONFLICT)
            TFAIL("ack_batch %" PRIu64 ": rc %d", ids[i], rcs[i]);
        }
      id += n;
    }
  }
  return NULL;
}

static void t_ack_race(void) {
  evs_options o = base_opts(EVS_SYNC_OFF);
  evs_store *s = NULL;
  REQUIRE(evs_store_open(NULL, &o, &s) == 0);
  evs_event_in in = ev_in("a", "t", "{\"x\":1}", NULL);
  for (int i = 0; i < AR_N; i++) CHECK_EQ(evs_append(s, NULL, &in, NULL), 0);
  static atomic_int wins[AR_N + 1];
  for (int i = 0; i <= AR_N; i++) atomic_init(&wins[i], 0);
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, AR_T);
  pthread_t th[AR_T];
  ar_arg args[AR_T];
  for (int i = 0; i < AR_T; i++) {
    args[i] = (ar_arg){s, i, wins, &bar};
    pthread_create(&th[i], NULL, ack_racer, &args[i]);
  }
  for (int i = 0; i < AR_T; i++) pthread_join(th[i], NULL);
  collect_failures();
  int bad = 0;
  for (int i = 1; i <= AR_N; i++)
    if (atomic_load(&wins[i]) != 1) {
      if (bad++ < 5)
        fprintf(stderr, "  id %d acknowledged %d times\n", i,
                atomic_load(&wins[i]));
    }
  CHECK_EQ(bad, 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.acknowledged, AR_N);
  pthread_barrier_destroy(&bar);
  CHECK_EQ(evs_store_close(s), 0);
}

/* ---- t_idempotency_race ---------------------------------------------------- */
#define IR_KEYS 300
#define IR_T 4
typedef struct {
  evs_store *s;
  int t;
  uint64_t ids[IR_KEYS];
  int dup[IR_KEYS];
  pthread_barrier_t *bar;
} ir_arg;

static void *idem_racer(void *arg) {
  ir_arg *a = arg;
  uint64_t rs = 1000 + (uint64_t)a->t;
  int order[IR_KEYS];
  for (int i = 0; i < IR_KEYS; i++) order[i] = i;
  for (int i = IR_KEYS - 1; i > 0; i--) { /* mostly forward, some shuffle */
    if (rn(&rs, 4)) continue;
    int j = (int)rn(&rs, (uint32_t)i + 1), x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  pthread_barrier_wait(a->bar);
  for (int k = 0; k < IR_KEYS;) {
    int n = a->t >= 2 ? 1 + (int)rn(&rs, 6) : 1;
    if (k + n > IR_KEYS) n = IR_KEYS - k;
    evs_event_in in[6];
    char keys[6][32], pay[6][64];
    for (int i = 0; i < n; i++) {
      int key = order[k + i];
      snprintf(keys[i], sizeof keys[i], "idem-%d", key);
      snprintf(pay[i], sizeof pay[i], "{\"key\":%d,\"by\":%d}", key, a->t);
      in[i] = ev_in("idem", "t", pay[i], keys[i]);
    }
    evs_append_result r[6];
    int rc = n == 1 ? evs_append(a->s, NULL, &in[0], &r[0])
                    : evs_append_batch(a->s, NULL, in, (size_t)n, r);
    TCHECK_EQ(rc, 0);
    for (int i = 0; i < n && rc == 0; i++) {
      if (n > 1) TCHECK_EQ(r[i].rc, 0);
      a->ids[order[k + i]] = r[i].id;
      a->dup[order[k + i]] = r[i].duplicate;
    }
    k += n;
  }
  return NULL;
}

static void t_idempotency_race(void) {
  evs_options o = base_opts(EVS_SYNC_OFF);
  o.idempotency_window_us = -1;
  char *dir = t_tmpdir();
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, IR_T);
  static ir_arg args[IR_T];
  pthread_t th[IR_T];
  for (int i = 0; i < IR_T; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].s = s;
    args[i].t = i;
    args[i].bar = &bar;
    pthread_create(&th[i], NULL, idem_racer, &args[i]);
  }
  for (int i = 0; i < IR_T; i++) pthread_join(th[i], NULL);
  collect_failures();
  int bad = 0;
  for (int k = 0; k < IR_KEYS; k++) {
    int news = 0;
    for (int t = 0; t < IR_T; t++) {
      news += !args[t].dup[k];
      if (args[t].ids[k] != args[0].ids[k]) bad++;
    }
    if (news != 1) {
      if (bad < 5)
        fprintf(stderr, "  key idem-%d stored %d times\n", k, news);
      bad++;
    }
    /* the stored event is the key's */
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, args[0].ids[k], &e);
    CHECK_EQ(rc, 0);
    if (rc == 0) {
      char want[32];
      snprintf(want, sizeof want, "idem-%d", k);
      CHECK_STR(e->idempotency_key, want);
      int kk = -1;
      sscanf(e->payload, "{\"key\":%d", &kk);
      CHECK_EQ(kk, k);
      evs_event_free(e);
    }
  }
  CHECK_EQ(bad, 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  CHECK_EQ(st.pending, IR_KEYS);
  CHECK_EQ(st.next_id, IR_KEYS + 1);
  CHECK_EQ(evs_store_close(s), 0);
  pthread_barrier_destroy(&bar);
  t_rmdir(dir);
}

/* ---- t_mixed -------------------------------------------------------------- */
#define MX_APP 4
#define MX_PER 3000
#define MX_TXN 300
#define MX_MAXID 65536

enum { K_NONE = 0, K_APP, K_TXN };

static struct {
  evs_store *s;
  atomic_int writers_done;
  atomic_uint_fast64_t appended; /* distinct new events, appenders + txns */
  /* per id */
  atomic_int kind[MX_MAXID];     /* K_APP / K_TXN once known */
  atomic_int ack_ok[MX_MAXID];   /* successful acks */
  atomic_int del_intent[MX_MAXID];
  atomic_int del_ok[MX_MAXID];   /* deletes that found it */
  uint64_t app_ids[MX_APP][MX_PER];
  /* committed txns */
  uint64_t txn_first[MX_TXN];
  int txn_n[MX_TXN];
  int txn_acked_first[MX_TXN];
  int ntxn_committed;
  atomic_long pages_read, events_seen, walks_done, acks_conflict;
} MX;

/* The payload of appender t's i-th event (pad derived from t, i). */
static size_t app_payload(int t, int i, char *buf, size_t cap) {
  uint64_t rs = ((uint64_t)t << 32) ^ (uint64_t)i ^ 0xABCDEF;
  uint32_t padlen = rn(&rs, 10) == 0 ? 1500 + rn(&rs, 1500) : rn(&rs, 200);
  if (padlen + 64 > cap) padlen = (uint32_t)cap - 64;
  int n = snprintf(buf, cap, "{\"t\":%d,\"i\":%d,\"pad\":\"", t, i);
  size_t len = (size_t)n;
  char c = (char)('a' + rn(&rs, 26));
  for (uint32_t k = 0; k < padlen; k++)
    buf[len++] = (k % 7 == 0) ? (char)('a' + rn(&rs, 26)) : c;
  buf[len++] = '"';
  buf[len++] = '}';
  buf[len] = 0;
  return len;
}

static const char *APP_SRC[MX_APP] = {"app0", "app1", "app2", "app3"};

/* Check an event read by anyone: a known, well-formed event. */
static void check_seen(const evs_event *e, evs_store *s) {
  if (strcmp(e->source, "rolledback") == 0) {
    TFAIL("saw event %" PRIu64 " of a rolled-back transaction", e->id);
    return;
  }
  if (e->source_len != strlen(e->source) ||
      e->payload_len != strlen(e->payload)) {
    TFAIL("event %" PRIu64 ": lengths do not match the strings", e->id);
    return;
  }
  if (strncmp(e->source, "app", 3) == 0) {
    int t = -1, i = -1;
    if (sscanf(e->payload, "{\"t\":%d,\"i\":%d", &t, &i) != 2 || t < 0 ||
        t >= MX_APP || i < 0 || i >= MX_PER) {
      TFAIL("event %" PRIu64 ": bad payload %.60s", e->id, e->payload);
      return;
    }
    char want[4096];
    app_payload(t, i, want, sizeof want);
    if (strcmp(want, e->payload) != 0 || strcmp(e->source, APP_SRC[t]) != 0)
      TFAIL("event %" PRIu64 ": payload/source mismatch %s %.60s", e->id,
            e->source, e->payload);
  } else if (strcmp(e->source, "txn") == 0) {
    int x = -1, j = -1, n = -1;
    if (sscanf(e->payload, "{\"txn\":%d,\"j\":%d,\"n\":%d}", &x, &j, &n) !=
            3 ||
        j < 0 || j >= n) {
      TFAIL("event %" PRIu64 ": bad txn payload %.60s", e->id, e->payload);
      return;
    }
    if (!s) return;
    /* atomic visibility: all n events of the transaction are there */
    uint64_t first = e->id - (uint64_t)j;
    for (int k = 0; k < n; k++) {
      evs_event *o = NULL;
      int rc = evs_get(s, NULL, first + (uint64_t)k, &o);
      if (rc != 0) {
        TFAIL("txn %d: saw event %" PRIu64 " (j=%d) but get(%" PRIu64
              ") = %d",
              x, e->id, j, first + (uint64_t)k, rc);
        return;
      }
      int x2 = -1, j2 = -1, n2 = -1;
      sscanf(o->payload, "{\"txn\":%d,\"j\":%d,\"n\":%d}", &x2, &j2, &n2);
      if (strcmp(o->source, "txn") != 0 || x2 != x || j2 != k || n2 != n)
        TFAIL("txn %d: event %" PRIu64 " is %s %.60s", x,
              first + (uint64_t)k, o->source, o->payload);
      evs_event_free(o);
    }
  } else {
    TFAIL("event %" PRIu64 ": unknown source %s", e->id, e->source);
  }
}

static void *mx_appender(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t rs = 500 + (uint64_t)t;
  int batch = t >= 2, keyed = t % 2 == 1;
  char(*pay)[4096] = malloc(16 * sizeof *pay);
  char keys[16][32];
  for (int i = 0; i < MX_PER;) {
    int n = batch ? 1 + (int)rn(&rs, 16) : 1;
    if (i + n > MX_PER) n = MX_PER - i;
    evs_event_in in[16];
    for (int k = 0; k < n; k++) {
      app_payload(t, i + k, pay[k], sizeof pay[k]);
      snprintf(keys[k], sizeof keys[k], "mx-%d-%d", t, i + k);
      in[k] = ev_in(APP_SRC[t], "e", pay[k], keyed ? keys[k] : NULL);
      in[k].priority = 1 + (int)rn(&rs, 3);
    }
    evs_append_result r[16];
    int rc = n == 1 && !rn(&rs, 2) ? evs_append(MX.s, NULL, &in[0], &r[0])
                                   : evs_append_batch(MX.s, NULL, in,
                                                      (size_t)n, r);
    if (rc != 0) {
      TFAIL("appender %d: rc %d: %s", t, rc, evs_errmsg(MX.s));
      break;
    }
    for (int k = 0; k < n; k++) {
      TCHECK_EQ(r[k].rc, 0);
      TCHECK_EQ(r[k].duplicate, 0);
      uint64_t id = r[k].id;
      if (id == 0 || id >= MX_MAXID) {
        TFAIL("appender %d: id %" PRIu64 " out of range", t, id);
        continue;
      }
      int old = atomic_exchange(&MX.kind[id], K_APP);
      if (old != K_NONE) TFAIL("id %" PRIu64 " handed out twice", id);
      MX.app_ids[t][i + k] = id;
      atomic_fetch_add(&MX.appended, 1);
    }
    i += n;
    /* keyed appenders re-send an earlier key now and then */
    if (keyed && i > 20 && rn(&rs, 5) == 0) {
      int j = (int)rn(&rs, (uint32_t)i);
      char kb[32];
      snprintf(kb, sizeof kb, "mx-%d-%d", t, j);
      evs_event_in again = ev_in(APP_SRC[t], "e", "{\"again\":1}", kb);
      evs_append_result r1;
      rc = evs_append(MX.s, NULL, &again, &r1);
      TCHECK_EQ(rc, 0);
      TCHECK_EQ(r1.duplicate, 1);
      TCHECK_EQ(r1.id, MX.app_ids[t][j]);
    }
  }
  free(pay);
  return NULL;
}

typedef struct {
  uint64_t last;
  long n;
} last_seen;
static void last_cb(const evs_event *e, void *arg) {
  last_seen *ls = arg;
  ls->last = e->id;
  ls->n++;
}

static void *mx_txner(void *arg) {
  uint64_t rs = 4242;
  int ntx = 0;
  for (int x = 0; x < MX_TXN; x++) {
    int commit = rn(&rs, 10) < 6;
    int n = 1 + (int)rn(&rs, 8);
    const char *src = commit ? "txn" : "rolledback";
    evs_txn *t = NULL;
    int rc = evs_txn_begin(MX.s, &t);
    if (rc != 0) {
      TFAIL("txn_begin rc %d", rc);
      break;
    }
    /* misuse while holding it */
    if (x % 10 == 0) {
      evs_txn *t2 = NULL;
      TCHECK_EQ(evs_txn_begin(MX.s, &t2), EVS_EDEADLK);
      evs_event_in bad = ev_in("rolledback", "t", "{}", NULL);
      TCHECK_EQ(evs_append(MX.s, NULL, &bad, NULL), EVS_EDEADLK);
    }
    uint64_t first = 0;
    int batch = rn(&rs, 2);
    evs_event_in in[8];
    char pays[8][128];
    for (int j = 0; j < n; j++) {
      snprintf(pays[j], sizeof pays[j], "{\"txn\":%d,\"j\":%d,\"n\":%d}", x,
               j, n);
      in[j] = ev_in(src, "tx", pays[j], NULL);
    }
    if (batch) {
      evs_append_result r[8];
      rc = evs_append_batch(MX.s, t, in, (size_t)n, r);
      TCHECK_EQ(rc, 0);
      first = r[0].id;
      for (int j = 0; j < n; j++) TCHECK_EQ(r[j].id, first + (uint64_t)j);
    } else {
      for (int j = 0; j < n; j++) {
        evs_append_result r;
        rc = evs_append(MX.s, t, &in[j], &r);
        TCHECK_EQ(rc, 0);
        if (j == 0) first = r.id;
        TCHECK_EQ(r.id, first + (uint64_t)j);
      }
    }
    /* read own writes; invisible without the txn */
    for (int j = 0; j < n; j++) {
      evs_event *e = NULL;
      rc = evs_get(MX.s, t, first + (uint64_t)j, &e);
      TCHECK_EQ(rc, 0);
      if (rc == 0) {
        if (strcmp(e->source, src) != 0 || strcmp(e->payload, pays[j]) != 0)
          TFAIL("txn %d: own write %d reads back as %s %s", x, j, e->source,
                e->payload);
        evs_event_free(e);
      }
      e = NULL;
      rc = evs_get(MX.s, NULL, first + (uint64_t)j, &e);
      TCHECK_EQ(rc, EVS_ENOTFOUND);
      if (rc == 0) evs_event_free(e);
    }
    /* the inbox inside the txn ends with our events */
    last_seen ls = {0, 0};
    long cnt = walk_all(MX.s, t, src, last_cb, &ls);
    TCHECK(cnt >= n);
    TCHECK_EQ(ls.last, first + (uint64_t)n - 1);
    int ack_first = commit && rn(&rs, 3) == 0;
    if (ack_first) TCHECK_EQ(evs_ack(MX.s, t, first, NULL), 0);
    if (commit && rn(&rs, 3) == 0) {
      /* more events after a savepoint, rolled back to it: never seen */
      TCHECK_EQ(evs_txn_savepoint(t, 0), 0);
      int m = 1 + (int)rn(&rs, 3);
      for (int j = 0; j < m; j++) {
        evs_event_in rb = ev_in("rolledback", "tx", "{\"sp\":1}", NULL);
        TCHECK_EQ(evs_append(MX.s, t, &rb, NULL), 0);
      }
      if (ack_first) TCHECK_EQ(evs_delete(MX.s, t, first, NULL), 0);
      TCHECK_EQ(evs_txn_rollback_to(t, 0), 0);
      TCHECK_EQ(evs_txn_release(t, 0), 0);
    }
    if (commit) {
      rc = evs_txn_commit(t);
      TCHECK_EQ(rc, 0);
      for (int j = 0; j < n; j++) {
        uint64_t id = first + (uint64_t)j;
        if (id >= MX_MAXID) continue;
        int old = atomic_exchange(&MX.kind[id], K_TXN);
        if (old != K_NONE) TFAIL("id %" PRIu64 " handed out twice", id);
      }
      if (ack_first) atomic_fetch_add(&MX.ack_ok[first], 1);
      MX.txn_first[ntx] = first;
      MX.txn_n[ntx] = n;
      MX.txn_acked_first[ntx] = ack_first;
      ntx++;
      atomic_fetch_add(&MX.appended, (uint64_t)n);
    } else {
      rc = evs_txn_rollback(t);
      TCHECK_EQ(rc, 0);
    }
    if (x % 4 == 0) sched_yield();
  }
  MX.ntxn_committed = ntx;
  return NULL;
}

static void *mx_acker(void *arg) {
  uint64_t rs = 900 + (uint64_t)(intptr_t)arg;
  evs_page *p = NULL;
  for (int round = 0; round < 200000; round++) {
    int done = atomic_load(&MX.writers_done);
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 1 + rn(&rs, 50);
    if (rn(&rs, 3) == 0) q.source = APP_SRC[rn(&rs, MX_APP)];
    int rc = evs_inbox(MX.s, NULL, &q, &p);
    if (rc != 0) {
      TFAIL("acker inbox rc %d", rc);
      break;
    }
    size_t c = evs_page_count(p);
    uint64_t ids[50];
    size_t n = 0;
    for (size_t i = 0; i < c; i++) {
      const evs_event *e = evs_page_event(p, i);
      check_seen(e, NULL);
      TCHECK_EQ(e->status, EVS_STATUS_PENDING);
      TCHECK_EQ(e->acknowledged_us, 0);
      if (rn(&rs, 3)) ids[n++] = e->id;
    }
    if (n && rn(&rs, 2)) {
      int rcs[50];
      rc = evs_ack_batch(MX.s, NULL, ids, n, rcs);
      TCHECK_EQ(rc, 0);
      for (size_t i = 0; i < n && rc == 0; i++) {
        if (rcs[i] == 0)
          atomic_fetch_add(&MX.ack_ok[ids[i]], 1);
        else if (rcs[i] == EVS_ECONFLICT)
          atomic_fetch_add(&MX.acks_conflict, 1);
        else if (rcs[i] == EVS_ENOTFOUND) {
          if (!atomic_load(&MX.del_intent[ids[i]]))
            TFAIL("ack_batch %" PRIu64 ": ENOTFOUND but never deleted",
                  ids[i]);
        } else
          TFAIL("ack_batch %" PRIu64 ": rc %d", ids[i], rcs[i]);
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        int64_t at = 0;
        rc = evs_ack(MX.s, NULL, ids[i], &at);
        if (rc == 0) {
          atomic_fetch_add(&MX.ack_ok[ids[i]], 1);
          TCHECK(at > 0);
        } else if (rc == EVS_ECONFLICT) {
          atomic_fetch_add(&MX.acks_conflict, 1);
        } else if (rc == EVS_ENOTFOUND) {
          if (!atomic_load(&MX.del_intent[ids[i]]))
            TFAIL("ack %" PRIu64 ": ENOTFOUND but never deleted", ids[i]);
        } else {
          TFAIL("ack %" PRIu64 ": rc %d", ids[i], rc);
        }
      }
    }
    /* leave some events pending at the end */
    if (done && (c == 0 || round % 50 == 49)) break;
  }
  if (p) evs_page_free(p);
  return NULL;
}

static void *mx_deleter(void *arg) {
  uint64_t rs = 31337;
  for (int round = 0; round < 2000000; round++) {
    if (atomic_load(&MX.writers_done)) break;
    evs_stats st;
    if (evs_stats_get(MX.s, &st) != 0) {
      TFAIL("stats failed");
      break;
    }
    if (st.next_id <= 1) {
      sched_yield();
      continue;
    }
    uint64_t id = 1 + rnd(&rs) % (st.next_id - 1);
    evs_event *e = NULL;
    int rc = evs_get(MX.s, NULL, id, &e);
    if (rc != 0) {
      if (rc != EVS_ENOTFOUND) TFAIL("deleter get rc %d", rc);
      continue;
    }
    check_seen(e, NULL);
    int mine = !strcmp(e->source, "app0") || !strcmp(e->source, "app2");
    evs_event_free(e);
    if (!mine || rn(&rs, 4)) continue;
    atomic_store(&MX.del_intent[id], 1);
    int ex = -1;
    rc = evs_delete(MX.s, NULL, id, &ex);
    TCHECK_EQ(rc, 0);
    if (ex == 1) atomic_fetch_add(&MX.del_ok[id], 1);
    /* a deleted event is gone */
    e = NULL;
    rc = evs_get(MX.s, NULL, id, &e);
    TCHECK_EQ(rc, EVS_ENOTFOUND);
    if (rc == 0) evs_event_free(e);
    if (round % 8 == 0) {
      struct timespec ts = {0, 200 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return NULL;
}

/* evs_verify while everything else runs: it must find no problem. */
static atomic_long mx_verifies;
static void *mx_verifier(void *arg) {
  while (!atomic_load(&MX.writers_done)) {
    evs_verify_report vr;
    memset(&vr, 0, sizeof vr);
    int rc = evs_verify(MX.s, &vr);
    if (rc != 0 || vr.problems) {
      TFAIL("concurrent evs_verify rc %d, %" PRIu64 " problems: %s", rc,
            vr.problems, evs_errmsg(MX.s));
      break;
    }
    atomic_fetch_add(&mx_verifies, 1);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void *mx_reader(void *arg) {
  uint64_t rs = 7000 + (uint64_t)(intptr_t)arg;
  evs_page *p = NULL;
  char *cur = NULL;
  int final_walk = 0;
  for (int walk = 0; walk < 100000; walk++) {
    if (atomic_load(&MX.writers_done)) final_walk = 1;
    evs_query q;
    memset(&q, 0, sizeof q);
    int f = (int)rn(&rs, 6);
    const char *src = f == 1 ? APP_SRC[rn(&rs, MX_APP)] : f == 2 ? "txn" : NULL;
    int prio = f == 3 ? 1 + (int)rn(&rs, 3) : 0;
    int any_desc = f == 5; /* every event, newest first */
    uint64_t last = any_desc ? UINT64_MAX : 0;
    free(cur);
    cur = NULL;
    for (int page = 0; page < 100000; page++) {
      memset(&q, 0, sizeof q);
      q.source = src;
      q.priority = prio;
      q.limit = 1 + rn(&rs, 100);
      q.cursor = cur;
      if (any_desc) {
        q.status = EVS_QUERY_ANY;
        q.descending = 1;
      }
      int rc = evs_inbox(MX.s, NULL, &q, &p);
      if (rc != 0) {
        TFAIL("reader inbox rc %d: %s", rc, evs_errmsg(MX.s));
        goto out;
      }
      atomic_fetch_add(&MX.pages_read, 1);
      size_t c = evs_page_count(p);
      for (size_t i = 0; i < c; i++) {
        const evs_event *e = evs_page_event(p, i);
        if (any_desc ? e->id >= last : e->id <= last)
          TFAIL("reader: id %" PRIu64 " after %" PRIu64 " in one walk", e->id,
                last);
        last = e->id;
        if (!any_desc) TCHECK_EQ(e->status, EVS_STATUS_PENDING);
        if (src) TCHECK(strcmp(e->source, src) == 0);
        if (prio) TCHECK_EQ(e->priority, prio);
        check_seen(e, rn(&rs, 4) == 0 ? MX.s : NULL);
        atomic_fetch_add(&MX.events_seen, 1);
      }
      char *nc = strdup(evs_page_cursor(p));
      free(cur);
      cur = nc;
      if (!evs_page_more(p)) break;
    }
    atomic_fetch_add(&MX.walks_done, 1);
    /* random gets */
    evs_stats st;
    if (evs_stats_get(MX.s, &st) == 0 && st.next_id > 1) {
      for (int k = 0; k < 20; k++) {
        uint64_t id = 1 + rnd(&rs) % (st.next_id - 1);
        evs_event *e = NULL;
        int rc = evs_get(MX.s, NULL, id, &e);
        if (rc == 0) {
          TCHECK_EQ(e->id, id);
          check_seen(e, MX.s);
          evs_event_free(e);
        } else if (rc != EVS_ENOTFOUND) {
          TFAIL("reader get %" PRIu64 ": rc %d", id, rc);
        }
      }
    }
    if (final_walk) break;
  }
out:
  free(cur);
  if (p) evs_page_free(p);
  return NULL;
}

typedef struct {
  unsigned char *pending; /* 1 = expected pending */
  unsigned char *seen;
  long extra;
} pend_check;

static void pend_cb(const evs_event *e, void *arg) {
  pend_check *pc = arg;
  if (e->id >= MX_MAXID || !pc->pending[e->id]) {
    if (pc->extra++ < 5)
      TFAIL("inbox has %" PRIu64 " (%s), not expected pending", e->id,
            e->source);
    return;
  }
  if (pc->seen[e->id]++) TFAIL("inbox has %" PRIu64 " twice", e->id);
  check_seen(e, NULL);
}

/* The final state against everything the threads recorded. */
static void mx_verify(const char *when) {
  evs_stats st;
  if (evs_stats_get(MX.s, &st) != 0) {
    TFAIL("%s: stats failed", when);
    return;
  }
  uint64_t total = atomic_load(&MX.appended), deleted = 0, acked = 0;
  unsigned char *pending = calloc(MX_MAXID, 1), *seen = calloc(MX_MAXID, 1);
  uint64_t npend = 0, maxid = 0;
  for (uint64_t id = 1; id < MX_MAXID; id++) {
    int k = atomic_load(&MX.kind[id]);
    int d = atomic_load(&MX.del_ok[id]), a = atomic_load(&MX.ack_ok[id]);
    if (d > 1) TFAIL("%" PRIu64 " deleted %d times", id, d);
    if (a > 1) TFAIL("%" PRIu64 " acknowledged %d times", id, a);
    if (k == K_NONE) {
      if (d || a) TFAIL("unknown id %" PRIu64 " acked/deleted", id);
      continue;
    }
    maxid = id;
    evs_event *e = NULL;
    int rc = evs_get(MX.s, NULL, id, &e);
    if (d) {
      deleted++;
      if (rc != EVS_ENOTFOUND)
        TFAIL("%s: deleted %" PRIu64 ": get rc %d", when, id, rc);
      if (rc == 0) evs_event_free(e);
      continue;
    }
    if (rc != 0) {
      TFAIL("%s: get %" PRIu64 " rc %d", when, id, rc);
      continue;
    }
    check_seen(e, MX.s);
    if (a) {
      acked++;
      TCHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
      TCHECK(e->acknowledged_us > 0);
    } else {
      TCHECK_EQ(e->status, EVS_STATUS_PENDING);
      pending[id] = 1;
      npend++;
    }
    evs_event_free(e);
  }
  /* every appender event is where its appender said */
  for (int t = 0; t < MX_APP; t++)
    for (int i = 0; i < MX_PER; i++) {
      uint64_t id = MX.app_ids[t][i];
      if (id == 0 || id >= MX_MAXID || atomic_load(&MX.del_ok[id])) continue;
      evs_event *e = NULL;
      if (evs_get(MX.s, NULL, id, &e) != 0) continue; /* reported above */
      char want[4096];
      app_payload(t, i, want, sizeof want);
      if (strcmp(e->payload, want) != 0)
        TFAIL("%s: id %" PRIu64 " has the payload of another event", when,
              id);
      evs_event_free(e);
    }
  /* ids not handed out (rolled back) are not found */
  for (uint64_t id = 1; id < st.next_id + 2 && id < MX_MAXID; id++) {
    if (atomic_load(&MX.kind[id]) != K_NONE) continue;
    evs_event *e = NULL;
    int rc = evs_get(MX.s, NULL, id, &e);
    if (rc != EVS_ENOTFOUND) TFAIL("%s: stray id %" PRIu64 " rc %d", when, id, rc);
    if (rc == 0) evs_event_free(e);
  }
  TCHECK_EQ(st.pending + st.acknowledged, total - deleted);
  TCHECK_EQ(st.pending, npend);
  TCHECK_EQ(st.acknowledged, acked);
  TCHECK(st.next_id > maxid);
  evs_verify_report vr;
  memset(&vr, 0, sizeof vr);
  int vrc = evs_verify(MX.s, &vr);
  if (vrc != 0) TFAIL("%s: evs_verify rc %d: %s", when, vrc, evs_errmsg(MX.s));
  TCHECK_EQ(vr.problems, 0);
  /* the inbox holds exactly the pending ones */
  pend_check pc = {pending, seen, 0};
  long n = walk_all(MX.s, NULL, NULL, pend_cb, &pc);
  TCHECK_EQ(n, (long)npend);
  free(pending);
  free(seen);
}

static void t_mixed(void) {
  memset(&MX, 0, sizeof MX);
  evs_options o = base_opts(EVS_SYNC_NORMAL);
  o.segment_size = 256 * 1024;
  o.auto_compact_percent = -1; /* acked events must stay readable here */
  char *dir = t_tmpdir();
  REQUIRE(evs_store_open(dir, &o, &MX.s) == 0);
  pthread_t app[MX_APP], ack[2], rd[2], del, tx, ver;
  atomic_store(&mx_verifies, 0);
  for (int i = 0; i < MX_APP; i++)
    pthread_create(&app[i], NULL, mx_appender, (void *)(intptr_t)i);
  pthread_create(&tx, NULL, mx_txner, NULL);
  for (int i = 0; i < 2; i++) {
    pthread_create(&ack[i], NULL, mx_acker, (void *)(intptr_t)i);
    pthread_create(&rd[i], NULL, mx_reader, (void *)(intptr_t)i);
  }
  pthread_create(&del, NULL, mx_deleter, NULL);
  pthread_create(&ver, NULL, mx_verifier, NULL);
  for (int i = 0; i < MX_APP; i++) pthread_join(app[i], NULL);
  pthread_join(tx, NULL);
  atomic_store(&MX.writers_done, 1);
  for (int i = 0; i < 2; i++) {
    pthread_join(ack[i], NULL);
    pthread_join(rd[i], NULL);
  }
  pthread_join(del, NULL);
  pthread_join(ver, NULL);
  /* txn events are contiguous and in order */
  for (int x = 0; x < MX.ntxn_committed; x++)
    for (int j = 0; j < MX.txn_n[x]; j++)
      TCHECK_EQ(atomic_load(&MX.kind[MX.txn_first[x] + (uint64_t)j]), K_TXN);
  mx_verify("after run");
  collect_failures();
  if (getenv("EVS_VERBOSE"))
    fprintf(stderr,
            "  mixed: %" PRIu64 " appended, %d txns committed, %ld pages, %ld "
            "events seen, %ld walks, %ld ack conflicts, %ld verifies\n",
            (uint64_t)atomic_load(&MX.appended), MX.ntxn_committed,
            atomic_load(&MX.pages_read), atomic_load(&MX.events_seen),
            atomic_load(&MX.walks_done), atomic_load(&MX.acks_conflict),
            atomic_load(&mx_verifies));
  CHECK_EQ(evs_store_close(MX.s), 0);
  MX.s = NULL;
  REQUIRE(evs_store_open(dir, &o, &MX.s) == 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(MX.s, &st), 0);
  CHECK_EQ(st.recovered_records_dropped, 0);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  mx_verify("after reopen");
  collect_failures();
  CHECK_EQ(evs_store_close(MX.s), 0);
  t_rmdir(dir);
}


/* ---- t_walk_no_skip --------------------------------------------------------- */
/* Append-only phase (no acks, deletes or rollbacks): the committed events
** are always ids 1..N, so every cursor walk must see a gap-free run of ids
** from 1, and a walk filtered on one appender's source must see that
** appender's events in sequence 0, 1, 2, ... with no gap. */
#define NS_APP 3
#define NS_PER 3000
static atomic_int ns_done;
static evs_store *ns_store;
static atomic_long ns_walks;

static void *ns_appender(void *arg) {
  int t = (int)(intptr_t)arg;
  uint64_t rs = 99 + (uint64_t)t;
  char src[16];
  snprintf(src, sizeof src, "ns%d", t);
  for (int i = 0; i < NS_PER;) {
    int n = t == 0 ? 1 : 1 + (int)rn(&rs, 12);
    if (i + n > NS_PER) n = NS_PER - i;
    evs_event_in in[12];
    char pay[12][64];
    for (int k = 0; k < n; k++) {
      snprintf(pay[k], sizeof pay[k], "{\"t\":%d,\"i\":%d}", t, i + k);
      in[k] = ev_in(src, "t", pay[k], NULL);
    }
    evs_append_result r[12];
    int rc = n == 1 ? evs_append(ns_store, NULL, in, r)
                    : evs_append_batch(ns_store, NULL, in, (size_t)n, r);
    if (rc != 0) {
      TFAIL("ns append rc %d", rc);
      break;
    }
    i += n;
  }
  return NULL;
}

static void *ns_reader(void *arg) {
  uint64_t rs = 555 + (uint64_t)(intptr_t)arg;
  evs_page *p = NULL;
  for (int w = 0; w < 1000000; w++) {
    int last_walk = atomic_load(&ns_done);
    int ft = (int)rn(&rs, NS_APP + 1) - 1; /* -1 = no filter */
    char src[16];
    snprintf(src, sizeof src, "ns%d", ft);
    evs_query q;
    char *cur = NULL;
    uint64_t expect_id = 1;
    int expect_i = 0;
    for (;;) {
      memset(&q, 0, sizeof q);
      q.limit = 1 + rn(&rs, 100);
      q.cursor = cur;
      if (ft >= 0) q.source = src;
      int rc = evs_inbox(ns_store, NULL, &q, &p);
      if (rc != 0) {
        TFAIL("ns inbox rc %d", rc);
        free(cur);
        goto out;
      }
      for (size_t k = 0; k < evs_page_count(p); k++) {
        const evs_event *e = evs_page_event(p, k);
        if (ft < 0) {
          if (e->id != expect_id) {
            TFAIL("walk: id %" PRIu64 ", expected %" PRIu64 " (gap/repeat)",
                  e->id, expect_id);
            free(cur);
            goto out;
          }
          expect_id++;
        } else {
          int t = -1, i = -1;
          sscanf(e->payload, "{\"t\":%d,\"i\":%d}", &t, &i);
          if (t != ft || i != expect_i) {
            TFAIL("walk on %s: event %" PRIu64 " is t=%d i=%d, expected i=%d",
                  src, e->id, t, i, expect_i);
            free(cur);
            goto out;
          }
          expect_i++;
        }
      }
      char *nc = strdup(evs_page_cursor(p));
      free(cur);
      cur = nc;
      if (!evs_page_more(p)) break;
    }
    free(cur);
    atomic_fetch_add(&ns_walks, 1);
    if (last_walk) {
      /* everything was committed before this walk began */
      if (ft < 0)
        TCHECK_EQ(expect_id, (uint64_t)NS_APP * NS_PER + 1);
      else
        TCHECK_EQ(expect_i, NS_PER);
      break;
    }
  }
out:
  if (p) evs_page_free(p);
  return NULL;
}

static void t_walk_no_skip(void) {
  evs_options o = base_opts(EVS_SYNC_OFF);
  o.segment_size = 128 * 1024;
  char *dir = t_tmpdir();
  REQUIRE(evs_store_open(dir, &o, &ns_store) == 0);
  atomic_store(&ns_done, 0);
  atomic_store(&ns_walks, 0);
  pthread_t ap[NS_APP], rd[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&rd[i], NULL, ns_reader, (void *)(intptr_t)i);
  for (int i = 0; i < NS_APP; i++)
    pthread_create(&ap[i], NULL, ns_appender, (void *)(intptr_t)i);
  for (int i = 0; i < NS_APP; i++) pthread_join(ap[i], NULL);
  atomic_store(&ns_done, 1);
  for (int i = 0; i < 2; i++) pthread_join(rd[i], NULL);
  collect_failures();
  if (getenv("EVS_VERBOSE"))
    fprintf(stderr, "  no-skip: %ld walks\n", atomic_load(&ns_walks));
  CHECK_EQ(evs_store_close(ns_store), 0);
  ns_store = NULL;
  t_rmdir(dir);
}

/* ---- t_group_commit_full --------------------------------------------------- */
#define GC_T 8
#define GC_PER 60
typedef struct {
  evs_store *s;
  int t;
  uint64_t ids[GC_PER];
} gc_arg;

static void gc_payload(int t, int i, char *b, size_t n) {
  snprintf(b, n, "{\"gc\":%d,\"i\":%d,\"x\":\"%0*d\"}", t, i, 1 + (t * 7 + i) % 50,
           i);
}

static void *gc_thread(void *arg) {
  gc_arg *a = arg;
  for (int i = 0; i < GC_PER; i++) {
    char pay[128];
    gc_payload(a->t, i, pay, sizeof pay);
    evs_event_in in = ev_in("gc", "t", pay, NULL);
    evs_append_result r;
    int rc = evs_append(a->s, NULL, &in, &r);
    if (rc != 0) {
      TFAIL("gc append rc %d: %s", rc, evs_errmsg(a->s));
      return NULL;
    }
    a->ids[i] = r.id;
  }
  return NULL;
}

typedef struct {
  int count[GC_T][GC_PER];
  long bad;
} gc_seen;

static void gc_cb(const evs_event *e, void *arg) {
  gc_seen *g = arg;
  int t = -1, i = -1;
  if (sscanf(e->payload, "{\"gc\":%d,\"i\":%d", &t, &i) != 2 || t < 0 ||
      t >= GC_T || i < 0 || i >= GC_PER) {
    g->bad++;
    return;
  }
  char want[128];
  gc_payload(t, i, want, sizeof want);
  if (strcmp(want, e->payload) != 0) g->bad++;
  g->count[t][i]++;
}

static void t_group_commit_full(void) {
  evs_options o = base_opts(EVS_SYNC_FULL);
  char *dir = t_tmpdir();
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  static gc_arg args[GC_T];
  pthread_t th[GC_T];
  for (int i = 0; i < GC_T; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].s = s;
    args[i].t = i;
    pthread_create(&th[i], NULL, gc_thread, &args[i]);
  }
  for (int i = 0; i < GC_T; i++) pthread_join(th[i], NULL);
  collect_failures();
  CHECK_EQ(evs_store_close(s), 0);
  s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  CHECK_EQ(st.pending, GC_T * GC_PER);
  CHECK_EQ(st.next_id, GC_T * GC_PER + 1);
  CHECK_EQ(st.recovered_records_dropped, 0);
  static gc_seen g;
  memset(&g, 0, sizeof g);
  long n = walk_all(s, NULL, NULL, gc_cb, &g);
  collect_failures();
  CHECK_EQ(n, GC_T * GC_PER);
  CHECK_EQ(g.bad, 0);
  int wrong = 0;
  for (int t = 0; t < GC_T; t++)
    for (int i = 0; i < GC_PER; i++) {
      if (g.count[t][i] != 1) wrong++;
      evs_event *e = NULL;
      int rc = evs_get(s, NULL, args[t].ids[i], &e);
      CHECK_EQ(rc, 0);
      if (rc == 0) {
        char want[128];
        gc_payload(t, i, want, sizeof want);
        CHECK_STR(e->payload, want);
        evs_event_free(e);
      }
    }
  CHECK_EQ(wrong, 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- t_batch_worker -------------------------------------------------------- */
/* Threads append batches big enough for the store's worker thread (a few
** large payloads each, compressed), some in explicit transactions, some
** with a large item that fails validation. One batch at a time gets the
** worker; the others prepare alone. Every event must be there once, in its
** batch's order, with its payload. */
#define BW_T 4
#define BW_BATCHES 12
#define BW_N 24
typedef struct {
  evs_store *s;
  int t;
  uint64_t ids[BW_BATCHES][BW_N];
} bw_arg;

/* Payload of item j of batch b of thread t; large for j % 8 == 5. */
static char *bw_payload(int t, int b, int j) {
  size_t n = j % 8 == 5 ? 9000 + (size_t)(t * 997 + b * 131 + j) % 5000 : 60;
  char *p = malloc(n + 64);
  int k = snprintf(p, n + 64, "{\"t\":%d,\"b\":%d,\"j\":%d,\"pad\":[", t, b, j);
  for (int i = 0; (size_t)k + 12 < n; i++)
    k += snprintf(p + k, n + 64 - (size_t)k, "%s%d", i ? "," : "", (i * 7 + t) % 1000);
  snprintf(p + k, n + 64 - (size_t)k, "]}");
  return p;
}

static void *bw_thread(void *arg) {
  bw_arg *a = arg;
  for (int b = 0; b < BW_BATCHES; b++) {
    evs_event_in in[BW_N];
    char *pay[BW_N];
    for (int j = 0; j < BW_N; j++) {
      pay[j] = bw_payload(a->t, b, j);
      in[j] = ev_in(a->t % 2 ? "bw-odd" : "bw-even", "t", pay[j], NULL);
    }
    int bad = b % 4 == 1 ? 13 : -1; /* a large item with broken JSON */
    if (bad >= 0) pay[bad][strlen(pay[bad]) - 2] = ',';
    evs_append_result r[BW_N];
    evs_txn *txn = NULL;
    int rc;
    if (b % 3 == 2 && (rc = evs_txn_begin(a->s, &txn)) != 0) {
      TFAIL("txn_begin rc %d", rc);
      txn = NULL;
    }
    rc = evs_append_batch(a->s, txn, in, BW_N, r);
    TCHECK_EQ(rc, 0);
    if (txn) TCHECK_EQ(evs_txn_commit(txn), 0);
    if (bad >= 0) TCHECK(strstr(evs_errmsg(a->s), "item 13: payload: invalid JSON") != NULL);
    uint64_t last = 0;
    for (int j = 0; j < BW_N; j++) {
      a->ids[b][j] = 0;
      if (j == bad) {
        TCHECK_EQ(r[j].rc, EVS_EJSON);
        continue;
      }
      TCHECK_EQ(r[j].rc, 0);
      if (r[j].id <= last) TFAIL("batch ids out of order: %" PRIu64 " after %" PRIu64, r[j].id, last);
      last = r[j].id;
      a->ids[b][j] = r[j].id;
    }
    for (int j = 0; j < BW_N; j++) free(pay[j]);
  }
  return NULL;
}

static void t_batch_worker(void) {
  evs_options o = base_opts(EVS_SYNC_NORMAL);
  char *dir = t_tmpdir();
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  static bw_arg args[BW_T];
  pthread_t th[BW_T];
  for (int i = 0; i < BW_T; i++) {
    args[i].s = s;
    args[i].t = i;
    pthread_create(&th[i], NULL, bw_thread, &args[i]);
  }
  for (int i = 0; i < BW_T; i++) pthread_join(th[i], NULL);
  collect_failures();
  for (int round = 0; round < 2; round++) {
    evs_stats st;
    CHECK_EQ(evs_stats_get(s, &st), 0);
    CHECK_EQ(st.pending, BW_T * BW_BATCHES * BW_N - BW_T * (BW_BATCHES / 4));
    CHECK(st.compression_ratio > 2);
    int wrong = 0;
    for (int t = 0; t < BW_T; t++)
      for (int b = 0; b < BW_BATCHES; b++)
        for (int j = 0; j < BW_N; j++) {
          if (!args[t].ids[b][j]) continue;
          evs_event *e = NULL;
          if (evs_get(s, NULL, args[t].ids[b][j], &e) != 0) {
            wrong++;
            continue;
          }
          char *want = bw_payload(t, b, j);
          if (strcmp(e->payload, want) != 0) wrong++;
          free(want);
          evs_event_free(e);
        }
    CHECK_EQ(wrong, 0);
    /* Again after reopening: what was written is what was prepared. */
    CHECK_EQ(evs_store_close(s), 0);
    s = NULL;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
  }
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- t_crash_kill ---------------------------------------------------------- */
/* A child appends from 4 threads (sync NORMAL: survives a process crash)
** and reports every committed append on a pipe; the parent kills it with
** SIGKILL and checks the store. Batches are all-or-nothing. */
#define CK_T 4
typedef struct {
  evs_store *s;
  int t;
  int fd;
} ck_arg;

typedef struct {
  uint64_t id;
  int t, i, n; /* thread, first seq, batch size */
} ck_rec;

static void ck_payload(int t, int i, int j, int n, char *b, size_t cap) {
  int pad = (t * 131 + i * 7 + j) % 300;
  int len = snprintf(b, cap, "{\"ck\":%d,\"i\":%d,\"j\":%d,\"n\":%d,\"p\":\"", t,
                     i, j, n);
  for (int k = 0; k < pad; k++) b[len++] = (char)('a' + (k * 5 + t) % 26);
  b[len++] = '"';
  b[len++] = '}';
  b[len] = 0;
}

static void *ck_thread(void *arg) {
  ck_arg *a = arg;
  for (int i = 0;; ) {
    int n = a->t % 2 ? 1 + (i % 7) : 1;
    evs_event_in in[8];
    char pay[8][512];
    for (int j = 0; j < n; j++) {
      ck_payload(a->t, i, j, n, pay[j], sizeof pay[j]);
      in[j] = ev_in("ck", "t", pay[j], NULL);
    }
    evs_append_result r[8];
    int rc = n == 1 ? evs_append(a->s, NULL, in, r)
                    : evs_append_batch(a->s, NULL, in, (size_t)n, r);
    if (rc != 0) _exit(3);
    ck_rec rec = {r[0].id, a->t, i, n};
    if (write(a->fd, &rec, sizeof rec) != (ssize_t)sizeof rec) _exit(4);
    i += n;
  }
  return NULL;
}

static void t_crash_kill(void) {
  char *dir = t_tmpdir();
  evs_options o = base_opts(EVS_SYNC_NORMAL);
  o.segment_size = 64 * 1024;
  int pfd[2];
  REQUIRE(pipe(pfd) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(pfd[0]);
    evs_store *s = NULL;
    if (evs_store_open(dir, &o, &s) != 0) _exit(2);
    pthread_t th[CK_T];
    static ck_arg args[CK_T];
    for (int i = 0; i < CK_T; i++) {
      args[i] = (ck_arg){s, i, pfd[1]};
      pthread_create(&th[i], NULL, ck_thread, &args[i]);
    }
    for (;;) pause();
  }
  close(pfd[1]);
  static ck_rec recs[20000];
  size_t nrec = 0;
  size_t want = 1500 + (size_t)(getpid() % 500);
  while (nrec < want) {
    ssize_t r = read(pfd[0], &recs[nrec], sizeof recs[0]);
    if (r != (ssize_t)sizeof recs[0]) break;
    nrec++;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  /* records written just before the kill */
  for (;;) {
    if (nrec >= sizeof recs / sizeof recs[0]) break;
    ssize_t r = read(pfd[0], &recs[nrec], sizeof recs[0]);
    if (r != (ssize_t)sizeof recs[0]) break;
    nrec++;
  }
  close(pfd[0]);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  CHECK(nrec >= want);

  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc != 0) fprintf(stderr, "  reopen after kill: %s\n", evs_errmsg(NULL));
  REQUIRE(rc == 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  uint64_t maxrep = 0;
  size_t nev = 0;
  for (size_t k = 0; k < nrec; k++) {
    for (int j = 0; j < recs[k].n; j++) {
      uint64_t id = recs[k].id + (uint64_t)j;
      if (id > maxrep) maxrep = id;
      nev++;
      evs_event *e = NULL;
      rc = evs_get(s, NULL, id, &e);
      if (rc != 0) {
        if (t_failed_checks < 5)
          fprintf(stderr, "  reported id %" PRIu64 " lost after kill: %d\n",
                  id, rc);
        t_failed_checks++;
        continue;
      }
      char want_p[512];
      ck_payload(recs[k].t, recs[k].i, j, recs[k].n, want_p, sizeof want_p);
      CHECK_STR(e->payload, want_p);
      evs_event_free(e);
    }
  }
  CHECK(st.next_id > maxrep);
  /* everything there is well-formed, dense, and whole batches */
  for (uint64_t id = 1; id < st.next_id; id++) {
    evs_event *e = NULL;
    rc = evs_get(s, NULL, id, &e);
    CHECK_EQ(rc, 0);
    if (rc != 0) continue;
    int t = -1, i = -1, j = -1, n = -1;
    if (sscanf(e->payload, "{\"ck\":%d,\"i\":%d,\"j\":%d,\"n\":%d", &t, &i, &j,
               &n) != 4) {
      CHECK(0);
    } else {
      char want_p[512];
      ck_payload(t, i, j, n, want_p, sizeof want_p);
      CHECK_STR(e->payload, want_p);
      /* the whole batch is there */
      uint64_t first = id - (uint64_t)j;
      CHECK(first + (uint64_t)n - 1 < st.next_id);
    }
    evs_event_free(e);
  }
  CHECK_EQ(st.pending, st.next_id - 1);
  CHECK(st.pending >= nev);
  if (getenv("EVS_VERBOSE"))
    fprintf(stderr,
            "  crash: %zu reported events, %" PRIu64 " found, dropped %" PRIu64
            " records / %" PRIu64 " bytes\n",
            nev, st.pending, st.recovered_records_dropped,
            st.recovered_bytes_dropped);
  /* the store works after recovery */
  evs_event_in in = ev_in("ck", "t", "{\"after\":1}", NULL);
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  CHECK_EQ(r.id, st.next_id);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- t_close_during_maintenance ------------------------------------------ */
/* The maintenance thread takes and releases the writer for its periodic
** checkpoint (here after every commit) while the store is being closed.
** Close looks for an open transaction to roll back: that must not race
** with the maintenance thread (ThreadSanitizer reports it if it does), and
** every close must succeed and keep what was committed. */
static void t_close_during_maintenance(void) {
  evs_options o = base_opts(EVS_SYNC_OFF);
  o.checkpoint_bytes = 1;
  char *dir = t_tmpdir();
  const int rounds = 30;
  for (int i = 0; i < rounds; i++) {
    evs_store *s = NULL;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    evs_event_in in = ev_in("close", "t", "{}", NULL);
    CHECK_EQ(evs_append(s, NULL, &in, NULL), 0);
    /* Time for the maintenance thread to take the writer and let it go,
    ** with no lock of the store taken here after it. */
    struct timespec nap = {0, (i % 3) * 1000000L};
    nanosleep(&nap, NULL);
    CHECK_EQ(evs_store_close(s), 0);
  }
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  CHECK_EQ(st.pending, rounds);
  CHECK_EQ(st.checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

int main(void) {
  RUN(t_isolation);
  RUN(t_ack_race);
  RUN(t_idempotency_race);
  RUN(t_mixed);
  RUN(t_walk_no_skip);
  RUN(t_group_commit_full);
  RUN(t_batch_worker);
  RUN(t_crash_kill);
  RUN(t_close_during_maintenance);
  return TEST_EXIT();
}
