/*
** fuzz_open.c: opening a store from fuzzed files.
**
** The input is split (open_format.h) into evstore.meta and 0-3 segment
** files, written into a scratch directory (one per process, emptied after
** every input). Then:
**
**  - evs_store_open must succeed or fail with EVS_ECORRUPT and a message;
**  - after a successful open, every id 1..next_id-1 is read with evs_get
**    (0, EVS_ENOTFOUND, or EVS_ECORRUPT for a payload that does not
**    decompress, which recovery does not check), ids 0 and next_id are not
**    found, and the strings are read in full;
**  - the inbox is paged with status ANY (and PENDING) following cursors:
**    ids strictly increase; with retention off it returns exactly the
**    events evs_get finds, and the stats' pending/acknowledged counts match;
**  - evs_verify returns 0 (or EVS_ECORRUPT naming a payload that does not
**    decompress, when evs_get saw one);
**  - one event is appended (must succeed with id next_id), read back, the
**    store verified again and closed cleanly;
**  - the directory reopens without error or anything recovered, with the
**    appended event in place.
**
** Checksums stop most mutations early, so two flag bits let the harness
** recompute them (and the segment header chain) after mutation; the seeds
** (fuzz/gen_corpus.c) are real stores made by the library.
*/
#include <fcntl.h>

#include "fuzz_common.h"
#include "open_format.h"

static char dir[300];
static int64_t clk;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "%s/store", fz_scratch());
  if (mkdir(dir, 0755)) abort();
  return 0;
}

static void write_file(const char *name, const uint8_t *p, size_t n) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) abort();
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) abort();
    p += w;
    n -= (size_t)w;
  }
  close(fd);
}

static evs_options options(unsigned flags) {
  evs_options o = {0};
  o.sync = EVS_SYNC_OFF;
  o.segment_size = 4096;
  o.compress_threshold = 256;
  o.retention_us = flags & OF_RETENTION ? 86400LL * 1000000 : -1;
  o.clock = fz_clock;
  o.clock_arg = &clk;
  return o;
}

/* Read every byte of a string the library handed out. */
static unsigned touch(const char *s, size_t n) {
  unsigned h = 0;
  for (size_t i = 0; i < n; i++) h = h * 31 + (unsigned char)s[i];
  FZ_CHECK(s[n] == 0, "string not NUL-terminated");
  return h;
}

typedef struct seen {
  uint8_t *st; /* per id: 0 not found, 1 pending, 2 acked, 3 bad payload */
  uint64_t next;
  uint64_t pending, acked;
  int bad_payload;
} seen;

static void read_all(evs_store *s, seen *sn) {
  evs_stats st;
  FZ_CHECK(!evs_stats_get(s, &st), "stats: %s", evs_errmsg(s));
  FZ_CHECK(st.next_id >= 1, "next_id %llu", (unsigned long long)st.next_id);
  sn->next = st.next_id;
  sn->st = calloc(st.next_id + 1, 1);
  sn->pending = sn->acked = 0;
  sn->bad_payload = 0;
  evs_event *e;
  FZ_CHECK(evs_get(s, NULL, 0, &e) == EVS_ENOTFOUND, "id 0 found");
  FZ_CHECK(evs_get(s, NULL, st.next_id, &e) == EVS_ENOTFOUND, "next_id found");
  for (uint64_t id = 1; id < st.next_id; id++) {
    int rc = evs_get(s, NULL, id, &e);
    if (rc == EVS_ENOTFOUND) continue;
    if (rc == EVS_ECORRUPT && strstr(evs_errmsg(s), "does not decompress")) {
      sn->st[id] = 3;
      sn->bad_payload = 1;
      continue;
    }
    FZ_CHECK(rc == 0, "evs_get(%llu) returned %d: %s", (unsigned long long)id, rc,
             evs_errmsg(s));
    FZ_CHECK(e->id == id, "evs_get(%llu) gave id %llu", (unsigned long long)id,
             (unsigned long long)e->id);
    FZ_CHECK(e->status == EVS_STATUS_PENDING || e->status == EVS_STATUS_ACKNOWLEDGED,
             "status %d", e->status);
    FZ_CHECK(e->priority >= EVS_PRIORITY_LOW && e->priority <= EVS_PRIORITY_HIGH,
             "priority %d", e->priority);
    touch(e->source, e->source_len);
    touch(e->event_type, e->event_type_len);
    touch(e->payload, e->payload_len);
    if (e->metadata) touch(e->metadata, e->metadata_len);
    if (e->idempotency_key) touch(e->idempotency_key, e->idempotency_key_len);
    sn->st[id] = e->status == EVS_STATUS_PENDING ? 1 : 2;
    if (e->status == EVS_STATUS_PENDING)
      sn->pending++;
    else
      sn->acked++;
    evs_event_free(e);
  }
}

