/*
** model.c: the reference model of a store's contents (see model.h).
*/
#include "model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW (INT64_C(86400) * 1000000)
#define DEFAULT_RETENTION (INT64_C(7) * 86400 * 1000000)

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

static void ensure(model *m, uint64_t id);

void model_init(model *m, int64_t retention_opt, int64_t window_opt) {
  memset(m, 0, sizeof *m);
  m->next_id = 1;
  m->last_created = INT64_MIN;
  m->retention = retention_opt ? retention_opt : DEFAULT_RETENTION;
  m->window = window_opt ? window_opt : DEFAULT_WINDOW;
  m->max_deliveries = 5;
  ensure(m, 1);
}

void model_free(model *m) {
  free(m->ev);
  m->ev = NULL;
  m->cap = 0;
}

static void ensure(model *m, uint64_t id) {
  if (id < m->cap) return;
  size_t nc = m->cap ? m->cap : 256;
  while (nc <= id) nc *= 2;
  m->ev = xrealloc(m->ev, nc * sizeof *m->ev);
  memset(m->ev + m->cap, 0, (nc - m->cap) * sizeof *m->ev);
  m->cap = nc;
}

void model_copy(model *dst, const model *src) {
  model_ev *ev = dst->ev;
  size_t cap = dst->cap;
  *dst = *src;
  dst->ev = ev;
  dst->cap = cap;
  ensure(dst, src->next_id);
  if (src->ev) memcpy(dst->ev, src->ev, src->next_id * sizeof *src->ev);
  memset(dst->ev + src->next_id, 0, (dst->cap - src->next_id) * sizeof *dst->ev);
}

model_ev *model_get(const model *m, uint64_t id) {
  if (id < 1 || id >= m->next_id) return NULL;
  return &m->ev[id];
}

int model_retained(const model *m, int64_t created, int64_t now) {
  return m->retention <= 0 || created >= now - m->retention;
}

int model_visible(const model *m, uint64_t id, int64_t now) {
  const model_ev *e = model_get(m, id);
  return e && e->state == MODEL_LIVE && model_retained(m, e->created, now);
}

int model_in_window(const model *m, int64_t created, int64_t now) {
  return m->window < 0 || now - created <= m->window;
}

/* The newest event ever appended with key in this view (0: none). */
static uint64_t newest_with_key(const model *m, const char *key) {
  for (uint64_t id = m->next_id - 1; id >= 1; id--) {
    const model_ev *e = &m->ev[id];
    if (e->state != MODEL_NONE && e->key &&
        (e->key == key || strcmp(e->key, key) == 0))
      return id;
  }
  return 0;
}

uint64_t model_key_owner(const model *m, const char *key, int64_t now) {
  if (!key) return 0;
  uint64_t id = newest_with_key(m, key);
  return id && model_visible(m, id, now) ? id : 0;
}

uint64_t model_dup_of(const model *m, const char *key, int64_t now) {
  uint64_t id = model_key_owner(m, key, now);
  return id && model_in_window(m, m->ev[id].created, now) ? id : 0;
}

int64_t model_created(const model *m, int64_t now) {
  return now > m->last_created ? now : m->last_created;
}

uint64_t model_add(model *m, const model_ev *e, uint64_t id, int64_t created) {
  ensure(m, id + 1);
  model_ev *x = &m->ev[id];
  *x = *e;
  x->state = MODEL_LIVE;
  x->status = EVS_STATUS_PENDING;
  x->acked = 0;
  x->created = created;
  x->lease = MODEL_LEASE_NONE;
  x->dead = 0;
  x->dcount = 0;
  x->token = 0;
  x->until = 0;
  x->consumer = NULL;
  if (created > m->last_created) m->last_created = created;
  m->next_id = id + 1;
  return id;
}

int model_ack_rc(const model *m, uint64_t id, int64_t now) {
  if (!model_visible(m, id, now)) return EVS_ENOTFOUND;
  int st = model_status(m, id, now);
  return st == EVS_STATUS_ACKNOWLEDGED || st == EVS_STATUS_DEAD ? EVS_ECONFLICT : 0;
}

