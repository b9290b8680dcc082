/*
 * treebuild.c - an in-memory directory tree that is written bottom-up into the store
 * (see treebuild.h).
 *
 * Each directory node keeps its children sorted by name (the tree byte order), so a
 * lookup is a binary search and writing needs no sort. A directory created implicitly
 * as a parent may later be added explicitly (zip files list directories in any order):
 * that only sets its mode and mtime. A grafted directory (existing tree id) is a leaf
 * here: nothing can be added beneath it until vv_tb_expand opens it (its entries become
 * nodes, its subdirectories grafts), which is how a package is merged into a directory
 * an env already has.
 */
#include "store/treebuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/vec.h"
#include "store/store.h"

struct tb_node {
	struct vv_tree_ent ent; /* name and target point to the node's own copies */
	char *name;
	char *target;
	int open;               /* directory built here (not a graft): may have kids */
	int implicit;           /* directory made as a parent, not added itself */
	struct tb_node **kids;  /* directories without a graft only; sorted by name */
	size_t nkids, capkids;
};

struct vv_tb {
	struct tb_node root;
	int64_t dir_mtime_ns;
};

static void node_free(struct tb_node *n)
{
	for (size_t i = 0; i < n->nkids; i++) {
		node_free(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	free(n->name);
	free(n->target);
}

struct vv_tb *vv_tb_new(int64_t dir_mtime_ns)
{
	struct vv_tb *tb = calloc(1, sizeof(*tb));
	if (!tb)
		return NULL;
	tb->dir_mtime_ns = dir_mtime_ns;
	tb->root.ent.kind = VV_DIR;
	tb->root.ent.mode = 0755;
	tb->root.ent.mtime_ns = dir_mtime_ns;
	tb->root.open = 1;
	return tb;
}

void vv_tb_free(struct vv_tb *tb)
{
	if (!tb)
		return;
	node_free(&tb->root);
	free(tb);
}

/* Index of name in dir's children, or -(insertion point) - 1. */
static long find_kid(const struct tb_node *dir, const char *name, size_t len)
{
	size_t lo = 0, hi = dir->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tb_node *k = dir->kids[mid];
		size_t klen = k->ent.namelen;
		int c = memcmp(name, k->name, len < klen ? len : klen);
		if (c == 0)
			c = len < klen ? -1 : len > klen;
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -(long)lo - 1;
}

static struct tb_node *insert_kid(struct tb_node *dir, size_t at, const char *name, size_t len)
{
	if (VV_GROW(dir->kids, dir->nkids, dir->capkids, 8) < 0)
		return NULL;
	struct tb_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strndup(name, len);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->ent.name = n->name;
	n->ent.namelen = (uint16_t)len;
	memmove(&dir->kids[at + 1], &dir->kids[at], (dir->nkids - at) * sizeof(*dir->kids));
	dir->kids[at] = n;
	dir->nkids++;
	return n;
}

static int check_ent(const char *path, const struct vv_tree_ent *ent)
{
	if (!vv_kind_ok(ent->kind))
		return vv_err(-EINVAL, "cannot add '%s': bad kind %u", path, ent->kind);
	if (ent->mode > 07777)
		return vv_err(-EINVAL, "cannot add '%s': bad mode %o", path, ent->mode);
	if (ent->kind == VV_LNK) {
		size_t tl = ent->target ? strlen(ent->target) : 0;
		if (tl == 0 || tl > 4095)
			return vv_err(-EINVAL, "cannot add '%s': bad symlink target length %zu",
				      path, tl);
	}
	return 0;
}

/* Set a node's entry from ent (name kept, target copied). */
static int set_ent(struct tb_node *n, const struct vv_tree_ent *ent)
{
	char *target = NULL;
	if (ent->kind == VV_LNK && !(target = strdup(ent->target)))
		return -ENOMEM;
	free(n->target);
	n->target = target;
	n->ent = *ent;
	n->ent.name = n->name;
	n->ent.namelen = (uint16_t)strlen(n->name);
	n->ent.target = target;
	if (ent->kind == VV_LNK)
		n->ent.size = strlen(target);
	/* symlinks, FIFOs and sockets name no object */
	if (ent->kind == VV_LNK || vv_kind_special(ent->kind))
		memset(&n->ent.oid, 0, sizeof(n->ent.oid));
	if (ent->kind == VV_DIR || vv_kind_special(ent->kind))
		n->ent.size = 0;
	n->open = ent->kind == VV_DIR && vv_oid_is_zero(&ent->oid);
	n->implicit = 0;
	return 0;
}

int vv_tb_add(struct vv_tb *tb, const char *path, const struct vv_tree_ent *ent)
{
	int r = check_ent(path, ent);
	if (r < 0)
		return r;
	struct tb_node *dir = &tb->root;
	const char *p = path;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if ((r = vv_name_check(p, len)) < 0)
			return vv_err_prefix(r, "cannot add '%s'", path);
		long i = find_kid(dir, p, len);
		if (!slash) {
			if (i >= 0) {
				struct tb_node *k = dir->kids[i];
				/* An implicit parent may be declared once, as an open directory. */
				if (k->implicit && ent->kind == VV_DIR &&
				    vv_oid_is_zero(&ent->oid)) {
					k->ent.mode = ent->mode;
					k->ent.mtime_ns = ent->mtime_ns;
					k->implicit = 0;
					return 0;
				}
				return vv_err(-EEXIST, "cannot add '%s': already added", path);
			}
			struct tb_node *n = insert_kid(dir, (size_t)(-i - 1), p, len);
			if (!n || set_ent(n, ent) < 0)
				return vv_err(-ENOMEM, "cannot add '%s': out of memory", path);
			return 0;
		}
		struct tb_node *k;
		if (i >= 0) {
			k = dir->kids[i];
			if (k->ent.kind != VV_DIR)
				return vv_err(-ENOTDIR, "cannot add '%s': '%.*s' is not a "
					      "directory", path, (int)(slash - path), path);
			if (!k->open)
				return vv_err(-EEXIST, "cannot add '%s': '%.*s' is a grafted tree",
					      path, (int)(slash - path), path);
		} else {
			k = insert_kid(dir, (size_t)(-i - 1), p, len);
			if (!k)
				return vv_err(-ENOMEM, "cannot add '%s': out of memory", path);
			k->ent.kind = VV_DIR;
			k->ent.mode = 0755;
			k->ent.mtime_ns = tb->dir_mtime_ns;
			k->open = 1;
			k->implicit = 1;
		}
		dir = k;
		p = slash + 1;
	}
}

int vv_tb_add_tree(struct vv_tb *tb, const char *path, const struct vv_tree *t,
		   bool (*skip)(const struct vv_tree_ent *e, void *arg), void *arg)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		if (skip && skip(e, arg))
			continue;
		char *full;
		if (asprintf(&full, "%s%s%s", path, *path ? "/" : "", e->name) < 0)
			return vv_err(-ENOMEM, "cannot add '%s': out of memory", path);
		int r = vv_tb_add(tb, full, e);
		free(full);
		if (r < 0)
			return r;
	}
	return 0;
}

