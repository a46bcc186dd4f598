/*
** util.h: little-endian field access and small helpers shared by the
** library. On-disk integers are little-endian whatever the host is.
*/
#ifndef EVS_UTIL_H
#define EVS_UTIL_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The host's order is the disk's: one unaligned load or store each. */
static inline void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get_u16(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
static inline uint32_t get_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t get_u64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
#else
static inline void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t get_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}
#endif

#define EVS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define EVS_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Source and event_type are stored trimmed of these; filters are trimmed
** the same way so they find what was stored. */
/* A hash of an event id for the tables kept by id (leases, a
** transaction's overlay, ordering keys): murmur3's 64-bit finaliser, every
** bit mixed into the low ones the tables mask. Inline: it runs per lookup,
** where a call to XXH3 cost more than the lookup itself. */
static inline uint64_t evs_hash_id(uint64_t id) {
  id ^= id >> 33;
  id *= UINT64_C(0xff51afd7ed558ccd);
  id ^= id >> 33;
  id *= UINT64_C(0xc4ceb9fe1a85ec53);
  return id ^ (id >> 33);
}

static inline int evs_is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
static inline const char *evs_trim(const char *v, size_t *n) {
  size_t l = strlen(v);
  while (l && evs_is_space(v[l - 1])) l--;
  while (l && evs_is_space(*v)) v++, l--;
  *n = l;
  return v;
}

/* now - span without overflow (a caller's clock may return anything):
** the oldest time still inside a window of `span` µs ending at now. */
static inline int64_t evs_time_minus(int64_t now, int64_t span) {
  int64_t r;
  return __builtin_sub_overflow(now, span, &r) ? INT64_MIN : r;
}

/* Grow *buf (element size esz) to hold at least need elements. */
int evs_grow(void **buf, size_t *cap, size_t need, size_t esz);

#endif
