/*
** test_readers.c: read-only handles beside a writer, across processes.
**  1. t_writer_readers: a writer child appends batches (segments of 16 KiB,
**     so they roll often), acks and deletes only events whose n % 3 == 0,
**     compacts, checkpoints and rolls back transactions big enough (> 4 MiB)
**     to be written to the file before their end, so it truncates bytes
**     past its last commit while readers read. Reader children page through
**     the inbox, refreshing between pages in some passes and not in others,
**     and check: every payload is whole and matches its n (source, type,
**     key too); ids strictly increase within a pass; every never-acked event
**     (n % 3 != 0) up to the newest visible when the pass began appears,
**     none skipped; a pass without refresh counts exactly evs_stats pending;
**     evs_get of random ids gives a valid event or EVS_ENOTFOUND. A reader
**     in the parent opens at the start, idles while the writer runs and
**     compacts, and after a refresh agrees with a fresh read-only open. The
**     writer must finish its loop without EVS_ELOCKED; its max commit
**     latency is reported (info line, no timed assertion).
**  2. t_ro_permission (root only): a store of root's (dir 0755, files 0644)
**     opened read-only by uid 65534 works (stats, inbox, refresh); a
**     read-write open fails with EVS_EIO naming the LOCK; nothing created.
**     t_ro_writes_nothing: a read-only open, inbox, get, refresh and close
**     leave every file's name, size, mtime and content as they were (a torn
**     tail included); a store without its LOCK file opens read-only.
**  3. t_writer_crash: a writer child appending (small batches and > 4 MiB
**     ones) is SIGKILLed at random moments; after each kill a reader handle
**     kept open across rounds (refresh) and a fresh read-only open see only
**     whole batches, n consecutive from 1, everything the writer saw
**     committed; the next writer cuts the torn tail and appends, and the
**     old reader's refresh shows it.
**
** EVS_READERS_SECS=<s> sets how long the writer of test 1 runs (default 3);
** EVS_READERS_ROUNDS=<n> the kills of test 3 (default 6); EVS_SEED=<n>.
*/
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "gen.h"
#include "testlib.h"

#define SEG_SIZE 16384
#define RB_BASE UINT64_C(1000000000) /* n of rolled-back events: never visible */
#define BIG_BASE UINT64_C(2000000000) /* n at or above: a big payload */
#define BIG_LEN 380000
#define NREADERS 3

static uint64_t g_seed;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long env_long(const char *name, long def) {
  const char *v = getenv(name);
  if (!v || !*v) return def;
  long x = strtol(v, NULL, 10);
  return x > 0 ? x : def;
}

/* A per-process random stream. */
static uint64_t rng;
static uint64_t rnd(void) { return mix64(rng++); }
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

/* ---- events derived from n ---------------------------------------------- */

/* Body length of event n: big ones (a flag the writer sets in n's high
** range) are ~380 KB, the others 8..207 bytes. */
static size_t body_len(uint64_t n) {
  uint64_t h = mix64(n ^ UINT64_C(0xb0d1));
  if (n >= BIG_BASE) return BIG_LEN + h % 1000;
  return 8 + h % 200;
}

