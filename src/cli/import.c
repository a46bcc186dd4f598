/*
** import.c: `evstore DIR import FILE`. Reads JSON objects line by line
** (an object left open at the end of a line continues on the next), turns
** each into an evs_event_in that points into the line's own bytes, appends
** them with evs_append_batch, and reports every rejected line with its
** number, in order. Owns the progress display and the summary.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"

#define BATCH 500
#define BATCH_BYTES (8u << 20)

typedef struct rec {
  size_t line; /* its first line */
  char *buf;   /* the object's text; strings decoded in place */
  evs_event_in ev;
  char why[256]; /* non-empty: rejected before reaching the library */
} rec;

typedef struct reader {
  FILE *f;
  const char *name; /* for messages */
  char *line;       /* getline's buffer */
  size_t cap;
  char *replay; /* lines to read again, see reject_open() */
  size_t rlen, roff;
  size_t lineno;  /* of the line last returned */
  uint64_t bytes; /* read from f so far */
} reader;

typedef struct importer {
  cli *c;
  reader r;
  int stop_on_error;
  size_t max_record;
  int progress, shown;
  uint64_t total; /* input size when known, else 0 */
  double t0, last;
  rec recs[BATCH];
  size_t n, bytes;
  evs_event_in ev[BATCH];
  evs_append_result res[BATCH];
  uint64_t imported, duplicate, rejected;
  size_t stopped_at; /* the first line not imported after a stop */
} importer;

/* ---- Progress ---------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fmt_rate(double v, char *out, size_t n) {
  if (v < 1e3) snprintf(out, n, "%.0f", v);
  else if (v < 1e6) snprintf(out, n, "%.1fk", v / 1e3);
  else snprintf(out, n, "%.2fM", v / 1e6);
}

static void fmt_eta(double s, char *out, size_t n) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

/* Redraw the progress line, at most ten times a second. */
static void progress_draw(importer *im) {
  if (!im->progress) return;
  double t = now_s();
  if (im->last > 0 && t - im->last < 0.1) return;
  im->last = t;
  double el = t - im->t0;
  char rate[32];
  fmt_rate(el > 0 ? (double)im->r.lineno / el : 0, rate, sizeof rate);
  if (im->total) {
    uint64_t done = im->r.bytes < im->total ? im->r.bytes : im->total;
    int pct = (int)(done * 100 / im->total);
    char bar[25], eta[32] = "--:--";
    int fill = pct * 24 / 100;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(24 - fill));
    bar[24] = 0;
    if (done) fmt_eta(el * (double)(im->total - done) / (double)done, eta, sizeof eta);
    fprintf(stderr, "\r[%s] %3d%%  %zu lines  %s lines/s  ETA %s\033[K", bar, pct,
            im->r.lineno, rate, eta);
  } else {
    char e[32];
    fmt_eta(el, e, sizeof e);
    fprintf(stderr, "\r%zu lines  %s lines/s  %s elapsed\033[K", im->r.lineno, rate, e);
  }
  fflush(stderr);
  im->shown = 1;
}

static void progress_clear(importer *im) {
  if (!im->shown) return;
  fputs("\r\033[K", stderr);
  fflush(stderr);
  im->shown = 0;
}

/* ---- Reading lines and objects ----------------------------------------- */

/* The next line, with its line break: 1, 0 at the end, -1 on an error. */
static int next_line(reader *r, const char **p, size_t *n) {
  if (r->replay) {
    const char *s = r->replay + r->roff, *nl = memchr(s, '\n', r->rlen - r->roff);
    *p = s;
    *n = nl ? (size_t)(nl - s) + 1 : r->rlen - r->roff;
    r->roff += *n;
    r->lineno++;
    return 1;
  }
  ssize_t got = getline(&r->line, &r->cap, r->f);
  if (got < 0) return ferror(r->f) ? -1 : 0;
  r->bytes += (uint64_t)got;
  r->lineno++;
  *p = r->line;
  *n = (size_t)got;
  return 1;
}

