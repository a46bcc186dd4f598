/*
** compact.c: compaction. An explicit pass first seals the open segment
** when its dead share passes compact_dead_percent. Sealed segments whose
** events are all dead (deleted, expired, or acknowledged with no
** idempotency key still in its window) are removed; those whose dead
** share passes compact_dead_percent are rewritten into a new segment file
** holding the live event records byte for byte (same ids, times, payload
** bytes) and the acks/deletes still needed by events elsewhere. Each step
** is crash-safe: the new file is synced, then the manifest switches to it
** atomically, then the old file is retired. Writers are held only while
** the index is repointed.
*/
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abi.h"
#include "checkpoint.h"
#include "compact.h"
#include "error.h"
#include "log.h"
#include "replay.h"
#include "store.h"
#include "txn.h"
#include "util.h"

/* ---- What is dead ------------------------------------------------------- */

/* Is the event of entry e dead at `now`? Caller holds ilock. */
static int ent_dead(const evs_store *s, const evs_ent *e, int64_t now) {
  if (!(e->flags & ENT_LIVE) || (e->flags & ENT_DELETED)) return 1;
  if (s->opt.retention_us > 0 && e->created_us < evs_time_minus(now, s->opt.retention_us))
    return 1;
  if (!(e->flags & ENT_ACKED)) return 0;
  /* Acknowledged: kept while its idempotency key must still match. */
  if (!(e->flags & ENT_KEY)) return 1;
  return s->opt.idempotency_window_us > 0 &&
         e->created_us < evs_time_minus(now, s->opt.idempotency_window_us);
}

/* Ids of segs[i] lie in [first_id, next segment's first_id) (the open
** one's: up to the last committed). Count its events, and the dead ones,
** from the index alone. Holds ilock (read). */
static void seg_counts(const evs_store *s, size_t i, int64_t now, uint64_t *n, uint64_t *dead) {
  const evs_index *x = &s->state.idx;
  const evs_seg *g = s->segs[i];
  uint64_t lo = g->first_id, hi = i + 1 < s->nsegs ? s->segs[i + 1]->first_id : UINT64_MAX;
  lo = EVS_MAX(lo, x->base);
  hi = EVS_MIN(hi, x->base + s->vis_n);
  uint16_t slot = (uint16_t)(g->no % EVS_SLOTS);
  *n = *dead = 0;
  for (uint64_t id = lo; id < hi; id++) {
    const evs_ent *e = evs_ent_at(x, id - x->base);
    if (!(e->flags & ENT_LIVE) || e->slot != slot) continue;
    (*n)++;
    if (ent_dead(s, e, now)) (*dead)++;
  }
}

void evs_compact_estimate(evs_store *s, uint64_t *dead, uint64_t *total) {
  int64_t now = evs_now(s);
  *dead = *total = 0;
  pthread_rwlock_rdlock(&s->ilock);
  for (size_t i = 0; i + 1 < s->nsegs; i++) {
    uint64_t n, d, sz = s->segs[i]->size - EVS_SEG_HDR;
    seg_counts(s, i, now, &n, &d);
    *total += sz;
    *dead += n ? sz * d / n : sz;
  }
  *total += s->cur->size - EVS_SEG_HDR;
  pthread_rwlock_unlock(&s->ilock);
}

/* A segment without events: does it hold acks, deletes or lease records
** of events that are gone (so rewriting it shrinks it)? Holds ilock
** (read). */
static int acks_stale(const evs_store *s, const evs_seg *g) {
  const evs_index *x = &s->state.idx;
  for (uint64_t pos = EVS_SEG_HDR; pos < g->size;) {
    const uint8_t *r = g->base + pos;
    uint32_t len = evs_rec_len(r);
    uint8_t type = evs_rec_type(r);
    pos += len;
    const uint8_t *ids;
    uint32_t cnt;
    evs_lease_rec l;
    /* A damaged record: rewriting stops at it with the error. */
    if (type == EVS_REC_LEASE) {
      if (evs_lease_decode(r, len, &l)) return 1;
      ids = l.ids;
      cnt = l.count;
    } else if (type != EVS_REC_ACK && type != EVS_REC_DELETE) {
      continue;
    } else if (evs_ids_decode(r, len, &ids, &cnt)) {
      return 1;
    }
    for (uint32_t i = 0; i < cnt; i++) {
      uint64_t id = evs_ids_at(ids, i);
      if (id < x->base || id - x->base >= x->n ||
          !(evs_ent_at(x, id - x->base)->flags & ENT_LIVE))
        return 1;
    }
  }
  return 0;
}

