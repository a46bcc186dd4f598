/*
** main.c: the evstore command-line tool's entry point. Owns the option
** and command tables, the help texts, parsing the command line, opening
** the store and turning library status codes into exit codes.
*/
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"

static const struct {
  const char *name;
  char shrt;
  int has_arg;
} optdefs[O_COUNT] = {
    [O_SYNC] = {"sync", 0, 1},
    [O_RETENTION] = {"retention", 0, 1},
    [O_IDEM_WINDOW] = {"idempotency-window", 0, 1},
    [O_MAX_PAYLOAD] = {"max-payload", 0, 1},
    [O_DICT] = {"dict-compress", 0, 0},
    [O_SOURCE] = {"source", 's', 1},
    [O_TYPE] = {"type", 't', 1},
    [O_METADATA] = {"metadata", 'm', 1},
    [O_PRIORITY] = {"priority", 'p', 1},
    [O_KEY] = {"idempotency-key", 'k', 1},
    [O_LIMIT] = {"limit", 'n', 1},
    [O_SINCE] = {"since", 0, 1},
    [O_UNTIL] = {"until", 0, 1},
    [O_CURSOR] = {"cursor", 'c', 1},
    [O_CURSOR_FILE] = {"cursor-file", 0, 1},
    [O_ALL] = {"all", 0, 0},
    [O_PENDING] = {"pending", 0, 0},
    [O_STOP] = {"stop-on-error", 0, 0},
    [O_QUIET] = {"quiet", 'q', 0},
    [O_FORCE] = {"force", 'f', 0},
    [O_META] = {"meta", 0, 1},
    [O_STATUS] = {"status", 0, 1},
    [O_DESC] = {"descending", 0, 0},
    [O_MIN_ID] = {"min-id", 0, 1},
    [O_MAX_ID] = {"max-id", 0, 1},
    [O_FOLLOW] = {"follow", 0, 0},
    [O_CONSUMER] = {"consumer", 0, 1},
    [O_LEASE] = {"lease", 0, 1},
    [O_WAIT] = {"wait", 0, 1},
    [O_TOKEN] = {"token", 0, 1},
    [O_DELAY] = {"delay", 0, 1},
    [O_NOT_BEFORE] = {"not-before", 0, 1},
    [O_ORDERING_KEY] = {"ordering-key", 0, 1},
};

#define FILTER_HELP                                                                \
  "  -s, --source S        only events from source S\n"                            \
  "  -t, --type T          only events of type T\n"                                \
  "  --since TIME          only events created after TIME (exclusive)\n"           \
  "  --until TIME          only events created before TIME (exclusive)\n"          \
  "                        TIME: ISO-8601, e.g. 2026-11-23T10:00:00Z,\n"           \
  "                        2026-11-23T10:00:00.250+01:00, 2026-11-23 (midnight\n"  \
  "                        UTC), or integer microseconds since the epoch\n"    \
  "  -p, --priority P      only events of priority P: low, normal, high (1..3)\n"  \
  "  --meta KEY=VALUE      only events whose metadata has a top-level member\n"    \
  "                        KEY equal to VALUE: a string's text, or a number,\n"    \
  "                        true, false or null\n"                                  \
  "  --status S            pending, acknowledged, leased (held by a consumer),\n"  \
  "                        delayed (held back until a time), dead, claimable\n"    \
  "                        (pending and not held back by an older event of its\n"  \
  "                        ordering key: what claim would take), or any\n"         \
  "  --min-id N, --max-id N  only ids from N, up to N (inclusive)\n"               \
  "  --descending          newest first\n"

#define FILTERS                                                                    \
  (OPT(O_SOURCE) | OPT(O_TYPE) | OPT(O_SINCE) | OPT(O_UNTIL) | OPT(O_PRIORITY) |    \
   OPT(O_META) | OPT(O_STATUS) | OPT(O_DESC) | OPT(O_MIN_ID) | OPT(O_MAX_ID))

/* The filters that select events without an order or a status: claim
** takes the oldest claimable events, redrive the dead ones. */
#define SELECT_FILTERS (FILTERS & ~(OPT(O_STATUS) | OPT(O_DESC)))
#define SELECT_HELP                                                                \
  "  -s, --source S        only events from source S\n"                            \
  "  -t, --type T          only events of type T\n"                                \
  "  --since TIME, --until TIME  only events created after, before TIME\n"         \
  "                        (exclusive; TIME as for inbox)\n"                       \
  "  -p, --priority P      only events of priority P: low, normal, high (1..3)\n"  \
  "  --meta KEY=VALUE      only events whose metadata has KEY equal to VALUE\n"    \
  "  --min-id N, --max-id N  only ids from N, up to N (inclusive)\n"

