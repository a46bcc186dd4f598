/*
** gen_corpus.c: seeds for fuzz_open, made by the library itself.
**
**   build/fuzz/gen_corpus OUTDIR      (make fuzz-corpus)
**
** Builds small stores (segment_size 4096, sync off, a fake clock) with
** events, keys, metadata, priorities, acks, batch acks, deletes, rolled
** back transactions and savepoints, compressed payloads and up to three
** segments; reads each back as its manifest lists it (the segment numbers
** must be those of a numbering mode of open_format.h) and packs the files
** into the fuzz_open input format, mostly with a synthesised manifest, also
** in variants: checksum fix-ups on, torn or damaged tails, a missing meta
** file, other segment numbers (a gap, across the 65536-slot wrap), retention
** on, the library's own manifest, no manifest, and a roll that crashed
** before its manifest. The store id, cursor key and creation time in the
** files are replaced by constants (and checksums recomputed), so the output
** is the same on every run.
*/
#include <errno.h>
#include <fcntl.h>

#include "fuzz_common.h"
#include "open_format.h"

#define SID 0x5eed5eed5eed5eedULL
#define KEY 0x0123456789abcdefULL

static int64_t clk;
static const char *outdir;
static char work[300];

static void die(const char *what, const char *msg) {
  fprintf(stderr, "gen_corpus: %s: %s\n", what, msg);
  exit(1);
}

static evs_store *open_store(void) {
  evs_options o = {0};
  o.sync = EVS_SYNC_OFF;
  o.segment_size = 4096;
  o.compress_threshold = 256;
  o.retention_us = -1;
  o.clock = fz_clock;
  o.clock_arg = &clk;
  evs_store *s;
  if (evs_store_open(work, &o, &s)) die("open", evs_errmsg(NULL));
  return s;
}

static uint64_t add(evs_store *s, evs_txn *t, const char *src, const char *typ,
                    const char *payload, const char *meta, const char *key, int prio) {
  evs_event_in ev = {.source = src, .event_type = typ, .payload = payload,
                     .metadata = meta, .idempotency_key = key, .priority = prio};
  evs_append_result r;
  clk += 1000;
  if (evs_append(s, t, &ev, &r)) die("append", evs_errmsg(s));
  return r.id;
}

static void padded(char *out, size_t cap, int i, size_t pad) {
  int n = snprintf(out, cap, "{\"i\":%d,\"text\":\"", i);
  for (size_t k = 0; k < pad && (size_t)n + 3 < cap; k++)
    out[n++] = "lorem ipsum dolor sit amet "[(k + (size_t)i) % 27];
  snprintf(out + n, cap - (size_t)n, "\"}");
}

/* ---- packing ---------------------------------------------------------------- */

typedef struct files {
  uint8_t *f[4]; /* meta, segments */
  size_t n[4];
  unsigned nseg;
  unsigned numbering; /* the mode of open_format.h naming the segments */
  uint8_t *man;       /* evstore.manifest as the library wrote it */
  size_t nman;
} files;

static uint8_t *slurp(const char *path, size_t *n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  struct stat st;
  fstat(fd, &st);
  uint8_t *p = malloc((size_t)st.st_size + 1);
  *n = (size_t)read(fd, p, (size_t)st.st_size);
  close(fd);
  return p;
}

