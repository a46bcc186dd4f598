/*
** test_refresh.c: read_only handles beside a writer in the same process
** (tests/test_readers.c does it across processes): what a reader sees
** before and after evs_store_refresh, across rolls, compaction (a reload),
** an undone transaction, a dictionary trained meanwhile, a dropped or
** replaced store; cursors and pages that span a refresh; threads reading a
** handle while it refreshes.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "gen.h"
#include "testlib.h"

/* Payload of event number n: its number and a body computed from it, so a
** reader tells a whole payload from a wrong one. */
static size_t payload_of(char *buf, size_t cap, unsigned n) {
  char body[200];
  size_t len = 20 + n % 150;
  for (size_t i = 0; i < len; i++) body[i] = (char)('a' + (n * 7 + i) % 26);
  body[len] = 0;
  return (size_t)snprintf(buf, cap, "{\"n\":%u,\"body\":\"%s\"}", n, body);
}

/* Append events numbered first..last in batches of up to 50. */
static void put(evs_store *s, unsigned first, unsigned last) {
  static char bufs[50][256];
  evs_event_in in[50];
  evs_append_result res[50];
  for (unsigned b = first; b <= last; b += 50) {
    unsigned m = last - b + 1 < 50 ? last - b + 1 : 50;
    for (unsigned k = 0; k < m; k++) {
      size_t n = payload_of(bufs[k], sizeof bufs[k], b + k);
      in[k] = ev_make((b + k) % 2 ? "odd" : "even", "t", bufs[k]);
      in[k].payload_len = n;
    }
    CHECK_EQ(evs_append_batch(s, NULL, in, m, res), 0);
  }
}

/* The payload of e is the one of its number. */
static int whole(const evs_event *e) {
  unsigned n;
  char want[256];
  if (!e->payload || sscanf(e->payload, "{\"n\":%u,", &n) != 1) return 0;
  size_t wn = payload_of(want, sizeof want, n);
  return e->payload_len == wn && !memcmp(e->payload, want, wn);
}

/* Page through the whole inbox; count events, check each is whole and ids
** grow. */
static long walk(evs_store *s) {
  evs_query q = {0};
  q.limit = 37;
  evs_page *pg = NULL;
  long seen = 0;
  uint64_t last = 0;
  for (;;) {
    if (evs_inbox(s, NULL, &q, &pg)) {
      fprintf(stderr, "  inbox: %s\n", evs_errmsg(s));
      seen = -1;
      break;
    }
    size_t c = evs_page_count(pg);
    for (size_t k = 0; k < c; k++) {
      const evs_event *e = evs_page_event(pg, k);
      CHECK(e->id > last);
      CHECK(whole(e));
      last = e->id;
      seen++;
    }
    if (!evs_page_more(pg) || !c) break;
    q.cursor = evs_page_cursor(pg);
  }
  evs_page_free(pg);
  return seen;
}

static evs_store *open_ro(const char *dir) {
  evs_options o = {0};
  o.read_only = 1;
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) fprintf(stderr, "  open read-only: %s\n", evs_errmsg(NULL));
  return s;
}

static evs_store *open_rw(const char *dir, uint32_t segment_size) {
  evs_options o = {0};
  o.segment_size = segment_size;
  o.auto_compact_percent = -1;
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) fprintf(stderr, "  open: %s\n", evs_errmsg(NULL));
  return s;
}

static void ack_some(evs_store *s, uint64_t from, uint64_t to, unsigned every) {
  for (uint64_t id = from; id <= to; id += every) CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
}

/* ---- tests -------------------------------------------------------------- */

static void t_refresh_args(void) {
  CHECK_EQ(evs_store_refresh(NULL), EVS_EINVAL);
  evs_store *m = open_mem(NULL);
  REQUIRE(m);
  CHECK_EQ(evs_store_refresh(m), 0);
  evs_store_close(m);
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 0);
  REQUIRE(w);
  put(w, 1, 3);
  CHECK_EQ(evs_store_refresh(w), 0); /* a writer is always current */
  CHECK_EQ(stats(w).pending, 3);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  /* Writes through a reader are refused, beside a writer too. */
  CHECK_EQ(app(r, NULL, "s", "t", "{}", NULL), EVS_EREADONLY);
  CHECK_EQ(evs_ack(r, NULL, 1, NULL), EVS_EREADONLY);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(r, &t), EVS_EREADONLY);
  CHECK_EQ(evs_compact(r, NULL), EVS_EREADONLY);
  /* A second writer is still locked out, with a hint. */
  evs_store *w2 = NULL;
  CHECK_EQ(evs_store_open(dir, NULL, &w2), EVS_ELOCKED);
  CHECK_CONTAINS(evs_errmsg(NULL), "read_only");
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

