/*
 * prefetch.c - the miss hook of a remote's cache: one object wanted means a batch
 * fetched, chosen from the trees (prefetch.h).
 *
 * The table: every directory tree seen, with the file objects it lists (and their
 * sizes) and the id of its __pycache__ tree; a map from file id to its directory (the
 * first one seen: identical files in two packages fetch one package's batch) and from
 * tree id to directory. Guarded by one mutex, never held across a fetch.
 */
#include "store/prefetch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/lru.h"
#include "store/odb.h"
#include "store/remote.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/vec.h"

#define NONE UINT32_MAX
/* A tree bigger than this is not fetched ahead (tree.c reads up to 256 MiB). */
#define TREE_MAX ((size_t)256 << 20)
/* Trees walked ahead from one miss at most. */
#define WALK_MAX 200000

struct pdir {
	vv_oid tree;
	uint32_t first, n;  /* its files: files[first .. first + n) */
	vv_oid pycache;     /* its __pycache__ tree (has_pycache) */
	bool has_pycache;
};

struct pfile {
	vv_oid oid;
	uint64_t size;
};

struct map { /* open addressing: oid -> index */
	vv_oid *keys;
	uint32_t *vals;
	size_t nslots, n;
};

struct vv_prefetch {
	pthread_mutex_t lk;
	struct pdir *dirs;
	size_t ndirs, capdirs;
	struct pfile *files;
	size_t nfiles, capfiles;
	struct map byfile, bytree;
};

static size_t slot(const struct map *m, const vv_oid *k)
{
	uint64_t h;
	memcpy(&h, k->b, sizeof(h));
	return (size_t)h & (m->nslots - 1);
}

static uint32_t map_get(const struct map *m, const vv_oid *k)
{
	if (!m->nslots)
		return NONE;
	for (size_t s = slot(m, k);; s = (s + 1) & (m->nslots - 1)) {
		if (m->vals[s] == NONE)
			return NONE;
		if (vv_oid_eq(&m->keys[s], k))
			return m->vals[s];
	}
}

/* Add k -> v unless k is there. 0, or -ENOMEM. */
static int map_put(struct map *m, const vv_oid *k, uint32_t v)
{
	if (2 * (m->n + 1) > m->nslots) {
		size_t ns = m->nslots ? m->nslots * 2 : 1024;
		vv_oid *keys = malloc(ns * sizeof(*keys));
		uint32_t *vals = malloc(ns * sizeof(*vals));
		if (!keys || !vals) {
			free(keys);
			free(vals);
			return -ENOMEM;
		}
		memset(vals, 0xff, ns * sizeof(*vals));
		struct map old = *m;
		*m = (struct map){ .keys = keys, .vals = vals, .nslots = ns };
		for (size_t i = 0; i < old.nslots; i++)
			if (old.vals[i] != NONE)
				map_put(m, &old.keys[i], old.vals[i]);
		free(old.keys);
		free(old.vals);
	}
	size_t s = slot(m, k);
	for (; m->vals[s] != NONE; s = (s + 1) & (m->nslots - 1))
		if (vv_oid_eq(&m->keys[s], k))
			return 0;
	m->keys[s] = *k;
	m->vals[s] = v;
	m->n++;
	return 0;
}

static void prefetch_free(struct vv_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lk);
	free(p->dirs);
	free(p->files);
	free(p->byfile.keys);
	free(p->byfile.vals);
	free(p->bytree.keys);
	free(p->bytree.vals);
	free(p);
}

