/*
** fuzz_cursor.c: cursor decoding.
**
** One in-memory store (made once) holds 300 events of 3 sources, 2 types,
** 3 priorities and some metadata; a third are acknowledged and a seventh
** deleted. The store is only read, so every input sees the same state.
** The first input byte picks a mode:
**
**  0  raw: the rest of the input is a cursor string, given to
**     evs_cursor_parse and evs_inbox with one of 8 fixed filters. Both must
**     return 0 or EVS_ECURSOR (and agree).
**  1  mutate: a valid cursor (evs_cursor_make, fuzzed filter and id) is
**     edited (bit flips, base64 characters set / inserted / deleted,
**     truncation, raw bytes). Parsing the result must succeed exactly when
**     the string is unchanged (every byte of a cursor is covered by its
**     check or is the check), and evs_inbox must agree with parse.
**  2  cross: a valid cursor is checked against every filter (valid only
**     for its own) and against another store (never valid); evs_inbox with
**     it must return the model's page, whatever the id (0, huge, ...).
**  3  walk: page through a filter with a fuzzed limit, following page
**     cursors; every page must be the model's and the walk must return
**     every matching event exactly once.
**
** Pages are compared with a brute-force model of the 300 events.
*/
#include "fuzz_common.h"

#define NEV 300
#define NFILT 8
#define T0 1700000000000000LL

typedef struct mev {
  int src, typ, prio, acked, deleted, meta; /* meta: -1 none, else value */
  int64_t created;
} mev;

static evs_store *S, *S2;
static int64_t clk = T0;
static mev M[NEV + 1];
static evs_query F[NFILT];
static const char *const SRC[] = {"s0", "s1", "s2"};
static const char *const TYP[] = {"t0", "t1"};

static void setup(void) {
  evs_options o = {0};
  o.retention_us = -1;
  o.clock = fz_clock;
  o.clock_arg = &clk;
  o.sync = EVS_SYNC_OFF;
  if (evs_store_open(NULL, &o, &S) || evs_store_open(NULL, &o, &S2)) abort();
  for (int i = 1; i <= NEV; i++) {
    char meta[32], pl[48];
    mev *m = &M[i];
    m->src = i % 3;
    m->typ = (i / 3) % 2;
    m->prio = 1 + (i / 5) % 3;
    m->meta = i % 4 ? (i / 4) % 3 : -1;
    m->created = clk;
    snprintf(meta, sizeof meta, "{\"k\":%d}", m->meta);
    snprintf(pl, sizeof pl, "{\"i\":%d}", i);
    evs_event_in ev = {.source = SRC[m->src], .event_type = TYP[m->typ],
                       .payload = pl, .priority = m->prio,
                       .metadata = m->meta >= 0 ? meta : NULL};
    evs_append_result r;
    if (evs_append(S, NULL, &ev, &r) || r.id != (uint64_t)i) abort();
    clk += 1000;
  }
  for (int i = 1; i <= NEV; i++) {
    if (i % 3 == 0) {
      if (evs_ack(S, NULL, (uint64_t)i, NULL)) abort();
      M[i].acked = 1;
    }
    if (i % 7 == 0) {
      if (evs_delete(S, NULL, (uint64_t)i, NULL)) abort();
      M[i].deleted = 1;
    }
  }
  /* Eight filters, all with different fingerprints. */
  F[0] = (evs_query){0};
  F[1] = (evs_query){.status = EVS_QUERY_ANY};
  F[2] = (evs_query){.status = EVS_QUERY_ACKNOWLEDGED, .descending = 1};
  F[3] = (evs_query){.source = "s1"};
  F[4] = (evs_query){.source = "s2", .event_type = "t0", .status = EVS_QUERY_ANY};
  F[5] = (evs_query){.priority = EVS_PRIORITY_HIGH, .created_after_us = T0 + 50000};
  F[6] = (evs_query){.metadata_key = "k", .metadata_value = "1"};
  F[7] = (evs_query){.min_id = 20, .max_id = 200, .descending = 1,
                     .status = EVS_QUERY_ANY, .created_before_us = T0 + 250000};
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setup();
  return 0;
}

static int matches(const evs_query *q, uint64_t id) {
  const mev *m = &M[id];
  if (m->deleted) return 0;
  if (q->status == EVS_QUERY_PENDING && m->acked) return 0;
  if (q->status == EVS_QUERY_ACKNOWLEDGED && !m->acked) return 0;
  if (q->source && strcmp(q->source, SRC[m->src])) return 0;
  if (q->event_type && strcmp(q->event_type, TYP[m->typ])) return 0;
  if (q->priority && q->priority != m->prio) return 0;
  if (q->created_after_us && !(m->created > q->created_after_us)) return 0;
  if (q->created_before_us && !(m->created < q->created_before_us)) return 0;
  if (q->metadata_key && (m->meta < 0 || m->meta != atoi(q->metadata_value))) return 0;
  if (q->min_id && id < q->min_id) return 0;
  if (q->max_id && id > q->max_id) return 0;
  return 1;
}

