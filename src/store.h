/*
** store.h: the store's shared state and the one lock order.
**
** Locking (outermost first; a thread holding one may take only those
** below it). This is the whole order; docs/ARCHITECTURE.md repeats it.
**   cmu    compaction (compact.c): one pass at a time, held for the pass.
**   ckmu   checkpoints (checkpoint.c): one writer of evstore.checkpoint
**          at a time, held from serialising the index to the rename.
**   wmu    the writer (writer.c): one writing thread at a time, held from
**          evs_txn_begin to commit/rollback (autocommit calls take it too;
**          maintenance and evs_verify hold it without a transaction). A
**          thread holding it gets EVS_EDEADLK from the calls that need cmu
**          or ckmu rather than waiting for them.
**   ilock  rwlock over the index and segment table: readers share it for
**          the few microseconds of a lookup or page; the writer takes it
**          exclusively only to mutate. Readers are never blocked by an open
**          transaction.
**   smu    group commit state (written / synced log positions), the
**          checkpoint and compaction counters, and setting `broken`.
**   bgmu   the maintenance thread's work bits and its last error.
**   poolmu the zstd context pools and the start of the batch worker.
**   The last three are leaves, never held together. So are worker.c's
**   mutex, an append batch's error mutex (write.c), the epoch list's
**   mutex (segment.c) and evmu (wait.c: new events for waiters).
*/
#ifndef EVS_STORE_H
#define EVS_STORE_H

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "codec.h"
#include "evstore.h"
#include "index.h"
#include "io.h"
#include "segment.h"
#include "writer.h"

/* ---- Store ------------------------------------------------------------- */
typedef struct evs_worker evs_worker;

/* Each field says who may touch it:
**   fixed    set while opening (one thread), only read afterwards;
**   wmu      the writer (writer.h): read and written holding it;
**   ilock    read under ilock shared, written under it exclusively (and
**            only by a thread that also holds wmu, unless said otherwise);
**   smu / poolmu / bgmu / ckmu / cmu   under that mutex;
**   atomic   __atomic loads and stores, ordering as noted.
*/
struct evs_store {
  /* ---- identity and options (store.c) ---- */
  char *dir;         /* fixed; NULL in memory */
  const evs_io *io;  /* fixed */
  evs_options opt;   /* fixed: resolved, no zero "defaults" left; [store]
                        fields are the recorded settings */
  evs_meta meta;     /* fixed */
  int lock_fd;       /* fixed: holds the flock */
  int fmode;         /* fixed: mode of the files the store creates, no more
                        than its existing files allow */
  int made_dir;      /* fixed: this open created the directory */
  /* Maintenance wanted (EVS_BG_* bits): fixed, set by the store layer to
  ** maint.c's evs_maint_kick; the log, transactions and the dictionary call
  ** evs_notify and never maintenance itself (docs/ARCHITECTURE.md). */
  void (*notify)(evs_store *s, int work);

  /* ---- the writer (writer.c, txn.c) ---- */
  pthread_mutex_t wmu;
  const void *writer; /* atomic: identity of the thread holding wmu */
  evs_txn *txn;       /* atomic: the open transaction; written only by the
                         thread that begins or ends it, holding wmu */
  uint64_t txn_seq;   /* wmu */
  uint64_t lease_reserved; /* atomic: lease tokens up to this are reserved
                              by a synced SEQ record (sync NORMAL, OFF) */
  evs_txn *txn_spare; /* wmu: the last transaction's buffers, kept for the
                         next (its handle is never handed out again) */
  int broken;         /* nonzero: writes refused with EVS_EREADONLY. Written
                         once, under smu, after broken_why (release); read
                         without a lock (acquire) */
  char broken_why[200];

  /* ---- the index (index.c, replay.c, txn.c) ---- */
  pthread_rwlock_t ilock;
  evs_state state;   /* ilock */
  uint64_t vis_n;    /* ilock: rel < vis_n are committed */

  /* ---- segments (segment.c, log.c, recover.c) ---- */
  evs_seg **slots;   /* ilock: by no % EVS_SLOTS, grown on demand */
  size_t nslots;     /* ilock */
  evs_seg **segs;    /* ilock: in log order */
  size_t nsegs, segs_cap; /* ilock */
  evs_seg *cur;      /* ilock: the open segment (its size: the writer's) */
  uint64_t next_segno;  /* wmu: no number below it is free */
  uint64_t seg_flags;   /* wmu: flags of new segments (EVS_SEG_LEASES once
                           the store holds lease records) */
  uint64_t segno_held;  /* atomic, set under wmu: the number compaction took
                           for the segment it is writing (0: none) */
  uint64_t man_gen, man_layout; /* wmu: of the manifest on disk (a reader:
                                   of the one it follows) */
  int man_fd;        /* wmu: a read_only handle keeps the manifest it read
                        open (evs_log_follow); -1 otherwise */

  /* ---- group commit and counters (log.c) ---- */
  pthread_mutex_t smu;
  pthread_cond_t scv;
  uint64_t written_lsn, synced_lsn; /* smu */
  int written_fd, syncing;          /* smu */
  int dir_dirty;     /* smu: a rename in the directory is not synced yet */
  uint64_t log_bytes, ckpt_log_bytes; /* smu: committed in total / at the
                                         last checkpoint */
  int ckpt_dirty;    /* smu: the index changed since the last checkpoint
                        was serialised */
  uint64_t ckpts_written; /* smu */
  uint64_t compactions, compact_removed_events; /* smu */

