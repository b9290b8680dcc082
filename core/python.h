/*
 * python.h - what venvfs knows about a Python interpreter.
 *
 * Facts (version, the real ELF behind shims, home, bundled pip wheel) are learned by
 * running the interpreter once, then cached in the store under pythons/KEY, keyed by the
 * real executable and checked against its inode, size and mtime. Creating an env never
 * starts a process: it only reads these facts.
 */
#ifndef VV_PYTHON_H
#define VV_PYTHON_H

#include <stdbool.h>
#include <stdint.h>

#include "hash.h"

struct vv_store;

struct vv_python {
	char *exe;      /* realpath of the interpreter binary: bin/python3.X points here,
			   pyvenv.cfg `executable` */
	char *home;     /* pyvenv.cfg `home`: dirname of sys._base_executable (not
			   resolved), e.g. /root/.pyenv/versions/3.11.7/bin */
	char *base_exe; /* sys._base_executable, for pyvenv.cfg `command` */
	char *version;  /* "3.11.7" */
	int major, minor;
	char *pip_wheel; /* path of the bundled pip wheel, or NULL if none was found */
	/* Skeleton root trees for new envs, built once (seed.h); zero until built. */
	vv_oid skel_pip;
	vv_oid skel_nopip;
};

/* Find the interpreter to use: `configured` if not NULL (a path or a command name),
 * else the first `python3` on $PATH. Shims (scripts such as pyenv's) are resolved to
 * the real binary by asking the interpreter for sys.executable. Then load cached facts
 * from the store or learn them (running the interpreter once) and cache them.
 * Errors: -ENOENT "no Python interpreter found ..." with what was tried. */
int vv_python_resolve(struct vv_store *st, const char *configured, struct vv_python *out);

/* Load facts for an already-resolved real executable (as recorded in an env); learns
 * and caches them if missing or stale. */
int vv_python_load(struct vv_store *st, const char *exe, struct vv_python *out);

/* Save the facts (incl. skeleton ids) to the store cache. */
int vv_python_save(struct vv_store *st, const struct vv_python *py);

void vv_python_release(struct vv_python *py);

/* "python3.11" style name; buf must hold 32 bytes. */
void vv_python_name(const struct vv_python *py, char *buf);

#endif