/* ---- Rewriting one segment --------------------------------------------- */

typedef struct moved {
  uint64_t rel;
  uint32_t off; /* new offset; UINT32_MAX = dropped */
} moved;

typedef struct rw {
  evs_store *s;
  evs_seg *ng;     /* the new segment (NULL: nothing to keep yet) */
  uint8_t *buf;    /* records not yet written */
  size_t len, cap;
  uint64_t pos;    /* next offset in the new segment */
  uint32_t nrec;   /* records since the last commit */
  moved *mv;
  size_t nmv, mvcap;
} rw;

static int rw_flush(rw *w) {
  if (!w->len) return 0;
  if (w->ng->fd < 0) { /* in memory: into the new segment's map */
    int rc = evs_log_reserve(w->s, w->ng, w->pos);
    if (rc) return rc;
    memcpy(w->ng->base + w->pos - w->len, w->buf, w->len);
    w->len = 0;
    return 0;
  }
  int e = evs_io_write_all(w->s->io, w->ng->fd, w->buf, w->len, (off_t)(w->pos - w->len));
  if (e) {
    char path[EVS_PATH_BUF];
    evs_seg_path(w->s, w->ng->no, path, sizeof path);
    return evs_err_io(w->s, -e, "write to", path);
  }
  w->len = 0;
  return 0;
}

/* Room for n more bytes (the buffer is written out between chunks of
** records, never while ilock is held). */
static uint8_t *rw_take(rw *w, size_t n) {
  if (evs_grow((void **)&w->buf, &w->cap, w->len + n, 1)) {
    evs_err(w->s, EVS_ENOMEM, "out of memory");
    return NULL;
  }
  uint8_t *p = w->buf + w->len;
  w->len += n;
  w->pos += n;
  return p;
}

/* Was rel's event dropped earlier in this rewrite? (w->mv is in record
** order, so by rel.) */
static int dropped_here(const rw *w, uint64_t rel) {
  size_t lo = 0, hi = w->nmv;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (w->mv[mid].rel < rel) lo = mid + 1;
    else hi = mid;
  }
  return lo < w->nmv && w->mv[lo].rel == rel && w->mv[lo].off == UINT32_MAX;
}

/* Keep a lease record for the ids whose events stay on disk, as ack
** records are kept: replay rebuilds delivery counts, leases and dead
** events from them. The op applies to each id alone, and a claim's tokens
** follow its ids' order, so a record that loses ids is cut into runs of
** kept ones, each its own record (a claim's with its run's first token). */
static int copy_lease(rw *w, const evs_index *x, const uint8_t *r, uint32_t len,
                      uint64_t segno, uint64_t at) {
  evs_lease_rec l;
  if (evs_lease_decode(r, len, &l))
    return evs_err(w->s, EVS_ECORRUPT, "segment %" PRIu64 ": damaged lease record at %" PRIu64,
                   segno, at);
  for (uint32_t i = 0; i < l.count;) {
    uint32_t k = i;
    for (; k < l.count; k++) {
      uint64_t id = evs_ids_at(l.ids, k);
      if (id < x->base || id - x->base >= x->n ||
          !(evs_ent_at(x, id - x->base)->flags & ENT_LIVE) || dropped_here(w, id - x->base))
        break;
    }
    if (k > i) {
      evs_lease_rec o = l;
      o.count = k - i;
      if (l.op == EVS_LEASE_CLAIM) o.token = l.token + i;
      uint8_t *p = rw_take(w, evs_lease_len(o.consumer_len, o.count));
      if (!p) return EVS_ENOMEM;
      evs_lease_encode(p, &o, NULL);
      /* The ids, in place (encode wrote the fixed part and the name). */
      uint8_t *ids = p + evs_lease_len(o.consumer_len, 0);
      memcpy(ids, l.ids + 8 * (size_t)i, 8 * (size_t)o.count);
      evs_lease_seal(p, &o);
      w->nrec++;
    }
    i = k + 1; /* past the id that is not kept */
  }
  return 0;
}

