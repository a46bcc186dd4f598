/*
** replay.c: the index side of the log's records. Replaying event, ack
** and delete records into an index (at open, and into a scratch index for
** evs_verify), and the marks that commit and replay share so both build
** the same index; and reading the record of an index entry.
*/
#include <inttypes.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "replay.h"
#include "store.h"
#include "util.h"

int evs_key_match(void *ctx, uint32_t rel) {
  evs_keyctx *k = ctx;
  const evs_ent *e = evs_ent_at(k->x, rel);
  evs_event ev;
  int z;
  uint32_t raw;
  const uint8_t *r = evs_rec_ptr(k->s, k->t, e->slot, e->off);
  if (evs_ev_decode(r, evs_rec_len(r), &ev, &z, &raw)) return 0;
  return ev.idempotency_key_len == k->len &&
         !memcmp(ev.idempotency_key, k->key, k->len);
}

static int replay_event(const evs_store *s, evs_state *st, const evs_seg *g,
                        uint64_t id_limit, uint32_t off, const uint8_t *r, uint32_t len) {
  evs_event ev;
  int z;
  uint32_t raw;
  if (evs_ev_decode(r, len, &ev, &z, &raw)) return EVS_ECORRUPT;
  evs_index *x = &st->idx;
  /* Ids only grow; gaps are events compaction removed. */
  if (ev.id < x->base + x->n || ev.id >= id_limit || ev.id - x->base >= UINT32_MAX) return EVS_ECORRUPT;
  if (evs_index_extend(x, ev.id)) return EVS_ENOMEM;
  evs_ent e = {ev.created_us, 0, off, (uint16_t)(g->no % EVS_SLOTS),
               (uint8_t)(ENT_LIVE | ev.priority | (ev.idempotency_key ? ENT_KEY : 0) |
                         (ev.not_before_us ? ENT_LEASED : 0)),
               0};
  /* Delayed: held back until not_before (no consumer, no delivery). */
  if (ev.not_before_us && evs_lease_set(&x->leases, ev.id, 0, 0, ev.not_before_us))
    return EVS_ENOMEM;
  if (ev.ordering_key &&
      evs_okey_add(&x->okeys, ev.id, ev.ordering_key, ev.ordering_key_len))
    return EVS_ENOMEM;
  evs_plist *a, *b;
  if (evs_index_add(x, &e, ev.source, ev.source_len, ev.event_type,
                    ev.event_type_len, &a, &b))
    return EVS_ENOMEM;
  if (ev.not_before_us && evs_lease_held(x, ev.id, ev.not_before_us)) return EVS_ENOMEM;
  if (ev.ordering_key) evs_key_hold(x, ev.id, evs_now(s), s->opt.max_deliveries);
  if (ev.idempotency_key) {
    evs_keyctx k = {s, NULL, x, ev.idempotency_key, ev.idempotency_key_len};
    uint32_t old;
    if (evs_idem_put(x, XXH3_64bits(k.key, k.len), (uint32_t)(x->n - 1),
                     evs_key_match, &k, &old))
      return EVS_ENOMEM;
  }
  st->npending++;
  st->payload_bytes += raw;
  st->payload_stored += ev.payload_len;
  st->last_created = EVS_MAX(st->last_created, ev.created_us);
  return 0;
}

static uint8_t key_flags(const evs_index *x, uint64_t id) {
  return id >= x->base && id - x->base < x->n ? evs_ent_at(x, id - x->base)->flags : 0;
}

