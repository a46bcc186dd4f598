/*
** log.c: the append log. Segment files (create, map, write, roll,
** truncate), recovery on open (checksum scan, torn-tail truncation,
** replay into the index) and group commit of fdatasync.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "error.h"
#include "log.h"
#include "store.h"

#define MIN_MAP (1u << 20)

int evs_log_write(evs_store *s, const void *p, size_t n, uint64_t off) {
  evs_seg *g = s->cur;
  if (g->fd < 0) {
    memcpy(g->base + off, p, n);
    return 0;
  }
  int e = evs_io_write_all(s->io, g->fd, p, n, (off_t)off);
  if (e) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, g->no, path, sizeof path);
    return evs_err_io(s, -e, "write to", path);
  }
  return 0;
}

int evs_log_truncate(evs_store *s, uint64_t off) {
  evs_seg *g = s->cur;
  if (g->fd < 0) return 0;
  /* Synced in every mode (it is rare: an undo of written bytes): records
  ** of the undone transaction must not reappear after later writes, where
  ** open would see damage followed by intact records. */
  int e = s->io->ftruncate(s->io->ctx, g->fd, (off_t)off);
  if (!e) e = s->io->fdatasync(s->io->ctx, g->fd);
  if (e) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, g->no, path, sizeof path);
    return evs_err_io(s, -e, "cannot truncate", path);
  }
  return 0;
}

/* Group commit: the first waiter becomes the leader and fdatasyncs for
** everyone whose records were written before it started. */
int evs_log_sync_upto(evs_store *s, uint64_t lsn) {
  int rc = 0;
  pthread_mutex_lock(&s->smu);
  while ((s->synced_lsn < lsn || s->dir_dirty) && !rc) {
    if (s->broken) {
      rc = EVS_EREADONLY;
      break;
    }
    if (s->syncing) {
      pthread_cond_wait(&s->scv, &s->smu);
      continue;
    }
    s->syncing = 1;
    uint64_t target = s->written_lsn;
    int fd = s->written_fd, dirty = s->dir_dirty;
    pthread_mutex_unlock(&s->smu);
    int de = dirty ? evs_io_sync_dir(s->io, s->dir) : 0;
    int e = !de && fd >= 0 ? s->io->fdatasync(s->io->ctx, fd) : 0;
    pthread_mutex_lock(&s->smu);
    s->syncing = 0;
    if (!de && dirty) s->dir_dirty = 0;
    if (de) {
      rc = evs_err_io(s, -de, "cannot sync directory", s->dir);
      snprintf(s->broken_why, sizeof s->broken_why, "%s", evs_errmsg(s));
      __atomic_store_n(&s->broken, rc, __ATOMIC_RELEASE);
    } else if (e) {
      /* After a failed fdatasync the kernel may have dropped the dirty
      ** pages: nothing written since the last good sync can be trusted. */
      char path[EVS_PATH_BUF];
      evs_seg_path(s, target >> 32, path, sizeof path);
      rc = evs_err_io(s, -e, "fdatasync of", path);
      snprintf(s->broken_why, sizeof s->broken_why, "%s", evs_errmsg(s));
      __atomic_store_n(&s->broken, rc, __ATOMIC_RELEASE);
    } else if (target > s->synced_lsn) {
      s->synced_lsn = target;
    }
    pthread_cond_broadcast(&s->scv);
  }
  if (rc == EVS_EREADONLY)
    evs_err(s, rc, "store is read-only after a failed sync (%s); reopen it", s->broken_why);
  pthread_mutex_unlock(&s->smu);
  return rc;
}

int evs_log_sync_all(evs_store *s) {
  if (!s->dir || s->opt.read_only) return 0;
  pthread_mutex_lock(&s->smu);
  uint64_t lsn = s->written_lsn;
  pthread_mutex_unlock(&s->smu);
  return evs_log_sync_upto(s, lsn);
}

