/*
** test_safety.c: the data-safety regressions of issue 13, each reproduced
** as the issue found it and proven fixed:
**  1. DROP TABLE deletes only a store its own table created, never a
**     directory that held other files, never while another connection uses
**     the store, never anything written after; a table whose store is gone
**     never re-creates an empty one (SQL through the C API of SQLite).
**  2. An older evstore.manifest never deletes newer segments; ids are never
**     reused; evs_repair adopts them.
**  3. A flipped bit in the last segment is not a torn tail: open refuses
**     (file and offset), a read-only open (verify) changes nothing, and
**     evs_repair drops only the damaged transaction, keeping a copy.
**  4. Settings live in the store: an opener's defaults never expire or
**     compact what the store's owner keeps.
**  11. Files of the wrong type (a directory, a FIFO) where a store file
**     stands; new files no more permissive than the store's.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xxhash.h>

#include "evstore.h"
#include "evstore_sqlite.h"
#include "testlib.h"

static int exists(const char *p) { return access(p, F_OK) == 0; }

static int count_segments(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += strlen(e->d_name) == 22 && strstr(e->d_name, ".evlog");
  if (d) closedir(d);
  return n;
}

static int same_file(const char *a, const char *b) {
  size_t na, nb;
  uint8_t *x = t_slurp(a, &na), *y = t_slurp(b, &nb);
  int same = x && y && na == nb && !memcmp(x, y, na);
  free(x);
  free(y);
  return same;
}

static evs_event_in ev(const char *src, const char *payload, const char *key) {
  evs_event_in e = {.source = src, .event_type = "t", .payload = payload,
                    .idempotency_key = key};
  return e;
}

/* n events with ~200-byte payloads, in batches of `batch`. */
static void fill(evs_store *s, int n, int batch) {
  char buf[256];
  evs_event_in in[100];
  evs_append_result res[100];
  static char pl[100][320];
  for (int i = 0; i < n;) {
    int k = 0;
    for (; k < batch && i < n; k++, i++) {
      memset(buf, 'x', 180);
      buf[180] = 0;
      snprintf(pl[k], sizeof pl[k], "{\"i\":%d,\"pad\":\"%s\"}", i, buf);
      in[k] = ev("fill", pl[k], NULL);
    }
    CHECK_EQ(evs_append_batch(s, NULL, in, (size_t)k, res), 0);
  }
}

/* ---- 1. DROP TABLE and ownership ------------------------------------------ */

