/*
 * clock.c - nanosecond timestamps and the boot id (clock.h).
 */
#include "util/clock.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static char boot_id[VV_BOOT_ID_LEN + 1];
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void read_boot_id(void)
{
	char buf[VV_BOOT_ID_LEN + 2];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < VV_BOOT_ID_LEN)
		return;
	for (size_t i = 0; i < VV_BOOT_ID_LEN; i++) {
		char c = buf[i];
		bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
		if (!ok)
			return;
	}
	memcpy(boot_id, buf, VV_BOOT_ID_LEN);
	boot_id[VV_BOOT_ID_LEN] = 0;
}

const char *vv_boot_id(void)
{
	pthread_once(&boot_once, read_boot_id);
	return boot_id;
}