static int rw_moved(rw *w, uint64_t rel, uint32_t off) {
  if (evs_grow((void **)&w->mv, &w->mvcap, w->nmv + 1, sizeof *w->mv))
    return evs_err(w->s, EVS_ENOMEM, "out of memory");
  w->mv[w->nmv++] = (moved){rel, off};
  return 0;
}

/* Copy what still matters of g into w. Reads g through its mapping (a
** sealed segment never changes); the index under ilock (read). */
static int rewrite(rw *w, const evs_seg *g, int64_t now) {
  evs_store *s = w->s;
  evs_index *x = &s->state.idx;
  int rc = 0, locked = 0;
  size_t chunk = 0;
  /* The index is read under ilock (shared) in chunks of records, so a
  ** committing writer waits for at most one chunk; the buffer is written
  ** out between chunks. */
  for (uint64_t pos = EVS_SEG_HDR; pos < g->size && !rc;) {
    if (!locked) {
      if (w->len > (1u << 20) && (rc = rw_flush(w))) break;
      pthread_rwlock_rdlock(&s->ilock);
      locked = 1;
      chunk = 0;
    }
    const uint8_t *r = g->base + pos;
    uint32_t len = evs_rec_len(r);
    uint8_t type = evs_rec_type(r);
    /* Never copy damage: a segment open did not check (a checkpoint
    ** covered it) is checked record by record here. */
    if (!g->checked && evs_rec_check(r, g->size - pos, &len, &type) != 1) {
      char path[EVS_PATH_BUF];
      evs_seg_path(s, g->no, path, sizeof path);
      rc = evs_err(s, EVS_ECORRUPT, "segment %s: damaged record at offset %" PRIu64
                   " (compaction stopped; evs_verify tells more)", path, pos);
      break;
    }
    pos += len;
    if (type == EVS_REC_EVENT) {
      uint64_t rel = evs_ev_id(r) - x->base;
      if (ent_dead(s, evs_ent_at(x, rel), now)) {
        rc = rw_moved(w, rel, UINT32_MAX);
      } else {
        uint32_t off = (uint32_t)w->pos;
        uint8_t *p = rw_take(w, len);
        if (!p) {
          rc = EVS_ENOMEM;
          break;
        }
        memcpy(p, r, len); /* byte for byte: checksum, id, time, payload */
        w->nrec++;
        rc = rw_moved(w, rel, off);
      }
    } else if (type == EVS_REC_ACK || type == EVS_REC_DELETE) {
      /* Keep the ids whose events are still on disk after this step:
      ** live, and not one this rewrite drops (a replay would find the ack
      ** before any such event). */
      const uint8_t *ids;
      uint32_t cnt, keep = 0;
      if (evs_ids_decode(r, len, &ids, &cnt)) {
        rc = evs_err(s, EVS_ECORRUPT, "segment %" PRIu64 ": damaged id record at %" PRIu64,
                     g->no, pos - len);
        break;
      }
      uint8_t *p = rw_take(w, len); /* the most it needs */
      if (!p) {
        rc = EVS_ENOMEM;
        break;
      }
      for (uint32_t i = 0; i < cnt; i++) {
        uint64_t id = evs_ids_at(ids, i);
        if (id < x->base || id - x->base >= x->n) continue;
        if ((evs_ent_at(x, id - x->base)->flags & ENT_LIVE) && !dropped_here(w, id - x->base))
          evs_ids_set(p, type, keep++, id);
      }
      uint32_t nlen = keep ? evs_ids_len(type, keep) : 0;
      w->len -= len - nlen; /* give back what the kept ids do not use */
      w->pos -= len - nlen;
      if (keep) {
        evs_ids_encode(p, type, type == EVS_REC_ACK ? evs_ack_at(r) : 0, NULL, keep);
        w->nrec++;
      }
    } else if (type == EVS_REC_LEASE) {
      rc = copy_lease(w, x, r, len, g->no, pos - len);
    } else if (type == EVS_REC_COMMIT && w->nrec) {
      uint8_t *p = rw_take(w, EVS_COMMIT_LEN);
      if (!p) {
        rc = EVS_ENOMEM;
        break;
      }
      evs_commit_encode(p, evs_commit_time(r), w->nrec);
      w->nrec = 0;
    }
    chunk += len;
    if (chunk >= (64u << 10)) {
      pthread_rwlock_unlock(&s->ilock);
      locked = 0;
    }
  }
  if (locked) pthread_rwlock_unlock(&s->ilock);
  if (rc == EVS_ENOMEM) return evs_err(s, rc, "out of memory");
  return rc;
}

