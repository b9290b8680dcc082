/*
 * odb.h - the object database: immutable objects named by the SHA-256 of their bytes.
 *
 * This is the only code that knows how objects lie on disk:
 *   objects/ab/cdef...   one file per object, named by its 64-hex id split after the
 *                        first byte (256 fan-out directories), mode 0444, never rewritten
 * Everything else asks here: put bytes or a file, open or read an object, ask whether it
 * exists, get its path for a message, or walk every object (vv_odb_each).
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
#include <pthread.h>
#include <time.h>

#include "util/hash.h"

/* Named temp files in tmp/ start with this ("obj-PID-..."): the store's cleaning of
 * tmp/ knows them by it (store.c), and so does gc's removal of objects. */
#define VV_ODB_TMP_PREFIX "obj-"

/* Size of a buffer for vv_odb_obj_path(): "objects/" + 2 + "/" + 62 + NUL. */
#define VV_ODB_PATH_SIZE (8 + VV_OID_HEX + 2)

#define VV_ODB_STAGE_LEN 16
#define VV_ODB_STAGE_SIZE (VV_ODB_STAGE_LEN + 1)
/* Spare stages kept ready at most (spare.c). */
#define VV_ODB_SPARES 64

struct vv_odb {
	const char *path; /* the store directory, for messages (owned by the store) */
	int objfd;        /* objects/ (opened and closed by the store) */
	int tmpfd;        /* tmp/ (opened and closed by the store) */
	int stagefd;      /* stage/ (the same; -1 on a read-only store without it) */
	bool readonly;    /* publishing fails with -EROFS */
	/* publishing, per fan-out directory objects/XX: known to exist, and the
	 * CLOCK_REALTIME start (ns) of the last fsync of it that completed, which made
	 * durable every name linked there before it started */
	_Atomic bool fan_made[256];
	_Atomic int64_t fan_synced_ns[256];
	_Atomic int64_t synced_at_ns; /* start of the last completed vv_odb_sync */
	/* spare stages (spare.c): made ahead of need, taken by vv_odb_stage_new */
	pthread_mutex_t spare_lk;
	int nspare;
	int spare_fd[VV_ODB_SPARES];
	char spare_name[VV_ODB_SPARES][VV_ODB_STAGE_SIZE];
	/* an object missing here may be fetched (remote.h): called by vv_odb_open_obj
	 * and vv_odb_read_obj before they give -ENOENT; 0 means it is here now */
	int (*miss)(void *arg, const vv_oid *oid);
	/* and told every object they found (a cache's use order, lru.h), with its bytes
	 * when it was read whole (vv_odb_read_obj), else NULL; same arg */
	void (*hit)(void *arg, const vv_oid *oid, const char *buf, size_t len);
	void *miss_arg;
};

/* Set up odb over the directories objects/ and tmp/ of the store at path (all three
 * stay the caller's: odb only borrows them). */
void vv_odb_init(struct vv_odb *odb, const char *path, int objfd, int tmpfd, int stagefd,
		 bool readonly);

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

/* ---- stages ----
 *
 * stage/NAME (NAME: 16 hex digits) holds the bytes of a file being written through a
 * mount. Unlike a temp file in tmp/ it outlives the process that made it: the env's
 * journal names it from its first byte on (journal.h), so a daemon killed after a
 * close(2) returned loses nothing, and the next mount publishes it. Publishing links
 * the stage's inode into objects/ (no copy); the name in stage/ is removed by the
 * mount once no journal record needs it, or by gc when no journal names it. */
/* Is name[0..len) a stage name? */
bool vv_odb_stage_name_ok(const char *name, size_t len);
/* Create a new, empty stage now; name gets its name. Returns an O_RDWR fd or -errno. */
int vv_odb_stage_make(struct vv_odb *odb, char name[VV_ODB_STAGE_SIZE]);

/* ---- spare stages (spare.c) ----
 *
 * Creating a file costs an inode allocation, which on ext4 is the biggest part of a
 * CREATE request (hundreds of µs where inodes were recently freed). The mount keeps
 * up to VV_ODB_SPARES empty stages made ahead by a thread of its own, so a request
 * only takes one. A spare is an ordinary stage that no journal names yet: it holds
 * its OFD lock while the process lives (gc leaves it alone) and an unmount removes
 * it; after a crash gc removes it like any stage nobody names. */

