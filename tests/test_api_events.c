/*
** test_api_events.c: get, compression of stored payloads, idempotency keys and
** their window, retention.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- get --------------------------------------------------------------- */

static void t_get_roundtrip(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_event_in in = ev_make("billing", "invoice.paid",
                            "{\"amount\": 12.5, \"currency\": \"EUR\"}");
  in.metadata = "{\"tenant\":\"acme\",\"n\":3}";
  in.idempotency_key = "inv-0001";
  in.priority = EVS_PRIORITY_HIGH;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  CHECK_EQ(r.id, 1);
  CHECK_EQ(r.created_us, T0);
  c.now += 10;
  CHECK_EQ(app(s, NULL, "b", "c", "{\"x\":0}", &r), 0);
  CHECK_EQ(r.id, 2);

  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  REQUIRE(e);
  CHECK_EQ(e->id, 1);
  CHECK_EQ(e->created_us, T0);
  CHECK_EQ(e->acknowledged_us, 0);
  CHECK_EQ(e->status, EVS_STATUS_PENDING);
  CHECK_EQ(e->priority, EVS_PRIORITY_HIGH);
  CHECK_STR(e->source, "billing");
  CHECK_EQ(e->source_len, 7);
  CHECK_STR(e->event_type, "invoice.paid");
  CHECK_EQ(e->event_type_len, 12);
  CHECK_STR(e->payload, in.payload);
  CHECK_EQ(e->payload_len, strlen(in.payload));
  CHECK_STR(e->metadata, in.metadata);
  CHECK_EQ(e->metadata_len, strlen(in.metadata));
  CHECK_STR(e->idempotency_key, "inv-0001");
  CHECK_EQ(e->idempotency_key_len, 8);
  evs_event_free(e);

  e = NULL;
  CHECK_EQ(evs_get(s, NULL, 2, &e), 0);
  REQUIRE(e);
  CHECK_EQ(e->created_us, T0 + 10);
  CHECK(e->metadata == NULL);
  CHECK_EQ(e->metadata_len, 0);
  CHECK(e->idempotency_key == NULL);
  CHECK_EQ(e->idempotency_key_len, 0);
  CHECK_EQ(e->priority, EVS_PRIORITY_NORMAL);
  evs_event_free(e);

  /* Two events read at once are independent copies. */
  evs_event *e1 = NULL, *e2 = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e1), 0);
  CHECK_EQ(evs_get(s, NULL, 2, &e2), 0);
  if (e1 && e2) {
    CHECK_STR(e1->source, "billing");
    CHECK_STR(e2->source, "b");
  }
  evs_event_free(e1);
  evs_event_free(e2);

  /* Not found: unknown id, id 0, huge id. */
  const uint64_t missing[] = {0, 3, 999, UINT64_MAX};
  for (int i = 0; i < 4; i++) {
    e = (evs_event *)1;
    CHECK_EQ(evs_get(s, NULL, missing[i], &e), EVS_ENOTFOUND);
    CHECK(e == NULL || e == (evs_event *)1);
    CHECK(evs_errmsg(s)[0] != 0);
  }
  evs_store_close(s);
}

/* ---- compression ------------------------------------------------------- */

