/*
** test_consumers.c: many consumers on one store, on the real clock.
**
** t_threads: 8 threads claim events with short leases (50-200 ms) and
** ack them with their tokens, release them (now or after a delay), renew,
** reject, hold them past their lease, or "crash" (drop a whole page
** without settling). Each thread checks what it can see, and a per-event
** record (under a striped lock) catches what only the union of threads
** sees:
**  - every event is acknowledged at most once, by evs_ack_lease returning 0
**    to a holder of the token whose lease had not certainly run out;
**  - no event is claimed while another lease on it certainly still held
**    (its lease_expires_us, minus a clock margin, after the claim returned,
**    and its holder had not started settling it);
**  - tokens of an event only grow, delivery counts only grow and never
**    pass max_deliveries;
**  - a holder's settle is not refused as stale while its lease certainly
**    still held;
**  - at the end every event is acknowledged or dead (never both), dead
**    ones had max_deliveries deliveries or were rejected, stats add up to
**    N, evs_verify passes, and all of it reads the same after a reopen.
** Ordering keys: about 30% of the events carry one of 400 keys (event 1
** always: the store's first keyed event must begin its transaction, here
** a batch). Per key, under its own lock:
**  - no event of a key is claimed while a lease on another event of the
**    key certainly still held (as for one event above: its expiry minus
**    the margin, or when its holder started settling it);
**  - events of a key are delivered in id order: sorted by token (the
**    claim order), each key's claims never go back to a lower id. With no
**    redrive, an event of the key that is acknowledged or dead never comes
**    back, so a later event claimed while an earlier one was still
**    pending, leased or delayed shows up as the earlier one claimed after
**    it (it has to be claimed to be acknowledged, rejected or to die).
** N = 100000 (50000 under TSan); EVS_CONSUMERS_N sets it. The run is
** mostly waiting for leases to run out: ~6 s plain, ~7 s under ASan, ~5 s under TSan.
**
** t_crash: a child process claims and settles in a loop and is SIGKILLed
** at random moments; it reports what it saw over a pipe (one fixed-size
** record per observation, written after the call returned). After each
** kill the parent reopens the store and checks delivery counts never went
** down, tokens only grow from one life of the child to the next, an acknowledged event is never claimable, and every event that is
** neither acknowledged nor dead comes back once its lease time passed
** (checked by reopening with a clock 13 h ahead, past any lease or delay,
** and at the end by claiming on the real clock). N/5 events, 25 kills
** (EVS_CRASH_ROUNDS). `test_consumers t_crash` runs one test only.
** Its events carry ordering keys as t_threads' do, and across the kills
** (leases outlive the child that took them): no two leases of a key
** certainly held at once (the child reports each claim's time, and each
** settle's start before the call, so one in flight at the kill counts as
** settled from then on), each key's claims in id order, and 13 h ahead
** the claimable events are exactly the first pending event of each key
** and the pending events without one.
*/
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "testlib.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#endif

#define NTHREADS 8
#define MAXDEL 3
#define MS INT64_C(1000)
/* The library and the test read the same CLOCK_REALTIME; the margin only
** covers the microsecond rounding and a clock step. */
#define MARGIN (2 * MS)

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
  if (us <= 0) return;
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= UINT64_C(0x94d049bb133111eb);
  x ^= x >> 31;
  return x;
}

static uint64_t rnd(uint64_t *st) { return mix64(*st += UINT64_C(0x9e3779b97f4a7c15)); }

/* ---- ordering keys (both tests) ------------------------------------------ */

#define NKEYS 400
static char keyname[NKEYS][16];

/* The key of event id, -1 for none: about 30% of the events, and event 1,
** so the store's first keyed event begins its transaction (a batch's
** first item). */
static int key_of(uint64_t id) {
  if (id == 1) return 0;
  uint64_t h = mix64(id * UINT64_C(0x2545f4914f6cdd1d) + 7);
  return h % 100 < 30 ? (int)((h >> 32) % NKEYS) : -1;
}

static void keys_init(void) {
  for (int k = 0; k < NKEYS; k++) snprintf(keyname[k], sizeof keyname[k], "key-%d", k);
}

/* Events of batch [first, first + n) with their keys. */
static void set_keys(evs_event_in *ev, uint64_t first, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int k = key_of(first + i);
    ev[i].ordering_key = k < 0 ? NULL : keyname[k];
  }
}

/* One key's latest lease as the claimers saw it. */
typedef struct krec {
  uint64_t token, id;
  int64_t expires;    /* its lease_expires_us (renewals move it) */
  int64_t settle_at;  /* when its holder started settling it; 0: not */
  int64_t claimed_at; /* the claim call had returned by then */
} krec;

/* A claim of event id (key k) with token, the call returned by tb1 and
** its lease running to expires, against the key's latest lease *kr: the
** two must not certainly overlap. Returns 1 on a violation, with why. */
static int key_claim(krec *kr, uint64_t id, uint64_t token, int64_t expires, int64_t tb1,
                     char *why, size_t cap) {
  int bad = 0;
  if (token > kr->token) {
    if (kr->token) {
      int64_t end = kr->expires - MARGIN;
      if (kr->settle_at && kr->settle_at < end) end = kr->settle_at;
      if (tb1 < end) {
        snprintf(why, cap,
                 "event %llu claimed (token %llu) at <= %lld while event %llu's lease (token "
                 "%llu) held until %lld",
                 (unsigned long long)id, (unsigned long long)token, (long long)tb1,
                 (unsigned long long)kr->id, (unsigned long long)kr->token, (long long)end);
        bad = 1;
      }
    }
    *kr = (krec){token, id, expires, 0, tb1};
  } else if (token < kr->token) {
    /* Recorded late: the key's later claim (kr) happened by kr->claimed_at,
    ** while this lease, not settled yet (its holder settles after
    ** recording), certainly held until expires - MARGIN. */
    if (kr->claimed_at < expires - MARGIN) {
      snprintf(why, cap,
               "event %llu claimed (token %llu) at <= %lld while event %llu's earlier lease "
               "(token %llu) held until %lld",
               (unsigned long long)kr->id, (unsigned long long)kr->token,
               (long long)kr->claimed_at, (unsigned long long)id, (unsigned long long)token,
               (long long)(expires - MARGIN));
      bad = 1;
    }
  }
  return bad;
}

