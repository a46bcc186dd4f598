/*
** test_api_index.c: inbox and index edge cases: filters across rollback,
** mostly-acked inboxes, time bound ties, many events, pointer stability,
** expired keys.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- more inbox / index edge cases -------------------------------------- */

static long ids_of(evs_store *s, evs_txn *t, const char *src, const char *type,
                   uint64_t *ids, size_t cap) {
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  q.source = src;
  q.event_type = type;
  return inbox_all(s, t, &q, ids, cap);
}

#define EXPECT_LIST(n, ids, ...)                                          \
  do {                                                                    \
    const uint64_t w_[] = {__VA_ARGS__};                                  \
    const long nw_ = (long)(sizeof w_ / sizeof w_[0]);                    \
    CHECK_EQ((n), nw_);                                                   \
    for (long i_ = 0; i_ < (n) && i_ < nw_; i_++) CHECK_EQ((ids)[i_], w_[i_]); \
  } while (0)

/* Filtered scans inside a transaction, then a rollback: the per-source and
** per-type lists must come back exactly. */
static void t_inbox_filter_txn_rollback(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  uint64_t ids[64];
  long n;
  CHECK_EQ(app(s, NULL, "X", "tx", "{}", NULL), 0); /* 1 */
  CHECK_EQ(app(s, NULL, "X", "tx", "{}", NULL), 0); /* 2 */
  CHECK_EQ(app(s, NULL, "Y", "ty", "{}", NULL), 0); /* 3 */
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 2, NULL), 0);
  n = ids_of(s, t, "X", NULL, ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, t, NULL, "tx", ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, t, NULL, NULL, ids, 64);
  EXPECT_LIST(n, ids, 3);
  n = ids_of(s, NULL, "X", NULL, ids, 64); /* committed view */
  EXPECT_LIST(n, ids, 1, 2);
  CHECK_EQ(evs_txn_rollback(t), 0);
  n = ids_of(s, NULL, "X", NULL, ids, 64);
  EXPECT_LIST(n, ids, 1, 2);
  n = ids_of(s, NULL, NULL, "tx", ids, 64);
  EXPECT_LIST(n, ids, 1, 2);
  n = ids_of(s, NULL, "X", "tx", ids, 64);
  EXPECT_LIST(n, ids, 1, 2);

  /* Appends in a rolled back txn; the ids are then reused by other
  ** sources. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(app(s, t, "X", "tx", "{}", NULL), 0); /* 4 */
  CHECK_EQ(app(s, t, "Z", "tz", "{}", NULL), 0); /* 5 (a new source) */
  n = ids_of(s, t, "X", NULL, ids, 64);
  EXPECT_LIST(n, ids, 1, 2, 4);
  n = ids_of(s, t, "Z", NULL, ids, 64);
  EXPECT_LIST(n, ids, 5);
  CHECK_EQ(evs_txn_rollback(t), 0);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "Y", "ty", "{}", &r), 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(app(s, NULL, "X", "tx", "{}", &r), 0);
  CHECK_EQ(r.id, 5);
  n = ids_of(s, NULL, "X", NULL, ids, 64);
  EXPECT_LIST(n, ids, 1, 2, 5);
  n = ids_of(s, NULL, "Y", NULL, ids, 64);
  EXPECT_LIST(n, ids, 3, 4);
  n = ids_of(s, NULL, "Z", NULL, ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, NULL, NULL, "tz", ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, NULL, NULL, "tx", ids, 64);
  EXPECT_LIST(n, ids, 1, 2, 5);

  /* Many acks inside a txn with filtered scans (which may prune lists),
  ** then rollback: everything is pending again. */
  for (int i = 0; i < 300; i++)
    CHECK_EQ(app(s, NULL, i % 2 ? "X" : "Y", "bulk", "{}", NULL), 0);
  uint64_t all[1024];
  long nx = ids_of(s, NULL, "X", NULL, all, 1024);
  CHECK_EQ(nx, 153);
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  for (uint64_t id = 1; id <= 305; id++)
    if (id % 5) CHECK_EQ(evs_ack(s, t, id, NULL), 0);
  n = ids_of(s, t, "X", NULL, ids, 64);
  CHECK(n > 0 && n < 64);
  n = ids_of(s, t, NULL, "bulk", ids, 64);
  CHECK(n > 0 && n < 64);
  CHECK_EQ(evs_txn_rollback(t), 0);
  uint64_t again[1024];
  n = ids_of(s, NULL, "X", NULL, again, 1024);
  CHECK_EQ(n, nx);
  for (long i = 0; i < n && i < nx; i++)
    if (again[i] != all[i]) {
      CHECK_EQ(again[i], all[i]);
      break;
    }
  CHECK_EQ(ids_of(s, NULL, NULL, "bulk", again, 1024), 300);
  /* And committed: the lists shrink. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  for (uint64_t id = 1; id <= 305; id++)
    if (id % 5) CHECK_EQ(evs_ack(s, t, id, NULL), 0);
  n = ids_of(s, t, "X", NULL, ids, 64);
  CHECK_EQ(evs_txn_commit(t), 0);
  n = ids_of(s, NULL, NULL, NULL, again, 1024);
  CHECK_EQ(n, 61);
  for (long i = 0; i < n; i++) CHECK_EQ(again[i] % 5, 0);
  evs_store_close(s);
}

/* Ack most events of a source (dead list positions outnumber live ones),
** with appends in between. */
static void t_inbox_mostly_acked(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { N = 3000 };
  for (int i = 0; i < N; i++)
    CHECK_EQ(app(s, NULL, i % 3 ? "A" : "B", "t", "{}", NULL), 0);
  uint64_t *ids = calloc(N + 1000, sizeof *ids);
  int bad = 0;
  for (uint64_t id = 1; id <= N; id++) {
    if (id % 97 == 0) continue;
    if (evs_ack(s, NULL, id, NULL) != 0) bad++;
    if (id % 500 == 0) {
      evs_query q;
      memset(&q, 0, sizeof q);
      q.source = "A";
      q.limit = 5;
      evs_page *p = NULL;
      if (evs_inbox(s, NULL, &q, &p) != 0) bad++;
      evs_page_free(p);
      CHECK_EQ(app(s, NULL, "A", "t", "{}", NULL), 0);
    }
  }
  CHECK_EQ(bad, 0);
  /* Model: id%97==0 pending, plus the 6 appended (ids N+1..N+6). */
  long n = ids_of(s, NULL, "A", NULL, ids, N + 1000);
  long want = 0;
  for (uint64_t id = 1; id <= N + 6; id++) {
    int isA = id > N || ((id - 1) % 3 != 0);
    int pend = id > N || id % 97 == 0;
    if (isA && pend) {
      if (want < n && ids[want] != id) {
        CHECK_EQ(ids[want], id);
        break;
      }
      want++;
    }
  }
  CHECK_EQ(n, want);
  n = ids_of(s, NULL, NULL, NULL, ids, N + 1000);
  CHECK_EQ(n, N / 97 + 6);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, (uint64_t)(N / 97 + 6));
  CHECK_EQ(st.acknowledged, (uint64_t)(N - N / 97));
  free(ids);
  evs_store_close(s);
}

