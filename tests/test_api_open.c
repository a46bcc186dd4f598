/*
** test_api_open.c: the version and error text, opening stores and their
** options, ids and the clock, stats.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include <sys/stat.h>
#include <time.h>

#include "evstore.h"
#include "testlib.h"

/* ---- version and error text -------------------------------------------- */

static void t_version_and_strerror(void) {
  CHECK_STR(evs_version(), EVS_VERSION_STRING);
  CHECK_EQ(EVS_VERSION_NUMBER, 100);
  const int codes[] = {EVS_EINVAL,  EVS_ENOTFOUND, EVS_ECONFLICT,
                       EVS_ETOOBIG, EVS_ECORRUPT,  EVS_EIO,
                       EVS_ELOCKED, EVS_ENOMEM,    EVS_ECURSOR,
                       EVS_EJSON,   EVS_EBUSY,     EVS_ENOSPC,
                       EVS_EREADONLY, EVS_EMISUSE, EVS_EDEADLK};
  const size_t n = sizeof codes / sizeof codes[0];
  CHECK_EQ(n, 15);
  /* Codes never equal a negated errno (Linux errno values stay below
  ** 200), so an errno leaking out of the library cannot pass for one. */
  for (size_t i = 0; i < n; i++) CHECK(codes[i] <= -1001 && codes[i] >= -1100);
  for (size_t i = 0; i < n; i++) {
    const char *a = evs_strerror(codes[i]);
    REQUIRE(a != NULL);
    CHECK(a[0] != 0);
    for (size_t j = 0; j < i; j++) {
      const char *b = evs_strerror(codes[j]);
      if (b && strcmp(a, b) == 0) {
        fprintf(stderr, "  strerror(%d) == strerror(%d) == \"%s\"\n",
                codes[i], codes[j], a);
        CHECK(strcmp(a, b) != 0);
      }
    }
    CHECK(strcmp(a, evs_strerror(EVS_OK)) != 0);
  }
  CHECK(evs_strerror(EVS_OK) != NULL);
  const int unknown[] = {-1, -5, -15, -999, -1016, 1, 42, INT32_MIN, INT32_MAX};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *u = evs_strerror(unknown[i]);
    CHECK(u != NULL);
    if (u) CHECK(u[0] != 0);
  }
  /* errmsg is never NULL, even before any failure. */
  CHECK(evs_errmsg(NULL) != NULL);
}

/* ---- open / options ---------------------------------------------------- */

static void t_open_memory(void) {
  evs_store *s = (evs_store *)1;
  CHECK_EQ(evs_store_open(NULL, NULL, &s), 0);
  REQUIRE(s != NULL);
  CHECK(evs_errmsg(s) != NULL);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.acknowledged, 0);
  CHECK_EQ(st.next_id, 1);
  CHECK_EQ(st.oldest_pending_us, 0);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(st.recovered_records_dropped, 0);
  CHECK_EQ(evs_store_sync(s), 0);
  CHECK_EQ(evs_store_close(s), 0);

  s = NULL;
  CHECK_EQ(evs_store_open(":memory:", NULL, &s), 0);
  REQUIRE(s != NULL);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK_EQ(r.id, 1);
  CHECK_EQ(evs_store_close(s), 0);
  /* ":memory:" must not have created a directory of that name. */
  struct stat sb;
  CHECK(stat(":memory:", &sb) != 0);

  /* Zero-initialised options are the defaults. */
  evs_options o;
  memset(&o, 0, sizeof o);
  s = NULL;
  CHECK_EQ(evs_store_open(NULL, &o, &s), 0);
  REQUIRE(s != NULL);
  CHECK_EQ(evs_store_close(s), 0);

  /* Every valid sync mode opens. */
  const int modes[] = {EVS_SYNC_DEFAULT, EVS_SYNC_OFF, EVS_SYNC_NORMAL,
                       EVS_SYNC_FULL};
  for (int i = 0; i < 4; i++) {
    o.sync = modes[i];
    s = NULL;
    CHECK_EQ(evs_store_open(NULL, &o, &s), 0);
    if (s) CHECK_EQ(evs_store_close(s), 0);
  }
}

