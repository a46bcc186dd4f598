/*
** txn.c: the write transaction. Begin, commit (group commit of the sync),
** rollback, savepoints, the transaction's record buffer and its overlay of
** acks and deletes, and what a reader or the transaction sees of an entry.
** A transaction encodes records into its buffer and adds appended events
** to the index at once (invisible to other readers until commit moves
** vis_n); acks and deletes wait in the overlay until commit. The calls
** that write through a transaction are in write.c.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "dict.h"
#include "error.h"
#include "log.h"
#include "replay.h"
#include "store.h"
#include "txn.h"
#include "util.h"

#define FLUSH_AT (4u << 20) /* write big transactions out in 4 MiB pieces */

/* ---- Transaction plumbing ---------------------------------------------- */

void evs_txn_free(evs_txn *t) {
  if (!t) return;
  free(t->u.buf);
  free(t->ov);
  free(t->ovlog);
  free(t->marks);
  free(t->idem_undo);
  free(t->touched);
  free(t->lops);
  free(t);
}

/* Buffers up to these sizes pass from one transaction to the next, so a
** stream of small commits (a consumer's claims and acks) allocates none. */
#define SPARE_BUF (256u << 10)
#define SPARE_SLOTS 4096u
#define SPARE_OV 256u /* overlay slots: a commit walks them all */

/* Keep t's buffers for the next transaction (caller holds wmu); a handle
** is never reused, so a stale one can never name a later transaction. */
static void keep_spare(evs_store *s, evs_txn *t) {
  evs_txn *k = s->txn_spare;
  if (!k && !(k = s->txn_spare = calloc(1, sizeof *k))) return;
#define KEEP(f, cap, lim)                                        \
  if (!k->f && t->f && t->cap <= (lim)) k->f = t->f, k->cap = t->cap, t->f = NULL
  KEEP(u.buf, cap, SPARE_BUF);
  KEEP(ovlog, ovlog_cap, SPARE_SLOTS);
  KEEP(lops, lops_cap, SPARE_SLOTS);
  KEEP(touched, touched_cap, SPARE_SLOTS);
  KEEP(idem_undo, idem_cap, SPARE_SLOTS);
#undef KEEP
  if (!k->ov && t->ov && t->ov_mask < SPARE_OV) {
    if (t->ov_used) memset(t->ov, 0, (t->ov_mask + 1) * sizeof *t->ov);
    k->ov = t->ov, k->ov_mask = t->ov_mask, t->ov = NULL;
  }
}

static void take_spare(evs_store *s, evs_txn *t) {
  evs_txn *k = s->txn_spare;
  if (!k) return;
#define TAKE(f, cap) t->f = k->f, t->cap = k->cap, k->f = NULL, k->cap = 0
  TAKE(u.buf, cap);
  TAKE(ovlog, ovlog_cap);
  TAKE(lops, lops_cap);
  TAKE(touched, touched_cap);
  TAKE(idem_undo, idem_cap);
  TAKE(ov, ov_mask);
#undef TAKE
}

/* The end of t, committed or not: the store has no transaction, the
** writer is free, the handle is gone. */
static void end_of_txn(evs_txn *t) {
  evs_store *s = t->s;
  __atomic_store_n(&s->txn, NULL, __ATOMIC_RELEASE);
  keep_spare(s, t);
  evs_writer_unlock(s);
  evs_txn_free(t);
}

static int begin(evs_store *s, evs_txn **out, int internal, int timeout_ms, int leases) {
  *out = NULL;
  int lrc = evs_writer_lock_timeout(s, timeout_ms);
  if (lrc) return lrc;
  int rc = evs_check_writable(s);
  if (!rc) rc = evs_log_roll_if_full(s);
  if (!rc && leases) rc = evs_log_use_leases(s);
  evs_txn *t = rc ? NULL : calloc(1, sizeof *t);
  if (!rc && !t) rc = evs_err(s, EVS_ENOMEM, "out of memory");
  if (rc) {
    evs_writer_unlock(s);
    return rc;
  }
  t->s = s;
  take_spare(s, t);
  t->internal = internal;
  t->u.start = s->cur->size;
  t->n0 = s->state.idx.n;
  t->stamp = ++s->txn_seq;
  t->last_created = s->state.last_created;
  __atomic_store_n(&s->txn, t, __ATOMIC_RELEASE);
  *out = t;
  return 0;
}

