/*
 * pyvenv.c - edits of synthesized files, which is venv policy: an edit of pyvenv.cfg
 * (written and closed, or saved by rename) is parsed the way CPython reads it and
 * applied to the env's settings (system site-packages, prompt, interpreter); what
 * venvfs seeded for an old setup and nobody changed is then taken out (prune_seed).
 * Edits of other synthesized files are accepted and not kept.
 */
#include "live/live.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "env/pykeys.h"
#include "python/synth.h"
#include "store/tree.h"

/* The id of the entry at path (e.g. "lib/python3.11/site-packages") in tree root. */
static int tree_path_oid(struct vv_store *st, const vv_oid *root, const char *path, vv_oid *out)
{
	vv_oid cur = *root;
	const char *p = path;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct vv_tree *t;
		int r = vv_tree_get(st, &cur, &t);
		if (r < 0)
			return r;
		const struct vv_tree_ent *e = vv_tree_find(t, p, len);
		if (e)
			cur = e->oid;
		vv_tree_unref(t);
		if (!e)
			return -ENOENT;
		p += len + (slash ? 1 : 0);
	}
	*out = cur;
	return 0;
}

/* Is node n (looked up at path in the env) still exactly what skeleton skel has there? */
static bool is_seeded(struct vv_env *env, const vv_oid *skel, const char *path, struct vv_node *n)
{
	vv_oid o;
	if (vv_oid_is_zero(skel) || tree_path_oid(env->set->st, skel, path, &o) < 0)
		return false;
	return !n->dirty && !n->stage && vv_oid_eq(&n->oid, &o);
}

/* `python -m venv` rewrote pyvenv.cfg for another interpreter (newpy) or without pip:
 * take out what venvfs seeded for the old setup and nobody changed since - the old
 * lib/python3.X and its pip scripts, or pip itself - so the env looks like the one venv
 * makes. Anything the user changed stays. */
static void prune_seed(struct vv_env *env, const struct vv_python *oldpy, bool newpy,
		       bool newminor, bool drop_pip)
{
	char pyx[32], sp[96], path[160];
	vv_python_name(oldpy, pyx);
	snprintf(sp, sizeof(sp), "lib/%s/site-packages", pyx);
	struct vv_node *site, *n;
	if (vv_live_walk(env, sp, &site) < 0)
		return;
	bool was_pip = is_seeded(env, &oldpy->skel_pip, sp, site);
	bool was_nopip = is_seeded(env, &oldpy->skel_nopip, sp, site);
	if (!was_pip && !was_nopip)
		return;
	if (newpy && newminor) {
		struct vv_node *lib, *inc;
		if (vv_live_walk(env, "lib", &lib) == 0)
			vv_live_rm_r(lib, pyx);
		if (vv_live_walk(env, "include", &inc) == 0 && vv_node_lookup(inc, pyx, &n) == 0 &&
		    vv_live_dir_empty(n))
			vv_live_rm_r(inc, pyx);
	} else if (drop_pip && was_pip) {
		struct vv_tree *t;
		vv_oid so;
		if (tree_path_oid(env->set->st, &oldpy->skel_pip, sp, &so) == 0 &&
		    vv_tree_get(env->set->st, &so, &t) == 0) {
			for (size_t i = 0; i < t->n; i++)
				vv_live_rm_r(site, t->ents[i].name);
			vv_tree_unref(t);
		}
	} else {
		return;
	}
	/* the seeded pip scripts */
	struct vv_node *bin;
	const char *scripts[] = { "pip", "pip3", NULL };
	char pipx[40];
	snprintf(pipx, sizeof(pipx), "pip%d.%d", oldpy->major, oldpy->minor);
	if (!was_pip || vv_live_walk(env, "bin", &bin) < 0)
		return;
	for (int i = 0; i < 3; i++) {
		const char *s = i < 2 ? scripts[i] : pipx;
		snprintf(path, sizeof(path), "bin/%s", s);
		if (vv_node_lookup(bin, s, &n) == 0 && is_seeded(env, &oldpy->skel_pip, path, n))
			vv_live_rm_r(bin, s);
	}
}

/* The `command` venvfs generates for env with these settings (NULL before 3.11). */
static char *synth_command(struct vv_env *env, const char *path, const struct vv_envcfg *cfg,
			   const struct vv_python *py)
{
	struct vv_synth_env se = { .path = path, .name = env->name, .prompt = cfg->prompt,
				   .system_site = cfg->system_site,
				   .without_pip = cfg->without_pip, .py = py };
	char *c = NULL;
	vv_synth_pyvenv_command(&se, &c);
	return c;
}

/* The lines of buf that venvfs keeps for the tool that wrote them (env/pykeys.h), as
 * "KEY = VALUE\n" in their order: all but the keys venvfs owns, lines with an empty key,
 * and `command` unless keep_command. *out is NULL when none are left; -EINVAL (nothing
 * changes) beyond the bounds or with control characters. */
