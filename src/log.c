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

static int seg_add(evs_store *s, evs_seg *g) {
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

const uint8_t *evs_rec_ptr(const evs_store *s, const evs_txn *t, uint16_t slot,
                           uint32_t off) {
  const evs_seg *g = s->slots[slot];
  if (t && g == s->cur && off >= t->start + t->flushed)
    return t->buf + (off - t->start - t->flushed);
  return g->base + off;
}

size_t evs_rec_avail(const evs_store *s, const evs_txn *t, uint16_t slot, uint32_t off) {
  const evs_seg *g = s->slots[slot];
  if (t && g == s->cur) {
    uint64_t fl = t->start + t->flushed;
    if (off >= fl) return t->len - (off - fl);
    if (off >= t->start) return fl - off;
  }
  return off < g->size ? g->size - off : 0;
}

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
      s->broken = rc;
      snprintf(s->broken_why, sizeof s->broken_why, "%s", evs_errmsg(s));
    } else if (e) {
      /* After a failed fdatasync the kernel may have dropped the dirty
      ** pages: nothing written since the last good sync can be trusted. */
      char path[EVS_PATH_BUF];
      evs_seg_path(s, target >> 32, path, sizeof path);
      rc = evs_err_io(s, -e, "fdatasync of", path);
      s->broken = rc;
      snprintf(s->broken_why, sizeof s->broken_why, "%s", evs_errmsg(s));
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

int evs_log_roll_if_full(evs_store *s) {
  evs_seg *old = s->cur;
  if (old->size < s->opt.segment_size) return 0;
  uint64_t no;
  if (evs_segno_take(s, NULL, &no)) {
    /* Every slot holds a live segment: the current one grows past
    ** segment_size (up to the 4 GiB a record offset reaches) until
    ** compaction, which can always run, frees a slot. */
    if (s->opt.auto_compact_percent > 0) evs_maint_kick(s, EVS_BG_COMPACT);
    return 0;
  }
  /* A sealed segment is synced in every mode: recovery may then treat
  ** damage in it as corruption, not as a lost tail. */
  if (old->fd >= 0) {
    int rc = evs_log_sync_upto(s, evs_lsn(old->no, old->size));
    if (rc) return rc;
  }
  evs_seg *g;
  int rc = evs_seg_create(s, no, s->idx.base + s->idx.n, 0, &g);
  if (rc) return rc;
  pthread_rwlock_wrlock(&s->ilock);
  rc = seg_add(s, g);
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
  /* A segment was sealed: the background thread judges the garbage. */
  if (s->opt.auto_compact_percent > 0) evs_maint_kick(s, EVS_BG_COMPACT);
  return mrc;
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

int evs_key_match(void *ctx, uint32_t rel) {
  evs_keyctx *k = ctx;
  const evs_ent *e = evs_ent_at(&k->s->idx, rel);
  evs_event ev;
  int z;
  uint32_t raw;
  const uint8_t *r = evs_rec_ptr(k->s, k->t, e->slot, e->off);
  if (evs_ev_decode(r, get_u32(r + 8), &ev, &z, &raw)) return 0;
  return ev.idempotency_key_len == k->len &&
         !memcmp(ev.idempotency_key, k->key, k->len);
}

static int replay_event(evs_store *s, evs_seg *g, uint32_t off,
                        const uint8_t *r, uint32_t len) {
  evs_event ev;
  int z;
  uint32_t raw;
  if (evs_ev_decode(r, len, &ev, &z, &raw)) return -1;
  evs_index *x = &s->idx;
  /* Ids only grow; gaps are events compaction removed. */
  if (ev.id < x->base + x->n || ev.id >= s->id_limit || ev.id - x->base >= UINT32_MAX) return -1;
  if (evs_index_extend(x, ev.id)) return EVS_ENOMEM;
  evs_ent e = {ev.created_us, 0, off, (uint16_t)(g->no % EVS_SLOTS),
               (uint8_t)(ENT_LIVE | ev.priority | (ev.idempotency_key ? ENT_KEY : 0)), 0};
  evs_plist *a, *b;
  if (evs_index_add(x, &e, ev.source, ev.source_len, ev.event_type,
                    ev.event_type_len, &a, &b))
    return EVS_ENOMEM;
  if (ev.idempotency_key) {
    evs_keyctx k = {s, NULL, ev.idempotency_key, ev.idempotency_key_len};
    uint32_t old;
    if (evs_idem_put(x, XXH3_64bits(k.key, k.len), (uint32_t)(x->n - 1),
                     evs_key_match, &k, &old))
      return EVS_ENOMEM;
  }
  s->npending++;
  s->payload_bytes += raw;
  s->payload_stored += ev.payload_len;
  s->last_created = EVS_MAX(s->last_created, ev.created_us);
  return 0;
}

void evs_mark_acked(evs_store *s, uint64_t rel, evs_ent *e, int64_t at) {
  e->flags |= ENT_ACKED;
  e->acked_us = at;
  evs_bs_clear(&s->idx.pending, rel);
  s->npending--;
  s->nacked++;
}

void evs_mark_deleted(evs_store *s, uint64_t rel, evs_ent *e) {
  /* The key goes with the event (a later append may reuse it). */
  const uint8_t *r = evs_rec_ptr(s, NULL, e->slot, e->off);
  evs_event ev;
  int z;
  uint32_t raw;
  if (!evs_ev_decode(r, get_u32(r + 8), &ev, &z, &raw) && ev.idempotency_key)
    evs_idem_del(&s->idx, XXH3_64bits(ev.idempotency_key, ev.idempotency_key_len),
                 (uint32_t)rel);
  if (e->flags & ENT_ACKED)
    s->nacked--;
  else
    s->npending--;
  e->flags |= ENT_DELETED;
  evs_bs_clear(&s->idx.pending, rel);
}


static int replay_ids(evs_store *s, const uint8_t *r, uint32_t len, int type) {
  const uint8_t *ids;
  uint32_t cnt;
  if (evs_ids_decode(r, len, &ids, &cnt)) return -1;
  int64_t at = type == EVS_REC_ACK ? (int64_t)get_u64(r + EVS_REC_HDR) : 0;
  evs_index *x = &s->idx;
  for (uint32_t i = 0; i < cnt; i++) {
    uint64_t id = get_u64(ids + 8 * (size_t)i);
    if (id >= x->base + x->n) return -1; /* not appended yet */
    /* An event compaction removed after this record was written. */
    if (id < x->base) continue;
    uint64_t rel = id - x->base;
    evs_ent *e = evs_ent_at(x, rel);
    if (!(e->flags & ENT_LIVE)) continue;
    if (e->flags & ENT_DELETED) return -1;
    if (type == EVS_REC_ACK) {
      if (e->flags & ENT_ACKED) return -1;
      evs_mark_acked(s, rel, e, at);
    } else {
      evs_mark_deleted(s, rel, e);
    }
  }
  return 0;
}

/* Scan g: checksums and commit boundaries. *end is the end of the last
** commit; *valid_after counts whole records after it. */
void evs_log_scan(const evs_seg *g, uint64_t from, uint64_t fsize, uint64_t *end,
                  uint64_t *valid_after, uint64_t *scan_end) {
  uint64_t pos = from, n = 0;
  *end = from;
  for (;;) {
    uint32_t len;
    uint8_t type;
    if (evs_rec_check(g->base + pos, fsize - pos, &len, &type) != 1) break;
    pos += len;
    n++;
    if (type == EVS_REC_COMMIT) {
      *end = pos;
      n = 0;
    }
  }
  *valid_after = n;
  *scan_end = pos;
}

uint64_t evs_count_beyond(const evs_seg *g, uint64_t from, uint64_t fsize) {
  uint64_t n = 0;
  uint32_t len;
  for (uint64_t pos = evs_rec_next(g->base, from + 1, fsize, &len); pos < fsize;
       pos = evs_rec_next(g->base, pos + len, fsize, &len))
    n++;
  return n;
}

int evs_log_replay(evs_store *s, evs_seg *g, uint64_t from, uint64_t end,
                   const char *path) {
  uint64_t pos = from;
  uint32_t intx = 0;
  /* Ids of this segment lie below the next one's first id; in the last,
  ** below its first id plus the events it can hold. Damage that passes
  ** the checksums cannot make the index span more than that. */
  uint64_t limit = g->first_id + (g->size - EVS_SEG_HDR) / EVS_EV_FIXED + 1;
  for (size_t k = 0; k + 1 < s->nsegs; k++)
    if (s->segs[k] == g) limit = s->segs[k + 1]->first_id;
  s->id_limit = limit;
  /* Ids below the segment's first id belong to segments before it (some
  ** perhaps removed by compaction): records may name them, never more.
  ** Recovery always replays the last segment, so this is also what keeps
  ** ids from being reused when compaction removed every event. */
  if (evs_index_extend(&s->idx, g->first_id))
    return evs_err(s, EVS_ENOMEM, "out of memory replaying the log");
  s->open_replayed += end - from;
  while (pos < end) {
    uint32_t len;
    uint8_t type;
    /* evs_log_scan checked every record up to end: read, do not re-hash. */
    len = get_u32(g->base + pos + 8);
    type = g->base[pos + 12];
    const uint8_t *r = g->base + pos;
    int rc = 0;
    if (type == EVS_REC_EVENT)
      rc = replay_event(s, g, (uint32_t)pos, r, len);
    else if (type == EVS_REC_ACK || type == EVS_REC_DELETE)
      rc = replay_ids(s, r, len, type);
    else if (get_u32(r + EVS_REC_HDR + 8) != intx)
      rc = -1; /* commit: must count the records before it */
    if (type == EVS_REC_COMMIT)
      intx = 0;
    else
      intx++;
    if (rc == EVS_ENOMEM) return evs_err(s, rc, "out of memory replaying the log");
    if (rc)
      return evs_err(s, EVS_ECORRUPT,
                     "segment %s: record at offset %" PRIu64
                     " contradicts the log before it",
                     path, pos);
    pos += len;
  }
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Segment files present in the directory, sorted by number. */
static int list_segments(evs_store *s, uint64_t **nos, size_t *n) {
  DIR *d = opendir(s->dir);
  if (!d) return evs_err_io(s, errno, "cannot list", s->dir);
  size_t cap = 0;
  *nos = NULL;
  *n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *nm = e->d_name;
    if (strlen(nm) != 22 || strcmp(nm + 16, ".evlog")) continue;
    char *endp;
    uint64_t no = strtoull(nm, &endp, 16);
    if (endp != nm + 16 || no == 0) continue;
    if (evs_grow((void **)nos, &cap, *n + 1, sizeof **nos)) {
      closedir(d);
      free(*nos);
      *nos = NULL;
      return evs_err(s, EVS_ENOMEM, "out of memory");
    }
    (*nos)[(*n)++] = no;
  }
  closedir(d);
  if (*n) qsort(*nos, *n, sizeof **nos, cmp_u64);
  return 0;
}

/* Open and map one segment the manifest names and check its header and,
** if sealed, its size. Records are checked by recover(). */
static int open_segment(evs_store *s, uint64_t no, uint64_t sealed) {
  char path[EVS_PATH_BUF];
  evs_seg_path(s, no, path, sizeof path);
  evs_seg *g = calloc(1, sizeof *g);
  if (!g) return evs_err(s, EVS_ENOMEM, "out of memory");
  g->no = no;
  g->fd = s->io->open(s->io->ctx, path, (s->opt.read_only ? O_RDONLY : O_RDWR) | O_NONBLOCK, 0);
  uint64_t fsize = 0;
  int rc, e = g->fd < 0 ? g->fd : s->io->fsize(s->io->ctx, g->fd, &fsize);
  if (e == -ENOENT) {
    rc = evs_err(s, EVS_ECORRUPT, "segment %s is missing (the manifest lists it)", path);
    goto fail;
  }
  if (e == -EISDIR || e == -EINVAL) {
    rc = evs_err(s, EVS_ECORRUPT, "segment %s is not a regular file", path);
    goto fail;
  }
  if (e) {
    rc = evs_err_io(s, -e, "cannot open segment", path);
    goto fail;
  }
  if (fsize > UINT32_MAX) {
    rc = evs_err(s, EVS_ECORRUPT, "segment %s is larger than 4 GiB", path);
    goto fail;
  }
  if ((rc = evs_log_reserve(s, g, EVS_MAX(fsize, EVS_SEG_HDR)))) goto fail;
  uint64_t segno, sid;
  const char *why;
  if (evs_seghdr_decode(g->base, fsize, &segno, &sid, &g->first_id, &g->flags, &why)) {
    rc = evs_err(s, EVS_ECORRUPT, "segment %s: %s", path, why);
    goto fail;
  }
  if (segno != no || sid != s->meta.store_id) {
    rc = evs_err(s, EVS_ECORRUPT, "segment %s belongs to %s", path,
                 segno != no ? "another segment number" : "another store");
    goto fail;
  }
  if (sealed && fsize != sealed) {
    rc = evs_err(s, EVS_ECORRUPT,
                 "segment %s holds %" PRIu64 " bytes, but the manifest sealed it at %" PRIu64
                 " (truncated or damaged)",
                 path, fsize, sealed);
    goto fail;
  }
  g->size = fsize;
  if ((rc = seg_add(s, g))) goto fail;
  return 0;
fail:
  evs_seg_free(s, g);
  return rc;
}

/* Check the records of segs[i] from `from` on: a sealed segment must be
** whole; the last one loses its uncommitted or torn tail, and only that:
** a bad record followed by intact ones, or a log that ends before what a
** checkpoint recorded as durable, is damage, and is never cut. */
static int check_segment(evs_store *s, size_t i, uint64_t from) {
  evs_seg *g = s->segs[i];
  char path[EVS_PATH_BUF];
  evs_seg_path(s, g->no, path, sizeof path);
  uint64_t fsize = g->size, end, nafter, scan_end;
  evs_log_scan(g, from, fsize, &end, &nafter, &scan_end);
  g->checked = from == EVS_SEG_HDR; /* (a tail cut below keeps it whole) */
  if (end == fsize) return 0;
  if (i + 1 < s->nsegs)
    return evs_err(s, EVS_ECORRUPT,
                   "segment %s: damaged record at offset %" PRIu64
                   " in a sealed segment (%" PRIu64 " bytes unreadable); nothing was "
                   "changed (evs_repair drops the damaged transaction, keeping a copy)",
                   path, end, fsize - end);
  uint64_t beyond = scan_end < fsize ? evs_count_beyond(g, scan_end, fsize) : 0;
  if (beyond)
    return evs_err(s, EVS_ECORRUPT,
                   "segment %s: damaged record at offset %" PRIu64 " followed by %" PRIu64
                   " intact record%s: damage, not a torn write; nothing was changed "
                   "(evs_repair drops the damaged transaction, keeping a copy)",
                   path, scan_end, beyond, beyond == 1 ? "" : "s");
  if (g->no == s->vouch_segno && end < s->vouch_off)
    return evs_err(s, EVS_ECORRUPT,
                   "segment %s: the log's last commit ends at offset %" PRIu64
                   ", before offset %" PRIu64 " that evstore.checkpoint recorded as "
                   "durable: damaged at %" PRIu64 "; nothing was changed (evs_repair "
                   "drops the damaged transaction, keeping a copy)",
                   path, end, s->vouch_off, scan_end);
  s->rec_bytes_dropped += fsize - end;
  s->rec_records_dropped += nafter + (scan_end < fsize);
  g->size = end;
  /* A reader leaves the tail on disk: it is simply not part of the log. */
  if (s->opt.read_only) return 0;
  /* Synced in every mode: later writes must not land before a cut that a
  ** crash could undo (old tail bytes would then follow new records). */
  int e = s->io->ftruncate(s->io->ctx, g->fd, (off_t)end);
  if (!e) e = s->io->fdatasync(s->io->ctx, g->fd);
  if (e) return evs_err_io(s, -e, "cannot truncate torn tail of", path);
  return 0;
}

/* First ids never decrease, and the whole log spans fewer than 2^32 ids
** (the index's limit). Gaps between segments are legitimate (compaction
** removes segments), so they bound the index only to that. */
static int check_first_ids(evs_store *s) {
  for (size_t i = 1; i < s->nsegs; i++) {
    const evs_seg *a = s->segs[i - 1], *b = s->segs[i];
    if (b->first_id < a->first_id || b->first_id - s->segs[0]->first_id >= UINT32_MAX) {
      char path[EVS_PATH_BUF];
      evs_seg_path(s, b->no, path, sizeof path);
      return evs_err(s, EVS_ECORRUPT,
                     "segment %s starts at id %" PRIu64 ", impossible after the one "
                     "before it (id %" PRIu64 ", %" PRIu64 " bytes)",
                     path, b->first_id, a->first_id, a->size);
    }
  }
  return 0;
}

/* Build the index: from the checkpoint when it matches the log, replaying
** only what follows it; else from the whole log. */
static int recover(evs_store *s) {
  size_t first = 0;
  uint64_t from = EVS_SEG_HDR;
  int rc = evs_checkpoint_find(s, &first, &from);
  if (rc) return rc;
  /* The last segment is always checked whole: it is where a crash tears
  ** the log, and a checkpoint beyond what survives there is stale. */
  size_t last = s->nsegs - 1;
  if ((rc = check_segment(s, last, EVS_SEG_HDR))) return rc;
  if (s->ckpt_state == EVS_CHECKPOINT_LOADED && first == last && from > s->segs[last]->size) {
    s->ckpt_state = EVS_CHECKPOINT_STALE;
    free(s->ckpt_buf);
    s->ckpt_buf = NULL;
    first = 0;
    from = EVS_SEG_HDR;
  }
  /* Sealed segments the checkpoint covers are not re-read (they were
  ** checked when written, and every read checks its record); the ones
  ** after it are checked whole. */
  for (size_t i = first; i < last; i++)
    if ((rc = check_segment(s, i, i == first ? from : EVS_SEG_HDR))) return rc;
  if (s->ckpt_state == EVS_CHECKPOINT_LOADED && (rc = evs_checkpoint_load(s))) return rc;
  s->open_replayed = 0;
  for (size_t i = first; i < s->nsegs; i++) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, s->segs[i]->no, path, sizeof path);
    if ((rc = evs_log_replay(s, s->segs[i], i == first ? from : EVS_SEG_HDR,
                             s->segs[i]->size, path)))
      return rc;
  }
  /* A checkpoint that covers the whole log need not be written again. */
  s->ckpt_dirty = s->ckpt_state != EVS_CHECKPOINT_LOADED || s->open_replayed;
  return 0;
}

