/*
** test_text.c: the library's text forms, the public "Text" section of
** evstore.h: evs_time_format / evs_time_parse, evs_duration_parse,
** evs_utf8_next, evs_json_check / evs_json_member_next /
** evs_json_string_decode (what the CLI reads import lines with) and
** evs_stats_json (what CLI stats and SQL evstore_stats() print). Includes
** the inputs on which the CLI's and the SQL module's own parsers used to
** disagree.
*/
#include <evstore.h>

#include "testlib.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- times ------------------------------------------------------------- */

static void check_fmt(int64_t us, const char *want) {
  char out[EVS_TIME_BUF];
  CHECK_EQ(evs_time_format(us, out), 0);
  CHECK_STR(out, want);
  int64_t back = 0;
  CHECK_EQ(evs_time_parse(out, strlen(out), &back), 0);
  CHECK_EQ(back, us);
}

static void t_time_format(void) {
  check_fmt(0, "1970-01-01T00:00:00.000000Z");
  check_fmt(1, "1970-01-01T00:00:00.000001Z");
  check_fmt(-1, "1969-12-31T23:59:59.999999Z");
  check_fmt(INT64_C(1795452024998303), "2026-11-23T16:40:24.998303Z");
  check_fmt(INT64_C(951782400000000), "2000-02-29T00:00:00.000000Z");
  check_fmt(EVS_TIME_MAX, "9999-12-31T23:59:59.999999Z");
  /* strftime's %Y, which the library's old formatter used, writes years
  ** below 1000 narrower; the one formatter always writes four digits. */
  check_fmt(INT64_C(-62167219200000000), "0000-01-01T00:00:00.000000Z");
  check_fmt(INT64_C(-30610224000000000), "1000-01-01T00:00:00.000000Z");
  char out[EVS_TIME_BUF] = "x";
  CHECK_EQ(evs_time_format(EVS_TIME_MAX + 1, out), EVS_EINVAL);
  CHECK_STR(out, "");
  CHECK_EQ(evs_time_format(INT64_C(-62167219200000001), out), EVS_EINVAL);
  CHECK_EQ(evs_time_format(INT64_MIN, out), EVS_EINVAL);
  CHECK_EQ(evs_time_format(INT64_MAX, out), EVS_EINVAL);
  CHECK_EQ(evs_time_format(0, NULL), EVS_EINVAL);
}

/* Every time of the form round-trips; a stride through the whole range. */
static void t_time_round_trip(void) {
  const int64_t lo = INT64_C(-62167219200000000);
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int64_t us = lo + (int64_t)(x % (uint64_t)(EVS_TIME_MAX - lo + 1));
    char out[EVS_TIME_BUF];
    int64_t back;
    if (evs_time_format(us, out) || strlen(out) != EVS_TIME_BUF - 1 ||
        evs_time_parse(out, strlen(out), &back) || back != us) {
      CHECK(!"round trip");
      fprintf(stderr, "  us=%" PRId64 " out=%s\n", us, out);
      return;
    }
  }
}

static int64_t parse_ok(const char *s) {
  int64_t us = -12345;
  int rc = evs_time_parse(s, strlen(s), &us);
  if (rc) fprintf(stderr, "  evs_time_parse(\"%s\") = %d\n", s, rc);
  CHECK_EQ(rc, 0);
  return us;
}

static void parse_bad(const char *s) {
  int64_t us = 777;
  int rc = evs_time_parse(s, strlen(s), &us);
  if (rc != EVS_EINVAL) fprintf(stderr, "  \"%s\" accepted\n", s);
  CHECK_EQ(rc, EVS_EINVAL);
  CHECK_EQ(us, 777);
}

