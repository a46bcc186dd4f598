/*
** test_powerloss.c: power loss, simulated through the I/O table.
**
** A fake evs_io (wrapping the POSIX one) keeps a model of what the disk
** holds durably:
**  - per file: its content as of the last completed fdatasync/fsync, and
**    the writes and truncations since (in order);
**  - for the store directory: its entries as of the last fsync of the
**    directory, and the creations, renames and unlinks since.
** At a chosen I/O call (the crash point) the power goes: that call and
** every later one is refused (the store handle is then closed with the
** errors ignored; nothing more reaches the disk). The directory is then
** rewritten as a disk could hold it after the loss: the durable entries
** plus a prefix of the later directory operations (a file created or
** renamed but whose directory was not fsynced may vanish), and each file as
** its durable content plus a prefix of its pending writes in order, the last
** one torn at an arbitrary byte (optionally as zeros: size grown, data not
** written), later ones dropped. The call being made when the power went
** may itself be torn in. Several such disks are built from each crash.
**
** Each is reopened with the real POSIX I/O (fsyncs skipped: they cannot
** matter for a check) and must hold exactly the effects of the first j
** committed transactions, for a j in [lo, hi]:
**  - sync FULL: lo = every commit that returned 0;
**  - sync NORMAL: lo = every commit that returned before the last segment
**    roll, evs_store_sync or close (the documented sync points; seen as a
**    completed fdatasync of a segment file);
**  - hi = every commit that returned 0, plus the one in flight at the crash.
** "Exactly" means: next_id, every event's presence, status and content
** (payload, source, type, key: regenerated from a seed), and the counts;
** so no transaction is ever partly there. evs_verify must return 0, and a
** new append must get id next_id.
**
** Scenarios vary the sync mode, the workload (single, batched and keyed
** appends, acks, deletes, explicit transactions with acks, rollbacks,
** savepoints, sometimes a > 4 MiB transaction committed or rolled back,
** evs_store_sync, close and reopen), segment_size 4096 so segments roll
** often, and the crash point, which may fall in the meta file's creation, a
** segment's creation, a commit, a roll, an undo, or (in two-phase
** scenarios) in the recovery done by the next open.
**
** In two-phase scenarios one rebuilt disk is opened through a fresh fake
** (its recovery I/O modelled too), the prefix it holds is found, more work
** is done, and the power goes again, often during that open's recovery
** (truncating a torn tail, re-creating a torn new segment).
**
** Consumers: in a share of the scenarios (40%, drawn from the seed apart
** from the rest, so the others run as before) the store runs on a fake
** clock with max_deliveries 1..3, and about half the steps are consumer
** ops: claims (four consumers, one with a 100-byte name; leases of 0.5 to
** 3 s or the 30 s default; no filter, or by source, type or priority),
** evs_ack_lease and evs_ack_lease_batch, evs_renew, evs_release (now or
** after a delay), evs_reject with the current token or a stale one,
** evs_redrive (all, or one source), appends with not_before_us (in a
** transaction too) and evs_checkpoint (its leases section). Time moves on
** between steps, so leases and holds run out and events go dead. The
** model tracks per event its delivery count, token, consumer, lease or
** hold end and dead flag (a lease that ran out at max_deliveries is dead
** by the time, as tests/model.c says); each op's result (the ids a claim
** gets, a settle's rc, a redrive's count) must be what the model says, and
** a claim's tokens must be above every token seen since the state was
** known (in FULL, above every token a claim ever returned). After a power
** loss the checks above also cover, at the crash's time, each event's
** status, delivery_count, lease_token, leased_by, lease_expires_us and
** not_before_us and the leased, dead and delayed counts; the same 40 s
** later (every lease ran out); and a claim of everything then gets exactly
** the events the model says, with tokens above every token of the
** surviving commits, and evs_verify still returns 0. Prefixes can look
** alike (a redriven event looks never claimed): tokens are held to the
** lowest last token among the prefixes the store matches. A claim in
** flight at the power loss, if kept, holds tokens above the last one
** seen; phase 2 learns them.
**
** EVS_SEED=<n> replays scenario n alone, verbosely.
** EVS_POWERLOSS_SCENARIOS=<n> changes the number of scenarios (2500).
** EVS_POWERLOSS_LEASES=<pct> changes the share of consumer scenarios (40);
** e.g. EVS_POWERLOSS_LEASES=100 EVS_POWERLOSS_SCENARIOS=10000 for depth.
** Sync OFF scenarios are held to the README's "OFF: a power loss can lose
** recent commits, never part of one" and to evs_store_sync's "make every
** commit so far durable, whatever the sync mode"; EVS_POWERLOSS_OFF=0
** leaves them out.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "io.h"
#include "gen.h"
#include "testlib.h"

/* ---- randomness -------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void) { return mix64(rng_state++); }
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(unsigned pct) { return rnd_below(100) < pct; }

static int verbose;

/* ---- the model disk ---------------------------------------------------- */

typedef struct pop {
  int trunc; /* 1: ftruncate to off; 0: write len bytes at off */
  uint64_t off;
  size_t len;
  uint8_t *data;
} pop;

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
} buf;

typedef struct pinode {
  buf dur; /* content as of the last fdatasync/fsync */
  pop *ops; /* since */
  size_t nops, cap;
} pinode;

typedef struct dent {
  char name[64];
  pinode *ino;
} dent;

enum { D_CREATE, D_RENAME, D_UNLINK };
typedef struct dirop {
  int kind;
  char a[64], b[64];
  pinode *ino;
} dirop;

typedef struct ns {
  dent *e;
  size_t n, cap;
} ns;

#define MAXFD 4096
enum { C_OPEN, C_PWRITE, C_FDATASYNC, C_FSYNC, C_FTRUNCATE, C_RENAME, C_UNLINK, C_NKINDS };
static const char *call_names[] = {"open", "pwrite", "fdatasync", "fsync",
                                   "ftruncate", "rename", "unlink"};

typedef struct fakefs {
  char dir[512];
  pinode **all;
  size_t nall, capall;
  ns dur, cur;
  dirop *log;
  size_t nlog, caplog;
  pinode *fd_ino[MAXFD];
  char fd_isdir[MAXFD];
  uint64_t calls, crash_at;
  int crashed;
  int crash_kind;      /* C_* of the refused call */
  char crash_what[80]; /* what it touched */
  int creating;        /* 1 meta file, 2 segment: created, directory not yet synced */
  int crash_creating;  /* `creating` when the power went */
  uint64_t completed;  /* commits completed so far (set by the workload) */
  uint64_t sync_mark;  /* `completed` at the last fdatasync of a segment */
  /* The segment commits write to: only its fdatasync is a sync point (a
  ** segment compaction writes and syncs is not). */
  pinode *commit_ino;
  int untracked; /* set while compaction runs */
} fakefs;

static void buf_set(buf *b, size_t len) {
  if (len > b->cap) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < len) nc *= 2;
    b->p = realloc(b->p, nc);
    b->cap = nc;
  }
  if (len > b->len) memset(b->p + b->len, 0, len - b->len);
  b->len = len;
}

static void buf_write(buf *b, uint64_t off, const void *p, size_t n) {
  if (!n) return;
  if (off + n > b->len) buf_set(b, (size_t)(off + n));
  memcpy(b->p + off, p, n);
}

static void pop_apply(buf *b, const pop *o) {
  if (o->trunc)
    buf_set(b, (size_t)o->off);
  else
    buf_write(b, o->off, o->data, o->len);
}

static pinode *ino_new(fakefs *f) {
  pinode *i = calloc(1, sizeof *i);
  if (f->nall == f->capall) f->all = realloc(f->all, (f->capall = f->capall ? f->capall * 2 : 16) * sizeof *f->all);
  f->all[f->nall++] = i;
  return i;
}

static void ino_add_op(pinode *i, pop o) {
  if (i->nops == i->cap) i->ops = realloc(i->ops, (i->cap = i->cap ? i->cap * 2 : 16) * sizeof *i->ops);
  i->ops[i->nops++] = o;
}

static void ino_sync(pinode *i) {
  for (size_t k = 0; k < i->nops; k++) {
    pop_apply(&i->dur, &i->ops[k]);
    free(i->ops[k].data);
  }
  i->nops = 0;
}

static dent *ns_find(ns *s, const char *name) {
  for (size_t k = 0; k < s->n; k++)
    if (!strcmp(s->e[k].name, name)) return &s->e[k];
  return NULL;
}

static void ns_put(ns *s, const char *name, pinode *ino) {
  dent *d = ns_find(s, name);
  if (!d) {
    if (s->n == s->cap) s->e = realloc(s->e, (s->cap = s->cap ? s->cap * 2 : 16) * sizeof *s->e);
    d = &s->e[s->n++];
    snprintf(d->name, sizeof d->name, "%s", name);
  }
  d->ino = ino;
}

static void ns_del(ns *s, const char *name) {
  dent *d = ns_find(s, name);
  if (d) *d = s->e[--s->n];
}

static void ns_copy(ns *to, const ns *from) {
  to->n = 0;
  for (size_t k = 0; k < from->n; k++) ns_put(to, from->e[k].name, from->e[k].ino);
}

static void dirop_apply(ns *s, const dirop *o) {
  if (o->kind == D_CREATE) ns_put(s, o->a, o->ino);
  else if (o->kind == D_UNLINK) ns_del(s, o->a);
  else {
    dent *d = ns_find(s, o->a);
    if (!d) return;
    pinode *i = d->ino;
    ns_del(s, o->a);
    ns_put(s, o->b, i);
  }
}

static void log_dirop(fakefs *f, int kind, const char *a, const char *b, pinode *ino) {
  if (f->nlog == f->caplog) f->log = realloc(f->log, (f->caplog = f->caplog ? f->caplog * 2 : 16) * sizeof *f->log);
  dirop *o = &f->log[f->nlog++];
  memset(o, 0, sizeof *o);
  o->kind = kind;
  snprintf(o->a, sizeof o->a, "%s", a);
  if (b) snprintf(o->b, sizeof o->b, "%s", b);
  o->ino = ino;
  dirop_apply(&f->cur, o);
}

