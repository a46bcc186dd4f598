/*
** workload.h: the standard workload's event generator (WORKLOAD.md, and
** bench/README.md "The workload"), shared by bench.c and ingest.c so both
** run the very same events, and the few helpers both need. A
** single-translation-unit header: the includer defines BENCH_PROG (the
** prefix of die()'s messages) first and allocates src_of (one byte per
** event it will generate).
*/
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "evstore.h"

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, BENCH_PROG ": ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A command-line number, or die. */
static uint64_t arg_u64(const char *opt, const char *v) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v ? v : "", &end, 10);
  if (!v || errno || end == v || *end) die("%s needs a number", opt);
  return x;
}

/* One xorshift64 stream generates every event in order (bench.c draws the
** ids to get and the order of acks from a second one). */
static uint64_t ev_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t xs64(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

typedef struct {
  char source[16], type[16], idem[32], meta[48];
  char *payload;
  size_t plen, mlen, cap;
} gen_ev;

#define PAYLOAD_MAX 65536
static uint8_t *src_of;       /* source number of every event, by index */
static uint64_t gen_count;    /* events generated so far */
static uint64_t gen_bytes;    /* their payload bytes */
static uint64_t gen_large;    /* events with 200-600 items */
static size_t gen_min = SIZE_MAX, gen_max, gen_small_max;
static int gen_small_only; /* ingest.c --small-only: no 200-600 item events */

/* Generate event number i (0-based, in order: the stream is sequential). */
static void gen_event(uint64_t i, gen_ev *e) {
  if (i != gen_count) die("events generated out of order");
  if (e->cap < PAYLOAD_MAX) {
    free(e->payload);
    e->payload = xmalloc(PAYLOAD_MAX);
    e->cap = PAYLOAD_MAX;
  }
  uint64_t *r = &ev_rng;
  unsigned src = (unsigned)(xs64(r) % 20), typ = (unsigned)(xs64(r) % 50);
  src_of[i] = (uint8_t)src;
  snprintf(e->source, sizeof e->source, "app-%u", src);
  snprintf(e->type, sizeof e->type, "type.%u", typ);
  snprintf(e->idem, sizeof e->idem, "idem-%" PRIu64, i);
  e->mlen = (size_t)snprintf(e->meta, sizeof e->meta, "{\"trace\":\"%016" PRIx64 "\"}",
                             xs64(r));
  uint64_t cus = xs64(r) & 0xffffffffffffffULL;
  unsigned k = (unsigned)(xs64(r) % 100000);
  int large = i % 50 == 7 && !gen_small_only;
  unsigned items = large ? 200 + (unsigned)(xs64(r) % 401) : 1 + (unsigned)(xs64(r) % 4);
  char *p = e->payload;
  size_t n = 0, cap = e->cap;
  n += (size_t)snprintf(p + n, cap - n,
                        "{\"order_id\":%" PRIu64 ",\"customer\":{\"id\":\"cus_%014" PRIx64
                        "\",\"email\":\"user%u@example.com\",\"name\":\"Customer %u\"},"
                        "\"items\":[",
                        i, cus, k, k);
  for (unsigned j = 0; j < items; j++) {
    unsigned sku = (unsigned)(xs64(r) % 100000), qty = 1 + (unsigned)(xs64(r) % 10);
    unsigned price = 100 + (unsigned)(xs64(r) % 99900);
    n += (size_t)snprintf(p + n, cap - n,
                          "%s{\"sku\":\"SKU-%05u\",\"qty\":%u,\"price_cents\":%u}",
                          j ? "," : "", sku, qty, price);
  }
  n += (size_t)snprintf(p + n, cap - n, "],\"currency\":\"USD\",\"note\":\"generated\"}");
  if (n >= cap) die("payload buffer too small");
  e->plen = n;
  gen_count++;
  gen_bytes += n;
  gen_large += (uint64_t)large;
  if (n < gen_min) gen_min = n;
  if (n > gen_max) gen_max = n;
  if (!large && n > gen_small_max) gen_small_max = n;
}

static evs_event_in to_in(const gen_ev *e) {
  evs_event_in in = {0};
  in.source = e->source;
  in.event_type = e->type;
  in.payload = e->payload;
  in.payload_len = e->plen;
  in.metadata = e->meta;
  in.metadata_len = e->mlen;
  in.idempotency_key = e->idem;
  return in;
}

#endif