  /* ---- what open found (recover.c, checkpoint_load.c) ---- */
  uint64_t rec_bytes_dropped, rec_records_dropped; /* fixed */
  uint64_t open_replayed; /* fixed: log bytes replayed */
  int ckpt_state;    /* fixed: EVS_CHECKPOINT_* */
  int ckpt_off;      /* fixed: evstore.checkpoint is not a regular file,
                        so this handle writes none */
  uint64_t vouch_segno, vouch_off; /* fixed: a checkpoint file that checks
                        out says the log up to here was durable (0: none) */

  /* ---- compression (compress.c) and the batch worker (worker.c) ---- */
  pthread_mutex_t poolmu;
  ZSTD_CCtx **cpool;  /* poolmu */
  size_t ncpool, cpool_cap; /* poolmu */
  ZSTD_DCtx **dpool;  /* poolmu */
  size_t ndpool, dpool_cap; /* poolmu */
  evs_worker *worker; /* poolmu: the batch helper thread */
  int worker_off;     /* poolmu: it could not be started: do not retry */

  /* ---- compaction (compact.c): one pass at a time; segments it replaced
  ** stay mapped until no page filled before their retirement is alive ---- */
  pthread_mutex_t cmu;
  struct evs_epochs *epochs; /* fixed pointer; the list has its own mutex */

  /* ---- background maintenance (maint.c): periodic checkpoints and
  ** automatic compaction, on a thread started on first need ---- */
  pthread_mutex_t bgmu;
  pthread_cond_t bgcv;
  pthread_t bg;      /* bgmu (joined at close) */
  int bg_started, bg_stop, bg_work; /* bgmu; bg_work: EVS_BG_* bits */
  int bg_rc;         /* bgmu: last failure */
  char bg_err[200];  /* bgmu */

  /* ---- waiting for events (wait.c): whatever makes new events visible
  ** to this handle (a commit that appended, a reader's refresh) bumps
  ** ev_seq under evmu, wakes evs_wait callers and signals the eventfd ---- */
  pthread_mutex_t evmu; /* a leaf */
  pthread_cond_t evcv;
  uint64_t ev_seq;      /* evmu */
  int ev_fd;            /* atomic: the eventfd of evs_store_eventfd, -1 */
  int64_t lease_next;   /* atomic: with an eventfd, the store time at which
                           the maintenance thread signals it next (a lease
                           or a delay ends); INT64_MAX none */

  /* ---- checkpoints (checkpoint.c) ---- */
  pthread_mutex_t ckmu; /* one checkpoint writer at a time */
  uint64_t ckpt_file_bytes; /* atomic: size of evstore.checkpoint */

  /* ---- the dictionary for small payloads (dict.c): published once
  ** (release), then read without locks (acquire). While there is none and
  ** one is wanted, dict_collect is set and commits count their events down
  ** dict_countdown to the next training, which samples the log ---- */
  ZSTD_CDict *cdict;   /* atomic */
  ZSTD_DDict *ddict;   /* atomic */
  uint32_t dict_id;    /* written before ddict is published */
  int dict_state;      /* atomic: EVS_DICT_* */
  char dict_why[300];  /* written before dict_state changes */
  uint64_t dict_file_bytes; /* atomic */
  int dict_collect;    /* atomic */
  int64_t dict_countdown; /* atomic */
};

static inline int64_t evs_now(const evs_store *s) {
  return s->opt.clock(s->opt.clock_arg);
}

/* Maintenance wanted, through the notify hook (bits). */
#define EVS_BG_CKPT 1
#define EVS_BG_COMPACT 2
#define EVS_BG_DICT 4
#define EVS_BG_LEASE 8 /* lease_next moved earlier, or the eventfd is new */
/* Tell the layer above that maintenance is wanted. */
static inline void evs_notify(evs_store *s, int work) {
  if (s->notify) s->notify(s, work);
}

/* A background failure, kept for evs_stats (maintenance_error and its
** message). Takes bgmu. */
static inline void evs_bg_note(evs_store *s, int rc) {
  if (!rc) return;
  pthread_mutex_lock(&s->bgmu);
  s->bg_rc = rc;
  snprintf(s->bg_err, sizeof s->bg_err, "%s", evs_errmsg(s));
  pthread_mutex_unlock(&s->bgmu);
}

/* New events are visible (after vis_n moved): wake waiters and the
** eventfd. Takes evmu (a leaf); call holding no lock. */
static inline void evs_events_arrived(evs_store *s) {
  pthread_mutex_lock(&s->evmu);
  s->ev_seq++;
  pthread_cond_broadcast(&s->evcv);
  pthread_mutex_unlock(&s->evmu);
  int fd = __atomic_load_n(&s->ev_fd, __ATOMIC_ACQUIRE);
  if (fd >= 0) {
    uint64_t one = 1;
    /* EAGAIN (the counter is full) still leaves it readable. */
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
  }
}

static inline uint64_t evs_lsn(uint64_t segno, uint64_t off) {
  return (segno << 32) | off;
}

/* store.c: the mode of files the store in dir creates: what its meta and
** manifest files allow (a user's chmod 600 of the store sticks), 0644 for
** a new one. */
int evs_store_file_mode(const char *dir);
/* evs_store_open for a caller that already holds the directory's lock
** (flock on lock_fd): the store works under a duplicate of it, whose
** close leaves the caller's lock in place. */
int evs_store_open_locked(const char *dir, const evs_options *opts, int lock_fd,
                          evs_store **out);

#endif
