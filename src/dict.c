/*
** dict.c: the store's zstd dictionary for small payloads (option
** dict_compress). A 300-byte JSON payload compresses badly on its own
** (1.4x) and well against a dictionary trained on its siblings (4x).
**
** Life of the dictionary: once the store holds SAMPLES_MAX events (counted
** across opens: a process appending a few events at a time gets one too),
** the maintenance thread samples the newest small raw payloads of the log,
** trains a dictionary (ZDICT, ~50 ms), writes it to evstore.dict (temp
** file, fdatasync, rename, directory fsync) and only then publishes it, so
** no record that needs it can be committed before it is durable.
** It never changes after that: every payload compressed with it names it
** by the dictionary id in its zstd frame header. A store with a dictionary
** reads it at every open, whatever its options.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zdict.h>

#include "dict.h"
#include "error.h"
#include "log.h"
#include "replay.h"
#include "store.h"
#include "util.h"

/* The dictionary's capacity: measured on order-like JSON, 2..32 KiB give
** the same ratio; 16 KiB leaves room for more varied payloads. */
#define DICT_CAP (16u << 10)
/* Training wants about a hundred times the dictionary in samples. */
#define SAMPLES_MAX 2048
#define SAMPLES_MIN 256 /* fewer small payloads: wait for more */
#define SAMPLE_BYTES_MAX (1u << 20)
#define SAMPLE_CUT 4096 /* only a payload's first bytes are sampled */

/* The file's layout is codec.h's (EVS_DICT_*). */

static int publish(evs_store *s, const void *d, size_t len, uint32_t id) {
  ZSTD_DDict *dd = ZSTD_createDDict(d, len);
  /* Writers use it only when asked to (dict_compress). */
  int want = s->opt.dict_compress > 0;
  ZSTD_CDict *cd = want ? ZSTD_createCDict(d, len, s->opt.compress_level) : NULL;
  if (!dd || (want && !cd)) {
    ZSTD_freeDDict(dd);
    ZSTD_freeCDict(cd);
    return EVS_ENOMEM;
  }
  s->dict_id = id;
  /* Readers first: a record compressed with it can only follow. */
  __atomic_store_n(&s->ddict, dd, __ATOMIC_RELEASE);
  __atomic_store_n(&s->cdict, cd, __ATOMIC_RELEASE);
  __atomic_store_n(&s->dict_state, EVS_DICT_LOADED, __ATOMIC_RELEASE);
  return 0;
}

int evs_dict_open(evs_store *s) {
  /* Also called by a reader's refresh while other threads read the handle:
  ** the state is published last, with release. */
  if (!s->dir) return 0;
  uint8_t *b;
  size_t n;
  int e = evs_read_file(s, EVS_DICT_NAME, &b, &n);
  if (e == -ENOENT) return 0;
  if (e == -EISDIR || e == -EINVAL) {
    /* Like a damaged file: the store stays usable, nothing is trained. */
    snprintf(s->dict_why, sizeof s->dict_why, "%s/%s: not a regular file", s->dir,
             EVS_DICT_NAME);
    __atomic_store_n(&s->dict_state, EVS_DICT_CORRUPT, __ATOMIC_RELEASE);
    return 0;
  }
  if (e) {
    char path[EVS_PATH_BUF];
    snprintf(path, sizeof path, "%s/%s", s->dir, EVS_DICT_NAME);
    return evs_err_io(s, -e, "cannot read", path);
  }
  __atomic_store_n(&s->dict_file_bytes, n, __ATOMIC_RELAXED);
  const char *why = NULL;
  const uint8_t *dict;
  uint32_t len, id;
  if (!evs_dict_file_decode(b, n, s->meta.store_id, &dict, &len, &id, &why) &&
      (!id || ZDICT_getDictID(dict, len) != id))
    why = "dictionary id does not match";
  /* zstd checks the dictionary's own tables (a forged file). */
  if (!why && publish(s, dict, len, id))
    why = "zstd does not accept the dictionary (or out of memory)";
  if (why) {
    /* Keep the store readable: only payloads compressed with the
    ** dictionary are lost (their reads say so). No new one is trained
    ** over the evidence. */
    snprintf(s->dict_why, sizeof s->dict_why, "%s/%s: %s", s->dir, EVS_DICT_NAME, why);
    __atomic_store_n(&s->dict_state, EVS_DICT_CORRUPT, __ATOMIC_RELEASE);
  }
  free(b);
  return 0;
}

void evs_dict_free(evs_store *s) {
  ZSTD_freeCDict(s->cdict);
  ZSTD_freeDDict(s->ddict);
  s->cdict = NULL;
  s->ddict = NULL;
}

/* Train after `events` more committed events. */
static void arm(evs_store *s, int64_t events) {
  __atomic_store_n(&s->dict_countdown, events, __ATOMIC_RELAXED);
  __atomic_store_n(&s->dict_collect, 1, __ATOMIC_RELEASE);
}

