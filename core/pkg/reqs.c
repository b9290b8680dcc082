/*
 * reqs.c - requirement files of exact pins (`venvctl create/add -r`) resolved against
 * the package records and the wheels of find-links directories (see pkg.h).
 *
 * The file is read strictly: a line that is not a pin is reported with why, never
 * guessed at. Each pin takes the recorded package for the interpreter with the most
 * specific fitting tags, else the best fitting find-links wheel, ingested then
 * (pkg.c). Every unmet line is collected, so one run reports them all.
 */
#include "pkg/pkg.h"
#include "pkg/pkg_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/progress.h"
#include "util/strv.h"
#include "util/vec.h"
#include "python/python.h"
#include "pkg/tags.h"

#define REQFILE_MAX (4u << 20)
#define MAX_HASHES 64

struct req {
	int line;
	char *text;              /* the logical line, for messages */
	char canon[CANON_MAX];
	char *version;
	vv_oid hashes[MAX_HASHES];
	size_t nhashes;
	char *why;               /* unmet: the reason; else NULL */
	struct vv_pkg pkg;
	bool done;
};

struct reqs {
	struct req *v;
	size_t n, cap;
};

static void reqs_free(struct reqs *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->v[i].text);
		free(rs->v[i].version);
		free(rs->v[i].why);
		vv_pkg_release(&rs->v[i].pkg);
	}
	free(rs->v);
}