static void t_time_parse(void) {
  const int64_t day = INT64_C(86400000000);
  CHECK_EQ(parse_ok("0"), 0);
  CHECK_EQ(parse_ok("1795452024998303"), INT64_C(1795452024998303));
  CHECK_EQ(parse_ok("9223372036854775807"), INT64_MAX);
  parse_bad("9223372036854775808");
  CHECK_EQ(parse_ok("1970-01-02"), day);
  CHECK_EQ(parse_ok("2000-01-01T00:00:00Z"), 10957 * day);
  CHECK_EQ(parse_ok("2000-01-01t00:00:00z"), 10957 * day);
  CHECK_EQ(parse_ok("2000-01-01 00:00:00Z"), 10957 * day);
  CHECK_EQ(parse_ok("2000-01-01T00:00:00.5Z"), 10957 * day + 500000);
  CHECK_EQ(parse_ok("2000-01-01T00:00:00.123456789Z"), 10957 * day + 123456);
  CHECK_EQ(parse_ok("2000-01-01T01:00:00+01:00"), 10957 * day);
  CHECK_EQ(parse_ok("2000-01-01T01:00:00+0100"), 10957 * day);
  CHECK_EQ(parse_ok("1999-12-31T18:30:00-05:30"), 10957 * day);
  CHECK_EQ(parse_ok("2000-02-29"), 11016 * day);
  CHECK_EQ(parse_ok("1969-12-31T23:59:59.999999Z"), -1);
  parse_bad("");
  parse_bad("x");
  parse_bad("-1");
  parse_bad("2000-01-01T00:00:00");        /* no zone */
  parse_bad("2000-01-01T00:00:00.Z");      /* empty fraction */
  parse_bad("2000-01-01T00:00:00.1234567890Z");
  parse_bad("2000-01-01T24:00:00Z");
  parse_bad("2000-01-01T00:60:00Z");
  parse_bad("2000-01-01T00:00:60Z");
  parse_bad("2000-02-30");
  parse_bad("1900-02-29");
  parse_bad("2000-13-01");
  parse_bad("2000-00-01");
  parse_bad("2000-1-01");
  parse_bad("2000-01-01T");
  parse_bad("2000-01-01Z");
  parse_bad("2000-01-01T00:00:00Zjunk");
  parse_bad("2000-01-01T00:00:00+24:00");
  parse_bad(" 2000-01-01");
  parse_bad("+2000-01-01");
  /* The length is the input: what follows it is not read. */
  int64_t us;
  CHECK_EQ(evs_time_parse("2000-01-01T00:00:00Zjunk", 20, &us), 0);
  CHECK_EQ(us, 10957 * day);
  CHECK_EQ(evs_time_parse("1970-01-02T", 10, &us), 0);
  CHECK_EQ(us, day);
  CHECK_EQ(evs_time_parse("123", 2, &us), 0);
  CHECK_EQ(us, 12);
  CHECK_EQ(evs_time_parse("2000-01-01\0", 11, &us), EVS_EINVAL);
  CHECK_EQ(evs_time_parse(NULL, 0, &us), EVS_EINVAL);
  CHECK_EQ(evs_time_parse("1", 1, NULL), EVS_EINVAL);
}

/* ---- durations --------------------------------------------------------- */

static void dur(const char *s, int want_rc, int64_t want) {
  int64_t us = 777;
  int rc = evs_duration_parse(s, strlen(s), &us);
  if (rc != want_rc) fprintf(stderr, "  evs_duration_parse(\"%s\") = %d\n", s, rc);
  CHECK_EQ(rc, want_rc);
  CHECK_EQ(us, want_rc ? 777 : want);
}

