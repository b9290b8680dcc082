/*
 * store.h - the content-addressed object store.
 *
 * Layout of a store directory (see docs/design.md):
 *   objects/ab/cdef...   immutable objects (file contents and trees), named by the hex
 *                        SHA-256 of their bytes, mode 0444, never rewritten
 *   envs/NAME            one small INI file per environment (env.h); its `root` key is
 *                        the env's single atomic commit point
 *   journal/NAME         per-env log of changes made since that root (journal.h)
 *   pythons/KEY          cached facts about an interpreter (python.h)
 *   packages/RECORD      ingested wheels: name, version, tags, trees (pkg.h)
 *   history/NAME         per-env history of roots and named snapshots (history.h)
 *   locks/NAME           per-env writer locks (envlock.h)
 *   tmp/                 temp files; anything here is garbage after a crash
 *   quarantine/          corrupt objects moved aside by `venvctl fsck --repair`
 *   damaged              objects that could not be restored (damaged.h)
 *
 * Objects are read and published through the object database embedded in the handle,
 * st->odb (odb.h: vv_odb_put_buf(&st->odb, ...) and so on), the only code that knows
 * how they lie in objects/. The handle's fields are in handle.h.
 */
#ifndef VV_STORE_H
#define VV_STORE_H

#include "store/handle.h"

/* vv_store_open's create argument: 0 open, 1 also make the layout, VV_STORE_READONLY
 * open for reading only (no write probe, no tmp/ cleaning; publishing fails with
 * -EROFS and interpreter facts are not cached), e.g. for `venvfs -o ro`, which must
 * leave the store unchanged and may serve a store it cannot write. */
#define VV_STORE_READONLY 2

/* Open (creating the layout when create == 1) the store at path. Fails with a clear
 * message if path is not a writable directory (unless VV_STORE_READONLY). Cleans tmp/
 * leftovers of a crash. */
int vv_store_open(struct vv_store **out, const char *path, int create);
void vv_store_close(struct vv_store *st);

#endif
