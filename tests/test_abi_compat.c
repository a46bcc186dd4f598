/*
** test_abi_compat.c: a program of the 1.0 layout against the library as it
** is now. Built against the frozen header tests/abi/evstore_1_0.h (not
** include/) and linked with the shared library (Makefile), it
**  - uses the store as any program would: open, append, append a batch,
**    read the inbox, ack, stats, compact, verify, repair;
**  - calls the _sized functions as a program built against an OLDER,
**    smaller layout would (the first published one), each struct followed
**    by canary bytes: the library writes nothing past the given size, and
**    reads the fields a short input struct lacks as zero (the defaults);
**  - passes a LONGER struct, as a program built against a newer header
**    would: refused with EVS_EINVAL while its unknown bytes are not zero,
**    accepted when they are; an output's unknown tail comes back zeroed;
**  - passes a size below the first published layout: EVS_EINVAL, nothing
**    written.
** Self-contained (no tests/testlib.h), since that includes include/.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evstore_1_0.h"

static int failed;
static const char *cur;

#define CHECK(c)                                                                  \
  do {                                                                            \
    if (!(c)) {                                                                   \
      printf("FAIL %s: %s:%d: %s (%s)\n", cur, __FILE__, __LINE__, #c, evs_errmsg(NULL)); \
      failed++;                                                                   \
      return;                                                                     \
    }                                                                             \
  } while (0)

/* The first published layouts: where each struct's fields of the first
** header ended (later fields were added after them). */
#define END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define OPTIONS_OLD END(evs_options, clock_arg)
#define QUERY_OLD END(evs_query, cursor)
#define STATS_OLD END(evs_stats, recovered_records_dropped)

#define CANARY 0xA5
static int untouched(const void *p, size_t from, size_t to) {
  const unsigned char *b = p;
  for (size_t i = from; i < to; i++)
    if (b[i] != CANARY) return 0;
  return 1;
}
static int zero(const void *p, size_t from, size_t to) {
  const unsigned char *b = p;
  for (size_t i = from; i < to; i++)
    if (b[i]) return 0;
  return 1;
}

static char root[256];
static int dirno;
static const char *newdir(void) {
  static char d[300];
  snprintf(d, sizeof d, "%s/s%d", root, dirno++);
  return d;
}

static evs_store *open_with_events(const char *dir, int n) {
  evs_options o = {.sync = EVS_SYNC_OFF};
  evs_store *s;
  if (evs_store_open(dir, &o, &s)) return NULL;
  for (int i = 0; i < n; i++) {
    evs_event_in in = {.source = i % 2 ? "odd" : "even", .event_type = "t", .payload = "{}"};
    if (evs_append(s, NULL, &in, NULL)) {
      evs_store_close(s);
      return NULL;
    }
  }
  return s;
}

