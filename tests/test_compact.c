/*
** test_compact.c: compaction, index checkpoints and the background work.
**
** Compaction: what is removed (deleted, expired, acknowledged without a key
** or past its window) and what stays byte for byte (pending events: id,
** time, payload; acknowledged events whose key must still deduplicate);
** ids never reused after everything is gone; pages read before a
** compaction stay readable; appends, acks and readers running on other
** threads during compactions; an I/O failure at every call of a
** compaction (the store keeps working, reopens to the same events,
** evs_verify clean). A store smaller than one segment: the open segment
** sealed and compacted when enough of it is dead, and the report's reasons
** for what was kept. Crashes and power loss during compaction are covered
** by test_powerloss (evs_compact is one of its workload steps).
**
** Checkpoints: loaded after a clean close (nothing replayed), the log
** after it replayed after a crash, ignored and reported when missing,
** damaged (every byte flipped in turn), stale (the log cut below it,
** compaction since) or off; periodic checkpoints from the background
** thread; automatic compaction.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "io.h"
#include "testlib.h"

/* ---- helpers ------------------------------------------------------------ */

static int64_t fake_now = 1700000000000000LL;
static int64_t global_clock(void *arg) { return __atomic_load_n(&fake_now, __ATOMIC_RELAXED); }

static void payload_of(char *buf, size_t cap, unsigned i) {
  snprintf(buf, cap, "{\"i\":%u,\"pad\":\"%.*s\"}", i, 60 + (int)(i % 90),
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

static uint64_t append_i(evs_store *s, unsigned i, int keyed) {
  char p[300], k[32];
  payload_of(p, sizeof p, i);
  snprintf(k, sizeof k, "key-%u", i);
  evs_event_in ev = {.source = i % 2 ? "odd" : "even", .event_type = "t", .payload = p,
                     .idempotency_key = keyed ? k : NULL};
  evs_append_result r;
  int rc = evs_append(s, NULL, &ev, &r);
  CHECK_EQ(rc, 0);
  return rc ? 0 : r.id;
}

static evs_options small_opts(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  o.auto_compact_percent = -1;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  o.clock = global_clock;
  return o;
}

/* What a test expects of each id: 0 gone, 1 pending, 2 acknowledged. */
typedef struct expect {
  int state[2000];
  int64_t created[2000];
  unsigned n; /* ids 1..n */
} expect;

static void check_all(evs_store *s, const expect *x, const char *when) {
  for (unsigned id = 1; id <= x->n; id++) {
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, id, &e);
    int got = rc == EVS_ENOTFOUND ? 0 : rc ? -1 : e->status == EVS_STATUS_ACKNOWLEDGED ? 2 : 1;
    if (got != x->state[id]) {
      fprintf(stderr, "  %s: event %u is %d (rc %d), expected %d\n", when, id, got, rc,
              x->state[id]);
      t_failed_checks++;
    }
    if (!rc) {
      char p[300];
      payload_of(p, sizeof p, id);
      CHECK_STR(e->payload, p);
      CHECK_EQ(e->created_us, x->created[id]);
    }
    evs_event_free(e);
  }
  evs_verify_report vr;
  int rc = evs_verify(s, &vr);
  if (rc) fprintf(stderr, "  %s: verify: %s\n", when, evs_errmsg(s));
  CHECK_EQ(rc, 0);
}

/* A store of n events (every 5th keyed); acks the ids where ack(id), deletes
** where del(id). */
static evs_store *build(const char *dir, evs_options *o, expect *x, unsigned n,
                        int (*ack)(unsigned), int (*del)(unsigned)) {
  evs_store *s = NULL;
  if (evs_store_open(dir, o, &s)) {
    fprintf(stderr, "  open: %s\n", evs_errmsg(NULL));
    exit(1);
  }
  memset(x, 0, sizeof *x);
  x->n = n;
  for (unsigned i = 1; i <= n; i++) {
    __atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
    CHECK_EQ(append_i(s, i, i % 5 == 0), i);
    x->state[i] = 1;
    x->created[i] = global_clock(NULL);
  }
  for (unsigned i = 1; i <= n; i++) {
    if (ack && ack(i)) {
      CHECK_EQ(evs_ack(s, NULL, i, NULL), 0);
      x->state[i] = 2;
    }
    if (del && del(i)) {
      CHECK_EQ(evs_delete(s, NULL, i, NULL), 0);
      x->state[i] = 0;
    }
  }
  return s;
}

static int ack_most(unsigned i) { return i % 4 != 1; }
static int del_some(unsigned i) { return i % 16 == 3 || i % 16 == 1; }
static int ack_all(unsigned i) { return 1; }

/* Acknowledged events without a key, and deleted ones, go. */
static void expect_compacted(expect *x, const evs_store *s) {
  (void)s;
  for (unsigned i = 1; i <= x->n; i++)
    if (x->state[i] == 2 && i % 5) x->state[i] = 0;
}

/* ---- compaction ---------------------------------------------------------- */

static void t_compact_keeps_live_bytes(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  expect x;
  evs_store *s = build(dir, &o, &x, 600, ack_most, del_some);
  check_all(s, &x, "before");
  evs_stats b = stats(s);
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK(r.segments_removed + r.segments_rewritten > 0);
  CHECK(r.events_removed > 300);
  CHECK(r.bytes_after < r.bytes_before / 2);
  CHECK_EQ(r.segments_before, b.segments);
  evs_stats a = stats(s);
  CHECK_EQ(a.pending, b.pending);
  CHECK(a.acknowledged < b.acknowledged);
  CHECK_EQ(a.next_id, 601);
  CHECK_EQ(a.compactions, 1);
  expect_compacted(&x, s);
  /* The open segment is sealed and compacted only past
  ** compact_dead_percent: when it was not, it keeps its acknowledged
  ** events. */
  for (unsigned i = 1; i <= x.n; i++)
    if (x.state[i] == 0 && i % 5 && ack_most(i) && !del_some(i)) {
      evs_event *e;
      if (!evs_get(s, NULL, i, &e)) {
        x.state[i] = 2;
        evs_event_free(e);
      }
    }
  check_all(s, &x, "after compaction");
  /* Inbox order and cursors work across the rewritten segments. */
  evs_query q = {.limit = 100};
  evs_page *pg = NULL;
  uint64_t last = 0, seen = 0;
  for (;;) {
    CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
    for (size_t k = 0; k < evs_page_count(pg); k++) {
      CHECK(evs_page_event(pg, k)->id > last);
      last = evs_page_event(pg, k)->id;
      seen++;
    }
    if (!evs_page_more(pg)) break;
    q.cursor = evs_page_cursor(pg);
  }
  evs_page_free(pg);
  CHECK_EQ(seen, a.pending);
  /* A kept key still deduplicates; a removed one is forgotten. */
  char p[300];
  payload_of(p, sizeof p, 20);
  evs_event_in dup = {.source = "even", .event_type = "t", .payload = p, .idempotency_key = "key-20"};
  evs_append_result ar;
  CHECK_EQ(evs_append(s, NULL, &dup, &ar), 0);
  CHECK(ar.duplicate);
  CHECK_EQ(ar.id, 20);
  /* A second pass finds little more to do. */
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.events_removed, 0);
  CHECK_EQ(evs_store_close(s), 0);

  /* Reopen from the checkpoint, then from the log alone. */
  s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK_EQ(stats(s).open_replayed_bytes, 0);
  check_all(s, &x, "reopened (checkpoint)");
  CHECK_EQ(evs_store_close(s), 0);
  char ck[600];
  snprintf(ck, sizeof ck, "%s/evstore.checkpoint", dir);
  CHECK_EQ(unlink(ck), 0);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_NONE);
  check_all(s, &x, "reopened (log)");
  CHECK_EQ(stats(s).next_id, 601);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A store smaller than one segment: 100 events, 90 of them dead (72
** acknowledged without a key, 18 deleted), all in the open segment. */
static int small_live(unsigned i) { return i % 10 == 1; }
static int small_ack(unsigned i) { return !small_live(i) && i % 5; }
static int small_del(unsigned i) { return !small_live(i) && !(i % 5); }

