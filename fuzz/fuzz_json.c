/*
** fuzz_json.c: JSON validation, differential against SQLite.
**
** The input is one candidate JSON text. evs_json_check_object (on an
** exact-size heap copy, so ASan sees any overread) must agree with
**   SELECT CASE WHEN json_valid(?1) THEN json_type(?1)='object' ELSE 0 END
** except in the documented, deliberate differences of tests/test_json.c
** (t_sqlite_differential), classified here without consulting json.c:
**
**  1. invalid UTF-8 anywhere: SQLite never checks it, we reject;
**  2. a NUL byte: SQLite stops reading at it, NUL is never valid JSON;
**  3. an escaped lone UTF-16 surrogate ("\ud800"): SQLite accepts it, we
**     require pairs (a lone surrogate has no UTF-8 form);
**  4. nesting deeper than EVS_JSON_MAX_DEPTH (1000): SQLite 3.40 allows
**     2000. (Depth is measured string-aware, so the classifier skips only
**     inputs that really nest that deep.)
**
** and one this harness found, an SQLite 3.40 bug (listed in
** tests/test_json.c too):
**
**  5. an object or array where an object key belongs: SQLite 3.40 accepts
**     it when the container's last value is a string, e.g.
**     json_valid('{{"s":"x"}:1}') = 1 (its parser checks the type of the
**     last node parsed instead of the key's). A key must be a string.
**
** In every skipped class we are the stricter side, so the harness still
** asserts "SQLite rejects => we reject", and for 1, 2 and 5 that we reject.
**
** evs_json_member and evs_json_value_equals run on every input (valid or
** not) for memory safety, with fixed keys and with the first string of the
** input as key; on valid input a found value must lie inside the text and
** a scalar must equal its own text.
**
** The rest of the library's text grammar (evstore.h, "Text") runs on the
** same input, so one target fuzzes every parser the CLI and SQL use:
**  - evs_json_check (the CLI's import lines) must agree with the payload
**    check but for depth; a verdict that is not "incomplete" must stand
**    whatever follows; evs_json_member_next steps through every member of
**    a valid object, each name unescaping (evs_json_string_decode) to a
**    key evs_json_member finds at or after that member;
**  - evs_utf8_next over the input must agree with the classifier below;
**  - evs_time_parse of the input (and of its first string): a time that
**    formats must parse back to itself, and 8 input bytes as µs must
**    round-trip format -> parse;
**  - evs_duration_parse: -1 or >= 1, and N "us" parses back to N.
*/
#include <sqlite3.h>

#include "fuzz_common.h"
#include "evstore.h"
#include "json.h"

static sqlite3 *db;
static sqlite3_stmt *st;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* CASE, not AND: json_type() raises an error on malformed input and AND
  ** does not promise to skip its right side. */
  if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "SELECT CASE WHEN json_valid(?1) THEN "
                         "json_type(?1)='object' ELSE 0 END",
                         -1, &st, NULL) != SQLITE_OK)
    abort();
  return 0;
}

static int oracle(const uint8_t *s, size_t n) {
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, n ? (const char *)s : "", (int)n, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  return v;
}

/* ---- the classifier (independent of json.c) ----------------------------- */

/* Decode, then test the code point (json.c checks byte ranges instead). */
static int utf8_ok(const uint8_t *s, size_t n) {
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : c < 0xc0 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3
               : c < 0xf8 ? 4 : 0;
    if (!len || i + len > n) return 0;
    uint32_t cp = len == 1 ? c : c & (0xffu >> (len + 1));
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

static long hex4(const uint8_t *s, size_t n, size_t i) {
  if (i + 4 > n) return -1;
  long v = 0;
  for (int k = 0; k < 4; k++) {
    int c = s[i + k], d = c >= '0' && c <= '9'   ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Any \uXXXX surrogate escape not part of a high+low pair? Walks escapes
** pairwise so "\\ud800" (an escaped backslash) is not mistaken for one. */
static int lone_surrogate(const uint8_t *s, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] != '\\') continue;
    if (s[i + 1] == 'u') {
      long u = hex4(s, n, i + 2);
      if (u >= 0xdc00 && u <= 0xdfff) return 1;
      if (u >= 0xd800 && u <= 0xdbff) {
        long lo = i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s, n, i + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) return 1;
        i += 6;
      }
    }
    i++;
  }
  return 0;
}

/* Deepest nesting of [ and { outside strings. On any text a JSON parser
** accepts up to some point, this is the depth it reached there. */
static int max_depth(const uint8_t *s, size_t n) {
  int d = 0, m = 0, in_str = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      if (++d > m) m = d;
    } else if ((c == '}' || c == ']') && d > 0) {
      d--;
    }
  }
  return m;
}

