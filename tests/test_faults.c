/*
** test_faults.c: I/O errors, injected through the I/O table.
**
** A fault-injecting evs_io (wrapping the POSIX one) fails one chosen call:
**   eio, enospc    the Nth call of any kind (open, pwrite, fdatasync, fsync,
**                  ftruncate, rename, unlink) fails with EIO / ENOSPC,
**                  doing nothing;
**   short          the Nth pwrite writes only part and returns the partial
**                  count (the library must loop: nothing may fail);
**   short+enospc   the Nth pwrite writes part, the next one fails ENOSPC
**                  (a disk filling up in the middle of a write);
**   fdatasync      the Nth fdatasync fails (EIO);
**   fsync          the Nth fsync (of the directory) fails;
**   ftruncate      the Nth ftruncate fails (an undo that cannot be done);
**   rename         the Nth rename fails;
**   open           the Nth open fails (EMFILE);
**   write+undo     the Nth pwrite fails (EIO) and so does the ftruncate that
**                  tries to undo it;
**   full-disk      the Nth pwrite and the next three fail with ENOSPC, then
**                  space is back (a full disk, then freed).
** The real fdatasync/fsync are not called (without a power loss they change
** nothing observable, and they would make the runs slow).
**
** A scripted workload (sync FULL, segment_size 4096: open of a new store,
** appends with a key, a duplicate of that key, a batch, an ack, a batch ack,
** a delete, a > 4 MiB transaction written out in pieces before its commit,
** one rolled back (the segment is truncated back), a small rollback, a
** savepoint rolled back to, a transaction with appends and an ack, 30
** appends that roll segments, evs_store_sync, close) runs with N = 1, 2,
** 3, ... for each kind until a run completes without reaching the fault.
** For each run:
**  - the call that hits the fault returns EVS_EIO or EVS_ENOSPC (ENOSPC for
**    an injected ENOSPC), and evs_errmsg gives the system error and names
**    the file (".evlog", "evstore.meta" or the directory: README, "Errors":
**    "message names the file"); messages that do not are collected and
**    reported once per kind of call, as one failed check;
**  - afterwards the store keeps working: every later operation succeeds
**    (full-disk: fails with EVS_ENOSPC while the disk is full, cleanly), and
**    a failed evs_store_open, retried, succeeds. The exceptions (README, "I/O
**    errors"): after a failed fdatasync of a segment holding records (a
**    commit's sync) or a failed undo (ftruncate) every later write must be
**    refused with EVS_EREADONLY, reads going on (evs_store_sync and close
**    may then fail with EVS_EIO saying the store is read-only); after a
**    failed fdatasync of a new segment's header (the file is removed)
**    either is accepted;
**  - before close, the open handle passes evs_verify and shows exactly
**    what was acknowledged (with the exception below);
**  - reopened with the real I/O, the store holds exactly the effects of
**    the operations that returned 0 and nothing else; evs_verify returns 0;
**    a new append gets id next_id.
** The exception, precisely: in sync FULL, an evs_append, evs_append_batch,
** evs_ack, evs_ack_batch, evs_delete or evs_txn_commit that returns
** EVS_EIO/EVS_ENOSPC because the fdatasync after its (completely written)
** commit record failed. Its outcome is unknown (the kernel may have kept or
** dropped the pages), so the store may hold all of that operation or none
** of it, never part. To see both, every other such run drops the pages:
** the file is cut back to its size at the last good fdatasync before the
** reopen. Every other failed operation (a failed or short write, the roll
** to a new segment before anything was written, an open, a rename, a
** directory fsync, an undo) must have left nothing of itself.
** EVS_FAULT_KIND=<name> and EVS_FAULT_N=<n> run one case, verbosely.
*/
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "io.h"
#include "gen.h"
#include "testlib.h"


static int verbose;

/* ---- the fault-injecting I/O ------------------------------------------- */

enum {
  F_EIO,
  F_ENOSPC,
  F_SHORT,
  F_SHORT_ENOSPC,
  F_FDATASYNC,
  F_FSYNC,
  F_FTRUNCATE,
  F_RENAME,
  F_OPEN,
  F_UNDO,
  F_FULL_DISK,
  F_NKINDS
};
static const char *kind_names[] = {"eio",   "enospc",    "short",  "short+enospc",
                                   "fdatasync", "fsync", "ftruncate", "rename",
                                   "open",  "write+undo", "full-disk"};
#define FULL_DISK_WRITES 4 /* full-disk: this many pwrites fail, then space is back */

enum { C_OPEN, C_PWRITE, C_FDATASYNC, C_FSYNC, C_FTRUNCATE, C_RENAME, C_UNLINK };
static const char *call_names[] = {"open", "pwrite", "fdatasync", "fsync",
                                   "ftruncate", "rename", "unlink"};

#define MAXFD 4096
typedef struct fio {
  int kind;
  uint64_t n;       /* which call (of the counted kind) fails */
  uint64_t count;   /* calls counted so far */
  int fired;        /* the fault happened */
  int fired_call;   /* C_* of the failed call */
  int fired_op;     /* the workload step it happened in */
  int fired_errno;
  int fired_evlog;  /* the call was on a segment file */
  int fired_after_records; /* records of this step were written before it */
  int fired_seg_has_records; /* the fdatasync'd segment holds records */
  int enospc_next;  /* short+enospc: fail the next pwrite */
  int undo_next;    /* write+undo: fail the ftruncate right after */
  int undo_failed;  /* ... and it did */
  int full_left;    /* full-disk: pwrites still to refuse */
  int full_in_op;   /* full-disk: a pwrite of this step was refused */
  char *path[MAXFD];
  uint64_t synced[MAXFD]; /* size at the last good fdatasync */
  char lost_path[1024];   /* the file whose fdatasync failed ... */
  uint64_t lost_size;     /* ... and its size at the last good one */
  int op;           /* current workload step */
  int records_in_op;
  char evlog[MAXFD];
  uint64_t fsize[MAXFD]; /* bytes written, for the "holds records" test */
} fio;