int evs_txn_begin_internal(evs_store *s, evs_txn **out, int internal) {
  return begin(s, out, internal, -1, 0);
}

int evs_txn_begin_leases(evs_store *s, evs_txn **out) {
  return begin(s, out, 1, -1, 1);
}

int evs_txn_use_leases(evs_txn *t) {
  evs_store *s = t->s;
  if (s->cur->flags & EVS_SEG_LEASES) return 0;
  if (t->nrec || t->u.len || t->u.flushed)
    return evs_err(s, EVS_EINVAL,
                   "the store's first delayed event or event with an ordering key must "
                   "begin its transaction (it starts the segment format that holds them)");
  int rc = evs_log_use_leases(s);
  if (!rc) t->u.start = s->cur->size;
  return rc;
}

int evs_lop_put(evs_txn *t, int op, uint64_t id, uint64_t token, int64_t until_us) {
  if (evs_grow((void **)&t->lops, &t->lops_cap, t->nlops + 1, sizeof *t->lops))
    return evs_err(t->s, EVS_ENOMEM, "out of memory");
  t->lops[t->nlops++] = (evs_lop){id, token, until_us, op};
  return 0;
}

int evs_txn_begin(evs_store *s, evs_txn **out) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and out are required");
  return begin(s, out, 0, -1, 0);
}

int evs_txn_begin_timeout(evs_store *s, int timeout_ms, evs_txn **out) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and out are required");
  return begin(s, out, 0, timeout_ms < 0 ? 0 : timeout_ms, 0);
}

int evs_txn_check(const evs_store *s, const evs_txn *t) {
  /* A finished handle is freed memory (the header says never to pass
  ** one), so reading t->s can only be trusted for a live handle: one of
  ** another store, or a stray pointer that happens to look like one. */
  if (t->s != s)
    return evs_err(s, EVS_EMISUSE, "transaction does not belong to this store");
  if (__atomic_load_n(&s->txn, __ATOMIC_ACQUIRE) != t)
    return evs_err(s, EVS_EMISUSE, "the transaction is not the store's open "
                                   "transaction (finished?)");
  return 0;
}

/* Resolve the transaction a call works in: the caller's, or a new one. */
int evs_txn_use(evs_store *s, evs_txn *txn, evs_txn **t) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (txn) {
    int rc = evs_txn_check(s, txn);
    if (!rc) *t = txn;
    return rc;
  }
  return evs_txn_begin_internal(s, t, 1);
}

evs_ov *evs_ov_find(const evs_txn *t, uint64_t id) {
  if (!t || !t->ov_used) return NULL;
  for (size_t i = evs_hash_id(id) & t->ov_mask;; i = (i + 1) & t->ov_mask) {
    if (!t->ov[i].id) return NULL;
    if (t->ov[i].id == id) return &t->ov[i];
  }
}

static int ov_hash_put(evs_txn *t, uint64_t id, int op, int64_t at) {
  evs_ov *o = evs_ov_find(t, id);
  if (o) {
    /* Ops accumulate as the log's records do: ack then delete is both. */
    o->op |= op;
    if (op & OV_ACK) o->acked_us = at;
    return 0;
  }
  if (!t->ov || (t->ov_used + 1) * 10 > (t->ov_mask + 1) * 7) {
    size_t nm = t->ov ? t->ov_mask * 2 + 1 : 63;
    evs_ov *n = calloc(nm + 1, sizeof *n);
    if (!n) return EVS_ENOMEM;
    for (size_t i = 0; t->ov && i <= t->ov_mask; i++) {
      if (!t->ov[i].id) continue;
      size_t j = evs_hash_id(t->ov[i].id) & nm;
      while (n[j].id) j = (j + 1) & nm;
      n[j] = t->ov[i];
    }
    free(t->ov);
    t->ov = n;
    t->ov_mask = nm;
  }
  size_t j = evs_hash_id(id) & t->ov_mask;
  while (t->ov[j].id) j = (j + 1) & t->ov_mask;
  t->ov[j] = (evs_ov){id, at, op};
  t->ov_used++;
  return 0;
}

