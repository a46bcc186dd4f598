#!/usr/bin/env bash
# Runs every test program in the given directories, counts PASS/FAIL lines,
# and ends with "N passed, N failed". A program that exits non-zero without
# reporting a FAIL (a crash, a sanitizer report) counts as one failure.
set -u
pass=0; fail=0
export EVS_TEST_ROOT="${TMPDIR:-/tmp}"
here=$(cd "$(dirname "$0")" && pwd)
for arg in "$@"; do
  dir=${arg%:c}
  shells="$here/test_*.sh"
  [ "$arg" != "$dir" ] && shells=""
  # C test programs built into $dir, then the shell tests run against the
  # build they belong to ($dir/..).
  for t in "$dir"/test_* $shells; do
    [ -x "$t" ] || continue
    name="$dir/$(basename "$t")"
    out=$(mktemp)
    case "$t" in
      *.sh) timeout 600 "$t" "$(dirname "$dir")" >"$out" 2>&1 ;;
      *) timeout 600 "$t" >"$out" 2>&1 ;;
    esac
    rc=$?
    p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
    pass=$((pass + p)); fail=$((fail + f))
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
      fail=$((fail + 1)); echo "CRASH $name (exit $rc)"
    fi
    if [ "$f" -ne 0 ] || [ $rc -ne 0 ]; then
      echo "---- $name"; cat "$out"
    else
      echo "ok   $name ($p tests)"
    fi
    rm -f "$out"
  done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