/* Appends, acks and deletes in the open segment appear at a refresh, not
** before; a refresh with nothing new changes nothing. */
static void t_refresh_tail(void) {
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 0);
  REQUIRE(w);
  put(w, 1, 100);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  CHECK_EQ(stats(r).pending, 100);
  put(w, 101, 150);
  ack_some(w, 1, 20, 1);
  int existed = 0;
  CHECK_EQ(evs_delete(w, NULL, 30, &existed), 0);
  CHECK_EQ(stats(r).pending, 100);
  CHECK_EQ(walk(r), 100);
  CHECK_EQ(evs_store_refresh(r), 0);
  evs_stats a = stats(r), b = stats(w);
  CHECK_EQ(a.pending, 129);
  CHECK_EQ(a.pending, b.pending);
  CHECK_EQ(a.acknowledged, b.acknowledged);
  CHECK_EQ(a.next_id, b.next_id);
  CHECK_EQ(walk(r), 129);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(r, NULL, 30, &e), EVS_ENOTFOUND);
  CHECK_EQ(evs_get(r, NULL, 150, &e), 0);
  if (e) CHECK(whole(e));
  evs_event_free(e);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(stats(r).pending, 129);
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

/* A cursor taken before refreshes goes on after them, through rolls and a
** compaction that rewrites the segments under it, and a page obtained
** before stays readable after. */
static void t_refresh_cursor_spans_rolls_and_compaction(void) {
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 8192);
  REQUIRE(w);
  put(w, 1, 300);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  evs_query q = {0};
  q.limit = 50;
  evs_page *old = NULL, *pg = NULL;
  REQUIRE(evs_inbox(r, NULL, &q, &old) == 0);
  REQUIRE(evs_page_count(old) == 50);
  char cur[EVS_CURSOR_SIZE];
  snprintf(cur, sizeof cur, "%s", evs_page_cursor(old));
  /* The writer moves on: more segments, most events acked, compacted. */
  put(w, 301, 900);
  ack_some(w, 1, 900, 1);
  for (uint64_t id = 2; id <= 900; id += 3) CHECK_EQ(evs_delete(w, NULL, id, NULL), 0);
  put(w, 901, 960);
  evs_compact_report rep;
  CHECK_EQ(evs_compact(w, &rep), 0);
  CHECK(rep.segments_removed + rep.segments_rewritten > 0);
  evs_stats before = stats(r);
  CHECK_EQ(evs_store_refresh(r), 0);
  evs_stats a = stats(r), b = stats(w);
  CHECK_EQ(a.pending, 60);
  CHECK_EQ(a.pending, b.pending);
  CHECK_EQ(a.acknowledged, b.acknowledged);
  CHECK_EQ(a.segments, b.segments);
  CHECK(a.segments != before.segments || a.disk_bytes != before.disk_bytes);
  /* The old page still reads (its segments were retired, not unmapped). */
  for (size_t k = 0; k < evs_page_count(old); k++) CHECK(whole(evs_page_event(old, k)));
  /* The cursor resumes after event 50: only the new events are pending. */
  q.cursor = cur;
  REQUIRE(evs_inbox(r, NULL, &q, &pg) == 0);
  CHECK_EQ(evs_page_count(pg), 50);
  if (evs_page_count(pg)) CHECK_EQ(evs_page_event(pg, 0)->id, 901);
  evs_page_free(pg);
  evs_page_free(old);
  CHECK_EQ(walk(r), 60);
  /* And follows on: the writer appends after its compaction. */
  put(w, 961, 1000);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(stats(r).pending, 100);
  CHECK_EQ(walk(r), 100);
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

