/*
** index.c: the in-memory index. Entries by id (dense, chunked array),
** the pending bitset, per-source and per-type pending lists, interned
** names, and the idempotency hash table. No I/O happens here; callers
** hold the locks described in store.h.
*/
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "index.h"
#include "store.h"
#include "util.h"

int evs_index_init(evs_index *x) {
  memset(x, 0, sizeof *x);
  x->base = 1;
  x->idem_size = 1024;
  x->idem = calloc(x->idem_size, sizeof *x->idem);
  if (!x->idem) return EVS_ENOMEM;
  return 0;
}

static void names_free(evs_names *t) {
  for (size_t i = 0; t->tab && i <= t->mask; i++) {
    evs_name *n = t->tab[i];
    if (!n) continue;
    free(n->s);
    free(n->list.rel);
    evs_bs_free(&n->list.live);
    free(n);
  }
  free(t->tab);
  memset(t, 0, sizeof *t);
}

/* ---- Leases ------------------------------------------------------------ */

static size_t lease_home(const evs_leases *l, uint64_t id) {
  return (size_t)(evs_hash_id(id) & l->mask);
}

evs_lease *evs_lease_find(const evs_leases *l, uint64_t id) {
  if (!l->tab) return NULL;
  for (size_t i = lease_home(l, id);; i = (i + 1) & l->mask) {
    if (l->tab[i].id == id) return &l->tab[i];
    if (!l->tab[i].id) return NULL;
  }
}

static int lease_grow(evs_leases *l) {
  size_t n = l->tab ? (l->mask + 1) * 2 : 64;
  evs_lease *t = calloc(n, sizeof *t);
  if (!t) return EVS_ENOMEM;
  evs_leases nl = {.tab = t, .mask = n - 1};
  for (size_t i = 0; l->tab && i <= l->mask; i++) {
    if (!l->tab[i].id) continue;
    size_t k = lease_home(&nl, l->tab[i].id);
    while (t[k].id) k = (k + 1) & nl.mask;
    t[k] = l->tab[i];
  }
  free(l->tab);
  l->tab = t;
  l->mask = n - 1;
  return 0;
}

int evs_leases_reserve(evs_leases *l, size_t n) {
  while (!l->tab || (l->used + n + 1) * 4 > (l->mask + 1) * 3)
    if (lease_grow(l)) return EVS_ENOMEM;
  return evs_grow((void **)&l->ends, &l->ends_cap, l->nends + n, sizeof *l->ends);
}

/* ---- Lease ends: a binary min-heap by until_us ------------------------- */

static int end_before(const evs_lease_end *a, const evs_lease_end *b) {
  return a->until_us < b->until_us;
}

static void ends_down(evs_leases *l, size_t i) {
  for (;;) {
    size_t c = 2 * i + 1, m = i;
    if (c < l->nends && end_before(&l->ends[c], &l->ends[m])) m = c;
    if (c + 1 < l->nends && end_before(&l->ends[c + 1], &l->ends[m])) m = c + 1;
    if (m == i) return;
    evs_lease_end t = l->ends[i];
    l->ends[i] = l->ends[m];
    l->ends[m] = t;
    i = m;
  }
}