int64_t model_ack_time(const model *m, uint64_t id, int64_t now) {
  int64_t c = m->ev[id].created;
  return now > c ? now : c;
}

void model_ack(model *m, uint64_t id, int64_t at) {
  m->ev[id].status = EVS_STATUS_ACKNOWLEDGED;
  m->ev[id].acked = at;
  m->ev[id].lease = MODEL_LEASE_NONE;
}

int model_delete(model *m, uint64_t id, int64_t now) {
  if (!model_visible(m, id, now)) return 0;
  m->ev[id].state = MODEL_DELETED;
  return 1;
}

int model_match(const model *m, const model_query *q, uint64_t id, int64_t now) {
  if (!model_visible(m, id, now)) return 0;
  const model_ev *e = &m->ev[id];
  int st = model_status(m, id, now);
  if (q->status == EVS_QUERY_PENDING && st != EVS_STATUS_PENDING) return 0;
  if (q->status == EVS_QUERY_ACKNOWLEDGED && st != EVS_STATUS_ACKNOWLEDGED) return 0;
  if (q->status == EVS_QUERY_LEASED && st != EVS_STATUS_LEASED) return 0;
  if (q->status == EVS_QUERY_DEAD && st != EVS_STATUS_DEAD) return 0;
  if (q->status == EVS_QUERY_DELAYED && st != EVS_STATUS_DELAYED) return 0;
  if (q->status == EVS_QUERY_CLAIMABLE && st != EVS_STATUS_PENDING) return 0;
  if (q->min_id && id < q->min_id) return 0;
  if (q->max_id && id > q->max_id) return 0;
  if (q->source && strcmp(e->source, q->source) != 0) return 0;
  if (q->type && strcmp(e->type, q->type) != 0) return 0;
  if (q->prio && e->prio != q->prio) return 0;
  if (q->after && !(e->created > q->after)) return 0;
  if (q->before && !(e->created < q->before)) return 0;
  if (q->meta_match && !q->meta_match(e, q->meta_arg)) return 0;
  if (q->status == EVS_QUERY_CLAIMABLE &&
      (q->blocked ? q->blocked[id] : model_key_blocked(m, id, now)))
    return 0;
  return 1;
}

/* ---- ordering keys ------------------------------------------------------- */

static int same_okey(const char *a, const char *b) { return a == b || strcmp(a, b) == 0; }

/* The rule, event by event: a visible event of the key holds the others
** back while it is leased, and the newer ones while it is pending or
** delayed. */
int model_key_blocked(const model *m, uint64_t id, int64_t now) {
  const model_ev *e = model_get(m, id);
  if (!e || !e->okey) return 0;
  for (uint64_t j = 1; j < m->next_id; j++) {
    const model_ev *x = &m->ev[j];
    if (j == id || !x->okey || !same_okey(x->okey, e->okey) || !model_visible(m, j, now))
      continue;
    int st = model_status(m, j, now);
    if (st == EVS_STATUS_LEASED) return 1;
    if (j < id && (st == EVS_STATUS_PENDING || st == EVS_STATUS_DELAYED)) return 1;
  }
  return 0;
}

