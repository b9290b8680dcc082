/*
 * stats.h - store-wide accounting and consistency checks, shared by venvctl and
 * (later) the daemon and gc.
 *
 * Both read only what is committed: the object files under objects/, the root tree
 * recorded in each envs/NAME and the roots its history holds (history/NAME: they
 * belong to the env, so they count in its unique bytes but not in its files or logical
 * bytes; fsck checks them like the env's own). Changes a mounted env has not committed yet live in
 * journal/NAME and are not seen here. Neither function writes to the store, so both may
 * run while the daemon is mounted; objects published concurrently are looked up on
 * demand, so they never show up as missing.
 *
 * Walks are memoized per tree id through the shared tree cache (tree.h): envs that share
 * subtrees (the seeded pip, identical installs) cost one parse per distinct tree.
 */
#ifndef VV_STATS_H
#define VV_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"
#include "util/progress.h"

struct vv_store;

struct vv_stats_env {
	char *name;
	uint64_t files;        /* 'f' and 's' entries reachable from the root, duplicates
				  within the env counted each time */
	uint64_t logical;      /* sum of their sizes */
	uint64_t unique;       /* sizes of distinct file objects no other env references */
	uint64_t unique_files; /* number of those objects */
	uint64_t distinct;     /* sizes of the distinct file objects the env references
				  (distinct - unique: bytes shared with other envs) */
	uint64_t distinct_files;
	uint64_t unique_tree_bytes; /* sizes of the trees no other env references:
				  with unique, what removing the env frees (unless a
				  journal or an interpreter's skeleton keeps them) */
	char *error;           /* NULL, or why the env could not be walked completely
				  (its numbers then cover the readable part) */
};

struct vv_stats {
	/* What objects/ holds (every object file, trees included). */
	uint64_t objects;
	uint64_t stored_bytes; /* sum of st_size */
	uint64_t disk_bytes;   /* sum of st_blocks * 512 */
	/* What the envs reach. */
	uint64_t trees;        /* distinct trees */
	uint64_t file_objects; /* distinct file objects */
	uint64_t file_bytes;   /* their sizes: what the logical bytes are stored in */
	uint64_t logical;      /* sum over envs of vv_stats_env.logical */
	/* Present in objects/ but reachable from no env (gc candidates; includes the
	   skeletons of new envs when no env uses them yet). */
	uint64_t unreachable;
	uint64_t unreachable_bytes;
	size_t nenvs;
	struct vv_stats_env *envs; /* sorted by name */
	uint64_t env_errors;       /* envs with error != NULL */
};

/* Collect statistics. Damaged envs or trees do not fail the call: they are recorded in
 * vv_stats_env.error. Returns 0, or -errno when the store itself cannot be read. */
int vv_stats_collect(struct vv_store *st, struct vv_stats *out);
/* The same, reporting progress ("scanning" fan-out directories, then "walking" envs). */
int vv_stats_collect_ex(struct vv_store *st, struct vv_stats *out,
			const struct vv_progress *pg);
void vv_stats_release(struct vv_stats *s);

/* logical / file_bytes; 1.0 when nothing is stored. */
double vv_stats_dedup_ratio(const struct vv_stats *s);

enum vv_fsck_kind {
	VV_FSCK_CORRUPT,  /* object bytes do not hash to the object's name */
	VV_FSCK_MISSING,  /* a tree references an object or tree that does not exist */
	VV_FSCK_BAD_TREE, /* a referenced tree hashes fine but does not parse */
	VV_FSCK_SIZE,     /* a tree entry's size differs from its object's size */
	VV_FSCK_BAD_ENV,  /* envs/NAME does not parse */
	VV_FSCK_STRAY,    /* something under objects/ that is not an object file */
	VV_FSCK_IO,       /* an object or directory could not be read */
};

struct vv_fsck_problem {
	enum vv_fsck_kind kind;
	const vv_oid *oid;   /* the object concerned, or NULL */
	const char *env;     /* env whose walk found it, or NULL (object scan) */
	const char *path;    /* path inside that env ("" for its root), or for
				VV_FSCK_STRAY the entry's path in the store
				("objects/ab/junk"), or NULL */
	const char *msg;     /* the whole report line, e.g.
				"missing object <hex> (env web, path lib/x.py)" */
};

/* Return non-zero from the callback to stop checking (vv_fsck then returns the count
 * so far). */
typedef int (*vv_fsck_cb)(const struct vv_fsck_problem *p, void *arg);

struct vv_fsck_summary {
	uint64_t objects;  /* object files hashed */
	uint64_t envs;     /* env files read */
	uint64_t trees;    /* distinct trees checked */
	uint64_t problems;
};

/* Check the store: every object file hashes to its name; every env file parses; every
 * tree reachable from every env root exists, hashes right and parses; every object it
 * references exists, is intact and has the size the tree records. A problem under a tree
 * shared by several envs is reported once per env. cb may be NULL; sum may be NULL.
 * Returns the number of problems (0 = clean) or -errno when the check itself failed
 * (the store directory unreadable, out of memory). */
int vv_fsck(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum);
/* The same, reporting progress ("hashing" fan-out directories, then "checking" envs). */
int vv_fsck_ex(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum,
	       const struct vv_progress *pg);

/* ---- reachability, shared with gc (gc.h) ----
 *
 * A set of object ids reachable from roots the caller names: trees (walked
 * recursively, each distinct tree once, through the shared tree cache) and single file
 * objects. Unlike stats, a tree that is missing, corrupt or does not parse fails the
 * walk: vv_reach_tree returns its error (-ENOENT, -EUCLEAN, -EIO, ...) with a message
 * naming the tree and its path below the root; what that tree references is unknown,
 * so nothing may be deleted. File objects are only marked, never opened. */
struct vv_reach;

int vv_reach_new(struct vv_store *st, struct vv_reach **out);
void vv_reach_free(struct vv_reach *r);
int vv_reach_tree(struct vv_reach *r, const vv_oid *tree);
int vv_reach_object(struct vv_reach *r, const vv_oid *oid);
bool vv_reach_has(const struct vv_reach *r, const vv_oid *oid);
/* Distinct trees walked and file objects marked so far. */
void vv_reach_counts(const struct vv_reach *r, uint64_t *trees, uint64_t *files);

#endif
