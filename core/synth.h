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
	const struct vv_python *py;
};

/* pyvenv.cfg in the format `python3.X -m venv` writes for that version. */
int vv_synth_pyvenv_cfg(const struct vv_synth_env *e, char **out, size_t *len);

/* bin/activate for bash and zsh, behaving like CPython's. Paths are shell-quoted. */
int vv_synth_activate_sh(const struct vv_synth_env *e, char **out, size_t *len);

/* First line(s) for a console script stored with a "#!python" first line: a plain
 * "#!<path>/bin/python\n", or pip's /bin/sh trampoline when the path has spaces or the
 * line would exceed 127 bytes. */
int vv_synth_shebang(const char *envpath, char **out, size_t *len);

#endif
