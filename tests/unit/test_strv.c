/*
 * test_strv.c - string arrays: freeing a filled array (with a hole), an empty one and
 * NULL (a leak checker run over the tests sees the first freed whole).
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "util/strv.h"

static void test_free_filled(void **state)
{
	(void)state;
	char **v = calloc(3, sizeof(*v));
	assert_non_null(v);
	v[0] = strdup("a");
	v[1] = NULL; /* a hole is fine */
	v[2] = strdup("c");
	assert_non_null(v[0]);
	assert_non_null(v[2]);
	vv_strv_free(v, 3);
}

static void test_free_empty_and_null(void **state)
{
	(void)state;
	vv_strv_free(NULL, 0);
	vv_strv_free(NULL, 5); /* n is not looked at without an array */
	vv_strv_free(malloc(1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_filled),
		cmocka_unit_test(test_free_empty_and_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
