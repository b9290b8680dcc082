/*
 * damaged.c - the damaged-object list (STORE/damaged) and the checked object open
 * that turns a missing, truncated or known-damaged object into EIO (see damaged.h).
 *
 * The daemon keeps one state per store: the list as last read, the file's identity
 * (inode, size, mtime) to notice a new one, and the ids already logged, so a broken
 * object read a thousand times is reported once.
 */
#include "store/damaged.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/handle.h"
#include "store/odb.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/vec.h"

/* ---- oid sets -------------------------------------------------------------------- */

int vv_oidset_add(struct vv_oidset *s, const vv_oid *oid)
{
	if (VV_GROW(s->ids, s->n, s->cap, 16) < 0)
		return vv_err(-ENOMEM, "out of memory for an object list");
	s->ids[s->n++] = *oid;
	return 0;
}

static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(vv_oid));
}

void vv_oidset_sort(struct vv_oidset *s)
{
	if (s->n < 2)
		return;
	qsort(s->ids, s->n, sizeof(*s->ids), oid_cmp);
	size_t w = 1;
	for (size_t i = 1; i < s->n; i++)
		if (!vv_oid_eq(&s->ids[i], &s->ids[w - 1]))
			s->ids[w++] = s->ids[i];
	s->n = w;
}

bool vv_oidset_has(const struct vv_oidset *s, const vv_oid *oid)
{
	return s->n && bsearch(oid, s->ids, s->n, sizeof(*s->ids), oid_cmp) != NULL;
}

void vv_oidset_release(struct vv_oidset *s)
{
	free(s->ids);
	memset(s, 0, sizeof(*s));
}

/* ---- the list file ----------------------------------------------------------------- */

static int parse_list(const char *buf, size_t len, const char *shown, struct vv_oidset *out)
{
	size_t line = 0;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len;
		line++;
		size_t l = end - i;
		if (l) {
			vv_oid oid;
			if (l != VV_OID_HEX || vv_oid_from_hex(&oid, buf + i, l) < 0)
				return vv_err(-EUCLEAN, "%s:%zu: not an object id", shown, line);
			int r = vv_oidset_add(out, &oid);
			if (r < 0)
				return r;
		}
		i = end + 1;
	}
	vv_oidset_sort(out);
	return 0;
}