/* The payload of event n, malloc'd: {"n":N,"body":"<body_len(n) chars>"} */
static char *payload_of(uint64_t n, size_t *len) {
  size_t bl = body_len(n);
  char *p = malloc(bl + 64);
  if (!p) abort();
  int k = snprintf(p, 64, "{\"n\":%" PRIu64 ",\"body\":\"", n);
  uint64_t x = mix64(n);
  for (size_t i = 0; i < bl; i++) {
    if (i % 8 == 0) x = mix64(x + i);
    p[k + i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"[(x >> (8 * (i % 8))) & 63];
  }
  memcpy(p + k + bl, "\"}", 3);
  *len = (size_t)k + bl + 2;
  return p;
}

static void src_of(uint64_t n, char *b, size_t cap) { snprintf(b, cap, "src%u", (unsigned)(n % 4)); }
static void type_of(uint64_t n, char *b, size_t cap) { snprintf(b, cap, "type.%u", (unsigned)(n % 5)); }
static void key_of(uint64_t n, char *b, size_t cap) { snprintf(b, cap, "k-%" PRIu64, n); }

/* An event in for n: the strings in the caller's buffers (bufs of 3 x 32 bytes). */
static evs_event_in ev_of(uint64_t n, char bufs[3][32], char *payload, size_t plen, const char *meta) {
  src_of(n, bufs[0], 32);
  type_of(n, bufs[1], 32);
  key_of(n, bufs[2], 32);
  evs_event_in e = ev_in(bufs[0], bufs[1], payload, bufs[2]);
  e.payload_len = plen;
  e.metadata = meta;
  return e;
}

/* Check that e is whole and is what event n was appended as; returns n, or
** -1 with the reason in why. */
static int64_t check_event(const evs_event *e, char *why, size_t cap) {
  uint64_t n = 0;
  if (!e->payload || sscanf(e->payload, "{\"n\":%" SCNu64 ",", &n) != 1) {
    snprintf(why, cap, "id %" PRIu64 ": payload without n: %.60s", e->id,
             e->payload ? e->payload : "(null)");
    return -1;
  }
  size_t len;
  char *want = payload_of(n, &len);
  int ok = e->payload_len == len && memcmp(e->payload, want, len) == 0 && e->payload[len] == 0;
  free(want);
  if (!ok) {
    snprintf(why, cap, "id %" PRIu64 " n %" PRIu64 ": payload not whole or wrong (len %zu, want %zu)",
             e->id, n, e->payload_len, len);
    return -1;
  }
  char b[32];
  src_of(n, b, sizeof b);
  if (!e->source || strcmp(e->source, b)) {
    snprintf(why, cap, "id %" PRIu64 " n %" PRIu64 ": source %s", e->id, n, e->source ? e->source : "(null)");
    return -1;
  }
  type_of(n, b, sizeof b);
  if (!e->event_type || strcmp(e->event_type, b)) {
    snprintf(why, cap, "id %" PRIu64 " n %" PRIu64 ": type %s", e->id, n,
             e->event_type ? e->event_type : "(null)");
    return -1;
  }
  key_of(n, b, sizeof b);
  if (e->status == EVS_STATUS_PENDING ? !e->idempotency_key || strcmp(e->idempotency_key, b)
                                      : e->idempotency_key && strcmp(e->idempotency_key, b)) {
    snprintf(why, cap, "id %" PRIu64 " n %" PRIu64 ": key %s", e->id, n,
             e->idempotency_key ? e->idempotency_key : "(null)");
    return -1;
  }
  return (int64_t)n;
}

/* ---- child failure reports ---------------------------------------------- */

static int c_fail;      /* failures in this child */
static const char *c_who = "child";

#define CFAIL(...)                                        \
  do {                                                    \
    if (c_fail++ < 20) {                                  \
      fprintf(stderr, "  %s: ", c_who);                   \
      fprintf(stderr, __VA_ARGS__);                       \
      fprintf(stderr, "\n");                              \
    }                                                     \
  } while (0)

static void c_exit(void) {
  fflush(stdout);
  fflush(stderr);
  _exit(c_fail ? (c_fail > 100 ? 100 : c_fail) : 0);
}

/* A child's exit status as a number of failures (-1: killed by a signal,
** -3: still running after deadline_s seconds: a stall; it is killed). */
static int child_failures_by(pid_t pid, double deadline_s) {
  int st = 0;
  int64_t until = now_us() + (int64_t)(deadline_s * 1e6);
  pid_t w;
  while ((w = waitpid(pid, &st, WNOHANG)) == 0) {
    if (now_us() > until) {
      fprintf(stderr, "  child %d still running after %.0f s: killed\n", (int)pid, deadline_s);
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -3;
    }
    usleep(2000);
  }
  if (w != pid) return -2;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  fprintf(stderr, "  child %d died of signal %d\n", (int)pid, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return -1;
}

static int child_failures(pid_t pid) { return child_failures_by(pid, 120); }

typedef struct shared {
  volatile int stop;           /* readers: finish after one more pass */
  volatile int started;        /* the crash writer has opened the store */
  volatile uint64_t committed; /* the crash writer's last committed n */
  volatile uint64_t dropped;   /* recovered_bytes_dropped at its open */
} shared;

static shared *shared_new(void) {
  void *p = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) abort();
  memset(p, 0, sizeof(shared));
  return p;
}

static evs_options writer_opts(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = SEG_SIZE;
  o.compress_threshold = UINT32_MAX; /* big payloads take their full size on disk */
  o.checkpoint_bytes = 256 * 1024;
  o.idempotency_window_us = 1; /* acked events are dead at once: compaction removes them */
  o.compact_dead_percent = 20; /* 1/3 of the events die: segments get rewritten */
  return o;
}

static evs_store *open_ro(const char *dir) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.read_only = 1;
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) fprintf(stderr, "  open_ro %s: rc %d: %s\n", dir, rc, evs_errmsg(NULL));
  return s;
}

/* Create the store (settings recorded) and close it. */
static int create_store(const char *dir) {
  evs_options o = writer_opts();
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) {
    fprintf(stderr, "  create %s: rc %d: %s\n", dir, rc, evs_errmsg(NULL));
    return rc;
  }
  return evs_store_close(s);
}

/* ==== 1. writer and readers =============================================== */

/* The index among never-acked events (n % 3 != 0, n >= 1) of n. */
static uint64_t perm_k(uint64_t n) { return n - n / 3 - 1; }

/* The bytes of every segment file in dir. */
static long long log_bytes(const char *dir) {
  DIR *d = opendir(dir);
  long long n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strlen(e->d_name) == 22 && !strcmp(e->d_name + 16, ".evlog")) {
      long long z = t_file_size(t_path(dir, e->d_name));
      if (z > 0) n += z;
    }
  if (d) closedir(d);
  return n;
}