static sqlite3 *db_open(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK || evs_sqlite_register(db) != SQLITE_OK) {
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static long long one(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static const char *errmsg_of(sqlite3 *db, const char *sql) {
  static char m[512];
  char *e = NULL;
  sqlite3_exec(db, sql, NULL, NULL, &e);
  snprintf(m, sizeof m, "%s", e ? e : "");
  sqlite3_free(e);
  return m;
}

/* 1a: the owner mark of an in-memory database was "\t<table>": a second
** in-memory database creating the same table then dropping it deleted the
** first one's store. */
static void t_drop_memory_db_does_not_own(void) {
  char *root = t_tmpdir();
  char *x = strdup(t_path(root, "X")), sql[1200];
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s')", x);
  sqlite3 *p1 = db_open(":memory:");
  REQUIRE(p1);
  CHECK_EQ(t_sql_exec(p1, sql), 0);
  CHECK_EQ(t_sql_exec(p1, "INSERT INTO inbox(source, event_type, payload) SELECT 's', 't', '{}' "
                    "FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4 UNION "
                    "SELECT 5)"),
           0);
  sqlite3_close(p1); /* "exits" */
  sqlite3 *p2 = db_open(":memory:");
  REQUIRE(p2);
  CHECK_EQ(t_sql_exec(p2, sql), 0);
  CHECK_EQ(one(p2, "SELECT count(*) FROM inbox"), 5);
  CHECK_EQ(t_sql_exec(p2, "DROP TABLE inbox"), 0);
  sqlite3_close(p2);
  CHECK(exists(t_path(x, "evstore.meta")));
  evs_store *s;
  REQUIRE(evs_store_open(x, NULL, &s) == 0);
  CHECK_EQ(stats(s).pending, 5);
  evs_store_close(s);
  free(x);
  t_rmdir(root);
}

/* 1b: dir='.' in a directory that already held files: DROP deleted every
** evstore.* file and LOCK there, the database file evstore.db itself and a
** user's evstore.notes, and wrote a checkpoint after the deletion. */
static void t_drop_keeps_other_files(void) {
  char *root = t_tmpdir();
  char old[1024];
  REQUIRE(getcwd(old, sizeof old));
  REQUIRE(chdir(root) == 0);
  REQUIRE(t_spit("evstore.notes", "mine\n", 5) == 0);
  sqlite3 *db = db_open("evstore.db");
  REQUIRE(db);
  CHECK_EQ(t_sql_exec(db, "CREATE VIRTUAL TABLE inbox USING evstore(dir='.')"), 0);
  CHECK_EQ(t_sql_exec(db,
                      "INSERT INTO inbox(source, event_type, payload) VALUES ('s','t','{}')"),
           0);
  CHECK(exists("evstore.meta"));
  CHECK_EQ(t_sql_exec(db, "DROP TABLE inbox"), 0);
  CHECK_EQ(one(db, "SELECT count(*) FROM sqlite_schema"), 0); /* shadow table gone too */
  sqlite3_close(db);
  CHECK(exists("evstore.db"));
  CHECK(exists("evstore.notes"));
  CHECK(!exists("evstore.meta") && !exists("evstore.manifest") && !exists("LOCK"));
  CHECK(!exists("evstore.checkpoint") && !exists("evstore.settings"));
  CHECK_EQ(count_segments("."), 0);
  REQUIRE(chdir(old) == 0);
  t_rmdir(root);
}

/* 1c: A creates, B attaches to the same directory, A drops: B's inserts
** then committed, and B's close deleted the directory. Now A's DROP fails
** while B uses the store, and works (deleting) once B is gone. */
static void t_drop_while_another_connection_uses_it(void) {
  char *root = t_tmpdir();
  char *x = strdup(t_path(root, "X")), sql[1200];
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s')", x);
  sqlite3 *a = db_open(t_path(root, "a.db")), *b = db_open(t_path(root, "b.db"));
  REQUIRE(a && b);
  CHECK_EQ(t_sql_exec(a, sql), 0);
  CHECK_EQ(t_sql_exec(b, sql), 0);
  CHECK_EQ(t_sql_exec(b,
                      "INSERT INTO inbox(source, event_type, payload) VALUES ('b','t','{}')"),
           0);
  CHECK_EQ(sqlite3_exec(a, "DROP TABLE inbox", NULL, NULL, NULL), SQLITE_LOCKED);
  CHECK_EQ(one(a, "SELECT count(*) FROM inbox"), 1); /* the table is still there */
  CHECK_EQ(t_sql_exec(b,
                      "INSERT INTO inbox(source, event_type, payload) VALUES ('b','t','{}')"),
           0);
  CHECK_EQ(one(b, "SELECT count(*) FROM inbox"), 2);
  /* B only attached: its DROP detaches and deletes nothing. */
  CHECK_EQ(t_sql_exec(b, "DROP TABLE inbox"), 0);
  CHECK(exists(t_path(x, "evstore.meta")));
  CHECK_EQ(one(a, "SELECT count(*) FROM inbox"), 2);
  CHECK_EQ(t_sql_exec(a, "DROP TABLE inbox"), 0);
  CHECK(!exists(x)); /* made by A's table, empty: removed */
  sqlite3_close(a);
  sqlite3_close(b);
  free(x);
  t_rmdir(root);
}

/* A DROP that deletes data cannot be rolled back: refused inside an
** explicit transaction. A copy of the creating database does not own the
** store either. */
static void t_drop_in_transaction_and_copies(void) {
  char *root = t_tmpdir();
  char *x = strdup(t_path(root, "X")), sql[1200];
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s')", x);
  sqlite3 *a = db_open(t_path(root, "a.db"));
  REQUIRE(a);
  CHECK_EQ(t_sql_exec(a, sql), 0);
  CHECK_EQ(t_sql_exec(a,
                      "INSERT INTO inbox(source, event_type, payload) VALUES ('s','t','{}')"),
           0);
  CHECK_EQ(t_sql_exec(a, "BEGIN"), 0);
  CHECK_EQ(sqlite3_exec(a, "DROP TABLE inbox", NULL, NULL, NULL), SQLITE_LOCKED);
  CHECK_EQ(t_sql_exec(a, "ROLLBACK"), 0);
  CHECK_EQ(one(a, "SELECT count(*) FROM inbox"), 1);
  sqlite3_close(a);
  size_t n;
  uint8_t *b = t_slurp(t_path(root, "a.db"), &n);
  REQUIRE(b && t_spit(t_path(root, "copy.db"), b, n) == 0);
  free(b);
  sqlite3 *c = db_open(t_path(root, "copy.db"));
  REQUIRE(c);
  CHECK_EQ(one(c, "SELECT count(*) FROM inbox"), 1);
  CHECK_EQ(t_sql_exec(c, "DROP TABLE inbox"), 0); /* detaches */
  sqlite3_close(c);
  CHECK(exists(t_path(x, "evstore.meta")));
  a = db_open(t_path(root, "a.db"));
  REQUIRE(a);
  CHECK_EQ(t_sql_exec(a, "DROP TABLE inbox"), 0);
  CHECK(!exists(x));
  /* An in-memory store is data too. */
  CHECK_EQ(t_sql_exec(a,
                      "CREATE TEMP TABLE keep(x); CREATE VIRTUAL TABLE temp.m USING evstore"),
           0);
  CHECK_EQ(t_sql_exec(a, "INSERT INTO m(source, event_type, payload) VALUES ('s','t','{}')"), 0);
  CHECK_EQ(t_sql_exec(a, "BEGIN"), 0);
  CHECK_EQ(sqlite3_exec(a, "DROP TABLE m", NULL, NULL, NULL), SQLITE_LOCKED);
  CHECK_EQ(t_sql_exec(a, "COMMIT"), 0);
  CHECK_EQ(one(a, "SELECT count(*) FROM m"), 1);
  sqlite3_close(a);
  free(x);
  t_rmdir(root);
}

/* A table whose store is gone (dropped through another database) never
** comes back as an empty new store, and can still be dropped. */
static void t_gone_store_not_recreated(void) {
  char *root = t_tmpdir();
  char *x = strdup(t_path(root, "X")), sql[1200];
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s')", x);
  sqlite3 *a = db_open(t_path(root, "a.db")), *b = db_open(t_path(root, "b.db"));
  REQUIRE(a && b);
  CHECK_EQ(t_sql_exec(a, sql), 0);
  CHECK_EQ(t_sql_exec(b, sql), 0);
  sqlite3_close(b); /* b.db keeps its declaration */
  CHECK_EQ(t_sql_exec(a, "DROP TABLE inbox"), 0);
  CHECK(!exists(x));
  sqlite3_close(a);
  b = db_open(t_path(root, "b.db"));
  REQUIRE(b);
  CHECK_CONTAINS(errmsg_of(b, "SELECT count(*) FROM inbox"), "holds no store");
  CHECK_CONTAINS(errmsg_of(b, "INSERT INTO inbox(source, event_type, payload) VALUES "
                              "('s','t','{}')"),
                 "holds no store");
  CHECK(!exists(x));
  CHECK_EQ(t_sql_exec(b, "DROP TABLE inbox"), 0);
  CHECK(!exists(x));
  sqlite3_close(b);
  free(x);
  t_rmdir(root);
}

/* Another process holding the store: the DROP fails, nothing is deleted. */
static void t_drop_refused_while_other_process_holds_it(void) {
  char *root = t_tmpdir();
  char *x = strdup(t_path(root, "X")), sql[1200];
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s')", x);
  sqlite3 *a = db_open(t_path(root, "a.db"));
  REQUIRE(a);
  CHECK_EQ(t_sql_exec(a, sql), 0);
  sqlite3_close(a);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    evs_store *s;
    char c = evs_store_open(x, NULL, &s) ? 'n' : 'y';
    if (write(fds[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  char c = 0;
  CHECK(read(fds[0], &c, 1) == 1 && c == 'y');
  a = db_open(t_path(root, "a.db"));
  REQUIRE(a);
  CHECK_EQ(sqlite3_exec(a, "DROP TABLE inbox", NULL, NULL, NULL), SQLITE_BUSY);
  CHECK(exists(t_path(x, "evstore.meta")));
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  CHECK_EQ(t_sql_exec(a, "DROP TABLE inbox"), 0);
  CHECK(!exists(x));
  sqlite3_close(a);
  close(fds[0]);
  close(fds[1]);
  free(x);
  t_rmdir(root);
}

/* evs_store_drop: the store's own files only; its directory only if it
** made it. */
static void t_store_drop_lists_its_files(void) {
  char *root = t_tmpdir();
  evs_store *s;
  REQUIRE(evs_store_open(root, NULL, &s) == 0); /* a directory that existed */
  CHECK_EQ(evs_append(s, NULL, &(evs_event_in){.source = "s", .event_type = "t",
                                               .payload = "{}"}, NULL), 0);
  CHECK_EQ(evs_checkpoint(s), 0);
  REQUIRE(t_spit(t_path(root, "evstore.mine"), "x", 1) == 0);
  REQUIRE(t_spit(t_path(root, "0000000000000099.evlog.bak"), "x", 1) == 0);
  CHECK_EQ(evs_store_drop(s), 0);
  CHECK(exists(root));
  CHECK(exists(t_path(root, "evstore.mine")));
  CHECK(exists(t_path(root, "0000000000000099.evlog.bak")));
  CHECK(!exists(t_path(root, "evstore.meta")) && !exists(t_path(root, "LOCK")));
  CHECK_EQ(count_segments(root), 0);
  /* A directory the store made goes with it. */
  char *made = strdup(t_path(root, "made"));
  REQUIRE(evs_store_open(made, NULL, &s) == 0);
  CHECK_EQ(evs_store_drop(s), 0);
  CHECK(!exists(made));
  free(made);
  t_rmdir(root);
}

/* A new store is not started over a store's files without its meta file. */
static void t_no_new_store_over_store_files(void) {
  char *root = t_tmpdir();
  REQUIRE(t_spit(t_path(root, "evstore.manifest"), "junk", 4) == 0);
  evs_store *s = NULL;
  CHECK_EQ(evs_store_open(root, NULL, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "evstore.manifest");
  CHECK(!exists(t_path(root, "evstore.meta")));
  t_rmdir(root);
}

/* ---- 2. An older manifest ------------------------------------------------- */

static void t_stale_manifest_keeps_newer_segments(void) {
  char *dir = t_tmpdir();
  evs_options o = {.segment_size = 4096, .auto_compact_percent = -1};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 200, 10);
  CHECK_EQ(evs_store_close(s), 0);
  size_t mn;
  uint8_t *old = t_slurp(t_path(dir, "evstore.manifest"), &mn);
  REQUIRE(old);
  int before = count_segments(dir);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 2000, 10);
  uint64_t next = stats(s).next_id;
  CHECK_EQ(next, 2201);
  CHECK_EQ(evs_store_close(s), 0);
  int after = count_segments(dir);
  CHECK(after > before + 50);
  REQUIRE(t_spit(t_path(dir, "evstore.manifest"), old, mn) == 0);

  s = NULL;
  CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "does not list");
  CHECK_CONTAINS(evs_errmsg(NULL), "nothing was removed");
  CHECK_EQ(count_segments(dir), after);
  evs_options ro = o;
  ro.read_only = 1;
  CHECK_EQ(evs_store_open(dir, &ro, &s), EVS_ECORRUPT);
  CHECK_EQ(count_segments(dir), after);

  evs_repair_report r;
  CHECK_EQ(evs_repair(dir, &o, &r), 0);
  CHECK_EQ(r.changed, 1);
  CHECK_EQ(r.segments_adopted, (uint64_t)(after - before));
  CHECK_EQ(r.transactions_dropped, 0);
  CHECK(exists(t_path(dir, r.saved_to)));
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2200);
  CHECK_EQ(st.next_id, next);
  evs_append_result ar;
  CHECK_EQ(evs_append(s, NULL, &(evs_event_in){.source = "s", .event_type = "t",
                                               .payload = "{}"}, &ar), 0);
  CHECK_EQ(ar.id, next); /* never reused */
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  free(old);
  t_rmdir(dir);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
/* Re-seal a record (checksum of bytes 8..len) after editing it. */
static void reseal(uint8_t *r) { put64(r, XXH3_64bits(r + 8, le32(r + 8) - 8)); }

/* A repair whose result does not open and verify puts everything back.
** Here an unlisted segment holds an event past the log's end (so open
** refuses it and repair would adopt it) but also one whose id the log
** already used, so the adopted log does not replay. */
static void t_repair_that_fails_changes_nothing(void) {
  char *dir = t_tmpdir();
  evs_options o = {.auto_compact_percent = -1};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 20, 10);
  CHECK_EQ(evs_store_close(s), 0);
  size_t n, mn;
  uint8_t *b = t_slurp(t_path(dir, "0000000000000001.evlog"), &n);
  uint8_t *man = t_slurp(t_path(dir, "evstore.manifest"), &mn);
  REQUIRE(b && man && n > 64);
  /* header (number 0xf0), event 5, event 100, a commit of two */
  uint32_t ev_len = le32(b + 64 + 8);
  size_t at = 64;
  while (at < n && b[at + 12] != 4) at += le32(b + at + 8);
  REQUIRE(at < n);
  uint8_t *o2 = calloc(1, 64 + 2 * ev_len + 32);
  memcpy(o2, b, 64);
  o2[16] = 0xf0;
  put64(o2 + 56, XXH3_64bits(o2, 56));
  memcpy(o2 + 64, b + 64, ev_len);
  put64(o2 + 64 + 16, 5);
  reseal(o2 + 64);
  memcpy(o2 + 64 + ev_len, b + 64, ev_len);
  put64(o2 + 64 + ev_len + 16, 100);
  reseal(o2 + 64 + ev_len);
  uint8_t *c = o2 + 64 + 2 * ev_len;
  memcpy(c, b + at, 32);
  c[24] = 2, c[25] = c[26] = c[27] = 0;
  reseal(c);
  REQUIRE(t_spit(t_path(dir, "00000000000000f0.evlog"), o2, 64 + 2 * ev_len + 32) == 0);
  s = NULL;
  CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "event 100");
  evs_repair_report r;
  CHECK_EQ(evs_repair(dir, &o, &r), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "everything was put back");
  CHECK_EQ(r.changed, 0);
  size_t mn2;
  uint8_t *man2 = t_slurp(t_path(dir, "evstore.manifest"), &mn2);
  CHECK(man2 && mn2 == mn && !memcmp(man, man2, mn));
  CHECK(exists(t_path(dir, "00000000000000f0.evlog")));
  CHECK(exists(t_path(dir, "evstore.checkpoint")));
  CHECK_EQ(count_segments(dir), 2);
  DIR *d = opendir(dir);
  struct dirent *e;
  int folders = 0;
  while (d && (e = readdir(d))) folders += !strncmp(e->d_name, "repair-", 7);
  if (d) closedir(d);
  CHECK_EQ(folders, 0);
  /* Taken out of the way, the store opens as it was. */
  unlink(t_path(dir, "00000000000000f0.evlog"));
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK_EQ(stats(s).pending, 20);
  CHECK_EQ(evs_store_close(s), 0);
  free(b);
  free(o2);
  free(man);
  free(man2);
  t_rmdir(dir);
}

/* Orphans a crash leaves (a roll's empty segment, a compaction's copy) are
** still removed at open: only unexplained records stop it. */
static void t_crash_orphans_still_removed(void) {
  char *dir = t_tmpdir();
  evs_options o = {.segment_size = 4096, .auto_compact_percent = -1};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 100, 10);
  CHECK_EQ(evs_store_close(s), 0);
  /* A copy of a listed segment under a new number: every record in it is
  ** in the listed log. And a header-only file. */
  size_t n;
  uint8_t *b = t_slurp(t_path(dir, "0000000000000001.evlog"), &n);
  REQUIRE(b);
  REQUIRE(t_spit(t_path(dir, "00000000000000f0.evlog"), b, n) == 0);
  REQUIRE(t_spit(t_path(dir, "00000000000000f1.evlog"), b, 64) == 0);
  free(b);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  CHECK(!exists(t_path(dir, "00000000000000f0.evlog")));
  CHECK(!exists(t_path(dir, "00000000000000f1.evlog")));
  CHECK_EQ(stats(s).pending, 100);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* ---- 3. Damage that is not a torn tail ------------------------------------ */

static void t_bit_flip_mid_last_segment(void) {
  char *dir = t_tmpdir();
  evs_store *s;
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  fill(s, 3000, 100);
  CHECK_EQ(evs_store_close(s), 0);
  char seg[1024];
  char *last = t_last_segment(dir);
  REQUIRE(last);
  snprintf(seg, sizeof seg, "%s", last);
  free(last);
  REQUIRE(t_file_size(seg) > 200000);
  size_t n;
  uint8_t *b = t_slurp(seg, &n);
  REQUIRE(b);
  b[100000] ^= 0x10;
  REQUIRE(t_spit(seg, b, n) == 0);
  free(b);
  char copy[1100];
  snprintf(copy, sizeof copy, "%s.orig", dir);
  b = t_slurp(seg, &n);
  REQUIRE(b && t_spit(copy, b, n) == 0);
  free(b);

  s = NULL;
  CHECK_EQ(evs_store_open(dir, NULL, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "0000000000000001.evlog");
  CHECK_CONTAINS(evs_errmsg(NULL), "followed by");
  CHECK_CONTAINS(evs_errmsg(NULL), "nothing was changed");
  CHECK(same_file(seg, copy));
  evs_options ro = {.read_only = 1};
  CHECK_EQ(evs_store_open(dir, &ro, &s), EVS_ECORRUPT);
  CHECK(same_file(seg, copy));

  evs_repair_report r;
  CHECK_EQ(evs_repair(dir, NULL, &r), 0);
  CHECK_EQ(r.changed, 1);
  CHECK_EQ(r.transactions_dropped, 1);
  CHECK_EQ(r.segments_rewritten, 1);
  char kept[1200];
  snprintf(kept, sizeof kept, "%s/%s/0000000000000001.evlog", dir, r.saved_to);
  CHECK(same_file(kept, copy));
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2900); /* one batch of 100 lost, every other kept */
  CHECK(st.next_id >= 3001);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3000, &e), 0);
  evs_event_free(e);
  CHECK_EQ(evs_verify(s, NULL), 0);
  evs_append_result ar;
  CHECK_EQ(evs_append(s, NULL, &(evs_event_in){.source = "s", .event_type = "t",
                                               .payload = "{}"}, &ar), 0);
  CHECK(ar.id >= 3001);
  CHECK_EQ(evs_store_close(s), 0);
  unlink(copy);
  t_rmdir(dir);
}