/* The model's page for q after `after` (0 = from the start). */
static size_t model_page(const evs_query *q, uint64_t after, uint64_t *ids,
                         int *more) {
  unsigned limit = q->limit ? q->limit : EVS_PAGE_DEFAULT;
  size_t n = 0;
  *more = 0;
  for (uint64_t k = 1; k <= NEV; k++) {
    uint64_t id = q->descending ? NEV + 1 - k : k;
    if (after && (q->descending ? id >= after : id <= after)) continue;
    if (!matches(q, id)) continue;
    if (n == limit) {
      *more = 1;
      break;
    }
    ids[n++] = id;
  }
  return n;
}

/* The store's page for q (with q->cursor, resuming after `after`) must be
** the model's. */
static void check_page(const evs_query *q, uint64_t after, const evs_page *pg) {
  uint64_t want[EVS_PAGE_MAX];
  int more;
  size_t n = model_page(q, after, want, &more);
  FZ_CHECK(evs_page_count(pg) == n, "page holds %zu events, model %zu (after %llu)",
           evs_page_count(pg), n, (unsigned long long)after);
  FZ_CHECK(evs_page_more(pg) == more, "page more=%d, model %d", evs_page_more(pg), more);
  for (size_t i = 0; i < n; i++) {
    const evs_event *e = evs_page_event(pg, i);
    const mev *m = &M[want[i]];
    FZ_CHECK(e && e->id == want[i], "page event %zu is %llu, model %llu", i,
             e ? (unsigned long long)e->id : 0ULL, (unsigned long long)want[i]);
    FZ_CHECK(e->status == m->acked && e->priority == m->prio &&
                 e->created_us == m->created && !strcmp(e->source, SRC[m->src]) &&
                 !strcmp(e->event_type, TYP[m->typ]),
             "event %llu differs from the model", (unsigned long long)e->id);
  }
  /* The page's cursor resumes after its last event (or where it began). */
  uint64_t last = n ? want[n - 1] : after, got = 0;
  evs_query q2 = *q;
  q2.cursor = NULL;
  int rc = evs_cursor_parse(S, &q2, evs_page_cursor(pg), &got);
  FZ_CHECK(rc == 0 && got == last, "page cursor: rc %d id %llu, want %llu", rc,
           (unsigned long long)got, (unsigned long long)last);
}

