/*
 * tags.h - does a wheel fit this interpreter? The tags of a wheel's file name (PEP 425,
 * PEP 427) checked against CPython 3.minor on Linux, and PEP 503 names.
 *
 * These look only at names, never at a file's content: ingesting a wheel (pkg.h),
 * picking the best recorded package or find-links wheel for a pin, `venvctl add` and
 * freeze all ask the same questions and get the same answers.
 */
#ifndef VV_TAGS_H
#define VV_TAGS_H

#include <stddef.h>

/* Do a wheel's file-name tags (NAME-VER[-BUILD]-PY-ABI-PLAT.whl, each tag possibly a
 * '.'-separated set) fit CPython 3.minor on Linux `machine` (uname -m)? Accepted:
 *   PY py3, py3N (N <= minor) or cp3<minor>  with ABI none;
 *   PY cp3<minor>                            with ABI cp3<minor>;
 *   PY cp3M (2 <= M <= minor)                with ABI abi3;
 *   PLAT any, linux_<machine> or manylinux*_<machine> (the glibc version of a
 *   manylinux tag is not checked).
 * 0, or -EINVAL "WHEEL: why". The distribution name of the file name, PEP 503
 * normalized, goes to canon (size bytes) when canon is not NULL. */
int vv_tag_check(const char *wheel_path, int minor, const char *machine, char *canon,
		 size_t size);

/* Like vv_tag_check (no name out): how specific the best fitting tag set is (higher: a
 * platform tag over any, the interpreter's ABI over abi3 over none, cp3N over py3N over
 * py3), or -EINVAL when none fits. */
int vv_tag_score(const char *wheel_path, int minor, const char *machine);

/* PEP 503 normalized name (lower case, runs of -_. become one '-') of the first len
 * bytes of name into out (size bytes); -ENAMETOOLONG if it does not fit. */
int vv_dist_canonical(const char *name, size_t len, char *out, size_t size);

#endif
