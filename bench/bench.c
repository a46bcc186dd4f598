/*
** bench.c: evstore against SQLite on the standard workload
** (/work/shared/WORKLOAD.md; bench/README.md says what each phase measures).
**
** Three systems run side by side in one process, on one disk:
**   evstore  the C API, a store in <dir>/evstore
**   sqlite   a plain SQLite table, <dir>/sqlite.db (WAL)
**   vtab     the evstore virtual table through SQL, <dir>/vt.db with the
**            store in <dir>/vtstore
** Phases are interleaved batch by batch (or page by page) between the
** systems, so that a noisy neighbour hits all of them alike and the ratios
** stay meaningful. Usage:
**   bench --n 200000 --dir <empty dir on the disk to test> --json results.json
**        [--gets 100000] [--durable 500] [--threads 16] [--per-thread 200]
**        [--dict]   (evstore and vtab with dict_compress on: small payloads
**                    compressed with the store's trained dictionary)
** Prints the table to stdout, progress to stderr; exits 1 if a phase fails
** or the systems disagree (counts, payload checksums). No timing checks.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "evstore_sqlite.h"

#define BENCH_PROG "bench"
#include "workload.h"

/* ---- Configuration ------------------------------------------------------ */

static uint64_t N = 200000; /* events ingested in phase 1 */
static uint64_t GETS = 100000;
static int DURABLE = 500;
static int THREADS = 16;
static int PER_THREAD = 200;
static const char *DIRP;
static const char *JSONP = "bench/results.json";
static int DICT; /* --dict: evs_options.dict_compress = 1 */

static char ev_dir[PATH_MAX + 64], sq_path[PATH_MAX + 64], vt_path[PATH_MAX + 64],
    vtfull_path[PATH_MAX + 64], vs_dir[PATH_MAX + 64], raw_path[PATH_MAX + 64];

#define PAGE 100
#define BATCH 100

enum { EV, SQ, VT, NSYS };
static const char *const sys_name[NSYS] = {"evstore", "sqlite", "vtab"};

/* ---- Utilities ---------------------------------------------------------- */

static int64_t wall_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void ev_ok(evs_store *s, int rc, const char *what) {
  if (rc) die("evstore %s: %s (%s)", what, evs_strerror(rc), evs_errmsg(s));
}

static void sq_ok(sqlite3 *db, int rc, const char *what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    die("sqlite %s: rc %d: %s", what, rc, db ? sqlite3_errmsg(db) : "?");
}

static void sq_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
    die("sqlite exec '%s': %s", sql, err ? err : sqlite3_errmsg(db));
}

static sqlite3_stmt *sq_prep(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  sq_ok(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), sql);
  return st;
}

/* Step a statement that returns no rows, and reset it. */
static void sq_run(sqlite3 *db, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) die("sqlite %s: rc %d: %s", what, rc, sqlite3_errmsg(db));
  sqlite3_reset(st);
}

static int64_t sq_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = sq_prep(db, sql);
  if (sqlite3_step(st) != SQLITE_ROW) die("sqlite '%s': %s", sql, sqlite3_errmsg(db));
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void sq_close(sqlite3 *db) {
  sqlite3_stmt *st;
  while ((st = sqlite3_next_stmt(db, NULL))) sqlite3_finalize(st);
  if (sqlite3_close(db) != SQLITE_OK) die("sqlite close: %s", sqlite3_errmsg(db));
}

/* Latency samples (µs). */
typedef struct {
  double *v;
  size_t n, cap;
} samples;

static void sam_add(samples *s, double us) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) die("out of memory");
  }
  s->v[s->n++] = us;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile. */
static double pct(samples *s, double p) {
  if (!s->n) return 0;
  qsort(s->v, s->n, sizeof *s->v, cmp_dbl);
  size_t k = (size_t)(p / 100.0 * (double)s->n + 0.999999);
  if (k < 1) k = 1;
  if (k > s->n) k = s->n;
  return s->v[k - 1];
}

static void sam_free(samples *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

/* Sum of the sizes of the regular files in dir (apparent and allocated). */
static void dir_bytes(const char *dir, uint64_t *size, uint64_t *alloc) {
  DIR *d = opendir(dir);
  if (!d) die("opendir %s: %s", dir, strerror(errno));
  struct dirent *de;
  while ((de = readdir(d))) {
    char p[PATH_MAX + 300];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
      *size += (uint64_t)st.st_size;
      *alloc += (uint64_t)st.st_blocks * 512;
    }
  }
  closedir(d);
}

/* A database file and its companions (-wal, -shm, -journal) if present. */
static void db_bytes(const char *db, uint64_t *size, uint64_t *alloc) {
  const char *sfx[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < 4; i++) {
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s%s", db, sfx[i]);
    if (stat(p, &st) == 0) {
      *size += (uint64_t)st.st_size;
      *alloc += (uint64_t)st.st_blocks * 512;
    }
  }
}

/* ---- The workload's events ---------------------------------------------- */


static uint64_t id_rng = 0xD1B54A32D192ED03ULL; /* ids to get, ack order */

/* What reading a payload costs: its length and its first and last bytes
** (so the bytes are really fetched, not just pointed at). */
static inline uint64_t touch(const void *p, size_t n) {
  const unsigned char *b = p;
  return n ? n + b[0] + ((uint64_t)b[n - 1] << 8) : 0;
}

/* ---- The three systems -------------------------------------------------- */

static evs_store *es;

static evs_store *ev_open(int sync) {
  evs_options o = {0};
  o.sync = sync;
  o.dict_compress = DICT;
  evs_store *s;
  if (evs_store_open(ev_dir, &o, &s)) die("evstore open %s: %s", ev_dir, evs_errmsg(NULL));
  return s;
}

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *begin, *commit, *ins, *get, *ack, *page_all, *page_src, *page_idx;
} sq_t;

typedef struct {
  sqlite3 *db;
  sqlite3_stmt *begin, *commit, *ins, *get, *ack, *all1, *alln, *src1, *srcn;
} vt_t;

static sq_t sq;
static vt_t vt;

#define SQ_SCHEMA                                                                   \
  "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, created_at INTEGER, " \
  "status INTEGER, source TEXT, event_type TEXT, payload BLOB, metadata TEXT, "     \
  "idem TEXT UNIQUE);"                                                              \
  "CREATE INDEX IF NOT EXISTS events_inbox ON events(status, created_at, id);"
#define SQ_INS                                                                   \
  "INSERT INTO events(created_at, status, source, event_type, payload, metadata, " \
  "idem) VALUES(?1, 0, ?2, ?3, ?4, ?5, ?6)"
#define SQ_GET "SELECT payload FROM events WHERE id = ?1"
#define SQ_ACK "UPDATE events SET status = 1 WHERE id = ?1 AND status = 0"
#define SQ_ALL                                                                  \
  "SELECT id, created_at, payload FROM events WHERE status = 0 AND "           \
  "(created_at, id) > (?1, ?2) ORDER BY created_at, id LIMIT 100"
#define SQ_SRC                                                                  \
  "SELECT id, created_at, payload FROM events WHERE status = 0 AND source = ?3 " \
  "AND (created_at, id) > (?1, ?2) ORDER BY created_at, id LIMIT 100"
#define SQ_IDX_CREATE "CREATE INDEX events_src ON events(status, source, id)"
#define SQ_IDX                                                                  \
  "SELECT id, payload FROM events WHERE status = 0 AND source = ?1 AND id > ?2 " \
  "ORDER BY id LIMIT 100"
#define SQ_COUNT "SELECT count(*) FROM events WHERE status = 0"

#define VT_INS                                                                   \
  "INSERT INTO inbox(source, event_type, payload, metadata, idempotency_key) "   \
  "VALUES(?1, ?2, ?3, ?4, ?5)"
#define VT_GET "SELECT payload FROM inbox WHERE id = ?1"
#define VT_ACK "UPDATE inbox SET status = 'acknowledged' WHERE id = ?1"
#define VT_ALL1 \
  "SELECT id, payload, cursor FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 100"
#define VT_ALLN                                                                  \
  "SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND cursor = ?1 " \
  "ORDER BY id LIMIT 100"
#define VT_SRC1                                                                  \
  "SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = ?2 " \
  "ORDER BY id LIMIT 100"
