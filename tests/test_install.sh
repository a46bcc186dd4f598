#!/usr/bin/env bash
# `make install` into temporary prefixes (no root needed), then what was
# installed is used as a user would: a small program built with
# `pkg-config --cflags --libs evstore`, linked against the shared library
# (run with LD_LIBRARY_PATH) and, with --static, statically; one that
# registers the SQL module (evstore_sqlite.h, `pkg-config evstore-sqlite`),
# shared and static; the installed CLI; the installed SQLite extension;
# the man pages evstore(1) and evstore(3), found by `man` under the
# prefix and rendered without a warning; `make uninstall`.
#
#   tests/test_install.sh BUILD_DIR     e.g. build
#
# A sanitizer build is skipped (prints nothing): installing is about the
# plain build, and its programs would need the sanitizer runtime.
set -u
root=$(cd "$(dirname "$0")/.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
case $1 in *asan* | *tsan*) exit 0 ;; esac
B=$1
w=$(mktemp -d "${TMPDIR:-/tmp}/evs-install-XXXXXX")
w=$(cd "$w" && pwd -P)
trap 'rm -rf "$w"' EXIT
status=0
pass() { echo "PASS install_$1"; }
fail() {
  echo "FAIL install_$1: $2"
  [ -f "$w/log" ] && tail -n 30 "$w/log" | sed 's/^/    /'
  status=1
}
check() { # NAME COMMAND...
  local name=$1
  shift
  if "$@" >"$w/log" 2>&1; then pass "$name"; else fail "$name" "failed: $*"; fi
}
has() { grep -qE -- "$1" <<<"$2"; } # ERE TEXT
# The test may run under `make test`: the nested make must not join its
# jobserver or inherit its flags.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$root" --no-print-directory B="$B" "$@"; }

cat >"$w/prog.c" <<'EOF'
#include <evstore.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  evs_store *s;
  if (argc != 2 || evs_store_open(argv[1], NULL, &s)) {
    fprintf(stderr, "open: %s\n", evs_errmsg(NULL));
    return 1;
  }
  evs_event_in in = {.source = "pc", .event_type = "linked", .payload = "{\"ok\": true}"};
  evs_append_result r;
  evs_event *e;
  if (evs_append(s, NULL, &in, &r) || evs_get(s, NULL, r.id, &e)) {
    fprintf(stderr, "%s\n", evs_errmsg(s));
    return 1;
  }
  printf("%s %s %llu %s\n", evs_version(), EVS_VERSION_STRING, (unsigned long long)e->id,
         e->payload);
  evs_event_free(e);
  return evs_store_close(s) ? 1 : 0;
}
EOF

cat >"$w/sqlprog.c" <<'EOF'
#include <evstore_sqlite.h>
#include <sqlite3.h>
#include <stdio.h>

int main(int argc, char **argv) {
  sqlite3 *db;
  sqlite3_stmt *st;
  char sql[512];
  if (argc != 2 || sqlite3_open(":memory:", &db) || evs_sqlite_register(db)) return 1;
  snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE t USING evstore(dir='%s');"
           "INSERT INTO t(source, event_type, payload) VALUES ('sql', 'registered', '{}');",
           argv[1]);
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) ||
      sqlite3_prepare_v2(db, "SELECT id, source, status FROM t", -1, &st, NULL) ||
      sqlite3_step(st) != SQLITE_ROW) {
    fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  printf("%lld|%s|%s %s\n", sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1),
         sqlite3_column_text(st, 2), evs_version());
  sqlite3_finalize(st);
  return sqlite3_close(db) == SQLITE_OK ? 0 : 1;
}
EOF

# ---- PREFIX ------------------------------------------------------------------
P=$w/prefix
check prefix_make_install mk install PREFIX="$P"
ok=1
for f in bin/evstore include/evstore.h include/evstore_sqlite.h lib/libevstore.a \
         lib/libevstore.so.0.1.0 lib/libevstore_sqlite.a lib/libevstore_sqlite.so.0.1.0 \
         lib/pkgconfig/evstore.pc lib/pkgconfig/evstore-sqlite.pc lib/evstore/evstore.so \
         share/man/man1/evstore.1 share/man/man3/evstore.3; do
  [ -f "$P/$f" ] || { echo "missing $P/$f"; ok=0; }
done
for l in libevstore libevstore_sqlite; do
  [ "$(readlink "$P/lib/$l.so")" = $l.so.0.1.0 ] || ok=0
  [ "$(readlink "$P/lib/$l.so.0")" = $l.so.0.1.0 ] || ok=0
done
check prefix_files [ $ok = 1 ]
check prefix_soname sh -c "readelf -d '$P/lib/libevstore.so.0.1.0' | grep -q 'SONAME.*\\[libevstore.so.0\\]'"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
pc() { pkg-config "$@" | sed 's/ *$//'; } # pkgconf ends its output with a space
check pkgconfig_version [ "$(pc --modversion evstore)" = 0.1.0 ]
check pkgconfig_cflags [ "$(pc --cflags evstore)" = "-I$P/include" ]
check pkgconfig_libs [ "$(pc --libs evstore)" = "-L$P/lib -levstore" ]
check pkgconfig_static_libs sh -c "pkg-config --static --libs evstore | grep -q -- '-lzstd -lxxhash -lpthread -lm'"
check pkgconfig_needs_no_sqlite sh -c "! pkg-config --static --libs evstore | grep -q sqlite"
check libevstore_needs_no_sqlite sh -c "! readelf -d '$P/lib/libevstore.so.0.1.0' | grep -q 'NEEDED.*sqlite'"
check pkgconfig_sqlite_libs [ "$(pc --libs evstore-sqlite)" = "-L$P/lib -levstore_sqlite -levstore" ]
check pkgconfig_extensiondir [ "$(pc --variable=extensiondir evstore)" = "$P/lib/evstore" ]

