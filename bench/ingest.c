/*
** ingest.c: phase 1 of the standard workload (batched ingest) on evstore
** alone, for profiling the append path. The events are bench.c's
** (workload.h). Usage:
**   ingest [--n 20000] [--batch 100] [--dir EMPTY_DIR] [--json-only]
**          [--small-only]
** Without --dir the store is in memory. --json-only runs only the JSON
** validator over every payload and metadata, as prep does. --small-only
** makes the every-50th large payloads small like the rest. The events are
** generated before the clock starts (N=200000 takes about 150 MB). Prints
** events/s (noisy on a shared machine) and the payload bytes; the
** instruction counts
** come from `make bench-callgrind`, which runs this under callgrind with
** collection on inside evs_append_batch (or the validator) only.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define BENCH_PROG "ingest"
#include "workload.h"

/* Validate as prep_event does; kept out of line so callgrind can collect
** inside it alone. */
__attribute__((noinline)) static int validate_batch(const evs_event_in *in,
                                                    size_t m) {
  char why[160];
  for (size_t k = 0; k < m; k++)
    if (evs_json_check_object(in[k].payload, in[k].payload_len, why, sizeof why) ||
        evs_json_check_object(in[k].metadata, in[k].metadata_len, why, sizeof why))
      return -1;
  return 0;
}

int main(int argc, char **argv) {
  uint64_t n = 20000, batch = 100;
  const char *dir = ":memory:";
  int json_only = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--n")) n = arg_u64(a, v), i++;
    else if (!strcmp(a, "--batch")) batch = arg_u64(a, v), i++;
    else if (!strcmp(a, "--dir") && v) dir = v, i++;
    else if (!strcmp(a, "--json-only")) json_only = 1;
    else if (!strcmp(a, "--small-only")) gen_small_only = 1;
    else die("unknown argument %s (see the comment at the top of bench/ingest.c)", a);
  }
  if (n < 1 || batch < 1 || batch > 100000) die("bad --n or --batch");
  src_of = xmalloc(n);

  evs_store *s = NULL;
  if (!json_only) {
    evs_options o = {0};
    if (evs_store_open(dir, &o, &s)) die("open %s: %s", dir, evs_errmsg(NULL));
  }
  /* Generated up front, so that a profile of the run is the appends'. */
  gen_ev *evs = calloc(n, sizeof *evs), tmp = {0};
  evs_event_in *in = xmalloc(n * sizeof *in);
  evs_append_result *res = xmalloc(batch * sizeof *res);
  if (!evs) die("out of memory");
  for (uint64_t i = 0; i < n; i++) {
    gen_event(i, &tmp);
    evs[i] = tmp;
    evs[i].payload = xmalloc(tmp.plen + 1);
    memcpy(evs[i].payload, tmp.payload, tmp.plen + 1);
    in[i] = to_in(&evs[i]);
  }
  free(tmp.payload);
  double t0 = now();
  for (uint64_t b = 0; b < n; b += batch) {
    size_t m = n - b < batch ? (size_t)(n - b) : (size_t)batch;
    if (json_only) {
      if (validate_batch(in + b, m)) die("event %" PRIu64 ": invalid JSON", b);
      continue;
    }
    int rc = evs_append_batch(s, NULL, in + b, m, res);
    if (rc) die("append_batch: %s (%s)", evs_strerror(rc), evs_errmsg(s));
    for (size_t k = 0; k < m; k++)
      if (res[k].rc || res[k].id != b + k + 1)
        die("event %" PRIu64 ": rc %d id %" PRIu64, b + k, res[k].rc, res[k].id);
  }
  double t = now() - t0;
  if (s) {
    evs_stats st;
    if (evs_stats_get(s, &st)) die("stats: %s", evs_errmsg(s));
    printf("compression ratio %.3f, %" PRIu64 " payload bytes stored as %" PRIu64 "\n",
           st.compression_ratio, st.payload_bytes, st.payload_stored_bytes);
    if (evs_store_close(s)) die("close: %s", evs_errmsg(NULL));
  }
  printf("%s: %" PRIu64 " events, %" PRIu64 " payload bytes, %.0f events/s\n",
         json_only ? "validate" : "append_batch", n, gen_bytes, (double)n / t);
  for (uint64_t i = 0; i < n; i++) free(evs[i].payload);
  free(evs);
  free(in);
  free(res);
  free(src_of);
  return 0;
}
