/*
 * file.c - the FUSE handlers of file content: open and create (a file's first open hands
 * its bytes to the kernel's page cache), read, write and fallocate (straight into the
 * file's stage, without the lock), flush (an edit of a generated file is applied at
 * close), release (the last writer's seals the stage, inode.c's vv_fs_publish) and fsync
 * (syncs the stage where it is). On a read-only mount files open without a message:
 * the first OPEN is answered ENOSYS, and the kernel then sends no OPEN, FLUSH or
 * RELEASE for any file of the mount, which leaves a warm import one round trip per
 * module (Python's isatty) instead of two.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "store/store.h"

struct vv_fh {
	struct vv_node *n;
	struct vv_readsrc src;   /* opened at the first READ (a warm open reads nothing) */
	bool writable;
};

/* Content pushed into the kernel's page cache at a file's first open, so that a
 * cold read costs no READ round trip; larger files are read on demand. */
#define VV_PUSH_MAX (1024 * 1024)

static int fh_new(struct vv_node *n, bool writable, struct vv_fh **out)
{
	struct vv_fh *fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->n = n;
	fh->writable = writable;
	*out = fh;
	return 0;
}

static void fh_free(struct vv_fh *fh)
{
	vv_fdref_put(fh->src.fd);
	free((char *)fh->src.prefix);
	free(fh);
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

/* The first open of a small stored file hands its bytes to the kernel with the OPEN
 * reply still pending (notify_store), so reading it costs no READ round trip (and no
 * atime invalidation). Only the node's very first open does this, before any handle
 * of it exists: no READ of this inode can be in flight holding page locks, and no
 * writer can change the bytes while fs->lk is held. Errors leave it to READ. */
static void push_content(struct vv_fs *fs, fuse_ino_t ino, struct vv_fh *fh)
{
	struct vv_node *n = fh->n;
	bool first = !n->opened;
	n->opened = true;
	if (!first || fh->writable ||
	    (n->kind != VV_REG && n->kind != VV_PYC && n->kind != VV_RECORD) || n->stage ||
	    n->writers || n->size == 0 || n->size > VV_PUSH_MAX)
		return;
	if (vv_node_read_source(n, &fh->src) < 0) {
		free((char *)fh->src.prefix);
		memset(&fh->src, 0, sizeof(fh->src));
		return;
	}
	if (!fh->src.fd) { /* a template (pyc, RECORD): rendered whole */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(fh->src.prefixlen);
		bv.buf[0].mem = (void *)fh->src.prefix;
		fuse_lowlevel_notify_store(fs->se, ino, 0, &bv, 0);
		return;
	}
	size_t len = (size_t)n->size, got = 0;
	char *buf = malloc(len);
	while (buf && got < len) {
		ssize_t k = pread(fh->src.fd->fd, buf + got, len - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	if (buf && got == len) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
		bv.buf[0].mem = buf;
		fuse_lowlevel_notify_store(fs->se, ino, 0, &bv, 0);
	}
	free(buf);
}

void vv_fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = vv_fs_node(ino);
	bool w = wants_write(fi->flags) || (fi->flags & O_TRUNC);
	struct vv_fh *fh = NULL;
	if (fs->ro && n && !w) {
		/* Zero-message open: on a read-only mount nothing needs to know when a file
		 * is opened or closed, and ENOSYS tells the kernel to stop sending OPEN (and
		 * RELEASE) for every file of the mount; READ then comes without a handle. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	int r = !n ? -EISDIR : (w && fs->ro) ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r == 0)
		vv_fs_unborn_visit(req, ino, false);
	if (r == 0 && w) {
		vv_fs_batch_visit(req, ino);
		r = vv_node_open_write(n, fi->flags & O_TRUNC);
		n->wpid = (int)fuse_req_ctx(req)->pid;
		vv_fs_spare_kick(fs);
	}
	if (r == 0 && (r = fh_new(n, w, &fh)) < 0 && w)
		vv_node_close_write(n);
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		push_content(fs, ino, fh);
		fi->fh = (uint64_t)(uintptr_t)fh;
		fi->keep_cache = 1;
		/* FLUSH does work only for written generated files (an edit is applied, or
		 * refused, at close); writes are write-through, so no other close needs it */
		if (!w || n->kind != VV_SYN_FILE)
			fi->noflush = 1;
		if (fuse_reply_open(req, fi) == -ENOENT) {
			if (w)
				vv_node_close_write(n);
			fh_free(fh);
		}
	}
	vv_fs_unlock(fs);
}

void vv_fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *dir, *n = NULL;
	struct vv_fh *fh = NULL;
	int r = fs->ro ? -EROFS : 0;
	vv_fs_lock(fs);
	if (r == 0 && parent == FUSE_ROOT_ID)
		r = vv_fs_root_files_dir(fs, req, name, &dir);
	else if (r == 0)
		vv_fs_unborn_visit(req, parent, true), vv_fs_batch_visit(req, parent),
			r = vv_fs_dir_node(parent, &dir);
	if (r == 0) {
		mode_t m = mode & ~fuse_req_ctx(req)->umask & 07777;
		unsigned how = (fi->flags & O_EXCL ? VV_CREATE_EXCL : 0) |
			       (fi->flags & O_TRUNC ? VV_CREATE_TRUNC : 0);
		r = vv_node_create(dir, name, (uint16_t)m, how, &n);
		if (r == 0)
			n->wpid = (int)fuse_req_ctx(req)->pid;
		if (r == 0 && (r = fh_new(n, true, &fh)) < 0)
			vv_node_close_write(n);
		vv_fs_spare_kick(fs);
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		struct fuse_entry_param e;
		vv_fs_entry(n, &e);
		n->opened = true;
		fi->fh = (uint64_t)(uintptr_t)fh;
		fi->keep_cache = 1;
		if (n->kind != VV_SYN_FILE)
			fi->noflush = 1;
		if (fuse_reply_create(req, &e, fi) == -ENOENT) {
			vv_node_close_write(n);
			fh_free(fh);
		}
	}
	vv_fs_unlock(fs);
}

