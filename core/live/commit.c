/*
 * commit.c - committing an env: its sealed stages are linked as objects and the trees
 * of its dirty directories written bottom up, with a sync for all of them rather than
 * two per file (odb.h "publishing in batches"), a sealed .pyc or .dist-info/RECORD
 * stored in its shared form instead (python/pyc.h, pkg/rectpl.h), mtimes in the root's
 * times section (store/times.h); then the new root is committed through the env
 * transaction (env/txn.h: the mount's side, vv_txn_live, over the writer lock the env
 * holds since its first change) and a new journal is started on top of it. Also saving
 * the env's settings with its committed root outside a commit (pyvenv.cfg edits,
 * chown/chmod of the env).
 */
#include "live/live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/history.h"
#include "env/journal.h"
#include "env/txn.h"
#include "pkg/rectpl.h"
#include "python/pyc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/vec.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"

/* Commit cfg as the env's state: one env transaction over the mount's own lock, config
 * and journal. */
static int live_commit(struct vv_env *env, const struct vv_envcfg *cfg, unsigned hflags)
{
	struct vv_txn t;
	vv_txn_live(env->set->st, env->name, env->lockfd, &env->cfg, &t);
	int r = vv_txn_commit(&t, cfg, "mount", hflags);
	vv_txn_end(&t);
	return r;
}

/* Sealed stages become objects: one sync makes their bytes durable (little is left
 * to write when the mount synced without its lock just before), then each is linked
 * and its stage retired. */
int vv_env_store_sealed(struct vv_env *env)
{
	struct vv_odb *odb = &env->set->st->odb;
	int r = 0;
	if (vv_env_needs_sync(env) && (r = vv_odb_sync(odb)) < 0)
		return r;
	struct vv_node *next;
	for (struct vv_node *n = env->staged; n; n = next) {
		next = n->st_next;
		if (vv_live_sealed(n) && (r = vv_live_link_sealed(n)) < 0)
			return r;
	}
	return 0;
}

/* A file whose stored form is being replaced by a commit, with what it was before (put
 * back if the commit fails). */
struct tpl_swap {
	struct vv_node *n;
	uint8_t kind;
	uint64_t size;
	vv_oid oid;
	struct vv_pycent pyc;
	struct vv_recent rec;
};

struct tpl_swaps {
	struct tpl_swap *v;
	size_t n, cap;
};

/* The sealed stage of n, whole: 0 with *buf (malloc'd) and *len (0 when it cannot be
 * read now: it is linked as it is, which reports it), or -errno. */
static int sealed_bytes(struct vv_node *n, char **buf, size_t *len)
{
	size_t size = (size_t)n->stage->seal_size;
	*len = 0;
	if (!(*buf = malloc(size ? size : 1)))
		return -ENOMEM;
	if (vv_pread_all(n->stage->fd, *buf, size, 0) == 0)
		*len = size;
	return 0;
}

/* n names template t (tl bytes, freed here) from now on, stored as a deferred object
 * of this commit with v's kind and values; what it was goes to sw (swaps_end). Its
 * stage stays its content until the commit is through. 1, or -errno. */
static int swap_in(struct vv_odb_defer *def, struct tpl_swaps *sw, struct vv_node *n, char *t,
		   size_t tl, const struct vv_tree_ent *v)
{
	vv_oid oid;
	int r;
	if ((r = VV_GROW(sw->v, sw->n, sw->cap, 64)) < 0 ||
	    (r = vv_odb_defer_put(&n->env->set->st->odb, def, t, tl, &oid)) < 0) {
		free(t);
		return r;
	}
	free(t);
	sw->v[sw->n++] = (struct tpl_swap){ n, n->kind, n->size, n->oid, n->pyc, n->rec };
	n->kind = v->kind;
	n->script_oid = false;
	n->size = tl;
	n->oid = oid;
	n->pyc = v->pyc;
	n->rec = v->rec;
	return 1;
}

/* Store sealed .pyc n in its shared form (pyc.h) as a deferred object of this commit:
 * 1 if it was one, 0 if not (link the stage as it is), -errno. */