/* The commands. A new one is a row here plus its run function. */
static const cli_cmd commands[] = {
    {"append", cmd_append,
     OPT(O_SOURCE) | OPT(O_TYPE) | OPT(O_METADATA) | OPT(O_PRIORITY) | OPT(O_KEY) |
         OPT(O_NOT_BEFORE) | OPT(O_ORDERING_KEY),
     0, 1,
     "--source S --type T [--metadata JSON] [--priority P]\n"
     "        [--idempotency-key K] [--not-before TIME] [--ordering-key KEY]\n"
     "        [PAYLOAD | -]",
     "store one event",
     "Store one event and print {\"event_id\":N,\"created_at\":\"...\",\"duplicate\":false}.\n"
     "PAYLOAD is a JSON object, stored byte for byte as given. Without PAYLOAD, or\n"
     "with \"-\", it is read from standard input; one final line break (as echo and\n"
     "text files end with) is not part of it. Creates DIR if it does not exist\n"
     "(and removes it again when the event is refused).\n"
     "\n"
     "  -s, --source S            where the event comes from (required)\n"
     "  -t, --type T              the event type (required)\n"
     "  -m, --metadata JSON       a JSON object of at most 8 KiB\n"
     "  -p, --priority P          low, normal (default) or high; or 1, 2, 3\n"
     "  -k, --idempotency-key K   when an event with key K was appended within the\n"
     "                            idempotency window, nothing is stored: the\n"
     "                            original's id is printed with \"duplicate\":true\n"
     "  --not-before TIME         out of the inbox and not claimable until TIME\n"
     "                            (status delayed); TIME as for --since. A time\n"
     "                            already past holds nothing back and is not kept\n"
     "  --ordering-key KEY        1..128 bytes, compared byte for byte: the events\n"
     "                            of one key are claimed one at a time, oldest\n"
     "                            first (one is claimable when every older one of\n"
     "                            KEY is acknowledged, deleted or dead and none is\n"
     "                            leased); the inbox is not affected\n"},
    {"import", cmd_import, OPT(O_STOP) | OPT(O_QUIET), 1, 1,
     "[--stop-on-error] [--quiet] FILE.jsonl | -",
     "append the events of a JSON-lines file",
     "Append the events of FILE (\"-\": standard input), one JSON object per line:\n"
     "  {\"source\":\"stripe\",\"event_type\":\"invoice.paid\",\"payload\":{\"id\":\"in_1\"},\n"
     "   \"metadata\":{\"ip\":\"10.0.0.1\"},\"idempotency_key\":\"evt_1\",\"priority\":\"high\",\n"
     "   \"ordering_key\":\"cus_9\",\"not_before\":\"2026-11-24T08:00:00Z\"}\n"
     "source and event_type (strings) and payload (an object) are required;\n"
     "metadata (an object or null), idempotency_key (a string or null), priority\n"
     "(\"low\", \"normal\", \"high\" or 1..3), ordering_key (a string or null, as\n"
     "append --ordering-key) and not_before (a time as append --not-before takes:\n"
     "an ISO-8601 string or integer microseconds since the epoch, as a string or\n"
     "a number; or null) are optional. event_id, created_at, status,\n"
     "acknowledged_at, delivery_count, lease_token, lease_expires_at, leased_by\n"
     "and delayed_until, which export writes, are accepted and ignored: the store\n"
     "assigns them and every imported event is pending (or delayed, by its\n"
     "not_before), never delivered. Any other member rejects the line. payload\n"
     "and metadata are stored byte for byte as they appear in the line. Blank\n"
     "lines are skipped. An object not closed at the end of its line continues\n"
     "on the next (export writes a payload that contains line breaks that way).\n"
     "Creates DIR if it does not exist (and removes it again when every line is\n"
     "rejected).\n"
     "\n"
     "A rejected line is reported on stderr as \"FILE:LINE: reason\" and the import\n"
     "goes on; an event whose idempotency key the store already has is counted as\n"
     "a duplicate, not rejected. At the end one line goes to stdout:\n"
     "  {\"imported\":N,\"duplicate\":N,\"rejected\":N}\n"
     "On a terminal, stderr shows progress: lines, rate and, for a file, percent\n"
     "done and ETA. Events are appended in transactions of up to 500 lines.\n"
     "\n"
     "  --stop-on-error   stop at the first rejected line: the lines before it are\n"
     "                    imported, none after; the summary adds \"stopped_at_line\"\n"
     "  -q, --quiet       no progress display\n"
     "\n"
     "Exit status 0 when no line was rejected, 4 when some were. Any other error\n"
     "(I/O, locked store) stops the import with its own status; the summary says\n"
     "what was imported before it.\n"},
    {"get", cmd_get, 0, 1, -1, "ID...", "print events by id",
     "Print each event as one line of JSON (the fields are listed in\n"
     "`evstore --help`). An id that does not exist is reported on stderr\n"
     "(exit 2) and the others are still printed.\n"},
    {"inbox", cmd_inbox, FILTERS | OPT(O_LIMIT) | OPT(O_CURSOR) | OPT(O_CURSOR_FILE) | OPT(O_FOLLOW), 0, 0,
     "[--limit N] [FILTERS] [--cursor C | --cursor-file F] [--follow]",
     "print a page of pending events, oldest first",
     "Print up to N pending events (--status: others), oldest first (newest with\n"
     "--descending), one JSON object per line as get prints them, then one more\n"
     "line with the position after them:\n"
     "  {\"next_cursor\":\"...\",\"more\":true}\n"
     "\"more\" says whether further events matched. Pass the cursor to --cursor\n"
     "with the same filters to read the next page; a cursor never skips or\n"
     "repeats an event, whatever is appended, acknowledged or deleted meanwhile.\n"
     "\n"
     "  -n, --limit N         at most N events, 1..100 (default 50)\n" FILTER_HELP
     "  -c, --cursor C        resume after the page C came from\n"
     "  --cursor-file F       keep the position in file F instead: resume after the\n"
     "                        cursor stored in F (when F exists and --cursor is not\n"
     "                        given), and once the page is written, store the next\n"
     "                        cursor in F rather than printing the cursor line\n"
     "  --follow              do not stop: after the page, wait for more events and\n"
     "                        print them as they are committed (by this or any\n"
     "                        other process), page by page, with no cursor lines\n"
     "                        (F, if given, is updated after each page); stop it\n"
     "                        with a signal. Not with --descending\n"
     "\n"
     "Paging through the inbox from a shell (the loop ends at the first empty\n"
     "page, or when evstore fails):\n"
     "  while evstore DIR inbox --cursor-file pos >page.jsonl && [ -s page.jsonl ]; do\n"
     "    evstore DIR ack - <page.jsonl    # after processing it\n"
     "  done\n"
     "A cursor is bound to its filters: changing one is an error (exit 4);\n"
     "changing --limit is fine.\n"},
    {"dead", cmd_dead, (FILTERS & ~OPT(O_STATUS)) | OPT(O_LIMIT) | OPT(O_CURSOR) | OPT(O_CURSOR_FILE),
     0, 0, "[--limit N] [FILTERS] [--cursor C | --cursor-file F]",
     "print a page of dead events, oldest first",
     "Print up to N dead events: rejected (reject), or whose lease ran out at the\n"
     "store's max_deliveries (config). inbox --status dead does the same: one JSON\n"
     "object per line as get prints them, then the cursor line\n"
     "  {\"next_cursor\":\"...\",\"more\":true}\n"
     "to pass to --cursor for the next page. redrive puts dead events back in the\n"
     "inbox; delete removes them.\n"
     "\n"
     "  -n, --limit N         at most N events, 1..100 (default 50)\n"
     "  -s, --source S, -t, --type T, --since TIME, --until TIME, --priority P,\n"
     "  --meta KEY=VALUE, --min-id N, --max-id N, --descending\n"
     "                        the filters of inbox (but --status)\n"
     "  -c, --cursor C        resume after the page C came from\n"
     "  --cursor-file F       keep the position in file F, as inbox does\n"},
    {"ack", cmd_ack, OPT(O_TOKEN), 1, -1, "ID... | - | --token T ID", "acknowledge pending events",
     "Acknowledge the events, in one transaction, and print\n"
     "{\"event_id\":N,\"acknowledged_at\":\"...\"} for each. An id that does not exist\n"
     "(exit 2) or is already acknowledged (exit 3) is reported on stderr and\n"
     "skipped; the others are acknowledged. With several failures the exit status\n"
     "is the first one's. \"-\" reads standard input, one line at a time: a JSON\n"
     "object as inbox, get, export, ack or delete print gives its event_id (the\n"
     "cursor line of inbox is skipped), so `evstore DIR inbox | evstore DIR ack -`\n"
     "acknowledges exactly that page; any other line holds ids separated by white\n"
     "space. A bad line is reported with its number (exit 1, as a bad id on the\n"
     "command line) and nothing is acknowledged.\n"
     "\n"
     "  --token T     acknowledge the one event ID that claim leased with token T\n"
     "                (its \"lease_token\"): exit 8 when T no longer holds the\n"
     "                lease (it ran out or was settled; the event may be another\n"
     "                consumer's now) and nothing is acknowledged\n"},
    {"claim", cmd_claim, SELECT_FILTERS | OPT(O_LIMIT) | OPT(O_CONSUMER) | OPT(O_LEASE) | OPT(O_WAIT),
     0, 0, "--consumer NAME [--limit N] [--lease DUR] [FILTERS] [--wait DUR]",
     "lease the oldest claimable events to a consumer",
     "Lease up to N of the oldest claimable events (pending, or whose lease ran\n"
     "out) to consumer NAME and print each as get does, with the lease:\n"
     "  ...,\"delivery_count\":1,\"lease_token\":7,\n"
     "   \"lease_expires_at\":\"2026-11-23T16:08:31.123456Z\",\"leased_by\":\"worker-1\"}\n"
     "Until the lease runs out no other claim gets these events. Settle each with\n"
     "its token: ack --token, renew, release or reject. A lease that runs out puts\n"
     "the event back; after the store's max_deliveries deliveries (config) it is\n"
     "dead instead (the dead command lists them, redrive brings them back).\n"
     "The events of one ordering key (append --ordering-key) are claimed one at a\n"
     "time, oldest first: the next only once the one before is acknowledged,\n"
     "deleted or dead. Prints nothing when nothing is claimable. Opens the store\n"
     "for writing.\n"
     "\n"
     "  --consumer NAME       who claims (1..100 bytes, required)\n"
     "  -n, --limit N         at most N events, 1..100 (default 50)\n"
     "  --lease DUR           how long the lease holds, at most 12h (default 30s)\n"
     SELECT_HELP
     "  --wait DUR            when nothing is claimable, wait up to DUR (forever:\n"
     "                        no limit) for an event to become claimable, and\n"
     "                        claim it; the store is not held while waiting, so\n"
     "                        other processes append meanwhile. Nothing after DUR:\n"
     "                        nothing printed, exit 0\n"},
    {"renew", cmd_renew, OPT(O_TOKEN) | OPT(O_LEASE), 1, 1, "--token T [--lease DUR] ID",
     "extend a claim's lease",
     "Extend the lease that token T holds on event ID to DUR from now and print\n"
     "{\"event_id\":N,\"lease_expires_at\":\"...\"}. Exit 8 when T no longer holds\n"
     "the lease.\n"
     "\n"
     "  --token T     the event's lease_token, as claim printed it (required)\n"
     "  --lease DUR   the new lease, at most 12h (default 30s)\n"},
    {"release", cmd_release, OPT(O_TOKEN) | OPT(O_DELAY), 1, 1, "--token T [--delay DUR] ID",
     "give a claimed event back",
     "Give event ID, leased with token T, back to the inbox: now, or after DUR\n"
     "(it stays leased, to nobody, until then). The delivery still counts towards\n"
     "max_deliveries: released at the last one, the event is dead. Prints\n"
     "{\"event_id\":N,\"released\":true}. Exit 8 when T no longer holds the lease.\n"
     "\n"
     "  --token T     the event's lease_token, as claim printed it (required)\n"
     "  --delay DUR   claimable again only after DUR, at most 12h (default 0)\n"},
    {"reject", cmd_reject, OPT(O_TOKEN), 1, 1, "--token T ID",
     "send a claimed event to dead",
     "Make event ID, leased with token T, dead at once: kept, out of the inbox,\n"
     "listed by dead (or inbox --status dead), back with redrive. Prints\n"
     "{\"event_id\":N,\"rejected\":true}. Exit 8 when T no longer holds the lease.\n"
     "\n"
     "  --token T     the event's lease_token, as claim printed it (required)\n"},
    {"redrive", cmd_redrive, SELECT_FILTERS, 0, 0, "[FILTERS]",
     "put dead events back in the inbox",
     "Put every dead event that the filters match back in the inbox, pending,\n"
     "with a delivery count of 0, and print {\"redriven\":N}.\n"
     "\n" SELECT_HELP},
    {"delete", cmd_delete, OPT(O_FORCE), 1, -1, "[--force] ID... | -",
     "delete events for good",
     "Delete the events (pending or acknowledged), in one transaction, and print\n"
     "{\"event_id\":N,\"deleted\":true} for each. An id that does not exist is\n"
     "reported on stderr (exit 2) and the others are deleted. \"-\" reads ids or\n"
     "JSON lines from standard input, as ack does. A deleted event's idempotency key is forgotten.\n"
     "\n"
     "  -f, --force   an id that does not exist is not an error: it prints\n"
     "                \"deleted\":false\n"},
    {"stats", cmd_stats, 0, 0, 0, "", "print the store's statistics",
     "Print one JSON object: pending, acknowledged, next_id, segments, disk_bytes,\n"
     "payload_bytes, payload_stored_bytes, compression_ratio, oldest_pending_at\n"
     "(null when nothing is pending), oldest_pending_age_us, index_bytes, and\n"
     "recovered_bytes_dropped / recovered_records_dropped: the torn or\n"
     "uncommitted tail a crash left at the end of the log (stats opens the store\n"
     "read-only and leaves it there; the next open for writing cuts it). Works\n"
     "while an application has the store open: it shows what was committed.\n"},
    {"compact", cmd_compact, 0, 0, 0, "", "reclaim the space of dead events",
     "Remove sealed segments whose events are all dead and rewrite those with at\n"
     "least half (the store's compact_dead_percent) dead: deleted events, events\n"
     "past retention, and acknowledged events whose idempotency key (if any) is\n"
     "past its window. Live events keep their ids, times and payload bytes;\n"
     "acknowledged events that are removed can no longer be read. Prints\n"
     "  {\"segments_before\":N,\"segments_after\":N,\"segments_removed\":N,\n"
     "   \"segments_rewritten\":N,\"events_removed\":N,\"bytes_before\":N,\n"
     "   \"bytes_after\":N,\"max_pause_us\":N}\n"
     "Stores also compact themselves in the background; this runs it now.\n"},
    {"verify", cmd_verify, 0, 0, 0, "", "check checksums, payloads and the index",
     "Check every record's checksum, every compressed payload, and that the index\n"
     "agrees with a replay of the log. Prints\n"
     "  {\"ok\":true,\"segments\":N,\"records\":N,\"events\":N,\"payloads\":N,\"problems\":0,\n"
     "   \"recovered_bytes_dropped\":0,\"recovered_records_dropped\":0}\n"
     "When a check fails, the first problem goes to stderr, \"ok\" is false and the\n"
     "exit status is 6; a store that cannot be opened because it is damaged is\n"
     "also status 6 (`evstore DIR repair` is the way out). verify never changes\n"
     "the store: it opens it read-only, also while an application has it open\n"
     "for writing (it checks what was committed when it opened). A torn or\n"
     "uncommitted tail left by a crash is not a failed check:\n"
     "the next open for writing cuts it; the recovered_* fields say how much that\n"
     "is, and a warning goes to stderr when it is not 0.\n"},
    {"config", cmd_config, 0, 0, -1, "[KEY=VALUE...]", "show or change the store's settings",
     "Print the store's settings as one JSON object:\n"
     "  {\"retention_us\":604800000000,\"idempotency_window_us\":86400000000,\n"
     "   \"max_payload\":409600,\"max_metadata\":8192,\"compress_threshold\":1024,\n"
     "   \"compress_level\":1,\"dict_compress\":false,\"segment_size\":67108864,\n"
     "   \"max_deliveries\":5}\n"
     "(-1 for retention or the window means forever). They are recorded in the\n"
     "store when it is created and every program that opens it uses them: the\n"
     "C library, the SQL module and this tool. With KEY=VALUE arguments, change\n"
     "them (durably, before anything else opens the store) and print the result:\n"
     "  retention=DUR|forever           events older than DUR are invisible and\n"
     "                                  compaction removes them\n"
     "  idempotency_window=DUR|forever  how long an idempotency key is remembered\n"
     "  max_payload=BYTES               largest payload accepted\n"
     "  max_metadata=BYTES              largest metadata accepted (at most 65535)\n"
     "  compress_threshold=BYTES|never  payloads this large and up are compressed\n"
     "  compress_level=N                zstd level (negative: faster)\n"
     "  dict_compress=on|off            compress small payloads with a dictionary\n"
     "  segment_size=BYTES              log segment size, 4096..1073741824\n"
     "  max_deliveries=N                deliveries (claims) of an event before a\n"
     "                                  lease that runs out makes it dead, 1..255\n"
     "DUR is Nd, Nh, Nm, Ns, Nms, Nus or plain microseconds; 0 is forever. A\n"
     "shorter retention hides older events at once and lets compaction remove\n"
     "them. Without arguments config only reads (read-only, beside a writer);\n"
     "changing a setting needs the store to itself (exit 5 while it is open).\n"},
    {"repair", cmd_repair, 0, 0, 0, "", "recover a damaged store, keeping a copy",
     "Make a store that fails to open because of damage usable again, destroying\n"
     "only what is damaged, and keep a copy of everything it changes in\n"
     "DIR/repair-<UTC time>/ (the original segment files, manifest and\n"
     "checkpoint). It drops each transaction a damaged record belongs to (the\n"
     "intact transactions before and after it stay, byte for byte), cuts a torn\n"
     "tail, adopts segment files that an older evstore.manifest does not list\n"
     "when they continue the log, and removes from the manifest sealed segments\n"
     "whose files are missing. Then it opens the store and checks it as verify\n"
     "does. Prints\n"
     "  {\"changed\":true,\"segments_rewritten\":N,\"segments_adopted\":N,\n"
     "   \"segments_lost\":N,\"transactions_dropped\":N,\"records_dropped\":N,\n"
     "   \"bytes_dropped\":N,\"saved_to\":\"repair-...\"}\n"
     "Run verify first: it reports damage without changing anything. Exit 6 when\n"
     "the store cannot be repaired (the message says why; nothing is changed).\n"},
    {"export", cmd_export, FILTERS | OPT(O_ALL) | OPT(O_PENDING), 0, 0,
     "[--pending | --all] [FILTERS]",
     "print events as JSON lines that import reads",
     "Print events, oldest first, one JSON object per line as get prints them:\n"
     "the format import reads, payload and metadata byte for byte (white space\n"
     "around the object aside): export, import and export again give the same\n"
     "lines but for ids and times.\n"
     "\n"
     "  --pending             pending events only (the default: import makes every\n"
     "                        event pending, so acknowledged ones would come back\n"
     "                        as work to do)\n"
     "  --all                 acknowledged events too (--status any)\n" FILTER_HELP},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The general help: head, the command list, tail. */
static const char general_help_head[] =
    "usage: evstore [OPTIONS] DIR COMMAND [ARGS]\n"
    "       evstore help [COMMAND]  |  evstore COMMAND --help  |  evstore --version\n"
    "\n"
    "A command-line client for an evstore store, the directory DIR. append and\n"
    "import create it; the other commands need an existing store. The commands\n"
    "that only read (get, inbox, dead, export, stats, verify, and config without\n"
    "arguments) open the store read-only: they need only read permission and\n"
    "work while an application has it open for writing, showing what it has\n"
    "committed. One process at a time may open a store for writing: while an\n"
    "application has it open, the commands that write (append, import, ack,\n"
    "delete, claim, renew, release, reject, redrive, compact, config KEY=VALUE,\n"
    "repair) exit 5.\n"
    "\n"
    "Commands:\n";
static const char general_help_tail[] =
    "\n"
    "Options of every command (before or after COMMAND):\n"
    "  --sync off|normal|full          durability of each write (default normal)\n"
    "The store's settings, for a store append or import creates (default in\n"
    "brackets). They are recorded in it and every program that opens it uses\n"
    "them; on an existing store these options must equal the recorded values\n"
    "(exit 1 otherwise): `evstore DIR config` shows and changes them.\n"
    "  --retention DUR|forever         events older than DUR are invisible [7d]\n"
    "  --idempotency-window DUR|forever  how long a key is remembered [24h]\n"
    "  --max-payload BYTES             largest payload accepted [409600]\n"
    "  --dict-compress                 compress small payloads with a dictionary\n"
    "                                  the store trains [off]\n"
    "  DUR is Nd, Nh, Nm, Ns, Nms, Nus or plain microseconds; 0 is forever.\n"
    "\n"
    "Output is JSON, one object per line; errors go to stderr as\n"
    "\"evstore: COMMAND: message\". An event is printed as\n"
    "  {\"event_id\":1,\"created_at\":\"2026-11-23T16:08:01.123456Z\",\"source\":\"stripe\",\n"
    "   \"event_type\":\"invoice.paid\",\"payload\":{...},\"metadata\":null,\n"
    "   \"status\":\"pending\",\"acknowledged_at\":null,\"priority\":\"normal\",\n"
    "   \"idempotency_key\":null}\n"
    "with payload and metadata exactly as stored (less white space around the\n"
    "object), times in UTC with microseconds, status \"pending\",\n"
    "\"acknowledged\", \"leased\" or \"dead\". An event that was ever claimed adds\n"
    "\"delivery_count\"; one leased to a consumer adds \"lease_token\",\n"
    "\"lease_expires_at\" and \"leased_by\" (see claim); one held back until a\n"
    "time adds \"delayed_until\". An event appended with an ordering key or a\n"
    "not-before time adds \"ordering_key\" or \"not_before\" (see append).\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  usage: unknown command or option, bad option value or id, empty DIR\n"
    "  2  not found: no such event, DIR is not a store (or not a directory),\n"
    "     no such input file\n"
    "  3  conflict: event already acknowledged\n"
    "  4  invalid input: JSON, event field, cursor; import rejected lines\n"
    "  5  locked: another process has the store open for writing\n"
    "  6  corrupt: the store failed a check (verify, or opening it)\n"
    "  7  any other error (I/O, disk full, out of memory)\n"
    "  8  stale lease token: it no longer holds the event (ack --token, renew,\n"
    "     release, reject)\n"
    "With several ids (get, ack, delete), each is handled on its own and the\n"
    "status is that of the first failure. The import line format: evstore help\n"
    "import.\n";

static const cli_cmd *find_command(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(commands[i].name, name)) return &commands[i];
  return NULL;
}

