/*
** segment.c: segment files and records in them. Creating, mapping and
** growing a segment, the slot table that finds a segment by number, record
** pointers and bounds, the checksum scan of a segment, and the epochs that say when a segment compaction replaced
** may be unmapped (pages still pointing into it).
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
#include "segment.h"
#include "store.h"
#include "util.h"

#define MIN_MAP (1u << 20)

void evs_seg_path(const evs_store *s, uint64_t no, char *out, size_t cap) {
  char name[EVS_SEG_NAME_SIZE];
  evs_seg_name(no, name);
  snprintf(out, cap, "%s/%s", s->dir, name);
}

static size_t page_round(uint64_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  return (size_t)((n + pg - 1) / pg * pg);
}

static void *map_region(const evs_seg *g, size_t len) {
  void *p = g->fd >= 0
                ? mmap(NULL, len, PROT_READ, MAP_SHARED, g->fd, 0)
                : mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Make the mapping of g cover `need` bytes. The old mapping stays alive
** (pages and events may point into it) until the store closes. Callers
** hold ilock exclusively or are alone (open). */
int evs_log_reserve(evs_store *s, evs_seg *g, uint64_t need) {
  if (need <= g->map_len) return 0;
  if (need > UINT32_MAX)
    return evs_err(s, EVS_ETOOBIG, "segment %" PRIu64 " would exceed 4 GiB",
                   g->no);
  uint64_t want = EVS_MAX((uint64_t)g->map_len * 2, need + need / 2);
  want = EVS_MAX(want, (uint64_t)EVS_MAX(MIN_MAP, 2 * (uint64_t)s->opt.segment_size));
  size_t len = page_round(EVS_MIN(want, (uint64_t)UINT32_MAX + 1));
  uint8_t *p = map_region(g, len);
  if (!p)
    return evs_err(s, EVS_ENOMEM, "cannot map %zu bytes of segment %" PRIu64,
                   len, g->no);
  if (g->base) {
    evs_oldmap *o = malloc(sizeof *o);
    if (!o) {
      munmap(p, len);
      return evs_err(s, EVS_ENOMEM, "out of memory");
    }
    if (g->fd < 0) memcpy(p, g->base, g->map_len);
    o->base = g->base;
    o->len = g->map_len;
    o->next = g->old;
    g->old = o;
  }
  g->base = p;
  g->map_len = len;
  return 0;
}

void evs_seg_free(evs_store *s, evs_seg *g) {
  if (!g) return;
  if (g->base) munmap(g->base, g->map_len);
  for (evs_oldmap *o = g->old, *n; o; o = n) {
    n = o->next;
    munmap(o->base, o->len);
    free(o);
  }
  if (g->fd >= 0) s->io->close(s->io->ctx, g->fd);
  free(g);
}

int evs_slot_reserve(evs_store *s, size_t slot) {
  if (slot < s->nslots) return 0;
  size_t n = s->nslots ? s->nslots : 16;
  while (n <= slot) n *= 2;
  evs_seg **ns = realloc(s->slots, n * sizeof *ns);
  if (!ns) return evs_err(s, EVS_ENOMEM, "out of memory");
  memset(ns + s->nslots, 0, (n - s->nslots) * sizeof *ns);
  s->slots = ns;
  s->nslots = n;
  return 0;
}

int evs_segno_take(evs_store *s, const evs_seg *reuse, uint64_t *out) {
  uint64_t held = __atomic_load_n(&s->segno_held, __ATOMIC_RELAXED);
  for (uint64_t no = s->next_segno, k = 0; k < EVS_SLOTS; no++, k++) {
    size_t slot = no % EVS_SLOTS;
    const evs_seg *g = slot < s->nslots ? s->slots[slot] : NULL;
    if (g ? g != reuse : held && held % EVS_SLOTS == slot) continue;
    s->next_segno = no + 1;
    *out = no;
    return 0;
  }
  return EVS_ETOOBIG;
}

int evs_seg_add(evs_store *s, evs_seg *g) {
  if (evs_grow((void **)&s->segs, &s->segs_cap, s->nsegs + 1, sizeof g))
    return evs_err(s, EVS_ENOMEM, "out of memory");
  size_t slot = g->no % EVS_SLOTS;
  int rc = evs_slot_reserve(s, slot);
  if (rc) return rc;
  if (s->slots[slot])
    return evs_err(s, EVS_ECORRUPT, "more than %d live segments", EVS_SLOTS);
  s->segs[s->nsegs++] = g;
  s->slots[g->no % EVS_SLOTS] = g;
  return 0;
}

