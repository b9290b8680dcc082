/*
 * ns.c - namespace changes in an env: create, mkdir, mknod (FIFOs and sockets), symlink,
 * unlink, rmdir, chmod and utimens, and rm -r through the model. Each takes the env's
 * writer lock first (vv_live_env_writable), materializes the directory it changes and
 * journals the change.
 * Synthesized entries are the env's: unlinking one hides it, making the name again
 * brings it back. Rename, which may also be an edit of pyvenv.cfg, is in rename.c.
 */
#include "live/live.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store/odb.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

int vv_node_create(struct vv_node *dir, const char *name, uint16_t mode, unsigned how,
		   struct vv_node **out)
{
	struct vv_node *old;
	int wr = vv_live_env_writable(dir->env);
	if (wr < 0)
		return wr;
	/* re-creating an unlinked pyvenv.cfg or activator: the env's own file comes back
	 * and what is written becomes an edit of it (see vv_node_flush) */
	struct vv_node *syn = vv_live_is_dir(dir) ?
			      vv_live_syn_lookup(dir, name, strlen(name), true) : NULL;
	if (syn && syn->kind == VV_SYN_FILE) {
		int r = vv_node_open_write(syn, true);
		if (r == 0)
			*out = syn;
		return r;
	}
	if (!(how & VV_CREATE_EXCL) && vv_node_lookup(dir, name, &old) == 0) {
		if (vv_live_is_dir(old))
			return -EISDIR;
		int r = vv_node_open_write(old, how & VV_CREATE_TRUNC);
		if (r < 0)
			return r;
		*out = old;
		return 0;
	}
	int r = vv_live_check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = vv_live_node_new(dir->env, name, strlen(name), VV_REG);
	if (!n)
		return -ENOMEM;
	n->mode = mode & 07777;
	n->oid = dir->env->set->empty_oid;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	struct vv_fdref *s;
	if ((r = vv_live_new_stage(dir->env, true, &s)) < 0) {
		vv_live_node_free(n);
		return r;
	}
	if ((r = vv_live_add_new(dir, n)) < 0) {
		vv_odb_stage_remove(&dir->env->set->st->odb, s->stage);
		vv_fdref_put(s);
		vv_live_node_free(n);
		return r;
	}
	vv_live_stage_set(n, s);
	n->writers = 1;
	dir->env->active++;
	if (vv_live_is_env_bin(dir))
		n->stage_envpath = vv_env_path(dir->env);
	vv_live_record_stage(n); /* makes the file, empty, in a replay */
	*out = n;
	return 0;
}

int vv_node_mkdir(struct vv_node *dir, const char *name, uint16_t mode, struct vv_node **out)
{
	int r = vv_live_env_writable(dir->env);
	if (r < 0)
		return r;
	r = vv_live_check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = vv_live_node_new(dir->env, name, strlen(name), VV_DIR);
	if (!n)
		return -ENOMEM;
	n->mode = mode & 07777;
	n->mat = true;
	n->dirty = true;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	if ((r = vv_live_add_new(dir, n)) < 0) {
		vv_live_node_free(n);
		return r;
	}
	vv_live_record_mkdir(n);
	*out = n;
	return 0;
}

int vv_node_mknod(struct vv_node *dir, const char *name, uint8_t kind, uint16_t mode,
		  struct vv_node **out)
{
	int r = vv_live_env_writable(dir->env);
	if (r < 0)
		return r;
	if (!vv_kind_special(kind))
		return vv_err(-EINVAL, "mknod '%s': kind %u is not a fifo or socket", name, kind);
	r = vv_live_check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = vv_live_node_new(dir->env, name, strlen(name), kind);
	if (!n)
		return -ENOMEM;
	n->mode = mode & 07777;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	if ((r = vv_live_add_new(dir, n)) < 0) {
		vv_live_node_free(n);
		return r;
	}
	vv_live_record_mknod(n);
	*out = n;
	return 0;
}