/* The checkpoint written at close vouches for the log up to its position:
** a tail lost below it is damage, never cut. */
static void t_no_cut_below_checkpoint(void) {
  char *dir = t_tmpdir();
  evs_store *s;
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  fill(s, 50, 10);
  CHECK_EQ(evs_store_close(s), 0);
  char seg[1024];
  char *last = t_last_segment(dir);
  REQUIRE(last);
  snprintf(seg, sizeof seg, "%s", last);
  free(last);
  long long sz = t_file_size(seg);
  REQUIRE(truncate(seg, sz - 5) == 0);
  s = NULL;
  CHECK_EQ(evs_store_open(dir, NULL, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "recorded as durable");
  CHECK_EQ(t_file_size(seg), sz - 5);
  /* Without the checkpoint (as after a crash) it is a torn tail. */
  unlink(t_path(dir, "evstore.checkpoint"));
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  CHECK_EQ(stats(s).pending, 40);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A read-only open changes nothing: a torn tail stays on disk, unlisted
** files stay, no checkpoint is written, writes are refused. */
static void t_read_only_open_writes_nothing(void) {
  char *dir = t_tmpdir();
  evs_options o = {.checkpoint_bytes = -1};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 30, 10);
  CHECK_EQ(evs_store_close(s), 0);
  char seg[1024];
  char *last = t_last_segment(dir);
  REQUIRE(last);
  snprintf(seg, sizeof seg, "%s", last);
  free(last);
  long long sz = t_file_size(seg);
  REQUIRE(truncate(seg, sz - 3) == 0);
  REQUIRE(t_spit(t_path(dir, "00000000000000f0.evlog"), "", 0) == 0);
  evs_options ro = {.read_only = 1};
  REQUIRE(evs_store_open(dir, &ro, &s) == 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 20);
  CHECK(st.recovered_bytes_dropped > 0);
  CHECK_EQ(evs_append(s, NULL, &(evs_event_in){.source = "s", .event_type = "t",
                                               .payload = "{}"}, NULL), EVS_EREADONLY);
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), EVS_EREADONLY);
  CHECK_EQ(evs_compact(s, NULL), EVS_EREADONLY);
  CHECK_EQ(evs_checkpoint(s), EVS_EREADONLY);
  CHECK_EQ(evs_verify(s, NULL), 0);
  /* A second reader may come in. */
  evs_store *s2 = NULL, *w = NULL;
  CHECK_EQ(evs_store_open(dir, &ro, &s2), 0);
  CHECK_EQ(evs_store_refresh(s2), 0);
  CHECK_EQ(evs_store_close(s2), 0);
  CHECK_EQ(t_file_size(seg), sz - 3);
  CHECK(exists(t_path(dir, "00000000000000f0.evlog")));
  CHECK(!exists(t_path(dir, "evstore.checkpoint")));
  CHECK(!exists(t_path(dir, "LOCK")) || t_file_size(t_path(dir, "LOCK")) == 0);
  /* So may a writer, beside the reader: it cuts the torn tail the reader
  ** never showed, and the reader sees its commits after a refresh. */
  CHECK_EQ(evs_store_open(dir, NULL, &w), 0);
  CHECK_EQ(t_file_size(seg), sz - 3 - (long long)st.recovered_bytes_dropped);
  fill(w, 5, 10);
  CHECK_EQ(stats(s).pending, 20);
  CHECK_EQ(evs_store_refresh(s), 0);
  CHECK_EQ(stats(s).pending, 25);
  CHECK_EQ(evs_store_close(w), 0);
  CHECK_EQ(evs_store_close(s), 0);
  CHECK_EQ(evs_store_drop(NULL), EVS_EINVAL);
  /* A setting cannot be changed read-only. */
  ro.retention_us = 5;
  CHECK_EQ(evs_store_open(dir, &ro, &s), EVS_EREADONLY);
  t_rmdir(dir);
}

