/*
 * marker.c - PEP 508 environment markers (marker.h): a recursive-descent parser that
 * evaluates as it reads. Requirement files are outside input, so the parser never
 * reads more than VV_MARKER_MAX bytes of a marker, nests at most VV_MARKER_DEPTH
 * parentheses deep and allocates nothing; every error says what was expected where.
 * Versions are compared by the one reading venvfs has (python/pyversion.c).
 */
#include "pkg/marker.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "python/python.h"
#include "util/error.h"

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_COMPAT, OP_ARB, OP_IN, OP_NOTIN };

/* Longest first where one is a prefix of another. */
static const struct {
	const char *text;
	enum op op;
} cmp_ops[] = {
	{"===", OP_ARB}, {"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {"<", OP_LT},
	{">=", OP_GE}, {">", OP_GT}, {"~=", OP_COMPAT},
};

#define ENV_OFF(f) offsetof(struct vv_marker_env, f)
#define NO_FIELD ((size_t)-1) /* the variable is always "" */

/* PEP 508's variables, and the old dotted spellings pip still accepts. */
static const struct {
	const char *name;
	size_t off;
} vars[] = {
	{"python_version", ENV_OFF(python_version)},
	{"python_full_version", ENV_OFF(python_full_version)},
	{"implementation_version", ENV_OFF(implementation_version)},
	{"implementation_name", ENV_OFF(implementation_name)},
	{"platform_python_implementation", ENV_OFF(platform_python_implementation)},
	{"platform.python_implementation", ENV_OFF(platform_python_implementation)},
	{"python_implementation", ENV_OFF(platform_python_implementation)},
	{"sys_platform", ENV_OFF(sys_platform)},
	{"sys.platform", ENV_OFF(sys_platform)},
	{"os_name", ENV_OFF(os_name)},
	{"os.name", ENV_OFF(os_name)},
	{"platform_system", ENV_OFF(platform_system)},
	{"platform_machine", ENV_OFF(platform_machine)},
	{"platform.machine", ENV_OFF(platform_machine)},
	{"platform_release", ENV_OFF(platform_release)},
	{"platform_version", ENV_OFF(platform_version)},
	{"platform.version", ENV_OFF(platform_version)},
	{"extra", NO_FIELD},
};

/* Variables of lock files (PEP 751) that are sets, not strings. */
static const char *const unsupported[] = {"extras", "dependency_groups"};

#define IDENT_MAX 64 /* longer than any variable */

struct mp {
	const char *s, *p;               /* the marker, the reading position */
	const struct vv_marker_env *env; /* NULL: check only */
	int depth;
};

struct val {
	const char *v;
	size_t len;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* May q be read: is it at most the byte just after VV_MARKER_MAX bytes of marker? */
static bool in_bounds(const struct mp *m, const char *q)
{
	return (size_t)(q - m->s) <= VV_MARKER_MAX;
}

/* -EINVAL "bad environment marker: WHAT at 'TEXT'" (TEXT: where reading stopped). */
static int fail(const struct mp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const struct mp *m, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!in_bounds(m, m->p))
		return vv_err(-EINVAL, "bad environment marker: longer than %d bytes",
			      VV_MARKER_MAX);
	if (!*m->p)
		return vv_err(-EINVAL, "bad environment marker: %s at the end", what);
	int n = 0;
	while (n < 24 && m->p[n] && (unsigned char)m->p[n] >= 0x20 && m->p[n] != 0x7f)
		n++;
	if (!n)
		return vv_err(-EINVAL, "bad environment marker: %s at byte 0x%02x", what,
			      (unsigned char)*m->p);
	return vv_err(-EINVAL, "bad environment marker: %s at '%.*s%s'", what, n, m->p,
		      m->p[n] ? "..." : "");
}

static void skip_ws(struct mp *m)
{
	while (is_blank(*m->p) && in_bounds(m, m->p))
		m->p++;
}

/* Is the keyword kw at the reading position (a whole word)? */
static bool word(const struct mp *m, const char *kw)
{
	size_t l = strlen(kw);
	return !strncmp(m->p, kw, l) && !is_ident(m->p[l]);
}

/* A quoted string or a variable's value (with env; "" without). */
static int parse_value(struct mp *m, struct val *out)
{
	skip_ws(m);
	char c = *m->p;
	if (!in_bounds(m, m->p))
		return fail(m, "too long");
	if (c == '"' || c == '\'') {
		const char *q = m->p + 1;
		while (*q && *q != c && in_bounds(m, q))
			q++;
		if (!in_bounds(m, q)) {
			m->p = q;
			return fail(m, "too long");
		}
		if (!*q)
			return fail(m, "unclosed %s quote", c == '"' ? "double" : "single");
		out->v = m->p + 1;
		out->len = (size_t)(q - out->v);
		m->p = q + 1;
		return 0;
	}
	size_t n = 0;
	while (n <= IDENT_MAX && is_ident(m->p[n]))
		n++;
	if (!n || word(m, "and") || word(m, "or") || word(m, "in") || word(m, "not"))
		return fail(m, "expected a marker variable or a quoted string");
	if (isdigit((unsigned char)c))
		return fail(m, "expected a marker variable or a quoted string (a version "
			    "needs quotes)");
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (strlen(vars[i].name) != n || strncmp(vars[i].name, m->p, n))
			continue;
		m->p += n;
		out->v = "";
		if (m->env && vars[i].off != NO_FIELD)
			out->v = (const char *)m->env + vars[i].off;
		out->len = strlen(out->v);
		return 0;
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (strlen(unsupported[i]) == n && !strncmp(unsupported[i], m->p, n))
			return vv_err(-EINVAL, "environment marker variable '%s' is not supported "
				      "(it belongs in lock files)", unsupported[i]);
	int shown = n > IDENT_MAX ? IDENT_MAX : (int)n;
	return vv_err(-EINVAL, "bad environment marker: unknown variable '%.*s%s'", shown, m->p,
		      n > IDENT_MAX ? "..." : "");
}

static int parse_op(struct mp *m, enum op *op)
{
	skip_ws(m);
	size_t n = 0;
	while (n < 4 && m->p[n] && strchr("<>=!~", m->p[n]))
		n++;
	if (n) {
		for (size_t i = 0; i < sizeof(cmp_ops) / sizeof(cmp_ops[0]); i++)
			if (strlen(cmp_ops[i].text) == n && !strncmp(cmp_ops[i].text, m->p, n)) {
				*op = cmp_ops[i].op;
				m->p += n;
				return 0;
			}
		return fail(m, "unknown operator");
	}
	if (word(m, "in")) {
		*op = OP_IN;
		m->p += 2;
		return 0;
	}
	if (word(m, "not")) {
		m->p += 3;
		if (!is_blank(*m->p))
			return fail(m, "expected 'in' after 'not'");
		skip_ws(m);
		if (!word(m, "in"))
			return fail(m, "expected 'in' after 'not'");
		*op = OP_NOTIN;
		m->p += 2;
		return 0;
	}
	return fail(m, "expected an operator (==, !=, <, <=, >, >=, ~=, ===, in, not in)");
}

/* Could v be a version (the right side may end in ".*")? The digits-and-dots form with
 * letters for pre-releases that the version comparison reads, with a local part
 * ("+local") on the left only; anything else ("6.1.0-18-amd64", "x86_64") compares as
 * a string. *public (may be NULL) gets the length without the local part. */
static bool is_version(struct val v, bool right, size_t *public)
{
	size_t n = v.len;
	if (right && n > 2 && !strncmp(v.v + n - 2, ".*", 2))
		n -= 2;
	const char *plus = right ? NULL : memchr(v.v, '+', n);
	if (plus) {
		if (plus + 1 == v.v + n)
			return false;
		for (const char *q = plus + 1; q < v.v + n; q++)
			if (!isalnum((unsigned char)*q) && *q != '.')
				return false;
		n = (size_t)(plus - v.v);
	}
	if (public)
		*public = n;
	if (!n || n >= 60 || !isdigit((unsigned char)v.v[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v.v[i]) && v.v[i] != '.')
			return false;
	return true;
}

static const char *op_text(enum op op)
{
	for (size_t i = 0; i < sizeof(cmp_ops) / sizeof(cmp_ops[0]); i++)
		if (cmp_ops[i].op == op)
			return cmp_ops[i].text;
	return op == OP_IN ? "in" : "not in";
}

/* l OP r as versions: 1, 0, or -1 when they are not both versions. A local part of l
 * is left out, as PEP 440 does for a right side without one (the right side never has
 * one here: "==1.0+x" compares as a string). */
static int version_op(struct val l, enum op op, struct val r)
{
	char ver[64], clause[72];
	size_t lpub;
	if (!is_version(l, false, &lpub) || !is_version(r, true, NULL))
		return -1;
	snprintf(ver, sizeof(ver), "%.*s", (int)lpub, l.v);
	snprintf(clause, sizeof(clause), "%s%.*s", op_text(op), (int)r.len, r.v);
	int k = vv_version_spec_ok(ver, clause);
	return k < 0 ? -1 : k;
}

static int compare(struct val l, enum op op, struct val r)
{
	switch (op) {
	case OP_IN:
		return memmem(r.v, r.len, l.v, l.len) != NULL;
	case OP_NOTIN:
		return memmem(r.v, r.len, l.v, l.len) == NULL;
	case OP_ARB:
		return l.len == r.len && !strncasecmp(l.v, r.v, l.len);
	default:
		break;
	}
	int v = version_op(l, op, r);
	if (v >= 0)
		return v;
	if (op == OP_COMPAT)
		return vv_err(-EINVAL, "bad environment marker: '~=' compares versions (X.Y or "
			      "longer on the right), not '%.*s' and '%.*s'",
			      (int)(l.len > 40 ? 40 : l.len), l.v, (int)(r.len > 40 ? 40 : r.len),
			      r.v);
	int c = memcmp(l.v, r.v, l.len < r.len ? l.len : r.len);
	if (!c)
		c = l.len < r.len ? -1 : l.len > r.len;
	switch (op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	default: return c >= 0;
	}
}

static int parse_or(struct mp *m);

/* A comparison or a parenthesized marker. */
static int parse_atom(struct mp *m)
{
	skip_ws(m);
	if (!in_bounds(m, m->p))
		return fail(m, "too long");
	if (*m->p == '(') {
		if (m->depth == VV_MARKER_DEPTH)
			return fail(m, "nested deeper than %d parentheses", VV_MARKER_DEPTH);
		m->depth++;
		m->p++;
		int v = parse_or(m);
		if (v < 0)
			return v;
		skip_ws(m);
		if (*m->p != ')')
			return fail(m, "expected ')', 'and' or 'or'");
		m->p++;
		m->depth--;
		return v;
	}
	struct val l, r;
	enum op op = OP_EQ;
	int e;
	if ((e = parse_value(m, &l)) < 0 || (e = parse_op(m, &op)) < 0 ||
	    (e = parse_value(m, &r)) < 0)
		return e;
	return m->env ? compare(l, op, r) : 0;
}

/* Every comparison is evaluated (no short cut), so an undefined one is an error
 * wherever it stands. */
static int parse_and(struct mp *m)
{
	int v = parse_atom(m);
	while (v >= 0) {
		skip_ws(m);
		if (!word(m, "and"))
			break;
		m->p += 3;
		int w = parse_atom(m);
		if (w < 0)
			return w;
		v = v && w;
	}
	return v;
}

static int parse_or(struct mp *m)
{
	int v = parse_and(m);
	while (v >= 0) {
		skip_ws(m);
		if (!word(m, "or"))
			break;
		m->p += 2;
		int w = parse_and(m);
		if (w < 0)
			return w;
		v = v || w;
	}
	return v;
}

int vv_marker_eval(const char *s, const struct vv_marker_env *env, const char **end)
{
	struct mp m = {.s = s, .p = s, .env = env};
	int v = parse_or(&m);
	if (v < 0)
		return v;
	skip_ws(&m);
	if (!in_bounds(&m, m.p))
		return fail(&m, "too long");
	if (*m.p && !(*m.p == '-' && m.p > s && is_blank(m.p[-1])))
		return fail(&m, *m.p == ')' ? "unmatched ')'"
					     : "expected 'and', 'or' or the end of the marker");
	if (end)
		*end = m.p;
	return env ? v : 0;
}

int vv_marker_env_init(struct vv_marker_env *e, const struct vv_python *py)
{
	struct utsname u;
	memset(e, 0, sizeof(*e));
	if (uname(&u) < 0)
		return vv_err_sys(-errno, "uname");
	const struct vv_pyplatform *p = &py->plat;
	snprintf(e->python_version, sizeof(e->python_version), "%d.%d", py->major, py->minor);
	if (p->implementation_name[0]) {
		/* what the probe learned (python.h) */
		snprintf(e->python_full_version, sizeof(e->python_full_version), "%s",
			 p->python_full_version);
		snprintf(e->implementation_name, sizeof(e->implementation_name), "%s",
			 p->implementation_name);
		snprintf(e->implementation_version, sizeof(e->implementation_version), "%s",
			 p->implementation_version);
		snprintf(e->platform_python_implementation,
			 sizeof(e->platform_python_implementation), "%s",
			 p->platform_python_implementation);
		snprintf(e->sys_platform, sizeof(e->sys_platform), "%s", p->sys_platform);
		snprintf(e->os_name, sizeof(e->os_name), "%s", p->os_name);
		snprintf(e->platform_system, sizeof(e->platform_system), "%s", p->platform_system);
		snprintf(e->platform_machine, sizeof(e->platform_machine), "%s",
			 p->platform_machine);
	} else {
		/* not known (the interpreter is gone): what CPython says on this host */
		const char *v = py->version && *py->version ? py->version : e->python_version;
		snprintf(e->python_full_version, sizeof(e->python_full_version), "%s", v);
		snprintf(e->implementation_version, sizeof(e->implementation_version), "%s", v);
		snprintf(e->implementation_name, sizeof(e->implementation_name), "cpython");
		snprintf(e->platform_python_implementation,
			 sizeof(e->platform_python_implementation), "CPython");
		size_t i = 0;
		for (; u.sysname[i] && i + 1 < sizeof(e->sys_platform); i++)
			e->sys_platform[i] = (char)tolower((unsigned char)u.sysname[i]);
		e->sys_platform[i] = 0;
		snprintf(e->os_name, sizeof(e->os_name), "posix");
		snprintf(e->platform_system, sizeof(e->platform_system), "%s", u.sysname);
		snprintf(e->platform_machine, sizeof(e->platform_machine), "%s", u.machine);
	}
	/* the kernel's: they change with it, not with the interpreter */
	snprintf(e->platform_release, sizeof(e->platform_release), "%s", u.release);
	snprintf(e->platform_version, sizeof(e->platform_version), "%s", u.version);
	return 0;
}
