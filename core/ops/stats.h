/*
 * stats.h - store-wide accounting: what the store holds, what the envs reach, what each
 * env shares and what removing it would free (`venvctl stats` and `venvctl du`).
 *
 * It reads only what is committed: the object files under objects/, the root tree
 * recorded in each envs/NAME and the roots its history holds (history/NAME: they
 * belong to the env, so they count in its unique bytes but not in its files or logical
 * bytes; fsck checks them like the env's own, fsck.h). Changes a mounted env has not
 * committed yet live in journal/NAME and are not seen here. It does not write to the
 * store, so it may run while the daemon is mounted; objects published concurrently are
 * looked up on demand, so they never show up as missing.
 *
 * Walks are memoized per tree id (reach.h) through the shared tree cache (tree.h): envs
 * that share subtrees (the seeded pip, identical installs) cost one parse per distinct
 * tree.
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

#endif
