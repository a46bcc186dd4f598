/*
** test_api_inbox.c: the inbox: filters, paging with cursors, cursor errors.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- inbox ------------------------------------------------------------- */

static void t_inbox_basic(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  evs_query q;
  memset(&q, 0, sizeof q);
  /* Empty store: empty page, a cursor, no more. */
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 0);
  CHECK(evs_page_cursor(p) != NULL);
  CHECK_EQ(evs_page_more(p), 0);
  for (int i = 0; i < 130; i++)
    CHECK_EQ(app(s, NULL, "s", "t", "{\"i\":1}", NULL), 0);
  /* limit 0 = 50, oldest first, reusing the page. */
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), EVS_PAGE_DEFAULT);
  CHECK_EQ(evs_page_more(p), 1);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    const evs_event *e = evs_page_event(p, i);
    CHECK_EQ(e->id, i + 1);
    CHECK_EQ(e->status, EVS_STATUS_PENDING);
    CHECK_STR(e->source, "s");
    CHECK_STR(e->payload, "{\"i\":1}");
  }
  CHECK(evs_page_cursor(p) != NULL && evs_page_cursor(p)[0] != 0);
  /* The cursor is base64url. */
  for (const char *c = evs_page_cursor(p); *c; c++)
    CHECK((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
          (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '=');
  /* limit 100 ok; 101 not. */
  q.limit = 100;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 100);
  CHECK_EQ(evs_page_more(p), 1);
  q.limit = 1;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 1);
  evs_page_free(p);
  const unsigned badlim[] = {101, 1000, UINT32_MAX};
  for (int i = 0; i < 3; i++) {
    q.limit = badlim[i];
    evs_page *p2 = NULL;
    CHECK_EQ(evs_inbox(s, NULL, &q, &p2), EVS_EINVAL);
    CHECK_CONTAINS(evs_errmsg(s), "limit");
    evs_page_free(p2);
  }
  /* Acknowledged events leave the inbox. */
  for (uint64_t id = 1; id <= 120; id++)
    CHECK_EQ(evs_ack(s, NULL, id, NULL), 0);
  q.limit = 100;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 10);
  CHECK_EQ(evs_page_more(p), 0);
  if (evs_page_count(p) > 0) CHECK_EQ(evs_page_event(p, 0)->id, 121);
  evs_page_free(p);
  evs_store_close(s);
}

