/*
** test_order.c: ordering keys. Events of one key are claimed one at a
** time, oldest first: an event is claimable only when every older event of
** its key is acknowledged, deleted or dead (or past retention) and no
** event of its key is leased. Other keys and events without a key go on
** in parallel; the inbox is not affected. It holds through settling,
** expiry, dead letters, redrive, transactions that roll back, reopening
** (checkpoint and log alone), compaction and verify.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evstore.h"
#include "testlib.h"

static fake_clock clk = {T0};

static evs_options opts(uint32_t max_deliveries) {
  evs_options o = opts_clock(&clk);
  o.sync = EVS_SYNC_OFF; /* power loss is test_powerloss's */
  o.max_deliveries = max_deliveries;
  o.auto_compact_percent = -1;
  return o;
}

/* Append one event of key k (NULL: none) from source src; its id. */
static uint64_t put(evs_store *s, evs_txn *t, const char *src, const char *k) {
  evs_event_in e = ev_make(src, "t", "{\"x\":1}");
  e.ordering_key = k;
  evs_append_result r;
  int rc = evs_append(s, t, &e, &r);
  CHECK_EQ(rc, 0);
  if (rc) fprintf(stderr, "  append: %s\n", evs_errmsg(s));
  return r.id;
}

/* Claim up to limit (source filter src or NULL): ids and tokens. */
static size_t claim(evs_store *s, const char *who, unsigned limit, int64_t lease,
                    const char *src, uint64_t *ids, uint64_t *tok) {
  evs_query q = {0};
  q.limit = limit;
  q.source = src;
  evs_page *pg = NULL;
  int rc = evs_claim(s, &q, who, lease, &pg);
  CHECK_EQ(rc, 0);
  if (rc) fprintf(stderr, "  claim: %s\n", evs_errmsg(s));
  size_t n = evs_page_count(pg);
  for (size_t i = 0; i < n; i++) {
    if (ids) ids[i] = evs_page_event(pg, i)->id;
    if (tok) tok[i] = evs_page_event(pg, i)->lease_token;
  }
  evs_page_free(pg);
  return n;
}

/* The ids a claim would take now (status claimable), without taking. */
static size_t claimable(evs_store *s, uint64_t *ids) {
  evs_query q = {0};
  q.status = EVS_QUERY_CLAIMABLE;
  q.limit = 100;
  evs_page *pg = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &pg), 0);
  size_t n = evs_page_count(pg);
  for (size_t i = 0; i < n; i++) ids[i] = evs_page_event(pg, i)->id;
  evs_page_free(pg);
  return n;
}

static void t_validation_and_read_back(void) {
  clk.now = T0;
  evs_options o = opts(0);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_event_in e = ev_make("a", "t", "{}");
  e.ordering_key = "";
  CHECK_EQ(evs_append(s, NULL, &e, NULL), EVS_EINVAL);
  CHECK(strstr(evs_errmsg(s), "ordering_key is empty") != NULL);
  char *big = rep('k', EVS_MAX_ORDERING_KEY + 1);
  e.ordering_key = big;
  CHECK_EQ(evs_append(s, NULL, &e, NULL), EVS_ETOOBIG);
  CHECK(strstr(evs_errmsg(s), "ordering_key is 129 bytes, limit is 128") != NULL);
  big[EVS_MAX_ORDERING_KEY] = 0; /* exactly the limit */
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &e, &r), 0);
  evs_event *ev = NULL;
  REQUIRE(evs_get(s, NULL, r.id, &ev) == 0);
  CHECK(ev->ordering_key && !strcmp(ev->ordering_key, big));
  CHECK_EQ(ev->ordering_key_len, (size_t)EVS_MAX_ORDERING_KEY);
  evs_event_free(ev);
  free(big);
  e.ordering_key = "\xff";
  CHECK_EQ(evs_append(s, NULL, &e, NULL), EVS_EINVAL);
  CHECK(strstr(evs_errmsg(s), "ordering_key is not valid UTF-8") != NULL);
  /* Byte for byte: white space and case make other keys. */
  uint64_t a = put(s, NULL, "a", " k"), b = put(s, NULL, "a", "k"), c = put(s, NULL, "a", "K");
  uint64_t d = put(s, NULL, "a", NULL);
  REQUIRE(evs_get(s, NULL, a, &ev) == 0);
  CHECK(ev->ordering_key && !strcmp(ev->ordering_key, " k"));
  evs_event_free(ev);
  REQUIRE(evs_get(s, NULL, d, &ev) == 0);
  CHECK(ev->ordering_key == NULL && ev->ordering_key_len == 0);
  evs_event_free(ev);
  /* The inbox lists them all, keys in its pages. */
  evs_query q = {0};
  evs_page *pg = NULL;
  REQUIRE(evs_inbox(s, NULL, &q, &pg) == 0);
  CHECK_EQ(evs_page_count(pg), 5u);
  CHECK(evs_page_event(pg, 2)->ordering_key && !strcmp(evs_page_event(pg, 2)->ordering_key, "k"));
  evs_page_free(pg);
  uint64_t ids[100];
  CHECK_EQ(claim(s, "w", 10, 0, NULL, ids, NULL), 5u); /* five keys (or none) */
  (void)b, (void)c;
  CHECK_EQ(evs_store_close(s), 0);
}

