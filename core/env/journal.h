/*
 * journal.h - the per-env log of changes made since the env's committed root.
 *
 * journal/NAME starts with "venvfs-journal 1 <root hex>\n" naming the root it applies
 * to, then one line per change, appended with a single write(2) while the change is
 * applied in memory (mtree.h). Paths are "LEN:BYTES", relative to the env root:
 *   w MODE STAGE PATH                 file content is stage/STAGE from now on (odb.h):
 *                                     written when the file is created or opened for
 *                                     writing, before its first byte, so the bytes a
 *                                     writer handed over are named even if the daemon
 *                                     dies before it stores them; makes the file if
 *                                     it is missing
 *   c KIND MODE SIZE MTIME OID PATH   file content (kind 'f', 's' or 'c') published;
 *                                     for 'c' OID is followed by ",HDR,NSUB,SUFL"
 *   d MODE MTIME PATH                 mkdir
 *   n KIND MODE MTIME PATH            mknod of a node without content: KIND 'p' FIFO
 *                                     or 'k' UNIX socket (tree.h)
 *   l MTIME TARGET PATH               symlink
 *   u PATH                            unlink or rmdir
 *   r FLAGS FROM TO                   rename (FLAGS: RENAME_NOREPLACE/EXCHANGE bits)
 *   a MODE MTIME PATH                 chmod / utimens
 *   b BOOTID                          the records that follow were written during
 *                                     this boot of the machine (a mount writes it
 *                                     before the first record it appends to a journal
 *                                     it opened or started)
 *   s STAGE SIZE OID                  stage STAGE was closed with SIZE bytes hashing
 *                                     to OID (sealed; not stored yet)
 *   f STAGE                           stage STAGE was fsynced through the mount
 * `c` records only name objects that are already published and fsynced.
 *
 * After a power loss or kernel crash the page cache is gone: a stage may hold less
 * than its writer wrote. Replay trusts a stage written in the current boot as it is;
 * one from an earlier boot only if it was fsynced (`f`: its writer asked for exactly
 * what it has) or if it was sealed and still hashes to the sealed id. Any other stage
 * never becomes the content of a name: the file keeps its earlier content, or is not
 * made at all if the record created it (live/replay.c). A commit
 * (mtree.h) writes a new root and starts a new journal, so a journal whose root is not
 * the env's committed root is stale and ignored. On load the journal is replayed over
 * the committed root; a torn last line (power loss) ends the replay.
 *
 * A daemon killed at any moment thus loses nothing it acknowledged: every write went to
 * a stage the journal names. Appends are not fsynced (a killed process loses nothing
 * that is already in the page cache); fsync(2) through the mount fsyncs the stage and
 * the journal.
 *
 * This file knows the format only: writers take what to record (paths already made
 * relative to the env root, ids, modes, times) and readers hand out parsed records.
 * What a record means for an env is the live model's business (live/: it computes the
 * paths when it changes something, and replays records over a loaded root).
 */
#ifndef VV_JOURNAL_H
#define VV_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/tree.h"
#include "util/hash.h"

struct vv_store;

/* Does journal/name hold changes to root not committed yet (a mount that is running or
 * crashed)? 1, 0 (no journal, only its header, or a stale one naming another root) or
 * -errno. Tools that replace envs/name refuse to while it is 1. */
int vv_journal_pending(struct vv_store *st, const char *name, const vv_oid *root);

/* ---- writing ---- */

/* Open journal/NAME for appending into *fd: nothing to do when *fd >= 0; a journal
 * that is missing or names another root than root is replaced by a new, empty one. */
int vv_journal_open(struct vv_store *st, const char *name, const vv_oid *root, int *fd);

/* Start a new, empty journal/NAME for root (after a commit) and open it for appending
 * into *fd, closing the one open there before. */
int vv_journal_reset(struct vv_store *st, const char *name, const vv_oid *root, int *fd);

/* Close *fd if it is open; *fd = -1. */
void vv_journal_close(int *fd);

/* fdatasync an open journal (fsync through the mount); name is for the message. With
 * dir, journal/ too: a journal made since (vv_journal_open, _reset) keeps its name. */
