/*
** store.c: the store handle. Options, the directory lock, the meta file
** (store identity and cursor key), open/close, sync and stats.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "checkpoint.h"
#include "compress.h"
#include "dict.h"
#include "error.h"
#include "log.h"
#include "maint.h"
#include "recover.h"
#include "store.h"
#include "txn.h"
#include "util.h"
#include "worker.h"
#include "writer.h"

#define DAY_US (86400LL * 1000000)

static int64_t realtime_us(void *arg) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int options_resolve(const evs_options *in, evs_options *o) {
  if (!o) return evs_err(NULL, EVS_EINVAL, "out is required");
  memset(o, 0, sizeof *o);
  if (in) *o = *in;
  if (o->sync == EVS_SYNC_DEFAULT) o->sync = EVS_SYNC_NORMAL;
  if (o->sync < EVS_SYNC_OFF || o->sync > EVS_SYNC_FULL)
    return evs_err(NULL, EVS_EINVAL, "sync mode %d is not OFF (1), NORMAL (2) or FULL (3)",
                   o->sync);
  if (!o->max_payload) o->max_payload = 409600;
  if (!o->compress_threshold) o->compress_threshold = 1024;
  if (!o->compress_level) o->compress_level = 1;
  if (o->compress_level < ZSTD_minCLevel() || o->compress_level > ZSTD_maxCLevel())
    return evs_err(NULL, EVS_EINVAL, "compress_level %d is outside zstd's %d..%d",
                   o->compress_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
  if (!o->retention_us) o->retention_us = 7 * DAY_US;
  if (o->retention_us < -1)
    return evs_err(NULL, EVS_EINVAL, "retention_us must be > 0, 0 (default) or -1 (forever)");
  if (!o->idempotency_window_us) o->idempotency_window_us = DAY_US;
  if (o->idempotency_window_us < -1)
    return evs_err(NULL, EVS_EINVAL,
                   "idempotency_window_us must be > 0, 0 (default) or -1 (forever)");
  if (!o->max_deliveries) o->max_deliveries = EVS_MAX_DELIVERIES_DEFAULT;
  if (o->max_deliveries > 255)
    return evs_err(NULL, EVS_EINVAL, "max_deliveries %u is outside 1..255", o->max_deliveries);
  if (!o->segment_size) o->segment_size = 64u << 20;
  if (o->segment_size < 4096 || o->segment_size > (1u << 30))
    return evs_err(NULL, EVS_EINVAL, "segment_size %u is outside 4096..1073741824",
                   o->segment_size);
  if (!o->clock) o->clock = realtime_us;
  if (!o->checkpoint_bytes) o->checkpoint_bytes = 64 << 20;
  if (o->checkpoint_bytes < -1)
    return evs_err(NULL, EVS_EINVAL, "checkpoint_bytes must be > 0, 0 (default) or -1 (never)");
  if (!o->compact_dead_percent) o->compact_dead_percent = 50;
  if (o->compact_dead_percent < 1 || o->compact_dead_percent > 100)
    return evs_err(NULL, EVS_EINVAL, "compact_dead_percent %d is outside 1..100",
                   o->compact_dead_percent);
  if (!o->auto_compact_percent) o->auto_compact_percent = 50;
  if (o->auto_compact_percent < -1 || o->auto_compact_percent > 100)
    return evs_err(NULL, EVS_EINVAL,
                   "auto_compact_percent %d is outside 1..100 (0 default, -1 never)",
                   o->auto_compact_percent);
  if (o->dict_compress < -1 || o->dict_compress > 1)
    return evs_err(NULL, EVS_EINVAL,
                   "dict_compress %d is not 1 (on), -1 (off) or 0 (the store's)",
                   o->dict_compress);
  if (!o->dict_compress) o->dict_compress = -1;
  if (!o->max_metadata) o->max_metadata = EVS_MAX_METADATA;
  if (o->max_metadata > EVS_MAX_METADATA_LIMIT)
    return evs_err(NULL, EVS_EINVAL, "max_metadata %u is over %d", o->max_metadata,
                   EVS_MAX_METADATA_LIMIT);
  if (o->read_only < 0 || o->read_only > 1)
    return evs_err(NULL, EVS_EINVAL, "read_only %d is not 0 or 1", o->read_only);
  return 0;
}

int evs_options_resolve_sized(const evs_options *in, size_t in_size, evs_options *out,
                              size_t out_size) {
  evs_options i, o;
  if (!out) return evs_err(NULL, EVS_EINVAL, "out is required");
  int rc = evs_abi_in(NULL, "evs_options", &i, sizeof i, in, in_size, EVS_OPTIONS_SIZE_VER0);
  if (!rc) rc = evs_abi_out_check(NULL, "evs_options", out, out_size, EVS_OPTIONS_SIZE_VER0);
  if (rc) return rc;
  rc = options_resolve(in ? &i : NULL, &o);
  evs_abi_out(out, out_size, &o, sizeof o);
  return rc;
}

static int random_u64(uint64_t *v) {
  size_t got = 0;
  while (got < sizeof *v) {
    ssize_t r = getrandom((char *)v + got, sizeof *v - got, 0);
    if (r < 0 && errno != EINTR) return -errno;
    if (r > 0) got += (size_t)r;
  }
  return 0;
}

/* The files a store consists of besides its segments and LOCK; the meta
** file, the store's identity, first. */
static const char *const store_files[] = {EVS_META_NAME, EVS_MANIFEST_NAME, EVS_SETTINGS_NAME,
                                          EVS_CHECKPOINT_NAME, EVS_DICT_NAME};
