/*
 * envops.c - make, clear and upgrade envs in the store (see envops.h).
 *
 * A new or cleared env points at its interpreter's skeleton (seed.h); --upgrade swaps
 * the interpreter for another patch release of the same X.Y and keeps the tree;
 * --upgrade-deps rebuilds bin/ and site-packages/ around the newest compatible pip
 * wheel, grafting every other directory by its tree id.
 */
#include "ops/envops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/config.h"
#include "env/env.h"
#include "env/txn.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/vec.h"
#include "ops/install.h"
#include "pkg/pkg.h"
#include "python/python.h"
#include "pkg/seed.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/wheel.h"

struct vv_creator {
	struct vv_store *st;
	const struct vv_config *cfg;
	/* the command line */
	const char *python;  /* --python, or NULL */
	bool system_site, without_pip, clear, upgrade, upgrade_deps;
	const char *prompt;  /* --prompt (already turned from "." into the cwd's name) */
	/* computed once, on demand */
	struct vv_python newpy; /* the interpreter for new envs (--python or the default) */
	bool have_newpy;
	struct vv_pydisc disc;  /* every interpreter (for --upgrade and --upgrade-deps) */
	bool have_disc;
	const char *requirements; /* -r FILE, or NULL */
	const char *const *links;
	size_t nlinks;
	const struct vv_progress *progress;
	char *report;           /* unmet requirement lines of the last run */
	char **wheels;          /* candidate pip wheels, newest first */
	size_t nwheels, capwheels;
	bool have_wheels;
};

static int create_disc(struct vv_creator *cr)
{
	if (cr->have_disc)
		return 0;
	int r = vv_python_discover_all(cr->st, cr->cfg, &cr->disc);
	if (r == 0)
		cr->have_disc = true;
	return r;
}

/* The interpreter for a new (or cleared) env: --python, else the config's `python`,
 * else the first python3 on PATH; seeded (skeleton trees in the store). */
static int create_newpy(struct vv_creator *cr)
{
	if (cr->have_newpy)
		return 0;
	int r = cr->python ? vv_python_select(cr->st, cr->cfg, cr->python, &cr->newpy)
			   : vv_python_resolve(cr->st, cr->cfg->python, &cr->newpy);
	if (r == 0 && (r = vv_seed_ensure(cr->st, &cr->newpy)) < 0)
		vv_python_release(&cr->newpy);
	if (r == 0)
		cr->have_newpy = true;
	return r;
}

static int cmp_wheel_desc(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	char vx[64], vy[64];
	if (vv_python_wheel_version(x, vx, sizeof(vx)) < 0)
		vx[0] = 0;
	if (vv_python_wheel_version(y, vy, sizeof(vy)) < 0)
		vy[0] = 0;
	int c = vv_version_cmp(vy, vx);
	return c ? c : strcmp(x, y);
}

static int push_wheel(struct vv_creator *cr, const char *path)
{
	for (size_t i = 0; i < cr->nwheels; i++)
		if (!strcmp(cr->wheels[i], path))
			return 0;
	char ver[64];
	if (vv_python_wheel_version(path, ver, sizeof(ver)) < 0)
		return 0;
	if (VV_GROW(cr->wheels, cr->nwheels, cr->capwheels, 1) < 0 ||
	    !(cr->wheels[cr->nwheels] = strdup(path)))
		return vv_err(-ENOMEM, "out of memory");
	cr->nwheels++;
	return 0;
}

/* Every pip wheel on offer: the discovered interpreters' bundled ones and the
 * distribution's /usr/share/python-wheels, newest first. */
