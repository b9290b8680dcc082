/*
 * stats.c - store accounting (vv_stats_collect, for `venvctl stats` and `du`).
 *
 * A scan of objects/ first, then a walk of the committed root tree of every env and of
 * the roots its history holds, over one node table (reach.h): tree nodes memoize the
 * counts below them, so a tree shared by many envs is parsed and counted once.
 *
 * Nothing here writes to the store: it may run next to a mounted daemon.
 */
#include "ops/stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "env/history.h"
#include "ops/reach.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/hash.h"

struct stats_ctx {
	struct vv_reach *r;
};

static void free_names(char **names, size_t n)
{
	if (names)
		vv_strv_free(names, n);
}

/* The scan of objects/ (vv_reach_scan) skips stray entries; one it cannot read fails
 * it. */
static int scan_failed(const struct vv_odb_entry *e, struct vv_reach_node *n, void *arg)
{
	(void)n;
	(void)arg;
	if (e->kind != VV_ODB_ERROR)
		return 0;
	if (!e->has_oid) /* a fan-out directory that cannot be opened */
		return vv_err_sys(e->err, "cannot open %s", e->rel);
	return vv_err_prefix(e->err, "%s", e->rel);
}

/* files/logical of the subtree at n, memoized. */
static int count_tree(struct stats_ctx *sc, struct vv_reach_node *n, int depth)
{
	if (n->flags & VV_RN_MEMO)
		return 0;
	vv_reach_load(sc->r, n);
	n->flags |= VV_RN_MEMO;
	if (!n->tree || depth > VV_REACH_MAX_DEPTH) {
		n->flags |= VV_RN_PARTIAL;
		return 0;
	}
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (vv_kind_file(e->kind)) {
			n->files++;
			n->logical += e->size;
		} else if (e->kind == VV_DIR) {
			struct vv_reach_node *c = NULL;
			int r = vv_reach_node(sc->r, &e->oid, &c);
			if (r < 0)
				return r;
			r = count_tree(sc, c, depth + 1);
			if (r < 0)
				return r;
			n->files += c->files;
			n->logical += c->logical;
			n->flags |= c->flags & VV_RN_PARTIAL;
		}
	}
	return 0;
}

