/*
 * strv.c - freeing string arrays (strv.h): one definition for every layer, so code
 * that frees a listing need not include the module that made it.
 */
#include "util/strv.h"

#include <stdlib.h>

void vv_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
