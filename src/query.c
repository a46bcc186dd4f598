/*
** query.c: the read path. Visibility of an entry to a reader or to the
** writing transaction, get by id, and inbox pages (pending events, oldest
** first, filtered, resumed by cursor). Payloads are read from the mapped
** segments; only compressed payloads are copied (decompressed).
*/
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "cursor.h"
#include "abi.h"
#include "error.h"
#include "replay.h"
#include "json.h"
#include "query.h"
#include "store.h"
#include "txn.h"
#include "util.h"

static int check_txn(const evs_store *s, const evs_txn *t) {
  return t ? evs_txn_check(s, t) : 0;
}

/* An event's status and lease fields; leased_by is left to the caller to
** copy (the name belongs to the index). */
static const char *set_state(const evs_store *s, evs_event *ev, const evs_ent *e, int64_t now) {
  const evs_lease *l;
  int st = evs_ent_state(&s->state.idx, ev->id, e, now, s->opt.max_deliveries, &l);
  ev->status = st == EVS_ES_ACKED ? EVS_STATUS_ACKNOWLEDGED
               : st == EVS_ES_LEASED  ? EVS_STATUS_LEASED
               : st == EVS_ES_DELAYED ? EVS_STATUS_DELAYED
               : st == EVS_ES_DEAD ? EVS_STATUS_DEAD
                                   : EVS_STATUS_PENDING;
  ev->acknowledged_us = (e->flags & ENT_ACKED) ? e->acked_us : 0;
  ev->delivery_count = e->pad;
  ev->lease_token = st == EVS_ES_LEASED ? l->token : 0;
  ev->lease_expires_us = st == EVS_ES_LEASED || st == EVS_ES_DELAYED ? l->until_us : 0;
  ev->leased_by = NULL;
  return st == EVS_ES_LEASED ? evs_consumer_name(&s->state.idx.leases, l->consumer) : NULL;
}

/* Copy a string (n bytes plus NUL) to *dst, advancing it. */
static const char *put_str(char **dst, const char *src, size_t n) {
  char *d = *dst;
  memcpy(d, src, n);
  d[n] = 0;
  *dst += n + 1;
  return d;
}

int evs_get(evs_store *s, evs_txn *txn, uint64_t id, evs_event **out) {
  if (!s || !out) return evs_err(s, EVS_EINVAL, "store and out are required");
  *out = NULL;
  int rc = check_txn(s, txn);
  if (rc) return rc;
  pthread_rwlock_rdlock(&s->ilock);
  evs_ent e;
  evs_event ev;
  int z;
  uint32_t raw;
  if (evs_visible(s, txn, id, &e, NULL)) {
    rc = evs_err(s, EVS_ENOTFOUND, "event %" PRIu64 " not found", id);
    goto done;
  }
  if ((rc = evs_read_rec(s, txn, &e, &ev, &z, &raw))) goto done;
  const char *by = set_state(s, &ev, &e, evs_now(s));
  size_t bylen = by ? strlen(by) + 1 : 0;
  size_t need = sizeof ev + ev.source_len + ev.event_type_len +
                ev.idempotency_key_len + ev.metadata_len + ev.ordering_key_len + raw + 6 +
                bylen;
  evs_event *o = malloc(need);
  if (!o) {
    rc = evs_err(s, EVS_ENOMEM, "out of memory");
    goto done;
  }
  *o = ev;
  char *p = (char *)(o + 1);
  o->source = put_str(&p, ev.source, ev.source_len);
  o->event_type = put_str(&p, ev.event_type, ev.event_type_len);
  if (ev.idempotency_key)
    o->idempotency_key = put_str(&p, ev.idempotency_key, ev.idempotency_key_len);
  if (ev.metadata) o->metadata = put_str(&p, ev.metadata, ev.metadata_len);
  if (ev.ordering_key) o->ordering_key = put_str(&p, ev.ordering_key, ev.ordering_key_len);
  if (z) {
    char why[400];
    rc = evs_zstd_decompress(s, p, raw, ev.payload, ev.payload_len, why, sizeof why);
    if (rc) {
      free(o);
      rc = evs_err(s, rc, "payload of event %" PRIu64 " does not decompress: %s", id, why);
      goto done;
    }
    p[raw] = 0;
    o->payload = p;
    o->payload_len = raw;
  } else {
    o->payload = put_str(&p, ev.payload, ev.payload_len);
  }
  if (by) o->leased_by = memcpy(z ? p + raw + 1 : p, by, bylen);
  *out = o;
done:
  pthread_rwlock_unlock(&s->ilock);
  return rc;
}