static void t_compression(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  /* Small payloads are not compressed. */
  CHECK_EQ(app(s, NULL, "s", "t", "{\"small\":\"aaaaaaaaaaaaaaaaaaaa\"}", NULL),
           0);
  evs_stats st = stats(s);
  CHECK_EQ(st.payload_bytes, strlen("{\"small\":\"aaaaaaaaaaaaaaaaaaaa\"}"));
  CHECK_EQ(st.payload_stored_bytes, st.payload_bytes);
  /* 1023 bytes: under the threshold, stored as is. */
  char *p1023 = json_of_size(1023, 'q');
  CHECK_EQ(app(s, NULL, "s", "t", p1023, NULL), 0);
  evs_stats st2 = stats(s);
  CHECK_EQ(st2.payload_bytes, st.payload_bytes + 1023);
  CHECK_EQ(st2.payload_stored_bytes, st.payload_stored_bytes + 1023);
  /* 1024 bytes of one letter: at the threshold and compressible. */
  char *p1024 = json_of_size(1024, 'q');
  evs_append_result r1024;
  CHECK_EQ(app(s, NULL, "s", "t", p1024, &r1024), 0);
  evs_stats st3 = stats(s);
  CHECK_EQ(st3.payload_bytes, st2.payload_bytes + 1024);
  CHECK(st3.payload_stored_bytes < st2.payload_stored_bytes + 1024);
  /* A highly compressible 100 KB payload. */
  char *big = malloc(100 * 1024 + 1);
  {
    size_t k = 0;
    k += (size_t)sprintf(big, "{\"rows\":[");
    int i = 0;
    while (k < 100 * 1024 - 64) {
      k += (size_t)sprintf(big + k, "{\"i\":%d,\"name\":\"row\"},", i++ % 10);
    }
    k += (size_t)sprintf(big + k, "{}]}");
    big[k] = 0;
  }
  size_t biglen = strlen(big);
  evs_append_result rb;
  CHECK_EQ(app(s, NULL, "s", "t", big, &rb), 0);
  evs_stats st4 = stats(s);
  CHECK_EQ(st4.payload_bytes, st3.payload_bytes + biglen);
  CHECK(st4.payload_stored_bytes < st3.payload_stored_bytes + biglen / 4);
  CHECK(st4.compression_ratio > 2.0);
  double want = (double)st4.payload_bytes / (double)st4.payload_stored_bytes;
  CHECK(st4.compression_ratio > want * 0.999 &&
        st4.compression_ratio < want * 1.001);
  /* get returns the exact original bytes. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, rb.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, biglen);
    CHECK(memcmp(e->payload, big, biglen) == 0);
    CHECK_EQ(e->payload[biglen], 0);
  }
  evs_event_free(e);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1024.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 1024);
    CHECK_STR(e->payload, p1024);
  }
  evs_event_free(e);
  /* Also through the inbox. */
  evs_query q;
  memset(&q, 0, sizeof q);
  evs_page *p = NULL;
  CHECK_EQ(evs_inbox(s, NULL, &q, &p), 0);
  int seen = 0;
  for (size_t i = 0; p && i < evs_page_count(p); i++) {
    const evs_event *pe = evs_page_event(p, i);
    if (pe->id == rb.id) {
      seen = 1;
      CHECK_EQ(pe->payload_len, biglen);
      CHECK(memcmp(pe->payload, big, biglen) == 0);
    }
  }
  CHECK(seen);
  evs_page_free(p);
  evs_store_close(s);

  /* compress_threshold UINT32_MAX: never. */
  evs_options o;
  memset(&o, 0, sizeof o);
  o.compress_threshold = UINT32_MAX;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", big, NULL), 0);
  st = stats(s);
  CHECK_EQ(st.payload_bytes, biglen);
  CHECK_EQ(st.payload_stored_bytes, biglen);
  CHECK(st.compression_ratio > 0.999 && st.compression_ratio < 1.001);
  evs_store_close(s);

  /* A low threshold and another level. */
  o.compress_threshold = 64;
  o.compress_level = 19;
  s = open_mem(&o);
  REQUIRE(s);
  char *p200 = json_of_size(200, 'w');
  CHECK_EQ(app(s, NULL, "s", "t", p200, &r1024), 0);
  st = stats(s);
  CHECK(st.payload_stored_bytes < 200);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1024.id, &e), 0);
  if (e) CHECK_STR(e->payload, p200);
  evs_event_free(e);
  evs_store_close(s);
  o.compress_level = -5; /* fast */
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", big, &rb), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, rb.id, &e), 0);
  if (e) CHECK(e->payload_len == biglen && !memcmp(e->payload, big, biglen));
  evs_event_free(e);
  evs_store_close(s);

  /* Incompressible data above the threshold is stored as is. */
  memset(&o, 0, sizeof o);
  o.skip_json_validation = 1;
  s = open_mem(&o);
  REQUIRE(s);
  char *rnd = malloc(8192);
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 8192; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rnd[i] = (char)(x >> 24);
  }
  evs_event_in in = ev_make("s", "t", rnd);
  in.payload_len = 8192;
  CHECK_EQ(evs_append(s, NULL, &in, &rb), 0);
  st = stats(s);
  CHECK_EQ(st.payload_bytes, 8192);
  CHECK_EQ(st.payload_stored_bytes, 8192);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, rb.id, &e), 0);
  if (e) CHECK(e->payload_len == 8192 && !memcmp(e->payload, rnd, 8192));
  evs_event_free(e);
  evs_store_close(s);
  free(rnd);
  free(p200);
  free(big);
  free(p1023);
  free(p1024);
}

/* ---- idempotency ------------------------------------------------------- */

