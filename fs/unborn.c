/*
 * unborn.c - who is making a new env, from the process ids FUSE requests carry.
 *
 * mkdir in the mount root makes a complete venv (mtree.h vv_envset_create_as) and
 * notes its maker: the thread that called mkdir, whose process is looked up in /proc
 * only at the first request inside the env (a mkdir stays free of /proc reads; a maker
 * gone by then is no tool filling the env). If the first request inside the env
 * comes from the maker itself, the maker is a tool that fills the directory it made
 * (virtualenv, venv, virtualenv-clone): the env becomes unborn (vv_env_unborn), empty
 * for everyone, and the maker and the processes it starts fill it. Any other process
 * asking first gets the complete venv (a program that makes an env and then runs its
 * bin/pip, a shell's `mkdir e && e/bin/python`). An unborn env is born (vv_env_born)
 * when the maker let go of it: at the first request of another process once the maker
 * exited or sent nothing for UNBORN_IDLE_NS, at the first request of a process it
 * started while the env is still empty, and by the worker once the maker exited.
 *
 * Process facts come from /proc (proc.c; a reused process id is not the maker: its
 * start time differs). docs/design.md "Envs made by tools" has the rule and its limits.
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>

#include "util/clock.h"
#include "util/error.h"

/* the maker is done with an env it sent nothing for this long (while others ask) */
#define UNBORN_IDLE_NS (2000LL * 1000 * 1000)
/* how far up the parent chain a descendant of the maker is looked for */
#define MAX_DEPTH 32

static bool maker_alive(const struct vv_env *env)
{
	return env->maker > 0 && vv_fs_proc_start(env->maker) == env->maker_start;
}

void vv_fs_unborn_made(struct vv_env *env, fuse_req_t req)
{
	/* only the thread: /proc is read at the first request inside the env, so a mkdir
	 * that nobody follows with a request costs no /proc read */
	env->maker = 0;
	env->maker_tid = (int)fuse_req_ctx(req)->pid;
	env->maker_seen_ns = vv_now_ns();
	env->fresh = env->maker_tid > 0;
}

/* The maker's process from the thread that called mkdir; false when that thread is
 * gone (a `mkdir` program that exited: not a tool filling the env). */
static bool maker_known(struct vv_env *env)
{
	int tgid, ppid, tid = env->maker_tid;
	env->maker_tid = 0;
	if (!env->maker && tid > 0 && vv_fs_proc_ids(tid, &tgid, &ppid) == 0 &&
	    (env->maker_start = vv_fs_proc_start(tgid)) != 0)
		env->maker = tgid;
	return env->maker != 0;
}

/* 1: process tid is the maker, 2: one the maker started, 0: another one. */
static int kin(const struct vv_env *env, int tid)
{
	int tgid, ppid;
	if (vv_fs_proc_ids(tid, &tgid, &ppid) < 0)
		return 0;
	if (tgid == env->maker)
		return 1;
	for (int depth = 0; depth < MAX_DEPTH && ppid > 1; depth++) {
		if (ppid == env->maker)
			return maker_alive(env) ? 2 : 0;
		int t;
		if (vv_fs_proc_ids(ppid, &t, &ppid) < 0)
			return 0;
	}
	return 0;
}

static void born(struct vv_fs *fs, struct vv_env *env)
{
	env->maker = 0;
	env->fresh = false;
	int r = vv_env_born(env);
	if (r < 0 && r != -EBUSY) /* busy: another writer is making it; it bears it */
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
	vv_fs_inval_env(fs, env);
}

static void visit(struct vv_fs *fs, fuse_req_t req, struct vv_env *env, bool inside)
{
	if (env->fresh && !inside)
		return; /* the env's own directory: nothing seen inside it yet */
	if (env->fresh && !maker_known(env)) {
		env->fresh = false; /* its maker is gone: the venv stays one */
		return;
	}
	if (!env->maker) {
		/* unborn with no maker known: left so by a daemon that stopped */
		born(fs, env);
		return;
	}
	int who = kin(env, (int)fuse_req_ctx(req)->pid);
	int64_t now = vv_now_ns();
	if (env->fresh) {
		env->fresh = false;
		if (who == 1 && vv_env_unborn(env) == 0)
			env->maker_seen_ns = now;
		else
			env->maker = 0; /* somebody else saw the venv first: it stays one */
		return;
	}
	if (who == 1 || (who == 2 && !vv_env_is_empty(env))) {
		env->maker_seen_ns = now;
		return;
	}
	if (who == 0 && maker_alive(env) && now - env->maker_seen_ns < UNBORN_IDLE_NS)
		return; /* the maker is still at work: others see it as it is */
	born(fs, env);
}

void vv_fs_unborn_visit(fuse_req_t req, fuse_ino_t ino, bool kids)
{
	struct vv_node *n = vv_fs_node(ino);
	if (!n || !n->env || (!n->env->fresh && n->env->cfg.state != VV_ENV_UNBORN))
		return;
	visit(vv_fs_of(req), req, n->env, kids || n != n->env->root);
}

void vv_fs_unborn_visit_env(fuse_req_t req, struct vv_env *env)
{
	if (env && env->cfg.state == VV_ENV_UNBORN)
		visit(vv_fs_of(req), req, env, false);
}

void vv_fs_unborn_tick(struct vv_fs *fs)
{
	struct vv_envset *set = fs->set;
	for (size_t i = 0; i < set->nenvs; i++) {
		struct vv_env *env = set->envs[i];
		if (!env->maker || maker_alive(env))
			continue;
		if (env->cfg.state == VV_ENV_UNBORN && env->root)
			born(fs, env);
		env->maker = 0;
		env->fresh = false;
	}
}
