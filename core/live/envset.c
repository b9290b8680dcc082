/*
 * envset.c - loading an env and what happens to whole envs, and the env that holds the
 * mount root's own files.
 *
 * Loading: the env's config and interpreter, its root node and synthesized entries,
 * and the replay of a journal a stopped writer left (under the env's lock). The set:
 * opening and closing it (closing commits every env), creating, removing and renaming
 * envs, following changes other processes made to envs/NAME (vv_envset_sync), and a
 * new owner or root mode of an env.
 */
#include "live/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/envlock.h"
#include "env/txn.h"
#include "env/journal.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/strv.h"
#include "pkg/seed.h"
#include "store/store.h"
#include "python/synth.h"
#include "store/tree.h"

static struct vv_node *syn_node(struct vv_env *env, uint8_t kind, const char *target, uint16_t mode)
{
	struct vv_node *n = vv_live_node_new(env, "", 0, kind);
	if (!n)
		return NULL;
	n->mode = mode;
	n->mtime_ns = n->ctime_ns = n->atime_ns = env->mtime_ns;
	if (target && !(n->target = strdup(target))) {
		vv_live_node_free(n);
		return NULL;
	}
	return n;
}

static int env_load_cfg(struct vv_env *env)
{
	if (env->cfg.python)
		return 0;
	int r = vv_env_load(env->set->st, env->name, &env->cfg);
	if (r < 0)
		return r;
	struct vv_pyowner owner = { env->cfg.uid, env->cfg.gid };
	if (vv_python_load(env->set->st, env->cfg.python, &owner, &env->py) == 0) {
		env->py_ok = true;
	} else {
		fprintf(stderr, "venvfs: env '%s': interpreter %s: %s\n", env->name,
			env->cfg.python, vv_errmsg());
	}
	return 0;
}

/* Replay journal/NAME unless another writer holds the env's lock: a live daemon's
 * journal is its own (this mount shows the committed root until it commits). One that
 * a writer left behind when it stopped is replayed under the lock, which is kept until
 * the replay is committed. */
static int env_replay(struct vv_env *env)
{
	struct vv_envset *set = env->set;
	int r = vv_journal_pending(set->st, env->name, &env->cfg.root);
	if (r <= 0)
		return r;
	if (set->readonly) {
		if (vv_envlock_held(set->st, env->name) > 0) {
			fprintf(stderr, "venvfs: env '%s': another writer is changing it; showing "
				"its committed state\n", env->name);
			return 0;
		}
		return vv_live_replay(env);
	}
	if (env->lockfd < 0) {
		if ((r = vv_envlock_take(set->st, env->name, &env->lockfd)) == -EBUSY) {
			fprintf(stderr, "venvfs: showing the committed state: %s\n", vv_errmsg());
			return 0;
		}
		if (r < 0)
			return r;
		/* the writer may have committed between the check and the lock */
		if ((r = vv_journal_pending(set->st, env->name, &env->cfg.root)) <= 0) {
			vv_env_release_idle(env);
			return r;
		}
	}
	r = vv_live_replay(env);
	if (r > 0)
		fprintf(stderr, "venvfs: env '%s': replayed %d change%s a stopped writer left "
			"uncommitted in journal/%s\n", env->name, r, r == 1 ? "" : "s", env->name);
	else if (r == 0 &&
		 (r = vv_journal_reset(set->st, env->name, &env->cfg.root, &env->jfd)) == 0) {
		env->jname_synced = env->jboot = false;
		vv_env_release_idle(env); /* nothing usable: not pending any more */
	}
	return r;
}

int vv_env_load_root(struct vv_env *env)
{
	if (env->root)
		return 0;
	if (env->removed)
		return -ENOENT;
	int r = env_load_cfg(env);
	if (r < 0)
		return r;
	struct vv_node *root = vv_live_node_new(env, env->name, strlen(env->name), VV_DIR);
	if (!root)
		return -ENOMEM;
	root->mode = (uint16_t)vv_envcfg_mode(&env->cfg);
	root->oid = env->cfg.root;
	root->mtime_ns = root->ctime_ns = root->atime_ns = env->mtime_ns;
	env->root = root;
	if ((r = vv_live_make_syn(env)) < 0)
		return r;
	r = env_replay(env);
	if (r < 0)
		return vv_err_prefix(r, "env '%s': journal", env->name);
	return 0;
}

