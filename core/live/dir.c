/*
 * dir.c - directories: their listing from the shared tree while clean, materializing
 * them before the first change (vv_live_dir_touch), the synthesized entries of the env
 * root and bin/, lookup, readdir and walking a path. Also the checks and insertion of a
 * new entry that every namespace change shares.
 */
#include "live/live.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/damaged.h"
#include "util/clock.h"
#include "util/error.h"
#include "python/synth.h"

static bool syn_in_bin(int slot)
{
	return slot >= SYN_FILES ? vv_synth_in_bin((enum vv_synth_file)(slot - SYN_FILES))
				 : slot != SYN_LIB64;
}

/* Make sure a clean dir has its tree. */
static int dir_base(struct vv_node *dir)
{
	if (dir->mat || dir->base)
		return 0;
	int r = vv_tree_get(dir->env->set->st, &dir->oid, &dir->base);
	if (r == -ENOENT || r == -EUCLEAN || r == -EIO) {
		/* a missing or damaged tree: EIO to the reader, logged once (damaged.h) */
		char what[300];
		snprintf(what, sizeof(what), "env %.200s, directory %.80s", dir->env->name,
			 dir->name);
		return vv_obj_report_bad(dir->env->set->st, &dir->oid, what,
					 r == -ENOENT ? "is missing from the store" :
					 "is a damaged tree");
	}
	if (r < 0)
		return vv_err_prefix(r, "directory '%s'", dir->name);
	/* a format-1 tree numbers nothing (store/times.h) */
	if (dir->base->version == 1 && dir->times) {
		vv_times_unref(dir->times);
		dir->times = NULL;
	}
	/* an env root numbers the entries of its times section (store/times.h) */
	if (vv_live_is_root(dir) && !dir->times &&
	    ((dir->tbase = 0), (r = vv_times_of(dir->base, &dir->times)) < 0)) {
		char what[300];
		snprintf(what, sizeof(what), "env %.200s, its root", dir->env->name);
		vv_tree_unref(dir->base);
		dir->base = NULL;
		return vv_obj_report_bad(dir->env->set->st, &dir->oid, what,
					 "has a damaged times section");
	}
	return 0;
}

/* Turn every entry into a node so the listing can change. */
int vv_live_dir_materialize(struct vv_node *dir)
{
	if (dir->mat)
		return 0;
	int r = dir_base(dir);
	if (r < 0)
		return r;
	struct vv_tree *t = dir->base;
	struct vv_node **kids = calloc(t->n ? t->n : 1, sizeof(*kids));
	if (!kids)
		return vv_err(-ENOMEM, "out of memory");
	size_t j = 0;
	bool canon = false, found = false;
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		struct vv_node *n = NULL;
		if (j < dir->nkids && !vv_live_kid_cmp(e->name, e->namelen, dir->kids[j]->name)) {
			n = dir->kids[j++];
			canon = canon || vv_times_any(dir->times, dir->tbase + e->pos, 1);
		} else if ((n = vv_live_node_from_tent(dir->env, e, dir->times,
						       dir->tbase + e->pos, &found))) {
			canon = canon || found;
		} else {
			for (size_t k = 0; k < i; k++)
				if (kids[k] && !vv_live_kid_find(dir, kids[k]->name,
								  strlen(kids[k]->name), NULL))
					vv_live_node_free(kids[k]);
			free(kids);
			return vv_err(-ENOMEM, "out of memory");
		}
		n->parent = dir;
		kids[i] = n;
	}
	free(dir->kids);
	dir->kids = kids;
	dir->nkids = dir->capkids = t->n;
	if (!dir->capkids) {
		free(kids);
		dir->kids = NULL;
	}
	vv_tree_unref(t);
	dir->base = NULL;
	vv_times_unref(dir->times); /* the kids have their values now */
	dir->times = NULL;
	dir->canon = canon;
	dir->mat = true;
	return 0;
}

/* A change is about to happen in dir: materialize it and its ancestors, mark them
 * dirty, and note the change time for the committer. */
int vv_live_dir_touch(struct vv_node *dir, bool stamp)
{
	for (struct vv_node *d = dir; d; d = d->parent) {
		int r = vv_live_dir_materialize(d);
		if (r < 0)
			return r;
	}
	for (struct vv_node *d = dir; d && !d->dirty; d = d->parent)
		d->dirty = true;
	int64_t now = vv_now_ns();
	if (stamp)
		dir->mtime_ns = dir->ctime_ns = now;
	struct vv_env *env = dir->env;
	if (!env->first_change_ns)
		env->first_change_ns = now;
	env->last_change_ns = now;
	env->jrecords++;
	return 0;
}

/* Empty as far as the tree is concerned: synthesized entries do not count. */
bool vv_live_dir_empty(struct vv_node *d)
{
	if (d->mat)
		return d->nkids == 0;
	return dir_base(d) == 0 && d->base->n == 0;
}

static const char *syn_name(const struct vv_env *env, int slot, char *buf)
{
	switch (slot) {
	case SYN_LIB64: return "lib64";
	case SYN_PY: return "python";
	case SYN_PY3: return "python3";
	case SYN_PYX: vv_python_name(&env->py, buf); return buf;
	}
	return vv_synth_name((enum vv_synth_file)(slot - SYN_FILES));
}

/* Visible synthesized node of dir named name, or NULL. */
/* The synthesized entry of dir named name (NULL if none); with hidden, also one the
 * user unlinked, which is then shown again (see vv_node_unlink). */
