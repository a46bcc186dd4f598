/*
** json.c: the store's only JSON code. Owns strict validation of payload and
** metadata text (evs_json_check_object) and the top-level member lookup and
** value comparison behind the metadata filter. No tree is ever built.
*/
#include "json.h"

#include "evstore.h"
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef unsigned char uc;

#define STR_(x) #x
#define STR(x) STR_(x)

/* Byte classes inside a string. Plain bytes are the overwhelmingly common
** case, so the inner loop only has to test for non-zero. */
enum { S_PLAIN = 0, S_QUOTE, S_BSLASH, S_CTRL, S_HIGH };

#define R4(v) v, v, v, v
#define R16(v) R4(v), R4(v), R4(v), R4(v)
#define R32(v) R16(v), R16(v)
#define R64(v) R32(v), R32(v)

static const uc str_class[256] = {
    R32(S_CTRL), /* 0x00..0x1f must be escaped */
    0, 0, S_QUOTE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20..0x2f */
    R16(0),                                             /* 0x30..0x3f */
    R16(0),                                             /* 0x40..0x4f */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, S_BSLASH, 0, 0, 0, /* 0x50..0x5f */
    R32(0),                                             /* 0x60..0x7f */
    R64(S_HIGH), R64(S_HIGH),                           /* 0x80..0xff */
};

