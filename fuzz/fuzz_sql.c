/*
** fuzz_sql.c: SQL against the evstore virtual table.
**
** Every input gets a fresh in-memory SQLite database with the module
** registered through evs_sqlite_register and
**   CREATE VIRTUAL TABLE inbox USING evstore(...)
** either in memory or (one input in two) in a scratch directory. The first
** byte picks how the rest is read:
**
**  raw         the rest is SQL text, run statement by statement (a
**              statement that does not prepare is skipped to the next ';');
**  structured  the rest drives a small grammar: INSERT (literal and
**              INSERT ... SELECT from the table itself), SELECT with WHERE
**              on id / rowid (=, IN, ranges, with integer, real, text, NULL
**              and extreme literals), status, source, event_type, priority,
**              created_us, created_at, cursor (the last cursor a SELECT
**              returned, bound as ?1), runs of up to 200 repeated or
**              counting terms and IN lists of up to 200 ids, ORDER BY,
**              LIMIT / OFFSET, self-joins and subqueries; UPDATE status,
**              DELETE, BEGIN, SAVEPOINT, RELEASE, ROLLBACK TO, COMMIT,
**              ROLLBACK; evstore_stats().
**
** Every row of every statement is stepped and every column read. SQL
** errors are expected; crashes, sanitizer reports and leaks are not. The
** run is bounded: input length, sqlite3_limit()s, a progress handler, and
** an authorizer that refuses ATTACH, PRAGMA, new virtual tables (no file
** system access beyond the scratch directory) and VACUUM.
**
** With a directory store, at the end everything is committed, the rows
** are read through SQL, the database is closed and the store opened
** directly: it must open with nothing recovered, pass evs_verify, and hold
** exactly the rows SQL showed.
*/
#include <sqlite3.h>

#include "evstore_sqlite.h"
#include "fuzz_common.h"

#define MAX_SQL 4096

static sqlite3 *db;
static int progress_calls, setup_done, dir_mode;
static char dir[300];
static char last_cursor[EVS_CURSOR_SIZE];
static volatile unsigned sink; /* column bytes are read into it */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  snprintf(dir, sizeof dir, "%s/sql.evstore", fz_scratch());
  return 0;
}

static int progress(void *arg) {
  (void)arg;
  return ++progress_calls > 300; /* about 300k VM steps per input */
}

static int authorize(void *arg, int action, const char *a, const char *b,
                     const char *c, const char *d) {
  (void)arg, (void)b, (void)c, (void)d;
  if (!setup_done) return SQLITE_OK;
  switch (action) {
  case SQLITE_ATTACH:
  case SQLITE_DETACH:
  case SQLITE_PRAGMA:
  case SQLITE_CREATE_VTABLE:
    return SQLITE_DENY;
  case SQLITE_DROP_VTABLE:
    return dir_mode ? SQLITE_DENY : SQLITE_OK; /* the final check needs it */
  case SQLITE_FUNCTION:
    if (b && (!sqlite3_stricmp(b, "load_extension") || !sqlite3_stricmp(b, "fts3_tokenizer")))
      return SQLITE_DENY;
    return SQLITE_OK;
  default:
    (void)a;
    return SQLITE_OK;
  }
}

/* FUZZ_TRACE=1 prints each statement and its outcome. */
static int tracing = -1;

static void trace_result(const char *sql, int rows) {
  if (tracing < 0) tracing = getenv("FUZZ_TRACE") != NULL;
  if (tracing)
    fprintf(stderr, "sql> %s\n     -> %d rows, %s\n", sql, rows,
            sqlite3_errcode(db) == SQLITE_OK || sqlite3_errcode(db) == SQLITE_DONE ||
                    sqlite3_errcode(db) == SQLITE_ROW
                ? "ok"
                : sqlite3_errmsg(db));
}

