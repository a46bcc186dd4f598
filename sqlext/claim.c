/*
** claim.c: evstore_claim(table, consumer [, limit [, lease [, source [,
** event_type]]]]), a
** table-valued function (an eponymous-only virtual table, like SQLite's
** generate_series): xFilter leases events with evs_claim and the rows are
** the leased events, with every column of an evstore table.
**
**   SELECT id, payload, lease_token FROM evstore_claim('inbox', 'w1', 10, '30s');
**
** table: an evstore table used on this connection (found through the
** registry of tables, as evstore_stats finds it); consumer: 1..100 bytes;
** limit: 1..100, NULL or absent: 50; lease: a duration ('30s', '5m'), or
** integer microseconds, NULL or absent: 30 s (at most 12 h); source,
** event_type: only events of that source / type (the library's filters,
** evs_query: trimmed like stored names, so a page holds `limit` matching
** events), NULL or absent: any. Events with an ordering key are claimed
** as the library hands them out: one at a time per key, oldest first.
**
** The claim happens when the scan starts, once per xFilter, and its
** leases hold whatever the statement does with the rows: a WHERE on the
** result or a LIMIT smaller than the claim's drops rows whose events stay
** leased until their lease runs out. Use it alone in FROM, with limit as
** its argument. Outside any transaction of the store: inside a BEGIN
** that wrote to the same store through this connection it fails
** (SQLITE_BUSY: commit first). A mode='ro' table refuses
** (SQLITE_READONLY).
*/
#include <string.h>

#include "vtab.h"

/* Columns: the table's but cursor (a table-valued function's arguments
** are its hidden columns, in order: it would take the first), then the
** arguments. Column i is the table's COL_* i, or i + 1 past cursor. */
enum { ARG_TABLE = NCOL - 1, ARG_CONSUMER, ARG_LIMIT, ARG_LEASE, ARG_SOURCE, ARG_TYPE, NARGCOL };
#define NARG (NARGCOL - ARG_TABLE)

typedef struct cvtab {
  sqlite3_vtab base;
  sqlite3 *db;
} cvtab;

typedef struct ccur {
  sqlite3_vtab_cursor base;
  evs_page *page;
  size_t i;
} ccur;

static int claim_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **pp, char **err) {
  (void)aux, (void)argc, (void)argv, (void)err;
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(" EVSQL_COLUMNS_EVENT ", " EVSQL_COLUMNS_LEASE
                                    ", " EVSQL_COLUMNS_LATER
                                    ", tbl HIDDEN, consumer HIDDEN, lim HIDDEN, "
                                    "lease HIDDEN, src HIDDEN, typ HIDDEN)");
  /* It writes (leases): never from a trigger or a view's schema. */
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if (rc) return rc;
  cvtab *vt = sqlite3_malloc(sizeof *vt);
  if (!vt) return SQLITE_NOMEM;
  memset(vt, 0, sizeof *vt);
  vt->db = db;
  *pp = &vt->base;
  return SQLITE_OK;
}

static int claim_disconnect(sqlite3_vtab *p) {
  sqlite3_free(p->zErrMsg);
  sqlite3_free(p);
  return SQLITE_OK;
}

static const char *const arg_names[NARG] = {"tbl", "consumer", "lim", "lease", "src", "typ"};

