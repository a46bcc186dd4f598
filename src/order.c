/*
** order.c: ordering keys, the data structure (order.h): keys interned by
** hash, each with its events' ids in order, and the id -> key map. Both
** tables use open addressing with backward-shift deletion, so a key whose
** events are all settled goes away and the tables stay as small as the
** keys in use.
*/
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "order.h"
#include "util.h"

static size_t id_home(uint64_t id, size_t mask) {
  return (size_t)(evs_hash_id(id) & mask);
}

void evs_okeys_free(evs_okeys *o) {
  for (size_t i = 0; o->keys && i <= o->kmask; i++)
    if (o->keys[i]) {
      free(o->keys[i]->ids);
      free(o->keys[i]);
    }
  free(o->keys);
  free(o->ids);
  memset(o, 0, sizeof *o);
}

size_t evs_okeys_bytes(const evs_okeys *o) {
  size_t b = 0;
  if (o->keys) b += (o->kmask + 1) * sizeof *o->keys;
  if (o->ids) b += (o->imask + 1) * sizeof *o->ids;
  for (size_t i = 0; o->keys && i <= o->kmask; i++)
    if (o->keys[i]) b += sizeof *o->keys[i] + o->keys[i]->len + 1 + o->keys[i]->cap * 8;
  return b;
}

evs_okey *evs_okey_find(const evs_okeys *o, const char *k, size_t len) {
  if (!o->kused) return NULL;
  uint64_t h = XXH3_64bits(k, len);
  for (size_t i = h & o->kmask;; i = (i + 1) & o->kmask) {
    evs_okey *x = o->keys[i];
    if (!x) return NULL;
    if (x->hash == h && x->len == len && !memcmp(x->s, k, len)) return x;
  }
}

evs_okey *evs_okey_of(const evs_okeys *o, uint64_t id) {
  if (!o->iused) return NULL;
  for (size_t i = id_home(id, o->imask);; i = (i + 1) & o->imask) {
    if (!o->ids[i].id) return NULL;
    if (o->ids[i].id == id) return o->ids[i].k;
  }
}

/* Room for one more entry in each table (load at most 1/2). */
static int reserve(evs_okeys *o) {
  if (!o->keys || 2 * (o->kused + 1) > o->kmask + 1) {
    size_t nm = o->keys ? 2 * o->kmask + 1 : 15;
    evs_okey **t = calloc(nm + 1, sizeof *t);
    if (!t) return EVS_ENOMEM;
    for (size_t i = 0; o->keys && i <= o->kmask; i++) {
      evs_okey *x = o->keys[i];
      if (!x) continue;
      size_t j = x->hash & nm;
      while (t[j]) j = (j + 1) & nm;
      t[j] = x;
    }
    free(o->keys);
    o->keys = t;
    o->kmask = nm;
  }
  if (!o->ids || 2 * (o->iused + 1) > o->imask + 1) {
    size_t nm = o->ids ? 2 * o->imask + 1 : 63;
    evs_okid *t = calloc(nm + 1, sizeof *t);
    if (!t) return EVS_ENOMEM;
    for (size_t i = 0; o->ids && i <= o->imask; i++) {
      if (!o->ids[i].id) continue;
      size_t j = id_home(o->ids[i].id, nm);
      while (t[j].id) j = (j + 1) & nm;
      t[j] = o->ids[i];
    }
    free(o->ids);
    o->ids = t;
    o->imask = nm;
  }
  return 0;
}

int evs_okey_add(evs_okeys *o, uint64_t id, const char *k, size_t len) {
  if (reserve(o)) return EVS_ENOMEM;
  evs_okey *x = evs_okey_find(o, k, len);
  int fresh = !x;
  if (fresh) {
    if (!(x = calloc(1, sizeof *x + len + 1))) return EVS_ENOMEM;
    x->hash = XXH3_64bits(k, len);
    x->len = (uint32_t)len;
    memcpy(x->s, k, len);
  }
  if (x->n == x->cap) {
    /* Slide the live ids to the front before growing. */
    if (x->head) {
      memmove(x->ids, x->ids + x->head, (x->n - x->head) * sizeof *x->ids);
      x->n -= x->head;
      x->head = 0;
    }
    if (x->n == x->cap) {
      size_t cap = x->cap;
      if (evs_grow((void **)&x->ids, &cap, (size_t)x->n + 1, sizeof *x->ids) ||
          cap > UINT32_MAX) {
        if (fresh) free(x);
        return EVS_ENOMEM;
      }
      x->cap = (uint32_t)cap;
    }
  }
  x->ids[x->n++] = id;
  if (fresh) {
    size_t j = x->hash & o->kmask;
    while (o->keys[j]) j = (j + 1) & o->kmask;
    o->keys[j] = x;
    o->kused++;
  }
  size_t j = id_home(id, o->imask);
  while (o->ids[j].id) j = (j + 1) & o->imask;
  o->ids[j] = (evs_okid){id, x};
  o->iused++;
  return 0;
}

static void evs_okey_unmap(evs_okeys *o, uint64_t id) {
  size_t i = id_home(id, o->imask);
  while (o->ids[i].id != id) {
    if (!o->ids[i].id) return;
    i = (i + 1) & o->imask;
  }
  /* Backward shift: move later entries of the run into the hole. */
  for (size_t j = (i + 1) & o->imask; o->ids[j].id; j = (j + 1) & o->imask) {
    size_t h = id_home(o->ids[j].id, o->imask);
    if (((j - h) & o->imask) >= ((j - i) & o->imask)) {
      o->ids[i] = o->ids[j];
      i = j;
    }
  }
  o->ids[i].id = 0;
  o->ids[i].k = NULL;
  o->iused--;
}

static void key_del(evs_okeys *o, evs_okey *x) {
  size_t i = x->hash & o->kmask;
  while (o->keys[i] != x) i = (i + 1) & o->kmask;
  for (size_t j = (i + 1) & o->kmask; o->keys[j]; j = (j + 1) & o->kmask) {
    size_t h = o->keys[j]->hash & o->kmask;
    if (((j - h) & o->kmask) >= ((j - i) & o->kmask)) {
      o->keys[i] = o->keys[j];
      i = j;
    }
  }
  o->keys[i] = NULL;
  o->kused--;
  free(x->ids);
  free(x);
}

int evs_okey_drop(evs_okeys *o, evs_okey *k, uint32_t j) {
  evs_okey_unmap(o, k->ids[j]);
  memmove(k->ids + k->head + 1, k->ids + k->head, (size_t)(j - k->head) * sizeof *k->ids);
  if (++k->head < k->n) return 0;
  key_del(o, k);
  return 1;
}

void evs_okey_unadd(evs_okeys *o, uint64_t id) {
  evs_okey *k = evs_okey_of(o, id);
  if (!k || k->n == k->head || k->ids[k->n - 1] != id) return;
  evs_okey_unmap(o, id);
  k->n--;
  if (k->leased == id) k->leased = 0;
  if (k->head == k->n) key_del(o, k);
}