static void print_help(const cli_cmd *cmd) {
  if (cmd) {
    printf("usage: evstore DIR %s%s%s\n\n%s", cmd->name, *cmd->synopsis ? " " : "",
           cmd->synopsis, cmd->help);
    printf("\nOptions of every command and exit codes: evstore --help\n");
    return;
  }
  fputs(general_help_head, stdout);
  for (size_t i = 0; i < NCOMMANDS; i++)
    printf("  %-8s %s\n", commands[i].name, commands[i].summary);
  fputs(general_help_tail, stdout);
}

/* ---- Messages and exit codes ------------------------------------------ */

__attribute__((format(printf, 2, 0)))
static void vmessage(cli *c, const char *fmt, va_list ap) {
  /* Whole lines of stdout first: with both sent to one file, a message
  ** must not land inside a JSON line, nor ahead of the lines before it. */
  fflush(stdout);
  fputs("evstore: ", stderr);
  if (c->cmd) fprintf(stderr, "%s: ", c->cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

int cli_fail(cli *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(c, fmt, ap);
  va_end(ap);
  return code;
}

int cli_usage(cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmessage(c, fmt, ap);
  va_end(ap);
  if (c->cmd)
    fprintf(stderr, "usage: evstore DIR %s%s%s\n(more: evstore help %s)\n", c->cmd->name,
            *c->cmd->synopsis ? " " : "", c->cmd->synopsis, c->cmd->name);
  else
    fputs("usage: evstore [OPTIONS] DIR COMMAND [ARGS]  (more: evstore --help)\n", stderr);
  return EX_USAGE;
}

int cli_exit_code(int rc) {
  switch (rc) {
  case EVS_OK: return EX_OK;
  case EVS_ENOTFOUND: return EX_NOTFOUND;
  case EVS_ECONFLICT: return EX_CONFLICT;
  case EVS_EINVAL:
  case EVS_EJSON:
  case EVS_ETOOBIG:
  case EVS_ECURSOR: return EX_INVALID;
  case EVS_ELOCKED: return EX_LOCKED;
  case EVS_ECORRUPT: return EX_CORRUPT;
  case EVS_ESTALE: return EX_STALE;
  default: return EX_ERROR;
  }
}

int cli_lib_fail(cli *c, int rc) {
  return cli_fail(c, cli_exit_code(rc), "%s", evs_errmsg(c->s));
}

int cli_flush(cli *c) {
  if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
  return cli_fail(c, EX_ERROR, "cannot write to standard output: %s", strerror(errno));
}

/* ---- Opening the store ------------------------------------------------- */

/* The [store] settings c->eo asks for (non-zero fields), checked against
** what an existing store records. */
static int check_settings(cli *c, const evs_options *want, int ro) {
  evs_options have;
  evs_store_options(c->s, &have);
  evs_options r;
  if (evs_options_resolve(want, &r)) return cli_fail(c, EX_USAGE, "%s", evs_errmsg(NULL));
  const char *diff = want->retention_us && r.retention_us != have.retention_us ? "retention"
                     : want->idempotency_window_us &&
                             r.idempotency_window_us != have.idempotency_window_us
                         ? "idempotency_window"
                     : want->max_payload && r.max_payload != have.max_payload ? "max_payload"
                     : want->dict_compress && r.dict_compress != have.dict_compress
                         ? "dict_compress"
                         : NULL;
  if (!diff) return 0;
  return cli_fail(c, EX_USAGE,
                  "%s is a setting of the store, recorded when it was created; this option "
                  "differs from it%s. See `evstore %s config`; `evstore %s config %s=VALUE` "
                  "changes it for every program that opens the store",
                  diff, ro ? " (this command opens the store read-only: it never changes one)" : "",
                  c->dir, c->dir, diff);
}

/* stat(DIR) failed with errno. A DIR whose path runs through a file
** (ENOTDIR) does not exist either: exit 2 as for a missing one, but for
** commands that would create it, where it is an error as the library's
** "cannot create directory" is. */
static int no_dir(cli *c, int mode) {
  int e = errno;
  if (e == ENOENT || (e == ENOTDIR && mode != OPEN_CREATE))
    return cli_fail(c, EX_NOTFOUND, "%s: no such store (%s)", c->dir,
                    e == ENOENT ? "the directory does not exist" : strerror(e));
  return cli_fail(c, EX_ERROR, "%s: %s", c->dir, strerror(e));
}

int cli_need_dir(cli *c) {
  struct stat st;
  if (stat(c->dir, &st)) return no_dir(c, OPEN_EXISTING);
  if (!S_ISDIR(st.st_mode))
    return cli_fail(c, EX_NOTFOUND, "%s is not a store (not a directory)", c->dir);
  return 0;
}

static int dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n == 0;
}

int cli_open(cli *c, int mode) {
  struct stat st;
  int exists = 0, errno_at_stat = 0, empty = 0;
  if (stat(c->dir, &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return cli_fail(c, EX_NOTFOUND, "%s is not a store (not a directory)", c->dir);
    size_t n = strlen(c->dir) + sizeof "/evstore.meta";
    char *meta = malloc(n);
    if (!meta) return cli_fail(c, EX_ERROR, "out of memory");
    snprintf(meta, n, "%s/evstore.meta", c->dir);
    exists = access(meta, F_OK) == 0;
    free(meta);
    if (!exists) empty = dir_is_empty(c->dir);
  } else if ((errno_at_stat = errno) != ENOENT || mode != OPEN_CREATE) {
    return no_dir(c, mode);
  }
  if (!exists && mode != OPEN_CREATE)
    return cli_fail(c, EX_NOTFOUND, "%s is not an evstore store (it has no evstore.meta)",
                    c->dir);
  evs_options o = c->eo;
  if (exists) evs_options_use_stored(&o); /* compared after */
  o.read_only = mode == OPEN_READONLY;
  int rc = evs_store_open(c->dir, &o, &c->s);
  if (rc) return cli_fail(c, cli_exit_code(rc), "%s", evs_errmsg(NULL));
  if (!exists) c->created = errno_at_stat == ENOENT ? CREATED_DIR : empty ? CREATED_STORE : 0;
  return exists ? check_settings(c, &c->eo, o.read_only) : 0;
}

/* ---- Ids --------------------------------------------------------------- */

static int push_id(uint64_t **ids, size_t *n, size_t *cap, uint64_t id) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    uint64_t *p = realloc(*ids, nc * sizeof *p);
    if (!p) return -1;
    *ids = p;
    *cap = nc;
  }
  (*ids)[(*n)++] = id;
  return 0;
}

