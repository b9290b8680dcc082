/*
 * mtree.h - the live, mutable model of the environments of one store: what the mount
 * shows and changes. No FUSE here; fs/ maps kernel requests onto these calls, and the
 * same model serves journal replay and (later) the CLI.
 *
 * Model
 *   An envset holds every env of a store. An env is its committed root tree (env.h)
 *   plus the changes made since, which live in memory as vv_node objects and, durably,
 *   in the env's journal (journal.h). A directory node starts "clean": it only points at
 *   its immutable tree (shared by every env that has the same directory), and nodes are
 *   made for the children somebody looked at. The first change to a directory
 *   "materializes" it: every entry becomes a node, the tree pointer is dropped and the
 *   directory and its ancestors are marked dirty. Renames, unlinks and rmdirs are then
 *   plain pointer edits (a directory rename is never a copy and never EXDEV).
 *
 *   File content is an object id (node->oid, always a published object) plus, while the
 *   file is being changed, a stage (node->stage, a file in the store's stage/) holding
 *   the newer bytes. The journal names the stage from the moment it is made, so a
 *   daemon killed at any moment loses no byte it acknowledged. When the last writer
 *   closes it the stage is sealed (hashed); the next commit makes all sealed stages
 *   durable with one sync and links them into objects/ (an object already stored is
 *   used at once and the journal records it). fsync(2) syncs the stage and the journal.
 *
 *   A commit (vv_env_commit) writes the trees of dirty directories bottom-up, then
 *   replaces envs/NAME with the new root - the single atomic commit point - and starts
 *   a fresh journal on top of it.
 *
 *   Synthesized entries (pyvenv.cfg, lib64, bin/python*, bin/activate) are nodes of
 *   their own kinds that never appear in trees; their content is computed from the env
 *   and its current path.
 *
 * Threads: nothing here locks. The caller serializes every call on one envset with
 * its own lock, except vv_fdref_* (atomic) and the I/O helpers documented as lock-free.
 */
#ifndef VV_MTREE_H
#define VV_MTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "env/env.h"
#include "util/hash.h"
#include "python/python.h"
#include "store/times.h"
#include "store/tree.h"

struct vv_store;
struct vv_env;
struct vv_envset;

/* Node kinds beyond enum vv_kind: synthesized entries and env roots. */
enum {
	VV_SYN_FILE = 'F',     /* pyvenv.cfg, activators...: content from synth.h */
	VV_SYN_LINK = 'L',     /* bin/python*, lib64: symlink with computed target */
};

/* A refcounted fd, so readers can use it without holding the envset lock while a
 * writer swaps in a new one. */
struct vv_fdref {
	int fd;
	int refs; /* atomic */
	char stage[17]; /* a stage's name in stage/ (odb.h) the journal knows it by, or
			   "" for a private temp file (edits of synthesized files) */
	bool named_synced; /* stage/ was fsynced since the stage was made (fs/) */
	bool fsynced;      /* fsynced through the mount: the journal says so (`f`), and
			      replay trusts it after a power loss as it is */
	bool rdonly;       /* opened read-only (a replayed stage already published):
			      writing needs a new stage */
	bool cancel;       /* atomic: a publish of it is no longer wanted (the file was
			      removed, or a writer made a new stage) */
	/* sealed: hashed once its last writer was gone; the commit links it as object
	 * seal_oid (odb.h "publishing in batches") unless it was written since (gen) */
	bool sealed;
	vv_oid seal_oid;
	uint64_t seal_size, seal_gen;
	int64_t seal_ns;   /* when (CLOCK_REALTIME): durable after a sync started later */
};
struct vv_fdref *vv_fdref_new(int fd);
void vv_fdref_get(struct vv_fdref *r);
void vv_fdref_put(struct vv_fdref *r);

