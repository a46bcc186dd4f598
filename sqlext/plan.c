/*
** plan.c: xBestIndex, what a query pushes down to the store, as an
** evsql_plan (vtab.h) that scan.c's xFilter runs.
*/
#include <string.h>

#include "vtab.h"

/* ---- Planning ---------------------------------------------------------- */

/* What is pushed down, and why it agrees with SQLite. xFilter sees a
** constraint's value but not the expression it came from, and SQLite's
** answer can depend on that expression's affinity: "source = 5" compares
** source with the text '5', "source = CAST(5 AS INTEGER)" compares it as
** a number (so '05' and '5.0' match too), and xFilter gets the integer 5
** either way. So a constraint is omitted (left to the table alone) only
** when its answer is the same for every value and every affinity:
**  - status = v, priority = v: no stored status ('pending',
**    'acknowledged', 'leased', 'dead') or priority looks like a number, so
**    affinity never converts them; they equal v only when v is
**    the same TEXT, byte for byte, and nothing else (number, blob, NULL).
**  - cursor = v: not a comparison but where to resume (a hidden column).
** The others narrow the scan to a superset of the rows SQLite accepts,
** and SQLite checks them on every row: id / rowid (=, IN: a point lookup;
** ranges), created_us (=, ranges), source and event_type (=, IN: the
** names' lists), created_at (=, ranges); see evsql_int_range,
** evsql_name_filter and evsql_at_range (values.c). LIMIT and OFFSET are
** passed but not omitted (SQLite applies OFFSET itself); the scan stops
** after LIMIT + OFFSET rows only when the plan takes every constraint and
** the ORDER BY, and xFilter finds every value exact (the rows it returns
** are exactly those SQLite keeps).
** Text constraints are taken only under the BINARY collation.
**
** The plan is an evsql_plan: argv value i goes with term i. idxStr holds
** it after a text for EXPLAIN QUERY PLAN, one token per term ("source=",
** "id-in", "limit"...) and "nopayload", "asc", "desc", or "scan". */

/* The comparison of an SQLite constraint op, its text in the plan's
** (NULL: not one we take). */
static const char *op_str(int op, int *code) {
  switch (op) {
  case SQLITE_INDEX_CONSTRAINT_EQ: return *code = OP_EQ, "=";
  case SQLITE_INDEX_CONSTRAINT_GT: return *code = OP_GT, ">";
  case SQLITE_INDEX_CONSTRAINT_GE: return *code = OP_GE, ">=";
  case SQLITE_INDEX_CONSTRAINT_LT: return *code = OP_LT, "<";
  case SQLITE_INDEX_CONSTRAINT_LE: return *code = OP_LE, "<=";
  default: return NULL;
  }
}

static int ordered_col(int c) {
  return c == -1 || c == COL_ID || c == COL_CREATED_US || c == COL_CREATED_AT;
}

/* A plan being built: its terms and the text EXPLAIN shows. */
typedef struct builder {
  sqlite3_str *text;
  evsql_term *term; /* room for every constraint */
  int n;
} builder;

/* Pass constraint i to xFilter as the next argv value, as term `what`. */
static void use(sqlite3_index_info *ix, builder *b, int i, int what, int op, const char *tok,
                const char *opstr, int omit) {
  ix->aConstraintUsage[i].argvIndex = b->n + 1;
  ix->aConstraintUsage[i].omit = (unsigned char)omit;
  b->term[b->n].what = (unsigned char)what;
  b->term[b->n].op = (unsigned char)op;
  b->n++;
  sqlite3_str_appendf(b->text, "%s%s%s", sqlite3_str_length(b->text) ? " " : "", tok, opstr);
}

/* The offset of the plan in idxStr: after the text, aligned. */
static size_t plan_offset(size_t textlen) {
  size_t a = _Alignof(evsql_plan);
  return (textlen + 1 + a - 1) / a * a;
}

const evsql_plan *evsql_plan_of(const char *idxStr) {
  if (!idxStr) return NULL;
  const evsql_plan *p = (const evsql_plan *)(idxStr + plan_offset(strlen(idxStr)));
  return p->magic == EVSQL_PLAN_MAGIC ? p : NULL;
}

