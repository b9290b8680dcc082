/*
 * batch.c - one history entry per command. The changes a mount commits are recorded in
 * the env's history (history.h), and timed commits in the middle of a run of changes
 * extend the same entry. What ends an entry is the end of the command that made it:
 * the changes since the last commit belong to the process that made the first of them
 * (and the processes it starts); when a change comes from another process after that
 * one exited, the env is committed first and the entry closed, so `pip install a; pip
 * install b` are two entries and `venvctl rollback` undoes only b. While the first
 * process still runs, others' changes join its entry (two writers at once are one
 * entry, never a commit per alternation). The history's coalescing window stays as the
 * fallback for what this cannot tell (a process that leaves a child writing).
 *
 * Cost: one look at /proc when a change comes from another thread than the last one.
 */
#include "fs.h"

#include <stdio.h>

#include "util/error.h"

/* Is process tgid the batch's process or one it started? */
static bool in_batch(const struct vv_env *env, int tgid, int ppid)
{
	if (tgid == env->batch_pid)
		return true;
	for (int depth = 0; depth < 32 && ppid > 1; depth++) {
		if (ppid == env->batch_pid)
			return true;
		int t;
		if (vv_fs_proc_ids(ppid, &t, &ppid) < 0)
			return false;
	}
	return false;
}

void vv_fs_batch_visit(fuse_req_t req, fuse_ino_t ino)
{
	struct vv_node *n = vv_fs_node(ino);
	if (!n || !n->env)
		return;
	struct vv_env *env = n->env;
	int tid = (int)fuse_req_ctx(req)->pid;
	if (tid <= 0 || tid == env->batch_tid)
		return;
	int tgid, ppid;
	if (vv_fs_proc_ids(tid, &tgid, &ppid) < 0)
		return;
	if (env->batch_pid && !in_batch(env, tgid, ppid)) {
		if (vv_fs_proc_start(env->batch_pid) == env->batch_start)
			return; /* the batch's process still runs: a writer beside it */
		/* that command is over: what it changed is one entry (committed now if a
		 * timed commit did not already), and this change starts the next */
		if (vv_env_commit(env) < 0)
			fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		env->batch_pid = 0;
	}
	if (!env->batch_pid) {
		env->batch_pid = tgid;
		env->batch_start = vv_fs_proc_start(tgid);
	}
	env->batch_tid = tid;
}
