/*
** values.c: SQL values and the store's: which ids, times and names a
** constraint's value can match under SQLite's comparison rules (with
** every affinity the expression could have), priorities, and times as
** text.
*/
#include <math.h>
#include <string.h>

#include "util.h"
#include "vtab.h"

const char *const evsql_prio_names[4] = {"normal", "low", "normal", "high"};

int evsql_prio_parse(const char *t) {
  for (int p = EVS_PRIORITY_LOW; p <= EVS_PRIORITY_HIGH; p++)
    if (!strcmp(t, evsql_prio_names[p])) return p;
  return 0;
}

void evsql_result_time(sqlite3_context *ctx, int64_t us) {
  char buf[EVS_TIME_BUF];
  evs_time_format(us, buf);
  sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

/* The integers x for which "x op d" holds, d a number (SQLITE_INTEGER
** or SQLITE_FLOAT in t). Returns 0 when none, else 1 with [*lo, *hi]. */
static int num_range(sqlite3_value *d, int t, int op, int64_t *lo, int64_t *hi) {
  int eq = op == OP_EQ, gt = op == OP_GT || op == OP_GE, incl = op != OP_LT && op != OP_GT;
  if (t == SQLITE_INTEGER) {
    int64_t x = sqlite3_value_int64(d);
    if (eq) {
      *lo = *hi = x;
    } else if (gt) {
      if (!incl && x == INT64_MAX) return 0;
      *lo = incl ? x : x + 1;
    } else {
      if (!incl && x == INT64_MIN) return 0;
      *hi = incl ? x : x - 1;
    }
    return 1;
  }
  const double two63 = 9223372036854775808.0;
  double f = sqlite3_value_double(d);
  if (f != f) return 0;
  if (eq) {
    if (f != floor(f) || f >= two63 || f < -two63) return 0;
    *lo = *hi = (int64_t)f;
  } else if (gt) {
    double b = incl ? ceil(f) : floor(f) + 1;
    if (b >= two63) return 0;
    if (b > -two63) *lo = (int64_t)b;
  } else {
    double b = incl ? floor(f) : ceil(f) - 1;
    if (b < -two63) return 0;
    if (b < two63) *hi = (int64_t)b;
  }
  return 1;
}

/* v's type under numeric affinity (what SQLite makes of '5', ' 5 ',
** '5e0': a number; of '0x5', 'abc': still text), in a copy *num the
** caller frees. -1 when out of memory. */
static int numeric_copy(sqlite3_value *v, sqlite3_value **num) {
  if (!(*num = sqlite3_value_dup(v))) return -1;
  return sqlite3_value_numeric_type(*num);
}

/* The integers x for which "x op v" can hold, x of an INTEGER column
** (id, created_us). SQLite applies numeric affinity to v first, unless
** v's expression has a numeric affinity of its own (another virtual
** table's column, say): then '5' stays text, and every number sorts
** before text. xFilter cannot tell which, so for numeric-looking text
** the range covers both answers and *exact is cleared. NULL matches
** nothing; other text, and blobs, sort after every number whatever the
** affinity. Returns 0 when no integer can match, 1 with [*lo, *hi], -1
** when out of memory. */
int evsql_int_range(sqlite3_value *v, int op, int64_t *lo, int64_t *hi, int *exact) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  int t = sqlite3_value_type(v), below = op == OP_LT || op == OP_LE;
  if (t == SQLITE_NULL) return 0;
  if (t == SQLITE_BLOB) return below;
  if (t != SQLITE_TEXT) return num_range(v, t, op, lo, hi);
  sqlite3_value *num;
  t = numeric_copy(v, &num);
  int r = t < 0 ? -1 : t == SQLITE_TEXT || below ? below : num_range(num, t, op, lo, hi);
  if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) *exact = 0;
  sqlite3_value_free(num);
  return r;
}

/* Is v the TEXT lit, byte for byte (NUL bytes and all)? */
int evsql_text_is(sqlite3_value *v, const char *lit) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) return 0;
  const char *t = (const char *)sqlite3_value_text(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  return t && n == strlen(lit) && !memcmp(t, lit, n);
}

/* source = v, event_type = v. Returns 1 with *name when only rows of that
** exact name can match, 0 when no row can, 2 when any can, -1 when out
** of memory.
**  - Stored names are trimmed, 1..EVS_MAX_NAME bytes, without NUL: text
**    that is not such a string equals none (the library's lookup would
**    trim it, or stop at a NUL). Other text is looked up exactly (no
**    name is invalid UTF-8 or holds a control character, so such a value
**    finds nothing). Exact, unless the text looks numeric: then an
**    expression of numeric affinity makes a numeric-looking name a number,
**    unequal to any text, and the rows are a superset (*exact cleared).
**  - A number compares as its text ('5') or, from an expression of
**    numeric affinity, numerically with every numeric-looking name ('05',
**    '5.0'): any row can match (*exact cleared).
**  - NULL and blobs equal no text. */
int evsql_name_filter(sqlite3_value *v, const char **name, int *exact) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL || t == SQLITE_BLOB) return 0;
  if (t != SQLITE_TEXT) return *exact = 0, 2;
  const char *s = (const char *)sqlite3_value_text(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  if (!s) return -1;
  if (!n || n > EVS_MAX_NAME || strlen(s) != n || evs_is_space(s[0]) ||
      evs_is_space(s[n - 1]))
    return 0;
  sqlite3_value *num;
  int nt = numeric_copy(v, &num);
  sqlite3_value_free(num);
  if (nt < 0) return -1;
  if (nt != SQLITE_TEXT) *exact = 0;
  *name = s;
  return 1;
}

