/*
 * odb.h - the object database: immutable objects named by the SHA-256 of their bytes.
 *
 * This is the only code that knows how objects lie on disk:
 *   objects/ab/cdef...   one file per object, named by its 64-hex id split after the
 *                        first byte (256 fan-out directories), mode 0444, never rewritten
 * Everything else asks here: put bytes or a file, open or read an object, ask whether it
 * exists, get its path for a message.
 *
 * Publishing an object: write a temp file (O_TMPFILE where the filesystem has it),
 * fsync it, make it 0444, link it under its final name with linkat(), which never
 * clobbers (EEXIST means another writer published the same bytes: success), then fsync
 * the fan-out directory. A crash at any point leaves either no object or a complete one.
 * An object found already there is freshened (its mtime set to now) so that a gc that
 * read its roots before the new reference is committed sees it as young (gc.h).
 *
 * A struct vv_odb lives inside the store handle (struct vv_store, store.h), which opens
 * and closes the directories it uses; it is safe to share between threads (its state
 * is atomic).
 */
#ifndef VV_ODB_H
#define VV_ODB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "util/hash.h"

/* Named temp files in tmp/ start with this ("obj-PID-..."): the store's cleaning of
 * tmp/ knows them by it (store.c), and so does gc's removal of objects. */
#define VV_ODB_TMP_PREFIX "obj-"

/* Size of a buffer for vv_odb_obj_path(): "objects/" + 2 + "/" + 62 + NUL. */
#define VV_ODB_PATH_SIZE (8 + VV_OID_HEX + 2)

struct vv_odb {
	const char *path; /* the store directory, for messages (owned by the store) */
	int objfd;        /* objects/ (opened and closed by the store) */
	int tmpfd;        /* tmp/ (opened and closed by the store) */
	bool readonly;    /* publishing fails with -EROFS */
	/* publishing, per fan-out directory objects/XX: known to exist, and the
	 * CLOCK_REALTIME start (ns) of the last fsync of it that completed, which made
	 * durable every name linked there before it started */
	_Atomic bool fan_made[256];
	_Atomic int64_t fan_synced_ns[256];
};

/* Set up odb over the directories objects/ and tmp/ of the store at path (all three
 * stay the caller's: odb only borrows them). */
void vv_odb_init(struct vv_odb *odb, const char *path, int objfd, int tmpfd, bool readonly);

/* Publish len bytes as an object; *out gets its id. Idempotent. */
int vv_odb_put_buf(struct vv_odb *odb, const void *buf, size_t len, vv_oid *out);

/* Publish the whole content of fd (read from offset 0) as an object, copying it.
 * *size_out (may be NULL) gets the size. */
int vv_odb_put_fd(struct vv_odb *odb, int fd, vv_oid *out, uint64_t *size_out);

/* A private temp file in tmp/ for content being written (O_TMPFILE: it vanishes if the
 * process dies). Returns an O_RDWR fd or -errno. */
int vv_odb_tmpfile(struct vv_odb *odb);

/* Publish a file made by vv_odb_tmpfile() without copying it: hash, fsync, fchmod
 * 0444, linkat into objects/. The fd must not be written afterwards (it is now the
 * object's inode, or a duplicate the caller should close). */
int vv_odb_publish_tmpfile(struct vv_odb *odb, int fd, vv_oid *out, uint64_t *size_out);

/* Create a named temp file "<prefix><pid>-<random>" in tmp/ (name gets it; namesz >=
 * 64 is plenty), O_RDWR, holding an OFD read lock while open that tells the store's
 * cleaning of tmp/ on any host that it is in use. Returns the fd or -errno (no
 * message). */
int vv_odb_named_tmp(struct vv_odb *odb, const char *prefix, char *name, size_t namesz);

/* Open an object read-only (O_RDONLY|O_NOFOLLOW|O_CLOEXEC). -ENOENT if missing. */
int vv_odb_open_obj(struct vv_odb *odb, const vv_oid *oid);

/* Read a whole object into a malloc'd buffer, verifying its hash (-EUCLEAN if the bytes
 * do not match the name). Objects larger than maxlen give -EFBIG. */
int vv_odb_read_obj(struct vv_odb *odb, const vv_oid *oid, size_t maxlen, char **out,
		    size_t *len_out);

/* 1 if the object exists, 0 if not, -errno on error. */
int vv_odb_has(struct vv_odb *odb, const vv_oid *oid);

/* Relative path "objects/ab/cdef..." for messages; buf must hold VV_ODB_PATH_SIZE
 * (8 + 65 + 1) bytes. */
void vv_odb_obj_path(const vv_oid *oid, char *buf);

#endif
