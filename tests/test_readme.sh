#!/usr/bin/env bash
# Compiles and runs the C example in README.md against the built library,
# so the documented example cannot rot. Usage: test_readme.sh BUILD_DIR
set -u
B=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/<!-- example: quickstart/{f=1; next} f && /^```c/{p=1; next} p && /^```/{exit} p' \
  "$root/README.md" >"$work/quickstart.c"
check() { if eval "$2"; then echo "PASS $1"; else echo "FAIL $1"; fi; }
check readme_example_extracted "[ -s '$work/quickstart.c' ]"
san=""; [ -f "$root/$B/obj/.san" ] && san="-fsanitize=address,undefined"
check readme_example_compiles \
  "cc -std=c11 -Wall -Wextra -Werror $san -I'$root/include' '$work/quickstart.c' '$root/$B/libevstore.a' -lzstd -lxxhash -lpthread -o '$work/qs' 2>'$work/cc.log' || { cat '$work/cc.log'; false; }"
cd "$work"
out1=$(./qs 2>&1); out2=$(./qs 2>&1)
check readme_example_first_run "[ \"\$out1\" = \"\$(printf 'appended 1\n1 order.created {\"order_id\":42,\"total_cents\":1999}')\" ] || { echo \"\$out1\"; false; }"
check readme_example_second_run_duplicate "[ \"\$out2\" = 'appended 1 (duplicate)' ] || { echo \"\$out2\"; false; }"
