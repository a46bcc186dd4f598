/*
** bitset.c: the summary-level bitset behind the pending sets.
** Invariant: bit j of lv[k] is set iff word j of lv[k-1] is non-zero.
*/
#include <stdlib.h>
#include <string.h>

#include "bitset.h"
#include "evstore.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void evs_bs_free(evs_bitset *b) {
  for (int k = 0; k < EVS_BS_MAXLEV; k++) free(b->lv[k]);
  memset(b, 0, sizeof *b);
}

int evs_bs_reserve(evs_bitset *b, uint64_t nbits) {
  if (nbits <= b->nbits) return 0;
  uint64_t cap = b->nbits ? b->nbits : 4096;
  while (cap < nbits) cap *= 2;
  size_t words = (size_t)((cap + 63) / 64);
  int k = 0;
  for (;;) {
    if (k == EVS_BS_MAXLEV) return EVS_ENOMEM;
    if (words > b->nw[k]) {
      uint64_t *p = realloc(b->lv[k], words * sizeof *p);
      if (!p) return EVS_ENOMEM;
      memset(p + b->nw[k], 0, (words - b->nw[k]) * sizeof *p);
      b->lv[k] = p;
      b->nw[k] = words;
    }
    k++;
    if (words == 1) break;
    words = (words + 63) / 64;
  }
  /* A new top level must summarise the level below it. */
  for (int j = b->nlev ? b->nlev : 1; j < k; j++) {
    memset(b->lv[j], 0, b->nw[j] * sizeof(uint64_t));
    for (size_t w = 0; w < b->nw[j - 1]; w++)
      if (b->lv[j - 1][w]) b->lv[j][w >> 6] |= 1ULL << (w & 63);
  }
  b->nlev = k;
  b->nbits = cap;
  return 0;
}

void evs_bs_set(evs_bitset *b, uint64_t i) {
  for (int k = 0; k < b->nlev; k++) {
    uint64_t *w = &b->lv[k][i >> 6];
    int was_zero = *w == 0;
    *w |= 1ULL << (i & 63);
    if (!was_zero) return;
    i >>= 6;
  }
}

void evs_bs_clear(evs_bitset *b, uint64_t i) {
  for (int k = 0; k < b->nlev; k++) {
    uint64_t *w = &b->lv[k][i >> 6];
    *w &= ~(1ULL << (i & 63));
    if (*w) return;
    i >>= 6;
  }
}

void evs_bs_clear_shared(evs_bitset *b, uint64_t i) {
  for (int k = 0; k < b->nlev; k++) {
    uint64_t m = 1ULL << (i & 63);
    uint64_t old = __atomic_fetch_and(&b->lv[k][i >> 6], ~m, __ATOMIC_RELAXED);
    /* Only the reader that turns the word to zero clears the summary. */
    if (!(old & m) || (old & ~m)) return;
    i >>= 6;
  }
}

int evs_bs_test(const evs_bitset *b, uint64_t i) {
  if (i >= b->nbits) return 0;
  return (LOAD(&b->lv[0][i >> 6]) >> (i & 63)) & 1;
}

uint64_t evs_bs_next_andnot(const evs_bitset *a, const evs_bitset *b, uint64_t i) {
  for (;;) {
    uint64_t r = evs_bs_next(a, i);
    if (r == UINT64_MAX) return r;
    size_t wi = (size_t)(r >> 6);
    uint64_t w = LOAD(&a->lv[0][wi]) & (~0ULL << (r & 63));
    if (wi < b->nw[0]) w &= ~LOAD(&b->lv[0][wi]);
    if (w) return ((uint64_t)wi << 6) | (uint64_t)__builtin_ctzll(w);
    i = (uint64_t)(wi + 1) << 6; /* a word of a wholly in b: the next */
  }
}

uint64_t evs_bs_next(const evs_bitset *b, uint64_t i) {
again:
  if (i >= b->nbits) return UINT64_MAX;
  uint64_t p = i;
  for (int k = 0; k < b->nlev; k++) {
    size_t wi = (size_t)(p >> 6);
    if (wi >= b->nw[k]) return UINT64_MAX;
    uint64_t w = LOAD(&b->lv[k][wi]) & (~0ULL << (p & 63));
    if (k == b->nlev - 1) {
      /* Top level: scan its few words. */
      while (!w && ++wi < b->nw[k]) w = LOAD(&b->lv[k][wi]);
      if (!w) return UINT64_MAX;
    }
    if (w) {
      uint64_t q = ((uint64_t)wi << 6) | (uint64_t)__builtin_ctzll(w);
      for (int j = k - 1; j >= 0; j--) {
        uint64_t x = LOAD(&b->lv[j][q]);
        /* A concurrent lazy clear emptied this word: search past it. */
        if (!x) {
          i = (q + 1) << (6 * (j + 1));
          goto again;
        }
        q = (q << 6) | (uint64_t)__builtin_ctzll(x);
      }
      return q;
    }
    p = (uint64_t)wi + 1;
  }
  return UINT64_MAX;
}

uint64_t evs_bs_prev(const evs_bitset *b, uint64_t i) {
again:
  if (!b->nbits) return UINT64_MAX;
  if (i >= b->nbits) i = b->nbits - 1;
  uint64_t p = i;
  for (int k = 0; k < b->nlev; k++) {
    size_t wi = (size_t)(p >> 6);
    unsigned bit = (unsigned)(p & 63);
    uint64_t w = LOAD(&b->lv[k][wi]) & (bit == 63 ? ~0ULL : (2ULL << bit) - 1);
    if (k == b->nlev - 1) {
      while (!w && wi > 0) w = LOAD(&b->lv[k][--wi]);
      if (!w) return UINT64_MAX;
    }
    if (w) {
      uint64_t q = ((uint64_t)wi << 6) | (uint64_t)(63 - __builtin_clzll(w));
      for (int j = k - 1; j >= 0; j--) {
        uint64_t x = LOAD(&b->lv[j][q]);
        /* A concurrent lazy clear emptied this word: search before it. */
        if (!x) {
          if (!q) return UINT64_MAX;
          i = (q << (6 * (j + 1))) - 1;
          goto again;
        }
        q = (q << 6) | (uint64_t)(63 - __builtin_clzll(x));
      }
      return q;
    }
    if (!wi) return UINT64_MAX;
    p = (uint64_t)wi - 1;
  }
  return UINT64_MAX;
}

void evs_bs_zero(evs_bitset *b) {
  for (int k = 0; k < b->nlev; k++)
    memset(b->lv[k], 0, b->nw[k] * sizeof(uint64_t));
}

size_t evs_bs_bytes(const evs_bitset *b) {
  size_t n = 0;
  for (int k = 0; k < b->nlev; k++) n += b->nw[k] * sizeof(uint64_t);
  return n;
}

void evs_bs_drop_front(evs_bitset *b, uint64_t nbits) {
  size_t dw = (size_t)(nbits / 64);
  if (!dw || !b->nlev) return;
  if (dw > b->nw[0]) dw = b->nw[0];
  memmove(b->lv[0], b->lv[0] + dw, (b->nw[0] - dw) * sizeof(uint64_t));
  memset(b->lv[0] + b->nw[0] - dw, 0, dw * sizeof(uint64_t));
  for (int j = 1; j < b->nlev; j++) {
    memset(b->lv[j], 0, b->nw[j] * sizeof(uint64_t));
    for (size_t w = 0; w < b->nw[j - 1]; w++)
      if (b->lv[j - 1][w]) b->lv[j][w >> 6] |= 1ULL << (w & 63);
  }
}