void evs_event_free(evs_event *ev) { free(ev); }

/* ---- Pages ------------------------------------------------------------- */

typedef struct blk {
  struct blk *next;
  size_t used, cap;
  char data[];
} blk;

struct evs_page {
  evs_event *ev;
  size_t n, cap;
  int more;
  char cursor[EVS_CURSOR_MAX];
  blk *arena; /* decompressed payloads and copies; never moves */
  evs_epoch *epoch; /* keeps the segments its events point into mapped */
};

static void *arena_alloc(evs_page *p, size_t n) {
  blk *b = p->arena;
  if (!b || b->cap - b->used < n) {
    size_t cap = EVS_MAX(n, (size_t)64 << 10);
    blk *nb = malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->next = b;
    nb->used = 0;
    nb->cap = cap;
    p->arena = b = nb;
  }
  void *r = b->data + b->used;
  b->used += n;
  return r;
}

static void arena_reset(evs_page *p) {
  blk *b = p->arena;
  if (!b) return;
  /* Keep the newest block for reuse, free the rest. */
  for (blk *o = b->next, *n; o; o = n) {
    n = o->next;
    free(o);
  }
  b->next = NULL;
  b->used = 0;
}

void evs_page_free(evs_page *p) {
  if (!p) return;
  evs_epoch_leave(p->epoch);
  arena_reset(p);
  free(p->arena);
  free(p->ev);
  free(p);
}

size_t evs_page_count(const evs_page *p) { return p ? p->n : 0; }
const evs_event *evs_page_event(const evs_page *p, size_t i) {
  return p && i < p->n ? &p->ev[i] : NULL;
}
const char *evs_page_cursor(const evs_page *p) { return p ? p->cursor : NULL; }
int evs_page_more(const evs_page *p) { return p ? p->more : 0; }

typedef struct scan {
  evs_store *s;
  const evs_txn *t;
  const evs_query *q;
  evs_page *pg;
  const evs_name *src, *typ; /* name filters checked on the record */
  unsigned limit;
  uint64_t last_id;
  int64_t now;
  /* Claiming (evs_query_claimable): matches are ids, not events; events
  ** found dead by their lease are gathered too. */
  uint64_t *ids;
  size_t nids;
  uint64_t *dead;
  size_t ndead, dead_cap;
  int claimable;   /* the ordering-key rule applies (set by run_scan) */
  int64_t cut;     /* created before this: past retention */
  int ready;       /* only events in ready can match (set by run_scan) */
  int kheld;       /* nor those in kheld (set by run_scan) */
} scan;

/* Claiming: the id is the match. 1 when the claim is full. */
static int take_id(scan *sc, uint64_t id) {
  sc->ids[sc->nids++] = id;
  sc->last_id = id;
  return sc->nids == sc->limit;
}

static int name_is(const char *v, size_t vl, const evs_name *n) {
  return vl == n->len && !memcmp(v, n->s, vl);
}

