/*
** test_sqldiff.c: the SQL module's pushdown, checked differentially.
**
** One store of seeded events (sources and types in case variants and with
** inner spaces, numeric-looking names, some acknowledged, priorities,
** metadata, leased, dead and released events, delayed events (not_before
** passed, to come, far off) and ordering keys in case variants, with inner
** spaces and numeric-looking; created by a fake clock, so times include
** exact whole seconds, equal microseconds, day and year boundaries) is attached as an evstore
** table `ev` and copied into a plain SQLite table `plain`. Thousands of
** random queries then run against both and must return the same rows
** (in the same order under ORDER BY, which always ends in a unique key; as
** sets otherwise; under LIMIT without ORDER BY, as many rows, all of them
** rows of the unlimited query). The WHERE clauses combine terms over every
** column with every operator, values of every type (text with white space,
** case variants, NUL bytes, invalid UTF-8, over-long names; times with and
** without fractions, dates, partial and impossible times; integers, reals,
** numeric text, blobs, NULL, CAST and sub-select wrappers) and collations.
** Whatever the table does in xBestIndex/xFilter must give SQLite's answer,
** whatever plan SQLite picks.
**
**   EVS_SEED=n     the data and the queries of run n (default 1)
**   EVS_QUERIES=n  queries per run (default 5000)
**
** A mismatch prints the query and both results, and the test fails.
** t_many_constraints is the regression test of a stack overflow in the
** planner: statements with hundreds of constraints and very long values.
*/
#include <evstore_sqlite.h>
#include <sqlite3.h>
#include <time.h>

#include "gen.h"
#include "testlib.h"

static uint64_t rs; /* the query generator's state */
static uint64_t rnd(void) { return mix64(rs++); }
static int rn(int n) { return (int)(rnd() % (uint64_t)n); }
static int chance(int pct) { return rn(100) < pct; }
#define PICK(a) ((a)[rn((int)(sizeof(a) / sizeof *(a)))])

static uint64_t seed = 1;
static long nqueries = 5000;

/* ---- The data ---------------------------------------------------------- */

#define NEVENTS 420
#define T0_SQL 1777622258000000LL /* 2026-05-01T07:57:38Z */
#define YEAR_END 1798761599500000LL /* 2026-12-31T23:59:59.5Z */

static char long_name[101]; /* 100 bytes: the longest name there is */
static const char *sources[] = {"stripe", "Stripe", "STRIPE",  "git hub", "git  hub",
                                "github", "5",      "05",      "5.0",     "1e1",
                                "café",   "CAFÉ",   "2026-05-01", "pay pal", long_name};
static const char *types[] = {"order.created", "Order.Created", "ORDER.CREATED",
                              "order created", "order  created", "7",
                              "7.0",           "-7",            "e"};
static char long_key[EVS_MAX_ORDERING_KEY + 1]; /* the longest key there is */
static const char *okeys[] = {"acct-1", "Acct-1", "ACCT-1", "acct 1", "acct  1", "acct-2",
                              "5",      "05",     "5.0",    "-7",     "1e1",     "café",
                              "CAFÉ",   "k",      long_key};

/* The clock's next step: mostly fractions of a second, also no step at
** all (equal times), exact whole seconds, whole days (midnight), a
** microsecond before a whole second, backwards (created_us stays put). */
static void tick(fake_clock *c, uint64_t *g) {
  *g = mix64(*g);
  int64_t r = (int64_t)(*g >> 8);
  switch (*g % 16) {
  case 0: case 1: case 2: case 3: case 4: case 5: c->now += r % 300000; break;
  case 6: case 7: break;
  case 8: case 9: c->now = (c->now / SEC + 1) * SEC; break;
  case 10: c->now += 1; break;
  case 11: c->now += (r % 3600) * SEC; break;
  case 12: c->now = (c->now / DAY + 1) * DAY - (r % 2); break;
  case 13: c->now -= r % (10 * SEC); break;
  case 14: c->now = (c->now / SEC + 1) * SEC - 1; break;
  default: c->now += (r % 40) * DAY + r % SEC; break;
  }
}