static void t_open_bad_options(void) {
  const int bad_sync[] = {99, 7, 4, -1};
  for (int i = 0; i < 4; i++) {
    evs_options o;
    memset(&o, 0, sizeof o);
    o.sync = bad_sync[i];
    evs_store *s = (evs_store *)1;
    CHECK_EQ(evs_store_open(NULL, &o, &s), EVS_EINVAL);
    CHECK(s == NULL);
    const char *m = evs_errmsg(NULL);
    CHECK(m != NULL && m[0] != 0);
    CHECK_CONTAINS(m, "sync");
    if (s && s != (evs_store *)1) evs_store_close(s);
  }
  /* Same on a directory store: nothing is created. */
  char *dir = t_tmpdir();
  char sub[600];
  snprintf(sub, sizeof sub, "%s/store", dir);
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = 99;
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(sub, &o, &s), EVS_EINVAL);
  CHECK(s == NULL);
  t_rmdir(dir);
}

static void t_open_dir_created(void) {
  char *dir = t_tmpdir();
  char sub[600], path[700];
  snprintf(sub, sizeof sub, "%s/newstore", dir);
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(sub, NULL, &s), 0);
  REQUIRE(s != NULL);
  struct stat sb;
  CHECK(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
  snprintf(path, sizeof path, "%s/evstore.meta", sub);
  CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
  snprintf(path, sizeof path, "%s/LOCK", sub);
  CHECK(stat(path, &sb) == 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(strdup(sub));

  /* The parent must exist. */
  char deep[700];
  snprintf(deep, sizeof deep, "%s/no/such/parent", dir);
  s = (evs_store *)1;
  int rc = evs_store_open(deep, NULL, &s);
  CHECK(rc < 0);
  CHECK(s == NULL);
  CHECK(evs_errmsg(NULL)[0] != 0);
  snprintf(path, sizeof path, "%s/no", dir);
  CHECK(stat(path, &sb) != 0); /* nothing created on the way */
  t_rmdir(dir);
}

static void t_open_regular_file(void) {
  char *dir = t_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/plainfile", dir);
  FILE *f = fopen(path, "w");
  REQUIRE(f != NULL);
  fputs("not a store\n", f);
  fclose(f);
  evs_store *s = (evs_store *)1;
  int rc = evs_store_open(path, NULL, &s);
  CHECK(rc == EVS_EIO || rc == EVS_EINVAL);
  CHECK(s == NULL);
  CHECK_CONTAINS(evs_errmsg(NULL), path);
  /* The file was left alone. */
  f = fopen(path, "r");
  REQUIRE(f != NULL);
  char buf[64] = {0};
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  CHECK_STR(buf, "not a store\n");
  t_rmdir(dir);
}

/* Paths are built in fixed buffers: a directory name that would not fit
** with the longest file name is refused, one at the limit works. */
static void t_open_long_dir(void) {
  char *base = t_tmpdir();
  size_t limit = 4096 - 64;
  char *dir = malloc(limit + 2);
  REQUIRE(dir);
  size_t n = (size_t)snprintf(dir, limit + 2, "%s", base);
  while (limit - n > 202) { /* components of 200 bytes, then the rest */
    dir[n] = '/';
    memset(dir + n + 1, 'd', 200);
    dir[n += 201] = 0;
    REQUIRE(mkdir(dir, 0755) == 0);
  }
  dir[n] = '/';
  memset(dir + n + 1, 'd', limit - n - 1);
  dir[limit] = 0;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  CHECK_EQ(app(s, NULL, "a", "b", "{}", NULL), 0);
  CHECK_EQ(evs_checkpoint(s), 0);
  CHECK_EQ(evs_store_close(s), 0);
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  CHECK_EQ(stats(s).next_id, 2);
  CHECK_EQ(evs_store_close(s), 0);
  dir[limit] = 'x';
  dir[limit + 1] = 0;
  s = (evs_store *)1;
  CHECK_EQ(evs_store_open(dir, NULL, &s), EVS_EINVAL);
  CHECK(s == NULL);
  CHECK_STR(evs_errmsg(NULL), "directory name is 4033 bytes, limit is 4032");
  CHECK_EQ(evs_repair(dir, NULL, NULL), EVS_EINVAL);
  CHECK_STR(evs_errmsg(NULL), "directory name is 4033 bytes, limit is 4032");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  CHECK_EQ(system(cmd), 0);
  free(dir);
  free(base);
}

static void t_open_locked_same_process(void) {
  char *dir = t_tmpdir();
  evs_store *a = NULL, *b = (evs_store *)1;
  CHECK_EQ(evs_store_open(dir, NULL, &a), 0);
  REQUIRE(a != NULL);
  CHECK_EQ(evs_store_open(dir, NULL, &b), EVS_ELOCKED);
  CHECK(b == NULL);
  CHECK_CONTAINS(evs_errmsg(NULL), "locked");
  CHECK_EQ(evs_store_close(a), 0);
  b = NULL;
  CHECK_EQ(evs_store_open(dir, NULL, &b), 0);
  REQUIRE(b != NULL);
  CHECK_EQ(evs_store_close(b), 0);
  t_rmdir(dir);
}

/* ---- ids and clock ----------------------------------------------------- */

static void t_ids_dense_and_increasing(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  for (uint64_t i = 1; i <= 20; i++) {
    evs_append_result r;
    memset(&r, 0xff, sizeof r);
    CHECK_EQ(app(s, NULL, "src", "t", "{\"i\":1}", &r), 0);
    CHECK_EQ(r.rc, 0);
    CHECK_EQ(r.duplicate, 0);
    CHECK_EQ(r.id, i);
    CHECK(r.created_us > 0);
  }
  /* out may be NULL */
  CHECK_EQ(app(s, NULL, "src", "t", "{}", NULL), 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.next_id, 22);
  CHECK_EQ(st.pending, 21);
  /* A failed append consumes no id. */
  CHECK_EQ(app(s, NULL, "", "t", "{}", NULL), EVS_EINVAL);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "src", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 22);
  evs_store_close(s);
}

