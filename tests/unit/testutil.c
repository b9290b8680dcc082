/* testutil.c - temp dirs, stores and test wheels for unit tests (see testutil.h). */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "env/env.h"
#include "env/txn.h"
#include "live/mtree.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "store/odb.h"
#include "store/handle.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"

char *vt_tempdir(void)
{
	const char *t = getenv("TMPDIR");
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s/vvtest.XXXXXX", t && *t ? t : "/tmp");
	char *p = mkdtemp(buf);
	assert_non_null(p);
	return strdup(p);
}

void vt_rmtree(char *path)
{
	if (!path)
		return;
	assert_int_equal(vv_rm_rf_at(AT_FDCWD, path), 0);
	free(path);
}

struct vv_store *vt_store_new(void)
{
	char *dir = vt_tempdir();
	struct vv_store *st = NULL;
	int r = vv_store_open(&st, dir, 1);
	if (r < 0)
		fail_msg("vv_store_open: %s", vv_errmsg());
	free(dir);
	return st;
}

void vt_store_free(struct vv_store *st)
{
	if (!st)
		return;
	char *dir = strdup(st->path);
	vv_store_close(st);
	vt_rmtree(dir);
}

void vt_write_file(const char *path, const void *data, size_t len)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		assert_int_equal(vv_mkdir_p_at(AT_FDCWD, dir, 0755), 0);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(vv_write_all(fd, data, len), 0);
	close(fd);
}

size_t vt_count_files(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat s;
		if (lstat(p, &s) < 0)
			continue;
		if (S_ISDIR(s.st_mode))
			n += vt_count_files(p);
		else if (S_ISREG(s.st_mode))
			n++;
	}
	closedir(d);
	return n;
}

/* ---- wheels ---- */

static void rec_add(char **rec, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rec_add(char **rec, size_t *len, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	*rec = realloc(*rec, *len + (size_t)n + 1);
	assert_non_null(*rec);
	memcpy(*rec + *len, line, (size_t)n + 1);
	*len += (size_t)n;
	free(line);
}

static void zadd(zip_t *za, const char *name, const void *data, size_t len, unsigned mode,
		 const struct vt_wheel_opts *o)
{
	/* libzip frees the copy when it is done, except for empty buffers */
	void *copy = NULL;
	if (len) {
		copy = malloc(len);
		assert_non_null(copy);
		memcpy(copy, data, len);
	}
	zip_source_t *src = zip_source_buffer(za, copy, len, len ? 1 : 0);
	assert_non_null(src);
	zip_int64_t idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8);
	if (idx < 0)
		fail_msg("zip_file_add %s: %s", name, zip_strerror(za));
	if (!mode)
		mode = S_IFREG | 0644;
	assert_int_equal(zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0,
							  ZIP_OPSYS_UNIX,
							  (zip_uint32_t)mode << 16), 0);
	assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx,
						  o->store_only ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0),
			 0);
	assert_int_equal(zip_file_set_mtime(za, (zip_uint64_t)idx,
					    o->mtime ? o->mtime : 1690000000, 0), 0);
}