/* Seal the open segment and open a new one. notify: tell the background
** thread (a roll for compaction is followed by that compaction). */
static int roll(evs_store *s, int notify, int *rolled) {
  evs_seg *old = s->cur;
  uint64_t no;
  *rolled = 0;
  if (evs_segno_take(s, NULL, &no)) {
    /* Every slot holds a live segment: the current one grows past
    ** segment_size (up to the 4 GiB a record offset reaches) until
    ** compaction, which can always run, frees a slot. */
    if (notify && s->opt.auto_compact_percent > 0) evs_notify(s, EVS_BG_COMPACT);
    return 0;
  }
  /* A sealed segment is synced in every mode: recovery may then treat
  ** damage in it as corruption, not as a lost tail. */
  if (old->fd >= 0) {
    int rc = evs_log_sync_upto(s, evs_lsn(old->no, old->size));
    if (rc) return rc;
  }
  evs_seg *g;
  int rc = evs_seg_create(s, no, s->state.idx.base + s->state.idx.n, s->seg_flags, &g);
  if (rc) return rc;
  pthread_rwlock_wrlock(&s->ilock);
  rc = evs_seg_add(s, g);
  pthread_rwlock_unlock(&s->ilock);
  /* The new segment counts once the manifest names it (and seals the old
  ** one at its size); until then a crash leaves it an orphan. */
  int in_effect = 0;
  if (!rc) {
    rc = evs_manifest_write(s, s->segs, s->nsegs, s->man_layout, &in_effect);
    if (!in_effect) {
      pthread_rwlock_wrlock(&s->ilock);
      s->nsegs--;
      s->slots[g->no % EVS_SLOTS] = NULL;
      pthread_rwlock_unlock(&s->ilock);
    }
  }
  if (!in_effect) {
    /* An orphan now (open would remove it too). */
    if (s->dir) {
      char path[EVS_PATH_BUF];
      evs_seg_path(s, g->no, path, sizeof path);
      s->io->unlink(s->io->ctx, path);
    }
    evs_seg_free(s, g);
    return rc;
  }
  int mrc = rc;
  pthread_rwlock_wrlock(&s->ilock);
  s->cur = g;
  pthread_rwlock_unlock(&s->ilock);
  pthread_mutex_lock(&s->smu);
  s->written_lsn = s->synced_lsn = evs_lsn(g->no, g->size);
  s->written_fd = g->fd;
  pthread_mutex_unlock(&s->smu);
  *rolled = 1;
  /* A segment was sealed: the background thread judges the garbage. */
  if (notify && s->opt.auto_compact_percent > 0) evs_notify(s, EVS_BG_COMPACT);
  return mrc;
}

int evs_log_roll_if_full(evs_store *s) {
  int rolled;
  if (s->cur->size < s->opt.segment_size) return 0;
  return roll(s, 1, &rolled);
}

int evs_log_use_leases(evs_store *s) {
  s->seg_flags |= EVS_SEG_LEASES;
  if (s->cur->flags & EVS_SEG_LEASES) return 0;
  int rolled;
  int rc = roll(s, 0, &rolled);
  if (!rc && !rolled)
    rc = evs_err(s, EVS_ETOOBIG,
                 "cannot start a segment for lease records: every segment slot is live "
                 "(evs_compact frees some)");
  return rc;
}

int evs_log_roll_now(evs_store *s, int *rolled) {
  *rolled = 0;
  if (s->cur->size <= EVS_SEG_HDR) return 0;
  return roll(s, 0, rolled);
}

int evs_manifest_write(evs_store *s, evs_seg *const *segs, size_t n, uint64_t layout,
                       int *in_effect) {
  if (in_effect) *in_effect = !s->dir;
  if (!s->dir) return 0;
  uint64_t *no = malloc(n * sizeof *no), *sz = malloc(n * sizeof *sz);
  uint8_t *buf = malloc(evs_manifest_len((uint32_t)n));
  int rc = 0;
  if (!no || !sz || !buf) {
    rc = evs_err(s, EVS_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    no[i] = segs[i]->no;
    sz[i] = i + 1 < n ? segs[i]->size : 0;
  }
  evs_manifest m = {s->meta.store_id, s->man_gen + 1, layout, (uint32_t)n, no, sz};
  evs_manifest_encode(&m, buf);
  int renamed;
  int e = evs_io_replace(s->io, s->dir, EVS_MANIFEST_NAME, buf,
                         evs_manifest_len((uint32_t)n), s->fmode, &renamed);
  if (e) {
    char path[EVS_PATH_BUF];
    snprintf(path, sizeof path, "%s/%s", s->dir, EVS_MANIFEST_NAME);
    rc = evs_err_io(s, -e, "cannot write", path);
    if (!renamed) goto done;
    /* In place, but the directory sync failed: the new manifest is in
    ** effect (*in_effect) and the next sync owes its durability (see
    ** evs_log_sync_upto); the caller still reports the error. */
    pthread_mutex_lock(&s->smu);
    s->dir_dirty = 1;
    pthread_mutex_unlock(&s->smu);
  }
  if (in_effect) *in_effect = 1;
  s->man_gen++;
  s->man_layout = layout;
done:
  free(no);
  free(sz);
  free(buf);
  return rc;
}

int evs_read_file(evs_store *s, const char *name, uint8_t **buf, size_t *n) {
  return evs_io_read_file(s->io, s->dir, name, buf, n);
}

uint64_t evs_log_disk_bytes(const evs_store *s) {
  if (!s->dir) return 0;
  uint64_t n = EVS_META_SIZE + EVS_SETTINGS_SIZE + evs_manifest_len((uint32_t)s->nsegs) +
               __atomic_load_n(&s->ckpt_file_bytes, __ATOMIC_RELAXED) +
               __atomic_load_n(&s->dict_file_bytes, __ATOMIC_RELAXED);
  for (size_t i = 0; i < s->nsegs; i++) n += s->segs[i]->size;
  return n;
}

void evs_log_close(evs_store *s) {
  for (size_t i = 0; i < s->nsegs; i++) evs_seg_free(s, s->segs[i]);
  free(s->segs);
  free(s->slots);
  s->segs = NULL;
  s->slots = NULL;
  s->nslots = 0;
  s->nsegs = 0;
  s->cur = NULL;
}

/* ---- Recovery ---------------------------------------------------------- */