#define VT_SRCN                                                                  \
  "SELECT id, payload, cursor FROM inbox WHERE status = 'pending' AND source = ?2 " \
  "AND cursor = ?1 ORDER BY id LIMIT 100"
#define VT_COUNT "SELECT count(*) FROM inbox WHERE status = 'pending'"

static sqlite3 *sq_connect(const char *path, int sync_full) {
  sqlite3 *db;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
    die("sqlite open %s: %s", path, sqlite3_errmsg(db));
  sqlite3_busy_timeout(db, 60000);
  sq_exec(db, "PRAGMA journal_mode=WAL");
  sq_exec(db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  return db;
}

static void sq_prepare_all(void) {
  sq.begin = sq_prep(sq.db, "BEGIN");
  sq.commit = sq_prep(sq.db, "COMMIT");
  sq.ins = sq_prep(sq.db, SQ_INS);
  sq.get = sq_prep(sq.db, SQ_GET);
  sq.ack = sq_prep(sq.db, SQ_ACK);
  sq.page_all = sq_prep(sq.db, SQ_ALL);
  sq.page_src = sq_prep(sq.db, SQ_SRC);
  sq.page_idx = NULL;
}

/* The vtab's host database: `path` declares `inbox` on vs_dir with the
** given sync mode ("" = normal). */
static sqlite3 *vt_connect(const char *path, const char *sync) {
  sqlite3 *db = sq_connect(path, 0);
  sq_ok(db, evs_sqlite_register(db), "evs_sqlite_register");
  char sql[PATH_MAX + 200];
  snprintf(sql, sizeof sql,
           "CREATE VIRTUAL TABLE IF NOT EXISTS inbox USING evstore(dir='%s'%s%s%s)", vs_dir,
           *sync ? ", sync=" : "", sync, DICT ? ", dict_compress=on" : "");
  sq_exec(db, sql);
  return db;
}

static void vt_prepare_all(void) {
  vt.begin = sq_prep(vt.db, "BEGIN");
  vt.commit = sq_prep(vt.db, "COMMIT");
  vt.ins = sq_prep(vt.db, VT_INS);
  vt.get = sq_prep(vt.db, VT_GET);
  vt.ack = sq_prep(vt.db, VT_ACK);
  vt.all1 = sq_prep(vt.db, VT_ALL1);
  vt.alln = sq_prep(vt.db, VT_ALLN);
  vt.src1 = sq_prep(vt.db, VT_SRC1);
  vt.srcn = sq_prep(vt.db, VT_SRCN);
}

static void sq_bind_ins(sqlite3_stmt *st, const gen_ev *e) {
  sqlite3_bind_int64(st, 1, wall_us());
  sqlite3_bind_text(st, 2, e->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, e->type, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, e->payload, (int)e->plen, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, e->meta, (int)e->mlen, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, e->idem, -1, SQLITE_STATIC);
}

static void vt_bind_ins(sqlite3_stmt *st, const gen_ev *e) {
  sqlite3_bind_text(st, 1, e->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, e->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, e->payload, (int)e->plen, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, e->meta, (int)e->mlen, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, e->idem, -1, SQLITE_STATIC);
}

/* EXPLAIN QUERY PLAN of sql, as one line (for the record). */
static char plans[8][600];
static const char *plan_sql[8];
static int nplans;

static void record_plan(sqlite3 *db, const char *sql) {
  char q[1200];
  snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
  sqlite3_stmt *st = sq_prep(db, q);
  char *o = plans[nplans];
  size_t n = 0;
  o[0] = 0;
  while (sqlite3_step(st) == SQLITE_ROW && n < sizeof plans[0] - 1)
    n += (size_t)snprintf(o + n, sizeof plans[0] - n, "%s%s", n ? "; " : "",
                          (const char *)sqlite3_column_text(st, 3));
  sqlite3_finalize(st);
  plan_sql[nplans++] = sql;
  fprintf(stderr, "[bench] plan: %s\n        -> %s\n", sql, o);
}

/* ---- Figures ------------------------------------------------------------ */

typedef struct {
  double ingest_eps, ingest_mbs;
  double dur_p50, dur_p99, dur16_eps;
  double get_us, ack_us;
  double all_p50, all_p99, src_p50, src_p99, idx_p50, idx_p99;
  double disk_bpe, reopen_ms, mem_bpe;
  double consume_us; /* 10: per event, claimed in pages of 100 and acked */
} figs;

static figs F[NSYS];
static double raw_p50, raw_p99, raw_bytes_avg;
static uint64_t disk_size[NSYS], disk_alloc[NSYS], mem_bytes[NSYS];
static uint64_t dur16_retries[NSYS];
static double reopen_all[NSYS][3];
static uint64_t total_events, expect_pending, expect_src3;
static uint64_t all_pages[NSYS], src_pages[NSYS], idx_pages[NSYS];
static int src_passes, idx_passes;
static evs_stats ev_stats_end;

struct phase_time {
  const char *name;
  double s;
};
static struct phase_time ptimes[16];
static int nptimes;
static double phase_t0;

static void phase_begin(const char *name) {
  fprintf(stderr, "[bench] %s ...\n", name);
  ptimes[nptimes].name = name;
  phase_t0 = now();
}

static void phase_end(void) {
  ptimes[nptimes].s = now() - phase_t0;
  fprintf(stderr, "[bench] %-34s %7.1f s\n", ptimes[nptimes].name, ptimes[nptimes].s);
  nptimes++;
}

/* ---- Phase 1: batched ingest --------------------------------------------- */

static void phase_ingest(void) {
  phase_begin("1 ingest batched");
  gen_ev *evs = calloc(BATCH, sizeof *evs);
  evs_event_in in[BATCH];
  evs_append_result res[BATCH];
  double t[NSYS] = {0};
  uint64_t bytes = 0;
  for (uint64_t b = 0; b < N; b += BATCH) {
    size_t m = N - b < BATCH ? (size_t)(N - b) : BATCH;
    for (size_t k = 0; k < m; k++) {
      gen_event(b + k, &evs[k]);
      in[k] = to_in(&evs[k]);
      bytes += evs[k].plen;
    }
    double t0 = now();
    ev_ok(es, evs_append_batch(es, NULL, in, m, res), "append_batch");
    t[EV] += now() - t0;
    for (size_t k = 0; k < m; k++)
      if (res[k].rc || res[k].duplicate || res[k].id != b + k + 1)
        die("evstore: event %" PRIu64 ": rc %d dup %d id %" PRIu64, b + k, res[k].rc,
            res[k].duplicate, res[k].id);

    t0 = now();
    sq_run(sq.db, sq.begin, "BEGIN");
    for (size_t k = 0; k < m; k++) {
      sq_bind_ins(sq.ins, &evs[k]);
      sq_run(sq.db, sq.ins, "insert");
    }
    sq_run(sq.db, sq.commit, "COMMIT");
    t[SQ] += now() - t0;
    if ((uint64_t)sqlite3_last_insert_rowid(sq.db) != b + m) die("sqlite: unexpected rowid");

    t0 = now();
    sq_run(vt.db, vt.begin, "vtab BEGIN");
    for (size_t k = 0; k < m; k++) {
      vt_bind_ins(vt.ins, &evs[k]);
      sq_run(vt.db, vt.ins, "vtab insert");
    }
    sq_run(vt.db, vt.commit, "vtab COMMIT");
    t[VT] += now() - t0;
    if ((uint64_t)sqlite3_last_insert_rowid(vt.db) != b + m) die("vtab: unexpected rowid");
  }
  for (int s = 0; s < NSYS; s++) {
    F[s].ingest_eps = (double)N / t[s];
    F[s].ingest_mbs = (double)bytes / 1e6 / t[s];
  }
  for (int k = 0; k < BATCH; k++) free(evs[k].payload);
  free(evs);
  phase_end();
}

/* ---- Phase 2: durable appends -------------------------------------------- */

typedef struct {
  int sys;
  gen_ev *evs;
  int n;
  pthread_barrier_t *bar;
  double end;
  uint64_t retries;
} thr_arg;

static void *thr_main(void *p) {
  thr_arg *a = p;
  sqlite3 *db = NULL;
  sqlite3_stmt *ins = NULL;
  if (a->sys != EV) {
    db = a->sys == SQ ? sq_connect(sq_path, 1) : vt_connect(vtfull_path, "full");
    if (a->sys == VT) sq_exec(db, "PRAGMA synchronous=FULL");
    sqlite3_busy_timeout(db, 60000);
    ins = sq_prep(db, a->sys == SQ ? SQ_INS : VT_INS);
  }
  pthread_barrier_wait(a->bar);
  for (int k = 0; k < a->n; k++) {
    const gen_ev *e = &a->evs[k];
    if (a->sys == EV) {
      evs_event_in in = to_in(e);
      evs_append_result r;
      ev_ok(es, evs_append(es, NULL, &in, &r), "durable append (thread)");
      continue;
    }
    for (;;) {
      if (a->sys == SQ) sq_bind_ins(ins, e);
      else vt_bind_ins(ins, e);
      int rc = sqlite3_step(ins);
      sqlite3_reset(ins);
      if (rc == SQLITE_DONE) break;
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        a->retries++;
        continue;
      }
      die("%s thread insert: rc %d: %s", sys_name[a->sys], rc, sqlite3_errmsg(db));
    }
  }
  a->end = now();
  if (db) sq_close(db);
  return NULL;
}