/* A new, empty stage: a spare if there is one, else made now (vv_odb_stage_make). */
int vv_odb_stage_new(struct vv_odb *odb, char name[VV_ODB_STAGE_SIZE]);
/* How many spares are ready. */
int vv_odb_spare_count(struct vv_odb *odb);
/* Make spares until want are ready (want <= VV_ODB_SPARES). Returns how many it made
 * or -errno (the first failure; the message is set). */
int vv_odb_spare_fill(struct vv_odb *odb, int want);
/* Close and remove every spare (unmount). */
void vv_odb_spare_drop(struct vv_odb *odb);
/* Open stage/name (replay): read-write where it may be written (*writable), else
 * read-only. -ENOENT if it is gone. */
int vv_odb_stage_open(struct vv_odb *odb, const char *name, bool *writable);
/* 1 if stage/name is there, 0 if not, -errno. */
int vv_odb_stage_has(struct vv_odb *odb, const char *name);
/* Does a process (on any host) hold stage/name open? Unsure answers are yes. */
bool vv_odb_stage_in_use(struct vv_odb *odb, const char *name);
/* Remove stage/name (a missing one is fine). */
int vv_odb_stage_remove(struct vv_odb *odb, const char *name);
/* Make a stage durable: fdatasync fd (if >= 0) and, with dir, stage/ itself. */
int vv_odb_stage_sync(struct vv_odb *odb, int fd, bool dir);
/* ---- publishing in batches (the mount) ----
 *
 * Publishing one object at a time costs two device flushes (the bytes, then the name).
 * The mount instead seals a finished stage (hashes it; vv_odb_seal) and keeps it as is;
 * its commit makes every sealed stage durable with one vv_odb_sync, links them
 * (vv_odb_link_synced), writes its trees as deferred objects (vv_odb_defer_*: temp
 * files, one sync, then linked) and syncs once more before the env file names the new
 * root. An object's name still never exists before its bytes are durable. */

/* Hash a finished stage: 1 if the object is already in the store (freshened: the stage
 * is not needed), 0 if not (link it with vv_odb_link_synced once vv_odb_sync made it
 * durable), -errno, -ECANCELED when stop(arg) said so. */
int vv_odb_seal(struct vv_odb *odb, int fd, vv_oid *out, uint64_t *size_out,
		bool (*stop)(void *), void *arg);
/* syncfs of the store's filesystem: everything written before is durable. */
int vv_odb_sync(struct vv_odb *odb);
/* When the last vv_odb_sync that completed started (CLOCK_REALTIME ns, 0: never):
 * bytes written before then are durable. */
int64_t vv_odb_synced_at(struct vv_odb *odb);
/* Link fd, whose bytes are durable, as object oid (0444; an existing object is
 * freshened). The name is durable after the next vv_odb_sync. */
int vv_odb_link_synced(struct vv_odb *odb, int fd, const vv_oid *oid);

struct vv_odb_defer {
	int *fds;
	vv_oid *oids;
	size_t n, cap;
};
/* Put len bytes as object *out later: written to a temp file now, linked by
 * vv_odb_defer_finish after one sync for all. */
int vv_odb_defer_put(struct vv_odb *odb, struct vv_odb_defer *d, const void *buf,
		     size_t len, vv_oid *out);
/* Sync, link every deferred object, sync their names; d is emptied either way. */
int vv_odb_defer_finish(struct vv_odb *odb, struct vv_odb_defer *d);
void vv_odb_defer_free(struct vv_odb_defer *d);

/* Call cb for every entry of stage/ with its lstat; a nonzero return stops the walk
 * with that value. */
typedef int (*vv_odb_stage_cb)(const char *name, const struct stat *st, void *arg);
int vv_odb_stage_each(struct vv_odb *odb, vv_odb_stage_cb cb, void *arg);

/* Open an object read-only (O_RDONLY|O_NOFOLLOW|O_CLOEXEC). -ENOENT if missing (after
 * the miss hook, when there is one, could not fetch it). */
int vv_odb_open_obj(struct vv_odb *odb, const vv_oid *oid);

/* Read a whole object into a malloc'd buffer, verifying its hash (-EUCLEAN if the bytes
 * do not match the name). Objects larger than maxlen give -EFBIG. */
