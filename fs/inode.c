/*
 * inode.c - inode numbers, entry replies and kernel cache invalidation: what changed is
 * queued here, and the worker thread (threads.c) sends it, because
 * fuse_lowlevel_notify_inval_inode may deadlock when called from a handler working on a
 * related inode (vv_fs_inval_env_now sends its own without the lock instead).
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "util/error.h"
#include "util/vec.h"


_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t), "fuse_ino_t must hold a pointer");

struct vv_node *vv_fs_node(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? NULL : (struct vv_node *)(uintptr_t)ino;
}

fuse_ino_t vv_fs_ino(struct vv_node *n)
{
	return (fuse_ino_t)(uintptr_t)n;
}

void vv_fs_entry(struct vv_node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = vv_fs_ino(n);
	vv_node_stat(n, &e->attr);
	e->attr.st_ino = e->ino;
	e->attr_timeout = VV_TIMEOUT;
	e->entry_timeout = VV_TIMEOUT;
	n->nlookup++;
}

void vv_fs_root_stat(struct vv_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	/* with allow_other every user may make an env here, and the sticky bit lets only
	 * an env's owner (and the daemon's user, and root) remove or rename it: the
	 * kernel checks that against the owners we report (default_permissions) */
	st->st_mode = S_IFDIR | (fs->allow_other ? 01777 : 0755);
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = fs->set->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = fs->set->mtime_ns % 1000000000;
	st->st_ctim = st->st_atim = st->st_mtim;
}

static struct vv_inval *queue_slot(struct vv_fs *fs)
{
	if (VV_GROW(fs->inval, fs->ninval, fs->capinval, 64) < 0)
		return NULL; /* the kernel keeps a stale view until its timeout */
	struct vv_inval *q = &fs->inval[fs->ninval++];
	memset(q, 0, sizeof(*q));
	return q;
}

static void queue(struct vv_fs *fs, struct vv_node *n)
{
	if (!n || n->nlookup == 0)
		return;
	struct vv_inval *q = queue_slot(fs);
	if (q)
		q->ino = vv_fs_ino(n);
}

void vv_fs_inval_entry(struct vv_fs *fs, fuse_ino_t parent, const char *name)
{
	struct vv_inval *q = queue_slot(fs);
	if (q && (q->name = strdup(name)))
		q->ino = parent;
	else if (q)
		fs->ninval--;
	pthread_cond_signal(&fs->cv);
}

static void queue_scripts(struct vv_fs *fs, struct vv_node *d)
{
	for (size_t i = 0; i < d->nkids; i++) {
		struct vv_node *k = d->kids[i];
		if (k->kind == VV_SCRIPT || k->kind == VV_PYC || k->kind == VV_RECORD)
			/* they show the env's path */
			queue(fs, k);
		else if (k->kind == VV_DIR)
			queue_scripts(fs, k);
	}
}

static void queue_env(struct vv_fs *fs, struct vv_env *env)
{
	for (size_t s = 0; s < env->nsyn; s++)
		queue(fs, env->syn[s]);
	if (env->root) {
		/* the listings that show synthesized entries may have changed too */
		struct vv_node *bin;
		queue(fs, env->root);
		if (vv_node_lookup(env->root, "bin", &bin) == 0)
			queue(fs, bin);
		queue_scripts(fs, env->root);
	}
}

static void queue_all(struct vv_fs *fs, struct vv_node *d)
{
	queue(fs, d);
	for (size_t i = 0; i < d->nkids; i++)
		queue_all(fs, d->kids[i]);
}

/* Every inode of env the kernel knows: their attributes (write bits) changed. */
static void queue_env_all(struct vv_fs *fs, struct vv_env *env)
{
	for (size_t s = 0; s < env->nsyn; s++)
		queue(fs, env->syn[s]);
	if (env->root)
		queue_all(fs, env->root);
}

void vv_fs_inval_env_attrs(struct vv_fs *fs, struct vv_env *env)
{
	queue_env_all(fs, env);
	pthread_cond_signal(&fs->cv);
}

void vv_fs_inval_env(struct vv_fs *fs, struct vv_env *env)
{
	queue_env(fs, env);
	pthread_cond_signal(&fs->cv);
}

void vv_fs_inval_env_now(struct vv_fs *fs, struct vv_env *env)
{
	/* take our items out of the worker's queue and send them ourselves, without the
	 * lock (a notification can wait for a READ that needs it) */
	size_t start = fs->ninval;
	queue_env(fs, env);
	size_t n = fs->ninval - start;
	struct vv_inval *mine = n ? malloc(n * sizeof(*mine)) : NULL;
	if (!mine) {
		pthread_cond_signal(&fs->cv); /* fall back to the worker */
		return;
	}
	memcpy(mine, fs->inval + start, n * sizeof(*mine));
	fs->ninval = start;
	pthread_mutex_unlock(&fs->lk);
	for (size_t i = 0; i < n; i++) {
		int r = fuse_lowlevel_notify_inval_inode(fs->se, mine[i].ino, 0, 0);
		if (r < 0 && r != -ENOENT)
			fprintf(stderr, "venvfs: cache invalidation: %s\n", strerror(-r));
	}
	free(mine);
	pthread_mutex_lock(&fs->lk);
}

/* Resolve a directory inode to a node, loading an env root if needed. */
int vv_fs_dir_node(fuse_ino_t ino, struct vv_node **out)
{
	struct vv_node *n = vv_fs_node(ino);
	if (!n)
		return -EINVAL;
	if (n->unlinked && !n->parent && !(n->env->root == n && !n->env->removed))
		return -ENOENT;
	if (n->kind != VV_DIR)
		return -ENOTDIR;
	*out = n;
	return 0;
}

void vv_fs_model_inval(void *ctx, struct vv_node *dir, const char *name)
{
	struct vv_fs *fs = ctx;
	if (!dir) {
		/* an env reloaded: its name and the listing of the mount root */
		struct vv_inval *q = queue_slot(fs);
		if (q)
			q->ino = FUSE_ROOT_ID;
	}
	vv_fs_inval_entry(fs, dir ? vv_fs_ino(dir) : FUSE_ROOT_ID, name);
}
