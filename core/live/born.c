/*
 * born.c - envs made by tools in the mount root. mkdir there makes a complete venv at
 * once; but a tool that makes its env itself (virtualenv, venv --copies,
 * virtualenv-clone) needs the new directory empty, as on any filesystem. So the env
 * the maker looks into becomes unborn (empty, nothing synthesized) and is filled by the
 * maker alone; once the maker lets go (fs/unborn.c decides when) it is born as what the
 * maker made: a venv on the interpreter its pyvenv.cfg names, or a plain folder.
 * docs/design.md "Envs made by tools" has the rule and its limits.
 */
#include "live/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env/journal.h"
#include "util/error.h"
#include "store/store.h"
#include "store/tree.h"

/* pyvenv.cfg bigger than this is not a venv's */
#define CFG_MAX (1u << 20)

/* Point the env's root node at tree root (clean, nothing looked up below it). */
static void root_reset(struct vv_env *env, const vv_oid *root)
{
	struct vv_node *r = env->root;
	if (r->base) {
		vv_tree_unref(r->base);
		r->base = NULL;
	}
	vv_times_unref(r->times);
	r->times = NULL;
	free(r->kids);
	r->kids = NULL;
	r->nkids = r->capkids = 0;
	r->mat = r->dirty = r->canon = false;
	r->oid = *root;
}

/* Save env's state (and a new committed root, which starts a new journal). */
static int save_state(struct vv_env *env, uint8_t state, const vv_oid *root)
{
	struct vv_envcfg cfg = env->cfg;
	cfg.state = state;
	if (root)
		cfg.root = *root;
	int r = vv_live_save_cfg(env, &cfg);
	if (r < 0)
		return r;
	env->cfg.state = state;
	if (root) {
		env->cfg.root = *root;
		if ((r = vv_journal_reset(env->set->st, env->name, root, &env->jfd)) < 0)
			return r;
		env->jname_synced = env->jboot = false;
		env->jrecords = 0;
		env->first_change_ns = 0;
	}
	return 0;
}

static void syn_free(struct vv_env *env)
{
	for (size_t s = 0; s < env->nsyn; s++) {
		if (env->syn[s])
			vv_live_node_free(env->syn[s]);
		env->syn[s] = NULL;
	}
	env->nsyn = 0;
	env->hidden = 0;
}

bool vv_env_is_empty(struct vv_env *env)
{
	return !env->root || vv_live_dir_empty(env->root);
}

int vv_env_unborn(struct vv_env *env)
{
	int r = vv_env_load_root(env);
	if (r < 0)
		return r;
	if (env->cfg.state != VV_ENV_VENV || vv_env_has_changes(env) || env->root->nkids)
		return -EBUSY;
	for (size_t s = 0; s < env->nsyn; s++)
		if (env->syn[s] && env->syn[s]->nlookup)
			return -EBUSY;
	vv_oid empty;
	if ((r = vv_live_env_writable(env)) < 0 || (r = vv_tree_empty(env->set->st, &empty)) < 0 ||
	    (r = save_state(env, VV_ENV_UNBORN, &empty)) < 0) {
		vv_env_release_idle(env);
		return vv_err_prefix(r, "env '%s'", env->name);
	}
	root_reset(env, &empty);
	syn_free(env);
	vv_env_release_idle(env);
	return 0;
}

/* The content of regular file n (at most CFG_MAX bytes), malloc'd and NUL-terminated. */
static int read_small(struct vv_node *n, char **out, size_t *len)
{
	uint64_t size = n->stage ? n->ssize : n->size;
	if (size > CFG_MAX)
		return vv_err(-EINVAL, "pyvenv.cfg: larger than %u bytes", CFG_MAX);
	struct vv_readsrc src;
	int r = vv_node_read_source(n, &src);
	if (r < 0)
		return r;
	char *buf = malloc(size + 1);
	ssize_t got = -1;
	if (buf && src.fd)
		got = pread(src.fd->fd, buf, size, (off_t)src.skip);
	if (got < 0)
		r = buf ? vv_err(-errno, "pyvenv.cfg: cannot read it: %s", strerror(errno)) : -ENOMEM;
	if (src.fd)
		vv_fdref_put(src.fd);
	free((char *)src.prefix);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[got] = 0;
	*out = buf;
	*len = (size_t)got;
	return 0;
}

/* What the maker made with a pyvenv.cfg at the top: that file is applied like an edit
 * (the interpreter, prompt, kept keys), then shown generated; the rest stays. */
static int born_venv(struct vv_env *env, struct vv_node *cfgn)
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_small(cfgn, &buf, &len);
	if (r == 0)
		r = vv_live_pyvenv_apply(env, buf, len);
	free(buf);
	if (r < 0)
		return r;
	if ((r = vv_node_unlink(env->root, "pyvenv.cfg")) < 0)
		return r;
	vv_live_inval_entry(env->root, "pyvenv.cfg");
	return save_state(env, VV_ENV_MADE, NULL);
}

int vv_env_born(struct vv_env *env)
{
	if (env->cfg.state != VV_ENV_UNBORN || env->set->readonly)
		return 0;
	int r = vv_env_load_root(env);
	if (r == 0)
		r = vv_live_env_writable(env);
	if (r < 0)
		return vv_err_prefix(r, "env '%s'", env->name);
	struct vv_node *root = env->root, *cfgn = NULL;
	if (vv_live_dir_empty(root)) {
		/* nothing made (or all of it removed again): the venv mkdir makes */
		if (vv_env_has_changes(env) &&
		    ((r = vv_env_commit(env)) < 0 || (r = vv_live_env_writable(env)) < 0))
			return r;
		if (!env->py_ok) {
			r = save_state(env, VV_ENV_FOLDER, NULL);
		} else {
			vv_oid skel = env->cfg.without_pip ? env->py.skel_nopip : env->py.skel_pip;
			if ((r = save_state(env, VV_ENV_VENV, &skel)) == 0)
				root_reset(env, &skel);
		}
	} else if (vv_node_lookup(root, "pyvenv.cfg", &cfgn) == 0 && cfgn->kind == VV_REG &&
		   (r = born_venv(env, cfgn)) == 0) {
		/* a venv its maker made */
	} else {
		if (cfgn && r < 0)
			fprintf(stderr, "venvfs: env '%s' is a folder, not a venv: its pyvenv.cfg "
				"was not usable: %s\n", env->name, vv_errmsg());
		r = save_state(env, VV_ENV_FOLDER, NULL);
	}
	if (r == 0 && (r = vv_live_make_syn(env)) == 0)
		env->epoch++;
	vv_env_release_idle(env);
	return r < 0 ? vv_err_prefix(r, "env '%s'", env->name) : 0;
}