/* Page the inbox (status ANY, then PENDING) following cursors. */
static void page_all(evs_store *s, const seen *sn, unsigned flags) {
  int exact = !(flags & OF_RETENTION);
  for (int pass = 0; pass < 2; pass++) {
    evs_query q = {.status = pass ? EVS_QUERY_PENDING : EVS_QUERY_ANY,
                   .limit = flags & OF_SMALLPAGE ? 7 : 100};
    evs_page *pg = NULL;
    char cur[EVS_CURSOR_SIZE];
    uint64_t last = 0, count = 0;
    for (;;) {
      int rc = evs_inbox(s, NULL, &q, &pg);
      if (rc == EVS_ECORRUPT && sn->bad_payload) break; /* a bad payload on the page */
      FZ_CHECK(rc == 0, "inbox: %d %s", rc, evs_errmsg(s));
      for (size_t i = 0; i < evs_page_count(pg); i++) {
        const evs_event *e = evs_page_event(pg, i);
        FZ_CHECK(e->id > last && e->id < sn->next, "inbox id %llu after %llu",
                 (unsigned long long)e->id, (unsigned long long)last);
        last = e->id;
        touch(e->source, e->source_len);
        touch(e->payload, e->payload_len);
        if (e->metadata) touch(e->metadata, e->metadata_len);
        if (exact) {
          int want = e->status == EVS_STATUS_PENDING ? 1 : 2;
          FZ_CHECK(sn->st[e->id] == want, "inbox returned %llu (status %d), get says %d",
                   (unsigned long long)e->id, e->status, sn->st[e->id]);
          FZ_CHECK(!pass || want == 1, "pending inbox returned an acked event");
        }
        count++;
      }
      if (!evs_page_more(pg)) {
        if (exact && !sn->bad_payload)
          FZ_CHECK(count == (pass ? sn->pending : sn->pending + sn->acked),
                   "inbox pass %d returned %llu events, evs_get found %llu", pass,
                   (unsigned long long)count,
                   (unsigned long long)(pass ? sn->pending : sn->pending + sn->acked));
        break;
      }
      FZ_CHECK(evs_page_count(pg) > 0, "empty page with more");
      snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
      q.cursor = cur;
    }
    evs_page_free(pg);
  }
  if (exact) {
    evs_stats st;
    FZ_CHECK(!evs_stats_get(s, &st), "stats");
    FZ_CHECK(sn->bad_payload ||
                 (st.pending == sn->pending && st.acknowledged == sn->acked),
             "stats say %llu pending %llu acked, evs_get found %llu/%llu",
             (unsigned long long)st.pending, (unsigned long long)st.acknowledged,
             (unsigned long long)sn->pending, (unsigned long long)sn->acked);
  }
}

