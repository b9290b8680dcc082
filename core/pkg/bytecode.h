/*
 * bytecode.h - bytecode compiled once into stored trees: the env skeleton's pip and
 * every package record carry their modules' .pyc files, so an env made from them
 * imports without compiling or writing anything.
 *
 * The site-packages part of a tree is written out to a temp dir with the tree's
 * modes and mtimes, compiled there by the interpreter (`-I -m compileall`), and each
 * .pyc becomes a 'c' entry in its shared stored form (python/pyc.h) with the temp dir
 * standing for the env: rendered in an env, its co_filename names that env's path, and
 * its header matches the source's mtime there. The same files and interpreter give the
 * same tree in every store.
 */
#ifndef VV_BYTECODE_H
#define VV_BYTECODE_H

#include <stdint.h>

#include "util/hash.h"

struct vv_store;
struct vv_python;

/* The tree root (an env-relative tree laid out for py) with the bytecode of its
 * lib/python3.N/site-packages modules added in *out (root itself when it has none).
 * New directories (__pycache__) and .pyc entries get mtime_ns. A module that does not
 * compile (Python 2 syntax, say) just gets no .pyc, as with pip. -errno when the
 * interpreter cannot be run or the store fails. */
int vv_bytecode_add(struct vv_store *st, const struct vv_python *py, const vv_oid *root,
		    int64_t mtime_ns, vv_oid *out);

#endif