/* The id of one JSON object that inbox, get, export, ack or delete
** printed: its event_id member. The cursor line inbox ends a page with
** has none and is skipped (*has = 0). Returns 0, 1 when the object only
** ends too early (it goes on on the next line), -1 with *why set, or -2
** with *why set when it is not JSON. */
static int json_line_id(const char *obj, size_t len, uint64_t *id, int *has,
                        const char **why) {
  size_t off, pos = 0;
  evs_json_span name, value;
  int cursor_line = 0, incomplete;
  *has = 0;
  if (evs_json_check(obj, len, &off, why, &incomplete)) return incomplete ? 1 : -2;
  while (!evs_json_member_next(obj, len, &pos, &name, &value)) {
    if (jl_name_is(obj + name.off, name.len, "next_cursor")) cursor_line = 1;
    if (!jl_name_is(obj + name.off, name.len, "event_id")) continue;
    char num[24];
    if (value.len >= sizeof num) goto bad;
    memcpy(num, obj + value.off, value.len);
    num[value.len] = 0;
    if (parse_u64(num, id)) goto bad;
    *has = 1;
    return 0;
  }
  if (cursor_line) return 0;
  *why = "a JSON object without \"event_id\"";
  return -1;
bad:
  *why = "\"event_id\" is not an event id (a positive integer)";
  return -1;
}

