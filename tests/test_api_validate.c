/*
** test_api_validate.c: validation of every field of an appended event and of
** NULL arguments, with the error code and message each refusal gives.
** One of the test_api_*.c programs that together cover every public operation
** and every error code the API can be made to return (see include/evstore.h,
** the contract). Persistence, recovery and locking across processes are in
** test_persist.c.
*/
#include "evstore.h"
#include "testlib.h"

/* ---- validation -------------------------------------------------------- */

static void expect_name_err(evs_store *s, const char *src, const char *type,
                            int want, const char *phrase, int line) {
  evs_append_result r;
  memset(&r, 0, sizeof r);
  uint64_t before = stats(s).next_id;
  int rc = app(s, NULL, src, type, "{}", &r);
  if (rc != want)
    fprintf(stderr, "  (line %d) source=%s type=%s: rc %d, want %d\n", line,
            src ? src : "NULL", type ? type : "NULL", rc, want);
  CHECK_EQ(rc, want);
  if (phrase) CHECK_CONTAINS(evs_errmsg(s), phrase);
  CHECK_EQ(stats(s).next_id, before);
}

static void t_validate_source_and_type(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  const char *blank[] = {NULL, "", " ", "   ", "\t", " \t\r\n "};
  for (int i = 0; i < 6; i++) {
    expect_name_err(s, blank[i], "t", EVS_EINVAL, "source", __LINE__);
    expect_name_err(s, "s", blank[i], EVS_EINVAL, "event_type", __LINE__);
  }
  /* Invalid UTF-8 and control characters. */
  const char *bad[] = {"\xff",         "a\xc3",        "\xc0\xaf",
                       "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\001b",
                       "a\nb",         "a\tb",         "\x1b[0m"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    expect_name_err(s, bad[i], "t", EVS_EINVAL, "source", __LINE__);
    expect_name_err(s, "s", bad[i], EVS_EINVAL, "event_type", __LINE__);
  }
  /* Length: 100 bytes after trimming is fine, 101 is too big. */
  char *n100 = rep('x', 100), *n101 = rep('x', 101);
  expect_name_err(s, n101, "t", EVS_ETOOBIG, "source", __LINE__);
  expect_name_err(s, "s", n101, EVS_ETOOBIG, "event_type", __LINE__);
  evs_append_result r;
  CHECK_EQ(app(s, NULL, n100, n100, "{}", &r), 0);
  char padded[200];
  snprintf(padded, sizeof padded, "   %s \t ", n100);
  CHECK_EQ(app(s, NULL, padded, padded, "{}", &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->source, n100);
    CHECK_EQ(e->source_len, 100);
    CHECK_STR(e->event_type, n100);
    CHECK_EQ(e->event_type_len, 100);
  }
  evs_event_free(e);
  /* Multi-byte UTF-8 counts bytes: 50 x "é" = 100 bytes ok, 34 x "日" =
  ** 102 bytes too big. */
  char e100[256] = "", j102[256] = "";
  for (int i = 0; i < 50; i++) strcat(e100, "\xc3\xa9");
  for (int i = 0; i < 34; i++) strcat(j102, "\xe6\x97\xa5");
  CHECK_EQ(app(s, NULL, e100, "\xf0\x9f\x98\x80 emoji", "{}", &r), 0);
  expect_name_err(s, j102, "t", EVS_ETOOBIG, "source", __LINE__);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->source, e100);
    CHECK_STR(e->event_type, "\xf0\x9f\x98\x80 emoji");
  }
  evs_event_free(e);
  /* Trimming: " app " is stored as "app"; inner spaces stay. */
  CHECK_EQ(app(s, NULL, " app ", "\t user created\n", "{}", &r), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->source, "app");
    CHECK_EQ(e->source_len, 3);
    CHECK_STR(e->event_type, "user created");
    CHECK_EQ(e->event_type_len, 12);
  }
  evs_event_free(e);
  free(n100);
  free(n101);
  evs_store_close(s);
}

static void expect_payload_err(evs_store *s, const char *payload, size_t len,
                               int want, const char *phrase, int line) {
  evs_event_in e = ev_make("s", "t", payload);
  e.payload_len = len;
  uint64_t before = stats(s).next_id;
  int rc = evs_append(s, NULL, &e, NULL);
  if (rc != want)
    fprintf(stderr, "  (line %d) payload \"%.40s\": rc %d, want %d\n", line,
            payload ? payload : "NULL", rc, want);
  CHECK_EQ(rc, want);
  if (phrase) CHECK_CONTAINS(evs_errmsg(s), phrase);
  CHECK_EQ(stats(s).next_id, before);
}

