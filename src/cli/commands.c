/*
** commands.c: the evstore commands other than import: append, get,
** inbox, dead, ack, delete, stats, verify and export. Each is a thin layer
** over one or two library calls: parse its options, open the store, call,
** print JSON.
*/
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- append ------------------------------------------------------------ */

static int read_stdin(cli *c, char **out, size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  if (!buf) return cli_fail(c, EX_ERROR, "out of memory");
  for (;;) {
    n += fread(buf + n, 1, cap - n - 1, stdin);
    if (n < cap - 1) break;
    char *p = realloc(buf, cap * 2);
    if (!p) {
      free(buf);
      return cli_fail(c, EX_ERROR, "out of memory");
    }
    buf = p;
    cap *= 2;
  }
  if (ferror(stdin)) {
    free(buf);
    return cli_fail(c, EX_ERROR, "cannot read standard input: %s", strerror(errno));
  }
  /* The line break that echo and text files end with is not part of the
  ** payload; anything else is kept byte for byte. */
  if (n && buf[n - 1] == '\n') n--;
  if (n && buf[n - 1] == '\r') n--;
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

int cmd_append(cli *c) {
  evs_event_in ev = {.source = c->opt[O_SOURCE],
                     .event_type = c->opt[O_TYPE],
                     .metadata = c->opt[O_METADATA],
                     .idempotency_key = c->opt[O_KEY],
                     .ordering_key = c->opt[O_ORDERING_KEY]};
  if (!ev.source) return cli_usage(c, "--source is required");
  if (!ev.event_type) return cli_usage(c, "--type is required");
  const char *p = c->opt[O_PRIORITY];
  if (p && parse_priority(p, strlen(p), &ev.priority))
    return cli_usage(c, "--priority must be low, normal or high (or 1, 2, 3), not '%s'", p);
  if ((p = c->opt[O_NOT_BEFORE]) && parse_time(p, &ev.not_before_us))
    return cli_usage(c, "--not-before takes a time (ISO-8601 or microseconds), not '%s'", p);
  char *in = NULL;
  int rc;
  if (c->nargs == 0 || !strcmp(c->args[0], "-")) {
    if ((rc = read_stdin(c, &in, &ev.payload_len))) return rc;
    ev.payload = in;
  } else {
    ev.payload = c->args[0];
    ev.payload_len = strlen(ev.payload);
  }
  /* An empty payload must reach the library as such, not as "use strlen". */
  if (!ev.payload_len) ev.payload = "";
  if (ev.metadata) ev.metadata_len = strlen(ev.metadata);
  if ((rc = cli_open(c, OPEN_CREATE))) goto out;
  evs_append_result res;
  if ((rc = evs_append(c->s, NULL, &ev, &res))) {
    rc = cli_lib_fail(c, rc);
    goto out;
  }
  char ts[EVS_TIME_BUF];
  evs_time_format(res.created_us, ts);
  printf("{\"event_id\":%llu,\"created_at\":\"%s\",\"duplicate\":%s}\n",
         (unsigned long long)res.id, ts, res.duplicate ? "true" : "false");
out:
  free(in);
  return rc;
}

/* ---- get --------------------------------------------------------------- */

int cmd_get(cli *c) {
  uint64_t *ids;
  size_t n;
  int rc, first = 0;
  if ((rc = cli_ids(c, &ids, &n))) return rc;
  if ((rc = cli_open(c, OPEN_READONLY))) goto out;
  for (size_t i = 0; i < n; i++) {
    evs_event *e;
    int r = evs_get(c->s, NULL, ids[i], &e);
    if (r) {
      r = cli_lib_fail(c, r);
      if (!first) first = r;
      continue;
    }
    put_event(stdout, e);
    evs_event_free(e);
  }
  rc = first;
out:
  free(ids);
  return rc;
}

/* ---- inbox and export -------------------------------------------------- */

static int time_option(cli *c, int o, int64_t *us) {
  const char *v = c->opt[o];
  if (v && parse_time(v, us))
    return cli_usage(c, "--%s '%s' is not a time: ISO-8601 UTC (2026-11-23T10:00:00Z, "
                        "fractions and +HH:MM allowed) or microseconds since the epoch",
                     o == O_SINCE ? "since" : "until", v);
  return 0;
}

static int id_option(cli *c, int o, uint64_t *id) {
  const char *v = c->opt[o];
  if (v && (parse_u64(v, id) || !*id))
    return cli_usage(c, "--%s '%s' is not an event id (a positive integer)",
                     o == O_MIN_ID ? "min-id" : "max-id", v);
  return 0;
}

/* The filters inbox and export share: every field of evs_query that
** selects events. The cursor binds them; --limit is not one. */
int filter_options(cli *c, evs_query *q, char **meta) {
  const char *v;
  q->source = c->opt[O_SOURCE];
  q->event_type = c->opt[O_TYPE];
  int rc = time_option(c, O_SINCE, &q->created_after_us);
  if (!rc) rc = time_option(c, O_UNTIL, &q->created_before_us);
  if (!rc) rc = id_option(c, O_MIN_ID, &q->min_id);
  if (!rc) rc = id_option(c, O_MAX_ID, &q->max_id);
  if (rc) return rc;
  if ((v = c->opt[O_PRIORITY]) && parse_priority(v, strlen(v), &q->priority))
    return cli_usage(c, "--priority must be low, normal or high (or 1, 2, 3), not '%s'", v);
  if ((v = c->opt[O_STATUS])) {
    if (!strcmp(v, "pending")) q->status = EVS_QUERY_PENDING;
    else if (!strcmp(v, "acknowledged")) q->status = EVS_QUERY_ACKNOWLEDGED;
    else if (!strcmp(v, "any")) q->status = EVS_QUERY_ANY;
    else if (!strcmp(v, "leased")) q->status = EVS_QUERY_LEASED;
    else if (!strcmp(v, "dead")) q->status = EVS_QUERY_DEAD;
    else if (!strcmp(v, "delayed")) q->status = EVS_QUERY_DELAYED;
    else if (!strcmp(v, "claimable")) q->status = EVS_QUERY_CLAIMABLE;
    else
      return cli_usage(c,
                       "--status must be pending, acknowledged, leased, dead, delayed, "
                       "claimable or any, not '%s'",
                       v);
  }
  q->descending = c->opt[O_DESC] != NULL;
  if ((v = c->opt[O_META])) {
    const char *eq = strchr(v, '=');
    if (!eq || eq == v) return cli_usage(c, "--meta '%s' is not KEY=VALUE", v);
    if (!(*meta = strdup(v))) return cli_fail(c, EX_ERROR, "out of memory");
    (*meta)[eq - v] = 0;
    q->metadata_key = *meta;
    q->metadata_value = *meta + (eq - v) + 1;
  }
  return 0;
}

/* The cursor stored in `path`, or NULL when there is no such file. */
static int read_cursor_file(cli *c, const char *path, char *buf, size_t size,
                            const char **cursor) {
  *cursor = NULL;
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    return cli_fail(c, EX_ERROR, "cannot open %s: %s", path, strerror(errno));
  }
  size_t n = fread(buf, 1, size - 1, f);
  int err = ferror(f), more = !err && fgetc(f) != EOF;
  fclose(f);
  if (err) return cli_fail(c, EX_ERROR, "cannot read %s", path);
  /* Cut short, a file of junk could pass for a cursor. */
  if (more)
    return cli_fail(c, EX_INVALID, "%s is not a cursor file (over %zu bytes)", path,
                    size - 1);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) n--;
  buf[n] = 0;
  if (n) *cursor = buf;
  return 0;
}