/* Read the store in `work` as its manifest lists it, then empty `work`. */
static void load(files *fs) {
  char path[400];
  memset(fs, 0, sizeof *fs);
  snprintf(path, sizeof path, "%s/evstore.meta", work);
  if (!(fs->f[0] = slurp(path, &fs->n[0]))) die("read", path);
  snprintf(path, sizeof path, "%s/%s", work, EVS_MANIFEST_NAME);
  if (!(fs->man = slurp(path, &fs->nman))) die("read", path);
  evs_manifest m;
  const char *why = "out of memory";
  if (evs_manifest_decode(fs->man, fs->nman, &m, &why)) die(path, why);
  if (m.count > 3) die("store", "more than 3 segments");
  /* Segment numbers must be those of a numbering mode. */
  fs->nseg = m.count;
  for (fs->numbering = 0; fs->numbering < 4; fs->numbering++) {
    unsigned i = 0;
    while (i < m.count && m.segno[i] == of_segno(fs->numbering, i)) i++;
    if (i == m.count) break;
  }
  if (fs->numbering == 4) die("store", "segment numbers no numbering mode names");
  for (unsigned i = 1; i <= fs->nseg; i++) {
    snprintf(path, sizeof path, "%s/%016llx.evlog", work,
             (unsigned long long)m.segno[i - 1]);
    if (!(fs->f[i] = slurp(path, &fs->n[i]))) die("read", path);
    if (m.size[i - 1] && m.size[i - 1] != fs->n[i]) die(path, "not its sealed size");
  }
  free(m.segno);
  free(m.size);
  /* Constant identity: store id, cursor key, creation time. */
  of_put64(fs->f[0] + 16, SID);
  of_put64(fs->f[0] + 24, KEY);
  of_put64(fs->f[0] + 32, (uint64_t)OF_T0);
  of_fix_meta_sum(fs->f[0], fs->n[0]);
  for (unsigned i = 1; i <= fs->nseg; i++) {
    of_put64(fs->f[i] + 24, SID);
    of_fix_seg_sums(fs->f[i], fs->n[i]);
  }
  of_put64(fs->man + 16, SID);
  of_fix_manifest_sum(fs->man, fs->nman);
  fz_clean_dir(work);
}

static void free_files(files *fs) {
  for (int i = 0; i < 4; i++) free(fs->f[i]);
  free(fs->man);
}

static int nwritten;

/* Write fs as a fuzz_open input: flags (the segment count is fs's),
** numbering (-1: the store's own) and manifest mode; the library's
** manifest is included in mode OF_MAN_INPUT. */
static void emit(const char *name, const files *fs, unsigned flags, int numbering,
                 unsigned man) {
  uint8_t hdr[16];
  size_t h = 0;
  flags = (flags & ~3u) | fs->nseg;
  hdr[h++] = (uint8_t)flags;
  hdr[h++] = OF_LAYOUT(numbering < 0 ? fs->numbering : (unsigned)numbering, man);
  for (unsigned i = 0; i < (fs->nseg ? fs->nseg : 1); i++) {
    hdr[h++] = (uint8_t)fs->n[i];
    hdr[h++] = (uint8_t)(fs->n[i] >> 8);
  }
  if (man == OF_MAN_INPUT) {
    hdr[h++] = (uint8_t)fs->nman;
    hdr[h++] = (uint8_t)(fs->nman >> 8);
  }
  char path[600];
  snprintf(path, sizeof path, "%s/%s", outdir, name);
  FILE *f = fopen(path, "wb");
  if (!f) die("create", path);
  fwrite(hdr, 1, h, f);
  fwrite(fs->f[0], 1, fs->n[0], f);
  if (man == OF_MAN_INPUT) fwrite(fs->man, 1, fs->nman, f);
  for (unsigned i = 1; i <= fs->nseg; i++) fwrite(fs->f[i], 1, fs->n[i], f);
  if (fclose(f)) die("write", path);
  nwritten++;
}

/* ---- stores ----------------------------------------------------------------- */

static void st_empty(files *fs) {
  evs_store_close(open_store());
  load(fs);
}

static void st_one(files *fs) {
  evs_store *s = open_store();
  add(s, NULL, "stripe", "invoice.paid", "{\"invoice\":\"in_1\"}", NULL, "evt_1", 0);
  evs_store_close(s);
  load(fs);
}