static int create_wheels(struct vv_creator *cr)
{
	if (cr->have_wheels)
		return 0;
	int r = create_disc(cr);
	for (size_t i = 0; r == 0 && i < cr->disc.n; i++)
		if (cr->disc.list[i].pip_wheel)
			r = push_wheel(cr, cr->disc.list[i].pip_wheel);
	const char *dir = "/usr/share/python-wheels";
	DIR *d = r == 0 ? opendir(dir) : NULL;
	if (d) {
		struct dirent *de;
		while (r == 0 && (de = readdir(d))) {
			size_t n = strlen(de->d_name);
			if (strncmp(de->d_name, "pip-", 4) || n < 8 ||
			    strcmp(de->d_name + n - 4, ".whl"))
				continue;
			char *p;
			if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
				r = vv_err(-ENOMEM, "out of memory");
			else {
				r = push_wheel(cr, p);
				free(p);
			}
		}
		closedir(d);
	}
	if (r == 0 && cr->nwheels)
		qsort(cr->wheels, cr->nwheels, sizeof(*cr->wheels), cmp_wheel_desc);
	if (r == 0)
		cr->have_wheels = true;
	return r;
}

/* The newest pip wheel whose Requires-Python admits py. */
static int pick_pip_wheel(struct vv_creator *cr, const struct vv_python *py, const char **out)
{
	int r = create_wheels(cr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cr->nwheels; i++) {
		char *req = NULL;
		if (vv_wheel_requires_python(cr->wheels[i], &req) < 0)
			continue; /* unreadable: try the next one */
		bool ok = vv_python_requires_ok(py, req);
		free(req);
		if (ok) {
			*out = cr->wheels[i];
			return 0;
		}
	}
	return vv_err(-ENOENT, "no pip wheel for Python %s found (looked in the interpreters' "
		      "ensurepip and /usr/share/python-wheels)", py->version);
}

/* ---- editing an env's tree: a new pip ---- */

struct skip {
	const char *names[4];
	bool pip_dist; /* also pip-*.dist-info */
};

static bool skip_cb(const struct vv_tree_ent *e, void *arg)
{
	const struct skip *s = arg;
	for (size_t i = 0; i < 4 && s->names[i]; i++)
		if (!strcmp(e->name, s->names[i]))
			return true;
	size_t n = e->namelen;
	return s->pip_dist && n > 14 && !strncmp(e->name, "pip-", 4) &&
	       !strcmp(e->name + n - 10, ".dist-info");
}

/* Add path as an open directory (mode of old, or 0755) holding old's entries except the
 * skipped ones; *sub gets old's tree (NULL without old) for the caller to descend. */
static int copy_dir(struct vv_store *st, struct vv_tb *tb, const char *path,
		    const struct vv_tree_ent *old, int64_t mtime, const struct skip *sk,
		    struct vv_tree **sub)
{
	*sub = NULL;
	if (old && old->kind != VV_DIR)
		return vv_err(-ENOTDIR, "'%s' is not a directory", path);
	struct vv_tree_ent d = {.kind = VV_DIR, .mode = old ? old->mode : 0755,
				.mtime_ns = mtime};
	int r = vv_tb_add(tb, path, &d);
	if (r < 0 || !old)
		return r;
	if ((r = vv_tree_get(st, &old->oid, sub)) < 0)
		return r;
	return vv_tb_add_tree(tb, path, *sub, skip_cb, (void *)sk);
}

static const struct vv_tree_ent *find_ent(const struct vv_tree *t, const char *name)
{
	return t ? vv_tree_find(t, name, strlen(name)) : NULL;
}

/* Does site-packages in root hold pip-VERSION.dist-info? 1, 0 or -errno. */
static int has_pip_version(struct vv_store *st, const vv_oid *root, int minor,
			   const char *version)
{
	char name[3][80];
	snprintf(name[0], sizeof(name[0]), "lib");
	snprintf(name[1], sizeof(name[1]), "python3.%d", minor);
	snprintf(name[2], sizeof(name[2]), "site-packages");
	struct vv_tree *t = NULL;
	int r = vv_tree_get(st, root, &t);
	for (int i = 0; r == 0 && i < 3; i++) {
		const struct vv_tree_ent *e = find_ent(t, name[i]);
		struct vv_tree *next = NULL;
		if (!e || e->kind != VV_DIR)
			r = 1;
		else
			r = vv_tree_get(st, &e->oid, &next);
		vv_tree_unref(t);
		t = next;
	}
	if (r < 0)
		return r;
	if (r == 1 || !t) {
		if (t)
			vv_tree_unref(t);
		return 0;
	}
	char di[200];
	snprintf(di, sizeof(di), "pip-%s.dist-info", version);
	int has = find_ent(t, di) != NULL;
	vv_tree_unref(t);
	return has;
}

