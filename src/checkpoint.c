/*
** checkpoint.c: the index checkpoint (evstore.checkpoint). The committed
** in-memory index is written to one checksummed file naming the log
** position it covers; open loads it and replays only the log after that
** position. A missing, stale or damaged checkpoint is ignored (reported in
** evs_stats) and the index is rebuilt from the whole log. Byte layout in
** docs/FORMAT.md.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "checkpoint.h"
#include "error.h"
#include "log.h"
#include "store.h"
#include "util.h"


/* ---- Writing ----------------------------------------------------------- */

typedef struct wbuf {
  uint8_t *p;
  size_t n, cap;
  int oom;
} wbuf;

static uint8_t *wb_take(wbuf *w, size_t n) {
  if (w->oom) return NULL;
  if (evs_grow((void **)&w->p, &w->cap, w->n + n, 1)) {
    w->oom = 1;
    return NULL;
  }
  uint8_t *r = w->p + w->n;
  w->n += n;
  return r;
}

static void wb_u32(wbuf *w, uint32_t v) {
  uint8_t *p = wb_take(w, 4);
  if (p) evs_put32(p, v);
}

/* The pending events of every name, as (name, rels) records. */
static uint32_t put_names(wbuf *w, const evs_index *x, const evs_names *t) {
  uint32_t count = 0;
  for (size_t i = 0; t->tab && i <= t->mask; i++) {
    const evs_name *nm = t->tab[i];
    if (!nm) continue;
    const evs_plist *l = &nm->list;
    uint8_t *p = wb_take(w, 4 + nm->len);
    if (p) evs_ckpt_name_head(p, nm->s, nm->len);
    size_t cnt_at = w->n;
    wb_u32(w, 0);
    uint32_t cnt = 0;
    for (size_t k = 0; k < l->n; k++) {
      const evs_ent *e = evs_ent_at(x, l->rel[k]);
      if ((e->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) != ENT_LIVE) continue;
      wb_u32(w, l->rel[k]);
      cnt++;
    }
    /* Names with nothing pending come back too: queries over every status
    ** look names up. */
    if (w->oom) return 0;
    evs_put32(w->p + cnt_at, cnt);
    count++;
  }
  return count;
}

/* Version 3's leases and ordering keys sections (codec.h). */
static int put_leases(wbuf *w, const evs_state *st, uint64_t vis_n, uint64_t reserved) {
  const evs_leases *l = &st->idx.leases;
  uint8_t *p = wb_take(w, 24);
  if (!p) return EVS_ENOMEM;
  /* Tokens a synced record reserved (lease.c) stay used: a claim not yet
  ** synced may have handed them out. */
  evs_put64(p, EVS_MAX(st->lease_seq, reserved));
  evs_put64(p + 8, st->ndead);
  evs_put32(p + 16, (uint32_t)l->nnames);
  evs_put32(p + 20, (uint32_t)l->used);
  for (size_t i = 0; i < l->nnames; i++) {
    size_t len = strlen(l->names[i]);
    uint8_t *q = wb_take(w, 2 + len);
    if (!q) return EVS_ENOMEM;
    evs_put16(q, (uint16_t)len);
    memcpy(q + 2, l->names[i], len);
  }
  for (size_t i = 0; l->tab && i <= l->mask; i++) {
    const evs_lease *e = &l->tab[i];
    if (!e->id) continue;
    uint8_t *q = wb_take(w, EVS_CK_LEASE);
    if (!q) return EVS_ENOMEM;
    evs_put64(q, e->id);
    evs_put64(q + 8, e->token);
    evs_put64(q + 16, (uint64_t)e->until_us);
    evs_put32(q + 24, e->consumer);
    evs_put32(q + 28, 0);
  }
  /* Ordering keys: the events of each not acknowledged or deleted. */
  const evs_index *x = &st->idx;
  size_t nk_at = w->n;
  if (!wb_take(w, 8)) return EVS_ENOMEM;
  uint32_t nk = 0;
  for (size_t i = 0; x->okeys.keys && i <= x->okeys.kmask; i++) {
    const evs_okey *k = evs_okey_slot(&x->okeys, i);
    if (!k) continue;
    size_t at = w->n;
    uint8_t *q = wb_take(w, 14 + k->len);
    if (!q) return EVS_ENOMEM;
    evs_put16(q, (uint16_t)k->len);
    memcpy(q + 2, k->s, k->len);
    evs_put64(q + 6 + k->len, k->leased);
    uint32_t cnt = 0;
    for (uint32_t j = k->head; j < k->n; j++) {
      uint64_t id = k->ids[j];
      if (id < x->base || id - x->base >= vis_n) continue;
      if ((evs_ent_at(x, id - x->base)->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) !=
          ENT_LIVE)
        continue;
      if (!(q = wb_take(w, 8))) return EVS_ENOMEM;
      evs_put64(q, id);
      cnt++;
    }
    if (!cnt) {
      w->n = at; /* nothing left of it */
      continue;
    }
    evs_put32(w->p + at + 2 + k->len, cnt);
    nk++;
  }
  evs_put32(w->p + nk_at, nk);
  evs_put32(w->p + nk_at + 4, 0);
  return 0;
}