# shellcheck disable=SC2046
check shared_link cc -std=c11 -Wall -Werror "$w/prog.c" -o "$w/prog_shared" $(pkg-config --cflags --libs evstore)
check shared_needs_soname sh -c "readelf -d '$w/prog_shared' | grep -q 'NEEDED.*\\[libevstore.so.0\\]'"
out=$(LD_LIBRARY_PATH=$P/lib "$w/prog_shared" "$w/store1" 2>&1)
check shared_runs [ "$out" = '0.1.0 0.1.0 1 {"ok": true}' ]
check shared_uses_installed_library sh -c "LD_LIBRARY_PATH='$P/lib' ldd '$w/prog_shared' | grep -q '$P/lib/libevstore.so.0'"
# shellcheck disable=SC2046
check static_link cc -std=c11 -Wall -Werror -static "$w/prog.c" -o "$w/prog_static" $(pkg-config --static --cflags --libs evstore)
check static_has_no_shared_libs sh -c "! readelf -d '$w/prog_static' 2>/dev/null | grep -q NEEDED"
out=$(env -u LD_LIBRARY_PATH "$w/prog_static" "$w/store2" 2>&1)
check static_runs [ "$out" = '0.1.0 0.1.0 1 {"ok": true}' ]

# shellcheck disable=SC2046
check sqlite_shared_link cc -std=c11 -Wall -Werror "$w/sqlprog.c" -o "$w/sqlprog_shared" $(pkg-config --cflags --libs evstore-sqlite) -lsqlite3
out=$(LD_LIBRARY_PATH=$P/lib "$w/sqlprog_shared" "$w/store5" 2>&1)
check sqlite_shared_runs [ "$out" = '1|sql|pending 0.1.0' ]
# shellcheck disable=SC2046
check sqlite_static_link cc -std=c11 -Wall -Werror -static "$w/sqlprog.c" -o "$w/sqlprog_static" $(pkg-config --static --cflags --libs evstore-sqlite)
check sqlite_static_has_no_shared_libs sh -c "! readelf -d '$w/sqlprog_static' 2>/dev/null | grep -q NEEDED"
out=$(env -u LD_LIBRARY_PATH "$w/sqlprog_static" "$w/store6" 2>&1)
check sqlite_static_runs [ "$out" = '1|sql|pending 0.1.0' ]

out=$("$P/bin/evstore" "$w/store2" get 1 2>&1)
check cli_installed has '"event_id":1,.*"source":"pc","event_type":"linked","payload":\{"ok": true\}' "$out"
out=$(cd "$w" && sqlite3 :memory: ".load $P/lib/evstore/evstore" \
  "CREATE VIRTUAL TABLE inbox USING evstore(dir='$w/store3');" \
  "INSERT INTO inbox(source, event_type, payload) VALUES ('sql', 'loaded', '{}');" \
  "SELECT id, source, status FROM inbox;" 2>&1)
check extension_loads [ "$out" = '1|sql|pending' ]
# The installed man pages: `man -M` finds each under the prefix's share/man
# (so they are in the sections' directories), and man -l renders the file
# without a formatter warning.
for sec in 1 3; do
  out=$(MANWIDTH=80 man -M "$P/share/man" "$sec" evstore 2>&1 | head -n 1)
  check man${sec}_found has "^EVSTORE\\($sec\\)" "$out"
  out=$(MANWIDTH=80 man -l --warnings "$P/share/man/man$sec/evstore.$sec" 2>&1 >/dev/null)
  check man${sec}_renders_without_warnings [ -z "$out" ]
done
check uninstall_prefix mk uninstall PREFIX="$P"
check uninstall_prefix_removes_files [ -z "$(find "$P" -type f -o -type l)" ]

# ---- DESTDIR (staged for another PREFIX) -------------------------------------
D=$w/stage
check destdir_make_install mk install DESTDIR="$D" PREFIX=/opt/evs
check destdir_files test -f "$D/opt/evs/lib/pkgconfig/evstore.pc" -a -x "$D/opt/evs/bin/evstore" \
  -a -f "$D/opt/evs/share/man/man1/evstore.1" -a -f "$D/opt/evs/share/man/man3/evstore.3"
check destdir_pc_names_prefix grep -qx 'libdir=/opt/evs/lib' "$D/opt/evs/lib/pkgconfig/evstore.pc"
export PKG_CONFIG_PATH=$D/opt/evs/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
# shellcheck disable=SC2046
check destdir_link cc -std=c11 -Wall -Werror "$w/prog.c" -o "$w/prog_staged" $(pkg-config --cflags --libs evstore)
out=$(LD_LIBRARY_PATH=$D/opt/evs/lib "$w/prog_staged" "$w/store4" 2>&1)
check destdir_runs [ "$out" = '0.1.0 0.1.0 1 {"ok": true}' ]
unset PKG_CONFIG_SYSROOT_DIR
check destdir_uninstall mk uninstall DESTDIR="$D" PREFIX=/opt/evs
check destdir_uninstall_removes_files [ -z "$(find "$D" -type f -o -type l)" ]
exit $status