/* The state of event f as transaction t (or NULL: the committed store)
** sees it, leases and time considered. */
static int state_in(const evs_store *s, const evs_txn *t, uint64_t f, int64_t now,
                    const evs_ent **ep) {
  const evs_index *x = &s->state.idx;
  *ep = NULL;
  if (f < x->base || f - x->base >= x->n) return EVS_ES_GONE;
  evs_ent e = *evs_ent_at(x, f - x->base);
  *ep = evs_ent_at(x, f - x->base);
  const evs_ov *o = evs_ov_find(t, f);
  if (o && (o->op & OV_DEL)) return EVS_ES_GONE;
  if (o) e.flags |= ENT_ACKED;
  return evs_ent_state(x, f, &e, now, s->opt.max_deliveries, NULL);
}

/* Is pending event id held back by its ordering key (as t sees it): an
** older event of the key not yet settled (acknowledged, deleted, dead, or
** past retention: cut), or another event of the key leased? */
static int key_blocked(const evs_store *s, const evs_txn *t, uint64_t id, int64_t now,
                       int64_t cut) {
  const evs_index *x = &s->state.idx;
  const evs_okey *k = evs_okey_of(&x->okeys, id);
  if (!k) return 0;
  const evs_ent *e;
  /* One lease at a time: a lease can only be on the key's last claimed. */
  if (k->leased && k->leased != id && state_in(s, t, k->leased, now, &e) == EVS_ES_LEASED &&
      e->created_us >= cut)
    return 1;
  for (uint32_t i = k->head; i < k->n && k->ids[i] < id; i++) {
    int st = state_in(s, t, k->ids[i], now, &e);
    if (EVS_ES_HOLDS(st) && e->created_us >= cut) return 1;
  }
  return 0;
}