#define NSTORE_FILES (sizeof store_files / sizeof *store_files)

/* The first file of dir that only a store would hold (a segment, or one
** of store_files but the meta file), copied to out; 0 if none. LOCK and a
** temp meta file are what a crashed creation leaves. */
static int find_store_file(const char *dir, char *out, size_t cap) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d))) {
    const char *nm = e->d_name;
    size_t n = strlen(nm);
    found = n > 6 && !strcmp(nm + n - 6, ".evlog");
    for (size_t i = 1; !found && i < NSTORE_FILES; i++) found = !strcmp(nm, store_files[i]);
    if (found) snprintf(out, cap, "%s", nm);
  }
  closedir(d);
  return found;
}

int evs_store_file_mode(const char *dir) {
  static const char *const names[] = {EVS_META_NAME, EVS_MANIFEST_NAME};
  int mode = 0666, seen = 0;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char path[EVS_PATH_BUF];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      mode &= (int)(st.st_mode & 0666);
      seen = 1;
    }
  }
  return seen ? mode : 0644;
}

/* Read the meta file, or create it (atomically: temp file, sync, rename).
** *created is set for a new store. */
static int load_meta(evs_store *s, int *created) {
  *created = 0;
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", s->dir, EVS_META_NAME);
  const evs_io *io = s->io;
  uint8_t buf[EVS_META_SIZE + 1];
  int fd = io->open(io->ctx, path, O_RDONLY | O_NONBLOCK, 0);
  if (fd >= 0) {
    uint64_t size;
    int e = io->fsize(io->ctx, fd, &size);
    ssize_t n = e ? e : io->pread(io->ctx, fd, buf, sizeof buf, 0);
    io->close(io->ctx, fd);
    if (e == -EISDIR || e == -EINVAL)
      return evs_err(s, EVS_ECORRUPT, "%s is not a regular file", path);
    if (n < 0) return evs_err_io(s, (int)-n, "cannot read", path);
    const char *why;
    if (evs_meta_decode(buf, (size_t)n, &s->meta, &why))
      return evs_err(s, EVS_ECORRUPT, "%s: %s", path, why);
    return 0;
  }
  if (fd != -ENOENT) return evs_err_io(s, -fd, "cannot open", path);
  if (s->opt.read_only)
    return evs_err(s, EVS_ENOTFOUND, "%s is not a store (it has no %s)", s->dir,
                   EVS_META_NAME);
  char other[300];
  if (find_store_file(s->dir, other, sizeof other))
    return evs_err(s, EVS_ECORRUPT,
                   "%s is missing but %s holds %s; refusing to start a new store "
                   "over a store's files",
                   path, s->dir, other);
  int e = random_u64(&s->meta.store_id);
  if (!e) e = random_u64(&s->meta.cursor_key);
  if (e) return evs_err_io(s, -e, "getrandom for", path);
  s->meta.created_us = evs_now(s);
  s->meta.flags = s->made_dir ? EVS_META_OWN_DIR : 0;
  evs_meta_encode(&s->meta, buf);
  if ((e = evs_io_replace(io, s->dir, EVS_META_NAME, buf, EVS_META_SIZE, s->fmode, NULL)))
    return evs_err_io(s, -e, "cannot write", path);
  *created = 1;
  return 0;
}