/* Inbox with q (q->cursor set): rc must be want_rc; on success check the page. */
static void inbox_expect(const evs_query *q, int want_rc, uint64_t after) {
  evs_page *pg = NULL;
  int rc = evs_inbox(S, NULL, q, &pg);
  FZ_CHECK(rc == want_rc, "evs_inbox returned %d, expected %d (%s)", rc, want_rc,
           evs_errmsg(S));
  if (!rc) check_page(q, after, pg);
  evs_page_free(pg);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void mode_raw(fz_in *in, unsigned f) {
  char cur[512];
  size_t n = in->n < sizeof cur - 1 ? in->n : sizeof cur - 1;
  memcpy(cur, in->p, n);
  cur[n] = 0;
  evs_query q = F[f];
  uint64_t id = 0;
  int rc = evs_cursor_parse(S, &q, cur, &id);
  FZ_CHECK(rc == 0 || rc == EVS_ECURSOR, "evs_cursor_parse returned %d", rc);
  q.cursor = cur;
  inbox_expect(&q, rc, id);
}

static uint64_t pick_id(fz_in *in) {
  unsigned k = fz_u8(in);
  uint64_t v = fz_u64(in);
  switch (k % 4) {
  case 0: return v % (NEV + 3);
  case 1: return v % 64;
  case 2: return UINT64_MAX - v % 4;
  default: return v;
  }
}

static void mode_mutate(fz_in *in) {
  unsigned f = fz_pick(in, NFILT);
  uint64_t id = pick_id(in);
  evs_query q = F[f];
  char orig[EVS_CURSOR_SIZE], cur[160];
  FZ_CHECK(!evs_cursor_make(S, &q, id, orig), "evs_cursor_make failed");
  size_t len = strlen(orig);
  FZ_CHECK(len < EVS_CURSOR_SIZE, "cursor of %zu characters", len);
  memcpy(cur, orig, len + 1);
  for (unsigned k = 1 + fz_pick(in, 4); k && in->n; k--) {
    unsigned op = fz_pick(in, 7), pos = fz_u8(in), v = fz_u8(in);
    size_t at = len ? pos % len : 0;
    switch (op) {
    case 0: /* flip a bit */
      if (len) cur[at] ^= (char)(1u << (v & 7));
      break;
    case 1: /* set a base64 character */
      if (len) cur[at] = b64[v & 63];
      break;
    case 2: /* truncate */
      len = pos % (len + 1);
      break;
    case 3: /* insert a base64 character */
      if (len + 1 < sizeof cur) {
        at = pos % (len + 1);
        memmove(cur + at + 1, cur + at, len - at);
        cur[at] = b64[v & 63];
        len++;
      }
      break;
    case 4: /* delete */
      if (len) {
        memmove(cur + at, cur + at + 1, len - at - 1);
        len--;
      }
      break;
    case 5: /* append raw bytes (NUL ends the string early) */
      for (unsigned r = 1 + v % 40; r && len + 1 < sizeof cur; r--)
        cur[len++] = (char)fz_u8(in);
      break;
    default: /* set a raw byte */
      if (len) cur[at] = (char)v;
      break;
    }
    cur[len] = 0;
  }
  uint64_t got = 0;
  int rc = evs_cursor_parse(S, &q, cur, &got);
  if (!strcmp(cur, orig)) {
    FZ_CHECK(rc == 0 && got == id, "unchanged cursor: rc %d id %llu, want %llu", rc,
             (unsigned long long)got, (unsigned long long)id);
  } else {
    FZ_CHECK(rc == EVS_ECURSOR,
             "altered cursor accepted (rc %d, id %llu): \"%s\" from \"%s\"", rc,
             (unsigned long long)got, cur, orig);
  }
  q.cursor = cur;
  if (fz_u8(in) & 1) q.limit = 1 + fz_pick(in, EVS_PAGE_MAX);
  inbox_expect(&q, rc, got);
}

static void mode_cross(fz_in *in) {
  unsigned f = fz_pick(in, NFILT);
  uint64_t id = pick_id(in);
  evs_query q = F[f];
  if (fz_u8(in) & 1) q.limit = 1 + fz_pick(in, EVS_PAGE_MAX);
  char cur[EVS_CURSOR_SIZE];
  FZ_CHECK(!evs_cursor_make(S, &q, id, cur), "evs_cursor_make failed");
  for (unsigned g = 0; g < NFILT; g++) {
    uint64_t got = 0;
    int rc = evs_cursor_parse(S, &F[g], cur, &got);
    if (g == f)
      FZ_CHECK(rc == 0 && got == id, "own filter: rc %d id %llu, want %llu", rc,
               (unsigned long long)got, (unsigned long long)id);
    else
      FZ_CHECK(rc == EVS_ECURSOR, "cursor of filter %u accepted by filter %u (rc %d)",
               f, g, rc);
  }
  uint64_t got = 0;
  FZ_CHECK(evs_cursor_parse(S2, &F[f], cur, &got) == EVS_ECURSOR,
           "another store's cursor accepted");
  q.cursor = cur;
  inbox_expect(&q, 0, id);
  /* The same page through a reused page handle, passing its own cursor. */
  evs_page *pg = NULL;
  FZ_CHECK(!evs_inbox(S, NULL, &q, &pg), "inbox: %s", evs_errmsg(S));
  char own[EVS_CURSOR_SIZE];
  uint64_t after = 0;
  snprintf(own, sizeof own, "%s", evs_page_cursor(pg));
  FZ_CHECK(!evs_cursor_parse(S, &q, own, &after), "own cursor rejected");
  q.cursor = evs_page_cursor(pg); /* valid until the page is reused */
  FZ_CHECK(!evs_inbox(S, NULL, &q, &pg), "inbox with the page's own cursor: %s",
           evs_errmsg(S));
  check_page(&q, after, pg);
  evs_page_free(pg);
}

static void mode_walk(fz_in *in) {
  unsigned f = fz_pick(in, NFILT);
  evs_query q = F[f];
  q.limit = fz_pick(in, EVS_PAGE_MAX + 1); /* 0 = default */
  static uint8_t seen[NEV + 1];
  memset(seen, 0, sizeof seen);
  evs_page *pg = NULL;
  char cur[EVS_CURSOR_SIZE];
  uint64_t after = 0;
  size_t total = 0;
  for (int pages = 0;; pages++) {
    FZ_CHECK(pages <= NEV + 1, "walk does not end");
    FZ_CHECK(!evs_inbox(S, NULL, &q, &pg), "inbox: %s", evs_errmsg(S));
    check_page(&q, after, pg);
    for (size_t i = 0; i < evs_page_count(pg); i++) {
      uint64_t id = evs_page_event(pg, i)->id;
      FZ_CHECK(!seen[id], "event %llu returned twice", (unsigned long long)id);
      seen[id] = 1;
      total++;
      after = id;
    }
    if (!evs_page_more(pg)) break;
    snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
    q.cursor = cur;
  }
  evs_page_free(pg);
  size_t want = 0;
  for (uint64_t id = 1; id <= NEV; id++) want += matches(&q, id);
  FZ_CHECK(total == want, "walk returned %zu events, model %zu", total, want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned mode = fz_u8(&in);
  switch (mode % 4) {
  case 0: mode_raw(&in, (mode >> 2) % NFILT); break;
  case 1: mode_mutate(&in); break;
  case 2: mode_cross(&in); break;
  default: mode_walk(&in); break;
  }
  return 0;
}