/* Write the store: NEVENTS appends, then acks and deletes, then claims. */
static int make_store(const char *dir) {
  fake_clock c = {T0_SQL};
  evs_options o;
  memset(&o, 0, sizeof o);
  o.clock = fake_clock_fn;
  o.clock_arg = &c;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  o.sync = EVS_SYNC_OFF;
  o.auto_compact_percent = -1;
  evs_store *s;
  if (evs_store_open(dir, &o, &s)) return -1;
  uint64_t g = mix64(seed * 7919);
  int rc = 0;
  for (int i = 0; i < NEVENTS && !rc; i++) {
    if (i == NEVENTS / 2) c.now = YEAR_END;
    tick(&c, &g);
    char pl[64], meta[64], key[32];
    evs_event_in in;
    memset(&in, 0, sizeof in);
    in.source = sources[mix64(g + 1) % (sizeof sources / sizeof *sources)];
    in.event_type = types[mix64(g + 2) % (sizeof types / sizeof *types)];
    snprintf(pl, sizeof pl, "{\"n\":%d,\"r\":%u}", i, (unsigned)(mix64(g + 3) % 1000));
    in.payload = pl;
    if (mix64(g + 4) % 3 == 0) {
      snprintf(meta, sizeof meta, "{\"k\":%d}", (int)(mix64(g + 5) % 7));
      in.metadata = meta;
    }
    if (mix64(g + 6) % 5 == 0) {
      snprintf(key, sizeof key, "key-%d", i);
      in.idempotency_key = key;
    }
    in.priority = (int)(mix64(g + 7) % 4);
    /* A third with an ordering key; a fifth with not_before: passed
    ** (stored as none), to come (delayed past the fake clock's appends,
    ** some still delayed for the real clock the table reads with: which
    ** status, both tables copy), at whole seconds or days, or far off. */
    if (mix64(g + 8) % 3 == 0) in.ordering_key = okeys[mix64(g + 9) % (sizeof okeys / sizeof *okeys)];
    int64_t r = (int64_t)(mix64(g + 10) >> 8);
    switch (mix64(g + 11) % 10) {
    case 0: in.not_before_us = c.now - r % DAY; break;
    case 1: in.not_before_us = c.now + r % (60 * DAY); break;
    case 2: in.not_before_us = (c.now / SEC + 1 + r % 600) * SEC; break;
    case 3: in.not_before_us = (c.now / DAY + 1 + r % 300) * DAY; break;
    case 4: in.not_before_us = YEAR_END + 10 * 366 * DAY + r % DAY; break;
    default: break;
    }
    rc = evs_append(s, NULL, &in, NULL);
  }
  for (uint64_t id = 1; id <= NEVENTS && !rc; id++) {
    uint64_t h = mix64(g ^ id);
    tick(&c, &g);
    if (h % 100 < 35) rc = evs_ack(s, NULL, id, NULL);
    else if (h % 100 < 40) rc = evs_delete(s, NULL, id, NULL);
  }
  /* Consumers: 45 of the pending events claimed for 12 h (past the fake
  ** clock's times, which run ahead of the real one the SQL table reads
  ** with), a third of them rejected (dead), a third released (pending,
  ** delivered once), the rest left leased. */
  evs_page *pg = NULL;
  evs_query cq;
  memset(&cq, 0, sizeof cq);
  cq.limit = 45;
  if (!rc) rc = evs_claim(s, &cq, "worker-1", 12 * 3600 * SEC, &pg);
  for (size_t i = 0; !rc && i < evs_page_count(pg); i++) {
    const evs_event *e = evs_page_event(pg, i);
    if (i % 3 == 0) rc = evs_reject(s, e->id, e->lease_token);
    else if (i % 3 == 1) rc = evs_release(s, e->id, e->lease_token, 0);
  }
  evs_page_free(pg);
  if (rc) fprintf(stderr, "  make_store: %s\n", evs_errmsg(s));
  return evs_store_close(s) || rc ? -1 : 0;
}

/* The database: `ev` on the store in dir, `plain` its copy. */
static sqlite3 *open_both(const char *dir) {
  sqlite3 *db = NULL;
  if (sqlite3_open(":memory:", &db) || evs_sqlite_register(db)) {
    sqlite3_close(db);
    return NULL;
  }
  char *sql = sqlite3_mprintf(
      "CREATE VIRTUAL TABLE ev USING evstore(dir=%Q, retention=forever, "
      "auto_compact=off);"
      "CREATE TABLE plain(id INTEGER PRIMARY KEY, created_at TEXT, created_us INTEGER, "
      "status TEXT, source TEXT, event_type TEXT, payload TEXT, metadata TEXT, "
      "priority TEXT, idempotency_key TEXT, acknowledged_at TEXT, delivery_count INTEGER, "
      "lease_token INTEGER, lease_expires_at TEXT, leased_by TEXT, not_before TEXT, "
      "ordering_key TEXT);"
      "INSERT INTO plain SELECT * FROM ev;",
      dir);
  int rc = t_sql_exec(db, sql);
  sqlite3_free(sql);
  if (rc) {
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* Values taken from the data, for the generator. */
static struct {
  int n;
  int64_t maxid;
  int64_t us[NEVENTS];
  char at[NEVENTS][32];
  char acked[NEVENTS][32];
  int nacked;
  char nb[NEVENTS][32]; /* not_before */
  int nnb;
} data;

static int load_values(sqlite3 *db) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, created_us, created_at, acknowledged_at, not_before "
                         "FROM plain",
                         -1, &st, NULL))
    return -1;
  while (sqlite3_step(st) == SQLITE_ROW && data.n < NEVENTS) {
    data.maxid = sqlite3_column_int64(st, 0);
    data.us[data.n] = sqlite3_column_int64(st, 1);
    snprintf(data.at[data.n], 32, "%s", (const char *)sqlite3_column_text(st, 2));
    if (sqlite3_column_type(st, 3) == SQLITE_TEXT)
      snprintf(data.acked[data.nacked++], 32, "%s", (const char *)sqlite3_column_text(st, 3));
    if (sqlite3_column_type(st, 4) == SQLITE_TEXT)
      snprintf(data.nb[data.nnb++], 32, "%s", (const char *)sqlite3_column_text(st, 4));
    data.n++;
  }
  sqlite3_finalize(st);
  /* The claims of make_store are there: leased, dead, released. A
  ** release returns the event at the fake clock's "now", ahead of the real
  ** clock the table reads with: until then it shows 'leased' (a release
  ** with a delay: no token, no consumer). */
  int leased = 0, dead = 0, released = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT count(*) FILTER (WHERE status = 'leased' AND leased_by = "
                         "'worker-1' AND lease_token > 0 AND lease_expires_at > created_at), "
                         "count(*) FILTER (WHERE status = 'dead' AND delivery_count = 1), "
                         "count(*) FILTER (WHERE status <> 'dead' AND delivery_count = 1 "
                         "AND lease_token IS NULL AND leased_by IS NULL) FROM plain",
                         -1, &st, NULL))
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    leased = sqlite3_column_int(st, 0);
    dead = sqlite3_column_int(st, 1);
    released = sqlite3_column_int(st, 2);
  }
  sqlite3_finalize(st);
  /* Delayed events: some not_before shown, some still held back; and
  ** ordering keys, every one of them, never two of a key leased (the
  ** claim took one event of a key at a time). */
  int delayed = 0, keyed = 0, keys = 0, twice = -1, leased_keyed = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT count(*) FILTER (WHERE status = 'delayed'), "
                         "count(ordering_key), count(DISTINCT ordering_key), "
                         "(SELECT count(*) FROM (SELECT ordering_key FROM plain WHERE status = "
                         "'leased' AND ordering_key IS NOT NULL GROUP BY ordering_key HAVING "
                         "count(*) > 1)), count(*) FILTER (WHERE status = 'leased' AND ordering_key "
                         "IS NOT NULL) FROM plain",
                         -1, &st, NULL))
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    delayed = sqlite3_column_int(st, 0);
    keyed = sqlite3_column_int(st, 1);
    keys = sqlite3_column_int(st, 2);
    twice = sqlite3_column_int(st, 3);
    leased_keyed = sqlite3_column_int(st, 4);
  }
  sqlite3_finalize(st);
  return data.n > 300 && data.nacked > 50 && leased == 15 && dead == 15 && released == 15 &&
                 data.nnb > 20 && delayed > 5 && keyed > 100 && twice == 0 &&
                 leased_keyed > 0 &&
                 keys == (int)(sizeof okeys / sizeof *okeys)
             ? 0
             : -1;
}

