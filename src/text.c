/*
** text.c: the text forms the library, the CLI and the SQL module share:
** UTF-8 (evs_utf8_next, evs_utf8_put; the decoder itself is inline in
** text.h), ISO-8601 UTC times (evs_time_format, evs_time_parse) and
** durations (evs_duration_parse). One grammar each, fuzzed by
** fuzz/fuzz_json.c.
*/
#include "text.h"

#include <string.h>

#include "evstore.h"

#define SEC_US INT64_C(1000000)
#define DAY_S INT64_C(86400)

/* Year 0000-01-01T00:00:00Z and the last µs of 9999: four-digit years. */
#define TIME_MIN (INT64_C(-62167219200) * SEC_US)
#define TIME_MAX INT64_C(253402300799999999)

int evs_utf8_next(const char *p, size_t n, size_t *len, uint32_t *cp) {
  uint32_t c;
  size_t l = p && n ? evs_utf8_seq((const unsigned char *)p, n, &c) : 0;
  if (!l) return EVS_EINVAL;
  if (len) *len = l;
  if (cp) *cp = c;
  return 0;
}

size_t evs_utf8_put(unsigned char *o, uint32_t u) {
  if (u < 0x80) {
    o[0] = (unsigned char)u;
    return 1;
  }
  if (u < 0x800) {
    o[0] = (unsigned char)(0xc0 | u >> 6);
    o[1] = (unsigned char)(0x80 | (u & 0x3f));
    return 2;
  }
  if (u < 0x10000) {
    o[0] = (unsigned char)(0xe0 | u >> 12);
    o[1] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
    o[2] = (unsigned char)(0x80 | (u & 0x3f));
    return 3;
  }
  o[0] = (unsigned char)(0xf0 | u >> 18);
  o[1] = (unsigned char)(0x80 | (u >> 12 & 0x3f));
  o[2] = (unsigned char)(0x80 | (u >> 6 & 0x3f));
  o[3] = (unsigned char)(0x80 | (u & 0x3f));
  return 4;
}

/* ---- Times ------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
** Hinnant's days_from_civil / civil_from_days): no time_t, no time zone,
** the same answer on every platform for every four-digit year. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void put_digits(char *o, int64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10) o[i] = (char)('0' + v % 10);
}

int evs_time_format(int64_t us, char out[EVS_TIME_BUF]) {
  if (!out) return EVS_EINVAL;
  if (us < TIME_MIN || us > TIME_MAX) {
    out[0] = 0;
    return EVS_EINVAL;
  }
  int64_t sec = us / SEC_US, frac = us % SEC_US;
  if (frac < 0) frac += SEC_US, sec--;
  int64_t days = sec / DAY_S, rem = sec % DAY_S;
  if (rem < 0) rem += DAY_S, days--;
  int y, m, d;
  civil_from_days(days, &y, &m, &d);
  memcpy(out, "0000-00-00T00:00:00.000000Z", EVS_TIME_BUF);
  put_digits(out, y, 4);
  put_digits(out + 5, m, 2);
  put_digits(out + 8, d, 2);
  put_digits(out + 11, rem / 3600, 2);
  put_digits(out + 14, rem / 60 % 60, 2);
  put_digits(out + 17, rem % 60, 2);
  put_digits(out + 20, frac, 6);
  return 0;
}

/* n digits at *p (before end) into *v. */
static int digits(const char **p, const char *end, int n, int *v) {
  if (end - *p < n) return -1;
  *v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return -1;
    *v = *v * 10 + (c - '0');
  }
  *p += n;
  return 0;
}

static int expect(const char **p, const char *end, char c) {
  if (*p == end || **p != c) return -1;
  (*p)++;
  return 0;
}

static int parse_iso(const char *p, const char *end, int64_t *us) {
  int y, mo, d, h = 0, mi = 0, s = 0;
  int64_t frac = 0, off = 0;
  if (digits(&p, end, 4, &y) || expect(&p, end, '-') || digits(&p, end, 2, &mo) ||
      expect(&p, end, '-') || digits(&p, end, 2, &d))
    return -1;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
  if (p < end) {
    if (*p != 'T' && *p != 't' && *p != ' ') return -1;
    p++;
    if (digits(&p, end, 2, &h) || expect(&p, end, ':') || digits(&p, end, 2, &mi) ||
        expect(&p, end, ':') || digits(&p, end, 2, &s))
      return -1;
    if (h > 23 || mi > 59 || s > 59) return -1;
    if (p < end && *p == '.') {
      int n = 0;
      for (p++; p < end && *p >= '0' && *p <= '9'; p++, n++)
        if (n < 6) frac = frac * 10 + (*p - '0');
      if (n == 0 || n > 9) return -1;
      for (; n < 6; n++) frac *= 10;
    }
    if (p < end && (*p == 'Z' || *p == 'z')) {
      p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
      int sign = *p++ == '-' ? -1 : 1, oh, om;
      if (digits(&p, end, 2, &oh)) return -1;
      if (p < end && *p == ':') p++;
      if (digits(&p, end, 2, &om) || oh > 23 || om > 59) return -1;
      off = sign * ((int64_t)oh * 3600 + om * 60);
    } else {
      return -1; /* a time without a zone would depend on where it runs */
    }
    if (p != end) return -1;
  }
  int64_t sec = days_from_civil(y, mo, d) * DAY_S + h * 3600 + mi * 60 + s - off;
  *us = sec * SEC_US + frac;
  return 0;
}

int evs_time_parse(const char *s, size_t len, int64_t *us) {
  if (!s || !us || !len) return EVS_EINVAL;
  size_t i = 0;
  uint64_t v = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    unsigned dg = (unsigned)(s[i++] - '0');
    if (v > ((uint64_t)INT64_MAX - dg) / 10) return EVS_EINVAL;
    v = v * 10 + dg;
  }
  if (i == len) {
    *us = (int64_t)v;
    return 0;
  }
  return parse_iso(s, s + len, us) ? EVS_EINVAL : 0;
}

/* ---- Durations --------------------------------------------------------- */

int evs_duration_parse(const char *s, size_t len, int64_t *us) {
  if (!s || !us) return EVS_EINVAL;
  if ((len == 7 && !memcmp(s, "forever", 7)) || (len == 1 && s[0] == '0')) {
    *us = -1;
    return 0;
  }
  size_t i = 0;
  uint64_t v = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    unsigned dg = (unsigned)(s[i++] - '0');
    if (v > ((uint64_t)INT64_MAX - dg) / 10) return EVS_EINVAL;
    v = v * 10 + dg;
  }
  if (i == 0 || v == 0) return EVS_EINVAL;
  static const struct {
    char unit[3];
    int64_t mult;
  } units[] = {{"", 1},           {"us", 1},          {"ms", 1000},
               {"s", SEC_US},     {"m", 60 * SEC_US}, {"h", 3600 * SEC_US},
               {"d", DAY_S * SEC_US}};
  size_t ul = len - i;
  for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
    if (ul != strlen(units[k].unit) || memcmp(s + i, units[k].unit, ul)) continue;
    if (v > (uint64_t)(INT64_MAX / units[k].mult)) return EVS_EINVAL;
    *us = (int64_t)v * units[k].mult;
    return 0;
  }
  return EVS_EINVAL;
}