/* ---- 4. Settings live in the store ---------------------------------------- */

static void t_settings_recorded_and_used(void) {
  char *dir = t_tmpdir();
  fake_clock c = {T0};
  evs_options app = {.retention_us = -1, .clock = fake_clock_fn, .clock_arg = &c,
                     .auto_compact_percent = -1, .segment_size = 4096};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &app, &s) == 0);
  fill(s, 101, 10);
  for (uint64_t id = 1; id <= 84; id++) CHECK_EQ(evs_delete(s, NULL, id, NULL) * 0, 0);
  CHECK_EQ(evs_store_close(s), 0);
  /* Another opener with every default, eight days later. */
  c.now += 8 * DAY;
  evs_options other = {.clock = fake_clock_fn, .clock_arg = &c};
  REQUIRE(evs_store_open(dir, &other, &s) == 0);
  evs_options eff;
  CHECK_EQ(evs_store_options(s, &eff), 0);
  CHECK_EQ(eff.retention_us, -1);
  CHECK_EQ(eff.segment_size, 4096);
  CHECK_EQ(evs_compact(s, NULL), 0);
  CHECK_EQ(stats(s).pending, 17);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 101, &e), 0);
  evs_event_free(e);
  CHECK_EQ(evs_store_close(s), 0);
  /* Setting one changes it durably, for every later opener. */
  evs_options set = other;
  set.retention_us = 7 * DAY;
  set.max_metadata = 100;
  REQUIRE(evs_store_open(dir, &set, &s) == 0);
  CHECK_EQ(evs_store_close(s), 0);
  REQUIRE(evs_store_open(dir, &other, &s) == 0);
  CHECK_EQ(evs_store_options(s, &eff), 0);
  CHECK_EQ(eff.retention_us, 7 * DAY);
  CHECK_EQ(eff.max_metadata, 100);
  CHECK_EQ(stats(s).pending, 17); /* counted until compaction removes them */
  CHECK_EQ(evs_get(s, NULL, 101, &e), EVS_ENOTFOUND); /* expired now */
  char meta[200];
  memset(meta, ' ', sizeof meta);
  meta[0] = '{';
  meta[198] = '}';
  meta[199] = 0;
  evs_event_in big = {.source = "s", .event_type = "t", .payload = "{}", .metadata = meta};
  CHECK_EQ(evs_append(s, NULL, &big, NULL), EVS_ETOOBIG);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A store made before settings were recorded keeps its events: it gets
