/*
** test_soak.c: a long run of appends, acks and deletes with retention and
** compaction on, showing that disk usage stays bounded.
**
** A fake clock advances 1 ms per operation; retention is 60 s and the
** idempotency window 20 s of that clock (the short run spans 3 retention
** periods), segments are 1 MiB, and compaction runs in the background
** (auto_compact_percent 50). The mix: 60% appends (a third with a key,
** every 50th 20 KB), 35% acks of the two oldest pending events (one in 20
** is skipped and stays pending until retention takes it), 5% deletes.
** Every 1/40 of the run it records bytes on disk, segments, pending and the
** index's memory, and prints the curve. It checks that the disk in the
** second half never exceeds 1.5x the first half's peak (bounded, not
** growing with the operations), evs_verify, and a reopen.
**
** t_segment_numbers: more than 65,536 segments come and go while an old one
** stays (segment numbers must not wrap onto a live segment's slot).
**
**   build/tests/test_soak              short: 200,000 operations (make test)
**   EVS_SOAK_OPS=5000000 build/tests/test_soak     make soak
*/
#include <inttypes.h>
#include <time.h>

#include "evstore.h"
#include "test.h"

static int64_t now_us = 1700000000000000LL;
static int64_t soak_clock(void *arg) { return __atomic_load_n(&now_us, __ATOMIC_RELAXED); }

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct sample {
  uint64_t ops, disk, segments, pending, acked, index;
} sample;

