/*
** jsonl.h: the CLI's JSON. A resumable scanner that checks one JSON object
** (RFC 8259) and reports the byte span of each top-level member's name and
** value, so values are handed to the library exactly as written; decoding
** of JSON strings; and writing JSON strings.
*/
#ifndef EVS_CLI_JSONL_H
#define EVS_CLI_JSONL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The event object itself plus the library's payload nesting limit. */
#define JL_MAX_DEPTH 1001
/* More members than an event line can validly have (10 names exist). */
#define JL_MAX_MEMBERS 16

/* Offsets into the scanned buffer. name/name_len: the text between the
** quotes, escapes not decoded. val/val_len: the value's text. */
typedef struct jl_member {
  size_t name, name_len;
  size_t val, val_len;
} jl_member;

typedef struct jl_scan {
  size_t pos; /* next byte to look at */
  int state;
  unsigned depth;
  uint64_t stack[(JL_MAX_DEPTH + 63) / 64]; /* 1 bit per level: 1 = object */
  size_t name, name_len, val;               /* member being read */
  jl_member m[JL_MAX_MEMBERS];
  size_t nm;
  const char *why; /* on JL_ERROR: what is wrong, at byte err_pos */
  size_t err_pos;
} jl_scan;

enum { JL_ERROR = -1, JL_DONE = 0, JL_MORE = 1 };

void jl_scan_init(jl_scan *s);

/* Scan buf[s->pos .. len). buf holds everything fed so far (it may have
** moved since the last call; offsets stay valid). Returns JL_DONE when buf
** is one complete object with only white space after it, JL_MORE when it
** is a valid but unfinished prefix, JL_ERROR otherwise. The caller may add
** bytes and call again after JL_MORE as long as the earlier call ended
** outside a token, which is the case whenever buf ended with a line break
** (a JSON token cannot contain one). */
int jl_scan_feed(jl_scan *s, const char *buf, size_t len);

/* Decode the JSON string text p[0..n) (between the quotes, already
** checked by the scanner) into out, which may be p itself: the decoded
** text is never longer. Appends a NUL. Returns the decoded length, or -1
** with *why set for a lone surrogate or U+0000 (it cannot be passed on as
** a C string). */
long jl_decode(const char *p, size_t n, char *out, const char **why);

/* Does the text between quotes p[0..n) decode to exactly `word`? */
int jl_name_is(const char *p, size_t n, const char *word);

/* Write s[0..n) as a JSON string, quotes included. Bytes that are not
** UTF-8 are written as U+FFFD (JSON cannot carry them). */
void jl_put_string(FILE *f, const char *s, size_t n);

#endif
