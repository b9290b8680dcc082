/*
 * remote.c - fetching a published store's objects into a local cache store, verified
 * before they are linked (remote.h).
 *
 * Fetched bodies stream into unnamed temp files of the cache while they are hashed;
 * only a body that hashes to its object's name is linked under that name (odb.h
 * vv_odb_link_synced), so a tampered body never gets a name. A batch runs its
 * transfers side by side (http.h). Objects some thread is fetching are noted, and
 * another thread that wants one waits for that fetch instead of starting its own.
 */
#include "store/remote.h"

#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/lru.h"
#include "store/odb.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/vec.h"

/* The biggest object a client fetches (a wheel's largest file is far below this; the
 * bound keeps a broken server from filling the cache's disk with one body). */
#define OBJECT_MAX ((uint64_t)16 << 30)
#define HEAD_MAX 4096
#define MARKER "unsynced"

int vv_remote_open(struct vv_remote **out, const char *url, struct vv_odb *odb,
		   const struct vv_http_opts *http)
{
	size_t skip = !strncasecmp(url, "http://", 7) ? 7 : !strncasecmp(url, "https://", 8) ? 8 : 0;
	if (!skip)
		return vv_err(-EINVAL, "remote '%s': not an http:// or https:// URL", url);
	size_t n = strlen(url);
	while (n > skip && url[n - 1] == '/')
		n--;
	if (n == skip || url[skip] == '/')
		return vv_err(-EINVAL, "remote '%s': no host in the URL", url);
	int r = vv_http_init();
	if (r < 0)
		return r;
	struct vv_remote *rm = calloc(1, sizeof(*rm));
	if (!rm || !(rm->url = strndup(url, n))) {
		free(rm);
		return vv_err(-ENOMEM, "out of memory");
	}
	rm->odb = odb;
	rm->cachefd = -1;
	pthread_mutex_init(&rm->lk, NULL);
	pthread_cond_init(&rm->cv, NULL);
	if (http)
		rm->http = *http;
	*out = rm;
	return 0;
}

void vv_remote_close(struct vv_remote *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lk);
	pthread_cond_destroy(&r->cv);
	free(r->inflight);
	free(r->url);
	free(r);
}

