/*
** index.h: the in-memory index (index.c): entries, pending lists, names, the
** idempotency table, and the index state that replay and commits build.
*/
#ifndef EVS_INDEX_H
#define EVS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "bitset.h"
#include "codec.h"
#include "order.h"

/* ---- Index ------------------------------------------------------------- */
/* evs_ent.flags. Their own namespace, not the event record's EVS_EF_*
** flags (bit 0x04 is ENT_LIVE here, EVS_EF_ZSTD there), except that the
** two priority bits are copied from the record as they are. */
#define ENT_PRIO 0x03
#define ENT_LIVE 0x04
#define ENT_ACKED 0x08
#define ENT_DELETED 0x10
#define ENT_KEY 0x20 /* the event has an idempotency key */
#define ENT_LEASED 0x40 /* a lease (or a release's delay) in x->leases */
#define ENT_DEAD 0x80   /* dead: rejected, or delivered max_deliveries times */
/* evs_ent.pad holds the delivery count (saturating at 255). */
_Static_assert(ENT_PRIO == EVS_EF_PRIO_MASK, "priority bits are copied from the record");

/* One event in memory: 24 bytes. Source, type and payload stay on disk.
** On-disk: the checkpoint stores these structs as they are in memory
** (field by field on big-endian hosts), so do not reorder, resize or add fields
** without a new checkpoint version (docs/FORMAT.md). */
typedef struct evs_ent {
  int64_t created_us;
  int64_t acked_us;
  uint32_t off;  /* record offset in its segment */
  uint16_t slot; /* segment number % EVS_SLOTS */
  uint8_t flags;
  uint8_t pad;
} evs_ent;
_Static_assert(sizeof(evs_ent) == EVS_CK_ENT && offsetof(evs_ent, acked_us) == 8 &&
                   offsetof(evs_ent, off) == 16 && offsetof(evs_ent, slot) == 20 &&
                   offsetof(evs_ent, flags) == 22,
               "evs_ent is the checkpoint's entry layout");

#define ENT_CHUNK_BITS 12 /* small chunks: little rounding waste */
#define ENT_CHUNK (1u << ENT_CHUNK_BITS)

/* Pending events of one source or one event type: ids (relative to the
** index base) in increasing order, and a bitset of positions still
** believed pending. Acks clear nothing here; scans clear lazily, and a
** sweep drops dead positions once they outnumber the live ones. */
typedef struct evs_plist {
  uint32_t *rel;
  size_t n, cap;
  evs_bitset live;
  uint64_t txn_stamp; /* last transaction that appended here */
} evs_plist;

typedef struct evs_name {
  char *s;
  uint32_t len;
  uint64_t hash;
  evs_plist list;
} evs_name;

typedef struct evs_names {
  evs_name **tab; /* open addressing */
  size_t mask, used;
} evs_names;

typedef struct evs_idem_slot {
  uint32_t tag; /* high hash bits, 0 = empty */
  uint32_t rel;
} evs_idem_slot;

/* A lease: an event held by a consumer until until_us, or (consumer 0)
** held back by a release until then. Kept by id, so a rebase moves
** nothing. */
typedef struct evs_lease {
  uint64_t id;        /* 0 = empty slot */
  uint64_t token;     /* the fencing token of this delivery (0: a delay) */
  int64_t until_us;
  uint32_t consumer;  /* 1 + index in names; 0 = none */
  uint32_t pad;
} evs_lease;

/* When a lease or a delay ends: a min-heap entry (stale ones, of leases
** since renewed or settled, are dropped when they come up). */
typedef struct evs_lease_end {
  int64_t until_us;
  uint64_t id;
} evs_lease_end;

typedef struct evs_leases {
  evs_lease *tab;     /* open addressing by id, backward-shift deletion */
  size_t mask, used;
  char **names;       /* consumer names, interned (NUL-terminated) */
  size_t nnames, names_cap;
  evs_lease_end *ends; /* min-heap by until_us */
  size_t nends, ends_cap;
} evs_leases;

