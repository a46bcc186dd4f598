/*
** module.c: the evstore SQLite virtual table ("USING evstore"): creating,
** connecting, dropping and renaming tables, their arguments, the stores
** they share, who owns a store, and registration (the other files of the
** module: see vtab.h).
**
** Built twice: as the loadable extension evstore.so (entry point
** sqlite3_evstore_init) and, with -DSQLITE_CORE, into libevstore_sqlite for
** programs that register the module themselves (evs_sqlite_register).
**
** A table is one store. Plans are served by evs_inbox (the index), so a
** page of pending events for one source costs O(limit), not a scan.
** Writes join the SQLite transaction: xBegin opens the store's write
** transaction, xSync commits it (so a failure fails the COMMIT),
** savepoints map 1:1. Connections of one process share one open store
** per directory (the registry below is the module's only global state).
** A table declared mode='ro' opens its store read-only (no lock: it reads
** beside a writer in this process or another), refuses every write, and
** catches up with the writer's commits as each statement opens its scan.
*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evstore_sqlite.h"
#include "vtab.h"

#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT1
#endif

/* ---- Shared stores ----------------------------------------------------- */

pthread_mutex_t evsql_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static shared *reg;

/* Can a table with options `want` (as parsed: zero = not given) share a
** store open with `have`? Options of an open must match; a setting of the
** store only where the table gives one. NULL if so, else the name of the
** first that differs. */
static const char *incompatible(const evs_options *have, const evs_options *want) {
  evs_options r;
  if (evs_options_resolve(want, &r)) return "options";
#define OPEN(f) if (r.f != have->f) return #f
#define STORE(f) if (want->f && r.f != have->f) return #f
  OPEN(sync);
  OPEN(skip_json_validation);
  OPEN(checkpoint_bytes);
  OPEN(compact_dead_percent);
  OPEN(auto_compact_percent);
  STORE(max_payload);
  STORE(max_metadata);
  STORE(compress_threshold);
  STORE(compress_level);
  STORE(retention_us);
  STORE(idempotency_window_us);
  STORE(segment_size);
  STORE(dict_compress);
  STORE(max_deliveries);
#undef OPEN
#undef STORE
  return NULL;
}

static void shared_free(shared *h) {
  if (h->destroy && !h->owner)
    evs_store_drop(h->s);
  else
    evs_store_close(h->s);
  sqlite3_free(h->key);
  free(h);
}

/* Does dir hold a store (an evstore.meta)? -1 when out of memory. */
static int has_meta(const char *dir) {
  char *meta = sqlite3_mprintf("%s/evstore.meta", dir);
  struct stat st;
  int has = meta ? stat(meta, &st) == 0 : -1;
  sqlite3_free(meta);
  return has;
}

