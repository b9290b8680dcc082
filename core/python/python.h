/*
 * python.h - what venvfs knows about a Python interpreter.
 *
 * Facts (version, the real ELF behind shims, home, bundled pip wheel, what it reports
 * about itself and its platform for environment markers) are learned by running the
 * interpreter once, then cached in the store under pythons/KEY, keyed by the real
 * executable and checked against its inode, size and mtime. Creating an env never
 * starts a process: it only reads these facts.
 *
 * Several interpreters: vv_python_discover() finds every installed CPython 3.6+ (on
 * $PATH, in pyenv, in /usr/bin, and the config's `pythons`), vv_python_select() picks
 * one by path, command name or version ("3.12", "3.12.1", "python3.12").
 */
#ifndef VV_PYTHON_H
#define VV_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/hash.h"

struct vv_store;
struct vv_config;

/* What the interpreter reports about itself and its platform: the values of the PEP 508
 * environment markers that belong to it (pkg/marker.h), as the packaging library
 * computes them. Values are at most VV_PYPLAT_MAX - 1 bytes of [A-Za-z0-9._+-]. All ""
 * when not known (a struct vv_python made without the probe, for an interpreter that is
 * gone): implementation_name is never "" otherwise. */
#define VV_PYPLAT_MAX 32
struct vv_pyplatform {
	char python_full_version[VV_PYPLAT_MAX];   /* platform.python_version(): "3.11.7" */
	char implementation_name[VV_PYPLAT_MAX];   /* sys.implementation.name: "cpython" */
	char implementation_version[VV_PYPLAT_MAX]; /* of sys.implementation.version */
	char platform_python_implementation[VV_PYPLAT_MAX]; /* "CPython" */
	char sys_platform[VV_PYPLAT_MAX];          /* "linux" */
	char os_name[VV_PYPLAT_MAX];               /* "posix" */
	char platform_system[VV_PYPLAT_MAX];       /* os.uname().sysname: "Linux" */
	char platform_machine[VV_PYPLAT_MAX];      /* os.uname().machine: "x86_64" */
};

struct vv_python {
	char *exe;      /* realpath of the interpreter binary: bin/python3.X points here,
			   pyvenv.cfg `executable` */
	char *home;     /* pyvenv.cfg `home`: dirname of sys._base_executable (not
			   resolved), e.g. /home/user/.pyenv/versions/3.11.7/bin */
	char *base_exe; /* sys._base_executable, for pyvenv.cfg `command` */
	char *version;  /* "3.11.7" */
	int major, minor;
	char *pip_wheel; /* path of the bundled pip wheel, or NULL if none was found */
	struct vv_pyplatform plat;
	/* Skeleton root trees for new envs, built once (seed.h); zero until built. */
	vv_oid skel_pip;
	vv_oid skel_nopip;
};

/* Find the interpreter to use: `configured` if not NULL (a path or a command name),
 * else the first `python3` on $PATH. A pyenv shim is resolved to the binary it would
 * run from pyenv's files (the selected version), running nothing; other scripts, and
 * pyenv shims whose choice those files cannot tell for sure, are run and asked for
 * sys.executable. Then load cached facts from the store or learn them (running the
 * interpreter once) and cache them.
 * Errors: -ENOENT "no Python interpreter found ..." with what was tried. */
int vv_python_resolve(struct vv_store *st, const char *configured, struct vv_python *out);

/* Who runs an interpreter to learn its facts: the owner of the env that names it. */
struct vv_pyowner {
	uid_t uid;
	gid_t gid;
};

/* Load facts for an already-resolved real executable (as recorded in an env); learns
 * and caches them if missing or stale. Before running anything, exe must pass
 * vv_python_check_exe(). owner is the env's owner, or NULL when the caller has none
 * to give: a root process runs the probe as owner (no supplementary groups, its gid,
 * its uid) unless that is root; any other process, or a NULL owner, runs it as the
 * caller. */
int vv_python_load(struct vv_store *st, const char *exe, const struct vv_pyowner *owner,
		   struct vv_python *out);

/* Does path look like a CPython interpreter, judged without running it? After
 * realpath(3): a regular file, executable, named python, pythonX or pythonX.Y (the
 * last two may end in up to two ABI flags of d, m and t: python3.13t), starting with
 * the ELF magic. A copied ELF of another program named python3 passes; running it then
 * fails the probe's strict check of what it prints. 0, or -ENOEXEC (-EACCES when not
 * executable, -errno when it cannot be resolved) with a message naming path and
 * why. */
int vv_python_check_exe(const char *path);

/* Which Python X.Y the interpreter at path is, judged without running it: from the
 * standard library beside it (PREFIX/lib/pythonX.Y/os.py, or lib64, where PREFIX is
 * the parent of its real directory: CPython's own landmark). 1 when want_xy's
 * ("3.11") is there; 0 when it is not and another is, named in got ("3.12"); -ENOENT
 * when none is found (no judgment: an embedded or zipped standard library). */
