/*
 * pkg.h - packages as store objects: a wheel, once ingested (unpacked once, the way
 * `venvctl add` installs it), is recorded in packages/ with what it puts into a venv
 * as trees, so putting it into another env is a few tree grafts (install.h), never a
 * per-file copy or hash. Also: requirement files of exact pins resolved against the
 * recorded packages and find-links directories (`venvctl create/add -r`), their
 * environment markers evaluated for the env's interpreter (marker.h).
 *
 * A record is one small INI file, written crash-safely (temp file, fsync, rename,
 * fsync the directory), named "CANON@VERSION@3.N@SHA256" (PEP 503 name, METADATA's
 * version, the Python X.Y the trees are laid out for, the wheel file's SHA-256), so
 * that finding a pin or an already ingested wheel is one listing of packages/:
 *
 *   [package]
 *   name = Flask                     ; METADATA's Name and Version
 *   version = 3.0.0
 *   wheel = flask-3.0.0-py3-none-any.whl   ; the file name: its tags
 *   sha256 = <64 hex>                ; of the wheel file
 *   python = 3.11
 *   requires-python = >=3.8          ; optional
 *   tree = <tree id>                 ; everything it installs, relative to the env root
 *   site = <tree id>                 ; its lib/python3.N/site-packages part (optional)
 *   bin = <tree id>                  ; its bin/ part: console scripts, "#!python" (optional)
 *   extra = false                    ; true: tree holds more (headers, data files)
 *   installed = true                 ; optional: made from an env's installed files,
 *                                    ; sha256 is then the RECORD's id (installed.c)
 *
 * The trees are what vv_wheel_install_ex() makes with INSTALLER "venvctl" and
 * REQUESTED, directory mtimes the wheel's newest member mtime, plus the bytecode of its
 * modules compiled once by the interpreter of that X.Y (bytecode.h): the same wheel
 * gives the same trees in every store. Records are gc roots (gc.h): their trees stay while
 * the record does; deleting the record file (or `venvctl gc --drop-packages` for the
 * ones no env uses) lets gc reclaim them.
 */
#ifndef VV_PKG_H
#define VV_PKG_H

#include <stdbool.h>
#include <stddef.h>

#include "util/hash.h"

struct vv_store;
struct vv_python;
struct vv_progress;
struct vv_marker_env;

struct vv_pkg {
	vv_oid sha256;          /* of the wheel file */
	char *name, *version;   /* METADATA */
	char *wheel;            /* the wheel's file name */
	char *requires_python;  /* NULL when it has none */
	int minor;              /* Python 3.minor the trees are for */
	vv_oid tree;            /* what it installs, env-relative */
	vv_oid site, bin;       /* its site-packages and bin/ trees; zero when none */
	bool extra;             /* tree holds more than site-packages and bin/ */
	bool installed;         /* made from files pip installed in an env (installed.c):
				   sha256 is then its RECORD's id, not a wheel's */
	bool ingested;          /* vv_pkg_ingest unpacked it now (not found recorded) */
};

void vv_pkg_release(struct vv_pkg *p);

/* The record file text of p (malloc'd) and back. parse: -EINVAL "what:LINE: why" (the
 * strict reader's table, util/ini.h) or "what: no 'KEY'". */
int vv_pkg_format(const struct vv_pkg *p, char **out, size_t *len);
int vv_pkg_parse(const char *buf, size_t len, const char *what, struct vv_pkg *out);

/* The record's file name in packages/ (canon is the PEP 503 name). */
int vv_pkg_record_name(const char *canon, const char *version, int minor, const vv_oid *sha,
		       char *buf, size_t size);

/* Ingest a wheel for py (its 3.minor): checks the file name's tags against py on this
 * machine, hashes the file and returns its record if one exists, else unpacks it once
 * and writes the record. want (nwant ids, may be 0): the wheel's SHA-256 must be one of
 * them (a requirement's --hash). Errors name the wheel (and member and reason for a
 * refused wheel, -EINVAL). */
int vv_pkg_ingest(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
		  const vv_oid *want, size_t nwant, struct vv_pkg *out);

/* The record of a distribution installed in an env's tree (installed.c): root is an
 * env root laid out for 3.minor, the distribution the site-packages CANON-VERSION
 * .dist-info whose METADATA says canon at version. Its trees are made of the env's own
 * entries at the paths its RECORD lists (nothing is copied), its record is named by the
 * RECORD object's id (so it never satisfies a --hash requirement) and found again next
 * time. 0 with *out (out->ingested: made now); 1 when root has no such distribution
 * that can be reproduced (absent, editable, RECORD naming a path outside the env, no
 * WHEEL); -errno. */
int vv_pkg_from_installed(struct vv_store *st, const vv_oid *root, int minor, const char *canon,
			  const char *version, struct vv_pkg *out);

/* Read packages/NAME. */
int vv_pkg_load(struct vv_store *st, const char *record, struct vv_pkg *out);

/* Every record file name (sorted; free with vv_strv_free, util/strv.h). */
int vv_pkg_list(struct vv_store *st, char ***names, size_t *n);

/* Resolve a requirements file for an env of interpreter py: every line must be an
 * exact pin, `name==version` or `name[extra,...]==version`, optionally followed by an
 * environment marker `; MARKER` (PEP 508, marker.h) and then `--hash=sha256:HEX`
 * options (the wheel must have one of the given hashes); blank lines, `#` comments and
 * `\` continuations are read; other options, URLs and unpinned lines are refused, and
 * so is a malformed marker. A line whose marker is false for py on this host is
 * skipped (its pin need not exist; it still must be well-formed). Each pin that
 * applies is taken from the recorded packages for py (the most specific fitting tags
 * first), else from the wheels in the find-links directories (ingested then, with
 * progress reports "ingesting"), else, for a pin without --hash, from a distribution
 * installed in one of the nroots env roots (vv_pkg_from_installed: recorded then). On
 * success *out gets n packages in file order (free each with vv_pkg_release, then the
 * array) and *skipped the skipped lines, one a line: "FILE:LINE: skipped PIN (marker
 * MARKER is false)" (malloc'd; NULL when none). If some line cannot be met (unpinned,
 * refused, not found), returns -ENOENT with a one-line summary in vv_errmsg() and
 * *report gets every unmet line, one per line: "FILE:LINE: TEXT: why" (malloc'd; NULL
 * otherwise). Nothing is changed but records of ingested wheels. A file that cannot be
 * read: -errno naming it. */
int vv_pkg_resolve(struct vv_store *st, const char *reqfile, const char *const *find_links,
		   size_t nlinks, const vv_oid *roots, size_t nroots, const struct vv_python *py,
		   const struct vv_progress *progress, struct vv_pkg **out, size_t *n,
		   char **report, char **skipped);

/* The syntax part of vv_pkg_resolve on the text of a requirements file, without a
 * store: markers are checked, and with env (may be NULL) evaluated too. *npins gets
 * the lines that are exact pins (and apply, with env), *nskipped those whose marker is
 * false for env, *report (malloc'd, or NULL when every line is one of those) the
 * others with why. -EINVAL for a NUL byte. For the fuzz target and tests. */
int vv_pkg_reqs_check(const char *buf, size_t len, const char *file,
		      const struct vv_marker_env *env, size_t *npins, size_t *nskipped,
		      char **report);

#endif