static void t_inbox_filters(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  /* id: source type priority meta */
  struct {
    const char *src, *type, *meta;
    int prio;
  } rows[] = {
      {"web", "click", "{\"tenant\":\"acme\",\"n\":42}", 1},       /* 1 */
      {"web", "view", "{\"tenant\":\"globex\",\"n\":42.0}", 2},    /* 2 */
      {"api", "click", "{\"tenant\":\"acme\",\"ok\":true}", 3},    /* 3 */
      {"api", "view", NULL, 0},                                    /* 4 */
      {"web", "click", "{\"tenant\":\"a\\\"b\",\"z\":null}", 3},   /* 5 */
      {"web", "click", "{\"inner\":{\"tenant\":\"acme\"}}", 1},    /* 6 */
      {"web", "click", "{\"tenant\":\"42\",\"ok\":false}", 2},     /* 7 */
      {"web", "click", "{\"tenant\":\"caf\\u00e9\",\"n\":4}", 2},  /* 8 */
  };
  const int nrows = (int)(sizeof rows / sizeof rows[0]);
  for (int i = 0; i < nrows; i++) {
    c.now = T0 + 10 * (i + 1);
    evs_event_in in = ev_make(rows[i].src, rows[i].type, "{}");
    in.metadata = rows[i].meta;
    in.priority = rows[i].prio;
    CHECK_EQ(evs_append(s, NULL, &in, NULL), 0);
  }
  uint64_t ids[64];
  evs_query q;
#define QRESET() memset(&q, 0, sizeof q)
#define EXPECT_IDS(...)                                                   \
  do {                                                                    \
    const uint64_t want_[] = {__VA_ARGS__};                               \
    const long nw_ = (long)(sizeof want_ / sizeof want_[0]);              \
    long n_ = inbox_all(s, NULL, &q, ids, 64);                            \
    CHECK_EQ(n_, nw_);                                                    \
    for (long i_ = 0; i_ < n_ && i_ < nw_; i_++) CHECK_EQ(ids[i_], want_[i_]); \
  } while (0)
#define EXPECT_NONE()                                                     \
  do {                                                                    \
    CHECK_EQ(inbox_all(s, NULL, &q, ids, 64), 0);                         \
  } while (0)

  QRESET();
  EXPECT_IDS(1, 2, 3, 4, 5, 6, 7, 8);
  QRESET();
  q.source = "web";
  EXPECT_IDS(1, 2, 5, 6, 7, 8);
  QRESET();
  q.source = "api";
  q.event_type = "view";
  EXPECT_IDS(4);
  QRESET();
  q.event_type = "click";
  EXPECT_IDS(1, 3, 5, 6, 7, 8);
  QRESET();
  q.source = "nobody";
  EXPECT_NONE();
  QRESET();
  q.source = "WEB"; /* exact match */
  EXPECT_NONE();
  /* Time bounds are exclusive. */
  QRESET();
  q.created_after_us = T0 + 20;
  q.created_before_us = T0 + 50;
  EXPECT_IDS(3, 4);
  QRESET();
  q.created_after_us = T0 + 19;
  EXPECT_IDS(2, 3, 4, 5, 6, 7, 8);
  QRESET();
  q.created_before_us = T0 + 21;
  EXPECT_IDS(1, 2);
  QRESET();
  q.created_after_us = T0 + 40;
  q.created_before_us = T0 + 50;
  EXPECT_NONE();
  /* Priority. */
  QRESET();
  q.priority = EVS_PRIORITY_LOW;
  EXPECT_IDS(1, 6);
  QRESET();
  q.priority = EVS_PRIORITY_NORMAL; /* 0 stored as NORMAL */
  EXPECT_IDS(2, 4, 7, 8);
  QRESET();
  q.priority = EVS_PRIORITY_HIGH;
  q.source = "web";
  EXPECT_IDS(5);
  /* Metadata: strings by unescaped content; numbers/literals by text. */
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "acme";
  EXPECT_IDS(1, 3); /* not 6: only top-level members */
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "a\"b";
  EXPECT_IDS(5);
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "caf\xc3\xa9";
  EXPECT_IDS(8);
  QRESET();
  q.metadata_key = "n";
  q.metadata_value = "42";
  EXPECT_IDS(1); /* 42.0 is different text */
  QRESET();
  q.metadata_key = "tenant";
  q.metadata_value = "42";
  EXPECT_IDS(7); /* the string "42" */
  QRESET();
  q.metadata_key = "n";
  q.metadata_value = "4";
  EXPECT_IDS(8);
  QRESET();
  q.metadata_key = "ok";
  q.metadata_value = "true";
  EXPECT_IDS(3);
  QRESET();
  q.metadata_key = "ok";
  q.metadata_value = "false";
  EXPECT_IDS(7);
  QRESET();
  q.metadata_key = "z";
  q.metadata_value = "null";
  EXPECT_IDS(5);
  QRESET();
  q.metadata_key = "inner";
  q.metadata_value = "{\"tenant\":\"acme\"}"; /* objects never match */
  EXPECT_NONE();
  QRESET();
  q.metadata_key = "missing";
  q.metadata_value = "x";
  EXPECT_NONE();
  /* All filters at once. */
  QRESET();
  q.source = "web";
  q.event_type = "click";
  q.priority = EVS_PRIORITY_LOW;
  q.metadata_key = "tenant";
  q.metadata_value = "acme";
  q.created_after_us = T0;
  q.created_before_us = T0 + 1000;
  EXPECT_IDS(1);

  /* Bad filters. */
  evs_page *p = NULL;
  QRESET();
  q.metadata_key = "tenant";
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "metadata");
  evs_page_free(p);
  p = NULL;
  QRESET();
  q.metadata_value = "acme";
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "metadata");
  evs_page_free(p);
  const int badprio[] = {-1, 4, 9};
  for (int i = 0; i < 3; i++) {
    p = NULL;
    QRESET();
    q.priority = badprio[i];
    CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_EINVAL);
    CHECK_CONTAINS(evs_errmsg(s), "priority");
    evs_page_free(p);
  }
#undef QRESET
#undef EXPECT_IDS
#undef EXPECT_NONE
  evs_store_close(s);
}

