/*
** scan.c: reading a table: xFilter runs an evsql_plan (plan.c) as
** evs_inbox pages or point lookups, xNext walks them, xColumn shows an
** event's columns.
*/
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vtab.h"

typedef struct vcur {
  sqlite3_vtab_cursor base;
  evs_query q;
  char *src, *typ, *qcur, *ucur; /* qcur: the page's; ucur: cursor = */
  evs_page *page;
  size_t i;
  int eof, scan;
  uint64_t *ids; /* point lookups, in output order */
  size_t nids, idi;
  evs_event *ev; /* current point-lookup row */
  char **names;  /* source / event_type IN with several names: one scan */
  size_t nnames, namei; /* after another (names_type: event types) */
  int names_type;
  int64_t limit; /* rows still allowed; -1 = no limit */
  char cursor[EVS_CURSOR_SIZE];
} vcur;

int evsql_open(sqlite3_vtab *p, sqlite3_vtab_cursor **pp) {
  vtab *vt = (vtab *)p;
  int rc = evsql_store(vt);
  if (rc) return rc;
  /* A ro table catches up with the writer's commits once per statement:
  ** SQLite opens a statement's cursors as it starts, so the first one
  ** refreshes and the others (a self-join, a subquery) read the same
  ** view; re-running an inner scan (xFilter again) does not move it. */
  if (vt->ro && vt->ncursor == 0 && (rc = evs_store_refresh(vt->sh->s)))
    return evsql_error(vt, rc == EVS_ENOMEM ? SQLITE_NOMEM : SQLITE_ERROR,
                       "evstore: cannot catch up with the commits to %s: %s", vt->dir,
                       evs_errmsg(vt->sh->s));
  vcur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  vt->ncursor++;
  *pp = &c->base;
  return SQLITE_OK;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) sqlite3_free(names[i]);
  sqlite3_free(names);
}

static void cur_reset(vcur *c) {
  sqlite3_free(c->src);
  sqlite3_free(c->typ);
  sqlite3_free(c->qcur);
  sqlite3_free(c->ucur);
  c->src = c->typ = c->qcur = c->ucur = NULL;
  free_names(c->names, c->nnames);
  c->names = NULL;
  c->nnames = c->namei = 0;
  free(c->ids);
  c->ids = NULL;
  c->nids = c->idi = 0;
  evs_event_free(c->ev);
  c->ev = NULL;
  memset(&c->q, 0, sizeof c->q);
  c->i = 0;
  c->eof = 0;
}

int evsql_close(sqlite3_vtab_cursor *p) {
  vcur *c = (vcur *)p;
  ((vtab *)p->pVtab)->ncursor--;
  cur_reset(c);
  evs_page_free(c->page);
  sqlite3_free(c);
  return SQLITE_OK;
}

static const evs_event *cur_event(vcur *c) {
  return c->scan ? evs_page_event(c->page, c->i) : c->ev;
}

/* Scan the next of several names from its start; 0 when none is left. */
static int next_name(vcur *c) {
  if (c->namei + 1 >= c->nnames) return 0;
  const char *n = c->names[++c->namei];
  if (c->names_type) c->q.event_type = n;
  else c->q.source = n;
  c->q.cursor = c->ucur;
  return 1;
}

/* Read a page at c->q; an empty one ends the scan of a name. */
static int fetch_page(vcur *c) {
  vtab *vt = (vtab *)c->base.pVtab;
  do {
    int rc = evs_inbox(vt->sh->s, vt->txn, &c->q, &c->page);
    if (rc) return evsql_lib_error(vt, rc);
    c->i = 0;
    if (evs_page_count(c->page)) return SQLITE_OK;
  } while (next_name(c));
  c->eof = 1;
  return SQLITE_OK;
}

/* Advance to the next row (scan: next in page, next page when done). */
static int step(vcur *c) {
  vtab *vt = (vtab *)c->base.pVtab;
  if (c->limit == 0) return c->eof = 1, SQLITE_OK;
  if (c->scan) {
    if (++c->i < evs_page_count(c->page)) return SQLITE_OK;
    if (evs_page_more(c->page)) {
      sqlite3_free(c->qcur);
      c->qcur = sqlite3_mprintf("%s", evs_page_cursor(c->page));
      if (!c->qcur) return SQLITE_NOMEM;
      c->q.cursor = c->qcur;
    } else if (!next_name(c)) {
      return c->eof = 1, SQLITE_OK;
    }
    return fetch_page(c);
  }
  evs_event_free(c->ev);
  c->ev = NULL;
  while (c->idi < c->nids) {
    int rc = evs_get(vt->sh->s, vt->txn, c->ids[c->idi++], &c->ev);
    if (!rc) return SQLITE_OK;
    if (rc != EVS_ENOTFOUND) return evsql_lib_error(vt, rc);
  }
  c->eof = 1;
  return SQLITE_OK;
}