typedef struct evs_index {
  uint64_t base;      /* id of rel 0 */
  uint64_t n;         /* entries, committed or not: next id = base + n */
  evs_ent **chunks;
  size_t nchunks, chunks_cap;
  evs_bitset pending; /* by rel */
  evs_bitset ready;   /* by rel: pending, less those held by a lease or a
                         delay as of the last evs_leases_expire: where a
                         claim looks. A hint: every claimable event is in
                         it whenever evs_ready_usable says so */
  evs_bitset kheld;   /* by rel: events behind an older open event of their
                         ordering key (not claimable until it settles).
                         A hint too, for claims of the committed index:
                         set only when sure, cleared when in doubt */
  evs_names sources, types;
  uint64_t list_entries; /* sum of plist lengths, for the sweep */
  evs_idem_slot *idem; /* linear probing, home slot by fastrange */
  size_t idem_size, idem_used;
  evs_leases leases;
  evs_okeys okeys;    /* ordering keys of events not known settled */
} evs_index;

/* The index state: what the log's records say, built by replay at open
** (or into a scratch state by evs_verify) and kept up by commits. */
typedef struct evs_state {
  evs_index idx;
  uint64_t npending, nacked; /* npending: not acked, deleted or dead
                                (leased ones included) */
  uint64_t ndead;            /* ENT_DEAD entries */
  uint64_t lease_seq;        /* the last lease token handed out */
  uint64_t payload_bytes, payload_stored; /* as appended / as stored */
  int64_t last_created;                   /* newest created_us */
} evs_state;

static inline evs_ent *evs_ent_at(const evs_index *x, uint64_t rel) {
  return &x->chunks[rel >> ENT_CHUNK_BITS][rel & (ENT_CHUNK - 1)];
}

int evs_index_init(evs_index *x);
void evs_index_free(evs_index *x);
size_t evs_index_bytes(const evs_index *x);
/* Add an entry for id base+n; src/typ lists get it too. */
int evs_index_add(evs_index *x, const evs_ent *e, const char *src,
                  size_t srclen, const char *typ, size_t typlen,
                  evs_plist **touched_src, evs_plist **touched_typ);
/* Drop whole chunks of holes at the front of the index, below rel limit:
** base moves up, every rel moves down. Returns how many entries went
** (a multiple of the chunk size; 0 if none). Nothing may hold rels across
** it (caller holds the writer and ilock exclusively). */
uint64_t evs_index_rebase(evs_index *x, uint64_t limit);
/* Make the next id at least `next`: an empty index moves its base, a
** non-empty one gets holes (entries of ids whose events are gone). */
int evs_index_extend(evs_index *x, uint64_t next);
/* Append rels (increasing) to the list of a source (types 0) or an event
** type (types 1), creating the name: loading a checkpoint. */
int evs_index_list_load(evs_index *x, int types, const char *s, size_t len,
                        const uint32_t *rels, size_t n);
evs_name *evs_names_find(const evs_names *t, const char *s, size_t len);
/* Drop entries rel >= n0 (a rolled-back transaction). */
void evs_index_truncate(evs_index *x, uint64_t n0, evs_plist **lists,
                        size_t nlists);
/* Remove dead positions from every list when they outnumber the live. */
void evs_index_maybe_sweep(evs_index *x, uint64_t npending);
/* First rel >= lo whose created_us is > t (strict) or >= t. */
uint64_t evs_index_time_bound(const evs_index *x, uint64_t lo, uint64_t hi,
                              int64_t t, int strict);

/* The pending bit of an event, and its ready bit with it. */
static inline void evs_pending_set(evs_index *x, uint64_t rel) {
  evs_bs_set(&x->pending, rel);
  evs_bs_set(&x->ready, rel);
}
static inline void evs_pending_clear(evs_index *x, uint64_t rel) {
  evs_bs_clear(&x->pending, rel);
  evs_bs_clear(&x->ready, rel);
  evs_bs_clear(&x->kheld, rel);
}
/* Room for pending and ready bits [0, nbits). */
int evs_pending_reserve(evs_index *x, uint64_t nbits);
/* Event id is held (leased, delayed) until until_us: out of ready, and
** its end queued. 0 or EVS_ENOMEM (none after evs_leases_reserve). */
int evs_lease_held(evs_index *x, uint64_t id, int64_t until_us);
/* Bring back into ready the events whose lease or delay ended by now.
** Caller holds the index exclusively. */
void evs_leases_expire(evs_index *x, int64_t now, uint32_t max_deliveries);
/* Ordering keys and kheld. key_hold: event id (just appended; its key's
** newest) goes into kheld if an older event of its key holds it back at
** now. key_wake: the key's first open event other than skip leaves kheld
** (its head settled or died). keys_hold_all: kheld from scratch (a loaded
** checkpoint). A head past retention frees its key with no commit:
** claims use kheld only while no pending event is past retention. */
void evs_key_hold(evs_index *x, uint64_t id, int64_t now, uint32_t max_deliveries);
void evs_key_wake(evs_index *x, evs_okey *k, uint64_t skip);
void evs_keys_hold_all(evs_index *x, int64_t now, uint32_t max_deliveries);
/* May a scan at now use ready instead of pending? (No end passed since
** the last evs_leases_expire.) */
static inline int evs_ready_usable(const evs_index *x, int64_t now) {
  return !x->leases.nends || x->leases.ends[0].until_us > now;
}

