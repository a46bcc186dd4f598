/*
** write.c: INSERT (append), UPDATE (only status = 'acknowledged') and
** DELETE, inside the store's write transaction that xBegin opens and
** xSync commits; savepoints map 1:1.
**
** Settling a lease by UPDATE: "UPDATE t SET status = 'acknowledged' WHERE
** id = ? AND lease_token = ?". The token is the WHERE's business, not
** xUpdate's: the statement's scan runs inside the write transaction
** (xBegin took the store's writer lock before it), so the lease_token
** SQLite compares is the event's current one and no claim, renew or
** release can come between that check and the evs_ack here (a lease that
** ran out in between cannot have gone to another consumer: claiming needs
** the writer lock). A stale token matches no row: the statement changes
** nothing (changes() = 0), as any UPDATE whose WHERE matches nothing.
** evs_ack_lease (no transaction) cannot be called while the transaction
** is held; evstore_release/renew/reject() take tokens and fail with
** EVS_ESTALE's message.
*/
#include <string.h>

#include "vtab.h"

/* ---- Writes ------------------------------------------------------------ */

static const char *text_or_null(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_NULL ? NULL
                                              : (const char *)sqlite3_value_text(v);
}

static int do_insert(vtab *vt, sqlite3_value **argv, sqlite3_int64 *rowid) {
  sqlite3_value **col = argv + 2;
  if (sqlite3_value_type(argv[1]) != SQLITE_NULL)
    return evsql_error(vt, SQLITE_CONSTRAINT, "evstore: id is assigned by the store");
  static const int assigned[] = {COL_ID,          COL_CREATED_AT,  COL_CREATED_US,
                                 COL_STATUS,      COL_ACKED_AT,    COL_CURSOR,
                                 COL_DELIVERIES,  COL_LEASE_TOKEN, COL_LEASE_EXPIRES_AT,
                                 COL_LEASED_BY};
  for (size_t i = 0; i < sizeof assigned / sizeof *assigned; i++)
    if (sqlite3_value_type(col[assigned[i]]) != SQLITE_NULL)
      return evsql_error(vt, SQLITE_CONSTRAINT, "evstore: %s is assigned by the store",
                         evsql_col_names[assigned[i]]);
  static const int texts[] = {COL_SOURCE, COL_TYPE,     COL_PAYLOAD,     COL_METADATA,
                              COL_IDEM,   COL_PRIORITY, COL_ORDERING_KEY};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    int t = sqlite3_value_type(col[texts[i]]);
    if (t != SQLITE_NULL && t != SQLITE_TEXT)
      return evsql_error(vt, SQLITE_CONSTRAINT, "evstore: %s must be TEXT",
                         evsql_col_names[texts[i]]);
  }
  evs_event_in ev = {0};
  ev.source = text_or_null(col[COL_SOURCE]);
  ev.event_type = text_or_null(col[COL_TYPE]);
  ev.payload = text_or_null(col[COL_PAYLOAD]);
  ev.payload_len = (size_t)sqlite3_value_bytes(col[COL_PAYLOAD]);
  ev.metadata = text_or_null(col[COL_METADATA]);
  ev.metadata_len = (size_t)sqlite3_value_bytes(col[COL_METADATA]);
  ev.idempotency_key = text_or_null(col[COL_IDEM]);
  /* The library takes the key NUL-terminated: one holding a NUL byte
  ** would be stored cut short, so it is refused here. */
  ev.ordering_key = text_or_null(col[COL_ORDERING_KEY]);
  if (ev.ordering_key &&
      strlen(ev.ordering_key) != (size_t)sqlite3_value_bytes(col[COL_ORDERING_KEY]))
    return evsql_error(vt, SQLITE_CONSTRAINT, "evstore: ordering_key holds a NUL byte");
  sqlite3_value *nb = col[COL_NOT_BEFORE];
  int nbt = sqlite3_value_type(nb);
  if (nbt != SQLITE_NULL && nbt != SQLITE_TEXT && nbt != SQLITE_INTEGER)
    return evsql_error(vt, SQLITE_CONSTRAINT,
                       "evstore: not_before must be TEXT (a time) or INTEGER (microseconds "
                       "since the epoch)");
  if (evsql_time_arg(nb, &ev.not_before_us))
    return evsql_error(vt, SQLITE_CONSTRAINT,
                       "evstore: not_before '%s' is not a time in 1970..9999 (ISO-8601 "
                       "like '2026-11-23T10:00:00Z' or a bare date, or microseconds since "
                       "the epoch)",
                       sqlite3_value_text(nb));
  const char *pr = text_or_null(col[COL_PRIORITY]);
  if (pr) {
    if (!(ev.priority = evsql_prio_parse(pr)))
      return evsql_error(vt, SQLITE_CONSTRAINT,
                         "evstore: priority must be 'low', 'normal' or 'high', not '%s'", pr);
  }
  evs_append_result r;
  int rc = evs_append(vt->sh->s, vt->txn, &ev, &r);
  if (rc) return evsql_lib_error(vt, rc);
  /* INSERT OR IGNORE: a duplicate is a skipped row, as a UNIQUE conflict
  ** is for a plain table, so changes() does not count it. SQLite (with
  ** SQLITE_VTAB_CONSTRAINT_SUPPORT) turns this code into SQLITE_OK without
  ** counting the row or setting last_insert_rowid. Every other mode
  ** (including a plain INSERT, which SQLite reports as ABORT) keeps a
  ** duplicate a success that returns the original id. */
  if (r.duplicate && sqlite3_vtab_on_conflict(vt->db) == SQLITE_IGNORE)
    return SQLITE_CONSTRAINT_UNIQUE;
  *rowid = (sqlite3_int64)r.id;
  return SQLITE_OK;
}