/* The name inside the store directory, or NULL for any other path. */
static const char *name_of(const fakefs *f, const char *path) {
  size_t n = strlen(f->dir);
  if (strncmp(path, f->dir, n) || path[n] != '/' || !path[n + 1]) return NULL;
  return path + n + 1;
}

static int is_dir_path(const fakefs *f, const char *path) {
  size_t n = strlen(f->dir);
  return !strncmp(path, f->dir, n) && (!path[n] || !strcmp(path + n, "/"));
}

/* Start a model of dir as it is now: everything in it is durable. */
static void fake_init(fakefs *f, const char *dir) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", dir);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "LOCK")) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len = 0;
    char *p = t_slurp(path, &len);
    pinode *i = ino_new(f);
    buf_write(&i->dur, 0, p, len);
    buf_set(&i->dur, len);
    free(p);
    ns_put(&f->dur, e->d_name, i);
    ns_put(&f->cur, e->d_name, i);
  }
  if (d) closedir(d);
}

static void fake_free(fakefs *f) {
  for (size_t k = 0; k < f->nall; k++) {
    for (size_t j = 0; j < f->all[k]->nops; j++) free(f->all[k]->ops[j].data);
    free(f->all[k]->ops);
    free(f->all[k]->dur.p);
    free(f->all[k]);
  }
  free(f->all);
  free(f->dur.e);
  free(f->cur.e);
  free(f->log);
}

/* Count a call; 1 when the power is (now) off. */
static int power_off(fakefs *f, int kind, const char *what) {
  if (f->crashed) return 1;
  if (++f->calls < f->crash_at) return 0;
  f->crashed = 1;
  f->crash_kind = kind;
  f->crash_creating = f->creating;
  snprintf(f->crash_what, sizeof f->crash_what, "%s", what ? what : "?");
  return 1;
}

static int fk_open(void *ctx, const char *path, int flags, int mode) {
  fakefs *f = ctx;
  const char *nm = name_of(f, path);
  if (nm && (flags & O_CREAT))
    f->creating = strstr(nm, "evstore.meta") ? 1 : strstr(nm, ".evlog") ? 2 : f->creating;
  if (power_off(f, C_OPEN, nm ? nm : "directory")) return -EIO;
  int fd = evs_io_posix.open(NULL, path, flags, mode);
  if (fd < 0 || fd >= MAXFD) return fd;
  f->fd_ino[fd] = NULL;
  f->fd_isdir[fd] = 0;
  if (is_dir_path(f, path)) {
    f->fd_isdir[fd] = 1;
    return fd;
  }
  if (!nm) return fd;
  dent *d = ns_find(&f->cur, nm);
  pinode *i;
  if (d) {
    i = d->ino;
    if (flags & O_TRUNC) ino_add_op(i, (pop){1, 0, 0, NULL});
  } else if (flags & O_CREAT) {
    i = ino_new(f);
    log_dirop(f, D_CREATE, nm, NULL, i);
  } else {
    /* On disk but unknown to the model: durable as it is. */
    size_t len = 0;
    char *p = t_slurp(path, &len);
    i = ino_new(f);
    buf_write(&i->dur, 0, p, len);
    free(p);
    ns_put(&f->dur, nm, i);
    ns_put(&f->cur, nm, i);
  }
  f->fd_ino[fd] = i;
  return fd;
}

static int fk_close(void *ctx, int fd) {
  fakefs *f = ctx;
  if (fd >= 0 && fd < MAXFD) {
    f->fd_ino[fd] = NULL;
    f->fd_isdir[fd] = 0;
  }
  return evs_io_posix.close(NULL, fd);
}

static ssize_t fk_pwrite(void *ctx, int fd, const void *b, size_t n, off_t off) {
  fakefs *f = ctx;
  pinode *i = fd >= 0 && fd < MAXFD ? f->fd_ino[fd] : NULL;
  char what[64];
  snprintf(what, sizeof what, "%zu bytes at %lld", n, (long long)off);
  if (power_off(f, C_PWRITE, what)) {
    /* The write was under way when the power went: it may be torn in. */
    if (i && n && chance(50)) {
      pop o = {0, (uint64_t)off, n, malloc(n)};
      memcpy(o.data, b, n);
      ino_add_op(i, o);
    }
    return -EIO;
  }
  ssize_t r = evs_io_posix.pwrite(NULL, fd, b, n, off);
  if (r > 0 && i) {
    pop o = {0, (uint64_t)off, (size_t)r, malloc((size_t)r)};
    memcpy(o.data, b, (size_t)r);
    ino_add_op(i, o);
    if (!f->untracked)
      for (size_t k = 0; k < f->cur.n; k++)
        if (f->cur.e[k].ino == i && strstr(f->cur.e[k].name, ".evlog")) f->commit_ino = i;
  }
  return r;
}

static ssize_t fk_pread(void *ctx, int fd, void *b, size_t n, off_t off) {
  return evs_io_posix.pread(NULL, fd, b, n, off);
}

static int fk_sync(fakefs *f, int fd, int kind) {
  if (power_off(f, kind, fd >= 0 && fd < MAXFD && f->fd_isdir[fd] ? "directory" : "file"))
    return -EIO;
  if (fd < 0 || fd >= MAXFD) return -EBADF;
  if (f->fd_isdir[fd]) {
    ns_copy(&f->dur, &f->cur);
    f->nlog = 0;
    f->creating = 0;
  } else if (f->fd_ino[fd]) {
    ino_sync(f->fd_ino[fd]);
    /* Which file is it? A sync of the segment commits go to is a
    ** documented sync point. */
    if (f->fd_ino[fd] == f->commit_ino) f->sync_mark = f->completed;
  }
  return 0; /* durability is modelled: no need to wait for the disk */
}
static int fk_fdatasync(void *ctx, int fd) { return fk_sync(ctx, fd, C_FDATASYNC); }
static int fk_fsync(void *ctx, int fd) { return fk_sync(ctx, fd, C_FSYNC); }

static int fk_ftruncate(void *ctx, int fd, off_t len) {
  fakefs *f = ctx;
  if (power_off(f, C_FTRUNCATE, "file")) return -EIO;
  int r = evs_io_posix.ftruncate(NULL, fd, len);
  pinode *i = fd >= 0 && fd < MAXFD ? f->fd_ino[fd] : NULL;
  if (!r && i) ino_add_op(i, (pop){1, (uint64_t)len, 0, NULL});
  return r;
}

static int fk_rename(void *ctx, const char *from, const char *to) {
  fakefs *f = ctx;
  const char *a = name_of(f, from), *b = name_of(f, to);
  if (power_off(f, C_RENAME, b)) return -EIO;
  int r = evs_io_posix.rename(NULL, from, to);
  if (!r && a && b) log_dirop(f, D_RENAME, a, b, NULL);
  return r;
}

static int fk_unlink(void *ctx, const char *path) {
  fakefs *f = ctx;
  const char *a = name_of(f, path);
  if (power_off(f, C_UNLINK, a)) return -EIO;
  int r = evs_io_posix.unlink(NULL, path);
  if (!r && a) log_dirop(f, D_UNLINK, a, NULL, NULL);
  return r;
}

static int fk_fsize(void *ctx, int fd, uint64_t *size) {
  return evs_io_posix.fsize(NULL, fd, size);
}

static evs_io fake_io(fakefs *f) {
  evs_io io = {fk_open,  fk_close,    fk_pwrite, fk_pread,  fk_fdatasync, fk_fsync,
               fk_ftruncate, fk_rename, fk_unlink, fk_fsize, f};
  return io;
}

/* The POSIX table without the waiting: for the checking opens. */
static int nosync(void *ctx, int fd) { return 0; }
static evs_io check_io;

/* ---- power loss: what the disk may hold -------------------------------- */

static uint64_t n_torn_writes, n_zero_tails, n_vanished;

static void write_whole(const char *path, const uint8_t *p, size_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(path);
    exit(2);
  }
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, p + off, n - off);
    if (w <= 0) {
      perror(path);
      exit(2);
    }
    off += (size_t)w;
  }
  close(fd);
}

/* Rewrite f->dir as a disk may hold it after the power went. variant 0:
** every pending operation made it (as after a process crash); 1: only
** durable state; else random prefixes and tears. */
static void reconstruct(fakefs *f, int variant) {
  /* Directory: durable entries plus a prefix of the later operations. */
  ns n = {0};
  ns_copy(&n, &f->dur);
  size_t keep = variant == 0 ? f->nlog : variant == 1 ? 0 : (size_t)rnd_below(f->nlog + 1);
  for (size_t k = 0; k < keep; k++) dirop_apply(&n, &f->log[k]);
  for (size_t k = 0; k < f->cur.n; k++)
    if (!ns_find(&n, f->cur.e[k].name)) n_vanished++;

  DIR *d = opendir(f->dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "LOCK")) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
    unlink(path);
  }
  if (d) closedir(d);

  for (size_t k = 0; k < n.n; k++) {
    pinode *i = n.e[k].ino;
    buf b = {0};
    buf_set(&b, i->dur.len);
    if (i->dur.len) memcpy(b.p, i->dur.p, i->dur.len);
    size_t ops = variant == 0 ? i->nops : variant == 1 ? 0
                 : chance(40) ? i->nops : (size_t)rnd_below(i->nops + 1);
    for (size_t j = 0; j < ops; j++) {
      pop o = i->ops[j];
      if (j + 1 == ops && variant > 1 && !o.trunc && chance(70)) {
        /* The last write is torn: only its first t bytes made it, and
        ** maybe the file grew over the rest without the data (zeros). */
        size_t t = (size_t)rnd_below(o.len + 1);
        if (chance(25) && o.off + o.len > b.len) {
          buf_set(&b, (size_t)(o.off + o.len));
          n_zero_tails++;
        }
        o.len = t;
        n_torn_writes++;
      }
      pop_apply(&b, &o);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->dir, n.e[k].name);
    write_whole(path, b.p, b.len);
    free(b.p);
  }
  free(n.e);
}

