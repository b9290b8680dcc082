/*
 * threads.c - the background threads of the FUSE layer, started and stopped together.
 *
 * The worker thread does what must not happen inside a request handler:
 *   - kernel cache invalidation (the queue inode.c fills);
 *   - periodic commits: an env with changes is committed once it has been quiet for a
 *     second, or at the latest five seconds after its first uncommitted change, so the
 *     journal stays short and the store's committed state is never far behind; the
 *     env's writer lock is released when nothing of it is pending any more;
 *   - envs made by tools that are not venvs yet (unborn.c).
 *
 * The publisher thread stores stages nobody else will (vv_fs_publish: hashing without
 * the lock); the stager keeps spare stages ready for CREATE requests.
 *
 * The watcher thread applies envs/ changes of other processes: from inotify events,
 * and by polling envs/ every POLL_NS, because a writer on another host (NFS) sends no
 * inotify event here. A poll costs one fstat of envs/ while nothing changes; only
 * when the directory's times change does it stat each env file.
 */
#include "fs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env/env.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/vec.h"
#include "store/store.h"

#define QUIET_NS (1000LL * 1000 * 1000)
#define MAX_DELAY_NS (5000LL * 1000 * 1000)
/* How often the watcher compares envs/ with what it saw last (docs/cluster.md: another
 * host's commit shows within this plus its commit delay). */
#define POLL_NS (1000LL * 1000 * 1000)

static bool due(struct vv_env *env, int64_t now)
{
	return vv_env_has_changes(env) && (now - env->last_change_ns >= QUIET_NS ||
					   now - env->first_change_ns >= MAX_DELAY_NS);
}

static void commit_due(struct vv_fs *fs)
{
	int64_t now = vv_now_ns();
	struct vv_envset *set = fs->set;
	/* the bytes of sealed files are made durable first, without the lock: a commit
	 * (which holds it) then has only its trees and names left to sync */
	bool sync = false;
	for (size_t i = 0; i < set->nenvs && !sync; i++)
		sync = due(set->envs[i], now) && vv_env_needs_sync(set->envs[i]);
	if (sync) {
		pthread_mutex_unlock(&fs->lk);
		if (vv_odb_sync(&fs->st->odb) < 0)
			fprintf(stderr, "venvfs: %s\n", vv_errmsg());
		pthread_mutex_lock(&fs->lk);
	}
	for (size_t i = 0; i < set->nenvs; i++) {
		struct vv_env *env = set->envs[i];
		if (!vv_env_has_changes(env)) {
			vv_env_release_idle(env); /* e.g. opened for writing, closed unchanged */
			continue;
		}
		if (now - env->last_change_ns < QUIET_NS && now - env->first_change_ns < MAX_DELAY_NS)
			continue;
		if (vv_env_commit_batch(env, true) < 0)
			fprintf(stderr, "venvfs: %s\n", vv_errmsg());
	}
}

/* Hashing a big file stops when the mount goes away: its stage stays named in the
 * journal, and the next mount stores it. */
static bool publish_stop(void *arg)
{
	struct vv_fs *fs = arg;
	return __atomic_load_n(&fs->stop, __ATOMIC_RELAXED) || fuse_session_exited(fs->se);
}

int vv_fs_publish(struct vv_fs *fs, struct vv_node *n)
{
	struct vv_publish p;
	bool need;
	int r = vv_node_publish_begin(n, &p, &need);
	if (r < 0 || !need)
		return r;
	p.stop = publish_stop;
	p.stop_arg = fs;
	vv_fs_unlock(fs);
	vv_publish_run(fs->st, &p);
	vv_fs_lock(fs);
	r = vv_node_publish_end(&p);
	if (r < 0 && r != -ECANCELED)
		fprintf(stderr, "venvfs: storing a file: %s\n", vv_errmsg());
	return r;
}

/* The publisher thread stores the stages nobody else will: a replayed journal's, or
 * one whose publish an unmount stopped. It is a thread of its own because hashing a
 * big file takes long (a 64 GiB sparse one: half a minute) and must hold up neither
 * requests (hashing runs without fs->lk) nor the worker's commits and invalidations. */
