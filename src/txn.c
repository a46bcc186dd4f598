/*
** txn.c: the write path. Validation of incoming events, the write
** transaction (begin, commit, rollback), and the writing calls: append,
** ack, delete and their batch forms. A transaction encodes records into
** its buffer and adds appended events to the index at once (invisible to
** other readers until commit moves vis_n); acks and deletes wait in an
** overlay until commit.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "abi.h"
#include "error.h"
#include "json.h"
#include "store.h"
#include "util.h"
#include "writer.h"

#define FLUSH_AT (4u << 20) /* write big transactions out in 4 MiB pieces */

/* ---- Validation -------------------------------------------------------- */


/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. Rejects
** overlongs, surrogates and code points above U+10FFFF. *cp gets it. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp) {
  unsigned c = p[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) return *cp = c, 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (p[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

static int check_name(evs_store *s, const char *what, const char *in,
                      const char **out, size_t *outlen) {
  if (!in) return evs_err(s, EVS_EINVAL, "%s is required", what);
  size_t n;
  in = evs_trim(in, &n);
  if (!n) return evs_err(s, EVS_EINVAL, "%s is empty", what);
  if (n > EVS_MAX_NAME)
    return evs_err(s, EVS_ETOOBIG, "%s is %zu bytes, limit is %d", what, n,
                   EVS_MAX_NAME);
  const unsigned char *p = (const unsigned char *)in;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = utf8_seq(p + i, n - i, &cp);
    if (!l) return evs_err(s, EVS_EINVAL, "%s is not valid UTF-8 (byte %zu)", what, i);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
      return evs_err(s, EVS_EINVAL, "%s contains a control character (byte %zu)",
                     what, i);
    i += l;
  }
  *out = in;
  *outlen = n;
  return 0;
}

static int check_json(evs_store *s, const char *what, const char *p, size_t n,
                      size_t limit) {
  if (n > limit)
    return evs_err(s, EVS_ETOOBIG, "%s is %zu bytes, limit is %zu", what, n, limit);
  if (s->opt.skip_json_validation) return 0;
  char why[160];
  if (evs_json_check_object(p, n, why, sizeof why))
    return evs_err(s, EVS_EJSON, "%s: %s", what, why);
  return 0;
}

static void prep_free(evs_prep *p) {
  free(p->z);
  p->z = NULL;
}

/* Validate ev into p, all but compressing its payload. */
static int prep_check(evs_store *s, const evs_event_in *ev, evs_prep *p) {
  memset(p, 0, sizeof *p);
  if (!ev) return evs_err(s, EVS_EINVAL, "event is NULL");
  int rc;
  if ((rc = check_name(s, "source", ev->source, &p->src, &p->srclen)) ||
      (rc = check_name(s, "event_type", ev->event_type, &p->typ, &p->typlen)))
    return rc;
  if (!ev->payload) return evs_err(s, EVS_EINVAL, "payload is required");
  p->payload = ev->payload;
  p->plen = ev->payload_len ? ev->payload_len : strlen(ev->payload);
  if ((rc = check_json(s, "payload", p->payload, p->plen, s->opt.max_payload)))
    return rc;
  if (ev->metadata) {
    p->meta = ev->metadata;
    p->mlen = ev->metadata_len ? ev->metadata_len : strlen(ev->metadata);
    if ((rc = check_json(s, "metadata", p->meta, p->mlen, s->opt.max_metadata)))
      return rc;
  }
  if (ev->idempotency_key) {
    p->idem = ev->idempotency_key;
    p->ilen = strlen(p->idem);
    if (!p->ilen) return evs_err(s, EVS_EINVAL, "idempotency_key is empty");
    if (p->ilen > EVS_MAX_IDEMPOTENCY_KEY)
      return evs_err(s, EVS_ETOOBIG, "idempotency_key is %zu bytes, limit is %d",
                     p->ilen, EVS_MAX_IDEMPOTENCY_KEY);
    /* Any character, but characters: bytes that are not UTF-8 have no
    ** JSON form, so an export could not carry the key. */
    const unsigned char *k = (const unsigned char *)p->idem;
    for (size_t i = 0; i < p->ilen;) {
      uint32_t cp;
      size_t l = utf8_seq(k + i, p->ilen - i, &cp);
      if (!l)
        return evs_err(s, EVS_EINVAL, "idempotency_key is not valid UTF-8 (byte %zu)", i);
      i += l;
    }
  }
  if (ev->priority < 0 || ev->priority > EVS_PRIORITY_HIGH)
    return evs_err(s, EVS_EINVAL, "priority %d is not 1 (low), 2 (normal) or 3 (high)",
                   ev->priority);
  p->prio = ev->priority ? ev->priority : EVS_PRIORITY_NORMAL;
  return 0;
}

/* The payload compressed, or NULL: too small, not worth it (saves less
** than 1/8), or no memory (*nomem set). Below compress_threshold only with
** the store's dictionary. */
static uint8_t *compress_payload(evs_store *s, const char *payload, size_t plen,
                                 size_t *zlen, int *nomem) {
  *zlen = 0;
  *nomem = 0;
  const ZSTD_CDict *cd = NULL;
  if (plen < s->opt.compress_threshold &&
      (plen < EVS_DICT_MIN || !(cd = __atomic_load_n(&s->cdict, __ATOMIC_ACQUIRE))))
    return NULL;
  size_t cap = ZSTD_compressBound(plen);
  uint8_t *z = malloc(cap);
  if (!z) {
    *nomem = 1;
    return NULL;
  }
  *zlen = evs_zstd_compress(s, cd, payload, plen, z, cap);
  if (*zlen) return z;
  free(z);
  return NULL;
}

/* Validate ev and compress its payload; the costly part of an append runs
** here, before the write transaction is taken. */
static int prep_event(evs_store *s, const evs_event_in *ev, evs_prep *p) {
  int rc = prep_check(s, ev, p), nomem;
  if (rc) return rc;
  p->z = compress_payload(s, p->payload, p->plen, &p->zlen, &nomem);
  return nomem ? evs_err(s, EVS_ENOMEM, "out of memory") : 0;
}

/* ---- Transaction plumbing ---------------------------------------------- */

void evs_txn_free(evs_txn *t) {
  if (!t) return;
  free(t->buf);
  free(t->ov);
  free(t->ovlog);
  free(t->marks);
  free(t->idem_undo);
  free(t->touched);
  free(t);
}

/* The end of t, committed or not: the store has no transaction, the
** writer is free, the handle is gone. */
static void end_of_txn(evs_txn *t) {
  evs_store *s = t->s;
  __atomic_store_n(&s->txn, NULL, __ATOMIC_RELEASE);
  evs_writer_unlock(s);
  evs_txn_free(t);
}

static int begin(evs_store *s, evs_txn **out, int internal, int timeout_ms) {
  *out = NULL;
  int lrc = evs_writer_lock_timeout(s, timeout_ms);
  if (lrc) return lrc;
  int rc = evs_check_writable(s);
  if (!rc) rc = evs_log_roll_if_full(s);
  evs_txn *t = rc ? NULL : calloc(1, sizeof *t);
  if (!rc && !t) rc = evs_err(s, EVS_ENOMEM, "out of memory");
  if (rc) {
    evs_writer_unlock(s);
    return rc;
  }
  t->s = s;
  t->internal = internal;
  t->start = s->cur->size;
  t->n0 = s->idx.n;
  t->stamp = ++s->txn_seq;
  t->last_created = s->last_created;
  __atomic_store_n(&s->txn, t, __ATOMIC_RELEASE);
  *out = t;
  return 0;
}

int evs_txn_begin_internal(evs_store *s, evs_txn **out, int internal) {
  return begin(s, out, internal, -1);
}

int evs_txn_begin(evs_store *s, evs_txn **out) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and out are required");
  return begin(s, out, 0, -1);
}

int evs_txn_begin_timeout(evs_store *s, int timeout_ms, evs_txn **out) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and out are required");
  return begin(s, out, 0, timeout_ms < 0 ? 0 : timeout_ms);
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
static int use_txn(evs_store *s, evs_txn *txn, evs_txn **t) {
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
  for (size_t i = XXH3_64bits(&id, 8) & t->ov_mask;; i = (i + 1) & t->ov_mask) {
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
      size_t j = XXH3_64bits(&t->ov[i].id, 8) & nm;
      while (n[j].id) j = (j + 1) & nm;
      n[j] = t->ov[i];
    }
    free(t->ov);
    t->ov = n;
    t->ov_mask = nm;
  }
  size_t j = XXH3_64bits(&id, 8) & t->ov_mask;
  while (t->ov[j].id) j = (j + 1) & t->ov_mask;
  t->ov[j] = (evs_ov){id, at, op};
  t->ov_used++;
  return 0;
}

