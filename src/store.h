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

#include "bitset.h"
#include "codec.h"
#include "evstore.h"
#include "io.h"
#include "writer.h"

/* ---- Segments ---------------------------------------------------------- */
typedef struct evs_oldmap {
  void *base;
  size_t len;
  struct evs_oldmap *next;
} evs_oldmap;

/* One segment: a file mapped read-only (or, in memory, an anonymous map).
** Mappings reserve more than the file holds so readers keep stable
** pointers while the writer appends; outgrown mappings are kept until
** close so pointers handed out stay valid. */
typedef struct evs_seg {
  struct evs_seg *next_retired;
  uint64_t no;
  int fd;          /* -1 for an in-memory segment */
  uint8_t *base;
  size_t map_len;
  uint64_t size;   /* committed bytes (header included) */
  uint64_t first_id; /* from the header: next id when it was started */
  uint64_t flags;    /* from the header: EVS_SEG_REWRITTEN */
  int checked;       /* every record's checksum verified (at open, or
                        written by this process): reads need not redo it */
  evs_oldmap *old;
} evs_seg;

/* Segments alive at once: each is found by slot = no % EVS_SLOTS (index
** entries and the checkpoint hold the slot in 16 bits). New numbers skip
** slots in use (evs_segno_take), so only the live count is bounded, never
** how many segments ever existed; with every slot live the newest segment
** grows instead. A test build sets a smaller value. */
#ifndef EVS_SLOTS
#define EVS_SLOTS 65536
#endif
_Static_assert(EVS_SLOTS >= 2 && EVS_SLOTS <= 65536, "evs_ent.slot is 16 bits");

/* ---- Index ------------------------------------------------------------- */
/* evs_ent.flags. Their own namespace, not the event record's EVS_EF_*
** flags (bit 0x04 is ENT_LIVE here, EVS_EF_ZSTD there), except that the
** two priority bits are copied from the record as they are. */
#define ENT_PRIO 0x03
#define ENT_LIVE 0x04
#define ENT_ACKED 0x08
#define ENT_DELETED 0x10
#define ENT_KEY 0x20 /* the event has an idempotency key */
_Static_assert(ENT_PRIO == EVS_EF_PRIO_MASK, "priority bits are copied from the record");

/* One event in memory: 24 bytes. Source, type and payload stay on disk.
** On-disk: the checkpoint stores these structs as they are in memory
** (field by field on big-endian hosts), so do not reorder, resize or add fields
** without a new checkpoint version (docs/FORMAT.md). */
typedef struct evs_ent {
  int64_t created_us;
  int64_t acked_us;
  uint32_t off;  /* record offset in its segment */
  uint16_t slot; /* segment number % EVS_SLOTS */
  uint8_t flags;
  uint8_t pad;
} evs_ent;
_Static_assert(sizeof(evs_ent) == EVS_CK_ENT && offsetof(evs_ent, acked_us) == 8 &&
                   offsetof(evs_ent, off) == 16 && offsetof(evs_ent, slot) == 20 &&
                   offsetof(evs_ent, flags) == 22,
               "evs_ent is the checkpoint's entry layout");

#define ENT_CHUNK_BITS 12 /* small chunks: little rounding waste */
#define ENT_CHUNK (1u << ENT_CHUNK_BITS)

/* Pending events of one source or one event type: ids (relative to the
** index base) in increasing order, and a bitset of positions still
** believed pending. Acks clear nothing here; scans clear lazily, and a
** sweep drops dead positions once they outnumber the live ones. */
typedef struct evs_plist {
  uint32_t *rel;
  size_t n, cap;
  evs_bitset live;
  uint64_t txn_stamp; /* last transaction that appended here */
} evs_plist;

typedef struct evs_name {
  char *s;
  uint32_t len;
  uint64_t hash;
  evs_plist list;
} evs_name;

typedef struct evs_names {
  evs_name **tab; /* open addressing */
  size_t mask, used;
} evs_names;

typedef struct evs_idem_slot {
  uint32_t tag; /* high hash bits, 0 = empty */
  uint32_t rel;
} evs_idem_slot;

typedef struct evs_index {
  uint64_t base;      /* id of rel 0 */
  uint64_t n;         /* entries, committed or not: next id = base + n */
  evs_ent **chunks;
  size_t nchunks, chunks_cap;
  evs_bitset pending; /* by rel */
  evs_names sources, types;
  uint64_t list_entries; /* sum of plist lengths, for the sweep */
  evs_idem_slot *idem; /* linear probing, home slot by fastrange */
  size_t idem_size, idem_used;
} evs_index;