struct vv_node {
	struct vv_env *env;
	struct vv_node *parent; /* NULL: env root, or unlinked */
	char *name;
	uint8_t kind;           /* enum vv_kind or VV_SYN_* */
	uint16_t mode;          /* permission bits */
	bool dirty;             /* dir: listing changed since the last commit */
	bool mat;               /* dir: materialized (kids complete, base unused) */
	bool unlinked;
	bool publishing;        /* file: its stage is being published right now */
	uint64_t size;          /* content size (for 's', 'c' the stored size); 'd':
				   entries below it as of the last commit or lookup */
	int64_t mtime_ns, ctime_ns, atime_ns;
	vv_oid oid;             /* 'f','s','c': published content; 'd': tree if clean;
				   zero for 'p', 'k' (no content) */
	struct vv_pycent pyc;   /* 'c': the template's per-entry values (pyc.h) */
	struct vv_recent rec;   /* 'r': the RECORD template's values (pkg/rectpl.h) */
	char *target;           /* 'l' */

	/* directories */
	struct vv_tree *base;   /* clean listing, or NULL once materialized */
	struct vv_times *times; /* not materialized: the env times its entries are
				   numbered in (store/times.h), or NULL when they hold
				   nothing for them */
	uint64_t tbase;         /* ... the number of its first entry there */
	bool canon;             /* its tree holds 0 for its entries' mtimes, which are in
				   the root's times section (written by a commit) */
	struct vv_node **kids;  /* sorted by name; all entries when base == NULL */
	size_t nkids, capkids;

	/* files */
	struct vv_fdref *stage; /* newer content not yet published, or NULL */
	struct vv_node *st_prev, *st_next; /* in env->staged while stage is named */
	uint64_t ssize;         /* size of the stage content */
	char *stage_envpath;    /* env path when the stage was made (bin/ files: a script
				   written then names it, even if the env is renamed before
				   the file is published) */
	uint64_t stage_gen;     /* bumped on every write to stage */
	int stage_err;          /* a write to the stage failed (-ENOSPC, -EIO...): the
				   stage is never published (fsync returns this error), so
				   a half-written file reaches neither the store nor a
				   commit; cleared when the file is truncated to 0 or a
				   later write covers stage_err_at (the writer retried) */
	uint64_t stage_err_at;  /* offset of the first byte that was not written */
	bool publish_failed;    /* its last publish failed (not stopped): not retried by
				   vv_env_unpublished until the content changes */
	bool script_oid;        /* a console script ('s') copied up into its stage: oid is
				   still the script's, which a failed write goes back to */
	uint32_t pins;          /* in-flight publishes keeping the node alive */
	uint32_t writers;       /* open handles that may write */
	uint8_t synth_which;    /* VV_SYN_FILE: enum vv_synth_file */
	char *synth;            /* generated content of VV_SYN_FILE nodes */
	size_t synthlen;
	uint64_t synth_epoch;

	/* owned by the caller (fs/): kernel lookup count; the node is not freed while
	 * nlookup > 0 */
	uint64_t nlookup;
	bool opened;            /* fs/: opened before (its first open may fill the
				   kernel's page cache) */
	int wpid;               /* fs/: the process that last opened it for writing */
};

