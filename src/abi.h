/*
** abi.h: the caller's structs copied in and out by the size the caller was
** compiled with, so they can grow without breaking older programs (the
** openat2(2)/clone3(2) pattern; see "Growable structs" in evstore.h).
** Each public entry point taking such a struct calls these first, then
** works on a full-size copy of its own.
*/
#ifndef EVS_ABI_H
#define EVS_ABI_H

#include <stddef.h>

#include "evstore.h"

/* The end of a struct's last field in its first published layout: the
** smallest size a program can have been compiled with. Fixed for good;
** fields added later never change these. */
#define EVS_ABI_END(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define EVS_OPTIONS_SIZE_VER0 EVS_ABI_END(evs_options, clock_arg)
#define EVS_EVENT_IN_SIZE_VER0 EVS_ABI_END(evs_event_in, priority)
#define EVS_APPEND_RESULT_SIZE_VER0 EVS_ABI_END(evs_append_result, created_us)
#define EVS_QUERY_SIZE_VER0 EVS_ABI_END(evs_query, cursor)
#define EVS_STATS_SIZE_VER0 EVS_ABI_END(evs_stats, recovered_records_dropped)
#define EVS_COMPACT_REPORT_SIZE_VER0 EVS_ABI_END(evs_compact_report, max_pause_us)
#define EVS_VERIFY_REPORT_SIZE_VER0 EVS_ABI_END(evs_verify_report, problems)
#define EVS_REPAIR_REPORT_SIZE_VER0 EVS_ABI_END(evs_repair_report, saved_to)

/* Copy an input struct of `size` bytes at src (the caller's) into dst, the
** library's own of dst_size bytes: a shorter struct's missing tail reads
** as zero ("the default"); a longer one is accepted only if the bytes this
** library does not know are all zero. src NULL copies nothing. Errors:
** EVS_EINVAL (size below min, or unknown non-zero bytes), recorded on s
** with `name` (e.g. "evs_options"). */
int evs_abi_in(const evs_store *s, const char *name, void *dst, size_t dst_size,
               const void *src, size_t size, size_t min);

/* Check the size of an output struct the caller passes (out may be NULL).
** Errors: EVS_EINVAL for a size below min. */
int evs_abi_out_check(const evs_store *s, const char *name, const void *out, size_t size,
                      size_t min);

/* Copy the library's src (src_size bytes) to the caller's out of `size`
** bytes: never past size; a longer struct's tail (fields this library
** does not know) is zeroed. out NULL copies nothing. */
void evs_abi_out(void *out, size_t size, const void *src, size_t src_size);

#endif
