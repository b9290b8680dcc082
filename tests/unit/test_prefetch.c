/*
 * test_prefetch.c - a remote's cache filled over HTTP (store/remote.h) and the miss
 * hook that decides what one miss fetches (store/prefetch.h), end to end: a source
 * store holds an env tree of ten directories (__pycache__ ones among them), and a
 * small HTTP/1.1 server run in this process (plain sockets) serves the store's own
 * directory, whose objects/ab/cdef... is exactly the published layout. A second temp
 * store is the cache, read only through its object database, as the mount reads it.
 *
 * What is checked, counting the server's requests: reading the root tree fetches every
 * tree below it and no file; opening a file fetches its directory's files and its
 * __pycache__'s in the same call, and nothing else; a file of a directory not seen is
 * fetched alone; a body that does not hash to its name is refused (the open gets -EIO,
 * the object never gets a name in the cache, the log hears it once); a missing object
 * is -ENOENT, held for VV_REMOTE_FAIL_HOLD_NS without asking again, asked again after;
 * HEAD is read and parsed; an unreachable server is held as down; the cache's marker
 * empties the cache when it names another boot and keeps it for this one; a size bound
 * never removes the object being opened. Detach and close free everything (valgrind).
 */
#include "testhttp.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/lru.h"
#include "store/odb.h"
#include "store/prefetch.h"
#include "store/remote.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof(*(a)))

/* ---- a server of one directory's files (testhttp.h) ---- */

static struct vt_http *srv;
static pthread_mutex_t served_lk = PTHREAD_MUTEX_INITIALIZER;
static char served[PATH_MAX]; /* the directory served, guarded by served_lk */

/* GET target: the file served/target, or 404. */
static bool answer(struct vt_http *s, int fd, const char *target, void *arg)
{
	(void)s;
	(void)arg;
	char path[2 * PATH_MAX], *body = NULL;
	size_t len = 0;
	pthread_mutex_lock(&served_lk);
	snprintf(path, sizeof(path), "%s%s", served, target);
	pthread_mutex_unlock(&served_lk);
	int r = target[0] == '/' && !strstr(target, "..")
		? vv_read_file_at(AT_FDCWD, path, 64 << 20, &body, &len) : -ENOENT;
	char head[256];
	int hl = r == 0 ? snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
				   "Content-Length: %zu\r\n\r\n", len)
			: snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\n"
				   "Content-Length: 0\r\n\r\n");
	bool ok = vt_http_send_all(fd, head, (size_t)hl) == 0 &&
		  (r < 0 || vt_http_send_all(fd, body, len) == 0);
	free(body);
	return ok;
}

static int group_setup(void **state)
{
	(void)state;
	srv = vt_http_start(answer, NULL);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	vt_http_stop(srv);
	return 0;
}

static unsigned requests(void)
{
	unsigned n;
	vt_http_counts(srv, NULL, &n);
	return n;
}

/* ---- the fixture: a source store served, an empty cache attached ---- */

#define SP "lib/python3.12/site-packages/"

static const char *const files[] = {
	"pyvenv.cfg",
	"bin/activate",
	"bin/pip",
	SP "pkg/__init__.py",
	SP "pkg/mod_a.py",
	SP "pkg/mod_b.py",
	SP "pkg/__pycache__/__init__.cpython-312.pyc",
	SP "pkg/__pycache__/mod_a.cpython-312.pyc",
	SP "pkg/sub/s1.py",
	SP "pkg/sub/__pycache__/s1.cpython-312.pyc",
	SP "other/x.py",
	SP "other/y.py",
	SP "other/z.py",
};
enum { NFILES = ARRAY_LEN(files) };
/* indexes into files[] */
enum { F_MOD_A = 4, F_MOD_B = 5, F_SUB_PYC = 9, F_X = 10, F_Y = 11 };
/* the files fetched with pkg/mod_a.py: pkg's three and its __pycache__'s two */
static const size_t pkg_batch[] = { 3, 4, 5, 6, 7 };
/* root bin lib python3.12 site-packages pkg pkg/__pycache__ pkg/sub
 * pkg/sub/__pycache__ other */