/* Step st to the end, reading every column; remember cursors. */
static void run_stmt(sqlite3_stmt *st) {
  if (sqlite3_bind_parameter_count(st) >= 1) {
    if (last_cursor[0] && sqlite3_bind_text(st, 1, last_cursor, -1, SQLITE_TRANSIENT))
      return;
  }
  int rows = 0;
  for (; rows < 2000; rows++) {
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) break;
    int nc = sqlite3_column_count(st);
    for (int i = 0; i < nc; i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      int n = sqlite3_column_bytes(st, i);
      if (t) {
        unsigned sum = 0;
        for (int k = 0; k < n; k++) sum += t[k];
        sink += sum;
        const char *name = sqlite3_column_name(st, i);
        if (name && !strcmp(name, "cursor") && n > 0 && n < EVS_CURSOR_SIZE)
          memcpy(last_cursor, t, (size_t)n + 1);
      }
    }
  }
  trace_result(sqlite3_sql(st), rows);
}

/* Run every statement of sql (NUL-terminated). */
static void exec_all(const char *sql) {
  const char *p = sql;
  while (*p) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, p, -1, &st, &tail);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(st);
      const char *semi = strchr(p, ';');
      if (!semi) break;
      p = semi + 1;
      continue;
    }
    if (st) run_stmt(st);
    sqlite3_finalize(st);
    if (!tail || tail == p) break;
    p = tail;
  }
}

static void exec1(const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && st) run_stmt(st);
  sqlite3_finalize(st);
}

/* ---- the grammar ---------------------------------------------------------- */

/* A statement being written (it may hold hundreds of terms). */
typedef struct sbuf {
  sqlite3_str *s;
} sbuf;

static void put(sbuf *b, const char *s) { sqlite3_str_appendall(b->s, s); }

#define PICK(in, arr) (arr[fz_pick(in, sizeof arr / sizeof *arr)])

static const char *const NUMS[] = {
    "0", "1", "2", "3", "5", "-1", "2.5", "'3'", "'abc'", "NULL", "3.0", "X'03'",
    "9223372036854775807", "-9223372036854775808", "1e300", "-1e300",
    "(SELECT max(id) FROM inbox)", "(SELECT min(id) FROM inbox WHERE status='pending')",
    "?1"};
static const char *const TIMES[] = {
    "0", "-1", "1", "9223372036854775807", "-9223372036854775808",
    "(SELECT created_us FROM inbox ORDER BY id LIMIT 1)",
    "(SELECT max(created_us) FROM inbox)", "strftime('%s','now')*1000000",
    "1.5", "'x'", "NULL"};
static const char *const ISO[] = {
    "'2024-01-01'", "'2099-12-31T23:59:59.999999Z'", "'1970'", "'garbage'", "''",
    "'2024-02-30T25:61:61Z'", "'9999-12-31T23:59:59.9999999Z'", "'0000-01-01T00:00:00'",
    "(SELECT created_at FROM inbox ORDER BY id DESC LIMIT 1)", "'2024-01-01T00:00:00.5Z'",
    "NULL", "strftime('%Y-%m-%dT%H:%M:%fZ','now')"};
static const char *const OPS[] = {"=", "<", "<=", ">", ">=", "!=", "IS", "IS NOT"};
static const char *const SOURCES[] = {"'a'", "'b'", "' a '", "''", "NULL", "'caf\xc3\xa9'",
                                      "1", "X'61'", "'a\x0b'"};
static const char *const TYPES[] = {"'t1'", "'t2'", "NULL", "' t1 '"};
static const char *const PAYLOADS[] = {
    "'{}'", "'{\"a\":1}'", "'{'", "NULL", "'[]'", "json_object('k','v')",
    "printf('{\"p\":\"%s\"}', hex(zeroblob(400)))", "'{\"k\":\"\\u0076\"}'", "X'7b7d'",
    "'{\"a\":1}' || ''"};
static const char *const METAS[] = {"NULL", "'{\"k\":\"v\"}'", "'{\"k\":1}'", "'x'", "'{}'"};
static const char *const KEYS[] = {"NULL", "'k1'", "'k2'", "''", "'k3'"};
static const char *const PRIOS[] = {"NULL", "'low'", "'normal'", "'high'", "'urgent'", "2"};
static const char *const STATUSES[] = {"'pending'", "'acknowledged'", "'x'", "NULL", "1"};
static const char *const COLS[] = {
    "*", "id", "rowid, id, status", "cursor", "id, cursor", "created_at, acknowledged_at",
    "count(*)", "payload, metadata, priority, idempotency_key", "source, event_type",
    "created_us", "max(id), min(created_at)", "*, cursor"};
