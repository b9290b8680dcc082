/*
 * test_mtree.c - the live env model: envs from the skeleton, namespace changes, copy-up
 * isolation between envs, commits, journal replay after a "crash" and env renames;
 * FIFOs and sockets (nodes without content) made, committed, reloaded and replayed.
 * Stages: a file being written is a file in stage/ the journal names from the start;
 * published, unlinked, kept open across a commit, replayed, or gone before a replay.
 * Uses the real default interpreter (python3 on PATH) for the skeleton.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "ops/envstate.h"
#include "env/env.h"
#include "env/envlock.h"
#include "util/error.h"
#include "env/journal.h"
#include "live/mtree.h"
#include "ops/fsck.h"
#include "store/odb.h"
#include "store/store.h"

static struct vv_envset *open_set(struct vv_store *st)
{
	return vt_envset_open(st);
}

static struct vv_node *walk(struct vv_env *env, const char *path)
{
	struct vv_node *n = NULL;
	int r = vv_env_walk(env, path, &n);
	if (r < 0)
		fail_msg("walk '%s': %s", path, strerror(-r));
	return n;
}

/* Whole content of a node as users see it. */
static char *content(struct vv_node *n, size_t *len)
{
	return vt_node_content(n, len);
}

/* Write data into n through the stage, like a FUSE open/write/release. */
static void write_node(struct vv_store *st, struct vv_node *n, const char *data, bool trunc)
{
	assert_int_equal(vv_node_open_write(n, trunc), 0);
	struct vv_fdref *fd;
	assert_int_equal(vv_node_write_begin(n, &fd), 0);
	off_t off = trunc ? 0 : (off_t)n->ssize;
	assert_int_equal(pwrite(fd->fd, data, strlen(data), off), (ssize_t)strlen(data));
	vv_node_write_end(n, (uint64_t)off + strlen(data));
	vv_fdref_put(fd);
	vv_node_close_write(n);
	struct vv_publish p;
	bool need;
	assert_int_equal(vv_node_publish_begin(n, &p, &need), 0);
	assert_true(need);
	vv_publish_run(st, &p);
	assert_int_equal(vv_node_publish_end(&p), 0);
	/* sealed (or stored already); linked as an object now rather than at the commit */
	assert_int_equal(vv_env_store_sealed(n->env), 0);
	assert_null(n->stage);
	assert_false(n->publishing);
}

/* The kernel may forget a directory before the entries below it (an invalidated
 * subtree, forgets handled by several threads): a directory whose subtree the kernel
 * still holds must stay, or those entries' parent pointers dangle. */
static void test_forget_out_of_order(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "e", &env), 0);
	struct vv_node *lib = walk(env, "lib");
	int minor = vv_env_py_minor(st, &env->cfg.root);
	assert_true(minor >= 0);
	char py[32];
	snprintf(py, sizeof(py), "python3.%d", minor);
	struct vv_node *pyd, *site, *pip;
	assert_int_equal(vv_node_lookup(lib, py, &pyd), 0);
	assert_int_equal(vv_node_lookup(pyd, "site-packages", &site), 0);
	assert_int_equal(vv_node_lookup(site, "pip", &pip), 0);
	lib->nlookup = pyd->nlookup = site->nlookup = pip->nlookup = 1; /* the kernel's */
	assert_false(vv_node_forget(site, 1)); /* pip is still held */
	assert_false(vv_node_forget(pyd, 1));  /* so is its grandchild */
	assert_false(vv_node_forget(lib, 1));
	assert_true(vv_node_forget(pip, 1)); /* pip goes; the directories above are intact */
	struct vv_node *again;
	assert_int_equal(vv_node_lookup(site, "pip", &again), 0);
	assert_ptr_equal(again->parent, site);
	assert_ptr_equal(site->parent, pyd);
	assert_ptr_equal(pyd->parent, lib);
	/* with nothing held below it any more, a directory can go with its subtree */
	assert_true(vv_node_forget(pyd, 0));
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

/* A file rewritten (O_TRUNC) while its previous content is still being stored, and
 * the new content stored first: the older result must not replace it (pip rewrites a
 * data script's first line right after copying it). */
static void test_publish_out_of_order(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "e", &env), 0);
	struct vv_node *dir = walk(env, "lib"), *n;
	assert_int_equal(vv_node_create(dir, "f.txt", 0644, true, &n), 0);
	vv_node_close_write(n);
	struct vv_fdref *fd;
	/* version 1 written and closed; its publication starts ... */
	assert_int_equal(vv_node_open_write(n, true), 0);
	assert_int_equal(vv_node_write_begin(n, &fd), 0);
	assert_int_equal(pwrite(fd->fd, "old\n", 4, 0), 4);
	vv_node_write_end(n, 4);
	vv_fdref_put(fd);
	vv_node_close_write(n);
	struct vv_publish p1;
	bool need;
	assert_int_equal(vv_node_publish_begin(n, &p1, &need), 0);
	assert_true(need);
	/* ... version 2 is written and stored completely meanwhile ... */
	write_node(st, n, "new content\n", true);
	/* ... and only then version 1's publication ends: the new stage stopped it (its
	 * result would be thrown away) */
	vv_publish_run(st, &p1);
	assert_int_equal(vv_node_publish_end(&p1), -ECANCELED);
	char *c = content(n, NULL);
	assert_string_equal(c, "new content\n");
	free(c);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

static void test_layout(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "web", &env), 0);
	assert_int_equal(vv_envset_create(set, "web", &env), -EEXIST);
	assert_int_equal(vv_env_load_root(env), 0);

	char pyx[32], path[128];
	vv_python_name(&set->defpy, pyx);
	struct vv_node *n = walk(env, "lib64");
	assert_int_equal(n->kind, VV_SYN_LINK);
	assert_string_equal(n->target, "lib");
	n = walk(env, "bin/python");
	assert_string_equal(n->target, pyx);
	snprintf(path, sizeof(path), "bin/%s", pyx);
	n = walk(env, path);
	assert_string_equal(n->target, set->defpy.exe);
	snprintf(path, sizeof(path), "lib/%s/site-packages/pip/__init__.py", pyx);
	n = walk(env, path);
	assert_int_equal(n->kind, VV_REG);

	/* pyvenv.cfg and activate name the env's path */
	char *cfg = content(walk(env, "pyvenv.cfg"), NULL);
	assert_non_null(strstr(cfg, "home = "));
	assert_non_null(strstr(cfg, "include-system-site-packages = false"));
	free(cfg);
	char *act = content(walk(env, "bin/activate"), NULL);
	assert_non_null(strstr(act, "/mnt/envs/web"));
	free(act);

	/* console scripts show this env's interpreter */
	char *pip = content(walk(env, "bin/pip"), NULL);
	assert_true(!strncmp(pip, "#!/mnt/envs/web/bin/python\n", 27));
	free(pip);

	/* bad names */
	assert_int_equal(vv_envset_create(set, "..", &env), -EINVAL);
	assert_int_equal(vv_envset_create(set, "a/b", &env), -EINVAL);
	char longname[300];
	memset(longname, 'x', 256);
	longname[256] = 0;
	assert_int_equal(vv_envset_create(set, longname, &env), -ENAMETOOLONG);

	assert_int_equal(vv_envset_close(set), 0);
}

static void test_changes_commit_and_reopen(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "chg", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *lib = walk(env, "lib"), *d, *f;
	assert_int_equal(vv_node_mkdir(lib, "pkg", 0755, &d), 0);
	assert_int_equal(vv_node_mkdir(lib, "pkg", 0755, &d), -EEXIST);
	assert_int_equal(vv_node_create(d, "mod.py", 0644, true, &f), 0);
	vv_node_close_write(f);
	write_node(st, f, "print('hi')\n", true);
	struct vv_node *l;
	assert_int_equal(vv_node_symlink(d, "link", "mod.py", &l), 0);
	/* directory rename within a dir and into a new parent; never EXDEV */
	assert_int_equal(vv_node_rename(lib, "pkg", lib, "~kg", 0), 0);
	assert_int_equal(vv_node_rename(lib, "~kg", lib, "pkg", 0), 0);
	assert_int_equal(vv_node_rename(lib, "pkg", d, "inside", 0), -EINVAL);
	assert_int_equal(vv_node_rmdir(lib, "pkg"), -ENOTEMPTY);
	assert_int_equal(vv_node_setattr(f, 0600, -1, 1000000000LL), 0);
	assert_int_equal(vv_env_commit(env), 0);
	assert_false(vv_env_has_changes(env));
	vv_oid root = env->cfg.root;
	assert_int_equal(vv_envset_close(set), 0);

	set = open_set(st);
	env = vv_envset_find(set, "chg", 3);
	assert_non_null(env);
	assert_int_equal(vv_env_load_root(env), 0);
	assert_true(vv_oid_eq(&env->cfg.root, &root));
	f = walk(env, "lib/pkg/mod.py");
	assert_int_equal(f->mode, 0600);
	assert_int_equal(f->mtime_ns, 1000000000LL);
	char *c = content(f, NULL);
	assert_string_equal(c, "print('hi')\n");
	free(c);
	assert_string_equal(walk(env, "lib/pkg/link")->target, "mod.py");
	assert_int_equal(vv_envset_close(set), 0);
}

