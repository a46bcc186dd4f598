/*
** test_api_txn.c: transactions: commit, visibility, rollback, misuse and its
** codes, large transactions.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- transactions ------------------------------------------------------ */

static void t_txn_commit_and_visibility(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0); /* id 1 */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0); /* id 2 */
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  evs_append_result r;
  CHECK_EQ(app(s, t, "in", "txn", "{\"v\":1}", &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  int existed = 0;
  CHECK_EQ(evs_delete(s, t, 2, &existed), 0);
  CHECK_EQ(existed, 1);
  /* Read your own writes. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, t, 3, &e), 0);
  if (e) CHECK_STR(e->source, "in");
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, t, 1, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, t, 2, &e), EVS_ENOTFOUND);
  CHECK(inbox_has(s, t, 3));
  CHECK(!inbox_has(s, t, 1));
  CHECK(!inbox_has(s, t, 2));
  /* Ack inside the txn again: conflict; ack of the new event works. */
  CHECK_EQ(evs_ack(s, t, 1, NULL), EVS_ECONFLICT);
  CHECK_EQ(evs_ack(s, t, 2, NULL), EVS_ENOTFOUND);
  /* Outside the txn (NULL) nothing is visible yet. */
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), EVS_ENOTFOUND);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_PENDING);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  evs_event_free(e);
  CHECK(!inbox_has(s, NULL, 3));
  CHECK(inbox_has(s, NULL, 1));
  CHECK(inbox_has(s, NULL, 2));
  CHECK_EQ(stats(s).pending, 2);
  /* A second append batch inside. */
  evs_event_in ev[2] = {ev_make("b", "t", "{}"), ev_make("b", "t", "{}")};
  evs_append_result res[2];
  CHECK_EQ(evs_append_batch(s, t, ev, 2, res), 0);
  CHECK_EQ(res[0].id, 4);
  CHECK_EQ(res[1].id, 5);
  uint64_t ids[2] = {4, 1};
  int rcs[2];
  CHECK_EQ(evs_ack_batch(s, t, ids, 2, rcs), 0);
  CHECK_EQ(rcs[0], 0);
  CHECK_EQ(rcs[1], EVS_ECONFLICT);
  CHECK_EQ(evs_txn_commit(t), 0);
  /* All visible now. */
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 3, &e), 0);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), EVS_ENOTFOUND);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_ACKNOWLEDGED);
  evs_event_free(e);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 2); /* 3, 5 */
  CHECK_EQ(st.acknowledged, 2); /* 1, 4 */
  CHECK_EQ(st.next_id, 6);
  /* An empty transaction commits and rolls back fine. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(evs_txn_rollback(t), 0);
  evs_store_close(s);
}

static void t_txn_rollback(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);  /* 1 */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);  /* 2 */
  CHECK_EQ(app_key(s, NULL, "kept", NULL), 0);      /* 3 */
  evs_stats before = stats(s);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  evs_append_result r;
  CHECK_EQ(app_key(s, t, "rolled", &r), 0);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(app_key(s, t, "rolled", &r), 0); /* dup inside the txn */
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 4);
  CHECK_EQ(evs_ack(s, t, 1, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 2, NULL), 0);
  CHECK_EQ(evs_delete(s, t, 3, NULL), 0); /* forgets "kept" in the txn */
  CHECK_EQ(app_key(s, t, "kept", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 5);
  CHECK_EQ(evs_txn_rollback(t), 0);
  /* Everything is as before. */
  evs_stats after = stats(s);
  CHECK_EQ(after.pending, before.pending);
  CHECK_EQ(after.acknowledged, before.acknowledged);
  CHECK_EQ(after.next_id, before.next_id);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_EQ(e->status, EVS_STATUS_PENDING);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 4, &e), EVS_ENOTFOUND);
  CHECK(inbox_has(s, NULL, 1) && inbox_has(s, NULL, 2) &&
        inbox_has(s, NULL, 3));
  CHECK(!inbox_has(s, NULL, 4));
  /* Keys: "rolled" is free, "kept" still belongs to 3. */
  CHECK_EQ(app_key(s, NULL, "kept", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(app_key(s, NULL, "rolled", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 4); /* ids stay dense */
  evs_store_close(s);

  /* Payload stats do not count rolled back data. */
  s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{\"a\":1}", NULL), 0);
  before = stats(s);
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  char *big = json_of_size(5000, 'r');
  CHECK_EQ(app(s, t, "s", "t", big, NULL), 0);
  free(big);
  CHECK_EQ(evs_txn_rollback(t), 0);
  after = stats(s);
  CHECK_EQ(after.payload_bytes, before.payload_bytes);
  CHECK_EQ(after.payload_stored_bytes, before.payload_stored_bytes);
  evs_store_close(s);
}

static void t_txn_misuse(void) {
  evs_store *s = open_mem(NULL), *s2 = open_mem(NULL);
  REQUIRE(s && s2);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(app(s2, NULL, "s", "t", "{}", NULL), 0);
  evs_txn *t = NULL, *t2 = (evs_txn *)1;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  /* Nested begin on the same thread. */
  CHECK_EQ(evs_txn_begin(s, &t2), EVS_EDEADLK);
  CHECK(t2 == NULL || t2 == (evs_txn *)1);
  /* Autocommit writes from the thread holding the txn. */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), EVS_EDEADLK);
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), EVS_EDEADLK);
  CHECK_EQ(evs_delete(s, NULL, 1, NULL), EVS_EDEADLK);
  evs_event_in ev = ev_make("s", "t", "{}");
  evs_append_result res;
  CHECK_EQ(evs_append_batch(s, NULL, &ev, 1, &res), EVS_EDEADLK);
  uint64_t id = 1;
  int rc1;
  CHECK_EQ(evs_ack_batch(s, NULL, &id, 1, &rc1), EVS_EDEADLK);
  /* Autocommit reads are fine (committed state). */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  evs_event_free(e);
  /* Another store is not affected by this store's txn. */
  CHECK_EQ(app(s2, NULL, "s", "t", "{}", NULL), 0);
  /* The txn of store s used with store s2. */
  CHECK_EQ(app(s2, t, "s", "t", "{}", NULL), EVS_EMISUSE);
  e = NULL;
  CHECK_EQ(evs_get(s2, t, 1, &e), EVS_EMISUSE);
  CHECK_EQ(evs_ack(s2, t, 1, NULL), EVS_EMISUSE);
  CHECK_EQ(evs_delete(s2, t, 1, NULL), EVS_EMISUSE);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s2, t, &q, &p), EVS_EMISUSE);
  evs_page_free(p);
  /* The txn still works on its own store. */
  evs_append_result r;
  CHECK_EQ(app(s, t, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(evs_txn_commit(t), 0);
  /* After commit, autocommit writes work again. */
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(stats(s2).next_id, 3);
  /* A nested begin also fails inside a txn that has writes, and the txn is
  ** unharmed. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  CHECK_EQ(app(s, t, "s", "t", "{}", NULL), 0);
  t2 = NULL;
  CHECK_EQ(evs_txn_begin(s, &t2), EVS_EDEADLK);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(stats(s).next_id, 5);
  /* Close with an open transaction: rolled back, handle freed. */
  t = NULL;
  CHECK_EQ(evs_txn_begin(s2, &t), 0);
  CHECK_EQ(app(s2, t, "s", "t", "{}", NULL), 0);
  evs_store_close(s2);
  evs_store_close(s);
}

/* Every misuse of a transaction handle that can be detected is
** EVS_EMISUSE, and leaves the transaction (if any) unharmed. A finished
** handle cannot be: commit and rollback free it (see the header). */
static void t_txn_misuse_codes(void) {
  CHECK_EQ(evs_txn_commit(NULL), EVS_EMISUSE);
  CHECK_EQ(evs_txn_rollback(NULL), EVS_EMISUSE);
  CHECK_EQ(evs_txn_savepoint(NULL, 0), EVS_EMISUSE);
  CHECK_EQ(evs_txn_release(NULL, 0), EVS_EMISUSE);
  CHECK_EQ(evs_txn_rollback_to(NULL, 0), EVS_EMISUSE);
  CHECK_CONTAINS(evs_errmsg(NULL), "NULL");
  char *dir = t_tmpdir();
  evs_store *s = NULL, *s2 = open_mem(NULL);
  REQUIRE(evs_store_open(dir, NULL, &s) == 0 && s2);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  evs_txn *t = NULL;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  CHECK_EQ(app(s, t, "s", "t", "{}", NULL), 0);
  const int bad[] = {-1, INT32_MIN, 1000001, INT32_MAX};
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(evs_txn_savepoint(t, bad[i]), EVS_EMISUSE);
    CHECK_CONTAINS(evs_errmsg(s), "out of range");
    CHECK_EQ(evs_txn_release(t, bad[i]), EVS_EMISUSE);
    CHECK_EQ(evs_txn_rollback_to(t, bad[i]), EVS_EMISUSE);
  }
  CHECK_EQ(evs_txn_savepoint(t, 1000000), 0);
  CHECK_EQ(evs_txn_release(t, 1000000), 0);
  /* The transaction of s passed with s2: every call taking one. */
  evs_event_in ev = ev_make("s", "t", "{}");
  evs_append_result res;
  CHECK_EQ(evs_append_batch(s2, t, &ev, 1, &res), EVS_EMISUSE);
  CHECK_CONTAINS(evs_errmsg(s2), "does not belong to this store");
  uint64_t id = 1;
  int rc1;
  CHECK_EQ(evs_ack_batch(s2, t, &id, 1, &rc1), EVS_EMISUSE);
  /* What needs the writer, or a lock taken before it, from the thread
  ** holding the transaction: refused at once, never a wait. */
  CHECK_EQ(evs_checkpoint(s), EVS_EDEADLK);
  evs_compact_report cr;
  CHECK_EQ(evs_compact(s, &cr), EVS_EDEADLK);
  CHECK_EQ(evs_verify(s, NULL), EVS_EDEADLK);
  /* Unharmed: the transaction's append commits with the next id. */
  evs_append_result r;
  CHECK_EQ(app(s, t, "s", "t", "{}", &r), 0);
  CHECK_EQ(r.id, 3);
  CHECK_EQ(evs_txn_commit(t), 0);
  CHECK_EQ(stats(s).pending, 3);
  CHECK_EQ(stats(s2).pending, 0);
  CHECK_EQ(evs_checkpoint(s), 0);
  CHECK_EQ(evs_store_close(s), 0);
  evs_store_close(s2);
  t_rmdir(dir);
}

