/*
** test_query.c: general queries (status, id bounds, descending order),
** cursor make/parse, and transaction savepoints. Scans are checked
** against a brute force over evs_get for every id.
*/
#include <evstore.h>

#include "testlib.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const char *SRC[] = {"a", "b", "c"};
static const char *TYP[] = {"x", "y"};

static int64_t fake_now;
static int64_t global_clock(void *arg) {
  (void)arg;
  return fake_now;
}

static evs_store *mem_store(void) {
  evs_options o = {0};
  o.clock = global_clock;
  o.retention_us = -1;
  evs_store *s = NULL;
  evs_store_open(NULL, &o, &s);
  return s;
}

static uint64_t add(evs_store *s, evs_txn *t, const char *src, const char *typ,
                    int prio) {
  evs_event_in ev = {.source = src, .event_type = typ, .payload = "{\"k\":1}",
                     .priority = prio};
  evs_append_result r;
  fake_now += 1000;
  if (evs_append(s, t, &ev, &r)) return 0;
  return r.id;
}

/* Does event id match q (ignoring cursor and limit)? */
static int matches(evs_store *s, const evs_query *q, uint64_t id) {
  evs_event *e;
  if (evs_get(s, NULL, id, &e)) return 0;
  int ok = 1;
  if (q->status == EVS_QUERY_PENDING && e->status != EVS_STATUS_PENDING) ok = 0;
  if (q->status == EVS_QUERY_ACKNOWLEDGED && e->status != EVS_STATUS_ACKNOWLEDGED) ok = 0;
  if (q->source && strcmp(e->source, q->source)) ok = 0;
  if (q->event_type && strcmp(e->event_type, q->event_type)) ok = 0;
  if (q->priority && e->priority != q->priority) ok = 0;
  if (q->min_id && id < q->min_id) ok = 0;
  if (q->max_id && id > q->max_id) ok = 0;
  if (q->created_after_us && e->created_us <= q->created_after_us) ok = 0;
  if (q->created_before_us && e->created_us >= q->created_before_us) ok = 0;
  evs_event_free(e);
  return ok;
}

/* Page through q and compare with the brute force, in order. */
static int check_walk(evs_store *s, evs_query q, uint64_t maxid) {
  uint64_t want[4096];
  size_t nw = 0;
  for (uint64_t i = 1; i <= maxid; i++) {
    uint64_t id = q.descending ? maxid + 1 - i : i;
    if (matches(s, &q, id)) want[nw++] = id;
  }
  evs_page *pg = NULL;
  size_t got = 0;
  int bad = 0;
  char cur[EVS_CURSOR_SIZE];
  do {
    if (evs_inbox(s, NULL, &q, &pg)) {
      fprintf(stderr, "  inbox: %s\n", evs_errmsg(s));
      bad = 1;
      break;
    }
    for (size_t i = 0; i < evs_page_count(pg); i++) {
      uint64_t id = evs_page_event(pg, i)->id;
      if (got >= nw || want[got] != id) bad = 1;
      got++;
    }
    snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
    q.cursor = cur;
  } while (evs_page_more(pg) && !bad);
  evs_page_free(pg);
  if (got != nw) bad = 1;
  if (bad) fprintf(stderr, "  walk: got %zu events, wanted %zu\n", got, nw);
  return !bad;
}

static void t_status_bounds_descending(void) {
  evs_store *s = mem_store();
  REQUIRE(s);
  uint64_t n = 600;
  for (uint64_t i = 0; i < n; i++)
    REQUIRE(add(s, NULL, SRC[rnd() % 3], TYP[rnd() % 2], 1 + (int)(rnd() % 3)));
  for (uint64_t id = 1; id <= n; id++) {
    if (rnd() % 3 == 0) CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
    else if (rnd() % 10 == 0) CHECK_EQ(evs_delete(s, NULL, id, NULL), 0);
  }
  for (int round = 0; round < 300; round++) {
    evs_query q = {0};
    q.limit = 1 + (unsigned)(rnd() % 40);
    q.status = (int)(rnd() % 3);
    q.descending = (int)(rnd() % 2);
    if (rnd() % 2) q.source = SRC[rnd() % 3];
    if (rnd() % 2) q.event_type = TYP[rnd() % 2];
    if (rnd() % 4 == 0) q.priority = 1 + (int)(rnd() % 3);
    if (rnd() % 3 == 0) q.min_id = rnd() % n;
    if (rnd() % 3 == 0) q.max_id = rnd() % (n + 10);
    if (rnd() % 4 == 0) q.created_after_us = fake_now - (int64_t)(rnd() % (n * 1000));
    if (rnd() % 4 == 0) q.created_before_us = fake_now - (int64_t)(rnd() % (n * 1000));
    if (!check_walk(s, q, n)) {
      fprintf(stderr, "  round %d: status %d desc %d src %s typ %s min %llu max %llu\n",
              round, q.status, q.descending, q.source ? q.source : "-",
              q.event_type ? q.event_type : "-", (unsigned long long)q.min_id,
              (unsigned long long)q.max_id);
      CHECK(0);
      break;
    }
  }
  CHECK_EQ(evs_store_close(s), 0);
}

