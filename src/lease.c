/*
** lease.c: consumers. evs_claim leases the oldest claimable events to a
** consumer, each with a fencing token and its delivery count; the holder
** of a lease settles it: acknowledges (evs_ack_lease), renews, releases
** (now or after a delay), or rejects it to dead. A lease that runs out
** puts the event back, or, after max_deliveries deliveries, makes it dead;
** evs_redrive brings dead events back. Every change is a lease record in
** the log (codec.h), applied at commit through replay.c's evs_mark_lease,
** so recovery rebuilds exactly what commits built.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "error.h"
#include "index.h"
#include "lease.h"
#include "log.h"
#include "prep.h"
#include "query.h"
#include "replay.h"
#include "store.h"
#include "txn.h"
#include "util.h"

#define LEASE_DEFAULT_US (30 * INT64_C(1000000))
#define LEASE_MAX_US (12 * 3600 * INT64_C(1000000))
/* Events whose lease ran out at max_deliveries found by one claim and
** marked dead on the way (more wait for the next claim). */
#define DEAD_CAP 256
/* Lease tokens reserved at a time (one synced record each, sync NORMAL
** and OFF). */
#define TOKEN_BLOCK (UINT64_C(1) << 20)

static int check_lease_us(evs_store *s, const char *what, int64_t *us, int zero_ok) {
  if (!*us && !zero_ok) *us = LEASE_DEFAULT_US;
  if (*us < 0 || *us > LEASE_MAX_US)
    return evs_err(s, EVS_EINVAL, "%s %" PRId64 " us is outside 0..%" PRId64 " (12 h)", what,
                   *us, LEASE_MAX_US);
  return 0;
}

static int64_t plus(int64_t now, int64_t us) {
  int64_t r;
  return __builtin_add_overflow(now, us, &r) ? INT64_MAX : r;
}

/* Append a lease record of op for ids to t, and queue its ops (a SEQ
** record has no ids and no ops). */
static int put_lease(evs_txn *t, int op, int64_t at, int64_t until, uint64_t token,
                     const uint64_t *ids, size_t n) {
  if (!n && op != EVS_LEASE_SEQ) return 0;
  evs_lease_rec l = {op, (uint32_t)n, at, until, token, t->consumer,
                     op == EVS_LEASE_CLAIM ? (uint32_t)t->consumer_len : 0, NULL};
  uint32_t len = evs_lease_len(l.consumer_len, n);
  if (!len) return evs_err(t->s, EVS_ETOOBIG, "too many ids in one call");
  int rc = evs_txn_reserve(t, len);
  if (rc) return rc;
  evs_lease_encode(t->u.buf + t->u.len, &l, ids);
  t->u.len += len;
  t->nrec++;
  for (size_t i = 0; i < n && !rc; i++)
    rc = evs_lop_put(t, op, ids[i], op == EVS_LEASE_CLAIM ? token + i : 0, until);
  return rc;
}

/* ---- Claim ------------------------------------------------------------- */

