/*
** io.h: the one door through which the store touches files.
** Every write, sync, truncate, rename and unlink goes through an evs_io
** table so that tests can inject faults (short writes, EIO, ENOSPC, fsync
** failure, a crash at write N, lost unsynced writes). Reads of committed
** records go through mmap and are not routed here.
**
** Error convention: this layer (and evs_read_file, which reads through it)
** is the only one whose functions return a negated errno: it mirrors the
** system calls it wraps, and fault tests inject errno values. Every caller
** turns one into an EVS_E* code, with a message naming the file, through
** evs_err_io (error.h) at once; everywhere else a status is 0 or EVS_E*.
** (EVS_E* codes are -1001 and below, so the two cannot be confused.)
*/
#ifndef EVS_IO_H
#define EVS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "evstore.h"

/* Each call returns >= 0 on success or -errno. */
typedef struct evs_io {
  int (*open)(void *ctx, const char *path, int flags, int mode);
  int (*close)(void *ctx, int fd);
  ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, off_t off);
  ssize_t (*pread)(void *ctx, int fd, void *buf, size_t n, off_t off);
  int (*fdatasync)(void *ctx, int fd);
  int (*fsync)(void *ctx, int fd); /* for directories */
  int (*ftruncate)(void *ctx, int fd, off_t len);
  int (*rename)(void *ctx, const char *from, const char *to);
  int (*unlink)(void *ctx, const char *path);
  /* Size of a regular file; -EISDIR for a directory and -EINVAL for any
  ** other kind of file (a FIFO, a device): a store's files are regular. */
  int (*fsize)(void *ctx, int fd, uint64_t *size);
  void *ctx;
} evs_io;

/* The real thing: POSIX calls, EINTR retried. */
extern const evs_io evs_io_posix;

/* Write all n bytes at off, looping over short writes. Returns 0 or
** -errno (a write that makes no progress is -EIO). */
int evs_io_write_all(const evs_io *io, int fd, const void *buf, size_t n,
                     off_t off);
/* fsync the directory holding a new or renamed file. */
int evs_io_sync_dir(const evs_io *io, const char *dir);

/* The size of the buffers file paths are built in (store.h: EVS_DIR_MAX). */
#define EVS_PATH_BUF 4096

/* Replace dir/name atomically with n bytes of buf: write name.tmp (a new
** file of the given mode; a stale one is removed first), fdatasync,
** rename over name, fsync dir. 0 or -errno. *renamed (may be
** NULL) tells a failure after the rename (name replaced, the directory
** sync failed: which version a power loss keeps is unknown) from one
** before it (name untouched, temp file removed). */
int evs_io_replace(const evs_io *io, const char *dir, const char *name,
                   const void *buf, size_t n, int mode, int *renamed);

/* Read the whole small file dir/name; *buf malloc'ed. 0, or -errno
** (-ENOENT when missing; -EISDIR or -EINVAL when it is not a regular
** file). */
int evs_io_read_file(const evs_io *io, const char *dir, const char *name, uint8_t **buf,
                     size_t *n);
/* The same, keeping the file open: its descriptor in *keep (when keep is
** not NULL and the read succeeded). */
int evs_io_read_file_keep(const evs_io *io, const char *dir, const char *name, uint8_t **buf,
                          size_t *n, int *keep);

/* evs_store_open with an I/O table of the caller's (tests only). */
int evs_store_open_io(const char *dir, const evs_options *opts,
                      const evs_io *io, evs_store **out);

#endif
