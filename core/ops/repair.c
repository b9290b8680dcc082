/*
 * repair.c - fsck --repair: quarantine corrupt objects, restore wanted objects from
 * intact sources, record what stays damaged (see repair.h for the steps).
 *
 * Every change is one crash-safe step: a rename into quarantine/ (then both directories
 * are fsynced), an object published by the store's usual protocol, the damaged list
 * replaced atomically. Interrupted at any point, the store is as consistent as before
 * and running the repair again continues where it stopped.
 */
#include "ops/repair.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "store/damaged.h"
#include "env/env.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/fsutil.h"
#include "util/vec.h"
#include "python/python.h"
#include "pkg/seed.h"
#include "store/store.h"

#define MAX_ROUNDS 4
#define MAX_DEPTH 64                 /* directory levels searched in a source */
#define MAX_MEMBER ((zip_uint64_t)1 << 30) /* larger wheel members are skipped */

static void act(void (*action)(void *, const char *), void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void act(void (*action)(void *, const char *), void *arg, const char *fmt, ...)
{
	if (!action)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	action(arg, line);
}

/* Remove oid from the sorted set; true if it was there. */
static bool take(struct vv_oidset *s, const vv_oid *oid)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(&s->ids[mid], oid, sizeof(*oid));
		if (c == 0) {
			memmove(&s->ids[mid], &s->ids[mid + 1], (s->n - mid - 1) * sizeof(*oid));
			s->n--;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* ---- sources --------------------------------------------------------------------- */

struct src {
	struct vv_store *st;
	struct vv_oidset *want;
	uint64_t *restored;
	void (*action)(void *, const char *);
	void *arg;
};

static int from_buf(struct src *s, const void *buf, size_t len, const char *what,
		    const char *member)
{
	vv_oid oid;
	vv_hash_buf(buf, len, &oid);
	if (!vv_oidset_has(s->want, &oid))
		return 0;
	vv_oid got;
	int r = vv_odb_put_buf(&s->st->odb, buf, len, &got);
	if (r < 0)
		return vv_err_prefix(r, "restoring from '%s'", what);
	take(s->want, &oid);
	(*s->restored)++;
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&oid, hex);
	act(s->action, s->arg, "restored object %s from %s%s%s", hex, what, member ? ":" : "",
	    member ? member : "");
	return 0;
}

/* Is this file a zip archive (wheel)? */
static bool is_zip(int fd)
{
	unsigned char m[4];
	return pread(fd, m, 4, 0) == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}

static int from_zip(struct src *s, const char *path)
{
	int ze = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY, &ze);
	if (!za) {
		zip_error_t err;
		zip_error_init_with_code(&err, ze);
		int r = vv_err(-EINVAL, "source '%s': not a readable wheel: %s", path,
			       zip_error_strerror(&err));
		zip_error_fini(&err);
		return r;
	}
	int r = 0;
	zip_int64_t n = zip_get_num_entries(za, 0);
	for (zip_int64_t i = 0; i < n && r == 0 && s->want->n; i++) {
		zip_stat_t sb;
		if (zip_stat_index(za, (zip_uint64_t)i, 0, &sb) < 0 || !(sb.valid & ZIP_STAT_SIZE) ||
		    sb.size > MAX_MEMBER)
			continue;
		if (sb.name && sb.name[0] && sb.name[strlen(sb.name) - 1] == '/')
			continue;
		char *buf = malloc(sb.size ? sb.size : 1);
		if (!buf) {
			r = vv_err(-ENOMEM, "out of memory reading '%s'", path);
			break;
		}
		zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
		zip_int64_t got = zf ? zip_fread(zf, buf, sb.size) : -1;
		if (zf)
			zip_fclose(zf);
		if (got == (zip_int64_t)sb.size)
			r = from_buf(s, buf, sb.size, path, sb.name); /* else: a bad member, skip */
		free(buf);
	}
	zip_discard(za);
	return r;
}