/* A transaction large enough to be written before its commit, then undone
** (the writer truncates the bytes): the reader never shows any of it. */
static void t_refresh_undone_transaction(void) {
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 0);
  REQUIRE(w);
  put(w, 1, 10);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  evs_txn *t = NULL;
  REQUIRE(evs_txn_begin(w, &t) == 0);
  char *big = json_of_size(60000, 'u');
  for (int i = 0; i < 40; i++) CHECK_EQ(app(w, t, "big", "t", big, NULL), 0);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(stats(r).pending, 10);
  CHECK_EQ(evs_txn_rollback(t), 0);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(stats(r).pending, 10);
  put(w, 11, 20);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(stats(r).pending, 20);
  CHECK_EQ(walk(r), 20);
  free(big);
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

/* The writer trains a dictionary after the reader opened: records that
** need it read back after a refresh. */
static void t_refresh_dictionary_trained_meanwhile(void) {
  char *dir = t_tmpdir();
  evs_options o = {0};
  o.dict_compress = 1;
  o.auto_compact_percent = -1;
  evs_store *w = NULL;
  REQUIRE(evs_store_open(dir, &o, &w) == 0);
  put(w, 1, 10);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  CHECK_EQ(stats(r).dict_state, EVS_DICT_NONE);
  int state = EVS_DICT_NONE;
  for (unsigned n = 11; n < 20000 && state == EVS_DICT_NONE; n += 500) {
    put(w, n, n + 499);
    for (int i = 0; i < 20 && (state = stats(w).dict_state) == EVS_DICT_NONE; i++) {
      struct timespec nap = {0, 5 * 1000000};
      nanosleep(&nap, NULL);
    }
  }
  REQUIRE(state == EVS_DICT_LOADED);
  put(w, 20011, 20200); /* compressed with it */
  CHECK_EQ(evs_store_refresh(r), 0);
  evs_stats a = stats(r);
  CHECK_EQ(a.dict_state, EVS_DICT_LOADED);
  CHECK_EQ(a.dict_id, stats(w).dict_id);
  CHECK_EQ(a.pending, stats(w).pending);
  CHECK_EQ(walk(r), (long)a.pending);
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

/* Dropped: the reader says so and keeps its view. Replaced by another
** store: it says that, and keeps its view too. */
static void t_refresh_dropped_or_replaced(void) {
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 0);
  REQUIRE(w);
  put(w, 1, 10);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  CHECK_EQ(evs_store_drop(w), 0);
  CHECK_EQ(evs_store_refresh(r), EVS_ENOTFOUND);
  CHECK_CONTAINS(evs_errmsg(r), "dropped");
  CHECK_EQ(stats(r).pending, 10);
  CHECK_EQ(walk(r), 10);
  w = open_rw(dir, 0);
  REQUIRE(w);
  put(w, 1, 3);
  CHECK_EQ(evs_store_refresh(r), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(r), "another store");
  CHECK_EQ(stats(r).pending, 10);
  CHECK_EQ(walk(r), 10);
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

/* A reader opened on a store no writer has open, then a writer beside it
** that compacts at once (its first act changes the layout). */
static void t_refresh_reader_first(void) {
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 8192);
  REQUIRE(w);
  put(w, 1, 400);
  ack_some(w, 1, 400, 2);
  evs_store_close(w);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  CHECK_EQ(stats(r).pending, 200);
  w = open_rw(dir, 8192);
  REQUIRE(w);
  CHECK_EQ(evs_compact(w, NULL), 0);
  put(w, 401, 450);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(stats(r).pending, 250);
  CHECK_EQ(walk(r), 250);
  evs_store_close(w);
  evs_store_close(r);
  t_rmdir(dir);
}

/* ---- threads: pages of a reader while it refreshes ---------------------- */

typedef struct {
  evs_store *r;
  volatile int stop;
  long pages, bad;
} share;

static void *pager(void *arg) {
  share *sh = arg;
  while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
    evs_query q = {0};
    q.limit = 20;
    evs_page *pg = NULL;
    uint64_t last = 0;
    for (;;) {
      if (evs_inbox(sh->r, NULL, &q, &pg)) {
        __atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
        break;
      }
      size_t c = evs_page_count(pg);
      for (size_t k = 0; k < c; k++) {
        const evs_event *e = evs_page_event(pg, k);
        if (e->id <= last || !whole(e)) __atomic_add_fetch(&sh->bad, 1, __ATOMIC_RELAXED);
        last = e->id;
      }
      __atomic_add_fetch(&sh->pages, 1, __ATOMIC_RELAXED);
      if (!evs_page_more(pg) || !c) break;
      q.cursor = evs_page_cursor(pg);
    }
    evs_page_free(pg);
  }
  return NULL;
}