static void writer_main(const char *dir, double secs) {
  c_who = "writer";
  rng = g_seed * 7 + 1;
  evs_options o = writer_opts();
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) {
    CFAIL("open: rc %d: %s", rc, evs_errmsg(NULL));
    c_exit();
  }
  int64_t t_end = now_us() + (int64_t)(secs * 1e6), lat_max = 0, lat_sum = 0;
  uint64_t n = 1, commits = 0, iters = 0, ncompact = 0, nrollback = 0, nflushed = 0;
  uint64_t rbn = RB_BASE;
  int64_t next_rollback = now_us() + 300000;
  int finished = 0;
  for (;;) {
    if (now_us() >= t_end) {
      finished = 1;
      break;
    }
    iters++;
    enum { MAXB = 16 };
    unsigned b = 1 + (unsigned)rnd_below(MAXB);
    evs_event_in ev[MAXB];
    evs_append_result res[MAXB];
    char bufs[MAXB][3][32];
    char *pl[MAXB];
    for (unsigned i = 0; i < b; i++) {
      size_t len;
      pl[i] = payload_of(n + i, &len);
      ev[i] = ev_of(n + i, bufs[i], pl[i], len, NULL);
    }
    int64_t t0 = now_us();
    rc = evs_append_batch(s, NULL, ev, b, res);
    int64_t dt = now_us() - t0;
    commits++;
    lat_sum += dt;
    if (dt > lat_max) lat_max = dt;
    for (unsigned i = 0; i < b; i++) free(pl[i]);
    if (rc) {
      CFAIL("append_batch n %" PRIu64 ": rc %d: %s", n, rc, evs_errmsg(s));
      break;
    }
    for (unsigned i = 0; i < b; i++) {
      uint64_t m = n + i;
      if (res[i].rc || res[i].duplicate) {
        CFAIL("append n %" PRIu64 ": item rc %d dup %d", m, res[i].rc, res[i].duplicate);
        continue;
      }
      if (m % 3) continue;
      t0 = now_us();
      if (m % 6 == 0) {
        rc = evs_ack(s, NULL, res[i].id, NULL);
      } else {
        int existed = 0;
        rc = evs_delete(s, NULL, res[i].id, &existed);
        if (!rc && !existed) CFAIL("delete n %" PRIu64 ": did not exist", m);
      }
      dt = now_us() - t0;
      commits++;
      lat_sum += dt;
      if (dt > lat_max) lat_max = dt;
      if (rc) CFAIL("ack/delete n %" PRIu64 ": rc %d: %s", m, rc, evs_errmsg(s));
    }
    n += b;
    if (iters % 60 == 0) {
      evs_compact_report cr;
      rc = evs_compact(s, &cr);
      if (rc) CFAIL("compact: rc %d: %s", rc, evs_errmsg(s));
      else if (cr.segments_removed || cr.segments_rewritten) ncompact++;
    }
    if (iters % 97 == 0 && (rc = evs_checkpoint(s)) != 0)
      CFAIL("checkpoint: rc %d: %s", rc, evs_errmsg(s));
    if (now_us() >= next_rollback) {
      /* > 4 MiB: written to the segment in pieces, then cut by the rollback */
      next_rollback = now_us() + 300000 + (int64_t)rnd_below(400000);
      evs_txn *t = NULL;
      rc = evs_txn_begin(s, &t);
      if (rc) {
        CFAIL("txn_begin: rc %d: %s", rc, evs_errmsg(s));
        break;
      }
      long long sz0 = log_bytes(dir);
      for (int k = 0; k < 16 && !rc; k++) {
        size_t len;
        uint64_t m = BIG_BASE + rbn++ - RB_BASE; /* a big payload, n in no real range */
        char *p = payload_of(m, &len);
        char bb[3][32];
        evs_event_in e = ev_of(m, bb, p, len, NULL);
        rc = evs_append(s, t, &e, NULL);
        free(p);
        if (rc) CFAIL("txn append: rc %d: %s", rc, evs_errmsg(s));
      }
      if (log_bytes(dir) > sz0 + (3 << 20)) nflushed++; /* on disk before the end */
      rc = evs_txn_rollback(t);
      if (rc) {
        CFAIL("rollback: rc %d: %s", rc, evs_errmsg(s));
        break;
      }
      nrollback++;
    }
    usleep(300 + (useconds_t)rnd_below(700));
  }
  if (!finished) CFAIL("did not finish its loop");
  evs_stats st;
  memset(&st, 0, sizeof st);
  evs_stats_get(s, &st);
  rc = evs_store_close(s);
  if (rc) CFAIL("close: rc %d: %s", rc, evs_errmsg(NULL));
  printf("  info writer: %" PRIu64 " events in %" PRIu64 " batches, %" PRIu64
         " commits, max commit latency %" PRId64 " us (mean %" PRId64 "), %" PRIu64
         " compactions that changed the log, %" PRIu64 " rollbacks (%" PRIu64
         " seen written to the file), %" PRIu64 " segments at end\n",
         n - 1, iters, commits, lat_max, commits ? lat_sum / (int64_t)commits : 0, ncompact,
         nrollback, nflushed, st.segments);
  c_exit();
}

/* A reader's memory of the ids of never-acked events, by perm_k. */
typedef struct perm_map {
  uint64_t *id;
  size_t cap;
} perm_map;

static void perm_note(perm_map *m, uint64_t k, uint64_t id) {
  if (k >= m->cap) {
    size_t nc = m->cap ? m->cap : 1024;
    while (nc <= k) nc *= 2;
    m->id = realloc(m->id, nc * sizeof *m->id);
    if (!m->id) abort();
    memset(m->id + m->cap, 0, (nc - m->cap) * sizeof *m->id);
    m->cap = nc;
  }
  if (m->id[k] && m->id[k] != id)
    CFAIL("event n-index %" PRIu64 " had id %" PRIu64 ", now %" PRIu64, k, m->id[k], id);
  m->id[k] = id;
}

static int refresh_ok(evs_store *s) {
  for (int i = 0; i < 100; i++) {
    int rc = evs_store_refresh(s);
    if (rc == 0) return 1;
    if (rc != EVS_EBUSY) {
      CFAIL("refresh: rc %d: %s", rc, evs_errmsg(s));
      return 0;
    }
    usleep(1000);
  }
  CFAIL("refresh: EVS_EBUSY 100 times");
  return 0;
}

/* Check an event seen by a reader; its n, or -1. */
static int64_t reader_check(const evs_event *e) {
  char why[200];
  int64_t n = check_event(e, why, sizeof why);
  if (n < 0) {
    CFAIL("%s", why);
    return -1;
  }
  if ((uint64_t)n >= RB_BASE) {
    CFAIL("id %" PRIu64 ": event n %" PRId64 " of a rolled-back transaction is visible", e->id, n);
    return -1;
  }
  return n;
}