int vv_remote_head_parse(const char *buf, size_t len, vv_oid *out)
{
	size_t ml = strlen(VV_REMOTE_HEAD_MAGIC);
	bool lower = len == ml + 1 + VV_OID_HEX + 1;
	for (size_t i = ml + 1; lower && i < len - 1; i++)
		lower = (buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f');
	if (!lower || memcmp(buf, VV_REMOTE_HEAD_MAGIC, ml) || buf[ml] != ' ' ||
	    buf[len - 1] != '\n' || vv_oid_from_hex(out, buf + ml + 1, VV_OID_HEX) < 0)
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

/* A failure remembered for oid (or the server's), still held: its code, message set.
 * Called with r->lk held. */
static int held_failure(struct vv_remote *r, const vv_oid *oid, int64_t now)
{
	if (r->down.at_ns && now - r->down.at_ns < VV_REMOTE_FAIL_HOLD_NS)
		return vv_err(r->down.code, "%s", r->down.msg);
	for (size_t i = 0; i < VV_REMOTE_FAIL_RING; i++) {
		struct vv_remote_fail *f = &r->fails[i];
		if (f->at_ns && now - f->at_ns < VV_REMOTE_FAIL_HOLD_NS &&
		    vv_oid_eq(&f->oid, oid))
			return vv_err(f->code, "%s", f->msg);
	}
	return 0;
}

/* Called with r->lk held. */
static void remember_failure(struct vv_remote *r, const vv_oid *oid, int code,
			     const char *msg)
{
	struct vv_remote_fail *f = code == -EHOSTUNREACH
		? &r->down : &r->fails[r->nextfail++ % VV_REMOTE_FAIL_RING];
	f->oid = *oid;
	f->at_ns = vv_mono_ns();
	f->code = code;
	snprintf(f->msg, sizeof(f->msg), "%s", msg);
}

static bool inflight_has(const struct vv_remote *r, const vv_oid *oid)
{
	for (size_t i = 0; i < r->ninflight; i++)
		if (vv_oid_eq(&r->inflight[i], oid))
			return true;
	return false;
}

static void inflight_drop(struct vv_remote *r, const vv_oid *oid)
{
	for (size_t i = 0; i < r->ninflight; i++)
		if (vv_oid_eq(&r->inflight[i], oid)) {
			r->inflight[i] = r->inflight[--r->ninflight];
			return;
		}
}

/* One object of a batch being fetched. */
struct item {
	size_t idx;       /* into the caller's oids */
	int fd;           /* its temp file */
	vv_hasher *h;
	char *url;
	uint64_t disk;    /* 1 + its disk bytes once linked; 0 if not */
};

static int to_file(const void *buf, size_t len, void *arg)
{
	struct item *it = arg;
	vv_hasher_update(it->h, buf, len);
	int r = vv_write_all(it->fd, buf, len);
	if (r < 0)
		return vv_err_sys(r, "cannot write to the cache");
	return 0;
}

/* "BASE/objects/ab/cd...", malloc'd (NULL and message on failure). */
static char *object_url(const struct vv_remote *r, const vv_oid *oid)
{
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, rel);
	return url_of(r, rel);
}

/* Fetch, verify and link the items (all in flight, owned by this call). */
static void fetch_items(struct vv_remote *r, const vv_oid *oids, struct item *its, size_t n,
			int *rcs, char (*msgs)[384])
{
	struct vv_http_job *jobs = calloc(n, sizeof(*jobs));
	int rc = jobs ? 0 : vv_err(-ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct item *it = &its[i];
		if ((it->fd = vv_odb_tmpfile(r->odb)) < 0 || !(it->h = vv_hasher_new()) ||
		    !(it->url = object_url(r, &oids[it->idx]))) {
			rc = it->fd < 0 ? it->fd : vv_err(-ENOMEM, "out of memory");
			break;
		}
		jobs[i] = (struct vv_http_job){ .url = it->url, .sink = to_file, .arg = it,
						.maxlen = OBJECT_MAX };
	}
	if (rc == 0)
		rc = vv_http_get_many(jobs, n, &r->http);
	for (size_t i = 0; i < n; i++) {
		struct item *it = &its[i];
		const vv_oid *oid = &oids[it->idx];
		int e = rc;
		char *msg = msgs[it->idx];
		if (e < 0) {
			snprintf(msg, 384, "fetching objects: %s", vv_errmsg());
		} else if ((e = jobs[i].rc) < 0) {
			snprintf(msg, 384, "%s", jobs[i].msg);
		} else {
			vv_oid got;
			vv_hasher_final(it->h, &got);
			if (!vv_oid_eq(&got, oid)) {
				e = -EUCLEAN;
				snprintf(msg, 384, "GET %s: the body does not match its name (SHA-256): "
					 "tampered with or damaged on the server, refused", it->url);
			} else if ((e = vv_odb_link_synced(r->odb, it->fd, oid)) < 0) {
				snprintf(msg, 384, "fetching %s: %s", it->url, vv_errmsg());
			}
		}
		rcs[it->idx] = e;
		struct stat sb;
		it->disk = 0;
		if (e == 0 && fstat(it->fd, &sb) == 0) {
			atomic_fetch_add(&r->fetched, 1);
			atomic_fetch_add(&r->fetched_bytes, (uint64_t)sb.st_size);
			it->disk = (uint64_t)sb.st_blocks * 512 + 1;
		} else if (e < 0) {
			atomic_fetch_add(&r->failed, 1);
		}
		if (it->fd >= 0)
			close(it->fd);
		if (it->h)
			vv_hasher_free(it->h);
		free(it->url);
	}
	/* into the bound's use order last to first: the first, the object a reader is
	 * waiting for, is the newest and the one an add never removes (lru.h) */
	for (size_t i = n; i-- > 0 && r->lru;)
		if (its[i].disk)
			vv_lru_add(r->lru, &oids[its[i].idx], its[i].disk - 1);
	free(jobs);
}

int vv_remote_fetch_many(struct vv_remote *r, const vv_oid *oids, size_t n, int *rcs,
			 bool *fresh)
{
	if (fresh)
		*fresh = false;
	int *own = NULL;
	struct item *its = calloc(n ? n : 1, sizeof(*its));
	char (*msgs)[384] = calloc(n ? n : 1, sizeof(*msgs));
	if (!rcs)
		rcs = own = calloc(n ? n : 1, sizeof(*rcs));
	if (!its || !msgs || !rcs) {
		free(its);
		free(msgs);
		free(own);
		return vv_err(-ENOMEM, "out of memory");
	}
	/* which to fetch: missing here, not held as failed, not in another's hands */
	size_t k = 0;
	int64_t now = vv_mono_ns();
	pthread_mutex_lock(&r->lk);
	for (size_t i = 0; i < n; i++) {
		rcs[i] = 1; /* 1: wait for another thread's fetch */
		if (inflight_has(r, &oids[i]))
			continue;
		int h = vv_odb_has(r->odb, &oids[i]);
		if (h != 0) {
			rcs[i] = h < 0 ? h : 0;
			if (h < 0)
				snprintf(msgs[i], 384, "%s", vv_errmsg());
			continue;
		}
		if ((rcs[i] = held_failure(r, &oids[i], now)) < 0) {
			snprintf(msgs[i], 384, "%s", vv_errmsg());
			continue;
		}
		bool dup = false; /* the same id twice in one batch */
		for (size_t j = 0; j < k && !dup; j++)
			dup = vv_oid_eq(&oids[its[j].idx], &oids[i]);
		if (dup) {
			rcs[i] = 1;
			continue;
		}
		if (VV_GROW(r->inflight, r->ninflight, r->capinflight, 64) < 0) {
			rcs[i] = -ENOMEM;
			snprintf(msgs[i], 384, "out of memory");
			continue;
		}
		r->inflight[r->ninflight++] = oids[i];
		its[k++] = (struct item){ .idx = i, .fd = -1 };
	}
	pthread_mutex_unlock(&r->lk);

	if (k) {
		if (fresh)
			*fresh = true;
		fetch_items(r, oids, its, k, rcs, msgs);
		pthread_mutex_lock(&r->lk);
		for (size_t j = 0; j < k; j++) {
			size_t i = its[j].idx;
			if (rcs[i] < 0 && rcs[i] != -ENOMEM)
				remember_failure(r, &oids[i], rcs[i], msgs[i]);
			inflight_drop(r, &oids[i]);
		}
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->lk);
		/* every failure is logged once, when it happens */
		for (size_t j = 0; j < k && r->log; j++)
			if (rcs[its[j].idx] < 0)
				r->log(msgs[its[j].idx]);
	}
	/* the ones other threads (or this batch) were fetching: wait, then look */
	for (size_t i = 0; i < n; i++) {
		if (rcs[i] != 1)
			continue;
		pthread_mutex_lock(&r->lk);
		while (inflight_has(r, &oids[i]))
			pthread_cond_wait(&r->cv, &r->lk);
		int h = vv_odb_has(r->odb, &oids[i]);
		rcs[i] = h == 1 ? 0 : h < 0 ? h : held_failure(r, &oids[i], vv_mono_ns());
		if (rcs[i] == 0 && h != 1)
			rcs[i] = vv_err(-EIO, "object fetched by another thread is gone");
		if (rcs[i] < 0)
			snprintf(msgs[i], 384, "%s", vv_errmsg());
		pthread_mutex_unlock(&r->lk);
	}
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (rcs[i] < 0)
			rc = vv_err(rcs[i], "%s", msgs[i]);
	free(its);
	free(msgs);
	free(own);
	return rc;
}

