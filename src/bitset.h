/*
** bitset.h: a growable bitset with summary levels, so that "next set bit
** at or after i" costs O(log64 n) however many zero bits lie between.
** It holds the pending sets of the index.
**
** Concurrency: set/clear/reserve need exclusive access. Readers holding
** shared access may call next() and clear_shared() concurrently with each
** other (lazy removal of acked entries); clear_shared uses atomics.
*/
#ifndef EVS_BITSET_H
#define EVS_BITSET_H

#include <stddef.h>
#include <stdint.h>

#define EVS_BS_MAXLEV 8

typedef struct evs_bitset {
  uint64_t *lv[EVS_BS_MAXLEV]; /* lv[0] the bits; lv[k] one bit per word of lv[k-1] */
  size_t nw[EVS_BS_MAXLEV];    /* words per level */
  int nlev;
  uint64_t nbits; /* capacity */
} evs_bitset;

void evs_bs_free(evs_bitset *b);
/* Make room for bits [0, nbits); new bits are clear. 0 or EVS_ENOMEM. */
int evs_bs_reserve(evs_bitset *b, uint64_t nbits);
void evs_bs_set(evs_bitset *b, uint64_t i);
void evs_bs_clear(evs_bitset *b, uint64_t i);
void evs_bs_clear_shared(evs_bitset *b, uint64_t i);
int evs_bs_test(const evs_bitset *b, uint64_t i);
/* First set bit >= i, or UINT64_MAX when none. */
uint64_t evs_bs_next(const evs_bitset *b, uint64_t i);
/* First bit >= i set in a and clear in b, or UINT64_MAX: 64 bits of b
** passed per step. */
uint64_t evs_bs_next_andnot(const evs_bitset *a, const evs_bitset *b, uint64_t i);
/* Last set bit <= i, or UINT64_MAX when none. */
uint64_t evs_bs_prev(const evs_bitset *b, uint64_t i);
/* Drop the first nbits bits (a multiple of 64): bit i becomes bit
** i - nbits. Capacity stays. */
void evs_bs_drop_front(evs_bitset *b, uint64_t nbits);
/* Clear every bit (keeps capacity). */
void evs_bs_zero(evs_bitset *b);
size_t evs_bs_bytes(const evs_bitset *b);

#endif