static void test_copy_up_isolation(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *a, *b;
	assert_int_equal(vv_envset_create(set, "a", &a), 0);
	assert_int_equal(vv_envset_create(set, "b", &b), 0);
	char pyx[32], path[96];
	vv_python_name(&set->defpy, pyx);
	snprintf(path, sizeof(path), "lib/%s/site-packages/pip/__init__.py", pyx);
	struct vv_node *fa = walk(a, path), *fb = walk(b, path);
	assert_true(vv_oid_eq(&fa->oid, &fb->oid));
	vv_oid orig = fa->oid;
	char *before = content(fb, NULL);
	write_node(st, fa, "# changed in a\n", false);
	assert_false(vv_oid_eq(&fa->oid, &orig));
	char *ca = content(fa, NULL), *cb = content(fb, NULL);
	assert_non_null(strstr(ca, "# changed in a\n"));
	assert_string_equal(cb, before);
	/* the original object is intact */
	char *obj = NULL;
	size_t olen;
	assert_int_equal(vv_odb_read_obj(&st->odb, &orig, 1 << 20, &obj, &olen), 0);
	assert_int_equal(olen, strlen(before));
	free(obj);
	free(ca);
	free(cb);
	free(before);
	assert_int_equal(vv_envset_close(set), 0);
}

/* The crash: a child process makes changes and dies without committing. */
static void crash_child(struct vv_store *st)
{
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	struct vv_node *inc, *d, *f, *g;
	if (vv_envset_create(set, "c", &env) < 0 || vv_env_load_root(env) < 0 ||
	    vv_env_walk(env, "include", &inc) < 0 || vv_node_mkdir(inc, "x", 0750, &d) < 0 ||
	    vv_node_create(d, "done.txt", 0644, true, &f) < 0)
		_exit(2);
	vv_node_close_write(f);
	write_node(st, f, "complete\n", true);
	if (vv_node_create(d, "open.txt", 0644, true, &g) < 0)
		_exit(3);
	struct vv_fdref *fd;
	if (vv_node_write_begin(g, &fd) < 0 || pwrite(fd->fd, "never closed", 12, 0) != 12)
		_exit(4);
	if (vv_node_rename(d, "done.txt", d, "renamed.txt", 0) < 0)
		_exit(5);
	_exit(0); /* no commit, no close */
}

static void test_journal_replay_after_crash(void **state)
{
	struct vv_store *st = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(st);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	struct vv_envset *set = open_set(st);
	struct vv_env *e2 = vv_envset_find(set, "c", 1);
	assert_non_null(e2);
	struct vv_node *r = walk(e2, "include/x/renamed.txt");
	char *c = content(r, NULL);
	assert_string_equal(c, "complete\n");
	free(c);
	/* the file never closed keeps what was written to it: its stage was journaled
	 * when it was made; the replay reads it in place and leaves it to the mount to
	 * store (vv_env_unpublished) */
	struct vv_node *o = walk(e2, "include/x/open.txt");
	c = content(o, NULL);
	assert_string_equal(c, "never closed");
	free(c);
	assert_non_null(o->stage);
	struct vv_node *u;
	bool seen = false;
	while ((u = vv_env_unpublished(e2))) {
		seen = seen || u == o;
		struct vv_publish p;
		bool need;
		assert_int_equal(vv_node_publish_begin(u, &p, &need), 0);
		assert_true(need);
		vv_publish_run(st, &p);
		assert_int_equal(vv_node_publish_end(&p), 0);
	}
	assert_true(seen);
	assert_int_equal(vv_env_store_sealed(e2), 0);
	assert_null(o->stage);
	assert_int_equal(o->size, 12);
	c = content(o, NULL);
	assert_string_equal(c, "never closed");
	free(c);
	assert_int_equal(walk(e2, "include/x")->mode, 0750);
	assert_true(vv_env_has_changes(e2));
	assert_int_equal(vv_envset_close(set), 0);
}

static void test_env_rename_remove(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "old", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	char *c1 = content(walk(env, "pyvenv.cfg"), NULL);
	assert_int_equal(vv_envset_rename(set, "old", "new", true), 0);
	assert_null(vv_envset_find(set, "old", 3));
	assert_ptr_equal(vv_envset_find(set, "new", 3), env);
	char *c2 = content(walk(env, "pyvenv.cfg"), NULL);
	if (strstr(c1, "command = "))
		assert_non_null(strstr(c2, "/mnt/envs/new"));
	char *act = content(walk(env, "bin/activate"), NULL);
	assert_non_null(strstr(act, "/mnt/envs/new"));
	assert_null(strstr(act, "/mnt/envs/old"));
	free(act);
	free(c1);
	free(c2);
	assert_int_equal(vv_envset_remove(set, "new"), -ENOTEMPTY);
	assert_int_equal(faccessat(st->envfd, "new", F_OK, 0), 0);
	assert_int_equal(vv_envset_close(set), 0);
}

/* A locked env refuses every change with -EROFS (replay excepted) and shows no write
 * bits; a lock-only change of envs/NAME is applied in place by vv_envset_sync. */
