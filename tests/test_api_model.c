/*
** test_api_model.c: a random sequence of operations checked against the
** reference model (tests/model.h).
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- a random model test ----------------------------------------------- */

typedef struct mev {
  int src, typ, prio;
  int64_t created;
  int state; /* 0 pending, 1 acked, 2 deleted */
  int key;   /* -1 none */
} mev;

typedef struct model {
  mev *ev; /* index id-1 */
  size_t n;
  int key_owner[16]; /* id or 0 */
} model;

static uint32_t rng_state = 2463534242u;
static uint32_t rnd32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static const char *const SRCS[] = {"alpha", "beta", "gamma", "delta"};
static const char *const TYPS[] = {"created", "updated", "removed"};

static int model_check(evs_store *s, evs_txn *t, const model *m, int step) {
  int fails = 0;
  uint64_t *ids = malloc((m->n + 1) * sizeof *ids);
  for (int f = 0; f < 8; f++) {
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 1 + rnd32() % 100;
    int fs = -1, ft = -1, fp = 0;
    int64_t lo = 0, hi = 0;
    if (f & 1) fs = (int)(rnd32() % 4);
    if (f & 2) ft = (int)(rnd32() % 3);
    if (f & 4) fp = 1 + (int)(rnd32() % 3);
    if (f == 7 && m->n) {
      lo = m->ev[rnd32() % m->n].created;
      hi = lo + (int64_t)(rnd32() % 200);
      fp = 0;
    }
    if (fs >= 0) q.source = SRCS[fs];
    if (ft >= 0) q.event_type = TYPS[ft];
    q.priority = fp;
    q.created_after_us = lo;
    q.created_before_us = hi;
    long n = inbox_all(s, t, &q, ids, m->n + 1);
    long k = 0;
    int bad = n < 0;
    for (size_t i = 0; i < m->n && !bad; i++) {
      const mev *e = &m->ev[i];
      if (e->state != 0) continue;
      if (fs >= 0 && e->src != fs) continue;
      if (ft >= 0 && e->typ != ft) continue;
      if (fp && e->prio != fp) continue;
      if (lo && !(e->created > lo)) continue;
      if (hi && !(e->created < hi)) continue;
      if (k >= n || ids[k] != i + 1) bad = 1;
      k++;
    }
    if (!bad && k != n) bad = 1;
    if (bad) {
      fprintf(stderr, "  step %d: filter %d (src %d typ %d prio %d) got %ld want %ld\n",
              step, f, fs, ft, fp, n, k);
      fails++;
    }
  }
  free(ids);
  for (int i = 0; i < 5 && m->n; i++) {
    uint64_t id = 1 + rnd32() % m->n;
    evs_event *e = NULL;
    int rc = evs_get(s, t, id, &e);
    const mev *x = &m->ev[id - 1];
    int ok = x->state == 2 ? rc == EVS_ENOTFOUND
                           : (rc == 0 && e->status == x->state &&
                              e->priority == x->prio &&
                              e->created_us == x->created &&
                              !strcmp(e->source, SRCS[x->src]) &&
                              !strcmp(e->event_type, TYPS[x->typ]));
    if (!ok) {
      fprintf(stderr, "  step %d: get %" PRIu64 " rc %d state %d\n", step, id,
              rc, x->state);
      fails++;
    }
    evs_event_free(e);
  }
  return fails;
}