/* RFC 8259 white space only: \f and \v are not JSON white space. */
static const uc is_ws[256] = {['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1};

static inline const uc *skip_ws(const uc *q, const uc *end) {
  while (q < end && is_ws[*q]) q++;
  return q;
}

/* The 8 bytes at q as a little-endian word: byte k of the text is bits
** 8k..8k+7 whatever the host's byte order. */
static inline uint64_t load8(const uc *q) {
  uint64_t x;
  memcpy(&x, q, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  return x;
}

/* Which of the 8 bytes of x need a closer look ('"', '\\', < 0x20,
** >= 0x80)? Sets the high bit of such bytes. Exact for the lowest flagged
** byte (a borrow only carries upwards, out of a byte that is flagged
** itself), which is the only one the callers use; bytes above it may be
** flagged falsely. */
static inline uint64_t swar_special(uint64_t x) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  uint64_t qt = x ^ (ones * '"'), bs = x ^ (ones * '\\');
  uint64_t lt = (x - ones * 0x20) & ~x;
  qt = (qt - ones) & ~qt;
  bs = (bs - ones) & ~bs;
  return ((lt | qt | bs) & high) | (x & high);
}

/* Index of the first flagged byte of a non-zero swar_special result. */
static inline size_t first_flagged(uint64_t m) {
  return (size_t)__builtin_ctzll(m) >> 3;
}

static inline int hexval(uc c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Four hex digits at q (caller guarantees 4 bytes), or -1. */
static inline long hex4(const uc *q) {
  int a = hexval(q[0]), b = hexval(q[1]), c = hexval(q[2]), d = hexval(q[3]);
  if ((a | b | c | d) < 0) return -1;
  return (long)a << 12 | b << 8 | c << 4 | d;
}

/* The general string scanner: q is inside the string opened at open, at
** or before the next byte needing a closer look. Returns the position just
** past the closing quote, or NULL with *why and *at describing the
** problem. */
static const uc *string_rest(const uc *q, const uc *end, const uc *open,
                             const char **why, const uc **at) {
  for (;;) {
    while (end - q >= 8) {
      uint64_t m = swar_special(load8(q));
      if (m) {
        q += first_flagged(m);
        break;
      }
      q += 8;
    }
    while (q < end && str_class[*q] == S_PLAIN) q++;
    if (q == end) {
      *why = "unterminated string";
      *at = open;
      return NULL;
    }
    switch (str_class[*q]) {
    case S_QUOTE:
      return q + 1;
    case S_CTRL:
      /* A JSON lines reader sees a line break here first when a string
      ** is left open: say what it is. */
      *why = *q == '\n' ? "line break inside a string (unterminated string?)"
                        : "control character in string (must be escaped)";
      *at = q;
      return NULL;
    case S_HIGH: {
      uint32_t cp;
      size_t len = evs_utf8_seq(q, (size_t)(end - q), &cp);
      if (!len) {
        *why = "invalid UTF-8 in string";
        *at = q;
        return NULL;
      }
      q += len;
      break;
    }
    default: /* S_BSLASH */
      if (end - q < 2) {
        *why = "unterminated string";
        *at = open;
        return NULL;
      }
      switch (q[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
      case 't':
        q += 2;
        break;
      case 'u': {
        long u = end - q >= 6 ? hex4(q + 2) : -1;
        if (u < 0) {
          *why = "invalid \\u escape (expected 4 hex digits)";
          *at = q;
          return NULL;
        }
        if (u >= 0xdc00 && u <= 0xdfff) {
          *why = "invalid \\u escape (unpaired low surrogate)";
          *at = q;
          return NULL;
        }
        if (u >= 0xd800 && u <= 0xdbff) {
          /* A lone surrogate has no UTF-8 form; the store promises valid
          ** Unicode text, so the pair must be complete. */
          long lo = end - q >= 12 && q[6] == '\\' && q[7] == 'u'
                        ? hex4(q + 8) : -1;
          if (lo < 0xdc00 || lo > 0xdfff) {
            *why = "invalid \\u escape (unpaired high surrogate)";
            *at = q;
            return NULL;
          }
          q += 6;
        }
        q += 6;
        break;
      }
      default:
        *why = "invalid escape sequence in string";
        *at = q;
        return NULL;
      }
    }
  }
}

/* q is just past the opening quote. Returns the position just past the
** closing quote, or NULL with *why and *at set. Inline for the common
** case, a short run of plain ASCII: one or two 8-byte words, the first
** flagged byte of which is the closing quote. */
static inline const uc *scan_string(const uc *q, const uc *end,
                                    const char **why, const uc **at) {
  const uc *open = q - 1;
  while (end - q >= 8) {
    uint64_t m = swar_special(load8(q));
    if (m) {
      q += first_flagged(m);
      if (*q == '"') return q + 1;
      break;
    }
    q += 8;
  }
  return string_rest(q, end, open, why, at);
}

static inline int is_digit_c(uc c) { return (unsigned)(c - '0') < 10; }

/* q is just past a number's integer part. Returns the position after its
** fraction and exponent (if any), or NULL with *why and *at set. */
static inline const uc *number_tail(const uc *q, const uc *end,
                                    const char **why, const uc **at) {
  if (q < end && *q == '.') {
    q++;
    if (q == end || !is_digit_c(*q)) {
      *why = "invalid number (expected a digit after '.')";
      *at = q;
      return NULL;
    }
    while (q < end && is_digit_c(*q)) q++;
  }
  if (q < end && (*q | 0x20) == 'e') {
    q++;
    if (q < end && (*q == '+' || *q == '-')) q++;
    if (q == end || !is_digit_c(*q)) {
      *why = "invalid number (expected a digit in the exponent)";
      *at = q;
      return NULL;
    }
    while (q < end && is_digit_c(*q)) q++;
  }
  return q;
}

/* q is at '-' or a digit. Returns the position after the number, or NULL
** with *why and *at set. */
static inline const uc *scan_number(const uc *q, const uc *end,
                                    const char **why, const uc **at) {
  if (*q == '-') q++;
  if (q == end || !is_digit_c(*q)) {
    *why = "invalid number (expected a digit after '-')";
    *at = q;
    return NULL;
  }
  if (*q == '0') {
    q++;
    if (q < end && is_digit_c(*q)) {
      *why = "invalid number (leading zero)";
      *at = q;
      return NULL;
    }
  } else {
    while (q < end && is_digit_c(*q)) q++;
  }
  return number_tail(q, end, why, at);
}

/* Kept out of line so the formatting code stays off the hot path. */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static int fail(char *err, size_t errlen, size_t pos, const char *why) {
  if (err && errlen)
    snprintf(err, errlen, "invalid JSON at byte %zu: %s", pos, why);
  return -1;
}

/* The deepest check_object is asked for: an import line's members nest
** as deep as a payload may, one level below the line's object. */
#define MAX_DEPTH_LINE (EVS_JSON_MAX_DEPTH + 1)

/* One pass, no recursion, no allocation. The states are labels: value,
** key and after; white space is skipped where it is found rather than
** before every token, since compact JSON (the common case) has none.
** Returns 0, or -1 with *pos and *whyp saying what is wrong where. */
static inline int check_object(const char *p, size_t n, size_t max_depth, size_t *pos,
                               const char **whyp) {
  if (!p || n == 0) {
    *pos = 0;
    *whyp = "empty input";
    return -1;
  }
  const uc *s = (const uc *)p, *end = s + n, *at;
  const char *why;
  const uc *q = skip_ws(s, end);
  /* One bit per open container, 1 = object: all the state a single pass
  ** needs besides the innermost container's kind, kept in in_obj. */
  uint64_t stack[(MAX_DEPTH_LINE + 63) / 64] = {0};
  size_t depth = 0;
  int in_obj = 1;
  uc c;

  if (q == end) {
    why = "empty input (only white space)";
    at = q;
    goto bad;
  }
  if (*q != '{') {
    why = "top-level value must be an object";
    at = q;
    goto bad;
  }
  goto open_object;

value: /* q: where a value must start, after optional white space */
  if (q == end) {
    why = "unexpected end of input (expected a value)";
    at = q;
    goto bad;
  }
  switch (*q) {
  case '"':
    q = scan_string(q + 1, end, &why, &at);
    if (!q) goto bad;
    goto after;
  case '1': case '2': case '3': case '4': case '5': case '6': case '7':
  case '8': case '9':
    q++;
    while (q < end && is_digit_c(*q)) q++;
    q = number_tail(q, end, &why, &at);
    if (!q) goto bad;
    goto after;
  case '-': case '0':
    q = scan_number(q, end, &why, &at);
    if (!q) goto bad;
    goto after;
  case '{':
  open_object:
    if (depth == max_depth) goto too_deep;
    stack[depth >> 6] |= (uint64_t)1 << (depth & 63);
    depth++;
    in_obj = 1;
    q = skip_ws(q + 1, end);
    if (q < end && *q == '}') {
      q++;
      goto close;
    }
    goto key;
  case '[':
    if (depth == max_depth) goto too_deep;
    stack[depth >> 6] &= ~((uint64_t)1 << (depth & 63));
    depth++;
    in_obj = 0;
    q = skip_ws(q + 1, end);
    if (q < end && *q == ']') {
      q++;
      goto close;
    }
    goto value;
  case 't':
    if (end - q >= 4 && !memcmp(q, "true", 4)) {
      q += 4;
      goto after;
    }
    goto bad_literal;
  case 'f':
    if (end - q >= 5 && !memcmp(q, "false", 5)) {
      q += 5;
      goto after;
    }
    goto bad_literal;
  case 'n':
    if (end - q >= 4 && !memcmp(q, "null", 4)) {
      q += 4;
      goto after;
    }
    goto bad_literal;
  case ' ': case '\t': case '\n': case '\r':
    q = skip_ws(q + 1, end);
    goto value;
  default:
    why = "expected a value";
    at = q;
    goto bad;
  }

key: /* q: where a member name must start, after optional white space */
  if (q == end || *q != '"') {
    q = skip_ws(q, end);
    if (q == end) {
      why = "unexpected end of input (expected an object key)";
      at = q;
      goto bad;
    }
    if (*q != '"') {
      /* '{' followed by '}' never gets here, so '}' means a trailing comma. */
      why = *q == '}' ? "trailing comma before '}'"
                      : "expected a string as object key";
      at = q;
      goto bad;
    }
  }
  q = scan_string(q + 1, end, &why, &at);
  if (!q) goto bad;
  if (q == end || *q != ':') {
    q = skip_ws(q, end);
    if (q == end || *q != ':') {
      why = q == end ? "unexpected end of input (expected ':' after object key)"
                     : "expected ':' after object key";
      at = q;
      goto bad;
    }
  }
  q++;
  goto value;

close: /* just past the '}' or ']' of the innermost container */
  if (--depth == 0) {
    q = skip_ws(q, end);
    if (q != end) {
      why = "trailing characters after the value";
      at = q;
      goto bad;
    }
    return 0;
  }
  in_obj = stack[(depth - 1) >> 6] >> ((depth - 1) & 63) & 1;

after: /* just past a complete value inside a container */
  if (q == end) goto unclosed;
  c = *q;
  if (is_ws[c]) {
    q = skip_ws(q + 1, end);
    if (q == end) goto unclosed;
    c = *q;
  }
  if (c == ',') {
    q++;
    if (in_obj) goto key;
    q = skip_ws(q, end);
    if (q < end && *q == ']') {
      why = "trailing comma before ']'";
      at = q;
      goto bad;
    }
    goto value;
  }
  if (c == (in_obj ? '}' : ']')) {
    q++;
    goto close;
  }
  why = in_obj ? "expected ',' or '}' after object member"
               : "expected ',' or ']' after array element";
  at = q;
  goto bad;

unclosed:
  why = "unexpected end of input (unclosed object or array)";
  at = q;
  goto bad;
bad_literal:
  why = "invalid literal (expected true, false or null)";
  at = q;
  goto bad;
too_deep:
  why = max_depth == EVS_JSON_MAX_DEPTH
            ? "nesting deeper than " STR(EVS_JSON_MAX_DEPTH)
            : "nesting deeper than " STR(EVS_JSON_MAX_DEPTH) " inside a member";
  at = q;
bad:
  *pos = (size_t)(at - s);
  *whyp = why;
  return -1;
}

int evs_json_check_object(const char *p, size_t n, char *err, size_t errlen) {
  size_t pos;
  const char *why;
  if (!check_object(p, n, EVS_JSON_MAX_DEPTH, &pos, &why)) return 0;
  return fail(err, errlen, pos, why);
}

/* Is literal word cut short at q (the rest of the text a prefix of it)? */
static int literal_cut(const uc *q, const uc *end, const char *word) {
  size_t n = (size_t)(end - q);
  return n < strlen(word) && !memcmp(q, word, n);
}

/* Does the problem at `at` only mean the text stopped too early: every
** byte so far can begin an object? */
static int cut_short(const uc *at, const uc *end, const char *why) {
  if (at == end || !strcmp(why, "unterminated string")) return 1;
  if (!strcmp(why, "invalid UTF-8 in string") && end - at < 4) {
    /* A sequence the end cut: does some continuation complete it? */
    uc b[4] = {0x80, 0x80, 0x80, 0x80};
    uint32_t cp;
    memcpy(b, at, (size_t)(end - at));
    for (unsigned c2 = 0x80; c2 <= 0xbf; c2++) {
      if (end - at == 1) b[1] = (uc)c2;
      if (evs_utf8_seq(b, 4, &cp)) return 1;
    }
    return 0;
  }
  if (!strncmp(why, "invalid literal", 15))
    return literal_cut(at, end, "true") || literal_cut(at, end, "false") ||
           literal_cut(at, end, "null");
  if (!strncmp(why, "invalid \\u escape", 15) && end - at < 12) {
    /* \u and 4 hex digits; after a high surrogate, \u and 4 more. */
    static const char shape[] = "\\uxxxx\\uxxxx";
    for (const uc *q = at; q < end; q++) {
      char want = shape[q - at];
      if (want == 'x' ? hexval(*q) < 0 : *q != (uc)want) return 0;
    }
    return end - at < 6 || strstr(why, "high") != NULL;
  }
  return 0;
}

int evs_json_check(const char *text, size_t len, size_t *offset, const char **why,
                   int *incomplete) {
  size_t pos;
  const char *w;
  if (incomplete) *incomplete = 0;
  if (!text && len) return EVS_EINVAL;
  if (!check_object(text, len, MAX_DEPTH_LINE, &pos, &w)) return 0;
  if (offset) *offset = pos;
  if (why) *why = w;
  if (incomplete) {
    const uc *s = (const uc *)text;
    *incomplete = !text || cut_short(s + pos, s + len, w);
  }
  return EVS_EJSON;
}

/* ---- lookup: inputs were validated on the way in, but these still stop
** at end on any text, so a bad caller gets 0 rather than an overread. ---- */

/* q at the opening quote. Returns the position of the closing quote. */
static const uc *skip_string(const uc *q, const uc *end) {
  for (q++; q < end; q++) {
    if (*q == '"') return q;
    if (*q == '\\' && ++q == end) return NULL;
  }
  return NULL;
}

/* Returns the position just past the value at q, or NULL. Containers are
** skipped by counting brackets: validated text has them balanced. */
static const uc *skip_value(const uc *q, const uc *end) {
  if (q == end) return NULL;
  if (*q == '"') {
    q = skip_string(q, end);
    return q ? q + 1 : NULL;
  }
  if (*q == '{' || *q == '[') {
    size_t depth = 0;
    for (; q < end; q++) {
      if (*q == '"') {
        q = skip_string(q, end);
        if (!q) return NULL;
      } else if (*q == '{' || *q == '[') {
        depth++;
      } else if (*q == '}' || *q == ']') {
        if (--depth == 0) return q + 1;
      }
    }
    return NULL;
  }
  const uc *start = q;
  while (q < end && !is_ws[*q] && *q != ',' && *q != '}' && *q != ']' &&
         *q != ':')
    q++;
  return q == start ? NULL : q;
}

/* Does the string body q[0..end) (between the quotes) unescape to exactly
** s[0..slen)? Decodes on the fly so no buffer is needed for any length. */
static int unescaped_equals(const uc *q, const uc *end, const uc *s,
                            size_t slen) {
  size_t i = 0;
  while (q < end) {
    if (*q != '\\') {
      if (i == slen || s[i] != *q) return 0;
      i++;
      q++;
      continue;
    }
    if (end - q < 2) return 0;
    uc buf[4];
    size_t len = 1;
    switch (q[1]) {
    case '"': case '\\': case '/': buf[0] = q[1]; break;
    case 'b': buf[0] = '\b'; break;
    case 'f': buf[0] = '\f'; break;
    case 'n': buf[0] = '\n'; break;
    case 'r': buf[0] = '\r'; break;
    case 't': buf[0] = '\t'; break;
    case 'u': {
      long u = end - q >= 6 ? hex4(q + 2) : -1;
      if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) return 0;
      if (u >= 0xd800 && u <= 0xdbff) {
        long lo = end - q >= 12 && q[6] == '\\' && q[7] == 'u'
                      ? hex4(q + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) return 0;
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        q += 6;
      }
      len = evs_utf8_put(buf, (uint32_t)u);
      q += 4; /* the common += 2 below covers the backslash and 'u' */
      break;
    }
    default:
      return 0;
    }
    q += 2;
    if (slen - i < len || memcmp(s + i, buf, len)) return 0;
    i += len;
  }
  return i == slen;
}

int evs_json_member(const char *obj, size_t n, const char *key, size_t keylen,
                    const char **val, size_t *vlen) {
  if (!obj || (!key && keylen)) return 0;
  const uc *q = (const uc *)obj, *end = q + n, *found = NULL, *fend = NULL;
  const uc *k = key ? (const uc *)key : (const uc *)"";
  q = skip_ws(q, end);
  if (q == end || *q != '{') return 0;
  q = skip_ws(q + 1, end);
  if (q < end && *q == '}') return 0;
  for (;;) {
    if (q == end || *q != '"') return 0;
    const uc *kstart = q + 1;
    q = skip_string(q, end);
    if (!q) return 0;
    int match = unescaped_equals(kstart, q, k, keylen);
    q = skip_ws(q + 1, end);
    if (q == end || *q != ':') return 0;
    q = skip_ws(q + 1, end);
    const uc *vstart = q;
    q = skip_value(q, end);
    if (!q) return 0;
    if (match) { /* keep going: a later duplicate replaces this one */
      found = vstart;
      fend = q;
    }
    q = skip_ws(q, end);
    if (q == end) return 0;
    if (*q == '}') break;
    if (*q != ',') return 0;
    q = skip_ws(q + 1, end);
  }
  if (!found) return 0;
  if (val) *val = (const char *)found;
  if (vlen) *vlen = (size_t)(fend - found);
  return 1;
}

/* Is v[0..n) exactly a JSON number or literal? Keeps garbage from matching
** a caller's text just because the bytes are equal. */
static int is_scalar(const uc *v, size_t n) {
  if ((n == 4 && (!memcmp(v, "true", 4) || !memcmp(v, "null", 4))) ||
      (n == 5 && !memcmp(v, "false", 5)))
    return 1;
  if (*v != '-' && !is_digit_c(*v)) return 0;
  const char *why;
  const uc *at, *e = scan_number(v, v + n, &why, &at);
  return e == v + n;
}

int evs_json_value_equals(const char *val, size_t vlen, const char *s,
                          size_t slen) {
  if (!val || vlen == 0 || (!s && slen)) return 0;
  const uc *v = (const uc *)val;
  const uc *t = s ? (const uc *)s : (const uc *)"";
  if (*v == '"') {
    if (vlen < 2 || skip_string(v, v + vlen) != v + vlen - 1) return 0;
    return unescaped_equals(v + 1, v + vlen - 1, t, slen);
  }
  if (!is_scalar(v, vlen)) return 0;
  return vlen == slen && !memcmp(v, t, slen);
}

int evs_json_member_next(const char *obj, size_t len, size_t *pos, evs_json_span *name,
                         evs_json_span *value) {
  if (!obj || !pos || *pos > len) return EVS_EINVAL;
  const uc *s = (const uc *)obj, *end = s + len, *q = s + *pos;
  if (*pos == len && len) return EVS_ENOTFOUND; /* asked again after the end */
  if (*pos == 0) {
    q = skip_ws(q, end);
    if (q == end || *q != '{') return EVS_EJSON;
    q = skip_ws(q + 1, end);
    if (q < end && *q == '}') return *pos = len, EVS_ENOTFOUND;
  } else {
    q = skip_ws(q, end);
    if (q == end) return EVS_EJSON;
    if (*q == '}') return *pos = len, EVS_ENOTFOUND;
    if (*q != ',') return EVS_EJSON;
    q = skip_ws(q + 1, end);
  }
  if (q == end || *q != '"') return EVS_EJSON;
  const uc *k = q + 1;
  if (!(q = skip_string(q, end))) return EVS_EJSON;
  if (name) name->off = (size_t)(k - s), name->len = (size_t)(q - k);
  q = skip_ws(q + 1, end);
  if (q == end || *q != ':') return EVS_EJSON;
  q = skip_ws(q + 1, end);
  const uc *v = q;
  if (!(q = skip_value(q, end))) return EVS_EJSON;
  if (value) value->off = (size_t)(v - s), value->len = (size_t)(q - v);
  *pos = (size_t)(q - s);
  return 0;
}

int evs_json_string_decode(const char *str, size_t len, char *out, size_t *outlen) {
  if ((!str && len) || !out) return EVS_EINVAL;
  const uc *q = (const uc *)(str ? str : ""), *end = q + len;
  uc *o = (uc *)out;
  while (q < end) {
    if (*q != '\\') {
      *o++ = *q++;
      continue;
    }
    if (end - q < 2) return EVS_EJSON;
    switch (q[1]) {
    case '"': case '\\': case '/': *o++ = q[1]; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      long u = end - q >= 6 ? hex4(q + 2) : -1;
      if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) return EVS_EJSON;
      if (u >= 0xd800 && u <= 0xdbff) {
        long lo = end - q >= 12 && q[6] == '\\' && q[7] == 'u' ? hex4(q + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) return EVS_EJSON;
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        q += 6;
      }
      /* 6 or 12 bytes of escape never make more than 4 of UTF-8, so out
      ** may be str itself. */
      o += evs_utf8_put(o, (uint32_t)u);
      q += 4;
      break;
    }
    default:
      return EVS_EJSON;
    }
    q += 2;
  }
  *o = 0;
  if (outlen) *outlen = (size_t)(o - (uc *)out);
  return 0;
}