/* Create segment `no` with its header, durable before it is used. */
int evs_seg_create(evs_store *s, uint64_t no, uint64_t first_id, uint64_t flags,
                   evs_seg **out) {
  evs_seg *g = calloc(1, sizeof *g);
  if (!g) return evs_err(s, EVS_ENOMEM, "out of memory");
  g->no = no;
  g->fd = -1;
  g->first_id = first_id;
  g->flags = flags;
  g->checked = 1; /* every record in it is written by this process */
  uint8_t hdr[EVS_SEG_HDR];
  evs_seghdr_encode(no, s->meta.store_id, evs_now(s), first_id, flags, hdr);
  int rc;
  if (s->dir) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, no, path, sizeof path);
    int fd = s->io->open(s->io->ctx, path, O_RDWR | O_CREAT | O_EXCL, s->fmode);
    if (fd < 0) {
      free(g);
      return evs_err_io(s, -fd, "cannot create segment", path);
    }
    g->fd = fd;
    /* Synced in every mode (once per segment): the manifest will name it,
    ** and what the manifest names must exist after a power loss. */
    int e = evs_io_write_all(s->io, fd, hdr, sizeof hdr, 0);
    if (!e) e = s->io->fdatasync(s->io->ctx, fd);
    if (!e) e = evs_io_sync_dir(s->io, s->dir);
    if (e) {
      rc = evs_err_io(s, -e, "cannot write segment", path);
      s->io->unlink(s->io->ctx, path);
      evs_seg_free(s, g);
      return rc;
    }
  }
  if ((rc = evs_log_reserve(s, g, EVS_SEG_HDR))) {
    evs_seg_free(s, g);
    return rc;
  }
  if (g->fd < 0) memcpy(g->base, hdr, sizeof hdr);
  g->size = EVS_SEG_HDR;
  *out = g;
  return 0;
}

const uint8_t *evs_rec_ptr(const evs_store *s, const evs_txn *txn, uint16_t slot,
                           uint32_t off) {
  const evs_unwritten *t = (const evs_unwritten *)txn;
  const evs_seg *g = s->slots[slot];
  if (t && g == s->cur && off >= t->start + t->flushed)
    return t->buf + (off - t->start - t->flushed);
  return g->base + off;
}

size_t evs_rec_avail(const evs_store *s, const evs_txn *txn, uint16_t slot, uint32_t off) {
  const evs_unwritten *t = (const evs_unwritten *)txn;
  const evs_seg *g = s->slots[slot];
  if (t && g == s->cur) {
    uint64_t fl = t->start + t->flushed;
    if (off >= fl) return t->len - (off - fl);
    if (off >= t->start) return fl - off;
  }
  return off < g->size ? g->size - off : 0;
}

int evs_seg_grow_to_file(evs_store *s, evs_seg *g) {
  uint64_t fsize;
  int e = s->io->fsize(s->io->ctx, g->fd, &fsize);
  if (e) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, g->no, path, sizeof path);
    return evs_err_io(s, -e, "cannot stat", path);
  }
  if (fsize <= g->size) return 0;
  if (fsize > UINT32_MAX) fsize = UINT32_MAX;
  int rc = evs_log_reserve(s, g, fsize);
  if (!rc) g->size = fsize;
  return rc;
}

/* Scan p[0..len): checksums and commit boundaries, offsets relative to p. */
static void scan_bytes(const uint8_t *p, uint64_t len, uint64_t *end, uint64_t *valid_after,
                       uint64_t *scan_end) {
  uint64_t pos = 0, n = 0;
  *end = 0;
  for (;;) {
    uint32_t rl;
    uint8_t type;
    if (evs_rec_check(p + pos, len - pos, &rl, &type) != 1) break;
    pos += rl;
    n++;
    if (type == EVS_REC_COMMIT) {
      *end = pos;
      n = 0;
    }
  }
  *valid_after = n;
  *scan_end = pos;
}

static uint64_t beyond_bytes(const uint8_t *p, uint64_t from, uint64_t len) {
  uint64_t n = 0;
  uint32_t rl;
  for (uint64_t pos = evs_rec_next(p, from + 1, len, &rl); pos < len;
       pos = evs_rec_next(p, pos + rl, len, &rl))
    n++;
  return n;
}

void evs_log_scan(const evs_seg *g, uint64_t from, uint64_t fsize, uint64_t *end,
                  uint64_t *valid_after, uint64_t *scan_end) {
  scan_bytes(g->base + from, fsize - from, end, valid_after, scan_end);
  *end += from;
  *scan_end += from;
}

uint64_t evs_count_beyond(const evs_seg *g, uint64_t from, uint64_t fsize) {
  return beyond_bytes(g->base, from, fsize);
}

int evs_seg_scan_copy(evs_store *s, const evs_seg *g, uint64_t from, uint64_t *fsize,
                      uint64_t *end, uint64_t *valid_after, uint64_t *scan_end,
                      uint64_t *beyond) {
  uint64_t want = *fsize - from, got = 0;
  uint8_t *b = malloc(want ? want : 1);
  if (!b) return evs_err(s, EVS_ENOMEM, "out of memory reading segment %" PRIu64, g->no);
  while (got < want) {
    ssize_t r = s->io->pread(s->io->ctx, g->fd, b + got, want - got, (off_t)(from + got));
    if (r == -EINTR) continue;
    if (r < 0) {
      free(b);
      char path[EVS_PATH_BUF];
      evs_seg_path(s, g->no, path, sizeof path);
      return evs_err_io(s, (int)-r, "cannot read", path);
    }
    if (r == 0) break; /* cut short since the size was taken */
    got += (uint64_t)r;
  }
  *fsize = from + got;
  scan_bytes(b, got, end, valid_after, scan_end);
  *beyond = *scan_end < got ? beyond_bytes(b, *scan_end, got) : 0;
  *end += from;
  *scan_end += from;
  free(b);
  return 0;
}

