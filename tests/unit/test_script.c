/* test_script.c - console scripts shown with an env's interpreter (python/script.h):
 * the plain first line and pip's /bin/sh trampoline, with and without a suffix, for
 * env paths that look like the trampoline's own words ("/bin/sh...") or contain a
 * newline; the stored first line read back, and what is not one refused. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "python/script.h"
#include "util/error.h"

static char *show(const char *envpath, const char *stored)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(vv_script_show(envpath, stored, strlen(stored), &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_plain(void **state)
{
	(void)state;
	char *s = show("/home/u/envs/a", "#!python\nimport x\n");
	assert_string_equal(s, "#!/home/u/envs/a/bin/python\nimport x\n");
	free(s);
	s = show("/home/u/envs/a", "#!python3.11\nimport x\n");
	assert_string_equal(s, "#!/home/u/envs/a/bin/python3.11\nimport x\n");
	free(s);
	/* a path that starts like the trampoline, or holds "/bin/python" itself */
	s = show("/bin/shared/env", "#!python3.11\nimport x\n");
	assert_string_equal(s, "#!/bin/shared/env/bin/python3.11\nimport x\n");
	free(s);
	s = show("/srv/bin/python/env", "#!python3\n");
	assert_string_equal(s, "#!/srv/bin/python/env/bin/python3\n");
	free(s);
}

static void test_trampoline(void **state)
{
	(void)state;
	char *s = show("/home/u/my envs/a", "#!python3.11\nimport x\n");
	assert_non_null(strstr(s, "#!/bin/sh\n"));
	assert_non_null(strstr(s, "/home/u/my envs/a/bin/python3.11\" \"$0\" \"$@\"\n"));
	assert_non_null(strstr(s, "\nimport x\n"));
	free(s);
	/* a newline in the path: the trampoline, the suffix after the interpreter */
	s = show("/tmp/a\nb", "#!python3\nimport x\n");
	assert_non_null(strstr(s, "/tmp/a\nb/bin/python3\" \"$0\""));
	free(s);
	char long_path[200];
	memset(long_path, 'x', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = 0;
	s = show(long_path, "#!python3\n");
	assert_true(!strncmp(s, "#!/bin/sh\n", 10));
	assert_non_null(strstr(s, "/bin/python3\" \"$0\""));
	free(s);
}

static void test_head(void **state)
{
	(void)state;
	char sfx[VV_SCRIPT_SFX_MAX + 1];
	size_t skip;
	assert_int_equal(vv_script_head("#!python3.11\nx", 14, sfx, &skip), 0);
	assert_string_equal(sfx, "3.11");
	assert_int_equal(skip, 13);
	assert_int_equal(vv_script_head("#!python\n", 9, sfx, &skip), 0);
	assert_string_equal(sfx, "");
	assert_int_equal(skip, 9);
	assert_int_equal(vv_script_head("#!/usr/bin/python\n", 18, sfx, &skip), -EUCLEAN);
	assert_int_equal(vv_script_head("#!python3", 9, sfx, &skip), -EUCLEAN);
	assert_int_equal(vv_script_head("#!python3x\n", 11, sfx, &skip), -EUCLEAN);
	assert_int_equal(vv_script_head("#!python", 8, sfx, &skip), -EUCLEAN);
	assert_int_equal(vv_script_head("#!python1234567890123456\n", 25, sfx, &skip), -EUCLEAN);
	char *out = NULL;
	size_t len;
	assert_int_equal(vv_script_show("/e", "import x\n", 9, &out, &len), -EUCLEAN);
	assert_null(out);
	vv_err_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_trampoline),
		cmocka_unit_test(test_head),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