int evs_lease_held(evs_index *x, uint64_t id, int64_t until_us) {
  evs_leases *l = &x->leases;
  if (evs_grow((void **)&l->ends, &l->ends_cap, l->nends + 1, sizeof *l->ends))
    return EVS_ENOMEM;
  if (id >= x->base && id - x->base < x->n) evs_bs_clear(&x->ready, id - x->base);
  size_t i = l->nends++;
  l->ends[i] = (evs_lease_end){until_us, id};
  while (i && end_before(&l->ends[i], &l->ends[(i - 1) / 2])) {
    evs_lease_end t = l->ends[i];
    l->ends[i] = l->ends[(i - 1) / 2];
    l->ends[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
  return 0;
}

void evs_leases_expire(evs_index *x, int64_t now, uint32_t max_deliveries) {
  evs_leases *l = &x->leases;
  while (l->nends && l->ends[0].until_us <= now) {
    evs_lease_end e = l->ends[0];
    l->ends[0] = l->ends[--l->nends];
    ends_down(l, 0);
    const evs_lease *le = evs_lease_find(l, e.id);
    /* Settled, or held longer (its later end is queued). */
    if (!le || le->until_us > now || e.id < x->base || e.id - x->base >= x->n) continue;
    uint64_t rel = e.id - x->base;
    if (!evs_bs_test(&x->pending, rel)) continue;
    evs_bs_set(&x->ready, rel);
    /* Its last delivery ran out: dead, its key's next may go. */
    const evs_ent *en = evs_ent_at(x, rel);
    evs_okey *k = x->okeys.iused && en->pad >= max_deliveries ? evs_okey_of(&x->okeys, e.id) : NULL;
    if (k) evs_key_wake(x, k, e.id);
  }
  /* Renewals and settled leases leave stale ends: rebuild from the table
  ** when they outnumber the live ones. */
  if (l->nends > 2 * l->used + 1024) {
    size_t n = 0;
    for (size_t i = 0; l->tab && i <= l->mask; i++)
      if (l->tab[i].id && l->tab[i].until_us > now)
        l->ends[n++] = (evs_lease_end){l->tab[i].until_us, l->tab[i].id};
    l->nends = n;
    for (size_t i = n / 2; i-- > 0;) ends_down(l, i);
  }
}

int evs_lease_set(evs_leases *l, uint64_t id, uint32_t consumer, uint64_t token,
                  int64_t until_us) {
  evs_lease *e = evs_lease_find(l, id);
  if (!e) {
    if ((!l->tab || (l->used + 1) * 4 > (l->mask + 1) * 3) && lease_grow(l)) return EVS_ENOMEM;
    size_t i = lease_home(l, id);
    while (l->tab[i].id) i = (i + 1) & l->mask;
    e = &l->tab[i];
    e->id = id;
    l->used++;
  }
  e->consumer = consumer;
  e->token = token;
  e->until_us = until_us;
  return 0;
}

void evs_lease_del(evs_leases *l, uint64_t id) {
  if (!l->tab) return;
  size_t i = lease_home(l, id);
  while (l->tab[i].id != id) {
    if (!l->tab[i].id) return;
    i = (i + 1) & l->mask;
  }
  /* Backward shift: move later members of the run into the hole when
  ** their home does not lie between the hole and them. */
  for (size_t j = (i + 1) & l->mask; l->tab[j].id; j = (j + 1) & l->mask) {
    size_t h = lease_home(l, l->tab[j].id);
    if (((j - h) & l->mask) >= ((j - i) & l->mask)) {
      l->tab[i] = l->tab[j];
      i = j;
    }
  }
  memset(&l->tab[i], 0, sizeof l->tab[i]);
  l->used--;
}

int evs_consumer_intern(evs_leases *l, const char *name, size_t len, uint32_t *out) {
  for (size_t i = 0; i < l->nnames; i++)
    if (strlen(l->names[i]) == len && !memcmp(l->names[i], name, len)) {
      *out = (uint32_t)i + 1;
      return 0;
    }
  char *c = malloc(len + 1);
  if (!c || evs_grow((void **)&l->names, &l->names_cap, l->nnames + 1, sizeof *l->names)) {
    free(c);
    return EVS_ENOMEM;
  }
  memcpy(c, name, len);
  c[len] = 0;
  l->names[l->nnames++] = c;
  *out = (uint32_t)l->nnames;
  return 0;
}

static void leases_free(evs_leases *l) {
  for (size_t i = 0; i < l->nnames; i++) free(l->names[i]);
  free(l->names);
  free(l->tab);
  free(l->ends);
}

void evs_index_free(evs_index *x) {
  leases_free(&x->leases);
  for (size_t i = 0; i < x->nchunks; i++) free(x->chunks[i]);
  free(x->chunks);
  evs_bs_free(&x->pending);
  evs_bs_free(&x->ready);
  evs_bs_free(&x->kheld);
  names_free(&x->sources);
  names_free(&x->types);
  free(x->idem);
  evs_okeys_free(&x->okeys);
  memset(x, 0, sizeof *x);
}

static size_t names_bytes(const evs_names *t) {
  size_t b = (t->mask + 1) * sizeof(void *);
  for (size_t i = 0; t->tab && i <= t->mask; i++) {
    const evs_name *n = t->tab[i];
    if (n)
      b += sizeof *n + n->len + 1 + n->list.cap * sizeof(uint32_t) +
           evs_bs_bytes(&n->list.live);
  }
  return t->tab ? b : 0;
}

size_t evs_index_bytes(const evs_index *x) {
  return sizeof *x + x->nchunks * (ENT_CHUNK * sizeof(evs_ent)) +
         x->chunks_cap * sizeof(void *) + evs_bs_bytes(&x->pending) + evs_bs_bytes(&x->ready) + evs_bs_bytes(&x->kheld) +
         x->leases.ends_cap * sizeof(evs_lease_end) +
         names_bytes(&x->sources) + names_bytes(&x->types) +
         x->idem_size * sizeof(evs_idem_slot) + evs_okeys_bytes(&x->okeys);
}

evs_name *evs_names_find(const evs_names *t, const char *s, size_t len) {
  if (!t->tab) return NULL;
  uint64_t h = XXH3_64bits(s, len);
  for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
    evs_name *n = t->tab[i];
    if (!n) return NULL;
    if (n->hash == h && n->len == len && !memcmp(n->s, s, len)) return n;
  }
}

static int names_grow(evs_names *t) {
  size_t nm = t->tab ? t->mask * 2 + 1 : 63;
  evs_name **nt = calloc(nm + 1, sizeof *nt);
  if (!nt) return EVS_ENOMEM;
  for (size_t i = 0; t->tab && i <= t->mask; i++) {
    evs_name *n = t->tab[i];
    if (!n) continue;
    size_t j = n->hash & nm;
    while (nt[j]) j = (j + 1) & nm;
    nt[j] = n;
  }
  free(t->tab);
  t->tab = nt;
  t->mask = nm;
  return 0;
}

static evs_name *names_get(evs_names *t, const char *s, size_t len) {
  evs_name *n = evs_names_find(t, s, len);
  if (n) return n;
  if (!t->tab || (t->used + 1) * 10 > (t->mask + 1) * 7)
    if (names_grow(t)) return NULL;
  n = calloc(1, sizeof *n);
  if (!n || !(n->s = malloc(len + 1))) {
    free(n);
    return NULL;
  }
  memcpy(n->s, s, len);
  n->s[len] = 0;
  n->len = (uint32_t)len;
  n->hash = XXH3_64bits(s, len);
  size_t j = n->hash & t->mask;
  while (t->tab[j]) j = (j + 1) & t->mask;
  t->tab[j] = n;
  t->used++;
  return n;
}

/* Lists grow by half, not double: they are a fifth of the index. */
static int plist_reserve(evs_plist *l, size_t need) {
  if (need > l->cap) {
    size_t cap = l->cap < 16 ? 16 : l->cap + l->cap / 2;
    if (cap < need) cap = need;
    uint32_t *p = realloc(l->rel, cap * sizeof *p);
    if (!p) return EVS_ENOMEM;
    l->rel = p;
    l->cap = cap;
  }
  return evs_bs_reserve(&l->live, need);
}

static void plist_push(evs_plist *l, uint32_t rel) {
  l->rel[l->n] = rel;
  evs_bs_set(&l->live, l->n);
  l->n++;
}

/* Room for entry rel: its chunk and its pending bit. */
static int ent_reserve(evs_index *x, uint64_t rel) {
  if (rel >= UINT32_MAX) return EVS_ENOMEM;
  size_t ci = (size_t)(rel >> ENT_CHUNK_BITS);
  if (ci >= x->nchunks) {
    if (evs_grow((void **)&x->chunks, &x->chunks_cap, ci + 1, sizeof(void *)))
      return EVS_ENOMEM;
    x->chunks[ci] = malloc(ENT_CHUNK * sizeof(evs_ent));
    if (!x->chunks[ci]) return EVS_ENOMEM;
    x->nchunks = ci + 1;
  }
  return evs_pending_reserve(x, rel + 1);
}

int evs_pending_reserve(evs_index *x, uint64_t nbits) {
  return evs_bs_reserve(&x->pending, nbits) || evs_bs_reserve(&x->ready, nbits) ||
                 evs_bs_reserve(&x->kheld, nbits)
             ? EVS_ENOMEM
             : 0;
}

/* ---- Ordering keys and kheld ------------------------------------------- */

static int key_open(const evs_index *x, uint64_t id) {
  return id >= x->base && id - x->base < x->n &&
         (evs_ent_at(x, id - x->base)->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED | ENT_DEAD)) ==
             ENT_LIVE;
}

