/*
 * lru.c - least-recently-used removal of a cache store's objects over a size bound
 * (lru.h). One list in use order over an array of nodes, found by an open-addressing
 * table of their ids; a removed object keeps its node (it may come back), so nothing
 * is ever deleted from the table.
 */
#include "store/lru.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/odb.h"
#include "util/error.h"
#include "util/vec.h"

#define NONE UINT32_MAX

struct node {
	vv_oid oid;
	uint64_t disk;
	uint32_t prev, next; /* prev: towards the most recent */
	bool live;           /* in the list (the object is in the cache) */
	int64_t atime;       /* only while opening: the order to start from */
};

struct vv_lru {
	pthread_mutex_t lk;
	struct vv_odb *odb;
	uint64_t limit, used, evicted;
	struct node *nodes;
	size_t n, cap;
	uint32_t *slots; /* index + 1 of a node, 0 free; nslots a power of two */
	size_t nslots;
	uint32_t head, tail; /* most and least recent */
};

static size_t slot_of(const struct vv_lru *l, const vv_oid *oid)
{
	uint64_t h;
	memcpy(&h, oid->b, sizeof(h));
	return (size_t)h & (l->nslots - 1);
}

static uint32_t find(const struct vv_lru *l, const vv_oid *oid)
{
	for (size_t s = slot_of(l, oid);; s = (s + 1) & (l->nslots - 1)) {
		uint32_t v = l->slots[s];
		if (!v)
			return NONE;
		if (vv_oid_eq(&l->nodes[v - 1].oid, oid))
			return v - 1;
	}
}

static int rehash(struct vv_lru *l, size_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));
	if (!slots)
		return vv_err(-ENOMEM, "out of memory");
	free(l->slots);
	l->slots = slots;
	l->nslots = nslots;
	for (size_t i = 0; i < l->n; i++) {
		size_t s = slot_of(l, &l->nodes[i].oid);
		while (l->slots[s])
			s = (s + 1) & (nslots - 1);
		l->slots[s] = (uint32_t)i + 1;
	}
	return 0;
}

/* The node of oid, made (not in the list) when missing; NONE when out of memory. */
static uint32_t node_for(struct vv_lru *l, const vv_oid *oid)
{
	uint32_t i = find(l, oid);
	if (i != NONE)
		return i;
	if (l->n + 1 >= UINT32_MAX / 2 || VV_GROW(l->nodes, l->n, l->cap, 1024) < 0)
		return NONE;
	if (2 * (l->n + 1) > l->nslots && rehash(l, l->nslots * 2) < 0)
		return NONE;
	i = (uint32_t)l->n++;
	l->nodes[i] = (struct node){ .oid = *oid, .prev = NONE, .next = NONE };
	size_t s = slot_of(l, oid);
	while (l->slots[s])
		s = (s + 1) & (l->nslots - 1);
	l->slots[s] = i + 1;
	return i;
}

static void unlink_node(struct vv_lru *l, uint32_t i)
{
	struct node *nd = &l->nodes[i];
	if (nd->prev != NONE)
		l->nodes[nd->prev].next = nd->next;
	else
		l->head = nd->next;
	if (nd->next != NONE)
		l->nodes[nd->next].prev = nd->prev;
	else
		l->tail = nd->prev;
	nd->prev = nd->next = NONE;
}

static void push_head(struct vv_lru *l, uint32_t i)
{
	struct node *nd = &l->nodes[i];
	nd->prev = NONE;
	nd->next = l->head;
	if (l->head != NONE)
		l->nodes[l->head].prev = i;
	l->head = i;
	if (l->tail == NONE)
		l->tail = i;
}

struct scan {
	struct vv_lru *l;
	int err;
};

