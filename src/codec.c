/*
** codec.c: encoding and checking of the meta file, segment headers and
** log records. Every byte layout the store writes is defined here.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "codec.h"
#include "util.h"

void evs_meta_encode(const evs_meta *m, uint8_t out[EVS_META_SIZE]) {
  memset(out, 0, EVS_META_SIZE);
  memcpy(out, EVS_META_MAGIC, 8);
  put_u32(out + 8, EVS_FORMAT_VERSION);
  put_u32(out + 12, EVS_META_SIZE);
  put_u64(out + 16, m->store_id);
  put_u64(out + 24, m->cursor_key);
  put_u64(out + 32, (uint64_t)m->created_us);
  put_u32(out + 40, m->flags);
  put_u64(out + 56, XXH3_64bits(out, 56));
}

int evs_meta_decode(const uint8_t *p, size_t n, evs_meta *m, const char **why) {
  if (n != EVS_META_SIZE) return *why = "wrong size", EVS_ECORRUPT;
  if (memcmp(p, EVS_META_MAGIC, 8)) return *why = "bad magic", EVS_ECORRUPT;
  if (get_u64(p + 56) != XXH3_64bits(p, 56)) return *why = "checksum mismatch", EVS_ECORRUPT;
  if (get_u32(p + 8) != EVS_FORMAT_VERSION)
    return *why = "unsupported format version", EVS_ECORRUPT;
  m->store_id = get_u64(p + 16);
  m->cursor_key = get_u64(p + 24);
  m->created_us = (int64_t)get_u64(p + 32);
  m->flags = get_u32(p + 40);
  return 0;
}

void evs_settings_encode(const evs_settings *st, uint64_t store_id, int64_t now,
                         uint8_t out[EVS_SETTINGS_SIZE]) {
  memset(out, 0, EVS_SETTINGS_SIZE);
  memcpy(out, EVS_SETTINGS_MAGIC, 8);
  put_u32(out + 8, EVS_FORMAT_VERSION);
  put_u32(out + 12, EVS_SETTINGS_SIZE);
  put_u64(out + 16, store_id);
  put_u64(out + 24, st->generation);
  put_u64(out + 32, (uint64_t)st->retention_us);
  put_u64(out + 40, (uint64_t)st->idempotency_window_us);
  put_u32(out + 48, st->max_payload);
  put_u32(out + 52, st->max_metadata);
  put_u32(out + 56, st->compress_threshold);
  put_u32(out + 60, (uint32_t)st->compress_level);
  put_u32(out + 64, st->segment_size);
  put_u32(out + 68, st->dict_compress);
  put_u32(out + 80, st->max_deliveries);
  put_u64(out + 72, (uint64_t)now);
  put_u64(out + 88, XXH3_64bits(out, 88));
}

int evs_settings_decode(const uint8_t *p, size_t n, uint64_t store_id, evs_settings *st,
                        const char **why) {
  if (n != EVS_SETTINGS_SIZE) return *why = "wrong size", EVS_ECORRUPT;
  if (memcmp(p, EVS_SETTINGS_MAGIC, 8)) return *why = "bad magic", EVS_ECORRUPT;
  if (get_u64(p + 88) != XXH3_64bits(p, 88)) return *why = "checksum mismatch", EVS_ECORRUPT;
  if (get_u32(p + 8) != EVS_FORMAT_VERSION || get_u32(p + 12) != EVS_SETTINGS_SIZE)
    return *why = "unsupported format version", EVS_ECORRUPT;
  if (get_u64(p + 16) != store_id) return *why = "belongs to another store", EVS_ECORRUPT;
  st->generation = get_u64(p + 24);
  st->retention_us = (int64_t)get_u64(p + 32);
  st->idempotency_window_us = (int64_t)get_u64(p + 40);
  st->max_payload = get_u32(p + 48);
  st->max_metadata = get_u32(p + 52);
  st->compress_threshold = get_u32(p + 56);
  st->compress_level = (int32_t)get_u32(p + 60);
  st->segment_size = get_u32(p + 64);
  st->dict_compress = get_u32(p + 68);
  st->max_deliveries = get_u32(p + 80);
  if (!st->max_deliveries) st->max_deliveries = EVS_MAX_DELIVERIES_DEFAULT;
  if (!st->retention_us || st->retention_us < -1 || !st->idempotency_window_us ||
      st->idempotency_window_us < -1 || !st->max_payload || !st->max_metadata ||
      st->max_metadata > EVS_MAX_METADATA_LIMIT || !st->compress_threshold ||
      st->compress_level < ZSTD_minCLevel() || st->compress_level > ZSTD_maxCLevel() ||
      !st->compress_level || st->segment_size < 4096 || st->segment_size > (1u << 30) ||
      st->dict_compress > 1 || st->max_deliveries > 255 || get_u32(p + 84))
    return *why = "a setting is out of range", EVS_ECORRUPT;
  return 0;
}

void evs_seg_name(uint64_t no, char out[EVS_SEG_NAME_SIZE]) {
  snprintf(out, EVS_SEG_NAME_SIZE, "%016" PRIx64 ".evlog", no);
}

void evs_seghdr_encode(uint64_t segno, uint64_t store_id, int64_t created_us,
                       uint64_t first_id, uint64_t flags, uint8_t out[EVS_SEG_HDR]) {
  memset(out, 0, EVS_SEG_HDR);
  memcpy(out, EVS_SEG_MAGIC, 8);
  put_u32(out + 8, (flags & EVS_SEG_LEASES) ? 3 : EVS_FORMAT_VERSION);
  put_u32(out + 12, EVS_SEG_HDR);
  put_u64(out + 16, segno);
  put_u64(out + 24, store_id);
  put_u64(out + 32, (uint64_t)created_us);
  put_u64(out + 40, first_id);
  put_u64(out + 48, flags);
  put_u64(out + 56, XXH3_64bits(out, 56));
}

int evs_seghdr_decode(const uint8_t *p, size_t n, uint64_t *segno,
                      uint64_t *store_id, uint64_t *first_id, uint64_t *flags,
                      const char **why) {
  if (n < EVS_SEG_HDR) return *why = "shorter than its header", EVS_ECORRUPT;
  if (memcmp(p, EVS_SEG_MAGIC, 8)) return *why = "bad magic", EVS_ECORRUPT;
  if (get_u64(p + 56) != XXH3_64bits(p, 56))
    return *why = "header checksum mismatch", EVS_ECORRUPT;
  uint32_t version = get_u32(p + 8);
  if ((version != EVS_FORMAT_VERSION && version != 3) || get_u32(p + 12) != EVS_SEG_HDR)
    return *why = "unsupported format version", EVS_ECORRUPT;
  *segno = get_u64(p + 16);
  *store_id = get_u64(p + 24);
  *first_id = get_u64(p + 40);
  *flags = get_u64(p + 48);
  if (!*first_id || *first_id >= EVS_ID_MAX ||
      (*flags & ~(uint64_t)(EVS_SEG_REWRITTEN | EVS_SEG_LEASES)) ||
      ((*flags & EVS_SEG_LEASES) != 0) != (version == 3))
    return *why = "malformed header fields", EVS_ECORRUPT;
  return 0;
}

size_t evs_manifest_len(uint32_t count) {
  return EVS_MANIFEST_HDR + 16 * (size_t)count + 8;
}

void evs_manifest_encode(const evs_manifest *m, uint8_t *out) {
  memcpy(out, EVS_MANIFEST_MAGIC, 8);
  put_u32(out + 8, EVS_FORMAT_VERSION);
  put_u32(out + 12, m->count);
  put_u64(out + 16, m->store_id);
  put_u64(out + 24, m->generation);
  put_u64(out + 32, m->layout);
  uint8_t *p = out + EVS_MANIFEST_HDR;
  for (uint32_t i = 0; i < m->count; i++, p += 16) {
    put_u64(p, m->segno[i]);
    put_u64(p + 8, m->size[i]);
  }
  put_u64(p, XXH3_64bits(out, (size_t)(p - out)));
}

int evs_manifest_decode(const uint8_t *p, size_t n, evs_manifest *m, const char **why) {
  memset(m, 0, sizeof *m);
  if (n < EVS_MANIFEST_HDR + 8) return *why = "shorter than its header", EVS_ECORRUPT;
  if (memcmp(p, EVS_MANIFEST_MAGIC, 8)) return *why = "bad magic", EVS_ECORRUPT;
  uint32_t count = get_u32(p + 12);
  if (count > EVS_MANIFEST_MAX || n != evs_manifest_len(count))
    return *why = "size does not match its segment count", EVS_ECORRUPT;
  if (get_u64(p + n - 8) != XXH3_64bits(p, n - 8)) return *why = "checksum mismatch", EVS_ECORRUPT;
  if (get_u32(p + 8) != EVS_FORMAT_VERSION) return *why = "unsupported format version", EVS_ECORRUPT;
  if (!count) return *why = "lists no segment", EVS_ECORRUPT;
  m->count = count;
  m->store_id = get_u64(p + 16);
  m->generation = get_u64(p + 24);
  m->layout = get_u64(p + 32);
  m->segno = malloc(count * sizeof *m->segno);
  m->size = malloc(count * sizeof *m->size);
  if (!m->segno || !m->size) {
    free(m->segno), free(m->size);
    m->segno = m->size = NULL;
    return EVS_ENOMEM;
  }
  const uint8_t *e = p + EVS_MANIFEST_HDR;
  for (uint32_t i = 0; i < count; i++, e += 16) {
    m->segno[i] = get_u64(e);
    m->size[i] = get_u64(e + 8);
    /* Sealed segments have a known size; only the last is open. */
    if (!m->segno[i] || (i + 1 < count) != (m->size[i] != 0) ||
        (m->size[i] && m->size[i] < EVS_SEG_HDR)) {
      free(m->segno), free(m->size);
      m->segno = m->size = NULL;
      return *why = "malformed segment entry", EVS_ECORRUPT;
    }
  }
  return 0;
}

