/*
** test_api.c: every public operation of evstore and every error code it can
** be made to return from the API (see include/evstore.h, the contract).
** Persistence, recovery and locking across processes are in test_persist.c.
*/
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- validation -------------------------------------------------------- */

static void expect_name_err(evs_store *s, const char *src, const char *type,
                            int want, const char *phrase, int line) {
  evs_append_result r;
  memset(&r, 0, sizeof r);
  uint64_t before = stats(s).next_id;
  int rc = app(s, NULL, src, type, "{}", &r);
  if (rc != want)
    fprintf(stderr, "  (line %d) source=%s type=%s: rc %d, want %d\n", line,
            src ? src : "NULL", type ? type : "NULL", rc, want);
  CHECK_EQ(rc, want);
  if (phrase) CHECK_CONTAINS(evs_errmsg(s), phrase);
  CHECK_EQ(stats(s).next_id, before);
}

static void t_validate_source_and_type(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  const char *blank[] = {NULL, "", " ", "   ", "\t", " \t\r\n "};
  for (int i = 0; i < 6; i++) {
    expect_name_err(s, blank[i], "t", EVS_EINVAL, "source", __LINE__);
    expect_name_err(s, "s", blank[i], EVS_EINVAL, "event_type", __LINE__);
  }
  /* Invalid UTF-8 and control characters. */
  const char *bad[] = {"\xff",         "a\xc3",        "\xc0\xaf",
                       "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\001b",
                       "a\nb",         "a\tb",         "\x1b[0m"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    expect_name_err(s, bad[i], "t", EVS_EINVAL, "source", __LINE__);
    expect_name_err(s, "s", bad[i], EVS_EINVAL, "event_type", __LINE__);
  }
  /* Length: 100 bytes after trimming is fine, 101 is too big. */
  char *n100 = rep('x', 100), *n101 = rep('x', 101);
  expect_name_err(s, n101, "t", EVS_ETOOBIG, "source", __LINE__);
  expect_name_err(s, "s", n101, EVS_ETOOBIG, "event_type", __LINE__);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, n100, n100, "{}", &r), 0);
  char padded[200];
  snprintf(padded, sizeof padded, "   %s \t ", n100);
  CHECK_EQ(app(s, NULL, padded, padded, "{}", &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->source, n100);
    CHECK_EQ(e->source_len, 100);
    CHECK_STR(e->event_type, n100);
    CHECK_EQ(e->event_type_len, 100);
  }
  evs_event_free(e);
  /* Multi-byte UTF-8 counts bytes: 50 x "é" = 100 bytes ok, 34 x "日" =
  ** 102 bytes too big. */
  char e100[256] = "", j102[256] = "";
  for (int i = 0; i < 50; i++) strcat(e100, "\xc3\xa9");
  for (int i = 0; i < 34; i++) strcat(j102, "\xe6\x97\xa5");
  CHECK_EQ(app(s, NULL, e100, "\xf0\x9f\x98\x80 emoji", "{}", &r), 0);
  expect_name_err(s, j102, "t", EVS_ETOOBIG, "source", __LINE__);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->source, e100);
    CHECK_STR(e->event_type, "\xf0\x9f\x98\x80 emoji");
  }
  evs_event_free(e);
  /* Trimming: " app " is stored as "app"; inner spaces stay. */
  CHECK_EQ(app(s, NULL, " app ", "\t user created\n", "{}", &r), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->source, "app");
    CHECK_EQ(e->source_len, 3);
    CHECK_STR(e->event_type, "user created");
    CHECK_EQ(e->event_type_len, 12);
  }
  evs_event_free(e);
  free(n100);
  free(n101);
  evs_store_close(s);
}

static void expect_payload_err(evs_store *s, const char *payload, size_t len,
                               int want, const char *phrase, int line) {
  evs_event_in e = ev_make("s", "t", payload);
  e.payload_len = len;
  uint64_t before = stats(s).next_id;
  int rc = evs_append(s, NULL, &e, NULL);
  if (rc != want)
    fprintf(stderr, "  (line %d) payload \"%.40s\": rc %d, want %d\n", line,
            payload ? payload : "NULL", rc, want);
  CHECK_EQ(rc, want);
  if (phrase) CHECK_CONTAINS(evs_errmsg(s), phrase);
  CHECK_EQ(stats(s).next_id, before);
}

static void t_validate_payload(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  expect_payload_err(s, NULL, 0, EVS_EINVAL, "payload", __LINE__);
  const char *notobj[] = {"[1]",   "42",        "\"str\"",  "null",
                          "true",  "{",         "}",        "",
                          "   ",   "not json",  "{\"a\":}", "{\"a\" 1}",
                          "{} x",  "{}{}",      "{'a':1}",  "{\"a\":01}",
                          "{\"a\":1,}", "{\"a\":\"\x01\"}",
                          "{\"a\":\"\xff\"}", "{\"a\":tru}",
                          "{\"a\":\"\\q\"}", "{a:1}"};
  for (size_t i = 0; i < sizeof notobj / sizeof notobj[0]; i++)
    expect_payload_err(s, notobj[i], 0, EVS_EJSON, "payload", __LINE__);

  /* Valid objects, with white space and every kind of value. */
  const char *ok[] = {
      "{}", " { } ", "\n{\"a\":1}\n",
      "{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\n\\\"\"],\"b\":{}}",
      "{\"\xe6\x97\xa5\":\"\xf0\x9f\x98\x80\"}"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    evs_append_result r;
    CHECK_EQ(app(s, NULL, "s", "t", ok[i], &r), 0);
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
    if (e) {
      CHECK_EQ(e->payload_len, strlen(ok[i]));
      CHECK_STR(e->payload, ok[i]); /* verbatim, white space included */
    }
    evs_event_free(e);
  }

  /* payload_len limits what is read: trailing bytes are ignored. */
  evs_event_in in = ev_make("s", "t", "{\"a\":1}GARBAGE");
  in.payload_len = 7;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 7);
    CHECK_STR(e->payload, "{\"a\":1}");
  }
  evs_event_free(e);
  /* ... and a length cutting an object short is invalid. */
  expect_payload_err(s, "{\"a\":1}", 5, EVS_EJSON, "payload", __LINE__);

  /* Deep nesting never crashes: either accepted or EVS_EJSON. */
  size_t depth = 200000;
  char *deep = malloc(2 * depth + 16);
  size_t k = 0;
  memcpy(deep, "{\"a\":", 5);
  k = 5;
  for (size_t i = 0; i < depth; i++) deep[k++] = '[';
  for (size_t i = 0; i < depth; i++) deep[k++] = ']';
  deep[k++] = '}';
  deep[k] = 0;
  int rc = app(s, NULL, "s", "t", deep, NULL);
  CHECK(rc == 0 || rc == EVS_EJSON);
  deep[5 + depth] = 0; /* unclosed */
  expect_payload_err(s, deep, 0, EVS_EJSON, "payload", __LINE__);
  free(deep);
  evs_store_close(s);
}

static void t_payload_size_limit(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  char *big = json_of_size(512000, 'a');
  expect_payload_err(s, big, 0, EVS_ETOOBIG, "payload is 512000 bytes",
                     __LINE__);
  CHECK_CONTAINS(evs_errmsg(s), "limit is 409600");
  free(big);
  /* Exactly the limit is fine; one more is not. */
  char *at = json_of_size(409600, 'b');
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "s", "t", at, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 409600);
    CHECK(memcmp(e->payload, at, 409600) == 0);
  }
  evs_event_free(e);
  free(at);
  char *over = json_of_size(409601, 'b');
  expect_payload_err(s, over, 0, EVS_ETOOBIG, "409601", __LINE__);
  CHECK_CONTAINS(evs_errmsg(s), "409600");
  /* Size is checked without needing the payload to be valid JSON first:
  ** a big invalid payload is still rejected (either code is an error). */
  free(over);
  evs_store_close(s);

  /* A custom max_payload. */
  evs_options o;
  memset(&o, 0, sizeof o);
  o.max_payload = 1000;
  s = open_mem(&o);
  REQUIRE(s);
  char *p1000 = json_of_size(1000, 'c'), *p1001 = json_of_size(1001, 'c');
  CHECK_EQ(app(s, NULL, "s", "t", p1000, NULL), 0);
  expect_payload_err(s, p1001, 0, EVS_ETOOBIG, "payload is 1001 bytes",
                     __LINE__);
  CHECK_CONTAINS(evs_errmsg(s), "limit is 1000");
  free(p1000);
  free(p1001);
  evs_store_close(s);
}

static void t_skip_json_validation(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.skip_json_validation = 1;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  const char *bad = "this is [not] json {";
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "s", "t", bad, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->payload, bad);
    CHECK_EQ(e->payload_len, strlen(bad));
  }
  evs_event_free(e);
  /* Bytes are stored verbatim, even an embedded NUL. */
  evs_event_in in = ev_make("s", "t", "ab\0cd");
  in.payload_len = 5;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 5);
    CHECK(memcmp(e->payload, "ab\0cd", 5) == 0);
    CHECK_EQ(e->payload[5], 0);
  }
  evs_event_free(e);
  /* Metadata too. */
  in = ev_make("s", "t", "{}");
  in.metadata = "[1,2]";
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  /* The names and the size limit are still checked. */
  CHECK_EQ(app(s, NULL, "", "t", "{}", NULL), EVS_EINVAL);
  CHECK_EQ(app(s, NULL, "s", "t", NULL, NULL), EVS_EINVAL);
  char *big = rep('z', 409601);
  CHECK_EQ(app(s, NULL, "s", "t", big, NULL), EVS_ETOOBIG);
  free(big);
  evs_store_close(s);
}

static void t_validate_metadata(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  const char *bad[] = {"[1]", "1", "\"m\"", "{", "nope", "{\"a\":}", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    evs_event_in in = ev_make("s", "t", "{}");
    in.metadata = bad[i];
    if (bad[i][0] == 0) {
      in.metadata_len = 0; /* "" with len 0 = strlen = empty: not JSON */
    }
    uint64_t before = stats(s).next_id;
    int rc = evs_append(s, NULL, &in, NULL);
    if (rc != EVS_EJSON) fprintf(stderr, "  metadata \"%s\"\n", bad[i]);
    CHECK_EQ(rc, EVS_EJSON);
    CHECK_CONTAINS(evs_errmsg(s), "metadata");
    CHECK_EQ(stats(s).next_id, before);
  }
  /* 8192 bytes ok, 8193 too big. */
  char *m8192 = json_of_size(8192, 'm'), *m8193 = json_of_size(8193, 'm');
  evs_event_in in = ev_make("s", "t", "{}");
  in.metadata = m8192;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->metadata_len, 8192);
    CHECK(e->metadata && strcmp(e->metadata, m8192) == 0);
  }
  evs_event_free(e);
  in.metadata = m8193;
  CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_ETOOBIG);
  CHECK_CONTAINS(evs_errmsg(s), "metadata");
  /* metadata_len limits what is read. */
  in.metadata = "{\"x\":true}zzz";
  in.metadata_len = 10;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->metadata_len, 10);
    CHECK_STR(e->metadata, "{\"x\":true}");
  }
  evs_event_free(e);
  free(m8192);
  free(m8193);
  evs_store_close(s);
}

static void t_validate_key_and_priority(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  evs_event_in in = ev_make("s", "t", "{}");
  in.idempotency_key = "";
  CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "idempotency");
  char *k256 = rep('k', 256), *k257 = rep('k', 257);
  in.idempotency_key = k257;
  CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_ETOOBIG);
  CHECK_CONTAINS(evs_errmsg(s), "idempotency");
  in.idempotency_key = k256;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->idempotency_key_len, 256);
    CHECK_STR(e->idempotency_key, k256);
  }
  evs_event_free(e);
  free(k256);
  free(k257);
  CHECK_EQ(stats(s).next_id, 2);

  in.idempotency_key = NULL;
  const int badp[] = {-1, 4, 9, 100, INT32_MIN};
  for (int i = 0; i < 5; i++) {
    in.priority = badp[i];
    CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_EINVAL);
    CHECK_CONTAINS(evs_errmsg(s), "priority");
  }
  CHECK_EQ(stats(s).next_id, 2);
  const int goodp[] = {0, 1, 2, 3};
  const int stored[] = {EVS_PRIORITY_NORMAL, EVS_PRIORITY_LOW,
                        EVS_PRIORITY_NORMAL, EVS_PRIORITY_HIGH};
  for (int i = 0; i < 4; i++) {
    in.priority = goodp[i];
    CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
    e = NULL;
    CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
    if (e) CHECK_EQ(e->priority, stored[i]);
    evs_event_free(e);
  }
  evs_store_close(s);
}

