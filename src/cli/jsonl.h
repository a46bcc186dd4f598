/*
** jsonl.h: the CLI's JSON beyond what the library checks and reads for it
** (evs_json_check, evs_json_member_next, evs_json_string_decode): member
** names compared with a word, and JSON strings written out.
*/
#ifndef EVS_CLI_JSONL_H
#define EVS_CLI_JSONL_H

#include <stddef.h>
#include <stdio.h>

/* Does the member name p[0..n) (between its quotes, escapes as written)
** decode to exactly `word`? */
int jl_name_is(const char *p, size_t n, const char *word);

/* Write s[0..n) as a JSON string, quotes included. Bytes that are not
** UTF-8 are written as U+FFFD (JSON cannot carry them). */
void jl_put_string(FILE *f, const char *s, size_t n);

#endif