#define NTREES 10

struct fx {
	struct vv_store *src, *cache;
	vv_oid file[NFILES];
	vv_oid root;
	vv_oid trees[NTREES];
	size_t ntrees;
	struct vv_remote *r;
	char url[128];
};

/* What r->log heard. */
static unsigned nlogged;
static char lastlog[512];

static void on_log(const char *msg)
{
	nlogged++;
	snprintf(lastlog, sizeof(lastlog), "%s", msg);
}

static void collect_trees(struct fx *f, const vv_oid *oid)
{
	assert_true(f->ntrees < NTREES);
	for (size_t i = 0; i < f->ntrees; i++)
		assert_false(vv_oid_eq(&f->trees[i], oid)); /* every directory distinct */
	f->trees[f->ntrees++] = *oid;
	struct vv_tree *t;
	assert_int_equal(vv_tree_get(f->src, oid, &t), 0);
	for (size_t i = 0; i < t->n; i++)
		if (t->ents[i].kind == VV_DIR)
			collect_trees(f, &t->ents[i].oid);
	vv_tree_unref(t);
}

static void open_remote(struct fx *f, uint64_t limit)
{
	struct vv_http_opts o = { .connect_s = 5, .stall_s = 5 };
	assert_int_equal(vv_remote_open(&f->r, f->url, &f->cache->odb, &o), 0);
	f->r->log = on_log;
	assert_int_equal(vv_remote_cache_begin(f->r, f->cache->dirfd), 0);
	assert_int_equal(vv_prefetch_attach(f->r, limit), 0);
}