static void t_duration(void) {
  dur("forever", 0, -1);
  dur("1", 0, 1);
  dur("250ms", 0, 250000);
  dur("45s", 0, 45000000);
  dur("30m", 0, INT64_C(1800000000));
  dur("24h", 0, INT64_C(86400000000));
  dur("7d", 0, INT64_C(604800000000));
  dur("007d", 0, INT64_C(604800000000));
  dur("9223372036854775807", 0, INT64_MAX);
  dur("9223372036854775807us", 0, INT64_MAX);
  dur("106751991d", 0, INT64_C(106751991) * 86400000000);
  /* Where the SQL module's and the CLI's parsers disagreed: SQL took "0"
  ** (forever) and "us", the CLI refused both; SQL took a sign. */
  dur("0", 0, -1);
  dur("10us", 0, 10);
  dur("+7d", EVS_EINVAL, 0);
  dur("-7d", EVS_EINVAL, 0);
  /* Refused by both before, and still. */
  dur("0s", EVS_EINVAL, 0);
  dur("00", EVS_EINVAL, 0);
  dur("0ms", EVS_EINVAL, 0);
  dur("", EVS_EINVAL, 0);
  dur("d", EVS_EINVAL, 0);
  dur("7", 0, 7);
  dur("7D", EVS_EINVAL, 0);
  dur("7 d", EVS_EINVAL, 0);
  dur(" 7d", EVS_EINVAL, 0);
  dur("7d ", EVS_EINVAL, 0);
  dur("1.5h", EVS_EINVAL, 0);
  dur("7dd", EVS_EINVAL, 0);
  dur("7w", EVS_EINVAL, 0);
  dur("Forever", EVS_EINVAL, 0);
  dur("106751992d", EVS_EINVAL, 0);
  dur("9223372036854775808", EVS_EINVAL, 0);
  dur("99999999999999999999999s", EVS_EINVAL, 0);
  int64_t us;
  CHECK_EQ(evs_duration_parse("7dx", 2, &us), 0);
  CHECK_EQ(us, INT64_C(604800000000));
  CHECK_EQ(evs_duration_parse("7\0d", 3, &us), EVS_EINVAL);
  CHECK_EQ(evs_duration_parse(NULL, 0, &us), EVS_EINVAL);
  CHECK_EQ(evs_duration_parse("1", 1, NULL), EVS_EINVAL);
}

/* ---- UTF-8 ------------------------------------------------------------- */

static int u8(const char *s, size_t n, size_t *len, uint32_t *cp) {
  return evs_utf8_next(s, n, len, cp);
}

static void t_utf8(void) {
  size_t l;
  uint32_t cp;
  CHECK_EQ(u8(S("A"), &l, &cp), 0);
  CHECK_EQ(l, 1);
  CHECK_EQ(cp, 'A');
  CHECK_EQ(u8(S("\xc3\xa9"), &l, &cp), 0);
  CHECK_EQ(l, 2);
  CHECK_EQ(cp, 0xe9);
  CHECK_EQ(u8(S("\xe2\x82\xac"), &l, &cp), 0);
  CHECK_EQ(l, 3);
  CHECK_EQ(cp, 0x20ac);
  CHECK_EQ(u8(S("\xf0\x9f\x98\x80"), &l, &cp), 0);
  CHECK_EQ(l, 4);
  CHECK_EQ(cp, 0x1f600);
  CHECK_EQ(u8(S("\xf4\x8f\xbf\xbf"), &l, &cp), 0);
  CHECK_EQ(cp, 0x10ffff);
  CHECK_EQ(u8(S("\xed\x9f\xbf"), &l, &cp), 0);
  CHECK_EQ(cp, 0xd7ff);
  CHECK_EQ(u8(S("\xee\x80\x80"), &l, &cp), 0);
  CHECK_EQ(cp, 0xe000);
  CHECK_EQ(u8(S("\0"), &l, &cp), 0);
  CHECK_EQ(cp, 0);
  CHECK_EQ(u8(S("\xe2\x82\xacX"), NULL, NULL), 0);
  static const char *const bad[] = {
      "\x80",             /* continuation byte first */
      "\xc0\x80",         /* overlong NUL */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\x80",     /* overlong */
      "\xe0\x9f\xbf",     /* overlong */
      "\xed\xa0\x80",     /* surrogate D800 */
      "\xed\xbf\xbf",     /* surrogate DFFF */
      "\xf0\x8f\xbf\xbf", /* overlong */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xf5\x80\x80\x80", "\xff", "\xc3\x28", "\xe2\x28\xa1", "\xe2\x82\x28",
      "\xf0\x9f\x98\x28"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = u8(bad[i], strlen(bad[i]), &l, &cp);
    if (rc != EVS_EINVAL) fprintf(stderr, "  bad[%zu] accepted\n", i);
    CHECK_EQ(rc, EVS_EINVAL);
  }
  /* Cut short by n. */
  CHECK_EQ(u8("\xe2\x82\xac", 2, &l, &cp), EVS_EINVAL);
  CHECK_EQ(u8("\xf0\x9f\x98\x80", 3, &l, &cp), EVS_EINVAL);
  CHECK_EQ(u8("A", 0, &l, &cp), EVS_EINVAL);
  CHECK_EQ(u8(NULL, 1, &l, &cp), EVS_EINVAL);
}