static int set_why(struct req *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_why(struct req *q, const char *fmt, ...)
{
	va_list ap;
	char *why = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (n < 0)
		return vv_err(-ENOMEM, "out of memory");
	free(q->why);
	q->why = why;
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* "sha256:HEX" of a --hash option into q. */
static int add_hash(struct req *q, const char *v)
{
	if (strncmp(v, "sha256:", 7))
		return set_why(q, "--hash '%.80s' is not sha256:HEX (only sha256 is checked)", v);
	if (q->nhashes == MAX_HASHES)
		return set_why(q, "more than %d --hash options", MAX_HASHES);
	if (vv_oid_from_hex(&q->hashes[q->nhashes], v + 7, strlen(v + 7)) < 0)
		return set_why(q, "--hash '%.80s' is not sha256 and 64 hex digits", v);
	q->nhashes++;
	return 0;
}

/* Is the pin part "NAME[extras] == VERSION"? Sets canon and version, or q->why. */
static int parse_pin(struct req *q, const char *spec)
{
	const char *p = spec, *name = p;
	if (strchr(spec, ';'))
		return set_why(q, "environment markers are not supported (write a plain "
			       "name==version line)");
	if (strchr(spec, '@') || strstr(spec, "://"))
		return set_why(q, "direct references (URLs, paths) are not supported: pin "
			       "name==version");
	while (is_alnum(*p) || *p == '.' || *p == '_' || *p == '-')
		p++;
	size_t nl = (size_t)(p - name);
	if (!nl || !is_alnum(name[0]) || !is_alnum(name[nl - 1]))
		return set_why(q, "not a requirement (expected name==version)");
	if (vv_dist_canonical(name, nl, q->canon, sizeof(q->canon)) < 0)
		return set_why(q, "name too long");
	while (is_blank(*p))
		p++;
	if (*p == '[') { /* extras: accepted, they only select dependencies */
		for (p++; *p && *p != ']'; p++)
			if (!is_alnum(*p) && !strchr("._-, \t", *p))
				return set_why(q, "bad extras (expected [name,...])");
		if (*p != ']')
			return set_why(q, "unclosed '[' of extras");
		p++;
		while (is_blank(*p))
			p++;
	}
	if (strncmp(p, "==", 2) || p[2] == '=')
		return set_why(q, "not pinned to one version (name==version needed)");
	p += 2;
	while (is_blank(*p))
		p++;
	const char *v = p;
	while (is_alnum(*p) || (*p && strchr(".!+_-", *p)))
		p++;
	size_t vl = (size_t)(p - v);
	while (is_blank(*p))
		p++;
	if (*p == '*' || (vl && v[vl - 1] == '.' && *p == '*'))
		return set_why(q, "not pinned to one version (a wildcard; name==version "
			       "needed)");
	if (!vl || *p || (*p == 0 && vl > 200))
		return set_why(q, *p == ',' ? "not pinned to one version (name==version needed)"
				    : "bad version (expected name==version)");
	if (!(q->version = strndup(v, vl)))
		return vv_err(-ENOMEM, "out of memory");
	return 0;
}

/* One logical line (comments and continuations already handled). */
static int parse_line(struct req *q, char *l)
{
	char *tok[256];
	size_t nt = 0;
	for (char *save, *t = strtok_r(l, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (nt == 256)
			return set_why(q, "too many words");
		tok[nt++] = t;
	}
	size_t ns = 0;
	while (ns < nt && tok[ns][0] != '-')
		ns++;
	if (!ns)
		return set_why(q, "option '%.60s' is not supported here (only name==version "
			       "lines with --hash)", tok[0]);
	for (size_t i = ns; i < nt; i++) {
		int r;
		if (!strncmp(tok[i], "--hash=", 7)) {
			r = add_hash(q, tok[i] + 7);
		} else if (!strcmp(tok[i], "--hash") && i + 1 < nt) {
			r = add_hash(q, tok[++i]);
		} else {
			r = set_why(q, "option '%.60s' is not supported here (only --hash)",
				    tok[i]);
		}
		if (r < 0 || q->why)
			return r;
	}
	char spec[1024] = "";
	size_t sl = 0;
	for (size_t i = 0; i < ns; i++) {
		size_t tl = strlen(tok[i]);
		if (sl + tl + 2 > sizeof(spec))
			return set_why(q, "requirement too long");
		if (i)
			spec[sl++] = ' ';
		memcpy(spec + sl, tok[i], tl + 1);
		sl += tl;
	}
	return parse_pin(q, spec);
}

static int reqs_push(struct reqs *rs, int line, const char *text, size_t len, struct req **out)
{
	int r = VV_GROW(rs->v, rs->n, rs->cap, 32);
	if (r < 0)
		return r;
	struct req *q = &rs->v[rs->n];
	memset(q, 0, sizeof(*q));
	q->line = line;
	if (!(q->text = strndup(text, len)))
		return vv_err(-ENOMEM, "out of memory");
	rs->n++;
	*out = q;
	return 0;
}

/* Split the file into logical lines: "\"-continuations joined, "#" comments (at the
 * start or after a blank) dropped, blank lines skipped. */
static int parse_reqfile(const char *buf, size_t len, struct reqs *rs)
{
	if (memchr(buf, 0, len))
		return vv_err(-EINVAL, "NUL byte (not a requirements file)");
	char *logical = malloc(len + 1);
	if (!logical)
		return vv_err(-ENOMEM, "out of memory");
	size_t ll = 0;
	int lineno = 1, start = 1;
	int r = 0;
	for (size_t i = 0; i <= len && r == 0;) {
		const char *e = i < len ? memchr(buf + i, '\n', len - i) : NULL;
		size_t pl = e ? (size_t)(e - (buf + i)) : len - i;
		const char *phys = buf + i;
		if (pl && phys[pl - 1] == '\r')
			pl--;
		if (!ll)
			start = lineno;
		bool cont = pl && phys[pl - 1] == '\\';
		memcpy(logical + ll, phys, cont ? pl - 1 : pl);
		ll += cont ? pl - 1 : pl;
		i += (e ? (size_t)(e - (buf + i)) + 1 : len - i + 1);
		lineno++;
		if (cont && i <= len)
			continue;
		logical[ll] = 0;
		/* comment: '#' at the start or after a blank */
		for (size_t k = 0; k < ll; k++)
			if (logical[k] == '#' && (k == 0 || is_blank(logical[k - 1]))) {
				logical[k] = 0;
				ll = k;
				break;
			}
		size_t a = 0, b = ll;
		while (a < b && (is_blank(logical[a]) || logical[a] == '\r'))
			a++;
		while (b > a && (is_blank(logical[b - 1]) || logical[b - 1] == '\r'))
			b--;
		if (a < b) {
			struct req *q = NULL;
			logical[b] = 0;
			if ((r = reqs_push(rs, start, logical + a, b - a, &q)) == 0)
				r = parse_line(q, logical + a);
		}
		ll = 0;
		if (!e)
			break;
	}
	free(logical);
	return r;
}

/* Does p meet q's --hash options? Only a wheel's own SHA-256 can. */
static bool hash_ok(const struct req *q, const struct vv_pkg *p)
{
	const vv_oid *sha = &p->sha256;
	if (!q->nhashes)
		return true;
	if (p->installed)
		return false;
	for (size_t i = 0; i < q->nhashes; i++)
		if (vv_oid_eq(&q->hashes[i], sha))
			return true;
	return false;
}

/* The best recorded package for q, or nothing (q->done stays false). */
static int from_store(struct vv_store *st, char **names, size_t n, struct req *q,
		      const struct vv_python *py, const char *machine)
{
	size_t cl = strlen(q->canon);
	char mtag[24];
	snprintf(mtag, sizeof(mtag), "@3.%d@", py->minor);
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		const char *nm = names[i];
		if (strncmp(nm, q->canon, cl) || nm[cl] != '@')
			continue;
		const char *v = nm + cl + 1, *ve = strchr(v, '@');
		if (!ve || strncmp(ve, mtag, strlen(mtag)))
			continue;
		char ver[256];
		snprintf(ver, sizeof(ver), "%.*s", (int)(ve - v), v);
		if (!pkg_same_version(ver, q->version))
			continue;
		struct vv_pkg p;
		int r = vv_pkg_load(st, nm, &p);
		if (r < 0)
			return r;
		int score = vv_tag_score(p.wheel, py->minor, machine);
		vv_err_clear();
		if (score > best && p.minor == py->minor && hash_ok(q, &p) &&
		    vv_python_requires_ok(py, p.requires_python)) {
			vv_pkg_release(&q->pkg);
			q->pkg = p;
			q->done = true;
			best = score;
		} else {
			vv_pkg_release(&p);
		}
	}
	return 0;
}

/* The pin q as a distribution installed in one of the env roots (pip installs through
 * the mount), recorded now if it was not; nothing found leaves q as it is. */
static int from_installed(struct vv_store *st, const vv_oid *roots, size_t nroots,
			  struct req *q, const struct vv_python *py, const char *machine)
{
	for (size_t i = 0; i < nroots && !q->done; i++) {
		struct vv_pkg p;
		int r = vv_pkg_from_installed(st, &roots[i], py->minor, q->canon, q->version, &p);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		int score = vv_tag_score(p.wheel, py->minor, machine);
		vv_err_clear();
		if (score >= 0 && vv_python_requires_ok(py, p.requires_python)) {
			q->pkg = p;
			q->done = true;
		} else {
			vv_pkg_release(&p);
		}
	}
	return 0;
}

struct linkwheel {
	char *path;
	char canon[CANON_MAX];
	char version[128];
	int score;     /* tag fit, -1 when the tags do not fit */
};

static void links_free(struct linkwheel *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* Every *.whl in the find-links directories, with its name, version and tag fit. */
static int scan_links(const char *const *dirs, size_t ndirs, int minor, const char *machine,
		      struct linkwheel **out, size_t *nout)
{
	struct linkwheel *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	for (size_t d = 0; d < ndirs && r == 0; d++) {
		DIR *dir = opendir(dirs[d]);
		if (!dir) {
			r = vv_err_sys(-errno, "find-links directory '%s'", dirs[d]);
			break;
		}
		struct dirent *de;
		while (r == 0 && (de = readdir(dir))) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".whl"))
				continue;
			if ((r = VV_GROW(v, n, cap, 64)) < 0)
				break;
			struct linkwheel *w = &v[n];
			memset(w, 0, sizeof(*w));
			if (asprintf(&w->path, "%s/%s", dirs[d], de->d_name) < 0) {
				r = vv_err(-ENOMEM, "out of memory");
				break;
			}
			n++;
			/* Name and version from the file name (tags checked below). */
			const char *dash = strchr(de->d_name, '-');
			const char *dash2 = dash ? strchr(dash + 1, '-') : NULL;
			if (!dash || !dash2 || (size_t)(dash2 - dash - 1) >= sizeof(w->version) ||
			    vv_dist_canonical(de->d_name, (size_t)(dash - de->d_name), w->canon,
					      sizeof(w->canon)) < 0) {
				w->score = -1;
				continue;
			}
			snprintf(w->version, sizeof(w->version), "%.*s", (int)(dash2 - dash - 1),
				 dash + 1);
			w->score = vv_tag_score(de->d_name, minor, machine);
			if (w->score < 0)
				w->score = -1;
		}
		closedir(dir);
	}
	vv_err_clear();
	if (r < 0) {
		links_free(v, n);
		return r;
	}
	*out = v;
	*nout = n;
	return 0;
}