/* Is a { or [ found where an object key must start (after '{' or after
** ',' inside an object, outside strings)? */
static int container_key(const uint8_t *s, size_t n) {
  static char stack[2100]; /* SQLite nests at most 2000 deep */
  int d = 0, want_key = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (want_key && (c == '{' || c == '[')) return 1;
    want_key = 0;
    if (c == '"') {
      for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\') i++;
    } else if (c == '{' || c == '[') {
      if (d < (int)sizeof stack) stack[d] = (char)c;
      d++;
      want_key = c == '{';
    } else if (c == '}' || c == ']') {
      if (d > 0) d--;
    } else if (c == ',') {
      want_key = d > 0 && d <= (int)sizeof stack && stack[d - 1] == '{';
    }
  }
  return 0;
}

/* ---- member lookup --------------------------------------------------------- */

/* The first "..." of the input without escapes, as a key to look up. */
static size_t first_string(const uint8_t *s, size_t n, char *out, size_t cap) {
  const uint8_t *q = memchr(s, '"', n);
  if (!q) return 0;
  size_t i = (size_t)(q - s) + 1, k = 0;
  while (i < n && s[i] != '"' && s[i] != '\\' && k + 1 < cap) out[k++] = (char)s[i++];
  out[k] = 0;
  return k;
}

static void lookups(const char *x, size_t n, int valid) {
  char k0[64];
  const uint8_t *u = (const uint8_t *)x;
  size_t k0n = first_string(u, n, k0, sizeof k0);
  const char *keys[] = {"a", "id", "k", "", "\xc3\xa9", k0};
  const size_t klen[] = {1, 2, 1, 0, 2, k0n};
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
    const char *v = NULL;
    size_t vl = 0;
    if (!evs_json_member(x, n, keys[k], klen[k], &v, &vl)) continue;
    FZ_CHECK(v >= x && vl > 0 && vl <= n && v + vl <= x + n,
             "member value outside the text");
    /* Exact-size copies, so a comparison that reads past either end shows. */
    char *vc = malloc(vl), *sc = malloc(vl);
    memcpy(vc, v, vl);
    memcpy(sc, v, vl);
    int self = evs_json_value_equals(vc, vl, sc, vl);
    if (valid && v[0] != '"' && v[0] != '{' && v[0] != '[')
      FZ_CHECK(self == 1, "scalar %.*s does not equal its own text", (int)vl, v);
    if (valid && (v[0] == '{' || v[0] == '['))
      FZ_CHECK(self == 0, "a container matched a plain string");
    evs_json_value_equals(vc, vl, "1", 1);
    evs_json_value_equals(vc, vl, "", 0);
    evs_json_value_equals(vc, vl, NULL, 0);
    if (vl > 2) evs_json_value_equals(vc + 1, vl - 2, sc, vl - 1);
    free(vc);
    free(sc);
  }
  evs_json_member(x, n, NULL, 0, NULL, NULL);
}


/* ---- the rest of the text grammar ------------------------------------- */

static void line_check(const char *x, size_t n, int payload_ok) {
  size_t off = 0;
  const char *why = NULL;
  int inc = -1;
  int rc = evs_json_check(x, n, &off, &why, &inc);
  FZ_CHECK(rc == 0 || rc == EVS_EJSON, "evs_json_check returned %d", rc);
  int deep = max_depth((const uint8_t *)x, n) > EVS_JSON_MAX_DEPTH;
  if (payload_ok) FZ_CHECK(rc == 0, "a valid payload is not a valid line");
  if (!deep) FZ_CHECK((rc == 0) == payload_ok, "line and payload verdicts differ");
  if (rc) {
    FZ_CHECK(off <= n && why && (inc == 0 || inc == 1), "bad error report");
    if (!inc) {
      /* Wrong whatever follows: the same answer with more text after. */
      static const char tail[] = "\"}]}";
      char *y = malloc(n + sizeof tail);
      if (n) memcpy(y, x, n);
      memcpy(y + n, tail, sizeof tail - 1);
      size_t off2 = 0;
      const char *why2 = NULL;
      int inc2 = -1;
      int rc2 = evs_json_check(y, n + sizeof tail - 1, &off2, &why2, &inc2);
      FZ_CHECK(rc2 == EVS_EJSON && (off2 == off || off == n),
               "not incomplete, yet \"%s\" at %zu became %d (%s at %zu)", why, off, rc2,
               why2 ? why2 : "", off2);
      free(y);
    }
    return;
  }
  size_t pos = 0, prev = 0, k = 0;
  evs_json_span nm, v;
  int r;
  while ((r = evs_json_member_next(x, n, &pos, &nm, &v)) == 0) {
    FZ_CHECK(pos > prev && pos <= n, "member_next did not advance");
    FZ_CHECK(nm.off + nm.len <= n && v.off + v.len <= n && v.len > 0 && v.off > nm.off,
             "member spans outside the text");
    prev = pos;
    /* Each lookup reads the whole object: the first few members only, or
    ** an object of many members would take quadratic time. */
    if (++k > 8) continue;
    char *name = malloc(nm.len + 1);
    size_t dl = 0;
    FZ_CHECK(evs_json_string_decode(x + nm.off, nm.len, name, &dl) == 0 && dl <= nm.len,
             "a checked name does not decode");
    const char *fv = NULL;
    size_t fl = 0;
    FZ_CHECK(evs_json_member(x, n, name, dl, &fv, &fl) == 1 && fv >= x + v.off,
             "member %.*s not found by name", (int)nm.len, x + nm.off);
    free(name);
  }
  FZ_CHECK(r == EVS_ENOTFOUND, "member_next ended with %d", r);
}