static void reader_main(const char *dir, int idx, shared *sh) {
  char who[32];
  snprintf(who, sizeof who, "reader %d", idx);
  c_who = who;
  rng = g_seed * 131 + (uint64_t)idx * 7919;
  evs_store *s = open_ro(dir);
  if (!s) {
    CFAIL("open failed");
    c_exit();
  }
  perm_map pm = {NULL, 0};
  uint64_t passes[2] = {0, 0}, events = 0, gets = 0, refreshes = 0, reopens = 0;
  evs_page *p = NULL;
  int last;
  do {
    last = sh->stop;
    int with_refresh = (int)(rnd() & 1), broken = 0;
    if (!s && !(s = open_ro(dir))) {
      CFAIL("reopen failed");
      break;
    }
    if (!refresh_ok(s)) {
      /* (a failure already) go on with a new handle, to check the rest */
      evs_store_close(s);
      s = NULL;
      reopens++;
      continue;
    }
    refreshes++;
    evs_stats st;
    memset(&st, 0, sizeof st);
    int rc = evs_stats_get(s, &st);
    if (rc) CFAIL("stats: rc %d", rc);
    uint64_t hi = st.next_id ? st.next_id - 1 : 0;
    /* the newest never-acked event of this view: the pass must reach it */
    int64_t target_k = -1;
    evs_query q;
    memset(&q, 0, sizeof q);
    q.descending = 1;
    q.limit = 100;
    rc = evs_inbox(s, NULL, &q, &p);
    if (rc) CFAIL("inbox desc: rc %d: %s", rc, evs_errmsg(s));
    for (size_t i = 0; !rc && i < evs_page_count(p); i++) {
      const evs_event *e = evs_page_event(p, i);
      int64_t n = reader_check(e);
      if (e->id > hi) CFAIL("id %" PRIu64 " above next_id - 1 = %" PRIu64, e->id, hi);
      if (n > 0 && n % 3) {
        target_k = (int64_t)perm_k((uint64_t)n);
        perm_note(&pm, (uint64_t)target_k, e->id);
        break;
      }
    }
    /* earlier passes saw these: still there */
    while (target_k + 1 < (int64_t)pm.cap && pm.id[target_k + 1] && pm.id[target_k + 1] <= hi)
      target_k++;
    memset(&q, 0, sizeof q);
    char *cur = NULL;
    uint64_t prev_id = 0, count = 0, expect_k = 0;
    for (int guard = 0; guard < 1000000; guard++) {
      q.limit = 1 + (unsigned)rnd_below(10);
      q.cursor = cur;
      rc = evs_inbox(s, NULL, &q, &p);
      if (rc) {
        CFAIL("inbox: rc %d: %s", rc, evs_errmsg(s));
        break;
      }
      for (size_t i = 0; i < evs_page_count(p); i++) {
        const evs_event *e = evs_page_event(p, i);
        count++;
        if (e->id <= prev_id)
          CFAIL("pass %" PRIu64 ": id %" PRIu64 " after %" PRIu64 " (not increasing)",
                passes[0] + passes[1], e->id, prev_id);
        prev_id = e->id;
        if (e->status != EVS_STATUS_PENDING) CFAIL("id %" PRIu64 ": inbox status %d", e->id, e->status);
        int64_t n = reader_check(e);
        if (n <= 0 || n % 3 == 0) continue;
        uint64_t k = perm_k((uint64_t)n);
        if (k != expect_k) {
          CFAIL("pass %" PRIu64 " (%s refresh): never-acked event n-index %" PRIu64
                " (n %" PRId64 ", id %" PRIu64 ") follows n-index %" PRId64 ": %s",
                passes[0] + passes[1], with_refresh ? "with" : "without", k, n, e->id,
                (int64_t)expect_k - 1, k > expect_k ? "events skipped" : "out of order");
        }
        expect_k = k + 1;
        perm_note(&pm, k, e->id);
      }
      free(cur);
      cur = strdup(evs_page_cursor(p));
      if (!evs_page_more(p)) break;
      if (with_refresh && rnd_below(2) == 0) {
        if (!refresh_ok(s)) {
          broken = 1;
          break;
        }
        refreshes++;
      }
      if (rnd_below(3) == 0 && hi) {
        uint64_t id = 1 + rnd_below(hi);
        evs_event *e = NULL;
        rc = evs_get(s, NULL, id, &e);
        gets++;
        if (rc == 0) {
          if (e->id != id) CFAIL("get %" PRIu64 " gave id %" PRIu64, id, e->id);
          reader_check(e);
        } else if (rc != EVS_ENOTFOUND) {
          CFAIL("get %" PRIu64 ": rc %d: %s", id, rc, evs_errmsg(s));
        }
        evs_event_free(e);
      }
    }
    free(cur);
    if (broken) {
      evs_page_free(p);
      p = NULL;
      evs_store_close(s);
      s = NULL;
      reopens++;
      continue;
    }
    if ((int64_t)expect_k <= target_k)
      CFAIL("pass %" PRIu64 " (%s refresh) ended before never-acked n-index %" PRId64
            " (id <= %" PRIu64 " when it began); reached %" PRIu64,
            passes[0] + passes[1], with_refresh ? "with" : "without", target_k, hi, expect_k);
    if (!with_refresh && count != st.pending)
      CFAIL("pass without refresh paged %" PRIu64 " events, stats pending %" PRIu64, count,
            st.pending);
    passes[with_refresh]++;
    events += count;
  } while (!last && c_fail < 50);
  evs_page_free(p);
  free(pm.id);
  int rc = s ? evs_store_close(s) : 0;
  if (rc) CFAIL("close: rc %d: %s", rc, evs_errmsg(NULL));
  if (!passes[0] || !passes[1])
    CFAIL("passes: %" PRIu64 " without refresh, %" PRIu64 " with", passes[0], passes[1]);
  printf("  info reader %d: %" PRIu64 " passes without refresh, %" PRIu64
         " with, %" PRIu64 " events read, %" PRIu64 " refreshes, %" PRIu64 " gets, %" PRIu64
         " reopens after a failed refresh\n",
         idx, passes[0], passes[1], events, refreshes, gets, reopens);
  c_exit();
}

