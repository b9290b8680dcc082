/*
 * test_odb.c - the object database on its own: publishing and reading (put, has,
 * verified reads that catch changed bytes, temp files published without copying), the
 * check of one object, the walk over every object (objects, stray entries of each
 * kind, verification, stopping and failing from the callback, progress events),
 * gc's removal of an object (freshened ones are put back), and stages: named files in
 * stage/ that a journal names, held (OFD read lock) while open, published by linking
 * their inode into objects/.
 */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/odb.h"
#include "store/store.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"

static void full_path(struct vv_store *st, const vv_oid *oid, char *out, size_t sz)
{
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, rel);
	snprintf(out, sz, "%s/%s", st->path, rel);
}

/* Replace an object file's bytes (objects are 0444). */
static void clobber(struct vv_store *st, const vv_oid *oid, const char *data)
{
	char p[4096];
	full_path(st, oid, p, sizeof(p));
	assert_int_equal(chmod(p, 0644), 0);
	vt_write_file(p, data, strlen(data));
}

static size_t count_dir(int dirfd)
{
	DIR *d = vv_opendir_at(dirfd, ".");
	assert_non_null(d);
	size_t n = 0;
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_path(void **state)
{
	(void)state;
	vv_oid o;
	vv_hash_buf("abc", 3, &o);
	char hex[VV_OID_HEX + 1], buf[VV_ODB_PATH_SIZE], want[VV_ODB_PATH_SIZE];
	vv_oid_hex(&o, hex);
	vv_odb_obj_path(&o, buf);
	snprintf(want, sizeof(want), "objects/%.2s/%s", hex, hex + 2);
	assert_string_equal(buf, want);
	assert_int_equal(strlen(buf) + 1, VV_ODB_PATH_SIZE);
}

static void test_put_has_read(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	vv_oid a, b, want;
	vv_hash_buf("hello\n", 6, &want);
	assert_int_equal(vv_odb_has(odb, &want), 0);
	assert_int_equal(vv_odb_put_buf(odb, "hello\n", 6, &a), 0);
	assert_true(vv_oid_eq(&a, &want));
	assert_int_equal(vv_odb_has(odb, &a), 1);
	/* idempotent: the same bytes are the same object */
	assert_int_equal(vv_odb_put_buf(odb, "hello\n", 6, &b), 0);
	assert_true(vv_oid_eq(&a, &b));

	char p[4096];
	struct stat sb;
	full_path(st, &a, p, sizeof(p));
	assert_int_equal(stat(p, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0444);

	char *got = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(odb, &a, 100, &got, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(got, "hello\n", 6);
	free(got);
	assert_int_equal(vv_odb_read_obj(odb, &a, 5, &got, &len), -EFBIG);

	int fd = vv_odb_open_obj(odb, &a);
	assert_true(fd >= 0);
	char buf[16];
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);

	/* changed bytes: a verified read refuses them, has and open do not look */
	clobber(st, &a, "HELLO\n");
	assert_int_equal(vv_odb_read_obj(odb, &a, 100, &got, &len), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "corrupt"));
	assert_int_equal(vv_odb_has(odb, &a), 1);

	/* missing */
	vv_oid none;
	vv_hash_buf("nothing", 7, &none);
	assert_int_equal(vv_odb_has(odb, &none), 0);
	assert_int_equal(vv_odb_open_obj(odb, &none), -ENOENT);
	assert_int_equal(vv_odb_read_obj(odb, &none, 100, &got, &len), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "not found"));
	vt_store_free(st);
}

static void test_put_fd_and_tmpfile(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	const char *data = "some file content\n";
	size_t n = strlen(data);
	vv_oid want, o;
	vv_hash_buf(data, n, &want);

	/* put_fd copies from offset 0 */
	int fd = vv_odb_tmpfile(odb);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, data, n), 0);
	uint64_t size = 0;
	assert_int_equal(vv_odb_put_fd(odb, fd, &o, &size), 0);
	close(fd);
	assert_true(vv_oid_eq(&o, &want));
	assert_int_equal(size, n);

	/* publish_tmpfile links the temp file itself: same inode as the object */
	const char *other = "published without a copy\n";
	fd = vv_odb_tmpfile(odb);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, other, strlen(other)), 0);
	assert_int_equal(vv_odb_publish_tmpfile(odb, fd, &o, &size), 0);
	assert_int_equal(size, strlen(other));
	struct stat fsb, osb;
	assert_int_equal(fstat(fd, &fsb), 0);
	close(fd);
	char p[4096];
	full_path(st, &o, p, sizeof(p));
	assert_int_equal(stat(p, &osb), 0);
	assert_int_equal(fsb.st_ino, osb.st_ino);
	assert_int_equal(count_dir(st->tmpfd), 0);
	vt_store_free(st);
}

