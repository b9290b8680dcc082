/*
 * ops.c - the FUSE low-level request handlers of names, attributes and directories, and
 * the table of all handlers (file content is file.c).
 *
 * Every handler has the same shape: take the lock, resolve the inode, call the env
 * model (core/mtree.h), reply. Errors from the model are negative errno values and go
 * to the kernel unchanged. Only I/O on file contents (read, write, hashing a finished
 * file) runs without the lock, on reference-counted fds.
 *
 * The mount root (FUSE_ROOT_ID) lists the envs: mkdir/rmdir/rename there create,
 * remove and rename environments.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/error.h"
#include "store/store.h"

static void reply_entry(fuse_req_t req, struct vv_node *n)
{
	struct fuse_entry_param e;
	vv_fs_entry(n, &e);
	fuse_reply_entry(req, &e);
}

/* The mount root's own file `name` (not an env), or NULL. */
static struct vv_node *root_file(struct vv_fs *fs, const char *name)
{
	struct vv_node *dir, *n;
	if (vv_envset_files(fs->set, false, &dir) < 0 || vv_node_lookup(dir, name, &n) < 0)
		return NULL;
	return n;
}

/* Where a new file `name` of the mount root goes: the root's own files (made if need
 * be). -EEXIST for an env's name; -EACCES for another user than the mount's (the
 * files are the mount's user's, and show that owner). */
int vv_fs_root_files_dir(struct vv_fs *fs, fuse_req_t req, const char *name, struct vv_node **dir)
{
	uid_t uid = fuse_req_ctx(req)->uid;
	if (vv_envset_find(fs->set, name, strlen(name)))
		return -EEXIST;
	if (uid != getuid() && uid != 0)
		return -EACCES;
	int r = vv_envset_files(fs->set, true, dir);
	if (r < 0 && r != -EROFS)
		fprintf(stderr, "venvfs: '%s': %s\n", name, vv_errmsg());
	return r;
}

/* ---- lifecycle ----------------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct vv_fs *fs = userdata;
	/* bin/python* are symlinks: let the kernel cache their targets */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* directories are listed by (inode, offset) from the model: no OPENDIR and
	 * RELEASEDIR round trips, and the kernel caches listings (op_opendir) */
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = true;
	}
	/* a writeback cache costs a GETATTR per open and we do not need it */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* splice buys nothing for small files */
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static void op_destroy(void *userdata)
{
	(void)userdata;
}

/* ---- names --------------------------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = NULL, *dir;
	int r;
	if (strlen(name) > NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	vv_fs_lock(fs);
	if (parent == FUSE_ROOT_ID) {
		struct vv_env *env = vv_envset_find(fs->set, name, strlen(name));
		r = env ? vv_env_load_root(env) : -ENOENT;
		if (r == 0) {
			vv_fs_unborn_visit_env(req, env);
			n = env->root;
		} else if (r == -ENOENT && (n = root_file(fs, name))) {
			r = 0;
		}
	} else {
		vv_fs_unborn_visit(req, parent, true);
		if ((r = vv_fs_dir_node(parent, &dir)) == 0)
			r = vv_node_lookup(dir, name, &n);
	}
	if (r == 0) {
		reply_entry(req, n);
	} else if (r == -ENOENT) {
		/* cache the miss: importers probe many names that never exist; not in an
		 * unborn env (its birth may bring any name) */
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		struct vv_node *d = vv_fs_node(parent);
		e.entry_timeout = d && d->env->cfg.state == VV_ENV_UNBORN ? 0 : VV_TIMEOUT;
		fuse_reply_entry(req, &e);
	} else {
		fuse_reply_err(req, -r);
	}
	vv_fs_unlock(fs);
}