/* idxStr: the text, its NUL, then the plan (sqlite3_malloc'ed, so
** aligned for it). */
static char *plan_finish(builder *b, int desc, int nopayload) {
  if (!sqlite3_str_length(b->text)) sqlite3_str_appendall(b->text, "scan");
  int rc = sqlite3_str_errcode(b->text);
  char *text = sqlite3_str_finish(b->text);
  if (rc || !text) {
    sqlite3_free(text);
    return NULL;
  }
  size_t tl = strlen(text), off = plan_offset(tl);
  size_t total = off + sizeof(evsql_plan) + (size_t)b->n * sizeof(evsql_term);
  char *s = sqlite3_malloc64(total);
  if (s) {
    memset(s, 0, total);
    memcpy(s, text, tl);
    evsql_plan *p = (evsql_plan *)(s + off);
    p->magic = EVSQL_PLAN_MAGIC;
    p->desc = (unsigned char)desc;
    p->nopayload = (unsigned char)nopayload;
    p->nterm = (uint32_t)b->n;
    if (b->n) memcpy(p->term, b->term, (size_t)b->n * sizeof(evsql_term));
  }
  sqlite3_free(text);
  return s;
}

int evsql_best_index(sqlite3_vtab *tab, sqlite3_index_info *ix) {
  vtab *vt = (vtab *)tab;
  builder bld = {sqlite3_str_new(vt->db),
                 sqlite3_malloc64(((size_t)ix->nConstraint + 1) * sizeof(evsql_term)), 0};
  builder *b = &bld;
  if (!b->term) {
    sqlite3_free(sqlite3_str_finish(b->text));
    return SQLITE_NOMEM;
  }
  int id_eq = -1, in_all = 0, all_taken = 1, names_in = 0;
  int have_status = 0, have_src = 0, have_typ = 0, have_prio = 0, have_cur = 0;

  /* A usable id = ? (or IN) makes a point lookup; everything else is left
  ** to SQLite then, as one or a few rows are cheap to check. */
  for (int i = 0; i < ix->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
    if (c->usable && c->op == SQLITE_INDEX_CONSTRAINT_EQ &&
        (c->iColumn == -1 || c->iColumn == COL_ID)) {
      id_eq = i;
      break;
    }
  }
  if (id_eq >= 0) {
    in_all = sqlite3_vtab_in(ix, id_eq, -1) && sqlite3_vtab_in(ix, id_eq, 1);
    use(ix, b, id_eq, in_all ? TERM_ID_IN : TERM_ID, OP_EQ, in_all ? "id-in" : "id=", "", 0);
    all_taken = 0;
    ix->estimatedCost = in_all ? 10 : 1;
    ix->estimatedRows = in_all ? 10 : 1;
    if (!in_all) ix->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  } else {
    for (int i = 0; i < ix->nConstraint; i++) {
      const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
      int col = c->iColumn, op = c->op;
      if (op == SQLITE_INDEX_CONSTRAINT_LIMIT || op == SQLITE_INDEX_CONSTRAINT_OFFSET)
        continue;
      int code = OP_EQ;
      const char *os = op_str(op, &code);
      int eq = op == SQLITE_INDEX_CONSTRAINT_EQ;
      /* Text columns compare by collation; ours is BINARY only. */
      int text_col = col == COL_STATUS || col == COL_SOURCE || col == COL_TYPE ||
                     col == COL_PRIORITY || col == COL_CURSOR || col == COL_CREATED_AT;
      if (!c->usable || !os ||
          (text_col && sqlite3_stricmp(sqlite3_vtab_collation(ix, i), "BINARY"))) {
        all_taken = 0;
        continue;
      }
      if ((col == -1 || col == COL_ID) && !eq) {
        use(ix, b, i, TERM_ID, code, "id", os, 0);
      } else if (col == COL_CREATED_US) {
        use(ix, b, i, TERM_CREATED_US, code, "created_us", os, 0);
      } else if (col == COL_CREATED_AT) {
        use(ix, b, i, TERM_CREATED_AT, code, "created_at", os, 0);
        all_taken = 0; /* narrows to a superset, never exact */
      } else if (col == COL_STATUS && eq && !have_status++) {
        use(ix, b, i, TERM_STATUS, code, "status", os, 1);
      } else if ((col == COL_SOURCE || col == COL_TYPE) && eq && i < 32 &&
                 !(col == COL_SOURCE ? have_src : have_typ)) {
        /* An IN list is taken whole: one value at a time, SQLite would
        ** re-check each row as "col = value" with the column's affinity,
        ** not as the IN (with the list's: '05' IN (SELECT 5) holds). Past
        ** constraint 31 an IN cannot be told from = (sqlite3_vtab_in), so
        ** neither is taken there. */
        int in = sqlite3_vtab_in(ix, i, -1) && sqlite3_vtab_in(ix, i, 1);
        *(col == COL_SOURCE ? &have_src : &have_typ) = 1;
        names_in |= in;
        int what = col == COL_SOURCE ? (in ? TERM_SOURCE_IN : TERM_SOURCE)
                                     : (in ? TERM_TYPE_IN : TERM_TYPE);
        use(ix, b, i, what, code, col == COL_SOURCE ? "source" : "event_type",
            in ? "-in" : os, 0);
      } else if (col == COL_PRIORITY && eq && !have_prio++) {
        use(ix, b, i, TERM_PRIORITY, code, "priority", os, 1);
      } else if (col == COL_CURSOR && eq && !have_cur++) {
        use(ix, b, i, TERM_CURSOR, code, "cursor", os, 1);
      } else {
        all_taken = 0;
      }
    }
    /* Costs: pending + a name is a walk of that name's pending list; a
    ** name or pending alone is still index-driven; the rest is a scan. */
    double cost = 1e6;
    if (have_status && (have_src || have_typ)) cost = 100;
    else if (have_status) cost = 2000;
    else if (have_src || have_typ) cost = 50000;
    if (have_cur) cost /= 2;
    ix->estimatedCost = cost;
    ix->estimatedRows = (sqlite3_int64)cost;
  }

  /* ORDER BY id / created_us / created_at, one direction: ids come out
  ** in that order already (for IN lists, sorted here), and created_us and
  ** created_at never decrease as ids grow; but not when several names are
  ** scanned one after another. */
  int consumed = 0, desc = 0;
  if (ix->nOrderBy > 0 && (id_eq < 0 || in_all) && !names_in) {
    consumed = 1;
    desc = ix->aOrderBy[0].desc;
    for (int k = 0; k < ix->nOrderBy; k++)
      if (!ordered_col(ix->aOrderBy[k].iColumn) || ix->aOrderBy[k].desc != desc)
        consumed = 0;
  }
  /* A query that never reads payload (count(*), id listings) skips its
  ** decompression. */
  int nopayload = id_eq < 0 && !(ix->colUsed & ((sqlite3_uint64)1 << COL_PAYLOAD));
  if (nopayload)
    sqlite3_str_appendf(b->text, "%snopayload", sqlite3_str_length(b->text) ? " " : "");
  if (consumed) {
    ix->orderByConsumed = 1;
    sqlite3_str_appendf(b->text, "%s%s", sqlite3_str_length(b->text) ? " " : "",
                        desc ? "desc" : "asc");
  }
  /* SQLite offers LIMIT/OFFSET also when it sorts or filters after us. */
  if (all_taken && (ix->nOrderBy == 0 || consumed)) {
    for (int i = 0; i < ix->nConstraint; i++) {
      const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
      if (!c->usable) continue;
      if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT)
        use(ix, b, i, TERM_LIMIT, OP_EQ, "limit", "", 0);
      if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET)
        use(ix, b, i, TERM_OFFSET, OP_EQ, "offset", "", 0);
    }
  }
  ix->idxNum = b->n;
  char *s = plan_finish(b, consumed && desc, nopayload);
  sqlite3_free(b->term);
  if (!s) return SQLITE_NOMEM;
  ix->idxStr = s;
  ix->needToFreeIdxStr = 1;
  return SQLITE_OK;
}