/* The time of the created_at text s[0..k), a date (k = 10), hour (13),
** minute (16) or second (19), or into the fraction (20..26), when it
** begins the created_at of some time: the first such time in *start. */
static int prefix_start(const char *s, int k, int64_t *start) {
  /* The prefix completed with the first of each missing field's range,
  ** parsed by the library (which refuses 02-30, hour 24...); formatted
  ** back, the time must begin with s. */
  char full[EVS_TIME_BUF];
  memcpy(full, "0000-01-01T00:00:00.000000Z", EVS_TIME_BUF);
  memcpy(full, s, (size_t)k);
  char back[EVS_TIME_BUF];
  return !evs_time_parse(full, EVS_TIME_BUF - 1, start) && !evs_time_format(*start, back) &&
         !memcmp(back, s, (size_t)k);
}

/* created_at op v, narrowed to created_us in [*lo, *hi]: a superset of
** the rows SQLite accepts (it compares the text of every row: the
** constraint is not omitted). Returns 0 when no row can match.
**
** created_at is evs_time_format's "YYYY-MM-DDTHH:MM:SS.ffffffZ", 27 bytes
** for every created time (years 1970..9999; appends refuse other clock
** values), with fixed-width, zero-padded fields from the most
** significant: between two times, created_at text order is time order,
** and so is the order of their first k bytes, for any k. SQLite compares:
**  - with NULL: no row;
**  - with a blob: text sorts before it (no affinity converts a blob):
**    < and <= hold for every row, =, > and >= for none;
**  - with a number: as text ('5' sorts after '2026-...') or, from an
**    expression of numeric affinity, as text against a number (text
**    sorts after it); created_at never looks numeric. Each op holds for
**    every row under one of the two: no narrowing;
**  - with text: byte-wise (BINARY). Let p be the longest prefix of v, of
**    k bytes, that begins the created_at of some time (prefix_start),
**    and [a, b] the times whose created_at begins with p (a day, hour,
**    minute, second or part of one). For a row whose created_at's first k
**    bytes are below p, created_at < v; above p, created_at > v; equal,
**    either. So created_at < v or <= v requires created_us <= b, > v or
**    >= v requires created_us >= a, = v both. Without such a p (v shorter
**    than a date, or not a date), no narrowing. */
int evsql_at_range(sqlite3_value *v, int op, int64_t *lo, int64_t *hi) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) return 0;
  if (t == SQLITE_BLOB) return op == OP_LT || op == OP_LE;
  if (t != SQLITE_TEXT) return 1;
  const char *s = (const char *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  static const char shape[] = "0000-00-00T00:00:00.000000";
  int j = 0;
  while (s && j < n && j < 26 &&
         (shape[j] == '0' ? s[j] >= '0' && s[j] <= '9' : s[j] == shape[j]))
    j++;
  static const int ks[] = {16, 13, 10};
  static const int64_t spans[] = {60000000, 3600000000LL, 86400000000LL};
  for (int i = -1; i < 3; i++) {
    int k = i < 0 ? (j >= 19 ? j : 0) : ks[i];
    int64_t a, span = 1;
    if (!k || k > j || !prefix_start(s, k, &a)) continue;
    if (i >= 0) span = spans[i];
    else
      for (int d = k < 20 ? 20 : k; d < 26; d++) span *= 10;
    if (op != OP_LT && op != OP_LE) *lo = a;
    if (op != OP_GT && op != OP_GE) *hi = a + (span - 1);
    break;
  }
  return 1;
}


int evsql_duration_arg(sqlite3_value *v, int64_t *us) {
  *us = 0;
  switch (sqlite3_value_type(v)) {
  case SQLITE_NULL: return 0;
  case SQLITE_INTEGER:
    *us = sqlite3_value_int64(v);
    return *us < 0 ? -1 : 0;
  case SQLITE_TEXT: {
    const char *t = (const char *)sqlite3_value_text(v);
    int n = sqlite3_value_bytes(v);
    return t && !evs_duration_parse(t, (size_t)n, us) ? 0 : -1;
  }
  default: return -1;
  }
}

int evsql_time_arg(sqlite3_value *v, int64_t *us) {
  *us = 0;
  switch (sqlite3_value_type(v)) {
  case SQLITE_NULL: return 0;
  case SQLITE_INTEGER: *us = sqlite3_value_int64(v); break;
  case SQLITE_TEXT: {
    const char *t = (const char *)sqlite3_value_text(v);
    int n = sqlite3_value_bytes(v);
    if (!t || evs_time_parse(t, (size_t)n, us)) return -1;
    break;
  }
  default: return -1;
  }
  /* Within the years a time shows in (as the library requires). */
  char buf[EVS_TIME_BUF];
  return *us < 0 || evs_time_format(*us, buf) ? -1 : 0;
}