/* An event acknowledged or deleted: if it has an ordering key, the key
** drops its settled events from the front, past the dead ones there (they
** stay, for a redrive), so that the key's first event not dead is one
** still open: a claim's walk from the front passes only dead events. */
static void settle_key(evs_index *x, uint64_t id) {
  evs_okey *k = x->okeys.iused ? evs_okey_of(&x->okeys, id) : NULL;
  while (k) {
    uint32_t j = k->head;
    uint8_t f = 0;
    for (; j < k->n; j++) {
      f = key_flags(x, k->ids[j]) & (ENT_LIVE | ENT_ACKED | ENT_DELETED | ENT_DEAD);
      if (f != (ENT_LIVE | ENT_DEAD)) break;
    }
    if (j == k->n || (f & ~ENT_DEAD) == ENT_LIVE) break; /* open */
    if (evs_okey_drop(&x->okeys, k, j)) return;          /* k is gone */
  }
  if (k) evs_key_wake(x, k, 0); /* the next of the key may go */
}

/* The event leaves any lease it had (settled, or gone). */
static void drop_lease(evs_state *st, uint64_t rel, evs_ent *e) {
  if (!(e->flags & ENT_LEASED)) return;
  evs_lease_del(&st->idx.leases, st->idx.base + rel);
  e->flags &= (uint8_t)~ENT_LEASED;
}

void evs_mark_acked(evs_state *st, uint64_t rel, evs_ent *e, int64_t at) {
  drop_lease(st, rel, e);
  if (e->flags & ENT_DEAD) {
    e->flags &= (uint8_t)~ENT_DEAD;
    st->ndead--;
  } else {
    st->npending--;
  }
  e->flags |= ENT_ACKED;
  e->acked_us = at;
  evs_pending_clear(&st->idx, rel);
  st->nacked++;
  settle_key(&st->idx, st->idx.base + rel);
}

int evs_lease_fits(uint8_t *flags, int op) {
  int settled = *flags & (ENT_ACKED | ENT_DELETED);
  switch (op) {
    case EVS_LEASE_CLAIM:
      if (settled || (*flags & ENT_DEAD)) return EVS_ECORRUPT;
      *flags |= ENT_LEASED;
      return 0;
    case EVS_LEASE_RENEW:
    case EVS_LEASE_RELEASE:
      return settled || !(*flags & ENT_LEASED) ? EVS_ECORRUPT : 0;
    case EVS_LEASE_REJECT:
      if (settled || (*flags & ENT_DEAD)) return EVS_ECORRUPT;
      *flags = (uint8_t)((*flags & ~ENT_LEASED) | ENT_DEAD);
      return 0;
    case EVS_LEASE_REDRIVE:
      if (settled || !(*flags & ENT_DEAD)) return EVS_ECORRUPT;
      *flags &= (uint8_t)~ENT_DEAD;
      return 0;
    case EVS_LEASE_HOLD:
      if (!settled) *flags |= ENT_LEASED;
      return 0;
  }
  return EVS_ECORRUPT;
}

int evs_mark_lease(evs_state *st, uint64_t rel, evs_ent *e, int op, uint32_t consumer,
                   uint64_t token, int64_t until_us) {
  evs_index *x = &st->idx;
  uint64_t id = x->base + rel;
  uint8_t f = e->flags;
  if (evs_lease_fits(&f, op)) return EVS_ECORRUPT; /* the rules: one place */
  switch (op) {
    case EVS_LEASE_CLAIM:
      if (evs_lease_set(&x->leases, id, consumer, token, until_us) ||
          evs_lease_held(x, id, until_us))
        return EVS_ENOMEM;
      e->flags |= ENT_LEASED;
      if (e->pad < 255) e->pad++;
      if (token > st->lease_seq) st->lease_seq = token;
      if (x->okeys.iused) {
        evs_okey *k = evs_okey_of(&x->okeys, id);
        if (k) k->leased = id;
      }
      return 0;
    case EVS_LEASE_RENEW:
    case EVS_LEASE_RELEASE: {
      evs_lease *l = evs_lease_find(&x->leases, id);
      if (!l) return EVS_ECORRUPT;
      l->until_us = until_us;
      if (op == EVS_LEASE_RELEASE) l->consumer = 0, l->token = 0;
      return evs_lease_held(x, id, until_us) ? EVS_ENOMEM : 0;
    }
    case EVS_LEASE_REJECT: {
      drop_lease(st, rel, e);
      e->flags |= ENT_DEAD;
      evs_pending_clear(x, rel);
      st->npending--;
      st->ndead++;
      evs_okey *k = x->okeys.iused ? evs_okey_of(&x->okeys, id) : NULL;
      if (k) evs_key_wake(x, k, id); /* dead: the next of its key may go */
      return 0;
    }
    case EVS_LEASE_HOLD:
      if (e->flags & (ENT_ACKED | ENT_DELETED)) return 0; /* acked or deleted in its own txn */
      if (evs_lease_set(&x->leases, id, 0, 0, until_us) || evs_lease_held(x, id, until_us))
        return EVS_ENOMEM;
      e->flags |= ENT_LEASED;
      return 0;
    case EVS_LEASE_REDRIVE:
      e->flags &= (uint8_t)~ENT_DEAD;
      e->pad = 0;
      if (evs_pending_reserve(x, rel + 1)) return EVS_ENOMEM;
      evs_pending_set(x, rel);
      st->npending++;
      st->ndead--;
      return 0;
  }
  return EVS_ECORRUPT;
}