/* ---- events and the expected state -------------------------------------- */


#define BIG_BIT (UINT64_C(1) << 62)

static void gen(uint64_t seed, gen_ev *g) {
  uint64_t h = mix64(seed ^ UINT64_C(0x77));
  snprintf(g->source, sizeof g->source, "src%u", (unsigned)(h % 3));
  snprintf(g->type, sizeof g->type, "type.%u", (unsigned)((h >> 8) % 4));
  g->has_key = (h >> 16) % 3 == 0;
  snprintf(g->key, sizeof g->key, "key-%" PRIu64, seed);
  g->has_meta = 0;
  g->prio = 1 + (int)((h >> 24) % 3);
  size_t len = (seed & BIG_BIT) ? 390000 + h % 10000 : 10 + (h >> 32) % 300;
  gen_payload(g, seed, h, len);
}

/* What gen gives an event's source, type and priority, without the
** payload: what claim and redrive filters match. */
static unsigned gen_src(uint64_t seed) { return (unsigned)(mix64(seed ^ UINT64_C(0x77)) % 3); }
static unsigned gen_type(uint64_t seed) {
  return (unsigned)((mix64(seed ^ UINT64_C(0x77)) >> 8) % 4);
}
static int gen_prio(uint64_t seed) { return 1 + (int)((mix64(seed ^ UINT64_C(0x77)) >> 24) % 3); }

/* Consumer names: short ones, and one of the longest allowed (100 bytes). */
#define NCONS 4
static char cons_long[101];
static const char *cons_name(int k) {
  static const char *const names[NCONS - 1] = {"w0", "worker-1", "consumer.two"};
  if (k < NCONS - 1) return names[k];
  if (!cons_long[0]) {
    for (int j = 0; j < 100; j++) cons_long[j] = (char)('a' + j % 26);
    cons_long[100] = 0;
  }
  return cons_long;
}

/* The effects of one commit, in order. Lease effects (E_CLAIM and after)
** carry the op's time `at`; `t` is: E_EV not_before_us (0: none); E_CLAIM,
** E_RENEW the lease's end; E_REL the end of the hold. E_CLAIM: `tok` the
** token the store handed out (seed 1: a claim in flight, whose tokens were
** not seen: at least tok), `aux` the consumer; E_REDRIVE: `aux` the
** source filter (-1: none), applied to every event dead at `at`. */
enum { E_EV = 1, E_ACK, E_DEL, E_CLAIM, E_RENEW, E_REL, E_REJ, E_REDRIVE };
typedef struct eff {
  int kind;
  uint64_t id, seed;
  int64_t t, at;
  uint64_t tok;
  int aux;
} eff;

typedef struct commit {
  eff e[16];
  int n;
} commit;

enum { S_NONE = 0, S_PENDING, S_ACKED, S_DELETED };
enum { L_NONE = 0, L_CONS, L_HOLD };

/* One event of the model. S_PENDING means live and not acknowledged: its
** EVS_STATUS_* (pending, leased, delayed or dead) depends on the time
** (ev_status). */
typedef struct evm {
  uint8_t st;     /* S_* */
  uint8_t lease;  /* L_*: a consumer's lease, or a hold (release delay,
                     not_before_us) */
  uint8_t dead;   /* rejected (a lease that ran out at max_deliveries is
                     dead by ev_status without this) */
  uint8_t cons;   /* the lease's consumer */
  uint8_t tok_lb; /* token is only a lower bound (a claim in flight at the
                     power loss: the store's tokens were not seen) */
  uint32_t dcount;
  uint64_t seed;
  uint64_t token; /* the latest delivery's */
  int64_t until;  /* the lease or hold ends (exclusive) */
  int64_t nb;     /* not_before_us as appended */
} evm;

typedef struct state {
  evm *ev;
  uint64_t next_id;
  size_t cap;
} state;

/* The scenario's store setting (5, the default, where leases are off). */
static uint32_t max_deliveries = 5;

/* What evs_get says of a live event at `now` (as tests/model.c's
** model_status). */
static int ev_status(const evm *e, int64_t now) {
  if (e->st == S_ACKED) return EVS_STATUS_ACKNOWLEDGED;
  if (e->dead) return EVS_STATUS_DEAD;
  if (e->lease != L_NONE && e->until > now)
    return e->lease == L_CONS ? EVS_STATUS_LEASED : EVS_STATUS_DELAYED;
  return e->dcount >= max_deliveries ? EVS_STATUS_DEAD : EVS_STATUS_PENDING;
}

static void state_grow(state *s, uint64_t id) {
  if (id < s->cap) return;
  size_t nc = s->cap ? s->cap : 256;
  while (nc <= id) nc *= 2;
  s->ev = realloc(s->ev, nc * sizeof *s->ev);
  memset(s->ev + s->cap, 0, (nc - s->cap) * sizeof *s->ev);
  s->cap = nc;
}

static void state_apply(state *s, const commit *c) {
  for (int k = 0; k < c->n; k++) {
    const eff *f = &c->e[k];
    if (f->kind == E_REDRIVE) {
      for (uint64_t id = 1; id < s->next_id; id++) {
        evm *e = &s->ev[id];
        if (e->st != S_PENDING || ev_status(e, f->at) != EVS_STATUS_DEAD) continue;
        if (f->aux >= 0 && gen_src(e->seed) != (unsigned)f->aux) continue;
        e->dead = 0;
        e->dcount = 0;
        e->lease = L_NONE;
      }
      continue;
    }
    state_grow(s, f->id);
    evm *e = &s->ev[f->id];
    switch (f->kind) {
    case E_EV:
      memset(e, 0, sizeof *e);
      e->st = S_PENDING;
      e->seed = f->seed;
      /* A time already passed is not kept (evs_get says 0). */
      e->nb = f->t > f->at ? f->t : 0;
      if (e->nb) {
        e->lease = L_HOLD;
        e->until = f->t;
      }
      if (f->id >= s->next_id) s->next_id = f->id + 1;
      break;
    case E_ACK:
      e->st = S_ACKED;
      e->lease = L_NONE;
      break;
    case E_DEL:
      e->st = S_DELETED;
      break;
    case E_CLAIM:
      if (e->dcount < 255) e->dcount++;
      e->lease = L_CONS;
      e->token = f->tok;
      e->tok_lb = f->seed == 1;
      e->until = f->t;
      e->cons = (uint8_t)f->aux;
      break;
    case E_RENEW:
      e->until = f->t;
      break;
    case E_REL:
      e->lease = L_HOLD;
      e->until = f->t;
      break;
    case E_REJ:
      e->dead = 1;
      e->lease = L_NONE;
      break;
    }
  }
}

static void state_build(state *s, const commit *c, size_t j) {
  memset(s->ev, 0, s->cap * sizeof *s->ev);
  s->next_id = 1;
  for (size_t k = 0; k < j; k++) state_apply(s, &c[k]);
}

/* Set once a scenario compacted: an acknowledged event without a key may
** then be gone (compaction removes it; retention and windows are off). */
static int gone_acked_ok;

/* How event e (status xst at the check's time) differs from the model's
** lease state m; NULL when it does not. */
static const char *lease_diff(const evs_event *e, const evm *m, int xst, char *out, size_t n) {
  int cons = xst == EVS_STATUS_LEASED;
  int64_t until = xst == EVS_STATUS_LEASED || xst == EVS_STATUS_DELAYED ? m->until : 0;
  if (e->status != xst)
    snprintf(out, n, "status %d, expected %d", e->status, xst);
  else if (e->delivery_count != m->dcount)
    snprintf(out, n, "delivery_count %u, expected %u", e->delivery_count, m->dcount);
  else if (cons && m->tok_lb ? e->lease_token < m->token : e->lease_token != (cons ? m->token : 0))
    snprintf(out, n, "lease_token %" PRIu64 ", expected %" PRIu64, e->lease_token,
             cons ? m->token : 0);
  else if (cons ? !e->leased_by || strcmp(e->leased_by, cons_name(m->cons)) : e->leased_by != NULL)
    snprintf(out, n, "leased_by %.20s, expected %.20s", e->leased_by ? e->leased_by : "NULL",
             cons ? cons_name(m->cons) : "NULL");
  else if (e->lease_expires_us != until)
    snprintf(out, n, "lease_expires_us %" PRId64 ", expected %" PRId64, e->lease_expires_us, until);
  else if (e->not_before_us != m->nb)
    snprintf(out, n, "not_before_us %" PRId64 ", expected %" PRId64, e->not_before_us, m->nb);
  else
    return NULL;
  return out;
}

