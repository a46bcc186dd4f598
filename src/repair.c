/*
** repair.c: evs_repair, the explicit recovery from damage that open refuses
** to cut (see include/evstore.h and docs/FORMAT.md "Repair"). It works on
** the directory before any store is opened: the meta file and the manifest
** must be intact; every segment is scanned record by record; a damaged one
** is copied into a new segment without the transactions that lost records;
** unlisted segment files that continue the log are adopted; then the store
** is opened and verified. Nothing is deleted: what is replaced is moved
** into a folder of the store, and put back if the result does not verify.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "error.h"
#include "store.h"
#include "util.h"

/* One segment file as repair sees it. */
typedef struct rseg {
  uint64_t no;
  uint64_t sealed;     /* size the manifest records (0: open, or unlisted) */
  int listed, missing;
  uint8_t *base;       /* the file, mapped */
  uint64_t size;
  uint64_t first_id, flags;
  int hdr_ok;
  uint64_t *keep;      /* [from, to) byte ranges of the transactions kept */
  size_t nkeep, keepcap;
  uint64_t max_any;    /* largest id any record that checks out names */
  uint64_t unknown;    /* bytes after the last record that checks out */
  uint64_t committed;  /* records in kept transactions */
  uint64_t dropped_bytes, dropped_txns, dropped_recs;
  int changed;         /* copied into a new segment */
  uint64_t newno, newsize;
  int moved;           /* its file is in the repair folder */
  int foreign;         /* not a regular file: left where it is */
} rseg;

typedef struct repair {
  const char *dir;
  const evs_io *io;
  int fmode;
  evs_meta meta;
  uint8_t *oldman; /* the manifest as it was */
  size_t oldman_len;
  evs_manifest man;
  rseg *segs;      /* listed ones in manifest order, then the other files */
  size_t nsegs, nlisted;
  uint64_t next_no;
  char folder[64]; /* "" until something is moved */
  int ck_moved;
  int lock;        /* the store's LOCK, held throughout */
  uint64_t fresh_no; /* the new last segment made, or 0 */
  evs_repair_report rep;
} repair;

static void path_of(const repair *r, const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", r->dir, name);
}


static int map_seg(repair *r, rseg *g) {
  char name[EVS_SEG_NAME_SIZE], path[EVS_PATH_BUF];
  evs_seg_name(g->no, name);
  path_of(r, name, path, sizeof path);
  int fd = r->io->open(r->io->ctx, path, O_RDONLY | O_NONBLOCK, 0);
  if (fd == -ENOENT) {
    g->missing = 1;
    return 0;
  }
  if (fd < 0) return evs_err_io(NULL, -fd, "cannot open segment", path);
  int e = r->io->fsize(r->io->ctx, fd, &g->size);
  if ((e == -EISDIR || e == -EINVAL) && !g->listed) {
    /* Not a segment, whatever its name: not ours to move. */
    r->io->close(r->io->ctx, fd);
    g->foreign = 1;
    return 0;
  }
  if (e == -EISDIR || e == -EINVAL) {
    r->io->close(r->io->ctx, fd);
    return evs_err(NULL, EVS_ECORRUPT, "cannot repair: %s is not a regular file", path);
  }
  if (!e && g->size > UINT32_MAX) e = -EFBIG;
  if (!e && g->size) {
    void *p = mmap(NULL, g->size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) e = -errno;
    else g->base = p;
  }
  r->io->close(r->io->ctx, fd);
  if (e) return evs_err_io(NULL, -e, "cannot map segment", path);
  uint64_t segno, sid;
  const char *why;
  g->hdr_ok = g->size >= EVS_SEG_HDR &&
              !evs_seghdr_decode(g->base, g->size, &segno, &sid, &g->first_id, &g->flags, &why) &&
              segno == g->no && sid == r->meta.store_id;
  return 0;
}