static int cmp_link(const void *a, const void *b)
{
	const struct linkwheel *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* The fitting find-links wheels for q, best first (indexes into links). */
static size_t link_candidates(const struct linkwheel *links, size_t n, const struct req *q,
			      size_t *idx, size_t max, bool *other_tags)
{
	size_t k = 0;
	*other_tags = false;
	for (size_t i = 0; i < n && k < max; i++) {
		if (strcmp(links[i].canon, q->canon) || !pkg_same_version(links[i].version, q->version))
			continue;
		if (links[i].score < 0)
			*other_tags = true;
		else
			idx[k++] = i;
	}
	return k;
}

static int build_report(const char *file, struct reqs *rs, size_t *unmet, char **report)
{
	size_t cap = 1, k = 0;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->v[i].why)
			cap += strlen(file) + strlen(rs->v[i].text) + strlen(rs->v[i].why) + 40;
	char *out = malloc(cap), *o = out;
	if (!out)
		return vv_err(-ENOMEM, "out of memory");
	*o = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct req *q = &rs->v[i];
		if (!q->why)
			continue;
		k++;
		o += sprintf(o, "%s:%d: %s: %s\n", file, q->line, q->text, q->why);
	}
	*unmet = k;
	*report = out;
	return 0;
}

int vv_pkg_reqs_check(const char *buf, size_t len, const char *file, size_t *npins,
		      char **report)
{
	struct reqs rs = {0};
	size_t unmet = 0;
	*report = NULL;
	*npins = 0;
	int r = parse_reqfile(buf, len, &rs);
	if (r == 0 && (r = build_report(file, &rs, &unmet, report)) == 0) {
		*npins = rs.n - unmet;
		if (!unmet) {
			free(*report);
			*report = NULL;
		}
	}
	reqs_free(&rs);
	return r;
}