/* A compressed payload that does not decompress is corruption open does
** not look for; it can only be there when the harness recomputed the
** checksums over mutated bytes (OF_FIXSUM). evs_get sees it only in a
** visible event, evs_verify in every live one (also expired ones). */
static void verify(evs_store *s, const seen *sn, unsigned flags, const char *when) {
  int rc = evs_verify(s, NULL);
  if (rc == EVS_ECORRUPT && (sn->bad_payload || (flags & OF_FIXSUM)) &&
      strstr(evs_errmsg(s), "does not decompress"))
    return;
  FZ_CHECK(rc == 0, "evs_verify %s returned %d: %s", when, rc, evs_errmsg(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 18) return 0;
  fz_in in = {data, size};
  unsigned flags = fz_u8(&in), numbering = fz_u8(&in) & 3;
  unsigned nseg = OF_NSEG(flags);
  size_t len[4];
  len[0] = fz_u16(&in);
  for (unsigned i = 1; i < nseg; i++) len[i] = fz_u16(&in);
  /* Copies: the fix-ups write into them. */
  uint8_t *file[4] = {0};
  for (unsigned i = 0; i <= nseg; i++) {
    size_t n = i == nseg && i ? in.n : len[i];
    if (n > in.n) n = in.n;
    len[i] = n;
    file[i] = malloc(n ? n : 1);
    memcpy(file[i], in.p, n);
    in.p += n;
    in.n -= n;
  }
  uint64_t store_id = len[0] >= 24 ? of_get64(file[0] + 16) : 0;
  for (unsigned i = 1; i <= nseg; i++) {
    if (flags & OF_FIXCHAIN)
      of_fix_seg_chain(file[i], len[i], of_segno(numbering, i - 1), store_id,
                       i > 1 ? len[i - 1] : 0);
    if (flags & OF_FIXSUM) of_fix_seg_sums(file[i], len[i]);
  }
  if (flags & OF_FIXSUM) of_fix_meta_sum(file[0], len[0]);
  if (!(flags & OF_NOMETA)) write_file("evstore.meta", file[0], len[0]);
  for (unsigned i = 1; i <= nseg; i++) {
    char name[32];
    snprintf(name, sizeof name, "%016llx.evlog",
             (unsigned long long)of_segno(numbering, i - 1));
    write_file(name, file[i], len[i]);
  }
  for (unsigned i = 0; i <= nseg; i++) free(file[i]);

  clk = flags & OF_RETENTION ? OF_T0 + 43200LL * 1000000 : OF_T0 + 1000000000;
  evs_options o = options(flags);
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) {
    FZ_CHECK(rc == EVS_ECORRUPT, "open returned %d: %s", rc, evs_errmsg(NULL));
    FZ_CHECK(!s && *evs_errmsg(NULL), "failed open without a message");
    fz_clean_dir(dir);
    return 0;
  }
  seen sn;
  read_all(s, &sn);
  page_all(s, &sn, flags);
  verify(s, &sn, flags, "after open");

  /* One more event: it must get the next id and read back. */
  static char big[3000];
  if (!big[0]) {
    int n = snprintf(big, sizeof big, "{\"pad\":\"");
    for (; n < (int)sizeof big - 3; n++) big[n] = (char)('a' + n % 7);
    snprintf(big + n, sizeof big - (size_t)n, "\"}");
  }
  const char *pl = flags & OF_BIGAPPEND ? big : "{\"fuzz\":1}";
  evs_event_in ev = {.source = "fuzz", .event_type = "open", .payload = pl,
                     .idempotency_key = "fuzz-open-key"};
  evs_append_result r;
  rc = evs_append(s, NULL, &ev, &r);
  FZ_CHECK(rc == 0, "append after open: %d %s", rc, evs_errmsg(s));
  FZ_CHECK(r.duplicate || r.id == sn.next, "appended id %llu, next_id was %llu",
           (unsigned long long)r.id, (unsigned long long)sn.next);
  uint64_t new_id = r.id;
  int dup = r.duplicate;
  evs_event *e;
  rc = evs_get(s, NULL, new_id, &e);
  if (!dup) {
    FZ_CHECK(rc == 0 && !strcmp(e->payload, pl), "appended event reads back: %d", rc);
    evs_event_free(e);
  } else if (!rc) {
    evs_event_free(e);
  }
  verify(s, &sn, flags, "after append");
  rc = evs_store_close(s);
  FZ_CHECK(rc == 0, "close: %d %s", rc, evs_errmsg(NULL));

  /* What closed cleanly reopens cleanly. */
  rc = evs_store_open(dir, &o, &s);
  FZ_CHECK(rc == 0, "reopen after a clean close: %d %s", rc, evs_errmsg(NULL));
  evs_stats st;
  FZ_CHECK(!evs_stats_get(s, &st), "stats");
  FZ_CHECK(st.next_id == sn.next + !dup, "reopened next_id %llu, expected %llu",
           (unsigned long long)st.next_id, (unsigned long long)(sn.next + !dup));
  FZ_CHECK(st.recovered_bytes_dropped == 0 && st.recovered_records_dropped == 0,
           "reopen after a clean close recovered %llu bytes",
           (unsigned long long)st.recovered_bytes_dropped);
  if (!dup) {
    rc = evs_get(s, NULL, new_id, &e);
    FZ_CHECK(rc == 0 && !strcmp(e->payload, pl), "appended event after reopen: %d", rc);
    evs_event_free(e);
  }
  verify(s, &sn, flags, "after reopen");
  FZ_CHECK(!evs_store_close(s), "close: %s", evs_errmsg(NULL));
  free(sn.st);
  fz_clean_dir(dir);
  return 0;
}
