/*
** evstore_vtab.c: the evstore SQLite virtual table ("USING evstore").
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
*/
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef SQLITE_CORE
#include <sqlite3.h>
#else
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
#endif

#include "evstore.h"
#include "evstore_sqlite.h"
#include "util.h"

/* ---- Shared stores ----------------------------------------------------- */

/* Directory stores are shared by every connection of the process (one
** flock per directory). In-memory stores belong to one connection and
** outlive xDisconnect (SQLite disconnects tables when it reloads its
** schema): the connection's module data holds them until DROP TABLE or
** until the connection closes. */
typedef struct conn_aux conn_aux;

typedef struct shared {
  char *key; /* realpath of the directory, or "schema.table" in memory */
  evs_store *s;
  evs_options opt; /* what the store runs with (evs_store_options) */
  int refs;
  int destroy;     /* when the last reference goes: delete the store
                      (evs_store_drop), or discard an in-memory one */
  conn_aux *owner; /* in-memory store: the connection that holds it */
  struct shared *next;
} shared;

struct conn_aux {
  shared *mem; /* this connection's in-memory stores */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
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
  pthread_mutex_lock(&reg_mu);
  char real[PATH_MAX];
  int have_real = dir && realpath(dir, real);
  shared *list = dir ? reg : aux->mem;
  for (shared *h = list; h; h = h->next) {
    if (dir ? !(have_real && !strcmp(h->key, real)) : strcmp(h->key, memkey)) continue;
    const char *diff = dir ? incompatible(&h->opt, o) : NULL;
    if (diff) {
      *err = sqlite3_mprintf("evstore: store %s is already open in this process with "
                             "different options (%s differs)",
                             dir, diff);
      pthread_mutex_unlock(&reg_mu);
      return SQLITE_ERROR;
    }
    h->refs++;
    *out = h;
    pthread_mutex_unlock(&reg_mu);
    return SQLITE_OK;
  }
  int store_there = dir ? has_meta(dir) : 1;
  if (store_there < 0) {
    pthread_mutex_unlock(&reg_mu);
    return SQLITE_NOMEM;
  }
  if (!store_there) {
    if (!create) {
      *lib = EVS_ENOTFOUND;
      *err = sqlite3_mprintf("evstore: %s holds no store (was it dropped, moved or "
                             "deleted?); DROP TABLE removes the table",
                             dir);
      pthread_mutex_unlock(&reg_mu);
      return SQLITE_ERROR;
    }
    *made = 1;
  }
  shared *h = calloc(1, sizeof *h);
  int rc = h ? evs_store_open(dir, o, &h->s) : EVS_ENOMEM;
  if (rc) {
    *lib = rc;
    *made = 0;
    *err = sqlite3_mprintf("evstore: %s", h ? evs_errmsg(NULL) : "out of memory");
    free(h);
    pthread_mutex_unlock(&reg_mu);
    return rc == EVS_ELOCKED ? SQLITE_BUSY : SQLITE_ERROR;
  }
  h->key = sqlite3_mprintf("%s", !dir ? memkey : realpath(dir, real) ? real : dir);
  evs_store_options(h->s, &h->opt);
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
  pthread_mutex_unlock(&reg_mu);
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
  pthread_mutex_lock(&reg_mu);
  h->refs--;
  int gone = h->owner ? h->destroy : h->refs == 0;
  if (gone) {
    unlink_from(h->owner ? &h->owner->mem : &reg, h);
    shared_free(h);
  }
  pthread_mutex_unlock(&reg_mu);
}

/* The connection closes: its in-memory stores go with it. */
static void conn_aux_free(void *p) {
  conn_aux *aux = p;
  pthread_mutex_lock(&reg_mu);
  for (shared *h = aux->mem, *n; h; h = n) {
    n = h->next;
    shared_free(h);
  }
  pthread_mutex_unlock(&reg_mu);
  free(aux);
}

/* ---- Table ------------------------------------------------------------- */

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
  NCOL
};

static const char *const col_names[NCOL] = {
    "id",       "created_at", "created_us",      "status",
    "source",   "event_type", "payload",         "metadata",
    "priority", "idempotency_key", "acknowledged_at", "cursor"};

#define SCHEMA                                                               \
  "CREATE TABLE x(id INTEGER, created_at TEXT, created_us INTEGER, "         \
  "status TEXT, source TEXT, event_type TEXT, payload TEXT, metadata TEXT, " \
  "priority TEXT, idempotency_key TEXT, acknowledged_at TEXT, "              \
  "cursor TEXT HIDDEN)"

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
  struct vtab *next; /* all tables, for evstore_stats() */
} vtab;

static vtab *tables; /* guarded by reg_mu */

static int vt_error(vtab *vt, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sqlite3_free(vt->base.zErrMsg);
  vt->base.zErrMsg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  return rc;
}

/* Map a library failure to an SQLite code, with the library's message. */
static int vt_lib_error(vtab *vt, int rc) {
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
    return vt_error(vt, sq,
                    "evstore: this thread already holds the write transaction "
                    "of this store through another connection; commit or roll "
                    "that back first");
  if (rc == EVS_EBUSY)
    return vt_error(vt, sq,
                    "evstore: another connection holds the store's write "
                    "transaction (busy_timeout %d ms passed)",
                    vt->busy_ms);
  return vt_error(vt, sq, "evstore: %s", evs_errmsg(vt->sh->s));
}