/* Everything through the 1.0 header's own calls. */
static void t_use_as_built(void) {
  const char *dir = newdir();
  evs_options o = {.sync = EVS_SYNC_NORMAL, .checkpoint_bytes = -1};
  evs_store *s;
  CHECK(evs_store_open(dir, &o, &s) == 0);
  evs_event_in in = {.source = "a", .event_type = "t", .payload = "{\"n\":1}",
                     .idempotency_key = "k1"};
  evs_append_result r;
  CHECK(evs_append(s, NULL, &in, &r) == 0 && r.id == 1 && !r.duplicate);
  CHECK(evs_append(s, NULL, &in, &r) == 0 && r.id == 1 && r.duplicate);
  evs_event_in batch[3] = {{.source = "b", .event_type = "t", .payload = "{}"},
                           {.source = "", .event_type = "t", .payload = "{}"},
                           {.source = "b", .event_type = "t", .payload = "{}"}};
  evs_append_result br[3];
  CHECK(evs_append_batch(s, NULL, batch, 3, br) == 0);
  CHECK(br[0].rc == 0 && br[0].id == 2 && br[1].rc == EVS_EINVAL && br[2].id == 3);
  evs_query q = {.limit = 10};
  evs_page *page = NULL;
  CHECK(evs_inbox(s, NULL, &q, &page) == 0 && evs_page_count(page) == 3);
  char cur_buf[EVS_CURSOR_SIZE];
  uint64_t after = 0;
  CHECK(evs_cursor_make(s, &q, 2, cur_buf) == 0);
  CHECK(evs_cursor_parse(s, &q, cur_buf, &after) == 0 && after == 2);
  evs_page_free(page);
  CHECK(evs_ack(s, NULL, 1, NULL) == 0);
  int existed = 0;
  CHECK(evs_delete(s, NULL, 3, &existed) == 0 && existed);
  evs_stats st;
  CHECK(evs_stats_get(s, &st) == 0 && st.pending == 1 && st.acknowledged == 1 &&
        st.next_id == 4 && st.store_id != 0);
  evs_options got;
  CHECK(evs_store_options(s, &got) == 0 && got.sync == EVS_SYNC_NORMAL &&
        got.checkpoint_bytes == -1 && got.max_payload == 409600);
  evs_compact_report cr;
  CHECK(evs_compact(s, &cr) == 0 && cr.bytes_before > 0);
  char json[EVS_STATS_JSON_SIZE];
  CHECK(evs_compact_report_json(&cr, json, sizeof json) == 0 && strstr(json, "\"bytes_before\":"));
  /* Longer than any layout yet (1.1 added two fields), its last byte set. */
  struct { evs_compact_report r; uint64_t extra[16]; } bcr = {cr, {[15] = 1}};
  CHECK(evs_compact_report_json_sized(&bcr.r, sizeof bcr, json, sizeof json) == EVS_EINVAL);
  CHECK(evs_stats_json(s, json, sizeof json) == 0 && strstr(json, "\"pending\":1"));
  evs_verify_report vr;
  CHECK(evs_verify(s, &vr) == 0 && vr.problems == 0 && vr.records > 0);
  CHECK(evs_store_close(s) == 0);
  evs_repair_report rr;
  CHECK(evs_repair(dir, NULL, &rr) == 0 && rr.changed == 0 && rr.segments_checked > 0);
  evs_options res;
  CHECK(evs_options_resolve(NULL, &res) == 0 && res.compact_dead_percent == 50);
  printf("PASS %s\n", cur);
}

/* Outputs to an older, smaller struct: written up to its size, not a byte
** further. */
static void t_smaller_output(void) {
  evs_store *s = open_with_events(newdir(), 3);
  CHECK(s);
  struct { evs_stats st; unsigned char tail[64]; } b;
  memset(&b, CANARY, sizeof b);
  CHECK(evs_stats_get_sized(s, &b.st, STATS_OLD) == 0);
  CHECK(b.st.pending == 3 && b.st.next_id == 4 && b.st.recovered_records_dropped == 0);
  CHECK(untouched(&b, STATS_OLD, sizeof b));

  struct { evs_options o; unsigned char tail[64]; } ob;
  memset(&ob, CANARY, sizeof ob);
  CHECK(evs_store_options_sized(s, &ob.o, OPTIONS_OLD) == 0);
  CHECK(ob.o.sync == EVS_SYNC_OFF && ob.o.segment_size == 64u << 20 && ob.o.clock != NULL);
  CHECK(untouched(&ob, OPTIONS_OLD, sizeof ob));
  memset(&ob, CANARY, sizeof ob);
  evs_options in = {.compress_level = 3};
  CHECK(evs_options_resolve_sized(&in, OPTIONS_OLD, &ob.o, OPTIONS_OLD) == 0);
  CHECK(ob.o.compress_level == 3 && ob.o.retention_us == 7 * 86400LL * 1000000);
  CHECK(untouched(&ob, OPTIONS_OLD, sizeof ob));

  /* evs_options_use_stored writes in place: also only the old size. */
  memset(&ob, CANARY, sizeof ob);
  evs_options_use_stored_sized(&ob.o, OPTIONS_OLD);
  CHECK(ob.o.retention_us == 0 && ob.o.segment_size == 0 && ob.o.compress_level == 0);
  CHECK(untouched(&ob, OPTIONS_OLD, sizeof ob));
  CHECK(evs_store_close(s) == 0);
  printf("PASS %s\n", cur);
}

