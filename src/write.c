/*
** write.c: the calls that write: append, ack, delete and their batch
** forms, each in the caller's transaction or in one of its own
** (autocommit). Events are validated and compressed first (prep.c), the
** batch sharing its work with the worker thread (worker.c).
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "abi.h"
#include "error.h"
#include "prep.h"
#include "replay.h"
#include "store.h"
#include "lease.h"
#include "txn.h"
#include "util.h"
#include "worker.h"

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
  evs_keyctx k = {s, t, &s->state.idx, p->idem, p->ilen};
  uint32_t rel;
  if (!evs_idem_find(&s->state.idx, h, evs_key_match, &k, &rel)) return 0;
  evs_ent e;
  if (evs_visible(s, t, s->state.idx.base + rel, &e, NULL)) return 0;
  if (s->opt.idempotency_window_us > 0 &&
      e.created_us < evs_time_minus(now, s->opt.idempotency_window_us))
    return 0;
  res->duplicate = 1;
  res->id = s->state.idx.base + rel;
  res->created_us = e.created_us;
  return 1;
}

static int add_event(evs_txn *t, const evs_prep *p, int64_t now,
                     evs_append_result *res) {
  evs_store *s = t->s;
  memset(res, 0, sizeof *res);
  /* created_at (evs_time_format) is fixed-width, and so sorts as text in
  ** time order, only for these years; the SQL module relies on that. */
  if (now < 0 || now > EVS_TIME_MAX)
    return evs_err(s, EVS_EINVAL,
                   "clock returned %" PRId64 " us, outside 1970-01-01..9999-12-31", now);
  uint64_t h = p->idem ? XXH3_64bits(p->idem, p->ilen) : 0;
  if (p->idem && find_dup(t, p, h, now, res)) return 0;

  /* A time already passed holds nothing back. */
  int rc, delay = p->not_before > now;
  if ((delay || p->order) && (rc = evs_txn_use_leases(t))) return rc;
  evs_ev_sizes z = {(uint32_t)p->srclen, (uint32_t)p->typlen, (uint32_t)p->ilen,
                    (uint32_t)p->mlen,   (uint32_t)(p->z ? p->zlen : p->plen),
                    (uint32_t)p->plen,   p->z != NULL,          delay,
                    (uint32_t)p->olen};
  uint32_t len = evs_ev_len(&z);
  rc = evs_txn_reserve(t, len);
  if (rc) return rc;
  /* Reserve the undo, touched and lease-op slots first: after the index
  ** add, nothing may fail half-way. */
  if (evs_grow((void **)&t->idem_undo, &t->idem_cap, t->nidem + 1,
               sizeof *t->idem_undo) ||
      evs_grow((void **)&t->lops, &t->lops_cap, t->nlops + 1, sizeof *t->lops) ||
      evs_grow((void **)&t->touched, &t->touched_cap, t->ntouched + 2,
               sizeof *t->touched))
    return evs_err(s, EVS_ENOMEM, "out of memory");

  uint64_t id = s->state.idx.base + s->state.idx.n;
  int64_t created = EVS_MAX(now, t->last_created);
  uint32_t off = (uint32_t)(t->u.start + t->u.flushed + t->u.len);
  evs_ev_parts parts = {id,      created, p->prio, p->src,
                       p->typ,  p->idem, p->meta, p->z ? (const void *)p->z : p->payload,
                       p->not_before, p->order};
  evs_ev_encode(t->u.buf + t->u.len, &z, &parts);

  evs_ent e = {created, 0, off, (uint16_t)(s->cur->no % EVS_SLOTS),
               (uint8_t)(ENT_LIVE | p->prio | (p->idem ? ENT_KEY : 0) | (delay ? ENT_LEASED : 0)),
               0};
  evs_plist *ls, *lt;
  pthread_rwlock_wrlock(&s->ilock);
  rc = p->order ? evs_okey_add(&s->state.idx.okeys, id, p->order, p->olen) : 0;
  if (!rc) {
    rc = evs_index_add(&s->state.idx, &e, p->src, p->srclen, p->typ, p->typlen, &ls, &lt);
    if (rc && p->order) evs_okey_unadd(&s->state.idx.okeys, id);
  }
  if (rc) {
    pthread_rwlock_unlock(&s->ilock);
    return evs_err(s, EVS_ENOMEM, "out of memory");
  }
  /* Behind an older open event of its key: out of claims' way. */
  if (p->order) evs_key_hold(&s->state.idx, id, now, s->opt.max_deliveries);
  touch(t, ls);
  touch(t, lt);
  t->u.len += len; /* the record is in: the key now resolves to it */
  if (p->idem) {
    evs_keyctx k = {s, t, &s->state.idx, p->idem, p->ilen};
    evs_idem_undo *u = &t->idem_undo[t->nidem];
    u->hash = h;
    u->rel = (uint32_t)(id - s->state.idx.base);
    rc = evs_idem_put(&s->state.idx, h, u->rel, evs_key_match, &k, &u->old);
    if (!rc) t->nidem++;
  }
  pthread_rwlock_unlock(&s->ilock);
  if (rc) return evs_err(s, EVS_ENOMEM, "out of memory");
  t->nrec++;
  /* Held back from commit on, as replay does from the record. */
  if (delay) t->lops[t->nlops++] = (evs_lop){id, 0, p->not_before, EVS_LEASE_HOLD};
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
  int rc = evs_prep_event(s, ev, &p);
  if (rc) return res->rc = rc;
  evs_txn *t;
  if ((rc = evs_txn_use(s, txn, &t))) {
    evs_prep_free(&p);
    return res->rc = rc;
  }
  evs_mark at = evs_txn_mark(t);
  rc = add_event(t, &p, evs_now(s), res);
  evs_prep_free(&p);
  rc = evs_txn_end_call_at(t, rc, &at);
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
  if ((b->res[i].rc = evs_prep_event(b->s, &b->ev[i], &b->p[i]))) note_error(b, i);
  b->state[i] = ITEM_READY;
}