int vv_odb_read_obj(struct vv_odb *odb, const vv_oid *oid, size_t maxlen, char **out,
		    size_t *len_out);

/* vv_odb_open_obj and vv_odb_read_obj without the miss and hit hooks: what is here
 * now (-ENOENT if not; no message). */
int vv_odb_open_here(struct vv_odb *odb, const vv_oid *oid);
int vv_odb_read_here(struct vv_odb *odb, const vv_oid *oid, size_t maxlen, char **out,
		     size_t *len_out);

/* Remove an object now, with no check (a cache's eviction, lru.h: everything in it
 * can be fetched again). A missing one is fine. */
int vv_odb_drop(struct vv_odb *odb, const vv_oid *oid);

/* 1 if the object exists, 0 if not, -errno on error. */
int vv_odb_has(struct vv_odb *odb, const vv_oid *oid);

/* Relative path "objects/ab/cdef..." for messages; buf must hold VV_ODB_PATH_SIZE
 * (8 + 65 + 1) bytes. */
void vv_odb_obj_path(const vv_oid *oid, char *buf);

/* Look at one object: lstat it into *sb and, with verify, hash its bytes and compare
 * them with its id. Returns 1 intact (or not verified), 0 corrupt, 2 not a regular
 * file, -errno unreadable (-ENOENT: not there; message "cannot stat object: ..." or
 * "cannot open object: ..."). */
int vv_odb_check(struct vv_odb *odb, const vv_oid *oid, bool verify, struct stat *sb);

/*
 * Delete an object (gc): rename it into tmp/ under a temp-file name of this process
 * (a crash leaves it to the store's cleaning of tmp/), so a writer that freshens it
 * from now on finds it gone and publishes it again; check that nobody freshened it
 * since *before was taken (its mtime) and that its mtime is not after *cutoff; then
 * unlink it, or put it back. Returns 1 deleted, 0 kept (freshened, or already gone),
 * -errno.
 */
int vv_odb_remove(struct vv_odb *odb, const vv_oid *oid, const struct stat *before,
		  const struct timespec *cutoff);

/* ---- walking every object ----
 *
 * vv_odb_each() lists objects/ once (the fan-out directories it holds then, in
 * directory order) and calls cb for what it finds, in this order for each entry of
 * objects/: one VV_ODB_FAN (for progress), then, for a fan-out directory, one entry per
 * name in it. Objects removed while the walk runs (gc) are skipped silently. */
enum vv_odb_kind {
	VV_ODB_FAN,    /* the next entry of objects/: fan of nfans (0-based) */
	VV_ODB_OBJECT, /* an object file: oid, st (its lstat); with VV_ODB_VERIFY intact */
	VV_ODB_STRAY,  /* something that is not an object: rel, why */
	VV_ODB_ERROR,  /* something that cannot be read: err, rel; has_oid for an object
			  file (message set: "cannot stat object: ..."), else a fan-out
			  directory that cannot be opened (no message) */
};

struct vv_odb_entry {
	enum vv_odb_kind kind;
	const char *rel;  /* the entry's path in the store: "objects/ab", "objects/ab/cd..." */
	const char *why;  /* VV_ODB_STRAY: "not a fan-out directory", "not a directory",
			     "not an object name" or "not a regular file" */
	bool has_oid;
	vv_oid oid;       /* VV_ODB_OBJECT, VV_ODB_ERROR with has_oid */
	struct stat st;   /* VV_ODB_OBJECT */
	bool intact;      /* VV_ODB_OBJECT: the bytes hash to oid (always true without
			     VV_ODB_VERIFY) */
	int err;          /* VV_ODB_ERROR: -errno */
	uint64_t fan, nfans; /* VV_ODB_FAN */
};

/* vv_odb_each flags */
#define VV_ODB_VERIFY 1 /* hash every object file (entry.intact) */

/* Return < 0 from cb to fail the walk with that code, > 0 to stop it. */
typedef int (*vv_odb_each_cb)(const struct vv_odb_entry *e, void *arg);

/* Walk every object. Returns 0 at the end, cb's positive value if it stopped the walk,
 * cb's negative value, or -errno when objects/ or a fan-out directory cannot be listed
 * (message set). */
int vv_odb_each(struct vv_odb *odb, unsigned flags, vv_odb_each_cb cb, void *arg);

#endif