/* Consider one entry; returns 1 to stop the scan (page full and one more
** match seen, or an error in *rc). */
static int visit(scan *sc, uint64_t rel, const evs_ent *e0, int *rc) {
  evs_store *s = sc->s;
  const evs_query *q = sc->q;
  uint64_t id = s->state.idx.base + rel;
  evs_ent e = *e0;
  if (!(e.flags & ENT_LIVE) || (e.flags & ENT_DELETED)) return 0;
  const evs_ov *o = evs_ov_find(sc->t, id);
  if (o && (o->op & OV_DEL)) return 0;
  if (o) e.flags |= ENT_ACKED, e.acked_us = o->acked_us;
  int st = evs_ent_state(&s->state.idx, id, &e, sc->now, s->opt.max_deliveries, NULL);
  if (sc->ids && st == EVS_ES_DEAD && !(e.flags & ENT_DEAD) && sc->ndead < sc->dead_cap)
    sc->dead[sc->ndead++] = id; /* its lease ran out at max_deliveries */
  int want = q->status == EVS_QUERY_PENDING        ? st == EVS_ES_PENDING
             : q->status == EVS_QUERY_ACKNOWLEDGED ? st == EVS_ES_ACKED
             : q->status == EVS_QUERY_LEASED  ? st == EVS_ES_LEASED
             : q->status == EVS_QUERY_DELAYED ? st == EVS_ES_DELAYED
             : q->status == EVS_QUERY_DEAD    ? st == EVS_ES_DEAD
             : q->status == EVS_QUERY_CLAIMABLE ? st == EVS_ES_PENDING
                                             : st != EVS_ES_GONE;
  if (!want) return 0;
  if (sc->claimable && s->state.idx.okeys.iused && key_blocked(s, sc->t, id, sc->now, sc->cut))
    return 0;
  if (q->priority && (e.flags & ENT_PRIO) != q->priority) return 0;
  /* Claiming with no filter on the record itself: the id is enough. */
  if (sc->ids && !sc->src && !sc->typ && !q->metadata_key) return take_id(sc, id);
  evs_event ev;
  int z;
  uint32_t raw;
  if ((*rc = evs_read_rec(s, sc->t, &e, &ev, &z, &raw))) return 1;
  if (sc->src && !name_is(ev.source, ev.source_len, sc->src)) return 0;
  if (sc->typ && !name_is(ev.event_type, ev.event_type_len, sc->typ)) return 0;
  if (q->metadata_key) {
    const char *val;
    size_t vlen;
    if (!ev.metadata ||
        !evs_json_member(ev.metadata, ev.metadata_len, q->metadata_key,
                         strlen(q->metadata_key), &val, &vlen) ||
        !evs_json_value_equals(val, vlen, q->metadata_value,
                               strlen(q->metadata_value)))
      return 0;
  }
  if (sc->ids) return take_id(sc, id);
  evs_page *pg = sc->pg;
  if (pg->n == sc->limit) {
    pg->more = 1;
    return 1;
  }
  if (evs_grow((void **)&pg->ev, &pg->cap, pg->n + 1, sizeof *pg->ev)) {
    *rc = evs_err(s, EVS_ENOMEM, "out of memory");
    return 1;
  }
  /* Records still in the transaction's buffer may move: copy them. */
  const uint8_t *r = evs_rec_ptr(s, sc->t, e.slot, e.off);
  if (sc->t && r != s->slots[e.slot]->base + e.off) {
    uint32_t len = evs_rec_len(r);
    uint8_t *c = arena_alloc(pg, len);
    if (!c) {
      *rc = evs_err(s, EVS_ENOMEM, "out of memory");
      return 1;
    }
    memcpy(c, r, len);
    evs_ev_decode(c, len, &ev, &z, &raw);
  }
  if (q->without_payload) {
    ev.payload = NULL;
    ev.payload_len = raw;
  } else if (z) {
    char *d = arena_alloc(pg, (size_t)raw + 1);
    if (!d) {
      *rc = evs_err(s, EVS_ENOMEM, "out of memory");
      return 1;
    }
    char why[400];
    if ((*rc = evs_zstd_decompress(s, d, raw, ev.payload, ev.payload_len, why, sizeof why))) {
      *rc = evs_err(s, *rc, "payload of event %" PRIu64 " does not decompress: %s", id, why);
      return 1;
    }
    d[raw] = 0;
    ev.payload = d;
    ev.payload_len = raw;
  }
  const char *by = set_state(s, &ev, &e, sc->now);
  if (by) {
    size_t bl = strlen(by) + 1;
    char *c = arena_alloc(pg, bl);
    if (!c) {
      *rc = evs_err(s, EVS_ENOMEM, "out of memory");
      return 1;
    }
    ev.leased_by = memcpy(c, by, bl);
  }
  pg->ev[pg->n++] = ev;
  sc->last_id = id;
  return 0;
}

static int pending_committed(const evs_ent *e) {
  return (e->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) == ENT_LIVE;
}

static size_t lower_bound(const uint32_t *a, size_t n, uint64_t v) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Pending events of one name list, rel in [lo, hi). */
static int scan_list(scan *sc, evs_plist *l, uint64_t lo, uint64_t hi) {
  evs_store *s = sc->s;
  int rc = 0, desc = sc->q->descending;
  size_t first = lower_bound(l->rel, l->n, lo), end = lower_bound(l->rel, l->n, hi);
  if (first >= end) return 0;
  uint64_t p = desc ? evs_bs_prev(&l->live, end - 1) : evs_bs_next(&l->live, first);
  while (p != UINT64_MAX && p >= first && p < end) {
    uint64_t rel = l->rel[p];
    const evs_ent *e = evs_ent_at(&s->state.idx, rel);
    if ((sc->ready && !evs_bs_test(&s->state.idx.ready, rel)) ||
        (sc->kheld && evs_bs_test(&s->state.idx.kheld, rel))) {
      /* held by a lease or a delay: passed over at the cost of a bit */
    } else if (!pending_committed(e)) {
      /* Acked or deleted for good: drop it from the list now, so later
      ** scans do not pay for it again. */
      if (rel < s->vis_n) evs_bs_clear_shared(&l->live, p);
    } else if (visit(sc, rel, e, &rc)) {
      break;
    }
    if (desc && !p) break;
    p = desc ? evs_bs_prev(&l->live, p - 1) : evs_bs_next(&l->live, p + 1);
  }
  return rc;
}