/* Start the log of a new store: segment 1, then the manifest naming it. */
static int log_create(evs_store *s) {
  evs_seg *g;
  int rc = evs_seg_create(s, 1, s->idx.base, 0, &g);
  if (rc) return rc;
  if ((rc = seg_add(s, g))) {
    evs_seg_free(s, g);
    return rc;
  }
  s->next_segno = 2;
  return evs_manifest_write(s, s->segs, 1, 0, NULL);
}

/* Does the unlisted segment file `no` hold committed records that the
** listed log (already replayed into the index) does not account for?
** A crashed roll leaves a header and no record; a compaction step that
** crashed before its manifest leaves copies of listed records; one that
** crashed after it leaves the old files, whose events are now in the
** rewritten segment or were dead. All of these only name ids below the
** log's next id, and their acks and deletes are in effect. Anything else
** (new events, an ack the index lacks) is records the manifest does not
** explain: a manifest older than the log. Returns 0 (accounted for: safe
** to remove), 1 (not: why says what), 2 (not a segment file: left alone)
** or an error. */
static int orphan_check(evs_store *s, uint64_t no, char *why, size_t cap) {
  char path[EVS_PATH_BUF];
  evs_seg_path(s, no, path, sizeof path);
  evs_seg *g = calloc(1, sizeof *g);
  if (!g) return evs_err(s, EVS_ENOMEM, "out of memory");
  g->no = no;
  g->fd = s->io->open(s->io->ctx, path, O_RDONLY | O_NONBLOCK, 0);
  if (g->fd < 0) {
    int e = g->fd;
    free(g);
    return e == -ENOENT ? 0 : evs_err_io(s, -e, "cannot open segment", path);
  }
  uint64_t fsize = 0, end = 0;
  int rc = 0, e = s->io->fsize(s->io->ctx, g->fd, &fsize);
  if (e == -EISDIR || e == -EINVAL) {
    rc = 2;
  } else if (e) {
    rc = evs_err_io(s, -e, "cannot open segment", path);
  } else if (fsize > UINT32_MAX) {
    rc = 1, snprintf(why, cap, "larger than 4 GiB");
  } else if (fsize > EVS_SEG_HDR && !(rc = evs_log_reserve(s, g, fsize))) {
    uint64_t segno, sid, after, scan_end;
    const char *hw;
    if (evs_seghdr_decode(g->base, fsize, &segno, &sid, &g->first_id, &g->flags, &hw))
      rc = 1, snprintf(why, cap, "its header is damaged (%s)", hw);
    else if (sid != s->meta.store_id)
      rc = 1, snprintf(why, cap, "it belongs to another store");
    /* (A copy of another of our segments under this name is judged by its
    ** records like any other.) */
    if (!rc) {
      evs_log_scan(g, EVS_SEG_HDR, fsize, &end, &after, &scan_end);
      if (scan_end < fsize && evs_count_beyond(g, scan_end, fsize))
        rc = 1, snprintf(why, cap, "damaged at offset %" PRIu64 " with intact records after",
                         scan_end);
    }
    const evs_index *x = &s->idx;
    uint64_t next = x->base + x->n;
    for (uint64_t pos = EVS_SEG_HDR; !rc && pos < end; pos += get_u32(g->base + pos + 8)) {
      const uint8_t *r = g->base + pos;
      uint8_t type = r[12];
      if (type == EVS_REC_EVENT) {
        uint64_t id = get_u64(r + 16);
        if (id >= next)
          rc = 1, snprintf(why, cap, "event %" PRIu64 " at offset %" PRIu64
                           " is beyond the listed log (next id %" PRIu64 ")", id, pos, next);
        continue;
      }
      if (type != EVS_REC_ACK && type != EVS_REC_DELETE) continue;
      const uint8_t *ids;
      uint32_t cnt;
      if (evs_ids_decode(r, get_u32(r + 8), &ids, &cnt))
        rc = 1, snprintf(why, cap, "a malformed record at offset %" PRIu64, pos);
      for (uint32_t k = 0; !rc && k < cnt; k++) {
        uint64_t id = get_u64(ids + 8 * (size_t)k);
        const evs_ent *en = id >= x->base && id < next ? evs_ent_at(x, id - x->base) : NULL;
        int live = en && (en->flags & ENT_LIVE) && !(en->flags & ENT_DELETED);
        if (id >= next || (live && (type == EVS_REC_DELETE || !(en->flags & ENT_ACKED))))
          rc = 1, snprintf(why, cap, "the %s of event %" PRIu64 " at offset %" PRIu64
                           " is not in the listed log",
                           type == EVS_REC_ACK ? "acknowledgement" : "deletion", id, pos);
      }
    }
  }
  evs_seg_free(s, g);
  return rc;
}