/* ---- One step: rewrite or remove segs[i] -------------------------------- */

static int64_t mono_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* A rewrite may drop the claim records that hold the highest lease token:
** the last token goes into the open segment first (a lease record of op
** SEQ), synced, so a replay of the log alone never hands a token out
** again. */
static int keep_token_floor(evs_store *s) {
  evs_txn *t;
  int rc = evs_writer_lock(s);
  if (rc) return rc;
  uint64_t seq = EVS_MAX(s->state.lease_seq,
                         __atomic_load_n(&s->lease_reserved, __ATOMIC_RELAXED));
  evs_writer_unlock(s);
  if (!seq) return 0;
  if ((rc = evs_txn_begin_leases(s, &t))) return rc;
  /* The reserved block too (lease.c): claims not synced use it. */
  seq = EVS_MAX(s->state.lease_seq, __atomic_load_n(&s->lease_reserved, __ATOMIC_RELAXED));
  evs_lease_rec l = {EVS_LEASE_SEQ, 0, evs_now(s), 0, seq, NULL, 0, NULL};
  uint32_t len = evs_lease_len(0, 0);
  if (!(rc = evs_txn_reserve(t, len))) {
    evs_lease_encode(t->u.buf + t->u.len, &l, NULL);
    t->u.len += len;
    t->nrec++;
  }
  rc = evs_txn_end_call(t, rc);
  return rc ? rc : evs_log_sync_all(s);
}

