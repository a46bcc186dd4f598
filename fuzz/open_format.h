/*
** open_format.h: the input format of fuzz_open, shared with gen_corpus.
**
**   byte 0   flags
**              bits 0-1  number of segment files, 0..3
**              bit 2     fix checksums: recompute the meta checksum, each
**                        segment header's, and every record's (walking
**                        records by their len field), so mutations reach
**                        replay instead of stopping at a checksum
**              bit 3     fix chain: set each segment header's number, store
**                        id (from the meta) and previous size (the previous
**                        file's length) to what the files say
**              bit 4     the event appended after opening has a large,
**                        compressible payload
**              bit 5     page the inbox in pages of 7 (else 100)
**              bit 6     no meta file
**              bit 7     retention 1 day (clock at T0 + 12 h), else forever
**   byte 1   segment numbering: 0 -> 1,2,3  1 -> 2,3,4  2 -> fffe,ffff,10000
**            3 -> 1,2,4 (a gap)
**   u16      meta file length (little-endian)
**   u16      length of each segment file but the last
**   ...      the files' bytes in order: meta, segments; the last segment
**            takes whatever remains. Lengths are clipped to the input.
*/
#ifndef EVS_FUZZ_OPEN_FORMAT_H
#define EVS_FUZZ_OPEN_FORMAT_H

#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#define OF_NSEG(f) ((f)&3)
#define OF_FIXSUM 0x04
#define OF_FIXCHAIN 0x08
#define OF_BIGAPPEND 0x10
#define OF_SMALLPAGE 0x20
#define OF_NOMETA 0x40
#define OF_RETENTION 0x80

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

/* Segment header fields (see docs/FORMAT.md); n is the file's length. */
static inline void of_fix_seg_chain(uint8_t *g, size_t n, uint64_t no,
                                    uint64_t store_id, uint64_t prev_size) {
  if (n < 48) return;
  of_put64(g + 16, no);
  of_put64(g + 24, store_id);
  of_put64(g + 40, prev_size);
}

static inline void of_fix_seg_sums(uint8_t *g, size_t n) {
  if (n < 64) return;
  of_put64(g + 56, XXH3_64bits(g, 56));
  for (size_t pos = 64; pos + 16 <= n;) {
    uint32_t len = of_get32(g + pos + 8);
    if (len < 16 || len > n - pos) break;
    of_put64(g + pos, XXH3_64bits(g + pos + 8, len - 8));
    pos += len;
  }
}

#endif