static void read_fh(fuse_req_t req, struct vv_fs *fs, struct vv_fh *fh, size_t size,
		    off_t off);

void vv_fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct vv_fs *fs = vv_fs_of(req);
	if (fi->fh) {
		read_fh(req, fs, (struct vv_fh *)(uintptr_t)fi->fh, size, off);
		return;
	}
	/* a read-only mount's file, opened without a message (vv_fs_open): a handle for
	 * this READ only */
	struct vv_fh tmp = { .n = vv_fs_node(ino) };
	if (!tmp.n) {
		fuse_reply_err(req, EIO);
		return;
	}
	read_fh(req, fs, &tmp, size, off);
	vv_fdref_put(tmp.src.fd);
	free((char *)tmp.src.prefix);
}

static void read_fh(fuse_req_t req, struct vv_fs *fs, struct vv_fh *fh, size_t size,
		    off_t off)
{
	struct vv_fdref *fd;
	const char *prefix = NULL;
	size_t plen = 0;
	uint64_t skip = 0;
	vv_fs_lock(fs);
	if (fh->n->stage) {
		fd = fh->n->stage;
	} else if (fh->src.fd || fh->src.prefix) {
		fd = fh->src.fd;
		prefix = fh->src.prefix;
		plen = fh->src.prefixlen;
		skip = fh->src.skip;
	} else {
		/* the first READ of a handle (or of a writable one whose stage was
		 * published): open the content now */
		int r = vv_node_read_source(fh->n, &fh->src);
		if (r < 0) {
			vv_fs_unlock(fs);
			fuse_reply_err(req, -r);
			return;
		}
		fd = fh->src.fd;
		prefix = fh->src.prefix;
		plen = fh->src.prefixlen;
		skip = fh->src.skip;
	}
	if (fd)
		vv_fdref_get(fd);
	vv_fs_unlock(fs);

	if (!prefix && fd) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd->fd;
		bv.buf[0].pos = off + (off_t)skip;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		vv_fdref_put(fd);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		vv_fdref_put(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t got = 0;
	if ((uint64_t)off < plen) {
		got = plen - (size_t)off < size ? plen - (size_t)off : size;
		memcpy(buf, prefix + off, got);
	}
	int err = 0;
	while (fd && got < size) {
		off_t pos = off + (off_t)got - (off_t)plen + (off_t)skip;
		ssize_t n = pread(fd->fd, buf + got, size - got, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	vv_fdref_put(fd);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

/* The stage a WRITE or FALLOCATE goes to (referenced), or NULL after replying with the
 * error. */
static struct vv_fdref *stage_of(fuse_req_t req, struct vv_fs *fs, struct vv_fh *fh)
{
	struct vv_fdref *fd = NULL;
	vv_fs_lock(fs);
	int r = fh->writable ? vv_node_write_begin(fh->n, &fd) : -EBADF;
	vv_fs_unlock(fs);
	if (r < 0)
		fuse_reply_err(req, -r);
	return r < 0 ? NULL : fd;
}

void vv_fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)ino;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_fh *fh = (struct vv_fh *)(uintptr_t)fi->fh;
	struct vv_fdref *fd = stage_of(req, fs, fh);
	if (!fd)
		return;
	int r = 0;
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(fd->fd, buf + done, size - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		done += (size_t)n;
	}
	vv_fs_lock(fs);
	if (done)
		vv_node_write_end(fh->n, (uint64_t)off + done);
	if (r < 0) /* ENOSPC: never publish half a file (unless the writer retries) */
		vv_node_write_failed(fh->n, r, (uint64_t)off + done);
	else
		vv_node_write_ok(fh->n, (uint64_t)off, (uint64_t)off + done);
	vv_fs_unlock(fs);
	vv_fdref_put(fd);
	if (r < 0 && !done)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, done);
}

/* fallocate(2) mode 0 (reserve blocks, extend the size): done on the stage like a
 * write. Other modes (punch holes, collapse, zero ranges) are not offered. */
void vv_fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	(void)ino;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_fh *fh = (struct vv_fh *)(uintptr_t)fi->fh;
	if (mode != 0) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	struct vv_fdref *fd = stage_of(req, fs, fh);
	if (!fd)
		return;
	int r = posix_fallocate(fd->fd, off, len);
	vv_fs_lock(fs);
	if (r == 0)
		vv_node_write_end(fh->n, (uint64_t)off + (uint64_t)len);
	vv_fs_unlock(fs);
	vv_fdref_put(fd);
	fuse_reply_err(req, r);
}