/* Does an event of k older than id hold it back at now? */
static int key_holds(const evs_index *x, const evs_okey *k, uint64_t id, int64_t now,
                     uint32_t maxd) {
  for (uint32_t j = k->head; j < k->n && k->ids[j] < id; j++) {
    uint64_t f = k->ids[j];
    if (f < x->base || f - x->base >= x->n) continue;
    int st = evs_ent_state(x, f, evs_ent_at(x, f - x->base), now, maxd, NULL);
    if (EVS_ES_HOLDS(st)) return 1;
  }
  return 0;
}

void evs_key_hold(evs_index *x, uint64_t id, int64_t now, uint32_t max_deliveries) {
  evs_okey *k = x->okeys.iused ? evs_okey_of(&x->okeys, id) : NULL;
  if (k && id >= x->base && key_holds(x, k, id, now, max_deliveries))
    evs_bs_set(&x->kheld, id - x->base);
}

void evs_key_wake(evs_index *x, evs_okey *k, uint64_t skip) {
  for (uint32_t j = k->head; j < k->n; j++)
    if (k->ids[j] != skip && key_open(x, k->ids[j])) {
      evs_bs_clear(&x->kheld, k->ids[j] - x->base);
      return;
    }
}

void evs_keys_hold_all(evs_index *x, int64_t now, uint32_t max_deliveries) {
  for (size_t i = 0; x->okeys.keys && i <= x->okeys.kmask; i++) {
    const evs_okey *k = x->okeys.keys[i];
    int held = 0;
    for (uint32_t j = k ? k->head : 0; k && j < k->n; j++) {
      uint64_t f = k->ids[j];
      if (f < x->base || f - x->base >= x->n) continue;
      if (held && key_open(x, f)) evs_bs_set(&x->kheld, f - x->base);
      int st = evs_ent_state(x, f, evs_ent_at(x, f - x->base), now, max_deliveries, NULL);
      held |= EVS_ES_HOLDS(st);
    }
  }
}

