/*
** prep.c: validation of incoming events (names, JSON, sizes, keys) and
** their preparation for the log (payload compression), before any lock
** is taken.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "compress.h"
#include "dict.h"
#include "error.h"
#include "json.h"
#include "prep.h"
#include "store.h"
#include "text.h"
#include "util.h"

/* ---- Validation -------------------------------------------------------- */

int evs_prep_name(evs_store *s, const char *what, const char *in,
                      const char **out, size_t *outlen) {
  if (!in) return evs_err(s, EVS_EINVAL, "%s is required", what);
  size_t n;
  in = evs_trim(in, &n);
  if (!n) return evs_err(s, EVS_EINVAL, "%s is empty", what);
  if (n > EVS_MAX_NAME)
    return evs_err(s, EVS_ETOOBIG, "%s is %zu bytes, limit is %d", what, n,
                   EVS_MAX_NAME);
  const unsigned char *p = (const unsigned char *)in;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = evs_utf8_seq(p + i, n - i, &cp);
    if (!l) return evs_err(s, EVS_EINVAL, "%s is not valid UTF-8 (byte %zu)", what, i);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
      return evs_err(s, EVS_EINVAL, "%s contains a control character (byte %zu)",
                     what, i);
    i += l;
  }
  *out = in;
  *outlen = n;
  return 0;
}

static int check_json(evs_store *s, const char *what, const char *p, size_t n,
                      size_t limit) {
  if (n > limit)
    return evs_err(s, EVS_ETOOBIG, "%s is %zu bytes, limit is %zu", what, n, limit);
  if (s->opt.skip_json_validation) return 0;
  char why[160];
  if (evs_json_check_object(p, n, why, sizeof why))
    return evs_err(s, EVS_EJSON, "%s: %s", what, why);
  return 0;
}

/* A key (idempotency, ordering): 1..max bytes, compared byte for byte.
** Any character, but characters: bytes that are not UTF-8 have no JSON
** form, so an export could not carry the key. */
static int check_key(evs_store *s, const char *what, const char *in, size_t max,
                     const char **out, size_t *outlen) {
  size_t n = strlen(in);
  if (!n) return evs_err(s, EVS_EINVAL, "%s is empty", what);
  if (n > max) return evs_err(s, EVS_ETOOBIG, "%s is %zu bytes, limit is %zu", what, n, max);
  const unsigned char *k = (const unsigned char *)in;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t l = evs_utf8_seq(k + i, n - i, &cp);
    if (!l) return evs_err(s, EVS_EINVAL, "%s is not valid UTF-8 (byte %zu)", what, i);
    i += l;
  }
  *out = in;
  *outlen = n;
  return 0;
}

void evs_prep_free(evs_prep *p) {
  free(p->z);
  p->z = NULL;
}

/* Validate ev into p, all but compressing its payload. */
int evs_prep_check(evs_store *s, const evs_event_in *ev, evs_prep *p) {
  memset(p, 0, sizeof *p);
  if (!ev) return evs_err(s, EVS_EINVAL, "event is NULL");
  int rc;
  if ((rc = evs_prep_name(s, "source", ev->source, &p->src, &p->srclen)) ||
      (rc = evs_prep_name(s, "event_type", ev->event_type, &p->typ, &p->typlen)))
    return rc;
  if (!ev->payload) return evs_err(s, EVS_EINVAL, "payload is required");
  p->payload = ev->payload;
  p->plen = ev->payload_len ? ev->payload_len : strlen(ev->payload);
  if ((rc = check_json(s, "payload", p->payload, p->plen, s->opt.max_payload)))
    return rc;
  if (ev->metadata) {
    p->meta = ev->metadata;
    p->mlen = ev->metadata_len ? ev->metadata_len : strlen(ev->metadata);
    if ((rc = check_json(s, "metadata", p->meta, p->mlen, s->opt.max_metadata)))
      return rc;
  }
  if (ev->idempotency_key &&
      (rc = check_key(s, "idempotency_key", ev->idempotency_key, EVS_MAX_IDEMPOTENCY_KEY,
                      &p->idem, &p->ilen)))
    return rc;
  if (ev->ordering_key &&
      (rc = check_key(s, "ordering_key", ev->ordering_key, EVS_MAX_ORDERING_KEY, &p->order,
                      &p->olen)))
    return rc;
  if (ev->priority < 0 || ev->priority > EVS_PRIORITY_HIGH)
    return evs_err(s, EVS_EINVAL, "priority %d is not 1 (low), 2 (normal) or 3 (high)",
                   ev->priority);
  p->prio = ev->priority ? ev->priority : EVS_PRIORITY_NORMAL;
  if (ev->not_before_us < 0 || ev->not_before_us > EVS_TIME_MAX)
    return evs_err(s, EVS_EINVAL, "not_before_us %" PRId64 " is outside 1970-01-01..9999-12-31",
                   ev->not_before_us);
  p->not_before = ev->not_before_us;
  return 0;
}

/* The payload compressed, or NULL: too small, not worth it (saves less
** than 1/8), or no memory (*nomem set). Below compress_threshold only with
** the store's dictionary. */
uint8_t *evs_prep_compress(evs_store *s, const char *payload, size_t plen, size_t *zlen,
                           int *nomem) {
  *zlen = 0;
  *nomem = 0;
  const ZSTD_CDict *cd = NULL;
  if (plen < s->opt.compress_threshold &&
      (plen < EVS_DICT_MIN || !(cd = __atomic_load_n(&s->cdict, __ATOMIC_ACQUIRE))))
    return NULL;
  size_t cap = ZSTD_compressBound(plen);
  uint8_t *z = malloc(cap);
  if (!z) {
    *nomem = 1;
    return NULL;
  }
  *zlen = evs_zstd_compress(s, cd, payload, plen, z, cap);
  if (*zlen) return z;
  free(z);
  return NULL;
}

/* Validate ev and compress its payload; the costly part of an append runs
** here, before the write transaction is taken. */
int evs_prep_event(evs_store *s, const evs_event_in *ev, evs_prep *p) {
  int rc = evs_prep_check(s, ev, p), nomem;
  if (rc) return rc;
  p->z = evs_prep_compress(s, p->payload, p->plen, &p->zlen, &nomem);
  return nomem ? evs_err(s, EVS_ENOMEM, "out of memory") : 0;
}

