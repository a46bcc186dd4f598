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
               (uint8_t)(ENT_LIVE | ev.priority | (ev.idempotency_key ? ENT_KEY : 0)), 0};
  evs_plist *a, *b;
  if (evs_index_add(x, &e, ev.source, ev.source_len, ev.event_type,
                    ev.event_type_len, &a, &b))
    return EVS_ENOMEM;
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

void evs_mark_acked(evs_state *st, uint64_t rel, evs_ent *e, int64_t at) {
  e->flags |= ENT_ACKED;
  e->acked_us = at;
  evs_bs_clear(&st->idx.pending, rel);
  st->npending--;
  st->nacked++;
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
  else
    st->npending--;
  e->flags |= ENT_DELETED;
  evs_bs_clear(&st->idx.pending, rel);
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