/* A settle of the lease with token starting at t0 ends it from then on. */
static void key_settle(krec *kr, uint64_t token, int64_t t0) {
  if (kr->token == token && !kr->settle_at) kr->settle_at = t0;
}

typedef struct kclaim {
  uint64_t token, id;
} kclaim;

static int kclaim_cmp(const void *a, const void *b) {
  const kclaim *x = a, *y = b;
  return x->token < y->token ? -1 : x->token > y->token;
}

/* Sort claims of keyed events by token and check each key's ids never go
** down; returns the number of inversions (the first few printed). */
static long key_order_check(kclaim *c, long n, const char *when) {
  qsort(c, (size_t)n, sizeof *c, kclaim_cmp);
  static uint64_t last[NKEYS];
  memset(last, 0, sizeof last);
  long bad = 0;
  for (long i = 0; i < n; i++) {
    int k = key_of(c[i].id);
    if (i && c[i].token == c[i - 1].token) {
      if (bad++ < 10)
        fprintf(stderr, "  %s: token %llu delivered twice\n", when,
                (unsigned long long)c[i].token);
    }
    if (c[i].id < last[k] && bad++ < 10)
      fprintf(stderr, "  %s: key %d: event %llu claimed (token %llu) after event %llu\n", when,
              k, (unsigned long long)c[i].id, (unsigned long long)c[i].token,
              (unsigned long long)last[k]);
    if (c[i].id > last[k]) last[k] = c[i].id;
  }
  return bad;
}

static long env_n(long dflt) {
  const char *e = getenv("EVS_CONSUMERS_N");
  long n = e ? atol(e) : 0;
  return n > 0 ? n : dflt;
}

/* ---- t_threads ---------------------------------------------------------- */

typedef struct rec {
  uint64_t token;     /* latest delivery seen (0: none) */
  int64_t expires;    /* its lease_expires_us (renewals move it) */
  int64_t settle_at;  /* when its holder started settling it; 0: not */
  uint32_t count;     /* its delivery_count */
  int holder;         /* thread */
} rec;

#define STRIPES 1024
static pthread_mutex_t stripe[STRIPES];
static rec *recs;
static _Atomic int *acks, *rejects;
static _Atomic long n_violation, n_claims, n_acks, n_stale, n_release, n_expire, n_crash,
    n_reject, n_renew, n_late, n_errors;
static long N;
static evs_store *S;
static atomic_int stop_all;
/* Ordering keys: each key's latest lease under its lock; every claim of a
** keyed event logged for the order check at the end. */
static krec krecs[NKEYS];
static pthread_mutex_t kmu[NKEYS];
static kclaim *klog;
static long klog_cap;
static _Atomic long klog_n, n_key_claims, n_key_late;

#define VIOL(...)                                                          \
  do {                                                                     \
    if (atomic_fetch_add(&n_violation, 1) < 20) fprintf(stderr, "  " __VA_ARGS__); \
  } while (0)

static void lock_id(uint64_t id) { pthread_mutex_lock(&stripe[id % STRIPES]); }
static void unlock_id(uint64_t id) { pthread_mutex_unlock(&stripe[id % STRIPES]); }

/* Record a delivery; tb0/tb1: the claim call's start and end. */
static void on_claim(int th, const evs_event *e, int64_t lease, int64_t tb0, int64_t tb1) {
  uint64_t id = e->id;
  if (id < 1 || id > (uint64_t)N) {
    VIOL("claim returned id %llu outside 1..%ld\n", (unsigned long long)id, N);
    return;
  }
  if (e->status != EVS_STATUS_LEASED || !e->leased_by || e->lease_token == 0)
    VIOL("claimed event %llu: status %d token %llu\n", (unsigned long long)id, e->status,
         (unsigned long long)e->lease_token);
  if (e->lease_expires_us < tb0 + lease - MARGIN || e->lease_expires_us > tb1 + lease + MARGIN)
    VIOL("event %llu: lease_expires_us %lld not within the claim's time + lease\n",
         (unsigned long long)id, (long long)e->lease_expires_us);
  if (e->delivery_count < 1 || e->delivery_count > MAXDEL)
    VIOL("event %llu: delivery_count %u\n", (unsigned long long)id, e->delivery_count);
  if (atomic_load(&acks[id]))
    VIOL("event %llu claimed after it was acknowledged\n", (unsigned long long)id);
  lock_id(id);
  rec *r = &recs[id];
  if (e->lease_token > r->token) {
    if (r->token) {
      /* The previous lease held until min(expires, its settle). The claim
      ** happened at most at tb1: certainly inside it if tb1 is before
      ** both, with a margin. */
      int64_t end = r->expires - MARGIN;
      if (r->settle_at && r->settle_at < end) end = r->settle_at;
      if (tb1 < end)
        VIOL("event %llu claimed by thread %d (token %llu) at <= %lld while thread %d's "
             "lease (token %llu) held until %lld\n",
             (unsigned long long)id, th, (unsigned long long)e->lease_token, (long long)tb1,
             r->holder, (unsigned long long)r->token, (long long)end);
      if (e->delivery_count <= r->count)
        VIOL("event %llu: delivery_count %u after %u\n", (unsigned long long)id,
             e->delivery_count, r->count);
    }
    r->token = e->lease_token;
    r->expires = e->lease_expires_us;
    r->settle_at = 0;
    r->count = e->delivery_count;
    r->holder = th;
  } else if (e->lease_token == r->token) {
    VIOL("event %llu: token %llu delivered twice\n", (unsigned long long)id,
         (unsigned long long)e->lease_token);
  } else {
    /* An older delivery recorded late (this thread was preempted between
    ** the claim's return and here): its count must be below. */
    atomic_fetch_add(&n_late, 1);
    if (e->delivery_count >= r->count)
      VIOL("event %llu: older token %llu has count %u >= %u\n", (unsigned long long)id,
           (unsigned long long)e->lease_token, e->delivery_count, r->count);
  }
  unlock_id(id);
  int k = key_of(id);
  if (k < 0) return;
  atomic_fetch_add(&n_key_claims, 1);
  long at = atomic_fetch_add(&klog_n, 1);
  if (at < klog_cap) klog[at] = (kclaim){e->lease_token, id};
  char why[300];
  pthread_mutex_lock(&kmu[k]);
  if (e->lease_token < krecs[k].token) atomic_fetch_add(&n_key_late, 1);
  int bad = key_claim(&krecs[k], id, e->lease_token, e->lease_expires_us, tb1, why, sizeof why);
  pthread_mutex_unlock(&kmu[k]);
  if (bad) VIOL("key %d (thread %d): %s\n", k, th, why);
}