/* Open a store (dir NULL: in memory, kept by aux under memkey) or share
** the handle already open. With `create` a directory that holds no store
** gets a new one (*made says so); without, it is an error: a table's
** store that is gone is never silently replaced by an empty one. Returns
** an SQLite code; *lib the library's, for the caller's choices. */
static int shared_get(const char *dir, conn_aux *aux, const char *memkey,
                      const evs_options *o, int create, shared **out, int *made,
                      int *lib, char **err) {
  *out = NULL;
  *made = 0;
  *lib = 0;
  pthread_mutex_lock(&evsql_reg_mu);
  char real[PATH_MAX];
  int have_real = dir && realpath(dir, real);
  shared *list = dir ? reg : aux->mem;
  for (shared *h = list; h; h = h->next) {
    if (dir ? !(have_real && !strcmp(h->key, real)) : strcmp(h->key, memkey)) continue;
    if (h->ro != o->read_only) continue; /* ro and rw tables never share */
    const char *diff = dir ? incompatible(&h->opt, o) : NULL;
    if (diff) {
      *err = sqlite3_mprintf("evstore: store %s is already open in this process with "
                             "different options (%s differs)",
                             dir, diff);
      pthread_mutex_unlock(&evsql_reg_mu);
      return SQLITE_ERROR;
    }
    h->refs++;
    *out = h;
    pthread_mutex_unlock(&evsql_reg_mu);
    return SQLITE_OK;
  }
  int store_there = dir ? has_meta(dir) : 1;
  if (store_there < 0) {
    pthread_mutex_unlock(&evsql_reg_mu);
    return SQLITE_NOMEM;
  }
  if (!store_there) {
    if (!create) {
      *lib = EVS_ENOTFOUND;
      *err = o->read_only
                 ? sqlite3_mprintf("evstore: %s holds no store; a table with mode='ro' "
                                   "reads an existing store and never creates one",
                                   dir)
                 : sqlite3_mprintf("evstore: %s holds no store (was it dropped, moved or "
                                   "deleted?); DROP TABLE removes the table",
                                   dir);
      pthread_mutex_unlock(&evsql_reg_mu);
      return SQLITE_ERROR;
    }
    *made = 1;
  }
  shared *h = calloc(1, sizeof *h);
  int rc = h ? evs_store_open(dir, o, &h->s) : EVS_ENOMEM;
  if (rc) {
    *lib = rc;
    *made = 0;
    *err = sqlite3_mprintf("evstore: %s%s", h ? evs_errmsg(NULL) : "out of memory",
                           rc == EVS_ELOCKED ? "; a table declared with mode='ro' reads "
                                               "it beside that writer"
                                             : "");
    free(h);
    pthread_mutex_unlock(&evsql_reg_mu);
    return rc == EVS_ELOCKED ? SQLITE_BUSY : SQLITE_ERROR;
  }
  h->key = sqlite3_mprintf("%s", !dir ? memkey : realpath(dir, real) ? real : dir);
  evs_store_options(h->s, &h->opt);
  h->ro = o->read_only;
  h->refs = 1;
  if (dir) {
    h->next = reg;
    reg = h;
  } else {
    h->owner = aux;
    h->next = aux->mem;
    aux->mem = h;
  }
  *out = h;
  pthread_mutex_unlock(&evsql_reg_mu);
  return SQLITE_OK;
}

static void unlink_from(shared **list, shared *h) {
  for (shared **pp = list; *pp; pp = &(*pp)->next)
    if (*pp == h) {
      *pp = h->next;
      return;
    }
}

/* Drop a reference. A directory store closes (or, marked, is deleted)
** with its last one; an in-memory store only when dropped (its connection
** may reconnect). */
static void shared_put(shared *h) {
  pthread_mutex_lock(&evsql_reg_mu);
  h->refs--;
  int gone = h->owner ? h->destroy : h->refs == 0;
  if (gone) {
    unlink_from(h->owner ? &h->owner->mem : &reg, h);
    shared_free(h);
  }
  pthread_mutex_unlock(&evsql_reg_mu);
}

/* The connection closes: its in-memory stores go with it. */
static void conn_aux_free(void *p) {
  conn_aux *aux = p;
  pthread_mutex_lock(&evsql_reg_mu);
  for (shared *h = aux->mem, *n; h; h = n) {
    n = h->next;
    shared_free(h);
  }
  pthread_mutex_unlock(&evsql_reg_mu);
  free(aux);
}

/* ---- Table ------------------------------------------------------------- */

const char *const evsql_col_names[NCOL] = {
    "id",       "created_at", "created_us",      "status",
    "source",   "event_type", "payload",         "metadata",
    "priority", "idempotency_key", "acknowledged_at", "cursor",
    "delivery_count", "lease_token", "lease_expires_at", "leased_by",
    "not_before", "ordering_key"};

#define SCHEMA "CREATE TABLE x(" EVSQL_COLUMNS ")"

vtab *evsql_tables;

int evsql_error(vtab *vt, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sqlite3_free(vt->base.zErrMsg);
  vt->base.zErrMsg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  return rc;
}