void model_blocked(const model *m, int64_t now, unsigned char *blocked) {
  /* The keys in use, each with whether one of its events is leased and
  ** whether one seen so far (older) is not settled. */
  const char **keys = NULL;
  unsigned char *leased = NULL, *open = NULL;
  size_t nkeys = 0;
  uint32_t *kid = xrealloc(NULL, m->next_id * sizeof *kid);
  memset(blocked, 0, m->next_id);
  for (uint64_t id = 1; id < m->next_id; id++) {
    const model_ev *e = &m->ev[id];
    kid[id] = UINT32_MAX;
    if (!e->okey || !model_visible(m, id, now)) continue;
    size_t k = 0;
    while (k < nkeys && !same_okey(keys[k], e->okey)) k++;
    if (k == nkeys) {
      keys = xrealloc(keys, (nkeys + 1) * sizeof *keys);
      leased = xrealloc(leased, nkeys + 1);
      open = xrealloc(open, nkeys + 1);
      keys[k] = e->okey;
      leased[k] = open[k] = 0;
      nkeys++;
    }
    kid[id] = (uint32_t)k;
    if (model_status(m, id, now) == EVS_STATUS_LEASED) leased[k] = 1;
  }
  for (uint64_t id = 1; id < m->next_id; id++) {
    uint32_t k = kid[id];
    if (k == UINT32_MAX) continue;
    int st = model_status(m, id, now);
    blocked[id] = (unsigned char)((leased[k] && st != EVS_STATUS_LEASED) || open[k]);
    if (st == EVS_STATUS_PENDING || st == EVS_STATUS_LEASED || st == EVS_STATUS_DELAYED)
      open[k] = 1;
  }
  free(kid);
  free(keys);
  free(leased);
  free(open);
}

size_t model_page(const model *m, const model_query *q, uint64_t after,
                  int64_t now, uint64_t *ids, int *more) {
  unsigned char *blocked = NULL;
  model_query cq;
  if (q->status == EVS_QUERY_CLAIMABLE && !q->blocked) {
    blocked = xrealloc(NULL, m->next_id);
    model_blocked(m, now, blocked);
    cq = *q;
    cq.blocked = blocked;
    q = &cq;
  }
  unsigned limit = q->limit ? q->limit : EVS_PAGE_DEFAULT;
  size_t n = 0;
  *more = 0;
  uint64_t last = m->next_id - 1;
  for (uint64_t k = 1; k <= last; k++) {
    uint64_t id = q->desc ? last + 1 - k : k;
    if (after && (q->desc ? id >= after : id <= after)) continue;
    if (!model_match(m, q, id, now)) continue;
    if (n == limit) {
      *more = 1;
      break;
    }
    ids[n++] = id;
  }
  free(blocked);
  return n;
}

model_counts model_count(const model *m, int64_t now) {
  model_counts c;
  memset(&c, 0, sizeof c);
  for (uint64_t id = 1; id < m->next_id; id++) {
    const model_ev *e = &m->ev[id];
    if (e->state != MODEL_LIVE) continue;
    int st = model_status(m, id, now);
    if (st == EVS_STATUS_ACKNOWLEDGED) {
      c.acknowledged++;
      continue;
    }
    if (st == EVS_STATUS_LEASED || st == EVS_STATUS_DEAD || st == EVS_STATUS_DELAYED) {
      if (st == EVS_STATUS_LEASED) c.leased++;
      else if (st == EVS_STATUS_DELAYED) c.delayed++;
      else c.dead++;
      continue;
    }
    c.pending++;
    if (model_visible(m, id, now) && (!c.oldest_pending || e->created < c.oldest_pending))
      c.oldest_pending = e->created;
  }
  return c;
}

/* Compares one byte field; NULL when equal. */
static const char *bytes_diff(const char *what, const char *got, size_t glen,
                              const char *exp, size_t elen, char *buf, size_t cap) {
  if (!exp && !got) return NULL;
  if (!exp || !got) {
    snprintf(buf, cap, "%s is %s, expected %s", what, got ? "set" : "NULL",
             exp ? "set" : "NULL");
    return buf;
  }
  if (glen != elen || memcmp(got, exp, elen) != 0) {
    snprintf(buf, cap, "%s (len %zu) \"%.60s\" != expected (len %zu) \"%.60s\"", what,
             glen, got, elen, exp);
    return buf;
  }
  if (got[glen] != 0) {
    snprintf(buf, cap, "%s not NUL-terminated", what);
    return buf;
  }
  return NULL;
}

const char *model_event_diff(const model *m, uint64_t id, const evs_event *e,
                             char *buf, size_t cap) {
  return model_event_diff_at(m, id, e, INT64_MIN, buf, cap);
}

