/*
 * test_store.c - the object store: layout, publishing, dedup, read-back verification,
 * corruption detection, bad store paths and crash leftovers in tmp/.
 */
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "store/store.h"

static size_t count_objects(struct vv_store *st)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/objects", st->path);
	return vt_count_files(p);
}

static void obj_fullpath(struct vv_store *st, const vv_oid *oid, char *out, size_t sz)
{
	char rel[8 + VV_OID_HEX + 2];
	vv_odb_obj_path(oid, rel);
	snprintf(out, sz, "%s/%s", st->path, rel);
}

static void test_layout(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	assert_true(st->path[0] == '/');
	const char *subs[] = { "objects", "envs", "journal", "pythons", "tmp" };
	for (size_t i = 0; i < 5; i++) {
		char p[PATH_MAX];
		struct stat s;
		snprintf(p, sizeof(p), "%s/%s", st->path, subs[i]);
		assert_int_equal(stat(p, &s), 0);
		assert_true(S_ISDIR(s.st_mode));
		assert_int_equal(s.st_mode & 07777, 0755);
	}
	assert_true(st->objfd >= 0 && st->envfd >= 0 && st->journalfd >= 0 &&
		    st->pythonfd >= 0 && st->tmpfd >= 0 && st->dirfd >= 0);
	assert_non_null(st->trees);
	/* Reopening an existing store without create works. */
	struct vv_store *again = NULL;
	assert_int_equal(vv_store_open(&again, st->path, 0), 0);
	assert_string_equal(again->path, st->path);
	vv_store_close(again);
	vt_store_free(st);
}

static void test_obj_path(void **state)
{
	(void)state;
	vv_oid o;
	char buf[8 + VV_OID_HEX + 2];
	vv_hash_buf("", 0, &o);
	vv_odb_obj_path(&o, buf);
	assert_string_equal(buf, "objects/e3/b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
				 "7852b855");
}

static void test_put_buf_dedup(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid a, b, want;
	vv_hash_buf("hello\n", 6, &want);
	assert_int_equal(vv_odb_put_buf(&st->odb, "hello\n", 6, &a), 0);
	assert_true(vv_oid_eq(&a, &want));
	assert_int_equal(vv_odb_put_buf(&st->odb, "hello\n", 6, &b), 0);
	assert_true(vv_oid_eq(&a, &b));
	assert_int_equal(count_objects(st), 1);
	assert_int_equal(vv_odb_has(&st->odb, &a), 1);

	char p[PATH_MAX];
	obj_fullpath(st, &a, p, sizeof(p));
	struct stat s;
	assert_int_equal(lstat(p, &s), 0);
	assert_true(S_ISREG(s.st_mode));
	assert_int_equal(s.st_mode & 07777, 0444);
	assert_int_equal(s.st_size, 6);
	assert_int_equal(s.st_nlink, 1);

	/* Empty object. */
	assert_int_equal(vv_odb_put_buf(&st->odb, "", 0, &b), 0);
	vv_hash_buf("", 0, &want);
	assert_true(vv_oid_eq(&b, &want));
	assert_int_equal(count_objects(st), 2);
	/* Nothing left behind in tmp/. */
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s/tmp", st->path);
	assert_int_equal(vt_count_files(t), 0);
	vt_store_free(st);
}

/* The store remembers which fan-out directories it made; one removed behind its back
 * (by hand, or by another tool) is made again, and dedup still finds objects that
 * another store handle published. */