static void t_idempotency_duplicate(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r1, r2;
  CHECK_EQ(app_key(s, NULL, "order-1", &r1), 0);
  CHECK_EQ(r1.duplicate, 0);
  CHECK_EQ(r1.id, 1);
  c.now += SEC;
  /* Same key, different content: a duplicate of the original. */
  evs_event_in in = ev_make("other", "other", "{\"different\":true}");
  in.idempotency_key = "order-1";
  memset(&r2, 0, sizeof r2);
  CHECK_EQ(evs_append(s, NULL, &in, &r2), 0);
  CHECK_EQ(r2.rc, 0);
  CHECK_EQ(r2.duplicate, 1);
  CHECK_EQ(r2.id, r1.id);
  CHECK_EQ(r2.created_us, r1.created_us);
  evs_stats st = stats(s);
  CHECK_EQ(st.next_id, 2);
  CHECK_EQ(st.pending, 1);
  /* The original is unchanged. */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), 0);
  if (e) CHECK_STR(e->source, "app");
  evs_event_free(e);
  /* Keys are case- and byte-exact. */
  CHECK_EQ(app_key(s, NULL, "Order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 0);
  CHECK_EQ(r2.id, 2);
  CHECK_EQ(app_key(s, NULL, "order-1 ", &r2), 0);
  CHECK_EQ(r2.duplicate, 0);
  CHECK_EQ(r2.id, 3);
  /* Still a duplicate after the event is acknowledged. */
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), 0);
  CHECK_EQ(app_key(s, NULL, "order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 1);
  CHECK_EQ(r2.id, 1);
  /* Deleting the event forgets its key. */
  int existed = -1;
  CHECK_EQ(evs_delete(s, NULL, 1, &existed), 0);
  CHECK_EQ(existed, 1);
  CHECK_EQ(app_key(s, NULL, "order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 0);
  CHECK_EQ(r2.id, 4);
  CHECK_EQ(app_key(s, NULL, "order-1", &r2), 0);
  CHECK_EQ(r2.duplicate, 1);
  CHECK_EQ(r2.id, 4);
  evs_store_close(s);
}

static void t_idempotency_window(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.id, 1);
  c.now = T0 + DAY - SEC; /* inside the default 24 h window */
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 1);
  c.now = T0 + DAY + SEC; /* past it */
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  CHECK_EQ(r.created_us, T0 + DAY + SEC);
  /* The new event owns the key now. */
  c.now += HOUR;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 2);
  evs_store_close(s);

  /* A custom window. */
  c.now = T0;
  o.idempotency_window_us = 1000;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  c.now = T0 + 500;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  c.now = T0 + 1001;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 0);
  CHECK_EQ(r.id, 2);
  evs_store_close(s);

  /* -1: keys never expire (with retention forever). */
  c.now = T0;
  o.idempotency_window_us = -1;
  o.retention_us = -1;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  c.now = T0 + 400 * DAY;
  CHECK_EQ(app_key(s, NULL, "k", &r), 0);
  CHECK_EQ(r.duplicate, 1);
  CHECK_EQ(r.id, 1);
  evs_store_close(s);
}

/* ---- retention --------------------------------------------------------- */

static void t_retention(void) {
  fake_clock c = {T0};
  evs_options o = opts_clock(&c);
  o.retention_us = 1000;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  evs_append_result r1, r2;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r1), 0);
  c.now = T0 + 600;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r2), 0);
  c.now = T0 + 1000; /* now - created == retention: still visible */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), 0);
  evs_event_free(e);
  CHECK(inbox_has(s, NULL, r1.id));
  c.now = T0 + 1001;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, r1.id));
  CHECK(inbox_has(s, NULL, r2.id));
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r2.id, &e), 0);
  evs_event_free(e);
  c.now = T0 + 1601;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r2.id, &e), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, r2.id));
  /* An expired event cannot be acknowledged. */
  CHECK_EQ(evs_ack(s, NULL, r2.id, NULL), EVS_ENOTFOUND);
  /* New events are visible; ids keep going. */
  evs_append_result r3;
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r3), 0);
  CHECK_EQ(r3.id, 3);
  CHECK(inbox_has(s, NULL, 3));
  evs_store_close(s);

  /* Default: 7 days. */
  c.now = T0;
  memset(&o, 0, sizeof o);
  o = opts_clock(&c);
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r1), 0);
  c.now = T0 + 7 * DAY - SEC;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), 0);
  evs_event_free(e);
  c.now = T0 + 7 * DAY + SEC;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), EVS_ENOTFOUND);
  CHECK(!inbox_has(s, NULL, r1.id));
  evs_store_close(s);

  /* -1: forever. */
  c.now = T0;
  o.retention_us = -1;
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "s", "t", "{}", &r1), 0);
  c.now = T0 + 1000 * DAY;
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r1.id, &e), 0);
  evs_event_free(e);
  CHECK(inbox_has(s, NULL, r1.id));
  evs_store_close(s);
}

int main(void) {
  RUN(t_get_roundtrip);
  RUN(t_compression);
  RUN(t_idempotency_duplicate);
  RUN(t_idempotency_window);
  RUN(t_retention);
  return TEST_EXIT();
}
