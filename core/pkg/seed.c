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

/* ---- pip's bytecode ------------------------------------------------------------------
 * Without it every new env would compile and store pip's ~900 modules the first time
 * pip runs (seconds, and megabytes per env). The bytecode is compiled once here from
 * a copy of the seeded files with the same mtimes, so it is valid in every env: Python
 * checks the source's mtime and size, and fixes the code's file names when it loads it. */

/* Write tree oid (recursively) under dirfd/path, with the tree's modes and mtimes. */
static int extract(struct vv_store *st, const vv_oid *oid, int dirfd, const char *path)
{
	struct vv_tree *t;
	int r = vv_tree_get(st, oid, &t);
	if (r < 0)
		return r;
	if (mkdirat(dirfd, path, 0755) < 0 && errno != EEXIST) {
		vv_tree_unref(t);
		return vv_err_sys(-errno, "mkdir '%s'", path);
	}
	int dfd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		vv_tree_unref(t);
		return vv_err_sys(-errno, "open '%s'", path);
	}
	for (size_t i = 0; i < t->n && r == 0; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		if (e->kind == VV_DIR) {
			r = extract(st, &e->oid, dfd, e->name);
			continue;
		}
		if (e->kind != VV_REG)
			continue; /* scripts and links are not compiled */
		int src = vv_odb_open_obj(&st->odb, &e->oid);
		if (src < 0) {
			r = src;
			break;
		}
		int dst = openat(dfd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (dst < 0)
			r = vv_err_sys(-errno, "create '%s'", e->name);
		else
			r = vv_copy_fd(src, dst);
		close(src);
		if (dst >= 0) {
			struct timespec ts[2] = {
				{ e->mtime_ns / 1000000000, e->mtime_ns % 1000000000 },
				{ e->mtime_ns / 1000000000, e->mtime_ns % 1000000000 },
			};
			if (r == 0 && futimens(dst, ts) < 0)
				r = vv_err_sys(-errno, "utimens '%s'", e->name);
			close(dst);
		}
	}
	close(dfd);
	vv_tree_unref(t);
	return r;
}

/* Run py -I -m compileall -q -d DEST DIR with a clean environment. */
static int compile_dir(const struct vv_python *py, const char *dir, const char *dest)
{
	char *argv[] = { py->exe, (char *)"-I", (char *)"-m", (char *)"compileall", (char *)"-q",
			 (char *)"-d", (char *)dest, (char *)dir, NULL };
	char *envp[] = { (char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int r = posix_spawn(&pid, py->exe, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (r)
		return vv_err(-r, "cannot run %s: %s", py->exe, strerror(r));
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return vv_err_sys(-errno, "waiting for compileall");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return vv_err(-EIO, "%s -m compileall failed", py->exe);
	return 0;
}

/* Add every *.pyc below dir (relative path rel) to tb under prefix. */
static int add_pycs(struct vv_store *st, struct vv_tb *tb, const char *dir, const char *rel,
		    const char *prefix, int64_t mtime_ns)
{
	DIR *d = opendir(dir);
	if (!d)
		return vv_err_sys(-errno, "cannot read '%s'", dir);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char full[PATH_MAX], sub[PATH_MAX];
		if (snprintf(full, sizeof(full), "%s/%s", dir, de->d_name) >= (int)sizeof(full) ||
		    snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >=
			    (int)sizeof(sub))
			continue;
		struct stat s;
		if (lstat(full, &s) < 0)
			continue;
		if (S_ISDIR(s.st_mode)) {
			r = add_pycs(st, tb, full, sub, prefix, mtime_ns);
		} else if (S_ISREG(s.st_mode) && strstr(sub, "__pycache__/") &&
			   strlen(de->d_name) > 4 && !strcmp(de->d_name + strlen(de->d_name) - 4, ".pyc")) {
			int fd = open(full, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				r = vv_err_sys(-errno, "open '%s'", full);
				break;
			}
			struct vv_tree_ent e = { .kind = VV_REG, .mode = 0644, .mtime_ns = mtime_ns };
			r = vv_odb_put_fd(&st->odb, fd, &e.oid, &e.size);
			close(fd);
			char path[PATH_MAX + 80];
			snprintf(path, sizeof(path), "%s/%s", prefix, sub);
			if (r == 0)
				r = vv_tb_add(tb, path, &e);
		}
	}
	closedir(d);
	return r;
}

/* Compile the site-packages of skeleton root into tb (which holds the same files). */
static int add_bytecode(struct vv_store *st, const struct vv_python *py, const vv_oid *root,
			struct vv_tb *tb, int64_t mtime_ns)
{
	char sp[64];
	snprintf(sp, sizeof(sp), "lib/python%d.%d/site-packages", py->major, py->minor);
	/* find the site-packages tree */
	vv_oid cur = *root;
	char walk[64];
	snprintf(walk, sizeof(walk), "%s", sp);
	int r = 0;
	for (char *tok = strtok(walk, "/"); tok && r == 0; tok = strtok(NULL, "/")) {
		struct vv_tree *t;
		if ((r = vv_tree_get(st, &cur, &t)) < 0)
			break;
		const struct vv_tree_ent *e = vv_tree_find(t, tok, strlen(tok));
		if (e)
			cur = e->oid;
		else
			r = -ENOENT;
		vv_tree_unref(t);
	}
	if (r < 0)
		return r;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp/seed.XXXXXX", st->path);
	if (!mkdtemp(tmp))
		return vv_err_sys(-errno, "cannot make a temp dir in '%s/tmp'", st->path);
	char dir[PATH_MAX + 8], dest[128];
	snprintf(dir, sizeof(dir), "%s/sp", tmp);
	/* the file names compiled in are replaced by Python when it loads the code; give
	 * them a fixed prefix so that every store makes the same bytes */
	snprintf(dest, sizeof(dest), "/venvfs/%s", sp);
	r = extract(st, &cur, AT_FDCWD, dir);
	if (r == 0)
		r = compile_dir(py, dir, dest);
	if (r == 0)
		r = add_pycs(st, tb, dir, "", sp, mtime_ns);
	vv_rm_rf_at(AT_FDCWD, tmp);
	return r;
}

/* Copy every entry of tree oid into tb under prefix, file by file (so that more files
 * can be added anywhere below). */
static int copy_tree(struct vv_store *st, struct vv_tb *tb, const vv_oid *oid, const char *prefix)
{
	struct vv_tree *t;
	int r = vv_tree_get(st, oid, &t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n && r == 0; i++) {
		struct vv_tree_ent e = t->ents[i];
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", e.name);
		if (e.kind == VV_DIR) {
			vv_oid sub = e.oid;
			memset(&e.oid, 0, sizeof(e.oid));
			if ((r = vv_tb_add(tb, path, &e)) == 0)
				r = copy_tree(st, tb, &sub, path);
		} else {
			r = vv_tb_add(tb, path, &e);
		}
	}
	vv_tree_unref(t);
	return r;
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
	/* pip's bytecode: a skeleton without it still works, so failing here only costs
	 * speed and is not an error */
	struct vv_tb *tb2 = vv_tb_new(mtime_ns);
	vv_oid with_pyc;
	if (!tb2)
		return 0;
	int c = copy_tree(st, tb2, out, "");
	if (c == 0)
		c = add_bytecode(st, py, out, tb2, mtime_ns);
	if (c == 0)
		c = vv_tb_write(tb2, st, &with_pyc);
	vv_tb_free(tb2);
	if (c == 0)
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