/* The index state: what the log's records say, built by replay at open
** (or into a scratch state by evs_verify) and kept up by commits. */
typedef struct evs_state {
  evs_index idx;
  uint64_t npending, nacked;
  uint64_t payload_bytes, payload_stored; /* as appended / as stored */
  int64_t last_created;                   /* newest created_us */
} evs_state;

static inline evs_ent *evs_ent_at(const evs_index *x, uint64_t rel) {
  return &x->chunks[rel >> ENT_CHUNK_BITS][rel & (ENT_CHUNK - 1)];
}

/* ---- Transactions ------------------------------------------------------ */
#define OV_ACK 1 /* bits: an event acked then deleted in one txn has both */
#define OV_DEL 2

typedef struct evs_idem_undo {
  uint64_t hash;
  uint32_t rel, old;
} evs_idem_undo;

typedef struct evs_ov {
  uint64_t id; /* 0 = empty */
  int64_t acked_us;
  int op;
} evs_ov;

/* The state of a transaction at a savepoint. */
typedef struct evs_mark {
  uint64_t bytes; /* flushed + len */
  uint32_t nrec;
  uint64_t n;
  size_t nidem, novlog;
  uint64_t payload_bytes, payload_stored;
  int64_t last_created;
} evs_mark;

struct evs_txn {
  evs_store *s;
  int internal; /* begun by an autocommit call */
  uint8_t *buf; /* records not yet written */
  size_t len, cap;
  uint64_t start;   /* segment offset where the transaction's records begin */
  uint64_t flushed; /* bytes of them already written */
  int dirty;        /* a write was attempted: rollback truncates */
  int failed;       /* a write failed: commit refuses */
  uint32_t nrec;
  uint64_t n0;      /* index size at begin */
  evs_ov *ov;       /* acks and deletes, applied at commit */
  size_t ov_mask, ov_used;
  evs_ov *ovlog;    /* every overlay change in order, for savepoints */
  size_t novlog, ovlog_cap;
  evs_mark *marks;  /* savepoint n at marks[n] */
  int nmarks;
  size_t marks_cap;
  uint64_t stamp;
  evs_idem_undo *idem_undo; /* keys added, to undo on rollback */
  size_t nidem, idem_cap;
  evs_plist **touched; /* lists appended to */
  size_t ntouched, touched_cap;
  uint64_t payload_bytes, payload_stored;
  int64_t last_created;
};

/* A validated event ready to encode (compression already done). */
typedef struct evs_prep {
  const char *src, *typ, *payload, *meta, *idem;
  size_t srclen, typlen, plen, mlen, ilen;
  int prio;
  uint8_t *z; /* compressed payload (owned) or NULL */
  size_t zlen;
} evs_prep;

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

static inline uint64_t evs_lsn(uint64_t segno, uint64_t off) {
  return (segno << 32) | off;
}

/* index.c */
int evs_index_init(evs_index *x);
void evs_index_free(evs_index *x);
size_t evs_index_bytes(const evs_index *x);
/* Add an entry for id base+n; src/typ lists get it too. */
int evs_index_add(evs_index *x, const evs_ent *e, const char *src,
                  size_t srclen, const char *typ, size_t typlen,
                  evs_plist **touched_src, evs_plist **touched_typ);
/* Drop whole chunks of holes at the front of the index, below rel limit:
** base moves up, every rel moves down. Returns how many entries went
** (a multiple of the chunk size; 0 if none). Nothing may hold rels across
** it (caller holds the writer and ilock exclusively). */
uint64_t evs_index_rebase(evs_index *x, uint64_t limit);
/* Make the next id at least `next`: an empty index moves its base, a
** non-empty one gets holes (entries of ids whose events are gone). */
int evs_index_extend(evs_index *x, uint64_t next);
/* Append rels (increasing) to the list of a source (types 0) or an event
** type (types 1), creating the name: loading a checkpoint. */
int evs_index_list_load(evs_index *x, int types, const char *s, size_t len,
                        const uint32_t *rels, size_t n);
evs_name *evs_names_find(const evs_names *t, const char *s, size_t len);
/* Drop entries rel >= n0 (a rolled-back transaction). */
void evs_index_truncate(evs_index *x, uint64_t n0, evs_plist **lists,
                        size_t nlists);
/* Remove dead positions from every list when they outnumber the live. */
void evs_index_maybe_sweep(evs_index *x, uint64_t npending);
/* First rel >= lo whose created_us is > t (strict) or >= t. */
uint64_t evs_index_time_bound(const evs_index *x, uint64_t lo, uint64_t hi,
                              int64_t t, int strict);

