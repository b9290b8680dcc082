/*
 * import.h - make an existing venv folder (made by `python -m venv`, virtualenv or uv)
 * an env of the store (`venvctl import`), and copy an env by its root (`venvctl clone`).
 *
 * Import reads the folder without changing it: every regular file is published as an
 * object (deduplicated against everything in the store), symlinks are kept as symlinks,
 * FIFOs and UNIX sockets as nodes of their kinds (never opened), modes and mtimes are
 * kept; character and block devices are refused. What venvfs synthesizes for every env
 * (pyvenv.cfg, lib64, bin/python*, the activators, 3.13's .gitignore) is left out: the
 * new env shows its own. Files in bin/ whose first line runs the source venv's own
 * interpreter (a plain `#!PATH/bin/python…` or pip's /bin/sh trampoline) are stored as
 * console scripts with the neutral first line (synth.h vv_synth_script_head), so they
 * run from the new env.
 * Nothing is created unless everything was read: the one commit is vv_txn_create.
 */
#ifndef VV_IMPORT_H
#define VV_IMPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/progress.h"

struct vv_store;
struct vv_config;

struct vv_import_opts {
	const char *python;             /* --python VER|PATH, or NULL: found from pyvenv.cfg */
	const struct vv_config *cfg;    /* for interpreter discovery (may be NULL) */
	const struct vv_progress *progress; /* "hashing", files done of total (may be NULL) */
};

struct vv_import_result {
	char *python;        /* the interpreter the env uses (real path) */
	char *version;       /* its version, "3.11.7" */
	char *src_version;   /* the version pyvenv.cfg names, or NULL */
	uint64_t files;      /* regular files stored (scripts included) */
	uint64_t bytes;      /* their bytes as read */
	uint64_t scripts;    /* files stored as console scripts (first line rewritten) */
	uint64_t symlinks, dirs;
	uint64_t specials;   /* FIFOs and sockets, kept as nodes without content */
	uint64_t skipped;    /* synthesized entries left out */
};

/* Import the venv at path as env `name`. 0, or -errno with a message naming path (or
 * name) and why: -EINVAL not a venv (no pyvenv.cfg, no or several lib/python3.N, a
 * lib/python3.N that is not the interpreter's, a device inside), -ENOENT no
 * installed interpreter of the venv's Python X.Y, -EEXIST env `name` exists. On error
 * nothing is created (objects already published are garbage for gc). */
int vv_import_venv(struct vv_store *st, const char *path, const char *name,
		   const struct vv_import_opts *o, struct vv_import_result *res);
void vv_import_result_release(struct vv_import_result *res);

/* Make env `to` a copy of env `from`: its committed root and settings, in O(1) (one new
 * envs/TO file, no tree is read). A prompt that was the default (the env's name) stays
 * the default, so the copy shows its own name; an explicit prompt is copied. Refused:
 * -ENOENT no env `from`, -EEXIST `to` exists (never clobbered), -EBUSY `from` has
 * changes a mount has not committed yet (journal/FROM). */
int vv_env_clone(struct vv_store *st, const char *from, const char *to);

#endif
