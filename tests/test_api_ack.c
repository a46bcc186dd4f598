/*
** test_api_ack.c: ack, ack_batch, delete and append_batch (also from parallel
** threads).
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- ack --------------------------------------------------------------- */

static void t_ack(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  for (int i = 0; i < 3; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  c.now = T0 + 777;
  int64_t acked = 0;
  CHECK_EQ(evs_ack(s, NULL, 2, &acked), 0);
  CHECK_EQ(acked, T0 + 777);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  if (e) {
    CHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
    CHECK_EQ(e->acknowledged_us, T0 + 777);
    CHECK_EQ(e->created_us, T0);
  }
  evs_event_free(e);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2);
  CHECK_EQ(st.acknowledged, 1);
  CHECK(!inbox_has(s, NULL, 2));
  CHECK(inbox_has(s, NULL, 1));
  /* Again: conflict, nothing changes. */
  c.now = T0 + 999;
  acked = 0;
  CHECK_EQ(evs_ack(s, NULL, 2, &acked), EVS_ECONFLICT);
  CHECK_CONTAINS(evs_errmsg(s), "already acknowledged");
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  if (e) CHECK_EQ(e->acknowledged_us, T0 + 777);
  evs_event_free(e);
  /* acked_us may be NULL. */
  CHECK_EQ(evs_ack(s, NULL, 3, NULL), 0);
  /* Unknown ids. */
  CHECK_EQ(evs_ack(s, NULL, 0, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, 4, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, UINT64_MAX, NULL), EVS_ENOTFOUND);
  st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.acknowledged, 2);
  /* Clock backwards: acknowledged_us not before created_us. */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0); /* id 4 at T0+999 */
  c.now = T0;
  CHECK_EQ(evs_ack(s, NULL, 4, &acked), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) CHECK(e->acknowledged_us >= e->created_us);
  evs_event_free(e);
  evs_store_close(s);
}

static void t_ack_batch(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  for (int i = 0; i < 5; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 4, NULL), 0);
  uint64_t ids[] = {1, 999, 4, 2, 2, 0, 5};
  int rcs[7];
  memset(rcs, 0x55, sizeof rcs);
  CHECK_EQ(evs_ack_batch(s, NULL, ids, 7, rcs), 0);
  CHECK_EQ(rcs[0], 0);
  CHECK_EQ(rcs[1], EVS_ENOTFOUND);
  CHECK_EQ(rcs[2], EVS_ECONFLICT);
  CHECK_EQ(rcs[3], 0);
  CHECK_EQ(rcs[4], EVS_ECONFLICT);
  CHECK_EQ(rcs[5], EVS_ENOTFOUND);
  CHECK_EQ(rcs[6], 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.acknowledged, 4);
  CHECK(inbox_has(s, NULL, 3));
  CHECK(!inbox_has(s, NULL, 1));
  CHECK(!inbox_has(s, NULL, 5));
  /* n == 0 */
  CHECK_EQ(evs_ack_batch(s, NULL, ids, 0, rcs), 0);
  /* All failing: still 0, rcs say why. */
  uint64_t ids2[] = {1, 77};
  CHECK_EQ(evs_ack_batch(s, NULL, ids2, 2, rcs), 0);
  CHECK_EQ(rcs[0], EVS_ECONFLICT);
  CHECK_EQ(rcs[1], EVS_ENOTFOUND);
  evs_store_close(s);
}

/* ---- delete ------------------------------------------------------------ */

static void t_delete(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  for (int i = 0; i < 4; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 3, NULL), 0);
  int existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 2, &existed), 0);
  CHECK_EQ(existed, 1);
  existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 2, &existed), 0);
  CHECK_EQ(existed, 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, 2));
  CHECK(inbox_has(s, NULL, 1));
  CHECK(inbox_has(s, NULL, 4));
  /* Acknowledged events can be deleted too. */
  existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 3, &existed), 0);
  CHECK_EQ(existed, 1);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), EVS_ENOTFOUND);
  /* Never existed; existed may be NULL. */
  existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 99, &existed), 0);
  CHECK_EQ(existed, 0);
  CHECK_EQ(evs_delete(s, NULL, 0, NULL), 0);
  CHECK_EQ(evs_delete(s, NULL, 1, NULL), 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.acknowledged, 0);
  /* Deleted ids are not reused. */
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 5);
  /* Deleting the newest event does not make its id reusable either. */
  CHECK_EQ(evs_delete(s, NULL, 5, NULL), 0);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 6);
  evs_store_close(s);
}

/* ---- append_batch ------------------------------------------------------ */