/* Called after the replay buffer's last line has been consumed. */
static void replay_done(reader *r) {
  if (r->replay && r->roff == r->rlen) {
    free(r->replay);
    r->replay = NULL;
    r->rlen = r->roff = 0;
  }
}

static int blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') return 0;
  return 1;
}

/* An object was left open at the end of its first line and what followed
** did not complete it: most likely that line is truncated. Reject only the
** first line and read the following ones again as lines of their own. */
static int reject_open(reader *r, rec *o, const char *buf, size_t len, size_t line2) {
  size_t rest = r->rlen - r->roff, n = len - line2;
  char *nb = malloc(n + rest + 1);
  if (!nb) return -1;
  memcpy(nb, buf + line2, n);
  if (rest) memcpy(nb + n, r->replay + r->roff, rest);
  free(r->replay);
  r->replay = nb;
  r->rlen = n + rest;
  r->roff = 0;
  r->lineno = o->line;
  return 0;
}

static const char *const members[] = {
    "source", "event_type", "payload", "metadata", "idempotency_key", "priority",
    "ordering_key", "not_before",
    /* written by export, assigned by the store: ignored */
    "event_id", "created_at", "status", "acknowledged_at",
    /* the consumer fields of an exported leased or dead event: an imported
    ** event starts pending, never delivered */
    "delivery_count", "lease_token", "lease_expires_at", "leased_by", "delayed_until"};
enum {
  M_SOURCE,
  M_TYPE,
  M_PAYLOAD,
  M_METADATA,
  M_KEY,
  M_PRIORITY,
  M_ORDERING_KEY,
  M_NOT_BEFORE,
  M_NKNOWN = 17
};
_Static_assert(sizeof members / sizeof *members == M_NKNOWN, "every member is known");

/* A decoded string member, in place; NULL with o->why set if it is not a
** string (or null, when allowed). */
static const char *string_member(rec *o, char *v, size_t len, const char *name,
                                 int null_ok) {
  if (null_ok && len == 4 && !memcmp(v, "null", 4)) return NULL;
  if (v[0] != '"') {
    snprintf(o->why, sizeof o->why, "\"%s\" must be a string%s", name,
             null_ok ? " or null" : "");
    return NULL;
  }
  /* The line was checked whole, so only a NUL can stop it being a C
  ** string. Decoding in place ends it with a NUL where the closing quote
  ** was (or earlier). */
  size_t n;
  if (evs_json_string_decode(v + 1, len - 2, v, &n) || strlen(v) != n) {
    snprintf(o->why, sizeof o->why, "\"%s\": string contains \\u0000", name);
    return NULL;
  }
  return v;
}

