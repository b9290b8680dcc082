/*
 * fs.h - shared state of the FUSE layer. fs/ is glue only: it maps kernel requests
 * (inode numbers, file handles, replies, cache invalidation) onto the env model in
 * core/mtree.h and holds the one lock that serializes access to it.
 *
 * Inode numbers: FUSE_ROOT_ID is the mount root (the list of envs). Every other inode
 * number is the address of a struct vv_node: the node lives at least as long as the
 * kernel's lookup count on it (vv_node.nlookup) is non-zero, so the number stays valid
 * and stable for as long as the kernel can use it.
 */
#ifndef VV_FS_H
#define VV_FS_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>

#include "live/mtree.h"

/* Kernel cache lifetime of entries and attributes: long, because every change either
 * goes through the kernel or is invalidated explicitly. */
#define VV_TIMEOUT 86400.0

struct vv_fs {
	pthread_mutex_t lk;          /* guards set and every node */
	struct vv_envset *set;
	struct vv_store *st;
	struct fuse_session *se;
	bool ro;
	bool allow_other;            /* -o allow_other: the root is 01777, like /tmp */
	bool no_opendir;             /* the kernel took FUSE_CAP_NO_OPENDIR_SUPPORT */

	/* background work: commits and kernel cache invalidation (worker), stages left
	 * to store (publisher), other processes' env changes (watcher), spare stages
	 * (stager) */
	pthread_t worker, publisher, watcher, stager;
	pthread_cond_t cv, pub_cv, stage_cv;
	bool stop, worker_started, publisher_started, watcher_started, stager_started;
	bool spares_wanted;          /* the stager has been asked to fill (guarded by lk) */
	int inotify_fd;              /* watches STORE/envs for other processes' changes */
	pthread_mutex_t watch_lk;    /* held while envs/ events are read and applied */
	/* polling of envs/ (threads.c; guarded by watch_lk): what the last scan saw */
	struct vv_envstamp *stamps;  /* sorted by name */
	size_t nstamps;
	int64_t dir_mtime_ns, dir_ctime_ns;
	bool scanned, rescan;        /* rescan: look once more after a change was seen */
	int64_t next_poll_ns;
	struct vv_inval *inval;      /* queue of pending invalidations (guarded by lk) */
	size_t ninval, capinval;
};

/* One envs/NAME file as the last poll saw it: another writer replaces it (rename), so
 * a new inode or new times mean it changed. */
struct vv_envstamp {
	char *name;
	ino_t ino;
	int64_t mtime_ns, ctime_ns;
	off_t size;
};

struct vv_inval {
	fuse_ino_t ino;              /* invalidate this inode's attrs and data, or */
	char *name;                  /* if set: the entry `name` in directory `ino` */
};

/* inode.c */
struct vv_node *vv_fs_node(fuse_ino_t ino);
fuse_ino_t vv_fs_ino(struct vv_node *n);
void vv_fs_entry(struct vv_node *n, struct fuse_entry_param *e);
void vv_fs_root_stat(struct vv_fs *fs, struct stat *st);
/* Queue invalidation of every inode of env whose content depends on its path. */
void vv_fs_inval_env(struct vv_fs *fs, struct vv_env *env);
/* The same, done before returning (drops and retakes fs->lk): for changes the caller
 * must not reply to before the kernel forgot the old content (an env rename changes
 * every script's first line). Never for an inode the current request works on. */
void vv_fs_inval_env_now(struct vv_fs *fs, struct vv_env *env);
/* Queue invalidation of the attributes of every inode of env the kernel knows (its
 * owner changed, so every uid/gid did). */
void vv_fs_inval_env_attrs(struct vv_fs *fs, struct vv_env *env);
/* Queue invalidation of the kernel's dentry parent/name. */
void vv_fs_inval_entry(struct vv_fs *fs, fuse_ino_t parent, const char *name);
/* The model's hook for the same (struct vv_envset.inval_entry), ctx is the vv_fs. */
void vv_fs_model_inval(void *ctx, struct vv_node *dir, const char *name);
/* The directory node of ino: -ENOENT for a removed one, -ENOTDIR. */
int vv_fs_dir_node(fuse_ino_t ino, struct vv_node **out);

