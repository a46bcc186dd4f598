/*
** query.h: what the read path (query.c) offers the rest of the library
** beyond the public evs_get / evs_inbox: the checks and scans claiming
** (lease.c) shares with the inbox, so a claim sees exactly what an inbox
** page would.
*/
#ifndef EVS_QUERY_H
#define EVS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* The checks evs_inbox makes of a query (limit, filters, status). */
int evs_query_check(evs_store *s, const evs_query *q);
/* The ids of up to limit events q's filters match that are claimable at
** now (pending: not leased, not held back, not dead), oldest first, in
** ids; and up to dead_cap ids the scan passed whose lease ran out at
** max_deliveries (dead, not yet marked so). Takes ilock shared; the caller
** holds the writer, so nothing it saw changes before it writes. */
int evs_query_claimable(evs_store *s, const evs_query *q, unsigned limit, int64_t now,
                        uint64_t *ids, size_t *nids, uint64_t *dead, size_t dead_cap,
                        size_t *ndead);
/* A page holding the committed events of ids (any status), in that
** order, as evs_inbox would give them. */
int evs_page_of_ids(evs_store *s, const uint64_t *ids, size_t n, evs_page **page);
/* No events in p (a call that failed after filling it). */
void evs_page_empty(evs_page *p);
/* A page of ids (read before their claim commits) as the claim leases
** them: ids[k] with token first_token + k until until_us to consumer
** (copied), its delivery counted. */
int evs_page_leased(evs_store *s, evs_page *pg, const uint64_t *ids, size_t n,
                    uint64_t first_token, int64_t until_us, const char *consumer, size_t clen);

#endif
