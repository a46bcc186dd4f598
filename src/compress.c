/*
** compress.c: zstd for payloads: large ones on their own, small ones
** against the store's dictionary (dict.c) when it has one. Contexts are pooled per store so
** that concurrent appenders compress in parallel without allocating a
** context per call.
*/
#include <stdio.h>
#include <stdlib.h>

#include "compress.h"
#include "store.h"
#include "util.h"

static ZSTD_CCtx *cctx_get(evs_store *s) {
  ZSTD_CCtx *c = NULL;
  pthread_mutex_lock(&s->poolmu);
  if (s->ncpool) c = s->cpool[--s->ncpool];
  pthread_mutex_unlock(&s->poolmu);
  return c ? c : ZSTD_createCCtx();
}

static void cctx_put(evs_store *s, ZSTD_CCtx *c) {
  pthread_mutex_lock(&s->poolmu);
  if (!evs_grow((void **)&s->cpool, &s->cpool_cap, s->ncpool + 1, sizeof c)) {
    s->cpool[s->ncpool++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&s->poolmu);
  ZSTD_freeCCtx(c);
}

size_t evs_zstd_compress(evs_store *s, const ZSTD_CDict *cd, const void *src, size_t n,
                         void *dst, size_t cap) {
  ZSTD_CCtx *c = cctx_get(s);
  if (!c) return 0;
  size_t r = cd ? ZSTD_compress_usingCDict(c, dst, cap, src, n, cd)
                : ZSTD_compressCCtx(c, dst, cap, src, n, s->opt.compress_level);
  cctx_put(s, c);
  /* Worth keeping only when it saves at least an eighth. */
  if (ZSTD_isError(r) || r > n - n / 8) return 0;
  return r;
}

/* Why a frame naming dictionary `want` cannot be decompressed (the
** dictionary's state is published by dict.c). */
static int dict_why(const evs_store *s, uint32_t want, char *out, size_t cap) {
  int st = __atomic_load_n(&s->dict_state, __ATOMIC_ACQUIRE);
  if (st == EVS_DICT_CORRUPT)
    snprintf(out, cap, "it needs the store's dictionary %u, which is damaged (%s)", want,
             s->dict_why);
  else if (st == EVS_DICT_LOADED)
    snprintf(out, cap, "it names dictionary %u; the store's is %u", want, s->dict_id);
  else
    snprintf(out, cap, "it needs dictionary %u; the store has none (%s is missing)", want,
             EVS_DICT_NAME);
  return EVS_ECORRUPT;
}

int evs_zstd_decompress(evs_store *s, void *dst, size_t raw, const void *src,
                        size_t n, char *why, size_t whycap) {
  /* A frame compressed with the dictionary names it; one that names
  ** another (or any, in a store without one) cannot be read. */
  unsigned want = ZSTD_getDictID_fromFrame(src, n);
  const ZSTD_DDict *dd = NULL;
  if (want) {
    dd = __atomic_load_n(&s->ddict, __ATOMIC_ACQUIRE);
    if (!dd || ZSTD_getDictID_fromDDict(dd) != want)
      return dict_why(s, want, why, whycap);
  }
  ZSTD_DCtx *d = NULL;
  pthread_mutex_lock(&s->poolmu);
  if (s->ndpool) d = s->dpool[--s->ndpool];
  pthread_mutex_unlock(&s->poolmu);
  if (!d && !(d = ZSTD_createDCtx())) {
    snprintf(why, whycap, "out of memory");
    return EVS_ENOMEM;
  }
  /* dst holds exactly the recorded original length: a frame claiming more
  ** fails instead of overrunning. */
  size_t r = dd ? ZSTD_decompress_usingDDict(d, dst, raw, src, n, dd)
                : ZSTD_decompressDCtx(d, dst, raw, src, n);
  pthread_mutex_lock(&s->poolmu);
  if (!evs_grow((void **)&s->dpool, &s->dpool_cap, s->ndpool + 1, sizeof d)) {
    s->dpool[s->ndpool++] = d;
    d = NULL;
  }
  pthread_mutex_unlock(&s->poolmu);
  ZSTD_freeDCtx(d);
  if (!ZSTD_isError(r) && r == raw) return 0;
  snprintf(why, whycap, "%s", ZSTD_isError(r) ? ZSTD_getErrorName(r) : "shorter than recorded");
  return EVS_ECORRUPT;
}

void evs_zstd_pools_free(evs_store *s) {
  for (size_t i = 0; i < s->ncpool; i++) ZSTD_freeCCtx(s->cpool[i]);
  for (size_t i = 0; i < s->ndpool; i++) ZSTD_freeDCtx(s->dpool[i]);
  free(s->cpool);
  free(s->dpool);
  s->cpool = NULL;
  s->dpool = NULL;
  s->ncpool = s->ndpool = 0;
}