void evs_rec_seal(uint8_t *p, uint32_t len, uint8_t type, uint8_t flags) {
  put_u32(p + 8, len);
  p[12] = type;
  p[13] = flags;
  put_u16(p + 14, 0);
  put_u64(p, XXH3_64bits(p + 8, len - 8));
}

int evs_rec_check(const uint8_t *p, size_t avail, uint32_t *len,
                  uint8_t *type) {
  if (avail < EVS_REC_HDR) return 0;
  uint32_t l = get_u32(p + 8);
  if (l == 0 || l > avail) return 0;
  uint8_t t = p[12];
  uint32_t min = t == EVS_REC_EVENT    ? EVS_EV_FIXED
                 : t == EVS_REC_ACK    ? EVS_ACK_FIXED
                 : t == EVS_REC_DELETE ? EVS_DEL_FIXED
                 : t == EVS_REC_COMMIT ? EVS_COMMIT_LEN
                 : t == EVS_REC_LEASE  ? EVS_LEASE_FIXED
                                       : 0;
  /* Cheap checks first: resynchronising after damage tries every offset. */
  if (!min || l < min || get_u16(p + 14) || (t != EVS_REC_EVENT && p[13]))
    return -1;
  if (get_u64(p) != XXH3_64bits(p + 8, l - 8)) return -1;
  *len = l;
  *type = t;
  return 1;
}

