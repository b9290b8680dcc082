/*
 * fsutil.c - dirfd-relative file helpers (see fsutil.h).
 *
 * These are the small pieces every store writer needs: complete writes, bounded whole
 * file reads, atomic replacement by rename, directory fsync, mkdir -p and an rm -rf
 * that never follows a symlink (it opens every directory with O_NOFOLLOW and removes
 * entries relative to that fd, so a symlink swapped in cannot redirect it).
 */
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/vec.h"

#define COPY_BLOCK (256 * 1024)

int vv_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vv_err_sys(-errno, "cannot write to fd %d", fd);
		}
		if (n == 0)
			return vv_err(-EIO, "cannot write to fd %d: no progress", fd);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vv_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vv_err_sys(-errno, "cannot write to fd %d at offset %lld", fd,
					  (long long)off);
		}
		if (n == 0)
			return vv_err(-EIO, "cannot write to fd %d: no progress", fd);
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int vv_pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vv_err_sys(-errno, "cannot read fd %d at offset %lld", fd,
					  (long long)off);
		}
		if (n == 0)
			return vv_err(-EIO, "cannot read fd %d: it ends at offset %lld", fd,
				      (long long)off);
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int vv_read_file_at(int dirfd, const char *path, size_t maxlen, char **out, size_t *len_out)
{
	/* O_NONBLOCK: a FIFO planted where a file should be must not hang us. */
	int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open '%s'", path);
	struct stat s;
	if (fstat(fd, &s) < 0) {
		int r = vv_err_sys(-errno, "cannot stat '%s'", path);
		close(fd);
		return r;
	}
	if (!S_ISREG(s.st_mode)) {
		close(fd);
		return vv_err(-EINVAL, "cannot read '%s': not a regular file", path);
	}
	if ((uint64_t)s.st_size > maxlen) {
		close(fd);
		return vv_err(-EFBIG, "cannot read '%s': %lld bytes, limit %zu", path,
			      (long long)s.st_size, maxlen);
	}
	/* The file may change size under us; read until EOF but never past maxlen. */
	size_t cap = (size_t)s.st_size + 1, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return vv_err(-ENOMEM, "cannot read '%s': out of memory", path);
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (len > maxlen)
				break;
			/* 4096 bytes at least, then doubling: a capacity under 4096 counts
			 * as none, so VV_GROW's first size (a realloc of buf) applies */
			size_t ncap = cap < 4096 ? 0 : cap;
			if (VV_GROW(buf, ncap, ncap, 4096) < 0) {
				free(buf);
				close(fd);
				return vv_err(-ENOMEM, "cannot read '%s': out of memory", path);
			}
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int r = vv_err_sys(-errno, "cannot read '%s'", path);
			free(buf);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > maxlen) {
		free(buf);
		return vv_err(-EFBIG, "cannot read '%s': larger than limit %zu", path, maxlen);
	}
	buf[len] = 0;
	*out = buf;
	if (len_out)
		*len_out = len;
	return 0;
}

/* A random 64-bit value for temp names; uniqueness, not secrecy, is what matters. */
static uint64_t temp_random(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	static _Thread_local uint64_t ctr;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (++ctr << 40) ^
	       (uint64_t)(uintptr_t)&v;
}

/* Split path into an open parent directory fd (O_RDONLY, for fsync) and the base name. */
static int open_parent(int dirfd, const char *path, int *pfd, const char **base)
{
	const char *slash = strrchr(path, '/');
	*pfd = -1;
	*base = path;
	if (!slash) {
		*pfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		*base = path;
		if (*pfd < 0)
			return vv_err_sys(-errno, "cannot open directory of '%s'", path);
		return 0;
	}
	size_t dlen = (size_t)(slash - path);
	char *dir = strndup(path, dlen ? dlen : 1);
	if (!dir)
		return vv_err(-ENOMEM, "out of memory");
	*pfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	free(dir);
	*base = slash + 1;
	if (*pfd < 0)
		return vv_err_sys(-e, "cannot open directory of '%s'", path);
	if (!**base) {
		close(*pfd);
		return vv_err(-EINVAL, "bad file path '%s'", path);
	}
	return 0;
}

