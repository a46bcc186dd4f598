#!/usr/bin/env bash
# The evstore command-line tool, run for real against one build:
#
#   tests/test_cli.sh BUILD_DIR        e.g. build, build/asan
#
# Every command, its error paths and exit codes, import/export round trips
# (payload and metadata byte for byte), paging loops, the progress display
# (shown on a terminal made by script(1), never when piped) and a store
# locked by another process. Prints "PASS cli_NAME" or "FAIL cli_NAME: why"
# followed by the run's stdout and stderr. With a sanitizer build, any
# sanitizer report (exit 86) is a failure of its own.
set -u
shopt -s lastpipe # `printf ... | ev ...` sets $rc in this shell
root=$(cd "$(dirname "$0")/.." && pwd -P)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
build=$1
case $build in /*) ;; *) build=$root/$build ;; esac
cli=$build/evstore
if [ ! -x "$cli" ]; then
  echo "FAIL cli_setup ($cli is missing: make B=$1 $1/evstore)"
  exit 1
fi
export ASAN_OPTIONS=exitcode=86 LSAN_OPTIONS=exitcode=86
export UBSAN_OPTIONS=print_stacktrace=1:exitcode=86
w=$(mktemp -d "${TMPDIR:-/tmp}/evs-cli-XXXXXX")
w=$(cd "$w" && pwd -P)
trap 'exec 7>&- 2>/dev/null; rm -rf "$w"' EXIT
status=0
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'

pass() { echo "PASS cli_$1"; }
fail() {
  echo "FAIL cli_$1: $2"
  head -c 2000 "$w/out" | sed 's/^/    out: /'
  head -c 2000 "$w/err" | sed 's/^/    err: /'
  status=1
}
sanitizer_check() { # FILE RC ARGS...
  local f=$1 code=$2
  shift 2
  if [ "$code" = 86 ] || grep -qE 'Sanitizer|runtime error:' "$f" 2>/dev/null; then
    echo "FAIL cli_sanitizer: evstore $*"
    sed 's/^/    /' "$f"
    status=1
  fi
}
# ev ARGS...: run the CLI; stdout in $w/out, stderr in $w/err, status in $rc.
ev() {
  "$cli" "$@" >"$w/out" 2>"$w/err"
  rc=$?
  sanitizer_check "$w/err" "$rc" "$@"
}
# expect NAME STATUS [STDOUT_ERE [STDERR_ERE]]: judge the last ev.
expect() {
  local name=$1 code=$2 o=${3:-} e=${4:-}
  if [ "$rc" != "$code" ]; then fail "$name" "exit $rc, expected $code"
  elif [ -n "$o" ] && ! grep -qE -- "$o" "$w/out"; then fail "$name" "stdout does not match /$o/"
  elif [ -n "$e" ] && ! grep -qE -- "$e" "$w/err"; then fail "$name" "stderr does not match /$e/"
  else pass "$name"; fi
}
# error NAME STATUS STDERR_ERE: a failure with nothing on stdout and the
# message on stderr as "evstore: ...".
error() {
  local name=$1 code=$2 e=$3
  if [ "$rc" != "$code" ]; then fail "$name" "exit $rc, expected $code"
  elif [ -s "$w/out" ]; then fail "$name" "stdout is not empty"
  elif ! grep -qE -- "^evstore: .*$e" "$w/err"; then fail "$name" "stderr does not match /$e/"
  else pass "$name"; fi
}
# COND; verdict NAME: passes when COND (any list of commands) succeeded.
verdict() {
  if [ $? = 0 ]; then pass "$1"; else fail "$1" "condition false"; fi
}
check() { # NAME COMMAND...: passes when the command succeeds
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name" "failed: $*"; fi
}
# The last run's stdout with times replaced by <TS>.
norm() { sed -E "s/$TS/<TS>/g" "$w/out"; }
# The event ids in the last run's stdout, space separated.
ids() { sed -nE 's/^\{"event_id":([0-9]+),.*/\1/p' "${1:-$w/out}" | tr '\n' ' '; }
field() { # NAME [FILE]: the value of "NAME":... on the last line
  tail -n 1 "${2:-$w/out}" | sed -E "s/.*\"$1\":(\"[^\"]*\"|[^,}]*).*/\1/"
}

# ---- help -------------------------------------------------------------------
ev --help
expect help 0 '^Exit status:' 
ok=1
for c in append import get inbox dead ack delete stats verify compact export claim renew release reject redrive; do
  grep -qE "^  $c +[a-z]" "$w/out" || ok=0
done
check help_lists_every_command [ $ok = 1 ]
for c in append import get inbox dead ack delete stats verify compact export claim renew release reject redrive; do
  ok=1
  for form in "help $c" "$c --help" "$w/nostore $c --help" "$w/nostore $c -h"; do
    # shellcheck disable=SC2086
    ev $form
    [ $rc = 0 ] && grep -q "^usage: evstore DIR $c" "$w/out" || ok=0
  done
  [ $ok = 1 ] && [ ! -e "$w/nostore" ]; verdict "help_$c"
done
ev --version
expect version 0 '^evstore [0-9]+\.[0-9]+\.[0-9]+ \(library [0-9.]+\)$'
ev help frobnicate
error help_unknown_command 1 "unknown command 'frobnicate'"

# ---- usage errors (exit 1); none of them may create the store ----------------
s=$w/store
ev
error usage_no_arguments 1 'missing DIR'
ev "$s"
error usage_no_command 1 'missing COMMAND'
ev "$s" frobnicate
error usage_unknown_command 1 "unknown command 'frobnicate'"
ev "$s" stats --bogus
error usage_unknown_option 1 "unknown option '--bogus'"
ev "$s" get --limit 5 1
error usage_option_of_another_command 1 'get does not take --limit'
ev --source x "$s" stats
error usage_command_option_before_command 1 '--source must come after the command'
ev "$s" inbox --limit
error usage_missing_value 1 '--limit needs a value'
ev "$s" export --all=yes
error usage_flag_with_value 1 '--all takes no value'
ev --sync sometimes "$s" stats
error usage_bad_sync 1 "--sync must be off, normal or full"
ev "$s" stats --retention 5x
error usage_bad_retention 1 "--retention '5x' is not a duration"
ev "$s" stats --idempotency-window 0s
error usage_bad_window 1 "--idempotency-window '0s' is not a duration"
ev "$s" stats --retention +7d
error usage_bad_retention_sign 1 "--retention '\\+7d' is not a duration"
ev "$s" stats --max-payload 0
error usage_bad_max_payload 1 "--max-payload '0'"
for l in 0 101 x -1; do
  ev "$s" inbox --limit "$l"
  error "usage_bad_limit_$l" 1 '--limit must be 1..100'
done
for t in yesterday 2026-02-30T00:00:00Z 2026-11-23T10:00:00 2026-11-23T24:00:00Z \
         2026-11-23T10:00:00.Z 1969-12-31T23:59:59Z; do
  ev "$s" inbox --since "$t"
  error "usage_bad_time_$t" 1 "--since '$t' is not a time"
done
ev "$s" inbox --until x
error usage_bad_until 1 "--until 'x' is not a time"
ev "$s" stats extra
error usage_extra_argument 1 "unexpected argument 'extra'"
ev "$s" get
error usage_get_without_id 1 'missing argument'
ev "$s" get x1
error usage_bad_id 1 "'x1' is not an event id"
ev "$s" ack 99999999999999999999
error usage_id_overflow 1 "is not an event id"
ev "$s" append -t t '{}'
error usage_append_without_source 1 '--source is required'
ev "$s" append -s s '{}'
error usage_append_without_type 1 '--type is required'
ev "$s" append -s s -t t -p urgent '{}'
error usage_bad_priority 1 '--priority must be low, normal or high'
ev "$s" append -s s -t t '{}' '{}'
error usage_two_payloads 1 "unexpected argument"
ev "$s" export --all --pending
error usage_all_and_pending 1 'one of --all, --pending and --status'
ev "$s" import
error usage_import_without_file 1 'missing argument'
check usage_errors_create_nothing [ ! -e "$s" ]

# ---- a store that does not exist (exit 2, and it is not created) ------------
for cmd in "get 1" inbox "ack 1" "delete 1" stats verify export; do
  # shellcheck disable=SC2086
  ev "$w/nothere" $cmd
  error "missing_store_${cmd%% *}" 2 'no such store'
done
check missing_store_not_created [ ! -e "$w/nothere" ]
mkdir "$w/empty"
ev "$w/empty" stats
error not_a_store 2 'is not an evstore store'
check not_a_store_left_alone [ -z "$(ls -A "$w/empty")" ]
: >"$w/plainfile"
ev "$w/plainfile" inbox
error store_is_a_file 2 'not a directory'