uint64_t evs_rec_next(const uint8_t *base, uint64_t from, uint64_t end, uint32_t *len) {
  uint8_t type;
  for (uint64_t pos = from; pos + EVS_REC_HDR <= end; pos++)
    if (evs_rec_check(base + pos, end - pos, len, &type) == 1) return pos;
  return end;
}

int evs_ids_decode(const uint8_t *rec, uint32_t len, const uint8_t **ids, uint32_t *count) {
  uint32_t fixed = rec[12] == EVS_REC_ACK ? EVS_ACK_FIXED : EVS_DEL_FIXED;
  uint32_t n = get_u32(rec + fixed - 8);
  if (len < fixed || (uint64_t)fixed + (uint64_t)n * 8 != len) return EVS_ECORRUPT;
  *ids = rec + fixed;
  *count = n;
  return 0;
}

uint32_t evs_ev_len(const evs_ev_sizes *z) {
  uint64_t n = EVS_EV_FIXED + (z->delay ? 8u : 0u) + z->source + 1 + z->type + 1;
  if (z->order) n += 2 + (uint64_t)z->order + 1;
  if (z->idem) n += z->idem + 1;
  if (z->meta) n += z->meta + 1;
  n += z->stored + (z->zstd ? 0 : 1);
  return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

void evs_ev_encode(uint8_t *out, const evs_ev_sizes *z, const evs_ev_parts *ev) {
  uint8_t *q = out + EVS_EV_FIXED;
  put_u64(out + 16, ev->id);
  put_u64(out + 24, (uint64_t)ev->created_us);
  put_u32(out + 32, z->stored);
  put_u32(out + 36, z->raw);
  put_u16(out + 40, (uint16_t)z->source);
  put_u16(out + 42, (uint16_t)z->type);
  put_u16(out + 44, (uint16_t)z->idem);
  put_u16(out + 46, (uint16_t)z->meta);
  if (z->delay) {
    put_u64(q, (uint64_t)ev->not_before_us);
    q += 8;
  }
#define PUTS(ptr, n) (memcpy(q, (ptr), (n)), q += (n), *q++ = 0)
  if (z->order) {
    put_u16(q, (uint16_t)z->order);
    q += 2;
    PUTS(ev->order, z->order);
  }
  PUTS(ev->source, z->source);
  PUTS(ev->type, z->type);
  if (ev->idem) PUTS(ev->idem, z->idem);
  if (ev->meta) PUTS(ev->meta, z->meta);
  if (z->zstd)
    memcpy(q, ev->payload, z->stored);
  else
    PUTS(ev->payload, z->stored);
#undef PUTS
  uint8_t flags = (uint8_t)(ev->priority | (z->zstd ? EVS_EF_ZSTD : 0) |
                            (ev->meta ? EVS_EF_META : 0) | (ev->idem ? EVS_EF_IDEM : 0) |
                            (z->delay ? EVS_EF_DELAY : 0) | (z->order ? EVS_EF_ORDER : 0));
  evs_rec_seal(out, evs_ev_len(z), EVS_REC_EVENT, flags);
}

uint32_t evs_ids_len(int type, size_t n) {
  uint32_t fixed = type == EVS_REC_ACK ? EVS_ACK_FIXED : EVS_DEL_FIXED;
  if (n > (UINT32_MAX - fixed) / 8) return 0;
  return fixed + (uint32_t)n * 8;
}

void evs_ids_encode(uint8_t *out, int type, int64_t at, const uint64_t *ids, uint32_t n) {
  uint32_t fixed = type == EVS_REC_ACK ? EVS_ACK_FIXED : EVS_DEL_FIXED;
  if (type == EVS_REC_ACK) put_u64(out + 16, (uint64_t)at);
  put_u32(out + fixed - 8, n);
  put_u32(out + fixed - 4, 0);
  if (ids)
    for (uint32_t i = 0; i < n; i++) put_u64(out + fixed + 8 * (size_t)i, ids[i]);
  evs_rec_seal(out, fixed + 8 * n, (uint8_t)type, 0);
}

void evs_ids_set(uint8_t *out, int type, uint32_t i, uint64_t id) {
  uint32_t fixed = type == EVS_REC_ACK ? EVS_ACK_FIXED : EVS_DEL_FIXED;
  put_u64(out + fixed + 8 * (size_t)i, id);
}

uint64_t evs_seghdr_sum(const uint8_t *hdr) { return get_u64(hdr + 56); }

uint64_t evs_rec_sum(const uint8_t *rec) { return get_u64(rec); }

uint64_t evs_ids_at(const uint8_t *ids, uint32_t k) { return get_u64(ids + 8 * (size_t)k); }

uint64_t evs_ev_id(const uint8_t *rec) { return get_u64(rec + 16); }

int64_t evs_ack_at(const uint8_t *rec) { return (int64_t)get_u64(rec + EVS_REC_HDR); }

void evs_commit_encode(uint8_t *out, int64_t commit_us, uint32_t nrec) {
  put_u64(out + 16, (uint64_t)commit_us);
  put_u32(out + 24, nrec);
  put_u32(out + 28, 0);
  evs_rec_seal(out, EVS_COMMIT_LEN, EVS_REC_COMMIT, 0);
}

int64_t evs_commit_time(const uint8_t *rec) { return (int64_t)get_u64(rec + EVS_REC_HDR); }

uint32_t evs_commit_nrec(const uint8_t *rec) { return get_u32(rec + EVS_REC_HDR + 8); }

void evs_dict_file_encode(uint8_t *out, uint64_t store_id, uint32_t dict_id, uint32_t len,
                          int64_t written_us) {
  memcpy(out, EVS_DICT_MAGIC, 8);
  put_u32(out + 8, EVS_FORMAT_VERSION);
  put_u32(out + 12, EVS_DICT_HDR);
  put_u64(out + 16, store_id);
  put_u32(out + 24, dict_id);
  put_u32(out + 28, len);
  put_u64(out + 32, (uint64_t)written_us);
  put_u64(out + EVS_DICT_HDR + len, XXH3_64bits(out, EVS_DICT_HDR + (size_t)len));
}

int evs_dict_file_decode(const uint8_t *p, size_t n, uint64_t store_id, const uint8_t **dict,
                         uint32_t *len, uint32_t *dict_id, const char **why) {
  uint32_t l = n >= EVS_DICT_HDR ? get_u32(p + 28) : 0;
  *why = NULL;
  if (n < EVS_DICT_HDR + 8 || memcmp(p, EVS_DICT_MAGIC, 8)) *why = "bad magic or size";
  else if (get_u32(p + 8) != EVS_FORMAT_VERSION || get_u32(p + 12) != EVS_DICT_HDR)
    *why = "unsupported version";
  else if (l > (1u << 20) || n != EVS_DICT_HDR + (size_t)l + 8) *why = "bad length";
  else if (get_u64(p + n - 8) != XXH3_64bits(p, n - 8)) *why = "bad checksum";
  else if (get_u64(p + 16) != store_id) *why = "belongs to another store";
  if (*why) return EVS_ECORRUPT;
  *dict = p + EVS_DICT_HDR;
  *len = l;
  *dict_id = get_u32(p + 24);
  return 0;
}

int evs_ev_decode(const uint8_t *rec, uint32_t len, evs_event *ev, int *zstd,
                  uint32_t *raw_len) {
  uint8_t fl = rec[13];
  evs_ev_sizes z;
  z.stored = get_u32(rec + 32);
  z.raw = get_u32(rec + 36);
  z.source = get_u16(rec + 40);
  z.type = get_u16(rec + 42);
  z.idem = get_u16(rec + 44);
  z.meta = get_u16(rec + 46);
  z.zstd = (fl & EVS_EF_ZSTD) != 0;
  z.delay = (fl & EVS_EF_DELAY) != 0;
  z.order = 0;
  if (fl & 0x80) return EVS_ECORRUPT;
  const char *p = (const char *)rec + EVS_EV_FIXED + (z.delay ? 8 : 0);
  if (fl & EVS_EF_ORDER) {
    /* The key's length comes before it: check it lies in the record. */
    if ((uint64_t)(p - (const char *)rec) + 2 > len) return EVS_ECORRUPT;
    z.order = get_u16((const uint8_t *)p);
    if (!z.order) return EVS_ECORRUPT;
  }
  if (!(fl & EVS_EF_IDEM) != !z.idem || !(fl & EVS_EF_META) != !z.meta) return EVS_ECORRUPT;
  if (evs_ev_len(&z) != len || !z.source || !z.type) return EVS_ECORRUPT;
  if (!z.zstd && z.raw != z.stored) return EVS_ECORRUPT;
  memset(ev, 0, sizeof *ev);
  if (z.delay) ev->not_before_us = (int64_t)get_u64(rec + EVS_EV_FIXED);
  if (z.order) {
    ev->ordering_key = p + 2, ev->ordering_key_len = z.order;
    p += 2 + z.order + 1;
    if (ev->ordering_key[z.order]) return EVS_ECORRUPT;
  }
  ev->id = get_u64(rec + 16);
  ev->created_us = (int64_t)get_u64(rec + 24);
  ev->priority = fl & EVS_EF_PRIO_MASK;
  ev->source = p, ev->source_len = z.source, p += z.source + 1;
  ev->event_type = p, ev->event_type_len = z.type, p += z.type + 1;
  if (z.idem) ev->idempotency_key = p, ev->idempotency_key_len = z.idem, p += z.idem + 1;
  if (z.meta) ev->metadata = p, ev->metadata_len = z.meta, p += z.meta + 1;
  ev->payload = p, ev->payload_len = z.stored;
  /* Strings are stored NUL-terminated; a missing NUL means damage. */
  if (ev->source[z.source] || ev->event_type[z.type] ||
      (z.idem && ev->idempotency_key[z.idem]) || (z.meta && ev->metadata[z.meta]) ||
      (!z.zstd && p[z.stored]))
    return EVS_ECORRUPT;
  if (ev->priority < EVS_PRIORITY_LOW) return EVS_ECORRUPT;
  /* The frame names its own content size: a record claiming another
  ** original length is refused before any reader allocates that much. */
  if (z.zstd && ZSTD_getFrameContentSize(p, z.stored) != (unsigned long long)z.raw)
    return EVS_ECORRUPT;
  *zstd = z.zstd;
  *raw_len = z.raw;
  return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t evs_b64_encode(const uint8_t *in, size_t n, char *out) {
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = b64[(v >> 6) & 63];
    out[o++] = b64[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = b64[v >> 18];
    out[o++] = b64[(v >> 12) & 63];
    out[o++] = b64[(v >> 6) & 63];
  }
  out[o] = 0;
  return o;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

int evs_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap) {
  if (n % 4 == 1) return EVS_ECORRUPT;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val(in[i]);
    if (v < 0) return EVS_ECORRUPT;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap) return EVS_ECORRUPT;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  /* Leftover bits must be zero, so each byte string has one encoding. */
  if (acc & ((1u << bits) - 1)) return EVS_ECORRUPT;
  return (int)o;
}

/* ---- Index checkpoint ---------------------------------------------------- */

enum {
  CKH_VERSION = 8, CKH_HDRLEN = 12, CKH_STORE = 16, CKH_LAYOUT = 24, CKH_SEGNO = 32,
  CKH_OFF = 40, CKH_MARK = 48, CKH_BASE = 56, CKH_N = 64, CKH_PENDING = 72,
  CKH_ACKED = 80, CKH_PBYTES = 88, CKH_PSTORED = 96, CKH_LASTCR = 104, CKH_IDEMSZ = 112,
  CKH_IDEMUSED = 120, CKH_NSRC = 128, CKH_NTYP = 132, CKH_WRITTEN = 136
};
_Static_assert(CKH_WRITTEN + 8 == EVS_CK_HDR, "checkpoint header size");

void evs_ckpt_hdr_encode(const evs_ckpt_hdr *h, uint8_t out[EVS_CK_HDR]) {
  memset(out, 0, EVS_CK_HDR);
  memcpy(out, EVS_CK_MAGIC, 8);
  put_u32(out + CKH_VERSION, h->version ? h->version : EVS_FORMAT_VERSION);
  put_u32(out + CKH_HDRLEN, EVS_CK_HDR);
  put_u64(out + CKH_STORE, h->store_id);
  put_u64(out + CKH_LAYOUT, h->layout);
  put_u64(out + CKH_SEGNO, h->segno);
  put_u64(out + CKH_OFF, h->off);
  put_u64(out + CKH_MARK, h->mark);
  put_u64(out + CKH_BASE, h->base);
  put_u64(out + CKH_N, h->n);
  put_u64(out + CKH_PENDING, h->pending);
  put_u64(out + CKH_ACKED, h->acked);
  put_u64(out + CKH_PBYTES, h->payload_bytes);
  put_u64(out + CKH_PSTORED, h->payload_stored);
  put_u64(out + CKH_LASTCR, (uint64_t)h->last_created);
  put_u64(out + CKH_IDEMSZ, h->idem_size);
  put_u64(out + CKH_IDEMUSED, h->idem_used);
  put_u32(out + CKH_NSRC, h->nsrc);
  put_u32(out + CKH_NTYP, h->ntyp);
  put_u64(out + CKH_WRITTEN, (uint64_t)h->written_us);
}

int evs_ckpt_hdr_decode(const uint8_t *p, size_t n, uint64_t store_id, evs_ckpt_hdr *h) {
  if (n < EVS_CK_HDR + 8 || memcmp(p, EVS_CK_MAGIC, 8) ||
      get_u64(p + n - 8) != XXH3_64bits(p, n - 8) ||
      (get_u32(p + CKH_VERSION) != EVS_FORMAT_VERSION && get_u32(p + CKH_VERSION) != 3) ||
      get_u32(p + CKH_HDRLEN) != EVS_CK_HDR ||
      get_u64(p + CKH_STORE) != store_id)
    return EVS_ECORRUPT;
  evs_ckpt_hdr_fields(p, h);
  return 0;
}

void evs_ckpt_hdr_fields(const uint8_t *p, evs_ckpt_hdr *h) {
  h->store_id = get_u64(p + CKH_STORE);
  h->layout = get_u64(p + CKH_LAYOUT);
  h->segno = get_u64(p + CKH_SEGNO);
  h->off = get_u64(p + CKH_OFF);
  h->mark = get_u64(p + CKH_MARK);
  h->base = get_u64(p + CKH_BASE);
  h->n = get_u64(p + CKH_N);
  h->pending = get_u64(p + CKH_PENDING);
  h->acked = get_u64(p + CKH_ACKED);
  h->payload_bytes = get_u64(p + CKH_PBYTES);
  h->payload_stored = get_u64(p + CKH_PSTORED);
  h->last_created = (int64_t)get_u64(p + CKH_LASTCR);
  h->idem_size = get_u64(p + CKH_IDEMSZ);
  h->idem_used = get_u64(p + CKH_IDEMUSED);
  h->nsrc = get_u32(p + CKH_NSRC);
  h->ntyp = get_u32(p + CKH_NTYP);
  h->written_us = (int64_t)get_u64(p + CKH_WRITTEN);
  h->version = get_u32(p + CKH_VERSION);
}

/* Where the keys end: the leases section of v3, or the checksum. */
static size_t ckpt_keys_end(const uint8_t *p, const evs_ckpt_hdr *h) {
  size_t at = EVS_CK_HDR + h->n * EVS_CK_ENT;
  for (uint64_t i = 0; i < (uint64_t)h->nsrc + h->ntyp; i++) {
    uint32_t len = get_u32(p + at), cnt = get_u32(p + at + 4 + len);
    at += 8 + (size_t)len + 4 * (size_t)cnt;
  }
  return at + h->idem_size * 8;
}

void evs_ckpt_leases_get(const uint8_t *p, const evs_ckpt_hdr *h, evs_ckpt_leases *out) {
  size_t at = ckpt_keys_end(p, h);
  out->lease_seq = get_u64(p + at);
  out->ndead = get_u64(p + at + 8);
  out->nnames = get_u32(p + at + 16);
  out->nleases = get_u32(p + at + 20);
  out->names_at = at + 24;
  at += 24;
  for (uint32_t i = 0; i < out->nnames; i++) at += 2 + (size_t)get_u16(p + at);
  out->leases_at = at;
  at += (size_t)out->nleases * EVS_CK_LEASE;
  out->nkeys = get_u32(p + at);
  out->keys_at = at + 8;
}

/* The leases section from `at`, then the ordering keys to the checksum
** at n - 8. */
static int ckpt_check_leases(const uint8_t *p, size_t n, size_t at) {
  if (n - 8 < at || n - 8 - at < 24) return EVS_ECORRUPT;
  uint32_t nn = get_u32(p + at + 16), nl = get_u32(p + at + 20);
  at += 24;
  for (uint32_t i = 0; i < nn; i++) {
    if (n - 8 - at < 2) return EVS_ECORRUPT;
    uint16_t len = get_u16(p + at);
    if (!len || len > EVS_CONSUMER_MAX || n - 8 - at - 2 < len) return EVS_ECORRUPT;
    at += 2 + (size_t)len;
  }
  if ((n - 8 - at) / EVS_CK_LEASE < nl) return EVS_ECORRUPT;
  for (uint32_t i = 0; i < nl; i++) {
    const uint8_t *q = p + at + (size_t)i * EVS_CK_LEASE;
    if (!get_u64(q) || get_u32(q + 24) > nn || get_u32(q + 28)) return EVS_ECORRUPT;
  }
  at += (size_t)nl * EVS_CK_LEASE;
  if (n - 8 - at < 8 || get_u32(p + at + 4)) return EVS_ECORRUPT;
  uint32_t nk = get_u32(p + at);
  at += 8;
  for (uint32_t i = 0; i < nk; i++) {
    if (n - 8 - at < 14) return EVS_ECORRUPT;
    uint16_t len = get_u16(p + at);
    if (!len || len > EVS_MAX_ORDERING_KEY || n - 8 - at - 14 < len) return EVS_ECORRUPT;
    at += 2 + (size_t)len;
    uint32_t cnt = get_u32(p + at);
    at += 12;
    if (!cnt || (n - 8 - at) / 8 < cnt) return EVS_ECORRUPT;
    for (uint32_t k = 1; k < cnt; k++)
      if (get_u64(p + at + 8 * (size_t)k) <= get_u64(p + at + 8 * (size_t)(k - 1)))
        return EVS_ECORRUPT;
    at += (size_t)cnt * 8;
  }
  return at == n - 8 ? 0 : EVS_ECORRUPT;
}

/* Structure of the names section; *end is where the keys begin. */
static int ckpt_walk_names(const uint8_t *p, size_t n, size_t at, uint64_t count,
                           uint64_t nent, size_t *end) {
  for (uint64_t i = 0; i < count; i++) {
    if (n - at < 4) return EVS_ECORRUPT;
    uint32_t len = get_u32(p + at);
    at += 4;
    if (!len || len > EVS_MAX_NAME || n - at < (size_t)len + 4) return EVS_ECORRUPT;
    at += len;
    uint32_t cnt = get_u32(p + at);
    at += 4;
    if (n - at < (size_t)cnt * 4) return EVS_ECORRUPT;
    for (uint32_t k = 0; k < cnt; k++) {
      uint32_t rel = get_u32(p + at + 4 * (size_t)k);
      if (rel >= nent || (k && rel <= get_u32(p + at + 4 * (size_t)(k - 1))))
        return EVS_ECORRUPT;
    }
    at += (size_t)cnt * 4;
  }
  *end = at;
  return 0;
}

int evs_ckpt_check(const uint8_t *p, size_t n, const evs_ckpt_hdr *h) {
  size_t names_end = 0;
  if (h->n >= UINT32_MAX || h->idem_size < 1 || h->idem_size >= ((uint64_t)1 << 34) ||
      h->idem_used >= h->idem_size || (n - EVS_CK_HDR - 8) / EVS_CK_ENT < h->n ||
      ckpt_walk_names(p, n - 8, EVS_CK_HDR + h->n * EVS_CK_ENT, (uint64_t)h->nsrc + h->ntyp,
                      h->n, &names_end) ||
      n - 8 - names_end < h->idem_size * 8)
    return EVS_ECORRUPT;
  if (h->version != 3) return n - 8 - names_end != h->idem_size * 8 ? EVS_ECORRUPT : 0;
  return ckpt_check_leases(p, n, names_end + h->idem_size * 8);
}

void evs_ckpt_seal(uint8_t *p, size_t n) { put_u64(p + n - 8, XXH3_64bits(p, n - 8)); }

void evs_ckpt_ent_encode(const evs_ckpt_ent *e, uint8_t out[EVS_CK_ENT]) {
  put_u64(out, (uint64_t)e->created_us);
  put_u64(out + 8, (uint64_t)e->acked_us);
  put_u32(out + 16, e->off);
  put_u16(out + 20, e->slot);
  out[22] = e->flags;
  out[23] = e->deliveries;
}

void evs_ckpt_name_head(uint8_t *out, const char *name, uint32_t len) {
  put_u32(out, len);
  memcpy(out + 4, name, len);
}



/* ---- Lease records ------------------------------------------------------ */

uint32_t evs_lease_len(uint32_t clen, size_t n) {
  uint64_t len = EVS_LEASE_FIXED + (clen ? (uint64_t)clen + 1 : 0) + 8 * (uint64_t)n;
  return len > (1u << 30) ? 0 : (uint32_t)len;
}

void evs_lease_encode(uint8_t *out, const evs_lease_rec *l, const uint64_t *ids) {
  uint32_t len = evs_lease_len(l->consumer_len, l->count);
  memset(out + EVS_REC_HDR, 0, EVS_LEASE_FIXED - EVS_REC_HDR);
  out[16] = (uint8_t)l->op;
  put_u32(out + 20, l->count);
  put_u64(out + 24, (uint64_t)l->at_us);
  put_u64(out + 32, (uint64_t)l->until_us);
  put_u64(out + 40, l->token);
  put_u16(out + 48, (uint16_t)l->consumer_len);
  uint8_t *p = out + EVS_LEASE_FIXED;
  if (l->consumer_len) {
    memcpy(p, l->consumer, l->consumer_len);
    p[l->consumer_len] = 0;
    p += l->consumer_len + 1;
  }
  for (uint32_t i = 0; ids && i < l->count; i++) put_u64(p + 8 * (size_t)i, ids[i]);
  evs_rec_seal(out, len, EVS_REC_LEASE, 0);
}

void evs_lease_seal(uint8_t *out, const evs_lease_rec *l) {
  evs_rec_seal(out, evs_lease_len(l->consumer_len, l->count), EVS_REC_LEASE, 0);
}

int evs_lease_decode(const uint8_t *rec, uint32_t len, evs_lease_rec *l) {
  if (len < EVS_LEASE_FIXED) return EVS_ECORRUPT;
  l->op = rec[16];
  l->count = get_u32(rec + 20);
  l->at_us = (int64_t)get_u64(rec + 24);
  l->until_us = (int64_t)get_u64(rec + 32);
  l->token = get_u64(rec + 40);
  l->consumer_len = get_u16(rec + 48);
  l->consumer = NULL;
  if (l->op < EVS_LEASE_CLAIM || l->op > EVS_LEASE_SEQ || rec[17] || rec[18] || rec[19] ||
      (l->op == EVS_LEASE_SEQ && get_u32(rec + 20)) ||
      get_u16(rec + 50) || get_u32(rec + 52) || l->consumer_len > EVS_CONSUMER_MAX ||
      (l->op == EVS_LEASE_CLAIM) != (l->consumer_len > 0))
    return EVS_ECORRUPT;
  uint64_t at = EVS_LEASE_FIXED;
  if (l->consumer_len) {
    const char *c = (const char *)rec + at;
    if (at + l->consumer_len + 1 > len || c[l->consumer_len]) return EVS_ECORRUPT;
    l->consumer = c;
    at += l->consumer_len + 1;
  }
  if (at + 8 * (uint64_t)l->count != len) return EVS_ECORRUPT;
  l->ids = rec + at;
  return 0;
}