static void test_locked_env(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env, *other;
	assert_int_equal(vv_envset_create(set, "lk", &env), 0);
	assert_int_equal(vv_envset_create(set, "lk-other", &other), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	assert_int_equal(vv_env_load_root(other), 0);
	struct vv_node *lib = walk(env, "lib"), *n, *f = walk(env, "pyvenv.cfg");
	assert_int_equal(vv_node_mkdir(lib, "keep", 0755, &n), 0);
	assert_int_equal(vv_env_commit(env), 0);
	struct stat sb;
	vv_node_stat(lib, &sb);
	assert_int_equal(sb.st_mode & 0777, 0755);

	assert_int_equal(vv_envstate_lock(st, "lk", true), 0);
	assert_int_equal(vv_envset_sync(set, "lk"), VV_SYNC_LOCK);
	assert_ptr_equal(vv_envset_find(set, "lk", 2), env); /* same env, same nodes */
	assert_true(vv_env_readonly(env));
	assert_false(vv_env_readonly(other));
	vv_node_stat(lib, &sb);
	assert_int_equal(sb.st_mode & 0777, 0555);
	assert_int_equal(vv_node_mkdir(lib, "new", 0755, &n), -EROFS);
	assert_int_equal(vv_node_create(lib, "new.py", 0644, true, &n), -EROFS);
	assert_int_equal(vv_node_symlink(lib, "ln", "x", &n), -EROFS);
	assert_int_equal(vv_node_rmdir(lib, "keep"), -EROFS);
	assert_int_equal(vv_node_rename(lib, "keep", lib, "kept", 0), -EROFS);
	assert_int_equal(vv_node_setattr(lib, 0700, -1, -1), -EROFS);
	assert_int_equal(vv_node_open_write(f, false), -EROFS);
	assert_int_equal(vv_node_truncate(f, 0), -EROFS);
	assert_int_equal(vv_envset_remove(set, "lk"), -EROFS);
	assert_int_equal(vv_envset_rename(set, "lk", "lk2", true), -EROFS);
	assert_int_equal(vv_node_mkdir(walk(other, "lib"), "new", 0755, &n), 0);

	assert_int_equal(vv_envstate_lock(st, "lk", false), 0);
	assert_int_equal(vv_envset_sync(set, "lk"), VV_SYNC_LOCK);
	assert_false(vv_env_readonly(env));
	assert_int_equal(vv_node_mkdir(lib, "new", 0755, &n), 0);
	assert_int_equal(vv_envset_close(set), 0);
}

/* A read-only envset: nothing can change, nothing is committed, the journal of a
 * crashed mount is shown but stays. */
/* Owners: mkdir's caller owns the env, every node shows it, chown/chmod of the root
 * are saved with the committed root while changes wait in the journal, and survive a
 * reopen; another process's owner change is applied in place. */
static void test_env_owner(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create_as(set, "own", 4101, 4202, 0750, false, &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *lib = walk(env, "lib"), *cfg = walk(env, "pyvenv.cfg"), *n;
	struct stat sb;
	vv_node_stat(env->root, &sb);
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(sb.st_uid, 4101);
	assert_int_equal(sb.st_gid, 4202);
	vv_node_stat(lib, &sb);
	assert_int_equal(sb.st_uid, 4101);
	assert_int_equal(sb.st_mode & 07777, 0755); /* per-file modes stay as stored */
	vv_node_stat(cfg, &sb);
	assert_int_equal(sb.st_gid, 4202);

	/* a change waits in the journal while the owner and mode are saved */
	assert_int_equal(vv_node_mkdir(lib, "pending", 0755, &n), 0);
	vv_oid committed = env->cfg.root;
	assert_int_equal(vv_env_set_owner(env, 4301, -1, 01777), 0);
	struct vv_envcfg c;
	assert_int_equal(vv_env_load(st, "own", &c), 0);
	assert_int_equal(c.uid, 4301);
	assert_int_equal(c.gid, 4202);
	assert_int_equal(vv_envcfg_mode(&c), 01777);
	assert_true(vv_oid_eq(&c.root, &committed));
	vv_envcfg_release(&c);
	assert_true(vv_env_has_changes(env));
	vv_node_stat(lib, &sb);
	assert_int_equal(sb.st_uid, 4301);
	vv_node_stat(env->root, &sb);
	assert_int_equal(sb.st_mode & 07777, 01777);
	/* our own write is no change to sync */
	assert_int_equal(vv_envset_sync(set, "own"), VV_SYNC_NONE);
	/* the next commit keeps them */
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(vv_env_load(st, "own", &c), 0);
	assert_int_equal(c.uid, 4301);
	assert_int_equal(vv_envcfg_mode(&c), 01777);
	assert_false(vv_oid_eq(&c.root, &committed));

	/* another process changes the owner only: applied in place */
	c.uid = 4401;
	c.mode = 0700;
	assert_int_equal(vt_env_save(st, "own", &c, "test", 0), 0);
	vv_envcfg_release(&c);
	assert_int_equal(vv_envset_sync(set, "own"), VV_SYNC_LOCK);
	assert_ptr_equal(vv_envset_find(set, "own", 3), env);
	vv_node_stat(lib, &sb);
	assert_int_equal(sb.st_uid, 4401);
	vv_node_stat(env->root, &sb);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(vv_envset_close(set), 0);

	/* reopened */
	set = open_set(st);
	env = vv_envset_find(set, "own", 3);
	assert_non_null(env);
	assert_int_equal(vv_env_load_root(env), 0);
	vv_node_stat(walk(env, "lib/pending"), &sb);
	assert_int_equal(sb.st_uid, 4401);
	assert_int_equal(sb.st_gid, 4202);
	vv_node_stat(env->root, &sb);
	assert_int_equal(sb.st_mode & 07777, 0700);
	/* vv_envset_create: the daemon's user, 0755 */
	assert_int_equal(vv_envset_create(set, "mine", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	vv_node_stat(env->root, &sb);
	assert_int_equal(sb.st_uid, getuid());
	assert_int_equal(sb.st_mode & 07777, 0755);
	/* a locked env refuses */
	assert_int_equal(vv_envstate_lock(st, "mine", true), 0);
	assert_int_equal(vv_envset_sync(set, "mine"), VV_SYNC_LOCK);
	assert_int_equal(vv_env_set_owner(env, 4101, 4101, -1), -EROFS);
	assert_int_equal(vv_envset_close(set), 0);
}

static void test_readonly_set(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "ro", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *lib = walk(env, "lib"), *n;
	assert_int_equal(vv_node_mkdir(lib, "pending", 0755, &n), 0);
	vv_oid root = env->cfg.root;
	assert_true(vv_env_has_changes(env));
	/* leave the journal as a crash would: no commit */
	vv_journal_close(&env->jfd);
	env->root->dirty = false;
	env->jrecords = 0;
	assert_int_equal(vv_envset_close(set), 0);

	struct vv_store *ros = NULL;
	assert_int_equal(vv_store_open(&ros, st->path, VV_STORE_READONLY), 0);
	struct vv_envset_opts o = { .mountpoint = "/mnt/envs", .readonly = true };
	assert_int_equal(vv_envset_open(&set, ros, &o), 0);
	env = vv_envset_find(set, "ro", 2);
	assert_non_null(env);
	assert_int_equal(vv_env_load_root(env), 0);
	lib = walk(env, "lib");
	assert_int_equal(vv_node_lookup(lib, "pending", &n), 0); /* replayed */
	assert_int_equal(vv_node_mkdir(lib, "x", 0755, &n), -EROFS);
	assert_int_equal(vv_envset_create(set, "new", &env), -EROFS);
	env = vv_envset_find(set, "ro", 2);
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(vv_envset_close(set), 0);
	vv_store_close(ros);
	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(st, "ro", &cfg), 0);
	assert_true(vv_oid_eq(&cfg.root, &root)); /* nothing committed */
	vv_envcfg_release(&cfg);
	assert_int_equal(vv_journal_pending(st, "ro", &root), 1);
}

/* One store for all tests (seeding pip costs a second); env names differ per test. */
/* A writer that makes a change in env "two" and dies without committing. */
static void dying_writer(struct vv_store *st)
{
	struct vv_envset *set = open_set(st);
	struct vv_env *env = vv_envset_find(set, "two", 3);
	struct vv_node *lib, *d;
	if (!env || vv_env_load_root(env) < 0 || vv_env_walk(env, "lib", &lib) < 0 ||
	    vv_node_mkdir(lib, "left-by-dead", 0755, &d) < 0 || env->lockfd < 0)
		_exit(2);
	_exit(0); /* no commit: journal/two holds the change, the lock dies with us */
}

/* Two daemons (envsets) on one store: one writer per env (EBUSY naming the holder),
 * the lock goes with the commit, a stale view is reloaded (ESTALE) instead of being
 * written over another's commit, and a dead writer's journal is replayed exactly once,
 * by whoever takes the lock next. */
static void test_two_writers(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *a = open_set(st), *b = open_set(st);
	struct vv_env *ea, *eb;
	struct vv_node *lib, *d;
	assert_int_equal(vv_envset_create(a, "two", &ea), 0);
	assert_int_equal(vv_envset_sync(b, "two"), VV_SYNC_ADDED);
	eb = vv_envset_find(b, "two", 3);
	assert_int_equal(vv_env_load_root(ea), 0);
	assert_int_equal(vv_env_load_root(eb), 0);
	assert_int_equal(ea->lockfd, -1); /* loading takes no lock */

	/* A's first change takes the lock; B is refused while A has it uncommitted */
	assert_int_equal(vv_node_mkdir(walk(ea, "lib"), "from-a", 0755, &d), 0);
	assert_true(ea->lockfd >= 0);
	assert_int_equal(vv_node_mkdir(walk(eb, "lib"), "from-b", 0755, &d), -EBUSY);
	char want[64];
	snprintf(want, sizeof(want), "pid %ld on host", (long)getpid());
	assert_non_null(strstr(vv_errmsg(), "env 'two' is being changed by"));
	assert_non_null(strstr(vv_errmsg(), want));
	assert_int_equal(eb->lockfd, -1);

	/* A commits: nothing pending, the lock goes */
	assert_int_equal(vv_env_commit(ea), 0);
	assert_int_equal(ea->lockfd, -1);

	/* B's view is older than A's commit: reloaded, the change fails with ESTALE (the
	 * kernel retries the path walk), and the retry lands on top of A's commit */
	lib = walk(eb, "lib");
	assert_int_equal(vv_node_mkdir(lib, "from-b", 0755, &d), -ESTALE);
	assert_true(eb->removed);
	struct vv_env *eb2 = vv_envset_find(b, "two", 3);
	assert_true(eb2 && eb2 != eb);
	assert_int_equal(vv_env_load_root(eb2), 0);
	walk(eb2, "lib/from-a");
	assert_int_equal(vv_node_mkdir(walk(eb2, "lib"), "from-b", 0755, &d), 0);
	/* the same from a node of the replaced env: stale */
	assert_int_equal(vv_node_mkdir(lib, "late", 0755, &d), -ESTALE);
	assert_int_equal(vv_env_commit(eb2), 0);
	assert_int_equal(eb2->lockfd, -1);

	/* A, in turn, sees B's commit once it writes again */
	assert_int_equal(vv_node_mkdir(walk(ea, "lib"), "again", 0755, &d), -ESTALE);
	ea = vv_envset_find(a, "two", 3);
	assert_int_equal(vv_env_load_root(ea), 0);
	walk(ea, "lib/from-b");
	assert_false(vv_env_has_changes(ea));

	/* a writer dies with a change in its journal: the next one to take the lock
	 * (a reload, here forced by a write) replays and commits it, once */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		dying_writer(st);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(vv_journal_pending(st, "two", &ea->cfg.root), 1);
	assert_int_equal(vv_node_mkdir(walk(ea, "lib"), "after", 0755, &d), -ESTALE);
	ea = vv_envset_find(a, "two", 3);
	assert_int_equal(vv_env_load_root(ea), 0); /* replays under the lock */
	assert_true(ea->lockfd >= 0);
	assert_true(vv_env_has_changes(ea));
	walk(ea, "lib/left-by-dead");
	/* B, loading it meanwhile, shows the committed state (the journal is A's now) */
	assert_int_equal(vv_envset_sync(b, "two"), VV_SYNC_NONE);
	eb2 = vv_envset_find(b, "two", 3);
	assert_int_equal(vv_node_mkdir(walk(eb2, "lib"), "b2", 0755, &d), -EBUSY);
	assert_int_equal(vv_env_commit(ea), 0);
	assert_int_equal(ea->lockfd, -1);
	assert_int_equal(vv_journal_pending(st, "two", &ea->cfg.root), 0);
	vv_oid committed = ea->cfg.root;
	assert_int_equal(vv_envset_close(a), 0);
	assert_int_equal(vv_envset_close(b), 0);

	/* a fresh daemon has nothing to replay */
	a = open_set(st);
	ea = vv_envset_find(a, "two", 3);
	assert_int_equal(vv_env_load_root(ea), 0);
	assert_true(vv_oid_eq(&ea->cfg.root, &committed));
	assert_false(vv_env_has_changes(ea));
	assert_int_equal(ea->lockfd, -1);
	walk(ea, "lib/left-by-dead");
	walk(ea, "lib/from-a");
	walk(ea, "lib/from-b");

	/* renaming an env takes both names' locks; the old name's lock file goes */
	int held;
	assert_int_equal(vv_envlock_take(st, "two-b", &held), 0);
	assert_int_equal(vv_envset_rename(a, "two", "two-b", true), -EBUSY);
	assert_non_null(strstr(vv_errmsg(), "env 'two-b' is being changed by"));
	vv_envlock_release(held);
	assert_int_equal(vv_envset_rename(a, "two", "two-b", true), 0);
	assert_int_equal(ea->lockfd, -1);
	struct stat sb;
	assert_int_equal(fstatat(st->lockfd, "two", &sb, 0), -1);
	assert_int_equal(vv_envlock_held(st, "two-b"), 0);
	assert_int_equal(vv_envset_close(a), 0);
}

static int setup(void **state)
{
	*state = vt_store_new();
	return 0;
}

/* A failed write (ENOSPC) keeps the stage from being published until the writer
 * retries the failed range or truncates the file; an unlinked file's stage goes at
 * once. */
static void test_failed_write_not_published(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "nospc", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *inc = walk(env, "include"), *f;
	assert_int_equal(vv_node_create(inc, "half.bin", 0644, true, &f), 0);
	vv_oid empty = f->oid;
	struct vv_fdref *fd;
	assert_int_equal(vv_node_write_begin(f, &fd), 0);
	assert_int_equal(pwrite(fd->fd, "abcd", 4, 0), 4);
	vv_node_write_end(f, 4);
	vv_node_write_failed(f, -ENOSPC, 4); /* the rest did not fit */
	struct vv_publish p;
	bool need;
	/* while a writer has it open nothing is published (fsync reports the error) */
	assert_int_equal(vv_node_publish_begin(f, &p, &need), -ENOSPC);
	assert_false(need);
	assert_true(vv_oid_eq(&f->oid, &empty)); /* nothing published */
	/* the writer retries the failed range: publishable again */
	assert_int_equal(pwrite(fd->fd, "efgh", 4, 4), 4);
	vv_node_write_end(f, 8);
	vv_node_write_ok(f, 8, 12); /* beyond the failure: does not clear it */
	assert_int_equal(f->stage_err, -ENOSPC);
	vv_node_write_ok(f, 4, 8);
	assert_int_equal(f->stage_err, 0);
	vv_fdref_put(fd);
	vv_node_close_write(f);
	assert_int_equal(vv_node_publish_begin(f, &p, &need), 0);
	assert_true(need);
	vv_publish_run(st, &p);
	assert_int_equal(vv_node_publish_end(&p), 0);
	char *c = content(f, NULL);
	assert_string_equal(c, "abcdefgh");
	free(c);
	/* a failure not retried before the last close: the half-written stage goes and
	 * the file has its earlier content again */
	vv_oid before;
	vv_hash_buf("abcdefgh", 8, &before);
	assert_int_equal(vv_node_open_write(f, false), 0);
	assert_int_equal(vv_node_write_begin(f, &fd), 0);
	assert_int_equal(pwrite(fd->fd, "ij", 2, 8), 2);
	vv_node_write_end(f, 10);
	vv_node_write_failed(f, -ENOSPC, 10);
	vv_fdref_put(fd);
	vv_node_close_write(f);
	assert_null(f->stage);
	assert_int_equal(f->stage_err, 0);
	assert_true(vv_oid_eq(&f->oid, &before));
	c = content(f, NULL);
	assert_string_equal(c, "abcdefgh");
	free(c);
	/* truncating to 0 clears a failure too */
	assert_int_equal(vv_node_open_write(f, false), 0);
	vv_node_write_failed(f, -ENOSPC, 0);
	assert_int_equal(vv_node_truncate(f, 0), 0);
	assert_int_equal(f->stage_err, 0);
	vv_node_close_write(f);
	/* an unlinked file drops its stage as soon as nobody writes to it */
	assert_int_equal(vv_node_open_write(f, true), 0);
	assert_non_null(f->stage);
	f->nlookup++; /* the kernel still knows the inode */
	assert_int_equal(vv_node_unlink(inc, "half.bin"), 0);
	assert_non_null(f->stage); /* still open for writing */
	vv_node_close_write(f);
	assert_null(f->stage);
	vv_node_forget(f, 1);
	assert_int_equal(vv_envset_close(set), 0);
}

/* ---- stages: named files in stage/ that the journal names ---- */

/* The records of the env's journal over its committed root. */
struct jrecs {
	int n, boots;
	char op[32];
	char stage[32][17];
	char path[32][256];
	unsigned mode[32];
};

static int jrec_add(void *ctx, const struct vv_jrec *j)
{
	struct jrecs *r = ctx;
	if (j->op == 'b') { /* which boot wrote what follows: counted, not kept */
		r->boots++;
		return 0;
	}
	assert_true(r->n < 32);
	r->op[r->n] = j->op;
	memcpy(r->stage[r->n], j->stage, sizeof(j->stage));
	const char *p = j->op == 'l' ? j->b : j->a;
	size_t len = j->op == 'l' ? j->blen : j->alen;
	assert_true(len < sizeof(r->path[0]));
	if (len)
		memcpy(r->path[r->n], p, len);
	r->path[r->n][len] = 0;
	r->mode[r->n] = j->mode;
	r->n++;
	return 0;
}

static void journal_of(struct vv_store *st, const char *env, const vv_oid *root,
		       struct jrecs *out)
{
	memset(out, 0, sizeof(*out));
	int r = vv_journal_scan(st, env, root, jrec_add, out);
	if (r < 0)
		fail_msg("scanning journal/%s: %s", env, vv_errmsg());
	assert_int_equal(r, out->n + out->boots);
}

/* Index of the only `w` record for path, or -1 if there is none. */
static int only_w(const struct jrecs *r, const char *path)
{
	int at = -1;
	for (int i = 0; i < r->n; i++) {
		if (r->op[i] != 'w' || strcmp(r->path[i], path))
			continue;
		if (at >= 0)
			fail_msg("more than one 'w' record for %s", path);
		at = i;
	}
	return at;
}

static bool stage_there(struct vv_store *st, const char *name)
{
	int r = vv_odb_stage_has(&st->odb, name);
	assert_true(r >= 0);
	return r == 1;
}

static int count_stage(const char *name, const struct stat *sb, void *arg)
{
	(void)name;
	(void)sb;
	(*(size_t *)arg)++;
	return 0;
}

static size_t stages(struct vv_store *st)
{
	size_t n = 0;
	assert_int_equal(vv_odb_stage_each(&st->odb, count_stage, &n), 0);
	return n;
}

/* Journal problems fsck finds for env (the store is shared with other tests). */
struct lost_of {
	const char *env;
	int n;
};

static int count_lost(const struct vv_fsck_problem *p, void *arg)
{
	struct lost_of *l = arg;
	if (p->kind == VV_FSCK_JOURNAL && p->env && !strcmp(p->env, l->env))
		l->n++;
	return 0;
}

static int fsck_lost(struct vv_store *st, const char *env)
{
	struct lost_of l = { .env = env };
	int r = vv_fsck(st, count_lost, &l, NULL);
	assert_true(r >= l.n);
	return l.n;
}

/* Append text at offset off of a file open for writing (a FUSE write). */
static void append(struct vv_node *n, const char *text, off_t off)
{
	struct vv_fdref *fd;
	assert_int_equal(vv_node_write_begin(n, &fd), 0);
	assert_int_equal(pwrite(fd->fd, text, strlen(text), off), (ssize_t)strlen(text));
	vv_node_write_end(n, (uint64_t)off + strlen(text));
	vv_fdref_put(fd);
}

static void publish(struct vv_store *st, struct vv_node *n)
{
	struct vv_publish p;
	bool need;
	assert_int_equal(vv_node_publish_begin(n, &p, &need), 0);
	assert_true(need);
	vv_publish_run(st, &p);
	assert_int_equal(vv_node_publish_end(&p), 0);
	assert_int_equal(vv_env_store_sealed(n->env), 0);
}

/* A new file's stage: named in the journal before its first byte, holding the bytes,
 * published by linking it, and its name gone with the commit. */
static void test_stage_lifecycle(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new(); /* stage/ of its own */
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "life", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	assert_int_equal(stages(st), 0);
	struct vv_node *inc = walk(env, "include"), *n;
	assert_int_equal(vv_node_create(inc, "new.txt", 0640, true, &n), 0);
	assert_non_null(n->stage);
	char name[VV_ODB_STAGE_SIZE];
	memcpy(name, n->stage->stage, sizeof(name));
	assert_true(vv_odb_stage_name_ok(name, strlen(name)));
	assert_true(stage_there(st, name));
	assert_int_equal(stages(st), 1);
	struct jrecs jr;
	journal_of(st, "life", &env->cfg.root, &jr);
	int w = only_w(&jr, "include/new.txt");
	assert_true(w >= 0);
	assert_string_equal(jr.stage[w], name);
	assert_int_equal(jr.mode[w], 0640);

	/* the bytes are in stage/NAME itself */
	append(n, "hello stage\n", 0);
	int sfd = openat(st->stagefd, name, O_RDONLY | O_CLOEXEC);
	assert_true(sfd >= 0);
	char buf[64] = "";
	assert_int_equal(pread(sfd, buf, sizeof(buf), 0), 12);
	assert_string_equal(buf, "hello stage\n");
	close(sfd);
	char *c = content(n, NULL);
	assert_string_equal(c, "hello stage\n");
	free(c);

	/* the last writer closes; the stage is published as an object without a copy */
	vv_node_close_write(n);
	publish(st, n);
	assert_null(n->stage);
	struct stat ssb, osb;
	assert_int_equal(fstatat(st->stagefd, name, &ssb, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(vv_odb_check(&st->odb, &n->oid, true, &osb), 1);
	assert_int_equal(ssb.st_ino, osb.st_ino);
	/* the journal still names the stage (a replay hashes it again and finds the
	 * object), so its name stays while that journal is the current one */
	journal_of(st, "life", &env->cfg.root, &jr);
	assert_int_equal(jr.op[jr.n - 2], 'w');
	assert_string_equal(jr.path[jr.n - 2], "include/new.txt");
	/* sealed: after a power loss, replay checks the stage against its hash */
	assert_int_equal(jr.op[jr.n - 1], 's');
	assert_string_equal(jr.stage[jr.n - 1], name);
	assert_true(stage_there(st, name));

	/* committed: no journal names it, and stage/ is empty */
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(stages(st), 0);
	journal_of(st, "life", &env->cfg.root, &jr);
	assert_int_equal(jr.n, 0);
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &env->cfg.root, "include/new.txt", &e), 1);
	assert_true(vv_oid_eq(&e.oid, &n->oid));
	assert_int_equal(e.size, 12);
	assert_int_equal(vv_envset_close(set), 0);
	vt_store_free(st);
}

/* A writer that commits while a file is open for writing, writes on and dies. */
static void across_child(struct vv_store *st)
{
	struct vv_envset *set = open_set(st);
	struct vv_env *env = vv_envset_find(set, "across", 6);
	struct vv_node *inc, *f;
	struct vv_fdref *fd;
	if (!env || vv_env_walk(env, "include", &inc) < 0 ||
	    vv_node_create(inc, "crash.log", 0644, true, &f) < 0 ||
	    vv_node_write_begin(f, &fd) < 0 || pwrite(fd->fd, "before\n", 7, 0) != 7)
		_exit(2);
	vv_node_write_end(f, 7);
	if (vv_env_commit(env) < 0 || pwrite(fd->fd, "after\n", 6, 7) != 6)
		_exit(3);
	vv_node_write_end(f, 13);
	_exit(0); /* no close, no commit */
}

/* A file open for writing across a commit keeps its stage, and the new journal names
 * it again: a crash after the commit loses none of its bytes. */
static void test_stage_open_across_commit(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "across", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *inc = walk(env, "include"), *f;
	assert_int_equal(vv_node_create(inc, "long.log", 0600, true, &f), 0);
	char name[VV_ODB_STAGE_SIZE];
	memcpy(name, f->stage->stage, sizeof(name));
	append(f, "part one\n", 0);
	vv_oid before = env->cfg.root;
	assert_int_equal(vv_env_commit(env), 0);
	assert_false(vv_oid_eq(&env->cfg.root, &before));
	/* the commit holds the file as created (empty), the stage the bytes written */
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &env->cfg.root, "include/long.log", &e), 1);
	assert_int_equal(e.size, 0);
	assert_non_null(f->stage);
	assert_string_equal(f->stage->stage, name);
	assert_true(stage_there(st, name));
	struct jrecs jr;
	journal_of(st, "across", &env->cfg.root, &jr);
	assert_int_equal(jr.n, 1);
	assert_int_equal(jr.op[0], 'w');
	assert_string_equal(jr.stage[0], name);
	assert_string_equal(jr.path[0], "include/long.log");
	assert_int_equal(jr.mode[0], 0600);

	/* written on, closed, published and committed: its name goes */
	append(f, "part two\n", 9);
	vv_node_close_write(f);
	publish(st, f);
	char *c = content(f, NULL);
	assert_string_equal(c, "part one\npart two\n");
	free(c);
	assert_int_equal(vv_env_commit(env), 0);
	assert_false(stage_there(st, name));
	assert_int_equal(vt_lookup(st, &env->cfg.root, "include/long.log", &e), 1);
	assert_int_equal(e.size, 18);
	journal_of(st, "across", &env->cfg.root, &jr);
	assert_int_equal(jr.n, 0);
	assert_int_equal(vv_envset_close(set), 0);

	/* killed after such a commit: the next load replays the new journal's `w` */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		across_child(st);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	set = open_set(st);
	env = vv_envset_find(set, "across", 6);
	assert_non_null(env);
	c = content(walk(env, "include/crash.log"), NULL);
	assert_string_equal(c, "before\nafter\n");
	free(c);
	assert_int_equal(vv_envset_close(set), 0);
}

/* An unlinked file nobody writes will never be published: its stage goes at once
 * (while a writer has it open, when the writer closes it); so does the stage of a file
 * a rename replaces. */
static void test_unlink_drops_stage(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "unl", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *inc = walk(env, "include"), *a, *b, *c, *d;
	char sa[VV_ODB_STAGE_SIZE], sb[VV_ODB_STAGE_SIZE], sc[VV_ODB_STAGE_SIZE];

	/* written and closed, not published yet */
	assert_int_equal(vv_node_create(inc, "a.txt", 0644, true, &a), 0);
	memcpy(sa, a->stage->stage, sizeof(sa));
	append(a, "aaa", 0);
	vv_node_close_write(a);
	assert_non_null(a->stage);
	assert_true(stage_there(st, sa));
	a->nlookup++; /* the kernel still knows the inode */
	assert_int_equal(vv_node_unlink(inc, "a.txt"), 0);
	assert_null(a->stage);
	assert_false(stage_there(st, sa));
	vv_node_forget(a, 1);

	/* still open for writing: the stage stays until the writer closes it */
	assert_int_equal(vv_node_create(inc, "b.txt", 0644, true, &b), 0);
	memcpy(sb, b->stage->stage, sizeof(sb));
	append(b, "bbb", 0);
	b->nlookup++;
	assert_int_equal(vv_node_unlink(inc, "b.txt"), 0);
	assert_true(stage_there(st, sb));
	append(b, "more", 3);
	vv_node_close_write(b);
	assert_null(b->stage);
	assert_false(stage_there(st, sb));
	vv_node_forget(b, 1);

	/* replaced by a rename */
	assert_int_equal(vv_node_create(inc, "c.txt", 0644, true, &c), 0);
	memcpy(sc, c->stage->stage, sizeof(sc));
	append(c, "ccc", 0);
	vv_node_close_write(c);
	assert_int_equal(vv_node_create(inc, "d.txt", 0644, true, &d), 0);
	vv_node_close_write(d);
	write_node(st, d, "ddd", true);
	assert_true(stage_there(st, sc));
	assert_int_equal(vv_node_rename(inc, "d.txt", inc, "c.txt", 0), 0);
	assert_false(stage_there(st, sc));
	char *got = content(walk(env, "include/c.txt"), NULL);
	assert_string_equal(got, "ddd");
	free(got);

	/* fsck agrees: the journal names stages that are gone, for paths that are gone */
	assert_int_equal(fsck_lost(st, "unl"), 0);
	assert_int_equal(vv_envset_close(set), 0);
}

/* A writer that opens two files for writing and dies: one committed file rewritten,
 * one new file. */
static void gone_child(struct vv_store *st)
{
	struct vv_envset *set = open_set(st);
	struct vv_env *env = vv_envset_find(set, "gone", 4);
	struct vv_node *k, *inc, *f;
	struct vv_fdref *fd;
	if (!env || vv_env_walk(env, "include/keep.txt", &k) < 0 ||
	    vv_env_walk(env, "include", &inc) < 0 || vv_node_open_write(k, true) < 0 ||
	    vv_node_write_begin(k, &fd) < 0 || pwrite(fd->fd, "new content\n", 12, 0) != 12)
		_exit(2);
	vv_node_write_end(k, 12);
	vv_fdref_put(fd);
	if (vv_node_create(inc, "fresh.txt", 0644, true, &f) < 0 ||
	    vv_node_write_begin(f, &fd) < 0 || pwrite(fd->fd, "fresh", 5, 0) != 5)
		_exit(3);
	vv_node_write_end(f, 5);
	_exit(0);
}

/* The stages a dead writer's journal names were deleted (by hand, a broken disk):
 * the replay does not fail, and the files keep their earlier content. */
static void test_replay_stage_gone(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "gone", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *inc = walk(env, "include"), *k;
	assert_int_equal(vv_node_create(inc, "keep.txt", 0644, true, &k), 0);
	vv_node_close_write(k);
	write_node(st, k, "old\n", true);
	assert_int_equal(vv_envset_close(set), 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		gone_child(st);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	vv_oid root = vt_env_root(st, "gone");
	struct jrecs jr;
	journal_of(st, "gone", &root, &jr);
	int wk = only_w(&jr, "include/keep.txt"), wf = only_w(&jr, "include/fresh.txt");
	assert_true(wk >= 0 && wf >= 0);
	assert_true(stage_there(st, jr.stage[wk]));
	assert_int_equal(vv_odb_stage_remove(&st->odb, jr.stage[wk]), 0);
	assert_int_equal(vv_odb_stage_remove(&st->odb, jr.stage[wf]), 0);
	/* fsck sees both */
	assert_int_equal(fsck_lost(st, "gone"), 2);

	set = open_set(st);
	env = vv_envset_find(set, "gone", 4);
	assert_non_null(env);
	assert_int_equal(vv_env_load_root(env), 0);
	k = walk(env, "include/keep.txt");
	assert_null(k->stage);
	char *c = content(k, NULL);
	assert_string_equal(c, "old\n");
	free(c);
	/* a missing file named by a `w` is made (empty) */
	struct vv_node *f = walk(env, "include/fresh.txt");
	assert_null(f->stage);
	c = content(f, NULL);
	assert_string_equal(c, "");
	free(c);
	/* and the env is usable */
	write_node(st, k, "again\n", true);
	c = content(k, NULL);
	assert_string_equal(c, "again\n");
	free(c);
	assert_int_equal(vv_envset_close(set), 0);
	assert_int_equal(fsck_lost(st, "gone"), 0);
	root = vt_env_root(st, "gone");
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &root, "include/keep.txt", &e), 1);
	assert_int_equal(e.size, 6);
}

