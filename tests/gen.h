/*
** gen.h: seeded event content for the durability tests (crash, power
** loss, faults). The same seed always yields the same bytes, so a test can
** regenerate what an operation wrote and compare it with what a reopened
** store returns.
*/
#ifndef EVS_TEST_GEN_H
#define EVS_TEST_GEN_H

#include <evstore.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64's finaliser: a good 64-bit mix for seeds and derived bits. */
static inline uint64_t mix64(uint64_t x) {
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

typedef struct gen_ev {
  char source[16], type[16], key[40], meta[96];
  int has_key, has_meta, prio;
  char *payload; /* malloc'd */
  size_t plen;
} gen_ev;

/* payload = {"s":<seed>,"d":"<len pseudo-random letters from h>"} */
static inline void gen_payload(gen_ev *g, uint64_t seed, uint64_t h, size_t len) {
  g->payload = malloc(len + 64);
  if (!g->payload) abort();
  size_t k = (size_t)sprintf(g->payload, "{\"s\":%" PRIu64 ",\"d\":\"", seed);
  uint64_t x = h | 1;
  for (size_t j = 0; j < len; j++) {
    if (j % 8 == 0) x = mix64(x);
    g->payload[k++] = "abcdefghijklmnopqrstuvwxyz012345"[(x >> (8 * (j % 8))) & 31];
  }
  g->payload[k++] = '"';
  g->payload[k++] = '}';
  g->payload[k] = 0;
  g->plen = k;
}

static inline evs_event_in gen_in(const gen_ev *g) {
  evs_event_in in;
  memset(&in, 0, sizeof in);
  in.source = g->source;
  in.event_type = g->type;
  in.payload = g->payload;
  in.payload_len = g->plen;
  in.metadata = g->has_meta ? g->meta : NULL;
  in.idempotency_key = g->has_key ? g->key : NULL;
  in.priority = g->prio;
  return in;
}

/* How a stored event differs from g: 0 when it does not, else a mask of
** 1 payload, 2 source or type, 4 priority, 8 idempotency key, 16 metadata. */
static inline int gen_diff(const evs_event *e, const gen_ev *g) {
  int bad = 0;
  if (e->payload_len != g->plen || memcmp(e->payload, g->payload, g->plen)) bad |= 1;
  if (strcmp(e->source, g->source) || strcmp(e->event_type, g->type)) bad |= 2;
  if (e->priority != g->prio) bad |= 4;
  if (g->has_key ? !e->idempotency_key || strcmp(e->idempotency_key, g->key)
                 : e->idempotency_key != NULL)
    bad |= 8;
  if (g->has_meta ? !e->metadata || strcmp(e->metadata, g->meta) : e->metadata != NULL)
    bad |= 16;
  return bad;
}

#endif
