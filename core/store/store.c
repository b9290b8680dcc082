/*
 * store.c - opening and closing a store directory (see store.h for the layout).
 *
 * Opening makes or checks the layout, opens one fd per directory, proves that the store
 * is writable with a real write in tmp/ and cleans what crashed writers left: temp
 * files in tmp/ whose process is gone (named "obj-<pid>-<random>" by the object
 * database's fallback for filesystems without O_TMPFILE, see odb.c) and stale
 * vv_write_file_atomic() temp files in envs/, journal/, pythons/, packages/ and history/.
 * It then sets up what hangs off the handle: the object database, the history policy
 * defaults, the tree cache and the damaged-list state. Calls go one way from here:
 * store.c calls tree.c, damaged.c and odb.c, never the reverse (they see the handle's
 * fields through handle.h).
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/damaged.h"
#include "store/odb.h"
#include "store/tree.h"
#include "util/error.h"
#include "util/fsutil.h"

#define PROBE_PREFIX "probe-"

static const char *const layout[] = { "objects", "envs", "journal", "pythons", "tmp",
					"packages", "history", "locks", "stage" };

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
	if (!strncmp(name, VV_ODB_TMP_PREFIX, strlen(VV_ODB_TMP_PREFIX)))
		return name + strlen(VV_ODB_TMP_PREFIX);
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
	int fd = vv_odb_named_tmp(&st->odb, PROBE_PREFIX, name, sizeof(name));
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
	st->pkgfd = st->historyfd = st->lockfd = st->stagefd = -1;

	st->dirfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		if (errno == ENOTDIR)
			r = vv_err(-ENOTDIR, "store '%s' is not a directory", abs);
		else
			r = vv_err_sys(-errno, "cannot open store '%s'", abs);
		goto fail;
	}
	int *fds[] = { &st->objfd, &st->envfd, &st->journalfd, &st->pythonfd, &st->tmpfd,
		       &st->pkgfd, &st->historyfd, &st->lockfd, &st->stagefd };
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		/* packages/, history/, locks/ and stage/ came later: a store made before
		 * them gets them on first open */
		bool later = !strcmp(layout[i], "packages") || !strcmp(layout[i], "history") ||
			     !strcmp(layout[i], "locks") || !strcmp(layout[i], "stage");
		/* read-only: an older store without them is served as it is (the daemon
		 * reads neither package records nor, read-only, histories) */
		if (ro && later && faccessat(st->dirfd, layout[i], F_OK, AT_SYMLINK_NOFOLLOW))
			continue;
		if ((r = open_sub(st, layout[i], create || (later && !ro), fds[i])) < 0)
			goto fail;
	}
	st->readonly = ro;
	vv_odb_init(&st->odb, st->path, st->objfd, st->tmpfd, st->stagefd, ro);
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
	st->hist_keep = VV_STORE_HIST_KEEP_DEFAULT;
	st->hist_coalesce_s = VV_STORE_HIST_COALESCE_DEFAULT;
	if (create && (r = vv_fsync_dir_at(st->dirfd, ".")) < 0)
		goto fail;
	st->trees = vv_treecache_new();
	st->damaged = vv_damaged_state_new();
	if (!st->trees || !st->damaged) {
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
	vv_odb_spare_drop(&st->odb);
	int fds[] = { st->objfd, st->envfd, st->journalfd, st->pythonfd, st->tmpfd, st->pkgfd,
		      st->historyfd, st->lockfd, st->stagefd, st->dirfd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (st->trees)
		vv_treecache_free(st->trees);
	vv_damaged_state_free(st->damaged);
	free(st->path);
	free(st);
}