static void test_named_tmp(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char name[64];
	int fd = vv_odb_named_tmp(&st->odb, VV_ODB_TMP_PREFIX, name, sizeof(name));
	assert_true(fd >= 0);
	char want[64];
	snprintf(want, sizeof(want), "%s%ld-", VV_ODB_TMP_PREFIX, (long)getpid());
	assert_memory_equal(name, want, strlen(want));
	struct stat sb;
	assert_int_equal(fstatat(st->tmpfd, name, &sb, AT_SYMLINK_NOFOLLOW), 0);
	close(fd);
	assert_int_equal(unlinkat(st->tmpfd, name, 0), 0);
	vt_store_free(st);
}

static void test_readonly(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid o;
	assert_int_equal(vv_odb_put_buf(&st->odb, "kept", 4, &o), 0);
	char *path = strdup(st->path);
	vv_store_close(st);
	assert_int_equal(vv_store_open(&st, path, VV_STORE_READONLY), 0);
	free(path);
	assert_true(st->odb.readonly);
	vv_oid p;
	assert_int_equal(vv_odb_put_buf(&st->odb, "new", 3, &p), -EROFS);
	assert_int_equal(vv_odb_tmpfile(&st->odb), -EROFS);
	assert_int_equal(vv_odb_has(&st->odb, &o), 1);
	char *got;
	size_t len;
	assert_int_equal(vv_odb_read_obj(&st->odb, &o, 10, &got, &len), 0);
	free(got);
	vt_store_free(st);
}

static void test_check(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	vv_oid a, none;
	assert_int_equal(vv_odb_put_buf(odb, "checked", 7, &a), 0);
	struct stat sb;
	assert_int_equal(vv_odb_check(odb, &a, true, &sb), 1);
	assert_int_equal(sb.st_size, 7);
	clobber(st, &a, "CHECKED");
	assert_int_equal(vv_odb_check(odb, &a, false, &sb), 1); /* not hashed */
	assert_int_equal(vv_odb_check(odb, &a, true, &sb), 0);
	vv_hash_buf("absent", 6, &none);
	assert_int_equal(vv_odb_check(odb, &none, true, &sb), -ENOENT);
	/* not a regular file */
	char p[4096];
	full_path(st, &none, p, sizeof(p));
	char *slash = strrchr(p, '/');
	*slash = 0;
	mkdir(p, 0755); /* the fan-out directory may not exist yet */
	*slash = '/';
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(vv_odb_check(odb, &none, true, &sb), 2);
	vt_store_free(st);
}

/* ---- the walk ---- */

struct seen {
	vv_oid oids[16];
	uint64_t sizes[16];
	bool intact[16];
	int nobj;
	char strays[16][128];
	int nstray;
	int nerr;
	uint64_t fans, nfans;
	bool fan_order_ok;
	int stop_after; /* > 0: stop after that many objects */
	int fail_after; /* > 0: fail with -EIO after that many objects */
};

static int record(const struct vv_odb_entry *e, void *arg)
{
	struct seen *s = arg;
	switch (e->kind) {
	case VV_ODB_FAN:
		if (e->fan != s->fans)
			s->fan_order_ok = false;
		s->fans++;
		s->nfans = e->nfans;
		break;
	case VV_ODB_OBJECT:
		assert_true(e->has_oid);
		assert_true(s->nobj < 16);
		s->oids[s->nobj] = e->oid;
		s->sizes[s->nobj] = (uint64_t)e->st.st_size;
		s->intact[s->nobj] = e->intact;
		s->nobj++;
		if (s->stop_after && s->nobj == s->stop_after)
			return 1;
		if (s->fail_after && s->nobj == s->fail_after)
			return vv_err(-EIO, "test failure");
		break;
	case VV_ODB_STRAY:
		assert_true(s->nstray < 16);
		snprintf(s->strays[s->nstray++], sizeof(s->strays[0]), "%s (%s)", e->rel, e->why);
		break;
	case VV_ODB_ERROR:
		s->nerr++;
		break;
	}
	return 0;
}