static int keep_range(rseg *g, uint64_t from, uint64_t to) {
  if (evs_grow((void **)&g->keep, &g->keepcap, g->nkeep + 2, sizeof *g->keep))
    return EVS_ENOMEM;
  g->keep[g->nkeep++] = from;
  g->keep[g->nkeep++] = to;
  return 0;
}

/* The largest id a record names. */
static uint64_t rec_max_id(const uint8_t *p, uint32_t len, uint8_t type) {
  if (type == EVS_REC_EVENT) return evs_ev_id(p);
  const uint8_t *ids;
  uint32_t cnt;
  uint64_t m = 0;
  if ((type == EVS_REC_ACK || type == EVS_REC_DELETE) && !evs_ids_decode(p, len, &ids, &cnt))
    for (uint32_t k = 0; k < cnt; k++) m = EVS_MAX(m, evs_ids_at(ids, k));
  return m;
}

/* Which transactions of g survive: every committed one whose records all
** check out. A bad record marks its transaction damaged; the scan goes on
** at the next offset where a whole record checks out (the checksum makes a
** false start there practically impossible). */
static int analyse(rseg *g) {
  uint64_t bound = g->sealed && g->sealed < g->size ? g->sealed : g->size;
  uint64_t pos = EVS_SEG_HDR, txn = EVS_SEG_HDR, nrec = 0;
  g->unknown = bound > pos ? bound - pos : 0;
  int damaged = 0;
  while (pos < bound) {
    uint32_t len;
    uint8_t type;
    if (evs_rec_check(g->base + pos, bound - pos, &len, &type) == 1) {
      g->max_any = EVS_MAX(g->max_any, rec_max_id(g->base + pos, len, type));
      pos += len;
      g->unknown = bound - pos;
      nrec++;
      if (type != EVS_REC_COMMIT) continue;
      if (damaged) {
        g->dropped_txns++;
        g->dropped_recs += nrec;
        g->dropped_bytes += pos - txn;
      } else {
        if (keep_range(g, txn, pos)) return EVS_ENOMEM;
        g->committed += nrec;
      }
      txn = pos;
      damaged = 0;
      nrec = 0;
      continue;
    }
    damaged = 1;
    pos = evs_rec_next(g->base, pos + 1, bound, &len);
  }
  if (txn < bound) { /* torn or uncommitted */
    g->dropped_txns++;
    g->dropped_recs += nrec;
    g->dropped_bytes += bound - txn;
  }
  /* A sealed segment that lost its end, or holds more than recorded. */
  if (g->sealed && g->sealed != g->size) {
    g->dropped_bytes += g->sealed > g->size ? g->sealed - g->size : g->size - g->sealed;
    g->changed = 1;
  }
  if (g->dropped_txns) g->changed = 1;
  return 0;
}

/* Write segment `no` (header: first_id, flags) holding g's kept
** transactions (g NULL: empty), synced. */
static int write_segment(repair *r, uint64_t no, uint64_t first_id, uint64_t flags,
                         const rseg *g, uint64_t *size) {
  char name[EVS_SEG_NAME_SIZE], path[EVS_PATH_BUF];
  evs_seg_name(no, name);
  path_of(r, name, path, sizeof path);
  int fd = r->io->open(r->io->ctx, path, O_RDWR | O_CREAT | O_EXCL, r->fmode);
  if (fd < 0) return evs_err_io(NULL, -fd, "cannot create segment", path);
  uint8_t hdr[EVS_SEG_HDR];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  evs_seghdr_encode(no, r->meta.store_id, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
                    first_id, flags, hdr);
  int e = evs_io_write_all(r->io, fd, hdr, sizeof hdr, 0);
  uint64_t at = EVS_SEG_HDR;
  for (size_t k = 0; g && !e && k < g->nkeep; k += 2) {
    uint64_t len = g->keep[k + 1] - g->keep[k];
    e = evs_io_write_all(r->io, fd, g->base + g->keep[k], len, (off_t)at);
    at += len;
  }
  if (!e) e = r->io->fdatasync(r->io->ctx, fd);
  r->io->close(r->io->ctx, fd);
  if (e) {
    r->io->unlink(r->io->ctx, path);
    return evs_err_io(NULL, -e, "cannot write segment", path);
  }
  *size = at;
  return 0;
}