/* Keys are any UTF-8 (control characters too: compared byte for byte),
** never other bytes: they could not be exported (JSON has no form for
** them), so an import would store another key and dedup would be lost. */
static void t_validate_key_utf8(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  static const struct {
    const char *key;
    size_t at; /* offset of the first bad byte */
  } bad[] = {
      {"\xff\xfe", 0},          {"ok\xff", 2},          {"a\xc3", 1},
      {"\xc0\x80x", 0},         {"\xe0\x9f\xbf", 0},    {"x\xed\xa0\x80", 1},
      {"\xf4\x90\x80\x80", 0},  {"ab\x80", 2},          {"\xf8\x88\x80\x80\x80", 0},
  };
  evs_event_in in = ev_make("s", "t", "{}");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    in.idempotency_key = bad[i].key;
    CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_EINVAL);
    char want[64];
    snprintf(want, sizeof want, "idempotency_key is not valid UTF-8 (byte %zu)", bad[i].at);
    CHECK_CONTAINS(evs_errmsg(s), want);
  }
  evs_append_result res[2];
  evs_event_in two[2] = {in, in};
  two[0].idempotency_key = "\xff\xfe";
  two[1].idempotency_key = "fine";
  CHECK_EQ(evs_append_batch(s, NULL, two, 2, res), 0);
  CHECK_EQ(res[0].rc, EVS_EINVAL);
  CHECK_EQ(res[1].rc, 0);
  CHECK_EQ(stats(s).next_id, 2);
  /* Awkward but valid: stored and matched byte for byte. */
  const char *good[] = {"\x01\x1f\x7f", " q\"\\/ ", "\xf0\x9f\x98\x80\xe2\x80\xa8",
                        "\xc2\x85\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    in.idempotency_key = good[i];
    evs_append_result r, r2;
    CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
    CHECK_EQ(r.duplicate, 0);
    CHECK_EQ(evs_append(s, NULL, &in, &r2), 0);
    CHECK_EQ(r2.duplicate, 1);
    CHECK_EQ(r2.id, r.id);
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
    if (e) CHECK_STR(e->idempotency_key, good[i]);
    evs_event_free(e);
  }
  evs_store_close(s);
}

static void t_null_arguments(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(evs_append(s, NULL, NULL, NULL), EVS_EINVAL);
  CHECK_EQ(app(s, NULL, "a", "b", "{}", NULL), 0);
  CHECK_EQ(evs_get(s, NULL, 1, NULL), EVS_EINVAL);
  CHECK_EQ(evs_stats_get(s, NULL), EVS_EINVAL);
  evs_query q;
  memset(&q, 0, sizeof q);
  CHECK_EQ(evs_inbox(s, NULL, &q, NULL), EVS_EINVAL);
  CHECK_EQ(evs_txn_begin(s, NULL), EVS_EINVAL);
  int rcs[2];
  CHECK_EQ(evs_ack_batch(s, NULL, NULL, 2, rcs), EVS_EINVAL);
  CHECK_EQ(evs_append_batch(s, NULL, NULL, 2, NULL), EVS_EINVAL);
  char *dir = t_tmpdir();
  CHECK_EQ(evs_store_open(dir, NULL, NULL), EVS_EINVAL);
  t_rmdir(dir);
  /* Freeing NULL is a no-op. */
  evs_event_free(NULL);
  evs_page_free(NULL);
  /* Still usable. */
  CHECK_EQ(stats(s).pending, 1);
  evs_store_close(s);
}

/* ---- get --------------------------------------------------------------- */

static void t_get_roundtrip(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_event_in in = ev_make("billing", "invoice.paid",
                            "{\"amount\": 12.5, \"currency\": \"EUR\"}");
  in.metadata = "{\"tenant\":\"acme\",\"n\":3}";
  in.idempotency_key = "inv-0001";
  in.priority = EVS_PRIORITY_HIGH;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  CHECK_EQ(r.id, 1);
  CHECK_EQ(r.created_us, T0);
  c.now += 10;
  CHECK_EQ(app(s, NULL, "b", "c", "{\"x\":0}", &r), 0);
  CHECK_EQ(r.id, 2);

  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  REQUIRE(e);
  CHECK_EQ(e->id, 1);
  CHECK_EQ(e->created_us, T0);
  CHECK_EQ(e->acknowledged_us, 0);
  CHECK_EQ(e->status, EVS_STATUS_PENDING);
  CHECK_EQ(e->priority, EVS_PRIORITY_HIGH);
  CHECK_STR(e->source, "billing");
  CHECK_EQ(e->source_len, 7);
  CHECK_STR(e->event_type, "invoice.paid");
  CHECK_EQ(e->event_type_len, 12);
  CHECK_STR(e->payload, in.payload);
  CHECK_EQ(e->payload_len, strlen(in.payload));
  CHECK_STR(e->metadata, in.metadata);
  CHECK_EQ(e->metadata_len, strlen(in.metadata));
  CHECK_STR(e->idempotency_key, "inv-0001");
  CHECK_EQ(e->idempotency_key_len, 8);
  evs_event_free(e);

  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  REQUIRE(e);
  CHECK_EQ(e->created_us, T0 + 10);
  CHECK(e->metadata == NULL);
  CHECK_EQ(e->metadata_len, 0);
  CHECK(e->idempotency_key == NULL);
  CHECK_EQ(e->idempotency_key_len, 0);
  CHECK_EQ(e->priority, EVS_PRIORITY_NORMAL);
  evs_event_free(e);

  /* Two events read at once are independent copies. */
  evs_event *e1 = NULL, *e2 = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e1), 0);
  CHECK_EQ(evs_get(s, NULL, 2, &e2), 0);
  if (e1 && e2) {
    CHECK_STR(e1->source, "billing");
    CHECK_STR(e2->source, "b");
  }
  evs_event_free(e1);
  evs_event_free(e2);

  /* Not found: unknown id, id 0, huge id. */
  const uint64_t missing[] = {0, 3, 999, UINT64_MAX};
  for (int i = 0; i < 4; i++) {
    e = (evs_event *)1;
    CHECK_EQ(evs_get(s, NULL, missing[i], &e), EVS_ENOTFOUND);
    CHECK(e == NULL || e == (evs_event *)1);
    CHECK(evs_errmsg(s)[0] != 0);
  }
  evs_store_close(s);
}

/* ---- compression ------------------------------------------------------- */

static void t_compression(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  /* Small payloads are not compressed. */
  CHECK_EQ(app(s, NULL, "s", "t", "{\"small\":\"aaaaaaaaaaaaaaaaaaaa\"}", NULL),
           0);
  evs_stats st = stats(s);
  CHECK_EQ(st.payload_bytes, strlen("{\"small\":\"aaaaaaaaaaaaaaaaaaaa\"}"));
  CHECK_EQ(st.payload_stored_bytes, st.payload_bytes);
  /* 1023 bytes: under the threshold, stored as is. */
  char *p1023 = json_of_size(1023, 'q');
  CHECK_EQ(app(s, NULL, "s", "t", p1023, NULL), 0);
  evs_stats st2 = stats(s);
  CHECK_EQ(st2.payload_bytes, st.payload_bytes + 1023);
  CHECK_EQ(st2.payload_stored_bytes, st.payload_stored_bytes + 1023);
  /* 1024 bytes of one letter: at the threshold and compressible. */
  char *p1024 = json_of_size(1024, 'q');
  evs_append_result r1024;
  CHECK_EQ(app(s, NULL, "s", "t", p1024, &r1024), 0);
  evs_stats st3 = stats(s);
  CHECK_EQ(st3.payload_bytes, st2.payload_bytes + 1024);
  CHECK(st3.payload_stored_bytes < st2.payload_stored_bytes + 1024);
  /* A highly compressible 100 KB payload. */
  char *big = malloc(100 * 1024 + 1);
  {
    size_t k = 0;
    k += (size_t)sprintf(big, "{\"rows\":[");
    int i = 0;
    while (k < 100 * 1024 - 64) {
      k += (size_t)sprintf(big + k, "{\"i\":%d,\"name\":\"row\"},", i++ % 10);
    }
    k += (size_t)sprintf(big + k, "{}]}");
    big[k] = 0;
  }
  size_t biglen = strlen(big);
  evs_append_result rb;
  CHECK_EQ(app(s, NULL, "s", "t", big, &rb), 0);
  evs_stats st4 = stats(s);
  CHECK_EQ(st4.payload_bytes, st3.payload_bytes + biglen);
  CHECK(st4.payload_stored_bytes < st3.payload_stored_bytes + biglen / 4);
  CHECK(st4.compression_ratio > 2.0);
  double want = (double)st4.payload_bytes / (double)st4.payload_stored_bytes;
  CHECK(st4.compression_ratio > want * 0.999 &&
        st4.compression_ratio < want * 1.001);
  /* get returns the exact original bytes. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, rb.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, biglen);
    CHECK(memcmp(e->payload, big, biglen) == 0);
    CHECK_EQ(e->payload[biglen], 0);
  }
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1024.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 1024);
    CHECK_STR(e->payload, p1024);
  }
  evs_event_free(e);
  /* Also through the inbox. */
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  int seen = 0;
  for (size_t i = 0; p && i < evs_page_count(p); i++) {
    const evs_event *pe = evs_page_event(p, i);
    if (pe->id == rb.id) {
      seen = 1;
      CHECK_EQ(pe->payload_len, biglen);
      CHECK(memcmp(pe->payload, big, biglen) == 0);
    }
  }
  CHECK(seen);
  evs_page_free(p);
  evs_store_close(s);

  /* compress_threshold UINT32_MAX: never. */
  evs_options o;
  memset(&o, 0, sizeof o);
  o.compress_threshold = UINT32_MAX;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", big, NULL), 0);
  st = stats(s);
  CHECK_EQ(st.payload_bytes, biglen);
  CHECK_EQ(st.payload_stored_bytes, biglen);
  CHECK(st.compression_ratio > 0.999 && st.compression_ratio < 1.001);
  evs_store_close(s);

  /* A low threshold and another level. */
  o.compress_threshold = 64;
  o.compress_level = 19;
  s = open_mem(&o);
  REQUIRE(s);
  char *p200 = json_of_size(200, 'w');
  CHECK_EQ(app(s, NULL, "s", "t", p200, &r1024), 0);
  st = stats(s);
  CHECK(st.payload_stored_bytes < 200);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1024.id, &e), 0);
  if (e) CHECK_STR(e->payload, p200);
  evs_event_free(e);
  evs_store_close(s);
  o.compress_level = -5; /* fast */
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", big, &rb), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, rb.id, &e), 0);
  if (e) CHECK(e->payload_len == biglen && !memcmp(e->payload, big, biglen));
  evs_event_free(e);
  evs_store_close(s);

  /* Incompressible data above the threshold is stored as is. */
  memset(&o, 0, sizeof o);
  o.skip_json_validation = 1;
  s = open_mem(&o);
  REQUIRE(s);
  char *rnd = malloc(8192);
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 8192; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rnd[i] = (char)(x >> 24);
  }
  evs_event_in in = ev_make("s", "t", rnd);
  in.payload_len = 8192;
  CHECK_EQ(evs_append(s, NULL, &in, &rb), 0);
  st = stats(s);
  CHECK_EQ(st.payload_bytes, 8192);
  CHECK_EQ(st.payload_stored_bytes, 8192);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, rb.id, &e), 0);
  if (e) CHECK(e->payload_len == 8192 && !memcmp(e->payload, rnd, 8192));
  evs_event_free(e);
  evs_store_close(s);
  free(rnd);
  free(p200);
  free(big);
  free(p1023);
  free(p1024);
}

/* ---- idempotency ------------------------------------------------------- */

static void t_idempotency_duplicate(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r1, r2;
  CHECK_EQ(app_key(s, NULL, "order-1", &r1), 0);
  CHECK_EQ(r1.duplicate, 0);
  CHECK_EQ(r1.id, 1);
  c.now += SEC;
  /* Same key, different content: a duplicate of the original. */
  evs_event_in in = ev_make("other", "other", "{\"different\":true}");
  in.idempotency_key = "order-1";
  memset(&r2, 0, sizeof r2);
  CHECK_EQ(evs_append(s, NULL, &in, &r2), 0);
  CHECK_EQ(r2.rc, 0);
  CHECK_EQ(r2.duplicate, 1);
  CHECK_EQ(r2.id, r1.id);
  CHECK_EQ(r2.created_us, r1.created_us);
  evs_stats st = stats(s);
  CHECK_EQ(st.next_id, 2);
  CHECK_EQ(st.pending, 1);
  /* The original is unchanged. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_STR(e->source, "app");
  evs_event_free(e);
  /* Keys are case- and byte-exact. */
  CHECK_EQ(app_key(s, NULL, "Order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 0);
  CHECK_EQ(r2.id, 2);
  CHECK_EQ(app_key(s, NULL, "order-1 ", &r2), 0);
  CHECK_EQ(r2.duplicate, 0);
  CHECK_EQ(r2.id, 3);
  /* Still a duplicate after the event is acknowledged. */
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), 0);
  CHECK_EQ(app_key(s, NULL, "order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 1);
  CHECK_EQ(r2.id, 1);
  /* Deleting the event forgets its key. */
  int existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 1, &existed), 0);
  CHECK_EQ(existed, 1);
  CHECK_EQ(app_key(s, NULL, "order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 0);
  CHECK_EQ(r2.id, 4);
  CHECK_EQ(app_key(s, NULL, "order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 1);
  CHECK_EQ(r2.id, 4);
  evs_store_close(s);
}

static void t_idempotency_window(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.id, 1);
  c.now = T0 + DAY - SEC; /* inside the default 24 h window */
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 1);
  c.now = T0 + DAY + SEC; /* past it */
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(r.created_us, T0 + DAY + SEC);
  /* The new event owns the key now. */
  c.now += HOUR;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  evs_store_close(s);

  /* A custom window. */
  c.now = T0;
  o.idempotency_window_us = 1000;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  c.now = T0 + 500;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  c.now = T0 + 1001;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  evs_store_close(s);

  /* -1: keys never expire (with retention forever). */
  c.now = T0;
  o.idempotency_window_us = -1;
  o.retention_us = -1;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  c.now = T0 + 400 * DAY;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 1);
  evs_store_close(s);
}

/* ---- retention --------------------------------------------------------- */

static void t_retention(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.retention_us = 1000;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r1, r2;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r1), 0);
  c.now = T0 + 600;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r2), 0);
  c.now = T0 + 1000; /* now - created == retention: still visible */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), 0);
  evs_event_free(e);
  CHECK(inbox_has(s, NULL, r1.id));
  c.now = T0 + 1001;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, r1.id));
  CHECK(inbox_has(s, NULL, r2.id));
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r2.id, &e), 0);
  evs_event_free(e);
  c.now = T0 + 1601;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r2.id, &e), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, r2.id));
  /* An expired event cannot be acknowledged. */
  CHECK_EQ(evs_ack(s, NULL, r2.id, NULL), EVS_ENOTFOUND);
  /* New events are visible; ids keep going. */
  evs_append_result r3;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r3), 0);
  CHECK_EQ(r3.id, 3);
  CHECK(inbox_has(s, NULL, 3));
  evs_store_close(s);

  /* Default: 7 days. */
  c.now = T0;
  memset(&o, 0, sizeof o);
  o = opts_clock(&c);
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r1), 0);
  c.now = T0 + 7 * DAY - SEC;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), 0);
  evs_event_free(e);
  c.now = T0 + 7 * DAY + SEC;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, r1.id));
  evs_store_close(s);

  /* -1: forever. */
  c.now = T0;
  o.retention_us = -1;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r1), 0);
  c.now = T0 + 1000 * DAY;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), 0);
  evs_event_free(e);
  CHECK(inbox_has(s, NULL, r1.id));
  evs_store_close(s);
}

