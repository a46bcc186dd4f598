/*
** json.h: strict RFC 8259 validation and top-level member lookup.
** The store never builds a JSON tree: it validates payload and metadata in
** one pass and, for the metadata filter, finds one top-level member.
*/
#ifndef EVS_JSON_H
#define EVS_JSON_H

#include <stddef.h>

/* Maximum nesting of arrays and objects. SQLite 3.40 allows 2000; a
** payload nested deeper than 1000 is not a webhook, and a bound keeps the
** single-pass container stack at 125 bytes. */
#define EVS_JSON_MAX_DEPTH 1000

/* Check that p[0..n) is one RFC 8259 JSON text whose top-level value is an
** object (surrounding white space allowed). Strings must be valid UTF-8
** (no overlongs, no surrogates, nothing above U+10FFFF, and no \u escape
** of an unpaired surrogate, which has no UTF-8 form); raw control
** characters inside strings are rejected; numbers follow the RFC grammar.
** Returns 0 if valid. Otherwise returns -1 and, when err is not NULL,
** writes a message such as "invalid JSON at byte 17: expected ':' after
** object key" (at most errlen bytes, NUL-terminated). */
int evs_json_check_object(const char *p, size_t n, char *err, size_t errlen);

/* In a valid JSON object text, find the top-level member named key
** (compared after unescaping the member name). On success returns 1 and
** sets *val / *vlen to the raw text of its value (no surrounding white
** space). Returns 0 when absent. For a repeated name the last occurrence
** wins (as in JSON.parse; SQLite's json_extract takes the first). */
int evs_json_member(const char *obj, size_t n, const char *key, size_t keylen,
                    const char **val, size_t *vlen);

/* Does a raw JSON value equal the plain text s? A JSON string matches when
** its unescaped content equals s byte for byte; a number, true, false or
** null matches when its literal text equals s. Objects and arrays never
** match. Returns 1 or 0. */
int evs_json_value_equals(const char *val, size_t vlen, const char *s,
                          size_t slen);

#endif