static void t_refresh_while_threads_read(void) {
  char *dir = t_tmpdir();
  evs_store *w = open_rw(dir, 16384);
  REQUIRE(w);
  put(w, 1, 200);
  share sh = {0};
  sh.r = open_ro(dir);
  REQUIRE(sh.r);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, pager, &sh);
  unsigned n = 201;
  for (int round = 0; round < 30; round++) {
    put(w, n, n + 49);
    ack_some(w, n, n + 49, 5);
    n += 50;
    if (round % 10 == 9) CHECK_EQ(evs_compact(w, NULL), 0);
    CHECK_EQ(evs_store_refresh(sh.r), 0);
  }
  __atomic_store_n(&sh.stop, 1, __ATOMIC_RELEASE);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  CHECK_EQ(sh.bad, 0);
  CHECK(sh.pages > 0);
  CHECK_EQ(evs_store_refresh(sh.r), 0);
  CHECK_EQ(stats(sh.r).pending, stats(w).pending);
  CHECK_EQ(walk(sh.r), (long)stats(w).pending);
  evs_store_close(sh.r);
  evs_store_close(w);
  t_rmdir(dir);
}


/* ---- differential: a refreshed reader equals a fresh open --------------- */

typedef struct {
  uint64_t id;
  int64_t status; /* (no padding: rows are compared with memcmp) */
  int64_t acked_us;
  uint64_t hash;
} row;

/* Every event of s (any status), in id order, with a hash of its fields. */
static size_t listing(evs_store *s, row **out) {
  evs_query q = {0};
  q.limit = 100;
  q.status = EVS_QUERY_ANY;
  evs_page *pg = NULL;
  size_t n = 0, cap = 0;
  row *r = NULL;
  for (;;) {
    if (evs_inbox(s, NULL, &q, &pg)) {
      fprintf(stderr, "  listing: %s\n", evs_errmsg(s));
      break;
    }
    size_t c = evs_page_count(pg);
    for (size_t k = 0; k < c; k++) {
      const evs_event *e = evs_page_event(pg, k);
      if (n == cap) r = realloc(r, (cap = cap ? 2 * cap : 256) * sizeof *r);
      uint64_t h = 1469598103934665603ULL;
      const char *parts[] = {e->source, e->event_type, e->payload, e->idempotency_key};
      size_t lens[] = {e->source_len, e->event_type_len, e->payload_len, e->idempotency_key_len};
      for (int i = 0; i < 4; i++)
        for (size_t j = 0; parts[i] && j < lens[i]; j++) h = (h ^ (unsigned char)parts[i][j]) * 1099511628211ULL;
      r[n++] = (row){e->id, e->status, e->acknowledged_us, h ^ (uint64_t)e->created_us};
    }
    if (!evs_page_more(pg) || !c) break;
    q.cursor = evs_page_cursor(pg);
  }
  evs_page_free(pg);
  *out = r;
  return n;
}

static int same_view(evs_store *r, const char *dir) {
  evs_store *f = open_ro(dir);
  if (!f) return 0;
  evs_stats a = stats(r), b = stats(f);
  int ok = a.pending == b.pending && a.acknowledged == b.acknowledged &&
           a.next_id == b.next_id && a.segments == b.segments &&
           a.payload_bytes == b.payload_bytes && a.payload_stored_bytes == b.payload_stored_bytes;
  row *x, *y;
  size_t nx = listing(r, &x), ny = listing(f, &y);
  ok = ok && nx == ny && (!nx || !memcmp(x, y, nx * sizeof *x));
  if (!ok)
    fprintf(stderr, "  segments %llu/%llu payload %llu/%llu stored %llu/%llu rows %d\n",
            (unsigned long long)a.segments, (unsigned long long)b.segments,
            (unsigned long long)a.payload_bytes, (unsigned long long)b.payload_bytes,
            (unsigned long long)a.payload_stored_bytes, (unsigned long long)b.payload_stored_bytes,
            nx == ny && (!nx || !memcmp(x, y, nx * sizeof *x)));
  if (!ok)
    fprintf(stderr, "  reader: %llu pending %llu acked next %llu, %zu events; fresh: %llu %llu %llu, %zu\n",
            (unsigned long long)a.pending, (unsigned long long)a.acknowledged,
            (unsigned long long)a.next_id, nx, (unsigned long long)b.pending,
            (unsigned long long)b.acknowledged, (unsigned long long)b.next_id, ny);
  free(x);
  free(y);
  evs_store_close(f);
  return ok;
}

