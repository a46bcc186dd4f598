# bench/bench.mk: `make bench` (evstore vs SQLite, the standard workload of
# bench/README.md) and `make bench-smoke` (the same, tiny, as a test).
# Included from the main Makefile, which provides B, $(B)/libevstore.a and
# $(B)/libevstore_sqlite.a.
#
#   make bench              N=200000 events, writes bench/results.json, then
#                           the same with dict_compress on (evstore and
#                           vtab): bench/results-dict.json
#   make bench N=1000000    any N
#   make bench-smoke        N=2000, small phases, < 30 s; PASS/FAIL bench_smoke
#   make bench-callgrind    instructions per event of phase 1 (evstore only),
#                           N=20000 unless N is given
#
# Runs happen in a fresh directory under $(B)/bench/ (the repo's disk, not
# /tmp, which may be tmpfs), removed afterwards.

B            ?= build
N            ?= 200000
BENCH_ARGS   ?=
BENCH_CC     ?= gcc
BENCH_CFLAGS ?= -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Iinclude
BENCH_LIBS   := -lsqlite3 -lzstd -lxxhash -lpthread -lm
BENCH_BIN    := $(B)/bench/bench
BENCH_SMOKE_ARGS := --n 2000 --gets 5000 --durable 50 --threads 16 --per-thread 10
BENCH_SMOKE_JSON := $(B)/bench/smoke-results.json

INGEST_BIN   := $(B)/bench/ingest

.PHONY: bench bench-smoke bench-callgrind

$(BENCH_BIN): bench/bench.c bench/workload.h include/evstore.h include/evstore_sqlite.h \
              $(B)/libevstore_sqlite.a $(B)/libevstore.a
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) bench/bench.c -o $@ $(B)/libevstore_sqlite.a $(B)/libevstore.a $(BENCH_LIBS)

bench: $(BENCH_BIN)
	@for cfg in default dict; do \
	  d=$$(mktemp -d $(B)/bench/run.XXXXXX) || exit 1; \
	  df -hT $$d | tail -n 1 | awk '{print "[bench] run dir on " $$1 " (" $$2 ")"}' >&2; \
	  if [ $$cfg = dict ]; then a="--dict --json bench/results-dict.json"; \
	  else a="--json bench/results.json"; fi; \
	  $(BENCH_BIN) --n $(N) --dir $$d $$a $(BENCH_ARGS); rc=$$?; \
	  rm -rf $$d; [ $$rc = 0 ] || exit $$rc; \
	done

# Success means: the run finished (every cross-check between the systems
# held) and its JSON parses. No timing is judged.
bench-smoke: $(BENCH_BIN)
	@d=$$(mktemp -d $(B)/bench/smoke.XXXXXX) || { echo "FAIL bench_smoke"; exit 1; }; \
	  rm -f $(BENCH_SMOKE_JSON); \
	  $(BENCH_BIN) $(BENCH_SMOKE_ARGS) --dir $$d --json $(BENCH_SMOKE_JSON) && \
	  rm -rf $$d && mkdir $$d && \
	  $(BENCH_BIN) $(BENCH_SMOKE_ARGS) --dict --dir $$d --json $(BENCH_SMOKE_JSON).dict; rc=$$?; \
	  rm -rf $$d; \
	  if [ $$rc = 0 ] && /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["n"] == 2000 and d["phases"]' $(BENCH_SMOKE_JSON); \
	  then echo "PASS bench_smoke"; else echo "FAIL bench_smoke"; exit 1; fi

# Phase 1 on evstore alone (bench/ingest.c), under callgrind: instructions
# per event inside evs_append_batch, and inside the JSON validator alone.
# Counts every thread: collection is on in evs_append_batch_sized and in the
# library's worker threads (worker_main). Single runs: the validator's
# count is exact; the append's can vary a little, since under valgrind
# the threads take turns and the caller's spinning while it waits for the
# worker counts too.
$(INGEST_BIN): bench/ingest.c bench/workload.h include/evstore.h src/json.h $(B)/libevstore.a
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -Isrc bench/ingest.c -o $@ $(B)/libevstore.a $(BENCH_LIBS)

CG_N := $(if $(filter command line,$(origin N)),$(N),20000)
bench-callgrind: $(INGEST_BIN)
	@d=$$(mktemp -d $(B)/bench/cg.XXXXXX) || exit 1; \
	  valgrind --tool=callgrind --callgrind-out-file=$$d/append.out \
	    --toggle-collect=evs_append_batch_sized --toggle-collect=worker_main \
	    $(INGEST_BIN) --n $(CG_N) --dir $$d/store >/dev/null 2>$$d/append.log || { cat $$d/append.log; exit 1; }; \
	  valgrind --tool=callgrind --callgrind-out-file=$$d/json.out \
	    --toggle-collect=validate_batch \
	    $(INGEST_BIN) --n $(CG_N) --json-only >/dev/null 2>$$d/json.log || { cat $$d/json.log; exit 1; }; \
	  for f in append json; do \
	    ir=$$(callgrind_annotate $$d/$$f.out 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$$1); print $$1}'); \
	    echo "$$f: $$ir instructions, $$(( ir / $(CG_N) )) per event (N=$(CG_N))"; \
	  done; \
	  echo "inclusive, per event, of the append:"; \
	  callgrind_annotate --inclusive=yes $$d/append.out 2>/dev/null | \
	    awk -v n=$(CG_N) '!/=>/ && /\[.*build\/bench\/ingest\]|ZSTD_compressCCtx/ && \
	      /:(evs_prep_event|evs_json_check_object|evs_zstd_compress|ZSTD_compressCCtx|add_event|finish_commit|evs_idem_find|evs_idem_put|evs_index_add|evs_ev_encode|evs_rec_seal|evs_par_for|worker_main) / \
	      { gsub(",","",$$1); split($$(NF-1), f, ":"); printf "  %-24s %8d\n", f[2], $$1 / n }'; \
	  rm -rf $$d