typedef struct held {
  uint64_t id, token;
  int64_t expires;
} held;

enum { OP_ACK, OP_RELEASE, OP_RELEASE_DELAY, OP_REJECT, OP_RENEW_ACK, OP_EXPIRE, OP_SLOW_ACK };

/* Settle one held lease with op; the stripe lock is held across the call
** so no claim of the id is recorded meanwhile. */
static void settle(int th, held *h, int op, uint64_t *rs) {
  uint64_t id = h->id;
  lock_id(id);
  rec *r = &recs[id];
  int64_t t0 = now_us();
  int mine = r->token == h->token;
  if (mine && op != OP_RENEW_ACK && !r->settle_at) r->settle_at = t0;
  int k = key_of(id); /* its key's lease ends with it too */
  if (k >= 0 && op != OP_RENEW_ACK) {
    pthread_mutex_lock(&kmu[k]);
    key_settle(&krecs[k], h->token, t0);
    pthread_mutex_unlock(&kmu[k]);
  }
  int rc = 0;
  const char *what = "";
  switch (op) {
  case OP_ACK:
  case OP_SLOW_ACK:
    what = "ack_lease";
    rc = evs_ack_lease(S, id, h->token, NULL);
    break;
  case OP_RELEASE:
    what = "release";
    rc = evs_release(S, id, h->token, 0);
    if (!rc) atomic_fetch_add(&n_release, 1);
    break;
  case OP_RELEASE_DELAY:
    what = "release(delay)";
    rc = evs_release(S, id, h->token, (int64_t)(rnd(rs) % 50) * MS);
    if (!rc) atomic_fetch_add(&n_release, 1);
    break;
  case OP_REJECT:
    what = "reject";
    rc = evs_reject(S, id, h->token);
    if (!rc) {
      atomic_fetch_add(&n_reject, 1);
      atomic_fetch_add(&rejects[id], 1);
    }
    break;
  case OP_RENEW_ACK: {
    what = "renew";
    int64_t ex = 0;
    rc = evs_renew(S, id, h->token, 100 * MS, &ex);
    if (!rc) {
      atomic_fetch_add(&n_renew, 1);
      if (ex < t0 + 100 * MS - MARGIN || ex > now_us() + 100 * MS + MARGIN)
        VIOL("event %llu: renewed to %lld, not now + 100 ms\n", (unsigned long long)id,
             (long long)ex);
      h->expires = ex;
      if (mine) r->expires = ex;
      r->settle_at = 0;
      int64_t t1 = now_us();
      if (mine) r->settle_at = t1;
      if (k >= 0) {
        pthread_mutex_lock(&kmu[k]);
        if (krecs[k].token == h->token) krecs[k].expires = ex;
        key_settle(&krecs[k], h->token, t1);
        pthread_mutex_unlock(&kmu[k]);
      }
      what = "ack_lease after renew";
      t0 = t1;
      rc = evs_ack_lease(S, id, h->token, NULL);
      op = OP_ACK;
    }
    break;
  }
  }
  int64_t t1 = now_us();
  if (rc == 0) {
    if (t0 > h->expires + MARGIN)
      VIOL("event %llu: %s with token %llu succeeded at >= %lld, after its lease ran out at "
           "%lld\n",
           (unsigned long long)id, what, (unsigned long long)h->token, (long long)t0,
           (long long)h->expires);
    if (op == OP_ACK || op == OP_SLOW_ACK) {
      atomic_fetch_add(&n_acks, 1);
      if (atomic_fetch_add(&acks[id], 1) != 0)
        VIOL("event %llu acknowledged twice (thread %d, token %llu)\n", (unsigned long long)id,
             th, (unsigned long long)h->token);
    }
  } else if (rc == EVS_ESTALE || (rc == EVS_ECONFLICT && atomic_load(&acks[id]))) {
    /* ECONFLICT: the lease ran out and another consumer acknowledged it
    ** (its ack and count happened under this stripe lock). */
    atomic_fetch_add(&n_stale, 1);
    /* Only this thread settles its own lease: stale while it certainly
    ** still held is wrong. */
    if (t1 < h->expires - MARGIN)
      VIOL("event %llu: %s with token %llu stale at <= %lld, its lease held until %lld\n",
           (unsigned long long)id, what, (unsigned long long)h->token, (long long)t1,
           (long long)h->expires);
  } else {
    atomic_fetch_add(&n_errors, 1);
    VIOL("event %llu: %s: rc %d: %s\n", (unsigned long long)id, what, rc, evs_errmsg(S));
  }
  unlock_id(id);
}