/* All pending events, rel in [lo, hi), through the pending bitset. */
static int scan_pending(scan *sc, uint64_t lo, uint64_t hi) {
  const evs_index *x = &sc->s->state.idx;
  const evs_bitset *b = sc->ready ? &x->ready : &x->pending;
  int rc = 0, desc = sc->q->descending;
  if (sc->kheld && !desc) { /* a claim: past events their keys hold back */
    for (uint64_t rel = evs_bs_next_andnot(b, &x->kheld, lo); rel != UINT64_MAX && rel < hi;
         rel = evs_bs_next_andnot(b, &x->kheld, rel + 1))
      if (visit(sc, rel, evs_ent_at(x, rel), &rc)) break;
    return rc;
  }
  uint64_t rel = desc ? evs_bs_prev(b, hi - 1) : evs_bs_next(b, lo);
  while (rel != UINT64_MAX && rel >= lo && rel < hi) {
    if (visit(sc, rel, evs_ent_at(&sc->s->state.idx, rel), &rc)) break;
    if (desc && !rel) break;
    rel = desc ? evs_bs_prev(b, rel - 1) : evs_bs_next(b, rel + 1);
  }
  return rc;
}

/* Every entry in [lo, hi): acknowledged or any-status queries. */
static int scan_ids(scan *sc, uint64_t lo, uint64_t hi) {
  int rc = 0;
  for (uint64_t i = 0; i < hi - lo; i++) {
    uint64_t rel = sc->q->descending ? hi - 1 - i : lo + i;
    if (visit(sc, rel, evs_ent_at(&sc->s->state.idx, rel), &rc)) break;
  }
  return rc;
}

static int check_query(evs_store *s, const evs_query *q) {
  if (q->limit > EVS_PAGE_MAX)
    return evs_err(s, EVS_EINVAL, "limit %u is out of range 1..%d", q->limit,
                   EVS_PAGE_MAX);
  if (q->priority < 0 || q->priority > EVS_PRIORITY_HIGH)
    return evs_err(s, EVS_EINVAL, "priority filter %d is not 0 (any) or 1..3",
                   q->priority);
  if (!q->metadata_key != !q->metadata_value)
    return evs_err(s, EVS_EINVAL,
                   "metadata_key and metadata_value must be given together");
  if (q->status < EVS_QUERY_PENDING || q->status > EVS_QUERY_CLAIMABLE)
    return evs_err(s, EVS_EINVAL,
                   "status %d is not pending (0), acknowledged (1), any (2), leased (3), "
                   "dead (4), delayed (5) or claimable (6)",
                   q->status);
  /* No event has an empty name (append refuses one, trimmed the same
  ** way): such a filter is a caller's mistake, not an empty inbox. */
  size_t n;
  if (q->source && (evs_trim(q->source, &n), !n))
    return evs_err(s, EVS_EINVAL, "source filter is empty");
  if (q->event_type && (evs_trim(q->event_type, &n), !n))
    return evs_err(s, EVS_EINVAL, "event_type filter is empty");
  return 0;
}

static int run_scan(scan *sc, uint64_t after_id);

/* A page to fill: *page reused or allocated, emptied, in the present epoch. */
static int page_start(evs_store *s, evs_page **page) {
  evs_page *pg = *page;
  if (!pg) {
    if (!(pg = calloc(1, sizeof *pg))) return evs_err(s, EVS_ENOMEM, "out of memory");
    *page = pg;
  }
  pg->n = 0;
  pg->more = 0;
  arena_reset(pg);
  /* Enter the present epoch before reading the index (see compact.c). */
  evs_epoch_leave(pg->epoch);
  pg->epoch = evs_epoch_enter(s);
  return 0;
}