static int kept_lines(const char *buf, size_t len, bool keep_command, char **out)
{
	char *text = NULL;
	size_t tlen = 0;
	*out = NULL;
	FILE *f = open_memstream(&text, &tlen);
	if (!f)
		return vv_err(-ENOMEM, "out of memory");
	const char *p = buf, *end = buf + len, *ks, *vs;
	size_t kl, vl;
	while (vv_pycfg_next(&p, end, &ks, &kl, &vs, &vl)) {
		if (kl == 0 || vv_pycfg_owned(ks, kl) ||
		    (!keep_command && kl == 7 && !strncasecmp(ks, "command", 7)))
			continue;
		fprintf(f, "%.*s = %.*s\n", (int)kl, ks, (int)vl, vs);
	}
	bool bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		free(text);
		return vv_err(-ENOMEM, "out of memory");
	}
	int r = vv_pykeys_check(text, tlen, "pyvenv.cfg");
	if (r < 0 || tlen == 0)
		free(text);
	else
		*out = text;
	return r;
}

/* Parse pyvenv.cfg the way CPython does (site.py / getpath: split each line at the first
 * '=', strip both sides, keys case-insensitive), and apply it: what venvfs owns
 * (include-system-site-packages, prompt, and the interpreter: executable, else
 * home/python3.X for `version`) changes the env's settings; every other line is kept
 * for the tool that wrote it (kept_lines), `command` too unless it is the one venvfs
 * shows or would show. Anything that does not make a working env, or kept lines beyond
 * their bounds, is -EINVAL and changes nothing. */
