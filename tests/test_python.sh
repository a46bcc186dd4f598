#!/usr/bin/env bash
# The evstore extension from Python's sqlite3 module (tests/python/*.py).
#
#   tests/test_python.sh BUILD_DIR      e.g. build
#
# Uses Debian's /usr/bin/python3 explicitly: another python3 earlier on PATH
# may be built without enable_load_extension. Each test script prints
# "PASS name" / "FAIL name: why" lines; a script that dies without a FAIL
# line is reported as "FAIL py_<script> (exit N)".
# An ASan BUILD_DIR is skipped (prints nothing): the ASan runtime would have
# to be preloaded into Python, which the SQL tests already cover.
set -u
root=$(cd "$(dirname "$0")/.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
case $1 in *asan*) exit 0 ;; esac
build=$1
case $build in /*) ;; *) build=$root/$build ;; esac
py=/usr/bin/python3
if [ ! -x "$py" ]; then echo "FAIL py_setup (no $py)"; exit 1; fi
if [ ! -f "$build/evstore.so" ]; then
  echo "FAIL py_setup ($build/evstore.so is missing: make B=$1 $1/evstore.so)"; exit 1
fi
if ! "$py" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' 2>/dev/null; then
  echo "FAIL py_setup ($py's sqlite3 module cannot load extensions)"; exit 1
fi
status=0
for t in "$root"/tests/python/test_*.py; do
  name=$(basename "$t" .py)
  out=$(mktemp)
  (cd "${TMPDIR:-/tmp}" && timeout 300 "$py" "$t" "$build/evstore") >"$out" 2>&1
  rc=$?
  # PASS/FAIL lines as they are; anything else (tracebacks) indented.
  sed -E '/^(PASS|FAIL) /!s/^/    /' "$out"
  if [ $rc -ne 0 ]; then
    status=1
    grep -q '^FAIL ' "$out" || echo "FAIL py_$name (exit $rc)"
  fi
  rm -f "$out"
done
exit $status