void evs_mark_deleted(const evs_store *s, evs_state *st, uint64_t rel, evs_ent *e) {
  /* The key goes with the event (a later append may reuse it). */
  const uint8_t *r = evs_rec_ptr(s, NULL, e->slot, e->off);
  evs_event ev;
  int z;
  uint32_t raw;
  if (!evs_ev_decode(r, evs_rec_len(r), &ev, &z, &raw) && ev.idempotency_key)
    evs_idem_del(&st->idx, XXH3_64bits(ev.idempotency_key, ev.idempotency_key_len),
                 (uint32_t)rel);
  if (e->flags & ENT_ACKED)
    st->nacked--;
  else if (e->flags & ENT_DEAD)
    st->ndead--;
  else
    st->npending--;
  drop_lease(st, rel, e);
  e->flags |= ENT_DELETED;
  evs_pending_clear(&st->idx, rel);
  settle_key(&st->idx, st->idx.base + rel);
}

static int replay_ids(const evs_store *s, evs_state *st, const uint8_t *r, uint32_t len,
                      int type) {
  const uint8_t *ids;
  uint32_t cnt;
  if (evs_ids_decode(r, len, &ids, &cnt)) return EVS_ECORRUPT;
  int64_t at = type == EVS_REC_ACK ? evs_ack_at(r) : 0;
  evs_index *x = &st->idx;
  for (uint32_t i = 0; i < cnt; i++) {
    uint64_t id = evs_ids_at(ids, i);
    if (id >= x->base + x->n) return EVS_ECORRUPT; /* not appended yet */
    /* An event compaction removed after this record was written. */
    if (id < x->base) continue;
    uint64_t rel = id - x->base;
    evs_ent *e = evs_ent_at(x, rel);
    if (!(e->flags & ENT_LIVE)) continue;
    if (e->flags & ENT_DELETED) return EVS_ECORRUPT;
    if (type == EVS_REC_ACK) {
      if (e->flags & ENT_ACKED) return EVS_ECORRUPT;
      evs_mark_acked(st, rel, e, at);
    } else {
      evs_mark_deleted(s, st, rel, e);
    }
  }
  return 0;
}

