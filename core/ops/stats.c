/*
 * stats.c - store accounting (vv_stats_collect) and consistency checking (vv_fsck).
 *
 * Both start from a scan of objects/ and then walk the committed root tree of every env.
 * Every object id met on the way gets one node in a hash table; tree nodes memoize what
 * the walks need (counts for stats, "checked and clean" for fsck), so a tree shared by
 * many envs is parsed once and, when clean, walked once. Nodes live in fixed chunks so
 * pointers to them stay valid while the table grows during recursive walks.
 *
 * Nothing here writes to the store: both may run next to a mounted daemon.
 */
#include "ops/stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "env/history.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"

/* Deeper than any path the kernel can hand us (PATH_MAX 4096, >= 2 bytes a level). */
#define MAX_DEPTH 2048

/* ---- node table ------------------------------------------------------------------ */

enum {
	N_SCANNED = 1 << 0,  /* seen in objects/ (size, disk valid) */
	N_CORRUPT = 1 << 1,  /* bytes do not match the name */
	N_ABSENT = 1 << 2,   /* looked up on demand and not there */
	N_FILE = 1 << 3,     /* reached as a file object */
	N_TREE = 1 << 4,     /* reached as a tree */
	N_LOADED = 1 << 5,   /* tree load attempted (tree or err valid) */
	N_MEMO = 1 << 6,     /* stats: files/logical computed */
	N_PARTIAL = 1 << 7,  /* stats: something below could not be read */
	N_SHARED = 1 << 8,   /* stats: referenced by more than one env */
	N_PROP = 1 << 9,     /* stats: sharing pushed down to children */
	N_CHECKED = 1 << 10, /* fsck: walked */
	N_BAD = 1 << 11,     /* fsck: walk found problems (walk again per env) */
	N_REACHED = 1 << 12  /* reach: tree walked completely */
};

struct node {
	vv_oid oid;
	uint32_t flags;
	int32_t owner;    /* stats: first env that reached it, -1 none */
	int32_t dmark;    /* stats: last env (index + 1) whose distinct walk met it */
	uint64_t size;    /* st_size if N_SCANNED, else the size a tree entry records */
	uint64_t disk;    /* st_blocks * 512 */
	uint64_t files;   /* stats memo */
	uint64_t logical; /* stats memo */
	struct vv_tree *tree;
	int err;          /* tree load error */
	char *errmsg;
};

#define CHUNK 4096