/* A writer that dies with one file open for writing, and one whose stage it stored
 * (linked into objects/) without journaling the object yet. */
static void rewrite_child(struct vv_store *st)
{
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	struct vv_node *inc, *r, *p;
	struct vv_fdref *fd;
	if (vv_envset_create(set, "rewrite", &env) < 0 || vv_env_load_root(env) < 0 ||
	    vv_env_walk(env, "include", &inc) < 0 ||
	    vv_node_create(inc, "r.txt", 0644, true, &r) < 0 ||
	    vv_node_write_begin(r, &fd) < 0 || pwrite(fd->fd, "abc", 3, 0) != 3)
		_exit(2);
	vv_node_write_end(r, 3);
	vv_fdref_put(fd);
	if (vv_node_create(inc, "p.txt", 0644, true, &p) < 0 ||
	    vv_node_write_begin(p, &fd) < 0 || pwrite(fd->fd, "pub", 3, 0) != 3)
		_exit(3);
	vv_node_write_end(p, 3);
	vv_oid oid;
	if (vv_odb_seal(&st->odb, fd->fd, &oid, NULL, NULL, NULL) < 0 ||
	    vv_odb_sync(&st->odb) < 0 || vv_odb_link_synced(&st->odb, fd->fd, &oid) < 0)
		_exit(4);
	_exit(0);
}