/* Does store s hold exactly state x, read at time now? 0 yes; else a
** description in why. content 0: the events' contents are not compared
** (they were, against a state with the same ids). */
static int state_matches_c(evs_store *s, const state *x, int64_t now, int content, char *why,
                           size_t whylen) {
  evs_stats st;
  if (evs_stats_get(s, &st)) return snprintf(why, whylen, "stats failed"), 1;
  if (st.next_id != x->next_id)
    return snprintf(why, whylen, "next_id %" PRIu64 ", expected %" PRIu64, st.next_id,
                    x->next_id), 1;
  uint64_t n[5] = {0}; /* by EVS_STATUS_* */
  for (uint64_t id = 1; id < x->next_id; id++) {
    const evm *m = id < x->cap ? &x->ev[id] : NULL;
    int want = m ? m->st : S_NONE;
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, id, &e);
    int got = rc == EVS_ENOTFOUND ? S_DELETED
              : rc                ? -1
              : e->status == EVS_STATUS_ACKNOWLEDGED ? S_ACKED : S_PENDING;
    int ok = got == (want == S_NONE ? S_DELETED : want);
    if (!ok && want == S_ACKED && rc == EVS_ENOTFOUND && gone_acked_ok) {
      gen_ev g;
      gen(m->seed, &g);
      free(g.payload);
      if (!g.has_key) continue; /* not counted: compaction removed it */
    }
    if (ok && !rc && content) {
      gen_ev g;
      gen(m->seed, &g);
      ok = !gen_diff(e, &g);
      free(g.payload);
      if (!ok) {
        evs_event_free(e);
        return snprintf(why, whylen, "event %" PRIu64 ": content differs", id), 1;
      }
    }
    if (ok && !rc) {
      char sub[160];
      int xst = ev_status(m, now);
      const char *d = lease_diff(e, m, xst, sub, sizeof sub);
      if (d) {
        evs_event_free(e);
        return snprintf(why, whylen, "event %" PRIu64 ": %s", id, d), 1;
      }
      n[xst]++;
    }
    evs_event_free(e);
    if (!ok)
      return snprintf(why, whylen, "event %" PRIu64 ": state %d (rc %d), expected %d", id, got,
                      rc, want), 1;
  }
  if (st.pending != n[EVS_STATUS_PENDING] || st.acknowledged != n[EVS_STATUS_ACKNOWLEDGED] ||
      st.leased != n[EVS_STATUS_LEASED] || st.dead != n[EVS_STATUS_DEAD] ||
      st.delayed != n[EVS_STATUS_DELAYED])
    return snprintf(why, whylen,
                    "counts pending/acked/leased/dead/delayed %" PRIu64 "/%" PRIu64 "/%" PRIu64
                    "/%" PRIu64 "/%" PRIu64 ", expected %" PRIu64 "/%" PRIu64 "/%" PRIu64
                    "/%" PRIu64 "/%" PRIu64,
                    st.pending, st.acknowledged, st.leased, st.dead, st.delayed,
                    n[EVS_STATUS_PENDING], n[EVS_STATUS_ACKNOWLEDGED], n[EVS_STATUS_LEASED],
                    n[EVS_STATUS_DEAD], n[EVS_STATUS_DELAYED]), 1;
  return 0;
}

static int state_matches(evs_store *s, const state *x, int64_t now, char *why, size_t whylen) {
  return state_matches_c(s, x, now, 1, why, whylen);
}

/* ---- scenarios ----------------------------------------------------------- */

typedef struct scen {
  uint64_t seed;
  int sync;
  int phase2;
  fakefs f;
  evs_io io;
  evs_store *s;
  commit *c;
  size_t nc, capc;
  size_t lo, hi;   /* the prefix of c that may survive */
  state live;      /* all completed commits: what the workload sees */
  uint64_t seeds;  /* next event seed */
  int open_failed; /* the (re)open itself lost power */
  int compacted;   /* evs_compact ran at some point */
  int failed;      /* an unexpected error */
  int lease;       /* the workload claims and settles too */
  fake_clock clk;  /* the store's time: moved by the workload */
  uint64_t last_tok; /* the highest token the store handed out (that the
                        workload saw) since its state was known */
  uint64_t seen_tok; /* the highest token any claim returned, lost or not */
  size_t base_nc;    /* phase 2: the prefix phase 1 left (as far as seen) */
  uint64_t base_tok; /* and the lowest last token it may have */
} scen;

static int with_off; /* sync OFF scenarios too (EVS_POWERLOSS_OFF=0: not) */

static const char *mode_name(int sync) {
  return sync == EVS_SYNC_FULL ? "FULL" : sync == EVS_SYNC_NORMAL ? "NORMAL" : "OFF";
}

static uint64_t n_scen, n_checks, n_crash_kind[C_NKINDS], n_crash_meta, n_crash_seg_create,
    n_crash_recovery, n_crash_end, n_found_partial_prefix, n_big;
static uint64_t n_tok_again, n_inflight_claims_kept, n_inflight_lease, n_redriven, n_seen[5], n_lease_scen, n_lease_ops[16], n_stale, n_claimed, n_token_probes;
static unsigned lease_pct = 40; /* EVS_POWERLOSS_LEASES */

static evs_options scen_opts(scen *z) {
  evs_options o;
  memset(&o, 0, sizeof o);
  o.sync = z->sync;
  o.segment_size = 4096;
  /* Background work would make the I/O sequence nondeterministic. */
  o.auto_compact_percent = -1;
  o.retention_us = -1;
  o.idempotency_window_us = -1;
  o.compress_threshold = 200; /* some payloads compressed */
  o.clock = fake_clock_fn; /* deterministic: leases run out when the workload says */
  o.clock_arg = &z->clk;
  o.max_deliveries = z->lease ? max_deliveries : 0;
  return o;
}

static void add_commit(scen *z, const commit *c) {
  if (z->nc == z->capc) z->c = realloc(z->c, (z->capc = z->capc ? z->capc * 2 : 64) * sizeof *z->c);
  z->c[z->nc++] = *c;
}

/* Pick a live event of the completed state: one evs_ack takes (not
** acknowledged, not dead) when acking. */
static uint64_t pick(scen *z, int pending_only) {
  uint64_t n = z->live.next_id - 1;
  if (!n) return 0;
  for (int tries = 0; tries < 20; tries++) {
    uint64_t id = 1 + rnd_below(n);
    const evm *e = &z->live.ev[id];
    if (e->st == S_PENDING && (!pending_only || ev_status(e, z->clk.now) != EVS_STATUS_DEAD))
      return id;
    if (!pending_only && e->st == S_ACKED) return id;
  }
  return 0;
}

/* An operation finished with rc. Effects of a returned 0 are committed; an
** error is acceptable only once the power is off (that op is in flight). */
static int op_done(scen *z, int rc, const commit *c) {
  if (!rc) {
    if (c && c->n) {
      add_commit(z, c);
      state_apply(&z->live, c);
      z->f.completed = z->nc;
    }
    return 0;
  }
  if (!z->f.crashed) {
    fprintf(stderr, "  scenario %" PRIu64 ": unexpected rc %d before the power went: %s\n",
            z->seed, rc, evs_errmsg(z->s));
    z->failed = 1;
    return 1;
  }
  if (c && c->n) {
    add_commit(z, c); /* in flight: may or may not survive */
    z->hi = z->nc;
    n_inflight_lease += c->e[0].kind >= E_CLAIM || (c->e[0].kind == E_EV && c->e[0].t);
  }
  return 1;
}

/* The store holds the first `found` commits: a claim among them that was in
** flight at the power loss (its tokens unseen) is the last one of phase 1,
** its leases still on at this time: learn its tokens, so the model is
** exact again. */
static void learn_tokens(scen *z, size_t found) {
  if (!found) return;
  commit *c = &z->c[found - 1];
  for (int k = 0; k < c->n; k++) {
    eff *f = &c->e[k];
    if (f->kind != E_CLAIM || f->seed != 1) continue;
    evs_event *e = NULL;
    if (evs_get(z->s, NULL, f->id, &e) || e->lease_token < f->tok) {
      fprintf(stderr, "  scenario %" PRIu64 ": the claim in flight of %" PRIu64
              " is kept, but not its lease\n", z->seed, f->id);
      z->failed = 1;
    } else {
      f->tok = e->lease_token;
      f->seed = 0;
      n_inflight_claims_kept++;
    }
    evs_event_free(e);
  }
}

/* Append one event (not_before_us nb: 0 or a time, usually later). */
static int append_one(scen *z, evs_txn *t, commit *c, int big, int64_t nb) {
  gen_ev g;
  uint64_t sd = z->seeds++ | (big ? BIG_BIT : 0);
  gen(sd, &g);
  evs_event_in in = gen_in(&g);
  in.not_before_us = nb;
  evs_append_result r;
  int rc = evs_append(z->s, t, &in, &r);
  free(g.payload);
  uint64_t id = z->live.next_id;
  for (int k = 0; k < c->n; k++)
    if (c->e[k].kind == E_EV && c->e[k].id >= id) id = c->e[k].id + 1;
  if (!rc && r.id != id) {
    fprintf(stderr, "  scenario %" PRIu64 ": append got id %" PRIu64 ", expected %" PRIu64 "\n",
            z->seed, r.id, id);
    z->failed = 1;
  }
  c->e[c->n++] = (eff){E_EV, id, sd, nb, z->clk.now, 0, 0};
  return rc;
}

/* ---- the consumer workload ------------------------------------------------ */

enum { LO_DELAYED, LO_CLAIM, LO_ACKL, LO_ACKB, LO_RENEW, LO_RELEASE, LO_REJECT, LO_REDRIVE,
       LO_CHECKPOINT, LO_NKINDS };
static const char *lease_op_names[] = {"delayed append", "claim",   "ack_lease",
                                       "ack_lease_batch", "renew",  "release",
                                       "reject",          "redrive", "checkpoint"};

#define LEASE_FAIL(z, ...)                                                                   \
  do {                                                                                       \
    fprintf(stderr, "  scenario %" PRIu64 " (at T0+%" PRId64 " us): ", (z)->seed,            \
            (z)->clk.now - T0);                                                              \
    fprintf(stderr, __VA_ARGS__);                                                            \
    fprintf(stderr, "\n");                                                                   \
    (z)->failed = 1;                                                                         \
  } while (0)

/* What settling event id with token tok returns now (as tests/model.c's
** model_hold_rc): 0 only for the holder of a lease that has not run out. */
static int hold_rc(const scen *z, uint64_t id, uint64_t tok) {
  const evm *e = id < z->live.next_id ? &z->live.ev[id] : NULL;
  if (!e || e->st != S_PENDING) return e && e->st == S_ACKED ? EVS_ECONFLICT : EVS_ENOTFOUND;
  return ev_status(e, z->clk.now) == EVS_STATUS_LEASED && e->token == tok ? 0 : EVS_ESTALE;
}

