/*
** fuzz_ops.c: operation sequences against a model.
**
** The first byte configures the store: in memory or a directory (then
** "reopen" closes and reopens it), retention, idempotency window,
** compression threshold, JSON validation on/off, segment size. The rest is
** a sequence of operations:
**
**   append, batch append     events picked from small tables of sources,
**                            types, payloads, metadata, keys, ordering
**                            keys, priorities, valid and invalid ones (each
**                            invalid choice has a known error code)
**   ack, ack_batch, delete, get
**   inbox page / next page / full walk   filters on status, source, type,
**                            priority, time, metadata member, id bounds,
**                            newest first, limit; cursors kept between
**                            operations and reused (also with another
**                            filter, which must be refused)
**   txn begin / commit / rollback, savepoint / rollback_to / release,
**   autocommit calls while a transaction is open (EVS_EDEADLK),
**   clock forward, backward, jumps past the retention or window
**   stats, verify, reopen
**   consumers: claim (filters, limits, leases from 1 us to the default),
**                            ack_lease / renew / release / reject with the
**                            event's token, an older or an unissued one,
**                            redrive, walks of the leased and dead events;
**                            max_deliveries 1..4 (the second config byte);
**                            ordering keys: claims and claimable pages
**                            (status EVS_QUERY_CLAIMABLE) follow the key
**                            rule; the store's first keyed append after
**                            other writes of its transaction is refused
**
** The model (tests/model.h, shared with the model tests): ids dense from
** 1, each event's fields, status and times, keys and the event they name;
** here a committed state plus, while a transaction is open, its working
** state and savepoint snapshots. Time comes from a
** fake clock the operations move. Every answer of the store (return codes,
** ids, duplicates, times, every field of every event read, page contents,
** "more", cursors, stats) is compared with the model; a mismatch aborts.
*/
#include "fuzz_common.h"
#include "model.h"

#define MAXEV 400
#define NSLOT 4
#define T0 1700000000000000LL

/* ---- tables ---------------------------------------------------------------- */

static char name100[101], name101[102], key256[257], key257[258];
static char pay_big[2100], pay_mixed[1600], pay_huge[5000], meta_huge[9000];

typedef struct choice {
  const char *s;
  int canon; /* index of the stored (trimmed) form, or -1 when invalid */
  int err;   /* expected error when invalid */
} choice;

static const char *const SRC_CANON[] = {"a", "b", "caf\xc3\xa9", name100};
static choice SRC[] = {
    {"a", 0, 0},          {"b", 1, 0},
    {" a ", 0, 0},        {"\ta\v\f", 0, 0},
    {"caf\xc3\xa9", 2, 0}, {NULL, 3, 0} /* name100 */,
    {"", -1, EVS_EINVAL}, {" \n ", -1, EVS_EINVAL},
    {NULL, -1, EVS_ETOOBIG} /* name101 */,
    {"bad\x01", -1, EVS_EINVAL}, {"\xff", -1, EVS_EINVAL},
    {"x\xc2\x85y", -1, EVS_EINVAL} /* U+0085, a C1 control */};
#define NSRC_VALID 6

static const char *const TYP_CANON[] = {"t1", "t2"};
static const choice TYP[] = {{"t1", 0, 0},     {"t2", 1, 0},          {" t1\r\n", 0, 0},
                             {"", -1, EVS_EINVAL}, {"t\x7f", -1, EVS_EINVAL}};
#define NTYP_VALID 3

/* Payloads: valid JSON objects first; then ones only skip_json accepts. */
static const char *PAY[] = {"{}", "{\"a\":1}", "{\"k\":\"v\",\"n\":[1,2,{}]}",
                            pay_big, pay_mixed,
                            "{", "[]", "{\"a\":01}", pay_huge};
#define NPAY_VALID 5
#define NPAY 9

static const char *META[] = {NULL,
                             "{\"k\":\"v\"}",
                             "{\"k\":1}",
                             "{\"k\":\"v\",\"k\":\"w\"}",
                             "{\"k\":\"\\u0076\"}",
                             "{\"x\":{\"k\":\"v\"}}",
                             "not json",
                             meta_huge};
#define NMETA_VALID 6
#define NMETA 8

static const char *KEYS[] = {NULL, "k1", "k2", "k3", key256, "", key257};
#define NKEY_VALID 5
#define NKEYS 7

/* Ordering keys: NULL for half the events (the type byte's high nibble
** below 8), then four keys (two differ by a space only) and one of the
** maximal length; then the invalid ones. */
static char okey128[129], okey129[130];
static const char *OKEYS[] = {NULL, "A", "B", "A ", okey128, "", okey129, "\xff"};
#define NOKEY_VALID 5
#define NOKEYS 8

static const int PRIO[] = {0, 1, 2, 3, 4, -1};
#define NPRIO_VALID 4

/* Metadata filters: key, value; which metadata match each. */
static const char *const MF_KEY[] = {NULL, "k", "k", "k", "x"};
static const char *const MF_VAL[] = {NULL, "v", "1", "w", "v"};
#define NMF 5
static const uint8_t MF_MATCH[NMETA][NMF] = {
    {1, 0, 0, 0, 0}, /* none */
    {1, 1, 0, 0, 0}, /* k=v */
    {1, 0, 1, 0, 0}, /* k=1 */
    {1, 0, 0, 1, 0}, /* k=v then k=w: the last wins */
    {1, 1, 0, 0, 0}, /* k="\u0076" is "v" */
    {1, 0, 0, 0, 0}, /* an object never matches */
    {1, 0, 0, 0, 0}, /* not JSON (stored unvalidated) */
    {1, 0, 0, 0, 0},
};

/* Filter names: as given, and what they select once trimmed as names are
** trimmed on append (-1: nothing). */
static const char *const QSRC[] = {NULL, "a", "b", " a ", "zzz", "caf\xc3\xa9", "a\v",
                                   "\fb"};
static const int QSRC_CANON[] = {-2, 0, 1, 0, -1, 2, 0, 1};
#define NQSRC 8
static const char *const QTYP[] = {NULL, "t1", "t2", "\tt2\n"};
static const int QTYP_CANON[] = {-2, 0, 1, 1};
#define NQTYP 4