static void t_append_batch(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "existing", &r), 0); /* id 1 */
  c.now += 100;
  evs_event_in ev[8];
  ev[0] = ev_make("a", "t", "{\"n\":0}");
  ev[1] = ev_make("", "t", "{}"); /* EINVAL */
  ev[2] = ev_make("a", "t", "[1]"); /* EJSON */
  ev[3] = ev_make("a", "t", "{\"n\":3}");
  ev[3].idempotency_key = "dup";
  ev[4] = ev_make("a", "t", "{\"n\":4}");
  ev[4].idempotency_key = "dup"; /* duplicate of ev[3] */
  ev[5] = ev_make("a", "t", "{\"n\":5}");
  ev[5].idempotency_key = "existing"; /* duplicate of id 1 */
  ev[6] = ev_make("a", "t", "{}");
  ev[6].priority = 9; /* EINVAL */
  ev[7] = ev_make("b", "u", "{\"n\":7}");
  evs_append_result res[8];
  memset(res, 0x33, sizeof res);
  CHECK_EQ(evs_append_batch(s, NULL, ev, 8, res), 0);
  CHECK_EQ(res[0].rc, 0);
  CHECK_EQ(res[0].duplicate, 0);
  CHECK_EQ(res[0].id, 2);
  CHECK_EQ(res[0].created_us, T0 + 100);
  CHECK_EQ(res[1].rc, EVS_EINVAL);
  CHECK_EQ(res[2].rc, EVS_EJSON);
  CHECK_EQ(res[3].rc, 0);
  CHECK_EQ(res[3].duplicate, 0);
  CHECK_EQ(res[3].id, 3);
  CHECK_EQ(res[4].rc, 0);
  CHECK_EQ(res[4].duplicate, 1);
  CHECK_EQ(res[4].id, 3);
  CHECK_EQ(res[5].rc, 0);
  CHECK_EQ(res[5].duplicate, 1);
  CHECK_EQ(res[5].id, 1);
  CHECK_EQ(res[5].created_us, T0);
  CHECK_EQ(res[6].rc, EVS_EINVAL);
  CHECK_EQ(res[7].rc, 0);
  CHECK_EQ(res[7].duplicate, 0);
  CHECK_EQ(res[7].id, 4);
  evs_stats st = stats(s);
  CHECK_EQ(st.next_id, 5);
  CHECK_EQ(st.pending, 4);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), 0);
  if (e) CHECK_STR(e->payload, "{\"n\":3}");
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) {
    CHECK_STR(e->source, "b");
    CHECK_STR(e->payload, "{\"n\":7}");
  }
  evs_event_free(e);
  /* n == 0 */
  CHECK_EQ(evs_append_batch(s, NULL, ev, 0, res), 0);
  CHECK_EQ(stats(s).next_id, 5);
  /* Bigger batch: dense ids. */
  enum { N = 500 };
  evs_event_in *many = calloc(N, sizeof *many);
  evs_append_result *mres = calloc(N, sizeof *mres);
  for (int i = 0; i < N; i++) many[i] = ev_make("bulk", "t", "{\"b\":1}");
  CHECK_EQ(evs_append_batch(s, NULL, many, N, mres), 0);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(mres[i].rc, 0);
    if (mres[i].id != (uint64_t)(5 + i)) {
      CHECK_EQ(mres[i].id, 5 + i);
      break;
    }
  }
  CHECK_EQ(stats(s).next_id, 5 + N);
  free(many);
  free(mres);
  evs_store_close(s);
}

/* A JSON object of about n bytes, an order-like list of items; seed varies
** the content. Compresses well unless noisy. */
static char *big_json(size_t n, unsigned seed, int noisy) {
  char *p = malloc(n + 64);
  size_t k = (size_t)snprintf(p, n + 64, "{\"seed\":%u,\"items\":[", seed);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (unsigned j = 0; k + 48 < n; j++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (noisy)
      k += (size_t)snprintf(p + k, n + 64 - k, "%s\"%016llx%016llx\"", j ? "," : "",
                            (unsigned long long)x, (unsigned long long)(x * 31));
    else
      k += (size_t)snprintf(p + k, n + 64 - k, "%s{\"sku\":\"SKU-%05u\",\"qty\":%u}",
                            j ? "," : "", (unsigned)(x % 100000), (unsigned)(x % 9) + 1);
  }
  snprintf(p + k, n + 64 - k, "]}");
  return p;
}

/* The bytes of path from offset `from` on (NULL if unreadable). */
static char *file_tail(const char *path, long from, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f) - from;
  char *b = n > 0 ? malloc((size_t)n) : NULL;
  fseek(f, from, SEEK_SET);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = n;
  return b;
}

