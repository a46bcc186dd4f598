/*
** test_sqlstatic.c: a program that links libevstore registers the SQL
** module itself (evs_sqlite_register) and uses it through the C API of
** SQLite: prepared statements, bound parameters, cursor paging, acks,
** transactions, and two connections sharing one store.
*/
#include <evstore_sqlite.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include "testlib.h"

static sqlite3 *open_db(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) return NULL;
  if (evs_sqlite_register(db) != SQLITE_OK) {
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static long long one_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void t_static_register_and_page(void) {
  char *dir = t_tmpdir();
  char path[600];
  snprintf(path, sizeof path, "%s/app.db", dir);
  sqlite3 *db = open_db(path);
  REQUIRE(db);
  CHECK_EQ(t_sql_exec(db, "CREATE VIRTUAL TABLE inbox USING evstore(sync='full')"), 0);
  sqlite3_stmt *ins;
  REQUIRE(sqlite3_prepare_v2(db,
                             "INSERT INTO inbox(source, event_type, payload, "
                             "idempotency_key) VALUES (?, ?, ?, ?)",
                             -1, &ins, NULL) == SQLITE_OK);
  CHECK_EQ(t_sql_exec(db, "BEGIN"), 0);
  for (int i = 0; i < 1000; i++) {
    char src[16], pl[64], key[16];
    snprintf(src, sizeof src, "app-%d", i % 5);
    snprintf(pl, sizeof pl, "{\"n\":%d}", i);
    snprintf(key, sizeof key, "k%d", i);
    sqlite3_bind_text(ins, 1, src, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, "order.created", -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, pl, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 4, key, -1, SQLITE_TRANSIENT);
    CHECK_EQ(sqlite3_step(ins), SQLITE_DONE);
    CHECK_EQ(sqlite3_last_insert_rowid(db), i + 1);
    sqlite3_reset(ins);
  }
  CHECK_EQ(t_sql_exec(db, "COMMIT"), 0);
  /* A duplicate key stores nothing; last_insert_rowid is the original. */
  sqlite3_bind_text(ins, 1, "app-0", -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 2, "order.created", -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 3, "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(ins, 4, "k7", -1, SQLITE_STATIC);
  CHECK_EQ(sqlite3_step(ins), SQLITE_DONE);
  CHECK_EQ(sqlite3_last_insert_rowid(db), 8);
  sqlite3_finalize(ins);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox"), 1000);

  /* Page app-3 with the hidden cursor column, acking each page. */
  sqlite3_stmt *first, *next, *ack;
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT id, payload, cursor FROM inbox WHERE "
                             "status='pending' AND source='app-3' ORDER BY id LIMIT 30",
                             -1, &first, NULL) == SQLITE_OK);
  REQUIRE(sqlite3_prepare_v2(db,
                             "SELECT id, payload, cursor FROM inbox WHERE "
                             "status='pending' AND source='app-3' AND cursor=?1 "
                             "ORDER BY id LIMIT 30",
                             -1, &next, NULL) == SQLITE_OK);
  REQUIRE(sqlite3_prepare_v2(db, "UPDATE inbox SET status='acknowledged' WHERE id=?1",
                             -1, &ack, NULL) == SQLITE_OK);
  char cursor[128] = "";
  long long expect = 4, seen = 0;
  for (int page = 0; page < 100; page++) {
    sqlite3_stmt *st = page ? next : first;
    if (page) sqlite3_bind_text(next, 1, cursor, -1, SQLITE_TRANSIENT);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      long long id = sqlite3_column_int64(st, 0);
      char want[64];
      snprintf(want, sizeof want, "{\"n\":%lld}", id - 1);
      CHECK_EQ(id, expect);
      CHECK_STR((const char *)sqlite3_column_text(st, 1), want);
      snprintf(cursor, sizeof cursor, "%s", (const char *)sqlite3_column_text(st, 2));
      sqlite3_bind_int64(ack, 1, id);
      CHECK_EQ(sqlite3_step(ack), SQLITE_DONE);
      sqlite3_reset(ack);
      expect += 5;
      rows++;
      seen++;
    }
    sqlite3_reset(st);
    if (!rows) break;
  }
  CHECK_EQ(seen, 200);
  sqlite3_finalize(first);
  sqlite3_finalize(next);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox WHERE status='acknowledged'"), 200);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox WHERE status='pending' AND source='app-3'"), 0);

  /* Acking twice is a constraint error naming the id. */
  sqlite3_bind_int64(ack, 1, 4);
  CHECK_EQ(sqlite3_step(ack), SQLITE_CONSTRAINT);
  CHECK_CONTAINS(sqlite3_errmsg(db), "event 4 is already acknowledged");
  sqlite3_finalize(ack);

  /* A second connection of this process shares the open store. */
  sqlite3 *db2 = open_db(path);
  REQUIRE(db2);
  CHECK_EQ(one_int(db2, "SELECT count(*) FROM inbox WHERE status='pending'"), 800);
  CHECK_EQ(t_sql_exec(db2, "DELETE FROM inbox WHERE id = 1"), 0);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox"), 999);
  /* Its uncommitted writes are invisible to the first connection. */
  CHECK_EQ(t_sql_exec(db2, "BEGIN; DELETE FROM inbox WHERE id = 2"), 0);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox WHERE id = 2"), 1);
  CHECK_EQ(one_int(db2, "SELECT count(*) FROM inbox WHERE id = 2"), 0);
  CHECK_EQ(t_sql_exec(db2, "ROLLBACK"), 0);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox WHERE id = 2"), 1);
  /* Same database: SQLite's own file lock stops the second writer. */
  CHECK_EQ(t_sql_exec(db2, "BEGIN; DELETE FROM inbox WHERE id = 3"), 0);
  char *err = NULL;
  CHECK_EQ(sqlite3_exec(db, "DELETE FROM inbox WHERE id = 4", NULL, NULL, &err), SQLITE_BUSY);
  sqlite3_free(err);
  /* Another database whose table names the same store directory: the
  ** store's single write transaction stops it, with SQLITE_BUSY rather
  ** than a deadlock, as this thread holds that transaction already. */
  char path3[700], sql[1400];
  snprintf(path3, sizeof path3, "%s/other.db", dir);
  sqlite3 *db3 = open_db(path3);
  REQUIRE(db3);
  snprintf(sql, sizeof sql,
           "CREATE VIRTUAL TABLE shared USING evstore(dir='%s-inbox.evstore', sync='full')",
           path);
  CHECK_EQ(t_sql_exec(db3, sql), 0);
  CHECK_EQ(one_int(db3, "SELECT count(*) FROM shared WHERE id = 3"), 1);
  err = NULL;
  CHECK_EQ(sqlite3_exec(db3, "DELETE FROM shared WHERE id = 5", NULL, NULL, &err), SQLITE_BUSY);
  CHECK_CONTAINS(err, "already holds the write transaction");
  sqlite3_free(err);
  CHECK_EQ(t_sql_exec(db2, "COMMIT"), 0);
  CHECK_EQ(t_sql_exec(db3, "DELETE FROM shared WHERE id = 5"), 0);
  CHECK_EQ(t_sql_exec(db, "DELETE FROM inbox WHERE id = 4"), 0);
  /* 1000 - ids 1, 3, 4, 5; 200 acked (4 among them). */
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox"), 996);
  CHECK_EQ(one_int(db, "SELECT json_extract(evstore_stats('inbox'), '$.pending')"), 797);
  /* Options must agree to share a store. */
  snprintf(sql, sizeof sql,
           "CREATE VIRTUAL TABLE other USING evstore(dir='%s-inbox.evstore', sync='off')",
           path);
  err = NULL;
  CHECK_EQ(sqlite3_exec(db3, sql, NULL, NULL, &err), SQLITE_ERROR);
  CHECK_CONTAINS(err, "different options");
  sqlite3_free(err);
  sqlite3_close(db3);
  sqlite3_close(db2);
  sqlite3_close(db);

  /* Reopen the database: the events are there. */
  db = open_db(path);
  REQUIRE(db);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox"), 996);
  CHECK_EQ(one_int(db, "SELECT max(id) FROM inbox"), 1000);
  sqlite3_close(db);
  t_rmdir(dir);
}