/* Bytes of the segment files in dir. */
static uint64_t log_bytes(const char *dir) {
  uint64_t n = 0;
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 6, ".evlog")) continue;
    char path[700];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (!stat(path, &st)) n += (uint64_t)st.st_size;
  }
  closedir(d);
  return n;
}

static void t_compact_open_segment(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.segment_size = 1 << 20;
  expect x;
  evs_store *s = build(dir, &o, &x, 100, small_ack, small_del);
  evs_stats b = stats(s);
  CHECK_EQ(b.segments, 1);
  uint64_t lb = log_bytes(dir);
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.open_segment, EVS_COMPACT_OPEN_SEALED);
  CHECK_EQ(r.segments_before, 1);
  CHECK_EQ(r.segments_rewritten, 1);
  CHECK_EQ(r.segments_removed, 0);
  CHECK_EQ(r.segments_kept, 0);
  CHECK_EQ(r.segments_after, 2); /* the rewritten one and a new open one */
  CHECK_EQ(r.events_removed, 90);
  evs_stats a = stats(s);
  uint64_t la = log_bytes(dir);
  fprintf(stderr, "info: open segment compaction: segment files %llu -> %llu bytes, all "
                  "files (with the checkpoint compaction writes) %llu -> %llu\n",
          (unsigned long long)lb, (unsigned long long)la, (unsigned long long)r.bytes_before,
          (unsigned long long)r.bytes_after);
  /* 10 of 100 events stay, and a new open segment's header. */
  CHECK(la < lb / 5);
  CHECK(r.bytes_after < r.bytes_before);
  CHECK_EQ(a.disk_bytes, r.bytes_after);
  CHECK_EQ(a.pending, 10);
  CHECK_EQ(a.acknowledged, 0);
  CHECK_EQ(a.next_id, 101);
  for (unsigned i = 1; i <= x.n; i++) x.state[i] = small_live(i);
  check_all(s, &x, "after compaction"); /* ids, times, payloads; evs_verify */
  /* Nothing dead is left: a second pass keeps everything and says why. */
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.open_segment, EVS_COMPACT_OPEN_EMPTY);
  CHECK_EQ(r.events_removed, 0);
  CHECK_EQ(r.segments_rewritten + r.segments_removed, 0);
  CHECK_EQ(r.segments_kept, 1);
  CHECK_EQ(r.bytes_after, r.bytes_before);
  /* Appends go on in the new open segment. */
  CHECK_EQ(append_i(s, 101, 0), 101);
  x.n = 101;
  x.state[101] = 1;
  x.created[101] = global_clock(NULL);
  CHECK_EQ(evs_store_close(s), 0);

  s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  check_all(s, &x, "reopened (checkpoint)");
  CHECK_EQ(evs_store_close(s), 0);
  char ck[600];
  snprintf(ck, sizeof ck, "%s/evstore.checkpoint", dir);
  CHECK_EQ(unlink(ck), 0);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  check_all(s, &x, "reopened (log)");
  CHECK_EQ(stats(s).next_id, 102);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* Nothing (or too little) dead: nothing is rewritten, and the report says
