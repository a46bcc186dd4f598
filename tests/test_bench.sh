#!/usr/bin/env bash
# `make bench-smoke`: the benchmark at tiny N, so it cannot rot. It
# checks that every phase ran and cross-checked; it judges no timing.
# Usage: test_bench.sh BUILD_DIR (runs for the plain build only).
set -u
B=${1:-build}
[ "$B" = build ] || exit 0
root=$(cd "$(dirname "$0")/.." && pwd)
make -s -C "$root" bench-smoke B=build WERROR=1 2>&1 | grep -E '^(PASS|FAIL) ' || echo "FAIL bench_smoke (no result line)"
