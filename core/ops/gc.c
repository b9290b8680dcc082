/*
 * gc.c - garbage collection (rules in gc.h): mark everything the roots reach with the
 * reachability walk shared with fsck and stats (reach.h), then sweep objects/ (the
 * object database's walk, odb.h), deleting unreachable objects older than the grace
 * period (vv_odb_remove).
 *
 * Roots are read journals first, then env files: a commit renames envs/NAME before it
 * starts a new journal, so whatever a journal named is either still in the journal we
 * read or already under the env root we read after it. History files come after the
 * env files: a root change is recorded in history/NAME before envs/NAME is replaced
 * (history.h), so a root that leaves an env file we read is in the history we read
 * after it.
 */
#include "ops/gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "env/env.h"
#include "env/envlock.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "util/vec.h"
#include "env/history.h"
#include "env/journal.h"
#include "pkg/pkg.h"
#include "ops/reach.h"
#include "python/python.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"

#define JOURNAL_MAGIC "venvfs-journal 1 "
#define JOURNAL_MAX ((size_t)1 << 30)
#define LOCK_NAME "gc.lock"

struct gc {
	struct vv_store *st;
	const struct vv_gc_opts *opts;
	struct vv_gc_result *res;
	struct vv_reach *reach;
	struct timespec cutoff; /* objects changed after this are young */
	uint64_t nfans;         /* entries of objects/, for the progress report */
	char **stages;          /* stage names the journals name (sorted before the sweep) */
	size_t nstages, capstages;
};

/* Lists of names in a store directory, skipping dot files (temp files of
 * vv_write_file_atomic). */
static int list_dir(int dirfd, const char *what, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = vv_opendir_at(dirfd, ".");
	if (!d)
		return vv_err_sys(-errno, "cannot read %s", what);
	size_t cap = 0;
	int r = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if ((r = VV_GROW(*out, *n, cap, 16)) < 0)
			break;
		if (!((*out)[*n] = strdup(de->d_name))) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		(*n)++;
	}
	if (!r && errno)
		r = vv_err_sys(-errno, "cannot read %s", what);
	closedir(d);
	if (r < 0) {
		vv_strv_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

/* ---- roots ----------------------------------------------------------------------- */

/* journal/NAME: its header root and every object a `c` record names. A torn last
 * record (a write in progress, or a power loss) ends the journal as replay does; a
 * malformed one before the end fails gc. */
static int mark_journal(struct gc *g, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	int r = vv_read_file_at(g->st->journalfd, name, JOURNAL_MAX, &buf, &len);
	if (r == -ENOENT)
		return 0; /* committed or removed since the listing: its env file covers it */
	if (r < 0)
		return vv_err_prefix(r, "journal/%s", name);
	size_t hl = strlen(JOURNAL_MAGIC) + VV_OID_HEX + 1;
	vv_oid root;
	if (len < hl || memcmp(buf, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)) ||
	    buf[hl - 1] != '\n' ||
	    vv_oid_from_hex(&root, buf + strlen(JOURNAL_MAGIC), VV_OID_HEX) < 0) {
		free(buf);
		return vv_err(-EUCLEAN, "journal/%s: no valid 'venvfs-journal 1 ROOT' header",
			      name);
	}
	r = vv_reach_tree(g->reach, &root);
	if (r < 0) {
		free(buf);
		return vv_err_prefix(r, "journal/%s: root", name);
	}
	size_t off = hl;
	while (off < len) {
		struct vv_jrec j;
		int n = vv_journal_parse(buf + off, len - off, &j);
		if (n == 0)
			break; /* torn tail */
		if (n < 0) {
			r = vv_err(-EUCLEAN, "journal/%s: malformed record at byte %zu (mounting "
				   "the store replays and repairs it)", name, off);
			break;
		}
		if (j.op == 'w') {
			if ((r = VV_GROW(g->stages, g->nstages, g->capstages, 64)) < 0)
				break;
			if (!(g->stages[g->nstages] = strdup(j.stage))) {
				r = vv_err(-ENOMEM, "out of memory");
				break;
			}
			g->nstages++;
		}
		if (j.op == 'c') {
			vv_oid oid;
			r = vv_oid_from_hex(&oid, j.oidhex, VV_OID_HEX);
			if (r < 0) {
				r = vv_err(-EUCLEAN, "journal/%s: bad object id at byte %zu", name,
					   off);
				break;
			}
			if ((r = vv_reach_object(g->reach, &oid)) < 0)
				break;
		}
		off += (size_t)n;
	}
	free(buf);
	if (r == 0)
		g->res->journals++;
	return r;
}

