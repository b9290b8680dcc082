/*
 * remote.c - `venvfs --remote URL`: the cache store is filled from a published
 * directory over HTTP (core/store/remote.h) and serves the manifest it names
 * (core/ops/manifest.h), read-only.
 *
 * A fetch that fails while the mount runs reaches the reading process as EIO; the
 * reason (server down, HTTP status, timeout, truncated or tampered body, cache disk
 * full) goes to stderr and, once the daemon has left the terminal, to syslog.
 */
#include "fs/remote.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "ops/manifest.h"
#include "store/prefetch.h"
#include "store/remote.h"
#include "store/store.h"
#include "util/error.h"

static void log_fetch(const char *msg)
{
	fprintf(stderr, "venvfs: %s\n", msg);
	syslog(LOG_ERR, "%s", msg);
}

/* Each line of text. */
static void log_lines(char *text)
{
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		log_fetch(l);
}

void vv_fs_remote_close(struct vv_remote *rm)
{
	if (!rm)
		return;
	if (vv_remote_cache_end(rm) < 0)
		fprintf(stderr, "venvfs: %s\n", vv_errmsg());
	vv_prefetch_detach(rm);
	vv_remote_close(rm);
}

int vv_fs_remote_open(struct vv_store *st, const struct vv_fs_remote_opts *o,
		      struct vv_remote **out)
{
	vv_oid pin, used;
	if (o->pin && vv_oid_from_hex(&pin, o->pin, strlen(o->pin)) < 0)
		return vv_err(-EINVAL, "--pin '%s': not a manifest id (64 hex digits)", o->pin);
	struct vv_http_opts http = { .stall_s = o->timeout_s, .ca_file = o->ca_file };
	struct vv_remote *rm;
	int r = vv_remote_open(&rm, o->url, &st->odb, &http);
	if (r < 0)
		return r;
	openlog("venvfs", LOG_PID, LOG_DAEMON);
	rm->log = log_fetch;
	uint64_t bound = o->cache_size ? o->cache_size : VV_FS_CACHE_SIZE_DEFAULT;
	if ((r = vv_remote_cache_begin(rm, st->dirfd)) < 0 ||
	    (r = vv_prefetch_attach(rm, bound)) < 0) {
		vv_fs_remote_close(rm);
		return vv_err_prefix(r, "cache '%s'", st->path);
	}
	/* the cache keeps no history of its own: the publisher's is the history */
	st->hist_keep = 0;
	bool stale = false;
	char *warn = NULL;
	if ((r = vv_manifest_mount(st, rm, o->pin ? &pin : NULL, &used, &stale, &warn)) < 0) {
		vv_fs_remote_close(rm);
		return r;
	}
	if (warn)
		log_lines(warn);
	free(warn);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&used, hex);
	if (stale)
		fprintf(stderr, "venvfs: %s; serving the snapshot in the cache (manifest %s)\n",
			vv_errmsg(), hex);
	*out = rm;
	return 0;
}

/* ---- picking up a republish ---- */

static struct {
	pthread_t th;
	pthread_mutex_t lk;
	pthread_cond_t cv;
	bool started, stop;
	struct vv_store *st;
	struct vv_remote *rm;
	long every_s;
} refresh = { .lk = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *refresh_main(void *arg)
{
	(void)arg;
	bool failing = false;
	char last[VV_OID_HEX + 1] = "";
	pthread_mutex_lock(&refresh.lk);
	while (!refresh.stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += refresh.every_s;
		while (!refresh.stop &&
		       pthread_cond_timedwait(&refresh.cv, &refresh.lk, &until) != ETIMEDOUT)
			;
		if (refresh.stop)
			break;
		pthread_mutex_unlock(&refresh.lk);
		vv_oid used;
		bool stale = false;
		char *warn = NULL;
		int r = vv_manifest_mount(refresh.st, refresh.rm, NULL, &used, &stale, &warn);
		if (r < 0 || stale) {
			/* say it once, not every period, until it works again */
			if (!failing)
				log_fetch(vv_errmsg());
			failing = true;
		} else {
			char hex[VV_OID_HEX + 1];
			vv_oid_hex(&used, hex);
			if (failing || (*last && strcmp(last, hex))) {
				char msg[160];
				snprintf(msg, sizeof(msg), "remote: serving manifest %s", hex);
				log_fetch(msg);
				if (warn)
					log_lines(warn);
			}
			memcpy(last, hex, sizeof(last));
			failing = false;
		}
		free(warn);
		pthread_mutex_lock(&refresh.lk);
	}
	pthread_mutex_unlock(&refresh.lk);
	return NULL;
}

int vv_fs_remote_start(struct vv_store *st, struct vv_remote *rm,
		       const struct vv_fs_remote_opts *o)
{
	long every = o->refresh_s < 0 ? VV_FS_REFRESH_DEFAULT : o->refresh_s;
	if (o->pin || every == 0)
		return 0;
	refresh.st = st;
	refresh.rm = rm;
	refresh.every_s = every;
	refresh.stop = false;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&refresh.cv);
	pthread_cond_init(&refresh.cv, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&refresh.th, NULL, refresh_main, NULL);
	if (e)
		return vv_err(-e, "cannot start the remote refresh thread: %s", strerror(e));
	refresh.started = true;
	return 0;
}

void vv_fs_remote_stop(void)
{
	if (!refresh.started)
		return;
	pthread_mutex_lock(&refresh.lk);
	refresh.stop = true;
	pthread_cond_signal(&refresh.cv);
	pthread_mutex_unlock(&refresh.lk);
	pthread_join(refresh.th, NULL);
	refresh.started = false;
}
