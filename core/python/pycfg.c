/*
 * pycfg.c - reading pyvenv.cfg the way CPython does (site.py, getpath: split each line
 * at the first '=', strip both sides, keys case-insensitive), and which of its keys are
 * venvfs's own: those it computes from the env's state on every read. Every other line
 * a tool writes is kept for it (env/pykeys.h) and shown after the generated ones.
 */
#include "python/synth.h"

#include <string.h>
#include <strings.h>

int vv_pycfg_next(const char **p, const char *end, const char **key, size_t *klen,
		  const char **val, size_t *vlen)
{
	while (*p < end) {
		const char *nl = memchr(*p, '\n', (size_t)(end - *p));
		const char *le = nl ? nl : end;
		const char *eq = memchr(*p, '=', (size_t)(le - *p));
		const char *ks = *p, *ke = eq, *vs = eq ? eq + 1 : NULL, *ve = le;
		*p = nl ? nl + 1 : end;
		if (!eq)
			continue;
		while (ks < ke && (*ks == ' ' || *ks == '\t'))
			ks++;
		while (ke > ks && (ke[-1] == ' ' || ke[-1] == '\t'))
			ke--;
		while (vs < ve && (*vs == ' ' || *vs == '\t'))
			vs++;
		while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
			ve--;
		*key = ks;
		*klen = (size_t)(ke - ks);
		*val = vs;
		*vlen = (size_t)(ve - vs);
		return 1;
	}
	return 0;
}

bool vv_pycfg_owned(const char *key, size_t klen)
{
	static const char *const owned[] = { "home", "executable", "version",
					     "include-system-site-packages", "prompt" };
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (klen == strlen(owned[i]) && !strncasecmp(key, owned[i], klen))
			return true;
	return false;
}

bool vv_pycfg_kept_has(const char *pykeys, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = pykeys; p && *p;) {
		const char *nl = strchr(p, '\n');
		if (!strncasecmp(p, key, kl) && !strncmp(p + kl, " = ", 3))
			return true;
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}