int vv_journal_datasync(struct vv_store *st, int fd, const char *name, bool dir);

/* Append one record to the journal open at fd, as one write(2). Paths are relative to
 * the env root, without a leading '/'. */
int vv_journal_put(int fd, const char *path, char kind, unsigned mode, uint64_t size,
		   int64_t mtime_ns, const vv_oid *oid, const struct vv_pycent *pyc,
		   const struct vv_recent *rec);
int vv_journal_stage(int fd, const char *path, unsigned mode, const char *stage);
/* The `b` record of this boot (nothing where the boot id is unknown). */
int vv_journal_boot(int fd);
int vv_journal_sealed(int fd, const char *stage, uint64_t size, const vv_oid *oid);
int vv_journal_synced(int fd, const char *stage);
int vv_journal_mkdir(int fd, const char *path, unsigned mode, int64_t mtime_ns);
/* kind: VV_FIFO or VV_SOCK (-EINVAL otherwise). */
int vv_journal_mknod(int fd, const char *path, char kind, unsigned mode, int64_t mtime_ns);
int vv_journal_symlink(int fd, const char *path, const char *target, int64_t mtime_ns);
int vv_journal_remove(int fd, const char *path);
int vv_journal_rename(int fd, const char *from, const char *to, unsigned flags);
int vv_journal_attr(int fd, const char *path, unsigned mode, int64_t mtime_ns);

/* ---- reading ---- */

/* One parsed record. a and b point into the parsed buffer (not NUL-terminated). */
struct vv_jrec {
	char op;
	char kind;       /* 'c': 'f', 's', 'c' or 'r'; 'n': 'p' or 'k' */
	struct vv_pycent pyc; /* 'c' of kind 'c' */
	struct vv_recent rec; /* 'c' of kind 'r' */
	unsigned mode;
	unsigned long long size;
	long long mtime_ns;
	char oidhex[65];
	char stage[17];  /* 'w', 's', 'f': the stage's name */
	char boot[37];   /* 'b': the boot id */
	unsigned flags;
	const char *a; size_t alen;  /* path, or target for 'l', or from for 'r' */
	const char *b; size_t blen;  /* path for 'l', to for 'r' */
};

/* Parse one record (exposed for the fuzz target, tests and gc). Returns bytes
 * consumed, 0 if the buffer holds no complete record, -EUCLEAN if malformed. */
int vv_journal_parse(const char *buf, size_t len, struct vv_jrec *out);

/* Called for each record in order; rec and what it points to are valid during the
 * call only. A negative return stops the reading with that value. */
typedef int (*vv_journal_fn)(void *ctx, const struct vv_jrec *rec);

/* Read journal/NAME written for root, calling fn for every record. A missing journal,
 * or a stale one naming another root (already part of a commit), has no records. A
 * torn or damaged tail ends the records: it is reported on stderr and, unless the store
 * is read-only, cut off so that later appends stay readable. Returns the number of
 * records read, or -errno. */
int vv_journal_read(struct vv_store *st, const char *name, const vv_oid *root,
		    vv_journal_fn fn, void *ctx);

/* The same without repairing anything (gc, fsck: a live mount may be appending). */
int vv_journal_scan(struct vv_store *st, const char *name, const vv_oid *root,
		    vv_journal_fn fn, void *ctx);

/* ---- content a journal names that is gone ----
 *
 * A `w` record whose stage or a `c` record whose object cannot be found leaves its file
 * with its earlier content. That matters only while the path still holds it: a later
 * record may remove, replace or move the file (an unlinked file's stage is removed at
 * once). vv_jlost follows the paths of such records through the later ones: call
 * vv_jlost_step for every record in order, with missing set when the record's own
 * content cannot be found; what is left in paths[] at the end was lost. */
struct vv_jlost {
	char **paths;
	size_t n, cap;
};
int vv_jlost_step(struct vv_jlost *l, const struct vv_jrec *rec, bool missing);
/* Is path[0..len) one of l's paths, or below one? */
bool vv_jlost_holds(const struct vv_jlost *l, const char *path, size_t len);
void vv_jlost_free(struct vv_jlost *l);

#endif
