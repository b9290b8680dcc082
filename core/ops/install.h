/*
 * install.h - install wheels into an env's committed tree the way `pip install` would
 * in that venv (`venvctl add`), without mounting the store.
 *
 * Each wheel must fit the env's interpreter by its file-name tags (see
 * vv_tag_check, tags.h). Wheels are ingested as package records first (pkg.h: unpacked
 * once per store and Python X.Y), and a recorded package goes into an env as a few
 * tree grafts: its site-packages entries and bin/ scripts by their tree ids, merged
 * into directories the env already has (a shared namespace package directory).
 * A distribution of the same PEP 503 name already in site-packages is removed first as
 * pip's upgrade does: the files its installed RECORD lists (and their __pycache__
 * bytecode), directories that this leaves empty, and its .dist-info. Then every wheel
 * is put in (wheel.h, INSTALLER "venvctl", an empty REQUESTED) and the new root
 * replaces envs/NAME in one env transaction (env/txn.h): any failure before
 * that leaves the env unchanged (objects already published are garbage for gc).
 */
#ifndef VV_INSTALL_H
#define VV_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/hash.h"

struct vv_store;
struct vv_pkg;
struct vv_progress;

/* What was installed, one per wheel, in the order given. */
struct vv_installed {
	char *name;     /* distribution name as in METADATA */
	char *version;
	char *replaced; /* version of the distribution removed first, or NULL */
};

/* Install wheels (paths) into env name. 0 with *out (n entries; free with
 * vv_installed_free), or -errno with a message naming the env, the wheel, the member
 * and why: -ENOENT no such env, -EBUSY journal/NAME holds uncommitted changes,
 * -EINVAL a wheel refused (tags, content, a conflict). */
int vv_install_wheels(struct vv_store *st, const char *name, const char *const *wheels,
		      size_t n, struct vv_installed **out);
void vv_installed_free(struct vv_installed *v, size_t n);

/* Install the packages of a requirements file (vv_pkg_resolve: exact pins from the
 * store, else from the find-links wheels; lines whose environment marker is false for
 * the env's interpreter skipped) into env name, committed as one change. On unmet
 * lines: -ENOENT, *report lists them (see vv_pkg_resolve), the env is unchanged. *out
 * gets *nout entries, *skipped the skipped lines (see vv_pkg_resolve; NULL when
 * none). */
int vv_install_requirements(struct vv_store *st, const char *name, const char *reqfile,
			    const char *const *find_links, size_t nlinks,
			    const struct vv_progress *progress, struct vv_installed **out,
			    size_t *nout, char **report, char **skipped);

/* The tree root_in of an env of Python 3.minor with recorded packages put in (a
 * same-named installed distribution removed first) into *root_out; nothing is
 * committed. Changed directories get the current time, or with fresh (a new env) the
 * mtimes bin/ and site-packages had, so equal envs share every tree. res (n entries,
 * zeroed) gets what was installed. -EINVAL when two packages share a name or a
 * package would put a file where the env has one. */
int vv_install_pkgs(struct vv_store *st, const vv_oid *root_in, int minor,
		    const struct vv_pkg *pkgs, size_t n, bool fresh, vv_oid *root_out,
		    struct vv_installed *res);

#endif
