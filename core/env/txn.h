/*
 * txn.h - the env transaction: the one way an env's state changes.
 *
 * envs/NAME (env.h) is the commit point of an env: whoever replaces it decides what
 * the env is. Every writer goes through this module, so the rules live in one place:
 *
 *   begin   take the env's writer lock (envlock.h; one writer per env across every
 *           daemon and tool on the store), load envs/NAME, refuse a locked env and
 *           changes a mount has not committed yet (journal/NAME), each with one message
 *   ...     the caller builds the new state: an edited copy of t.cfg, or t.cfg itself
 *   commit  recheck that envs/NAME still holds the root the change started from, drop
 *           a journal left over with nothing in it, record the change in history/NAME
 *           (history.h), then replace envs/NAME (temp file in tmp/, fsync, rename,
 *           fsync envs/): the single atomic commit point; a reader sees the old root
 *           or the new one
 *   end     release the lock (an uncommitted transaction is abandoned: nothing of it
 *           was written)
 *
 * The mount (core/live) holds an env's writer lock from its first change until the
 * changes are committed and keeps journal/NAME itself: it commits through
 * vv_txn_live, a transaction over the lock and config it already holds.
 *
 * Creating, renaming and removing an env are one call each here too; nothing else
 * writes the envs/ directory.
 */
#ifndef VV_TXN_H
#define VV_TXN_H

#include <stdbool.h>

#include "env/env.h"
#include "util/hash.h"

struct vv_store;

/* vv_txn_begin flags */
enum {
	VV_TXN_LOCKED_OK = 1, /* a locked env may be changed (venvctl lock / unlock) */
	VV_TXN_DISCARD = 2,   /* uncommitted changes in journal/NAME are not refused: the
				 commit throws them away (venvctl create --clear) */
};

struct vv_txn {
	struct vv_store *st;
	char name[256];
	int lockfd;           /* the env's writer lock */
	unsigned flags;       /* vv_txn_begin's */
	bool own;             /* begin took the lock and loaded cfg: end releases both */
	bool live;            /* the mount: journal/NAME is the caller's own */
	bool committed;       /* at least one commit succeeded */
	struct vv_envcfg cfg; /* the env as loaded at begin (the mount's, borrowed) */
	vv_oid base;          /* the root the change started from (rechecked at commit) */
};

/* Begin a change of the existing env name: 0, or -ENOENT "no env named 'NAME'",
 * -EBUSY (another writer holds the env; or, without VV_TXN_DISCARD, "env 'NAME' has
 * changes not committed yet (journal/NAME) ..."), -EROFS (locked, without
 * VV_TXN_LOCKED_OK; also a read-only store). On failure nothing is held and t needs
 * no vv_txn_end. */
int vv_txn_begin(struct vv_store *st, const char *name, unsigned flags, struct vv_txn *t);

/* A transaction for the mount, over the writer lock (lockfd) and config it holds:
 * nothing is loaded or taken, and vv_txn_end leaves both to the caller. Its commit
 * does not recheck the root (the lock has been held since the change began), never
 * touches journal/NAME, and writes envs/NAME even when it is missing or unreadable. */
void vv_txn_live(struct vv_store *st, const char *name, int lockfd,
		 const struct vv_envcfg *cfg, struct vv_txn *t);

/* Commit cfg (t's own, edited, or one the caller built) as the env's new state; `source` ("add", "mount", "rollback", ...) and
 * hflags (VV_HIST_*) go to the history entry of a changed root. -EBUSY "env 'NAME' was
 * changed meanwhile; try again" if envs/NAME no longer holds t.base or a journal names
 * it with changes. A config without owner (or mode) keeps the replaced file's. On
 * success t.base becomes the new root, so a transaction can commit again. */
int vv_txn_commit(struct vv_txn *t, const struct vv_envcfg *cfg, const char *source,
		  unsigned hflags);

/* Release what begin took. */
void vv_txn_end(struct vv_txn *t);

/* Create envs/name; -EEXIST "env 'NAME' already exists" (never clobbers). A cfg
 * without owner is recorded as owned by the calling process's user and group. */
int vv_txn_create(struct vv_store *st, const char *name, const struct vv_envcfg *cfg);
/* Rename without clobbering (-EEXIST); moves the journal and the history along. The
 * caller holds both names' writer locks (or knows there is no other writer). */
int vv_txn_rename(struct vv_store *st, const char *from, const char *to);
/* Remove envs/name, its journal and its history (snapshots included). Objects stay
 * until gc. */
int vv_txn_remove(struct vv_store *st, const char *name);

#endif
