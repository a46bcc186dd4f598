/*
** test_wait.c: evs_wait and evs_store_eventfd. A waiter returns at once
** when a matching event is there, wakes when a commit brings one, times
** out with EVS_EBUSY otherwise; filters and cursors decide what matches;
** a read_only handle wakes for another handle's or another process's
** commits by refreshing itself; the eventfd is readable after commits that
** append. Prints the wake-up latency (not asserted).
*/
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evstore.h"
#include "testlib.h"

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void nap_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&t, NULL);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void t_wait_now_and_timeout(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(evs_wait(NULL, NULL, 0), EVS_EINVAL);
  CHECK_EQ(evs_wait(s, NULL, 0), EVS_EBUSY);
  CHECK_CONTAINS(evs_errmsg(s), "within 0 ms");
  int64_t t0 = now_us();
  CHECK_EQ(evs_wait(s, NULL, 50), EVS_EBUSY);
  int64_t took = now_us() - t0;
  CHECK(took >= 45000);
  CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
  CHECK_EQ(evs_wait(s, NULL, -1), 0);
  CHECK_EQ(evs_wait(s, NULL, 0), 0);
  /* Filters: another source does not match; an acked event is not pending. */
  evs_query q = {0};
  q.source = "b";
  CHECK_EQ(evs_wait(s, &q, 0), EVS_EBUSY);
  q.source = "a";
  CHECK_EQ(evs_wait(s, &q, 0), 0);
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), 0);
  CHECK_EQ(evs_wait(s, &q, 0), EVS_EBUSY);
  /* A cursor: only events after it. */
  CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
  char cur[EVS_CURSOR_SIZE];
  evs_query qc = {0};
  CHECK_EQ(evs_cursor_make(s, &qc, 2, cur), 0);
  qc.cursor = cur;
  CHECK_EQ(evs_wait(s, &qc, 0), EVS_EBUSY);
  qc.cursor = "garbage";
  CHECK_EQ(evs_wait(s, &qc, 0), EVS_ECURSOR);
  /* Waiting while holding the write transaction could never end. */
  evs_txn *t = NULL;
  REQUIRE(evs_txn_begin(s, &t) == 0);
  CHECK_EQ(evs_wait(s, NULL, 10), EVS_EDEADLK);
  CHECK_EQ(evs_txn_rollback(t), 0);
  evs_store_close(s);
}

typedef struct {
  evs_store *s;
  const char *source;
  int timeout_ms;
  int rc;
  int64_t woke_us;
  char cur[EVS_CURSOR_SIZE]; /* wait for events after this ("" = any) */
} waiter;

/* The cursor after the newest event of w's source now (before the thread
** starts, so a commit racing its start is still new to it). */
static void take_cursor(waiter *w) {
  evs_query q = {0};
  q.source = w->source;
  q.descending = 1;
  q.limit = 1;
  evs_page *pg = NULL;
  w->cur[0] = 0;
  if (evs_inbox(w->s, NULL, &q, &pg) == 0 && evs_page_count(pg)) {
    evs_query a = {0};
    a.source = w->source;
    evs_cursor_make(w->s, &a, evs_page_event(pg, 0)->id, w->cur);
  }
  evs_page_free(pg);
}

static void *wait_thread(void *arg) {
  waiter *w = arg;
  evs_query q = {0};
  q.source = w->source;
  if (w->cur[0]) q.cursor = w->cur;
  w->rc = evs_wait(w->s, &q, w->timeout_ms);
  w->woke_us = now_us();
  return NULL;
}

/* Threads waiting on a handle wake at a commit that brings a match; one
** waiting for another source keeps waiting. */
static void t_wait_wakes_threads(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  enum { ROUNDS = 60 };
  int64_t lat[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    waiter w[3] = {{s, "x", 5000, 1, 0, ""}, {s, "x", 5000, 1, 0, ""}, {s, "other", 30, 1, 0, ""}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) take_cursor(&w[i]);
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, wait_thread, &w[i]);
    nap_ms(2);
    int64_t t0 = now_us();
    CHECK_EQ(app(s, NULL, "x", "t", "{}", NULL), 0);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK_EQ(w[0].rc, 0);
    CHECK_EQ(w[1].rc, 0);
    CHECK_EQ(w[2].rc, EVS_EBUSY);
    lat[r] = (w[0].woke_us > t0 ? w[0].woke_us : t0) - t0;
  }
  qsort(lat, ROUNDS, sizeof *lat, cmp_i64);
  fprintf(stderr, "  info wake-up after a commit, same handle: p50 %lld us, p90 %lld us\n",
          (long long)lat[ROUNDS / 2], (long long)lat[ROUNDS * 9 / 10]);
  evs_store_close(s);
}

