/*
 * repair.h - `venvctl fsck --repair`: put a damaged store back in order as far as intact
 * copies of its objects exist, and mark the rest so that it is never served.
 *
 * 1. Check (vv_fsck). Every corrupt object (bytes that do not hash to its name,
 *    truncated, unreadable) and every stray entry under objects/ is moved to
 *    STORE/quarantine/ with one rename (kept for inspection, never read again).
 * 2. Restore the objects now wanted (corrupt or missing) from intact sources: the
 *    files and wheel (zip) members of every source path (a file, a wheel, or a directory
 *    searched recursively, e.g. a wheel cache or another store's objects/); then, unless
 *    disabled, the bundled pip wheel of each env's interpreter and a rebuild of its
 *    skeletons (deterministic, so it republishes pip's files, bytecode and trees with
 *    the same ids). Whatever hashes to a wanted id is published as that object
 *    (store.h: temp file, fsync, link): a crash leaves no half object.
 * 3. Check again; a restored tree can reveal missing objects below it, so 2-3 repeat
 *    while something was restored (a few rounds at most).
 * 4. Write STORE/damaged (damaged.h): the ids still missing or corrupt. The daemon
 *    then answers EIO for files using them instead of wrong bytes.
 */
#ifndef VV_REPAIR_H
#define VV_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/progress.h"
#include "ops/fsck.h"

struct vv_store;

#define VV_QUARANTINE_DIR "quarantine"

struct vv_repair_opts {
	const char *const *sources; /* paths: files, wheels, directories */
	size_t nsources;
	bool no_bundled;            /* skip the interpreters' pip wheels and skeletons */
	vv_fsck_cb found;           /* problems of the first check (may be NULL) */
	vv_fsck_cb remaining;       /* problems the last check still finds (may be NULL) */
	void (*action)(void *arg, const char *line); /* "quarantined ...", "restored ..." */
	void *arg;                  /* for the three callbacks */
	const struct vv_progress *progress;
};

struct vv_repair_result {
	uint64_t found;       /* problems the first check found (0: clean, nothing done) */
	uint64_t quarantined; /* objects and stray entries moved to quarantine/ */
	uint64_t restored;    /* objects published again from a source */
	uint64_t damaged;     /* ids written to STORE/damaged */
	uint64_t remaining;   /* problems the last check found */
	struct vv_fsck_summary sum; /* of the last check */
};

/* Returns 0 (see res: found == 0 clean, remaining == 0 repaired, else damaged) or
 * -errno when the check or the repair itself failed (message set). */
int vv_repair(struct vv_store *st, const struct vv_repair_opts *o,
	      struct vv_repair_result *res);

/* Publish every file of path (a file, a wheel's members, a directory tree, wheels in
 * it) whose SHA-256 is in *want, removing it from the set. *restored counts them; each
 * one is announced through action (may be NULL). Used by vv_repair; exposed for tests.
 * Returns 0 or -errno (an unreadable source is an error naming it). */
struct vv_oidset;
int vv_repair_from_path(struct vv_store *st, const char *path, struct vv_oidset *want,
			uint64_t *restored, void (*action)(void *arg, const char *line),
			void *arg);

#endif
