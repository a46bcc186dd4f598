#!/usr/bin/env bash
# What the shared libraries export is what include/ declares, nothing more:
# every function marked EVS_API in include/evstore.h is defined in
# libevstore.so and nothing else is (the library is built with hidden
# visibility); libevstore_sqlite.so exports evs_sqlite_register
# (include/evstore_sqlite.h) alone and is linked with libevstore.so and
# libsqlite3; the loadable evstore.so exports only its entry point
# sqlite3_evstore_init; libevstore.so needs no libsqlite3.
#
#   tests/test_abi.sh BUILD_DIR     e.g. build
set -u
root=$(cd "$(dirname "$0")/.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
B=$1
case $B in /*) ;; *) B=$root/$B ;; esac
status=0
pass() { echo "PASS abi_$1"; }
fail() { echo "FAIL abi_$1: $2"; status=1; }

# Functions a header declares: "EVS_API <type> name(".
declared() { grep -hoE '^EVS_API [^(]*\bevs_[a-z0-9_]+\(' "$@" | grep -oE 'evs_[a-z0-9_]+\($' | tr -d '(' | sort -u; }
# Symbols a shared library defines, without what the toolchain adds
# (_init, _fini, sanitizer runtime hooks: names starting with _).
exported() { nm -D --defined-only "$1" | awk '{print $NF}' | grep -v '^_' | sort -u; }
compare() { # NAME LIBRARY EXPECTED-LIST
  local name=$1 lib=$2 want=$3 have extra missing
  if [ ! -f "$lib" ]; then fail "$name" "$lib is missing"; return; fi
  have=$(exported "$lib")
  extra=$(comm -13 <(echo "$want") <(echo "$have") | tr '\n' ' ')
  missing=$(comm -23 <(echo "$want") <(echo "$have") | tr '\n' ' ')
  if [ -z "$extra$missing" ]; then
    pass "$name ($(echo "$have" | wc -l) symbols)"
  else
    fail "$name" "exported but not declared: [${extra% }]; declared but not exported: [${missing% }]"
  fi
}

api=$(declared "$root/include/evstore.h")
[ "$(echo "$api" | wc -l)" -ge 30 ] && pass header_parsed || fail header_parsed "found only: $api"
compare libevstore_exports "$B/libevstore.so" "$api"
compare libevstore_sqlite_exports "$B/libevstore_sqlite.so" "$(declared "$root/include/evstore_sqlite.h")"
compare extension_exports "$B/evstore.so" sqlite3_evstore_init

needed=$(readelf -d "$B/libevstore.so" 2>&1 | grep NEEDED)
if [ -z "$needed" ]; then
  fail libevstore_needs_no_sqlite "readelf -d printed no NEEDED line"
elif grep -q 'libsqlite3' <<<"$needed"; then
  fail libevstore_needs_no_sqlite "$(tr -s ' ' <<<"$needed" | tr '\n' ' ')"
else
  pass libevstore_needs_no_sqlite
fi
needed=$(readelf -d "$B/libevstore_sqlite.so" 2>&1 | grep NEEDED)
if grep -q 'libsqlite3' <<<"$needed" && grep -q 'libevstore\.so\.0' <<<"$needed"; then
  pass libevstore_sqlite_needs_sqlite_and_libevstore
else
  fail libevstore_sqlite_needs_sqlite_and_libevstore "$(tr -s ' ' <<<"$needed" | tr '\n' ' ')"
fi
exit $status
