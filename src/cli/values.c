/*
** values.c: the text forms of values on the command line and in output:
** times (ISO-8601 UTC with microseconds, or integer microseconds),
** durations, ids, priorities, and an event as a JSON object.
*/
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonl.h"

#define SEC_US 1000000LL

void fmt_time(int64_t us, char out[TIME_BUF]) {
  int64_t sec = us / SEC_US, frac = us % SEC_US;
  if (frac < 0) {
    frac += SEC_US;
    sec--;
  }
  time_t t = (time_t)sec;
  struct tm tm;
  gmtime_r(&t, &tm);
  snprintf(out, TIME_BUF, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
** days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int digits(const char **p, int n, int *v) {
  *v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return -1;
    *v = *v * 10 + (c - '0');
  }
  *p += n;
  return 0;
}

static int expect(const char **p, char c) {
  if (**p != c) return -1;
  (*p)++;
  return 0;
}

static int parse_iso(const char *p, int64_t *out) {
  int y, mo, d, h = 0, mi = 0, s = 0;
  int64_t frac = 0;
  if (digits(&p, 4, &y) || expect(&p, '-') || digits(&p, 2, &mo) || expect(&p, '-') ||
      digits(&p, 2, &d))
    return -1;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return -1;
  if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
  int64_t off = 0;
  if (*p) {
    if (*p != 'T' && *p != 't' && *p != ' ') return -1;
    p++;
    if (digits(&p, 2, &h) || expect(&p, ':') || digits(&p, 2, &mi) || expect(&p, ':') ||
        digits(&p, 2, &s))
      return -1;
    if (h > 23 || mi > 59 || s > 59) return -1;
    if (*p == '.') {
      int n = 0;
      for (p++; *p >= '0' && *p <= '9'; p++, n++)
        if (n < 6) frac = frac * 10 + (*p - '0');
      if (n == 0 || n > 9) return -1;
      for (; n < 6; n++) frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om;
      if (digits(&p, 2, &oh)) return -1;
      if (*p == ':') p++;
      if (digits(&p, 2, &om) || oh > 23 || om > 59) return -1;
      off = sign * ((int64_t)oh * 3600 + om * 60);
    } else {
      return -1; /* a time without a zone would depend on where it runs */
    }
    if (*p) return -1;
  }
  int64_t sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
  *out = sec * SEC_US + frac;
  return 0;
}

int parse_time(const char *s, int64_t *us) {
  uint64_t v;
  if (!parse_u64(s, &v)) {
    if (v > INT64_MAX) return -1;
    *us = (int64_t)v;
    return 0;
  }
  if (parse_iso(s, us) || *us < 0) return -1;
  return 0;
}

int parse_u64(const char *s, uint64_t *v) {
  if (!*s) return -1;
  uint64_t x = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    unsigned dgt = (unsigned)(*s - '0');
    if (x > (UINT64_MAX - dgt) / 10) return -1;
    x = x * 10 + dgt;
  }
  *v = x;
  return 0;
}

int parse_duration(const char *s, int64_t *us) {
  if (!strcmp(s, "forever")) {
    *us = -1;
    return 0;
  }
  static const struct {
    const char *suffix;
    int64_t mult;
  } units[] = {{"ms", 1000}, {"d", 86400 * SEC_US}, {"h", 3600 * SEC_US},
               {"m", 60 * SEC_US}, {"s", SEC_US}, {"", 1}};
  size_t n = strlen(s);
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    size_t l = strlen(units[i].suffix);
    if (n <= l || strcmp(s + n - l, units[i].suffix)) continue;
    char num[32];
    if (n - l >= sizeof num) return -1;
    memcpy(num, s, n - l);
    num[n - l] = 0;
    uint64_t v;
    if (parse_u64(num, &v) || v == 0 || v > (uint64_t)INT64_MAX / (uint64_t)units[i].mult)
      return -1;
    *us = (int64_t)v * units[i].mult;
    return 0;
  }
  return -1;
}

int parse_priority(const char *s, size_t n, int *prio) {
  static const char *const names[] = {"low", "normal", "high"};
  for (int i = 0; i < 3; i++) {
    if ((n == strlen(names[i]) && !memcmp(s, names[i], n)) ||
        (n == 1 && s[0] == '1' + i)) {
      *prio = EVS_PRIORITY_LOW + i;
      return 0;
    }
  }
  return -1;
}

const char *priority_name(int prio) {
  switch (prio) {
  case EVS_PRIORITY_LOW: return "low";
  case EVS_PRIORITY_HIGH: return "high";
  default: return "normal";
  }
}

static int json_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* A payload or metadata object: JSON the library checked, its bytes
** exactly as appended but for white space around the object, which the
** library keeps and which is not part of the value. Printed, it would end
** the line early (a payload appended with a final line break) and change
** on a round trip (import takes the value alone). */
static void put_object(FILE *f, const char *p, size_t n) {
  while (n && json_ws(p[n - 1])) n--;
  while (n && json_ws(*p)) p++, n--;
  fwrite(p, 1, n, f);
}

void put_event(FILE *f, const evs_event *e) {
  char ts[TIME_BUF];
  fmt_time(e->created_us, ts);
  fprintf(f, "{\"event_id\":%llu,\"created_at\":\"%s\",\"source\":",
          (unsigned long long)e->id, ts);
  jl_put_string(f, e->source, e->source_len);
  fputs(",\"event_type\":", f);
  jl_put_string(f, e->event_type, e->event_type_len);
  fputs(",\"payload\":", f);
  put_object(f, e->payload, e->payload_len);
  fputs(",\"metadata\":", f);
  if (e->metadata)
    put_object(f, e->metadata, e->metadata_len);
  else
    fputs("null", f);
  if (e->status == EVS_STATUS_ACKNOWLEDGED) {
    fmt_time(e->acknowledged_us, ts);
    fprintf(f, ",\"status\":\"acknowledged\",\"acknowledged_at\":\"%s\"", ts);
  } else {
    fputs(",\"status\":\"pending\",\"acknowledged_at\":null", f);
  }
  fprintf(f, ",\"priority\":\"%s\",\"idempotency_key\":", priority_name(e->priority));
  if (e->idempotency_key)
    jl_put_string(f, e->idempotency_key, e->idempotency_key_len);
  else
    fputs("null", f);
  fputs("}\n", f);
}