struct vv_node *vv_live_syn_lookup(struct vv_node *dir, const char *name, size_t len,
				  bool unhide)
{
	struct vv_env *env = dir->env;
	bool root = vv_live_is_root(dir), bin = !root && vv_live_is_env_bin(dir);
	if (!root && !bin)
		return NULL;
	for (size_t s = 0; s < env->nsyn; s++) {
		if (syn_in_bin((int)s) != bin || !env->syn[s])
			continue;
		if ((env->hidden & (1u << s)) && !unhide)
			continue;
		char buf[32];
		const char *sn = syn_name(env, (int)s, buf);
		if (strlen(sn) == len && !memcmp(sn, name, len)) {
			env->hidden &= ~(1u << s);
			env->syn[s]->parent = dir;
			return env->syn[s];
		}
	}
	return NULL;
}

/* Has dir an entry of its own (tree or node) named name? */
static bool real_has(struct vv_node *dir, const char *name, size_t len)
{
	if (vv_live_kid_find(dir, name, len, NULL))
		return true;
	return !dir->mat && dir_base(dir) == 0 && vv_tree_find(dir->base, name, len);
}

/* The synthesized entry shown as name in dir. An entry of the env's own tree of the
 * same name wins: only an env a tool made in the mount root has such entries (its
 * bin/python, activators...: docs/design.md "Envs made by tools"); everywhere else a
 * synthesized name cannot be made anew (see ns.c). */
static struct vv_node *syn_find(struct vv_node *dir, const char *name, size_t len)
{
	struct vv_node *n = vv_live_syn_lookup(dir, name, len, false);
	return n && !real_has(dir, name, len) ? n : NULL;
}

int vv_node_lookup(struct vv_node *dir, const char *name, struct vv_node **out)
{
	if (!vv_live_is_dir(dir))
		return -ENOTDIR;
	size_t len = strlen(name);
	struct vv_node *n = syn_find(dir, name, len);
	if (n) {
		*out = n;
		return 0;
	}
	size_t idx;
	n = vv_live_kid_find(dir, name, len, &idx);
	if (n) {
		*out = n;
		return 0;
	}
	if (dir->mat)
		return -ENOENT;
	int r = dir_base(dir);
	if (r < 0)
		return r;
	const struct vv_tree_ent *e = vv_tree_find(dir->base, name, len);
	if (!e)
		return -ENOENT;
	bool found;
	n = vv_live_node_from_tent(dir->env, e, dir->times, dir->tbase + e->pos, &found);
	if (!n)
		return -ENOMEM;
	r = vv_live_kid_insert(dir, idx, n);
	if (r < 0) {
		vv_live_node_free(n);
		return r;
	}
	*out = n;
	return 0;
}

int vv_node_readdir(struct vv_node *dir, uint64_t off, vv_dir_fn fn, void *ctx)
{
	if (!vv_live_is_dir(dir))
		return -ENOTDIR;
	struct vv_env *env = dir->env;
	bool root = vv_live_is_root(dir), bin = !root && vv_live_is_env_bin(dir);
	uint64_t i = 0;
	/* synthesized entries first, in slot order */
	if (root || bin) {
		for (size_t s = 0; s < env->nsyn; s++) {
			if (syn_in_bin((int)s) != bin || !env->syn[s] || (env->hidden & (1u << s)))
				continue;
			char buf[32];
			const char *sn = syn_name(env, (int)s, buf);
			if (real_has(dir, sn, strlen(sn)))
				continue;
			if (i++ < off)
				continue;
			env->syn[s]->parent = dir;
			if (fn(ctx, sn, env->syn[s]->kind, env->syn[s], i))
				return 0;
		}
	}
	if (dir->mat) {
		for (size_t k = 0; k < dir->nkids; k++) {
			struct vv_node *n = dir->kids[k];
			if (i++ < off)
				continue;
			if (fn(ctx, n->name, n->kind, n, i))
				return 0;
		}
		return 0;
	}
	int r = dir_base(dir);
	if (r < 0)
		return r;
	struct vv_tree *t = dir->base;
	for (size_t k = 0; k < t->n; k++) {
		const struct vv_tree_ent *e = &t->ents[k];
		if (i++ < off)
			continue;
		struct vv_node *n = NULL;
		if ((r = vv_node_lookup(dir, e->name, &n)) < 0)
			return r;
		if (fn(ctx, e->name, e->kind, n, i))
			return 0;
	}
	return 0;
}

int vv_live_check_new_name(struct vv_node *dir, const char *name)
{
	if (!vv_live_is_dir(dir))
		return -ENOTDIR;
	if (dir->unlinked)
		return -ENOENT;
	int r = vv_name_check(name, strlen(name));
	if (r < 0)
		return r;
	struct vv_node *old;
	r = vv_node_lookup(dir, name, &old);
	if (r == 0)
		return -EEXIST;
	return r == -ENOENT ? 0 : r;
}

int vv_live_add_new(struct vv_node *dir, struct vv_node *n)
{
	int r = vv_live_dir_touch(dir, true);
	if (r < 0)
		return r;
	size_t idx;
	if (vv_live_kid_find(dir, n->name, strlen(n->name), &idx))
		return -EEXIST;
	return vv_live_kid_insert(dir, idx, n);
}

/* Resolve relpath from the env root, which must be loaded (vv_env_walk loads it). */
int vv_live_walk(struct vv_env *env, const char *relpath, struct vv_node **out)
{
	int r;
	struct vv_node *n = env->root;
	const char *p = relpath;
	char name[NAME_MAX + 1];
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || len > NAME_MAX)
			return -EINVAL;
		memcpy(name, p, len);
		name[len] = 0;
		struct vv_node *k;
		if ((r = vv_node_lookup(n, name, &k)) < 0)
			return r;
		n = k;
		p += len;
		if (*p == '/')
			p++;
	}
	*out = n;
	return 0;
}
