/*
 * install.c - `venvctl add`: wheels put into an env's committed tree as pip would
 * install them in that venv (see install.h).
 *
 * The new root is built in one tree builder from the old one: directories that hold
 * nothing to remove and no new files are grafted by their tree id, so only bin/, the
 * site-packages path and the directories of a replaced distribution are rebuilt. The
 * installed RECORD of a replaced distribution is store data that a hostile wheel once
 * wrote, so its paths are confined to the env (".." may not leave it; absolute paths
 * are ignored) and only files, symlinks and the distribution's own .dist-info are taken
 * out.
 */
#include "ops/install.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "env/env.h"
#include "env/txn.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/vec.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "pkg/pkg.h"
#include "pkg/tags.h"
#include "python/python.h"
#include "pkg/rectpl.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/wheel.h"

#define MAX_INSTALLED_RECORD (32u << 20)
#define CANON_MAX 256

/* ---------------------------------------------------------------- path sets */

struct pathset {
	char **v;
	size_t n, cap;
};

static int ps_add(struct pathset *s, char *p) /* takes p */
{
	int r = VV_GROW(s->v, s->n, s->cap, 64);
	if (r < 0) {
		free(p);
		return r;
	}
	s->v[s->n++] = p;
	return 0;
}

static int cmp_pstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ps_sort(struct pathset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_pstr);
}

/* Index of the first element >= key. */
static size_t ps_lower(const struct pathset *s, const char *key)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(s->v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool ps_has(const struct pathset *s, const char *key)
{
	size_t i = ps_lower(s, key);
	return i < s->n && !strcmp(s->v[i], key);
}

/* Does some element start with prefix? */
static bool ps_has_prefix(const struct pathset *s, const char *prefix)
{
	size_t i = ps_lower(s, prefix);
	return i < s->n && !strncmp(s->v[i], prefix, strlen(prefix));
}

static void ps_free(struct pathset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* sp + "/" + rel with "." and ".." resolved, relative to the env root; NULL in *out if
 * it is absolute, empty or leaves the env. */
static int confine(const char *sp, const char *rel, char **out)
{
	*out = NULL;
	if (rel[0] == '/' || !rel[0])
		return 0;
	size_t cap = strlen(sp) + strlen(rel) + 2;
	char *buf = malloc(cap), *res = malloc(cap);
	if (!buf || !res) {
		free(buf);
		free(res);
		return vv_err(-ENOMEM, "out of memory");
	}
	snprintf(buf, cap, "%s/%s", sp, rel);
	size_t rl = 0;
	bool escaped = false;
	for (char *save, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (!rl) {
				escaped = true;
				break;
			}
			while (rl && res[rl - 1] != '/')
				rl--;
			if (rl)
				rl--;
			continue;
		}
		if (rl)
			res[rl++] = '/';
		size_t cl = strlen(c);
		memcpy(res + rl, c, cl);
		rl += cl;
	}
	res[rl] = 0;
	free(buf);
	if (escaped || !rl) {
		free(res);
		return 0;
	}
	*out = res;
	return 0;
}

/* ---------------------------------------------------------------- one add */

struct adder {
	struct vv_store *st;
	struct vv_tb *tb;
	int64_t now;
	char sp[64];               /* lib/python3.N/site-packages */
	char libpy[32];            /* lib/python3.N */
	int minor;
	struct pathset files;      /* env-relative files and symlinks to remove */
	struct pathset dirs;       /* .dist-info directories to remove whole */
};

/* Directories wheels install into: always rebuilt, never dropped. */
static bool protected_dir(const struct adder *a, const char *path)
{
	return !strcmp(path, "bin") || !strcmp(path, "lib") || !strcmp(path, a->libpy) ||
	       !strcmp(path, a->sp);
}

/* Queue the files of an installed distribution (its .dist-info tree di, named dname)
 * for removal: every RECORD path inside the env, the bytecode of its .py files, and
 * the .dist-info itself. */
static int queue_removal(struct adder *a, const char *dname, const struct vv_tree *di)
{
	const struct vv_tree_ent *rec = vv_tree_find(di, "RECORD", 6);
	char *text = NULL, *p;
	size_t len, n = 0;
	struct vv_record_row *rows = NULL;
	if (!rec || (rec->kind != VV_REG && rec->kind != VV_RECORD))
		return vv_err(-EINVAL, "installed %s has no RECORD (pip cannot uninstall it "
			      "either)", dname);
	int r = vv_rectpl_read(a->st, rec, MAX_INSTALLED_RECORD, &text, &len);
	if (r < 0)
		return vv_err_prefix(r, "installed %s/RECORD", dname);
	r = vv_record_parse(text, len, &rows, &n);
	free(text);
	if (r < 0)
		return vv_err_prefix(r, "installed %s/RECORD", dname);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if ((r = confine(a->sp, rows[i].path, &p)) < 0 || !p)
			continue;
		size_t pl = strlen(p);
		bool py = pl > 3 && !strcmp(p + pl - 3, ".py");
		if ((r = ps_add(&a->files, p)) < 0 || !py)
			continue;
		/* __pycache__/BASE.cpython-3N{,.opt-1,.opt-2}.pyc next to it */
		const char *slash = strrchr(p, '/');
		int dl = slash ? (int)(slash - p) + 1 : 0;
		static const char *const opt[] = {"", ".opt-1", ".opt-2"};
		for (size_t k = 0; r == 0 && k < 3; k++) {
			char *c;
			if (asprintf(&c, "%.*s__pycache__/%.*s.cpython-3%d%s.pyc", dl, p,
				     (int)(pl - (size_t)dl - 3), p + dl, a->minor, opt[k]) < 0)
				r = vv_err(-ENOMEM, "out of memory");
			else
				r = ps_add(&a->files, c);
		}
	}
	vv_record_free(rows, n);
	if (r < 0)
		return r;
	if (asprintf(&p, "%s/%s", a->sp, dname) < 0)
		return vv_err(-ENOMEM, "out of memory");
	return ps_add(&a->dirs, p);
}

