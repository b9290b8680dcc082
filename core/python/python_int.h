/*
 * python_int.h - what the files of the interpreter module share; not an API (python.h
 * is). The files, each calling only those listed before it:
 *
 *   python.c     struct vv_python as a value: release, name, copy, list free
 *   pyversion.c  version numbers: comparing, prefixes, Requires-Python
 *   probe.c      running an interpreter once and parsing what it says
 *   pycache.c    the pythons/KEY cache: facts per real executable, skeleton ids
 *   pyenv.c      what a pyenv shim would run, from pyenv's files, running nothing
 *   discover.c   finding interpreters: the one to use, every installed one, by version
 */
#ifndef VV_PYTHON_INT_H
#define VV_PYTHON_INT_H

#include <stdbool.h>

struct vv_store;
struct vv_python;
struct vv_pyowner;
struct vv_pyplatform;

/* ---- python.c */

/* The fields of struct vv_pyplatform by their PEP 508 names, in its order: the probe
 * prints them under these names and the cache keeps them so, in [markers]. */
#define PYPLAT_N 8
extern const char *const python_plat_keys[PYPLAT_N];
char *python_plat_field(struct vv_pyplatform *p, int i);

/* Can v be a value of struct vv_pyplatform (shorter than VV_PYPLAT_MAX, of
 * [A-Za-z0-9._+-])? */
bool python_plat_value_ok(const char *v);

/* ---- pyversion.c */

/* "3.11.7" -> major, minor; strict digits, no leading garbage. 0 or -EINVAL (no
 * message). */
int python_parse_version(const char *s, int *major, int *minor);

/* Do the first components of ver equal all components of prefix ("3.1" vs "3.12.0":
 * no)? Components are compared as numbers. */
bool python_ver_prefix(const char *ver, const char *prefix);

/* ---- probe.c */

/* Does the file start with the ELF magic? (false when it cannot be read) */
bool python_is_elf(const char *path);

/* Run `path` once and learn its facts (skeleton ids zero); as owner (NULL: as the
 * caller) when this process is root, as vv_python_load() describes. */
int python_learn(const char *path, const struct vv_pyowner *owner, struct vv_python *py);

/* ---- pycache.c */

/* Cached facts for exe if they are still true (same inode, size and mtime; the pip wheel
 * still there). 1 fresh; 2 true but without the marker values (a file from before they
 * were learned: learn them, keep the skeletons, and use these facts if that fails), the
 * facts in *py too, but 1 in a read-only store (nothing learned could be kept); 0
 * missing or stale (*stale gets the old facts if readable; stale may be NULL),
 * -ENOMEM. */
int python_cache_fresh(struct vv_store *st, const char *exe, struct vv_python *py,
		       struct vv_python *stale);

/* Learned facts plus what the cache knew (cached, fresh: python_cache_fresh said 1 or
 * 2): skeletons survive as long as the interpreter and its pip wheel are the same.
 * Saves when anything changed. */
int python_merge_and_save(struct vv_store *st, struct vv_python *learned,
			  struct vv_python *cached, bool fresh);

/* ---- pyenv.c */

/* Is path a shim in the exact form pyenv writes (a script that runs `pyenv exec`)? Its
 * PYENV_ROOT into root (PATH_MAX bytes). */
bool python_pyenv_shim(const char *path, char *root);

enum { PYTHON_PYENV_NOT_SHIM, PYTHON_PYENV_FOUND, PYTHON_PYENV_RUN };

/* What the pyenv shim path (as it would be executed) would run, from pyenv's files,
 * running nothing: PYTHON_PYENV_FOUND and *target (malloc'd, not resolved:
 * ROOT/versions/V/bin/PROG, or the "system" one on PATH), an ELF binary;
 * PYTHON_PYENV_RUN when only running the shim can tell; PYTHON_PYENV_NOT_SHIM for
 * anything that is not a pyenv shim; -ENOMEM. */
int python_pyenv_target(const char *path, char **target);

#endif