static void test_fanout_remade(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid a, b;
	assert_int_equal(vv_odb_put_buf(&st->odb, "fan\n", 4, &a), 0);
	char p[PATH_MAX], dir[PATH_MAX];
	obj_fullpath(st, &a, p, sizeof(p));
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = 0;
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(vv_odb_put_buf(&st->odb, "fan\n", 4, &b), 0);
	assert_true(vv_oid_eq(&a, &b));
	char *got = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(&st->odb, &a, 100, &got, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(got, "fan\n", 4);
	free(got);

	/* another handle on the same store: its publish is a dedup here */
	struct vv_store *other = NULL;
	assert_int_equal(vv_store_open(&other, st->path, 0), 0);
	assert_int_equal(vv_odb_put_buf(&other->odb, "other\n", 6, &b), 0);
	vv_store_close(other);
	assert_int_equal(vv_odb_put_buf(&st->odb, "other\n", 6, &a), 0);
	assert_true(vv_oid_eq(&a, &b));
	assert_int_equal(count_objects(st), 2);
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s/tmp", st->path);
	assert_int_equal(vt_count_files(t), 0);
	vt_store_free(st);
}

static void test_put_fd_and_read(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char *dir = vt_tempdir();
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/src", dir);
	size_t n = 700000;
	char *data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 7 + i / 251);
	vt_write_file(p, data, n);
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	vv_oid o, want, b;
	uint64_t size = 0;
	assert_int_equal(vv_odb_put_fd(&st->odb, fd, &o, &size), 0);
	assert_int_equal(size, n);
	vv_hash_buf(data, n, &want);
	assert_true(vv_oid_eq(&o, &want));
	/* Same bytes via put_buf and put_fd again: still one object. */
	assert_int_equal(vv_odb_put_buf(&st->odb, data, n, &b), 0);
	assert_true(vv_oid_eq(&o, &b));
	assert_int_equal(vv_odb_put_fd(&st->odb, fd, &b, NULL), 0);
	assert_int_equal(count_objects(st), 1);
	close(fd);

	char *got = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(&st->odb, &o, n, &got, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	assert_int_equal(got[len], 0);
	free(got);
	/* Size limit. */
	assert_int_equal(vv_odb_read_obj(&st->odb, &o, n - 1, &got, &len), -EFBIG);

	fd = vv_odb_open_obj(&st->odb, &o);
	assert_true(fd >= 0);
	int fl = fcntl(fd, F_GETFL);
	assert_int_equal(fl & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	free(data);
	vt_rmtree(dir);
	vt_store_free(st);
}

static void test_tmpfile_publish(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	int fd = vv_odb_tmpfile(&st->odb);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, "abc", 3), 0);
	vv_oid o, want;
	uint64_t size = 99;
	assert_int_equal(vv_odb_publish_tmpfile(&st->odb, fd, &o, &size), 0);
	assert_int_equal(size, 3);
	vv_hash_buf("abc", 3, &want);
	assert_true(vv_oid_eq(&o, &want));
	struct stat s;
	assert_int_equal(fstat(fd, &s), 0);
	assert_int_equal(s.st_mode & 07777, 0444);
	close(fd);

	/* A duplicate tmpfile publishes as success without a second file. */
	fd = vv_odb_tmpfile(&st->odb);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, "abc", 3), 0);
	vv_oid o2;
	assert_int_equal(vv_odb_publish_tmpfile(&st->odb, fd, &o2, NULL), 0);
	assert_true(vv_oid_eq(&o, &o2));
	close(fd);
	assert_int_equal(count_objects(st), 1);

	/* An abandoned tmpfile leaves nothing visible. */
	fd = vv_odb_tmpfile(&st->odb);
	assert_int_equal(vv_write_all(fd, "zzz", 3), 0);
	close(fd);
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s/tmp", st->path);
	assert_int_equal(vt_count_files(t), 0);
	vt_store_free(st);
}

static void test_missing_object(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid o;
	vv_hash_buf("never stored", 12, &o);
	assert_int_equal(vv_odb_has(&st->odb, &o), 0);
	assert_int_equal(vv_odb_open_obj(&st->odb, &o), -ENOENT);
	char *buf = NULL;
	assert_int_equal(vv_odb_read_obj(&st->odb, &o, 100, &buf, NULL), -ENOENT);
	assert_null(buf);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&o, hex);
	assert_non_null(strstr(vv_errmsg(), hex + 2));
	vt_store_free(st);
}