/* Copy g's kept transactions into segment newno: g's first id, flagged
** "rewritten" (its ids may now be sparse). */
static int rewrite(repair *r, rseg *g, uint64_t newno) {
  int rc = write_segment(r, newno, g->first_id, EVS_SEG_REWRITTEN | (g->flags & EVS_SEG_LEASES), g,
                         &g->newsize);
  if (!rc) g->newno = newno;
  return rc;
}

/* The folder the copies go to: dir/repair-<UTC time>[-N]. */
static int make_folder(repair *r) {
  if (r->folder[0]) return 0;
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  char base[48], path[EVS_PATH_BUF];
  strftime(base, sizeof base, "repair-%Y%m%dT%H%M%SZ", &tm);
  for (int i = 0; i < 100; i++) {
    if (i) snprintf(r->folder, sizeof r->folder, "%s-%d", base, i);
    else snprintf(r->folder, sizeof r->folder, "%s", base);
    path_of(r, r->folder, path, sizeof path);
    if (mkdir(path, 0755) == 0) return 0;
    if (errno != EEXIST) break;
  }
  int e = errno;
  r->folder[0] = 0;
  return evs_err_io(NULL, e, "cannot create a repair folder in", r->dir);
}

/* Move dir/name into the repair folder (back, with undo). */
static int move_file(repair *r, const char *name, int undo) {
  char a[EVS_PATH_BUF], b[EVS_PATH_BUF];
  int rc = make_folder(r);
  if (rc) return rc;
  char rel[128];
  snprintf(rel, sizeof rel, "%s/%s", r->folder, name);
  path_of(r, name, a, sizeof a);
  path_of(r, rel, b, sizeof b);
  int e = undo ? r->io->rename(r->io->ctx, b, a) : r->io->rename(r->io->ctx, a, b);
  return e ? evs_err_io(NULL, -e, "cannot move", undo ? b : a) : 0;
}

