/*
 * rename.c - rename(2) in an env: plain pointer moves of nodes (a directory is never
 * copied), RENAME_NOREPLACE and RENAME_EXCHANGE, and saving by rename over pyvenv.cfg
 * or an activator, which is an edit of the env (pyvenv.c). In a file of its own
 * because of that edit: pyvenv.c removes files through ns.c, so rename sits above both.
 */
#include "live/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/tree.h"
#include "util/clock.h"

int vv_node_rename(struct vv_node *dir, const char *name, struct vv_node *newdir,
		   const char *newname, unsigned int flags)
{
	if (dir->env != newdir->env)
		return -EXDEV;
	int wr = vv_live_env_writable(dir->env);
	if (wr < 0)
		return wr;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	struct vv_node *src, *dst = NULL;
	int r = vv_node_lookup(dir, name, &src);
	if (r < 0)
		return r;
	if (vv_live_is_synth(src))
		return -EPERM;
	if ((r = vv_name_check(newname, strlen(newname))) < 0)
		return r;
	r = vv_node_lookup(newdir, newname, &dst);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == -ENOENT)
		dst = NULL;
	if (dst == src)
		return 0;
	if (dst && dst->kind == VV_SYN_FILE && vv_kind_file(src->kind) &&
	    !(flags & RENAME_EXCHANGE)) {
		/* saving by rename over pyvenv.cfg or an activator: apply the new content
		 * as an edit, then the source name goes away like after a rename */
		struct vv_readsrc rs;
		if ((r = vv_node_read_source(src, &rs)) < 0)
			return r;
		uint64_t size = src->stage ? src->ssize : src->size;
		r = rs.fd ? vv_live_synth_edit(dst, rs.fd->fd, size) : -EINVAL;
		vv_fdref_put(rs.fd);
		free((char *)rs.prefix);
		return r < 0 ? r : vv_node_unlink(dir, name);
	}
	if (dst && vv_live_is_synth(dst))
		return -EPERM;
	if ((flags & RENAME_NOREPLACE) && dst)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !dst)
		return -ENOENT;
	/* no moving a directory into itself */
	if (vv_live_is_dir(src))
		for (struct vv_node *p = newdir; p; p = p->parent)
			if (p == src)
				return -EINVAL;
	if (dst && (flags & RENAME_EXCHANGE) && vv_live_is_dir(dst))
		for (struct vv_node *p = dir; p; p = p->parent)
			if (p == dst)
				return -EINVAL;
	if (dst && !(flags & RENAME_EXCHANGE)) {
		if (vv_live_is_dir(dst) && !vv_live_is_dir(src))
			return -EISDIR;
		if (!vv_live_is_dir(dst) && vv_live_is_dir(src))
			return -ENOTDIR;
		if (vv_live_is_dir(dst) && !vv_live_dir_empty(dst))
			return -ENOTEMPTY;
	}
	if ((r = vv_live_dir_touch(dir, true)) < 0 ||
	    (r = vv_live_dir_touch(newdir, true)) < 0)
		return r;
	char *from = vv_node_relpath(src);
	char *nn = strdup(newname);
	if (!from || !nn) {
		free(from);
		free(nn);
		return -ENOMEM;
	}
	struct vv_node *replaced = NULL;
	if (flags & RENAME_EXCHANGE) {
		char *on = strdup(src->name);
		if (!on) {
			free(from);
			free(nn);
			return -ENOMEM;
		}
		vv_live_kid_remove(dir, src);
		vv_live_kid_remove(newdir, dst);
		free(dst->name);
		dst->name = on;
		free(src->name);
		src->name = nn;
		size_t idx;
		vv_live_kid_find(dir, dst->name, strlen(dst->name), &idx);
		vv_live_kid_insert(dir, idx, dst);
		vv_live_kid_find(newdir, src->name, strlen(src->name), &idx);
		vv_live_kid_insert(newdir, idx, src);
	} else {
		if (dst) {
			vv_live_kid_remove(newdir, dst);
			replaced = dst;
		}
		vv_live_kid_remove(dir, src);
		free(src->name);
		src->name = nn;
		size_t idx;
		vv_live_kid_find(newdir, nn, strlen(nn), &idx);
		/* the slot was freed above, so this cannot fail for lack of room */
		vv_live_kid_insert(newdir, idx, src);
	}
	src->ctime_ns = vv_now_ns();
	char *to = vv_node_relpath(src);
	if (to) {
		vv_live_record_rename(dir->env, from, to, flags);
		free(to);
	}
	free(from);
	/* after the record: dropping a replaced file's stage removes its name */
	if (replaced)
		vv_live_node_drop(replaced);
	return 0;
}