static int find_oid(const struct seen *s, const vv_oid *oid)
{
	for (int i = 0; i < s->nobj; i++)
		if (vv_oid_eq(&s->oids[i], oid))
			return i;
	return -1;
}

static bool has_stray(const struct seen *s, const char *want)
{
	for (int i = 0; i < s->nstray; i++)
		if (!strcmp(s->strays[i], want))
			return true;
	return false;
}

static void test_each(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	const char *data[] = {"one", "two two", "three three three"};
	vv_oid o[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(vv_odb_put_buf(odb, data[i], strlen(data[i]), &o[i]), 0);

	/* an empty store walks nothing */
	struct vv_store *empty = vt_store_new();
	struct seen s = {.fan_order_ok = true};
	assert_int_equal(vv_odb_each(&empty->odb, 0, record, &s), 0);
	assert_int_equal(s.nobj + s.nstray + s.nerr + (int)s.fans, 0);
	vt_store_free(empty);

	/* strays of every kind */
	char hex[VV_OID_HEX + 1], p[4096], fan[3] = "00";
	vv_oid_hex(&o[0], hex);
	for (int i = 0; i < 256; i++) { /* a fan-out name no object uses */
		snprintf(fan, sizeof(fan), "%02x", i);
		bool used = false;
		for (int k = 0; k < 3; k++)
			used |= o[k].b[0] == i;
		if (!used)
			break;
	}
	snprintf(p, sizeof(p), "%s/objects/%s", st->path, fan);
	vt_write_file(p, "x", 1); /* not a directory */
	snprintf(p, sizeof(p), "%s/objects/zz", st->path);
	vt_write_file(p, "x", 1); /* not a fan-out directory */
	snprintf(p, sizeof(p), "%s/objects/%.2s/not-an-object", st->path, hex);
	vt_write_file(p, "x", 1);
	char dirname[VV_OID_HEX + 1];
	memcpy(dirname, hex, VV_OID_HEX + 1);
	dirname[VV_OID_HEX - 1] = dirname[VV_OID_HEX - 1] == '0' ? '1' : '0';
	snprintf(p, sizeof(p), "%s/objects/%.2s/%s", st->path, dirname, dirname + 2);
	assert_int_equal(mkdir(p, 0755), 0); /* an object name, but a directory */

	memset(&s, 0, sizeof(s));
	s.fan_order_ok = true;
	assert_int_equal(vv_odb_each(odb, 0, record, &s), 0);
	assert_int_equal(s.nobj, 3);
	assert_int_equal(s.nerr, 0);
	for (int i = 0; i < 3; i++) {
		int k = find_oid(&s, &o[i]);
		assert_true(k >= 0);
		assert_int_equal(s.sizes[k], strlen(data[i]));
		assert_true(s.intact[k]);
	}
	char want[256];
	snprintf(want, sizeof(want), "objects/%s (not a directory)", fan);
	assert_true(has_stray(&s, want));
	assert_true(has_stray(&s, "objects/zz (not a fan-out directory)"));
	snprintf(want, sizeof(want), "objects/%.2s/not-an-object (not an object name)", hex);
	assert_true(has_stray(&s, want));
	snprintf(want, sizeof(want), "objects/%.2s/%s (not a regular file)", dirname,
		 dirname + 2);
	assert_true(has_stray(&s, want));
	assert_int_equal(s.nstray, 4);
	/* one progress event per entry of objects/, in order, of all */
	assert_true(s.fan_order_ok);
	assert_int_equal(s.fans, s.nfans);
	assert_int_equal(s.fans, count_dir(st->objfd));

	/* verify: changed bytes show as not intact, only with VV_ODB_VERIFY */
	clobber(st, &o[1], "tw0 two");
	memset(&s, 0, sizeof(s));
	assert_int_equal(vv_odb_each(odb, 0, record, &s), 0);
	assert_true(s.intact[find_oid(&s, &o[1])]);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vv_odb_each(odb, VV_ODB_VERIFY, record, &s), 0);
	assert_int_equal(s.nobj, 3);
	assert_false(s.intact[find_oid(&s, &o[1])]);
	assert_true(s.intact[find_oid(&s, &o[0])]);
	assert_true(s.intact[find_oid(&s, &o[2])]);

	/* the callback stops the walk (its value comes back) or fails it */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(vv_odb_each(odb, 0, record, &s), 1);
	assert_int_equal(s.nobj, 1);
	memset(&s, 0, sizeof(s));
	s.fail_after = 2;
	assert_int_equal(vv_odb_each(odb, 0, record, &s), -EIO);
	assert_int_equal(s.nobj, 2);
	vt_store_free(st);
}