static void t_inbox_filter_before_limit(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  /* 301 events, 1 in 3 from X (101 of them). */
  for (int i = 0; i < 301; i++)
    CHECK_EQ(app(s, NULL, i % 3 == 0 ? "X" : "Y", "t", "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 100;
  q.source = "X";
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 100);
  CHECK_EQ(evs_page_more(p), 1);
  for (size_t i = 0; i < evs_page_count(p); i++) {
    CHECK_STR(evs_page_event(p, i)->source, "X");
    CHECK_EQ(evs_page_event(p, i)->id, 1 + 3 * i);
  }
  char *cur = strdup(evs_page_cursor(p));
  q.cursor = cur;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 1);
  CHECK_EQ(evs_page_more(p), 0);
  if (evs_page_count(p) == 1) CHECK_EQ(evs_page_event(p, 0)->id, 301);
  free(cur);
  /* A rare match far away: a page is short only when nothing more matches. */
  CHECK_EQ(app(s, NULL, "rare", "t", "{}", NULL), 0);
  for (int i = 0; i < 500; i++) CHECK_EQ(app(s, NULL, "Y", "t", "{}", NULL), 0);
  CHECK_EQ(app(s, NULL, "rare", "t", "{}", NULL), 0);
  memset(&q, 0, sizeof q);
  q.source = "rare";
  q.limit = 2;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 2);
  CHECK_EQ(evs_page_more(p), 0);
  q.limit = 1;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 1);
  CHECK_EQ(evs_page_more(p), 1);
  evs_page_free(p);
  evs_store_close(s);
}

static void t_inbox_paging(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { N = 237 };
  for (int i = 0; i < N; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 10;
  evs_page *p = NULL;
  char *cur = NULL;
  uint64_t expect = 1;
  int pages = 0;
  for (;;) {
    q.cursor = cur;
    CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
    REQUIRE(p);
    pages++;
    for (size_t i = 0; i < evs_page_count(p); i++) {
      if (pages > 3)
        while (expect == 41 || expect == 42) expect++; /* acked, deleted */
      CHECK_EQ(evs_page_event(p, i)->id, expect);
      expect++;
    }
    REQUIRE(evs_page_cursor(p) != NULL);
    free(cur);
    cur = strdup(evs_page_cursor(p));
    /* Ack something already read and something not yet read: nothing is
    ** skipped or repeated because of it. */
    if (pages == 3) {
      CHECK_EQ(evs_ack(s, NULL, 5, NULL), 0);
      CHECK_EQ(evs_ack(s, NULL, 41, NULL), 0);
      CHECK_EQ(evs_delete(s, NULL, 42, NULL), 0);
    }
    if (!evs_page_more(p)) break;
    if (pages > 100) break;
    /* Changing only the limit is allowed. */
    q.limit = (pages % 2) ? 7 : 10;
  }
  CHECK_EQ(expect, N + 1);
  CHECK_EQ(evs_page_more(p), 0);
  /* At the end: an empty page with a cursor. */
  q.cursor = cur;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 0);
  CHECK_EQ(evs_page_more(p), 0);
  REQUIRE(evs_page_cursor(p) != NULL);
  char *cur_empty = strdup(evs_page_cursor(p));
  /* Events appended afterwards show up with the old cursors. */
  for (int i = 0; i < 3; i++) CHECK_EQ(app(s, NULL, "s", "t", "{}", NULL), 0);
  q.cursor = cur;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 3);
  if (evs_page_count(p) == 3) {
    CHECK_EQ(evs_page_event(p, 0)->id, N + 1);
    CHECK_EQ(evs_page_event(p, 2)->id, N + 3);
  }
  q.cursor = cur_empty;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK_EQ(evs_page_count(p), 3);
  free(cur);
  free(cur_empty);
  evs_page_free(p);

  /* The page's own cursor passed while reusing that page. */
  memset(&q, 0, sizeof q);
  q.limit = 50;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  uint64_t last = evs_page_event(p, evs_page_count(p) - 1)->id;
  q.cursor = evs_page_cursor(p);
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK(evs_page_count(p) > 0);
  if (evs_page_count(p) > 0) CHECK(evs_page_event(p, 0)->id > last);
  evs_page_free(p);
  evs_store_close(s);
}