static int from_file(struct src *s, int dirfd, const char *name, const char *path)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vv_err_sys(-errno, "source '%s'", path);
	vv_oid oid;
	uint64_t size;
	int r = vv_hash_fd(fd, &oid, &size);
	if (r < 0) {
		close(fd);
		return vv_err_prefix(r, "source '%s'", path);
	}
	if (vv_oidset_has(s->want, &oid)) {
		vv_oid got;
		r = vv_odb_put_fd(&s->st->odb, fd, &got, NULL);
		if (r == 0 && !vv_oid_eq(&got, &oid))
			r = vv_err(-EAGAIN, "source '%s' changed while it was read", path);
		if (r == 0) {
			take(s->want, &oid);
			(*s->restored)++;
			char hex[VV_OID_HEX + 1];
			vv_oid_hex(&oid, hex);
			act(s->action, s->arg, "restored object %s from %s", hex, path);
		}
	}
	bool zip = r == 0 && s->want->n && is_zip(fd);
	close(fd);
	if (zip)
		r = from_zip(s, path);
	return r;
}

static int from_dir(struct src *s, int dirfd, const char *path, int depth)
{
	if (depth > MAX_DEPTH)
		return 0;
	DIR *d = vv_opendir_at(dirfd, ".");
	if (!d)
		return vv_err_sys(-errno, "source '%s'", path);
	int r = 0;
	struct dirent *de;
	while (r == 0 && s->want->n && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *sub = NULL;
		if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		struct stat sb;
		if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			free(sub);
			continue; /* gone meanwhile */
		}
		if (S_ISDIR(sb.st_mode)) {
			int fd = openat(dirfd, de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				r = from_dir(s, fd, sub, depth + 1);
				close(fd);
			}
		} else if (S_ISREG(sb.st_mode)) {
			r = from_file(s, dirfd, de->d_name, sub);
			/* a file we may not read or a bad zip in a directory is not fatal */
			if (r == -EACCES || r == -EPERM || r == -EINVAL)
				r = 0;
		}
		free(sub);
	}
	closedir(d);
	return r;
}

int vv_repair_from_path(struct vv_store *st, const char *path, struct vv_oidset *want,
			uint64_t *restored, void (*action)(void *arg, const char *line),
			void *arg)
{
	struct src s = {.st = st, .want = want, .restored = restored, .action = action,
			.arg = arg};
	vv_oidset_sort(want);
	struct stat sb;
	if (stat(path, &sb) < 0)
		return vv_err_sys(-errno, "source '%s'", path);
	if (S_ISDIR(sb.st_mode)) {
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return vv_err_sys(-errno, "source '%s'", path);
		int r = from_dir(&s, fd, path, 0);
		close(fd);
		return r;
	}
	if (!S_ISREG(sb.st_mode))
		return vv_err(-EINVAL, "source '%s': not a file, wheel or directory", path);
	if (!want->n)
		return 0;
	return from_file(&s, AT_FDCWD, path, path);
}

/* ---- the steps ------------------------------------------------------------------- */

struct rctx {
	struct vv_store *st;
	const struct vv_repair_opts *o;
	struct vv_repair_result *res;
	vv_fsck_cb cb;           /* the caller's callback for this check */
	struct vv_oidset corrupt; /* to quarantine */
	struct vv_oidset want;    /* corrupt or missing: to restore */
	char **strays;            /* store-relative paths of stray entries */
	size_t nstrays, capstrays;
	int err;
};

static int collect(const struct vv_fsck_problem *p, void *arg)
{
	struct rctx *c = arg;
	if (c->cb && c->cb(p, c->o->arg))
		return 1;
	int r = 0;
	switch (p->kind) {
	case VV_FSCK_CORRUPT:
	case VV_FSCK_IO:
		if (p->oid) {
			r = vv_oidset_add(&c->corrupt, p->oid);
			if (r == 0)
				r = vv_oidset_add(&c->want, p->oid);
		}
		break;
	case VV_FSCK_MISSING:
		if (p->oid)
			r = vv_oidset_add(&c->want, p->oid);
		break;
	case VV_FSCK_STRAY:
		if (p->path && !strncmp(p->path, "objects/", 8)) {
			if (VV_GROW(c->strays, c->nstrays, c->capstrays, 1) < 0) {
				r = -ENOMEM;
				break;
			}
			if (!(c->strays[c->nstrays] = strdup(p->path)))
				r = -ENOMEM;
			else
				c->nstrays++;
		}
		break;
	default:
		break;
	}
	if (r < 0) {
		c->err = vv_err(-ENOMEM, "out of memory collecting problems");
		return 1;
	}
	return 0;
}

static void clear_found(struct rctx *c)
{
	c->corrupt.n = 0;
	c->want.n = 0;
	for (size_t i = 0; i < c->nstrays; i++)
		free(c->strays[i]);
	free(c->strays);
	c->strays = NULL;
	c->nstrays = c->capstrays = 0;
}