int evsql_next(sqlite3_vtab_cursor *p) {
  vcur *c = (vcur *)p;
  if (c->limit > 0) c->limit--;
  return step(c);
}

int evsql_eof(sqlite3_vtab_cursor *p) { return ((vcur *)p)->eof; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}
static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* source IN (...) / event_type IN (...), the list whole: *r = 0 when no
** row can match, 2 when any can (a number in the list: see name_filter),
** else 1 with the distinct names set: one name filters like "=", several
** are scanned one after another. */
static int take_names(vcur *c, sqlite3_value *list, int type, int *r, int *exact) {
  char **names = NULL;
  size_t n = 0, cap = 0;
  int any = 0, rc;
  sqlite3_value *e;
  for (rc = sqlite3_vtab_in_first(list, &e); rc == SQLITE_OK && e;
       rc = sqlite3_vtab_in_next(list, &e)) {
    const char *name = NULL;
    int f = evsql_name_filter(e, &name, exact);
    if (f < 0) {
      rc = SQLITE_NOMEM;
      break;
    }
    any |= f == 2;
    if (f != 1) continue;
    if (n == cap) {
      char **nn = sqlite3_realloc64(names, (cap = cap ? 2 * cap : 8) * sizeof *nn);
      if (!nn) break;
      names = nn;
    }
    if (!(names[n] = sqlite3_mprintf("%s", name))) break;
    n++;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc == SQLITE_OK && e) rc = SQLITE_NOMEM; /* the loop broke */
  if (rc || any || !n) {
    free_names(names, n);
    *r = rc ? 1 : any ? 2 : 0;
    return rc;
  }
  qsort(names, n, sizeof *names, cmp_str);
  size_t w = 1;
  for (size_t i = 1; i < n; i++)
    if (strcmp(names[i], names[w - 1])) names[w++] = names[i];
    else sqlite3_free(names[i]);
  *r = 1;
  if (w > 1 && c->names) { /* both names are lists: scan by the first */
    *exact = 0;
    free_names(names, w);
    return SQLITE_OK;
  }
  if (type) c->q.event_type = names[0];
  else c->q.source = names[0];
  if (w == 1) {
    *(type ? &c->typ : &c->src) = names[0];
    sqlite3_free(names);
  } else {
    c->names = names;
    c->nnames = w;
    c->names_type = type;
  }
  return SQLITE_OK;
}

