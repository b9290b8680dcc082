/*
 * synth.h - files venvfs synthesizes instead of storing: pyvenv.cfg, activation
 * scripts and console-script first lines. Pure functions of the env model and the
 * env's current absolute path, so a renamed env or a store mounted elsewhere is always
 * right. Results are malloc'd; functions return 0 or -ENOMEM.
 */
#ifndef VV_SYNTH_H
#define VV_SYNTH_H

#include <stdbool.h>
#include <stddef.h>

struct vv_python;

struct vv_synth_env {
	const char *path;       /* absolute path of the env as seen by users */
	const char *name;       /* env name (last path component) */
	const char *prompt;     /* NULL: use name */
	bool system_site;
	bool without_pip;
	bool no_command;        /* pyvenv.cfg shows no generated `command` line */
	const char *pykeys;     /* NULL, or lines kept for tools: "KEY = VALUE\n" each */
	const struct vv_python *py;
};

/* pyvenv.cfg in the format `python3.X -m venv` writes for that version: the keys
 * venvfs owns (vv_pycfg_owned) from the env's state, then `command` (3.11+, unless the
 * kept lines have one or no_command), then the kept lines in their order. */
int vv_synth_pyvenv_cfg(const struct vv_synth_env *e, char **out, size_t *len);

/* The value of the `command` line vv_synth_pyvenv_cfg generates ("BASE -m venv ...
 * PATH"), malloc'd; *out is NULL for a version whose venv writes none (before 3.11). */
int vv_synth_pyvenv_command(const struct vv_synth_env *e, char **out);

/* bin/activate for bash, zsh, ksh and POSIX sh (dash), behaving like CPython's. Paths
 * are shell-quoted. */
int vv_synth_activate_sh(const struct vv_synth_env *e, char **out, size_t *len);

/* The synthesized files. Which exist for an env depends on its interpreter
 * (vv_synth_exists): e.g. .gitignore from 3.13 on. */
enum vv_synth_file {
	VV_SYNTH_PYVENV_CFG,    /* ENV/pyvenv.cfg */
	VV_SYNTH_GITIGNORE,     /* ENV/.gitignore (3.13+) */
	VV_SYNTH_ACTIVATE,      /* ENV/bin/activate: bash, zsh, dash and other POSIX sh, ksh */
	VV_SYNTH_ACTIVATE_FISH, /* ENV/bin/activate.fish */
	VV_SYNTH_ACTIVATE_CSH,  /* ENV/bin/activate.csh: csh, tcsh */
	VV_SYNTH_ACTIVATE_PS1,  /* ENV/bin/Activate.ps1: PowerShell */
	VV_SYNTH_ACTIVATE_NU,   /* ENV/bin/activate.nu: nushell */
	VV_SYNTH_ACTIVATE_THIS, /* ENV/bin/activate_this.py: exec() from a running Python */
	VV_SYNTH_NFILES
};

/* File name (without directory) and whether it lives in bin/. */
const char *vv_synth_name(enum vv_synth_file f);
bool vv_synth_in_bin(enum vv_synth_file f);
bool vv_synth_exists(enum vv_synth_file f, const struct vv_python *py);

/* Generate a synthesized file's content. */
int vv_synth_file(enum vv_synth_file f, const struct vv_synth_env *e, char **out, size_t *len);

/* First line(s) for a console script stored with a "#!python" first line: a plain
 * "#!<path>/bin/python\n", or pip's /bin/sh trampoline when the path has spaces or the
 * line would exceed 127 bytes. */
int vv_synth_shebang(const char *envpath, char **out, size_t *len);

/* The inverse, for files written into (or imported from) an env at envpath: the length
 * of the first line(s) of buf when they run that env's own interpreter - a plain
 * "#!ENVPATH/bin/python[X[.Y]]\n" or pip's /bin/sh trampoline (the path quoted or not) -
 * with the interpreter's suffix ("3", "3.11", "" for the trampoline) copied to sfx
 * (sfxsize bytes); 0 if buf starts otherwise. Such a file is stored as a console script
 * whose first line is "#!python" + sfx + "\n". */
size_t vv_synth_script_head(const char *buf, size_t len, const char *envpath, char *sfx,
			    size_t sfxsize);

/* pyvenv.cfg as CPython reads it (site.py, getpath): the next line of [*p, end) that
 * has an '=', split at the first one, key and value stripped of blanks (the value also
 * of a '\r'); lines without '=' are skipped. 1 with *p past the line, or 0 at the end.
 * Keys are compared case-insensitively by the callers. */
int vv_pycfg_next(const char **p, const char *end, const char **key, size_t *klen,
		  const char **val, size_t *vlen);

/* Is key (klen bytes, any case) one venvfs computes from the env's state (home,
 * executable, version, include-system-site-packages, prompt)? Such a key is never
 * kept for a tool: a write of it is applied to the env (pyvenv.c). */
bool vv_pycfg_owned(const char *key, size_t klen);

/* Does the kept-lines text have a line with this key (any case)? */
bool vv_pycfg_kept_has(const char *pykeys, const char *key);

#endif