int vv_write_file_atomic(int dirfd, const char *path, const void *buf, size_t len, mode_t mode)
{
	int pfd = -1, r;
	const char *base = path;
	if ((r = open_parent(dirfd, path, &pfd, &base)) < 0)
		return r;

	char tmp[NAME_MAX + 1];
	int fd = -1;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(tmp, sizeof(tmp), ".tmp-%.64s-%ld-%016llx", base, (long)getpid(),
			 (unsigned long long)temp_random());
		fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = vv_err_sys(-errno, "cannot create temp file for '%s'", path);
		close(pfd);
		return r;
	}
	if ((r = vv_write_all(fd, buf, len)) < 0) {
		vv_err_prefix(r, "writing '%s'", path);
		goto fail;
	}
	if (fchmod(fd, mode & 07777) < 0) {
		r = vv_err_sys(-errno, "cannot chmod temp file for '%s'", path);
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = vv_err_sys(-errno, "cannot fsync '%s'", path);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = vv_err_sys(-errno, "cannot close '%s'", path);
		goto fail;
	}
	fd = -1;
	if (renameat(pfd, tmp, pfd, base) < 0) {
		r = vv_err_sys(-errno, "cannot rename temp file over '%s'", path);
		goto fail;
	}
	if (fsync(pfd) < 0 && errno != EINVAL) {
		r = vv_err_sys(-errno, "cannot fsync directory of '%s'", path);
		close(pfd);
		return r;
	}
	close(pfd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(pfd, tmp, 0);
	close(pfd);
	return r;
}

int vv_fsync_dir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open directory '%s'", path);
	/* Some filesystems do not support fsync on directories (EINVAL); nothing to do. */
	if (fsync(fd) < 0 && errno != EINVAL) {
		int r = vv_err_sys(-errno, "cannot fsync directory '%s'", path);
		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

static int mkdir_one(int dirfd, const char *path, const char *shown, mode_t mode)
{
	if (mkdirat(dirfd, path, mode) == 0)
		return 0;
	int e = errno;
	if (e == EEXIST) {
		struct stat s;
		if (fstatat(dirfd, path, &s, 0) == 0 && S_ISDIR(s.st_mode))
			return 0;
		return vv_err(-ENOTDIR, "cannot create directory '%s': exists and is not a "
			      "directory", shown);
	}
	return vv_err_sys(-e, "cannot create directory '%s'", shown);
}

int vv_mkdir_p_at(int dirfd, const char *path, mode_t mode)
{
	size_t len = strlen(path);
	if (len == 0)
		return vv_err(-EINVAL, "cannot create directory: empty path");
	char *p = strdup(path);
	if (!p)
		return vv_err(-ENOMEM, "out of memory");
	int r = 0;
	/* Create each prefix that ends before a '/', then the whole path. */
	for (size_t i = 1; i < len; i++) {
		if (p[i] != '/' || p[i - 1] == '/')
			continue;
		p[i] = 0;
		r = mkdir_one(dirfd, p, path, mode);
		p[i] = '/';
		if (r < 0)
			break;
	}
	if (r == 0)
		r = mkdir_one(dirfd, p, path, mode);
	free(p);
	return r;
}

/* Empty the directory open at fd (which this function closes). depth bounds recursion. */
static int rm_dir_contents(int fd, const char *shown, int depth)
{
	if (depth > 512) {
		close(fd);
		return vv_err(-ELOOP, "cannot remove '%s': directory tree too deep", shown);
	}
	struct stat s;
	if (fstat(fd, &s) == 0 && (s.st_mode & 0700) != 0700)
		(void)fchmod(fd, (s.st_mode & 07777) | 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = vv_err_sys(-errno, "cannot read directory '%s'", shown);
		close(fd);
		return r;
	}
	int r = 0;
	struct dirent *de;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = vv_err_sys(-errno, "cannot read directory '%s'", shown);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno == ENOENT)
					continue;
				r = vv_err_sys(-errno, "cannot stat '%s/%s'", shown, de->d_name);
				break;
			}
			isdir = S_ISDIR(s.st_mode);
		}
		if (!isdir) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
				continue;
			if (errno != EISDIR) {
				r = vv_err_sys(-errno, "cannot remove '%s/%s'", shown, de->d_name);
				break;
			}
		}
		int cfd = openat(dirfd(d), de->d_name,
				 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			if (errno == ENOENT)
				continue;
			if (errno == ENOTDIR || errno == ELOOP) {
				/* Replaced by a non-directory meanwhile: remove that instead. */
				if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
					continue;
			}
			r = vv_err_sys(-errno, "cannot open directory '%s/%s'", shown, de->d_name);
			break;
		}
		if ((r = rm_dir_contents(cfd, shown, depth + 1)) < 0)
			break;
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			r = vv_err_sys(-errno, "cannot remove directory '%s/%s'", shown,
				       de->d_name);
			break;
		}
	}
	closedir(d);
	return r;
}