static int swap_pyc(struct vv_odb_defer *def, struct tpl_swaps *sw, const char *envpath,
		    struct vv_node *n)
{
	size_t nl = strlen(n->name);
	uint64_t size = n->stage->seal_size;
	char head[16];
	if (n->unlinked || nl < 5 || strcmp(n->name + nl - 4, ".pyc") || size < 16 ||
	    size > VV_PYC_MAX || vv_pread_all(n->stage->fd, head, 16, 0) < 0 ||
	    !vv_pyc_magic_ok(head, 16))
		return 0;
	char *buf, *t = NULL;
	size_t len, tl = 0;
	struct vv_tree_ent v = { .kind = VV_PYC };
	int r = sealed_bytes(n, &buf, &len);
	if (r == 0 && len)
		r = vv_pyc_neutral(buf, len, envpath, &t, &tl, &v.pyc);
	free(buf);
	return r <= 0 ? r : swap_in(def, sw, n, t, tl, &v);
}

/* After the commit: the swapped files' stages go (they are templates now); after a
 * failed one they are what they were, their stages still sealed. */
static void swaps_end(struct tpl_swaps *sw, bool ok)
{
	for (size_t i = 0; i < sw->n; i++) {
		struct tpl_swap *s = &sw->v[i];
		if (ok) {
			vv_live_stage_clear(s->n);
		} else {
			s->n->kind = s->kind;
			s->n->size = s->size;
			s->n->oid = s->oid;
			s->n->pyc = s->pyc;
			s->n->rec = s->rec;
		}
	}
	free(sw->v);
}

/* A RECORD path (relative to the .dist-info's parent dir) to a console script of the
 * env stored in neutral form: its stored bytes (pkg/rectpl.h vv_rectpl_script_fn). */
static int record_script(void *ctx, const char *path, size_t pathlen, char **script,
			 size_t *len)
{
	struct vv_node *d = ctx;
	char comp[256];
	for (const char *p = path, *end = path + pathlen; p < end && d;) {
		const char *sl = memchr(p, '/', (size_t)(end - p));
		size_t cl = (size_t)((sl ? sl : end) - p);
		if (cl >= sizeof(comp))
			return 0;
		memcpy(comp, p, cl);
		comp[cl] = 0;
		if (!strcmp(comp, ".."))
			d = d->parent;
		else if (cl && strcmp(comp, ".") &&
			 (!vv_live_is_dir(d) || vv_node_lookup(d, comp, &d) < 0))
			d = NULL;
		p = sl ? sl + 1 : end;
	}
	vv_err_clear();
	if (!d || d->kind != VV_SCRIPT || d->stage || d->unlinked)
		return 0;
	int r = vv_odb_read_obj(&d->env->set->st->odb, &d->oid, 1u << 20, script, len);
	if (r < 0)
		vv_err_clear();
	return r < 0 ? 0 : 1;
}

/* Store a sealed .dist-info/RECORD that names this env's console scripts in its shared
 * form (pkg/rectpl.h), like swap_pyc. */
static int swap_record(struct vv_odb_defer *def, struct tpl_swaps *sw, const char *envpath,
		       struct vv_node *n)
{
	struct vv_node *di = n->parent;
	size_t dl = di ? strlen(di->name) : 0;
	if (n->unlinked || strcmp(n->name, "RECORD") || !di || !di->parent || dl < 11 ||
	    strcmp(di->name + dl - 10, ".dist-info") || n->stage->seal_size > VV_RECTPL_MAX)
		return 0;
	char *buf, *t = NULL;
	size_t len, tl = 0;
	struct vv_tree_ent v = { .kind = VV_RECORD };
	int r = sealed_bytes(n, &buf, &len);
	if (r == 0 && len)
		r = vv_rectpl_make(buf, len, envpath, record_script, di->parent, &t, &tl, &v.rec);
	free(buf);
	return r <= 0 ? r : swap_in(def, sw, n, t, tl, &v);
}

