/*
** txn.h: the write transaction (txn.c): its state, the calls write.c and
** the readers use.
*/
#ifndef EVS_TXN_H
#define EVS_TXN_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"
#include "index.h"
#include "segment.h"

/* ---- Transactions ------------------------------------------------------ */
#define OV_ACK 1 /* bits: an event acked then deleted in one txn has both */
#define OV_DEL 2

typedef struct evs_idem_undo {
  uint64_t hash;
  uint32_t rel, old;
} evs_idem_undo;

/* A lease op on one event, applied to the index at commit. */
typedef struct evs_lop {
  uint64_t id, token;
  int64_t until_us;
  int op; /* EVS_LEASE_* */
} evs_lop;

typedef struct evs_ov {
  uint64_t id; /* 0 = empty */
  int64_t acked_us;
  int op;
} evs_ov;

/* The state of a transaction at a savepoint. */
typedef struct evs_mark {
  uint64_t bytes; /* flushed + len */
  uint32_t nrec;
  uint64_t n;
  size_t nidem, novlog;
  uint64_t payload_bytes, payload_stored;
  int64_t last_created;
  size_t nlops;
} evs_mark;

struct evs_txn {
  evs_unwritten u; /* first: segment.c reads it through an evs_txn * */
  evs_store *s;
  int internal;     /* begun by an autocommit call */
  size_t cap;       /* of u.buf */
  int dirty;        /* a write was attempted: rollback truncates */
  int failed;       /* a write failed: commit refuses */
  uint32_t nrec;
  uint64_t n0;      /* index size at begin */
  evs_ov *ov;       /* acks and deletes, applied at commit */
  size_t ov_mask, ov_used;
  evs_ov *ovlog;    /* every overlay change in order, for savepoints */
  size_t novlog, ovlog_cap;
  evs_mark *marks;  /* savepoint n at marks[n] */
  int nmarks;
  size_t marks_cap;
  uint64_t stamp;
  evs_idem_undo *idem_undo; /* keys added, to undo on rollback */
  size_t nidem, idem_cap;
  evs_plist **touched; /* lists appended to */
  size_t ntouched, touched_cap;
  uint64_t payload_bytes, payload_stored;
  int64_t last_created;
  evs_lop *lops;    /* lease ops, applied at commit (autocommit only) */
  size_t nlops, lops_cap;
  const char *consumer; /* of the claim in lops (the caller's string) */
  size_t consumer_len;
};

int evs_txn_begin_internal(evs_store *s, evs_txn **out, int internal);
/* An autocommit transaction that writes lease records: the open segment
** is one that may hold them (a roll first if it is not: see
** EVS_SEG_LEASES). */
int evs_txn_begin_leases(evs_store *s, evs_txn **out);
/* Make t's records go to a segment that may hold lease records (a roll
** first if the open one may not): only while t has written nothing;
** EVS_EINVAL otherwise. */
int evs_txn_use_leases(evs_txn *t);
/* Queue a lease op for id, applied to the index when t commits (its record
** is the caller's to write). */
int evs_lop_put(evs_txn *t, int op, uint64_t id, uint64_t token, int64_t until_us);
/* The transaction a writing call works in: txn (checked), or a new
** autocommit one (s NULL: EVS_EINVAL). */
int evs_txn_use(evs_store *s, evs_txn *txn, evs_txn **t);
/* End a call's work in t: an autocommit transaction commits when rc is 0
** and rolls back otherwise (keeping the call's message); a caller's
** transaction is left open. Returns the call's result. */
int evs_txn_end_call(evs_txn *t, int rc);
/* Where t stands now, and evs_txn_end_call that, in a caller's
** transaction, also undoes a failed call's writes since m (a batch that
** failed part-way leaves none of its items). */
evs_mark evs_txn_mark(const evs_txn *t);
int evs_txn_end_call_at(evs_txn *t, int rc, const evs_mark *m);
/* Room for n more bytes in t's record buffer (writing big transactions
** out in pieces). */
int evs_txn_reserve(evs_txn *t, size_t n);
/* Record an ack (OV_ACK, at) or a delete (OV_DEL) of id in t's overlay. */
int evs_ov_put(evs_txn *t, uint64_t id, int op, int64_t at);
void evs_txn_free(evs_txn *t);
/* Is t (not NULL) the open transaction of s? 0 or EVS_EMISUSE. */
int evs_txn_check(const evs_store *s, const evs_txn *t);
/* Savepoint levels are 0..EVS_SAVEPOINT_MAX. */
#define EVS_SAVEPOINT_MAX 1000000
evs_ov *evs_ov_find(const evs_txn *t, uint64_t id);

/* What the given transaction (or, with t NULL, a reader) sees of id. */
int evs_visible(const evs_store *s, const evs_txn *t, uint64_t id,
                evs_ent *out, int64_t *acked_us);

_Static_assert(offsetof(struct evs_txn, u) == 0, "segment.c reads a txn's evs_unwritten");

#endif
