/*
 * fuzz_config.c - libFuzzer target for the INI parsers: venvfs.ini (vv_config_parse)
 * and env files (vv_envcfg_parse). Besides not crashing, an env file that parses and
 * can be formatted again must read back to the same values, the pyvenv.cfg lines kept
 * for tools ([pyvenv.cfg], escaped and continued) included.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "env/env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_die(const struct vv_envcfg *a, const struct vv_envcfg *b)
{
	if (strcmp(a->python, b->python) || !vv_oid_eq(&a->root, &b->root) ||
	    a->system_site != b->system_site || !a->prompt != !b->prompt ||
	    (a->prompt && strcmp(a->prompt, b->prompt)) || a->no_command != b->no_command ||
	    !a->pykeys != !b->pykeys || (a->pykeys && strcmp(a->pykeys, b->pykeys)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	struct vv_config cfg = { 0 };
	vv_config_parse(&cfg, text, "fuzz.ini");
	vv_config_release(&cfg);

	struct vv_envcfg env, again;
	if (vv_envcfg_parse((const char *)data, size, "fuzz", &env) == 0) {
		char *out;
		size_t len;
		if (vv_envcfg_format(&env, &out, &len) == 0) {
			if (vv_envcfg_parse(out, len, "fuzz", &again) != 0)
				abort();
			same_or_die(&env, &again);
			vv_envcfg_release(&again);
			free(out);
		}
		vv_envcfg_release(&env);
	}
	free(text);
	return 0;
}
