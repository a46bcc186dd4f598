/*
** test_api_model.c: a random sequence of operations checked against the
** reference model (tests/model.h).
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "model.h"
#include "testlib.h"

/* ---- a random model test ----------------------------------------------- */

static uint32_t rng_state = 2463534242u;
static uint32_t rnd32(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static const char *const SRCS[] = {"alpha", "beta", "gamma", "delta"};
static const char *const TYPS[] = {"created", "updated", "removed"};
static const char *const KEYS[] = {"key0", "key1", "key2",  "key3",  "key4",  "key5",
                                   "key6", "key7", "key8",  "key9",  "key10", "key11",
                                   "key12", "key13", "key14", "key15"};
static const char *const CONS[] = {"w1", "w2", "w3"};
/* Ordering keys: few, so that claims contend for them. */
static const char *const OKEYS[] = {"ok0", "ok1", "ok2", "ok3", "ok4"};
#define PAYLOAD "{\"m\":1}"

static long n_claimable_checks;

/* The inbox under eight random filters, and five random gets, against m.
** Status EVS_QUERY_CLAIMABLE is compared outside a transaction only: inside
** one the library does not yet apply the transaction's own acks and
** deletes to the key rule. Returns the number
** of mismatches. */
static int model_check(evs_store *s, evs_txn *t, const model *m, int64_t now,
                       int step) {
  int fails = 0;
  uint64_t n_ev = m->next_id - 1;
  uint64_t *ids = malloc((n_ev + 1) * sizeof *ids);
  unsigned char *blocked = malloc(m->next_id);
  model_blocked(m, now, blocked);
  /* The one-pass map is the rule event by event (the model's own check). */
  for (int i = 0; i < 5 && n_ev; i++) {
    uint64_t id = 1 + rnd32() % n_ev;
    if (model_visible(m, id, now) && blocked[id] != model_key_blocked(m, id, now)) {
      fprintf(stderr, "  step %d: model_blocked and model_key_blocked differ for %" PRIu64 "\n",
              step, id);
      fails++;
    }
  }
  for (int f = 0; f < 8; f++) {
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 1 + rnd32() % 100;
    int fs = -1, ft = -1, fp = 0;
    int64_t lo = 0, hi = 0;
    if (f & 1) fs = (int)(rnd32() % 4);
    if (f & 2) ft = (int)(rnd32() % 3);
    if (f & 4) fp = 1 + (int)(rnd32() % 3);
    if (f == 7 && n_ev) {
      lo = m->ev[1 + rnd32() % n_ev].created;
      hi = lo + (int64_t)(rnd32() % 200);
      fp = 0;
    }
    /* The consumers' statuses too: leased and dead are not pending. */
    static const int STS[] = {EVS_QUERY_PENDING, EVS_QUERY_LEASED, EVS_QUERY_DEAD,
                              EVS_QUERY_ACKNOWLEDGED, EVS_QUERY_ANY, EVS_QUERY_DELAYED,
                              EVS_QUERY_CLAIMABLE, EVS_QUERY_CLAIMABLE};
    int qst = (f == 0 || f == 3 || f == 5) ? STS[rnd32() % 8] : EVS_QUERY_PENDING;
    q.status = qst;
    if (fs >= 0) q.source = SRCS[fs];
    if (ft >= 0) q.event_type = TYPS[ft];
    q.priority = fp;
    q.created_after_us = lo;
    q.created_before_us = hi;
    model_query mq;
    memset(&mq, 0, sizeof mq);
    mq.status = qst;
    mq.source = q.source;
    mq.type = q.event_type;
    mq.prio = fp;
    mq.after = lo;
    mq.before = hi;
    mq.blocked = blocked;
    long n = inbox_all(s, t, &q, ids, n_ev + 1);
    long k = 0;
    int bad = n < 0;
    for (uint64_t id = 1; id <= n_ev && !bad; id++) {
      if (!model_match(m, &mq, id, now)) continue;
      if (k >= n || ids[k] != id) bad = 1;
      k++;
    }
    if (!bad && k != n) bad = 1;
    if (bad) {
      fprintf(stderr, "  step %d: filter %d (status %d src %d typ %d prio %d) got %ld want %ld\n",
              step, f, qst, fs, ft, fp, n, k);
      fails++;
    }
    n_claimable_checks += qst == EVS_QUERY_CLAIMABLE;
  }
  free(ids);
  free(blocked);
  for (int i = 0; i < 5 && n_ev; i++) {
    uint64_t id = 1 + rnd32() % n_ev;
    evs_event *e = NULL;
    int rc = evs_get(s, t, id, &e);
    char buf[300];
    const char *d = NULL;
    if (!model_visible(m, id, now))
      d = rc == EVS_ENOTFOUND ? NULL : "found, expected ENOTFOUND";
    else
      d = rc != 0 ? "not found" : model_event_diff_at(m, id, e, now, buf, sizeof buf);
    if (d) {
      fprintf(stderr, "  step %d: get %" PRIu64 " rc %d: %s\n", step, id, rc, d);
      fails++;
    }
    evs_event_free(e);
  }
  return fails;
}

static long n_claimed, n_settled, n_stale, n_redriven, n_deadlk, n_keyed, n_keyed_claims,
    n_first_key_refused;
/* The store's current segment holds lease records and ordering keys: a
** claim, renew, release, reject or redrive outside a transaction starts
** that format, and so does a keyed append that begins its transaction.
** Until then a keyed append after other writes of its transaction is
** refused (EVS_EINVAL). */
static int fmt_on;

/* One consumer op (claim, ack_lease, renew, release, reject, redrive)
** against the model; t: the open transaction (the op must then fail with
** EVS_EDEADLK and change nothing). Returns the number of mismatches. */
static int lease_op(evs_store *s, evs_txn *t, model *m, int64_t now, int step) {
  int fails = 0;
  uint64_t n_ev = m->next_id - 1;
  uint32_t k = rnd32() % 100;
  if (k < 35) { /* claim */
    evs_query q;
    memset(&q, 0, sizeof q);
    q.limit = 1 + rnd32() % 8;
    if (rnd32() % 3 == 0) q.source = SRCS[rnd32() % 4];
    if (rnd32() % 4 == 0) q.priority = 1 + (int)(rnd32() % 3);
    const char *who = CONS[rnd32() % 3];
    int64_t lease = rnd32() % 8 == 0 ? 0 : 1 + (int64_t)(rnd32() % 2000);
    evs_page *pg = NULL;
    int rc = evs_claim(s, &q, who, lease, &pg);
    if (!t) fmt_on = 1;
    if (t) {
      if (rc != EVS_EDEADLK) {
        fprintf(stderr, "  step %d: claim in a transaction rc %d\n", step, rc);
        fails++;
      }
      evs_page_free(pg);
      return fails;
    }
    model_query mq;
    memset(&mq, 0, sizeof mq);
    mq.source = q.source;
    mq.prio = q.priority;
    mq.limit = q.limit;
    uint64_t want[16];
    size_t wn = model_claim(m, &mq, who, lease, now, want);
    size_t n = rc ? 0 : evs_page_count(pg);
    if (rc || n != wn) {
      fprintf(stderr, "  step %d: claim rc %d: %zu events, model %zu\n", step, rc, n, wn);
      fails++;
    }
    for (size_t i = 0; i < n && i < wn; i++) {
      const evs_event *e = evs_page_event(pg, i);
      n_keyed_claims += e->ordering_key != NULL;
      char buf[300];
      const char *d = e->id != want[i] ? "another id"
                                       : model_event_diff_at(m, e->id, e, now, buf, sizeof buf);
      if (d) {
        fprintf(stderr, "  step %d: claim event %zu (id %" PRIu64 ", model %" PRIu64 "): %s\n",
                step, i, e->id, want[i], d);
        fails++;
      }
    }
    n_claimed += (long)n;
    evs_page_free(pg);
    return fails;
  }
  if (k < 90) { /* settle one event: its token, or a stale or made-up one */
    if (!n_ev) return 0;
    uint64_t id = 1 + rnd32() % n_ev;
    /* Mostly an event a consumer holds now (the first from a random id). */
    if (rnd32() % 4) {
      for (uint64_t j = 0; j < n_ev; j++) {
        uint64_t x = 1 + (id - 1 + j) % n_ev;
        if (m->ev[x].state == MODEL_LIVE && m->ev[x].lease == MODEL_LEASE_CONSUMER &&
            model_status(m, x, now) == EVS_STATUS_LEASED) {
          id = x;
          break;
        }
      }
    }
    uint64_t tok = m->ev[id].token;
    uint32_t r = rnd32() % 10;
    if (r == 0 && tok) tok--;
    else if (r == 1) tok = m->lease_seq + 1 + rnd32() % 3;
    uint32_t what = rnd32() % 4;
    int want = t ? EVS_EDEADLK : model_hold_rc(m, id, tok, now);
    int rc;
    int64_t out = -1, arg = 0;
    const char *name;
    if (what == 0) {
      name = "ack_lease";
      rc = evs_ack_lease(s, id, tok, &out);
    } else if (what == 1) {
      name = "renew";
      arg = rnd32() % 8 == 0 ? 0 : 1 + (int64_t)(rnd32() % 2000);
      rc = evs_renew(s, id, tok, arg, &out);
    } else if (what == 2) {
      name = "release";
      arg = rnd32() % 2 ? 0 : (int64_t)(rnd32() % 200);
      rc = evs_release(s, id, tok, arg);
    } else {
      name = "reject";
      rc = evs_reject(s, id, tok);
    }
    if (!t && what) fmt_on = 1;
    if (rc != want) {
      fprintf(stderr, "  step %d: %s %" PRIu64 " token %" PRIu64 " rc %d want %d\n", step,
              name, id, tok, rc, want);
      fails++;
    }
    n_stale += want == EVS_ESTALE;
    n_deadlk += want == EVS_EDEADLK;
    if (want != 0) return fails;
    n_settled++;
    if (what == 0) {
      int64_t at = model_ack_time(m, id, now);
      if (rc == 0 && out != at) {
        fprintf(stderr, "  step %d: ack_lease %" PRIu64 " at %" PRId64 " want %" PRId64 "\n",
                step, id, out, at);
        fails++;
      }
      model_ack(m, id, at);
    } else if (what == 1) {
      int64_t ex = model_renew(m, id, arg, now);
      if (rc == 0 && out != ex) {
        fprintf(stderr, "  step %d: renew %" PRIu64 " to %" PRId64 " want %" PRId64 "\n", step,
                id, out, ex);
        fails++;
      }
    } else if (what == 2) {
      model_release(m, id, arg, now);
    } else {
      model_reject(m, id);
    }
    return fails;
  }
  /* redrive */
  evs_query q;
  memset(&q, 0, sizeof q);
  if (rnd32() % 2) q.source = SRCS[rnd32() % 4];
  uint64_t cnt = 99;
  int rc = evs_redrive(s, &q, &cnt);
  if (!t) fmt_on = 1;
  if (t) {
    if (rc != EVS_EDEADLK) {
      fprintf(stderr, "  step %d: redrive in a transaction rc %d\n", step, rc);
      fails++;
    }
    return fails;
  }
  model_query mq;
  memset(&mq, 0, sizeof mq);
  mq.source = q.source;
  uint64_t wc = model_redrive(m, &mq, now);
  n_redriven += (long)wc;
  if (rc != 0 || cnt != wc) {
    fprintf(stderr, "  step %d: redrive rc %d count %" PRIu64 " want %" PRIu64 "\n", step, rc,
            cnt, wc);
    fails++;
  }
  return fails;
}

static void t_random_model(void) {
  const char *seed = getenv("EVS_SEED"); /* replays another sequence */
  if (seed && strtoul(seed, NULL, 0)) rng_state = (uint32_t)strtoul(seed, NULL, 0);
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  o.max_deliveries = 3;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  model m, saved;
  model_init(&m, o.retention_us, o.idempotency_window_us);
  model_init(&saved, o.retention_us, o.idempotency_window_us);
  model_set_max_deliveries(&m, o.max_deliveries);
  model_set_max_deliveries(&saved, o.max_deliveries);
  evs_txn *t = NULL;
  int t_wrote = 0; /* the open transaction holds a record */
  int fails = 0;
  for (int step = 0; step < 20000 && fails < 5; step++) {
    uint32_t op = rnd32() % 100;
    if (rnd32() % 3 == 0) c.now += rnd32() % 50;
    uint64_t n_ev = m.next_id - 1;
    if (op < 45) { /* append */
      model_ev x;
      memset(&x, 0, sizeof x);
      x.source = SRCS[rnd32() % 4];
      x.type = TYPS[rnd32() % 3];
      int p = (int)(rnd32() % 4);
      x.prio = (unsigned char)(p ? p : EVS_PRIORITY_NORMAL);
      x.key = rnd32() % 4 == 0 ? KEYS[rnd32() % 16] : NULL;
      uint32_t ko = rnd32() % 10;
      x.okey = ko < 5 ? OKEYS[ko] : NULL; /* half keyed, on five keys */
      x.payload = PAYLOAD;
      x.payload_len = strlen(PAYLOAD);
      evs_event_in in = ev_in(x.source, x.type, PAYLOAD, x.key);
      in.priority = p;
      in.ordering_key = x.okey;
      evs_append_result r;
      int rc = evs_append(s, t, &in, &r);
      uint64_t dup = model_dup_of(&m, x.key, c.now);
      /* A duplicate is found before the key's format is needed. */
      int want = !dup && x.okey && t && t_wrote && !fmt_on ? EVS_EINVAL : 0;
      if (rc != want) {
        fprintf(stderr, "  step %d: append rc %d want %d: %s\n", step, rc, want,
                evs_errmsg(s));
        fails++;
        continue;
      }
      if (rc) {
        n_first_key_refused++;
        if (!strstr(evs_errmsg(s), "must begin its transaction")) {
          fprintf(stderr, "  step %d: append refused: %s\n", step, evs_errmsg(s));
          fails++;
        }
        continue;
      }
      if (dup) {
        if (!r.duplicate || r.id != dup) {
          fprintf(stderr, "  step %d: expected duplicate of %" PRIu64 "\n", step, dup);
          fails++;
        }
        continue;
      }
      int64_t created = model_created(&m, c.now);
      if (r.duplicate || r.id != m.next_id || r.created_us != created) {
        fprintf(stderr,
                "  step %d: append id %" PRIu64 " dup %d created %" PRId64
                ", want %" PRIu64 " created %" PRId64 "\n",
                step, r.id, r.duplicate, r.created_us, m.next_id, created);
        fails++;
        continue;
      }
      model_add(&m, &x, m.next_id, created);
      if (t) t_wrote = 1;
      if (x.okey) fmt_on = 1, n_keyed++;
    } else if (op < 70 && n_ev) { /* ack */
      uint64_t id = 1 + rnd32() % n_ev;
      int64_t at = -1;
      int rc = evs_ack(s, t, id, &at);
      int want = model_ack_rc(&m, id, c.now);
      if (rc != want) {
        fprintf(stderr, "  step %d: ack %" PRIu64 " rc %d want %d\n", step, id,
                rc, want);
        fails++;
      }
      if (want == 0) {
        int64_t want_at = model_ack_time(&m, id, c.now);
        if (rc == 0 && at != want_at) {
          fprintf(stderr, "  step %d: ack %" PRIu64 " at %" PRId64 " want %" PRId64 "\n",
                  step, id, at, want_at);
          fails++;
        }
        model_ack(&m, id, want_at);
        if (t) t_wrote = 1;
      }
    } else if (op < 78 && n_ev) { /* delete */
      uint64_t id = 1 + rnd32() % n_ev;
      int existed = -1;
      int rc = evs_delete(s, t, id, &existed);
      int want = model_delete(&m, id, c.now);
      if (t && want) t_wrote = 1;
      if (rc != 0 || existed != want) {
        fprintf(stderr, "  step %d: delete %" PRIu64 " rc %d existed %d\n",
                step, id, rc, existed);
        fails++;
      }
    } else if (op < 86) { /* begin / commit / rollback */
      if (!t) {
        if (evs_txn_begin(s, &t) != 0) {
          fails++;
          t = NULL;
          continue;
        }
        model_copy(&saved, &m);
        t_wrote = 0;
      } else if (op < 83) {
        if (evs_txn_commit(t) != 0) fails++;
        t = NULL;
      } else {
        if (evs_txn_rollback(t) != 0) fails++;
        t = NULL;
        model_copy(&m, &saved);
      }
    } else if (op < 90) {
      fails += model_check(s, t, &m, c.now, step);
    } else { /* consumers: leases of 1..2000 us run out as the clock moves */
      fails += lease_op(s, t, &m, c.now, step);
    }
  }
  if (t) CHECK_EQ(evs_txn_commit(t), 0);
  fails += model_check(s, NULL, &m, c.now, -1);
  CHECK_EQ(fails, 0);
  evs_stats st = stats(s);
  model_counts mc = model_count(&m, c.now);
  CHECK_EQ(st.pending, mc.pending);
  CHECK_EQ(st.acknowledged, mc.acknowledged);
  fprintf(stderr,
          "  leases: %ld claimed, %ld settled, %ld stale, %ld redriven, %ld in a transaction; "
          "at the end %llu leased %llu dead\n"
          "  ordering keys: %ld keyed events, %ld keyed claims, %ld claimable listings, "
          "%ld first keyed appends refused\n",
          n_claimed, n_settled, n_stale, n_redriven, n_deadlk, (unsigned long long)mc.leased,
          (unsigned long long)mc.dead, n_keyed, n_keyed_claims, n_claimable_checks,
          n_first_key_refused);
  /* Keyed claims happened, and contended: the run tested the rule. */
  CHECK(n_keyed_claims > 0);
  CHECK(n_claimable_checks > 0);
  CHECK_EQ(st.leased, mc.leased);
  CHECK_EQ(st.dead, mc.dead);
  CHECK_EQ(st.delayed, mc.delayed);
  CHECK_EQ(st.next_id, m.next_id);
  model_free(&m);
  model_free(&saved);
  evs_store_close(s);
}

int main(void) {
  RUN(t_random_model);
  return TEST_EXIT();
}
