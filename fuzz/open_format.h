/*
** open_format.h: the input format of fuzz_open, shared with gen_corpus.
**
**   byte 0   flags
**              bits 0-1  number of segment files, 0..3
**              bit 2     fix checksums: recompute the meta checksum, each
**                        segment header's, every record's (walking
**                        records by their len field) and a manifest's
**                        from the input, so mutations reach replay
**                        instead of stopping at a checksum
**              bit 3     fix chain: set each segment header's number, store
**                        id (from the meta) and first id (the id of the
**                        first event record found walking the segment;
**                        without one, the previous segment's first id, 1
**                        for the first) to what the files say
**              bit 4     the event appended after opening has a large,
**                        compressible payload
**              bit 5     page the inbox in pages of 7 (else 100)
**              bit 6     no meta file
**              bit 7     retention 1 day (clock at T0 + 12 h), else forever
**   byte 1   bits 0-1  segment numbering: 0 -> 1,2,3  1 -> 2,3,4
**                      2 -> fffe,ffff,10000  3 -> 1,2,4 (a gap, as
**                      compaction leaves)
**            bits 2-3  the manifest (evstore.manifest):
**                      0  synthesised: the segment files in order, each
**                         sealed at its length but the last (size 0),
**                         the meta's store id, generation = the number of
**                         segments, layout 0, a correct checksum
**                      1  from the input (bit 2 fixes its checksum)
**                      2  none
**                      3  synthesised as 0 but without the last segment
**                         file, which is then an orphan (a roll that
**                         crashed before its manifest); the one before it
**                         is the open one
**   u16      meta file length (little-endian)
**   u16      length of each segment file but the last
**   u16      manifest length, in manifest mode 1 only
**   ...      the files' bytes in order: meta, manifest (mode 1), segments;
**            the last segment takes whatever remains. Lengths are clipped
**            to the input.
**
** Versions, magics and the manifest layout come from src/codec.h, so a
** synthesised manifest is always of the library's format.
*/
#ifndef EVS_FUZZ_OPEN_FORMAT_H
#define EVS_FUZZ_OPEN_FORMAT_H

#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"

#define OF_NSEG(f) ((f)&3)
#define OF_FIXSUM 0x04
#define OF_FIXCHAIN 0x08
#define OF_BIGAPPEND 0x10
#define OF_SMALLPAGE 0x20
#define OF_NOMETA 0x40
#define OF_RETENTION 0x80

/* Byte 1. */
#define OF_NUMBERING(b) ((b)&3)
#define OF_MAN(b) ((b) >> 2 & 3)
#define OF_MAN_SYNTH 0
#define OF_MAN_INPUT 1
#define OF_MAN_NONE 2
#define OF_MAN_ORPHAN 3
#define OF_LAYOUT(numbering, man) ((uint8_t)((numbering) | (man) << 2))

#define OF_T0 1700000000000000LL /* the generator's clock starts here */

static inline uint64_t of_get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static inline uint32_t of_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline void of_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void of_put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Segment file numbers for numbering mode m (0..3), segment i (0..2). */
static inline uint64_t of_segno(unsigned m, unsigned i) {
  static const uint64_t first[4] = {1, 2, 0xfffe, 1};
  if (m == 3 && i == 2) return 4;
  return first[m & 3] + i;
}

static inline void of_fix_meta_sum(uint8_t *m, size_t n) {
  if (n == 64) of_put64(m + 56, XXH3_64bits(m, 56));
}

/* Id of the first event record met walking the records of segment g (n
** bytes) by their len field, or 0 when there is none. */
static inline uint64_t of_seg_first_event(const uint8_t *g, size_t n) {
  for (size_t pos = EVS_SEG_HDR; pos + EVS_REC_HDR <= n;) {
    uint32_t len = of_get32(g + pos + 8);
    if (len < EVS_REC_HDR || len > n - pos) break;
    if (g[pos + 12] == EVS_REC_EVENT && len >= EVS_REC_HDR + 8)
      return of_get64(g + pos + EVS_REC_HDR);
    pos += len;
  }
  return 0;
}

/* Segment header fields (see docs/FORMAT.md); n is the file's length. */
static inline void of_fix_seg_chain(uint8_t *g, size_t n, uint64_t no,
                                    uint64_t store_id, uint64_t first_id) {
  if (n < 48) return;
  of_put64(g + 16, no);
  of_put64(g + 24, store_id);
  of_put64(g + 40, first_id);
}

static inline void of_fix_seg_sums(uint8_t *g, size_t n) {
  if (n < EVS_SEG_HDR) return;
  of_put64(g + 56, XXH3_64bits(g, 56));
  for (size_t pos = EVS_SEG_HDR; pos + EVS_REC_HDR <= n;) {
    uint32_t len = of_get32(g + pos + 8);
    if (len < EVS_REC_HDR || len > n - pos) break;
    of_put64(g + pos, XXH3_64bits(g + pos + 8, len - 8));
    pos += len;
  }
}

/* The manifest's checksum covers everything before it. */
static inline void of_fix_manifest_sum(uint8_t *m, size_t n) {
  if (n >= 8) of_put64(m + n - 8, XXH3_64bits(m, n - 8));
}

/* Encode a manifest listing segment files no[0..count) with sizes sz
** (0 for the last) into out, which has evs_manifest_len(count) bytes. */
static inline void of_manifest(uint8_t *out, uint64_t store_id, uint32_t count,
                               const uint64_t *no, const uint64_t *sz) {
  memcpy(out, EVS_MANIFEST_MAGIC, 8);
  of_put32(out + 8, EVS_FORMAT_VERSION);
  of_put32(out + 12, count);
  of_put64(out + 16, store_id);
  of_put64(out + 24, count); /* generation: one per segment started */
  of_put64(out + 32, 0);     /* layout: never compacted */
  for (uint32_t i = 0; i < count; i++) {
    of_put64(out + EVS_MANIFEST_HDR + 16 * i, no[i]);
    of_put64(out + EVS_MANIFEST_HDR + 16 * i + 8, i + 1 < count ? sz[i] : 0);
  }
  of_fix_manifest_sum(out, EVS_MANIFEST_HDR + 16 * (size_t)count + 8);
}

#endif
