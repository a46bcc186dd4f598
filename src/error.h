/*
** error.h: setting the per-thread, per-store last error message.
*/
#ifndef EVS_ERROR_H
#define EVS_ERROR_H

#include "evstore.h"

/* Record rc and a printf-style message as the calling thread's last error
** on store s (s may be NULL, e.g. during open). Returns rc. */
int evs_err(const evs_store *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Map an errno from a failed I/O call to EVS_EIO / EVS_ENOSPC / ENOMEM
** and record "<what> <path>: <strerror>". Returns the code. */
int evs_err_io(const evs_store *s, int err, const char *what,
               const char *path);

#endif