# ---- append and get ---------------------------------------------------------
ev "$s" append --source stripe --type invoice.paid "{\"invoice\": \"in_1\",	\"total\" : 1999 }"
expect append 0 "^\\{\"event_id\":1,\"created_at\":\"$TS\",\"duplicate\":false\\}$"
check append_created_store [ -f "$s/evstore.meta" ]
ev "$s" get 1
check get_prints_every_field [ "$(norm)" = '{"event_id":1,"created_at":"<TS>","source":"stripe","event_type":"invoice.paid","payload":{"invoice": "in_1",	"total" : 1999 },"metadata":null,"status":"pending","acknowledged_at":null,"priority":"normal","idempotency_key":null}' ]
printf '{"from":"stdin"}\n' | ev "$s" append -s s -t t -
expect append_stdin_dash 0 '"event_id":2,'
printf '{"from": "stdin, no dash"}\r\n' | ev "$s" append -s s -t t
expect append_stdin_default 0 '"event_id":3,'
ev "$s" get 2 3
check append_stdin_drops_final_line_break [ "$(norm)" = '{"event_id":2,"created_at":"<TS>","source":"s","event_type":"t","payload":{"from":"stdin"},"metadata":null,"status":"pending","acknowledged_at":null,"priority":"normal","idempotency_key":null}
{"event_id":3,"created_at":"<TS>","source":"s","event_type":"t","payload":{"from": "stdin, no dash"},"metadata":null,"status":"pending","acknowledged_at":null,"priority":"normal","idempotency_key":null}' ]
printf '{\n  "a": [1,\n\t2]\n}\n' >"$w/multiline.json"
ev "$s" append -s s -t multi - <"$w/multiline.json"
expect append_multiline_payload 0 '"event_id":4,'
ev "$s" get 4
check get_multiline_payload_verbatim [ "$(norm)" = "$(printf '{"event_id":4,"created_at":"<TS>","source":"s","event_type":"multi","payload":{\n  "a": [1,\n\t2]\n},"metadata":null,"status":"pending","acknowledged_at":null,"priority":"normal","idempotency_key":null}')" ]
ev "$s" append -s app -t order.created -k evt_1 -p high -m '{"ip": "10.0.0.1"}' '{"n":1}'
expect append_with_key 0 '"event_id":5,.*"duplicate":false'
created5=$(field created_at)
ev "$s" append -s app -t order.created -k evt_1 '{"n":2}'
expect append_duplicate_key 0 "^\\{\"event_id\":5,\"created_at\":$created5,\"duplicate\":true\\}$"
ev "$s" get 5
check get_key_priority_metadata [ "$(norm)" = '{"event_id":5,"created_at":"<TS>","source":"app","event_type":"order.created","payload":{"n":1},"metadata":{"ip": "10.0.0.1"},"status":"pending","acknowledged_at":null,"priority":"high","idempotency_key":"evt_1"}' ]
ev "$s" append -s s -t t '{"a":'
error append_bad_json 4 'payload: invalid JSON at byte'
ev "$s" append -s s -t t -m '[1]' '{}'
error append_bad_metadata 4 'metadata: invalid JSON'
ev --max-payload 10 "$w/small" append -s s -t t '{"aaaaaaaaaa":1}'
error append_too_big 4 'payload is 16 bytes, limit is 10'
check append_too_big_creates_no_store [ ! -e "$w/small" ]
ev --max-payload 10 "$w/small" append -s s -t t '{"a":1}'
expect append_creates_store_with_limit 0 '"event_id":1,'
ev "$w/small" config
expect config_recorded_at_creation 0 '"max_payload":10,'
ev --max-payload 10 "$w/small" append -s s -t t '{"b":1}'
expect same_setting_is_fine 0 '"event_id":2,'
ev "$w/small" append -s s -t t '{"aaaaaaaaaa":1}'
error recorded_limit_applies 4 'payload is 16 bytes, limit is 10'
ev --max-payload 100 "$w/small" append -s s -t t '{"aaaaaaaaaa":1}'
error other_setting_refused 1 'max_payload is a setting of the store'
ev "$s" append -s ' ' -t t '{}'
error append_empty_source 4 'source is empty'
printf '' | ev "$s" append -s s -t t
error append_empty_stdin 4 'payload: invalid JSON at byte 0'
# A command that fails before storing anything leaves nothing behind: a
# DIR it made is removed, an empty DIR it was given is left empty, and a
# directory that held something is not touched.
ev "$w/new1" append -s s -t t '{bad'
error append_invalid_new_dir 4 'payload: invalid JSON'
check append_invalid_creates_no_dir [ ! -e "$w/new1" ]
ev "$w/new1" append -s ' ' -t t '{}'
[ $rc = 4 ] && [ ! -e "$w/new1" ]; verdict append_bad_source_creates_no_dir
mkdir "$w/new2"
ev "$w/new2" append -s s -t t '{bad'
[ $rc = 4 ] && [ -d "$w/new2" ] && [ -z "$(ls -A "$w/new2")" ]; verdict append_invalid_empty_dir_stays_empty
mkdir "$w/new3" && echo keep >"$w/new3/mine"
ev "$w/new3" append -s s -t t '{bad'
[ $rc = 4 ] && [ "$(cat "$w/new3/mine")" = keep ]; verdict append_invalid_keeps_others_dir
ev "$w/new1" append -s s -t t '{}'
ev "$w/new1" append -s s -t t '{bad'
[ $rc = 4 ] && [ -e "$w/new1/evstore.meta" ]; verdict append_invalid_existing_store_kept
ev "$w/new1" get 1
expect append_invalid_existing_store_intact 0 '^\{"event_id":1,'
ev "$s" get 999
error get_unknown_id 2 'event 999 not found'
ev "$s" get 1 999 2
expect get_some_unknown 2 '^\{"event_id":2,' 'event 999 not found'
check get_some_unknown_prints_the_others [ "$(ids)" = "1 2 " ]
ev "$s" get 0
error get_id_zero 2 'not found'
ev --sync full "$s" append -s s -t synced '{}'
expect append_sync_full 0 '"event_id":6,'
ev "$s" stats --retention 7d --idempotency-window 24h --max-payload 409600
expect global_options_after_command 0 '"next_id":7'
ev "$s" stats --retention forever
error setting_not_changed_by_option 1 'retention is a setting of the store'
ev "$s" config
expect config_shows 0 '^\{"retention_us":604800000000,"idempotency_window_us":86400000000,"max_payload":409600,"max_metadata":8192,"compress_threshold":1024,"compress_level":1,"dict_compress":false,"segment_size":67108864,"max_deliveries":5\}$'
ev "$s" config retention=5x
error config_bad_value 1 "bad value for retention: '5x'"
ev "$s" config colour=blue
error config_unknown_key 1 "unknown setting 'colour'"
ev "$s" config nothing
error config_not_key_value 1 "'nothing' is not KEY=VALUE"
ev "$s" config max_metadata=70000
error config_out_of_range 1 'max_metadata 70000 is over 65535'
sleep 0.01
ev "$s" config retention=1ms
expect config_sets 0 '"retention_us":1000,'
ev "$s" get 6
error retention_hides_old_events 2 'event 6 not found'
ev "$s" config retention=7d idempotency_window=forever
expect config_sets_two 0 '"retention_us":604800000000,"idempotency_window_us":-1,'
ev "$s" get 6
expect retention_setting_back 0 '"event_id":6,'
# The one duration grammar (evs_duration_parse), as in SQL: "0" is
# forever, "us" a unit.
ev "$s" config idempotency_window=1500us
expect config_duration_us 0 '"idempotency_window_us":1500,'
ev "$s" config idempotency_window=0
expect config_duration_zero_is_forever 0 '"idempotency_window_us":-1,'
ev "$s" config idempotency_window=24h
expect config_window_back 0 '"idempotency_window_us":86400000000,'

# ---- inbox: pages, cursors, filters, times ----------------------------------
p=$w/paging
ok=1
for i in $(seq 1 12); do
  src=a; [ $((i % 3)) = 0 ] && src=b
  "$cli" "$p" append -s $src -t type$((i % 2)) "{\"i\":$i}" >/dev/null || ok=0
done
check paging_setup [ $ok = 1 ]
ev "$p" inbox
expect inbox_default 0 '^\{"next_cursor":"[A-Za-z0-9_-]+","more":false\}$'
check inbox_oldest_first [ "$(ids)" = "1 2 3 4 5 6 7 8 9 10 11 12 " ]
check inbox_cursor_is_last_line [ "$(wc -l <"$w/out")" = 13 ]
all=""; cursor=""; pages=0
while :; do
  if [ -n "$cursor" ]; then ev "$p" inbox --limit 5 --cursor "$cursor"; else ev "$p" inbox -n 5; fi
  [ $rc = 0 ] || break
  all="$all$(ids)"; pages=$((pages + 1))
  cursor=$(field next_cursor | tr -d '"')
  [ "$(field more)" = true ] && [ $pages -lt 10 ] || break
done
[ "$all" = "1 2 3 4 5 6 7 8 9 10 11 12 " ] && [ $pages = 3 ]; verdict inbox_pages_with_cursor
ev "$p" inbox --cursor "$cursor"
[ "$(ids)" = "" ] && [ "$(field more)" = false ]; verdict inbox_after_last_page_empty
# The loop documented in `evstore help inbox` (its ack is tested below).
(
  cd "$w" || exit 1
  n=0 # a bound, so a cursor file that does not advance fails rather than hangs
  while "$cli" "$p" inbox --limit 5 --cursor-file pos >page.jsonl && [ -s page.jsonl ]; do
    cat page.jsonl >>loop.jsonl
    n=$((n + 1))
    [ $n -lt 10 ] || break
  done
)
check inbox_cursor_file_loop [ "$(ids "$w/loop.jsonl")" = "1 2 3 4 5 6 7 8 9 10 11 12 " ]
check inbox_cursor_file_holds_cursor grep -qE '^[A-Za-z0-9_-]+$' "$w/pos"
check inbox_cursor_file_no_cursor_line [ "$(grep -c next_cursor "$w/loop.jsonl")" = 0 ]
ev "$p" inbox --source b
check inbox_source_filter [ "$(ids)" = "3 6 9 12 " ]
ev "$p" inbox --type type0
check inbox_type_filter [ "$(ids)" = "2 4 6 8 10 12 " ]
ev "$p" inbox -s a -t type1 --limit 2
[ "$(ids)" = "1 5 " ] && [ "$(field more)" = true ]; verdict inbox_both_filters
c_a=$(field next_cursor | tr -d '"')
ev "$p" inbox -s a -t type1 --cursor "$c_a"
check inbox_filtered_next_page [ "$(ids)" = "7 11 " ]
# An empty name (after trimming) is refused, as append refuses one: an
# empty page would look like an empty inbox.
ev "$p" inbox --source ''
error inbox_empty_source 4 'source filter is empty'
ev "$p" inbox --type ' '
error inbox_empty_type 4 'event_type filter is empty'
ev "$p" export --all --source $'\t'
error export_empty_source 4 'source filter is empty'
ev "$p" inbox -s b --cursor "$c_a"
error cursor_for_other_filter 4 'cursor'
ev "$p" inbox --cursor AAAAnot-a-cursor
error bad_cursor 4 'cursor'
echo junk >"$w/badpos"
ev "$p" inbox --cursor-file "$w/badpos"
error bad_cursor_file 4 'cursor'
check bad_cursor_file_unchanged [ "$(cat "$w/badpos")" = junk ]
# A valid cursor padded past the read buffer, then junk: not a cursor file
# (read cut short, it would have passed for the cursor).
{ printf '%s%300s' "$c_a" ''; echo junk; } >"$w/longpos"
ev "$p" inbox -s a -t type1 --cursor-file "$w/longpos"
error long_cursor_file 4 'is not a cursor file'
"$cli" "$p" get 4 >"$w/e4"
t4=$(sed -E 's/.*"created_at":"([^"]*)".*/\1/' "$w/e4")
us4=$(date -u -d "$t4" +%s%6N)
ev "$p" inbox --since "$t4"
check since_is_exclusive [ "$(ids)" = "5 6 7 8 9 10 11 12 " ]
ev "$p" inbox --until "$t4"
check until_is_exclusive [ "$(ids)" = "1 2 3 " ]
ev "$p" inbox --since "$us4" --until $((us4 + 1))
[ "$(ids)" = "" ] && [ $rc = 0 ]; verdict times_as_microseconds
ev "$p" inbox --since $((us4 - 1)) --until $((us4 + 1))
check microsecond_window [ "$(ids)" = "4 " ]
plus2=$(TZ=UTC-2 date -d "$t4" +%Y-%m-%dT%H:%M:%S.%6N+02:00)
ev "$p" inbox --since "$plus2"
check time_with_offset [ "$(ids)" = "5 6 7 8 9 10 11 12 " ]
ev "$p" inbox --since 2000-01-01 --until "2000-01-01T01:00:00.5+01:00"
[ "$(ids)" = "" ] && [ $rc = 0 ]; verdict time_date_only_and_fraction
ev "$p" inbox --since 2000-01-01T00:00:00Z --limit 1
check time_far_past [ "$(ids)" = "1 " ]

# ---- every filter of evs_query -----------------------------------------------
f=$w/filters
"$cli" "$f" append -s a -t t -p high -m '{"ip":"10.0.0.1","n":5}' '{}' >/dev/null
"$cli" "$f" append -s a -t t '{}' >/dev/null
"$cli" "$f" append -s b -t t -p low -m '{"ip":"10.0.0.2"}' '{}' >/dev/null
"$cli" "$f" append -s b -t t -m '{"ip":"10.0.0.1"}' '{}' >/dev/null
"$cli" "$f" ack 2 >/dev/null
ev "$f" inbox --priority high
expect inbox_priority 0 '"priority":"high"'
check inbox_priority_ids [ "$(ids)" = "1 " ]
ev "$f" inbox -p normal
check inbox_priority_normal [ "$(ids)" = "4 " ]
ev "$f" inbox --meta ip=10.0.0.1
check inbox_meta_string [ "$(ids)" = "1 4 " ]
ev "$f" inbox --meta n=5
check inbox_meta_number [ "$(ids)" = "1 " ]
ev "$f" inbox --status acknowledged
check inbox_status_acknowledged [ "$(ids)" = "2 " ]
ev "$f" inbox --status any --descending
check inbox_status_any_descending [ "$(ids)" = "4 3 2 1 " ]
ev "$f" inbox --min-id 2 --max-id 3
check inbox_id_bounds [ "$(ids)" = "3 " ]
ev "$f" export --status any --min-id 2 --max-id 3 --descending
check export_all_filters [ "$(ids)" = "3 2 " ]
ev "$f" export --status acknowledged
check export_status_acknowledged [ "$(ids)" = "2 " ]
ev "$f" inbox --status any --descending --limit 2
c_desc=$(field next_cursor | tr -d '"')
ev "$f" inbox --status any --descending --limit 2 --cursor "$c_desc"
check inbox_descending_pages [ "$(ids)" = "2 1 " ]
ev "$f" inbox --status any --limit 2 --cursor "$c_desc"
error inbox_cursor_binds_order 4 'cursor'
ev "$f" inbox -p high --limit 1
c_high=$(field next_cursor | tr -d '"')
ev "$f" inbox -p low --cursor "$c_high"
error inbox_cursor_binds_priority 4 'cursor was issued for a different filter'
ev "$f" inbox --meta ip
error usage_meta_not_key_value 1 "--meta 'ip' is not KEY=VALUE"
ev "$f" inbox --status finished
error usage_bad_status 1 "--status must be pending, acknowledged, leased, dead, delayed, claimable or any"
ev "$f" inbox --min-id 0
error usage_bad_min_id 1 "--min-id '0' is not an event id"
ev "$f" inbox -p urgent
error usage_bad_priority_filter 1 "--priority must be low, normal or high"
ev "$f" export --all --status any
error usage_export_status_and_all 1 'one of --all, --pending and --status'

# ---- ack and delete ---------------------------------------------------------
ev "$s" ack 1
expect ack 0 "^\\{\"event_id\":1,\"acknowledged_at\":\"$TS\"\\}$"
ev "$s" ack 1
error ack_twice_conflict 3 'event 1 is already acknowledged \(at '
ev "$s" ack 999
error ack_unknown_id 2 'event 999 not found'
ev "$s" ack 2 999 1 3
expect ack_mixed_first_failure_wins 2 '"event_id":3,' 'event 999 not found'
check ack_mixed_reports_both grep -q 'event 1 is already acknowledged' "$w/err"
check ack_mixed_acks_the_others [ "$(ids)" = "2 3 " ]
ev "$s" get 2 3
check ack_recorded [ "$(grep -cE "\"status\":\"acknowledged\",\"acknowledged_at\":\"$TS\"" "$w/out")" = 2 ]
ev "$s" ack 1 999
error ack_conflict_first 3 'already acknowledged'
echo "4 abc" | ev "$s" ack -
error ack_stdin_bad_id 1 "standard input:1: 'abc' is not an event id"
printf '4\n\n{"event_id":5,"payload":{}}\n{"event_id":"5"}\n' | ev "$s" ack -
error ack_stdin_bad_json_line_numbered 1 'standard input:4: "event_id" is not an event id'
printf '4\n{"event_id":5,\n' | ev "$s" ack -
error ack_stdin_unclosed_json_line 1 'standard input:2: JSON object not closed at the end'
printf '4\n{"event_id":5,]\n' | ev "$s" ack -
error ack_stdin_broken_json_line 1 'standard input:2: invalid JSON: '
printf '{"event_id":5,\n"a":[1,\n2]]}\n' | ev "$s" ack -
error ack_stdin_broken_json_continued 1 'standard input:1: invalid JSON: '
printf '{"payload":{"event_id":5}}\n' | ev "$s" ack -
error ack_stdin_json_without_id 1 'standard input:1: a JSON object without "event_id"'
ev "$s" ack abc
error ack_bad_id_same_status_on_command_line 1 "'abc' is not an event id"
ev "$s" get 4
check ack_bad_input_acks_nothing grep -q '"status":"pending"' "$w/out"
printf '4\n 5\t\n' | ev "$s" ack -
expect ack_ids_from_stdin 0 '"event_id":5,'
check ack_ids_from_stdin_both [ "$(ids)" = "4 5 " ]
ev "$s" inbox
check inbox_after_acks [ "$(ids)" = "6 " ]
ev "$s" delete 6
expect delete 0 '^\{"event_id":6,"deleted":true\}$'
ev "$s" get 6
error deleted_event_gone 2 'event 6 not found'
ev "$s" delete 6
error delete_unknown_id 2 'event 6 not found'
ev "$s" delete --force 6 1
expect delete_force 0 '^\{"event_id":6,"deleted":false\}$'
check delete_force_deletes_the_rest grep -q '^{"event_id":1,"deleted":true}$' "$w/out"
ev "$s" delete 5
ev "$s" append -s app -t order.created -k evt_1 '{"n":3}'
expect delete_forgets_key 0 '"event_id":7,.*"duplicate":false'
# The inbox page piped into ack, as in the help; the ack runs after the
# inbox process has closed the store.
"$cli" "$p" inbox --source b --cursor-file "$w/pos_b" | sed -nE 's/^\{"event_id":([0-9]+),.*/\1/p' |
  "$cli" "$p" ack - >"$w/out" 2>"$w/err"
rc=$?
[ $rc = 0 ] && [ "$(ids)" = "3 6 9 12 " ]; verdict inbox_piped_into_ack
# The page's JSON lines themselves, the cursor line included, as in
# `evstore DIR inbox | evstore DIR ack -`: exactly the page, no more.
q=$w/pipe
for i in 1 2 3 4 5 6; do "$cli" "$q" append -s s -t t "{\"i\":$i}" >/dev/null; done
"$cli" "$q" inbox --limit 2 >"$w/page"
"$cli" "$q" ack - <"$w/page" >"$w/out" 2>"$w/err"
rc=$?
[ $rc = 0 ] && [ "$(ids "$w/page")" = "1 2 " ] && [ "$(ids)" = "1 2 " ] &&
  [ "$(wc -l <"$w/out")" = 2 ]; verdict inbox_json_piped_into_ack
"$cli" "$q" inbox --limit 2 | "$cli" "$q" ack - >"$w/out" 2>"$w/err"
rc=$?
[ $rc = 0 ] && [ "$(ids)" = "3 4 " ]; verdict inbox_pipe_ack_next_page
# get's and export's lines, and ack's own, into delete - and ack -.
"$cli" "$q" get 1 3 | "$cli" "$q" delete - >"$w/out" 2>"$w/err"
rc=$?
[ $rc = 0 ] && [ "$(ids)" = "1 3 " ]; verdict get_json_piped_into_delete
"$cli" "$q" export | "$cli" "$q" ack - | "$cli" "$q" delete - >"$w/out" 2>"$w/err"
rc=$?
"$cli" "$q" export --all >"$w/rest"
[ $rc = 0 ] && [ "$(ids)" = "5 6 " ] && [ "$(ids "$w/rest")" = "2 4 " ]
verdict export_ack_delete_pipeline
# A payload with line breaks: export continues the object on the next
# lines, and delete - reads it whole.
"$cli" "$q" append -s s -t t "$(printf '{"a":\n 1,\n "b": 2}')" >/dev/null
"$cli" "$q" export >"$w/multi"
"$cli" "$q" delete - <"$w/multi" >"$w/out" 2>"$w/err"
rc=$?
[ "$(wc -l <"$w/multi")" -gt 1 ] && [ $rc = 0 ] && [ "$(ids)" = "7 " ]
verdict export_multiline_payload_into_delete

# ---- stdout and stderr to one file ------------------------------------------
# Every message follows the whole lines printed before it: with 2>&1 the
# file reads event 1, the error, event 2 (payloads past stdio's buffer, so
# an unflushed line would be cut by the message).
big=$(head -c 6000 /dev/zero | tr '\0' x)
m=$w/mixed
"$cli" "$m" append -s s -t t "{\"a\":\"$big\"}" >/dev/null
"$cli" "$m" append -s s -t t "{\"b\":\"$big\"}" >/dev/null
"$cli" "$m" get 1 99999 2 >"$w/out" 2>&1
rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$w/out")" = 3 ] &&
  sed -n 1p "$w/out" | grep -q '^{"event_id":1,.*}$' &&
  [ "$(sed -n 2p "$w/out")" = "evstore: get: event 99999 not found" ] &&
  sed -n 3p "$w/out" | grep -q '^{"event_id":2,.*}$'; verdict stdout_flushed_before_stderr