int evs_index_extend(evs_index *x, uint64_t next) {
  if (x->base + x->n >= next) return 0;
  if (!x->n) {
    x->base = next;
    return 0;
  }
  /* Holes keep the time order binary searches rely on. */
  int64_t t = evs_ent_at(x, x->n - 1)->created_us;
  while (x->base + x->n < next) {
    if (ent_reserve(x, x->n)) return EVS_ENOMEM;
    evs_ent hole = {t, 0, 0, 0, 0, 0};
    *evs_ent_at(x, x->n) = hole;
    x->n++;
  }
  return 0;
}

int evs_index_add(evs_index *x, const evs_ent *e, const char *src,
                  size_t srclen, const char *typ, size_t typlen,
                  evs_plist **tsrc, evs_plist **ttyp) {
  uint64_t rel = x->n;
  if (ent_reserve(x, rel)) return EVS_ENOMEM;
  evs_name *ns = names_get(&x->sources, src, srclen);
  evs_name *nt = ns ? names_get(&x->types, typ, typlen) : NULL;
  if (!nt) return EVS_ENOMEM;
  /* Reserve list space first so a failure leaves nothing half-added. */
  if (plist_reserve(&ns->list, ns->list.n + 1) ||
      plist_reserve(&nt->list, nt->list.n + 1))
    return EVS_ENOMEM;
  plist_push(&ns->list, (uint32_t)rel);
  plist_push(&nt->list, (uint32_t)rel);
  x->list_entries += 2;
  *evs_ent_at(x, rel) = *e;
  if ((e->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) == ENT_LIVE) evs_pending_set(x, rel);
  x->n = rel + 1;
  *tsrc = &ns->list;
  *ttyp = &nt->list;
  return 0;
}

int evs_index_list_load(evs_index *x, int types, const char *s, size_t len,
                        const uint32_t *rels, size_t n) {
  evs_name *nm = names_get(types ? &x->types : &x->sources, s, len);
  if (!nm || plist_reserve(&nm->list, nm->list.n + n)) return EVS_ENOMEM;
  for (size_t i = 0; i < n; i++) plist_push(&nm->list, rels[i]);
  x->list_entries += n;
  return 0;
}