static int claim(evs_store *s, const evs_query *qin, const char *consumer, int64_t lease_us,
                 evs_page **page) {
  if (!s || !page) return evs_err(s, EVS_EINVAL, "store and page are required");
  evs_query q0 = {0};
  const evs_query *q = qin ? qin : &q0;
  const char *name;
  size_t nlen;
  int rc = evs_query_check(s, q);
  if (!rc) rc = evs_prep_name(s, "consumer", consumer, &name, &nlen);
  if (!rc && (q->status || q->cursor || q->descending))
    rc = evs_err(s, EVS_EINVAL,
                 "a claim takes the oldest claimable events: no status, cursor or "
                 "descending order");
  if (!rc) rc = check_lease_us(s, "lease", &lease_us, 0);
  if (rc) return rc;
  evs_txn *t;
  if ((rc = evs_txn_begin_leases(s, &t))) return rc;
  t->consumer = name;
  t->consumer_len = nlen;
  int64_t now = evs_now(s);
  /* Leases that ended are claimable again: back in the set claims scan. */
  pthread_rwlock_wrlock(&s->ilock);
  evs_leases_expire(&s->state.idx, now, s->opt.max_deliveries);
  pthread_rwlock_unlock(&s->ilock);
  uint64_t ids[EVS_PAGE_MAX], dead[DEAD_CAP];
  size_t n = 0, nd = 0;
  rc = evs_query_claimable(s, q, q->limit ? q->limit : EVS_PAGE_DEFAULT, now, ids, &n, dead,
                           DEAD_CAP, &nd);
  /* Events whose last lease ran out at max_deliveries are dead already;
  ** saying so in the log keeps later claims from passing them again. */
  if (!rc) rc = put_lease(t, EVS_LEASE_REJECT, now, 0, 0, dead, nd);
  /* Unless every commit is synced (FULL), a claim returned may be lost to
  ** a power cut: its tokens must not be handed out again after it. So
  ** tokens come from a block a synced SEQ record reserves first. */
  uint64_t reserve = 0, first = s->state.lease_seq + 1;
  if (!rc && n && s->dir && s->opt.sync != EVS_SYNC_FULL &&
      first + n - 1 > __atomic_load_n(&s->lease_reserved, __ATOMIC_RELAXED)) {
    reserve = first + n - 1 + TOKEN_BLOCK;
    rc = put_lease(t, EVS_LEASE_SEQ, now, 0, reserve, NULL, 0);
  }
  int64_t until = plus(now, lease_us);
  if (!rc) rc = put_lease(t, EVS_LEASE_CLAIM, now, until, first, ids, n);
  /* The page is read while this claim holds the writer, and says what the
  ** claim grants: once it commits, a short lease may run out (and the
  ** event go to another consumer) before the caller sees it. */
  if (!rc) rc = evs_page_of_ids(s, ids, n, page);
  if (!rc) rc = evs_page_leased(s, *page, ids, n, first, until, name, nlen);
  rc = evs_txn_end_call(t, rc);
  /* Set after the sync: a reserve is only used once it is durable. A
  ** racing claim may lower it again, which only costs a reservation. */
  if (!rc && reserve && !(rc = evs_log_sync_all(s)))
    __atomic_store_n(&s->lease_reserved, reserve, __ATOMIC_RELAXED);
  if (rc) evs_page_empty(*page);
  return rc;
}

int evs_claim_sized(evs_store *s, const evs_query *q, size_t q_size, const char *consumer,
                    int64_t lease_us, evs_page **page) {
  evs_query qc;
  int rc = evs_abi_in(s, "evs_query", &qc, sizeof qc, q, q_size, EVS_QUERY_SIZE_VER0);
  return rc ? rc : claim(s, q ? &qc : NULL, consumer, lease_us, page);
}

/* ---- Settling ---------------------------------------------------------- */

int evs_lease_hold(evs_txn *t, uint64_t id, uint64_t token, int64_t now, evs_ent *out) {
  evs_store *s = t->s;
  pthread_rwlock_rdlock(&s->ilock);
  const evs_index *x = &s->state.idx;
  int st = EVS_ES_GONE;
  const evs_lease *l = NULL;
  /* What get and ack see: past retention an event is gone. */
  if (!evs_visible(s, NULL, id, out, NULL))
    st = evs_ent_state(x, id, out, now, s->opt.max_deliveries, &l);
  int held = st == EVS_ES_LEASED && l->token == token;
  pthread_rwlock_unlock(&s->ilock);
  if (st == EVS_ES_GONE) return evs_err(s, EVS_ENOTFOUND, "event %" PRIu64 " not found", id);
  if (st == EVS_ES_ACKED)
    return evs_err(s, EVS_ECONFLICT, "event %" PRIu64 " is already acknowledged", id);
  if (!held)
    return evs_err(s, EVS_ESTALE,
                   "lease token %" PRIu64 " of event %" PRIu64 " is not its current one: "
                   "the lease ran out (the event may have been delivered again) or was "
                   "settled",
                   token, id);
  return 0;
}