/* vv_env_store_sealed for a commit: .pyc files and RECORDs become deferred templates
 * instead. */
static int store_sealed(struct vv_env *env, struct vv_odb_defer *def, struct tpl_swaps *sw)
{
	struct vv_odb *odb = &env->set->st->odb;
	int r = 0;
	if (vv_env_needs_sync(env) && (r = vv_odb_sync(odb)) < 0)
		return r;
	char *envpath = vv_env_path(env);
	if (!envpath)
		return -ENOMEM;
	struct vv_node *next;
	for (struct vv_node *n = env->staged; n && r >= 0; n = next) {
		next = n->st_next;
		if (!vv_live_sealed(n))
			continue;
		r = swap_pyc(def, sw, envpath, n);
		if (r == 0)
			r = swap_record(def, sw, envpath, n);
		if (r == 0)
			r = vv_live_link_sealed(n);
	}
	free(envpath);
	return r < 0 ? r : 0;
}

/* The env's times section (store/times.h) for the tree the commit is about to write:
 * entries numbered depth first from base. A directory written now (dirty), or written
 * by an earlier commit (canon), holds 0 for its entries' mtimes and header words, so
 * their values go here; a directory not looked into since it was loaded keeps the
 * values of the table it was loaded from, renumbered. Each directory's count goes into
 * its size (commit_dir writes it as the 'd' entry's SIZE). */
static int times_walk(struct vv_env *env, struct vv_node *d, uint64_t base,
		      struct vv_timesb *b)
{
	bool canon = d->dirty || d->canon;
	uint64_t idx = base;
	int r = 0;
	for (size_t i = 0; r == 0 && i < d->nkids; i++) {
		struct vv_node *k = d->kids[i];
		uint32_t hdr = k->kind == VV_PYC ? k->pyc.hdr : 0;
		if (canon && (k->mtime_ns || hdr))
			r = vv_timesb_add(b, idx, k->mtime_ns, hdr);
		if (r == 0 && vv_live_is_dir(k)) {
			if (k->mat) {
				r = times_walk(env, k, idx + 1, b);
			} else if (k->size || /* its entry's count (0: not known) */
				   (r = vv_tree_count(env->set->st, &k->oid, &k->size)) == 0) {
				r = vv_timesb_copy(b, k->times, k->tbase, k->size, idx + 1);
			}
		}
		idx += 1 + (vv_live_is_dir(k) ? k->size : 0);
	}
	d->size = idx - base;
	return r;
}

/* The trees of dirty directories, bottom up, as deferred objects (linked after one
 * sync for all of them, before the env file names the root). The root's carries the
 * times section. */
static int commit_dir(struct vv_store *st, struct vv_odb_defer *def, struct vv_node *d,
		      const char *times, size_t timeslen)
{
	if (!d->dirty)
		return 0;
	struct vv_tree_ent *ents = calloc(d->nkids ? d->nkids : 1, sizeof(*ents));
	if (!ents)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < d->nkids; i++) {
		struct vv_node *k = d->kids[i];
		if (vv_live_is_dir(k) && (r = commit_dir(st, def, k, NULL, 0)) < 0)
			break;
		struct vv_tree_ent *e = &ents[i];
		e->name = k->name;
		e->namelen = (uint16_t)strlen(k->name);
		e->kind = k->kind;
		e->mode = k->mode;
		e->size = k->kind == VV_LNK ? strlen(k->target) : k->size;
		e->mtime_ns = 0; /* in the times section */
		e->oid = k->oid;
		if (k->kind == VV_PYC) {
			e->pyc = k->pyc;
			e->pyc.hdr = 0;
		}
		if (k->kind == VV_RECORD)
			e->rec = k->rec;
		e->target = k->target;
	}
	char *buf = NULL;
	size_t len = 0;
	if (r == 0 && (r = vv_tree_serialize(ents, d->nkids, times, timeslen, &buf, &len)) == 0)
		r = vv_odb_defer_put(&st->odb, def, buf, len, &d->oid);
	free(buf);
	free(ents);
	if (r == 0) {
		d->dirty = false;
		d->canon = true;
	}
	return r;
}