/* ---- Values ------------------------------------------------------------ */

typedef sqlite3_str str;

/* A text literal that may hold any bytes: control characters, NUL and
** invalid UTF-8 go through CAST(x'..' AS TEXT). */
static void lit(str *q, const char *p, size_t n) {
  int plain = 1;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] == 0xff) plain = 0;
  if (!plain) {
    sqlite3_str_appendall(q, "CAST(x'");
    for (size_t i = 0; i < n; i++) sqlite3_str_appendf(q, "%02x", (unsigned char)p[i]);
    sqlite3_str_appendall(q, "' AS TEXT)");
    return;
  }
  sqlite3_str_appendchar(q, 1, '\'');
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\'') sqlite3_str_appendchar(q, 1, '\'');
    sqlite3_str_appendchar(q, 1, p[i]);
  }
  sqlite3_str_appendchar(q, 1, '\'');
}

static void lits(str *q, const char *p) { lit(q, p, strlen(p)); }

/* t, or t as a filter value might differ from a stored name: white space
** around it (also \v and \f, which names are trimmed of), other case,
** other inner spaces, a NUL byte, invalid UTF-8, a byte more, empty, as a
** blob. */
static void text_variant(str *q, const char *t) {
  char b[300];
  size_t n = strlen(t);
  switch (rn(18)) {
  case 0: snprintf(b, sizeof b, " %s", t); break;
  case 1: snprintf(b, sizeof b, "%s ", t); break;
  case 2: snprintf(b, sizeof b, "%c%s", PICK("\t\v\f\n"), t); break;
  case 3: snprintf(b, sizeof b, "%s%c", t, PICK("\t\v\f\r")); break;
  case 4:
    snprintf(b, sizeof b, "%s", t);
    for (char *c = b; *c; c++)
      if (chance(50) && ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'))) *c ^= 0x20;
    break;
  case 5: {
    size_t k = 0;
    int twice = chance(50);
    for (const char *c = t; *c && k < sizeof b - 3; c++) {
      if (*c == ' ' && !twice) continue;
      b[k++] = *c;
      if (*c == ' ' && twice) b[k++] = ' ';
    }
    b[k] = 0;
    break;
  }
  case 6: lit(q, t, n + 1); return; /* the NUL terminator inside */
  case 7:
    snprintf(b, sizeof b, "%s?x", t);
    b[n] = 0;
    lit(q, b, n + 2);
    return;
  case 8: snprintf(b, sizeof b, "%s\xff", t); break;
  case 9: snprintf(b, sizeof b, "%sx", t); break;
  case 10: b[0] = 0; break;
  case 11:
    sqlite3_str_appendall(q, "x'");
    for (size_t i = 0; i < n; i++) sqlite3_str_appendf(q, "%02x", (unsigned char)t[i]);
    sqlite3_str_appendchar(q, 1, '\'');
    return;
  default: snprintf(b, sizeof b, "%s", t); break;
  }
  lits(q, b);
}

/* Values of any column's type and none. */
static void any_value(str *q) {
  static const char *const v[] = {
      "NULL", "x''", "x'35'", "x'737472697065'", "0", "1", "-1", "5", "5.0", "5.5",
      "-0.5", "1e300", "-1e300", "9.3e18", "9223372036854775807",
      "-9223372036854775808", "9223372036854775808", "'5'", "' 5 '", "'5e0'", "'0x5'",
      "'05'", "'5.0'", "''", "' '", "'abc'", "'z'", "'~'", "'pending'", "'2026'", "2026",
      "char(0)", "'-'", "'stripe'", "'low'"};
  sqlite3_str_appendall(q, PICK(v));
}

static void id_value(str *q) {
  long long k = rn((int)data.maxid + 6) - 2;
  switch (rn(14)) {
  case 0: sqlite3_str_appendf(q, "%lld.0", k); break;
  case 1: sqlite3_str_appendf(q, "%lld.5", k); break;
  case 2: sqlite3_str_appendf(q, "'%lld'", k); break;
  case 3: sqlite3_str_appendf(q, "' %lld '", k); break;
  case 4: sqlite3_str_appendf(q, "'%lld.0'", k); break;
  case 5: sqlite3_str_appendf(q, "'%llde0'", k); break;
  case 6: sqlite3_str_appendf(q, "'0x%llx'", k); break;
  case 7: sqlite3_str_appendf(q, "CAST('%lld' AS INTEGER)", k); break;
  case 8: sqlite3_str_appendf(q, "(SELECT %lld)", k); break;
  default: sqlite3_str_appendf(q, "%lld", k); break;
  }
}

static void us_value(str *q) {
  long long u = data.us[rn(data.n)];
  if (chance(30)) u += rn(3) - 1;
  switch (rn(12)) {
  case 0: sqlite3_str_appendf(q, "%lld.5", u); break;
  case 1: sqlite3_str_appendf(q, "%lld.0", u); break;
  case 2: sqlite3_str_appendf(q, "'%lld'", u); break;
  case 3: sqlite3_str_appendf(q, "' %lld '", u); break;
  case 4: sqlite3_str_appendf(q, "'%lld.0'", u); break;
  case 5: sqlite3_str_appendf(q, "CAST(%lld AS REAL)", u); break;
  case 6: sqlite3_str_appendf(q, "'%lldx'", u); break;
  case 7: sqlite3_str_appendf(q, "%lld", u / SEC * SEC); break;
  default: sqlite3_str_appendf(q, "%lld", u); break;
  }
}

/* evs_fmt_time's form: "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
static void fmt_us(int64_t us, char out[64]) {
  time_t sec = (time_t)(us / SEC);
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % SEC));
}

/* A created_at-like value near time a (27 characters). */
static void time_value(str *q, const char *a) {
  static const char *const special[] = {
      "1969-12-31T23:59:59Z", "1970-01-01", "0000-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999999Z", "2026-02-30T00:00:00Z", "2026-05-01T24:00:00Z",
      "2026-05-01T07:57:60Z", "2026-13-01", "2026-05-00", "2026-05-01T07:57:38.Z",
      "2026-05-01T07:57:38.", "20260501", "2027", "2026-12-31T23:59:59.999999Z",
      "2027-01-01T00:00:00Z", "2026-05-01T07:57:38.000000Z", "2026-05-01T07:57:38Z",
      "2026-05-01T07:57:38", "2026-05-01T07:57", "2026-05-01T07", "2026-05-01T",
      "2026-05", "2026-5-1", "+2026-05-01", "2026-05-01T07:57:38.8349541Z"};
  char b[64];
  int64_t us = data.us[rn(data.n)];
  switch (rn(20)) {
  case 0: snprintf(b, sizeof b, "%.*s", 1 + rn(26), a); break;
  case 1: snprintf(b, sizeof b, "%.19sZ", a); break;
  case 2: {
    int digits = rn(7);
    snprintf(b, sizeof b, "%.19s.%.*s%s", a, digits, a + 20, chance(50) ? "Z" : "");
    break;
  }
  case 3: snprintf(b, sizeof b, "%.10s", a); break;
  case 4: snprintf(b, sizeof b, "%.*s", PICK(((int[]){13, 16, 19, 20})), a); break;
  case 5: snprintf(b, sizeof b, "%s", a), b[10] = chance(50) ? ' ' : 't'; break;
  case 6: snprintf(b, sizeof b, "%.26sz", a); break;
  case 7: snprintf(b, sizeof b, chance(50) ? " %s" : "%s ", a); break;
  case 8:
    fmt_us(us + PICK(((int64_t[]){-SEC, SEC, -DAY, DAY, -1, 1})), b);
    if (chance(50)) snprintf(b + 19, sizeof b - 19, "Z");
    break;
  case 9: snprintf(b, sizeof b, "%s", PICK(special)); break;
  case 10:
    sqlite3_str_appendf(q, "CAST(%Q AS BLOB)", a);
    return;
  case 11: snprintf(b, sizeof b, "%sx", a); break;
  case 12: lit(q, a, 27 + (size_t)rn(2)); return; /* maybe with its NUL */
  case 13: fmt_us(us / SEC * SEC, b); break;
  default: snprintf(b, sizeof b, "%s", a); break;
  }
  lits(q, b);
}

enum { K_ID, K_US, K_AT, K_ACKED, K_STATUS, K_SOURCE, K_TYPE, K_PRIO, K_KEY, K_META, K_NB,
       K_OKEY };

static const struct {
  const char *name;
  int kind, weight;
} cols[] = {{"id", K_ID, 6},          {"rowid", K_ID, 2},
            {"created_us", K_US, 5},  {"created_at", K_AT, 8},
            {"status", K_STATUS, 5},  {"source", K_SOURCE, 7},
            {"event_type", K_TYPE, 4}, {"priority", K_PRIO, 3},
            {"acknowledged_at", K_ACKED, 1}, {"idempotency_key", K_KEY, 1},
            {"metadata", K_META, 1},         {"not_before", K_NB, 3},
            {"ordering_key", K_OKEY, 4}};

/* A "simple" query uses only what the table can take whole (AND of
** comparisons on id, created_us, status, source, event_type, priority),
** so that LIMIT reaches the table too. */
static int simple;

static int pick_col(void) {
  int total = 0;
  for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) total += cols[i].weight;
  for (;;) {
    int r = rn(total);
    size_t i = 0;
    while ((r -= cols[i].weight) >= 0) i++;
    int k = cols[i].kind;
    if (!simple || k == K_ID || k == K_US || k == K_STATUS || k == K_SOURCE ||
        k == K_TYPE || k == K_PRIO)
      return (int)i;
  }
}