# ---- stats and verify -------------------------------------------------------
ev "$s" stats
expect stats 0 '^\{"pending":1,"acknowledged":3,"leased":0,"dead":0,"delayed":0,"next_id":8,"segments":1,"disk_bytes":[0-9]+,"payload_bytes":[0-9]+,"payload_stored_bytes":[0-9]+,"compression_ratio":[0-9.]+,"oldest_pending_us":[0-9]+,"oldest_pending_at":"'"$TS"'","oldest_pending_age_us":[0-9]+,"index_bytes":[0-9]+,"recovered_bytes_dropped":0,"recovered_records_dropped":0,"checkpoint_state":[0-9],"open_replayed_bytes":[0-9]+,"checkpoints_written":[0-9]+,"log_bytes_since_checkpoint":[0-9]+,"compactions":0,"compact_removed_events":0,"maintenance_error":0,"dict_state":0,"dict_id":0,"store_id":"[0-9a-f]{16}","settings":\{"retention_us":604800000000,.*\}\}$'
ev "$w/empty2" append -s s -t t '{}'
ev "$w/empty2" delete 1
ev "$w/empty2" stats
expect stats_nothing_pending 0 '"pending":0,.*"oldest_pending_at":null,'
ev "$s" verify
expect verify 0 '^\{"ok":true,"segments":1,"records":[0-9]+,"events":[0-9]+,"payloads":[0-9]+,"problems":0,"recovered_bytes_dropped":0,"recovered_records_dropped":0\}$'
check verify_quiet_on_stderr [ ! -s "$w/err" ]
cp -r "$s" "$w/torn"
seg=$(ls "$w/torn"/*.evlog)
truncate -s -3 "$seg"
# A clean close wrote a checkpoint vouching for the whole log: losing its
# tail is damage, not a crash's torn write.
ev "$w/torn" verify
error verify_refuses_cut_below_checkpoint 6 'before offset [0-9]+ that evstore.checkpoint recorded as durable'
rm "$w/torn/evstore.checkpoint" # as after a crash: no checkpoint at close
cp "$seg" "$w/torn.seg"
ev "$w/torn" verify
expect verify_reports_recovery 0 '"ok":true,.*"recovered_bytes_dropped":[1-9][0-9]*,"recovered_records_dropped":[1-9][0-9]*\}$' 'warning: the log ends in a torn or uncommitted tail of [0-9]+ bytes \([0-9]+ records\) that the next open for writing cuts'
check verify_changes_nothing cmp -s "$seg" "$w/torn.seg"
check verify_writes_no_checkpoint test ! -e "$w/torn/evstore.checkpoint"
# stats only reads: it reports the tail and leaves it; an open for writing
# (config setting the value the store has) cuts it.
ev "$w/torn" stats
expect stats_reports_torn_tail 0 '"recovered_bytes_dropped":[1-9]'
check stats_leaves_torn_tail cmp -s "$seg" "$w/torn.seg"
ev "$w/torn" config retention=7d
expect writable_open_ok 0 '"retention_us":604800000000'
[ "$(stat -c %s "$seg")" -lt "$(stat -c %s "$w/torn.seg")" ]; verdict writable_open_cuts_torn_tail
ev "$w/torn" stats
expect torn_tail_gone_after_cut 0 '"recovered_bytes_dropped":0,'
# One flipped bit in the middle of the log (issue 13): verify reports it,
# changes nothing; repair drops the damaged transaction, keeping a copy.
fl=$w/flip
for i in $(seq 1 30); do echo "{\"source\":\"s\",\"event_type\":\"t\",\"payload\":{\"i\":$i,\"pad\":\"$(printf '%0200d' 0)\"}}"; done >"$w/flip.jsonl"
for i in 1 2 3; do "$cli" "$fl" import --quiet "$w/flip.jsonl" >/dev/null; done
fseg=$(ls "$fl"/*.evlog)
size=$(stat -c %s "$fseg")
printf '\001' | dd of="$fseg" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cp "$fseg" "$w/flip.seg"
ev "$fl" verify
error verify_bit_flip_is_corruption 6 'damaged record at offset [0-9]+ followed by [0-9]+ intact records: damage, not a torn write; nothing was changed'
check verify_bit_flip_changes_nothing cmp -s "$fseg" "$w/flip.seg"
ev "$fl" inbox
error open_refuses_bit_flip 6 'damage, not a torn write'
check open_bit_flip_changes_nothing cmp -s "$fseg" "$w/flip.seg"
ev "$fl" repair
expect repair_bit_flip 0 '^\{"changed":true,"segments_checked":1,"segments_rewritten":1,"segments_adopted":0,"segments_lost":0,"transactions_dropped":1,"records_dropped":[0-9]+,"bytes_dropped":[0-9]+,"saved_to":"repair-[0-9]{8}T[0-9]{6}Z"\}$'
saved=$(field saved_to | tr -d '"')
check repair_keeps_original cmp -s "$fl/$saved/$(basename "$fseg")" "$w/flip.seg"
ev "$fl" verify
expect repaired_verifies 0 '"ok":true,.*"events":60,'
ev "$fl" stats
expect repaired_next_id_past_lost 0 '"pending":60,"acknowledged":0,"leased":0,"dead":0,"delayed":0,"next_id":(9[1-9]|[1-9][0-9]{2,}),'
ev "$fl" repair
expect repair_healthy_store_does_nothing 0 '"changed":false,.*"saved_to":null\}$'
# An older manifest put back (a restore from a backup): the segments it
# does not list hold committed events; nothing is removed, ids not reused.
sm=$w/stale
"$cli" "$sm" append -s s -t t '{}' >/dev/null
"$cli" "$sm" config segment_size=4096 >/dev/null
"$cli" "$sm" import --quiet "$w/flip.jsonl" >/dev/null
cp "$sm/evstore.manifest" "$w/stale.manifest"
for i in 1 2 3; do "$cli" "$sm" import --quiet "$w/flip.jsonl" >/dev/null; done
nseg=$(ls "$sm"/*.evlog | wc -l)
cp "$w/stale.manifest" "$sm/evstore.manifest"
ev "$sm" verify
error verify_stale_manifest 6 'evstore.manifest does not list hold committed records it does not account for'
check stale_manifest_removes_nothing [ "$(ls "$sm"/*.evlog | wc -l)" = "$nseg" ]
ev "$sm" append -s s -t t '{}'
error append_stale_manifest 6 'restored from a backup'
ev "$sm" repair
expect repair_adopts 0 '"changed":true,.*"segments_adopted":[1-9]'
ev "$sm" verify
expect adopted_all 0 '"ok":true,.*"events":121,'
ev "$sm" append -s s -t t '{}'
expect adopted_ids_not_reused 0 '"event_id":122,'
cp -r "$s" "$w/bad"
printf '\125' | dd of="$w/bad/evstore.meta" bs=1 seek=20 conv=notrunc 2>/dev/null
ev "$w/bad" verify
error verify_corrupt_store 6 'evstore.meta'
ev "$w/bad" get 1
error open_corrupt_store 6 'evstore.meta'

# ---- compact ----------------------------------------------------------------
# Many small events acknowledged, a few left pending, all in the open
# segment: compaction through the CLI seals it, reclaims the acknowledged
# ones, and the pending ones read back.
ev "$w/cmp" import --quiet - < <(for i in $(seq 1 400); do
  printf '{"source":"s","event_type":"t","payload":{"i":%d,"pad":"%0200d"}}\n' "$i" 0; done)
seq 1 400 | awk '$1 % 10 != 1' | "$cli" "$w/cmp" ack - >/dev/null 2>&1
ev "$w/cmp" compact
expect compact 0 '^\{"segments_before":[0-9]+,"segments_after":[0-9]+,"segments_removed":[0-9]+,"segments_rewritten":[0-9]+,"events_removed":360,"bytes_before":[0-9]+,"bytes_after":[0-9]+,"max_pause_us":[0-9]+,"segments_kept":0,"open_segment":"sealed"\}$'
# A second pass finds nothing dead: it says why it kept what it kept.
ev "$w/cmp" compact
expect compact_again 0 '"events_removed":0,.*"segments_kept":1,"open_segment":"empty"\}$'
ev "$w/cmp" get 11
expect compact_keeps_pending 0 '"event_id":11,.*"status":"pending"'
ev "$w/nosuch-cmp" compact
error compact_missing_store 2 'nosuch-cmp'
ev "$s" compact extra
error compact_usage 1 ''

# ---- export -----------------------------------------------------------------
ev "$s" export
[ "$(ids)" = "7 " ] && [ $rc = 0 ]; verdict export_default_pending
ev "$s" export --pending
check export_pending [ "$(ids)" = "7 " ]
ev "$s" export --all
check export_all [ "$(ids)" = "2 3 4 7 " ]
check export_all_acknowledged [ "$(grep -cE "\"status\":\"acknowledged\",\"acknowledged_at\":\"$TS\"" "$w/out")" = 3 ]
ev "$s" get 2 3 4 7
cp "$w/out" "$w/get.out"
ev "$s" export --all
check export_same_objects_as_get cmp -s "$w/out" "$w/get.out"
ev "$p" export --all --source b --since 2000-01-01
check export_filters [ "$(ids)" = "3 6 9 12 " ]
"$cli" "$s" export --all >/dev/full 2>"$w/err"
rc=$?
: >"$w/out"
error export_write_error 7 'cannot write to standard output'

# ---- import -----------------------------------------------------------------
printf '{"source":"s","payload":{}}\n{"x":1}\n' >"$w/allbad.jsonl"
ev "$w/new4" import "$w/allbad.jsonl"
expect import_all_rejected 4 '^\{"imported":0,"duplicate":0,"rejected":2\}$'
check import_all_rejected_creates_no_dir [ ! -e "$w/new4" ]
ev "$w/new4" import --stop-on-error "$w/allbad.jsonl"
[ $rc = 4 ] && [ ! -e "$w/new4" ]; verdict import_stop_first_rejected_creates_no_dir
printf '{"source":"s","event_type":"t","payload":{}}\n{"x":1}\n' >"$w/somebad.jsonl"
ev "$w/new4" import "$w/somebad.jsonl"
[ $rc = 4 ] && [ -e "$w/new4/evstore.meta" ]; verdict import_some_rejected_keeps_store
cat >"$w/in.jsonl" <<'EOF'
{"source":"a","event_type":"t1","payload":{ "k" : "v\u00e9" },"metadata":{"m": 1}}

{"source":"b","event_type":"t2","payload":{},"idempotency_key":"key1","priority":3}
{"source":"b","event_type":"t2","payload":{"again":1},"idempotency_key":"key1"}
{"source":"c","event_type":"t3","payload":{"x":1},"bogus":1}
{"source":"c","event_type":"t3","payload":{"x":1}
{"source":"d","event_type":"t4","payload":{"x":1}}
{"source":"d","event_type":"t4","payload":{"x":01}}
{"source":"","event_type":"t4","payload":{"x":1}}
{"source":"e","event_type":"t5","payload":[1]}
{"source":"e","event_type":"t5","payload":{},"priority":"urgent"}
{"source":"f","event_type":"t6","payload":{"big":
  "multi line"
}}
{"source":"h","event_type":"t8","payload":{"a":1},"event_id":7,"created_at":"x","status":"acknowledged","acknowledged_at":null}
not json
{"event_type":"t","payload":{}}
{"source":"s","source":"s","event_type":"t","payload":{}}
{"source":"s","event_type":"t","payload":{},"metadata":"str"}
{"source":1,"event_type":"t","payload":{}}
{"source":"s","event_type":"t","payload":{"a":"b
EOF
rejected_lines() { # FILE_NAME: the line numbers reported for it, in order
  local prefix="evstore: import: $1:" line rest
  while IFS= read -r line; do
    case $line in "$prefix"*) rest=${line#"$prefix"}; printf '%s ' "${rest%%:*}" ;; esac
  done <"$w/err"
}
ev "$w/imp" import "$w/in.jsonl"
expect import_mixed 4 '^\{"imported":5,"duplicate":1,"rejected":12\}$'
check import_reports_each_line [ "$(rejected_lines "$w/in.jsonl")" = "5 6 8 9 10 11 16 17 18 19 20 21 " ]
check import_reason_unknown_member grep -q 'in.jsonl:5: unknown member "bogus"' "$w/err"
check import_reason_truncated_line grep -q 'in.jsonl:6: JSON object not closed at the end of the line, and line 7 does not continue it' "$w/err"
check import_reason_json_column grep -q 'in.jsonl:8: invalid JSON at column 49: invalid number (leading zero)' "$w/err"
check import_reason_from_library grep -q 'in.jsonl:9: source is empty' "$w/err"
check import_reason_from_library_2nd grep -q 'in.jsonl:10: payload: invalid JSON at byte 0: top-level value must be an object' "$w/err"
check import_reason_priority grep -q 'in.jsonl:11: "priority" must be' "$w/err"
check import_reason_not_json grep -q 'in.jsonl:16: invalid JSON at column 1: top-level value must be an object' "$w/err"
check import_reason_missing grep -q 'in.jsonl:17: missing "source"' "$w/err"
check import_reason_twice grep -q 'in.jsonl:18: member "source" appears twice' "$w/err"
check import_reason_metadata grep -q 'in.jsonl:19: metadata: invalid JSON' "$w/err"
check import_reason_type grep -q 'in.jsonl:20: "source" must be a string' "$w/err"
check import_reason_line_break_in_string grep -q 'in.jsonl:21: invalid JSON at column 49: line break inside a string' "$w/err"
ev "$w/imp" export
check import_stored_the_good_lines [ "$(sed -nE 's/.*"source":"([^"]*)".*/\1/p' "$w/out" | tr '\n' ' ')" = "a b d f h " ]
check import_multiline_object grep -qx '  "multi line"' "$w/out"
check import_priority_number grep -q '"source":"b",.*"priority":"high","idempotency_key":"key1"' "$w/out"
ev "$w/imp2" import - <"$w/in.jsonl"
expect import_stdin 4 '^\{"imported":5,"duplicate":1,"rejected":12\}$'
check import_stdin_line_numbers [ "$(rejected_lines '<stdin>')" = "5 6 8 9 10 11 16 17 18 19 20 21 " ]
ev "$w/imp3" import "$w/no-such-file.jsonl"
error import_missing_file 2 'cannot open .*no-such-file.jsonl'
check import_missing_file_creates_nothing [ ! -e "$w/imp3" ]
printf '\n  \n' >"$w/blank.jsonl"
ev "$w/imp3" import "$w/blank.jsonl"
expect import_blank_lines 0 '^\{"imported":0,"duplicate":0,"rejected":0\}$'
# Batches of 500: line numbers stay right across them, and a second import
# finds every key already there.
awk 'BEGIN {
  for (i = 1; i <= 1203; i++) {
    if (i == 1 || i == 1000) print "{\"source\":\"s\",\"event_type\":\"t\",\"payload\":{}}x"
    else if (i == 500 || i == 1203) print "{\"source\":\"s\",\"event_type\":\"t\",\"payload\":\"p\",\"idempotency_key\":\"k" i "\"}"
    else if (i == 501) print "{\"source\":\"s\",\"event_type\":\"t\",\"payload\":{},\"idempotency_key\":\"k500\"}"
    else print "{\"source\":\"s" i % 7 "\",\"event_type\":\"t\",\"payload\":{\"i\":" i "},\"idempotency_key\":\"k" i "\"}"
  }
}' >"$w/batches.jsonl"
ev "$w/bat" import "$w/batches.jsonl"
expect import_batches 4 '^\{"imported":1199,"duplicate":0,"rejected":4\}$'
check import_batches_line_numbers [ "$(rejected_lines "$w/batches.jsonl")" = "1 500 1000 1203 " ]
ev "$w/bat" import "$w/batches.jsonl"
expect import_again_all_duplicates 4 '^\{"imported":0,"duplicate":1199,"rejected":4\}$'
ev "$w/bat" stats
expect import_batches_stored 0 '"pending":1199,'
# --stop-on-error: a line the library rejects in the middle of a batch, and
# one the CLI rejects.
printf '%s\n' '{"source":"s","event_type":"t","payload":{"i":1}}' \
  '{"source":"s","event_type":"t","payload":{"i":2}}' \
  '{"source":"s","event_type":"t","payload":{"i":3}}' \
  '{"source":"s","event_type":"t","payload":[4]}' \
  '{"source":"s","event_type":"t","payload":{"i":5}}' >"$w/stop1.jsonl"