/* "7d", "24h", "30m", "45s", "250ms", a plain number of µs, or "forever". */
static int parse_duration(const char *v, int64_t *out) {
  if (!strcmp(v, "forever") || !strcmp(v, "0")) {
    *out = -1;
    return 0;
  }
  char *end;
  errno = 0;
  long long n = strtoll(v, &end, 10);
  if (errno || end == v || n <= 0) return -1;
  int64_t mul = !*end                  ? 1
                : !strcmp(end, "us")   ? 1
                : !strcmp(end, "ms")   ? 1000
                : !strcmp(end, "s")    ? 1000000
                : !strcmp(end, "m")    ? 60000000LL
                : !strcmp(end, "h")    ? 3600000000LL
                : !strcmp(end, "d")    ? 86400000000LL
                                       : 0;
  if (!mul || n > INT64_MAX / mul) return -1;
  *out = n * mul;
  return 0;
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
  memset(o, 0, sizeof *o);
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
    } else if (KEY("validate_json")) {
      bad = strcmp(v, "0") && strcmp(v, "1");
      o->skip_json_validation = !strcmp(v, "0");
    } else {
      *err = sqlite3_mprintf(
          "evstore: unknown argument '%.*s' (known: dir, sync, retention, "
          "idempotency_window, max_payload, compress_threshold, "
          "compress_level, segment_size, validate_json, busy_timeout, "
          "auto_compact, compact_dead_percent, checkpoint_bytes, dict_compress)",
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
static int vt_store(vtab *vt) {
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
           : shared_get(dir, aux, vt->memkey, &vt->opt, create, &vt->sh, &made, &lib, err);
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
  if (rc) {
    if (vt->sh) {
      /* A table that never came to be must not keep an in-memory store. */
      if (vt->sh->owner && create) vt->sh->destroy = 1;
      shared_put(vt->sh);
    }
    vt_release(vt);
    return rc;
  }
  pthread_mutex_lock(&reg_mu);
  vt->next = tables;
  tables = vt;
  pthread_mutex_unlock(&reg_mu);
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
  pthread_mutex_lock(&reg_mu);
  for (vtab **pp = &tables; *pp; pp = &(*pp)->next)
    if (*pp == vt) {
      *pp = vt->next;
      break;
    }
  pthread_mutex_unlock(&reg_mu);
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
  if (!vt->sh && vt_store(vt) == SQLITE_BUSY) return SQLITE_BUSY;
  int mine = 0;
  if (vt->sh && !vt->sh->owner) {
    evs_stats st;
    mine = !evs_stats_get(vt->sh->s, &st) && owner_is(vt->db, vt->schema, vt->name, st.store_id);
    pthread_mutex_lock(&reg_mu);
    int shared_use = vt->sh->refs > 1;
    pthread_mutex_unlock(&reg_mu);
    if (mine && shared_use)
      return vt_error(vt, SQLITE_LOCKED,
                      "evstore: store %s is in use by another connection of this process; "
                      "nothing was dropped",
                      vt->sh->key);
  }
  /* Deleted files cannot come back with a ROLLBACK that brings the table
  ** back: a DROP that deletes data runs only as its own transaction. */
  if ((mine || (vt->sh && vt->sh->owner)) && !sqlite3_get_autocommit(vt->db))
    return vt_error(vt, SQLITE_LOCKED,
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

/* ---- Planning ---------------------------------------------------------- */

/* What is pushed down, and why it agrees with SQLite. xFilter sees a
** constraint's value but not the expression it came from, and SQLite's
** answer can depend on that expression's affinity: "source = 5" compares
** source with the text '5', "source = CAST(5 AS INTEGER)" compares it as
** a number (so '05' and '5.0' match too), and xFilter gets the integer 5
** either way. So a constraint is omitted (left to the table alone) only
** when its answer is the same for every value and every affinity:
**  - status = v, priority = v: no stored status or priority looks like a
**    number, so affinity never converts them; they equal v only when v is
**    the same TEXT, byte for byte, and nothing else (number, blob, NULL).
**  - cursor = v: not a comparison but where to resume (a hidden column).
** The others narrow the scan to a superset of the rows SQLite accepts,
** and SQLite checks them on every row: id / rowid (=, IN: a point lookup;
** ranges), created_us (=, ranges), source and event_type (=, IN: the
** names' lists), created_at (=, ranges); see int_range, name_filter and
** at_range. LIMIT and OFFSET are passed but not omitted (SQLite applies
** OFFSET itself); the scan stops after LIMIT + OFFSET rows only when the
** plan takes every constraint and the ORDER BY, and xFilter finds every
** value exact (the rows it returns are exactly those SQLite keeps).
** Text constraints are taken only under the BINARY collation.
**
** The plan (idxStr, in EXPLAIN QUERY PLAN) is a list of tokens: each but
** scan, nopayload, asc and desc takes one argv value in order. */
enum { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE };

static const char *op_str(int op) {
  switch (op) {
  case SQLITE_INDEX_CONSTRAINT_EQ: return "=";
  case SQLITE_INDEX_CONSTRAINT_GT: return ">";
  case SQLITE_INDEX_CONSTRAINT_GE: return ">=";
  case SQLITE_INDEX_CONSTRAINT_LT: return "<";
  case SQLITE_INDEX_CONSTRAINT_LE: return "<=";
  default: return NULL;
  }
}

static int ordered_col(int c) {
  return c == -1 || c == COL_ID || c == COL_CREATED_US || c == COL_CREATED_AT;
}

/* Pass constraint i to xFilter as the next argv value. */
static void use(sqlite3_index_info *ix, sqlite3_str *plan, int *argi, int i,
                const char *tok, const char *op, int omit) {
  ix->aConstraintUsage[i].argvIndex = ++*argi;
  ix->aConstraintUsage[i].omit = (unsigned char)omit;
  sqlite3_str_appendf(plan, "%s%s%s", sqlite3_str_length(plan) ? " " : "", tok, op);
}

static int xBestIndex(sqlite3_vtab *tab, sqlite3_index_info *ix) {
  vtab *vt = (vtab *)tab;
  sqlite3_str *plan = sqlite3_str_new(vt->db);
  int argi = 0, id_eq = -1, in_all = 0, all_taken = 1, names_in = 0;
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
    use(ix, plan, &argi, id_eq, in_all ? "id-in" : "id=", "", 0);
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
      const char *os = op_str(op);
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
        use(ix, plan, &argi, i, "id", os, 0);
      } else if (col == COL_CREATED_US) {
        use(ix, plan, &argi, i, "created_us", os, 0);
      } else if (col == COL_CREATED_AT) {
        use(ix, plan, &argi, i, "created_at", os, 0);
        all_taken = 0; /* narrows to a superset, never exact */
      } else if (col == COL_STATUS && eq && !have_status++) {
        use(ix, plan, &argi, i, "status", os, 1);
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
        use(ix, plan, &argi, i, col == COL_SOURCE ? "source" : "event_type", in ? "-in" : os,
            0);
      } else if (col == COL_PRIORITY && eq && !have_prio++) {
        use(ix, plan, &argi, i, "priority", os, 1);
      } else if (col == COL_CURSOR && eq && !have_cur++) {
        use(ix, plan, &argi, i, "cursor", os, 1);
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
  if (id_eq < 0 && !(ix->colUsed & ((sqlite3_uint64)1 << COL_PAYLOAD)))
    sqlite3_str_appendf(plan, "%snopayload", sqlite3_str_length(plan) ? " " : "");
  if (consumed) {
    ix->orderByConsumed = 1;
    sqlite3_str_appendf(plan, "%s%s", sqlite3_str_length(plan) ? " " : "",
                        desc ? "desc" : "asc");
  }
  /* SQLite offers LIMIT/OFFSET also when it sorts or filters after us. */
  if (all_taken && (ix->nOrderBy == 0 || consumed)) {
    for (int i = 0; i < ix->nConstraint; i++) {
      const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
      if (!c->usable) continue;
      if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT) use(ix, plan, &argi, i, "limit", "", 0);
      if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET) use(ix, plan, &argi, i, "offset", "", 0);
    }
  }
  ix->idxNum = argi;
  if (!sqlite3_str_length(plan)) sqlite3_str_appendall(plan, "scan");
  int rc = sqlite3_str_errcode(plan);
  char *s = sqlite3_str_finish(plan);
  if (rc) {
    sqlite3_free(s);
    return rc;
  }
  ix->idxStr = s;
  ix->needToFreeIdxStr = 1;
  return SQLITE_OK;
}

/* 'low' / 'normal' / 'high' as EVS_PRIORITY_*, 0 for anything else. */
static const char *const prio_names[] = {"normal", "low", "normal", "high"};
static int prio_parse(const char *t) {
  for (int p = EVS_PRIORITY_LOW; p <= EVS_PRIORITY_HIGH; p++)
    if (!strcmp(t, prio_names[p])) return p;
  return 0;
}

/* ---- Cursors ----------------------------------------------------------- */

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

static int xOpen(sqlite3_vtab *p, sqlite3_vtab_cursor **pp) {
  int rc = vt_store((vtab *)p);
  if (rc) return rc;
  vcur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
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

static int xClose(sqlite3_vtab_cursor *p) {
  vcur *c = (vcur *)p;
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
    if (rc) return vt_lib_error(vt, rc);
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
    if (rc != EVS_ENOTFOUND) return vt_lib_error(vt, rc);
  }
  c->eof = 1;
  return SQLITE_OK;
}

static int xNext(sqlite3_vtab_cursor *p) {
  vcur *c = (vcur *)p;
  if (c->limit > 0) c->limit--;
  return step(c);
}

static int xEof(sqlite3_vtab_cursor *p) { return ((vcur *)p)->eof; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The integers x for which "x op d" holds, d a number (SQLITE_INTEGER
** or SQLITE_FLOAT in t). Returns 0 when none, else 1 with [*lo, *hi]. */
static int num_range(sqlite3_value *d, int t, int op, int64_t *lo, int64_t *hi) {
  int eq = op == OP_EQ, gt = op == OP_GT || op == OP_GE, incl = op != OP_LT && op != OP_GT;
  if (t == SQLITE_INTEGER) {
    int64_t x = sqlite3_value_int64(d);
    if (eq) {
      *lo = *hi = x;
    } else if (gt) {
      if (!incl && x == INT64_MAX) return 0;
      *lo = incl ? x : x + 1;
    } else {
      if (!incl && x == INT64_MIN) return 0;
      *hi = incl ? x : x - 1;
    }
    return 1;
  }
  const double two63 = 9223372036854775808.0;
  double f = sqlite3_value_double(d);
  if (f != f) return 0;
  if (eq) {
    if (f != floor(f) || f >= two63 || f < -two63) return 0;
    *lo = *hi = (int64_t)f;
  } else if (gt) {
    double b = incl ? ceil(f) : floor(f) + 1;
    if (b >= two63) return 0;
    if (b > -two63) *lo = (int64_t)b;
  } else {
    double b = incl ? floor(f) : ceil(f) - 1;
    if (b < -two63) return 0;
    if (b < two63) *hi = (int64_t)b;
  }
  return 1;
}

/* v's type under numeric affinity (what SQLite makes of '5', ' 5 ',
** '5e0': a number; of '0x5', 'abc': still text), in a copy *num the
** caller frees. -1 when out of memory. */
static int numeric_copy(sqlite3_value *v, sqlite3_value **num) {
  if (!(*num = sqlite3_value_dup(v))) return -1;
  return sqlite3_value_numeric_type(*num);
}

/* The integers x for which "x op v" can hold, x of an INTEGER column
** (id, created_us). SQLite applies numeric affinity to v first, unless
** v's expression has a numeric affinity of its own (another virtual
** table's column, say): then '5' stays text, and every number sorts
** before text. xFilter cannot tell which, so for numeric-looking text
** the range covers both answers and *exact is cleared. NULL matches
** nothing; other text, and blobs, sort after every number whatever the
** affinity. Returns 0 when no integer can match, 1 with [*lo, *hi], -1
** when out of memory. */
static int int_range(sqlite3_value *v, int op, int64_t *lo, int64_t *hi, int *exact) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  int t = sqlite3_value_type(v), below = op == OP_LT || op == OP_LE;
  if (t == SQLITE_NULL) return 0;
  if (t == SQLITE_BLOB) return below;
  if (t != SQLITE_TEXT) return num_range(v, t, op, lo, hi);
  sqlite3_value *num;
  t = numeric_copy(v, &num);
  int r = t < 0 ? -1 : t == SQLITE_TEXT || below ? below : num_range(num, t, op, lo, hi);
  if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) *exact = 0;
  sqlite3_value_free(num);
  return r;
}

/* Is v the TEXT lit, byte for byte (NUL bytes and all)? */
static int text_is(sqlite3_value *v, const char *lit) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) return 0;
  const char *t = (const char *)sqlite3_value_text(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  return t && n == strlen(lit) && !memcmp(t, lit, n);
}