char *vt_wheel_build(const char *dir, const char *fname, const struct vt_member *m, size_t n,
		     const struct vt_wheel_opts *opts)
{
	struct vt_wheel_opts o = {0};
	if (opts)
		o = *opts;
	const char *name = o.name ? o.name : "demo", *ver = o.version ? o.version : "1.0";
	char *path = NULL, di[256];
	assert_true(asprintf(&path, "%s/%s", dir, fname) > 0);
	snprintf(di, sizeof(di), "%s-%s.dist-info", name, ver);

	int ze = 0;
	zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &ze);
	assert_non_null(za);
	char *rec = NULL;
	size_t reclen = 0;

	for (size_t i = 0; i < n + 2; i++) {
		char nm[300];
		const char *data;
		size_t len;
		unsigned mode = 0;
		if (i < n) {
			snprintf(nm, sizeof(nm), "%s", m[i].name);
			data = m[i].data ? m[i].data : "";
			len = m[i].len ? m[i].len : strlen(data);
			mode = m[i].mode;
		} else if (o.no_distinfo) {
			continue;
		} else if (i == n) {
			snprintf(nm, sizeof(nm), "%s/METADATA", di);
			data = NULL;
			len = 0;
		} else {
			snprintf(nm, sizeof(nm), "%s/WHEEL", di);
			data = "Wheel-Version: 1.0\nGenerator: vt\nRoot-Is-Purelib: true\n"
			       "Tag: py3-none-any\n";
			len = strlen(data);
		}
		char meta[300];
		if (i == n) {
			snprintf(meta, sizeof(meta),
				 "Metadata-Version: 2.1\nName: %s\nVersion: %s\n\nbody\n", name, ver);
			data = meta;
			len = strlen(meta);
		}
		zadd(za, nm, data, len, mode, &o);
		if ((mode & S_IFMT) == S_IFDIR || (o.unlisted && !strcmp(o.unlisted, nm)))
			continue;
		vv_oid oid;
		vv_hash_buf(data, len, &oid);
		if (o.bad_hash && !strcmp(o.bad_hash, nm))
			oid.b[0] ^= 1;
		char b64[44];
		vv_oid_b64(&oid, b64);
		size_t sz = len + (o.bad_size && !strcmp(o.bad_size, nm) ? 1 : 0);
		/* quote names like Python's csv module */
		if (strpbrk(nm, ",\"")) {
			char q[700];
			size_t k = 0;
			q[k++] = '"';
			for (const char *p = nm; *p; p++) {
				if (*p == '"')
					q[k++] = '"';
				q[k++] = *p;
			}
			q[k++] = '"';
			q[k] = 0;
			rec_add(&rec, &reclen, "%s,sha256=%s,%zu\n", q, b64, sz);
		} else if (o.no_hash && !strcmp(o.no_hash, nm)) {
			rec_add(&rec, &reclen, "%s,,%zu\n", nm, sz);
		} else if (o.other_hash && !strcmp(o.other_hash, nm)) {
			rec_add(&rec, &reclen, "%s,md5=1B2M2Y8AsgTpgAmY7PhCfg,%zu\n", nm, sz);
		} else {
			rec_add(&rec, &reclen, "%s,sha256=%s,%zu\n", nm, b64, sz);
		}
	}
	if (!o.no_distinfo) {
		char nm[300];
		snprintf(nm, sizeof(nm), "%s/RECORD", di);
		rec_add(&rec, &reclen, "%s,,\n", nm);
		zadd(za, nm, rec, reclen, 0, &o);
	}
	if (zip_close(za) < 0)
		fail_msg("zip_close: %s", zip_strerror(za));
	free(rec);
	return path;
}

size_t vt_patch_file(const char *path, const char *from, const char *to)
{
	size_t fl = strlen(from), count = 0;
	assert_int_equal(fl, strlen(to));
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_read_file_at(AT_FDCWD, path, 1 << 30, &buf, &len), 0);
	for (size_t i = 0; i + fl <= len; i++)
		if (!memcmp(buf + i, from, fl)) {
			memcpy(buf + i, to, fl);
			count++;
		}
	vt_write_file(path, buf, len);
	free(buf);
	return count;
}

char *vt_find_wheel(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	char *best = NULL;
	struct dirent *de;
	size_t pl = strlen(prefix);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (strncmp(de->d_name, prefix, pl) || l < 4 || strcmp(de->d_name + l - 4, ".whl"))
			continue;
		if (!best || strcmp(de->d_name, best) < 0) {
			free(best);
			best = strdup(de->d_name);
		}
	}
	closedir(d);
	if (!best)
		return NULL;
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, best) < 0)
		path = NULL;
	free(best);
	return path;
}

