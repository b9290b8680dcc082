/*
 * count.c - count FUSE requests by kind, for the benchmark: how many requests a
 * workload sends is the figure that shows a caching regression, long before seconds do.
 *
 * Off unless the daemon starts with VENVFS_COUNT_FILE=PATH in its environment; then
 * the session runs a copy of vv_fs_ops whose handlers bump an atomic counter first,
 * (the same wrappers tell warm.c of each request when it runs),
 * and the counts, with a histogram of the time spent in handlers ("handler_ns"), are
 * written to PATH as one JSON object (temp file + rename) whenever
 * the daemon gets SIGUSR1 and once more at exit. Requests libfuse answers itself (an
 * operation we do not implement, INIT, INTERRUPT) are not seen. A handler added to
 * vv_fs_ops without a wrapper here still works, uncounted.
 */
#include "fs.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"

/* X(name, parameters, arguments) for every counted operation. */
#define VV_COUNTED_OPS(X)                                                                   \
	X(lookup, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))                   \
	X(forget, (fuse_req_t r, fuse_ino_t i, uint64_t n), (r, i, n))                      \
	X(forget_multi, (fuse_req_t r, size_t c, struct fuse_forget_data *f), (r, c, f))    \
	X(getattr, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))       \
	X(setattr, (fuse_req_t r, fuse_ino_t i, struct stat *a, int s,                      \
		    struct fuse_file_info *f), (r, i, a, s, f))                               \
	X(readlink, (fuse_req_t r, fuse_ino_t i), (r, i))                                   \
	X(mknod, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, dev_t d),            \
	  (r, p, n, m, d))                                                                  \
	X(mkdir, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m), (r, p, n, m))       \
	X(unlink, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))                   \
	X(rmdir, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))                    \
	X(symlink, (fuse_req_t r, const char *l, fuse_ino_t p, const char *n), (r, l, p, n)) \
	X(rename, (fuse_req_t r, fuse_ino_t p, const char *n, fuse_ino_t np,                \
		   const char *nn, unsigned int f), (r, p, n, np, nn, f))                     \
	X(link, (fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char *nn), (r, i, np, nn)) \
	X(open, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))          \
	X(create, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m,                     \
		   struct fuse_file_info *f), (r, p, n, m, f))                                \
	X(read, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *f),  \
	  (r, i, s, o, f))                                                                  \
	X(write, (fuse_req_t r, fuse_ino_t i, const char *b, size_t s, off_t o,             \
		  struct fuse_file_info *f), (r, i, b, s, o, f))                              \
	X(flush, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))         \
	X(release, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))       \
	X(fsync, (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *f), (r, i, d, f)) \
	X(opendir, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))       \
	X(readdir, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *f), \
	  (r, i, s, o, f))                                                                  \
	X(readdirplus, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o,                      \
			struct fuse_file_info *f), (r, i, s, o, f))                           \
	X(releasedir, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *f), (r, i, f))    \
	X(fsyncdir, (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *f),          \
	  (r, i, d, f))                                                                     \
	X(fallocate, (fuse_req_t r, fuse_ino_t i, int m, off_t o, off_t l,                  \
		      struct fuse_file_info *f), (r, i, m, o, l, f))                          \
	X(statfs, (fuse_req_t r, fuse_ino_t i), (r, i))                                     \
	X(ioctl, (fuse_req_t r, fuse_ino_t i, unsigned int c, void *a,                      \
		  struct fuse_file_info *f, unsigned fl, const void *ib, size_t is,           \
		  size_t os), (r, i, c, a, f, fl, ib, is, os))

enum {
#define X(name, params, args) OP_##name,
	VV_COUNTED_OPS(X)
#undef X
	OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
#define X(name, params, args) #name,
	VV_COUNTED_OPS(X)
#undef X
};

static _Atomic uint64_t counts[OP_COUNT];
static const char *count_path;