/* ---- Settings ---------------------------------------------------------- */

void evs_options_use_stored_sized(evs_options *caller, size_t size) {
  evs_options o;
  if (!caller || size < EVS_OPTIONS_SIZE_VER0) return;
  memset(&o, 0, sizeof o);
  memcpy(&o, caller, EVS_MIN(size, sizeof o));
  o.retention_us = o.idempotency_window_us = 0;
  o.max_payload = o.max_metadata = o.compress_threshold = o.segment_size = 0;
  o.compress_level = o.dict_compress = 0;
  o.max_deliveries = 0;
  memcpy(caller, &o, EVS_MIN(size, sizeof o));
}

static void settings_from_opt(evs_settings *st, const evs_options *o) {
  st->retention_us = o->retention_us;
  st->idempotency_window_us = o->idempotency_window_us;
  st->max_payload = o->max_payload;
  st->max_metadata = o->max_metadata;
  st->compress_threshold = o->compress_threshold;
  st->compress_level = o->compress_level;
  st->segment_size = o->segment_size;
  st->dict_compress = o->dict_compress > 0;
  st->max_deliveries = o->max_deliveries;
}

static void opt_from_settings(evs_options *o, const evs_settings *st) {
  o->retention_us = st->retention_us;
  o->idempotency_window_us = st->idempotency_window_us;
  o->max_payload = st->max_payload;
  o->max_metadata = st->max_metadata;
  o->compress_threshold = st->compress_threshold;
  o->compress_level = st->compress_level;
  o->segment_size = st->segment_size;
  o->dict_compress = st->dict_compress ? 1 : -1;
  o->max_deliveries = st->max_deliveries;
}

/* Settings the caller set (non-zero [store] fields of in) replace st's;
** returns how many changed. r is in resolved. */
static int settings_apply(evs_settings *st, const evs_options *in, const evs_options *r) {
  evs_settings want;
  settings_from_opt(&want, r);
  int n = 0;
#define SET(f)                                                                   \
  if (in->f && want.f != st->f) st->f = want.f, n++
  SET(retention_us);
  SET(idempotency_window_us);
  SET(max_payload);
  SET(max_metadata);
  SET(compress_threshold);
  SET(compress_level);
  SET(segment_size);
  SET(dict_compress);
  SET(max_deliveries);
#undef SET
  return n;
}

static int settings_write(evs_store *s, evs_settings *st) {
  uint8_t buf[EVS_SETTINGS_SIZE];
  st->generation++;
  evs_settings_encode(st, s->meta.store_id, evs_now(s), buf);
  int e = evs_io_replace(s->io, s->dir, EVS_SETTINGS_NAME, buf, sizeof buf, s->fmode, NULL);
  if (!e) return 0;
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", s->dir, EVS_SETTINGS_NAME);
  return evs_err_io(s, -e, "cannot write", path);
}

/* The store's settings: recorded at creation, changed only by an opener
** that sets one (in's non-zero [store] fields). A store made before
** settings were recorded gets them now, with retention forever unless set:
** no opener's default may expire what its owner kept. */
static int load_settings(evs_store *s, const evs_options *in, int created) {
  evs_options none = {0};
  if (!in) in = &none;
  evs_settings st = {0};
  uint8_t *b;
  size_t n;
  int e = created ? -ENOENT : evs_read_file(s, EVS_SETTINGS_NAME, &b, &n), dirty = 1;
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", s->dir, EVS_SETTINGS_NAME);
  if (e == -ENOENT) {
    settings_from_opt(&st, &s->opt);
    if (!created && !in->retention_us) st.retention_us = -1;
  } else if (e == -EISDIR || e == -EINVAL) {
    return evs_err(s, EVS_ECORRUPT, "%s is not a regular file", path);
  } else if (e) {
    return e == -ENOMEM ? evs_err(s, EVS_ENOMEM, "out of memory")
                        : evs_err_io(s, -e, "cannot read", path);
  } else {
    const char *why;
    int bad = evs_settings_decode(b, n, s->meta.store_id, &st, &why);
    free(b);
    if (bad) return evs_err(s, EVS_ECORRUPT, "%s: %s", path, why);
    dirty = settings_apply(&st, in, &s->opt) > 0;
  }
  /* A reader of an older store uses what a writer would record, unwritten. */
  if (dirty && s->opt.read_only && e != -ENOENT)
    return evs_err(s, EVS_EREADONLY, "%s: a setting cannot be changed by a read-only open",
                   path);
  if (s->opt.read_only) dirty = 0;
  if (dirty && (e = settings_write(s, &st))) return e;
  opt_from_settings(&s->opt, &st);
  return 0;
}