int evsql_lib_error(vtab *vt, int rc) {
  int sq = rc == EVS_ENOMEM    ? SQLITE_NOMEM
           : rc == EVS_EBUSY || rc == EVS_EDEADLK ? SQLITE_BUSY
           : rc == EVS_ELOCKED ? SQLITE_BUSY
           : rc == EVS_ECONFLICT || rc == EVS_EINVAL || rc == EVS_EJSON ||
                   rc == EVS_ETOOBIG
               ? SQLITE_CONSTRAINT
           : rc == EVS_ECORRUPT ? SQLITE_CORRUPT
           : rc == EVS_EIO || rc == EVS_ENOSPC ? SQLITE_IOERR
                                               : SQLITE_ERROR;
  if (rc == EVS_EDEADLK)
    return evsql_error(vt, sq,
                       "evstore: this thread already holds the write transaction "
                    "of this store through another connection; commit or roll "
                    "that back first");
  if (rc == EVS_EBUSY)
    return evsql_error(vt, sq,
                       "evstore: another connection holds the store's write "
                    "transaction (busy_timeout %d ms passed)",
                    vt->busy_ms);
  return evsql_error(vt, sq, "evstore: %s", evs_errmsg(vt->sh->s));
}

int evsql_readonly(vtab *vt) {
  return evsql_error(vt, SQLITE_READONLY, "evstore table %s is read-only (mode='ro')",
                     vt->name);
}

/* The library's grammar (evs_duration_parse): "7d", "24h", "30m", "45s",
** "250ms", "10us", a plain number of µs, "forever" or "0" (forever). */
static int parse_duration(const char *v, int64_t *out) {
  return evs_duration_parse(v, strlen(v), out) ? -1 : 0;
}

static int parse_uint(const char *v, uint32_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || end == v || *end || *v == '-' || n > UINT32_MAX) return -1;
  *out = (uint32_t)n;
  return 0;
}

/* Copy an argument value, removing one level of '...' or "..." quotes. */
static char *unquote(const char *v, size_t n) {
  while (n && (*v == ' ' || *v == '\t')) v++, n--;
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  char *o = sqlite3_malloc64(n + 1);
  if (!o) return NULL;
  if (n >= 2 && (v[0] == '\'' || v[0] == '"') && v[n - 1] == v[0]) {
    size_t j = 0;
    for (size_t i = 1; i + 1 < n; i++) {
      o[j++] = v[i];
      if (v[i] == v[0] && v[i + 1] == v[0]) i++; /* doubled quote */
    }
    o[j] = 0;
  } else {
    memcpy(o, v, n);
    o[n] = 0;
  }
  return o;
}

/* Parse CREATE VIRTUAL TABLE arguments into options and a directory. */
static int parse_args(int argc, const char *const *argv, evs_options *o,
                      char **dir, int *has_dir, int *busy_ms, char **err) {
  memset(o, 0, sizeof *o); /* o->read_only: mode='ro' */
  *busy_ms = 5000;
  *dir = NULL;
  *has_dir = 0;
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i], *eq = strchr(a, '=');
    size_t kl = eq ? (size_t)(eq - a) : 0;
    while (kl && (a[kl - 1] == ' ' || a[kl - 1] == '\t')) kl--;
    while (kl && (*a == ' ' || *a == '\t')) a++, kl--;
    if (!eq || !kl) {
      *err = sqlite3_mprintf("evstore: argument '%s' is not key=value", argv[i]);
      return SQLITE_ERROR;
    }
    char *v = unquote(eq + 1, strlen(eq + 1));
    if (!v) return SQLITE_NOMEM;
    int bad = 0;