int vv_rm_rf_at(int dirfd, const char *path)
{
	struct stat s;
	if (fstatat(dirfd, path, &s, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return vv_err_sys(-errno, "cannot stat '%s'", path);
	}
	if (!S_ISDIR(s.st_mode)) {
		if (unlinkat(dirfd, path, 0) < 0 && errno != ENOENT)
			return vv_err_sys(-errno, "cannot remove '%s'", path);
		return 0;
	}
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return vv_err_sys(-errno, "cannot open directory '%s'", path);
	}
	int r = rm_dir_contents(fd, path, 0);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return vv_err_sys(-errno, "cannot remove directory '%s'", path);
	return 0;
}

static int copy_rw(int src, int dst, off_t off, off_t *end)
{
	char *buf = malloc(COPY_BLOCK);
	if (!buf)
		return vv_err(-ENOMEM, "cannot allocate copy buffer");
	int r = 0;
	for (;;) {
		ssize_t n = pread(src, buf, COPY_BLOCK, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = vv_err_sys(-errno, "cannot read fd %d for copying", src);
			break;
		}
		if (n == 0)
			break;
		if ((r = vv_pwrite_all(dst, buf, (size_t)n, off)) < 0)
			break;
		off += n;
	}
	free(buf);
	*end = off;
	return r;
}

/* A sparse src (fewer blocks than its size needs) is copied run of data by run of
 * data (SEEK_DATA/SEEK_HOLE), so its holes stay holes in dst. 1 done, 0 not sparse or
 * not supported here (nothing written), -errno. */
static int copy_sparse(int src, int dst)
{
	struct stat s;
	if (fstat(src, &s) < 0 || !S_ISREG(s.st_mode) ||
	    (uint64_t)s.st_blocks * 512 >= (uint64_t)s.st_size)
		return 0;
	off_t d = lseek(src, 0, SEEK_DATA);
	if (d < 0 && errno != ENXIO)
		return 0;
	if (ftruncate(dst, 0) < 0 || ftruncate(dst, s.st_size) < 0)
		return vv_err_sys(-errno, "cannot size fd %d", dst);
	while (d >= 0 && d < s.st_size) {
		off_t h = lseek(src, d, SEEK_HOLE);
		if (h < 0)
			return vv_err_sys(-errno, "cannot find holes in fd %d", src);
		off_t in = d, out = d;
		while (in < h) {
			ssize_t n = copy_file_range(src, &in, dst, &out, (size_t)(h - in), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
				      errno == EOPNOTSUPP || errno == EBADF)) {
				char buf[65536];
				ssize_t k = pread(src, buf, (size_t)(h - in) < sizeof(buf) ?
						  (size_t)(h - in) : sizeof(buf), in);
				if (k <= 0)
					return vv_err_sys(k < 0 ? -errno : -EIO,
							  "cannot read fd %d for copying", src);
				int r = vv_pwrite_all(dst, buf, (size_t)k, in);
				if (r < 0)
					return r;
				in += k;
				out = in;
				continue;
			}
			if (n <= 0)
				return vv_err_sys(n < 0 ? -errno : -EIO, "cannot copy fd %d to fd %d",
						  src, dst);
		}
		d = lseek(src, h, SEEK_DATA);
	}
	return 1;
}