/* Time bounds when many events share a timestamp, with paging. */
static void t_inbox_time_bounds_ties(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  for (int t = 0; t < 4; t++) {
    c.now = T0 + t;
    for (int i = 0; i < 25; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  }
  /* ids 1-25 at T0, 26-50 at T0+1, 51-75 at T0+2, 76-100 at T0+3 */
  evs_query q;
  memset(&q, 0, sizeof q);
  uint64_t ids[128];
  for (unsigned lim = 1; lim <= 100; lim += 33) {
    q.limit = lim;
    q.created_after_us = T0;
    q.created_before_us = T0 + 3;
    long n = inbox_all(s, NULL, &q, ids, 128);
    CHECK_EQ(n, 50);
    if (n == 50) {
      CHECK_EQ(ids[0], 26);
      CHECK_EQ(ids[49], 75);
    }
    q.created_after_us = T0 + 1;
    q.created_before_us = 0;
    n = inbox_all(s, NULL, &q, ids, 128);
    CHECK_EQ(n, 50);
    if (n == 50) CHECK_EQ(ids[0], 51);
    q.created_after_us = 0;
    q.created_before_us = T0 + 1;
    n = inbox_all(s, NULL, &q, ids, 128);
    CHECK_EQ(n, 25);
    if (n == 25) CHECK_EQ(ids[24], 25);
    q.created_after_us = T0 + 3;
    q.created_before_us = 0;
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 128), 0);
    q.created_after_us = T0 - 1;
    q.created_before_us = T0 + 4;
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 128), 100);
    q.created_after_us = T0 + 2;
    q.created_before_us = T0 + 1; /* empty range */
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 128), 0);
  }
  evs_store_close(s);
}