/* Every pending id of s (malloc'd) and their count in *n. */
static uint64_t *all_ids(evs_store *s, long *n) {
  evs_stats st = stats(s);
  size_t cap = (size_t)st.pending + 16;
  uint64_t *ids = calloc(cap, sizeof *ids);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  *n = inbox_all(s, NULL, &q, ids, cap);
  return ids;
}

static void t_writer_readers(void) {
  char *dir = t_tmpdir();
  double secs = (double)env_long("EVS_READERS_SECS", 3);
  REQUIRE(create_store(dir) == 0);
  shared *sh = shared_new();
  fflush(stdout);
  fflush(stderr);
  pid_t w = fork();
  REQUIRE(w >= 0);
  if (w == 0) writer_main(dir, secs);
  pid_t r[NREADERS];
  for (int i = 0; i < NREADERS; i++) {
    r[i] = fork();
    REQUIRE(r[i] >= 0);
    if (r[i] == 0) reader_main(dir, i, sh);
  }
  /* the idle reader: opens now, reads once, waits out the writer */
  usleep(50000);
  evs_store *idle = open_ro(dir);
  CHECK(idle != NULL);
  evs_stats ist0;
  memset(&ist0, 0, sizeof ist0);
  if (idle) ist0 = stats(idle);
  CHECK_EQ(child_failures_by(w, secs + 60), 0); /* a stalled writer fails */
  sh->stop = 1;
  for (int i = 0; i < NREADERS; i++) CHECK_EQ(child_failures(r[i]), 0);
  if (idle) {
    /* its old view still reads, though compaction removed its files */
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 37;
    CHECK_EQ(inbox_count(idle, NULL, &q), (long)ist0.pending);
    CHECK_EQ(stats(idle).next_id, ist0.next_id);
    CHECK_EQ(evs_store_refresh(idle), 0);
    evs_store *fresh = open_ro(dir);
    CHECK(fresh != NULL);
    if (fresh) {
      evs_stats a = stats(idle), b = stats(fresh);
      CHECK_EQ(a.pending, b.pending);
      CHECK_EQ(a.acknowledged, b.acknowledged);
      CHECK_EQ(a.next_id, b.next_id);
      CHECK(a.next_id > ist0.next_id);
      long na = 0, nb = 0;
      uint64_t *ia = all_ids(idle, &na), *ib = all_ids(fresh, &nb);
      CHECK_EQ(na, nb);
      CHECK_EQ(na, (long)a.pending);
      CHECK(na == nb && na >= 0 && memcmp(ia, ib, (size_t)na * sizeof *ia) == 0);
      /* the final view: every event valid, never-acked ones n = 1, 2, 4, 5... */
      uint64_t expect_k = 0, bad = 0;
      evs_page *p = NULL;
      char *cur = NULL;
      for (;;) {
        q.limit = 100;
        q.cursor = cur;
        if (evs_inbox(fresh, NULL, &q, &p)) {
          CHECK(0);
          break;
        }
        for (size_t i = 0; i < evs_page_count(p); i++) {
          char why[200];
          int64_t n = check_event(evs_page_event(p, i), why, sizeof why);
          if (n < 0 && bad++ < 5) fprintf(stderr, "  final: %s\n", why);
          if (n <= 0 || n % 3 == 0) continue;
          if (perm_k((uint64_t)n) != expect_k && bad++ < 5)
            fprintf(stderr, "  final: n %" PRId64 " after n-index %" PRIu64 "\n", n, expect_k);
          expect_k = perm_k((uint64_t)n) + 1;
        }
        free(cur);
        cur = strdup(evs_page_cursor(p));
        if (!evs_page_more(p)) break;
      }
      free(cur);
      evs_page_free(p);
      CHECK_EQ(bad, 0);
      free(ia);
      free(ib);
      CHECK_EQ(evs_store_close(fresh), 0);
    }
    CHECK_EQ(evs_store_close(idle), 0);
  }
  /* the writer's view agrees, and the store verifies */
  evs_options o = writer_opts();
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(dir, &o, &s), 0);
  if (s) {
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
  }
  munmap(sh, sizeof *sh);
  t_rmdir(dir);
}

/* ==== 2. read permission, nothing written ================================== */

/* Fill a store with 200 events (every 4th acked), closed. */
static int fill_store(const char *dir, uint64_t *pending) {
  evs_options o = writer_opts();
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) return rc;
  *pending = 0;
  for (uint64_t n = 1; n <= 200 && !rc; n++) {
    size_t len;
    char *p = payload_of(n, &len);
    char bb[3][32];
    evs_event_in e = ev_of(n, bb, p, len, NULL);
    evs_append_result r;
    rc = evs_append(s, NULL, &e, &r);
    free(p);
    if (!rc && n % 4 == 0) rc = evs_ack(s, NULL, r.id, NULL);
    else (*pending)++;
  }
  int rc2 = evs_store_close(s);
  return rc ? rc : rc2;
}

typedef struct file_snap {
  char name[256];
  long long size;
  struct timespec mtime;
  uint64_t hash;
  mode_t mode;
} file_snap;

static uint64_t hash_file(const char *path) {
  size_t n;
  unsigned char *b = t_slurp(path, &n);
  if (!b) return 0;
  uint64_t h = n;
  for (size_t i = 0; i < n; i++) h = mix64(h ^ b[i]);
  free(b);
  return h;
}

static int snap_dir(const char *dir, file_snap *fs, int cap) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < cap) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    const char *p = t_path(dir, e->d_name);
    if (lstat(p, &st)) continue;
    file_snap *f = &fs[n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", e->d_name);
    f->size = (long long)st.st_size;
    f->mtime = st.st_mtim;
    f->mode = st.st_mode;
    f->hash = S_ISREG(st.st_mode) ? hash_file(p) : 0;
  }
  closedir(d);
  /* sort by name */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(fs[j - 1].name, fs[j].name) > 0; j--) {
      file_snap t = fs[j];
      fs[j] = fs[j - 1];
      fs[j - 1] = t;
    }
  return n;
}