** why each segment was kept. */
static int ack_tenth(unsigned i) { return i % 10 == 3; }

static void t_compact_keeps_reasons(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.segment_size = 1 << 20;
  expect x;
  evs_store *s = build(dir, &o, &x, 100, NULL, NULL);
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.open_segment, EVS_COMPACT_OPEN_LIVE);
  CHECK_EQ(r.segments_before, 1);
  CHECK_EQ(r.segments_after, 1);
  CHECK_EQ(r.segments_rewritten + r.segments_removed + r.events_removed, 0);
  CHECK_EQ(r.segments_kept, 0);
  CHECK_EQ(r.bytes_after, r.bytes_before);
  char json[EVS_STATS_JSON_SIZE];
  CHECK_EQ(evs_compact_report_json(&r, json, sizeof json), 0);
  CHECK(strstr(json, "\"segments_kept\":0,\"open_segment\":\"nothing_dead\"}") != NULL);
  /* 10% dead is below compact_dead_percent (50). */
  for (unsigned i = 1; i <= 100; i++)
    if (ack_tenth(i)) CHECK_EQ(evs_ack(s, NULL, i, NULL), 0);
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.open_segment, EVS_COMPACT_OPEN_BELOW);
  CHECK_EQ(r.segments_after, 1);
  CHECK_EQ(r.events_removed, 0);
  CHECK_EQ(stats(s).acknowledged, 10);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);

  /* Sealed segments with 10% dead are kept, and counted. */
  dir = t_tmpdir();
  o = small_opts();
  s = build(dir, &o, &x, 300, ack_tenth, NULL);
  uint64_t nseg = stats(s).segments;
  CHECK(nseg > 4);
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.segments_rewritten + r.segments_removed + r.events_removed, 0);
  CHECK_EQ(r.segments_kept, nseg - 1);
  CHECK(r.open_segment == EVS_COMPACT_OPEN_BELOW || r.open_segment == EVS_COMPACT_OPEN_LIVE);
  CHECK_EQ(stats(s).segments, nseg);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
  /* An in-memory store: the open segment is sealed and compacted as well. */
  s = NULL;
  o = small_opts();
  o.segment_size = 1 << 20;
  s = build(NULL, &o, &x, 100, small_ack, small_del);
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK_EQ(r.open_segment, EVS_COMPACT_OPEN_SEALED);
  CHECK_EQ(r.events_removed, 90);
  for (unsigned i = 1; i <= x.n; i++) x.state[i] = small_live(i);
  check_all(s, &x, "in memory");
  CHECK_EQ(evs_store_close(s), 0);
}

