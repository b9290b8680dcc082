/*
 * script.c - console scripts shown with an env's interpreter (script.h): the shown
 * first line for a stored suffix, and the stored first line read back.
 */
#include "python/script.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "python/synth.h"
#include "util/error.h"

int vv_script_shebang(const char *envpath, const char *sfx, char **out, size_t *len)
{
	int r = vv_synth_shebang(envpath, out, len);
	size_t sl = strlen(sfx);
	if (r < 0 || !sl)
		return r;
	/* put the suffix after the "/bin/python" that ends the interpreter's path: the
	 * last one (the env's path comes before it, and the trampoline's tail has none) */
	char *at = NULL;
	for (char *q = *out; (q = strstr(q, "/bin/python")); q++)
		at = q + 11;
	char *x = at ? malloc(*len + sl + 1) : NULL;
	if (!x) {
		free(*out);
		return at ? vv_err(-ENOMEM, "out of memory") :
			    vv_err(-EINVAL, "shebang without an interpreter path");
	}
	size_t head = (size_t)(at - *out);
	memcpy(x, *out, head);
	memcpy(x + head, sfx, sl);
	memcpy(x + head + sl, at, *len - head + 1);
	free(*out);
	*out = x;
	*len += sl;
	return 0;
}

int vv_script_head(const char *buf, size_t len, char *sfx, size_t *skip)
{
	if (len < VV_SCRIPT_MAGIC_LEN + 1 || memcmp(buf, VV_SCRIPT_MAGIC, VV_SCRIPT_MAGIC_LEN))
		return vv_err(-EUCLEAN, "script object does not start with #!python");
	size_t i = VV_SCRIPT_MAGIC_LEN, k = 0;
	while (i < len && k < VV_SCRIPT_SFX_MAX &&
	       ((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.'))
		sfx[k++] = buf[i++];
	sfx[k] = 0;
	if (i >= len || buf[i] != '\n')
		return vv_err(-EUCLEAN, "script object has a bad first line");
	*skip = i + 1;
	return 0;
}

int vv_script_show(const char *envpath, const char *buf, size_t len, char **out,
		   size_t *outlen)
{
	char sfx[VV_SCRIPT_SFX_MAX + 1], *sb = NULL;
	size_t skip, sl;
	int r = vv_script_head(buf, len, sfx, &skip);
	if (r == 0)
		r = vv_script_shebang(envpath, sfx, &sb, &sl);
	if (r < 0)
		return r;
	char *o = malloc(sl + len - skip + 1);
	if (!o) {
		free(sb);
		return vv_err(-ENOMEM, "out of memory");
	}
	memcpy(o, sb, sl);
	memcpy(o + sl, buf + skip, len - skip);
	o[sl + len - skip] = 0;
	free(sb);
	*out = o;
	*outlen = sl + len - skip;
	return 0;
}
