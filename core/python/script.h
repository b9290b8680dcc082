/*
 * script.h - console scripts as the store keeps them and as an env shows them.
 *
 * A script whose first line runs the env's own interpreter is stored with the neutral
 * first line "#!python" + SFX + "\n" (SFX: "", "3" or "3.11"), so the same script in
 * every env is one object; an env shows it with its own interpreter path there
 * (synth.h vv_synth_shebang, the suffix after its last "/bin/python"). The mount shows
 * scripts this way, and RECORD templates (pkg/rectpl.h) hash them this way.
 */
#ifndef VV_SCRIPT_H
#define VV_SCRIPT_H

#include <stddef.h>

#define VV_SCRIPT_MAGIC "#!python"
#define VV_SCRIPT_MAGIC_LEN 8
#define VV_SCRIPT_SFX_MAX 15

/* The first line(s) shown for a script with suffix sfx in the env at envpath. */
int vv_script_shebang(const char *envpath, const char *sfx, char **out, size_t *len);

/* The stored first line of a script: its suffix into sfx (VV_SCRIPT_SFX_MAX + 1
 * bytes) and its length into *skip. -EUCLEAN when buf is not a stored script. */
int vv_script_head(const char *buf, size_t len, char *sfx, size_t *skip);

/* The whole script stored as buf, as the env at envpath shows it (malloc'd, with a NUL
 * after its *outlen bytes). */
int vv_script_show(const char *envpath, const char *buf, size_t len, char **out,
		   size_t *outlen);

#endif
