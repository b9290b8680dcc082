/*
 * env.h - environments as the store records them: envs/NAME, a small INI file (ini.h)
 *
 *   [env]
 *   python = /home/user/.pyenv/versions/3.11.7/bin/python3.11
 *   root = <64-hex tree id>
 *   system-site-packages = false
 *   without-pip = true            ; only when made without pip
 *   prompt = my prompt            ; optional
 *   locked = true                 ; only when locked: read-only in every mount
 *   owner = 1000:1000             ; uid:gid every file of the env is shown with
 *   mode = 0755                   ; permission bits of the env's root directory
 *   no-command = true             ; only when pyvenv.cfg shows no `command` line
 *
 *   [pyvenv.cfg]                  ; optional: lines a tool wrote into pyvenv.cfg
 *   virtualenv = 20.25.0          ; that venvfs keeps for it (pykeys.h)
 *   base-prefix = /usr
 *
 * Without `owner` the env belongs to the owner of the envs/NAME file (stores made
 * before envs had owners), without `mode` its root directory is 0755.
 *
 * This module reads envs/NAME; writing it is the env transaction's (txn.h), the single
 * atomic commit point of every change to an env: a reader sees the old root or the new
 * one. Changes made since that root live in journal/NAME (journal.h).
 */
#ifndef VV_ENV_H
#define VV_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "util/hash.h"

struct vv_store;

/* The ioctl a tool sends to the root of each venvfs mount after it replaced envs/NAME
 * behind the mounts' back: the daemon replies once it has applied every envs/ change
 * made before the call, the kernel's caches included, so the mount shows the change
 * as soon as the tool returns. No payload. */
#define VV_IOC_SYNC _IO('V', 0x53)

/* The ioctl a tool sends to the root of each venvfs mount of its store before it
 * changes env `name` (rollback, lock, add...): the daemon commits what the env has not
 * committed yet (closing its history entry) and lets go of its writer lock. The call
 * returns 0 when the env is committed (or the mount does not have it), 1 when the mount
 * cannot let go now - a file of the env is open for writing - with `msg` saying which
 * file and which process. */
struct vv_ioc_commit {
	char name[256]; /* in: the env, NUL-terminated */
	char msg[512];  /* out: why not, when the call returns 1 */
};
#define VV_IOC_COMMIT _IOWR('V', 0x43, struct vv_ioc_commit)

struct vv_envcfg {
	char *python;  /* real interpreter path (python.h vv_python.exe) */
	vv_oid root;
	bool system_site;
	bool without_pip; /* made without pip (shown in pyvenv.cfg's `command`) */
	char *prompt;  /* NULL: the env's name */
	bool locked;   /* read-only: mounts refuse every write (EROFS), tools refuse to
			  change it (venvctl lock/unlock) */
	bool owned;    /* uid/gid are set (`owner`); vv_env_load always sets them */
	uid_t uid;     /* owner of every file of the env, as the mount shows it */
	gid_t gid;
	bool has_mode; /* mode is set (`mode`); else the root directory is 0755 */
	mode_t mode;   /* permission bits (07777) of the env's root directory */
	char *pykeys;  /* NULL, or the pyvenv.cfg lines kept for the tools that wrote
			  them, "KEY = VALUE\n" each, in order (pykeys.h) */
	bool no_command; /* pyvenv.cfg shows no synthesized `command`: the last tool that
			    wrote it gave none (virtualenv) */
	uint8_t state;   /* enum vv_env_state (`state`; absent: a venv) */
};

/* What a folder of the mount root is (docs/design.md "Envs made by tools"):
 *   VV_ENV_VENV    a venv: synthesized entries over its tree (every env before);
 *   VV_ENV_UNBORN  made by mkdir in the mount root and still being made by the process
 *                  that made it: only its tree, nothing synthesized, until it is born;
 *   VV_ENV_FOLDER  born without a pyvenv.cfg from what its maker put in it: a plain
 *                  folder (its tree only), never a venv;
 *   VV_ENV_MADE    born with a pyvenv.cfg its maker wrote: a venv that is what the
 *                  tool made, with only pyvenv.cfg synthesized. */
enum vv_env_state { VV_ENV_VENV, VV_ENV_UNBORN, VV_ENV_FOLDER, VV_ENV_MADE, VV_ENV_NSTATES };

/* The permission bits of the env's root directory: cfg->mode, or 0755. */
mode_t vv_envcfg_mode(const struct vv_envcfg *cfg);

/* Is name usable as an env name? 0, or -EINVAL ("", ".", "..", '/' or NUL inside, or
 * starting with ".venvfs") / -ENAMETOOLONG (> 255 bytes), with a message. */
int vv_env_name_check(const char *name, size_t len);
/* The env that holds the mount root's own files (hook scripts, lock files, a tool's
 * index: docs/design.md "Files at the mount root"): a folder env under a reserved
 * name, so no user env can take it; venvctl does not list it. */
#define VV_ROOT_ENV ".venvfs-root"
/* vv_env_name_check, but VV_ROOT_ENV is a name too: for the store's own files
 * (envs/, journal/, history/, locks/). */
int vv_env_name_ok(const char *name, size_t len);

int vv_envcfg_parse(const char *buf, size_t len, const char *name, struct vv_envcfg *out);
/* malloc'd INI text. */
int vv_envcfg_format(const struct vv_envcfg *cfg, char **out, size_t *len);

/* 0 if cfg (env `name`) is not locked, else -EROFS with a message naming the lock and
 * how to lift it. For tools that are about to replace envs/name. */
int vv_envcfg_check_unlocked(const struct vv_envcfg *cfg, const char *name);
/* -ENOENT if there is no such env. Without an `owner` key, uid/gid are the env file's
 * owner (cfg->owned is then set too, so the next save records it). */
int vv_env_load(struct vv_store *st, const char *name, struct vv_envcfg *out);
/* Sorted list of env names (free with vv_strv_free, util/strv.h). */
int vv_env_list(struct vv_store *st, char ***names, size_t *n);
/* The committed root of every env laid out for 3.minor (vv_env_py_minor), in name
 * order, malloc'd: where requirement files find distributions pip installed through
 * the mount (pkg.h vv_pkg_resolve). An env that cannot be read is left out. */
int vv_env_roots(struct vv_store *st, int minor, vv_oid **roots, size_t *n);

void vv_envcfg_release(struct vv_envcfg *cfg);

/* 0 if no journal names root with changes, else -EBUSY with the one message every
 * tool gives for it: "env 'NAME' has changes not committed yet (journal/NAME): commit
 * them first ...". */
int vv_env_check_committed(struct vv_store *st, const char *name, const vv_oid *root);

/* The N of the tree's lib/python3.N (the env's Python minor version), or -errno
 * (-EINVAL "it has no/more than one lib/python3.N directory"). */
int vv_env_py_minor(struct vv_store *st, const vv_oid *root);

#endif