static void base_value(str *q, int kind) {
  static const char *const status[] = {"pending", "acknowledged", "leased", "dead"};
  static const char *const prio[] = {"low", "normal", "high"};
  static const char *const numeric_names[] = {
      "5", "5.0", "05", "CAST(5 AS INTEGER)", "CAST('5' AS REAL)", "CAST('05' AS NUMERIC)",
      "7", "7.0", "-7", "CAST(-7 AS REAL)", "1e1", "10", "10.0", "CAST(10 AS INTEGER)"};
  if (chance(15)) {
    any_value(q);
    return;
  }
  switch (kind) {
  case K_ID: id_value(q); break;
  case K_US: us_value(q); break;
  case K_AT: time_value(q, data.at[rn(data.n)]); break;
  case K_ACKED: time_value(q, data.acked[rn(data.nacked)]); break;
  case K_NB: time_value(q, data.nb[rn(data.nnb)]); break;
  case K_OKEY:
    if (chance(12)) sqlite3_str_appendall(q, PICK(numeric_names));
    else text_variant(q, PICK(okeys));
    break;
  case K_STATUS: text_variant(q, PICK(status)); break;
  case K_PRIO: text_variant(q, PICK(prio)); break;
  case K_SOURCE:
  case K_TYPE:
    if (chance(12)) sqlite3_str_appendall(q, PICK(numeric_names));
    else text_variant(q, kind == K_SOURCE ? PICK(sources) : PICK(types));
    break;
  case K_KEY: sqlite3_str_appendf(q, "'key-%d'", rn(NEVENTS)); break;
  default: sqlite3_str_appendf(q, "'{\"k\":%d}'", rn(7)); break;
  }
}