static void t_validate_payload(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  expect_payload_err(s, NULL, 0, EVS_EINVAL, "payload", __LINE__);
  const char *notobj[] = {"[1]",   "42",        "\"str\"",  "null",
                          "true",  "{",         "}",        "",
                          "   ",   "not json",  "{\"a\":}", "{\"a\" 1}",
                          "{} x",  "{}{}",      "{'a':1}",  "{\"a\":01}",
                          "{\"a\":1,}", "{\"a\":\"\x01\"}",
                          "{\"a\":\"\xff\"}", "{\"a\":tru}",
                          "{\"a\":\"\\q\"}", "{a:1}"};
  for (size_t i = 0; i < sizeof notobj / sizeof notobj[0]; i++)
    expect_payload_err(s, notobj[i], 0, EVS_EJSON, "payload", __LINE__);

  /* Valid objects, with white space and every kind of value. */
  const char *ok[] = {
      "{}", " { } ", "\n{\"a\":1}\n",
      "{\"a\":[1,-2.5e+3,true,false,null,\"x\\u00e9\\n\\\"\"],\"b\":{}}",
      "{\"\xe6\x97\xa5\":\"\xf0\x9f\x98\x80\"}"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    evs_append_result r;
    CHECK_EQ(app(s, NULL, "s", "t", ok[i], &r), 0);
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
    if (e) {
      CHECK_EQ(e->payload_len, strlen(ok[i]));
      CHECK_STR(e->payload, ok[i]); /* verbatim, white space included */
    }
    evs_event_free(e);
  }

  /* payload_len limits what is read: trailing bytes are ignored. */
  evs_event_in in = ev_make("s", "t", "{\"a\":1}GARBAGE");
  in.payload_len = 7;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 7);
    CHECK_STR(e->payload, "{\"a\":1}");
  }
  evs_event_free(e);
  /* ... and a length cutting an object short is invalid. */
  expect_payload_err(s, "{\"a\":1}", 5, EVS_EJSON, "payload", __LINE__);

  /* Deep nesting never crashes: either accepted or EVS_EJSON. */
  size_t depth = 200000;
  char *deep = malloc(2 * depth + 16);
  size_t k = 0;
  memcpy(deep, "{\"a\":", 5);
  k = 5;
  for (size_t i = 0; i < depth; i++) deep[k++] = '[';
  for (size_t i = 0; i < depth; i++) deep[k++] = ']';
  deep[k++] = '}';
  deep[k] = 0;
  int rc = app(s, NULL, "s", "t", deep, NULL);
  CHECK(rc == 0 || rc == EVS_EJSON);
  deep[5 + depth] = 0; /* unclosed */
  expect_payload_err(s, deep, 0, EVS_EJSON, "payload", __LINE__);
  free(deep);
  evs_store_close(s);
}

static void t_payload_size_limit(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  char *big = json_of_size(512000, 'a');
  expect_payload_err(s, big, 0, EVS_ETOOBIG, "payload is 512000 bytes",
                     __LINE__);
  CHECK_CONTAINS(evs_errmsg(s), "limit is 409600");
  free(big);
  /* Exactly the limit is fine; one more is not. */
  char *at = json_of_size(409600, 'b');
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "s", "t", at, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 409600);
    CHECK(memcmp(e->payload, at, 409600) == 0);
  }
  evs_event_free(e);
  free(at);
  char *over = json_of_size(409601, 'b');
  expect_payload_err(s, over, 0, EVS_ETOOBIG, "409601", __LINE__);
  CHECK_CONTAINS(evs_errmsg(s), "409600");
  /* Size is checked without needing the payload to be valid JSON first:
  ** a big invalid payload is still rejected (either code is an error). */
  free(over);
  evs_store_close(s);

  /* A custom max_payload. */
  evs_options o;
  memset(&o, 0, sizeof o);
  o.max_payload = 1000;
  s = open_mem(&o);
  REQUIRE(s);
  char *p1000 = json_of_size(1000, 'c'), *p1001 = json_of_size(1001, 'c');
  CHECK_EQ(app(s, NULL, "s", "t", p1000, NULL), 0);
  expect_payload_err(s, p1001, 0, EVS_ETOOBIG, "payload is 1001 bytes",
                     __LINE__);
  CHECK_CONTAINS(evs_errmsg(s), "limit is 1000");
  free(p1000);
  free(p1001);
  evs_store_close(s);
}