ev "$w/stop1" import --stop-on-error "$w/stop1.jsonl"
expect stop_on_error_library 4 '^\{"imported":3,"duplicate":0,"rejected":1,"stopped_at_line":4\}$' 'stop1.jsonl:4: payload'
ev "$w/stop1" stats
expect stop_on_error_stores_only_before 0 '"pending":3,"acknowledged":0,"leased":0,"dead":0,"delayed":0,"next_id":4,'
printf '%s\n' '{"source":"s","event_type":"t","payload":{"i":1}}' \
  '{"source":"s","event_type":"t","payload":{"i":2}}' \
  '{"source":"s","event_type":"t","payload":{"i":3},"x":1}' \
  '{"source":"s","event_type":"t","payload":{"i":4}}' >"$w/stop2.jsonl"
ev "$w/stop2" import --stop-on-error "$w/stop2.jsonl"
expect stop_on_error_cli 4 '^\{"imported":2,"duplicate":0,"rejected":1,"stopped_at_line":3\}$' 'stop2.jsonl:3: unknown member "x"'
check stop_on_error_one_message [ "$(wc -l <"$w/err")" = 1 ]
ev "$w/stop2" stats
expect stop_on_error_cli_stores_only_before 0 '"pending":2,'
# Lines longer than any event can be, and payloads over --max-payload.
{
  printf '{"source":"s","event_type":"t","payload":{"a":"%s"}}\n' "$(head -c 80000 /dev/zero | tr '\0' a)"
  printf '%s\n' '{"source":"s","event_type":"t","payload":{"a":"this one is 28 bytes"}}'
  printf '%s\n' '{"source":"s","event_type":"t","payload":{"a":1}}'
} >"$w/long.jsonl"
ev --max-payload 16 "$w/long" import "$w/long.jsonl"
expect import_limits 4 '^\{"imported":1,"duplicate":0,"rejected":2\}$'
check import_line_too_long grep -q 'long.jsonl:1: line is longer than 73744 bytes' "$w/err"
check import_payload_over_limit grep -q 'long.jsonl:2: payload is 28 bytes, limit is 16' "$w/err"