/* threads.c: the worker (invalidations, timed commits), publisher, stager and watcher
 * threads. Publish n's stage, hashing without fs->lk (held on entry and on return): the
 * last writer's release, the publisher thread and an explicit commit call it. */
int vv_fs_publish(struct vv_fs *fs, struct vv_node *n);
int vv_fs_worker_start(struct vv_fs *fs);
/* Apply every envs/ change made before this call (other processes' env files), kernel
 * caches included, before returning: the answer to a tool's VV_IOC_SYNC (env.h). With
 * inotify unavailable it scans envs/ instead. */
void vv_fs_watch_sync(struct vv_fs *fs);
void vv_fs_worker_stop(struct vv_fs *fs);
/* A stage was just taken (fs->lk held): ask the stager to make more if few are left. */
void vv_fs_spare_kick(struct vv_fs *fs);

/* proc.c: the process behind a request. Thread tid's process and parent (-1 when it
 * is gone); a process's start time (0 when gone or a zombie); its command name. */
int vv_fs_proc_ids(int tid, int *tgid, int *ppid);
uint64_t vv_fs_proc_start(int pid);
void vv_fs_proc_comm(int pid, char *buf, size_t cap);

/* unborn.c: envs made by tools (fs->lk held). mkdir in the mount root made env; a
 * request of req's process on inode ino (kids: on its entries) may make its env unborn
 * or born; the worker's periodic look at makers that exited. */
void vv_fs_unborn_made(struct vv_env *env, fuse_req_t req);
void vv_fs_unborn_visit(fuse_req_t req, fuse_ino_t ino, bool kids);
/* The same for a lookup of env's name in the mount root. */
void vv_fs_unborn_visit_env(fuse_req_t req, struct vv_env *env);
void vv_fs_unborn_tick(struct vv_fs *fs);

/* batch.c: a request of req's process is about to change the env of inode ino (fs->lk
 * held): the changes of a command that ended are committed first, as one history
 * entry. */
void vv_fs_batch_visit(fuse_req_t req, fuse_ino_t ino);

/* Every handler takes fs->lk around its calls into the model. */
static inline struct vv_fs *vv_fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline void vv_fs_lock(struct vv_fs *fs)
{
	pthread_mutex_lock(&fs->lk);
}

static inline void vv_fs_unlock(struct vv_fs *fs)
{
	pthread_mutex_unlock(&fs->lk);
}

/* ops.c: names, attributes, directories, the mount root, the table of handlers */
extern const struct fuse_lowlevel_ops vv_fs_ops;
/* The directory a new file `name` of the mount root goes to (the root's own files,
 * made if need be; fs->lk held): -EEXIST for an env's name, -EACCES for a user other
 * than the mount's. */
int vv_fs_root_files_dir(struct vv_fs *fs, fuse_req_t req, const char *name, struct vv_node **dir);

/* file.c: file content */
void vv_fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vv_fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void vv_fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void vv_fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void vv_fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		     struct fuse_file_info *fi);
void vv_fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vv_fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void vv_fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);


/* count.c: the ops to serve: vv_fs_ops, or wrappers that count each request when
 * VENVFS_COUNT_FILE is set and tell warm.c of it when warm is on; the counts are written
 * on SIGUSR1 and once more at exit. */
const struct fuse_lowlevel_ops *vv_fs_count_ops(bool warm);
int vv_fs_count_start(void);
void vv_fs_count_write(void);

/* warm.c: threads named "venvfs-warm" that keep the CPUs from halting while requests
 * come (for window_us after the last one; 0: none); touch at every request. */
#define VV_WARM_DEFAULT_US 0 /* -o warm=: off, what the benchmark shows best here */
int vv_fs_warm_start(int64_t window_us);
void vv_fs_warm_stop(void);
void vv_fs_warm_touch(void);

#endif