static void t_txn_large(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  evs_txn *t = NULL;
  CHECK_EQ(evs_txn_begin(s, &t), 0);
  REQUIRE(t);
  enum { N = 10000 };
  int fails = 0;
  for (int i = 0; i < N; i++) {
    char pl[64], key[32];
    snprintf(pl, sizeof pl, "{\"i\":%d}", i);
    snprintf(key, sizeof key, "k%d", i);
    evs_event_in in = ev_make("bulk", "t", pl);
    in.idempotency_key = key;
    evs_append_result r;
    if (evs_append(s, t, &in, &r) != 0 || r.id != (uint64_t)i + 1) fails++;
  }
  CHECK_EQ(fails, 0);
  CHECK_EQ(stats(s).pending, 0);
  CHECK_EQ(evs_txn_commit(t), 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, N);
  CHECK_EQ(st.next_id, N + 1);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 7777, &e), 0);
  if (e) {
    CHECK_STR(e->payload, "{\"i\":7776}");
    CHECK_STR(e->idempotency_key, "k7776");
  }
  evs_event_free(e);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "k9999", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 10000);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  CHECK_EQ(inbox_count(s, NULL, &q), N);
  evs_store_close(s);
}

int main(void) {
  RUN(t_txn_commit_and_visibility);
  RUN(t_txn_rollback);
  RUN(t_txn_misuse);
  RUN(t_txn_misuse_codes);
  RUN(t_txn_large);
  return TEST_EXIT();
}
