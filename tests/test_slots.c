/*
** test_slots.c: segment numbers and their slots, against the library
** built with EVS_SLOTS = 64 instead of 65,536 (Makefile: build/slots), so
** what takes 65,536 segments in a real store takes 64 here.
**
**  t_numbers_wrap      one old segment stays full of pending events while
**                      hundreds of newer ones come and go (appends, acks,
**                      compaction): every call succeeds, the store reopens
**                      from its checkpoint and passes evs_verify
**  t_live_limit        64 segments alive at once: the newest grows past
**                      segment_size, every call goes on working;
**                      compaction still runs (it reuses a slot of what it
**                      replaces) and rolls start again
**  t_manifest_collision a manifest naming two segments whose numbers share
**                      a slot (which no store writes) is refused at open,
**                      as before
**
** The same wrap with the real constant, in memory: test_soak.c.
*/
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "evstore.h"
#include "io.h"
#include "testlib.h"

#if EVS_SLOTS != 64
#error "test_slots is built with -DEVS_SLOTS=64 (see the Makefile)"
#endif

/* A record of about 1.3 KB: three fill a 4 KiB segment. */
static char BIG[1300];

static evs_options opts(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  o.sync = EVS_SYNC_OFF;
  o.compress_threshold = UINT32_MAX;
  o.auto_compact_percent = -1;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  return o;
}

static int append(evs_store *s, const char *src, uint64_t *id) {
  evs_event_in ev = {.source = src, .event_type = "t", .payload = BIG};
  evs_append_result r;
  int rc = evs_append(s, NULL, &ev, &r);
  if (rc) fprintf(stderr, "  append: %s\n", evs_errmsg(s));
  if (!rc && id) *id = r.id;
  return rc;
}

/* The highest segment number among the files of dir. */
static uint64_t max_segno(const char *dir) {
  DIR *d = opendir(dir);
  uint64_t max = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    unsigned long long no;
    char tail[16];
    if (sscanf(e->d_name, "%16llx.%8s", &no, tail) == 2 && !strcmp(tail, "evlog") && no > max)
      max = no;
  }
  if (d) closedir(d);
  return max;
}

/* Every pending event of source src has BIG as its payload; returns how
** many there are. */
static uint64_t check_pending(evs_store *s, const char *src) {
  evs_query q = {.limit = EVS_PAGE_MAX, .source = src};
  evs_page *pg = NULL;
  char cur[EVS_CURSOR_SIZE] = "";
  uint64_t n = 0;
  for (;;) {
    q.cursor = cur[0] ? cur : NULL;
    int rc = evs_inbox(s, NULL, &q, &pg);
    CHECK_EQ(rc, 0);
    if (rc) break;
    for (size_t k = 0; k < evs_page_count(pg); k++, n++)
      CHECK_STR(evs_page_event(pg, k)->payload, BIG);
    snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
    if (!evs_page_more(pg)) break;
  }
  evs_page_free(pg);
  return n;
}

