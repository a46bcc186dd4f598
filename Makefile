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
# The loadable SQLite extension: `.load /usr/local/lib/evstore/evstore`.
EXTDIR  ?= $(LIBDIR)/evstore
SAN     ?=
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -fPIC -Iinclude -Isrc $(CFLAGS)
LIBS    := -lzstd -lxxhash -lpthread -lm
ifeq ($(SAN),1)
  CFLAGS_ALL += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDSAN   := -fsanitize=address,undefined
endif
ifeq ($(SAN),tsan)
  CFLAGS_ALL += -fsanitize=thread -fno-omit-frame-pointer
  LDSAN   := -fsanitize=thread
endif

SONAME_MAJOR := 0
VERSION := 0.1.0

LIB_SRC := $(sort $(wildcard src/*.c))
CORE_OBJ := $(patsubst src/%.c,$(B)/obj/%.o,$(LIB_SRC))
# libevstore also carries the SQL module, compiled against the linked
# SQLite (SQLITE_CORE); evstore.so is the loadable build of the same files.
SQLEXT_SRC := $(sort $(wildcard sqlext/*.c))
SQLEXT_CORE_OBJ := $(patsubst sqlext/%.c,$(B)/obj/sqlext_core/%.o,$(SQLEXT_SRC))
SQLEXT_EXT_OBJ := $(patsubst sqlext/%.c,$(B)/obj/sqlext_ext/%.o,$(SQLEXT_SRC))
LIB_OBJ := $(CORE_OBJ) $(SQLEXT_CORE_OBJ)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BIN := $(patsubst tests/%.c,$(B)/tests/%,$(TEST_SRC))
HDRS    := include/evstore.h $(wildcard src/*.h)
CLI_SRC := $(sort $(wildcard src/cli/*.c))
CLI_OBJ := $(patsubst src/cli/%.c,$(B)/obj/cli/%.o,$(CLI_SRC))

.PHONY: all deps test test-bins test-plain test-asan clean demo soak install uninstall
all: $(B)/libevstore.a $(B)/libevstore.so $(B)/evstore.so $(B)/evstore

# Debian packages the build and the tests need; apt-get only when one is missing.
DEB_PKGS := build-essential libsqlite3-dev sqlite3 libxxhash-dev libzstd-dev \
            zstd clang libclang-rt-14-dev python3 pkg-config valgrind
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

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	@if [ "$(SAN)" = 1 ]; then touch $(@D)/.san; fi
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/obj/sqlext_core/%.o: sqlext/%.c $(HDRS) $(wildcard sqlext/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DSQLITE_CORE -c $< -o $@

$(B)/obj/sqlext_ext/%.o: sqlext/%.c $(HDRS) $(wildcard sqlext/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The loadable extension: `.load ./build/evstore` in the sqlite3 shell.
$(B)/evstore.so: $(SQLEXT_EXT_OBJ) $(CORE_OBJ)
	$(CC) -shared $(LDSAN) -o $@ $^ $(LIBS)

$(B)/libevstore.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libevstore.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libevstore.so.$(SONAME_MAJOR) $(LDSAN) -o $(B)/libevstore.so.$(VERSION) $^ $(LIBS) -lsqlite3
	ln -sf libevstore.so.$(VERSION) $(B)/libevstore.so.$(SONAME_MAJOR)
	ln -sf libevstore.so.$(VERSION) $@

# The CLI is built against the public header only (no -Isrc), and links
# libevstore statically.
$(B)/obj/cli/%.o: src/cli/%.c include/evstore.h $(wildcard src/cli/*.h)
	@mkdir -p $(@D)
	$(CC) $(filter-out -Isrc,$(CFLAGS_ALL)) -c $< -o $@

$(B)/evstore: $(CLI_OBJ) $(B)/libevstore.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(B)/libevstore.a $(LIBS)

$(B)/tests/%: tests/%.c tests/testlib.h tests/gen.h $(B)/libevstore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(B)/libevstore.a $(LDSAN) $(LIBS) -lsqlite3

# The programs that check the store against the reference model link
# tests/model.c (fuzz/fuzz_ops does too, see fuzz/fuzz.mk).
MODEL_TESTS := $(B)/tests/test_model $(B)/tests/test_api_model
$(MODEL_TESTS): $(B)/tests/%: tests/%.c tests/model.c tests/model.h tests/testlib.h $(B)/libevstore.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $< tests/model.c -o $@ $(B)/libevstore.a $(LDSAN) $(LIBS) -lsqlite3

# test_slots runs against the library built again with 64 segment slots
# instead of 65,536 (src/store.h), so it reaches the slot limits quickly.
SLOTS_OBJ := $(patsubst src/%.c,$(B)/slots/%.o,$(LIB_SRC))
$(B)/slots/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DEVS_SLOTS=64 -c $< -o $@

$(B)/tests/test_slots: tests/test_slots.c tests/testlib.h $(SLOTS_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DEVS_SLOTS=64 $< -o $@ $(SLOTS_OBJ) $(LDSAN) $(LIBS)

test-bins: $(TEST_BIN) $(B)/evstore.so $(B)/evstore $(B)/libevstore.so

test-plain:
	@$(MAKE) --no-print-directory B=build test-bins
# The sanitizer build uses clang, so every `make test` compiles the tree
# with both gcc and clang under -Werror.
test-asan:
	@$(MAKE) --no-print-directory B=build/asan SAN=1 OPT=-O1 CC=clang test-bins

# The threaded tests again under ThreadSanitizer. Every test_api_* program
# is here: each store runs the library's own maintenance and batch threads.
TSAN_TESTS := test_threads $(patsubst tests/%.c,%,$(wildcard tests/test_api_*.c)) \
              test_sqlstatic test_compact test_dict
test-tsan:
	@$(MAKE) --no-print-directory B=build/tsan SAN=tsan OPT=-O1 CC=clang \
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

# Header, both libraries (soname libevstore.so.0), evstore.pc, the SQLite
# extension in $(EXTDIR) and the CLI. DESTDIR stages the tree elsewhere
# (the paths inside evstore.pc stay those under PREFIX).
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(EXTDIR)
	install -m 644 include/evstore.h $(DESTDIR)$(INCLUDEDIR)/evstore.h
	install -m 644 $(B)/libevstore.a $(DESTDIR)$(LIBDIR)/libevstore.a
	install -m 755 $(B)/libevstore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libevstore.so.$(VERSION)
	ln -sf libevstore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libevstore.so.$(SONAME_MAJOR)
	ln -sf libevstore.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libevstore.so
	install -m 755 $(B)/evstore.so $(DESTDIR)$(EXTDIR)/evstore.so
	install -m 755 $(B)/evstore $(DESTDIR)$(BINDIR)/evstore
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@EXTDIR@|$(EXTDIR)|g' \
	  -e 's|@VERSION@|$(VERSION)|g' evstore.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/evstore.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/evstore.pc

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/evstore $(DESTDIR)$(INCLUDEDIR)/evstore.h \
	  $(DESTDIR)$(LIBDIR)/libevstore.a $(DESTDIR)$(LIBDIR)/libevstore.so \
	  $(DESTDIR)$(LIBDIR)/libevstore.so.$(SONAME_MAJOR) \
	  $(DESTDIR)$(LIBDIR)/libevstore.so.$(VERSION) $(DESTDIR)$(EXTDIR)/evstore.so \
	  $(DESTDIR)$(PKGCONFIGDIR)/evstore.pc
	rmdir $(DESTDIR)$(EXTDIR) 2>/dev/null || true

# The long soak (tests/test_soak.c; make test runs a short one): appends,
# acks and deletes with retention and compaction on; prints the disk curve.
SOAK_OPS ?= 5000000
soak: $(B)/tests/test_soak
	EVS_SOAK_OPS=$(SOAK_OPS) $(B)/tests/test_soak

clean:
	rm -rf build

include bench/bench.mk
include fuzz/fuzz.mk
