/*
** log.h: writing the log (log.c): records of the open segment, group commit
** of fdatasync, rolling to a new segment, the manifest.
*/
#ifndef EVS_LOG_H
#define EVS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "segment.h"

/* Write the manifest for segs[0..n) (the last one open), generation + 1,
** with the given layout number. *in_effect (may be NULL) is 1 when the
** new manifest replaced the old one, also when an error is returned (its
** directory sync failed; the next log sync retries it). */
int evs_manifest_write(evs_store *s, evs_seg *const *segs, size_t n, uint64_t layout,
                       int *in_effect);
/* Read a whole small file of the store's directory; *buf malloc'ed.
** Returns 0, or -errno (-ENOENT when missing; -EISDIR or -EINVAL when it
** is not a regular file). */
int evs_read_file(evs_store *s, const char *name, uint8_t **buf, size_t *n);
void evs_log_close(evs_store *s);
/* Roll to a new segment when the open one reached segment_size; the
** caller holds the writer, with no transaction open. */
int evs_log_roll_if_full(evs_store *s);
/* Roll now if the open segment holds any record (for explicit
** compaction, which may then rewrite it); same locks, same crash safety
** (the manifest seals it). *rolled is 0 when it was empty or no segment
** number was free. */
/* Before the first lease record in the open segment: new segments are
** EVS_SEG_LEASES from now on, and the open one becomes one (by a roll). */
int evs_log_use_leases(evs_store *s);
int evs_log_roll_now(evs_store *s, int *rolled);
/* Write bytes of the current segment at off (file or memory). */
int evs_log_write(evs_store *s, const void *p, size_t n, uint64_t off);
int evs_log_truncate(evs_store *s, uint64_t off);
int evs_log_sync_upto(evs_store *s, uint64_t lsn);
/* Make every commit written so far durable (no-op in memory or read-only). */
int evs_log_sync_all(evs_store *s);
uint64_t evs_log_disk_bytes(const evs_store *s);

#endif
