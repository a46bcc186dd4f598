# bench/bench.mk: `make bench` (evstore vs SQLite, the standard workload of
# bench/README.md) and `make bench-smoke` (the same, tiny, as a test).
# Included from the main Makefile, which provides B and $(B)/libevstore.a.
#
#   make bench              N=200000 events, writes bench/results.json
#   make bench N=1000000    any N
#   make bench-smoke        N=2000, small phases, < 30 s; PASS/FAIL bench_smoke
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

.PHONY: bench bench-smoke

$(BENCH_BIN): bench/bench.c include/evstore.h $(B)/libevstore.a
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) bench/bench.c -o $@ $(B)/libevstore.a $(BENCH_LIBS)

bench: $(BENCH_BIN)
	@d=$$(mktemp -d $(B)/bench/run.XXXXXX) || exit 1; \
	  df -hT $$d | tail -n 1 | awk '{print "[bench] run dir on " $$1 " (" $$2 ")"}' >&2; \
	  $(BENCH_BIN) --n $(N) --dir $$d --json bench/results.json $(BENCH_ARGS); rc=$$?; \
	  rm -rf $$d; exit $$rc

# Success means: the run finished (every cross-check between the systems
# held) and its JSON parses. No timing is judged.
bench-smoke: $(BENCH_BIN)
	@d=$$(mktemp -d $(B)/bench/smoke.XXXXXX) || { echo "FAIL bench_smoke"; exit 1; }; \
	  rm -f $(BENCH_SMOKE_JSON); \
	  $(BENCH_BIN) $(BENCH_SMOKE_ARGS) --dir $$d --json $(BENCH_SMOKE_JSON); rc=$$?; \
	  rm -rf $$d; \
	  if [ $$rc = 0 ] && /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["n"] == 2000 and d["phases"]' $(BENCH_SMOKE_JSON); \
	  then echo "PASS bench_smoke"; else echo "FAIL bench_smoke"; exit 1; fi