static void t_memory_database(void) {
  sqlite3 *db = open_db(":memory:");
  REQUIRE(db);
  CHECK_EQ(t_sql_exec(db, "CREATE VIRTUAL TABLE inbox USING evstore"), 0);
  CHECK_EQ(t_sql_exec(db, "INSERT INTO inbox(source,event_type,payload) VALUES ('a','b','{}')"), 0);
  CHECK_EQ(one_int(db, "SELECT count(*) FROM inbox WHERE status='pending'"), 1);
  sqlite3_close(db);
}

/* DROP TABLE removes a store its own table created, also when the table's
** name is longer than a path (ownership used to be a file holding the
** name, read back into a fixed-size line: a long name never matched). */
static void t_drop_long_name(void) {
  char *dir = t_tmpdir();
  char path[600], sql[12000], name[5001], store[700];
  snprintf(path, sizeof path, "%s/app.db", dir);
  snprintf(store, sizeof store, "%s/long.evstore", dir);
  memset(name, 'n', 5000);
  name[5000] = 0;
  sqlite3 *db = open_db(path);
  REQUIRE(db);
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE \"%s\" USING evstore(dir='%s')", name, store);
  CHECK_EQ(t_sql_exec(db, sql), 0);
  snprintf(sql, sizeof sql, "INSERT INTO \"%s\"(source, event_type, payload) VALUES ('a','b','{}')",
           name);
  CHECK_EQ(t_sql_exec(db, sql), 0);
  struct stat st;
  CHECK_EQ(stat(store, &st), 0);
  snprintf(sql, sizeof sql, "DROP TABLE \"%s\"", name);
  CHECK_EQ(t_sql_exec(db, sql), 0);
  CHECK(stat(store, &st) != 0);
  sqlite3_close(db);
  t_rmdir(dir);
}

int main(void) {
  RUN(t_static_register_and_page);
  RUN(t_memory_database);
  RUN(t_drop_long_name);
  return TEST_EXIT();
}
