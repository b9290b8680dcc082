/*
 * bytecode.c - bytecode compiled once into stored trees (bytecode.h): the site-packages
 * of a tree written to a temp dir, compiled there by the interpreter, and the .pyc
 * files added back as 'c' entries in their shared stored form (python/pyc.h), all
 * objects published with one sync.
 */
#include "pkg/bytecode.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python/pyc.h"
#include "python/python.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "util/error.h"
#include "util/fsutil.h"

/* Write tree oid (recursively) under dirfd/path, with the tree's modes and mtimes:
 * regular files only (scripts and links are not compiled). */
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
			continue;
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

/* Run py -I -m compileall -q DIR with a clean environment. Its exit status is not an
 * error: a module that does not compile just has no .pyc (pip does the same). */
static int compile_dir(const struct vv_python *py, const char *dir)
{
	char *argv[] = { py->exe, (char *)"-I", (char *)"-m", (char *)"compileall", (char *)"-q",
			 (char *)dir, NULL };
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
	if (!WIFEXITED(status))
		return vv_err(-EIO, "%s -m compileall was killed", py->exe);
	return 0;
}

struct pycs {
	struct vv_store *st;
	struct vv_tb *tb;
	struct vv_odb_defer def;
	const char *envdir; /* the temp dir standing for the env */
	int64_t mtime_ns;
};

/* One compiled file: its stored form as a deferred object, its entry at path in tb. */
static int add_pyc(struct pycs *c, const char *full, const char *path)
{
	char *buf = NULL, *t = NULL;
	size_t len = 0, tl = 0;
	int r = vv_read_file_at(AT_FDCWD, full, VV_PYC_MAX, &buf, &len);
	if (r == -EFBIG)
		return 0;
	if (r < 0)
		return r;
	struct vv_tree_ent e = { .kind = VV_PYC, .mode = 0644, .mtime_ns = c->mtime_ns };
	r = vv_pyc_neutral(buf, len, c->envdir, &t, &tl, &e.pyc);
	if (r == 0) { /* not one pyc.h knows: stored as it is */
		e.kind = VV_REG;
		e.pyc = (struct vv_pycent){ 0 };
		r = vv_odb_defer_put(&c->st->odb, &c->def, buf, len, &e.oid);
		e.size = len;
	} else if (r == 1) {
		r = vv_odb_defer_put(&c->st->odb, &c->def, t, tl, &e.oid);
		e.size = tl;
	}
	free(buf);
	free(t);
	return r < 0 ? r : vv_tb_add(c->tb, path, &e);
}

/* Add every __pycache__/ *.pyc below dir (relative path rel) under prefix. */
static int add_pycs(struct pycs *c, const char *dir, const char *rel, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return vv_err_sys(-errno, "cannot read '%s'", dir);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char full[PATH_MAX], sub[PATH_MAX], path[PATH_MAX + 80];
		if (snprintf(full, sizeof(full), "%s/%s", dir, de->d_name) >= (int)sizeof(full) ||
		    snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >=
			    (int)sizeof(sub))
			continue;
		struct stat s;
		size_t nl = strlen(de->d_name);
		if (lstat(full, &s) < 0)
			continue;
		if (S_ISDIR(s.st_mode)) {
			r = add_pycs(c, full, sub, prefix);
		} else if (S_ISREG(s.st_mode) && strstr(sub, "__pycache__/") && nl > 4 &&
			   !strcmp(de->d_name + nl - 4, ".pyc")) {
			snprintf(path, sizeof(path), "%s/%s", prefix, sub);
			r = add_pyc(c, full, path);
		}
	}
	closedir(d);
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

/* The tree at relative path rel below root: 0 with *out, -ENOENT if absent. */
static int subtree(struct vv_store *st, const vv_oid *root, const char *rel, vv_oid *out)
{
	char walk[PATH_MAX];
	snprintf(walk, sizeof(walk), "%s", rel);
	vv_oid cur = *root;
	int r = 0;
	char *save = NULL;
	for (char *tok = strtok_r(walk, "/", &save); tok && r == 0;
	     tok = strtok_r(NULL, "/", &save)) {
		struct vv_tree *t;
		if ((r = vv_tree_get(st, &cur, &t)) < 0)
			break;
		const struct vv_tree_ent *e = vv_tree_find(t, tok, strlen(tok));
		if (e && e->kind == VV_DIR)
			cur = e->oid;
		else
			r = -ENOENT;
		vv_tree_unref(t);
	}
	*out = cur;
	return r;
}

int vv_bytecode_add(struct vv_store *st, const struct vv_python *py, const vv_oid *root,
		    int64_t mtime_ns, vv_oid *out)
{
	char sp[64];
	snprintf(sp, sizeof(sp), "lib/python%d.%d/site-packages", py->major, py->minor);
	vv_oid site;
	int r = subtree(st, root, sp, &site);
	*out = *root;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp/pyc.XXXXXX", st->path);
	if (!mkdtemp(tmp))
		return vv_err_sys(-errno, "cannot make a temp dir in '%s/tmp'", st->path);
	char envdir[PATH_MAX + 8], dir[2 * PATH_MAX];
	snprintf(envdir, sizeof(envdir), "%s/env", tmp);
	snprintf(dir, sizeof(dir), "%s/%s", envdir, sp);
	struct pycs c = { .st = st, .envdir = envdir, .mtime_ns = mtime_ns };
	if (!(c.tb = vv_tb_new(mtime_ns))) {
		vv_rm_rf_at(AT_FDCWD, tmp);
		return vv_err(-ENOMEM, "out of memory");
	}
	if ((r = vv_mkdir_p_at(AT_FDCWD, dir, 0755)) == 0 &&
	    (r = extract(st, &site, AT_FDCWD, dir)) == 0 && (r = compile_dir(py, dir)) == 0 &&
	    (r = copy_tree(st, c.tb, root, "")) == 0 && (r = add_pycs(&c, dir, "", sp)) == 0 &&
	    (r = vv_odb_defer_finish(&st->odb, &c.def)) == 0)
		r = vv_tb_write(c.tb, st, out);
	vv_odb_defer_free(&c.def);
	vv_tb_free(c.tb);
	vv_rm_rf_at(AT_FDCWD, tmp);
	if (r < 0)
		*out = *root;
	return r;
}