/* Replace `path` with the cursor (write a temporary file, then rename, so
** a crash leaves the old cursor or the new one). */
static int write_cursor_file(cli *c, const char *path, const char *cursor) {
  size_t n = strlen(path) + sizeof ".tmp";
  char *tmp = malloc(n);
  if (!tmp) return cli_fail(c, EX_ERROR, "out of memory");
  snprintf(tmp, n, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  int ok = f && fprintf(f, "%s\n", cursor) > 0;
  if (f && fclose(f)) ok = 0;
  if (ok && rename(tmp, path)) ok = 0;
  int rc = 0;
  if (!ok) {
    rc = cli_fail(c, EX_ERROR, "cannot write cursor file %s: %s", path, strerror(errno));
    remove(tmp);
  }
  free(tmp);
  return rc;
}

/* inbox, and dead: inbox with the status fixed (dead takes no --status). */
static int list_events(cli *c, int dead) {
  evs_query q = {0};
  char *meta = NULL;
  evs_page *page = NULL;
  int rc;
  if ((rc = filter_options(c, &q, &meta))) goto out;
  if (dead) q.status = EVS_QUERY_DEAD;
  const char *v = c->opt[O_LIMIT];
  if (v) {
    uint64_t n;
    if (parse_u64(v, &n) || n < 1 || n > EVS_PAGE_MAX) {
      rc = cli_usage(c, "--limit must be 1..%d, not '%s'", EVS_PAGE_MAX, v);
      goto out;
    }
    q.limit = (unsigned)n;
  }
  const char *cfile = c->opt[O_CURSOR_FILE];
  char cbuf[256];
  q.cursor = c->opt[O_CURSOR];
  if (cfile && !q.cursor && (rc = read_cursor_file(c, cfile, cbuf, sizeof cbuf, &q.cursor)))
    goto out;
  int follow = c->opt[O_FOLLOW] != NULL;
  if (follow && q.descending) {
    rc = cli_usage(c, "--follow waits for newer events: not with --descending");
    goto out;
  }
  /* Read-only even with --cursor-file: the position lives in F, not in
  ** the store, so inbox works beside an application writing the store. */
  if ((rc = cli_open(c, OPEN_READONLY))) goto out;
  char next[EVS_CURSOR_SIZE];
  for (;;) {
    if ((rc = evs_inbox(c->s, NULL, &q, &page))) {
      rc = cli_lib_fail(c, rc);
      goto out;
    }
    for (size_t i = 0; i < evs_page_count(page); i++) put_event(stdout, evs_page_event(page, i));
    if (cfile) {
      /* Only a page that reached stdout moves the stored position. */
      if (!(rc = cli_flush(c))) rc = write_cursor_file(c, cfile, evs_page_cursor(page));
    } else if (!follow) {
      printf("{\"next_cursor\":\"%s\",\"more\":%s}\n", evs_page_cursor(page),
             evs_page_more(page) ? "true" : "false");
    }
    if (rc || !follow || (rc = cli_flush(c))) break;
    snprintf(next, sizeof next, "%s", evs_page_cursor(page));
    q.cursor = next;
    /* Sleeps until another page's worth has arrived (a reader refreshes
    ** itself while it waits). */
    if (!evs_page_more(page) && (rc = evs_wait(c->s, &q, -1))) {
      rc = cli_lib_fail(c, rc);
      break;
    }
  }
out:
  evs_page_free(page);
  free(meta);
  return rc;
}

int cmd_inbox(cli *c) { return list_events(c, 0); }

int cmd_dead(cli *c) { return list_events(c, 1); }

int cmd_export(cli *c) {
  evs_query q = {.limit = EVS_PAGE_MAX, .status = EVS_QUERY_PENDING};
  char *meta = NULL;
  evs_page *page = NULL;
  int rc;
  if (!!c->opt[O_ALL] + !!c->opt[O_PENDING] + !!c->opt[O_STATUS] > 1)
    return cli_usage(c, "one of --all, --pending and --status");
  if (c->opt[O_ALL]) q.status = EVS_QUERY_ANY;
  if ((rc = filter_options(c, &q, &meta)) || (rc = cli_open(c, OPEN_READONLY))) goto out;
  do {
    if ((rc = evs_inbox(c->s, NULL, &q, &page))) {
      rc = cli_lib_fail(c, rc);
      break;
    }
    for (size_t i = 0; i < evs_page_count(page); i++)
      put_event(stdout, evs_page_event(page, i));
    if (ferror(stdout)) break; /* reported by main's flush */
    q.cursor = evs_page_cursor(page);
  } while (evs_page_more(page));
out:
  evs_page_free(page);
  free(meta);
  return rc;
}

/* ---- ack and delete ---------------------------------------------------- */

/* What ack and delete do to one id inside the transaction: 0 (done; *out
** is printed), a negative library code (its message is in evs_errmsg), or
** a positive exit code for a problem the op has reported itself. */
typedef int (*id_op)(cli *c, evs_txn *t, uint64_t id, int64_t *out);
typedef void (*id_print)(uint64_t id, int64_t out);

/* Run `op` on every id in one transaction. An id refused with
** EVS_ENOTFOUND or EVS_ECONFLICT (or by the op itself) is reported and
** skipped; any other error rolls everything back. The lines for the ids
** done are printed after the commit. */
static int for_ids(cli *c, id_op op, id_print print) {
  uint64_t *ids;
  size_t n;
  int rc, first = 0;
  if ((rc = cli_ids(c, &ids, &n))) return rc;
  int64_t *res = calloc(n ? n : 1, sizeof *res);
  char *done = calloc(n ? n : 1, 1);
  evs_txn *t = NULL;
  if (!res || !done) {
    rc = cli_fail(c, EX_ERROR, "out of memory");
    goto out;
  }
  if ((rc = cli_open(c, OPEN_EXISTING))) goto out;
  if ((rc = evs_txn_begin(c->s, &t))) {
    rc = cli_lib_fail(c, rc);
    goto out;
  }
  size_t ndone = 0;
  for (size_t i = 0; i < n; i++) {
    int r = op(c, t, ids[i], &res[i]);
    if (!r) {
      done[i] = 1;
      ndone++;
      continue;
    }
    if (r < 0 && r != EVS_ENOTFOUND && r != EVS_ECONFLICT) {
      rc = cli_lib_fail(c, r);
      evs_txn_rollback(t);
      goto out;
    }
    if (r < 0) r = cli_lib_fail(c, r);
    if (!first) first = r;
  }
  rc = ndone ? evs_txn_commit(t) : evs_txn_rollback(t);
  if (rc) {
    rc = cli_lib_fail(c, rc);
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if (done[i]) print(ids[i], res[i]);
  rc = first;
out:
  free(ids);
  free(res);
  free(done);
  return rc;
}

static int ack_op(cli *c, evs_txn *t, uint64_t id, int64_t *at) {
  return evs_ack(c->s, t, id, at);
}

static void ack_print(uint64_t id, int64_t at) {
  char ts[EVS_TIME_BUF];
  evs_time_format(at, ts);
  printf("{\"event_id\":%llu,\"acknowledged_at\":\"%s\"}\n", (unsigned long long)id, ts);
}

int cmd_ack(cli *c) {
  if (!c->opt[O_TOKEN]) return for_ids(c, ack_op, ack_print);
  /* With a lease token: the one event that token was handed out for. */
  uint64_t id, token;
  int rc;
  if ((rc = lease_target(c, &id, &token))) return rc;
  if ((rc = cli_open(c, OPEN_EXISTING))) return rc;
  int64_t at;
  if ((rc = evs_ack_lease(c->s, id, token, &at))) return cli_lib_fail(c, rc);
  ack_print(id, at);
  return 0;
}

/* evs_delete of an id that does not exist succeeds (deleting is
** idempotent); the CLI reports it unless --force. */
static int delete_op(cli *c, evs_txn *t, uint64_t id, int64_t *existed) {
  int e, rc = evs_delete(c->s, t, id, &e);
  if (rc) return rc;
  *existed = e;
  if (!e && !c->opt[O_FORCE])
    return cli_fail(c, EX_NOTFOUND, "event %llu not found", (unsigned long long)id);
  return 0;
}

static void delete_print(uint64_t id, int64_t existed) {
  printf("{\"event_id\":%llu,\"deleted\":%s}\n", (unsigned long long)id,
         existed ? "true" : "false");
}

int cmd_delete(cli *c) { return for_ids(c, delete_op, delete_print); }

/* ---- stats and verify -------------------------------------------------- */

int cmd_stats(cli *c) {
  int rc;
  if ((rc = cli_open(c, OPEN_READONLY))) return rc;
  char j[EVS_STATS_JSON_SIZE];
  if ((rc = evs_stats_json(c->s, j, sizeof j))) return cli_lib_fail(c, rc);
  printf("%s\n", j);
  return 0;
}

/* ---- config and repair ------------------------------------------------- */

/* One KEY=VALUE of `config` into o (the [store] fields only). */
static int config_arg(cli *c, const char *arg, evs_options *o) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) return cli_usage(c, "'%s' is not KEY=VALUE", arg);
  size_t kl = (size_t)(eq - arg);
  const char *v = eq + 1;
  uint64_t n = 0;
  int bad = 0;
#define KEY(k) (kl == strlen(k) && !strncmp(arg, k, kl))
  if (KEY("retention")) {
    bad = parse_duration(v, &o->retention_us);
  } else if (KEY("idempotency_window")) {
    bad = parse_duration(v, &o->idempotency_window_us);
  } else if (KEY("max_payload") || KEY("max_metadata") || KEY("segment_size")) {
    bad = parse_u64(v, &n) || !n || n > UINT32_MAX;
    uint32_t *f = KEY("max_payload")    ? &o->max_payload
                  : KEY("max_metadata") ? &o->max_metadata
                                        : &o->segment_size;
    *f = (uint32_t)n;
  } else if (KEY("compress_threshold")) {
    if (!strcmp(v, "never")) o->compress_threshold = UINT32_MAX;
    else bad = parse_u64(v, &n) || !n || n > UINT32_MAX, o->compress_threshold = (uint32_t)n;
  } else if (KEY("compress_level")) {
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    bad = errno || end == v || *end || !l || l < INT32_MIN || l > INT32_MAX;
    o->compress_level = (int)l;
  } else if (KEY("max_deliveries")) {
    bad = parse_u64(v, &n) || !n || n > 255;
    o->max_deliveries = (uint32_t)n;
  } else if (KEY("dict_compress")) {
    bad = strcmp(v, "on") && strcmp(v, "off");
    o->dict_compress = !strcmp(v, "on") ? 1 : -1;
  } else {
    return cli_usage(c, "unknown setting '%.*s' (retention, idempotency_window, max_payload, "
                        "max_metadata, compress_threshold, compress_level, dict_compress, "
                        "segment_size, max_deliveries)",
                     (int)kl, arg);
  }
#undef KEY
  if (bad) return cli_usage(c, "bad value for %.*s: '%s'", (int)kl, arg, v);
  return 0;
}