/* ---- JSON for import lines --------------------------------------------- */

static void jbad(const char *s, size_t n, size_t at, const char *why, int incomplete) {
  size_t off = 999;
  const char *w = NULL;
  int inc = -1;
  CHECK_EQ(evs_json_check(s, n, &off, &w, &inc), EVS_EJSON);
  CHECK_EQ(off, at);
  CHECK_CONTAINS(w, why);
  if (inc != incomplete) fprintf(stderr, "  %.*s: incomplete %d\n", (int)n, s, inc);
  CHECK_EQ(inc, incomplete);
}

/* {"payload":{"x":[[...]]}} with a payload nesting `depth` levels. */
static char *deep_line(size_t depth) {
  char *b = malloc(2 * depth + 32);
  if (!b) return NULL;
  size_t k = (size_t)sprintf(b, "{\"payload\":{\"x\":");
  for (size_t i = 1; i < depth; i++) b[k++] = '[';
  for (size_t i = 1; i < depth; i++) b[k++] = ']';
  strcpy(b + k, "}}");
  return b;
}

static void t_json_check(void) {
  int inc = -1;
  CHECK_EQ(evs_json_check(S("{\"a\":1}"), NULL, NULL, &inc), 0);
  CHECK_EQ(inc, 0);
  CHECK_EQ(evs_json_check(S(" {\"payload\":{\"x\":[1,2,{}]}} \r\n"), NULL, NULL, NULL), 0);
  /* A line that stops where more lines could complete it. */
  jbad(S(""), 0, "empty input", 1);
  jbad(S("  \n"), 3, "only white space", 1);
  jbad(S("{\n"), 2, "expected an object key", 1);
  jbad(S("{\"a\":\n"), 6, "expected a value", 1);
  jbad(S("{\"a\":1,\n"), 8, "expected an object key", 1);
  jbad(S("{\"a\":[1,\n"), 9, "expected a value", 1);
  jbad(S("{\"a\":1"), 6, "unclosed", 1);
  jbad(S("{\"a\":\"ab"), 5, "unterminated string", 1);
  jbad(S("{\"a\":\"ab\\"), 5, "unterminated string", 1);
  jbad(S("{\"a\":tr"), 5, "invalid literal", 1);
  jbad(S("{\"a\":fals"), 5, "invalid literal", 1);
  jbad(S("{\"a\":-"), 6, "digit", 1);
  jbad(S("{\"a\":1."), 7, "digit", 1);
  jbad(S("{\"a\":1e+"), 8, "digit", 1);
  jbad(S("{\"a\":\"\\u00"), 6, "\\u escape", 1);
  jbad(S("{\"a\":\"\\ud800"), 6, "unpaired high surrogate", 1);
  jbad(S("{\"a\":\"\\ud800\\udc"), 6, "unpaired high surrogate", 1);
  jbad(S("{\"a\":\"\xe2\x82"), 6, "invalid UTF-8", 1);
  jbad(S("{\"a\":\"\xf0"), 6, "invalid UTF-8", 1);
  jbad(S("{\"a\":\"\xe2\x82\""), 6, "invalid UTF-8", 0);
  jbad(S("{\"a\":\"\xf5"), 6, "invalid UTF-8", 0);
  jbad(S("{\"a\":\"\xed\xa0"), 6, "invalid UTF-8", 0);
  /* ... and one that is wrong whatever follows. */
  jbad(S("{\"a\":\"ab\n\"}"), 8, "line break inside a string", 0);
  jbad(S("{\"a\":\"\x01\"}"), 6, "control character", 0);
  jbad(S("{\"a\":1}x"), 7, "trailing characters", 0);
  jbad(S("{\"a\":1}\n{"), 8, "trailing characters", 0);
  jbad(S("[1]"), 0, "top-level value must be an object", 0);
  jbad(S("{\"a\":trux"), 5, "invalid literal", 0);
  jbad(S("{\"a\":01}"), 6, "leading zero", 0);
  jbad(S("{\"a\":\"\\ud800\\u0041\"}"), 6, "unpaired high surrogate", 0);
  jbad(S("{\"a\":\"\\udc00\"}"), 6, "unpaired low surrogate", 0);
  jbad(S("{\"a\":\"\\u00g0\"}"), 6, "4 hex digits", 0);
  jbad(S("{\"a\":\"\xc0\x80\"}"), 6, "invalid UTF-8", 0);
  CHECK_EQ(evs_json_check(NULL, 1, NULL, NULL, NULL), EVS_EINVAL);
  jbad(NULL, 0, 0, "empty input", 1);

  /* A member may nest as deep as a payload (1000), one below the line. */
  size_t off;
  const char *why;
  char *line = deep_line(1000);
  REQUIRE(line);
  CHECK_EQ(evs_json_check(line, strlen(line), NULL, NULL, NULL), 0);
  free(line);
  line = deep_line(1001);
  REQUIRE(line);
  CHECK_EQ(evs_json_check(line, strlen(line), &off, &why, &inc), EVS_EJSON);
  CHECK_CONTAINS(why, "nesting deeper than 1000 inside a member");
  CHECK_EQ(off, strlen("{\"payload\":{\"x\":") + 999);
  CHECK_EQ(inc, 0);
  free(line);
}

