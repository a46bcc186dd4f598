/*
** recover.c: opening the log. Reads the manifest, maps and checks every
** listed segment, loads the index checkpoint if one matches (see
** checkpoint_load.c), replays the log after it, cuts a torn tail, and
** judges segment files the manifest does not list.
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
#include "recover.h"
#include "replay.h"
#include "store.h"
#include "util.h"

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
static int map_segment(evs_store *s, uint64_t no, uint64_t sealed, evs_seg **out) {
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
  *out = g;
  return 0;
fail:
  evs_seg_free(s, g);
  return rc;
}

static int open_segment(evs_store *s, uint64_t no, uint64_t sealed) {
  evs_seg *g;
  int rc = map_segment(s, no, sealed, &g);
  if (!rc && (rc = evs_seg_add(s, g))) evs_seg_free(s, g);
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
  uint64_t fsize = g->size, end, nafter, scan_end, beyond = 0;
  /* A reader reads the last segment past what a checkpoint vouches for
  ** with pread (see evs_seg_scan_copy): a writer may be cutting it. */
  uint64_t safe = fsize;
  if (s->opt.read_only && i + 1 == s->nsegs)
    safe = g->no == s->vouch_segno && s->vouch_off > from && s->vouch_off <= fsize
               ? s->vouch_off : from;
  evs_log_scan(g, from, safe, &end, &nafter, &scan_end);
  if (safe < fsize && end == safe) {
    int rc = evs_seg_scan_copy(s, g, safe, &fsize, &end, &nafter, &scan_end, &beyond);
    if (rc) return rc;
  } else if (safe < fsize) {
    /* Damage before the vouched position: judged below, on the mapping
    ** (those bytes were committed and synced, so they stay). */
    fsize = safe;
  } else {
    beyond = scan_end < fsize ? evs_count_beyond(g, scan_end, fsize) : 0;
  }
  g->checked = from == EVS_SEG_HDR; /* (a tail cut below keeps it whole) */
  if (end == fsize) {
    g->size = fsize;
    return 0;
  }
  if (i + 1 < s->nsegs)
    return evs_err(s, EVS_ECORRUPT,
                   "segment %s: damaged record at offset %" PRIu64
                   " in a sealed segment (%" PRIu64 " bytes unreadable); nothing was "
                   "changed (evs_repair drops the damaged transaction, keeping a copy)",
                   path, end, fsize - end);
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
  uint8_t *ck;
  size_t ckn;
  int rc = evs_checkpoint_find(s, &first, &from, &ck, &ckn);
  if (rc) return rc;
  /* The last segment is always checked whole: it is where a crash tears
  ** the log, and a checkpoint beyond what survives there is stale. */
  size_t last = s->nsegs - 1;
  if ((rc = check_segment(s, last, EVS_SEG_HDR))) goto done;
  if (s->ckpt_state == EVS_CHECKPOINT_LOADED && first == last && from > s->segs[last]->size) {
    s->ckpt_state = EVS_CHECKPOINT_STALE;
    first = 0;
    from = EVS_SEG_HDR;
  }
  /* Sealed segments the checkpoint covers are not re-read (they were
  ** checked when written, and every read checks its record); the ones
  ** after it are checked whole. */
  for (size_t i = first; i < last; i++)
    if ((rc = check_segment(s, i, i == first ? from : EVS_SEG_HDR))) goto done;
  if (s->ckpt_state == EVS_CHECKPOINT_LOADED && (rc = evs_checkpoint_load(s, ck, ckn))) goto done;
  s->open_replayed = 0;
  for (size_t i = first; i < s->nsegs; i++) {
    char path[EVS_PATH_BUF];
    evs_seg_path(s, s->segs[i]->no, path, sizeof path);
    uint64_t start = i == first ? from : EVS_SEG_HDR;
    if ((rc = evs_log_replay(s, &s->state, s->segs[i], start, s->segs[i]->size, path)))
      goto done;
    s->open_replayed += s->segs[i]->size - start;
  }
  /* A checkpoint that covers the whole log need not be written again. */
  s->ckpt_dirty = s->ckpt_state != EVS_CHECKPOINT_LOADED || s->open_replayed;
done:
  free(ck);
  return rc;
}