/* A shared task, on either thread. */
static void run_task(void *ctx, size_t k) {
  batch_prep *b = ctx;
  if (k < b->nbig) {
    big_item *g = &b->big[k];
    g->z = evs_prep_compress(b->s, b->ev[g->i].payload, g->plen, &g->zlen, &g->nomem);
    return;
  }
  size_t i = b->big[k - b->nbig].i;
  memset(&b->res[i], 0, sizeof b->res[i]);
  if ((b->res[i].rc = evs_prep_check(b->s, &b->ev[i], &b->p[i]))) note_error(b, i);
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
  int rc = evs_txn_use(s, txn, &t), began = !rc;
  evs_mark at;
  if (began) {
    at = evs_txn_mark(t);
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
  if (began) rc = evs_txn_end_call_at(t, rc, &at);
  pthread_mutex_destroy(&b.mu);
  for (size_t i = 0; i < n; i++) evs_prep_free(&p[i]);
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
  if (!rc && ev && n) /* every item is checked below; the first here */
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
  uint32_t len = evs_ids_len(type, n);
  if (!len) return evs_err(t->s, EVS_ETOOBIG, "too many ids in one call");
  int rc = evs_txn_reserve(t, len);
  if (rc) return rc;
  evs_ids_encode(t->u.buf + t->u.len, type, at, ids, (uint32_t)n);
  t->u.len += len;
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
    char ts[EVS_TIME_BUF];
    evs_time_format(when, ts);
    return evs_err(s, EVS_ECONFLICT,
                   "event %" PRIu64 " is already acknowledged (at %s)", id, ts);
  }
  pthread_rwlock_rdlock(&s->ilock);
  int st = evs_ent_state(&s->state.idx, id, &e, now, s->opt.max_deliveries, NULL);
  pthread_rwlock_unlock(&s->ilock);
  if (st == EVS_ES_DEAD)
    return evs_err(s, EVS_ECONFLICT,
                   "event %" PRIu64 " is dead (evs_redrive puts it back in the inbox)", id);
  *at = EVS_MAX(now, e.created_us);
  if (evs_ov_put(t, id, OV_ACK, *at)) return evs_err(s, EVS_ENOMEM, "out of memory");
  return 0;
}

