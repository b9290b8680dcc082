/*
 * install.h - install wheels into an env's committed tree the way `pip install` would
 * in that venv (`venvctl add`), without mounting the store.
 *
 * Each wheel must fit the env's interpreter by its file-name tags (see
 * vv_install_tag_check). A distribution of the same PEP 503 name already in
 * site-packages is removed first as pip's upgrade does: the files its installed RECORD
 * lists (and their __pycache__ bytecode), directories that this leaves empty, and its
 * .dist-info. Then every wheel is unpacked (wheel.h, INSTALLER "venvctl", an empty
 * REQUESTED) and the new root replaces envs/NAME in one vv_env_save: any failure before
 * that leaves the env unchanged (objects already published are garbage for gc).
 */
#ifndef VV_INSTALL_H
#define VV_INSTALL_H

#include <stddef.h>

struct vv_store;

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

/* Do a wheel's file-name tags (NAME-VER[-BUILD]-PY-ABI-PLAT.whl, each tag possibly a
 * '.'-separated set) fit CPython 3.minor on Linux `machine` (uname -m)? Accepted:
 *   PY py3, py3N (N <= minor) or cp3<minor>  with ABI none;
 *   PY cp3<minor>                            with ABI cp3<minor>;
 *   PY cp3M (2 <= M <= minor)                with ABI abi3;
 *   PLAT any, linux_<machine> or manylinux*_<machine> (the glibc version of a
 *   manylinux tag is not checked).
 * 0, or -EINVAL "WHEEL: why". The distribution name of the file name, PEP 503
 * normalized, goes to canon (size bytes) when canon is not NULL. */
int vv_install_tag_check(const char *wheel_path, int minor, const char *machine, char *canon,
			 size_t size);

/* PEP 503 normalized name (lower case, runs of -_. become one '-') of the first len
 * bytes of name into out (size bytes); -ENAMETOOLONG if it does not fit. */
int vv_dist_canonical(const char *name, size_t len, char *out, size_t size);

#endif
