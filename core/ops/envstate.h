/*
 * envstate.h - venvctl's commands that change which state an env is in without
 * building a new one: lock and unlock, rollback to an earlier root, snapshots.
 *
 * Each is one env transaction (env/txn.h): it holds the env's writer lock, refuses
 * while a mount has changes to the env not committed yet, and commits through the one
 * commit point, so a rollback is recorded in the history like any other change.
 */
#ifndef VV_ENVSTATE_H
#define VV_ENVSTATE_H

#include <stdbool.h>

#include "util/hash.h"

struct vv_store;

/* Set or clear the lock of env name (read-only in every mount, refused by tools).
 * -EBUSY while another writer holds the env or journal/NAME holds changes not
 * committed yet (a mount would commit over the lock). 1 if it was already in that
 * state (nothing written), 0 if changed. */
int vv_envstate_lock(struct vv_store *st, const char *name, bool locked);

/* Roll env name back: target NULL undoes the last entry (puts back its old root), a
 * number puts back the root before that entry, anything else names a snapshot.
 * Refused with -EBUSY while a mount has uncommitted changes to the env, -EROFS when it
 * is locked, -EINVAL when the target state is for another Python minor version. One
 * commit, recorded as a "rollback" entry. *to gets the root put back; returns 1 if the
 * env already was in that state (nothing changed), else 0. */
int vv_envstate_rollback(struct vv_store *st, const char *name, const char *target,
			 vv_oid *to);

/* Snapshot tag of the env's committed root. -EEXIST if the tag exists, -EBUSY while a
 * mount has uncommitted changes to it. */
int vv_envstate_snapshot(struct vv_store *st, const char *name, const char *tag);

#endif
