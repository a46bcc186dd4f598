/*
** text.h: the library's one UTF-8 decoder and encoder, shared by JSON
** validation (json.c), event validation (txn.c) and, through the public
** evs_utf8_next, the CLI. Times and durations are public only (text.c).
*/
#ifndef EVS_TEXT_H
#define EVS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (n > 0 bytes left), or 0;
** *cp gets its code point. Second-byte ranges follow Unicode table 3-7
** (RFC 3629 section 4): no overlongs (E0 80..9F, F0 80..8F), no UTF-16
** surrogates (ED A0..BF), nothing past U+10FFFF (F4 90..); C0, C1 and
** F5..FF never start a sequence. Inline: JSON validation calls it for
** every non-ASCII byte of every payload. */
static inline size_t evs_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp) {
  unsigned c = p[0];
  unsigned lo = 0x80, hi = 0xbf;
  size_t len;
  uint32_t v;
  if (c < 0x80) return *cp = c, 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, v = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, v = c & 0x0f;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, v = c & 0x07;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 1; i < len; i++) {
    if (i > 1 && (p[i] & 0xc0) != 0x80) return 0;
    v = v << 6 | (p[i] & 0x3f);
  }
  *cp = v;
  return len;
}

/* Write code point cp (at most U+10FFFF, not a surrogate) as UTF-8 at o
** (room for 4 bytes). Returns the number of bytes written. */
size_t evs_utf8_put(unsigned char *o, uint32_t cp);

#endif
