/*
** test_dict.c: the small-payload dictionary (evs_options.dict_compress).
**
** Trained in the background from the first small payloads, written to
** evstore.dict before any record uses it, then used for every small
** payload: every payload reads back byte for byte (get, inbox pages,
** export-like scans, after reopen with the option off, after compaction,
** in memory); a damaged or missing dictionary file leaves the store open
** and every other event readable, and the reads that need it fail with
** EVS_ECORRUPT naming the dictionary; no new dictionary is trained over a
** damaged one; an I/O failure at every call of writing the file leaves
** payloads raw and the store working.
*/
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "evstore.h"
#include "io.h"
#include "testlib.h"

/* Order-like JSON, varied enough that a dictionary has work to do. */
static size_t payload_of(char *buf, size_t cap, unsigned i) {
  uint64_t x = 0x9E3779B97F4A7C15ULL * (i + 1);
  x ^= x >> 29;
  return (size_t)snprintf(buf, cap,
                          "{\"order_id\":%u,\"customer\":{\"id\":\"cus_%012llx\",\"email\":"
                          "\"user%u@example.com\",\"name\":\"Customer %u\"},\"items\":[{\"sku\":"
                          "\"SKU-%05u\",\"qty\":%u,\"price_cents\":%u}],\"currency\":\"USD\"}",
                          i, (unsigned long long)(x & 0xffffffffffffULL), (unsigned)(x % 9973),
                          (unsigned)(x % 9973), (unsigned)(x % 100000), 1 + (unsigned)(x % 9),
                          100 + (unsigned)(x % 99900));
}

/* Append events first..last (ids follow), in batches of 100. */
static void append_range(evs_store *s, unsigned first, unsigned last) {
  static char bufs[100][512];
  evs_event_in in[100];
  evs_append_result res[100];
  for (unsigned b = first; b <= last; b += 100) {
    unsigned m = last - b + 1 < 100 ? last - b + 1 : 100;
    for (unsigned k = 0; k < m; k++) {
      size_t n = payload_of(bufs[k], sizeof bufs[k], b + k);
      in[k] = (evs_event_in){.source = (b + k) % 3 ? "shop" : "billing",
                             .event_type = "order.created", .payload = bufs[k],
                             .payload_len = n};
    }
    int rc = evs_append_batch(s, NULL, in, m, res);
    CHECK_EQ(rc, 0);
    for (unsigned k = 0; k < m; k++) CHECK_EQ(res[k].rc, 0);
  }
}

/* Wait (up to 20 s) for the background training to end one way or the
** other. */
static int wait_dict(evs_store *s) {
  for (int i = 0; i < 2000; i++) {
    evs_stats st = stats(s);
    if (st.dict_state != EVS_DICT_NONE) return st.dict_state;
    struct timespec nap = {0, 10 * 1000000};
    nanosleep(&nap, NULL);
  }
  return EVS_DICT_NONE;
}

/* Every event 1..n reads back exactly, by get and by inbox pages. */
static void check_all(evs_store *s, unsigned n) {
  char want[512];
  for (unsigned i = 1; i <= n; i++) {
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, i, &e);
    CHECK_EQ(rc, 0);
    if (rc) {
      fprintf(stderr, "  get %u: %s\n", i, evs_errmsg(s));
      return;
    }
    size_t wn = payload_of(want, sizeof want, i);
    CHECK_EQ(e->payload_len, wn);
    CHECK(e->payload_len == wn && !memcmp(e->payload, want, wn) && !e->payload[wn]);
    evs_event_free(e);
  }
  evs_query q = {0};
  q.limit = 100;
  evs_page *pg = NULL;
  unsigned seen = 0;
  for (;;) {
    REQUIRE(evs_inbox(s, NULL, &q, &pg) == 0);
    size_t c = evs_page_count(pg);
    for (size_t k = 0; k < c; k++) {
      const evs_event *e = evs_page_event(pg, k);
      size_t wn = payload_of(want, sizeof want, (unsigned)e->id);
      CHECK(e->payload_len == wn && !memcmp(e->payload, want, wn));
      seen++;
    }
    if (!evs_page_more(pg) || !c) break;
    q.cursor = evs_page_cursor(pg);
  }
  evs_page_free(pg);
  CHECK_EQ(seen, n);
}

