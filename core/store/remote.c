/*
 * remote.c - fetching a published store's objects into a local cache store, verified
 * before they are linked (remote.h).
 *
 * A fetched body streams into an unnamed temp file of the cache while it is hashed;
 * only when the hash is the object's name are its bytes made durable (fdatasync) and
 * linked under that name (odb.h vv_odb_link_synced), so a crash leaves no object or a
 * whole one, and a tampered body never gets a name. Two threads missing the same
 * object both fetch it; the second link finds the first and is a no-op.
 */
#include "store/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/lru.h"
#include "store/odb.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fsutil.h"

/* The biggest object a client fetches (a wheel's largest file is far below this; the
 * bound keeps a broken server from filling the cache's disk with one body). */
#define OBJECT_MAX ((uint64_t)16 << 30)
#define HEAD_MAX 4096

int vv_remote_open(struct vv_remote **out, const char *url, struct vv_odb *odb,
		   const struct vv_http_opts *http)
{
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return vv_err(-EINVAL, "remote '%s': not an http:// or https:// URL", url);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	int r = vv_http_init();
	if (r < 0)
		return r;
	struct vv_remote *rm = calloc(1, sizeof(*rm));
	if (!rm || !(rm->url = strndup(url, n))) {
		free(rm);
		return vv_err(-ENOMEM, "out of memory");
	}
	rm->odb = odb;
	pthread_mutex_init(&rm->lk, NULL);
	if (http)
		rm->http = *http;
	*out = rm;
	return 0;
}

void vv_remote_close(struct vv_remote *r)
{
	if (!r)
		return;
	if (r->odb && r->odb->miss_arg == r) {
		r->odb->miss = NULL;
		r->odb->hit = NULL;
		r->odb->miss_arg = NULL;
	}
	pthread_mutex_destroy(&r->lk);
	vv_lru_free(r->lru);
	free(r->url);
	free(r);
}

int vv_remote_head_parse(const char *buf, size_t len, vv_oid *out)
{
	size_t ml = strlen(VV_REMOTE_HEAD_MAGIC);
	if (len != ml + 1 + VV_OID_HEX + 1 || memcmp(buf, VV_REMOTE_HEAD_MAGIC, ml) ||
	    buf[ml] != ' ' || buf[len - 1] != '\n' ||
	    vv_oid_from_hex(out, buf + ml + 1, VV_OID_HEX) < 0)
		return vv_err(-EINVAL, "not a venvfs HEAD (\"%s <64 hex digits>\")",
			      VV_REMOTE_HEAD_MAGIC);
	return 0;
}

void vv_remote_head_format(const vv_oid *id, char buf[VV_REMOTE_HEAD_SIZE + 1])
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(id, hex);
	snprintf(buf, VV_REMOTE_HEAD_SIZE + 1, "%s %s\n", VV_REMOTE_HEAD_MAGIC, hex);
}

/* "BASE/rel", malloc'd. */
static char *url_of(const struct vv_remote *r, const char *rel)
{
	size_t n = strlen(r->url) + strlen(rel) + 2;
	char *u = malloc(n);
	if (u)
		snprintf(u, n, "%s/%s", r->url, rel);
	else
		vv_err(-ENOMEM, "out of memory");
	return u;
}

int vv_remote_head(struct vv_remote *r, vv_oid *out)
{
	char *url = url_of(r, "HEAD");
	if (!url)
		return -ENOMEM;
	char *buf;
	size_t len;
	int rc = vv_http_get_buf(url, &r->http, HEAD_MAX, &buf, &len);
	if (rc == 0) {
		rc = vv_remote_head_parse(buf, len, out);
		free(buf);
		if (rc < 0)
			vv_err_prefix(rc, "%s", url);
	}
	free(url);
	return rc;
}

struct sink {
	int fd;
	vv_hasher *h;
	const char *url;
};

static int to_file(const void *buf, size_t len, void *arg)
{
	struct sink *s = arg;
	vv_hasher_update(s->h, buf, len);
	int r = vv_write_all(s->fd, buf, len);
	if (r < 0)
		return vv_err_sys(r, "cannot write to the cache");
	return 0;
}