static void utf8_walk(const char *x, size_t n) {
  int ok = 1;
  for (size_t i = 0; i < n;) {
    size_t l = 0;
    uint32_t cp = 0;
    if (evs_utf8_next(x + i, n - i, &l, &cp)) {
      ok = 0;
      break;
    }
    FZ_CHECK(l >= 1 && l <= 4 && i + l <= n && cp <= 0x10ffff, "bad sequence length");
    i += l;
  }
  FZ_CHECK(ok == utf8_ok((const uint8_t *)x, n), "evs_utf8_next and the classifier differ");
}

static void time_round_trip(const char *x, size_t n) {
  int64_t us;
  char out[EVS_TIME_BUF];
  if (!evs_time_parse(x, n, &us) && !evs_time_format(us, out)) {
    int64_t back;
    FZ_CHECK(strlen(out) == EVS_TIME_BUF - 1 && !evs_time_parse(out, strlen(out), &back) &&
                 back == us,
             "time %.*s -> %s does not parse back", (int)n, x, out);
  }
  if (n >= 8) {
    memcpy(&us, x, 8);
    int rc = evs_time_format(us, out);
    if (!rc) {
      int64_t back;
      FZ_CHECK(!evs_time_parse(out, strlen(out), &back) && back == us,
               "%lld -> %s does not parse back", (long long)us, out);
    } else {
      FZ_CHECK(rc == EVS_EINVAL && !out[0], "format failed with %d", rc);
    }
  }
}

static void duration(const char *x, size_t n) {
  int64_t d;
  if (evs_duration_parse(x, n, &d)) return;
  FZ_CHECK(d == -1 || d >= 1, "duration %lld", (long long)d);
  if (d > 0) {
    char b[32];
    int l = snprintf(b, sizeof b, "%lldus", (long long)d);
    int64_t back;
    FZ_CHECK(!evs_duration_parse(b, (size_t)l, &back) && back == d, "%s", b);
  }
}

static void text_grammar(const char *x, size_t n, int payload_ok) {
  line_check(x, n, payload_ok);
  utf8_walk(x, n);
  time_round_trip(x, n);
  duration(x, n);
  char k0[64];
  size_t k0n = first_string((const uint8_t *)x, n, k0, sizeof k0);
  if (k0n) {
    char *c = malloc(k0n);
    memcpy(c, k0, k0n);
    time_round_trip(c, k0n);
    duration(c, k0n);
    free(c);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  char *x = malloc(size ? size : 1);
  if (size) memcpy(x, data, size);
  char err[160] = "";
  int ours = evs_json_check_object(x, size, err, sizeof err) == 0;
  FZ_CHECK(ours || !strncmp(err, "invalid JSON at byte ", 21), "error message \"%s\"", err);
  /* Also without an error buffer, and with a tiny one. */
  FZ_CHECK((evs_json_check_object(x, size, NULL, 0) == 0) == ours, "verdict changed");
  char tiny[4];
  FZ_CHECK((evs_json_check_object(x, size, tiny, sizeof tiny) == 0) == ours,
           "verdict changed");
  int theirs = oracle(data, size);
  FZ_CHECK(theirs >= 0, "the oracle failed: %s", sqlite3_errmsg(db));

  const char *why = NULL;
  if (memchr(data, 0, size)) {
    why = "NUL byte";
    FZ_CHECK(!ours, "accepted a NUL byte");
  } else if (!utf8_ok(data, size)) {
    why = "invalid UTF-8";
    FZ_CHECK(!ours, "accepted invalid UTF-8");
  } else if (lone_surrogate(data, size)) {
    why = "lone surrogate escape";
  } else if (max_depth(data, size) > EVS_JSON_MAX_DEPTH) {
    why = "nesting deeper than 1000";
  } else if (container_key(data, size)) {
    why = "container as object key";
    FZ_CHECK(!ours, "accepted a container as an object key");
  }
  if (why)
    FZ_CHECK(!ours || theirs, "accepted what SQLite rejects (%s class)", why);
  else
    FZ_CHECK(ours == theirs, "verdict %d, SQLite %d (%s)", ours, theirs,
             ours ? "valid" : err);

  lookups(x, size, ours);
  text_grammar(x, size, ours);
  free(x);
  return 0;
}