static int lock_dir(evs_store *s) {
  struct stat st;
  int ro = s->opt.read_only;
  if (s->lock_fd >= 0) { /* the caller's lock (repair) */
    s->fmode = evs_store_file_mode(s->dir);
    return 0;
  }
  if (!ro) {
    if (mkdir(s->dir, 0755) == 0) s->made_dir = 1;
    else if (errno != EEXIST) return evs_err_io(s, errno, "cannot create directory", s->dir);
  }
  if (stat(s->dir, &st) < 0) {
    if (ro && errno == ENOENT)
      return evs_err(s, EVS_ENOTFOUND, "%s is not a store (no such directory)", s->dir);
    return evs_err_io(s, errno, "cannot stat", s->dir);
  }
  if (!S_ISDIR(st.st_mode))
    return evs_err(s, EVS_EINVAL, "%s exists and is not a directory", s->dir);
  s->fmode = evs_store_file_mode(s->dir);
  /* A reader takes no lock: it changes nothing, reads only what is
  ** committed, and never cuts what a writer may be writing (recover.c),
  ** so it needs neither to exclude nor to be excluded. */
  if (ro) return 0;
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/LOCK", s->dir);
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, s->fmode);
  if (s->lock_fd < 0) return evs_err_io(s, errno, "cannot open", path);
  if (fstat(s->lock_fd, &st) == 0 && !S_ISREG(st.st_mode))
    return evs_err(s, EVS_ECORRUPT, "%s is not a regular file", path);
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(s->lock_fd);
    s->lock_fd = -1;
    if (e == EWOULDBLOCK)
      return evs_err(s, EVS_ELOCKED,
                     "store %s is locked: another process (or another handle in this "
                     "process) has it open for writing (read_only opens may go beside it)",
                     s->dir);
    return evs_err_io(s, e, "cannot lock", path);
  }
  return 0;
}

static void store_free(evs_store *s) {
  evs_maint_stop(s);
  evs_txn_free(s->txn_spare);
  s->txn_spare = NULL;
  if (s->epochs) {
    evs_epochs_free(s);
    pthread_mutex_destroy(&s->cmu);
  }
  evs_log_close(s);
  evs_index_free(&s->state.idx);
  /* The batch worker compresses too: it goes before the pools. */
  evs_worker_stop(s);
  evs_zstd_pools_free(s);
  evs_dict_free(s);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
  if (s->man_fd >= 0) s->io->close(s->io->ctx, s->man_fd);
  pthread_mutex_destroy(&s->wmu);
  pthread_rwlock_destroy(&s->ilock);
  pthread_mutex_destroy(&s->smu);
  pthread_cond_destroy(&s->scv);
  pthread_mutex_destroy(&s->poolmu);
  pthread_mutex_destroy(&s->bgmu);
  pthread_cond_destroy(&s->bgcv);
  pthread_mutex_destroy(&s->ckmu);
  pthread_mutex_destroy(&s->evmu);
  pthread_cond_destroy(&s->evcv);
  if (s->ev_fd >= 0) close(s->ev_fd);
  free(s->dir);
  free(s);
}