static void forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct vv_node *n = vv_fs_node(ino);
	if (!n)
		return;
	if (n->env->root == n) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		return;
	}
	vv_node_forget(n, nlookup);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct vv_fs *fs = vv_fs_of(req);
	vv_fs_lock(fs);
	forget_one(ino, nlookup);
	vv_fs_unlock(fs);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct vv_fs *fs = vv_fs_of(req);
	vv_fs_lock(fs);
	for (size_t i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	vv_fs_unlock(fs);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct vv_fs *fs = vv_fs_of(req);
	struct stat st;
	vv_fs_lock(fs);
	if (ino == FUSE_ROOT_ID) {
		vv_fs_root_stat(fs, &st);
	} else {
		vv_fs_unborn_visit(req, ino, false);
		struct vv_node *n = vv_fs_node(ino);
		vv_node_stat(n, &st);
		st.st_ino = ino;
	}
	vv_fs_unlock(fs);
	fuse_reply_attr(req, &st, VV_TIMEOUT);
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = vv_fs_node(ino);
	int r = 0;
	if (!n) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	vv_fs_lock(fs);
	vv_fs_unborn_visit(req, ino, false);
	vv_fs_batch_visit(req, ino);
	/* a locked env refuses even a no-op chown, like a read-only filesystem */
	if (vv_env_readonly(n->env))
		r = -EROFS;
	/* Who may chown or chmod was checked by the kernel (default_permissions) against
	 * the owner we report. An env's owner and its root directory's mode are the
	 * env's (envs/NAME); inside an env only a no-op chown succeeds, since every file
	 * shows the env's owner. */
	bool envroot = n->env->root == n, owner_changed = false;
	if (r == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		struct stat cur;
		vv_node_stat(n, &cur);
		bool chg = ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != cur.st_uid) ||
			   ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != cur.st_gid);
		if (chg && !envroot) {
			r = -EPERM;
		} else if (chg) {
			r = vv_env_set_owner(n->env,
					     (to_set & FUSE_SET_ATTR_UID) ? (long)attr->st_uid : -1,
					     (to_set & FUSE_SET_ATTR_GID) ? (long)attr->st_gid : -1,
					     -1);
			owner_changed = r == 0;
		}
	}
	if (r == 0 && envroot && (to_set & FUSE_SET_ATTR_MODE)) {
		r = vv_env_set_owner(n->env, -1, -1, (int)(attr->st_mode & 07777));
		to_set &= ~FUSE_SET_ATTR_MODE;
	}
	if (r < 0 && r != -EROFS && r != -EPERM && envroot)
		fprintf(stderr, "venvfs: env '%s': %s\n", n->env->name, vv_errmsg());
	if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE)) {
		r = vv_node_truncate(n, (uint64_t)attr->st_size);
		if (r == 0 && n->writers == 0)
			r = vv_fs_publish(fs, n);
	}
	if (r == 0 && (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				 FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW))) {
		int64_t now = vv_now_ns();
		int mode = (to_set & FUSE_SET_ATTR_MODE) ? (int)(attr->st_mode & 07777) : -1;
		int64_t at = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now
			     : (to_set & FUSE_SET_ATTR_ATIME) ? ts_ns(&attr->st_atim) : -1;
		int64_t mt = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now
			     : (to_set & FUSE_SET_ATTR_MTIME) ? ts_ns(&attr->st_mtim) : -1;
		r = vv_node_setattr(n, mode, at, mt);
	}
	(void)fi;
	/* every inode of the env shows the new owner: the kernel must forget the old */
	if (owner_changed)
		vv_fs_inval_env_attrs(fs, n->env);
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		struct stat st;
		vv_node_stat(n, &st);
		st.st_ino = ino;
		fuse_reply_attr(req, &st, VV_TIMEOUT);
	}
	vv_fs_unlock(fs);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = vv_fs_node(ino);
	char *t = NULL;
	vv_fs_lock(fs);
	vv_fs_unborn_visit(req, ino, false);
	int r = n ? vv_node_readlink(n, &t) : -EINVAL;
	vv_fs_unlock(fs);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, t);
	free(t);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir, *n = NULL;
	int r;
	if (fs->ro) {
		fuse_reply_err(req, EROFS);
		return;
	}
	vv_fs_lock(fs);
	if (parent == FUSE_ROOT_ID) {
		/* the env belongs to whoever makes it, with the mode mkdir(2) asked for */
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		struct vv_env *env;
		r = root_file(fs, name) ? -EEXIST :
		    vv_envset_create_as(fs->set, name, ctx->uid, ctx->gid,
					(int)(mode & ~ctx->umask & 07777), false, &env);
		if (r < 0 && r != -EEXIST)
			fprintf(stderr, "venvfs: mkdir '%s': %s\n", name, vv_errmsg());
		if (r == 0 && (r = vv_env_load_root(env)) == 0) {
			vv_fs_unborn_made(env, req);
			n = env->root;
		}
	} else if (vv_fs_unborn_visit(req, parent, true), vv_fs_batch_visit(req, parent),
		   (r = vv_fs_dir_node(parent, &dir)) == 0) {
		r = vv_node_mkdir(dir, name, (uint16_t)(mode & ~fuse_req_ctx(req)->umask), &n);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, n);
	vv_fs_unlock(fs);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir, *n = NULL;
	int r = fs->ro ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r == 0 && parent == FUSE_ROOT_ID)
		r = vv_fs_root_files_dir(fs, req, name, &dir);
	else if (r == 0 && (vv_fs_unborn_visit(req, parent, true), vv_fs_batch_visit(req, parent),
			    (r = vv_fs_dir_node(parent, &dir)) == 0))
		r = 0;
	if (r == 0)
		r = vv_node_symlink(dir, name, link, &n);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, n);
	vv_fs_unlock(fs);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir;
	int r = fs->ro ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r == 0 && parent == FUSE_ROOT_ID)
		r = root_file(fs, name) ? vv_envset_files(fs->set, false, &dir) :
		    vv_envset_find(fs->set, name, strlen(name)) ? -EISDIR : -ENOENT;
	else if (r == 0)
		vv_fs_unborn_visit(req, parent, true), vv_fs_batch_visit(req, parent),
			r = vv_fs_dir_node(parent, &dir);
	if (r == 0)
		r = vv_node_unlink(dir, name);
	vv_fs_unlock(fs);
	fuse_reply_err(req, -r);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir;
	int r = fs->ro ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r == 0 && parent == FUSE_ROOT_ID)
		r = root_file(fs, name) ? -ENOTDIR : vv_envset_remove(fs->set, name);
	else if (r == 0 && (vv_fs_unborn_visit(req, parent, true), vv_fs_batch_visit(req, parent),
			    (r = vv_fs_dir_node(parent, &dir)) == 0))
		r = vv_node_rmdir(dir, name);
	vv_fs_unlock(fs);
	fuse_reply_err(req, -r);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir, *newdir;
	int r = fs->ro ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r < 0) {
	} else if (parent == FUSE_ROOT_ID && newparent == FUSE_ROOT_ID && root_file(fs, name)) {
		/* one of the root's own files */
		r = vv_envset_find(fs->set, newname, strlen(newname)) ? -EISDIR
		    : vv_envset_files(fs->set, false, &dir);
		if (r == 0)
			r = vv_node_rename(dir, name, dir, newname, flags);
	} else if (parent == FUSE_ROOT_ID && newparent == FUSE_ROOT_ID) {
		if (flags & RENAME_EXCHANGE) {
			r = -EINVAL;
		} else if (root_file(fs, newname)) {
			r = vv_envset_find(fs->set, name, strlen(name)) ? -ENOTDIR : -ENOENT;
		} else {
			r = vv_envset_rename(fs->set, name, newname, flags & RENAME_NOREPLACE);
			struct vv_env *env = vv_envset_find(fs->set, newname, strlen(newname));
			/* the env's scripts now start with another path: a script run right
			 * after mv must not see the kernel's cached old first line */
			if (r == 0 && env)
				vv_fs_inval_env_now(fs, env);
			else if (r < 0 && r != -EEXIST && r != -ENOTEMPTY)
				fprintf(stderr, "venvfs: rename '%s': %s\n", name, vv_errmsg());
		}
	} else if (parent == FUSE_ROOT_ID || newparent == FUSE_ROOT_ID) {
		r = -EXDEV;
	} else if (vv_fs_unborn_visit(req, parent, true), vv_fs_unborn_visit(req, newparent, true),
		   vv_fs_batch_visit(req, parent),
		   (r = vv_fs_dir_node(parent, &dir)) == 0 && (r = vv_fs_dir_node(newparent, &newdir)) == 0) {
		r = vv_node_rename(dir, name, newdir, newname, flags);
		struct vv_node *t;
		/* Saved over a synthesized file: the kernel now maps the name to the
		 * source's inode, but the synthesized file stays; drop that dentry and the
		 * generated content it may have cached. */
		if (r == 0 && vv_node_lookup(newdir, newname, &t) == 0 && t->kind == VV_SYN_FILE) {
			vv_fs_inval_entry(fs, newparent, newname);
			vv_fs_inval_env(fs, t->env);
		}
	}
	vv_fs_unlock(fs);
	fuse_reply_err(req, -r);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)newname;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = vv_fs_node(ino), *dir = vv_fs_node(newparent);
	vv_fs_lock(fs);
	/* hard links are not supported; in a read-only env the first answer is EROFS */
	int err = fs->ro || (n && vv_env_readonly(n->env)) || (dir && vv_env_readonly(dir->env))
		? EROFS : EPERM;
	vv_fs_unlock(fs);
	fuse_reply_err(req, err);
}