static void t_bad_status(void) {
  evs_store *s = mem_store();
  REQUIRE(s);
  evs_query q = {.status = 7}; /* 3..6: leased, dead, delayed, claimable */
  evs_page *pg = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "status");
  evs_page_free(pg);
  evs_store_close(s);
}

/* An empty source or event_type filter (after trimming, as append trims
** names) is refused like an empty name at append, in every mode; before,
** it answered with an empty page as if the inbox were empty. */
static void t_empty_filters(void) {
  evs_store *s = mem_store();
  REQUIRE(s);
  REQUIRE(add(s, NULL, "a", "x", 0));
  const char *empty[] = {"", " ", "\t\n "};
  for (int st = EVS_QUERY_PENDING; st <= EVS_QUERY_ANY; st++)
    for (int i = 0; i < 3; i++) {
      evs_page *pg = NULL;
      evs_query q = {.status = st, .source = empty[i]};
      CHECK_EQ(evs_inbox(s, NULL, &q, &pg), EVS_EINVAL);
      CHECK_CONTAINS(evs_errmsg(s), "source filter is empty");
      evs_query q2 = {.status = st, .source = "a", .event_type = empty[i]};
      CHECK_EQ(evs_inbox(s, NULL, &q2, &pg), EVS_EINVAL);
      CHECK_CONTAINS(evs_errmsg(s), "event_type filter is empty");
      evs_page_free(pg);
    }
  /* Trimmed like the stored names: " a " finds source "a". */
  evs_page *pg = NULL;
  evs_query q = {.source = " a ", .event_type = "x\n"};
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  CHECK_EQ(evs_page_count(pg), 1);
  evs_page_free(pg);
  evs_store_close(s);
}

static void t_cursor_make_parse(void) {
  evs_store *s = mem_store();
  REQUIRE(s);
  for (int i = 0; i < 10; i++) REQUIRE(add(s, NULL, "a", "x", 0));
  evs_query q = {.source = "a", .limit = 3};
  char c[EVS_CURSOR_SIZE];
  CHECK_EQ(evs_cursor_make(s, &q, 4, c), 0);
  uint64_t id = 0;
  CHECK_EQ(evs_cursor_parse(s, &q, c, &id), 0);
  CHECK_EQ(id, 4);
  /* A made cursor resumes exactly like a page's cursor. */
  q.cursor = c;
  evs_page *pg = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  CHECK_EQ(evs_page_count(pg), 3);
  CHECK_EQ(evs_page_event(pg, 0)->id, 5);
  /* The limit is not part of the filter; direction and status are. */
  evs_query q2 = {.source = "a", .limit = 7};
  CHECK_EQ(evs_cursor_parse(s, &q2, c, &id), 0);
  q2.descending = 1;
  CHECK_EQ(evs_cursor_parse(s, &q2, c, &id), EVS_ECURSOR);
  q2.descending = 0;
  q2.status = EVS_QUERY_ANY;
  CHECK_EQ(evs_cursor_parse(s, &q2, c, &id), EVS_ECURSOR);
  CHECK_CONTAINS(evs_errmsg(s), "filter");
  CHECK_EQ(evs_cursor_parse(s, &q2, "nonsense", &id), EVS_ECURSOR);
  evs_page_free(pg);
  evs_store_close(s);
}

/* Count pending events as seen by txn t (NULL = committed view). */
static uint64_t count(evs_store *s, evs_txn *t, int status) {
  evs_query q = {.limit = 100, .status = status};
  evs_page *pg = NULL;
  uint64_t n = 0;
  char cur[EVS_CURSOR_SIZE];
  do {
    if (evs_inbox(s, t, &q, &pg)) break;
    n += evs_page_count(pg);
    snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
    q.cursor = cur;
  } while (evs_page_more(pg));
  evs_page_free(pg);
  return n;
}

