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

#include "error.h"
#include "store.h"
#include "util.h"

#define DAY_US (86400LL * 1000000)

static int64_t realtime_us(void *arg) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int evs_options_resolve(const evs_options *in, evs_options *o) {
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
  if (o->dict_compress < 0 || o->dict_compress > 1)
    return evs_err(NULL, EVS_EINVAL, "dict_compress %d is not 0 (off) or 1 (on)",
                   o->dict_compress);
  return 0;
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

static int has_segments(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while (!found && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    found = n > 6 && !strcmp(e->d_name + n - 6, ".evlog");
  }
  closedir(d);
  return found;
}

/* Read the meta file, or create it (atomically: temp file, sync, rename). */
static int load_meta(evs_store *s) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", s->dir, EVS_META_NAME);
  const evs_io *io = s->io;
  uint8_t buf[EVS_META_SIZE + 1];
  int fd = io->open(io->ctx, path, O_RDONLY, 0);
  if (fd >= 0) {
    ssize_t n = io->pread(io->ctx, fd, buf, sizeof buf, 0);
    io->close(io->ctx, fd);
    if (n < 0) return evs_err_io(s, (int)-n, "cannot read", path);
    const char *why;
    if (evs_meta_decode(buf, (size_t)n, &s->meta, &why))
      return evs_err(s, EVS_ECORRUPT, "%s: %s", path, why);
    return 0;
  }
  if (fd != -ENOENT) return evs_err_io(s, -fd, "cannot open", path);
  if (has_segments(s->dir))
    return evs_err(s, EVS_ECORRUPT,
                   "%s is missing but %s holds segments; refusing to start a "
                   "new store over them",
                   path, s->dir);
  int e = random_u64(&s->meta.store_id);
  if (!e) e = random_u64(&s->meta.cursor_key);
  if (e) return evs_err_io(s, -e, "getrandom for", path);
  s->meta.created_us = evs_now(s);
  evs_meta_encode(&s->meta, buf);
  if ((e = evs_io_replace(io, s->dir, EVS_META_NAME, buf, EVS_META_SIZE, NULL)))
    return evs_err_io(s, -e, "cannot write", path);
  return 0;
}

static int lock_dir(evs_store *s) {
  struct stat st;
  if (mkdir(s->dir, 0755) < 0 && errno != EEXIST)
    return evs_err_io(s, errno, "cannot create directory", s->dir);
  if (stat(s->dir, &st) < 0) return evs_err_io(s, errno, "cannot stat", s->dir);
  if (!S_ISDIR(st.st_mode))
    return evs_err(s, EVS_EINVAL, "%s exists and is not a directory", s->dir);
  char path[4096];
  snprintf(path, sizeof path, "%s/LOCK", s->dir);
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) return evs_err_io(s, errno, "cannot open", path);
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(s->lock_fd);
    s->lock_fd = -1;
    if (e == EWOULDBLOCK)
      return evs_err(s, EVS_ELOCKED,
                     "store %s is locked: another process (or another handle in "
                     "this process) has it open",
                     s->dir);
    return evs_err_io(s, e, "cannot lock", path);
  }
  return 0;
}

static void store_free(evs_store *s) {
  evs_maint_stop(s);
  free(s->ckpt_buf);
  if (s->epochs) evs_compact_free(s);
  evs_log_close(s);
  evs_index_free(&s->idx);
  evs_zstd_pools_free(s);
  evs_dict_free(s);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
  pthread_mutex_destroy(&s->wmu);
  pthread_rwlock_destroy(&s->ilock);
  pthread_mutex_destroy(&s->smu);
  pthread_cond_destroy(&s->scv);
  pthread_mutex_destroy(&s->poolmu);
  pthread_mutex_destroy(&s->bgmu);
  pthread_cond_destroy(&s->bgcv);
  pthread_mutex_destroy(&s->ckmu);
  free(s->dir);
  free(s);
}

int evs_store_open_io(const char *dir, const evs_options *opts,
                      const evs_io *io, evs_store **out) {
  if (!out) return evs_err(NULL, EVS_EINVAL, "out is required");
  *out = NULL;
  evs_options o;
  int rc = evs_options_resolve(opts, &o);
  if (rc) return rc;
  evs_store *s = calloc(1, sizeof *s);
  if (!s) return evs_err(NULL, EVS_ENOMEM, "out of memory");
  s->opt = o;
  s->io = io ? io : &evs_io_posix;
  s->lock_fd = -1;
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
  if (evs_compact_init(s)) {
    rc = evs_err(NULL, EVS_ENOMEM, "out of memory");
    goto fail;
  }
  if (dir && strcmp(dir, ":memory:")) {
    if (!*dir) {
      rc = evs_err(NULL, EVS_EINVAL, "directory name is empty");
      goto fail;
    }
    if (!(s->dir = strdup(dir))) {
      rc = evs_err(NULL, EVS_ENOMEM, "out of memory");
      goto fail;
    }
    if ((rc = lock_dir(s)) || (rc = load_meta(s))) goto fail;
  } else {
    random_u64(&s->meta.store_id);
    random_u64(&s->meta.cursor_key);
    s->meta.created_us = evs_now(s);
  }
  if ((rc = evs_index_init(&s->idx))) {
    rc = evs_err(NULL, rc, "out of memory");
    goto fail;
  }
  if ((rc = evs_dict_open(s)) || (rc = evs_log_open(s))) goto fail;
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

int evs_store_open(const char *dir, const evs_options *opts, evs_store **out) {
  return evs_store_open_io(dir, opts, NULL, out);
}

int evs_store_sync(evs_store *s) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (!s->dir) return 0;
  pthread_mutex_lock(&s->smu);
  uint64_t lsn = s->written_lsn;
  pthread_mutex_unlock(&s->smu);
  return evs_log_sync_upto(s, lsn);
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
  if (s->dir && !s->broken && s->ckpt_dirty) rc = evs_checkpoint_write_nowait(s);
  if (!rc && s->dir && s->opt.sync != EVS_SYNC_OFF && !s->broken) rc = evs_store_sync(s);
  char why[512];
  if (rc) snprintf(why, sizeof why, "%s", evs_errmsg(s));
  store_free(s);
  return rc ? evs_err(NULL, rc, "%s", why) : 0;
}

int evs_stats_get(evs_store *s, evs_stats *st) {
  if (!s || !st) return evs_err(s, EVS_EINVAL, "store and stats are required");
  memset(st, 0, sizeof *st);
  int64_t now = evs_now(s);
  pthread_rwlock_rdlock(&s->ilock);
  const evs_index *x = &s->idx;
  st->pending = s->npending;
  st->acknowledged = s->nacked;
  st->next_id = x->base + s->vis_n;
  st->segments = s->nsegs;
  st->disk_bytes = evs_log_disk_bytes(s);
  st->payload_bytes = s->payload_bytes;
  st->payload_stored_bytes = s->payload_stored;
  st->compression_ratio =
      s->payload_stored ? (double)s->payload_bytes / (double)s->payload_stored : 1.0;
  uint64_t lo = 0;
  if (s->opt.retention_us > 0)
    lo = evs_index_time_bound(x, 0, s->vis_n, now - s->opt.retention_us, 0);
  uint64_t rel = evs_bs_next(&x->pending, lo);
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
  pthread_rwlock_unlock(&s->ilock);
  return 0;
}