/* A batch big enough for the worker thread (large payloads to compress,
** failures in large and small items) must give what the same events give
** appended one by one in one explicit transaction, which never involves the
** worker: the same results, the same first error message, and the same
** bytes in the log (records after the 64-byte segment header; the header
** carries the store id). Repeated: which thread prepares which item varies
** from run to run. The last rounds pass a foreign transaction, which fails
** the batch after the worker has started. */
static void t_append_batch_parallel(void) {
  enum { N = 120, ROUNDS = 24 };
  static const char *keys[] = {"k-a", "k-b", "k-a"};
  evs_event_in ev[N];
  char *bufs[N] = {0};
  for (int i = 0; i < N; i++) {
    ev[i] = ev_make(i % 3 ? "app-1" : "app-2", "order.created", "{\"i\":1}");
    if (i == 33)
      ev[i].payload = bufs[i] = big_json(12000, 33, 1); /* stored raw */
    else if (i % 10 == 3)
      ev[i].payload = bufs[i] = big_json(9000 + 1500 * (size_t)(i % 7), (unsigned)i, 0);
    if (i == 13) bufs[i][strlen(bufs[i]) - 1] = 0;                    /* large, bad JSON */
    if (i == 53) ev[i].metadata = "{\"trace\":}";                     /* large, bad metadata */
    if (i == 40) ev[i].payload = "{\"i\":01}";                        /* small, bad JSON */
    if (i == 77) ev[i].priority = 9;
    if (i == 23) ev[i].source = "";                                   /* large, bad source */
    if (i >= 60 && i < 63) ev[i].idempotency_key = keys[i - 60];
    if (i == 100) ev[i].payload_len = strlen(ev[i].payload);
    if (!ev[i].metadata && i % 4 == 0) ev[i].metadata = "{\"trace\":\"abc\"}";
  }
  char *ba = NULL, *bb = NULL;
  for (int round = 0; round < ROUNDS; round++) {
    int foreign = round >= ROUNDS - 4;
    fake_clock c = {T0 + round};
    evs_options o = opts_clock(&c);
    char *da = t_tmpdir(), *db = t_tmpdir();
    evs_store *a = NULL, *b = NULL, *x = NULL;
    REQUIRE(evs_store_open(da, &o, &a) == 0 && evs_store_open(db, &o, &b) == 0);
    evs_append_result ra[N], rb[N];
    char want[600] = "", got[600];
    evs_txn *t = NULL, *xt = NULL;
    if (foreign) {
      REQUIRE((x = open_mem(&o)) != NULL);
      REQUIRE(evs_txn_begin(x, &xt) == 0);
    }
    int rc = evs_append_batch(a, xt, ev, N, ra);
    snprintf(got, sizeof got, "%s", evs_errmsg(a));
    CHECK_EQ(rc, foreign ? EVS_EMISUSE : 0);
    REQUIRE(evs_txn_begin(b, &t) == 0);
    for (int i = 0; i < N; i++) {
      int r = evs_append(b, t, &ev[i], &rb[i]);
      CHECK_EQ(r, rb[i].rc);
      if (r && !want[0] && !foreign)
        snprintf(want, sizeof want, "item %d: %s", i, evs_errmsg(b));
      int prep_failed = i == 13 || i == 53 || i == 40 || i == 77 || i == 23;
      CHECK_EQ(r != 0, prep_failed);
      CHECK_EQ(ra[i].rc, prep_failed ? r : foreign ? EVS_EMISUSE : 0);
      if (!foreign) {
        CHECK_EQ(ra[i].id, rb[i].id);
        CHECK_EQ(ra[i].duplicate, rb[i].duplicate);
        CHECK_EQ(ra[i].created_us, rb[i].created_us);
      }
    }
    CHECK_EQ(rb[62].duplicate, 1);
    if (foreign) {
      CHECK_CONTAINS(got, "transaction does not belong to this store");
      CHECK_EQ(evs_txn_rollback(t), 0);
      CHECK_EQ(evs_txn_rollback(xt), 0);
      CHECK_EQ(stats(a).next_id, 1);
      evs_store_close(x);
    } else {
      CHECK_STR(got, want);
      CHECK_EQ(evs_txn_commit(t), 0);
      CHECK_EQ(stats(a).next_id, N - 5 - 1 + 1);
      evs_stats sa = stats(a), sb = stats(b);
      CHECK_EQ(sa.payload_stored_bytes, sb.payload_stored_bytes);
      CHECK(sa.payload_stored_bytes < sa.payload_bytes / 2);
    }
    CHECK_EQ(evs_store_close(a), 0);
    CHECK_EQ(evs_store_close(b), 0);
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%016x.evlog", da, 1);
    snprintf(pb, sizeof pb, "%s/%016x.evlog", db, 1);
    long la = 0, lb = 0;
    free(ba);
    free(bb);
    ba = file_tail(pa, 64, &la);
    bb = file_tail(pb, 64, &lb);
    CHECK_EQ(la, lb);
    if (!foreign) {
      REQUIRE(ba && bb && la > 20000);
      CHECK(memcmp(ba, bb, (size_t)la) == 0);
    }
    t_rmdir(da);
    t_rmdir(db);
  }
  free(ba);
  free(bb);
  for (int i = 0; i < N; i++) free(bufs[i]);
}

int main(void) {
  RUN(t_ack);
  RUN(t_ack_batch);
  RUN(t_delete);
  RUN(t_append_batch);
  RUN(t_append_batch_parallel);
  return TEST_EXIT();
}