/* Add tree t (at path, "" for the root) to the builder without the queued paths.
 * *kept gets how many entries stayed, *changed whether one of t's own entries was
 * taken out. Directories with nothing queued below them are grafted whole. */
static int edit_dir(struct adder *a, const char *path, const struct vv_tree *t, size_t *kept,
		    bool *changed)
{
	int r = 0;
	*kept = 0;
	*changed = false;
	for (size_t i = 0; r == 0 && i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		char *full;
		if (asprintf(&full, "%s%s%s", path, *path ? "/" : "", e->name) < 0)
			return vv_err(-ENOMEM, "out of memory");
		bool dir = e->kind == VV_DIR;
		if ((!dir && ps_has(&a->files, full)) || (dir && ps_has(&a->dirs, full))) {
			*changed = true;
			free(full);
			continue;
		}
		char *prefix = NULL;
		bool open = false;
		if (dir) {
			if (asprintf(&prefix, "%s/", full) < 0) {
				free(full);
				return vv_err(-ENOMEM, "out of memory");
			}
			open = protected_dir(a, full) || ps_has_prefix(&a->files, prefix) ||
			       ps_has_prefix(&a->dirs, prefix);
			free(prefix);
		}
		if (!open) {
			r = vv_tb_add(a->tb, full, e);
			(*kept)++;
			free(full);
			continue;
		}
		struct vv_tree *sub = NULL;
		size_t subkept = 0;
		bool subchanged = false;
		if ((r = vv_tree_get(a->st, &e->oid, &sub)) == 0) {
			r = edit_dir(a, full, sub, &subkept, &subchanged);
			vv_tree_unref(sub);
		}
		bool prot = protected_dir(a, full);
		if (r == 0 && subkept == 0 && subchanged && !prot) {
			*changed = true; /* emptied by the removal: gone, as pip leaves it */
		} else if (r == 0) {
			/* Declared after its entries (an implicit parent takes mode and mtime). */
			bool fresh = subchanged || !strcmp(full, "bin") || !strcmp(full, a->sp);
			struct vv_tree_ent d = {.kind = VV_DIR, .mode = e->mode,
						.mtime_ns = fresh ? a->now : e->mtime_ns};
			r = vv_tb_add(a->tb, full, &d);
			(*kept)++;
		}
		free(full);
	}
	return r;
}

/* A subdirectory of t by name, or NULL (also when it is not a directory). */
static int subtree(struct vv_store *st, const struct vv_tree *t, const char *name,
		   struct vv_tree **out)
{
	*out = NULL;
	const struct vv_tree_ent *e = t ? vv_tree_find(t, name, strlen(name)) : NULL;
	if (!e || e->kind != VV_DIR)
		return 0;
	return vv_tree_get(st, &e->oid, out);
}