/* Record an ack or delete: in the hash (the final state) and in the log
** (so a savepoint can rebuild the hash as it was). */
static int ov_put(evs_txn *t, uint64_t id, int op, int64_t at) {
  if (evs_grow((void **)&t->ovlog, &t->ovlog_cap, t->novlog + 1, sizeof *t->ovlog))
    return EVS_ENOMEM;
  int rc = ov_hash_put(t, id, op, at);
  if (!rc) t->ovlog[t->novlog++] = (evs_ov){id, at, op};
  return rc;
}

/* Room for n more bytes of records; writes the buffer out when it is big
** so a transaction of any size runs in bounded memory. */
static int buf_reserve(evs_txn *t, size_t n) {
  evs_store *s = t->s;
  if (t->len && t->len + n > FLUSH_AT) {
    uint64_t at = t->start + t->flushed;
    pthread_rwlock_wrlock(&s->ilock);
    int rc = evs_log_reserve(s, s->cur, at + t->len);
    pthread_rwlock_unlock(&s->ilock);
    t->dirty = 1;
    if (!rc) rc = evs_log_write(s, t->buf, t->len, at);
    if (rc) return t->failed = rc;
    t->flushed += t->len;
    t->len = 0;
  }
  if (t->start + t->flushed + t->len + n > UINT32_MAX)
    return evs_err(s, EVS_ETOOBIG, "transaction exceeds the 4 GiB segment limit");
  if (evs_grow((void **)&t->buf, &t->cap, t->len + n, 1))
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
      evs_idem_del(&s->idx, u->hash, u->rel);
    else
      evs_idem_repoint(&s->idx, u->hash, u->rel, u->old);
  }
  evs_index_truncate(&s->idx, n, t->touched, t->ntouched);
  t->nidem = nidem;
  pthread_rwlock_unlock(&s->ilock);
}