char *vt_find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	if (!path)
		return NULL;
	char *copy = strdup(path), *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];
		struct stat s;
		snprintf(p, sizeof(p), "%s/%s", d, name);
		if (d[0] == '/' && stat(p, &s) == 0 && S_ISREG(s.st_mode) && access(p, X_OK) == 0) {
			free(copy);
			return strdup(p);
		}
	}
	free(copy);
	return NULL;
}

int vt_is_elf(const char *path)
{
	char m[4];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, m, 4);
	close(fd);
	return n == 4 && !memcmp(m, "\x7f" "ELF", 4);
}

vv_oid vt_put(struct vv_store *st, const char *data)
{
	vv_oid oid;
	assert_int_equal(vv_odb_put_buf(&st->odb, data, strlen(data), &oid), 0);
	return oid;
}

struct vv_tree_ent vt_file_ent(const char *name, vv_oid oid, uint64_t size)
{
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.name = name;
	e.namelen = (uint16_t)strlen(name);
	e.kind = VV_REG;
	e.mode = 0644;
	e.size = size;
	e.oid = oid;
	return e;
}

struct vv_tree_ent vt_dir_ent(const char *name, vv_oid oid)
{
	struct vv_tree_ent e = vt_file_ent(name, oid, 0);
	e.kind = VV_DIR;
	e.mode = 0755;
	return e;
}

struct vv_tree_ent vt_link_ent(const char *name, const char *target)
{
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.name = name;
	e.namelen = (uint16_t)strlen(name);
	e.kind = VV_LNK;
	e.mode = 0777;
	e.size = strlen(target);
	e.target = target;
	return e;
}

vv_oid vt_tree(struct vv_store *st, struct vv_tree_ent *ents, size_t n)
{
	vv_oid oid;
	vv_tree_sort(ents, n);
	/* like vv_tree_write, but a directory whose tree is missing (tests of damage)
	 * keeps count 0 */
	for (size_t i = 0; i < n; i++) {
		uint64_t c;
		if (ents[i].kind == VV_DIR && !ents[i].size && vv_tree_count(st, &ents[i].oid, &c) == 0)
			ents[i].size = c;
	}
	vv_err_clear();
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(ents, n, NULL, 0, &buf, &len), 0);
	assert_int_equal(vv_odb_put_buf(&st->odb, buf, len, &oid), 0);
	free(buf);
	vt_forget_trees(st);
	return oid;
}

void vt_forget_trees(struct vv_store *st)
{
	vv_treecache_free(st->trees);
	st->trees = vv_treecache_new();
	assert_non_null(st->trees);
}

void vt_mkenv(struct vv_store *st, const char *name, vv_oid root)
{
	struct vv_envcfg cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.python = (char *)"/usr/bin/python3";
	cfg.root = root;
	if (vv_txn_create(st, name, &cfg) < 0)
		fail_msg("vv_txn_create: %s", vv_errmsg());
}

void vt_obj_path(struct vv_store *st, const vv_oid *oid, char *buf, size_t cap)
{
	char rel[VV_ODB_PATH_SIZE];
	vv_odb_obj_path(oid, rel);
	snprintf(buf, cap, "%s/%s", st->path, rel);
}

void vt_obj_clobber(struct vv_store *st, const vv_oid *oid, const char *data)
{
	char p[4096];
	vt_obj_path(st, oid, p, sizeof(p));
	assert_int_equal(chmod(p, 0644), 0);
	vt_write_file(p, data, strlen(data));
}

void vt_obj_drop(struct vv_store *st, const vv_oid *oid)
{
	char p[4096];
	vt_obj_path(st, oid, p, sizeof(p));
	assert_int_equal(unlink(p), 0);
}

