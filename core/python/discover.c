/*
 * discover.c - finding interpreters (python.h): the one to use (configured, else the
 * first python3 on $PATH), every installed one, and one picked by version.
 *
 * Discovery of several interpreters walks $PATH, pyenv's versions, /usr/bin and the
 * config's list, resolves every candidate through the same cache (so known binaries
 * cost a stat, and each shim script runs at most once), and sorts what works by
 * version. pyenv's shims are read, not run: the default one through pyenv.c, and the
 * rest are left out for the versions they lead to. Selection by version prefix picks
 * from that list.
 */
#include "python/python.h"
#include "python/python_int.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/config.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/vec.h"

static bool is_exec_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* First `name` on $PATH (absolute directories only: the daemon's cwd means nothing). */
static int search_path(const char *name, char **out)
{
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	const char *p = path;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n && p[0] == '/') {
			char *cand;
			if (asprintf(&cand, "%.*s/%s", (int)n, p, name) < 0)
				return vv_err(-ENOMEM, "out of memory");
			if (is_exec_file(cand)) {
				*out = cand;
				return 0;
			}
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return vv_err(-ENOENT, "no Python interpreter found (looked for '%s' on PATH '%s')",
		      name, path);
}

int vv_python_resolve(struct vv_store *st, const char *configured, struct vv_python *out)
{
	memset(out, 0, sizeof(*out));
	const char *name = configured && *configured ? configured : "python3";
	char *cand = NULL;
	int r;
	if (strchr(name, '/')) {
		if (!is_exec_file(name))
			return vv_err(-ENOENT, "no Python interpreter found (looked for '%s': %s)",
				      name, access(name, F_OK) ? strerror(errno)
							       : "not an executable file");
		cand = strdup(name);
		if (!cand)
			return vv_err(-ENOMEM, "out of memory");
	} else if ((r = search_path(name, &cand)) < 0) {
		return r;
	}

	/* A pyenv shim: what it would run, read from pyenv's files (pyenv.c). */
	bool elf = python_is_elf(cand);
	if (!elf) {
		char *target;
		if ((r = python_pyenv_target(cand, &target)) < 0) {
			free(cand);
			return r;
		}
		if (r == PYTHON_PYENV_FOUND) {
			free(cand);
			cand = target;
			elf = true;
		}
	}
	/* A real binary with fresh cached facts: no process at all. */
	struct vv_python known = { 0 };
	if (elf) {
		char rp[PATH_MAX];
		if (realpath(cand, rp)) {
			r = python_cache_fresh(st, rp, out, NULL);
			if (r < 0 || r == 1) {
				free(cand);
				return r < 0 ? r : 0;
			}
			if (r == 2) { /* the marker values are to be learned */
				known = *out;
				memset(out, 0, sizeof(*out));
			}
		}
	}
	/* Facts not cached yet, or a script that only running can tell: run it once.
	 * Facts that only lack the marker values are used as they are if that fails. */
	struct vv_python py, cached = { 0 };
	r = python_learn(cand, NULL, &py);
	free(cand);
	if (r < 0 && known.exe) {
		*out = known;
		vv_err_clear();
		return 0;
	}
	vv_python_release(&known);
	if (r < 0)
		return r;
	int fresh = python_cache_fresh(st, py.exe, &cached, NULL);
	if (fresh < 0) {
		vv_python_release(&py);
		return fresh;
	}
	r = python_merge_and_save(st, &py, &cached, fresh >= 1);
	vv_python_release(&cached);
	if (r < 0) {
		vv_python_release(&py);
		return r;
	}
	*out = py;
	return 0;
}

/* ---- several interpreters ---- */

void vv_pydisc_release(struct vv_pydisc *d)
{
	vv_python_list_free(d->list, d->n);
	for (size_t i = 0; i < d->nskipped; i++)
		free(d->skipped[i]);
	free(d->skipped);
	memset(d, 0, sizeof(*d));
	d->dflt = -1;
}

/* "python3" or "python3.N" (N digits): an interpreter name, not python3.11-config,
 * python3.11-gdb.py or python3.11m. */
static bool interp_name(const char *name)
{
	if (strncmp(name, "python3", 7))
		return false;
	const char *p = name + 7;
	if (!*p)
		return true;
	if (*p++ != '.' || !*p)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_push(struct strv *s, char *item)
{
	if (!item)
		return vv_err(-ENOMEM, "out of memory");
	int r = VV_GROW(s->v, s->n, s->cap, 16);
	if (r < 0) {
		free(item);
		return r;
	}
	s->v[s->n++] = item;
	return 0;
}

static void strv_free(struct strv *s)
{
	vv_strv_free(s->v, s->n);
	memset(s, 0, sizeof(*s));
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Candidates: paths to try, and their realpaths, so that one file reached under
 * several names (/bin -> /usr/bin, python3 -> python3.11) is looked at once. */
struct cands {
	struct strv path, real;
};

static int add_candidate(struct cands *c, const char *path)
{
	char rp[PATH_MAX];
	if (!is_exec_file(path) || !realpath(path, rp))
		return 0;
	for (size_t i = 0; i < c->real.n; i++)
		if (!strcmp(c->real.v[i], rp))
			return 0;
	int r = strv_push(&c->path, strdup(path));
	if (r == 0 && (r = strv_push(&c->real, strdup(rp))) < 0)
		free(c->path.v[--c->path.n]);
	return r;
}

/* Add dir/NAME for every interpreter-looking NAME in dir (sorted by name; `only` keeps
 * just that name). A missing or unreadable directory adds nothing. With roots, pyenv
 * shims are left out and the pyenv roots they name added to roots. */
static int add_dir_candidates(struct cands *c, const char *dir, size_t dirlen, const char *only,
			      struct strv *roots)
{
	char *d = strndup(dir, dirlen);
	if (!d)
		return vv_err(-ENOMEM, "out of memory");
	DIR *dh = opendir(d);
	if (!dh) {
		free(d);
		return 0;
	}
	struct strv names = { 0 };
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(dh))) {
		if (only ? strcmp(de->d_name, only) : !interp_name(de->d_name))
			continue;
		r = strv_push(&names, strdup(de->d_name));
	}
	closedir(dh);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_cstr);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		char *cand;
		if (asprintf(&cand, "%s/%s", d, names.v[i]) < 0) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		char root[PATH_MAX];
		if (roots && python_pyenv_shim(cand, root)) {
			size_t k = 0;
			while (k < roots->n && strcmp(roots->v[k], root))
				k++;
			if (k == roots->n)
				r = strv_push(roots, strdup(root));
		} else {
			r = add_candidate(c, cand);
		}
		free(cand);
	}
	strv_free(&names);
	free(d);
	return r;
}

