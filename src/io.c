/*
** io.c: the POSIX implementation of the evs_io table and helpers that
** turn partial reads and writes into all-or-error calls.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

static int px_open(void *ctx, const char *path, int flags, int mode) {
  int fd;
  do fd = open(path, flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}
static int px_close(void *ctx, int fd) { return close(fd) < 0 ? -errno : 0; }
static ssize_t px_pwrite(void *ctx, int fd, const void *b, size_t n, off_t o) {
  ssize_t r;
  do r = pwrite(fd, b, n, o);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}
static ssize_t px_pread(void *ctx, int fd, void *b, size_t n, off_t o) {
  ssize_t r;
  do r = pread(fd, b, n, o);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : r;
}
static int px_fdatasync(void *ctx, int fd) {
  int r;
  do r = fdatasync(fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}
static int px_fsync(void *ctx, int fd) {
  int r;
  do r = fsync(fd);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}
static int px_ftruncate(void *ctx, int fd, off_t len) {
  int r;
  do r = ftruncate(fd, len);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}
static int px_rename(void *ctx, const char *a, const char *b) {
  return rename(a, b) < 0 ? -errno : 0;
}
static int px_unlink(void *ctx, const char *p) {
  return unlink(p) < 0 ? -errno : 0;
}
static int px_fsize(void *ctx, int fd, uint64_t *size) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (!S_ISREG(st.st_mode)) return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
  *size = (uint64_t)st.st_size;
  return 0;
}

const evs_io evs_io_posix = {px_open,      px_close,  px_pwrite, px_pread,
                             px_fdatasync, px_fsync,  px_ftruncate,
                             px_rename,    px_unlink, px_fsize,  NULL};

int evs_io_write_all(const evs_io *io, int fd, const void *buf, size_t n,
                     off_t off) {
  const char *p = buf;
  while (n > 0) {
    ssize_t r = io->pwrite(io->ctx, fd, p, n, off);
    if (r < 0) return (int)r;
    if (r == 0) return -EIO;
    p += r;
    n -= (size_t)r;
    off += r;
  }
  return 0;
}

int evs_io_sync_dir(const evs_io *io, const char *dir) {
  int fd = io->open(io->ctx, dir, O_RDONLY | O_DIRECTORY, 0);
  if (fd < 0) return fd;
  int rc = io->fsync(io->ctx, fd);
  io->close(io->ctx, fd);
  return rc;
}

int evs_io_replace(const evs_io *io, const char *dir, const char *name,
                   const void *buf, size_t n, int mode, int *renamed) {
  if (renamed) *renamed = 0;
  char path[EVS_PATH_BUF], tmp[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  /* Always a new file: a temp file left by a crash keeps its own mode
  ** under O_TRUNC, and the mode is the store's to decide. */
  int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd == -EEXIST) {
    io->unlink(io->ctx, tmp);
    fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  }
  if (fd < 0) return fd;
  int e = evs_io_write_all(io, fd, buf, n, 0);
  if (!e) e = io->fdatasync(io->ctx, fd);
  io->close(io->ctx, fd);
  if (!e) e = io->rename(io->ctx, tmp, path);
  if (e) {
    io->unlink(io->ctx, tmp);
    return e;
  }
  if (renamed) *renamed = 1;
  return evs_io_sync_dir(io, dir);
}

int evs_io_read_file(const evs_io *io, const char *dir, const char *name, uint8_t **buf,
                     size_t *n) {
  return evs_io_read_file_keep(io, dir, name, buf, n, NULL);
}

int evs_io_read_file_keep(const evs_io *io, const char *dir, const char *name, uint8_t **buf,
                          size_t *n, int *keep) {
  char path[EVS_PATH_BUF];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  *buf = NULL;
  *n = 0;
  /* O_NONBLOCK: a FIFO standing in the file's place must not hang open. */
  int fd = io->open(io->ctx, path, O_RDONLY | O_NONBLOCK, 0);
  if (fd < 0) return fd;
  uint64_t size;
  int e = io->fsize(io->ctx, fd, &size);
  if (!e && size > ((uint64_t)1 << 40)) e = -EFBIG;
  uint8_t *b = NULL;
  if (!e && !(b = malloc(size ? size : 1))) e = -ENOMEM;
  for (uint64_t got = 0; !e && got < size;) {
    ssize_t r = io->pread(io->ctx, fd, b + got, size - got, (off_t)got);
    if (r < 0) e = (int)r;
    else if (r == 0) e = -EIO; /* shrank under us */
    else got += (uint64_t)r;
  }
  if (e || !keep) io->close(io->ctx, fd);
  if (e) {
    free(b);
    return e;
  }
  if (keep) *keep = fd;
  *buf = b;
  *n = size;
  return 0;
}
