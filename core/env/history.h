/*
 * history.h - per-env history of committed roots and named snapshots.
 *
 * Every change of an env's root goes through the env transaction (txn.h), which records
 * it here (vv_history_record) just before it replaces envs/NAME: an entry names the
 * root before and after the change, when it happened and who made it ("mount", "add",
 * "create", "rollback", ...). Rolling back is one more commit of an older root
 * (ops/envstate.h), recorded like any other change, so it can be undone. Snapshots are
 * named roots kept until deleted. This module only keeps the file: it never loads or
 * writes envs/NAME.
 *
 * STORE/history/NAME, one text file per env, replaced atomically (temp file, fsync,
 * rename, fsync history/) under an flock of history/ (writers: the daemon, venvctl):
 *
 *   venvfs-history 1 NEXTID
 *   e ID START_NS END_NS OPEN OLDROOT NEWROOT SOURCE
 *   s TIME_NS ROOT TAG
 *
 * Entries oldest first; snapshots sorted by tag. OPEN is 1 while a batch of mount
 * commits may still be extended: a mount's timed commits (vv_env_commit after a quiet
 * second) that follow each other within `history-coalesce` seconds, and continue the
 * entry's new root, are one entry, so one `pip install` is one entry. An explicit
 * commit (fsync of the env, unmount, rename) extends an open batch and closes it.
 *
 * Order: the entry is written before envs/NAME is replaced (and taken back if that
 * fails), so gc, which reads envs/ before history/, always finds a root that leaves an
 * env in the history (see gc.h). A crash between the two leaves an entry whose change
 * did not happen: harmless (both roots exist; the next entry starts from the real root).
 *
 * Policy (venvfs.ini, vv_history_policy): `history-keep` entries per env (default 50, at
 * most 10000; 0 records nothing and drops old entries at the next change), `history-max-age` days
 * (default 0: no limit), `history-coalesce` seconds (default 10). Pruning happens when
 * an entry is appended. Snapshots are kept regardless. The history follows
 * vv_txn_rename and is removed, snapshots included, with vv_txn_remove.
 */
#ifndef VV_HISTORY_H
#define VV_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/hash.h"

struct vv_store;
struct vv_config;

/* the policy a store starts with, set by vv_store_open (store/handle.h) */
#define VV_HIST_KEEP_DEFAULT VV_STORE_HIST_KEEP_DEFAULT
#define VV_HIST_COALESCE_DEFAULT VV_STORE_HIST_COALESCE_DEFAULT /* seconds */
#define VV_HIST_SOURCE_MAX 15
#define VV_HIST_TAG_MAX 64

/* vv_history_record flags */
enum {
	VV_HIST_COALESCE = 1, /* may extend an open entry of the same source */
	VV_HIST_OPEN = 2,     /* the resulting entry stays open (a timed mount commit) */
};

struct vv_hist_entry {
	uint64_t id;
	int64_t start_ns, end_ns; /* first and last commit of the entry */
	bool open;
	vv_oid old_root, new_root;
	char source[VV_HIST_SOURCE_MAX + 1];
};

struct vv_hist_snap {
	char tag[VV_HIST_TAG_MAX + 1];
	int64_t time_ns;
	vv_oid root;
};

struct vv_history {
	uint64_t next_id;
	size_t n;
	struct vv_hist_entry *ents; /* oldest first */
	size_t nsnaps;
	struct vv_hist_snap *snaps; /* sorted by tag */
};

/* Parse / format the file (name: the env, for messages). Bad bytes: -EUCLEAN with
 * "history/NAME:LINE: why". */
int vv_history_parse(const char *buf, size_t len, const char *name, struct vv_history *out);
int vv_history_format(const struct vv_history *h, char **out, size_t *len);
void vv_history_release(struct vv_history *h);

/* Load history/NAME; a missing file is an empty history. */
int vv_history_load(struct vv_store *st, const char *name, struct vv_history *out);

/* Take the policy from the config (keys it does not set keep the store's defaults). */
void vv_history_policy(struct vv_store *st, const struct vv_config *cfg);

/* Is tag usable as a snapshot name? 1..64 bytes of [A-Za-z0-9._+-], starting with a
 * letter (so it never looks like an entry id). 0 or -EINVAL with a message. */
int vv_history_tag_check(const char *tag);

/* Record a change of env name's root from old to new at now_ns (0: now). Nothing when
 * they are equal. Appends (or extends the open last entry, see above) and prunes by
 * the policy. *undo (may be NULL) gets the previous file bytes (malloc'd, NULL when
 * there was no file, *undo_len its length) for vv_history_restore. */
int vv_history_record(struct vv_store *st, const char *name, const vv_oid *old_root,
		      const vv_oid *new_root, const char *source, unsigned flags,
		      int64_t now_ns, char **undo, size_t *undo_len);
/* End an open batch: the last entry, if open, is closed, so the next mount commit makes
 * a new entry (an explicit commit that found nothing left to write). Cheap when there
 * is no history or the last entry is closed: nothing is written. */
int vv_history_close_batch(struct vv_store *st, const char *name);
/* Put back history/NAME as it was before vv_history_record (undo NULL: remove it). */
int vv_history_restore(struct vv_store *st, const char *name, const char *undo, size_t len);

/* Env rename / removal (called by env.c). A missing history is fine. */
int vv_history_rename(struct vv_store *st, const char *from, const char *to);
int vv_history_remove(struct vv_store *st, const char *name);

/* Add snapshot tag of env name naming root (the env's committed root: the caller
 * checks, see ops/envstate.h). -EEXIST if the tag exists. */
int vv_history_snapshot_add(struct vv_store *st, const char *name, const char *tag,
			     const vv_oid *root);
/* -ENOENT if there is no such snapshot. */
int vv_history_snapshot_delete(struct vv_store *st, const char *name, const char *tag);

/* The root a rollback of env name to target puts back: target NULL is the state
 * before the last entry, a number the state before that entry, anything else names a
 * snapshot. desc (descsize bytes) gets how to name it in messages ("the state before
 * entry 7", "snapshot 'good'"). -ENOENT with a message if there is no such entry. */
int vv_history_target(struct vv_store *st, const char *name, const char *target, vv_oid *to,
		      char *desc, size_t descsize);

/* What changed between two roots: the *.dist-info directories of every
 * lib/python3.N/site-packages, compared by canonical project name. */
struct vv_hist_change {
	char kind; /* '+' added, '-' removed, '~' other version */
	char *name;
	char *old_version, *new_version; /* NULL when not applicable */
};
int vv_history_diff(struct vv_store *st, const vv_oid *old_root, const vv_oid *new_root,
		    struct vv_hist_change **out, size_t *n);
void vv_history_diff_free(struct vv_hist_change *c, size_t n);

/* Every root named by a history file: entries' old and new roots and snapshots, for
 * gc and stats. fn returning < 0 stops the walk. */
int vv_history_roots(const struct vv_history *h, int (*fn)(void *arg, const vv_oid *root),
		     void *arg);

#endif
