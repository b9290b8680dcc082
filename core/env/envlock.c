/*
 * envlock.c - per-env writer locks on locks/NAME (see envlock.h): fcntl OFD locks, so
 * they hold across processes and hosts (NFSv4) and no unrelated close() drops them.
 */
#include "env/envlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "store/store.h"

/* Enough for a lock file unlinked under our feet over and over; it never loops in
 * practice. */
#define TAKE_TRIES 100

static int setlk(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* The "PID HOST PROGRAM" of the holder as a phrase for messages. */
static void holder(int fd, char *out, size_t size)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = 0;
	char host[256], prog[128];
	if (n > 0) {
		buf[n] = 0;
		if (sscanf(buf, "%ld %255s %127s", &pid, host, prog) == 3 && pid > 0) {
			snprintf(out, size, "%s pid %ld on host %s", prog, pid, host);
			return;
		}
	}
	snprintf(out, size, "another process");
}

static int refused(int fd, const char *name)
{
	char who[512];
	holder(fd, who, sizeof(who));
	return vv_err(-EBUSY, "env '%s' is being changed by %s (its changes are not committed "
		      "yet); try again when it has committed", name, who);
}

int vv_envlock_take(struct vv_store *st, const char *name, int *fdout)
{
	*fdout = -1;
	if (st->readonly || st->lockfd < 0)
		return vv_err(-EROFS, "env '%s': the store is open read-only", name);
	for (int i = 0; i < TAKE_TRIES; i++) {
		int fd = openat(st->lockfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return vv_err_sys(-errno, "env '%s': cannot open locks/%s", name, name);
		int r = setlk(fd, F_WRLCK);
		if (r == -EAGAIN || r == -EACCES) {
			r = refused(fd, name);
			close(fd);
			return r;
		}
		if (r < 0) {
			close(fd);
			return vv_err_sys(r, "env '%s': cannot lock locks/%s", name, name);
		}
		/* still the file linked at locks/NAME? (a holder may have removed it before
		 * we locked: then nobody else would see our lock) */
		struct stat a, b;
		if (fstat(fd, &a) < 0) {
			r = vv_err_sys(-errno, "env '%s': locks/%s", name, name);
			close(fd);
			return r;
		}
		if (fstatat(st->lockfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_dev != b.st_dev ||
		    a.st_ino != b.st_ino) {
			close(fd);
			continue;
		}
		char host[256] = "?", line[512];
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
			snprintf(host, sizeof(host), "?");
		host[sizeof(host) - 1] = 0;
		int len = snprintf(line, sizeof(line), "%ld %s %s\n", (long)getpid(), host,
				   program_invocation_short_name);
		/* only for messages: a failure here does not matter */
		if (ftruncate(fd, 0) == 0)
			(void)vv_pwrite_all(fd, line, (size_t)len, 0);
		*fdout = fd;
		vv_err_clear();
		return 0;
	}
	return vv_err(-EAGAIN, "env '%s': locks/%s keeps being replaced", name, name);
}

int vv_envlock_take_env(struct vv_store *st, const char *name, int *fd)
{
	int r = vv_envlock_take(st, name, fd);
	if (r < 0)
		return r;
	struct stat sb;
	if (fstatat(st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		r = errno == ENOENT ? vv_err(-ENOENT, "no env named '%s'", name)
				    : vv_err_sys(-errno, "env '%s': envs/%s", name, name);
		if (r == -ENOENT)
			vv_envlock_drop(st, name, *fd);
		else
			vv_envlock_release(*fd);
		*fd = -1;
	}
	return r;
}

void vv_envlock_release(int fd)
{
	if (fd >= 0)
		close(fd); /* the last close of the description drops its OFD lock */
}

void vv_envlock_drop(struct vv_store *st, const char *name, int fd)
{
	if (fd < 0)
		return;
	if (st->lockfd >= 0)
		unlinkat(st->lockfd, name, 0);
	close(fd);
}

int vv_envlock_held(struct vv_store *st, const char *name)
{
	if (st->lockfd < 0)
		return 0;
	int fd = openat(st->lockfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : vv_err_sys(-errno, "env '%s': cannot open locks/%s",
						       name, name);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	int r = fcntl(fd, F_OFD_GETLK, &fl) < 0 ? vv_err_sys(-errno, "env '%s': locks/%s", name, name)
					       : fl.l_type != F_UNLCK;
	close(fd);
	return r;
}

int vv_envlock_prune(struct vv_store *st)
{
	if (st->lockfd < 0)
		return 0;
	DIR *d = vv_opendir_at(st->lockfd, ".");
	if (!d)
		return vv_err_sys(-errno, "cannot list locks/");
	int removed = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		struct stat sb;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") ||
		    fstatat(st->envfd, nm, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		int fd;
		if (vv_envlock_take(st, nm, &fd) < 0)
			continue; /* held (its env is being made or renamed), or unreadable */
		/* under the lock: nobody makes envs/NAME now except by no-clobber creation,
		 * which a lock file never affects */
		if (fstatat(st->envfd, nm, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
			if (unlinkat(st->lockfd, nm, 0) == 0)
				removed++;
		}
		close(fd);
	}
	closedir(d);
	vv_err_clear();
	return removed;
}
