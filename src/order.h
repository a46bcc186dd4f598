/*
** order.h: ordering keys (order.c). Each key keeps the ids of its events
** oldest first, from the oldest not yet known settled; a map from event id
** to key tells a claim an event's key without reading its record. The
** head-of-line rule that uses them is the claim scan's (query.c).
*/
#ifndef EVS_ORDER_H
#define EVS_ORDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct evs_okey {
  uint64_t hash;
  uint64_t *ids;   /* ids[head..n): increasing */
  uint32_t head, n, cap;
  uint32_t len;    /* key bytes */
  uint64_t leased; /* the key's event claimed last (0: none): the only one
                      of the key a lease can be on (query.c) */
  char s[];        /* len bytes and a NUL */
} evs_okey;

typedef struct evs_okid {
  uint64_t id; /* 0 = empty slot */
  evs_okey *k;
} evs_okid;

typedef struct evs_okeys {
  evs_okey **keys;  /* open addressing by key hash */
  size_t kmask, kused;
  evs_okid *ids;    /* open addressing by id */
  size_t imask, iused;
} evs_okeys;

void evs_okeys_free(evs_okeys *o);
size_t evs_okeys_bytes(const evs_okeys *o);
/* Append event id (greater than every id of its key) to key k, creating
** the key. 0, or EVS_ENOMEM with nothing changed. */
int evs_okey_add(evs_okeys *o, uint64_t id, const char *k, size_t len);
/* The key of an event still listed, or NULL. */
evs_okey *evs_okey_of(const evs_okeys *o, uint64_t id);
evs_okey *evs_okey_find(const evs_okeys *o, const char *k, size_t len);
/* Undo evs_okey_add of id (the newest of its key): a rolled-back append. */
void evs_okey_unadd(evs_okeys *o, uint64_t id);
/* Drop ids[j] of k (head <= j < n), the ids before it moving up one; a key
** left with none is freed (k with it): returns 1 then. */
int evs_okey_drop(evs_okeys *o, evs_okey *k, uint32_t j);
/* Every key, for a walk: slot i of 0..kmask, NULL if empty. */
static inline evs_okey *evs_okey_slot(const evs_okeys *o, size_t i) {
  return o->keys && i <= o->kmask ? o->keys[i] : NULL;
}

#endif
