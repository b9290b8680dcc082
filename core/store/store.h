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
 * Publishing an object: write a temp file (O_TMPFILE where the filesystem has it),
 * fsync it, make it 0444, link it under its final name with linkat(), which never
 * clobbers (EEXIST means another writer published the same bytes: success), then fsync
 * the fan-out directory. A crash at any point leaves either no object or a complete one.
 *
 * A struct vv_store is safe to share between threads: it only holds directory fds and
 * the tree cache, which has its own lock.
 */
#ifndef VV_STORE_H
#define VV_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/hash.h"

struct vv_treecache;
struct vv_damaged_state;

struct vv_store {
	char *path;     /* absolute path of the store directory */
	int dirfd;      /* the store directory */
	int objfd;      /* objects/ */
	int envfd;      /* envs/ */
	int journalfd;  /* journal/ */
	int pythonfd;   /* pythons/ */
	int tmpfd;      /* tmp/ */
	int pkgfd;      /* packages/ */
	int historyfd;  /* history/ */
	int lockfd;     /* locks/ (-1 on a read-only store without it) */
	/* history policy (history.h; set from the config by vv_history_policy) */
	int64_t hist_keep;       /* entries kept per env; 0: none */
	int64_t hist_max_age_s;  /* drop entries older than this; 0: no limit */
	int64_t hist_coalesce_s; /* a mount commit within this of the last one extends it */
	struct vv_treecache *trees; /* parsed immutable trees shared by every env (tree.h) */
	struct vv_damaged_state *damaged; /* damaged-list state of checked opens (damaged.h),
					     made on first use */
	bool readonly;  /* opened with VV_STORE_READONLY: nothing is ever written */
	/* publishing (store.c), per fan-out directory objects/XX: known to exist, and the
	 * CLOCK_REALTIME start (ns) of the last fsync of it that completed, which made
	 * durable every name linked there before it started */
	_Atomic bool fan_made[256];
	_Atomic int64_t fan_synced_ns[256];
};

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

/* Publish len bytes as an object; *out gets its id. Idempotent. */
int vv_store_put_buf(struct vv_store *st, const void *buf, size_t len, vv_oid *out);

/* Publish the whole content of fd (read from offset 0) as an object, copying it.
 * *size_out (may be NULL) gets the size. */
int vv_store_put_fd(struct vv_store *st, int fd, vv_oid *out, uint64_t *size_out);

/* A private temp file in tmp/ for content being written (O_TMPFILE: it vanishes if the
 * process dies). Returns an O_RDWR fd or -errno. */
int vv_store_tmpfile(struct vv_store *st);

/* Publish a file made by vv_store_tmpfile() without copying it: hash, fsync, fchmod
 * 0444, linkat into objects/. The fd must not be written afterwards (it is now the
 * object's inode, or a duplicate the caller should close). */
int vv_store_publish_tmpfile(struct vv_store *st, int fd, vv_oid *out, uint64_t *size_out);

/* Open an object read-only (O_RDONLY|O_NOFOLLOW|O_CLOEXEC). -ENOENT if missing. */
int vv_store_open_obj(struct vv_store *st, const vv_oid *oid);

/* Read a whole object into a malloc'd buffer, verifying its hash (-EUCLEAN if the bytes
 * do not match the name). Objects larger than maxlen give -EFBIG. */
int vv_store_read_obj(struct vv_store *st, const vv_oid *oid, size_t maxlen, char **out,
		      size_t *len_out);

/* 1 if the object exists, 0 if not, -errno on error. */
int vv_store_has(struct vv_store *st, const vv_oid *oid);

/* Relative path "objects/ab/cdef..." for messages; buf must hold 8 + 65 + 1 bytes. */
void vv_store_obj_path(const vv_oid *oid, char *buf);

#endif
