/*
 * seed.c - build the skeleton trees new envs start from, once per interpreter.
 *
 * skel_nopip is bin/, include/python3.X/ and lib/python3.X/site-packages/; skel_pip is
 * the same with the interpreter's bundled pip wheel installed (wheel.h). Both are plain
 * store trees, so every env created from them shares all of pip's objects and subtrees.
 * Everything is deterministic (directory mtimes come from the wheel, not the clock), so
 * the same interpreter gives the same ids in any store. Files the mount synthesizes
 * (pyvenv.cfg, bin/python*, activation scripts, lib64) are not part of the skeleton.
 */
#include "pkg/seed.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdio.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/bytecode.h"
#include "pkg/wheel.h"

/* Are both cached skeleton trees present in the store? 1, 0 or -errno. */
static int cached(struct vv_store *st, const struct vv_python *py)
{
	if (vv_oid_is_zero(&py->skel_pip) || vv_oid_is_zero(&py->skel_nopip))
		return 0;
	int r = vv_odb_has(&st->odb, &py->skel_nopip);
	if (r <= 0)
		return r;
	return vv_odb_has(&st->odb, &py->skel_pip);
}

static int add_dirs(struct vv_tb *tb, const struct vv_python *py, int64_t mtime_ns)
{
	char paths[3][64];
	snprintf(paths[0], sizeof(paths[0]), "bin");
	snprintf(paths[1], sizeof(paths[1]), "include/python%d.%d", py->major, py->minor);
	snprintf(paths[2], sizeof(paths[2]), "lib/python%d.%d/site-packages", py->major,
		 py->minor);
	for (int i = 0; i < 3; i++) {
		struct vv_tree_ent e = {.kind = VV_DIR, .mode = 0755, .mtime_ns = mtime_ns};
		int r = vv_tb_add(tb, paths[i], &e);
		if (r < 0)
			return vv_err_prefix(r, "adding '%s' to the env skeleton", paths[i]);
	}
	return 0;
}

/* One skeleton: the directories, plus pip when wheel is not NULL. */
static int build(struct vv_store *st, const struct vv_python *py, const char *wheel,
		 int64_t mtime_ns, vv_oid *out)
{
	struct vv_tb *tb = vv_tb_new(mtime_ns);
	if (!tb)
		return vv_err(-ENOMEM, "out of memory building the env skeleton");
	int r = add_dirs(tb, py, mtime_ns);
	if (r == 0 && wheel) {
		struct vv_wheel_info info = {0};
		r = vv_wheel_install(st, wheel, py, "pip", tb, &info);
		vv_wheel_info_release(&info);
	}
	if (r == 0)
		r = vv_tb_write(tb, st, out);
	vv_tb_free(tb);
	if (r < 0 || !wheel)
		return r;
	/* pip's bytecode (bytecode.h): without it every new env would compile and store
	 * pip's ~900 modules the first time pip runs. A skeleton without it still works,
	 * so failing here only costs speed and is not an error. */
	vv_oid with_pyc;
	if (vv_bytecode_add(st, py, out, mtime_ns, &with_pyc) == 0)
		*out = with_pyc;
	else
		fprintf(stderr, "venvfs: compiling pip for %s: %s\n", py->exe, vv_errmsg());
	return 0;
}

int vv_seed_ensure(struct vv_store *st, struct vv_python *py)
{
	int r = cached(st, py);
	if (r != 0)
		return r < 0 ? vv_err_prefix(r, "checking the env skeleton") : 0;
	return vv_seed_rebuild(st, py);
}

int vv_seed_rebuild(struct vv_store *st, struct vv_python *py)
{
	int r;
	/* Directory mtimes: the newest member of the pip wheel, or 0 without one. Never
	 * the clock or the wheel file's mtime, so rebuilding gives the same ids. */
	int64_t mtime_ns = 0;
	if (py->pip_wheel && (r = vv_wheel_mtime(py->pip_wheel, &mtime_ns)) < 0)
		return vv_err_prefix(r, "seeding pip");

	vv_oid nopip, pip;
	if ((r = build(st, py, NULL, mtime_ns, &nopip)) < 0)
		return vv_err_prefix(r, "building the env skeleton");
	if (py->pip_wheel) {
		if ((r = build(st, py, py->pip_wheel, mtime_ns, &pip)) < 0)
			return vv_err_prefix(r, "seeding pip");
	} else {
		/* No bundled wheel (e.g. a distro Python without ensurepip): envs that want
		 * pip get the bare skeleton too. */
		pip = nopip;
	}
	py->skel_nopip = nopip;
	py->skel_pip = pip;
	return vv_python_save(st, py);
}
