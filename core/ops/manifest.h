/*
 * manifest.h - what a published store holds: its envs, each as its envs/NAME file.
 *
 * A manifest is an object of the published store (store/remote.h), named by its
 * SHA-256 like every other, so a client that pins it (`venvfs --remote URL --pin ID`)
 * gets exactly those bytes or nothing. Its text:
 *
 *   venvfs-manifest 1\n
 *   python VERSION PATH\n   one per interpreter the envs name, paths in strictly
 *                           increasing byte order: the facts a host needs to serve
 *                           them ("3.11.7", the interpreter's real path)
 *   env NAME LEN\n          one per env, names in strictly increasing byte order
 *   <LEN bytes>             the env's envs/NAME INI text (env.h): root, interpreter,
 *                           owner, flags
 *
 * Nothing follows the last env. The parser takes outside input: it is strict (a bad
 * name, a length past the end, an env file that does not parse, a duplicate or an
 * unsorted name is -EINVAL naming the line) and never reads past len.
 *
 * A client applies a manifest to its cache store (vv_manifest_apply): every env the
 * manifest names becomes that env file through the env transaction (txn.h), and envs
 * the manifest no longer names are removed, so the cache's envs/ is the manifest the
 * mount serves, and serves again when the server is unreachable.
 */
#ifndef VV_MANIFEST_H
#define VV_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "env/env.h"

struct vv_store;

#define VV_MANIFEST_MAGIC "venvfs-manifest 1\n"

struct vv_manifest_env {
	char *name;
	struct vv_envcfg cfg;
};

struct vv_manifest_py {
	char *version; /* "3.11.7" */
	char *exe;     /* the interpreter's real path, as envs/NAME's `python` names it */
};

struct vv_manifest {
	struct vv_manifest_py *pys;   /* in path order */
	size_t npy;
	struct vv_manifest_env *envs; /* in name order */
	size_t n;
};

/* Parse buf[0..len). On failure *out is empty and the message says what is wrong. */
int vv_manifest_parse(const char *buf, size_t len, struct vv_manifest *out);
/* The text of npy interpreters and n envs (names[i], cfgs[i]); paths and names must
 * be in strictly increasing order. */
int vv_manifest_format(const struct vv_manifest_py *pys, size_t npy, char *const *names,
		       const struct vv_envcfg *cfgs, size_t n, char **out, size_t *len);
void vv_manifest_release(struct vv_manifest *m);

/* Make st's envs what m says (see above). *changed (may be NULL) gets how many envs
 * were made, replaced or removed. */
int vv_manifest_apply(struct vv_store *st, const struct vv_manifest *m, size_t *changed);

/* ---- a mount of published envs (venvfs --remote) ----
 *
 * The cache store remembers what it serves in its file `remote`:
 *   url = URL
 *   manifest = <64 hex>
 * so a cache serves one URL only, and a mount that cannot reach the server serves the
 * snapshot the last mount applied. */
struct vv_remote;

/* The manifest to serve: pin when given, else the one the remote's HEAD names;
 * fetched (verified by its id), parsed, applied to st (vv_manifest_apply) and recorded.
 * When HEAD cannot be read and st recorded a snapshot of the same URL, that snapshot
 * is served: *stale is set and the message says why. -EINVAL when st is the cache of
 * another URL. *warnings (NULL when all is well; malloc'd lines otherwise) says which
 * interpreters the manifest names this host lacks, or has as another Python X.Y
 * (judged from its standard library, vv_python_stdlib_xy): their envs are served all
 * the same (their files read; their python does not run, or does not see them). */
int vv_manifest_mount(struct vv_store *st, struct vv_remote *rm, const vv_oid *pin,
		      vv_oid *used, bool *stale, char **warnings);

/* Whether st is the cache of a remote mount: 0 and *url (malloc'd; NULL when st is
 * an ordinary store), or -errno when its `remote` file cannot be read. */
int vv_manifest_cache_url(struct vv_store *st, char **url);

#endif