static const char *const ORDERS[] = {"id",         "id DESC",        "created_us",
                                     "created_at DESC", "rowid",     "source",
                                     "id, created_us", "id DESC, created_us ASC",
                                     "created_us DESC, id DESC", "status, id"};

static void cond(fz_in *in, sbuf *b) {
  char t[200];
  switch (fz_pick(in, 14)) {
  case 0:
  case 1:
    snprintf(t, sizeof t, "%s %s %s", fz_u8(in) & 1 ? "id" : "rowid", PICK(in, OPS),
             PICK(in, NUMS));
    break;
  case 2:
    snprintf(t, sizeof t, "id IN (%s, %s, %s)", PICK(in, NUMS), PICK(in, NUMS),
             PICK(in, NUMS));
    break;
  case 3:
    snprintf(t, sizeof t, "id IN (SELECT id FROM inbox WHERE status = %s)",
             PICK(in, STATUSES));
    break;
  case 4:
    snprintf(t, sizeof t, "status = %s", PICK(in, STATUSES));
    break;
  case 5:
    snprintf(t, sizeof t, "source = %s", PICK(in, SOURCES));
    break;
  case 6:
    snprintf(t, sizeof t, "event_type = %s", PICK(in, TYPES));
    break;
  case 7:
    snprintf(t, sizeof t, "priority = %s", PICK(in, PRIOS));
    break;
  case 8:
    snprintf(t, sizeof t, "created_us %s %s", PICK(in, OPS), PICK(in, TIMES));
    break;
  case 9:
    snprintf(t, sizeof t, "created_at %s %s", PICK(in, OPS), PICK(in, ISO));
    break;
  case 10:
    snprintf(t, sizeof t, "cursor = %s", fz_u8(in) % 4 ? "?1" : "'AQAAAAAAAA'");
    break;
  case 11:
    snprintf(t, sizeof t, "payload LIKE '%%a%%'");
    break;
  case 12:
    snprintf(t, sizeof t, "metadata IS %sNULL", fz_u8(in) & 1 ? "NOT " : "");
    break;
  default:
    snprintf(t, sizeof t, "acknowledged_at %s %s", PICK(in, OPS), PICK(in, ISO));
    break;
  }
  put(b, t);
}

/* A run of up to 200 terms joined by AND: one term repeated, or terms
** that count (created_us >= 0 AND created_us >= 1 ...), or one IN list of
** up to 200 ids. The planner then gets hundreds of constraints. */
static void run_of_terms(fz_in *in, sbuf *b) {
  unsigned count = 1 + fz_u8(in) % 200, style = fz_pick(in, 6);
  char t[160];
  if (style == 5) {
    put(b, "id IN (");
    for (unsigned j = 0; j < count; j++) {
      snprintf(t, sizeof t, "%s%u", j ? ", " : "", j * 3 % 1000);
      put(b, t);
    }
    put(b, ")");
    return;
  }
  sbuf one = {sqlite3_str_new(NULL)};
  if (style == 0) cond(in, &one);
  char *same = sqlite3_str_finish(one.s);
  for (unsigned j = 0; j < count; j++) {
    if (j) put(b, " AND ");
    switch (style) {
    case 0: snprintf(t, sizeof t, "%s", same ? same : "1"); break;
    case 1: snprintf(t, sizeof t, "created_us >= %u", j); break;
    case 2: snprintf(t, sizeof t, "id >= %u AND rowid <= %u", j % 3, 1000000 - j); break;
    case 3: snprintf(t, sizeof t, "created_at > '19%02u' AND status = 'pending'", j % 100); break;
    default:
      snprintf(t, sizeof t,
               "source = 'a' AND event_type IN ('t1', 't%u') AND priority = 'normal'", j);
      break;
    }
    put(b, t);
  }
  sqlite3_free(same);
}

static void where(fz_in *in, sbuf *b) {
  unsigned k = fz_u8(in), n = k % 5;
  if (!n) return;
  put(b, " WHERE ");
  for (unsigned i = 0; i < n; i++) {
    if (i) put(b, fz_u8(in) % 5 ? " AND " : " OR ");
    if (k >= 200 && fz_u8(in) & 1) run_of_terms(in, b);
    else cond(in, b);
  }
}