static void t_json_members(void) {
  const char *o = " { \"a\" : 1 , \"b\\u0041\":[1,{\"}\":\"]\"}] ,\"c\":\"x,y\", \"d\":{} } ";
  size_t n = strlen(o), pos = 0;
  REQUIRE(evs_json_check(o, n, NULL, NULL, NULL) == 0);
  static const char *const names[] = {"a", "b\\u0041", "c", "d"};
  static const char *const vals[] = {"1", "[1,{\"}\":\"]\"}]", "\"x,y\"", "{}"};
  evs_json_span nm, v;
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(evs_json_member_next(o, n, &pos, &nm, &v), 0);
    CHECK(nm.len == strlen(names[i]) && !memcmp(o + nm.off, names[i], nm.len));
    CHECK(v.len == strlen(vals[i]) && !memcmp(o + v.off, vals[i], v.len));
  }
  CHECK_EQ(evs_json_member_next(o, n, &pos, &nm, &v), EVS_ENOTFOUND);
  CHECK_EQ(evs_json_member_next(o, n, &pos, &nm, &v), EVS_ENOTFOUND);
  pos = 0;
  CHECK_EQ(evs_json_member_next(S("{}"), &pos, NULL, NULL), EVS_ENOTFOUND);
  pos = 0;
  CHECK_EQ(evs_json_member_next(S("[1]"), &pos, NULL, NULL), EVS_EJSON);
  pos = 0;
  CHECK_EQ(evs_json_member_next(S("{\"a\" 1}"), &pos, NULL, NULL), EVS_EJSON);
  pos = 9;
  CHECK_EQ(evs_json_member_next(S("{\"a\":1}"), &pos, NULL, NULL), EVS_EINVAL);
  CHECK_EQ(evs_json_member_next(NULL, 0, &pos, NULL, NULL), EVS_EINVAL);
}

