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

#include "error.h"
#include "store.h"
#include "util.h"

#define CK_MAGIC "EVSTCKPT"
#define CK_HDR 144
#define CK_ENT 24

/* Header fields (offsets). */
enum {
  H_VERSION = 8, H_HDRLEN = 12, H_STORE = 16, H_LAYOUT = 24, H_SEGNO = 32,
  H_OFF = 40, H_MARK = 48, H_BASE = 56, H_N = 64, H_PENDING = 72, H_ACKED = 80,
  H_PBYTES = 88, H_PSTORED = 96, H_LASTCR = 104, H_IDEMSZ = 112, H_IDEMUSED = 120,
  H_NSRC = 128, H_NTYP = 132, H_WRITTEN = 136
};

/* What vouches for the log before (segment, off): the checksum of the
** commit record ending there, or of the segment header when nothing
** precedes. */
static uint64_t log_mark(const evs_seg *g, uint64_t off) {
  if (off < EVS_SEG_HDR + EVS_COMMIT_LEN) return get_u64(g->base + 56);
  return get_u64(g->base + off - EVS_COMMIT_LEN);
}

/* Is the mark at off still a whole commit record (checksum and type)? */
static int mark_intact(const evs_seg *g, uint64_t off) {
  if (off < EVS_SEG_HDR + EVS_COMMIT_LEN) return off == EVS_SEG_HDR;
  uint32_t len;
  uint8_t type;
  return evs_rec_check(g->base + off - EVS_COMMIT_LEN, EVS_COMMIT_LEN, &len, &type) == 1 &&
         type == EVS_REC_COMMIT;
}

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
  if (p) put_u32(p, v);
}

/* The pending events of every name, as (name, rels) records. */
static uint32_t put_names(wbuf *w, const evs_index *x, const evs_names *t) {
  uint32_t count = 0;
  for (size_t i = 0; t->tab && i <= t->mask; i++) {
    const evs_name *nm = t->tab[i];
    if (!nm) continue;
    const evs_plist *l = &nm->list;
    wb_u32(w, nm->len);
    uint8_t *p = wb_take(w, nm->len);
    if (p) memcpy(p, nm->s, nm->len);
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
    put_u32(w->p + cnt_at, cnt);
    count++;
  }
  return count;
}