static void close_remote(struct fx *f)
{
	if (!f->r)
		return;
	assert_int_equal(vv_remote_cache_end(f->r), 0);
	vv_prefetch_detach(f->r);
	assert_null(f->cache->odb.miss);
	assert_null(f->cache->odb.hit);
	vv_remote_close(f->r);
	f->r = NULL;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->src = vt_store_new();
	struct vv_tb *tb = vv_tb_new(0);
	assert_non_null(tb);
	for (size_t i = 0; i < NFILES; i++) {
		char body[256];
		int n = snprintf(body, sizeof(body), "# %s\nprint('file %zu')\n", files[i], i);
		assert_int_equal(vv_odb_put_buf(&f->src->odb, body, (size_t)n, &f->file[i]), 0);
		struct vv_tree_ent e = vt_file_ent("", f->file[i], (uint64_t)n);
		assert_int_equal(vv_tb_add(tb, files[i], &e), 0);
	}
	struct vv_tree_ent l = vt_link_ent("", "python3.12");
	assert_int_equal(vv_tb_add(tb, "bin/python", &l), 0);
	assert_int_equal(vv_tb_write(tb, f->src, &f->root), 0);
	vv_tb_free(tb);
	collect_trees(f, &f->root);
	assert_int_equal(f->ntrees, NTREES);

	pthread_mutex_lock(&served_lk);
	snprintf(served, sizeof(served), "%s", f->src->path);
	pthread_mutex_unlock(&served_lk);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", vt_http_port(srv));
	f->cache = vt_store_new();
	nlogged = 0;
	lastlog[0] = '\0';
	open_remote(f, 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	close_remote(f);
	vt_store_free(f->cache);
	vt_store_free(f->src);
	free(f);
	return 0;
}

static bool cached(struct fx *f, const vv_oid *oid)
{
	int r = vv_odb_has(&f->cache->odb, oid);
	assert_true(r == 0 || r == 1);
	return r == 1;
}

static size_t cached_files(struct fx *f)
{
	size_t n = 0;
	for (size_t i = 0; i < NFILES; i++)
		n += cached(f, &f->file[i]);
	return n;
}

static void read_root(struct fx *f)
{
	char *buf;
	size_t len;
	if (vv_odb_read_obj(&f->cache->odb, &f->root, 1 << 20, &buf, &len) < 0)
		fail_msg("reading the root: %s", vv_errmsg());
	free(buf);
}

/* Open file i through the cache and check its bytes. */
static void open_file(struct fx *f, size_t i)
{
	int fd = vv_odb_open_obj(&f->cache->odb, &f->file[i]);
	if (fd < 0)
		fail_msg("opening %s: %s", files[i], vv_errmsg());
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	char want[256];
	snprintf(want, sizeof(want), "# %s\nprint('file %zu')\n", files[i], i);
	assert_string_equal(buf, want);
}

/* ---- the tests ---- */

/* The first read of the root tree fetches every tree below it, level by level, and
 * no file; the trees are read from the cache from then on. */
static void test_tree_walk(void **state)
{
	struct fx *f = *state;
	unsigned r0 = requests();
	read_root(f);
	for (size_t i = 0; i < f->ntrees; i++)
		assert_true(cached(f, &f->trees[i]));
	assert_int_equal(cached_files(f), 0);
	assert_int_equal(requests() - r0, NTREES);
	assert_int_equal(f->r->fetched, NTREES);
	assert_int_equal(f->r->failed, 0);

	/* from the cache now: no request */
	read_root(f);
	struct vv_store *c = f->cache;
	vt_forget_trees(c);
	struct vv_tree *t;
	for (size_t i = 0; i < f->ntrees; i++) {
		assert_int_equal(vv_tree_get(c, &f->trees[i], &t), 0);
		vv_tree_unref(t);
	}
	assert_int_equal(requests() - r0, NTREES);
	assert_int_equal(nlogged, 0);
}

/* Opening a file fetches, in that one call, its directory's files and those of its
 * __pycache__; their neighbours come from the cache; other directories are left. */
static void test_file_batch(void **state)
{
	struct fx *f = *state;
	read_root(f);
	unsigned r0 = requests();
	open_file(f, F_MOD_A);
	assert_int_equal(requests() - r0, ARRAY_LEN(pkg_batch));
	for (size_t k = 0; k < ARRAY_LEN(pkg_batch); k++)
		assert_true(cached(f, &f->file[pkg_batch[k]]));
	assert_int_equal(cached_files(f), ARRAY_LEN(pkg_batch));
	assert_int_equal(f->r->fetched, NTREES + ARRAY_LEN(pkg_batch));

	/* the rest of the package: no request */
	open_file(f, F_MOD_B);
	open_file(f, 6);
	assert_int_equal(requests() - r0, ARRAY_LEN(pkg_batch));

	/* a directory of one file (sub/__pycache__): that file */
	open_file(f, F_SUB_PYC);
	assert_int_equal(requests() - r0, ARRAY_LEN(pkg_batch) + 1);
	assert_int_equal(cached_files(f), ARRAY_LEN(pkg_batch) + 1);

	/* other/: its three files */
	open_file(f, F_Y);
	assert_int_equal(requests() - r0, ARRAY_LEN(pkg_batch) + 4);
	assert_true(cached(f, &f->file[F_X]));
	assert_false(cached(f, &f->file[0])); /* pyvenv.cfg: the root's files not read */
	assert_int_equal(nlogged, 0);
}

/* A cache kept from an earlier mount (the trees there, the table empty): the trees
 * the new mount reads from the cache go into the table, so a file still brings its
 * directory's batch. */
static void test_warm_cache_batches(void **state)
{
	struct fx *f = *state;
	read_root(f);
	vv_prefetch_detach(f->r);
	assert_int_equal(vv_prefetch_attach(f->r, 0), 0);
	vt_forget_trees(f->cache);
	unsigned r0 = requests();
	struct vv_tree *t;
	for (size_t i = 0; i < f->ntrees; i++) {
		assert_int_equal(vv_tree_get(f->cache, &f->trees[i], &t), 0);
		vv_tree_unref(t);
	}
	assert_int_equal(requests() - r0, 0);
	open_file(f, F_MOD_A);
	assert_int_equal(requests() - r0, ARRAY_LEN(pkg_batch));
	assert_int_equal(cached_files(f), ARRAY_LEN(pkg_batch));
}

/* With no tree read before, the hook knows no directory: a file comes alone. */
static void test_file_unknown_dir(void **state)
{
	struct fx *f = *state;
	unsigned r0 = requests();
	open_file(f, F_MOD_A);
	assert_int_equal(requests() - r0, 1);
	assert_int_equal(cached_files(f), 1);
	for (size_t i = 0; i < f->ntrees; i++)
		assert_false(cached(f, &f->trees[i]));
}

/* A body that does not hash to its object's name: the open fails with -EIO, the
 * object never gets a name in the cache (its neighbours do), the log hears it once,
 * and it is held: opening it again asks the server nothing. */
static void test_tampered(void **state)
{
	struct fx *f = *state;
	read_root(f);
	vt_obj_clobber(f->src, &f->file[F_X], "print('owned')\n");
	unsigned r0 = requests();
	vv_err_clear();
	assert_int_equal(vv_odb_open_obj(&f->cache->odb, &f->file[F_X]), -EIO);
	assert_non_null(strstr(vv_errmsg(), "does not match its name"));
	assert_false(cached(f, &f->file[F_X]));
	assert_true(cached(f, &f->file[F_Y])); /* the rest of the batch was fine */
	assert_true(cached(f, &f->file[F_Y + 1]));
	assert_int_equal(requests() - r0, 3);
	assert_int_equal(nlogged, 1);
	assert_non_null(strstr(lastlog, "does not match its name"));
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(&f->file[F_X], rel);
	assert_non_null(strstr(lastlog, rel));
	assert_int_equal(f->r->failed, 1);

	/* held: the same answer, no request, no second log line */
	char *buf = NULL;
	size_t len;
	assert_int_equal(vv_odb_read_obj(&f->cache->odb, &f->file[F_X], 4096, &buf, &len), -EIO);
	assert_null(buf);
	bool fresh = true;
	assert_int_equal(vv_remote_fetch(f->r, &f->file[F_X], &fresh), -EUCLEAN);
	assert_false(fresh);
	assert_int_equal(requests() - r0, 3);
	assert_int_equal(nlogged, 1);
	/* no temp file of the refused body stays in the cache's tmp/ */
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s/tmp", f->cache->path);
	assert_int_equal(vt_count_files(tmp), 0);
}

/* An object the server does not have: -ENOENT, held for VV_REMOTE_FAIL_HOLD_NS with
 * the same code and message and no request, asked again after it. */
static void test_missing_held(void **state)
{
	struct fx *f = *state;
	vv_oid nope;
	vv_hash_buf("not published", 13, &nope);
	unsigned r0 = requests();
	bool fresh = false;
	vv_err_clear();
	assert_int_equal(vv_remote_fetch(f->r, &nope, &fresh), -ENOENT);
	assert_true(fresh);
	assert_int_equal(requests() - r0, 1);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", vv_errmsg());
	assert_non_null(strstr(msg, "HTTP 404"));
	assert_int_equal(nlogged, 1);

	vv_err_clear();
	assert_int_equal(vv_remote_fetch(f->r, &nope, &fresh), -ENOENT);
	assert_false(fresh);
	assert_string_equal(vv_errmsg(), msg);
	assert_int_equal(requests() - r0, 1);
	assert_int_equal(nlogged, 1);

	/* in a batch beside objects that are there: each its own code */
	vv_oid batch[3] = { f->file[0], nope, f->file[1] };
	int rcs[3] = { 9, 9, 9 };
	assert_int_equal(vv_remote_fetch_many(f->r, batch, 3, rcs, &fresh), -ENOENT);
	assert_int_equal(rcs[0], 0);
	assert_int_equal(rcs[1], -ENOENT);
	assert_int_equal(rcs[2], 0);
	assert_true(fresh);
	assert_int_equal(requests() - r0, 3);
	/* all there now: no network, 0 */
	vv_oid two[2] = { f->file[1], f->file[0] };
	assert_int_equal(vv_remote_fetch_many(f->r, two, 2, NULL, &fresh), 0);
	assert_false(fresh);
	assert_int_equal(requests() - r0, 3);

	/* after the hold: asked again */
	struct timespec ts = { VV_REMOTE_FAIL_HOLD_NS / 1000000000,
			       VV_REMOTE_FAIL_HOLD_NS % 1000000000 + 100000000 };
	nanosleep(&ts, NULL);
	assert_int_equal(vv_remote_fetch(f->r, &nope, &fresh), -ENOENT);
	assert_true(fresh);
	assert_int_equal(requests() - r0, 4);
	assert_int_equal(nlogged, 2);
}

/* HEAD: read and parsed; a bad one is -EINVAL naming the URL; none is -ENOENT. */
static void test_head(void **state)
{
	struct fx *f = *state;
	vv_oid id;
	vv_err_clear();
	assert_int_equal(vv_remote_head(f->r, &id), -ENOENT);
	char text[VV_REMOTE_HEAD_SIZE + 1];
	vv_remote_head_format(&f->root, text);
	assert_int_equal(vv_write_file_atomic(f->src->dirfd, "HEAD", text, strlen(text), 0644), 0);
	memset(&id, 0, sizeof(id));
	assert_int_equal(vv_remote_head(f->r, &id), 0);
	assert_true(vv_oid_eq(&id, &f->root));
	assert_int_equal(vv_write_file_atomic(f->src->dirfd, "HEAD", "venvfs-manifest x\n", 18,
					      0644), 0);
	vv_err_clear();
	assert_int_equal(vv_remote_head(f->r, &id), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "not a venvfs HEAD"));
	assert_non_null(strstr(vv_errmsg(), "/HEAD"));
}