static void t_json_string_decode(void) {
  char out[64];
  size_t n;
  CHECK_EQ(evs_json_string_decode(S("plain"), out, &n), 0);
  CHECK_STR(out, "plain");
  CHECK_EQ(n, 5);
  CHECK_EQ(evs_json_string_decode(S("a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t"), out, &n), 0);
  CHECK_STR(out, "a\"b\\c/d\b\f\n\r\t");
  CHECK_EQ(evs_json_string_decode(S("\\u00e9\\u20AC\\ud83d\\ude00"), out, &n), 0);
  CHECK_STR(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  CHECK_EQ(n, 9);
  /* In place. */
  char in[] = "x\\u0041\\ud83d\\ude00y";
  CHECK_EQ(evs_json_string_decode(in, strlen(in), in, &n), 0);
  CHECK_STR(in, "xA\xf0\x9f\x98\x80y");
  /* A NUL inside: the length says so. */
  CHECK_EQ(evs_json_string_decode(S("a\\u0000b"), out, &n), 0);
  CHECK_EQ(n, 3);
  CHECK_EQ(strlen(out), 1);
  CHECK_EQ(evs_json_string_decode(S("\\ud800"), out, &n), EVS_EJSON);
  CHECK_EQ(evs_json_string_decode(S("\\udc00"), out, &n), EVS_EJSON);
  CHECK_EQ(evs_json_string_decode(S("\\ud800\\u0041"), out, &n), EVS_EJSON);
  CHECK_EQ(evs_json_string_decode(S("\\x"), out, &n), EVS_EJSON);
  CHECK_EQ(evs_json_string_decode(S("\\u12"), out, &n), EVS_EJSON);
  CHECK_EQ(evs_json_string_decode(S("\\"), out, &n), EVS_EJSON);
  CHECK_EQ(evs_json_string_decode(S(""), out, &n), 0);
  CHECK_EQ(n, 0);
  CHECK_EQ(evs_json_string_decode(NULL, 1, out, &n), EVS_EINVAL);
  CHECK_EQ(evs_json_string_decode(NULL, 0, out, &n), 0);
  CHECK_EQ(n, 0);
}

/* ---- stats JSON -------------------------------------------------------- */

static void t_stats_json(void) {
  evs_store *s;
  REQUIRE(evs_store_open(NULL, NULL, &s) == 0);
  char j[EVS_STATS_JSON_SIZE];
  CHECK_EQ(evs_stats_json(s, j, sizeof j), 0);
  CHECK_CONTAINS(j, "\"pending\":0,");
  CHECK_CONTAINS(j, "\"oldest_pending_us\":0,\"oldest_pending_at\":null,");
  evs_event_in ev = {.source = "s", .event_type = "t", .payload = "{}"};
  evs_append_result r;
  REQUIRE(evs_append(s, NULL, &ev, &r) == 0);
  CHECK_EQ(evs_stats_json(s, j, sizeof j), 0);
  evs_stats st;
  REQUIRE(evs_stats_get(s, &st) == 0);
  char at[EVS_TIME_BUF], want[64];
  evs_time_format(r.created_us, at);
  snprintf(want, sizeof want, "\"oldest_pending_at\":\"%s\",", at);
  CHECK_CONTAINS(j, want);
  snprintf(want, sizeof want, "\"store_id\":\"%016llx\",", (unsigned long long)st.store_id);
  CHECK_CONTAINS(j, want);
  /* Every evs_stats field (what the CLI and SQL printed, together), then
  ** the settings. */
  static const char *const keys[] = {
      "pending", "acknowledged", "leased", "dead", "delayed", "next_id", "segments",
      "disk_bytes", "payload_bytes",
      "payload_stored_bytes", "compression_ratio", "oldest_pending_us",
      "oldest_pending_at", "oldest_pending_age_us", "index_bytes",
      "recovered_bytes_dropped", "recovered_records_dropped", "checkpoint_state",
      "open_replayed_bytes", "checkpoints_written", "log_bytes_since_checkpoint",
      "compactions", "compact_removed_events", "maintenance_error", "dict_state",
      "dict_id", "store_id", "settings"};
  size_t n = strlen(j), pos = 0;
  CHECK_EQ(evs_json_check(j, n, NULL, NULL, NULL), 0);
  evs_json_span nm, v;
  size_t i = 0;
  for (; !evs_json_member_next(j, n, &pos, &nm, &v); i++) {
    if (i >= sizeof keys / sizeof *keys) break;
    if (nm.len != strlen(keys[i]) || memcmp(j + nm.off, keys[i], nm.len)) {
      fprintf(stderr, "  key %zu is %.*s, expected %s\n", i, (int)nm.len, j + nm.off, keys[i]);
      CHECK(0);
    }
  }
  CHECK_EQ(i, sizeof keys / sizeof *keys);
  CHECK_CONTAINS(j, "\"settings\":{\"retention_us\":604800000000,");
  CHECK(j[n - 1] == '}' && j[n - 2] == '}');
  char small[40];
  CHECK_EQ(evs_stats_json(s, small, sizeof small), EVS_ETOOBIG);
  CHECK_EQ(strlen(small), sizeof small - 1);
  CHECK_EQ(evs_stats_json(s, NULL, 10), EVS_EINVAL);
  CHECK_EQ(evs_stats_json(NULL, j, sizeof j), EVS_EINVAL);
  /* The settings alone are the stats' "settings", byte for byte. */
  char set[EVS_STATS_JSON_SIZE], want2[EVS_STATS_JSON_SIZE + 16];
  CHECK_EQ(evs_settings_json(s, set, sizeof set), 0);
  snprintf(want2, sizeof want2, "\"settings\":%s}", set);
  CHECK(n > strlen(want2) && !strcmp(j + n - strlen(want2), want2));
  CHECK_STR(set, "{\"retention_us\":604800000000,\"idempotency_window_us\":86400000000,"
                 "\"max_payload\":409600,\"max_metadata\":8192,\"compress_threshold\":1024,"
                 "\"compress_level\":1,\"dict_compress\":false,\"segment_size\":67108864,"
                 "\"max_deliveries\":5}");
  CHECK_EQ(evs_settings_json(s, small, 10), EVS_ETOOBIG);
  CHECK_EQ(evs_settings_json(NULL, set, sizeof set), EVS_EINVAL);
  evs_store_close(s);
}

static void t_compact_report_json(void) {
  evs_compact_report r = {5, 3, 1, 1, 42, 1000, 600, 7, 2, EVS_COMPACT_OPEN_BELOW};
  char j[EVS_STATS_JSON_SIZE];
  CHECK_EQ(evs_compact_report_json(&r, j, sizeof j), 0);
  CHECK_STR(j, "{\"segments_before\":5,\"segments_after\":3,\"segments_removed\":1,"
               "\"segments_rewritten\":1,\"events_removed\":42,\"bytes_before\":1000,"
               "\"bytes_after\":600,\"max_pause_us\":7,\"segments_kept\":2,"
               "\"open_segment\":\"below_threshold\"}");
  CHECK_EQ(evs_json_check(j, strlen(j), NULL, NULL, NULL), 0);
  char small[16];
  CHECK_EQ(evs_compact_report_json(&r, small, sizeof small), EVS_ETOOBIG);
  CHECK_EQ(strlen(small), sizeof small - 1);
  CHECK_EQ(evs_compact_report_json(NULL, j, sizeof j), EVS_EINVAL);
}

int main(void) {
  RUN(t_time_format);
  RUN(t_time_round_trip);
  RUN(t_time_parse);
  RUN(t_duration);
  RUN(t_utf8);
  RUN(t_json_check);
  RUN(t_json_members);
  RUN(t_json_string_decode);
  RUN(t_stats_json);
  RUN(t_compact_report_json);
  return TEST_EXIT();
}