/* Serialise the committed index. Caller holds the writer and ilock (read). */
static int serialise(evs_store *s, wbuf *w, uint64_t *lsn) {
  const evs_index *x = &s->state.idx;
  const evs_seg *g = s->cur;
  if (!wb_take(w, EVS_CK_HDR)) return EVS_ENOMEM;
  uint64_t n = s->vis_n;
  uint8_t *e = wb_take(w, n * EVS_CK_ENT);
  if (!e && n) return EVS_ENOMEM;
  for (uint64_t rel = 0; rel < n; rel += ENT_CHUNK) {
    const evs_ent *c = evs_ent_at(x, rel);
    uint64_t k = EVS_MIN((uint64_t)ENT_CHUNK, n - rel);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(e + rel * EVS_CK_ENT, c, k * EVS_CK_ENT); /* evs_ent is the layout (index.h) */
#else
    for (uint64_t j = 0; j < k; j++) {
      evs_ckpt_ent ce = {c[j].created_us, c[j].acked_us, c[j].off, c[j].slot, c[j].flags,
                         c[j].pad};
      evs_ckpt_ent_encode(&ce, e + (rel + j) * EVS_CK_ENT);
    }
#endif
  }
  uint32_t nsrc = put_names(w, x, &x->sources);
  uint32_t ntyp = put_names(w, x, &x->types);
  uint8_t *q = wb_take(w, x->idem_size * 8);
  if (w->oom) return EVS_ENOMEM;
  for (size_t i = 0; i < x->idem_size; i++)
    evs_ckpt_key_put(q, i, x->idem[i].tag, x->idem[i].rel);
  /* A store that never leased writes version 2, which versions before
  ** leases read. */
  const evs_state *st = &s->state;
  uint32_t version = (s->seg_flags & EVS_SEG_LEASES) || st->lease_seq || st->ndead ||
                             st->idx.leases.used || st->idx.okeys.kused
                         ? 3
                         : 2;
  uint64_t reserved = __atomic_load_n(&s->lease_reserved, __ATOMIC_RELAXED);
  if (version == 3 && put_leases(w, &s->state, n, reserved)) return EVS_ENOMEM;
  if (!wb_take(w, 8)) return EVS_ENOMEM;
  evs_ckpt_hdr h = {s->meta.store_id,
                    s->man_layout,
                    g->no,
                    g->size,
                    evs_seg_mark(g, g->size),
                    x->base,
                    n,
                    s->state.npending,
                    s->state.nacked,
                    s->state.payload_bytes,
                    s->state.payload_stored,
                    s->state.last_created,
                    evs_now(s),
                    x->idem_size,
                    x->idem_used,
                    nsrc,
                    ntyp,
                    version};
  evs_ckpt_hdr_encode(&h, w->p);
  evs_ckpt_seal(w->p, w->n);
  *lsn = evs_lsn(g->no, g->size);
  return 0;
}

static int checkpoint_write(evs_store *s, int nowait) {
  if (s->dir && s->opt.read_only)
    return evs_err(s, EVS_EREADONLY, "store %s is open read-only", s->dir);
  if (!s->dir || s->opt.checkpoint_bytes < 0 || s->ckpt_off) return 0;
  /* ckmu comes before the writer: a thread holding the writer must not
  ** wait for ckmu, whose holder may be waiting for the writer. */
  if (evs_writer_held(s))
    return evs_err(s, EVS_EDEADLK, "this thread holds the write transaction");
  /* One checkpoint at a time, from serialising to the rename: the
  ** temporary file has one writer, and the file left is the newest. */
  if (nowait ? pthread_mutex_trylock(&s->ckmu) : pthread_mutex_lock(&s->ckmu)) return 0;
  int rc = nowait ? evs_writer_trylock(s) : evs_writer_lock(s);
  if (rc) {
    pthread_mutex_unlock(&s->ckmu);
    return rc == EVS_EBUSY && nowait ? 0 : rc;
  }
  wbuf w = {0};
  uint64_t lsn = 0;
  /* Whatever changes the index from here on holds the writer and marks
  ** the checkpoint dirty again. */
  pthread_mutex_lock(&s->smu);
  uint64_t logb = s->log_bytes;
  s->ckpt_dirty = 0;
  pthread_mutex_unlock(&s->smu);
  pthread_rwlock_rdlock(&s->ilock);
  rc = serialise(s, &w, &lsn);
  pthread_rwlock_unlock(&s->ilock);
  evs_writer_unlock(s);
  if (rc) {
    rc = evs_err(s, rc, "out of memory writing the checkpoint");
  } else {
    /* The checkpoint may only name log bytes a power loss keeps. */
    rc = evs_log_sync_upto(s, lsn);
  }
  if (!rc) {
    int e = evs_io_replace(s->io, s->dir, EVS_CHECKPOINT_NAME, w.p, w.n, s->fmode, NULL);
    if (e) {
      char path[EVS_PATH_BUF];
      snprintf(path, sizeof path, "%s/%s", s->dir, EVS_CHECKPOINT_NAME);
      rc = evs_err_io(s, -e, "cannot write", path);
    }
  }
  size_t wn = w.n;
  free(w.p);
  pthread_mutex_lock(&s->smu);
  if (rc) {
    s->ckpt_dirty = 1;
  } else {
    s->ckpt_log_bytes = logb;
    __atomic_store_n(&s->ckpt_file_bytes, wn, __ATOMIC_RELAXED);
    s->ckpts_written++;
  }
  pthread_mutex_unlock(&s->smu);
  pthread_mutex_unlock(&s->ckmu);
  return rc;
}

int evs_checkpoint_write(evs_store *s) { return checkpoint_write(s, 0); }
int evs_checkpoint_write_nowait(evs_store *s) { return checkpoint_write(s, 1); }

int evs_checkpoint(evs_store *s) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  return evs_checkpoint_write(s);
}