static int check(struct rctx *c, vv_fsck_cb cb, struct vv_fsck_summary *sum)
{
	clear_found(c);
	c->cb = cb;
	c->err = 0;
	vv_err_clear();
	int r = vv_fsck_ex(c->st, collect, c, sum, c->o->progress);
	if (r >= 0 && c->err)
		r = c->err;
	vv_oidset_sort(&c->corrupt);
	vv_oidset_sort(&c->want);
	return r;
}

/* Move STORE/rel (under objects/) to quarantine/NAME, NAME made unique. */
static int quarantine(struct rctx *c, int qfd, const char *rel, const char *name)
{
	char q[NAME_MAX + 1];
	for (int i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(q, sizeof(q), "%s", name);
		else
			snprintf(q, sizeof(q), "%.200s.%d", name, i);
		if (renameat2(c->st->dirfd, rel, qfd, q, RENAME_NOREPLACE) == 0) {
			/* the rename is durable once both directories are */
			char parent[PATH_MAX];
			snprintf(parent, sizeof(parent), "%s", rel);
			char *slash = strrchr(parent, '/');
			if (slash)
				*slash = 0;
			int r = vv_fsync_dir_at(qfd, ".");
			if (r == 0)
				r = vv_fsync_dir_at(c->st->dirfd, parent);
			if (r < 0)
				return r;
			c->res->quarantined++;
			act(c->o->action, c->o->arg, "quarantined %s as %s/%s", rel,
			    VV_QUARANTINE_DIR, q);
			return 0;
		}
		if (errno == ENOENT)
			return 0; /* gone meanwhile (gc, another repair) */
		if (errno != EEXIST)
			return vv_err_sys(-errno, "cannot move '%s' to %s/", rel, VV_QUARANTINE_DIR);
	}
	return vv_err(-EEXIST, "cannot move '%s' to %s/: too many copies", rel,
		      VV_QUARANTINE_DIR);
}