/* Extended attributes are not kept; setting or removing one is refused as on a
 * filesystem without them, or with EROFS where the env is read-only. */
static void xattr_refuse(fuse_req_t req, fuse_ino_t ino)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = vv_fs_node(ino);
	vv_fs_lock(fs);
	int err = fs->ro || (n && vv_env_readonly(n->env)) ? EROFS : ENOTSUP;
	vv_fs_unlock(fs);
	fuse_reply_err(req, err);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	(void)name, (void)value, (void)size, (void)flags;
	xattr_refuse(req, ino);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)name;
	xattr_refuse(req, ino);
}

/* mknod(2), mkfifo(3) and the bind(2) of a UNIX socket, which the kernel sends as a
 * MKNOD of S_IFSOCK. Regular files, FIFOs and sockets are made in an env; what goes
 * through a FIFO or socket never reaches the daemon (the kernel serves their opens with
 * its own pipe and socket code). Character and block devices are refused with EPERM,
 * and so are whiteouts (S_IFCHR 0/0, which overlayfs makes): an env is no place for
 * device nodes, and a tree has no kind for them. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)rdev;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir, *n = NULL;
	bool ok = S_ISREG(mode) || S_ISFIFO(mode) || S_ISSOCK(mode);
	int r = !ok ? -EPERM : fs->ro ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r == 0 && parent == FUSE_ROOT_ID)
		r = vv_fs_root_files_dir(fs, req, name, &dir);
	else if (r == 0)
		vv_fs_unborn_visit(req, parent, true), vv_fs_batch_visit(req, parent),
			r = vv_fs_dir_node(parent, &dir);
	if (r == 0) {
		mode_t m = mode & ~fuse_req_ctx(req)->umask & 07777;
		if (!S_ISREG(mode)) {
			r = vv_node_mknod(dir, name, S_ISFIFO(mode) ? VV_FIFO : VV_SOCK,
					  (uint16_t)m, &n);
		} else if ((r = vv_node_create(dir, name, (uint16_t)m, VV_CREATE_EXCL,
						  &n)) == 0) {
			vv_node_close_write(n);
			r = vv_fs_publish(fs, n);
		}
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_entry(req, n);
	vv_fs_unlock(fs);
}

/* ---- directories --------------------------------------------------------------- */

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, len;
	bool plus;
	int err;
	uint64_t base;       /* offset of the listing's first entry after "." and ".." */
};