/* Files whose content is a replayed stage can be written again: a stage nobody stored
 * yet in place, one already linked into objects/ by copying it first (an object is
 * never rewritten). */
static void test_replayed_stage_writable(void **state)
{
	struct vv_store *st = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		rewrite_child(st);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	vv_oid pub;
	vv_hash_buf("pub", 3, &pub);
	assert_int_equal(vv_odb_has(&st->odb, &pub), 1);

	struct vv_envset *set = open_set(st);
	struct vv_env *env = vv_envset_find(set, "rewrite", 7);
	assert_non_null(env);
	struct vv_node *r = walk(env, "include/r.txt"), *p = walk(env, "include/p.txt");
	char *c = content(r, NULL);
	assert_string_equal(c, "abc");
	free(c);
	c = content(p, NULL);
	assert_string_equal(c, "pub");
	free(c);
	/* appended to */
	assert_int_equal(vv_node_open_write(r, false), 0);
	append(r, "def", 3);
	vv_node_close_write(r);
	c = content(r, NULL);
	assert_string_equal(c, "abcdef");
	free(c);
	publish(st, r);
	/* changed in place, and rewritten */
	assert_int_equal(vv_node_open_write(p, false), 0);
	append(p, "P", 0);
	vv_node_close_write(p);
	c = content(p, NULL);
	assert_string_equal(c, "Pub");
	free(c);
	publish(st, p);
	write_node(st, p, "rewritten", true);
	/* the object the dead writer stored is intact */
	char *obj = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(&st->odb, &pub, 100, &obj, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(obj, "pub", 3);
	free(obj);
	assert_int_equal(vv_envset_close(set), 0);
	vv_oid root = vt_env_root(st, "rewrite");
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &root, "include/r.txt", &e), 1);
	assert_int_equal(e.size, 6);
	assert_int_equal(vt_lookup(st, &root, "include/p.txt", &e), 1);
	assert_int_equal(e.size, 9);
}

