/*
 * test_fsutil.c - dirfd-relative helpers: complete writes, bounded reads, atomic
 * replacement, mkdir -p, rm -rf that never follows symlinks, fd copies, and the
 * trusted-path walk that decides whether the daemon may run an interpreter.
 */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"

static int setup(void **state)
{
	*state = vt_tempdir();
	return 0;
}

static int teardown(void **state)
{
	vt_rmtree(*state);
	return 0;
}

static int opendir_fd(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write_and_read(void **state)
{
	const char *dir = *state;
	int dfd = opendir_fd(dir);
	int fd = openat(dfd, "f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, "hello world", 11), 0);
	assert_int_equal(vv_pwrite_all(fd, "W", 1, 6), 0);
	assert_int_equal(vv_write_all(fd, "", 0), 0);
	close(fd);

	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_read_file_at(dfd, "f", 100, &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_string_equal(buf, "hello World");
	free(buf);
	/* len_out may be NULL; exact limit is fine, one less is -EFBIG. */
	assert_int_equal(vv_read_file_at(dfd, "f", 11, &buf, NULL), 0);
	free(buf);
	buf = NULL;
	assert_int_equal(vv_read_file_at(dfd, "f", 10, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(vv_read_file_at(dfd, "missing", 10, &buf, &len), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "missing"));

	/* Symlinks are not followed. */
	assert_int_equal(symlinkat("f", dfd, "link"), 0);
	assert_int_equal(vv_read_file_at(dfd, "link", 100, &buf, &len), -ELOOP);
	/* Directories are not files. */
	assert_int_equal(mkdirat(dfd, "d", 0755), 0);
	assert_true(vv_read_file_at(dfd, "d", 100, &buf, &len) < 0);
	assert_null(buf);

	/* A FIFO does not block the reader. */
	assert_int_equal(mkfifoat(dfd, "fifo", 0644), 0);
	assert_true(vv_read_file_at(dfd, "fifo", 100, &buf, &len) < 0);
	assert_null(buf);

	/* Empty file. */
	fd = openat(dfd, "e", O_WRONLY | O_CREAT, 0644);
	close(fd);
	assert_int_equal(vv_read_file_at(dfd, "e", 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], 0);
	free(buf);

	assert_true(vv_write_all(-1, "x", 1) < 0);
	assert_true(vv_pwrite_all(-1, "x", 1, 0) < 0);
	close(dfd);
}

static void test_write_atomic(void **state)
{
	const char *dir = *state;
	int dfd = opendir_fd(dir);
	assert_int_equal(vv_write_file_atomic(dfd, "env", "one\n", 4, 0640), 0);
	char *buf;
	size_t len;
	assert_int_equal(vv_read_file_at(dfd, "env", 100, &buf, &len), 0);
	assert_string_equal(buf, "one\n");
	free(buf);
	struct stat s;
	assert_int_equal(fstatat(dfd, "env", &s, 0), 0);
	assert_int_equal(s.st_mode & 07777, 0640);

	/* Replace; a reader holding the old file still sees the old bytes. */
	int old = openat(dfd, "env", O_RDONLY);
	assert_true(old >= 0);
	assert_int_equal(vv_write_file_atomic(dfd, "env", "two two\n", 8, 0644), 0);
	assert_int_equal(vv_read_file_at(dfd, "env", 100, &buf, &len), 0);
	assert_string_equal(buf, "two two\n");
	free(buf);
	char ob[16] = { 0 };
	assert_int_equal(pread(old, ob, sizeof(ob), 0), 4);
	assert_string_equal(ob, "one\n");
	close(old);

	/* Into a subdirectory path; no temp files left behind anywhere. */
	assert_int_equal(mkdirat(dfd, "sub", 0755), 0);
	assert_int_equal(vv_write_file_atomic(dfd, "sub/x", "", 0, 0644), 0);
	assert_int_equal(count_entries(dir), 2);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/sub", dir);
	assert_int_equal(count_entries(p), 1);

	/* Failure: missing directory, and target is a directory (rename fails). The temp
	 * file must be gone afterwards. */
	assert_true(vv_write_file_atomic(dfd, "nodir/x", "a", 1, 0644) < 0);
	assert_int_equal(mkdirat(dfd, "sub/isdir", 0755), 0);
	assert_true(vv_write_file_atomic(dfd, "sub/isdir", "a", 1, 0644) < 0);
	assert_non_null(strstr(vv_errmsg(), "sub/isdir"));
	assert_int_equal(count_entries(p), 2);
	assert_int_equal(count_entries(dir), 2);

	/* A long name still gets a valid temp name. */
	char longname[256];
	memset(longname, 'n', 255);
	longname[255] = 0;
	assert_int_equal(vv_write_file_atomic(dfd, longname, "z", 1, 0644), 0);
	assert_int_equal(count_entries(dir), 3);
	close(dfd);
}

static void test_mkdir_p(void **state)
{
	const char *dir = *state;
	int dfd = opendir_fd(dir);
	assert_int_equal(vv_mkdir_p_at(dfd, "a/b/c", 0755), 0);
	assert_int_equal(vv_mkdir_p_at(dfd, "a/b/c", 0755), 0);
	assert_int_equal(vv_mkdir_p_at(dfd, "a//b/d/", 0700), 0);
	struct stat s;
	assert_int_equal(fstatat(dfd, "a/b/d", &s, 0), 0);
	assert_true(S_ISDIR(s.st_mode));
	assert_int_equal(vv_fsync_dir_at(dfd, "a/b"), 0);
	assert_int_equal(vv_fsync_dir_at(dfd, "."), 0);
	assert_true(vv_fsync_dir_at(dfd, "nope") < 0);

	int fd = openat(dfd, "a/file", O_WRONLY | O_CREAT, 0644);
	close(fd);
	assert_int_equal(vv_mkdir_p_at(dfd, "a/file", 0755), -ENOTDIR);
	assert_int_equal(vv_mkdir_p_at(dfd, "a/file/x", 0755), -ENOTDIR);
	assert_non_null(strstr(vv_errmsg(), "a/file"));
	assert_int_equal(vv_mkdir_p_at(dfd, "", 0755), -EINVAL);

	/* Absolute paths with AT_FDCWD. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/abs/x/y", dir);
	assert_int_equal(vv_mkdir_p_at(AT_FDCWD, p, 0755), 0);
	assert_int_equal(stat(p, &s), 0);
	close(dfd);
}

static void test_rm_rf(void **state)
{
	const char *dir = *state;
	int dfd = opendir_fd(dir);
	/* Something outside the tree that a symlink points at: must survive. */
	assert_int_equal(vv_mkdir_p_at(dfd, "keep/inner", 0755), 0);
	int fd = openat(dfd, "keep/inner/precious", O_WRONLY | O_CREAT, 0644);
	close(fd);

	assert_int_equal(vv_mkdir_p_at(dfd, "t/a/b/c", 0755), 0);
	fd = openat(dfd, "t/a/b/c/f", O_WRONLY | O_CREAT, 0444);
	close(fd);
	fd = openat(dfd, "t/top", O_WRONLY | O_CREAT, 0644);
	close(fd);
	char target[PATH_MAX];
	snprintf(target, sizeof(target), "%s/keep", dir);
	assert_int_equal(symlinkat(target, dfd, "t/a/link-to-keep"), 0);
	assert_int_equal(symlinkat("../../keep/inner", dfd, "t/a/rel-link"), 0);
	assert_int_equal(mkdirat(dfd, "t/a/ro", 0755), 0);
	fd = openat(dfd, "t/a/ro/f", O_WRONLY | O_CREAT, 0644);
	close(fd);
	assert_int_equal(fchmodat(dfd, "t/a/ro", 0555, 0), 0);

	assert_int_equal(vv_rm_rf_at(dfd, "t"), 0);
	struct stat s;
	assert_int_equal(fstatat(dfd, "t", &s, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fstatat(dfd, "keep/inner/precious", &s, 0), 0);

	/* Missing is fine; a symlink itself is removed, not its target. */
	assert_int_equal(vv_rm_rf_at(dfd, "t"), 0);
	assert_int_equal(symlinkat("keep", dfd, "l"), 0);
	assert_int_equal(vv_rm_rf_at(dfd, "l"), 0);
	assert_int_equal(fstatat(dfd, "l", &s, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(fstatat(dfd, "keep/inner/precious", &s, 0), 0);
	/* A plain file. */
	fd = openat(dfd, "plain", O_WRONLY | O_CREAT, 0644);
	close(fd);
	assert_int_equal(vv_rm_rf_at(dfd, "plain"), 0);
	assert_int_equal(fstatat(dfd, "plain", &s, AT_SYMLINK_NOFOLLOW), -1);
	close(dfd);
}

static void test_copy_fd(void **state)
{
	const char *dir = *state;
	int dfd = opendir_fd(dir);
	size_t n = 3 * 1024 * 1024 + 17;
	char *data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i ^ (i >> 9));
	int src = openat(dfd, "src", O_RDWR | O_CREAT, 0644);
	assert_true(src >= 0);
	assert_int_equal(vv_write_all(src, data, n), 0);
	/* dst longer than src: the result is still an exact copy. */
	int dst = openat(dfd, "dst", O_RDWR | O_CREAT, 0644);
	assert_true(dst >= 0);
	char *junk = calloc(1, n + 5000);
	assert_int_equal(vv_write_all(dst, junk, n + 5000), 0);
	free(junk);
	assert_int_equal(vv_copy_fd(src, dst), 0);
	close(dst);
	char *got;
	size_t len;
	assert_int_equal(vv_read_file_at(dfd, "dst", n + 10000, &got, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	free(got);

	/* copy_file_range refuses an O_APPEND destination (EBADF), so this takes the
	 * read/write fallback. */
	int dst2 = openat(dfd, "dst2", O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(dst2 >= 0);
	assert_int_equal(vv_copy_fd(src, dst2), 0);
	close(dst2);
	assert_int_equal(vv_read_file_at(dfd, "dst2", n + 10, &got, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	free(got);

	/* Empty source. */
	int e = openat(dfd, "empty", O_RDWR | O_CREAT, 0644);
	int d3 = openat(dfd, "dst3", O_RDWR | O_CREAT, 0644);
	assert_int_equal(vv_copy_fd(e, d3), 0);
	struct stat s;
	assert_int_equal(fstat(d3, &s), 0);
	assert_int_equal(s.st_size, 0);
	close(e);
	close(d3);
	assert_true(vv_copy_fd(-1, src) < 0);
	close(src);
	free(data);
	close(dfd);
}

static void expect_untrusted(const char *path, uid_t uid, const char *avoid, int code,
			     const char *why)
{
	char real[PATH_MAX] = "";
	vv_err_clear();
	int r = vv_path_trusted(path, uid, avoid, real);
	if (r != code)
		fail_msg("'%s': %d (%s), expected %d", path, r, vv_errmsg(), code);
	if (!strstr(vv_errmsg(), why))
		fail_msg("'%s': message '%s' lacks '%s'", path, vv_errmsg(), why);
}

/* vv_path_trusted: owners, write bits, sticky directories, links, "..", the mount. */
static void test_path_trusted(void **state)
{
	const char *dir = *state;
	uid_t me = getuid(), other = me == 4242 ? 4243 : 4242;
	char sub[PATH_MAX], py[PATH_MAX + 16], real[PATH_MAX], p[PATH_MAX + 64];
	snprintf(sub, sizeof(sub), "%s/bin", dir);
	snprintf(py, sizeof(py), "%s/python", sub);
	assert_int_equal(mkdir(sub, 0755), 0);
	vt_write_file(py, "#!/bin/sh\n", 10);
	assert_int_equal(chmod(py, 0755), 0);
	assert_int_equal(chmod(dir, 0755), 0);

	/* the temp dir is ours (and /tmp sticky): trusted, resolved as given */
	assert_int_equal(vv_path_trusted(py, me, NULL, real), 0);
	assert_string_equal(real, py);
	/* "." and ".." resolve like realpath */
	snprintf(p, sizeof(p), "%s/./bin/../bin//python", dir);
	assert_int_equal(vv_path_trusted(p, me, NULL, real), 0);
	assert_string_equal(real, py);
	/* a link we own is followed, relative or absolute */
	snprintf(p, sizeof(p), "%s/rel", dir);
	assert_int_equal(symlink("bin/python", p), 0);
	assert_int_equal(vv_path_trusted(p, me, NULL, real), 0);
	assert_string_equal(real, py);
	snprintf(p, sizeof(p), "%s/abs", dir);
	assert_int_equal(symlink(py, p), 0);
	assert_int_equal(vv_path_trusted(p, me, NULL, real), 0);
	assert_string_equal(real, py);

	/* refused: relative paths, missing files, directories, the caller's mount */
	expect_untrusted("bin/python", me, NULL, -EPERM, "not an absolute path");
	snprintf(p, sizeof(p), "%s/none", sub);
	expect_untrusted(p, me, NULL, -ENOENT, "/none");
	expect_untrusted(sub, me, NULL, -EPERM, "not a regular file");
	expect_untrusted(py, me, sub, -EPERM, "leads into the mount");

	/* write bits: the file, its directory, a group (not root's) */
	assert_int_equal(chmod(py, 0777), 0);
	expect_untrusted(py, me, NULL, -EPERM, "writable by every user");
	assert_int_equal(chmod(py, 0755), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	expect_untrusted(py, me, NULL, -EPERM, "/bin' is writable by every user");
	/* ... unless the directory is sticky, like /tmp */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_int_equal(vv_path_trusted(py, me, NULL, NULL), 0);
	assert_int_equal(chmod(sub, 0755), 0);

	if (me == 0) {
		/* root can hand files to others: owners are checked too */
		assert_int_equal(chown(py, other, 0), 0);
		expect_untrusted(py, 0, NULL, -EPERM, "belongs to uid");
		assert_int_equal(vv_path_trusted(py, other, NULL, NULL), 0); /* uid's own */
		assert_int_equal(chown(py, 0, 4242), 0);
		assert_int_equal(chmod(py, 0775), 0);
		expect_untrusted(py, 0, NULL, -EPERM, "writable by its group");
		assert_int_equal(chown(py, 0, 0), 0);
		assert_int_equal(vv_path_trusted(py, 0, NULL, NULL), 0); /* root's group */
		assert_int_equal(chmod(py, 0755), 0);
		/* a link somebody else owns is not followed */
		snprintf(p, sizeof(p), "%s/abs", dir);
		assert_int_equal(lchown(p, other, other), 0);
		expect_untrusted(p, 0, NULL, -EPERM, "symbolic link");
		/* nor a directory of theirs on the way */
		assert_int_equal(chown(sub, other, other), 0);
		expect_untrusted(py, 0, NULL, -EPERM, "the directory");
		assert_int_equal(chown(sub, 0, 0), 0);
	}
}

static void test_base_name(void **state)
{
	(void)state;
	assert_string_equal(vv_base_name("/a/b/x-1.0-py3-none-any.whl"), "x-1.0-py3-none-any.whl");
	assert_string_equal(vv_base_name("x.whl"), "x.whl");
	assert_string_equal(vv_base_name("/x"), "x");
	assert_string_equal(vv_base_name("dir/"), "dir/"); /* ends in '/': all of it */
	assert_string_equal(vv_base_name("/"), "/");
	assert_string_equal(vv_base_name(""), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_rf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_trusted, setup, teardown),
		cmocka_unit_test(test_base_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