/* Note tree t's directory (once). Called with p->lk held. */
static int note_tree(struct vv_prefetch *p, const struct vv_tree *t)
{
	if (map_get(&p->bytree, &t->oid) != NONE)
		return 0;
	if (p->ndirs >= NONE - 1 || p->nfiles + t->n >= NONE - 1 ||
	    VV_GROW(p->dirs, p->ndirs, p->capdirs, 256) < 0)
		return -ENOMEM;
	struct pdir *d = &p->dirs[p->ndirs];
	*d = (struct pdir){ .tree = t->oid, .first = (uint32_t)p->nfiles };
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		if (e->kind == VV_DIR && !strcmp(e->name, "__pycache__")) {
			d->pycache = e->oid;
			d->has_pycache = true;
		}
		if (!vv_kind_file(e->kind))
			continue;
		if (VV_GROW(p->files, p->nfiles, p->capfiles, 1024) < 0)
			return -ENOMEM;
		p->files[p->nfiles++] = (struct pfile){ .oid = e->oid, .size = e->size };
		d->n++;
		if (map_put(&p->byfile, &e->oid, (uint32_t)p->ndirs) < 0)
			return -ENOMEM;
	}
	if (map_put(&p->bytree, &t->oid, (uint32_t)p->ndirs) < 0)
		return -ENOMEM;
	p->ndirs++;
	return 0;
}

/* Is the object oid in the cache a tree? Then note it: 1, its subtrees appended to
 * *next; 0 not a tree (or unreadable); -ENOMEM. */
/* Do these bytes start as a tree does (tree.h)? */
static bool is_tree(const char *buf, size_t len)
{
	return len >= 12 && !memcmp(buf, "venvfs-tree ", 12);
}

/* Note the tree in buf (oid's verified bytes) when it is one and not noted yet: 1 and
 * its subtrees appended to *next (when next is not NULL); 0 not a tree; -ENOMEM. */
static int note_bytes(struct vv_prefetch *p, const vv_oid *oid, const char *buf, size_t len,
		      vv_oid **next, size_t *nnext, size_t *capnext)
{
	struct vv_tree *t = NULL;
	if (!is_tree(buf, len) || vv_tree_parse(buf, len, &t) < 0)
		return 0;
	memcpy(&t->oid, oid, sizeof(*oid));
	pthread_mutex_lock(&p->lk);
	int rc = note_tree(p, t);
	pthread_mutex_unlock(&p->lk);
	for (size_t i = 0; i < t->n && rc == 0 && next; i++) {
		if (t->ents[i].kind != VV_DIR)
			continue;
		if (VV_GROW(*next, *nnext, *capnext, 64) < 0)
			rc = -ENOMEM;
		else
			(*next)[(*nnext)++] = t->ents[i].oid;
	}
	vv_tree_unref(t);
	return rc < 0 ? rc : 1;
}

static int look_at(struct vv_remote *r, const vv_oid *oid, vv_oid **next, size_t *nnext,
		   size_t *capnext)
{
	/* a file's bytes are not read whole just to learn it is no tree */
	int fd = vv_odb_open_here(r->odb, oid);
	char head[12];
	bool tree = fd >= 0 && pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
		    is_tree(head, sizeof(head));
	if (fd >= 0)
		close(fd);
	char *buf;
	size_t len;
	if (!tree || vv_odb_read_here(r->odb, oid, TREE_MAX, &buf, &len) < 0)
		return 0;
	int rc = note_bytes(r->pf, oid, buf, len, next, nnext, capnext);
	free(buf);
	return rc;
}

/* oid was just fetched or found: if it is a tree, fetch every tree below it, a level
 * per batch. Failures here are left to the reads that need those trees. */
static void walk_trees(struct vv_remote *r, const vv_oid *oid)
{
	vv_oid *level = NULL, *next = NULL;
	size_t nlevel = 0, nnext = 0, caplevel = 0, capnext = 0, walked = 0;
	if (look_at(r, oid, &level, &nlevel, &caplevel) != 1) {
		free(level);
		return;
	}
	while (nlevel && walked < WALK_MAX) {
		/* trees seen before (shared subtrees) are not walked again */
		size_t k = 0;
		pthread_mutex_lock(&r->pf->lk);
		for (size_t i = 0; i < nlevel; i++)
			if (map_get(&r->pf->bytree, &level[i]) == NONE)
				level[k++] = level[i];
		pthread_mutex_unlock(&r->pf->lk);
		nlevel = k;
		if (!nlevel)
			break;
		vv_remote_fetch_many(r, level, nlevel, NULL, NULL);
		nnext = 0;
		for (size_t i = 0; i < nlevel; i++, walked++)
			if (look_at(r, &level[i], &next, &nnext, &capnext) < 0)
				break;
		vv_oid *tv = level;
		size_t tc = caplevel;
		level = next;
		nlevel = nnext;
		caplevel = capnext;
		next = tv;
		capnext = tc;
	}
	free(level);
	free(next);
}