static void t_random_model(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  model m, saved;
  memset(&m, 0, sizeof m);
  memset(&saved, 0, sizeof saved);
  m.ev = calloc(20000, sizeof *m.ev);
  saved.ev = calloc(20000, sizeof *saved.ev);
  evs_txn *t = NULL;
  int fails = 0;
  for (int step = 0; step < 6000 && fails < 5; step++) {
    uint32_t op = rnd32() % 100;
    if (rnd32() % 3 == 0) c.now += rnd32() % 50;
    if (op < 45) { /* append */
      mev x;
      x.src = (int)(rnd32() % 4);
      x.typ = (int)(rnd32() % 3);
      int p = (int)(rnd32() % 4);
      x.prio = p ? p : EVS_PRIORITY_NORMAL;
      x.state = 0;
      x.key = rnd32() % 4 == 0 ? (int)(rnd32() % 16) : -1;
      x.created = c.now;
      char key[16];
      evs_event_in in = ev_make(SRCS[x.src], TYPS[x.typ], "{\"m\":1}");
      in.priority = p;
      if (x.key >= 0) {
        snprintf(key, sizeof key, "key%d", x.key);
        in.idempotency_key = key;
      }
      evs_append_result r;
      int rc = evs_append(s, t, &in, &r);
      if (rc != 0) {
        fprintf(stderr, "  step %d: append rc %d\n", step, rc);
        fails++;
        continue;
      }
      if (x.key >= 0 && m.key_owner[x.key]) {
        if (!r.duplicate || r.id != (uint64_t)m.key_owner[x.key]) {
          fprintf(stderr, "  step %d: expected duplicate of %d\n", step,
                  m.key_owner[x.key]);
          fails++;
        }
        continue;
      }
      if (r.duplicate || r.id != m.n + 1) {
        fprintf(stderr, "  step %d: append id %" PRIu64 " dup %d, want %zu\n",
                step, r.id, r.duplicate, m.n + 1);
        fails++;
        continue;
      }
      m.ev[m.n++] = x;
      if (x.key >= 0) m.key_owner[x.key] = (int)m.n;
    } else if (op < 70 && m.n) { /* ack */
      uint64_t id = 1 + rnd32() % m.n;
      int rc = evs_ack(s, t, id, NULL);
      mev *x = &m.ev[id - 1];
      int want = x->state == 0 ? 0 : x->state == 1 ? EVS_ECONFLICT : EVS_ENOTFOUND;
      if (rc != want) {
        fprintf(stderr, "  step %d: ack %" PRIu64 " rc %d want %d\n", step, id,
                rc, want);
        fails++;
      }
      if (x->state == 0) x->state = 1;
    } else if (op < 78 && m.n) { /* delete */
      uint64_t id = 1 + rnd32() % m.n;
      int existed = -1;
      int rc = evs_delete(s, t, id, &existed);
      mev *x = &m.ev[id - 1];
      if (rc != 0 || existed != (x->state != 2)) {
        fprintf(stderr, "  step %d: delete %" PRIu64 " rc %d existed %d\n",
                step, id, rc, existed);
        fails++;
      }
      if (x->state != 2 && x->key >= 0 && m.key_owner[x->key] == (int)id)
        m.key_owner[x->key] = 0;
      x->state = 2;
    } else if (op < 86) { /* begin / commit / rollback */
      if (!t) {
        if (evs_txn_begin(s, &t) != 0) {
          fails++;
          t = NULL;
          continue;
        }
        saved.n = m.n;
        memcpy(saved.ev, m.ev, m.n * sizeof *m.ev);
        memcpy(saved.key_owner, m.key_owner, sizeof m.key_owner);
      } else if (op < 83) {
        if (evs_txn_commit(t) != 0) fails++;
        t = NULL;
      } else {
        if (evs_txn_rollback(t) != 0) fails++;
        t = NULL;
        m.n = saved.n;
        memcpy(m.ev, saved.ev, m.n * sizeof *m.ev);
        memcpy(m.key_owner, saved.key_owner, sizeof m.key_owner);
      }
    } else if (op < 90) {
      fails += model_check(s, t, &m, step);
    }
  }
  if (t) CHECK_EQ(evs_txn_commit(t), 0);
  fails += model_check(s, NULL, &m, -1);
  CHECK_EQ(fails, 0);
  evs_stats st = stats(s);
  uint64_t pend = 0, ack = 0;
  for (size_t i = 0; i < m.n; i++) {
    pend += m.ev[i].state == 0;
    ack += m.ev[i].state == 1;
  }
  CHECK_EQ(st.pending, pend);
  CHECK_EQ(st.acknowledged, ack);
  CHECK_EQ(st.next_id, m.n + 1);
  free(m.ev);
  free(saved.ev);
  evs_store_close(s);
}

int main(void) {
  RUN(t_random_model);
  return TEST_EXIT();
}
