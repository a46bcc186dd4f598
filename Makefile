# evstore build. `make deps` installs Debian packages, `make` builds the
# libraries and the evstore CLI, `make test` runs every test twice: plain
# and under ASan+UBSan. `make install PREFIX=... [DESTDIR=...]` installs.

CC      ?= cc
B       ?= build
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# evstore(1) and evstore(3), from docs/man/.
MANDIR  ?= $(PREFIX)/share/man
# The loadable SQLite extension: `.load /usr/local/lib/evstore/evstore`.
EXTDIR  ?= $(LIBDIR)/evstore
SAN     ?=
OPT     ?= -O2
# -Werror only where the tree is known to build clean: make test and CI
# pass WERROR=1 (so does tests/test_bench.sh; fuzz/fuzz.mk and
# bench/bench.mk add it to their own flags). A user's newer compiler must
# not break a plain `make`. -Wconversion (sign conversions included) holds
# for the library, the SQL module and the CLI (LIB_CFLAGS); tests/, fuzz/
# and bench/ do not build clean with it yet.
WERROR  ?=
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
           -Wformat=2 -Wcast-qual -Wvla -Wmissing-prototypes
ifeq ($(WERROR),1)
  WARN  += -Werror
endif
# What the build needs comes first; the user's CPPFLAGS and CFLAGS after it,
# so `make CFLAGS=-O3` keeps -std=c11 etc. and its -O3 wins over OPT. The
# library exports only what include/ marks EVS_API (-fvisibility=hidden).
EVS_CPPFLAGS := -D_GNU_SOURCE -Iinclude
EVS_CFLAGS   := -std=c11 -g $(OPT) $(WARN) -fPIC -fvisibility=hidden
ifeq ($(SAN),1)
  EVS_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDSAN   := -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
  EVS_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
  LDSAN   := -fsanitize=thread
endif
CFLAGS_ALL = $(EVS_CPPFLAGS) -Isrc $(CPPFLAGS) $(EVS_CFLAGS) $(CFLAGS)
LIB_CFLAGS = $(EVS_CPPFLAGS) -Isrc $(CPPFLAGS) $(EVS_CFLAGS) -Wconversion $(CFLAGS)
# Header dependencies are found by the compiler (-MMD -MP, .d files beside
# the objects and programs, included at the end).
DEPFLAGS := -MMD -MP
LINK     = $(CC) $(LDSAN) $(LDFLAGS)
LIBS    := -lzstd -lxxhash -lpthread -lm

SONAME_MAJOR := 0
VERSION := 0.1.0

