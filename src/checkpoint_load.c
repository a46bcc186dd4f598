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

/* Structural check of the names section; *end is where the keys begin. */
static int walk_names(const uint8_t *p, size_t n, size_t at, uint32_t count,
                      uint64_t nent, size_t *end) {
  for (uint32_t i = 0; i < count; i++) {
    if (n - at < 4) return EVS_ECORRUPT;
    uint32_t len = get_u32(p + at);
    at += 4;
    if (!len || len > EVS_MAX_NAME || n - at < (size_t)len + 4) return EVS_ECORRUPT;
    at += len;
    uint32_t cnt = get_u32(p + at);
    at += 4;
    if (n - at < (size_t)cnt * 4) return EVS_ECORRUPT;
    for (uint32_t k = 0; k < cnt; k++) {
      uint32_t rel = get_u32(p + at + 4 * (size_t)k);
      if (rel >= nent || (k && rel <= get_u32(p + at + 4 * (size_t)(k - 1)))) return EVS_ECORRUPT;
    }
    at += (size_t)cnt * 4;
  }
  *end = at;
  return 0;
}

int evs_checkpoint_find(evs_store *s, size_t *seg, uint64_t *off, uint8_t **file) {
  *file = NULL;
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
  s->ckpt_file_bytes = n;
  s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
  int ok = n >= EVS_CK_HDR + 8 && !memcmp(p, EVS_CK_MAGIC, 8) &&
           get_u64(p + n - 8) == XXH3_64bits(p, n - 8) &&
           get_u32(p + EVS_CKH_VERSION) == EVS_FORMAT_VERSION && get_u32(p + EVS_CKH_HDRLEN) == EVS_CK_HDR &&
           get_u64(p + EVS_CKH_STORE) == s->meta.store_id;
  /* Whatever else it is (stale, for another layout), a checkpoint that
  ** checks out was written after the log up to its position was synced. */
  if (ok) {
    s->vouch_segno = get_u64(p + EVS_CKH_SEGNO);
    s->vouch_off = get_u64(p + EVS_CKH_OFF);
  }
  uint64_t nent = ok ? get_u64(p + EVS_CKH_N) : 0, isz = ok ? get_u64(p + EVS_CKH_IDEMSZ) : 0;
  size_t names_end = 0;
  ok = ok && nent < UINT32_MAX && isz >= 1 && isz < ((uint64_t)1 << 34) &&
       get_u64(p + EVS_CKH_IDEMUSED) < isz && (n - EVS_CK_HDR - 8) / EVS_CK_ENT >= nent &&
       !walk_names(p, n - 8, EVS_CK_HDR + nent * EVS_CK_ENT,
                   get_u32(p + EVS_CKH_NSRC) + get_u32(p + EVS_CKH_NTYP), nent, &names_end) &&
       n - 8 - names_end == isz * 8;
  if (!ok) {
    free(p);
    return 0;
  }
  /* Does it index this log? Same layout (no compaction since), and its
  ** position lies in a listed segment, vouched for by the record there. */
  s->ckpt_state = EVS_CHECKPOINT_STALE;
  uint64_t segno = get_u64(p + EVS_CKH_SEGNO), pos = get_u64(p + EVS_CKH_OFF);
  size_t i = 0;
  while (i < s->nsegs && s->segs[i]->no != segno) i++;
  if (get_u64(p + EVS_CKH_LAYOUT) != s->man_layout || i == s->nsegs || pos < EVS_SEG_HDR ||
      pos > s->segs[i]->size || !evs_seg_mark_intact(s->segs[i], pos) ||
      evs_seg_mark(s->segs[i], pos) != get_u64(p + EVS_CKH_MARK)) {
    free(p);
    return 0;
  }
  /* Every entry of an event must point into a listed segment. */
  for (uint64_t rel = 0; rel < nent; rel++) {
    const uint8_t *o = p + EVS_CK_HDR + rel * EVS_CK_ENT;
    uint16_t slot = get_u16(o + 20);
    if ((o[22] & ENT_LIVE) &&
        (slot >= s->nslots || !s->slots[slot] || get_u32(o + 16) >= s->slots[slot]->size)) {
      s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
      free(p);
      return 0;
    }
  }
  s->ckpt_state = EVS_CHECKPOINT_LOADED;
  *file = p;
  *seg = i;
  *off = pos;
  return 0;
}

int evs_checkpoint_load(evs_store *s, const uint8_t *p) {
  evs_index *x = &s->state.idx;
  uint64_t nent = get_u64(p + EVS_CKH_N);
  int rc = 0;
  x->base = get_u64(p + EVS_CKH_BASE);
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
      evs_ent *c = &x->chunks[ci][j];
      const uint8_t *o = src + j * EVS_CK_ENT;
      c->created_us = (int64_t)get_u64(o);
      c->acked_us = (int64_t)get_u64(o + 8);
      c->off = get_u32(o + 16);
      c->slot = get_u16(o + 20);
      c->flags = o[22];
      c->pad = 0;
    }
#endif
  }
  if (!rc && evs_bs_reserve(&x->pending, nent + 1)) rc = EVS_ENOMEM;
  x->n = rc ? 0 : nent;
  for (uint64_t rel = 0; rel < x->n; rel++) {
    evs_ent *e = evs_ent_at(x, rel);
    if ((e->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) == ENT_LIVE)
      evs_bs_set(&x->pending, rel);
  }
  size_t at = EVS_CK_HDR + nent * EVS_CK_ENT;
  uint32_t nn = get_u32(p + EVS_CKH_NSRC) + get_u32(p + EVS_CKH_NTYP);
  for (uint32_t i = 0; i < nn && !rc; i++) {
    uint32_t len = get_u32(p + at), cnt = get_u32(p + at + 4 + len);
    uint32_t *rels = malloc((cnt ? cnt : 1) * sizeof *rels);
    if (!rels) {
      rc = EVS_ENOMEM;
      break;
    }
    for (uint32_t k = 0; k < cnt; k++) rels[k] = get_u32(p + at + 8 + len + 4 * (size_t)k);
    rc = evs_index_list_load(x, i >= get_u32(p + EVS_CKH_NSRC), (const char *)p + at + 4, len,
                             rels, cnt);
    free(rels);
    at += 8 + len + 4 * (size_t)cnt;
  }
  if (!rc) {
    size_t isz = (size_t)get_u64(p + EVS_CKH_IDEMSZ);
    evs_idem_slot *t = calloc(isz, sizeof *t);
    if (!t) {
      rc = EVS_ENOMEM;
    } else {
      for (size_t i = 0; i < isz; i++) {
        t[i].tag = get_u32(p + at + 8 * i);
        t[i].rel = get_u32(p + at + 8 * i + 4);
      }
      free(x->idem);
      x->idem = t;
      x->idem_size = isz;
      x->idem_used = (size_t)get_u64(p + EVS_CKH_IDEMUSED);
    }
  }
  if (!rc) {
    s->state.npending = get_u64(p + EVS_CKH_PENDING);
    s->state.nacked = get_u64(p + EVS_CKH_ACKED);
    s->state.payload_bytes = get_u64(p + EVS_CKH_PBYTES);
    s->state.payload_stored = get_u64(p + EVS_CKH_PSTORED);
    s->state.last_created = (int64_t)get_u64(p + EVS_CKH_LASTCR);
  }
  return rc ? evs_err(s, rc, "out of memory loading the checkpoint") : 0;
}