/* Record an ack or delete: in the hash (the final state) and in the log
** (so a savepoint can rebuild the hash as it was). */
int evs_ov_put(evs_txn *t, uint64_t id, int op, int64_t at) {
  if (evs_grow((void **)&t->ovlog, &t->ovlog_cap, t->novlog + 1, sizeof *t->ovlog))
    return EVS_ENOMEM;
  int rc = ov_hash_put(t, id, op, at);
  if (!rc) t->ovlog[t->novlog++] = (evs_ov){id, at, op};
  return rc;
}

/* Room for n more bytes of records; writes the buffer out when it is big
** so a transaction of any size runs in bounded memory. */
int evs_txn_reserve(evs_txn *t, size_t n) {
  evs_store *s = t->s;
  if (t->u.len && t->u.len + n > FLUSH_AT) {
    uint64_t at = t->u.start + t->u.flushed;
    pthread_rwlock_wrlock(&s->ilock);
    int rc = evs_log_reserve(s, s->cur, at + t->u.len);
    pthread_rwlock_unlock(&s->ilock);
    t->dirty = 1;
    if (!rc) rc = evs_log_write(s, t->u.buf, t->u.len, at);
    if (rc) return t->failed = rc;
    t->u.flushed += t->u.len;
    t->u.len = 0;
  }
  if (t->u.start + t->u.flushed + t->u.len + n > UINT32_MAX)
    return evs_err(s, EVS_ETOOBIG, "transaction exceeds the 4 GiB segment limit");
  if (evs_grow((void **)&t->u.buf, &t->cap, t->u.len + n, 1))
    return evs_err(s, EVS_ENOMEM, "out of memory");
  return 0;
}

/* Drop the index entries and keys added since n / nidem. */
static void undo_index(evs_txn *t, uint64_t n, size_t nidem) {
  evs_store *s = t->s;
  pthread_rwlock_wrlock(&s->ilock);
  for (size_t i = t->nidem; i-- > nidem;) {
    evs_idem_undo *u = &t->idem_undo[i];
    if (u->old == UINT32_MAX)
      evs_idem_del(&s->state.idx, u->hash, u->rel);
    else
      evs_idem_repoint(&s->state.idx, u->hash, u->rel, u->old);
  }
  evs_index_truncate(&s->state.idx, n, t->touched, t->ntouched);
  t->nidem = nidem;
  pthread_rwlock_unlock(&s->ilock);
}

static int finish_rollback(evs_txn *t) {
  evs_store *s = t->s;
  int rc = 0;
  if (t->dirty) {
    rc = evs_log_truncate(s, t->u.start);
    if (rc) evs_set_broken(s, rc, evs_errmsg(s));
  }
  undo_index(t, t->n0, 0);
  end_of_txn(t);
  return rc;
}

/* Make the overlay real; caller holds ilock exclusively. */
static void apply_overlay(evs_store *s, evs_txn *t) {
  evs_index *x = &s->state.idx;
  for (size_t i = 0; t->ov_used && i <= t->ov_mask; i++) {
    evs_ov *o = &t->ov[i];
    if (!o->id) continue;
    uint64_t rel = o->id - x->base;
    evs_ent *e = evs_ent_at(x, rel);
    /* In log order, as replay will apply the records. */
    if (o->op & OV_ACK) evs_mark_acked(&s->state, rel, e, o->acked_us);
    if (o->op & OV_DEL) evs_mark_deleted(s, &s->state, rel, e);
  }
}

/* Every lease op of t, in order, fits the state its event will be in
** (after t's acks and deletes): a record that replay would refuse must
** never reach the log. Each event's flags are carried from op to op in a
** small table by id, so a claim of 100 costs 100 steps, not 100^2.
** Caller holds ilock. */
typedef struct fit_slot {
  uint64_t id; /* 0 = empty */
  uint8_t f;
} fit_slot;