/* Number of differences between two snapshots, each printed. */
static int snap_diff(const file_snap *a, int na, const file_snap *b, int nb) {
  int d = 0, i = 0, j = 0;
  while (i < na || j < nb) {
    int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i].name, b[j].name);
    if (c < 0) {
      fprintf(stderr, "  file %s disappeared\n", a[i++].name);
      d++;
    } else if (c > 0) {
      fprintf(stderr, "  file %s appeared\n", b[j++].name);
      d++;
    } else {
      if (a[i].size != b[j].size || a[i].hash != b[j].hash || a[i].mode != b[j].mode ||
          a[i].mtime.tv_sec != b[j].mtime.tv_sec || a[i].mtime.tv_nsec != b[j].mtime.tv_nsec) {
        fprintf(stderr, "  file %s changed (size %lld -> %lld, mtime %lld.%09ld -> %lld.%09ld)\n",
                a[i].name, a[i].size, b[j].size, (long long)a[i].mtime.tv_sec,
                a[i].mtime.tv_nsec, (long long)b[j].mtime.tv_sec, b[j].mtime.tv_nsec);
        d++;
      }
      i++;
      j++;
    }
  }
  return d;
}

/* A read-only session: open, stats, inbox walk, gets, refresh, close.
** Returns the number of failures (messages on stderr). */
static int ro_session(const char *dir, uint64_t pending) {
  int f = 0;
  evs_store *s = open_ro(dir);
  if (!s) return 1;
  evs_stats st;
  memset(&st, 0, sizeof st);
  if (evs_stats_get(s, &st) || st.pending != pending) {
    fprintf(stderr, "  ro_session: pending %" PRIu64 ", want %" PRIu64 "\n", st.pending, pending);
    f++;
  }
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 9;
  long c = inbox_count(s, NULL, &q);
  if (c != (long)pending) {
    fprintf(stderr, "  ro_session: inbox %ld, want %" PRIu64 "\n", c, pending);
    f++;
  }
  evs_page *p = NULL;
  q.limit = 1;
  int rc = evs_inbox(s, NULL, &q, &p);
  uint64_t id = !rc && evs_page_count(p) ? evs_page_event(p, 0)->id : 0;
  evs_page_free(p);
  evs_event *e = NULL;
  rc = evs_get(s, NULL, id, &e);
  char why[200];
  if (rc || check_event(e, why, sizeof why) != 1) {
    fprintf(stderr, "  ro_session: get %" PRIu64 ": rc %d\n", id, rc);
    f++;
  }
  evs_event_free(e);
  if ((rc = evs_store_refresh(s)) != 0) {
    fprintf(stderr, "  ro_session: refresh: rc %d: %s\n", rc, evs_errmsg(s));
    f++;
  }
  evs_append_result r;
  if ((rc = app(s, NULL, "a", "b", "{}", &r)) != EVS_EREADONLY) {
    fprintf(stderr, "  ro_session: append rc %d, want EVS_EREADONLY\n", rc);
    f++;
  }
  if ((rc = evs_ack(s, NULL, 1, NULL)) != EVS_EREADONLY) {
    fprintf(stderr, "  ro_session: ack rc %d, want EVS_EREADONLY\n", rc);
    f++;
  }
  if ((rc = evs_store_close(s)) != 0) {
    fprintf(stderr, "  ro_session: close rc %d\n", rc);
    f++;
  }
  return f;
}

static void chmod_tree(const char *dir) {
  chmod(dir, 0755);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') chmod(t_path(dir, e->d_name), 0644);
  if (d) closedir(d);
}

static void t_ro_permission(void) {
  char *dir = t_tmpdir();
  uint64_t pending = 0;
  REQUIRE(fill_store(dir, &pending) == 0);
  chmod_tree(dir);
  file_snap a[64], b[64];
  int na = snap_dir(dir, a, 64);
  REQUIRE(na > 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    c_who = "uid 65534";
    if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
      printf("  SKIP t_ro_permission: cannot switch to uid 65534: %s\n", strerror(errno));
      fflush(stdout);
      _exit(77);
    }
    if (access(dir, R_OK | X_OK)) {
      printf("  SKIP t_ro_permission: %s not reachable by uid 65534 (TMPDIR?): %s\n", dir,
             strerror(errno));
      fflush(stdout);
      _exit(77);
    }
    c_fail += ro_session(dir, pending);
    evs_store *s = NULL;
    int rc = evs_store_open(dir, NULL, &s);
    if (rc != EVS_EIO) CFAIL("read-write open: rc %d, want EVS_EIO", rc);
    const char *m = evs_errmsg(NULL);
    if (!strstr(m, "LOCK") && !strstr(m, "ermission")) CFAIL("read-write open message: %s", m);
    else printf("  info read-write open as 65534: %s\n", m);
    if (s) evs_store_close(s);
    c_exit();
  }
  int f = child_failures(pid);
  if (f != 77) CHECK_EQ(f, 0);
  int nb = snap_dir(dir, b, 64);
  CHECK_EQ(snap_diff(a, na, b, nb), 0);
  t_rmdir(dir);
}