static int mark_env(struct gc *g, const char *name)
{
	struct vv_envcfg cfg = {0};
	vv_err_clear();
	int r = vv_env_load(g->st, name, &cfg);
	if (r == -ENOENT)
		return 0; /* removed since the listing */
	if (r < 0)
		return vv_err_prefix(r, "env '%s'", name);
	r = vv_reach_tree(g->reach, &cfg.root);
	vv_envcfg_release(&cfg);
	if (r < 0)
		return vv_err_prefix(r, "env '%s'", name);
	if (strcmp(name, VV_ROOT_ENV))
		g->res->envs++;
	return 0;
}

/* pythons/KEY: the skeleton trees new envs start from (the file is python.h's). */
static int mark_python(struct gc *g, const char *name)
{
	struct vv_python_cache_trees t;
	int r = vv_python_cache_trees(g->st, name, &t);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t k = 0; k < t.n && r == 0; k++) {
		r = vv_reach_tree(g->reach, &t.id[k]);
		if (r < 0)
			vv_err_prefix(r, "pythons/%s: %s", name, t.what[k]);
	}
	if (r == 0)
		g->res->pythons++;
	return r;
}

static bool young(const struct gc *g, const struct stat *sb);

/* The .dist-info tree of a package's site-packages part, or zero. */
static int pkg_distinfo(struct gc *g, const struct vv_pkg *p, vv_oid *out)
{
	memset(out, 0, sizeof(*out));
	if (vv_oid_is_zero(&p->site))
		return 0;
	struct vv_tree *t = NULL;
	int r = vv_tree_get(g->st, &p->site, &t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n; i++) {
		const struct vv_tree_ent *e = &t->ents[i];
		if (e->kind == VV_DIR && e->namelen > 10 &&
		    !strcmp(e->name + e->namelen - 10, ".dist-info"))
			*out = e->oid;
	}
	vv_tree_unref(t);
	return 0;
}

/* packages/RECORD: the trees of an ingested wheel. With drop_packages, a record no
 * env or journal uses (its .dist-info tree is not reached from them) and older than
 * the grace period is removed instead. Runs after every other root is marked. */