static void t_inbox_cursor_errors(void) {
  char *d1 = t_tmpdir(), *d2 = t_tmpdir();
  evs_store *s = NULL, *s2 = NULL;
  CHECK_EQ(evs_store_open(d1, NULL, &s), 0);
  CHECK_EQ(evs_store_open(d2, NULL, &s2), 0);
  REQUIRE(s && s2);
  for (int i = 0; i < 30; i++) {
    CHECK_EQ(app(s, NULL, i % 2 ? "X" : "Y", "t", "{}", NULL), 0);
    CHECK_EQ(app(s2, NULL, i % 2 ? "X" : "Y", "t", "{}", NULL), 0);
  }
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 5;
  q.source = "X";
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  char *good = strdup(evs_page_cursor(p));
  evs_page_free(p);
  size_t len = strlen(good);
  REQUIRE(len >= 4);

  evs_page *pe = NULL;
#define CURSOR_ERR(store, phrase)                                     \
  do {                                                                \
    pe = NULL;                                                        \
    CHECK_EQ(evs_inbox(store, NULL, &q, &pe), EVS_ECURSOR);           \
    if (phrase) CHECK_CONTAINS(evs_errmsg(store), (const char *)phrase); \
    evs_page_free(pe);                                                \
  } while (0)

  /* Garbage. */
  const char *garbage[] = {"!!!", "not a cursor", "AAAA", "%%%%%%%%", "x"};
  for (int i = 0; i < 5; i++) {
    q.cursor = garbage[i];
    CURSOR_ERR(s, "malformed");
  }
  /* One character changed anywhere in the cursor. */
  char *bad = strdup(good);
  for (size_t pos = 0; pos < len; pos++) {
    char orig = bad[pos];
    bad[pos] = (orig == 'A') ? 'B' : 'A';
    q.cursor = bad;
    pe = NULL;
    int rc = evs_inbox(s, NULL, &q, &pe);
    if (rc != EVS_ECURSOR) {
      /* The last base64 character may carry unused bits; only the
      ** middle characters are certain to change the decoded bytes. */
      if (pos + 1 < len)
        fprintf(stderr, "  tampered cursor (pos %zu): rc %d\n", pos, rc);
      if (pos + 1 < len) CHECK_EQ(rc, EVS_ECURSOR);
    }
    evs_page_free(pe);
    bad[pos] = orig;
  }
  /* Truncated and extended. */
  bad[len / 2] = 0;
  q.cursor = bad;
  CURSOR_ERR(s, NULL);
  free(bad);
  bad = malloc(len + 8);
  snprintf(bad, len + 8, "%sAAAA", good);
  q.cursor = bad;
  CURSOR_ERR(s, NULL);
  free(bad);
  /* From another store. */
  q.cursor = good;
  CURSOR_ERR(s2, "another store");
  /* With a different filter. */
  q.source = "Y";
  CURSOR_ERR(s, "filter");
  q.source = NULL;
  CURSOR_ERR(s, "filter");
  q.source = "X";
  q.event_type = "t";
  CURSOR_ERR(s, "filter");
  q.event_type = NULL;
  q.priority = EVS_PRIORITY_NORMAL;
  CURSOR_ERR(s, "filter");
  q.priority = 0;
  q.metadata_key = "a";
  q.metadata_value = "b";
  CURSOR_ERR(s, "filter");
  q.metadata_key = q.metadata_value = NULL;
  q.created_after_us = 1;
  CURSOR_ERR(s, "filter");
  q.created_after_us = 0;
  q.created_before_us = INT64_MAX;
  CURSOR_ERR(s, "filter");
  q.created_before_us = 0;
#undef CURSOR_ERR
  /* The right filter with another limit works, and continues after id 10
  ** (the 5th X). */
  q.limit = 3;
  p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  REQUIRE(p);
  CHECK_EQ(evs_page_count(p), 3);
  if (evs_page_count(p) == 3) {
    CHECK_EQ(evs_page_event(p, 0)->id, 12);
    CHECK_EQ(evs_page_event(p, 2)->id, 16);
  }
  /* After an error, the page can still be reused. */
  q.cursor = "!!!";
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), EVS_ECURSOR);
  q.cursor = good;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  CHECK(p && evs_page_count(p) == 3);
  evs_page_free(p);
  free(good);
  evs_store_close(s);
  evs_store_close(s2);
  t_rmdir(d1);
  t_rmdir(d2);
}

static void t_inbox_cursor_memory_stores(void) {
  /* Two in-memory stores are different stores too. */
  evs_store *a = open_mem(NULL), *b = open_mem(NULL);
  REQUIRE(a && b);
  CHECK_EQ(app(a, NULL, "s", "t", "{}", NULL), 0);
  CHECK_EQ(app(b, NULL, "s", "t", "{}", NULL), 0);
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(a, NULL, &q, &p), 0);
  REQUIRE(p);
  char *cur = strdup(evs_page_cursor(p));
  evs_page_free(p);
  q.cursor = cur;
  p = NULL;
  CHECK_EQ(evs_inbox(b, NULL, &q, &p), EVS_ECURSOR);
  CHECK_CONTAINS(evs_errmsg(b), "another store");
  evs_page_free(p);
  p = NULL;
  CHECK_EQ(evs_inbox(a, NULL, &q, &p), 0);
  CHECK(p && evs_page_count(p) == 0);
  evs_page_free(p);
  free(cur);
  evs_store_close(a);
  evs_store_close(b);
}

int main(void) {
  RUN(t_inbox_basic);
  RUN(t_inbox_filters);
  RUN(t_inbox_filter_before_limit);
  RUN(t_inbox_paging);
  RUN(t_inbox_cursor_errors);
  RUN(t_inbox_cursor_memory_stores);
  return TEST_EXIT();
}