int vv_damaged_load(struct vv_store *st, struct vv_oidset *out)
{
	memset(out, 0, sizeof(*out));
	char *buf = NULL;
	size_t len = 0;
	char shown[4096];
	snprintf(shown, sizeof(shown), "%s/%s", st->path, VV_DAMAGED_FILE);
	int r = vv_read_file_at(st->dirfd, VV_DAMAGED_FILE, 64u << 20, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return vv_err_prefix(r, "reading '%s'", shown);
	r = parse_list(buf, len, shown, out);
	free(buf);
	if (r < 0)
		vv_oidset_release(out);
	return r;
}

int vv_damaged_save(struct vv_store *st, struct vv_oidset *s)
{
	vv_oidset_sort(s);
	if (!s->n) {
		if (unlinkat(st->dirfd, VV_DAMAGED_FILE, 0) < 0) {
			if (errno == ENOENT)
				return 0;
			return vv_err_sys(-errno, "cannot remove '%s/%s'", st->path,
					  VV_DAMAGED_FILE);
		}
		return vv_fsync_dir_at(st->dirfd, ".");
	}
	char *buf = malloc(s->n * (VV_OID_HEX + 1));
	if (!buf)
		return vv_err(-ENOMEM, "out of memory for the damaged list");
	for (size_t i = 0; i < s->n; i++) {
		vv_oid_hex(&s->ids[i], buf + i * (VV_OID_HEX + 1));
		buf[i * (VV_OID_HEX + 1) + VV_OID_HEX] = '\n';
	}
	int r = vv_write_file_atomic(st->dirfd, VV_DAMAGED_FILE, buf, s->n * (VV_OID_HEX + 1),
				     0644);
	free(buf);
	if (r < 0)
		return vv_err_prefix(r, "writing '%s/%s'", st->path, VV_DAMAGED_FILE);
	return 0;
}

/* ---- checked open (daemon) ------------------------------------------------------- */

struct vv_damaged_state {
	pthread_mutex_t lk;
	struct vv_oidset list;   /* as last read */
	struct vv_oidset logged; /* ids reported already (unsorted, small) */
	bool have_sig;
	struct stat sig;         /* identity of the file read; !have_sig: none */
};

struct vv_damaged_state *vv_damaged_state_new(void)
{
	struct vv_damaged_state *s = calloc(1, sizeof(*s));
	if (s)
		pthread_mutex_init(&s->lk, NULL);
	return s;
}

/* The store's state (made by vv_store_open); NULL only for a handle made otherwise,
 * which then gets no checks beyond the open. */
static struct vv_damaged_state *state_of(struct vv_store *st)
{
	return st->damaged;
}

void vv_damaged_state_free(struct vv_damaged_state *s)
{
	if (!s)
		return;
	vv_oidset_release(&s->list);
	vv_oidset_release(&s->logged);
	pthread_mutex_destroy(&s->lk);
	free(s);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Re-read the list if the file changed; called with s->lk held. */
static void refresh(struct vv_store *st, struct vv_damaged_state *s)
{
	struct stat sb;
	if (fstatat(st->dirfd, VV_DAMAGED_FILE, &sb, 0) < 0) {
		if (s->have_sig || s->list.n) {
			vv_oidset_release(&s->list);
			s->have_sig = false;
		}
		return;
	}
	if (s->have_sig && same_file(&sb, &s->sig))
		return;
	struct vv_oidset fresh;
	if (vv_damaged_load(st, &fresh) < 0) {
		/* keep the old list: better some checks than none */
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		s->sig = sb;
		s->have_sig = true;
		return;
	}
	vv_oidset_release(&s->list);
	s->list = fresh;
	s->sig = sb;
	s->have_sig = true;
}

/* Log "why" for oid once. */
static void log_once(struct vv_damaged_state *s, const vv_oid *oid, const char *what,
		     const char *why)
{
	for (size_t i = 0; i < s->logged.n; i++)
		if (vv_oid_eq(&s->logged.ids[i], oid))
			return;
	if (s->logged.n < 100000)
		vv_oidset_add(&s->logged, oid);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	fprintf(stderr, "venvfs: object %s%s%s%s %s; reads fail with EIO (see venvctl fsck "
		"--repair)\n", hex, what ? " (" : "", what ? what : "", what ? ")" : "", why);
}

int vv_obj_report_bad(struct vv_store *st, const vv_oid *oid, const char *what,
		      const char *why)
{
	struct vv_damaged_state *s = state_of(st);
	if (s) {
		pthread_mutex_lock(&s->lk);
		log_once(s, oid, what, why);
		pthread_mutex_unlock(&s->lk);
	}
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(oid, hex);
	return vv_err(-EIO, "object %s: %s", hex, why);
}

int vv_obj_open_checked(struct vv_store *st, const vv_oid *oid, uint64_t size,
			const char *what)
{
	struct vv_damaged_state *s = state_of(st);
	int fd = vv_odb_open_obj(&st->odb, oid);
	const char *why = NULL;
	char whybuf[128];
	bool listed = false;
	if (s) {
		pthread_mutex_lock(&s->lk);
		refresh(st, s);
		listed = vv_oidset_has(&s->list, oid);
		pthread_mutex_unlock(&s->lk);
	}
	if (fd < 0) {
		if ((fd != -ENOENT && fd != -EIO) || st->odb.miss)
			return fd; /* a remote's fetch has said why (remote.h) */
		why = fd == -ENOENT ? "is missing from the store" : "cannot be opened";
	} else {
		struct stat sb;
		if (fstat(fd, &sb) < 0) {
			why = "cannot be read";
		} else if (size != UINT64_MAX && (uint64_t)sb.st_size != size) {
			snprintf(whybuf, sizeof(whybuf), "has %llu bytes where its tree says %llu",
				 (unsigned long long)sb.st_size, (unsigned long long)size);
			why = whybuf;
		} else if (listed) {
			vv_oid got;
			uint64_t n;
			if (vv_hash_fd(fd, &got, &n) < 0)
				why = "cannot be read";
			else if (!vv_oid_eq(&got, oid))
				why = "is corrupt (listed in the store's damaged list)";
		}
		if (why)
			close(fd);
	}
	if (!why)
		return fd;
	return vv_obj_report_bad(st, oid, what, why);
}