static int finish_rollback(evs_txn *t) {
  evs_store *s = t->s;
  int rc = 0;
  if (t->dirty) {
    rc = evs_log_truncate(s, t->start);
    if (rc) evs_set_broken(s, rc, evs_errmsg(s));
  }
  undo_index(t, t->n0, 0);
  end_of_txn(t);
  return rc;
}

/* Make the overlay real; caller holds ilock exclusively. */
static void apply_overlay(evs_store *s, evs_txn *t) {
  evs_index *x = &s->idx;
  for (size_t i = 0; t->ov && i <= t->ov_mask; i++) {
    evs_ov *o = &t->ov[i];
    if (!o->id) continue;
    uint64_t rel = o->id - x->base;
    evs_ent *e = evs_ent_at(x, rel);
    /* In log order, as replay will apply the records. */
    if (o->op & OV_ACK) evs_mark_acked(s, rel, e, o->acked_us);
    if (o->op & OV_DEL) evs_mark_deleted(s, rel, e);
  }
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
  rc = buf_reserve(t, EVS_COMMIT_LEN);
  if (rc) goto fail;
  uint8_t *c = t->buf + t->len;
  put_u64(c + 16, (uint64_t)evs_now(s));
  put_u32(c + 24, t->nrec);
  put_u32(c + 28, 0);
  evs_rec_seal(c, EVS_COMMIT_LEN, EVS_REC_COMMIT, 0);
  t->len += EVS_COMMIT_LEN;
  uint64_t at = t->start + t->flushed, end = at + t->len;
  pthread_rwlock_wrlock(&s->ilock);
  rc = evs_log_reserve(s, s->cur, end);
  pthread_rwlock_unlock(&s->ilock);
  t->dirty = 1;
  if (!rc) rc = evs_log_write(s, t->buf, t->len, at);
  if (rc) goto fail;

  uint64_t added = s->idx.n - t->n0;
  pthread_rwlock_wrlock(&s->ilock);
  s->cur->size = end;
  s->npending += added;
  apply_overlay(s, t);
  s->vis_n = s->idx.n;
  s->payload_bytes += t->payload_bytes;
  s->payload_stored += t->payload_stored;
  s->last_created = t->last_created;
  evs_index_maybe_sweep(&s->idx, s->npending);
  pthread_rwlock_unlock(&s->ilock);

  uint64_t lsn = evs_lsn(s->cur->no, end);
  pthread_mutex_lock(&s->smu);
  s->log_bytes += end - t->start;
  s->ckpt_dirty = 1;
  int ckpt_due = s->opt.checkpoint_bytes > 0 &&
                 s->log_bytes - s->ckpt_log_bytes >= (uint64_t)s->opt.checkpoint_bytes;
  s->written_lsn = lsn;
  s->written_fd = s->cur->fd;
  pthread_mutex_unlock(&s->smu);
  end_of_txn(t);
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
  evs_mark m = {t->flushed + t->len, t->nrec,          t->s->idx.n,
                t->nidem,           t->novlog,         t->payload_bytes,
                t->payload_stored,  t->last_created};
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
  evs_mark start = {0, 0, t->n0, 0, 0, 0, 0, t->s->last_created};
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

int evs_txn_rollback_to(evs_txn *t, int n) {
  int rc = check_level(t, n);
  if (rc) return rc;
  evs_store *s = t->s;
  evs_mark m = n < t->nmarks ? t->marks[n]
                             : (evs_mark){0, 0, t->n0, 0, 0, 0, 0, s->last_created};
  if (m.bytes < t->flushed) {
    /* Part of what is undone is in the file already: cut it off. */
    if ((rc = evs_log_truncate(s, t->start + m.bytes))) {
      evs_set_broken(s, rc, evs_errmsg(s));
      return rc;
    }
    t->flushed = m.bytes;
    t->len = 0;
  } else {
    t->len = m.bytes - t->flushed;
  }
  t->nrec = m.nrec;
  t->payload_bytes = m.payload_bytes;
  t->payload_stored = m.payload_stored;
  t->last_created = m.last_created;
  undo_index(t, m.n, m.nidem);
  /* Rebuild the overlay as it was: replay the log up to the mark. */
  if (t->ov) memset(t->ov, 0, (t->ov_mask + 1) * sizeof *t->ov);
  t->ov_used = 0;
  t->novlog = m.novlog;
  for (size_t i = 0; i < t->novlog; i++)
    if (ov_hash_put(t, t->ovlog[i].id, t->ovlog[i].op, t->ovlog[i].acked_us))
      return evs_err(s, EVS_ENOMEM, "out of memory");
  /* n stays open; a level never opened meant the start: none stay open. */
  t->nmarks = n < t->nmarks ? n + 1 : 0;
  return 0;
}

/* End an autocommit call's transaction: commit when ok, else roll back. */
static int end_txn(evs_txn *t, int rc) {
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

/* ---- Append ------------------------------------------------------------ */

/* Remember a list the transaction appended to (space is reserved). */
static void touch(evs_txn *t, evs_plist *l) {
  if (l->txn_stamp == t->stamp) return;
  t->touched[t->ntouched++] = l;
  l->txn_stamp = t->stamp;
}

/* Find a live event with this key within the window, as t sees it. */
static int find_dup(evs_txn *t, const evs_prep *p, uint64_t h, int64_t now,
                    evs_append_result *res) {
  evs_store *s = t->s;
  evs_keyctx k = {s, t, p->idem, p->ilen};
  uint32_t rel;
  if (!evs_idem_find(&s->idx, h, evs_key_match, &k, &rel)) return 0;
  evs_ent e;
  if (evs_visible(s, t, s->idx.base + rel, &e, NULL)) return 0;
  if (s->opt.idempotency_window_us > 0 &&
      e.created_us < evs_time_minus(now, s->opt.idempotency_window_us))
    return 0;
  res->duplicate = 1;
  res->id = s->idx.base + rel;
  res->created_us = e.created_us;
  return 1;
}

static int add_event(evs_txn *t, const evs_prep *p, int64_t now,
                     evs_append_result *res) {
  evs_store *s = t->s;
  memset(res, 0, sizeof *res);
  /* created_at (evs_fmt_time) is fixed-width, and so sorts as text in
  ** time order, only for these years; the SQL module relies on that. */
  if (now < 0 || now > EVS_TIME_MAX)
    return evs_err(s, EVS_EINVAL,
                   "clock returned %" PRId64 " us, outside 1970-01-01..9999-12-31", now);
  uint64_t h = p->idem ? XXH3_64bits(p->idem, p->ilen) : 0;
  if (p->idem && find_dup(t, p, h, now, res)) return 0;

  evs_ev_sizes z = {(uint32_t)p->srclen, (uint32_t)p->typlen, (uint32_t)p->ilen,
                    (uint32_t)p->mlen,   (uint32_t)(p->z ? p->zlen : p->plen),
                    (uint32_t)p->plen,   p->z != NULL};
  uint32_t len = evs_ev_len(&z);
  int rc = buf_reserve(t, len);
  if (rc) return rc;
  /* Reserve the undo and touched slots first: after the index add,
  ** nothing may fail half-way. */
  if (evs_grow((void **)&t->idem_undo, &t->idem_cap, t->nidem + 1,
               sizeof *t->idem_undo) ||
      evs_grow((void **)&t->touched, &t->touched_cap, t->ntouched + 2,
               sizeof *t->touched))
    return evs_err(s, EVS_ENOMEM, "out of memory");

  uint64_t id = s->idx.base + s->idx.n;
  int64_t created = EVS_MAX(now, t->last_created);
  uint32_t off = (uint32_t)(t->start + t->flushed + t->len);
  uint8_t *r = t->buf + t->len, *q = r + EVS_EV_FIXED;
  put_u64(r + 16, id);
  put_u64(r + 24, (uint64_t)created);
  put_u32(r + 32, z.stored);
  put_u32(r + 36, z.raw);
  put_u16(r + 40, (uint16_t)z.source);
  put_u16(r + 42, (uint16_t)z.type);
  put_u16(r + 44, (uint16_t)z.idem);
  put_u16(r + 46, (uint16_t)z.meta);
#define PUTS(ptr, n) (memcpy(q, (ptr), (n)), q += (n), *q++ = 0)
  PUTS(p->src, p->srclen);
  PUTS(p->typ, p->typlen);
  if (p->idem) PUTS(p->idem, p->ilen);
  if (p->meta) PUTS(p->meta, p->mlen);
  if (p->z)
    memcpy(q, p->z, p->zlen);
  else
    PUTS(p->payload, p->plen);
#undef PUTS
  uint8_t flags = (uint8_t)(p->prio | (p->z ? EVS_EF_ZSTD : 0) |
                            (p->meta ? EVS_EF_META : 0) | (p->idem ? EVS_EF_IDEM : 0));
  evs_rec_seal(r, len, EVS_REC_EVENT, flags);

  evs_ent e = {created, 0, off, (uint16_t)(s->cur->no % EVS_SLOTS),
               (uint8_t)(ENT_LIVE | p->prio | (p->idem ? ENT_KEY : 0)), 0};
  evs_plist *ls, *lt;
  pthread_rwlock_wrlock(&s->ilock);
  rc = evs_index_add(&s->idx, &e, p->src, p->srclen, p->typ, p->typlen, &ls, &lt);
  if (rc) {
    pthread_rwlock_unlock(&s->ilock);
    return evs_err(s, EVS_ENOMEM, "out of memory");
  }
  touch(t, ls);
  touch(t, lt);
  t->len += len; /* the record is in: the key now resolves to it */
  if (p->idem) {
    evs_keyctx k = {s, t, p->idem, p->ilen};
    evs_idem_undo *u = &t->idem_undo[t->nidem];
    u->hash = h;
    u->rel = (uint32_t)(id - s->idx.base);
    rc = evs_idem_put(&s->idx, h, u->rel, evs_key_match, &k, &u->old);
    if (!rc) t->nidem++;
  }
  pthread_rwlock_unlock(&s->ilock);
  if (rc) return evs_err(s, EVS_ENOMEM, "out of memory");
  t->nrec++;
  t->payload_bytes += p->plen;
  t->payload_stored += z.stored;
  t->last_created = created;
  res->id = id;
  res->created_us = created;
  return 0;
}

static int append(evs_store *s, evs_txn *txn, const evs_event_in *ev,
                  evs_append_result *out) {
  evs_append_result tmp;
  evs_append_result *res = out ? out : &tmp;
  memset(res, 0, sizeof *res);
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  evs_prep p;
  int rc = prep_event(s, ev, &p);
  if (rc) return res->rc = rc;
  evs_txn *t;
  if ((rc = use_txn(s, txn, &t))) {
    prep_free(&p);
    return res->rc = rc;
  }
  rc = add_event(t, &p, evs_now(s), res);
  prep_free(&p);
  rc = end_txn(t, rc);
  if (rc) {
    memset(res, 0, sizeof *res);
    res->rc = rc;
  }
  return rc;
}

int evs_append_sized(evs_store *s, evs_txn *txn, const evs_event_in *ev, size_t ev_size,
                     evs_append_result *out, size_t out_size) {
  evs_event_in e;
  evs_append_result res = {0};
  int rc = evs_abi_out_check(s, "evs_append_result", out, out_size,
                             EVS_APPEND_RESULT_SIZE_VER0);
  if (rc) return rc;
  rc = evs_abi_in(s, "evs_event_in", &e, sizeof e, ev, ev_size, EVS_EVENT_IN_SIZE_VER0);
  if (rc)
    res.rc = rc;
  else
    rc = append(s, txn, ev ? &e : NULL, &res);
  evs_abi_out(out, out_size, &res, sizeof res);
  return rc;
}

/* A batch's preparation. The caller prepares the small events itself, in
** order, encoding each as soon as it is prepared; a large one (a payload
** to compress) is two tasks it shares with the store's worker thread:
** compressing the payload (tasks 0..nbig-1, which the worker takes
** first) and checking the event (tasks nbig..2*nbig-1). Small events are
** not shared: handing one over costs about what preparing it does (its
** prepared form has to move between the cores' caches). */
typedef struct big_item {
  size_t i;     /* in the batch */
  size_t plen;  /* of its payload */
  uint8_t *z;   /* compressing task: the compressed payload, or NULL */
  size_t zlen;
  int nomem;
} big_item;

typedef struct batch_prep {
  evs_store *s;
  const evs_event_in *ev;
  evs_prep *p;
  evs_append_result *res;
  size_t n;
  uint8_t *state; /* the caller's, per item: ITEM_* */
  big_item *big;
  size_t nbig, kcur; /* big items; the next one ensure() meets */
  size_t ahead, task; /* where the caller looks for work while waiting */
  evs_share sh;
  pthread_mutex_t mu; /* guards the first error */
  size_t err_i;
  char err[256];
} batch_prep;

enum { ITEM_SMALL, ITEM_BIG, ITEM_READY };

/* Keep the batch's first failure. The message is in this thread's slot. */
static void note_error(batch_prep *b, size_t i) {
  pthread_mutex_lock(&b->mu);
  if (i < b->err_i) {
    b->err_i = i;
    snprintf(b->err, sizeof b->err, "item %zu: %s", i, evs_errmsg(b->s));
  }
  pthread_mutex_unlock(&b->mu);
}

static void prep_item(batch_prep *b, size_t i) {
  memset(&b->res[i], 0, sizeof b->res[i]);
  if ((b->res[i].rc = prep_event(b->s, &b->ev[i], &b->p[i]))) note_error(b, i);
  b->state[i] = ITEM_READY;
}

/* A shared task, on either thread. */
static void run_task(void *ctx, size_t k) {
  batch_prep *b = ctx;
  if (k < b->nbig) {
    big_item *g = &b->big[k];
    g->z = compress_payload(b->s, b->ev[g->i].payload, g->plen, &g->zlen, &g->nomem);
    return;
  }
  size_t i = b->big[k - b->nbig].i;
  memset(&b->res[i], 0, sizeof b->res[i]);
  if ((b->res[i].rc = prep_check(b->s, &b->ev[i], &b->p[i]))) note_error(b, i);
}

/* Prepare something ahead of the caller while the worker runs a task it
** needs: the next small item, else a free task. 0 when nothing is left. */
static int help(batch_prep *b) {
  for (; b->ahead < b->n; b->ahead++) {
    size_t i = b->ahead;
    if (b->state[i] != ITEM_SMALL) continue;
    prep_item(b, i);
    return 1;
  }
  for (; b->task < 2 * b->nbig; b->task++)
    if (evs_share_run(&b->sh, b->task)) return 1;
  return 0;
}

/* Make item i ready to encode. Called for increasing i. */
static void ensure(batch_prep *b, size_t i) {
  if (b->state[i] == ITEM_READY) return;
  if (b->state[i] == ITEM_SMALL) {
    prep_item(b, i);
    return;
  }
  evs_share *sh = &b->sh;
  size_t k = b->kcur++;
  size_t c = k, v = b->nbig + k;
  evs_share_run(sh, v);
  evs_share_run(sh, c);
  if (sh->w) {
    while (!(evs_share_done(sh, v) && evs_share_done(sh, c)) && help(b)) {
    }
    evs_share_wait(sh, v);
    evs_share_wait(sh, c);
  }
  big_item *g = &b->big[k];
  if (b->res[i].rc) {
    free(g->z);
  } else if (g->nomem) {
    b->res[i].rc = evs_err(b->s, EVS_ENOMEM, "out of memory");
    note_error(b, i);
  } else {
    b->p[i].z = g->z;
    b->p[i].zlen = g->zlen;
  }
  b->state[i] = ITEM_READY;
}

/* Large enough to share: checking and compressing it take 10 µs or more. */
#define BIG_MIN 4096
/* Shared work worth waking the worker for: about 45 µs of it, twice what
** waking it takes. */
#define SHARE_MIN (16u << 10)

static int append_batch(evs_store *s, evs_txn *txn, const evs_event_in *ev,
                        size_t n, evs_append_result *results) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (n && (!ev || !results))
    return evs_err(s, EVS_EINVAL, "events and results are required");
  if (!n) return 0;
  size_t esz = sizeof(evs_prep) + 1;
  if (n > SIZE_MAX / esz) return evs_err(s, EVS_ENOMEM, "out of memory");
  /* One block: prepared events, then the item states. */
  evs_prep *p = calloc(n, esz);
  if (!p) return evs_err(s, EVS_ENOMEM, "out of memory");
  batch_prep b = {.s = s, .ev = ev, .p = p, .res = results, .n = n,
                  .state = (uint8_t *)(p + n), .mu = PTHREAD_MUTEX_INITIALIZER,
                  .err_i = SIZE_MAX};
  size_t work = 0, bytes = 0;
  for (size_t i = 0; i < n; i++) {
    size_t pl = !ev[i].payload       ? 0
                : ev[i].payload_len ? ev[i].payload_len
                                    : strlen(ev[i].payload);
    bytes += pl;
    if (pl < s->opt.compress_threshold || pl < BIG_MIN || pl > s->opt.max_payload)
      continue;
    b.state[i] = ITEM_BIG;
    p[i].plen = pl; /* until prepared */
    b.nbig++;
    work += pl;
  }
  if (b.nbig && !(b.big = malloc(b.nbig * sizeof *b.big))) {
    free(p);
    return evs_err(s, EVS_ENOMEM, "out of memory");
  }
  for (size_t i = 0, k = 0; k < b.nbig; i++)
    if (b.state[i] == ITEM_BIG) b.big[k++] = (big_item){.i = i, .plen = p[i].plen};
  b.sh = (evs_share){.fn = run_task, .ctx = &b, .m = 2 * b.nbig, .bytes = bytes};
  if (work >= SHARE_MIN) evs_share_start(s, &b.sh);
  /* With the worker's help, the caller encodes prepared events while the
  ** worker prepares later ones: the transaction is taken first. Not when
  ** another thread holds it: the wait is better spent preparing. */
  int pipelined = b.sh.w && (txn || !__atomic_load_n(&s->writer, __ATOMIC_ACQUIRE));
  if (!pipelined)
    for (size_t i = 0; i < n; i++) ensure(&b, i);
  evs_txn *t;
  int rc = use_txn(s, txn, &t), began = !rc;
  if (began) {
    int64_t now = evs_now(s);
    for (size_t i = 0; !rc && i < n; i++) {
      ensure(&b, i);
      if (!results[i].rc) rc = add_event(t, &p[i], now, &results[i]);
    }
  }
  /* Every event is prepared before returning, also after a failure (each
  ** item's own error is reported), which may set this thread's message:
  ** keep the failure's, as when everything was prepared first. */
  char why[512];
  if (rc) snprintf(why, sizeof why, "%s", evs_errmsg(s));
  for (size_t i = 0; i < n; i++) ensure(&b, i);
  evs_share_finish(&b.sh);
  if (rc) evs_err(s, rc, "%s", why);
  if (began) rc = end_txn(t, rc);
  pthread_mutex_destroy(&b.mu);
  for (size_t i = 0; i < n; i++) prep_free(&p[i]);
  free(p);
  free(b.big);
  if (rc) {
    for (size_t i = 0; i < n; i++)
      if (!results[i].rc) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].rc = rc;
      }
    return rc;
  }
  if (b.err[0]) evs_err(s, 0, "%s", b.err);
  return 0;
}

