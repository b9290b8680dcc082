/*
 * freeze.h - `venvctl freeze NAME`: the requirement lines `pip freeze` prints in the env,
 * read from the env's committed tree without running Python or mounting.
 *
 * Distributions are the site-packages/NAME.dist-info directories (METADATA) and
 * NAME.egg-info directories (PKG-INFO). Each gives `Name==Version` (as METADATA spells
 * them), or with a PEP 610 direct_url.json `Name @ URL` (vcs: `vcs+URL@commit`; archive:
 * `URL#hash`; `&subdirectory=`), or for an editable install without version control
 * pip's comment line plus `-e LOCATION`. Sorted as pip sorts them (by the name lowered).
 * Left out as pip leaves them out: python, wsgiref, argparse always; unless `all`, pip,
 * and setuptools, distribute and wheel when the env's Python is older than 3.12 (pip
 * 23.1 and newer) or always together with pkg-resources (older pips).
 */
#ifndef VV_FREEZE_H
#define VV_FREEZE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/hash.h"

struct vv_store;

/* The freeze text of env `name` (one line per requirement, each ending in "\n"; empty
 * when nothing is installed), malloc'd into *out. -ENOENT no such env, -EUCLEAN a
 * damaged tree, -EINVAL an env without one lib/python3.N. */
int vv_freeze(struct vv_store *st, const char *name, bool all, char **out, size_t *len);

/* The same for a root tree of Python 3.minor. */
int vv_freeze_tree(struct vv_store *st, const vv_oid *root, int minor, bool all, char **out,
		   size_t *len);

#endif