# ---- round trips: payload and metadata byte for byte ------------------------
P=('{ "a" :	1 , "b":"\u00e9\ud83d\ude00 \" \\ \/" }' '{"nested":{"deep":[[[{}]]]},"num":-0.5e-3,"s":"é 😀"}'
   '{}' '{"ctrl":"\u0001\t","e":1E+2}' '{ }')
M=('{"x" : [ ] }' 'null' '{"k":"v"}' 'null' '{"m":	true}')
: >"$w/rt.jsonl"
for i in "${!P[@]}"; do
  printf '{"source":"src%d","event_type":"t","payload":%s,"metadata":%s}\n' "$i" "${P[$i]}" "${M[$i]}" >>"$w/rt.jsonl"
done
printf '%s\n' '{"source":"s\u00e9\"q","event_type":"t\/1","payload":{},"idempotency_key":"k\ud83d\ude00\n","priority":"low"}' >>"$w/rt.jsonl"
ev "$w/rt" import "$w/rt.jsonl"
expect roundtrip_import 0 '^\{"imported":6,"duplicate":0,"rejected":0\}$'
"$cli" "$w/rt" append -s src -t multi - <"$w/multiline.json" >/dev/null
ev "$w/rt" export
cp "$w/out" "$w/rt.export"
ok=1
for i in "${!P[@]}"; do
  grep -qF "\"source\":\"src$i\",\"event_type\":\"t\",\"payload\":${P[$i]},\"metadata\":${M[$i]},\"status\"" "$w/rt.export" || ok=0
done
check roundtrip_payload_metadata_bytes [ $ok = 1 ]
check roundtrip_decoded_strings grep -qF '"source":"sé\"q","event_type":"t/1","payload":{},"metadata":null,"status":"pending","acknowledged_at":null,"priority":"low","idempotency_key":"k😀\n"}' "$w/rt.export"
ev "$w/rt2" import "$w/rt.export"
expect roundtrip_reimport 0 '^\{"imported":7,"duplicate":0,"rejected":0\}$'
ev "$w/rt2" export
sed -E "s/$TS/<TS>/g" "$w/rt.export" >"$w/a"
norm >"$w/b"
check roundtrip_export_import_export_identical cmp -s "$w/a" "$w/b"
ev "$w/rt2" get 7
check roundtrip_multiline_payload [ "$(norm)" = "$(printf '{"event_id":7,"created_at":"<TS>","source":"src","event_type":"multi","payload":{\n  "a": [1,\n\t2]\n},"metadata":null,"status":"pending","acknowledged_at":null,"priority":"normal","idempotency_key":null}')" ]
# White space around the object (possible through append, not import) is
# not part of the JSON value: output leaves it out, so a round trip keeps
# every byte of output.
printf '%s\n' '{"source":"s","event_type":"t","payload":{"a": 1}}' >"$w/ws.jsonl"
"$cli" "$w/ws" import "$w/ws.jsonl" >/dev/null
"$cli" "$w/ws" append -s s -t t $' \t{"a": 1} \r\n' >/dev/null
"$cli" "$w/ws" append -s s -t t -m $'\n{"m": 2}\n ' '{}' >/dev/null
ev "$w/ws" export
check roundtrip_surrounding_white_space_not_printed [ "$(sed -nE 's/.*"payload":(.*),"status".*/[\1]/p' "$w/out" | tr '\n' ' ')" = '[{"a": 1},"metadata":null] [{"a": 1},"metadata":null] [{},"metadata":{"m": 2}] ' ]
cp "$w/out" "$w/ws.export"
ev "$w/ws2" import - <"$w/ws.export"
ev "$w/ws2" export
sed -E "s/$TS/<TS>/g" "$w/ws.export" >"$w/a"
norm >"$w/b"
check roundtrip_surrounding_white_space_identical cmp -s "$w/a" "$w/b"

# Awkward but valid values of every field, through export -> import ->
# export: byte for byte (times aside), and the keys still deduplicate
# against the original bytes.
k1=$' k\x01\x1f\x7f "q" \\ /\xf0\x9f\x98\x80\xe2\x80\xa8\xc2\xa0 '
k2=$'\xf4\x8f\xbf\xbf'
k3=$(printf '\xf0\x9f\x98\x80%.0s' $(seq 64))         # 256 bytes, the most
k4=$(printf '\\x01%.0s' $(seq 256)); k4=$(printf "$k4") # 256 control bytes
"$cli" "$w/aw" append -s $'  s"q\\\xc3\xa9\xf0\x9f\x98\x80\t' -t $'t/1\xe2\x80\xa8x' -p high \
  --idempotency-key "$k1" -m $'{"m":"\\t\\n\\u0001","u":"\\ud83d\\ude00 \xc3\xa9"} \n' \
  $' \t{"a":"\\u00e9 \\" \\\\ \\/ \\ud83d\\ude00","b":"\xc3\xa9\xf0\x9f\x98\x80","c":[1,{"d":null}],"e":-0.5e-3}\n' >/dev/null
"$cli" "$w/aw" append -s plain -t t -p low --idempotency-key "$k2" '{}' >/dev/null
"$cli" "$w/aw" append -s plain -t t --idempotency-key "$k3" $'{"x":"\xe2\x80\xa8\xe2\x80\xa9"}' >/dev/null
"$cli" "$w/aw" append -s plain -t t --idempotency-key "$k4" - <"$w/multiline.json" >/dev/null
"$cli" "$w/aw" append -s plain -t t '{"no":"key"}' >/dev/null
ev "$w/aw" export
expect awkward_export 0
check awkward_export_lines [ "$(wc -l <"$w/out")" = 8 ] # one payload spans 4 lines
cp "$w/out" "$w/aw.export"
ev "$w/aw2" import "$w/aw.export"
expect awkward_import 0 '^\{"imported":5,"duplicate":0,"rejected":0\}$'
ev "$w/aw2" export
sed -E "s/$TS/<TS>/g" "$w/aw.export" >"$w/a"
norm >"$w/b"
check awkward_export_import_export_identical cmp -s "$w/a" "$w/b"
ok=1
for k in "$k1" "$k2" "$k3" "$k4"; do
  "$cli" "$w/aw2" append -s s -t t --idempotency-key "$k" '{}' | grep -q '"duplicate":true' || ok=0
done
check awkward_keys_kept_byte_for_byte [ $ok = 1 ]
ev "$w/aw2" import "$w/aw.export"
expect awkward_reimport_deduplicates 0 '^\{"imported":1,"duplicate":4,"rejected":0\}$'
# A key that is not UTF-8 has no JSON form: refused at append.
ev "$w/aw" append -s s -t t --idempotency-key $'ok\xff\xfe' '{}'
error append_key_not_utf8 4 'idempotency_key is not valid UTF-8 \(byte 2\)'
ev "$w/rt2" import "$w/rt.export"
expect roundtrip_keys_match_after_decoding 0 '^\{"imported":6,"duplicate":1,"rejected":0\}$'

# ---- dict_compress: small payloads against a trained dictionary ----------
for i in $(seq 1 2600); do
  printf '{"source":"shop","event_type":"order.created","payload":{"order_id":%d,"customer":{"email":"user%d@example.com","name":"Customer %d"},"items":[{"sku":"SKU-%05d","qty":%d}],"currency":"USD"}}\n' \
    "$i" $((i * 7 % 1000)) $((i * 7 % 1000)) $((i * 31 % 99999)) $((i % 9 + 1))
done >"$w/dict.jsonl"
ev --dict-compress "$w/dict" import "$w/dict.jsonl"
expect dict_import 0 '^\{"imported":2600,"duplicate":0,"rejected":0\}$'
check dict_file_written test -s "$w/dict/evstore.dict"
ev --dict-compress "$w/dict" import "$w/dict.jsonl" # same keys? none: imported again
ev "$w/dict" stats
expect dict_stats_loaded 0 '"dict_state":1,"dict_id":[1-9][0-9]*,'
ratio=$(field compression_ratio)
check dict_compressed awk -v r="$ratio" 'BEGIN { exit !(r > 1.5) }'
ev "$w/dict" export --all
sed -nE 's/.*"payload":(\{.*\}),"metadata".*/\1/p' "$w/out" | tail -n 2600 >"$w/dict.payloads"
sed -nE 's/.*"payload":(\{.*\})\}$/\1/p' "$w/dict.jsonl" >"$w/dict.want"
check dict_export_byte_identical cmp -s "$w/dict.payloads" "$w/dict.want"
ev "$w/dict" verify
expect dict_verify 0 '"ok":true'
printf 'X' | dd of="$w/dict/evstore.dict" bs=1 seek=100 conv=notrunc 2>/dev/null
ev "$w/dict" stats
expect dict_damaged_store_opens 0 '"dict_state":2,"dict_id":0,'
ev "$w/dict" get 5000
expect dict_damaged_get 6 '' 'dictionary'
ev "$w/dict" verify
expect dict_damaged_verify 6

# ---- progress: on a terminal only -------------------------------------------
awk 'BEGIN { for (i = 1; i <= 3000; i++) print "{\"source\":\"s\",\"event_type\":\"t\",\"payload\":{\"i\":" i "}}" }' >"$w/big.jsonl"
tty_run() { # OUT COMMAND: run COMMAND with a terminal as stdin, stdout and stderr
  local out=$1
  script -qec "$2" /dev/null >"$out" 2>&1 </dev/null
  rc=$?
  sanitizer_check "$out" "$rc" "(on a terminal) $2"
}
tty_run "$w/tty1" "'$cli' '$w/pg1' import '$w/big.jsonl'"
[ $rc = 0 ] && grep -q 'lines/s  ETA' "$w/tty1" && grep -qE '\[[#.]{24}\] +[0-9]+%' "$w/tty1"; verdict progress_on_terminal
check progress_summary_on_terminal grep -q '{"imported":3000,"duplicate":0,"rejected":0}' "$w/tty1"
tty_run "$w/tty2" "cat '$w/big.jsonl' | '$cli' '$w/pg2' import -"
[ $rc = 0 ] && grep -q 'lines/s  [0-9:]* elapsed' "$w/tty2" && ! grep -q ETA "$w/tty2"; verdict progress_from_pipe_no_eta
tty_run "$w/tty3" "'$cli' '$w/pg3' import --quiet '$w/big.jsonl'"
[ $rc = 0 ] && ! grep -q 'lines/s' "$w/tty3" && grep -q '"imported":3000' "$w/tty3"; verdict progress_quiet
ev "$w/pg4" import "$w/big.jsonl"
[ $rc = 0 ] && [ ! -s "$w/err" ]; verdict progress_not_when_piped
ev "$w/pg5" import "$w/in.jsonl"
[ $rc = 4 ] && ! grep -q "$(printf '\r')" "$w/err"; verdict import_errors_piped_plain

