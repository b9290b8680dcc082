/*
 * fuzz_manifest.c - libFuzzer target for what a client reads from a published store's
 * server (outside input): the manifest (ops/manifest.h, vv_manifest_parse) and the
 * HEAD file naming it (store/remote.h, vv_remote_head_parse). The input is fed to both.
 * Beyond "no crash, no read past the end": a refusal is -EINVAL with nothing left in
 * the result; what parses holds valid env names in strictly increasing byte order and
 * formats (when its env files can be written again) to a manifest that parses to the
 * same names and roots and formats to the same bytes; a HEAD that parses is exactly
 * the text vv_remote_head_format writes for its id (lower-case hex, one line).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "ops/manifest.h"
#include "store/remote.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const char *buf, size_t size)
{
	vv_oid id, again;
	int r = vv_remote_head_parse(buf, size, &id);
	vv_err_clear();
	if (r < 0) {
		if (r != -EINVAL)
			abort();
		return;
	}
	if (r != 0 || size != VV_REMOTE_HEAD_SIZE || buf[size - 1] != '\n')
		abort();
	char text[VV_REMOTE_HEAD_SIZE + 1];
	vv_remote_head_format(&id, text);
	/* one spelling: what parses is exactly what the formatter writes */
	if (strlen(text) != VV_REMOTE_HEAD_SIZE || memcmp(text, buf, size) ||
	    vv_remote_head_parse(text, VV_REMOTE_HEAD_SIZE, &again) != 0 ||
	    !vv_oid_eq(&id, &again))
		abort();
}

static void check_manifest(const char *buf, size_t size)
{
	struct vv_manifest m;
	int r = vv_manifest_parse(buf, size, &m);
	if (r < 0) {
		vv_err_clear();
		if ((r != -EINVAL && r != -ENOMEM) || m.n || m.envs)
			abort();
		return;
	}
	if (r != 0 || (m.n && !m.envs))
		abort();
	char **names = calloc(m.n + 1, sizeof(*names));
	struct vv_envcfg *cfgs = calloc(m.n + 1, sizeof(*cfgs));
	if (!names || !cfgs)
		abort();
	for (size_t i = 0; i < m.n; i++) {
		const char *nm = m.envs[i].name;
		if (vv_env_name_check(nm, strlen(nm)) < 0 ||
		    (i && strcmp(m.envs[i - 1].name, nm) >= 0))
			abort();
		names[i] = m.envs[i].name;
		cfgs[i] = m.envs[i].cfg;
	}
	char *text = NULL;
	size_t len = 0;
	r = vv_manifest_format(m.pys, m.npy, names, cfgs, m.n, &text, &len);
	vv_err_clear();
	if (r < 0) {
		/* only an env file the env module reads but will not write (a python path
		 * with a CR, say: fuzz_config's business) may stop the formatter */
		if (r != -EINVAL || text)
			abort();
		bool unwritable = false;
		for (size_t i = 0; i < m.n && !unwritable; i++) {
			char *t = NULL;
			size_t tl = 0;
			unwritable = vv_envcfg_format(&cfgs[i], &t, &tl) < 0;
			free(t);
		}
		vv_err_clear();
		if (!unwritable)
			abort();
	} else {
		struct vv_manifest back;
		if (vv_manifest_parse(text, len, &back) != 0 || back.n != m.n)
			abort();
		for (size_t i = 0; i < m.n; i++)
			if (strcmp(back.envs[i].name, m.envs[i].name) ||
			    !vv_oid_eq(&back.envs[i].cfg.root, &m.envs[i].cfg.root))
				abort();
		/* the text is canonical: formatting what it reads gives the same bytes */
		for (size_t i = 0; i < back.n; i++)
			cfgs[i] = back.envs[i].cfg;
		char *text2 = NULL;
		size_t len2 = 0;
		if (vv_manifest_format(back.pys, back.npy, names, cfgs, back.n, &text2, &len2) != 0 ||
		    len2 != len || memcmp(text, text2, len))
			abort();
		free(text2);
		vv_manifest_release(&back);
		free(text);
	}
	free(names);
	free(cfgs);
	vv_manifest_release(&m);
	if (m.n || m.envs)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the parser's own bound on one env file is 1 MiB; inputs far past it add
	 * nothing but time */
	if (size > (2u << 20))
		return 0;
	const char *buf = (const char *)data;
	check_head(buf, size);
	check_manifest(buf, size);
	return 0;
}
