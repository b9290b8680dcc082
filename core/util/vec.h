/*
 * vec.h - the one way to grow a malloc'd array.
 *
 *   struct thing *v = NULL;
 *   size_t n = 0, cap = 0;
 *   if ((r = VV_GROW(v, n, cap, 16)) < 0)
 *           return r;            // "out of memory" is set
 *   v[n++] = x;
 *
 * VV_GROW makes room for at least one more element: when n == cap the capacity
 * doubles (the first allocation holds `min` elements), checked for overflow. The array
 * is unchanged when it fails.
 */
#ifndef VV_VEC_H
#define VV_VEC_H

#include <stddef.h>

#define VV_GROW(arr, n, cap, min) \
	vv_grow_((void **)&(arr), (n), &(cap), sizeof(*(arr)), (min))

/* VV_GROW's body: 0, or -ENOMEM with a message. */
int vv_grow_(void **arr, size_t n, size_t *cap, size_t size, size_t min);

#endif