** retention forever unless its opener sets one. */
static void t_settings_of_a_store_without_them(void) {
  char *dir = t_tmpdir();
  fake_clock c = {T0};
  evs_options o = {.clock = fake_clock_fn, .clock_arg = &c};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 10, 10);
  CHECK_EQ(evs_store_close(s), 0);
  REQUIRE(unlink(t_path(dir, "evstore.settings")) == 0);
  c.now += 30 * DAY;
  evs_options ro = o;
  ro.read_only = 1; /* reads it as a writer would, records nothing */
  REQUIRE(evs_store_open(dir, &ro, &s) == 0);
  CHECK_EQ(stats(s).pending, 10);
  CHECK_EQ(evs_store_close(s), 0);
  CHECK(!exists(t_path(dir, "evstore.settings")));
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  evs_options eff;
  evs_store_options(s, &eff);
  CHECK_EQ(eff.retention_us, -1);
  CHECK_EQ(evs_compact(s, NULL), 0);
  CHECK_EQ(stats(s).pending, 10);
  CHECK_EQ(evs_store_close(s), 0);
  CHECK(exists(t_path(dir, "evstore.settings")));
  /* A damaged settings file is refused, not replaced by defaults. */
  size_t n;
  uint8_t *b = t_slurp(t_path(dir, "evstore.settings"), &n);
  REQUIRE(b && n == 96);
  b[40] ^= 1;
  REQUIRE(t_spit(t_path(dir, "evstore.settings"), b, n) == 0);
  free(b);
  s = NULL;
  CHECK_EQ(evs_store_open(dir, &o, &s), EVS_ECORRUPT);
  CHECK_CONTAINS(evs_errmsg(NULL), "evstore.settings");
  t_rmdir(dir);
}