struct vv_env {
	struct vv_envset *set;
	char *name;
	struct vv_envcfg cfg;        /* committed config (cfg.root = committed root) */
	struct vv_python py;         /* facts of cfg.python */
	bool py_ok;
	struct vv_node *root;        /* NULL until first used */
	struct vv_node *syn[16];     /* synthesized nodes, made with the root (slots in
					live.h); NULL where the interpreter has none */
	size_t nsyn;
	uint32_t hidden;             /* synthesized entries unlinked (bit per slot), until
					made again or the next mount */
	uint64_t epoch;              /* bumped when the env path changes (rename) */
	int jfd;                     /* journal fd (O_APPEND), -1 until first change */
	bool jname_synced;           /* journal/ was fsynced since jfd's file was made */
	bool jboot;                  /* jfd's journal has this mount's `b` record */
	bool junsynced;              /* records appended since the journal's last fsync */
	uint64_t jrecords;           /* records since the last commit */
	int64_t first_change_ns, last_change_ns;
	int64_t mtime_ns;            /* of the env directory itself */
	bool removed;
	bool replaying;              /* journal replay in progress: do not log */
	int lockfd;                  /* the env's writer lock (envlock.h) while held, else
					-1: taken by the first change, held while anything
					is uncommitted, open for writing or being published */
	uint32_t active;             /* open writers + publishes in flight */
	struct vv_node *staged;      /* nodes whose stage the journal names (a list) */
	char (*retired)[17];         /* stages no longer used since the last commit: their
					names go once a new journal no longer names them */
	size_t nretired, capretired;
	uint64_t nlookup;            /* of the env root node, mirrored (fs/) */
	/* owned by the caller (fs/): who made the env in the mount root (vv_env_unborn) */
	int maker;                   /* its process id; 0: none known */
	int maker_tid;               /* the thread that made it, while its process is not
					looked up yet (maker 0): mkdir reads no /proc */
	uint64_t maker_start;        /* its start time, against a reused process id */
	int64_t maker_seen_ns;       /* its last request in the env */
	bool fresh;                  /* just made by mkdir: nobody asked inside it yet */
	/* owned by the caller (fs/): whose command the changes since the last commit are
	 * (fs/batch.c) */
	int batch_pid;               /* the process that made the first of them; 0: none */
	uint64_t batch_start;        /* its start time */
	int batch_tid;               /* the thread of the last change, known to be fine */
};

struct vv_envset_opts {
	const char *mountpoint;      /* absolute; env path = mountpoint/name */
	const char *python;          /* default interpreter (config), NULL: python3 on PATH */
	bool without_pip;
	bool readonly;               /* serve without ever writing the store: every change
					is -EROFS, nothing is committed (venvfs -o ro) */
};

struct vv_envset {
	struct vv_store *st;
	char *mountpoint;
	struct vv_python defpy;      /* default interpreter, resolved at open */
	bool without_pip;
	bool readonly;               /* see vv_envset_opts */
	struct vv_env **envs;        /* sorted by name */
	size_t nenvs, capenvs;
	vv_oid empty_oid;            /* the empty object, for newly created files */
	/* called when the model changed an entry behind the kernel's back (fs/ sets it);
	 * dir NULL: the mount root (an env was reloaded) */
	void (*inval_entry)(void *ctx, struct vv_node *dir, const char *name);
	void *inval_ctx;
	struct vv_env **dead;        /* detached envs the kernel may still reach */
	size_t ndead, capdead;
	int64_t mtime_ns;            /* of the mount root */
	struct vv_env *files;        /* the mount root's own files (env.h VV_ROOT_ENV), in
					envs too but never found by name; NULL until the
					first one is made */
};

/* ---- envset ---- */
int vv_envset_open(struct vv_envset **out, struct vv_store *st, const struct vv_envset_opts *o);
/* Commit every env with changes, then free everything. */
int vv_envset_close(struct vv_envset *set);
struct vv_env *vv_envset_find(struct vv_envset *set, const char *name, size_t len);

/* mkdir of an env: -EEXIST, -EINVAL/-ENAMETOOLONG (bad name). No process is started. */
int vv_envset_create(struct vv_envset *set, const char *name, struct vv_env **out);
/* The same, owned by uid:gid with root directory mode `mode` (-1: 0755, not
 * recorded): mkdir in the mount root by that user. vv_envset_create makes the daemon's
 * user the owner. unborn: the env starts empty and unborn (env.h VV_ENV_UNBORN) until
 * vv_env_born. */
int vv_envset_create_as(struct vv_envset *set, const char *name, uid_t uid, gid_t gid,
			int mode, bool unborn, struct vv_env **out);
/* An unborn env becomes what its maker made (docs/design.md "Envs made by tools"):
 * nothing at all: the complete venv of a plain mkdir; a pyvenv.cfg at its top: a venv
 * on the interpreter that file names, its maker's files kept as they are (they win over
 * synthesized entries of the same name), the file itself applied like an edit; else a
 * folder. Saved at once (envs/NAME). No-op for an env that is not unborn; on a
 * read-only envset it stays as it is. */