static int counts(const fio *f, int call) {
  switch (f->kind) {
  case F_EIO:
  case F_ENOSPC: return 1;
  case F_SHORT:
  case F_SHORT_ENOSPC:
  case F_UNDO:
  case F_FULL_DISK: return call == C_PWRITE;
  case F_FDATASYNC: return call == C_FDATASYNC;
  case F_FSYNC: return call == C_FSYNC;
  case F_FTRUNCATE: return call == C_FTRUNCATE;
  case F_RENAME: return call == C_RENAME;
  case F_OPEN: return call == C_OPEN;
  }
  return 0;
}

/* Is this the call that fails? */
static int hit(fio *f, int call, int fd) {
  if (f->fired || !counts(f, call)) return 0;
  if (++f->count != f->n) return 0;
  f->fired = 1;
  f->fired_call = call;
  f->fired_op = f->op;
  f->fired_evlog = fd >= 0 && fd < MAXFD && f->evlog[fd];
  f->fired_after_records = f->records_in_op;
  f->fired_seg_has_records = f->fired_evlog && f->fsize[fd] > 64;
  f->fired_errno = f->kind == F_ENOSPC || f->kind == F_SHORT_ENOSPC || f->kind == F_FULL_DISK
                      ? ENOSPC
                  : f->kind == F_OPEN                             ? EMFILE
                                                                  : EIO;
  return 1;
}

/* Any call but the ftruncate right after the failed write disarms it. */
static void not_undo(fio *f) { f->undo_next = 0; }

static int fi_open(void *ctx, const char *path, int flags, int mode) {
  fio *f = ctx;
  not_undo(f);
  if (hit(f, C_OPEN, -1)) return -f->fired_errno;
  int fd = evs_io_posix.open(NULL, path, flags, mode);
  if (fd >= 0 && fd < MAXFD) {
    f->evlog[fd] = strstr(path, ".evlog") != NULL;
    struct stat st;
    f->fsize[fd] = f->synced[fd] = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    free(f->path[fd]);
    f->path[fd] = strdup(path);
  }
  return fd;
}

static int fi_close(void *ctx, int fd) { return evs_io_posix.close(NULL, fd); }

static ssize_t fi_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off) {
  fio *f = ctx;
  not_undo(f);
  if (f->enospc_next) {
    f->enospc_next = 0;
    return -ENOSPC;
  }
  int is_rec = fd >= 0 && fd < MAXFD && f->evlog[fd] && off >= 64;
  if (f->full_left) {
    f->full_left--;
    f->full_in_op = 1;
    return -ENOSPC;
  }
  if (hit(f, C_PWRITE, fd)) {
    if (f->kind == F_FULL_DISK) {
      f->full_left = FULL_DISK_WRITES - 1;
      f->full_in_op = 1;
    }
    if (f->kind == F_SHORT || f->kind == F_SHORT_ENOSPC) {
      size_t part = n > 1 ? n / 2 : n;
      ssize_t r = evs_io_posix.pwrite(NULL, fd, b, part, off);
      if (f->kind == F_SHORT_ENOSPC) f->enospc_next = 1;
      if (r > 0 && is_rec) f->records_in_op = 1;
      return r;
    }
    if (f->kind == F_UNDO) f->undo_next = 1;
    return -f->fired_errno;
  }
  ssize_t r = evs_io_posix.pwrite(NULL, fd, b, n, off);
  if (r > 0 && is_rec) f->records_in_op = 1;
  if (r > 0 && fd >= 0 && fd < MAXFD && (uint64_t)off + (uint64_t)r > f->fsize[fd])
    f->fsize[fd] = (uint64_t)off + (uint64_t)r;
  return r;
}

static ssize_t fi_pread(void *ctx, int fd, void *b, size_t n, off_t off) {
  return evs_io_posix.pread(NULL, fd, b, n, off);
}

/* The real syncs are skipped: without a power loss they change nothing
** that can be observed, and they would make the test slow. */
static int fi_fdatasync(void *ctx, int fd) {
  fio *f = ctx;
  not_undo(f);
  if (hit(f, C_FDATASYNC, fd)) {
    if (fd >= 0 && fd < MAXFD && f->path[fd]) {
      snprintf(f->lost_path, sizeof f->lost_path, "%s", f->path[fd]);
      f->lost_size = f->synced[fd];
    }
    return -f->fired_errno;
  }
  if (fd >= 0 && fd < MAXFD) f->synced[fd] = f->fsize[fd];
  return 0;
}
static int fi_fsync(void *ctx, int fd) {
  not_undo(ctx);
  if (hit(ctx, C_FSYNC, fd)) return -((fio *)ctx)->fired_errno;
  return 0;
}
static int fi_ftruncate(void *ctx, int fd, off_t len) {
  fio *f = ctx;
  if (f->undo_next) {
    f->undo_next = 0;
    f->undo_failed = 1;
    return -EIO;
  }
  if (hit(f, C_FTRUNCATE, fd)) return -f->fired_errno;
  int r = evs_io_posix.ftruncate(NULL, fd, len);
  if (!r && fd >= 0 && fd < MAXFD) f->fsize[fd] = (uint64_t)len;
  return r;
}
static int fi_rename(void *ctx, const char *a, const char *b) {
  not_undo(ctx);
  if (hit(ctx, C_RENAME, -1)) return -((fio *)ctx)->fired_errno;
  return evs_io_posix.rename(NULL, a, b);
}
static int fi_unlink(void *ctx, const char *p) {
  not_undo(ctx);
  if (hit(ctx, C_UNLINK, -1)) return -((fio *)ctx)->fired_errno;
  return evs_io_posix.unlink(NULL, p);
}
static int fi_fsize(void *ctx, int fd, uint64_t *size) {
  return evs_io_posix.fsize(NULL, fd, size);
}