/* rc where hold_rc said want: the same, or not found for an acknowledged
** event without a key once compaction ran (it removes those). */
static int hold_rc_ok(const scen *z, uint64_t id, int rc, int want) {
  if (rc == want) return 1;
  if (rc != EVS_ENOTFOUND || want != EVS_ECONFLICT || !gone_acked_ok) return 0;
  gen_ev g;
  gen(z->live.ev[id].seed, &g);
  free(g.payload);
  return !g.has_key;
}

/* A target for a settle: mostly an event leased now, with its token; else
** any event ever claimed (its lease may have run out, it may be acked,
** dead or deleted), with its last token or an older one. 0: none. */
static uint64_t pick_lease(scen *z, uint64_t *tok) {
  uint64_t nleased = 0, nclaimed = 0, any = 0;
  for (uint64_t id = 1; id < z->live.next_id; id++) {
    const evm *e = &z->live.ev[id];
    nclaimed += e->token != 0;
    nleased += e->st == S_PENDING && ev_status(e, z->clk.now) == EVS_STATUS_LEASED;
  }
  if (!nclaimed) return 0;
  int leased = nleased && chance(80);
  uint64_t k = rnd_below(leased ? nleased : nclaimed);
  for (uint64_t id = 1; id < z->live.next_id && !any; id++) {
    const evm *e = &z->live.ev[id];
    int fits = leased ? e->st == S_PENDING && ev_status(e, z->clk.now) == EVS_STATUS_LEASED
                      : e->token != 0;
    if (fits && !k--) any = id;
  }
  *tok = z->live.ev[any].token;
  if (chance(8)) *tok -= 1 + rnd_below(3); /* stale: an older one, 0, or one never handed out */
  return any;
}

/* A lease op returned rc where the model says want. 0 commits c (want 0);
** a refusal commits nothing. As op_done: 1 when the workload must stop. */
static int settle_done(scen *z, int rc, int want, const commit *c, const char *op, uint64_t id) {
  if (hold_rc_ok(z, id, rc, want)) {
    if (want) n_stale++;
    return want ? 0 : op_done(z, 0, c);
  }
  if (z->f.crashed) return op_done(z, rc, want ? NULL : c);
  fprintf(stderr, "  scenario %" PRIu64 " (at T0+%" PRId64 " us): %s of %" PRIu64
          ": rc %d, the model says %d: %s\n", z->seed, z->clk.now - T0, op, id, rc, want,
          evs_errmsg(z->s));
  z->failed = 1;
  return 1;
}

/* Claim: consumer, lease length and filter drawn; the model says which
** events it gets; the store's tokens must be fresh and increasing. */
static int lease_claim(scen *z) {
  commit c;
  memset(&c, 0, sizeof c);
  int64_t now = z->clk.now;
  int cons = (int)rnd_below(NCONS);
  int64_t lease = chance(4) ? 0 : (int64_t)(1 + rnd_below(6)) * SEC / 2;
  int64_t until = now + (lease ? lease : 30 * SEC);
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = 1 + (unsigned)rnd_below(4);
  char src[16], type[16];
  unsigned fk = (unsigned)rnd_below(100), fsrc = (unsigned)rnd_below(3),
           ftype = (unsigned)rnd_below(4);
  int fprio = 1 + (int)rnd_below(3);
  snprintf(src, sizeof src, "src%u", fsrc);
  snprintf(type, sizeof type, "type.%u", ftype);
  if (fk >= 50 && fk < 70) q.source = src;
  if (fk >= 70 && fk < 85) q.event_type = type;
  if (fk >= 85) q.priority = fprio;
  /* The model's answer: the oldest pending events the filter matches. */
  uint64_t want[8];
  size_t nw = 0;
  for (uint64_t id = 1; id < z->live.next_id && nw < q.limit; id++) {
    const evm *e = &z->live.ev[id];
    if (e->st != S_PENDING || ev_status(e, now) != EVS_STATUS_PENDING) continue;
    if (q.source && gen_src(e->seed) != fsrc) continue;
    if (q.event_type && gen_type(e->seed) != ftype) continue;
    if (q.priority && gen_prio(e->seed) != fprio) continue;
    want[nw++] = id;
  }
  if (verbose)
    fprintf(stderr, "    claim by %.12s, lease %" PRId64 " ms, limit %u%s%s%s: model %zu\n",
            cons_name(cons), lease / 1000, q.limit, q.source ? ", source" : "",
            q.event_type ? ", type" : "", q.priority ? ", priority" : "", nw);
  evs_page *pg = NULL;
  int rc = evs_claim(z->s, &q, cons_name(cons), lease, &pg);
  if (!rc) {
    size_t n = evs_page_count(pg);
    if (n != nw) {
      LEASE_FAIL(z, "claim got %zu events, the model says %zu (limit %u)", n, nw, q.limit);
      n = 0;
    }
    for (size_t k = 0; k < n; k++) {
      const evs_event *e = evs_page_event(pg, k);
      const evm *m = &z->live.ev[want[k]];
      if (e->id != want[k]) {
        LEASE_FAIL(z, "claim item %zu is event %" PRIu64 ", the model says %" PRIu64, k, e->id,
                   want[k]);
        break;
      }
      /* Tokens: never one handed out before (by this store since its state
      ** was known), increasing along the page. */
      if (e->lease_token <= z->last_tok) {
        LEASE_FAIL(z, "claim of %" PRIu64 ": token %" PRIu64 ", not above the last one, %" PRIu64,
                   e->id, e->lease_token, z->last_tok);
        break;
      }
      z->last_tok = e->lease_token;
      if (e->lease_token <= z->seen_tok) {
        /* Handed out before, by a claim that returned but was lost with the
        ** power: never, in any sync mode (claims take tokens from a block a
        ** synced record reserved first). */
        n_tok_again++;
        LEASE_FAIL(z, "%s: token %" PRIu64 " handed out again (a claim returned it)",
                   mode_name(z->sync), e->lease_token);
        break;
      }
      z->seen_tok = e->lease_token;
      if (e->status != EVS_STATUS_LEASED || e->delivery_count != (m->dcount < 255 ? m->dcount + 1 : 255) ||
          !e->leased_by || strcmp(e->leased_by, cons_name(cons)) || e->lease_expires_us != until) {
        LEASE_FAIL(z, "claim of %" PRIu64 ": status %d, delivery_count %u (model %u), "
                   "lease_expires_us T0+%" PRId64 " (model T0+%" PRId64 ") or leased_by differ",
                   e->id, e->status, e->delivery_count, m->dcount + 1, e->lease_expires_us - T0,
                   until - T0);
        break;
      }
      c.e[c.n++] = (eff){E_CLAIM, e->id, 0, until, now, e->lease_token, cons};
      n_claimed++;
    }
  } else {
    /* In flight: if it is kept, its tokens are above the last one and
    ** increasing (seed 1: tok is a lower bound). */
    for (size_t k = 0; k < nw; k++)
      c.e[c.n++] = (eff){E_CLAIM, want[k], 1, until, now, z->last_tok + 1 + k, cons};
  }
  evs_page_free(pg);
  if (z->failed) return 1;
  return op_done(z, rc, &c);
}

/* One step of the consumer workload; as step. */
static int lease_step(scen *z) {
  commit c;
  memset(&c, 0, sizeof c);
  int64_t now = z->clk.now;
  unsigned r = (unsigned)rnd_below(100);
  int op = r < 11 ? LO_DELAYED : r < 40 ? LO_CLAIM : r < 52 ? LO_ACKL : r < 58 ? LO_ACKB
           : r < 67 ? LO_RENEW : r < 78 ? LO_RELEASE : r < 85 ? LO_REJECT : r < 95 ? LO_REDRIVE
           : LO_CHECKPOINT;
  n_lease_ops[op]++;
  int rc;
  if (op == LO_CHECKPOINT) { /* the leases section of a checkpoint; not a commit */
    if (verbose) fprintf(stderr, "    checkpoint\n");
    rc = evs_checkpoint(z->s);
    return op_done(z, rc, NULL);
  }
  if (op == LO_DELAYED) { /* held back; sometimes a time already passed */
    int64_t nb = chance(15) ? now - SEC : now + (int64_t)(1 + rnd_below(10)) * SEC / 2;
    if (verbose) fprintf(stderr, "    delayed append, not before T0+%" PRId64 "\n", nb - T0);
    rc = append_one(z, NULL, &c, 0, nb);
    return op_done(z, rc, &c);
  }
  if (op == LO_CLAIM) return lease_claim(z);
  if (op == LO_ACKB) { /* a page of settles in one commit, some stale */
    uint64_t ids[5], toks[5];
    int rcs[5], want[5];
    size_t n = 0, m = 1 + (size_t)rnd_below(5);
    for (size_t k = 0; k < m; k++) {
      uint64_t tok = 0, id = pick_lease(z, &tok);
      int dup = 0;
      for (size_t j = 0; j < n; j++) dup |= ids[j] == id;
      if (!id || dup) continue;
      ids[n] = id;
      toks[n] = tok;
      want[n] = hold_rc(z, id, tok);
      if (!want[n]) c.e[c.n++] = (eff){E_ACK, id, 0, 0, now, 0, 0};
      n++;
    }
    if (!n) return 0;
    if (verbose) fprintf(stderr, "    ack_lease_batch of %zu, %d to ack\n", n, c.n);
    rc = evs_ack_lease_batch(z->s, ids, toks, n, rcs, NULL);
    if (!rc)
      for (size_t k = 0; k < n; k++)
        if (!hold_rc_ok(z, ids[k], rcs[k], want[k])) {
          LEASE_FAIL(z, "ack_lease_batch item %" PRIu64 ": rc %d, the model says %d", ids[k],
                     rcs[k], want[k]);
          return 1;
        }
    n_stale += n - (size_t)c.n;
    return op_done(z, rc, &c);
  }
  if (op == LO_REDRIVE) { /* every dead event, or those of one source */
    int src = chance(50) ? -1 : (int)rnd_below(3);
    char name[16];
    snprintf(name, sizeof name, "src%d", src);
    evs_query q;
    memset(&q, 0, sizeof q);
    if (src >= 0) q.source = name;
    uint64_t want = 0, got = 0;
    for (uint64_t id = 1; id < z->live.next_id; id++) {
      const evm *e = &z->live.ev[id];
      want += e->st == S_PENDING && ev_status(e, now) == EVS_STATUS_DEAD &&
              (src < 0 || gen_src(e->seed) == (unsigned)src);
    }
    if (verbose) fprintf(stderr, "    redrive %s: model %" PRIu64 "\n", src < 0 ? "all" : name, want);
    rc = evs_redrive(z->s, &q, &got);
    n_redriven += got;
    if (!rc && got != want) {
      LEASE_FAIL(z, "redrive: count %" PRIu64 ", the model says %" PRIu64, got, want);
      return 1;
    }
    if (want) c.e[c.n++] = (eff){E_REDRIVE, 0, 0, 0, now, 0, src};
    return op_done(z, rc, &c);
  }
  /* Settles of one event with a token. */
  uint64_t tok = 0, id = pick_lease(z, &tok);
  if (!id) return 0;
  int want = hold_rc(z, id, tok);
  if (verbose)
    fprintf(stderr, "    %s of %" PRIu64 " (token %" PRIu64 "): model rc %d\n",
            lease_op_names[op], id, tok, want);
  if (op == LO_ACKL) {
    c.e[c.n++] = (eff){E_ACK, id, 0, 0, now, 0, 0};
    rc = evs_ack_lease(z->s, id, tok, NULL);
    return settle_done(z, rc, want, &c, "ack_lease", id);
  }
  if (op == LO_RENEW) {
    int64_t lease = (int64_t)(1 + rnd_below(8)) * SEC / 2, until = -1;
    c.e[c.n++] = (eff){E_RENEW, id, 0, now + lease, now, 0, 0};
    rc = evs_renew(z->s, id, tok, lease, &until);
    if (!rc && !want && until != now + lease) {
      LEASE_FAIL(z, "renew of %" PRIu64 ": until T0+%" PRId64 ", expected T0+%" PRId64, id,
                 until - T0, now + lease - T0);
      return 1;
    }
    return settle_done(z, rc, want, &c, "renew", id);
  }
  if (op == LO_RELEASE) {
    int64_t delay = chance(50) ? 0 : (int64_t)(1 + rnd_below(8)) * SEC / 2;
    c.e[c.n++] = (eff){E_REL, id, 0, now + delay, now, 0, 0};
    rc = evs_release(z->s, id, tok, delay);
    return settle_done(z, rc, want, &c, "release", id);
  }
  c.e[c.n++] = (eff){E_REJ, id, 0, 0, now, 0, 0};
  rc = evs_reject(z->s, id, tok);
  return settle_done(z, rc, want, &c, "reject", id);
}

