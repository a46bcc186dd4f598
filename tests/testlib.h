/*
** testlib.h: the test harness and the helpers shared by the C test programs.
**
** A program defines `static void t_name(void)` functions and lists them in
** main() with RUN(t_name). Each test prints "PASS name" or "FAIL name" (with
** the failed checks before it); tests/run.sh counts those lines across all
** programs and prints the closing "N passed, N failed". A program that
** crashes counts as one more failure.
**
** The helpers below are static inline so a program that does not use one
** gets no unused-function warning.
*/
#ifndef EVS_TESTLIB_H
#define EVS_TESTLIB_H

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evstore.h"

static int t_failed_checks; /* in the current test */
static int t_npass, t_nfail;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,  \
              #cond);                                                      \
    }                                                                      \
  } while (0)

/* Compare two integer expressions, printing both values on failure. */
#define CHECK_EQ(a, b)                                                     \
  do {                                                                     \
    long long a_ = (long long)(a), b_ = (long long)(b);                    \
    if (a_ != b_) {                                                        \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n",        \
              __FILE__, __LINE__, #a, a_, #b, b_);                         \
    }                                                                      \
  } while (0)

#define CHECK_STR(a, b)                                                    \
  do {                                                                     \
    const char *a_ = (a), *b_ = (b);                                       \
    if (!a_ || !b_ || strcmp(a_, b_) != 0) {                               \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n",         \
              __FILE__, __LINE__, #a, a_ ? a_ : "(null)",                  \
              b_ ? b_ : "(null)");                                         \
    }                                                                      \
  } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                        \
  do {                                                                     \
    const char *h_ = (hay), *n_ = (needle);                                \
    if (!h_ || !strstr(h_, n_)) {                                          \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n",        \
              __FILE__, __LINE__, h_ ? h_ : "(null)", n_);                 \
    }                                                                      \
  } while (0)

/* Abort the current test (not the program) when a precondition fails. */
#define REQUIRE(cond)                                                      \
  do {                                                                     \
    if (!(cond)) {                                                         \
      t_failed_checks++;                                                   \
      fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, \
              #cond);                                                      \
      return;                                                              \
    }                                                                      \
  } while (0)

static void t_run(const char *name, void (*fn)(void)) {
  t_failed_checks = 0;
  fn();
  if (t_failed_checks) {
    t_nfail++;
    printf("FAIL %s\n", name);
  } else {
    t_npass++;
    printf("PASS %s\n", name);
  }
  fflush(stdout);
}

#define RUN(fn) t_run(#fn, fn)
#define TEST_EXIT() (t_nfail ? 1 : 0)

/* A fresh empty directory under $TMPDIR (or /tmp) for one test. */
static inline char *t_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/evstest-XXXXXX", base ? base : "/tmp");
  char *d = mkdtemp(tmpl);
  if (!d) {
    perror("mkdtemp");
    exit(2);
  }
  return strdup(d);
}

/* rm -rf of a test directory (and its subdirectories, e.g. the folders
** evs_repair keeps copies in). Frees dir. */
static inline void t_rmdir(char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char p[1024];
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) t_rmdir(strdup(p));
      else unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
  free(dir);
}

/* ---- files -------------------------------------------------------------- */

/* The whole file in a malloc'd buffer with a NUL after the last byte (*n
** bytes); NULL if it cannot be opened. */
static inline void *t_slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  *n = 0;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc(len > 0 ? (size_t)len + 1 : 1);
  if (!b) abort();
  *n = len > 0 ? fread(b, 1, (size_t)len, f) : 0;
  b[*n] = 0;
  fclose(f);
  return b;
}

/* Replace the file's contents with n bytes; 0 or -1. */
static inline int t_spit(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(b, 1, n, f);
  return fclose(f) || w != n ? -1 : 0;
}

/* The file's size in bytes, -1 if it cannot be stat'ed. */
static inline long long t_file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* XOR the byte at off with mask (a second call restores it); 0 or -1. */
static inline int t_flip_byte(const char *path, long long off, unsigned char mask) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return -1;
  unsigned char b;
  int ok = pread(fd, &b, 1, (off_t)off) == 1;
  b ^= mask;
  ok = ok && pwrite(fd, &b, 1, (off_t)off) == 1;
  close(fd);
  return ok ? 0 : -1;
}

