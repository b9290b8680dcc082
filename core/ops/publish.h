/*
 * publish.h - `venvctl publish`: a static, self-verifying snapshot of envs in a
 * directory any HTTP server can serve (layout: store/remote.h).
 *
 * Publishing copies only the objects the directory lacks (a hard link where it is on
 * the store's filesystem, else a copy, each hashed against its name first so damage
 * in the store is never published), makes them durable with one sync, writes the
 * manifest (manifest.h) as an object, and only then replaces HEAD (temp file, fsync,
 * rename, directory fsync). A client that read the old HEAD still finds every object
 * of it: nothing is ever removed from the directory, so publishes never break readers.
 */
#ifndef VV_PUBLISH_H
#define VV_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "util/hash.h"

struct vv_store;

struct vv_publish_result {
	vv_oid manifest;   /* the manifest's id, which HEAD now names */
	size_t envs;
	uint64_t objects;  /* objects the envs reach */
	uint64_t added;    /* of them, new in the directory */
	uint64_t added_bytes;
};

/* Publish envs names[0..n) (all envs of the store when n == 0) into dir, made when
 * missing. Every env must be committed (env.h vv_env_check_committed). */
int vv_publish(struct vv_store *st, char *const *names, size_t n, const char *dir,
	       struct vv_publish_result *res);

#endif