void vv_fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_fh *fh = (struct vv_fh *)(uintptr_t)fi->fh;
	if (!fh) { /* opened without a message (read-only mount): no FLUSH either */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	int r = 0;
	vv_fs_lock(fs);
	if (fh->writable && fh->n->kind == VV_SYN_FILE) {
		r = vv_node_flush(fh->n);
		if (r < 0 && r != -ENOMEM)
			fprintf(stderr, "venvfs: env '%s': %s\n", fh->n->env->name, vv_errmsg());
		/* generated content replaces what the kernel cached from the write */
		vv_fs_inval_env(fs, fh->n->env);
	}
	vv_fs_unlock(fs);
	fuse_reply_err(req, -r);
}

void vv_fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_fh *fh = (struct vv_fh *)(uintptr_t)fi->fh;
	if (!fh) { /* the kernel sends none for a file opened without a message */
		fuse_reply_err(req, 0);
		return;
	}
	vv_fs_lock(fs);
	if (fh->writable) {
		vv_node_close_write(fh->n);
		if (fh->n->writers == 0)
			vv_fs_publish(fs, fh->n);
	}
	fh_free(fh);
	vv_fs_unlock(fs);
	fuse_reply_err(req, 0);
}

void vv_fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	struct vv_fs *fs = vv_fs_of(req);
	struct vv_node *n = vv_fs_node(ino);
	int r = 0;
	vv_fs_lock(fs);
	/* fsync costs what was written: the stage (named by the journal since its first
	 * byte) is synced where it is, never stored as a new object. A stage with a failed
	 * write reports that error, as ext4 would. */
	struct vv_fdref *stage = NULL;
	if (n && n->stage && n->stage->stage[0]) {
		r = n->stage_err;
		stage = n->stage;
		vv_fdref_get(stage);
	}
	vv_fs_unlock(fs);
	if (stage) {
		bool dir = !__atomic_load_n(&stage->named_synced, __ATOMIC_ACQUIRE);
		if (r == 0 && (r = vv_odb_stage_sync(&fs->st->odb, stage->fd, dir)) < 0)
			fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		if (r == 0 && dir)
			__atomic_store_n(&stage->named_synced, true, __ATOMIC_RELEASE);
	}
	vv_fs_lock(fs);
	if (r == 0 && n && !n->unlinked)
		r = vv_node_synced(n, stage);
	vv_fs_unlock(fs);
	if (stage)
		vv_fdref_put(stage);
	fuse_reply_err(req, -r);
}