int evsql_filter(sqlite3_vtab_cursor *p, int idxNum, const char *idxStr, int argc,
                 sqlite3_value **argv) {
  vcur *c = (vcur *)p;
  vtab *vt = (vtab *)p->pVtab;
  cur_reset(c);
  c->limit = -1;
  const evsql_plan *pl = evsql_plan_of(idxStr);
  if (!pl || pl->nterm != (uint32_t)argc)
    return evsql_error(vt, SQLITE_ERROR, "evstore: plan and arguments differ");
  int64_t idlo = INT64_MIN, idhi = INT64_MAX, tlo = INT64_MIN, thi = INT64_MAX;
  int64_t limit = -1, offset = 0;
  int empty = 0, point = 0, exact = 1;
  c->q.status = EVS_QUERY_ANY;
  c->q.limit = EVS_PAGE_MAX;
  c->q.without_payload = pl->nopayload;
  for (int ai = 0; ai < argc; ai++) {
    const evsql_term *tm = &pl->term[ai];
    sqlite3_value *v = argv[ai];
    int64_t lo, hi;
    int r = 1, op = tm->op;
    switch (tm->what) {
    case TERM_ID:
    case TERM_ID_IN:
      if (tm->what == TERM_ID && op != OP_EQ) {
        r = evsql_int_range(v, op, &lo, &hi, &exact);
        idlo = EVS_MAX(idlo, lo);
        idhi = EVS_MIN(idhi, hi);
        break;
      }
      {
        point = 1;
        size_t cap = 0;
        sqlite3_value *e = v;
        int in = tm->what == TERM_ID_IN, rc = in ? sqlite3_vtab_in_first(v, &e) : SQLITE_OK;
        for (; rc == SQLITE_OK && e; rc = in ? sqlite3_vtab_in_next(v, &e) : SQLITE_DONE) {
          if ((r = evsql_int_range(e, OP_EQ, &lo, &hi, &exact)) < 0) return SQLITE_NOMEM;
          if (!r || lo < 1) continue;
          if (c->nids >= cap) { /* ids may hold an earlier term's */
            size_t ncap = 2 * (c->nids + 8);
            uint64_t *grown = realloc(c->ids, ncap * sizeof *c->ids);
            if (!grown) return SQLITE_NOMEM;
            c->ids = grown;
            cap = ncap;
          }
          c->ids[c->nids++] = (uint64_t)lo;
        }
        if (rc != SQLITE_OK && rc != SQLITE_DONE) return rc;
        continue; /* a point lookup's ids, not a condition on the scan */
      }
    case TERM_LIMIT:
      limit = sqlite3_value_int64(v) < 0 ? -1 : sqlite3_value_int64(v);
      break;
    case TERM_OFFSET:
      offset = sqlite3_value_int64(v) < 0 ? 0 : sqlite3_value_int64(v);
      break;
    case TERM_SOURCE_IN:
    case TERM_TYPE_IN: {
      int rc = take_names(c, v, tm->what == TERM_TYPE_IN, &r, &exact);
      if (rc) return rc;
      break;
    }
    case TERM_CREATED_US:
      r = evsql_int_range(v, op, &lo, &hi, &exact);
      tlo = EVS_MAX(tlo, lo);
      thi = EVS_MIN(thi, hi);
      break;
    case TERM_CREATED_AT:
      r = evsql_at_range(v, op, &lo, &hi);
      tlo = EVS_MAX(tlo, lo);
      thi = EVS_MIN(thi, hi);
      break;
    case TERM_STATUS:
      c->q.status = evsql_text_is(v, "pending")        ? EVS_QUERY_PENDING
                    : evsql_text_is(v, "acknowledged") ? EVS_QUERY_ACKNOWLEDGED
                    : evsql_text_is(v, "leased")       ? EVS_QUERY_LEASED
                    : evsql_text_is(v, "dead")         ? EVS_QUERY_DEAD
                    : evsql_text_is(v, "delayed")      ? EVS_QUERY_DELAYED
                                                       : (r = 0, EVS_QUERY_ANY);
      break;
    case TERM_PRIORITY:
      r = 0;
      for (int pr = EVS_PRIORITY_LOW; pr <= EVS_PRIORITY_HIGH; pr++)
        if (evsql_text_is(v, evsql_prio_names[pr])) c->q.priority = pr, r = 1;
      break;
    case TERM_SOURCE:
    case TERM_TYPE: {
      const char *name = NULL;
      if ((r = evsql_name_filter(v, &name, &exact)) == 1) {
        char *dup = sqlite3_mprintf("%s", name);
        if (!dup) return SQLITE_NOMEM;
        if (tm->what == TERM_SOURCE) c->src = dup, c->q.source = dup;
        else c->typ = dup, c->q.event_type = dup;
      }
      break;
    }
    case TERM_CURSOR: {
      int t = sqlite3_value_type(v);
      const char *cur = (const char *)sqlite3_value_text(v);
      if (t == SQLITE_NULL || t == SQLITE_BLOB) {
        r = 0;
      } else if (!cur) {
        return SQLITE_NOMEM;
      } else if (strlen(cur) != (size_t)sqlite3_value_bytes(v)) {
        return evsql_error(vt, SQLITE_ERROR, "evstore: malformed cursor (it holds a NUL byte)");
      } else {
        if (!(c->ucur = sqlite3_mprintf("%s", cur))) return SQLITE_NOMEM;
        c->q.cursor = c->ucur;
      }
      break;
    }
    default:
      return evsql_error(vt, SQLITE_ERROR, "evstore: unknown plan term %d", tm->what);
    }
    if (r < 0) return SQLITE_NOMEM;
    if (!r) empty = 1;
  }
  /* Ids start at 1; the query's 0 means "unbounded". */
  if (idlo > idhi || idhi < 1) empty = 1;
  if (idlo > 1) c->q.min_id = (uint64_t)idlo;
  if (idhi < INT64_MAX) c->q.max_id = (uint64_t)idhi;
  /* Times as exclusive bounds; created times are >= 0, and the query's
  ** 0 means "unbounded", so "after 0" cannot be said: created_us 0 comes
  ** too (SQLite drops it). */
  if (tlo > thi || thi < 0) empty = 1;
  if (tlo > 1) c->q.created_after_us = tlo - 1;
  if (tlo == 1) exact = 0;
  if (thi < INT64_MAX) c->q.created_before_us = thi + 1;
  c->q.descending = pl->desc;
  if (point) {
    c->scan = 0;
    if (c->nids) qsort(c->ids, c->nids, sizeof *c->ids, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < c->nids; i++)
      if (!w || c->ids[w - 1] != c->ids[i]) c->ids[w++] = c->ids[i];
    c->nids = w;
    if (pl->desc)
      for (size_t i = 0; i < w / 2; i++) {
        uint64_t t = c->ids[i];
        c->ids[i] = c->ids[w - 1 - i];
        c->ids[w - 1 - i] = t;
      }
    c->idi = 0;
  } else {
    c->scan = 1;
  }
  /* SQLite skips OFFSET rows itself: stop after LIMIT + OFFSET. */
  if (exact && limit >= 0) c->limit = offset > INT64_MAX - limit ? INT64_MAX : limit + offset;
  if (empty || c->limit == 0) return c->eof = 1, SQLITE_OK;
  if (!c->scan) return step(c);
  /* Small LIMITs fetch small pages. */
  if (c->limit > 0 && c->limit < EVS_PAGE_MAX) c->q.limit = (unsigned)c->limit;
  return fetch_page(c);
}

