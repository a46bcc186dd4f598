/*
** values.c: the text forms of values on the command line and in output:
** times and durations (the library's: evs_time_parse, evs_duration_parse,
** evs_time_format), ids, priorities, and an event as a JSON object.
*/
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

/* The library's grammar (evs_time_parse); a time before 1970 is refused
** here, as no event can have one and a filter with it is a typo. */
int parse_time_n(const char *s, size_t n, int64_t *us) {
  int64_t v;
  if (evs_time_parse(s, n, &v) || v < 0) return -1;
  *us = v;
  return 0;
}

int parse_time(const char *s, int64_t *us) { return parse_time_n(s, strlen(s), us); }

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
  return evs_duration_parse(s, strlen(s), us) ? -1 : 0;
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
  char ts[EVS_TIME_BUF];
  evs_time_format(e->created_us, ts);
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
    evs_time_format(e->acknowledged_us, ts);
    fprintf(f, ",\"status\":\"acknowledged\",\"acknowledged_at\":\"%s\"", ts);
  } else {
    fprintf(f, ",\"status\":\"%s\",\"acknowledged_at\":null",
            e->status == EVS_STATUS_LEASED    ? "leased"
            : e->status == EVS_STATUS_DEAD    ? "dead"
            : e->status == EVS_STATUS_DELAYED ? "delayed"
                                              : "pending");
  }
  fprintf(f, ",\"priority\":\"%s\",\"idempotency_key\":", priority_name(e->priority));
  if (e->idempotency_key)
    jl_put_string(f, e->idempotency_key, e->idempotency_key_len);
  else
    fputs("null", f);
  /* Fields added after 1.0, like the consumer fields below: only when the
  ** event has them, so that an event without prints what it always did.
  ** Both are what the event was appended with, and what import reads. */
  if (e->ordering_key) {
    fputs(",\"ordering_key\":", f);
    jl_put_string(f, e->ordering_key, e->ordering_key_len);
  }
  if (e->not_before_us) {
    evs_time_format(e->not_before_us, ts);
    fprintf(f, ",\"not_before\":\"%s\"", ts);
  }
  /* The consumer fields only where they say something, so that a store
  ** that never used leases prints what it always did. */
  if (e->delivery_count) fprintf(f, ",\"delivery_count\":%u", (unsigned)e->delivery_count);
  if (e->status == EVS_STATUS_LEASED && e->leased_by) {
    evs_time_format(e->lease_expires_us, ts);
    fprintf(f, ",\"lease_token\":%llu,\"lease_expires_at\":\"%s\",\"leased_by\":",
            (unsigned long long)e->lease_token, ts);
    jl_put_string(f, e->leased_by, strlen(e->leased_by));
  }
  if (e->status == EVS_STATUS_DELAYED) {
    evs_time_format(e->lease_expires_us, ts);
    fprintf(f, ",\"delayed_until\":\"%s\"", ts);
  }
  fputs("}\n", f);
}