static void t_compact_everything_gone(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.idempotency_window_us = 1000000; /* 1 s */
  expect x;
  evs_store *s = build(dir, &o, &x, 400, ack_all, NULL);
  __atomic_add_fetch(&fake_now, 2000000, __ATOMIC_RELAXED); /* every key's window is over */
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK(r.segments_removed > 5);
  CHECK_EQ(r.segments_after, 1 + r.segments_rewritten);
  evs_stats st = stats(s);
  CHECK(st.acknowledged < 40); /* those of the open segment */
  CHECK_EQ(evs_store_close(s), 0);
  char ck[600];
  snprintf(ck, sizeof ck, "%s/evstore.checkpoint", dir);
  unlink(ck);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).next_id, 401); /* ids are never reused */
  CHECK_EQ(append_i(s, 401, 0), 401);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void t_compact_expiry(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.retention_us = 3600LL * 1000000; /* 1 h */
  expect x;
  evs_store *s = build(dir, &o, &x, 300, NULL, NULL);
  __atomic_add_fetch(&fake_now, 2 * 3600LL * 1000000, __ATOMIC_RELAXED);
  for (unsigned i = 301; i <= 340; i++) CHECK_EQ(append_i(s, i, 0), i);
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK(r.events_removed >= 250);
  CHECK(stats(s).pending < 100);
  /* Expired keys are forgotten with their events: key-5 is new again. */
  char p[300];
  payload_of(p, sizeof p, 5);
  evs_event_in ev = {.source = "odd", .event_type = "t", .payload = p, .idempotency_key = "key-5"};
  evs_append_result ar;
  CHECK_EQ(evs_append(s, NULL, &ev, &ar), 0);
  CHECK(!ar.duplicate);
  CHECK_EQ(ar.id, 341);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void t_compact_page_survives(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.compress_threshold = UINT32_MAX; /* payloads point into the mapping */
  expect x;
  evs_store *s = build(dir, &o, &x, 400, ack_most, NULL);
  evs_query q = {.limit = 100};
  evs_page *pg = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  size_t n = evs_page_count(pg);
  CHECK(n > 50);
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), 0);
  CHECK(r.segments_rewritten + r.segments_removed > 0);
  /* The page's strings point into segments compaction retired. */
  for (size_t k = 0; k < n; k++) {
    const evs_event *e = evs_page_event(pg, k);
    char p[300];
    payload_of(p, sizeof p, (unsigned)e->id);
    CHECK_STR(e->payload, p);
    CHECK_STR(e->source, e->id % 2 ? "odd" : "even");
  }
  /* Reusing the page lets the retired mappings go; it reads the new ones. */
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  CHECK_EQ(evs_page_count(pg), n);
  /* A page freed after its store closed (a misuse, but a common one) is
  ** harmless, also when compaction retired segments meanwhile. */
  evs_page *late = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &late), 0);
  CHECK_EQ(evs_compact(s, &r), 0);
  evs_page_free(pg);
  CHECK_EQ(evs_store_close(s), 0);
  evs_page_free(late);
  t_rmdir(dir);
}

/* Damage in a segment open did not read (the checkpoint covers it) is never
** copied by compaction: it stops with EVS_ECORRUPT and changes nothing. */
static void t_compact_refuses_damage(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  expect x;
  evs_store *s = build(dir, &o, &x, 300, ack_most, NULL);
  CHECK_EQ(evs_store_close(s), 0);
  char seg[700];
  snprintf(seg, sizeof seg, "%s/0000000000000001.evlog", dir);
  FILE *f = fopen(seg, "r+b");
  REQUIRE(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  for (long off = 200; off < n; off += 97) { /* a byte in many records */
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x10, f);
  }
  fclose(f);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  evs_stats before = stats(s);
  evs_compact_report r;
  CHECK_EQ(evs_compact(s, &r), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(s), "0000000000000001.evlog");
  CHECK_EQ(r.segments_removed + r.segments_rewritten, 0);
  CHECK_EQ(stats(s).segments, before.segments);
  CHECK(access(seg, F_OK) == 0);
  CHECK_EQ(evs_verify(s, NULL), EVS_ECORRUPT);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- compaction while other threads work ------------------------------ */

typedef struct conc {
  evs_store *s;
  int stop;
  uint64_t appended;
  int errors;
} conc;

static void *appender(void *arg) {
  conc *c = arg;
  for (unsigned i = 0; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
    char p[300];
    payload_of(p, sizeof p, 100000 + i);
    evs_event_in ev = {.source = "conc", .event_type = "t", .payload = p};
    evs_append_result r;
    if (evs_append(c->s, NULL, &ev, &r)) __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
    else __atomic_store_n(&c->appended, r.id, __ATOMIC_RELEASE);
    /* Ack most of what is there, so compaction has work. */
    if (i % 64 == 63) { /* let the compactor keep up: a bounded log */
      struct timespec ts = {0, 200000};
      nanosleep(&ts, NULL);
    }
    if (r.id > 3 && r.id % 4) {
      int rc = evs_ack(c->s, NULL, r.id - 2, NULL);
      if (rc && rc != EVS_ECONFLICT && rc != EVS_ENOTFOUND)
        __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
    }
  }
  return NULL;
}

static void *reader(void *arg) {
  conc *c = arg;
  evs_page *pg = NULL;
  while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
    evs_query q = {.limit = 50, .source = "conc"};
    if (evs_inbox(c->s, NULL, &q, &pg)) {
      __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
      continue;
    }
    for (size_t k = 0; k < evs_page_count(pg); k++) {
      const evs_event *e = evs_page_event(pg, k);
      if (strncmp(e->payload, "{\"i\":", 5)) __atomic_add_fetch(&c->errors, 1, __ATOMIC_RELAXED);
    }
  }
  evs_page_free(pg);
  return NULL;
}