static int resolve(struct vv_store *st, const char *reqfile, const char *const *links,
		   size_t nlinks, const vv_oid *roots, size_t nroots, const struct vv_python *py,
		   const struct vv_progress *prog, struct reqs *rs, char ***names, size_t *nnames)
{
	char *buf = NULL;
	size_t len;
	struct utsname u;
	int r = vv_read_file_at(AT_FDCWD, reqfile, REQFILE_MAX, &buf, &len);
	if (r < 0)
		return vv_err_prefix(r, "requirements file '%s'", reqfile);
	r = parse_reqfile(buf, len, rs);
	free(buf);
	if (r < 0)
		return vv_err_prefix(r, "requirements file '%s'", reqfile);
	if (uname(&u) < 0)
		return vv_err_sys(-errno, "uname");
	for (size_t i = 0; i < rs->n; i++) {
		struct req *q = &rs->v[i];
		for (size_t k = 0; !q->why && k < i; k++)
			if (!rs->v[k].why && !strcmp(rs->v[k].canon, q->canon) &&
			    (r = set_why(q, "%s is required twice (also line %d)", q->canon,
					 rs->v[k].line)) < 0)
				return r;
	}
	if ((r = vv_pkg_list(st, names, nnames)) < 0)
		return r;
	size_t need = 0;
	for (size_t i = 0; i < rs->n; i++) {
		struct req *q = &rs->v[i];
		if (q->why)
			continue;
		if ((r = from_store(st, *names, *nnames, q, py, u.machine)) < 0)
			return r;
		need += !q->done;
	}
	struct linkwheel *lw = NULL;
	size_t nlw = 0;
	if (need && nlinks) {
		if ((r = scan_links(links, nlinks, py->minor, u.machine, &lw, &nlw)) < 0)
			return r;
		if (nlw)
			qsort(lw, nlw, sizeof(*lw), cmp_link);
	}
	uint64_t done = 0;
	size_t idx[16];
	for (size_t i = 0; i < rs->n && r == 0; i++) {
		struct req *q = &rs->v[i];
		if (q->why || q->done)
			continue;
		bool other = false;
		size_t k = link_candidates(lw, nlw, q, idx, 16, &other);
		if (k)
			vv_progress_report(prog, "ingesting", done, need);
		for (size_t c = 0; c < k && !q->done; c++) {
			struct vv_pkg p;
			vv_err_clear();
			int e = pkg_ingest(st, lw[idx[c]].path, py, q->hashes, q->nhashes, names,
					   nnames, &p);
			if (e == -ENOMEM) {
				r = e;
				break;
			}
			if (e < 0) {
				r = set_why(q, "%s", vv_errmsg());
				continue;
			}
			if (!vv_python_requires_ok(py, p.requires_python)) {
				r = set_why(q, "%s requires Python %s, the env has %s", p.wheel,
					    p.requires_python, py->version);
				vv_pkg_release(&p);
				continue;
			}
			free(q->why);
			q->why = NULL;
			q->pkg = p;
			q->done = true;
		}
		if (k)
			done++;
		if (r == 0 && !q->done && !q->why && !q->nhashes)
			r = from_installed(st, roots, nroots, q, py, u.machine);
		if (r == 0 && !q->done && !q->why)
			r = set_why(q, "no wheel of %s %s for CPython 3.%d on Linux %s in the "
				    "store%s%s", q->canon, q->version, py->minor, u.machine,
				    nlinks ? " or the find-links directories"
					   : " (no --find-links given)",
				    other ? " (there are wheels with other tags)" : "");
	}
	if (need)
		vv_progress_report(prog, "ingesting", need, need);
	links_free(lw, nlw);
	return r;
}