int vv_copy_fd(int src, int dst)
{
	off_t saved = lseek(src, 0, SEEK_CUR); /* SEEK_DATA moves it */
	int sr = copy_sparse(src, dst);
	if (saved >= 0)
		(void)lseek(src, saved, SEEK_SET);
	if (sr != 0)
		return sr < 0 ? sr : 0;
	off_t in = 0, out = 0;
	int r = 0;
	for (;;) {
		ssize_t n = copy_file_range(src, &in, dst, &out, 1 << 30, 0);
		if (n > 0)
			continue;
		if (n == 0) {
			/* Some pseudo filesystems report 0 at offset 0 for files that do have
			 * bytes; a plain read settles it (and is free for an empty file). */
			if (in == 0 && (r = copy_rw(src, dst, 0, &in)) < 0)
				return r;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
		    errno == EBADF) {
			/* Not supported here (or between these filesystems): plain copy from
			 * where copy_file_range stopped. */
			r = copy_rw(src, dst, in, &in);
			if (r < 0)
				return r;
			break;
		}
		return vv_err_sys(-errno, "cannot copy fd %d to fd %d", src, dst);
	}
	/* Make dst an exact copy if it was longer than src. */
	struct stat s;
	if (fstat(dst, &s) == 0 && S_ISREG(s.st_mode) && s.st_size > in &&
	    ftruncate(dst, in) < 0)
		return vv_err_sys(-errno, "cannot truncate fd %d", dst);
	return r;
}

DIR *vv_opendir_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

/* One step of vv_path_trusted: owner and write bits of what fd is (path: its name). */
static int trusted_stat(const struct stat *sb, const char *path, uid_t uid, bool last)
{
	const char *what = last ? "the file" : "the directory";
	if (!S_ISLNK(sb->st_mode) && (last ? !S_ISREG(sb->st_mode) : !S_ISDIR(sb->st_mode)))
		return vv_err(-EPERM, "'%s' is not %s", path,
			      last ? "a regular file" : "a directory");
	if (S_ISLNK(sb->st_mode))
		what = "the symbolic link";
	if (sb->st_uid != 0 && sb->st_uid != uid)
		return vv_err(-EPERM, "%s '%s' belongs to uid %lu, not to root or uid %lu", what,
			      path, (unsigned long)sb->st_uid, (unsigned long)uid);
	if (S_ISLNK(sb->st_mode))
		return 0; /* its own mode means nothing */
	bool sticky = !last && (sb->st_mode & S_ISVTX);
	if (((sb->st_mode & S_IWGRP) && sb->st_gid != 0 && !sticky) ||
	    ((sb->st_mode & S_IWOTH) && !sticky))
		return vv_err(-EPERM, "%s '%s' is writable by %s", what, path,
			      (sb->st_mode & S_IWOTH) ? "every user" : "its group");
	return 0;
}

