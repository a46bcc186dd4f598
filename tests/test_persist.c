/*
** test_persist.c: what survives a close and reopen, recovery from a torn or
** garbage tail, detection of corruption, and the directory lock.
** Works on the public API (include/evstore.h) plus the file names of a store
** directory: evstore.meta, LOCK and %016llx.evlog segments.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evstore.h"
#include "testlib.h"

/* ---- helpers ----------------------------------------------------------- */

static evs_store *open_dir(const char *dir, const evs_options *o) {
  evs_store *s = NULL;
  int rc = evs_store_open(dir, o, &s);
  if (rc != 0) {
    fprintf(stderr, "  open %s: rc %d: %s\n", dir, rc, evs_errmsg(NULL));
    return NULL;
  }
  return s;
}

/* Autocommit appends of a fixed source and type. */
static int put(evs_store *s, const char *payload, evs_append_result *r) {
  return app(s, NULL, "src", "type", payload, r);
}

static int put_key(evs_store *s, const char *key, evs_append_result *r) {
  evs_event_in e = ev_in("src", "keyed", "{\"k\":true}", key);
  return evs_append(s, NULL, &e, r);
}

static int exists(evs_store *s, uint64_t id) {
  evs_event *e = NULL;
  int rc = evs_get(s, NULL, id, &e);
  evs_event_free(e);
  if (rc != 0 && rc != EVS_ENOTFOUND)
    fprintf(stderr, "  evs_get(%" PRIu64 "): rc %d\n", id, rc);
  return rc == 0;
}

static int status_of(evs_store *s, uint64_t id) {
  evs_event *e = NULL;
  int rc = evs_get(s, NULL, id, &e);
  int st = rc == 0 && e ? e->status : -1;
  evs_event_free(e);
  return st;
}

/* A JSON object of about n bytes whose text varies with `seed` (so it does
** not compress away entirely). */
static char *payload_of(size_t n, unsigned seed) {
  char *p = malloc(n + 32);
  size_t k = (size_t)sprintf(p, "{\"seed\":%u,\"d\":\"", seed);
  uint32_t x = seed * 2654435761u + 1;
  while (k < n) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[k++] = "abcdefghijklmnopqrstuvwxyz0123456789"[x % 36];
  }
  p[k++] = '"';
  p[k++] = '}';
  p[k] = 0;
  return p;
}

static void seg_path(char *buf, size_t n, const char *dir, unsigned long long seg) {
  snprintf(buf, n, "%s/%016llx.evlog", dir, seg);
}

/* Number of the highest segment file (0 if none) and how many exist. */
static unsigned long long last_segment(const char *dir, int *count) {
  DIR *d = opendir(dir);
  unsigned long long max = 0;
  int n = 0;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len == 16 + 6 && !strcmp(e->d_name + 16, ".evlog")) {
      unsigned long long v = strtoull(e->d_name, NULL, 16);
      if (v > max) max = v;
      n++;
    }
  }
  closedir(d);
  if (count) *count = n;
  return max;
}

/* Tear a segment's tail as a crash would, and so also drop the store's
** checkpoint: a clean close writes one that vouches for the whole log,
** and open refuses to cut what it vouches for (see
** t_recovery_no_cut_below_checkpoint). */
static void drop_checkpoint_beside(const char *path) {
  char ck[800];
  const char *slash = strrchr(path, '/');
  snprintf(ck, sizeof ck, "%.*s/evstore.checkpoint", slash ? (int)(slash - path) : 1,
           slash ? path : ".");
  unlink(ck);
}

static int truncate_by(const char *path, long long by) {
  long long sz = t_file_size(path);
  if (sz < by) return -1;
  drop_checkpoint_beside(path);
  return truncate(path, sz - by);
}

