# libFuzzer targets (see fuzz/README.md). Included by the main Makefile;
# standalone: make -f Makefile -f fuzz/fuzz.mk fuzz-smoke
#
#   make fuzz-build   build/fuzz/fuzz_<name> for every target
#   make fuzz-smoke   each target briefly on a copy of its seed corpus;
#                     one "PASS fuzz_<name> (<execs> execs, cov <N>)" or
#                     "FAIL fuzz_<name>" line per target (CI budget ~1 min)
#   make fuzz         long runs, FUZZ_TIME seconds per target (default 600),
#                     growing fuzz/out/<name>; FUZZ_TARGETS="ops sql" to pick

# Included before the main targets, this file must not become the default.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

FUZZ_CC      ?= clang
FUZZ_B       ?= build/fuzz
FUZZ_TIME    ?= 600
FUZZ_SMOKE_TIME ?= 10
FUZZ_JOBS    ?= 2
FUZZ_ALL     := cursor json open ops sql
FUZZ_TARGETS ?= $(FUZZ_ALL)
LIB_SRC      ?= $(sort $(wildcard src/*.c))

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_BASE    := -g -O1 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Wall -Wextra -Werror
# The library is built as the main Makefile builds it (its warnings) plus
# coverage instrumentation; the harnesses add -fsanitize=fuzzer at link.
FUZZ_LIBFLAGS := $(FUZZ_BASE) -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
                 -Wformat=2 -Wcast-qual -Wvla -Wmissing-prototypes \
                 -fsanitize=fuzzer-no-link $(FUZZ_SAN) $(FUZZ_LIB_EXTRA)
FUZZ_CFLAGS  := $(FUZZ_BASE) -fsanitize=fuzzer $(FUZZ_SAN) $(FUZZ_EXTRA)
FUZZ_LIBS    := -lzstd -lxxhash -lpthread -lsqlite3

FUZZ_SQL_SRC := $(sort $(wildcard sqlext/*.c))
FUZZ_LIB_OBJ := $(patsubst src/%.c,$(FUZZ_B)/obj/%.o,$(LIB_SRC)) \
                $(patsubst sqlext/%.c,$(FUZZ_B)/obj/sqlext/%.o,$(FUZZ_SQL_SRC))
FUZZ_BINS    := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_ALL))

.PHONY: fuzz-build fuzz-smoke fuzz fuzz-corpus

fuzz-build: $(FUZZ_BINS) $(FUZZ_B)/gen_corpus

$(FUZZ_B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_LIBFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_B)/obj/sqlext/%.o: sqlext/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_LIBFLAGS) -MMD -MP -DSQLITE_CORE -c $< -o $@

$(FUZZ_B)/libevstore-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h fuzz/open_format.h $(FUZZ_B)/libevstore-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@ $(FUZZ_B)/libevstore-fuzz.a $(FUZZ_LIBS)

# fuzz_ops checks the store against the tests' reference model (tests/model.c).
$(FUZZ_B)/fuzz_ops: fuzz/fuzz_ops.c tests/model.c tests/model.h fuzz/fuzz_common.h $(FUZZ_B)/libevstore-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests $< tests/model.c -o $@ $(FUZZ_B)/libevstore-fuzz.a $(FUZZ_LIBS)

# The seed generator for fuzz_open: plain (no libFuzzer main), sanitized.
$(FUZZ_B)/gen_corpus: fuzz/gen_corpus.c fuzz/fuzz_common.h fuzz/open_format.h $(FUZZ_B)/libevstore-fuzz.a
	$(FUZZ_CC) $(FUZZ_BASE) $(FUZZ_SAN) $< -o $@ $(FUZZ_B)/libevstore-fuzz.a $(FUZZ_LIBS)

# Regenerate the checked-in seeds of fuzz_open (the same bytes every time).
fuzz-corpus: $(FUZZ_B)/gen_corpus
	@mkdir -p fuzz/corpus
	$(FUZZ_B)/gen_corpus fuzz/corpus/open

-include $(wildcard $(FUZZ_B)/obj/*.d $(FUZZ_B)/obj/sqlext/*.d)

fuzz-smoke: fuzz-build
	@FUZZ_BIN=$(FUZZ_B) FUZZ_JOBS=$(FUZZ_JOBS) bash fuzz/run.sh smoke $(FUZZ_SMOKE_TIME) $(FUZZ_TARGETS)

fuzz: fuzz-build
	@FUZZ_BIN=$(FUZZ_B) FUZZ_JOBS=$(FUZZ_JOBS) bash fuzz/run.sh long $(FUZZ_TIME) $(FUZZ_TARGETS)

# Header dependencies of the fuzz objects (-MMD above): a changed header
# rebuilds them (a stale object with an old struct layout crashes).
-include $(wildcard $(FUZZ_B)/obj/*.d $(FUZZ_B)/obj/sqlext/*.d)
