/*
 * lru.h - the size bound of a cache store (`venvfs --remote --cache-size`).
 *
 * Everything in a remote's cache can be fetched again, so when the objects take more
 * disk than the bound, the least recently used are removed until they take 90 % of it.
 * The order starts from the objects' access times (the cache's filesystem updates them
 * at least once a day even with relatime) and then follows every open and read of an
 * object in this process. The object being added is never the one removed, and
 * removing one that a process has open is harmless: its open file stays readable.
 */
#ifndef VV_LRU_H
#define VV_LRU_H

#include <stdint.h>

#include "util/hash.h"

struct vv_lru;
struct vv_odb;

/* Track the objects of odb against limit bytes of disk (st_blocks); made by listing
 * objects/ once. Objects over the bound already are removed at the first add. */
int vv_lru_open(struct vv_lru **out, struct vv_odb *odb, uint64_t limit);
void vv_lru_free(struct vv_lru *l);

/* An object was used: it becomes the most recent. Unknown objects are ignored. */
void vv_lru_touch(struct vv_lru *l, const vv_oid *oid);
/* An object of `disk` bytes was added; removes the least recently used others while
 * the total is over the bound. */
void vv_lru_add(struct vv_lru *l, const vv_oid *oid, uint64_t disk);
/* Disk bytes of the objects tracked, and how many were removed so far. */
uint64_t vv_lru_used(struct vv_lru *l);
uint64_t vv_lru_evicted(struct vv_lru *l);

#endif