static void phase_durable(void) {
  phase_begin("2 durable single + raw fdatasync");
  /* evstore: the same store, closed and reopened with sync FULL. */
  ev_ok(es, evs_store_close(es), "close");
  es = ev_open(EVS_SYNC_FULL);
  sq_exec(sq.db, "PRAGMA synchronous=FULL");
  /* vtab: the same store through a second host database whose table
  ** declares sync='full' (a store is open once per process, with one set
  ** of options, so the normal connection is closed meanwhile). */
  sq_close(vt.db);
  vt.db = vt_connect(vtfull_path, "full");
  sq_exec(vt.db, "PRAGMA synchronous=FULL");
  sqlite3_stmt *vins = sq_prep(vt.db, VT_INS);

  int fd = open(raw_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) die("open %s: %s", raw_path, strerror(errno));
  samples lat[NSYS] = {{0}}, raw = {0};
  gen_ev e = {0};
  double rawsum = 0;
  char *rawbuf = xmalloc(PAYLOAD_MAX + 256);
  for (int i = 0; i < DURABLE; i++) {
    gen_event(N + (uint64_t)i, &e);
    evs_event_in in = to_in(&e);
    evs_append_result r;
    double t0 = now();
    ev_ok(es, evs_append(es, NULL, &in, &r), "durable append");
    sam_add(&lat[EV], (now() - t0) * 1e6);

    /* The same bytes an event carries, appended and fdatasynced. */
    size_t len = 0;
    memcpy(rawbuf + len, e.payload, e.plen), len += e.plen;
    memcpy(rawbuf + len, e.meta, e.mlen), len += e.mlen;
    len += (size_t)sprintf(rawbuf + len, "%s%s%s", e.source, e.type, e.idem);
    rawsum += (double)len;
    t0 = now();
    for (size_t off = 0; off < len;) {
      ssize_t w = write(fd, rawbuf + off, len - off);
      if (w <= 0) die("write %s: %s", raw_path, strerror(errno));
      off += (size_t)w;
    }
    if (fdatasync(fd)) die("fdatasync %s: %s", raw_path, strerror(errno));
    sam_add(&raw, (now() - t0) * 1e6);

    t0 = now();
    sq_bind_ins(sq.ins, &e);
    sq_run(sq.db, sq.ins, "durable insert");
    sam_add(&lat[SQ], (now() - t0) * 1e6);

    t0 = now();
    vt_bind_ins(vins, &e);
    sq_run(vt.db, vins, "vtab durable insert");
    sam_add(&lat[VT], (now() - t0) * 1e6);
  }
  close(fd);
  unlink(raw_path);
  free(rawbuf);
  free(e.payload);
  raw_p50 = pct(&raw, 50);
  raw_p99 = pct(&raw, 99);
  raw_bytes_avg = DURABLE ? rawsum / DURABLE : 0;
  sam_free(&raw);
  for (int s = 0; s < NSYS; s++) {
    F[s].dur_p50 = pct(&lat[s], 50);
    F[s].dur_p99 = pct(&lat[s], 99);
    sam_free(&lat[s]);
  }
  phase_end();

  phase_begin("2 durable, threads");
  /* Every system appends the same THREADS x PER_THREAD events. */
  gen_ev *tev = calloc((size_t)THREADS * PER_THREAD, sizeof *tev);
  for (int i = 0; i < THREADS * PER_THREAD; i++) {
    gen_event(N + (uint64_t)DURABLE + (uint64_t)i, &tev[i]);
    char *exact = xmalloc(tev[i].plen + 1);
    memcpy(exact, tev[i].payload, tev[i].plen + 1);
    free(tev[i].payload);
    tev[i].payload = exact;
    tev[i].cap = tev[i].plen + 1;
  }
  for (int s = 0; s < NSYS; s++) {
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)THREADS + 1);
    pthread_t th[64];
    thr_arg ta[64];
    for (int t = 0; t < THREADS; t++) {
      ta[t] = (thr_arg){.sys = s, .evs = tev + (size_t)t * PER_THREAD, .n = PER_THREAD,
                        .bar = &bar};
      if (pthread_create(&th[t], NULL, thr_main, &ta[t])) die("pthread_create");
    }
    pthread_barrier_wait(&bar);
    double t0 = now(), end = t0;
    for (int t = 0; t < THREADS; t++) {
      pthread_join(th[t], NULL);
      if (ta[t].end > end) end = ta[t].end;
      dur16_retries[s] += ta[t].retries;
    }
    pthread_barrier_destroy(&bar);
    F[s].dur16_eps = (double)THREADS * PER_THREAD / (end - t0);
    fprintf(stderr, "[bench]   %-8s %d threads x %d durable appends: %.2f s\n", sys_name[s],
            THREADS, PER_THREAD, end - t0);
  }
  for (int i = 0; i < THREADS * PER_THREAD; i++) free(tev[i].payload);
  free(tev);

  /* Back to NORMAL for the rest. */
  ev_ok(es, evs_store_close(es), "close");
  es = ev_open(EVS_SYNC_NORMAL);
  sq_exec(sq.db, "PRAGMA synchronous=NORMAL");
  sq_close(vt.db);
  vt.db = vt_connect(vt_path, "");
  vt_prepare_all();
  phase_end();
}

/* ---- Phase 3: get by id -------------------------------------------------- */

static void phase_get(void) {
  phase_begin("3 get by id");
  uint64_t *ids = xmalloc(GETS * sizeof *ids);
  for (uint64_t i = 0; i < GETS; i++) ids[i] = 1 + xs64(&id_rng) % N;
  double t[NSYS] = {0};
  uint64_t sum[NSYS] = {0};
  const uint64_t chunk = 1000;
  for (uint64_t b = 0; b < GETS; b += chunk) {
    uint64_t m = GETS - b < chunk ? GETS - b : chunk;
    double t0 = now();
    for (uint64_t k = b; k < b + m; k++) {
      evs_event *ev;
      ev_ok(es, evs_get(es, NULL, ids[k], &ev), "get");
      sum[EV] += touch(ev->payload, ev->payload_len);
      evs_event_free(ev);
    }
    t[EV] += now() - t0;

    t0 = now();
    for (uint64_t k = b; k < b + m; k++) {
      sqlite3_bind_int64(sq.get, 1, (sqlite3_int64)ids[k]);
      if (sqlite3_step(sq.get) != SQLITE_ROW) die("sqlite get %" PRIu64 ": not found", ids[k]);
      const void *p = sqlite3_column_blob(sq.get, 0);
      sum[SQ] += touch(p, (size_t)sqlite3_column_bytes(sq.get, 0));
      sqlite3_reset(sq.get);
    }
    t[SQ] += now() - t0;

    t0 = now();
    for (uint64_t k = b; k < b + m; k++) {
      sqlite3_bind_int64(vt.get, 1, (sqlite3_int64)ids[k]);
      if (sqlite3_step(vt.get) != SQLITE_ROW)
        die("vtab get %" PRIu64 ": %s", ids[k], sqlite3_errmsg(vt.db));
      const void *p = sqlite3_column_text(vt.get, 0);
      sum[VT] += touch(p, (size_t)sqlite3_column_bytes(vt.get, 0));
      sqlite3_reset(vt.get);
    }
    t[VT] += now() - t0;
  }
  if (sum[EV] != sum[SQ] || sum[EV] != sum[VT])
    die("get: payload checksums differ: %" PRIu64 " %" PRIu64 " %" PRIu64, sum[EV], sum[SQ],
        sum[VT]);
  for (int s = 0; s < NSYS; s++) F[s].get_us = t[s] * 1e6 / (double)GETS;
  free(ids);
  phase_end();
}

