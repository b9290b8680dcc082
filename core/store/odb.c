/*
 * odb.c - the object database (see odb.h for the layout and the publishing protocol).
 *
 * Objects are written into an anonymous O_TMPFILE in tmp/, hashed, fsynced, made 0444
 * and linked under objects/ab/cdef... with linkat(), which never replaces an existing
 * name: EEXIST means the same bytes are already there. Where the filesystem lacks
 * O_TMPFILE we fall back to a named temp file in tmp/ ("obj-<pid>-<random>"); it is
 * found again by inode number when publishing and removed afterwards, and
 * vv_store_open() removes such leftovers when their process is gone.
 *
 * Besides publishing and reading, this file holds the one walk over objects/ (used by
 * gc's sweep, fsck and stats) and gc's removal of an object, so no other file needs to
 * know how objects lie on disk.
 */
#include "store/odb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/clock.h"
#include "util/fsutil.h"
#include "util/vec.h"

void vv_odb_init(struct vv_odb *odb, const char *path, int objfd, int tmpfd, int stagefd,
		 bool readonly)
{
	odb->path = path;
	odb->objfd = objfd;
	odb->tmpfd = tmpfd;
	odb->stagefd = stagefd;
	odb->readonly = readonly;
	for (size_t i = 0; i < 256; i++) {
		atomic_init(&odb->fan_made[i], false);
		atomic_init(&odb->fan_synced_ns[i], 0);
	}
	atomic_init(&odb->synced_at_ns, 0);
	pthread_mutex_init(&odb->spare_lk, NULL);
	odb->nspare = 0;
	odb->miss = NULL;
	odb->hit = NULL;
	odb->miss_arg = NULL;
}

void vv_odb_obj_path(const vv_oid *oid, char *buf)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	snprintf(buf, VV_ODB_PATH_SIZE, "objects/%.2s/%s", hex, hex + 2);
}

/* "ab/cdef..." relative to objfd; buf must hold VV_OID_HEX + 2 bytes. */
static void obj_relpath(const vv_oid *oid, char *buf)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	buf[0] = hex[0];
	buf[1] = hex[1];
	buf[2] = '/';
	memcpy(buf + 3, hex + 2, VV_OID_HEX - 2 + 1);
}

static unsigned long long rand64(void)
{
	unsigned long long v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		static _Thread_local unsigned long long ctr;
		v = ((unsigned long long)getpid() << 32) ^ (unsigned long long)(uintptr_t)&v ^
		    ++ctr;
	}
	return v;
}

/* Create a named temp file "<prefix><pid>-<random>" in tmp/. It carries a read lock
 * (OFD, as long as the fd is open) that tells clean_tmp (store.c) of any process, on any host
 * sharing the store, that it is in use: the pid in the name only means something on
 * the host that made it. */
int vv_odb_named_tmp(struct vv_odb *odb, const char *prefix, char *name, size_t namesz)
{
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, namesz, "%s%ld-%016llx", prefix, (long)getpid(), rand64());
		int fd = openat(odb->tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd >= 0) {
			struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
			(void)fcntl(fd, F_OFD_SETLK, &fl); /* without it: the age rule only */
		}
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