/* Idempotency table; `match(rel)` tells whether the event at rel has the
** key (the table keeps only 32 hash bits). */
typedef int (*evs_idem_match)(void *ctx, uint32_t rel);
int evs_idem_find(const evs_index *x, uint64_t h, evs_idem_match m, void *ctx,
                  uint32_t *rel);
/* Insert, or repoint an existing slot for the same key (an expired key now
** naming a newer event); *old gets the previous rel or UINT32_MAX. */
int evs_idem_put(evs_index *x, uint64_t h, uint32_t rel, evs_idem_match m,
                 void *ctx, uint32_t *old);
void evs_idem_del(evs_index *x, uint64_t h, uint32_t rel);
void evs_idem_repoint(evs_index *x, uint64_t h, uint32_t from, uint32_t to);
/* Is there a slot with exactly this tag and rel? (verification) */
int evs_idem_has(const evs_index *x, uint32_t tag, uint32_t rel);

/* Does the event at rel carry this idempotency key? (an evs_idem_match) */
typedef struct evs_keyctx {
  const evs_store *s;
  const evs_txn *t;
  const evs_index *x; /* whose entries the rels are */
  const char *key;
  size_t len;
} evs_keyctx;
int evs_key_match(void *ctx, uint32_t rel);

/* log.c */
int evs_log_open(evs_store *s);
/* Write the manifest for segs[0..n) (the last one open), generation + 1,
** with the given layout number. *in_effect (may be NULL) is 1 when the
** new manifest replaced the old one, also when an error is returned (its
** directory sync failed; the next log sync retries it). */
int evs_manifest_write(evs_store *s, evs_seg *const *segs, size_t n, uint64_t layout,
                       int *in_effect);
/* Read a whole small file of the store's directory; *buf malloc'ed.
** Returns 0, or -errno (-ENOENT when missing; -EISDIR or -EINVAL when it
** is not a regular file). */
int evs_read_file(evs_store *s, const char *name, uint8_t **buf, size_t *n);
void evs_log_close(evs_store *s);
/* Pointer to the record at (slot, off): from the transaction's buffer when
** it is not written yet, else from the segment mapping. */
const uint8_t *evs_rec_ptr(const evs_store *s, const evs_txn *t, uint16_t slot,
                           uint32_t off);
/* Bytes readable from that record on (to bound a damaged length). */
size_t evs_rec_avail(const evs_store *s, const evs_txn *t, uint16_t slot, uint32_t off);
int evs_log_roll_if_full(evs_store *s);
int evs_log_reserve(evs_store *s, evs_seg *g, uint64_t need);
/* Write bytes of the current segment at off (file or memory). */
int evs_log_write(evs_store *s, const void *p, size_t n, uint64_t off);
int evs_log_truncate(evs_store *s, uint64_t off);
int evs_log_sync_upto(evs_store *s, uint64_t lsn);
/* Make every commit written so far durable (no-op in memory or read-only). */
int evs_log_sync_all(evs_store *s);
/* Check records of g from `from` up to fsize: *end is the end of the last
** commit, *valid_after whole records after it, *scan_end where checking
** stopped. */
void evs_log_scan(const evs_seg *g, uint64_t from, uint64_t fsize, uint64_t *end,
                  uint64_t *valid_after, uint64_t *scan_end);
/* Whole records that check out after a bad one at `from` (found by trying
** every offset): 0 for a torn tail; more means damage, not a tear. */
uint64_t evs_count_beyond(const evs_seg *g, uint64_t from, uint64_t fsize);
/* The index side of an ack / a delete (flags, pending set, counters,
** the deleted event's key), shared by commit and replay so both build
** the same index. Caller holds ilock exclusively (or is alone). */
void evs_mark_acked(evs_state *st, uint64_t rel, evs_ent *e, int64_t at);
/* s: the segments the entry's record is read from. */
void evs_mark_deleted(const evs_store *s, evs_state *st, uint64_t rel, evs_ent *e);
/* Apply the records of g in [from, end) (already checked) to s's index. */
int evs_log_replay(const evs_store *s, evs_state *st, const evs_seg *g, uint64_t from,
                   uint64_t end,
                   const char *path);