int vv_env_born(struct vv_env *env);
/* The process that made env with mkdir looks inside it first: the env becomes unborn
 * (empty, nothing synthesized, saved) so that its maker fills it like a new directory
 * (virtualenv, venv --copies, shutil.copytree). -EBUSY if the kernel already holds one
 * of its entries (someone else saw the complete env). */
int vv_env_unborn(struct vv_env *env);
/* Has the env's root no entry of its own (synthesized ones do not count)? */
bool vv_env_is_empty(struct vv_env *env);
/* rmdir of an env: -ENOTEMPTY unless its tree is empty (synthesized entries do not
 * count). */
int vv_envset_remove(struct vv_envset *set, const char *name);
/* rename of an env (commits it first). noreplace: -EEXIST if `to` exists. */
int vv_envset_rename(struct vv_envset *set, const char *from, const char *to, bool noreplace);

/* Bring env `name` in line with envs/NAME after another process (venvctl, another
 * daemon) changed it: returns VV_SYNC_NONE, _ADDED, _REMOVED or _REPLACED. A replaced
 * or removed env is detached: nodes the kernel still holds stay valid but no longer
 * belong to the store. An env with uncommitted changes of its own is left alone
 * (its next commit wins) and a message is logged. */
/* VV_SYNC_LOCK: only the env's lock, owner or root mode changed; it was applied in
 * place (same nodes). */
enum { VV_SYNC_NONE, VV_SYNC_ADDED, VV_SYNC_REMOVED, VV_SYNC_REPLACED, VV_SYNC_LOCK };
int vv_envset_sync(struct vv_envset *set, const char *name);

/* The directory node of the mount root's own files (files other than envs: env.h
 * VV_ROOT_ENV): -ENOENT when there is none yet, unless make (then made, owned by the
 * daemon's user). */
int vv_envset_files(struct vv_envset *set, bool make, struct vv_node **out);
/* Load set->files if the store has it (vv_envset_open). */
int vv_live_files_open(struct vv_envset *set);

/* ---- env ---- */
/* Writers (envlock.h): the first change to an env takes its writer lock on locks/NAME;
 * a lock held by another daemon or tool refuses the change with -EBUSY (message on
 * stderr naming the holder). Right after taking it, the env is checked against the
 * store: if envs/NAME is no longer the loaded config, or journal/NAME holds changes a
 * writer that stopped left behind, the env is reloaded (like vv_envset_sync, the
 * kernel's entry invalidated through inval_entry with dir NULL for the mount root) and
 * the change fails with -ESTALE, which makes the kernel walk the path again. The lock
 * is released once a commit leaves nothing pending (vv_env_release_idle). */

/* Load the env's root (committed tree + journal replay) and synthesized nodes. The
 * journal is replayed only if no other writer holds the env's lock (a live daemon's
 * journal is not ours); a replayed journal keeps the lock until it is committed. */
int vv_env_load_root(struct vv_env *env);
/* Absolute path of the env as users see it; malloc'd. */
char *vv_env_path(const struct vv_env *env);
/* Commit changes (see top). durable: fsync trees (objects are always fsynced). */
int vv_env_commit(struct vv_env *env);
/* Read-only: the envset is, or the env is locked (cfg.locked). Every change to it is
 * then -EROFS (also removing and renaming the env), and stat shows no write bits. */
bool vv_env_readonly(const struct vv_env *env);
/* chown/chmod of the env's root directory: a new owner of the whole env (uid, gid;
 * -1: unchanged) and/or root directory mode (-1: unchanged), saved in envs/NAME at once
 * (the committed root stays; changes not committed yet stay in the journal). Who may
 * do it is the kernel's check (default_permissions). -EROFS when read-only. */
int vv_env_set_owner(struct vv_env *env, long uid, long gid, int mode);

/* The same; more: a timed commit in the middle of a run of changes, whose history entry
 * the next commit may extend (history.h VV_HIST_OPEN). vv_env_commit closes the batch. */
int vv_env_commit_batch(struct vv_env *env, bool more);
/* fdatasync the env's journal (fsync(2) through the mount; journal.h). */
int vv_journal_sync(struct vv_env *env);
/* fsync(2) of file n through the mount, after its stage (if any) was synced: the
 * journal says so once per stage (replay trusts a fsynced stage after a power loss)
 * and is synced (vv_journal_sync). */