struct table {
	struct node **slots; /* open addressing, power-of-two size */
	size_t cap, used;
	struct node **chunks;
	size_t nchunks, chunk_used;
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

static struct node *table_find(const struct table *t, const vv_oid *oid)
{
	if (!t->cap)
		return NULL;
	for (size_t i = oid_hash(oid) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct node *n = t->slots[i];
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
	struct node **ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return oom();
	for (size_t i = 0; i < t->cap; i++) {
		struct node *n = t->slots[i];
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
static int table_get(struct table *t, const vv_oid *oid, struct node **out)
{
	struct node *n = table_find(t, oid);
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
		struct node *chunk = calloc(CHUNK, sizeof(*chunk));
		if (!chunk)
			return oom();
		struct node **nc = realloc(t->chunks, (t->nchunks + 1) * sizeof(*nc));
		if (!nc) {
			free(chunk);
			return oom();
		}
		t->chunks = nc;
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

/* Visit every node (in insertion order). */
#define TABLE_FOREACH(t, n)                                                              \
	for (size_t c_ = 0; c_ < (t)->nchunks; c_++)                                       \
		for (size_t i_ = 0, e_ = c_ + 1 == (t)->nchunks ? (t)->chunk_used : CHUNK;  \
		     i_ < e_ && ((n) = &(t)->chunks[c_][i_], 1); i_++)

/* ---- small helpers --------------------------------------------------------------- */

/* A growable path inside an env, "/lib/python3.11/...". */
struct pathbuf {
	char *s;
	size_t len, cap;
};

static int path_push(struct pathbuf *p, const char *name, size_t n, size_t *saved)
{
	*saved = p->len;
	if (p->len + n + 2 > p->cap) {
		size_t ncap = p->cap ? p->cap : 256;
		while (p->len + n + 2 > ncap)
			ncap *= 2;
		char *ns = realloc(p->s, ncap);
		if (!ns)
			return vv_err(-ENOMEM, "out of memory for a path");
		p->s = ns;
		p->cap = ncap;
	}
	p->s[p->len++] = '/';
	memcpy(p->s + p->len, name, n);
	p->len += n;
	p->s[p->len] = 0;
	return 0;
}

static void path_pop(struct pathbuf *p, size_t saved)
{
	p->len = saved;
	if (p->s)
		p->s[saved] = 0;
}

static const char *path_str(const struct pathbuf *p)
{
	return p->len ? p->s : "/";
}

/* Append s to a message buffer, showing control bytes and backslashes as escapes so a
 * report stays one line whatever the names contain. */
static void msg_escaped(char *buf, size_t cap, size_t *len, const char *s)
{
	for (; *s && *len + 5 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '\\')
			*len += (size_t)snprintf(buf + *len, cap - *len, "\\x%02x", c);
		else
			buf[(*len)++] = (char)c;
	}
	buf[*len] = 0;
}

static void free_names(char **names, size_t n)
{
	if (names)
		vv_env_list_free(names, n);
}

/* ---- scanning objects/ ----------------------------------------------------------- */

struct fsck_ctx;
static int fsck_report(struct fsck_ctx *fc, enum vv_fsck_kind kind, const vv_oid *oid,
		       const char *env, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* The scan of objects/ (vv_odb_each): the table, and with fc (fsck) where to report. */
struct scan {
	struct table *t;
	struct fsck_ctx *fc;
	int *stop;
	const struct vv_progress *pg;
	const char *phase;
	uint64_t done;   /* entries of objects/ begun */
};

/* One entry of objects/: record an object file in the table. With fc, report corrupt
 * objects and anything that does not belong under objects/; without, stray entries
 * are skipped and an unreadable one fails the scan. */
static int scan_one(const struct vv_odb_entry *e, void *arg)
{
	struct scan *sc = arg;
	struct fsck_ctx *fc = sc->fc;
	int r = 0;
	char hex[VV_OID_HEX + 1];
	struct node *n;
	switch (e->kind) {
	case VV_ODB_FAN:
		vv_progress_report(sc->pg, sc->phase, e->fan, e->nfans);
		sc->done = e->fan + 1;
		break;
	case VV_ODB_STRAY:
		if (fc)
			r = fsck_report(fc, VV_FSCK_STRAY, NULL, NULL, e->rel, "stray entry %s (%s)",
					e->rel, e->why);
		break;
	case VV_ODB_ERROR:
		if (!e->has_oid) {
			/* a fan-out directory that cannot be opened */
			if (fc)
				r = fsck_report(fc, VV_FSCK_IO, NULL, NULL, NULL, "cannot open %s: %s",
						e->rel, strerror(-e->err));
			else
				r = vv_err_sys(e->err, "cannot open %s", e->rel);
			break;
		}
		if (!fc) {
			r = vv_err_prefix(e->err, "%s", e->rel);
			break;
		}
		if ((r = table_get(sc->t, &e->oid, &n)) < 0)
			break;
		/* Unreadable: treat like corrupt so walks do not trust it. */
		n->flags |= N_SCANNED | N_CORRUPT;
		vv_oid_hex(&e->oid, hex);
		r = fsck_report(fc, VV_FSCK_IO, &e->oid, NULL, NULL, "cannot read object %s: %s",
				hex, vv_errmsg());
		break;
	case VV_ODB_OBJECT:
		if ((r = table_get(sc->t, &e->oid, &n)) < 0)
			break;
		n->flags |= N_SCANNED;
		n->size = (uint64_t)e->st.st_size;
		n->disk = (uint64_t)e->st.st_blocks * 512;
		if (!e->intact) {
			n->flags |= N_CORRUPT;
			vv_oid_hex(&e->oid, hex);
			r = fsck_report(fc, VV_FSCK_CORRUPT, &e->oid, NULL, NULL, "corrupt object %s",
					hex);
		}
		break;
	}
	if (r == 0 && *sc->stop)
		r = 1;
	return r;
}

/*
 * Record every object file in t. With fc (fsck), hash each one and report corrupt
 * objects and anything that does not belong under objects/; without, just stat them.
 */
static int scan_objects(struct vv_store *st, struct table *t, struct fsck_ctx *fc,
			int *stop, const struct vv_progress *pg)
{
	struct scan sc = {.t = t, .fc = fc, .stop = stop, .pg = pg,
			  .phase = fc ? "hashing" : "scanning"};
	int r = vv_odb_each(&st->odb, fc ? VV_ODB_VERIFY : 0, scan_one, &sc);
	if (r > 0)
		r = 0; /* stopped by the callback */
	if (r == 0)
		vv_progress_report(pg, sc.phase, sc.done, sc.done);
	return r;
}

/* Object not seen by the scan (published since, or missing): look it up now. With
 * verify, hash it too. Sets N_SCANNED (+N_CORRUPT) or N_ABSENT. */
static int probe_object(struct vv_store *st, struct node *n, bool verify)
{
	if (n->flags & (N_SCANNED | N_ABSENT))
		return 0;
	struct stat sb;
	int ok = vv_odb_check(&st->odb, &n->oid, verify, &sb);
	if (ok == -ENOENT || ok == 2) {
		n->flags |= N_ABSENT;
		return 0;
	}
	if (ok < 0) {
		char shown[VV_ODB_PATH_SIZE];
		vv_odb_obj_path(&n->oid, shown);
		return vv_err_prefix(ok, "%s", shown);
	}
	n->flags |= N_SCANNED | (ok ? 0 : N_CORRUPT);
	n->size = (uint64_t)sb.st_size;
	n->disk = (uint64_t)sb.st_blocks * 512;
	return 0;
}

/* Parse (through the shared cache) the tree of node n once; n->tree or n->err. */
static void load_tree(struct vv_store *st, struct node *n)
{
	if (n->flags & N_LOADED)
		return;
	n->flags |= N_LOADED | N_TREE;
	vv_err_clear();
	int r = vv_tree_get(st, &n->oid, &n->tree);
	if (r < 0) {
		n->tree = NULL;
		n->err = r;
		n->errmsg = strdup(vv_errmsg());
	}
}

/* ---- stats ----------------------------------------------------------------------- */

struct stats_ctx {
	struct vv_store *st;
	struct table t;
};

/* files/logical of the subtree at n, memoized. */
static int count_tree(struct stats_ctx *sc, struct node *n, int depth)
{
	if (n->flags & N_MEMO)
		return 0;
	load_tree(sc->st, n);
	n->flags |= N_MEMO;
	if (!n->tree || depth > MAX_DEPTH) {
		n->flags |= N_PARTIAL;
		return 0;
	}
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (e->kind == VV_REG || e->kind == VV_SCRIPT) {
			n->files++;
			n->logical += e->size;
		} else if (e->kind == VV_DIR) {
			struct node *c = NULL;
			int r = table_get(&sc->t, &e->oid, &c);
			if (r < 0)
				return r;
			r = count_tree(sc, c, depth + 1);
			if (r < 0)
				return r;
			n->files += c->files;
			n->logical += c->logical;
			n->flags |= c->flags & N_PARTIAL;
		}
	}
	return 0;
}

/* Attribute the trees and file objects below n to env idx (see vv_stats_collect). */
static int own_tree(struct stats_ctx *sc, struct node *n, int32_t idx, int depth)
{
	if (n->owner == idx)
		return 0;
	if (n->owner >= 0) {
		n->flags |= N_SHARED;
		return 0;
	}
	n->owner = idx;
	if (!n->tree || depth > MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (e->kind != VV_REG && e->kind != VV_SCRIPT && e->kind != VV_DIR)
			continue;
		struct node *c = NULL;
		int r = table_get(&sc->t, &e->oid, &c);
		if (r < 0)
			return r;
		if (e->kind == VV_DIR) {
			r = own_tree(sc, c, idx, depth + 1);
			if (r < 0)
				return r;
			continue;
		}
		if (!(c->flags & N_FILE)) {
			c->flags |= N_FILE;
			if (!(c->flags & N_SCANNED))
				c->size = e->size;
		}
		if (c->owner < 0)
			c->owner = idx;
		else if (c->owner != idx)
			c->flags |= N_SHARED;
	}
	return 0;
}

/* Everything below a shared tree is shared too. */
static int share_down(struct stats_ctx *sc, struct node *n, int depth)
{
	if (n->flags & N_PROP)
		return 0;
	n->flags |= N_PROP | N_SHARED;
	if (!n->tree || depth > MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (e->kind != VV_REG && e->kind != VV_SCRIPT && e->kind != VV_DIR)
			continue;
		struct node *c = table_find(&sc->t, &e->oid);
		if (!c)
			continue; /* cannot happen: own_tree added every child */
		if (e->kind == VV_DIR) {
			int r = share_down(sc, c, depth + 1);
			if (r < 0)
				return r;
		} else {
			c->flags |= N_SHARED;
		}
	}
	return 0;
}

/* Distinct file objects below n for env idx (each counted once per env, whoever owns
 * it). Runs after own_tree(), so every child already has a node with its size. */
static int distinct_tree(struct stats_ctx *sc, struct node *n, int32_t idx,
			 struct vv_stats_env *env, int depth)
{
	if (n->dmark == idx + 1)
		return 0;
	n->dmark = idx + 1;
	if (!n->tree || depth > MAX_DEPTH)
		return 0;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (e->kind != VV_REG && e->kind != VV_SCRIPT && e->kind != VV_DIR)
			continue;
		struct node *c = NULL;
		int r = table_get(&sc->t, &e->oid, &c);
		if (r < 0)
			return r;
		if (e->kind == VV_DIR) {
			r = distinct_tree(sc, c, idx, env, depth + 1);
			if (r < 0)
				return r;
		} else if (c->dmark != idx + 1) {
			c->dmark = idx + 1;
			env->distinct += (c->flags & (N_FILE | N_SCANNED)) ? c->size : e->size;
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
	struct node *n = NULL;
	int r = table_get(&ho->sc->t, oid, &n);
	if (r == 0)
		r = count_tree(ho->sc, n, 0);
	if (r == 0)
		r = own_tree(ho->sc, n, ho->idx, 0);
	if (r == 0)
		r = distinct_tree(ho->sc, n, ho->idx, ho->env, 0);
	if (r == 0 && (n->flags & N_PARTIAL))
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
	struct stats_ctx sc = {.st = st};
	char **names = NULL;
	size_t nnames = 0;
	int stop = 0;
	int r = scan_objects(st, &sc.t, NULL, &stop, pg);
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
		struct node *root = NULL;
		r = table_get(&sc.t, &cfg.root, &root);
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
			if (ho.partial && !(root->flags & N_PARTIAL) &&
			    (r = set_env_error(e, "some trees its history names are missing or "
					       "damaged (run venvctl fsck)")) < 0)
				goto fail;
		}
		out->logical += e->logical;
		if (root->flags & N_PARTIAL) {
			r = set_env_error(e, "%s", !root->tree && root->errmsg ? root->errmsg :
				"some trees are missing or damaged (run venvctl fsck)");
			if (r < 0)
				goto fail;
		}
	}
	struct node *n;
	TABLE_FOREACH(&sc.t, n) {
		if ((n->flags & N_SHARED) && n->tree) {
			r = share_down(&sc, n, 0);
			if (r < 0)
				goto fail;
		}
	}
	TABLE_FOREACH(&sc.t, n) {
		bool reached = n->owner >= 0;
		if (n->flags & N_SCANNED) {
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
		if (n->flags & N_TREE) {
			out->trees += n->tree != NULL;
			if (!(n->flags & N_SHARED) && (n->flags & N_SCANNED))
				out->envs[n->owner].unique_tree_bytes += n->size;
		} else if (n->flags & N_FILE) {
			out->file_objects++;
			out->file_bytes += n->size;
			if (!(n->flags & N_SHARED)) {
				out->envs[n->owner].unique += n->size;
				out->envs[n->owner].unique_files++;
			}
		}
	}
	for (size_t i = 0; i < out->nenvs; i++)
		if (out->envs[i].error)
			out->env_errors++;
	free_names(names, nnames);
	table_free(&sc.t);
	return 0;
fail:
	free_names(names, nnames);
	table_free(&sc.t);
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

/* ---- fsck ------------------------------------------------------------------------ */

struct fsck_ctx {
	struct vv_store *st;
	struct table t;
	vv_fsck_cb cb;
	void *arg;
	struct vv_fsck_summary sum;
	struct pathbuf path;
	int stop;
};

static int fsck_report(struct fsck_ctx *fc, enum vv_fsck_kind kind, const vv_oid *oid,
		       const char *env, const char *path, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (env) {
		size_t len = strlen(msg);
		/* Insert " (env NAME, path P)" after the leading "what <hex>" part, keeping
		   any ": detail" at the end. */
		char tail[1024] = "";
		char *colon = strstr(msg, ": ");
		if (colon) {
			snprintf(tail, sizeof(tail), "%s", colon);
			*colon = 0;
			len = strlen(msg);
		}
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, " (env ");
		msg_escaped(msg, sizeof(msg), &len, env);
		if (len < sizeof(msg))
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, ", path ");
		if (len < sizeof(msg))
			msg_escaped(msg, sizeof(msg), &len, path ? path : "/");
		if (len < sizeof(msg))
			snprintf(msg + len, sizeof(msg) - len, ")%s", tail);
	}
	fc->sum.problems++;
	if (fc->cb) {
		struct vv_fsck_problem p = {
			.kind = kind, .oid = oid, .env = env, .path = path, .msg = msg,
		};
		if (fc->cb(&p, fc->arg))
			fc->stop = 1;
	}
	return 0;
}

/* Check the tree at node n (reached in env at fc->path). Returns 1 if problems were
 * found below, 0 if clean, -errno if the check itself failed. */
static int check_tree(struct fsck_ctx *fc, struct node *n, const char *env, int depth)
{
	if (fc->stop)
		return 0;
	if ((n->flags & N_CHECKED) && !(n->flags & N_BAD))
		return 0;
	const char *path = path_str(&fc->path);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&n->oid, hex);
	int r = probe_object(fc->st, n, true);
	if (r < 0)
		return r;
	bool first = !(n->flags & N_CHECKED);
	n->flags |= N_CHECKED | N_TREE;
	if (n->flags & N_ABSENT) {
		n->flags |= N_BAD;
		fsck_report(fc, VV_FSCK_MISSING, &n->oid, env, path, "missing object %s", hex);
		return 1;
	}
	if (n->flags & N_CORRUPT) {
		n->flags |= N_BAD;
		fsck_report(fc, VV_FSCK_CORRUPT, &n->oid, env, path, "corrupt object %s", hex);
		return 1;
	}
	if (first)
		fc->sum.trees++;
	load_tree(fc->st, n);
	if (!n->tree) {
		n->flags |= N_BAD;
		fsck_report(fc, n->err == -EUCLEAN ? VV_FSCK_BAD_TREE : VV_FSCK_IO, &n->oid, env,
			    path, "bad tree %s: %s", hex, n->errmsg ? n->errmsg : strerror(-n->err));
		return 1;
	}
	if (depth > MAX_DEPTH) {
		n->flags |= N_BAD;
		fsck_report(fc, VV_FSCK_BAD_TREE, &n->oid, env, path,
			    "bad tree %s: nested more than %d levels", hex, MAX_DEPTH);
		return 1;
	}
	bool bad = false;
	for (size_t i = 0; i < n->tree->n && !fc->stop; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (e->kind != VV_REG && e->kind != VV_SCRIPT && e->kind != VV_DIR)
			continue;
		struct node *c = NULL;
		r = table_get(&fc->t, &e->oid, &c);
		if (r < 0)
			return r;
		size_t saved;
		r = path_push(&fc->path, e->name, e->namelen, &saved);
		if (r < 0)
			return r;
		if (e->kind == VV_DIR) {
			r = check_tree(fc, c, env, depth + 1);
			path_pop(&fc->path, saved);
			if (r < 0)
				return r;
			bad |= r > 0;
			continue;
		}
		r = probe_object(fc->st, c, true);
		if (r < 0) {
			path_pop(&fc->path, saved);
			return r;
		}
		char chex[VV_OID_HEX + 1];
		vv_oid_hex(&c->oid, chex);
		const char *cp = path_str(&fc->path);
		if (c->flags & N_ABSENT) {
			fsck_report(fc, VV_FSCK_MISSING, &c->oid, env, cp, "missing object %s", chex);
			bad = true;
		} else if (c->flags & N_CORRUPT) {
			fsck_report(fc, VV_FSCK_CORRUPT, &c->oid, env, cp, "corrupt object %s", chex);
			bad = true;
		} else if (c->size != e->size) {
			fsck_report(fc, VV_FSCK_SIZE, &c->oid, env, cp,
				    "size mismatch %s: tree says %llu bytes, object has %llu", chex,
				    (unsigned long long)e->size, (unsigned long long)c->size);
			bad = true;
		}
		path_pop(&fc->path, saved);
	}
	if (bad)
		n->flags |= N_BAD;
	return bad ? 1 : 0;
}

struct hist_check {
	struct fsck_ctx *fc;
	const char *env;
};

static int hist_check_root(void *arg, const vv_oid *oid)
{
	struct hist_check *hc = arg;
	struct node *n = NULL;
	int r = table_get(&hc->fc->t, oid, &n);
	if (r < 0)
		return r;
	path_pop(&hc->fc->path, 0);
	if (hc->fc->stop)
		return 1;
	r = check_tree(hc->fc, n, hc->env, 0);
	return r < 0 ? r : 0;
}

/* The states an env's history holds must be as intact as its current one. */
static int fsck_history(struct fsck_ctx *fc, const char *env)
{
	struct vv_history h;
	vv_err_clear();
	if (vv_history_load(fc->st, env, &h) < 0) {
		char msg[1024];
		size_t len = 0;
		msg[0] = 0;
		msg_escaped(msg, sizeof(msg), &len, vv_errmsg());
		fsck_report(fc, VV_FSCK_BAD_ENV, NULL, NULL, NULL, "bad history: %s", msg);
		return 0;
	}
	struct hist_check hc = {.fc = fc, .env = env};
	int r = vv_history_roots(&h, hist_check_root, &hc);
	vv_history_release(&h);
	return r < 0 ? r : 0;
}

int vv_fsck(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum)
{
	return vv_fsck_ex(st, cb, arg, sum, NULL);
}

int vv_fsck_ex(struct vv_store *st, vv_fsck_cb cb, void *arg, struct vv_fsck_summary *sum,
	       const struct vv_progress *pg)
{
	struct fsck_ctx fc = {.st = st, .cb = cb, .arg = arg};
	char **names = NULL;
	size_t nnames = 0;
	int r = scan_objects(st, &fc.t, &fc, &fc.stop, pg);
	if (r < 0)
		goto out;
	fc.sum.objects = fc.t.used; /* so far the table holds exactly the scanned files */
	if (fc.stop)
		goto out;
	r = vv_env_list(st, &names, &nnames);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < nnames && !fc.stop; i++) {
		vv_progress_report(pg, "checking", i, nnames);
		struct vv_envcfg cfg = {0};
		vv_err_clear();
		int lr = vv_env_load(st, names[i], &cfg);
		if (lr == -ENOENT)
			continue; /* removed since the listing */
		fc.sum.envs++;
		if (lr < 0) {
			char msg[1024];
			size_t len = 0;
			msg[0] = 0;
			msg_escaped(msg, sizeof(msg), &len, names[i]);
			fsck_report(&fc, VV_FSCK_BAD_ENV, NULL, NULL, NULL, "bad env %s: %s", msg,
				    vv_errmsg());
			continue;
		}
		struct node *root = NULL;
		r = table_get(&fc.t, &cfg.root, &root);
		vv_envcfg_release(&cfg);
		if (r < 0)
			goto out;
		path_pop(&fc.path, 0);
		r = check_tree(&fc, root, names[i], 0);
		if (r < 0)
			goto out;
		r = fsck_history(&fc, names[i]);
		if (r < 0)
			goto out;
	}
	vv_progress_report(pg, "checking", nnames, nnames);
	r = 0;
out:
	free_names(names, nnames);
	free(fc.path.s);
	table_free(&fc.t);
	if (sum)
		*sum = fc.sum;
	if (r < 0)
		return r;
	return fc.sum.problems > INT32_MAX ? INT32_MAX : (int)fc.sum.problems;
}

/* ---- reachability (gc) ----------------------------------------------------------- */

struct vv_reach {
	struct vv_store *st;
	struct table t;
	struct pathbuf path;
	uint64_t trees, files;
};

int vv_reach_new(struct vv_store *st, struct vv_reach **out)
{
	struct vv_reach *r = calloc(1, sizeof(*r));
	if (!r)
		return oom();
	r->st = st;
	*out = r;
	return 0;
}

void vv_reach_free(struct vv_reach *r)
{
	if (!r)
		return;
	table_free(&r->t);
	free(r->path.s);
	free(r);
}

/* Walk the tree at n; any tree that cannot be read fails the whole walk, because what
 * it references is then unknown. File objects are marked, never opened: a missing one
 * protects nothing, so it is fsck's business, not a reason to stop. */
static int reach_tree(struct vv_reach *rc, struct node *n, int depth)
{
	if (n->flags & N_REACHED)
		return 0;
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&n->oid, hex);
	if (depth > MAX_DEPTH)
		return vv_err(-EUCLEAN, "tree %s at %s: nested more than %d levels", hex,
			      path_str(&rc->path), MAX_DEPTH);
	load_tree(rc->st, n);
	if (!n->tree) {
		int code = n->err < 0 ? n->err : -EIO;
		return vv_err(code, "tree %s at %s: %s", hex, path_str(&rc->path),
			      n->errmsg ? n->errmsg : strerror(-code));
	}
	n->flags |= N_REACHED;
	rc->trees++;
	for (size_t i = 0; i < n->tree->n; i++) {
		const struct vv_tree_ent *e = &n->tree->ents[i];
		if (e->kind != VV_REG && e->kind != VV_SCRIPT && e->kind != VV_DIR)
			continue;
		struct node *c = NULL;
		int r = table_get(&rc->t, &e->oid, &c);
		if (r < 0)
			return r;
		if (e->kind != VV_DIR) {
			if (!(c->flags & N_FILE))
				rc->files++;
			c->flags |= N_FILE;
			continue;
		}
		size_t saved;
		r = path_push(&rc->path, e->name, e->namelen, &saved);
		if (r < 0)
			return r;
		r = reach_tree(rc, c, depth + 1);
		path_pop(&rc->path, saved);
		if (r < 0)
			return r;
	}
	return 0;
}

int vv_reach_tree(struct vv_reach *rc, const vv_oid *oid)
{
	struct node *n = NULL;
	int r = table_get(&rc->t, oid, &n);
	if (r < 0)
		return r;
	path_pop(&rc->path, 0);
	return reach_tree(rc, n, 0);
}

int vv_reach_object(struct vv_reach *rc, const vv_oid *oid)
{
	struct node *n = NULL;
	int r = table_get(&rc->t, oid, &n);
	if (r < 0)
		return r;
	if (!(n->flags & N_FILE))
		rc->files++;
	n->flags |= N_FILE;
	return 0;
}

bool vv_reach_has(const struct vv_reach *rc, const vv_oid *oid)
{
	const struct node *n = table_find(&rc->t, oid);
	return n && (n->flags & (N_FILE | N_REACHED));
}

void vv_reach_counts(const struct vv_reach *rc, uint64_t *trees, uint64_t *files)
{
	if (trees)
		*trees = rc->trees;
	if (files)
		*files = rc->files;
}