int evs_ack(evs_store *s, evs_txn *txn, uint64_t id, int64_t *acked_us) {
  evs_txn *t;
  int rc = evs_txn_use(s, txn, &t);
  if (rc) return rc;
  int64_t at = 0;
  rc = ack_one(t, id, evs_now(s), &at);
  if (!rc) rc = put_ids_record(t, EVS_REC_ACK, at, &id, 1);
  rc = evs_txn_end_call(t, rc);
  if (!rc && acked_us) *acked_us = at;
  return rc;
}

/* Check one leased id for ack with its token; on success the overlay
** holds it (a second time in one batch: a conflict). */
static int lease_ack_one(evs_txn *t, uint64_t id, uint64_t token, int64_t now, int64_t *at) {
  evs_store *s = t->s;
  if (evs_ov_find(t, id))
    return evs_err(s, EVS_ECONFLICT, "event %" PRIu64 " is acknowledged earlier in the batch",
                   id);
  evs_ent e;
  int rc = evs_lease_hold(t, id, token, now, &e);
  if (rc) return rc;
  *at = EVS_MAX(now, e.created_us);
  return evs_ov_put(t, id, OV_ACK, *at) ? evs_err(s, EVS_ENOMEM, "out of memory") : 0;
}

/* Ack n ids in t (with tokens: as lease holders), each with its result;
** one record for the batch. */
static int ack_many(evs_store *s, evs_txn *txn, const uint64_t *ids, const uint64_t *tokens,
                    size_t n, int *rcs, int64_t *acked_us) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (n && (!ids || !rcs)) return evs_err(s, EVS_EINVAL, "ids and rcs are required");
  if (!n) return 0;
  uint64_t *ok = malloc(n * sizeof *ok);
  if (!ok) return evs_err(s, EVS_ENOMEM, "out of memory");
  evs_txn *t;
  int rc = evs_txn_use(s, txn, &t);
  if (rc) {
    free(ok);
    return rc;
  }
  int64_t now = evs_now(s), at = 0;
  size_t nok = 0, log0 = t->novlog;
  char first_err[256] = "";
  for (size_t i = 0; i < n && !rc; i++) {
    int64_t a;
    rcs[i] = tokens ? lease_ack_one(t, ids[i], tokens[i], now, &a) : ack_one(t, ids[i], now, &a);
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
  rc = evs_txn_end_call(t, rc);
  if (rc) return rc;
  if (acked_us) *acked_us = at;
  if (first_err[0]) evs_err(s, 0, "%s", first_err);
  return 0;
}

int evs_ack_batch(evs_store *s, evs_txn *txn, const uint64_t *ids, size_t n, int *rcs) {
  return ack_many(s, txn, ids, NULL, n, rcs, NULL);
}

int evs_ack_lease(evs_store *s, uint64_t id, uint64_t token, int64_t *acked_us) {
  int item = 0;
  int rc = ack_many(s, NULL, &id, &token, 1, &item, acked_us);
  return rc ? rc : item;
}

int evs_ack_lease_batch(evs_store *s, const uint64_t *ids, const uint64_t *tokens, size_t n,
                        int *rcs, int64_t *acked_us) {
  if (s && n && !tokens) return evs_err(s, EVS_EINVAL, "ids, tokens and rcs are required");
  return ack_many(s, NULL, ids, tokens, n, rcs, acked_us);
}

int evs_delete(evs_store *s, evs_txn *txn, uint64_t id, int *existed) {
  evs_txn *t;
  int rc = evs_txn_use(s, txn, &t);
  if (rc) return rc;
  evs_ent e;
  pthread_rwlock_rdlock(&s->ilock);
  int found = !evs_visible(s, t, id, &e, NULL);
  pthread_rwlock_unlock(&s->ilock);
  if (found) {
    rc = evs_ov_put(t, id, OV_DEL, 0) ? evs_err(s, EVS_ENOMEM, "out of memory") : 0;
    if (!rc) rc = put_ids_record(t, EVS_REC_DELETE, 0, &id, 1);
  }
  rc = evs_txn_end_call(t, rc);
  if (!rc && existed) *existed = found;
  return rc;
}