static int open_store_once(const char *dir, const evs_options *opts, const evs_io *io,
                           int lock_fd, evs_store **out) {
  if (!out) return evs_err(NULL, EVS_EINVAL, "out is required");
  *out = NULL;
  evs_options o;
  int rc = evs_options_resolve(opts, &o);
  if (rc) return rc;
  int mem = !dir || !strcmp(dir, ":memory:");
  if (mem && o.read_only)
    return evs_err(NULL, EVS_EINVAL, "read_only needs a directory, not an in-memory store");
  evs_store *s = calloc(1, sizeof *s);
  if (!s) return evs_err(NULL, EVS_ENOMEM, "out of memory");
  s->opt = o;
  s->io = io ? io : &evs_io_posix;
  s->notify = evs_maint_kick;
  s->lock_fd = lock_fd >= 0 ? fcntl(lock_fd, F_DUPFD_CLOEXEC, 0) : -1;
  s->man_fd = -1;
  s->fmode = 0644;
  if (lock_fd >= 0 && s->lock_fd < 0) {
    free(s);
    return evs_err_io(NULL, errno, "cannot use the lock of", dir);
  }
  pthread_mutex_init(&s->wmu, NULL);
  pthread_rwlockattr_t ra;
  pthread_rwlockattr_init(&ra);
#ifdef __GLIBC__
  /* Readers hold the lock for microseconds; without this a steady stream
  ** of them could starve commits. */
  pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
  pthread_rwlock_init(&s->ilock, &ra);
  pthread_rwlockattr_destroy(&ra);
  pthread_mutex_init(&s->smu, NULL);
  pthread_cond_init(&s->scv, NULL);
  pthread_mutex_init(&s->poolmu, NULL);
  pthread_mutex_init(&s->bgmu, NULL);
  pthread_cond_init(&s->bgcv, NULL);
  pthread_mutex_init(&s->ckmu, NULL);
  pthread_mutex_init(&s->cmu, NULL);
  pthread_mutex_init(&s->evmu, NULL);
  pthread_cond_init(&s->evcv, NULL);
  s->ev_fd = -1;
  s->lease_next = INT64_MAX;
  if (evs_epochs_init(s)) {
    rc = evs_err(NULL, EVS_ENOMEM, "out of memory");
    goto fail;
  }
  if (!mem) {
    if (!*dir) {
      rc = evs_err(NULL, EVS_EINVAL, "directory name is empty");
      goto fail;
    }
    if (strlen(dir) > EVS_DIR_MAX) {
      rc = evs_err(NULL, EVS_EINVAL, "directory name is %zu bytes, limit is %d", strlen(dir),
                   EVS_DIR_MAX);
      goto fail;
    }
    if (!(s->dir = strdup(dir))) {
      rc = evs_err(NULL, EVS_ENOMEM, "out of memory");
      goto fail;
    }
    int created;
    if ((rc = lock_dir(s)) || (rc = load_meta(s, &created)) ||
        (rc = load_settings(s, opts, created)))
      goto fail;
  } else {
    random_u64(&s->meta.store_id);
    random_u64(&s->meta.cursor_key);
    s->meta.created_us = evs_now(s);
  }
  if ((rc = evs_index_init(&s->state.idx))) {
    rc = evs_err(NULL, rc, "out of memory");
    goto fail;
  }
  if ((rc = evs_dict_open(s)) || (rc = evs_log_open(s))) goto fail;
  /* A writer publishes its dictionary before any record that needs it: a
  ** reader that found none may have read such records since. */
  if (s->opt.read_only && s->dict_state == EVS_DICT_NONE && (rc = evs_dict_open(s))) goto fail;
  evs_dict_arm(s);
  *out = s;
  return 0;
fail:;
  /* Keep the message for evs_errmsg(NULL): the handle is going away. */
  char why[512];
  snprintf(why, sizeof why, "%s", evs_errmsg(NULL));
  store_free(s);
  return evs_err(NULL, rc, "%s", why);
}

