/*
** vtab.h: what the files of the evstore SQL module share (never
** installed). The module is built twice from the same files: into
** libevstore with -DSQLITE_CORE, and as the loadable evstore.so, where
** every file reaches SQLite through the sqlite3_api pointer module.c
** defines.
**
**   module.c     xCreate/xConnect/xDisconnect/xDestroy/xRename, arguments,
**                the process's registry of open stores, table ownership,
**                registration and the entry points
**   plan.c       xBestIndex: what is pushed down, as an evsql_plan
**   scan.c       xOpen/xFilter/xNext/xColumn...: the evsql_plan run
**   values.c     SQL values <-> the store's: ranges, names, times
**   write.c      xUpdate and the transaction methods
**   functions.c  evstore_stats(), evstore_compact(), the lease functions
**                (evstore_release/renew/reject/redrive)
**   claim.c      evstore_claim(), an eponymous table-valued function
**
** Names shared between files start with evsql_ (they are global symbols
** of libevstore and evstore.so).
*/
#ifndef EVS_SQLEXT_VTAB_H
#define EVS_SQLEXT_VTAB_H

#include <pthread.h>
#include <stdint.h>

#ifdef SQLITE_CORE
#include <sqlite3.h>
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#endif

#include "evstore.h"

/* ---- Shared stores (module.c) ------------------------------------------ */

/* Directory stores are shared by every connection of the process (one
** flock per directory). Tables declared mode='ro' share a read-only
** handle of their own (evs_options.read_only: no lock), never the
** writing one: a ro and a rw table on one directory are two handles. In-memory stores belong to one connection and
** outlive xDisconnect (SQLite disconnects tables when it reloads its
** schema): the connection's module data holds them until DROP TABLE or
** until the connection closes. */
typedef struct conn_aux conn_aux;

typedef struct shared {
  char *key; /* realpath of the directory, or "schema.table" in memory */
  evs_store *s;
  evs_options opt; /* what the store runs with (evs_store_options) */
  int ro;          /* opened read_only (mode='ro' tables share it) */
  int refs;
  int destroy;     /* when the last reference goes: delete the store
                      (evs_store_drop), or discard an in-memory one */
  conn_aux *owner; /* in-memory store: the connection that holds it */
  struct shared *next;
} shared;

struct conn_aux {
  shared *mem; /* this connection's in-memory stores */
};

/* Guards the registry of shared stores, every shared's refs, destroy and
** key, and the list of tables. The module's only global state. */
extern pthread_mutex_t evsql_reg_mu;

/* ---- Tables ------------------------------------------------------------ */

enum {
  COL_ID,
  COL_CREATED_AT,
  COL_CREATED_US,
  COL_STATUS,
  COL_SOURCE,
  COL_TYPE,
  COL_PAYLOAD,
  COL_METADATA,
  COL_PRIORITY,
  COL_IDEM,
  COL_ACKED_AT,
  COL_CURSOR,
  /* Consumers (evs_claim): after the hidden cursor, so that the columns
  ** of tables declared before them keep their numbers. */
  COL_DELIVERIES,
  COL_LEASE_TOKEN,
  COL_LEASE_EXPIRES_AT,
  COL_LEASED_BY,
  /* Set on INSERT (evs_event_in), read-only after: last, for the same
  ** reason (SELECT * of earlier versions keeps its columns in place). */
  COL_NOT_BEFORE,
  COL_ORDERING_KEY,
  NCOL
};

extern const char *const evsql_col_names[NCOL];

typedef struct vtab {
  sqlite3_vtab base;
  sqlite3 *db;
  conn_aux *aux;
  shared *sh;
  evs_txn *txn;
  char *schema, *name, *memkey;
  char *dir;       /* NULL in memory */
  evs_options opt; /* to open the store with (settings zero: the store's) */
  int busy_ms;     /* how long a write waits for another writer */
  int ro;          /* mode='ro': the store opened read_only, no writes */
  int ncursor;     /* open cursors: the first one refreshes a ro store */
  struct vtab *next; /* all tables, for evstore_stats() */
} vtab;

extern vtab *evsql_tables; /* guarded by evsql_reg_mu */

/* Set the table's error message; returns rc. */
int evsql_error(vtab *vt, int rc, const char *fmt, ...);
/* Map a library failure to an SQLite code, with the library's message. */
int evsql_lib_error(vtab *vt, int rc);
/* The table's store, opened now if it could not be at connect. */
int evsql_store(vtab *vt);
/* SQLITE_READONLY with "evstore table X is read-only (mode='ro')". */
int evsql_readonly(vtab *vt);

/* ---- Plans (plan.c, run by scan.c) ----------------------------------- */

/* The comparison of a constraint. */
enum { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE };

/* What one argv value of xFilter is. */
enum {
  TERM_ID,           /* id op v (a range; OP_EQ: a point lookup)   */
  TERM_ID_IN,        /* id IN (...), the list whole                */
  TERM_CREATED_US,   /* created_us op v                            */
  TERM_CREATED_AT,   /* created_at op v                            */
  TERM_STATUS,       /* status = v                                 */
  TERM_SOURCE,       /* source = v                                 */
  TERM_SOURCE_IN,    /* source IN (...)                            */
  TERM_TYPE,         /* event_type = v                             */
  TERM_TYPE_IN,      /* event_type IN (...)                        */
  TERM_PRIORITY,     /* priority = v                               */
  TERM_CURSOR,       /* cursor = v: where to resume                */
  TERM_LIMIT,
  TERM_OFFSET
};

