/*
** store.h: the internal shape of a store, shared by the library's files.
**
** Locking (outermost first; a thread holding one may take only those
** below it):
**   cmu    compaction (compact.c): one pass at a time, held for the pass.
**   ckmu   checkpoints (checkpoint.c): one writer of evstore.checkpoint
**          at a time, held from serialising the index to the rename.
**   wmu    the write transaction: one writer at a time, held from
**          evs_txn_begin to commit/rollback (autocommit calls take it too;
**          maintenance holds it without a transaction). A thread holding
**          it gets EVS_EBUSY from the calls that need cmu or ckmu rather
**          than waiting for them.
**   ilock  rwlock over the index and segment table: readers share it for
**          the few microseconds of a lookup or page; the writer takes it
**          exclusively only to mutate. Readers are never blocked by an open
**          transaction.
**   smu    group commit state (written / synced log positions), and the
**          checkpoint counters.
**   bgmu   the maintenance thread's work bits and its last error.
**   poolmu the zstd context pools and the start of the batch worker.
**   The last three are leaves, never held together. So are worker.c's
**   mutex, an append batch's error mutex, and the epoch list's mutex
**   (compact.c).
*/
#ifndef EVS_STORE_H
#define EVS_STORE_H

#include <pthread.h>
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

struct evs_store {
  char *dir; /* NULL in memory */
  const evs_io *io;
  evs_options opt; /* resolved: no zero "defaults" left; [store] fields
                      are the recorded settings */
  evs_meta meta;
  int lock_fd;
  int fmode;    /* mode of the files the store creates: no more than its
                   existing files allow */
  int made_dir; /* this open created the directory */

  pthread_mutex_t wmu;
  const void *writer; /* atomic: identity of the thread holding wmu */
  evs_txn *txn; /* atomic: the open transaction; written only by the thread
                   that begins or ends it, holding wmu */

  pthread_rwlock_t ilock;
  evs_state state; /* under ilock: shared by readers, mutated by the
                      writer holding it exclusively */
  uint64_t txn_seq;  /* under wmu */
  uint64_t vis_n; /* rel < vis_n are committed (under ilock) */

  evs_seg **slots; /* by no % EVS_SLOTS, grown on demand */
  size_t nslots;
  evs_seg **segs; /* in order */
  size_t nsegs, segs_cap;
  evs_seg *cur;
  uint64_t next_segno;          /* no number below it is free (under wmu) */
  uint64_t segno_held; /* atomic: the number compaction took for the segment
                          it is writing (0: none); set under wmu */
  uint64_t man_gen, man_layout; /* of the manifest on disk */

  pthread_mutex_t smu;
  pthread_cond_t scv;
  uint64_t written_lsn, synced_lsn;
  int written_fd, syncing;
  int dir_dirty; /* a rename in the directory is not synced yet */
  int broken; /* nonzero: writes refused with EVS_EREADONLY. Written once,
                 under smu, after broken_why (release); read without a
                 lock (acquire) */
  char broken_why[200];

  pthread_mutex_t poolmu;
  ZSTD_CCtx **cpool;
  size_t ncpool, cpool_cap;
  ZSTD_DCtx **dpool;
  size_t ndpool, dpool_cap;
  evs_worker *worker; /* the batch helper thread (worker.c); set under poolmu */
  int worker_off;     /* it could not be started: do not try again */

  uint64_t rec_bytes_dropped, rec_records_dropped;

  /* Compaction (compact.c): one at a time; segments it replaced stay
  ** mapped until no page filled before their retirement is alive. */
  pthread_mutex_t cmu;
  struct evs_epochs *epochs;
  uint64_t compactions, compact_removed_events;

  /* Background maintenance (maint.c): periodic checkpoints and automatic
  ** compaction, on a thread started on first need. */
  /* Maintenance wanted (EVS_BG_* bits): the store layer sets it at open
  ** to maint.c's evs_maint_kick; the log, transactions and the dictionary
  ** call evs_notify and never maintenance itself (ARCHITECTURE.md). */
  void (*notify)(evs_store *s, int work);
  pthread_mutex_t bgmu;
  pthread_cond_t bgcv;
  pthread_t bg;
  int bg_started, bg_stop, bg_work; /* EVS_BG_* bits */
  int bg_rc;
  char bg_err[200];

  /* Checkpoints: state at open, the file accepted by find (freed by
  ** load), log bytes committed in total and at the last checkpoint. */
  pthread_mutex_t ckmu; /* one checkpoint writer at a time (lock order above) */
  int ckpt_state;
  int ckpt_off;      /* evstore.checkpoint is not a regular file: none are
                        written by this handle */
  uint64_t vouch_segno, vouch_off; /* a checkpoint file that checks out
                        says the log up to here was durable (0: none) */
  uint8_t *ckpt_buf;
  uint64_t open_replayed;
  uint64_t log_bytes, ckpt_log_bytes; /* under smu */
  int ckpt_dirty; /* the index has changed since the last checkpoint was
                     serialised (under smu; set by whoever holds wmu) */
  uint64_t ckpt_file_bytes; /* size of evstore.checkpoint */
  uint64_t ckpts_written;

  /* The dictionary for small payloads (dict.c): published once (atomic
  ** pointers), then read without locks. While there is none and one is
  ** wanted, dict_collect is set and commits count their events down
  ** dict_countdown (both atomic) to the next training, which samples the
  ** committed log. */
  ZSTD_CDict *cdict;
  ZSTD_DDict *ddict;
  uint32_t dict_id;
  int dict_state; /* EVS_DICT_* (atomic) */
  char dict_why[300];
  uint64_t dict_file_bytes;
  int dict_collect;
  int64_t dict_countdown;
};

static inline int64_t evs_now(const evs_store *s) {
  return s->opt.clock(s->opt.clock_arg);
}

/* Maintenance wanted, through the notify hook (bits). */
#define EVS_BG_CKPT 1
#define EVS_BG_COMPACT 2
#define EVS_BG_DICT 4
/* Tell the layer above that maintenance is wanted. */
static inline void evs_notify(evs_store *s, int work) {
  if (s->notify) s->notify(s, work);
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
