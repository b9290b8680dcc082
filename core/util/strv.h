/*
 * strv.h - arrays of malloc'd strings (char **v with a count n), the form every name
 * listing of the core returns (env names, package records, directory entries).
 */
#ifndef VV_STRV_H
#define VV_STRV_H

#include <stddef.h>

/* Free v[0..n) and v itself. NULL-safe: v NULL (n then ignored) is a no-op, and so
 * are NULL elements. */
void vv_strv_free(char **v, size_t n);

#endif
