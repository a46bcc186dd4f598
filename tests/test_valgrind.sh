#!/usr/bin/env bash
# valgrind memcheck over the unit tests of the plain build: no invalid
# access, no use of uninitialised memory, no definite leak.
# Usage: test_valgrind.sh BUILD_DIR (only the plain build is checked:
# sanitizer builds cannot run under valgrind).
set -u
B=${1:-build}
[ -f "$B/obj/.san" ] && exit 0
case "$B" in *tsan*|*asan*) exit 0 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v valgrind >/dev/null; then echo "FAIL valgrind_missing"; exit 0; fi
for t in $(cd "$root/tests" && ls test_api_*.c | sed 's/\.c$//') test_json test_query test_corrupt; do
  bin="$root/$B/tests/$t"
  [ -x "$bin" ] || { echo "FAIL valgrind_$t (not built)"; continue; }
  log=$(mktemp)
  if EVS_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full \
       --errors-for-leak-kinds=definite --track-origins=no "$bin" >"$log" 2>&1 \
     && ! grep -q '^FAIL ' "$log"; then
    echo "PASS valgrind_$t"
  else
    echo "FAIL valgrind_$t"; tail -40 "$log"
  fi
  rm -f "$log"
done