/* "dir/name" in one of four rotating static buffers, so a call may use
** up to four at once. */
static inline char *t_path(const char *dir, const char *name) {
  static char p[4][1024];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

/* The path of the highest-numbered segment file (<16 hex>.evlog) in dir,
** malloc'd; NULL if there is none. */
static inline char *t_last_segment(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return NULL;
  struct dirent *de;
  char best[64] = "";
  while ((de = readdir(d)))
    if (strlen(de->d_name) == 22 && !strcmp(de->d_name + 16, ".evlog") &&
        strcmp(de->d_name, best) > 0)
      snprintf(best, sizeof best, "%s", de->d_name);
  closedir(d);
  if (!best[0]) return NULL;
  size_t cap = strlen(dir) + 64;
  char *p = malloc(cap);
  if (!p) abort();
  snprintf(p, cap, "%s/%s", dir, best);
  return p;
}

/* ---- time: a fake clock the test moves ---------------------------------- */

#define T0 INT64_C(1700000000000000) /* a fixed "now" for the fake clock */
#define SEC INT64_C(1000000)
#define HOUR (INT64_C(3600) * SEC)
#define DAY (INT64_C(24) * HOUR)

typedef struct fake_clock {
  int64_t now;
} fake_clock;

/* Atomic: the store's own threads read it too (the eventfd's lease timer). */
static inline int64_t fake_clock_fn(void *arg) {
  return __atomic_load_n(&((fake_clock *)arg)->now, __ATOMIC_RELAXED);
}

/* Zeroed options (all defaults) with the clock set to c. */
static inline evs_options opts_clock(fake_clock *c) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.clock = fake_clock_fn;
  o.clock_arg = c;
  return o;
}

/* ---- the store ---------------------------------------------------------- */

static inline evs_store *open_mem(const evs_options *o) {
  evs_store *s = NULL;
  int rc = evs_store_open(NULL, o, &s);
  if (rc != 0) {
    fprintf(stderr, "  open_mem: rc %d: %s\n", rc, evs_errmsg(NULL));
    return NULL;
  }
  return s;
}

static inline evs_stats stats(evs_store *s) {
  evs_stats st;
  memset(&st, 0, sizeof st);
  CHECK_EQ(evs_stats_get(s, &st), 0);
  return st;
}

/* An event to append: the other fields zero (defaults). */
static inline evs_event_in ev_make(const char *src, const char *type,
                                   const char *payload) {
  evs_event_in e;
  memset(&e, 0, sizeof e);
  e.source = src;
  e.event_type = type;
  e.payload = payload;
  return e;
}

static inline evs_event_in ev_in(const char *src, const char *type,
                                 const char *payload, const char *key) {
  evs_event_in e = ev_make(src, type, payload);
  e.idempotency_key = key;
  return e;
}

static inline int app(evs_store *s, evs_txn *t, const char *src,
                      const char *type, const char *payload,
                      evs_append_result *r) {
  evs_event_in e = ev_make(src, type, payload);
  return evs_append(s, t, &e, r);
}

static inline int app_key(evs_store *s, evs_txn *t, const char *key,
                          evs_append_result *r) {
  evs_event_in e = ev_in("app", "keyed", "{\"k\":1}", key);
  return evs_append(s, t, &e, r);
}

#ifdef SQLITE_VERSION /* in programs that include <sqlite3.h> first */
/* sqlite3_exec, saying which statement failed and why. */
static inline int t_sql_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc) fprintf(stderr, "  sql: %s: %s\n", sql, err ? err : "?");
  sqlite3_free(err);
  return rc;
}
#endif

/* ---- payloads and inbox walks ------------------------------------------ */

static inline char *rep(char c, size_t n) {
  char *p = malloc(n + 1);
  memset(p, c, n);
  p[n] = 0;
  return p;
}

/* A valid JSON object of exactly n bytes (n >= 8): {"d":"aaaa..."} */
static inline char *json_of_size(size_t n, char fill) {
  char *p = malloc(n + 1);
  memcpy(p, "{\"d\":\"", 6);
  memset(p + 6, fill, n - 8);
  p[n - 2] = '"';
  p[n - 1] = '}';
  p[n] = 0;
  return p;
}

/* Every pending id visible through the inbox with query q (any cursor in q is
** ignored), following cursors with page size `limit`. Returns the count, or
** a negative rc. */
static inline long inbox_all(evs_store *s, evs_txn *t, const evs_query *q0,
                      uint64_t *ids, size_t cap) {
  evs_query q = *q0;
  q.cursor = NULL;
  evs_page *p = NULL;
  char *cur = NULL;
  long n = 0;
  for (int guard = 0; guard < 100000; guard++) {
    q.cursor = cur;
    int rc = evs_inbox(s, t, &q, &p);
    if (rc != 0) {
      fprintf(stderr, "  inbox_all: rc %d: %s\n", rc, evs_errmsg(s));
      free(cur);
      evs_page_free(p);
      return rc;
    }
    size_t c = evs_page_count(p);
    for (size_t i = 0; i < c; i++) {
      const evs_event *e = evs_page_event(p, i);
      if ((size_t)n < cap) ids[n] = e->id;
      n++;
    }
    free(cur);
    cur = strdup(evs_page_cursor(p));
    if (!evs_page_more(p)) break;
  }
  free(cur);
  evs_page_free(p);
  return n;
}

static inline long inbox_count(evs_store *s, evs_txn *t, const evs_query *q) {
  return inbox_all(s, t, q, NULL, 0);
}

static inline int inbox_has(evs_store *s, evs_txn *t, uint64_t id) {
  uint64_t ids[4096];
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  long n = inbox_all(s, t, &q, ids, 4096);
  for (long i = 0; i < n && i < 4096; i++)
    if (ids[i] == id) return 1;
  return 0;
}

#endif