# ---- the session in README.md's CLI tour -------------------------------------
# Each "$ command" runs in one directory with this build's evstore first on
# PATH; its output must be what the README shows, times, cursors and sizes
# aside.
awk '/<!-- example: cli-tour/ {f = 1; next} f && /^```console/ {p = 1; next} p && /^```/ {exit} p' \
  "$root/README.md" >"$w/tour.txt"
mkdir "$w/tour"
(
  cd "$w/tour" || exit 1
  PATH="$build:$PATH"
  grep '^\$ ' "$w/tour.txt" | while IFS= read -r line; do
    printf '%s\n' "$line"
    bash -c "${line#\$ }" 2>&1 </dev/null
  done
) >"$w/tour.out"
sanitizer_check "$w/tour.out" 0 "(README tour)"
tour_norm() {
  sed -E -e "s/$TS/<TS>/g" -e 's/"next_cursor":"[A-Za-z0-9_-]+"/"next_cursor":"<CURSOR>"/' \
    -e 's/"(disk_bytes|index_bytes|oldest_pending_(age_)?us|records|segments|open_replayed_bytes|log_bytes_since_checkpoint)":[0-9]+/"\1":<N>/g' \
    -e 's/"store_id":"[0-9a-f]{16}"/"store_id":"<ID>"/' "$1"
}
check readme_tour_found [ "$(grep -c '^\$ ' "$w/tour.txt")" -ge 10 ]
if diff -u <(tour_norm "$w/tour.txt") <(tour_norm "$w/tour.out") >"$w/tour.diff"; then
  pass readme_tour
else
  echo "FAIL cli_readme_tour: README.md's CLI tour differs from a real run:"
  sed 's/^/    /' "$w/tour.diff"
  status=1
fi

# ---- one condition, one exit status, whatever the command -------------------
# Each row: a condition, the status every command gets for it, the commands
# it applies to (append and import create DIR, so a missing one is not an
# error for them), and the message.
printf '{"source":"s","event_type":"t","payload":{}}\n' >"$w/one.jsonl"
echo not a store >"$w/afile"
writers=("append -s s -t t {}" "import $w/one.jsonl")
readers=("get 1" "inbox" "dead" "ack 1" "delete 1" "stats" "verify" "compact" "export" "config" "repair"
  "claim --consumer c" "ack --token 1 1" "renew --token 1 1" "release --token 1 1" "reject --token 1 1" "redrive")
conditions() { # NAME DIR STATUS STDERR_ERE WHICH
  local name=$1 dir=$2 code=$3 e=$4 cmds=() a bad=""
  case $5 in
  all) cmds=("${writers[@]}" "${readers[@]}") ;;
  readers) cmds=("${readers[@]}") ;;
  writing) cmds=("${writers[@]}" "ack 1" "delete 1" "compact" "config retention=1d" "repair"
    "claim --consumer c" "ack --token 1 1" "renew --token 1 1" "release --token 1 1"
    "reject --token 1 1" "redrive") ;;
  esac
  for a in "${cmds[@]}"; do
    # shellcheck disable=SC2086 # the row's words are the command's arguments
    "$cli" "$dir" $a >"$w/out" 2>"$w/err"
    rc=$?
    # shellcheck disable=SC2086
    sanitizer_check "$w/err" "$rc" "$dir" $a
    if [ $rc != "$code" ] || ! grep -qE -- "^evstore: [a-z]+: .*$e" "$w/err"; then
      bad="$bad ${a%% *}=$rc"
    fi
  done
  if [ -z "$bad" ]; then pass "exit_$name"; else fail "exit_$name" "expected $code, got:$bad"; fi
}
conditions dir_is_a_file "$w/afile" 2 'is not a store \(not a directory\)' all
conditions dir_missing "$w/nothing" 2 'no such store' readers
conditions dir_under_a_file "$w/afile/sub" 2 'no such store' readers
conditions dir_not_a_store "$w" 2 'is not (an evstore store|a store)' readers
conditions dir_empty_name "" 1 'DIR is empty' all
[ ! -e "$w/nothing" ] && [ "$(cat "$w/afile")" = "not a store" ]; verdict exit_conditions_change_nothing

# ---- a store another process has open (exit 5 for the commands that write) ---
mkfifo "$w/fifo"
"$cli" "$w/lk" import - <"$w/fifo" >"$w/lk.out" 2>"$w/lk.err" &
holder=$!
exec 7>"$w/fifo"
locked=0
for _ in $(seq 200); do
  if [ -e "$w/lk/LOCK" ] && grep -q ":$(stat -c %i "$w/lk/LOCK") " /proc/locks; then locked=1; break; fi
  sleep 0.05
done
check lock_holder_running [ $locked = 1 ]
conditions dir_locked "$w/lk" 5 'locked|open elsewhere' writing
# stats only reads: it opens read-only beside the writer (nothing committed
# yet: the import commits at the end of its input).
ev "$w/lk" stats
expect locked_stats_reads 0 '^\{"pending":0,'
ev "$w/lk" append -s s -t t '{}'
error locked_append 5 'locked'
ev "$w/lk" import "$w/big.jsonl"
error locked_import 5 'locked'
echo '{"source":"s","event_type":"t","payload":{}}' >&7
exec 7>&-
wait $holder
rc=$?
sanitizer_check "$w/lk.err" "$rc" "import - (lock holder)"
[ $rc = 0 ] && grep -q '{"imported":1,' "$w/lk.out"; verdict lock_holder_finished
ev "$w/lk" stats
expect unlocked_after 0 '"pending":1,'

# ---- read commands beside a writer --------------------------------------------
# A store with committed events, held open for writing by an import that
# waits on a FIFO: every command that only reads works and shows the
# committed events; the commands that write exit 5.
lv=$w/live
"$cli" "$lv" append -s s -t t '{"n":1}' >/dev/null
"$cli" "$lv" append -s s -t t -k key2 '{"n":2}' >/dev/null
"$cli" "$lv" append -s s -t u '{"n":3}' >/dev/null
"$cli" "$lv" ack 1 >/dev/null
mkfifo "$w/fifo2"
"$cli" "$lv" import - <"$w/fifo2" >"$w/lv.out" 2>"$w/lv.err" &
holder=$!
exec 8>"$w/fifo2"
locked=0
for _ in $(seq 200); do
  if [ -e "$lv/LOCK" ] && grep -q ":$(stat -c %i "$lv/LOCK") " /proc/locks; then locked=1; break; fi
  sleep 0.05
done
check live_holder_running [ $locked = 1 ]
ev "$lv" stats
expect live_stats 0 '^\{"pending":2,"acknowledged":1,"leased":0,"dead":0,"delayed":0,"next_id":4,'
ev "$lv" inbox
[ $rc = 0 ] && [ "$(ids)" = "2 3 " ] && [ "$(field more)" = false ]; verdict live_inbox
ev "$lv" inbox -t u --cursor-file "$w/lv.pos"
[ $rc = 0 ] && [ "$(ids)" = "3 " ] && [ -s "$w/lv.pos" ]; verdict live_inbox_cursor_file
ev "$lv" dead
[ $rc = 0 ] && [ "$(ids)" = "" ] && [ "$(field more)" = false ]; verdict live_dead
ev "$lv" get 1 3
[ $rc = 0 ] && [ "$(ids)" = "1 3 " ] && grep -q '"status":"acknowledged"' "$w/out"; verdict live_get
ev "$lv" get 9
error live_get_missing 2 'not found|no event'
ev "$lv" export --all
[ $rc = 0 ] && [ "$(ids)" = "1 2 3 " ] && grep -q '"idempotency_key":"key2"' "$w/out"; verdict live_export
ev "$lv" verify
expect live_verify 0 '^\{"ok":true,.*"problems":0,'
ev "$lv" config
expect live_config_shows 0 '^\{"retention_us":604800000000,'
# A read command never changes a setting: an option that differs is refused.
ev "$lv" stats --retention 1d
error live_read_refuses_setting 1 'retention is a setting of the store.*read-only'
ev "$lv" inbox --max-payload 1000
error live_read_refuses_setting_inbox 1 'max_payload is a setting of the store'
ev "$lv" append -s s -t t '{}'
error live_append_locked 5 'locked'
ev "$lv" ack 2
error live_ack_locked 5 'locked'
ev "$lv" config retention=1d
error live_config_set_locked 5 'locked'
echo '{"source":"s","event_type":"t","payload":{"n":4}}' >&8
exec 8>&-
wait $holder
rc=$?
sanitizer_check "$w/lv.err" "$rc" "import - (live holder)"
[ $rc = 0 ] && grep -q '{"imported":1,' "$w/lv.out"; verdict live_holder_finished
ev "$lv" stats
expect live_after 0 '^\{"pending":3,"acknowledged":1,"leased":0,"dead":0,"delayed":0,"next_id":5,'

# ---- a user with read permission only ----------------------------------------
# As root: a root-owned store (directory 0755, files 0644) read by nobody.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  pv=$w/ro/store
  mkdir -p "$w/ro"
  "$cli" "$pv" append -s s -t t '{"n":1}' >/dev/null
  "$cli" "$pv" append -s s -t t '{"n":2}' >/dev/null
  chmod 755 "$w" "$w/ro" "$pv"
  find "$pv" -type f -exec chmod 644 {} +
  cp "$cli" "$w/ro/evstore" && chmod 755 "$w/ro/evstore"
  ls -l "$pv" >"$w/pv.before"
  asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$w/ro/evstore" "$@"; }
  asnobody "$pv" stats >"$w/out" 2>"$w/err"
  rc=$?
  sanitizer_check "$w/err" "$rc" "(as nobody) stats"
  expect readonly_user_stats 0 '^\{"pending":2,'
  for a in inbox dead "get 1" "export" "verify" "config"; do
    # shellcheck disable=SC2086
    asnobody "$pv" $a >"$w/out" 2>"$w/err"
    rc=$?
    sanitizer_check "$w/err" "$rc" "(as nobody) $a"
    expect "readonly_user_${a%% *}" 0
  done
  asnobody "$pv" ack 1 >"$w/out" 2>"$w/err"
  rc=$?
  [ $rc != 0 ]; verdict readonly_user_cannot_write
  ls -l "$pv" >"$w/pv.after"
  check readonly_user_changes_nothing cmp -s "$w/pv.before" "$w/pv.after"
  chmod 700 "$w"
else
  echo "skip cli_readonly_user (needs root and setpriv)"
fi

# inbox --follow: pages as events are committed by other processes, no
# cursor lines, --cursor-file kept up to date; not with --descending.
fo=$w/follow.evs
"$cli" "$fo" append -s a -t t '{"n":1}' >/dev/null
ev "$fo" inbox --follow --descending
expect follow_not_descending 1 '' 'descending'
"$cli" "$fo" inbox --follow --limit 2 --cursor-file "$w/follow.pos" >"$w/follow.out" 2>"$w/follow.err" &
fpid=$!
lines() { grep -c '"event_id"' "$w/follow.out" 2>/dev/null || true; }
for i in 1 2 3 4 5; do "$cli" "$fo" append -s a -t t "{\"n\":$((i + 1))}" >/dev/null; done
for _ in $(seq 100); do [ "$(lines)" -ge 6 ] && break; sleep 0.05; done
check follow_prints_new_events [ "$(lines)" = 6 ]
! grep -q next_cursor "$w/follow.out"; verdict follow_no_cursor_lines
check follow_in_order [ "$(grep -o '"event_id":[0-9]*' "$w/follow.out" | tr -dc '0-9\n' | tr '\n' ' ')" = "1 2 3 4 5 6 " ]
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null
sanitizer_check "$w/follow.err" 0 inbox --follow
# The position file points after event 6: nothing is printed twice.
ev "$fo" inbox --cursor-file "$w/follow.pos"
[ ! -s "$w/out" ] && [ "$rc" = 0 ]; verdict follow_cursor_file_kept