static int replay_lease(evs_state *st, const uint8_t *r, uint32_t len) {
  evs_lease_rec l;
  if (evs_lease_decode(r, len, &l)) return EVS_ECORRUPT;
  evs_index *x = &st->idx;
  if (l.op == EVS_LEASE_SEQ && l.token > st->lease_seq) st->lease_seq = l.token;
  uint32_t consumer = 0;
  if (l.consumer && evs_consumer_intern(&x->leases, l.consumer, l.consumer_len, &consumer))
    return EVS_ENOMEM;
  for (uint32_t i = 0; i < l.count; i++) {
    uint64_t id = evs_ids_at(l.ids, i);
    if (id >= x->base + x->n) return EVS_ECORRUPT; /* not appended yet */
    if (id < x->base) continue;                    /* compacted away since */
    uint64_t rel = id - x->base;
    evs_ent *e = evs_ent_at(x, rel);
    if (!(e->flags & ENT_LIVE)) continue;
    int rc = evs_mark_lease(st, rel, e, l.op, consumer,
                            l.op == EVS_LEASE_CLAIM ? l.token + i : 0, l.until_us);
    if (rc) return rc;
  }
  return 0;
}

int evs_log_replay(const evs_store *s, evs_state *st, const evs_seg *g, uint64_t from,
                   uint64_t end, const char *path) {
  uint64_t pos = from;
  uint32_t intx = 0;
  /* Ids of this segment lie below the next one's first id; in the last,
  ** below its first id plus the events it can hold. Damage that passes
  ** the checksums cannot make the index span more than that. */
  uint64_t limit = g->first_id + (g->size - EVS_SEG_HDR) / EVS_EV_FIXED + 1;
  for (size_t k = 0; k + 1 < s->nsegs; k++)
    if (s->segs[k] == g) limit = s->segs[k + 1]->first_id;

  /* Ids below the segment's first id belong to segments before it (some
  ** perhaps removed by compaction): records may name them, never more.
  ** Recovery always replays the last segment, so this is also what keeps
  ** ids from being reused when compaction removed every event. */
  if (evs_index_extend(&st->idx, g->first_id))
    return evs_err(s, EVS_ENOMEM, "out of memory replaying the log");
  while (pos < end) {
    uint32_t len;
    uint8_t type;
    /* evs_log_scan checked every record up to end: read, do not re-hash. */
    len = evs_rec_len(g->base + pos);
    type = evs_rec_type(g->base + pos);
    const uint8_t *r = g->base + pos;
    int rc = 0;
    if (type == EVS_REC_EVENT)
      rc = replay_event(s, st, g, limit, (uint32_t)pos, r, len);
    else if (type == EVS_REC_ACK || type == EVS_REC_DELETE)
      rc = replay_ids(s, st, r, len, type);
    else if (type == EVS_REC_LEASE)
      rc = replay_lease(st, r, len);
    else if (evs_commit_nrec(r) != intx)
      rc = EVS_ECORRUPT; /* commit: must count the records before it */
    if (type == EVS_REC_COMMIT)
      intx = 0;
    else
      intx++;
    if (rc == EVS_ENOMEM) return evs_err(s, rc, "out of memory replaying the log");
    if (rc)
      return evs_err(s, EVS_ECORRUPT,
                     "segment %s: record at offset %" PRIu64
                     " contradicts the log before it",
                     path, pos);
    pos += len;
  }
  return 0;
}

/* Decode the record of entry e; payload still as stored. */
int evs_read_rec(const evs_store *s, const evs_txn *t, const evs_ent *e, evs_event *ev,
                 int *zstd, uint32_t *raw) {
  const uint8_t *r = evs_rec_ptr(s, t, e->slot, e->off);
  /* A read checks the record's checksum unless its segment was checked
  ** whole: open does not re-read the sealed segments a checkpoint covers. */
  uint32_t len = evs_rec_len(r);
  uint8_t type = evs_rec_type(r);
  int bad = s->slots[e->slot]->checked
                ? type != EVS_REC_EVENT
                : evs_rec_check(r, evs_rec_avail(s, t, e->slot, e->off), &len, &type) != 1 ||
                      type != EVS_REC_EVENT;
  if (bad || evs_ev_decode(r, len, ev, zstd, raw))
    return evs_err(s, EVS_ECORRUPT, "event record at segment slot %u offset %u is damaged",
                   e->slot, e->off);
  return 0;
}