/* A file of the committed tree opened for writing, whose write failed (ENOSPC): its
 * stage is never published, but the journal names it (`w`), so the env has something
 * uncommitted. The daemon keeps the env's writer lock meanwhile and its next change
 * goes through: it must not take its own journal for one a stopped writer left behind
 * (reloading the env, which would replay the half-written stage into the store). */
static void test_failed_stage_keeps_lock(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "half", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *inc = walk(env, "include"), *f;
	assert_int_equal(vv_node_create(inc, "data.bin", 0644, true, &f), 0);
	vv_node_close_write(f);
	write_node(st, f, "old\n", true);
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(env->lockfd, -1);
	vv_oid old = f->oid;

	assert_int_equal(vv_node_open_write(f, true), 0);
	append(f, "abcd", 0);
	vv_node_write_failed(f, -ENOSPC, 4); /* the rest did not fit */
	vv_node_close_write(f);
	/* not retried: the stage went with the last close, the file is "old\n" again */
	assert_null(f->stage);
	assert_true(vv_oid_eq(&f->oid, &old));
	assert_int_equal(vv_journal_pending(st, "half", &env->cfg.root), 1);
	assert_int_equal(vv_env_commit(env), 0);
	/* still uncommitted: the lock stays (mtree.h: held while anything is uncommitted) */
	assert_true(env->lockfd >= 0 ||
		    vv_journal_pending(st, "half", &env->cfg.root) == 0);
	/* the next change is this daemon's own */
	struct vv_node *d;
	assert_int_equal(vv_node_mkdir(walk(env, "lib"), "next", 0755, &d), 0);
	assert_ptr_equal(vv_envset_find(set, "half", 4), env);
	/* the half-written content reached neither the store nor a commit */
	assert_int_equal(vv_env_commit(env), 0);
	vv_oid root = vt_env_root(st, "half");
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &root, "include/data.bin", &e), 1);
	assert_true(vv_oid_eq(&e.oid, &old));
	vv_oid half;
	vv_hash_buf("abcd", 4, &half);
	assert_int_equal(vv_odb_has(&st->odb, &half), 0);
	/* the writer retries and succeeds: stored */
	assert_int_equal(vv_node_open_write(f, true), 0);
	append(f, "new\n", 0);
	vv_node_close_write(f);
	publish(st, f);
	assert_int_equal(vv_envset_close(set), 0);
	root = vt_env_root(st, "half");
	assert_int_equal(vt_lookup(st, &root, "include/data.bin", &e), 1);
	assert_int_equal(e.size, 4);
}

