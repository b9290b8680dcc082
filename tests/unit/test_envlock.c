/*
 * test_envlock.c - per-env writer locks (core/envlock.c): a second holder is refused
 * with a message naming the env and the holder (in this process, and in another one
 * until it dies), release lets the next writer in, a removed lock file is made anew,
 * tools get "no env named" without leaving a lock file, read-only stores can only ask,
 * and prune removes the lock files of names without an env unless they are held.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env/envlock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "store/store.h"

static int has_lockfile(struct vv_store *st, const char *name)
{
	struct stat sb;
	return fstatat(st->lockfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_second_holder_refused(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	assert_true(st->lockfd >= 0);
	int a, b;
	assert_int_equal(vv_envlock_held(st, "web"), 0);
	assert_int_equal(vv_envlock_take(st, "web", &a), 0);
	assert_true(a >= 0);
	assert_int_equal(vv_envlock_held(st, "web"), 1);

	/* the holder's "PID HOST PROGRAM" line */
	char *txt;
	assert_int_equal(vv_read_file_at(st->lockfd, "web", 4096, &txt, NULL), 0);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char want[600];
	snprintf(want, sizeof(want), "%ld %s %s\n", (long)getpid(), host,
		 program_invocation_short_name);
	assert_string_equal(txt, want);
	free(txt);

	/* another open file description (in this very process) is refused, by name */
	assert_int_equal(vv_envlock_take(st, "web", &b), -EBUSY);
	assert_int_equal(b, -1);
	snprintf(want, sizeof(want), "env 'web' is being changed by %s pid %ld on host %s",
		 program_invocation_short_name, (long)getpid(), host);
	assert_non_null(strstr(vv_errmsg(), want));
	assert_non_null(strstr(vv_errmsg(), "try again when it has committed"));

	/* other envs are independent */
	assert_int_equal(vv_envlock_take(st, "other", &b), 0);
	vv_envlock_release(b);

	/* released: the next writer gets it */
	vv_envlock_release(a);
	assert_int_equal(vv_envlock_held(st, "web"), 0);
	assert_int_equal(vv_envlock_take(st, "web", &b), 0);
	vv_envlock_release(b);
	vt_store_free(st);
}

static void test_holder_process_dies(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;
		char c = vv_envlock_take(st, "web", &fd) == 0 ? 'y' : 'n';
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c = 0;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	int fd;
	assert_int_equal(vv_envlock_take(st, "web", &fd), -EBUSY);
	char want[64];
	snprintf(want, sizeof(want), " pid %ld on host ", (long)pid);
	assert_non_null(strstr(vv_errmsg(), want));
	/* kill -9: the kernel drops the lock with the process */
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(vv_envlock_take(st, "web", &fd), 0);
	vv_envlock_release(fd);
	close(pfd[0]);
	close(pfd[1]);
	vt_store_free(st);
}

static void test_lock_file_removed_and_remade(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	int a, b;
	assert_int_equal(vv_envlock_take(st, "gone", &a), 0);
	/* somebody who opened the file before it was removed and locks it afterwards
	 * holds a lock nobody else sees: take must not be fooled by such a file */
	int old = openat(st->lockfd, "gone", O_RDWR | O_CLOEXEC);
	assert_true(old >= 0);
	vv_envlock_drop(st, "gone", a);
	assert_false(has_lockfile(st, "gone"));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	assert_int_equal(fcntl(old, F_OFD_SETLK, &fl), 0); /* the unlinked file */
	/* a new file is made and locked, whatever the unlinked one holds */
	assert_int_equal(vv_envlock_take(st, "gone", &b), 0);
	assert_true(has_lockfile(st, "gone"));
	struct stat s1, s2;
	assert_int_equal(fstat(old, &s1), 0);
	assert_int_equal(fstat(b, &s2), 0);
	assert_true(s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev);
	assert_int_equal(vv_envlock_held(st, "gone"), 1);
	close(old);
	vv_envlock_release(b);

	/* a file replaced under a holder: the holder's lock is on the old one, and the
	 * linked one is what counts */
	assert_int_equal(vv_envlock_take(st, "swap", &a), 0);
	int tmp = openat(st->lockfd, "swap.new", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	assert_true(tmp >= 0);
	close(tmp);
	assert_int_equal(renameat(st->lockfd, "swap.new", st->lockfd, "swap"), 0);
	assert_int_equal(vv_envlock_take(st, "swap", &b), 0);
	vv_envlock_release(b);
	vv_envlock_release(a);
	vt_store_free(st);
}

static void test_take_env_and_prune(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	int fd;
	/* a tool asking for an env that does not exist leaves no lock file behind */
	assert_int_equal(vv_envlock_take_env(st, "nosuch", &fd), -ENOENT);
	assert_string_equal(vv_errmsg(), "no env named 'nosuch'");
	assert_int_equal(fd, -1);
	assert_false(has_lockfile(st, "nosuch"));

	vv_oid root = vt_tree(st, NULL, 0);
	vt_mkenv(st, "kept", root);
	assert_int_equal(vv_envlock_take_env(st, "kept", &fd), 0);
	vv_envlock_release(fd);
	/* lock files of names without an env: one free, one held */
	int held;
	assert_int_equal(vv_envlock_take(st, "free", &fd), 0);
	vv_envlock_release(fd);
	assert_int_equal(vv_envlock_take(st, "busy", &held), 0);
	assert_int_equal(vv_envlock_prune(st), 1);
	assert_true(has_lockfile(st, "kept"));
	assert_false(has_lockfile(st, "free"));
	assert_true(has_lockfile(st, "busy"));
	vv_envlock_release(held);
	assert_int_equal(vv_envlock_prune(st), 1);
	assert_false(has_lockfile(st, "busy"));
	vt_store_free(st);
}

static void test_readonly_store(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	int a, fd;
	assert_int_equal(vv_envlock_take(st, "web", &a), 0);
	struct vv_store *ro;
	assert_int_equal(vv_store_open(&ro, st->path, VV_STORE_READONLY), 0);
	assert_int_equal(vv_envlock_held(ro, "web"), 1);
	assert_int_equal(vv_envlock_held(ro, "other"), 0);
	vv_envlock_release(a);
	assert_int_equal(vv_envlock_held(ro, "web"), 0);
	/* a read-only store never takes one, and makes no lock file */
	assert_int_equal(vv_envlock_take(ro, "new", &fd), -EROFS);
	assert_int_equal(fd, -1);
	assert_false(has_lockfile(st, "new"));
	vv_store_close(ro);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_holder_refused),
		cmocka_unit_test(test_holder_process_dies),
		cmocka_unit_test(test_lock_file_removed_and_remade),
		cmocka_unit_test(test_take_env_and_prune),
		cmocka_unit_test(test_readonly_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