/* What vouches for the log before (segment, off): the checksum of the
** commit record ending there, or of the segment header when nothing
** precedes. */
uint64_t evs_seg_mark(const evs_seg *g, uint64_t off) {
  if (off < EVS_SEG_HDR + EVS_COMMIT_LEN) return evs_seghdr_sum(g->base);
  return evs_rec_sum(g->base + off - EVS_COMMIT_LEN);
}

/* Is the mark at off still a whole commit record (checksum and type)? */
int evs_seg_mark_intact(const evs_seg *g, uint64_t off) {
  if (off < EVS_SEG_HDR + EVS_COMMIT_LEN) return off == EVS_SEG_HDR;
  uint32_t len;
  uint8_t type;
  return evs_rec_check(g->base + off - EVS_COMMIT_LEN, EVS_COMMIT_LEN, &len, &type) == 1 &&
         type == EVS_REC_COMMIT;
}

/* ---- Epochs: when may a retired mapping go? ----------------------------- */

/* The epoch list outlives the store while pages still hold a reference
** (freeing a page after closing its store is then harmless). */
struct evs_epochs {
  pthread_mutex_t mu;
  evs_store *s;           /* NULL once the store closed */
  evs_epoch *head, *cur;  /* oldest first */
  size_t refs;            /* page references over all epochs */
};

int evs_epochs_init(evs_store *s) {
  evs_epochs *d = calloc(1, sizeof *d);
  evs_epoch *e = calloc(1, sizeof *e);
  if (!d || !e) {
    free(d);
    free(e);
    return EVS_ENOMEM;
  }
  pthread_mutex_init(&d->mu, NULL);
  d->s = s;
  d->head = d->cur = e;
  e->dom = d;
  s->epochs = d;
  return 0;
}

static void free_retired(evs_store *s, evs_seg *g) {
  while (g) {
    evs_seg *n = g->next_retired;
    evs_seg_free(s, g);
    g = n;
  }
}

static void free_epochs(evs_epochs *d) {
  for (evs_epoch *e = d->head, *n; e; e = n) {
    n = e->next;
    free(e);
  }
  pthread_mutex_destroy(&d->mu);
  free(d);
}

/* Free the segments of epochs no page can still point into. Holds mu. */
static void reap(evs_epochs *d) {
  while (d->head != d->cur && !d->head->refs) {
    evs_epoch *e = d->head;
    d->head = e->next;
    free_retired(d->s, e->retired);
    free(e);
  }
}

evs_epoch *evs_epoch_enter(evs_store *s) {
  evs_epochs *d = s->epochs;
  pthread_mutex_lock(&d->mu);
  evs_epoch *e = d->cur;
  e->refs++;
  d->refs++;
  pthread_mutex_unlock(&d->mu);
  return e;
}

void evs_epoch_leave(evs_epoch *e) {
  if (!e) return;
  evs_epochs *d = e->dom;
  pthread_mutex_lock(&d->mu);
  e->refs--;
  d->refs--;
  if (!d->s) { /* the store is gone: the last page frees the list */
    int last = !d->refs;
    pthread_mutex_unlock(&d->mu);
    if (last) free_epochs(d);
    return;
  }
  reap(d);
  pthread_mutex_unlock(&d->mu);
}

/* g is out of the index: free it once older pages are gone. */
int evs_segs_retire(evs_store *s, evs_seg *const *segs, size_t n) {
  if (!n) return 0;
  evs_epochs *d = s->epochs;
  evs_epoch *e = calloc(1, sizeof *e);
  if (!e) return EVS_ENOMEM;
  pthread_mutex_lock(&d->mu);
  for (size_t i = 0; i < n; i++) {
    segs[i]->next_retired = d->cur->retired;
    d->cur->retired = segs[i];
  }
  e->id = d->cur->id + 1;
  e->dom = d;
  d->cur->next = e;
  d->cur = e;
  reap(d);
  pthread_mutex_unlock(&d->mu);
  return 0;
}

int evs_seg_retire(evs_store *s, evs_seg *g) {
  return evs_segs_retire(s, &g, 1);
}

void evs_epochs_free(evs_store *s) {
  evs_epochs *d = s->epochs;
  pthread_mutex_lock(&d->mu);
  for (evs_epoch *e = d->head; e; e = e->next) {
    free_retired(s, e->retired);
    e->retired = NULL;
  }
  d->s = NULL;
  int unused = !d->refs;
  pthread_mutex_unlock(&d->mu);
  if (unused) free_epochs(d);
  s->epochs = NULL;
}

