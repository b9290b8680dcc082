/*
 * store.c - the content-addressed object store (see store.h for the layout and the
 * publishing protocol).
 *
 * Objects are written into an anonymous O_TMPFILE in tmp/, hashed, fsynced, made 0444
 * and linked under objects/ab/cdef... with linkat(), which never replaces an existing
 * name: EEXIST means the same bytes are already there. Where the filesystem lacks
 * O_TMPFILE we fall back to a named temp file in tmp/ ("obj-<pid>-<random>"); it is
 * found again by inode number when publishing and removed afterwards, and
 * vv_store_open() removes such leftovers when their process is gone (as well as stale
 * vv_write_file_atomic() temp files in envs/, journal/, pythons/, packages/ and history/).
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/damaged.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "env/history.h"
#include "store/tree.h"

#define TMP_PREFIX "obj-"
#define PROBE_PREFIX "probe-"

static const char *const layout[] = { "objects", "envs", "journal", "pythons", "tmp",
					"packages", "history", "locks" };

void vv_store_obj_path(const vv_oid *oid, char *buf)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	snprintf(buf, 8 + VV_OID_HEX + 2, "objects/%.2s/%s", hex, hex + 2);
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
 * (OFD, as long as the fd is open) that tells clean_tmp of any process, on any host
 * sharing the store, that it is in use: the pid in the name only means something on
 * the host that made it. */