typedef struct evsql_term {
  unsigned char what; /* TERM_* */
  unsigned char op;   /* OP_* */
} evsql_term;

/* A plan: argv[i] of xFilter goes with term[i]. xBestIndex hands it over
** in idxStr, after the plan's text (what EXPLAIN QUERY PLAN shows) and its
** NUL, at the next multiple of the struct's alignment. */
typedef struct evsql_plan {
  uint32_t magic;          /* EVSQL_PLAN_MAGIC: idxStr really holds one */
  unsigned char desc;      /* ORDER BY consumed, descending */
  unsigned char nopayload; /* no column reads payload */
  uint32_t nterm;
  evsql_term term[];
} evsql_plan;

#define EVSQL_PLAN_MAGIC 0x65767031u /* "evp1" */

int evsql_best_index(sqlite3_vtab *tab, sqlite3_index_info *ix);
/* The plan behind idxStr, or NULL if idxStr holds none. */
const evsql_plan *evsql_plan_of(const char *idxStr);

/* The columns of every table (module.c); evstore_claim's are the same
** without cursor (claim.c). */
#define EVSQL_COLUMNS_EVENT                                                   \
  "id INTEGER, created_at TEXT, created_us INTEGER, "                        \
  "status TEXT, source TEXT, event_type TEXT, payload TEXT, metadata TEXT, " \
  "priority TEXT, idempotency_key TEXT, acknowledged_at TEXT"
#define EVSQL_COLUMNS_LEASE \
  "delivery_count INTEGER, lease_token INTEGER, lease_expires_at TEXT, leased_by TEXT"
#define EVSQL_COLUMNS_LATER "not_before TEXT, ordering_key TEXT"
#define EVSQL_COLUMNS \
  EVSQL_COLUMNS_EVENT ", cursor TEXT HIDDEN, " EVSQL_COLUMNS_LEASE ", " EVSQL_COLUMNS_LATER

/* ---- Cursors (scan.c) ------------------------------------------------ */

int evsql_open(sqlite3_vtab *p, sqlite3_vtab_cursor **pp);
int evsql_close(sqlite3_vtab_cursor *p);
int evsql_filter(sqlite3_vtab_cursor *p, int idxNum, const char *idxStr, int argc,
                 sqlite3_value **argv);
int evsql_next(sqlite3_vtab_cursor *p);
int evsql_eof(sqlite3_vtab_cursor *p);
int evsql_column(sqlite3_vtab_cursor *p, sqlite3_context *ctx, int col);
int evsql_rowid(sqlite3_vtab_cursor *p, sqlite3_int64 *rowid);
/* Column col of event e (every column but cursor, which needs a query). */
void evsql_event_column(sqlite3_context *ctx, const evs_event *e, int col);

/* ---- Values (values.c) ------------------------------------------------- */

/* Priority names by EVS_PRIORITY_* (index 0: "normal"). */
extern const char *const evsql_prio_names[4];
/* 'low' / 'normal' / 'high' as EVS_PRIORITY_*, 0 for anything else. */
int evsql_prio_parse(const char *t);
/* Is v the TEXT lit, byte for byte (NUL bytes and all)? */
int evsql_text_is(sqlite3_value *v, const char *lit);
/* The integers x for which "x op v" can hold, x of an INTEGER column. */
int evsql_int_range(sqlite3_value *v, int op, int64_t *lo, int64_t *hi, int *exact);
/* source = v, event_type = v: which name rows must have. */
int evsql_name_filter(sqlite3_value *v, const char **name, int *exact);
/* created_at op v, narrowed to created_us in [*lo, *hi]. */
int evsql_at_range(sqlite3_value *v, int op, int64_t *lo, int64_t *hi);
/* A time as created_at shows it (evs_time_format). */
void evsql_result_time(sqlite3_context *ctx, int64_t us);
/* A time value (not_before on INSERT): NULL (*us = 0, none), an integer
** of microseconds since the epoch (>= 0), or text in evs_time_parse's
** grammar (created_at's own form, a bare date, other offsets, digits
** alone for µs), in 1970..9999. -1 for anything else. */
int evsql_time_arg(sqlite3_value *v, int64_t *us);
/* A duration argument: NULL (0: the library's default), an integer of
** microseconds (>= 0), or text in evs_duration_parse's grammar ("30s",
** "250ms"). -1 for anything else. */
int evsql_duration_arg(sqlite3_value *v, int64_t *us);

/* ---- Writes (write.c) -------------------------------------------------- */

int evsql_update(sqlite3_vtab *p, int argc, sqlite3_value **argv, sqlite3_int64 *rowid);
int evsql_begin(sqlite3_vtab *p);
int evsql_sync(sqlite3_vtab *p);
int evsql_commit(sqlite3_vtab *p);
int evsql_rollback(sqlite3_vtab *p);
int evsql_savepoint(sqlite3_vtab *p, int n);
int evsql_release(sqlite3_vtab *p, int n);
int evsql_rollback_to(sqlite3_vtab *p, int n);

/* ---- Functions (functions.c) ------------------------------------------- */

/* evstore_stats(), evstore_compact() and the lease functions on
** connection db. */
int evsql_register_functions(sqlite3 *db);
/* The store of evstore table `name` on connection db (the registry of
** tables, under evsql_reg_mu), or NULL with *err set (sqlite3_malloc'ed,
** prefixed by fn). *ro: the table is mode='ro'. */
evs_store *evsql_find_store(sqlite3 *db, const char *name, const char *fn, int *ro,
                            char **err);

/* ---- evstore_claim (claim.c) -------------------------------------------- */

int evsql_register_claim(sqlite3 *db);

#endif
