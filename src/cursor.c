/*
** cursor.c: encoding, decoding and verification of inbox cursors.
** A cursor names the last id a page returned, so paging resumes exactly
** after it whatever was appended, acked or deleted in between, and across
** close/reopen (ids and the store's key are persistent).
*/
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cursor.h"
#include "abi.h"
#include "error.h"
#include "store.h"
#include "util.h"

#define CURSOR_VERSION 1
#define CURSOR_RAW 34

/* The filter serialised (tag, length, bytes for strings; tag, 8 bytes
** for numbers) and hashed once: a row's cursor costs one short hash. */
typedef struct fpbuf {
  uint8_t small[512];
  uint8_t *p;
  size_t n, cap;
} fpbuf;

static void fp_put(fpbuf *b, const void *v, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = (b->n + n) * 2;
    uint8_t *p = malloc(cap);
    if (!p) return; /* hashed short, and so never matches: ECURSOR, not UB */
    memcpy(p, b->p, b->n);
    if (b->p != b->small) free(b->p);
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, v, n);
  b->n += n;
}

static void fp_str(fpbuf *b, char tag, const char *v) {
  uint8_t hdr[5] = {(uint8_t)tag, 0, 0, 0, 0};
  uint32_t n = v ? (uint32_t)strlen(v) : UINT32_MAX;
  put_u32(hdr + 1, n);
  fp_put(b, hdr, sizeof hdr);
  if (v) fp_put(b, v, n);
}

static void fp_int(fpbuf *b, char tag, int64_t v) {
  uint8_t x[9] = {(uint8_t)tag};
  put_u64(x + 1, (uint64_t)v);
  fp_put(b, x, sizeof x);
}

uint64_t evs_filter_fp(const evs_query *q) {
  fpbuf b;
  b.p = b.small;
  b.n = 0;
  b.cap = sizeof b.small;
  fp_str(&b, 's', q->source);
  fp_str(&b, 't', q->event_type);
  fp_int(&b, 'a', q->created_after_us);
  fp_int(&b, 'b', q->created_before_us);
  fp_int(&b, 'p', q->priority);
  fp_str(&b, 'k', q->metadata_key);
  fp_str(&b, 'v', q->metadata_value);
  fp_int(&b, 'S', q->status);
  fp_int(&b, 'm', (int64_t)q->min_id);
  fp_int(&b, 'M', (int64_t)q->max_id);
  fp_int(&b, 'd', q->descending != 0);
  uint64_t h = XXH3_64bits(b.p, b.n);
  if (b.p != b.small) free(b.p);
  return h;
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

int evs_cursor_make_sized(evs_store *s, const evs_query *qin, size_t q_size, uint64_t id,
                          char *out) {
  if (!s || !qin || !out) return evs_err(s, EVS_EINVAL, "store, query and out are required");
  evs_query q;
  int rc = evs_abi_in(s, "evs_query", &q, sizeof q, qin, q_size, EVS_QUERY_SIZE_VER0);
  if (rc) return rc;
  evs_cursor_encode(s, id, evs_filter_fp(&q), out);
  return 0;
}

int evs_cursor_parse_sized(evs_store *s, const evs_query *qin, size_t q_size,
                           const char *cursor, uint64_t *id) {
  if (!s || !qin || !cursor || !id)
    return evs_err(s, EVS_EINVAL, "store, query, cursor and id are required");
  evs_query q;
  int rc = evs_abi_in(s, "evs_query", &q, sizeof q, qin, q_size, EVS_QUERY_SIZE_VER0);
  return rc ? rc : evs_cursor_decode(s, cursor, evs_filter_fp(&q), id);
}