static void *publisher(void *arg)
{
	struct vv_fs *fs = arg;
	pthread_mutex_lock(&fs->lk);
	/* envs a stopped writer left changes in are loaded (replayed) now, not when first
	 * used: their stages are stored and committed even if nobody looks at them */
	for (size_t i = 0; i < fs->set->nenvs && !fs->stop; i++) {
		struct vv_env *env = fs->set->envs[i];
		if (vv_env_journal_waiting(env) && vv_env_load_root(env) < 0)
			fprintf(stderr, "venvfs: env '%s': %s\n", env->name, vv_errmsg());
		pthread_mutex_unlock(&fs->lk); /* let requests in between */
		pthread_mutex_lock(&fs->lk);
	}
	while (!fs->stop) {
		struct vv_node *n = NULL;
		for (size_t i = 0; i < fs->set->nenvs && !n; i++)
			n = vv_env_unpublished(fs->set->envs[i]);
		if (n) {
			vv_fs_publish(fs, n); /* the model may change meanwhile: look again */
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&fs->pub_cv, &fs->lk, &ts);
	}
	pthread_mutex_unlock(&fs->lk);
	return NULL;
}

/* The stager keeps spare stages ready (odb.h): a CREATE then takes one instead of
 * waiting for an inode allocation. It fills up to VV_ODB_SPARES when asked, which a
 * request does once fewer than half are left; it makes none before the first write. */
static void *stager(void *arg)
{
	struct vv_fs *fs = arg;
	bool told = false;
	pthread_mutex_lock(&fs->lk);
	while (!fs->stop) {
		if (!fs->spares_wanted) {
			pthread_cond_wait(&fs->stage_cv, &fs->lk);
			continue;
		}
		pthread_mutex_unlock(&fs->lk);
		int r = vv_odb_spare_fill(&fs->st->odb, VV_ODB_SPARES);
		pthread_mutex_lock(&fs->lk);
		fs->spares_wanted = false;
		if (r < 0 && !told) /* a full disk, say: requests make their stages themselves */
			fprintf(stderr, "venvfs: making spare stages: %s\n", vv_errmsg());
		told = told || r < 0;
	}
	pthread_mutex_unlock(&fs->lk);
	return NULL;
}

void vv_fs_spare_kick(struct vv_fs *fs)
{
	if (!fs->stager_started || fs->spares_wanted ||
	    vv_odb_spare_count(&fs->st->odb) >= VV_ODB_SPARES / 2)
		return;
	fs->spares_wanted = true;
	pthread_cond_signal(&fs->stage_cv);
}

static void *worker(void *arg)
{
	struct vv_fs *fs = arg;
	pthread_mutex_lock(&fs->lk);
	while (!fs->stop) {
		if (fs->ninval) {
			struct vv_inval *q = fs->inval;
			size_t n = fs->ninval;
			fs->inval = NULL;
			fs->ninval = fs->capinval = 0;
			pthread_mutex_unlock(&fs->lk);
			for (size_t i = 0; i < n; i++) {
				int r = q[i].name
					? fuse_lowlevel_notify_inval_entry(fs->se, q[i].ino, q[i].name,
									   strlen(q[i].name))
					: fuse_lowlevel_notify_inval_inode(fs->se, q[i].ino, 0, 0);
				if (r < 0 && r != -ENOENT)
					fprintf(stderr, "venvfs: cache invalidation: %s\n", strerror(-r));
				free(q[i].name);
			}
			free(q);
			pthread_mutex_lock(&fs->lk);
			continue;
		}
		vv_fs_unborn_tick(fs);
		commit_due(fs);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&fs->cv, &fs->lk, &ts);
	}
	pthread_mutex_unlock(&fs->lk);
	return NULL;
}

/* Sync env files names[0..n) into the model (another process replaced, made or
 * removed them), then invalidate the kernel's entry for each changed name and the mount
 * root before returning (outside fs->lk: the kernel may need a request answered to drop
 * them). Frees names. */
