/*
 * envstate.c - lock, unlock, rollback and snapshots (envstate.h): each a short env
 * transaction, so the refusals and the commit are the transaction's.
 */
#include "ops/envstate.h"

#include <errno.h>
#include <string.h>

#include "env/env.h"
#include "env/history.h"
#include "env/txn.h"
#include "store/store.h"
#include "util/error.h"

int vv_envstate_lock(struct vv_store *st, const char *name, bool locked)
{
	struct vv_txn t;
	int r = vv_txn_begin(st, name, VV_TXN_LOCKED_OK, &t);
	if (r < 0)
		return r;
	if (t.cfg.locked == locked) {
		r = 1;
	} else {
		t.cfg.locked = locked;
		r = vv_txn_commit(&t, &t.cfg, "lock", 0);
	}
	vv_txn_end(&t);
	return r;
}

int vv_envstate_rollback(struct vv_store *st, const char *name, const char *target,
			 vv_oid *to)
{
	struct vv_txn t;
	char desc[128];
	int r = vv_txn_begin(st, name, 0, &t);
	if (r < 0)
		return r;
	if ((r = vv_history_target(st, name, target, to, desc, sizeof(desc))) < 0)
		goto out;
	if (vv_oid_eq(to, &t.cfg.root)) {
		r = 1;
		goto out;
	}
	int has = vv_odb_has(&st->odb, to);
	if (has < 0) {
		r = has;
		goto out;
	}
	if (!has) {
		r = vv_err(-EUCLEAN, "%s is gone from the store (its tree is missing)", desc);
		goto out;
	}
	int a = vv_env_py_minor(st, &t.cfg.root), b = vv_env_py_minor(st, to);
	vv_err_clear();
	if (a >= 0 && b >= 0 && a != b) {
		r = vv_err(-EINVAL, "%s is for python3.%d, the env now uses python3.%d (recreate "
			   "it with `venvctl create --python`)", desc, b, a);
		goto out;
	}
	t.cfg.root = *to;
	r = vv_txn_commit(&t, &t.cfg, "rollback", 0);
out:
	vv_txn_end(&t);
	return r;
}

int vv_envstate_snapshot(struct vv_store *st, const char *name, const char *tag)
{
	struct vv_envcfg cfg;
	int r = vv_history_tag_check(tag);
	if (r < 0 || (r = vv_env_load(st, name, &cfg)) < 0)
		return r;
	if ((r = vv_env_check_committed(st, name, &cfg.root)) == 0)
		r = vv_history_snapshot_add(st, name, tag, &cfg.root);
	vv_envcfg_release(&cfg);
	return r;
}