static void insert(fz_in *in, sbuf *b) {
  unsigned k = fz_u8(in);
  if (k % 8 == 0) {
    put(b, "INSERT INTO inbox(source, event_type, payload, metadata, priority) "
           "SELECT source, event_type, payload, metadata, priority FROM inbox");
    where(in, b);
    put(b, " LIMIT 5");
    return;
  }
  if (k % 8 == 1) {
    char t[200];
    static const char *const assigned[] = {"id", "status", "created_at", "created_us",
                                           "acknowledged_at", "cursor", "rowid"};
    snprintf(t, sizeof t,
             "INSERT INTO inbox(source, event_type, payload, %s) VALUES ('a','t1','{}',%s)",
             PICK(in, assigned), PICK(in, NUMS));
    put(b, t);
    return;
  }
  put(b, fz_u8(in) & 1 ? "INSERT" : "INSERT OR IGNORE");
  put(b, " INTO inbox(source, event_type, payload, metadata, idempotency_key, priority) "
         "VALUES ");
  unsigned rows = 1 + fz_pick(in, 3);
  for (unsigned r = 0; r < rows; r++) {
    char t[600];
    /* Mostly valid rows. */
    int valid = fz_u8(in) % 4 != 0;
    snprintf(t, sizeof t, "%s(%s, %s, %s, %s, %s, %s)", r ? ", " : "",
             valid ? SOURCES[fz_pick(in, 3)] : PICK(in, SOURCES),
             valid ? TYPES[fz_pick(in, 2)] : PICK(in, TYPES),
             valid ? PAYLOADS[fz_pick(in, 2) ? fz_pick(in, 2) : 6] : PICK(in, PAYLOADS),
             valid ? METAS[fz_pick(in, 3)] : PICK(in, METAS),
             valid ? KEYS[fz_pick(in, 3)] : PICK(in, KEYS),
             valid ? PRIOS[fz_pick(in, 4)] : PICK(in, PRIOS));
    put(b, t);
  }
}

static void select_stmt(fz_in *in, sbuf *b) {
  unsigned k = fz_pick(in, 10);
  if (k == 0) {
    put(b, "SELECT a.id, b.id, b.cursor FROM inbox a JOIN inbox b ON b.id = a.id + 1");
    where(in, b);
    return;
  }
  if (k == 1) {
    put(b, "SELECT (SELECT count(*) FROM inbox i2 WHERE i2.source = i1.source AND "
           "i2.id <= i1.id) FROM inbox i1");
    where(in, b);
    return;
  }
  put(b, "SELECT ");
  put(b, PICK(in, COLS));
  put(b, " FROM inbox");
  where(in, b);
  unsigned o = fz_u8(in);
  if (o & 1) {
    put(b, " ORDER BY ");
    put(b, ORDERS[(o >> 1) % (sizeof ORDERS / sizeof *ORDERS)]);
  }
  if (o & 0x20) {
    char t[100];
    static const char *const LIM[] = {"0", "1", "2", "5", "100", "-1", "9223372036854775807",
                                      "'2'", "NULL"};
    static const char *const OFF[] = {"0", "1", "3", "9223372036854775807", "-5"};
    snprintf(t, sizeof t, " LIMIT %s", PICK(in, LIM));
    put(b, t);
    if (o & 0x40) {
      snprintf(t, sizeof t, " OFFSET %s", PICK(in, OFF));
      put(b, t);
    }
  }
}