static int step(evs_store *s, size_t i, size_t j, int64_t now, evs_compact_report *rep,
                int *kept) {
  *kept = 0;
  int frc = keep_token_floor(s);
  if (frc) return frc;
  size_t nrun = j - i;
  evs_seg **run = malloc(nrun * sizeof *run);
  if (!run) return evs_err(s, EVS_ENOMEM, "out of memory");
  pthread_rwlock_rdlock(&s->ilock);
  memcpy(run, s->segs + i, nrun * sizeof *run);
  pthread_rwlock_unlock(&s->ilock);
  rw w = {s, NULL, NULL, 0, 0, EVS_SEG_HDR, 0, NULL, 0, 0};
  int rc = evs_writer_lock(s);
  if (rc) {
    free(run);
    return rc;
  }
  /* The slot of the run's first segment will do when every other is live
  ** (one of any EVS_SLOTS numbers in a row has it), so compaction can
  ** always make room. A free one is held against rolls until the switch. */
  uint64_t no = 0;
  evs_segno_take(s, run[0], &no);
  __atomic_store_n(&s->segno_held, no, __ATOMIC_RELAXED);
  evs_writer_unlock(s);
  if ((rc = evs_seg_create(s, no, run[0]->first_id, EVS_SEG_REWRITTEN | s->seg_flags, &w.ng)))
    goto fail;
  for (size_t k = 0; k < nrun && !rc; k++) rc = rewrite(&w, run[k], now);
  if (rc || (rc = rw_flush(&w))) goto fail;
  int keep = w.pos > EVS_SEG_HDR;
  if (keep) {
    if ((rc = evs_log_reserve(s, w.ng, w.pos))) goto fail;
    w.ng->size = w.pos;
    int e = w.ng->fd >= 0 ? s->io->fdatasync(s->io->ctx, w.ng->fd) : 0;
    if (e) {
      char path[EVS_PATH_BUF];
      evs_seg_path(s, no, path, sizeof path);
      rc = evs_err_io(s, -e, "fdatasync of", path);
      goto fail;
    }
  }
  /* Acks and deletes that made events dead must outlive their removal. */
  if ((rc = evs_log_sync_all(s))) goto fail;

  int64_t t0 = mono_us();
  if ((rc = evs_writer_lock(s))) goto fail;
  evs_seg **segs = malloc(s->nsegs * sizeof *segs);
  if (!segs) {
    evs_writer_unlock(s);
    rc = evs_err(s, EVS_ENOMEM, "out of memory");
    goto fail;
  }
  size_t n = 0;
  for (size_t k = 0; k < s->nsegs; k++)
    if (k < i || k >= j) segs[n++] = s->segs[k];
    else if (k == i && keep) segs[n++] = w.ng;
  uint16_t nslot = (uint16_t)(no % EVS_SLOTS);
  pthread_rwlock_wrlock(&s->ilock);
  rc = keep ? evs_slot_reserve(s, nslot) : 0;
  if (!rc && keep && s->slots[nslot]) {
    int ours = 0;
    for (size_t k = 0; k < nrun; k++) ours |= s->slots[nslot] == run[k];
    if (!ours) rc = evs_err(s, EVS_ECORRUPT, "more than %d live segments", EVS_SLOTS);
  }
  pthread_rwlock_unlock(&s->ilock);
  if (rc) {
    free(segs);
    evs_writer_unlock(s);
    goto fail;
  }
  int in_effect = 0;
  rc = evs_manifest_write(s, segs, n, s->man_layout + 1, &in_effect);
  if (!in_effect) {
    free(segs);
    evs_writer_unlock(s);
    goto fail;
  }
  int mrc = rc;
  /* The switch is made: repoint the index at the new segment. The old
  ** segments stay in the slot table until the loop is done (dropped
  ** events are read there one last time). */
  pthread_rwlock_wrlock(&s->ilock);
  evs_index *x = &s->state.idx;
  uint64_t removed = 0;
  for (size_t k = 0; k < w.nmv; k++) {
    evs_ent *e = evs_ent_at(x, w.mv[k].rel);
    if (w.mv[k].off != UINT32_MAX) {
      e->slot = nslot;
      e->off = w.mv[k].off;
      continue;
    }
    if (!(e->flags & ENT_LIVE)) continue;
    /* Counts, pending set and key as for a delete (the old segment is
    ** still in the slot table to read the key from), then a hole. */
    if (!(e->flags & ENT_DELETED)) evs_mark_deleted(s, &s->state, w.mv[k].rel, e);
    const uint8_t *r = s->slots[e->slot]->base + e->off;
    evs_event ev;
    int z;
    uint32_t raw;
    if (!evs_ev_decode(r, evs_rec_len(r), &ev, &z, &raw)) {
      s->state.payload_bytes -= raw;
      s->state.payload_stored -= ev.payload_len;
    }
    e->flags = 0; /* gone: a hole that keeps its time */
    e->acked_us = 0;
    removed++;
  }
  for (size_t k = 0; k < nrun; k++) s->slots[run[k]->no % EVS_SLOTS] = NULL;
  if (keep) s->slots[nslot] = w.ng;
  __atomic_store_n(&s->segno_held, 0, __ATOMIC_RELAXED);
  free(s->segs);
  s->segs = segs;
  s->segs_cap = s->nsegs;
  s->nsegs = n;
  pthread_rwlock_unlock(&s->ilock);
  pthread_mutex_lock(&s->smu);
  s->ckpt_dirty = 1;
  pthread_mutex_unlock(&s->smu);
  evs_writer_unlock(s);
  int64_t pause = mono_us() - t0;

  if (rep) {
    if (keep) rep->segments_rewritten += nrun;
    else rep->segments_removed += nrun;
    rep->events_removed += removed;
    if ((uint64_t)pause > rep->max_pause_us) rep->max_pause_us = (uint64_t)pause;
  }
  pthread_mutex_lock(&s->smu);
  s->compact_removed_events += removed;
  pthread_mutex_unlock(&s->smu);
  *kept = keep;
  if (!keep) evs_seg_free(s, w.ng); /* its empty file goes below */
  /* Retire the old files once the switch is durable; if the directory
  ** sync failed, leave them (orphans the next open removes). */
  if (s->dir) {
    char path[EVS_PATH_BUF];
    if (!keep) {
      evs_seg_path(s, no, path, sizeof path);
      s->io->unlink(s->io->ctx, path);
    }
    for (size_t k = 0; k < nrun && !mrc; k++) {
      evs_seg_path(s, run[k]->no, path, sizeof path);
      s->io->unlink(s->io->ctx, path);
    }
  }
  free(w.buf);
  free(w.mv);
  for (size_t k = 0; k < nrun; k++)
    if (evs_seg_retire(s, run[k])) evs_seg_free(s, run[k]); /* out of memory: no page is newer */
  free(run);
  return mrc;

fail:
  __atomic_store_n(&s->segno_held, 0, __ATOMIC_RELAXED);
  if (w.ng) {
    if (s->dir) {
      char path[EVS_PATH_BUF];
      evs_seg_path(s, no, path, sizeof path);
      s->io->unlink(s->io->ctx, path);
    }
    evs_seg_free(s, w.ng);
  }
  free(w.buf);
  free(w.mv);
  free(run);
  return rc;
}