static void test_corrupt_object(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid o;
	assert_int_equal(vv_odb_put_buf(&st->odb, "good bytes", 10, &o), 0);
	char p[PATH_MAX];
	obj_fullpath(st, &o, p, sizeof(p));
	assert_int_equal(chmod(p, 0644), 0);
	vt_write_file(p, "evil bytes", 10);
	char *buf = NULL;
	size_t len;
	vv_err_clear();
	assert_int_equal(vv_odb_read_obj(&st->odb, &o, 1024, &buf, &len), -EUCLEAN);
	assert_null(buf);
	char rel[8 + VV_OID_HEX + 2];
	vv_odb_obj_path(&o, rel);
	assert_non_null(strstr(vv_errmsg(), rel));
	assert_non_null(strstr(vv_errmsg(), "corrupt"));

	/* Truncated object, too. */
	vt_write_file(p, "", 0);
	assert_int_equal(vv_odb_read_obj(&st->odb, &o, 1024, &buf, &len), -EUCLEAN);

	/* A symlink in place of an object is not followed. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_true(vv_odb_read_obj(&st->odb, &o, 1 << 20, &buf, &len) < 0);
	assert_true(vv_odb_open_obj(&st->odb, &o) < 0);
	assert_int_equal(vv_odb_has(&st->odb, &o), 0);
	vt_store_free(st);
}

static void test_not_a_directory(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/file", dir);
	vt_write_file(p, "x", 1);
	struct vv_store *st = (struct vv_store *)1;
	vv_err_clear();
	assert_int_equal(vv_store_open(&st, p, 1), -ENOTDIR);
	assert_null(st);
	assert_non_null(strstr(vv_errmsg(), "file"));
	assert_non_null(strstr(vv_errmsg(), "not a directory"));
	assert_int_equal(vv_store_open(&st, p, 0), -ENOTDIR);

	/* A file as a parent component. */
	snprintf(p, sizeof(p), "%s/file/sub", dir);
	assert_true(vv_store_open(&st, p, 1) < 0);
	assert_null(st);
	assert_non_null(strstr(vv_errmsg(), p));
	vt_rmtree(dir);
}

static void test_missing_without_create(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/none", dir);
	struct vv_store *st = NULL;
	assert_int_equal(vv_store_open(&st, p, 0), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), p));
	/* An existing but empty directory is not a store. */
	assert_int_equal(vv_store_open(&st, dir, 0), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "not a venvfs store"));
	assert_null(st);
	/* create makes missing parents too. */
	snprintf(p, sizeof(p), "%s/a/b/c", dir);
	assert_int_equal(vv_store_open(&st, p, 1), 0);
	vv_store_close(st);
	vt_rmtree(dir);
}

static void test_unwritable(void **state)
{
	(void)state;
	struct vv_store *st = NULL;
	if (geteuid() == 0) {
		/* Permission bits do not stop root; /proc refuses even root. */
		assert_true(vv_store_open(&st, "/proc", 1) < 0);
		assert_null(st);
		assert_non_null(strstr(vv_errmsg(), "/proc"));
		return;
	}
	struct vv_store *made = vt_store_new();
	char *path = strdup(made->path);
	vv_store_close(made);
	char t[PATH_MAX];
	snprintf(t, sizeof(t), "%s/tmp", path);
	assert_int_equal(chmod(t, 0555), 0);
	vv_err_clear();
	assert_int_equal(vv_store_open(&st, path, 0), -EACCES);
	assert_null(st);
	assert_non_null(strstr(vv_errmsg(), path));
	assert_non_null(strstr(vv_errmsg(), "not writable"));
	assert_int_equal(chmod(t, 0755), 0);
	vt_rmtree(path);
}