/* The root's times section, then the trees. */
static int commit_trees(struct vv_env *env, struct vv_odb_defer *def)
{
	if (!env->root->dirty)
		return 0;
	struct vv_timesb b = { 0 };
	char *times = NULL;
	size_t tlen = 0;
	int r = times_walk(env, env->root, 0, &b);
	if (r == 0)
		r = vv_timesb_encode(&b, &times, &tlen);
	vv_timesb_free(&b);
	if (r == 0)
		r = commit_dir(env->set->st, def, env->root, times, tlen);
	free(times);
	return r;
}

/* The new journal names the stages still in use (files open for writing, or not
 * published yet); the names no journal needs any more go. */
static void stages_after_commit(struct vv_env *env)
{
	bool synced = false;
	for (struct vv_node *n = env->staged; n; n = n->st_next) {
		vv_live_record_stage(n);
		synced = synced || (n->stage && n->stage->fsynced);
	}
	/* a file its writer fsyncs (a database) is named only by the new journal now:
	 * make that durable at once, not at the writer's next fsync */
	if (synced && vv_journal_sync(env) < 0)
		fprintf(stderr, "venvfs: env '%s': %s\n", env->name, vv_errmsg());
	for (size_t i = 0; i < env->nretired; i++)
		vv_odb_stage_remove(&env->set->st->odb, env->retired[i]);
	env->nretired = 0;
}

int vv_env_commit(struct vv_env *env)
{
	return vv_env_commit_batch(env, false);
}

int vv_env_commit_batch(struct vv_env *env, bool more)
{
	/* a read-only envset never writes the store (a replayed journal stays pending) */
	if (env->removed || env->set->readonly)
		return 0;
	if (!vv_env_has_changes(env)) {
		/* an explicit commit with nothing left to write still ends the batch */
		if (!more && env->cfg.python) {
			int r = vv_history_close_batch(env->set->st, env->name);
			if (r < 0)
				return vv_err_prefix(r, "committing env '%s'", env->name);
		}
		vv_env_release_idle(env);
		return 0;
	}
	/* changes are made only under the writer lock: never commit without it (that
	 * would write over another writer's commit) */
	if (env->lockfd < 0)
		return vv_err(-EBUSY, "committing env '%s': it has changes but its writer lock "
			      "is not held", env->name);
	struct vv_store *st = env->set->st;
	struct vv_odb_defer def = { 0 };
	struct tpl_swaps sw = { 0 };
	int r = store_sealed(env, &def, &sw);
	if (r == 0)
		r = commit_trees(env, &def);
	if (r == 0)
		r = vv_odb_defer_finish(&st->odb, &def);
	vv_odb_defer_free(&def);
	swaps_end(&sw, r == 0);
	if (r < 0)
		return vv_err_prefix(r, "committing env '%s'", env->name);
	struct vv_envcfg cfg = env->cfg;
	cfg.root = env->root->oid;
	unsigned hflags = VV_HIST_COALESCE | (more ? VV_HIST_OPEN : 0);
	if ((r = live_commit(env, &cfg, hflags)) < 0)
		return vv_err_prefix(r, "committing env '%s'", env->name);
	env->cfg.root = cfg.root;
	env->jrecords = 0;
	env->first_change_ns = 0;
	if ((r = vv_journal_reset(st, env->name, &env->cfg.root, &env->jfd)) < 0)
		return vv_err_prefix(r, "committing env '%s'", env->name);
	env->jname_synced = env->jboot = false;
	stages_after_commit(env);
	vv_env_release_idle(env);
	return 0;
}

/* Save cfg as envs/NAME with the env's committed root, outside a commit: a change of the
 * env's settings (an edit of pyvenv.cfg), which leaves the journal of changes not
 * committed yet valid on top of it. */
int vv_live_save_cfg(struct vv_env *env, const struct vv_envcfg *cfg)
{
	return live_commit(env, cfg, 0);
}