uint64_t evs_index_rebase(evs_index *x, uint64_t limit) {
  /* Whole chunks of holes at the front, below limit. */
  uint64_t k = 0;
  while (k + ENT_CHUNK <= EVS_MIN(x->n, limit)) {
    const evs_ent *c = evs_ent_at(x, k);
    int holes = 1;
    for (size_t j = 0; j < ENT_CHUNK && holes; j++) holes = !c[j].flags;
    if (!holes) break;
    k += ENT_CHUNK;
  }
  if (!k) return 0;
  size_t dc = (size_t)(k >> ENT_CHUNK_BITS);
  for (size_t i = 0; i < dc; i++) free(x->chunks[i]);
  memmove(x->chunks, x->chunks + dc, (x->nchunks - dc) * sizeof *x->chunks);
  x->nchunks -= dc;
  evs_bs_drop_front(&x->pending, k);
  evs_bs_drop_front(&x->ready, k);
  evs_bs_drop_front(&x->kheld, k);
  evs_names *tabs[2] = {&x->sources, &x->types};
  for (int t = 0; t < 2; t++)
    for (size_t i = 0; tabs[t]->tab && i <= tabs[t]->mask; i++) {
      evs_name *nm = tabs[t]->tab[i];
      if (!nm) continue;
      evs_plist *l = &nm->list;
      size_t w = 0;
      evs_bs_zero(&l->live);
      for (size_t r = 0; r < l->n; r++) {
        if (l->rel[r] < k) continue; /* a hole: its event is gone */
        l->rel[w] = (uint32_t)(l->rel[r] - k);
        evs_bs_set(&l->live, w);
        w++;
      }
      x->list_entries -= l->n - w;
      l->n = w;
    }
  /* Keys name events, never holes: every rel is >= k. */
  for (size_t i = 0; i < x->idem_size; i++)
    if (x->idem[i].tag) x->idem[i].rel -= (uint32_t)k;
  x->base += k;
  x->n -= k;
  return k;
}

void evs_index_truncate(evs_index *x, uint64_t n0, evs_plist **lists,
                        size_t nlists) {
  for (size_t i = 0; i < nlists; i++) {
    evs_plist *l = lists[i];
    while (l->n && l->rel[l->n - 1] >= n0) {
      l->n--;
      evs_bs_clear(&l->live, l->n);
      x->list_entries--;
    }
  }
  for (uint64_t r = x->n; r-- > n0;) /* newest first: each is its key's newest */
    if (x->okeys.iused) evs_okey_unadd(&x->okeys, x->base + r);
  for (uint64_t r = n0; r < x->n; r++) {
    evs_pending_clear(x, r);
    memset(evs_ent_at(x, r), 0, sizeof(evs_ent));
  }
  x->n = n0 < x->n ? n0 : x->n;
}

static void plist_compact(evs_index *x, evs_plist *l) {
  size_t w = 0;
  evs_bs_zero(&l->live);
  for (size_t r = 0; r < l->n; r++) {
    const evs_ent *e = evs_ent_at(x, l->rel[r]);
    if ((e->flags & (ENT_ACKED | ENT_DELETED)) || !(e->flags & ENT_LIVE)) continue;
    l->rel[w] = l->rel[r];
    evs_bs_set(&l->live, w);
    w++;
  }
  x->list_entries -= l->n - w;
  l->n = w;
  if (l->cap > 64 && l->cap > 2 * w) {
    uint32_t *p = realloc(l->rel, (w + w / 2 + 16) * sizeof *p);
    if (p) l->rel = p, l->cap = w + w / 2 + 16;
  }
}

void evs_index_maybe_sweep(evs_index *x, uint64_t npending) {
  /* Each sweep is O(list entries) and runs only once dead entries are at
  ** least half of them, so its cost is O(1) amortised per ack. */
  if (x->list_entries <= 4 * npending + 8192) return; /* 2 lists each */
  evs_names *tabs[2] = {&x->sources, &x->types};
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; tabs[k]->tab && i <= tabs[k]->mask; i++)
      if (tabs[k]->tab[i]) plist_compact(x, &tabs[k]->tab[i]->list);
}