static void test_remove(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	vv_oid a, b;
	assert_int_equal(vv_odb_put_buf(odb, "doomed", 6, &a), 0);
	assert_int_equal(vv_odb_put_buf(odb, "freshened", 9, &b), 0);
	struct stat sa, sb;
	assert_int_equal(vv_odb_check(odb, &a, false, &sa), 1);
	assert_int_equal(vv_odb_check(odb, &b, false, &sb), 1);
	struct timespec cutoff;
	clock_gettime(CLOCK_REALTIME, &cutoff);
	cutoff.tv_sec += 3600;

	/* unchanged since the stat: deleted, nothing left in tmp/ */
	assert_int_equal(vv_odb_remove(odb, &a, &sa, &cutoff), 1);
	assert_int_equal(vv_odb_has(odb, &a), 0);
	assert_int_equal(count_dir(st->tmpfd), 0);
	/* gone already: kept (nothing to do) */
	assert_int_equal(vv_odb_remove(odb, &a, &sa, &cutoff), 0);

	/* freshened after the stat (another mtime): put back */
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(&b, rel);
	struct timespec ts[2] = {{sb.st_mtim.tv_sec + 10, 0}, {sb.st_mtim.tv_sec + 10, 0}};
	assert_int_equal(utimensat(st->dirfd, rel, ts, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(vv_odb_remove(odb, &b, &sb, &cutoff), 0);
	assert_int_equal(vv_odb_has(odb, &b), 1);
	assert_int_equal(count_dir(st->tmpfd), 0);

	/* an mtime after the cutoff: put back too */
	assert_int_equal(vv_odb_check(odb, &b, false, &sb), 1);
	struct timespec early = {sb.st_mtim.tv_sec - 10, 0};
	assert_int_equal(vv_odb_remove(odb, &b, &sb, &early), 0);
	assert_int_equal(vv_odb_has(odb, &b), 1);
	char *got;
	size_t len;
	assert_int_equal(vv_odb_read_obj(odb, &b, 100, &got, &len), 0);
	assert_memory_equal(got, "freshened", 9);
	free(got);

	/* a removed object can be published again */
	vv_oid again;
	assert_int_equal(vv_odb_put_buf(odb, "doomed", 6, &again), 0);
	assert_true(vv_oid_eq(&again, &a));
	assert_int_equal(vv_odb_has(odb, &a), 1);
	vt_store_free(st);
}

/* ---- stages ---- */

static void test_stage_new_has_open(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	char name[VV_ODB_STAGE_SIZE], other[VV_ODB_STAGE_SIZE];
	int fd = vv_odb_stage_new(odb, name);
	assert_true(fd >= 0);
	assert_int_equal(strlen(name), VV_ODB_STAGE_LEN);
	assert_true(vv_odb_stage_name_ok(name, strlen(name)));
	struct stat sb;
	assert_int_equal(fstatat(st->stagefd, name, &sb, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, 0);
	/* the fd is the file, open for reading and writing */
	struct stat fsb;
	assert_int_equal(fstat(fd, &fsb), 0);
	assert_int_equal(fsb.st_ino, sb.st_ino);
	assert_int_equal(pwrite(fd, "abc", 3, 0), 3);
	char buf[8];
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), 3);
	/* another stage gets another name */
	int fd2 = vv_odb_stage_new(odb, other);
	assert_true(fd2 >= 0);
	assert_string_not_equal(name, other);
	close(fd2);

	assert_int_equal(vv_odb_stage_has(odb, name), 1);
	assert_int_equal(vv_odb_stage_has(odb, "0000000000000000"), 0);
	/* opened by name (replay): not published yet, so it may be written */
	bool writable = false;
	int rfd = vv_odb_stage_open(odb, name, &writable);
	assert_true(rfd >= 0);
	assert_true(writable);
	assert_int_equal(pread(rfd, buf, sizeof(buf), 0), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(pwrite(rfd, "d", 1, 3), 1);
	close(rfd);
	assert_int_equal(vv_odb_stage_open(odb, "0000000000000000", &writable), -ENOENT);
	/* something else under a stage's name is no stage */
	assert_int_equal(mkdirat(st->stagefd, "1111111111111111", 0755), 0);
	assert_int_equal(vv_odb_stage_has(odb, "1111111111111111"), 0);
	assert_int_equal(vv_odb_stage_open(odb, "1111111111111111", &writable), -EUCLEAN);
	assert_int_equal(unlinkat(st->stagefd, "1111111111111111", AT_REMOVEDIR), 0);

	/* names: 16 lowercase hex digits, nothing else */
	assert_true(vv_odb_stage_name_ok("0123456789abcdef", 16));
	assert_false(vv_odb_stage_name_ok("0123456789abcde", 15));
	assert_false(vv_odb_stage_name_ok("0123456789abcdef0", 17));
	assert_false(vv_odb_stage_name_ok("0123456789ABCDEF", 16));
	assert_false(vv_odb_stage_name_ok("0123456789abcdeg", 16));
	assert_false(vv_odb_stage_name_ok("../..6789abcdef0", 16));

	/* removed, twice */
	assert_int_equal(vv_odb_stage_remove(odb, name), 0);
	assert_int_equal(vv_odb_stage_has(odb, name), 0);
	assert_int_equal(vv_odb_stage_remove(odb, name), 0);
	close(fd);
	vt_store_free(st);
}

/* The OFD read lock of an open stage is seen from any other open file description
 * (even in this process): gc keeps the stage. */
static void test_stage_in_use(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	char name[VV_ODB_STAGE_SIZE];
	int fd = vv_odb_stage_new(odb, name);
	assert_true(fd >= 0);
	assert_true(vv_odb_stage_in_use(odb, name));
	/* a second fd of this process sees the lock as well */
	int probe = openat(st->stagefd, name, O_RDONLY | O_CLOEXEC);
	assert_true(probe >= 0);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	assert_int_equal(fcntl(probe, F_OFD_GETLK, &fl), 0);
	assert_int_equal(fl.l_type, F_RDLCK);
	close(probe);
	close(fd);
	assert_false(vv_odb_stage_in_use(odb, name));
	/* opening it by name (replay) holds it again */
	bool writable;
	int rfd = vv_odb_stage_open(odb, name, &writable);
	assert_true(rfd >= 0);
	assert_true(vv_odb_stage_in_use(odb, name));
	close(rfd);
	assert_false(vv_odb_stage_in_use(odb, name));
	/* a missing stage is not in use */
	assert_int_equal(vv_odb_stage_remove(odb, name), 0);
	assert_false(vv_odb_stage_in_use(odb, name));
	vt_store_free(st);
}

static void test_stage_publish(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	const char *data = "staged bytes, published without a copy\n";
	size_t n = strlen(data);
	vv_oid want, o;
	vv_hash_buf(data, n, &want);
	char name[VV_ODB_STAGE_SIZE];
	int fd = vv_odb_stage_new(odb, name);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, data, n), 0);
	uint64_t size = 0;
	/* sealed (hashed; the object is not there yet), synced, linked as it is */
	assert_int_equal(vv_odb_seal(odb, fd, &o, &size, NULL, NULL), 0);
	assert_true(vv_oid_eq(&o, &want));
	assert_int_equal(size, n);
	assert_int_equal(vv_odb_sync(odb), 0);
	assert_true(vv_odb_synced_at(odb) > 0);
	assert_int_equal(vv_odb_link_synced(odb, fd, &o), 0);
	/* the object is the stage's inode, 0444; the stage keeps its name */
	struct stat ssb, osb;
	assert_int_equal(fstatat(st->stagefd, name, &ssb, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(vv_odb_check(odb, &o, true, &osb), 1);
	assert_int_equal(osb.st_ino, ssb.st_ino);
	assert_int_equal(osb.st_dev, ssb.st_dev);
	assert_int_equal(osb.st_mode & 07777, 0444);
	assert_int_equal(vv_odb_stage_has(odb, name), 1);
	close(fd);
	/* opened by name now (a replay of a journal whose `c` record was not written),
	 * it is the object's inode: read-only */
	bool writable = true;
	fd = vv_odb_stage_open(odb, name, &writable);
	assert_true(fd >= 0);
	assert_false(writable);
	assert_int_equal(pwrite(fd, "X", 1, 0), -1);
	close(fd);
	/* removing the stage's name leaves the object */
	assert_int_equal(vv_odb_stage_remove(odb, name), 0);
	assert_int_equal(vv_odb_stage_has(odb, name), 0);
	char *got = NULL;
	size_t len = 0;
	assert_int_equal(vv_odb_read_obj(odb, &o, 1 << 20, &got, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	free(got);

	/* the same bytes again: the object that is there stays, nothing is linked */
	fd = vv_odb_stage_new(odb, name);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, data, n), 0);
	vv_oid again;
	assert_int_equal(vv_odb_seal(odb, fd, &again, NULL, NULL, NULL), 1); /* stored */
	assert_true(vv_oid_eq(&again, &o));
	struct stat osb2;
	assert_int_equal(vv_odb_check(odb, &o, true, &osb2), 1);
	assert_int_equal(osb2.st_ino, osb.st_ino);
	close(fd);
	assert_int_equal(vv_odb_stage_remove(odb, name), 0);
	assert_int_equal(count_dir(st->tmpfd), 0);
	assert_int_equal(count_dir(st->stagefd), 0);
	vt_store_free(st);
}

struct stage_names {
	char names[8][VV_ODB_STAGE_SIZE];
	int n;
	int stop_after; /* return 7 after this many, 0: never */
};

static int see_stage(const char *name, const struct stat *sb, void *arg)
{
	struct stage_names *s = arg;
	assert_true(S_ISREG(sb->st_mode));
	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
	s->n++;
	return s->n == s->stop_after ? 7 : 0;
}

static void test_stage_each(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_odb *odb = &st->odb;
	struct stage_names s = { 0 };
	assert_int_equal(vv_odb_stage_each(odb, see_stage, &s), 0);
	assert_int_equal(s.n, 0);
	char made[3][VV_ODB_STAGE_SIZE];
	for (int i = 0; i < 3; i++) {
		int fd = vv_odb_stage_new(odb, made[i]);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(vv_odb_stage_each(odb, see_stage, &s), 0);
	assert_int_equal(s.n, 3);
	for (int i = 0; i < 3; i++) {
		int found = 0;
		for (int k = 0; k < s.n; k++)
			found += !strcmp(s.names[k], made[i]);
		assert_int_equal(found, 1);
	}
	/* a nonzero return stops the walk with that value */
	struct stage_names stop = { .stop_after = 2 };
	assert_int_equal(vv_odb_stage_each(odb, see_stage, &stop), 7);
	assert_int_equal(stop.n, 2);
	vt_store_free(st);
}

static void test_stage_readonly(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char name[VV_ODB_STAGE_SIZE];
	int fd = vv_odb_stage_new(&st->odb, name);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, "kept", 4), 0);
	close(fd);
	char *path = strdup(st->path);
	vv_store_close(st);
	assert_int_equal(vv_store_open(&st, path, VV_STORE_READONLY), 0);
	free(path);
	char other[VV_ODB_STAGE_SIZE];
	assert_int_equal(vv_odb_stage_new(&st->odb, other), -EROFS);
	/* what is there can still be read (a read-only mount reads stages in place) */
	assert_int_equal(vv_odb_stage_has(&st->odb, name), 1);
	bool writable = true;
	fd = vv_odb_stage_open(&st->odb, name, &writable);
	assert_true(fd >= 0);
	assert_false(writable);
	vv_oid o;
	assert_int_equal(vv_odb_seal(&st->odb, fd, &o, NULL, NULL, NULL), -EROFS);
	close(fd);
	struct stage_names s = { 0 };
	assert_int_equal(vv_odb_stage_each(&st->odb, see_stage, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], name);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_put_has_read),
		cmocka_unit_test(test_put_fd_and_tmpfile),
		cmocka_unit_test(test_named_tmp),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_stage_new_has_open),
		cmocka_unit_test(test_stage_in_use),
		cmocka_unit_test(test_stage_publish),
		cmocka_unit_test(test_stage_each),
		cmocka_unit_test(test_stage_readonly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