/* pyenv's root: $PYENV_ROOT, else ~/.pyenv (malloc'd; NULL if neither is usable). */
static char *pyenv_root(void)
{
	const char *root = getenv("PYENV_ROOT");
	const char *home = getenv("HOME");
	char *out = NULL;
	if (root && root[0] == '/')
		out = strdup(root);
	else if (home && home[0] == '/' && asprintf(&out, "%s/.pyenv", home) < 0)
		out = NULL;
	return out;
}

/* root/versions/x/bin/python3, sorted by version dir. */
static int add_pyenv_candidates(struct cands *c, const char *root)
{
	char *base;
	if (asprintf(&base, "%s/versions", root) < 0)
		return vv_err(-ENOMEM, "out of memory");
	DIR *dh = opendir(base);
	if (!dh) {
		free(base);
		return 0;
	}
	struct strv vers = { 0 };
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(dh)))
		if (de->d_name[0] != '.')
			r = strv_push(&vers, strdup(de->d_name));
	closedir(dh);
	if (vers.n)
		qsort(vers.v, vers.n, sizeof(*vers.v), cmp_cstr);
	for (size_t i = 0; r == 0 && i < vers.n; i++) {
		char *bin;
		if (asprintf(&bin, "%s/%s/bin", base, vers.v[i]) < 0) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		r = add_dir_candidates(c, bin, strlen(bin), "python3", NULL);
		free(bin);
	}
	strv_free(&vers);
	free(base);
	return r;
}