/* The batch for a file oid: oid first, then the rest of its directory and of the
 * directory's __pycache__. n == 1 when its directory is unknown. */
static size_t batch_for(struct vv_prefetch *p, const vv_oid *oid, vv_oid *out)
{
	out[0] = *oid;
	size_t n = 1;
	uint64_t bytes = 0;
	pthread_mutex_lock(&p->lk);
	uint32_t d = map_get(&p->byfile, oid);
	for (int round = 0; round < 2 && d != NONE; round++) {
		const struct pdir *dir = &p->dirs[d];
		for (uint32_t i = 0; i < dir->n && n < VV_PREFETCH_MAX_OBJECTS; i++) {
			const struct pfile *f = &p->files[dir->first + i];
			if (vv_oid_eq(&f->oid, oid) || bytes + f->size > VV_PREFETCH_MAX_BYTES)
				continue;
			bytes += f->size;
			out[n++] = f->oid;
		}
		d = dir->has_pycache ? map_get(&p->bytree, &dir->pycache) : NONE;
	}
	pthread_mutex_unlock(&p->lk);
	return n;
}

static int on_miss(void *arg, const vv_oid *oid)
{
	struct vv_remote *r = arg;
	vv_oid batch[VV_PREFETCH_MAX_OBJECTS];
	size_t n = batch_for(r->pf, oid, batch);
	int rcs[VV_PREFETCH_MAX_OBJECTS];
	vv_remote_fetch_many(r, batch, n, rcs, NULL);
	if (rcs[0] < 0) /* the message is the first failure's: oid's own (logged) */
		return rcs[0] == -ENOMEM ? rcs[0] : vv_err_prefix(-EIO, "remote");
	if (n == 1)
		walk_trees(r, oid); /* a tree, or a file of a directory not seen */
	return 0;
}

/* Every object found in the cache: the bound's use order, and a tree read whole
 * (the mount reads each once, into the store's tree cache) goes into the table, so
 * batches work for a cache kept from an earlier mount too. */
static void on_hit(void *arg, const vv_oid *oid, const char *buf, size_t len)
{
	struct vv_remote *r = arg;
	if (r->lru)
		vv_lru_touch(r->lru, oid);
	if (buf && is_tree(buf, len)) {
		pthread_mutex_lock(&r->pf->lk);
		bool known = map_get(&r->pf->bytree, oid) != NONE;
		pthread_mutex_unlock(&r->pf->lk);
		if (!known)
			note_bytes(r->pf, oid, buf, len, NULL, NULL, NULL);
	}
}

int vv_prefetch_attach(struct vv_remote *r, uint64_t limit)
{
	if (!(r->pf = calloc(1, sizeof(*r->pf))))
		return vv_err(-ENOMEM, "out of memory");
	pthread_mutex_init(&r->pf->lk, NULL);
	int rc = limit ? vv_lru_open(&r->lru, r->odb, limit) : 0;
	if (rc < 0)
		return rc;
	r->odb->miss_arg = r;
	r->odb->miss = on_miss;
	r->odb->hit = on_hit;
	return 0;
}

void vv_prefetch_detach(struct vv_remote *r)
{
	if (r->odb->miss_arg == r) {
		r->odb->miss = NULL;
		r->odb->hit = NULL;
		r->odb->miss_arg = NULL;
	}
	vv_lru_free(r->lru);
	r->lru = NULL;
	prefetch_free(r->pf);
	r->pf = NULL;
}