/* root with its pip replaced by wheel (py gives the X.Y). Only the directories on the
 * edited paths are rebuilt; everything else is grafted by tree id. */
static int replace_pip(struct vv_store *st, const vv_oid *root_in, const struct vv_python *py,
		       const char *wheel, vv_oid *out)
{
	/* the tree builder edits trees that say their own mtimes (store/times.h) */
	vv_oid plain;
	int r = vv_times_inline(st, root_in, &plain);
	if (r < 0)
		return r;
	const vv_oid *root = &plain;
	int64_t now = vv_now_ns();
	char pyname[32], pip3x[32], libpy[64], sp[96];
	snprintf(pyname, sizeof(pyname), "python%d.%d", py->major, py->minor);
	snprintf(pip3x, sizeof(pip3x), "pip%d.%d", py->major, py->minor);
	snprintf(libpy, sizeof(libpy), "lib/%s", pyname);
	snprintf(sp, sizeof(sp), "%s/site-packages", libpy);
	const struct skip top = {{"bin", "lib"}, false}, bin = {{"pip", "pip3", pip3x}, false},
			   lib = {{pyname}, false}, lpy = {{"site-packages"}, false},
			   site = {{"pip"}, true};
	struct vv_tree *t = NULL, *bt = NULL, *lt = NULL, *pt = NULL, *st_ = NULL;
	struct vv_tb *tb = vv_tb_new(now);
	if (!tb)
		return vv_err(-ENOMEM, "out of memory");
	r = vv_tree_get(st, root, &t);
	if (r == 0)
		r = vv_tb_add_tree(tb, "", t, skip_cb, (void *)&top);
	if (r == 0)
		r = copy_dir(st, tb, "bin", find_ent(t, "bin"), now, &bin, &bt);
	const struct vv_tree_ent *le = find_ent(t, "lib");
	if (r == 0)
		r = copy_dir(st, tb, "lib", le, le ? le->mtime_ns : now, &lib, &lt);
	const struct vv_tree_ent *pe = find_ent(lt, pyname);
	if (r == 0)
		r = copy_dir(st, tb, libpy, pe, pe ? pe->mtime_ns : now, &lpy, &pt);
	if (r == 0)
		r = copy_dir(st, tb, sp, find_ent(pt, "site-packages"), now, &site, &st_);
	if (r == 0) {
		struct vv_wheel_info info = {0};
		r = vv_wheel_install(st, wheel, py, "pip", tb, &info);
		vv_wheel_info_release(&info);
	}
	if (r == 0)
		r = vv_tb_write(tb, st, out);
	vv_tb_free(tb);
	struct vv_tree *all[] = {t, bt, lt, pt, st_};
	for (size_t i = 0; i < 5; i++)
		if (all[i])
			vv_tree_unref(all[i]);
	return r;
}

/* pip of the env (new root in *root) replaced by the newest wheel py can run; 1 (root
 * unchanged) if the env already has that version. */
static int upgrade_pip(struct vv_creator *cr, const struct vv_python *py, vv_oid *root, char *ver,
		       size_t versize)
{
	const char *wheel = NULL;
	int r = pick_pip_wheel(cr, py, &wheel);
	if (r < 0)
		return r;
	if (vv_python_wheel_version(wheel, ver, versize) < 0)
		snprintf(ver, versize, "?");
	if ((r = has_pip_version(cr->st, root, py->minor, ver)) != 0)
		return r < 0 ? r : 1;
	vv_oid out;
	if ((r = replace_pip(cr->st, root, py, wheel, &out)) < 0)
		return vv_err_prefix(r, "installing %s", wheel);
	*root = out;
	return 0;
}