/* SQL: CREATE's arguments set the store's settings; later connections
** use the store's, whatever their declaration says. */
static void t_sql_settings_from_the_store(void) {
  char *root = t_tmpdir();
  char *x = strdup(t_path(root, "X")), sql[1200];
  snprintf(sql, sizeof sql,
           "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s', retention='1d', "
           "max_payload=100)", x);
  sqlite3 *db = db_open(t_path(root, "a.db"));
  REQUIRE(db);
  CHECK_EQ(t_sql_exec(db, sql), 0);
  CHECK_EQ(one(db, "SELECT json_extract(evstore_stats('inbox'), '$.settings.max_payload')"),
           100);
  sqlite3_close(db);
  /* Changed by another program (as `evstore DIR config` does). */
  evs_options set = {.retention_us = -1, .max_payload = 5000};
  evs_store *s;
  REQUIRE(evs_store_open(x, &set, &s) == 0);
  CHECK_EQ(evs_store_close(s), 0);
  db = db_open(t_path(root, "a.db"));
  REQUIRE(db);
  CHECK_EQ(one(db, "SELECT json_extract(evstore_stats('inbox'), '$.settings.retention_us') "
                   "FROM (SELECT count(*) FROM inbox)"),
           -1);
  CHECK_EQ(one(db, "SELECT json_extract(evstore_stats('inbox'), '$.settings.max_payload')"),
           5000);
  sqlite3_close(db);
  REQUIRE(evs_store_open(x, NULL, &s) == 0);
  evs_options eff;
  evs_store_options(s, &eff);
  CHECK_EQ(eff.retention_us, -1); /* the declaration's 1d did not come back */
  CHECK_EQ(evs_store_close(s), 0);
  free(x);
  t_rmdir(root);
}

