/*
 * pyversion.c - version numbers (python.h): dotted releases compared numerically, a
 * version against a prefix ("3.12" selects 3.12.1), Requires-Python specifiers, the
 * version in a wheel's file name, and the strict X.Y.Z an interpreter reports. One
 * specifier clause is also what environment markers compare versions with (pkg/marker.c).
 */
#include "python/python.h"
#include "python/python_int.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "util/error.h"

/* "3.11.7" -> major, minor; strict digits, no leading garbage. */
int python_parse_version(const char *s, int *major, int *minor)
{
	int part[3], n = 0;
	const char *p = s;
	while (n < 3) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		long v = 0;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			if (++digits > 4)
				return -EINVAL;
		}
		part[n++] = (int)v;
		if (n < 3 && *p++ != '.')
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*major = part[0];
	*minor = part[1];
	return 0;
}

/* One dotted component: its number and whether something follows the digits
 * ("0b1" -> 0, pre-release). Returns the end of the component. */
static const char *ver_part(const char *s, unsigned long long *num, bool *pre,
			    const char **suffix, size_t *slen)
{
	unsigned long long v = 0;
	while (isdigit((unsigned char)*s)) {
		if (v < 1000000000000ULL)
			v = v * 10 + (unsigned)(*s - '0');
		s++;
	}
	const char *suf = s;
	while (*s && *s != '.')
		s++;
	*num = v;
	*pre = s > suf;
	*suffix = suf;
	*slen = (size_t)(s - suf);
	return s;
}

int vv_version_cmp(const char *a, const char *b)
{
	while (*a || *b) {
		unsigned long long x = 0, y = 0;
		bool xp = false, yp = false;
		const char *xs = "", *ys = "";
		size_t xl = 0, yl = 0;
		if (*a)
			a = ver_part(a, &x, &xp, &xs, &xl);
		if (*b)
			b = ver_part(b, &y, &yp, &ys, &yl);
		if (x != y)
			return x < y ? -1 : 1;
		if (xp != yp)
			return xp ? -1 : 1; /* "0b1" < "0" */
		if (xp) {
			int c = strncmp(xs, ys, xl < yl ? xl : yl);
			if (c || xl != yl)
				return c ? c : xl < yl ? -1 : 1;
		}
		if (*a == '.')
			a++;
		if (*b == '.')
			b++;
	}
	return 0;
}

/* Do the first components of ver equal all components of prefix ("3.1" vs "3.12.0":
 * no)? Components are compared as numbers. */
bool python_ver_prefix(const char *ver, const char *prefix)
{
	while (*prefix) {
		if (!*ver)
			return false;
		unsigned long long x, y;
		bool xp, yp;
		const char *xs, *ys;
		size_t xl, yl;
		ver = ver_part(ver, &x, &xp, &xs, &xl);
		prefix = ver_part(prefix, &y, &yp, &ys, &yl);
		if (x != y || xp != yp || (xp && (xl != yl || strncmp(xs, ys, xl))))
			return false;
		if (*ver == '.')
			ver++;
		if (*prefix == '.')
			prefix++;
	}
	return true;
}

/* Is ver a pre-release ("3.13.0rc1": a letter after the digits)? Then *rel gets its
 * release part ("3.13.0", size bytes). */
static bool pre_release(const char *ver, char *rel, size_t size)
{
	size_t n = strspn(ver, "0123456789.");
	if (!ver[n] || n >= size)
		return false;
	memcpy(rel, ver, n);
	rel[n] = 0;
	return true;
}

/* One Requires-Python clause: 1 holds, 0 fails, -1 unreadable. */
static int clause_ok(const char *ver, const char *c, size_t len)
{
	static const char *const ops[] = { "===", "~=", "==", "!=", ">=", "<=", ">", "<" };
	char buf[64];
	while (len && isspace((unsigned char)*c))
		c++, len--;
	while (len && isspace((unsigned char)c[len - 1]))
		len--;
	if (!len)
		return 1;
	size_t k = 0, ol = 0;
	for (; k < sizeof(ops) / sizeof(ops[0]); k++) {
		ol = strlen(ops[k]);
		if (len > ol && !strncmp(c, ops[k], ol))
			break;
	}
	if (k == sizeof(ops) / sizeof(ops[0]) || k == 0)
		return -1;
	c += ol;
	len -= ol;
	while (len && isspace((unsigned char)*c))
		c++, len--;
	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, c, len);
	buf[len] = 0;
	bool star = len > 2 && !strcmp(buf + len - 2, ".*");
	if (star)
		buf[len - 2] = 0;
	for (const char *p = buf; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.')
			return -1;
	if (!isdigit((unsigned char)buf[0]))
		return -1;
	if (star && k != 2 && k != 3)
		return -1;
	int cmp = vv_version_cmp(ver, buf);
	switch (k) {
	case 1: { /* ~= X.Y[.Z]: >= it, and the same up to its last component */
		char *dot = strrchr(buf, '.');
		if (!dot)
			return -1;
		if (cmp < 0)
			return 0;
		*dot = 0;
		return python_ver_prefix(ver, buf);
	}
	case 2: return star ? python_ver_prefix(ver, buf) : cmp == 0;
	case 3: return star ? !python_ver_prefix(ver, buf) : cmp != 0;
	case 4: return cmp >= 0;
	case 5: return cmp <= 0;
	case 6: return cmp > 0;
	default: {
		/* PEP 440: "<V" admits no pre-release of V itself ("3.13.0rc1" is not
		 * < "3.13") unless V is one */
		char rel[64], vrel[64];
		if (cmp < 0 && pre_release(ver, rel, sizeof(rel)) &&
		    !pre_release(buf, vrel, sizeof(vrel)) && !vv_version_cmp(rel, buf))
			return 0;
		return cmp < 0;
	}
	}
}

int vv_version_spec_ok(const char *ver, const char *clause)
{
	int r = clause_ok(ver, clause, strlen(clause));
	return r < 0 ? -EINVAL : r;
}

int vv_python_requires_ok(const struct vv_python *py, const char *spec)
{
	if (!spec || !py->version)
		return 1;
	const char *s = spec;
	for (;;) {
		size_t n = strcspn(s, ",");
		if (clause_ok(py->version, s, n) == 0)
			return 0;
		if (!s[n])
			return 1;
		s += n + 1;
	}
}

int vv_python_wheel_version(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dash = strchr(base, '-');
	if (!dash || !isdigit((unsigned char)dash[1]))
		return vv_err(-EINVAL, "'%s' is not a wheel file name", path);
	size_t n = strcspn(dash + 1, "-");
	if (!dash[1 + n] || n >= size)
		return vv_err(-EINVAL, "'%s' is not a wheel file name", path);
	memcpy(buf, dash + 1, n);
	buf[n] = 0;
	return 0;
}
