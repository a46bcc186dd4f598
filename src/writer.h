/*
** writer.h: the store's writer lock (wmu) and its write permission.
**
** One thread at a time holds the writer: a transaction from begin to
** commit or rollback, or maintenance (checkpoint, compaction, verify)
** without a transaction. The lock is a pthread mutex, so it belongs to the
** thread that took it: only that thread may release it, and only that
** thread is "the writer" for evs_writer_held. Its place in the lock order
** is written once, in store.h.
*/
#ifndef EVS_WRITER_H
#define EVS_WRITER_H

#include "evstore.h"

struct evs_store;

/* Take the writer: wait without end (timeout_ms < 0), or poll for up to
** timeout_ms. EVS_EDEADLK if this thread holds it already, EVS_EBUSY when
** the timeout ran out (both with a message). */
int evs_writer_lock_timeout(struct evs_store *s, int timeout_ms);
static inline int evs_writer_lock(struct evs_store *s) {
  return evs_writer_lock_timeout(s, -1);
}
/* Take it only if free: 0 or EVS_EBUSY (no message; also when this thread
** holds it). */
int evs_writer_trylock(struct evs_store *s);
void evs_writer_unlock(struct evs_store *s);
/* Does the calling thread hold the writer? */
int evs_writer_held(const struct evs_store *s);

/* May the store be written? EVS_EREADONLY (with a message) when opened
** read_only or after a failure that left the disk in doubt. */
int evs_check_writable(const struct evs_store *s);
/* Refuse writes from now on (the first reason is kept) and wake group
** commit waiters so they see it. */
void evs_set_broken(struct evs_store *s, int rc, const char *why);

#endif