/* Segment files the manifest does not name. Ones whose records the log
** accounts for are removed (not by a read-only open); if any holds records
** it does not, nothing is removed and the open fails naming them. */
static int handle_orphans(evs_store *s, const uint64_t *files, size_t nfiles) {
  uint64_t *gone = malloc((nfiles ? nfiles : 1) * sizeof *gone);
  if (!gone) return evs_err(s, EVS_ENOMEM, "out of memory");
  size_t ngone = 0, nbad = 0;
  char first[400] = "";
  int rc = 0;
  for (size_t i = 0; i < nfiles && !rc; i++) {
    int listed = 0;
    for (size_t k = 0; k < s->nsegs && !listed; k++) listed = s->segs[k]->no == files[i];
    if (listed) continue;
    char why[300];
    int v = orphan_check(s, files[i], why, sizeof why);
    if (v < 0) rc = v;
    else if (v == 0) gone[ngone++] = files[i];
    else if (v == 1 && !nbad++) {
      char name[EVS_SEG_NAME_SIZE];
      evs_seg_name(files[i], name);
      snprintf(first, sizeof first, "%s: %s", name, why);
    }
  }
  if (!rc && nbad)
    rc = evs_err(s, EVS_ECORRUPT,
                 "%zu segment file%s in %s that evstore.manifest does not list hold%s "
                 "committed records it does not account for (first: %s). The manifest "
                 "is older than the log (restored from a backup?); nothing was removed. "
                 "evs_repair (evstore DIR repair) adopts them",
                 nbad, nbad == 1 ? "" : "s", s->dir, nbad == 1 ? "s" : "", first);
  for (size_t i = 0; !rc && !s->opt.read_only && i < ngone; i++) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, gone[i], path, sizeof path);
    int e = s->io->unlink(s->io->ctx, path);
    if (e && e != -ENOENT) rc = evs_err_io(s, -e, "cannot remove unused segment", path);
  }
  free(gone);
  int e = !rc && ngone && !s->opt.read_only ? evs_io_sync_dir(s->io, s->dir) : 0;
  return e ? evs_err_io(s, -e, "cannot sync directory", s->dir) : rc;
}

