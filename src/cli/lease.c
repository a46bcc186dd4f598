/*
** lease.c: the consumer commands: claim (evs_claim, optionally waiting
** for work), renew, release and reject (settling a lease with its token;
** ack --token is in commands.c) and redrive. A stale token is its own exit
** status (EX_STALE), so a script can tell "someone else has this event
** now" from any other failure.
*/
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* --NAME's duration: a positive one; with zero_ok, "0" is 0 (the grammar
** reads "0" as forever, which no lease or delay can be). */
static int duration_option(cli *c, int o, const char *name, int zero_ok, int64_t *us) {
  const char *v = c->opt[o];
  if (!v) return 0;
  if (zero_ok && !strcmp(v, "0")) {
    *us = 0;
    return 0;
  }
  if (parse_duration(v, us) || *us <= 0)
    return cli_usage(c, "--%s '%s' is not a duration (12h, 30m, 10s, 500ms, 250us, "
                        "microseconds)%s",
                     name, v, zero_ok ? " or 0" : "");
  return 0;
}

int lease_target(cli *c, uint64_t *id, uint64_t *token) {
  const char *t = c->opt[O_TOKEN];
  if (!t) return cli_usage(c, "--token is required (the lease_token claim printed)");
  if (parse_u64(t, token) || !*token)
    return cli_usage(c, "--token '%s' is not a lease token (a positive integer)", t);
  if (c->nargs != 1)
    return cli_usage(c, "with --token, exactly one event id (the token is that event's)");
  if (parse_u64(c->args[0], id) || !*id)
    return cli_usage(c, "'%s' is not an event id (a positive integer)", c->args[0]);
  return 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to left_ms (< 0: no limit) for an event q matches to be
** claimable. The store is held for writing only while claiming: the wait
** runs on a read-only handle, so other processes can append meanwhile.
** Returns 0 (something may be claimable; c->s is the writable store
** again), 1 (the time ran out) or an exit code. */
static int wait_claimable(cli *c, const evs_query *q, int64_t left_ms) {
  evs_store_close(c->s);
  c->s = NULL;
  int rc = cli_open(c, OPEN_READONLY);
  if (rc) return rc;
  int r = evs_wait(c->s, q, left_ms < 0 ? -1 : left_ms > INT_MAX ? INT_MAX : (int)left_ms);
  if (r && r != EVS_EBUSY) return cli_lib_fail(c, r);
  evs_store_close(c->s);
  c->s = NULL;
  if (r == EVS_EBUSY) return 1;
  /* The process whose commit woke us may still have the store open for
  ** a moment after it: wait for it (its settings were checked at the
  ** first open), up to the time left, but at least 2 s. */
  int64_t until = now_ms() + (left_ms >= 0 && left_ms < 2000 ? 2000 : left_ms);
  evs_options o = c->eo;
  evs_options_use_stored(&o);
  while ((r = evs_store_open(c->dir, &o, &c->s)) == EVS_ELOCKED &&
         (left_ms < 0 || now_ms() < until)) {
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  return r ? cli_fail(c, cli_exit_code(r), "%s", evs_errmsg(NULL)) : 0;
}

int cmd_claim(cli *c) {
  evs_query q = {0};
  char *meta = NULL;
  evs_page *page = NULL;
  int64_t lease = 0, wait = 0;
  const char *consumer = c->opt[O_CONSUMER], *v;
  int rc;
  if (!consumer) return cli_usage(c, "--consumer is required");
  if ((rc = filter_options(c, &q, &meta))) goto out;
  if ((v = c->opt[O_LIMIT])) {
    uint64_t n;
    if (parse_u64(v, &n) || n < 1 || n > EVS_PAGE_MAX) {
      rc = cli_usage(c, "--limit must be 1..%d, not '%s'", EVS_PAGE_MAX, v);
      goto out;
    }
    q.limit = (unsigned)n;
  }
  if ((rc = duration_option(c, O_LEASE, "lease", 0, &lease))) goto out;
  /* --wait: "forever" (and "0", as everywhere in this grammar) waits
  ** without a limit. */
  if ((v = c->opt[O_WAIT]) && parse_duration(v, &wait)) {
    rc = cli_usage(c, "--wait '%s' is not a duration (12h, 30m, 10s, 500ms, 250us, "
                      "microseconds) or forever", v);
    goto out;
  }
  if ((rc = cli_open(c, OPEN_EXISTING))) goto out;
  /* The wait is for what the claim would take: a pending event that an
  ** older one of its ordering key holds back does not end it (waiting
  ** for any pending event would return at once, again and again). */
  evs_query wq = q;
  wq.status = EVS_QUERY_CLAIMABLE;
  int64_t deadline = wait > 0 ? now_ms() + wait / 1000 : 0;
  for (;;) {
    if ((rc = evs_claim(c->s, &q, consumer, lease, &page))) {
      rc = cli_lib_fail(c, rc);
      goto out;
    }
    if (evs_page_count(page) || !c->opt[O_WAIT]) break;
    int64_t left = wait < 0 ? -1 : deadline - now_ms();
    if (wait > 0 && left <= 0) break;
    evs_page_free(page);
    page = NULL;
    if ((rc = wait_claimable(c, &wq, left))) {
      if (rc == 1) rc = 0; /* nothing came: nothing printed, success */
      goto out;
    }
  }
  for (size_t i = 0; i < evs_page_count(page); i++) put_event(stdout, evs_page_event(page, i));
out:
  evs_page_free(page);
  free(meta);
  return rc;
}

int cmd_renew(cli *c) {
  uint64_t id, token;
  int64_t lease = 0, until;
  int rc;
  if ((rc = lease_target(c, &id, &token)) || (rc = duration_option(c, O_LEASE, "lease", 0, &lease)))
    return rc;
  if ((rc = cli_open(c, OPEN_EXISTING))) return rc;
  if ((rc = evs_renew(c->s, id, token, lease, &until))) return cli_lib_fail(c, rc);
  char ts[EVS_TIME_BUF];
  evs_time_format(until, ts);
  printf("{\"event_id\":%llu,\"lease_expires_at\":\"%s\"}\n", (unsigned long long)id, ts);
  return 0;
}

int cmd_release(cli *c) {
  uint64_t id, token;
  int64_t delay = 0;
  int rc;
  if ((rc = lease_target(c, &id, &token)) || (rc = duration_option(c, O_DELAY, "delay", 1, &delay)))
    return rc;
  if ((rc = cli_open(c, OPEN_EXISTING))) return rc;
  if ((rc = evs_release(c->s, id, token, delay))) return cli_lib_fail(c, rc);
  printf("{\"event_id\":%llu,\"released\":true}\n", (unsigned long long)id);
  return 0;
}

int cmd_reject(cli *c) {
  uint64_t id, token;
  int rc;
  if ((rc = lease_target(c, &id, &token))) return rc;
  if ((rc = cli_open(c, OPEN_EXISTING))) return rc;
  if ((rc = evs_reject(c->s, id, token))) return cli_lib_fail(c, rc);
  printf("{\"event_id\":%llu,\"rejected\":true}\n", (unsigned long long)id);
  return 0;
}

int cmd_redrive(cli *c) {
  evs_query q = {0};
  char *meta = NULL;
  uint64_t n = 0;
  int rc;
  if (!(rc = filter_options(c, &q, &meta)) && !(rc = cli_open(c, OPEN_EXISTING))) {
    if ((rc = evs_redrive(c->s, &q, &n))) rc = cli_lib_fail(c, rc);
    else printf("{\"redriven\":%llu}\n", (unsigned long long)n);
  }
  free(meta);
  return rc;
}