static void sync_names(struct vv_fs *fs, char **names, size_t n)
{
	size_t nchanged = 0;
	pthread_mutex_lock(&fs->lk);
	for (size_t i = 0; i < n; i++) {
		int r = vv_envset_sync(fs->set, names[i]);
		if (r < 0) {
			fprintf(stderr, "venvfs: env '%s': %s\n", names[i], vv_errmsg());
		} else if (r != VV_SYNC_NONE) {
			/* a lock change keeps the nodes: their cached attrs (write bits) are
			 * refreshed by the worker */
			struct vv_env *e = r == VV_SYNC_LOCK ?
				vv_envset_find(fs->set, names[i], strlen(names[i])) : NULL;
			if (e)
				vv_fs_inval_env_attrs(fs, e);
			char *t = names[nchanged];
			names[nchanged++] = names[i];
			names[i] = t;
		}
	}
	pthread_mutex_unlock(&fs->lk);
	for (size_t i = 0; i < nchanged; i++) {
		int r = fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, names[i],
							 strlen(names[i]));
		if (r < 0 && r != -ENOENT)
			fprintf(stderr, "venvfs: cache invalidation: %s\n", strerror(-r));
	}
	if (nchanged) {
		int r = fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
		if (r < 0 && r != -ENOENT)
			fprintf(stderr, "venvfs: cache invalidation: %s\n", strerror(-r));
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int add_name(char ***names, size_t *n, size_t *cap, const char *name)
{
	if (VV_GROW(*names, *n, *cap, 1) < 0)
		return -ENOMEM;
	if (!((*names)[*n] = strdup(name)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* Read and apply every queued envs/ event (sync_names). The caller holds fs->watch_lk,
 * so when a drain ends, every event queued before it began has been applied, kernel
 * caches included (vv_fs_watch_sync relies on that). */
static void drain_events(struct vv_fs *fs)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t len = read(fs->inotify_fd, buf, sizeof(buf));
		if (len <= 0)
			return;
		char **names = NULL;
		size_t nnames = 0, capnames = 0;
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (!ev->len || vv_env_name_check(ev->name, strlen(ev->name)) < 0)
				continue;
			if (add_name(&names, &nnames, &capnames, ev->name) < 0) {
				/* out of memory: leave it to the worker */
				pthread_mutex_lock(&fs->lk);
				vv_fs_inval_entry(fs, FUSE_ROOT_ID, ev->name);
				pthread_mutex_unlock(&fs->lk);
			}
		}
		sync_names(fs, names, nnames);
	}
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int stamp_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vv_envstamp *)a)->name, ((const struct vv_envstamp *)b)->name);
}

