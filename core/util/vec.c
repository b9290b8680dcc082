/*
 * vec.c - growing malloc'd arrays (vec.h).
 */
#include "util/vec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/error.h"

int vv_grow_(void **arr, size_t n, size_t *cap, size_t size, size_t min)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : (min ? min : 1);
	if (nc <= *cap || nc > SIZE_MAX / size)
		return vv_err(-ENOMEM, "out of memory (an array of %zu elements)", n);
	void *nv = realloc(*arr, nc * size);
	if (!nv)
		return vv_err(-ENOMEM, "out of memory");
	*arr = nv;
	*cap = nc;
	return 0;
}
