/*
** replay.h: the index side of the log's records (replay.c).
*/
#ifndef EVS_REPLAY_H
#define EVS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "index.h"
#include "segment.h"

/* Does the event at rel carry this idempotency key? (an evs_idem_match) */
typedef struct evs_keyctx {
  const evs_store *s;
  const evs_txn *t;
  const evs_index *x; /* whose entries the rels are */
  const char *key;
  size_t len;
} evs_keyctx;
int evs_key_match(void *ctx, uint32_t rel);

/* The index side of an ack / a delete (flags, pending set, counters,
** the deleted event's key), shared by commit and replay so both build
** the same index. Caller holds ilock exclusively (or is alone). */
void evs_mark_acked(evs_state *st, uint64_t rel, evs_ent *e, int64_t at);
/* A lease record's op (EVS_LEASE_*) for one event: its delivery count,
** its lease, dead or not. token: the claim's for this event. 0,
** EVS_ECORRUPT (the op does not fit the event's state) or EVS_ENOMEM. */
int evs_mark_lease(evs_state *st, uint64_t rel, evs_ent *e, int op, uint32_t consumer,
                   uint64_t token, int64_t until_us);
/* Would op fit an entry with these flags (as evs_mark_lease checks)? 0,
** updating *flags as it would, or EVS_ECORRUPT. For checking a
** transaction's lease ops before its records are written. */
int evs_lease_fits(uint8_t *flags, int op);
/* s: the segments the entry's record is read from. */
void evs_mark_deleted(const evs_store *s, evs_state *st, uint64_t rel, evs_ent *e);
/* Apply the records of g in [from, end) (already checked) to s's index. */
int evs_log_replay(const evs_store *s, evs_state *st, const evs_seg *g, uint64_t from,
                   uint64_t end,
                   const char *path);

/* Decode the committed (or t's) record of entry e; payload as
** stored. EVS_ECORRUPT (with a message) if it is damaged. */
int evs_read_rec(const evs_store *s, const evs_txn *t, const evs_ent *e, evs_event *ev,
                 int *zstd, uint32_t *raw);

#endif