static int on_object(const struct vv_odb_entry *e, void *arg)
{
	struct scan *sc = arg;
	if (e->kind != VV_ODB_OBJECT)
		return 0;
	uint32_t i = node_for(sc->l, &e->oid);
	if (i == NONE)
		return -ENOMEM;
	struct node *nd = &sc->l->nodes[i];
	nd->disk = (uint64_t)e->st.st_blocks * 512;
	nd->atime = (int64_t)e->st.st_atim.tv_sec * 1000000000 + e->st.st_atim.tv_nsec;
	return 0;
}

static int cmp_atime(const void *a, const void *b, void *arg)
{
	const struct node *n = arg;
	int64_t x = n[*(const uint32_t *)a].atime, y = n[*(const uint32_t *)b].atime;
	return (x > y) - (x < y);
}

int vv_lru_open(struct vv_lru **out, struct vv_odb *odb, uint64_t limit)
{
	struct vv_lru *l = calloc(1, sizeof(*l));
	if (!l || rehash(l, 1024) < 0) {
		free(l);
		return vv_err(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&l->lk, NULL);
	l->odb = odb;
	l->limit = limit;
	l->head = l->tail = NONE;
	struct scan sc = { .l = l };
	int r = vv_odb_each(odb, 0, on_object, &sc);
	uint32_t *order = NULL;
	if (r == 0 && l->n && !(order = malloc(l->n * sizeof(*order))))
		r = vv_err(-ENOMEM, "out of memory");
	if (r < 0) {
		vv_lru_free(l);
		return r == -ENOMEM ? vv_err(r, "out of memory") : r;
	}
	for (size_t i = 0; i < l->n; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, l->n, sizeof(*order), cmp_atime, l->nodes);
	for (size_t k = 0; k < l->n; k++) { /* oldest first: the newest ends at the head */
		push_head(l, order[k]);
		l->nodes[order[k]].live = true;
		l->used += l->nodes[order[k]].disk;
	}
	free(order);
	*out = l;
	return 0;
}

void vv_lru_free(struct vv_lru *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lk);
	free(l->nodes);
	free(l->slots);
	free(l);
}

void vv_lru_touch(struct vv_lru *l, const vv_oid *oid)
{
	pthread_mutex_lock(&l->lk);
	uint32_t i = find(l, oid);
	if (i != NONE && l->nodes[i].live && l->head != i) {
		unlink_node(l, i);
		push_head(l, i);
	}
	pthread_mutex_unlock(&l->lk);
}

/* Remove least recent objects (never `keep`) until used <= 90 % of the limit. */
static void evict(struct vv_lru *l, uint32_t keep)
{
	uint64_t goal = l->limit / 10 * 9;
	uint32_t i = l->tail;
	while (l->used > goal && i != NONE) {
		uint32_t prev = l->nodes[i].prev;
		if (i != keep) {
			if (vv_odb_drop(l->odb, &l->nodes[i].oid) == 0) {
				unlink_node(l, i);
				l->nodes[i].live = false;
				l->used -= l->nodes[i].disk;
				l->evicted++;
			}
		}
		i = prev;
	}
}

void vv_lru_add(struct vv_lru *l, const vv_oid *oid, uint64_t disk)
{
	pthread_mutex_lock(&l->lk);
	uint32_t i = node_for(l, oid);
	if (i != NONE) {
		struct node *nd = &l->nodes[i];
		if (nd->live) {
			unlink_node(l, i);
			l->used -= nd->disk;
		}
		nd->disk = disk;
		nd->live = true;
		l->used += disk;
		push_head(l, i);
	}
	if (l->limit && l->used > l->limit)
		evict(l, i);
	pthread_mutex_unlock(&l->lk);
}

uint64_t vv_lru_used(struct vv_lru *l)
{
	pthread_mutex_lock(&l->lk);
	uint64_t u = l->used;
	pthread_mutex_unlock(&l->lk);
	return u;
}

uint64_t vv_lru_evicted(struct vv_lru *l)
{
	pthread_mutex_lock(&l->lk);
	uint64_t u = l->evicted;
	pthread_mutex_unlock(&l->lk);
	return u;
}
