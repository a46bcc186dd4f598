/*
** report.c: the JSON text of a store's statistics, settings and
** compaction reports (evs_stats_json, evs_settings_json,
** evs_compact_report_json): the one formatter behind the CLI's `stats`,
** `config` and `compact` and SQL's evstore_stats() and evstore_compact(),
** so they cannot drift apart.
*/
#include <stdio.h>

#include "abi.h"
#include "error.h"

/* The settings object at out; snprintf's answer. */
static int settings(const evs_options *o, char *out, size_t size) {
  return snprintf(out, size,
                  "{\"retention_us\":%lld,\"idempotency_window_us\":%lld,\"max_payload\":%u,"
                  "\"max_metadata\":%u,\"compress_threshold\":%u,\"compress_level\":%d,"
                  "\"dict_compress\":%s,\"segment_size\":%u,\"max_deliveries\":%u}",
                  (long long)o->retention_us, (long long)o->idempotency_window_us,
                  o->max_payload, o->max_metadata, o->compress_threshold, o->compress_level,
                  o->dict_compress > 0 ? "true" : "false", o->segment_size,
                  (unsigned)o->max_deliveries);
}

static int too_big(evs_store *s, int n, size_t size) {
  if (n >= 0 && (size_t)n < size) return 0;
  return s ? evs_err(s, EVS_ETOOBIG, "JSON text is %d bytes, the buffer %zu", n, size)
           : EVS_ETOOBIG;
}

int evs_settings_json(evs_store *s, char *out, size_t size) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and buffer are required");
  evs_options o;
  int rc = evs_store_options(s, &o);
  if (rc) return rc;
  return too_big(s, settings(&o, out, size), size);
}

/* The name of an EVS_COMPACT_OPEN_* value in the JSON text. */
static const char *open_segment_name(uint64_t v) {
  static const char *const names[] = {"unknown",         "sealed",     "empty",
                                      "nothing_dead",    "below_threshold",
                                      "automatic_pass", "no_free_segment_number"};
  return v < sizeof names / sizeof *names ? names[v] : "unknown";
}

int evs_compact_report_json_sized(const evs_compact_report *rin, size_t r_size, char *out,
                                  size_t size) {
  if (!rin || !out) return EVS_EINVAL;
  evs_compact_report rc, *r = &rc;
  if (evs_abi_in(NULL, "evs_compact_report", &rc, sizeof rc, rin, r_size,
                 EVS_COMPACT_REPORT_SIZE_VER0))
    return EVS_EINVAL;
  int n = snprintf(out, size,
                   "{\"segments_before\":%llu,\"segments_after\":%llu,"
                   "\"segments_removed\":%llu,\"segments_rewritten\":%llu,"
                   "\"events_removed\":%llu,\"bytes_before\":%llu,\"bytes_after\":%llu,"
                   "\"max_pause_us\":%llu,\"segments_kept\":%llu,\"open_segment\":\"%s\"}",
                   (unsigned long long)r->segments_before,
                   (unsigned long long)r->segments_after,
                   (unsigned long long)r->segments_removed,
                   (unsigned long long)r->segments_rewritten,
                   (unsigned long long)r->events_removed, (unsigned long long)r->bytes_before,
                   (unsigned long long)r->bytes_after, (unsigned long long)r->max_pause_us,
                   (unsigned long long)r->segments_kept, open_segment_name(r->open_segment));
  return too_big(NULL, n, size);
}

int evs_stats_json(evs_store *s, char *out, size_t size) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and buffer are required");
  evs_stats st;
  evs_options o;
  int rc = evs_stats_get(s, &st);
  if (!rc) rc = evs_store_options(s, &o);
  if (rc) return rc;
  char at[EVS_TIME_BUF + 2] = "null";
  if (st.oldest_pending_us) {
    char t[EVS_TIME_BUF];
    if (!evs_time_format(st.oldest_pending_us, t)) snprintf(at, sizeof at, "\"%s\"", t);
  }
  int n = snprintf(
      out, size,
      "{\"pending\":%llu,\"acknowledged\":%llu,\"leased\":%llu,\"dead\":%llu,\"delayed\":%llu,"
      "\"next_id\":%llu,\"segments\":%llu,"
      "\"disk_bytes\":%llu,\"payload_bytes\":%llu,\"payload_stored_bytes\":%llu,"
      "\"compression_ratio\":%.3f,\"oldest_pending_us\":%lld,\"oldest_pending_at\":%s,"
      "\"oldest_pending_age_us\":%lld,\"index_bytes\":%llu,"
      "\"recovered_bytes_dropped\":%llu,\"recovered_records_dropped\":%llu,"
      "\"checkpoint_state\":%d,\"open_replayed_bytes\":%llu,\"checkpoints_written\":%llu,"
      "\"log_bytes_since_checkpoint\":%llu,\"compactions\":%llu,"
      "\"compact_removed_events\":%llu,\"maintenance_error\":%d,\"dict_state\":%d,"
      "\"dict_id\":%u,\"store_id\":\"%016llx\",\"settings\":",
      (unsigned long long)st.pending, (unsigned long long)st.acknowledged,
      (unsigned long long)st.leased, (unsigned long long)st.dead,
      (unsigned long long)st.delayed, (unsigned long long)st.next_id, (unsigned long long)st.segments,
      (unsigned long long)st.disk_bytes, (unsigned long long)st.payload_bytes,
      (unsigned long long)st.payload_stored_bytes, st.compression_ratio,
      (long long)st.oldest_pending_us, at, (long long)st.oldest_pending_age_us,
      (unsigned long long)st.index_bytes, (unsigned long long)st.recovered_bytes_dropped,
      (unsigned long long)st.recovered_records_dropped, st.checkpoint_state,
      (unsigned long long)st.open_replayed_bytes, (unsigned long long)st.checkpoints_written,
      (unsigned long long)st.log_bytes_since_checkpoint, (unsigned long long)st.compactions,
      (unsigned long long)st.compact_removed_events, st.maintenance_error, st.dict_state,
      (unsigned)st.dict_id, (unsigned long long)st.store_id);
  if (n >= 0 && (size_t)n < size) {
    int m = settings(&o, out + n, size - (size_t)n);
    n = m < 0 ? m : n + m;
  }
  if (n >= 0 && (size_t)n + 1 < size) {
    out[n] = '}';
    out[n + 1] = 0;
  }
  return too_big(s, n < 0 ? n : n + 1, size);
}
