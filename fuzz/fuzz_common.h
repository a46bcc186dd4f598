/*
** fuzz_common.h: small helpers shared by the libFuzzer harnesses: a
** reader over the fuzz input, a deterministic clock, checks that abort
** with a message, and a scratch directory per process.
*/
#ifndef EVS_FUZZ_COMMON_H
#define EVS_FUZZ_COMMON_H

#include <dirent.h>
#include <evstore.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- scratch directory --------------------------------------------------- */

static char fz_root[256];

/* Remove every file in dir (the stores never make subdirectories). */
static inline void fz_clean_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[512];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

static inline void fz_rm_root(void) {
  if (!fz_root[0]) return;
  DIR *d = opendir(fz_root);
  if (d) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(path, sizeof path, "%s/%s", fz_root, e->d_name);
      fz_clean_dir(path);
      rmdir(path);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(fz_root);
}

/* A failed property: say what and abort, so libFuzzer records the input. */
static inline void fz_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static inline void fz_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\n==FUZZ CHECK FAILED== %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  fz_rm_root(); /* abort() skips atexit */
  abort();
}
#define FZ_CHECK(cond, ...)                                  \
  do {                                                       \
    if (!(cond)) fz_fail(__FILE__, __LINE__, __VA_ARGS__);   \
  } while (0)

/* Consume the input front to back; an exhausted reader yields zeros. */
typedef struct fz_in {
  const uint8_t *p;
  size_t n;
} fz_in;

static inline unsigned fz_u8(fz_in *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}
static inline unsigned fz_u16(fz_in *in) {
  unsigned a = fz_u8(in);
  return a | fz_u8(in) << 8;
}
static inline uint32_t fz_u32(fz_in *in) {
  uint32_t a = fz_u16(in);
  return a | (uint32_t)fz_u16(in) << 16;
}
static inline uint64_t fz_u64(fz_in *in) {
  uint64_t a = fz_u32(in);
  return a | (uint64_t)fz_u32(in) << 32;
}
/* 0..k-1 */
static inline unsigned fz_pick(fz_in *in, unsigned k) { return fz_u8(in) % k; }

/* A clock the harness moves: deterministic times, no sleeping. */
static inline int64_t fz_clock(void *arg) { return *(const int64_t *)arg; }

/* A private directory for this process, removed at exit: under
** $FUZZ_TMPDIR, else /dev/shm (tmpfs: no disk syncs), else $TMPDIR or /tmp. */
static inline const char *fz_scratch(void) {
  if (fz_root[0]) return fz_root;
  const char *t = getenv("FUZZ_TMPDIR");
  if (!t || !*t) t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
  snprintf(fz_root, sizeof fz_root, "%s/evs-fuzz.XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(fz_root)) {
    perror("mkdtemp");
    abort();
  }
  atexit(fz_rm_root);
  return fz_root;
}

#endif