#define KEY(k) (kl == strlen(k) && !strncmp(a, k, kl))
    if (KEY("dir")) {
      sqlite3_free(*dir);
      *dir = v;
      *has_dir = 1;
      if (!*v) bad = 1;
      v = NULL;
    } else if (KEY("sync")) {
      o->sync = !strcmp(v, "off") ? EVS_SYNC_OFF
                : !strcmp(v, "normal") ? EVS_SYNC_NORMAL
                : !strcmp(v, "full")   ? EVS_SYNC_FULL
                                       : (bad = 1, 0);
    } else if (KEY("retention")) {
      bad = parse_duration(v, &o->retention_us);
    } else if (KEY("idempotency_window")) {
      bad = parse_duration(v, &o->idempotency_window_us);
    } else if (KEY("max_payload")) {
      bad = parse_uint(v, &o->max_payload) || !o->max_payload;
    } else if (KEY("max_deliveries")) {
      bad = parse_uint(v, &o->max_deliveries) || !o->max_deliveries ||
            o->max_deliveries > 255;
    } else if (KEY("compress_threshold")) {
      bad = parse_uint(v, &o->compress_threshold) || !o->compress_threshold;
    } else if (KEY("segment_size")) {
      bad = parse_uint(v, &o->segment_size) || !o->segment_size;
    } else if (KEY("compress_level")) {
      char *end;
      long l = strtol(v, &end, 10);
      bad = end == v || *end || l == 0 || l < -100000 || l > 22;
      o->compress_level = (int)l;
    } else if (KEY("busy_timeout")) {
      uint32_t ms;
      bad = parse_uint(v, &ms) || ms > INT_MAX;
      *busy_ms = (int)ms;
    } else if (KEY("auto_compact")) {
      uint32_t pc = 0;
      if (!strcmp(v, "off")) o->auto_compact_percent = -1;
      else bad = parse_uint(v, &pc) || pc < 1 || pc > 100, o->auto_compact_percent = (int)pc;
    } else if (KEY("compact_dead_percent")) {
      uint32_t pc = 0;
      bad = parse_uint(v, &pc) || pc < 1 || pc > 100;
      o->compact_dead_percent = (int)pc;
    } else if (KEY("checkpoint_bytes")) {
      uint32_t b = 0;
      if (!strcmp(v, "off")) o->checkpoint_bytes = -1;
      else bad = parse_uint(v, &b) || !b, o->checkpoint_bytes = b;
    } else if (KEY("dict_compress")) {
      bad = strcmp(v, "on") && strcmp(v, "off");
      o->dict_compress = !strcmp(v, "on") ? 1 : -1;
    } else if (KEY("mode")) {
      bad = strcmp(v, "ro") && strcmp(v, "rw");
      o->read_only = !strcmp(v, "ro");
    } else if (KEY("validate_json")) {
      bad = strcmp(v, "0") && strcmp(v, "1");
      o->skip_json_validation = !strcmp(v, "0");
    } else {
      *err = sqlite3_mprintf(
          "evstore: unknown argument '%.*s' (known: dir, sync, retention, "
          "idempotency_window, max_payload, compress_threshold, "
          "compress_level, segment_size, validate_json, busy_timeout, "
          "auto_compact, compact_dead_percent, checkpoint_bytes, dict_compress, max_deliveries, mode)",
          (int)kl, a);
      sqlite3_free(v);
      return SQLITE_ERROR;
    }
#undef KEY
    if (bad) {
      *err = sqlite3_mprintf("evstore: bad value for %.*s: '%s'", (int)kl, a,
                             v ? v : *dir);
      sqlite3_free(v);
      return SQLITE_ERROR;
    }
    sqlite3_free(v);
  }
  return SQLITE_OK;
}

/* ---- Ownership --------------------------------------------------------
** The table that creates a store owns it: the store's id (random at its
** creation, in evstore.meta) is written to the table's shadow table
** "<table>_owner" in the same database. DROP TABLE deletes the store only
** when that id matches the store it has open; a table that attached to a
** store that already existed (another database's, another process's, one
** restored from a backup) only detaches. */

static int owner_exec(sqlite3 *db, char *sql) {
  if (!sql) return SQLITE_NOMEM;
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  return rc;
}