/* One step of the workload; 1 when it must stop (power off or failure). */
static int step(scen *z, int allow_big) {
  if (z->lease) {
    /* Time passes: leases and holds run out between steps, some exactly
    ** at a step's time (leases are multiples of 500 ms). */
    if (chance(60))
      z->clk.now += chance(70) ? (int64_t)rnd_below(9) * SEC / 4 : (int64_t)rnd_below(2000000);
    if (chance(55)) return lease_step(z);
  }
  commit c;
  memset(&c, 0, sizeof c);
  unsigned r = (unsigned)rnd_below(100);
  int rc;
  if (r < 30) {
    rc = append_one(z, NULL, &c, 0, 0);
    return op_done(z, rc, &c);
  }
  if (r < 45) { /* batch */
    unsigned n = 2 + (unsigned)rnd_below(4);
    gen_ev g[6];
    evs_event_in in[6];
    evs_append_result res[6];
    for (unsigned k = 0; k < n; k++) {
      uint64_t sd = z->seeds++;
      gen(sd, &g[k]);
      in[k] = gen_in(&g[k]);
      c.e[c.n++] = (eff){E_EV, z->live.next_id + k, sd, 0, z->clk.now, 0, 0};
    }
    rc = evs_append_batch(z->s, NULL, in, n, res);
    for (unsigned k = 0; k < n; k++) {
      free(g[k].payload);
      if (!rc && (res[k].rc || res[k].id != z->live.next_id + k)) {
        fprintf(stderr, "  scenario %" PRIu64 ": batch item %u: rc %d, id %" PRIu64
                ", expected id %" PRIu64 "\n", z->seed, k, res[k].rc, res[k].id,
                z->live.next_id + k);
        z->failed = 1;
      }
    }
    return op_done(z, rc, &c);
  }
  if (r < 58) { /* ack */
    uint64_t id = pick(z, 1);
    if (!id) return 0;
    rc = evs_ack(z->s, NULL, id, NULL);
    c.e[c.n++] = (eff){E_ACK, id, 0, 0, z->clk.now, 0, 0};
    return op_done(z, rc, &c);
  }
  if (r < 65) { /* delete */
    uint64_t id = pick(z, 0);
    if (!id) return 0;
    int existed = 0;
    rc = evs_delete(z->s, NULL, id, &existed);
    if (!rc && !existed) {
      /* Compaction removes acknowledged events without a key (documented):
      ** a delete then finds none. Anything else must have existed. */
      gen_ev g;
      gen(z->live.ev[id].seed, &g);
      free(g.payload);
      if (!(gone_acked_ok && z->live.ev[id].st == S_ACKED && !g.has_key)) {
        fprintf(stderr, "  scenario %" PRIu64 ": delete of %" PRIu64 " (state %d): existed 0\n",
                z->seed, id, z->live.ev[id].st);
        z->failed = 1;
      }
    }
    c.e[c.n++] = (eff){E_DEL, id, 0, 0, z->clk.now, 0, 0};
    return op_done(z, rc, &c);
  }
  if (r < 78) { /* explicit transaction: appends and maybe an ack */
    evs_txn *t = NULL;
    rc = evs_txn_begin(z->s, &t);
    if (rc) return op_done(z, rc, NULL);
    unsigned n = 1 + (unsigned)rnd_below(3);
    for (unsigned k = 0; k < n && !rc; k++) {
      /* A delayed event may open a transaction (not follow other writes
      ** while the store has never leased: see test_lease). */
      int64_t nb = !k && z->lease && chance(25) ? z->clk.now + 2 * SEC : 0;
      rc = append_one(z, t, &c, 0, nb);
    }
    uint64_t id = pick(z, 1);
    if (!rc && id) {
      rc = evs_ack(z->s, t, id, NULL);
      c.e[c.n++] = (eff){E_ACK, id, 0, 0, z->clk.now, 0, 0};
    }
    if (rc) {
      evs_txn_rollback(t);
      return op_done(z, rc, NULL); /* nothing was written */
    }
    rc = evs_txn_commit(t);
    return op_done(z, rc, &c);
  }
  if (r < 84) { /* savepoint: keep the first append, undo the second */
    evs_txn *t = NULL;
    rc = evs_txn_begin(z->s, &t);
    if (rc) return op_done(z, rc, NULL);
    rc = append_one(z, t, &c, 0, 0);
    if (!rc) rc = evs_txn_savepoint(t, 0);
    commit undone;
    memset(&undone, 0, sizeof undone);
    undone.e[0] = c.e[0];
    undone.n = 1;
    if (!rc) rc = append_one(z, t, &undone, 0, 0);
    if (!rc) rc = evs_txn_rollback_to(t, 0);
    if (rc) {
      evs_txn_rollback(t);
      return op_done(z, rc, NULL);
    }
    if (chance(30)) {
      rc = evs_txn_rollback(t);
      return op_done(z, rc, NULL);
    }
    rc = evs_txn_commit(t);
    return op_done(z, rc, &c);
  }
  if (r < 87 && allow_big) {
    /* > 4 MiB: written out in pieces before the commit; then committed, or
    ** rolled back (the segment is truncated back). */
    n_big++;
    evs_txn *t = NULL;
    rc = evs_txn_begin(z->s, &t);
    if (rc) return op_done(z, rc, NULL);
    for (int k = 0; k < 11 && !rc; k++) rc = append_one(z, t, &c, 1, 0);
    if (rc) {
      evs_txn_rollback(t);
      return op_done(z, rc, NULL);
    }
    if (chance(50)) {
      rc = evs_txn_rollback(t);
      return op_done(z, rc, NULL);
    }
    rc = evs_txn_commit(t);
    return op_done(z, rc, &c);
  }
  if (r < 90) { /* a sync point */
    rc = evs_store_sync(z->s);
    return op_done(z, rc, NULL);
  }
  if (r < 93) { /* close (a sync point) and reopen through the fake */
    rc = evs_store_close(z->s);
    z->s = NULL;
    if (op_done(z, rc, NULL)) return 1;
    evs_options o = scen_opts(z);
    rc = evs_store_open_io(z->f.dir, &o, &z->io, &z->s);
    if (rc) {
      z->s = NULL;
      z->open_failed = 1;
    }
    return op_done(z, rc, NULL);
  }
  if (r < 97) { /* compaction: not a commit; its own syncs are not sync points */
    z->f.untracked = 1;
    z->compacted = gone_acked_ok = 1;
    rc = evs_compact(z->s, NULL);
    z->f.untracked = 0;
    return op_done(z, rc, NULL);
  }
  rc = append_one(z, NULL, &c, 0, 0);
  return op_done(z, rc, &c);
}

/* The last token of the first j commits, as far as it is known: prefixes
** can look alike (a redriven event looks like one never claimed, an
** expired lease like a claim that never was), so the store may hold
** another one than the highest it matches. Commits before base_nc are
** phase 1's, of which the store holds one whose last token is at least
** base_tok. */
static uint64_t prefix_token(const scen *z, size_t j) {
  uint64_t t = z->base_tok;
  for (size_t k = z->base_nc; k < j; k++)
    for (int i = 0; i < z->c[k].n; i++)
      if (z->c[k].e[i].kind == E_CLAIM && z->c[k].e[i].tok > t) t = z->c[k].e[i].tok;
  return t;
}