static void t_head_of_line(void) {
  clk.now = T0;
  evs_options o = opts(0);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  uint64_t a1 = put(s, NULL, "x", "A"), a2 = put(s, NULL, "x", "A"), b1 = put(s, NULL, "x", "B");
  uint64_t n1 = put(s, NULL, "x", NULL), a3 = put(s, NULL, "x", "A"), b2 = put(s, NULL, "x", "B");
  uint64_t ids[100], tok[100], c[100];
  /* One event per key, oldest first; events without a key all. */
  CHECK_EQ(claimable(s, c), 3u);
  REQUIRE(claim(s, "w", 10, 10 * SEC, NULL, ids, tok) == 3);
  CHECK(ids[0] == a1 && ids[1] == b1 && ids[2] == n1);
  CHECK_EQ(claim(s, "w", 10, 0, NULL, ids + 3, NULL), 0u);
  CHECK_EQ(claimable(s, c), 0u);
  /* The inbox still lists the held-back ones: not leased, pending. */
  evs_query q = {0};
  CHECK_EQ(inbox_count(s, NULL, &q), 3);
  /* Settling the head lets the next of its key go. */
  CHECK_EQ(evs_ack_lease(s, a1, tok[0], NULL), 0);
  REQUIRE(claim(s, "w", 10, 10 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], a2);
  /* Released with a delay: still the head, the key waits for it. */
  CHECK_EQ(evs_release(s, a2, tok[0], 5 * SEC), 0);
  CHECK_EQ(claim(s, "w", 10, 0, NULL, NULL, NULL), 0u);
  clk.now += 6 * SEC;
  REQUIRE(claim(s, "w2", 10, 10 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], a2);
  /* Rejected: dead, out of the way. */
  CHECK_EQ(evs_reject(s, a2, tok[0]), 0);
  REQUIRE(claim(s, "w", 10, 10 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], a3);
  /* Redriven while a3 is leased: the key has a lease, a2 waits. */
  uint64_t nred = 0;
  CHECK_EQ(evs_redrive(s, NULL, &nred), 0);
  CHECK_EQ(nred, 1u);
  CHECK_EQ(claim(s, "w", 10, 0, NULL, NULL, NULL), 0u);
  CHECK_EQ(evs_ack_lease(s, a3, tok[0], NULL), 0);
  REQUIRE(claim(s, "w", 10, 10 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], a2);
  /* A plain ack or a delete of the head settles it too. */
  CHECK_EQ(evs_ack(s, NULL, b1, NULL), 0);
  REQUIRE(claim(s, "w", 10, 10 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], b2);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
}