/* Items are copied to arrays of this library's layout unless the caller's
** already is it. */
int evs_append_batch_sized(evs_store *s, evs_txn *txn, const evs_event_in *ev, size_t ev_size,
                           size_t n, evs_append_result *results, size_t result_size) {
  int rc = evs_abi_out_check(s, "evs_append_result", results, result_size,
                             EVS_APPEND_RESULT_SIZE_VER0);
  if (!rc && ev && n) /* the first item now: its size is divided by below */
    rc = evs_abi_in(s, "evs_event_in", &(evs_event_in){0}, sizeof(evs_event_in), ev, ev_size,
                    EVS_EVENT_IN_SIZE_VER0);
  if (rc) return rc;
  if (!n || !ev || !results ||
      (ev_size == sizeof(evs_event_in) && result_size == sizeof(evs_append_result)))
    return append_batch(s, txn, ev, n, results);
  if (n > SIZE_MAX / ev_size || n > SIZE_MAX / result_size)
    return evs_err(s, EVS_EINVAL, "%zu items do not fit in memory", n);
  evs_event_in *in = malloc(n * sizeof *in);
  evs_append_result *res = calloc(n, sizeof *res);
  if (!in || !res) {
    free(in);
    free(res);
    return evs_err(s, EVS_ENOMEM, "out of memory");
  }
  const char *src = (const char *)ev;
  for (size_t i = 0; i < n && !rc; i++)
    rc = evs_abi_in(s, "evs_event_in", &in[i], sizeof *in, src + i * ev_size, ev_size,
                    EVS_EVENT_IN_SIZE_VER0);
  if (!rc) {
    rc = append_batch(s, txn, in, n, res);
    for (size_t i = 0; i < n; i++)
      evs_abi_out((char *)results + i * result_size, result_size, &res[i], sizeof *res);
  }
  free(in);
  free(res);
  return rc;
}