static int lops_fit(evs_store *s, const evs_txn *t) {
  const evs_index *x = &s->state.idx;
  size_t mask = 15;
  while (mask + 1 < 2 * t->nlops) mask = 2 * mask + 1;
  fit_slot small[256], *tab = mask < 256 ? small : calloc(mask + 1, sizeof *tab);
  if (!tab) return evs_err(s, EVS_ENOMEM, "out of memory");
  if (tab == small) memset(small, 0, (mask + 1) * sizeof *small);
  int rc = 0;
  for (size_t i = 0; i < t->nlops && !rc; i++) {
    const evs_lop *l = &t->lops[i];
    if (l->id < x->base || l->id - x->base >= x->n) continue;
    size_t j = evs_hash_id(l->id) & mask;
    while (tab[j].id && tab[j].id != l->id) j = (j + 1) & mask;
    if (!tab[j].id) { /* the event's first op: its state after t's acks and deletes */
      uint8_t f = evs_ent_at(x, l->id - x->base)->flags;
      const evs_ov *o = evs_ov_find(t, l->id);
      if (o) f |= (o->op & OV_ACK ? ENT_ACKED : 0) | (o->op & OV_DEL ? ENT_DELETED : 0);
      tab[j] = (fit_slot){l->id, f};
    }
    if (evs_lease_fits(&tab[j].f, l->op))
      rc = evs_err(s, EVS_ECORRUPT,
                   "internal error: a lease op (%d) does not fit event %" PRIu64
                   "'s state; nothing was written",
                   l->op, l->id);
  }
  if (tab != small) free(tab);
  return rc;
}