/* A failure remembered for oid (or the server's), still held: its code, message set. */
static int held_failure(struct vv_remote *r, const vv_oid *oid)
{
	int64_t now = vv_mono_ns();
	int rc = 0;
	pthread_mutex_lock(&r->lk);
	if (r->down.at_ns && now - r->down.at_ns < VV_REMOTE_FAIL_HOLD_NS) {
		rc = vv_err(r->down.code, "%s", r->down.msg);
	} else {
		for (size_t i = 0; i < VV_REMOTE_FAIL_RING; i++) {
			struct vv_remote_fail *f = &r->fails[i];
			if (f->at_ns && now - f->at_ns < VV_REMOTE_FAIL_HOLD_NS &&
			    vv_oid_eq(&f->oid, oid)) {
				rc = vv_err(f->code, "%s", f->msg);
				break;
			}
		}
	}
	pthread_mutex_unlock(&r->lk);
	return rc;
}

static void remember_failure(struct vv_remote *r, const vv_oid *oid, int code)
{
	pthread_mutex_lock(&r->lk);
	struct vv_remote_fail *f = code == -EHOSTUNREACH
		? &r->down : &r->fails[r->nextfail++ % VV_REMOTE_FAIL_RING];
	f->oid = *oid;
	f->at_ns = vv_mono_ns();
	f->code = code;
	snprintf(f->msg, sizeof(f->msg), "%s", vv_errmsg());
	pthread_mutex_unlock(&r->lk);
}

int vv_remote_fetch(struct vv_remote *r, const vv_oid *oid, bool *fresh)
{
	if (fresh)
		*fresh = false;
	int r0 = vv_odb_has(r->odb, oid);
	if (r0 != 0)
		return r0 < 0 ? r0 : 0;
	if ((r0 = held_failure(r, oid)) < 0)
		return r0;
	if (fresh)
		*fresh = true;
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, rel);
	char *url = url_of(r, rel);
	if (!url)
		return -ENOMEM;
	int fd = vv_odb_tmpfile(r->odb);
	if (fd < 0) {
		vv_err_prefix(fd, "fetching %s", url);
		free(url);
		return fd;
	}
	struct sink s = { .fd = fd, .h = vv_hasher_new(), .url = url };
	if (!s.h) {
		close(fd);
		free(url);
		return vv_err(-ENOMEM, "out of memory");
	}
	int rc = vv_http_get(url, &r->http, OBJECT_MAX, to_file, &s);
	vv_oid got;
	vv_hasher_final(s.h, &got);
	vv_hasher_free(s.h);
	if (rc == 0 && !vv_oid_eq(&got, oid))
		rc = vv_err(-EUCLEAN, "GET %s: the body does not match its name (SHA-256): "
			    "tampered with or damaged on the server, refused", url);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = vv_err_sys(-errno, "fetching %s: cannot sync the cache", url);
	if (rc == 0 && (rc = vv_odb_link_synced(r->odb, fd, oid)) < 0)
		rc = vv_err_prefix(rc, "fetching %s", url);
	if (rc == 0) {
		struct stat sb;
		atomic_fetch_add(&r->fetched, 1);
		if (fstat(fd, &sb) == 0) {
			atomic_fetch_add(&r->fetched_bytes, (uint64_t)sb.st_size);
			if (r->lru)
				vv_lru_add(r->lru, oid, (uint64_t)sb.st_blocks * 512);
		}
	} else {
		atomic_fetch_add(&r->failed, 1);
		if (rc != -ENOMEM)
			remember_failure(r, oid, rc);
	}
	close(fd);
	free(url);
	return rc;
}

static int on_miss(void *arg, const vv_oid *oid)
{
	struct vv_remote *r = arg;
	bool fresh;
	int rc = vv_remote_fetch(r, oid, &fresh);
	if (rc >= 0)
		return 0;
	if (r->log && fresh)
		r->log(vv_errmsg());
	return rc == -ENOMEM ? rc : vv_err_prefix(-EIO, "remote");
}

static void on_hit(void *arg, const vv_oid *oid)
{
	struct vv_remote *r = arg;
	vv_lru_touch(r->lru, oid);
}

int vv_remote_bound(struct vv_remote *r, uint64_t limit)
{
	return vv_lru_open(&r->lru, r->odb, limit);
}

void vv_remote_attach(struct vv_remote *r)
{
	r->odb->miss_arg = r;
	r->odb->miss = on_miss;
	if (r->lru)
		r->odb->hit = on_hit;
}