/* Leases (index.c). find: NULL if none. set: insert or replace. */
evs_lease *evs_lease_find(const evs_leases *l, uint64_t id);
int evs_lease_set(evs_leases *l, uint64_t id, uint32_t consumer, uint64_t token,
                  int64_t until_us);
void evs_lease_del(evs_leases *l, uint64_t id);
/* Room for n more leases and lease ends without growing (so setting them
** cannot fail). */
int evs_leases_reserve(evs_leases *l, size_t n);
/* The consumer number (1 + index) of a name, interning it. */
int evs_consumer_intern(evs_leases *l, const char *name, size_t len, uint32_t *out);
static inline const char *evs_consumer_name(const evs_leases *l, uint32_t c) {
  return c && c <= l->nnames ? l->names[c - 1] : NULL;
}

/* What an event is now, leases and time considered. */
#define EVS_ES_GONE 0     /* no such event, deleted */
#define EVS_ES_PENDING 1  /* claimable, in the inbox */
#define EVS_ES_LEASED 2   /* held by a consumer */
#define EVS_ES_DELAYED 3  /* released with a delay that has not passed */
#define EVS_ES_ACKED 4
#define EVS_ES_DEAD 5     /* rejected, or its lease ran out after its
                             max_deliveries-th delivery */
/* Does an event in state st hold the later events of its ordering key
** back (not settled: pending, leased or delayed)? */
#define EVS_ES_HOLDS(st) ((st) == EVS_ES_PENDING || (st) == EVS_ES_LEASED || (st) == EVS_ES_DELAYED)
static inline int evs_ent_state(const evs_index *x, uint64_t id, const evs_ent *e, int64_t now,
                                uint32_t max_deliveries, const evs_lease **lease) {
  if (lease) *lease = NULL;
  if (!(e->flags & ENT_LIVE) || (e->flags & ENT_DELETED)) return EVS_ES_GONE;
  if (e->flags & ENT_ACKED) return EVS_ES_ACKED;
  if (e->flags & ENT_DEAD) return EVS_ES_DEAD;
  if (!(e->flags & ENT_LEASED)) return EVS_ES_PENDING;
  const evs_lease *l = evs_lease_find(&x->leases, id);
  if (lease) *lease = l;
  if (l && l->until_us > now) return l->consumer ? EVS_ES_LEASED : EVS_ES_DELAYED;
  return e->pad >= max_deliveries ? EVS_ES_DEAD : EVS_ES_PENDING;
}

/* Idempotency table; `match(rel)` tells whether the event at rel has the
** key (the table keeps only 32 hash bits). */
typedef int (*evs_idem_match)(void *ctx, uint32_t rel);
int evs_idem_find(const evs_index *x, uint64_t h, evs_idem_match m, void *ctx,
                  uint32_t *rel);
/* Insert, or repoint an existing slot for the same key (an expired key now
** naming a newer event); *old gets the previous rel or UINT32_MAX. */
int evs_idem_put(evs_index *x, uint64_t h, uint32_t rel, evs_idem_match m,
                 void *ctx, uint32_t *old);
void evs_idem_del(evs_index *x, uint64_t h, uint32_t rel);
void evs_idem_repoint(evs_index *x, uint64_t h, uint32_t from, uint32_t to);
/* Is there a slot with exactly this tag and rel? (verification) */
int evs_idem_has(const evs_index *x, uint32_t tag, uint32_t rel);

#endif