static void *worker(void *arg) {
  int th = (int)(intptr_t)arg;
  uint64_t rs = UINT64_C(0x1234567) * (uint64_t)(th + 1);
  char name[32];
  snprintf(name, sizeof name, "consumer-%d", th);
  evs_page *pg = NULL;
  held h[100];
  int64_t deadline = now_us() + 120 * SEC;
  while (!atomic_load(&stop_all)) {
    if (now_us() > deadline) {
      VIOL("thread %d: still running after 120 s\n", th);
      break;
    }
    evs_query q = {0};
    q.limit = 1 + (unsigned)(rnd(&rs) % 32);
    int64_t lease = (50 + (int64_t)(rnd(&rs) % 151)) * MS;
    int64_t tb0 = now_us();
    int rc = evs_claim(S, &q, name, lease, &pg);
    int64_t tb1 = now_us();
    if (rc) {
      atomic_fetch_add(&n_errors, 1);
      VIOL("thread %d: claim: rc %d: %s\n", th, rc, evs_errmsg(S));
      break;
    }
    size_t n = evs_page_count(pg);
    if (!n) {
      evs_stats st;
      memset(&st, 0, sizeof st);
      if (evs_stats_get(S, &st) == 0 && st.pending == 0 && st.leased == 0 &&
          st.delayed == 0) {
        /* Nothing pending, held or delayed: but a lease that ran out may
        ** not be counted back yet; claim once more before stopping. (The
        ** pending count includes events held back by their key.) */
        evs_page_free(pg);
        pg = NULL;
        rc = evs_claim(S, NULL, name, lease, &pg);
        if (!rc && evs_page_count(pg) == 0) break;
        if (rc) continue;
        n = evs_page_count(pg);
        tb1 = now_us();
      } else {
        sleep_us(2 * MS);
        continue;
      }
    }
    atomic_fetch_add(&n_claims, (long)n);
    for (size_t i = 0; i < n; i++) {
      const evs_event *e = evs_page_event(pg, i);
      on_claim(th, e, lease, tb0, tb1);
      h[i].id = e->id;
      h[i].token = e->lease_token;
      h[i].expires = e->lease_expires_us;
    }
    /* A crash: the whole page is dropped. */
    if (rnd(&rs) % 200 == 0) {
      atomic_fetch_add(&n_crash, 1);
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      unsigned r = (unsigned)(rnd(&rs) % 1000);
      int op = r < 780 ? OP_ACK
               : r < 850 ? OP_RELEASE
               : r < 890 ? OP_RELEASE_DELAY
               : r < 895 ? OP_REJECT
               : r < 925 ? OP_RENEW_ACK
               : r < 997 ? OP_EXPIRE
                         : OP_SLOW_ACK;
      if (op == OP_EXPIRE) {
        atomic_fetch_add(&n_expire, 1);
        continue;
      }
      if (op == OP_SLOW_ACK) {
        /* Ack around the deadline: before, it counts; after, stale. */
        int64_t wait = h[i].expires - now_us() + ((int64_t)(rnd(&rs) % 21) - 10) * MS;
        if (wait > 0) sleep_us(wait < 250 * MS ? wait : 250 * MS);
      }
      settle(th, &h[i], op, &rs);
    }
  }
  evs_page_free(pg);
  return NULL;
}

static void check_final(evs_store *s, const char *when) {
  long acked = 0, dead = 0, bad = 0;
  for (long id = 1; id <= N; id++) {
    evs_event *e = NULL;
    int rc = evs_get(s, NULL, (uint64_t)id, &e);
    if (rc) {
      if (bad++ < 10) fprintf(stderr, "  %s: get %ld: rc %d\n", when, id, rc);
      continue;
    }
    int a = atomic_load(&acks[id]);
    if (a == 1) {
      acked++;
      if (e->status != EVS_STATUS_ACKNOWLEDGED && bad++ < 10)
        fprintf(stderr, "  %s: event %ld acked by a consumer but status %d\n", when, id,
                e->status);
    } else {
      dead++;
      if (e->status != EVS_STATUS_DEAD && bad++ < 10)
        fprintf(stderr, "  %s: event %ld never acked, status %d (deliveries %u)\n", when, id,
                e->status, e->delivery_count);
      if (!atomic_load(&rejects[id]) && e->delivery_count != MAXDEL && bad++ < 10)
        fprintf(stderr, "  %s: event %ld dead, not rejected, after %u deliveries\n", when, id,
                e->delivery_count);
    }
    if (e->delivery_count != recs[id].count && bad++ < 10)
      fprintf(stderr, "  %s: event %ld: delivery_count %u, the last claim saw %u\n", when, id,
              e->delivery_count, recs[id].count);
    evs_event_free(e);
  }
  CHECK_EQ(bad, 0);
  evs_stats st = stats(s);
  CHECK_EQ(st.acknowledged, acked);
  CHECK_EQ(st.dead, dead);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.leased, 0);
  CHECK_EQ(st.pending + st.leased + st.dead + st.acknowledged, (uint64_t)N);
  evs_query dq = {0};
  dq.status = EVS_QUERY_DEAD;
  dq.limit = 100;
  CHECK_EQ(inbox_count(s, NULL, &dq), dead);
  int vr = evs_verify(s, NULL);
  CHECK_EQ(vr, 0);
  if (vr) fprintf(stderr, "  %s: verify: %s\n", when, evs_errmsg(s));
}