/* source = v, event_type = v. Returns 1 with *name when only rows of that
** exact name can match, 0 when no row can, 2 when any can, -1 when out
** of memory.
**  - Stored names are trimmed, 1..EVS_MAX_NAME bytes, without NUL: text
**    that is not such a string equals none (the library's lookup would
**    trim it, or stop at a NUL). Other text is looked up exactly (no
**    name is invalid UTF-8 or holds a control character, so such a value
**    finds nothing). Exact, unless the text looks numeric: then an
**    expression of numeric affinity makes a numeric-looking name a number,
**    unequal to any text, and the rows are a superset (*exact cleared).
**  - A number compares as its text ('5') or, from an expression of
**    numeric affinity, numerically with every numeric-looking name ('05',
**    '5.0'): any row can match (*exact cleared).
**  - NULL and blobs equal no text. */
static int name_filter(sqlite3_value *v, const char **name, int *exact) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL || t == SQLITE_BLOB) return 0;
  if (t != SQLITE_TEXT) return *exact = 0, 2;
  const char *s = (const char *)sqlite3_value_text(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  if (!s) return -1;
  if (!n || n > EVS_MAX_NAME || strlen(s) != n || evs_is_space(s[0]) ||
      evs_is_space(s[n - 1]))
    return 0;
  sqlite3_value *num;
  int nt = numeric_copy(v, &num);
  sqlite3_value_free(num);
  if (nt < 0) return -1;
  if (nt != SQLITE_TEXT) *exact = 0;
  *name = s;
  return 1;
}

