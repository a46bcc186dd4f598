#!/usr/bin/env bash
# `make fuzz-smoke`: every libFuzzer target briefly (and its regression
# inputs), one PASS/FAIL line per target. Usage: test_fuzz.sh BUILD_DIR
# (runs once, with the plain build; the targets carry their own ASan+UBSan).
set -u
B=${1:-build}
[ "$B" = build ] || exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(make -s -C "$root" fuzz-smoke 2>&1)
printf '%s\n' "$out" | grep -E '^(PASS|FAIL) ' || { echo "FAIL fuzz_smoke (no result lines)"; printf '%s\n' "$out" | tail -20; }
printf '%s\n' "$out" | grep -A30 '^FAIL ' | grep -v '^PASS ' | head -60
