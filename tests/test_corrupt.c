/*
** test_corrupt.c: damaged files. For a small store of three segments,
** flip a bit at every offset of every file, and truncate every file at
** every length: open must either fail with EVS_ECORRUPT or succeed with
** the damage counted, pass evs_verify, and return only original bytes
** (an event is either exactly as appended or not found). The one silent
** case is the last segment cut exactly at a commit boundary. Also:
** evs_verify on clean stores and on damage made under a live store.
*/
#include <evstore.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#define MAXEV 64

typedef struct expect {
  int n;
  char *payload[MAXEV + 1];
  char source[MAXEV + 1][16];
} expect;

static evs_options opts(void) {
  evs_options o = {0};
  o.sync = EVS_SYNC_OFF;
  o.segment_size = 4096;
  o.compress_threshold = 300;
  o.retention_us = -1;
  return o;
}

/* A store with compressed and raw payloads, keys, acks, deletes, a
** rolled-back transaction and three segments. */
static void build(const char *dir, expect *ex) {
  evs_options o = opts();
  evs_store *s;
  if (evs_store_open(dir, &o, &s)) exit(2);
  memset(ex, 0, sizeof *ex);
  for (int i = 1; i <= 60; i++) {
    char pl[2048], src[16], key[16];
    int n = snprintf(pl, sizeof pl, "{\"i\":%d,\"pad\":\"", i);
    int pad = i % 7 == 0 ? 900 : 40 + 2 * i;
    for (int k = 0; k < pad; k++) pl[n++] = (char)('a' + (k * i) % 26);
    n += snprintf(pl + n, sizeof pl - (size_t)n, "\"}");
    snprintf(src, sizeof src, "src-%d", i % 3);
    snprintf(key, sizeof key, "key-%d", i);
    evs_event_in ev = {.source = src, .event_type = "t", .payload = pl,
                       .idempotency_key = i % 2 ? key : NULL,
                       .metadata = i % 5 ? NULL : "{\"m\":1}"};
    evs_append_result r;
    if (evs_append(s, NULL, &ev, &r) || r.id != (uint64_t)i) exit(3);
    ex->payload[i] = strdup(pl);
    snprintf(ex->source[i], 16, "%s", src);
    ex->n = i;
    if (i % 4 == 0) evs_ack(s, NULL, (uint64_t)i - 1, NULL);
    if (i % 9 == 0) evs_delete(s, NULL, (uint64_t)i - 2, NULL);
  }
  evs_txn *t;
  if (evs_txn_begin(s, &t)) exit(4);
  evs_event_in ev = {.source = "gone", .event_type = "t", .payload = "{}"};
  evs_append(s, t, &ev, NULL);
  evs_txn_rollback(t);
  evs_stats st;
  evs_stats_get(s, &st);
  if (st.segments < 3) exit(5);
  if (evs_store_close(s)) exit(6);
}

/* Open a damaged store and hold it to the rules. Returns 0 if it held.
** may_be_silent: the last segment cut at a commit boundary is a valid,
** shorter log (no length is recorded after it), so nothing can report it;
** the store must still be a consistent prefix. */
static int judge(const char *dir, const expect *ex, const char *what,
                 int may_be_silent) {
  evs_options o = opts();
  evs_store *s;
  int rc = evs_store_open(dir, &o, &s);
  if (rc == EVS_ECORRUPT) return 0;
  if (rc) {
    fprintf(stderr, "  %s: open returned %d (%s)\n", what, rc, evs_errmsg(NULL));
    return 1;
  }
  int bad = 0;
  evs_stats st;
  evs_stats_get(s, &st);
  if (!st.recovered_bytes_dropped && !may_be_silent) {
    fprintf(stderr, "  %s: opened with no damage reported\n", what);
    bad = 1;
  }
  if (evs_verify(s, NULL)) {
    fprintf(stderr, "  %s: verify after recovery: %s\n", what, evs_errmsg(s));
    bad = 1;
  }
  for (uint64_t id = 1; id <= (uint64_t)ex->n + 1 && !bad; id++) {
    evs_event *e;
    int g = evs_get(s, NULL, id, &e);
    if (g == EVS_ENOTFOUND) continue;
    if (g || id > (uint64_t)ex->n || strcmp(e->payload, ex->payload[id]) ||
        strcmp(e->source, ex->source[id])) {
      fprintf(stderr, "  %s: event %llu read back wrong (rc %d)\n", what,
              (unsigned long long)id, g);
      bad = 1;
    }
    if (!g) evs_event_free(e);
  }
  evs_query q = {.limit = 100, .status = EVS_QUERY_ANY};
  evs_page *pg = NULL;
  if (!bad && evs_inbox(s, NULL, &q, &pg) == 0)
    for (size_t i = 0; i < evs_page_count(pg); i++) {
      const evs_event *e = evs_page_event(pg, i);
      if (e->id > (uint64_t)ex->n || strcmp(e->payload, ex->payload[e->id])) bad = 1;
    }
  evs_page_free(pg);
  /* What is left must take new writes. */
  evs_event_in ev = {.source = "after", .event_type = "t", .payload = "{}"};
  if (!bad && evs_append(s, NULL, &ev, NULL)) {
    fprintf(stderr, "  %s: append after recovery: %s\n", what, evs_errmsg(s));
    bad = 1;
  }
  evs_store_close(s);
  return bad;
}

