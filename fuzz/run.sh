#!/usr/bin/env bash
# Runs libFuzzer targets built by fuzz/fuzz.mk.
#
#   fuzz/run.sh smoke SECONDS target...  (make fuzz-smoke)
#       each target for SECONDS with -seed=1 on a temporary copy of
#       fuzz/corpus/<target> (the checked-in corpus is never written), after
#       replaying its regression inputs fuzz/crashes/<target>-*. Prints one
#       line per target, in the order given:
#         PASS fuzz_<t> (<execs> execs, cov <N>)
#         FAIL fuzz_<t>          followed by the end of libFuzzer's output
#       and exits non-zero if any target failed.
#   fuzz/run.sh long SECONDS target...   (make fuzz)
#       each target for SECONDS, growing fuzz/out/<t> (seeded from
#       fuzz/corpus/<t>); crash artifacts go to fuzz/out/artifacts/.
#
# FUZZ_JOBS targets run at once (default 2: one per core of a CI machine).
set -u
mode=${1:?mode}; secs=${2:?seconds}; shift 2
cd "$(dirname "$0")/.."
bin=${FUZZ_BIN:-build/fuzz}
jobs=${FUZZ_JOBS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/evs-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Common libFuzzer flags: a slow input (10 s) is a hang, 2 GiB is too much.
common=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
# UBSan reports with a stack; ASan leak checks on (libFuzzer's default).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# Per-target flags. fuzz_open: a record (checksum fixed up) and its zstd
# frame header may claim an original payload of up to 4 GiB, which readers
# allocate before decompressing; allow such allocations (fuzz/README.md).
target_flags() {
  case $1 in
    open) echo "-malloc_limit_mb=4500" ;;
  esac
}

run_one() { # target: writes $work/<t>.log and $work/<t>.rc
  local t=$1 exe=$bin/fuzz_$1 log=$work/$1.log rc=0
  local common=("${common[@]}" $(target_flags "$1"))
  : >"$log"
  if [ ! -x "$exe" ]; then
    echo "missing $exe (run make fuzz-build)" >>"$log"
    echo 1 >"$work/$t.rc"
    return
  fi
  # Regression inputs: each must run clean (one run each, so the report
  # names every one that fails, not only the first).
  local f one=$work/$1.one
  for f in fuzz/crashes/"$t"-*; do
    [ -f "$f" ] || continue
    if ! FUZZ_TRACE=1 "$exe" "${common[@]}" "$f" >"$one" 2>&1; then
      rc=1
      { echo "== regression input $f fails:"
        grep -E '^\[op [0-9]+\] .' "$one" | tail -n 8
        grep -E 'FUZZ CHECK FAILED|runtime error|ERROR: |^SUMMARY' "$one"
        grep -E '^ +#[0-9]+ .* in [^ ]+ [^ ]*/(src|sqlext|fuzz)/[^ /]+\.c:' "$one" |
          grep -v fz_fail | head -n 6
      } >>"$log"
    fi
  done
  if [ $rc -eq 0 ]; then
    if [ "$mode" = smoke ]; then
      local c=$work/$t.corpus
      mkdir -p "$c" "$work/$t.art"
      cp fuzz/corpus/"$t"/* "$c"/ 2>/dev/null
      "$exe" "${common[@]}" -seed=1 -max_total_time="$secs" \
        -artifact_prefix="$work/$t.art/" "$c" >>"$log" 2>&1 || rc=$?
    else
      mkdir -p fuzz/out/"$t" fuzz/out/artifacts
      "$exe" "${common[@]}" -max_total_time="$secs" \
        -artifact_prefix="fuzz/out/artifacts/$t-" \
        fuzz/out/"$t" fuzz/corpus/"$t" >>"$log" 2>&1 || rc=$?
    fi
  fi
  echo $rc >"$work/$t.rc"
}

# Run with at most $jobs at a time.
running=0
for t in "$@"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait

fails=0
for t in "$@"; do
  log=$work/$t.log
  rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | awk '{print $2}')
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n 1 | awk '{print $2}')
  if [ "$rc" = 0 ] && [ -n "$execs" ]; then
    if [ "$mode" = smoke ]; then
      echo "PASS fuzz_$t (${execs} execs, cov ${cov:-0})"
    else
      echo "PASS fuzz_$t (${execs} execs in ${secs} s, cov ${cov:-0}, ft ${ft:-0}, corpus ${corp:-?})"
    fi
  else
    fails=$((fails + 1))
    echo "FAIL fuzz_$t"
    # The report: libFuzzer's crash/leak/timeout block and what led to it.
    if grep -q '^== regression input' "$log"; then
      sed 's/^/    /' "$log"
    else
      tail -n 60 "$log" | sed 's/^/    /'
    fi
    if [ "$mode" = smoke ] && ls "$work/$t.art"/* >/dev/null 2>&1; then
      mkdir -p fuzz/out/artifacts
      cp "$work/$t.art"/* fuzz/out/artifacts/
      echo "    (reproducer copied to fuzz/out/artifacts/)"
    elif [ "$mode" = long ]; then
      echo "    (artifacts in fuzz/out/artifacts/)"
    fi
  fi
done
[ "$fails" -eq 0 ]
