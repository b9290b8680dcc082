/*
 * treebuild.h - build a new tree from a list of paths (wheel unpacking, env skeletons).
 *
 * Add entries at '/'-separated relative paths; missing parent directories are created
 * with mode 0755 and the builder's mtime. Then write everything bottom-up into the
 * store and get the root tree id. Adding a path twice, or under a non-directory, is
 * -EEXIST / -ENOTDIR. Single-threaded.
 */
#ifndef VV_TREEBUILD_H
#define VV_TREEBUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/tree.h"

struct vv_tb;

struct vv_tb *vv_tb_new(int64_t dir_mtime_ns);
void vv_tb_free(struct vv_tb *tb);

/* ent->name is ignored (the last path component is used); ent is copied. A VV_DIR entry
 * with a non-zero oid grafts an existing tree; with a zero oid it makes an empty dir
 * (which later adds may fill). */
int vv_tb_add(struct vv_tb *tb, const char *path, const struct vv_tree_ent *ent);

/* Add every entry of the existing tree t beneath path ("" for the root; a missing path
 * is created like a parent), subdirectories grafted by their tree id, so an edited copy
 * of a tree rebuilds only the directories on the edited paths. skip (may be NULL)
 * returns true for entries to leave out (e.g. the directory about to be edited, which
 * the caller adds as an open directory and fills itself). */
int vv_tb_add_tree(struct vv_tb *tb, const char *path, const struct vv_tree *t,
		   bool (*skip)(const struct vv_tree_ent *e, void *arg), void *arg);

/* 1 if path exists in the builder, else 0. */
int vv_tb_exists(struct vv_tb *tb, const char *path);

/* The entry at path: 0 with *ent (name and target point into the builder) and *open
 * (a directory built here, not a graft), or -ENOENT. */
int vv_tb_lookup(struct vv_tb *tb, const char *path, struct vv_tree_ent *ent, bool *open);

/* Turn the grafted directory at path into an open one holding the entries of its tree
 * (subdirectories grafted), so more can be added beneath it. An open directory is left
 * as it is; -ENOTDIR for a non-directory, -ENOENT if absent. */
int vv_tb_expand(struct vv_tb *tb, struct vv_store *st, const char *path);

int vv_tb_write(struct vv_tb *tb, struct vv_store *st, vv_oid *root_out);

#endif
