/*
** functions.c: the SQL functions of the module, evstore_stats('table')
** (evs_stats_json) and evstore_compact('table') (evs_compact_report_json).
*/
#include "vtab.h"

/* The store of evstore table `name` on the connection of ctx, or NULL
** with an error set on ctx.
** *ro says whether the table is mode='ro'. */
static evs_store *func_store(sqlite3_context *ctx, sqlite3_value *arg, const char *fn,
                             int *ro) {
  const char *name = (const char *)sqlite3_value_text(arg);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  evs_store *s = NULL;
  *ro = 0;
  pthread_mutex_lock(&evsql_reg_mu);
  for (vtab *vt = evsql_tables; vt; vt = vt->next)
    if (vt->db == db && name && !sqlite3_stricmp(vt->name, name) && vt->sh) {
      s = vt->sh->s;
      *ro = vt->ro;
    }
  pthread_mutex_unlock(&evsql_reg_mu);
  if (!s) {
    char *m = sqlite3_mprintf("%s: no evstore table named '%s' on this "
                              "connection (query it once first)",
                              fn, name ? name : "");
    sqlite3_result_error(ctx, m, -1);
    sqlite3_free(m);
  }
  return s;
}

/* evstore_compact('table'): evs_compact, its report as a JSON object. */
static void compact_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int ro;
  evs_store *s = func_store(ctx, argv[0], "evstore_compact", &ro);
  if (!s) return;
  if (ro) {
    /* Compaction rewrites the store: only its writer may run it. */
    char *m = sqlite3_mprintf("evstore_compact: evstore table %s is read-only (mode='ro')",
                              sqlite3_value_text(argv[0]));
    sqlite3_result_error(ctx, m, -1);
    sqlite3_result_error_code(ctx, SQLITE_READONLY);
    sqlite3_free(m);
    return;
  }
  evs_compact_report r;
  if (evs_compact(s, &r)) {
    sqlite3_result_error(ctx, evs_errmsg(s), -1);
    return;
  }
  char j[EVS_STATS_JSON_SIZE];
  if (evs_compact_report_json(&r, j, sizeof j)) {
    sqlite3_result_error(ctx, "evstore_compact: report too long", -1);
    return;
  }
  sqlite3_result_text(ctx, j, -1, SQLITE_TRANSIENT);
}

/* evstore_stats('table'): the store's evs_stats as a JSON object. */
static void stats_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int ro;
  evs_store *s = func_store(ctx, argv[0], "evstore_stats", &ro);
  if (!s) return;
  /* A ro table's statistics are the writer's latest commits. */
  if (ro && evs_store_refresh(s)) {
    sqlite3_result_error(ctx, evs_errmsg(s), -1);
    return;
  }
  char *j = sqlite3_malloc(EVS_STATS_JSON_SIZE);
  if (!j) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (evs_stats_json(s, j, EVS_STATS_JSON_SIZE)) {
    sqlite3_free(j);
    sqlite3_result_error(ctx, evs_errmsg(s), -1);
    return;
  }
  sqlite3_result_text(ctx, j, -1, sqlite3_free);
}

int evsql_register_functions(sqlite3 *db) {
  int rc = sqlite3_create_function(db, "evstore_stats", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                   NULL, stats_func, NULL, NULL);
  if (!rc)
    rc = sqlite3_create_function(db, "evstore_compact", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                 NULL, compact_func, NULL, NULL);
  return rc;
}
