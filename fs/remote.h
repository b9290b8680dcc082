/*
 * remote.h - the FUSE side of `venvfs --remote URL` (remote.c).
 */
#ifndef VV_FS_REMOTE_H
#define VV_FS_REMOTE_H

#include <stdint.h>

struct vv_store;
struct vv_remote;

struct vv_fs_remote_opts {
	const char *url;
	const char *pin;     /* NULL, or the manifest id to serve */
	unsigned timeout_s;  /* a transfer with no byte for this long fails (0: 30 s) */
	const char *ca_file; /* the CA certificates to trust (NULL: the system's) */
	long refresh_s;      /* look at HEAD this often (0: never; -1: the default) */
	uint64_t cache_size; /* bound of the cache's objects, bytes (0: the default) */
};

#define VV_FS_CACHE_SIZE_DEFAULT ((uint64_t)4 << 30)

#define VV_FS_REFRESH_DEFAULT 60

/* Attach st (the cache store) to the published directory at o->url and apply the
 * manifest to serve. 0 and *out, or -errno with a message. */
int vv_fs_remote_open(struct vv_store *st, const struct vv_fs_remote_opts *o,
		      struct vv_remote **out);

/* Sync and unmark the cache, unhook and free rm (NULL is fine). */
void vv_fs_remote_close(struct vv_remote *rm);

/* Start the thread that looks at the server's HEAD every o->refresh_s seconds and
 * applies a new manifest (the mount's watcher then shows it); none with --pin or a
 * refresh of 0. vv_fs_remote_stop ends it (before the store is closed). */
int vv_fs_remote_start(struct vv_store *st, struct vv_remote *rm,
		       const struct vv_fs_remote_opts *o);
void vv_fs_remote_stop(void);

#endif
