/*
 * reach.c - reachability (reach.h): the node table every walk of the store shares, the
 * scan of objects/ into it, tree loading and on-demand object lookups, and the marking
 * walk of gc.
 *
 * Every object id met gets one node in a hash table (open addressing over pointers
 * into fixed chunks of nodes, so pointers stay valid while it grows during recursive
 * walks); tree nodes memoize what the walks need (counts for stats, "checked and clean"
 * for fsck, "walked" for gc), so a tree shared by many envs is parsed once and, when
 * clean, walked once.
 *
 * Nothing here writes to the store: it may run next to a mounted daemon.
 */
#include "ops/reach.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/vec.h"
#include "util/progress.h"

/* ---- node table ------------------------------------------------------------------ */

#define CHUNK 4096

struct table {
	struct vv_reach_node **slots; /* open addressing, power-of-two size */
	size_t cap, used;
	struct vv_reach_node **chunks;
	size_t nchunks, capchunks, chunk_used;
};

struct vv_reach {
	struct vv_store *st;
	struct table t;
	struct vv_reach_path path;
	uint64_t trees, files;
};

static uint64_t oid_hash(const vv_oid *oid)
{
	uint64_t h;
	memcpy(&h, oid->b, sizeof(h)); /* SHA-256 bytes are already uniform */
	return h;
}

