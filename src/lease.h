/*
** lease.h: consumers' leases (lease.c), what write.c shares of them.
*/
#ifndef EVS_LEASE_H
#define EVS_LEASE_H

#include <stdint.h>

#include "index.h"
#include "txn.h"

/* Does `token` hold the lease on id now? 0 with *out the entry, or
** EVS_ENOTFOUND, EVS_ECONFLICT (acknowledged) or EVS_ESTALE, with a
** message. Caller holds the writer (t). */
int evs_lease_hold(evs_txn *t, uint64_t id, uint64_t token, int64_t now, evs_ent *out);

#endif