static int mark_package(struct gc *g, const char *name)
{
	char fname[400];
	snprintf(fname, sizeof(fname), "packages/%.300s", name);
	if (name[0] == '.' || !strchr(name, '@'))
		return 0; /* a temp file of a record being written */
	struct vv_pkg p;
	vv_err_clear();
	int r = vv_pkg_load(g->st, name, &p);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (g->opts->drop_packages) {
		vv_oid di;
		struct stat sb;
		if ((r = pkg_distinfo(g, &p, &di)) < 0) {
			vv_err_prefix(r, "%s", fname);
			goto out;
		}
		bool used = !vv_oid_is_zero(&di) && vv_reach_has(g->reach, &di);
		if (!used && fstatat(g->st->pkgfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !young(g, &sb)) {
			g->res->packages_dropped++;
			if (!g->opts->dry_run && unlinkat(g->st->pkgfd, name, 0) < 0 &&
			    errno != ENOENT)
				r = vv_err_sys(-errno, "cannot remove %s", fname);
			goto out;
		}
	}
	if ((r = vv_reach_tree(g->reach, &p.tree)) < 0)
		vv_err_prefix(r, "%s: tree", fname);
	else
		g->res->packages++;
out:
	vv_pkg_release(&p);
	return r;
}

static int mark_root(void *arg, const vv_oid *root)
{
	return vv_reach_tree(arg, root);
}

/* Every history/NAME: the roots of its entries and snapshots. A file listed but gone
 * when read was renamed (an env rename) or removed: list again, so a renamed history
 * is not missed. */
static int mark_histories(struct gc *g)
{
	for (int pass = 0; pass < 20; pass++) {
		DIR *d = vv_opendir_at(g->st->historyfd, ".");
		if (!d)
			return vv_err_sys(-errno, "cannot read history/");
		int r = 0;
		bool vanished = false;
		uint64_t count = 0;
		struct dirent *de;
		while (r == 0 && (errno = 0, de = readdir(d))) {
			const char *nm = de->d_name;
			if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strncmp(nm, ".tmp-", 5) ||
			    vv_env_name_ok(nm, strlen(nm)) < 0)
				continue;
			struct vv_history h;
			char *buf = NULL;
			size_t len = 0;
			vv_err_clear();
			r = vv_read_file_at(g->st->historyfd, nm, (size_t)4 << 20, &buf, &len);
			if (r == -ENOENT) {
				vanished = true;
				r = 0;
				continue;
			}
			if (r < 0) {
				vv_err_prefix(r, "history/%s", nm);
				break;
			}
			r = vv_history_parse(buf, len, nm, &h);
			free(buf);
			if (r < 0)
				break;
			r = vv_history_roots(&h, mark_root, g->reach);
			if (r < 0)
				vv_err_prefix(r, "history/%s", nm);
			vv_history_release(&h);
			count++;
		}
		if (r == 0 && errno)
			r = vv_err_sys(-errno, "cannot read history/");
		closedir(d);
		if (r < 0)
			return r;
		if (!vanished) {
			g->res->histories = count;
			return 0;
		}
	}
	return vv_err(-EAGAIN, "history/ keeps changing while it is read; try again");
}

static int mark_all(struct gc *g, int dirfd, const char *what, int (*fn)(struct gc *,
								      const char *))
{
	char **names;
	size_t n;
	int r = list_dir(dirfd, what, &names, &n);
	for (size_t i = 0; i < n && r == 0; i++)
		r = fn(g, names[i]);
	vv_strv_free(names, n);
	return r;
}

/* ---- sweep ----------------------------------------------------------------------- */

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static bool young(const struct gc *g, const struct stat *sb)
{
	return ts_after(&sb->st_mtim, &g->cutoff) || ts_after(&sb->st_ctim, &g->cutoff);
}

/* One entry of objects/ (vv_odb_each): count it, and delete it when nothing reaches it
 * and it is older than the grace period. */