static void t_threads(void) {
#if defined(T_TSAN)
  N = env_n(50000);
#elif defined(T_ASAN)
  N = env_n(100000);
#else
  N = env_n(100000);
#endif
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.max_deliveries = MAXDEL;
  /* Durability is t_crash's subject; here fsyncs would only slow it. */
  o.sync = EVS_SYNC_OFF;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  S = s;
  recs = calloc((size_t)N + 1, sizeof *recs);
  acks = calloc((size_t)N + 1, sizeof *acks);
  rejects = calloc((size_t)N + 1, sizeof *rejects);
  REQUIRE(recs && acks && rejects);
  for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&stripe[i], NULL);
  keys_init();
  memset(krecs, 0, sizeof krecs);
  for (int i = 0; i < NKEYS; i++) pthread_mutex_init(&kmu[i], NULL);
  klog_cap = 2 * N + 1000; /* keyed claims: ~0.3 N, a few deliveries each */
  klog = calloc((size_t)klog_cap, sizeof *klog);
  REQUIRE(klog);
  int64_t t0 = now_us();
  /* N events in transactions of 1000, some with ordering keys. */
  static evs_event_in ev[1000];
  static evs_append_result ar[1000];
  for (int i = 0; i < 1000; i++) ev[i] = ev_make("src", "job", "{\"job\":1}");
  for (long done = 0; done < N;) {
    size_t k = (size_t)(N - done < 1000 ? N - done : 1000);
    set_keys(ev, (uint64_t)done + 1, k);
    int rc = evs_append_batch(s, NULL, ev, k, ar);
    if (rc) fprintf(stderr, "  append_batch: %s\n", evs_errmsg(s));
    REQUIRE(rc == 0);
    done += (long)k;
  }
  pthread_t tid[NTHREADS];
  for (int i = 0; i < NTHREADS; i++)
    REQUIRE(pthread_create(&tid[i], NULL, worker, (void *)(intptr_t)i) == 0);
  for (int i = 0; i < NTHREADS; i++) pthread_join(tid[i], NULL);
  int64_t t1 = now_us();
  fprintf(stderr,
          "  N=%ld threads=%d: %.2f s; claims %ld acks %ld stale %ld releases %ld renews %ld "
          "rejects %ld expired %ld crashes %ld late %ld\n",
          N, NTHREADS, (double)(t1 - t0) / 1e6, atomic_load(&n_claims), atomic_load(&n_acks),
          atomic_load(&n_stale), atomic_load(&n_release), atomic_load(&n_renew),
          atomic_load(&n_reject), atomic_load(&n_expire), atomic_load(&n_crash),
          atomic_load(&n_late));
  long nk = atomic_load(&klog_n);
  fprintf(stderr, "  ordering keys: %ld claims of keyed events (%ld recorded late)\n",
          atomic_load(&n_key_claims), atomic_load(&n_key_late));
  CHECK(nk <= klog_cap);
  CHECK_EQ(key_order_check(klog, nk < klog_cap ? nk : klog_cap, "keys"), 0);
  CHECK(nk > N / 5); /* the keyed events were claimed: the checks ran */
  CHECK_EQ(atomic_load(&n_violation), 0);
  CHECK_EQ(atomic_load(&n_errors), 0);
  check_final(s, "after the run");
  CHECK_EQ(evs_store_close(s), 0);
  s = NULL;
  memset(&o, 0, sizeof o);
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  check_final(s, "after reopening");
  evs_store_close(s);
  free(recs);
  free(acks);
  free(rejects);
  free(klog);
  klog = NULL;
  t_rmdir(dir);
}

/* ---- t_crash ------------------------------------------------------------ */

#define CN_DEFAULT 20000
#define CMAXDEL 4
/* R_TRY: an ack, release or reject is about to be called (at: its start),
** so one in flight when the child is killed counts as settling. */
enum { R_CLAIM = 1, R_ACK, R_RELEASE, R_REJECT, R_RENEW, R_TRY };
typedef struct obs {
  uint32_t kind, count;
  uint64_t id, token;
  int64_t until;
  int64_t at; /* R_CLAIM: the call had returned by then; R_TRY: its start */
} obs;

static void put_obs_at(int fd, uint32_t kind, uint64_t id, uint64_t token, uint32_t count,
                       int64_t until, int64_t at) {
  obs o = {kind, count, id, token, until, at};
  ssize_t w = write(fd, &o, sizeof o); /* < PIPE_BUF: whole or not at all */
  if (w != (ssize_t)sizeof o) _exit(3);
}

static void put_obs(int fd, uint32_t kind, uint64_t id, uint64_t token, uint32_t count,
                    int64_t until) {
  put_obs_at(fd, kind, id, token, count, until, 0);
}

/* The child: claim and settle until killed; every result is written to fd
** after the call returned. */
static void crash_child(const char *dir, int fd, uint64_t seed) {
  evs_options o;
  memset(&o, 0, sizeof o);
  evs_store *s = NULL;
  if (evs_store_open(dir, &o, &s)) _exit(2);
  uint64_t rs = seed;
  evs_page *pg = NULL;
  for (;;) {
    evs_query q = {0};
    q.limit = 1 + (unsigned)(rnd(&rs) % 20);
    int64_t lease = (20 + (int64_t)(rnd(&rs) % 61)) * MS;
    if (evs_claim(s, &q, "child", lease, &pg)) _exit(4);
    int64_t tb1 = now_us();
    size_t n = evs_page_count(pg);
    for (size_t i = 0; i < n; i++) {
      const evs_event *e = evs_page_event(pg, i);
      put_obs_at(fd, R_CLAIM, e->id, e->lease_token, e->delivery_count, e->lease_expires_us,
                 tb1);
    }
    for (size_t i = 0; i < n; i++) {
      const evs_event *e = evs_page_event(pg, i);
      unsigned r = (unsigned)(rnd(&rs) % 100);
      int rc;
      if (r < 72) put_obs_at(fd, R_TRY, e->id, e->lease_token, 0, 0, now_us());
      if (r < 55) {
        rc = evs_ack_lease(s, e->id, e->lease_token, NULL);
        if (!rc) put_obs(fd, R_ACK, e->id, e->lease_token, 0, 0);
      } else if (r < 70) {
        int64_t d = (int64_t)(rnd(&rs) % 3) * 10 * MS;
        rc = evs_release(s, e->id, e->lease_token, d);
        if (!rc) put_obs(fd, R_RELEASE, e->id, e->lease_token, 0, d);
      } else if (r < 72) {
        rc = evs_reject(s, e->id, e->lease_token);
        if (!rc) put_obs(fd, R_REJECT, e->id, e->lease_token, 0, 0);
      } else if (r < 80) {
        int64_t ex = 0;
        rc = evs_renew(s, e->id, e->lease_token, 50 * MS, &ex);
        if (!rc) put_obs(fd, R_RENEW, e->id, e->lease_token, 0, ex);
      } else {
        rc = 0; /* left to run out */
      }
      if (rc && rc != EVS_ESTALE && rc != EVS_ECONFLICT) _exit(5);
    }
    if (!n) sleep_us(5 * MS);
    else sleep_us((int64_t)(rnd(&rs) % 300));
  }
}