/* Attribute the trees and file objects below n to env idx (see vv_stats_collect). */
static int own_tree(struct stats_ctx *sc, struct vv_reach_node *n, int32_t idx, int depth)
{
	if (n->owner == idx)
		return 0;
	if (n->owner >= 0) {
		n->flags |= VV_RN_SHARED;
		return 0;
	}
	n->owner = idx;
	if (!n->tree || depth > VV_REACH_MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (!vv_kind_has_oid(e->kind))
			continue;
		struct vv_reach_node *c = NULL;
		int r = vv_reach_node(sc->r, &e->oid, &c);
		if (r < 0)
			return r;
		if (e->kind == VV_DIR) {
			r = own_tree(sc, c, idx, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		if (!(c->flags & VV_RN_FILE)) {
			c->flags |= VV_RN_FILE;
			if (!(c->flags & VV_RN_SCANNED))
				c->size = e->size;
		}
		if (c->owner < 0)
			c->owner = idx;
		else if (c->owner != idx)
			c->flags |= VV_RN_SHARED;
	}
	return 0;
}

/* Everything below a shared tree is shared too. */
static int share_down(struct stats_ctx *sc, struct vv_reach_node *n, int depth)
{
	if (n->flags & VV_RN_PROP)
		return 0;
	n->flags |= VV_RN_PROP | VV_RN_SHARED;
	if (!n->tree || depth > VV_REACH_MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (!vv_kind_has_oid(e->kind))
			continue;
		struct vv_reach_node *c = vv_reach_find(sc->r, &e->oid);
		if (!c)
			continue; /* cannot happen: own_tree added every child */
		if (e->kind == VV_DIR) {
			int r = share_down(sc, c, depth + 1);
			if (r < 0)
				return r;
		} else {
			c->flags |= VV_RN_SHARED;
		}
	}
	return 0;
}

/* Distinct file objects below n for env idx (each counted once per env, whoever owns
 * it). Runs after own_tree(), so every child already has a node with its size. */
static int distinct_tree(struct stats_ctx *sc, struct vv_reach_node *n, int32_t idx,
			 struct vv_stats_env *env, int depth)
{
	if (n->dmark == idx + 1)
		return 0;
	n->dmark = idx + 1;
	if (!n->tree || depth > VV_REACH_MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (!vv_kind_has_oid(e->kind))
			continue;
		struct vv_reach_node *c = NULL;
		int r = vv_reach_node(sc->r, &e->oid, &c);
		if (r < 0)
			return r;
		if (e->kind == VV_DIR) {
			r = distinct_tree(sc, c, idx, env, depth + 1);
			if (r < 0)
				return r;
		} else if (c->dmark != idx + 1) {
			c->dmark = idx + 1;
			env->distinct += (c->flags & (VV_RN_FILE | VV_RN_SCANNED)) ? c->size : e->size;
			env->distinct_files++;
		}
	}
	return 0;
}

static int set_env_error(struct vv_stats_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int set_env_error(struct vv_stats_env *e, const char *fmt, ...)
{
	if (e->error)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&e->error, fmt, ap);
	va_end(ap);
	if (r < 0) {
		e->error = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
}

struct hist_own {
	struct stats_ctx *sc;
	struct vv_stats_env *env;
	int32_t idx;
	bool partial;
};

static int hist_own_root(void *arg, const vv_oid *oid)
{
	struct hist_own *ho = arg;
	struct vv_reach_node *n = NULL;
	int r = vv_reach_node(ho->sc->r, oid, &n);
	if (r == 0)
		r = count_tree(ho->sc, n, 0);
	if (r == 0)
		r = own_tree(ho->sc, n, ho->idx, 0);
	if (r == 0)
		r = distinct_tree(ho->sc, n, ho->idx, ho->env, 0);
	if (r == 0 && (n->flags & VV_RN_PARTIAL))
		ho->partial = true;
	return r;
}

/*
 * Unique bytes: each env claims the trees and file objects it reaches first (owner).
 * Reaching something another env owns marks it shared; for a tree, everything below it
 * is then shared too (share_down), without walking it again. An object ends up unshared
 * exactly when one env references it.
 */
int vv_stats_collect(struct vv_store *st, struct vv_stats *out)
{
	return vv_stats_collect_ex(st, out, NULL);
}

int vv_stats_collect_ex(struct vv_store *st, struct vv_stats *out,
			const struct vv_progress *pg)
{
	memset(out, 0, sizeof(*out));
	struct stats_ctx sc = {0};
	char **names = NULL;
	size_t nnames = 0;
	int r = vv_reach_new(st, &sc.r);
	if (r == 0)
		r = vv_reach_scan(sc.r, 0, scan_failed, NULL, pg, "scanning");
	if (r < 0)
		goto fail;
	r = vv_env_list(st, &names, &nnames);
	if (r < 0)
		goto fail;
	out->envs = calloc(nnames ? nnames : 1, sizeof(*out->envs));
	if (!out->envs) {
		r = vv_err(-ENOMEM, "out of memory");
		goto fail;
	}
	out->nenvs = nnames;
	for (size_t i = 0; i < nnames; i++) {
		vv_progress_report(pg, "walking", i, nnames);
		struct vv_stats_env *e = &out->envs[i];
		e->name = strdup(names[i]);
		if (!e->name) {
			r = vv_err(-ENOMEM, "out of memory");
			goto fail;
		}
		struct vv_envcfg cfg = {0};
		vv_err_clear();
		int lr = vv_env_load(st, names[i], &cfg);
		if (lr < 0) {
			r = set_env_error(e, "cannot load env: %s", vv_errmsg());
			if (r < 0)
				goto fail;
			continue;
		}
		struct vv_reach_node *root = NULL;
		r = vv_reach_node(sc.r, &cfg.root, &root);
		vv_envcfg_release(&cfg);
		if (r < 0)
			goto fail;
		r = count_tree(&sc, root, 0);
		if (r < 0)
			goto fail;
		r = own_tree(&sc, root, (int32_t)i, 0);
		if (r < 0)
			goto fail;
		r = distinct_tree(&sc, root, (int32_t)i, e, 0);
		if (r < 0)
			goto fail;
		e->files = root->files;
		e->logical = root->logical;
		/* the states its history holds are the env's too (they go with it) */
		struct vv_history h;
		vv_err_clear();
		if (vv_history_load(st, names[i], &h) < 0) {
			if ((r = set_env_error(e, "%s", vv_errmsg())) < 0)
				goto fail;
		} else {
			struct hist_own ho = {.sc = &sc, .env = e, .idx = (int32_t)i};
			r = vv_history_roots(&h, hist_own_root, &ho);
			vv_history_release(&h);
			if (r < 0)
				goto fail;
			if (ho.partial && !(root->flags & VV_RN_PARTIAL) &&
			    (r = set_env_error(e, "some trees its history names are missing or "
					       "damaged (run venvctl fsck)")) < 0)
				goto fail;
		}
		out->logical += e->logical;
		if (root->flags & VV_RN_PARTIAL) {
			r = set_env_error(e, "%s", !root->tree && root->errmsg ? root->errmsg :
				"some trees are missing or damaged (run venvctl fsck)");
			if (r < 0)
				goto fail;
		}
	}
	struct vv_reach_node *n;
	for (size_t k = 0; (n = vv_reach_at(sc.r, k)); k++) {
		if ((n->flags & VV_RN_SHARED) && n->tree) {
			r = share_down(&sc, n, 0);
			if (r < 0)
				goto fail;
		}
	}
	for (size_t k = 0; (n = vv_reach_at(sc.r, k)); k++) {
		bool reached = n->owner >= 0;
		if (n->flags & VV_RN_SCANNED) {
			out->objects++;
			out->stored_bytes += n->size;
			out->disk_bytes += n->disk;
			if (!reached) {
				out->unreachable++;
				out->unreachable_bytes += n->size;
			}
		}
		if (!reached)
			continue;
		if (n->flags & VV_RN_TREE) {
			out->trees += n->tree != NULL;
			if (!(n->flags & VV_RN_SHARED) && (n->flags & VV_RN_SCANNED))
				out->envs[n->owner].unique_tree_bytes += n->size;
		} else if (n->flags & VV_RN_FILE) {
			out->file_objects++;
			out->file_bytes += n->size;
			if (!(n->flags & VV_RN_SHARED)) {
				out->envs[n->owner].unique += n->size;
				out->envs[n->owner].unique_files++;
			}
		}
	}
	for (size_t i = 0; i < out->nenvs; i++)
		if (out->envs[i].error)
			out->env_errors++;
	free_names(names, nnames);
	vv_reach_free(sc.r);
	return 0;
fail:
	free_names(names, nnames);
	vv_reach_free(sc.r);
	vv_stats_release(out);
	return r;
}

void vv_stats_release(struct vv_stats *s)
{
	for (size_t i = 0; i < s->nenvs; i++) {
		free(s->envs[i].name);
		free(s->envs[i].error);
	}
	free(s->envs);
	memset(s, 0, sizeof(*s));
}

double vv_stats_dedup_ratio(const struct vv_stats *s)
{
	if (!s->file_bytes)
		return 1.0;
	return (double)s->logical / (double)s->file_bytes;
}