/* Reads with a clock at an extreme: retention windows are computed
** without overflow (UBSan would stop this test otherwise). */
static void t_clock_extremes_on_reads(void) {
  fake_clock c = {T0};
  evs_options o = {.clock = fake_clock_fn, .clock_arg = &c, .idempotency_window_us = -1};
  evs_store *s;
  REQUIRE(evs_store_open(NULL, &o, &s) == 0);
  fill(s, 5, 5);
  int64_t at[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX};
  for (int i = 0; i < 3; i++) {
    c.now = at[i];
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, 1, &e);
    CHECK(rc == 0 || rc == EVS_ENOTFOUND);
    evs_event_free(e);
    evs_page *pg = NULL;
    CHECK_EQ(evs_inbox(s, NULL, NULL, &pg), 0);
    evs_page_free(pg);
    stats(s);
    CHECK_EQ(evs_compact(s, NULL), 0);
  }
  CHECK_EQ(evs_store_close(s), 0);
}

/* ---- 11. File types and modes --------------------------------------------- */

static void t_wrong_file_types(void) {
  char *dir = t_tmpdir();
  evs_options d = {.dict_compress = 1};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &d, &s) == 0);
  fill(s, 5, 5);
  CHECK_EQ(evs_store_close(s), 0);
  /* A checkpoint that is a directory: ignored as a damaged one. */
  unlink(t_path(dir, "evstore.checkpoint"));
  REQUIRE(mkdir(t_path(dir, "evstore.checkpoint"), 0755) == 0);
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_CORRUPT);
  CHECK_EQ(stats(s).pending, 5);
  fill(s, 1, 1);
  CHECK_EQ(evs_checkpoint(s), 0);
  CHECK_EQ(evs_store_close(s), 0);
  rmdir(t_path(dir, "evstore.checkpoint"));
  /* A FIFO where the dictionary stands: the open does not hang. */
  REQUIRE(mkfifo(t_path(dir, "evstore.dict"), 0644) == 0);
  alarm(20);
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  alarm(0);
  CHECK_EQ(stats(s).dict_state, EVS_DICT_CORRUPT);
  CHECK_EQ(stats(s).pending, 6);
  CHECK_EQ(evs_store_close(s), 0);
  unlink(t_path(dir, "evstore.dict"));
  /* The manifest or settings as a directory or FIFO: a clear refusal. */
  const char *names[] = {"evstore.settings", "evstore.manifest"};
  for (int i = 0; i < 2; i++) {
    char save[1100];
    snprintf(save, sizeof save, "%s.save", t_path(dir, names[i]));
    REQUIRE(rename(t_path(dir, names[i]), save) == 0);
    REQUIRE(mkfifo(t_path(dir, names[i]), 0644) == 0);
    alarm(20);
    s = NULL;
    CHECK_EQ(evs_store_open(dir, NULL, &s), EVS_ECORRUPT);
    alarm(0);
    CHECK_CONTAINS(evs_errmsg(NULL), "not a regular file");
    unlink(t_path(dir, names[i]));
    REQUIRE(rename(save, t_path(dir, names[i])) == 0);
  }
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  CHECK_EQ(stats(s).pending, 6);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