/* Everything the log can say, in one segment or two. */
static void st_mixed(files *fs) {
  evs_store *s = open_store();
  char pl[600];
  for (int i = 1; i <= 8; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", i);
    padded(pl, sizeof pl, i, (size_t)(i % 3 ? 10 : 400));
    add(s, NULL, i % 2 ? "app" : "billing", i % 3 ? "user.created" : "order.paid", pl,
        i % 4 ? NULL : "{\"tenant\":\"t1\",\"n\":1}", i % 2 ? key : NULL, 1 + i % 3);
  }
  add(s, NULL, "app", "dup", "{}", NULL, "k1", 0); /* a duplicate: no record */
  clk += 1000;
  if (evs_ack(s, NULL, 2, NULL)) die("ack", evs_errmsg(s));
  uint64_t ids[3] = {3, 4, 5};
  int rcs[3];
  clk += 1000;
  if (evs_ack_batch(s, NULL, ids, 3, rcs)) die("ack_batch", evs_errmsg(s));
  if (evs_delete(s, NULL, 4, NULL) || evs_delete(s, NULL, 6, NULL))
    die("delete", evs_errmsg(s));
  /* A rolled-back transaction leaves nothing; a savepoint keeps part. */
  evs_txn *t;
  if (evs_txn_begin(s, &t)) die("begin", evs_errmsg(s));
  add(s, t, "app", "gone", "{\"x\":1}", NULL, NULL, 0);
  evs_txn_rollback(t);
  if (evs_txn_begin(s, &t)) die("begin", evs_errmsg(s));
  add(s, t, "app", "kept", "{\"x\":2}", NULL, "k-kept", 0);
  evs_txn_savepoint(t, 0);
  add(s, t, "app", "undone", "{\"x\":3}", NULL, NULL, 0);
  evs_ack(s, t, 1, NULL);
  evs_txn_rollback_to(t, 0);
  evs_ack(s, t, 7, NULL);
  evs_delete(s, t, 8, NULL);
  if (evs_txn_commit(t)) die("commit", evs_errmsg(s));
  evs_event_in batch[3] = {
      {.source = "batch", .event_type = "b", .payload = "{\"b\":1}", .idempotency_key = "bk"},
      {.source = "batch", .event_type = "b", .payload = "{\"b\":2}", .idempotency_key = "bk"},
      {.source = "batch", .event_type = "b", .payload = "{\"b\":3}", .priority = 3}};
  evs_append_result res[3];
  clk += 1000;
  if (evs_append_batch(s, NULL, batch, 3, res)) die("batch", evs_errmsg(s));
  evs_store_close(s);
  load(fs);
}

/* Three segments of plain events. */
static void st_multi(files *fs) {
  evs_store *s = open_store();
  char pl[400];
  for (int i = 1; i <= 30; i++) {
    padded(pl, sizeof pl, i, 200);
    add(s, NULL, i % 3 ? "a" : "b", "t", pl, NULL, NULL, 0);
    if (i % 5 == 0) evs_ack(s, NULL, (uint64_t)i - 2, NULL);
    if (i % 11 == 0) evs_delete(s, NULL, (uint64_t)i - 1, NULL);
  }
  evs_store_close(s);
  load(fs);
}

/* Compressed payloads (over the 256-byte threshold, repetitive). */
static void st_compressed(files *fs) {
  evs_store *s = open_store();
  char pl[3000];
  for (int i = 1; i <= 4; i++) {
    padded(pl, sizeof pl, i, (size_t)(500 * i));
    add(s, NULL, "big", "blob", pl, "{\"size\":\"large\"}", NULL, 0);
  }
  evs_ack(s, NULL, 2, NULL);
  evs_store_close(s);
  load(fs);
}

static void st_all_gone(files *fs) {
  evs_store *s = open_store();
  for (int i = 1; i <= 4; i++) add(s, NULL, "x", "y", "{\"v\":true}", NULL, "same", 0);
  for (int i = 5; i <= 8; i++) add(s, NULL, "x", "y", "{\"v\":null}", NULL, NULL, 2);
  uint64_t ids[4] = {5, 6, 7, 8};
  int rcs[4];
  evs_ack_batch(s, NULL, ids, 4, rcs);
  evs_delete(s, NULL, 1, NULL);
  evs_delete(s, NULL, 6, NULL);
  add(s, NULL, "x", "y", "{\"again\":1}", NULL, "same", 0); /* key reusable */
  evs_store_close(s);
  load(fs);
}