static void init_tables(void) {
  memset(name100, 'y', 100);
  memset(name101, 'z', 101);
  memset(key256, 'K', 256);
  memset(key257, 'L', 257);
  memset(okey128, 'O', 128);
  memset(okey129, 'P', 129);
  SRC[5].s = name100;
  SRC[8].s = name101;
  int n = snprintf(pay_big, sizeof pay_big, "{\"big\":\"");
  for (; n < (int)sizeof pay_big - 3; n++) pay_big[n] = "abcab"[n % 5];
  snprintf(pay_big + n, sizeof pay_big - (size_t)n, "\"}");
  uint32_t x = 12345;
  n = snprintf(pay_mixed, sizeof pay_mixed, "{\"r\":\"");
  while (n < (int)sizeof pay_mixed - 3) {
    x = x * 1103515245 + 12345;
    pay_mixed[n++] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/"[(x >> 16) & 63];
  }
  snprintf(pay_mixed + n, sizeof pay_mixed - (size_t)n, "\"}");
  n = snprintf(pay_huge, sizeof pay_huge, "{\"h\":\"");
  while (n < (int)sizeof pay_huge - 3) pay_huge[n++] = 'h';
  snprintf(pay_huge + n, sizeof pay_huge - (size_t)n, "\"}");
  n = snprintf(meta_huge, sizeof meta_huge, "{\"m\":\"");
  while (n < (int)sizeof meta_huge - 3) meta_huge[n++] = 'm';
  snprintf(meta_huge + n, sizeof meta_huge - (size_t)n, "\"}");
}

/* ---- the model ----------------------------------------------------------- */

/* A query as indices into the tables, so fingerprints can be compared. */
typedef struct qspec {
  int status, src, typ, prio, mf, desc;
  unsigned limit;
  int64_t after, before;
  uint64_t min_id, max_id;
} qspec;

typedef struct slot {
  int used;
  qspec q;
  uint64_t after; /* the id its cursor resumes after */
  char cursor[EVS_CURSOR_SIZE];
} slot;

static struct {
  evs_store *s;
  evs_txn *txn;
  evs_page *pg;
  evs_options opt;
  int64_t now, retention, window;
  int dir_store, skip_json;
  char dir[300];
  model C, W;        /* committed; working (valid while txn != NULL) */
  model B;           /* scratch: a batch tried on a copy */
  /* Whether the store's current segment holds ordering keys: 1 yes (after
  ** a keyed append, or a claim, renew, release, reject or redrive: they
  ** start that format), 0 no (a new store), -1 not known (after a
  ** reopen). Until it does, a keyed append after other writes of its
  ** transaction is refused with EVS_EINVAL. */
  int fmt;
  /* The open transaction holds a record: 0 no, 1 yes, -1 not known (after
  ** a rollback_to). */
  int t_wrote;
  model marks[8];
  int nmarks;
  slot slots[NSLOT];
  int opno;
} G;

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "\n[op %d] ", G.opno);                                 \
      fz_fail(__FILE__, __LINE__, __VA_ARGS__);                              \
    }                                                                        \
  } while (0)
#define CHECK_RC(rc, want, what)                                             \
  CHECK((rc) == (want), "%s returned %d, model says %d (%s)", what, rc, want, \
        evs_errmsg(G.s))

