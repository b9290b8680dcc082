/*
 * config.h - the daemon's and the CLI's configuration file, venvfs.ini, read by the
 * strict INI reader (ini.h).
 *
 *   [venvfs]
 *   store = /home/alice/.local/share/venvfs   ; store directory
 *   python = /usr/bin/python3.11              ; default interpreter for new envs
 *   without-pip = false                       ; create envs without pip
 *   pythons = /opt/py/bin/python3.12, ~/x/python3   ; more interpreters to offer
 *   history-keep = 50                         ; history entries kept per env (0: none)
 *   history-max-age = 0                       ; days an entry is kept (0: no limit)
 *   history-coalesce = 10                     ; seconds: mount commits closer than this
 *                                             ; are one history entry (history.h)
 *
 * `python` is a path or a command name looked up on $PATH. `pythons` lists extra
 * interpreters for discovery (python.h vv_python_discover) beyond those found on $PATH,
 * in ~/.pyenv and /usr/bin: paths separated by commas and/or blanks (so a path in this
 * list cannot contain either). Unknown sections or keys, keys set twice, bad booleans
 * (ini.h vv_parse_bool) and relative paths are errors reported as "FILE:LINE: why".
 * Paths may start with "~/" (expanded with $HOME).
 */
#ifndef VV_CONFIG_H
#define VV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vv_config {
	char *store;      /* NULL = default (vv_default_store_path) */
	char *python;     /* NULL = first python3 on PATH */
	bool without_pip;
	char **pythons;   /* extra interpreters (absolute paths), npythons of them */
	size_t npythons;
	int64_t history_keep, history_max_age_days, history_coalesce_s;
	unsigned history_set; /* VV_CFG_HISTORY_*: which of the three the files set */
};

enum { VV_CFG_HISTORY_KEEP = 1, VV_CFG_HISTORY_MAX_AGE = 2, VV_CFG_HISTORY_COALESCE = 4 };

/* Load path into cfg (cfg must be zeroed or previously loaded; later values win).
 * A missing file is fine when must_exist == 0. Errors: -ENOENT, -EINVAL ("file:line: why"). */
int vv_config_load(struct vv_config *cfg, const char *path, int must_exist);

/* Same, from a string; fname is used in messages. */
int vv_config_parse(struct vv_config *cfg, const char *text, const char *fname);

void vv_config_release(struct vv_config *cfg);

/* Default paths (malloc'd): $XDG_CONFIG_HOME/venvfs/venvfs.ini, else ~/.config/...;
 * $XDG_DATA_HOME/venvfs, else ~/.local/share/venvfs. NULL if neither $HOME nor the XDG
 * variable is set. */
char *vv_default_config_path(void);
char *vv_default_store_path(void);
/* The cache store of `venvfs --remote URL` without --cache: $XDG_CACHE_HOME/venvfs/
 * (else ~/.cache/venvfs/) remote-<first 16 hex digits of the URL's SHA-256>. */
char *vv_default_cache_path(const char *url);

#endif
