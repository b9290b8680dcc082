/*
 * reach.h - reachability: the objects a store's roots reach, each distinct tree walked
 * once. The one module behind gc (gc.h), fsck (fsck.h) and stats and du (stats.h).
 *
 * A struct vv_reach is a table of nodes, one per object id met: object files found in
 * objects/ and everything reached from the roots (env roots, history roots, journals,
 * package records, interpreter skeletons: each caller names its roots). Trees are
 * parsed through the store's shared tree cache (tree.h), once per table, and a tree's
 * node memoizes what the walks need, so envs that share subtrees (the seeded pip,
 * identical installs) cost one parse per distinct tree. Nodes live in fixed chunks, so
 * pointers to them stay valid while the table grows during recursive walks.
 *
 * Two ways to use it:
 *  - mark and ask (gc): vv_reach_tree() and vv_reach_object() mark the roots and what
 *    they reach, vv_reach_has() answers for each object in objects/. Unlike stats, a
 *    tree that is missing, corrupt or does not parse fails the walk: vv_reach_tree
 *    returns its error (-ENOENT, -EUCLEAN, -EIO, ...) with a message naming the tree
 *    and its path below the root; what that tree references is unknown, so nothing may
 *    be deleted. File objects are only marked, never opened.
 *  - walk yourself (fsck, stats): the node table, tree loading and on-demand object
 *    lookups below, with the per-walk memo fields of struct vv_reach_node.
 * Nothing here writes to the store.
 */
#ifndef VV_REACH_H
#define VV_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct vv_odb_entry;
struct vv_progress;
struct vv_reach;
struct vv_store;
struct vv_tree;

/* Deeper than any path the kernel can hand us (PATH_MAX 4096, >= 2 bytes a level). */
#define VV_REACH_MAX_DEPTH 2048

int vv_reach_new(struct vv_store *st, struct vv_reach **out);
void vv_reach_free(struct vv_reach *r);

/* ---- mark and ask ---- */

int vv_reach_tree(struct vv_reach *r, const vv_oid *tree);
int vv_reach_object(struct vv_reach *r, const vv_oid *oid);
bool vv_reach_has(const struct vv_reach *r, const vv_oid *oid);
/* Distinct trees walked and file objects marked so far. */
void vv_reach_counts(const struct vv_reach *r, uint64_t *trees, uint64_t *files);

/* ---- walk yourself: the table ---- */

/* vv_reach_node.flags */
enum {
	VV_RN_SCANNED = 1 << 0,  /* seen in objects/ (size, disk valid) */
	VV_RN_CORRUPT = 1 << 1,  /* bytes do not match the name */
	VV_RN_ABSENT = 1 << 2,   /* looked up on demand and not there */
	VV_RN_FILE = 1 << 3,     /* reached as a file object */
	VV_RN_TREE = 1 << 4,     /* reached as a tree */
	VV_RN_LOADED = 1 << 5,   /* tree load attempted (tree or err valid) */
	VV_RN_MEMO = 1 << 6,     /* stats: files/logical computed */
	VV_RN_PARTIAL = 1 << 7,  /* stats: something below could not be read */
	VV_RN_SHARED = 1 << 8,   /* stats: referenced by more than one env */
	VV_RN_PROP = 1 << 9,     /* stats: sharing pushed down to children */
	VV_RN_CHECKED = 1 << 10, /* fsck: walked */
	VV_RN_BAD = 1 << 11,     /* fsck: walk found problems (walk again per env) */
	VV_RN_REACHED = 1 << 12, /* mark: tree walked completely */
	VV_RN_PYC_OK = 1 << 13   /* fsck: renders as the pyc or RECORD its entry says */
};

struct vv_reach_node {
	vv_oid oid;
	uint32_t flags;
	int32_t owner;    /* stats: first env that reached it, -1 none */
	int32_t dmark;    /* stats: last env (index + 1) whose distinct walk met it */
	uint64_t size;    /* st_size if VV_RN_SCANNED, else the size a tree entry records */
	uint64_t disk;    /* st_blocks * 512 */
	uint64_t files;   /* stats memo */
	uint64_t logical; /* stats memo */
	struct vv_tree *tree; /* after vv_reach_load: the parsed tree, or NULL (err) */
	int err;          /* tree load error */
	char *errmsg;
};

/* Find or add the node of oid (a new one has owner -1, everything else zero); *out
 * stays valid until vv_reach_free(). */
int vv_reach_node(struct vv_reach *r, const vv_oid *oid, struct vv_reach_node **out);
/* The node of oid, or NULL. */
struct vv_reach_node *vv_reach_find(const struct vv_reach *r, const vv_oid *oid);
/* Number of nodes; vv_reach_at(r, i) for i below it visits them in insertion order. */
size_t vv_reach_count(const struct vv_reach *r);
struct vv_reach_node *vv_reach_at(const struct vv_reach *r, size_t i);

/* Parse (through the shared cache) the tree of node n once; n->tree, or n->err and
 * n->errmsg. Sets VV_RN_LOADED and VV_RN_TREE. */
void vv_reach_load(struct vv_reach *r, struct vv_reach_node *n);

/* An object not seen by a scan of objects/ (published since, or missing): look it up
 * now, with verify hashing it too. Sets VV_RN_SCANNED (+VV_RN_CORRUPT) with size and
 * disk, or VV_RN_ABSENT. 0, or -errno when it cannot be read. */
int vv_reach_probe(struct vv_reach *r, struct vv_reach_node *n, bool verify);

/* Scan objects/ (vv_odb_each, odb.h) into the table: every object file gets
 * VV_RN_SCANNED with its size and disk usage, plus VV_RN_CORRUPT when it does not hash
 * to its name (only checked with flags VV_ODB_VERIFY) or cannot be read. progress gets
 * `phase` with the entries of objects/ begun of all. cb (may be NULL) then sees every
 * entry, with the node of an object file (else NULL), and returns as for vv_odb_each:
 * < 0 fails the scan, > 0 stops it. Returns 0 (also when cb stopped it) or -errno. */
typedef int (*vv_reach_scan_cb)(const struct vv_odb_entry *e, struct vv_reach_node *n,
				void *arg);
int vv_reach_scan(struct vv_reach *r, unsigned flags, vv_reach_scan_cb cb, void *arg,
		  const struct vv_progress *pg, const char *phase);

/* ---- walk yourself: a path inside an env, "/lib/python3.11/...", for messages ---- */

struct vv_reach_path {
	char *s;
	size_t len, cap;
};

/* Append "/name"; *saved gets the length to go back to. */
int vv_reach_path_push(struct vv_reach_path *p, const char *name, size_t n, size_t *saved);
void vv_reach_path_pop(struct vv_reach_path *p, size_t saved);
/* The path, "/" when empty. */
const char *vv_reach_path_str(const struct vv_reach_path *p);

#endif