/* -r: the requirements file's packages put into *root (an env of py); *count gets how
 * many, *skipped the lines skipped for their marker (vv_pkg_resolve; NULL when none).
 * Unmet lines leave their list in cr->report. */
static int add_requirements(struct vv_creator *cr, const struct vv_python *py, vv_oid *root,
			    bool fresh, size_t *count, char **skipped)
{
	struct vv_pkg *pkgs = NULL;
	struct vv_installed *res = NULL;
	vv_oid *roots = NULL;
	size_t n = 0, nroots = 0;
	*count = 0;
	int r = vv_env_roots(cr->st, py->minor, &roots, &nroots);
	if (r == 0)
		r = vv_pkg_resolve(cr->st, cr->requirements, cr->links, cr->nlinks, roots, nroots,
				   py, cr->progress, &pkgs, &n, &cr->report, skipped);
	free(roots);
	if (r == 0 && n) {
		vv_oid out;
		if (!(res = calloc(n, sizeof(*res))))
			r = vv_err(-ENOMEM, "out of memory");
		else if ((r = vv_install_pkgs(cr->st, root, py->minor, pkgs, n, fresh, &out,
					      res)) == 0)
			*root = out;
	}
	if (r == 0)
		*count = n;
	vv_installed_free(res, n);
	for (size_t i = 0; i < n; i++)
		vv_pkg_release(&pkgs[i]);
	free(pkgs);
	return r;
}

/* After the env's line: the requirement lines skipped for their marker, each as
 * "env 'NAME': FILE:LINE: skipped PIN (marker M is false)". */
static void print_skipped(const char *name, const char *skipped)
{
	for (const char *s = skipped; s && *s;) {
		size_t l = strcspn(s, "\n");
		printf("env '%s': %.*s\n", name, (int)l, s);
		s += l + (s[l] == '\n');
	}
}

/* A new env (t NULL), or an existing one rebuilt from scratch (--clear, in t). */
static int create_fresh(struct vv_creator *cr, const char *name, struct vv_txn *t)
{
	struct vv_store *st = cr->st;
	struct vv_python own = {0};
	const struct vv_python *py;
	bool existed = t != NULL;
	int r;
	if (existed && !cr->python) {
		/* --clear keeps the env's own interpreter unless told otherwise. */
		struct vv_pyowner owner = { t->cfg.uid, t->cfg.gid };
		r = vv_python_load(st, t->cfg.python, &owner, &own);
		if (r < 0)
			r = vv_err_prefix(r, "its interpreter is not usable (choose one with "
					  "--python)");
		if (r == 0 && (r = vv_seed_ensure(st, &own)) < 0)
			vv_python_release(&own);
		if (r < 0)
			return r;
		py = &own;
	} else {
		if ((r = create_newpy(cr)) < 0)
			return r;
		py = &cr->newpy;
	}
	/* Without pip if asked, or by the config's default for new envs. */
	bool nopip = cr->without_pip || (cr->cfg->without_pip && !cr->upgrade_deps);
	struct vv_envcfg cfg = {
		.python = py->exe,
		.root = nopip ? py->skel_nopip : py->skel_pip,
		.system_site = cr->system_site,
		.without_pip = nopip,
		.prompt = (char *)cr->prompt,
	};
	char pipver[64] = "", *skipped = NULL;
	size_t npkgs = 0;
	if (cr->upgrade_deps && (r = upgrade_pip(cr, py, &cfg.root, pipver, sizeof(pipver))) < 0)
		goto out;
	if (cr->requirements &&
	    (r = add_requirements(cr, py, &cfg.root, !cr->upgrade_deps, &npkgs, &skipped)) < 0)
		goto out;
	/* The journal's changes are what --clear throws away: the commit removes it
	 * (VV_TXN_DISCARD), so it can never be replayed over the new root. */
	if (!existed)
		r = vv_txn_create(st, name, &cfg);
	else
		r = vv_txn_commit(t, &cfg, "create", 0);
	if (r == 0) {
		printf("%s env '%s': Python %s (%s)", existed ? "cleared" : "created", name,
		       py->version, py->exe);
		if (cr->upgrade_deps)
			printf(", pip %s", pipver);
		if (cr->requirements)
			printf(", %zu package%s from %s", npkgs, npkgs == 1 ? "" : "s",
			       cr->requirements);
		printf("\n");
		print_skipped(name, skipped);
	}
out:
	free(skipped);
	vv_python_release(&own);
	return r;
}