/* The time of the created_at text s[0..k), a date (k = 10), hour (13),
** minute (16) or second (19), or into the fraction (20..26), when it
** begins the created_at of some time: the first such time in *start. */
static int prefix_start(const char *s, int k, int64_t *start) {
  static const int at[7] = {0, 5, 8, 11, 14, 17, 20}, width[7] = {4, 2, 2, 2, 2, 2, 6};
  int f[7] = {0, 1, 1, 0, 0, 0, 0}; /* missing fields: the first of their range */
  for (int i = 0; i < 7 && at[i] < k; i++) {
    f[i] = 0;
    for (int j = 0; j < width[i]; j++)
      f[i] = f[i] * 10 + (at[i] + j < k ? s[at[i] + j] - '0' : 0);
  }
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59)
    return 0;
  struct tm tm = {0};
  tm.tm_year = f[0] - 1900;
  tm.tm_mon = f[1] - 1;
  tm.tm_mday = f[2];
  tm.tm_hour = f[3];
  tm.tm_min = f[4];
  tm.tm_sec = f[5];
  *start = (int64_t)timegm(&tm) * 1000000 + f[6];
  /* The proof: formatted back, the time begins with s (timegm rolls
  ** 02-30 into March; years below 1000 print narrower). */
  char back[32];
  evs_fmt_time(*start, back);
  return !memcmp(back, s, (size_t)k);
}