/* ---- events and expected state ------------------------------------------ */

#define BIG_BIT (UINT64_C(1) << 62)


static void gen(uint64_t seed, gen_ev *g) {
  uint64_t h = mix64(seed ^ UINT64_C(0x99));
  snprintf(g->source, sizeof g->source, "src%u", (unsigned)(h % 3));
  snprintf(g->type, sizeof g->type, "type.%u", (unsigned)((h >> 8) % 4));
  g->has_key = (seed & ~BIG_BIT) % 4 == 1;
  snprintf(g->key, sizeof g->key, "key-%" PRIu64, seed);
  g->has_meta = 0;
  g->prio = 1 + (int)((h >> 24) % 3);
  size_t len = (seed & BIG_BIT) ? 385000 + h % 5000 : 100 + (h >> 32) % 200;
  gen_payload(g, seed, h, len);
}


enum { E_EV = 1, E_ACK, E_DEL };
typedef struct eff {
  int kind;
  uint64_t id, seed;
} eff;

enum { S_NONE = 0, S_PENDING, S_ACKED, S_DELETED };
#define MAXID 512

typedef struct state {
  uint8_t st[MAXID];
  uint64_t seed[MAXID];
  uint64_t next_id;
} state;

static void state_apply(state *s, const eff *e, int n) {
  for (int k = 0; k < n; k++) {
    if (e[k].id >= MAXID) continue;
    if (e[k].kind == E_EV) {
      s->st[e[k].id] = S_PENDING;
      s->seed[e[k].id] = e[k].seed;
      if (e[k].id >= s->next_id) s->next_id = e[k].id + 1;
    } else {
      s->st[e[k].id] = e[k].kind == E_ACK ? S_ACKED : S_DELETED;
    }
  }
}

static int state_matches(evs_store *s, const state *x, char *why, size_t whylen) {
  evs_stats st;
  if (evs_stats_get(s, &st)) return snprintf(why, whylen, "stats failed"), 1;
  if (st.next_id != x->next_id)
    return snprintf(why, whylen, "next_id %" PRIu64 ", expected %" PRIu64, st.next_id,
                    x->next_id), 1;
  uint64_t pend = 0, acked = 0;
  for (uint64_t id = 1; id < x->next_id; id++) {
    int want = x->st[id];
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, id, &e);
    int got = rc == EVS_ENOTFOUND ? S_DELETED
              : rc                ? -1
              : e->status == EVS_STATUS_ACKNOWLEDGED ? S_ACKED : S_PENDING;
    int ok = got == (want == S_NONE ? S_DELETED : want);
    if (ok && !rc) {
      gen_ev g;
      gen(x->seed[id], &g);
      ok = !gen_diff(e, &g);
      free(g.payload);
      if (!ok) {
        evs_event_free(e);
        return snprintf(why, whylen, "event %" PRIu64 ": content differs", id), 1;
      }
    }
    evs_event_free(e);
    if (!ok)
      return snprintf(why, whylen, "event %" PRIu64 ": state %d (rc %d), expected %d", id, got,
                      rc, want), 1;
    pend += want == S_PENDING;
    acked += want == S_ACKED;
  }
  if (st.pending != pend || st.acknowledged != acked)
    return snprintf(why, whylen, "counts %" PRIu64 "/%" PRIu64 ", expected %" PRIu64 "/%" PRIu64,
                    st.pending, st.acknowledged, pend, acked), 1;
  return 0;
}

/* ---- the workload ----------------------------------------------------- */

enum {
  W_OPEN,
  W_A1, /* keyed */
  W_A2,
  W_A3,
  W_DUP, /* the key of W_A1 again */
  W_BATCH,
  W_ACK,
  W_ACKB,
  W_DEL,
  W_BIG_COMMIT,
  W_BIG_ROLLBACK,
  W_SMALL_ROLLBACK,
  W_SAVEPOINT,
  W_TXN,
  W_APPENDS, /* W_APPENDS .. W_APPENDS + NAPP - 1: single appends, rolling */
  NAPP = 30,
  W_SYNC = W_APPENDS + NAPP,
  W_CLOSE,
  W_NSTEPS
};

typedef struct run {
  fio f;
  evs_io io;
  char *dir;
  evs_store *s;
  state live;       /* effects of the steps that returned 0 */
  eff maybe[16];    /* the step whose outcome is unknown */
  int nmaybe, has_maybe;
  int readonly_seen;
  int bad;
} run;

static evs_options fault_opts(void) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = EVS_SYNC_FULL;
  o.segment_size = 4096;
  /* Background work would make the I/O sequence nondeterministic. */
  o.auto_compact_percent = -1;
  o.compress_threshold = UINT32_MAX;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  return o;
}

