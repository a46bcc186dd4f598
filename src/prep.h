/*
** prep.h: validating and preparing incoming events (prep.c).
*/
#ifndef EVS_PREP_H
#define EVS_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "evstore.h"

/* A validated event ready to encode (compression already done). */
typedef struct evs_prep {
  const char *src, *typ, *payload, *meta, *idem, *order;
  size_t srclen, typlen, plen, mlen, ilen, olen;
  int prio;
  int64_t not_before; /* 0: none */
  uint8_t *z; /* compressed payload (owned) or NULL */
  size_t zlen;
} evs_prep;

/* A name (source, event type, consumer): trimmed, 1..100 bytes of UTF-8
** without control characters. *out / *outlen: the trimmed name in `in`. */
int evs_prep_name(evs_store *s, const char *what, const char *in, const char **out,
                  size_t *outlen);
/* Validate ev into p (pointers into ev; nothing allocated). */
int evs_prep_check(evs_store *s, const evs_event_in *ev, evs_prep *p);
/* Compress a payload if it pays (malloc'ed, *zlen set), else NULL; *nomem
** tells an allocation failure from "not worth it". */
uint8_t *evs_prep_compress(evs_store *s, const char *payload, size_t plen, size_t *zlen,
                           int *nomem);
/* evs_prep_check then evs_prep_compress. */
int evs_prep_event(evs_store *s, const evs_event_in *ev, evs_prep *p);
void evs_prep_free(evs_prep *p);

#endif