static void t_realtime_clock(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t before = (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t after = (int64_t)ts.tv_sec * SEC + ts.tv_nsec / 1000;
  CHECK(r.created_us >= before - SEC && r.created_us <= after + SEC);
  evs_store_close(s);
}

/* A created time must lie in 1970..9999 (fixed-width created_at text):
** a clock outside that fails the append and stores nothing, in every
** append path, and the store goes on when the clock is back. */
static void t_clock_out_of_range(void) {
  fake_clock c = {-1};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), EVS_EINVAL);
  CHECK_STR(evs_errmsg(s), "clock returned -1 us, outside 1970-01-01..9999-12-31");
  CHECK_EQ(r.rc, EVS_EINVAL);
  c.now = EVS_TIME_MAX + 1;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "clock returned 253402300800000000 us");
  c.now = INT64_MIN;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), EVS_EINVAL);
  evs_event_in batch[2] = {ev_make("a", "b", "{}"), ev_make("a", "c", "{}")};
  evs_append_result br[2];
  CHECK_EQ(evs_append_batch(s, NULL, batch, 2, br), EVS_EINVAL);
  CHECK_EQ(br[0].rc, EVS_EINVAL);
  CHECK_EQ(br[1].rc, EVS_EINVAL);
  /* The edges are accepted. */
  c.now = 0;
  CHECK_EQ(stats(s).next_id, 1);
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK_EQ(r.created_us, 0);
  /* In a transaction the failed append leaves the others alone. */
  evs_txn *t;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  c.now = EVS_TIME_MAX;
  CHECK_EQ(app(s, t, "a", "b", "{}", &r), 0);
  CHECK_EQ(r.created_us, EVS_TIME_MAX);
  c.now = -5;
  CHECK_EQ(app(s, t, "a", "b", "{}", &r), EVS_EINVAL);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(stats(s).next_id, 3);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  if (e) CHECK_EQ(e->created_us, EVS_TIME_MAX);
  evs_event_free(e);
  /* Past the last instant, even though created_us would stay put. */
  c.now = EVS_TIME_MAX + 1;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), EVS_EINVAL);
  evs_store_close(s);
}