int vv_odb_tmpfile(struct vv_odb *odb)
{
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	int fd = openat(odb->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return vv_err_sys(-errno, "cannot create temp file in '%s/tmp'", odb->path);
	/* No O_TMPFILE here: a named temp file, linked by inode when published. */
	char name[64];
	fd = vv_odb_named_tmp(odb, VV_ODB_TMP_PREFIX, name, sizeof(name));
	if (fd < 0)
		return vv_err_sys(fd, "cannot create temp file in '%s/tmp'", odb->path);
	return fd;
}

/* Find the tmp/ name of a named temp file by inode; 0 and name filled, or -ENOENT. */
static int find_tmp_name(struct vv_odb *odb, const struct stat *fs, char *name, size_t sz)
{
	DIR *d = vv_opendir_at(odb->tmpfd, ".");
	if (!d)
		return -errno;
	int r = -ENOENT;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat s;
		if (de->d_ino != fs->st_ino)
			continue;
		if (fstatat(odb->tmpfd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
		    s.st_ino == fs->st_ino && s.st_dev == fs->st_dev) {
			snprintf(name, sz, "%s", de->d_name);
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

/* Link fd's inode at objfd/rel. 0 if linked or already present, else -errno. */
static int link_obj(struct vv_odb *odb, int fd, const struct stat *fs, const char *rel)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, odb->objfd, rel, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	int e = errno;
	if (e != ENOENT && e != EACCES && e != EPERM)
		return -e;
	/* No /proc: a named temp file can be linked by its name; an O_TMPFILE inode only
	 * with AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH). */
	char name[NAME_MAX + 1];
	if (fs->st_nlink > 0 && find_tmp_name(odb, fs, name, sizeof(name)) == 0) {
		if (linkat(odb->tmpfd, name, odb->objfd, rel, 0) == 0)
			return 0;
		return errno == EEXIST ? 1 : -errno;
	}
	if (linkat(fd, "", odb->objfd, rel, AT_EMPTY_PATH) == 0)
		return 0;
	return errno == EEXIST ? 1 : -e;
}


/* Index of an object's fan-out directory (its first byte). */
static unsigned fan_of(const vv_oid *oid)
{
	return oid->b[0];
}

/* fsync objects/XX, remembering when the fsync started: a name linked there before
 * that moment is durable once it returns. */
static int fsync_fan(struct vv_odb *odb, const vv_oid *oid, const char *dir,
		     const char *shown)
{
	int64_t start = vv_now_ns();
	int r = vv_fsync_dir_at(odb->objfd, dir);
	if (r < 0)
		return vv_err_prefix(r, "publishing '%s'", shown);
	_Atomic int64_t *p = &odb->fan_synced_ns[fan_of(oid)];
	int64_t old = atomic_load(p);
	while (old < start && !atomic_compare_exchange_weak(p, &old, start))
		;
	return 0;
}

/* The object is already in the store (sb holds its status): is its name durable?
 * Yes if an fsync of its directory that completed started after the name was made.
 * ctime is at the latest the link (fchmod and utimensat only move it later); it is
 * read from a coarse clock and may be truncated to seconds, hence the margin. A clock
 * that went back since makes every answer "no". */
static bool known_durable(struct vv_odb *odb, const vv_oid *oid, const struct stat *sb)
{
	int64_t synced = atomic_load(&odb->fan_synced_ns[fan_of(oid)]);
	int64_t made = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec;
	return synced && synced <= vv_now_ns() && made + 2000000000LL < synced;
}

/* Make objects/XX if this process has not seen it yet. */
static int make_fan(struct vv_odb *odb, const vv_oid *oid, char *dir)
{
	if (atomic_load(&odb->fan_made[fan_of(oid)]))
		return 0;
	if (mkdirat(odb->objfd, dir, 0755) == 0) {
		/* A new fan-out directory must itself be durable in objects/. */
		if (fsync(odb->objfd) < 0 && errno != EINVAL)
			return vv_err_sys(-errno, "cannot fsync '%s/objects'", odb->path);
	} else if (errno != EEXIST) {
		return vv_err_sys(-errno, "cannot create '%s/objects/%s'", odb->path, dir);
	}
	atomic_store(&odb->fan_made[fan_of(oid)], true);
	return 0;
}

static int publish(struct vv_odb *odb, int fd, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2], shown[VV_ODB_PATH_SIZE];
	obj_relpath(oid, rel);
	vv_odb_obj_path(oid, shown);

	struct stat fs;
	if (fstat(fd, &fs) < 0)
		return vv_err_sys(-errno, "cannot stat temp file for '%s'", shown);
	if (!S_ISREG(fs.st_mode))
		return vv_err(-EINVAL, "cannot publish '%s': temp file is not a regular file",
			      shown);

	/* The bytes are already there (dedup): ours need not be durable. Freshen the
	 * object (see below) and make sure its name is durable. */
	struct stat os;
	if (fstatat(odb->objfd, rel, &os, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(os.st_mode) &&
	    utimensat(odb->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0) {
		if (fs.st_nlink > 0) {
			char name[NAME_MAX + 1];
			if (find_tmp_name(odb, &fs, name, sizeof(name)) == 0)
				unlinkat(odb->tmpfd, name, 0);
		}
		if (known_durable(odb, oid, &os))
			return 0;
		rel[2] = 0;
		return fsync_fan(odb, oid, rel, shown);
	}

	if (fsync(fd) < 0)
		return vv_err_sys(-errno, "cannot fsync temp file for '%s'", shown);
	if (fchmod(fd, 0444) < 0)
		return vv_err_sys(-errno, "cannot chmod temp file for '%s'", shown);

	rel[2] = 0;
	int r = make_fan(odb, oid, rel);
	if (r < 0)
		return r;
	rel[2] = '/';

	r = link_obj(odb, fd, &fs, rel);
	if (r == -ENOENT) {
		/* objects/XX went away behind our back: make it again */
		atomic_store(&odb->fan_made[fan_of(oid)], false);
		rel[2] = 0;
		if ((r = make_fan(odb, oid, rel)) < 0)
			return r;
		rel[2] = '/';
		r = link_obj(odb, fd, &fs, rel);
	}
	/* The bytes are already there (dedup). Freshen the object so that a gc that read
	 * its roots before our reference is committed sees it as young; if a gc has just
	 * taken it away, link ours after all. */
	for (int tries = 0; r == 1 && tries < 3; tries++) {
		if (utimensat(odb->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			r = 0; /* freshened, or not ours to touch (a shared store): still fine */
		else
			r = link_obj(odb, fd, &fs, rel);
	}
	if (r == 1)
		r = -EAGAIN;
	if (r < 0)
		return vv_err_sys(r, "cannot link object '%s' in store '%s'", shown, odb->path);

	/* A named fallback temp file has served its purpose. */
	if (fs.st_nlink > 0) {
		char name[NAME_MAX + 1];
		if (find_tmp_name(odb, &fs, name, sizeof(name)) == 0)
			unlinkat(odb->tmpfd, name, 0);
	}

	rel[2] = 0;
	return fsync_fan(odb, oid, rel, shown);
}

int vv_odb_publish_tmpfile(struct vv_odb *odb, int fd, vv_oid *out, uint64_t *size_out)
{
	vv_oid oid;
	uint64_t size;
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	int r = vv_hash_fd(fd, &oid, &size);
	if (r < 0)
		return vv_err_prefix(r, "publishing to store '%s'", odb->path);
	if ((r = publish(odb, fd, &oid)) < 0)
		return r;
	*out = oid;
	if (size_out)
		*size_out = size;
	return 0;
}

int vv_odb_put_buf(struct vv_odb *odb, const void *buf, size_t len, vv_oid *out)
{
	vv_oid oid;
	vv_hash_buf(buf, len, &oid);
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	int r = vv_odb_has(odb, &oid);
	if (r < 0)
		return r;
	if (r == 1) {
		/* freshen it for gc's grace period (see publish) unless gc just took it */
		char rel[VV_OID_HEX + 2];
		obj_relpath(&oid, rel);
		rel[2] = '/';
		if (utimensat(odb->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
			*out = oid;
			return 0;
		}
	}
	int fd = vv_odb_tmpfile(odb);
	if (fd < 0)
		return fd;
	if ((r = vv_write_all(fd, buf, len)) < 0) {
		vv_err_prefix(r, "writing object to store '%s'", odb->path);
	} else {
		/* We wrote exactly buf, so its hash is the object's id. */
		r = publish(odb, fd, &oid);
	}
	if (r < 0) {
		struct stat s;
		char name[NAME_MAX + 1];
		if (fstat(fd, &s) == 0 && s.st_nlink > 0 &&
		    find_tmp_name(odb, &s, name, sizeof(name)) == 0)
			unlinkat(odb->tmpfd, name, 0);
	}
	close(fd);
	if (r == 0)
		*out = oid;
	return r;
}

int vv_odb_put_fd(struct vv_odb *odb, int fd, vv_oid *out, uint64_t *size_out)
{
	int tfd = vv_odb_tmpfile(odb);
	if (tfd < 0)
		return tfd;
	int r = vv_copy_fd(fd, tfd);
	if (r < 0)
		vv_err_prefix(r, "copying into store '%s'", odb->path);
	else
		r = vv_odb_publish_tmpfile(odb, tfd, out, size_out);
	if (r < 0) {
		struct stat s;
		char name[NAME_MAX + 1];
		if (fstat(tfd, &s) == 0 && s.st_nlink > 0 &&
		    find_tmp_name(odb, &s, name, sizeof(name)) == 0)
			unlinkat(odb->tmpfd, name, 0);
	}
	close(tfd);
	return r;
}

/* ---- stages ---------------------------------------------------------------------- */

bool vv_odb_stage_name_ok(const char *name, size_t len)
{
	if (len != VV_ODB_STAGE_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

static int no_stages(struct vv_odb *odb)
{
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	return vv_err(-ENOENT, "store '%s' has no stage/ directory", odb->path);
}

/* A read lock (OFD: as long as the fd is open) tells gc on any host that the stage is
 * in use, whatever the journals say at the moment gc reads them. */
static void stage_hold(int fd)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	(void)fcntl(fd, F_OFD_SETLK, &fl); /* without it: the journals and the age rule */
}

bool vv_odb_stage_in_use(struct vv_odb *odb, const char *name)
{
	int fd = openat(odb->stagefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno != ENOENT; /* unsure: keep it */
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	bool held = fcntl(fd, F_OFD_GETLK, &fl) < 0 || fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

int vv_odb_stage_make(struct vv_odb *odb, char name[VV_ODB_STAGE_SIZE])
{
	if (odb->readonly || odb->stagefd < 0)
		return no_stages(odb);
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, VV_ODB_STAGE_SIZE, "%016llx", rand64());
		int fd = openat(odb->stagefd, name,
				O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			stage_hold(fd);
			return fd;
		}
		if (errno != EEXIST)
			return vv_err_sys(-errno, "cannot create a stage in '%s/stage'", odb->path);
	}
	return vv_err(-EEXIST, "cannot create a stage in '%s/stage'", odb->path);
}

int vv_odb_stage_open(struct vv_odb *odb, const char *name, bool *writable)
{
	if (odb->stagefd < 0)
		return no_stages(odb);
	/* one already linked into objects/ is 0444: read-only then */
	int fd = odb->readonly ? -1 : openat(odb->stagefd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	*writable = fd >= 0;
	if (fd < 0)
		fd = openat(odb->stagefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open stage/%s in store '%s'", name, odb->path);
	struct stat s;
	if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode)) {
		close(fd);
		return vv_err(-EUCLEAN, "stage/%s in store '%s' is not a regular file", name,
			      odb->path);
	}
	if (*writable && (!(s.st_mode & S_IWUSR) || s.st_nlink > 1)) {
		/* published (0444, linked into objects/): never written again, even by root */
		close(fd);
		*writable = false;
		if ((fd = openat(odb->stagefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return vv_err_sys(-errno, "cannot open stage/%s in store '%s'", name,
					  odb->path);
	}
	stage_hold(fd);
	return fd;
}

int vv_odb_stage_has(struct vv_odb *odb, const char *name)
{
	struct stat s;
	if (odb->stagefd >= 0 && fstatat(odb->stagefd, name, &s, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(s.st_mode) ? 1 : 0;
	if (odb->stagefd < 0 || errno == ENOENT)
		return 0;
	return vv_err_sys(-errno, "cannot stat stage/%s in store '%s'", name, odb->path);
}

int vv_odb_stage_remove(struct vv_odb *odb, const char *name)
{
	if (odb->stagefd < 0)
		return 0;
	if (unlinkat(odb->stagefd, name, 0) < 0 && errno != ENOENT)
		return vv_err_sys(-errno, "cannot remove stage/%s in store '%s'", name, odb->path);
	return 0;
}

int vv_odb_stage_sync(struct vv_odb *odb, int fd, bool dir)
{
	if (fd >= 0 && fdatasync(fd) < 0)
		return vv_err_sys(-errno, "cannot fsync a stage in '%s/stage'", odb->path);
	if (dir && odb->stagefd >= 0 && fsync(odb->stagefd) < 0 && errno != EINVAL)
		return vv_err_sys(-errno, "cannot fsync '%s/stage'", odb->path);
	return 0;
}

/* ---- batches ---------------------------------------------------------------------- */

/* Freshen an existing object (gc's grace period); 1 if it is there, 0 if not. */
static int freshen(struct vv_odb *odb, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	struct stat os;
	if (fstatat(odb->objfd, rel, &os, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(os.st_mode))
		return 0;
	/* not ours to touch (a shared store): still fine; taken by gc just now: not there */
	return utimensat(odb->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

int vv_odb_seal(struct vv_odb *odb, int fd, vv_oid *out, uint64_t *size_out,
		bool (*stop)(void *), void *arg)
{
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	int r = vv_hash_fd_until(fd, out, size_out, stop, arg);
	if (r < 0)
		return r == -ECANCELED ? r : vv_err_prefix(r, "storing in '%s'", odb->path);
	return freshen(odb, out);
}

int vv_odb_sync(struct vv_odb *odb)
{
	int64_t start = vv_now_ns();
	if (syncfs(odb->objfd) < 0)
		return vv_err_sys(-errno, "cannot sync the filesystem of store '%s'", odb->path);
	int64_t old = atomic_load(&odb->synced_at_ns);
	while (old < start && !atomic_compare_exchange_weak(&odb->synced_at_ns, &old, start))
		;
	/* every fan-out directory's names made before start are durable now */
	for (size_t i = 0; i < 256; i++) {
		int64_t f = atomic_load(&odb->fan_synced_ns[i]);
		while (f < start && !atomic_compare_exchange_weak(&odb->fan_synced_ns[i], &f, start))
			;
	}
	return 0;
}

int64_t vv_odb_synced_at(struct vv_odb *odb)
{
	return atomic_load(&odb->synced_at_ns);
}

int vv_odb_link_synced(struct vv_odb *odb, int fd, const vv_oid *oid)
{
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	char rel[VV_OID_HEX + 2], shown[VV_ODB_PATH_SIZE];
	obj_relpath(oid, rel);
	vv_odb_obj_path(oid, shown);
	if (freshen(odb, oid))
		return 0;
	struct stat fs;
	if (fstat(fd, &fs) < 0)
		return vv_err_sys(-errno, "cannot stat the file for '%s'", shown);
	if ((fs.st_mode & 0777) != 0444 && fchmod(fd, 0444) < 0)
		return vv_err_sys(-errno, "cannot chmod the file for '%s'", shown);
	rel[2] = 0;
	int r = make_fan(odb, oid, rel);
	rel[2] = '/';
	if (r < 0)
		return r;
	for (int tries = 0; tries < 3; tries++) {
		r = link_obj(odb, fd, &fs, rel);
		if (r == -ENOENT) { /* objects/XX went away behind our back */
			atomic_store(&odb->fan_made[fan_of(oid)], false);
			rel[2] = 0;
			int m = make_fan(odb, oid, rel);
			rel[2] = '/';
			if (m < 0)
				return m;
			continue;
		}
		if (r != 1 || freshen(odb, oid))
			break;
		/* linked by someone else and taken by gc since: link ours after all */
	}
	if (r == 1)
		r = 0;
	if (r < 0)
		return vv_err_sys(r, "cannot link object '%s' in store '%s'", shown, odb->path);
	return 0;
}

int vv_odb_defer_put(struct vv_odb *odb, struct vv_odb_defer *d, const void *buf,
		     size_t len, vv_oid *out)
{
	vv_hash_buf(buf, len, out);
	if (odb->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", odb->path);
	if (freshen(odb, out))
		return 0;
	for (size_t i = 0; i < d->n; i++)
		if (vv_oid_eq(&d->oids[i], out))
			return 0;
	if (VV_GROW(d->fds, d->n, d->cap, 16) < 0)
		return vv_err(-ENOMEM, "out of memory");
	vv_oid *o = realloc(d->oids, d->cap * sizeof(*o));
	if (!o)
		return vv_err(-ENOMEM, "out of memory");
	d->oids = o;
	int fd = vv_odb_tmpfile(odb);
	if (fd < 0)
		return fd;
	int r = vv_write_all(fd, buf, len);
	if (r < 0) {
		close(fd);
		return vv_err_prefix(r, "writing object to store '%s'", odb->path);
	}
	d->fds[d->n] = fd;
	d->oids[d->n++] = *out;
	return 0;
}

int vv_odb_defer_finish(struct vv_odb *odb, struct vv_odb_defer *d)
{
	int r = 0;
	if (d->n && (r = vv_odb_sync(odb)) == 0) {
		for (size_t i = 0; i < d->n && r == 0; i++)
			r = vv_odb_link_synced(odb, d->fds[i], &d->oids[i]);
		if (r == 0)
			r = vv_odb_sync(odb);
	}
	vv_odb_defer_free(d);
	return r;
}

void vv_odb_defer_free(struct vv_odb_defer *d)
{
	for (size_t i = 0; i < d->n; i++) {
		/* a named fallback temp file is removed by the store's cleaning of tmp/ */
		close(d->fds[i]);
	}
	free(d->fds);
	free(d->oids);
	memset(d, 0, sizeof(*d));
}

int vv_odb_stage_each(struct vv_odb *odb, vv_odb_stage_cb cb, void *arg)
{
	if (odb->stagefd < 0)
		return 0;
	DIR *d = vv_opendir_at(odb->stagefd, ".");
	if (!d)
		return vv_err_sys(-errno, "cannot list '%s/stage'", odb->path);
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct stat s;
		if (fstatat(odb->stagefd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		r = cb(de->d_name, &s, arg);
	}
	closedir(d);
	return r;
}

int vv_odb_open_obj(struct vv_odb *odb, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	int fd = openat(odb->objfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	/* fetched, then removed by a cache's bound before we got to it: fetch again */
	for (int tries = 0; fd < 0 && errno == ENOENT && odb->miss && tries < 3; tries++) {
		int r = odb->miss(odb->miss_arg, oid);
		if (r < 0)
			return r;
		fd = openat(odb->objfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0 && odb->hit) {
		odb->hit(odb->miss_arg, oid, NULL, 0);
	}
	if (fd < 0) {
		char shown[VV_ODB_PATH_SIZE];
		vv_odb_obj_path(oid, shown);
		if (errno == ENOENT)
			return vv_err(-ENOENT, "object '%s' not found in store '%s'", shown,
				      odb->path);
		return vv_err_sys(-errno, "cannot open object '%s' in store '%s'", shown,
				  odb->path);
	}
	return fd;
}

int vv_odb_open_here(struct vv_odb *odb, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	int fd = openat(odb->objfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int vv_odb_read_here(struct vv_odb *odb, const vv_oid *oid, size_t maxlen, char **out,
		     size_t *len_out)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	char *buf;
	size_t len;
	int r = vv_read_file_at(odb->objfd, rel, maxlen, &buf, &len);
	if (r < 0)
		return r;
	vv_oid got;
	vv_hash_buf(buf, len, &got);
	if (!vv_oid_eq(&got, oid)) {
		free(buf);
		return -EUCLEAN;
	}
	*out = buf;
	*len_out = len;
	return 0;
}

int vv_odb_drop(struct vv_odb *odb, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	if (unlinkat(odb->objfd, rel, 0) < 0 && errno != ENOENT) {
		char shown[VV_ODB_PATH_SIZE];
		vv_odb_obj_path(oid, shown);
		return vv_err_sys(-errno, "cannot remove '%s' from '%s'", shown, odb->path);
	}
	return 0;
}

int vv_odb_read_obj(struct vv_odb *odb, const vv_oid *oid, size_t maxlen, char **out,
		      size_t *len_out)
{
	char rel[VV_OID_HEX + 2], shown[VV_ODB_PATH_SIZE];
	obj_relpath(oid, rel);
	vv_odb_obj_path(oid, shown);
	char *buf;
	size_t len;
	int r = vv_read_file_at(odb->objfd, rel, maxlen, &buf, &len);
	for (int tries = 0; r == -ENOENT && odb->miss && tries < 3; tries++) {
		if ((r = odb->miss(odb->miss_arg, oid)) < 0)
			return r;
		r = vv_read_file_at(odb->objfd, rel, maxlen, &buf, &len);
	}
	if (r < 0) {
		if (r == -ENOENT)
			return vv_err(-ENOENT, "object '%s' not found in store '%s'", shown,
				      odb->path);
		return vv_err_prefix(r, "reading object '%s' in store '%s'", shown, odb->path);
	}
	vv_oid got;
	vv_hash_buf(buf, len, &got);
	if (!vv_oid_eq(&got, oid)) {
		free(buf);
		return vv_err(-EUCLEAN, "object '%s' in store '%s' is corrupt: content does not "
			      "match its hash", shown, odb->path);
	}
	if (odb->hit)
		odb->hit(odb->miss_arg, oid, buf, len);
	*out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}

int vv_odb_has(struct vv_odb *odb, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	struct stat s;
	if (fstatat(odb->objfd, rel, &s, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(s.st_mode) ? 1 : 0;
	if (errno == ENOENT)
		return 0;
	char shown[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, shown);
	return vv_err_sys(-errno, "cannot stat object '%s' in store '%s'", shown, odb->path);
}

/* ---- checking and removing one object ---------------------------------------------- */

/* Stat one object file (dirfd-relative name) and, with verify, hash it and compare
 * with its id. Returns 1 intact (or not verified), 0 corrupt, 2 not a regular file,
 * -errno unreadable (-ENOENT: not there). */
static int stat_object(int dirfd, const char *name, const vv_oid *oid, bool verify,
		       struct stat *sb)
{
	if (fstatat(dirfd, name, sb, AT_SYMLINK_NOFOLLOW) < 0)
		return vv_err_sys(-errno, "cannot stat object");
	if (!S_ISREG(sb->st_mode))
		return 2;
	if (!verify)
		return 1;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open object");
	vv_oid got;
	uint64_t size;
	int r = vv_hash_fd(fd, &got, &size);
	if (r == 0)
		r = vv_oid_eq(&got, oid) ? 1 : 0;
	close(fd);
	return r;
}

int vv_odb_check(struct vv_odb *odb, const vv_oid *oid, bool verify, struct stat *sb)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	return stat_object(odb->objfd, rel, oid, verify, sb);
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/*
 * Delete one object: rename it into tmp/ under a temp-file name of this process (a
 * crash leaves it to vv_store_open's cleanup), so a writer that refreshes it from now on
 * finds it gone and publishes it again; check that nobody refreshed it between our
 * stat and the rename (its mtime); then unlink it, or put it back.
 * Returns 1 deleted, 0 kept, -errno.
 */
int vv_odb_remove(struct vv_odb *odb, const vv_oid *oid, const struct stat *before,
		  const struct timespec *cutoff)
{
	char hex[VV_OID_HEX + 1], rel[VV_OID_HEX + 2], shown[VV_ODB_PATH_SIZE];
	vv_oid_hex(oid, hex);
	obj_relpath(oid, rel);
	vv_odb_obj_path(oid, shown);
	char q[128];
	snprintf(q, sizeof(q), VV_ODB_TMP_PREFIX "%ld-gc-%s", (long)getpid(), hex);
	if (renameat(odb->objfd, rel, odb->tmpfd, q) < 0) {
		if (errno == ENOENT)
			return 0;
		return vv_err_sys(-errno, "cannot remove %s", shown);
	}
	struct stat sb;
	bool keep = fstatat(odb->tmpfd, q, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    sb.st_mtim.tv_sec != before->st_mtim.tv_sec ||
		    sb.st_mtim.tv_nsec != before->st_mtim.tv_nsec ||
		    (cutoff && ts_after(&sb.st_mtim, cutoff));
	if (keep) {
		if (renameat2(odb->tmpfd, q, odb->objfd, rel, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return vv_err_sys(-errno, "cannot put back %s (it is in tmp/%s)", shown, q);
		/* published again meanwhile: the copy in tmp/ is surplus */
	}
	if (unlinkat(odb->tmpfd, q, 0) < 0 && errno != ENOENT)
		return vv_err_sys(-errno, "cannot remove tmp/%s", q);
	return keep ? 0 : 1;
}

/* ---- walking every object ------------------------------------------------------------ */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The names in objects/ (all but "." and ".."), in directory order. */
static int list_top(struct vv_odb *odb, char ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	DIR *top = vv_opendir_at(odb->objfd, ".");
	if (!top)
		return vv_err_sys(-errno, "cannot read objects/ of '%s'", odb->path);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(top))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((r = VV_GROW(names, n, cap, 256)) < 0)
			break;
		if (!(names[n] = strdup(de->d_name))) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	if (r == 0 && errno)
		r = vv_err_sys(-errno, "cannot read objects/ of '%s'", odb->path);
	closedir(top);
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	*out = names;
	*nout = n;
	return 0;
}

/* The entries of objects/dn, a fan-out directory. */
static int each_in_fan(struct vv_odb *odb, const char *dn, unsigned flags, vv_odb_each_cb cb,
		       void *arg)
{
	char spath[64 + NAME_MAX];
	struct vv_odb_entry e = {.rel = spath};
	snprintf(spath, sizeof(spath), "objects/%s", dn);
	int sub = openat(odb->objfd, dn, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0) {
		if (errno == ENOTDIR || errno == ELOOP) {
			e.kind = VV_ODB_STRAY;
			e.why = "not a directory";
		} else {
			e.kind = VV_ODB_ERROR;
			e.err = -errno;
		}
		return cb(&e, arg);
	}
	DIR *d = fdopendir(sub);
	if (!d) {
		int r = vv_err_sys(-errno, "cannot read objects/%s", dn);
		close(sub);
		return r;
	}
	int r = 0;
	struct dirent *fe = NULL;
	while (r == 0 && (errno = 0, fe = readdir(d))) {
		const char *fn = fe->d_name;
		if (!strcmp(fn, ".") || !strcmp(fn, ".."))
			continue;
		char hex[VV_OID_HEX + 1];
		size_t fl = strlen(fn);
		memset(&e, 0, sizeof(e));
		e.rel = spath;
		bool named = fl == VV_OID_HEX - 2 && is_hex(fn, fl);
		if (named) {
			memcpy(hex, dn, 2);
			memcpy(hex + 2, fn, fl + 1);
			named = vv_oid_from_hex(&e.oid, hex, VV_OID_HEX) == 0;
		}
		snprintf(spath, sizeof(spath), "objects/%s/%s", dn, fn);
		if (!named) {
			e.kind = VV_ODB_STRAY;
			e.why = "not an object name";
			r = cb(&e, arg);
			continue;
		}
		e.has_oid = true;
		int ok = stat_object(sub, fn, &e.oid, flags & VV_ODB_VERIFY, &e.st);
		if (ok == -ENOENT)
			continue; /* removed under us (gc): not a problem */
		if (ok < 0) {
			e.kind = VV_ODB_ERROR;
			e.err = ok;
		} else if (ok == 2) {
			e.kind = VV_ODB_STRAY;
			e.why = "not a regular file";
			e.has_oid = false;
		} else {
			e.kind = VV_ODB_OBJECT;
			e.intact = ok == 1;
		}
		r = cb(&e, arg);
	}
	if (r == 0 && !fe && errno)
		r = vv_err_sys(-errno, "cannot read objects/%s", dn);
	closedir(d);
	return r;
}

int vv_odb_each(struct vv_odb *odb, unsigned flags, vv_odb_each_cb cb, void *arg)
{
	char **names;
	size_t n;
	int r = list_top(odb, &names, &n);
	if (r < 0)
		return r;
	char spath[64 + NAME_MAX];
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *dn = names[i];
		snprintf(spath, sizeof(spath), "objects/%s", dn);
		struct vv_odb_entry e = {.kind = VV_ODB_FAN, .rel = spath, .fan = i, .nfans = n};
		if ((r = cb(&e, arg)) != 0)
			break;
		if (strlen(dn) != 2 || !is_hex(dn, 2)) {
			e = (struct vv_odb_entry){.kind = VV_ODB_STRAY, .rel = spath,
						  .why = "not a fan-out directory"};
			r = cb(&e, arg);
			continue;
		}
		r = each_in_fan(odb, dn, flags, cb, arg);
	}
	free_names(names, n);
	return r;
}