/* A copy of fs whose last segment is changed. */
static files tail_variant(const files *fs, size_t cut, const char *append) {
  files v = *fs;
  unsigned l = fs->nseg;
  for (unsigned i = 0; i <= l; i++) {
    v.f[i] = malloc(fs->n[i] + 64);
    memcpy(v.f[i], fs->f[i], fs->n[i]);
  }
  v.man = malloc(fs->nman);
  memcpy(v.man, fs->man, fs->nman);
  if (cut < v.n[l]) v.n[l] = cut;
  if (append) {
    size_t k = strlen(append);
    memcpy(v.f[l] + v.n[l], append, k);
    v.n[l] += k;
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  outdir = argv[1];
  if (mkdir(outdir, 0755) && errno != EEXIST) die("mkdir", outdir);
  snprintf(work, sizeof work, "%s/gen", fz_scratch());
  clk = OF_T0;

  static void (*const stores[])(files *) = {st_empty,      st_one,     st_mixed, st_multi,
                                            st_compressed, st_all_gone};
  static const char *const names[] = {"empty", "one", "mixed", "multi", "compressed",
                                      "all-gone"};
  files fs[6];
  for (int i = 0; i < 6; i++) {
    stores[i](&fs[i]);
    char name[64];
    snprintf(name, sizeof name, "%s", names[i]);
    emit(name, &fs[i], 0, -1, OF_MAN_SYNTH);
    snprintf(name, sizeof name, "%s-fix", names[i]);
    emit(name, &fs[i], OF_FIXSUM | OF_FIXCHAIN, -1, OF_MAN_SYNTH);
  }
  files *one = &fs[1], *mixed = &fs[2], *multi = &fs[3];
  emit("mixed-retention-smallpage", mixed, OF_RETENTION | OF_SMALLPAGE | OF_BIGAPPEND,
       -1, OF_MAN_SYNTH);
  emit("mixed-nometa", mixed, OF_NOMETA, -1, OF_MAN_SYNTH);
  /* Other segment numbers (as compaction leaves them): the chain fix-up
  ** renumbers the headers. */
  emit("multi-gap", multi, OF_FIXCHAIN | OF_FIXSUM, 3, OF_MAN_SYNTH);
  emit("multi-wrap", multi, OF_FIXCHAIN | OF_FIXSUM, 2, OF_MAN_SYNTH);
  emit("multi-from2", multi, OF_FIXCHAIN | OF_FIXSUM, 1, OF_MAN_SYNTH);
  emit("compressed-fix-bigappend", &fs[4], OF_FIXSUM | OF_BIGAPPEND, -1, OF_MAN_SYNTH);
  /* The library's own manifest, to mutate; none at all. */
  emit("mixed-manifest", mixed, 0, -1, OF_MAN_INPUT);
  emit("multi-manifest-fix", multi, OF_FIXSUM, -1, OF_MAN_INPUT);
  emit("empty-nomanifest", &fs[0], 0, -1, OF_MAN_NONE); /* creation crashed */
  emit("one-nomanifest", one, 0, -1, OF_MAN_NONE);

  /* Crash leftovers in the last segment. */
  struct {
    const char *name;
    files *src;
    size_t cut;
    const char *append;
    unsigned man;
  } tails[] = {
      /* cut 10 bytes off (set below) */
      {"mixed-torn-10", mixed, 0, NULL, OF_MAN_SYNTH},
      {"mixed-garbage", mixed, SIZE_MAX, "\x40\x00\x00\x00garbage after the last commit",
       OF_MAN_SYNTH},
      {"mixed-zeros", mixed, SIZE_MAX, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
       OF_MAN_SYNTH},
      {"one-mid-record", one, 90, NULL, OF_MAN_SYNTH},
      {"one-header-only", one, 64, NULL, OF_MAN_SYNTH},
      /* creation torn before its manifest */
      {"one-torn-header", one, 30, NULL, OF_MAN_NONE},
      {"multi-torn", multi, 700, NULL, OF_MAN_SYNTH},
  };
  tails[0].cut = mixed->n[mixed->nseg] - 10;
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
    files v = tail_variant(tails[i].src, tails[i].cut, tails[i].append);
    emit(tails[i].name, &v, 0, -1, tails[i].man);
    char name[64];
    snprintf(name, sizeof name, "%s-fix", tails[i].name);
    emit(name, &v, OF_FIXSUM, -1, tails[i].man);
    free_files(&v);
  }
  /* A roll that crashed before its manifest: a new segment (its header
  ** only) that the manifest does not list yet. */
  files v = tail_variant(multi, EVS_SEG_HDR, NULL);
  emit("multi-roll-crash", &v, 0, -1, OF_MAN_ORPHAN);
  free_files(&v);
  for (int i = 0; i < 6; i++) free_files(&fs[i]);
  printf("gen_corpus: %d seeds in %s\n", nwritten, outdir);
  return 0;
}
