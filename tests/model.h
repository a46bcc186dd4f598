/*
** model.h: the reference model of what a store holds, shared by the
** model-based tests (test_model.c, test_api_model.c) and fuzz/fuzz_ops.c.
**
** A model is what the public contract says a store contains: events with
** dense ids from 1, each with its created time, status and ack time, its
** stored (trimmed) names, payload, metadata and idempotency key; deletes;
** retention (events older than now - retention are invisible); the
** idempotency window (an append whose key names a visible event created
** within the window returns that event as a duplicate); the inbox order and
** its filters. A transaction is modelled by copying the model at begin (and
** at each savepoint) and restoring the copy on rollback.
**
** Consumers (evs_claim and the lease calls): each event has a delivery
** count, and a lease (a consumer's, with a fencing token, or a release's
** delay) until a time; a lease that ran out leaves the event pending, or
** dead once the count reached max_deliveries; reject makes it dead;
** redrive brings dead events back with a count of 0. The status of an
** event therefore depends on the time: model_status(m, id, now).
**
** Ordering keys: an event with key K is claimable (evs_claim, and the
** inbox with status EVS_QUERY_CLAIMABLE) only when it is pending and
** visible, every older visible event of K is acknowledged or dead (deleted
** and past-retention ones are not visible: they hold nothing back), and no
** other visible event of K is leased. Filters do not change that: an
** older event of K a filter leaves out still holds K back.
**
** The model decides; the caller asks the store and compares. It never
** calls the store and does not print. A semantic change of the store is
** one edit here. Callers that allow more than one answer (a clock that
** steps backwards, ids reused after rollback_to) keep that tolerance
** themselves and use the model for the state and the rules.
**
** Strings an event points to belong to the caller and must outlive the
** model; model_copy copies the events, not the strings.
*/
#ifndef EVS_TEST_MODEL_H
#define EVS_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

enum { MODEL_NONE = 0, MODEL_LIVE, MODEL_DELETED };

typedef struct model_ev {
  unsigned char state;  /* MODEL_NONE (never appended), LIVE, DELETED */
  unsigned char status; /* EVS_STATUS_PENDING or EVS_STATUS_ACKNOWLEDGED */
  unsigned char prio;   /* as stored: 1..3 (0 given is EVS_PRIORITY_NORMAL) */
  unsigned char committed; /* was live at some commit point (caller's use) */
  int tag;              /* the caller's, e.g. which metadata table entry */
  int64_t created, acked; /* acked: 0 while pending */
  const char *source, *type; /* as stored: trimmed */
  const char *payload, *meta, *key; /* meta, key: NULL when absent */
  size_t payload_len, meta_len;
  const char *okey;     /* the ordering key (NUL-terminated), NULL: none */
  /* Consumers. */
  unsigned char lease;  /* MODEL_LEASE_NONE, _CONSUMER or _DELAY */
  unsigned char dead;   /* rejected (a lease that ran out at max_deliveries
                           is dead by model_status without this) */
  uint32_t dcount;      /* delivery_count */
  uint64_t token;       /* the latest delivery's token */
  int64_t until;        /* the lease or delay ends (exclusive) */
  const char *consumer; /* of the lease (the caller's string) */
} model_ev;

enum { MODEL_LEASE_NONE = 0, MODEL_LEASE_CONSUMER, MODEL_LEASE_DELAY };

typedef struct model {
  model_ev *ev;          /* ev[id] for 1 <= id < next_id; ev[0] unused */
  size_t cap;
  uint64_t next_id;      /* the id the next new event gets */
  int64_t last_created;  /* a new event is never older than this */
  int64_t retention;     /* us; <= 0: events are kept forever */
  int64_t window;        /* us; < 0: idempotency keys never expire */
  uint32_t max_deliveries; /* 5 unless model_set_max_deliveries */
  uint64_t lease_seq;    /* the last token handed out */
  int reserves;          /* a store on disk under sync NORMAL or OFF:
                            claims reserve tokens in blocks (model_reopen) */
  uint64_t lease_reserved; /* tokens reserved up to this */
} model;

/* The store closed and opened again: a reserve of tokens is used up
** (the next claim's tokens start above it). */
void model_reopen(model *m);

/* retention_opt and window_opt are evs_options values (0 = the default). */
void model_init(model *m, int64_t retention_opt, int64_t window_opt);
void model_free(model *m);
/* dst becomes a copy of src (dst is initialised or zeroed memory). */
void model_copy(model *dst, const model *src);

/* The event of id, NULL when id was never handed out. */
model_ev *model_get(const model *m, uint64_t id);
/* Whether an event created at `created` is not yet past retention at now. */
int model_retained(const model *m, int64_t created, int64_t now);
/* Live and retained at now: what get and the inbox can see. */
int model_visible(const model *m, uint64_t id, int64_t now);

/* The event an append with key at now returns as a duplicate, 0 when it
** is stored as new. A key names the newest event appended with it; a
** delete of that event forgets the key; an event past retention, or
** created more than the window before now, names nothing. */
uint64_t model_dup_of(const model *m, const char *key, int64_t now);
/* The newest event appended with key if it is still live and visible,
** whatever the window (0: none). */
uint64_t model_key_owner(const model *m, const char *key, int64_t now);
/* Whether the event created at `created` is within the window at now. */
int model_in_window(const model *m, int64_t created, int64_t now);