/* The synthesized entries of a venv, or only pyvenv.cfg for a venv a tool made (none
 * for an unborn env or a folder, or without interpreter facts). */
int vv_live_make_syn(struct vv_env *env)
{
	if (env->py_ok && env->cfg.state == VV_ENV_MADE && !env->nsyn) {
		/* a venv a tool made: its files are the tool's, pyvenv.cfg stays live */
		struct vv_node *n = syn_node(env, VV_SYN_FILE, NULL, 0644);
		if (!n)
			return -ENOMEM;
		n->synth_which = VV_SYNTH_PYVENV_CFG;
		env->syn[SYN_FILES + VV_SYNTH_PYVENV_CFG] = n;
		env->nsyn = SYN_COUNT;
	} else if (env->py_ok && env->cfg.state == VV_ENV_VENV && !env->nsyn) {
		char pyx[32];
		vv_python_name(&env->py, pyx);
		env->syn[SYN_LIB64] = syn_node(env, VV_SYN_LINK, "lib", 0777);
		env->syn[SYN_PY] = syn_node(env, VV_SYN_LINK, pyx, 0777);
		env->syn[SYN_PY3] = syn_node(env, VV_SYN_LINK, pyx, 0777);
		env->syn[SYN_PYX] = syn_node(env, VV_SYN_LINK, env->py.exe, 0777);
		bool oom = !env->syn[SYN_LIB64] || !env->syn[SYN_PY] || !env->syn[SYN_PY3] ||
			   !env->syn[SYN_PYX];
		for (int f = 0; f < VV_SYNTH_NFILES; f++) {
			if (!vv_synth_exists((enum vv_synth_file)f, &env->py))
				continue;
			struct vv_node *n = syn_node(env, VV_SYN_FILE, NULL, 0644);
			if (!n) {
				oom = true;
				continue;
			}
			n->synth_which = (uint8_t)f;
			env->syn[SYN_FILES + f] = n;
		}
		env->nsyn = SYN_COUNT;
		if (oom)
			return -ENOMEM;
	}
	return 0;
}

int vv_env_walk(struct vv_env *env, const char *relpath, struct vv_node **out)
{
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	return vv_live_walk(env, relpath, out);
}

/* ---- envset -------------------------------------------------------------------- */

int vv_envset_open(struct vv_envset **out, struct vv_store *st, const struct vv_envset_opts *o)
{
	struct vv_envset *set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->st = st;
	set->without_pip = o->without_pip;
	set->readonly = o->readonly;
	set->mtime_ns = vv_now_ns();
	int r = -ENOMEM;
	if (!(set->mountpoint = strdup(o->mountpoint)))
		goto fail;
	/* read-only: no file is ever created and no env made, so neither the empty
	 * object nor a seeded interpreter is needed (and neither may be written) */
	if (!set->readonly && (r = vv_odb_put_buf(&st->odb, "", 0, &set->empty_oid)) < 0)
		goto fail;
	if ((r = vv_python_resolve(st, o->python, &set->defpy)) < 0)
		goto fail;
	if (!set->readonly && (r = vv_seed_ensure(st, &set->defpy)) < 0)
		goto fail;
	char **names = NULL;
	size_t n = 0;
	if ((r = vv_env_list(st, &names, &n)) < 0)
		goto fail;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct vv_env *env;
		if ((r = vv_live_env_new(set, names[i], &env)) == 0 &&
		    (r = vv_live_envs_insert(set, env)) < 0)
			vv_live_env_free(env);
	}
	vv_strv_free(names, n);
	if (r < 0 || (r = vv_live_files_open(set)) < 0)
		goto fail;
	*out = set;
	return 0;
fail:
	vv_envset_close(set);
	return r;
}