/* ---- Phase 4: ack half, random order -------------------------------------- */

static void phase_ack(void) {
  phase_begin("4 ack");
  uint64_t *ids = xmalloc(N * sizeof *ids);
  for (uint64_t i = 0; i < N; i++) ids[i] = i + 1;
  for (uint64_t i = N - 1; i > 0; i--) {
    uint64_t j = xs64(&id_rng) % (i + 1), x = ids[i];
    ids[i] = ids[j];
    ids[j] = x;
  }
  uint64_t nack = N / 2;
  uint64_t src3_acked = 0;
  for (uint64_t i = 0; i < nack; i++) src3_acked += src_of[ids[i] - 1] == 3;
  double t[NSYS] = {0};
  int rcs[BATCH];
  for (uint64_t b = 0; b < nack; b += BATCH) {
    size_t m = nack - b < BATCH ? (size_t)(nack - b) : BATCH;
    double t0 = now();
    ev_ok(es, evs_ack_batch(es, NULL, ids + b, m, rcs), "ack_batch");
    t[EV] += now() - t0;
    for (size_t k = 0; k < m; k++)
      if (rcs[k]) die("evstore ack %" PRIu64 ": rc %d", ids[b + k], rcs[k]);

    t0 = now();
    sq_run(sq.db, sq.begin, "BEGIN");
    for (size_t k = 0; k < m; k++) {
      sqlite3_bind_int64(sq.ack, 1, (sqlite3_int64)ids[b + k]);
      sq_run(sq.db, sq.ack, "ack");
      if (sqlite3_changes(sq.db) != 1) die("sqlite ack %" PRIu64 ": no row", ids[b + k]);
    }
    sq_run(sq.db, sq.commit, "COMMIT");
    t[SQ] += now() - t0;

    t0 = now();
    sq_run(vt.db, vt.begin, "vtab BEGIN");
    for (size_t k = 0; k < m; k++) {
      sqlite3_bind_int64(vt.ack, 1, (sqlite3_int64)ids[b + k]);
      sq_run(vt.db, vt.ack, "vtab ack");
      if (sqlite3_changes(vt.db) != 1) die("vtab ack %" PRIu64 ": no row", ids[b + k]);
    }
    sq_run(vt.db, vt.commit, "vtab COMMIT");
    t[VT] += now() - t0;
  }
  for (int s = 0; s < NSYS; s++) F[s].ack_us = nack ? t[s] * 1e6 / (double)nack : 0;
  total_events = N + (uint64_t)DURABLE + (uint64_t)THREADS * PER_THREAD;
  expect_pending = total_events - nack;
  uint64_t src3 = 0;
  for (uint64_t i = 0; i < total_events; i++) src3 += src_of[i] == 3;
  expect_src3 = src3 - src3_acked;
  free(ids);
  phase_end();
}

/* ---- Phases 5, 6, 6b: inbox pages ---------------------------------------- */

/* mode 0: all pending; 1: source app-3 (SQLite: keyset on created_at, id);
** 2: source app-3 with SQLite's extra index (status, source, id).
** One pass reads every matching event once, oldest first, page by page,
** the three systems taking turns page by page. */
static void inbox_pass(int mode, samples *lat, uint64_t *count, uint64_t *sum) {
  const char *src = mode ? "app-3" : NULL;
  int done[NSYS] = {0};

  evs_query q = {0};
  q.limit = PAGE;
  q.source = src;
  evs_page *pg = NULL;

  int64_t last_created = INT64_MIN, last_id = 0;
  sqlite3_stmt *sst = mode == 0 ? sq.page_all : mode == 1 ? sq.page_src : sq.page_idx;

  char vcur[EVS_CURSOR_SIZE * 2] = "";
  int vfirst = 1;

  while (!done[EV] || !done[SQ] || !done[VT]) {
    if (!done[EV]) {
      double t0 = now();
      ev_ok(es, evs_inbox(es, NULL, &q, &pg), "inbox");
      size_t n = evs_page_count(pg);
      for (size_t i = 0; i < n; i++) {
        const evs_event *e = evs_page_event(pg, i);
        sum[EV] += touch(e->payload, e->payload_len);
      }
      int more = evs_page_more(pg);
      q.cursor = evs_page_cursor(pg);
      double us = (now() - t0) * 1e6;
      if (n) sam_add(&lat[EV], us);
      count[EV] += n;
      if (!more || !n) done[EV] = 1;
    }
    if (!done[SQ]) {
      double t0 = now();
      if (mode == 2) {
        sqlite3_bind_text(sst, 1, src, -1, SQLITE_STATIC);
        sqlite3_bind_int64(sst, 2, last_id);
      } else {
        sqlite3_bind_int64(sst, 1, last_created);
        sqlite3_bind_int64(sst, 2, last_id);
        if (mode == 1) sqlite3_bind_text(sst, 3, src, -1, SQLITE_STATIC);
      }
      int rc, n = 0;
      while ((rc = sqlite3_step(sst)) == SQLITE_ROW) {
        last_id = sqlite3_column_int64(sst, 0);
        int pc = mode == 2 ? 1 : 2;
        if (mode != 2) last_created = sqlite3_column_int64(sst, 1);
        const void *p = sqlite3_column_blob(sst, pc);
        sum[SQ] += touch(p, (size_t)sqlite3_column_bytes(sst, pc));
        n++;
      }
      sq_ok(sq.db, rc, "page");
      sqlite3_reset(sst);
      double us = (now() - t0) * 1e6;
      if (n) sam_add(&lat[SQ], us);
      count[SQ] += (uint64_t)n;
      if (n < PAGE) done[SQ] = 1;
    }
    if (!done[VT]) {
      double t0 = now();
      sqlite3_stmt *st = mode ? (vfirst ? vt.src1 : vt.srcn) : (vfirst ? vt.all1 : vt.alln);
      if (!vfirst) sqlite3_bind_text(st, 1, vcur, -1, SQLITE_TRANSIENT);
      if (mode) sqlite3_bind_text(st, 2, src, -1, SQLITE_STATIC);
      int rc, n = 0;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *p = sqlite3_column_text(st, 1);
        sum[VT] += touch(p, (size_t)sqlite3_column_bytes(st, 1));
        n++;
        if (n == PAGE) { /* only the last row's cursor is needed */
          const char *c = (const char *)sqlite3_column_text(st, 2);
          snprintf(vcur, sizeof vcur, "%s", c ? c : "");
        }
      }
      sq_ok(vt.db, rc, "vtab page");
      sqlite3_reset(st);
      double us = (now() - t0) * 1e6;
      vfirst = 0;
      if (n) sam_add(&lat[VT], us);
      count[VT] += (uint64_t)n;
      if (n < PAGE) done[VT] = 1;
    }
  }
  evs_page_free(pg);
}

/* Phase 5 is one pass (about N/2/100 pages). A one-source pass is only
** about N/4000 pages, so it is repeated (up to 20 passes) until each
** system has about 1000 page samples: its p99 is then not just the
** slowest page of one pass. */
static void inbox_pages(int mode, double *p50, double *p99, uint64_t *pages,
                        int *passes) {
  uint64_t expect = mode ? expect_src3 : expect_pending;
  samples lat[NSYS] = {{0}};
  int npass = 1;
  for (int pass = 0; pass < npass; pass++) {
    uint64_t count[NSYS] = {0}, sum[NSYS] = {0};
    inbox_pass(mode, lat, count, sum);
    for (int s = 0; s < NSYS; s++) {
      if (count[s] != expect)
        die("inbox (%s): %s read %" PRIu64 " events, expected %" PRIu64,
            mode ? "app-3" : "all", sys_name[s], count[s], expect);
      if (sum[s] != sum[EV]) die("inbox: payload checksums differ between systems");
    }
    if (pass == 0 && mode && lat[EV].n) {
      npass = (int)((1000 + lat[EV].n - 1) / lat[EV].n);
      if (npass > 20) npass = 20;
    }
  }
  *passes = npass;
  for (int s = 0; s < NSYS; s++) {
    p50[s] = pct(&lat[s], 50);
    p99[s] = pct(&lat[s], 99);
    pages[s] = lat[s].n;
    sam_free(&lat[s]);
  }
}