/* A value, sometimes wrapped: CAST gives it an affinity, a sub-select
** hides it from the planner. (Each rn() call is its own statement, or
** sequenced by ?: or &&, so that gcc and clang builds draw the same
** queries.) */
static void value(str *q, int kind) {
  static const char *const types_[] = {"INTEGER", "REAL", "NUMERIC", "TEXT", "BLOB"};
  int w = rn(100);
  if (w < 8) sqlite3_str_appendall(q, "CAST(");
  else if (w < 12) sqlite3_str_appendall(q, "(SELECT ");
  base_value(q, kind);
  if (w < 8) sqlite3_str_appendf(q, " AS %s)", PICK(types_));
  else if (w < 12) sqlite3_str_appendchar(q, 1, ')');
}

static const char *collation(void) {
  static const char *const c[] = {" COLLATE NOCASE", " COLLATE RTRIM", " COLLATE BINARY"};
  return PICK(c);
}

static void term(str *q) {
  int c = pick_col(), k = cols[c].kind;
  const char *col = cols[c].name;
  str *left = sqlite3_str_new(NULL);
  int l = simple ? 100 : rn(100);
  sqlite3_str_appendf(left, "%s%s%s", l < 4 ? "+" : "", col, l >= 4 && l < 12 ? collation() : "");
  char *lhs = sqlite3_str_finish(left);
  const char *rcoll = !simple && chance(5) ? collation() : "";
  static const char *const cmp[] = {"=", "=", "=", "<", "<=", ">", ">=", "<>"};
  int op = rn(simple ? 75 : 100);
  if (op < 60) {
    const char *o = cmp[rn(simple ? 7 : 8)];
    if (chance(6)) { /* value op column */
      value(q, k);
      sqlite3_str_appendf(q, "%s %s %s", rcoll, o, lhs);
    } else {
      sqlite3_str_appendf(q, "%s %s ", lhs, o);
      value(q, k);
      sqlite3_str_appendall(q, rcoll);
    }
  } else if (op < 75) {
    int n = chance(10) ? 10 + rn(50) : 1 + rn(5);
    sqlite3_str_appendf(q, "%s %sIN (", lhs, chance(10) ? "NOT " : "");
    for (int i = 0; i < n; i++) {
      if (i) sqlite3_str_appendall(q, ", ");
      value(q, k);
    }
    sqlite3_str_appendchar(q, 1, ')');
  } else if (op < 78) {
    static const char *const other[] = {"id", "created_us", "created_at", "source", "status"};
    const char *sub = PICK(other);
    sqlite3_str_appendf(q, "%s IN (SELECT %s FROM plain WHERE id %% %d = 0)", lhs, sub,
                        2 + rn(9));
  } else if (op < 86) {
    sqlite3_str_appendf(q, "%s IS %s", lhs, chance(50) ? "NOT " : "");
    if (chance(30)) sqlite3_str_appendall(q, "NULL");
    else value(q, k);
  } else if (op < 97) {
    sqlite3_str_appendf(q, "%s %sBETWEEN ", lhs, chance(10) ? "NOT " : "");
    value(q, k);
    sqlite3_str_appendall(q, " AND ");
    value(q, k);
  } else {
    sqlite3_str_appendf(q, "%s IS %sNULL", lhs, chance(50) ? "NOT " : "");
  }
  sqlite3_free(lhs);
}

