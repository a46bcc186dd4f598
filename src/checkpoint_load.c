/*
** checkpoint_load.c: reading the index checkpoint at open. A checkpoint
** is accepted only if it checks out and names a position of the log as it
** is now; the index is then filled from it and only the log after that
** position is replayed. The layout is in codec.h and docs/FORMAT.md; the
** writer is checkpoint.c.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "error.h"
#include "log.h"
#include "recover.h"
#include "store.h"
#include "util.h"

/* Does every ordering key list only events the entries hold, pending
** (not acknowledged or deleted), each in one key? A file that passed its
** checksum but not this is treated as damaged: the log rebuilds it. */
static int okeys_fit(const uint8_t *p, const evs_ckpt_hdr *h) {
  evs_ckpt_leases cl;
  evs_ckpt_leases_get(p, h, &cl);
  if (!cl.nkeys) return 1;
  uint8_t *seen = calloc((size_t)(h->n / 8 + 1), 1);
  if (!seen) return 0;
  size_t at = cl.keys_at;
  int ok = 1;
  for (uint32_t i = 0; i < cl.nkeys && ok; i++) {
    const char *key;
    uint16_t len;
    uint64_t leased;
    const uint8_t *ids;
    uint32_t cnt;
    evs_ckpt_okey_next(p, &at, &key, &len, &leased, &ids, &cnt);
    for (uint32_t k = 0; k < cnt && ok; k++) {
      uint64_t id = evs_get64(ids + 8 * (size_t)k), rel = id - h->base;
      evs_ckpt_ent ce;
      ok = id >= h->base && rel < h->n && !(seen[rel / 8] & (1u << (rel % 8)));
      if (ok) evs_ckpt_ent_decode(p + EVS_CK_HDR + rel * EVS_CK_ENT, &ce);
      ok = ok && (ce.flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) == ENT_LIVE;
      if (ok) seen[rel / 8] |= (uint8_t)(1u << (rel % 8));
    }
  }
  free(seen);
  return ok;
}

int evs_checkpoint_find(evs_store *s, size_t *seg, uint64_t *off, uint8_t **file,
                        size_t *file_len) {
  *file = NULL;
  *file_len = 0;
  s->ckpt_state = EVS_CHECKPOINT_OFF;
  if (s->opt.checkpoint_bytes < 0) return 0;
  uint8_t *p;
  size_t n;
  int e = evs_read_file(s, EVS_CHECKPOINT_NAME, &p, &n);
  s->ckpt_state = EVS_CHECKPOINT_NONE;
  if (e == -ENOENT) return 0;
  if (e == -EISDIR || e == -EINVAL) {
    /* Something else stands in its place: ignore it as a damaged one, and
    ** write none over it (a rename onto a directory fails every time). */
    s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
    s->ckpt_off = 1;
    return 0;
  }
  if (e) {
    char path[EVS_PATH_BUF];
    snprintf(path, sizeof path, "%s/%s", s->dir, EVS_CHECKPOINT_NAME);
    return e == -ENOMEM ? evs_err(s, EVS_ENOMEM, "out of memory reading %s", path)
                        : evs_err_io(s, -e, "cannot read", path);
  }
  /* A writer may have written this checkpoint after a reader took the size
  ** of the last segment: the log it covers is in the file by now. */
  if (s->opt.read_only && s->nsegs) {
    int rc = evs_seg_grow_to_file(s, s->segs[s->nsegs - 1]);
    if (rc) {
      free(p);
      return rc;
    }
  }
  s->ckpt_file_bytes = n;
  s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
  evs_ckpt_hdr h;
  int ok = !evs_ckpt_hdr_decode(p, n, s->meta.store_id, &h);
  /* Whatever else it is (stale, for another layout), a checkpoint that
  ** checks out was written after the log up to its position was synced. */
  if (ok) {
    s->vouch_segno = h.segno;
    s->vouch_off = h.off;
  }
  if (!ok || evs_ckpt_check(p, n, &h)) {
    free(p);
    return 0;
  }
  /* Does it index this log? Same layout (no compaction since), and its
  ** position lies in a listed segment, vouched for by the record there. */
  s->ckpt_state = EVS_CHECKPOINT_STALE;
  size_t i = 0;
  while (i < s->nsegs && s->segs[i]->no != h.segno) i++;
  if (h.layout != s->man_layout || i == s->nsegs || h.off < EVS_SEG_HDR ||
      h.off > s->segs[i]->size || !evs_seg_mark_intact(s->segs[i], h.off) ||
      evs_seg_mark(s->segs[i], h.off) != h.mark) {
    free(p);
    return 0;
  }
  /* Every entry of an event must point into a listed segment. */
  for (uint64_t rel = 0; rel < h.n; rel++) {
    evs_ckpt_ent ce;
    evs_ckpt_ent_decode(p + EVS_CK_HDR + rel * EVS_CK_ENT, &ce);
    if ((ce.flags & ENT_LIVE) &&
        (ce.slot >= s->nslots || !s->slots[ce.slot] || ce.off >= s->slots[ce.slot]->size)) {
      s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
      free(p);
      return 0;
    }
  }
  if (h.version == 3 && !okeys_fit(p, &h)) {
    s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
    free(p);
    return 0;
  }
  s->ckpt_state = EVS_CHECKPOINT_LOADED;
  *file = p;
  *file_len = n;
  *seg = i;
  *off = h.off;
  return 0;
}