/* Adopted files in log order: first id, then number. */
static int cmp_first_id(const void *x, const void *y) {
  const rseg *a = *(rseg *const *)x, *b = *(rseg *const *)y;
  if (a->first_id != b->first_id) return a->first_id < b->first_id ? -1 : 1;
  return a->no < b->no ? -1 : a->no > b->no;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Every segment file in the directory, listed ones first in manifest order. */
static int collect(repair *r) {
  uint64_t *files = NULL;
  size_t nfiles = 0, cap = 0;
  int rc = 0;
  DIR *d = opendir(r->dir);
  if (!d) return evs_err_io(NULL, errno, "cannot list", r->dir);
  struct dirent *de;
  while ((de = readdir(d)) && !rc) {
    const char *nm = de->d_name;
    char *endp;
    if (strlen(nm) != 22 || strcmp(nm + 16, ".evlog")) continue;
    uint64_t no = strtoull(nm, &endp, 16);
    if (endp != nm + 16 || !no) continue;
    if (evs_grow((void **)&files, &cap, nfiles + 1, sizeof *files)) rc = EVS_ENOMEM;
    else files[nfiles++] = no;
  }
  closedir(d);
  if (rc) {
    free(files);
    return evs_err(NULL, rc, "out of memory");
  }
  if (nfiles) qsort(files, nfiles, sizeof *files, cmp_u64);
  r->segs = calloc(r->man.count + nfiles + 1, sizeof *r->segs);
  if (!r->segs) {
    free(files);
    return evs_err(NULL, EVS_ENOMEM, "out of memory");
  }
  for (uint32_t i = 0; i < r->man.count; i++) {
    rseg *g = &r->segs[r->nsegs++];
    g->no = r->man.segno[i];
    g->sealed = r->man.size[i];
    g->listed = 1;
  }
  r->nlisted = r->nsegs;
  for (size_t i = 0; i < nfiles; i++) {
    int listed = 0;
    for (size_t k = 0; k < r->nlisted && !listed; k++) listed = r->segs[k].no == files[i];
    if (!listed) r->segs[r->nsegs++].no = files[i];
    if (files[i] >= r->next_no) r->next_no = files[i] + 1;
  }
  for (size_t k = 0; k < r->nlisted; k++)
    if (r->segs[k].no >= r->next_no) r->next_no = r->segs[k].no + 1;
  free(files);
  return 0;
}

static void report_drops(repair *r, const rseg *g) {
  r->rep.transactions_dropped += g->dropped_txns;
  r->rep.records_dropped += g->dropped_recs;
  r->rep.bytes_dropped += g->dropped_bytes;
}

/* Plan and carry out the repair (undo() puts it back). */
static int run(repair *r, const evs_options *opts) {
  int rc = collect(r);
  if (rc) return rc;
  uint64_t max_listed = 0;
  for (size_t i = 0; i < r->nsegs && !rc; i++) {
    rseg *g = &r->segs[i];
    if ((rc = map_seg(r, g))) return rc;
    if (g->listed) max_listed = EVS_MAX(max_listed, g->no);
    if (g->missing) continue;
    if (g->listed && !g->hdr_ok) {
      char name[EVS_SEG_NAME_SIZE];
      evs_seg_name(g->no, name);
      return evs_err(NULL, EVS_ECORRUPT,
                     "cannot repair: the header of %s/%s is damaged (nothing was changed)",
                     r->dir, name);
    }
    if (g->hdr_ok && (rc = analyse(g))) return evs_err(NULL, rc, "out of memory");
    r->rep.segments_checked++;
  }
  /* The plan: listed segments in order (damaged ones replaced by copies,
  ** lost sealed ones left out), then unlisted files that continue the log
  ** (written as segments of their own: not "rewritten", numbers past every
  ** listed one, holding committed records), in order of first id. */
  rseg **plan = calloc(r->nsegs + 1, sizeof *plan);
  if (!plan) return evs_err(NULL, EVS_ENOMEM, "out of memory");
  size_t np = 0;
  for (size_t i = 0; i < r->nlisted; i++) {
    rseg *g = &r->segs[i];
    if (!g->missing) {
      plan[np++] = g;
      continue;
    }
    if (i + 1 == r->nlisted) {
      free(plan);
      char name[EVS_SEG_NAME_SIZE];
      evs_seg_name(g->no, name);
      return evs_err(NULL, EVS_ECORRUPT,
                     "cannot repair: the last segment %s/%s is missing, so the ids it "
                     "handed out are unknown (restore it from a backup; nothing was changed)",
                     r->dir, name);
    }
    r->rep.segments_lost++;
  }
  size_t first_adopted = np;
  for (size_t i = r->nlisted; i < r->nsegs; i++) {
    rseg *g = &r->segs[i];
    if (g->hdr_ok && g->no > max_listed && !(g->flags & EVS_SEG_REWRITTEN) && g->committed)
      plan[np++] = g;
  }
  if (np > first_adopted) qsort(plan + first_adopted, np - first_adopted, sizeof *plan, cmp_first_id);
  r->rep.segments_adopted = np - first_adopted;
  int changed = r->rep.segments_lost || r->rep.segments_adopted;
  for (size_t k = 0; k < np; k++) changed |= plan[k]->changed;
  if (!changed) {
    /* Nothing damaged: does the store open as it is? (Unlisted files
    ** that the log accounts for are open's business.) */
    evs_options ro = opts ? *opts : (evs_options){0};
    ro.read_only = 1;
    evs_store *s;
    if (!evs_store_open_locked(r->dir, &ro, r->lock, &s)) {
      evs_store_close(s);
      free(plan);
      return 0;
    }
  }
  r->rep.changed = 1;

  /* Copies of the damaged segments, and a fresh last segment when the last
  ** one is a copy. Ids of lost records are never handed out again: damaged
  ** records lie below the ids of intact ones after them (ids grow along
  ** the log), so only the unreadable end of the last segment needs room. */
  uint64_t max_id = 0, slack = 0;
  if (np) slack = plan[np - 1]->unknown / EVS_EV_FIXED + 1;
  for (size_t k = 0; k < np && !rc; k++) {
    rseg *g = plan[k];
    max_id = EVS_MAX(max_id, EVS_MAX(g->max_any, g->first_id));
    if (g->changed) {
      rc = rewrite(r, g, r->next_no++);
      if (!rc) r->rep.segments_rewritten++;
    }
    report_drops(r, g);
  }
  int fresh = !rc && (!np || plan[np - 1]->changed);
  uint64_t fresh_no = r->next_no, fresh_first = max_id + 1 + slack;
  if (fresh && fresh_first >= EVS_ID_MAX)
    rc = evs_err(NULL, EVS_ECORRUPT, "cannot repair: ids would run past their limit");
  uint64_t fresh_size;
  if (fresh && !rc && !(rc = write_segment(r, fresh_no, fresh_first, 0, NULL, &fresh_size))) {
    r->fresh_no = fresh_no;
    r->next_no++;
  }
  /* Everything that leaves the log moves aside before the new manifest:
  ** replaced segments and unlisted files not adopted. */
  for (size_t i = 0; i < r->nsegs && !rc; i++) {
    rseg *g = &r->segs[i];
    int adopted = 0;
    for (size_t k = first_adopted; k < np; k++) adopted |= plan[k] == g;
    if (g->missing || g->foreign || (!g->changed && (g->listed || adopted))) continue;
    char name[EVS_SEG_NAME_SIZE];
    evs_seg_name(g->no, name);
    if (!(rc = move_file(r, name, 0))) g->moved = 1;
  }
  if (rc) {
    free(plan);
    return rc;
  }
  /* The new manifest: the old one is kept in the folder first. */
  char folder_man[128], path[EVS_PATH_BUF];
  if (rc || (rc = make_folder(r))) {
    free(plan);
    return rc;
  }
  snprintf(folder_man, sizeof folder_man, "%s/%s", r->folder, EVS_MANIFEST_NAME);
  path_of(r, folder_man, path, sizeof path);
  int fd = r->io->open(r->io->ctx, path, O_WRONLY | O_CREAT | O_EXCL, r->fmode);
  int e = fd < 0 ? fd : evs_io_write_all(r->io, fd, r->oldman, r->oldman_len, 0);
  if (fd >= 0) {
    if (!e) e = r->io->fdatasync(r->io->ctx, fd);
    r->io->close(r->io->ctx, fd);
  }
  if (e) {
    free(plan);
    return evs_err_io(NULL, -e, "cannot keep a copy of the manifest in", path);
  }
  if (!r->ck_moved) {
    int ce = move_file(r, EVS_CHECKPOINT_NAME, 0);
    if (!ce) r->ck_moved = 1;
  }
  size_t n = np + (fresh ? 1 : 0);
  uint64_t *no = malloc(n * sizeof *no), *sz = malloc(n * sizeof *sz);
  uint8_t *buf = malloc(evs_manifest_len((uint32_t)n));
  if (!no || !sz || !buf) {
    free(no), free(sz), free(buf), free(plan);
    return evs_err(NULL, EVS_ENOMEM, "out of memory");
  }
  for (size_t k = 0; k < np; k++) {
    no[k] = plan[k]->changed ? plan[k]->newno : plan[k]->no;
    sz[k] = plan[k]->changed ? plan[k]->newsize : plan[k]->size;
  }
  if (fresh) no[np] = fresh_no;
  sz[n - 1] = 0;
  evs_manifest m = {r->meta.store_id, r->man.generation + 1, r->man.layout + 1, (uint32_t)n,
                    no, sz};
  evs_manifest_encode(&m, buf);
  e = evs_io_replace(r->io, r->dir, EVS_MANIFEST_NAME, buf, evs_manifest_len((uint32_t)n),
                     r->fmode, NULL);
  free(no), free(sz), free(buf), free(plan);
  if (e) {
    char mp[EVS_PATH_BUF];
    path_of(r, EVS_MANIFEST_NAME, mp, sizeof mp);
    return evs_err_io(NULL, -e, "cannot write", mp);
  }
  snprintf(r->rep.saved_to, sizeof r->rep.saved_to, "%s", r->folder);
  return 0;
}

/* Put everything back as it was (a repair that did not verify). */
static void undo(repair *r) {
  evs_io_replace(r->io, r->dir, EVS_MANIFEST_NAME, r->oldman, r->oldman_len, r->fmode, NULL);
  for (size_t i = 0; i < r->nsegs; i++) {
    rseg *g = &r->segs[i];
    char name[EVS_SEG_NAME_SIZE], path[EVS_PATH_BUF];
    if (g->moved) {
      evs_seg_name(g->no, name);
      move_file(r, name, 1);
    }
    if (g->newno) {
      evs_seg_name(g->newno, name);
      path_of(r, name, path, sizeof path);
      r->io->unlink(r->io->ctx, path);
    }
  }
  if (r->fresh_no) {
    char name[EVS_SEG_NAME_SIZE], path[EVS_PATH_BUF];
    evs_seg_name(r->fresh_no, name);
    path_of(r, name, path, sizeof path);
    r->io->unlink(r->io->ctx, path);
  }
  if (r->ck_moved) move_file(r, EVS_CHECKPOINT_NAME, 1);
  if (r->folder[0]) {
    char fm[128], path[EVS_PATH_BUF];
    snprintf(fm, sizeof fm, "%s/%s", r->folder, EVS_MANIFEST_NAME);
    path_of(r, fm, path, sizeof path);
    unlink(path);
    path_of(r, r->folder, path, sizeof path);
    rmdir(path);
  }
  evs_io_sync_dir(r->io, r->dir);
  memset(&r->rep, 0, sizeof r->rep);
}

static int repair_store(const char *dir, const evs_options *opts, evs_repair_report *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!dir || !*dir || !strcmp(dir, ":memory:"))
    return evs_err(NULL, EVS_EINVAL, "evs_repair needs a store directory");
  if (strlen(dir) > EVS_DIR_MAX) /* paths are built in EVS_PATH_BUF bytes */
    return evs_err(NULL, EVS_EINVAL, "directory name is %zu bytes, limit is %d", strlen(dir),
                   EVS_DIR_MAX);
  evs_options ro;
  int rc = evs_options_resolve(opts, &ro);
  if (rc) return rc;
  repair r = {.dir = dir, .io = &evs_io_posix, .next_no = 1};
  r.fmode = evs_store_file_mode(dir);
  char path[EVS_PATH_BUF];
  path_of(&r, "LOCK", path, sizeof path);
  int lock = r.lock = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (lock < 0)
    return errno == ENOENT ? evs_err(NULL, EVS_ENOTFOUND, "%s is not a store (no LOCK)", dir)
                           : evs_err_io(NULL, errno, "cannot open", path);
  if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(lock);
    return e == EWOULDBLOCK ? evs_err(NULL, EVS_ELOCKED, "store %s is open elsewhere; close "
                                                        "it before repairing", dir)
                            : evs_err_io(NULL, e, "cannot lock", path);
  }
  uint8_t *b = NULL;
  size_t n = 0;
  const char *why;
  int e = evs_io_read_file(r.io, dir, EVS_META_NAME, &b, &n);
  if (e == -ENOENT) rc = evs_err(NULL, EVS_ENOTFOUND, "%s is not a store (no %s)", dir, EVS_META_NAME);
  else if (e) rc = evs_err_io(NULL, -e, "cannot read", EVS_META_NAME);
  else if (evs_meta_decode(b, n, &r.meta, &why))
    rc = evs_err(NULL, EVS_ECORRUPT, "cannot repair: %s/%s: %s", dir, EVS_META_NAME, why);
  free(b);
  if (!rc) {
    e = evs_io_read_file(r.io, dir, EVS_MANIFEST_NAME, &r.oldman, &r.oldman_len);
    int d = e ? 0 : evs_manifest_decode(r.oldman, r.oldman_len, &r.man, &why);
    if (e == -ENOENT)
      rc = evs_err(NULL, EVS_ECORRUPT, "cannot repair: %s has no %s", dir, EVS_MANIFEST_NAME);
    else if (e) rc = evs_err_io(NULL, -e, "cannot read", EVS_MANIFEST_NAME);
    else if (d == EVS_ENOMEM) rc = evs_err(NULL, EVS_ENOMEM, "out of memory");
    else if (d) rc = evs_err(NULL, EVS_ECORRUPT, "cannot repair: %s/%s: %s", dir, EVS_MANIFEST_NAME, why);
    else if (r.man.store_id != r.meta.store_id)
      rc = evs_err(NULL, EVS_ECORRUPT, "cannot repair: %s/%s belongs to another store", dir,
                   EVS_MANIFEST_NAME);
  }
  if (!rc) rc = run(&r, opts);
  if (!rc && r.rep.changed) {
    evs_io_sync_dir(r.io, dir);
    /* Prove it: the store opens, under the lock still held, and verifies. */
    evs_options o = ro;
    o.read_only = 0;
    evs_options_use_stored(&o);
    evs_store *s = NULL;
    rc = evs_store_open_locked(dir, &o, lock, &s);
    if (!rc) {
      rc = evs_verify(s, NULL);
      char why2[512];
      if (rc) snprintf(why2, sizeof why2, "%s", evs_errmsg(s));
      evs_store_close(s);
      if (rc) evs_err(NULL, rc, "%s", why2);
    }
    if (rc) {
      char why2[512];
      snprintf(why2, sizeof why2, "%s", evs_errmsg(NULL));
      undo(&r);
      rc = evs_err(NULL, rc == EVS_ENOMEM ? rc : EVS_ECORRUPT,
                   "cannot repair: the repaired store did not open and verify (%s); "
                   "everything was put back",
                   why2);
    }
  }
  for (size_t i = 0; i < r.nsegs; i++) {
    if (r.segs[i].base) munmap(r.segs[i].base, r.segs[i].size);
    free(r.segs[i].keep);
  }
  free(r.segs);
  free(r.man.segno);
  free(r.man.size);
  free(r.oldman);
  close(lock);
  if (out) *out = r.rep;
  return rc;
}

int evs_repair_sized(const char *dir, const evs_options *opts, size_t opts_size,
                     evs_repair_report *out, size_t out_size) {
  evs_options o;
  evs_repair_report rep;
  int rc = evs_abi_in(NULL, "evs_options", &o, sizeof o, opts, opts_size, EVS_OPTIONS_SIZE_VER0);
  if (!rc)
    rc = evs_abi_out_check(NULL, "evs_repair_report", out, out_size, EVS_REPAIR_REPORT_SIZE_VER0);
  if (rc) return rc;
  rc = repair_store(dir, opts ? &o : NULL, out ? &rep : NULL);
  evs_abi_out(out, out_size, &rep, sizeof rep);
  return rc;
}