/* Terms joined by AND (mostly) and OR, sometimes a group or a NOT. */
static void expr(str *q, int depth) {
  int n = chance(5) ? 10 + rn(30) : 1 + rn(simple ? 3 : 5);
  for (int i = 0; i < n; i++) {
    if (i) sqlite3_str_appendall(q, !simple && chance(20) ? " OR " : " AND ");
    int g = simple ? 100 : rn(100);
    if (depth < 2 && g < 12) {
      sqlite3_str_appendchar(q, 1, '(');
      expr(q, depth + 1);
      sqlite3_str_appendchar(q, 1, ')');
    } else if (g < 15) {
      sqlite3_str_appendall(q, "NOT (");
      term(q);
      sqlite3_str_appendchar(q, 1, ')');
    } else {
      term(q);
    }
  }
}

/* ---- Running and comparing --------------------------------------------- */

typedef struct rows {
  char **r;
  int n, cap;
  int rc;
  char *err;
} rows;

static void rows_free(rows *r) {
  for (int i = 0; i < r->n; i++) sqlite3_free(r->r[i]);
  free(r->r);
  sqlite3_free(r->err);
  memset(r, 0, sizeof *r);
}

static void render(str *o, sqlite3_stmt *st, int i) {
  int n = sqlite3_column_bytes(st, i);
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER: sqlite3_str_appendf(o, "%lld", sqlite3_column_int64(st, i)); break;
  case SQLITE_FLOAT: sqlite3_str_appendf(o, "%!.17g", sqlite3_column_double(st, i)); break;
  case SQLITE_NULL: sqlite3_str_appendall(o, "NULL"); break;
  case SQLITE_BLOB: {
    const unsigned char *b = sqlite3_column_blob(st, i);
    sqlite3_str_appendall(o, "x'");
    for (int k = 0; k < n; k++) sqlite3_str_appendf(o, "%02x", b[k]);
    sqlite3_str_appendchar(o, 1, '\'');
    break;
  }
  default: {
    const char *t = (const char *)sqlite3_column_text(st, i);
    sqlite3_str_appendchar(o, 1, '\'');
    for (int k = 0; k < n;) {
      int m = k;
      while (m < n && (unsigned char)t[m] >= 0x20 && t[m] != '\\') m++;
      sqlite3_str_append(o, t + k, m - k);
      if (m < n) sqlite3_str_appendf(o, "\\%02x", (unsigned char)t[m++]);
      k = m;
    }
    sqlite3_str_appendchar(o, 1, '\'');
  }
  }
}