/* compact.c */
typedef struct evs_epochs evs_epochs;
typedef struct evs_epoch {
  uint64_t id;
  size_t refs;            /* pages filled in this epoch still alive */
  evs_seg *retired;       /* retired when this epoch ended */
  struct evs_epoch *next;
  evs_epochs *dom;
} evs_epoch;
/* A page about to point into the mappings takes a reference on the
** current epoch; it drops it when reused or freed. */
evs_epoch *evs_epoch_enter(evs_store *s);
void evs_epoch_leave(evs_epoch *e);
int evs_epochs_init(evs_store *s);
void evs_epochs_free(evs_store *s); /* at close: frees retired segments */
/* g is out of the index: free it once no page older than now is alive. */
int evs_seg_retire(evs_store *s, evs_seg *g);
/* Estimated dead bytes of the sealed segments and the log's size. */
void evs_compact_estimate(evs_store *s, uint64_t *dead, uint64_t *total);

/* maint.c: work for the background thread (bits). */
#define EVS_BG_CKPT 1
#define EVS_BG_COMPACT 2
#define EVS_BG_DICT 4
void evs_maint_kick(evs_store *s, int work);
/* Tell the layer above that maintenance is wanted (the notify hook). */
static inline void evs_notify(evs_store *s, int work) {
  if (s->notify) s->notify(s, work);
}
void evs_maint_stop(evs_store *s);

/* log.c, for compaction */
void evs_seg_free(evs_store *s, evs_seg *g);
int evs_seg_create(evs_store *s, uint64_t no, uint64_t first_id, uint64_t flags,
                   evs_seg **out);
/* Put g in its slot (growing the table) and at the end of the list. */
int evs_seg_add(evs_store *s, evs_seg *g);
/* What vouches for the log of g before off: the checksum of the commit
** record ending there (or of the header); and whether that record is
** really there. */
uint64_t evs_seg_mark(const evs_seg *g, uint64_t off);
int evs_seg_mark_intact(const evs_seg *g, uint64_t off);
/* File paths are "dir/name" in char[EVS_PATH_BUF] buffers (io.h), names
** at most 60 bytes ("0123456789abcdef.evlog", "evstore.checkpoint.tmp",
** "repair-20261203T105700Z-99/0123456789abcdef.evlog"): open and
** evs_repair refuse a longer directory name, so no path is cut short. */
#define EVS_DIR_MAX (EVS_PATH_BUF - 64)
void evs_seg_path(const evs_store *s, uint64_t no, char *out, size_t cap);
/* The number for a new segment (caller holds the writer): the next one
** whose slot holds no live segment and is not held by compaction, or
** whose slot is `reuse`'s (a segment the new one replaces; may be NULL:
** then EVS_ETOOBIG, without a message, when every slot is live). */
int evs_segno_take(evs_store *s, const evs_seg *reuse, uint64_t *no);
/* Grow the slot table to hold slot (caller holds ilock exclusively or is
** alone). 0 or EVS_ENOMEM with a message. */
int evs_slot_reserve(evs_store *s, size_t slot);

/* checkpoint.c */
/* At open, with every listed segment mapped: is there a checkpoint that
** matches the log? Sets s->ckpt_state; when LOADED, *seg / *off is where
** the log after it begins. Only out-of-memory is an error. */
int evs_checkpoint_find(evs_store *s, size_t *seg, uint64_t *off);
/* Fill the (empty) index from the checkpoint evs_checkpoint_find accepted. */
int evs_checkpoint_load(evs_store *s);
/* Write a checkpoint of the committed index (waits for the writer; with
** nowait, as at close where nobody else can hold it, takes it without
** waiting so no lock order is implied with the caller's own locks). */
int evs_checkpoint_write(evs_store *s);
int evs_checkpoint_write_nowait(evs_store *s);
uint64_t evs_log_disk_bytes(const evs_store *s);

/* compress.c */
/* Compress src into dst (cap bytes); returns the compressed size, or 0
** when compression does not save at least 1/8. */
size_t evs_zstd_compress(evs_store *s, const ZSTD_CDict *cd, const void *src, size_t n,
                         void *dst, size_t cap);
/* Decompress exactly raw bytes (with the store's dictionary if the frame
** names one). 0, EVS_ECORRUPT with the reason in why, or EVS_ENOMEM. */
int evs_zstd_decompress(evs_store *s, void *dst, size_t raw, const void *src,
                        size_t n, char *why, size_t whycap);
void evs_zstd_pools_free(evs_store *s);

/* segment.c: decode the committed (or t's) record of entry e; payload as
** stored. EVS_ECORRUPT (with a message) if it is damaged. */
int evs_read_rec(const evs_store *s, const evs_txn *t, const evs_ent *e, evs_event *ev,
                 int *zstd, uint32_t *raw);