# ---- consumers: claim, ack --token, renew, release, reject, redrive -----------
cs=$w/consume
for i in 1 2 3; do "$cli" "$cs" append -s a -t t "{\"n\":$i}" >/dev/null; done
# A store that never used leases prints no consumer field.
ev "$cs" export --all
! grep -qE 'delivery_count|lease_token|leased_by|lease_expires_at' "$w/out"; verdict lease_fields_absent_before
ev "$cs" claim
error claim_needs_consumer 1 '--consumer is required'
ev "$cs" claim --consumer w1 --status dead
error claim_no_status 1 'claim does not take --status'
ev "$cs" claim --consumer w1 --lease 0
error claim_bad_lease 1 "--lease '0' is not a duration"
ev "$cs" claim --consumer w1 --wait soon
error claim_bad_wait 1 "--wait 'soon' is not a duration"
ev "$cs" claim --consumer w1 --limit 101
error claim_bad_limit 1 '--limit must be 1..100'
ev "$cs" claim --consumer w1 --limit 1 --lease 1m
expect claim_prints 0 '^\{"event_id":1,"created_at":"'"$TS"'","source":"a","event_type":"t","payload":\{"n":1\},"metadata":null,"status":"leased","acknowledged_at":null,"priority":"normal","idempotency_key":null,"delivery_count":1,"lease_token":[0-9]+,"lease_expires_at":"'"$TS"'","leased_by":"w1"\}$'
tok1=$(field lease_token)
ev "$cs" inbox
[ $rc = 0 ] && [ "$(ids)" = "2 3 " ]; verdict claim_leaves_the_inbox
ev "$cs" inbox --status leased
[ $rc = 0 ] && [ "$(ids)" = "1 " ] && grep -q '"leased_by":"w1"}$' "$w/out"; verdict inbox_status_leased
ev "$cs" get 1
expect get_leased 0 '"status":"leased",.*"delivery_count":1,"lease_token":'"$tok1"',"lease_expires_at":"'"$TS"'","leased_by":"w1"\}$'
ev "$cs" stats
expect stats_leased 0 '^\{"pending":2,"acknowledged":0,"leased":1,"dead":0,"delayed":0,"next_id":4,'
ev "$cs" ack --token "$tok1" 1 2
error ack_token_one_id 1 'exactly one event id'
ev "$cs" ack --token x1 1
error ack_token_bad 1 "--token 'x1' is not a lease token"
ev "$cs" renew 1
error renew_needs_token 1 '--token is required'
ev "$cs" ack --token "$tok1" 1
expect ack_token 0 '^\{"event_id":1,"acknowledged_at":"'"$TS"'"\}$'
ev "$cs" ack --token "$tok1" 1
error ack_token_twice_conflict 3 'already acknowledged'
ev "$cs" ack --token "$tok1" 99
error ack_token_missing 2 'not found|no event'
ev "$cs" get 1
expect acked_no_lease_fields 0 '"status":"acknowledged",.*"idempotency_key":null,"delivery_count":1\}$'
ev "$cs" claim --consumer w1 --limit 1
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict claim_next
tok2=$(field lease_token)
ev "$cs" ack --token $((tok2 + 1000)) 2
error ack_stale_token 8 'not its current one'
ev "$cs" reject --token $((tok2 + 1000)) 2
error reject_stale_token 8 'not its current one'
ev "$cs" get 2
expect stale_changes_nothing 0 '"status":"leased",.*"lease_token":'"$tok2"','
ev "$cs" renew --token "$tok2" --lease 2m 2
expect renew 0 '^\{"event_id":2,"lease_expires_at":"'"$TS"'"\}$'
ev "$cs" release --token "$tok2" --delay forever 2
error release_bad_delay 1 "--delay 'forever' is not a duration"
ev "$cs" release --token "$tok2" --delay 1h 2
expect release_delay 0 '^\{"event_id":2,"released":true\}$'
ev "$cs" release --token "$tok2" 2
error release_stale_token 8 'not its current one'
ev "$cs" get 2
# Held back by the delay: delayed, to nobody, so no token or consumer.
expect release_delay_held 0 '"status":"delayed",.*"idempotency_key":null,"delivery_count":1,"delayed_until":"'"$TS"'"\}$'
ev "$cs" claim --consumer w2
[ $rc = 0 ] && [ "$(ids)" = "3 " ]; verdict release_delay_not_claimable
tok3=$(field lease_token)
ev "$cs" reject --token "$tok3" 3
expect reject 0 '^\{"event_id":3,"rejected":true\}$'
ev "$cs" inbox --status dead
[ $rc = 0 ] && [ "$(ids)" = "3 " ] && grep -q '"status":"dead",.*"delivery_count":1}$' "$w/out"; verdict inbox_status_dead
ev "$cs" export --status dead
[ $rc = 0 ] && [ "$(ids)" = "3 " ]; verdict export_status_dead
cp "$w/out" "$w/dead.jsonl"
ev "$w/dead-copy" import "$w/dead.jsonl"
expect import_takes_exported_dead 0 '^\{"imported":1,"duplicate":0,"rejected":0\}$'
ev "$cs" export --status leased
[ $rc = 0 ] && [ "$(ids)" = "" ]; verdict export_status_leased_none
ev "$cs" export --status delayed
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict export_status_delayed
cp "$w/out" "$w/delayed.jsonl"
ev "$w/delayed-copy" import "$w/delayed.jsonl"
expect import_takes_exported_delayed 0 '^\{"imported":1,"duplicate":0,"rejected":0\}$'
ev "$cs" stats
expect stats_dead 0 '^\{"pending":0,"acknowledged":1,"leased":0,"dead":1,"delayed":1,"next_id":4,'
ev "$cs" redrive --type other
expect redrive_filtered 0 '^\{"redriven":0\}$'
ev "$cs" redrive --status any
error redrive_no_status 1 'redrive does not take --status'
ev "$cs" redrive
expect redrive 0 '^\{"redriven":1\}$'
ev "$cs" inbox
[ $rc = 0 ] && [ "$(ids)" = "3 " ] && grep -q '"status":"pending",.*"idempotency_key":null}$' "$w/out"; verdict redrive_back_pending_count_0
ev "$cs" verify
expect lease_store_verifies 0 '^\{"ok":true,'

# max_deliveries, a store setting: a lease that runs out at the last
# delivery makes the event dead.
md=$w/maxdel
"$cli" "$md" append -s a -t t '{}' >/dev/null
ev "$md" config max_deliveries=0
error config_max_deliveries_zero 1 "bad value for max_deliveries: '0'"
ev "$md" config max_deliveries=256
error config_max_deliveries_big 1 "bad value for max_deliveries: '256'"
ev "$md" config max_deliveries=1
expect config_max_deliveries 0 '"max_deliveries":1\}$'
ev "$md" claim --consumer w --lease 1ms
[ $rc = 0 ] && [ "$(ids)" = "1 " ]; verdict max_deliveries_claim
sleep 0.05
ev "$md" claim --consumer w
[ $rc = 0 ] && [ ! -s "$w/out" ]; verdict max_deliveries_not_again
ev "$md" stats
expect max_deliveries_dead 0 '^\{"pending":0,"acknowledged":0,"leased":0,"dead":1,"delayed":0,.*"max_deliveries":1\}\}$'

# claim --wait: nothing claimable -> waits, without holding the store, for
# an event another process appends.
cw=$w/claimwait
"$cli" "$cw" append -s a -t t '{"n":1}' >/dev/null
"$cli" "$cw" claim --consumer w --lease 1m >/dev/null
t0=$(date +%s%N)
ev "$cw" claim --consumer w --wait 300ms
t1=$(date +%s%N)
[ $rc = 0 ] && [ ! -s "$w/out" ] && [ $(((t1 - t0) / 1000000)) -ge 300 ]; verdict claim_wait_times_out_empty
(sleep 0.3; "$cli" "$cw" append -s a -t t '{"n":2}' >"$w/bg.out" 2>"$w/bg.err"; echo $? >"$w/bg.rc") &
bg=$!
t0=$(date +%s%N)
ev "$cw" claim --consumer w --wait 20s
t1=$(date +%s%N)
wait $bg
[ $rc = 0 ] && [ "$(ids)" = "2 " ] && [ $(((t1 - t0) / 1000000)) -lt 15000 ]; verdict claim_wait_gets_append
check claim_wait_lets_others_append [ "$(cat "$w/bg.rc")" = 0 ]
# The filters apply to the wait: an event of another type does not end it.
(sleep 0.2; "$cli" "$cw" append -s a -t other '{}' >/dev/null) &
bg=$!
ev "$cw" claim --consumer w --type t --wait 700ms
wait $bg
[ $rc = 0 ] && [ ! -s "$w/out" ]; verdict claim_wait_filtered

# append --not-before: stored at once, out of the inbox until then.
nb=$w/notbefore.evs
ev "$nb" append -s a -t t --not-before 9999-01-01 '{"later":true}'
expect not_before_append 0 '^\{"event_id":1,'
ev "$nb" inbox
[ $rc = 0 ] && [ "$(grep -c event_id "$w/out")" = 0 ]; verdict not_before_out_of_inbox
ev "$nb" get 1
expect not_before_get 0 '"status":"delayed",.*"delayed_until":"9999-01-01T00:00:00.000000Z"\}$'
ev "$nb" inbox --status delayed
expect not_before_status_delayed 0 '"event_id":1,'
ev "$nb" append -s a -t t --not-before soon '{}'
expect not_before_bad 1 '' 'not-before'
ev "$nb" append -s a -t t --not-before 2020-01-01 '{"now":true}'
ev "$nb" inbox
expect not_before_past_is_now 0 '"event_id":2,'

# ---- ordering keys ------------------------------------------------------------
ok=$w/okeys
ev "$ok" append -s a -t t --ordering-key cus_1 '{"n":1}'
expect ordering_key_append 0 '^\{"event_id":1,"created_at":"'"$TS"'","duplicate":false\}$'
ev "$ok" get 1
expect ordering_key_get 0 '^\{"event_id":1,.*"priority":"normal","idempotency_key":null,"ordering_key":"cus_1"\}$'
"$cli" "$ok" append -s a -t t --ordering-key cus_1 '{"n":2}' >/dev/null
"$cli" "$ok" append -s a -t t '{"n":3}' >/dev/null
ev "$ok" get 3
[ $rc = 0 ] && ! grep -q ordering_key "$w/out"; verdict ordering_key_absent_not_printed
ev "$ok" inbox
[ $rc = 0 ] && [ "$(grep -c '"ordering_key":"cus_1"}$' "$w/out")" = 2 ]; verdict ordering_key_inbox
ev "$ok" export
[ $rc = 0 ] && [ "$(grep -c '"ordering_key":"cus_1"}$' "$w/out")" = 2 ]; verdict ordering_key_export
# 1..128 bytes, byte for byte: "é" is two of them; any character is kept
# and printed as a JSON string.
k126=$(printf 'k%.0s' $(seq 126))
ev "$ok" append -s a -t t --ordering-key "é$k126" '{"n":4}'
expect ordering_key_128_bytes 0 '^\{"event_id":4,'
ev "$ok" get 4
expect ordering_key_128_bytes_get 0 "\"ordering_key\":\"é$k126\"}\$"
ev "$ok" append -s a -t t --ordering-key "éx$k126" '{}'
error ordering_key_129_bytes 4 'ordering_key'
ev "$ok" append -s a -t t --ordering-key '' '{}'
error ordering_key_empty 4 'ordering_key'
ev "$ok" append -s a -t t --ordering-key $'q "x" \\ \t' '{"n":5}'
expect ordering_key_escaped 0 '^\{"event_id":5,'
ev "$ok" get 5
expect ordering_key_escaped_get 0 '"ordering_key":"q \\"x\\" \\\\ \\t"\}$'
ev "$ok" stats
expect ordering_key_rejected_store_nothing 0 '"next_id":6,'
ev "$ok" inbox --ordering-key cus_1
error ordering_key_append_only 1 'inbox does not take --ordering-key'
ev "$w/okbad" append -s a -t t --ordering-key '' '{}'
[ $rc = 4 ] && [ ! -e "$w/okbad" ]; verdict ordering_key_refused_creates_no_store