static int do_update(vtab *vt, sqlite3_value **argv) {
  sqlite3_int64 id = sqlite3_value_int64(argv[0]);
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER ||
      sqlite3_value_int64(argv[1]) != id)
    return evsql_error(vt, SQLITE_CONSTRAINT, "evstore: column id is read-only");
  sqlite3_value **col = argv + 2;
  for (int i = 0; i < NCOL; i++) {
    if (sqlite3_value_nochange(col[i]) || i == COL_STATUS) continue;
    if (i == COL_ID && sqlite3_value_int64(col[i]) == id) continue;
    return evsql_error(vt, SQLITE_CONSTRAINT, "evstore: column %s is read-only",
                       evsql_col_names[i]);
  }
  if (sqlite3_value_nochange(col[COL_STATUS])) return SQLITE_OK;
  const char *st = text_or_null(col[COL_STATUS]);
  if (st && !strcmp(st, "acknowledged")) {
    int rc = evs_ack(vt->sh->s, vt->txn, (uint64_t)id, NULL);
    return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
  }
  if (st && !strcmp(st, "pending")) {
    evs_event *e;
    int rc = evs_get(vt->sh->s, vt->txn, (uint64_t)id, &e);
    if (rc) return evsql_lib_error(vt, rc);
    int acked = e->status == EVS_STATUS_ACKNOWLEDGED;
    evs_event_free(e);
    if (acked)
      return evsql_error(vt, SQLITE_CONSTRAINT,
                         "evstore: event %lld is acknowledged; it cannot return to pending",
                      id);
    return SQLITE_OK;
  }
  return evsql_error(vt, SQLITE_CONSTRAINT,
                     "evstore: status can only be set to 'acknowledged'");
}

int evsql_update(sqlite3_vtab *p, int argc, sqlite3_value **argv,
                   sqlite3_int64 *rowid) {
  vtab *vt = (vtab *)p;
  if (vt->ro) return evsql_readonly(vt);
  int src = evsql_store(vt);
  if (src) return src;
  if (!vt->txn) {
    /* xBegin normally opened it; a write outside one is a bug upstream. */
    int rc = evs_txn_begin_timeout(vt->sh->s, vt->busy_ms, &vt->txn);
    if (rc) return evsql_lib_error(vt, rc);
  }
  if (argc == 1) {
    int rc = evs_delete(vt->sh->s, vt->txn, (uint64_t)sqlite3_value_int64(argv[0]), NULL);
    return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return do_insert(vt, argv, rowid);
  return do_update(vt, argv);
}

/* ---- Transactions ------------------------------------------------------ */

int evsql_begin(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (vt->ro) return evsql_readonly(vt); /* SQLite begins only to write */
  if (vt->txn) return SQLITE_OK;
  int src = evsql_store(vt);
  if (src) return src;
  /* Bounded wait: blocking here would hold SQLite's connection mutex
  ** while waiting for another connection's write transaction. */
  int rc = evs_txn_begin_timeout(vt->sh->s, vt->busy_ms, &vt->txn);
  return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
}

/* Commit here, not in xCommit: SQLite ignores xCommit's result, and a
** failed commit must fail the COMMIT statement. */
int evsql_sync(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (!vt->txn) return SQLITE_OK;
  evs_txn *t = vt->txn;
  vt->txn = NULL;
  int rc = evs_txn_commit(t);
  return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
}

int evsql_commit(sqlite3_vtab *p) { return evsql_sync(p); }

int evsql_rollback(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (!vt->txn) return SQLITE_OK;
  evs_txn *t = vt->txn;
  vt->txn = NULL;
  int rc = evs_txn_rollback(t);
  return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
}

int evsql_savepoint(sqlite3_vtab *p, int n) {
  vtab *vt = (vtab *)p;
  int rc = vt->txn ? evs_txn_savepoint(vt->txn, n) : 0;
  return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
}

int evsql_release(sqlite3_vtab *p, int n) {
  vtab *vt = (vtab *)p;
  int rc = vt->txn ? evs_txn_release(vt->txn, n) : 0;
  return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
}

int evsql_rollback_to(sqlite3_vtab *p, int n) {
  vtab *vt = (vtab *)p;
  int rc = vt->txn ? evs_txn_rollback_to(vt->txn, n) : 0;
  return rc ? evsql_lib_error(vt, rc) : SQLITE_OK;
}