static void t_compact_concurrent(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.clock = NULL; /* real time */
  o.sync = EVS_SYNC_OFF;
  o.segment_size = 64 << 10;
  conc c = {0};
  REQUIRE(evs_store_open(dir, &o, &c.s) == 0);
  pthread_t th[3];
  pthread_create(&th[0], NULL, appender, &c);
  pthread_create(&th[1], NULL, reader, &c);
  pthread_create(&th[2], NULL, reader, &c);
  uint64_t passes = 0, removed = 0, max_pause = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    evs_compact_report r;
    int rc = evs_compact(c.s, &r);
    if (rc) fprintf(stderr, "  compact: %s\n", evs_errmsg(c.s));
    CHECK_EQ(rc, 0);
    if (rc) break;
    passes++;
    removed += r.events_removed;
    if (r.max_pause_us > max_pause) max_pause = r.max_pause_us;
    struct timespec nap = {0, 5000000}; /* a pass every 5 ms */
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
  } while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
  __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
  for (int k = 0; k < 3; k++) pthread_join(th[k], NULL);
  CHECK_EQ(c.errors, 0);
  CHECK(removed > 0);
  if (evs_verify(c.s, NULL)) fprintf(stderr, "  verify: %s\n", evs_errmsg(c.s));
  fprintf(stderr, "info: concurrent: %" PRIu64 " compaction passes removed %" PRIu64
                  " events while %" PRIu64 " were appended; longest writer pause %" PRIu64
                  " us\n",
          passes, removed, c.appended, max_pause);
  CHECK_EQ(evs_verify(c.s, NULL), 0);
  evs_stats st = stats(c.s);
  CHECK_EQ(evs_store_close(c.s), 0);
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats st2 = stats(s);
  CHECK_EQ(st2.pending, st.pending);
  CHECK_EQ(st2.next_id, st.next_id);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- an I/O failure at every call of a compaction ---------------------- */

typedef struct fio {
  long calls, fail_at; /* fail call number fail_at (counted while armed) */
  int armed, fired;
} fio;
static fio FI;

static int armed_fail(void) {
  if (!FI.armed) return 0;
  if (++FI.calls != FI.fail_at) return 0;
  FI.fired = 1;
  return 1;
}
static int f_open(void *c, const char *p, int fl, int m) {
  return armed_fail() ? -EIO : evs_io_posix.open(NULL, p, fl, m);
}
static int f_close(void *c, int fd) { return evs_io_posix.close(NULL, fd); }
static ssize_t f_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
  return armed_fail() ? -ENOSPC : evs_io_posix.pwrite(NULL, fd, b, n, o);
}
static ssize_t f_pread(void *c, int fd, void *b, size_t n, off_t o) {
  return evs_io_posix.pread(NULL, fd, b, n, o);
}
static int f_fdatasync(void *c, int fd) {
  return armed_fail() ? -EIO : evs_io_posix.fdatasync(NULL, fd);
}
static int f_fsync(void *c, int fd) { return armed_fail() ? -EIO : evs_io_posix.fsync(NULL, fd); }
static int f_ftruncate(void *c, int fd, off_t l) {
  return armed_fail() ? -EIO : evs_io_posix.ftruncate(NULL, fd, l);
}
static int f_rename(void *c, const char *a, const char *b) {
  return armed_fail() ? -EIO : evs_io_posix.rename(NULL, a, b);
}
static int f_unlink(void *c, const char *p) {
  return armed_fail() ? -EIO : evs_io_posix.unlink(NULL, p);
}
static int f_fsize(void *c, int fd, uint64_t *sz) { return evs_io_posix.fsize(NULL, fd, sz); }
static const evs_io fail_io = {f_open,      f_close,  f_pwrite, f_pread,  f_fdatasync,
                               f_fsync,     f_ftruncate, f_rename, f_unlink, f_fsize, NULL};