/* --upgrade and/or --upgrade-deps of an existing env (without --clear), in t. */
static int create_update(struct vv_creator *cr, const char *name, struct vv_txn *t)
{
	struct vv_store *st = cr->st;
	const struct vv_envcfg cur = t->cfg;
	struct vv_python curpy = {0}, newpy = {0};
	char line[600] = "", *skipped = NULL;
	int r;
	struct vv_pyowner owner = { cur.uid, cur.gid };
	bool have_cur = vv_python_load(st, cur.python, &owner, &curpy) == 0;
	int minor = vv_env_py_minor(st, &cur.root);
	if (minor < 0) {
		r = minor;
		goto out;
	}
	struct vv_envcfg next = cur;
	if (cr->system_site)
		next.system_site = true;
	if (cr->prompt)
		next.prompt = (char *)cr->prompt;
	const struct vv_python *py = have_cur ? &curpy : NULL;

	if (cr->upgrade) {
		if (cr->python) {
			if ((r = vv_python_select(st, cr->cfg, cr->python, &newpy)) < 0)
				goto out;
			if (newpy.major != 3 || newpy.minor != minor) {
				r = vv_err(-EINVAL, "--upgrade keeps the env's Python 3.%d, but '%s' "
					   "is Python %s (use --clear to change it)", minor,
					   cr->python, newpy.version);
				goto out;
			}
		} else {
			if ((r = create_disc(cr)) < 0)
				goto out;
			const struct vv_python *best = NULL;
			for (size_t i = 0; i < cr->disc.n && !best; i++)
				if (cr->disc.list[i].major == 3 && cr->disc.list[i].minor == minor)
					best = &cr->disc.list[i];
			if (!best && !have_cur) {
				r = vv_err(-ENOENT, "no Python 3.%d interpreter found (its own, '%s', "
					   "is gone)", minor, cur.python);
				goto out;
			}
			/* Never a downgrade unless asked for by --python. */
			if (!best || (have_cur && vv_version_cmp(best->version, curpy.version) <= 0))
				best = &curpy;
			if ((r = vv_python_copy(best, &newpy)) < 0)
				goto out;
		}
		if (have_cur && !strcmp(newpy.exe, curpy.exe))
			snprintf(line, sizeof(line), "env '%s' already uses Python %s (%s)", name,
				 curpy.version, curpy.exe);
		else
			snprintf(line, sizeof(line), "upgraded env '%s' from Python %s to %s (%s)",
				 name, have_cur ? curpy.version : "?", newpy.version, newpy.exe);
		next.python = newpy.exe;
		py = &newpy;
	}
	if (cr->upgrade_deps) {
		struct vv_python fallback = {.version = (char *)"3", .major = 3, .minor = minor};
		char ver[64] = "", v3[16];
		snprintf(v3, sizeof(v3), "3.%d", minor);
		fallback.version = v3;
		if (!py)
			py = &fallback; /* the interpreter is gone: the tree says 3.N */
		if ((r = upgrade_pip(cr, py, &next.root, ver, sizeof(ver))) < 0)
			goto out;
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, "%s%s pip %s", l ? "; " : "",
			 r == 1 ? "already has the newest" : "upgraded to", ver);
		if (!l) {
			char tmp[600];
			snprintf(tmp, sizeof(tmp), "env '%s': %s", name, line);
			snprintf(line, sizeof(line), "%s", tmp);
		}
		next.without_pip = false;
		r = 0;
	}
	if (cr->requirements) {
		struct vv_python fallback = {.major = 3, .minor = minor};
		char v3[16];
		size_t npkgs = 0;
		snprintf(v3, sizeof(v3), "3.%d", minor);
		fallback.version = v3;
		if (!py)
			py = &fallback;
		if ((r = add_requirements(cr, py, &next.root, false, &npkgs, &skipped)) < 0)
			goto out;
		size_t l = strlen(line);
		snprintf(line + l, sizeof(line) - l, "%s%zu package%s from %s",
			 l ? "; " : "", npkgs, npkgs == 1 ? "" : "s", cr->requirements);
		if (!l) {
			char tmp[700];
			snprintf(tmp, sizeof(tmp), "env '%s': %s", name, line);
			snprintf(line, sizeof(line), "%.590s", tmp);
		}
	}
	if ((r = vv_txn_commit(t, &next, "create", 0)) == 0) {
		printf("%s\n", line);
		print_skipped(name, skipped);
	}