/* A server nobody answers at: every fetch fails with -EHOSTUNREACH, and while that is
 * held, fetches of other objects fail at once too. */
static void test_unreachable(void **state)
{
	struct fx *f = *state;
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", vt_http_unused_port());
	struct vv_remote *r;
	assert_int_equal(vv_remote_open(&r, url, &f->cache->odb, NULL), 0);
	bool fresh = false;
	assert_int_equal(vv_remote_fetch(r, &f->file[0], &fresh), -EHOSTUNREACH);
	assert_true(fresh);
	assert_non_null(strstr(vv_errmsg(), "cannot reach the server"));
	assert_int_equal(vv_remote_fetch(r, &f->file[1], &fresh), -EHOSTUNREACH);
	assert_false(fresh); /* the server is held as down */
	vv_remote_close(r);
}

static size_t count_objects(struct vv_store *st)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/objects", st->path);
	return vt_count_files(p);
}

/* The marker `unsynced`: this boot's id while the cache is written; begin keeps the
 * objects a marker of this boot covers, removes them all for another boot's; end
 * removes the marker. */
static void test_cache_marker(void **state)
{
	struct fx *f = *state;
	read_root(f);
	open_file(f, F_MOD_A);
	size_t n = count_objects(f->cache);
	assert_true(n >= NTREES + ARRAY_LEN(pkg_batch));

	char *boot, *mark;
	size_t blen, mlen;
	assert_int_equal(vv_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 63, &boot,
					 &blen), 0);
	assert_int_equal(vv_read_file_at(f->cache->dirfd, "unsynced", 63, &mark, &mlen), 0);
	assert_int_equal(mlen, blen);
	assert_memory_equal(mark, boot, blen); /* the id and its newline */
	free(mark);

	/* the same boot: kept */
	assert_int_equal(vv_remote_cache_begin(f->r, f->cache->dirfd), 0);
	assert_int_equal(count_objects(f->cache), n);
	assert_true(cached(f, &f->root));

	/* end: the marker goes; a begin without one keeps everything */
	assert_int_equal(vv_remote_cache_end(f->r), 0);
	assert_int_equal(faccessat(f->cache->dirfd, "unsynced", F_OK, 0), -1);
	assert_int_equal(vv_remote_cache_end(f->r), 0); /* twice is fine */
	assert_int_equal(vv_remote_cache_begin(f->r, f->cache->dirfd), 0);
	assert_int_equal(count_objects(f->cache), n);
	assert_int_equal(faccessat(f->cache->dirfd, "unsynced", F_OK, 0), 0);

	/* another boot's marker: every object goes, the marker is this boot's again */
	const char *other = "00000000-1111-2222-3333-444444444444\n";
	assert_int_equal(vv_write_file_atomic(f->cache->dirfd, "unsynced", other, strlen(other),
					      0644), 0);
	assert_int_equal(vv_remote_cache_begin(f->r, f->cache->dirfd), 0);
	assert_int_equal(count_objects(f->cache), 0);
	assert_false(cached(f, &f->root));
	assert_int_equal(vv_read_file_at(f->cache->dirfd, "unsynced", 63, &mark, &mlen), 0);
	assert_int_equal(mlen, blen);
	assert_memory_equal(mark, boot, blen);
	free(mark);

	/* an empty marker (a crash while it was written) counts as another boot's */
	read_root(f);
	assert_true(count_objects(f->cache) > 0);
	assert_int_equal(vv_write_file_atomic(f->cache->dirfd, "unsynced", "", 0, 0644), 0);
	assert_int_equal(vv_remote_cache_begin(f->r, f->cache->dirfd), 0);
	assert_int_equal(count_objects(f->cache), 0);
	free(boot);
}