static evs_options dict_opts(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.dict_compress = 1;
  o.auto_compact_percent = -1;
  return o;
}

/* ---- tests -------------------------------------------------------------- */

static void t_dict_option_checked(void) {
  evs_options o = dict_opts(), r;
  o.dict_compress = 2;
  CHECK_EQ(evs_options_resolve(&o, &r), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(NULL), "dict_compress");
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(NULL, &o, &s), EVS_EINVAL);
  CHECK(s == NULL);
}

/* Off by default: no sampling, no file, payloads raw. */
static void t_dict_off_by_default(void) {
  char *dir = t_tmpdir();
  evs_store *s;
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  append_range(s, 1, 3000);
  evs_stats st = stats(s);
  CHECK_EQ(st.dict_state, EVS_DICT_NONE);
  CHECK_EQ(st.payload_stored_bytes, st.payload_bytes);
  CHECK_EQ(evs_store_close(s), 0);
  CHECK(access(t_path(dir, "evstore.dict"), F_OK) != 0);
  t_rmdir(dir);
}

static void t_dict_trained_used_and_kept(void) {
  char *dir = t_tmpdir();
  evs_options o = dict_opts();
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  append_range(s, 1, 2500);
  REQUIRE(wait_dict(s) == EVS_DICT_LOADED);
  evs_stats st0 = stats(s);
  CHECK(st0.dict_id != 0);
  CHECK(access(t_path(dir, "evstore.dict"), F_OK) == 0);
  append_range(s, 2501, 6000);
  evs_stats st = stats(s);
  uint64_t raw = st.payload_bytes - st0.payload_bytes,
           stored = st.payload_stored_bytes - st0.payload_stored_bytes;
  fprintf(stderr, "info: dictionary %u: %llu payload bytes stored as %llu (%.2fx)\n",
          st.dict_id, (unsigned long long)raw, (unsigned long long)stored,
          (double)raw / (double)stored);
  CHECK(stored * 2 < raw); /* order JSON compresses > 2x against it */
  check_all(s, 6000);
  CHECK_EQ(evs_verify(s, NULL), 0);
  /* A single append takes the same path. */
  char p[512];
  size_t n = payload_of(p, sizeof p, 6001);
  evs_event_in ev = {.source = "shop", .event_type = "order.created", .payload = p,
                     .payload_len = n};
  CHECK_EQ(evs_append(s, NULL, &ev, NULL), 0);
  uint32_t id = st.dict_id;
  CHECK_EQ(evs_store_close(s), 0);

  /* Reopened with the option off: read with the dictionary, write raw. */
  evs_options off = dict_opts();
  off.dict_compress = -1; /* off: a setting of the store, changed here */
  REQUIRE(evs_store_open(dir, &off, &s) == 0);
  st = stats(s);
  CHECK_EQ(st.dict_state, EVS_DICT_LOADED);
  CHECK_EQ(st.dict_id, id);
  check_all(s, 6001);
  uint64_t before = st.payload_stored_bytes, before_raw = st.payload_bytes;
  append_range(s, 6002, 6100);
  st = stats(s);
  CHECK_EQ(st.payload_stored_bytes - before, st.payload_bytes - before_raw);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);

  /* And on again: the same dictionary, never another. */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  append_range(s, 6101, 9000);
  st = stats(s);
  CHECK_EQ(st.dict_state, EVS_DICT_LOADED);
  CHECK_EQ(st.dict_id, id);
  check_all(s, 9000);
  /* Compaction copies compressed records as they are. */
  for (unsigned i = 1; i <= 3000; i++) CHECK_EQ(evs_delete(s, NULL, i, NULL), 0);
  evs_compact_report rep;
  CHECK_EQ(evs_compact(s, &rep), 0);
  CHECK_EQ(evs_verify(s, NULL), 0);
  for (unsigned i = 3001; i <= 9000; i += 7) {
    char want[512];
    size_t wn = payload_of(want, sizeof want, i);
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, i, &e), 0);
    CHECK(e && e->payload_len == wn && !memcmp(e->payload, want, wn));
    evs_event_free(e);
  }
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A process that appends a few events and exits gets a dictionary too:
** the count survives opens (the samples come from the log). */
static void t_dict_across_opens(void) {
  char *dir = t_tmpdir();
  evs_options o = dict_opts();
  int st = EVS_DICT_NONE;
  for (unsigned k = 0; k < 6 && st == EVS_DICT_NONE; k++) {
    evs_store *s;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    append_range(s, 1 + 500 * k, 500 * (k + 1));
    if (k == 4) st = wait_dict(s); /* 2500 events: trained */
    else CHECK_EQ(stats(s).dict_state, EVS_DICT_NONE);
    CHECK_EQ(evs_store_close(s), 0);
  }
  CHECK_EQ(st, EVS_DICT_LOADED);
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  append_range(s, 2501, 3000);
  check_all(s, 3000);
  evs_stats x = stats(s);
  CHECK(x.payload_stored_bytes < x.payload_bytes);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* Only large payloads: nothing to train on, so nothing is trained (and
** the store tries again later). */
static void t_dict_only_large(void) {
  evs_options o = dict_opts();
  evs_store *s;
  REQUIRE(evs_store_open(NULL, &o, &s) == 0);
  char *p = malloc(3000);
  REQUIRE(p);
  for (unsigned i = 0; i < 2100; i++) {
    int n = snprintf(p, 3000, "{\"i\":%u,\"blob\":\"", i);
    for (int k = 0; k < 2000; k++) p[n++] = (char)('a' + (i * 7 + (unsigned)k * 13) % 26);
    memcpy(p + n, "\"}", 3);
    evs_event_in ev = {.source = "a", .event_type = "b", .payload = p};
    CHECK_EQ(evs_append(s, NULL, &ev, NULL), 0);
  }
  struct timespec nap = {0, 300 * 1000000};
  nanosleep(&nap, NULL);
  CHECK_EQ(stats(s).dict_state, EVS_DICT_NONE);
  append_range(s, 2101, 4500); /* small ones now */
  CHECK_EQ(wait_dict(s), EVS_DICT_LOADED);
  free(p);
  CHECK_EQ(evs_store_close(s), 0);
}

static void t_dict_in_memory(void) {
  evs_options o = dict_opts();
  evs_store *s;
  REQUIRE(evs_store_open(NULL, &o, &s) == 0);
  append_range(s, 1, 2500);
  REQUIRE(wait_dict(s) == EVS_DICT_LOADED);
  append_range(s, 2501, 4000);
  evs_stats st = stats(s);
  CHECK(st.payload_stored_bytes * 10 < st.payload_bytes * 8);
  check_all(s, 4000);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
}

/* A store with dictionary-compressed payloads in events 2600..4000. */
static char *dict_store(uint32_t *id) {
  char *dir = t_tmpdir();
  evs_options o = dict_opts();
  evs_store *s;
  if (evs_store_open(dir, &o, &s)) return dir;
  append_range(s, 1, 2500);
  CHECK_EQ(wait_dict(s), EVS_DICT_LOADED);
  append_range(s, 2501, 4000);
  *id = stats(s).dict_id;
  CHECK_EQ(evs_store_close(s), 0);
  return dir;
}

static void t_dict_damaged_file(void) {
  /* Damage anywhere (header, dictionary, checksum): open still works. */
  for (int k = 0; k < 6; k++) {
    uint32_t id = 0;
    char *dir = dict_store(&id);
    REQUIRE(id != 0);
    struct stat sb;
    REQUIRE(stat(t_path(dir, "evstore.dict"), &sb) == 0);
    off_t offs[] = {0, 20, 24, 100, sb.st_size / 2, sb.st_size - 1};
    CHECK_EQ(t_flip_byte(t_path(dir, "evstore.dict"), offs[k], 0x40), 0);
    REQUIRE(stat(t_path(dir, "evstore.dict"), &sb) == 0);
    evs_options o = dict_opts();
    evs_store *s;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    evs_stats st = stats(s);
    CHECK_EQ(st.dict_state, EVS_DICT_CORRUPT);
    CHECK_EQ(st.dict_id, 0);
    /* Raw events read; compressed ones fail, saying why. */
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
    evs_event_free(e);
    e = NULL;
    CHECK_EQ(evs_get(s, NULL, 3000, &e), EVS_ECORRUPT);
    CHECK_CONTAINS(evs_errmsg(s), "dictionary");
    CHECK_CONTAINS(evs_errmsg(s), "damaged");
    evs_query q = {0};
    q.limit = 100;
    q.min_id = 2900;
    evs_page *pg = NULL;
    CHECK_EQ(evs_inbox(s, NULL, &q, &pg), EVS_ECORRUPT);
    evs_page_free(pg);
    CHECK_EQ(evs_verify(s, NULL), EVS_ECORRUPT);
    /* Appends go on, raw; nothing is trained over the damaged file. */
    append_range(s, 4001, 7000);
    struct timespec nap = {0, 100 * 1000000};
    nanosleep(&nap, NULL);
    st = stats(s);
    CHECK_EQ(st.dict_state, EVS_DICT_CORRUPT);
    e = NULL;
    CHECK_EQ(evs_get(s, NULL, 6999, &e), 0);
    evs_event_free(e);
    CHECK_EQ(evs_store_close(s), 0);
    struct stat sb2;
    CHECK(stat(t_path(dir, "evstore.dict"), &sb2) == 0 && sb2.st_size == sb.st_size &&
          sb2.st_mtim.tv_sec == sb.st_mtim.tv_sec && sb2.st_mtim.tv_nsec == sb.st_mtim.tv_nsec);
    CHECK_EQ(t_flip_byte(t_path(dir, "evstore.dict"), offs[k], 0x40), 0); /* repair: all is back */
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    CHECK_EQ(stats(s).dict_id, id);
    check_all(s, 7000);
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
  }
}

/* A forged file (checksum recomputed) whose dictionary zstd refuses or
** that does not fit the payloads: the store opens, reads fail cleanly. */
static void t_dict_forged_file(void) {
  uint32_t id = 0;
  char *dir = dict_store(&id);
  REQUIRE(id != 0);
  int fd = open(t_path(dir, "evstore.dict"), O_RDWR);
  REQUIRE(fd >= 0);
  struct stat sb;
  REQUIRE(fstat(fd, &sb) == 0 && sb.st_size > 4096);
  size_t n = (size_t)sb.st_size;
  unsigned char *b = malloc(n);
  REQUIRE(b && pread(fd, b, n, 0) == (ssize_t)n);
  for (size_t i = 48; i < 2048; i++) b[i] = (unsigned char)(i * 131 + 7);
  uint64_t h = XXH3_64bits(b, n - 8);
  for (int i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(h >> (8 * i));
  REQUIRE(pwrite(fd, b, n, 0) == (ssize_t)n);
  close(fd);
  free(b);
  evs_options o = dict_opts();
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  int st = stats(s).dict_state;
  CHECK(st == EVS_DICT_CORRUPT || st == EVS_DICT_LOADED);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  evs_event_free(e);
  e = NULL;
  int rc = evs_get(s, NULL, 3000, &e);
  CHECK(rc == EVS_ECORRUPT || rc == 0);
  evs_event_free(e);
  fprintf(stderr, "info: forged dictionary: state %d, read of a compressed payload %d\n", st,
          rc);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void t_dict_missing_file(void) {
  uint32_t id = 0;
  char *dir = dict_store(&id);
  REQUIRE(id != 0);
  REQUIRE(unlink(t_path(dir, "evstore.dict")) == 0);
  evs_options off = dict_opts();
  off.dict_compress = -1; /* off: a setting of the store, changed here */
  evs_store *s;
  REQUIRE(evs_store_open(dir, &off, &s) == 0);
  CHECK_EQ(stats(s).dict_state, EVS_DICT_NONE);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3500, &e), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(s), "has none");
  CHECK_EQ(evs_verify(s, NULL), EVS_ECORRUPT);
  /* New payloads, raw while the option is off: what the next training
  ** samples. (Appended after an open with the option on, they raced the
  ** training that open starts at once, which could sample only the
  ** payloads the lost dictionary was trained on and rebuild it, id and
  ** all.) */
  append_range(s, 4001, 6500);
  CHECK_EQ(evs_store_close(s), 0);
  /* With the option on a new dictionary is trained; the old payloads
  ** still say which one they need. */
  evs_options on = dict_opts();
  REQUIRE(evs_store_open(dir, &on, &s) == 0);
  CHECK_EQ(wait_dict(s), EVS_DICT_LOADED);
  CHECK(stats(s).dict_id != id);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3500, &e), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(s), "the store's is");
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* Payloads a dictionary cannot be trained on: the store says so and
** keeps them raw. */
static void t_dict_training_fails(void) {
  evs_options o = dict_opts();
  evs_store *s;
  REQUIRE(evs_store_open(NULL, &o, &s) == 0);
  const char *p = "{\"same\":\"every time, every time, every time, every time, every\"}";
  evs_event_in ev = {.source = "a", .event_type = "b", .payload = p};
  for (int i = 0; i < 2100; i++) CHECK_EQ(evs_append(s, NULL, &ev, NULL), 0);
  int st = wait_dict(s);
  CHECK(st == EVS_DICT_FAILED || st == EVS_DICT_LOADED);
  if (st == EVS_DICT_FAILED) {
    evs_stats x = stats(s);
    CHECK_EQ(x.maintenance_error, 0); /* not an error of the store */
    CHECK_EQ(evs_append(s, NULL, &ev, NULL), 0);
    x = stats(s);
    CHECK_EQ(x.payload_stored_bytes, x.payload_bytes);
  }
  fprintf(stderr, "info: identical samples: dictionary state %d\n", st);
  CHECK_EQ(evs_store_close(s), 0);
}