static int append_bytes(const char *path, const void *buf, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  if (fd < 0) return -1;
  ssize_t w = write(fd, buf, n);
  close(fd);
  return w == (ssize_t)n ? 0 : -1;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static int write_file(const char *path, const char *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(buf, 1, n, f) == n;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* ---- layout ------------------------------------------------------------ */

static void t_files_layout(void) {
  char *dir = t_tmpdir();
  char path[700];
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  CHECK_EQ(put(s, "{\"a\":1}", NULL), 0);
  snprintf(path, sizeof path, "%s/evstore.meta", dir);
  CHECK(t_file_size(path) > 0);
  snprintf(path, sizeof path, "%s/LOCK", dir);
  CHECK(t_file_size(path) >= 0);
  seg_path(path, sizeof path, dir, 1);
  CHECK(t_file_size(path) > 0);
  int n = 0;
  CHECK_EQ(last_segment(dir, &n), 1);
  CHECK_EQ(n, 1);
  CHECK_EQ(stats(s).segments, 1);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);

  /* A small segment_size makes many segments, numbered 1, 2, 3, ... */
  dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  s = open_dir(dir, &o);
  REQUIRE(s);
  for (unsigned i = 0; i < 300; i++) {
    char *p = payload_of(200, i);
    CHECK_EQ(put(s, p, NULL), 0);
    free(p);
  }
  unsigned long long last = last_segment(dir, &n);
  CHECK(n >= 10);
  CHECK_EQ(last, (unsigned long long)n);
  for (unsigned long long i = 1; i <= last; i++) {
    seg_path(path, sizeof path, dir, i);
    long long sz = t_file_size(path);
    CHECK(sz > 0);
    /* A segment may overflow by one record, not by much more. */
    CHECK(sz <= 4096 + 1024);
  }
  CHECK_EQ(evs_store_sync(s), 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.segments, (uint64_t)n);
  long long total = 0;
  for (unsigned long long i = 1; i <= last; i++) {
    seg_path(path, sizeof path, dir, i);
    total += t_file_size(path);
  }
  CHECK((long long)st.disk_bytes >= total);
  CHECK((long long)st.disk_bytes <= total + 64 * 1024);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- reopen ------------------------------------------------------------ */

typedef struct expect_ev {
  uint64_t id;
  int64_t created_us, acked_us;
  int deleted;
  int priority;
  char *source, *type, *payload, *metadata, *key;
  size_t payload_len;
} expect_ev;

static void check_event(evs_store *s, const expect_ev *x) {
  evs_event *e = NULL;
  int rc = evs_get(s, NULL, x->id, &e);
  if (x->deleted) {
    CHECK_EQ(rc, EVS_ENOTFOUND);
    evs_event_free(e);
    return;
  }
  CHECK_EQ(rc, 0);
  if (rc != 0 || !e) {
    fprintf(stderr, "  event %" PRIu64 " missing\n", x->id);
    return;
  }
  CHECK_EQ(e->id, x->id);
  CHECK_EQ(e->created_us, x->created_us);
  CHECK_EQ(e->acknowledged_us, x->acked_us);
  CHECK_EQ(e->status,
           x->acked_us ? EVS_STATUS_ACKNOWLEDGED : EVS_STATUS_PENDING);
  CHECK_EQ(e->priority, x->priority ? x->priority : EVS_PRIORITY_NORMAL);
  CHECK_STR(e->source, x->source);
  CHECK_STR(e->event_type, x->type);
  CHECK_EQ(e->payload_len, x->payload_len);
  CHECK(e->payload_len == x->payload_len &&
        memcmp(e->payload, x->payload, x->payload_len) == 0);
  if (x->metadata)
    CHECK_STR(e->metadata, x->metadata);
  else
    CHECK(e->metadata == NULL);
  if (x->key)
    CHECK_STR(e->idempotency_key, x->key);
  else
    CHECK(e->idempotency_key == NULL);
  evs_event_free(e);
}

static void t_reopen_everything(void) {
  char *dir = t_tmpdir();
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  enum { N = 60 };
  expect_ev x[N];
  memset(x, 0, sizeof x);
  /* A compressible 100 KB payload. */
  char *big = malloc(100 * 1024 + 64);
  {
    size_t k = (size_t)sprintf(big, "{\"rows\":\"");
    while (k < 100 * 1024) {
      big[k] = "0123456789"[k % 10];
      k++;
    }
    big[k++] = '"';
    big[k++] = '}';
    big[k] = 0;
  }
  for (int i = 0; i < N; i++) {
    c.now = T0 + 1000 * i;
    char src[32], type[32], key[32], meta[64];
    snprintf(src, sizeof src, "source-%d", i % 4);
    snprintf(type, sizeof type, "type.%d", i % 3);
    snprintf(key, sizeof key, "key-%d", i);
    snprintf(meta, sizeof meta, "{\"i\":%d,\"tenant\":\"t%d\"}", i, i % 2);
    char *pl = i == 7 ? strdup(big) : payload_of(50 + 37 * (size_t)i, (unsigned)i);
    evs_event_in in = ev_make(src, type, pl);
    in.priority = i % 4;
    if (i % 2) in.metadata = meta;
    if (i % 3 == 0) in.idempotency_key = key;
    evs_append_result r;
    CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
    CHECK_EQ(r.id, (uint64_t)i + 1);
    x[i].id = r.id;
    x[i].created_us = c.now;
    x[i].priority = in.priority;
    x[i].source = strdup(src);
    x[i].type = strdup(type);
    x[i].payload = pl;
    x[i].payload_len = strlen(pl);
    x[i].metadata = in.metadata ? strdup(meta) : NULL;
    x[i].key = in.idempotency_key ? strdup(key) : NULL;
  }
  /* Acks (single, batch, in a txn) and deletes. */
  c.now = T0 + 100 * SEC;
  for (int i = 0; i < N; i += 5) {
    CHECK_EQ(evs_ack(s, NULL, x[i].id, NULL), 0);
    x[i].acked_us = c.now;
  }
  c.now += SEC;
  uint64_t ids[3] = {x[1].id, x[2].id, x[3].id};
  int rcs[3];
  CHECK_EQ(evs_ack_batch(s, NULL, ids, 3, rcs), 0);
  for (int i = 1; i <= 3; i++) x[i].acked_us = c.now;
  c.now += SEC;
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  CHECK_EQ(evs_ack(s, t, x[11].id, NULL), 0);
  x[11].acked_us = c.now;
  CHECK_EQ(evs_delete(s, t, x[12].id, NULL), 0); /* key-12 forgotten */
  x[12].deleted = 1;
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(evs_delete(s, NULL, x[4].id, NULL), 0);
  x[4].deleted = 1;
  CHECK_EQ(evs_delete(s, NULL, x[5].id, NULL), 0); /* acked, then deleted */
  x[5].deleted = 1;
  evs_stats before = stats(s);
  CHECK_EQ(evs_store_close(s), 0);

  for (int round = 0; round < 2; round++) {
    c.now = T0 + 200 * SEC;
    s = open_dir(dir, &o);
    REQUIRE(s);
    for (int i = 0; i < N; i++) check_event(s, &x[i]);
    evs_stats st = stats(s);
    CHECK_EQ(st.pending, before.pending + (uint64_t)round);
    CHECK_EQ(st.acknowledged, before.acknowledged);
    CHECK_EQ(st.next_id, N + 1 + round);
    CHECK_EQ(st.recovered_bytes_dropped, 0);
    CHECK_EQ(st.recovered_records_dropped, 0);
    CHECK(st.segments >= 1);
    /* The inbox has the same order. */
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 100;
    evs_page *p = NULL;
    CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
    REQUIRE(p);
    size_t k = 0;
    for (int i = 0; i < N; i++) {
      if (x[i].deleted || x[i].acked_us) continue;
      if (k < evs_page_count(p)) CHECK_EQ(evs_page_event(p, k)->id, x[i].id);
      k++;
    }
    if (round == 1) k++; /* id N+1 */
    CHECK_EQ(evs_page_count(p), k);
    evs_page_free(p);
    if (round == 0) {
      /* Idempotency keys survived: key-0 is a duplicate of id 1 (acked). */
      evs_append_result r;
      CHECK_EQ(put_key(s, "key-0", &r), 0);
      CHECK_EQ(r.duplicate, 1);
      CHECK_EQ(r.id, x[0].id);
      CHECK_EQ(r.created_us, x[0].created_us);
      CHECK_EQ(put_key(s, "key-57", &r), 0);
      CHECK_EQ(r.duplicate, 1);
      CHECK_EQ(r.id, x[57].id);
      /* key-12's event was deleted: the key is free. Ids continue. */
      CHECK_EQ(put_key(s, "key-12", &r), 0);
      CHECK_EQ(r.duplicate, 0);
      CHECK_EQ(r.id, N + 1);
      CHECK_EQ(evs_store_close(s), 0);
    } else {
      /* The event appended in round 0 (id N+1) owns key-12 now. */
      evs_append_result r;
      CHECK_EQ(put_key(s, "key-12", &r), 0);
      CHECK_EQ(r.duplicate, 1);
      CHECK_EQ(r.id, N + 1);
      CHECK_EQ(put(s, "{}", &r), 0);
      CHECK_EQ(r.id, N + 2);
      CHECK_EQ(evs_store_close(s), 0);
    }
  }
  for (int i = 0; i < N; i++) {
    free(x[i].source);
    free(x[i].type);
    free(x[i].payload);
    free(x[i].metadata);
    free(x[i].key);
  }
  free(big);
  t_rmdir(dir);
}

static void t_ids_not_reused_after_reopen(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  for (int i = 0; i < 3; i++) CHECK_EQ(put(s, "{}", NULL), 0);
  CHECK_EQ(evs_delete(s, NULL, 3, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  CHECK_EQ(stats(s).next_id, 4);
  evs_append_result r;
  CHECK_EQ(put(s, "{}", &r), 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void t_sync_modes(void) {
  const int modes[] = {EVS_SYNC_DEFAULT, EVS_SYNC_OFF, EVS_SYNC_NORMAL,
                       EVS_SYNC_FULL};
  for (int m = 0; m < 4; m++) {
    char *dir = t_tmpdir();
    evs_options o;
    memset(&o, 0, sizeof o);
    o.sync = modes[m];
    evs_store *s = open_dir(dir, &o);
    REQUIRE(s);
    for (int i = 0; i < 20; i++) CHECK_EQ(put(s, "{\"x\":1}", NULL), 0);
    evs_event_in ev[5];
    evs_append_result res[5];
    for (int i = 0; i < 5; i++) ev[i] = ev_make("b", "t", "{\"batch\":1}");
    CHECK_EQ(evs_append_batch(s, NULL, ev, 5, res), 0);
    CHECK_EQ(evs_store_sync(s), 0);
    for (uint64_t id = 1; id <= 5; id++) CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
    CHECK_EQ(evs_delete(s, NULL, 6, NULL), 0);
    evs_txn *t = NULL;
    CHECK_EQ(evs_txn_begin(s, &t), 0);
    CHECK_EQ(evs_append(s, t, &ev[0], NULL), 0); /* id 26 */
    CHECK_EQ(evs_txn_commit(t), 0);
    CHECK_EQ(evs_store_close(s), 0);

    s = open_dir(dir, NULL); /* another sync mode on reopen is fine */
    REQUIRE(s);
    evs_stats st = stats(s);
    if (st.pending != 20 || st.acknowledged != 5 || st.next_id != 27)
      fprintf(stderr, "  sync mode %d\n", modes[m]);
    CHECK_EQ(st.pending, 20);
    CHECK_EQ(st.acknowledged, 5);
    CHECK_EQ(st.next_id, 27);
    CHECK_EQ(status_of(s, 3), EVS_STATUS_ACKNOWLEDGED);
    CHECK(!exists(s, 6));
    CHECK(exists(s, 26));
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
  }
}

static void t_reopen_many_segments(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  o.auto_compact_percent = -1; /* acked events must stay readable here */
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  enum { N = 400 };
  for (unsigned i = 0; i < N; i++) {
    char *p = payload_of(100 + i % 50, i);
    CHECK_EQ(put(s, p, NULL), 0);
    free(p);
  }
  CHECK_EQ(evs_store_close(s), 0);
  int nseg = 0;
  last_segment(dir, &nseg);
  CHECK(nseg >= 5);

  s = open_dir(dir, &o);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, N);
  CHECK_EQ(st.next_id, N + 1);
  CHECK(st.segments >= (uint64_t)nseg);
  int bad = 0;
  for (unsigned i = 0; i < N; i++) {
    evs_event *e = NULL;
    char *p = payload_of(100 + i % 50, i);
    if (evs_get(s, NULL, i + 1, &e) != 0 || strcmp(e->payload, p) != 0) bad++;
    free(p);
    evs_event_free(e);
  }
  CHECK_EQ(bad, 0);
  /* Ack the even ids, append more, reopen with the default segment size. */
  for (uint64_t id = 2; id <= N; id += 2) CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
  for (unsigned i = 0; i < 50; i++) CHECK_EQ(put(s, "{\"more\":1}", NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  st = stats(s);
  CHECK_EQ(st.pending, N / 2 + 50);
  CHECK_EQ(st.acknowledged, N / 2);
  CHECK_EQ(st.next_id, N + 51);
  CHECK_EQ(status_of(s, 2), EVS_STATUS_ACKNOWLEDGED);
  CHECK_EQ(status_of(s, N), EVS_STATUS_ACKNOWLEDGED);
  CHECK_EQ(status_of(s, N + 50), EVS_STATUS_PENDING);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void t_cursor_survives_reopen(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  for (int i = 0; i < 30; i++) CHECK_EQ(put(s, "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 10;
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  char *cur = strdup(evs_page_cursor(p));
  evs_page_free(p);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  q.cursor = cur;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  if (p) {
    CHECK_EQ(evs_page_count(p), 10);
    if (evs_page_count(p)) CHECK_EQ(evs_page_event(p, 0)->id, 11);
  }
  evs_page_free(p);
  CHECK_EQ(evs_store_close(s), 0);
  /* ... but not in another store. */
  char *dir2 = t_tmpdir();
  s = open_dir(dir2, NULL);
  REQUIRE(s);
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_ECURSOR);
  CHECK_CONTAINS(evs_errmsg(s), "another store");
  evs_page_free(p);
  CHECK_EQ(evs_store_close(s), 0);
  free(cur);
  t_rmdir(dir);
  t_rmdir(dir2);
}

static void t_rollback_not_persisted(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  CHECK_EQ(put(s, "{}", NULL), 0);
  CHECK_EQ(put_key(s, "k2", NULL), 0);
  evs_event_in in = ev_make("a", "b", "{}");
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(put(s, "{\"rolled\":1}", NULL), EVS_EDEADLK);
  CHECK_EQ(evs_append(s, t, &in, NULL), 0);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 2, NULL), 0);
  CHECK_EQ(evs_txn_rollback(t), 0);
  /* An open transaction at close is rolled back. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_append(s, t, &in, NULL), 0);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);

  s = open_dir(dir, NULL);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2);
  CHECK_EQ(st.acknowledged, 0);
  CHECK_EQ(st.next_id, 3);
  CHECK(!exists(s, 3));
  CHECK_EQ(status_of(s, 1), EVS_STATUS_PENDING);
  evs_append_result r;
  CHECK_EQ(put_key(s, "k2", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static void t_large_txn_persists(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  enum { N = 10000 };
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  int fails = 0;
  for (int i = 0; i < N; i++) {
    char pl[48];
    snprintf(pl, sizeof pl, "{\"i\":%d}", i);
    evs_event_in in = ev_make("bulk", "t", pl);
    if (evs_append(s, t, &in, NULL) != 0) fails++;
  }
  CHECK_EQ(fails, 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, N);
  CHECK_EQ(st.next_id, N + 1);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, N, &e), 0);
  if (e) CHECK_STR(e->payload, "{\"i\":9999}");
  evs_event_free(e);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);

  /* A transaction bigger than a segment. */
  dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  s = open_dir(dir, &o);
  REQUIRE(s);
  CHECK_EQ(put(s, "{\"first\":1}", NULL), 0);
  enum { M = 300 };
  evs_event_in *ev = calloc(M, sizeof *ev);
  evs_append_result *res = calloc(M, sizeof *res);
  char **pls = calloc(M, sizeof *pls);
  for (unsigned i = 0; i < M; i++) {
    pls[i] = payload_of(150, i);
    ev[i] = ev_make("big", "batch", pls[i]);
  }
  CHECK_EQ(evs_append_batch(s, NULL, ev, M, res), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, &o);
  REQUIRE(s);
  st = stats(s);
  CHECK_EQ(st.pending, M + 1);
  CHECK_EQ(st.next_id, M + 2);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  int bad = 0;
  for (unsigned i = 0; i < M; i++) {
    e = NULL;
    if (evs_get(s, NULL, i + 2, &e) != 0 || strcmp(e->payload, pls[i])) bad++;
    evs_event_free(e);
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(evs_store_close(s), 0);
  for (unsigned i = 0; i < M; i++) free(pls[i]);
  free(pls);
  free(ev);
  free(res);
  t_rmdir(dir);
}

static void t_window_and_retention_after_reopen(void) {
  char *dir = t_tmpdir();
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  CHECK_EQ(put_key(s, "k", NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  c.now = T0 + HOUR;
  s = open_dir(dir, &o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(put_key(s, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 1);
  CHECK_EQ(r.created_us, T0);
  CHECK_EQ(evs_store_close(s), 0);
  c.now = T0 + 25 * HOUR;
  s = open_dir(dir, &o);
  REQUIRE(s);
  CHECK_EQ(put_key(s, "k", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(evs_store_close(s), 0);
  /* Retention applies to events read back from disk. */
  o.retention_us = 10 * HOUR;
  c.now = T0 + 26 * HOUR;
  s = open_dir(dir, &o);
  REQUIRE(s);
  CHECK(!exists(s, 1));
  CHECK(exists(s, 2));
  CHECK_EQ(evs_store_close(s), 0);
  /* The clock going backwards across a reopen: created_us still does not
  ** go back. */
  c.now = T0;
  o.retention_us = -1;
  s = open_dir(dir, &o);
  REQUIRE(s);
  CHECK_EQ(put(s, "{}", &r), 0);
  CHECK(r.created_us >= T0 + 25 * HOUR);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}


/* ---- more persistence -------------------------------------------------- */

/* A transaction big enough to be written out before commit, rolled back. */
static void t_large_txn_rollback_persists_nothing(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  for (int i = 0; i < 5; i++) CHECK_EQ(put(s, "{\"keep\":1}", NULL), 0);
  char seg[700];
  seg_path(seg, sizeof seg, dir, 1);
  long long size_before = t_file_size(seg);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  char *pl = payload_of(500, 3);
  int bad = 0;
  for (int i = 0; i < 5000; i++) {
    evs_event_in in = ev_make("rolled", "back", pl);
    if (evs_append(s, t, &in, NULL) != 0) bad++;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_txn_rollback(t), 0);
  CHECK_EQ(t_file_size(seg), size_before);
  evs_append_result r;
  CHECK_EQ(put(s, "{\"after\":1}", &r), 0);
  CHECK_EQ(r.id, 6);
  /* Readers never saw the flushed, uncommitted records. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 7, &e), EVS_ENOTFOUND);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 6);
  CHECK_EQ(st.acknowledged, 0);
  CHECK_EQ(st.next_id, 7);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(st.recovered_records_dropped, 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 6, &e), 0);
  if (e) CHECK_STR(e->payload, "{\"after\":1}");
  evs_event_free(e);
  /* A committed large transaction after that. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  for (int i = 0; i < 5000; i++) {
    evs_event_in in = ev_make("kept", "big", pl);
    if (evs_append(s, t, &in, NULL) != 0) bad++;
  }
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  st = stats(s);
  CHECK_EQ(st.pending, 5006);
  CHECK_EQ(st.next_id, 5007);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 5006, &e), 0);
  if (e) CHECK_STR(e->payload, pl);
  evs_event_free(e);
  CHECK_EQ(evs_store_close(s), 0);
  free(pl);
  t_rmdir(dir);
}

/* A process dies in the middle of a big transaction (records already
** written to the file, no commit): recovery drops them. */
static void t_crash_during_large_txn(void) {
  char *dir = t_tmpdir();
  int pfd[2];
  REQUIRE(pipe(pfd) == 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    evs_store *s = NULL;
    char ok = 'n';
    if (evs_store_open(dir, NULL, &s) == 0) {
      ok = 'y';
      for (int i = 0; i < 10; i++)
        if (put(s, "{\"committed\":1}", NULL) != 0) ok = 'n';
      evs_txn *t = NULL;
      if (evs_txn_begin(s, &t) != 0) ok = 'n';
      char *pl = payload_of(400, 9);
      for (int i = 0; t && i < 4000; i++) {
        evs_event_in in = ev_make("lost", "t", pl);
        if (evs_append(s, t, &in, NULL) != 0) ok = 'n';
      }
    }
    if (write(pfd[1], &ok, 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  close(pfd[1]);
  char ok = 0;
  CHECK(read(pfd[0], &ok, 1) == 1);
  close(pfd[0]);
  CHECK_EQ(ok, 'y');
  char seg[700];
  seg_path(seg, sizeof seg, dir, last_segment(dir, NULL));
  long long sz = t_file_size(seg);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 10);
  CHECK_EQ(st.next_id, 11);
  CHECK(!exists(s, 11));
  /* If the child had written part of the transaction, it was dropped. */
  if (sz > 100000) {
    CHECK(st.recovered_bytes_dropped > 0);
    CHECK(st.recovered_records_dropped >= 1);
  }
  CHECK_EQ(put(s, "{}", NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  CHECK_EQ(stats(s).pending, 11);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A write fails (file size limit): the store reports it, then refuses
** writes with EVS_EREADONLY; reads still work; committed data survives. */
/* A write that fails (here: the file size limit) is undone by truncating
** the segment back; the store keeps working, and a reopen holds exactly
** the committed events. (EVS_EREADONLY is for failed syncs and failed
** undos; t_fault_* in the reliability suite covers those.) */
static void t_io_failure_keeps_working(void) {
  char *dir = t_tmpdir();
  int pfd[2];
  REQUIRE(pipe(pfd) == 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    int res[8] = {0};
    char msg[256] = "";
    signal(SIGXFSZ, SIG_IGN);
    evs_options o;
    memset(&o, 0, sizeof o);
    o.compress_threshold = UINT32_MAX;
    evs_store *s = NULL;
    res[0] = evs_store_open(dir, &o, &s);
    if (res[0] == 0) {
      struct rlimit rl = {200 * 1024, 200 * 1024};
      setrlimit(RLIMIT_FSIZE, &rl);
      char *pl = payload_of(10000, 1);
      int ok = 0, rc = 0;
      for (int i = 0; i < 100; i++) {
        rc = put(s, pl, NULL);
        if (rc != 0) break;
        ok++;
      }
      res[1] = ok;
      res[2] = rc;
      snprintf(msg, sizeof msg, "%s", evs_errmsg(s));
      res[3] = put(s, "{}", NULL);
      evs_txn *t = NULL;
      res[4] = evs_txn_begin(s, &t);
      if (res[4] == 0) evs_txn_rollback(t);
      evs_event *e = NULL;
      res[5] = evs_get(s, NULL, 1, &e);
      evs_event_free(e);
      res[6] = evs_ack(s, NULL, 1, NULL);
      const char *m = evs_errmsg(s);
      res[7] = m && m[0];
      evs_store_close(s);
      free(pl);
    }
    if (write(pfd[1], res, sizeof res) != (ssize_t)sizeof res) _exit(3);
    if (write(pfd[1], msg, sizeof msg) != (ssize_t)sizeof msg) _exit(3);
    _exit(0);
  }
  close(pfd[1]);
  int res[8] = {0};
  char msg[256] = "";
  CHECK(read(pfd[0], res, sizeof res) == (ssize_t)sizeof res);
  CHECK(read(pfd[0], msg, sizeof msg) == (ssize_t)sizeof msg);
  msg[255] = 0;
  close(pfd[0]);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK_EQ(res[0], 0);
  CHECK(res[1] >= 5 && res[1] < 100);
  CHECK(res[2] == EVS_EIO || res[2] == EVS_ENOSPC);
  CHECK_CONTAINS(msg, ".evlog"); /* the message names the file */
  CHECK_EQ(res[3], 0); /* a small append still fits under the limit */
  CHECK_EQ(res[4], 0);
  CHECK_EQ(res[5], 0);
  CHECK_EQ(res[6], 0);
  CHECK_EQ(res[7], 1);
  /* Reopen without the limit: exactly the committed events. */
  uint64_t events = (uint64_t)res[1] + 1;
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, events - (res[6] == 0));
  CHECK_EQ(st.next_id, events + 1);
  evs_append_result r;
  CHECK_EQ(put(s, "{}", &r), 0);
  CHECK_EQ(r.id, events + 1);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* Deleting a prefix of the log, then reopening. */
static void t_deleted_prefix_reopen(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  for (int i = 0; i < 150; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", i + 1);
    CHECK_EQ(put_key(s, key, NULL), 0);
  }
  for (uint64_t id = 1; id <= 100; id++) CHECK_EQ(evs_delete(s, NULL, id, NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 101, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 49);
  CHECK_EQ(st.acknowledged, 1);
  CHECK_EQ(st.next_id, 151);
  CHECK(!exists(s, 100));
  CHECK_EQ(status_of(s, 101), EVS_STATUS_ACKNOWLEDGED);
  CHECK(exists(s, 150));
  evs_append_result r;
  CHECK_EQ(put_key(s, "k1", &r), 0); /* its event was deleted */
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 151);
  CHECK_EQ(put_key(s, "k120", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 120);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  if (p && evs_page_count(p)) CHECK_EQ(evs_page_event(p, 0)->id, 102);
  evs_page_free(p);
  /* Everything deleted. */
  for (uint64_t id = 101; id <= 151; id++) CHECK_EQ(evs_delete(s, NULL, id, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, NULL);
  REQUIRE(s);
  st = stats(s);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.acknowledged, 0);
  CHECK_EQ(st.next_id, 152);
  CHECK_EQ(st.oldest_pending_us, 0);
  CHECK_EQ(put(s, "{}", &r), 0);
  CHECK_EQ(r.id, 152);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* Big payloads in small segments, compressible and not. */
static void t_big_payloads_small_segments(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  o.skip_json_validation = 1;
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  size_t n = 409600;
  char *a = malloc(n), *b = malloc(n);
  uint32_t x = 99;
  for (size_t i = 0; i < n; i++) {
    a[i] = (char)('a' + i % 3);
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = (char)x;
  }
  for (int i = 0; i < 6; i++) {
    evs_event_in in = ev_make("big", "t", i % 2 ? b : a);
    in.payload_len = n;
    CHECK_EQ(evs_append(s, NULL, &in, NULL), 0);
    CHECK_EQ(put(s, "{\"small\":1}", NULL), 0);
  }
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, &o);
  REQUIRE(s);
  for (int i = 0; i < 6; i++) {
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, 1 + 2 * (uint64_t)i, &e), 0);
    if (e) CHECK(e->payload_len == n && !memcmp(e->payload, i % 2 ? b : a, n));
    evs_event_free(e);
  }
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 12);
  CHECK_EQ(evs_store_close(s), 0);
  free(a);
  free(b);
  t_rmdir(dir);
}

/* A gap in segment numbering is corruption (docs/FORMAT.md). */
static void t_missing_middle_segment(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  for (unsigned i = 0; i < 150; i++) {
    char *p = payload_of(120, i);
    CHECK_EQ(put(s, p, NULL), 0);
    free(p);
  }
  CHECK_EQ(evs_store_close(s), 0);
  int n = 0;
  last_segment(dir, &n);
  REQUIRE(n >= 3);
  char path[700];
  seg_path(path, sizeof path, dir, 2);
  CHECK_EQ(unlink(path), 0);
  s = (evs_store *)1;
  CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
  CHECK(s == NULL);
  t_rmdir(dir);
}

/* Segments without their evstore.meta are not silently adopted. */
static void t_missing_meta_with_segments(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  CHECK_EQ(put(s, "{}", NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  char meta[700];
  snprintf(meta, sizeof meta, "%s/evstore.meta", dir);
  CHECK_EQ(unlink(meta), 0);
  s = (evs_store *)1;
  CHECK_EQ(evs_store_open(dir, NULL, &s), EVS_ECORRUPT);
  CHECK(s == NULL);
  CHECK(evs_errmsg(NULL)[0] != 0);
  t_rmdir(dir);
}

/* The lock is not inherited by a program the process starts. */
static void t_lock_not_inherited_by_exec(void) {
  char *dir = t_tmpdir();
  evs_store *s = open_dir(dir, NULL);
  REQUIRE(s);
  /* The parent learns that the exec happened when the close-on-exec pipe
  ** reaches end of file (until then the child still shares descriptors). */
  int pfd[2];
  REQUIRE(pipe2(pfd, O_CLOEXEC) == 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    execl("/bin/sleep", "sleep", "5", (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  char c;
  CHECK(read(pfd[0], &c, 1) == 0);
  close(pfd[0]);
  CHECK_EQ(evs_store_close(s), 0);
  s = NULL;
  CHECK_EQ(evs_store_open(dir, NULL, &s), 0);
  if (s) CHECK_EQ(evs_store_close(s), 0);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  t_rmdir(dir);
}

/* FULL sync with several writer threads (group commit) and a reader paging
** with a cursor meanwhile: every commit is seen once, in id order, and all
** of it is on disk after reopen. */
typedef struct pw_arg {
  evs_store *s;
  int n, errors;
} pw_arg;

static void *pw_writer(void *p) {
  pw_arg *a = p;
  for (int i = 0; i < a->n; i++) {
    if (i % 5 == 4) {
      evs_event_in ev[3];
      evs_append_result res[3];
      for (int k = 0; k < 3; k++) ev[k] = ev_make("w", "batch", "{\"b\":1}");
      if (evs_append_batch(a->s, NULL, ev, 3, res) != 0) a->errors++;
    } else if (put(a->s, "{\"w\":1}", NULL) != 0) {
      a->errors++;
    }
  }
  return NULL;
}

typedef struct pr_arg {
  evs_store *s;
  atomic_int done;
  uint64_t *seen;
  long n, cap;
  int errors;
} pr_arg;

static void *pw_reader(void *p) {
  pr_arg *a = p;
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 9;
  evs_page *pg = NULL;
  char *cur = NULL;
  for (;;) {
    int done = atomic_load(&a->done);
    q.cursor = cur;
    if (evs_inbox(a->s, NULL, &q, &pg) != 0) {
      a->errors++;
      break;
    }
    for (size_t i = 0; i < evs_page_count(pg); i++)
      if (a->n < a->cap) a->seen[a->n++] = evs_page_event(pg, i)->id;
    free(cur);
    cur = strdup(evs_page_cursor(pg));
    if (done && evs_page_count(pg) == 0) break;
  }
  free(cur);
  evs_page_free(pg);
  return NULL;
}

static void t_full_sync_concurrent(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = EVS_SYNC_FULL;
  o.segment_size = 16384;
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  enum { NW = 4, PER = 60 };
  pw_arg wa[NW];
  pthread_t wt[NW], rt;
  pr_arg ra;
  memset(&ra, 0, sizeof ra);
  ra.s = s;
  atomic_init(&ra.done, 0);
  ra.cap = 10000;
  ra.seen = calloc((size_t)ra.cap, sizeof *ra.seen);
  pthread_create(&rt, NULL, pw_reader, &ra);
  for (int i = 0; i < NW; i++) {
    wa[i].s = s;
    wa[i].n = PER;
    wa[i].errors = 0;
    pthread_create(&wt[i], NULL, pw_writer, &wa[i]);
  }
  int errors = 0;
  for (int i = 0; i < NW; i++) {
    pthread_join(wt[i], NULL);
    errors += wa[i].errors;
  }
  atomic_store(&ra.done, 1);
  pthread_join(rt, NULL);
  CHECK_EQ(errors, 0);
  CHECK_EQ(ra.errors, 0);
  const long total = NW * (PER / 5 * 4 + PER / 5 * 3);
  CHECK_EQ(ra.n, total);
  for (long i = 0; i < ra.n; i++)
    if (ra.seen[i] != (uint64_t)i + 1) {
      CHECK_EQ(ra.seen[i], i + 1);
      break;
    }
  free(ra.seen);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, &o);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, (uint64_t)total);
  CHECK_EQ(st.next_id, (uint64_t)total + 1);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* Held events stay valid while a disk store grows (segment mappings). */
static void t_disk_pointers_stable(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.compress_threshold = UINT32_MAX;
  o.sync = EVS_SYNC_OFF;
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  CHECK_EQ(put(s, "{\"held\":\"yes\"}", NULL), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  REQUIRE(e);
  char *big = payload_of(400000, 5);
  for (int i = 0; i < 60; i++) CHECK_EQ(put(s, big, NULL), 0);
  CHECK_STR(e->payload, "{\"held\":\"yes\"}");
  CHECK_STR(e->source, "src");
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 61, &e), 0);
  if (e) CHECK_STR(e->payload, big);
  evs_event_free(e);
  free(big);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- recovery ---------------------------------------------------------- */

/* Builds: txn 1 = batch of 3 (ids 1-3), txn 2 = one event with key "k4"
** (id 4), txn 3 = ack of 2, txn 4 (the last) = batch of 5 (ids 5-9) with
** keys "last-0".."last-4" and ~300-byte payloads. */
static void build_recovery_store(const char *dir, fake_clock *c) {
  evs_options o = opts_clock(c);
  evs_store *s = open_dir(dir, &o);
  if (!s) return;
  evs_event_in ev[5];
  evs_append_result res[5];
  char *pl[5];
  for (int i = 0; i < 3; i++) ev[i] = ev_make("first", "batch", "{\"n\":1}");
  CHECK_EQ(evs_append_batch(s, NULL, ev, 3, res), 0);
  CHECK_EQ(put_key(s, "k4", NULL), 0);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), 0);
  char keys[5][32];
  for (int i = 0; i < 5; i++) {
    pl[i] = payload_of(300, 100 + (unsigned)i);
    ev[i] = ev_make("last", "batch", pl[i]);
    snprintf(keys[i], sizeof keys[i], "last-%d", i);
    ev[i].idempotency_key = keys[i];
  }
  CHECK_EQ(evs_append_batch(s, NULL, ev, 5, res), 0);
  CHECK_EQ(res[4].id, 9);
  for (int i = 0; i < 5; i++) free(pl[i]);
  CHECK_EQ(evs_store_close(s), 0);
}

static void t_recovery_truncated_tail(void) {
  const long long cuts[] = {1, 7, 20, 100, 500, 1200};
  for (size_t ci = 0; ci < sizeof cuts / sizeof cuts[0]; ci++) {
    char *dir = t_tmpdir();
    fake_clock c = {T0};
    build_recovery_store(dir, &c);
    int nseg = 0;
    unsigned long long last = last_segment(dir, &nseg);
    REQUIRE(last >= 1);
    char path[700];
    seg_path(path, sizeof path, dir, last);
    long long size0 = t_file_size(path);
    CHECK_EQ(truncate_by(path, cuts[ci]), 0);

    evs_options o = opts_clock(&c);
    evs_store *s = NULL;
    int rc = evs_store_open(dir, &o, &s);
    if (rc != 0)
      fprintf(stderr, "  cut %lld: open rc %d: %s\n", cuts[ci], rc,
              evs_errmsg(NULL));
    CHECK_EQ(rc, 0);
    if (!s) {
      t_rmdir(dir);
      continue;
    }
    evs_stats st = stats(s);
    /* The last transaction is gone entirely; the rest is there. */
    for (uint64_t id = 1; id <= 4; id++) CHECK(exists(s, id));
    int survivors = 0;
    for (uint64_t id = 5; id <= 9; id++) survivors += exists(s, id);
    if (survivors) fprintf(stderr, "  cut %lld: %d of the last batch survived\n",
                           cuts[ci], survivors);
    CHECK_EQ(survivors, 0);
    CHECK_EQ(status_of(s, 2), EVS_STATUS_ACKNOWLEDGED);
    CHECK_EQ(st.pending, 3);
    CHECK_EQ(st.acknowledged, 1);
    CHECK_EQ(st.next_id, 5);
    CHECK(st.recovered_bytes_dropped > 0);
    CHECK(st.recovered_bytes_dropped <= (uint64_t)size0);
    CHECK(st.recovered_records_dropped >= 1);
    /* The file was truncated to the end of the last good transaction. */
    CHECK(t_file_size(path) <= size0 - cuts[ci]);
    /* Keys of the lost batch are free; "k4" still taken. */
    evs_append_result r;
    CHECK_EQ(put_key(s, "k4", &r), 0);
    CHECK_EQ(r.duplicate, 1);
    CHECK_EQ(r.id, 4);
    CHECK_EQ(put_key(s, "last-0", &r), 0);
    CHECK_EQ(r.duplicate, 0);
    CHECK_EQ(r.id, 5);
    CHECK_EQ(put(s, "{\"after\":\"recovery\"}", &r), 0);
    CHECK_EQ(r.id, 6);
    CHECK_EQ(evs_store_close(s), 0);

    /* What was appended after recovery persists; a clean reopen. */
    s = open_dir(dir, &o);
    REQUIRE(s);
    st = stats(s);
    CHECK_EQ(st.next_id, 7);
    CHECK_EQ(st.pending, 5);
    CHECK_EQ(st.recovered_bytes_dropped, 0);
    CHECK_EQ(st.recovered_records_dropped, 0);
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, 6, &e), 0);
    if (e) CHECK_STR(e->payload, "{\"after\":\"recovery\"}");
    evs_event_free(e);
    e = NULL;
    CHECK_EQ(evs_get(s, NULL, 5, &e), 0);
    if (e) CHECK_STR(e->idempotency_key, "last-0");
    evs_event_free(e);
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
  }
}

/* The last transaction is an ack or a delete: truncating it undoes it. */
static void t_recovery_truncated_ack_and_delete(void) {
  for (int kind = 0; kind < 3; kind++) {
    char *dir = t_tmpdir();
    evs_store *s = open_dir(dir, NULL);
    REQUIRE(s);
    for (int i = 0; i < 5; i++) CHECK_EQ(put(s, "{\"a\":1}", NULL), 0);
    if (kind == 0) {
      CHECK_EQ(evs_ack(s, NULL, 3, NULL), 0);
    } else if (kind == 1) {
      uint64_t ids[3] = {1, 3, 5};
      int rcs[3];
      CHECK_EQ(evs_ack_batch(s, NULL, ids, 3, rcs), 0);
    } else {
      CHECK_EQ(evs_delete(s, NULL, 3, NULL), 0);
    }
    CHECK_EQ(evs_store_close(s), 0);
    char path[700];
    seg_path(path, sizeof path, dir, last_segment(dir, NULL));
    CHECK_EQ(truncate_by(path, 1), 0);
    s = open_dir(dir, NULL);
    REQUIRE(s);
    evs_stats st = stats(s);
    if (st.pending != 5) fprintf(stderr, "  kind %d\n", kind);
    CHECK_EQ(st.pending, 5);
    CHECK_EQ(st.acknowledged, 0);
    CHECK_EQ(status_of(s, 3), EVS_STATUS_PENDING);
    CHECK(st.recovered_bytes_dropped > 0);
    CHECK(st.recovered_records_dropped >= 1);
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
  }
}

/* Truncate the (single) segment at many lengths: exactly the transactions
** that end at or before the cut survive, and the bytes after the last of
** them are counted as dropped. */
typedef struct txn_state {
  long long end; /* segment size after the commit */
  uint64_t next_id, pending, acked;
} txn_state;

static void t_recovery_every_length(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = EVS_SYNC_OFF;
  char seg[700], meta[700];
  seg_path(seg, sizeof seg, dir, 1);
  snprintf(meta, sizeof meta, "%s/evstore.meta", dir);
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  txn_state st[16];
  int nst = 0;
  long long size0 = t_file_size(seg);
  if (size0 < 0) size0 = 0;
  st[nst++] = (txn_state){size0, 1, 0, 0};
#define RECORD(np, na)                                                    \
  do {                                                                    \
    evs_stats s_ = stats(s);                                              \
    CHECK_EQ(s_.pending, np);                                             \
    CHECK_EQ(s_.acknowledged, na);                                        \
    st[nst++] = (txn_state){t_file_size(seg), s_.next_id, s_.pending,       \
                            s_.acknowledged};                             \
  } while (0)
  CHECK_EQ(put(s, "{\"one\":1}", NULL), 0); /* 1 */
  RECORD(1, 0);
  evs_event_in ev[4];
  for (int i = 0; i < 4; i++) ev[i] = ev_make("b", "t", "{\"batch\":[1,2,3]}");
  evs_append_result res[4];
  CHECK_EQ(evs_append_batch(s, NULL, ev, 4, res), 0); /* 2-5 */
  RECORD(5, 0);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), 0);
  RECORD(4, 1);
  char *big = payload_of(3000, 7); /* compressed */
  CHECK_EQ(put(s, big, NULL), 0); /* 6 */
  RECORD(5, 1);
  CHECK_EQ(evs_delete(s, NULL, 3, NULL), 0);
  RECORD(4, 1);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(put(s, "{}", NULL), EVS_EDEADLK);
  CHECK_EQ(evs_append(s, t, &ev[0], NULL), 0); /* 7 */
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 4, NULL), 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  RECORD(3, 2);
  evs_event_in ke = ev_make("k", "t", "{\"key\":1}");
  ke.idempotency_key = "the-key";
  ke.metadata = "{\"m\":1}";
  CHECK_EQ(evs_append(s, NULL, &ke, NULL), 0); /* 8 */
  RECORD(4, 2);
  uint64_t ids[2] = {5, 8};
  int rcs[2];
  CHECK_EQ(evs_ack_batch(s, NULL, ids, 2, rcs), 0);
  RECORD(2, 4);
  CHECK_EQ(put(s, "{\"last\":true}", NULL), 0); /* 9 */
  RECORD(3, 4);
#undef RECORD
  CHECK_EQ(evs_store_close(s), 0);
  free(big);
  for (int i = 1; i < nst; i++) CHECK(st[i].end > st[i - 1].end);
  size_t seglen = 0, metalen = 0;
  char *segdata = read_file(seg, &seglen);
  char *metadata = read_file(meta, &metalen);
  REQUIRE(segdata && metadata);
  CHECK_EQ((long long)seglen, st[nst - 1].end);

  long long from = st[0].end > 0 ? st[0].end : st[1].end;
  int failures = 0, tried = 0;
  for (long long L = from; L <= (long long)seglen && failures < 5; L++) {
    /* Every byte near a boundary, a stride elsewhere. */
    int near = 0;
    for (int i = 0; i < nst; i++)
      if (L >= st[i].end - 40 && L <= st[i].end + 40) near = 1;
    if (!near && L % 13) continue;
    tried++;
    /* Restore the store's files with the segment cut at L. */
    char tmp[700];
    int n = 0;
    unsigned long long lastseg = last_segment(dir, &n);
    for (unsigned long long k = 2; k <= lastseg; k++) {
      seg_path(tmp, sizeof tmp, dir, k);
      unlink(tmp);
    }
    drop_checkpoint_beside(seg);
    if (write_file(seg, segdata, (size_t)L) || write_file(meta, metadata, metalen)) {
      CHECK(0);
      break;
    }
    int k = 0;
    while (k + 1 < nst && st[k + 1].end <= L) k++;
    evs_store *r = NULL;
    int rc = evs_store_open(dir, &o, &r);
    int bad = 0;
    if (rc != 0 || !r) {
      fprintf(stderr, "  L=%lld: open rc %d: %s\n", L, rc, evs_errmsg(NULL));
      bad = 1;
    } else {
      evs_stats x = stats(r);
      if (x.next_id != st[k].next_id || x.pending != st[k].pending ||
          x.acknowledged != st[k].acked ||
          x.recovered_bytes_dropped != (uint64_t)(L - st[k].end)) {
        fprintf(stderr,
                "  L=%lld (txn %d ends %lld): next_id %" PRIu64 "/%" PRIu64
                " pending %" PRIu64 "/%" PRIu64 " acked %" PRIu64 "/%" PRIu64
                " dropped %" PRIu64 "/%lld\n",
                L, k, st[k].end, x.next_id, st[k].next_id, x.pending,
                st[k].pending, x.acknowledged, st[k].acked,
                x.recovered_bytes_dropped, L - st[k].end);
        bad = 1;
      }
      if (L > st[k].end && x.recovered_records_dropped < 1 &&
          L - st[k].end > 64) {
        fprintf(stderr, "  L=%lld: no records dropped\n", L);
        bad = 1;
      }
      /* A write after recovery works. */
      evs_append_result ar;
      if (put(r, "{\"post\":1}", &ar) != 0 || ar.id != st[k].next_id) {
        fprintf(stderr, "  L=%lld: append after recovery failed\n", L);
        bad = 1;
      }
      evs_store_close(r);
    }
    if (bad) {
      failures++;
      CHECK(!bad);
    }
  }
  CHECK(tried > 100);
  free(segdata);
  free(metadata);
  t_rmdir(dir);
}

static void t_recovery_garbage_tail(void) {
  for (int kind = 0; kind < 3; kind++) {
    char *dir = t_tmpdir();
    evs_store *s = open_dir(dir, NULL);
    REQUIRE(s);
    for (int i = 0; i < 10; i++) CHECK_EQ(put(s, "{\"g\":1}", NULL), 0);
    CHECK_EQ(evs_ack(s, NULL, 4, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    char path[700];
    seg_path(path, sizeof path, dir, last_segment(dir, NULL));
    long long size0 = t_file_size(path);
    unsigned char junk[100];
    uint32_t x = 12345u + (uint32_t)kind;
    for (int i = 0; i < 100; i++) {
      x = x * 1103515245u + 12345u;
      junk[i] = kind == 0 ? (unsigned char)(x >> 16)
                : kind == 1 ? 0
                            : 0xff;
    }
    CHECK_EQ(append_bytes(path, junk, 100), 0);
    s = open_dir(dir, NULL);
    REQUIRE(s);
    evs_stats st = stats(s);
    if (st.pending != 9) fprintf(stderr, "  garbage kind %d\n", kind);
    CHECK_EQ(st.pending, 9);
    CHECK_EQ(st.acknowledged, 1);
    CHECK_EQ(st.next_id, 11);
    CHECK_EQ(st.recovered_bytes_dropped, 100);
    CHECK_EQ(t_file_size(path), size0);
    evs_append_result r;
    CHECK_EQ(put(s, "{\"after\":1}", &r), 0);
    CHECK_EQ(r.id, 11);
    CHECK_EQ(evs_store_close(s), 0);
    s = open_dir(dir, NULL);
    REQUIRE(s);
    st = stats(s);
    CHECK_EQ(st.pending, 10);
    CHECK_EQ(st.next_id, 12);
    CHECK_EQ(st.recovered_bytes_dropped, 0);
    CHECK_EQ(st.recovered_records_dropped, 0);
    CHECK(exists(s, 11));
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
  }
}

/* With several segments: a torn tail in the last one; a transaction that
** spans segments is lost as a whole. */
static void t_recovery_multi_segment(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  for (unsigned i = 0; i < 100; i++) {
    char *p = payload_of(150, i);
    CHECK_EQ(put(s, p, NULL), 0);
    free(p);
  }
  CHECK_EQ(evs_store_close(s), 0);
  int n1 = 0;
  unsigned long long last1 = last_segment(dir, &n1);
  CHECK(n1 >= 3);
  char path[700];
  seg_path(path, sizeof path, dir, last1);
  CHECK_EQ(truncate_by(path, 7), 0);
  s = open_dir(dir, &o);
  REQUIRE(s);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 99);
  CHECK_EQ(st.next_id, 100);
  CHECK(st.recovered_bytes_dropped > 0);
  CHECK(st.recovered_records_dropped >= 1);
  CHECK(!exists(s, 100));
  CHECK(exists(s, 99));
  CHECK(exists(s, 1));

  /* A batch bigger than several segments, then its tail torn. */
  enum { M = 120 };
  evs_event_in *ev = calloc(M, sizeof *ev);
  evs_append_result *res = calloc(M, sizeof *res);
  char **pls = calloc(M, sizeof *pls);
  for (unsigned i = 0; i < M; i++) {
    pls[i] = payload_of(150, 1000 + i);
    ev[i] = ev_make("span", "batch", pls[i]);
  }
  CHECK_EQ(evs_append_batch(s, NULL, ev, M, res), 0);
  CHECK_EQ(res[0].id, 100);
  CHECK_EQ(evs_store_close(s), 0);
  int n2 = 0;
  unsigned long long last2 = last_segment(dir, &n2);
  seg_path(path, sizeof path, dir, last2);
  CHECK_EQ(truncate_by(path, 1), 0);
  s = open_dir(dir, &o);
  REQUIRE(s);
  st = stats(s);
  int survivors = 0;
  for (uint64_t id = 100; id < 100 + M; id++) survivors += exists(s, id);
  CHECK_EQ(survivors, 0);
  CHECK_EQ(st.pending, 99);
  CHECK_EQ(st.next_id, 100);
  CHECK(st.recovered_records_dropped >= 1);
  CHECK(exists(s, 99));
  /* Appends work and persist. */
  evs_append_result r;
  CHECK_EQ(put(s, "{\"post\":1}", &r), 0);
  CHECK_EQ(r.id, 100);
  CHECK_EQ(evs_store_close(s), 0);
  s = open_dir(dir, &o);
  REQUIRE(s);
  st = stats(s);
  CHECK_EQ(st.pending, 100);
  CHECK_EQ(st.next_id, 101);
  CHECK_EQ(st.recovered_bytes_dropped, 0);
  CHECK_EQ(evs_store_close(s), 0);
  for (unsigned i = 0; i < M; i++) free(pls[i]);
  free(pls);
  free(ev);
  free(res);
  t_rmdir(dir);
}

/* A crash while a new segment is being started leaves a file the
** manifest does not name yet (empty, a partial header, or whole): open
** removes it and loses nothing. A segment the manifest names was synced
** before it was named, so a damaged header there is corruption. */
static void t_recovery_empty_last_segment(void) {
  for (int len = 0; len < 4; len++) {
    char *dir = t_tmpdir();
    evs_options o;
    memset(&o, 0, sizeof o);
    o.segment_size = 4096;
    evs_store *s = open_dir(dir, &o);
    REQUIRE(s);
    for (unsigned i = 0; i < 60; i++) {
      char *p = payload_of(150, i);
      CHECK_EQ(put(s, p, NULL), 0);
      free(p);
    }
    CHECK_EQ(evs_store_close(s), 0);
    int n = 0;
    unsigned long long last = last_segment(dir, &n);
    REQUIRE(n >= 3);
    char path[700], lastp[700];
    seg_path(lastp, sizeof lastp, dir, last);
    if (len < 3) {
      /* The orphan: 0 bytes, 3 bytes, or a copy of a real segment. */
      seg_path(path, sizeof path, dir, last + 1);
      FILE *f = fopen(path, "wb");
      REQUIRE(f);
      if (len == 1) fwrite("EVS", 1, 3, f);
      if (len == 2) {
        FILE *g = fopen(lastp, "rb");
        REQUIRE(g);
        char buf[8192];
        size_t k = fread(buf, 1, sizeof buf, g);
        fclose(g);
        fwrite(buf, 1, k, f);
      }
      fclose(f);
    } else {
      CHECK_EQ(truncate(lastp, 3), 0);
      s = NULL;
      CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
      CHECK_CONTAINS(evs_errmsg(NULL), "shorter than its header");
      t_rmdir(dir);
      continue;
    }
    s = NULL;
    int rc = evs_store_open(dir, &o, &s);
    if (rc) fprintf(stderr, "  open: %s\n", evs_errmsg(NULL));
    CHECK_EQ(rc, 0);
    if (!s) {
      t_rmdir(dir);
      continue;
    }
    CHECK(access(path, F_OK) != 0); /* the orphan is gone */
    evs_stats st = stats(s);
    CHECK_EQ(st.pending, 60);
    CHECK_EQ(st.next_id, 61);
    CHECK(exists(s, 1));
    CHECK(exists(s, 60));
    evs_append_result r;
    CHECK_EQ(put(s, "{\"post\":1}", &r), 0);
    CHECK_EQ(r.id, 61);
    CHECK_EQ(evs_store_close(s), 0);
    s = open_dir(dir, &o);
    REQUIRE(s);
    CHECK(exists(s, r.id));
    CHECK_EQ(stats(s).recovered_bytes_dropped, 0);
    CHECK_EQ(evs_verify(s, NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    t_rmdir(dir);
  }
}

/* ---- corruption -------------------------------------------------------- */

static void t_corrupt_earlier_segment(void) {
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.segment_size = 4096;
  evs_store *s = open_dir(dir, &o);
  REQUIRE(s);
  for (unsigned i = 0; i < 200; i++) {
    char *p = payload_of(120, i);
    CHECK_EQ(put(s, p, NULL), 0);
    free(p);
  }
  CHECK_EQ(evs_store_close(s), 0);
  int n = 0;
  last_segment(dir, &n);
  REQUIRE(n >= 3);
  for (unsigned long long segno = 1; segno <= 2; segno++) {
    char path[700], name[64];
    seg_path(path, sizeof path, dir, segno);
    snprintf(name, sizeof name, "%016llx.evlog", segno);
    long long sz = t_file_size(path);
    long long sizes_before[64];
    for (int k = 1; k <= n && k < 64; k++) {
      char p2[700];
      seg_path(p2, sizeof p2, dir, (unsigned long long)k);
      sizes_before[k] = t_file_size(p2);
    }
    CHECK_EQ(t_flip_byte(path, sz / 2, 0x5a), 0);
    /* Without the checkpoint open reads every record: it refuses. */
    evs_options full = o;
    full.checkpoint_bytes = -1;
    s = (evs_store *)1;
    int rc = evs_store_open(dir, &full, &s);
    CHECK_EQ(rc, EVS_ECORRUPT);
    CHECK(s == NULL);
    if (rc == 0 && s && s != (evs_store *)1) evs_store_close(s);
    CHECK_CONTAINS(evs_errmsg(NULL), name);
    /* With it, open skips the sealed segments it covers; the damage
    ** shows in evs_verify and in the read of the damaged event, and no
    ** read returns other bytes than were appended. */
    s = NULL;
    CHECK_EQ(evs_store_open(dir, &o, &s), 0);
    if (s) {
      CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
      CHECK_EQ(evs_verify(s, NULL), EVS_ECORRUPT);
      CHECK_CONTAINS(evs_errmsg(s), "segment");
      int bad = 0;
      for (uint64_t id = 1; id <= 200; id++) {
        evs_event *e = NULL;
        int g = evs_get(s, NULL, id, &e);
        if (g == EVS_ECORRUPT) {
          bad++;
          continue;
        }
        CHECK_EQ(g, 0);
        char *want = payload_of(120, (unsigned)id - 1);
        if (e) CHECK_STR(e->payload, want);
        free(want);
        evs_event_free(e);
      }
      CHECK(bad <= 1); /* the byte may sit in a commit record */
      CHECK_EQ(evs_store_close(s), 0);
    }
    /* A failed open changes nothing on disk. */
    for (int k = 1; k <= n && k < 64; k++) {
      char p2[700];
      seg_path(p2, sizeof p2, dir, (unsigned long long)k);
      CHECK_EQ(t_file_size(p2), sizes_before[k]);
    }
    /* Undo: the store opens again (the failed open left no lock). */
    CHECK_EQ(t_flip_byte(path, sz / 2, 0x5a), 0);
    s = open_dir(dir, &o);
    CHECK(s != NULL);
    if (s) {
      CHECK_EQ(stats(s).pending, 200);
      CHECK_EQ(evs_store_close(s), 0);
    }
  }
  /* The first byte of an earlier segment (its header). */
  char path[700];
  seg_path(path, sizeof path, dir, 1);
  CHECK_EQ(t_flip_byte(path, 0, 0x5a), 0);
  s = (evs_store *)1;
  CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
  CHECK(s == NULL);
  CHECK_CONTAINS(evs_errmsg(NULL), "0000000000000001.evlog");
  t_rmdir(dir);
}

static void t_corrupt_meta(void) {
  for (int kind = 0; kind < 3; kind++) {
    char *dir = t_tmpdir();
    evs_store *s = open_dir(dir, NULL);
    REQUIRE(s);
    CHECK_EQ(put(s, "{}", NULL), 0);
    CHECK_EQ(evs_store_close(s), 0);
    char meta[700];
    snprintf(meta, sizeof meta, "%s/evstore.meta", dir);
    long long sz = t_file_size(meta);
    REQUIRE(sz > 0);
    if (kind == 0) {
      CHECK_EQ(t_flip_byte(meta, sz / 2, 0x5a), 0);
    } else if (kind == 1) {
      CHECK_EQ(truncate(meta, sz / 2), 0);
    } else {
      CHECK_EQ(write_file(meta, "this is not a meta file\n", 24), 0);
    }
    s = (evs_store *)1;
    int rc = evs_store_open(dir, NULL, &s);
    if (rc != EVS_ECORRUPT) fprintf(stderr, "  meta kind %d\n", kind);
    CHECK_EQ(rc, EVS_ECORRUPT);
    CHECK(s == NULL);
    CHECK_CONTAINS(evs_errmsg(NULL), "evstore.meta");
    if (rc == 0 && s && s != (evs_store *)1) evs_store_close(s);
    t_rmdir(dir);
  }
}

/* ---- locking ----------------------------------------------------------- */

/* Try to open dir in a child process; returns the child's rc. */
/* The child's evs_store_open code travels in its exit status, which holds
** 8 bits: an EVS_E* code (-1001...) as its distance from -1000. */
static int open_in_child(const char *dir) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    evs_store *s = NULL;
    int rc = evs_store_open(dir, NULL, &s);
    if (rc == EVS_ELOCKED && !strstr(evs_errmsg(NULL), "locked")) _exit(99);
    _exit(rc == 0 ? 0 : rc < -1000 && rc > -1099 ? -rc - 1000 : 100);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return 1000;
  int code = WEXITSTATUS(status);
  return code == 0 ? 0 : code >= 99 ? code : -1000 - code;
}

static void t_lock_same_process(void) {
  char *dir = t_tmpdir();
  evs_store *a = open_dir(dir, NULL);
  REQUIRE(a);
  for (int i = 0; i < 3; i++) {
    evs_store *b = (evs_store *)1;
    CHECK_EQ(evs_store_open(dir, NULL, &b), EVS_ELOCKED);
    CHECK(b == NULL);
    CHECK_CONTAINS(evs_errmsg(NULL), "locked");
    /* The holder is unaffected, and the failed attempt did not release the
    ** lock (closing any descriptor of a file drops a process's fcntl locks
    ** on it). */
    CHECK_EQ(put(a, "{}", NULL), 0);
    CHECK_EQ(open_in_child(dir), EVS_ELOCKED);
  }
  /* Also through another spelling of the path. */
  char alt[700];
  snprintf(alt, sizeof alt, "%s/./", dir);
  evs_store *b = (evs_store *)1;
  CHECK_EQ(evs_store_open(alt, NULL, &b), EVS_ELOCKED);
  CHECK(b == NULL);
  CHECK_EQ(evs_store_close(a), 0);
  a = open_dir(dir, NULL);
  REQUIRE(a);
  CHECK_EQ(stats(a).pending, 3);
  CHECK_EQ(evs_store_close(a), 0);
  t_rmdir(dir);
}

static void t_lock_other_process(void) {
  char *dir = t_tmpdir();
  evs_store *a = open_dir(dir, NULL);
  REQUIRE(a);
  CHECK_EQ(open_in_child(dir), EVS_ELOCKED);
  /* The lock is still held after the child's attempt. */
  CHECK_EQ(open_in_child(dir), EVS_ELOCKED);
  CHECK_EQ(put(a, "{}", NULL), 0);
  CHECK_EQ(evs_store_close(a), 0);
  CHECK_EQ(open_in_child(dir), 0);
  a = open_dir(dir, NULL);
  REQUIRE(a);
  CHECK_EQ(stats(a).pending, 1);
  CHECK_EQ(evs_store_close(a), 0);
  t_rmdir(dir);
}

/* A process that dies without closing releases the lock, and (in every sync
** mode) its commits survive: they were written to the OS. */
static void t_crash_releases_lock_and_keeps_commits(void) {
  const int modes[] = {EVS_SYNC_OFF, EVS_SYNC_NORMAL, EVS_SYNC_FULL};
  for (int m = 0; m < 3; m++) {
    char *dir = t_tmpdir();
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      close(pfd[0]);
      evs_options o;
      memset(&o, 0, sizeof o);
      o.sync = modes[m];
      evs_store *s = NULL;
      char ok = 'n';
      if (evs_store_open(dir, &o, &s) == 0) {
        ok = 'y';
        for (int i = 0; i < 25; i++)
          if (put(s, "{\"child\":1}", NULL) != 0) ok = 'n';
        if (evs_ack(s, NULL, 7, NULL) != 0) ok = 'n';
        /* An uncommitted transaction at the time of the crash. */
        evs_txn *t = NULL;
        if (evs_txn_begin(s, &t) != 0) ok = 'n';
        evs_event_in in = ev_make("lost", "t", "{}");
        if (t && evs_append(s, t, &in, NULL) != 0) ok = 'n';
      }
      if (write(pfd[1], &ok, 1) != 1) _exit(3);
      pause(); /* killed by the parent */
      _exit(0);
    }
    close(pfd[1]);
    char ok = 0;
    CHECK(read(pfd[0], &ok, 1) == 1);
    close(pfd[0]);
    CHECK_EQ(ok, 'y');
    CHECK_EQ(open_in_child(dir), EVS_ELOCKED);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    evs_store *s = open_dir(dir, NULL);
    if (!s) fprintf(stderr, "  sync mode %d\n", modes[m]);
    CHECK(s != NULL);
    if (s) {
      evs_stats st = stats(s);
      CHECK_EQ(st.pending, 24);
      CHECK_EQ(st.acknowledged, 1);
      CHECK_EQ(st.next_id, 26);
      CHECK_EQ(status_of(s, 7), EVS_STATUS_ACKNOWLEDGED);
      CHECK(!exists(s, 26));
      CHECK_EQ(evs_store_close(s), 0);
    }
    t_rmdir(dir);
  }
}

int main(void) {
  RUN(t_files_layout);
  RUN(t_reopen_everything);
  RUN(t_ids_not_reused_after_reopen);
  RUN(t_sync_modes);
  RUN(t_reopen_many_segments);
  RUN(t_cursor_survives_reopen);
  RUN(t_rollback_not_persisted);
  RUN(t_large_txn_persists);
  RUN(t_window_and_retention_after_reopen);
  RUN(t_large_txn_rollback_persists_nothing);
  RUN(t_crash_during_large_txn);
  RUN(t_io_failure_keeps_working);
  RUN(t_deleted_prefix_reopen);
  RUN(t_big_payloads_small_segments);
  RUN(t_missing_middle_segment);
  RUN(t_missing_meta_with_segments);
  RUN(t_lock_not_inherited_by_exec);
  RUN(t_full_sync_concurrent);
  RUN(t_disk_pointers_stable);
  RUN(t_recovery_truncated_tail);
  RUN(t_recovery_truncated_ack_and_delete);
  RUN(t_recovery_every_length);
  RUN(t_recovery_garbage_tail);
  RUN(t_recovery_multi_segment);
  RUN(t_recovery_empty_last_segment);
  RUN(t_corrupt_earlier_segment);
  RUN(t_corrupt_meta);
  RUN(t_lock_same_process);
  RUN(t_lock_other_process);
  RUN(t_crash_releases_lock_and_keeps_commits);
  return TEST_EXIT();
}