/* ---- ack --------------------------------------------------------------- */

static void t_ack(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  for (int i = 0; i < 3; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  c.now = T0 + 777;
  int64_t acked = 0;
  CHECK_EQ(evs_ack(s, NULL, 2, &acked), 0);
  CHECK_EQ(acked, T0 + 777);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  if (e) {
    CHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
    CHECK_EQ(e->acknowledged_us, T0 + 777);
    CHECK_EQ(e->created_us, T0);
  }
  evs_event_free(e);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2);
  CHECK_EQ(st.acknowledged, 1);
  CHECK(!inbox_has(s, NULL, 2));
  CHECK(inbox_has(s, NULL, 1));
  /* Again: conflict, nothing changes. */
  c.now = T0 + 999;
  acked = 0;
  CHECK_EQ(evs_ack(s, NULL, 2, &acked), EVS_ECONFLICT);
  CHECK_CONTAINS(evs_errmsg(s), "already acknowledged");
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  if (e) CHECK_EQ(e->acknowledged_us, T0 + 777);
  evs_event_free(e);
  /* acked_us may be NULL. */
  CHECK_EQ(evs_ack(s, NULL, 3, NULL), 0);
  /* Unknown ids. */
  CHECK_EQ(evs_ack(s, NULL, 0, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, 4, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, UINT64_MAX, NULL), EVS_ENOTFOUND);
  st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.acknowledged, 2);
  /* Clock backwards: acknowledged_us not before created_us. */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0); /* id 4 at T0+999 */
  c.now = T0;
  CHECK_EQ(evs_ack(s, NULL, 4, &acked), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) CHECK(e->acknowledged_us >= e->created_us);
  evs_event_free(e);
  evs_store_close(s);
}

static void t_ack_batch(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  for (int i = 0; i < 5; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 4, NULL), 0);
  uint64_t ids[] = {1, 999, 4, 2, 2, 0, 5};
  int rcs[7];
  memset(rcs, 0x55, sizeof rcs);
  CHECK_EQ(evs_ack_batch(s, NULL, ids, 7, rcs), 0);
  CHECK_EQ(rcs[0], 0);
  CHECK_EQ(rcs[1], EVS_ENOTFOUND);
  CHECK_EQ(rcs[2], EVS_ECONFLICT);
  CHECK_EQ(rcs[3], 0);
  CHECK_EQ(rcs[4], EVS_ECONFLICT);
  CHECK_EQ(rcs[5], EVS_ENOTFOUND);
  CHECK_EQ(rcs[6], 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.acknowledged, 4);
  CHECK(inbox_has(s, NULL, 3));
  CHECK(!inbox_has(s, NULL, 1));
  CHECK(!inbox_has(s, NULL, 5));
  /* n == 0 */
  CHECK_EQ(evs_ack_batch(s, NULL, ids, 0, rcs), 0);
  /* All failing: still 0, rcs say why. */
  uint64_t ids2[] = {1, 77};
  CHECK_EQ(evs_ack_batch(s, NULL, ids2, 2, rcs), 0);
  CHECK_EQ(rcs[0], EVS_ECONFLICT);
  CHECK_EQ(rcs[1], EVS_ENOTFOUND);
  evs_store_close(s);
}

/* ---- delete ------------------------------------------------------------ */

static void t_delete(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  for (int i = 0; i < 4; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 3, NULL), 0);
  int existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 2, &existed), 0);
  CHECK_EQ(existed, 1);
  existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 2, &existed), 0);
  CHECK_EQ(existed, 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, 2));
  CHECK(inbox_has(s, NULL, 1));
  CHECK(inbox_has(s, NULL, 4));
  /* Acknowledged events can be deleted too. */
  existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 3, &existed), 0);
  CHECK_EQ(existed, 1);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), EVS_ENOTFOUND);
  /* Never existed; existed may be NULL. */
  existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 99, &existed), 0);
  CHECK_EQ(existed, 0);
  CHECK_EQ(evs_delete(s, NULL, 0, NULL), 0);
  CHECK_EQ(evs_delete(s, NULL, 1, NULL), 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 1);
  CHECK_EQ(st.acknowledged, 0);
  /* Deleted ids are not reused. */
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 5);
  /* Deleting the newest event does not make its id reusable either. */
  CHECK_EQ(evs_delete(s, NULL, 5, NULL), 0);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 6);
  evs_store_close(s);
}

/* ---- append_batch ------------------------------------------------------ */

static void t_append_batch(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "existing", &r), 0); /* id 1 */
  c.now += 100;
  evs_event_in ev[8];
  ev[0] = ev_make("a", "t", "{\"n\":0}");
  ev[1] = ev_make("", "t", "{}"); /* EINVAL */
  ev[2] = ev_make("a", "t", "[1]"); /* EJSON */
  ev[3] = ev_make("a", "t", "{\"n\":3}");
  ev[3].idempotency_key = "dup";
  ev[4] = ev_make("a", "t", "{\"n\":4}");
  ev[4].idempotency_key = "dup"; /* duplicate of ev[3] */
  ev[5] = ev_make("a", "t", "{\"n\":5}");
  ev[5].idempotency_key = "existing"; /* duplicate of id 1 */
  ev[6] = ev_make("a", "t", "{}");
  ev[6].priority = 9; /* EINVAL */
  ev[7] = ev_make("b", "u", "{\"n\":7}");
  evs_append_result res[8];
  memset(res, 0x33, sizeof res);
  CHECK_EQ(evs_append_batch(s, NULL, ev, 8, res), 0);
  CHECK_EQ(res[0].rc, 0);
  CHECK_EQ(res[0].duplicate, 0);
  CHECK_EQ(res[0].id, 2);
  CHECK_EQ(res[0].created_us, T0 + 100);
  CHECK_EQ(res[1].rc, EVS_EINVAL);
  CHECK_EQ(res[2].rc, EVS_EJSON);
  CHECK_EQ(res[3].rc, 0);
  CHECK_EQ(res[3].duplicate, 0);
  CHECK_EQ(res[3].id, 3);
  CHECK_EQ(res[4].rc, 0);
  CHECK_EQ(res[4].duplicate, 1);
  CHECK_EQ(res[4].id, 3);
  CHECK_EQ(res[5].rc, 0);
  CHECK_EQ(res[5].duplicate, 1);
  CHECK_EQ(res[5].id, 1);
  CHECK_EQ(res[5].created_us, T0);
  CHECK_EQ(res[6].rc, EVS_EINVAL);
  CHECK_EQ(res[7].rc, 0);
  CHECK_EQ(res[7].duplicate, 0);
  CHECK_EQ(res[7].id, 4);
  evs_stats st = stats(s);
  CHECK_EQ(st.next_id, 5);
  CHECK_EQ(st.pending, 4);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), 0);
  if (e) CHECK_STR(e->payload, "{\"n\":3}");
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) {
    CHECK_STR(e->source, "b");
    CHECK_STR(e->payload, "{\"n\":7}");
  }
  evs_event_free(e);
  /* n == 0 */
  CHECK_EQ(evs_append_batch(s, NULL, ev, 0, res), 0);
  CHECK_EQ(stats(s).next_id, 5);
  /* Bigger batch: dense ids. */
  enum { N = 500 };
  evs_event_in *many = calloc(N, sizeof *many);
  evs_append_result *mres = calloc(N, sizeof *mres);
  for (int i = 0; i < N; i++) many[i] = ev_make("bulk", "t", "{\"b\":1}");
  CHECK_EQ(evs_append_batch(s, NULL, many, N, mres), 0);
  for (int i = 0; i < N; i++) {
    CHECK_EQ(mres[i].rc, 0);
    if (mres[i].id != (uint64_t)(5 + i)) {
      CHECK_EQ(mres[i].id, 5 + i);
      break;
    }
  }
  CHECK_EQ(stats(s).next_id, 5 + N);
  free(many);
  free(mres);
  evs_store_close(s);
}

/* A JSON object of about n bytes, an order-like list of items; seed varies
** the content. Compresses well unless noisy. */
static char *big_json(size_t n, unsigned seed, int noisy) {
  char *p = malloc(n + 64);
  size_t k = (size_t)snprintf(p, n + 64, "{\"seed\":%u,\"items\":[", seed);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (unsigned j = 0; k + 48 < n; j++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (noisy)
      k += (size_t)snprintf(p + k, n + 64 - k, "%s\"%016llx%016llx\"", j ? "," : "",
                            (unsigned long long)x, (unsigned long long)(x * 31));
    else
      k += (size_t)snprintf(p + k, n + 64 - k, "%s{\"sku\":\"SKU-%05u\",\"qty\":%u}",
                            j ? "," : "", (unsigned)(x % 100000), (unsigned)(x % 9) + 1);
  }
  snprintf(p + k, n + 64 - k, "]}");
  return p;
}

/* The bytes of path from offset `from` on (NULL if unreadable). */
static char *file_tail(const char *path, long from, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f) - from;
  char *b = n > 0 ? malloc((size_t)n) : NULL;
  fseek(f, from, SEEK_SET);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *len = n;
  return b;
}

/* A batch big enough for the worker thread (large payloads to compress,
** failures in large and small items) must give what the same events give
** appended one by one in one explicit transaction, which never involves the
** worker: the same results, the same first error message, and the same
** bytes in the log (records after the 64-byte segment header; the header
** carries the store id). Repeated: which thread prepares which item varies
** from run to run. The last rounds pass a foreign transaction, which fails
** the batch after the worker has started. */
static void t_append_batch_parallel(void) {
  enum { N = 120, ROUNDS = 24 };
  static const char *keys[] = {"k-a", "k-b", "k-a"};
  evs_event_in ev[N];
  char *bufs[N] = {0};
  for (int i = 0; i < N; i++) {
    ev[i] = ev_make(i % 3 ? "app-1" : "app-2", "order.created", "{\"i\":1}");
    if (i == 33)
      ev[i].payload = bufs[i] = big_json(12000, 33, 1); /* stored raw */
    else if (i % 10 == 3)
      ev[i].payload = bufs[i] = big_json(9000 + 1500 * (size_t)(i % 7), (unsigned)i, 0);
    if (i == 13) bufs[i][strlen(bufs[i]) - 1] = 0;                    /* large, bad JSON */
    if (i == 53) ev[i].metadata = "{\"trace\":}";                     /* large, bad metadata */
    if (i == 40) ev[i].payload = "{\"i\":01}";                        /* small, bad JSON */
    if (i == 77) ev[i].priority = 9;
    if (i == 23) ev[i].source = "";                                   /* large, bad source */
    if (i >= 60 && i < 63) ev[i].idempotency_key = keys[i - 60];
    if (i == 100) ev[i].payload_len = strlen(ev[i].payload);
    if (!ev[i].metadata && i % 4 == 0) ev[i].metadata = "{\"trace\":\"abc\"}";
  }
  char *ba = NULL, *bb = NULL;
  for (int round = 0; round < ROUNDS; round++) {
    int foreign = round >= ROUNDS - 4;
    fake_clock c = {T0 + round};
    evs_options o = opts_clock(&c);
    char *da = t_tmpdir(), *db = t_tmpdir();
    evs_store *a = NULL, *b = NULL, *x = NULL;
    REQUIRE(evs_store_open(da, &o, &a) == 0 && evs_store_open(db, &o, &b) == 0);
    evs_append_result ra[N], rb[N];
    char want[600] = "", got[600];
    evs_txn *t = NULL, *xt = NULL;
    if (foreign) {
      REQUIRE((x = open_mem(&o)) != NULL);
      REQUIRE(evs_txn_begin(x, &xt) == 0);
    }
    int rc = evs_append_batch(a, xt, ev, N, ra);
    snprintf(got, sizeof got, "%s", evs_errmsg(a));
    CHECK_EQ(rc, foreign ? EVS_EMISUSE : 0);
    REQUIRE(evs_txn_begin(b, &t) == 0);
    for (int i = 0; i < N; i++) {
      int r = evs_append(b, t, &ev[i], &rb[i]);
      CHECK_EQ(r, rb[i].rc);
      if (r && !want[0] && !foreign)
        snprintf(want, sizeof want, "item %d: %s", i, evs_errmsg(b));
      int prep_failed = i == 13 || i == 53 || i == 40 || i == 77 || i == 23;
      CHECK_EQ(r != 0, prep_failed);
      CHECK_EQ(ra[i].rc, prep_failed ? r : foreign ? EVS_EMISUSE : 0);
      if (!foreign) {
        CHECK_EQ(ra[i].id, rb[i].id);
        CHECK_EQ(ra[i].duplicate, rb[i].duplicate);
        CHECK_EQ(ra[i].created_us, rb[i].created_us);
      }
    }
    CHECK_EQ(rb[62].duplicate, 1);
    if (foreign) {
      CHECK_CONTAINS(got, "transaction does not belong to this store");
      CHECK_EQ(evs_txn_rollback(t), 0);
      CHECK_EQ(evs_txn_rollback(xt), 0);
      CHECK_EQ(stats(a).next_id, 1);
      evs_store_close(x);
    } else {
      CHECK_STR(got, want);
      CHECK_EQ(evs_txn_commit(t), 0);
      CHECK_EQ(stats(a).next_id, N - 5 - 1 + 1);
      evs_stats sa = stats(a), sb = stats(b);
      CHECK_EQ(sa.payload_stored_bytes, sb.payload_stored_bytes);
      CHECK(sa.payload_stored_bytes < sa.payload_bytes / 2);
    }
    CHECK_EQ(evs_store_close(a), 0);
    CHECK_EQ(evs_store_close(b), 0);
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%016x.evlog", da, 1);
    snprintf(pb, sizeof pb, "%s/%016x.evlog", db, 1);
    long la = 0, lb = 0;
    free(ba);
    free(bb);
    ba = file_tail(pa, 64, &la);
    bb = file_tail(pb, 64, &lb);
    CHECK_EQ(la, lb);
    if (!foreign) {
      REQUIRE(ba && bb && la > 20000);
      CHECK(memcmp(ba, bb, (size_t)la) == 0);
    }
    t_rmdir(da);
    t_rmdir(db);
  }
  free(ba);
  free(bb);
  for (int i = 0; i < N; i++) free(bufs[i]);
}