/* ---- an I/O failure at every call of writing evstore.dict --------------- */

static struct {
  int fail_at, calls, fired, dict_fd, renamed;
  pthread_mutex_t mu;
} FD = {.dict_fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

/* Counts only the dictionary's calls (the writer's log I/O runs alongside
** on the caller's thread). */
static int dict_call(void) {
  int f = ++FD.calls == FD.fail_at;
  FD.fired |= f;
  return f;
}
static int d_open(void *c, const char *p, int fl, int m) {
  pthread_mutex_lock(&FD.mu);
  int fail = 0, isdict = strstr(p, "evstore.dict") != NULL && (fl & O_WRONLY);
  if (isdict) fail = dict_call();
  pthread_mutex_unlock(&FD.mu);
  if (fail) return -EIO;
  int fd = evs_io_posix.open(NULL, p, fl, m);
  if (isdict) FD.dict_fd = fd;
  return fd;
}
static int d_close(void *c, int fd) {
  if (fd == FD.dict_fd) FD.dict_fd = -1;
  return evs_io_posix.close(NULL, fd);
}
static ssize_t d_pwrite(void *c, int fd, const void *b, size_t n, off_t o) {
  pthread_mutex_lock(&FD.mu);
  int fail = fd == FD.dict_fd && dict_call();
  pthread_mutex_unlock(&FD.mu);
  return fail ? -ENOSPC : evs_io_posix.pwrite(NULL, fd, b, n, o);
}
static ssize_t d_pread(void *c, int fd, void *b, size_t n, off_t o) {
  return evs_io_posix.pread(NULL, fd, b, n, o);
}
static int d_fdatasync(void *c, int fd) {
  pthread_mutex_lock(&FD.mu);
  int fail = fd == FD.dict_fd && dict_call();
  pthread_mutex_unlock(&FD.mu);
  return fail ? -EIO : evs_io_posix.fdatasync(NULL, fd);
}
static int d_fsync(void *c, int fd) {
  /* The directory sync right after the dictionary's rename. */
  pthread_mutex_lock(&FD.mu);
  int fail = FD.renamed && dict_call();
  FD.renamed = 0;
  pthread_mutex_unlock(&FD.mu);
  return fail ? -EIO : evs_io_posix.fsync(NULL, fd);
}
static int d_ftruncate(void *c, int fd, off_t l) { return evs_io_posix.ftruncate(NULL, fd, l); }
static int d_rename(void *c, const char *a, const char *b) {
  pthread_mutex_lock(&FD.mu);
  int isdict = strstr(a, "evstore.dict") != NULL, fail = isdict && dict_call();
  if (isdict && !fail) FD.renamed = 1;
  pthread_mutex_unlock(&FD.mu);
  return fail ? -EIO : evs_io_posix.rename(NULL, a, b);
}
static int d_unlink(void *c, const char *p) { return evs_io_posix.unlink(NULL, p); }
static int d_fsize(void *c, int fd, uint64_t *sz) { return evs_io_posix.fsize(NULL, fd, sz); }
static const evs_io dict_io = {d_open,      d_close,  d_pwrite, d_pread,  d_fdatasync,
                               d_fsync,     d_ftruncate, d_rename, d_unlink, d_fsize, NULL};

static void t_dict_io_failures(void) {
  int runs = 0;
  for (int k = 1; k < 20; k++) {
    char *dir = t_tmpdir();
    pthread_mutex_lock(&FD.mu);
    FD.fail_at = k;
    FD.calls = FD.fired = FD.renamed = 0;
    FD.dict_fd = -1;
    pthread_mutex_unlock(&FD.mu);
    evs_options o = dict_opts();
    evs_store *s;
    REQUIRE(evs_store_open_io(dir, &o, &dict_io, &s) == 0);
    append_range(s, 1, 2500);
    int st = wait_dict(s);
    pthread_mutex_lock(&FD.mu);
    int fired = FD.fired;
    pthread_mutex_unlock(&FD.mu);
    runs++;
    append_range(s, 2501, 3000);
    evs_stats x = stats(s);
    if (fired) {
      CHECK_EQ(st, EVS_DICT_FAILED);
      CHECK(x.maintenance_error == EVS_EIO || x.maintenance_error == EVS_ENOSPC);
      CHECK_EQ(x.payload_stored_bytes, x.payload_bytes); /* all raw */
    } else {
      CHECK_EQ(st, EVS_DICT_LOADED);
    }
    check_all(s, 3000);
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    /* Reopen: every event; a file that landed before its directory sync
    ** failed is simply used from now on. */
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    x = stats(s);
    CHECK(x.dict_state == EVS_DICT_LOADED || x.dict_state == EVS_DICT_NONE);
    check_all(s, 3000);
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    CHECK(access(t_path(dir, "evstore.dict.tmp"), F_OK) != 0);
    t_rmdir(dir);
    if (!fired) break;
  }
  fprintf(stderr, "info: dictionary file I/O failures: %d runs\n", runs);
  CHECK(runs >= 5); /* open, write, sync, rename, directory sync */
}

int main(void) {
  RUN(t_dict_option_checked);
  RUN(t_dict_off_by_default);
  RUN(t_dict_trained_used_and_kept);
  RUN(t_dict_in_memory);
  RUN(t_dict_across_opens);
  RUN(t_dict_only_large);
  RUN(t_dict_damaged_file);
  RUN(t_dict_forged_file);
  RUN(t_dict_missing_file);
  RUN(t_dict_training_fails);
  RUN(t_dict_io_failures);
  return TEST_EXIT();
}