/* Time in a handler, as a histogram: 8 buckets per power of two of nanoseconds, so a
 * percentile read from it is within 9 % of the true one. */
#define LAT_SUB 3
#define LAT_BUCKETS (64 << LAT_SUB)
static _Atomic uint64_t lat[LAT_BUCKETS];

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void lat_add(int64_t ns)
{
	uint64_t v = ns > 0 ? (uint64_t)ns : 1;
	int log = 63 - __builtin_clzll(v);
	unsigned sub = log >= LAT_SUB ? (unsigned)(v >> (log - LAT_SUB)) & ((1u << LAT_SUB) - 1)
				      : (unsigned)(v << (LAT_SUB - log)) & ((1u << LAT_SUB) - 1);
	atomic_fetch_add_explicit(&lat[(log << LAT_SUB) | sub], 1, memory_order_relaxed);
}

/* The upper bound of bucket b in nanoseconds. */
static double lat_bound(int b)
{
	int log = b >> LAT_SUB, sub = b & ((1 << LAT_SUB) - 1);
	return ldexp(1.0 + (sub + 1) / (double)(1 << LAT_SUB), log);
}

#define X(name, params, args)                                                              \
	static void counted_##name params                                                  \
	{                                                                                  \
		vv_fs_warm_touch();                                                        \
		if (!count_path) {                                                         \
			vv_fs_ops.name args;                                               \
			return;                                                            \
		}                                                                          \
		atomic_fetch_add_explicit(&counts[OP_##name], 1, memory_order_relaxed);    \
		int64_t t0 = mono_ns();                                                    \
		vv_fs_ops.name args;                                                       \
		lat_add(mono_ns() - t0);                                                   \
	}
VV_COUNTED_OPS(X)
#undef X

static struct fuse_lowlevel_ops counted_ops;

void vv_fs_count_write(void)
{
	if (!count_path)
		return;
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", count_path) >= (int)sizeof(tmp))
		return;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fputc('{', f);
	for (int i = 0; i < OP_COUNT; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", op_names[i],
			(unsigned long long)atomic_load(&counts[i]));
	/* "handler_ns": the histogram as [upper bound, count] pairs, non-empty buckets */
	fputs(", \"handler_ns\": [", f);
	for (int b = 0, first = 1; b < LAT_BUCKETS; b++) {
		uint64_t n = atomic_load(&lat[b]);
		if (!n)
			continue;
		fprintf(f, "%s[%.0f, %llu]", first ? "" : ", ", lat_bound(b),
			(unsigned long long)n);
		first = 0;
	}
	fputs("]}\n", f);
	if (fclose(f) == 0)
		rename(tmp, count_path);
	else
		unlink(tmp);
}

static void *count_thread(void *arg)
{
	sigset_t *set = arg;
	for (;;) {
		int sig;
		if (sigwait(set, &sig) == 0 && sig == SIGUSR1)
			vv_fs_count_write();
	}
	return NULL;
}

const struct fuse_lowlevel_ops *vv_fs_count_ops(bool warm)
{
	count_path = getenv("VENVFS_COUNT_FILE");
	if (count_path && !*count_path)
		count_path = NULL;
	if (!count_path && !warm)
		return &vv_fs_ops;
	counted_ops = vv_fs_ops;
#define X(name, params, args)                                                              \
	if (counted_ops.name)                                                              \
		counted_ops.name = counted_##name;
	VV_COUNTED_OPS(X)
#undef X
	return &counted_ops;
}

int vv_fs_count_start(void)
{
	static sigset_t set;
	pthread_t t;
	if (!count_path)
		return 0;
	/* Every thread made after this one inherits the blocked SIGUSR1; only
	 * count_thread takes it. Called before the worker and the loop's threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    pthread_create(&t, NULL, count_thread, &set) != 0)
		return vv_err(-EAGAIN, "cannot start the request counter");
	pthread_detach(t);
	vv_fs_count_write();
	return 0;
}