/* A size bound the trees fit in, but not a package with them: the batch's adds remove
 * the least recently used objects, never the file being opened (added last, as the
 * newest), and the open works. */
static void test_bound_keeps_wanted(void **state)
{
	struct fx *f = *state;
	struct stat sb;
	char p[PATH_MAX];
	vt_obj_path(f->src, &f->root, p, sizeof(p));
	assert_int_equal(stat(p, &sb), 0);
	uint64_t s = (uint64_t)sb.st_blocks * 512; /* every object here takes one block */
	assert_true(s > 0);
	uint64_t limit = (NTREES + 2) * s;
	close_remote(f);
	open_remote(f, limit);
	assert_non_null(f->r->lru);
	assert_int_equal(vv_lru_used(f->r->lru), 0);
	read_root(f);
	assert_int_equal(vv_lru_used(f->r->lru), NTREES * s);
	assert_int_equal(vv_lru_evicted(f->r->lru), 0);

	unsigned r0 = requests();
	open_file(f, F_MOD_A);
	assert_int_equal(requests() - r0, ARRAY_LEN(pkg_batch)); /* the batch was fetched */
	assert_true(cached(f, &f->file[F_MOD_A]));
	assert_true(vv_lru_evicted(f->r->lru) > 0);
	assert_true(vv_lru_used(f->r->lru) <= limit);
	size_t gone = 0;
	for (size_t i = 0; i < f->ntrees; i++)
		gone += !cached(f, &f->trees[i]);
	for (size_t k = 0; k < ARRAY_LEN(pkg_batch); k++)
		gone += !cached(f, &f->file[pkg_batch[k]]);
	assert_int_equal(gone, vv_lru_evicted(f->r->lru));

	/* what went comes back on the next use */
	open_file(f, F_MOD_B);
	open_file(f, 6);
	read_root(f);
	assert_true(vv_lru_used(f->r->lru) <= limit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tree_walk, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_file_batch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_file_unknown_dir, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_warm_cache_batches, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tampered, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_missing_held, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_head, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cache_marker, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bound_keeps_wanted, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