void evs_dict_arm(evs_store *s) {
  if (s->opt.dict_compress <= 0 || s->opt.read_only || s->dict_state != EVS_DICT_NONE)
    return;
  uint64_t have = s->state.npending + s->state.nacked;
  if (have >= SAMPLES_MAX) evs_notify(s, EVS_BG_DICT);
  else arm(s, (int64_t)(SAMPLES_MAX - have));
}

/* Copy up to SAMPLES_MAX small raw payloads, newest first, from the
** committed log into buf / len. Returns how many. */
static size_t gather(evs_store *s, uint8_t *buf, size_t *len) {
  size_t n = 0, used = 0;
  pthread_rwlock_rdlock(&s->ilock);
  uint64_t walked = 0;
  for (uint64_t rel = s->vis_n; rel-- > 0 && n < SAMPLES_MAX && used < SAMPLE_BYTES_MAX;) {
    if (++walked > 64 * SAMPLES_MAX) break; /* mostly large or gone: enough */
    const evs_ent *e = evs_ent_at(&s->state.idx, rel);
    if (!(e->flags & ENT_LIVE)) continue;
    evs_event ev;
    int z;
    uint32_t raw;
    if (evs_read_rec(s, NULL, e, &ev, &z, &raw) || z || raw < EVS_DICT_MIN ||
        raw >= s->opt.compress_threshold)
      continue; /* damage is for reads and evs_verify to report */
    size_t k = EVS_MIN((size_t)raw, SAMPLE_CUT);
    k = EVS_MIN(k, SAMPLE_BYTES_MAX - used);
    memcpy(buf + used, ev.payload, k);
    len[n++] = k;
    used += k;
  }
  pthread_rwlock_unlock(&s->ilock);
  return n;
}

static int train_failed(evs_store *s, const char *why) {
  snprintf(s->dict_why, sizeof s->dict_why, "%s", why);
  __atomic_store_n(&s->dict_state, EVS_DICT_FAILED, __ATOMIC_RELEASE);
  return 0;
}

int evs_dict_train(evs_store *s) {
  /* A store refusing writes writes no dictionary either. */
  if (__atomic_load_n(&s->dict_state, __ATOMIC_ACQUIRE) != EVS_DICT_NONE ||
      __atomic_load_n(&s->broken, __ATOMIC_ACQUIRE))
    return 0;
  uint8_t *samples = malloc(SAMPLE_BYTES_MAX), *file = malloc(EVS_DICT_HDR + DICT_CAP + 8);
  size_t *lens = malloc(SAMPLES_MAX * sizeof *lens);
  if (!samples || !file || !lens) {
    free(samples);
    free(file);
    free(lens);
    return train_failed(s, "out of memory for training");
  }
  size_t n = gather(s, samples, lens);
  if (n < SAMPLES_MIN) {
    /* Mostly large payloads so far: try again later. */
    free(samples);
    free(file);
    free(lens);
    arm(s, SAMPLES_MAX);
    return 0;
  }
  uint8_t *d = file + EVS_DICT_HDR;
  size_t len = ZDICT_trainFromBuffer(d, DICT_CAP, samples, lens, (unsigned)n);
  free(samples);
  free(lens);
  if (ZDICT_isError(len)) {
    /* Not an error of the store: payloads just stay raw. */
    char why[200];
    snprintf(why, sizeof why, "training on %zu payloads gave no dictionary: %s", n,
             ZDICT_getErrorName(len));
    free(file);
    return train_failed(s, why);
  }
  uint32_t id = ZDICT_getDictID(d, len);
  int rc = 0;
  if (s->dir) {
    evs_dict_file_encode(file, s->meta.store_id, id, (uint32_t)len, evs_now(s));
    int e = evs_io_replace(s->io, s->dir, EVS_DICT_NAME, file, EVS_DICT_HDR + len + 8,
                           s->fmode, NULL);
    if (e) {
      /* Whether it is on disk or not, nothing uses it: payloads stay
      ** raw, and a file that did land is read (and used) next open. */
      char path[EVS_PATH_BUF];
      snprintf(path, sizeof path, "%s/%s", s->dir, EVS_DICT_NAME);
      rc = evs_err_io(s, -e, "cannot write", path);
      /* Noted before the state says failed: whoever sees the state sees
      ** the error in evs_stats too. */
      evs_bg_note(s, rc);
      train_failed(s, evs_errmsg(s));
    } else {
      __atomic_store_n(&s->dict_file_bytes, EVS_DICT_HDR + len + 8, __ATOMIC_RELAXED);
    }
  }
  if (!rc && (rc = publish(s, d, len, id))) {
    rc = evs_err(s, rc, "out of memory");
    train_failed(s, evs_errmsg(s));
  }
  free(file);
  return rc;
}