/* The site-packages tree of root, or NULL if the env has none. */
static int site_tree(struct vv_store *st, const vv_oid *root, int minor, struct vv_tree **out)
{
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	const char *names[] = {"lib", pyname, "site-packages"};
	struct vv_tree *t = NULL;
	int r = vv_tree_get(st, root, &t);
	for (size_t i = 0; r == 0 && t && i < 3; i++) {
		struct vv_tree *next = NULL;
		r = subtree(st, t, names[i], &next);
		vv_tree_unref(t);
		t = next;
	}
	*out = r == 0 ? t : NULL;
	if (r < 0 && t)
		vv_tree_unref(t);
	return r;
}

/* The installed .dist-info directories of distribution canon in site-packages: queue
 * their removal; *replaced gets the version of the (last) one found. */
static int find_installed(struct adder *a, const struct vv_tree *site, const char *canon,
			  char **replaced)
{
	int r = 0;
	for (size_t i = 0; site && r == 0 && i < site->n; i++) {
		const struct vv_tree_ent *e = &site->ents[i];
		size_t n = e->namelen;
		if (e->kind != VV_DIR || n <= 10 || strcmp(e->name + n - 10, ".dist-info"))
			continue;
		const char *dash = memchr(e->name, '-', n - 10);
		char c[CANON_MAX];
		if (!dash || vv_dist_canonical(e->name, (size_t)(dash - e->name), c, sizeof(c)) < 0)
			continue;
		if (strcmp(c, canon))
			continue;
		struct vv_tree *di = NULL;
		if ((r = vv_tree_get(a->st, &e->oid, &di)) < 0)
			break;
		r = queue_removal(a, e->name, di);
		vv_tree_unref(di);
		if (r < 0)
			break;
		free(*replaced);
		*replaced = strndup(dash + 1, (size_t)(e->name + n - 10 - dash - 1));
		if (!*replaced)
			r = vv_err(-ENOMEM, "out of memory");
	}
	return r;
}

/* Merge the package tree oid into the builder at path (pk names it in messages):
 * what the env lacks is grafted whole, a directory both have is opened and merged,
 * anything else is a conflict. */
static int merge_tree(struct adder *a, const char *path, const vv_oid *oid,
		      const struct vv_pkg *pk)
{
	struct vv_tree *t = NULL;
	int r = vv_tree_get(a->st, oid, &t);
	if (r < 0)
		return vv_err_prefix(r, "%s", pk->wheel);
	for (size_t i = 0; r == 0 && i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		char *full;
		if (asprintf(&full, "%s%s%s", path, *path ? "/" : "", e->name) < 0) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		struct vv_tree_ent cur;
		bool open = false;
		if (vv_tb_lookup(a->tb, full, &cur, &open) < 0) {
			r = vv_tb_add(a->tb, full, e);
		} else if (e->kind == VV_DIR && cur.kind == VV_DIR) {
			if (!open)
				r = vv_tb_expand(a->tb, a->st, full);
			if (r == 0)
				r = merge_tree(a, full, &e->oid, pk);
		} else {
			r = vv_err(-EINVAL, "%s: '%s' is already in the env (another installed "
				   "distribution's file)", pk->wheel, full);
		}
		free(full);
	}
	vv_tree_unref(t);
	return r;
}

/* The newest mtime of bin/ and lib/python3.N/site-packages in root (0: neither). */
static int64_t seeded_mtime(struct vv_store *st, const vv_oid *root, int minor)
{
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	struct vv_tree *t = NULL, *lib = NULL, *lpy = NULL;
	int64_t best = 0;
	if (vv_tree_get(st, root, &t) < 0)
		return 0;
	const struct vv_tree_ent *b = vv_tree_find(t, "bin", 3), *e;
	if (b)
		best = b->mtime_ns;
	if (subtree(st, t, "lib", &lib) == 0 && lib && subtree(st, lib, pyname, &lpy) == 0 && lpy &&
	    (e = vv_tree_find(lpy, "site-packages", 13)) && e->mtime_ns > best)
		best = e->mtime_ns;
	if (lpy)
		vv_tree_unref(lpy);
	if (lib)
		vv_tree_unref(lib);
	vv_tree_unref(t);
	return best;
}