/* A console script copied up for writing shows its content with this env's
 * interpreter; when the write fails and the file goes back to its earlier content,
 * that is the console script again (its shebang made for the env), not the stored
 * script's bytes as a plain file. */
static void test_failed_script_write(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "scr", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *pip = walk(env, "bin/pip");
	assert_int_equal(pip->kind, VV_SCRIPT);
	char *before = content(pip, NULL);
	assert_true(!strncmp(before, "#!/mnt/envs/scr/bin/python\n", 27));
	assert_int_equal(vv_node_open_write(pip, false), 0);
	append(pip, "# more\n", (off_t)pip->ssize);
	vv_node_write_failed(pip, -ENOSPC, pip->ssize);
	vv_node_close_write(pip);
	assert_null(pip->stage);
	assert_int_equal(pip->kind, VV_SCRIPT);
	char *after = content(pip, NULL);
	assert_string_equal(after, before);
	free(before);
	free(after);
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(vv_envset_close(set), 0);
	vv_oid root = vt_env_root(st, "scr");
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &root, "bin/pip", &e), 1);
	assert_int_equal(e.kind, VV_SCRIPT);
}

/* ---- FIFOs and sockets: nodes without content ---- */

/* Problems fsck finds in env (the store is shared with other tests). */
struct problems_of {
	const char *env;
	int n;
};

static int count_env_problem(const struct vv_fsck_problem *p, void *arg)
{
	struct problems_of *c = arg;
	if (p->env && !strcmp(p->env, c->env)) {
		fprintf(stderr, "fsck: %s\n", p->msg);
		c->n++;
	}
	return 0;
}

static int fsck_env(struct vv_store *st, const char *env)
{
	struct problems_of c = { .env = env };
	assert_true(vv_fsck(st, count_env_problem, &c, NULL) >= 0);
	return c.n;
}

struct kinds {
	char names[8][32];
	uint8_t kind[8];
	int n;
};

static int see_kind(void *ctx, const char *name, uint8_t kind, struct vv_node *n,
		    uint64_t next)
{
	(void)n;
	(void)next;
	struct kinds *k = ctx;
	if (k->n < 8) {
		snprintf(k->names[k->n], sizeof(k->names[0]), "%s", name);
		k->kind[k->n++] = kind;
	}
	return 0;
}

/* The committed entry at path of env: a FIFO or socket with mode and mtime. */
static void expect_special(struct vv_store *st, const char *env, const char *path,
			   uint8_t kind, uint16_t mode, int64_t mtime)
{
	vv_oid root = vt_env_root(st, env);
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &root, path, &e), 1);
	assert_int_equal(e.kind, kind);
	assert_int_equal(e.mode, mode);
	assert_int_equal(e.size, 0);
	assert_true(vv_oid_is_zero(&e.oid));
	if (mtime >= 0)
		assert_true(e.mtime_ns == mtime);
}

/* Mtimes live in the env root's times section, not in the trees below it: two envs
 * holding the same files written at different times share every tree but the root,
 * each shows its own mtimes after a reload, and a directory moved before anything in
 * it was looked at keeps its entries' mtimes (their values are renumbered). */
static void make_pkg(struct vv_store *st, struct vv_env *env, int64_t t)
{
	struct vv_node *lib = walk(env, "lib"), *d, *sub, *f;
	assert_int_equal(vv_node_mkdir(lib, "pkg", 0755, &d), 0);
	assert_int_equal(vv_node_mkdir(d, "sub", 0755, &sub), 0);
	assert_int_equal(vv_node_create(d, "a.py", 0644, true, &f), 0);
	vv_node_close_write(f);
	write_node(st, f, "a = 1\n", true);
	assert_int_equal(vv_node_setattr(f, -1, -1, t + 1), 0);
	assert_int_equal(vv_node_create(sub, "b.py", 0644, true, &f), 0);
	vv_node_close_write(f);
	write_node(st, f, "b = 2\n", true);
	assert_int_equal(vv_node_setattr(f, -1, -1, t + 2), 0);
	assert_int_equal(vv_node_setattr(sub, -1, -1, t + 3), 0);
	assert_int_equal(vv_node_setattr(d, -1, -1, t + 4), 0);
}

static void expect_times(struct vv_env *env, const char *pkg, int64_t t)
{
	char p[64];
	snprintf(p, sizeof(p), "lib/%s/a.py", pkg);
	assert_true(walk(env, p)->mtime_ns == t + 1);
	snprintf(p, sizeof(p), "lib/%s/sub/b.py", pkg);
	assert_true(walk(env, p)->mtime_ns == t + 2);
	snprintf(p, sizeof(p), "lib/%s/sub", pkg);
	assert_true(walk(env, p)->mtime_ns == t + 3);
	snprintf(p, sizeof(p), "lib/%s", pkg);
	assert_true(walk(env, p)->mtime_ns == t + 4);
}

static void test_times_out_of_trees(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *a, *b;
	const int64_t ta = 1700000000123456789LL, tb = 1700000777987654321LL;
	assert_int_equal(vv_envset_create(set, "ta", &a), 0);
	assert_int_equal(vv_envset_create(set, "tb", &b), 0);
	make_pkg(st, a, ta);
	make_pkg(st, b, tb);
	assert_int_equal(vv_env_commit(a), 0);
	assert_int_equal(vv_env_commit(b), 0);
	vv_oid ra = a->cfg.root, rb = b->cfg.root;
	assert_int_equal(vv_envset_close(set), 0);

	/* one tree for both envs' lib/pkg, and for their lib; two roots */
	struct vv_tree_ent ea, eb;
	assert_int_equal(vt_lookup(st, &ra, "lib/pkg", &ea), 1);
	assert_int_equal(vt_lookup(st, &rb, "lib/pkg", &eb), 1);
	assert_true(vv_oid_eq(&ea.oid, &eb.oid));
	assert_true(ea.mtime_ns == ta + 4 && eb.mtime_ns == tb + 4);
	assert_int_equal(ea.size, 3); /* sub, sub/b.py, a.py */
	assert_int_equal(vt_lookup(st, &ra, "lib", &ea), 1);
	assert_int_equal(vt_lookup(st, &rb, "lib", &eb), 1);
	assert_true(vv_oid_eq(&ea.oid, &eb.oid));
	assert_false(vv_oid_eq(&ra, &rb));
	struct vv_tree *t;
	assert_int_equal(vv_tree_get(st, &ea.oid, &t), 0);
	assert_null(t->times);
	for (size_t i = 0; i < t->n; i++)
		assert_true(t->ents[i].mtime_ns == 0);
	vv_tree_unref(t);
	assert_int_equal(vv_tree_get(st, &ra, &t), 0);
	assert_non_null(t->times);
	vv_tree_unref(t);

	/* each env shows its own mtimes after a reload; move lib/pkg before looking in it */
	set = open_set(st);
	a = vv_envset_find(set, "ta", 2);
	b = vv_envset_find(set, "tb", 2);
	assert_int_equal(vv_env_load_root(a), 0);
	expect_times(b, "pkg", tb);
	struct vv_node *lib = walk(a, "lib");
	assert_int_equal(vv_node_rename(lib, "pkg", lib, "moved", 0), 0);
	assert_int_equal(vv_env_commit(a), 0);
	assert_int_equal(vv_envset_close(set), 0);
	set = open_set(st);
	a = vv_envset_find(set, "ta", 2);
	expect_times(a, "moved", ta);
	assert_int_equal(vv_envset_close(set), 0);
	assert_int_equal(fsck_env(st, "ta"), 0);
	assert_int_equal(fsck_env(st, "tb"), 0);
}