int vv_tb_exists(struct vv_tb *tb, const char *path)
{
	const struct tb_node *dir = &tb->root;
	const char *p = path;
	if (!*p)
		return 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		long i = find_kid(dir, p, len);
		if (i < 0)
			return 0;
		if (!slash)
			return 1;
		dir = dir->kids[i];
		p = slash + 1;
	}
}

static struct tb_node *find_node(struct vv_tb *tb, const char *path)
{
	struct tb_node *dir = &tb->root;
	const char *p = path;
	if (!*p)
		return dir;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		long i = find_kid(dir, p, len);
		if (i < 0)
			return NULL;
		if (!slash)
			return dir->kids[i];
		dir = dir->kids[i];
		p = slash + 1;
	}
}

int vv_tb_lookup(struct vv_tb *tb, const char *path, struct vv_tree_ent *ent, bool *open)
{
	struct tb_node *n = find_node(tb, path);
	if (!n)
		return -ENOENT;
	*ent = n->ent;
	*open = n->open;
	return 0;
}

int vv_tb_expand(struct vv_tb *tb, struct vv_store *st, const char *path)
{
	struct tb_node *n = find_node(tb, path);
	if (!n)
		return vv_err(-ENOENT, "cannot open '%s': not in the builder", path);
	if (n->ent.kind != VV_DIR)
		return vv_err(-ENOTDIR, "cannot open '%s': not a directory", path);
	if (n->open)
		return 0;
	struct vv_tree *t = NULL;
	int r = vv_tree_get(st, &n->ent.oid, &t);
	if (r < 0)
		return vv_err_prefix(r, "cannot open '%s'", path);
	n->open = 1;
	n->implicit = 0;
	memset(&n->ent.oid, 0, sizeof(n->ent.oid));
	r = vv_tb_add_tree(tb, path, t, NULL, NULL);
	vv_tree_unref(t);
	return r;
}

/* Write dir's tree; *count gets its entries at every depth (a 'd' entry's SIZE). */
static int write_dir(struct tb_node *dir, struct vv_store *st, vv_oid *out, uint64_t *count)
{
	struct vv_tree_ent *ents = NULL;
	if (dir->nkids && !(ents = calloc(dir->nkids, sizeof(*ents))))
		return vv_err(-ENOMEM, "cannot write tree: out of memory");
	int r = 0;
	*count = 0;
	for (size_t i = 0; i < dir->nkids; i++) {
		struct tb_node *k = dir->kids[i];
		ents[i] = k->ent;
		/* The id goes into the copy only: the node stays open for later adds. */
		if (k->open && (r = write_dir(k, st, &ents[i].oid, &ents[i].size)) < 0) {
			vv_err_prefix(r, "in '%s'", k->name);
			break;
		}
		/* a graft's count is its entry's (0: vv_tree_write looks it up) */
		if (ents[i].kind == VV_DIR && !ents[i].size &&
		    (r = vv_tree_count(st, &ents[i].oid, &ents[i].size)) < 0)
			break;
		*count += 1 + (ents[i].kind == VV_DIR ? ents[i].size : 0);
	}
	if (r == 0)
		r = vv_tree_write(st, ents, dir->nkids, out);
	free(ents);
	return r;
}

int vv_tb_write(struct vv_tb *tb, struct vv_store *st, vv_oid *root_out)
{
	uint64_t count;
	return write_dir(&tb->root, st, root_out, &count);
}
