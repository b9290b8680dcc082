/*
 * tags.c - wheel file-name tags against an interpreter, and PEP 503 names (tags.h).
 *
 * Moved out of `venvctl add` (install.c) so that the package records below it can ask
 * the same questions without calling up into the ops layer. Every accepted
 * (python, abi, platform) combination of the file name's tag sets gets a score; the
 * best one decides whether and how well a wheel fits.
 */
#include "pkg/tags.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/fsutil.h"

int vv_dist_canonical(const char *name, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		char c = name[i];
		if (c == '-' || c == '_' || c == '.') {
			while (i < len && (name[i] == '-' || name[i] == '_' || name[i] == '.'))
				i++;
			c = '-';
		} else {
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			i++;
		}
		if (o + 1 >= size)
			return vv_err(-ENAMETOOLONG, "distribution name too long");
		out[o++] = c;
	}
	if (!size)
		return vv_err(-ENAMETOOLONG, "distribution name too long");
	out[o] = 0;
	return 0;
}

/* ---------------------------------------------------------------- tags */

/* "3N" after a "py"/"cp" prefix: N, or -1. */
static int tag_minor(const char *s, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl) || s[pl] != '3')
		return -1;
	s += pl + 1;
	if (!*s)
		return -2; /* just "py3" / "cp3" */
	if (strlen(s) > 3)
		return -1;
	int n = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n;
}

static bool pair_ok(const char *py, const char *abi, int minor)
{
	char own[16];
	snprintf(own, sizeof(own), "cp3%d", minor);
	if (!strcmp(abi, "none")) {
		int n = tag_minor(py, "py");
		return n == -2 || (n >= 0 && n <= minor) || !strcmp(py, own);
	}
	if (!strcmp(abi, "abi3")) {
		int n = tag_minor(py, "cp");
		return n >= 2 && n <= minor;
	}
	return !strcmp(abi, own) && !strcmp(py, own);
}

static bool plat_ok(const char *plat, const char *machine)
{
	size_t pl = strlen(plat), ml = strlen(machine);
	if (!strcmp(plat, "any"))
		return true;
	if (!strncmp(plat, "linux_", 6) && !strcmp(plat + 6, machine))
		return true;
	return !strncmp(plat, "manylinux", 9) && pl > 9 + ml && plat[pl - ml - 1] == '_' &&
	       !strcmp(plat + pl - ml, machine);
}

/* How specific an accepted (py, abi, plat) is: a platform tag beats "any", the
 * interpreter's own ABI beats abi3 beats none, cp3N beats py3N beats py3. */
static int pair_score(const char *py, const char *abi, const char *plat)
{
	int s = strcmp(plat, "any") ? 10000 : 0;
	s += !strcmp(abi, "none") ? 0 : !strcmp(abi, "abi3") ? 1000 : 2000;
	int n = tag_minor(py, "cp");
	if (n >= 0)
		return s + 200 + n;
	n = tag_minor(py, "py");
	return s + (n >= 0 ? 100 + n : 0);
}

/* The best score of the accepted combinations of the '.'-separated tag sets, or -1. */
static int tags_score(const char *pys, const char *abis, const char *plats, int minor,
		      const char *machine)
{
	char a[128], b[128], c[128];
	int best = -1;
	snprintf(a, sizeof(a), "%s", pys);
	for (char *sa, *py = strtok_r(a, ".", &sa); py; py = strtok_r(NULL, ".", &sa)) {
		snprintf(b, sizeof(b), "%s", abis);
		for (char *sb, *abi = strtok_r(b, ".", &sb); abi; abi = strtok_r(NULL, ".", &sb)) {
			if (!pair_ok(py, abi, minor))
				continue;
			snprintf(c, sizeof(c), "%s", plats);
			for (char *sc, *pl = strtok_r(c, ".", &sc); pl; pl = strtok_r(NULL, ".", &sc))
				if (plat_ok(pl, machine) && pair_score(py, abi, pl) > best)
					best = pair_score(py, abi, pl);
		}
	}
	return best;
}

static int tag_check(const char *wheel_path, int minor, const char *machine, char *canon,
		     size_t size)
{
	const char *w = vv_base_name(wheel_path);
	size_t len = strlen(w);
	if (len < 5 || strcmp(w + len - 4, ".whl") || len > 400)
		return vv_err(-EINVAL, "%.300s: not a wheel file name (NAME-VERSION-PY-ABI-PLATFORM"
			      ".whl)", w);
	char stem[400], *part[7];
	size_t np = 0;
	memcpy(stem, w, len - 4);
	stem[len - 4] = 0;
	for (char *p = stem;;) {
		if (np == 7)
			break;
		part[np++] = p;
		char *dash = strchr(p, '-');
		if (!dash)
			break;
		*dash = 0;
		p = dash + 1;
	}
	bool bad = np < 5 || np > 6;
	for (size_t i = 0; !bad && i < np; i++)
		bad = !*part[i] || strlen(part[i]) > 120;
	for (const char *p = part[0]; !bad && *p; p++)
		bad = !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '.' || *p == '_');
	if (bad)
		return vv_err(-EINVAL, "%s: not a wheel file name (NAME-VERSION[-BUILD]-PY-ABI-"
			      "PLATFORM.whl)", w);
	int score = tags_score(part[np - 3], part[np - 2], part[np - 1], minor, machine);
	if (score < 0)
		return vv_err(-EINVAL, "%s: not for this env (CPython 3.%d on Linux %s): tags "
			      "%s-%s-%s", w, minor, machine, part[np - 3], part[np - 2],
			      part[np - 1]);
	if (canon) {
		int r = vv_dist_canonical(part[0], strlen(part[0]), canon, size);
		if (r < 0)
			return vv_err_prefix(r, "%s", w);
	}
	return score;
}

int vv_tag_check(const char *wheel_path, int minor, const char *machine, char *canon,
		 size_t size)
{
	int r = tag_check(wheel_path, minor, machine, canon, size);
	return r < 0 ? r : 0;
}

int vv_tag_score(const char *wheel_path, int minor, const char *machine)
{
	return tag_check(wheel_path, minor, machine, NULL, 0);
}
