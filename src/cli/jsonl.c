/*
** jsonl.c: the CLI's JSON scanner, string decoder and string writer (see
** jsonl.h). The library validates payload and metadata itself; this file
** only has to find where each member of an import line starts and ends,
** and it checks the whole line strictly so a malformed line is reported
** here rather than half-used.
*/
#include "jsonl.h"

#include <string.h>

enum {
  ST_START,        /* before the object                       */
  ST_KEY_OR_END,   /* after '{'                               */
  ST_KEY,          /* after ',' in an object                  */
  ST_COLON,        /* after a member name                     */
  ST_VALUE_OR_END, /* after '['                               */
  ST_VALUE,        /* after ':', or after ',' in an array     */
  ST_AFTER,        /* after a value                           */
  ST_DONE          /* after the object: only white space      */
};

static int is_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Length of the well-formed UTF-8 sequence at p (no overlongs, no
** surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else
    return 0;
  if (n < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return len;
}

void jl_scan_init(jl_scan *s) { memset(s, 0, sizeof *s); }

static int fail(jl_scan *s, size_t at, const char *why) {
  s->why = why;
  s->err_pos = at;
  return JL_ERROR;
}

/* The string whose opening quote is at b[i]; returns the index after the
** closing quote, or 0 with s->why set. */
static size_t scan_string(jl_scan *s, const unsigned char *b, size_t len, size_t i) {
  for (i++; i < len;) {
    unsigned char c = b[i];
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (i + 1 >= len) break;
      unsigned char e = b[i + 1];
      if (e == 'u') {
        if (i + 6 > len || hexval(b[i + 2]) < 0 || hexval(b[i + 3]) < 0 ||
            hexval(b[i + 4]) < 0 || hexval(b[i + 5]) < 0)
          return fail(s, i, "\\u needs four hex digits"), 0;
        i += 6;
      } else if (strchr("\"\\/bfnrt", e) && e) {
        i += 2;
      } else {
        return fail(s, i, "invalid escape in string"), 0;
      }
    } else if (c < 0x20) {
      return fail(s, i, c == '\n' ? "line break inside a string (unterminated string?)"
                                  : "control character in string (must be escaped)"), 0;
    } else if (c < 0x80) {
      i++;
    } else {
      size_t l = utf8_len(b + i, len - i);
      if (!l) return fail(s, i, "invalid UTF-8 in string"), 0;
      i += l;
    }
  }
  return fail(s, len, "unterminated string"), 0;
}

static size_t scan_digits(const unsigned char *b, size_t len, size_t i) {
  while (i < len && b[i] >= '0' && b[i] <= '9') i++;
  return i;
}

/* The number starting at b[i]; returns the index after it, or 0. */
static size_t scan_number(jl_scan *s, const unsigned char *b, size_t len, size_t i) {
  size_t start = i;
  if (b[i] == '-') i++;
  if (i >= len || b[i] < '0' || b[i] > '9') return fail(s, start, "invalid number"), 0;
  if (b[i] == '0') {
    i++;
    if (i < len && b[i] >= '0' && b[i] <= '9')
      return fail(s, start, "leading zero in number"), 0;
  } else {
    i = scan_digits(b, len, i);
  }
  if (i < len && b[i] == '.') {
    size_t j = scan_digits(b, len, i + 1);
    if (j == i + 1) return fail(s, i, "digit expected after '.'"), 0;
    i = j;
  }
  if (i < len && (b[i] == 'e' || b[i] == 'E')) {
    i++;
    if (i < len && (b[i] == '+' || b[i] == '-')) i++;
    size_t j = scan_digits(b, len, i);
    if (j == i) return fail(s, i, "digit expected in exponent"), 0;
    i = j;
  }
  return i;
}

static int top_is_object(const jl_scan *s) {
  unsigned d = s->depth - 1;
  return (s->stack[d >> 6] >> (d & 63)) & 1;
}

static int open_container(jl_scan *s, int object) {
  if (s->depth == JL_MAX_DEPTH) return fail(s, s->pos, "nested too deeply");
  unsigned d = s->depth++;
  if (object)
    s->stack[d >> 6] |= (uint64_t)1 << (d & 63);
  else
    s->stack[d >> 6] &= ~((uint64_t)1 << (d & 63));
  s->pos++;
  s->state = object ? ST_KEY_OR_END : ST_VALUE_OR_END;
  return 0;
}

/* A value ended at s->pos; at depth 1 it was a member of the event. */
static int value_done(jl_scan *s) {
  s->state = ST_AFTER;
  if (s->depth != 1) return 0;
  if (s->nm == JL_MAX_MEMBERS) return fail(s, s->val, "too many members");
  jl_member *m = &s->m[s->nm++];
  m->name = s->name;
  m->name_len = s->name_len;
  m->val = s->val;
  m->val_len = s->pos - s->val;
  return 0;
}