static int log_open_dir(evs_store *s) {
  uint64_t *files = NULL;
  size_t nfiles = 0;
  int rc = list_segments(s, &files, &nfiles);
  if (rc) return rc;
  char mpath[EVS_PATH_BUF];
  snprintf(mpath, sizeof mpath, "%s/%s", s->dir, EVS_MANIFEST_NAME);
  uint8_t *buf;
  size_t n;
  int e = evs_read_file(s, EVS_MANIFEST_NAME, &buf, &n);
  if (e == -ENOENT) {
    /* A new store, or one whose creation crashed before its manifest:
    ** then its only segment holds no record yet. */
    for (size_t i = 0; i < nfiles && !rc; i++) {
      char path[EVS_PATH_BUF];
      evs_seg_path(s, files[i], path, sizeof path);
      struct stat st;
      if (files[i] != 1 || (stat(path, &st) == 0 && (uint64_t)st.st_size > EVS_SEG_HDR))
        rc = evs_err(s, EVS_ECORRUPT, "%s is missing but %s holds segments",
                     mpath, s->dir);
      else if (!s->opt.read_only && (e = s->io->unlink(s->io->ctx, path)))
        rc = evs_err_io(s, -e, "cannot remove unfinished segment", path);
    }
    free(files);
    if (!rc && s->opt.read_only)
      rc = evs_err(s, EVS_ENOTFOUND,
                   "%s has no log yet (its creation was interrupted): open it for "
                   "writing once", s->dir);
    return rc ? rc : log_create(s);
  }
  if (e) {
    free(files);
    if (e == -EISDIR || e == -EINVAL)
      return evs_err(s, EVS_ECORRUPT, "%s is not a regular file", mpath);
    return e == -ENOMEM ? evs_err(s, EVS_ENOMEM, "out of memory")
                        : evs_err_io(s, -e, "cannot read", mpath);
  }
  evs_manifest m;
  const char *why = NULL;
  int d = evs_manifest_decode(buf, n, &m, &why);
  free(buf);
  if (d == -2) rc = evs_err(s, EVS_ENOMEM, "out of memory");
  else if (d) rc = evs_err(s, EVS_ECORRUPT, "%s: %s", mpath, why);
  else if (m.store_id != s->meta.store_id)
    rc = evs_err(s, EVS_ECORRUPT, "%s belongs to another store", mpath);
  if (!rc) {
    s->man_gen = m.generation;
    s->man_layout = m.layout;
    for (uint32_t i = 0; i < m.count && !rc; i++) {
      for (uint32_t k = 0; k < i && !rc; k++)
        if (m.segno[k] == m.segno[i])
          rc = evs_err(s, EVS_ECORRUPT, "%s lists segment %" PRIu64 " twice", mpath,
                       m.segno[i]);
      if (!rc) rc = open_segment(s, m.segno[i], m.size[i]);
    }
  }
  free(m.segno);
  free(m.size);
  if (!rc) {
    for (size_t i = 0; i < s->nsegs; i++)
      if (s->next_segno <= s->segs[i]->no) s->next_segno = s->segs[i]->no + 1;
    /* Numbers of every file, listed or not, are taken. */
    for (size_t i = 0; i < nfiles; i++)
      if (s->next_segno <= files[i]) s->next_segno = files[i] + 1;
    rc = check_first_ids(s);
  }
  if (!rc) rc = recover(s);
  if (!rc) rc = handle_orphans(s, files, nfiles);
  free(files);
  return rc;
}

int evs_log_open(evs_store *s) {
  int rc;
  if (s->dir) {
    rc = log_open_dir(s);
  } else {
    evs_seg *g;
    rc = evs_seg_create(s, 1, s->idx.base, 0, &g);
    if (!rc && (rc = seg_add(s, g))) evs_seg_free(s, g);
    s->next_segno = 2;
  }
  if (rc) return rc;
  s->cur = s->segs[s->nsegs - 1];
  s->vis_n = s->idx.n;
  /* What an earlier process wrote may still sit in the page cache: treat
  ** nothing as synced, so the first sync (a roll, evs_store_sync, a FULL
  ** commit) really makes it durable. */
  s->written_lsn = evs_lsn(s->cur->no, s->cur->size);
  s->synced_lsn = 0;
  s->written_fd = s->cur->fd;
  return 0;
}