int cmd_config(cli *c) {
  evs_options set = {0};
  int rc;
  for (int i = 0; i < c->nargs; i++)
    if ((rc = config_arg(c, c->args[i], &set))) return rc;
  evs_options chk;
  if (evs_options_resolve(&set, &chk)) return cli_usage(c, "%s", evs_errmsg(NULL));
  /* Showing only reads: it works beside a writer. Changing opens for
  ** writing (and so exits 5 while another process has the store open). */
  if ((rc = cli_open(c, c->nargs ? OPEN_EXISTING : OPEN_READONLY))) return rc;
  if (c->nargs) {
    /* Settings change only as a store is opened: reopen, setting them. */
    evs_store_close(c->s);
    c->s = NULL;
    /* set holds only [store] fields; --sync is the one option of the open. */
    evs_options want = set;
    want.sync = c->eo.sync;
    if ((rc = evs_store_open(c->dir, &want, &c->s)))
      return cli_fail(c, cli_exit_code(rc), "%s", evs_errmsg(NULL));
  }
  char j[EVS_STATS_JSON_SIZE];
  if ((rc = evs_settings_json(c->s, j, sizeof j))) return cli_lib_fail(c, rc);
  printf("%s\n", j);
  return 0;
}

int cmd_repair(cli *c) {
  evs_repair_report r;
  int rc = cli_need_dir(c);
  if (rc) return rc;
  rc = evs_repair(c->dir, &c->eo, &r);
  if (rc) return cli_fail(c, cli_exit_code(rc), "%s", evs_errmsg(NULL));
  printf("{\"changed\":%s,\"segments_checked\":%llu,\"segments_rewritten\":%llu,"
         "\"segments_adopted\":%llu,\"segments_lost\":%llu,\"transactions_dropped\":%llu,"
         "\"records_dropped\":%llu,\"bytes_dropped\":%llu,\"saved_to\":",
         r.changed ? "true" : "false", (unsigned long long)r.segments_checked,
         (unsigned long long)r.segments_rewritten, (unsigned long long)r.segments_adopted,
         (unsigned long long)r.segments_lost, (unsigned long long)r.transactions_dropped,
         (unsigned long long)r.records_dropped, (unsigned long long)r.bytes_dropped);
  if (r.saved_to[0]) printf("\"%s\"}\n", r.saved_to);
  else printf("null}\n");
  return 0;
}