static int add_entry(struct dirbuf *d, const char *name, struct vv_node *n, uint8_t kind,
		     uint64_t next_off)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	size_t need;
	if (d->plus) {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		need = fuse_add_direntry_plus(d->req, NULL, 0, name, NULL, 0);
		if (d->len + need > d->size)
			return 1;
		vv_fs_entry(n, &e);
		fuse_add_direntry_plus(d->req, d->buf + d->len, d->size - d->len, name, &e,
				       (off_t)next_off);
	} else {
		st.st_ino = vv_fs_ino(n);
		st.st_mode = vv_node_type(kind); /* the entry's d_type */
		need = fuse_add_direntry(d->req, NULL, 0, name, NULL, 0);
		if (d->len + need > d->size)
			return 1;
		fuse_add_direntry(d->req, d->buf + d->len, d->size - d->len, name, &st,
				  (off_t)next_off);
	}
	d->len += need;
	return 0;
}

static int dir_cb(void *ctx, const char *name, uint8_t kind, struct vv_node *n, uint64_t next)
{
	/* internal offsets start after "." and ".." */
	struct dirbuf *d = ctx;
	return add_entry(d, name, n, kind, next + 2 + d->base);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct dirbuf d = { .req = req, .size = size, .plus = plus };
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	int r = 0;
	vv_fs_lock(fs);
	struct vv_node *dir = NULL;
	if (ino != FUSE_ROOT_ID && off == 0)
		vv_fs_unborn_visit(req, ino, true);
	if (ino != FUSE_ROOT_ID)
		r = vv_fs_dir_node(ino, &dir);
	/* "." and ".." carry no lookup count, even in readdirplus */
	for (off_t o = off; r == 0 && o < 2; o++) {
		struct stat st = { .st_ino = ino, .st_mode = S_IFDIR };
		const char *nm = o == 0 ? "." : "..";
		size_t need = plus ? fuse_add_direntry_plus(req, NULL, 0, nm, NULL, 0)
				   : fuse_add_direntry(req, NULL, 0, nm, NULL, 0);
		if (d.len + need > d.size)
			goto done;
		if (plus) {
			struct fuse_entry_param e;
			memset(&e, 0, sizeof(e));
			e.attr = st;
			fuse_add_direntry_plus(req, d.buf + d.len, d.size - d.len, nm, &e, o + 1);
		} else {
			fuse_add_direntry(req, d.buf + d.len, d.size - d.len, nm, &st, o + 1);
		}
		d.len += need;
	}
	uint64_t from = off > 2 ? (uint64_t)off - 2 : 0;
	if (r == 0 && ino == FUSE_ROOT_ID) {
		/* the envs, then the root's own files */
		struct vv_envset *set = fs->set;
		uint64_t i;
		for (i = from; i < set->nenvs; i++) {
			struct vv_env *env = set->envs[i];
			if (env == set->files)
				continue;
			if ((r = vv_env_load_root(env)) < 0)
				break;
			if (add_entry(&d, env->name, env->root, VV_DIR, i + 1 + 2))
				break;
		}
		if (r == 0 && i >= set->nenvs && vv_envset_files(set, false, &dir) == 0) {
			d.base = set->nenvs;
			r = vv_node_readdir(dir, from > d.base ? from - d.base : 0, dir_cb, &d);
		}
	} else if (r == 0) {
		/* Nodes even for plain READDIR: an entry needs its real inode number (glibc
		 * drops d_ino 0 entries, and tools compare d_ino with st_ino). */
		r = vv_node_readdir(dir, from, dir_cb, &d);
	}
done:
	vv_fs_unlock(fs);
	if (r < 0 && d.len == 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, d.buf, d.len);
	free(d.buf);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	/* With FUSE_CAP_NO_OPENDIR_SUPPORT, ENOSYS makes the kernel stop asking and keep
	 * listings cached (changes invalidate them); older kernels get cached listings
	 * from this reply. */
	if (vv_fs_of(req)->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* An explicit commit (fsync of a directory) includes every closed file: stages the
 * publisher has not stored yet are stored first. */
static int commit_now(struct vv_fs *fs, struct vv_env *env)
{
	struct vv_node *n;
	while ((n = vv_env_unpublished(env)) && vv_fs_publish(fs, n) == 0)
		;
	return vv_env_commit(env);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	struct vv_fs *fs = vv_fs_of(req);
	int r = 0;
	vv_fs_lock(fs);
	if (ino == FUSE_ROOT_ID) {
		for (size_t i = 0; i < fs->set->nenvs && r == 0; i++)
			r = commit_now(fs, fs->set->envs[i]);
	} else {
		r = commit_now(fs, vv_fs_node(ino)->env);
	}
	if (r < 0)
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
	vv_fs_unlock(fs);
	fuse_reply_err(req, -r);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct vv_fs *fs = vv_fs_of(req);
	struct statvfs sv;
	if (fstatvfs(fs->st->dirfd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* A file of env open for writing, or NULL. */
static struct vv_node *open_writer(struct vv_env *env)
{
	for (struct vv_node *n = env->staged; n; n = n->st_next)
		if (n->writers)
			return n;
	return NULL;
}

/* VV_IOC_COMMIT: a tool is about to change env c->name. Commit it and let go of its
 * writer lock; 1 and c->msg when a file of it is open for writing. */
static int ioctl_commit(struct vv_fs *fs, struct vv_ioc_commit *c)
{
	c->name[sizeof(c->name) - 1] = 0;
	c->msg[0] = 0;
	vv_fs_lock(fs);
	struct vv_env *env = vv_envset_find(fs->set, c->name, strlen(c->name));
	int r = 0;
	if (env && env->root && !fs->ro) {
		if ((r = commit_now(fs, env)) < 0) {
			snprintf(c->msg, sizeof(c->msg), "%s", vv_errmsg());
			fprintf(stderr, "venvfs: %s\n", c->msg);
			r = 1;
		} else if (!vv_env_release_idle(env)) {
			struct vv_node *n = open_writer(env);
			char *rel = n ? vv_node_relpath(n) : NULL;
			int tgid = 0, ppid;
			char comm[64] = "?";
			if (n && vv_fs_proc_ids(n->wpid, &tgid, &ppid) == 0)
				vv_fs_proc_comm(tgid, comm, sizeof(comm));
			if (rel && tgid)
				snprintf(c->msg, sizeof(c->msg), "'%s' is open for writing by process "
					 "%d (%s)", rel, tgid, comm);
			else if (rel)
				snprintf(c->msg, sizeof(c->msg), "'%s' is open for writing", rel);
			else
				snprintf(c->msg, sizeof(c->msg), "a file of it is being stored");
			free(rel);
			r = 1;
		}
	}
	vv_fs_unlock(fs);
	return r;
}

static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	(void)ino, (void)arg, (void)fi, (void)flags;
	if (cmd == VV_IOC_COMMIT) {
		struct vv_ioc_commit c;
		if (in_bufsz < sizeof(c) || out_bufsz < sizeof(c)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		memcpy(&c, in_buf, sizeof(c));
		int r = ioctl_commit(vv_fs_of(req), &c);
		fuse_reply_ioctl(req, r, &c, sizeof(c));
		return;
	}
	if (cmd == VV_IOC_SYNC) {
		/* a tool changed envs/ (rollback, add): reply once the mount shows it */
		vv_fs_watch_sync(vv_fs_of(req));
		fuse_reply_ioctl(req, 0, NULL, 0);
		return;
	}
	/* Python <= 3.13 asks isatty() on every open file: answer at once */
	fuse_reply_err(req, ENOTTY);
}

const struct fuse_lowlevel_ops vv_fs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.open = vv_fs_open,
	.create = vv_fs_create,
	.read = vv_fs_read,
	.write = vv_fs_write,
	.flush = vv_fs_flush,
	.release = vv_fs_release,
	.fsync = vv_fs_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.fallocate = vv_fs_fallocate,
	.statfs = op_statfs,
	.ioctl = op_ioctl,
};