/* dict.c */
/* Smaller payloads are not worth a frame even with the dictionary. */
#define EVS_DICT_MIN 64
/* At open, before the log: load evstore.dict if there is one (a damaged
** one leaves the store usable, state EVS_DICT_CORRUPT). */
int evs_dict_open(evs_store *s);
/* At open, after the log: arm (or start) training if one is wanted. */
void evs_dict_arm(evs_store *s);
void evs_dict_free(evs_store *s);
/* A commit of n events (while dict_collect): count down to training. */
static inline void evs_dict_count(evs_store *s, uint64_t n) {
  if (__atomic_sub_fetch(&s->dict_countdown, (int64_t)n, __ATOMIC_RELAXED) <= 0 &&
      __atomic_exchange_n(&s->dict_collect, 0, __ATOMIC_RELAXED))
    evs_notify(s, EVS_BG_DICT);
}
/* Maintenance thread: sample the log, train, write the file, publish. */
int evs_dict_train(evs_store *s);

/* worker.c: tasks of a batch run on the calling thread and, when it is
** free, the store's worker thread (started on first use). */
typedef void (*evs_task_fn)(void *ctx, size_t k);
typedef struct evs_share {
  evs_task_fn fn; /* run task k; safe on two threads for two k */
  void *ctx;
  size_t m;       /* tasks */
  size_t bytes;   /* the batch's size, to compare batch times by */
  evs_worker *w;  /* set by evs_share_start when the worker takes part */
  uint8_t *state; /* the worker's: one per task */
  evs_worker *timed; /* whose averages the batch's time goes to, or NULL */
  int cpu, arm;
  int64_t t0;
} evs_share;
/* Offer the tasks to the worker if it is free and sharing has paid off
** lately (batches are timed from here to evs_share_finish). Whether or not
** the worker takes part, the caller then runs every task it needs with
** evs_share_run, waiting with evs_share_wait for those the worker has, and
** ends with evs_share_finish. */
void evs_share_start(evs_store *s, evs_share *sh);
/* Run task k here unless the worker has it or it is done: 1 if it ran
** here. Without the worker, always runs it: call it once per task. */
int evs_share_run(evs_share *sh, size_t k);
/* Is task k done? (Only with the worker.) */
int evs_share_done(const evs_share *sh, size_t k);
/* Return when task k is done (at once without the worker). */
void evs_share_wait(evs_share *sh, size_t k);
/* With the worker: run or wait for every task left, and take the tasks
** back, after which the worker touches nothing of the caller's. */
void evs_share_finish(evs_share *sh);
/* Join and free the worker, if it was started. The store must be idle. */
void evs_worker_stop(evs_store *s);

/* prep.c: validate ev into p (pointers into ev; nothing allocated). */
int evs_prep_check(evs_store *s, const evs_event_in *ev, evs_prep *p);
/* Compress a payload if it pays (malloc'ed, *zlen set), else NULL; *nomem
** tells an allocation failure from "not worth it". */
uint8_t *evs_prep_compress(evs_store *s, const char *payload, size_t plen, size_t *zlen,
                           int *nomem);
/* evs_prep_check then evs_prep_compress. */
int evs_prep_event(evs_store *s, const evs_event_in *ev, evs_prep *p);
void evs_prep_free(evs_prep *p);

/* txn.c */
int evs_txn_begin_internal(evs_store *s, evs_txn **out, int internal);
/* The transaction a writing call works in: txn (checked), or a new
** autocommit one (s NULL: EVS_EINVAL). */
int evs_txn_use(evs_store *s, evs_txn *txn, evs_txn **t);
/* End a call's work in t: an autocommit transaction commits when rc is 0
** and rolls back otherwise (keeping the call's message); a caller's
** transaction is left open. Returns the call's result. */
int evs_txn_end_call(evs_txn *t, int rc);
/* Room for n more bytes in t's record buffer (writing big transactions
** out in pieces). */
int evs_txn_reserve(evs_txn *t, size_t n);
/* Record an ack (OV_ACK, at) or a delete (OV_DEL) of id in t's overlay. */
int evs_ov_put(evs_txn *t, uint64_t id, int op, int64_t at);
void evs_txn_free(evs_txn *t);
/* Is t (not NULL) the open transaction of s? 0 or EVS_EMISUSE. */
int evs_txn_check(const evs_store *s, const evs_txn *t);
/* Savepoint levels are 0..EVS_SAVEPOINT_MAX. */
#define EVS_SAVEPOINT_MAX 1000000
evs_ov *evs_ov_find(const evs_txn *t, uint64_t id);

/* query.c: the state of an entry as the given transaction sees it. */
int evs_visible(const evs_store *s, const evs_txn *t, uint64_t id,
                evs_ent *out, int64_t *acked_us);

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