struct found {
	struct vv_python py;
	bool dflt;
};

static int cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	int c = vv_version_cmp(y->py.version, x->py.version);
	return c ? c : strcmp(x->py.exe, y->py.exe);
}

/* One line for vv_pydisc.skipped. */
static int note_skip(struct strv *skipped, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int note_skip(struct strv *skipped, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	return strv_push(skipped, n < 0 ? NULL : line);
}

int vv_python_discover_all(struct vv_store *st, const struct vv_config *cfg,
			   struct vv_pydisc *out)
{
	memset(out, 0, sizeof(*out));
	out->dflt = -1;
	struct cands c = { 0 };
	struct strv skipped = { 0 };
	struct found *f = NULL;
	size_t nf = 0;
	int r = 0;

	/* The default first: the config's `python`, else the first python3 on PATH. */
	const char *defname = cfg && cfg->python && *cfg->python ? cfg->python : "python3";
	char *defpath = NULL, defreal[PATH_MAX] = "";
	if (strchr(defname, '/')) {
		if (is_exec_file(defname))
			defpath = strdup(defname);
		else
			r = note_skip(&skipped, "%s: not an executable file (the configured "
				      "python)", defname);
	} else if (search_path(defname, &defpath) < 0) {
		defpath = NULL;
		if (cfg && cfg->python)
			r = note_skip(&skipped, "%s: not found on PATH (the configured python)",
				      defname);
	}
	if (r == 0 && defpath && realpath(defpath, defreal))
		r = add_candidate(&c, defpath);

	/* pyenv's shims (bash scripts, ~0.1 s a run) all lead into a pyenv root's versions/,
	 * searched directly below, or to an interpreter on PATH: the scan leaves them out,
	 * and the default, when it is one, is resolved from pyenv's files (pyenv.c). */
	struct strv roots = { 0 };
	char *proot = pyenv_root();
	int pushed = proot ? strv_push(&roots, proot) : 0;
	if (r == 0)
		r = pushed;
	const char *path = getenv("PATH");
	for (const char *p = path ? path : ""; r == 0 && *p;) {
		size_t n = strcspn(p, ":");
		if (n && p[0] == '/')
			r = add_dir_candidates(&c, p, n, NULL, &roots);
		p += n;
		if (*p == ':')
			p++;
	}
	for (size_t i = 0; r == 0 && i < roots.n; i++)
		r = add_pyenv_candidates(&c, roots.v[i]);
	strv_free(&roots);
	if (r == 0)
		r = add_dir_candidates(&c, "/usr/bin", 8, NULL, NULL);
	for (size_t i = 0; r == 0 && cfg && i < cfg->npythons; i++) {
		if (is_exec_file(cfg->pythons[i]))
			r = add_candidate(&c, cfg->pythons[i]);
		else
			r = note_skip(&skipped, "%s: not an executable file (listed in `pythons`)",
				      cfg->pythons[i]);
	}
	if (r == 0 && c.path.n && !(f = calloc(c.path.n, sizeof(*f))))
		r = vv_err(-ENOMEM, "out of memory");

	for (size_t i = 0; r == 0 && i < c.path.n; i++) {
		const char *cand = c.path.v[i];
		bool is_def = defreal[0] && !strcmp(c.real.v[i], defreal);
		/* A binary already found through a shim: nothing to learn. */
		size_t k = 0;
		while (k < nf && strcmp(f[k].py.exe, c.real.v[i]))
			k++;
		if (k < nf) {
			f[k].dflt |= is_def;
			continue;
		}
		/* An ELF with fresh cached facts starts no process; a shim runs once. */
		struct vv_python py;
		vv_err_clear();
		int e = vv_python_resolve(st, cand, &py);
		if (e == -ENOMEM) {
			r = e;
			break;
		}
		if (e < 0) {
			r = note_skip(&skipped, "%s", vv_errmsg());
			continue;
		}
		for (k = 0; k < nf && strcmp(f[k].py.exe, py.exe); k++)
			;
		if (k < nf) {
			f[k].dflt |= is_def;
			vv_python_release(&py);
			continue;
		}
		f[nf].py = py;
		f[nf].dflt = is_def;
		nf++;
	}
	if (r == 0 && nf) {
		qsort(f, nf, sizeof(*f), cmp_found);
		if (!(out->list = calloc(nf, sizeof(*out->list))))
			r = vv_err(-ENOMEM, "out of memory");
	}
	if (r == 0) {
		for (size_t k = 0; k < nf; k++) {
			out->list[k] = f[k].py;
			if (f[k].dflt && out->dflt < 0)
				out->dflt = (long)k;
		}
		out->n = nf;
		out->skipped = skipped.v;
		out->nskipped = skipped.n;
		skipped = (struct strv){ 0 };
	} else {
		for (size_t k = 0; k < nf; k++)
			vv_python_release(&f[k].py);
		vv_pydisc_release(out);
	}
	free(f);
	free(defpath);
	strv_free(&c.path);
	strv_free(&c.real);
	strv_free(&skipped);
	return r;
}

int vv_python_discover(struct vv_store *st, const struct vv_config *cfg,
		       struct vv_python **list, size_t *n)
{
	struct vv_pydisc d;
	*list = NULL;
	*n = 0;
	int r = vv_python_discover_all(st, cfg, &d);
	if (r < 0)
		return r;
	*list = d.list;
	*n = d.n;
	d.list = NULL;
	d.n = 0;
	vv_pydisc_release(&d);
	return 0;
}

/* "3", "3.12", "3.12.1", "python3.12", "python3.12.1" -> the version part; NULL if spec
 * is not a version ("python3" alone is the command). */
static const char *spec_version(const char *spec)
{
	const char *v = spec;
	bool prefixed = !strncmp(v, "python", 6);
	if (prefixed)
		v += 6;
	int parts = 0;
	const char *p = v;
	for (;;) {
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
		parts++;
		if (!*p)
			break;
		if (*p++ != '.' || parts == 3)
			return NULL;
	}
	if (prefixed && parts < 2)
		return NULL;
	return v;
}

/* ", found: 3.13.0, 3.12.1" into buf. */
static void found_list(const struct vv_pydisc *d, char *buf, size_t size)
{
	size_t len = (size_t)snprintf(buf, size, d->n ? "found" : "found no interpreter");
	for (size_t i = 0; i < d->n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s %s (%s)", i ? "," : "",
					d->list[i].version, d->list[i].exe);
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

int vv_python_select(struct vv_store *st, const struct vv_config *cfg, const char *spec,
		     struct vv_python *out)
{
	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return vv_err(-EINVAL, "empty interpreter (give a path, a command or a version "
			      "such as 3.12)");
	const char *ver = spec_version(spec);
	struct vv_pydisc d;
	int r;
	if (strchr(spec, '/') || !ver) {
		r = vv_python_resolve(st, spec, out);
		if (r != -ENOENT || strchr(spec, '/'))
			return r;
		/* Not a command on PATH either: say what there is. */
		if ((r = vv_python_discover_all(st, cfg, &d)) < 0)
			return r;
		char list[1024];
		found_list(&d, list, sizeof(list));
		vv_pydisc_release(&d);
		return vv_err(-ENOENT, "no Python interpreter matches '%s': not a path, a "
			      "version or a command on PATH (%s)", spec, list);
	}
	if ((r = vv_python_discover_all(st, cfg, &d)) < 0)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		if (python_ver_prefix(d.list[i].version, ver)) {
			*out = d.list[i];
			memset(&d.list[i], 0, sizeof(d.list[i]));
			vv_pydisc_release(&d);
			return 0;
		}
	}
	char list[1024];
	found_list(&d, list, sizeof(list));
	vv_pydisc_release(&d);
	return vv_err(-ENOENT, "no Python interpreter matches '%s' (%s)", spec, list);
}