int vv_install_pkgs(struct vv_store *st, const vv_oid *root_env, int minor,
		    const struct vv_pkg *pkgs, size_t n, bool fresh, vv_oid *root_out,
		    struct vv_installed *res)
{
	struct vv_tree *root = NULL, *site = NULL;
	char (*canon)[CANON_MAX] = NULL;
	struct adder a = {.st = st, .now = vv_now_ns(), .minor = minor};
	/* the tree builder edits trees that say their own mtimes (store/times.h) */
	vv_oid plain;
	int r = vv_times_inline(st, root_env, &plain);
	if (r < 0)
		return r;
	const vv_oid *root_in = &plain;
	snprintf(a.libpy, sizeof(a.libpy), "lib/python3.%d", a.minor);
	snprintf(a.sp, sizeof(a.sp), "%s/site-packages", a.libpy);
	if (fresh) {
		/* A new env: bin/ and site-packages keep the skeleton's mtimes, so the same
		 * packages give the same trees (stored once) in every new env. */
		int64_t m = seeded_mtime(st, root_in, minor);
		if (m)
			a.now = m;
	}
	if (n && !(canon = calloc(n, sizeof(*canon)))) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (pkgs[i].minor != minor) {
			r = vv_err(-EINVAL, "%s: recorded for Python 3.%d, the env has 3.%d",
				   pkgs[i].wheel, pkgs[i].minor, minor);
			goto out;
		}
		if ((r = vv_dist_canonical(pkgs[i].name, strlen(pkgs[i].name), canon[i],
					   sizeof(canon[i]))) < 0)
			goto out;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(canon[k], canon[i])) {
				r = vv_err(-EINVAL, "%s: %s is given twice (also %s)", pkgs[i].wheel,
					   canon[i], pkgs[k].wheel);
				goto out;
			}
	}
	if ((r = site_tree(st, root_in, a.minor, &site)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((r = find_installed(&a, site, canon[i], &res[i].replaced)) < 0) {
			r = vv_err_prefix(r, "%s", pkgs[i].wheel);
			goto out;
		}
	ps_sort(&a.files);
	ps_sort(&a.dirs);
	if (!(a.tb = vv_tb_new(a.now))) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	size_t kept;
	bool changed;
	if ((r = vv_tree_get(st, root_in, &root)) < 0 ||
	    (r = edit_dir(&a, "", root, &kept, &changed)) < 0)
		goto out;
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct vv_pkg *p = &pkgs[i];
		if (p->extra) {
			r = merge_tree(&a, "", &p->tree, p);
		} else {
			if (!vv_oid_is_zero(&p->site))
				r = merge_tree(&a, a.sp, &p->site, p);
			if (r == 0 && !vv_oid_is_zero(&p->bin))
				r = merge_tree(&a, "bin", &p->bin, p);
		}
		if (r == 0 && (!(res[i].name = strdup(p->name)) ||
			       !(res[i].version = strdup(p->version))))
			r = vv_err(-ENOMEM, "out of memory");
	}
	if (r == 0)
		r = vv_tb_write(a.tb, st, root_out);
out:
	vv_tb_free(a.tb);
	if (root)
		vv_tree_unref(root);
	if (site)
		vv_tree_unref(site);
	ps_free(&a.files);
	ps_free(&a.dirs);
	free(canon);
	return r;
}

/* An env about to be changed (an env transaction, env/txn.h) and its Python. */
struct target {
	struct vv_txn txn; /* the writer lock and the env's config, until target_release */
	struct vv_python py;
	bool have_py;
	struct vv_python fallback; /* the tree's 3.N when the interpreter is gone */
	char v3[16];
	const struct vv_python *pyp;
	int minor;
};

static void target_release(struct target *t)
{
	if (t->have_py)
		vv_python_release(&t->py);
	t->have_py = false;
	vv_txn_end(&t->txn);
}

static int target_open(struct vv_store *st, const char *name, struct target *t)
{
	memset(t, 0, sizeof(*t));
	int r = vv_txn_begin(st, name, 0, &t->txn);
	if (r < 0)
		return r;
	const struct vv_envcfg *cfg = &t->txn.cfg;
	if ((r = vv_env_py_minor(st, &cfg->root)) < 0)
		return r;
	t->minor = r;
	snprintf(t->v3, sizeof(t->v3), "3.%d", t->minor);
	t->fallback = (struct vv_python){.version = t->v3, .major = 3, .minor = t->minor};
	/* The interpreter's facts for Requires-Python; the tree's 3.N when it is gone. */
	struct vv_pyowner owner = { cfg->uid, cfg->gid };
	if (vv_python_load(st, cfg->python, &owner, &t->py) == 0) {
		t->have_py = t->py.major == 3 && t->py.minor == t->minor;
		if (!t->have_py)
			vv_python_release(&t->py);
	}
	t->pyp = t->have_py ? &t->py : &t->fallback;
	vv_err_clear();
	return 0;
}

/* Build the new root from t's and commit it (the transaction refuses if a mount
 * committed or logged changes meanwhile). */
