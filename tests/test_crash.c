/*
** test_crash.c: real process crashes. A child process opens a directory
** store with sync FULL and appends (single, batched, in explicit
** transactions, with idempotency keys on some), acks and deletes, and
** reports every operation to the parent through a pipe AS IT RETURNS. The
** parent kills it with SIGKILL at a random moment, reopens the store and
** checks:
**  - every reported append is present with its exact content (payload,
**    source, type, key, metadata, priority: all regenerated from a seed);
**  - every reported ack is acknowledged, every reported delete is gone;
**  - nothing half-written is visible: events of one batch or transaction
**    (they carry a batch marker in their metadata) are all present or none,
**    and a transaction's ack is applied exactly when its events are;
**  - an operation that was in flight (begun, not reported) is either
**    entirely there or entirely absent, and nothing else changed;
**  - ids keep increasing: next_id > every reported id, and new appends get
**    ids >= the next_id seen at the previous reopen;
**  - evs_verify returns 0.
** One store serves many kill cycles; a fresh one starts every CYCLES_PER_STORE.
** Half the cycles run the child over an I/O table whose fdatasync is a no-op:
** a process crash leaves the page cache intact, so this shows exactly what a
** real fdatasync would, but commits are ~100x faster and kills land at many
** more distinct points of the write path. Cycles that start with a > 4 MiB
** batch (written out in pieces before its commit record) put kills in the
** middle of a commit; the info line reports how many reopen found a torn or
** uncommitted tail (recovered_bytes_dropped > 0).
**
** EVS_SEED=<n> replays a run with another random seed; EVS_CRASH_CYCLES=<n>
** changes the number of kill points (default 1000).
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "io.h"
#include "gen.h"
#include "testlib.h"

#define CYCLES_PER_STORE 50
#define BIG_BIT (UINT64_C(1) << 62)
#define SEED_SPAN UINT64_C(1000000) /* seeds of cycle c: c * SEED_SPAN + k */

/* ---- deterministic content --------------------------------------------- */


static uint64_t rng_state;
static uint64_t rnd(void) { return mix64(rng_state++); }
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

#define RBLOCK (1u << 20)
static char *rblock; /* RBLOCK alphanumeric bytes: payload material */