/* ---- inbox ------------------------------------------------------------- */

static void t_inbox_basic(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  evs_query q;
  memset(&q, 0, sizeof q);
  /* Empty store: empty page, a cursor, no more. */
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 0);
  CHECK(evs_page_cursor(p) != NULL);
  CHECK_EQ(evs_page_more(p), 0);
  for (int i = 0; i < 130; i++)
    CHECK_EQ(app(s, NULL, "s", "t", "{\"i\":1}", NULL), 0);
  /* limit 0 = 50, oldest first, reusing the page. */
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), EVS_PAGE_DEFAULT);
  CHECK_EQ(evs_page_more(p), 1);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    const evs_event *e = evs_page_event(p, i);
    CHECK_EQ(e->id, i + 1);
    CHECK_EQ(e->status, EVS_STATUS_PENDING);
    CHECK_STR(e->source, "s");
    CHECK_STR(e->payload, "{\"i\":1}");
  }
  CHECK(evs_page_cursor(p) != NULL && evs_page_cursor(p)[0] != 0);
  /* The cursor is base64url. */
  for (const char *c = evs_page_cursor(p); *c; c++)
    CHECK((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
          (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '=');
  /* limit 100 ok; 101 not. */
  q.limit = 100;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 100);
  CHECK_EQ(evs_page_more(p), 1);
  q.limit = 1;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 1);
  evs_page_free(p);
  const unsigned badlim[] = {101, 1000, UINT32_MAX};
  for (int i = 0; i < 3; i++) {
    q.limit = badlim[i];
    evs_page *p2 = NULL;
    CHECK_EQ(evs_inbox(s, NULL, &q, &p2), EVS_EINVAL);
    CHECK_CONTAINS(evs_errmsg(s), "limit");
    evs_page_free(p2);
  }
  /* Acknowledged events leave the inbox. */
  for (uint64_t id = 1; id <= 120; id++)
    CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
  q.limit = 100;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 10);
  CHECK_EQ(evs_page_more(p), 0);
  if (evs_page_count(p) > 0) CHECK_EQ(evs_page_event(p, 0)->id, 121);
  evs_page_free(p);
  evs_store_close(s);
}

static void t_inbox_filters(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  /* id: source type priority meta */
  struct {
    const char *src, *type, *meta;
    int prio;
  } rows[] = {
      {"web", "click", "{\"tenant\":\"acme\",\"n\":42}", 1},       /* 1 */
      {"web", "view", "{\"tenant\":\"globex\",\"n\":42.0}", 2},    /* 2 */
      {"api", "click", "{\"tenant\":\"acme\",\"ok\":true}", 3},    /* 3 */
      {"api", "view", NULL, 0},                                    /* 4 */
      {"web", "click", "{\"tenant\":\"a\\\"b\",\"z\":null}", 3},   /* 5 */
      {"web", "click", "{\"inner\":{\"tenant\":\"acme\"}}", 1},    /* 6 */
      {"web", "click", "{\"tenant\":\"42\",\"ok\":false}", 2},     /* 7 */
      {"web", "click", "{\"tenant\":\"caf\\u00e9\",\"n\":4}", 2},  /* 8 */
  };
  const int nrows = (int)(sizeof rows / sizeof rows[0]);
  for (int i = 0; i < nrows; i++) {
    c.now = T0 + 10 * (i + 1);
    evs_event_in in = ev_make(rows[i].src, rows[i].type, "{}");
    in.metadata = rows[i].meta;
    in.priority = rows[i].prio;
    CHECK_EQ(evs_append(s, NULL, &in, NULL), 0);
  }
  uint64_t ids[64];
  evs_query q;
#define QRESET() memset(&q, 0, sizeof q)
#define EXPECT_IDS(...)                                                   \
  do {                                                                    \
    const uint64_t want_[] = {__VA_ARGS__};                               \
    const long nw_ = (long)(sizeof want_ / sizeof want_[0]);              \
    long n_ = inbox_all(s, NULL, &q, ids, 64);                            \
    CHECK_EQ(n_, nw_);                                                    \
    for (long i_ = 0; i_ < n_ && i_ < nw_; i_++) CHECK_EQ(ids[i_], want_[i_]); \
  } while (0)
#define EXPECT_NONE()                                                     \
  do {                                                                    \
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 64), 0);                         \
  } while (0)

  QRESET();
  EXPECT_IDS(1, 2, 3, 4, 5, 6, 7, 8);
  QRESET();
  q.source = "web";
  EXPECT_IDS(1, 2, 5, 6, 7, 8);
  QRESET();
  q.source = "api";
  q.event_type = "view";
  EXPECT_IDS(4);
  QRESET();
  q.event_type = "click";
  EXPECT_IDS(1, 3, 5, 6, 7, 8);
  QRESET();
  q.source = "nobody";
  EXPECT_NONE();
  QRESET();
  q.source = "WEB"; /* exact match */
  EXPECT_NONE();
  /* Time bounds are exclusive. */
  QRESET();
  q.created_after_us = T0 + 20;
  q.created_before_us = T0 + 50;
  EXPECT_IDS(3, 4);
  QRESET();
  q.created_after_us = T0 + 19;
  EXPECT_IDS(2, 3, 4, 5, 6, 7, 8);
  QRESET();
  q.created_before_us = T0 + 21;
  EXPECT_IDS(1, 2);
  QRESET();
  q.created_after_us = T0 + 40;
  q.created_before_us = T0 + 50;
  EXPECT_NONE();
  /* Priority. */
  QRESET();
  q.priority = EVS_PRIORITY_LOW;
  EXPECT_IDS(1, 6);
  QRESET();
  q.priority = EVS_PRIORITY_NORMAL; /* 0 stored as NORMAL */
  EXPECT_IDS(2, 4, 7, 8);
  QRESET();
  q.priority = EVS_PRIORITY_HIGH;
  q.source = "web";
  EXPECT_IDS(5);
  /* Metadata: strings by unescaped content; numbers/literals by text. */
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "acme";
  EXPECT_IDS(1, 3); /* not 6: only top-level members */
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "a\"b";
  EXPECT_IDS(5);
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "caf\xc3\xa9";
  EXPECT_IDS(8);
  QRESET();
  q.metadata_key = "n";
  q.metadata_value = "42";
  EXPECT_IDS(1); /* 42.0 is different text */
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "42";
  EXPECT_IDS(7); /* the string "42" */
  QRESET();
  q.metadata_key = "n";
  q.metadata_value = "4";
  EXPECT_IDS(8);
  QRESET();
  q.metadata_key = "ok";
  q.metadata_value = "true";
  EXPECT_IDS(3);
  QRESET();
  q.metadata_key = "ok";
  q.metadata_value = "false";
  EXPECT_IDS(7);
  QRESET();
  q.metadata_key = "z";
  q.metadata_value = "null";
  EXPECT_IDS(5);
  QRESET();
  q.metadata_key = "inner";
  q.metadata_value = "{\"tenant\":\"acme\"}"; /* objects never match */
  EXPECT_NONE();
  QRESET();
  q.metadata_key = "missing";
  q.metadata_value = "x";
  EXPECT_NONE();
  /* All filters at once. */
  QRESET();
  q.source = "web";
  q.event_type = "click";
  q.priority = EVS_PRIORITY_LOW;
  q.metadata_key = "tenant";
  q.metadata_value = "acme";
  q.created_after_us = T0;
  q.created_before_us = T0 + 1000;
  EXPECT_IDS(1);

  /* Bad filters. */
  evs_page *p = NULL;
  QRESET();
  q.metadata_key = "tenant";
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "metadata");
  evs_page_free(p);
  p = NULL;
  QRESET();
  q.metadata_value = "acme";
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "metadata");
  evs_page_free(p);
  const int badprio[] = {-1, 4, 9};
  for (int i = 0; i < 3; i++) {
    p = NULL;
    QRESET();
    q.priority = badprio[i];
    CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_EINVAL);
    CHECK_CONTAINS(evs_errmsg(s), "priority");
    evs_page_free(p);
  }
#undef QRESET
#undef EXPECT_IDS
#undef EXPECT_NONE
  evs_store_close(s);
}

static void t_inbox_filter_before_limit(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  /* 301 events, 1 in 3 from X (101 of them). */
  for (int i = 0; i < 301; i++)
    CHECK_EQ(app(s, NULL, i % 3 == 0 ? "X" : "Y", "t", "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  q.source = "X";
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 100);
  CHECK_EQ(evs_page_more(p), 1);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    CHECK_STR(evs_page_event(p, i)->source, "X");
    CHECK_EQ(evs_page_event(p, i)->id, 1 + 3 * i);
  }
  char *cur = strdup(evs_page_cursor(p));
  q.cursor = cur;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 1);
  CHECK_EQ(evs_page_more(p), 0);
  if (evs_page_count(p) == 1) CHECK_EQ(evs_page_event(p, 0)->id, 301);
  free(cur);
  /* A rare match far away: a page is short only when nothing more matches. */
  CHECK_EQ(app(s, NULL, "rare", "t", "{}", NULL), 0);
  for (int i = 0; i < 500; i++) CHECK_EQ(app(s, NULL, "Y", "t", "{}", NULL), 0);
  CHECK_EQ(app(s, NULL, "rare", "t", "{}", NULL), 0);
  memset(&q, 0, sizeof q);
  q.source = "rare";
  q.limit = 2;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 2);
  CHECK_EQ(evs_page_more(p), 0);
  q.limit = 1;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 1);
  CHECK_EQ(evs_page_more(p), 1);
  evs_page_free(p);
  evs_store_close(s);
}

static void t_inbox_paging(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { N = 237 };
  for (int i = 0; i < N; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 10;
  evs_page *p = NULL;
  char *cur = NULL;
  uint64_t expect = 1;
  int pages = 0;
  for (;;) {
    q.cursor = cur;
    CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
    REQUIRE(p);
    pages++;
    for (size_t i = 0; i < evs_page_count(p); i++) {
      if (pages > 3)
        while (expect == 41 || expect == 42) expect++; /* acked, deleted */
      CHECK_EQ(evs_page_event(p, i)->id, expect);
      expect++;
    }
    REQUIRE(evs_page_cursor(p) != NULL);
    free(cur);
    cur = strdup(evs_page_cursor(p));
    /* Ack something already read and something not yet read: nothing is
    ** skipped or repeated because of it. */
    if (pages == 3) {
      CHECK_EQ(evs_ack(s, NULL, 5, NULL), 0);
      CHECK_EQ(evs_ack(s, NULL, 41, NULL), 0);
      CHECK_EQ(evs_delete(s, NULL, 42, NULL), 0);
    }
    if (!evs_page_more(p)) break;
    if (pages > 100) break;
    /* Changing only the limit is allowed. */
    q.limit = (pages % 2) ? 7 : 10;
  }
  CHECK_EQ(expect, N + 1);
  CHECK_EQ(evs_page_more(p), 0);
  /* At the end: an empty page with a cursor. */
  q.cursor = cur;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 0);
  CHECK_EQ(evs_page_more(p), 0);
  REQUIRE(evs_page_cursor(p) != NULL);
  char *cur_empty = strdup(evs_page_cursor(p));
  /* Events appended afterwards show up with the old cursors. */
  for (int i = 0; i < 3; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  q.cursor = cur;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 3);
  if (evs_page_count(p) == 3) {
    CHECK_EQ(evs_page_event(p, 0)->id, N + 1);
    CHECK_EQ(evs_page_event(p, 2)->id, N + 3);
  }
  q.cursor = cur_empty;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 3);
  free(cur);
  free(cur_empty);
  evs_page_free(p);

  /* The page's own cursor passed while reusing that page. */
  memset(&q, 0, sizeof q);
  q.limit = 50;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  uint64_t last = evs_page_event(p, evs_page_count(p) - 1)->id;
  q.cursor = evs_page_cursor(p);
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK(evs_page_count(p) > 0);
  if (evs_page_count(p) > 0) CHECK(evs_page_event(p, 0)->id > last);
  evs_page_free(p);
  evs_store_close(s);
}