/* Inputs from an older, smaller struct: the fields it does not have read
** as zero, whatever lies in the caller's memory after it. */
static void t_smaller_input(void) {
  const char *dir = newdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = EVS_SYNC_OFF;
  /* Past the old size: would make the open read-only, and refuse
  ** compact_dead_percent 1000 if they were read. */
  o.read_only = 1;
  o.compact_dead_percent = 1000;
  evs_store *s;
  CHECK(evs_store_open_sized(dir, &o, OPTIONS_OLD, &s) == 0);
  evs_event_in in = {.source = "a", .event_type = "t", .payload = "{}"};
  CHECK(evs_append(s, NULL, &in, NULL) == 0); /* not read-only */
  CHECK(evs_append(s, NULL, &in, NULL) == 0);
  CHECK(evs_ack(s, NULL, 1, NULL) == 0);
  evs_options got;
  CHECK(evs_store_options(s, &got) == 0 && !got.read_only && got.compact_dead_percent == 50);

  /* status, min_id, descending... lie past the old evs_query. */
  evs_query q = {.limit = 10, .status = EVS_QUERY_ACKNOWLEDGED, .min_id = 2, .descending = 1};
  evs_page *page = NULL;
  CHECK(evs_inbox_sized(s, NULL, &q, QUERY_OLD, &page) == 0);
  CHECK(evs_page_count(page) == 1 && evs_page_event(page, 0)->id == 2); /* pending */
  char c1[EVS_CURSOR_SIZE], c2[EVS_CURSOR_SIZE];
  evs_query plain = {.limit = 10};
  CHECK(evs_cursor_make_sized(s, &q, QUERY_OLD, 5, c1) == 0);
  CHECK(evs_cursor_make(s, &plain, 5, c2) == 0 && strcmp(c1, c2) == 0);
  uint64_t id = 0;
  CHECK(evs_cursor_parse_sized(s, &q, QUERY_OLD, c2, &id) == 0 && id == 5);
  evs_page_free(page);
  CHECK(evs_store_close(s) == 0);

  /* evs_repair reads options the same way. */
  evs_repair_report rr;
  CHECK(evs_repair_sized(dir, &o, OPTIONS_OLD, &rr, sizeof rr) == 0 && rr.changed == 0);
  printf("PASS %s\n", cur);
}

/* A struct longer than the library's, as from a newer header. */
static void t_bigger_struct(void) {
  const char *dir = newdir();
  struct { evs_options o; uint64_t extra[2]; } big;
  memset(&big, 0, sizeof big);
  big.o.sync = EVS_SYNC_OFF;
  big.extra[1] = 7;
  evs_store *s = (evs_store *)&big;
  CHECK(evs_store_open_sized(dir, &big.o, sizeof big, &s) == EVS_EINVAL && s == NULL);
  CHECK(strstr(evs_errmsg(NULL), "evs_options has fields this library") != NULL);
  CHECK(evs_options_resolve_sized(&big.o, sizeof big, &(evs_options){0}, sizeof(evs_options)) ==
        EVS_EINVAL);
  big.extra[1] = 0;
  CHECK(evs_store_open_sized(dir, &big.o, sizeof big, &s) == 0 && s);

  /* Arrays: the caller's element size is the stride, both ways. */
  /* extra[0] is not_before_us and extra[1] ordering_key to this library
  ** (added after 1.0); extra[2] is beyond anything it knows. */
  struct { evs_event_in ev; uint64_t extra[3]; } in[3];
  struct { evs_append_result r; uint64_t extra; } res[3];
  memset(in, 0, sizeof in);
  memset(res, CANARY, sizeof res);
  const char *src[3] = {"one", "two", "three"};
  for (int i = 0; i < 3; i++) {
    in[i].ev.source = src[i];
    in[i].ev.event_type = "t";
    in[i].ev.payload = "{}";
  }
  CHECK(evs_append_batch_sized(s, NULL, &in[0].ev, sizeof in[0], 3, &res[0].r, sizeof res[0]) ==
        0);
  for (int i = 0; i < 3; i++) {
    CHECK(res[i].r.rc == 0 && res[i].r.id == (uint64_t)i + 1);
    CHECK(res[i].extra == 0); /* the unknown tail of an output is zeroed */
    evs_event *e;
    CHECK(evs_get(s, NULL, (uint64_t)i + 1, &e) == 0 && strcmp(e->source, src[i]) == 0);
    evs_event_free(e);
  }
  in[1].extra[2] = 1; /* a field this library does not know, set: nothing stored */
  CHECK(evs_append_batch_sized(s, NULL, &in[0].ev, sizeof in[0], 3, &res[0].r, sizeof res[0]) ==
        EVS_EINVAL);
  struct { evs_append_result r; uint64_t extra; } one;
  CHECK(evs_append_sized(s, NULL, &in[1].ev, sizeof in[1], &one.r, sizeof one) == EVS_EINVAL);
  CHECK(one.r.rc == EVS_EINVAL);
  in[1].extra[2] = 0;
  memset(&one, CANARY, sizeof one);
  CHECK(evs_append_sized(s, NULL, &in[1].ev, sizeof in[1], &one.r, sizeof one) == 0);
  CHECK(one.r.id == 4 && one.extra == 0);

  struct { evs_query q; uint64_t extra; } bq;
  memset(&bq, 0, sizeof bq);
  bq.q.limit = 2;
  evs_page *page = NULL;
  CHECK(evs_inbox_sized(s, NULL, &bq.q, sizeof bq, &page) == 0 && evs_page_count(page) == 2);
  bq.extra = 1;
  CHECK(evs_inbox_sized(s, NULL, &bq.q, sizeof bq, &page) == EVS_EINVAL);
  evs_page_free(page);

  struct { evs_stats st; uint64_t extra[4]; } bs;
  memset(&bs, CANARY, sizeof bs);
  CHECK(evs_stats_get_sized(s, &bs.st, sizeof bs) == 0 && bs.st.pending == 4);
  CHECK(zero(&bs, sizeof bs.st, sizeof bs));
  struct { evs_verify_report r; uint64_t extra; } bv;
  memset(&bv, CANARY, sizeof bv);
  CHECK(evs_verify_sized(s, &bv.r, sizeof bv) == 0 && bv.r.problems == 0 && bv.extra == 0);
  /* 1.1 added segments_kept and open_segment after the 1.0 fields: the
  ** tail past them comes back zeroed. */
  struct { evs_compact_report r; uint64_t kept, open, extra[2]; } bc;
  memset(&bc, CANARY, sizeof bc);
  CHECK(evs_compact_sized(s, &bc.r, sizeof bc) == 0 && bc.open >= 1 && bc.open <= 6 &&
        bc.extra[0] == 0 && bc.extra[1] == 0);
  CHECK(evs_store_close(s) == 0);
  printf("PASS %s\n", cur);
}