static void t_numbers_wrap(void) {
  char *dir = t_tmpdir();
  evs_options o = opts();
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  /* Segment 1 (slot 1): full of pending events, never worth compacting. */
  uint64_t id;
  for (int k = 0; k < 3; k++) REQUIRE(append(s, "old", &id) == 0);
  REQUIRE(stats(s).segments == 1);
  /* Newer segments come and go until numbers have gone round the slots
  ** three times: on the old code segment 65 (slot 1) failed to start. */
  int rounds = 0, failed = 0;
  while (max_segno(dir) < 3 * 64 + 2 && rounds < 2000 && !failed) {
    rounds++;
    for (int k = 0; k < 3 && !failed; k++) {
      failed = append(s, "new", &id) != 0;
      if (!failed && evs_ack(s, NULL, id, NULL)) {
        fprintf(stderr, "  ack: %s\n", evs_errmsg(s));
        failed = 1;
      }
    }
    if (!failed && rounds % 4 == 0 && evs_compact(s, NULL)) {
      fprintf(stderr, "  compact: %s\n", evs_errmsg(s));
      failed = 1;
    }
  }
  CHECK_EQ(failed, 0);
  CHECK(max_segno(dir) >= 3 * 64 + 2);
  CHECK_EQ(evs_compact(s, NULL), 0);
  evs_stats st = stats(s);
  CHECK(st.segments <= 3);
  CHECK_EQ(st.pending, 3);
  fprintf(stderr, "info: numbers wrap: %d rounds, segment numbers up to %" PRIu64
                  " with %d slots\n", rounds, max_segno(dir), 64);
  CHECK_EQ(evs_store_close(s), 0);
  /* The checkpoint's slots (number % 64) still name the right segments. */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK_EQ(check_pending(s, "old"), 3);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(append(s, "new", NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static uint64_t file_size(const char *dir, uint64_t no) {
  char p[1024];
  struct stat st;
  snprintf(p, sizeof p, "%s/%016" PRIx64 ".evlog", dir, no);
  return stat(p, &st) ? 0 : (uint64_t)st.st_size;
}

static void t_live_limit(void) {
  char *dir = t_tmpdir();
  evs_options o = opts();
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  /* Pending events in 64 segments, and as many again: with every slot
  ** live the newest segment grows past segment_size instead of failing
  ** (every write would: each one looks for room first). */
  const uint64_t n = 64 * 3 * 2;
  for (uint64_t i = 1; i <= n; i++) REQUIRE(append(s, i % 3 == 1 ? "keep" : "drop", NULL) == 0);
  CHECK_EQ(stats(s).segments, 64);
  CHECK(file_size(dir, 64) > 60 * 1300);
  CHECK_EQ(check_pending(s, "keep"), n / 3);
  CHECK_EQ(check_pending(s, "drop"), n - n / 3);
  CHECK_EQ(evs_verify(s, NULL), 0);
  /* Compaction needs a new segment too, with every slot live: it takes a
  ** slot of the segments it replaces. */
  for (uint64_t i = 1; i <= n; i++)
    if (i % 3 != 1) CHECK_EQ(evs_ack(s, NULL, i, NULL), 0);
  evs_compact_report r;
  int rc = evs_compact(s, &r);
  if (rc) fprintf(stderr, "  compact: %s\n", evs_errmsg(s));
  CHECK_EQ(rc, 0);
  CHECK(r.segments_after < 64);
  /* A slot is free: the next append starts a segment again. */
  uint64_t before = stats(s).segments;
  CHECK_EQ(append(s, "keep", NULL), 0);
  CHECK_EQ(stats(s).segments, before + 1);
  CHECK_EQ(evs_store_close(s), 0);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
  CHECK_EQ(check_pending(s, "keep"), n / 3 + 1);
  CHECK_EQ(check_pending(s, "drop"), 0);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static int spill(const char *path, const uint8_t *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(b, 1, n, f);
  return fclose(f) || w != n ? -1 : 0;
}

static void t_manifest_collision(void) {
  char *dir = t_tmpdir();
  evs_options o = opts();
  o.checkpoint_bytes = -1;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  /* Segments 1 and 2 of pending events; keep segment 2's file. */
  for (int k = 0; k < 6; k++) REQUIRE(append(s, "a", NULL) == 0);
  char p2[1024], plast[1024], man[1024];
  snprintf(p2, sizeof p2, "%s/%016x.evlog", dir, 2);
  snprintf(man, sizeof man, "%s/%s", dir, EVS_MANIFEST_NAME);
  size_t n2 = 0;
  uint8_t *seg2 = t_slurp(p2, &n2);
  REQUIRE(seg2 && n2 > EVS_SEG_HDR);
  /* Everything acknowledged and compacted away, until the open segment
  ** has a number in slot 2, free again. */
  for (uint64_t i = 1; i <= 6; i++) CHECK_EQ(evs_ack(s, NULL, i, NULL), 0);
  uint64_t id, last = 0;
  for (int round = 1; round < 2000; round++) {
    last = max_segno(dir);
    if (last > 2 && last % 64 == 2) break;
    REQUIRE(append(s, "b", &id) == 0);
    CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
    if (round % 8 == 0) CHECK_EQ(evs_compact(s, NULL), 0);
  }
  REQUIRE(last % 64 == 2 && last > 2);
  snprintf(plast, sizeof plast, "%s/%016" PRIx64 ".evlog", dir, last);
  REQUIRE(access(plast, F_OK) == 0 && access(p2, F_OK) != 0);
  CHECK_EQ(evs_store_close(s), 0);
  /* A manifest naming the old segment 2 and the open one: two segments
  ** in slot 2. */
  size_t mn = 0;
  uint8_t *mb = t_slurp(man, &mn);
  REQUIRE(mb);
  evs_manifest m;
  const char *why;
  REQUIRE(evs_manifest_decode(mb, mn, &m, &why) == 0);
  uint64_t no[2] = {2, last}, size[2] = {n2, 0};
  evs_manifest forged = {m.store_id, m.generation + 1, m.layout, 2, no, size};
  uint8_t *fb = malloc(evs_manifest_len(2));
  REQUIRE(fb);
  evs_manifest_encode(&forged, fb);
  REQUIRE(spill(p2, seg2, n2) == 0);
  REQUIRE(spill(man, fb, evs_manifest_len(2)) == 0);
  CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "live segments");
  free(m.segno);
  free(m.size);
  free(mb);
  free(fb);
  free(seg2);
  t_rmdir(dir);
}

int main(void) {
  memset(BIG, 0, sizeof BIG);
  snprintf(BIG, sizeof BIG, "{\"pad\":\"%01280d\"}", 7);
  RUN(t_numbers_wrap);
  RUN(t_live_limit);
  RUN(t_manifest_collision);
  return TEST_EXIT();
}
