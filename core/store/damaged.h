/*
 * damaged.h - the store's list of objects known to be damaged, and the checked open
 * the daemon uses for file contents so that it never serves wrong bytes.
 *
 * STORE/damaged holds one 64-hex object id a line: objects that `venvctl fsck --repair`
 * found corrupt or missing and could not restore. It is replaced atomically (temp file,
 * fsync, rename) and removed when nothing is damaged. The daemon re-reads it whenever
 * its inode, size or mtime changed (one stat per content open), so a repair shows at
 * once without a remount.
 *
 * vv_obj_open_checked() opens an object for serving: a missing object, one whose size
 * differs from what the tree records (truncated), or one on the list whose bytes do not
 * hash to its id give -EIO, logged once per object id to stderr. An object on the list
 * that hashes right again (restored since) is served.
 */
#ifndef VV_DAMAGED_H
#define VV_DAMAGED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct vv_store;

#define VV_DAMAGED_FILE "damaged"

/* A sorted set of object ids. */
struct vv_oidset {
	vv_oid *ids;
	size_t n, cap;
};

int vv_oidset_add(struct vv_oidset *s, const vv_oid *oid); /* unsorted append */
void vv_oidset_sort(struct vv_oidset *s);                  /* sort, drop duplicates */
bool vv_oidset_has(const struct vv_oidset *s, const vv_oid *oid); /* after sort */
void vv_oidset_release(struct vv_oidset *s);

/* Read STORE/damaged into out (sorted). A missing file is an empty list. A line that is
 * not an object id fails with -EUCLEAN naming the file and line. */
int vv_damaged_load(struct vv_store *st, struct vv_oidset *out);

/* Replace STORE/damaged with the ids of s (sorted first), atomically; an empty set
 * removes the file. */
int vv_damaged_save(struct vv_store *st, struct vv_oidset *s);

/* Open object oid to serve its bytes; size is what the tree records (UINT64_MAX: do not
 * check). Returns an O_RDONLY fd, or -EIO (logged once per id, `what` names the user of
 * the object in the log line, e.g. "env web") for a missing, truncated or damaged
 * object, or another -errno. Thread-safe. */
int vv_obj_open_checked(struct vv_store *st, const vv_oid *oid, uint64_t size,
			const char *what);

/* Log (once per id) that object oid, used by `what`, cannot be served because of
 * `why`; returns -EIO. For trees the daemon cannot load. */
int vv_obj_report_bad(struct vv_store *st, const vv_oid *oid, const char *what,
		      const char *why);

/* The per-store state vv_obj_open_checked() keeps: made by vv_store_open, freed by
 * vv_store_close. new returns NULL when out of memory. */
struct vv_damaged_state *vv_damaged_state_new(void);
void vv_damaged_state_free(struct vv_damaged_state *s);

#endif