static int64_t far_now;
static int64_t far_clock(void *arg) { (void)arg; return far_now; }

static void t_crash(void) {
  long n = env_n(CN_DEFAULT * 5) / 5;
  if (n < 100) n = 100;
  const char *ce = getenv("EVS_CRASH_ROUNDS");
  int rounds = ce && atoi(ce) > 0 ? atoi(ce) : 25;
  char *dir = t_tmpdir();
  evs_options o;
  memset(&o, 0, sizeof o);
  o.max_deliveries = CMAXDEL;
  evs_store *s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  static evs_event_in ev[1000];
  static evs_append_result ar[1000];
  keys_init();
  for (int i = 0; i < 1000; i++) ev[i] = ev_make("src", "job", "{\"job\":2}");
  for (long done = 0; done < n;) {
    size_t k = (size_t)(n - done < 1000 ? n - done : 1000);
    set_keys(ev, (uint64_t)done + 1, k);
    REQUIRE(evs_append_batch(s, NULL, ev, k, ar) == 0);
    done += (long)k;
  }
  /* Each key's latest lease, across the child's lives; keyed claims. */
  static krec ck[NKEYS];
  memset(ck, 0, sizeof ck);
  long kcap = 8 * n + 1000, nkc = 0, key_viol = 0;
  kclaim *kc = calloc((size_t)kcap, sizeof *kc);
  REQUIRE(kc);
  REQUIRE(evs_store_close(s) == 0);
  uint32_t *cnt = calloc((size_t)n + 1, sizeof *cnt);
  uint8_t *acked = calloc((size_t)n + 1, 1), *rejected = calloc((size_t)n + 1, 1);
  uint8_t *pend_at = calloc((size_t)n + 1, 1); /* pending 13 h ahead */
  uint64_t *clist = calloc((size_t)n + 1, sizeof *clist);
  REQUIRE(cnt && acked && rejected && pend_at && clist);
  uint64_t seed = UINT64_C(0xc0ffee);
  uint64_t maxtok = 0;
  long total_obs = 0, total_acked = 0, total_dead = 0, inflight_seen = 0;
  for (int round = 0; round < rounds; round++) {
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      crash_child(dir, pfd[1], seed + (uint64_t)round * 7919);
      _exit(0);
    }
    close(pfd[1]);
    /* Read while it runs, kill it at a random moment, read the rest. */
    int64_t kill_at = now_us() + (5 + (int64_t)(mix64(seed + (uint64_t)round) % 150)) * MS;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int killed = 0;
    for (;;) {
      if (!killed && now_us() >= kill_at) {
        kill(pid, SIGKILL);
        killed = 1;
      }
      if (cap - len < 4096) buf = realloc(buf, cap *= 2);
      struct pollfd pf = {pfd[0], POLLIN, 0};
      if (!killed) poll(&pf, 1, 1);
      ssize_t r = killed || (pf.revents & (POLLIN | POLLHUP)) ? read(pfd[0], buf + len, cap - len)
                                                              : -1;
      if (r > 0) len += (size_t)r;
      else if (r == 0) break;
    }
    close(pfd[0]);
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
    if (!(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL))
      fprintf(stderr, "  round %d: the child ended with status %d\n", round, wst);
    size_t no = len / sizeof(obs);
    total_obs += (long)no;
    /* The reported observations: counts only grow. */
    for (size_t i = 0; i < no; i++) {
      obs ob;
      memcpy(&ob, buf + i * sizeof ob, sizeof ob);
      if (ob.id < 1 || ob.id > (uint64_t)n) {
        CHECK(0);
        continue;
      }
      if (ob.kind == R_CLAIM) {
        /* Tokens only grow, across kills and reopens too. */
        if (ob.token <= maxtok) {
          CHECK(0);
          fprintf(stderr, "  round %d: event %llu claimed with token %llu after token %llu\n",
                  round, (unsigned long long)ob.id, (unsigned long long)ob.token,
                  (unsigned long long)maxtok);
        }
        if (ob.token > maxtok) maxtok = ob.token;
        if (ob.count <= cnt[ob.id] || ob.count > CMAXDEL || acked[ob.id] || rejected[ob.id]) {
          CHECK(0);
          fprintf(stderr, "  round %d: event %llu claimed with count %u after %u (acked %d)\n",
                  round, (unsigned long long)ob.id, ob.count, cnt[ob.id], acked[ob.id]);
        }
        cnt[ob.id] = ob.count;
        int k = key_of(ob.id);
        if (k >= 0) {
          if (nkc < kcap) kc[nkc++] = (kclaim){ob.token, ob.id};
          char why[300];
          if (key_claim(&ck[k], ob.id, ob.token, ob.until, ob.at, why, sizeof why) &&
              key_viol++ < 10)
            fprintf(stderr, "  round %d: key %d: %s\n", round, k, why);
        }
      } else if (ob.kind == R_TRY) {
        int k = key_of(ob.id);
        if (k >= 0) key_settle(&ck[k], ob.token, ob.at);
      } else if (ob.kind == R_RENEW) {
        int k = key_of(ob.id);
        if (k >= 0 && ck[k].token == ob.token) ck[k].expires = ob.until;
      } else if (ob.kind == R_ACK) {
        acked[ob.id] = 1;
      } else if (ob.kind == R_REJECT) {
        rejected[ob.id] = 1;
      }
    }
    free(buf);
    /* Reopen at a time past every lease and delay: nothing is leased,
    ** every event is acknowledged, dead or in the inbox. */
    far_now = now_us() + 13 * HOUR;
    memset(&o, 0, sizeof o);
    o.clock = far_clock;
    s = NULL;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    long pend = 0, nack = 0, ndead = 0, extra_ack = 0, extra_claim = 0, bad = 0;
    for (long id = 1; id <= n; id++) {
      evs_event *e = NULL;
      int rc = evs_get(s, NULL, (uint64_t)id, &e);
      if (rc) {
        if (bad++ < 10) fprintf(stderr, "  round %d: get %ld: rc %d\n", round, id, rc);
        continue;
      }
      if (e->delivery_count < cnt[id] && bad++ < 10)
        fprintf(stderr, "  round %d: event %ld: delivery_count %u, the child saw %u\n", round,
                id, e->delivery_count, cnt[id]);
      if (e->delivery_count > cnt[id]) extra_claim++; /* the claim in flight */
      if (acked[id] && e->status != EVS_STATUS_ACKNOWLEDGED && bad++ < 10)
        fprintf(stderr, "  round %d: event %ld acked by the child, status %d\n", round, id,
                e->status);
      if (rejected[id] && e->status != EVS_STATUS_DEAD && bad++ < 10)
        fprintf(stderr, "  round %d: event %ld rejected by the child, status %d\n", round, id,
                e->status);
      switch (e->status) {
      case EVS_STATUS_ACKNOWLEDGED:
        nack++;
        if (!acked[id]) extra_ack++;
        acked[id] = 1;
        break;
      case EVS_STATUS_DEAD:
        ndead++;
        if (!rejected[id] && e->delivery_count < CMAXDEL) {
          /* Only the settle in flight may have rejected it. */
          extra_ack++;
          rejected[id] = 1;
        }
        break;
      case EVS_STATUS_PENDING:
        pend++;
        pend_at[id] = 1;
        if (e->delivery_count >= CMAXDEL && bad++ < 10)
          fprintf(stderr, "  round %d: event %ld pending after %u deliveries\n", round, id,
                  e->delivery_count);
        break;
      default:
        if (bad++ < 10)
          fprintf(stderr, "  round %d: event %ld status %d past every lease\n", round, id,
                  e->status);
      }
      if (e->status != EVS_STATUS_PENDING) pend_at[id] = 0;
      cnt[id] = e->delivery_count;
      evs_event_free(e);
    }
    CHECK_EQ(bad, 0);
    /* Nothing is leased or delayed 13 h ahead: the claimable events are
    ** the pending ones without a key and each key's first pending one. */
    {
      static uint8_t seen[NKEYS];
      memset(seen, 0, sizeof seen);
      evs_query cq = {0};
      cq.status = EVS_QUERY_CLAIMABLE;
      cq.limit = 100;
      long ncl = inbox_all(s, NULL, &cq, clist, (size_t)n + 1), j = 0, cbad = 0;
      for (long id = 1; id <= n; id++) {
        if (!pend_at[id]) continue;
        int k = key_of((uint64_t)id);
        if (k >= 0 && seen[k]++) continue;
        if ((j >= ncl || clist[j] != (uint64_t)id) && cbad++ < 5)
          fprintf(stderr, "  round %d: claimable item %ld is %llu, expected %ld\n", round, j,
                  j < ncl ? (unsigned long long)clist[j] : 0ULL, id);
        j++;
      }
      CHECK_EQ(ncl, j);
      CHECK_EQ(cbad, 0);
    }
    /* One call was in flight: at most one settle, at most one claim. */
    CHECK(extra_ack <= 1);
    CHECK(extra_claim <= 20);
    if (extra_ack || extra_claim) inflight_seen++;
    evs_query pq = {0};
    pq.limit = 100;
    CHECK_EQ(inbox_count(s, NULL, &pq), pend);
    evs_stats st = stats(s);
    CHECK_EQ(st.pending, pend);
    CHECK_EQ(st.acknowledged, nack);
    CHECK_EQ(st.leased, 0);
    CHECK_EQ(st.dead, ndead);
    int vr = evs_verify(s, NULL);
    CHECK_EQ(vr, 0);
    if (vr) fprintf(stderr, "  round %d: verify: %s\n", round, evs_errmsg(s));
    evs_store_close(s);
    total_acked = nack;
    total_dead = ndead;
    if (t_failed_checks) break;
  }
  /* The real clock, once every lease and delay passed: a claim gets
  ** exactly the events that are neither acknowledged nor dead. */
  sleep_us(250 * MS);
  memset(&o, 0, sizeof o);
  s = NULL;
  REQUIRE(evs_store_open(dir, &o, &s) == 0);
  long want = 0, got = 0;
  for (long id = 1; id <= n; id++) {
    evs_event *e = NULL;
    if (evs_get(s, NULL, (uint64_t)id, &e) == 0) {
      if (e->status == EVS_STATUS_PENDING) want++;
      evs_event_free(e);
    }
  }
  evs_page *pg = NULL;
  for (;;) {
    evs_query q = {0};
    q.limit = 100;
    int rc = evs_claim(s, &q, "final", 60 * SEC, &pg);
    int64_t tb1 = now_us();
    CHECK_EQ(rc, 0);
    if (rc || !evs_page_count(pg)) break;
    uint64_t pids[100], ptok[100];
    int prc[100];
    size_t np = evs_page_count(pg);
    for (size_t i = 0; i < np; i++) {
      const evs_event *e = evs_page_event(pg, i);
      pids[i] = e->id;
      ptok[i] = e->lease_token;
      got++;
      if (acked[e->id] || e->delivery_count > CMAXDEL) {
        CHECK(0);
        fprintf(stderr, "  final: event %llu claimable (acked %d, count %u)\n",
                (unsigned long long)e->id, acked[e->id], e->delivery_count);
      }
      int k = key_of(e->id);
      if (k >= 0) {
        if (nkc < kcap) kc[nkc++] = (kclaim){e->lease_token, e->id};
        char why[300];
        if (key_claim(&ck[k], e->id, e->lease_token, e->lease_expires_us, tb1, why,
                      sizeof why) &&
            key_viol++ < 10)
          fprintf(stderr, "  final: key %d: %s\n", k, why);
        key_settle(&ck[k], e->lease_token, now_us());
      }
    }
    /* Acknowledged (one commit for the page), so the next event of each
    ** key comes up. */
    CHECK_EQ(evs_ack_lease_batch(s, pids, ptok, np, prc, NULL), 0);
    for (size_t i = 0; i < np; i++) CHECK_EQ(prc[i], 0);
  }
  evs_page_free(pg);
  CHECK_EQ(got, want);
  CHECK_EQ(key_viol, 0);
  CHECK(nkc < kcap);
  CHECK_EQ(key_order_check(kc, nkc, "t_crash keys"), 0);
  CHECK(nkc > n / 10); /* keyed events were claimed: the checks ran */
  CHECK_EQ(evs_verify(s, NULL), 0);
  evs_store_close(s);
  fprintf(stderr,
          "  N=%ld rounds=%d: %ld observations; acknowledged %ld dead %ld; %ld reopens saw the "
          "call in flight applied; final claim %ld; %ld claims of keyed events\n",
          n, rounds, total_obs, total_acked, total_dead, inflight_seen, got, nkc);
  free(cnt);
  free(acked);
  free(rejected);
  free(pend_at);
  free(clist);
  free(kc);
  t_rmdir(dir);
}