/* Identity of dir's manifest file (0 if there is none). */
static int manifest_stat(const char *dir, struct stat *st) {
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", dir, EVS_MANIFEST_NAME);
  memset(st, 0, sizeof *st);
  return stat(path, st) == 0;
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A reader opening beside a writer may find the log changing under it: a
** segment the manifest listed removed by compaction, a segment a roll
** added that the manifest it read does not list. When its open fails and
** the manifest was replaced meanwhile, it starts again. */
#define OPEN_TRIES 50

static int open_store(const char *dir, const evs_options *opts, const evs_io *io,
                      int lock_fd, evs_store **out) {
  int ro = opts && opts->read_only == 1 && dir && strcmp(dir, ":memory:") && strlen(dir) <= EVS_DIR_MAX;
  for (int tries = 1;; tries++) {
    struct stat a, b;
    int had = ro && manifest_stat(dir, &a);
    int rc = open_store_once(dir, opts, io, lock_fd, out);
    if (!rc || !ro || rc == EVS_ENOMEM || rc == EVS_EINVAL) return rc;
    int has = manifest_stat(dir, &b);
    if (had == has && (!had || same_file(&a, &b))) return rc;
    if (tries == OPEN_TRIES)
      return evs_err(NULL, EVS_EBUSY,
                     "%s changed %d times while opening it read-only (%s); try again",
                     dir, OPEN_TRIES, evs_errmsg(NULL));
  }
}

int evs_store_open_io(const char *dir, const evs_options *opts, const evs_io *io,
                      evs_store **out) {
  return open_store(dir, opts, io, -1, out);
}

int evs_store_open_locked(const char *dir, const evs_options *opts, int lock_fd,
                          evs_store **out) {
  return open_store(dir, opts, NULL, lock_fd, out);
}

int evs_store_open_sized(const char *dir, const evs_options *opts, size_t opts_size,
                         evs_store **out) {
  evs_options o;
  int rc = evs_abi_in(NULL, "evs_options", &o, sizeof o, opts, opts_size, EVS_OPTIONS_SIZE_VER0);
  if (rc) {
    if (out) *out = NULL;
    return rc;
  }
  return open_store(dir, opts ? &o : NULL, NULL, -1, out);
}

/* ---- Refresh: a reader catching up with the writer ---------------------- */

#define SWAP(a, b)                                                               \
  do {                                                                           \
    __typeof__(a) t_ = (a);                                                      \
    (a) = (b);                                                                   \
    (b) = t_;                                                                    \
  } while (0)

/* Exchange the views (index, segments, what open found) of s and n. */
static void swap_views(evs_store *s, evs_store *n) {
  SWAP(s->state, n->state);
  SWAP(s->vis_n, n->vis_n);
  SWAP(s->slots, n->slots);
  SWAP(s->nslots, n->nslots);
  SWAP(s->segs, n->segs);
  SWAP(s->nsegs, n->nsegs);
  SWAP(s->segs_cap, n->segs_cap);
  SWAP(s->cur, n->cur);
  SWAP(s->next_segno, n->next_segno);
  SWAP(s->man_gen, n->man_gen);
  SWAP(s->man_layout, n->man_layout);
  SWAP(s->man_fd, n->man_fd);
  SWAP(s->rec_bytes_dropped, n->rec_bytes_dropped);
  SWAP(s->rec_records_dropped, n->rec_records_dropped);
  SWAP(s->open_replayed, n->open_replayed);
  SWAP(s->ckpt_state, n->ckpt_state);
  SWAP(s->vouch_segno, n->vouch_segno);
  SWAP(s->vouch_off, n->vouch_off);
  uint64_t ck = __atomic_load_n(&s->ckpt_file_bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&s->ckpt_file_bytes, n->ckpt_file_bytes, __ATOMIC_RELAXED);
  n->ckpt_file_bytes = ck;
}

/* The layout changed: open the store again beside s and take its view.
** The old segments are retired (pages may still point into them). */
static int reload(evs_store *s) {
  evs_options o = s->opt;
  evs_options_use_stored(&o);
  evs_store *n;
  int rc = open_store(s->dir, &o, s->io, -1, &n);
  if (rc) return evs_err(s, rc, "%s", evs_errmsg(NULL));
  if (n->meta.store_id != s->meta.store_id) {
    evs_store_close(n);
    return evs_err(s, EVS_ECORRUPT,
                   "%s now holds another store (dropped and created again?); "
                   "open it anew",
                   s->dir);
  }
  pthread_rwlock_wrlock(&s->ilock);
  swap_views(s, n);
  rc = evs_segs_retire(s, n->segs, n->nsegs);
  if (rc) swap_views(s, n); /* nothing retired: back as it was */
  pthread_rwlock_unlock(&s->ilock);
  if (rc) {
    evs_store_close(n);
    return evs_err(s, EVS_ENOMEM, "out of memory");
  }
  n->nsegs = 0; /* the epochs own them now */
  evs_events_arrived(s);
  /* (A dictionary trained since is loaded by evs_store_refresh after.) */
  store_free(n);
  return 0;
}

int evs_store_refresh(evs_store *s) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (!s->dir || !s->opt.read_only) return 0;
  int rc = evs_writer_lock(s);
  if (rc) return rc;
  int relayout = 0;
  if (s->dict_state == EVS_DICT_NONE) rc = evs_dict_open(s);
  if (!rc) rc = evs_log_follow(s, &relayout);
  /* A replay that failed half way may have left part of a transaction in
  ** the view: load it again whole (if that fails too, the error stands). */
  if ((rc && rc != EVS_ENOTFOUND && rc != EVS_EIO) || (!rc && relayout)) rc = reload(s);
  /* A dictionary the writer trained since (see open). Before the log too,
  ** so records that need it rarely come first. */
  if (!rc && s->dict_state == EVS_DICT_NONE) rc = evs_dict_open(s);
  evs_writer_unlock(s);
  return rc;
}