int vv_python_stdlib_xy(const char *path, const char *want_xy, char *got, size_t gotsz);

/* Save the facts (incl. skeleton ids) to the store cache. */
int vv_python_save(struct vv_store *st, const struct vv_python *py);

/* The trees one cache file keeps alive (gc.h): the skeleton roots it names. */
#define VV_PYTHON_CACHE_TREES 2
struct vv_python_cache_trees {
	size_t n;
	vv_oid id[VV_PYTHON_CACHE_TREES];
	const char *what[VV_PYTHON_CACHE_TREES]; /* its key ("skel-pip"), for messages */
};

/* The tree ids in the cache file pythons/KEY (key as listed in that directory). Only
 * they are read, so a file that lacks other facts still counts. 0; -ENOENT (no
 * message) when the file is gone; -EUCLEAN when it does not parse (-ENOMEM), or the
 * read error, with a message naming pythons/KEY. */
int vv_python_cache_trees(struct vv_store *st, const char *key,
			  struct vv_python_cache_trees *out);

void vv_python_release(struct vv_python *py);

/* "python3.11" style name; buf must hold 32 bytes. */
void vv_python_name(const struct vv_python *py, char *buf);

/* ---- several interpreters ---- */

/* What discovery found. */
struct vv_pydisc {
	struct vv_python *list; /* newest version first (ties: by exe), one per real exe */
	size_t n;
	long dflt;              /* index in list of the default interpreter (config `python`,
				   else the first python3 on $PATH), -1 if it is unusable */
	char **skipped;         /* one line per candidate that did not work, with why */
	size_t nskipped;
};

/* Find installed CPython 3 interpreters: every `python3` and `python3.N` on $PATH,
 * $PYENV_ROOT (else ~/.pyenv) versions/x/bin/python3, /usr/bin/python3.N, the config's
 * `python` and `pythons` (cfg may be NULL). Each candidate is resolved like
 * vv_python_resolve (an ELF with fresh cached facts starts no process; a shim runs at
 * most once per call) and the results are deduplicated by real executable. pyenv shims
 * on $PATH are left out (they lead into versions/, which is searched for every pyenv
 * root they name); the default, when it is one, is resolved as vv_python_resolve
 * does. Candidates
 * that fail (broken shims, Python below 3.6) are listed in skipped, never fatal.
 * Errors: only -ENOMEM and store failures. Release with vv_pydisc_release(). */
int vv_python_discover_all(struct vv_store *st, const struct vv_config *cfg,
			   struct vv_pydisc *out);
void vv_pydisc_release(struct vv_pydisc *d);

/* The same, just the list (newest first); free with vv_python_list_free(). */
int vv_python_discover(struct vv_store *st, const struct vv_config *cfg,
		       struct vv_python **list, size_t *n);
void vv_python_list_free(struct vv_python *list, size_t n);

/* Pick an interpreter. spec is a path (contains '/'), a version prefix ("3", "3.12",
 * "3.12.1", or "python3.12" / "python3.12.1": the newest discovered interpreter whose
 * version starts with those components), or else a command name on $PATH ("python3",
 * "pypy3"). Errors: -ENOENT "no Python interpreter matches ..." listing the versions
 * found; -EINVAL for an empty spec. */
int vv_python_select(struct vv_store *st, const struct vv_config *cfg, const char *spec,
		     struct vv_python *out);

/* Deep copy (skeleton ids included). */
int vv_python_copy(const struct vv_python *from, struct vv_python *to);

/* Compare dotted release versions numerically ("23.10" > "23.9", "3.11" < "3.11.1",
 * "24.0b1" < "24.0"): <0, 0 or >0. */
int vv_version_cmp(const char *a, const char *b);

/* Does py satisfy a Requires-Python specifier list (PEP 440 subset: ==, !=, >=, <=,
 * >, <, ~=, with ".*" for == and !=, comma separated; "<V" admits no pre-release of V
 * itself)? 1 yes, 0 no. Clauses it cannot read are ignored (an empty spec admits
 * everything). */
int vv_python_requires_ok(const struct vv_python *py, const char *requires_python);

/* Does version ver satisfy one clause "OP VERSION" of such a list (the same reading:
 * ==, !=, >=, <=, >, <, ~=, ".*" after == and !=)? 1 yes, 0 no, -EINVAL (no message)
 * when the clause cannot be read (then it is no version comparison, e.g. "===" or a
 * version with '-'). Environment markers compare versions with it. */
int vv_version_spec_ok(const char *ver, const char *clause);

/* The version of a wheel from its file name ("pip-23.2.1-py3-none-any.whl" ->
 * "23.2.1") into buf (size bytes); 0 or -EINVAL. */
int vv_python_wheel_version(const char *path, char *buf, size_t size);

#endif