static void t_inbox_cursor_errors(void) {
  char *d1 = t_tmpdir(), *d2 = t_tmpdir();
  evs_store *s = NULL, *s2 = NULL;
  CHECK_EQ(evs_store_open(d1, NULL, &s), 0);
  CHECK_EQ(evs_store_open(d2, NULL, &s2), 0);
  REQUIRE(s && s2);
  for (int i = 0; i < 30; i++) {
    CHECK_EQ(app(s, NULL, i % 2 ? "X" : "Y", "t", "{}", NULL), 0);
    CHECK_EQ(app(s2, NULL, i % 2 ? "X" : "Y", "t", "{}", NULL), 0);
  }
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 5;
  q.source = "X";
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  char *good = strdup(evs_page_cursor(p));
  evs_page_free(p);
  size_t len = strlen(good);
  REQUIRE(len >= 4);

  evs_page *pe = NULL;
#define CURSOR_ERR(store, phrase)                                     \
  do {                                                                \
    pe = NULL;                                                        \
    CHECK_EQ(evs_inbox(store, NULL, &q, &pe), EVS_ECURSOR);           \
    if (phrase) CHECK_CONTAINS(evs_errmsg(store), (const char *)phrase); \
    evs_page_free(pe);                                                \
  } while (0)

  /* Garbage. */
  const char *garbage[] = {"!!!", "not a cursor", "AAAA", "%%%%%%%%", "x"};
  for (int i = 0; i < 5; i++) {
    q.cursor = garbage[i];
    CURSOR_ERR(s, "malformed");
  }
  /* One character changed anywhere in the cursor. */
  char *bad = strdup(good);
  for (size_t pos = 0; pos < len; pos++) {
    char orig = bad[pos];
    bad[pos] = (orig == 'A') ? 'B' : 'A';
    q.cursor = bad;
    pe = NULL;
    int rc = evs_inbox(s, NULL, &q, &pe);
    if (rc != EVS_ECURSOR) {
      /* The last base64 character may carry unused bits; only the
      ** middle characters are certain to change the decoded bytes. */
      if (pos + 1 < len)
        fprintf(stderr, "  tampered cursor (pos %zu): rc %d\n", pos, rc);
      if (pos + 1 < len) CHECK_EQ(rc, EVS_ECURSOR);
    }
    evs_page_free(pe);
    bad[pos] = orig;
  }
  /* Truncated and extended. */
  bad[len / 2] = 0;
  q.cursor = bad;
  CURSOR_ERR(s, NULL);
  free(bad);
  bad = malloc(len + 8);
  snprintf(bad, len + 8, "%sAAAA", good);
  q.cursor = bad;
  CURSOR_ERR(s, NULL);
  free(bad);
  /* From another store. */
  q.cursor = good;
  CURSOR_ERR(s2, "another store");
  /* With a different filter. */
  q.source = "Y";
  CURSOR_ERR(s, "filter");
  q.source = NULL;
  CURSOR_ERR(s, "filter");
  q.source = "X";
  q.event_type = "t";
  CURSOR_ERR(s, "filter");
  q.event_type = NULL;
  q.priority = EVS_PRIORITY_NORMAL;
  CURSOR_ERR(s, "filter");
  q.priority = 0;
  q.metadata_key = "a";
  q.metadata_value = "b";
  CURSOR_ERR(s, "filter");
  q.metadata_key = q.metadata_value = NULL;
  q.created_after_us = 1;
  CURSOR_ERR(s, "filter");
  q.created_after_us = 0;
  q.created_before_us = INT64_MAX;
  CURSOR_ERR(s, "filter");
  q.created_before_us = 0;
#undef CURSOR_ERR
  /* The right filter with another limit works, and continues after id 10
  ** (the 5th X). */
  q.limit = 3;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 3);
  if (evs_page_count(p) == 3) {
    CHECK_EQ(evs_page_event(p, 0)->id, 12);
    CHECK_EQ(evs_page_event(p, 2)->id, 16);
  }
  /* After an error, the page can still be reused. */
  q.cursor = "!!!";
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_ECURSOR);
  q.cursor = good;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK(p && evs_page_count(p) == 3);
  evs_page_free(p);
  free(good);
  evs_store_close(s);
  evs_store_close(s2);
  t_rmdir(d1);
  t_rmdir(d2);
}

static void t_inbox_cursor_memory_stores(void) {
  /* Two in-memory stores are different stores too. */
  evs_store *a = open_mem(NULL), *b = open_mem(NULL);
  REQUIRE(a && b);
  CHECK_EQ(app(a, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(app(b, NULL, "s", "t", "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(a, NULL, &q, &p), 0);
  REQUIRE(p);
  char *cur = strdup(evs_page_cursor(p));
  evs_page_free(p);
  q.cursor = cur;
  p = NULL;
  CHECK_EQ(evs_inbox(b, NULL, &q, &p), EVS_ECURSOR);
  CHECK_CONTAINS(evs_errmsg(b), "another store");
  evs_page_free(p);
  p = NULL;
  CHECK_EQ(evs_inbox(a, NULL, &q, &p), 0);
  CHECK(p && evs_page_count(p) == 0);
  evs_page_free(p);
  free(cur);
  evs_store_close(a);
  evs_store_close(b);
}


/* ---- more inbox / index edge cases -------------------------------------- */

static long ids_of(evs_store *s, evs_txn *t, const char *src, const char *type,
                   uint64_t *ids, size_t cap) {
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  q.source = src;
  q.event_type = type;
  return inbox_all(s, t, &q, ids, cap);
}

#define EXPECT_LIST(n, ids, ...)                                          \
  do {                                                                    \
    const uint64_t w_[] = {__VA_ARGS__};                                  \
    const long nw_ = (long)(sizeof w_ / sizeof w_[0]);                    \
    CHECK_EQ((n), nw_);                                                   \
    for (long i_ = 0; i_ < (n) && i_ < nw_; i_++) CHECK_EQ((ids)[i_], w_[i_]); \
  } while (0)

/* Filtered scans inside a transaction, then a rollback: the per-source and
** per-type lists must come back exactly. */
static void t_inbox_filter_txn_rollback(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  uint64_t ids[64];
  long n;
  CHECK_EQ(app(s, NULL, "X", "tx", "{}", NULL), 0); /* 1 */
  CHECK_EQ(app(s, NULL, "X", "tx", "{}", NULL), 0); /* 2 */
  CHECK_EQ(app(s, NULL, "Y", "ty", "{}", NULL), 0); /* 3 */
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 2, NULL), 0);
  n = ids_of(s, t, "X", NULL, ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, t, NULL, "tx", ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, t, NULL, NULL, ids, 64);
  EXPECT_LIST(n, ids, 3);
  n = ids_of(s, NULL, "X", NULL, ids, 64); /* committed view */
  EXPECT_LIST(n, ids, 1, 2);
  CHECK_EQ(evs_txn_rollback(t), 0);
  n = ids_of(s, NULL, "X", NULL, ids, 64);
  EXPECT_LIST(n, ids, 1, 2);
  n = ids_of(s, NULL, NULL, "tx", ids, 64);
  EXPECT_LIST(n, ids, 1, 2);
  n = ids_of(s, NULL, "X", "tx", ids, 64);
  EXPECT_LIST(n, ids, 1, 2);

  /* Appends in a rolled back txn; the ids are then reused by other
  ** sources. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(app(s, t, "X", "tx", "{}", NULL), 0); /* 4 */
  CHECK_EQ(app(s, t, "Z", "tz", "{}", NULL), 0); /* 5 (a new source) */
  n = ids_of(s, t, "X", NULL, ids, 64);
  EXPECT_LIST(n, ids, 1, 2, 4);
  n = ids_of(s, t, "Z", NULL, ids, 64);
  EXPECT_LIST(n, ids, 5);
  CHECK_EQ(evs_txn_rollback(t), 0);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "Y", "ty", "{}", &r), 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(app(s, NULL, "X", "tx", "{}", &r), 0);
  CHECK_EQ(r.id, 5);
  n = ids_of(s, NULL, "X", NULL, ids, 64);
  EXPECT_LIST(n, ids, 1, 2, 5);
  n = ids_of(s, NULL, "Y", NULL, ids, 64);
  EXPECT_LIST(n, ids, 3, 4);
  n = ids_of(s, NULL, "Z", NULL, ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, NULL, NULL, "tz", ids, 64);
  CHECK_EQ(n, 0);
  n = ids_of(s, NULL, NULL, "tx", ids, 64);
  EXPECT_LIST(n, ids, 1, 2, 5);

  /* Many acks inside a txn with filtered scans (which may prune lists),
  ** then rollback: everything is pending again. */
  for (int i = 0; i < 300; i++)
    CHECK_EQ(app(s, NULL, i % 2 ? "X" : "Y", "bulk", "{}", NULL), 0);
  uint64_t all[1024];
  long nx = ids_of(s, NULL, "X", NULL, all, 1024);
  CHECK_EQ(nx, 153);
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  for (uint64_t id = 1; id <= 305; id++)
    if (id % 5) CHECK_EQ(evs_ack(s, t, id, NULL), 0);
  n = ids_of(s, t, "X", NULL, ids, 64);
  CHECK(n > 0 && n < 64);
  n = ids_of(s, t, NULL, "bulk", ids, 64);
  CHECK(n > 0 && n < 64);
  CHECK_EQ(evs_txn_rollback(t), 0);
  uint64_t again[1024];
  n = ids_of(s, NULL, "X", NULL, again, 1024);
  CHECK_EQ(n, nx);
  for (long i = 0; i < n && i < nx; i++)
    if (again[i] != all[i]) {
      CHECK_EQ(again[i], all[i]);
      break;
    }
  CHECK_EQ(ids_of(s, NULL, NULL, "bulk", again, 1024), 300);
  /* And committed: the lists shrink. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  for (uint64_t id = 1; id <= 305; id++)
    if (id % 5) CHECK_EQ(evs_ack(s, t, id, NULL), 0);
  n = ids_of(s, t, "X", NULL, ids, 64);
  CHECK_EQ(evs_txn_commit(t), 0);
  n = ids_of(s, NULL, NULL, NULL, again, 1024);
  CHECK_EQ(n, 61);
  for (long i = 0; i < n; i++) CHECK_EQ(again[i] % 5, 0);
  evs_store_close(s);
}

/* Ack most events of a source (dead list positions outnumber live ones),
** with appends in between. */
static void t_inbox_mostly_acked(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { N = 3000 };
  for (int i = 0; i < N; i++)
    CHECK_EQ(app(s, NULL, i % 3 ? "A" : "B", "t", "{}", NULL), 0);
  uint64_t *ids = calloc(N + 1000, sizeof *ids);
  int bad = 0;
  for (uint64_t id = 1; id <= N; id++) {
    if (id % 97 == 0) continue;
    if (evs_ack(s, NULL, id, NULL) != 0) bad++;
    if (id % 500 == 0) {
      evs_query q;
      memset(&q, 0, sizeof q);
      q.source = "A";
      q.limit = 5;
      evs_page *p = NULL;
      if (evs_inbox(s, NULL, &q, &p) != 0) bad++;
      evs_page_free(p);
      CHECK_EQ(app(s, NULL, "A", "t", "{}", NULL), 0);
    }
  }
  CHECK_EQ(bad, 0);
  /* Model: id%97==0 pending, plus the 6 appended (ids N+1..N+6). */
  long n = ids_of(s, NULL, "A", NULL, ids, N + 1000);
  long want = 0;
  for (uint64_t id = 1; id <= N + 6; id++) {
    int isA = id > N || ((id - 1) % 3 != 0);
    int pend = id > N || id % 97 == 0;
    if (isA && pend) {
      if (want < n && ids[want] != id) {
        CHECK_EQ(ids[want], id);
        break;
      }
      want++;
    }
  }
  CHECK_EQ(n, want);
  n = ids_of(s, NULL, NULL, NULL, ids, N + 1000);
  CHECK_EQ(n, N / 97 + 6);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, (uint64_t)(N / 97 + 6));
  CHECK_EQ(st.acknowledged, (uint64_t)(N - N / 97));
  free(ids);
  evs_store_close(s);
}

/* Time bounds when many events share a timestamp, with paging. */
static void t_inbox_time_bounds_ties(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  for (int t = 0; t < 4; t++) {
    c.now = T0 + t;
    for (int i = 0; i < 25; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  }
  /* ids 1-25 at T0, 26-50 at T0+1, 51-75 at T0+2, 76-100 at T0+3 */
  evs_query q;
  memset(&q, 0, sizeof q);
  uint64_t ids[128];
  for (unsigned lim = 1; lim <= 100; lim += 33) {
    q.limit = lim;
    q.created_after_us = T0;
    q.created_before_us = T0 + 3;
    long n = inbox_all(s, NULL, &q, ids, 128);
    CHECK_EQ(n, 50);
    if (n == 50) {
      CHECK_EQ(ids[0], 26);
      CHECK_EQ(ids[49], 75);
    }
    q.created_after_us = T0 + 1;
    q.created_before_us = 0;
    n = inbox_all(s, NULL, &q, ids, 128);
    CHECK_EQ(n, 50);
    if (n == 50) CHECK_EQ(ids[0], 51);
    q.created_after_us = 0;
    q.created_before_us = T0 + 1;
    n = inbox_all(s, NULL, &q, ids, 128);
    CHECK_EQ(n, 25);
    if (n == 25) CHECK_EQ(ids[24], 25);
    q.created_after_us = T0 + 3;
    q.created_before_us = 0;
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 128), 0);
    q.created_after_us = T0 - 1;
    q.created_before_us = T0 + 4;
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 128), 100);
    q.created_after_us = T0 + 2;
    q.created_before_us = T0 + 1; /* empty range */
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 128), 0);
  }
  evs_store_close(s);
}