uint64_t evs_index_time_bound(const evs_index *x, uint64_t lo, uint64_t hi,
                              int64_t t, int strict) {
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    int64_t c = evs_ent_at(x, mid)->created_us;
    if (strict ? c > t : c >= t)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

static uint32_t idem_tag(uint64_t h) {
  uint32_t t = (uint32_t)(h >> 32);
  return t ? t : 1;
}

/* Home slot from the tag alone (slots keep no more of the hash), mapped
** onto a table of any size so it can grow by half, not double. */
static size_t idem_home(uint32_t tag, size_t size) {
  return (size_t)(((uint64_t)tag * size) >> 32);
}

#define NEXT(i, size) ((i) + 1 == (size) ? 0 : (i) + 1)

int evs_idem_find(const evs_index *x, uint64_t h, evs_idem_match m, void *ctx,
                  uint32_t *rel) {
  uint32_t tag = idem_tag(h);
  for (size_t i = idem_home(tag, x->idem_size);; i = NEXT(i, x->idem_size)) {
    const evs_idem_slot *sl = &x->idem[i];
    if (!sl->tag) return 0;
    if (sl->tag == tag && m(ctx, sl->rel)) {
      *rel = sl->rel;
      return 1;
    }
  }
}

static int idem_grow(evs_index *x) {
  size_t ns = x->idem_size + x->idem_size / 2;
  evs_idem_slot *nt = calloc(ns, sizeof *nt);
  if (!nt) return EVS_ENOMEM;
  for (size_t i = 0; i < x->idem_size; i++) {
    evs_idem_slot sl = x->idem[i];
    if (!sl.tag) continue;
    size_t j = idem_home(sl.tag, ns);
    while (nt[j].tag) j = NEXT(j, ns);
    nt[j] = sl;
  }
  free(x->idem);
  x->idem = nt;
  x->idem_size = ns;
  return 0;
}

int evs_idem_put(evs_index *x, uint64_t h, uint32_t rel, evs_idem_match m,
                 void *ctx, uint32_t *old) {
  uint32_t tag = idem_tag(h);
  *old = UINT32_MAX;
  size_t i = idem_home(tag, x->idem_size);
  for (; x->idem[i].tag; i = NEXT(i, x->idem_size))
    if (x->idem[i].tag == tag && m(ctx, x->idem[i].rel)) {
      *old = x->idem[i].rel;
      x->idem[i].rel = rel;
      return 0;
    }
  /* Up to 85% full: probes compare 4-byte tags, rarely a record. */
  if ((x->idem_used + 1) * 100 > x->idem_size * 85) {
    if (idem_grow(x)) return EVS_ENOMEM;
    for (i = idem_home(tag, x->idem_size); x->idem[i].tag; i = NEXT(i, x->idem_size)) {
    }
  }
  x->idem[i].tag = tag;
  x->idem[i].rel = rel;
  x->idem_used++;
  return 0;
}

void evs_idem_del(evs_index *x, uint64_t h, uint32_t rel) {
  uint32_t tag = idem_tag(h);
  size_t size = x->idem_size, i = idem_home(tag, size);
  for (;; i = NEXT(i, size)) {
    if (!x->idem[i].tag) return;
    if (x->idem[i].tag == tag && x->idem[i].rel == rel) break;
  }
  /* Backward-shift deletion keeps linear probing free of tombstones. */
  size_t j = i;
  for (;;) {
    x->idem[i].tag = 0;
    for (;;) {
      j = NEXT(j, size);
      if (!x->idem[j].tag) {
        x->idem_used--;
        return;
      }
      size_t home = idem_home(x->idem[j].tag, size);
      /* Move j back to i unless its home lies cyclically in (i, j]. */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
    }
    x->idem[i] = x->idem[j];
    i = j;
  }
}

void evs_idem_repoint(evs_index *x, uint64_t h, uint32_t from, uint32_t to) {
  uint32_t tag = idem_tag(h);
  for (size_t i = idem_home(tag, x->idem_size); x->idem[i].tag;
       i = NEXT(i, x->idem_size))
    if (x->idem[i].tag == tag && x->idem[i].rel == from) {
      x->idem[i].rel = to;
      return;
    }
}

int evs_idem_has(const evs_index *x, uint32_t tag, uint32_t rel) {
  for (size_t i = idem_home(tag, x->idem_size); x->idem[i].tag; i = NEXT(i, x->idem_size))
    if (x->idem[i].tag == tag && x->idem[i].rel == rel) return 1;
  return 0;
}