/* The lowest last token among the prefixes in [lo, found] store s matches
** (found: the highest): only the tokens of the prefix the store holds are
** never handed out again. */
static uint64_t token_floor(scen *z, evs_store *s, size_t lo, size_t found) {
  uint64_t top = prefix_token(z, found);
  state y = {0};
  state_grow(&y, 1);
  char why[200];
  for (size_t j = found; j-- > lo;) {
    uint64_t t = prefix_token(z, j);
    if (t >= top) continue;
    state_build(&y, z->c, j);
    if (!state_matches_c(s, &y, z->clk.now, 0, why, sizeof why)) top = t;
  }
  free(y.ev);
  return top;
}

/* After a power loss: a claim of everything (at a time when every lease
** ran out) gets what the model of the surviving prefix x says, and the
** event `probe` appended since, each with a token never handed out in x. */
static void check_claim_after(scen *z, evs_store *s, const state *x, uint64_t floor_tok,
                              uint64_t probe, const char *label) {
  uint64_t want[EVS_PAGE_MAX];
  size_t nw = 0;
  for (uint64_t id = 1; id < x->next_id && nw < EVS_PAGE_MAX; id++)
    if (x->ev[id].st == S_PENDING && ev_status(&x->ev[id], z->clk.now) == EVS_STATUS_PENDING)
      want[nw++] = id;
  if (nw < EVS_PAGE_MAX) want[nw++] = probe;
  evs_query q;
  memset(&q, 0, sizeof q);
  q.limit = EVS_PAGE_MAX;
  evs_page *pg = NULL;
  int rc = evs_claim(s, &q, "after", 0, &pg);
  n_token_probes++;
  char why[200] = "";
  uint64_t last = floor_tok;
  if (rc) {
    snprintf(why, sizeof why, "rc %d: %s", rc, evs_errmsg(s));
  } else if (evs_page_count(pg) != nw) {
    snprintf(why, sizeof why, "%zu events, the model says %zu", evs_page_count(pg), nw);
  } else {
    for (size_t k = 0; k < nw && !why[0]; k++) {
      const evs_event *e = evs_page_event(pg, k);
      uint32_t dc = e->id != want[k] ? 0 : e->id == probe ? 1 : x->ev[e->id].dcount + 1;
      if (e->id != want[k])
        snprintf(why, sizeof why, "item %zu is event %" PRIu64 ", the model says %" PRIu64, k,
                 e->id, want[k]);
      else if (e->lease_token <= last)
        snprintf(why, sizeof why,
                 "event %" PRIu64 " got token %" PRIu64 ", not above %" PRIu64
                 " (the highest of the surviving commits: %" PRIu64 ")",
                 e->id, e->lease_token, last, floor_tok);
      else if (e->delivery_count != (dc > 255 ? 255 : dc))
        snprintf(why, sizeof why, "event %" PRIu64 ": delivery_count %u, the model says %u",
                 e->id, e->delivery_count, dc);
      last = e->lease_token;
    }
  }
  evs_page_free(pg);
  if (!why[0] && (rc = evs_verify(s, NULL)) != 0)
    snprintf(why, sizeof why, "evs_verify after the claim: %s", evs_errmsg(s));
  if (why[0]) {
    fprintf(stderr, "  scenario %" PRIu64 " (%s, %s): claim after reopen: %s\n", z->seed,
            mode_name(z->sync), label, why);
    CHECK(0);
    z->failed = 1;
  }
}

/* Reopen the rebuilt directory for real and find which prefix it holds. */
static void check_disk(scen *z, const char *label) {
  evs_options o = scen_opts(z);
  evs_store *s = NULL;
  int rc = evs_store_open_io(z->f.dir, &o, &check_io, &s);
  n_checks++;
  if (rc) {
    fprintf(stderr, "  scenario %" PRIu64 " (%s, %s): reopen after power loss: rc %d: %s\n",
            z->seed, mode_name(z->sync), label, rc, evs_errmsg(NULL));
    CHECK_EQ(rc, 0);
    z->failed = 1;
    return;
  }
  state x = {0};
  state_grow(&x, 1);
  char why[200] = "", why_lo[200] = "", why_hi[200] = "";
  size_t found = SIZE_MAX;
  for (size_t j = z->hi + 1; j-- > z->lo;) {
    state_build(&x, z->c, j);
    if (!state_matches(s, &x, z->clk.now, why, sizeof why)) {
      found = j;
      break;
    }
    if (j == z->lo) snprintf(why_lo, sizeof why_lo, "%s", why);
    if (j == z->hi) snprintf(why_hi, sizeof why_hi, "%s", why);
  }
  if (found == SIZE_MAX) {
    /* Which prefix does it hold, if any? For the report. */
    size_t any = SIZE_MAX;
    for (size_t j = 0; j <= z->nc && any == SIZE_MAX; j++) {
      state_build(&x, z->c, j);
      if (!state_matches(s, &x, z->clk.now, why, sizeof why)) any = j;
    }
    fprintf(stderr,
            "  scenario %" PRIu64 " (%s, %s): the store holds no allowed state: commits "
            "%zu..%zu of %zu may survive; against %zu: %s; against %zu: %s; it matches %s%zu\n",
            z->seed, mode_name(z->sync), label, z->lo, z->hi, z->nc,
            z->lo, why_lo, z->hi, why_hi, any == SIZE_MAX ? "no prefix " : "prefix ",
            any == SIZE_MAX ? 0 : any);
    CHECK(0);
    z->failed = 1;
  } else if (found < z->hi) {
    n_found_partial_prefix++;
  }
  if (verbose)
    fprintf(stderr, "    %s: holds the first %zu commits of %zu (may: %zu..%zu)\n", label,
            found, z->nc, z->lo, z->hi);
  evs_verify_report vr;
  rc = evs_verify(s, &vr);
  if (rc) {
    evs_stats vst;
    evs_stats_get(s, &vst);
    fprintf(stderr, "  scenario %" PRIu64 " (%s, checkpoint state %d): evs_verify: %s\n", z->seed,
            label, vst.checkpoint_state, evs_errmsg(s));
    CHECK_EQ(rc, 0);
    z->failed = 1;
  }
  int64_t now = z->clk.now;
  int leases = z->lease && found != SIZE_MAX && !z->failed;
  for (uint64_t id = 1; leases && id < x.next_id; id++)
    if (x.ev[id].st == S_PENDING || x.ev[id].st == S_ACKED) n_seen[ev_status(&x.ev[id], now)]++;
  if (leases) {
    /* Later, every lease and hold has run out: each event is pending, or
    ** dead if that was its max_deliveries-th delivery. */
    z->clk.now = now + 40 * SEC;
    if (state_matches_c(s, &x, z->clk.now, 0, why, sizeof why)) {
      fprintf(stderr, "  scenario %" PRIu64 " (%s, %s): prefix %zu, 40 s later: %s\n", z->seed,
              mode_name(z->sync), label, found, why);
      CHECK(0);
      z->failed = 1;
      leases = 0;
    }
  }
  z->clk.now = now;
  uint64_t floor_tok = leases ? token_floor(z, s, z->lo, found) : 0;
  if (leases) z->clk.now = now + 40 * SEC;
  /* A new append continues the ids. */
  evs_stats st;
  evs_stats_get(s, &st);
  evs_event_in in = {.source = "probe", .event_type = "probe", .payload = "{}"};
  evs_append_result r;
  rc = evs_append(s, NULL, &in, &r);
  CHECK_EQ(rc, 0);
  if (!rc) CHECK_EQ(r.id, st.next_id);
  if (leases && !rc) check_claim_after(z, s, &x, floor_tok, r.id, label);
  z->clk.now = now;
  CHECK_EQ(evs_store_close(s), 0);
  free(x.ev);
}

/* Run workload steps until the power goes or `steps` are done. The power
** goes a few calls into step `crash_step` (none if it is >= steps). */
static void run_steps(scen *z, int steps, int crash_step, int allow_big) {
  for (int k = 0; k < steps && z->s && !z->f.crashed && !z->failed; k++) {
    if (k == crash_step) z->f.crash_at = z->f.calls + 1 + rnd_below(8);
    if (step(z, allow_big)) break;
  }
}

/* Power off now (if not already) and drop the handle without syncing. */
static void power_cut(scen *z) {
  if (!z->f.crashed) {
    z->f.crash_at = z->f.calls + 1;
    z->f.crashed = 1;
    z->f.crash_kind = -1;
    n_crash_end++;
  } else if (z->f.crash_kind >= 0) {
    n_crash_kind[z->f.crash_kind]++;
  }
  if (z->s) evs_store_close(z->s); /* refused I/O: nothing reaches the disk */
  z->s = NULL;
}