/* The database file too: a copy of the database (restored, or opened
** under another name) is not the table that created the store. */
static int owner_write(sqlite3 *db, const char *schema, const char *name, uint64_t id) {
  const char *fn = sqlite3_db_filename(db, schema);
  return owner_exec(db, sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_owner\"(store_id TEXT "
                                        "NOT NULL, db_file TEXT NOT NULL); INSERT INTO "
                                        "\"%w\".\"%w_owner\" VALUES('%016llx', %Q)",
                                        schema, name, schema, name, (unsigned long long)id,
                                        fn ? fn : ""));
}

/* 1 if the table's shadow table names store `id` and this database file. */
static int owner_is(sqlite3 *db, const char *schema, const char *name, uint64_t id) {
  char *sql = sqlite3_mprintf("SELECT store_id, db_file FROM \"%w\".\"%w_owner\"", schema,
                              name);
  sqlite3_stmt *st = NULL;
  int mine = 0;
  if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    char want[32];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)id);
    const unsigned char *v = sqlite3_column_text(st, 0), *f = sqlite3_column_text(st, 1);
    const char *fn = sqlite3_db_filename(db, schema);
    mine = v && f && !strcmp((const char *)v, want) && !strcmp((const char *)f, fn ? fn : "");
  }
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return mine;
}

static int owner_drop(sqlite3 *db, const char *schema, const char *name) {
  return owner_exec(db, sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\".\"%w_owner\"", schema,
                                        name));
}

/* SQLite keeps "<table>_owner" read-only to ordinary SQL in defensive mode. */
static int xShadowName(const char *suffix) { return !sqlite3_stricmp(suffix, "owner"); }

/* The table's store, opened now if it could not be at connect (a store
** another process held may have been released since). */
int evsql_store(vtab *vt) {
  if (vt->sh) return SQLITE_OK;
  char *err = NULL;
  int made, lib;
  int rc = shared_get(vt->dir, vt->aux, vt->memkey, &vt->opt, 0, &vt->sh, &made, &lib, &err);
  if (rc) {
    sqlite3_free(vt->base.zErrMsg);
    vt->base.zErrMsg = err;
  }
  return rc;
}

static void vt_release(vtab *vt) {
  sqlite3_free(vt->schema);
  sqlite3_free(vt->name);
  sqlite3_free(vt->memkey);
  sqlite3_free(vt->dir);
  sqlite3_free(vt->base.zErrMsg);
  sqlite3_free(vt);
}