static int claim_refuse(sqlite3_vtab *p, const char *why, int k) {
  sqlite3_free(p->zErrMsg);
  p->zErrMsg = sqlite3_mprintf("evstore_claim: %s %s", arg_names[k], why);
  return p->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Each argument given (argument column = value) goes to xFilter at its
** position; idxNum's bit k says argument k was. An argument whose value
** is not known yet (from a join) refuses the plan (SQLITE_CONSTRAINT);
** missing ones are xFilter's to report. Any other condition on an
** argument column (src > 'a', src IN (...), the same one twice) fails the
** statement: SQLite would check it on the rows after the claim leased
** them without it, and drop them, leased (the columns read NULL). */
static int claim_best_index(sqlite3_vtab *p, sqlite3_index_info *ix) {
  int at[NARG];
  for (int k = 0; k < NARG; k++) at[k] = -1;
  for (int i = 0; i < ix->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
    if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT || c->op == SQLITE_INDEX_CONSTRAINT_OFFSET ||
        c->iColumn < ARG_TABLE)
      continue;
    int k = c->iColumn - ARG_TABLE;
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ || (i < 32 && sqlite3_vtab_in(ix, i, -1)))
      return claim_refuse(p, "takes one value, as an argument or by '=' alone", k);
    if (!c->usable) return SQLITE_CONSTRAINT;
    if (at[k] >= 0) return claim_refuse(p, "is given twice", k);
    at[k] = i;
  }
  int n = 0, mask = 0;
  for (int k = 0; k < NARG; k++)
    if (at[k] >= 0) {
      ix->aConstraintUsage[at[k]].argvIndex = ++n;
      ix->aConstraintUsage[at[k]].omit = 1;
      mask |= 1 << k;
    }
  ix->idxNum = mask;
  ix->estimatedCost = 50;
  ix->estimatedRows = 50;
  return SQLITE_OK;
}

static int claim_open(sqlite3_vtab *p, sqlite3_vtab_cursor **pp) {
  (void)p;
  ccur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *pp = &c->base;
  return SQLITE_OK;
}

