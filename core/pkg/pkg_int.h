/*
 * pkg_int.h - what the files of the package records share; not an API (pkg.h is):
 *
 *   pkg.c        records: the record file, listing packages/, ingesting a wheel
 *   installed.c  records made from a distribution installed in an env's tree
 *   reqs.c       requirement files resolved against the records (calls both)
 */
#ifndef VV_PKG_INT_H
#define VV_PKG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/hash.h"

struct vv_store;
struct vv_python;
struct vv_pkg;

#define CANON_MAX 256 /* a PEP 503 name (tags.h vv_dist_canonical) */

/* vv_pkg_ingest with the listing of packages/ kept by the caller: *names (*nnames
 * entries, free with vv_strv_free) is read on first use and reused, so ingesting many
 * wheels lists the directory once. */
int pkg_ingest(struct vv_store *st, const char *path, const struct vv_python *py,
	       const vv_oid *want, size_t nwant, char ***names, size_t *nnames,
	       struct vv_pkg *out);

/* p->site, p->bin and p->extra from p->tree (laid out for 3.p->minor). */
int pkg_tree_parts(struct vv_store *st, struct vv_pkg *p);

/* Write p's record file into packages/ (temp file, fsync, rename, fsync). */
int pkg_write(struct vv_store *st, const char *canon, const struct vv_pkg *p);

/* Same version? Exactly (case aside), or numerically for plain dotted releases
 * ("1.0" == "1.0.0"). */
bool pkg_same_version(const char *a, const char *b);

#endif