static int finish_commit(evs_txn *t) {
  evs_store *s = t->s;
  int rc = t->failed;
  if (rc) {
    rc = evs_err(s, rc, "transaction failed to write earlier (%s); rolled back",
                 evs_strerror(rc));
    finish_rollback(t);
    return rc;
  }
  if (!t->nrec) {
    end_of_txn(t);
    return 0;
  }
  rc = evs_txn_reserve(t, EVS_COMMIT_LEN);
  if (rc) goto fail;
  /* Whatever applying the lease ops needs is had before the log is
  ** written: after it, applying them cannot fail. */
  uint32_t consumer = 0;
  if (t->nlops) {
    pthread_rwlock_wrlock(&s->ilock);
    evs_leases *ls = &s->state.idx.leases;
    rc = t->consumer ? evs_consumer_intern(ls, t->consumer, t->consumer_len, &consumer) : 0;
    if (!rc) rc = evs_leases_reserve(ls, t->nlops);
    if (rc) {
      pthread_rwlock_unlock(&s->ilock);
      rc = evs_err(s, rc, "out of memory");
      goto fail;
    }
    rc = lops_fit(s, t);
    pthread_rwlock_unlock(&s->ilock);
    if (rc) goto fail;
  }
  evs_commit_encode(t->u.buf + t->u.len, evs_now(s), t->nrec);
  t->u.len += EVS_COMMIT_LEN;
  uint64_t at = t->u.start + t->u.flushed, end = at + t->u.len;
  pthread_rwlock_wrlock(&s->ilock);
  rc = evs_log_reserve(s, s->cur, end);
  pthread_rwlock_unlock(&s->ilock);
  t->dirty = 1;
  if (!rc) rc = evs_log_write(s, t->u.buf, t->u.len, at);
  if (rc) goto fail;

  uint64_t added = s->state.idx.n - t->n0;
  pthread_rwlock_wrlock(&s->ilock);
  s->cur->size = end;
  s->state.npending += added;
  apply_overlay(s, t);
  for (size_t i = 0; i < t->nlops; i++) {
    const evs_lop *l = &t->lops[i];
    uint64_t rel = l->id - s->state.idx.base;
    if (rel >= s->state.idx.n) continue; /* (cannot happen: savepoints cut lops too) */
    /* Checked when queued, under this writer: it fits. */
    evs_mark_lease(&s->state, rel, evs_ent_at(&s->state.idx, rel), l->op, consumer, l->token,
                   l->until_us);
  }
  s->vis_n = s->state.idx.n;
  /* Leases that ended since are claimable again: back in ready. */
  evs_leases_expire(&s->state.idx, evs_now(s), s->opt.max_deliveries);
  s->state.payload_bytes += t->payload_bytes;
  s->state.payload_stored += t->payload_stored;
  s->state.last_created = t->last_created;
  evs_index_maybe_sweep(&s->state.idx, s->state.npending + s->state.ndead);
  pthread_rwlock_unlock(&s->ilock);

  /* An eventfd is signalled when a lease or a delay ends, as for a
  ** commit: tell the maintenance thread of an end sooner than it knows. */
  if (t->nlops && __atomic_load_n(&s->ev_fd, __ATOMIC_ACQUIRE) >= 0) {
    int64_t first = INT64_MAX, cur = __atomic_load_n(&s->lease_next, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < t->nlops; i++)
      if (t->lops[i].until_us > 0 && t->lops[i].until_us < first) first = t->lops[i].until_us;
    while (first < cur && !__atomic_compare_exchange_n(&s->lease_next, &cur, first, 0,
                                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    }
    if (first < cur) evs_notify(s, EVS_BG_LEASE);
  }
  uint64_t lsn = evs_lsn(s->cur->no, end);
  pthread_mutex_lock(&s->smu);
  s->log_bytes += end - t->u.start;
  s->ckpt_dirty = 1;
  int ckpt_due = s->opt.checkpoint_bytes > 0 &&
                 s->log_bytes - s->ckpt_log_bytes >= (uint64_t)s->opt.checkpoint_bytes;
  s->written_lsn = lsn;
  s->written_fd = s->cur->fd;
  pthread_mutex_unlock(&s->smu);
  end_of_txn(t);
  if (added) evs_events_arrived(s);
  if (ckpt_due && s->dir) evs_notify(s, EVS_BG_CKPT);
  /* Committed: training (which samples committed events) may count them. */
  if (added && __atomic_load_n(&s->dict_collect, __ATOMIC_RELAXED)) evs_dict_count(s, added);
  if (s->opt.sync == EVS_SYNC_FULL && s->dir) return evs_log_sync_upto(s, lsn);
  return 0;

fail:;
  /* Nothing of a failed commit may survive: cut the file back. */
  char why[512];
  snprintf(why, sizeof why, "%s", evs_errmsg(s));
  finish_rollback(t);
  return evs_err(s, rc, "%s", why);
}

/* t is an open transaction: not NULL, and its store's open one. */
static int check_open(const evs_txn *t) {
  if (!t) return evs_err(NULL, EVS_EMISUSE, "transaction is NULL");
  return evs_txn_check(t->s, t);
}

int evs_txn_commit(evs_txn *t) {
  int rc = check_open(t);
  return rc ? rc : finish_commit(t);
}

int evs_txn_rollback(evs_txn *t) {
  int rc = check_open(t);
  return rc ? rc : finish_rollback(t);
}

/* ---- Savepoints -------------------------------------------------------- */

static int check_level(const evs_txn *t, int n) {
  int rc = check_open(t);
  if (!rc && (n < 0 || n > EVS_SAVEPOINT_MAX))
    rc = evs_err(t->s, EVS_EMISUSE, "savepoint %d is out of range 0..%d", n,
                 EVS_SAVEPOINT_MAX);
  return rc;
}

static evs_mark mark_now(const evs_txn *t) {
  evs_mark m = {t->u.flushed + t->u.len, t->nrec,          t->s->state.idx.n,
                t->nidem,           t->novlog,         t->payload_bytes,
                t->payload_stored,  t->last_created,   t->nlops};
  return m;
}

int evs_txn_savepoint(evs_txn *t, int n) {
  int rc = check_level(t, n);
  if (rc) return rc;
  if (evs_grow((void **)&t->marks, &t->marks_cap, (size_t)n + 1, sizeof *t->marks))
    return evs_err(t->s, EVS_ENOMEM, "out of memory");
  /* Skipped levels: with none open they were opened before this
  ** transaction wrote (as when SQLite brings a table in at level n): its
  ** start. With some open, the present state, so levels stay nested. */
  evs_mark start = {0, 0, t->n0, 0, 0, 0, 0, t->s->state.last_created, 0};
  evs_mark fill = t->nmarks ? mark_now(t) : start;
  for (int i = t->nmarks; i < n; i++) t->marks[i] = fill;
  t->marks[n] = mark_now(t);
  t->nmarks = n + 1;
  return 0;
}

int evs_txn_release(evs_txn *t, int n) {
  int rc = check_level(t, n);
  if (rc) return rc;
  if (n < t->nmarks) t->nmarks = n;
  return 0;
}

/* Undo everything t did since m. */
static int undo_to(evs_txn *t, const evs_mark *m) {
  evs_store *s = t->s;
  int rc;
  if (m->bytes < t->u.flushed) {
    /* Part of what is undone is in the file already: cut it off. */
    if ((rc = evs_log_truncate(s, t->u.start + m->bytes))) {
      evs_set_broken(s, rc, evs_errmsg(s));
      return rc;
    }
    t->u.flushed = m->bytes;
    t->u.len = 0;
  } else {
    t->u.len = m->bytes - t->u.flushed;
  }
  t->nrec = m->nrec;
  t->payload_bytes = m->payload_bytes;
  t->payload_stored = m->payload_stored;
  t->last_created = m->last_created;
  t->nlops = m->nlops;
  undo_index(t, m->n, m->nidem);
  /* Rebuild the overlay as it was: replay the log up to the mark. */
  if (t->ov) memset(t->ov, 0, (t->ov_mask + 1) * sizeof *t->ov);
  t->ov_used = 0;
  t->novlog = m->novlog;
  for (size_t i = 0; i < t->novlog; i++)
    if (ov_hash_put(t, t->ovlog[i].id, t->ovlog[i].op, t->ovlog[i].acked_us))
      return evs_err(s, EVS_ENOMEM, "out of memory");
  return 0;
}

int evs_txn_rollback_to(evs_txn *t, int n) {
  int rc = check_level(t, n);
  if (rc) return rc;
  evs_mark m = n < t->nmarks ? t->marks[n]
                             : (evs_mark){0, 0, t->n0, 0, 0, 0, 0, t->s->state.last_created, 0};
  if ((rc = undo_to(t, &m))) return rc;
  /* n stays open; a level never opened meant the start: none stay open. */
  t->nmarks = n < t->nmarks ? n + 1 : 0;
  return 0;
}

evs_mark evs_txn_mark(const evs_txn *t) { return mark_now(t); }

int evs_txn_end_call_at(evs_txn *t, int rc, const evs_mark *m) {
  if (t->internal || !rc) return evs_txn_end_call(t, rc);
  /* The caller's transaction: the failed call leaves nothing in it. */
  evs_mark now = mark_now(t);
  if (now.bytes == m->bytes && now.n == m->n && now.nidem == m->nidem &&
      now.novlog == m->novlog && now.nlops == m->nlops)
    return rc; /* it wrote nothing */
  char why[512];
  snprintf(why, sizeof why, "%s", evs_errmsg(t->s));
  int urc = undo_to(t, m);
  return urc ? urc : evs_err(t->s, rc, "%s", why);
}

/* End an autocommit call's transaction: commit when ok, else roll back. */
int evs_txn_end_call(evs_txn *t, int rc) {
  if (!t->internal) return rc;
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", evs_errmsg(t->s));
    evs_store *s = t->s;
    finish_rollback(t);
    return evs_err(s, rc, "%s", why);
  }
  return finish_commit(t);
}

/* ---- Visibility -------------------------------------------------------- */

int evs_visible(const evs_store *s, const evs_txn *t, uint64_t id,
                evs_ent *out, int64_t *acked_us) {
  const evs_index *x = &s->state.idx;
  uint64_t n = t ? x->n : s->vis_n;
  if (id < x->base || id - x->base >= n) return EVS_ENOTFOUND;
  evs_ent e = *evs_ent_at(x, id - x->base);
  if (!(e.flags & ENT_LIVE) || (e.flags & ENT_DELETED)) return EVS_ENOTFOUND;
  const evs_ov *o = evs_ov_find(t, id);
  if (o && (o->op & OV_DEL)) return EVS_ENOTFOUND;
  if (o) {
    e.flags |= ENT_ACKED;
    e.acked_us = o->acked_us;
  }
  if (s->opt.retention_us > 0 &&
      e.created_us < evs_time_minus(evs_now(s), s->opt.retention_us))
    return EVS_ENOTFOUND;
  *out = e;
  if (acked_us) *acked_us = e.acked_us;
  return 0;
}