/* Is segs[i] worth rewriting on its own: compact_dead_percent of its
** events dead or more, or, holding none, acks/deletes of events that are
** gone? *n / *dead get its counts. Holds ilock (read). */
static int worth_rewriting(const evs_store *s, size_t i, int64_t now, uint64_t *n,
                           uint64_t *dead) {
  seg_counts(s, i, now, n, dead);
  if (*n) return *dead * 100 >= (uint64_t)s->opt.compact_dead_percent * *n;
  return acks_stale(s, s->segs[i]);
}

/* How compaction sees segs[i]: worth rewriting on its own (strong), or
** small enough to merge with a neighbour (weak); *live estimates the
** bytes a rewrite keeps. Holds ilock (read). */
static int judge(evs_store *s, size_t i, int64_t now, uint64_t *live) {
  uint64_t n, dead, body = s->segs[i]->size - EVS_SEG_HDR;
  int strong = worth_rewriting(s, i, now, &n, &dead);
  *live = n ? body - body * dead / n : 0;
  if (strong) return 2;
  return *live < s->opt.segment_size / 2 ? 1 : 0;
}

/* Seal the open segment (roll to a new one) when the same dead-share rule
** as for a sealed segment finds it worth compacting, so the pass after
** this can rewrite or remove it; *why says what became of it. Rolling is
** a commit's roll (evs_log_roll_now): under the writer, the old segment
** synced before the manifest names the new one, so a crash on either side
** of the manifest's rename leaves one consistent log. Holds cmu. */
static int seal_open(evs_store *s, int64_t now, uint64_t *why) {
  int rc = evs_writer_lock(s);
  if (rc) return rc;
  uint64_t n = 0, dead = 0;
  int empty = s->cur->size <= EVS_SEG_HDR;
  pthread_rwlock_rdlock(&s->ilock);
  int worth = !empty && worth_rewriting(s, s->nsegs - 1, now, &n, &dead);
  pthread_rwlock_unlock(&s->ilock);
  if (empty) {
    *why = EVS_COMPACT_OPEN_EMPTY;
  } else if (!worth) {
    /* Without events, what it holds are acks and deletes still needed. */
    *why = dead ? EVS_COMPACT_OPEN_BELOW : EVS_COMPACT_OPEN_LIVE;
  } else {
    int rolled;
    rc = evs_log_roll_now(s, &rolled);
    *why = rolled ? EVS_COMPACT_OPEN_SEALED : EVS_COMPACT_OPEN_NO_SLOT;
  }
  evs_writer_unlock(s);
  return rc;
}