/* b differs from a in its lock, owner or root mode only */
static bool lock_only_change(const struct vv_envcfg *a, const struct vv_envcfg *b)
{
	struct vv_envcfg t = *b;
	t.locked = a->locked;
	t.owned = a->owned;
	t.uid = a->uid;
	t.gid = a->gid;
	t.has_mode = a->has_mode;
	t.mode = a->mode;
	return !vv_live_cfg_equal(a, b) && vv_live_cfg_equal(a, &t);
}

int vv_envset_sync(struct vv_envset *set, const char *name)
{
	struct vv_env *env = vv_envset_find(set, name, strlen(name));
	struct vv_envcfg cfg;
	int r = vv_env_load(set->st, name, &cfg);
	if (r < 0 && r != -ENOENT)
		return r;
	bool exists = r == 0;
	int ret = VV_SYNC_NONE;
	if (env && env->cfg.python && exists && vv_live_cfg_equal(&env->cfg, &cfg)) {
		ret = VV_SYNC_NONE; /* our own write */
	} else if (env && env->cfg.python && exists && lock_only_change(&env->cfg, &cfg)) {
		/* only the lock changed (venvctl lock/unlock): apply it in place, so every
		 * node the kernel holds, a shell's cwd included, follows it at once; a
		 * commit of changes made before keeps the new flag. The same for a new
		 * owner or root mode (chown/chmod of the env through another mount). */
		env->cfg.locked = cfg.locked;
		env->cfg.owned = cfg.owned;
		env->cfg.uid = cfg.uid;
		env->cfg.gid = cfg.gid;
		env->cfg.has_mode = cfg.has_mode;
		env->cfg.mode = cfg.mode;
		if (env->root)
			env->root->mode = (uint16_t)vv_envcfg_mode(&cfg);
		ret = VV_SYNC_LOCK;
	} else if (env && vv_env_has_changes(env)) {
		fprintf(stderr, "venvfs: env '%s' was changed by another process while it has "
			"changes of its own; keeping this mount's version\n", name);
	} else if (env && !exists) {
		vv_live_envs_remove(set, env);
		vv_live_env_bury(set, env);
		ret = VV_SYNC_REMOVED;
	} else if (exists && (!env || env->root || env->cfg.python)) {
		struct vv_env *fresh;
		if ((r = vv_live_env_new(set, name, &fresh)) < 0) {
			vv_envcfg_release(&cfg);
			return r;
		}
		if (env) {
			vv_live_envs_remove(set, env);
			vv_live_env_bury(set, env);
		}
		vv_live_envs_insert(set, fresh);
		ret = env ? VV_SYNC_REPLACED : VV_SYNC_ADDED;
	}
	if (exists)
		vv_envcfg_release(&cfg);
	if (ret != VV_SYNC_NONE)
		set->mtime_ns = vv_now_ns();
	return ret;
}

/* Closing: stages nobody stored yet (the mount's publisher had no time for them) are
 * stored now, for a few seconds at most; a bigger one stays in stage/, named by the
 * journal the closing commit starts, and the next mount stores it. */
#define CLOSE_PUBLISH_NS (5 * 1000000000LL)

static bool past(void *arg)
{
	return vv_mono_ns() > *(int64_t *)arg;
}

static void publish_left(struct vv_envset *set)
{
	int64_t deadline = vv_mono_ns() + CLOSE_PUBLISH_NS;
	for (size_t i = 0; i < set->nenvs && !past(&deadline); i++) {
		struct vv_node *n;
		while ((n = vv_env_unpublished(set->envs[i])) && !past(&deadline)) {
			struct vv_publish p;
			bool need;
			if (vv_node_publish_begin(n, &p, &need) < 0 || !need)
				break;
			p.stop = past;
			p.stop_arg = &deadline;
			vv_publish_run(set->st, &p);
			int r = vv_node_publish_end(&p);
			if (r < 0 && r != -ECANCELED)
				fprintf(stderr, "venvfs: env '%s': storing a file: %s\n",
					set->envs[i]->name, vv_errmsg());
		}
	}
}