/* Fill o->ev from the members of the checked object in o->buf[0..len);
** o->why on a problem. */
static void to_event(rec *o, size_t len) {
  int seen[M_NKNOWN] = {0};
  size_t pos = 0;
  evs_json_span nm, val;
  while (!o->why[0] && !evs_json_member_next(o->buf, len, &pos, &nm, &val)) {
    const char *name = o->buf + nm.off;
    char *v = o->buf + val.off;
    int k = 0;
    while (k < M_NKNOWN && !jl_name_is(name, nm.len, members[k])) k++;
    if (k == M_NKNOWN) {
      snprintf(o->why, sizeof o->why, "unknown member \"%.*s\"",
               (int)(nm.len > 40 ? 40 : nm.len), name);
      break;
    }
    if (seen[k]++) {
      snprintf(o->why, sizeof o->why, "member \"%s\" appears twice", members[k]);
      break;
    }
    switch (k) {
    case M_SOURCE:
      o->ev.source = string_member(o, v, val.len, members[k], 0);
      break;
    case M_TYPE:
      o->ev.event_type = string_member(o, v, val.len, members[k], 0);
      break;
    case M_PAYLOAD:
      o->ev.payload = v;
      o->ev.payload_len = val.len;
      break;
    case M_METADATA:
      if (val.len == 4 && !memcmp(v, "null", 4)) break;
      o->ev.metadata = v;
      o->ev.metadata_len = val.len;
      break;
    case M_KEY:
      o->ev.idempotency_key = string_member(o, v, val.len, members[k], 1);
      break;
    case M_PRIORITY: {
      const char *p = v;
      size_t l = val.len;
      if (v[0] == '"') {
        if (!(p = string_member(o, v, l, members[k], 0))) break;
        l = strlen(p);
      }
      if (parse_priority(p, l, &o->ev.priority))
        snprintf(o->why, sizeof o->why,
                 "\"priority\" must be \"low\", \"normal\", \"high\", 1, 2 or 3");
      break;
    }
    case M_ORDERING_KEY:
      /* Its length and characters are the library's to judge. */
      o->ev.ordering_key = string_member(o, v, val.len, members[k], 1);
      break;
    case M_NOT_BEFORE: {
      /* As append --not-before takes it (and export writes it), or the
      ** same microseconds as a JSON number. */
      const char *p = v;
      size_t l = val.len;
      if (l == 4 && !memcmp(v, "null", 4)) break;
      if (v[0] == '"') {
        if (!(p = string_member(o, v, l, members[k], 0))) break;
        l = strlen(p);
      }
      if (parse_time_n(p, l, &o->ev.not_before_us))
        snprintf(o->why, sizeof o->why,
                 "\"not_before\" must be a time: an ISO-8601 string "
                 "(\"2026-11-23T10:00:00Z\") or microseconds since the epoch, or null");
      break;
    }
    default:
      break;
    }
  }
  for (int k = M_SOURCE; k <= M_PAYLOAD && !o->why[0]; k++)
    if (!seen[k]) snprintf(o->why, sizeof o->why, "missing \"%s\"", members[k]);
}

/* Does the line end (white space aside) with '}'? Only such a line can
** complete an object. */
static int closes(const char *p, size_t n) {
  while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  return n && p[n - 1] == '}';
}

/* Check the object so far, buf[0..len) of `lines` lines (the second at
** line2), with the library's validator. 1: complete; 0: valid so far;
** -1: wrong whatever follows, o->why set (and, when a later line broke an
** object the first left open, those lines queued to be read again);
** -2: out of memory. */
static int judge(reader *r, rec *o, const char *buf, size_t len, size_t lines,
                 size_t line2) {
  size_t at;
  const char *why;
  int more;
  if (!evs_json_check(buf, len, &at, &why, &more)) return 1;
  if (more) return 0;
  if (lines == 1 || at < line2) {
    /* The first line's own problem. */
    snprintf(o->why, sizeof o->why, "invalid JSON at column %zu: %s", at + 1, why);
    return -1;
  }
  snprintf(o->why, sizeof o->why,
           "JSON object not closed at the end of the line, and line %zu does not "
           "continue it",
           o->line + 1);
  return reject_open(r, o, buf, len, line2) ? -2 : -1;
}