static int mode_of(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* After chmod 600 of a store, the files it creates are 0600 too. */
static void t_new_files_no_more_permissive(void) {
  char *dir = t_tmpdir();
  evs_options o = {.segment_size = 4096};
  evs_store *s;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  fill(s, 5, 5);
  CHECK_EQ(evs_store_close(s), 0);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') chmod(t_path(dir, e->d_name), 0600);
  if (d) closedir(d);
  REQUIRE(evs_store_open(dir, NULL, &s) == 0);
  fill(s, 100, 10); /* rolls segments, rewrites the manifest */
  CHECK_EQ(evs_store_close(s), 0); /* re-creates the checkpoint */
  CHECK_EQ(mode_of(t_path(dir, "evstore.checkpoint")), 0600);
  CHECK_EQ(mode_of(t_path(dir, "evstore.manifest")), 0600);
  char *last = t_last_segment(dir);
  CHECK_EQ(mode_of(last ? last : ""), 0600);
  free(last);
  t_rmdir(dir);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  RUN(t_drop_memory_db_does_not_own);
  RUN(t_drop_keeps_other_files);
  RUN(t_drop_while_another_connection_uses_it);
  RUN(t_drop_in_transaction_and_copies);
  RUN(t_gone_store_not_recreated);
  RUN(t_drop_refused_while_other_process_holds_it);
  RUN(t_store_drop_lists_its_files);
  RUN(t_no_new_store_over_store_files);
  RUN(t_stale_manifest_keeps_newer_segments);
  RUN(t_repair_that_fails_changes_nothing);
  RUN(t_crash_orphans_still_removed);
  RUN(t_bit_flip_mid_last_segment);
  RUN(t_no_cut_below_checkpoint);
  RUN(t_read_only_open_writes_nothing);
  RUN(t_settings_recorded_and_used);
  RUN(t_settings_of_a_store_without_them);
  RUN(t_sql_settings_from_the_store);
  RUN(t_clock_extremes_on_reads);
  RUN(t_wrong_file_types);
  RUN(t_new_files_no_more_permissive);
  return TEST_EXIT();
}