bool vv_env_journal_waiting(struct vv_env *env)
{
	if (env->root || env->removed || env->set->readonly)
		return false;
	struct stat sb;
	/* "venvfs-journal 1 " + 64 hex + "\n": more than that is a record */
	return fstatat(env->set->st->journalfd, env->name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(sb.st_mode) && sb.st_size > 17 + VV_OID_HEX + 1;
}

int vv_envset_close(struct vv_envset *set)
{
	if (!set)
		return 0;
	int ret = 0;
	publish_left(set);
	for (size_t i = 0; i < set->ndead; i++)
		vv_live_env_free(set->dead[i]);
	free(set->dead);
	for (size_t i = 0; i < set->nenvs; i++) {
		int r = vv_env_commit(set->envs[i]);
		if (r < 0) {
			fprintf(stderr, "venvfs: %s\n", vv_errmsg());
			ret = r;
		}
		vv_live_env_free(set->envs[i]);
	}
	free(set->envs);
	vv_python_release(&set->defpy);
	free(set->mountpoint);
	free(set);
	return ret;
}

int vv_envset_create(struct vv_envset *set, const char *name, struct vv_env **out)
{
	return vv_envset_create_as(set, name, getuid(), getgid(), -1, false, out);
}

int vv_envset_create_as(struct vv_envset *set, const char *name, uid_t uid, gid_t gid,
			int mode, bool unborn, struct vv_env **out)
{
	if (set->readonly)
		return -EROFS;
	int r = vv_env_name_check(name, strlen(name));
	if (r < 0)
		return r;
	if (vv_envset_find(set, name, strlen(name)))
		return -EEXIST;
	vv_oid empty;
	if (unborn && (r = vv_tree_empty(set->st, &empty)) < 0)
		return r;
	struct vv_envcfg cfg = {
		.python = set->defpy.exe,
		.root = unborn ? empty : set->without_pip ? set->defpy.skel_nopip : set->defpy.skel_pip,
		.state = unborn ? VV_ENV_UNBORN : VV_ENV_VENV,
		.without_pip = set->without_pip,
		.owned = true,
		.uid = uid,
		.gid = gid,
		.has_mode = mode >= 0,
		.mode = mode >= 0 ? (mode_t)mode & 07777 : 0,
	};
	if ((r = vv_txn_create(set->st, name, &cfg)) < 0)
		return r;
	struct vv_env *env;
	if ((r = vv_live_env_new(set, name, &env)) < 0)
		return r;
	if ((r = vv_live_envs_insert(set, env)) < 0) {
		vv_live_env_free(env);
		return r;
	}
	set->mtime_ns = vv_now_ns();
	*out = env;
	return 0;
}

int vv_envset_remove(struct vv_envset *set, const char *name)
{
	struct vv_env *env = vv_envset_find(set, name, strlen(name));
	if (!env)
		return -ENOENT;
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	if ((r = vv_live_env_writable(env)) < 0)
		return r;
	struct vv_node *root = env->root;
	if (!vv_live_dir_empty(root))
		return -ENOTEMPTY;
	if ((r = vv_txn_remove(set->st, name)) < 0)
		return r;
	vv_envlock_drop(set->st, name, env->lockfd);
	env->lockfd = -1;
	vv_journal_close(&env->jfd);
	env->removed = true;
	vv_live_envs_remove(set, env);
	set->mtime_ns = vv_now_ns();
	/* The kernel may still hold the root; keep the env alive (detached) until the
	 * envset closes. */
	if (env->root->nlookup == 0)
		vv_live_env_free(env);
	else
		vv_live_env_bury(set, env);
	return 0;
}

int vv_envset_rename(struct vv_envset *set, const char *from, const char *to, bool noreplace)
{
	struct vv_env *env = vv_envset_find(set, from, strlen(from));
	if (!env)
		return -ENOENT;
	int r = vv_env_name_check(to, strlen(to));
	if (r < 0)
		return r;
	if ((r = env_load_cfg(env)) < 0 || (r = vv_live_env_writable(env)) < 0)
		return r;
	if (vv_envset_find(set, to, strlen(to)))
		return noreplace ? -EEXIST : -ENOTEMPTY;
	/* both names' writer locks: from's is the env's (taken above) */
	int tofd;
	if ((r = vv_envlock_take(set->st, to, &tofd)) < 0) {
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		return r;
	}
	env->active++; /* the commit must not let from's lock go before the rename */
	if ((r = vv_env_commit(env)) == 0) {
		vv_journal_close(&env->jfd);
		r = vv_txn_rename(set->st, from, to);
	}
	env->active--;
	if (r < 0) {
		vv_envlock_release(tofd);
		vv_env_release_idle(env);
		return r;
	}
	/* from's lock file goes with the name; writers still open keep the env locked
	 * under its new name */
	vv_envlock_drop(set->st, from, env->lockfd);
	env->lockfd = -1;
	if (env->active)
		env->lockfd = tofd;
	else
		vv_envlock_release(tofd);
	char *nn = strdup(to);
	if (!nn)
		return -ENOMEM;
	vv_live_envs_remove(set, env);
	free(env->name);
	env->name = nn;
	if (env->root) {
		free(env->root->name);
		env->root->name = strdup(to);
	}
	vv_live_envs_insert(set, env);
	env->epoch++;
	set->mtime_ns = vv_now_ns();
	return 0;
}

int vv_env_set_owner(struct vv_env *env, long uid, long gid, int mode)
{
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	if ((r = vv_live_env_writable(env)) < 0)
		return r;
	struct vv_envcfg cfg = env->cfg;
	if (uid >= 0)
		cfg.uid = (uid_t)uid;
	if (gid >= 0)
		cfg.gid = (gid_t)gid;
	if (uid >= 0 || gid >= 0)
		cfg.owned = true;
	if (mode >= 0) {
		cfg.has_mode = true;
		cfg.mode = (mode_t)mode & 07777;
	}
	if (vv_live_cfg_equal(&cfg, &env->cfg) && cfg.has_mode == env->cfg.has_mode)
		return 0;
	/* committed like a pyvenv.cfg edit: the env file with the committed root, so the
	 * journal of changes not committed yet stays valid on top of it */
	if ((r = vv_live_save_cfg(env, &cfg)) < 0)
		return r;
	env->cfg.owned = cfg.owned;
	env->cfg.uid = cfg.uid;
	env->cfg.gid = cfg.gid;
	env->cfg.has_mode = cfg.has_mode;
	env->cfg.mode = cfg.mode;
	env->root->mode = (uint16_t)vv_envcfg_mode(&cfg);
	env->root->ctime_ns = vv_now_ns();
	return 0;
}

/* ---- the mount root's own files -------------------------------------------------- */

/* Tools keep files next to their envs (virtualenvwrapper's hook scripts, tox's lock
 * file, poetry's envs.toml), so the mount root holds plain files and symlinks as well as
 * envs. They are an env of their own under a reserved name (env.h VV_ROOT_ENV), a
 * folder no user env can name: journaled, committed, shared and collected like any
 * env's files, with no code of their own beyond this. */
static int files_add(struct vv_envset *set)
{
	struct vv_env *env;
	int r = vv_live_env_new(set, VV_ROOT_ENV, &env);
	if (r == 0 && (r = vv_live_envs_insert(set, env)) < 0)
		vv_live_env_free(env);
	if (r == 0)
		set->files = env;
	return r;
}

int vv_live_files_open(struct vv_envset *set)
{
	struct stat sb;
	if (fstatat(set->st->envfd, VV_ROOT_ENV, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : vv_err_sys(-errno, "cannot stat envs/%s", VV_ROOT_ENV);
	return files_add(set);
}

int vv_envset_files(struct vv_envset *set, bool make, struct vv_node **out)
{
	int r;
	if (!set->files) {
		if (!make)
			return -ENOENT;
		if (set->readonly)
			return -EROFS;
		struct vv_envcfg cfg = {
			.python = set->defpy.exe,
			.owned = true,
			.uid = getuid(),
			.gid = getgid(),
			.state = VV_ENV_FOLDER,
		};
		if ((r = vv_tree_empty(set->st, &cfg.root)) < 0 ||
		    ((r = vv_txn_create(set->st, VV_ROOT_ENV, &cfg)) < 0 && r != -EEXIST) ||
		    (r = files_add(set)) < 0)
			return vv_err_prefix(r, "files of the mount root");
	}
	if ((r = vv_env_load_root(set->files)) < 0)
		return r;
	*out = set->files->root;
	return 0;
}
