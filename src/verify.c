/*
** verify.c: evs_verify, the consistency check. The log is scanned and
** replayed into a scratch index exactly as recovery would, and the live
** index must equal it: entries, pending sets, list membership, keys.
** Every compressed payload is decompressed to its recorded length.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "compress.h"
#include "error.h"
#include "replay.h"
#include "store.h"
#include "util.h"

typedef struct vctx {
  evs_store *s;
  evs_verify_report r;
  char first[400];
  uint64_t keyed; /* events not settled that have an ordering key */
} vctx;

static void problem(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(vctx *v, const char *fmt, ...) {
  if (v->r.problems++) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v->first, sizeof v->first, fmt, ap);
  va_end(ap);
}

/* Is rel live in the list of its name (binary search, then the bit)? */
static int in_list(const evs_plist *l, uint64_t rel) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->rel[mid] < rel)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < l->n && l->rel[lo] == rel && evs_bs_test(&l->live, lo);
}

/* Entry of id in x, or a hole outside its range. */
static evs_ent ent_or_hole(const evs_index *x, uint64_t id) {
  evs_ent h = {0, 0, 0, 0, 0, 0};
  if (id < x->base || id - x->base >= x->n) return h;
  return *evs_ent_at(x, id - x->base);
}

static int same_key(const evs_okey *k, const char *s, size_t len) {
  return k && k->len == len && !memcmp(k->s, s, len);
}

/* An event not settled: listed under its record's ordering key on both
** sides, and the key's last claim when it holds a lease now (one that ran
** out may have been followed by a claim of another of the key). */
static void check_order(vctx *v, const evs_index *live, const evs_index *ref, uint64_t id,
                        const evs_event *ev, int64_t created_us) {
  const evs_okey *ka = evs_okey_of(&live->okeys, id), *kb = evs_okey_of(&ref->okeys, id);
  if (!ev->ordering_key) {
    if (ka || kb) problem(v, "event %" PRIu64 ": listed under an ordering key it has not", id);
    return;
  }
  v->keyed++;
  if (!same_key(ka, ev->ordering_key, ev->ordering_key_len) ||
      !same_key(kb, ev->ordering_key, ev->ordering_key_len)) {
    problem(v, "event %" PRIu64 ": not listed under its ordering key", id);
    return;
  }
  const evs_lease *l = evs_lease_find(&live->leases, id);
  /* Past retention an event is gone: its lease holds nothing. */
  evs_store *s = v->s;
  int64_t now = evs_now(s);
  if (s->opt.retention_us > 0 && created_us < evs_time_minus(now, s->opt.retention_us)) return;
  if (l && l->consumer && l->until_us > now && (ka->leased != id || kb->leased != id))
    problem(v, "event %" PRIu64 ": leased, but not its ordering key's last claim", id);
}

/* No key lists an event that is not settled beyond those check_order saw. */
static void check_order_count(vctx *v, const evs_index *x, const char *what) {
  uint64_t n = 0;
  for (size_t i = 0; x->okeys.ids && i <= x->okeys.imask; i++) {
    uint64_t id = x->okeys.ids[i].id;
    if (!id || id < x->base || id - x->base >= x->n) continue;
    uint8_t f = evs_ent_at(x, id - x->base)->flags;
    n += (f & (ENT_LIVE | ENT_ACKED | ENT_DELETED)) == ENT_LIVE;
  }
  if (n != v->keyed)
    problem(v, "%s lists %" PRIu64 " events under ordering keys, %" PRIu64 " expected", what, n,
            v->keyed);
}

