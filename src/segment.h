/*
** segment.h: segment files and the records in them (segment.c): the segment
** table, record pointers, the checksum scan, epochs for unmapping.
*/
#ifndef EVS_SEGMENT_H
#define EVS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "codec.h"
#include "io.h"

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

/* The records of the open transaction not yet written to the current
** segment's file: reads of them come from this buffer. An evs_txn begins
** with its evs_unwritten (txn.h), so record reads that take a transaction
** see its own writes without this layer knowing transactions. */
typedef struct evs_unwritten {
  uint8_t *buf;     /* records not yet written */
  size_t len;       /* bytes in buf */
  uint64_t start;   /* segment offset where the transaction's records begin */
  uint64_t flushed; /* bytes of them already written to the file */
} evs_unwritten;

/* Segments alive at once: each is found by slot = no % EVS_SLOTS (index
** entries and the checkpoint hold the slot in 16 bits). New numbers skip
** slots in use (evs_segno_take), so only the live count is bounded, never
** how many segments ever existed; with every slot live the newest segment
** grows instead. A test build sets a smaller value. */
#ifndef EVS_SLOTS
#define EVS_SLOTS 65536
#endif
_Static_assert(EVS_SLOTS >= 2 && EVS_SLOTS <= 65536, "evs_ent.slot is 16 bits");

int evs_log_reserve(evs_store *s, evs_seg *g, uint64_t need);
/* Pointer to the record at (slot, off): from the transaction's buffer when
** it is not written yet, else from the segment mapping. */
const uint8_t *evs_rec_ptr(const evs_store *s, const evs_txn *t, uint16_t slot,
                           uint32_t off);
/* Bytes readable from that record on (to bound a damaged length). */
size_t evs_rec_avail(const evs_store *s, const evs_txn *t, uint16_t slot, uint32_t off);
/* Check records of g from `from` up to fsize: *end is the end of the last
** commit, *valid_after whole records after it, *scan_end where checking
** stopped. */
void evs_log_scan(const evs_seg *g, uint64_t from, uint64_t fsize, uint64_t *end,
                  uint64_t *valid_after, uint64_t *scan_end);
/* Whole records that check out after a bad one at `from` (found by trying
** every offset): 0 for a torn tail; more means damage, not a tear. */
uint64_t evs_count_beyond(const evs_seg *g, uint64_t from, uint64_t fsize);
/* evs_log_scan and evs_count_beyond (*beyond, from *scan_end) for a
** read_only handle, over a copy of [from, *fsize) read with pread rather
** than through the mapping: bytes past the last commit are the writer's,
** who may truncate them (an undo, the cut of a torn tail at its open)
** while they are read, and a mapped page past the end of a file faults
** (SIGBUS) where pread only returns less. *fsize becomes what was read. */
/* A reader opening a live store: take the size of g's file as it is now
** (it only grows while open; records past the last commit are judged by the
** scan). Callers are alone with g. */
int evs_seg_grow_to_file(evs_store *s, evs_seg *g);
int evs_seg_scan_copy(evs_store *s, const evs_seg *g, uint64_t from, uint64_t *fsize,
                      uint64_t *end, uint64_t *valid_after, uint64_t *scan_end,
                      uint64_t *beyond);
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
/* The same for n segments at once (a reader's reload): EVS_ENOMEM and
** nothing retired, or all of them. */
int evs_segs_retire(evs_store *s, evs_seg *const *segs, size_t n);


#endif