/* A store on a read-only filesystem (a read-only bind mount, in a mount
** namespace of a child's own): a reader works, a writer is refused. SKIP
** where mounting is not allowed (not root, a container without it). */
static void t_ro_filesystem(void) {
  char *dir = t_tmpdir();
  uint64_t pending = 0;
  REQUIRE(fill_store(dir, &pending) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    c_who = "read-only mount";
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
        mount(dir, dir, NULL, MS_BIND, NULL) ||
        mount(NULL, dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL)) {
      printf("  SKIP t_ro_filesystem: cannot make a read-only mount: %s\n", strerror(errno));
      fflush(stdout);
      _exit(77);
    }
    c_fail += ro_session(dir, pending);
    evs_store *s = NULL;
    int rc = evs_store_open(dir, NULL, &s);
    if (rc != EVS_EIO) CFAIL("read-write open on a read-only filesystem: rc %d, want EVS_EIO", rc);
    else printf("  info read-write open on a read-only mount: %s\n", evs_errmsg(NULL));
    if (s) evs_store_close(s);
    c_exit();
  }
  int f = child_failures(pid);
  if (f != 77) CHECK_EQ(f, 0);
  /* The store is intact and writable again outside the mount. */
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(dir, NULL, &s), 0);
  if (s) CHECK_EQ(evs_verify(s, NULL), 0);
  evs_store_close(s);
  t_rmdir(dir);
}

static void t_ro_writes_nothing(void) {
  char *dir = t_tmpdir();
  uint64_t pending = 0;
  REQUIRE(fill_store(dir, &pending) == 0);
  /* a torn tail: half a record's worth of junk after the last commit */
  char *seg = t_last_segment(dir);
  REQUIRE(seg != NULL);
  {
    int fd = open(seg, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0);
    char junk[37];
    memset(junk, 0x5a, sizeof junk);
    CHECK_EQ(write(fd, junk, sizeof junk), (long)sizeof junk);
    close(fd);
  }
  free(seg);
  file_snap a[64], b[64];
  int na = snap_dir(dir, a, 64);
  REQUIRE(na > 0);
  usleep(20000); /* a write now would give a later mtime */
  CHECK_EQ(ro_session(dir, pending), 0);
  {
    /* two read-only handles at once, one refreshed */
    evs_store *x = open_ro(dir), *y = open_ro(dir);
    CHECK(x && y);
    if (x) CHECK_EQ(evs_store_refresh(x), 0);
    if (x) CHECK_EQ(stats(x).recovered_bytes_dropped, 37); /* counted, left in place */
    if (x) CHECK_EQ(evs_store_close(x), 0);
    if (y) CHECK_EQ(evs_store_close(y), 0);
  }
  int nb = snap_dir(dir, b, 64);
  CHECK_EQ(snap_diff(a, na, b, nb), 0);
  /* no LOCK file: still opens read-only, and creates none */
  int had_lock = access(t_path(dir, "LOCK"), F_OK) == 0;
  CHECK(had_lock);
  CHECK_EQ(unlink(t_path(dir, "LOCK")), 0);
  na = snap_dir(dir, a, 64);
  usleep(20000);
  CHECK_EQ(ro_session(dir, pending), 0);
  nb = snap_dir(dir, b, 64);
  CHECK_EQ(snap_diff(a, na, b, nb), 0);
  CHECK(access(t_path(dir, "LOCK"), F_OK) != 0);
  t_rmdir(dir);
}

/* ==== 3. the writer crashes ================================================ */

/* Append until killed: batches of 1..20 small events, every ~15th batch
** one of 12 big ones (> 4 MiB: written out before its commit record).
** Metadata {"last":L} names the batch's last n. */
static void crash_writer_main(const char *dir, shared *sh, uint64_t next_n, uint64_t seed) {
  c_who = "crash writer";
  rng = seed;
  evs_options o = writer_opts();
  evs_store *s = NULL;
  int rc = evs_store_open(dir, &o, &s);
  if (rc) {
    CFAIL("open: rc %d: %s", rc, evs_errmsg(NULL));
    c_exit();
  }
  evs_stats st;
  memset(&st, 0, sizeof st);
  evs_stats_get(s, &st);
  sh->dropped = st.recovered_bytes_dropped;
  sh->started = 1;
  uint64_t n = next_n;
  for (uint64_t it = 0;; it++) {
    int big = rnd_below(15) == 0;
    enum { MAXB = 20 };
    unsigned b = big ? 12 : 1 + (unsigned)rnd_below(MAXB);
    evs_event_in ev[MAXB];
    evs_append_result res[MAXB];
    char bufs[MAXB][3][32], meta[64];
    char *pl[MAXB];
    snprintf(meta, sizeof meta, "{\"last\":%" PRIu64 "}", n + b - 1);
    for (unsigned i = 0; i < b; i++) {
      size_t len;
      /* a big event keeps its n: its body length follows from the flag */
      pl[i] = payload_of(big ? BIG_BASE + n + i : n + i, &len);
      ev[i] = ev_of(big ? BIG_BASE + n + i : n + i, bufs[i], pl[i], len, meta);
    }
    rc = evs_append_batch(s, NULL, ev, b, res);
    for (unsigned i = 0; i < b; i++) free(pl[i]);
    if (rc) {
      CFAIL("append_batch: rc %d: %s", rc, evs_errmsg(s));
      break;
    }
    n += b;
    sh->committed = n - 1;
    if (sh->stop) break; /* the last round: stop cleanly */
  }
  evs_store_close(s);
  c_exit();
}

/* The real n of a crash-test event (big ones carry BIG_BASE + n). */
static uint64_t real_n(uint64_t n) { return n >= BIG_BASE ? n - BIG_BASE : n; }