static void t_expiry_and_dead(void) {
  clk.now = T0;
  evs_options o = opts(2);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  uint64_t a1 = put(s, NULL, "x", "A"), a2 = put(s, NULL, "x", "A");
  uint64_t ids[100], tok[100];
  REQUIRE(claim(s, "w", 10, 5 * SEC, NULL, ids, tok) == 1);
  clk.now += 6 * SEC; /* the lease ran out: a1 is the head again */
  REQUIRE(claim(s, "w2", 10, 5 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], a1);
  clk.now += 6 * SEC; /* its second delivery ran out: dead */
  REQUIRE(claim(s, "w", 10, 5 * SEC, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], a2);
  evs_event *e = NULL;
  REQUIRE(evs_get(s, NULL, a1, &e) == 0);
  CHECK_EQ(e->status, EVS_STATUS_DEAD);
  evs_event_free(e);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
}

/* Filters: the head of a key that a filter leaves out still holds the
** key back (order is the key's, whatever the consumer asks for). */
static void t_filters(void) {
  clk.now = T0;
  evs_options o = opts(0);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  uint64_t x1 = put(s, NULL, "x", "A"), y1 = put(s, NULL, "y", "A"), y2 = put(s, NULL, "y", "B");
  uint64_t ids[100], tok[100];
  REQUIRE(claim(s, "w", 10, 0, "y", ids, tok) == 1);
  CHECK_EQ(ids[0], y2);
  REQUIRE(claim(s, "w", 10, 0, "x", ids, tok) == 1);
  CHECK_EQ(ids[0], x1);
  CHECK_EQ(evs_ack_lease(s, x1, tok[0], NULL), 0);
  REQUIRE(claim(s, "w", 10, 0, "y", ids, tok) == 1);
  CHECK_EQ(ids[0], y1);
  CHECK_EQ(evs_store_close(s), 0);
}