/* The id of obj[0..*olen), read from line `first` on, appended to ids.
** *olen stays when the object goes on; else it becomes 0. Returns 0 or
** an exit code (message printed). */
static int id_of_object(cli *c, const char *obj, size_t *olen, size_t first, uint64_t **ids,
                        size_t *n, size_t *cap) {
  uint64_t id;
  int has;
  const char *why;
  int r = json_line_id(obj, *olen, &id, &has, &why);
  if (r == 1) return 0;
  *olen = 0;
  if (r < 0)
    return cli_fail(c, EX_USAGE, "standard input:%zu: %s%s", first,
                    r == -2 ? "invalid JSON: " : "", why);
  if (has && push_id(ids, n, cap, id)) return cli_fail(c, EX_ERROR, "out of memory");
  return 0;
}

/* Ids from stdin, one line at a time: a JSON object as inbox, get and
** export print (its event_id; inbox's cursor line is skipped), or ids
** separated by white space. An object left open at the end of a line goes
** on on the next, as export writes a payload with line breaks. A bad line
** is a bad id, as on the command line (exit 1), named by its number. */
static int read_ids(cli *c, uint64_t **ids, size_t *n, size_t *cap) {
  char *line = NULL, *obj = NULL;
  size_t lcap = 0, lineno = 0, olen = 0, ocap = 0, first = 0;
  ssize_t len;
  int rc = 0;
  while (!rc && (len = getline(&line, &lcap, stdin)) >= 0) {
    lineno++;
    char *p = line, *end = line + len;
    if (!olen) {
      while (p < end && strchr(" \t\r\n", *p)) p++;
      first = lineno;
    }
    if (olen || (p < end && *p == '{')) {
      size_t add = (size_t)(end - p);
      if (olen + add > ocap) {
        size_t nc = (olen + add) * 2;
        char *q = realloc(obj, nc);
        if (!q) {
          rc = cli_fail(c, EX_ERROR, "out of memory");
          break;
        }
        obj = q;
        ocap = nc;
      }
      /* Only a line with a '}' can close the object: checking it again
      ** after every line of a long payload would be quadratic. */
      int more = olen && !memchr(p, '}', add);
      memcpy(obj + olen, p, add);
      olen += add;
      if (!more) rc = id_of_object(c, obj, &olen, first, ids, n, cap);
      continue;
    }
    for (char *tok = strtok(p, " \t\r\n"); tok && !rc; tok = strtok(NULL, " \t\r\n")) {
      uint64_t id;
      if (parse_u64(tok, &id))
        rc = cli_fail(c, EX_USAGE,
                      "standard input:%zu: '%.40s%s' is not an event id (a positive "
                      "integer, or a JSON line with \"event_id\")",
                      lineno, tok, strlen(tok) > 40 ? "..." : "");
      else if (push_id(ids, n, cap, id))
        rc = cli_fail(c, EX_ERROR, "out of memory");
    }
  }
  if (!rc && olen && !(rc = id_of_object(c, obj, &olen, first, ids, n, cap)) && olen)
    rc = cli_fail(c, EX_USAGE, "standard input:%zu: JSON object not closed at the end",
                  first);
  if (!rc && ferror(stdin))
    rc = cli_fail(c, EX_ERROR, "cannot read standard input: %s", strerror(errno));
  free(line);
  free(obj);
  return rc;
}