/* Start the log of a new store: segment 1, then the manifest naming it. */
static int log_create(evs_store *s) {
  evs_seg *g;
  int rc = evs_seg_create(s, 1, s->state.idx.base, 0, &g);
  if (rc) return rc;
  if ((rc = evs_seg_add(s, g))) {
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
    const evs_index *x = &s->state.idx;
    uint64_t next = x->base + x->n;
    for (uint64_t pos = EVS_SEG_HDR; !rc && pos < end; pos += evs_rec_len(g->base + pos)) {
      const uint8_t *r = g->base + pos;
      uint8_t type = evs_rec_type(r);
      if (type == EVS_REC_EVENT) {
        uint64_t id = evs_ev_id(r);
        if (id >= next)
          rc = 1, snprintf(why, cap, "event %" PRIu64 " at offset %" PRIu64
                           " is beyond the listed log (next id %" PRIu64 ")", id, pos, next);
        continue;
      }
      if (type == EVS_REC_LEASE) {
        /* Lease ops name events the log has: only ids beyond it tell. */
        evs_lease_rec l;
        if (evs_lease_decode(r, evs_rec_len(r), &l))
          rc = 1, snprintf(why, cap, "a malformed record at offset %" PRIu64, pos);
        for (uint32_t k = 0; !rc && k < l.count; k++)
          if (evs_ids_at(l.ids, k) >= next)
            rc = 1, snprintf(why, cap, "a lease of event %" PRIu64 " at offset %" PRIu64
                             " is beyond the listed log", evs_ids_at(l.ids, k), pos);
        continue;
      }
      if (type != EVS_REC_ACK && type != EVS_REC_DELETE) continue;
      const uint8_t *ids;
      uint32_t cnt;
      if (evs_ids_decode(r, evs_rec_len(r), &ids, &cnt))
        rc = 1, snprintf(why, cap, "a malformed record at offset %" PRIu64, pos);
      for (uint32_t k = 0; !rc && k < cnt; k++) {
        uint64_t id = evs_ids_at(ids, k);
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

/* Decode the manifest read from mpath (buf, freed here) into m (free its
** segno and size): 0, EVS_ENOMEM or EVS_ECORRUPT with a message. */
static int manifest_parse(evs_store *s, uint8_t *buf, size_t n, const char *mpath,
                          evs_manifest *m) {
  const char *why = NULL;
  int d = evs_manifest_decode(buf, n, m, &why);
  free(buf);
  if (d == EVS_ENOMEM) return evs_err(s, EVS_ENOMEM, "out of memory");
  return d ? evs_err(s, EVS_ECORRUPT, "%s: %s", mpath, why) : 0;
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
  /* A reader keeps the manifest it read open: its inode then cannot be
  ** reused, so a manifest at the path with another inode is a new one
  ** (evs_log_follow). */
  int e = evs_io_read_file_keep(s->io, s->dir, EVS_MANIFEST_NAME, &buf, &n,
                                s->opt.read_only ? &s->man_fd : NULL);
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
  rc = manifest_parse(s, buf, n, mpath, &m);
  if (!rc && m.store_id != s->meta.store_id)
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
    for (size_t i = 0; i < s->nsegs; i++) {
      if (s->next_segno <= s->segs[i]->no) s->next_segno = s->segs[i]->no + 1;
      s->seg_flags |= s->segs[i]->flags & EVS_SEG_LEASES;
    }
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
    rc = evs_seg_create(s, 1, s->state.idx.base, 0, &g);
    if (!rc && (rc = evs_seg_add(s, g))) evs_seg_free(s, g);
    s->next_segno = 2;
  }
  if (rc) return rc;
  s->cur = s->segs[s->nsegs - 1];
  s->vis_n = s->state.idx.n;
  /* What an earlier process wrote may still sit in the page cache: treat
  ** nothing as synced, so the first sync (a roll, evs_store_sync, a FULL
  ** commit) really makes it durable. */
  s->written_lsn = evs_lsn(s->cur->no, s->cur->size);
  s->synced_lsn = 0;
  s->written_fd = s->cur->fd;
  return 0;
}

/* ---- A reader following the writer (evs_store_refresh) ----------------- */

/* Catch segs[i] up with its file: replay the transactions committed past
** what this handle has seen, up to `sealed` bytes when the manifest sealed
** it (0: the open segment, as far as it is committed). Caller holds wmu. */
static int follow_segment(evs_store *s, size_t i, uint64_t sealed) {
  evs_seg *g = s->segs[i];
  char path[EVS_PATH_BUF];
  evs_seg_path(s, g->no, path, sizeof path);
  uint64_t fsize;
  int e = s->io->fsize(s->io->ctx, g->fd, &fsize);
  if (e) return evs_err_io(s, -e, "cannot stat", path);
  if (fsize > UINT32_MAX) return evs_err(s, EVS_ECORRUPT, "segment %s is larger than 4 GiB", path);
  if (sealed && fsize != sealed)
    return evs_err(s, EVS_ECORRUPT,
                   "segment %s holds %" PRIu64 " bytes, but the manifest sealed it at %" PRIu64,
                   path, fsize, sealed);
  if (fsize <= g->size) return 0;
  uint64_t from = g->size, end, after, scan_end, beyond;
  int rc = evs_seg_scan_copy(s, g, from, &fsize, &end, &after, &scan_end, &beyond);
  if (rc) return rc;
  if (sealed && end != sealed)
    return evs_err(s, EVS_ECORRUPT,
                   "segment %s: damaged record at offset %" PRIu64 " in a sealed segment",
                   path, scan_end);
  if (end == from) return 0;
  pthread_rwlock_wrlock(&s->ilock);
  rc = evs_log_reserve(s, g, end);
  if (!rc) {
    g->size = end; /* (replay bounds the segment's ids by its size) */
    rc = evs_log_replay(s, &s->state, g, from, end, path);
  }
  uint64_t had = s->vis_n;
  if (!rc) s->vis_n = s->state.idx.n;
  else g->size = from;
  pthread_rwlock_unlock(&s->ilock);
  if (!rc && s->vis_n > had) evs_events_arrived(s);
  return rc;
}

int evs_log_follow(evs_store *s, int *relayout) {
  *relayout = 0;
  char mpath[EVS_PATH_BUF];
  snprintf(mpath, sizeof mpath, "%s/%s", s->dir, EVS_MANIFEST_NAME);
  struct stat now, had;
  if (stat(mpath, &now)) {
    if (errno == ENOENT)
      return evs_err(s, EVS_ENOTFOUND, "%s is gone: the store was dropped", mpath);
    return evs_err_io(s, errno, "cannot stat", mpath);
  }
  if (fstat(s->man_fd, &had)) return evs_err_io(s, errno, "cannot stat", mpath);
  if (now.st_ino == had.st_ino && now.st_dev == had.st_dev)
    return follow_segment(s, s->nsegs - 1, 0);
  /* A new manifest: a roll (same layout, more segments) is followed; any
  ** other change (compaction, repair, a store put in its place) is for
  ** the caller to load again. */
  int fd;
  uint8_t *buf;
  size_t n;
  int e = evs_io_read_file_keep(s->io, s->dir, EVS_MANIFEST_NAME, &buf, &n, &fd);
  if (e == -ENOENT) return evs_err(s, EVS_ENOTFOUND, "%s is gone: the store was dropped", mpath);
  if (e == -ENOMEM) return evs_err(s, EVS_ENOMEM, "out of memory");
  if (e) return evs_err_io(s, -e, "cannot read", mpath);
  evs_manifest m;
  int rc = manifest_parse(s, buf, n, mpath, &m);
  if (rc) {
    s->io->close(s->io->ctx, fd);
    return rc;
  }
  size_t last = s->nsegs - 1;
  int same = m.store_id == s->meta.store_id && m.layout == s->man_layout &&
             m.generation > s->man_gen && m.count >= s->nsegs;
  for (size_t i = 0; same && i < s->nsegs; i++)
    same = m.segno[i] == s->segs[i]->no && (i == last || m.size[i] == s->segs[i]->size);
  if (!same) {
    *relayout = 1;
  } else {
    rc = follow_segment(s, last, m.count > s->nsegs ? m.size[last] : 0);
    for (size_t j = s->nsegs; !rc && j < m.count; j++) {
      evs_seg *g;
      uint64_t sealed = j + 1 < m.count ? m.size[j] : 0;
      rc = map_segment(s, m.segno[j], sealed, &g);
      /* Gone since the manifest was read: a compaction came after the
      ** roll. Load again. */
      struct stat again;
      if (rc == EVS_ECORRUPT && stat(mpath, &again) == 0 && again.st_ino != now.st_ino) {
        rc = 0;
        *relayout = 1;
        break;
      }
      if (rc) break;
      if (g->first_id < s->segs[j - 1]->first_id) {
        evs_seg_free(s, g);
        rc = evs_err(s, EVS_ECORRUPT, "%s: segment %" PRIu64 " starts at an id below the one before it",
                     mpath, m.segno[j]);
        break;
      }
      g->size = EVS_SEG_HDR; /* nothing of it seen yet */
      g->checked = 1;        /* follow_segment checks every record */
      pthread_rwlock_wrlock(&s->ilock);
      rc = evs_seg_add(s, g);
      if (!rc) s->cur = g;
      pthread_rwlock_unlock(&s->ilock);
      if (rc) {
        evs_seg_free(s, g);
        break;
      }
      rc = follow_segment(s, j, sealed);
    }
  }
  if (!rc && !*relayout) {
    s->io->close(s->io->ctx, s->man_fd);
    s->man_fd = fd;
    s->man_gen = m.generation;
  } else {
    s->io->close(s->io->ctx, fd);
  }
  free(m.segno);
  free(m.size);
  return rc;
}