int evs_store_sync(evs_store *s) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  return evs_log_sync_all(s);
}

int evs_store_close(evs_store *s) {
  if (!s) return 0;
  int rc = 0;
  /* Before stopping maintenance, which may be waiting for the writer this
  ** transaction holds. Only the transaction's owner writes s->txn. */
  evs_txn *t = __atomic_load_n(&s->txn, __ATOMIC_ACQUIRE);
  if (t) evs_txn_rollback(t);
  evs_maint_stop(s);
  /* The checkpoint makes the next open fast; it syncs the log first. */
  int writes = s->dir && !__atomic_load_n(&s->broken, __ATOMIC_ACQUIRE) && !s->opt.read_only;
  if (writes && s->ckpt_dirty) rc = evs_checkpoint_write_nowait(s);
  if (!rc && writes && s->opt.sync != EVS_SYNC_OFF) rc = evs_store_sync(s);
  char why[512];
  if (rc) snprintf(why, sizeof why, "%s", evs_errmsg(s));
  store_free(s);
  return rc ? evs_err(NULL, rc, "%s", why) : 0;
}

/* Unlink dir/name; ENOENT is fine. Keeps the first failure in *rc. */
static void drop_file(evs_store *s, const char *name, int *rc) {
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", s->dir, name);
  int e = s->io->unlink(s->io->ctx, path);
  if (e && e != -ENOENT && !*rc) *rc = evs_err_io(s, -e, "cannot remove", path);
}

int evs_store_drop(evs_store *s) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (!s->dir) return evs_store_close(s);
  if (s->opt.read_only) {
    evs_store_close(s);
    return evs_err(NULL, EVS_EREADONLY, "a store opened read-only cannot be dropped");
  }
  /* As close: the transaction first (maintenance may wait for it). */
  evs_txn *t = __atomic_load_n(&s->txn, __ATOMIC_ACQUIRE);
  if (t) evs_txn_rollback(t);
  evs_maint_stop(s);
  /* The meta file first: from then on the directory is no store (an
  ** interrupted drop leaves files that open refuses to build on). */
  int rc = 0;
  drop_file(s, EVS_META_NAME, &rc);
  for (size_t i = 0; i < s->nsegs; i++) {
    char name[EVS_SEG_NAME_SIZE];
    evs_seg_name(s->segs[i]->no, name);
    drop_file(s, name, &rc);
  }
  for (size_t i = 0; i < NSTORE_FILES; i++) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", store_files[i]);
    if (i) drop_file(s, store_files[i], &rc);
    drop_file(s, tmp, &rc);
  }
  /* LOCK last, still held: nobody opens the store half-deleted. */
  drop_file(s, "LOCK", &rc);
  char *dir = strdup(s->dir);
  int own = s->meta.flags & EVS_META_OWN_DIR;
  char why[512];
  if (rc) snprintf(why, sizeof why, "%s", evs_errmsg(s));
  store_free(s);
  /* Only a directory the store made, and only if empty (rmdir says). */
  if (dir && own) rmdir(dir);
  free(dir);
  return rc ? evs_err(NULL, rc, "%s", why) : 0;
}