static void t_skip_json_validation(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.skip_json_validation = 1;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  const char *bad = "this is [not] json {";
  evs_append_result r;
  CHECK_EQ(app(s, NULL, "s", "t", bad, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_STR(e->payload, bad);
    CHECK_EQ(e->payload_len, strlen(bad));
  }
  evs_event_free(e);
  /* Bytes are stored verbatim, even an embedded NUL. */
  evs_event_in in = ev_make("s", "t", "ab\0cd");
  in.payload_len = 5;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->payload_len, 5);
    CHECK(memcmp(e->payload, "ab\0cd", 5) == 0);
    CHECK_EQ(e->payload[5], 0);
  }
  evs_event_free(e);
  /* Metadata too. */
  in = ev_make("s", "t", "{}");
  in.metadata = "[1,2]";
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  /* The names and the size limit are still checked. */
  CHECK_EQ(app(s, NULL, "", "t", "{}", NULL), EVS_EINVAL);
  CHECK_EQ(app(s, NULL, "s", "t", NULL, NULL), EVS_EINVAL);
  char *big = rep('z', 409601);
  CHECK_EQ(app(s, NULL, "s", "t", big, NULL), EVS_ETOOBIG);
  free(big);
  evs_store_close(s);
}

static void t_validate_metadata(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  const char *bad[] = {"[1]", "1", "\"m\"", "{", "nope", "{\"a\":}", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    evs_event_in in = ev_make("s", "t", "{}");
    in.metadata = bad[i];
    if (bad[i][0] == 0) {
      in.metadata_len = 0; /* "" with len 0 = strlen = empty: not JSON */
    }
    uint64_t before = stats(s).next_id;
    int rc = evs_append(s, NULL, &in, NULL);
    if (rc != EVS_EJSON) fprintf(stderr, "  metadata \"%s\"\n", bad[i]);
    CHECK_EQ(rc, EVS_EJSON);
    CHECK_CONTAINS(evs_errmsg(s), "metadata");
    CHECK_EQ(stats(s).next_id, before);
  }
  /* 8192 bytes ok, 8193 too big. */
  char *m8192 = json_of_size(8192, 'm'), *m8193 = json_of_size(8193, 'm');
  evs_event_in in = ev_make("s", "t", "{}");
  in.metadata = m8192;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->metadata_len, 8192);
    CHECK(e->metadata && strcmp(e->metadata, m8192) == 0);
  }
  evs_event_free(e);
  in.metadata = m8193;
  CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_ETOOBIG);
  CHECK_CONTAINS(evs_errmsg(s), "metadata");
  /* metadata_len limits what is read. */
  in.metadata = "{\"x\":true}zzz";
  in.metadata_len = 10;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->metadata_len, 10);
    CHECK_STR(e->metadata, "{\"x\":true}");
  }
  evs_event_free(e);
  free(m8192);
  free(m8193);
  evs_store_close(s);
}

static void t_validate_key_and_priority(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  evs_event_in in = ev_make("s", "t", "{}");
  in.idempotency_key = "";
  CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_EINVAL);
  CHECK_CONTAINS(evs_errmsg(s), "idempotency");
  char *k256 = rep('k', 256), *k257 = rep('k', 257);
  in.idempotency_key = k257;
  CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_ETOOBIG);
  CHECK_CONTAINS(evs_errmsg(s), "idempotency");
  in.idempotency_key = k256;
  evs_append_result r;
  CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
  if (e) {
    CHECK_EQ(e->idempotency_key_len, 256);
    CHECK_STR(e->idempotency_key, k256);
  }
  evs_event_free(e);
  free(k256);
  free(k257);
  CHECK_EQ(stats(s).next_id, 2);

  in.idempotency_key = NULL;
  const int badp[] = {-1, 4, 9, 100, INT32_MIN};
  for (int i = 0; i < 5; i++) {
    in.priority = badp[i];
    CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_EINVAL);
    CHECK_CONTAINS(evs_errmsg(s), "priority");
  }
  CHECK_EQ(stats(s).next_id, 2);
  const int goodp[] = {0, 1, 2, 3};
  const int stored[] = {EVS_PRIORITY_NORMAL, EVS_PRIORITY_LOW,
                        EVS_PRIORITY_NORMAL, EVS_PRIORITY_HIGH};
  for (int i = 0; i < 4; i++) {
    in.priority = goodp[i];
    CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
    e = NULL;
    CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
    if (e) CHECK_EQ(e->priority, stored[i]);
    evs_event_free(e);
  }
  evs_store_close(s);
}