/* One settle op on a held lease, in an autocommit transaction. */
static int settle(evs_store *s, uint64_t id, uint64_t token, int op, int64_t until_from_now,
                  int64_t *until) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  evs_txn *t;
  int rc = evs_txn_begin_leases(s, &t);
  if (rc) return rc;
  int64_t now = evs_now(s), u = op == EVS_LEASE_REJECT ? 0 : plus(now, until_from_now);
  evs_ent e;
  rc = evs_lease_hold(t, id, token, now, &e);
  if (!rc) rc = put_lease(t, op, now, u, 0, &id, 1);
  rc = evs_txn_end_call(t, rc);
  if (!rc && until) *until = u;
  return rc;
}

int evs_renew(evs_store *s, uint64_t id, uint64_t token, int64_t lease_us, int64_t *expires_us) {
  int rc = check_lease_us(s, "lease", &lease_us, 0);
  return rc ? rc : settle(s, id, token, EVS_LEASE_RENEW, lease_us, expires_us);
}

int evs_release(evs_store *s, uint64_t id, uint64_t token, int64_t delay_us) {
  int rc = check_lease_us(s, "delay", &delay_us, 1);
  return rc ? rc : settle(s, id, token, EVS_LEASE_RELEASE, delay_us, NULL);
}

int evs_reject(evs_store *s, uint64_t id, uint64_t token) {
  return settle(s, id, token, EVS_LEASE_REJECT, 0, NULL);
}

/* ---- Redrive ----------------------------------------------------------- */

static int redrive(evs_store *s, const evs_query *qin, uint64_t *count) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (count) *count = 0;
  evs_query q = qin ? *qin : (evs_query){0};
  if (q.cursor || q.status)
    return evs_err(s, EVS_EINVAL, "redrive takes filters only: no cursor or status");
  q.status = EVS_QUERY_DEAD;
  q.limit = 0;
  int rc = evs_query_check(s, &q);
  uint64_t total = 0;
  enum { BATCH = 1000 };
  uint64_t *ids = rc ? NULL : malloc(BATCH * sizeof *ids), *dead = malloc(BATCH * sizeof *dead);
  if (!rc && (!ids || !dead)) rc = evs_err(s, EVS_ENOMEM, "out of memory");
  for (size_t n = BATCH; !rc && n == BATCH;) {
    evs_txn *t;
    if ((rc = evs_txn_begin_leases(s, &t))) break;
    int64_t now = evs_now(s);
    size_t nd = 0;
    rc = evs_query_claimable(s, &q, BATCH, now, ids, &n, NULL, 0, &nd);
    /* Dead by a lease that ran out (not marked): marked dead first, as a
    ** claim would, so the redrive applies to a dead event. Taken from the
    ** ids themselves (the scan's list would hold other sources' too). */
    nd = 0;
    pthread_rwlock_rdlock(&s->ilock);
    const evs_index *x = &s->state.idx;
    for (size_t i = 0; !rc && i < n; i++)
      if (!(evs_ent_at(x, ids[i] - x->base)->flags & ENT_DEAD)) dead[nd++] = ids[i];
    pthread_rwlock_unlock(&s->ilock);
    if (!rc) rc = put_lease(t, EVS_LEASE_REJECT, now, 0, 0, dead, nd);
    if (!rc) rc = put_lease(t, EVS_LEASE_REDRIVE, now, 0, 0, ids, n);
    rc = evs_txn_end_call(t, rc);
    if (!rc) total += n;
  }
  free(ids);
  free(dead);
  if (count) *count = total;
  return rc;
}

int evs_redrive_sized(evs_store *s, const evs_query *q, size_t q_size, uint64_t *count) {
  evs_query qc;
  int rc = evs_abi_in(s, "evs_query", &qc, sizeof qc, q, q_size, EVS_QUERY_SIZE_VER0);
  return rc ? rc : redrive(s, q ? &qc : NULL, count);
}