int cli_ids(cli *c, uint64_t **ids, size_t *n) {
  size_t cap = 0;
  int rc = 0, stdin_done = 0;
  *ids = NULL;
  *n = 0;
  for (int i = 0; i < c->nargs && !rc; i++) {
    uint64_t id;
    if (!strcmp(c->args[i], "-")) {
      if (!stdin_done) rc = read_ids(c, ids, n, &cap);
      stdin_done = 1;
    } else if (parse_u64(c->args[i], &id)) {
      rc = cli_usage(c, "'%s' is not an event id (a positive integer)", c->args[i]);
    } else if (push_id(ids, n, &cap, id)) {
      rc = cli_fail(c, EX_ERROR, "out of memory");
    }
  }
  if (rc) {
    free(*ids);
    *ids = NULL;
  }
  return rc;
}

/* ---- Command line ------------------------------------------------------ */

static int find_option(const char *a, const char **inl) {
  *inl = NULL;
  if (a[1] == '-') {
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (int o = 0; o < O_COUNT; o++)
      if (strlen(optdefs[o].name) == len && !memcmp(optdefs[o].name, name, len)) {
        if (eq) *inl = eq + 1;
        return o;
      }
    return -1;
  }
  for (int o = 0; o < O_COUNT; o++)
    if (optdefs[o].shrt && optdefs[o].shrt == a[1]) {
      if (a[2]) *inl = a + 2;
      return o;
    }
  return -1;
}