int evs_checkpoint_load(evs_store *s, const uint8_t *p, size_t n) {
  evs_index *x = &s->state.idx;
  evs_ckpt_hdr h;
  (void)n; /* evs_checkpoint_find checked all n bytes */
  evs_ckpt_hdr_fields(p, &h);
  uint64_t nent = h.n;
  int rc = 0;
  x->base = h.base;
  for (uint64_t rel = 0; rel < nent && !rc; rel += ENT_CHUNK) {
    size_t ci = (size_t)(rel >> ENT_CHUNK_BITS);
    if (evs_grow((void **)&x->chunks, &x->chunks_cap, ci + 1, sizeof(void *)) ||
        !(x->chunks[ci] = malloc(ENT_CHUNK * sizeof(evs_ent)))) {
      rc = EVS_ENOMEM;
      break;
    }
    x->nchunks = ci + 1;
    uint64_t k = EVS_MIN((uint64_t)ENT_CHUNK, nent - rel);
    const uint8_t *src = p + EVS_CK_HDR + rel * EVS_CK_ENT;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(x->chunks[ci], src, k * EVS_CK_ENT);
#else
    for (uint64_t j = 0; j < k; j++) {
      evs_ckpt_ent ce;
      evs_ckpt_ent_decode(src + j * EVS_CK_ENT, &ce);
      x->chunks[ci][j] = (evs_ent){ce.created_us, ce.acked_us, ce.off, ce.slot, ce.flags,
                                   ce.deliveries};
    }
#endif
  }
  if (!rc && evs_pending_reserve(x, nent + 1)) rc = EVS_ENOMEM;
  x->n = rc ? 0 : nent;
  for (uint64_t rel = 0; rel < x->n; rel++) {
    evs_ent *e = evs_ent_at(x, rel);
    if ((e->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED | ENT_DEAD)) == ENT_LIVE)
      evs_pending_set(x, rel);
  }
  size_t at = EVS_CK_HDR + nent * EVS_CK_ENT;
  uint32_t nn = h.nsrc + h.ntyp;
  for (uint32_t i = 0; i < nn && !rc; i++) {
    const char *name;
    const uint8_t *rp;
    uint32_t len, cnt;
    evs_ckpt_name_next(p, &at, &name, &len, &rp, &cnt);
    uint32_t *rels = malloc((cnt ? cnt : 1) * sizeof *rels);
    if (!rels) {
      rc = EVS_ENOMEM;
      break;
    }
    for (uint32_t k = 0; k < cnt; k++) rels[k] = evs_get32(rp + 4 * (size_t)k);
    rc = evs_index_list_load(x, i >= h.nsrc, name, len, rels, cnt);
    free(rels);
  }
  if (!rc) {
    size_t isz = (size_t)h.idem_size;
    evs_idem_slot *t = calloc(isz, sizeof *t);
    if (!t) {
      rc = EVS_ENOMEM;
    } else {
      for (size_t i = 0; i < isz; i++) evs_ckpt_key_get(p + at, i, &t[i].tag, &t[i].rel);
      free(x->idem);
      x->idem = t;
      x->idem_size = isz;
      x->idem_used = (size_t)h.idem_used;
    }
  }
  if (!rc && h.version == 3) {
    evs_ckpt_leases cl;
    evs_ckpt_leases_get(p, &h, &cl);
    evs_leases *ls = &x->leases;
    size_t na = cl.names_at;
    for (uint32_t i = 0; i < cl.nnames && !rc; i++) {
      uint16_t len = evs_get16(p + na);
      uint32_t id;
      rc = evs_consumer_intern(ls, (const char *)p + na + 2, len, &id);
      na += 2 + (size_t)len;
    }
    if (!rc) rc = evs_leases_reserve(ls, cl.nleases);
    for (uint32_t i = 0; i < cl.nleases && !rc; i++) {
      const uint8_t *q = p + cl.leases_at + (size_t)i * EVS_CK_LEASE;
      rc = evs_lease_set(ls, evs_get64(q), evs_get32(q + 24), evs_get64(q + 8),
                         (int64_t)evs_get64(q + 16));
      if (!rc) rc = evs_lease_held(x, evs_get64(q), (int64_t)evs_get64(q + 16));
    }
    size_t ka = cl.keys_at;
    for (uint32_t i = 0; i < cl.nkeys && !rc; i++) {
      const char *key;
      uint16_t len;
      uint64_t leased;
      const uint8_t *ids;
      uint32_t cnt;
      evs_ckpt_okey_next(p, &ka, &key, &len, &leased, &ids, &cnt);
      for (uint32_t k = 0; k < cnt && !rc; k++) {
        uint64_t id = evs_get64(ids + 8 * (size_t)k);
        /* Only events the entries hold, each once. */
        rc = evs_okey_add(&x->okeys, id, key, len); /* okeys_fit checked it */
      }
      evs_okey *ok = rc ? NULL : evs_okey_find(&x->okeys, key, len);
      if (ok) ok->leased = leased;
    }
    s->state.lease_seq = cl.lease_seq;
    s->state.ndead = cl.ndead;
    if (!rc) evs_keys_hold_all(x, evs_now(s), s->opt.max_deliveries);
  }
  if (!rc) {
    s->state.npending = h.pending;
    s->state.nacked = h.acked;
    s->state.payload_bytes = h.payload_bytes;
    s->state.payload_stored = h.payload_stored;
    s->state.last_created = h.last_created;
  }
  return rc ? evs_err(s, rc, "out of memory loading the checkpoint") : 0;
}