static int stats_get(evs_store *s, evs_stats *st) {
  if (!s || !st) return evs_err(s, EVS_EINVAL, "store and stats are required");
  memset(st, 0, sizeof *st);
  int64_t now = evs_now(s);
  pthread_rwlock_rdlock(&s->ilock);
  const evs_index *x = &s->state.idx;
  /* Leases are few (events in flight, held back, or dead by a lease that
  ** ran out and no claim has passed since): count them as of now. */
  uint64_t leased = 0, delayed = 0, lease_dead = 0;
  const evs_leases *ls = &x->leases;
  for (size_t i = 0; ls->tab && i <= ls->mask; i++) {
    const evs_lease *l = &ls->tab[i];
    if (!l->id) continue;
    const evs_ent *e = evs_ent_at(x, l->id - x->base);
    int es = evs_ent_state(x, l->id, e, now, s->opt.max_deliveries, NULL);
    leased += es == EVS_ES_LEASED;
    delayed += es == EVS_ES_DELAYED;
    lease_dead += es == EVS_ES_DEAD;
  }
  st->pending = s->state.npending - leased - delayed - lease_dead;
  st->leased = leased;
  st->delayed = delayed;
  st->dead = s->state.ndead + lease_dead;
  st->acknowledged = s->state.nacked;
  st->next_id = x->base + s->vis_n;
  st->segments = s->nsegs;
  st->disk_bytes = evs_log_disk_bytes(s);
  st->payload_bytes = s->state.payload_bytes;
  st->payload_stored_bytes = s->state.payload_stored;
  st->compression_ratio =
      s->state.payload_stored ? (double)s->state.payload_bytes / (double)s->state.payload_stored : 1.0;
  uint64_t lo = 0;
  if (s->opt.retention_us > 0)
    lo = evs_index_time_bound(x, 0, s->vis_n, evs_time_minus(now, s->opt.retention_us), 0);
  /* The pending set holds leased and held-back events too: skip them (few:
  ** the events in flight). */
  uint64_t rel = evs_bs_next(&x->pending, lo);
  while (rel < s->vis_n &&
         evs_ent_state(x, x->base + rel, evs_ent_at(x, rel), now, s->opt.max_deliveries,
                       NULL) != EVS_ES_PENDING)
    rel = evs_bs_next(&x->pending, rel + 1);
  if (rel < s->vis_n) {
    st->oldest_pending_us = evs_ent_at(x, rel)->created_us;
    /* Saturate: times come from a caller's clock or from disk. */
    if (__builtin_sub_overflow(now, st->oldest_pending_us, &st->oldest_pending_age_us))
      st->oldest_pending_age_us = now < 0 ? INT64_MIN : INT64_MAX;
  }
  st->index_bytes = evs_index_bytes(x) + s->nsegs * sizeof(evs_seg);
  st->recovered_bytes_dropped = s->rec_bytes_dropped;
  st->recovered_records_dropped = s->rec_records_dropped;
  st->checkpoint_state = s->ckpt_state;
  st->open_replayed_bytes = s->open_replayed;
  pthread_mutex_lock(&s->smu);
  st->checkpoints_written = s->ckpts_written;
  st->log_bytes_since_checkpoint = s->log_bytes - s->ckpt_log_bytes;
  st->compactions = s->compactions;
  st->compact_removed_events = s->compact_removed_events;
  pthread_mutex_unlock(&s->smu);
  pthread_mutex_lock(&s->bgmu);
  st->maintenance_error = s->bg_rc;
  pthread_mutex_unlock(&s->bgmu);
  st->dict_state = __atomic_load_n(&s->dict_state, __ATOMIC_ACQUIRE);
  if (st->dict_state == EVS_DICT_LOADED) st->dict_id = s->dict_id;
  st->store_id = s->meta.store_id;
  pthread_rwlock_unlock(&s->ilock);
  return 0;
}

int evs_stats_get_sized(evs_store *s, evs_stats *out, size_t out_size) {
  evs_stats st;
  int rc = evs_abi_out_check(s, "evs_stats", out, out_size, EVS_STATS_SIZE_VER0);
  if (rc || (rc = stats_get(s, out ? &st : NULL))) return rc;
  evs_abi_out(out, out_size, &st, sizeof st);
  return 0;
}

int evs_store_options_sized(evs_store *s, evs_options *out, size_t out_size) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and out are required");
  int rc = evs_abi_out_check(s, "evs_options", out, out_size, EVS_OPTIONS_SIZE_VER0);
  if (rc) return rc;
  evs_abi_out(out, out_size, &s->opt, sizeof s->opt);
  return 0;
}