static void stamps_free(struct vv_envstamp *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static bool stamp_same(const struct vv_envstamp *a, const struct vv_envstamp *b)
{
	return a->ino == b->ino && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
	       a->size == b->size;
}

/* Poll envs/ (caller holds fs->watch_lk): when its times differ from the last scan's
 * (or force), stat every env file and sync the names whose file is new, gone or
 * another (inode, times, size). A change in the same timestamp tick as a scan leaves
 * the directory's times as they were, so after any change one more scan follows. The
 * first scan only records what is there: the envset was just loaded from it. */
static void poll_envs(struct vv_fs *fs, bool force)
{
	struct stat d;
	if (fstat(fs->st->envfd, &d) < 0)
		return;
	int64_t m = ts_ns(&d.st_mtim), c = ts_ns(&d.st_ctim);
	if (fs->scanned && !force && !fs->rescan && m == fs->dir_mtime_ns && c == fs->dir_ctime_ns)
		return;
	DIR *dir = vv_opendir_at(fs->st->envfd, ".");
	if (!dir)
		return;
	struct vv_envstamp *now = NULL;
	size_t n = 0, cap = 0;
	bool oom = false;
	struct dirent *de;
	while ((de = readdir(dir)) && !oom) {
		struct stat sb;
		if (vv_env_name_check(de->d_name, strlen(de->d_name)) < 0 ||
		    fstatat(dirfd(dir), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (VV_GROW(now, n, cap, 64) < 0) {
			oom = true;
			break;
		}
		now[n] = (struct vv_envstamp){ .name = strdup(de->d_name), .ino = sb.st_ino,
					       .mtime_ns = ts_ns(&sb.st_mtim),
					       .ctime_ns = ts_ns(&sb.st_ctim), .size = sb.st_size };
		if (!now[n].name)
			oom = true;
		else
			n++;
	}
	closedir(dir);
	if (oom) {
		stamps_free(now, n);
		return; /* try again at the next poll */
	}
	qsort(now, n, sizeof(*now), stamp_cmp);
	char **names = NULL;
	size_t nnames = 0, capnames = 0, i = 0, j = 0;
	while (fs->scanned && (i < fs->nstamps || j < n)) {
		int cmp = i == fs->nstamps ? 1 : j == n ? -1 : strcmp(fs->stamps[i].name, now[j].name);
		const char *name = cmp < 0 ? fs->stamps[i].name : now[j].name;
		if (cmp != 0 || !stamp_same(&fs->stamps[i], &now[j]))
			if (add_name(&names, &nnames, &capnames, name) < 0) {
				stamps_free(now, n);
				sync_names(fs, names, nnames);
				return; /* the same differences are found at the next poll */
			}
		i += cmp <= 0;
		j += cmp >= 0;
	}
	stamps_free(fs->stamps, fs->nstamps);
	fs->stamps = now;
	fs->nstamps = n;
	fs->rescan = fs->scanned && (nnames > 0 || m != fs->dir_mtime_ns || c != fs->dir_ctime_ns);
	fs->scanned = true;
	fs->dir_mtime_ns = m;
	fs->dir_ctime_ns = c;
	sync_names(fs, names, nnames);
}

void vv_fs_watch_sync(struct vv_fs *fs)
{
	if (!fs->watcher_started)
		return;
	pthread_mutex_lock(&fs->watch_lk);
	if (fs->inotify_fd >= 0)
		drain_events(fs);
	else
		poll_envs(fs, true);
	pthread_mutex_unlock(&fs->watch_lk);
}

/* The watcher: applies envs/ changes of other processes as inotify reports them
 * (drain_events), and those it does not report by polling (poll_envs). */
static void *watcher(void *arg)
{
	struct vv_fs *fs = arg;
	for (;;) {
		/* a negative fd (no inotify) makes poll a plain wait */
		struct pollfd pfd = { .fd = fs->inotify_fd, .events = POLLIN };
		int pr = poll(&pfd, 1, 200);
		pthread_mutex_lock(&fs->lk);
		bool stop = fs->stop;
		pthread_mutex_unlock(&fs->lk);
		if (stop)
			break;
		pthread_mutex_lock(&fs->watch_lk);
		if (pr > 0)
			drain_events(fs);
		int64_t now = vv_now_ns();
		if (now >= fs->next_poll_ns) {
			poll_envs(fs, false);
			fs->next_poll_ns = now + POLL_NS;
		}
		pthread_mutex_unlock(&fs->watch_lk);
	}
	return NULL;
}

int vv_fs_worker_start(struct vv_fs *fs)
{
	int r = pthread_create(&fs->worker, NULL, worker, fs);
	if (r)
		return vv_err(-r, "cannot start worker thread: %s", strerror(r));
	fs->worker_started = true;
	if ((r = pthread_create(&fs->publisher, NULL, publisher, fs)) == 0)
		fs->publisher_started = true;
	else
		fprintf(stderr, "venvfs: cannot start publisher thread: %s\n", strerror(r));
	if (!fs->ro && (r = pthread_create(&fs->stager, NULL, stager, fs)) == 0)
		fs->stager_started = true;
	else if (!fs->ro) /* requests make their stages themselves */
		fprintf(stderr, "venvfs: cannot start stager thread: %s\n", strerror(r));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/envs", fs->st->path);
	/* VENVFS_NO_INOTIFY=1 (a debugging aid): rely on polling alone, as for changes
	 * made on another host */
	const char *no = getenv("VENVFS_NO_INOTIFY");
	if (no && *no && strcmp(no, "0")) {
		fprintf(stderr, "venvfs: VENVFS_NO_INOTIFY set: polling %s only\n", path);
	} else if ((fs->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
		   inotify_add_watch(fs->inotify_fd, path, IN_CLOSE_WRITE | IN_MOVED_TO |
				     IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
		/* polling still shows other processes' changes, a moment later */
		fprintf(stderr, "venvfs: cannot watch %s: %s (polling it)\n", path, strerror(errno));
		if (fs->inotify_fd >= 0)
			close(fs->inotify_fd);
		fs->inotify_fd = -1;
	}
	/* the first scan only records envs/ as the envset was loaded from it */
	poll_envs(fs, true);
	fs->next_poll_ns = vv_now_ns() + POLL_NS;
	if ((r = pthread_create(&fs->watcher, NULL, watcher, fs)) == 0)
		fs->watcher_started = true;
	else
		fprintf(stderr, "venvfs: cannot start watcher thread: %s\n", strerror(r));
	return 0;
}

void vv_fs_worker_stop(struct vv_fs *fs)
{
	if (!fs->worker_started)
		return;
	pthread_mutex_lock(&fs->lk);
	__atomic_store_n(&fs->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&fs->cv);
	pthread_cond_signal(&fs->pub_cv);
	pthread_cond_signal(&fs->stage_cv);
	pthread_mutex_unlock(&fs->lk);
	pthread_join(fs->worker, NULL);
	fs->worker_started = false;
	if (fs->publisher_started)
		pthread_join(fs->publisher, NULL);
	fs->publisher_started = false;
	if (fs->watcher_started)
		pthread_join(fs->watcher, NULL);
	fs->watcher_started = false;
	if (fs->stager_started)
		pthread_join(fs->stager, NULL);
	fs->stager_started = false;
	vv_odb_spare_drop(&fs->st->odb);
	if (fs->inotify_fd >= 0)
		close(fs->inotify_fd);
	fs->inotify_fd = -1;
	stamps_free(fs->stamps, fs->nstamps);
	fs->stamps = NULL;
	fs->nstamps = 0;
	for (size_t i = 0; i < fs->ninval; i++)
		free(fs->inval[i].name);
	free(fs->inval);
	fs->inval = NULL;
	fs->ninval = fs->capinval = 0;
}