static void structured(fz_in *in) {
  int nstmt = 0;
  while (in->n && nstmt++ < 60) {
    sbuf b = {sqlite3_str_new(NULL)};
    char t[300];
    unsigned k = fz_pick(in, 20);
    switch (k) {
    case 0: case 1: case 2: case 3: case 4:
      insert(in, &b);
      break;
    case 5: case 6: case 7: case 8: case 9:
      select_stmt(in, &b);
      break;
    case 10: case 11:
      snprintf(t, sizeof t, "UPDATE inbox SET status = %s", PICK(in, STATUSES));
      put(&b, t);
      if (fz_u8(in) % 6 == 0) {
        static const char *const other[] = {"source = 'z'", "id = id", "id = 99",
                                            "payload = payload", "cursor = NULL"};
        put(&b, ", ");
        put(&b, PICK(in, other));
      }
      where(in, &b);
      break;
    case 12:
      put(&b, "DELETE FROM inbox");
      where(in, &b);
      break;
    case 13: {
      static const char *const T[] = {"BEGIN", "COMMIT", "ROLLBACK", "END", "BEGIN IMMEDIATE"};
      put(&b, PICK(in, T));
      break;
    }
    case 14:
    case 15: {
      static const char *const S[] = {"SAVEPOINT", "RELEASE", "ROLLBACK TO", "RELEASE SAVEPOINT",
                                      "ROLLBACK TRANSACTION TO SAVEPOINT"};
      snprintf(t, sizeof t, "%s s%u", PICK(in, S), fz_pick(in, 4));
      put(&b, t);
      break;
    }
    case 16:
      put(&b, fz_u8(in) & 1 ? "SELECT evstore_stats('inbox')" : "SELECT evstore_stats('nope')");
      break;
    case 17:
      put(&b, "SELECT * FROM inbox ORDER BY id");
      break;
    case 18:
      /* A statement that fails half-way inside a transaction. */
      put(&b, "INSERT INTO inbox(source, event_type, payload) VALUES "
              "('a','t1','{\"ok\":1}'), ('a','t1','not json')");
      break;
    default:
      put(&b, "UPDATE inbox SET status = 'acknowledged' WHERE status = 'pending' AND ");
      cond(in, &b);
      break;
    }
    char *sql = sqlite3_str_finish(b.s);
    if (sql) exec1(sql);
    sqlite3_free(sql);
  }
}

/* ---- the directory check ------------------------------------------------------ */

typedef struct dbuf {
  char *p;
  size_t n, cap;
} dbuf;

static void dput(dbuf *d, const char *s, size_t n) {
  if (d->n + n + 1 > d->cap) {
    d->cap = (d->n + n + 1) * 2;
    d->p = realloc(d->p, d->cap);
  }
  memcpy(d->p + d->n, s, n);
  d->n += n;
  d->p[d->n] = 0;
}

static void row_line(dbuf *d, long long id, const char *status, const char *src,
                     const char *payload, const char *key, long long created) {
  char t[128];
  snprintf(t, sizeof t, "%lld|%s|%lld|", id, status, created);
  dput(d, t, strlen(t));
  dput(d, src, strlen(src));
  dput(d, "|", 1);
  dput(d, payload, strlen(payload));
  dput(d, "|", 1);
  dput(d, key ? key : "-", strlen(key ? key : "-"));
  dput(d, "\n", 1);
}

static void sql_rows(dbuf *d) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, status, source, payload, idempotency_key, created_us "
                         "FROM main.inbox ORDER BY id",
                         -1, &st, NULL))
    fz_fail(__FILE__, __LINE__, "prepare: %s", sqlite3_errmsg(db));
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    row_line(d, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
             (const char *)sqlite3_column_text(st, 2),
             (const char *)sqlite3_column_text(st, 3),
             (const char *)sqlite3_column_text(st, 4), sqlite3_column_int64(st, 5));
  FZ_CHECK(rc == SQLITE_DONE, "reading the table back: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
}

static void store_rows(evs_store *s, dbuf *d) {
  evs_query q = {.status = EVS_QUERY_ANY, .limit = 100};
  evs_page *pg = NULL;
  char cur[EVS_CURSOR_SIZE];
  for (;;) {
    int rc = evs_inbox(s, NULL, &q, &pg);
    FZ_CHECK(rc == 0, "inbox of the reopened store: %s", evs_errmsg(s));
    for (size_t i = 0; i < evs_page_count(pg); i++) {
      const evs_event *e = evs_page_event(pg, i);
      row_line(d, (long long)e->id, e->status ? "acknowledged" : "pending", e->source,
               e->payload, e->idempotency_key, (long long)e->created_us);
    }
    if (!evs_page_more(pg)) break;
    snprintf(cur, sizeof cur, "%s", evs_page_cursor(pg));
    q.cursor = cur;
  }
  evs_page_free(pg);
}