/* More events than one index chunk (65536). */
static void t_many_events(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { N = 70000 };
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    char src[16], pl[32];
    snprintf(src, sizeof src, "s%d", i % 7);
    snprintf(pl, sizeof pl, "{\"i\":%d}", i + 1);
    if (app(s, t, src, "t", pl, NULL) != 0) bad++;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  /* Ack everything before 65530. */
  uint64_t *ids = malloc(10000 * sizeof *ids);
  int *rcs = malloc(10000 * sizeof *rcs);
  for (uint64_t base = 1; base < 65530; base += 10000) {
    size_t k = 0;
    for (uint64_t id = base; id < base + 10000 && id < 65530; id++) ids[k++] = id;
    CHECK_EQ(evs_ack_batch(s, NULL, ids, k, rcs), 0);
    for (size_t i = 0; i < k; i++)
      if (rcs[i]) {
        CHECK_EQ(rcs[i], 0);
        break;
      }
  }
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, N - 65529);
  CHECK_EQ(st.next_id, N + 1);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 100);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    const evs_event *e = evs_page_event(p, i);
    if (e->id != 65530 + i) {
      CHECK_EQ(e->id, 65530 + i);
      break;
    }
    char pl[32];
    snprintf(pl, sizeof pl, "{\"i\":%" PRIu64 "}", e->id);
    CHECK_STR(e->payload, pl);
  }
  q.source = "s3"; /* i % 7 == 3, i.e. id % 7 == 4 */
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    const evs_event *e = evs_page_event(p, i);
    CHECK_EQ(e->id % 7, 4);
    CHECK(e->id >= 65530);
  }
  evs_page_free(p);
  const uint64_t probe[] = {1, 65535, 65536, 65537, 65538, N};
  for (int i = 0; i < 6; i++) {
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, probe[i], &e), 0);
    if (e) {
      char pl[32];
      snprintf(pl, sizeof pl, "{\"i\":%" PRIu64 "}", probe[i]);
      CHECK_STR(e->payload, pl);
    }
    evs_event_free(e);
  }
  CHECK_EQ(evs_delete(s, NULL, 65536, NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 65537, NULL), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 65536, &e), EVS_ENOTFOUND);
  q.source = NULL;
  q.cursor = NULL;
  uint64_t got[200];
  long n = inbox_all(s, NULL, &q, got, 200);
  CHECK_EQ(n, N - 65529 - 2);
  if (n > 10) {
    CHECK_EQ(got[5], 65535);
    CHECK_EQ(got[6], 65538);
  }
  free(ids);
  free(rcs);
  evs_store_close(s);
}

/* Events and pages handed out stay valid while the store grows. */
static void t_pointers_stable_while_growing(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.compress_threshold = UINT32_MAX;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  char *p1 = json_of_size(1000, 'h');
  CHECK_EQ(app(s, NULL, "held", "t", p1, NULL), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  REQUIRE(e);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p && evs_page_count(p) == 1);
  char *big = json_of_size(400000, 'g');
  for (int i = 0; i < 100; i++) CHECK_EQ(app(s, NULL, "g", "t", big, NULL), 0);
  CHECK_STR(e->payload, p1);
  CHECK_STR(e->source, "held");
  const evs_event *pe = evs_page_event(p, 0);
  CHECK_STR(pe->payload, p1);
  CHECK_STR(pe->source, "held");
  evs_event *e2 = NULL;
  CHECK_EQ(evs_get(s, NULL, 101, &e2), 0);
  if (e2) CHECK(e2->payload_len == 400000 && !memcmp(e2->payload, big, 400000));
  evs_event_free(e2);
  evs_event_free(e);
  evs_page_free(p);
  free(big);
  free(p1);
  evs_store_close(s);
}