static int vt_init(sqlite3 *db, void *aux, int argc, const char *const *argv,
                   sqlite3_vtab **pp, char **err, int create) {
  evs_options o;
  char *dir = NULL;
  int has_dir, busy_ms;
  int rc = parse_args(argc, argv, &o, &dir, &has_dir, &busy_ms, err);
  if (rc) {
    sqlite3_free(dir);
    return rc;
  }
  if (o.read_only && (!has_dir || !strcmp(dir, ":memory:"))) {
    /* A ro table reads an existing store directory: say which, never
    ** guess one (the default is named after this table). */
    sqlite3_free(dir);
    *err = sqlite3_mprintf("evstore: mode='ro' needs dir='...', the directory of an "
                           "existing store (not in memory)");
    return SQLITE_ERROR;
  }
  if (dir && !strcmp(dir, ":memory:")) {
    sqlite3_free(dir);
    dir = NULL;
  } else if (!has_dir) {
    /* Beside the database file; an in-memory or temporary database gets
    ** an in-memory store. */
    const char *fn = sqlite3_db_filename(db, argv[1]);
    if (fn && *fn) dir = sqlite3_mprintf("%s-%s.evstore", fn, argv[2]);
  }
  vtab *vt = sqlite3_malloc(sizeof *vt);
  if (!vt) {
    sqlite3_free(dir);
    return SQLITE_NOMEM;
  }
  memset(vt, 0, sizeof *vt);
  vt->db = db;
  vt->aux = aux;
  vt->dir = dir;
  vt->busy_ms = busy_ms;
  vt->ro = o.read_only;
  vt->schema = sqlite3_mprintf("%s", argv[1]);
  vt->name = sqlite3_mprintf("%s", argv[2]);
  vt->memkey = sqlite3_mprintf("%s.%s", argv[1], argv[2]);
  /* The store's settings were recorded when it was created (or set by a
  ** CREATE since); a connection uses them whatever its declaration says,
  ** so a change made with `evstore DIR config` sticks. */
  vt->opt = o;
  if (!create) evs_options_use_stored(&vt->opt);
  int made = 0, lib = 0;
  rc = !vt->schema || !vt->name || !vt->memkey
           ? SQLITE_NOMEM
           : shared_get(dir, aux, vt->memkey, &vt->opt, create && !vt->ro, &vt->sh, &made,
                        &lib, err);
  if (rc && !create && rc != SQLITE_NOMEM) {
    /* A table whose store cannot be opened now (gone, locked, damaged)
    ** still connects, so that DROP TABLE works; every use reports why. */
    sqlite3_free(*err);
    *err = NULL;
    rc = SQLITE_OK;
  }
  if (!rc && made) {
    evs_stats st;
    rc = evs_stats_get(vt->sh->s, &st);
    if (!rc) rc = owner_write(db, argv[1], argv[2], st.store_id);
    if (rc) {
      *err = sqlite3_mprintf("evstore: cannot record the table as the owner of %s: %s", dir,
                             sqlite3_errmsg(db));
      vt->sh->destroy = 1; /* it was made for this table: take it back */
    }
  }
  if (!rc) rc = sqlite3_declare_vtab(db, SCHEMA);
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  /* xUpdate's SQLITE_CONSTRAINT then follows the statement's OR clause:
  ** IGNORE skips the row (a duplicate key, an invalid event), FAIL and
  ** ROLLBACK act as for a plain table (write.c). */
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  if (rc) {
    if (vt->sh) {
      /* A table that never came to be must not keep an in-memory store. */
      if (vt->sh->owner && create) vt->sh->destroy = 1;
      shared_put(vt->sh);
    }
    vt_release(vt);
    return rc;
  }
  pthread_mutex_lock(&evsql_reg_mu);
  vt->next = evsql_tables;
  evsql_tables = vt;
  pthread_mutex_unlock(&evsql_reg_mu);
  *pp = &vt->base;
  return SQLITE_OK;
}

static int xCreate(sqlite3 *db, void *aux, int argc, const char *const *argv,
                   sqlite3_vtab **pp, char **err) {
  return vt_init(db, aux, argc, argv, pp, err, 1);
}

static int xConnect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                    sqlite3_vtab **pp, char **err) {
  return vt_init(db, aux, argc, argv, pp, err, 0);
}

static void vt_unlist(vtab *vt) {
  pthread_mutex_lock(&evsql_reg_mu);
  for (vtab **pp = &evsql_tables; *pp; pp = &(*pp)->next)
    if (*pp == vt) {
      *pp = vt->next;
      break;
    }
  pthread_mutex_unlock(&evsql_reg_mu);
}

static int xDisconnect(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (vt->txn) evs_txn_rollback(vt->txn);
  vt_unlist(vt);
  if (vt->sh) shared_put(vt->sh);
  vt_release(vt);
  return SQLITE_OK;
}