static void test_tmp_cleanup(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char *path = strdup(st->path);
	vv_store_close(st);
	char p[PATH_MAX];
	/* Leftovers: a named temp of a dead writer, a stray file and a stray directory. */
	snprintf(p, sizeof(p), "%s/tmp/obj-999999999-0123456789abcdef", path);
	vt_write_file(p, "partial", 7);
	snprintf(p, sizeof(p), "%s/tmp/stray", path);
	vt_write_file(p, "x", 1);
	snprintf(p, sizeof(p), "%s/tmp/dir/sub/file", path);
	vt_write_file(p, "y", 1);
	snprintf(p, sizeof(p), "%s/tmp/link", path);
	assert_int_equal(symlink("/nonexistent", p), 0);
	/* Leftovers whose owner the name does not tell are removed once they are old (a
	 * live writer may be about to rename a young one) */
	struct timespec old[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_sec = time(NULL) - 3600 } };
	snprintf(p, sizeof(p), "%s/tmp/stray", path);
	assert_int_equal(utimensat(AT_FDCWD, p, old, AT_SYMLINK_NOFOLLOW), 0);
	snprintf(p, sizeof(p), "%s/tmp/dir", path);
	assert_int_equal(utimensat(AT_FDCWD, p, old, AT_SYMLINK_NOFOLLOW), 0);
	snprintf(p, sizeof(p), "%s/tmp/link", path);
	assert_int_equal(utimensat(AT_FDCWD, p, old, AT_SYMLINK_NOFOLLOW), 0);
	/* A young one (an env file about to be renamed into envs/ by a live writer)
	 * survives, and so does a named temp file of a dead pid that somebody holds a
	 * lock on: a process on another host sharing the store. */
	char young[PATH_MAX], remote[PATH_MAX];
	snprintf(young, sizeof(young), "%s/tmp/env.123.0.1", path);
	vt_write_file(young, "young", 5);
	snprintf(remote, sizeof(remote), "%s/tmp/obj-999999998-00000000000000bb", path);
	vt_write_file(remote, "remote", 6);
	int rfd = open(remote, O_RDWR | O_CLOEXEC);
	assert_true(rfd >= 0);
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	assert_int_equal(fcntl(rfd, F_OFD_SETLK, &fl), 0);
	/* One that belongs to a live process (us) survives. */
	char live[PATH_MAX];
	snprintf(live, sizeof(live), "%s/tmp/obj-%ld-00000000000000aa", path, (long)getpid());
	vt_write_file(live, "live", 4);
	/* Atomic-write temps in envs/: a dead writer's goes, a live one's and other dot
	 * files stay. */
	char dead_env[PATH_MAX], live_env[PATH_MAX], other_env[PATH_MAX];
	snprintf(dead_env, sizeof(dead_env), "%s/envs/.tmp-my-env-999999999-0123456789abcdef",
		 path);
	vt_write_file(dead_env, "x", 1);
	snprintf(live_env, sizeof(live_env), "%s/envs/.tmp-a-%ld-0123456789abcdef", path,
		 (long)getpid());
	vt_write_file(live_env, "x", 1);
	snprintf(other_env, sizeof(other_env), "%s/envs/.tmp-x-1-zz", path);
	vt_write_file(other_env, "x", 1);

	assert_int_equal(vv_store_open(&st, path, 0), 0);
	assert_int_equal(access(dead_env, F_OK), -1);
	assert_int_equal(access(live_env, F_OK), 0);
	assert_int_equal(access(other_env, F_OK), 0);
	snprintf(p, sizeof(p), "%s/tmp", path);
	assert_int_equal(vt_count_files(p), 3);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(young, F_OK), 0);
	assert_int_equal(access(remote, F_OK), 0);
	close(rfd);
	snprintf(p, sizeof(p), "%s/tmp/link", path);
	struct stat s;
	assert_int_equal(lstat(p, &s), -1);
	snprintf(p, sizeof(p), "%s/tmp/dir", path);
	assert_int_equal(lstat(p, &s), -1);
	vv_store_close(st);
	vt_rmtree(path);
}

/* VV_STORE_READONLY: leftovers stay, nothing can be published, objects are readable. */
static void test_readonly(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid oid;
	assert_int_equal(vv_odb_put_buf(&st->odb, "kept", 4, &oid), 0);
	char *path = strdup(st->path);
	vv_store_close(st);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/tmp/obj-999999999-0123456789abcdef", path);
	vt_write_file(p, "partial", 7);

	assert_int_equal(vv_store_open(&st, path, VV_STORE_READONLY), 0);
	assert_true(st->readonly);
	assert_int_equal(access(p, F_OK), 0); /* a read-only open cleans nothing */
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(&st->odb, &oid, 100, &buf, &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "kept", 4);
	free(buf);
	vv_oid o2;
	vv_err_clear();
	assert_int_equal(vv_odb_put_buf(&st->odb, "new", 3, &o2), -EROFS);
	assert_non_null(strstr(vv_errmsg(), "read-only"));
	assert_int_equal(vv_odb_put_buf(&st->odb, "kept", 4, &o2), -EROFS);
	assert_int_equal(vv_odb_tmpfile(&st->odb), -EROFS);
	vv_store_close(st);
	snprintf(p, sizeof(p), "%s/objects", path);
	assert_int_equal(vt_count_files(p), 1);
	/* a missing store is not created */
	snprintf(p, sizeof(p), "%s/none", path);
	assert_int_equal(vv_store_open(&st, p, VV_STORE_READONLY), -ENOENT);
	vt_rmtree(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_obj_path),
		cmocka_unit_test(test_put_buf_dedup),
		cmocka_unit_test(test_fanout_remade),
		cmocka_unit_test(test_put_fd_and_read),
		cmocka_unit_test(test_tmpfile_publish),
		cmocka_unit_test(test_missing_object),
		cmocka_unit_test(test_corrupt_object),
		cmocka_unit_test(test_not_a_directory),
		cmocka_unit_test(test_missing_without_create),
		cmocka_unit_test(test_unwritable),
		cmocka_unit_test(test_tmp_cleanup),
		cmocka_unit_test(test_readonly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