/* Keyed appends in transactions that roll back leave nothing behind. */
static void t_rollback(void) {
  clk.now = T0;
  char *dir = t_tmpdir();
  evs_options o = opts(0);
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  (void)put(s, NULL, "x", NULL);
  /* The store's first keyed event starts a new segment format: it must
  ** begin its transaction. */
  evs_txn *t = NULL;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  (void)put(s, t, "x", NULL);
  evs_event_in e = ev_make("x", "t", "{}");
  e.ordering_key = "A";
  CHECK_EQ(evs_append(s, t, &e, NULL), EVS_EINVAL);
  CHECK(strstr(evs_errmsg(s), "must begin its transaction") != NULL);
  CHECK_EQ(evs_txn_rollback(t), 0);
  REQUIRE(evs_txn_begin(s, &t) == 0);
  uint64_t a1 = put(s, t, "x", "A");
  CHECK_EQ(evs_txn_rollback(t), 0);
  REQUIRE(evs_txn_begin(s, &t) == 0);
  uint64_t a2 = put(s, t, "x", "A");
  CHECK_EQ(evs_txn_savepoint(t, 0), 0);
  (void)put(s, t, "x", "A");
  (void)put(s, t, "x", "B");
  CHECK_EQ(evs_txn_rollback_to(t, 0), 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK(a2 >= a1);
  uint64_t ids[100], tok[100];
  REQUIRE(claim(s, "w", 10, 0, NULL, ids, tok) == 2);
  CHECK_EQ(ids[1], a2);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* All of it survives reopening from the checkpoint and from the log
** alone, and compaction. */
static void t_durable(void) {
  clk.now = T0;
  char *dir = t_tmpdir();
  evs_options o = opts(3);
  o.segment_size = 4096;
  o.idempotency_window_us = 1;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  char k[16];
  uint64_t first[8];
  for (int i = 0; i < 200; i++) {
    snprintf(k, sizeof k, "k%d", i % 8);
    uint64_t id = put(s, NULL, i % 3 ? "x" : "y", i % 5 == 4 ? NULL : k);
    if (i < 8) first[i] = id;
  }
  uint64_t ids[100], tok[100];
  size_t n = claim(s, "w", 100, 10 * SEC, NULL, ids, tok);
  CHECK(n > 8);
  /* Settle some heads in different ways, so the next ones are up. */
  for (size_t i = 0; i < n && i < 6; i++) {
    if (i % 3 == 0) CHECK_EQ(evs_ack_lease(s, ids[i], tok[i], NULL), 0);
    if (i % 3 == 1) CHECK_EQ(evs_reject(s, ids[i], tok[i]), 0);
    if (i % 3 == 2) CHECK_EQ(evs_delete(s, NULL, ids[i], NULL), 0);
  }
  (void)first;
  uint64_t want[100];
  size_t nwant = claimable(s, want);
  CHECK(nwant > 0);
  CHECK_EQ(evs_store_close(s), 0);
  for (int pass = 0; pass < 3; pass++) {
    evs_options r = o;
    r.checkpoint_bytes = pass ? -1 : 0;
    REQUIRE(evs_store_open(dir, &r, &s) == 0);
    if (pass == 0) CHECK_EQ(stats(s).checkpoint_state, EVS_CHECKPOINT_LOADED);
    CHECK_EQ(evs_verify(s, NULL), 0);
    uint64_t got[100];
    size_t ngot = claimable(s, got);
    CHECK_EQ(ngot, nwant);
    for (size_t i = 0; i < ngot && i < nwant; i++) CHECK_EQ(got[i], want[i]);
    if (pass == 1) {
      evs_compact_report rep;
      CHECK_EQ(evs_compact(s, &rep), 0);
      CHECK_EQ(evs_verify(s, NULL), 0);
      ngot = claimable(s, got);
      CHECK_EQ(ngot, nwant);
      CHECK_EQ(evs_checkpoint(s), 0);
    }
    CHECK_EQ(evs_store_close(s), 0);
  }
  /* Leases held across the reopen still hold their keys. */
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  clk.now += SEC;
  size_t m = claim(s, "w2", 100, 10 * SEC, NULL, ids, tok);
  CHECK_EQ(m, nwant);
  CHECK_EQ(claim(s, "w2", 100, 0, NULL, NULL, NULL), 0u);
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A head past retention is gone: it holds nothing back. */
static void t_retention(void) {
  clk.now = T0;
  evs_options o = opts(0);
  o.retention_us = 10 * SEC;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  (void)put(s, NULL, "x", "A");
  clk.now += 5 * SEC;
  uint64_t a2 = put(s, NULL, "x", "A");
  CHECK_EQ(claim(s, "w", 10, 0, NULL, NULL, NULL), 1u); /* a1 */
  clk.now += 6 * SEC; /* a1 past retention, its lease with it */
  uint64_t ids[10];
  REQUIRE(claim(s, "w", 10, 0, NULL, ids, NULL) == 1);
  CHECK_EQ(ids[0], a2);
  CHECK_EQ(evs_store_close(s), 0);
}

/* evs_wait with status claimable does not wake for held-back events. */
static void t_wait_claimable(void) {
  clk.now = T0;
  evs_options o = opts(0);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  (void)put(s, NULL, "x", "A");
  (void)put(s, NULL, "x", "A");
  uint64_t ids[10], tok[10];
  REQUIRE(claim(s, "w", 1, 0, NULL, ids, tok) == 1);
  evs_query q = {0};
  q.status = EVS_QUERY_CLAIMABLE;
  CHECK_EQ(evs_wait(s, &q, 0), EVS_EBUSY);
  evs_query p = {0};
  CHECK_EQ(evs_wait(s, &p, 0), 0); /* pending: the inbox has one */
  CHECK_EQ(evs_ack_lease(s, ids[0], tok[0], NULL), 0);
  CHECK_EQ(evs_wait(s, &q, 0), 0);
  q.status = 7;
  CHECK_EQ(evs_wait(s, &q, 0), EVS_EINVAL);
  CHECK_EQ(evs_store_close(s), 0);
}

/* Random work on a few keys against the rule itself: after every step,
** the claimable set is exactly the events whose older key-mates are all
** settled and whose key has no lease. */
static void t_random_rule(void) {
  clk.now = T0;
  evs_options o = opts(3);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  enum { N = 300, K = 5 };
  static uint64_t id[N];
  static int key[N];
  static uint64_t tok[N];
  unsigned seed = 12345;
  int n = 0;
  for (int step = 0; step < 3000 && !t_failed_checks; step++) {
    int op = (int)((seed = seed * 1103515245 + 12345) >> 16) % 10;
    int r = (int)((seed = seed * 1103515245 + 12345) >> 16);
    if ((op < 3 && n < N) || n == 0) {
      char k[8];
      key[n] = r % (K + 1) - 1; /* -1: no key */
      snprintf(k, sizeof k, "k%d", key[n]);
      id[n] = put(s, NULL, "x", key[n] < 0 ? NULL : k);
      n++;
    } else if (op < 5) {
      uint64_t ids[100], tk[100];
      size_t m = claim(s, "w", (unsigned)(r % 4 + 1), 5 * SEC, NULL, ids, tk);
      for (size_t i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          if (id[j] == ids[i]) tok[j] = tk[i];
    } else if (op < 8) {
      int j = r % n;
      int rc = op == 5 ? evs_ack_lease(s, id[j], tok[j], NULL)
               : op == 6 ? evs_release(s, id[j], tok[j], (r & 1) * SEC)
                         : evs_reject(s, id[j], tok[j]);
      CHECK(rc == 0 || rc == EVS_ESTALE || rc == EVS_ECONFLICT || rc == EVS_ENOTFOUND);
    } else if (op == 8) {
      clk.now += (r % 4) * SEC;
    } else {
      if (r % 3 == 0) CHECK_EQ(evs_redrive(s, NULL, NULL), 0);
      else if (r % 3 == 1) CHECK_EQ(evs_delete(s, NULL, id[r % n], NULL), 0);
    }
    /* The rule, from get: statuses of every event. */
    int st[N];
    for (int j = 0; j < n; j++) {
      evs_event *e = NULL;
      st[j] = evs_get(s, NULL, id[j], &e) ? -1 : e->status;
      evs_event_free(e);
    }
    uint64_t want[N];
    size_t nw = 0;
    for (int j = 0; j < n; j++) {
      if (st[j] != EVS_STATUS_PENDING) continue;
      int ok = 1;
      for (int i = 0; i < n && ok && key[j] >= 0; i++) {
        if (i == j || key[i] != key[j]) continue;
        if (st[i] == EVS_STATUS_LEASED) ok = 0;
        if (i < j && (st[i] == EVS_STATUS_PENDING || st[i] == EVS_STATUS_DELAYED)) ok = 0;
      }
      if (ok) want[nw++] = id[j];
    }
    /* At most one lease per key. */
    for (int k = 0; k < K; k++) {
      int leased = 0;
      for (int j = 0; j < n; j++) leased += key[j] == k && st[j] == EVS_STATUS_LEASED;
      CHECK(leased <= 1);
    }
    uint64_t got[N];
    evs_query q = {0};
    q.status = EVS_QUERY_CLAIMABLE;
    q.limit = 100;
    size_t ng = 0;
    evs_page *pg = NULL;
    for (;;) {
      REQUIRE(evs_inbox(s, NULL, &q, &pg) == 0);
      for (size_t i = 0; i < evs_page_count(pg); i++) got[ng++] = evs_page_event(pg, i)->id;
      if (!evs_page_more(pg)) break;
      q.cursor = evs_page_cursor(pg);
    }
    CHECK_EQ(ng, nw);
    for (size_t i = 0; i < ng && i < nw; i++) CHECK_EQ(got[i], want[i]);
    evs_page_free(pg);
    if (step % 500 == 0) {
      evs_verify_report vr;
      CHECK_EQ(evs_verify(s, &vr), 0);
      if (vr.problems) fprintf(stderr, "  step %d: %s\n", step, evs_errmsg(s));
    }
  }
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
}

/* A dead event at the front of its key, then many of the key processed
** behind it: each claim still takes the next, the list is swept, a
** reopen agrees, and the dead one, redriven, waits for the key's lease. */
static void t_dead_front(void) {
  clk.now = T0;
  char *dir = t_tmpdir();
  evs_options o = opts(0);
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  uint64_t d = put(s, NULL, "x", "K"), ids[100], tok[100];
  REQUIRE(claim(s, "w", 1, 0, NULL, ids, tok) == 1);
  CHECK_EQ(evs_reject(s, d, tok[0]), 0);
  uint64_t next = d + 1; /* the key's events in order, one at a time */
  for (int i = 0; i < 3000 && !t_failed_checks; i++) {
    (void)put(s, NULL, "x", "K");
    if (i % 2) continue;
    REQUIRE(claim(s, "w", 100, 0, NULL, ids, tok) == 1);
    CHECK_EQ(ids[0], next);
    next++;
    CHECK_EQ(evs_ack_lease(s, ids[0], tok[0], NULL), 0);
  }
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  evs_options r = o;
  r.checkpoint_bytes = -1; /* the log alone */
  REQUIRE(evs_store_open(dir, &r, &s) == 0);
  CHECK_EQ(evs_verify(s, NULL), 0);
  size_t n = claim(s, "w", 100, 0, NULL, ids, tok);
  CHECK_EQ(n, 1u);
  uint64_t nred = 0;
  CHECK_EQ(evs_redrive(s, NULL, &nred), 0);
  CHECK_EQ(nred, 1u);
  CHECK_EQ(claim(s, "w", 100, 0, NULL, NULL, NULL), 0u); /* the key is leased */
  CHECK_EQ(evs_ack_lease(s, ids[0], tok[0], NULL), 0);
  REQUIRE(claim(s, "w", 100, 0, NULL, ids, tok) == 1);
  CHECK_EQ(ids[0], d); /* the oldest of the key again */
  CHECK_EQ(evs_verify(s, NULL), 0);
  CHECK_EQ(evs_store_close(s), 0);
  t_rmdir(dir);
}

/* A reader in another handle sees what the writer would claim, and
** follows it through refresh, compaction and a checkpoint. */
static void t_reader(void) {
  clk.now = T0;
  char *dir = t_tmpdir();
  evs_options o = opts(0);
  o.segment_size = 4096;
  evs_store *w = NULL, *r = NULL;
  REQUIRE(evs_store_open(dir, &o, &w) == 0);
  for (int i = 0; i < 60; i++) (void)put(w, NULL, "x", i % 2 ? "A" : "B");
  evs_options ro = o;
  ro.read_only = 1;
  REQUIRE(evs_store_open(dir, &ro, &r) == 0);
  uint64_t a[100], b[100], ids[100], tok[100];
  CHECK_EQ(claimable(r, a), 2u);
  for (int round = 0; round < 20; round++) {
    size_t n = claim(w, "w", 100, 0, NULL, ids, tok);
    CHECK_EQ(n, 2u);
    for (size_t i = 0; i < n; i++) CHECK_EQ(evs_ack_lease(w, ids[i], tok[i], NULL), 0);
    if (round % 5 == 4) CHECK_EQ(evs_compact(w, NULL), 0);
    if (round % 7 == 6) CHECK_EQ(evs_checkpoint(w), 0);
    CHECK_EQ(evs_store_refresh(r), 0);
    size_t na = claimable(r, a), nb = claimable(w, b);
    CHECK_EQ(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) CHECK_EQ(a[i], b[i]);
  }
  CHECK_EQ(evs_store_close(r), 0);
  CHECK_EQ(evs_store_close(w), 0);
  t_rmdir(dir);
}

int main(void) {
  RUN(t_validation_and_read_back);
  RUN(t_head_of_line);
  RUN(t_expiry_and_dead);
  RUN(t_filters);
  RUN(t_rollback);
  RUN(t_durable);
  RUN(t_retention);
  RUN(t_wait_claimable);
  RUN(t_random_rule);
  RUN(t_reader);
  RUN(t_dead_front);
  return TEST_EXIT();
}
