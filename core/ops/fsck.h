/*
 * fsck.h - the consistency check of a store (`venvctl fsck`; repair.h builds on it).
 *
 * It reads only what is committed: the object files under objects/, the root tree
 * recorded in each envs/NAME and the roots its history holds (history/NAME: they are
 * checked like the env's own). Changes a mounted env has not committed yet live in
 * journal/NAME and are not seen here. It does not write to the store, so it may run
 * while the daemon is mounted; objects published concurrently are looked up on demand,
 * so they never show up as missing. In the cache store of a remote mount an absent
 * object is one not fetched yet: it is counted (unfetched), not reported.
 *
 * Walks are memoized per tree id (reach.h) through the shared tree cache (tree.h):
 * envs that share subtrees (the seeded pip, identical installs) cost one parse per
 * distinct tree, and a clean shared tree is walked once.
 */
#ifndef VV_FSCK_H
#define VV_FSCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"
#include "util/progress.h"

struct vv_store;

enum vv_fsck_kind {
	VV_FSCK_CORRUPT,  /* object bytes do not hash to the object's name */
	VV_FSCK_MISSING,  /* a tree references an object or tree that does not exist */
	VV_FSCK_BAD_TREE, /* a referenced tree hashes fine but does not parse */
	VV_FSCK_SIZE,     /* a tree entry's size differs from its object's size */
	VV_FSCK_BAD_ENV,  /* envs/NAME does not parse */
	VV_FSCK_STRAY,    /* something under objects/ that is not an object file */
	VV_FSCK_IO,       /* an object or directory could not be read */
	VV_FSCK_JOURNAL,  /* journal/NAME names content (a stage or an object) that is
			     gone and still matters: its file keeps earlier content */
	VV_FSCK_BAD_TPL,  /* a 'c' or 'r' entry's object hashes fine but is not the
			     stored form of a pyc (python/pyc.h) or RECORD
			     (pkg/rectpl.h) that agrees with the entry */
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
	uint64_t unfetched; /* the cache of a remote mount (manifest.h): objects its envs
			       name that were not fetched yet (not problems) */
};

/* Check the store: every object file hashes to its name; every env file parses; every
 * journal with changes not committed yet can find the content its records name; every
 * tree reachable from every env root exists, hashes right and parses; every object it
 * references exists, is intact and has the size the tree records. A problem under a tree
 * shared by several envs is reported once per env. cb may be NULL; sum may be NULL.
 * Returns the number of problems (0 = clean) or -errno when the check itself failed
 * (the store directory unreadable, out of memory). */
int vv_fsck(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum);
/* The same, reporting progress ("hashing" fan-out directories, then "checking" envs). */
int vv_fsck_ex(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum,
	       const struct vv_progress *pg);

#endif