static int named_tmp(struct vv_store *st, const char *prefix, char *name, size_t namesz)
{
	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, namesz, "%s%ld-%016llx", prefix, (long)getpid(), rand64());
		int fd = openat(st->tmpfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
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

/* tmp/ entries younger than this are never cleaned unless their name says whose they
 * are: another process (on this host or another one sharing the store) may be about
 * to rename it (env and journal files are written there first). */
#define TMP_YOUNG_S 60

/* Is tmp/name in use by someone: a regular file somebody holds a lock on (named_tmp),
 * or a young entry whose owner cannot be told from its name? */
static bool tmp_in_use(struct vv_store *st, const char *name, bool named, time_t now)
{
	struct stat sb;
	if (fstatat(st->tmpfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (!named && now - sb.st_mtime < TMP_YOUNG_S && now - sb.st_ctime < TMP_YOUNG_S)
		return true;
	if (!S_ISREG(sb.st_mode))
		return false;
	int fd = openat(st->tmpfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	bool held = fcntl(fd, F_OFD_SETLK, &fl) < 0 && (errno == EAGAIN || errno == EACCES);
	close(fd);
	return held;
}

static int pid_alive(long pid)
{
	if (pid <= 0 || pid > INT_MAX)
		return 0;
	if (pid == (long)getpid())
		return 1;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Is this tmp/ entry a named temp file ("obj-PID-...", "probe-PID-...")? */
static const char *tmp_named(const char *name)
{
	if (!strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)))
		return name + strlen(TMP_PREFIX);
	if (!strncmp(name, PROBE_PREFIX, strlen(PROBE_PREFIX)))
		return name + strlen(PROBE_PREFIX);
	return NULL;
}

/* Is this tmp/ entry a named temp file of a process that still runs here? */
static int tmp_owner_alive(const char *name)
{
	const char *p = tmp_named(name);
	if (!p)
		return 0;
	char *end;
	errno = 0;
	long pid = strtol(p, &end, 10);
	if (errno || end == p || *end != '-')
		return 0;
	return pid_alive(pid);
}

/* Remove what a crashed writer left in tmp/. Files of live processes (another venvfs
 * or venvctl sharing the store, here or on another host) are left alone: a local pid
 * in the name, a lock on the file, or an unnamed entry that is still young. */
static int clean_tmp(struct vv_store *st, time_t now)
{
	DIR *d = vv_opendir_at(st->tmpfd, ".");
	if (!d)
		return vv_err_sys(-errno, "cannot read '%s/tmp'", st->path);
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (tmp_owner_alive(de->d_name) || tmp_in_use(st, de->d_name, tmp_named(de->d_name), now))
			continue;
		if ((r = vv_rm_rf_at(st->tmpfd, de->d_name)) < 0) {
			vv_err_prefix(r, "cleaning '%s/tmp'", st->path);
			break;
		}
	}
	closedir(d);
	return r;
}

/* Is name a temp file of vv_write_file_atomic(), ".tmp-NAME-PID-HEX16", whose writer
 * is gone? */
static int stale_atomic_tmp(const char *name)
{
	size_t len = strlen(name);
	if (strncmp(name, ".tmp-", 5) != 0 || len < 5 + 1 + 1 + 1 + 16)
		return 0;
	const char *hex = name + len - 16;
	if (hex[-1] != '-')
		return 0;
	for (size_t i = 0; i < 16; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	const char *q = hex - 1; /* the '-' before the random part */
	const char *p = q;
	while (p > name + 5 && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == q || p[-1] != '-' || q - p > 10)
		return 0;
	long pid = strtol(p, NULL, 10);
	return !pid_alive(pid);
}

/* Remove stale atomic-write temp files from a metadata directory (envs/ etc.). Only
 * regular files with exactly that name pattern are touched; errors are ignored, as
 * leftovers there are harmless dot files. */
static void clean_atomic_tmps(int dirfd)
{
	DIR *d = vv_opendir_at(dirfd, ".");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat s;
		if (de->d_name[0] != '.' || !stale_atomic_tmp(de->d_name))
			continue;
		if (fstatat(dirfd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode))
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

/* A real write in tmp/: permission bits say little when running as root or on a
 * read-only mount. */
static int write_probe(struct vv_store *st, time_t *now)
{
	char name[64];
	int fd = named_tmp(st, PROBE_PREFIX, name, sizeof(name));
	if (fd < 0)
		return vv_err_sys(fd, "store '%s' is not writable: cannot create a file in tmp/",
				  st->path);
	int r = vv_write_all(fd, "x", 1);
	/* "now" by the clock that stamps tmp/ files (a file server's, over NFS) */
	struct stat sb;
	*now = fstat(fd, &sb) == 0 ? sb.st_mtime : time(NULL);
	close(fd);
	unlinkat(st->tmpfd, name, 0);
	if (r < 0)
		return vv_err_prefix(r, "store '%s' is not writable", st->path);
	return 0;
}

static int open_sub(struct vv_store *st, const char *name, int create, int *out)
{
	if (create && mkdirat(st->dirfd, name, 0755) < 0 && errno != EEXIST)
		return vv_err_sys(-errno, "cannot create '%s/%s'", st->path, name);
	int fd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return vv_err(-ENOENT, "'%s' is not a venvfs store: no %s/ directory",
				      st->path, name);
		if (errno == ENOTDIR || errno == ELOOP)
			return vv_err(-ENOTDIR, "cannot open '%s/%s': not a directory", st->path,
				      name);
		return vv_err_sys(-errno, "cannot open '%s/%s'", st->path, name);
	}
	*out = fd;
	return 0;
}

int vv_store_open(struct vv_store **out, const char *path, int create)
{
	int r;
	*out = NULL;
	if (!path || !*path)
		return vv_err(-EINVAL, "no store path given");
	bool ro = create == VV_STORE_READONLY;
	if (ro)
		create = 0;
	if (create) {
		struct stat s;
		if (stat(path, &s) < 0 && errno == ENOENT &&
		    (r = vv_mkdir_p_at(AT_FDCWD, path, 0755)) < 0)
			return vv_err_prefix(r, "cannot create store '%s'", path);
	}
	char *abs = realpath(path, NULL);
	if (!abs)
		return vv_err_sys(-errno, "cannot open store '%s'", path);

	struct vv_store *st = calloc(1, sizeof(*st));
	if (!st) {
		free(abs);
		return vv_err(-ENOMEM, "cannot open store '%s': out of memory", path);
	}
	st->path = abs;
	st->dirfd = st->objfd = st->envfd = st->journalfd = st->pythonfd = st->tmpfd = -1;
	st->pkgfd = st->historyfd = st->lockfd = -1;

	st->dirfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		if (errno == ENOTDIR)
			r = vv_err(-ENOTDIR, "store '%s' is not a directory", abs);
		else
			r = vv_err_sys(-errno, "cannot open store '%s'", abs);
		goto fail;
	}
	int *fds[] = { &st->objfd, &st->envfd, &st->journalfd, &st->pythonfd, &st->tmpfd,
		       &st->pkgfd, &st->historyfd, &st->lockfd };
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		/* packages/, history/ and locks/ came later: a store made before them gets
		 * them on first open */
		bool later = !strcmp(layout[i], "packages") || !strcmp(layout[i], "history") ||
			     !strcmp(layout[i], "locks");
		/* read-only: an older store without them is served as it is (the daemon
		 * reads neither package records nor, read-only, histories) */
		if (ro && later && faccessat(st->dirfd, layout[i], F_OK, AT_SYMLINK_NOFOLLOW))
			continue;
		if ((r = open_sub(st, layout[i], create || (later && !ro), fds[i])) < 0)
			goto fail;
	}
	st->readonly = ro;
	time_t now = 0;
	if (!ro && (r = write_probe(st, &now)) < 0)
		goto fail;
	if (!ro && (r = clean_tmp(st, now)) < 0)
		goto fail;
	if (!ro) {
		clean_atomic_tmps(st->envfd);
		clean_atomic_tmps(st->journalfd);
		clean_atomic_tmps(st->pythonfd);
		clean_atomic_tmps(st->pkgfd);
		clean_atomic_tmps(st->historyfd);
		clean_atomic_tmps(st->dirfd); /* the damaged list's */
	}
	st->hist_keep = VV_HIST_KEEP_DEFAULT;
	st->hist_coalesce_s = VV_HIST_COALESCE_DEFAULT;
	if (create && (r = vv_fsync_dir_at(st->dirfd, ".")) < 0)
		goto fail;
	st->trees = vv_treecache_new();
	if (!st->trees) {
		r = vv_err(-ENOMEM, "cannot open store '%s': out of memory", abs);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	vv_store_close(st);
	return r;
}

void vv_store_close(struct vv_store *st)
{
	if (!st)
		return;
	int fds[] = { st->objfd, st->envfd, st->journalfd, st->pythonfd, st->tmpfd, st->pkgfd,
		      st->historyfd, st->lockfd, st->dirfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (st->trees)
		vv_treecache_free(st->trees);
	vv_damaged_state_free(st);
	free(st->path);
	free(st);
}

int vv_store_tmpfile(struct vv_store *st)
{
	if (st->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", st->path);
	int fd = openat(st->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return vv_err_sys(-errno, "cannot create temp file in '%s/tmp'", st->path);
	/* No O_TMPFILE here: a named temp file, linked by inode when published. */
	char name[64];
	fd = named_tmp(st, TMP_PREFIX, name, sizeof(name));
	if (fd < 0)
		return vv_err_sys(fd, "cannot create temp file in '%s/tmp'", st->path);
	return fd;
}

/* Find the tmp/ name of a named temp file by inode; 0 and name filled, or -ENOENT. */
static int find_tmp_name(struct vv_store *st, const struct stat *fs, char *name, size_t sz)
{
	DIR *d = vv_opendir_at(st->tmpfd, ".");
	if (!d)
		return -errno;
	int r = -ENOENT;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat s;
		if (de->d_ino != fs->st_ino)
			continue;
		if (fstatat(st->tmpfd, de->d_name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
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
static int link_obj(struct vv_store *st, int fd, const struct stat *fs, const char *rel)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, st->objfd, rel, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == EEXIST)
		return 1;
	int e = errno;
	if (e != ENOENT && e != EACCES && e != EPERM)
		return -e;
	/* No /proc: a named temp file can be linked by its name; an O_TMPFILE inode only
	 * with AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH). */
	char name[NAME_MAX + 1];
	if (fs->st_nlink > 0 && find_tmp_name(st, fs, name, sizeof(name)) == 0) {
		if (linkat(st->tmpfd, name, st->objfd, rel, 0) == 0)
			return 0;
		return errno == EEXIST ? 1 : -errno;
	}
	if (linkat(fd, "", st->objfd, rel, AT_EMPTY_PATH) == 0)
		return 0;
	return errno == EEXIST ? 1 : -e;
}

static int64_t realtime_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Index of an object's fan-out directory (its first byte). */
static unsigned fan_of(const vv_oid *oid)
{
	return oid->b[0];
}

/* fsync objects/XX, remembering when the fsync started: a name linked there before
 * that moment is durable once it returns. */
static int fsync_fan(struct vv_store *st, const vv_oid *oid, const char *dir,
		     const char *shown)
{
	int64_t start = realtime_ns();
	int r = vv_fsync_dir_at(st->objfd, dir);
	if (r < 0)
		return vv_err_prefix(r, "publishing '%s'", shown);
	_Atomic int64_t *p = &st->fan_synced_ns[fan_of(oid)];
	int64_t old = atomic_load(p);
	while (old < start && !atomic_compare_exchange_weak(p, &old, start))
		;
	return 0;
}

/* The object is already in the store (st holds its status): is its name durable?
 * Yes if an fsync of its directory that completed started after the name was made.
 * ctime is at the latest the link (fchmod and utimensat only move it later); it is
 * read from a coarse clock and may be truncated to seconds, hence the margin. A clock
 * that went back since makes every answer "no". */
static bool known_durable(struct vv_store *st, const vv_oid *oid, const struct stat *sb)
{
	int64_t synced = atomic_load(&st->fan_synced_ns[fan_of(oid)]);
	int64_t made = (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec;
	return synced && synced <= realtime_ns() && made + 2000000000LL < synced;
}

/* Make objects/XX if this process has not seen it yet. */
static int make_fan(struct vv_store *st, const vv_oid *oid, char *dir)
{
	if (atomic_load(&st->fan_made[fan_of(oid)]))
		return 0;
	if (mkdirat(st->objfd, dir, 0755) == 0) {
		/* A new fan-out directory must itself be durable in objects/. */
		if (fsync(st->objfd) < 0 && errno != EINVAL)
			return vv_err_sys(-errno, "cannot fsync '%s/objects'", st->path);
	} else if (errno != EEXIST) {
		return vv_err_sys(-errno, "cannot create '%s/objects/%s'", st->path, dir);
	}
	atomic_store(&st->fan_made[fan_of(oid)], true);
	return 0;
}

static int publish(struct vv_store *st, int fd, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2], shown[8 + VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	vv_store_obj_path(oid, shown);

	struct stat fs;
	if (fstat(fd, &fs) < 0)
		return vv_err_sys(-errno, "cannot stat temp file for '%s'", shown);
	if (!S_ISREG(fs.st_mode))
		return vv_err(-EINVAL, "cannot publish '%s': temp file is not a regular file",
			      shown);

	/* The bytes are already there (dedup): ours need not be durable. Freshen the
	 * object (see below) and make sure its name is durable. */
	struct stat os;
	if (fstatat(st->objfd, rel, &os, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(os.st_mode) &&
	    utimensat(st->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0) {
		if (fs.st_nlink > 0) {
			char name[NAME_MAX + 1];
			if (find_tmp_name(st, &fs, name, sizeof(name)) == 0)
				unlinkat(st->tmpfd, name, 0);
		}
		if (known_durable(st, oid, &os))
			return 0;
		rel[2] = 0;
		return fsync_fan(st, oid, rel, shown);
	}

	if (fsync(fd) < 0)
		return vv_err_sys(-errno, "cannot fsync temp file for '%s'", shown);
	if (fchmod(fd, 0444) < 0)
		return vv_err_sys(-errno, "cannot chmod temp file for '%s'", shown);

	rel[2] = 0;
	int r = make_fan(st, oid, rel);
	if (r < 0)
		return r;
	rel[2] = '/';

	r = link_obj(st, fd, &fs, rel);
	if (r == -ENOENT) {
		/* objects/XX went away behind our back: make it again */
		atomic_store(&st->fan_made[fan_of(oid)], false);
		rel[2] = 0;
		if ((r = make_fan(st, oid, rel)) < 0)
			return r;
		rel[2] = '/';
		r = link_obj(st, fd, &fs, rel);
	}
	/* The bytes are already there (dedup). Freshen the object so that a gc that read
	 * its roots before our reference is committed sees it as young; if a gc has just
	 * taken it away, link ours after all. */
	for (int tries = 0; r == 1 && tries < 3; tries++) {
		if (utimensat(st->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
			r = 0; /* freshened, or not ours to touch (a shared store): still fine */
		else
			r = link_obj(st, fd, &fs, rel);
	}
	if (r == 1)
		r = -EAGAIN;
	if (r < 0)
		return vv_err_sys(r, "cannot link object '%s' in store '%s'", shown, st->path);

	/* A named fallback temp file has served its purpose. */
	if (fs.st_nlink > 0) {
		char name[NAME_MAX + 1];
		if (find_tmp_name(st, &fs, name, sizeof(name)) == 0)
			unlinkat(st->tmpfd, name, 0);
	}

	rel[2] = 0;
	return fsync_fan(st, oid, rel, shown);
}

int vv_store_publish_tmpfile(struct vv_store *st, int fd, vv_oid *out, uint64_t *size_out)
{
	vv_oid oid;
	uint64_t size;
	if (st->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", st->path);
	int r = vv_hash_fd(fd, &oid, &size);
	if (r < 0)
		return vv_err_prefix(r, "publishing to store '%s'", st->path);
	if ((r = publish(st, fd, &oid)) < 0)
		return r;
	*out = oid;
	if (size_out)
		*size_out = size;
	return 0;
}

int vv_store_put_buf(struct vv_store *st, const void *buf, size_t len, vv_oid *out)
{
	vv_oid oid;
	vv_hash_buf(buf, len, &oid);
	if (st->readonly)
		return vv_err(-EROFS, "store '%s' is open read-only", st->path);
	int r = vv_store_has(st, &oid);
	if (r < 0)
		return r;
	if (r == 1) {
		/* freshen it for gc's grace period (see publish) unless gc just took it */
		char rel[VV_OID_HEX + 2];
		obj_relpath(&oid, rel);
		rel[2] = '/';
		if (utimensat(st->objfd, rel, NULL, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
			*out = oid;
			return 0;
		}
	}
	int fd = vv_store_tmpfile(st);
	if (fd < 0)
		return fd;
	if ((r = vv_write_all(fd, buf, len)) < 0) {
		vv_err_prefix(r, "writing object to store '%s'", st->path);
	} else {
		/* We wrote exactly buf, so its hash is the object's id. */
		r = publish(st, fd, &oid);
	}
	if (r < 0) {
		struct stat s;
		char name[NAME_MAX + 1];
		if (fstat(fd, &s) == 0 && s.st_nlink > 0 &&
		    find_tmp_name(st, &s, name, sizeof(name)) == 0)
			unlinkat(st->tmpfd, name, 0);
	}
	close(fd);
	if (r == 0)
		*out = oid;
	return r;
}

int vv_store_put_fd(struct vv_store *st, int fd, vv_oid *out, uint64_t *size_out)
{
	int tfd = vv_store_tmpfile(st);
	if (tfd < 0)
		return tfd;
	int r = vv_copy_fd(fd, tfd);
	if (r < 0)
		vv_err_prefix(r, "copying into store '%s'", st->path);
	else
		r = vv_store_publish_tmpfile(st, tfd, out, size_out);
	if (r < 0) {
		struct stat s;
		char name[NAME_MAX + 1];
		if (fstat(tfd, &s) == 0 && s.st_nlink > 0 &&
		    find_tmp_name(st, &s, name, sizeof(name)) == 0)
			unlinkat(st->tmpfd, name, 0);
	}
	close(tfd);
	return r;
}

int vv_store_open_obj(struct vv_store *st, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	int fd = openat(st->objfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		char shown[8 + VV_OID_HEX + 2];
		vv_store_obj_path(oid, shown);
		if (errno == ENOENT)
			return vv_err(-ENOENT, "object '%s' not found in store '%s'", shown,
				      st->path);
		return vv_err_sys(-errno, "cannot open object '%s' in store '%s'", shown,
				  st->path);
	}
	return fd;
}

int vv_store_read_obj(struct vv_store *st, const vv_oid *oid, size_t maxlen, char **out,
		      size_t *len_out)
{
	char rel[VV_OID_HEX + 2], shown[8 + VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	vv_store_obj_path(oid, shown);
	char *buf;
	size_t len;
	int r = vv_read_file_at(st->objfd, rel, maxlen, &buf, &len);
	if (r < 0) {
		if (r == -ENOENT)
			return vv_err(-ENOENT, "object '%s' not found in store '%s'", shown,
				      st->path);
		return vv_err_prefix(r, "reading object '%s' in store '%s'", shown, st->path);
	}
	vv_oid got;
	vv_hash_buf(buf, len, &got);
	if (!vv_oid_eq(&got, oid)) {
		free(buf);
		return vv_err(-EUCLEAN, "object '%s' in store '%s' is corrupt: content does not "
			      "match its hash", shown, st->path);
	}
	*out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}

int vv_store_has(struct vv_store *st, const vv_oid *oid)
{
	char rel[VV_OID_HEX + 2];
	obj_relpath(oid, rel);
	struct stat s;
	if (fstatat(st->objfd, rel, &s, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISREG(s.st_mode) ? 1 : 0;
	if (errno == ENOENT)
		return 0;
	char shown[8 + VV_OID_HEX + 2];
	vv_store_obj_path(oid, shown);
	return vv_err_sys(-errno, "cannot stat object '%s' in store '%s'", shown, st->path);
}
