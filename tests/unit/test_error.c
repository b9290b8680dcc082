/*
 * test_error.c - the error convention: codes pass through, messages are formatted,
 * prefixed and kept per thread.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"

static void test_err_returns_code(void **state)
{
	(void)state;
	vv_err_clear();
	assert_int_equal(vv_err(-EINVAL, "bad env name '%s'", "x y"), -EINVAL);
	assert_string_equal(vv_errmsg(), "bad env name 'x y'");
}

static void test_err_sys_appends_strerror(void **state)
{
	(void)state;
	assert_int_equal(vv_err_sys(-ENOENT, "cannot open '%s'", "/nope"), -ENOENT);
	char want[256];
	snprintf(want, sizeof(want), "cannot open '/nope': %s", strerror(ENOENT));
	assert_string_equal(vv_errmsg(), want);
}

static void test_prefix(void **state)
{
	(void)state;
	vv_err(-EUCLEAN, "bad tree");
	assert_int_equal(vv_err_prefix(-EUCLEAN, "loading env '%s'", "a"), -EUCLEAN);
	assert_string_equal(vv_errmsg(), "loading env 'a': bad tree");
}

static void test_prefix_without_message(void **state)
{
	(void)state;
	vv_err_clear();
	vv_err_prefix(-ENOMEM, "ctx");
	char want[256];
	snprintf(want, sizeof(want), "ctx: %s", strerror(ENOMEM));
	assert_string_equal(vv_errmsg(), want);
}

static void test_clear(void **state)
{
	(void)state;
	vv_err(-EIO, "something");
	vv_err_clear();
	assert_non_null(vv_errmsg());
	assert_string_equal(vv_errmsg(), "no error");
}

static void test_long_message_truncated(void **state)
{
	(void)state;
	char big[4000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(vv_err(-EINVAL, "%s", big), -EINVAL);
	size_t n = strlen(vv_errmsg());
	assert_true(n > 100 && n < sizeof(big));
}

static void *thread_fn(void *arg)
{
	(void)arg;
	vv_err(-EPERM, "from thread");
	return strcmp(vv_errmsg(), "from thread") == 0 ? (void *)1 : NULL;
}

static void test_thread_local(void **state)
{
	(void)state;
	vv_err(-EINVAL, "from main");
	pthread_t t;
	void *res = NULL;
	assert_int_equal(pthread_create(&t, NULL, thread_fn, NULL), 0);
	assert_int_equal(pthread_join(t, &res), 0);
	assert_non_null(res);
	assert_string_equal(vv_errmsg(), "from main");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_returns_code),
		cmocka_unit_test(test_err_sys_appends_strerror),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefix_without_message),
		cmocka_unit_test(test_clear),
		cmocka_unit_test(test_long_message_truncated),
		cmocka_unit_test(test_thread_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