const char *model_event_diff_at(const model *m, uint64_t id, const evs_event *e, int64_t now,
                                char *buf, size_t cap) {
  const model_ev *x = model_get(m, id);
  int xst = x ? model_status(m, id, now) : 0;
  int cons = x && xst == EVS_STATUS_LEASED && x->lease == MODEL_LEASE_CONSUMER;
  char sub[200];
  const char *d = NULL;
  if (!x) {
    snprintf(sub, sizeof sub, "no such event in the model");
    d = sub;
  } else if (e->id != id) {
    snprintf(sub, sizeof sub, "id %" PRIu64, e->id);
    d = sub;
  } else if (e->created_us != x->created) {
    snprintf(sub, sizeof sub, "created_us %" PRId64 ", expected %" PRId64, e->created_us,
             x->created);
    d = sub;
  } else if (e->status != xst) {
    snprintf(sub, sizeof sub, "status %d, expected %d", e->status, xst);
    d = sub;
  } else if (e->delivery_count != x->dcount) {
    snprintf(sub, sizeof sub, "delivery_count %u, expected %u", e->delivery_count, x->dcount);
    d = sub;
  } else if (e->lease_token != (cons ? x->token : 0)) {
    snprintf(sub, sizeof sub, "lease_token %" PRIu64 ", expected %" PRIu64, e->lease_token,
             cons ? x->token : 0);
    d = sub;
  } else if (e->lease_expires_us !=
             (xst == EVS_STATUS_LEASED || xst == EVS_STATUS_DELAYED ? x->until : 0)) {
    snprintf(sub, sizeof sub, "lease_expires_us %" PRId64 ", expected %" PRId64,
             e->lease_expires_us,
             xst == EVS_STATUS_LEASED || xst == EVS_STATUS_DELAYED ? x->until : 0);
    d = sub;
  } else if (cons ? !e->leased_by || strcmp(e->leased_by, x->consumer) : e->leased_by != NULL) {
    snprintf(sub, sizeof sub, "leased_by %s, expected %s", e->leased_by ? e->leased_by : "NULL",
             cons ? x->consumer : "NULL");
    d = sub;
  } else if (e->acknowledged_us != (xst == EVS_STATUS_ACKNOWLEDGED ? x->acked : 0)) {
    snprintf(sub, sizeof sub, "acknowledged_us %" PRId64 ", expected %" PRId64,
             e->acknowledged_us, x->status == EVS_STATUS_ACKNOWLEDGED ? x->acked : 0);
    d = sub;
  } else if (e->priority != x->prio) {
    snprintf(sub, sizeof sub, "priority %d, expected %d", e->priority, x->prio);
    d = sub;
  } else {
    d = bytes_diff("source", e->source, e->source_len, x->source, strlen(x->source),
                   sub, sizeof sub);
    if (!d)
      d = bytes_diff("event_type", e->event_type, e->event_type_len, x->type,
                     strlen(x->type), sub, sizeof sub);
    if (!d)
      d = bytes_diff("payload", e->payload, e->payload_len, x->payload, x->payload_len,
                     sub, sizeof sub);
    if (!d)
      d = bytes_diff("metadata", e->metadata, e->metadata_len, x->meta, x->meta_len, sub,
                     sizeof sub);
    if (!d)
      d = bytes_diff("idempotency_key", e->idempotency_key, e->idempotency_key_len,
                     x->key, x->key ? strlen(x->key) : 0, sub, sizeof sub);
    if (!d)
      d = bytes_diff("ordering_key", e->ordering_key, e->ordering_key_len, x->okey,
                     x->okey ? strlen(x->okey) : 0, sub, sizeof sub);
  }
  if (!d) return NULL;
  snprintf(buf, cap, "event %" PRIu64 ": %s", id, d);
  return buf;
}

/* ---- consumers ---------------------------------------------------------- */