static void t_savepoints(void) {
  evs_store *s = mem_store();
  REQUIRE(s);
  REQUIRE(add(s, NULL, "a", "x", 0) == 1);
  REQUIRE(add(s, NULL, "a", "x", 0) == 2);
  evs_txn *t;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  CHECK_EQ(add(s, t, "a", "x", 0), 3);
  CHECK_EQ(evs_txn_savepoint(t, 0), 0);
  CHECK_EQ(add(s, t, "b", "y", 0), 4);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_txn_savepoint(t, 1), 0);
  CHECK_EQ(evs_delete(s, t, 2, NULL), 0);
  CHECK_EQ(add(s, t, "c", "y", 0), 5);
  CHECK_EQ(count(s, t, EVS_QUERY_PENDING), 3); /* 3 4 5 */
  CHECK_EQ(evs_txn_rollback_to(t, 1), 0);     /* undo delete 2, append 5 */
  CHECK_EQ(count(s, t, EVS_QUERY_PENDING), 3); /* 2 3 4 */
  evs_event *e;
  CHECK_EQ(evs_get(s, t, 2, &e), 0);
  evs_event_free(e);
  CHECK_EQ(evs_get(s, t, 5, &e), EVS_ENOTFOUND);
  /* The id of the undone append is reused. */
  CHECK_EQ(add(s, t, "c", "y", 0), 5);
  CHECK_EQ(evs_txn_rollback_to(t, 0), 0); /* undo 4, ack 1, 5 */
  CHECK_EQ(count(s, t, EVS_QUERY_PENDING), 3); /* 1 2 3 */
  CHECK_EQ(count(s, t, EVS_QUERY_ACKNOWLEDGED), 0);
  /* Savepoint 0 stays open after a rollback to it. */
  CHECK_EQ(add(s, t, "d", "y", 0), 4);
  CHECK_EQ(evs_txn_rollback_to(t, 0), 0);
  CHECK_EQ(count(s, t, EVS_QUERY_ANY), 3);
  CHECK_EQ(evs_txn_release(t, 0), 0);
  CHECK_EQ(add(s, t, "e", "y", 0), 4);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(count(s, NULL, EVS_QUERY_PENDING), 4);
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) CHECK_STR(e->source, "e");
  evs_event_free(e);
  /* A level never opened means the start of the transaction. */
  REQUIRE(evs_txn_begin(s, &t) == 0);
  CHECK_EQ(add(s, t, "a", "x", 0), 5);
  CHECK_EQ(evs_txn_rollback_to(t, 3), 0);
  CHECK_EQ(evs_get(s, t, 5, &e), EVS_ENOTFOUND);
  CHECK_EQ(evs_txn_rollback(t), 0);
  CHECK_EQ(evs_txn_savepoint(NULL, 0), EVS_EMISUSE);
  evs_store_close(s);
}

/* Rolling back to a savepoint taken before bytes were flushed to the file
** truncates them; the store reopens with exactly the committed events. */
static void t_savepoint_flushed_bytes(void) {
  char *dir = t_tmpdir();
  evs_options o = {0};
  o.compress_threshold = UINT32_MAX;
  o.retention_us = -1;
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  char *big = malloc(300000);
  memset(big, ' ', 300000);
  memcpy(big, "{\"a\":1}", 7);
  evs_event_in ev = {.source = "a", .event_type = "x", .payload = big,
                     .payload_len = 300000};
  evs_txn *t;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  for (int i = 0; i < 5; i++) CHECK_EQ(evs_append(s, t, &ev, NULL), 0);
  CHECK_EQ(evs_txn_savepoint(t, 0), 0);
  for (int i = 0; i < 30; i++) CHECK_EQ(evs_append(s, t, &ev, NULL), 0); /* > 4 MiB */
  CHECK_EQ(evs_txn_rollback_to(t, 0), 0);
  CHECK_EQ(evs_append(s, t, &ev, NULL), 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  evs_stats st;
  evs_stats_get(s, &st);
  CHECK_EQ(st.pending, 6);
  CHECK_EQ(evs_store_close(s), 0);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats_get(s, &st);
  CHECK_EQ(st.pending, 6);
  CHECK_EQ(st.next_id, 7);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  evs_event *e;
  CHECK_EQ(evs_get(s, NULL, 6, &e), 0);
  if (e) CHECK_EQ(e->payload_len, 300000);
  evs_event_free(e);
  evs_store_close(s);
  free(big);
  t_rmdir(dir);
}

/* without_payload: the same events, payload NULL, original length kept,
** and the same cursors (it is not part of the filter). */
static void t_without_payload(void) {
  evs_store *s = mem_store();
  REQUIRE(s);
  char big[3000];
  memset(big, 'x', sizeof big);
  memcpy(big, "{\"a\":\"", 6);
  memcpy(big + sizeof big - 2, "\"}", 2);
  for (int i = 0; i < 30; i++) {
    evs_event_in ev = {.source = "a", .event_type = "x",
                       .payload = i % 3 ? "{\"k\":1}" : big,
                       .payload_len = i % 3 ? 0 : sizeof big};
    REQUIRE(evs_append(s, NULL, &ev, NULL) == 0);
  }
  evs_query q = {.limit = 100}, qn = {.limit = 100, .without_payload = 1};
  evs_page *a = NULL, *b = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &a), 0);
  CHECK_EQ(evs_inbox(s, NULL, &qn, &b), 0);
  CHECK_EQ(evs_page_count(a), 30);
  CHECK_EQ(evs_page_count(b), 30);
  for (size_t i = 0; i < evs_page_count(a) && i < evs_page_count(b); i++) {
    const evs_event *x = evs_page_event(a, i), *y = evs_page_event(b, i);
    CHECK_EQ(x->id, y->id);
    CHECK(y->payload == NULL);
    CHECK_EQ(y->payload_len, x->payload_len);
    CHECK_STR(y->source, x->source);
  }
  CHECK_STR(evs_page_cursor(a), evs_page_cursor(b));
  evs_page_free(a);
  evs_page_free(b);
  evs_store_close(s);
}

int main(void) {
  RUN(t_without_payload);
  RUN(t_status_bounds_descending);
  RUN(t_bad_status);
  RUN(t_empty_filters);
  RUN(t_cursor_make_parse);
  RUN(t_savepoints);
  RUN(t_savepoint_flushed_bytes);
  return TEST_EXIT();
}