static void rblock_init(void) {
  rblock = malloc(RBLOCK);
  for (uint32_t i = 0; i < RBLOCK; i++)
    rblock[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        [mix64(i * UINT64_C(7919)) % 62];
}

/* Everything about an event follows from its seed (and its batch). */

static size_t payload_len_of(uint64_t seed) {
  uint64_t h = mix64(seed);
  return (seed & BIG_BIT) ? 350000 + h % 40000 : 8 + h % 600;
}

/* b = batch marker (0 = none), n = events in it, i = position. */
static void gen(uint64_t seed, uint64_t b, unsigned n, unsigned i, gen_ev *g) {
  uint64_t h = mix64(seed ^ UINT64_C(0x5151));
  snprintf(g->source, sizeof g->source, "src%u", (unsigned)(h % 3));
  snprintf(g->type, sizeof g->type, "type.%u", (unsigned)((h >> 8) % 4));
  g->has_key = (h >> 16) % 3 == 0;
  snprintf(g->key, sizeof g->key, "key-%" PRIu64, seed);
  g->prio = 1 + (int)((h >> 24) % 3);
  g->has_meta = b != 0;
  snprintf(g->meta, sizeof g->meta, "{\"b\":%" PRIu64 ",\"n\":%u,\"i\":%u}", b, n, i);
  size_t len = payload_len_of(seed);
  g->payload = malloc(len + 64);
  size_t k = (size_t)sprintf(g->payload, "{\"s\":%" PRIu64 ",\"d\":\"", seed);
  size_t off = (size_t)((h >> 32) % (RBLOCK - len));
  memcpy(g->payload + k, rblock + off, len);
  k += len;
  g->payload[k++] = '"';
  g->payload[k++] = '}';
  g->payload[k] = 0;
  g->plen = k;
}


/* ---- the child's report ------------------------------------------------ */

enum {
  R_READY = 1,  /* store open; id = next_id                              */
  R_APPEND,     /* single append returned 0: id, seed, n = duplicate     */
  R_BATCH,      /* batch returned 0: first id, seed0, n                  */
  R_TXN_INTENT, /* explicit txn begins: seed0 (= batch marker), n, aux = acked id */
  R_TXN,        /* its commit returned 0: first id, seed0, n             */
  R_ACK_INTENT, /* about to ack id                                       */
  R_ACK,        /* ack of id returned 0                                  */
  R_DEL_INTENT, /* about to delete id                                    */
  R_DEL,        /* delete of id returned 0                               */
  R_DUP,        /* re-append of a key returned the original id           */
  R_FAIL,       /* the child saw something wrong: n = line, aux = rc     */
  R_BIG_START   /* a > 4 MiB batch is about to be appended               */
};

typedef struct crash_rep {
  uint32_t kind, n;
  uint64_t id, seed, aux;
} crash_rep;

static int rep_fd = -1;
static void report(uint32_t kind, uint32_t n, uint64_t id, uint64_t seed,
                   uint64_t aux) {
  crash_rep r = {kind, n, id, seed, aux};
  if (write(rep_fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(3);
}
#define CHILD_FAIL(rc) report(R_FAIL, __LINE__, 0, 0, (uint64_t)(int64_t)(rc))

/* ---- the parent's model of the store ----------------------------------- */

enum { M_PENDING = 1, M_ACKED = 2, M_DELETED = 3 };
typedef struct ment {
  uint64_t seed, batch;
  uint32_t bn, bi;
  uint8_t state;
} ment;

typedef struct model {
  ment *e; /* by id - 1 */
  uint64_t next_id;
  size_t cap;
} model;

static ment *mget(model *m, uint64_t id) { return &m->e[id - 1]; }

static void madd(model *m, uint64_t id, ment v) {
  if (id - 1 >= m->cap) {
    size_t nc = m->cap ? m->cap * 2 : 1024;
    while (nc <= id - 1) nc *= 2;
    m->e = realloc(m->e, nc * sizeof *m->e);
    memset(m->e + m->cap, 0, (nc - m->cap) * sizeof *m->e);
    m->cap = nc;
  }
  m->e[id - 1] = v;
}

/* ---- options and I/O ---------------------------------------------------- */

static int nosync_fdatasync(void *ctx, int fd) { return 0; }
static int nosync_fsync(void *ctx, int fd) { return 0; }
static evs_io io_nosync;

static evs_options crash_opts(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = EVS_SYNC_FULL;
  o.segment_size = 64 * 1024;
  o.compress_threshold = UINT32_MAX;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  /* The model keeps every acknowledged event; background compaction would
  ** remove keyless ones. Compaction under crashes is test_powerloss's
  ** (power loss mid-compaction, harsher than a kill) and test_compact's. */
  o.auto_compact_percent = -1;
  return o;
}

/* ---- the child --------------------------------------------------------- */

typedef struct cand {
  uint64_t id, seed;
} cand;

/* Runs until killed. Candidates for acks, deletes and duplicate keys come
** from the parent's model (inherited by fork) and from this cycle's reported
** appends; an id is taken out of the candidates once an operation on it
** begins, so no other operation of the cycle touches it. */
static void child_main(const char *dir, const model *m, uint64_t cycle,
                       int fast, int big_first) {
  evs_options o = crash_opts();
  evs_store *s = NULL;
  int rc = evs_store_open_io(dir, &o, fast ? &io_nosync : &evs_io_posix, &s);
  if (rc) {
    CHILD_FAIL(rc);
    _exit(1);
  }
  evs_stats st;
  evs_stats_get(s, &st);
  report(R_READY, 0, st.next_id, 0, 0);

  size_t cap = 1024, np = 0, nk = 0;
  cand *pend = malloc(cap * sizeof *pend), *keyed = malloc(cap * sizeof *keyed);
  size_t capk = cap;
  for (uint64_t id = 1; id < m->next_id; id++) {
    const ment *e = &m->e[id - 1];
    if (e->state == M_PENDING) {
      if (np == cap) pend = realloc(pend, (cap *= 2) * sizeof *pend);
      pend[np++] = (cand){id, e->seed};
    }
    if (e->state == M_PENDING || e->state == M_ACKED) {
      /* Only the key decides: skip generating the payload. */
      uint64_t h = mix64(e->seed ^ UINT64_C(0x5151));
      if ((h >> 16) % 3 == 0) {
        if (nk == capk) keyed = realloc(keyed, (capk *= 2) * sizeof *keyed);
        keyed[nk++] = (cand){id, e->seed};
      }
    }
  }
#define ADD_PEND(i_, s_)                                                  \
  do {                                                                    \
    if (np == cap) pend = realloc(pend, (cap *= 2) * sizeof *pend);       \
    pend[np++] = (cand){(i_), (s_)};                                      \
    if ((mix64((s_) ^ UINT64_C(0x5151)) >> 16) % 3 == 0) {                \
      if (nk == capk) keyed = realloc(keyed, (capk *= 2) * sizeof *keyed); \
      keyed[nk++] = (cand){(i_), (s_)};                                   \
    }                                                                     \
  } while (0)

  uint64_t seed = cycle * SEED_SPAN + 1;
  for (int op = 0; op < 20000; op++) {
    unsigned r = (unsigned)rnd_below(100);
    if (op == 0 && big_first) r = 1000;
    if (r < 30) { /* single append */
      gen_ev g;
      uint64_t sd = seed++;
      gen(sd, 0, 0, 0, &g);
      evs_event_in in = gen_in(&g);
      evs_append_result res;
      rc = evs_append(s, NULL, &in, &res);
      free(g.payload);
      if (rc || res.duplicate) {
        CHILD_FAIL(rc);
        continue;
      }
      report(R_APPEND, 0, res.id, sd, 0);
      ADD_PEND(res.id, sd);
    } else if (r < 50 || r == 1000) { /* batch, > 4 MiB when big */
      int big = r == 1000;
      unsigned n = big ? 12 : 2 + (unsigned)rnd_below(7);
      uint64_t s0 = seed;
      seed += n;
      gen_ev g[12];
      evs_event_in in[12];
      evs_append_result res[12];
      for (unsigned i = 0; i < n; i++) {
        gen((s0 + i) | (big ? BIG_BIT : 0), s0, n, i, &g[i]);
        in[i] = gen_in(&g[i]);
      }
      if (big) report(R_BIG_START, n, 0, s0, 0);
      rc = evs_append_batch(s, NULL, in, n, res);
      for (unsigned i = 0; i < n; i++) free(g[i].payload);
      if (rc) {
        CHILD_FAIL(rc);
        continue;
      }
      for (unsigned i = 0; i < n; i++)
        if (res[i].rc || res[i].duplicate || res[i].id != res[0].id + i)
          CHILD_FAIL(res[i].rc);
      report(R_BATCH, n, res[0].id, s0 | (big ? BIG_BIT : 0), 0);
      for (unsigned i = 0; i < n; i++)
        ADD_PEND(res[0].id + i, (s0 + i) | (big ? BIG_BIT : 0));
    } else if (r < 65) { /* explicit transaction: appends and an ack */
      unsigned n = 1 + (unsigned)rnd_below(4);
      uint64_t s0 = seed;
      seed += n;
      uint64_t ack = 0;
      if (np && rnd_below(2)) {
        size_t k = (size_t)rnd_below(np);
        ack = pend[k].id;
        pend[k] = pend[--np];
      }
      report(R_TXN_INTENT, n, 0, s0, ack);
      evs_txn *t = NULL;
      rc = evs_txn_begin(s, &t);
      if (rc) {
        CHILD_FAIL(rc);
        continue;
      }
      uint64_t first = 0;
      for (unsigned i = 0; i < n && !rc; i++) {
        gen_ev g;
        gen(s0 + i, s0, n, i, &g);
        evs_event_in in = gen_in(&g);
        evs_append_result res;
        rc = evs_append(s, t, &in, &res);
        free(g.payload);
        if (!rc && i == 0) first = res.id;
        if (!rc && res.id != first + i) CHILD_FAIL(0);
        if (!rc && i == 0 && ack) rc = evs_ack(s, t, ack, NULL);
      }
      if (rc) {
        CHILD_FAIL(rc);
        evs_txn_rollback(t);
        continue;
      }
      rc = evs_txn_commit(t);
      if (rc) {
        CHILD_FAIL(rc);
        continue;
      }
      report(R_TXN, n, first, s0, ack);
      for (unsigned i = 0; i < n; i++) ADD_PEND(first + i, s0 + i);
    } else if (r < 80) { /* ack */
      if (!np) continue;
      size_t k = (size_t)rnd_below(np);
      uint64_t id = pend[k].id;
      pend[k] = pend[--np];
      report(R_ACK_INTENT, 0, id, 0, 0);
      rc = evs_ack(s, NULL, id, NULL);
      if (rc) {
        CHILD_FAIL(rc);
        continue;
      }
      report(R_ACK, 0, id, 0, 0);
    } else if (r < 87) { /* delete (its key is forgotten with it) */
      if (!np) continue;
      size_t k = (size_t)rnd_below(np);
      uint64_t id = pend[k].id;
      pend[k] = pend[--np];
      for (size_t j = 0; j < nk; j++)
        if (keyed[j].id == id) keyed[j] = keyed[--nk];
      report(R_DEL_INTENT, 0, id, 0, 0);
      int existed = 0;
      rc = evs_delete(s, NULL, id, &existed);
      if (rc || !existed) {
        CHILD_FAIL(rc);
        continue;
      }
      report(R_DEL, 0, id, 0, 0);
    } else { /* a key seen before: a duplicate, nothing stored */
      if (!nk) continue;
      size_t k = (size_t)rnd_below(nk);
      gen_ev g;
      gen(keyed[k].seed, 0, 0, 0, &g);
      evs_event_in in = gen_in(&g);
      evs_append_result res;
      rc = evs_append(s, NULL, &in, &res);
      free(g.payload);
      if (rc || !res.duplicate || res.id != keyed[k].id) {
        CHILD_FAIL(rc ? rc : (int64_t)res.id);
        continue;
      }
      report(R_DUP, 0, res.id, keyed[k].seed, 0);
    }
  }
#undef ADD_PEND
  for (;;) pause();
}

/* ---- the parent -------------------------------------------------------- */

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static char part[sizeof(crash_rep)]; /* a record split across reads */
static size_t npart;

/* Read whatever the child has written, waiting until `deadline` (µs,
** CLOCK_MONOTONIC; 0 = only what is there) or until `stop_kind` arrives. */
static int drain(int fd, crash_rep **reps, size_t *n, size_t *cap, double deadline,
                 uint32_t stop_kind) {
  for (size_t i = 0; stop_kind && i < *n; i++)
    if ((*reps)[i].kind == stop_kind) return 1;
  for (;;) {
    double left = deadline - now_us();
    if (deadline == 0 || left < 0) left = 0;
    struct timespec ts = {(time_t)(left / 1e6), (long)((left - (double)(time_t)(left / 1e6) * 1e6) * 1e3)};
    struct pollfd p = {fd, POLLIN, 0};
    int pr = ppoll(&p, 1, &ts, NULL);
    if (pr <= 0) return 0; /* deadline */
    char buf[4096];
    ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0) return -1; /* child gone, everything read */
    int stop = 0;
    for (ssize_t i = 0; i < got; i++) {
      part[npart++] = buf[i];
      if (npart == sizeof(crash_rep)) {
        if (*n == *cap) *reps = realloc(*reps, (*cap = *cap ? *cap * 2 : 256) * sizeof **reps);
        memcpy(&(*reps)[(*n)++], part, sizeof(crash_rep));
        npart = 0;
        if (stop_kind && (*reps)[*n - 1].kind == stop_kind) stop = 1;
      }
    }
    if (stop) return 1;
  }
}

/* Compare a stored event with what its seed says. Returns 0 when equal. */
static int check_content(const evs_event *e, uint64_t seed, uint64_t b, unsigned n,
                         unsigned i) {
  gen_ev g;
  gen(seed, b, n, i, &g);
  int bad = gen_diff(e, &g);
  free(g.payload);
  if (bad) fprintf(stderr, "  event %" PRIu64 " (seed %" PRIu64 "): content differs (mask %d)\n",
                   e->id, seed, bad);
  return bad;
}

/* Seed and batch marker of a stored event, from its payload and metadata. */
static int parse_event(const evs_event *e, uint64_t *seed, uint64_t *b, unsigned *n,
                       unsigned *i) {
  unsigned long long sd = 0, bb = 0;
  unsigned nn = 0, ii = 0;
  if (sscanf(e->payload, "{\"s\":%llu,", &sd) != 1) return -1;
  *seed = sd;
  *b = 0, *n = 0, *i = 0;
  if (e->metadata) {
    if (sscanf(e->metadata, "{\"b\":%llu,\"n\":%u,\"i\":%u}", &bb, &nn, &ii) != 3) return -1;
    *b = bb, *n = nn, *i = ii;
  }
  return 0;
}

static int state_of(evs_store *s, uint64_t id) {
  evs_event *e = NULL;
  int rc = evs_get(s, NULL, id, &e);
  int st = rc == EVS_ENOTFOUND ? M_DELETED
           : rc                ? -1
           : e->status == EVS_STATUS_ACKNOWLEDGED ? M_ACKED
                                                  : M_PENDING;
  evs_event_free(e);
  return st;
}

/* Every event of the model, with content: run now and then. */
static void full_check(evs_store *s, model *m) {
  uint64_t pend = 0, acked = 0;
  for (uint64_t id = 1; id < m->next_id; id++) {
    ment *x = mget(m, id);
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, id, &e);
    if (x->state == M_DELETED) {
      CHECK_EQ(rc, EVS_ENOTFOUND);
    } else {
      CHECK_EQ(rc, 0);
      if (!rc) {
        CHECK_EQ(e->status == EVS_STATUS_ACKNOWLEDGED, x->state == M_ACKED);
        CHECK_EQ(check_content(e, x->seed, x->batch, x->bn, x->bi), 0);
      }
      if (x->state == M_PENDING) pend++;
      else acked++;
    }
    evs_event_free(e);
  }
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  CHECK_EQ(st.next_id, m->next_id);
  CHECK_EQ(st.pending, pend);
  CHECK_EQ(st.acknowledged, acked);
}

typedef struct batch_seen {
  uint64_t b, first;
  unsigned n, count;
} batch_seen;

static int is_in(const uint64_t *v, size_t n, uint64_t x) {
  for (size_t i = 0; i < n; i++)
    if (v[i] == x) return 1;
  return 0;
}

static uint64_t n_kills, n_torn, n_before_ready, n_reported, n_unreported_landed,
    n_big;

static int last_torn; /* the last reopen dropped a torn or uncommitted tail */

/* After a kill: reopen, check against the model and the report, then fold
** what is now in the store into the model. */
static void check_cycle(const char *dir, model *m, uint64_t cycle, crash_rep *reps,
                        size_t nr) {
  evs_options o = crash_opts();
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) fprintf(stderr, "  cycle %" PRIu64 ": reopen: %s\n", cycle, evs_errmsg(NULL));
  CHECK_EQ(rc, 0);
  if (rc) return;
  evs_stats st;
  CHECK_EQ(evs_stats_get(s, &st), 0);
  last_torn = st.recovered_bytes_dropped > 0;
  n_torn += last_torn;
  uint64_t old_next = m->next_id, new_next = st.next_id;
  CHECK(new_next >= old_next);

  /* What the child said: intents and outcomes of acks and deletes. */
  size_t cap = nr + 1;
  uint64_t *ack_int = calloc(cap, 8), *ack_done = calloc(cap, 8), *del_int = calloc(cap, 8),
           *del_done = calloc(cap, 8);
  size_t nai = 0, nad = 0, ndi = 0, ndd = 0;
  int ready = 0;
  for (size_t i = 0; i < nr; i++) {
    crash_rep *r = &reps[i];
    switch (r->kind) {
    case R_READY:
      ready = 1;
      CHECK_EQ(r->id, old_next);
      break;
    case R_ACK_INTENT: ack_int[nai++] = r->id; break;
    case R_ACK: ack_done[nad++] = r->id; break;
    case R_DEL_INTENT: del_int[ndi++] = r->id; break;
    case R_DEL: del_done[ndd++] = r->id; break;
    case R_TXN_INTENT:
      if (r->aux) ack_int[nai++] = r->aux;
      break;
    case R_FAIL:
      fprintf(stderr, "  cycle %" PRIu64 ": the child failed at tests/test_crash.c:%u (rc %d)\n",
              cycle, r->n, (int)r->aux);
      CHECK(0);
      break;
    }
  }
  /* Every reported append: present (unless deleted since), exact content. */
  for (size_t i = 0; i < nr; i++) {
    crash_rep *r = &reps[i];
    if (r->kind != R_APPEND && r->kind != R_BATCH && r->kind != R_TXN) continue;
    unsigned n = r->kind == R_APPEND ? 1 : r->n;
    n_reported += n;
    if (r->seed & BIG_BIT) n_big++;
    /* Ids keep increasing, and every reported event is below next_id. */
    CHECK(r->id >= old_next);
    CHECK(r->id + n <= new_next);
    for (unsigned k = 0; k < n && r->id + k < new_next; k++) {
      uint64_t id = r->id + k;
      evs_event *e = NULL;
      int grc = evs_get(s, NULL, id, &e);
      if (!(grc == EVS_ENOTFOUND && is_in(del_int, ndi, id))) {
        if (grc)
          fprintf(stderr, "  cycle %" PRIu64 ": reported event %" PRIu64 " is missing (rc %d)\n",
                  cycle, id, grc);
        CHECK_EQ(grc, 0);
        if (!grc) {
          uint64_t sd = ((r->seed & ~BIG_BIT) + k) | (r->seed & BIG_BIT);
          uint64_t b = r->kind == R_APPEND ? 0 : (r->seed & ~BIG_BIT);
          CHECK_EQ(check_content(e, sd, b, r->kind == R_APPEND ? 0 : n,
                                 r->kind == R_APPEND ? 0 : k),
                   0);
        }
      }
      evs_event_free(e);
    }
  }
  if (!ready) n_before_ready++;
  /* Every new id: exact content, whole batches, states it may have. */
  batch_seen *bs = NULL;
  size_t nbs = 0, capbs = 0;
  for (uint64_t id = old_next; id < new_next; id++) {
    evs_event *e = NULL;
    rc = evs_get(s, NULL, id, &e);
    if (rc == EVS_ENOTFOUND && is_in(del_int, ndi, id)) {
      /* Deleted in this cycle: keep a tombstone. The content was checked
      ** above if it was reported; the batch check cannot see it. */
      madd(m, id, (ment){0, 0, 0, 0, M_DELETED});
      /* Count it towards its batch if some member names the batch: find
      ** it through the report. */
      for (size_t i = 0; i < nr; i++) {
        crash_rep *r = &reps[i];
        if ((r->kind == R_BATCH || r->kind == R_TXN) && id >= r->id && id < r->id + r->n) {
          uint64_t b = r->seed & ~BIG_BIT;
          size_t j = 0;
          while (j < nbs && bs[j].b != b) j++;
          if (j == nbs) {
            if (nbs == capbs) bs = realloc(bs, (capbs = capbs ? capbs * 2 : 16) * sizeof *bs);
            bs[nbs++] = (batch_seen){b, r->id, r->n, 0};
          }
          bs[j].count++;
        }
      }
      continue;
    }
    if (rc) fprintf(stderr, "  cycle %" PRIu64 ": id %" PRIu64 " below next_id %" PRIu64
                    " unreadable (rc %d): %s\n", cycle, id, new_next, rc, evs_errmsg(s));
    CHECK_EQ(rc, 0);
    if (rc) {
      madd(m, id, (ment){0, 0, 0, 0, M_DELETED});
      continue;
    }
    uint64_t seed = 0, b = 0;
    unsigned n = 0, i = 0;
    CHECK_EQ(parse_event(e, &seed, &b, &n, &i), 0);
    uint64_t base = seed & ~BIG_BIT;
    /* Only this cycle's child can have written it. */
    CHECK(base > cycle * SEED_SPAN && base < (cycle + 1) * SEED_SPAN);
    CHECK_EQ(check_content(e, seed, b, n, i), 0);
    int acked = e->status == EVS_STATUS_ACKNOWLEDGED;
    if (acked && !is_in(ack_int, nai, id)) {
      fprintf(stderr, "  cycle %" PRIu64 ": event %" PRIu64 " is acknowledged, but no ack of it "
              "was begun\n", cycle, id);
      CHECK(0);
    }
    if (is_in(ack_done, nad, id)) CHECK(acked);
    CHECK(!is_in(del_done, ndd, id));
    madd(m, id, (ment){seed, b, n, i, acked ? M_ACKED : M_PENDING});
    if (b) {
      size_t j = 0;
      while (j < nbs && bs[j].b != b) j++;
      if (j == nbs) {
        if (nbs == capbs) bs = realloc(bs, (capbs = capbs ? capbs * 2 : 16) * sizeof *bs);
        bs[nbs++] = (batch_seen){b, id - i, n, 0};
      }
      CHECK_EQ(bs[j].first, id - i); /* consecutive ids, in order */
      CHECK_EQ(bs[j].n, n);
      bs[j].count++;
    }
    int found = 0;
    for (size_t k = 0; k < nr && !found; k++)
      if ((reps[k].kind == R_APPEND || reps[k].kind == R_BATCH || reps[k].kind == R_TXN) &&
          id >= reps[k].id && id < reps[k].id + (reps[k].kind == R_APPEND ? 1 : reps[k].n))
        found = 1;
    if (!found) n_unreported_landed++;
    evs_event_free(e);
  }
  /* All or nothing. */
  for (size_t j = 0; j < nbs; j++) {
    if (bs[j].count != bs[j].n)
      fprintf(stderr, "  cycle %" PRIu64 ": batch %" PRIu64 " has %u of %u events\n", cycle,
              bs[j].b, bs[j].count, bs[j].n);
    CHECK_EQ(bs[j].count, bs[j].n);
  }
  /* A transaction's ack is there exactly when its events are. */
  for (size_t i = 0; i < nr; i++) {
    if (reps[i].kind != R_TXN_INTENT || !reps[i].aux) continue;
    uint64_t b = reps[i].seed;
    int present = 0;
    for (size_t j = 0; j < nbs; j++) present |= bs[j].b == b;
    int stt = state_of(s, reps[i].aux);
    if (stt != M_DELETED) CHECK_EQ(stt, present ? M_ACKED : M_PENDING);
  }

  /* Old events touched by this cycle: the reported outcome, or either. */
  for (size_t i = 0; i < nai; i++) {
    uint64_t id = ack_int[i];
    int stt = state_of(s, id);
    CHECK(stt == M_PENDING || stt == M_ACKED);
    if (is_in(ack_done, nad, id)) CHECK_EQ(stt, M_ACKED);
    if (id < old_next && stt > 0) mget(m, id)->state = (uint8_t)stt;
  }
  for (size_t i = 0; i < ndi; i++) {
    uint64_t id = del_int[i];
    int stt = state_of(s, id);
    CHECK(stt == M_PENDING || stt == M_DELETED || stt == M_ACKED);
    if (is_in(del_done, ndd, id)) CHECK_EQ(stt, M_DELETED);
    if (id < new_next && stt > 0 && mget(m, id)->state) mget(m, id)->state = (uint8_t)stt;
  }
  m->next_id = new_next;

  /* Untouched old events did not change: the counts must agree. */
  uint64_t pend = 0, acked = 0;
  for (uint64_t id = 1; id < m->next_id; id++) {
    uint8_t x = mget(m, id)->state;
    pend += x == M_PENDING;
    acked += x == M_ACKED;
  }
  CHECK_EQ(st.pending, pend);
  CHECK_EQ(st.acknowledged, acked);

  evs_verify_report vr;
  rc = evs_verify(s, &vr);
  if (rc) fprintf(stderr, "  cycle %" PRIu64 ": evs_verify: %s\n", cycle, evs_errmsg(s));
  CHECK_EQ(rc, 0);
  if (cycle % 25 == 24) full_check(s, m);
  CHECK_EQ(evs_store_close(s), 0);
  free(ack_int);
  free(ack_done);
  free(del_int);
  free(del_done);
  free(bs);
}