/* More events than one index chunk (65536). */
static void t_many_events(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { N = 70000 };
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    char src[16], pl[32];
    snprintf(src, sizeof src, "s%d", i % 7);
    snprintf(pl, sizeof pl, "{\"i\":%d}", i + 1);
    if (app(s, t, src, "t", pl, NULL) != 0) bad++;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  /* Ack everything before 65530. */
  uint64_t *ids = malloc(10000 * sizeof *ids);
  int *rcs = malloc(10000 * sizeof *rcs);
  for (uint64_t base = 1; base < 65530; base += 10000) {
    size_t k = 0;
    for (uint64_t id = base; id < base + 10000 && id < 65530; id++) ids[k++] = id;
    CHECK_EQ(evs_ack_batch(s, NULL, ids, k, rcs), 0);
    for (size_t i = 0; i < k; i++)
      if (rcs[i]) {
        CHECK_EQ(rcs[i], 0);
        break;
      }
  }
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, N - 65529);
  CHECK_EQ(st.next_id, N + 1);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 100);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    const evs_event *e = evs_page_event(p, i);
    if (e->id != 65530 + i) {
      CHECK_EQ(e->id, 65530 + i);
      break;
    }
    char pl[32];
    snprintf(pl, sizeof pl, "{\"i\":%" PRIu64 "}", e->id);
    CHECK_STR(e->payload, pl);
  }
  q.source = "s3"; /* i % 7 == 3, i.e. id % 7 == 4 */
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    const evs_event *e = evs_page_event(p, i);
    CHECK_EQ(e->id % 7, 4);
    CHECK(e->id >= 65530);
  }
  evs_page_free(p);
  const uint64_t probe[] = {1, 65535, 65536, 65537, 65538, N};
  for (int i = 0; i < 6; i++) {
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, probe[i], &e), 0);
    if (e) {
      char pl[32];
      snprintf(pl, sizeof pl, "{\"i\":%" PRIu64 "}", probe[i]);
      CHECK_STR(e->payload, pl);
    }
    evs_event_free(e);
  }
  CHECK_EQ(evs_delete(s, NULL, 65536, NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 65537, NULL), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 65536, &e), EVS_ENOTFOUND);
  q.source = NULL;
  q.cursor = NULL;
  uint64_t got[200];
  long n = inbox_all(s, NULL, &q, got, 200);
  CHECK_EQ(n, N - 65529 - 2);
  if (n > 10) {
    CHECK_EQ(got[5], 65535);
    CHECK_EQ(got[6], 65538);
  }
  free(ids);
  free(rcs);
  evs_store_close(s);
}

/* Events and pages handed out stay valid while the store grows. */
static void t_pointers_stable_while_growing(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.compress_threshold = UINT32_MAX;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  char *p1 = json_of_size(1000, 'h');
  CHECK_EQ(app(s, NULL, "held", "t", p1, NULL), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  REQUIRE(e);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p && evs_page_count(p) == 1);
  char *big = json_of_size(400000, 'g');
  for (int i = 0; i < 100; i++) CHECK_EQ(app(s, NULL, "g", "t", big, NULL), 0);
  CHECK_STR(e->payload, p1);
  CHECK_STR(e->source, "held");
  const evs_event *pe = evs_page_event(p, 0);
  CHECK_STR(pe->payload, p1);
  CHECK_STR(pe->source, "held");
  evs_event *e2 = NULL;
  CHECK_EQ(evs_get(s, NULL, 101, &e2), 0);
  if (e2) CHECK(e2->payload_len == 400000 && !memcmp(e2->payload, big, 400000));
  evs_event_free(e2);
  evs_event_free(e);
  evs_page_free(p);
  free(big);
  free(p1);
  evs_store_close(s);
}

/* An expired key reused in a rolled back transaction. */
static void t_idempotency_expired_key_rollback(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.idempotency_window_us = 1000;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "K", &r), 0); /* 1 */
  c.now = T0 + 2000;
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(app_key(s, t, "K", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(app_key(s, t, "K", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(evs_txn_rollback(t), 0);
  /* id 2 goes to an event with another key, then K is new again. */
  CHECK_EQ(app_key(s, NULL, "other", &r), 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(app_key(s, NULL, "K", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(app_key(s, NULL, "K", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(app_key(s, NULL, "other", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  /* Delete in a txn, rollback: the key is still taken. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_delete(s, t, 3, NULL), 0);
  CHECK_EQ(app_key(s, t, "K", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(evs_txn_rollback(t), 0);
  CHECK_EQ(app_key(s, NULL, "K", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 3);
  /* Many keys (the table grows), then all still found. */
  char key[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "many-%d", i);
    CHECK_EQ(app_key(s, NULL, key, NULL), 0);
  }
  int bad = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "many-%d", i);
    if (app_key(s, NULL, key, &r) != 0 || !r.duplicate || r.id != (uint64_t)i + 4)
      bad++;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(stats(s).next_id, 5004);
  evs_store_close(s);
}

int main(void) {
  RUN(t_inbox_filter_txn_rollback);
  RUN(t_inbox_mostly_acked);
  RUN(t_inbox_time_bounds_ties);
  RUN(t_many_events);
  RUN(t_pointers_stable_while_growing);
  RUN(t_idempotency_expired_key_rollback);
  return TEST_EXIT();
}