/* An expired key reused in a rolled back transaction. */
static void t_idempotency_expired_key_rollback(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.idempotency_window_us = 1000;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "K", &r), 0); /* 1 */
  c.now = T0 + 2000;
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(app_key(s, t, "K", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(app_key(s, t, "K", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(evs_txn_rollback(t), 0);
  /* id 2 goes to an event with another key, then K is new again. */
  CHECK_EQ(app_key(s, NULL, "other", &r), 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(app_key(s, NULL, "K", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(app_key(s, NULL, "K", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(app_key(s, NULL, "other", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  /* Delete in a txn, rollback: the key is still taken. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_delete(s, t, 3, NULL), 0);
  CHECK_EQ(app_key(s, t, "K", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(evs_txn_rollback(t), 0);
  CHECK_EQ(app_key(s, NULL, "K", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 3);
  /* Many keys (the table grows), then all still found. */
  char key[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "many-%d", i);
    CHECK_EQ(app_key(s, NULL, key, NULL), 0);
  }
  int bad = 0;
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "many-%d", i);
    if (app_key(s, NULL, key, &r) != 0 || !r.duplicate || r.id != (uint64_t)i + 4)
      bad++;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(stats(s).next_id, 5004);
  evs_store_close(s);
}

/* ---- a random model test ----------------------------------------------- */

typedef struct mev {
  int src, typ, prio;
  int64_t created;
  int state; /* 0 pending, 1 acked, 2 deleted */
  int key;   /* -1 none */
} mev;

typedef struct model {
  mev *ev; /* index id-1 */
  size_t n;
  int key_owner[16]; /* id or 0 */
} model;

static uint32_t rng_state = 2463534242u;
static uint32_t rnd32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static const char *const SRCS[] = {"alpha", "beta", "gamma", "delta"};
static const char *const TYPS[] = {"created", "updated", "removed"};

static int model_check(evs_store *s, evs_txn *t, const model *m, int step) {
  int fails = 0;
  uint64_t *ids = malloc((m->n + 1) * sizeof *ids);
  for (int f = 0; f < 8; f++) {
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 1 + rnd32() % 100;
    int fs = -1, ft = -1, fp = 0;
    int64_t lo = 0, hi = 0;
    if (f & 1) fs = (int)(rnd32() % 4);
    if (f & 2) ft = (int)(rnd32() % 3);
    if (f & 4) fp = 1 + (int)(rnd32() % 3);
    if (f == 7 && m->n) {
      lo = m->ev[rnd32() % m->n].created;
      hi = lo + (int64_t)(rnd32() % 200);
      fp = 0;
    }
    if (fs >= 0) q.source = SRCS[fs];
    if (ft >= 0) q.event_type = TYPS[ft];
    q.priority = fp;
    q.created_after_us = lo;
    q.created_before_us = hi;
    long n = inbox_all(s, t, &q, ids, m->n + 1);
    long k = 0;
    int bad = n < 0;
    for (size_t i = 0; i < m->n && !bad; i++) {
      const mev *e = &m->ev[i];
      if (e->state != 0) continue;
      if (fs >= 0 && e->src != fs) continue;
      if (ft >= 0 && e->typ != ft) continue;
      if (fp && e->prio != fp) continue;
      if (lo && !(e->created > lo)) continue;
      if (hi && !(e->created < hi)) continue;
      if (k >= n || ids[k] != i + 1) bad = 1;
      k++;
    }
    if (!bad && k != n) bad = 1;
    if (bad) {
      fprintf(stderr, "  step %d: filter %d (src %d typ %d prio %d) got %ld want %ld\n",
              step, f, fs, ft, fp, n, k);
      fails++;
    }
  }
  free(ids);
  for (int i = 0; i < 5 && m->n; i++) {
    uint64_t id = 1 + rnd32() % m->n;
    evs_event *e = NULL;
    int rc = evs_get(s, t, id, &e);
    const mev *x = &m->ev[id - 1];
    int ok = x->state == 2 ? rc == EVS_ENOTFOUND
                           : (rc == 0 && e->status == x->state &&
                              e->priority == x->prio &&
                              e->created_us == x->created &&
                              !strcmp(e->source, SRCS[x->src]) &&
                              !strcmp(e->event_type, TYPS[x->typ]));
    if (!ok) {
      fprintf(stderr, "  step %d: get %" PRIu64 " rc %d state %d\n", step, id,
              rc, x->state);
      fails++;
    }
    evs_event_free(e);
  }
  return fails;
}

static void t_random_model(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  model m, saved;
  memset(&m, 0, sizeof m);
  memset(&saved, 0, sizeof saved);
  m.ev = calloc(20000, sizeof *m.ev);
  saved.ev = calloc(20000, sizeof *saved.ev);
  evs_txn *t = NULL;
  int fails = 0;
  for (int step = 0; step < 6000 && fails < 5; step++) {
    uint32_t op = rnd32() % 100;
    if (rnd32() % 3 == 0) c.now += rnd32() % 50;
    if (op < 45) { /* append */
      mev x;
      x.src = (int)(rnd32() % 4);
      x.typ = (int)(rnd32() % 3);
      int p = (int)(rnd32() % 4);
      x.prio = p ? p : EVS_PRIORITY_NORMAL;
      x.state = 0;
      x.key = rnd32() % 4 == 0 ? (int)(rnd32() % 16) : -1;
      x.created = c.now;
      char key[16];
      evs_event_in in = ev_make(SRCS[x.src], TYPS[x.typ], "{\"m\":1}");
      in.priority = p;
      if (x.key >= 0) {
        snprintf(key, sizeof key, "key%d", x.key);
        in.idempotency_key = key;
      }
      evs_append_result r;
      int rc = evs_append(s, t, &in, &r);
      if (rc != 0) {
        fprintf(stderr, "  step %d: append rc %d\n", step, rc);
        fails++;
        continue;
      }
      if (x.key >= 0 && m.key_owner[x.key]) {
        if (!r.duplicate || r.id != (uint64_t)m.key_owner[x.key]) {
          fprintf(stderr, "  step %d: expected duplicate of %d\n", step,
                  m.key_owner[x.key]);
          fails++;
        }
        continue;
      }
      if (r.duplicate || r.id != m.n + 1) {
        fprintf(stderr, "  step %d: append id %" PRIu64 " dup %d, want %zu\n",
                step, r.id, r.duplicate, m.n + 1);
        fails++;
        continue;
      }
      m.ev[m.n++] = x;
      if (x.key >= 0) m.key_owner[x.key] = (int)m.n;
    } else if (op < 70 && m.n) { /* ack */
      uint64_t id = 1 + rnd32() % m.n;
      int rc = evs_ack(s, t, id, NULL);
      mev *x = &m.ev[id - 1];
      int want = x->state == 0 ? 0 : x->state == 1 ? EVS_ECONFLICT : EVS_ENOTFOUND;
      if (rc != want) {
        fprintf(stderr, "  step %d: ack %" PRIu64 " rc %d want %d\n", step, id,
                rc, want);
        fails++;
      }
      if (x->state == 0) x->state = 1;
    } else if (op < 78 && m.n) { /* delete */
      uint64_t id = 1 + rnd32() % m.n;
      int existed = -1;
      int rc = evs_delete(s, t, id, &existed);
      mev *x = &m.ev[id - 1];
      if (rc != 0 || existed != (x->state != 2)) {
        fprintf(stderr, "  step %d: delete %" PRIu64 " rc %d existed %d\n",
                step, id, rc, existed);
        fails++;
      }
      if (x->state != 2 && x->key >= 0 && m.key_owner[x->key] == (int)id)
        m.key_owner[x->key] = 0;
      x->state = 2;
    } else if (op < 86) { /* begin / commit / rollback */
      if (!t) {
        if (evs_txn_begin(s, &t) != 0) {
          fails++;
          t = NULL;
          continue;
        }
        saved.n = m.n;
        memcpy(saved.ev, m.ev, m.n * sizeof *m.ev);
        memcpy(saved.key_owner, m.key_owner, sizeof m.key_owner);
      } else if (op < 83) {
        if (evs_txn_commit(t) != 0) fails++;
        t = NULL;
      } else {
        if (evs_txn_rollback(t) != 0) fails++;
        t = NULL;
        m.n = saved.n;
        memcpy(m.ev, saved.ev, m.n * sizeof *m.ev);
        memcpy(m.key_owner, saved.key_owner, sizeof m.key_owner);
      }
    } else if (op < 90) {
      fails += model_check(s, t, &m, step);
    }
  }
  if (t) CHECK_EQ(evs_txn_commit(t), 0);
  fails += model_check(s, NULL, &m, -1);
  CHECK_EQ(fails, 0);
  evs_stats st = stats(s);
  uint64_t pend = 0, ack = 0;
  for (size_t i = 0; i < m.n; i++) {
    pend += m.ev[i].state == 0;
    ack += m.ev[i].state == 1;
  }
  CHECK_EQ(st.pending, pend);
  CHECK_EQ(st.acknowledged, ack);
  CHECK_EQ(st.next_id, m.n + 1);
  free(m.ev);
  free(saved.ev);
  evs_store_close(s);
}

/* ---- transactions ------------------------------------------------------ */

static void t_txn_commit_and_visibility(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0); /* id 1 */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0); /* id 2 */
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  evs_append_result r;
  CHECK_EQ(app(s, t, "in", "txn", "{\"v\":1}", &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  int existed = 0;
  CHECK_EQ(evs_delete(s, t, 2, &existed), 0);
  CHECK_EQ(existed, 1);
  /* Read your own writes. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, t, 3, &e), 0);
  if (e) CHECK_STR(e->source, "in");
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, t, 1, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, t, 2, &e), EVS_ENOTFOUND);
  CHECK(inbox_has(s, t, 3));
  CHECK(!inbox_has(s, t, 1));
  CHECK(!inbox_has(s, t, 2));
  /* Ack inside the txn again: conflict; ack of the new event works. */
  CHECK_EQ(evs_ack(s, t, 1, NULL), EVS_ECONFLICT);
  CHECK_EQ(evs_ack(s, t, 2, NULL), EVS_ENOTFOUND);
  /* Outside the txn (NULL) nothing is visible yet. */
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), EVS_ENOTFOUND);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_PENDING);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  evs_event_free(e);
  CHECK(!inbox_has(s, NULL, 3));
  CHECK(inbox_has(s, NULL, 1));
  CHECK(inbox_has(s, NULL, 2));
  CHECK_EQ(stats(s).pending, 2);
  /* A second append batch inside. */
  evs_event_in ev[2] = {ev_make("b", "t", "{}"), ev_make("b", "t", "{}")};
  evs_append_result res[2];
  CHECK_EQ(evs_append_batch(s, t, ev, 2, res), 0);
  CHECK_EQ(res[0].id, 4);
  CHECK_EQ(res[1].id, 5);
  uint64_t ids[2] = {4, 1};
  int rcs[2];
  CHECK_EQ(evs_ack_batch(s, t, ids, 2, rcs), 0);
  CHECK_EQ(rcs[0], 0);
  CHECK_EQ(rcs[1], EVS_ECONFLICT);
  CHECK_EQ(evs_txn_commit(t), 0);
  /* All visible now. */
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), 0);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), EVS_ENOTFOUND);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
  evs_event_free(e);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2); /* 3, 5 */
  CHECK_EQ(st.acknowledged, 2); /* 1, 4 */
  CHECK_EQ(st.next_id, 6);
  /* An empty transaction commits and rolls back fine. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_txn_rollback(t), 0);
  evs_store_close(s);
}

static void t_txn_rollback(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);  /* 1 */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);  /* 2 */
  CHECK_EQ(app_key(s, NULL, "kept", NULL), 0);      /* 3 */
  evs_stats before = stats(s);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  evs_append_result r;
  CHECK_EQ(app_key(s, t, "rolled", &r), 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(app_key(s, t, "rolled", &r), 0); /* dup inside the txn */
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 2, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 3, NULL), 0); /* forgets "kept" in the txn */
  CHECK_EQ(app_key(s, t, "kept", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 5);
  CHECK_EQ(evs_txn_rollback(t), 0);
  /* Everything is as before. */
  evs_stats after = stats(s);
  CHECK_EQ(after.pending, before.pending);
  CHECK_EQ(after.acknowledged, before.acknowledged);
  CHECK_EQ(after.next_id, before.next_id);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_PENDING);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), EVS_ENOTFOUND);
  CHECK(inbox_has(s, NULL, 1) && inbox_has(s, NULL, 2) &&
        inbox_has(s, NULL, 3));
  CHECK(!inbox_has(s, NULL, 4));
  /* Keys: "rolled" is free, "kept" still belongs to 3. */
  CHECK_EQ(app_key(s, NULL, "kept", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(app_key(s, NULL, "rolled", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 4); /* ids stay dense */
  evs_store_close(s);

  /* Payload stats do not count rolled back data. */
  s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{\"a\":1}", NULL), 0);
  before = stats(s);
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  char *big = json_of_size(5000, 'r');
  CHECK_EQ(app(s, t, "s", "t", big, NULL), 0);
  free(big);
  CHECK_EQ(evs_txn_rollback(t), 0);
  after = stats(s);
  CHECK_EQ(after.payload_bytes, before.payload_bytes);
  CHECK_EQ(after.payload_stored_bytes, before.payload_stored_bytes);
  evs_store_close(s);
}

static void t_txn_misuse(void) {
  evs_store *s = open_mem(NULL), *s2 = open_mem(NULL);
  REQUIRE(s && s2);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(app(s2, NULL, "s", "t", "{}", NULL), 0);
  evs_txn *t = NULL, *t2 = (evs_txn *)1;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  /* Nested begin on the same thread. */
  CHECK_EQ(evs_txn_begin(s, &t2), EVS_EDEADLK);
  CHECK(t2 == NULL || t2 == (evs_txn *)1);
  /* Autocommit writes from the thread holding the txn. */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), EVS_EDEADLK);
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), EVS_EDEADLK);
  CHECK_EQ(evs_delete(s, NULL, 1, NULL), EVS_EDEADLK);
  evs_event_in ev = ev_make("s", "t", "{}");
  evs_append_result res;
  CHECK_EQ(evs_append_batch(s, NULL, &ev, 1, &res), EVS_EDEADLK);
  uint64_t id = 1;
  int rc1;
  CHECK_EQ(evs_ack_batch(s, NULL, &id, 1, &rc1), EVS_EDEADLK);
  /* Autocommit reads are fine (committed state). */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  evs_event_free(e);
  /* Another store is not affected by this store's txn. */
  CHECK_EQ(app(s2, NULL, "s", "t", "{}", NULL), 0);
  /* The txn of store s used with store s2. */
  CHECK_EQ(app(s2, t, "s", "t", "{}", NULL), EVS_EMISUSE);
  e = NULL;
  CHECK_EQ(evs_get(s2, t, 1, &e), EVS_EMISUSE);
  CHECK_EQ(evs_ack(s2, t, 1, NULL), EVS_EMISUSE);
  CHECK_EQ(evs_delete(s2, t, 1, NULL), EVS_EMISUSE);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s2, t, &q, &p), EVS_EMISUSE);
  evs_page_free(p);
  /* The txn still works on its own store. */
  evs_append_result r;
  CHECK_EQ(app(s, t, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(evs_txn_commit(t), 0);
  /* After commit, autocommit writes work again. */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(stats(s2).next_id, 3);
  /* A nested begin also fails inside a txn that has writes, and the txn is
  ** unharmed. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(app(s, t, "s", "t", "{}", NULL), 0);
  t2 = NULL;
  CHECK_EQ(evs_txn_begin(s, &t2), EVS_EDEADLK);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(stats(s).next_id, 5);
  /* Close with an open transaction: rolled back, handle freed. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s2, &t), 0);
  CHECK_EQ(app(s2, t, "s", "t", "{}", NULL), 0);
  evs_store_close(s2);
  evs_store_close(s);
}

/* Every misuse of a transaction handle that can be detected is
** EVS_EMISUSE, and leaves the transaction (if any) unharmed. A finished
** handle cannot be: commit and rollback free it (see the header). */
static void t_txn_misuse_codes(void) {
  CHECK_EQ(evs_txn_commit(NULL), EVS_EMISUSE);
  CHECK_EQ(evs_txn_rollback(NULL), EVS_EMISUSE);
  CHECK_EQ(evs_txn_savepoint(NULL, 0), EVS_EMISUSE);
  CHECK_EQ(evs_txn_release(NULL, 0), EVS_EMISUSE);
  CHECK_EQ(evs_txn_rollback_to(NULL, 0), EVS_EMISUSE);
  CHECK_CONTAINS(evs_errmsg(NULL), "NULL");
  char *dir = t_tmpdir();
  evs_store *s = NULL, *s2 = open_mem(NULL);
  REQUIRE(evs_store_open(dir, NULL, &s) == 0 && s2);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  evs_txn *t = NULL;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  CHECK_EQ(app(s, t, "s", "t", "{}", NULL), 0);
  const int bad[] = {-1, INT32_MIN, 1000001, INT32_MAX};
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(evs_txn_savepoint(t, bad[i]), EVS_EMISUSE);
    CHECK_CONTAINS(evs_errmsg(s), "out of range");
    CHECK_EQ(evs_txn_release(t, bad[i]), EVS_EMISUSE);
    CHECK_EQ(evs_txn_rollback_to(t, bad[i]), EVS_EMISUSE);
  }
  CHECK_EQ(evs_txn_savepoint(t, 1000000), 0);
  CHECK_EQ(evs_txn_release(t, 1000000), 0);
  /* The transaction of s passed with s2: every call taking one. */
  evs_event_in ev = ev_make("s", "t", "{}");
  evs_append_result res;
  CHECK_EQ(evs_append_batch(s2, t, &ev, 1, &res), EVS_EMISUSE);
  CHECK_CONTAINS(evs_errmsg(s2), "does not belong to this store");
  uint64_t id = 1;
  int rc1;
  CHECK_EQ(evs_ack_batch(s2, t, &id, 1, &rc1), EVS_EMISUSE);
  /* What needs the writer, or a lock taken before it, from the thread
  ** holding the transaction: refused at once, never a wait. */
  CHECK_EQ(evs_checkpoint(s), EVS_EDEADLK);
  evs_compact_report cr;
  CHECK_EQ(evs_compact(s, &cr), EVS_EDEADLK);
  CHECK_EQ(evs_verify(s, NULL), EVS_EDEADLK);
  /* Unharmed: the transaction's append commits with the next id. */
  evs_append_result r;
  CHECK_EQ(app(s, t, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(stats(s).pending, 3);
  CHECK_EQ(stats(s2).pending, 0);
  CHECK_EQ(evs_checkpoint(s), 0);
  CHECK_EQ(evs_store_close(s), 0);
  evs_store_close(s2);
  t_rmdir(dir);
}

static void t_txn_large(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  enum { N = 10000 };
  int fails = 0;
  for (int i = 0; i < N; i++) {
    char pl[64], key[32];
    snprintf(pl, sizeof pl, "{\"i\":%d}", i);
    snprintf(key, sizeof key, "k%d", i);
    evs_event_in in = ev_make("bulk", "t", pl);
    in.idempotency_key = key;
    evs_append_result r;
    if (evs_append(s, t, &in, &r) != 0 || r.id != (uint64_t)i + 1) fails++;
  }
  CHECK_EQ(fails, 0);
  CHECK_EQ(stats(s).pending, 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, N);
  CHECK_EQ(st.next_id, N + 1);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 7777, &e), 0);
  if (e) {
    CHECK_STR(e->payload, "{\"i\":7776}");
    CHECK_STR(e->idempotency_key, "k7776");
  }
  evs_event_free(e);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "k9999", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 10000);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  CHECK_EQ(inbox_count(s, NULL, &q), N);
  evs_store_close(s);
}

/* ---- threads ----------------------------------------------------------- */

typedef struct thr_arg {
  evs_store *s;
  int n;
  uint64_t *ids;
  int errors;
  atomic_int *flag;
} thr_arg;