int vv_pkg_resolve(struct vv_store *st, const char *reqfile, const char *const *find_links,
		   size_t nlinks, const vv_oid *roots, size_t nroots, const struct vv_python *py, const struct vv_progress *progress,
		   struct vv_pkg **out, size_t *n, char **report)
{
	struct reqs rs = {0};
	char **names = NULL;
	size_t nnames = 0;
	*out = NULL;
	*n = 0;
	*report = NULL;
	vv_err_clear();
	int r = resolve(st, reqfile, find_links, nlinks, roots, nroots, py, progress, &rs, &names,
			&nnames);
	vv_strv_free(names, nnames);
	size_t unmet = 0;
	if (r == 0 && (r = build_report(reqfile, &rs, &unmet, report)) == 0 && unmet) {
		r = vv_err(-ENOENT, "%s: %zu of %zu requirement%s cannot be met", reqfile, unmet,
			   rs.n, rs.n == 1 ? "" : "s");
	} else if (r == 0) {
		free(*report);
		*report = NULL;
		struct vv_pkg *v = rs.n ? calloc(rs.n, sizeof(*v)) : NULL;
		if (rs.n && !v) {
			r = vv_err(-ENOMEM, "out of memory");
		} else {
			for (size_t i = 0; i < rs.n; i++) {
				v[i] = rs.v[i].pkg;
				memset(&rs.v[i].pkg, 0, sizeof(rs.v[i].pkg));
			}
			*out = v;
			*n = rs.n;
		}
	}
	reqs_free(&rs);
	return r;
}
