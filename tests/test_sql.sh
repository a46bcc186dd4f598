#!/usr/bin/env bash
# SQL-level tests of the evstore extension, run through the real sqlite3 shell.
#
#   tests/test_sql.sh BUILD_DIR            e.g. build, build/asan
#   tests/test_sql.sh BUILD_DIR NAME...    run only tests/sql/NAME.sql (NAME
#                                          ro_live: the two-process test)
#   UPDATE_EXPECTED=1 tests/test_sql.sh build [NAME...]
#                                          rewrite .expected files from the
#                                          output, printing what changed
#
# Each tests/sql/NAME.sql runs in a fresh temporary directory as
#   sqlite3 db.sqlite < NAME.sql 2>&1
# (errors are printed and execution continues), with every EVSTORE_SO in the
# script replaced by the absolute path of BUILD_DIR/evstore (no .so suffix)
# and every SQLITE3_BIN by the sqlite3 shell's path (for child processes
# started with .system).
# If NAME.2.sql, NAME.3.sql, ... exist they run afterwards, in order, as new
# sqlite3 processes in the same directory against the same db.sqlite (for
# reopen tests); a line "==== NAME.N.sql" separates their output.
# The merged output is normalised, then compared with NAME.expected:
#   the temporary directory      -> <DIR>
#   BUILD_DIR's absolute path    -> <BUILD>
#   2026-11-23T14:10:32.455171Z  -> <TS>
#   a 46-character cursor        -> <CURSOR>
#   a 16-digit created_us (1.7e15..1.9e15, i.e. 2023..2030) -> <US>
# Prints "PASS sql_NAME" or "FAIL sql_NAME" and the diff. The shell's exit
# status 1 only means a statement failed (many do on purpose); any other
# status (a crash, a timeout, a sanitizer report: exit 86) adds the line
# "==== sqlite3 exited with status N" to the output, so the test fails.
#
# With an ASan build (BUILD_DIR containing "asan") the extension cannot be
# dlopen'ed into the uninstrumented shell on its own: the ASan runtime is
# preloaded (LD_PRELOAD, found with clang -print-file-name) and leak checks
# are off (the shell itself does not free everything at exit).
# Expected files hold the CORRECT behaviour, also where the code is wrong
# today (edge.sql, limits.sql, memory.sql and drop.sql contain such lines):
# after UPDATE_EXPECTED=1, review the printed diff by eye and restore every
# line that shows a bug.
set -u
root=$(cd "$(dirname "$0")/.." && pwd -P)
sqldir=$root/tests/sql
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [NAME...]" >&2; exit 2; }
build=$1; shift
case $build in /*) ;; *) build=$root/$build ;; esac
build=$(cd "$build" 2>/dev/null && pwd -P) || { echo "FAIL sql_setup (no directory $1)"; exit 1; }
so=$build/evstore
sqlite=/usr/bin/sqlite3
[ -x "$sqlite" ] || sqlite=$(command -v sqlite3)

if [ ! -f "$so.so" ]; then
  echo "FAIL sql_setup ($so.so is missing: make B=${build#"$root"/} ${build#"$root"/}/evstore.so)"
  exit 1
fi

envs=()
case $build in
*asan*)
  rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)
  if [ -z "$rt" ] || [ ! -f "$rt" ]; then
    echo "skip: no ASan runtime to preload (libclang_rt.asan-x86_64.so); SQL tests not run for $build"
    exit 0
  fi
  envs=(LD_PRELOAD="$rt" ASAN_OPTIONS=detect_leaks=0:exitcode=86
        UBSAN_OPTIONS=print_stacktrace=1:exitcode=86)
  ;;
esac

# The cursor rule runs twice: two adjacent cursors ("c1|c2") share a separator.
normalise() { # $1 = the temp directory
  sed -E \
    -e "s#$1#<DIR>#g" \
    -e "s#$build#<BUILD>#g" \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z/<TS>/g' \
    -e 's/(^|[^0-9])1[78][0-9]{14}([^0-9]|$)/\1<US>\2/g' \
    -e 's/(^|[^0-9])1[78][0-9]{14}([^0-9]|$)/\1<US>\2/g' \
    -e 's/(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{46}([^A-Za-z0-9_-]|$)/\1<CURSOR>\2/g' \
    -e 's/(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{46}([^A-Za-z0-9_-]|$)/\1<CURSOR>\2/g'
}

names=("$@")
# The two-process test (below) runs with the whole suite or when named;
# decided before the suite fills in the names.
run_live=0
[ ${#names[@]} -eq 0 ] || [ "${names[*]}" != "${names[*]/ro_live/}" ] && run_live=1
if [ ${#names[@]} -eq 0 ]; then
  for f in "$sqldir"/*.sql; do
    b=$(basename "$f" .sql)
    case $b in *.[0-9]*) continue ;; esac
    names+=("$b")
  done
fi

status=0
for name in "${names[@]}"; do
  [ "$name" = ro_live ] && continue # below
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/evs-sql-XXXXXX")
  tmp=$(cd "$tmp" && pwd -P)
  out=$tmp.out
  (
    cd "$tmp" || exit 1
    step=1
    while :; do
      if [ $step -eq 1 ]; then f=$sqldir/$name.sql; else f=$sqldir/$name.$step.sql; fi
      [ -f "$f" ] || break
      [ $step -gt 1 ] && echo "==== $name.$step.sql"
      sed -e "s#EVSTORE_SO#$so#g" -e "s#SQLITE3_BIN#$sqlite#g" "$f" >"$tmp.sql"
      env "${envs[@]}" timeout 60 "$sqlite" db.sqlite <"$tmp.sql" 2>&1
      rc=$?
      # 1 only means some statement failed; more is a crash or a timeout.
      [ $rc -gt 1 ] && echo "==== sqlite3 exited with status $rc"
      step=$((step + 1))
    done
  ) | normalise "$tmp" >"$out"
  exp=$sqldir/$name.expected
  if [ "${UPDATE_EXPECTED:-0}" = 1 ]; then
    if [ -f "$exp" ] && cmp -s "$exp" "$out"; then
      echo "UNCHANGED sql_$name"
    else
      echo "UPDATED sql_$name"
      [ -f "$exp" ] && diff -u --label "$name.expected (old)" --label "$name.expected (new)" "$exp" "$out"
      cp "$out" "$exp"
    fi
  elif diff -u --label "$name.expected" --label "$name (actual)" "$exp" "$out" >"$out.diff" 2>&1; then
    echo "PASS sql_$name"
  else
    echo "FAIL sql_$name"
    cat "$out.diff"
    status=1
  fi
  rm -rf "$tmp" "$tmp.sql" "$out" "$out.diff"
done

# ---- two processes: a writer and a mode='ro' reader ---------------------------
# Runs with the whole suite, or when asked for as NAME ro_live. Two sqlite3
# shells stay up, each reading its statements from a FIFO: the writer holds
# the store open (its table is rw), the reader's mode='ro' table sees each
# commit of the writer at its next SELECT, and a rw table in the reader's
# process is refused as locked, with a hint at mode='ro'.
if [ $run_live = 1 ]; then
  lt=$(mktemp -d "${TMPDIR:-/tmp}/evs-sql-live-XXXXXX")
  lt=$(cd "$lt" && pwd -P)
  mkfifo "$lt/w.in" "$lt/r.in"
  (cd "$lt" && exec env "${envs[@]}" timeout 120 "$sqlite" w.db <w.in >w.out 2>&1) &
  wpid=$!
  (cd "$lt" && exec env "${envs[@]}" timeout 120 "$sqlite" r.db <r.in >r.out 2>&1) &
  rpid=$!
  exec 5>"$lt/w.in" 6>"$lt/r.in"
  nmark=0
  # say FD FILE SQL: send SQL to a shell and wait until it has run it.
  say() {
    local fd=$1 f=$2 i
    nmark=$((nmark + 1))
    printf '%s\nSELECT '"'"'mark %d'"'"';\n' "$3" "$nmark" >&"$fd"
    for i in $(seq 400); do
      grep -qx "mark $nmark" "$lt/$f" && return 0
      sleep 0.05
    done
    return 1
  }
  ok=1
  say 5 w.out ".load $so
.headers off
CREATE VIRTUAL TABLE inbox USING evstore(dir='st');
INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{\"n\":1}'), ('s', 't', '{\"n\":2}');" || ok=0
  say 6 r.out ".load $so
.headers off
CREATE VIRTUAL TABLE rw USING evstore(dir='st');
CREATE VIRTUAL TABLE ro USING evstore(dir='st', mode='ro');
SELECT 'step1', count(*), max(id) FROM ro;" || ok=0
  say 5 w.out "INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{\"n\":3}');
UPDATE inbox SET status = 'acknowledged' WHERE id = 1;" || ok=0
  say 6 r.out "SELECT 'step2', count(*), max(id), sum(status = 'pending') FROM ro;
SELECT 'stats', json_extract(evstore_stats('ro'), '\$.pending');" || ok=0
  say 5 w.out "BEGIN; INSERT INTO inbox(source, event_type, payload) VALUES ('s', 't', '{\"n\":4}');" || ok=0
  say 6 r.out "SELECT 'step3', count(*) FROM ro;
INSERT INTO ro(source, event_type, payload) VALUES ('s', 't', '{}');" || ok=0
  say 5 w.out "COMMIT;" || ok=0
  say 6 r.out "SELECT 'step4', count(*), max(id) FROM ro;" || ok=0
  exec 5>&- 6>&-
  wait $wpid; wrc=$?
  wait $rpid; rrc=$?
  [ $wrc -le 1 ] && [ $rrc -le 1 ] || ok=0
  exp="step1|2|2
step2|3|3|2
stats|2
step3|3
Runtime error: evstore table ro is read-only (mode='ro') (8)
step4|4|4"
  got=$(grep -vE '^mark [0-9]+$' "$lt/r.out" | grep -v '^Runtime error near line [0-9]*: evstore: store st is locked' |
    sed -E 's/^Runtime error near line [0-9]+:/Runtime error:/')
  # The rw table of the reader's process: refused as locked, naming mode='ro'.
  grep -q "locked.*a table declared with mode='ro' reads it beside that writer" "$lt/r.out" || ok=0
  if [ $ok = 1 ] && [ "$got" = "$exp" ] && ! grep -qv '^mark [0-9]*$' "$lt/w.out"; then
    echo "PASS sql_ro_live"
  else
    echo "FAIL sql_ro_live (writer exit $wrc, reader exit $rrc)"
    diff -u <(echo "$exp") <(echo "$got") | sed 's/^/    /'
    sed 's/^/    writer: /' "$lt/w.out"
    sed 's/^/    reader: /' "$lt/r.out"
    status=1
  fi
  rm -rf "$lt"
fi
exit $status
