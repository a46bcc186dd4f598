/*
** wait.c: blocking until events arrive. evs_wait asks the inbox whether an
** event matching the query is there, and sleeps on the handle's event
** sequence until a commit or a refresh makes new events visible; a
** read_only handle, which no other process's commit can wake, also
** refreshes itself at a short interval. evs_store_eventfd is the same
** signal as a file descriptor for poll/epoll loops. A lease that runs out
** makes its event claimable with no commit: a waiter wakes when the next
** one ends and looks again.
*/
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>

#include "abi.h"
#include "error.h"
#include "index.h"
#include "maint.h"
#include "store.h"
#include "writer.h"

/* How often a read_only handle looks for another process's commits. */
#define POLL_MS 10

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds (by the store's clock) until the next lease or release
** delay ends: an event may become claimable then with no commit to say
** so. INT64_MAX if none. */
static int64_t next_lease_end_ms(evs_store *s) {
  int64_t now = evs_now(s), first = evs_next_lease_end(s, now);
  return first == INT64_MAX ? INT64_MAX : (first - now) / 1000 + 1;
}

/* Is an event matching q there now? 1, 0, or an error. */
static int any(evs_store *s, const evs_query *q) {
  evs_query one = *q;
  one.limit = 1;
  one.without_payload = 1;
  evs_page *pg = NULL;
  int rc = evs_inbox(s, NULL, &one, &pg);
  if (!rc) rc = evs_page_count(pg) > 0;
  evs_page_free(pg);
  return rc;
}

static int wait_for(evs_store *s, const evs_query *qin, int timeout_ms) {
  if (!s) return evs_err(NULL, EVS_EINVAL, "store is NULL");
  if (evs_writer_held(s))
    return evs_err(s, EVS_EDEADLK,
                   "this thread holds the write transaction: no other commit can come "
                   "while it waits");
  evs_query q0 = {0};
  const evs_query *q = qin ? qin : &q0;
  int follow = s->dir && s->opt.read_only;
  int64_t deadline = timeout_ms < 0 ? INT64_MAX : now_ms() + timeout_ms;
  for (;;) {
    pthread_mutex_lock(&s->evmu);
    uint64_t seq = s->ev_seq;
    pthread_mutex_unlock(&s->evmu);
    int rc = any(s, q);
    if (rc) return rc < 0 ? rc : 0;
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return evs_err(s, EVS_EBUSY, "no matching event arrived within %d ms", timeout_ms);
    if (follow && left > POLL_MS) left = POLL_MS;
    int64_t lease_ms = next_lease_end_ms(s);
    if (left > lease_ms) left = lease_ms;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(left / 1000);
    until.tv_nsec += (long)(left % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_mutex_lock(&s->evmu);
    int e = 0;
    while (s->ev_seq == seq && e != ETIMEDOUT) e = pthread_cond_timedwait(&s->evcv, &s->evmu, &until);
    pthread_mutex_unlock(&s->evmu);
    /* A reader catches up itself; a dropped or replaced store ends the wait. */
    if (follow && e == ETIMEDOUT && (rc = evs_store_refresh(s))) return rc;
  }
}

int evs_wait_sized(evs_store *s, const evs_query *q, size_t q_size, int timeout_ms) {
  evs_query qc;
  int rc = evs_abi_in(s, "evs_query", &qc, sizeof qc, q, q_size, EVS_QUERY_SIZE_VER0);
  return rc ? rc : wait_for(s, q ? &qc : NULL, timeout_ms);
}

int evs_store_eventfd(evs_store *s, int *fd) {
  if (!s || !fd) return evs_err(s, EVS_EINVAL, "store and fd are required");
  pthread_mutex_lock(&s->evmu);
  int f = s->ev_fd;
  if (f < 0 && (f = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0)
    __atomic_store_n(&s->ev_fd, f, __ATOMIC_RELEASE);
  int e = errno;
  pthread_mutex_unlock(&s->evmu);
  if (f < 0) return evs_err_io(s, e, "eventfd for", s->dir ? s->dir : ":memory:");
  /* Leases already running end without a commit: the maintenance thread
  ** signals the fd then (a writer's; a reader learns of leases only by
  ** refreshing). */
  if (!s->opt.read_only) evs_maint_kick(s, EVS_BG_LEASE);
  *fd = f;
  return 0;
}