/* Walk s's inbox: every event valid, n consecutive from 1, the newest ends
** its batch. Returns the newest n (0 if none), -1 after failures. */
static int64_t crash_check(evs_store *s, const char *what) {
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  evs_page *p = NULL;
  char *cur = NULL;
  uint64_t expect = 1, last_of_newest = 0, count = 0;
  int bad = 0;
  for (;;) {
    q.cursor = cur;
    int rc = evs_inbox(s, NULL, &q, &p);
    if (rc) {
      fprintf(stderr, "  %s: inbox rc %d: %s\n", what, rc, evs_errmsg(s));
      bad++;
      break;
    }
    for (size_t i = 0; i < evs_page_count(p); i++) {
      const evs_event *e = evs_page_event(p, i);
      char why[200];
      int64_t n0 = check_event(e, why, sizeof why);
      count++;
      if (n0 < 0) {
        if (bad++ < 5) fprintf(stderr, "  %s: %s\n", what, why);
        continue;
      }
      uint64_t n = real_n((uint64_t)n0), last = 0;
      if (!e->metadata || sscanf(e->metadata, "{\"last\":%" SCNu64 "}", &last) != 1 || last < n) {
        if (bad++ < 5) fprintf(stderr, "  %s: n %" PRIu64 ": metadata %s\n", what, n,
                               e->metadata ? e->metadata : "(null)");
      }
      if (n != expect && bad++ < 5)
        fprintf(stderr, "  %s: n %" PRIu64 " (id %" PRIu64 ") where n %" PRIu64 " was due\n", what,
                n, e->id, expect);
      expect = n + 1;
      last_of_newest = last;
    }
    free(cur);
    cur = strdup(evs_page_cursor(p));
    if (!evs_page_more(p)) break;
  }
  free(cur);
  evs_page_free(p);
  uint64_t newest = expect - 1;
  if (newest && last_of_newest != newest) {
    fprintf(stderr, "  %s: newest n %" PRIu64 " but its batch ends at %" PRIu64 " (half a batch)\n",
            what, newest, last_of_newest);
    bad++;
  }
  evs_stats st;
  memset(&st, 0, sizeof st);
  evs_stats_get(s, &st);
  if (st.pending != count) {
    fprintf(stderr, "  %s: stats pending %" PRIu64 ", inbox %" PRIu64 "\n", what, st.pending, count);
    bad++;
  }
  return bad ? -1 : (int64_t)newest;
}

static void t_writer_crash(void) {
  char *dir = t_tmpdir();
  long rounds = env_long("EVS_READERS_ROUNDS", 6);
  REQUIRE(create_store(dir) == 0);
  shared *sh = shared_new();
  evs_store *r = open_ro(dir); /* kept across every round */
  REQUIRE(r != NULL);
  rng = g_seed * 3 + 11;
  uint64_t next_n = 1, torn = 0, total_dropped = 0;
  for (long round = 0; round <= rounds; round++) {
    int final = round == rounds; /* a writer that stops cleanly */
    sh->started = 0;
    sh->stop = final;
    sh->committed = 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) crash_writer_main(dir, sh, next_n, g_seed * 1000 + (uint64_t)round);
    if (!final) {
      for (int i = 0; i < 5000 && !sh->started; i++) usleep(1000);
      CHECK(sh->started);
      usleep((useconds_t)(20000 + rnd_below(300000)));
      kill(pid, SIGKILL);
      int st = 0;
      waitpid(pid, &st, 0);
      CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    } else {
      CHECK_EQ(child_failures(pid), 0);
    }
    if (sh->dropped) torn++;
    total_dropped += sh->dropped;
    uint64_t committed = sh->committed;
    char what[64];
    snprintf(what, sizeof what, "round %ld refreshed reader", round);
    int rrc = evs_store_refresh(r);
    if (rrc) fprintf(stderr, "  round %ld: refresh: %s\n", round, evs_errmsg(r));
    CHECK_EQ(rrc, 0);
    int64_t nr = crash_check(r, what);
    snprintf(what, sizeof what, "round %ld fresh reader", round);
    evs_store *f = open_ro(dir);
    CHECK(f != NULL);
    int64_t nf = f ? crash_check(f, what) : -1;
    if (f) CHECK_EQ(evs_store_close(f), 0);
    CHECK(nr >= 0);
    CHECK(nf >= 0);
    CHECK_EQ(nr, nf);
    /* everything the writer saw committed is there, and it did append */
    CHECK(nf >= (int64_t)committed);
    if (final) CHECK(nr >= (int64_t)next_n);
    if (nf < 0) break;
    next_n = (uint64_t)nf + 1;
    if (rrc || nr < 0) { /* (failed already) a new reader for the next rounds */
      evs_store_close(r);
      r = open_ro(dir);
      REQUIRE(r != NULL);
    }
  }
  printf("  info crash: %ld kills, %" PRIu64 " reopens cut a torn or uncommitted tail (%" PRIu64
         " bytes), %" PRIu64 " events at end\n",
         rounds, torn, total_dropped, next_n - 1);
  CHECK_EQ(evs_store_close(r), 0);
  evs_options o = writer_opts();
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(dir, &o, &s), 0);
  if (s) {
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
  }
  munmap(sh, sizeof *sh);
  t_rmdir(dir);
}

static void run_timed(const char *name, void (*fn)(void)) {
  int64_t t0 = now_us();
  t_run(name, fn);
  printf("  info %s took %.1f s\n", name, (double)(now_us() - t0) / 1e6);
  fflush(stdout);
}
#define RUN_TIMED(fn) run_timed(#fn, fn)

int main(void) {
  const char *sv = getenv("EVS_SEED");
  g_seed = sv && *sv ? strtoull(sv, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
  printf("  info EVS_SEED=%" PRIu64 "\n", g_seed);
  RUN_TIMED(t_writer_readers);
  if (geteuid() == 0) RUN_TIMED(t_ro_permission);
  else printf("  SKIP t_ro_permission (needs root to switch to uid 65534)\n");
  RUN_TIMED(t_ro_filesystem);
  RUN_TIMED(t_ro_writes_nothing);
  RUN_TIMED(t_writer_crash);
  return TEST_EXIT();
}