static int target_install(struct vv_store *st, struct target *t, const struct vv_pkg *pkgs,
			  size_t n, struct vv_installed *res)
{
	vv_oid was = t->txn.cfg.root;
	int r = vv_install_pkgs(st, &was, t->minor, pkgs, n, false, &t->txn.cfg.root, res);
	if (r < 0)
		return r;
	return vv_txn_commit(&t->txn, &t->txn.cfg, "add", 0);
}

static void pkgs_free(struct vv_pkg *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		vv_pkg_release(&v[i]);
	free(v);
}

static int add_to_env(struct vv_store *st, const char *name, const char *const *wheels,
		      size_t n, struct vv_installed *res)
{
	struct target t;
	struct vv_pkg *pkgs = NULL;
	char (*canon)[CANON_MAX] = NULL;
	struct utsname u;
	int r = target_open(st, name, &t);
	if (r < 0)
		goto out;
	if (uname(&u) < 0) {
		r = vv_err_sys(-errno, "uname");
		goto out;
	}
	if (!(canon = calloc(n, sizeof(*canon))) || !(pkgs = calloc(n, sizeof(*pkgs)))) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = vv_tag_check(wheels[i], t.minor, u.machine, canon[i],
				      sizeof(canon[i]))) < 0)
			goto out;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(canon[k], canon[i])) {
				r = vv_err(-EINVAL, "%s: %s is given twice (also %s)",
					   vv_base_name(wheels[i]), canon[i], vv_base_name(wheels[k]));
				goto out;
			}
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = vv_pkg_ingest(st, wheels[i], t.pyp, NULL, 0, &pkgs[i])) < 0)
			goto out;
		if (!vv_python_requires_ok(t.pyp, pkgs[i].requires_python)) {
			r = vv_err(-EINVAL, "%s: requires Python %s, the env has %s",
				   vv_base_name(wheels[i]), pkgs[i].requires_python, t.pyp->version);
			goto out;
		}
	}
	r = target_install(st, &t, pkgs, n, res);
out:
	pkgs_free(pkgs, n);
	free(canon);
	target_release(&t);
	return r;
}

static int fail_env(int r, const char *name)
{
	if ((r == -ENOENT && !strncmp(vv_errmsg(), "no env named", 12)) ||
	    (r == -EBUSY && !strncmp(vv_errmsg(), "env '", 5)))
		return r;
	return vv_err_prefix(r, "env '%s'", name);
}

int vv_install_wheels(struct vv_store *st, const char *name, const char *const *wheels,
		      size_t n, struct vv_installed **out)
{
	*out = NULL;
	int r = vv_env_name_check(name, strlen(name));
	if (r < 0)
		return r;
	if (!n)
		return vv_err(-EINVAL, "env '%s': no wheel given", name);
	struct vv_installed *res = calloc(n, sizeof(*res));
	if (!res)
		return vv_err(-ENOMEM, "out of memory");
	vv_err_clear();
	if ((r = add_to_env(st, name, wheels, n, res)) < 0) {
		vv_installed_free(res, n);
		return fail_env(r, name);
	}
	*out = res;
	return 0;
}

int vv_install_requirements(struct vv_store *st, const char *name, const char *reqfile,
			    const char *const *find_links, size_t nlinks,
			    const struct vv_progress *progress, struct vv_installed **out,
			    size_t *nout, char **report, char **skipped)
{
	struct target t;
	struct vv_pkg *pkgs = NULL;
	struct vv_installed *res = NULL;
	size_t n = 0;
	*out = NULL;
	*nout = 0;
	*report = NULL;
	*skipped = NULL;
	int r = vv_env_name_check(name, strlen(name));
	if (r < 0)
		return r;
	vv_err_clear();
	vv_oid *roots = NULL;
	size_t nroots = 0;
	if ((r = target_open(st, name, &t)) == 0 &&
	    (r = vv_env_roots(st, t.pyp->minor, &roots, &nroots)) == 0 &&
	    (r = vv_pkg_resolve(st, reqfile, find_links, nlinks, roots, nroots, t.pyp, progress,
				&pkgs, &n, report, skipped)) == 0) {
		if (n && !(res = calloc(n, sizeof(*res))))
			r = vv_err(-ENOMEM, "out of memory");
		else if (n)
			r = target_install(st, &t, pkgs, n, res);
	}
	free(roots);
	pkgs_free(pkgs, n);
	target_release(&t);
	if (r < 0) {
		vv_installed_free(res, n);
		free(*skipped);
		*skipped = NULL;
		return fail_env(r, name);
	}
	*out = res;
	*nout = n;
	return 0;
}

void vv_installed_free(struct vv_installed *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].version);
		free(v[i].replaced);
	}
	free(v);
}