/* mknod of a FIFO and a socket: shown with their types, no content to open or cut,
 * renamed, chmod'ed, listed, unlinked, committed as 'p' and 'k' entries and back after
 * a reload, fsck clean; other kinds are not mknod's. */
static void test_mknod_special(void **state)
{
	struct vv_store *st = *state;
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	assert_int_equal(vv_envset_create(set, "sp", &env), 0);
	assert_int_equal(vv_env_load_root(env), 0);
	struct vv_node *inc = walk(env, "include"), *p, *k, *x;
	assert_int_equal(vv_node_mknod(inc, "pipe", VV_FIFO, 0640, &p), 0);
	assert_int_equal(vv_node_mknod(inc, "sock", VV_SOCK, 0755, &k), 0);
	assert_int_equal(vv_node_mknod(inc, "pipe", VV_SOCK, 0644, &x), -EEXIST);
	assert_int_equal(vv_node_mknod(inc, "f", VV_REG, 0644, &x), -EINVAL);
	assert_int_equal(vv_node_mknod(inc, "d", VV_DIR, 0755, &x), -EINVAL);
	assert_int_equal(vv_node_mknod(inc, "a/b", VV_FIFO, 0644, &x), -EINVAL);
	struct stat sb;
	vv_node_stat(p, &sb);
	assert_int_equal(sb.st_mode, S_IFIFO | 0640);
	assert_int_equal(sb.st_size, 0);
	vv_node_stat(k, &sb);
	assert_int_equal(sb.st_mode, S_IFSOCK | 0755);
	assert_int_equal(vv_node_type(VV_FIFO), S_IFIFO);
	assert_int_equal(vv_node_type(VV_SOCK), S_IFSOCK);
	/* no content: nothing to open, read or truncate, nothing to put over */
	struct vv_readsrc rs;
	assert_int_equal(vv_node_open_write(p, false), -EINVAL);
	assert_int_equal(vv_node_truncate(p, 0), -EINVAL);
	assert_int_equal(vv_node_read_source(k, &rs), -EINVAL);
	struct vv_tree_ent fe = { .kind = VV_REG, .mode = 0644, .oid = set->empty_oid };
	assert_int_equal(vv_node_put(inc, "pipe", &fe), -EEXIST);
	assert_null(p->stage);
	/* chmod, utimens, rename; a third one made and removed */
	assert_int_equal(vv_node_setattr(p, 0600, -1, 5000000000LL), 0);
	assert_int_equal(vv_node_rename(inc, "pipe", inc, "fifo", 0), 0);
	assert_int_equal(vv_node_mknod(inc, "gone", VV_SOCK, 0700, &x), 0);
	assert_int_equal(vv_node_unlink(inc, "gone"), 0);
	struct kinds seen = { .n = 0 };
	assert_int_equal(vv_node_readdir(inc, 0, see_kind, &seen), 0);
	int found = 0;
	for (int i = 0; i < seen.n; i++) {
		if (!strcmp(seen.names[i], "fifo") && seen.kind[i] == VV_FIFO)
			found |= 1;
		if (!strcmp(seen.names[i], "sock") && seen.kind[i] == VV_SOCK)
			found |= 2;
		assert_true(strcmp(seen.names[i], "pipe") && strcmp(seen.names[i], "gone"));
	}
	assert_int_equal(found, 3);
	/* the journal says it with 'n' records */
	struct jrecs jr;
	journal_of(st, "sp", &env->cfg.root, &jr);
	int n = 0;
	for (int i = 0; i < jr.n; i++)
		n += jr.op[i] == 'n';
	assert_int_equal(n, 3);
	assert_int_equal(vv_env_commit(env), 0);
	expect_special(st, "sp", "include/fifo", VV_FIFO, 0600, 5000000000LL);
	expect_special(st, "sp", "include/sock", VV_SOCK, 0755, -1);
	struct vv_tree_ent e;
	assert_int_equal(vt_lookup(st, &env->cfg.root, "include/gone", &e), 0);
	assert_int_equal(vv_envset_close(set), 0);
	assert_int_equal(fsck_env(st, "sp"), 0);

	set = open_set(st);
	env = vv_envset_find(set, "sp", 2);
	assert_non_null(env);
	p = walk(env, "include/fifo");
	assert_int_equal(p->kind, VV_FIFO);
	vv_node_stat(p, &sb);
	assert_int_equal(sb.st_mode, S_IFIFO | 0600);
	assert_true(p->mtime_ns == 5000000000LL);
	vv_node_stat(walk(env, "include/sock"), &sb);
	assert_int_equal(sb.st_mode, S_IFSOCK | 0755);
	/* a clean directory lists them from its tree */
	seen.n = 0;
	assert_int_equal(vv_node_readdir(walk(env, "include"), 0, see_kind, &seen), 0);
	found = 0;
	for (int i = 0; i < seen.n; i++)
		found |= (!strcmp(seen.names[i], "fifo") && seen.kind[i] == VV_FIFO) ? 1 :
			 (!strcmp(seen.names[i], "sock") && seen.kind[i] == VV_SOCK) ? 2 : 0;
	assert_int_equal(found, 3);
	assert_int_equal(vv_node_unlink(walk(env, "include"), "sock"), 0);
	assert_int_equal(vv_env_commit(env), 0);
	assert_int_equal(vt_lookup(st, &env->cfg.root, "include/sock", &e), 0);
	assert_int_equal(vv_envset_close(set), 0);
}

/* A writer makes a FIFO and a socket, changes them and dies without committing. */
static void special_child(struct vv_store *st)
{
	struct vv_envset *set = open_set(st);
	struct vv_env *env;
	struct vv_node *inc, *d, *p, *k;
	if (vv_envset_create(set, "spc", &env) < 0 || vv_env_load_root(env) < 0 ||
	    vv_env_walk(env, "include", &inc) < 0 || vv_node_mkdir(inc, "run", 0700, &d) < 0 ||
	    vv_node_mknod(d, "ctl", VV_FIFO, 0620, &p) < 0 ||
	    vv_node_mknod(d, "s0", VV_SOCK, 0777, &k) < 0)
		_exit(2);
	if (vv_node_setattr(p, 0600, -1, 7000000000LL) < 0 ||
	    vv_node_rename(d, "s0", inc, "server.sock", 0) < 0)
		_exit(3);
	_exit(0); /* no commit */
}

static void test_mknod_replay_after_crash(void **state)
{
	struct vv_store *st = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		special_child(st);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	struct vv_envset *set = open_set(st);
	struct vv_env *env = vv_envset_find(set, "spc", 3);
	assert_non_null(env);
	struct vv_node *p = walk(env, "include/run/ctl"), *k = walk(env, "include/server.sock");
	assert_int_equal(p->kind, VV_FIFO);
	assert_int_equal(p->mode, 0600);
	assert_true(p->mtime_ns == 7000000000LL);
	assert_int_equal(k->kind, VV_SOCK);
	assert_int_equal(k->mode, 0777);
	struct vv_node *none;
	assert_int_equal(vv_env_walk(env, "include/run/s0", &none), -ENOENT);
	assert_true(vv_env_has_changes(env));
	assert_int_equal(vv_env_commit(env), 0);
	expect_special(st, "spc", "include/run/ctl", VV_FIFO, 0600, 7000000000LL);
	expect_special(st, "spc", "include/server.sock", VV_SOCK, 0777, -1);
	assert_int_equal(vv_envset_close(set), 0);
	assert_int_equal(fsck_env(st, "spc"), 0);
}

static int teardown(void **state)
{
	vt_store_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_changes_commit_and_reopen),
		cmocka_unit_test(test_times_out_of_trees),
		cmocka_unit_test(test_copy_up_isolation),
		cmocka_unit_test(test_journal_replay_after_crash),
		cmocka_unit_test(test_mknod_special),
		cmocka_unit_test(test_mknod_replay_after_crash),
		cmocka_unit_test(test_env_rename_remove),
		cmocka_unit_test(test_failed_write_not_published),
		cmocka_unit_test(test_locked_env),
		cmocka_unit_test(test_readonly_set),
		cmocka_unit_test(test_env_owner),
		cmocka_unit_test(test_forget_out_of_order),
		cmocka_unit_test(test_publish_out_of_order),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_stage_lifecycle),
		cmocka_unit_test(test_stage_open_across_commit),
		cmocka_unit_test(test_unlink_drops_stage),
		cmocka_unit_test(test_replay_stage_gone),
		cmocka_unit_test(test_replayed_stage_writable),
		cmocka_unit_test(test_failed_stage_keeps_lock),
		cmocka_unit_test(test_failed_script_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