int vv_node_synced(struct vv_node *n, struct vv_fdref *stage);
/* Does the env have uncommitted changes? */
bool vv_env_has_changes(const struct vv_env *env);
/* Release the env's writer lock if nothing of it is pending (no uncommitted change, no
 * writer, no publish in flight); true if it is not held afterwards. */
bool vv_env_release_idle(struct vv_env *env);

/* ---- nodes ---- */
/* Find child `name` of dir, making its node if needed. -ENOENT, -ENOTDIR. */
int vv_node_lookup(struct vv_node *dir, const char *name, struct vv_node **out);
/* stat of a node (ino is left 0: the caller fills it). */
void vv_node_stat(struct vv_node *n, struct stat *st);
/* The file type (S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFSOCK) of a node kind. */
mode_t vv_node_type(uint8_t kind);
/* Listing: calls fn for entries from index `off` on, in a stable order (synthesized
 * entries first, then by name), each with its node (made if needed: a listing must
 * carry real inode numbers); fn returns nonzero to stop. Index i's next offset is
 * i + 1. */
typedef int (*vv_dir_fn)(void *ctx, const char *name, uint8_t kind, struct vv_node *n,
			 uint64_t next_off);
int vv_node_readdir(struct vv_node *dir, uint64_t off, vv_dir_fn fn, void *ctx);

/* Create name in dir (open(2) with O_CREAT): how is VV_CREATE_EXCL (fail with EEXIST
 * if it is there) and/or VV_CREATE_TRUNC (an existing file is emptied, not copied
 * up); *out is open for writing (vv_node_close_write). */
#define VV_CREATE_EXCL 1u
#define VV_CREATE_TRUNC 2u
int vv_node_create(struct vv_node *dir, const char *name, uint16_t mode, unsigned how,
		   struct vv_node **out);
int vv_node_mkdir(struct vv_node *dir, const char *name, uint16_t mode, struct vv_node **out);
int vv_node_symlink(struct vv_node *dir, const char *name, const char *target,
		    struct vv_node **out);
/* mknod of a node without content: kind VV_FIFO or VV_SOCK (a socket's bind(2)), else
 * -EINVAL. Opening a FIFO and connecting to a socket are the kernel's business; the
 * model keeps the name, mode and times, like a directory's. */
int vv_node_mknod(struct vv_node *dir, const char *name, uint8_t kind, uint16_t mode,
		  struct vv_node **out);
int vv_node_unlink(struct vv_node *dir, const char *name);
int vv_node_rmdir(struct vv_node *dir, const char *name);
/* flags: RENAME_NOREPLACE / RENAME_EXCHANGE from <stdio.h>. */
int vv_node_rename(struct vv_node *dir, const char *name, struct vv_node *newdir,
		   const char *newname, unsigned int flags);
/* Change mode and/or times (NULL/negative = unchanged). */
int vv_node_setattr(struct vv_node *n, int mode, int64_t atime_ns, int64_t mtime_ns);
/* Readlink; returns a malloc'd target. */
int vv_node_readlink(struct vv_node *n, char **out);

/* Content. open_write copies up (or truncates) into a private stage; writers++.
 * Synthesized nodes: -EPERM. */
int vv_node_open_write(struct vv_node *n, bool trunc);
/* Truncate to size (copies up if needed). */
int vv_node_truncate(struct vv_node *n, uint64_t size);
/* A referenced fd plus a prefix for reading n: for 's' nodes the computed first line
 * replaces the stored "#!python\n" (skip bytes of the fd are hidden); for synthesized
 * files data/len is the whole content and fd is NULL. */