/* Read the next object into o: 1, 0 at the end of the input, -1 on a read
** error or out of memory. A malformed object is returned with o->why set.
** The library checks the text whole each time it may have become
** complete or definitely wrong: after the first line, after each line
** ending in '}', and before giving up on an unfinished object. */
static int read_record(importer *im, rec *o) {
  reader *r = &im->r;
  char *buf = NULL;
  size_t len = 0, cap = 0, line2 = 0, lines = 0;
  int checked = 1, v; /* checked: buf as it is now has been judged */
  memset(o, 0, sizeof *o);
  for (;;) {
    const char *p;
    size_t n;
    int got = next_line(r, &p, &n);
    if (got < 0) goto fail;
    if (got == 0) {
      replay_done(r);
      if (!len) return 0;
      if (!checked && (v = judge(r, o, buf, len, lines, line2)) < 0) {
        if (v == -2) goto fail;
        break;
      }
      if (lines > 1) {
        snprintf(o->why, sizeof o->why,
                 "JSON object not closed at the end of the line (nor by the end "
                 "of the input)");
        if (reject_open(r, o, buf, len, line2)) goto fail;
      } else {
        snprintf(o->why, sizeof o->why, "JSON object not closed at the end of the input");
      }
      break;
    }
    if (!len && blank(p, n)) {
      replay_done(r);
      continue;
    }
    if (len + n + 1 > cap) {
      size_t nc = (len + n + 1) * 2;
      char *nb = realloc(buf, nc);
      if (!nb) goto fail;
      buf = nb;
      cap = nc;
    }
    memcpy(buf + len, p, n);
    if (!len) o->line = r->lineno;
    if (++lines == 2) line2 = len;
    len += n;
    buf[len] = 0;
    replay_done(r);
    if (len > im->max_record) {
      /* A later line that already broke the object is named as such. */
      if (lines > 1 && (v = judge(r, o, buf, len, lines, line2)) < 0) {
        if (v == -2) goto fail;
        break;
      }
      snprintf(o->why, sizeof o->why, "%s longer than %zu bytes, the most an event can take",
               lines > 1 ? "JSON object not closed at the end of the line, and what follows"
                         : "line is",
               im->max_record);
      if (lines > 1 && reject_open(r, o, buf, len, line2)) goto fail;
      break;
    }
    checked = lines == 1 || closes(p, n);
    if (!checked) continue;
    if ((v = judge(r, o, buf, len, lines, line2)) == 1) {
      o->buf = buf;
      to_event(o, len);
      return 1;
    }
    if (v == 0) continue;
    if (v == -2) goto fail;
    break;
  }
  o->buf = buf;
  return 1;
fail:
  free(buf);
  return -1;
}

/* ---- Appending --------------------------------------------------------- */

/* evs_append_batch keeps only the first rejected item's message. For the
** others, ask the library again, inside a transaction that is rolled
** back, so nothing can be stored by asking. */
static void library_reason(importer *im, const evs_event_in *ev, int rc, char *out,
                           size_t n) {
  evs_store *s = im->c->s;
  evs_txn *t;
  snprintf(out, n, "%s", evs_strerror(rc));
  if (evs_txn_begin(s, &t)) return;
  if (evs_append(s, t, ev, NULL)) snprintf(out, n, "%s", evs_errmsg(s));
  evs_txn_rollback(t);
}

static void report(importer *im, size_t line, const char *why) {
  progress_clear(im);
  fprintf(stderr, "evstore: import: %s:%zu: %s\n", im->r.name, line, why);
  im->rejected++;
}

static void drop_batch(importer *im) {
  for (size_t i = 0; i < im->n; i++) free(im->recs[i].buf);
  im->n = im->bytes = 0;
}

/* A store error ended the import: nothing of this batch was stored. */
static int batch_failed(importer *im, int rc) {
  progress_clear(im);
  int code = cli_lib_fail(im->c, rc);
  im->stopped_at = im->recs[0].line;
  drop_batch(im);
  return code;
}

/* Append the batch and report its lines in order. Returns 0 or an exit
** code for an error that ends the import. */
static int flush(importer *im) {
  evs_store *s = im->c->s;
  size_t k = 0, idx[BATCH], bad = SIZE_MAX;
  int rc;
  for (size_t i = 0; i < im->n; i++)
    if (!im->recs[i].why[0]) {
      idx[i] = k;
      im->ev[k++] = im->recs[i].ev;
    }
  if (k) {
    evs_txn *t = NULL;
    if (im->stop_on_error && (rc = evs_txn_begin(s, &t))) return batch_failed(im, rc);
    if ((rc = evs_append_batch(s, t, im->ev, k, im->res))) {
      if (t) evs_txn_rollback(t);
      return batch_failed(im, rc);
    }
    if (t) {
      /* Nothing after the first rejected line may be stored: start again
      ** with only the lines before it. */
      for (size_t j = 0; j < k && bad == SIZE_MAX; j++)
        if (im->res[j].rc) bad = j;
      if (bad == SIZE_MAX) {
        rc = evs_txn_commit(t);
      } else {
        evs_txn_rollback(t);
        evs_append_result keep = im->res[bad];
        rc = bad ? evs_append_batch(s, NULL, im->ev, bad, im->res) : 0;
        im->res[bad] = keep;
      }
      if (rc) return batch_failed(im, rc);
    }
  }
  for (size_t i = 0; i < im->n; i++) {
    rec *o = &im->recs[i];
    int failed = 1;
    if (o->why[0]) {
      report(im, o->line, o->why);
    } else if (im->res[idx[i]].rc) {
      char why[512];
      library_reason(im, &im->ev[idx[i]], im->res[idx[i]].rc, why, sizeof why);
      report(im, o->line, why);
    } else {
      failed = 0;
      if (im->res[idx[i]].duplicate)
        im->duplicate++;
      else
        im->imported++;
    }
    if (failed && im->stop_on_error) {
      im->stopped_at = o->line;
      break;
    }
  }
  drop_batch(im);
  progress_draw(im);
  return 0;
}

