/*
** cli.h: what the files of the evstore command-line tool share: exit
** codes, options, the parsed invocation, the command table's row type,
** and the helpers every command uses. The CLI uses only the public API
** (evstore.h); it is built without the library's internal headers.
*/
#ifndef EVS_CLI_H
#define EVS_CLI_H

#include <evstore.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes (documented in `evstore --help` and README). */
#define EX_OK 0
#define EX_USAGE 1    /* bad command line                              */
#define EX_NOTFOUND 2 /* no such event, store or input file            */
#define EX_CONFLICT 3 /* event already acknowledged                    */
#define EX_INVALID 4  /* invalid JSON, event field, cursor, import line */
#define EX_LOCKED 5   /* another process has the store open            */
#define EX_CORRUPT 6  /* the store failed a check                      */
#define EX_ERROR 7    /* I/O or any other error                        */
#define EX_STALE 8    /* lease token no longer holds the event         */

/* Options. The first five apply to every command (they become the
** evs_options the store is opened with); each command accepts the others
** that its table row lists. */
enum {
  O_SYNC,
  O_RETENTION,
  O_IDEM_WINDOW,
  O_MAX_PAYLOAD,
  O_DICT,
  O_NGLOBAL,
  O_SOURCE = O_NGLOBAL,
  O_TYPE,
  O_METADATA,
  O_PRIORITY,
  O_KEY,
  O_LIMIT,
  O_SINCE,
  O_UNTIL,
  O_CURSOR,
  O_CURSOR_FILE,
  O_ALL,
  O_PENDING,
  O_STOP,
  O_QUIET,
  O_FORCE,
  O_META,
  O_STATUS,
  O_DESC,
  O_MIN_ID,
  O_MAX_ID,
  O_FOLLOW,
  O_CONSUMER,
  O_LEASE,
  O_WAIT,
  O_TOKEN,
  O_DELAY,
  O_NOT_BEFORE,
  O_ORDERING_KEY,
  O_COUNT /* at most 64: options are bits of an opt_set */
};
/* A set of options, one bit each (OPT). */
typedef uint64_t opt_set;
_Static_assert(O_COUNT <= 64, "OPT() bits fit an opt_set");
#define OPT(o) ((opt_set)1 << (o))

typedef struct cli cli;

/* One command. Adding one is a row in the table in main.c and its run
** function. */
typedef struct cli_cmd {
  const char *name;
  int (*run)(cli *c); /* returns an exit code */
  opt_set opts;       /* OPT() bits of the options it takes */
  int min_args, max_args; /* positional arguments; max -1 = any number */
  const char *synopsis;   /* after "evstore DIR NAME" */
  const char *summary;    /* one line for `evstore --help` */
  const char *help;       /* the rest of `evstore help NAME` */
} cli_cmd;

struct cli {
  const cli_cmd *cmd;
  const char *dir;
  const char *opt[O_COUNT]; /* the value; "" for a flag; NULL = not given */
  char **args;
  int nargs;
  evs_options eo; /* from the global options */
  evs_store *s;   /* set by cli_open */
  int created;    /* CREATED_*: a failure that stored nothing drops the store */
};

/* What cli_open created (c->created). */
enum {
  CREATED_NONE,
  CREATED_DIR,  /* DIR did not exist: the open made it, the drop removes it */
  CREATED_STORE /* DIR was an empty directory: the drop leaves DIR       */
};

/* How a command opens the store. */
enum {
  OPEN_EXISTING, /* a directory that is not a store is refused (exit 2)  */
  OPEN_CREATE,   /* a directory that is not a store becomes a new one    */
  OPEN_READONLY  /* existing, and nothing in it is written: every command
                 ** that only reads (get, inbox, export, stats, verify,
                 ** config showing). Takes no lock and needs only read
                 ** permission, so it works beside an application that has
                 ** the store open for writing, seeing what was committed
                 ** when it opened. */
};

/* Open c->dir into c->s. A directory that is not a store (no
** evstore.meta, see docs/FORMAT.md) is refused unless OPEN_CREATE; a DIR
** that did not exist, or was empty, sets c->created, and main drops the
** new store (evs_store_drop) when the command fails with nothing stored.
** --retention, --idempotency-window, --max-payload and --dict-compress
** set a new store's settings; on an existing store they must equal the
** recorded ones (the CLI never changes a setting as a side effect: `config`
** does; with OPEN_READONLY the message says the command only reads).
** Returns 0 or an exit code (message printed). */
int cli_open(cli *c, int mode);

/* 0 when c->dir is an existing directory, else the exit code cli_open
** gives for it (message printed): for commands that open the store
** themselves (repair). */
int cli_need_dir(cli *c);

/* The exit code for a library status code. */
int cli_exit_code(int rc);

/* Print "evstore: CMD: " + message to stderr; return `code`. */
int cli_fail(cli *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The library's message for a failed call on c->s; returns its exit code. */
int cli_lib_fail(cli *c, int rc);
/* A usage error: the message and where to find help; returns EX_USAGE. */
int cli_usage(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Event ids from c->args; "-" reads white-space separated ids from stdin.
** *ids is malloc'ed. Returns 0 or an exit code (message printed). */
int cli_ids(cli *c, uint64_t **ids, size_t *n);

/* Flush stdout; on a write error print it and return EX_ERROR. */
int cli_flush(cli *c);

/* values.c */
int parse_time(const char *s, int64_t *us);     /* evs_time_parse, >= 0; 0 or -1 */
int parse_time_n(const char *s, size_t n, int64_t *us); /* the same, s[0..n) */
int parse_duration(const char *s, int64_t *us); /* evs_duration_parse; 0 or -1 */
int parse_u64(const char *s, uint64_t *v);      /* decimal digits only */
int parse_priority(const char *s, size_t n, int *prio);
const char *priority_name(int prio);
void put_event(FILE *f, const evs_event *e);

/* The filters inbox, export, claim and redrive share: every field of
** evs_query that selects events (*meta is malloc'ed for --meta). Returns 0
** or an exit code (message printed). */
int filter_options(cli *c, evs_query *q, char **meta);

/* lease.c: the id (the one argument) and --token of ack --token, renew,
** release and reject. Returns 0 or an exit code (message printed). */
int lease_target(cli *c, uint64_t *id, uint64_t *token);

/* The commands (commands.c, import.c, lease.c). */
int cmd_append(cli *c);
int cmd_import(cli *c);
int cmd_get(cli *c);
int cmd_inbox(cli *c);
int cmd_dead(cli *c);
int cmd_ack(cli *c);
int cmd_delete(cli *c);
int cmd_stats(cli *c);
int cmd_verify(cli *c);
int cmd_compact(cli *c);
int cmd_export(cli *c);
int cmd_config(cli *c);
int cmd_repair(cli *c);
int cmd_claim(cli *c);
int cmd_release(cli *c);
int cmd_renew(cli *c);
int cmd_reject(cli *c);
int cmd_redrive(cli *c);

#endif