/* FUZZ_TRACE=1 in the environment prints every operation (for reports). */
static int tracing = -1;
static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...) {
  if (tracing < 0) tracing = getenv("FUZZ_TRACE") != NULL;
  if (!tracing) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[op %d] ", G.opno);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* A filter string for the trace: quoted, control characters escaped. */
static const char *show(const char *s, char *buf, size_t cap) {
  if (!s) return "NULL";
  size_t n = 0;
  buf[n++] = '"';
  for (; *s && n + 6 < cap; s++)
    n += (size_t)snprintf(buf + n, cap - n, (unsigned char)*s < 0x20 ? "\\x%02x" : "%c",
                          (unsigned char)*s);
  buf[n++] = '"';
  buf[n] = 0;
  return buf;
}

static model *view(int in_txn) { return in_txn ? &G.W : &G.C; }

static int visible(const model *m, uint64_t id) { return model_visible(m, id, G.now); }

static void check_event(const evs_event *e, const model *m, uint64_t id) {
  char buf[300];
  const char *d = model_event_diff_at(m, id, e, G.now, buf, sizeof buf);
  CHECK(!d, "%s", d);
}

/* ---- events -------------------------------------------------------------- */

typedef struct espec {
  uint8_t src, typ, pay, meta, key, prio, okey;
} espec;

static espec pick_event(fz_in *in) {
  unsigned v = fz_u8(in);
  espec e;
  int valid = v & 1; /* mostly valid events */
  e.src = (uint8_t)(fz_u8(in) % (valid ? NSRC_VALID : sizeof SRC / sizeof *SRC));
  unsigned t = fz_u8(in), hi = t >> 4;
  e.typ = (uint8_t)(t % (valid ? NTYP_VALID : sizeof TYP / sizeof *TYP));
  e.okey = (uint8_t)(hi < 8 ? 0 : 1 + (hi - 8) % (valid ? NOKEY_VALID - 1 : NOKEYS - 1));
  e.pay = (uint8_t)((v >> 1) % (valid ? NPAY_VALID : NPAY));
  e.meta = (uint8_t)((v >> 4) % (valid ? NMETA_VALID : NMETA));
  unsigned w = fz_u8(in);
  e.key = (uint8_t)(w % (valid ? NKEY_VALID : NKEYS));
  e.prio = (uint8_t)((w >> 4) % (valid ? NPRIO_VALID : sizeof PRIO / sizeof *PRIO));
  return e;
}

static evs_event_in to_in(const espec *e) {
  evs_event_in ev = {.source = SRC[e->src].s, .event_type = TYP[e->typ].s,
                     .payload = PAY[e->pay], .metadata = META[e->meta],
                     .idempotency_key = KEYS[e->key], .priority = PRIO[e->prio],
                     .ordering_key = OKEYS[e->okey]};
  return ev;
}

/* The error prep_event reports first, in its order of checks; 0 if valid. */
static int expect_invalid(const espec *e) {
  if (SRC[e->src].canon < 0) return SRC[e->src].err;
  if (TYP[e->typ].canon < 0) return TYP[e->typ].err;
  const char *p = PAY[e->pay];
  if (strlen(p) > G.opt.max_payload) return EVS_ETOOBIG;
  if (!G.skip_json && e->pay >= NPAY_VALID) return EVS_EJSON;
  const char *m = META[e->meta];
  if (m) {
    if (strlen(m) > EVS_MAX_METADATA) return EVS_ETOOBIG;
    if (!G.skip_json && e->meta >= NMETA_VALID) return EVS_EJSON;
  }
  const char *k = KEYS[e->key];
  if (k && !*k) return EVS_EINVAL;
  if (k && strlen(k) > EVS_MAX_IDEMPOTENCY_KEY) return EVS_ETOOBIG;
  const char *o = OKEYS[e->okey];
  if (o && !*o) return EVS_EINVAL;
  if (o && strlen(o) > EVS_MAX_ORDERING_KEY) return EVS_ETOOBIG;
  if (o && (unsigned char)*o == 0xff) return EVS_EINVAL; /* not UTF-8 */
  if (PRIO[e->prio] < 0 || PRIO[e->prio] > 3) return EVS_EINVAL;
  return 0;
}

/* Apply a valid append to m at time now: *dup and *id as the store should. */
static void model_append_e(model *m, const espec *e, int64_t now, int *dup, uint64_t *id,
                           int64_t *created) {
  const char *key = KEYS[e->key];
  uint64_t k = model_dup_of(m, key, now);
  if (k) {
    *dup = 1;
    *id = k;
    *created = m->ev[k].created;
    return;
  }
  *dup = 0;
  model_ev x;
  memset(&x, 0, sizeof x);
  x.source = SRC_CANON[SRC[e->src].canon];
  x.type = TYP_CANON[TYP[e->typ].canon];
  x.prio = (unsigned char)(PRIO[e->prio] ? PRIO[e->prio] : EVS_PRIORITY_NORMAL);
  x.payload = PAY[e->pay];
  x.payload_len = strlen(x.payload);
  x.meta = META[e->meta];
  x.meta_len = x.meta ? strlen(x.meta) : 0;
  x.key = key;
  x.okey = OKEYS[e->okey];
  x.tag = e->meta;
  *created = model_created(m, now);
  *id = model_add(m, &x, m->next_id, *created);
}

/* Whether a keyed append that would store a new event in the open
** transaction (in_txn) or its own (not in_txn) is refused because the
** store's format for keys has not started and the transaction already
** holds a record: 0 no, 1 yes, 2 maybe (the state is not known). */
static int key_refused(int in_txn) {
  if (!in_txn || G.fmt == 1 || G.t_wrote == 0) return 0;
  return G.fmt == 0 && G.t_wrote == 1 ? 1 : 2;
}

static void check_key_refusal(const char *what) {
  CHECK(strstr(evs_errmsg(G.s), "must begin its transaction") != NULL,
        "%s: a keyed append refused with \"%s\"", what, evs_errmsg(G.s));
}

static void op_append(fz_in *in, int use_null) {
  espec e = pick_event(in);
  int in_txn = G.txn && !use_null;
  model *m = view(in_txn);
  if (m->next_id - 1 >= MAXEV) return;
  evs_event_in ev = to_in(&e);
  evs_append_result r;
  int rc = evs_append(G.s, in_txn ? G.txn : NULL, &ev, &r);
  char b1[64];
  trace("append%s source %s typ %u pay %u meta %u key %u prio %u okey %u -> rc %d id %llu%s",
        in_txn ? " (txn)" : "", show(SRC[e.src].s, b1, sizeof b1), e.typ, e.pay, e.meta,
        e.key, e.prio, e.okey, rc,
        (unsigned long long)r.id, r.duplicate ? " dup" : "");
  int want = expect_invalid(&e);
  if (!want && G.txn && !in_txn) want = EVS_EDEADLK;
  /* A duplicate is found before the key's format is needed. */
  int fresh = !want && !model_dup_of(m, KEYS[e.key], G.now);
  if (fresh && OKEYS[e.okey]) {
    int refused = key_refused(in_txn);
    if (refused == 1 || (refused == 2 && rc == EVS_EINVAL)) want = EVS_EINVAL;
  }
  CHECK_RC(rc, want, "evs_append");
  CHECK(r.rc == rc, "result rc %d, returned %d", r.rc, rc);
  if (rc == EVS_EINVAL && fresh) check_key_refusal("evs_append");
  if (rc) return;
  if (fresh && in_txn) G.t_wrote = 1;
  if (fresh && OKEYS[e.okey]) G.fmt = 1;
  int dup;
  uint64_t id;
  int64_t created;
  model_append_e(m, &e, G.now, &dup, &id, &created);
  CHECK(r.duplicate == dup && r.id == id && r.created_us == created,
        "append: id %llu dup %d created %lld, model id %llu dup %d created %lld",
        (unsigned long long)r.id, r.duplicate, (long long)r.created_us,
        (unsigned long long)id, dup, (long long)created);
}

static void op_batch(fz_in *in, int use_null) {
  size_t n = 1 + fz_pick(in, 5);
  espec e[5];
  evs_event_in ev[5];
  for (size_t i = 0; i < n; i++) {
    e[i] = pick_event(in);
    ev[i] = to_in(&e[i]);
  }
  int in_txn = G.txn && !use_null;
  model *m = view(in_txn);
  if (m->next_id - 1 + n > MAXEV) return;
  evs_append_result r[5];
  int rc = evs_append_batch(G.s, in_txn ? G.txn : NULL, ev, n, r);
  trace("append_batch%s of %zu -> rc %d", in_txn ? " (txn)" : "", n, rc);
  int busy = G.txn && !in_txn;
  /* The batch on a copy: is it refused for a keyed item after others
  ** (1, or 2: maybe, the format not being known)? */
  int refused = 0;
  if (!busy) {
    model_copy(&G.B, m);
    int wrote = in_txn ? G.t_wrote : 0, fmt = G.fmt;
    for (size_t i = 0; i < n && !refused; i++) {
      if (expect_invalid(&e[i])) continue;
      int fresh = !model_dup_of(&G.B, KEYS[e[i].key], G.now);
      if (fresh && OKEYS[e[i].okey]) {
        if (!wrote) fmt = 1;
        else if (fmt != 1) refused = fmt == 0 && wrote == 1 ? 1 : 2;
      }
      int dup;
      uint64_t id;
      int64_t created;
      model_append_e(&G.B, &e[i], G.now, &dup, &id, &created);
      if (!dup) wrote = 1;
    }
    if (refused == 2) refused = rc == EVS_EINVAL;
  }
  CHECK_RC(rc, busy ? EVS_EDEADLK : refused ? EVS_EINVAL : 0, "evs_append_batch");
  if (refused) check_key_refusal("evs_append_batch");
  for (size_t i = 0; i < n; i++) {
    int want = expect_invalid(&e[i]);
    if (!want && (busy || refused)) want = rc;
    CHECK(r[i].rc == want, "batch item %zu: rc %d, model %d", i, r[i].rc, want);
    if (want) continue;
    int dup;
    uint64_t id;
    int64_t created;
    model_append_e(m, &e[i], G.now, &dup, &id, &created);
    CHECK(r[i].duplicate == dup && r[i].id == id && r[i].created_us == created,
          "batch item %zu: id %llu dup %d, model id %llu dup %d", i,
          (unsigned long long)r[i].id, r[i].duplicate, (unsigned long long)id, dup);
    if (!dup && in_txn) G.t_wrote = 1;
    if (!dup && OKEYS[e[i].okey]) G.fmt = 1;
  }
}

static uint64_t pick_id(fz_in *in, const model *m) {
  unsigned b = fz_u8(in);
  if (b == 255) return UINT64_MAX;
  return b % (m->next_id + 2);
}

/* Check one ack in m; returns 0 / ENOTFOUND / ECONFLICT and the time. */
static int model_ack_one(model *m, uint64_t id, int64_t *at) {
  int rc = model_ack_rc(m, id, G.now);
  if (!rc) *at = model_ack_time(m, id, G.now);
  return rc;
}

static void op_ack(fz_in *in, int use_null) {
  int in_txn = G.txn && !use_null;
  model *m = view(in_txn);
  uint64_t id = pick_id(in, m);
  int64_t at = -1, want_at = 0;
  int rc = evs_ack(G.s, in_txn ? G.txn : NULL, id, &at);
  trace("ack%s %llu -> rc %d", in_txn ? " (txn)" : "", (unsigned long long)id, rc);
  int want = G.txn && !in_txn ? EVS_EDEADLK : model_ack_one(m, id, &want_at);
  CHECK_RC(rc, want, "evs_ack");
  if (rc) return;
  CHECK(at == want_at, "ack time %lld, model %lld", (long long)at, (long long)want_at);
  model_ack(m, id, want_at);
  if (in_txn) G.t_wrote = 1;
}

static void op_ack_batch(fz_in *in, int use_null) {
  int in_txn = G.txn && !use_null;
  model *m = view(in_txn);
  size_t n = 1 + fz_pick(in, 6);
  uint64_t ids[6];
  int rcs[6];
  for (size_t i = 0; i < n; i++) ids[i] = pick_id(in, m), rcs[i] = 12345;
  int rc = evs_ack_batch(G.s, in_txn ? G.txn : NULL, ids, n, rcs);
  char idl[160];
  size_t il = 0;
  for (size_t i = 0; i < n; i++)
    il += (size_t)snprintf(idl + il, sizeof idl - il, "%s%llu", i ? "," : "",
                           (unsigned long long)ids[i]);
  trace("ack_batch%s [%s] -> rc %d", in_txn ? " (txn)" : "", idl, rc);
  if (G.txn && !in_txn) {
    CHECK_RC(rc, EVS_EDEADLK, "evs_ack_batch");
    return;
  }
  CHECK_RC(rc, 0, "evs_ack_batch");
  int64_t at = 0;
  int ok[6];
  for (size_t i = 0; i < n; i++) {
    int64_t a = 0;
    int want = model_ack_one(m, ids[i], &a);
    CHECK(rcs[i] == want, "ack_batch item %zu (id %llu): rc %d, model %d", i,
          (unsigned long long)ids[i], rcs[i], want);
    ok[i] = !want;
    if (!want && in_txn) G.t_wrote = 1;
    if (!want) {
      model_ack(m, ids[i], a); /* a repeat later in the batch conflicts */
      if (a > at) at = a;
    }
  }
  /* One record: every item gets the latest time of the batch. */
  for (size_t i = 0; i < n; i++)
    if (ok[i]) model_ack(m, ids[i], at);
}

static void op_delete(fz_in *in, int use_null) {
  int in_txn = G.txn && !use_null;
  model *m = view(in_txn);
  uint64_t id = pick_id(in, m);
  int existed = -1;
  int rc = evs_delete(G.s, in_txn ? G.txn : NULL, id, &existed);
  trace("delete%s %llu -> rc %d existed %d", in_txn ? " (txn)" : "",
        (unsigned long long)id, rc, existed);
  if (G.txn && !in_txn) {
    CHECK_RC(rc, EVS_EDEADLK, "evs_delete");
    return;
  }
  CHECK_RC(rc, 0, "evs_delete");
  int vis = model_delete(m, id, G.now); /* a deleted event's key is forgotten */
  CHECK(existed == vis, "delete %llu: existed %d, model %d", (unsigned long long)id,
        existed, vis);
  if (vis && in_txn) G.t_wrote = 1;
}

static void op_get(fz_in *in, int use_null) {
  int in_txn = G.txn && !use_null;
  model *m = view(in_txn);
  uint64_t id = pick_id(in, m);
  evs_event *e = NULL;
  int rc = evs_get(G.s, in_txn ? G.txn : NULL, id, &e);
  trace("get%s %llu -> rc %d", in_txn ? " (txn)" : "", (unsigned long long)id, rc);
  CHECK_RC(rc, visible(m, id) ? 0 : EVS_ENOTFOUND, "evs_get");
  if (!rc) check_event(e, m, id);
  evs_event_free(e);
}

/* ---- inbox --------------------------------------------------------------- */

static qspec pick_query(fz_in *in) {
  qspec q;
  memset(&q, 0, sizeof q);
  unsigned a = fz_u8(in), b = fz_u8(in), c = fz_u8(in);
  q.status = a % 4 == 3 ? EVS_QUERY_CLAIMABLE : (int)(a % 4);
  q.src = (int)((a >> 2) % NQSRC);
  q.typ = (int)((a >> 5) % NQTYP);
  q.prio = b % 4;
  q.mf = (int)((b >> 2) % NMF);
  q.desc = (b >> 5) & 1;
  q.limit = c % 12; /* small pages; 0 = default 50 */
  if (c & 0x80) q.limit = 100;
  if (b & 0x40) { /* time bounds around now */
    unsigned t = fz_u8(in);
    if (t & 1) q.after = G.now - (int64_t)(t >> 1) * 1000;
    if (t & 2) q.before = G.now - (int64_t)(t >> 3) * 700 + 1;
  }
  if (b & 0x80) { /* id bounds */
    unsigned t = fz_u8(in);
    q.min_id = t & 15;
    q.max_id = (t >> 4) * 3;
  }
  return q;
}

static evs_query to_query(const qspec *s) {
  evs_query q = {.limit = s->limit, .source = QSRC[s->src], .event_type = QTYP[s->typ],
                 .created_after_us = s->after, .created_before_us = s->before,
                 .priority = s->prio, .metadata_key = MF_KEY[s->mf],
                 .metadata_value = MF_VAL[s->mf], .status = s->status,
                 .min_id = s->min_id, .max_id = s->max_id, .descending = s->desc};
  return q;
}

/* Same fingerprint: every field but the limit. */
static int same_filter(const qspec *a, const qspec *b) {
  return a->status == b->status && a->src == b->src && a->typ == b->typ &&
         a->prio == b->prio && a->mf == b->mf && a->desc == b->desc &&
         a->after == b->after && a->before == b->before && a->min_id == b->min_id &&
         a->max_id == b->max_id;
}

static int mf_match(const model_ev *e, const void *arg) {
  return MF_MATCH[e->tag][*(const int *)arg];
}

/* The query in the model's terms: names as the store trims them. */
static model_query to_mquery(const qspec *q) {
  model_query mq;
  memset(&mq, 0, sizeof mq);
  mq.status = q->status;
  int sc = QSRC_CANON[q->src], tc = QTYP_CANON[q->typ];
  mq.source = sc == -2 ? NULL : sc == -1 ? QSRC[q->src] : SRC_CANON[sc];
  mq.type = tc == -2 ? NULL : tc == -1 ? QTYP[q->typ] : TYP_CANON[tc];
  mq.prio = q->prio;
  mq.after = q->after;
  mq.before = q->before;
  mq.min_id = q->min_id;
  mq.max_id = q->max_id;
  mq.desc = q->desc;
  mq.limit = q->limit;
  mq.meta_match = mf_match;
  mq.meta_arg = &q->mf;
  return mq;
}

/* One page of q after `after`; checks it and returns the cursor's id. */
static uint64_t page(const qspec *qs, const char *cursor, uint64_t after, int in_txn,
                     int *more, const char **cur_out) {
  const model *m = view(in_txn);
  evs_query q = to_query(qs);
  q.cursor = cursor;
  int rc = evs_inbox(G.s, in_txn ? G.txn : NULL, &q, &G.pg);
  char b1[64], b2[64];
  trace("inbox%s status %d source %s type %s prio %d mf %d desc %d limit %u after %lld "
        "before %lld ids %llu..%llu cursor %llu -> rc %d, %zu events",
        in_txn ? " (txn)" : "", qs->status, show(QSRC[qs->src], b1, sizeof b1),
        show(QTYP[qs->typ], b2, sizeof b2), qs->prio, qs->mf, qs->desc,
        qs->limit, (long long)qs->after, (long long)qs->before,
        (unsigned long long)qs->min_id, (unsigned long long)qs->max_id,
        (unsigned long long)after, rc, evs_page_count(G.pg));
  CHECK_RC(rc, 0, "evs_inbox");
  model_query mq = to_mquery(qs);
  uint64_t ids[EVS_PAGE_MAX];
  size_t n = model_page(m, &mq, after, G.now, ids, more);
  CHECK(evs_page_count(G.pg) == n, "page has %zu events, model %zu",
        evs_page_count(G.pg), n);
  for (size_t i = 0; i < n; i++) {
    const evs_event *e = evs_page_event(G.pg, i);
    CHECK(e->id == ids[i], "page event %zu is %llu, model %llu", i,
          (unsigned long long)e->id, (unsigned long long)ids[i]);
    check_event(e, m, ids[i]);
  }
  CHECK(evs_page_more(G.pg) == *more, "page more %d, model %d", evs_page_more(G.pg),
        *more);
  uint64_t last = n ? ids[n - 1] : after;
  uint64_t got = 0;
  q.cursor = NULL;
  rc = evs_cursor_parse(G.s, &q, evs_page_cursor(G.pg), &got);
  CHECK(rc == 0 && got == last, "page cursor: rc %d id %llu, model %llu", rc,
        (unsigned long long)got, (unsigned long long)last);
  *cur_out = evs_page_cursor(G.pg);
  return last;
}

static void save_slot(int i, const qspec *q, uint64_t after, const char *cursor) {
  G.slots[i].used = 1;
  G.slots[i].q = *q;
  G.slots[i].after = after;
  snprintf(G.slots[i].cursor, sizeof G.slots[i].cursor, "%s", cursor);
}

static void op_inbox(fz_in *in, int use_null) {
  qspec q = pick_query(in);
  int in_txn = G.txn && !use_null, more;
  const char *cur;
  uint64_t last = page(&q, NULL, 0, in_txn, &more, &cur);
  save_slot(fz_pick(in, NSLOT), &q, last, cur);
}

static void op_next(fz_in *in, int use_null) {
  slot *sl = &G.slots[fz_pick(in, NSLOT)];
  if (!sl->used) return;
  unsigned how = fz_u8(in);
  int in_txn = G.txn && !use_null, more;
  qspec q = sl->q;
  if (how % 4 == 0) q = pick_query(in);  /* maybe another filter */
  if (how % 4 == 1) q.limit = fz_u8(in) % 12; /* the limit may change */
  if (!same_filter(&q, &sl->q)) {
    evs_query eq = to_query(&q);
    eq.cursor = sl->cursor;
    int rc = evs_inbox(G.s, in_txn ? G.txn : NULL, &eq, &G.pg);
    CHECK_RC(rc, EVS_ECURSOR, "evs_inbox with another filter's cursor");
    return;
  }
  const char *cur;
  uint64_t last = page(&q, sl->cursor, sl->after, in_txn, &more, &cur);
  save_slot((int)(sl - G.slots), &q, last, cur);
}

/* Every page of a filter: each event once, all of the model's. */
static void op_walk(fz_in *in, int use_null) {
  qspec q = pick_query(in);
  if (!q.limit) q.limit = 1 + fz_pick(in, 10);
  int in_txn = G.txn && !use_null, more = 1;
  char cur[EVS_CURSOR_SIZE] = "";
  const char *c;
  uint64_t after = 0;
  for (int pages = 0; more; pages++) {
    CHECK(pages <= MAXEV + 1, "walk does not end");
    after = page(&q, pages ? cur : NULL, after, in_txn, &more, &c);
    snprintf(cur, sizeof cur, "%s", c);
  }
}

/* ---- consumers ------------------------------------------------------------- */

static const char *const CONSUMER[] = {"c1", "c2", " c1 "}; /* stored trimmed */
static const char *const CONSUMER_CANON[] = {"c1", "c2", "c1"};

static int64_t pick_lease(fz_in *in) {
  unsigned k = fz_u8(in);
  switch (k % 4) {
  case 0: return 0; /* the default, 30 s */
  case 1: return 1 + (int64_t)(k >> 2);
  case 2: return (int64_t)(k >> 2) * 100;
  default: return (int64_t)(k >> 2) * 10000;
  }
}

/* Claims and settles go around any transaction: EVS_EDEADLK while one is
** open on this thread, and nothing changes. */
static void op_lease(fz_in *in) {
  unsigned k = fz_u8(in);
  model *m = &G.C;
  int rc;
  if (k % 8 < 3) { /* claim */
    qspec qs = pick_query(in);
    qs.status = 0;
    qs.desc = 0;
    qs.min_id = qs.max_id = 0; /* kept simple: filters on names, prio, time */
    unsigned ci = fz_pick(in, 3);
    int64_t lease = pick_lease(in);
    evs_query q = to_query(&qs);
    rc = evs_claim(G.s, &q, CONSUMER[ci], lease, &G.pg);
    trace("claim by %s lease %lld limit %u -> rc %d, %zu events", CONSUMER[ci],
          (long long)lease, qs.limit, rc, rc ? 0 : evs_page_count(G.pg));
    if (G.txn) {
      CHECK_RC(rc, EVS_EDEADLK, "evs_claim in a transaction");
      return;
    }
    CHECK_RC(rc, 0, "evs_claim");
    G.fmt = 1;
    model_query mq = to_mquery(&qs);
    uint64_t ids[EVS_PAGE_MAX];
    size_t n = model_claim(m, &mq, CONSUMER_CANON[ci], lease, G.now, ids);
    CHECK(evs_page_count(G.pg) == n, "claim got %zu events, model %zu", evs_page_count(G.pg),
          n);
    for (size_t i = 0; i < n; i++) {
      const evs_event *e = evs_page_event(G.pg, i);
      CHECK(e->id == ids[i], "claimed event %zu is %llu, model %llu", i,
            (unsigned long long)e->id, (unsigned long long)ids[i]);
      check_event(e, m, ids[i]);
    }
    return;
  }
  if (k % 8 < 7) { /* settle */
    uint64_t id = pick_id(in, m);
    unsigned t = fz_u8(in);
    const model_ev *x = model_get(m, id);
    uint64_t tok = x ? x->token : 0;
    if (t % 8 == 0 && tok) tok--;
    else if (t % 8 == 1) tok = m->lease_seq + 1;
    else if (t % 8 == 2) tok = 0;
    int what = (int)((t >> 3) % 4), want = G.txn ? EVS_EDEADLK : model_hold_rc(m, id, tok, G.now);
    int64_t arg = 0, out = -1;
    static const char *const NAME[] = {"ack_lease", "renew", "release", "reject"};
    if (what == 0) rc = evs_ack_lease(G.s, id, tok, &out);
    else if (what == 1) rc = evs_renew(G.s, id, tok, arg = pick_lease(in), &out);
    else if (what == 2) rc = evs_release(G.s, id, tok, arg = (t >> 5) ? pick_lease(in) : 0);
    else rc = evs_reject(G.s, id, tok);
    trace("%s %llu token %llu arg %lld -> rc %d", NAME[what], (unsigned long long)id,
          (unsigned long long)tok, (long long)arg, rc);
    CHECK_RC(rc, want, NAME[what]);
    if (!G.txn && what) G.fmt = 1; /* renew, release, reject start the format */
    if (rc) return;
    if (what == 0) {
      int64_t at = model_ack_time(m, id, G.now);
      CHECK(out == at, "ack_lease time %lld, model %lld", (long long)out, (long long)at);
      model_ack(m, id, at);
    } else if (what == 1) {
      int64_t ex = model_renew(m, id, arg, G.now);
      CHECK(out == ex, "renew until %lld, model %lld", (long long)out, (long long)ex);
    } else if (what == 2) {
      model_release(m, id, arg, G.now);
    } else {
      model_reject(m, id);
    }
    return;
  }
  /* redrive, then the dead and leased lists walked */
  qspec qs = pick_query(in);
  qs.status = 0;
  qs.desc = 0;
  qs.limit = 0;
  evs_query q = to_query(&qs);
  uint64_t cnt = 12345;
  rc = evs_redrive(G.s, &q, &cnt);
  trace("redrive -> rc %d count %llu", rc, (unsigned long long)cnt);
  if (G.txn) {
    CHECK_RC(rc, EVS_EDEADLK, "evs_redrive in a transaction");
    return;
  }
  CHECK_RC(rc, 0, "evs_redrive");
  G.fmt = 1;
  model_query mq = to_mquery(&qs);
  uint64_t wc = model_redrive(m, &mq, G.now);
  CHECK(cnt == wc, "redrive count %llu, model %llu", (unsigned long long)cnt,
        (unsigned long long)wc);
  for (int st = EVS_QUERY_LEASED; st <= EVS_QUERY_DEAD; st++) {
    qspec w;
    memset(&w, 0, sizeof w);
    w.status = st;
    w.limit = 7;
    int more = 1;
    char cur[EVS_CURSOR_SIZE] = "";
    const char *c;
    uint64_t after = 0;
    for (int pages = 0; more; pages++) {
      CHECK(pages <= MAXEV + 1, "walk does not end");
      after = page(&w, pages ? cur : NULL, after, 0, &more, &c);
      snprintf(cur, sizeof cur, "%s", c);
    }
  }
}

/* ---- transactions -------------------------------------------------------- */

static void op_txn(fz_in *in) {
  unsigned k = fz_u8(in) % 8;
  int rc;
  if (!G.txn) {
    if (k == 7) { /* calls without a transaction */
      CHECK_RC(evs_txn_commit(NULL), EVS_EMISUSE, "evs_txn_commit(NULL)");
      CHECK_RC(evs_txn_savepoint(NULL, 0), EVS_EMISUSE, "evs_txn_savepoint(NULL)");
      return;
    }
    rc = evs_txn_begin(G.s, &G.txn);
    trace("begin -> rc %d", rc);
    CHECK_RC(rc, 0, "evs_txn_begin");
    model_copy(&G.W, &G.C);
    G.nmarks = 0;
    G.t_wrote = 0;
    return;
  }
  if (k < 3) {
    rc = evs_txn_commit(G.txn);
    trace("commit -> rc %d", rc);
    G.txn = NULL;
    CHECK_RC(rc, 0, "evs_txn_commit");
    model_copy(&G.C, &G.W);
  } else if (k < 5) {
    rc = evs_txn_rollback(G.txn);
    trace("rollback -> rc %d", rc);
    G.txn = NULL;
    CHECK_RC(rc, 0, "evs_txn_rollback");
  } else if (k == 5) {
    evs_txn *t2 = NULL;
    rc = evs_txn_begin(G.s, &t2);
    CHECK_RC(rc, EVS_EDEADLK, "a second evs_txn_begin");
    CHECK(!t2, "a second transaction handle");
  } else {
    CHECK_RC(evs_verify(G.s, NULL), EVS_EDEADLK, "evs_verify inside a transaction");
  }
}

/* Savepoints, numbered from 0 like SQLite's, must stay nested: a level
** never marks an earlier state than a level below it. The model:
**  - savepoint(n) marks the present state at n. Levels it skips are
**    "never opened": with no savepoint open they are the transaction's
**    start (as when SQLite brings a table into a transaction at level n);
**    with savepoints open they are the present state (the start would
**    break nesting: rolling back to it would leave the open levels below
**    marking states that no longer exist).
**  - rollback_to(n) of an open level returns to its state; n stays open,
**    levels above it close. A level never opened: with none open, the
**    start; with some open, either refused (EVS_EMISUSE / EVS_EINVAL,
**    nothing changes) or the start with every savepoint closed.
**  - release(n) closes n and above. */
static void op_savepoint(fz_in *in) {
  if (!G.txn) return;
  unsigned k = fz_u8(in);
  int n = (int)((k >> 2) % 6), rc;
  switch (k % 4) {
  case 0:
  case 1: {
    rc = evs_txn_savepoint(G.txn, n);
    trace("savepoint %d (%d open) -> rc %d", n, G.nmarks, rc);
    CHECK_RC(rc, 0, "evs_txn_savepoint");
    const model *fill = G.nmarks ? &G.W : &G.C;
    for (int i = G.nmarks; i < n; i++) model_copy(&G.marks[i], fill);
    model_copy(&G.marks[n], &G.W);
    G.nmarks = n + 1;
    break;
  }
  case 2:
    rc = evs_txn_rollback_to(G.txn, n);
    trace("rollback_to %d (%d open) -> rc %d", n, G.nmarks, rc);
    if (rc == 0 && G.t_wrote == 1) G.t_wrote = -1;
    if (n < G.nmarks) {
      CHECK_RC(rc, 0, "evs_txn_rollback_to");
      model_copy(&G.W, &G.marks[n]);
      G.nmarks = n + 1;
    } else if (rc == 0 || !G.nmarks) {
      CHECK_RC(rc, 0, "evs_txn_rollback_to (a level never opened)");
      model_copy(&G.W, &G.C);
      G.nmarks = 0;
    } else {
      CHECK(rc == EVS_EMISUSE || rc == EVS_EINVAL,
            "evs_txn_rollback_to(%d) with %d open returned %d", n, G.nmarks, rc);
    }
    break;
  default:
    rc = evs_txn_release(G.txn, n);
    trace("release %d (%d open) -> rc %d", n, G.nmarks, rc);
    CHECK_RC(rc, 0, "evs_txn_release");
    if (n < G.nmarks) G.nmarks = n;
    break;
  }
}

/* ---- whole-store checks ---------------------------------------------------- */

static void check_stats(void) {
  evs_stats st;
  CHECK(!evs_stats_get(G.s, &st), "stats: %s", evs_errmsg(G.s));
  model_counts mc = model_count(&G.C, G.now);
  uint64_t pend = mc.pending, ack = mc.acknowledged;
  int64_t oldest = mc.oldest_pending;
  CHECK(st.next_id == G.C.next_id, "stats next_id %llu, model %llu",
        (unsigned long long)st.next_id, (unsigned long long)G.C.next_id);
  CHECK(st.pending == pend && st.acknowledged == ack,
        "stats %llu pending %llu acked, model %llu/%llu", (unsigned long long)st.pending,
        (unsigned long long)st.acknowledged, (unsigned long long)pend,
        (unsigned long long)ack);
  CHECK(st.oldest_pending_us == oldest, "stats oldest pending %lld, model %lld",
        (long long)st.oldest_pending_us, (long long)oldest);
  CHECK(st.leased == mc.leased && st.dead == mc.dead, "stats %llu leased %llu dead, model %llu/%llu",
        (unsigned long long)st.leased, (unsigned long long)st.dead,
        (unsigned long long)mc.leased, (unsigned long long)mc.dead);
  /* The JSON the CLI and SQL print: valid, and with the model's count. */
  char json[EVS_STATS_JSON_SIZE], want[48];
  CHECK(!evs_stats_json(G.s, json, sizeof json), "stats json: %s", evs_errmsg(G.s));
  size_t at = 0;
  const char *why = NULL;
  int incomplete = 0;
  CHECK(!evs_json_check(json, strlen(json), &at, &why, &incomplete),
        "stats json invalid at %zu: %s", at, why ? why : "");
  snprintf(want, sizeof want, "\"pending\":%llu,", (unsigned long long)pend);
  CHECK(strstr(json, want) != NULL, "stats json %s lacks %s", json, want);
}

static void check_all(void) {
  for (uint64_t id = 0; id <= G.C.next_id; id++) {
    evs_event *e = NULL;
    int rc = evs_get(G.s, NULL, id, &e);
    CHECK_RC(rc, visible(&G.C, id) ? 0 : EVS_ENOTFOUND, "evs_get (full check)");
    if (!rc) check_event(e, &G.C, id);
    evs_event_free(e);
  }
  check_stats();
}

static int open_store(void) {
  return evs_store_open(G.dir_store ? G.dir : NULL, &G.opt, &G.s);
}

static void op_reopen(void) {
  trace("reopen");
  if (G.txn) { /* close rolls it back */
    G.txn = NULL;
  }
  evs_page_free(G.pg);
  G.pg = NULL;
  CHECK(!evs_store_close(G.s), "close: %s", evs_errmsg(NULL));
  G.s = NULL;
  model_reopen(&G.C);
  CHECK(!open_store(), "reopen: %s", evs_errmsg(NULL));
  evs_stats st;
  CHECK(!evs_stats_get(G.s, &st) && !st.recovered_bytes_dropped &&
            !st.recovered_records_dropped,
        "reopen after a clean close recovered %llu bytes",
        (unsigned long long)st.recovered_bytes_dropped);
  check_all();
}

static void op_clock(fz_in *in) {
  unsigned k = fz_u8(in);
  int64_t was = G.now;
  switch (k % 8) {
  case 0: case 1: case 2: G.now += (int64_t)(k >> 3) * 10; break;
  case 3: case 4: G.now += (int64_t)(k >> 3) * 1000; break;
  case 5: G.now -= (int64_t)(k >> 3) * 100; break; /* backwards */
  case 6: if (G.retention > 0) G.now += G.retention + (k >> 3); break;
  default: if (G.window > 0) G.now += G.window - 16 + (k >> 3); break;
  }
  trace("clock %+lld us", (long long)(G.now - was));
}

/* ---- driver ---------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  init_tables();
  return 0;
}

static void configure(unsigned cfg) {
  memset(&G.opt, 0, sizeof G.opt);
  G.dir_store = (cfg & 7) == 7; /* one run in 8 on disk */
  static const int64_t ret[4] = {-1, 20000, 200000, -1};
  static const int64_t win[4] = {0, 3000, 30000, -1};
  G.opt.retention_us = ret[(cfg >> 3) & 3];
  G.opt.idempotency_window_us = win[(cfg >> 5) & 3];
  G.opt.compress_threshold = cfg & 0x80 ? 64 : 0;
  G.opt.max_payload = 4096;
  G.opt.segment_size = cfg & 0x01 ? 4096 : 0;
  G.opt.sync = EVS_SYNC_OFF;
  G.opt.auto_compact_percent = -1; /* the model keeps acknowledged events */
  G.opt.clock = fz_clock;
  G.opt.clock_arg = &G.now;
  G.opt.max_deliveries = 0;
  G.retention = G.opt.retention_us;
  G.window = G.opt.idempotency_window_us ? G.opt.idempotency_window_us
                                         : 86400LL * 1000000;
  G.skip_json = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  unsigned cfg = fz_u8(&in), cfg2 = fz_u8(&in);
  configure(cfg);
  G.skip_json = G.opt.skip_json_validation = (cfg2 & 1);
  G.opt.max_deliveries = (cfg2 >> 1) & 3 ? (cfg2 >> 1) & 3 : 0; /* 0: the default, 5 */
  G.opno = 0;
  trace("store: %s, retention %lld, window %lld, segment %u, compress %u, skip_json %d",
        G.dir_store ? "dir" : "memory", (long long)G.retention, (long long)G.window,
        G.opt.segment_size, G.opt.compress_threshold, G.skip_json);
  if (G.dir_store) {
    snprintf(G.dir, sizeof G.dir, "%s/ops", fz_scratch());
    fz_clean_dir(G.dir);
  }
  G.now = T0;
  model_free(&G.C);
  model_init(&G.C, G.opt.retention_us, G.opt.idempotency_window_us);
  G.C.reserves = G.dir_store; /* sync OFF */
  model_set_max_deliveries(&G.C, G.opt.max_deliveries);
  memset(G.slots, 0, sizeof G.slots);
  G.txn = NULL;
  G.pg = NULL;
  G.nmarks = 0;
  G.opno = 0;
  G.fmt = 0; /* a new store */
  G.t_wrote = 0;
  if (open_store()) abort();

  while (in.n && G.opno < 400) {
    G.opno++;
    unsigned op = fz_u8(&in);
    int use_null = (op & 0x80) != 0; /* autocommit call even inside a txn */
    switch (op & 0x7f) {
    case 0 ... 19: op_append(&in, use_null); break;
    case 20 ... 27: op_batch(&in, use_null); break;
    case 28 ... 39: op_ack(&in, use_null); break;
    case 40 ... 45: op_ack_batch(&in, use_null); break;
    case 46 ... 53: op_delete(&in, use_null); break;
    case 54 ... 61: op_get(&in, use_null); break;
    case 62 ... 73: op_inbox(&in, use_null); break;
    case 74 ... 83: op_next(&in, use_null); break;
    case 84 ... 87: op_walk(&in, use_null); break;
    case 88 ... 97: op_txn(&in); break;
    case 98 ... 105: op_savepoint(&in); break;
    case 106 ... 117: op_clock(&in); break;
    case 118 ... 120: check_stats(); break;
    case 121 ... 122:
      if (!G.txn) CHECK_RC(evs_verify(G.s, NULL), 0, "evs_verify");
      break;
    default: /* a memory store cannot reopen; on disk, the high bit */
      if (G.dir_store && !use_null) op_reopen();
      else op_lease(&in);
      break;
    }
  }
  /* Finish: roll back an open transaction, then everything must agree. */
  G.opno++;
  trace("final check");
  if (G.txn) {
    CHECK_RC(evs_txn_rollback(G.txn), 0, "evs_txn_rollback");
    G.txn = NULL;
  }
  check_all();
  CHECK_RC(evs_verify(G.s, NULL), 0, "evs_verify (final)");
  evs_page_free(G.pg);
  G.pg = NULL;
  CHECK(!evs_store_close(G.s), "close: %s", evs_errmsg(NULL));
  G.s = NULL;
  if (G.dir_store) fz_clean_dir(G.dir);
  return 0;
}