/* The eventfd: readable after a commit that appended, not before, not
** after one that only acknowledged; the same fd every time. */
static void t_eventfd(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  int fd = -1, fd2 = -1;
  CHECK_EQ(evs_store_eventfd(NULL, &fd), EVS_EINVAL);
  CHECK_EQ(evs_store_eventfd(s, NULL), EVS_EINVAL);
  REQUIRE(evs_store_eventfd(s, &fd) == 0);
  CHECK_EQ(evs_store_eventfd(s, &fd2), 0);
  CHECK_EQ(fd, fd2);
  struct pollfd p = {fd, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 0), 0);
  CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
  CHECK_EQ(poll(&p, 1, 0), 1);
  uint64_t v = 0;
  CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
  CHECK_EQ(v, 1);
  CHECK_EQ(poll(&p, 1, 0), 0);
  CHECK_EQ(evs_ack(s, NULL, 1, NULL), 0);
  CHECK_EQ(poll(&p, 1, 0), 0);
  evs_event_in in[3] = {ev_make("a", "t", "{}"), ev_make("a", "t", "{}"),
                        ev_make("a", "t", "{}")};
  evs_append_result res[3];
  CHECK_EQ(evs_append_batch(s, NULL, in, 3, res), 0);
  CHECK_EQ(poll(&p, 1, 0), 1);
  evs_store_close(s); /* closes the fd */
}

/* A reader handle beside a writer handle in this process: nothing but its
** own refreshes tell it of commits; a waiter on it still wakes. Dropping
** the store ends the wait. */
static void t_wait_read_only(void) {
  char *dir = t_tmpdir();
  evs_store *w = NULL, *r = NULL;
  REQUIRE(evs_store_open(dir, NULL, &w) == 0);
  evs_options ro = {0};
  ro.read_only = 1;
  REQUIRE(evs_store_open(dir, &ro, &r) == 0);
  CHECK_EQ(evs_wait(r, NULL, 0), EVS_EBUSY);
  waiter wt = {r, "x", 5000, 1, 0, ""};
  take_cursor(&wt);
  pthread_t th;
  pthread_create(&th, NULL, wait_thread, &wt);
  nap_ms(30);
  CHECK_EQ(app(w, NULL, "x", "t", "{}", NULL), 0);
  pthread_join(th, NULL);
  CHECK_EQ(wt.rc, 0);
  CHECK_EQ(stats(r).pending, 1);
  /* An eventfd of the reader is signalled by its refreshes. */
  int fd;
  REQUIRE(evs_store_eventfd(r, &fd) == 0);
  struct pollfd p = {fd, POLLIN, 0};
  CHECK_EQ(app(w, NULL, "x", "t", "{}", NULL), 0);
  CHECK_EQ(poll(&p, 1, 0), 0);
  CHECK_EQ(evs_store_refresh(r), 0);
  CHECK_EQ(poll(&p, 1, 0), 1);
  /* The store goes away while a reader waits for more. */
  waiter wd = {r, "nothing-yet", 5000, 1, 0, ""};
  pthread_create(&th, NULL, wait_thread, &wd);
  nap_ms(30);
  CHECK_EQ(evs_store_drop(w), 0);
  pthread_join(th, NULL);
  CHECK_EQ(wd.rc, EVS_ENOTFOUND);
  evs_store_close(r);
  t_rmdir(dir);
}

/* Another process appends; a reader here waits for it. */
static void t_wait_other_process(void) {
  char *dir = t_tmpdir();
  evs_store *w = NULL;
  REQUIRE(evs_store_open(dir, NULL, &w) == 0);
  CHECK_EQ(evs_store_close(w), 0);
  evs_options ro = {0};
  ro.read_only = 1;
  evs_store *r = NULL;
  REQUIRE(evs_store_open(dir, &ro, &r) == 0);
  fflush(NULL);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    evs_store *c = NULL;
    if (evs_store_open(dir, NULL, &c)) _exit(2);
    nap_ms(100);
    int rc = app(c, NULL, "job", "t", "{\"n\":1}", NULL);
    _exit(rc || evs_store_close(c) ? 3 : 0);
  }
  int64_t t0 = now_us();
  evs_query q = {0};
  q.source = "job";
  CHECK_EQ(evs_wait(r, &q, 10000), 0);
  fprintf(stderr, "  info a reader woke %lld us after waiting began (the writer appended after 100 ms)\n",
          (long long)(now_us() - t0));
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(stats(r).pending, 1);
  evs_store_close(r);
  t_rmdir(dir);
}


