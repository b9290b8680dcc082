/*
 * handle.h - the fields of the store handle, struct vv_store, and nothing else.
 *
 * The handle is opened and closed by store.c (store.h), which also makes what hangs off
 * it: the object database (odb.h), the tree cache (tree.c) and the damaged-list state
 * (damaged.c). Those modules read the fields they need from here without including
 * store.h, so calls go one way only: store.c calls them, they never call store.c.
 * Code elsewhere includes store.h, which includes this.
 *
 * A struct vv_store is safe to share between threads: it only holds directory fds, the
 * object database (atomic state) and the tree cache and damaged-list state, which have
 * their own locks.
 */
#ifndef VV_HANDLE_H
#define VV_HANDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/odb.h"

struct vv_treecache;
struct vv_damaged_state;

/* The history policy a store starts with (history.h; venvfs.ini can change it through
 * vv_history_policy): entries kept per env, and the seconds within which a mount commit
 * extends the last entry. No age limit. */
#define VV_STORE_HIST_KEEP_DEFAULT 50
#define VV_STORE_HIST_COALESCE_DEFAULT 10 /* seconds */

struct vv_store {
	char *path;     /* absolute path of the store directory */
	int dirfd;      /* the store directory */
	int objfd;      /* objects/ (used through odb) */
	int envfd;      /* envs/ */
	int journalfd;  /* journal/ */
	int pythonfd;   /* pythons/ */
	int tmpfd;      /* tmp/ */
	int pkgfd;      /* packages/ */
	int historyfd;  /* history/ */
	int lockfd;     /* locks/ (-1 on a read-only store without it) */
	int stagefd;    /* stage/ (the same; used through odb) */
	/* history policy (history.h; set from the config by vv_history_policy) */
	int64_t hist_keep;       /* entries kept per env; 0: none */
	int64_t hist_max_age_s;  /* drop entries older than this; 0: no limit */
	int64_t hist_coalesce_s; /* a mount commit within this of the last one extends it */
	struct vv_treecache *trees; /* parsed immutable trees shared by every env (tree.h) */
	struct vv_damaged_state *damaged; /* damaged-list state of checked opens (damaged.h) */
	bool readonly;  /* opened with VV_STORE_READONLY: nothing is ever written */
	struct vv_odb odb; /* the objects (odb.h), over objfd and tmpfd */
};

#endif