/* created_us of a new event appended at now: never before the last one. */
int64_t model_created(const model *m, int64_t now);
/* Store e (its state, status and acked are set here) as the event with id
** `id` (normally m->next_id; ids after a rollback_to may be reused) created
** at `created`; returns its id. */
uint64_t model_add(model *m, const model_ev *e, uint64_t id, int64_t created);

/* What evs_ack of id at now returns: 0, EVS_ENOTFOUND or EVS_ECONFLICT
** (acknowledged or dead). */
int model_ack_rc(const model *m, uint64_t id, int64_t now);
/* The acknowledged_us an ack at now records: never before created. */
int64_t model_ack_time(const model *m, uint64_t id, int64_t now);
void model_ack(model *m, uint64_t id, int64_t at);
/* evs_delete: returns what `existed` says (visible at now) and marks it. */
int model_delete(model *m, uint64_t id, int64_t now);

/* An inbox query. Names are compared with the stored (trimmed) ones, so a
** caller passes the trimmed form of the filter; NULL means no filter. */
typedef struct model_query {
  int status;  /* EVS_QUERY_PENDING (0), _ACKNOWLEDGED, _ANY, _LEASED, _DEAD,
                  _DELAYED, _CLAIMABLE */
  const char *source, *type;
  int prio;    /* 0: any */
  int64_t after, before; /* exclusive bounds; 0: none */
  uint64_t min_id, max_id; /* inclusive; 0: none */
  int desc;
  unsigned limit; /* 0: EVS_PAGE_DEFAULT */
  /* metadata filter: NULL for none, else whether e matches */
  int (*meta_match)(const model_ev *e, const void *arg);
  const void *meta_arg;
  /* status _CLAIMABLE: NULL, or model_blocked's answer for this model at
  ** this time (model_match then takes it instead of looking at the key's
  ** other events: O(1) instead of O(events)). */
  const unsigned char *blocked;
} model_query;

int model_match(const model *m, const model_query *q, uint64_t id, int64_t now);

/* Whether the event id (live, with an ordering key) is held back by its
** key at now: an older visible event of its key pending, leased or
** delayed, or another visible event of its key leased. 0 for an event
** without a key. O(events). */
int model_key_blocked(const model *m, uint64_t id, int64_t now);
/* model_key_blocked for every id at once into blocked[0..next_id) (room
** for m->next_id bytes), in one pass over the events. */
void model_blocked(const model *m, int64_t now, unsigned char *blocked);
/* One page after the cursor position `after` (0: the first page): the ids
** in page order into ids[] (room for the limit), the count returned, *more
** whether a further match exists. */
size_t model_page(const model *m, const model_query *q, uint64_t after,
                  int64_t now, uint64_t *ids, int *more);

typedef struct model_counts {
  uint64_t pending, acknowledged; /* live events, visible or not */
  uint64_t leased, dead, delayed; /* likewise (pending excludes them) */
  int64_t oldest_pending;         /* of the visible pending ones; 0: none */
} model_counts;
model_counts model_count(const model *m, int64_t now);

/* How event e read from the store differs from the model's event id: NULL
** when it does not, else a description in buf. */
const char *model_event_diff(const model *m, uint64_t id, const evs_event *e,
                             char *buf, size_t cap);
/* The same at time now, also comparing the status at now, delivery_count,
** lease_token, lease_expires_us and leased_by. (model_event_diff is this
** at the beginning of time: for callers that never lease.) */
const char *model_event_diff_at(const model *m, uint64_t id, const evs_event *e, int64_t now,
                                char *buf, size_t cap);

/* ---- consumers ---------------------------------------------------------- */

/* max_deliveries as evs_options gives it (0 = the default, 5). */
void model_set_max_deliveries(model *m, uint32_t opt);
/* EVS_STATUS_* of a live event at now. */
int model_status(const model *m, uint64_t id, int64_t now);
/* evs_claim at now: the oldest claimable events q matches (its status is
** ignored; see ordering keys above: a claim of an event of K holds K's
** later events back), at most q->limit (0: EVS_PAGE_DEFAULT), leased to
** consumer until now + lease_us (0: 30 s) with fresh tokens; ids into
** ids[] (room for the limit); returns how many. */
size_t model_claim(model *m, const model_query *q, const char *consumer, int64_t lease_us,
                   int64_t now, uint64_t *ids);
/* What a settle of id with token at now returns before it does anything:
** 0 (the token holds the lease), EVS_ENOTFOUND, EVS_ECONFLICT
** (acknowledged) or EVS_ESTALE. */
int model_hold_rc(const model *m, uint64_t id, uint64_t token, int64_t now);
/* The settles, once model_hold_rc said 0. renew: the new expiry returned. */
int64_t model_renew(model *m, uint64_t id, int64_t lease_us, int64_t now);
void model_release(model *m, uint64_t id, int64_t delay_us, int64_t now);
void model_reject(model *m, uint64_t id);
/* evs_redrive at now: every visible dead event q matches (status ignored)
** back to pending with a count of 0; returns how many. */
uint64_t model_redrive(model *m, const model_query *q, int64_t now);

#endif
