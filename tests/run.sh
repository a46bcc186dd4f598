#!/usr/bin/env bash
# Runs every test program in the given directories, counts PASS/FAIL lines,
# and ends with "N passed, N failed". A program that exits non-zero without
# reporting a FAIL (a crash, a sanitizer report) counts as one failure.
# Programs run EVS_TEST_JOBS at a time (default: the number of CPUs); each
# one's output is kept and reported in the order they are listed.
set -u
pass=0; fail=0
export EVS_TEST_ROOT="${TMPDIR:-/tmp}"
here=$(cd "$(dirname "$0")" && pwd)
jobs=${EVS_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
names=()
run_one() { # index, program, build dir for shell tests
  local out="$work/$1.out" rc
  case "$2" in
    *.sh) timeout 600 "$2" "$3" >"$out" 2>&1 ;;
    *) timeout 600 "$2" >"$out" 2>&1 ;;
  esac
  rc=$?
  echo "$rc" >"$work/$1.rc"
}
i=0
for arg in "$@"; do
  dir=${arg%:c}
  shells="$here/test_*.sh"
  [ "$arg" != "$dir" ] && shells=""
  # C test programs built into $dir, then the shell tests run against the
  # build they belong to ($dir/..).
  for t in "$dir"/test_* $shells; do
    [ -x "$t" ] || continue
    names[$i]="$dir/$(basename "$t")"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_one "$i" "$t" "$(dirname "$dir")" &
    i=$((i + 1))
  done
done
wait
for ((k = 0; k < i; k++)); do
  name=${names[$k]}
  out="$work/$k.out"
  rc=$(cat "$work/$k.rc" 2>/dev/null || echo 1)
  p=$(grep -c '^PASS ' "$out"); f=$(grep -c '^FAIL ' "$out")
  pass=$((pass + p)); fail=$((fail + f))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    fail=$((fail + 1)); echo "CRASH $name (exit $rc)"
  fi
  if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
    echo "---- $name"; cat "$out"
  else
    echo "ok   $name ($p tests)"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