static const char *const status_names[] = {"pending", "acknowledged", "leased", "dead",
                                           "delayed"};

void evsql_event_column(sqlite3_context *ctx, const evs_event *e, int col) {
  switch (col) {
  case COL_ID: sqlite3_result_int64(ctx, (sqlite3_int64)e->id); break;
  case COL_CREATED_AT: evsql_result_time(ctx, e->created_us); break;
  case COL_CREATED_US: sqlite3_result_int64(ctx, e->created_us); break;
  case COL_STATUS:
    sqlite3_result_text(ctx,
                        e->status >= 0 && e->status <= EVS_STATUS_DELAYED ? status_names[e->status]
                                                                          : "pending",
                        -1, SQLITE_STATIC);
    break;
  case COL_SOURCE:
    sqlite3_result_text(ctx, e->source, (int)e->source_len, SQLITE_TRANSIENT);
    break;
  case COL_TYPE:
    sqlite3_result_text(ctx, e->event_type, (int)e->event_type_len, SQLITE_TRANSIENT);
    break;
  case COL_PAYLOAD:
    sqlite3_result_text(ctx, e->payload, (int)e->payload_len, SQLITE_TRANSIENT);
    break;
  case COL_METADATA:
    if (e->metadata)
      sqlite3_result_text(ctx, e->metadata, (int)e->metadata_len, SQLITE_TRANSIENT);
    break;
  case COL_PRIORITY:
    sqlite3_result_text(ctx, evsql_prio_names[e->priority & 3], -1, SQLITE_STATIC);
    break;
  case COL_IDEM:
    if (e->idempotency_key)
      sqlite3_result_text(ctx, e->idempotency_key, (int)e->idempotency_key_len,
                          SQLITE_TRANSIENT);
    break;
  case COL_ACKED_AT:
    if (e->acknowledged_us) evsql_result_time(ctx, e->acknowledged_us);
    break;
  case COL_DELIVERIES: sqlite3_result_int64(ctx, e->delivery_count); break;
  /* NULL unless leased: a released event waiting out its delay is
  ** 'leased' with a lease_expires_at (when it returns) but no token and no
  ** consumer. */
  case COL_LEASE_TOKEN:
    if (e->lease_token) sqlite3_result_int64(ctx, (sqlite3_int64)e->lease_token);
    break;
  case COL_LEASE_EXPIRES_AT:
    if (e->lease_expires_us) evsql_result_time(ctx, e->lease_expires_us);
    break;
  case COL_LEASED_BY:
    if (e->leased_by) sqlite3_result_text(ctx, e->leased_by, -1, SQLITE_TRANSIENT);
    break;
  /* What the event was appended with; NULL when none. not_before stays
  ** after the time passed (status tells whether it is still held back). */
  case COL_NOT_BEFORE:
    if (e->not_before_us) evsql_result_time(ctx, e->not_before_us);
    break;
  case COL_ORDERING_KEY:
    if (e->ordering_key)
      sqlite3_result_text(ctx, e->ordering_key, (int)e->ordering_key_len, SQLITE_TRANSIENT);
    break;
  }
}

int evsql_column(sqlite3_vtab_cursor *p, sqlite3_context *ctx, int col) {
  vcur *c = (vcur *)p;
  /* In an UPDATE, unchanged columns are not fetched, so xUpdate can tell
  ** which columns the statement sets. */
  if (sqlite3_vtab_nochange(ctx)) return SQLITE_OK;
  const evs_event *e = cur_event(c);
  if (!e) return SQLITE_OK;
  if (col == COL_CURSOR) {
    vtab *vt = (vtab *)p->pVtab;
    const char *saved = c->q.cursor;
    c->q.cursor = NULL;
    int rc = evs_cursor_make(vt->sh->s, &c->q, e->id, c->cursor);
    c->q.cursor = saved;
    if (rc) return evsql_lib_error(vt, rc);
    sqlite3_result_text(ctx, c->cursor, -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  evsql_event_column(ctx, e, col);
  return SQLITE_OK;
}

int evsql_rowid(sqlite3_vtab_cursor *p, sqlite3_int64 *rowid) {
  const evs_event *e = cur_event((vcur *)p);
  *rowid = e ? (sqlite3_int64)e->id : 0;
  return SQLITE_OK;
}