static void check_entries(vctx *v, const evs_index *live, const evs_index *ref) {
  evs_store *s = v->s;
  /* The ranges may differ by holes (ids whose events compaction removed:
  ** the live index keeps them, a replay starts at the first segment). */
  if (live->base + live->n != ref->base + ref->n)
    problem(v, "index ends before id %" PRIu64 ", the log before %" PRIu64,
            live->base + live->n, ref->base + ref->n);
  uint64_t lo = EVS_MIN(live->base, ref->base);
  uint64_t hi = EVS_MAX(live->base + live->n, ref->base + ref->n);
  for (uint64_t id = lo; id < hi; id++) {
    evs_ent ea = ent_or_hole(live, id), eb = ent_or_hole(ref, id);
    const evs_ent *a = &ea, *b = &eb;
    if (!a->flags && !b->flags) continue; /* holes on both sides */
    uint64_t rel = id - live->base;
    v->r.events++;
    if (a->created_us != b->created_us || a->acked_us != b->acked_us ||
        a->off != b->off || a->slot != b->slot || a->flags != b->flags) {
      problem(v,
              "event %" PRIu64 ": index entry differs from the log (created %" PRId64
              "/%" PRId64 ", acked %" PRId64 "/%" PRId64 ", at %u:%u/%u:%u, flags "
              "%#x/%#x)",
              id, a->created_us, b->created_us, a->acked_us, b->acked_us, a->slot, a->off,
              b->slot, b->off, a->flags, b->flags);
      continue;
    }
    if (a->pad != b->pad)
      problem(v, "event %" PRIu64 ": delivered %u times, the log says %u", id, a->pad, b->pad);
    if (a->flags & ENT_LEASED) {
      const evs_lease *la = evs_lease_find(&live->leases, id),
                      *lb = evs_lease_find(&ref->leases, id);
      const char *ca = la ? evs_consumer_name(&live->leases, la->consumer) : NULL,
                 *cb = lb ? evs_consumer_name(&ref->leases, lb->consumer) : NULL;
      if (!la || !lb || la->token != lb->token || la->until_us != lb->until_us ||
          !ca != !cb || (ca && strcmp(ca, cb)))
        problem(v, "event %" PRIu64 ": its lease differs from the log", id);
    }
    int pend = (a->flags & (ENT_LIVE | ENT_ACKED | ENT_DELETED | ENT_DEAD)) == ENT_LIVE;
    if (evs_bs_test(&live->pending, rel) != pend)
      problem(v, "event %" PRIu64 ": pending set disagrees with its status", id);
    /* ready is a hint, but never holds what pending does not. */
    if (!pend && (evs_bs_test(&live->ready, rel) || evs_bs_test(&live->kheld, rel)))
      problem(v, "event %" PRIu64 ": in the ready or key-held set, but not pending", id);
    if (!(a->flags & ENT_LIVE) || (a->flags & ENT_DELETED)) continue;
    const uint8_t *r = evs_rec_ptr(s, NULL, a->slot, a->off);
    evs_event ev;
    int z;
    uint32_t raw;
    if (evs_ev_decode(r, evs_rec_len(r), &ev, &z, &raw) || ev.id != id) {
      problem(v, "event %" PRIu64 ": record does not decode", id);
      continue;
    }
    if (!(a->flags & ENT_ACKED)) check_order(v, live, ref, id, &ev, a->created_us);
    if (pend) {
      const evs_name *ns = evs_names_find(&live->sources, ev.source, ev.source_len);
      const evs_name *nt = evs_names_find(&live->types, ev.event_type, ev.event_type_len);
      if (!ns || !nt || !in_list(&ns->list, rel) || !in_list(&nt->list, rel))
        problem(v, "pending event %" PRIu64 " is missing from its source or type list",
                id);
    }
    if (z) {
      char *buf = malloc((size_t)raw + 1);
      if (!buf) {
        problem(v, "out of memory decompressing event %" PRIu64, id);
        continue;
      }
      char why[400];
      if (evs_zstd_decompress(s, buf, raw, ev.payload, ev.payload_len, why, sizeof why))
        problem(v, "event %" PRIu64 ": payload does not decompress to %" PRIu64 " bytes: %s",
                id, (uint64_t)raw, why);
      v->r.payloads++;
      free(buf);
    }
  }
}

/* Every source and type the log names is known to the index (queries
** over any status look names up even when nothing of them is pending). */
static void check_names(vctx *v, const evs_names *live, const evs_names *ref, const char *what) {
  for (size_t i = 0; ref->tab && i <= ref->mask; i++) {
    const evs_name *n = ref->tab[i];
    if (n && !evs_names_find(live, n->s, n->len))
      problem(v, "%s '%s' is missing from the index", what, n->s);
  }
}