static void table_free(struct table *t)
{
	for (size_t c = 0; c < t->nchunks; c++) {
		size_t n = c + 1 == t->nchunks ? t->chunk_used : CHUNK;
		for (size_t i = 0; i < n; i++) {
			if (t->chunks[c][i].tree)
				vv_tree_unref(t->chunks[c][i].tree);
			free(t->chunks[c][i].errmsg);
		}
		free(t->chunks[c]);
	}
	free(t->chunks);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct vv_reach_node *table_find(const struct table *t, const vv_oid *oid)
{
	if (!t->cap)
		return NULL;
	for (size_t i = oid_hash(oid) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct vv_reach_node *n = t->slots[i];
		if (!n)
			return NULL;
		if (vv_oid_eq(&n->oid, oid))
			return n;
	}
}

/* vv_err() for the table; a literal -ENOMEM so callers (and analyzers) see < 0. */
static int oom(void)
{
	vv_err(-ENOMEM, "out of memory for the object table");
	return -ENOMEM;
}

static int table_grow(struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024;
	struct vv_reach_node **ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return oom();
	for (size_t i = 0; i < t->cap; i++) {
		struct vv_reach_node *n = t->slots[i];
		if (!n)
			continue;
		size_t j = oid_hash(&n->oid) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = n;
	}
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/* Find or add; *out stays valid until table_free(). */
static int table_get(struct table *t, const vv_oid *oid, struct vv_reach_node **out)
{
	struct vv_reach_node *n = table_find(t, oid);
	if (n) {
		*out = n;
		return 0;
	}
	if ((t->used + 1) * 4 > t->cap * 3) {
		int r = table_grow(t);
		if (r < 0)
			return r;
	}
	if (!t->nchunks || t->chunk_used == CHUNK) {
		struct vv_reach_node *chunk = calloc(CHUNK, sizeof(*chunk));
		if (!chunk)
			return oom();
		if (VV_GROW(t->chunks, t->nchunks, t->capchunks, 1) < 0) {
			free(chunk);
			return oom();
		}
		t->chunks[t->nchunks++] = chunk;
		t->chunk_used = 0;
	}
	n = &t->chunks[t->nchunks - 1][t->chunk_used++];
	n->oid = *oid;
	n->owner = -1;
	size_t i = oid_hash(oid) & (t->cap - 1);
	while (t->slots[i])
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = n;
	t->used++;
	*out = n;
	return 0;
}

int vv_reach_new(struct vv_store *st, struct vv_reach **out)
{
	struct vv_reach *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return oom();
	rc->st = st;
	*out = rc;
	return 0;
}

void vv_reach_free(struct vv_reach *rc)
{
	if (!rc)
		return;
	table_free(&rc->t);
	free(rc->path.s);
	free(rc);
}

int vv_reach_node(struct vv_reach *rc, const vv_oid *oid, struct vv_reach_node **out)
{
	return table_get(&rc->t, oid, out);
}

struct vv_reach_node *vv_reach_find(const struct vv_reach *rc, const vv_oid *oid)
{
	return table_find(&rc->t, oid);
}

size_t vv_reach_count(const struct vv_reach *rc)
{
	return rc->t.used;
}

struct vv_reach_node *vv_reach_at(const struct vv_reach *rc, size_t i)
{
	if (i >= rc->t.used)
		return NULL;
	return &rc->t.chunks[i / CHUNK][i % CHUNK];
}

/* ---- paths inside an env --------------------------------------------------------- */

int vv_reach_path_push(struct vv_reach_path *p, const char *name, size_t n, size_t *saved)
{
	*saved = p->len;
	/* n == cap: each VV_GROW doubles (256 bytes first) until '/', name and a NUL fit */
	while (p->len + n + 2 > p->cap)
		if (VV_GROW(p->s, p->cap, p->cap, 256) < 0)
			return vv_err(-ENOMEM, "out of memory for a path");
	p->s[p->len++] = '/';
	memcpy(p->s + p->len, name, n);
	p->len += n;
	p->s[p->len] = 0;
	return 0;
}

void vv_reach_path_pop(struct vv_reach_path *p, size_t saved)
{
	p->len = saved;
	if (p->s)
		p->s[saved] = 0;
}

const char *vv_reach_path_str(const struct vv_reach_path *p)
{
	return p->len ? p->s : "/";
}

/* ---- trees and objects ------------------------------------------------------------ */

/* Object not seen by the scan (published since, or missing): look it up now. With
 * verify, hash it too. Sets VV_RN_SCANNED (+VV_RN_CORRUPT) or VV_RN_ABSENT. */
int vv_reach_probe(struct vv_reach *rc, struct vv_reach_node *n, bool verify)
{
	if (n->flags & (VV_RN_SCANNED | VV_RN_ABSENT))
		return 0;
	struct stat sb;
	int ok = vv_odb_check(&rc->st->odb, &n->oid, verify, &sb);
	if (ok == -ENOENT || ok == 2) {
		n->flags |= VV_RN_ABSENT;
		return 0;
	}
	if (ok < 0) {
		char shown[VV_ODB_PATH_SIZE];
		vv_odb_obj_path(&n->oid, shown);
		return vv_err_prefix(ok, "%s", shown);
	}
	n->flags |= VV_RN_SCANNED | (ok ? 0 : VV_RN_CORRUPT);
	n->size = (uint64_t)sb.st_size;
	n->disk = (uint64_t)sb.st_blocks * 512;
	return 0;
}

/* Parse (through the shared cache) the tree of node n once; n->tree or n->err. */
void vv_reach_load(struct vv_reach *rc, struct vv_reach_node *n)
{
	if (n->flags & VV_RN_LOADED)
		return;
	n->flags |= VV_RN_LOADED | VV_RN_TREE;
	vv_err_clear();
	int r = vv_tree_get(rc->st, &n->oid, &n->tree);
	if (r < 0) {
		n->tree = NULL;
		n->err = r;
		n->errmsg = strdup(vv_errmsg());
	}
}

/* ---- scanning objects/ ----------------------------------------------------------- */

struct scan {
	struct vv_reach *rc;
	vv_reach_scan_cb cb;
	void *arg;
	const struct vv_progress *pg;
	const char *phase;
	uint64_t done;   /* entries of objects/ begun */
};

/* One entry of objects/ (vv_odb_each): record an object file, then hand the entry on. */
static int scan_one(const struct vv_odb_entry *e, void *arg)
{
	struct scan *sc = arg;
	struct vv_reach_node *n = NULL;
	int r;
	switch (e->kind) {
	case VV_ODB_FAN:
		vv_progress_report(sc->pg, sc->phase, e->fan, e->nfans);
		sc->done = e->fan + 1;
		break;
	case VV_ODB_ERROR:
		if (!e->has_oid)
			break;
		if ((r = table_get(&sc->rc->t, &e->oid, &n)) < 0)
			return r;
		/* Unreadable: treat like corrupt so walks do not trust it. */
		n->flags |= VV_RN_SCANNED | VV_RN_CORRUPT;
		break;
	case VV_ODB_OBJECT:
		if ((r = table_get(&sc->rc->t, &e->oid, &n)) < 0)
			return r;
		n->flags |= VV_RN_SCANNED | (e->intact ? 0 : VV_RN_CORRUPT);
		n->size = (uint64_t)e->st.st_size;
		n->disk = (uint64_t)e->st.st_blocks * 512;
		break;
	case VV_ODB_STRAY:
		break;
	}
	return sc->cb ? sc->cb(e, n, sc->arg) : 0;
}

int vv_reach_scan(struct vv_reach *rc, unsigned flags, vv_reach_scan_cb cb, void *arg,
		  const struct vv_progress *pg, const char *phase)
{
	struct scan sc = {.rc = rc, .cb = cb, .arg = arg, .pg = pg, .phase = phase};
	int r = vv_odb_each(&rc->st->odb, flags, scan_one, &sc);
	if (r > 0)
		r = 0; /* stopped by the callback */
	if (r == 0)
		vv_progress_report(pg, phase, sc.done, sc.done);
	return r;
}

/* ---- marking (gc) ----------------------------------------------------------------- */

/* Walk the tree at n; any tree that cannot be read fails the whole walk, because what
 * it references is then unknown. File objects are marked, never opened: a missing one
 * protects nothing, so it is fsck's business, not a reason to stop. */
static int reach_tree(struct vv_reach *rc, struct vv_reach_node *n, int depth)
{
	if (n->flags & VV_RN_REACHED)
		return 0;
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&n->oid, hex);
	if (depth > VV_REACH_MAX_DEPTH)
		return vv_err(-EUCLEAN, "tree %s at %s: nested more than %d levels", hex,
			      vv_reach_path_str(&rc->path), VV_REACH_MAX_DEPTH);
	vv_reach_load(rc, n);
	if (!n->tree) {
		int code = n->err < 0 ? n->err : -EIO;
		return vv_err(code, "tree %s at %s: %s", hex, vv_reach_path_str(&rc->path),
			      n->errmsg ? n->errmsg : strerror(-code));
	}
	n->flags |= VV_RN_REACHED;
	rc->trees++;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (!vv_kind_has_oid(e->kind)) /* symlinks, FIFOs, sockets: no object */
			continue;
		struct vv_reach_node *c = NULL;
		int r = table_get(&rc->t, &e->oid, &c);
		if (r < 0)
			return r;
		if (e->kind != VV_DIR) {
			if (!(c->flags & VV_RN_FILE))
				rc->files++;
			c->flags |= VV_RN_FILE;
			continue;
		}
		size_t saved;
		r = vv_reach_path_push(&rc->path, e->name, e->namelen, &saved);
		if (r < 0)
			return r;
		r = reach_tree(rc, c, depth + 1);
		vv_reach_path_pop(&rc->path, saved);
		if (r < 0)
			return r;
	}
	return 0;
}

int vv_reach_tree(struct vv_reach *rc, const vv_oid *oid)
{
	struct vv_reach_node *n = NULL;
	int r = table_get(&rc->t, oid, &n);
	if (r < 0)
		return r;
	vv_reach_path_pop(&rc->path, 0);
	return reach_tree(rc, n, 0);
}

int vv_reach_object(struct vv_reach *rc, const vv_oid *oid)
{
	struct vv_reach_node *n = NULL;
	int r = table_get(&rc->t, oid, &n);
	if (r < 0)
		return r;
	if (!(n->flags & VV_RN_FILE))
		rc->files++;
	n->flags |= VV_RN_FILE;
	return 0;
}

bool vv_reach_has(const struct vv_reach *rc, const vv_oid *oid)
{
	const struct vv_reach_node *n = table_find(&rc->t, oid);
	return n && (n->flags & (VV_RN_FILE | VV_RN_REACHED));
}

void vv_reach_counts(const struct vv_reach *rc, uint64_t *trees, uint64_t *files)
{
	if (trees)
		*trees = rc->trees;
	if (files)
		*files = rc->files;
}