/* Keys are any UTF-8 (control characters too: compared byte for byte),
** never other bytes: they could not be exported (JSON has no form for
** them), so an import would store another key and dedup would be lost. */
static void t_validate_key_utf8(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  static const struct {
    const char *key;
    size_t at; /* offset of the first bad byte */
  } bad[] = {
      {"\xff\xfe", 0},          {"ok\xff", 2},          {"a\xc3", 1},
      {"\xc0\x80x", 0},         {"\xe0\x9f\xbf", 0},    {"x\xed\xa0\x80", 1},
      {"\xf4\x90\x80\x80", 0},  {"ab\x80", 2},          {"\xf8\x88\x80\x80\x80", 0},
  };
  evs_event_in in = ev_make("s", "t", "{}");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    in.idempotency_key = bad[i].key;
    CHECK_EQ(evs_append(s, NULL, &in, NULL), EVS_EINVAL);
    char want[64];
    snprintf(want, sizeof want, "idempotency_key is not valid UTF-8 (byte %zu)", bad[i].at);
    CHECK_CONTAINS(evs_errmsg(s), want);
  }
  evs_append_result res[2];
  evs_event_in two[2] = {in, in};
  two[0].idempotency_key = "\xff\xfe";
  two[1].idempotency_key = "fine";
  CHECK_EQ(evs_append_batch(s, NULL, two, 2, res), 0);
  CHECK_EQ(res[0].rc, EVS_EINVAL);
  CHECK_EQ(res[1].rc, 0);
  CHECK_EQ(stats(s).next_id, 2);
  /* Awkward but valid: stored and matched byte for byte. */
  const char *good[] = {"\x01\x1f\x7f", " q\"\\/ ", "\xf0\x9f\x98\x80\xe2\x80\xa8",
                        "\xc2\x85\xef\xbf\xbf", "\xf4\x8f\xbf\xbf"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    in.idempotency_key = good[i];
    evs_append_result r, r2;
    CHECK_EQ(evs_append(s, NULL, &in, &r), 0);
    CHECK_EQ(r.duplicate, 0);
    CHECK_EQ(evs_append(s, NULL, &in, &r2), 0);
    CHECK_EQ(r2.duplicate, 1);
    CHECK_EQ(r2.id, r.id);
    evs_event *e = NULL;
    CHECK_EQ(evs_get(s, NULL, r.id, &e), 0);
    if (e) CHECK_STR(e->idempotency_key, good[i]);
    evs_event_free(e);
  }
  evs_store_close(s);
}

static void t_null_arguments(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(evs_append(s, NULL, NULL, NULL), EVS_EINVAL);
  CHECK_EQ(app(s, NULL, "a", "b", "{}", NULL), 0);
  CHECK_EQ(evs_get(s, NULL, 1, NULL), EVS_EINVAL);
  CHECK_EQ(evs_stats_get(s, NULL), EVS_EINVAL);
  evs_query q;
  memset(&q, 0, sizeof q);
  CHECK_EQ(evs_inbox(s, NULL, &q, NULL), EVS_EINVAL);
  CHECK_EQ(evs_txn_begin(s, NULL), EVS_EINVAL);
  int rcs[2];
  CHECK_EQ(evs_ack_batch(s, NULL, NULL, 2, rcs), EVS_EINVAL);
  CHECK_EQ(evs_append_batch(s, NULL, NULL, 2, NULL), EVS_EINVAL);
  char *dir = t_tmpdir();
  CHECK_EQ(evs_store_open(dir, NULL, NULL), EVS_EINVAL);
  t_rmdir(dir);
  /* Freeing NULL is a no-op. */
  evs_event_free(NULL);
  evs_page_free(NULL);
  /* Still usable. */
  CHECK_EQ(stats(s).pending, 1);
  evs_store_close(s);
}

int main(void) {
  RUN(t_validate_source_and_type);
  RUN(t_validate_payload);
  RUN(t_payload_size_limit);
  RUN(t_skip_json_validation);
  RUN(t_validate_metadata);
  RUN(t_validate_key_and_priority);
  RUN(t_validate_key_utf8);
  RUN(t_null_arguments);
  return TEST_EXIT();
}