#define FAILF(...)                                    \
  do {                                                \
    fprintf(stderr, "  [%s N=%" PRIu64 "] ", kind_names[z->f.kind], z->f.n); \
    fprintf(stderr, __VA_ARGS__);                     \
    fprintf(stderr, "\n");                            \
    CHECK(0);                                         \
    z->bad = 1;                                       \
  } while (0)

static uint64_t pending_at(const run *z, int k) {
  for (uint64_t id = 1; id < z->live.next_id; id++)
    if (z->live.st[id] == S_PENDING && k-- == 0) return id;
  return 0;
}

static int append_to(run *z, evs_txn *t, uint64_t seed, eff *e, int *ne, uint64_t want_id) {
  gen_ev g;
  gen(seed, &g);
  evs_event_in in = gen_in(&g);
  evs_append_result r;
  int rc = evs_append(z->s, t, &in, &r);
  free(g.payload);
  if (!rc && r.id != want_id) FAILF("append got id %" PRIu64 ", expected %" PRIu64, r.id, want_id);
  e[(*ne)++] = (eff){E_EV, want_id, seed};
  return rc;
}

/* Run step w; fills its effects (as if it succeeded) and returns its rc. */
static int do_step(run *z, int w, eff *e, int *ne) {
  uint64_t next = z->live.next_id;
  int rc;
  *ne = 0;
  if (w == W_OPEN) {
    evs_options o = fault_opts();
    rc = evs_store_open_io(z->dir, &o, &z->io, &z->s);
    if (rc) z->s = NULL;
    return rc;
  }
  if (w == W_CLOSE) {
    rc = evs_store_close(z->s);
    z->s = NULL;
    return rc;
  }
  if (w == W_SYNC) return evs_store_sync(z->s);
  if (w >= W_A1 && w <= W_A3) return append_to(z, NULL, (uint64_t)(w - W_A1 + 1), e, ne, next);
  if (w >= W_APPENDS && w < W_APPENDS + NAPP)
    return append_to(z, NULL, 100 + (uint64_t)(w - W_APPENDS), e, ne, next);
  switch (w) {
  case W_DUP: {
    /* Seed 1 is keyed: a duplicate if that append is in, else new. */
    uint64_t orig = 0;
    for (uint64_t id = 1; id < next; id++)
      if (z->live.seed[id] == 1 && (z->live.st[id] == S_PENDING || z->live.st[id] == S_ACKED))
        orig = id;
    gen_ev g;
    gen(1, &g);
    evs_event_in in = gen_in(&g);
    evs_append_result r;
    rc = evs_append(z->s, NULL, &in, &r);
    free(g.payload);
    if (!orig) {
      if (!rc && r.id != next) FAILF("append got id %" PRIu64 ", expected %" PRIu64, r.id, next);
      e[(*ne)++] = (eff){E_EV, next, 1};
    } else if (!rc && (!r.duplicate || r.id != orig)) {
      FAILF("duplicate key: duplicate %d id %" PRIu64 ", expected 1 and %" PRIu64, r.duplicate,
            r.id, orig);
    }
    return rc;
  }
  case W_BATCH: {
    gen_ev g[5];
    evs_event_in in[5];
    evs_append_result res[5];
    for (int k = 0; k < 5; k++) {
      gen(10 + (uint64_t)k, &g[k]);
      in[k] = gen_in(&g[k]);
      e[(*ne)++] = (eff){E_EV, next + (uint64_t)k, 10 + (uint64_t)k};
    }
    rc = evs_append_batch(z->s, NULL, in, 5, res);
    for (int k = 0; k < 5; k++) {
      free(g[k].payload);
      if (!rc && (res[k].rc || res[k].id != next + (uint64_t)k))
        FAILF("batch item %d: rc %d id %" PRIu64, k, res[k].rc, res[k].id);
    }
    return rc;
  }
  case W_ACK: {
    uint64_t id = pending_at(z, 0);
    if (!id) return 0;
    e[(*ne)++] = (eff){E_ACK, id, 0};
    return evs_ack(z->s, NULL, id, NULL);
  }
  case W_ACKB: {
    uint64_t ids[3];
    int rcs[3], n = 0;
    for (int k = 0; k < 3; k++)
      if ((ids[n] = pending_at(z, k))) e[(*ne)++] = (eff){E_ACK, ids[n++], 0};
    if (!n) return 0;
    rc = evs_ack_batch(z->s, NULL, ids, (size_t)n, rcs);
    for (int k = 0; !rc && k < n; k++)
      if (rcs[k]) FAILF("ack batch item %d: rc %d", k, rcs[k]);
    return rc;
  }
  case W_DEL: {
    uint64_t id = pending_at(z, 1);
    if (!id) return 0;
    e[(*ne)++] = (eff){E_DEL, id, 0};
    int existed = 0;
    rc = evs_delete(z->s, NULL, id, &existed);
    if (!rc && !existed) FAILF("delete of %" PRIu64 ": did not exist", id);
    return rc;
  }
  case W_BIG_COMMIT:
  case W_BIG_ROLLBACK:
  case W_SMALL_ROLLBACK: {
    evs_txn *t = NULL;
    rc = evs_txn_begin(z->s, &t);
    if (rc) return rc;
    int n = w == W_SMALL_ROLLBACK ? 2 : 11;
    uint64_t base = w == W_BIG_COMMIT ? 20 : 40;
    for (int k = 0; k < n && !rc; k++)
      rc = append_to(z, t, (base + (uint64_t)k) | (w == W_SMALL_ROLLBACK ? 0 : BIG_BIT), e, ne,
                     next + (uint64_t)k);
    if (w != W_BIG_COMMIT) *ne = 0; /* rolled back: no effect */
    if (rc) {
      /* A failed write inside the transaction: it is refused from here on;
      ** roll back (the undo itself may fail: then EVS_EREADONLY follows). */
      evs_txn_rollback(t);
      return rc;
    }
    return w == W_BIG_COMMIT ? evs_txn_commit(t) : evs_txn_rollback(t);
  }
  case W_SAVEPOINT: {
    evs_txn *t = NULL;
    rc = evs_txn_begin(z->s, &t);
    if (rc) return rc;
    eff undone[2];
    int nu = 0;
    rc = append_to(z, t, 60, e, ne, next);
    if (!rc) rc = evs_txn_savepoint(t, 0);
    if (!rc) rc = append_to(z, t, 61, undone, &nu, next + 1);
    if (!rc) rc = evs_txn_rollback_to(t, 0);
    if (rc) {
      evs_txn_rollback(t);
      return rc;
    }
    return evs_txn_commit(t);
  }
  case W_TXN: {
    evs_txn *t = NULL;
    rc = evs_txn_begin(z->s, &t);
    if (rc) return rc;
    rc = append_to(z, t, 70, e, ne, next);
    if (!rc) rc = append_to(z, t, 71, e, ne, next + 1);
    uint64_t id = pending_at(z, 0);
    if (!rc && id) {
      e[(*ne)++] = (eff){E_ACK, id, 0};
      rc = evs_ack(z->s, t, id, NULL);
    }
    if (rc) {
      evs_txn_rollback(t);
      return rc;
    }
    return evs_txn_commit(t);
  }
  }
  return 0;
}