/* DROP TABLE. A store this table created is deleted (evs_store_drop: only
** the files the store lists, its directory only if it made it and it is
** empty) when no other connection of the process uses it; while one does,
** the DROP fails (SQLITE_LOCKED) and nothing changes. A store the table
** only attached to, or one that cannot be opened (gone, damaged), is left
** as it is. A store another process holds cannot be opened here, so it is
** never deleted under that process: the DROP fails (SQLITE_BUSY). */
static int xDestroy(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (!vt->sh && evsql_store(vt) == SQLITE_BUSY) return SQLITE_BUSY;
  int mine = 0;
  if (vt->sh && !vt->sh->owner) {
    evs_stats st;
    /* A ro table never created its store, so never deletes it. */
    mine = !vt->ro && !evs_stats_get(vt->sh->s, &st) &&
           owner_is(vt->db, vt->schema, vt->name, st.store_id);
    pthread_mutex_lock(&evsql_reg_mu);
    int shared_use = vt->sh->refs > 1;
    /* A mode='ro' table on the same directory has a handle of its own:
    ** it uses the store too. */
    for (shared *h = reg; h && !shared_use; h = h->next)
      shared_use = h != vt->sh && !strcmp(h->key, vt->sh->key);
    pthread_mutex_unlock(&evsql_reg_mu);
    if (mine && shared_use)
      return evsql_error(vt, SQLITE_LOCKED,
                         "evstore: store %s is in use by another connection of this process; "
                      "nothing was dropped",
                      vt->sh->key);
  }
  /* Deleted files cannot come back with a ROLLBACK that brings the table
  ** back: a DROP that deletes data runs only as its own transaction. */
  if ((mine || (vt->sh && vt->sh->owner)) && !sqlite3_get_autocommit(vt->db))
    return evsql_error(vt, SQLITE_LOCKED,
                       "evstore: DROP TABLE %s would delete its store inside a transaction "
                    "that could still roll back; commit first",
                    vt->name);
  if (vt->dir) {
    int rc = owner_drop(vt->db, vt->schema, vt->name);
    if (rc) return rc;
  }
  if (vt->txn) {
    evs_txn_rollback(vt->txn);
    vt->txn = NULL;
  }
  vt_unlist(vt);
  if (vt->sh) {
    if (vt->sh->owner || mine) vt->sh->destroy = 1;
    shared_put(vt->sh);
  }
  vt_release(vt);
  return SQLITE_OK;
}

static int xRename(sqlite3_vtab *p, const char *name) {
  vtab *vt = (vtab *)p;
  if (vt->sh && vt->sh->owner) {
    /* In memory: re-key the store so the renamed table reconnects to it. */
    char *k = sqlite3_mprintf("%s.%s", vt->schema, name);
    if (!k) return SQLITE_NOMEM;
    pthread_mutex_lock(&evsql_reg_mu);
    sqlite3_free(vt->sh->key);
    vt->sh->key = k;
    pthread_mutex_unlock(&evsql_reg_mu);
    char *mk = sqlite3_mprintf("%s", k);
    if (mk) {
      sqlite3_free(vt->memkey);
      vt->memkey = mk;
    }
    return SQLITE_OK;
  }
  /* A directory store stays where it is; only a default directory (named
  ** after the table) would be orphaned, so refuse rather than guess. */
  return evsql_error(vt, SQLITE_ERROR,
                     "evstore: renaming is not supported (the store stays at %s)", vt->dir);
}

static sqlite3_module evstore_module = {
    3,
    xCreate,
    xConnect,
    evsql_best_index,
    xDisconnect,
    xDestroy,
    evsql_open,
    evsql_close,
    evsql_filter,
    evsql_next,
    evsql_eof,
    evsql_column,
    evsql_rowid,
    evsql_update,
    evsql_begin,
    evsql_sync,
    evsql_commit,
    evsql_rollback,
    NULL,
    xRename,
    evsql_savepoint,
    evsql_release,
    evsql_rollback_to,
    xShadowName};

static int register_all(sqlite3 *db) {
  conn_aux *aux = calloc(1, sizeof *aux);
  if (!aux) return SQLITE_NOMEM;
  /* SQLite calls conn_aux_free when the connection closes (or at once if
  ** registration fails). */
  int rc = sqlite3_create_module_v2(db, "evstore", &evstore_module, aux, conn_aux_free);
  if (!rc) rc = evsql_register_functions(db);
  if (!rc) rc = evsql_register_claim(db);
  return rc;
}

#ifdef SQLITE_CORE
int evs_sqlite_register(struct sqlite3 *db) { return register_all(db); }
#else
int sqlite3_evstore_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);
#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_evstore_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  int rc = register_all(db);
  if (rc) *err = sqlite3_mprintf("evstore: cannot register the module");
  return rc;
}
#endif