static int sweep_one(const struct vv_odb_entry *e, void *arg)
{
	struct gc *g = arg;
	switch (e->kind) {
	case VV_ODB_FAN:
		vv_progress_report(g->opts->progress, "sweeping", e->fan, e->nfans);
		g->nfans = e->nfans;
		return 0;
	case VV_ODB_STRAY:
		return 0; /* not an object: fsck reports it, gc leaves it */
	case VV_ODB_ERROR:
		if (e->has_oid)
			return vv_err_sys(e->err, "cannot stat %s", e->rel);
		return e->err == -ENOENT ? 0 : vv_err_sys(e->err, "cannot open %s", e->rel);
	case VV_ODB_OBJECT:
		break;
	}
	uint64_t size = (uint64_t)e->st.st_size;
	g->res->objects++;
	g->res->bytes += size;
	if (vv_reach_has(g->reach, &e->oid))
		return 0;
	if (young(g, &e->st)) {
		g->res->young++;
		g->res->young_bytes += size;
		return 0;
	}
	if (!g->opts->dry_run) {
		int r = vv_odb_remove(&g->st->odb, &e->oid, &e->st, &g->cutoff);
		if (r < 0)
			return r;
		if (r == 0) {
			g->res->young++;
			g->res->young_bytes += size;
			return 0;
		}
	}
	g->res->freed++;
	g->res->freed_bytes += size;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* stage/: a stage no journal names, nobody holds open and nobody changed within the
 * grace period was left by a writer that died between making it and naming it. */
static int sweep_stage_one(const char *name, const struct stat *sb, void *arg)
{
	struct gc *g = arg;
	const char *key = name;
	if (bsearch(&key, g->stages, g->nstages, sizeof(char *), cmp_str))
		return 0;
	const struct timespec *m = &sb->st_mtim, *c = &sb->st_ctim;
	const struct timespec *t = c->tv_sec > m->tv_sec ||
				   (c->tv_sec == m->tv_sec && c->tv_nsec > m->tv_nsec) ? c : m;
	if (t->tv_sec > g->cutoff.tv_sec ||
	    (t->tv_sec == g->cutoff.tv_sec && t->tv_nsec > g->cutoff.tv_nsec))
		return 0;
	if (!S_ISREG(sb->st_mode) || !vv_odb_stage_name_ok(name, strlen(name)) ||
	    vv_odb_stage_in_use(&g->st->odb, name))
		return 0;
	g->res->stages_freed++;
	g->res->freed_bytes += (uint64_t)sb->st_blocks * 512;
	if (!g->opts->dry_run)
		return vv_odb_stage_remove(&g->st->odb, name);
	return 0;
}

static int sweep_stages(struct gc *g)
{
	if (g->nstages)
		qsort(g->stages, g->nstages, sizeof(char *), cmp_str);
	return vv_odb_stage_each(&g->st->odb, sweep_stage_one, g);
}

static int sweep(struct gc *g)
{
	int r = vv_odb_each(&g->st->odb, 0, sweep_one, g);
	if (r == 0)
		vv_progress_report(g->opts->progress, "sweeping", g->nfans, g->nfans);
	return r;
}

/* ---- entry point ----------------------------------------------------------------- */

static int take_lock(struct vv_store *st, int *fd_out)
{
	int fd = openat(st->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return vv_err_sys(-errno, "cannot open '%s/%s'", st->path, LOCK_NAME);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return vv_err(-EBUSY, "store '%s': another gc is running (%s is locked)",
				      st->path, LOCK_NAME);
		return vv_err_sys(-e, "cannot lock '%s/%s'", st->path, LOCK_NAME);
	}
	*fd_out = fd;
	return 0;
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int vv_gc(struct vv_store *st, const struct vv_gc_opts *opts, struct vv_gc_result *res)
{
	memset(res, 0, sizeof(*res));
	if (opts->grace_s < 0)
		return vv_err(-EINVAL, "grace period %lld s is negative", (long long)opts->grace_s);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct gc g = {.st = st, .opts = opts, .res = res};
	if (opts->now_s) {
		g.cutoff.tv_sec = opts->now_s;
	} else {
		clock_gettime(CLOCK_REALTIME, &g.cutoff);
	}
	g.cutoff.tv_sec -= opts->grace_s;

	int lockfd = -1;
	int r = opts->dry_run ? 0 : take_lock(st, &lockfd);
	if (r < 0)
		return r;
	r = vv_reach_new(st, &g.reach);
	vv_progress_report(opts->progress, "marking", 0, 0);
	if (r == 0)
		r = mark_all(&g, st->journalfd, "journal/", mark_journal);
	if (r == 0)
		r = mark_journal(&g, VV_ROOT_ENV); /* the mount root's files (list_dir skips it) */
	if (r == 0)
		r = mark_all(&g, st->envfd, "envs/", mark_env);
	if (r == 0)
		r = mark_env(&g, VV_ROOT_ENV); /* the mount root's files (list_dir skips it) */
	if (r == 0)
		r = mark_histories(&g);
	if (r == 0)
		r = mark_all(&g, st->pythonfd, "pythons/", mark_python);
	if (r == 0)
		r = mark_all(&g, st->pkgfd, "packages/", mark_package);
	if (r < 0) {
		vv_err_prefix(r, "gc stopped, nothing deleted");
	} else {
		vv_reach_counts(g.reach, &res->trees, &res->files);
		r = sweep(&g);
		if (r == 0)
			r = sweep_stages(&g);
		/* writer lock files of names with no env (each removed under its lock) */
		if (r == 0 && !opts->dry_run)
			vv_envlock_prune(st);
	}
	vv_reach_free(g.reach);
	vv_strv_free(g.stages, g.nstages);
	if (lockfd >= 0)
		close(lockfd);
	res->seconds = elapsed(&t0);
	return r;
}