# claim: the events of one key one at a time, oldest first; other keys and
# events without one are not held back; the inbox is not affected.
oc=$w/oclaim
"$cli" "$oc" append -s a -t t --ordering-key k '{"n":1}' >/dev/null
"$cli" "$oc" append -s a -t t --ordering-key k '{"n":2}' >/dev/null
"$cli" "$oc" append -s a -t t --ordering-key j '{"n":3}' >/dev/null
"$cli" "$oc" append -s a -t t '{"n":4}' >/dev/null
"$cli" "$oc" append -s a -t t --ordering-key j '{"n":5}' >/dev/null
ev "$oc" claim --consumer w --limit 10 --lease 1m
[ $rc = 0 ] && [ "$(ids)" = "1 3 4 " ]; verdict ordering_key_claim_first_of_each_key
check ordering_key_claim_prints_key grep -qE '^\{"event_id":1,.*"idempotency_key":null,"ordering_key":"k","delivery_count":1,"lease_token":[0-9]+,' "$w/out"
otok1=$(sed -nE 's/^\{"event_id":1,.*"lease_token":([0-9]+),.*/\1/p' "$w/out")
otok3=$(sed -nE 's/^\{"event_id":3,.*"lease_token":([0-9]+),.*/\1/p' "$w/out")
ev "$oc" claim --consumer w --limit 10
[ $rc = 0 ] && [ ! -s "$w/out" ]; verdict ordering_key_claim_holds_later
ev "$oc" inbox
[ $rc = 0 ] && [ "$(ids)" = "2 5 " ]; verdict ordering_key_inbox_not_affected
ev "$oc" inbox --status claimable
[ $rc = 0 ] && [ "$(ids)" = "" ]; verdict ordering_key_status_claimable_none
ev "$oc" ack --token "$otok1" 1
expect ordering_key_ack_first 0 '^\{"event_id":1,'
ev "$oc" inbox --status claimable
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict ordering_key_status_claimable
ev "$oc" export --status claimable
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict ordering_key_export_status_claimable
ev "$oc" claim --consumer w --limit 10
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict ordering_key_claim_next_after_ack
# A dead event no longer holds its key back.
ev "$oc" reject --token "$otok3" 3
expect ordering_key_reject 0 '"rejected":true'
ev "$oc" claim --consumer w --limit 10
[ $rc = 0 ] && [ "$(ids)" = "5 " ]; verdict ordering_key_claim_next_after_dead
# claim --wait: an event its key holds back is not claimable, so it does
# not end the wait, and the waiter does not spin claiming (which would hold
# the store for writing nearly all the time: other writers got exit 5);
# the ack of the event before it does end the wait.
ow=$w/owait
"$cli" "$ow" append -s a -t t --ordering-key k '{"n":1}' >/dev/null
"$cli" "$ow" append -s a -t t --ordering-key k '{"n":2}' >/dev/null
"$cli" "$ow" claim --consumer w --lease 1m >"$w/claim.out"
"$cli" "$ow" claim --consumer w --wait 1s >"$w/cw.out" 2>"$w/cw.err" &
cw=$!
sleep 0.3
ev "$ow" append -s a -t t --ordering-key k '{"n":3}'
expect ordering_key_claim_wait_lets_others_write 0 '^\{"event_id":3,'
wait $cw
cwrc=$?
sanitizer_check "$w/cw.err" "$cwrc" claim --wait
[ $cwrc = 0 ] && [ ! -s "$w/cw.out" ]; verdict ordering_key_claim_wait_held_back_times_out
(sleep 0.3; "$cli" "$ow" ack --token "$(field lease_token "$w/claim.out")" 1 >"$w/bg.out" 2>"$w/bg.err") &
bg=$!
t0=$(date +%s%N)
ev "$ow" claim --consumer w --wait 20s
t1=$(date +%s%N)
wait $bg
[ $rc = 0 ] && [ "$(ids)" = "2 " ] && [ $(((t1 - t0) / 1000000)) -lt 15000 ]; verdict ordering_key_claim_wait_wakes_on_ack

# ---- import: ordering_key and not_before ----------------------------------------
# 9999-01-01T00:00:00Z in microseconds, as a number and as a string.
nbus=253370764800000000
k129=$(printf 'k%.0s' $(seq 129))
{
  echo '{"source":"a","event_type":"t","payload":{"n":1},"not_before":"9999-01-01T00:00:00Z","ordering_key":"k1"}'
  echo '{"source":"a","event_type":"t","payload":{"n":2},"not_before":'$nbus'}'
  echo '{"source":"a","event_type":"t","payload":{"n":3},"not_before":"'$nbus'","ordering_key":"k\u00e9"}'
  echo '{"source":"a","event_type":"t","payload":{"n":4},"not_before":null,"ordering_key":null}'
  echo '{"source":"a","event_type":"t","payload":{"n":5},"not_before":"2020-01-01"}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":"soon"}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":1.5}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":-1}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":{}}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":true}'
  echo '{"source":"a","event_type":"t","payload":{},"ordering_key":7}'
  echo '{"source":"a","event_type":"t","payload":{},"ordering_key":""}'
  echo '{"source":"a","event_type":"t","payload":{},"ordering_key":"'$k129'"}'
  echo '{"source":"a","event_type":"t","payload":{},"ordering_key":"a\u0000b"}'
  echo '{"source":"a","event_type":"t","payload":{},"ordering_key":"k","ordering_key":"k"}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":"99999-01-01"}'
  echo '{"source":"a","event_type":"t","payload":{},"not_before":999999999999999999}'
} >"$w/nb.jsonl"
ev "$w/nbi" import "$w/nb.jsonl"
expect import_nb_ok_summary 4 '^\{"imported":5,"duplicate":0,"rejected":12\}$'
check import_nb_ok_reports_each_line [ "$(rejected_lines "$w/nb.jsonl")" = "6 7 8 9 10 11 12 13 14 15 16 17 " ]
ok=1
for l in 6 7 8 9 10 16; do grep -q "nb.jsonl:$l: \"not_before\" must be a time" "$w/err" || ok=0; done
check import_reason_not_before [ $ok = 1 ]
check import_reason_ordering_key_type grep -q 'nb.jsonl:11: "ordering_key" must be a string or null' "$w/err"
check import_reason_ordering_key_empty grep -qE 'nb.jsonl:12: .*ordering_key' "$w/err"
check import_reason_ordering_key_too_long grep -qE 'nb.jsonl:13: .*ordering_key' "$w/err"
check import_reason_ordering_key_nul grep -q 'nb.jsonl:14: "ordering_key": string contains \\u0000' "$w/err"
check import_reason_ordering_key_twice grep -q 'nb.jsonl:15: member "ordering_key" appears twice' "$w/err"
check import_reason_not_before_range grep -qE 'nb.jsonl:17: .*not_before' "$w/err"
ev "$w/nbi" get 1 2 3 4 5
cp "$w/out" "$w/nbi.get"
check import_not_before_iso grep -qE '^\{"event_id":1,.*"status":"delayed",.*"ordering_key":"k1","not_before":"9999-01-01T00:00:00.000000Z","delayed_until":"9999-01-01T00:00:00.000000Z"\}$' "$w/nbi.get"
check import_not_before_number grep -qE '^\{"event_id":2,.*"status":"delayed",.*"idempotency_key":null,"not_before":"9999-01-01T00:00:00.000000Z",' "$w/nbi.get"
check import_not_before_us_string grep -qE '^\{"event_id":3,.*"ordering_key":"ké","not_before":"9999-01-01T00:00:00.000000Z",' "$w/nbi.get"
check import_null_members grep -qE '^\{"event_id":4,.*"status":"pending",.*"idempotency_key":null\}$' "$w/nbi.get"
# A time already past holds nothing back and is not kept (as for append).
check import_not_before_past grep -qE '^\{"event_id":5,.*"status":"pending",.*"idempotency_key":null\}$' "$w/nbi.get"

# ---- round trip: export --all, import, export --all gives the same lines --------
"$cli" "$w/nbi" append -s a -t t --ordering-key $'q "x" \\ \t' -k idem1 -m '{"m":1}' '{"n":6}' >/dev/null
"$cli" "$w/nbi" append -s a -t t --ordering-key k1 --not-before 9998-12-31T23:00:00.5+01:00 '{"n":7}' >/dev/null
ev "$w/nbi" export --all
cp "$w/out" "$w/nbi.export"
[ $rc = 0 ] && [ "$(grep -c '"ordering_key":' "$w/nbi.export")" = 4 ] &&
  [ "$(grep -c '"not_before":' "$w/nbi.export")" = 4 ]; verdict roundtrip_ok_nb_exported
ev "$w/nbi2" import "$w/nbi.export"
expect roundtrip_ok_nb_import 0 '^\{"imported":7,"duplicate":0,"rejected":0\}$'
ev "$w/nbi2" export --all
# The not_before and delayed_until times are kept: only created_at differs.
sed -E 's/"created_at":"[^"]*"/"created_at":-/' "$w/nbi.export" >"$w/a"
sed -E 's/"created_at":"[^"]*"/"created_at":-/' "$w/out" >"$w/b"
check roundtrip_ok_nb_identical cmp -s "$w/a" "$w/b"

# ---- dead -----------------------------------------------------------------------
dd=$w/dead.evs
for i in 1 2 3; do "$cli" "$dd" append -s a -t "t$i" "{\"n\":$i}" >/dev/null; done
ev "$dd" dead
[ $rc = 0 ] && [ "$(ids)" = "" ] && [ "$(field more)" = false ]; verdict dead_none
for i in 1 2; do
  "$cli" "$dd" claim --consumer w --limit 1 >"$w/claim.out"
  "$cli" "$dd" reject --token "$(field lease_token "$w/claim.out")" "$i" >/dev/null
done
ev "$dd" dead
[ $rc = 0 ] && [ "$(ids)" = "1 2 " ] && [ "$(grep -c '"status":"dead",' "$w/out")" = 2 ] &&
  [ "$(field more)" = false ]; verdict dead_lists_rejected
cp "$w/out" "$w/dead.out"
ev "$dd" inbox --status dead
check dead_same_as_inbox_status_dead cmp -s "$w/out" "$w/dead.out"
ev "$dd" dead --limit 1
[ $rc = 0 ] && [ "$(ids)" = "1 " ] && [ "$(field more)" = true ]; verdict dead_limit
cur=$(field next_cursor | tr -d '"')
ev "$dd" dead --limit 1 --cursor "$cur"
[ $rc = 0 ] && [ "$(ids)" = "2 " ] && [ "$(field more)" = false ]; verdict dead_cursor
ev "$dd" inbox --status dead --limit 1 --cursor "$cur"
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict dead_cursor_is_inbox_status_dead_cursor
ev "$dd" dead --cursor "$cur" --type t1
error dead_cursor_bound_to_filters 4 'cursor'
ev "$dd" dead --type t2
[ $rc = 0 ] && [ "$(ids)" = "2 " ]; verdict dead_filter
ev "$dd" dead --descending
[ $rc = 0 ] && [ "$(ids)" = "2 1 " ]; verdict dead_descending
ev "$dd" dead --cursor-file "$w/dead.pos"
[ $rc = 0 ] && [ "$(ids)" = "1 2 " ] && ! grep -q next_cursor "$w/out" && [ -s "$w/dead.pos" ]; verdict dead_cursor_file
ev "$dd" dead --cursor-file "$w/dead.pos"
[ $rc = 0 ] && [ ! -s "$w/out" ]; verdict dead_cursor_file_resumes
ev "$dd" dead --status any
error dead_no_status 1 'dead does not take --status'
ev "$dd" dead --follow
error dead_no_follow 1 'dead does not take --follow'
ev "$dd" dead --limit 0
error dead_bad_limit 1 '--limit must be 1..100'
ev "$dd" dead 1
error dead_no_argument 1 "unexpected argument '1'"
"$cli" "$dd" redrive >/dev/null
ev "$dd" dead
[ $rc = 0 ] && [ "$(ids)" = "" ]; verdict dead_after_redrive

exit $status