int cmd_compact(cli *c) {
  int rc;
  if ((rc = cli_open(c, OPEN_EXISTING))) return rc;
  evs_compact_report r;
  if ((rc = evs_compact(c->s, &r))) return cli_lib_fail(c, rc);
  char j[EVS_STATS_JSON_SIZE];
  if ((rc = evs_compact_report_json(&r, j, sizeof j))) return cli_lib_fail(c, rc);
  printf("%s\n", j);
  return 0;
}

int cmd_verify(cli *c) {
  int rc;
  /* Read-only: verify never changes the store it checks, and checks a
  ** store an application has open for writing as it was when it opened. */
  if ((rc = cli_open(c, OPEN_READONLY))) return rc;
  /* A torn or uncommitted tail (a crash's) is not a failed check, but
  ** whoever verifies should hear of it. */
  evs_stats st;
  if ((rc = evs_stats_get(c->s, &st))) return cli_lib_fail(c, rc);
  if (st.recovered_bytes_dropped)
    cli_fail(c, 0, "warning: the log ends in a torn or uncommitted tail of %llu bytes (%llu "
                   "records) that the next open for writing cuts",
             (unsigned long long)st.recovered_bytes_dropped,
             (unsigned long long)st.recovered_records_dropped);
  evs_verify_report r = {0};
  rc = evs_verify(c->s, &r);
  if (rc && rc != EVS_ECORRUPT) return cli_lib_fail(c, rc);
  if (rc) cli_lib_fail(c, rc);
  printf("{\"ok\":%s,\"segments\":%llu,\"records\":%llu,\"events\":%llu,"
         "\"payloads\":%llu,\"problems\":%llu,\"recovered_bytes_dropped\":%llu,"
         "\"recovered_records_dropped\":%llu}\n",
         rc ? "false" : "true", (unsigned long long)r.segments,
         (unsigned long long)r.records, (unsigned long long)r.events,
         (unsigned long long)r.payloads, (unsigned long long)r.problems,
         (unsigned long long)st.recovered_bytes_dropped,
         (unsigned long long)st.recovered_records_dropped);
  return rc ? EX_CORRUPT : 0;
}