/* Serialise the committed index. Caller holds the writer and ilock (read). */
static int serialise(evs_store *s, wbuf *w, uint64_t *lsn) {
  const evs_index *x = &s->idx;
  const evs_seg *g = s->cur;
  uint8_t *h = wb_take(w, CK_HDR);
  if (!h) return EVS_ENOMEM;
  memset(h, 0, CK_HDR);
  uint64_t n = s->vis_n;
  uint8_t *e = wb_take(w, n * CK_ENT);
  if (!e && n) return EVS_ENOMEM;
  for (uint64_t rel = 0; rel < n; rel += ENT_CHUNK) {
    const evs_ent *c = evs_ent_at(x, rel);
    uint64_t k = EVS_MIN((uint64_t)ENT_CHUNK, n - rel);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    _Static_assert(sizeof(evs_ent) == CK_ENT, "evs_ent is the on-disk entry");
    memcpy(e + rel * CK_ENT, c, k * CK_ENT);
#else
    for (uint64_t j = 0; j < k; j++) {
      uint8_t *o = e + (rel + j) * CK_ENT;
      put_u64(o, (uint64_t)c[j].created_us);
      put_u64(o + 8, (uint64_t)c[j].acked_us);
      put_u32(o + 16, c[j].off);
      put_u16(o + 20, c[j].slot);
      o[22] = c[j].flags;
      o[23] = 0;
    }
#endif
  }
  uint32_t nsrc = put_names(w, x, &x->sources);
  uint32_t ntyp = put_names(w, x, &x->types);
  uint8_t *q = wb_take(w, x->idem_size * 8 + 8);
  if (w->oom) return EVS_ENOMEM;
  for (size_t i = 0; i < x->idem_size; i++) {
    put_u32(q + 8 * i, x->idem[i].tag);
    put_u32(q + 8 * i + 4, x->idem[i].rel);
  }
  h = w->p;
  memcpy(h, CK_MAGIC, 8);
  put_u32(h + H_VERSION, EVS_FORMAT_VERSION);
  put_u32(h + H_HDRLEN, CK_HDR);
  put_u64(h + H_STORE, s->meta.store_id);
  put_u64(h + H_LAYOUT, s->man_layout);
  put_u64(h + H_SEGNO, g->no);
  put_u64(h + H_OFF, g->size);
  put_u64(h + H_MARK, log_mark(g, g->size));
  put_u64(h + H_BASE, x->base);
  put_u64(h + H_N, n);
  put_u64(h + H_PENDING, s->npending);
  put_u64(h + H_ACKED, s->nacked);
  put_u64(h + H_PBYTES, s->payload_bytes);
  put_u64(h + H_PSTORED, s->payload_stored);
  put_u64(h + H_LASTCR, (uint64_t)s->last_created);
  put_u64(h + H_IDEMSZ, x->idem_size);
  put_u64(h + H_IDEMUSED, x->idem_used);
  put_u32(h + H_NSRC, nsrc);
  put_u32(h + H_NTYP, ntyp);
  put_u64(h + H_WRITTEN, (uint64_t)evs_now(s));
  put_u64(w->p + w->n - 8, XXH3_64bits(w->p, w->n - 8));
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

/* ---- Reading ----------------------------------------------------------- */

/* Structural check of the names section; *end is where the keys begin. */
static int walk_names(const uint8_t *p, size_t n, size_t at, uint32_t count,
                      uint64_t nent, size_t *end) {
  for (uint32_t i = 0; i < count; i++) {
    if (n - at < 4) return -1;
    uint32_t len = get_u32(p + at);
    at += 4;
    if (!len || len > EVS_MAX_NAME || n - at < (size_t)len + 4) return -1;
    at += len;
    uint32_t cnt = get_u32(p + at);
    at += 4;
    if (n - at < (size_t)cnt * 4) return -1;
    for (uint32_t k = 0; k < cnt; k++) {
      uint32_t rel = get_u32(p + at + 4 * (size_t)k);
      if (rel >= nent || (k && rel <= get_u32(p + at + 4 * (size_t)(k - 1)))) return -1;
    }
    at += (size_t)cnt * 4;
  }
  *end = at;
  return 0;
}

int evs_checkpoint_find(evs_store *s, size_t *seg, uint64_t *off) {
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
  int ok = n >= CK_HDR + 8 && !memcmp(p, CK_MAGIC, 8) &&
           get_u64(p + n - 8) == XXH3_64bits(p, n - 8) &&
           get_u32(p + H_VERSION) == EVS_FORMAT_VERSION && get_u32(p + H_HDRLEN) == CK_HDR &&
           get_u64(p + H_STORE) == s->meta.store_id;
  /* Whatever else it is (stale, for another layout), a checkpoint that
  ** checks out was written after the log up to its position was synced. */
  if (ok) {
    s->vouch_segno = get_u64(p + H_SEGNO);
    s->vouch_off = get_u64(p + H_OFF);
  }
  uint64_t nent = ok ? get_u64(p + H_N) : 0, isz = ok ? get_u64(p + H_IDEMSZ) : 0;
  size_t names_end = 0;
  ok = ok && nent < UINT32_MAX && isz >= 1 && isz < ((uint64_t)1 << 34) &&
       get_u64(p + H_IDEMUSED) < isz && (n - CK_HDR - 8) / CK_ENT >= nent &&
       !walk_names(p, n - 8, CK_HDR + nent * CK_ENT,
                   get_u32(p + H_NSRC) + get_u32(p + H_NTYP), nent, &names_end) &&
       n - 8 - names_end == isz * 8;
  if (!ok) {
    free(p);
    return 0;
  }
  /* Does it index this log? Same layout (no compaction since), and its
  ** position lies in a listed segment, vouched for by the record there. */
  s->ckpt_state = EVS_CHECKPOINT_STALE;
  uint64_t segno = get_u64(p + H_SEGNO), pos = get_u64(p + H_OFF);
  size_t i = 0;
  while (i < s->nsegs && s->segs[i]->no != segno) i++;
  if (get_u64(p + H_LAYOUT) != s->man_layout || i == s->nsegs || pos < EVS_SEG_HDR ||
      pos > s->segs[i]->size || !mark_intact(s->segs[i], pos) ||
      log_mark(s->segs[i], pos) != get_u64(p + H_MARK)) {
    free(p);
    return 0;
  }
  /* Every entry of an event must point into a listed segment. */
  for (uint64_t rel = 0; rel < nent; rel++) {
    const uint8_t *o = p + CK_HDR + rel * CK_ENT;
    uint16_t slot = get_u16(o + 20);
    if ((o[22] & ENT_LIVE) &&
        (slot >= s->nslots || !s->slots[slot] || get_u32(o + 16) >= s->slots[slot]->size)) {
      s->ckpt_state = EVS_CHECKPOINT_CORRUPT;
      free(p);
      return 0;
    }
  }
  s->ckpt_state = EVS_CHECKPOINT_LOADED;
  s->ckpt_buf = p;
  *seg = i;
  *off = pos;
  return 0;
}

int evs_checkpoint_load(evs_store *s) {
  const uint8_t *p = s->ckpt_buf;
  evs_index *x = &s->idx;
  uint64_t nent = get_u64(p + H_N);
  int rc = 0;
  x->base = get_u64(p + H_BASE);
  for (uint64_t rel = 0; rel < nent && !rc; rel += ENT_CHUNK) {
    size_t ci = (size_t)(rel >> ENT_CHUNK_BITS);
    if (evs_grow((void **)&x->chunks, &x->chunks_cap, ci + 1, sizeof(void *)) ||
        !(x->chunks[ci] = malloc(ENT_CHUNK * sizeof(evs_ent)))) {
      rc = EVS_ENOMEM;
      break;
    }
    x->nchunks = ci + 1;
    uint64_t k = EVS_MIN((uint64_t)ENT_CHUNK, nent - rel);
    const uint8_t *src = p + CK_HDR + rel * CK_ENT;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(x->chunks[ci], src, k * CK_ENT);
#else
    for (uint64_t j = 0; j < k; j++) {
      evs_ent *c = &x->chunks[ci][j];
      const uint8_t *o = src + j * CK_ENT;
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
  size_t at = CK_HDR + nent * CK_ENT;
  uint32_t nn = get_u32(p + H_NSRC) + get_u32(p + H_NTYP);
  for (uint32_t i = 0; i < nn && !rc; i++) {
    uint32_t len = get_u32(p + at), cnt = get_u32(p + at + 4 + len);
    uint32_t *rels = malloc((cnt ? cnt : 1) * sizeof *rels);
    if (!rels) {
      rc = EVS_ENOMEM;
      break;
    }
    for (uint32_t k = 0; k < cnt; k++) rels[k] = get_u32(p + at + 8 + len + 4 * (size_t)k);
    rc = evs_index_list_load(x, i >= get_u32(p + H_NSRC), (const char *)p + at + 4, len,
                             rels, cnt);
    free(rels);
    at += 8 + len + 4 * (size_t)cnt;
  }
  if (!rc) {
    size_t isz = (size_t)get_u64(p + H_IDEMSZ);
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
      x->idem_used = (size_t)get_u64(p + H_IDEMUSED);
    }
  }
  if (!rc) {
    s->npending = get_u64(p + H_PENDING);
    s->nacked = get_u64(p + H_ACKED);
    s->payload_bytes = get_u64(p + H_PBYTES);
    s->payload_stored = get_u64(p + H_PSTORED);
    s->last_created = (int64_t)get_u64(p + H_LASTCR);
  }
  free(s->ckpt_buf);
  s->ckpt_buf = NULL;
  return rc ? evs_err(s, rc, "out of memory loading the checkpoint") : 0;
}