static int inbox(evs_store *s, evs_txn *txn, const evs_query *qin, evs_page **page) {
  if (!s || !page) return evs_err(s, EVS_EINVAL, "store and page are required");
  evs_query q0 = {0};
  const evs_query *q = qin ? qin : &q0;
  int rc = check_query(s, q);
  if (!rc) rc = check_txn(s, txn);
  if (rc) return rc;
  uint64_t fp = evs_filter_fp(q), after_id = 0;
  if (q->cursor && (rc = evs_cursor_decode(s, q->cursor, fp, &after_id))) return rc;
  if ((rc = page_start(s, page))) return rc;
  evs_page *pg = *page;
  scan sc = {s, txn, q, pg, NULL, NULL, q->limit ? q->limit : EVS_PAGE_DEFAULT,
             after_id, evs_now(s), NULL, 0, NULL, 0, 0, 0, 0, 0, 0};
  rc = run_scan(&sc, after_id);
  if (rc) {
    pg->n = 0;
    return rc;
  }
  evs_cursor_encode(s, sc.last_id, fp, pg->cursor);
  return 0;
}

/* The scan of sc->q over the committed index (or sc->t's), resuming after
** after_id. Takes ilock shared. */
static int run_scan(scan *sc, uint64_t after_id) {
  evs_store *s = sc->s;
  const evs_query *q = sc->q;
  const evs_txn *txn = sc->t;
  int rc;
  pthread_rwlock_rdlock(&s->ilock);
  const evs_index *x = &s->state.idx;
  /* The scan covers rel in [lo, hi): ids, then times (id order is time
  ** order, so a time bound is a binary search). */
  uint64_t hi = txn ? x->n : s->vis_n, lo = 0;
  if (q->min_id) lo = q->min_id >= x->base ? q->min_id - x->base : 0;
  if (q->max_id) hi = EVS_MIN(hi, q->max_id >= x->base ? q->max_id - x->base + 1 : 0);
  /* A cursor may name an id below the base (compaction moved it up). */
  if (after_id && !q->descending && after_id >= x->base)
    lo = EVS_MAX(lo, after_id - x->base + 1);
  if (after_id && q->descending) hi = after_id < x->base ? 0 : EVS_MIN(hi, after_id - x->base);
  lo = EVS_MIN(lo, hi);
  sc->cut = INT64_MIN;
  sc->claimable = q->status == EVS_QUERY_CLAIMABLE || (sc->ids && q->status == EVS_QUERY_PENDING);
  /* Pending (claimable) events are all in ready unless a lease ended since
  ** the last expiry pass: then every pending one is looked at. */
  sc->ready = (q->status == EVS_QUERY_PENDING || q->status == EVS_QUERY_CLAIMABLE) &&
              evs_ready_usable(x, sc->now);
  if (s->opt.retention_us > 0) {
    sc->cut = evs_time_minus(evs_now(s), s->opt.retention_us);
    lo = evs_index_time_bound(x, lo, hi, sc->cut, 0);
  }
  /* kheld is of the committed index, and holds while no pending event
  ** is past retention (index.h). */
  sc->kheld = sc->ready && sc->claimable && !txn &&
              (sc->cut == INT64_MIN ||
               evs_bs_next(&x->pending, 0) >= evs_index_time_bound(x, 0, x->n, sc->cut, 0));
  if (q->created_after_us) lo = evs_index_time_bound(x, lo, hi, q->created_after_us, 1);
  if (q->created_before_us) hi = evs_index_time_bound(x, lo, hi, q->created_before_us, 0);

  evs_name *ns = NULL, *nt = NULL;
  int none = 0;
  size_t n;
  const char *v;
  if (q->source) {
    v = evs_trim(q->source, &n);
    none |= !(ns = evs_names_find(&x->sources, v, n));
  }
  if (q->event_type) {
    v = evs_trim(q->event_type, &n);
    none |= !(nt = evs_names_find(&x->types, v, n));
  }
  if (none || lo >= hi) {
    rc = 0;
  } else if (q->status != EVS_QUERY_PENDING && q->status != EVS_QUERY_LEASED &&
             q->status != EVS_QUERY_DELAYED && q->status != EVS_QUERY_CLAIMABLE) {
    sc->src = ns;
    sc->typ = nt;
    rc = scan_ids(sc, lo, hi);
  } else if (ns || nt) {
    /* Walk the shorter list, check the other name on each record. */
    int by_type = nt && (!ns || nt->list.n < ns->list.n);
    if (by_type)
      sc->src = ns;
    else
      sc->typ = nt;
    rc = scan_list(sc, by_type ? &nt->list : &ns->list, lo, hi);
  } else {
    rc = scan_pending(sc, lo, hi);
  }
  pthread_rwlock_unlock(&s->ilock);
  return rc;
}

