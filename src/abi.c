/*
** abi.c: copying the caller's structs in and out by the size it was
** compiled with (abi.h). Owns no state.
*/
#include <string.h>

#include "abi.h"
#include "error.h"
#include "util.h"

int evs_abi_in(const evs_store *s, const char *name, void *dst, size_t dst_size,
               const void *src, size_t size, size_t min) {
  memset(dst, 0, dst_size);
  if (!src) return 0;
  if (size < min)
    return evs_err(s, EVS_EINVAL, "%s of %zu bytes is smaller than its first layout (%zu bytes)",
                   name, size, min);
  const unsigned char *p = src;
  for (size_t i = dst_size; i < size; i++)
    if (p[i])
      return evs_err(s, EVS_EINVAL,
                     "%s has fields this library (version %s) does not know (byte %zu of %zu "
                     "is set)",
                     name, EVS_VERSION_STRING, i, size);
  memcpy(dst, src, EVS_MIN(size, dst_size));
  return 0;
}

int evs_abi_out_check(const evs_store *s, const char *name, const void *out, size_t size,
                      size_t min) {
  if (out && size < min)
    return evs_err(s, EVS_EINVAL, "%s of %zu bytes is smaller than its first layout (%zu bytes)",
                   name, size, min);
  return 0;
}

void evs_abi_out(void *out, size_t size, const void *src, size_t src_size) {
  if (!out) return;
  memcpy(out, src, EVS_MIN(size, src_size));
  if (size > src_size) memset((char *)out + src_size, 0, size - src_size);
}
