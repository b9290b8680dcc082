/*
 * envs.c - the env objects of an envset and an env's writer lock.
 *
 * Making, freeing and burying env objects (a detached env stays alive while the kernel
 * may still reach its nodes) and the set's sorted array of them; taking the writer lock
 * before an env's first change (env_lock: an env found stale is reloaded), which every
 * change goes through (vv_live_env_writable), and releasing it once nothing is pending.
 */
#include "live/live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "env/envlock.h"
#include "env/journal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/vec.h"
#include "store/store.h"

int vv_live_env_new(struct vv_envset *set, const char *name, struct vv_env **out)
{
	struct vv_env *env = calloc(1, sizeof(*env));
	if (!env || !(env->name = strdup(name))) {
		free(env);
		return -ENOMEM;
	}
	env->set = set;
	env->jfd = -1;
	env->lockfd = -1;
	struct stat s;
	if (fstatat(set->st->envfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0)
		env->mtime_ns = (int64_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
	else
		env->mtime_ns = vv_now_ns();
	*out = env;
	return 0;
}

void vv_live_env_free(struct vv_env *env)
{
	vv_journal_close(&env->jfd);
	free(env->retired);
	vv_envlock_release(env->lockfd);
	if (env->root) {
		/* free the whole materialized graph */
		struct vv_node *stack_root = env->root;
		env->root = NULL;
		stack_root->nlookup = 0;
		stack_root->pins = 0;
		/* vv_live_node_drop frees recursively only nodes without references; at
		 * teardown every reference is gone, so clear them on the way */
		struct vv_node **todo = NULL;
		size_t n = 0, cap = 0;
		if (VV_GROW(todo, n, cap, 64) == 0)
			todo[n++] = stack_root;
		while (n) {
			struct vv_node *x = todo[--n];
			for (size_t i = 0; i < x->nkids; i++) {
				if (VV_GROW(todo, n, cap, 64) < 0)
					break;
				todo[n++] = x->kids[i];
			}
			vv_live_node_free(x);
		}
		free(todo);
	}
	for (size_t s = 0; s < env->nsyn; s++)
		if (env->syn[s])
			vv_live_node_free(env->syn[s]);
	vv_envcfg_release(&env->cfg);
	vv_python_release(&env->py);
	free(env->name);
	free(env);
}

/* Keep a detached env alive until the envset closes (the kernel may hold its nodes). */
void vv_live_env_bury(struct vv_envset *set, struct vv_env *env)
{
	vv_journal_close(&env->jfd);
	vv_envlock_release(env->lockfd);
	env->lockfd = -1;
	env->removed = true;
	if (env->root) {
		env->root->unlinked = true;
		env->root->parent = NULL;
	}
	if (VV_GROW(set->dead, set->ndead, set->capdead, 8) < 0)
		return; /* leaked rather than freed under the kernel's feet */
	set->dead[set->ndead++] = env;
}

static size_t env_index(struct vv_envset *set, const char *name, size_t len, bool *found)
{
	size_t lo = 0, hi = set->nenvs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = vv_live_kid_cmp(name, len, set->envs[mid]->name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

int vv_live_envs_insert(struct vv_envset *set, struct vv_env *env)
{
	bool found;
	size_t idx = env_index(set, env->name, strlen(env->name), &found);
	if (found)
		return -EEXIST;
	if (VV_GROW(set->envs, set->nenvs, set->capenvs, 16) < 0)
		return -ENOMEM;
	memmove(set->envs + idx + 1, set->envs + idx, (set->nenvs - idx) * sizeof(*set->envs));
	set->envs[idx] = env;
	set->nenvs++;
	return 0;
}

void vv_live_envs_remove(struct vv_envset *set, struct vv_env *env)
{
	bool found;
	size_t idx = env_index(set, env->name, strlen(env->name), &found);
	if (!found || set->envs[idx] != env)
		return;
	memmove(set->envs + idx, set->envs + idx + 1, (set->nenvs - idx - 1) * sizeof(*set->envs));
	set->nenvs--;
}

struct vv_env *vv_envset_find(struct vv_envset *set, const char *name, size_t len)
{
	bool found;
	size_t idx = env_index(set, name, len, &found);
	return found && set->envs[idx] != set->files ? set->envs[idx] : NULL;
}

bool vv_live_cfg_equal(const struct vv_envcfg *a, const struct vv_envcfg *b)
{
	return a->python && b->python && !strcmp(a->python, b->python) &&
	       vv_oid_eq(&a->root, &b->root) && a->system_site == b->system_site &&
	       a->without_pip == b->without_pip && a->locked == b->locked &&
	       a->owned == b->owned && a->uid == b->uid && a->gid == b->gid &&
	       vv_envcfg_mode(a) == vv_envcfg_mode(b) &&
	       !(a->prompt ? !b->prompt || strcmp(a->prompt, b->prompt) : !!b->prompt) &&
	       a->no_command == b->no_command && a->state == b->state &&
	       !(a->pykeys ? !b->pykeys || strcmp(a->pykeys, b->pykeys) : !!b->pykeys);
}

/* ---- the writer lock ----------------------------------------------------------- */

/* Replace env by a fresh, unloaded one of the same name (none if envs/NAME is gone):
 * its loaded view is stale. The kernel's entry for the name is invalidated. */
static int env_reload(struct vv_envset *set, struct vv_env *env, bool exists)
{
	struct vv_env *fresh = NULL;
	int r;
	if (exists && (r = vv_live_env_new(set, env->name, &fresh)) < 0)
		return r;
	vv_live_envs_remove(set, env);
	vv_live_env_bury(set, env);
	if (fresh)
		vv_live_envs_insert(set, fresh);
	set->mtime_ns = vv_now_ns();
	if (set->inval_entry)
		set->inval_entry(set->inval_ctx, NULL, env->name);
	return 0;
}

/* Take env's writer lock for a change (see mtree.h): -EBUSY if another writer holds
 * it, -ESTALE if the loaded view turned out stale (the env is reloaded). */
static int env_lock(struct vv_env *env)
{
	struct vv_envset *set = env->set;
	int fd, r = vv_envlock_take(set->st, env->name, &fd);
	if (r < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		return r;
	}
	struct vv_envcfg now;
	bool stale = false, exists = true;
	r = vv_env_load(set->st, env->name, &now);
	if (r == -ENOENT) {
		stale = true;
		exists = false;
	} else if (r < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		vv_envlock_release(fd);
		return r;
	} else {
		/* another writer committed since we loaded it, or one stopped with changes
		 * not committed (its journal is replayed by the reload) */
		stale = env->cfg.python && (!vv_live_cfg_equal(&env->cfg, &now) ||
					    vv_journal_pending(set->st, env->name, &now.root) > 0);
		vv_envcfg_release(&now);
	}
	if (stale) {
		vv_envlock_release(fd);
		fprintf(stderr, "venvfs: env '%s' was changed by another writer since this mount "
			"loaded it: reloaded (the request is retried)\n", env->name);
		r = env_reload(set, env, exists);
		return r < 0 ? r : -ESTALE;
	}
	/* another writer may have replaced journal/NAME meanwhile: append to the current
	 * one */
	vv_journal_close(&env->jfd);
	env->lockfd = fd;
	return 0;
}

/* Every change to an env starts here. Writes into env are refused with -EROFS when the
 * envset is read-only (venvfs -o ro) or the env is locked (envs/NAME `locked = true`);
 * the first change takes the env's writer lock (env_lock). Journal replay rebuilds
 * what was already written, so it is never refused. A detached env (replaced or
 * removed behind a process whose cwd is inside) is stale. */
int vv_live_env_writable(struct vv_env *env)
{
	if (env->replaying)
		return 0;
	if (env->set->readonly || env->cfg.locked)
		return -EROFS;
	if (env->removed)
		return -ESTALE;
	return env->lockfd >= 0 ? 0 : env_lock(env);
}

bool vv_env_release_idle(struct vv_env *env)
{
	if (env->lockfd < 0)
		return true;
	/* a stage the journal names is a change not committed yet, even unpublished */
	if (env->active || vv_env_has_changes(env) || env->staged)
		return false;
	vv_envlock_release(env->lockfd);
	env->lockfd = -1;
	return true;
}

bool vv_env_has_changes(const struct vv_env *env)
{
	return env->root && (env->root->dirty || env->jrecords);
}