static void run_scenario(uint64_t seed) {
  scen *z = calloc(1, sizeof *z);
  z->seed = seed;
  gone_acked_ok = 0;
  rng_state = mix64(seed * 7919);
  /* Drawn apart from rng_state, so that scenarios without leases run as
  ** they did before leases were added. */
  uint64_t lh = mix64(seed ^ UINT64_C(0x1ea5e));
  z->lease = lh % 100 < lease_pct;
  max_deliveries = z->lease ? 1 + (uint32_t)((lh >> 8) % 3) : 5;
  z->clk.now = T0;
  n_lease_scen += (uint64_t)z->lease;
  if (with_off)
    z->sync = chance(34) ? EVS_SYNC_OFF : chance(50) ? EVS_SYNC_FULL : EVS_SYNC_NORMAL;
  else
    z->sync = chance(50) ? EVS_SYNC_FULL : EVS_SYNC_NORMAL;
  z->phase2 = chance(25);
  int allow_big = chance(12);
  int steps = 5 + (int)rnd_below(40);
  int m = z->sync == EVS_SYNC_FULL;
  char *dir = t_tmpdir();
  fake_init(&z->f, dir);
  z->io = fake_io(&z->f);
  state_grow(&z->live, 1);
  z->live.next_id = 1;
  z->seeds = seed * 100000 + 1;
  /* The crash point: in the open (meta file, first segment) or a few
  ** calls into a step, or after the last step. */
  int early = chance(12);
  z->f.crash_at = early ? 1 + rnd_below(12) : UINT64_MAX;
  int crash_step = early ? steps : (int)rnd_below((uint64_t)steps + 2);
  if (verbose)
    fprintf(stderr, "scenario %" PRIu64 ": %s, %d steps, big %d, phase2 %d, leases %d "
            "(max_deliveries %u), crash at call %" PRIu64 "\n",
            seed, mode_name(z->sync), steps, allow_big, z->phase2, z->lease, max_deliveries,
            z->f.crash_at);

  evs_options o = scen_opts(z);
  int rc = evs_store_open_io(dir, &o, &z->io, &z->s);
  if (rc) {
    z->s = NULL;
    if (!z->f.crashed) {
      fprintf(stderr, "  scenario %" PRIu64 ": open: %s\n", seed, evs_errmsg(NULL));
      CHECK_EQ(rc, 0);
    }
  }
  run_steps(z, steps, crash_step, allow_big);
  if (z->f.crashed && z->f.crash_creating == 1) n_crash_meta++;
  if (z->f.crashed && z->f.crash_creating == 2) n_crash_seg_create++;
  power_cut(z);
  z->lo = m ? z->f.completed : z->f.sync_mark; /* OFF: no segment sync, 0 */
  if (z->hi < z->nc) z->hi = z->nc;
  if (verbose)
    fprintf(stderr, "  crashed at %s (%s) after %" PRIu64 " calls; commits %zu, may survive %zu..%zu\n",
            z->f.crash_kind >= 0 ? call_names[z->f.crash_kind] : "end", z->f.crash_what,
            z->f.calls, z->nc, z->lo, z->hi);

  if (!z->phase2 && !z->failed) {
    int variants = 4;
    for (int v = 0; v < variants && !z->failed; v++) {
      char label[32];
      snprintf(label, sizeof label, "disk variant %d", v);
      reconstruct(&z->f, v);
      check_disk(z, label);
    }
  } else if (!z->failed) {
    /* Phase 2: one such disk is opened through a fresh fake, whose power
    ** may go during recovery or later work. */
    int variant = 2 + (int)rnd_below(10);
    uint64_t disk_rng = rng_state;
    reconstruct(&z->f, variant);
    fakefs *old = malloc(sizeof *old);
    *old = z->f;
    int steps2 = 5 + (int)rnd_below(20);
    int in_open = chance(40);
    uint64_t crash_at = UINT64_MAX;
    if (in_open) {
      /* Count the calls of this open (recovery: segment opens, then the
      ** truncation of a torn tail or the re-creation of a torn new
      ** segment), rebuild the same disk, and aim at them, mostly at the
      ** last ones. */
      fake_init(&z->f, dir);
      z->f.crash_at = UINT64_MAX;
      evs_store *probe = NULL;
      if (!evs_store_open_io(dir, &o, &z->io, &probe)) {
        z->f.crashed = 1; /* no more writes: close without touching the disk */
        evs_store_close(probe);
      }
      uint64_t calls = z->f.calls;
      fake_free(&z->f);
      uint64_t after = rng_state;
      rng_state = disk_rng;
      reconstruct(old, variant);
      rng_state = after;
      crash_at = chance(70) ? calls - rnd_below(calls < 6 ? calls : 6) : 1 + rnd_below(calls);
      if (!crash_at) crash_at = 1;
    }
    fake_init(&z->f, dir);
    z->f.crash_at = crash_at;
    z->f.completed = 0;
    size_t lo1 = z->lo, hi1 = z->hi;
    rc = evs_store_open_io(dir, &o, &z->io, &z->s);
    if (rc) {
      z->s = NULL;
      if (!z->f.crashed) {
        fprintf(stderr, "  scenario %" PRIu64 ": phase 2 open: %s\n", seed, evs_errmsg(NULL));
        CHECK_EQ(rc, 0);
        z->failed = 1;
      } else {
        n_crash_recovery++;
      }
    } else {
      /* Which prefix did phase 1 leave? It is durable now. */
      state x = {0};
      state_grow(&x, 1);
      char why[200];
      size_t found = SIZE_MAX;
      for (size_t j = hi1 + 1; j-- > lo1;) {
        state_build(&x, z->c, j);
        if (!state_matches(z->s, &x, z->clk.now, why, sizeof why)) {
          found = j;
          break;
        }
      }
      if (found == SIZE_MAX) {
        fprintf(stderr, "  scenario %" PRIu64 ": phase 2 opened a store holding none of "
                "commits %zu..%zu: %s\n", seed, lo1, hi1, why);
        CHECK(0);
        z->failed = 1;
      } else {
        z->nc = found;
        z->lo = z->hi = found;
        learn_tokens(z, found);
        state_build(&z->live, z->c, found);
        /* Tokens above this one are never handed out again. */
        z->last_tok = z->lease ? token_floor(z, z->s, lo1, found) : 0;
        z->base_nc = found; /* the store holds one of the prefixes that look like it */
        z->base_tok = z->last_tok;
        z->f.completed = found;
        z->f.sync_mark = found;
        run_steps(z, steps2, in_open ? steps2 : (int)rnd_below((uint64_t)steps2 + 2), allow_big);
      }
      free(x.ev);
    }
    if (z->f.crashed && z->f.crash_creating == 2) n_crash_seg_create++;
    power_cut(z);
    if (!z->failed) {
      if (rc == 0) {
        z->lo = m ? z->f.completed : z->f.sync_mark; /* OFF: never synced, what open saw */
        if (z->hi < z->nc) z->hi = z->nc;
      }
      for (int v = 0; v < 3 && !z->failed; v++) {
        char label[40];
        snprintf(label, sizeof label, "phase 2, disk variant %d", v);
        reconstruct(&z->f, v == 0 ? 2 : v + 1);
        check_disk(z, label);
      }
    }
    fake_free(old);
    free(old);
  }
  /* A failure in the workload (an unexpected rc, id or delete) fails the
  ** test too, not only the checks of the disks (which it skips). */
  CHECK(!z->failed);
  if (z->failed) fprintf(stderr, "  (replay: EVS_SEED=%" PRIu64 ")\n", seed);
  fake_free(&z->f);
  free(z->c);
  free(z->live.ev);
  t_rmdir(dir);
  free(z);
  n_scen++;
}

static void t_power_loss(void) {
  check_io = evs_io_posix;
  check_io.fdatasync = nosync;
  check_io.fsync = nosync;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const char *env = getenv("EVS_POWERLOSS_OFF");
  with_off = !(env && *env == '0');
  if ((env = getenv("EVS_POWERLOSS_LEASES"))) lease_pct = (unsigned)strtoul(env, NULL, 10);
  env = getenv("EVS_SEED");
  if (env) {
    verbose = 1;
    run_scenario(strtoull(env, NULL, 10));
    return;
  }
  uint64_t n = 2500;
  if ((env = getenv("EVS_POWERLOSS_SCENARIOS"))) n = strtoull(env, NULL, 10);
  int failures = 0;
  for (uint64_t seed = 1; seed <= n && failures < 10; seed++) {
    int before = t_failed_checks;
    run_scenario(seed);
    if (t_failed_checks != before) failures++;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("info: powerloss: %" PRIu64 " scenarios, %" PRIu64 " disks checked; power went at "
         "open %" PRIu64 ", pwrite %" PRIu64 ", fdatasync %" PRIu64 ", fsync %" PRIu64
         ", ftruncate %" PRIu64 ", rename %" PRIu64 ", unlink %" PRIu64 ", end %" PRIu64
         " (meta file %" PRIu64 ", new segment %" PRIu64 ", recovery %" PRIu64 "); %" PRIu64
         " torn writes (%" PRIu64 " zero tails), %" PRIu64 " entries vanished, %" PRIu64
         " disks lost committed work allowed by the mode, %" PRIu64 " big txns, %.1f s\n",
         n_scen, n_checks, n_crash_kind[C_OPEN], n_crash_kind[C_PWRITE],
         n_crash_kind[C_FDATASYNC], n_crash_kind[C_FSYNC], n_crash_kind[C_FTRUNCATE],
         n_crash_kind[C_RENAME], n_crash_kind[C_UNLINK], n_crash_end, n_crash_meta,
         n_crash_seg_create, n_crash_recovery, n_torn_writes, n_zero_tails, n_vanished,
         n_found_partial_prefix, n_big,
         (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  printf("info: powerloss leases: %" PRIu64 " scenarios; ops:", n_lease_scen);
  for (int k = 0; k < LO_NKINDS; k++) printf(" %s %" PRIu64 ",", lease_op_names[k], n_lease_ops[k]);
  printf(" %" PRIu64 " events claimed, %" PRIu64 " redriven, %" PRIu64
         " settles refused as the model said, %" PRIu64 " claims after reopen, %" PRIu64
         " lease commits in flight at a power loss (%" PRIu64 " claims kept), %" PRIu64
         " tokens handed out again after their claim was lost; events checked "
         "pending %" PRIu64 ", leased %" PRIu64 ", delayed %" PRIu64 ", dead %" PRIu64
         ", acknowledged %" PRIu64 "\n", n_claimed, n_redriven, n_stale, n_token_probes,
         n_inflight_lease, n_inflight_claims_kept, n_tok_again,
         n_seen[EVS_STATUS_PENDING], n_seen[EVS_STATUS_LEASED], n_seen[EVS_STATUS_DELAYED],
         n_seen[EVS_STATUS_DEAD], n_seen[EVS_STATUS_ACKNOWLEDGED]);
}

int main(void) {
  RUN(t_power_loss);
  return TEST_EXIT();
}
