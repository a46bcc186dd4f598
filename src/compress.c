/*
** compress.c: zstd for large payloads. Contexts are pooled per store so
** that concurrent appenders compress in parallel without allocating a
** context per call.
*/
#include <stdlib.h>

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

size_t evs_zstd_compress(evs_store *s, const void *src, size_t n, void *dst,
                         size_t cap) {
  ZSTD_CCtx *c = cctx_get(s);
  if (!c) return 0;
  size_t r = ZSTD_compressCCtx(c, dst, cap, src, n, s->opt.compress_level);
  cctx_put(s, c);
  /* Worth keeping only when it saves at least an eighth. */
  if (ZSTD_isError(r) || r > n - n / 8) return 0;
  return r;
}

int evs_zstd_decompress(evs_store *s, void *dst, size_t raw, const void *src,
                        size_t n) {
  ZSTD_DCtx *d = NULL;
  pthread_mutex_lock(&s->poolmu);
  if (s->ndpool) d = s->dpool[--s->ndpool];
  pthread_mutex_unlock(&s->poolmu);
  if (!d && !(d = ZSTD_createDCtx())) return EVS_ENOMEM;
  /* dst holds exactly the recorded original length: a frame claiming more
  ** fails instead of overrunning. */
  size_t r = ZSTD_decompressDCtx(d, dst, raw, src, n);
  pthread_mutex_lock(&s->poolmu);
  if (!evs_grow((void **)&s->dpool, &s->dpool_cap, s->ndpool + 1, sizeof d)) {
    s->dpool[s->ndpool++] = d;
    d = NULL;
  }
  pthread_mutex_unlock(&s->poolmu);
  ZSTD_freeDCtx(d);
  return ZSTD_isError(r) || r != raw ? EVS_ECORRUPT : 0;
}

void evs_zstd_pools_free(evs_store *s) {
  /* The batch worker compresses too; it goes with the pools, at close. */
  evs_worker_stop(s);
  for (size_t i = 0; i < s->ncpool; i++) ZSTD_freeCCtx(s->cpool[i]);
  for (size_t i = 0; i < s->ndpool; i++) ZSTD_freeDCtx(s->dpool[i]);
  free(s->cpool);
  free(s->dpool);
  s->cpool = NULL;
  s->dpool = NULL;
  s->ncpool = s->ndpool = 0;
}