static int is_write_step(int w) { return w != W_OPEN && w != W_CLOSE && w != W_SYNC; }

/* Messages that do not name the file or the error, by kind of call: the
** first one and a count (reported once at the end, not per run). */
static char msg_issue[C_UNLINK + 1][400];
static uint64_t n_msg_issues[C_UNLINK + 1];

/* Does the message name a file of the store, and the system error? */
static void check_message(run *z, int w, const char *msg) {
  if (!msg || !*msg) {
    FAILF("step %d: empty error message", w);
    return;
  }
  int c = z->f.fired_call;
  const char *bad = NULL;
  if (!strstr(msg, ".evlog") && !strstr(msg, "evstore.meta") && !strstr(msg, z->dir))
    bad = "does not name the file";
  else if (!strstr(msg, strerror(z->f.fired_errno)))
    bad = "does not give the system error";
  if (!bad) return;
  if (!n_msg_issues[c]++)
    snprintf(msg_issue[c], sizeof msg_issue[c], "a failed %s (%s, N=%" PRIu64 ", step %d): "
             "the message %s: \"%s\"", call_names[c], kind_names[z->f.kind], z->f.n, w, bad,
             msg);
}

/* One failed check per kind of call whose messages fell short. */
static void report_msg_issues(void) {
  for (int c = 0; c <= C_UNLINK; c++)
    if (n_msg_issues[c]) {
      fprintf(stderr, "  %" PRIu64 " runs: %s\n", n_msg_issues[c], msg_issue[c]);
      CHECK(0);
      n_msg_issues[c] = 0;
    }
}

static int recovery_one(int kind, uint64_t n, int flavor);

static uint64_t n_runs[F_NKINDS], n_readonly[F_NKINDS], n_maybe_kept[F_NKINDS],
    n_maybe_dropped[F_NKINDS];