int vv_path_trusted(const char *path, uid_t uid, const char *avoid, char *real)
{
	if (path[0] != '/')
		return vv_err(-EPERM, "'%s' is not an absolute path", path);
	/* rest: what is left to walk; cur: the resolved directory fd points at */
	char *rest = malloc(2 * PATH_MAX), *cur = malloc(PATH_MAX);
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = 0, links = 0;
	struct stat sb;
	if (!rest || !cur)
		r = vv_err(-ENOMEM, "out of memory");
	else if (fd < 0 || fstat(fd, &sb) < 0)
		r = vv_err_sys(-errno, "'/'");
	else if (strlen(path) >= PATH_MAX)
		r = vv_err(-ENAMETOOLONG, "'%.40s...': path too long", path);
	if (r == 0) {
		strcpy(rest, path);
		strcpy(cur, "/");
		r = trusted_stat(&sb, "/", uid, false);
	}
	char *p = rest;
	while (r == 0) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t len = strcspn(p, "/");
		char name[NAME_MAX + 1];
		if (len > NAME_MAX) {
			r = vv_err(-ENAMETOOLONG, "'%s': a name is too long", path);
			break;
		}
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		bool last = !p[strspn(p, "/")];
		if (!strcmp(name, "."))
			continue;
		size_t cl = strlen(cur);
		if (!strcmp(name, "..")) {
			/* the parent was checked on the way down (or is /) */
			char *slash = strrchr(cur, '/');
			if (slash == cur)
				cur[1] = 0;
			else if (slash)
				*slash = 0;
			int nfd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (nfd < 0) {
				r = vv_err_sys(-errno, "'%s'", cur);
				break;
			}
			close(fd);
			fd = nfd;
			if (last)
				r = vv_err(-EPERM, "'%s' is not a regular file", path);
			continue;
		}
		if (cl + 1 + len >= PATH_MAX) {
			r = vv_err(-ENAMETOOLONG, "'%s': path too long", path);
			break;
		}
		if (cl > 1)
			cur[cl++] = '/';
		memcpy(cur + cl, name, len + 1);
		/* never into the caller's own mount: looking it up would wait for the
		 * caller itself */
		if (avoid && !strcmp(cur, avoid)) {
			r = vv_err(-EPERM, "'%s' leads into the mount '%s'", path, avoid);
			break;
		}
		int nfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 || fstat(nfd, &sb) < 0) {
			r = vv_err_sys(-errno, "'%s'", cur);
			if (nfd >= 0)
				close(nfd);
			break;
		}
		if ((r = trusted_stat(&sb, cur, uid, last)) < 0) {
			close(nfd);
			break;
		}
		if (!S_ISLNK(sb.st_mode)) {
			close(fd);
			fd = nfd;
			continue;
		}
		/* a trusted link: walk its target, then what was left */
		char target[PATH_MAX];
		ssize_t tl = readlinkat(nfd, "", target, sizeof(target) - 1);
		close(nfd);
		if (tl < 0 || ++links > 40) {
			r = tl < 0 ? vv_err_sys(-errno, "'%s'", cur)
				   : vv_err(-ELOOP, "'%s': too many symbolic links", path);
			break;
		}
		target[tl] = 0;
		size_t left = strlen(p);
		if ((size_t)tl + 1 + left >= 2 * PATH_MAX) {
			r = vv_err(-ENAMETOOLONG, "'%s': path too long", path);
			break;
		}
		memmove(rest + tl + 1, p, left + 1);
		memcpy(rest, target, (size_t)tl);
		rest[tl] = '/';
		p = rest;
		cur[cl > 1 ? cl - 1 : 1] = 0; /* back to the link's directory */
		if (target[0] == '/') {
			int rfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (rfd < 0) {
				r = vv_err_sys(-errno, "'/'");
				break;
			}
			close(fd);
			fd = rfd;
			strcpy(cur, "/");
		}
	}
	if (r == 0 && strcmp(cur, "/") && !S_ISREG(sb.st_mode))
		r = vv_err(-EPERM, "'%s' is not a regular file", path);
	else if (r == 0 && !strcmp(cur, "/"))
		r = vv_err(-EPERM, "'%s' is not a regular file", path);
	if (r == 0 && real)
		strcpy(real, cur);
	if (fd >= 0)
		close(fd);
	free(rest);
	free(cur);
	return r;
}

const char *vv_base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}
