/*
 * fuzz_pkg.c - libFuzzer target for package records (vv_pkg_parse: a record that
 * parses and is formatted again must read back the same) and requirement files
 * (vv_pkg_reqs_check: every line is either a pin or reported, never both).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/pkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vv_pkg p, q;
	if (vv_pkg_parse((const char *)data, size, "fuzz", &p) == 0) {
		char *out;
		size_t len;
		if (vv_pkg_format(&p, &out, &len) == 0) {
			if (vv_pkg_parse(out, len, "fuzz", &q) != 0)
				abort();
			if (!streq(p.name, q.name) || !streq(p.version, q.version) ||
			    !streq(p.wheel, q.wheel) || p.minor != q.minor ||
			    !vv_oid_eq(&p.tree, &q.tree) || !vv_oid_eq(&p.site, &q.site) ||
			    !vv_oid_eq(&p.bin, &q.bin) || p.extra != q.extra ||
			    !vv_oid_eq(&p.sha256, &q.sha256))
				abort();
			vv_pkg_release(&q);
			free(out);
		}
		vv_pkg_release(&p);
	}
	size_t pins = 0;
	char *report = NULL;
	if (vv_pkg_reqs_check((const char *)data, size, "fuzz.txt", &pins, &report) == 0) {
		size_t lines = 0;
		for (const char *s = report; s && *s; s++)
			lines += *s == '\n';
		if (report && !lines)
			abort();
	}
	free(report);
	return 0;
}