int evs_inbox_sized(evs_store *s, evs_txn *txn, const evs_query *q, size_t q_size,
                    evs_page **page) {
  evs_query qc;
  int rc = evs_abi_in(s, "evs_query", &qc, sizeof qc, q, q_size, EVS_QUERY_SIZE_VER0);
  return rc ? rc : inbox(s, txn, q ? &qc : NULL, page);
}

int evs_query_check(evs_store *s, const evs_query *q) { return check_query(s, q); }

int evs_query_claimable(evs_store *s, const evs_query *q, unsigned limit, int64_t now,
                        uint64_t *ids, size_t *nids, uint64_t *dead, size_t dead_cap,
                        size_t *ndead) {
  scan sc = {s, NULL, q, NULL, NULL, NULL, limit, 0, now, ids, 0, dead, 0, dead_cap, 0, 0, 0, 0};
  int rc = run_scan(&sc, 0);
  *nids = sc.nids;
  *ndead = sc.ndead;
  return rc;
}

void evs_page_empty(evs_page *p) {
  if (p) p->n = 0, p->more = 0;
}

int evs_page_leased(evs_store *s, evs_page *pg, const uint64_t *ids, size_t n,
                    uint64_t first_token, int64_t until_us, const char *consumer, size_t clen) {
  char *by = arena_alloc(pg, clen + 1);
  if (!by) return evs_err(s, EVS_ENOMEM, "out of memory");
  memcpy(by, consumer, clen);
  by[clen] = 0;
  size_t k = 0;
  for (size_t i = 0; i < pg->n; i++) {
    evs_event *ev = &pg->ev[i];
    while (k < n && ids[k] != ev->id) k++;
    if (k == n) break; /* (cannot happen: the page is of ids, in order) */
    ev->status = EVS_STATUS_LEASED;
    ev->lease_token = first_token + k;
    ev->lease_expires_us = until_us;
    ev->leased_by = by;
    if (ev->delivery_count < 255) ev->delivery_count++;
  }
  return 0;
}

int evs_page_of_ids(evs_store *s, const uint64_t *ids, size_t n, evs_page **page) {
  int rc = page_start(s, page);
  if (rc) return rc;
  evs_query any = {0};
  any.status = EVS_QUERY_ANY;
  scan sc = {s, NULL, &any, *page, NULL, NULL, (unsigned)n + 1, 0, evs_now(s), NULL, 0,
             NULL, 0, 0, 0, 0, 0, 0};
  pthread_rwlock_rdlock(&s->ilock);
  const evs_index *x = &s->state.idx;
  for (size_t i = 0; i < n && !rc; i++)
    if (ids[i] >= x->base && ids[i] - x->base < s->vis_n)
      visit(&sc, ids[i] - x->base, evs_ent_at(x, ids[i] - x->base), &rc);
  pthread_rwlock_unlock(&s->ilock);
  if (rc) (*page)->n = 0;
  return rc;
}