static void t_soak(void) {
  const char *env = getenv("EVS_SOAK_OPS");
  uint64_t total = env ? strtoull(env, NULL, 10) : 200000;
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = EVS_SYNC_OFF;
  o.segment_size = 1 << 20;
  o.retention_us = 60LL * 1000000;
  o.idempotency_window_us = 20LL * 1000000;
  o.auto_compact_percent = 50;
  o.checkpoint_bytes = 16 << 20;
  o.clock = soak_clock;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  char *big = malloc(21000), small[400];
  int n = snprintf(big, 21000, "{\"items\":[");
  for (int k = 0; k < 400; k++) n += snprintf(big + n, 21000 - (size_t)n, "%s{\"sku\":%d}", k ? "," : "", k);
  snprintf(big + n, 21000 - (size_t)n, "]}");
  uint64_t next_ack = 1, appended = 0, acks = 0, deletes = 0, errors = 0;
  enum { NS = 40 };
  sample sm[NS + 1];
  int ns = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint64_t op = 1; op <= total; op++) {
    __atomic_add_fetch(&now_us, 1000, __ATOMIC_RELAXED);
    unsigned r = (unsigned)(rnd() % 100);
    int rc = 0;
    if (r < 60) {
      char key[32];
      snprintf(key, sizeof key, "k%" PRIu64, op);
      snprintf(small, sizeof small, "{\"order\":%" PRIu64 ",\"note\":\"soak\"}", op);
      evs_event_in ev = {.source = op % 7 ? "web" : "cron", .event_type = "order",
                         .payload = op % 50 == 7 ? big : small,
                         .idempotency_key = op % 3 ? NULL : key};
      evs_append_result ar;
      rc = evs_append(s, NULL, &ev, &ar);
      appended += !rc;
    } else if (r < 95) {
      /* The oldest pending event, mostly; one in 20 is skipped (it stays
      ** pending until retention takes it). */
      evs_stats st;
      evs_stats_get(s, &st);
      for (int k = 0; k < 2 && next_ack < st.next_id; k++, next_ack++) {
        if (rnd() % 20 == 0) continue;
        rc = evs_ack(s, NULL, next_ack, NULL);
        if (rc == EVS_ENOTFOUND || rc == EVS_ECONFLICT) rc = 0;
        acks++;
        if (rc) break;
      }
    } else {
      evs_stats st;
      evs_stats_get(s, &st);
      uint64_t id = st.next_id > 1 ? 1 + rnd() % (st.next_id - 1) : 1;
      rc = evs_delete(s, NULL, id, NULL);
      deletes++;
    }
    if (rc) {
      if (errors++ < 5) fprintf(stderr, "  op %" PRIu64 ": %s\n", op, evs_errmsg(s));
    }
    if (op % (total / NS) == 0 && ns <= NS) {
      evs_stats st;
      evs_stats_get(s, &st);
      sm[ns++] = (sample){op, st.disk_bytes, st.segments, st.pending, st.acknowledged,
                          st.index_bytes};
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK_EQ(errors, 0);
  evs_stats st;
  evs_stats_get(s, &st);
  CHECK_EQ(st.maintenance_error, 0);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr,
          "info: soak: %" PRIu64 " ops in %.1f s (%" PRIu64 " appends, %" PRIu64 " acks, %" PRIu64
          " deletes), %" PRIu64 " compactions removed %" PRIu64 " events\n",
          total, secs, appended, acks, deletes, st.compactions, st.compact_removed_events);
  fprintf(stderr, "info: soak:      ops   disk MB  segments  pending    acked  index MB\n");
  uint64_t peak1 = 0, peak2 = 0;
  for (int k = 0; k < ns; k++) {
    if (k % (env ? 1 : 4) == 3 || k == ns - 1 || env)
      fprintf(stderr, "info: soak: %8" PRIu64 " %9.2f %9" PRIu64 " %8" PRIu64 " %8" PRIu64 " %9.2f\n",
              sm[k].ops, sm[k].disk / 1e6, sm[k].segments, sm[k].pending, sm[k].acked,
              sm[k].index / 1e6);
    if (k < ns / 2) peak1 = sm[k].disk > peak1 ? sm[k].disk : peak1;
    else peak2 = sm[k].disk > peak2 ? sm[k].disk : peak2;
  }
  fprintf(stderr, "info: soak: disk peak first half %.2f MB, second half %.2f MB\n", peak1 / 1e6,
          peak2 / 1e6);
  CHECK(peak2 <= peak1 + peak1 / 2);
  int vr = evs_verify(s, NULL);
  if (vr) fprintf(stderr, "  verify: %s\n", evs_errmsg(s));
  CHECK_EQ(vr, 0);
  uint64_t pending = st.pending, next = st.next_id;
  CHECK_EQ(evs_store_close(s), 0);
  /* No background compaction right after the open: it may remove expired
  ** events (counted as pending until then) before the stats are read. */
  o.auto_compact_percent = -1;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats_get(s, &st);
  CHECK_EQ(st.pending, pending);
  CHECK_EQ(st.next_id, next);
  CHECK_EQ(st.checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  free(big);
  t_rmdir(dir);
}

/* Segment numbers over a long life, with the real number of slots
** (65,536): one old segment stays, full of a pending event, while more
** than 65,536 newer ones come and go (an append, an ack and a small
** pending event acked eight rounds later per round, compaction every 16
** rounds). Every round rolls at least once, so segment numbers pass
** 65,537, whose slot is the old segment's: that roll failed with
** EVS_ECORRUPT ("more than 65536 live segments"), and every write after
** it. In memory, so it takes seconds. */
static void t_segment_numbers(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  o.compress_threshold = UINT32_MAX;
  o.auto_compact_percent = -1;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(NULL, &o, &s) == 0);
  static char big[4200];
  snprintf(big, sizeof big, "{\"pad\":\"%04100d\"}", 1); /* a segment of its own */
  evs_event_in ev = {.source = "old", .event_type = "t", .payload = big};
  evs_append_result r;
  REQUIRE(evs_append(s, NULL, &ev, &r) == 0);
  const long rounds = 66000;
  uint64_t small[8] = {0}, errors = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < rounds && errors < 5; i++) {
    ev.source = "new";
    ev.payload = big;
    int rc = evs_append(s, NULL, &ev, &r);
    if (!rc) rc = evs_ack(s, NULL, r.id, NULL);
    evs_event_in sm = {.source = "small", .event_type = "t", .payload = "{}"};
    if (!rc) rc = evs_append(s, NULL, &sm, &r);
    if (!rc && small[i % 8]) rc = evs_ack(s, NULL, small[i % 8], NULL);
    small[i % 8] = r.id;
    if (!rc && i % 16 == 15) rc = evs_compact(s, NULL);
    if (rc && errors++ < 5) fprintf(stderr, "  round %ld: %s\n", i, evs_errmsg(s));
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK_EQ(errors, 0);
  CHECK_EQ(evs_compact(s, NULL), 0);
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  CHECK_EQ(st.pending, 1 + 8);
  CHECK(st.segments <= 4);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_STR(e->payload, big);
  evs_event_free(e);
  CHECK_EQ(evs_verify(s, NULL), 0);
  fprintf(stderr, "info: segment numbers: %ld rounds (more than %ld segments started) in %.1f s\n",
          rounds, rounds,
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  CHECK_EQ(evs_store_close(s), 0);
}

int main(void) {
  RUN(t_soak);
  RUN(t_segment_numbers);
  return TEST_EXIT();
}