int vv_node_symlink(struct vv_node *dir, const char *name, const char *target,
		    struct vv_node **out)
{
	size_t tl = strlen(target);
	int wr = vv_live_env_writable(dir->env);
	if (wr < 0)
		return wr;
	if (tl == 0 || tl >= PATH_MAX)
		return -EINVAL;
	/* bin/python* and lib64 are the env's: a tool that unlinks and makes them itself
	 * (virtualenv, venv --clear) gets the synthesized link back, which points where
	 * its own would */
	struct vv_node *syn = vv_live_is_dir(dir) ?
			      vv_live_syn_lookup(dir, name, strlen(name), true) : NULL;
	if (syn && syn->kind == VV_SYN_LINK) {
		*out = syn;
		return 0;
	}
	int r = vv_live_check_new_name(dir, name);
	if (r < 0)
		return r;
	struct vv_node *n = vv_live_node_new(dir->env, name, strlen(name), VV_LNK);
	if (!n)
		return -ENOMEM;
	n->mode = 0777;
	n->target = strdup(target);
	n->size = tl;
	n->mtime_ns = n->ctime_ns = n->atime_ns = vv_now_ns();
	if (!n->target || (r = vv_live_add_new(dir, n)) < 0) {
		vv_live_node_free(n);
		return n->target ? r : -ENOMEM;
	}
	vv_live_record_symlink(n);
	*out = n;
	return 0;
}

int vv_node_unlink(struct vv_node *dir, const char *name)
{
	struct vv_node *n;
	int r = vv_live_env_writable(dir->env);
	if (r < 0)
		return r;
	r = vv_node_lookup(dir, name, &n);
	if (r < 0)
		return r;
	if (vv_live_is_dir(n))
		return -EISDIR;
	/* Synthesized entries belong to the env, not to its tree: unlinking one hides it
	 * (so rm -rf, venv --clear and virtualenv see a normal unlink), and making the
	 * name again (create, symlink) brings back the env's own entry. Hidden entries
	 * come back at the next mount. */
	if (vv_live_is_synth(n)) {
		for (size_t s = 0; s < n->env->nsyn; s++)
			if (n->env->syn[s] == n)
				n->env->hidden |= 1u << s;
		return 0;
	}
	if ((r = vv_live_dir_touch(dir, true)) < 0)
		return r;
	vv_live_record_remove(n);
	vv_live_kid_remove(dir, n);
	n->ctime_ns = vv_now_ns();
	vv_live_node_drop(n);
	return 0;
}

int vv_node_rmdir(struct vv_node *dir, const char *name)
{
	struct vv_node *n;
	int r = vv_live_env_writable(dir->env);
	if (r < 0)
		return r;
	r = vv_node_lookup(dir, name, &n);
	if (r < 0)
		return r;
	if (!vv_live_is_dir(n))
		return -ENOTDIR;
	if (!vv_live_dir_empty(n))
		return -ENOTEMPTY;
	if ((r = vv_live_dir_touch(dir, true)) < 0)
		return r;
	vv_live_record_remove(n);
	vv_live_kid_remove(dir, n);
	vv_live_node_drop(n);
	return 0;
}

int vv_node_setattr(struct vv_node *n, int mode, int64_t atime_ns, int64_t mtime_ns)
{
	int wr = vv_live_env_writable(n->env);
	if (wr < 0)
		return wr;
	/* modes and times of synthesized entries are the env's: accept and keep them
	 * (venv copies the mode of its activation scripts onto them) */
	if (vv_live_is_synth(n))
		return 0;
	if (mode >= 0 && n->kind == VV_LNK)
		return -EOPNOTSUPP;
	if (n->parent) {
		int r = vv_live_dir_touch(n->parent, false);
		if (r < 0)
			return r;
	}
	if (mode >= 0)
		n->mode = (uint16_t)(mode & 07777);
	if (mtime_ns >= 0)
		n->mtime_ns = mtime_ns;
	if (atime_ns >= 0)
		n->atime_ns = atime_ns;
	n->ctime_ns = vv_now_ns();
	if (vv_live_is_dir(n))
		n->dirty = true;
	if (!vv_live_is_root(n))
		vv_live_record_attr(n);
	return 0;
}

/* rm -r of dir/name through the model (journaled like any removal). */
int vv_live_rm_r(struct vv_node *dir, const char *name)
{
	struct vv_node *n;
	int r = vv_node_lookup(dir, name, &n);
	if (r < 0)
		return r;
	if (vv_live_is_dir(n)) {
		if ((r = vv_live_dir_materialize(n)) < 0)
			return r;
		while (n->nkids && r == 0) {
			char *kn = strdup(n->kids[n->nkids - 1]->name);
			if (!kn)
				return -ENOMEM;
			r = vv_live_rm_r(n, kn);
			free(kn);
		}
		if (r == 0)
			r = vv_node_rmdir(dir, name);
	} else {
		r = vv_node_unlink(dir, name);
	}
	if (r == 0)
		vv_live_inval_entry(dir, name);
	return r;
}
