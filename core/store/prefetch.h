/*
 * prefetch.h - fetching what the next reads will want, as the remote's trees show it.
 *
 * A remote mount (remote.h) fetches an object the first time something opens or reads
 * it. One request per file would make a cold import cost a round trip per module, so
 * the miss hook fetches more at once, from what the trees say:
 *   - a tree: every tree below it, level by level, each level in one parallel batch,
 *     so the first look into an env fetches all its directories;
 *   - a file: every file of its directory and of the directory's __pycache__, in one
 *     parallel batch (up to VV_PREFETCH_MAX_OBJECTS and VV_PREFETCH_MAX_BYTES), so an
 *     import costs round trips per package, not per module.
 * The table of directories is built from the trees as they are fetched or found in
 * the cache; a file of a directory it has not seen is fetched alone.
 */
#ifndef VV_PREFETCH_H
#define VV_PREFETCH_H

#include <stdint.h>

struct vv_remote;

#define VV_PREFETCH_MAX_OBJECTS 256
#define VV_PREFETCH_MAX_BYTES ((uint64_t)32 << 20)

/* Hook r into its cache's object database: misses fetch batches (above), hits keep
 * the use order of the cache's bound, limit bytes of disk (lru.h; 0: no bound). */
int vv_prefetch_attach(struct vv_remote *r, uint64_t limit);
/* Unhook r and free what attach made (before vv_remote_close). */
void vv_prefetch_detach(struct vv_remote *r);

#endif