/* ---- Ack and delete ---------------------------------------------------- */

/* Append an ack (with at) or delete record for ids. */
static int put_ids_record(evs_txn *t, int type, int64_t at, const uint64_t *ids,
                          size_t n) {
  if (!n) return 0;
  uint32_t fixed = type == EVS_REC_ACK ? EVS_ACK_FIXED : EVS_DEL_FIXED;
  if (n > (UINT32_MAX - fixed) / 8)
    return evs_err(t->s, EVS_ETOOBIG, "too many ids in one call");
  uint32_t len = fixed + (uint32_t)n * 8;
  int rc = buf_reserve(t, len);
  if (rc) return rc;
  uint8_t *r = t->buf + t->len;
  if (type == EVS_REC_ACK) put_u64(r + 16, (uint64_t)at);
  put_u32(r + fixed - 8, (uint32_t)n);
  put_u32(r + fixed - 4, 0);
  for (size_t i = 0; i < n; i++) put_u64(r + fixed + 8 * i, ids[i]);
  evs_rec_seal(r, len, (uint8_t)type, 0);
  t->len += len;
  t->nrec++;
  return 0;
}

/* Check one id for ack; on success the overlay holds it. */
static int ack_one(evs_txn *t, uint64_t id, int64_t now, int64_t *at) {
  evs_store *s = t->s;
  evs_ent e;
  int64_t when;
  pthread_rwlock_rdlock(&s->ilock);
  int rc = evs_visible(s, t, id, &e, &when);
  pthread_rwlock_unlock(&s->ilock);
  if (rc) return evs_err(s, EVS_ENOTFOUND, "event %" PRIu64 " not found", id);
  if (e.flags & ENT_ACKED) {
    char ts[32];
    evs_fmt_time(when, ts);
    return evs_err(s, EVS_ECONFLICT,
                   "event %" PRIu64 " is already acknowledged (at %s)", id, ts);
  }
  *at = EVS_MAX(now, e.created_us);
  if (ov_put(t, id, OV_ACK, *at)) return evs_err(s, EVS_ENOMEM, "out of memory");
  return 0;
}