/* A lease that runs out brings its event back with no commit: a waiter
** wakes for it. */
static void t_wait_lease_runs_out(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
  evs_page *pg = NULL;
  REQUIRE(evs_claim(s, NULL, "w", 60 * 1000, &pg) == 0);
  CHECK_EQ(evs_page_count(pg), 1);
  evs_page_free(pg);
  CHECK_EQ(evs_wait(s, NULL, 0), EVS_EBUSY);
  int64_t t0 = now_us();
  CHECK_EQ(evs_wait(s, NULL, 5000), 0);
  int64_t took = now_us() - t0;
  CHECK(took >= 40000 && took < 2000000);
  fprintf(stderr, "  info a 60 ms lease ran out; the waiter woke after %lld us\n",
          (long long)took);
  evs_store_close(s);
}

/* The eventfd is readable when a lease or a release's delay ends (an
** event is claimable again with no commit), with the real clock and with
** a fake one the test moves; also for leases that ran before the fd was
** asked for. Not when nothing ends. */
static fake_clock fclk = {T0};
static void t_eventfd_lease_ends(void) {
  evs_store *s = open_mem(NULL);
  REQUIRE(s);
  for (int i = 0; i < 3; i++) CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
  evs_page *pg = NULL;
  evs_query q = {0};
  q.limit = 1;
  REQUIRE(evs_claim(s, &q, "w", 150 * 1000, &pg) == 0); /* before the fd: 150 ms */
  int fd = -1;
  REQUIRE(evs_store_eventfd(s, &fd) == 0);
  struct pollfd p = {fd, POLLIN, 0};
  int64_t t0 = now_us();
  CHECK_EQ(poll(&p, 1, 2000), 1);
  int64_t took = now_us() - t0;
  CHECK(took >= 100 * 1000 && took < 1500 * 1000);
  printf("info: eventfd after a 150 ms lease: %.1f ms\n", (double)took / 1000);
  uint64_t v;
  CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
  /* A claim made with the fd there, and a release with a delay. */
  REQUIRE(evs_claim(s, &q, "w", 80 * 1000, &pg) == 0);
  REQUIRE(evs_page_count(pg) == 1);
  t0 = now_us();
  CHECK_EQ(poll(&p, 1, 2000), 1);
  CHECK(now_us() - t0 >= 60 * 1000);
  CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
  REQUIRE(evs_claim(s, &q, "w", 0, &pg) == 0);
  REQUIRE(evs_page_count(pg) == 1);
  const evs_event *e = evs_page_event(pg, 0);
  CHECK_EQ(evs_release(s, e->id, e->lease_token, 100 * 1000), 0);
  t0 = now_us();
  CHECK_EQ(poll(&p, 1, 2000), 1);
  CHECK(now_us() - t0 >= 70 * 1000);
  CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
  /* Nothing ends: nothing to read. Long leases left. */
  REQUIRE(evs_claim(s, NULL, "w", 3600 * SEC, &pg) == 0);
  CHECK_EQ(read(fd, &v, sizeof v), -1); /* drained: the claim appended nothing */
  CHECK_EQ(poll(&p, 1, 300), 0);
  evs_page_free(pg);
  evs_store_close(s);

  /* A fake clock: the fd is signalled soon after the clock passes the end. */
  evs_options o = opts_clock(&fclk);
  s = open_mem(&o);
  REQUIRE(s);
  CHECK_EQ(app(s, NULL, "a", "t", "{}", NULL), 0);
  REQUIRE(evs_store_eventfd(s, &fd) == 0);
  p.fd = fd;
  CHECK_EQ(poll(&p, 1, 0), 0); /* the append came before the fd */
  pg = NULL;
  REQUIRE(evs_claim(s, NULL, "w", 10 * SEC, &pg) == 0);
  CHECK_EQ(poll(&p, 1, 300), 0);
  __atomic_store_n(&fclk.now, fclk.now + 11 * SEC, __ATOMIC_RELAXED);
  CHECK_EQ(poll(&p, 1, 2000), 1);
  evs_page_free(pg);
  evs_store_close(s);
}

int main(void) {
  RUN(t_wait_now_and_timeout);
  RUN(t_wait_wakes_threads);
  RUN(t_eventfd);
  RUN(t_wait_read_only);
  RUN(t_wait_other_process);
  RUN(t_wait_lease_runs_out);
  RUN(t_eventfd_lease_ends);
  return TEST_EXIT();
}