int vv_remote_fetch(struct vv_remote *r, const vv_oid *oid, bool *fresh)
{
	int rc;
	int r0 = vv_remote_fetch_many(r, oid, 1, &rc, fresh);
	return r0 < 0 ? r0 : rc;
}

/* ---- the cache's marker ---- */

static int boot_id(char buf[64])
{
	char *b;
	size_t len;
	int r = vv_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 63, &b, &len);
	if (r < 0)
		return r;
	while (len && (b[len - 1] == '\n' || b[len - 1] == ' '))
		len--;
	memcpy(buf, b, len);
	buf[len] = '\0';
	free(b);
	return 0;
}

struct wipe {
	struct vv_odb *odb;
	int err;
};

static int wipe_one(const struct vv_odb_entry *e, void *arg)
{
	struct wipe *w = arg;
	if (e->kind != VV_ODB_OBJECT)
		return 0;
	int r = vv_odb_drop(w->odb, &e->oid);
	if (r < 0)
		w->err = r;
	return 0;
}

int vv_remote_cache_begin(struct vv_remote *r, int cachefd)
{
	char now[64] = "", *old = NULL;
	size_t len = 0;
	if (boot_id(now) < 0)
		now[0] = '\0'; /* no boot id: every earlier marker counts as another boot */
	int rc = vv_read_file_at(cachefd, MARKER, 63, &old, &len);
	if (rc == 0) {
		bool same = *now && len == strlen(now) + 1 && !memcmp(old, now, len - 1);
		free(old);
		if (!same) {
			struct wipe w = { .odb = r->odb };
			if ((rc = vv_odb_each(r->odb, 0, wipe_one, &w)) == 0)
				rc = w.err;
			if (rc < 0)
				return vv_err_prefix(rc, "emptying the cache after a crash");
		}
	} else if (rc != -ENOENT) {
		return rc;
	}
	char text[80];
	int tl = snprintf(text, sizeof(text), "%s\n", now);
	if ((rc = vv_write_file_atomic(cachefd, MARKER, text, (size_t)tl, 0644)) < 0)
		return rc;
	r->cachefd = cachefd;
	return 0;
}

int vv_remote_cache_end(struct vv_remote *r)
{
	if (r->cachefd < 0)
		return 0;
	int rc = vv_odb_sync(r->odb);
	if (rc == 0 && unlinkat(r->cachefd, MARKER, 0) < 0 && errno != ENOENT)
		rc = vv_err_sys(-errno, "cannot remove the cache's marker");
	if (rc == 0)
		rc = vv_fsync_dir_at(r->cachefd, ".");
	r->cachefd = -1;
	return rc;
}
