/*
** functions.c: the SQL functions of the module, evstore_stats('table')
** (evs_stats_json), evstore_compact('table') (evs_compact_report_json),
** and the lease functions evstore_release, evstore_renew, evstore_reject
** (settle a lease with its token) and evstore_redrive (dead events back
** to the inbox). A function finds its table's store in the registry of
** tables (evsql_find_store): the table must have been used on this
** connection. The lease functions run as their own store transaction.
*/
#include <string.h>

#include "vtab.h"

evs_store *evsql_find_store(sqlite3 *db, const char *name, const char *fn, int *ro,
                            char **err) {
  evs_store *s = NULL;
  *ro = 0;
  *err = NULL;
  pthread_mutex_lock(&evsql_reg_mu);
  for (vtab *vt = evsql_tables; vt; vt = vt->next)
    if (vt->db == db && name && !sqlite3_stricmp(vt->name, name) && vt->sh) {
      s = vt->sh->s;
      *ro = vt->ro;
    }
  pthread_mutex_unlock(&evsql_reg_mu);
  if (!s)
    *err = sqlite3_mprintf("%s: no evstore table named '%s' on this "
                           "connection (query it once first)",
                           fn, name ? name : "");
  return s;
}

/* The store of evstore table `name` on the connection of ctx, or NULL
** with an error set on ctx.
** *ro says whether the table is mode='ro'. */
static evs_store *func_store(sqlite3_context *ctx, sqlite3_value *arg, const char *fn,
                             int *ro) {
  char *err;
  evs_store *s = evsql_find_store(sqlite3_context_db_handle(ctx),
                                  (const char *)sqlite3_value_text(arg), fn, ro, &err);
  if (!s) {
    if (err) sqlite3_result_error(ctx, err, -1);
    else sqlite3_result_error_nomem(ctx);
    sqlite3_free(err);
  }
  return s;
}

/* The store of a function that writes: NULL with SQLITE_READONLY for a
** mode='ro' table. */
static evs_store *func_store_rw(sqlite3_context *ctx, sqlite3_value *arg, const char *fn) {
  int ro;
  evs_store *s = func_store(ctx, arg, fn, &ro);
  if (s && ro) {
    char *m = sqlite3_mprintf("%s: evstore table %s is read-only (mode='ro')", fn,
                              sqlite3_value_text(arg));
    sqlite3_result_error(ctx, m, -1);
    sqlite3_result_error_code(ctx, SQLITE_READONLY);
    sqlite3_free(m);
    return NULL;
  }
  return s;
}

/* A library failure as the function's error: "fn: message". */
static void func_lib_error(sqlite3_context *ctx, evs_store *s, const char *fn, int rc) {
  if (rc == EVS_ENOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  char *m = rc == EVS_EDEADLK
                ? sqlite3_mprintf("%s: this connection holds the store's write transaction "
                                  "(an open BEGIN that wrote to it); commit first",
                                  fn)
                : sqlite3_mprintf("%s: %s", fn, evs_errmsg(s));
  sqlite3_result_error(ctx, m, -1);
  sqlite3_free(m);
  if (rc == EVS_EDEADLK || rc == EVS_EBUSY) sqlite3_result_error_code(ctx, SQLITE_BUSY);
}

/* id and token arguments: positive integers. */
static int id_token_args(sqlite3_context *ctx, sqlite3_value **argv, const char *fn,
                         uint64_t *id, uint64_t *token) {
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER ||
      sqlite3_value_type(argv[2]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 1 ||
      sqlite3_value_int64(argv[2]) < 1) {
    char *m = sqlite3_mprintf("%s: id and token must be positive integers (the event's id "
                              "and lease_token)",
                              fn);
    sqlite3_result_error(ctx, m, -1);
    sqlite3_free(m);
    return -1;
  }
  *id = (uint64_t)sqlite3_value_int64(argv[1]);
  *token = (uint64_t)sqlite3_value_int64(argv[2]);
  return 0;
}

static int duration_arg(sqlite3_context *ctx, sqlite3_value *v, const char *fn,
                        const char *what, int64_t *us) {
  if (!evsql_duration_arg(v, us)) return 0;
  char *m = sqlite3_mprintf("%s: bad %s '%s' (a duration like '30s', '5m', '250ms', or "
                            "integer microseconds)",
                            fn, what, sqlite3_value_text(v));
  sqlite3_result_error(ctx, m, -1);
  sqlite3_free(m);
  return -1;
}

/* evstore_release('table', id, token [, delay]): evs_release; 1. */
static void release_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char fn[] = "evstore_release";
  evs_store *s = func_store_rw(ctx, argv[0], fn);
  uint64_t id, token;
  int64_t delay = 0;
  if (!s || id_token_args(ctx, argv, fn, &id, &token) ||
      (argc > 3 && duration_arg(ctx, argv[3], fn, "delay", &delay)))
    return;
  int rc = evs_release(s, id, token, delay);
  if (rc) func_lib_error(ctx, s, fn, rc);
  else sqlite3_result_int(ctx, 1);
}