static int claim_close(sqlite3_vtab_cursor *p) {
  ccur *c = (ccur *)p;
  evs_page_free(c->page);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int claim_fail(ccur *c, int rc, char *msg) {
  sqlite3_vtab *vt = c->base.pVtab;
  sqlite3_free(vt->zErrMsg);
  vt->zErrMsg = msg;
  return msg ? rc : SQLITE_NOMEM;
}

static int claim_filter(sqlite3_vtab_cursor *p, int idxNum, const char *idxStr, int argc,
                        sqlite3_value **argv) {
  (void)idxStr;
  ccur *c = (ccur *)p;
  cvtab *vt = (cvtab *)p->pVtab;
  sqlite3_value *arg[NARG] = {0};
  for (int k = 0, j = 0; k < NARG; k++)
    if (idxNum & (1 << k)) {
      if (j >= argc) return claim_fail(c, SQLITE_ERROR, sqlite3_mprintf("evstore_claim: bad plan"));
      arg[k] = argv[j++];
    }
  c->i = 0;
  if (c->page) evs_page_free(c->page), c->page = NULL;
  if (!arg[0] || !arg[1])
    return claim_fail(c, SQLITE_ERROR,
                      sqlite3_mprintf("evstore_claim(table, consumer [, limit [, lease [, "
                                      "source [, event_type]]]]): table and consumer are "
                                      "required"));
  const char *table = (const char *)sqlite3_value_text(arg[0]);
  const char *consumer = arg[1] && sqlite3_value_type(arg[1]) == SQLITE_TEXT
                             ? (const char *)sqlite3_value_text(arg[1])
                             : NULL;
  if (!consumer)
    return claim_fail(c, SQLITE_ERROR,
                      sqlite3_mprintf("evstore_claim: consumer must be TEXT (1..100 bytes)"));
  sqlite3_int64 limit = 50;
  if (arg[2] && sqlite3_value_type(arg[2]) != SQLITE_NULL) {
    limit = sqlite3_value_int64(arg[2]);
    if (sqlite3_value_type(arg[2]) != SQLITE_INTEGER || limit < 1 || limit > EVS_PAGE_MAX)
      return claim_fail(c, SQLITE_ERROR,
                        sqlite3_mprintf("evstore_claim: limit must be an integer 1..%d, not "
                                        "'%s'",
                                        EVS_PAGE_MAX, sqlite3_value_text(arg[2])));
  }
  int64_t lease = 0;
  if (arg[3] && evsql_duration_arg(arg[3], &lease))
    return claim_fail(c, SQLITE_ERROR,
                      sqlite3_mprintf("evstore_claim: bad lease '%s' (a duration like '30s', "
                                      "'5m', or integer microseconds)",
                                      sqlite3_value_text(arg[3])));
  /* The filters go to the library (evs_query.source / event_type, as
  ** evstore_redrive's): it leases only matching events, so a page is
  ** `limit` of them, not `limit` of any minus the others. */
  const char *filter[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++) {
    sqlite3_value *v = arg[4 + k];
    if (!v || sqlite3_value_type(v) == SQLITE_NULL) continue;
    if (sqlite3_value_type(v) != SQLITE_TEXT)
      return claim_fail(c, SQLITE_ERROR,
                        sqlite3_mprintf("evstore_claim: %s must be TEXT or NULL (any)",
                                        k ? "event_type" : "source"));
    filter[k] = (const char *)sqlite3_value_text(v);
    if (!filter[k]) return SQLITE_NOMEM;
    if (strlen(filter[k]) != (size_t)sqlite3_value_bytes(v))
      return claim_fail(c, SQLITE_ERROR,
                        sqlite3_mprintf("evstore_claim: %s holds a NUL byte",
                                        k ? "event_type" : "source"));
  }
  int ro;
  char *err;
  evs_store *s = evsql_find_store(vt->db, table, "evstore_claim", &ro, &err);
  if (!s) return claim_fail(c, SQLITE_ERROR, err);
  if (ro)
    return claim_fail(c, SQLITE_READONLY,
                      sqlite3_mprintf("evstore_claim: evstore table %s is read-only "
                                      "(mode='ro')",
                                      table));
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = (unsigned)limit;
  q.source = filter[0];
  q.event_type = filter[1];
  int rc = evs_claim(s, &q, consumer, lease, &c->page);
  if (rc == EVS_ENOMEM) return SQLITE_NOMEM;
  if (rc == EVS_EDEADLK)
    return claim_fail(c, SQLITE_BUSY,
                      sqlite3_mprintf("evstore_claim: this connection holds the write "
                                      "transaction of %s's store (an open BEGIN that wrote "
                                      "to it); commit first",
                                      table));
  if (rc)
    return claim_fail(c, rc == EVS_EINVAL || rc == EVS_ETOOBIG ? SQLITE_CONSTRAINT
                                                               : SQLITE_ERROR,
                      sqlite3_mprintf("evstore_claim: %s", evs_errmsg(s)));
  return SQLITE_OK;
}

static int claim_next(sqlite3_vtab_cursor *p) {
  ((ccur *)p)->i++;
  return SQLITE_OK;
}

static int claim_eof(sqlite3_vtab_cursor *p) {
  ccur *c = (ccur *)p;
  return !c->page || c->i >= evs_page_count(c->page);
}

static int claim_column(sqlite3_vtab_cursor *p, sqlite3_context *ctx, int col) {
  ccur *c = (ccur *)p;
  const evs_event *e = evs_page_event(c->page, c->i);
  if (!e || col >= ARG_TABLE) return SQLITE_OK; /* the arguments: NULL */
  evsql_event_column(ctx, e, col < COL_CURSOR ? col : col + 1);
  return SQLITE_OK;
}

static int claim_rowid(sqlite3_vtab_cursor *p, sqlite3_int64 *rowid) {
  ccur *c = (ccur *)p;
  const evs_event *e = evs_page_event(c->page, c->i);
  *rowid = e ? (sqlite3_int64)e->id : 0;
  return SQLITE_OK;
}

static sqlite3_module claim_module = {
    0,               /* iVersion */
    NULL,            /* xCreate: NULL, eponymous only */
    claim_connect,   claim_best_index, claim_disconnect, claim_disconnect,
    claim_open,      claim_close,      claim_filter,     claim_next,
    claim_eof,       claim_column,     claim_rowid,      NULL,
    NULL,            NULL,             NULL,             NULL,
    NULL,            NULL,             NULL,             NULL,
    NULL,            NULL};

int evsql_register_claim(sqlite3 *db) {
  return sqlite3_create_module(db, "evstore_claim", &claim_module, NULL);
}
