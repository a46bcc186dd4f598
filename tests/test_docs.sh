#!/usr/bin/env bash
# The documentation a user reads against what the code has: the man pages
# render without a warning; evstore(3) names every function, inline wrapper
# and status code of the public headers; evstore(1) names every command,
# every long option and every exit status the CLI's help prints; the C
# example of evstore(3) compiles and runs; LICENSE is there and README
# names it; README.md and bench/README.md point at nothing outside the
# repository and at no issue.
#
#   tests/test_docs.sh BUILD_DIR     e.g. build
#
# A sanitizer build is skipped (prints nothing): the documents are the same.
set -u
root=$(cd "$(dirname "$0")/.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
case $1 in *asan* | *tsan*) exit 0 ;; esac
B=$1
case $B in /*) ;; *) [ -d "$B" ] || B=$root/$B ;; esac
w=$(mktemp -d "${TMPDIR:-/tmp}/evs-docs-XXXXXX")
trap 'rm -rf "$w"' EXIT
status=0
man1=$root/docs/man/evstore.1
man3=$root/docs/man/evstore.3
pass() { echo "PASS docs_$1"; }
fail() { echo "FAIL docs_$1: $2"; status=1; }
# NAME TEST-STATUS MESSAGE: the verdict of a test already run.
verdict() { if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$3"; fi; }
# NAME MISSING...: passes when nothing is missing.
report() { local n=$1; shift; if [ $# -eq 0 ]; then pass "$n"; else fail "$n" "missing: $*"; fi; }

# Warnings of the formatter (man-db's man -l, else groff), nothing else.
render_warnings() {
  if man --version >/dev/null 2>&1; then
    # shellcheck disable=SC2069 # stderr to the caller, stdout dropped
    MANWIDTH=80 man -l --warnings "$1" 2>&1 >/dev/null
  else
    groff -man -ww -z "$1" 2>&1
  fi
}
for f in "$man1" "$man3"; do
  n=man_renders_$(basename "$f" | tr . _)
  if [ ! -s "$f" ]; then fail "$n" "no $f"; continue; fi
  out=$(render_warnings "$f")
  if [ -z "$out" ]; then pass "$n"; else fail "$n" "$out"; fi
done
# The man page as a reader sees it, and its source with roff escapes taken
# out (\- is -, \fB...\fR fonts dropped), to look names up in.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g' "$1"; }
plain "$man1" >"$w/man1"
plain "$man3" >"$w/man3"

# ---- evstore(3) against the headers ------------------------------------------
hdrs=("$root/include/evstore.h" "$root/include/evstore_sqlite.h")
exported=$(grep -h '^EVS_API' "${hdrs[@]}" | grep -oE 'evs_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
inline=$(grep -h '^static inline' "${hdrs[@]}" | grep -oE 'evs_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
[ "$(wc -w <<<"$exported")" -ge 40 ]
verdict header_functions_found $? "only $(wc -w <<<"$exported") EVS_API functions found"
missing=()
for f in $exported $inline; do grep -qw -- "$f" "$w/man3" || missing+=("$f"); done
report man3_every_function "${missing[@]}"
missing=()
while read -r name value; do
  grep -qE "\\b$name\\b.*\\($value\\)" "$w/man3" || missing+=("$name($value)")
done < <(grep -hoE '^#define EVS_E[A-Z]+ +-[0-9]+' "${hdrs[@]}" | awk '{print $2, $3}')
report man3_every_error_code "${missing[@]}"
# The example compiles against the headers and runs (in memory it would
# not show the store; in a scratch directory it appends and acks one event).
awk '/^\.SH EXAMPLES/{e=1} e && /^\.nf/{p=1; next} p && /^\.fi/{exit} p' "$w/man3" >"$w/example.c"
if [ -s "$w/example.c" ] &&
   cc -std=c11 -Wall -Wextra -Werror -I"$root/include" "$w/example.c" "$B/libevstore.a" \
     -lzstd -lxxhash -lpthread -lm -o "$w/example" >"$w/cc.log" 2>&1; then
  pass man3_example_compiles
  out=$(cd "$w" && ./example 2>&1)
  if [ "$out" = '1 {"order_id":42}' ]; then pass man3_example_runs; else fail man3_example_runs "$out"; fi
else
  fail man3_example_compiles "$(cat "$w/cc.log" 2>/dev/null)"
fi

# ---- evstore(1) against the CLI's help ---------------------------------------
cli=$B/evstore
if [ ! -x "$cli" ]; then
  fail cli_built "no $cli"
else
  help=$("$cli" --help 2>&1)
  cmds=$(awk '/^Commands:/{f=1; next} f && /^  [a-z]/{print $1; next} f{exit}' <<<"$help")
  [ "$(wc -w <<<"$cmds")" -ge 10 ]
  verdict cli_commands_found $? "only: $cmds"
  # Each command is the bold head of an entry of COMMANDS.
  missing=()
  for c in $cmds; do
    awk '/^\.SH COMMANDS/{f=1; next} /^\.SH/{f=0} f' "$w/man1" | grep -qE "^(\.B $c\$|$c( |\$))" ||
      missing+=("$c")
  done
  report man1_every_command "${missing[@]}"
  # Every long option of --help and of each command's help.
  opts=$( { echo "$help"; for c in $cmds; do "$cli" help "$c" 2>&1; done; } |
    grep -oE -- '(^|[ [])--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+' | sort -u)
  missing=()
  for o in $opts; do grep -qE -- "$o\\b" "$w/man1" || missing+=("$o"); done
  report man1_every_option "${missing[@]}"
  missing=()
  while read -r code; do
    awk '/^\.SH EXIT STATUS/{f=1; next} /^\.SH/{f=0} f' "$w/man1" | grep -qx "\\.B $code" ||
      missing+=("$code")
  done < <(awk '/^Exit status:/{f=1; next} f && /^  [0-9]/{print $1; next} f{exit}' <<<"$help")
  report man1_every_exit_status "${missing[@]}"
fi

# ---- README, LICENSE ---------------------------------------------------------
if [ -s "$root/LICENSE" ] && grep -q '^MIT License' "$root/LICENSE" &&
   grep -q 'Copyright (c) 2026 The evstore authors' "$root/LICENSE"; then
  pass license_file
else
  fail license_file "LICENSE missing or not the MIT text"
fi
grep -qE '^## License' "$root/README.md" && grep -q 'MIT' "$root/README.md"
verdict readme_names_license $? "README.md has no License section naming MIT"
for f in README.md bench/README.md; do
  n=$(tr /. __ <<<"$f")
  hits=$(grep -nE '\.\./shared|WORKLOAD\.md|/work/' "$root/$f")
  [ -z "$hits" ]
  verdict "${n}_no_outside_refs" $? "$hits"
  hits=$(grep -niE "issue( #| [0-9]|'s)|#[0-9]+\\b" "$root/$f")
  [ -z "$hits" ]
  verdict "${n}_no_issue_refs" $? "$hits"
done
exit $status
