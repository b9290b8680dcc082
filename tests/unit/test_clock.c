/* test_clock.c - vv_now_ns is the wall clock in nanoseconds; vv_mono_ns never goes
 * back and measures a sleep. */
#include "testutil.h"

#include <time.h>
#include <unistd.h>

#include "util/clock.h"

static void test_clock(void **state)
{
	(void)state;
	int64_t t = (int64_t)time(NULL), now = vv_now_ns();
	assert_true(now / VV_NS_PER_S >= t - 1 && now / VV_NS_PER_S <= t + 1);
	int64_t a = vv_mono_ns();
	usleep(20 * 1000);
	int64_t b = vv_mono_ns();
	assert_true(b - a >= 20 * 1000 * 1000);
	assert_true(b - a < 5 * VV_NS_PER_S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
