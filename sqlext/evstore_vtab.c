/*
** evstore_vtab.c: the evstore SQLite virtual table ("USING evstore").
**
** Built twice: as the loadable extension evstore.so (entry point
** sqlite3_evstore_init) and, with -DSQLITE_CORE, into libevstore for
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
  evs_options opt; /* resolved */
  int refs;
  int destroy;     /* remove the files when the last reference goes */
  conn_aux *owner; /* in-memory store: the connection that holds it */
  struct shared *next;
} shared;

struct conn_aux {
  shared *mem; /* this connection's in-memory stores */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static shared *reg;

#define OWNER_MARK ".created-by-sqlite"

static int same_options(const evs_options *a, const evs_options *b) {
  return a->sync == b->sync && a->max_payload == b->max_payload &&
         a->compress_threshold == b->compress_threshold &&
         a->compress_level == b->compress_level &&
         a->retention_us == b->retention_us &&
         a->idempotency_window_us == b->idempotency_window_us &&
         a->skip_json_validation == b->skip_json_validation &&
         a->segment_size == b->segment_size &&
         a->checkpoint_bytes == b->checkpoint_bytes &&
         a->compact_dead_percent == b->compact_dead_percent &&
         a->auto_compact_percent == b->auto_compact_percent &&
         a->dict_compress == b->dict_compress;
}

static void shared_free(shared *h) {
  evs_store_close(h->s);
  sqlite3_free(h->key);
  free(h);
}

/* Open a store (dir NULL: in memory, kept by aux under memkey) or share
** the handle already open. */
static int shared_get(const char *dir, conn_aux *aux, const char *memkey,
                      const evs_options *o, shared **out, char **err) {
  *out = NULL;
  evs_options ro;
  if (evs_options_resolve(o, &ro)) {
    *err = sqlite3_mprintf("evstore: %s", evs_errmsg(NULL));
    return SQLITE_ERROR;
  }
  pthread_mutex_lock(&reg_mu);
  char real[PATH_MAX];
  int have_real = dir && realpath(dir, real);
  shared *list = dir ? reg : aux->mem;
  for (shared *h = list; h; h = h->next) {
    if (dir ? !(have_real && !strcmp(h->key, real)) : strcmp(h->key, memkey)) continue;
    if (dir && !same_options(&h->opt, &ro)) {
      *err = sqlite3_mprintf(
          "evstore: store %s is already open in this process with different options",
          dir);
      pthread_mutex_unlock(&reg_mu);
      return SQLITE_ERROR;
    }
    h->refs++;
    *out = h;
    pthread_mutex_unlock(&reg_mu);
    return SQLITE_OK;
  }
  shared *h = calloc(1, sizeof *h);
  int rc = h ? evs_store_open(dir, &ro, &h->s) : EVS_ENOMEM;
  if (rc) {
    *err = sqlite3_mprintf("evstore: %s", h ? evs_errmsg(NULL) : "out of memory");
    free(h);
    pthread_mutex_unlock(&reg_mu);
    return rc == EVS_ELOCKED ? SQLITE_BUSY : SQLITE_ERROR;
  }
  if (dir && !realpath(dir, real)) snprintf(real, sizeof real, "%s", dir);
  h->key = sqlite3_mprintf("%s", dir ? real : memkey);
  h->opt = ro;
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

/* Remove the files a store keeps (segments, meta, manifest, checkpoint,
** their temp files, LOCK, the owner mark) and then the directory, which
** stays if anything else was put in it. */
static void remove_store_files(const char *dir) {
  char p[PATH_MAX + 300];
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    const char *nm = e->d_name;
    size_t n = strlen(nm);
    int ours = (n == 22 && !strcmp(nm + 16, ".evlog")) || !strncmp(nm, "evstore.", 8) ||
               !strcmp(nm, "LOCK") || !strcmp(nm, OWNER_MARK);
    if (!ours) continue;
    snprintf(p, sizeof p, "%s/%s", dir, nm);
    unlink(p);
  }
  if (d) closedir(d);
  rmdir(dir);
}

static void unlink_from(shared **list, shared *h) {
  for (shared **pp = list; *pp; pp = &(*pp)->next)
    if (*pp == h) {
      *pp = h->next;
      return;
    }
}

/* Drop a reference. A directory store closes with its last one; an
** in-memory store only when dropped (its connection may reconnect). */
static void shared_put(shared *h) {
  pthread_mutex_lock(&reg_mu);
  h->refs--;
  int gone = h->owner ? h->destroy : h->refs == 0;
  if (gone) {
    unlink_from(h->owner ? &h->owner->mem : &reg, h);
    if (h->destroy && !h->owner) remove_store_files(h->key);
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
  char *schema, *name;
  char *dir;       /* NULL in memory */
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
           : rc == EVS_EBUSY   ? SQLITE_BUSY
           : rc == EVS_ELOCKED ? SQLITE_BUSY
           : rc == EVS_ECONFLICT || rc == EVS_EINVAL || rc == EVS_EJSON ||
                   rc == EVS_ETOOBIG
               ? SQLITE_CONSTRAINT
           : rc == EVS_ECORRUPT ? SQLITE_CORRUPT
           : rc == EVS_EIO || rc == EVS_ENOSPC ? SQLITE_IOERR
                                               : SQLITE_ERROR;
  if (rc == EVS_EBUSY)
    return vt_error(vt, sq,
                    strstr(evs_errmsg(vt->sh->s), "this thread")
                        ? "evstore: this thread already holds the write transaction "
                          "of this store through another connection; commit or roll "
                          "that back first"
                        : "evstore: another connection holds the store's write "
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
      o->dict_compress = !strcmp(v, "on");
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

/* The owner mark names the database file and table that created the
** store, so DROP TABLE removes only a store its own table made. */
static char *owner_line(sqlite3 *db, const char *schema, const char *table) {
  const char *fn = sqlite3_db_filename(db, schema);
  return sqlite3_mprintf("%s\t%s", fn ? fn : "", table);
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
  int existed = 0;
  if (dir) {
    char meta[PATH_MAX + 32];
    struct stat st;
    snprintf(meta, sizeof meta, "%s/evstore.meta", dir);
    existed = stat(meta, &st) == 0;
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
  char *memkey = sqlite3_mprintf("%s.%s", argv[1], argv[2]);
  rc = !vt->schema || !vt->name || !memkey ? SQLITE_NOMEM
                                           : shared_get(dir, aux, memkey, &o, &vt->sh, err);
  sqlite3_free(memkey);
  if (!rc && create && dir && !existed) {
    char mark[PATH_MAX + 32];
    snprintf(mark, sizeof mark, "%s/" OWNER_MARK, dir);
    char *line = owner_line(db, argv[1], argv[2]);
    FILE *f = line ? fopen(mark, "w") : NULL;
    if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f)) {
      *err = sqlite3_mprintf("evstore: cannot write %s: %s", mark, strerror(errno));
      rc = SQLITE_ERROR;
    }
    sqlite3_free(line);
  }
  if (!rc) rc = sqlite3_declare_vtab(db, SCHEMA);
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if (rc) {
    if (vt->sh) {
      /* A table that never came to be must not keep an in-memory store. */
      if (vt->sh->owner && create) vt->sh->destroy = 1;
      shared_put(vt->sh);
    }
    sqlite3_free(vt->schema);
    sqlite3_free(vt->name);
    sqlite3_free(dir);
    sqlite3_free(vt);
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

static int vt_free(vtab *vt, int destroy) {
  if (vt->txn) evs_txn_rollback(vt->txn);
  pthread_mutex_lock(&reg_mu);
  for (vtab **pp = &tables; *pp; pp = &(*pp)->next)
    if (*pp == vt) {
      *pp = vt->next;
      break;
    }
  if (destroy && vt->sh->owner) vt->sh->destroy = 1;
  if (destroy && !vt->sh->owner) {
    char mark[PATH_MAX + 32], line[PATH_MAX + 600] = "";
    snprintf(mark, sizeof mark, "%s/" OWNER_MARK, vt->sh->key);
    FILE *f = fopen(mark, "r");
    if (f) {
      if (!fgets(line, sizeof line, f)) line[0] = 0;
      fclose(f);
      line[strcspn(line, "\n")] = 0;
    }
    char *me = owner_line(vt->db, vt->schema, vt->name);
    if (me && line[0] && !strcmp(line, me)) vt->sh->destroy = 1;
    sqlite3_free(me);
  }
  pthread_mutex_unlock(&reg_mu);
  shared_put(vt->sh);
  sqlite3_free(vt->schema);
  sqlite3_free(vt->name);
  sqlite3_free(vt->dir);
  sqlite3_free(vt->base.zErrMsg);
  sqlite3_free(vt);
  return SQLITE_OK;
}

static int xDisconnect(sqlite3_vtab *p) { return vt_free((vtab *)p, 0); }
static int xDestroy(sqlite3_vtab *p) { return vt_free((vtab *)p, 1); }

/* ---- Planning ---------------------------------------------------------- */

/* Plan tokens (idxStr, space separated): each but asc/desc takes one
** argv value in order. EXPLAIN QUERY PLAN shows them. */
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

static int is_range(int op) {
  return op == SQLITE_INDEX_CONSTRAINT_GT || op == SQLITE_INDEX_CONSTRAINT_GE ||
         op == SQLITE_INDEX_CONSTRAINT_LT || op == SQLITE_INDEX_CONSTRAINT_LE;
}

static int ordered_col(int c) {
  return c == -1 || c == COL_ID || c == COL_CREATED_US || c == COL_CREATED_AT;
}

static int xBestIndex(sqlite3_vtab *tab, sqlite3_index_info *ix) {
  char plan[512] = "";
  size_t pl = 0;
  int argi = 0, id_eq = -1, omitted_all = 1, in_all = 0;
  int have_status = 0, have_src = 0, have_typ = 0, have_prio = 0, have_cur = 0;
#define ADD(tok, om)                                                         \
  do {                                                                       \
    ix->aConstraintUsage[i].argvIndex = ++argi;                              \
    ix->aConstraintUsage[i].omit = (om);                                     \
    if (!(om)) omitted_all = 0;                                              \
    pl += (size_t)snprintf(plan + pl, sizeof plan - pl, "%s%s", pl ? " " : "", tok); \
  } while (0)

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
    int i = id_eq;
    in_all = sqlite3_vtab_in(ix, i, -1) && sqlite3_vtab_in(ix, i, 1);
    ADD(in_all ? "id-in" : "id=", 1);
    omitted_all = 0; /* other constraints are SQLite's to check */
    ix->estimatedCost = in_all ? 10 : 1;
    ix->estimatedRows = in_all ? 10 : 1;
    if (!in_all) ix->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
  } else {
    for (int i = 0; i < ix->nConstraint; i++) {
      const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
      if (!c->usable) {
        if (c->op != SQLITE_INDEX_CONSTRAINT_LIMIT &&
            c->op != SQLITE_INDEX_CONSTRAINT_OFFSET)
          omitted_all = 0;
        continue;
      }
      int col = c->iColumn, op = c->op;
      const char *os = op_str(op);
      char tok[48];
      /* Text columns compare by collation; ours is BINARY only. */
      int text_col = col == COL_STATUS || col == COL_SOURCE || col == COL_TYPE ||
                     col == COL_PRIORITY || col == COL_CURSOR || col == COL_CREATED_AT;
      if (text_col && sqlite3_stricmp(sqlite3_vtab_collation(ix, i), "BINARY")) {
        omitted_all = 0;
        continue;
      }
      if ((col == -1 || col == COL_ID) && is_range(op)) {
        snprintf(tok, sizeof tok, "id%s", os);
        ADD(tok, 1);
      } else if (col == COL_CREATED_US && is_range(op)) {
        snprintf(tok, sizeof tok, "created_us%s", os);
        ADD(tok, 1);
      } else if (col == COL_CREATED_AT && is_range(op)) {
        /* Text comparison decides; the pushed-down bound only narrows. */
        snprintf(tok, sizeof tok, "created_at%s", os);
        ADD(tok, 0);
      } else if (col == COL_STATUS && op == SQLITE_INDEX_CONSTRAINT_EQ && !have_status++) {
        ADD("status=", 1);
      } else if (col == COL_SOURCE && op == SQLITE_INDEX_CONSTRAINT_EQ && !have_src++) {
        ADD("source=", 1);
      } else if (col == COL_TYPE && op == SQLITE_INDEX_CONSTRAINT_EQ && !have_typ++) {
        ADD("event_type=", 1);
      } else if (col == COL_PRIORITY && op == SQLITE_INDEX_CONSTRAINT_EQ && !have_prio++) {
        ADD("priority=", 1);
      } else if (col == COL_CURSOR && op == SQLITE_INDEX_CONSTRAINT_EQ && !have_cur++) {
        ADD("cursor=", 1);
      } else if (op != SQLITE_INDEX_CONSTRAINT_LIMIT &&
                 op != SQLITE_INDEX_CONSTRAINT_OFFSET) {
        omitted_all = 0;
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
  ** in that order already (for IN lists, sorted here). */
  int consumed = 0, desc = 0;
  if (ix->nOrderBy > 0 && (id_eq < 0 || in_all)) {
    consumed = 1;
    desc = ix->aOrderBy[0].desc;
    for (int k = 0; k < ix->nOrderBy; k++)
      if (!ordered_col(ix->aOrderBy[k].iColumn) || ix->aOrderBy[k].desc != desc)
        consumed = 0;
  }
  /* A query that never reads payload (count(*), id listings) skips its
  ** decompression. */
  if (id_eq < 0 && !(ix->colUsed & ((sqlite3_uint64)1 << COL_PAYLOAD)))
    pl += (size_t)snprintf(plan + pl, sizeof plan - pl, "%s%s", pl ? " " : "", "nopayload");
  if (consumed) {
    ix->orderByConsumed = 1;
    pl += (size_t)snprintf(plan + pl, sizeof plan - pl, "%s%s", pl ? " " : "",
                           desc ? "desc" : "asc");
  }

  /* LIMIT/OFFSET only when every other term is ours and fully handled:
  ** otherwise SQLite filters rows after us and a pushed limit would cut
  ** too early. */
  if (omitted_all && (ix->nOrderBy == 0 || consumed)) {
    for (int i = 0; i < ix->nConstraint; i++) {
      const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
      if (!c->usable) continue;
      if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT) ADD("limit", 1);
      if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET) ADD("offset", 1);
    }
  }
#undef ADD
  ix->idxNum = argi;
  ix->idxStr = sqlite3_mprintf("%s", pl ? plan : "scan");
  ix->needToFreeIdxStr = 1;
  if (!ix->idxStr) return SQLITE_NOMEM;
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
  char *src, *typ, *qcur;
  evs_page *page;
  size_t i;
  int eof, scan;
  uint64_t *ids; /* point lookups, in output order */
  size_t nids, idi;
  evs_event *ev; /* current point-lookup row */
  int64_t limit; /* rows still allowed; -1 = no limit */
  char cursor[EVS_CURSOR_SIZE];
} vcur;

static int xOpen(sqlite3_vtab *p, sqlite3_vtab_cursor **pp) {
  vcur *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *pp = &c->base;
  return SQLITE_OK;
}

static void cur_reset(vcur *c) {
  sqlite3_free(c->src);
  sqlite3_free(c->typ);
  sqlite3_free(c->qcur);
  c->src = c->typ = c->qcur = NULL;
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

static int fetch_page(vcur *c) {
  vtab *vt = (vtab *)c->base.pVtab;
  int rc = evs_inbox(vt->sh->s, vt->txn, &c->q, &c->page);
  if (rc) return vt_lib_error(vt, rc);
  c->i = 0;
  if (!evs_page_count(c->page)) c->eof = 1;
  return SQLITE_OK;
}

/* Advance to the next row (scan: next in page, next page when done). */
static int step(vcur *c) {
  vtab *vt = (vtab *)c->base.pVtab;
  if (c->limit == 0) return c->eof = 1, SQLITE_OK;
  if (c->scan) {
    if (++c->i < evs_page_count(c->page)) return SQLITE_OK;
    if (!evs_page_more(c->page)) return c->eof = 1, SQLITE_OK;
    sqlite3_free(c->qcur);
    c->qcur = sqlite3_mprintf("%s", evs_page_cursor(c->page));
    if (!c->qcur) return SQLITE_NOMEM;
    c->q.cursor = c->qcur;
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

/* Parse "YYYY-MM-DDTHH:MM:SS.ffffffZ" or a prefix of it ending at a field
** boundary into the first µs it can denote. */
static int parse_iso_floor(const char *s, int64_t *us) {
  int f[6] = {0, 1, 1, 0, 0, 0};
  long frac = 0;
  static const char seps[] = "--T::";
  const char *p = s;
  int nf = 0;
  for (; nf < 6; nf++) {
    int w = nf == 0 ? 4 : 2, v = 0;
    for (int k = 0; k < w; k++, p++) {
      if (*p < '0' || *p > '9') return -1;
      v = v * 10 + (*p - '0');
    }
    f[nf] = v;
    if (!*p || (nf == 5 && (*p == '.' || *p == 'Z'))) break;
    if (nf == 5 || *p != seps[nf]) return -1;
    p++;
  }
  if (*p == '.') {
    int k = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, k++)
      if (k < 6) frac = frac * 10 + (*p - '0');
    if (!k) return -1;
    for (; k < 6; k++) frac *= 10;
  }
  if (*p == 'Z') p++;
  if (*p) return -1;
  if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60)
    return -1;
  struct tm tm = {0};
  tm.tm_year = f[0] - 1900;
  tm.tm_mon = f[1] - 1;
  tm.tm_mday = f[2];
  tm.tm_hour = f[3];
  tm.tm_min = f[4];
  tm.tm_sec = f[5];
  time_t sec = timegm(&tm);
  struct tm back;
  /* timegm rolls 02-31 into March: refuse dates that do not exist. */
  if (!gmtime_r(&sec, &back) || back.tm_mday != f[2] || back.tm_mon != f[1] - 1)
    return -1;
  *us = (int64_t)sec * 1000000 + frac;
  return 0;
}

/* The integers x satisfying "x op v" for an INTEGER column, as SQLite
** compares: numeric affinity first; numbers sort before text and blobs;
** NULL matches nothing. Returns 0 when none do, else [*lo, *hi]. */
static int int_range(sqlite3_value *v, const char *op, int64_t *lo, int64_t *hi) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  int t = sqlite3_value_numeric_type(v);
  int eq = op[0] == '=', gt = op[0] == '>', incl = eq || op[1] == '=';
  if (t == SQLITE_NULL) return 0;
  if (t == SQLITE_TEXT || t == SQLITE_BLOB) return !gt && !eq;
  if (t == SQLITE_INTEGER) {
    int64_t x = sqlite3_value_int64(v);
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
  double d = sqlite3_value_double(v);
  if (d != d) return 0;
  if (eq) {
    if (d != floor(d) || d >= two63 || d < -two63) return 0;
    *lo = *hi = (int64_t)d;
  } else if (gt) {
    double bd = incl ? ceil(d) : floor(d) + 1;
    if (bd >= two63) return 0;
    if (bd > -two63) *lo = (int64_t)bd;
  } else {
    double bd = incl ? floor(d) : ceil(d) - 1;
    if (bd < -two63) return 0;
    if (bd < two63) *hi = (int64_t)bd;
  }
  return 1;
}

/* The text a TEXT column must equal to satisfy "col = v", or NULL when
** none can: a number takes the column's text affinity, a blob never
** equals text. */
static const char *text_eq(sqlite3_value *v) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL || t == SQLITE_BLOB) return NULL;
  return (const char *)sqlite3_value_text(v);
}

static int xFilter(sqlite3_vtab_cursor *p, int idxNum, const char *idxStr,
                   int argc, sqlite3_value **argv) {
  vcur *c = (vcur *)p;
  cur_reset(c);
  c->limit = -1;
  int64_t offset = 0;
  int64_t idlo = INT64_MIN, idhi = INT64_MAX, tlo = INT64_MIN, thi = INT64_MAX;
  int empty = 0, point = 0, desc = 0, ai = 0;
  c->q.status = EVS_QUERY_ANY;
  c->q.limit = EVS_PAGE_MAX;
  char tok[32];
  for (const char *s = idxStr; *s;) {
    size_t n = strcspn(s, " ");
    snprintf(tok, sizeof tok, "%.*s", (int)n, s);
    s += n + (s[n] == ' ');
    if (!strcmp(tok, "asc") || !strcmp(tok, "desc") || !strcmp(tok, "scan") ||
        !strcmp(tok, "nopayload")) {
      desc |= !strcmp(tok, "desc");
      c->q.without_payload |= !strcmp(tok, "nopayload");
      continue;
    }
    if (ai >= argc) break;
    sqlite3_value *v = argv[ai++];
    int64_t lo, hi;
    if (!strcmp(tok, "id=") || !strcmp(tok, "id-in")) {
      point = 1;
      size_t cap = 0;
      sqlite3_value *e = v;
      int in = tok[2] == '-', rc = in ? sqlite3_vtab_in_first(v, &e) : SQLITE_OK;
      for (; rc == SQLITE_OK && e; rc = in ? sqlite3_vtab_in_next(v, &e) : SQLITE_DONE) {
        if (!int_range(e, "=", &lo, &hi) || lo < 1) continue;
        if (c->nids == cap) {
          cap = cap ? cap * 2 : 16;
          uint64_t *ni = realloc(c->ids, cap * sizeof *ni);
          if (!ni) return SQLITE_NOMEM;
          c->ids = ni;
        }
        c->ids[c->nids++] = (uint64_t)lo;
        if (!in) break;
      }
      continue;
    }
    if (!strcmp(tok, "limit")) {
      c->limit = sqlite3_value_int64(v) < 0 ? -1 : sqlite3_value_int64(v);
    } else if (!strcmp(tok, "offset")) {
      offset = sqlite3_value_int64(v) < 0 ? 0 : sqlite3_value_int64(v);
    } else if (!strncmp(tok, "id", 2)) {
      if (!int_range(v, tok + 2, &lo, &hi)) empty = 1;
      idlo = lo > idlo ? lo : idlo;
      idhi = hi < idhi ? hi : idhi;
    } else if (!strncmp(tok, "created_us", 10)) {
      if (!int_range(v, tok + 10, &lo, &hi)) empty = 1;
      tlo = lo > tlo ? lo : tlo;
      thi = hi < thi ? hi : thi;
    } else if (!strncmp(tok, "created_at", 10)) {
      /* Only narrows (SQLite compares the text of every row). */
      int64_t x;
      const char *t = sqlite3_value_type(v) == SQLITE_TEXT
                          ? (const char *)sqlite3_value_text(v) : NULL;
      if (!t || parse_iso_floor(t, &x)) continue;
      if (tok[10] == '>' && x > tlo) tlo = x;
      if (tok[10] == '<' && x < thi) thi = x;
    } else {
      const char *t = text_eq(v);
      if (!t) {
        empty = 1;
      } else if (!strcmp(tok, "status=")) {
        if (!strcmp(t, "pending")) c->q.status = EVS_QUERY_PENDING;
        else if (!strcmp(t, "acknowledged")) c->q.status = EVS_QUERY_ACKNOWLEDGED;
        else empty = 1;
      } else if (!strcmp(tok, "source=") || !strcmp(tok, "event_type=")) {
        /* Stored names are trimmed and never empty; the library trims a
        ** filter (and refuses an empty one), SQL compares exactly. */
        size_t len;
        if (evs_trim(t, &len) != t || !len || t[len]) {
          empty = 1;
          continue;
        }
        char *dup = sqlite3_mprintf("%s", t);
        if (!dup) return SQLITE_NOMEM;
        if (tok[0] == 's') c->src = dup, c->q.source = dup;
        else c->typ = dup, c->q.event_type = dup;
      } else if (!strcmp(tok, "priority=")) {
        if (!(c->q.priority = prio_parse(t))) empty = 1;
      } else if (!strcmp(tok, "cursor=")) {
        if (!(c->qcur = sqlite3_mprintf("%s", t))) return SQLITE_NOMEM;
        c->q.cursor = c->qcur;
      }
    }
  }
  /* Ids start at 1; the query's 0 means "unbounded". */
  if (idlo > idhi || idhi < 1) empty = 1;
  if (idlo > 1) c->q.min_id = (uint64_t)idlo;
  if (idhi < INT64_MAX) c->q.max_id = (uint64_t)idhi;
  /* Times as exclusive bounds; created_us from the real clock is > 0, so
  ** a bound at or below the epoch selects nothing or everything. */
  if (tlo > thi) empty = 1;
  if (tlo > 1) c->q.created_after_us = tlo - 1;
  if (thi < INT64_MAX) {
    if (thi < 1) empty = 1;
    else c->q.created_before_us = thi + 1;
  }
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
  if (empty || c->limit == 0) return c->eof = 1, SQLITE_OK;
  if (c->scan) {
    /* Small LIMITs fetch small pages. */
    if (c->limit > 0 && c->limit < EVS_PAGE_MAX && offset < EVS_PAGE_MAX - c->limit)
      c->q.limit = (unsigned)(c->limit + offset);
    int rc = fetch_page(c);
    if (rc) return rc;
  } else {
    int rc = step(c);
    if (rc) return rc;
  }
  while (offset-- > 0 && !c->eof) {
    int rc = step(c);
    if (rc) return rc;
  }
  return SQLITE_OK;
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
  if (vt->sh->owner) {
    /* In memory: re-key the store so the renamed table reconnects to it. */
    char *k = sqlite3_mprintf("%s.%s", vt->schema, name);
    if (!k) return SQLITE_NOMEM;
    pthread_mutex_lock(&reg_mu);
    sqlite3_free(vt->sh->key);
    vt->sh->key = k;
    pthread_mutex_unlock(&reg_mu);
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
    NULL,      xRename,    xSavepoint, xRelease, xRollbackTo, NULL};

/* The store of evstore table `name` on the connection of ctx, or NULL
** with an error set on ctx. */
static evs_store *func_store(sqlite3_context *ctx, sqlite3_value *arg, const char *fn) {
  const char *name = (const char *)sqlite3_value_text(arg);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  evs_store *s = NULL;
  pthread_mutex_lock(&reg_mu);
  for (vtab *vt = tables; vt; vt = vt->next)
    if (vt->db == db && name && !sqlite3_stricmp(vt->name, name)) s = vt->sh->s;
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
  if (evs_stats_get(s, &st)) {
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
      "\"dict_state\":%d,\"dict_id\":%u}",
      (unsigned long long)st.pending, (unsigned long long)st.acknowledged,
      (unsigned long long)st.next_id, (unsigned long long)st.segments,
      (unsigned long long)st.disk_bytes, (unsigned long long)st.payload_bytes,
      (unsigned long long)st.payload_stored_bytes, st.compression_ratio,
      (long long)st.oldest_pending_age_us, (unsigned long long)st.index_bytes,
      (unsigned long long)st.recovered_bytes_dropped,
      (unsigned long long)st.recovered_records_dropped, st.checkpoint_state,
      (unsigned long long)st.open_replayed_bytes, (unsigned long long)st.checkpoints_written,
      (unsigned long long)st.compactions, (unsigned long long)st.compact_removed_events,
      st.maintenance_error, st.dict_state, (unsigned)st.dict_id);
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