/* One run of the workload with the fault at N. Returns 1 when the fault was
** reached. */
static int run_one(int kind, uint64_t n) {
  run *z = calloc(1, sizeof *z);
  z->f.kind = kind;
  z->f.n = n;
  z->io = (evs_io){fi_open,      fi_close,  fi_pwrite, fi_pread,  fi_fdatasync, fi_fsync,
                   fi_ftruncate, fi_rename, fi_unlink, fi_fsize,  &z->f};
  z->dir = t_tmpdir();
  z->live.next_id = 1;
  int expect_readonly = 0; /* decided when the fault fires */
  int may_readonly = 0;

  for (int w = 0; w < W_NSTEPS && !z->bad; w++) {
    if (w != W_OPEN && !z->s) break; /* the store is gone */
    z->f.op = w;
    z->f.records_in_op = 0;
    z->f.full_in_op = 0;
    if (w == W_CLOSE && z->s) {
      /* Before closing: the open handle is consistent and shows what was
      ** acknowledged (and the unknown step entirely or not at all). */
      int vrc = evs_verify(z->s, NULL);
      if (vrc) FAILF("evs_verify of the open handle: %s", evs_errmsg(z->s));
      char why[200] = "", why2[200] = "";
      int ok = !state_matches(z->s, &z->live, why, sizeof why);
      if (!ok && z->has_maybe) {
        state with = z->live;
        state_apply(&with, z->maybe, z->nmaybe);
        ok = !state_matches(z->s, &with, why2, sizeof why2);
      }
      if (!ok) FAILF("the open handle shows something else than was acknowledged (%s%s%s)", why,
                     z->has_maybe ? "; with the unknown step: " : "", why2);
    }
    int fired_before = z->f.fired;
    eff e[16];
    int ne = 0;
    int rc = do_step(z, w, e, &ne);
    int fired_now = z->f.fired && !fired_before;
    if (z->f.undo_failed) expect_readonly = 1; /* the undo of the write failed */
    if (fired_now) {
      /* What the documentation says must follow. */
      int c = z->f.fired_call;
      if (c == C_FTRUNCATE) expect_readonly = 1;
      if (c == C_FDATASYNC && z->f.fired_evlog) {
        if (z->f.fired_seg_has_records)
          expect_readonly = 1; /* a commit's sync, or the sync before a roll */
        else
          may_readonly = 1; /* a new segment's header: the file is removed */
      }
      if (verbose)
        fprintf(stderr, "  step %d: fault at %s (%s), rc %d: %s\n", w, call_names[c],
                z->f.fired_evlog ? "segment" : "other", rc, evs_errmsg(w == W_OPEN ? NULL : z->s));
    }
    if (!rc) {
      if (fired_now && (kind != F_SHORT)) {
        /* A fault was reached but the call says it succeeded: only fine if
        ** the library's answer did not depend on it (none such here). */
        FAILF("step %d: returned 0 although its %s failed", w, call_names[z->f.fired_call]);
      }
      if (z->readonly_seen && is_write_step(w) && ne)
        FAILF("step %d: a write succeeded after EVS_EREADONLY", w);
      state_apply(&z->live, e, ne);
      continue;
    }
    /* An error. */
    const char *msg = evs_errmsg(w == W_OPEN || w == W_CLOSE ? NULL : z->s);
    if (rc > 0 || rc < EVS_EMISUSE) FAILF("step %d: rc %d is not an EVS_E* code", w, rc);
    if (!z->f.fired) {
      FAILF("step %d: rc %d without a fault: %s", w, rc, msg);
      break;
    }
    if (kind == F_SHORT) FAILF("step %d: a short write was not completed: rc %d: %s", w, rc, msg);
    if (fired_now) {
      if (rc != EVS_EIO && rc != EVS_ENOSPC)
        FAILF("step %d: rc %d (%s) for an injected %s", w, rc, evs_strerror(rc),
              strerror(z->f.fired_errno));
      if (z->f.fired_errno == ENOSPC && rc != EVS_ENOSPC)
        FAILF("step %d: ENOSPC reported as %d", w, rc);
      check_message(z, w, msg);
      /* Unknown outcome only when the commit's records were written and
      ** the fdatasync after them failed. */
      if (z->f.fired_call == C_FDATASYNC && z->f.fired_after_records && ne) {
        memcpy(z->maybe, e, sizeof e);
        z->nmaybe = ne;
        z->has_maybe = 1;
      }
      if (w == W_OPEN) {
        /* The failed open left a directory that opens (once the disk has
        ** space again). */
        int rc2 = 0;
        for (int k = 0; k <= FULL_DISK_WRITES; k++) {
          z->f.full_in_op = 0;
          rc2 = do_step(z, W_OPEN, e, &ne);
          if (rc2 != EVS_ENOSPC || !z->f.full_in_op) break;
        }
        if (rc2) FAILF("open after a failed open: rc %d: %s", rc2, evs_errmsg(NULL));
      }
      continue;
    }
    if (kind == F_FULL_DISK && z->f.full_in_op && rc == EVS_ENOSPC) {
      /* The disk is still full: a clean failure, nothing of it stored. */
      check_message(z, w, msg);
      continue;
    }
    /* A later step failed: only EVS_EREADONLY is acceptable, and only when
    ** the fault was one after which the store must refuse writes. */
    if (rc == EVS_EREADONLY) {
      if (!z->readonly_seen) {
        /* Reads go on. */
        uint64_t id = pending_at(z, 0);
        evs_event *ev = NULL;
        if (id && evs_get(z->s, NULL, id, &ev)) FAILF("evs_get after EVS_EREADONLY failed");
        evs_event_free(ev);
        evs_page *pg = NULL;
        evs_query q;
        memset(&q, 0, sizeof q);
        if (evs_inbox(z->s, NULL, &q, &pg)) FAILF("evs_inbox after EVS_EREADONLY failed");
        evs_page_free(pg);
      }
      z->readonly_seen = 1;
      if (!expect_readonly && !may_readonly)
        FAILF("step %d: EVS_EREADONLY after a %s failure, which is undone: %s", w,
              call_names[z->f.fired_call], msg);
      if (!msg || !*msg) FAILF("step %d: empty message", w);
      continue;
    }
    if ((w == W_CLOSE || w == W_SYNC) && (expect_readonly || may_readonly) &&
        (rc == EVS_EIO || rc == EVS_ENOSPC)) {
      /* Sync (or close, which syncs) of a store that lost a sync: it
      ** cannot promise durability; the message must say why. */
      if (!strstr(msg, "read-only")) FAILF("step %d: rc %d: %s", w, rc, msg);
      continue;
    }
    FAILF("step %d: rc %d after the fault at step %d: %s", w, rc, z->f.fired_op, msg);
  }
  if (z->f.fired && expect_readonly && !z->readonly_seen && !z->bad) {
    /* Every write step after the fault should have been refused; were
    ** there any? (the fault may have been in the last writes) */
    int later_writes = 0;
    for (int w = z->f.fired_op + 1; w < W_CLOSE; w++) later_writes += is_write_step(w);
    if (later_writes && z->f.fired_op < W_SYNC)
      FAILF("no EVS_EREADONLY after a failed %s at step %d", call_names[z->f.fired_call],
            z->f.fired_op);
  }
  if (z->readonly_seen) n_readonly[kind]++;

  /* The handle, if still open (the workload stopped early): verify. */
  if (z->s) {
    CHECK_EQ(evs_verify(z->s, NULL), 0);
    evs_store_close(z->s);
    z->s = NULL;
  }
  /* After a failed fdatasync the kernel may have dropped the dirty pages:
  ** in every other run, lose what was written since the last good one. */
  int dropped = 0;
  if (z->has_maybe && n % 2 == 0 && z->f.lost_path[0]) {
    struct stat st;
    if (stat(z->f.lost_path, &st) == 0 && (uint64_t)st.st_size > z->f.lost_size) {
      CHECK_EQ(truncate(z->f.lost_path, (off_t)z->f.lost_size), 0);
      dropped = 1;
    }
  }

  /* Reopen with the real I/O: exactly what was acknowledged (and the
  ** unknown step entirely or not at all). */
  evs_options o = fault_opts();
  evs_store *s = NULL;
  int rc = evs_store_open(z->dir, &o, &s);
  if (rc) FAILF("reopen with the real I/O: rc %d: %s", rc, evs_errmsg(NULL));
  if (s) {
    char why[200] = "", why2[200] = "";
    int ok = !state_matches(s, &z->live, why, sizeof why);
    if (ok && z->has_maybe) n_maybe_dropped[kind]++;
    if (!ok && dropped) FAILF("pages lost after the failed fdatasync, yet: %s", why);
    if (!ok && z->has_maybe) {
      state with = z->live;
      state_apply(&with, z->maybe, z->nmaybe);
      ok = !state_matches(s, &with, why2, sizeof why2);
      if (ok) n_maybe_kept[kind]++;
    }
    if (!ok)
      FAILF("after reopen the store holds %s (%s%s%s)", "something else than was acknowledged",
            why, z->has_maybe ? "; with the unknown step: " : "", why2);
    rc = evs_verify(s, NULL);
    if (rc) FAILF("evs_verify after reopen: %s", evs_errmsg(s));
    evs_stats st;
    evs_stats_get(s, &st);
    evs_event_in in = {.source = "probe", .event_type = "probe", .payload = "{}"};
    evs_append_result r;
    rc = evs_append(s, NULL, &in, &r);
    if (rc || r.id != st.next_id)
      FAILF("append after reopen: rc %d id %" PRIu64 ", next_id %" PRIu64, rc, r.id, st.next_id);
    evs_store_close(s);
  }
  int fired = z->f.fired;
  for (int fd = 0; fd < MAXFD; fd++) free(z->f.path[fd]);
  if (z->bad) fprintf(stderr, "  (replay: EVS_FAULT_KIND=%s EVS_FAULT_N=%" PRIu64 ")\n",
                      kind_names[kind], n);
  t_rmdir(z->dir);
  free(z);
  n_runs[kind]++;
  return fired;
}

