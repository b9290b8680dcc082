/* test_vec.c - VV_GROW: first allocation, doubling, room for exactly one more, the
 * overflow check, and the array left unchanged when it fails. */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/vec.h"

static void test_grow(void **state)
{
	(void)state;
	int *v = NULL;
	size_t n = 0, cap = 0;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(VV_GROW(v, n, cap, 4), 0);
		assert_true(cap > n);
		v[n++] = i;
	}
	assert_int_equal(cap, 1024); /* 4, 8, ..., 1024 */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(v[i], i);
	/* room left: nothing changes */
	int *before = v;
	assert_int_equal(VV_GROW(v, n, cap, 4), 0);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 1024);
	free(v);
}

static void test_overflow(void **state)
{
	(void)state;
	struct big {
		char b[1 << 20];
	} *v = NULL;
	size_t cap = SIZE_MAX / sizeof(*v) / 2 + 1, n = cap;
	vv_err_clear();
	assert_int_equal(VV_GROW(v, n, cap, 1), -ENOMEM);
	assert_non_null(strstr(vv_errmsg(), "out of memory"));
	assert_null(v);
	assert_int_equal(cap, SIZE_MAX / sizeof(*v) / 2 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
