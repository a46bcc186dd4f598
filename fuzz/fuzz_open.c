/*
** fuzz_open.c: opening a store from fuzzed files.
**
** The input is split (open_format.h) into evstore.meta, 0-3 segment files
** and evstore.manifest (synthesised from the segment files, taken from the
** input, or left out), written into a scratch directory (one per process,
** emptied after every input). Then:
**
**  - evs_store_open must succeed or fail with EVS_ECORRUPT and a message;
**    a segment file the manifest does not list is gone after it succeeds;
**  - after a successful open, ids 1..next_id-1 are read with evs_get (0,
**    EVS_ENOTFOUND, or EVS_ECORRUPT for a payload that does not decompress,
**    which recovery does not check): all of them, or, when ids jump far
**    ahead (gaps are legal since compaction), the SWEEP lowest and highest;
**    ids 0 and next_id are not found, and the strings are read in full;
**  - the inbox is paged with status ANY (and PENDING) following cursors:
**    ids strictly increase; with retention off every event it returns is
**    what evs_get says, it returns every event evs_get found (when all ids
**    were read), and the stats' pending/acknowledged counts are its own;
**  - evs_verify returns 0 (or EVS_ECORRUPT naming a payload that does not
**    decompress, when evs_get saw one);
**  - one event is appended (must succeed with id next_id), read back, the
**    store verified again and closed cleanly;
**  - the directory reopens without error or anything recovered, with the
**    appended event in place.
**
** Checksums stop most mutations early, so two flag bits let the harness
** recompute them (and the segment header chain) after mutation, and the
** manifest is by default made to match the segment files; the seeds
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

/* Ids read with evs_get at each end of 1..next_id-1. Ids may have gaps
** (compaction), so next_id can be far above the number of events; the
** inbox finds those in between. */
#define SWEEP 4096

typedef struct seen {
  uint8_t *st; /* per id read: 0 not found, 1 pending, 2 acked, 3 bad payload */
  uint64_t next;
  uint64_t lo_end, hi_start; /* ids [1,lo_end) and [hi_start,next) were read */
  uint64_t pending, acked;   /* among them */
  int bad_payload;
} seen;

static uint8_t *seen_at(const seen *sn, uint64_t id) {
  if (id >= 1 && id < sn->lo_end) return &sn->st[id - 1];
  if (id >= sn->hi_start && id < sn->next)
    return &sn->st[sn->lo_end - 1 + (id - sn->hi_start)];
  return NULL;
}

/* Every id was read: the counts are the store's. */
static int seen_all(const seen *sn) { return sn->lo_end == sn->hi_start; }

/* evs_get of an existing id: 1 pending, 2 acked, 3 bad payload (and the
** strings read in full), 0 not found. */
static int get_one(evs_store *s, uint64_t id) {
  evs_event *e;
  int rc = evs_get(s, NULL, id, &e);
  if (rc == EVS_ENOTFOUND) return 0;
  if (rc == EVS_ECORRUPT && strstr(evs_errmsg(s), "does not decompress")) return 3;
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
  int st = e->status == EVS_STATUS_PENDING ? 1 : 2;
  evs_event_free(e);
  return st;
}

static void read_all(evs_store *s, seen *sn) {
  evs_stats st;
  FZ_CHECK(!evs_stats_get(s, &st), "stats: %s", evs_errmsg(s));
  FZ_CHECK(st.next_id >= 1, "next_id %llu", (unsigned long long)st.next_id);
  sn->next = st.next_id;
  sn->lo_end = st.next_id - 1 <= SWEEP ? st.next_id : 1 + SWEEP;
  sn->hi_start = st.next_id - sn->lo_end > SWEEP ? st.next_id - SWEEP : sn->lo_end;
  sn->st = calloc((sn->lo_end - 1) + (st.next_id - sn->hi_start) + 1, 1);
  sn->pending = sn->acked = 0;
  sn->bad_payload = 0;
  evs_event *e;
  FZ_CHECK(evs_get(s, NULL, 0, &e) == EVS_ENOTFOUND, "id 0 found");
  FZ_CHECK(evs_get(s, NULL, st.next_id, &e) == EVS_ENOTFOUND, "next_id found");
  for (uint64_t id = 1; id < st.next_id; id++) {
    if (id == sn->lo_end) id = sn->hi_start;
    int r = get_one(s, id);
    *seen_at(sn, id) = (uint8_t)r;
    sn->bad_payload |= r == 3;
    sn->pending += r == 1;
    sn->acked += r == 2;
  }
}