int evs_compact_pass(evs_store *s, evs_compact_report *out, int automatic) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  evs_compact_report rep;
  memset(&rep, 0, sizeof rep);
  if (out) *out = rep;
  /* cmu comes before the writer (store.h): do not wait for it holding that. */
  if (evs_writer_held(s))
    return evs_err(s, EVS_EDEADLK, "this thread holds the write transaction");
  pthread_mutex_lock(&s->cmu);
  int rc = evs_check_writable(s);
  int64_t now = evs_now(s);
  pthread_rwlock_rdlock(&s->ilock);
  rep.bytes_before = evs_log_disk_bytes(s);
  rep.segments_before = s->nsegs;
  pthread_rwlock_unlock(&s->ilock);
  if (automatic) rep.open_segment = EVS_COMPACT_OPEN_AUTO;
  else if (!rc) rc = seal_open(s, now, &rep.open_segment);
  /* Segments are visited oldest first; each step replaces one, so the
  ** position of the next is found again after it. The last (open)
  ** segment (after seal_open: a new, empty one) is never touched; rolls
  ** only add after it. */
  /* Runs of neighbouring segments are merged into one (up to about a
  ** segment's size), so the segment count stays bounded too. A run is
  ** worth it with one strong member or two weak ones. */
  size_t i = 0;
  while (!rc) {
    pthread_rwlock_rdlock(&s->ilock);
    size_t j = i, strong = 0;
    uint64_t live = 0, l;
    while (j + 1 < s->nsegs) {
      int v = judge(s, j, now, &l);
      if (!v || (j > i && live + l > s->opt.segment_size)) break;
      strong += v == 2;
      live += l;
      j++;
    }
    int more = i + 1 < s->nsegs;
    pthread_rwlock_unlock(&s->ilock);
    if (!more) break;
    if (j == i) {
      rep.segments_kept++;
      i++;
      continue;
    }
    if (!strong && j - i < 2) {
      rep.segments_kept += j - i;
      i = j;
      continue;
    }
    int kept;
    rc = step(s, i, j, now, &rep, &kept);
    if (kept) i++; /* past the run's replacement */
  }
  /* Ids at the front whose events are all gone need no index entries:
  ** memory (and the checkpoint) stay bounded by the live span of ids. */
  if (!rc && (rep.segments_removed || rep.segments_rewritten) && !(rc = evs_writer_lock(s))) {
    pthread_rwlock_wrlock(&s->ilock);
    s->vis_n -= evs_index_rebase(&s->state.idx, s->vis_n);
    pthread_rwlock_unlock(&s->ilock);
    evs_writer_unlock(s);
    pthread_mutex_lock(&s->smu);
    s->compactions++;
    pthread_mutex_unlock(&s->smu);
    /* The old checkpoint names the old layout: replace it. */
    rc = evs_checkpoint_write(s);
  }
  pthread_rwlock_rdlock(&s->ilock);
  rep.bytes_after = evs_log_disk_bytes(s);
  rep.segments_after = s->nsegs;
  pthread_rwlock_unlock(&s->ilock);
  pthread_mutex_unlock(&s->cmu);
  if (out) *out = rep;
  return rc;
}

int evs_compact_sized(evs_store *s, evs_compact_report *out, size_t out_size) {
  evs_compact_report rep;
  int rc = evs_abi_out_check(s, "evs_compact_report", out, out_size,
                             EVS_COMPACT_REPORT_SIZE_VER0);
  if (rc) return rc;
  rc = evs_compact_pass(s, out ? &rep : NULL, 0);
  if (out && s) evs_abi_out(out, out_size, &rep, sizeof rep);
  return rc;
}
