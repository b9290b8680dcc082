/*
 * fuzz_pkg.c - libFuzzer target for package records (vv_pkg_parse: a record that
 * parses and is formatted again must read back the same) and requirement files
 * (vv_pkg_reqs_check: every line is either a pin or reported, never both; evaluating
 * the lines' environment markers only moves pins to skipped or, for `~=` on a
 * non-version, to reported).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/marker.h"
#include "pkg/pkg.h"
#include "../marker_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lines of a report, each "fuzz.txt:LINE: ..."; a report is never empty. */
static size_t report_lines(const char *report)
{
	size_t lines = 0;
	if (!report)
		return 0;
	for (const char *s = report; *s; s++)
		if (*s == '\n') {
			lines++;
			if (s[1] && strncmp(s + 1, "fuzz.txt:", 9))
				abort();
		}
	if (!lines || strncmp(report, "fuzz.txt:", 9))
		abort();
	return lines;
}

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
	/* Without an env markers are only checked; with one, evaluating them moves lines
	 * from pins to skipped (or, `~=` on a non-version, to unmet), never changes how
	 * many lines there are. */
	size_t pins = 0, skipped = 0, pins2 = 0, skipped2 = 0;
	char *report = NULL, *report2 = NULL;
	int r1 = vv_pkg_reqs_check((const char *)data, size, "fuzz.txt", NULL, &pins, &skipped,
				   &report);
	int r2 = vv_pkg_reqs_check((const char *)data, size, "fuzz.txt", &vt_marker_env, &pins2,
				   &skipped2, &report2);
	if (r1 != r2 || (r1 == 0 && skipped))
		abort();
	if (r1 == 0) {
		size_t unmet = report_lines(report), unmet2 = report_lines(report2);
		if (pins + unmet != pins2 + skipped2 + unmet2 || unmet2 < unmet ||
		    pins2 > pins)
			abort();
	}
	free(report);
	free(report2);
	return 0;
}