/* Below the first published layout: refused, nothing written. */
static void t_too_small(void) {
  evs_store *s = open_with_events(newdir(), 1);
  CHECK(s);
  struct { evs_stats st; unsigned char tail[8]; } b;
  memset(&b, CANARY, sizeof b);
  CHECK(evs_stats_get_sized(s, &b.st, 8) == EVS_EINVAL);
  CHECK(untouched(&b, 0, sizeof b));
  CHECK(strstr(evs_errmsg(s), "smaller than its first layout") != NULL);
  struct { evs_verify_report r; unsigned char tail[8]; } v;
  memset(&v, CANARY, sizeof v);
  CHECK(evs_verify_sized(s, &v.r, sizeof v.r - 8) == EVS_EINVAL);
  CHECK(untouched(&v, 0, sizeof v));
  evs_query q = {.limit = 1};
  evs_page *page = NULL;
  CHECK(evs_inbox_sized(s, NULL, &q, 4, &page) == EVS_EINVAL && page == NULL);
  evs_event_in in = {.source = "a", .event_type = "t", .payload = "{}"};
  evs_append_result r[2];
  CHECK(evs_append_batch_sized(s, NULL, &in, 0, 1, r, sizeof r[0]) == EVS_EINVAL);
  CHECK(evs_append_batch_sized(s, NULL, &in, sizeof in, 1, r, 4) == EVS_EINVAL);
  evs_stats st;
  CHECK(evs_stats_get(s, &st) == 0 && st.pending == 1); /* nothing was stored */
  CHECK(evs_store_close(s) == 0);
  printf("PASS %s\n", cur);
}

int main(void) {
  const char *base = getenv("EVS_TEST_ROOT");
  snprintf(root, sizeof root, "%s/evs-abi-XXXXXX", base ? base : "/tmp");
  if (!mkdtemp(root)) {
    printf("FAIL setup: mkdtemp %s\n", root);
    return 1;
  }
  static const struct { const char *name; void (*fn)(void); } tests[] = {
      {"t_use_as_built", t_use_as_built},   {"t_smaller_output", t_smaller_output},
      {"t_smaller_input", t_smaller_input}, {"t_bigger_struct", t_bigger_struct},
      {"t_too_small", t_too_small},
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    cur = tests[i].name;
    tests[i].fn();
  }
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  if (system(cmd)) printf("FAIL cleanup: %s\n", cmd);
  return failed ? 1 : 0;
}