/* created_at op v, narrowed to created_us in [*lo, *hi]: a superset of
** the rows SQLite accepts (it compares the text of every row: the
** constraint is not omitted). Returns 0 when no row can match.
**
** created_at is evs_fmt_time's "YYYY-MM-DDTHH:MM:SS.ffffffZ", 27 bytes
** for every created time (years 1970..9999; appends refuse other clock
** values), with fixed-width, zero-padded fields from the most
** significant: between two times, created_at text order is time order,
** and so is the order of their first k bytes, for any k. SQLite compares:
**  - with NULL: no row;
**  - with a blob: text sorts before it (no affinity converts a blob):
**    < and <= hold for every row, =, > and >= for none;
**  - with a number: as text ('5' sorts after '2026-...') or, from an
**    expression of numeric affinity, as text against a number (text
**    sorts after it); created_at never looks numeric. Each op holds for
**    every row under one of the two: no narrowing;
**  - with text: byte-wise (BINARY). Let p be the longest prefix of v, of
**    k bytes, that begins the created_at of some time (prefix_start),
**    and [a, b] the times whose created_at begins with p (a day, hour,
**    minute, second or part of one). For a row whose created_at's first k
**    bytes are below p, created_at < v; above p, created_at > v; equal,
**    either. So created_at < v or <= v requires created_us <= b, > v or
**    >= v requires created_us >= a, = v both. Without such a p (v shorter
**    than a date, or not a date), no narrowing. */
static int at_range(sqlite3_value *v, int op, int64_t *lo, int64_t *hi) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) return 0;
  if (t == SQLITE_BLOB) return op == OP_LT || op == OP_LE;
  if (t != SQLITE_TEXT) return 1;
  const char *s = (const char *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  static const char shape[] = "0000-00-00T00:00:00.000000";
  int j = 0;
  while (s && j < n && j < 26 &&
         (shape[j] == '0' ? s[j] >= '0' && s[j] <= '9' : s[j] == shape[j]))
    j++;
  static const int ks[] = {16, 13, 10};
  static const int64_t spans[] = {60000000, 3600000000LL, 86400000000LL};
  for (int i = -1; i < 3; i++) {
    int k = i < 0 ? (j >= 19 ? j : 0) : ks[i];
    int64_t a, span = 1;
    if (!k || k > j || !prefix_start(s, k, &a)) continue;
    if (i >= 0) span = spans[i];
    else
      for (int d = k < 20 ? 20 : k; d < 26; d++) span *= 10;
    if (op != OP_LT && op != OP_LE) *lo = a;
    if (op != OP_GT && op != OP_GE) *hi = a + (span - 1);
    break;
  }
  return 1;
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
    int f = name_filter(e, &name, exact);
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

static int op_code(const char *op, size_t n) {
  if (n == 1) return op[0] == '=' ? OP_EQ : op[0] == '<' ? OP_LT : op[0] == '>' ? OP_GT : -1;
  if (n == 2 && op[1] == '=') return op[0] == '<' ? OP_LE : op[0] == '>' ? OP_GE : -1;
  return -1;
}

static int xFilter(sqlite3_vtab_cursor *p, int idxNum, const char *idxStr,
                   int argc, sqlite3_value **argv) {
  vcur *c = (vcur *)p;
  vtab *vt = (vtab *)p->pVtab;
  cur_reset(c);
  c->limit = -1;
  int64_t idlo = INT64_MIN, idhi = INT64_MAX, tlo = INT64_MIN, thi = INT64_MAX;
  int64_t limit = -1, offset = 0;
  int empty = 0, point = 0, desc = 0, ai = 0, exact = 1;
  c->q.status = EVS_QUERY_ANY;
  c->q.limit = EVS_PAGE_MAX;
  for (const char *s = idxStr; *s;) {
    /* A token: a name, then for a constraint its operator. */
    size_t n = strcspn(s, " "), nl = strcspn(s, "=<> ");
    const char *tok = s;
    s += n + (s[n] == ' ');
    int op = nl < n ? op_code(tok + nl, n - nl) : -1;
#define IS(name) (nl == sizeof(name) - 1 && !memcmp(tok, name, nl))
    if (IS("asc") || IS("desc") || IS("scan") || IS("nopayload")) {
      desc |= IS("desc");
      c->q.without_payload |= IS("nopayload");
      continue;
    }
    if (ai >= argc) return vt_error(vt, SQLITE_ERROR, "evstore: plan and arguments differ");
    sqlite3_value *v = argv[ai++];
    int64_t lo, hi;
    int r = 1;
    if ((IS("id") && op == OP_EQ) || IS("id-in")) {
      point = 1;
      size_t cap = 0;
      sqlite3_value *e = v;
      int in = IS("id-in"), rc = in ? sqlite3_vtab_in_first(v, &e) : SQLITE_OK;
      for (; rc == SQLITE_OK && e; rc = in ? sqlite3_vtab_in_next(v, &e) : SQLITE_DONE) {
        if ((r = int_range(e, OP_EQ, &lo, &hi, &exact)) < 0) return SQLITE_NOMEM;
        if (!r || lo < 1) continue;
        if (evs_grow((void **)&c->ids, &cap, c->nids + 1, sizeof *c->ids))
          return SQLITE_NOMEM;
        c->ids[c->nids++] = (uint64_t)lo;
      }
      if (rc != SQLITE_OK && rc != SQLITE_DONE) return rc;
      continue;
    }
    if (IS("limit")) {
      limit = sqlite3_value_int64(v) < 0 ? -1 : sqlite3_value_int64(v);
    } else if (IS("offset")) {
      offset = sqlite3_value_int64(v) < 0 ? 0 : sqlite3_value_int64(v);
    } else if (IS("source-in") || IS("event_type-in")) {
      int rc = take_names(c, v, IS("event_type-in"), &r, &exact);
      if (rc) return rc;
    } else if (op < 0) {
      return vt_error(vt, SQLITE_ERROR, "evstore: unknown plan token '%.*s'", (int)n, tok);
    } else if (IS("id") || IS("created_us")) {
      r = int_range(v, op, &lo, &hi, &exact);
      int64_t *l = IS("id") ? &idlo : &tlo, *h = IS("id") ? &idhi : &thi;
      *l = EVS_MAX(*l, lo);
      *h = EVS_MIN(*h, hi);
    } else if (IS("created_at")) {
      r = at_range(v, op, &lo, &hi);
      tlo = EVS_MAX(tlo, lo);
      thi = EVS_MIN(thi, hi);
    } else if (IS("status")) {
      c->q.status = text_is(v, "pending")        ? EVS_QUERY_PENDING
                    : text_is(v, "acknowledged") ? EVS_QUERY_ACKNOWLEDGED
                                                 : (r = 0, EVS_QUERY_ANY);
    } else if (IS("priority")) {
      r = 0;
      for (int pr = EVS_PRIORITY_LOW; pr <= EVS_PRIORITY_HIGH; pr++)
        if (text_is(v, prio_names[pr])) c->q.priority = pr, r = 1;
    } else if (IS("source") || IS("event_type")) {
      const char *name = NULL;
      if ((r = name_filter(v, &name, &exact)) == 1) {
        char *dup = sqlite3_mprintf("%s", name);
        if (!dup) return SQLITE_NOMEM;
        if (IS("source")) c->src = dup, c->q.source = dup;
        else c->typ = dup, c->q.event_type = dup;
      }
    } else if (IS("cursor")) {
      int t = sqlite3_value_type(v);
      const char *cur = (const char *)sqlite3_value_text(v);
      if (t == SQLITE_NULL || t == SQLITE_BLOB) {
        r = 0;
      } else if (!cur) {
        return SQLITE_NOMEM;
      } else if (strlen(cur) != (size_t)sqlite3_value_bytes(v)) {
        return vt_error(vt, SQLITE_ERROR, "evstore: malformed cursor (it holds a NUL byte)");
      } else {
        if (!(c->ucur = sqlite3_mprintf("%s", cur))) return SQLITE_NOMEM;
        c->q.cursor = c->ucur;
      }
    } else {
      return vt_error(vt, SQLITE_ERROR, "evstore: unknown plan token '%.*s'", (int)n, tok);
    }
#undef IS
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
  c->q.descending = desc;
  if (point) {
    c->scan = 0;
    if (c->nids) qsort(c->ids, c->nids, sizeof *c->ids, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < c->nids; i++)
      if (!w || c->ids[w - 1] != c->ids[i]) c->ids[w++] = c->ids[i];
    c->nids = w;
    if (desc)
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

static void result_time(sqlite3_context *ctx, int64_t us) {
  char buf[32];
  evs_fmt_time(us, buf);
  sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static int xColumn(sqlite3_vtab_cursor *p, sqlite3_context *ctx, int col) {
  vcur *c = (vcur *)p;
  /* In an UPDATE, unchanged columns are not fetched, so xUpdate can tell
  ** which columns the statement sets. */
  if (sqlite3_vtab_nochange(ctx)) return SQLITE_OK;
  const evs_event *e = cur_event(c);
  if (!e) return SQLITE_OK;
  switch (col) {
  case COL_ID: sqlite3_result_int64(ctx, (sqlite3_int64)e->id); break;
  case COL_CREATED_AT: result_time(ctx, e->created_us); break;
  case COL_CREATED_US: sqlite3_result_int64(ctx, e->created_us); break;
  case COL_STATUS:
    sqlite3_result_text(ctx, e->status ? "acknowledged" : "pending", -1, SQLITE_STATIC);
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
    sqlite3_result_text(ctx, prio_names[e->priority & 3], -1, SQLITE_STATIC);
    break;
  case COL_IDEM:
    if (e->idempotency_key)
      sqlite3_result_text(ctx, e->idempotency_key, (int)e->idempotency_key_len,
                          SQLITE_TRANSIENT);
    break;
  case COL_ACKED_AT:
    if (e->acknowledged_us) result_time(ctx, e->acknowledged_us);
    break;
  case COL_CURSOR: {
    vtab *vt = (vtab *)p->pVtab;
    const char *saved = c->q.cursor;
    c->q.cursor = NULL;
    int rc = evs_cursor_make(vt->sh->s, &c->q, e->id, c->cursor);
    c->q.cursor = saved;
    if (rc) return vt_lib_error(vt, rc);
    sqlite3_result_text(ctx, c->cursor, -1, SQLITE_TRANSIENT);
    break;
  }
  }
  return SQLITE_OK;
}

static int xRowid(sqlite3_vtab_cursor *p, sqlite3_int64 *rowid) {
  const evs_event *e = cur_event((vcur *)p);
  *rowid = e ? (sqlite3_int64)e->id : 0;
  return SQLITE_OK;
}

/* ---- Writes ------------------------------------------------------------ */

static const char *text_or_null(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_NULL ? NULL
                                              : (const char *)sqlite3_value_text(v);
}

static int do_insert(vtab *vt, sqlite3_value **argv, sqlite3_int64 *rowid) {
  sqlite3_value **col = argv + 2;
  if (sqlite3_value_type(argv[1]) != SQLITE_NULL)
    return vt_error(vt, SQLITE_CONSTRAINT, "evstore: id is assigned by the store");
  static const int assigned[] = {COL_ID,     COL_CREATED_AT, COL_CREATED_US,
                                 COL_STATUS, COL_ACKED_AT,   COL_CURSOR};
  for (size_t i = 0; i < sizeof assigned / sizeof *assigned; i++)
    if (sqlite3_value_type(col[assigned[i]]) != SQLITE_NULL)
      return vt_error(vt, SQLITE_CONSTRAINT, "evstore: %s is assigned by the store",
                      col_names[assigned[i]]);
  static const int texts[] = {COL_SOURCE, COL_TYPE, COL_PAYLOAD, COL_METADATA, COL_IDEM,
                              COL_PRIORITY};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    int t = sqlite3_value_type(col[texts[i]]);
    if (t != SQLITE_NULL && t != SQLITE_TEXT)
      return vt_error(vt, SQLITE_CONSTRAINT, "evstore: %s must be TEXT",
                      col_names[texts[i]]);
  }
  evs_event_in ev = {0};
  ev.source = text_or_null(col[COL_SOURCE]);
  ev.event_type = text_or_null(col[COL_TYPE]);
  ev.payload = text_or_null(col[COL_PAYLOAD]);
  ev.payload_len = (size_t)sqlite3_value_bytes(col[COL_PAYLOAD]);
  ev.metadata = text_or_null(col[COL_METADATA]);
  ev.metadata_len = (size_t)sqlite3_value_bytes(col[COL_METADATA]);
  ev.idempotency_key = text_or_null(col[COL_IDEM]);
  const char *pr = text_or_null(col[COL_PRIORITY]);
  if (pr) {
    if (!(ev.priority = prio_parse(pr)))
      return vt_error(vt, SQLITE_CONSTRAINT,
                      "evstore: priority must be 'low', 'normal' or 'high', not '%s'", pr);
  }
  evs_append_result r;
  int rc = evs_append(vt->sh->s, vt->txn, &ev, &r);
  if (rc) return vt_lib_error(vt, rc);
  *rowid = (sqlite3_int64)r.id;
  return SQLITE_OK;
}

static int do_update(vtab *vt, sqlite3_value **argv) {
  sqlite3_int64 id = sqlite3_value_int64(argv[0]);
  if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER ||
      sqlite3_value_int64(argv[1]) != id)
    return vt_error(vt, SQLITE_CONSTRAINT, "evstore: column id is read-only");
  sqlite3_value **col = argv + 2;
  for (int i = 0; i < NCOL; i++) {
    if (sqlite3_value_nochange(col[i]) || i == COL_STATUS) continue;
    if (i == COL_ID && sqlite3_value_int64(col[i]) == id) continue;
    return vt_error(vt, SQLITE_CONSTRAINT, "evstore: column %s is read-only",
                    col_names[i]);
  }
  if (sqlite3_value_nochange(col[COL_STATUS])) return SQLITE_OK;
  const char *st = text_or_null(col[COL_STATUS]);
  if (st && !strcmp(st, "acknowledged")) {
    int rc = evs_ack(vt->sh->s, vt->txn, (uint64_t)id, NULL);
    return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
  }
  if (st && !strcmp(st, "pending")) {
    evs_event *e;
    int rc = evs_get(vt->sh->s, vt->txn, (uint64_t)id, &e);
    if (rc) return vt_lib_error(vt, rc);
    int acked = e->status == EVS_STATUS_ACKNOWLEDGED;
    evs_event_free(e);
    if (acked)
      return vt_error(vt, SQLITE_CONSTRAINT,
                      "evstore: event %lld is acknowledged; it cannot return to pending",
                      id);
    return SQLITE_OK;
  }
  return vt_error(vt, SQLITE_CONSTRAINT,
                  "evstore: status can only be set to 'acknowledged'");
}

static int xUpdate(sqlite3_vtab *p, int argc, sqlite3_value **argv,
                   sqlite3_int64 *rowid) {
  vtab *vt = (vtab *)p;
  int src = vt_store(vt);
  if (src) return src;
  if (!vt->txn) {
    /* xBegin normally opened it; a write outside one is a bug upstream. */
    int rc = evs_txn_begin_timeout(vt->sh->s, vt->busy_ms, &vt->txn);
    if (rc) return vt_lib_error(vt, rc);
  }
  if (argc == 1) {
    int rc = evs_delete(vt->sh->s, vt->txn, (uint64_t)sqlite3_value_int64(argv[0]), NULL);
    return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
  }
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return do_insert(vt, argv, rowid);
  return do_update(vt, argv);
}

/* ---- Transactions ------------------------------------------------------ */

static int xBegin(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (vt->txn) return SQLITE_OK;
  int src = vt_store(vt);
  if (src) return src;
  /* Bounded wait: blocking here would hold SQLite's connection mutex
  ** while waiting for another connection's write transaction. */
  int rc = evs_txn_begin_timeout(vt->sh->s, vt->busy_ms, &vt->txn);
  return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
}

/* Commit here, not in xCommit: SQLite ignores xCommit's result, and a
** failed commit must fail the COMMIT statement. */
static int xSync(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (!vt->txn) return SQLITE_OK;
  evs_txn *t = vt->txn;
  vt->txn = NULL;
  int rc = evs_txn_commit(t);
  return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
}

static int xCommit(sqlite3_vtab *p) { return xSync(p); }

static int xRollback(sqlite3_vtab *p) {
  vtab *vt = (vtab *)p;
  if (!vt->txn) return SQLITE_OK;
  evs_txn *t = vt->txn;
  vt->txn = NULL;
  int rc = evs_txn_rollback(t);
  return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
}

static int xSavepoint(sqlite3_vtab *p, int n) {
  vtab *vt = (vtab *)p;
  int rc = vt->txn ? evs_txn_savepoint(vt->txn, n) : 0;
  return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
}

static int xRelease(sqlite3_vtab *p, int n) {
  vtab *vt = (vtab *)p;
  int rc = vt->txn ? evs_txn_release(vt->txn, n) : 0;
  return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
}

static int xRollbackTo(sqlite3_vtab *p, int n) {
  vtab *vt = (vtab *)p;
  int rc = vt->txn ? evs_txn_rollback_to(vt->txn, n) : 0;
  return rc ? vt_lib_error(vt, rc) : SQLITE_OK;
}

static int xRename(sqlite3_vtab *p, const char *name) {
  vtab *vt = (vtab *)p;
  if (vt->sh && vt->sh->owner) {
    /* In memory: re-key the store so the renamed table reconnects to it. */
    char *k = sqlite3_mprintf("%s.%s", vt->schema, name);
    if (!k) return SQLITE_NOMEM;
    pthread_mutex_lock(&reg_mu);
    sqlite3_free(vt->sh->key);
    vt->sh->key = k;
    pthread_mutex_unlock(&reg_mu);
    char *mk = sqlite3_mprintf("%s", k);
    if (mk) {
      sqlite3_free(vt->memkey);
      vt->memkey = mk;
    }
    return SQLITE_OK;
  }
  /* A directory store stays where it is; only a default directory (named
  ** after the table) would be orphaned, so refuse rather than guess. */
  return vt_error(vt, SQLITE_ERROR,
                  "evstore: renaming is not supported (the store stays at %s)", vt->dir);
}

static sqlite3_module evstore_module = {
    3,         xCreate,    xConnect, xBestIndex, xDisconnect, xDestroy,
    xOpen,     xClose,     xFilter,  xNext,      xEof,        xColumn,
    xRowid,    xUpdate,    xBegin,   xSync,      xCommit,     xRollback,
    NULL,      xRename,    xSavepoint, xRelease, xRollbackTo, xShadowName};

/* The store of evstore table `name` on the connection of ctx, or NULL
** with an error set on ctx. */
static evs_store *func_store(sqlite3_context *ctx, sqlite3_value *arg, const char *fn) {
  const char *name = (const char *)sqlite3_value_text(arg);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  evs_store *s = NULL;
  pthread_mutex_lock(&reg_mu);
  for (vtab *vt = tables; vt; vt = vt->next)
    if (vt->db == db && name && !sqlite3_stricmp(vt->name, name) && vt->sh) s = vt->sh->s;
  pthread_mutex_unlock(&reg_mu);
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
  evs_store *s = func_store(ctx, argv[0], "evstore_compact");
  if (!s) return;
  evs_compact_report r;
  if (evs_compact(s, &r)) {
    sqlite3_result_error(ctx, evs_errmsg(s), -1);
    return;
  }
  char *j = sqlite3_mprintf(
      "{\"segments_before\":%llu,\"segments_after\":%llu,\"segments_removed\":%llu,"
      "\"segments_rewritten\":%llu,\"events_removed\":%llu,\"bytes_before\":%llu,"
      "\"bytes_after\":%llu,\"max_pause_us\":%llu}",
      (unsigned long long)r.segments_before, (unsigned long long)r.segments_after,
      (unsigned long long)r.segments_removed, (unsigned long long)r.segments_rewritten,
      (unsigned long long)r.events_removed, (unsigned long long)r.bytes_before,
      (unsigned long long)r.bytes_after, (unsigned long long)r.max_pause_us);
  sqlite3_result_text(ctx, j, -1, sqlite3_free);
}

/* evstore_stats('table'): the store's evs_stats as a JSON object. */
static void stats_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  evs_store *s = func_store(ctx, argv[0], "evstore_stats");
  if (!s) return;
  evs_stats st;
  evs_options o;
  if (evs_stats_get(s, &st) || evs_store_options(s, &o)) {
    sqlite3_result_error(ctx, evs_errmsg(s), -1);
    return;
  }
  char *j = sqlite3_mprintf(
      "{\"pending\":%llu,\"acknowledged\":%llu,\"next_id\":%llu,"
      "\"segments\":%llu,\"disk_bytes\":%llu,\"payload_bytes\":%llu,"
      "\"payload_stored_bytes\":%llu,\"compression_ratio\":%.3f,"
      "\"oldest_pending_age_us\":%lld,\"index_bytes\":%llu,"
      "\"recovered_bytes_dropped\":%llu,\"recovered_records_dropped\":%llu,"
      "\"checkpoint_state\":%d,\"open_replayed_bytes\":%llu,\"checkpoints_written\":%llu,"
      "\"compactions\":%llu,\"compact_removed_events\":%llu,\"maintenance_error\":%d,"
      "\"dict_state\":%d,\"dict_id\":%u,\"store_id\":\"%016llx\",\"settings\":{"
      "\"retention_us\":%lld,\"idempotency_window_us\":%lld,\"max_payload\":%u,"
      "\"max_metadata\":%u,\"compress_threshold\":%u,\"compress_level\":%d,"
      "\"dict_compress\":%s,\"segment_size\":%u}}",
      (unsigned long long)st.pending, (unsigned long long)st.acknowledged,
      (unsigned long long)st.next_id, (unsigned long long)st.segments,
      (unsigned long long)st.disk_bytes, (unsigned long long)st.payload_bytes,
      (unsigned long long)st.payload_stored_bytes, st.compression_ratio,
      (long long)st.oldest_pending_age_us, (unsigned long long)st.index_bytes,
      (unsigned long long)st.recovered_bytes_dropped,
      (unsigned long long)st.recovered_records_dropped, st.checkpoint_state,
      (unsigned long long)st.open_replayed_bytes, (unsigned long long)st.checkpoints_written,
      (unsigned long long)st.compactions, (unsigned long long)st.compact_removed_events,
      st.maintenance_error, st.dict_state, (unsigned)st.dict_id,
      (unsigned long long)st.store_id, (long long)o.retention_us,
      (long long)o.idempotency_window_us, o.max_payload, o.max_metadata,
      o.compress_threshold, o.compress_level, o.dict_compress > 0 ? "true" : "false",
      o.segment_size);
  sqlite3_result_text(ctx, j, -1, sqlite3_free);
}

static int register_all(sqlite3 *db) {
  conn_aux *aux = calloc(1, sizeof *aux);
  if (!aux) return SQLITE_NOMEM;
  /* SQLite calls conn_aux_free when the connection closes (or at once if
  ** registration fails). */
  int rc = sqlite3_create_module_v2(db, "evstore", &evstore_module, aux, conn_aux_free);
  if (!rc)
    rc = sqlite3_create_function(db, "evstore_stats", 1,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, stats_func,
                                 NULL, NULL);
  if (!rc)
    rc = sqlite3_create_function(db, "evstore_compact", 1,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL, compact_func,
                                 NULL, NULL);
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