/* segment_size 4096: sealed segments; 1 MiB: all in the open segment,
** which compaction seals first (its roll fails at every call too). */
static void compact_io_failures(uint32_t segment_size) {
  long runs = 0, failed = 0, readonly = 0;
  for (long n = 1; n < 400; n++) {
    char *dir = t_tmpdir();
    evs_options o = small_opts();
    o.segment_size = segment_size;
    evs_store *s = NULL;
    memset(&FI, 0, sizeof FI);
    REQUIRE(evs_store_open_io(dir, &o, &fail_io, &s) == 0);
    expect x;
    memset(&x, 0, sizeof x);
    x.n = 200;
    for (unsigned i = 1; i <= 200; i++) {
      __atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
      append_i(s, i, i % 5 == 0);
      x.state[i] = 1;
      x.created[i] = global_clock(NULL);
    }
    for (unsigned i = 1; i <= 200; i++)
      if (ack_most(i)) {
        evs_ack(s, NULL, i, NULL);
        x.state[i] = 2;
      }
    FI.fail_at = n;
    FI.armed = 1;
    evs_compact_report r;
    int rc = evs_compact(s, &r);
    FI.armed = 0;
    runs++;
    int fired = FI.fired;
    if (fired) {
      failed += rc != 0;
      if (rc) CHECK(*evs_errmsg(s));
    } else {
      CHECK_EQ(rc, 0);
    }
    /* Whatever happened: every pending event is there, unchanged; the
    ** acknowledged ones are there or (keyless) gone. */
    for (unsigned i = 1; i <= x.n; i++) {
      evs_event *e = NULL;
      int g = evs_get(s, NULL, i, &e);
      if (x.state[i] == 1 || (x.state[i] == 2 && i % 5 == 0)) {
        CHECK_EQ(g, 0);
        if (!g) CHECK_EQ(e->status, x.state[i] == 1 ? EVS_STATUS_PENDING : EVS_STATUS_ACKNOWLEDGED);
      } else {
        CHECK(g == 0 || g == EVS_ENOTFOUND);
      }
      evs_event_free(e);
    }
    CHECK_EQ(evs_verify(s, NULL), 0);
    /* The store goes on (or refuses writes after a failed sync). */
    char p[300];
    payload_of(p, sizeof p, 999);
    evs_event_in ev = {.source = "after", .event_type = "t", .payload = p};
    int arc = evs_append(s, NULL, &ev, NULL);
    if (arc == EVS_EREADONLY) readonly++;
    else CHECK_EQ(arc, 0);
    evs_store_close(s);
    s = NULL;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    for (unsigned i = 1; i <= x.n; i++)
      if (x.state[i] == 1) {
        evs_event *e = NULL;
        CHECK_EQ(evs_get(s, NULL, i, &e), 0);
        evs_event_free(e);
      }
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
    if (!fired) break; /* past the last I/O call of a compaction */
  }
  fprintf(stderr, "info: compaction I/O failures (segment_size %u): %ld runs, %ld returned an "
                  "error, %ld left the store read-only\n",
          (unsigned)segment_size, runs, failed, readonly);
  CHECK(runs > 20);
}

static void t_compact_io_failures(void) {
  compact_io_failures(4096);
  compact_io_failures(1 << 20);
}

/* ---- checkpoints ------------------------------------------------------- */