int evs_ack(evs_store *s, evs_txn *txn, uint64_t id, int64_t *acked_us) {
  evs_txn *t;
  int rc = use_txn(s, txn, &t);
  if (rc) return rc;
  int64_t at = 0;
  rc = ack_one(t, id, evs_now(s), &at);
  if (!rc) rc = put_ids_record(t, EVS_REC_ACK, at, &id, 1);
  rc = end_txn(t, rc);
  if (!rc && acked_us) *acked_us = at;
  return rc;
}

int evs_ack_batch(evs_store *s, evs_txn *txn, const uint64_t *ids, size_t n,
                  int *rcs) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (n && (!ids || !rcs)) return evs_err(s, EVS_EINVAL, "ids and rcs are required");
  if (!n) return 0;
  uint64_t *ok = malloc(n * sizeof *ok);
  if (!ok) return evs_err(s, EVS_ENOMEM, "out of memory");
  evs_txn *t;
  int rc = use_txn(s, txn, &t);
  if (rc) {
    free(ok);
    return rc;
  }
  int64_t now = evs_now(s), at = 0;
  size_t nok = 0, log0 = t->novlog;
  char first_err[256] = "";
  for (size_t i = 0; i < n && !rc; i++) {
    int64_t a;
    rcs[i] = ack_one(t, ids[i], now, &a);
    if (rcs[i] == EVS_ENOMEM) rc = rcs[i];
    if (!rcs[i]) {
      ok[nok++] = ids[i];
      at = EVS_MAX(at, a);
    } else if (!first_err[0]) {
      snprintf(first_err, sizeof first_err, "%s", evs_errmsg(s));
    }
  }
  /* One record carries the batch; its time is the latest of the items'
  ** so no ack precedes its event even with a clock that went back. */
  for (size_t i = 0; !rc && i < nok; i++) evs_ov_find(t, ok[i])->acked_us = at;
  /* The savepoint log too, or a rollback_to would rebuild other times. */
  for (size_t i = log0; !rc && i < t->novlog; i++)
    if (t->ovlog[i].op == OV_ACK) t->ovlog[i].acked_us = at;
  if (!rc) rc = put_ids_record(t, EVS_REC_ACK, at, ok, nok);
  free(ok);
  rc = end_txn(t, rc);
  if (rc) return rc;
  if (first_err[0]) evs_err(s, 0, "%s", first_err);
  return 0;
}

int evs_delete(evs_store *s, evs_txn *txn, uint64_t id, int *existed) {
  evs_txn *t;
  int rc = use_txn(s, txn, &t);
  if (rc) return rc;
  evs_ent e;
  pthread_rwlock_rdlock(&s->ilock);
  int found = !evs_visible(s, t, id, &e, NULL);
  pthread_rwlock_unlock(&s->ilock);
  if (found) {
    rc = ov_put(t, id, OV_DEL, 0) ? evs_err(s, EVS_ENOMEM, "out of memory") : 0;
    if (!rc) rc = put_ids_record(t, EVS_REC_DELETE, 0, &id, 1);
  }
  rc = end_txn(t, rc);
  if (!rc && existed) *existed = found;
  return rc;
}

/* ---- Visibility -------------------------------------------------------- */

int evs_visible(const evs_store *s, const evs_txn *t, uint64_t id,
                evs_ent *out, int64_t *acked_us) {
  const evs_index *x = &s->idx;
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