static void dir_check(void) {
  /* Commit what the input left open (or drop it when COMMIT fails). */
  if (!sqlite3_get_autocommit(db)) {
    exec1("COMMIT");
    if (!sqlite3_get_autocommit(db)) exec1("ROLLBACK");
  }
  FZ_CHECK(sqlite3_get_autocommit(db), "transaction still open");
  progress_calls = -1000000; /* the check itself is not limited */
  dbuf a = {0}, b = {0};
  dput(&a, "", 0);
  dput(&b, "", 0);
  sql_rows(&a);
  FZ_CHECK(sqlite3_close(db) == SQLITE_OK, "close: %s", sqlite3_errmsg(db));
  db = NULL;
  evs_options o = {0};
  o.sync = EVS_SYNC_OFF;
  o.segment_size = 4096;
  o.auto_compact_percent = -1;
  evs_store *s;
  int rc = evs_store_open(dir, &o, &s);
  FZ_CHECK(rc == 0, "the table's store does not reopen: %s", evs_errmsg(NULL));
  evs_stats st;
  FZ_CHECK(!evs_stats_get(s, &st), "stats");
  FZ_CHECK(!st.recovered_bytes_dropped && !st.recovered_records_dropped,
           "reopen after a clean close recovered %llu bytes, %llu records",
           (unsigned long long)st.recovered_bytes_dropped,
           (unsigned long long)st.recovered_records_dropped);
  rc = evs_verify(s, NULL);
  FZ_CHECK(rc == 0, "evs_verify of the table's store: %s", evs_errmsg(s));
  store_rows(s, &b);
  FZ_CHECK(a.n == b.n && !memcmp(a.p, b.p, a.n),
           "rows differ after reopen:\n--- SQL saw:\n%s--- the store holds:\n%s", a.p, b.p);
  evs_store_close(s);
  free(a.p);
  free(b.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_SQL) return 0;
  fz_in in = {data, size};
  unsigned mode = fz_u8(&in);
  dir_mode = (mode & 2) != 0;
  setup_done = 0;
  progress_calls = 0;
  last_cursor[0] = 0;
  if (dir_mode) {
    fz_clean_dir(dir);
    rmdir(dir);
  }
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
  if (evs_sqlite_register(db) != SQLITE_OK) abort();
  char create[600];
  if (dir_mode)
    snprintf(create, sizeof create,
             "CREATE VIRTUAL TABLE inbox USING evstore(dir='%s', sync='off', "
             "segment_size=4096, compress_threshold=256, auto_compact='off')",
             dir);
  else
    snprintf(create, sizeof create,
             "CREATE VIRTUAL TABLE inbox USING evstore(%s)",
             mode & 4 ? "retention='forever', idempotency_window='1ms', "
                        "segment_size=4096, compress_threshold=64, validate_json=0, "
                        "auto_compact='off'"
                      : "");
  char *err = NULL;
  if (sqlite3_exec(db, create, NULL, NULL, &err) != SQLITE_OK)
    fz_fail(__FILE__, __LINE__, "%s: %s", create, err ? err : "?");
  sqlite3_free(err);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 200000);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1 << 17);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 700); /* runs of 200 terms, 3 each */
  sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 8);
  sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, 20000);
  sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 8);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 100);
  sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 8);
  sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 4);
  sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
  sqlite3_progress_handler(db, 1000, progress, NULL);
  sqlite3_set_authorizer(db, authorize, NULL);
  setup_done = 1;

  if (mode & 1) {
    structured(&in);
  } else {
    char *sql = malloc(in.n + 1);
    memcpy(sql, in.p, in.n);
    sql[in.n] = 0;
    /* VACUUM INTO writes a file wherever it is told. */
    int vacuum = 0;
    for (const char *p = sql; *p && !vacuum; p++)
      vacuum = !sqlite3_strnicmp(p, "vacuum", 6);
    if (!vacuum) exec_all(sql);
    free(sql);
  }
  if (dir_mode) {
    dir_check();
    fz_clean_dir(dir);
    rmdir(dir);
  } else {
    FZ_CHECK(sqlite3_close(db) == SQLITE_OK, "close: %s", sqlite3_errmsg(db));
    db = NULL;
  }
  return 0;
}