static void t_faults(void) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const char *ek = getenv("EVS_FAULT_KIND"), *en = getenv("EVS_FAULT_N");
  if (ek && en) {
    verbose = 1;
    const char *er = getenv("EVS_FAULT_RECOVERY");
    for (int k = 0; k < F_NKINDS; k++)
      if (!strcmp(ek, kind_names[k])) {
        if (er)
          recovery_one(k, strtoull(en, NULL, 10), atoi(er));
        else
          run_one(k, strtoull(en, NULL, 10));
      }
    report_msg_issues();
    return;
  }
  for (int k = 0; k < F_NKINDS; k++) {
    if (ek && strcmp(ek, kind_names[k])) continue;
    int fails = 0;
    for (uint64_t n = 1; n < 100000 && fails < 5; n++) {
      int before = t_failed_checks;
      int fired = run_one(k, n);
      if (t_failed_checks != before) fails++;
      if (!fired) break;
    }
  }
  report_msg_issues();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("info: faults: fault points per kind (runs, incl. the last one that reached no fault):");
  for (int k = 0; k < F_NKINDS; k++) printf(" %s %" PRIu64 ",", kind_names[k], n_runs[k]);
  printf(" EVS_EREADONLY followed in:");
  for (int k = 0; k < F_NKINDS; k++)
    if (n_readonly[k]) printf(" %s %" PRIu64 ",", kind_names[k], n_readonly[k]);
  printf(" unknown-outcome commits kept/dropped:");
  for (int k = 0; k < F_NKINDS; k++)
    if (n_maybe_kept[k] + n_maybe_dropped[k])
      printf(" %s %" PRIu64 "/%" PRIu64 ",", kind_names[k], n_maybe_kept[k], n_maybe_dropped[k]);
  printf(" %.1f s\n",
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

/* ---- recovery under faults ---------------------------------------------- */

/* A store of 40 events over a few segments, left as a crash leaves it:
** flavor 0, the last segment ends in a torn record; flavor 1, the newest
** segment holds a torn header (a crash while it was being created). */
static void prep_crashed_store(const char *dir, int flavor, state *x) {
  evs_options o = fault_opts();
  evs_store *s = NULL;
  memset(x, 0, sizeof *x);
  x->next_id = 1;
  if (evs_store_open(dir, &o, &s)) return;
  for (uint64_t k = 0; k < 40; k++) {
    gen_ev g;
    gen(200 + k, &g);
    evs_event_in in = gen_in(&g);
    evs_append_result r;
    if (!evs_append(s, NULL, &in, &r)) {
      eff e = {E_EV, r.id, 200 + k};
      state_apply(x, &e, 1);
    }
    free(g.payload);
  }
  evs_store_close(s);
  unsigned last = 1;
  char path[1024];
  for (;; last++) {
    snprintf(path, sizeof path, "%s/%016x.evlog", dir, last + 1);
    if (access(path, F_OK)) break;
  }
  snprintf(path, sizeof path, "%s/%016x.evlog", dir, flavor ? last + 1 : last);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  char junk[100];
  for (int k = 0; k < 100; k++) junk[k] = (char)(k * 37 + 11);
  if (fd >= 0) {
    if (write(fd, junk, flavor ? 30 : 100) < 0) perror(path);
    close(fd);
  }
}

static uint64_t n_rec_runs[F_NKINDS];

static int recovery_one(int kind, uint64_t n, int flavor) {
  run *z = calloc(1, sizeof *z);
  z->f.kind = kind;
  z->f.n = n;
  z->io = (evs_io){fi_open,      fi_close,  fi_pwrite, fi_pread,  fi_fdatasync, fi_fsync,
                   fi_ftruncate, fi_rename, fi_unlink, fi_fsize,  &z->f};
  z->dir = t_tmpdir();
  prep_crashed_store(z->dir, flavor, &z->live);
  evs_options o = fault_opts();
  int rc = evs_store_open_io(z->dir, &o, &z->io, &z->s);
  if (verbose)
    fprintf(stderr, "  recovery open (flavor %d): fault %s at %s, rc %d: %s\n", flavor,
            z->f.fired ? "hit" : "not reached", z->f.fired ? call_names[z->f.fired_call] : "-",
            rc, rc ? evs_errmsg(NULL) : "ok");
  if (rc) {
    z->s = NULL;
    if (!z->f.fired) FAILF("recovery (flavor %d): open failed without a fault: %s", flavor,
                           evs_errmsg(NULL));
    else if (rc != EVS_EIO && rc != EVS_ENOSPC)
      FAILF("recovery (flavor %d): rc %d for an injected %s", flavor, rc,
            strerror(z->f.fired_errno));
    else
      check_message(z, -1, evs_errmsg(NULL));
    /* The failed open left a directory that opens (the disk has space
    ** again: full-disk refuses a few more writes). */
    for (int k = 0; k <= FULL_DISK_WRITES && rc; k++) {
      rc = evs_store_open_io(z->dir, &o, &z->io, &z->s);
      if (rc) z->s = NULL;
    }
    if (rc) FAILF("recovery (flavor %d): open after a failed open: %s", flavor, evs_errmsg(NULL));
  } else if (z->f.fired && kind != F_SHORT) {
    FAILF("recovery (flavor %d): open returned 0 although its %s failed", flavor,
          call_names[z->f.fired_call]);
  }
  int fired = z->f.fired;
  z->f.n = 0; /* no more faults */
  z->f.full_left = 0;
  if (z->s) {
    char why[200];
    if (state_matches(z->s, &z->live, why, sizeof why))
      FAILF("recovery (flavor %d): the store holds something else: %s", flavor, why);
    if (evs_verify(z->s, NULL)) FAILF("recovery: evs_verify: %s", evs_errmsg(z->s));
    eff e[1];
    int ne = 0;
    rc = append_to(z, NULL, 300, e, &ne, z->live.next_id);
    if (rc) FAILF("recovery (flavor %d): append after recovery: %s", flavor, evs_errmsg(z->s));
    else state_apply(&z->live, e, ne);
    if (evs_store_close(z->s)) FAILF("recovery: close: %s", evs_errmsg(NULL));
    z->s = NULL;
    evs_store *s = NULL;
    rc = evs_store_open(z->dir, &o, &s);
    if (rc) FAILF("recovery (flavor %d): reopen: %s", flavor, evs_errmsg(NULL));
    if (s) {
      if (state_matches(s, &z->live, why, sizeof why))
        FAILF("recovery (flavor %d): after reopen: %s", flavor, why);
      if (evs_verify(s, NULL)) FAILF("recovery: evs_verify after reopen: %s", evs_errmsg(s));
      evs_store_close(s);
    }
  }
  for (int fd = 0; fd < MAXFD; fd++) free(z->f.path[fd]);
  if (z->bad)
    fprintf(stderr, "  (replay: EVS_FAULT_KIND=%s EVS_FAULT_N=%" PRIu64 " EVS_FAULT_RECOVERY=%d)\n",
            kind_names[kind], n, flavor);
  t_rmdir(z->dir);
  free(z);
  n_rec_runs[kind]++;
  return fired;
}

/* Opening a crashed store (truncating a torn tail, re-creating a torn new
** segment) through the faulty I/O: a failed recovery is a clean error
** naming the file, a retried open recovers, nothing acknowledged is lost. */
static void t_faults_recovery(void) {
  if (getenv("EVS_FAULT_KIND") && getenv("EVS_FAULT_N")) return; /* a replay */
  static const int kinds[] = {F_EIO, F_ENOSPC, F_SHORT, F_FDATASYNC, F_FSYNC, F_FTRUNCATE, F_OPEN,
                              F_FULL_DISK};
  for (int flavor = 0; flavor < 2; flavor++)
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
      int fails = 0;
      for (uint64_t n = 1; n < 1000 && fails < 3; n++) {
        int before = t_failed_checks;
        int fired = recovery_one(kinds[i], n, flavor);
        if (t_failed_checks != before) fails++;
        if (!fired) break;
      }
    }
  report_msg_issues();
  printf("info: faults during recovery: runs per kind:");
  for (int k = 0; k < F_NKINDS; k++)
    if (n_rec_runs[k]) printf(" %s %" PRIu64, kind_names[k], n_rec_runs[k]);
  printf("\n");
}

int main(void) {
  RUN(t_faults);
  RUN(t_faults_recovery);
  return TEST_EXIT();
}
