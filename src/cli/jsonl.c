/*
** jsonl.c: member names and JSON strings for the CLI (see jsonl.h). Import
** lines are checked, stepped through and decoded by the library, with the
** same validator that checks payloads.
*/
#include "jsonl.h"

#include <string.h>

#include "evstore.h"

int jl_name_is(const char *p, size_t n, const char *word) {
  size_t wl = strlen(word);
  /* Names this short decode to at most 31 bytes; longer ones are unknown. */
  char buf[32];
  if (n >= sizeof buf) return 0;
  if (!memchr(p, '\\', n)) return n == wl && !memcmp(p, word, n);
  size_t l;
  return !evs_json_string_decode(p, n, buf, &l) && l == wl && !memcmp(buf, word, wl);
}

void jl_put_string(FILE *f, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t run = 0; /* start of the bytes not yet written */
  putc('"', f);
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    size_t l;
    if (c >= 0x80 && !evs_utf8_next((const char *)s + i, n - i, &l, NULL)) {
      i += l;
      continue;
    }
    fwrite(s + run, 1, i - run, f);
    switch (c) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    case '\b': fputs("\\b", f); break;
    case '\f': fputs("\\f", f); break;
    default:
      if (c < 0x20)
        fprintf(f, "\\u%04x", c);
      else
        fputs("\\ufffd", f);
    }
    run = ++i;
  }
  fwrite(s + run, 1, n - run, f);
  putc('"', f);
}