/* ---- The command ------------------------------------------------------- */

static int run(importer *im) {
  int rc = 0;
  for (;;) {
    rec *o = &im->recs[im->n];
    int got = read_record(im, o);
    if (got < 0) {
      int e = errno;
      if (!(rc = flush(im)) && !im->stopped_at) {
        progress_clear(im);
        rc = cli_fail(im->c, EX_ERROR, "cannot read %s: %s", im->r.name,
                      ferror(im->r.f) ? strerror(e) : "out of memory");
        im->stopped_at = im->r.lineno + 1;
      }
      return rc;
    }
    if (got == 0) return flush(im);
    im->n++;
    im->bytes += strlen(o->buf);
    if (im->n == BATCH || im->bytes >= BATCH_BYTES || (o->why[0] && im->stop_on_error)) {
      if ((rc = flush(im)) || im->stopped_at) return rc;
    }
  }
}

int cmd_import(cli *c) {
  importer *im = calloc(1, sizeof *im);
  if (!im) return cli_fail(c, EX_ERROR, "out of memory");
  const char *path = c->args[0];
  int rc = 0;
  im->c = c;
  im->stop_on_error = c->opt[O_STOP] != NULL;
  if (!strcmp(path, "-")) {
    im->r.f = stdin;
    im->r.name = "<stdin>";
  } else if (!(im->r.f = fopen(path, "r"))) {
    rc = cli_fail(c, errno == ENOENT ? EX_NOTFOUND : EX_ERROR, "cannot open %s: %s", path,
                  strerror(errno));
    goto out;
  } else {
    im->r.name = path;
  }
  evs_options o;
  if ((rc = evs_options_resolve(&c->eo, &o))) {
    rc = cli_fail(c, cli_exit_code(rc), "%s", evs_errmsg(NULL));
    goto out;
  }
  /* Room for the largest valid event: payload, metadata and the rest. */
  im->max_record = (size_t)o.max_payload + EVS_MAX_METADATA + 65536;
  struct stat st;
  if (!fstat(fileno(im->r.f), &st) && S_ISREG(st.st_mode)) im->total = (uint64_t)st.st_size;
  if ((rc = cli_open(c, 1))) goto out;
  im->progress = !c->opt[O_QUIET] && isatty(STDERR_FILENO);
  im->t0 = now_s();
  rc = run(im);
  progress_clear(im);
  printf("{\"imported\":%llu,\"duplicate\":%llu,\"rejected\":%llu",
         (unsigned long long)im->imported, (unsigned long long)im->duplicate,
         (unsigned long long)im->rejected);
  if (im->stopped_at) printf(",\"stopped_at_line\":%zu", im->stopped_at);
  printf("}\n");
  if (!rc && im->rejected) rc = EX_INVALID;
out:
  drop_batch(im);
  if (im->r.f && im->r.f != stdin) fclose(im->r.f);
  free(im->r.line);
  free(im->r.replay);
  free(im);
  return rc;
}
