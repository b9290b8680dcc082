/*
 * fuzz_times.c - fuzz target for the times section decoder (store/times.h), which
 * reads an env root's bytes from the store (outside input). Input: 4 bytes of the
 * root's entry count (little-endian; 0xffffffff stands for 2^64 - 1, so numbers up to
 * 2^32 - 1 and the 2^32 bound are reachable), then the section. Beyond "no crash":
 * the encoding is canonical, so whatever decodes must encode back to exactly the same
 * bytes through a builder fed the decoded table, and every entry must be found.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "store/times.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint64_t count = (uint64_t)data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16 |
			 (uint64_t)data[3] << 24;
	if (count == UINT32_MAX)
		count = UINT64_MAX;
	struct vv_times *t = NULL;
	int r = vv_times_decode(data + 4, size - 4, count, &t);
	if (r < 0) {
		if (r != -EUCLEAN || t)
			abort();
		return 0;
	}
	if (!t || t->n == 0 || t->n > size)
		abort();
	struct vv_timesb b = { 0 };
	for (size_t i = 0; i < t->n; i++) {
		if (t->idx[i] >= count || (i > 0 && t->idx[i] <= t->idx[i - 1]))
			abort();
		int64_t m;
		uint32_t h;
		if (!vv_times_get(t, t->idx[i], &m, &h) || m != t->mtime[i] || h != t->hdr[i])
			abort();
		if (!vv_times_any(t, t->idx[i], 1))
			abort();
		if (vv_timesb_add(&b, t->idx[i], t->mtime[i], t->hdr[i]) < 0)
			abort();
	}
	char *buf = NULL;
	size_t len = 0;
	if (vv_timesb_encode(&b, &buf, &len) < 0)
		abort();
	if (len != size - 4 || memcmp(buf, data + 4, len) != 0)
		abort();
	free(buf);
	vv_timesb_free(&b);
	vv_times_unref(t);
	return 0;
}