static void run(sqlite3 *db, const char *sql, rows *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  out->rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (out->rc) {
    out->err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    return;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    str *o = sqlite3_str_new(NULL);
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      if (i) sqlite3_str_appendchar(o, 1, '|');
      render(o, st, i);
    }
    if (out->n == out->cap) {
      out->cap = out->cap ? 2 * out->cap : 64;
      out->r = realloc(out->r, (size_t)out->cap * sizeof *out->r);
      if (!out->r) abort();
    }
    out->r[out->n++] = sqlite3_str_finish(o);
  }
  if (rc != SQLITE_DONE) {
    out->rc = rc;
    out->err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_rows(rows *r) {
  if (r->n) qsort(r->r, (size_t)r->n, sizeof *r->r, cmp_str);
}

static int equal_rows(const rows *a, const rows *b) {
  if (!a->rc != !b->rc) return 0;
  if (a->rc) return 1; /* both failed (a statement SQLite refuses) */
  if (a->n != b->n) return 0;
  for (int i = 0; i < a->n; i++)
    if (strcmp(a->r[i], b->r[i])) return 0;
  return 1;
}

/* Every row of a (sorted) is in full (sorted), once. */
static int subset_rows(const rows *a, const rows *full) {
  int j = 0;
  for (int i = 0; i < a->n; i++) {
    if (i && !strcmp(a->r[i], a->r[i - 1])) return 0;
    while (j < full->n && strcmp(full->r[j], a->r[i]) < 0) j++;
    if (j == full->n || strcmp(full->r[j], a->r[i])) return 0;
  }
  return 1;
}

static void print_rows(const char *what, const rows *r) {
  if (r->rc) {
    fprintf(stderr, "    %s: error %d: %s\n", what, r->rc, r->err);
    return;
  }
  fprintf(stderr, "    %s: %d rows\n", what, r->n);
  for (int i = 0; i < r->n && i < 12; i++) fprintf(stderr, "      %s\n", r->r[i]);
  if (r->n > 12) fprintf(stderr, "      ...\n");
}

static sqlite3 *db;
static char *dir;

/* Run sql with {T} standing for ev and for plain; 1 when they agree.
** ordered: compare in order; limited (without ORDER BY): the ev rows must
** be as many as plain's and all rows of the query without LIMIT/OFFSET,
** full_sql. */
static int agree(const char *ev_sql, const char *plain_sql, int ordered,
                 const char *full_sql, int *plain_rows) {
  rows a, b;
  run(db, ev_sql, &a);
  run(db, plain_sql, &b);
  int ok;
  *plain_rows = b.rc ? -1 : b.n;
  if (full_sql && !a.rc && !b.rc) {
    rows f;
    run(db, full_sql, &f);
    sort_rows(&a);
    sort_rows(&f);
    ok = !f.rc && a.n == b.n && subset_rows(&a, &f);
    rows_free(&f);
  } else {
    if (!ordered) {
      sort_rows(&a);
      sort_rows(&b);
    }
    ok = equal_rows(&a, &b);
  }
  if (!ok) {
    fprintf(stderr, "  MISMATCH: %s\n", ev_sql);
    print_rows("ev", &a);
    print_rows("plain", &b);
  }
  rows_free(&a);
  rows_free(&b);
  return ok;
}

/* Does the plan of sql pass the table a token (EXPLAIN QUERY PLAN shows
** the plan's tokens after "VIRTUAL TABLE INDEX n:")? */
static int plan_has(const char *sql, const char *token) {
  char *x = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
  sqlite3_stmt *st;
  int found = 0;
  if (x && sqlite3_prepare_v2(db, x, -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *d = (const char *)sqlite3_column_text(st, 3);
      const char *at = d ? strstr(d, "VIRTUAL TABLE INDEX ") : NULL;
      if (at && strstr(at, token)) found = 1;
    }
    sqlite3_finalize(st);
  }
  sqlite3_free(x);
  return found;
}

/* ---- Tests -------------------------------------------------------------- */

static void t_setup(void) {
  memset(long_name, 'n', 100);
  memset(long_key, 'k', EVS_MAX_ORDERING_KEY);
  dir = t_tmpdir();
  REQUIRE(make_store(dir) == 0);
  db = open_both(dir);
  REQUIRE(db);
  REQUIRE(load_values(db) == 0);
}

static void t_differential(void) {
  REQUIRE(db);
  rs = mix64(seed ^ 0xd1ff);
  long bad = 0, with_rows = 0, failed = 0, pushed_limit = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* source, event_type and ordering_key sort as expressions: under "source = CAST(5 AS
  ** INTEGER)" SQLite takes ORDER BY source as satisfied for a plain table
  ** ('5' and '05' both equal 5) but sorts them for a virtual table. */
  static const char *const orders[] = {"id", "id", "rowid", "created_at", "created_at",
                                       "created_us", "created_us", "source || ''",
                                       "event_type || ''", "status", "priority", "payload",
                                       "acknowledged_at", "not_before", "ordering_key || ''",
                                       "(ordering_key || '') COLLATE NOCASE"};
  static const char *const all = "id, created_at, created_us, status, source, event_type, "
                                 "payload, metadata, priority, idempotency_key, "
                                 "acknowledged_at, delivery_count, lease_token, "
                                 "lease_expires_at, leased_by, not_before, ordering_key";
  static const int limits[] = {0, 1, 2, 5, 10, 50, 99, 100, 101, 150, 500, -1};
  static const int offsets[] = {0, 1, 3, 10, 50, 99, 100, 101, 200, 400};
  for (long i = 0; i < nqueries; i++) {
    int s = rn(100);
    const char *sel = s < 45 ? "id" : s < 85 ? all : "count(*)";
    simple = chance(20);
    str *w = sqlite3_str_new(NULL);
    expr(w, 0);
    char *where = sqlite3_str_finish(w);
    str *o = sqlite3_str_new(NULL);
    int ordered = s < 85 && chance(55), limited = 0;
    if (ordered) {
      int nk = 1 + rn(2), has_id = 0, dsc = chance(50);
      for (int k = 0; k < nk; k++) {
        const char *key = simple ? orders[rn(7)] : PICK(orders);
        has_id |= !strcmp(key, "id") || !strcmp(key, "rowid");
        if (!simple) dsc = chance(50);
        sqlite3_str_appendf(o, "%s%s%s", k ? ", " : " ORDER BY ", key, dsc ? " DESC" : "");
      }
      if (!has_id) sqlite3_str_appendf(o, ", id%s", (simple ? dsc : chance(50)) ? " DESC" : "");
    }
    if (s < 85 && chance(simple ? 70 : ordered ? 40 : 15)) {
      limited = 1;
      sqlite3_str_appendf(o, " LIMIT %d", PICK(limits));
      if (chance(40)) sqlite3_str_appendf(o, " OFFSET %d", PICK(offsets));
    }
    char *tail = sqlite3_str_finish(o);
    char *ev_sql = sqlite3_mprintf("SELECT %s FROM ev WHERE %s%s", sel, where, tail ? tail : "");
    char *plain_sql =
        sqlite3_mprintf("SELECT %s FROM plain WHERE %s%s", sel, where, tail ? tail : "");
    char *full_sql = limited && !ordered
                         ? sqlite3_mprintf("SELECT %s FROM plain WHERE %s", sel, where)
                         : NULL;
    int n;
    if (!agree(ev_sql, plain_sql, ordered, full_sql, &n)) bad++;
    pushed_limit += limited && plan_has(ev_sql, " limit");
    with_rows += n > 0 && strcmp(sel, "count(*)");
    failed += n < 0;
    sqlite3_free(ev_sql);
    sqlite3_free(plain_sql);
    sqlite3_free(full_sql);
    sqlite3_free(where);
    sqlite3_free(tail);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("  %ld queries (EVS_SEED=%" PRIu64 "): %ld returned rows, %ld failed on both "
         "sides, %ld passed LIMIT to the table, %ld mismatches, %.1f s\n",
         nqueries, seed, with_rows, failed, pushed_limit, bad,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  CHECK_EQ(bad, 0);
  /* The generator reaches rows (a third of the queries return some) and
  ** the table's LIMIT path. */
  CHECK(with_rows > nqueries / 4);
  CHECK(pushed_limit > nqueries / 50);
}

/* The same WHERE on both tables, rows compared in order: how many rows,
** or -1 when they differ. */
static int agree_where(const char *where, const char *tail) {
  char *e = sqlite3_mprintf("SELECT id FROM ev WHERE %s %s", where, tail);
  char *p = sqlite3_mprintf("SELECT id FROM plain WHERE %s %s", where, tail);
  int n = -1;
  if (!e || !p || !agree(e, p, 1, NULL, &n)) n = -1;
  sqlite3_free(e);
  sqlite3_free(p);
  return n;
}

/* Hundreds of constraints in one statement, long IN lists and long
** values. The planner wrote its plan into a 512-byte stack buffer with
** += snprintf: 80 created_us terms overflowed it (the sqlite3 shell
** crashed on SELECT count(*) ... WHERE created_us>=0 AND created_us>=1 AND
** ...). */
static void t_many_constraints(void) {
  REQUIRE(db);
  str *w = sqlite3_str_new(NULL);
  for (int i = 0; i < 300; i++)
    sqlite3_str_appendf(w, "%screated_us>=%d", i ? " AND " : "", i);
  char *us = sqlite3_str_finish(w);
  CHECK(agree_where(us, "ORDER BY id") > 300);
  /* The plan names every term: far longer than 512 bytes. */
  char *x = sqlite3_mprintf("EXPLAIN QUERY PLAN SELECT count(*) FROM ev WHERE %s", us);
  sqlite3_stmt *st;
  REQUIRE(sqlite3_prepare_v2(db, x, -1, &st, NULL) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(strlen((const char *)sqlite3_column_text(st, 3)) > 300 * 12);
  sqlite3_finalize(st);
  sqlite3_free(x);

  /* Every kind of term the table takes, repeated, with ORDER BY and
  ** LIMIT; then long IN lists and long values. */
  w = sqlite3_str_new(NULL);
  sqlite3_str_appendall(w, us);
  for (int i = 0; i < 80; i++) /* SQLite's expression depth limit is 1000 */
    sqlite3_str_appendf(w, " AND id>=%d AND id<=%d AND rowid<%d AND status='pending' AND "
                           "source IN ('stripe', 'Stripe', '5', 'café') AND "
                           "created_us<=%lld AND created_at>'2026'",
                        i % 7, 400 - i, 1000 + i, (long long)data.us[data.n - 1] + i);
  char *all = sqlite3_str_finish(w);
  CHECK_EQ(agree_where(all, "ORDER BY id DESC LIMIT 7 OFFSET 2"), 7);
  CHECK(agree_where(all, "") > 9);
  static const char *const in_cols[] = {"id",       "created_us", "source",     "event_type",
                                        "status",   "priority",   "created_at", "not_before",
                                        "ordering_key"};
  for (size_t c = 0; c < sizeof in_cols / sizeof *in_cols; c++) {
    w = sqlite3_str_new(NULL);
    sqlite3_str_appendf(w, "%s IN (", in_cols[c]);
    for (int i = 0; i < 2000; i++) {
      if (i) sqlite3_str_appendall(w, ", ");
      static const char *const words[] = {"pending", "acknowledged", "leased", "dead",
                                          "low",     "normal",       "high"};
      switch (i % 6) {
      case 0: sqlite3_str_appendf(w, "%d", i / 6); break;
      case 1: sqlite3_str_appendf(w, "%lld", (long long)data.us[i % data.n]); break;
      case 2: sqlite3_str_appendf(w, "'%s'", c == 8 ? PICK(okeys) : PICK(sources)); break;
      case 3: sqlite3_str_appendf(w, "'%s'", PICK(types)); break;
      case 4: sqlite3_str_appendf(w, "'%s'", PICK(words)); break;
      default:
        sqlite3_str_appendf(w, "'%s'", c == 7 ? data.nb[i % data.nnb] : data.at[i % data.n]);
        break;
      }
    }
    sqlite3_str_appendall(w, ") AND status IN ('pending', 'acknowledged', 'pending')");
    char *in = sqlite3_str_finish(w);
    CHECK(agree_where(in, "ORDER BY id") > 0);
    sqlite3_free(in);
  }
  char *big = sqlite3_malloc(20001);
  REQUIRE(big);
  memset(big, 'x', 20000);
  big[20000] = 0;
  memcpy(big, "2026-05-01T07:57:38", 19);
  char *longv = sqlite3_mprintf(
      "source = '%s' OR event_type IN ('%s', 'e') OR created_at >= '%s' OR status = '%s' OR "
      "priority = '%s' OR created_us = '%s' OR id < '%s'",
      big, big, big, big, big, big, big);
  CHECK(agree_where(longv, "ORDER BY id") > 300);
  char *curq = sqlite3_mprintf("SELECT id FROM ev WHERE %s AND cursor = '%s'", us, big);
  REQUIRE(sqlite3_prepare_v2(db, curq, -1, &st, NULL) == SQLITE_OK);
  CHECK_EQ(sqlite3_step(st), SQLITE_ERROR);
  CHECK_CONTAINS(sqlite3_errmsg(db), "malformed cursor");
  sqlite3_finalize(st);
  sqlite3_free(curq);
  sqlite3_free(longv);
  sqlite3_free(big);
  sqlite3_free(all);
  sqlite3_free(us);
}

int main(void) {
  const char *e = getenv("EVS_SEED");
  if (e && *e) seed = strtoull(e, NULL, 10);
  e = getenv("EVS_QUERIES");
  if (e && *e) nqueries = strtol(e, NULL, 10);
  RUN(t_setup);
  RUN(t_differential);
  RUN(t_many_constraints);
  sqlite3_close(db);
  if (dir) t_rmdir(dir);
  return TEST_EXIT();
}