/* evstore_renew('table', id, token [, lease]): evs_renew; the new
** lease_expires_at. */
static void renew_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char fn[] = "evstore_renew";
  evs_store *s = func_store_rw(ctx, argv[0], fn);
  uint64_t id, token;
  int64_t lease = 0, expires = 0;
  if (!s || id_token_args(ctx, argv, fn, &id, &token) ||
      (argc > 3 && duration_arg(ctx, argv[3], fn, "lease", &lease)))
    return;
  int rc = evs_renew(s, id, token, lease, &expires);
  if (rc) func_lib_error(ctx, s, fn, rc);
  else evsql_result_time(ctx, expires);
}

/* evstore_reject('table', id, token): evs_reject (dead at once); 1. */
static void reject_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char fn[] = "evstore_reject";
  (void)argc;
  evs_store *s = func_store_rw(ctx, argv[0], fn);
  uint64_t id, token;
  if (!s || id_token_args(ctx, argv, fn, &id, &token)) return;
  int rc = evs_reject(s, id, token);
  if (rc) func_lib_error(ctx, s, fn, rc);
  else sqlite3_result_int(ctx, 1);
}

/* evstore_redrive('table' [, source [, event_type]]): evs_redrive of the
** dead events (of that source / type; NULL: any); how many came back. */
static void redrive_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char fn[] = "evstore_redrive";
  evs_store *s = func_store_rw(ctx, argv[0], fn);
  if (!s) return;
  evs_query q;
  memset(&q, 0, sizeof q);
  for (int i = 1; i < argc; i++) {
    int t = sqlite3_value_type(argv[i]);
    if (t == SQLITE_NULL) continue;
    if (t != SQLITE_TEXT) {
      char *m = sqlite3_mprintf("%s: %s must be TEXT or NULL", fn,
                                i == 1 ? "source" : "event_type");
      sqlite3_result_error(ctx, m, -1);
      sqlite3_free(m);
      return;
    }
    *(i == 1 ? &q.source : &q.event_type) = (const char *)sqlite3_value_text(argv[i]);
  }
  uint64_t n = 0;
  int rc = evs_redrive(s, &q, &n);
  if (rc) func_lib_error(ctx, s, fn, rc);
  else sqlite3_result_int64(ctx, (sqlite3_int64)n);
}

/* evstore_compact('table'): evs_compact, its report as a JSON object. */
static void compact_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  /* Compaction rewrites the store: only its writer may run it. */
  evs_store *s = func_store_rw(ctx, argv[0], "evstore_compact");
  if (!s) return;
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
  static const struct {
    const char *name;
    int nargs;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
  } fns[] = {{"evstore_stats", 1, stats_func},     {"evstore_compact", 1, compact_func},
             {"evstore_release", 3, release_func}, {"evstore_release", 4, release_func},
             {"evstore_renew", 3, renew_func},     {"evstore_renew", 4, renew_func},
             {"evstore_reject", 3, reject_func},   {"evstore_redrive", 1, redrive_func},
             {"evstore_redrive", 2, redrive_func}, {"evstore_redrive", 3, redrive_func}};
  int rc = SQLITE_OK;
  for (size_t i = 0; !rc && i < sizeof fns / sizeof *fns; i++)
    rc = sqlite3_create_function(db, fns[i].name, fns[i].nargs,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, fns[i].fn, NULL, NULL);
  return rc;
}