static void t_fake_clock_monotonic(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK_EQ(r.created_us, T0);
  c.now = T0 + 5;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK_EQ(r.created_us, T0 + 5);
  /* The clock goes backwards: created_us never does. */
  c.now = T0 - HOUR;
  int64_t prev = r.created_us;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK(r.created_us >= prev);
  prev = r.created_us;
  c.now = T0 - 2 * HOUR;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK(r.created_us >= prev);
  uint64_t last = r.id;
  /* Forward again. */
  c.now = T0 + HOUR;
  CHECK_EQ(app(s, NULL, "a", "b", "{}", &r), 0);
  CHECK_EQ(r.created_us, T0 + HOUR);
  CHECK_EQ(r.id, last + 1);
  /* The stored value is what append returned. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) CHECK_EQ(e->created_us, T0 + HOUR);
  evs_event_free(e);
  /* Inbox order (by id) has non-decreasing created_us. */
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  for (size_t i = 1; i < evs_page_count(p); i++)
    CHECK(evs_page_event(p, i)->created_us >=
          evs_page_event(p, i - 1)->created_us);
  evs_page_free(p);
  evs_store_close(s);
}

/* ---- stats ------------------------------------------------------------- */

static void t_stats(void) {
  char *dir = t_tmpdir();
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(dir, &o, &s), 0);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.next_id, 1);
  CHECK(st.segments >= 1);
  CHECK(st.disk_bytes > 0);
  CHECK_EQ(st.oldest_pending_us, 0);
  CHECK_EQ(st.oldest_pending_age_us, 0);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(st.recovered_records_dropped, 0);
  uint64_t disk0 = st.disk_bytes;
  for (int i = 0; i < 10; i++) {
    c.now = T0 + 1000 * i;
    CHECK_EQ(app(s, NULL, "s", "t", "{\"abc\":123}", NULL), 0);
  }
  c.now = T0 + 50000;
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), 0);
  CHECK_EQ(evs_delete(s, NULL, 10, NULL), 0);
  c.now = T0 + 100000;
  st = stats(s);
  CHECK_EQ(st.pending, 7);
  CHECK_EQ(st.acknowledged, 2);
  CHECK_EQ(st.next_id, 11);
  CHECK(st.segments >= 1);
  CHECK(st.disk_bytes > disk0);
  CHECK(st.index_bytes > 0);
  CHECK_EQ(st.oldest_pending_us, T0 + 2000);
  CHECK_EQ(st.oldest_pending_age_us, 100000 - 2000);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(st.recovered_records_dropped, 0);
  CHECK(st.payload_bytes >= 9 * strlen("{\"abc\":123}"));
  CHECK(st.payload_stored_bytes > 0);
  CHECK(st.compression_ratio > 0.5);
  /* The index grows with the events. */
  uint64_t idx = st.index_bytes;
  for (int i = 0; i < 2000; i++)
    CHECK_EQ(app(s, NULL, "s", "t", "{\"abc\":123}", NULL), 0);
  st = stats(s);
  CHECK(st.index_bytes > idx);
  CHECK_EQ(evs_store_sync(s), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);

  /* In-memory: counts work, no disk. */
  s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.disk_bytes, 0);
  CHECK(st.oldest_pending_us > 0);
  CHECK(st.oldest_pending_age_us >= 0);
  evs_store_close(s);
}

int main(void) {
  RUN(t_version_and_strerror);
  RUN(t_open_memory);
  RUN(t_open_bad_options);
  RUN(t_open_dir_created);
  RUN(t_open_regular_file);
  RUN(t_open_long_dir);
  RUN(t_open_locked_same_process);
  RUN(t_ids_dense_and_increasing);
  RUN(t_realtime_clock);
  RUN(t_fake_clock_monotonic);
  RUN(t_clock_out_of_range);
  RUN(t_stats);
  return TEST_EXIT();
}