static uint64_t rnd_state = 1;
static uint64_t rnd(void) { return mix64(rnd_state++); }

static void t_refresh_matches_fresh_open(void) {
  const char *seed = getenv("EVS_SEED");
  if (seed) rnd_state = strtoull(seed, NULL, 0);
  int steps = getenv("EVS_REFRESH_STEPS") ? atoi(getenv("EVS_REFRESH_STEPS")) : 400;
  char *dir = t_tmpdir();
  evs_options o = {0};
  o.segment_size = 8192;
  o.idempotency_window_us = 1; /* acked events become dead: compaction has work */
  o.compact_dead_percent = 20;
  o.auto_compact_percent = -1;
  o.compress_threshold = 300;
  evs_store *w = NULL;
  REQUIRE(evs_store_open(dir, &o, &w) == 0);
  put(w, 1, 20);
  evs_store *r = open_ro(dir);
  REQUIRE(r);
  unsigned n = 21;
  int bad = 0;
  char *big = json_of_size(200000, 'b');
  for (int step = 0; step < steps && !bad; step++) {
    evs_stats st = stats(w);
    uint64_t next = st.next_id;
    switch (rnd() % 10) {
      case 0: case 1: case 2: {
        unsigned k = 1 + (unsigned)(rnd() % 60);
        put(w, n, n + k - 1);
        n += k;
        break;
      }
      case 3: case 4:
        for (int i = 0; i < 8; i++) evs_ack(w, NULL, 1 + rnd() % (next - 1), NULL);
        break;
      case 5:
        for (int i = 0; i < 3; i++) evs_delete(w, NULL, 1 + rnd() % (next - 1), NULL);
        break;
      case 6: {
        evs_txn *t = NULL;
        REQUIRE(evs_txn_begin(w, &t) == 0);
        int m = 1 + (int)(rnd() % 70), keep = rnd() % 2;
        /* An undone one is large enough to be written before its end. */
        for (int i = 0; i < m; i++)
          app(w, t, "txn", "t", (keep ? i % 10 : i % 2) ? "{\"n\":0,\"body\":\"\"}" : big, NULL);
        if (keep) CHECK_EQ(evs_txn_commit(t), 0);
        else CHECK_EQ(evs_txn_rollback(t), 0);
        break;
      }
      case 7:
        CHECK_EQ(evs_compact(w, NULL), 0);
        break;
      case 8:
        if (rnd() % 3 == 0) {
          CHECK_EQ(evs_store_close(w), 0);
          w = NULL;
          REQUIRE(evs_store_open(dir, &o, &w) == 0);
        } else {
          CHECK_EQ(evs_checkpoint(w), 0);
        }
        break;
      default:
        break;
    }
    if (rnd() % 3 == 0) {
      int rc = evs_store_refresh(r);
      CHECK_EQ(rc, 0);
      if (rc) fprintf(stderr, "  step %d: %s\n", step, evs_errmsg(r));
      if (!same_view(r, dir)) {
        fprintf(stderr, "  step %d: the refreshed reader differs from a fresh open\n", step);
        bad = 1;
      }
    }
  }
  CHECK(!bad);
  free(big);
  evs_store_close(r);
  evs_store_close(w);
  t_rmdir(dir);
}

int main(void) {
  RUN(t_refresh_args);
  RUN(t_refresh_tail);
  RUN(t_refresh_cursor_spans_rolls_and_compaction);
  RUN(t_refresh_undone_transaction);
  RUN(t_refresh_dictionary_trained_meanwhile);
  RUN(t_refresh_dropped_or_replaced);
  RUN(t_refresh_reader_first);
  RUN(t_refresh_while_threads_read);
  RUN(t_refresh_matches_fresh_open);
  return TEST_EXIT();
}