struct vv_readsrc {
	struct vv_fdref *fd;
	const char *prefix;  /* NULL or shown before fd content (malloc'd, caller frees) */
	size_t prefixlen;
	uint64_t skip;       /* bytes of fd content hidden at its start */
};
int vv_node_read_source(struct vv_node *n, struct vv_readsrc *out);
/* The stage to write to (referenced) and bump stage_gen; updates size/mtime. */
int vv_node_write_begin(struct vv_node *n, struct vv_fdref **out);
void vv_node_write_end(struct vv_node *n, uint64_t end_off);
/* A write to the stage failed with err (< 0) at offset at: see vv_node.stage_err. */
void vv_node_write_failed(struct vv_node *n, int err, uint64_t at);
/* A write of [start, end) succeeded: clears a failure it covers. */
void vv_node_write_ok(struct vv_node *n, uint64_t start, uint64_t end);

/* Publishing a stage is split so that hashing runs without the lock:
 *   vv_node_publish_begin (locked) -> vv_publish_run (unlocked) -> vv_node_publish_end
 * publish_end records the new content (journal) unless the stage changed meanwhile.
 * A file in the env's bin/ whose first line runs the env's own interpreter (a plain
 * "#!ENV/bin/pythonX.Y" or pip's /bin/sh trampoline) is stored as a console script
 * with the neutral first line "#!pythonX.Y", so it follows the env when it is renamed
 * and dedups across envs. */
struct vv_publish {
	struct vv_node *node;
	struct vv_fdref *fd;
	uint64_t gen;
	bool link;           /* publish the stage inode itself (no writers left) */
	bool sealed;         /* hashed, not linked: the commit links it (the object was
				not in the store yet) */
	char *envpath;       /* set for files in the env's bin/: candidates for scripts */
	bool script;         /* stored as a console script with a neutral first line */
	vv_oid oid;
	uint64_t size;
	int err;             /* -ECANCELED: stopped (the stage stays for a later publish) */
	bool (*stop)(void *); /* the caller's: stop hashing now (unmount); may be NULL */
	void *stop_arg;
};
/* 0 with *need = false when there is nothing to publish. Takes a node ref
 * (nlookup) so the node stays alive; publish_end drops it via the callback. */
int vv_node_publish_begin(struct vv_node *n, struct vv_publish *p, bool *need);
void vv_publish_run(struct vv_store *st, struct vv_publish *p);
int vv_node_publish_end(struct vv_publish *p);

/* A file of env whose stage nobody writes and nobody publishes (a replayed journal's,
 * or one whose publish was stopped at unmount): the caller publishes it. NULL if there
 * is none (or the envset is read-only: a read-only mount reads stages in place). */
struct vv_node *vv_env_unpublished(struct vv_env *env);
/* Does env's journal hold records a stopped writer left, with the env not loaded yet?
 * (A mount loads such envs in the background, so their stages get stored.) */
bool vv_env_journal_waiting(struct vv_env *env);

/* Link every sealed stage of env as an object now (one sync for all); a commit does
 * this first. */
int vv_env_store_sealed(struct vv_env *env);
/* Has env sealed stages whose bytes no vv_odb_sync covered yet? (The mount syncs
 * without its lock before committing, so the commit's own sync has little left.) */
bool vv_env_needs_sync(struct vv_env *env);

/* Create or replace file `name` in dir with published content described by e (kind,
 * mode, size, mtime, oid; e->name is ignored). Used by journal replay and tools. */
int vv_node_put(struct vv_node *dir, const char *name, const struct vv_tree_ent *e);

/* close(2) of a writable handle (FUSE flush). For pyvenv.cfg, parse the edit and apply
 * include-system-site-packages, prompt and the interpreter to the env, or refuse it
 * with -EINVAL leaving the env unchanged; edits of other synthesized files are
 * accepted and not kept. No-op for other nodes. */
int vv_node_flush(struct vv_node *n);

/* Release a writer (after publishing). */
void vv_node_close_write(struct vv_node *n);

/* Drop nlookup by k; frees the node when it is no longer reachable and unused.
 * Returns true if freed. */
bool vv_node_forget(struct vv_node *n, uint64_t k);

/* Path of n relative to its env root ("" for the root); malloc'd. */
char *vv_node_relpath(const struct vv_node *n);

/* Resolve a relative path inside an env (journal replay, tools). */
int vv_env_walk(struct vv_env *env, const char *relpath, struct vv_node **out);

#endif
