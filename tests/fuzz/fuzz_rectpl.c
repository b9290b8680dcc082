/*
 * fuzz_rectpl.c - libFuzzer target for RECORD templates (pkg/rectpl.h), which the mount
 * reads from the store (outside input). The input is a template. Rendered under a plain
 * env path and under one with a space (pip's /bin/sh trampoline), it renders or is
 * refused with -EUCLEAN, under both paths alike, never read past. What renders renders
 * the same with the entry values its table gives, not at all with other ones, has the
 * size vv_rectpl_size says whenever that is not "unknown", holds its whole text, and
 * that text reads too (vv_rectpl_text: the template's tail).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/rectpl.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD 11 /* "VVREC1\n" and K */
#define FIELD 51 /* "sha256=" + 43 base64url digits + "," */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The entry values of a template that rendered (its table is sound). */
static struct vv_recent entry_of(const uint8_t *t)
{
	struct vv_recent e = { get32(t + 7), 0, UINT32_MAX, 0 };
	for (uint32_t i = 0; i < e.k; i++) {
		uint32_t n = get32(t + HEAD + (size_t)i * 8 + 4);
		e.sum += n;
		e.smin = n < e.smin ? n : e.smin;
		e.smax = n > e.smax ? n : e.smax;
	}
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	const char *tpl = (const char *)data;
	static const char *const paths[] = { "/some/env", "/tmp/my env/with a trampoline" };
	int first = 1;
	for (size_t p = 0; p < 2; p++) {
		char *out = NULL;
		size_t ol = 0;
		int r = vv_rectpl_render(tpl, size, NULL, paths[p], &out, &ol);
		vv_err_clear();
		if (r != 0 && r != -EUCLEAN)
			abort();
		if (p == 0)
			first = r;
		else if (r != first) /* a template renders under every path or none */
			abort();
		if (r != 0)
			continue;
		struct vv_recent e = entry_of(data);
		char *o2 = NULL;
		size_t l2 = 0;
		if (vv_rectpl_render(tpl, size, &e, paths[p], &o2, &l2) != 0 || l2 != ol ||
		    memcmp(o2, out, ol))
			abort();
		free(o2);
		struct vv_recent w = e;
		w.sum++;
		o2 = NULL;
		if (vv_rectpl_render(tpl, size, &w, paths[p], &o2, &l2) != -EUCLEAN)
			abort();
		vv_err_clear();
		free(o2);
		uint64_t sz = vv_rectpl_size(size, &e, paths[p]);
		if (sz != UINT64_MAX && sz != ol)
			abort();
		const char *text = NULL;
		size_t tl = 0;
		if (vv_rectpl_text(tpl, size, &text, &tl) != 0 || text < tpl ||
		    text + tl != tpl + size)
			abort();
		/* each field is at least "sha256=" + 43 digits + "," + one digit */
		if (ol < tl + (size_t)e.k * (FIELD + 1))
			abort();
		/* the text after the last field ends the rendering */
		uint32_t last = get32(data + HEAD + (size_t)(e.k - 1) * 8);
		if (memcmp(out + ol - (tl - last), text + last, tl - last))
			abort();
		free(out);
	}
	return 0;
}