static void *thr_append(void *p) {
  thr_arg *a = p;
  for (int i = 0; i < a->n; i++) {
    evs_append_result r;
    if (app(a->s, NULL, "thr", "t", "{\"x\":1}", &r) != 0) {
      a->errors++;
      continue;
    }
    a->ids[i] = r.id;
    if (i % 50 == 0) {
      evs_query q;
      memset(&q, 0, sizeof q);
      evs_page *pg = NULL;
      if (evs_inbox(a->s, NULL, &q, &pg) != 0) a->errors++;
      evs_page_free(pg);
      evs_stats st;
      if (evs_stats_get(a->s, &st) != 0) a->errors++;
    }
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void t_threads_concurrent_appends(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { NT = 4, PER = 300 };
  pthread_t th[NT];
  thr_arg args[NT];
  uint64_t *all = calloc(NT * PER, sizeof *all);
  for (int i = 0; i < NT; i++) {
    args[i].s = s;
    args[i].n = PER;
    args[i].ids = all + i * PER;
    args[i].errors = 0;
    args[i].flag = NULL;
    pthread_create(&th[i], NULL, thr_append, &args[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  int errors = 0;
  for (int i = 0; i < NT; i++) errors += args[i].errors;
  CHECK_EQ(errors, 0);
  qsort(all, NT * PER, sizeof *all, cmp_u64);
  int bad = 0;
  for (int i = 0; i < NT * PER; i++)
    if (all[i] != (uint64_t)i + 1) bad++;
  CHECK_EQ(bad, 0);
  /* Each thread's own ids are increasing. */
  for (int t = 0; t < NT; t++)
    for (int i = 1; i < PER; i++)
      if (args[t].ids[i] <= args[t].ids[i - 1]) {
        CHECK(args[t].ids[i] > args[t].ids[i - 1]);
        break;
      }
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, NT * PER);
  CHECK_EQ(st.next_id, NT * PER + 1);
  free(all);
  evs_store_close(s);
}

typedef struct txn_thr {
  evs_store *s;
  atomic_int stage;
  int rc_get, rc_begin, rc_app, rc_commit;
  uint64_t id;
} txn_thr;

static void *thr_reader(void *p) {
  txn_thr *a = p;
  evs_event *e = NULL;
  a->rc_get = evs_get(a->s, NULL, 2, &e);
  evs_event_free(e);
  return NULL;
}

static void *thr_writer(void *p) {
  txn_thr *a = p;
  evs_txn *t = NULL;
  atomic_store(&a->stage, 1);
  a->rc_begin = evs_txn_begin(a->s, &t);
  atomic_store(&a->stage, 2);
  if (a->rc_begin == 0) {
    evs_append_result r;
    memset(&r, 0, sizeof r);
    a->rc_app = app(a->s, t, "other", "thread", "{}", &r);
    a->id = r.id;
    a->rc_commit = evs_txn_commit(t);
  }
  return NULL;
}

static void t_txn_threads(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  CHECK_EQ(app(s, t, "s", "t", "{}", NULL), 0); /* id 2, uncommitted */
  /* A reader in another thread is not blocked and does not see it. */
  txn_thr a;
  memset(&a, 0, sizeof a);
  a.s = s;
  atomic_init(&a.stage, 0);
  a.rc_get = 12345;
  pthread_t th;
  pthread_create(&th, NULL, thr_reader, &a);
  pthread_join(th, NULL);
  CHECK_EQ(a.rc_get, EVS_ENOTFOUND);
  /* A writer in another thread waits for the transaction. */
  pthread_create(&th, NULL, thr_writer, &a);
  while (atomic_load(&a.stage) < 1) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  struct timespec ts = {0, 100000000}; /* 100 ms */
  nanosleep(&ts, NULL);
  CHECK_EQ(atomic_load(&a.stage), 1); /* still waiting */
  CHECK_EQ(evs_txn_commit(t), 0);
  pthread_join(th, NULL);
  CHECK_EQ(a.rc_begin, 0);
  CHECK_EQ(a.rc_app, 0);
  CHECK_EQ(a.rc_commit, 0);
  CHECK_EQ(a.id, 3);
  /* Now the reader sees id 2. */
  a.rc_get = 12345;
  pthread_create(&th, NULL, thr_reader, &a);
  pthread_join(th, NULL);
  CHECK_EQ(a.rc_get, 0);
  evs_store_close(s);
}


/* Readers see a transaction's writes all at once. */
typedef struct vis_arg {
  evs_store *s;
  atomic_int done;
  int torn;
  atomic_int reads;
} vis_arg;

static void *thr_vis_reader(void *p) {
  vis_arg *a = p;
  while (!atomic_load(&a->done)) {
    evs_stats st;
    if (evs_stats_get(a->s, &st) != 0) continue;
    if (st.pending % 10 != 0 || (st.next_id - 1) % 10 != 0 ||
        st.acknowledged % 10 != 0)
      a->torn++;
    uint64_t hi = st.next_id - 1;
    if (hi >= 10) {
      /* The last event of a committed batch exists: so does its first. */
      evs_event *e = NULL;
      if (evs_get(a->s, NULL, hi - 9, &e) != 0) a->torn++;
      evs_event_free(e);
    }
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 100;
    q.created_after_us = 0;
    evs_page *pg = NULL;
    if (evs_inbox(a->s, NULL, &q, &pg) == 0) {
      size_t n = evs_page_count(pg);
      if (n < 100 && n % 10 != 0) a->torn++;
      /* Acks go oldest first in tens: the first pending id is 10k+1. */
      if (n && evs_page_event(pg, 0)->id % 10 != 1) a->torn++;
    }
    evs_page_free(pg);
    atomic_fetch_add(&a->reads, 1);
  }
  return NULL;
}

static void t_threads_atomic_visibility(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  vis_arg a;
  memset(&a, 0, sizeof a);
  a.s = s;
  atomic_init(&a.done, 0);
  atomic_init(&a.reads, 0);
  pthread_t th;
  pthread_create(&th, NULL, thr_vis_reader, &a);
  int bad = 0, rounds = 0;
  uint64_t acked_upto = 0;
  for (int round = 0; round < 300 || (atomic_load(&a.reads) < 200 && round < 20000);
       round++) {
    rounds++;
    if (round % 3 == 2) {
      /* Ack the 10 oldest pending events in one transaction. */
      uint64_t ids[10];
      int rcs[10];
      for (int i = 0; i < 10; i++) ids[i] = ++acked_upto;
      if (evs_ack_batch(s, NULL, ids, 10, rcs) != 0) bad++;
      for (int i = 0; i < 10; i++)
        if (rcs[i] != 0) bad++;
      rounds--;
      continue;
    }
    if (round % 2) {
      evs_event_in ev[10];
      evs_append_result res[10];
      for (int i = 0; i < 10; i++) ev[i] = ev_make("v", "t", "{\"b\":1}");
      if (evs_append_batch(s, NULL, ev, 10, res) != 0) bad++;
    } else {
      evs_txn *t = NULL;
      if (evs_txn_begin(s, &t) != 0) {
        bad++;
        continue;
      }
      for (int i = 0; i < 10; i++)
        if (app(s, t, "v", "t", "{\"t\":1}", NULL) != 0) bad++;
      if (evs_txn_commit(t) != 0) bad++;
    }
  }
  /* Under valgrind (one thread runs at a time) the reader may not have
  ** been scheduled yet: give it up to 10 s to read the final state at
  ** least once, so the check below means something. */
  for (int k = 0; k < 1000 && atomic_load(&a.reads) == 0; k++) {
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  atomic_store(&a.done, 1);
  pthread_join(th, NULL);
  CHECK_EQ(bad, 0);
  CHECK_EQ(a.torn, 0);
  CHECK(atomic_load(&a.reads) > 0);
  CHECK_EQ(stats(s).pending, (uint64_t)rounds * 10 - acked_upto);
  CHECK_EQ(stats(s).acknowledged, acked_upto);
  evs_store_close(s);
}

/* Paging with a cursor while other threads append: nothing skipped or
** repeated, in id order. */
typedef struct pager_arg {
  evs_store *s;
  atomic_int writers_done;
  uint64_t *seen;
  long nseen, cap;
  int errors;
} pager_arg;

static void *thr_pager(void *p) {
  pager_arg *a = p;
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 7;
  evs_page *pg = NULL;
  char *cur = NULL;
  for (;;) {
    int done = atomic_load(&a->writers_done);
    q.cursor = cur;
    if (evs_inbox(a->s, NULL, &q, &pg) != 0) {
      a->errors++;
      break;
    }
    for (size_t i = 0; i < evs_page_count(pg); i++)
      if (a->nseen < a->cap) a->seen[a->nseen++] = evs_page_event(pg, i)->id;
    free(cur);
    cur = strdup(evs_page_cursor(pg));
    if (done && !evs_page_more(pg) && evs_page_count(pg) == 0) break;
  }
  free(cur);
  evs_page_free(pg);
  return NULL;
}

static void *thr_writer_n(void *p) {
  thr_arg *a = p;
  for (int i = 0; i < a->n; i++)
    if (app(a->s, NULL, "w", "t", "{\"w\":1}", NULL) != 0) a->errors++;
  return NULL;
}

static void run_paging_with_writers(evs_store *s, int nwriters, int per) {
  pager_arg pa;
  memset(&pa, 0, sizeof pa);
  pa.s = s;
  atomic_init(&pa.writers_done, 0);
  pa.cap = (long)nwriters * per + 10;
  pa.seen = calloc((size_t)pa.cap, sizeof *pa.seen);
  pthread_t pt, wt[8];
  thr_arg wa[8];
  pthread_create(&pt, NULL, thr_pager, &pa);
  for (int i = 0; i < nwriters; i++) {
    memset(&wa[i], 0, sizeof wa[i]);
    wa[i].s = s;
    wa[i].n = per;
    pthread_create(&wt[i], NULL, thr_writer_n, &wa[i]);
  }
  int errors = 0;
  for (int i = 0; i < nwriters; i++) {
    pthread_join(wt[i], NULL);
    errors += wa[i].errors;
  }
  atomic_store(&pa.writers_done, 1);
  pthread_join(pt, NULL);
  CHECK_EQ(errors, 0);
  CHECK_EQ(pa.errors, 0);
  CHECK_EQ(pa.nseen, (long)nwriters * per);
  for (long i = 0; i < pa.nseen; i++)
    if (pa.seen[i] != (uint64_t)i + 1) {
      fprintf(stderr, "  seen[%ld] = %" PRIu64 "\n", i, pa.seen[i]);
      CHECK_EQ(pa.seen[i], i + 1);
      break;
    }
  free(pa.seen);
}

static void t_threads_paging_with_writers(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  run_paging_with_writers(s, 4, 500);
  evs_store_close(s);
}

/* Several threads append the same keys at once: each key is stored once and
** every thread gets the same id for it. */
typedef struct key_arg {
  evs_store *s;
  int start;
  uint64_t ids[200];
  int dups, errors;
} key_arg;

static void *thr_keys(void *p) {
  key_arg *a = p;
  for (int j = 0; j < 200; j++) {
    int i = (j + a->start) % 200;
    char key[16];
    snprintf(key, sizeof key, "race-%d", i);
    evs_append_result r;
    if (app_key(a->s, NULL, key, &r) != 0) {
      a->errors++;
      continue;
    }
    a->ids[i] = r.id;
    a->dups += r.duplicate;
  }
  return NULL;
}

static void t_threads_idempotency_race(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { NT = 4 };
  key_arg *a = calloc(NT, sizeof *a);
  pthread_t th[NT];
  for (int i = 0; i < NT; i++) {
    a[i].s = s;
    a[i].start = i * 37;
    pthread_create(&th[i], NULL, thr_keys, &a[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
  int dups = 0, errors = 0, mismatch = 0;
  for (int i = 0; i < NT; i++) {
    dups += a[i].dups;
    errors += a[i].errors;
    for (int k = 0; k < 200; k++)
      if (a[i].ids[k] != a[0].ids[k]) mismatch++;
  }
  CHECK_EQ(errors, 0);
  CHECK_EQ(dups, (NT - 1) * 200);
  CHECK_EQ(mismatch, 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 200);
  CHECK_EQ(st.next_id, 201);
  free(a);
  evs_store_close(s);
}

static void *thr_fail_call(void *p) {
  evs_store *s = p;
  /* A failure in this thread does not change the main thread's message. */
  app(s, NULL, "s", "t", "[not an object]", NULL);
  return NULL;
}

static void t_errmsg_per_thread(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "", "t", "{}", NULL), EVS_EINVAL);
  char saved[512];
  snprintf(saved, sizeof saved, "%s", evs_errmsg(s));
  CHECK_CONTAINS(saved, "source");
  pthread_t th;
  pthread_create(&th, NULL, thr_fail_call, s);
  pthread_join(th, NULL);
  CHECK_STR(evs_errmsg(s), saved);
  /* The message is for that store: another store does not show it. */
  evs_store *s2 = open_mem(NULL);
  REQUIRE(s2);
  CHECK(strstr(evs_errmsg(s2), "source") == NULL);
  CHECK(evs_errmsg(s2) != NULL);
  evs_store_close(s2);
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
  RUN(t_validate_source_and_type);
  RUN(t_validate_payload);
  RUN(t_payload_size_limit);
  RUN(t_skip_json_validation);
  RUN(t_validate_metadata);
  RUN(t_validate_key_and_priority);
  RUN(t_validate_key_utf8);
  RUN(t_null_arguments);
  RUN(t_get_roundtrip);
  RUN(t_compression);
  RUN(t_idempotency_duplicate);
  RUN(t_idempotency_window);
  RUN(t_retention);
  RUN(t_ack);
  RUN(t_ack_batch);
  RUN(t_delete);
  RUN(t_append_batch);
  RUN(t_append_batch_parallel);
  RUN(t_inbox_basic);
  RUN(t_inbox_filters);
  RUN(t_inbox_filter_before_limit);
  RUN(t_inbox_paging);
  RUN(t_inbox_cursor_errors);
  RUN(t_inbox_cursor_memory_stores);
  RUN(t_inbox_filter_txn_rollback);
  RUN(t_inbox_mostly_acked);
  RUN(t_inbox_time_bounds_ties);
  RUN(t_many_events);
  RUN(t_pointers_stable_while_growing);
  RUN(t_idempotency_expired_key_rollback);
  RUN(t_random_model);
  RUN(t_txn_commit_and_visibility);
  RUN(t_txn_rollback);
  RUN(t_txn_misuse);
  RUN(t_txn_misuse_codes);
  RUN(t_txn_large);
  RUN(t_threads_concurrent_appends);
  RUN(t_txn_threads);
  RUN(t_threads_atomic_visibility);
  RUN(t_threads_paging_with_writers);
  RUN(t_threads_idempotency_race);
  RUN(t_errmsg_per_thread);
  RUN(t_stats);
  return TEST_EXIT();
}