LIB_SRC := $(sort $(wildcard src/*.c))
LIB_OBJ := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC))
# Every sqlext/*.c is compiled twice: against the linked SQLite
# (SQLITE_CORE) for libevstore_sqlite (evs_sqlite_register), and as the
# loadable extension evstore.so (sqlite3_evstore_init).
SQL_SRC := $(sort $(wildcard sqlext/*.c))
SQL_CORE_OBJ := $(patsubst sqlext/%.c,$(B)/obj/sqlext/core/%.o,$(SQL_SRC))
SQL_EXT_OBJ  := $(patsubst sqlext/%.c,$(B)/obj/sqlext/ext/%.o,$(SQL_SRC))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
CLI_OBJ := $(patsubst src/cli/%.c,$(B)/obj/cli/%.o,$(CLI_SRC))
# The loadable extension exports its entry point alone.
EXT_MAP := $(B)/obj/evstore-ext.map

.PHONY: all deps test test-bins test-plain test-asan clean demo soak install uninstall
all: $(B)/libevstore.a $(B)/libevstore.so $(B)/libevstore_sqlite.a $(B)/libevstore_sqlite.so \
     $(B)/evstore.so $(B)/evstore

# Debian packages the build, the tests and the documented examples need
# (man-db and groff-base render the man pages, jq is in the CLI's paging
# example); apt-get only when one is missing.
DEB_PKGS := build-essential libsqlite3-dev sqlite3 libxxhash-dev libzstd-dev \
            zstd clang libclang-rt-14-dev python3 pkg-config valgrind \
            man-db groff-base jq
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all present"; fi

$(B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@if [ "$(SAN)" = 1 ]; then touch $(@D)/.san; fi
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/obj/sqlext/core/%.o: sqlext/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -DSQLITE_CORE -c $< -o $@

# Default visibility here: the entry point must be visible, and the
# extension's version script ($(EXT_MAP)) exports it alone.
$(B)/obj/sqlext/ext/%.o: sqlext/%.c
	@mkdir -p $(@D)
	$(CC) $(filter-out -fvisibility=hidden,$(LIB_CFLAGS)) $(DEPFLAGS) -c $< -o $@

$(EXT_MAP):
	@mkdir -p $(@D)
	printf '{ global: sqlite3_evstore_init; local: *; };\n' >$@

# The loadable extension: `.load ./build/evstore` in the sqlite3 shell. It
# carries the library and exports only its entry point.
$(B)/evstore.so: $(SQL_EXT_OBJ) $(LIB_OBJ) $(EXT_MAP)
	$(LINK) -shared -Wl,--version-script=$(EXT_MAP) -o $@ $(SQL_EXT_OBJ) $(LIB_OBJ) $(LIBS) $(LDLIBS)

# libevstore: the store, without SQLite.
$(B)/libevstore.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libevstore.so: $(LIB_OBJ)
	$(LINK) -shared -Wl,-soname,libevstore.so.$(SONAME_MAJOR) -o $(B)/libevstore.so.$(VERSION) $^ $(LIBS) $(LDLIBS)
	ln -sf libevstore.so.$(VERSION) $(B)/libevstore.so.$(SONAME_MAJOR)
	ln -sf libevstore.so.$(VERSION) $@

# libevstore_sqlite: evs_sqlite_register (include/evstore_sqlite.h) for
# programs that link SQLite. The SQL module uses the public API only, so
# the archive holds just the module (link it before libevstore) and the
# shared library needs libevstore.so; it exports evs_sqlite_register alone
# (hidden visibility).
$(B)/libevstore_sqlite.a: $(SQL_CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libevstore_sqlite.so: $(SQL_CORE_OBJ) $(B)/libevstore.so
	$(LINK) -shared -Wl,-soname,libevstore_sqlite.so.$(SONAME_MAJOR) \
	  -o $(B)/libevstore_sqlite.so.$(VERSION) $(SQL_CORE_OBJ) -L$(B) -levstore -lsqlite3 $(LDLIBS)
	ln -sf libevstore_sqlite.so.$(VERSION) $(B)/libevstore_sqlite.so.$(SONAME_MAJOR)
	ln -sf libevstore_sqlite.so.$(VERSION) $@

# The CLI is built against the public header only (no -Isrc), and links
# libevstore statically.
$(B)/obj/cli/%.o: src/cli/%.c
	@mkdir -p $(@D)
	$(CC) $(filter-out -Isrc,$(LIB_CFLAGS)) $(DEPFLAGS) -c $< -o $@

$(B)/evstore: $(CLI_OBJ) $(B)/libevstore.a
	$(LINK) -o $@ $(CLI_OBJ) $(B)/libevstore.a $(LIBS) $(LDLIBS)

TEST_LIBS = $(B)/libevstore_sqlite.a $(B)/libevstore.a
$(B)/tests/%: tests/%.c $(TEST_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $(LDSAN) $(LDFLAGS) $< -o $@ $(TEST_LIBS) -lsqlite3 $(LIBS) $(LDLIBS)

# test_abi_compat is built against the frozen 1.0 header (tests/abi/), not
# include/, and linked with the shared library: a program of the first
# published layout against the library as it is now.
$(B)/tests/test_abi_compat: tests/test_abi_compat.c $(B)/libevstore.so
	@mkdir -p $(@D)
	$(CC) -Itests/abi $(filter-out -Iinclude -Isrc,$(CFLAGS_ALL)) $(DEPFLAGS) $(LDSAN) $(LDFLAGS) $< -o $@ \
	  -L$(B) -Wl,-rpath,'$$ORIGIN/..' -levstore $(LDLIBS)

# The programs that check the store against the reference model link
# tests/model.c (fuzz/fuzz_ops does too, see fuzz/fuzz.mk).
MODEL_TESTS := $(B)/tests/test_model $(B)/tests/test_api_model
$(MODEL_TESTS): $(B)/tests/%: tests/%.c tests/model.c $(TEST_LIBS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $(LDSAN) $(LDFLAGS) $< tests/model.c -o $@ $(TEST_LIBS) -lsqlite3 $(LIBS) $(LDLIBS)

# test_slots runs against the library built again with 64 segment slots
# instead of 65,536 (src/store.h), so it reaches the slot limits quickly.
SLOTS_OBJ := $(patsubst src/%.c,$(B)/slots/%.o,$(LIB_SRC))
$(B)/slots/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -DEVS_SLOTS=64 -c $< -o $@

$(B)/tests/test_slots: tests/test_slots.c $(SLOTS_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -DEVS_SLOTS=64 $(LDSAN) $(LDFLAGS) $< -o $@ $(SLOTS_OBJ) $(LIBS) $(LDLIBS)

test-bins: $(TEST_BIN) $(B)/evstore.so $(B)/evstore $(B)/libevstore.so $(B)/libevstore_sqlite.so

# The test builds turn warnings into errors (WERROR=1). They build on every
# CPU unless make was given its own -j.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
TEST_J = $(if $(findstring j,$(firstword $(filter-out --%,$(MAKEFLAGS)))),,-j$(JOBS))
test-plain:
	@$(MAKE) --no-print-directory $(TEST_J) B=build WERROR=1 test-bins
# The sanitizer build uses clang, so every `make test` compiles the tree
# with both gcc and clang under -Werror.
test-asan:
	@$(MAKE) --no-print-directory $(TEST_J) B=build/asan SAN=1 OPT=-O1 CC=clang WERROR=1 test-bins

# The threaded tests again under ThreadSanitizer. Every test_api_* program
# is here: each store runs the library's own maintenance and batch threads.
TSAN_TESTS := test_threads $(patsubst tests/%.c,%,$(wildcard tests/test_api_*.c)) \
              test_sqlstatic test_compact test_dict test_refresh test_wait test_consumers
test-tsan:
	@$(MAKE) --no-print-directory $(TEST_J) B=build/tsan SAN=tsan OPT=-O1 CC=clang WERROR=1 \
	  $(patsubst %,build/tsan/tests/%,$(TSAN_TESTS))

# Every variant, then one runner over all so the closing line counts all
# (":c" = C programs only: the shell tests run against plain and ASan).
test: test-plain test-asan test-tsan
	@bash tests/run.sh build/tests build/asan/tests build/tsan/tests:c

# A readable sqlite3 session (docs/demo.sql) on a fresh database. The
# shell exits 1 because the demo shows two refused statements on purpose,
# so success is judged by the last query having run.
demo: all
	@d=$$(mktemp -d); sqlite3 -echo $$d/demo.db < docs/demo.sql 2>&1 | tee $$d/out; \
	  grep -q '^next_id' $$d/out; rc=$$?; rm -rf $$d; exit $$rc

# Headers, the libraries (sonames libevstore.so.0, libevstore_sqlite.so.0),
# evstore.pc and evstore-sqlite.pc, the SQLite extension in $(EXTDIR), the
# CLI and the man pages evstore(1) and evstore(3) in $(MANDIR). DESTDIR stages the tree elsewhere (the paths inside the .pc
# files stay those under PREFIX).
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@EXTDIR@|$(EXTDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(EXTDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 include/evstore.h include/evstore_sqlite.h $(DESTDIR)$(INCLUDEDIR)/
	for l in libevstore libevstore_sqlite; do \
	  install -m 644 $(B)/$$l.a $(DESTDIR)$(LIBDIR)/$$l.a && \
	  install -m 755 $(B)/$$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION) && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so.$(SONAME_MAJOR) && \
	  ln -sf $$l.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$l.so || exit 1; \
	done
	install -m 755 $(B)/evstore.so $(DESTDIR)$(EXTDIR)/evstore.so
	install -m 755 $(B)/evstore $(DESTDIR)$(BINDIR)/evstore
	$(PC_SED) evstore.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/evstore.pc
	$(PC_SED) evstore-sqlite.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/evstore-sqlite.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/evstore.pc $(DESTDIR)$(PKGCONFIGDIR)/evstore-sqlite.pc
	install -m 644 docs/man/evstore.1 $(DESTDIR)$(MANDIR)/man1/evstore.1
	install -m 644 docs/man/evstore.3 $(DESTDIR)$(MANDIR)/man3/evstore.3

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/evstore $(DESTDIR)$(INCLUDEDIR)/evstore.h \
	  $(DESTDIR)$(INCLUDEDIR)/evstore_sqlite.h $(DESTDIR)$(EXTDIR)/evstore.so \
	  $(DESTDIR)$(PKGCONFIGDIR)/evstore.pc $(DESTDIR)$(PKGCONFIGDIR)/evstore-sqlite.pc \
	  $(DESTDIR)$(MANDIR)/man1/evstore.1 $(DESTDIR)$(MANDIR)/man3/evstore.3
	for l in libevstore libevstore_sqlite; do \
	  rm -f $(DESTDIR)$(LIBDIR)/$$l.a $(DESTDIR)$(LIBDIR)/$$l.so \
	    $(DESTDIR)$(LIBDIR)/$$l.so.$(SONAME_MAJOR) $(DESTDIR)$(LIBDIR)/$$l.so.$(VERSION); \
	done
	rmdir $(DESTDIR)$(EXTDIR) 2>/dev/null || true

# The long soak (tests/test_soak.c; make test runs a short one): appends,
# acks and deletes with retention and compaction on; prints the disk curve.
SOAK_OPS ?= 5000000
soak: $(B)/tests/test_soak
	EVS_SOAK_OPS=$(SOAK_OPS) $(B)/tests/test_soak

clean:
	rm -rf build

# The compiler's header dependencies (-MMD -MP) of whatever was built.
-include $(wildcard $(B)/obj/*.d $(B)/obj/*/*.d $(B)/obj/sqlext/*/*.d $(B)/slots/*.d $(B)/tests/*.d)

include bench/bench.mk
include fuzz/fuzz.mk
