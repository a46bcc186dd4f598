/*
** error.c: status code texts and the last-error message of each thread.
** Messages are kept per thread so that threads sharing a store never see
** each other's errors; evs_errmsg(s) returns the message only when the
** thread's last error happened on s.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "util.h"

static _Thread_local char tl_msg[512];
static _Thread_local const evs_store *tl_store;
static _Thread_local int tl_set;

const char *evs_version(void) { return EVS_VERSION_STRING; }

const char *evs_strerror(int rc) {
  switch (rc) {
  case EVS_OK: return "not an error";
  case EVS_EINVAL: return "invalid argument";
  case EVS_ENOTFOUND: return "event not found";
  case EVS_ECONFLICT: return "conflict with the event's current state";
  case EVS_ETOOBIG: return "value too big";
  case EVS_ECORRUPT: return "store data is corrupt";
  case EVS_EIO: return "I/O error";
  case EVS_ELOCKED: return "store is locked by another process";
  case EVS_ENOMEM: return "out of memory";
  case EVS_ECURSOR: return "invalid cursor";
  case EVS_EJSON: return "invalid JSON";
  case EVS_EBUSY: return "timed out waiting (for the write transaction, or for an event)";
  case EVS_EDEADLK: return "this thread already holds the write transaction";
  case EVS_ESTALE: return "lease token is not the current one (expired or settled)";
  case EVS_ENOSPC: return "no space left on device";
  case EVS_EREADONLY: return "store is read-only after a failed sync or undo";
  case EVS_EMISUSE: return "API misuse";
  default: return "unknown error code";
  }
}

int evs_err(const evs_store *s, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
  va_end(ap);
  tl_store = s;
  tl_set = 1;
  return rc;
}

int evs_err_io(const evs_store *s, int err, const char *what,
               const char *path) {
  int rc = err == ENOSPC || err == EDQUOT ? EVS_ENOSPC
           : err == ENOMEM                 ? EVS_ENOMEM
                                           : EVS_EIO;
  return evs_err(s, rc, "%s %s: %s", what, path ? path : "", strerror(err));
}

const char *evs_errmsg(const evs_store *s) {
  if (!tl_set) return "not an error";
  if (s && s != tl_store) return "no error on this store in this thread";
  return tl_msg;
}

int evs_grow(void **buf, size_t *cap, size_t need, size_t esz) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *p = realloc(*buf, n * esz);
  if (!p) return EVS_ENOMEM;
  *buf = p;
  *cap = n;
  return 0;
}