/* Page the inbox (status ANY, then PENDING) following cursors. */
static void page_all(evs_store *s, seen *sn, unsigned flags) {
  int exact = !(flags & OF_RETENTION);
  uint64_t counted[2];
  for (int pass = 0; pass < 2; pass++) {
    evs_query q = {.status = pass ? EVS_QUERY_PENDING : EVS_QUERY_ANY,
                   .limit = flags & OF_SMALLPAGE ? 7 : 100};
    evs_page *pg = NULL;
    char cur[EVS_CURSOR_SIZE];
    uint64_t last = 0, count = 0;
    for (;;) {
      int rc = evs_inbox(s, NULL, &q, &pg);
      /* A bad payload on the page: evs_get saw it, or it lies between
      ** the ids read (possible only over recomputed checksums). */
      if (rc == EVS_ECORRUPT && strstr(evs_errmsg(s), "does not decompress") &&
          (sn->bad_payload || (!seen_all(sn) && (flags & OF_FIXSUM)))) {
        sn->bad_payload = 1;
        break;
      }
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
          const uint8_t *p = seen_at(sn, e->id);
          int got = p ? *p : get_one(s, e->id);
          FZ_CHECK(got == want, "inbox returned %llu (status %d), get says %d",
                   (unsigned long long)e->id, e->status, got);
          FZ_CHECK(!pass || want == 1, "pending inbox returned an acked event");
        }
        count++;
      }
      if (!evs_page_more(pg)) {
        if (exact && !sn->bad_payload && seen_all(sn))
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
    counted[pass] = count;
  }
  if (exact && !sn->bad_payload) {
    evs_stats st;
    FZ_CHECK(!evs_stats_get(s, &st), "stats");
    FZ_CHECK(st.pending == counted[1] && st.acknowledged == counted[0] - counted[1],
             "stats say %llu pending %llu acked, the inbox found %llu/%llu",
             (unsigned long long)st.pending, (unsigned long long)st.acknowledged,
             (unsigned long long)counted[1],
             (unsigned long long)(counted[0] - counted[1]));
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

/* The files of the input, after the fix-ups: meta, segments, manifest. */
typedef struct input {
  unsigned flags, numbering, man, nseg;
  uint8_t *file[4]; /* meta, segments */
  size_t len[4];
  uint8_t *mf; /* the manifest to write, or NULL */
  size_t mflen;
} input;

/* The next n bytes of the input (clipped to what remains), copied. */
static uint8_t *take(fz_in *in, size_t n, size_t *got) {
  if (n > in->n) n = in->n;
  uint8_t *p = malloc(n ? n : 1);
  memcpy(p, in->p, n);
  in->p += n;
  in->n -= n;
  *got = n;
  return p;
}

static void split(input *x, const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  x->flags = fz_u8(&in);
  unsigned b1 = fz_u8(&in);
  x->numbering = OF_NUMBERING(b1);
  x->man = OF_MAN(b1);
  x->nseg = OF_NSEG(x->flags);
  size_t len[4];
  len[0] = fz_u16(&in);
  for (unsigned i = 1; i < x->nseg; i++) len[i] = fz_u16(&in);
  size_t mlen = x->man == OF_MAN_INPUT ? fz_u16(&in) : 0;
  /* Copies: the fix-ups write into them. */
  x->file[0] = take(&in, len[0], &x->len[0]);
  if (x->man == OF_MAN_INPUT) x->mf = take(&in, mlen, &x->mflen);
  for (unsigned i = 1; i <= x->nseg; i++)
    x->file[i] = take(&in, i == x->nseg ? in.n : len[i], &x->len[i]);
}

static void fix_up(input *x) {
  unsigned f = x->flags;
  uint64_t store_id = x->len[0] >= 24 ? of_get64(x->file[0] + 16) : 0;
  uint64_t first = 1;
  for (unsigned i = 1; i <= x->nseg; i++) {
    if (f & OF_FIXCHAIN) {
      uint64_t id = of_seg_first_event(x->file[i], x->len[i]);
      if (id) first = id;
      of_fix_seg_chain(x->file[i], x->len[i], of_segno(x->numbering, i - 1), store_id,
                       first);
    }
    if (f & OF_FIXSUM) of_fix_seg_sums(x->file[i], x->len[i]);
  }
  if (f & OF_FIXSUM) of_fix_meta_sum(x->file[0], x->len[0]);
  if (x->man == OF_MAN_INPUT && (f & OF_FIXSUM)) of_fix_manifest_sum(x->mf, x->mflen);
  if (x->man == OF_MAN_SYNTH || x->man == OF_MAN_ORPHAN) {
    uint32_t count = x->nseg - (x->man == OF_MAN_ORPHAN && x->nseg);
    uint64_t no[3], sz[3];
    for (uint32_t i = 0; i < count; i++) {
      no[i] = of_segno(x->numbering, i);
      sz[i] = x->len[i + 1];
    }
    x->mflen = EVS_MANIFEST_HDR + 16 * (size_t)count + 8;
    x->mf = malloc(x->mflen);
    of_manifest(x->mf, store_id, count, no, sz);
  }
}

static void write_files(const input *x) {
  if (!(x->flags & OF_NOMETA)) write_file("evstore.meta", x->file[0], x->len[0]);
  if (x->mf) write_file(EVS_MANIFEST_NAME, x->mf, x->mflen);
  for (unsigned i = 1; i <= x->nseg; i++) {
    char name[32];
    snprintf(name, sizeof name, "%016llx.evlog",
             (unsigned long long)of_segno(x->numbering, i - 1));
    write_file(name, x->file[i], x->len[i]);
  }
}

static void free_input(input *x) {
  for (unsigned i = 0; i <= x->nseg; i++) free(x->file[i]);
  free(x->mf);
}

#ifdef FUZZ_AVOID_KNOWN_BUGS
/* Open gives every id skipped over (an event id or a segment's first id
** far ahead) an index entry, until memory runs out, and an id of 2^64-1
** makes the next id wrap to 0 (crashes/open-id-gap-holes, open-id-wrap):
** leave inputs with far ids out. Records are walked as the fix-ups do, a
** superset of what replay reads. */
#define FAR_ID (1u << 20)
static int far_ids(const input *x) {
  for (unsigned i = 1; i <= x->nseg; i++) {
    const uint8_t *g = x->file[i];
    size_t n = x->len[i];
    if (n >= 48 && of_get64(g + 40) > FAR_ID) return 1;
    for (size_t pos = EVS_SEG_HDR; pos + EVS_REC_HDR <= n;) {
      uint32_t len = of_get32(g + pos + 8);
      if (len < EVS_REC_HDR || len > n - pos) break;
      if (g[pos + 12] == EVS_REC_EVENT && len >= EVS_REC_HDR + 8 &&
          of_get64(g + pos + EVS_REC_HDR) > FAR_ID)
        return 1;
      pos += len;
    }
  }
  return 0;
}
#endif

/* An orphan segment file (manifest mode 3) is gone after a good open. */
static void check_orphan_removed(const input *x) {
  if (x->man != OF_MAN_ORPHAN || !x->nseg) return;
  char path[400];
  snprintf(path, sizeof path, "%s/%016llx.evlog", dir,
           (unsigned long long)of_segno(x->numbering, x->nseg - 1));
  struct stat st;
  FZ_CHECK(stat(path, &st) != 0, "open kept %s, which the manifest does not list", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 18) return 0;
  input x = {0};
  split(&x, data, size);
  fix_up(&x);
#ifdef FUZZ_AVOID_KNOWN_BUGS
  if (far_ids(&x)) {
    free_input(&x);
    return 0;
  }
#endif
  write_files(&x);
  free_input(&x);
  unsigned flags = x.flags;

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
  check_orphan_removed(&x);
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
