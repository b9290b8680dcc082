/*
 * warm.c - keep the CPUs out of their idle state while the mount is busy, so that a
 * FUSE round trip does not pay for waking a halted CPU twice (docs/design.md "Warm
 * CPUs").
 *
 * A request wakes a daemon thread and its reply wakes the process that waits for it.
 * On a virtual machine each wake-up of a CPU that has gone idle costs tens of
 * microseconds (the vCPU halted; waking it is an exit to the hypervisor), several
 * times the work of the request: an import sends thousands of requests one after
 * another, so this is most of the gap to a local filesystem. A CPU that is running
 * something is woken by a cheap reschedule instead.
 *
 * So the daemon runs one thread per CPU it may use, pinned there at SCHED_IDLE: the
 * scheduler runs it only when nothing else wants that CPU, and preempts it at once
 * when anything does. While requests keep coming, these threads spin (with the CPU's
 * pause hint) instead of letting the CPU halt; once no request has come for the
 * window (-o warm=MICROSECONDS), they sleep on a futex until the next one. Every
 * request bumps a counter (vv_fs_warm_touch, one atomic add; one futex wake only for
 * the first request after a quiet window), so an idle mount burns no CPU, and a busy
 * one burns only time that nothing else wanted (the threads are named "venvfs-warm",
 * so their CPU time can be told from the daemon's work).
 *
 * Off by default: on the paravirtualised 2-vCPU host the benchmark runs on, spinning
 * vCPUs slow the ones doing the work (the host shares its CPUs between them), so the
 * import got slower with it (docs/benchmarks.md). -o warm=US turns it on where a spinning
 * vCPU is really free.
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

#define WARM_MAX_THREADS 256

static _Atomic uint32_t gen;     /* bumped by every request */
static _Atomic int asleep;       /* threads waiting on gen */
static _Atomic bool stopping;
static int64_t window_ns;
static pthread_t threads[WARM_MAX_THREADS];
static int cpus[WARM_MAX_THREADS];
static int nthreads;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void vv_fs_warm_touch(void)
{
	if (!nthreads)
		return;
	atomic_fetch_add(&gen, 1);
	if (atomic_load(&asleep))
		syscall(SYS_futex, &gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void *warm_thread(void *arg)
{
	int cpu = *(int *)arg;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_setname_np(pthread_self(), "venvfs-warm");
	struct sched_param sp = { 0 };
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);

	uint32_t seen = atomic_load(&gen);
	int64_t last = now_ns();
	while (!atomic_load(&stopping)) {
		for (int i = 0; i < 64; i++)
			relax();
		uint32_t g = atomic_load(&gen);
		int64_t t = now_ns();
		if (g != seen) {
			seen = g;
			last = t;
			continue;
		}
		if (t - last < window_ns)
			continue;
		/* quiet for the window: sleep until the next request */
		atomic_fetch_add(&asleep, 1);
		if (atomic_load(&gen) == seen && !atomic_load(&stopping))
			syscall(SYS_futex, &gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
		atomic_fetch_sub(&asleep, 1);
		seen = atomic_load(&gen);
		last = now_ns();
	}
	return NULL;
}

int vv_fs_warm_start(int64_t window_us)
{
	if (window_us <= 0)
		return 0;
	window_ns = window_us * 1000;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return vv_err_sys(-errno, "cannot read the CPUs this process may use");
	for (int c = 0; c < CPU_SETSIZE && nthreads < WARM_MAX_THREADS; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		cpus[nthreads] = c;
		if (pthread_create(&threads[nthreads], NULL, warm_thread, &cpus[nthreads]) != 0)
			break; /* fewer warm CPUs: still correct */
		nthreads++;
	}
	return 0;
}

void vv_fs_warm_stop(void)
{
	if (!nthreads)
		return;
	atomic_store(&stopping, true);
	atomic_fetch_add(&gen, 1);
	syscall(SYS_futex, &gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
}