int vv_live_pyvenv_apply(struct vv_env *env, const char *buf, size_t len)
{
	struct vv_envcfg cfg = env->cfg;
	char *home = NULL, *exe = NULL, *version = NULL, *prompt = NULL, *command = NULL;
	char *keys = NULL;
	bool without_pip = env->cfg.without_pip;
	int r = 0;
	const char *p = buf, *end = buf + len;
	if (memchr(buf, 0, len))
		return vv_err(-EINVAL, "pyvenv.cfg: NUL byte");
	const char *ks, *vs;
	size_t kl, vl;
	while (r == 0 && vv_pycfg_next(&p, end, &ks, &kl, &vs, &vl)) {
		char *v = strndup(vs, vl);
		if (!v) {
			r = -ENOMEM;
			break;
		}
		if (kl == 4 && !strncasecmp(ks, "home", 4)) {
			free(home), home = v;
		} else if (kl == 10 && !strncasecmp(ks, "executable", 10)) {
			free(exe), exe = v;
		} else if (kl == 7 && !strncasecmp(ks, "version", 7)) {
			free(version), version = v;
		} else if (kl == 6 && !strncasecmp(ks, "prompt", 6)) {
			/* venv writes repr(prompt): strip one pair of matching quotes */
			if (vl >= 2 && (v[0] == '\'' || v[0] == '"') && v[vl - 1] == v[0]) {
				memmove(v, v + 1, vl - 2);
				v[vl - 2] = 0;
			}
			free(prompt), prompt = v;
		} else if (kl == 28 && !strncasecmp(ks, "include-system-site-packages", 28)) {
			if (!strcasecmp(v, "true"))
				cfg.system_site = true;
			else if (!strcasecmp(v, "false"))
				cfg.system_site = false;
			else
				r = vv_err(-EINVAL, "pyvenv.cfg: include-system-site-packages "
					   "must be true or false, not '%s'", v);
			free(v);
		} else if (kl == 7 && !strncasecmp(ks, "command", 7)) {
			without_pip = strstr(v, " --without-pip") != NULL;
			free(command), command = v;
		} else {
			free(v); /* other tools' keys: kept_lines */
		}
	}
	struct vv_python py = { 0 };
	bool newpy = false;
	if (r == 0 && !home)
		r = vv_err(-EINVAL, "pyvenv.cfg: no 'home' line (the interpreter would not see a venv)");
	if (r == 0) {
		/* the interpreter: `executable`, else home/python3.X from `version` */
		char path[PATH_MAX], real[PATH_MAX];
		int major = 0, minor = 0;
		if (exe)
			snprintf(path, sizeof(path), "%s", exe);
		else if (version && sscanf(version, "%d.%d", &major, &minor) == 2)
			snprintf(path, sizeof(path), "%s/python%d.%d", home, major, minor);
		else
			snprintf(path, sizeof(path), "%s/python3", home);
		/* Resolved like realpath(3), but the daemon runs a new interpreter to learn
		 * about it: only one that no other user can have put there (a root daemon
		 * serves every user), and never through this mount (its lookups would wait
		 * for this very request). */
		int t = vv_path_trusted(path, geteuid(), env->set->mountpoint, real);
		if (t < 0 && !strcmp(path, env->cfg.python))
			snprintf(real, sizeof(real), "%s", path); /* unchanged */
		else if (t == -EPERM)
			r = vv_err_prefix(-EPERM, "pyvenv.cfg: interpreter '%s' not run", path);
		else if (t < 0)
			r = vv_err_prefix(-EINVAL, "pyvenv.cfg: interpreter '%s'", path);
		/* It runs (if it looks like CPython: vv_python_check_exe) as the env's owner:
		 * no more rights than the user who wrote the file. */
		struct vv_pyowner owner = { env->cfg.uid, env->cfg.gid };
		if (r == 0 && strcmp(real, env->cfg.python)) {
			/* its messages name real; path too when they differ */
			if ((r = vv_python_load(env->set->st, real, &owner, &py)) < 0 &&
			    strcmp(path, real))
				r = vv_err_prefix(-EINVAL, "pyvenv.cfg: interpreter '%s'", path);
			else if (r < 0)
				r = vv_err_prefix(-EINVAL, "pyvenv.cfg");
			else
				newpy = true;
		}
	}
	if (r == 0) {
		/* `command` stays venvfs's (follows renames and settings) when the tool wrote
		 * back the one shown or the one these settings give; else it is the tool's */
		bool keep_command = false;
		char *path = command ? vv_env_path(env) : NULL;
		if (command && !path) {
			r = -ENOMEM;
		} else if (command) {
			struct vv_envcfg next = cfg;
			next.without_pip = without_pip;
			next.prompt = prompt;
			char *was = synth_command(env, path, &env->cfg, &env->py);
			char *will = synth_command(env, path, &next, newpy ? &py : &env->py);
			keep_command = !(was && !strcmp(was, command)) &&
				       !(will && !strcmp(will, command));
			free(was);
			free(will);
		}
		free(path);
		if (r == 0)
			r = kept_lines(buf, len, keep_command, &keys);
		/* a tool that writes other keys but no `command` (virtualenv) made the env:
		 * no generated `-m venv` line claims otherwise */
		cfg.no_command = !command && keys;
	}
	bool same = r == 0 && !newpy && cfg.system_site == env->cfg.system_site &&
		    without_pip == env->cfg.without_pip && cfg.no_command == env->cfg.no_command &&
		    !(prompt ? !env->cfg.prompt || strcmp(prompt, env->cfg.prompt) : !!env->cfg.prompt) &&
		    !(keys ? !env->cfg.pykeys || strcmp(keys, env->cfg.pykeys) : !!env->cfg.pykeys);
	if (r == 0 && !same) {
		cfg.without_pip = without_pip;
		cfg.prompt = prompt;
		cfg.pykeys = keys;
		if (newpy)
			cfg.python = py.exe;
		r = vv_live_save_cfg(env, &cfg);
	}
	if (r == 0 && !same) {
		prune_seed(env, &env->py, newpy, newpy && py.minor != env->py.minor,
			   without_pip && !env->cfg.without_pip);
		char *oldprompt = env->cfg.prompt;
		env->cfg.system_site = cfg.system_site;
		env->cfg.without_pip = cfg.without_pip;
		env->cfg.prompt = prompt;
		prompt = oldprompt;
		env->cfg.no_command = cfg.no_command;
		char *oldkeys = env->cfg.pykeys;
		env->cfg.pykeys = keys;
		keys = oldkeys;
		if (newpy) {
			char oldpyx[32];
			vv_python_name(&env->py, oldpyx);
			char *oldpy = env->cfg.python;
			env->cfg.python = strdup(py.exe);
			free(oldpy);
			vv_python_release(&env->py);
			env->py = py;
			memset(&py, 0, sizeof(py));
			env->py_ok = true;
			/* the interpreter links follow the new interpreter */
			char pyx[32];
			vv_python_name(&env->py, pyx);
			struct vv_node *bin;
			/* bin/python3.X may have a new name: drop the kernel's old one */
			if (strcmp(oldpyx, pyx) && vv_live_walk(env, "bin", &bin) == 0)
				vv_live_inval_entry(bin, oldpyx);
			struct vv_node *links[] = { env->syn[SYN_PY], env->syn[SYN_PY3] };
			for (size_t i = 0; i < 2; i++)
				if (links[i] && (free(links[i]->target), 1))
					links[i]->target = strdup(pyx);
			if (env->syn[SYN_PYX]) {
				free(env->syn[SYN_PYX]->target);
				env->syn[SYN_PYX]->target = strdup(env->py.exe);
			}
		}
		env->epoch++;
	}
	vv_python_release(&py);
	free(home);
	free(exe);
	free(version);
	free(prompt);
	free(command);
	free(keys);
	return r;
}

/* Apply the content of fd (size bytes) as an edit of synthesized file n. */
int vv_live_synth_edit(struct vv_node *n, int fd, uint64_t size)
{
	if (n->synth_which != VV_SYNTH_PYVENV_CFG)
		return 0; /* activators are generated for the env: edits are not kept */
	if (size > (1 << 20))
		return vv_err(-EINVAL, "pyvenv.cfg: too large");
	char *buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t got = pread(fd, buf, size, 0);
	int r = got < 0 ? -errno : vv_live_pyvenv_apply(n->env, buf, (size_t)got);
	free(buf);
	return r;
}

int vv_node_flush(struct vv_node *n)
{
	/* every close(2) of a descriptor flushes, also of dup'd ones that stay open: apply
	 * the edit each time, keep the stage until the last writer is gone */
	if (n->kind != VV_SYN_FILE || !n->stage)
		return 0;
	return vv_live_synth_edit(n, n->stage->fd, n->ssize);
}