static void t_kill_cycles(void) {
  uint64_t seed0 = 1;
  const char *env = getenv("EVS_SEED");
  if (env) seed0 = strtoull(env, NULL, 10);
  uint64_t cycles = 1000;
  if ((env = getenv("EVS_CRASH_CYCLES"))) cycles = strtoull(env, NULL, 10);
  rblock_init();
  io_nosync = evs_io_posix;
  io_nosync.fdatasync = nosync_fdatasync;
  io_nosync.fsync = nosync_fsync;

  char *dir = NULL;
  model m;
  memset(&m, 0, sizeof m);
  crash_rep *reps = NULL;
  size_t capr = 0;
  double t0 = now_us();
  int failed_cycles = 0;
  double big_us = 3000; /* how long a big batch seems to take, adapted */
  for (uint64_t cycle = 1; cycle <= cycles; cycle++) {
    int failed_before = t_failed_checks;
    if ((cycle - 1) % CYCLES_PER_STORE == 0) {
      if (dir) {
        evs_options o = crash_opts();
        evs_store *s = NULL;
        CHECK_EQ(evs_store_open(dir, &o, &s), 0);
        if (s) {
          full_check(s, &m);
          CHECK_EQ(evs_verify(s, NULL), 0);
          evs_store_close(s);
        }
        t_rmdir(dir);
      }
      dir = t_tmpdir();
      free(m.e);
      memset(&m, 0, sizeof m);
      m.next_id = 1;
    }
    rng_state = mix64(seed0 * 1000003 + cycle);
    int fast = cycle % 2 == 0;
    int big_first = fast && rnd_below(100) < 30;
    int early = rnd_below(100) < 3; /* kill during open / recovery */
    double delay = rnd_below(100) < 50 ? (double)rnd_below(400)
                                       : (double)rnd_below(fast ? 2000 : 6000);
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      rep_fd = pfd[1];
      rng_state = mix64(rng_state ^ 0xc0ffee);
      child_main(dir, &m, cycle, fast, big_first);
      _exit(0);
    }
    close(pfd[1]);
    size_t nr = 0;
    npart = 0;
    if (!early) {
      /* Wait for READY (an open takes a while on a big store). */
      int got = drain(pfd[0], &reps, &nr, &capr, now_us() + 20e6, R_READY);
      CHECK(got == 1);
    }
    if (big_first) {
      /* Kill somewhere in the big batch: validation, the 4 MiB piece
      ** written before the commit, the rest and its commit record. */
      int got = drain(pfd[0], &reps, &nr, &capr, now_us() + 20e6, R_BIG_START);
      CHECK(got == 1);
      delay = big_us * (0.4 + 0.7 * (double)rnd_below(1000) / 1000);
    }
    drain(pfd[0], &reps, &nr, &capr, now_us() + delay, 0);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* not dead by itself */
    drain(pfd[0], &reps, &nr, &capr, now_us() + 5e6, 0);
    close(pfd[0]);
    n_kills++;
    uint64_t old_next = m.next_id;
    check_cycle(dir, &m, cycle, reps, nr);
    if (big_first) {
      /* Aim the next big kill: too early (nothing written yet), too late
      ** (the batch is in), or in the middle of its commit. */
      int landed = 0;
      for (uint64_t id = old_next; id < m.next_id; id++)
        landed |= mget(&m, id)->batch == cycle * SEED_SPAN + 1;
      if (landed) big_us *= 0.85;
      else if (!last_torn) big_us *= 1.15;
      if (big_us < 100) big_us = 100;
      if (big_us > 200000) big_us = 200000;
    }
    if (t_failed_checks != failed_before) {
      fprintf(stderr, "  (cycle %" PRIu64 ", EVS_SEED=%" PRIu64 ", %s, delay %.0f us)\n",
              cycle, seed0, fast ? "no-op fdatasync" : "real fdatasync", delay);
      if (++failed_cycles >= 3) break;
    }
  }
  if (dir) t_rmdir(dir);
  free(m.e);
  free(reps);
  free(rblock);
  printf("info: crash: %" PRIu64 " kill points (%" PRIu64 " during open), %" PRIu64
         " reopened with a torn/uncommitted tail dropped (recovered_bytes_dropped > 0), "
         "%" PRIu64 " reported events checked, %" PRIu64 " unreported ones landed whole, "
         "%" PRIu64 " big batches completed, %.1f s\n",
         n_kills, n_before_ready, n_torn, n_reported, n_unreported_landed, n_big,
         (now_us() - t0) / 1e6);
}

int main(void) {
  RUN(t_kill_cycles);
  return TEST_EXIT();
}
