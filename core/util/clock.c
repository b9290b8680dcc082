/*
 * clock.c - nanosecond timestamps (clock.h).
 */
#include "util/clock.h"

#include <time.h>

static int64_t ns_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * VV_NS_PER_S + ts.tv_nsec;
}

int64_t vv_now_ns(void)
{
	return ns_of(CLOCK_REALTIME);
}

int64_t vv_mono_ns(void)
{
	return ns_of(CLOCK_MONOTONIC);
}