static int quarantine_all(struct rctx *c)
{
	if (!c->corrupt.n && !c->nstrays)
		return 0;
	if (mkdirat(c->st->dirfd, VV_QUARANTINE_DIR, 0700) < 0 && errno != EEXIST)
		return vv_err_sys(-errno, "cannot create '%s/%s'", c->st->path,
				  VV_QUARANTINE_DIR);
	int qfd = openat(c->st->dirfd, VV_QUARANTINE_DIR,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (qfd < 0)
		return vv_err_sys(-errno, "cannot open '%s/%s'", c->st->path, VV_QUARANTINE_DIR);
	int r = vv_fsync_dir_at(c->st->dirfd, ".");
	for (size_t i = 0; i < c->corrupt.n && r == 0; i++) {
		char rel[8 + VV_OID_HEX + 2], hex[VV_OID_HEX + 1];
		vv_odb_obj_path(&c->corrupt.ids[i], rel);
		vv_oid_hex(&c->corrupt.ids[i], hex);
		r = quarantine(c, qfd, rel, hex);
	}
	for (size_t i = 0; i < c->nstrays && r == 0; i++) {
		char name[NAME_MAX + 1];
		snprintf(name, sizeof(name), "stray-%.200s", c->strays[i] + 8);
		for (char *p = name; *p; p++)
			if (*p == '/')
				*p = '-';
		r = quarantine(c, qfd, c->strays[i], name);
	}
	close(qfd);
	return r;
}

/* Each env's interpreter, once. */
static int env_pythons(struct vv_store *st, char ***out, size_t *nout)
{
	char **names = NULL, **exes = NULL;
	size_t n = 0, ne = 0;
	*out = NULL;
	*nout = 0;
	int r = vv_env_list(st, &names, &n);
	if (r < 0)
		return r;
	exes = calloc(n ? n : 1, sizeof(*exes));
	if (!exes) {
		vv_strv_free(names, n);
		return vv_err(-ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct vv_envcfg cfg = {0};
		if (vv_env_load(st, names[i], &cfg) < 0)
			continue;
		bool dup = !cfg.python;
		for (size_t k = 0; k < ne && !dup; k++)
			dup = !strcmp(exes[k], cfg.python);
		if (!dup && (exes[ne] = strdup(cfg.python)))
			ne++;
		vv_envcfg_release(&cfg);
	}
	vv_strv_free(names, n);
	*out = exes;
	*nout = ne;
	return 0;
}

/* The interpreters' bundled pip wheels, then their skeletons rebuilt. */
static int from_bundled(struct rctx *c)
{
	char **exes;
	size_t ne;
	int r = env_pythons(c->st, &exes, &ne);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ne && c->want.n; i++) {
		struct vv_python py = {0};
		vv_err_clear();
		if (vv_python_load(c->st, exes[i], NULL, &py) < 0) {
			act(c->o->action, c->o->arg, "cannot use interpreter %s as a source: %s",
			    exes[i], vv_errmsg());
			continue;
		}
		if (py.pip_wheel) {
			r = vv_repair_from_path(c->st, py.pip_wheel, &c->want, &c->res->restored,
						c->o->action, c->o->arg);
			if (r < 0) {
				act(c->o->action, c->o->arg, "%s", vv_errmsg());
				r = 0;
			}
		}
		if (c->want.n) {
			vv_err_clear();
			if (vv_seed_rebuild(c->st, &py) < 0) {
				act(c->o->action, c->o->arg, "cannot rebuild the skeletons of %s: %s",
				    exes[i], vv_errmsg());
			} else {
				/* what the rebuild published is there now */
				for (size_t k = 0; k < c->want.n;) {
					if (vv_odb_has(&c->st->odb, &c->want.ids[k]) == 1) {
						char hex[VV_OID_HEX + 1];
						vv_oid_hex(&c->want.ids[k], hex);
						act(c->o->action, c->o->arg,
						    "restored object %s by rebuilding the env skeletons "
						    "of %s", hex, exes[i]);
						c->res->restored++;
						take(&c->want, &c->want.ids[k]);
					} else {
						k++;
					}
				}
			}
		}
		vv_python_release(&py);
	}
	for (size_t i = 0; i < ne; i++)
		free(exes[i]);
	free(exes);
	return r;
}

/* Restore c->want from every source; returns how many were restored or -errno. */
static int restore(struct rctx *c)
{
	uint64_t before = c->res->restored;
	for (size_t i = 0; i < c->o->nsources && c->want.n; i++) {
		vv_progress_report(c->o->progress, "restoring", i, c->o->nsources);
		int r = vv_repair_from_path(c->st, c->o->sources[i], &c->want, &c->res->restored,
					    c->o->action, c->o->arg);
		if (r < 0)
			return r;
	}
	if (c->want.n && !c->o->no_bundled) {
		int r = from_bundled(c);
		if (r < 0)
			return r;
	}
	return (int)(c->res->restored - before);
}

int vv_repair(struct vv_store *st, const struct vv_repair_opts *o,
	      struct vv_repair_result *res)
{
	memset(res, 0, sizeof(*res));
	struct rctx c = {.st = st, .o = o, .res = res};
	/* sources are checked first: a typo should not cost a whole check */
	for (size_t i = 0; i < o->nsources; i++) {
		struct stat sb;
		if (stat(o->sources[i], &sb) < 0)
			return vv_err_sys(-errno, "source '%s'", o->sources[i]);
		if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
			return vv_err(-EINVAL, "source '%s': not a file, wheel or directory",
				      o->sources[i]);
	}
	struct vv_fsck_summary sum;
	int r = check(&c, o->found, &sum);
	if (r < 0)
		goto out;
	res->found = sum.problems;
	res->remaining = sum.problems;
	res->sum = sum;
	for (int round = 0; round < MAX_ROUNDS && r > 0; round++) {
		if ((r = quarantine_all(&c)) < 0)
			goto out;
		int got = restore(&c);
		if (got < 0) {
			r = got;
			goto out;
		}
		/* the last check reports what remains; a restored tree may reveal more to
		   restore below it, so go on while restoring helps */
		bool last = got == 0 || round + 1 == MAX_ROUNDS;
		r = check(&c, last ? o->remaining : NULL, &sum);
		if (r < 0)
			goto out;
		res->remaining = sum.problems;
		res->sum = sum;
	}
	/* The damaged list: what is still missing or corrupt (also when the store is
	   clean: an old list is then removed). */
	res->damaged = c.want.n;
	r = vv_damaged_save(st, &c.want);
out:
	clear_found(&c);
	vv_oidset_release(&c.corrupt);
	vv_oidset_release(&c.want);
	return r < 0 ? r : 0;
}