void model_set_max_deliveries(model *m, uint32_t opt) { m->max_deliveries = opt ? opt : 5; }

int model_status(const model *m, uint64_t id, int64_t now) {
  const model_ev *e = &m->ev[id];
  if (e->status == EVS_STATUS_ACKNOWLEDGED) return EVS_STATUS_ACKNOWLEDGED;
  if (e->dead) return EVS_STATUS_DEAD;
  if (e->lease != MODEL_LEASE_NONE && e->until > now)
    return e->lease == MODEL_LEASE_CONSUMER ? EVS_STATUS_LEASED : EVS_STATUS_DELAYED;
  return e->dcount >= m->max_deliveries ? EVS_STATUS_DEAD : EVS_STATUS_PENDING;
}

size_t model_claim(model *m, const model_query *q, const char *consumer, int64_t lease_us,
                   int64_t now, uint64_t *ids) {
  model_query mq = *q;
  mq.status = EVS_QUERY_CLAIMABLE;
  mq.desc = 0;
  /* Taken before any claim: a claimed event of K was pending, so the
  ** later events of K are held back in it already. */
  unsigned char *blocked = xrealloc(NULL, m->next_id);
  model_blocked(m, now, blocked);
  mq.blocked = blocked;
  unsigned limit = q->limit ? q->limit : EVS_PAGE_DEFAULT;
  int64_t until = now + (lease_us ? lease_us : INT64_C(30000000));
  size_t n = 0;
  for (uint64_t id = 1; id < m->next_id && n < limit; id++) {
    if (!model_match(m, &mq, id, now)) continue;
    model_ev *e = &m->ev[id];
    e->lease = MODEL_LEASE_CONSUMER;
    e->dcount++;
    e->token = ++m->lease_seq;
    e->until = until;
    e->consumer = consumer;
    ids[n++] = id;
  }
  free(blocked);
  /* As src/lease.c: tokens come from a reserved block (2^20 at a time). */
  if (m->reserves && n && m->lease_seq > m->lease_reserved)
    m->lease_reserved = m->lease_seq + (UINT64_C(1) << 20);
  return n;
}

int model_hold_rc(const model *m, uint64_t id, uint64_t token, int64_t now) {
  if (!model_visible(m, id, now)) return EVS_ENOTFOUND;
  int st = model_status(m, id, now);
  if (st == EVS_STATUS_ACKNOWLEDGED) return EVS_ECONFLICT;
  const model_ev *e = &m->ev[id];
  return st == EVS_STATUS_LEASED && e->lease == MODEL_LEASE_CONSUMER && e->token == token
             ? 0
             : EVS_ESTALE;
}

int64_t model_renew(model *m, uint64_t id, int64_t lease_us, int64_t now) {
  m->ev[id].until = now + (lease_us ? lease_us : INT64_C(30000000));
  return m->ev[id].until;
}

void model_release(model *m, uint64_t id, int64_t delay_us, int64_t now) {
  model_ev *e = &m->ev[id];
  e->lease = MODEL_LEASE_DELAY;
  e->until = now + delay_us;
  e->consumer = NULL;
}

void model_reject(model *m, uint64_t id) {
  m->ev[id].dead = 1;
  m->ev[id].lease = MODEL_LEASE_NONE;
}

uint64_t model_redrive(model *m, const model_query *q, int64_t now) {
  model_query mq = *q;
  mq.status = EVS_QUERY_DEAD;
  mq.limit = 0;
  uint64_t n = 0;
  for (uint64_t id = 1; id < m->next_id; id++) {
    if (!model_match(m, &mq, id, now)) continue;
    model_ev *e = &m->ev[id];
    e->dead = 0;
    e->dcount = 0;
    e->lease = MODEL_LEASE_NONE;
    e->consumer = NULL;
    n++;
  }
  return n;
}

void model_reopen(model *m) {
  if (m->lease_reserved > m->lease_seq) m->lease_seq = m->lease_reserved;
  m->lease_reserved = 0;
}
