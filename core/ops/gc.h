/*
 * gc.h - garbage collection of the object store: delete objects nothing can reach.
 *
 * Roots (everything reachable from them is kept):
 *   - the committed root tree of every env (envs/NAME);
 *   - every journal (journal/NAME): the root its header names, even when the journal is
 *     stale, and every object a `c` record names;
 *   - the skeleton trees (skel-pip, skel-nopip) of every interpreter cached in pythons/;
 *   - the trees of every package record (packages/, pkg.h): an ingested wheel stays
 *     installable in O(1) until its record goes. drop_packages removes the records no
 *     env or journal uses (their .dist-info tree is not reached from those roots) and
 *     that were written before the grace period, so their objects can go too.
 *   - every root named by an env's history (history/NAME, history.h): the old and new
 *     root of every kept entry, and every snapshot. Read after envs/: a root change is
 *     written to the history before the env file is replaced.
 * If any root cannot be read or parsed (a corrupt env, journal or pythons/ file, a tree
 * that is missing or does not parse), gc deletes nothing and fails with the reason:
 * what an unreadable root references is unknown.
 *
 * stage/ (odb.h): a stage no journal names, that no process holds open and that
 * nobody changed within the grace period is removed (a writer died between making it
 * and naming it in its journal).
 *
 * Running next to a mounted daemon: objects are published (linked into objects/)
 * before any journal record or tree names them, so an object can be unreachable for a
 * moment and still be about to be used. gc therefore never deletes an object changed
 * within the grace period (default one hour) before gc started. "Changed" is the later
 * of the object's mtime and ctime: publishing (fchmod, link) sets the ctime even when
 * the content was written long before (a file held open for writing for hours), and a
 * writer that finds an object already present can refresh it by setting its mtime.
 * Each doomed object is first renamed into tmp/ (so a writer refreshing it sees it
 * gone and publishes it again), checked once more, and only then unlinked.
 * A lock file (STORE/gc.lock, flock) keeps two gcs from running at once.
 */
#ifndef VV_GC_H
#define VV_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "util/progress.h"

struct vv_store;

#define VV_GC_GRACE_DEFAULT 3600 /* seconds */

struct vv_gc_opts {
	int64_t grace_s;  /* keep objects changed less than this long ago (>= 0) */
	bool dry_run;     /* report only; takes no lock, deletes nothing */
	bool drop_packages; /* remove package records no env or journal uses */
	int64_t now_s;    /* the time ages are measured from; 0: now (tests set it) */
	const struct vv_progress *progress; /* NULL: no report (progress.h) */
};

struct vv_gc_result {
	uint64_t envs, journals, pythons; /* root files read */
	uint64_t packages;                /* package records kept (roots) */
	uint64_t packages_dropped;        /* records removed (dry run: would be) */
	uint64_t histories;               /* history files read */
	uint64_t trees, files;            /* distinct reachable trees and file objects */
	uint64_t objects, bytes;          /* object files found under objects/ */
	uint64_t freed, freed_bytes;      /* deleted (dry run: would be deleted) */
	uint64_t stages_freed;            /* stage/ files no journal names, nobody holds
					     and older than the grace period (their bytes
					     are in freed_bytes) */
	uint64_t young, young_bytes;      /* unreachable but kept: within the grace period */
	double seconds;                   /* time taken */
};

/* Collect garbage. Returns 0, or -errno with a message (nothing deleted when the roots
 * could not be read; -EBUSY when another gc holds the lock). A failure while deleting
 * (rare: permissions) stops the sweep; what was deleted until then is in *res. */
int vv_gc(struct vv_store *st, const struct vv_gc_opts *opts, struct vv_gc_result *res);

#endif
