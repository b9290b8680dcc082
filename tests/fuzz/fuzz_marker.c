/*
 * fuzz_marker.c - libFuzzer target for PEP 508 environment markers (vv_marker_eval,
 * the part of a requirement line after ';'): checking and evaluating agree on whether
 * a marker is well formed (evaluating may also refuse `~=` on a non-version) and on
 * where it ends, which is within the input and VV_MARKER_MAX; "M or M" and "M and M"
 * evaluate as M does, so precedence and grouping hold on any input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/marker.h"
#include "../marker_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2 * VV_MARKER_MAX)
		return 0;
	char *m = malloc(size + 1);
	if (!m)
		return 0;
	memcpy(m, data, size);
	m[size] = 0;
	size_t len = strlen(m);
	const char *e1 = NULL, *e2 = NULL;
	int c = vv_marker_eval(m, NULL, &e1);
	int v = vv_marker_eval(m, &vt_marker_env, &e2);
	if ((c != 0 && c != -EINVAL) || (v != 0 && v != 1 && v != -EINVAL))
		abort();
	if (c < 0 && v >= 0)
		abort();
	if (c == 0 && (e1 < m || e1 > m + len || (size_t)(e1 - m) > VV_MARKER_MAX))
		abort();
	if (c == 0 && v >= 0 && e1 != e2)
		abort();
	if (v >= 0 && !*e2 && 2 * len + 5 <= VV_MARKER_MAX) {
		static const char *const joins[] = {" or ", " and "};
		char *buf = malloc(2 * len + 6);
		if (!buf)
			abort();
		for (size_t i = 0; i < 2; i++) {
			snprintf(buf, 2 * len + 6, "%s%s%s", m, joins[i], m);
			if (vv_marker_eval(buf, &vt_marker_env, NULL) != v)
				abort();
		}
		free(buf);
	}
	free(m);
	return 0;
}