static int close_container(jl_scan *s) {
  s->pos++;
  if (--s->depth == 0) {
    s->state = ST_DONE;
    return 0;
  }
  return value_done(s);
}

static int scan_value(jl_scan *s, const unsigned char *b, size_t len) {
  size_t i = s->pos, end;
  if (s->depth == 1) s->val = i;
  switch (b[i]) {
  case '{':
    return open_container(s, 1);
  case '[':
    return open_container(s, 0);
  case '"':
    if (!(end = scan_string(s, b, len, i))) return JL_ERROR;
    break;
  case '-': case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9':
    if (!(end = scan_number(s, b, len, i))) return JL_ERROR;
    break;
  case 't':
  case 'f':
  case 'n': {
    const char *lit = b[i] == 't' ? "true" : b[i] == 'f' ? "false" : "null";
    size_t l = strlen(lit);
    if (len - i < l || memcmp(b + i, lit, l)) return fail(s, i, "invalid literal");
    end = i + l;
    break;
  }
  default:
    return fail(s, i, s->state == ST_VALUE && b[i] == ']' ? "trailing comma before ']'"
                                                          : "expected a value");
  }
  s->pos = end;
  return value_done(s);
}

int jl_scan_feed(jl_scan *s, const char *buf, size_t len) {
  const unsigned char *b = (const unsigned char *)buf;
  for (;;) {
    while (s->pos < len && is_ws(b[s->pos])) s->pos++;
    if (s->pos == len) return s->state == ST_DONE ? JL_DONE : JL_MORE;
    unsigned char c = b[s->pos];
    int rc = 0;
    switch (s->state) {
    case ST_START:
      if (c != '{') return fail(s, s->pos, "expected a JSON object");
      rc = open_container(s, 1);
      break;
    case ST_DONE:
      return fail(s, s->pos, "text after the object");
    case ST_KEY_OR_END:
      if (c == '}') {
        rc = close_container(s);
        break;
      }
      /* fall through */
    case ST_KEY: {
      if (c != '"')
        return fail(s, s->pos, c == '}' ? "trailing comma before '}'"
                                        : "expected a string as member name");
      size_t end = scan_string(s, b, len, s->pos);
      if (!end) return JL_ERROR;
      if (s->depth == 1) {
        s->name = s->pos + 1;
        s->name_len = end - s->pos - 2;
      }
      s->pos = end;
      s->state = ST_COLON;
      break;
    }
    case ST_COLON:
      if (c != ':') return fail(s, s->pos, "expected ':'");
      s->pos++;
      s->state = ST_VALUE;
      break;
    case ST_VALUE_OR_END:
      if (c == ']') {
        rc = close_container(s);
        break;
      }
      /* fall through */
    case ST_VALUE:
      rc = scan_value(s, b, len);
      break;
    case ST_AFTER:
      if (c == ',') {
        s->pos++;
        s->state = top_is_object(s) ? ST_KEY : ST_VALUE;
      } else if (c == (top_is_object(s) ? '}' : ']')) {
        rc = close_container(s);
      } else {
        return fail(s, s->pos, top_is_object(s) ? "expected ',' or '}'"
                                                : "expected ',' or ']'");
      }
      break;
    }
    if (rc) return JL_ERROR;
  }
}

static size_t put_utf8(char *out, uint32_t cp) {
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

static uint32_t hex4(const char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = v << 4 | (uint32_t)hexval((unsigned char)p[i]);
  return v;
}

long jl_decode(const char *p, size_t n, char *out, const char **why) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (p[i] != '\\') {
      out[o++] = p[i++];
      continue;
    }
    char e = p[i + 1];
    i += 2;
    if (e != 'u') {
      static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
      out[o++] = to[strchr(from, e) - from];
      continue;
    }
    uint32_t cp = hex4(p + i);
    i += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
      *why = "lone low surrogate (\\uDC00-\\uDFFF) in string";
      return -1;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t lo;
      if (i + 6 > n || p[i] != '\\' || p[i + 1] != 'u' ||
          (lo = hex4(p + i + 2)) < 0xDC00 || lo > 0xDFFF) {
        *why = "high surrogate not followed by a low surrogate in string";
        return -1;
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      i += 6;
    }
    if (cp == 0) {
      *why = "string contains \\u0000";
      return -1;
    }
    o += put_utf8(out + o, cp);
  }
  out[o] = 0;
  return (long)o;
}

int jl_name_is(const char *p, size_t n, const char *word) {
  size_t wl = strlen(word);
  /* Names this short decode to at most 31 bytes; longer ones are unknown. */
  char buf[32];
  if (n >= sizeof buf) return 0;
  if (!memchr(p, '\\', n)) return n == wl && !memcmp(p, word, n);
  const char *why;
  long l = jl_decode(p, n, buf, &why);
  return l == (long)wl && !memcmp(buf, word, wl);
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
    size_t l = c >= 0x80 ? utf8_len(s + i, n - i) : 0;
    if (l) {
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
