/*
** cursor.c: encoding, decoding and verification of inbox cursors.
** A cursor names the last id a page returned, so paging resumes exactly
** after it whatever was appended, acked or deleted in between, and across
** close/reopen (ids and the store's key are persistent).
*/
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "codec.h"
#include "cursor.h"
#include "error.h"
#include "store.h"
#include "util.h"

#define CURSOR_VERSION 1
#define CURSOR_RAW 34

static void fp_str(XXH3_state_t *st, char tag, const char *v) {
  uint8_t hdr[5] = {(uint8_t)tag, 0, 0, 0, 0};
  uint32_t n = v ? (uint32_t)strlen(v) : UINT32_MAX;
  put_u32(hdr + 1, n);
  XXH3_64bits_update(st, hdr, sizeof hdr);
  if (v) XXH3_64bits_update(st, v, n);
}

static void fp_int(XXH3_state_t *st, char tag, int64_t v) {
  uint8_t b[9] = {(uint8_t)tag};
  put_u64(b + 1, (uint64_t)v);
  XXH3_64bits_update(st, b, sizeof b);
}

uint64_t evs_filter_fp(const evs_query *q) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  fp_str(&st, 's', q->source);
  fp_str(&st, 't', q->event_type);
  fp_int(&st, 'a', q->created_after_us);
  fp_int(&st, 'b', q->created_before_us);
  fp_int(&st, 'p', q->priority);
  fp_str(&st, 'k', q->metadata_key);
  fp_str(&st, 'v', q->metadata_value);
  fp_int(&st, 'S', q->status);
  fp_int(&st, 'm', (int64_t)q->min_id);
  fp_int(&st, 'M', (int64_t)q->max_id);
  fp_int(&st, 'd', q->descending != 0);
  return XXH3_64bits_digest(&st);
}

void evs_cursor_encode(const evs_store *s, uint64_t last_id, uint64_t fp,
                       char out[EVS_CURSOR_MAX]) {
  uint8_t raw[CURSOR_RAW] = {CURSOR_VERSION, 0};
  put_u64(raw + 2, last_id);
  put_u64(raw + 10, fp);
  put_u64(raw + 18, s->meta.store_id);
  put_u64(raw + 26, XXH3_64bits_withSeed(raw, 26, s->meta.cursor_key));
  evs_b64_encode(raw, sizeof raw, out);
}

int evs_cursor_decode(const evs_store *s, const char *c, uint64_t fp,
                      uint64_t *last_id) {
  uint8_t raw[CURSOR_RAW + 1];
  size_t n = strlen(c);
  if (n > EVS_CURSOR_MAX || evs_b64_decode(c, n, raw, sizeof raw) != CURSOR_RAW)
    return evs_err(s, EVS_ECURSOR, "malformed cursor (not one this library issued)");
  if (raw[0] != CURSOR_VERSION || raw[1])
    return evs_err(s, EVS_ECURSOR, "cursor version %u is not supported", raw[0]);
  if (get_u64(raw + 18) != s->meta.store_id)
    return evs_err(s, EVS_ECURSOR, "cursor belongs to another store");
  if (get_u64(raw + 26) != XXH3_64bits_withSeed(raw, 26, s->meta.cursor_key))
    return evs_err(s, EVS_ECURSOR, "cursor failed its integrity check (altered or truncated)");
  if (get_u64(raw + 10) != fp)
    return evs_err(s, EVS_ECURSOR,
                   "cursor was issued for a different filter; pass the same "
                   "source, event_type, time, priority and metadata filters");
  *last_id = get_u64(raw + 2);
  return 0;
}

int evs_cursor_make(evs_store *s, const evs_query *q, uint64_t id, char *out) {
  if (!s || !q || !out) return evs_err(s, EVS_EINVAL, "store, query and out are required");
  evs_cursor_encode(s, id, evs_filter_fp(q), out);
  return 0;
}

int evs_cursor_parse(evs_store *s, const evs_query *q, const char *cursor,
                     uint64_t *id) {
  if (!s || !q || !cursor || !id)
    return evs_err(s, EVS_EINVAL, "store, query, cursor and id are required");
  return evs_cursor_decode(s, cursor, evs_filter_fp(q), id);
}