/* ---- small checks found by the model fuzzer ------------------------------ */

static fake_clock fclk = {T0};

static void app3(evs_store *s, int n) {
  for (int i = 0; i < n; i++) CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
}

static uint64_t claim_one(evs_store *s, int64_t lease, uint64_t *id) {
  evs_query q = {0};
  q.limit = 1;
  evs_page *pg = NULL;
  uint64_t tok = 0;
  *id = 0;
  if (evs_claim(s, &q, "w", lease, &pg) == 0 && evs_page_count(pg)) {
    tok = evs_page_event(pg, 0)->lease_token;
    *id = evs_page_event(pg, 0)->id;
  }
  evs_page_free(pg);
  return tok;
}

/* An event past retention is gone for evs_get and evs_ack (ENOTFOUND):
** the lease calls must not act on it either. */
static void t_settle_past_retention(void) {
  fclk.now = T0;
  evs_options o = opts_clock(&fclk);
  o.retention_us = 20 * MS;
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  app3(s, 2);
  uint64_t id1, id2;
  uint64_t tok1 = claim_one(s, HOUR, &id1);
  uint64_t tok2 = claim_one(s, HOUR, &id2);
  REQUIRE(tok1 && tok2 && id1 == 1 && id2 == 2);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), 0);
  fclk.now += 30 * MS; /* both past retention */
  evs_event *e = NULL;
  CHECK_EQ(evs_get(s, NULL, 1, &e), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack(s, NULL, 2, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_renew(s, 2, tok2, 0, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_ack_lease(s, 1, tok1, NULL), EVS_ENOTFOUND);
  CHECK_EQ(evs_release(s, 1, tok1, 0), EVS_ENOTFOUND);
  CHECK_EQ(evs_reject(s, 1, tok1), EVS_ENOTFOUND);
  evs_store_close(s);
}

/* oldest_pending_us is of the pending events: leased and dead ones are
** not pending (stats.pending agrees). */
static void t_oldest_pending_excludes_leased(void) {
  fclk.now = T0;
  evs_options o = opts_clock(&fclk);
  evs_store *s = open_mem(&o);
  REQUIRE(s);
  app3(s, 2);
  uint64_t id;
  uint64_t tok = claim_one(s, 0, &id);
  REQUIRE(tok);
  CHECK_EQ(evs_reject(s, id, tok), 0);
  REQUIRE(claim_one(s, 0, &id));
  evs_stats st = stats(s);
  CHECK_EQ(st.pending, 0);
  CHECK_EQ(st.leased, 1);
  CHECK_EQ(st.dead, 1);
  CHECK_EQ(st.oldest_pending_us, 0);
  evs_store_close(s);
}

/* Tokens only grow, across reopening too: from the checkpoint or from the
** log alone, compacted or not. */
static void t_tokens_grow_after_reopen(void) {
  for (int mode = 0; mode < 4; mode++) {
    fclk.now = T0;
    char *dir = t_tmpdir();
    evs_options o = opts_clock(&fclk);
    o.auto_compact_percent = -1;
    o.checkpoint_bytes = mode & 1 ? 0 : -1;
    evs_store *s = NULL;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    app3(s, 6);
    uint64_t id, last = 0;
    for (int i = 0; i < 3; i++) {
      last = claim_one(s, SEC, &id);
      CHECK_EQ(evs_ack_lease(s, id, last, NULL), 0);
    }
    if (mode & 2) {
      evs_compact_report r;
      memset(&r, 0, sizeof r);
      CHECK_EQ(evs_compact(s, &r), 0);
    }
    CHECK_EQ(evs_store_close(s), 0);
    s = NULL;
    REQUIRE(evs_store_open(dir, &o, &s) == 0);
    uint64_t t = claim_one(s, SEC, &id);
    if (t <= last)
      fprintf(stderr, "  checkpoint %d compacted %d: token %llu after %llu\n", mode & 1,
              mode >> 1, (unsigned long long)t, (unsigned long long)last);
    CHECK(t > last);
    evs_store_close(s);
    t_rmdir(dir);
  }
}

int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : NULL;
  if (!only || !strcmp(only, "t_threads")) RUN(t_threads);
  if (!only || !strcmp(only, "t_crash")) RUN(t_crash);
  if (!only || !strcmp(only, "t_settle_past_retention")) RUN(t_settle_past_retention);
  if (!only || !strcmp(only, "t_oldest_pending_excludes_leased"))
    RUN(t_oldest_pending_excludes_leased);
  if (!only || !strcmp(only, "t_tokens_grow_after_reopen")) RUN(t_tokens_grow_after_reopen);
  return TEST_EXIT();
}