/* Returns -1 to go on, else an exit code. */
static int parse_args(cli *c, int argc, char **argv) {
  int dashdash = 0, help = 0;
  c->args = argv + 1;
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (dashdash || a[0] != '-' || !a[1]) {
      if (!c->dir) {
        c->dir = a;
      } else if (!c->cmd) {
        if (!(c->cmd = find_command(a))) return cli_usage(c, "unknown command '%s'", a);
      } else {
        c->args[c->nargs++] = a;
      }
      continue;
    }
    if (!strcmp(a, "--")) {
      dashdash = 1;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      help = 1;
      break;
    }
    if (!strcmp(a, "--version")) {
      printf("evstore %s (library %s)\n", EVS_VERSION_STRING, evs_version());
      return EX_OK;
    }
    const char *val;
    int o = find_option(a, &val);
    if (o < 0) return cli_usage(c, "unknown option '%s'", a);
    if (o >= O_NGLOBAL && !(c->cmd && (c->cmd->opts & OPT(o)))) {
      if (c->cmd)
        return cli_usage(c, "%s does not take --%s", c->cmd->name, optdefs[o].name);
      return cli_usage(c, "--%s must come after the command", optdefs[o].name);
    }
    if (!optdefs[o].has_arg) {
      if (val) return cli_usage(c, "--%s takes no value", optdefs[o].name);
      val = "";
    } else if (!val) {
      if (i + 1 >= argc) return cli_usage(c, "--%s needs a value", optdefs[o].name);
      val = argv[++i];
    }
    c->opt[o] = val;
  }
  if (c->dir && !strcmp(c->dir, "help")) {
    print_help(c->cmd);
    return EX_OK;
  }
  if (help) {
    /* `evstore append --help`: the command is in DIR's place. */
    print_help(c->cmd ? c->cmd : c->dir ? find_command(c->dir) : NULL);
    return EX_OK;
  }
  if (!c->dir) return cli_usage(c, "missing DIR and COMMAND");
  if (!c->cmd) return cli_usage(c, "missing COMMAND after %s", c->dir);
  if (!*c->dir) return cli_usage(c, "DIR is empty");
  if (c->nargs < c->cmd->min_args) return cli_usage(c, "missing argument");
  if (c->cmd->max_args >= 0 && c->nargs > c->cmd->max_args)
    return cli_usage(c, "unexpected argument '%s'", c->args[c->cmd->max_args]);
  return -1;
}