static void check_keys(vctx *v, const evs_index *live, const evs_index *ref) {
  if (live->idem_used != ref->idem_used)
    problem(v, "idempotency table holds %zu keys, the log %zu", live->idem_used,
            ref->idem_used);
  for (size_t i = 0; i < ref->idem_size; i++) {
    const evs_idem_slot *sl = &ref->idem[i];
    if (!sl->tag) continue;
    /* The two indexes may start at different ids (see check_entries). */
    uint64_t id = ref->base + sl->rel;
    if (id < live->base || id - live->base > UINT32_MAX ||
        !evs_idem_has(live, sl->tag, (uint32_t)(id - live->base)))
      problem(v, "the key of event %" PRIu64 " is missing from the idempotency table", id);
  }
}

static int verify(evs_store *s, evs_verify_report *out) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  vctx v;
  memset(&v, 0, sizeof v);
  v.s = s;
  /* The writer lock, not a transaction: nothing commits meanwhile, and
  ** checking writes nothing (a transaction could start a segment). */
  int rc = evs_writer_lock(s);
  if (rc) return rc;

  /* The replay builds a scratch state from the same segments (stable
  ** while the writer is held); the live state must equal it. */
  evs_state ref;
  memset(&ref, 0, sizeof ref);
  if (evs_index_init(&ref.idx)) {
    rc = evs_err(s, EVS_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < s->nsegs && !rc; i++) {
    evs_seg *g = s->segs[i];
    uint64_t end, after, scan_end;
    evs_log_scan(g, EVS_SEG_HDR, g->size, &end, &after, &scan_end);
    v.r.segments++;
    if (end != g->size) {
      problem(&v, "segment %" PRIu64 ": damaged at offset %" PRIu64, g->no, end);
      break;
    }
    for (uint64_t pos = EVS_SEG_HDR; pos < end; pos += evs_rec_len(g->base + pos))
      v.r.records++;
    rc = evs_log_replay(s, &ref, g, EVS_SEG_HDR, end, "(verify)");
    if (rc == EVS_ECORRUPT) {
      problem(&v, "segment %" PRIu64 ": %s", g->no, evs_errmsg(s));
      rc = 0;
      break;
    }
  }
  if (!rc && !v.r.problems) {
    pthread_rwlock_rdlock(&s->ilock);
    check_entries(&v, &s->state.idx, &ref.idx);
    check_keys(&v, &s->state.idx, &ref.idx);
    check_order_count(&v, &s->state.idx, "the index");
    check_order_count(&v, &ref.idx, "the log");
    check_names(&v, &s->state.idx.sources, &ref.idx.sources, "source");
    check_names(&v, &s->state.idx.types, &ref.idx.types, "event type");
    if (s->state.idx.leases.used != ref.idx.leases.used)
      problem(&v, "%zu leases in the index, the log has %zu", s->state.idx.leases.used,
              ref.idx.leases.used);
    if (s->state.npending != ref.npending || s->state.nacked != ref.nacked ||
        s->state.ndead != ref.ndead)
      problem(&v, "counts differ from the log (pending %" PRIu64 ", log %" PRIu64 ")",
              s->state.npending, ref.npending);
    pthread_rwlock_unlock(&s->ilock);
  }
  evs_index_free(&ref.idx);
done:
  evs_writer_unlock(s);
  if (out) *out = v.r;
  if (rc) return rc;
  if (v.r.problems)
    return evs_err(s, EVS_ECORRUPT, "verify: %" PRIu64 " problem%s; first: %s",
                   v.r.problems, v.r.problems == 1 ? "" : "s", v.first);
  return 0;
}

int evs_verify_sized(evs_store *s, evs_verify_report *out, size_t out_size) {
  evs_verify_report rep;
  int rc = evs_abi_out_check(s, "evs_verify_report", out, out_size, EVS_VERIFY_REPORT_SIZE_VER0);
  if (rc) return rc;
  /* verify() fills the report only when it gets to check. */
  memset(&rep, 0, sizeof rep);
  if (out) memcpy(&rep, out, EVS_MIN(out_size, sizeof rep));
  rc = verify(s, out ? &rep : NULL);
  evs_abi_out(out, out_size, &rep, sizeof rep);
  return rc;
}