void vt_twoenvs_build(struct vt_twoenvs *f)
{
	struct vv_store *st = f->st = vt_store_new();
	f->x = vt_put(st, "xxxxxxxxxx");         /* 10 */
	f->y = vt_put(st, "yyyyyyyyyyyyyyyyyyyy"); /* 20 */
	f->z = vt_put(st, "zzzzz");              /* 5 */
	f->u = vt_put(st, "uuuuuuu");            /* 7 */
	f->v = vt_put(st, "vvv");                /* 3 */
	f->garbage = vt_put(st, "nobody references this"); /* 22 */

	struct vv_tree_ent c[] = {vt_file_ent("x", f->x, 10), vt_file_ent("y", f->y, 20)};
	f->common = vt_tree(st, c, 2);
	struct vv_tree_ent ra[] = {
		vt_dir_ent("common", f->common), vt_file_ent("z", f->z, 5), vt_file_ent("u", f->u, 7),
		vt_link_ent("lib64", "lib"),
	};
	f->root_a = vt_tree(st, ra, 4);
	struct vv_tree_ent rb[] = {
		vt_dir_ent("common", f->common), vt_dir_ent("again", f->common),
		vt_file_ent("z2", f->z, 5), vt_file_ent("v", f->v, 3),
	};
	f->root_b = vt_tree(st, rb, 4);
	vt_mkenv(st, "a", f->root_a);
	vt_mkenv(st, "b", f->root_b);
}

vv_oid vt_env_root(struct vv_store *st, const char *name)
{
	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(st, name, &cfg), 0);
	vv_oid r = cfg.root;
	vv_envcfg_release(&cfg);
	return r;
}

int vt_env_save(struct vv_store *st, const char *name, const struct vv_envcfg *cfg,
		const char *source, unsigned hflags)
{
	struct vv_txn t;
	vv_txn_live(st, name, -1, cfg, &t);
	int r = vv_txn_commit(&t, cfg, source, hflags);
	vv_txn_end(&t);
	return r;
}

int vt_lookup(struct vv_store *st, const vv_oid *root, const char *path, struct vv_tree_ent *out)
{
	vv_oid cur = *root;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	/* values from the root's times section (store/times.h), as the mount shows them */
	struct vv_tree *rt;
	struct vv_times *times = NULL;
	assert_int_equal(vv_tree_get(st, root, &rt), 0);
	assert_int_equal(vv_times_of(rt, &times), 0);
	vv_tree_unref(rt);
	uint64_t base = 0;
	for (char *comp = strtok_r(buf, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		struct vv_tree *t;
		assert_int_equal(vv_tree_get(st, &cur, &t), 0);
		const struct vv_tree_ent *e = vv_tree_find(t, comp, strlen(comp));
		if (!e) {
			vv_tree_unref(t);
			vv_times_unref(times);
			return 0;
		}
		*out = *e;
		vv_times_apply(times, base + e->pos, out);
		base += e->pos + 1;
		out->name = NULL;
		out->target = NULL;
		cur = e->oid;
		char *next = save;
		vv_tree_unref(t);
		if (next && *next && out->kind != VV_DIR) {
			vv_times_unref(times);
			return 0;
		}
	}
	vv_times_unref(times);
	return 1;
}

struct vv_envset *vt_envset_open(struct vv_store *st)
{
	struct vv_envset_opts o = { .mountpoint = "/mnt/envs" };
	struct vv_envset *set = NULL;
	if (vv_envset_open(&set, st, &o) < 0)
		fail_msg("vv_envset_open: %s", vv_errmsg());
	return set;
}

char *vt_node_content(struct vv_node *n, size_t *len)
{
	struct vv_readsrc src;
	assert_int_equal(vv_node_read_source(n, &src), 0);
	size_t cap = src.prefixlen + (1 << 20);
	char *buf = malloc(cap + 1);
	assert_non_null(buf);
	memcpy(buf, src.prefix ? src.prefix : "", src.prefixlen);
	size_t got = src.prefixlen;
	if (src.fd) {
		ssize_t r = pread(src.fd->fd, buf + got, cap - got, (off_t)src.skip);
		assert_true(r >= 0);
		got += (size_t)r;
	}
	buf[got] = 0;
	vv_fdref_put(src.fd);
	free((char *)src.prefix);
	if (len)
		*len = got;
	return buf;
}