static const char *files[] = {"evstore.meta", "0000000000000001.evlog",
                              "0000000000000002.evlog", "0000000000000003.evlog",
                              "evstore.manifest"};
#define NFILES 5

static void restore(const char *dir, char **orig, size_t *len) {
  char p[600];
  /* Recovery may have created or truncated files: put all back. */
  for (int f = 0; f < NFILES; f++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[f]);
    if (t_spit(p, orig[f], len[f])) exit(7);
  }
  for (int no = 4; no < 8; no++) {
    snprintf(p, sizeof p, "%s/%016x.evlog", dir, no);
    unlink(p);
  }
}

static void damage_loop(int truncate_mode) {
  char *dir = t_tmpdir();
  expect ex;
  build(dir, &ex);
  char *orig[NFILES], p[600];
  size_t len[NFILES];
  for (int f = 0; f < NFILES; f++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[f]);
    orig[f] = t_slurp(p, &len[f]);
    REQUIRE(orig[f]);
  }
  int fails = 0, cases = 0;
  /* Under valgrind (tests/test_valgrind.sh) a sample is enough. */
  size_t thin = getenv("EVS_VALGRIND") ? 40 : 1;
  for (int f = 0; f < NFILES && fails < 5; f++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[f]);
    /* Every offset of headers and the last segment; every 3rd elsewhere. */
    size_t stride = ((f == 0 || f == 3) ? 1 : 3) * thin;
    for (size_t off = 0; off < len[f] && fails < 5; off += off < 64 ? 1 : stride) {
      char what[96];
      if (truncate_mode) {
        if (t_spit(p, orig[f], off)) exit(7);
        snprintf(what, sizeof what, "%s truncated to %zu", files[f], off);
      } else {
        char *b = malloc(len[f]);
        memcpy(b, orig[f], len[f]);
        b[off] ^= (char)(1 << (off % 8));
        if (t_spit(p, b, len[f])) exit(7);
        free(b);
        snprintf(what, sizeof what, "%s bit %zu flipped at %zu", files[f], off % 8, off);
      }
      fails += judge(dir, &ex, what, truncate_mode && f == 3);
      cases++;
      restore(dir, orig, len);
    }
  }
  CHECK_EQ(fails, 0);
  CHECK(cases > (int)(3000 / thin));
  fprintf(stderr, "info: %d damaged stores judged\n", cases);
  for (int f = 0; f < NFILES; f++) free(orig[f]);
  for (int i = 1; i <= ex.n; i++) free(ex.payload[i]);
  t_rmdir(dir);
}

static void t_bitflip_every_offset(void) { damage_loop(0); }
static void t_truncate_every_length(void) { damage_loop(1); }

static void t_verify_clean(void) {
  char *dir = t_tmpdir();
  expect ex;
  build(dir, &ex);
  evs_options o = opts();
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_verify_report r;
  CHECK_EQ(evs_verify(s, &r), 0);
  CHECK_EQ(r.problems, 0);
  CHECK(r.segments >= 3);
  CHECK_EQ(r.events, 60);
  CHECK(r.records > 60);
  CHECK(r.payloads >= 5);
  /* Verify works inside a busy store too: after more writes and a
  ** transaction left open by nobody. */
  evs_event_in ev = {.source = "x", .event_type = "t", .payload = "{}", .idempotency_key = "key-3"};
  evs_append_result res;
  CHECK_EQ(evs_append(s, NULL, &ev, &res), 0);
  CHECK_EQ(res.duplicate, 1);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  evs_store *m;
  REQUIRE(evs_store_open(NULL, NULL, &m) == 0);
  CHECK_EQ(evs_verify(m, &r), 0);
  CHECK_EQ(r.segments, 1);
  evs_store_close(m);
  for (int i = 1; i <= ex.n; i++) free(ex.payload[i]);
  t_rmdir(dir);
}

/* Damage written under an open store shows through its mapping. */
static void t_verify_detects_live_damage(void) {
  char *dir = t_tmpdir();
  expect ex;
  build(dir, &ex);
  evs_options o = opts();
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  char p[600];
  snprintf(p, sizeof p, "%s/%s", dir, files[1]);
  int fd = open(p, O_WRONLY);
  REQUIRE(fd >= 0);
  char b = 0x5a;
  CHECK(pwrite(fd, &b, 1, 200) == 1);
  close(fd);
  evs_verify_report r;
  CHECK_EQ(evs_verify(s, &r), EVS_ECORRUPT);
  CHECK(r.problems >= 1);
  CHECK_CONTAINS(evs_errmsg(s), "segment 1");
  evs_store_close(s);
  for (int i = 1; i <= ex.n; i++) free(ex.payload[i]);
  t_rmdir(dir);
}

int main(void) {
  RUN(t_verify_clean);
  RUN(t_verify_detects_live_damage);
  RUN(t_bitflip_every_offset);
  RUN(t_truncate_every_length);
  return TEST_EXIT();
}