out:
	free(skipped);
	vv_python_release(&curpy);
	vv_python_release(&newpy);
	return r;
}

/* t: the transaction on an existing env that is to be replaced, else NULL. */
static int creator_run(struct vv_creator *cr, const char *name, bool exists,
		       struct vv_txn *t)
{
	int r = 0;
	free(cr->report);
	cr->report = NULL;
	if (!exists)
		r = create_fresh(cr, name, NULL);
	else if (cr->clear)
		r = create_fresh(cr, name, t);
	else if (!cr->upgrade && !cr->upgrade_deps)
		return vv_err(-EEXIST, "env '%s' exists; use --clear or --upgrade (or --upgrade-deps)",
			      name);
	else if (cr->without_pip)
		return vv_err(-EINVAL, "env '%s' exists: --without-pip needs --clear", name);
	else if (cr->python && !cr->upgrade)
		return vv_err(-EINVAL, "env '%s' exists: --python needs --clear or --upgrade", name);
	else
		r = create_update(cr, name, t);
	return r < 0 ? vv_err_prefix(r, "env '%s'", name) : 0;
}

int vv_creator_run(struct vv_creator *cr, const char *name)
{
	struct stat sb;
	struct vv_txn t = {.lockfd = -1};
	int r = vv_env_name_check(name, strlen(name));
	if (r < 0)
		return r;
	bool exists = fstatat(cr->st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
	/* replacing an existing env is a transaction (a locked env is read-only for tools
	 * too; --clear throws a journal's changes away); a new one is made without
	 * clobbering */
	if (exists && (cr->clear || cr->upgrade || cr->upgrade_deps) &&
	    (r = vv_txn_begin(cr->st, name, cr->clear ? VV_TXN_DISCARD : 0, &t)) < 0)
		return r;
	vv_err_clear();
	r = creator_run(cr, name, exists, &t);
	vv_txn_end(&t);
	return r;
}

int vv_creator_new(struct vv_store *st, const struct vv_config *cfg,
		   const struct vv_create_opts *o, struct vv_creator **out)
{
	struct vv_creator *cr = calloc(1, sizeof(*cr));
	if (!cr)
		return vv_err(-ENOMEM, "out of memory");
	cr->st = st;
	cr->cfg = cfg;
	cr->python = o->python;
	cr->system_site = o->system_site;
	cr->without_pip = o->without_pip;
	cr->clear = o->clear;
	cr->upgrade = o->upgrade;
	cr->upgrade_deps = o->upgrade_deps;
	cr->prompt = o->prompt;
	cr->requirements = o->requirements;
	cr->links = o->find_links;
	cr->nlinks = o->nlinks;
	cr->progress = o->progress;
	*out = cr;
	return 0;
}

void vv_creator_free(struct vv_creator *cr)
{
	if (!cr)
		return;
	if (cr->have_newpy)
		vv_python_release(&cr->newpy);
	if (cr->have_disc)
		vv_pydisc_release(&cr->disc);
	for (size_t i = 0; i < cr->nwheels; i++)
		free(cr->wheels[i]);
	free(cr->wheels);
	free(cr->report);
	free(cr);
}

const char *vv_creator_report(const struct vv_creator *cr)
{
	return cr->report;
}
