/*
 * fsutil.h - small dirfd-relative file helpers shared by the store, the env model and
 * the tools. Everything is *at()-relative so nothing depends on the cwd (the daemon
 * chdirs to / when it daemonizes) and nothing follows a symlink out of the store.
 * All functions return 0 or -errno and set the thread's message (error.h).
 */
#ifndef VV_FSUTIL_H
#define VV_FSUTIL_H

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

/* write(2)/pwrite(2) until done, retrying EINTR. */
int vv_write_all(int fd, const void *buf, size_t len);
int vv_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* pread(2) exactly len bytes at off, retrying EINTR; a file that ends first is -EIO. */
int vv_pread_all(int fd, void *buf, size_t len, off_t off);

/* Read a whole file (O_NOFOLLOW) into a malloc'd, NUL-terminated buffer. Files larger
 * than maxlen give -EFBIG. *len_out may be NULL. */
int vv_read_file_at(int dirfd, const char *path, size_t maxlen, char **out, size_t *len_out);

/* Replace dirfd/path atomically with buf: temp file in the same directory, fsync,
 * rename over, fsync the directory. Readers see the old or the new bytes, never a mix. */
int vv_write_file_atomic(int dirfd, const char *path, const void *buf, size_t len, mode_t mode);

/* fsync a directory (path relative to dirfd; "." for dirfd itself). */
int vv_fsync_dir_at(int dirfd, const char *path);

/* opendir of dirfd/path (path "." for dirfd itself) on a new open file description, so
 * listings never share a directory offset. Never follows a final symlink. NULL with
 * errno set on failure. */
DIR *vv_opendir_at(int dirfd, const char *path);

/* mkdir -p, relative to dirfd. Existing directories are fine. */
int vv_mkdir_p_at(int dirfd, const char *path, mode_t mode);

/* rm -rf relative to dirfd, never following symlinks. Missing path is fine. */
int vv_rm_rf_at(int dirfd, const char *path);

/* Copy all bytes of src (from offset 0) to dst (from offset 0), which ends up exactly
 * as long; uses copy_file_range where it can, and a sparse src's holes stay holes. */
int vv_copy_fd(int src, int dst);

/* May a process running as root (or as uid) execute the file at path without letting
 * another user choose what runs? Resolves path like realpath(3) into real (PATH_MAX
 * bytes, may be NULL), following only symbolic links owned by root or uid; the file
 * and every directory on the way must be owned by root or uid, and none writable by a
 * group other than root's or by others, except a directory with the sticky bit (like
 * /tmp: others cannot replace what is in it). Walked with O_PATH | O_NOFOLLOW from
 * "/"; the directory `avoid` (may be NULL: the caller's own mount point) is never
 * entered. 0, or -EPERM with a message naming the component and the reason (-errno
 * if it cannot be reached). */
int vv_path_trusted(const char *path, uid_t uid, const char *avoid, char *real);

/* The last component of path, for messages: what follows the last '/', or the whole
 * path when it has no '/' or ends in one. Points into path. */
const char *vv_base_name(const char *path);

#endif