static void t_checkpoint_states(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  expect x;
  evs_store *s = build(dir, &o, &x, 500, ack_most, del_some);
  CHECK_EQ(evs_store_close(s), 0);
  char ck[600];
  snprintf(ck, sizeof ck, "%s/evstore.checkpoint", dir);
  size_t n;
  char *orig = t_slurp(ck, &n);
  REQUIRE(orig);

  /* Clean close: loaded, nothing replayed. */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK_EQ(st.open_replayed_bytes, 0);
  check_all(s, &x, "loaded");
  /* More log after it, then a "crash": the copy of the directory taken
  ** while open holds the old checkpoint and a longer log. */
  for (unsigned i = 501; i <= 560; i++) {
    __atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
    CHECK_EQ(append_i(s, i, 0), i);
    x.state[i] = 1;
    x.created[i] = global_clock(NULL);
  }
  x.n = 560;
  CHECK_EQ(evs_store_sync(s), 0);
  char cmd[4000], dir2[700];
  snprintf(dir2, sizeof dir2, "%s-crash", dir);
  snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && rm -f '%s/LOCK'", dir, dir2, dir2);
  CHECK_EQ(system(cmd), 0);
  CHECK_EQ(evs_store_close(s), 0);
  evs_store *c;
  REQUIRE(evs_store_open(dir2, &o, &c) == 0);
  st = stats(c);
  CHECK_EQ(st.checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK(st.open_replayed_bytes > 0);
  check_all(c, &x, "loaded + replayed");
  CHECK_EQ(evs_store_close(c), 0);
  t_rmdir(strdup(dir2));

  /* Damaged: every 7th byte flipped in turn: always ignored as corrupt
  ** (the checksum covers every byte), the index rebuilt from the log. */
  size_t n2;
  char *cur = t_slurp(ck, &n2);
  REQUIRE(cur);
  int corrupt = 0, cases = 0;
  for (size_t off = 0; off < n2; off += 7) {
    cur[off] ^= 0x20;
    CHECK_EQ(t_spit(ck, cur, n2), 0);
    cur[off] ^= 0x20;
    s = NULL;
    if (evs_store_open(dir, &o, &s)) {
      fprintf(stderr, "  flip at %zu: open failed: %s\n", off, evs_errmsg(NULL));
      t_failed_checks++;
      continue;
    }
    cases++;
    corrupt += stats(s).checkpoint_state == EVS_CHECKPOINT_CORRUPT;
    if (off % 301 == 0) check_all(s, &x, "damaged checkpoint");
    /* Closing writes a good checkpoint again; put the damaged one back. */
    evs_store_close(s);
  }
  CHECK_EQ(corrupt, cases);
  /* Truncated. */
  CHECK_EQ(t_spit(ck, cur, n2 / 2), 0);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_CORRUPT);
  check_all(s, &x, "truncated checkpoint");
  evs_store_close(s);
  free(cur);

  /* Stale: the checkpoint of an earlier log, now cut below its position. */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  for (unsigned i = 561; i <= 600; i++) {
    __atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
    CHECK_EQ(append_i(s, i, 0), i);
  }
  CHECK_EQ(evs_store_close(s), 0);
  size_t nl;
  char *late = t_slurp(ck, &nl);
  REQUIRE(late);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(evs_delete(s, NULL, 600, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  CHECK_EQ(t_spit(ck, late, nl), 0); /* names the log as it was before the delete: valid */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  evs_event *e600 = NULL;
  CHECK_EQ(evs_get(s, NULL, 600, &e600), EVS_ENOTFOUND); /* the delete, replayed */
  CHECK_EQ(evs_compact(s, NULL), 0); /* layout changes: a new checkpoint */
  CHECK_EQ(evs_store_close(s), 0);
  CHECK_EQ(t_spit(ck, late, nl), 0); /* the old layout's checkpoint */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_STALE);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  free(late);

  /* Off: no file, whole log replayed. */
  evs_options off = o;
  off.checkpoint_bytes = -1;
  unlink(ck);
  REQUIRE(evs_store_open(dir, &off, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_OFF);
  CHECK_EQ(evs_checkpoint(s), 0);
  CHECK_EQ(evs_store_close(s), 0);
  CHECK(access(ck, F_OK) != 0);
  free(orig);
  t_rmdir(dir);
}

/* A source whose events are all acknowledged is still found by queries
** over every status after a reopen from the checkpoint (the CLI's export
** --all --source found it missing). */
static void t_checkpoint_names(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  for (unsigned i = 1; i <= 12; i++) {
    char p[64];
    snprintf(p, sizeof p, "{\"i\":%u}", i);
    evs_event_in ev = {.source = i % 3 ? "a" : "b", .event_type = "t", .payload = p};
    CHECK_EQ(evs_append(s, NULL, &ev, NULL), 0);
  }
  for (uint64_t id = 3; id <= 12; id += 3) CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  evs_query q = {.source = "b", .status = EVS_QUERY_ANY};
  evs_page *pg = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  CHECK_EQ(evs_page_count(pg), 4);
  q.status = EVS_QUERY_PENDING;
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  CHECK_EQ(evs_page_count(pg), 0);
  evs_page_free(pg);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void wait_for(evs_store *s, int (*done)(const evs_stats *), const char *what) {
  for (int k = 0; k < 500; k++) {
    evs_stats st = stats(s);
    if (done(&st)) return;
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "  %s did not happen within 5 s\n", what);
  t_failed_checks++;
}

static int has_ckpt(const evs_stats *st) { return st->checkpoints_written > 0; }
static int has_compaction(const evs_stats *st) { return st->compactions > 0; }

static void t_background(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.checkpoint_bytes = 20000;
  o.auto_compact_percent = 30;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  for (unsigned i = 1; i <= 300; i++) {
    __atomic_add_fetch(&fake_now, 1000, __ATOMIC_RELAXED);
    CHECK_EQ(append_i(s, i, 0), i);
    CHECK_EQ(evs_ack(s, NULL, i, NULL), 0);
  }
  wait_for(s, has_ckpt, "a periodic checkpoint");
  wait_for(s, has_compaction, "an automatic compaction");
  evs_stats st = stats(s);
  CHECK_EQ(st.maintenance_error, 0);
  CHECK(st.segments < 10);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- checkpoints and compactions from several threads at once ---------- */

/* Every writer of evstore.checkpoint (evs_checkpoint, the checkpoint each
** compaction writes, the background thread's periodic one) goes through
** one temporary file: they must take turns, or one's rename finds the
** file gone (EVS_EIO, "No such file or directory"). */
typedef struct ckrace {
  evs_store *s;
  int stop;
  unsigned first; /* ids below it are from earlier rounds */
  uint64_t ckpt_calls, compact_calls, compact_changed, errors;
  char err[256];
  uint8_t pending[1 << 16]; /* by id: left pending by the appender */
  uint64_t last_id;
} ckrace;

static void ckrace_fail(ckrace *c, const char *what, int rc) {
  if (__atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED) == 0)
    snprintf(c->err, sizeof c->err, "%s: rc %d: %s", what, rc, evs_errmsg(c->s));
}

static void *ckrace_appender(void *arg) {
  ckrace *c = arg;
  for (unsigned i = c->first; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
    char p[300];
    payload_of(p, sizeof p, i);
    evs_event_in ev = {.source = "ck", .event_type = "t", .payload = p};
    evs_append_result r;
    int rc = evs_append(c->s, NULL, &ev, &r);
    if (rc) {
      ckrace_fail(c, "append", rc);
      continue;
    }
    if (r.id >= sizeof c->pending) break;
    __atomic_store_n(&c->last_id, r.id, __ATOMIC_RELEASE);
    /* Three of four acknowledged: dead segments for compaction. */
    if (r.id % 4) {
      if ((rc = evs_ack(c->s, NULL, r.id, NULL))) ckrace_fail(c, "ack", rc);
    } else {
      c->pending[r.id] = 1;
    }
  }
  return NULL;
}

static void *ckrace_checkpointer(void *arg) {
  ckrace *c = arg;
  while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
    int rc = evs_checkpoint(c->s);
    __atomic_add_fetch(&c->ckpt_calls, 1, __ATOMIC_RELAXED);
    if (rc) ckrace_fail(c, "evs_checkpoint", rc);
  }
  return NULL;
}

static void *ckrace_compactor(void *arg) {
  ckrace *c = arg;
  while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
    evs_compact_report r;
    int rc = evs_compact(c->s, &r);
    __atomic_add_fetch(&c->compact_calls, 1, __ATOMIC_RELAXED);
    if (rc) ckrace_fail(c, "evs_compact", rc);
    if (r.segments_removed + r.segments_rewritten)
      __atomic_add_fetch(&c->compact_changed, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void t_checkpoint_race(void) {
  char *dir = t_tmpdir();
  evs_options o = small_opts();
  o.clock = NULL;
  o.sync = EVS_SYNC_OFF;
  o.checkpoint_bytes = 4096;   /* the background thread checkpoints often */
  o.auto_compact_percent = 10; /* and compacts */
  ckrace *c = calloc(1, sizeof *c);
  REQUIRE(c);
  c->first = 1;
  uint64_t ckpts = 0, compactions = 0;
  for (int round = 0; round < 3 && !c->errors; round++) {
    REQUIRE(evs_store_open(dir, &o, &c->s) == 0);
    __atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
    pthread_t th[4];
    pthread_create(&th[0], NULL, ckrace_appender, c);
    pthread_create(&th[1], NULL, ckrace_checkpointer, c);
    pthread_create(&th[2], NULL, ckrace_checkpointer, c);
    pthread_create(&th[3], NULL, ckrace_compactor, c);
    struct timespec nap = {0, 400000000};
    nanosleep(&nap, NULL);
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    evs_stats st = stats(c->s);
    ckpts += st.checkpoints_written;
    compactions += st.compactions;
    CHECK_EQ(st.maintenance_error, 0);
    /* Close while the background thread may still be at work. */
    int rc = evs_store_close(c->s);
    if (rc) fprintf(stderr, "  close: %s\n", evs_errmsg(NULL));
    CHECK_EQ(rc, 0);
    c->first = (unsigned)c->last_id + 1;
  }
  if (c->errors) fprintf(stderr, "  %" PRIu64 " failed calls; first: %s\n", c->errors, c->err);
  CHECK_EQ(c->errors, 0);
  CHECK(ckpts > 0);
  CHECK(compactions > 0);
  fprintf(stderr, "info: checkpoint race: %" PRIu64 " evs_checkpoint and %" PRIu64
                  " evs_compact calls (%" PRIu64 " changed the log); %" PRIu64
                  " checkpoints written and %" PRIu64 " compactions in all; %" PRIu64
                  " events\n",
          c->ckpt_calls, c->compact_calls, c->compact_changed, ckpts, compactions, c->last_id);
  /* Every event left pending is there, and nothing else is. */
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  uint64_t want = 0, got = 0;
  for (uint64_t id = 1; id <= c->last_id; id++) want += c->pending[id];
  evs_query q = {.limit = EVS_PAGE_MAX};
  evs_page *pg = NULL;
  char cur[EVS_CURSOR_SIZE] = "";
  for (;;) {
    q.cursor = cur[0] ? cur : NULL;
    if (evs_inbox(s, NULL, &q, &pg)) break;
    for (size_t k = 0; k < evs_page_count(pg); k++) {
      const evs_event *e = evs_page_event(pg, k);
      got++;
      CHECK(e->id <= c->last_id && c->pending[e->id]);
    }
    snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
    if (!evs_page_more(pg)) break;
  }
  evs_page_free(pg);
  CHECK_EQ(got, want);
  CHECK_EQ(stats(s).pending, want);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  free(c);
  t_rmdir(dir);
}

int main(int argc, char **argv) {
  if (argc > 1) { /* one test by name */
    if (!strcmp(argv[1], "concurrent")) RUN(t_compact_concurrent);
    if (!strcmp(argv[1], "checkpoint_race")) RUN(t_checkpoint_race);
    return TEST_EXIT();
  }
  RUN(t_compact_keeps_live_bytes);
  RUN(t_compact_open_segment);
  RUN(t_compact_keeps_reasons);
  RUN(t_compact_everything_gone);
  RUN(t_compact_expiry);
  RUN(t_compact_page_survives);
  RUN(t_compact_refuses_damage);
  RUN(t_compact_concurrent);
  RUN(t_compact_io_failures);
  RUN(t_checkpoint_states);
  RUN(t_checkpoint_names);
  RUN(t_background);
  RUN(t_checkpoint_race);
  return TEST_EXIT();
}
