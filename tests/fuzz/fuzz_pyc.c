/*
 * fuzz_pyc.c - libFuzzer target for the marshal walk and the stored form of .pyc files
 * (python/pyc.h). Input: one byte N, N bytes of an env path (after a '/'), then the pyc.
 * A pyc that becomes a template renders back to exactly its bytes; rendered under
 * another path it has the size vv_pyc_size says, and taking it apart again gives the
 * same template (the stored form does not depend on the path). The rest of the input,
 * read as a template with any per-entry values, renders or is refused, never read past.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/pyc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	size_t pl = data[0] % 64;
	if (size < 1 + pl)
		return 0;
	char path[80] = "/";
	for (size_t i = 0; i < pl; i++)
		path[1 + i] = data[1 + i] ? (char)data[1 + i] : 'x';
	path[1 + pl] = 0;
	const char *buf = (const char *)data + 1 + pl;
	size_t len = size - 1 - pl;

	int c = vv_pyc_check(buf, len);
	if (c != 0 && c != -EUCLEAN)
		abort();
	char *t = NULL, *out = NULL, *t2 = NULL;
	size_t tl = 0, ol = 0, tl2 = 0;
	struct vv_pycent e, e2;
	int r = vv_pyc_neutral(buf, len, path, &t, &tl, &e);
	if (r < 0 || (r == 1 && c != 0))
		abort();
	if (r == 1) {
		if (vv_pyc_render(t, tl, &e, path, &out, &ol) != 0 || ol != len ||
		    memcmp(out, buf, len))
			abort();
		free(out);
		const char *other = "/some/other/env/path";
		if (vv_pyc_render(t, tl, &e, other, &out, &ol) != 0 ||
		    ol != vv_pyc_size(tl, &e, other))
			abort();
		if (vv_pyc_neutral(out, ol, other, &t2, &tl2, &e2) != 1)
			abort();
		if (e2.nsub == e.nsub && (tl2 != tl || memcmp(t2, t, tl) || e2.hdr != e.hdr ||
					  e2.sufl != e.sufl))
			abort();
		free(out);
		free(t2);
		free(t);
	}
	/* the input as a template, with per-entry values from its first bytes */
	struct vv_pycent any = { 0 };
	if (len >= 4) {
		any.nsub = (uint16_t)(((const uint8_t *)buf)[0] % 4);
		any.sufl = (uint16_t)((const uint8_t *)buf)[1];
	}
	r = vv_pyc_render(buf, len, &any, path, &out, &ol);
	if (r != 0 && r != -EUCLEAN)
		abort();
	if (r == 0 && ol != vv_pyc_size(len, &any, path))
		abort();
	free(out);
	return 0;
}