/* ---- Phases 7-9: disk, reopen, memory ------------------------------------ */

static void close_all(void) {
  ev_ok(es, evs_store_close(es), "close");
  es = NULL;
  sq_exec(sq.db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sq_close(sq.db);
  sq.db = NULL;
  sq_exec(vt.db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sq_close(vt.db);
  vt.db = NULL;
}

static void phase_disk(void) {
  phase_begin("7 disk");
  ev_ok(es, evs_stats_get(es, &ev_stats_end), "stats");
  close_all();
  dir_bytes(ev_dir, &disk_size[EV], &disk_alloc[EV]);
  db_bytes(sq_path, &disk_size[SQ], &disk_alloc[SQ]);
  dir_bytes(vs_dir, &disk_size[VT], &disk_alloc[VT]);
  db_bytes(vt_path, &disk_size[VT], &disk_alloc[VT]);
  db_bytes(vtfull_path, &disk_size[VT], &disk_alloc[VT]);
  for (int s = 0; s < NSYS; s++) F[s].disk_bpe = (double)disk_size[s] / (double)total_events;
  phase_end();
}

/* evstore without its index checkpoint: the whole log replayed, what an
** open after a crash before any checkpoint costs (the worst case). */
static double reopen_nockpt_ms;
static uint64_t ckpt_state_at_reopen;

static void reopen_without_checkpoint(void) {
  char ck[PATH_MAX + 128], aside[PATH_MAX + 128];
  snprintf(ck, sizeof ck, "%s/evstore.checkpoint", ev_dir);
  snprintf(aside, sizeof aside, "%s/checkpoint.aside", ev_dir);
  if (rename(ck, aside)) die("no checkpoint file after close");
  double t0 = now();
  evs_store *s = ev_open(EVS_SYNC_NORMAL);
  evs_stats st;
  ev_ok(s, evs_stats_get(s, &st), "stats");
  reopen_nockpt_ms = (now() - t0) * 1e3;
  if (st.pending != expect_pending || st.checkpoint_state != EVS_CHECKPOINT_NONE)
    die("evstore reopen without checkpoint: %" PRIu64 " pending", st.pending);
  ev_ok(s, evs_store_close(s), "close"); /* writes a checkpoint again */
  if (rename(aside, ck)) die("cannot put the checkpoint back");
}

/* ---- 10: consumers ----------------------------------------------------- */

static uint64_t consume_n;
static double wake_p50, wake_p99;

typedef struct {
  evs_store *s;
  char cursor[EVS_CURSOR_SIZE];
  double woke;
} waker;

static void *wake_thread(void *arg) {
  waker *w = arg;
  evs_query q = {0};
  q.cursor = w->cursor;
  if (evs_wait(w->s, &q, 10000)) die("evs_wait: %s", evs_errmsg(w->s));
  w->woke = now();
  return NULL;
}

/* Competing-consumer work: claim the oldest 100 pending events with a
** lease, then acknowledge each with its token, until the queue is empty.
** SQLite does it the common way (goqite, litequeue): an UPDATE .. WHERE id
** IN (SELECT .. ORDER BY id LIMIT 100) RETURNING, then an UPDATE per ack. */
static void phase_consume(void) {
  phase_begin("10 claim 100 + ack them");
  consume_n = N / 10 < 100 ? 100 : N / 10;
  char dir[PATH_MAX + 64], db[PATH_MAX + 64];
  snprintf(dir, sizeof dir, "%s/consume-evstore", DIRP);
  snprintf(db, sizeof db, "%s/consume.db", DIRP);
  char payload[300];
  memset(payload, 0, sizeof payload);
  snprintf(payload, sizeof payload, "{\"job\":\"resize\",\"args\":\"%0250d\"}", 7);
  evs_options o = {0};
  o.sync = EVS_SYNC_NORMAL;
  evs_store *s;
  if (evs_store_open(dir, &o, &s)) die("evstore open %s: %s", dir, evs_errmsg(NULL));
  evs_event_in in[BATCH];
  evs_append_result res[BATCH];
  for (size_t k = 0; k < BATCH; k++) {
    memset(&in[k], 0, sizeof in[k]);
    in[k].source = "jobs";
    in[k].event_type = "resize";
    in[k].payload = payload;
  }
  for (uint64_t i = 0; i < consume_n; i += BATCH) {
    size_t m = consume_n - i < BATCH ? (size_t)(consume_n - i) : BATCH;
    ev_ok(s, evs_append_batch(s, NULL, in, m, res), "consume append");
  }
  sqlite3 *q = sq_connect(db, 0);
  sq_exec(q, "CREATE TABLE q(id INTEGER PRIMARY KEY, source TEXT NOT NULL, payload TEXT NOT NULL,"
             " status INTEGER NOT NULL DEFAULT 0, leased_until INTEGER NOT NULL DEFAULT 0,"
             " owner TEXT, deliveries INTEGER NOT NULL DEFAULT 0)");
  sq_exec(q, "CREATE INDEX q_pending ON q(status, id)");
  sq_exec(q, "BEGIN");
  sqlite3_stmt *ins = sq_prep(q, "INSERT INTO q(source, payload) VALUES('jobs', ?1)");
  for (uint64_t i = 0; i < consume_n; i++) {
    sqlite3_bind_text(ins, 1, payload, -1, SQLITE_STATIC);
    sq_run(q, ins, "consume insert");
  }
  sqlite3_finalize(ins);
  sq_exec(q, "COMMIT");
  sqlite3_stmt *claim = sq_prep(
      q, "UPDATE q SET leased_until = ?1, owner = ?2, deliveries = deliveries + 1 WHERE id IN "
         "(SELECT id FROM q WHERE status = 0 AND leased_until <= ?3 ORDER BY id LIMIT 100) "
         "RETURNING id, leased_until, payload, deliveries");
  sqlite3_stmt *ack =
      sq_prep(q, "UPDATE q SET status = 1 WHERE id = ?1 AND owner = ?2 AND leased_until = ?3");

  double t0 = now();
  uint64_t done = 0;
  evs_page *pg = NULL;
  evs_query cq = {0};
  cq.limit = 100;
  for (;;) {
    ev_ok(s, evs_claim(s, &cq, "worker-1", 30 * 1000000, &pg), "claim");
    size_t c = evs_page_count(pg);
    if (!c) break;
    uint64_t bid[100], btok[100];
    int brc[100];
    for (size_t k = 0; k < c; k++) {
      const evs_event *e = evs_page_event(pg, k);
      touch(e->payload, e->payload_len);
      bid[k] = e->id;
      btok[k] = e->lease_token;
    }
    ev_ok(s, evs_ack_lease_batch(s, bid, btok, c, brc, NULL), "ack_lease_batch");
    for (size_t k = 0; k < c; k++)
      if (brc[k]) die("evstore ack_lease %" PRIu64 ": rc %d", bid[k], brc[k]);
    done += c;
  }
  evs_page_free(pg);
  double t_ev = now() - t0;
  if (done != consume_n) die("evstore consumed %" PRIu64 " of %" PRIu64, done, consume_n);

  t0 = now();
  done = 0;
  uint64_t ids[100];
  for (;;) {
    int64_t nowus = (int64_t)(now() * 1e6), until = nowus + 30 * 1000000;
    sqlite3_bind_int64(claim, 1, until);
    sqlite3_bind_text(claim, 2, "worker-1", -1, SQLITE_STATIC);
    sqlite3_bind_int64(claim, 3, nowus);
    size_t c = 0;
    int rc;
    while ((rc = sqlite3_step(claim)) == SQLITE_ROW) {
      ids[c++] = (uint64_t)sqlite3_column_int64(claim, 0);
      touch(sqlite3_column_text(claim, 2), (size_t)sqlite3_column_bytes(claim, 2));
    }
    if (rc != SQLITE_DONE) die("sqlite claim: %s", sqlite3_errmsg(q));
    sqlite3_reset(claim);
    if (!c) break;
    sq_exec(q, "BEGIN");
    for (size_t k = 0; k < c; k++) {
      sqlite3_bind_int64(ack, 1, (sqlite3_int64)ids[k]);
      sqlite3_bind_text(ack, 2, "worker-1", -1, SQLITE_STATIC);
      sqlite3_bind_int64(ack, 3, until);
      sq_run(q, ack, "sqlite ack");
      if (sqlite3_changes(q) != 1) die("sqlite ack %" PRIu64 ": no row", ids[k]);
    }
    sq_exec(q, "COMMIT");
    done += c;
  }
  double t_sq = now() - t0;
  if (done != consume_n) die("sqlite consumed %" PRIu64 " of %" PRIu64, done, consume_n);
  sqlite3_finalize(claim);
  sqlite3_finalize(ack);
  sq_close(q);
  F[EV].consume_us = t_ev * 1e6 / (double)consume_n;
  F[SQ].consume_us = t_sq * 1e6 / (double)consume_n;

  /* evs_wait: a thread waits for the next event; how long after the
  ** commit does it run? */
  samples w = {0};
  for (int r = 0; r < 200; r++) {
    waker wk = {s, "", 0};
    evs_query aq = {0};
    evs_stats st;
    ev_ok(s, evs_stats_get(s, &st), "stats");
    ev_ok(s, evs_cursor_make(s, &aq, st.next_id - 1, wk.cursor), "cursor");
    pthread_t th;
    pthread_create(&th, NULL, wake_thread, &wk);
    struct timespec nap = {0, 500000};
    nanosleep(&nap, NULL);
    double tc = now();
    ev_ok(s, evs_append(s, NULL, &in[0], NULL), "append");
    pthread_join(th, NULL);
    sam_add(&w, (wk.woke - tc) * 1e6);
  }
  wake_p50 = pct(&w, 50);
  wake_p99 = pct(&w, 99);
  sam_free(&w);
  ev_ok(s, evs_store_close(s), "close");
  phase_end();
}

static void phase_reopen(void) {
  phase_begin("8 reopen + count pending");
  reopen_without_checkpoint();
  for (int rep = 0; rep < 3; rep++) {
    int last = rep == 2;
    double t0 = now();
    es = ev_open(EVS_SYNC_NORMAL);
    evs_stats st;
    ev_ok(es, evs_stats_get(es, &st), "stats");
    reopen_all[EV][rep] = (now() - t0) * 1e3;
    ckpt_state_at_reopen = (uint64_t)st.checkpoint_state;
    if (st.pending != expect_pending)
      die("evstore reopen: %" PRIu64 " pending, expected %" PRIu64, st.pending, expect_pending);
    if (last) mem_bytes[EV] = st.index_bytes;
    else ev_ok(es, evs_store_close(es), "close");

    t0 = now();
    sqlite3 *db;
    if (sqlite3_open_v2(sq_path, &db, SQLITE_OPEN_READWRITE, NULL)) die("sqlite reopen");
    int64_t c = sq_int(db, SQ_COUNT);
    reopen_all[SQ][rep] = (now() - t0) * 1e3;
    if ((uint64_t)c != expect_pending) die("sqlite reopen: %" PRId64 " pending", c);
    if (last) {
      int cur = 0, hi = 0;
      sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0);
      mem_bytes[SQ] = (uint64_t)cur;
      sq.db = db;
    } else {
      sq_close(db);
    }

    t0 = now();
    if (sqlite3_open_v2(vt_path, &db, SQLITE_OPEN_READWRITE, NULL)) die("vtab reopen");
    sq_ok(db, evs_sqlite_register(db), "evs_sqlite_register");
    c = sq_int(db, VT_COUNT);
    reopen_all[VT][rep] = (now() - t0) * 1e3;
    if ((uint64_t)c != expect_pending) die("vtab reopen: %" PRId64 " pending", c);
    if (last) {
      mem_bytes[VT] = (uint64_t)sq_int(db, "SELECT json_extract(evstore_stats('inbox'), "
                                          "'$.index_bytes')");
      vt.db = db;
    } else {
      sq_close(db);
    }
  }
  for (int s = 0; s < NSYS; s++) {
    double r[3] = {reopen_all[s][0], reopen_all[s][1], reopen_all[s][2]};
    qsort(r, 3, sizeof *r, cmp_dbl);
    F[s].reopen_ms = r[1]; /* the median of 3 */
    F[s].mem_bpe = (double)mem_bytes[s] / (double)total_events;
  }
  phase_end();
  /* Phase 9 is read off the stores just opened. */
  ptimes[nptimes].name = "9 memory";
  ptimes[nptimes++].s = 0;
  sq_exec(sq.db, "PRAGMA journal_mode=WAL");
  sq_exec(sq.db, "PRAGMA synchronous=NORMAL");
  sq_prepare_all();
  sq_exec(vt.db, "PRAGMA synchronous=NORMAL");
  vt_prepare_all();
}

/* ---- Output ------------------------------------------------------------- */

typedef struct {
  const char *key, *label, *unit;
  size_t off;
  int higher_better;
} row;

#define R(k, l, u, f, h) {k, l, u, offsetof(figs, f), h}
static const row rows[] = {
    R("ingest_events_per_s", "1 ingest batched", "events/s", ingest_eps, 1),
    R("ingest_mb_per_s", "1 ingest batched", "MB/s", ingest_mbs, 1),
    R("durable_single_p50_us", "2 durable single p50", "us", dur_p50, 0),
    R("durable_single_p99_us", "2 durable single p99", "us", dur_p99, 0),
    R("durable_threads_events_per_s", "2 durable 16 threads", "events/s", dur16_eps, 1),
    R("get_us", "3 get by id", "us/get", get_us, 0),
    R("ack_us", "4 ack", "us/ack", ack_us, 0),
    R("inbox_all_p50_us", "5 inbox all pending p50", "us/page", all_p50, 0),
    R("inbox_all_p99_us", "5 inbox all pending p99", "us/page", all_p99, 0),
    R("inbox_source_p50_us", "6 inbox app-3 p50", "us/page", src_p50, 0),
    R("inbox_source_p99_us", "6 inbox app-3 p99", "us/page", src_p99, 0),
    R("inbox_source_idx_p50_us", "6b app-3 p50, sqlite +idx(st,src,id)", "us/page", idx_p50,
      0),
    R("inbox_source_idx_p99_us", "6b app-3 p99, sqlite +idx(st,src,id)", "us/page", idx_p99,
      0),
    R("disk_bytes_per_event", "7 disk", "bytes/event", disk_bpe, 0),
    R("reopen_ms", "8 reopen + count pending", "ms", reopen_ms, 0),
    R("memory_bytes_per_event", "9 memory (see README)", "bytes/event", mem_bpe, 0),
    R("claim_ack_us", "10 claim 100 + ack them", "us/event", consume_us, 0),
};
#define NROWS (sizeof rows / sizeof *rows)

static double fig(int s, const row *r) { return *(const double *)((const char *)&F[s] + r->off); }

/* ratio > 1: a is better than b. */
static double ratio(double a, double b, int higher_better) {
  if (higher_better) return b > 0 ? a / b : 0;
  return a > 0 ? b / a : 0;
}

static void fmt(char *o, size_t n, double v) {
  double a = v < 0 ? -v : v;
  if (a >= 1000) snprintf(o, n, "%.0f", v);
  else if (a >= 100) snprintf(o, n, "%.1f", v);
  else if (a >= 1) snprintf(o, n, "%.2f", v);
  else snprintf(o, n, "%.3f", v);
}

static void print_table(void) {
  printf("\nevstore %s vs SQLite %s: N=%" PRIu64 " events (+%d durable single, +%dx%d "
         "durable threaded = %" PRIu64 " stored), %ld cpus%s\n",
         evs_version(), sqlite3_libversion(), N, DURABLE, THREADS, PER_THREAD, total_events,
         sysconf(_SC_NPROCESSORS_ONLN),
         DICT ? "; evstore and vtab with dict_compress on (small payloads compressed)" : "");
  printf("ratio > 1: evstore better than SQLite; vtab/sq > 1: the evstore virtual table "
         "better than SQLite\n\n");
  printf("%-37s %-12s %11s %11s %8s %11s %8s\n", "phase", "unit", "evstore", "sqlite",
         "ratio", "vtab", "vtab/sq");
  for (size_t i = 0; i < NROWS; i++) {
    const row *r = &rows[i];
    char e[32], s[32], v[32];
    fmt(e, sizeof e, fig(EV, r));
    fmt(s, sizeof s, fig(SQ, r));
    fmt(v, sizeof v, fig(VT, r));
    if (!fig(VT, r)) snprintf(v, sizeof v, "-"); /* not measured through SQL */
    char vr[16] = "      -";
    if (fig(VT, r)) snprintf(vr, sizeof vr, "%7.2fx", ratio(fig(VT, r), fig(SQ, r), r->higher_better));
    printf("%-37s %-12s %11s %11s %7.2fx %11s %s\n", r->label, r->unit, e, s,
           ratio(fig(EV, r), fig(SQ, r), r->higher_better), v, vr);
  }
  char a[32], b[32];
  fmt(a, sizeof a, raw_p50);
  fmt(b, sizeof b, raw_p99);
  printf("\nraw write+fdatasync of the same bytes (%.0f B avg), same dir: p50 %s us, p99 %s us\n",
         raw_bytes_avg, a, b);
  printf("durable p50 / raw fdatasync p50:  evstore %.2fx   sqlite %.2fx   vtab %.2fx   "
         "(lower is better, 1.0 = the disk)\n",
         F[EV].dur_p50 / raw_p50, F[SQ].dur_p50 / raw_p50, F[VT].dur_p50 / raw_p50);
  printf("durable p99 / raw fdatasync p99:  evstore %.2fx   sqlite %.2fx   vtab %.2fx\n",
         F[EV].dur_p99 / raw_p99, F[SQ].dur_p99 / raw_p99, F[VT].dur_p99 / raw_p99);
  printf("vtab app-3 page vs sqlite with idx (status, source, id): p50 %.2fx, p99 %.2fx\n",
         ratio(F[VT].idx_p50, F[SQ].idx_p50, 0), ratio(F[VT].idx_p99, F[SQ].idx_p99, 0));
  printf("evstore reopen: %.1f ms from its index checkpoint (state %" PRIu64
         "), %.1f ms replaying the whole log without it (a crash before any checkpoint)\n",
         F[EV].reopen_ms, ckpt_state_at_reopen, reopen_nockpt_ms);
  printf("memory: evstore/vtab = evs_stats.index_bytes; sqlite = its page cache in use "
         "(SQLITE_DBSTATUS_CACHE_USED, default cache_size)\n");
  printf("10: %" PRIu64 " events in rounds of 100: evstore evs_claim + evs_ack_lease_batch (a "
         "commit each); sqlite UPDATE .. RETURNING claim of 100 (index on status, id) + a "
         "transaction of 100 UPDATEs checking owner and lease; WAL, synchronous=NORMAL both\n",
         consume_n);
  printf("evs_wait wake-up after a commit on the same handle: p50 %.1f us, p99 %.1f us\n",
         wake_p50, wake_p99);
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void json_num(FILE *f, double v) {
  if (v != v || v > 1e300 || v < -1e300) fprintf(f, "null");
  else fprintf(f, "%.6g", v);
}

static void write_json(double total_s) {
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", JSONP);
  FILE *f = fopen(tmp, "w");
  if (!f) die("cannot write %s: %s", tmp, strerror(errno));
  struct utsname u;
  uname(&u);
  char date[64];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char cpu[256] = "";
  FILE *ci = fopen("/proc/cpuinfo", "r");
  if (ci) {
    char line[512];
    while (fgets(line, sizeof line, ci))
      if (!strncmp(line, "model name", 10)) {
        char *c = strchr(line, ':');
        if (c) {
          snprintf(cpu, sizeof cpu, "%s", c + 2);
          cpu[strcspn(cpu, "\n")] = 0;
        }
        break;
      }
    fclose(ci);
  }
  double load[3] = {0};
  if (getloadavg(load, 3) < 0) load[0] = load[1] = load[2] = -1;

  fprintf(f, "{\n  \"benchmark\": \"evstore vs SQLite, standard workload\",\n");
  fprintf(f, "  \"date\": \"%s\",\n  \"n\": %" PRIu64 ",\n", date, N);
  fprintf(f, "  \"machine\": {\"sysname\": ");
  json_str(f, u.sysname);
  fprintf(f, ", \"release\": ");
  json_str(f, u.release);
  fprintf(f, ", \"version\": ");
  json_str(f, u.version);
  fprintf(f, ", \"machine\": ");
  json_str(f, u.machine);
  fprintf(f, ", \"nproc\": %ld, \"cpu\": ", sysconf(_SC_NPROCESSORS_ONLN));
  json_str(f, cpu);
  fprintf(f, ", \"loadavg_at_end\": [%.2f, %.2f, %.2f]},\n", load[0], load[1], load[2]);
  fprintf(f, "  \"versions\": {\"evstore\": \"%s\", \"sqlite\": \"%s\"},\n", evs_version(),
          sqlite3_libversion());
  fprintf(f,
          "  \"config\": {\"gets\": %" PRIu64 ", \"durable_single\": %d, \"threads\": %d, "
          "\"per_thread\": %d, \"batch\": %d, \"page\": %d, \"total_events\": %" PRIu64
          ", \"acked\": %" PRIu64 ", \"pending\": %" PRIu64 ", \"pending_app3\": %" PRIu64
          ", \"dict_compress\": %d, \"run_dir\": ",
          GETS, DURABLE, THREADS, PER_THREAD, BATCH, PAGE, total_events, N / 2, expect_pending,
          expect_src3, DICT);
  json_str(f, DIRP);
  fprintf(f, "},\n");
  fprintf(f,
          "  \"workload\": {\"payload_bytes_total\": %" PRIu64 ", \"payload_bytes_avg\": %.1f, "
          "\"payload_bytes_min\": %zu, \"payload_bytes_max\": %zu, "
          "\"small_payload_bytes_max\": %zu, \"large_events\": %" PRIu64 "},\n",
          gen_bytes, gen_count ? (double)gen_bytes / (double)gen_count : 0.0, gen_min, gen_max,
          gen_small_max, gen_large);
  fprintf(f, "  \"phases\": {\n");
  for (size_t i = 0; i < NROWS; i++) {
    const row *r = &rows[i];
    fprintf(f, "    \"%s\": {\"unit\": \"%s\", \"higher_is_better\": %s, \"evstore\": ", r->key,
            r->unit, r->higher_better ? "true" : "false");
    json_num(f, fig(EV, r));
    fprintf(f, ", \"sqlite\": ");
    json_num(f, fig(SQ, r));
    fprintf(f, ", \"vtab\": ");
    json_num(f, fig(VT, r));
    fprintf(f, ", \"ratio\": ");
    json_num(f, ratio(fig(EV, r), fig(SQ, r), r->higher_better));
    fprintf(f, ", \"vtab_ratio\": ");
    json_num(f, ratio(fig(VT, r), fig(SQ, r), r->higher_better));
    fprintf(f, "}%s\n", i + 1 < NROWS ? "," : "");
  }
  fprintf(f, "  },\n");
  fprintf(f, "  \"raw_fdatasync\": {\"p50_us\": ");
  json_num(f, raw_p50);
  fprintf(f, ", \"p99_us\": ");
  json_num(f, raw_p99);
  fprintf(f, ", \"bytes_avg\": %.1f},\n", raw_bytes_avg);
  fprintf(f, "  \"durable_p50_over_raw_p50\": {\"evstore\": ");
  json_num(f, F[EV].dur_p50 / raw_p50);
  fprintf(f, ", \"sqlite\": ");
  json_num(f, F[SQ].dur_p50 / raw_p50);
  fprintf(f, ", \"vtab\": ");
  json_num(f, F[VT].dur_p50 / raw_p50);
  fprintf(f, "},\n  \"durable_p99_over_raw_p99\": {\"evstore\": ");
  json_num(f, F[EV].dur_p99 / raw_p99);
  fprintf(f, ", \"sqlite\": ");
  json_num(f, F[SQ].dur_p99 / raw_p99);
  fprintf(f, ", \"vtab\": ");
  json_num(f, F[VT].dur_p99 / raw_p99);
  fprintf(f, "},\n  \"vtab_source_page_vs_sqlite_idx\": {\"p50\": ");
  json_num(f, ratio(F[VT].idx_p50, F[SQ].idx_p50, 0));
  fprintf(f, ", \"p99\": ");
  json_num(f, ratio(F[VT].idx_p99, F[SQ].idx_p99, 0));
  fprintf(f, "},\n");
  fprintf(f, "  \"evs_wait_wakeup_us\": {\"p50\": ");
  json_num(f, wake_p50);
  fprintf(f, ", \"p99\": ");
  json_num(f, wake_p99);
  fprintf(f, ", \"consume_events\": %" PRIu64 "},\n", consume_n);
  fprintf(f, "  \"evstore_reopen_without_checkpoint_ms\": ");
  json_num(f, reopen_nockpt_ms);
  fprintf(f, ",\n");
  fprintf(f, "  \"details\": {\n");
  for (int s = 0; s < NSYS; s++) {
    fprintf(f,
            "    \"%s\": {\"disk_bytes\": %" PRIu64 ", \"disk_bytes_allocated\": %" PRIu64
            ", \"memory_bytes\": %" PRIu64 ", \"reopen_ms_all\": [%.3f, %.3f, %.3f], "
            "\"inbox_all_pages\": %" PRIu64 ", \"inbox_source_pages\": %" PRIu64
            ", \"inbox_source_idx_pages\": %" PRIu64
            ", \"durable_threads_busy_retries\": %" PRIu64 "}%s\n",
            sys_name[s], disk_size[s], disk_alloc[s], mem_bytes[s], reopen_all[s][0],
            reopen_all[s][1], reopen_all[s][2], all_pages[s], src_pages[s], idx_pages[s],
            dur16_retries[s], s + 1 < NSYS ? "," : "");
  }
  fprintf(f,
          "  },\n  \"inbox_source_passes\": %d,\n  \"inbox_source_idx_passes\": %d,\n",
          src_passes, idx_passes);
  const evs_stats *st = &ev_stats_end;
  fprintf(f,
          "  \"evstore_stats_before_close\": {\"pending\": %" PRIu64
          ", \"acknowledged\": %" PRIu64 ", \"segments\": %" PRIu64
          ", \"disk_bytes\": %" PRIu64 ", \"payload_bytes\": %" PRIu64
          ", \"payload_stored_bytes\": %" PRIu64 ", \"compression_ratio\": %.3f"
          ", \"index_bytes\": %" PRIu64 ", \"dict_state\": %d, \"dict_id\": %u},\n",
          st->pending, st->acknowledged, st->segments, st->disk_bytes, st->payload_bytes,
          st->payload_stored_bytes, st->compression_ratio, st->index_bytes, st->dict_state,
          (unsigned)st->dict_id);
  fprintf(f, "  \"sqlite_plans\": [\n");
  for (int i = 0; i < nplans; i++) {
    fprintf(f, "    {\"sql\": ");
    json_str(f, plan_sql[i]);
    fprintf(f, ", \"plan\": ");
    json_str(f, plans[i]);
    fprintf(f, "}%s\n", i + 1 < nplans ? "," : "");
  }
  fprintf(f, "  ],\n  \"phase_seconds\": {");
  for (int i = 0; i < nptimes; i++) {
    fprintf(f, "%s", i ? ", " : "");
    json_str(f, ptimes[i].name);
    fprintf(f, ": %.2f", ptimes[i].s);
  }
  fprintf(f, "},\n  \"total_seconds\": %.2f,\n", total_s);
  fprintf(f,
          "  \"notes\": {\"ratio\": \"> 1 means evstore (vtab_ratio: the virtual table) is "
          "better than SQLite: evstore/sqlite for rates, sqlite/evstore for latencies, sizes "
          "and times\", \"memory\": \"evstore and vtab: evs_stats.index_bytes of the reopened "
          "store; sqlite: SQLITE_DBSTATUS_CACHE_USED of the reopened connection after the "
          "count (default cache_size; SQLite keeps no index in memory)\", \"durable\": "
          "\"evstore: the same store closed and reopened with EVS_SYNC_FULL; sqlite: same "
          "connection with PRAGMA synchronous=FULL; vtab: the same store through a second "
          "host database declaring sync='full'\"}\n}\n");
  if (fclose(f)) die("write %s: %s", tmp, strerror(errno));
  if (rename(tmp, JSONP)) die("rename %s: %s", JSONP, strerror(errno));
}

/* ---- Main --------------------------------------------------------------- */

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--n")) N = arg_u64(a, v), i++;
    else if (!strcmp(a, "--gets")) GETS = arg_u64(a, v), i++;
    else if (!strcmp(a, "--durable")) DURABLE = (int)arg_u64(a, v), i++;
    else if (!strcmp(a, "--threads")) THREADS = (int)arg_u64(a, v), i++;
    else if (!strcmp(a, "--per-thread")) PER_THREAD = (int)arg_u64(a, v), i++;
    else if (!strcmp(a, "--dir")) DIRP = v, i++;
    else if (!strcmp(a, "--json")) JSONP = v, i++;
    else if (!strcmp(a, "--dict")) DICT = 1;
    else die("unknown argument %s (see the comment at the top of bench/bench.c)", a);
  }
  if (!DIRP || !JSONP) die("--dir and --json need a value");
  if (N < 2 || N > 100000000) die("--n must be 2..100000000");
  if (THREADS < 1 || THREADS > 64 || PER_THREAD < 1 || DURABLE < 1) die("bad phase sizes");
  if (!GETS) die("--gets must be > 0");
  static char absdir[PATH_MAX];
  if (!realpath(DIRP, absdir)) die("--dir %s: %s", DIRP, strerror(errno));
  if (strlen(absdir) > PATH_MAX - 64) die("--dir: path too long");
  DIRP = absdir;
  snprintf(ev_dir, sizeof ev_dir, "%s/evstore", DIRP);
  snprintf(sq_path, sizeof sq_path, "%s/sqlite.db", DIRP);
  snprintf(vt_path, sizeof vt_path, "%s/vt.db", DIRP);
  snprintf(vtfull_path, sizeof vtfull_path, "%s/vtfull.db", DIRP);
  snprintf(vs_dir, sizeof vs_dir, "%s/vtstore", DIRP);
  snprintf(raw_path, sizeof raw_path, "%s/raw-fdatasync.dat", DIRP);
  if (!sqlite3_threadsafe()) die("SQLite is built without thread support");

  double t_start = now();
  src_of = xmalloc(N + (uint64_t)DURABLE + (uint64_t)THREADS * PER_THREAD);
  fprintf(stderr, "[bench] N=%" PRIu64 " in %s (evstore %s, SQLite %s)\n", N, DIRP,
          evs_version(), sqlite3_libversion());

  es = ev_open(EVS_SYNC_NORMAL);
  sq.db = sq_connect(sq_path, 0);
  sq_exec(sq.db, SQ_SCHEMA);
  sq_prepare_all();
  vt.db = vt_connect(vt_path, "");
  vt_prepare_all();
  record_plan(sq.db, SQ_ALL);
  record_plan(sq.db, SQ_SRC);
  record_plan(vt.db, VT_ALLN);
  record_plan(vt.db, VT_SRCN);
  record_plan(vt.db, VT_GET);

  phase_ingest();
  phase_durable();
  phase_get();
  phase_ack();

  double p50[NSYS], p99[NSYS];
  phase_begin("5 inbox all pending");
  int one;
  inbox_pages(0, p50, p99, all_pages, &one);
  for (int s = 0; s < NSYS; s++) F[s].all_p50 = p50[s], F[s].all_p99 = p99[s];
  phase_end();

  phase_begin("6 inbox one source");
  inbox_pages(1, p50, p99, src_pages, &src_passes);
  for (int s = 0; s < NSYS; s++) F[s].src_p50 = p50[s], F[s].src_p99 = p99[s];
  phase_end();

  phase_disk();
  phase_reopen();
  phase_consume();

  /* 6b after the disk figure, so SQLite's extra index is not counted in it. */
  phase_begin("6b one source, sqlite +index");
  double t0 = now();
  sq_exec(sq.db, SQ_IDX_CREATE);
  fprintf(stderr, "[bench]   CREATE INDEX (status, source, id): %.2f s\n", now() - t0);
  sq.page_idx = sq_prep(sq.db, SQ_IDX);
  record_plan(sq.db, SQ_IDX);
  inbox_pages(2, p50, p99, idx_pages, &idx_passes);
  for (int s = 0; s < NSYS; s++) F[s].idx_p50 = p50[s], F[s].idx_p99 = p99[s];
  phase_end();

  close_all();
  print_table();
  write_json(now() - t_start);
  fprintf(stderr, "[bench] total %.1f s; wrote %s\n", now() - t_start, JSONP);
  free(src_of);
  return 0;
}