static int store_options(cli *c) {
  const char *v;
  if ((v = c->opt[O_SYNC])) {
    if (!strcmp(v, "off")) c->eo.sync = EVS_SYNC_OFF;
    else if (!strcmp(v, "normal")) c->eo.sync = EVS_SYNC_NORMAL;
    else if (!strcmp(v, "full")) c->eo.sync = EVS_SYNC_FULL;
    else return cli_usage(c, "--sync must be off, normal or full, not '%s'", v);
  }
  if ((v = c->opt[O_RETENTION]) && parse_duration(v, &c->eo.retention_us))
    return cli_usage(c, "--retention '%s' is not a duration (7d, 12h, 30m, 10s, "
                        "500ms, 250us, microseconds) or forever", v);
  if ((v = c->opt[O_IDEM_WINDOW]) && parse_duration(v, &c->eo.idempotency_window_us))
    return cli_usage(c, "--idempotency-window '%s' is not a duration (7d, 12h, 30m, "
                        "10s, 500ms, 250us, microseconds) or forever", v);
  if (c->opt[O_DICT]) c->eo.dict_compress = 1;
  uint64_t n;
  if ((v = c->opt[O_MAX_PAYLOAD])) {
    if (parse_u64(v, &n) || n == 0 || n > UINT32_MAX)
      return cli_usage(c, "--max-payload '%s' is not a byte count 1..%u", v, UINT32_MAX);
    c->eo.max_payload = (uint32_t)n;
  }
  return -1;
}

/* ---- Undoing a new store ----------------------------------------------- */

static int store_is_empty(cli *c) {
  evs_stats st;
  return !evs_stats_get(c->s, &st) && st.next_id <= 1;
}

int main(int argc, char **argv) {
  cli c;
  memset(&c, 0, sizeof c);
  int rc = parse_args(&c, argc, argv);
  if (rc < 0) rc = store_options(&c);
  if (rc < 0) rc = c.cmd->run(&c);
  /* A command that failed on the store it created, before anything was
  ** stored in it, drops that store: its files go, and DIR too when the
  ** open made it (evs_store_drop), so a failure leaves nothing behind.
  ** The store's lock is held until its files are gone. */
  int undo = rc > 0 && c.s && c.created && store_is_empty(&c);
  if (c.s) {
    int crc = undo ? evs_store_drop(c.s) : evs_store_close(c.s);
    c.s = NULL;
    if (crc && undo) {
      cli_fail(&c, 0, "%s: removing the new store failed (%s); it holds no event", c.dir,
               evs_errmsg(NULL));
    } else if (crc) {
      int code = cli_fail(&c, cli_exit_code(crc), "closing the store: %s", evs_errmsg(NULL));
      if (!rc) rc = code;
    }
  }
  int frc = cli_flush(&c);
  return rc ? rc : frc;
}
