/*
 * pkg.c - package records (wheel SHA-256 -> name, version, tags, trees): the record
 * file, the listing of packages/ and ingesting a wheel (see pkg.h). Requirement files
 * are resolved against them in reqs.c.
 *
 * Ingesting unpacks a wheel once into its own tree builder (wheel.h, the same call
 * `venvctl add` always made), writes the trees and then the record: a crash leaves at
 * worst unreferenced objects for gc. Records are found by their file names alone, so
 * resolving fifty pins is one listing of packages/ and fifty small reads.
 */
#include "pkg/pkg.h"
#include "pkg/pkg_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/ini.h"
#include "util/strv.h"
#include "util/vec.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/bytecode.h"
#include "pkg/tags.h"
#include "pkg/wheel.h"

#define RECORD_MAX (64u << 10)

void vv_pkg_release(struct vv_pkg *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->version);
	free(p->wheel);
	free(p->requires_python);
	memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------- record files */

bool pkg_same_version(const char *a, const char *b)
{
	if (!strcasecmp(a, b))
		return true;
	if (strspn(a, "0123456789.") != strlen(a) || strspn(b, "0123456789.") != strlen(b))
		return false;
	return vv_version_cmp(a, b) == 0;
}

int vv_pkg_record_name(const char *canon, const char *version, int minor, const vv_oid *sha,
		       char *buf, size_t size)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(sha, hex);
	int n = snprintf(buf, size, "%s@%s@3.%d@%s", canon, version, minor, hex);
	if (n < 0 || (size_t)n >= size)
		return vv_err(-ENAMETOOLONG, "package record name for %s %s too long", canon,
			      version);
	return 0;
}

int vv_pkg_format(const struct vv_pkg *p, char **out, size_t *len)
{
	char sha[VV_OID_HEX + 1], tree[VV_OID_HEX + 1], site[VV_OID_HEX + 1],
		bin[VV_OID_HEX + 1];
	vv_oid_hex(&p->sha256, sha);
	vv_oid_hex(&p->tree, tree);
	vv_oid_hex(&p->site, site);
	vv_oid_hex(&p->bin, bin);
	const struct {
		const char *key, *val;
	} kv[] = {{"name", p->name}, {"version", p->version}, {"wheel", p->wheel},
		  {"requires-python", p->requires_python}};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (kv[i].val && vv_ini_value_check(kv[i].key, kv[i].val, kv[i].key) < 0)
			return vv_err_prefix(-EINVAL, "%s", p->wheel ? p->wheel : "package");
	int n = asprintf(out,
			 "[package]\nname = %s\nversion = %s\nwheel = %s\nsha256 = %s\n"
			 "python = 3.%d\n%s%s%stree = %s\n%s%s%s%s%s%sextra = %s\n%s",
			 p->name, p->version, p->wheel, sha, p->minor,
			 p->requires_python ? "requires-python = " : "",
			 p->requires_python ? p->requires_python : "",
			 p->requires_python ? "\n" : "", tree,
			 vv_oid_is_zero(&p->site) ? "" : "site = ",
			 vv_oid_is_zero(&p->site) ? "" : site, vv_oid_is_zero(&p->site) ? "" : "\n",
			 vv_oid_is_zero(&p->bin) ? "" : "bin = ", vv_oid_is_zero(&p->bin) ? "" : bin,
			 vv_oid_is_zero(&p->bin) ? "" : "\n", p->extra ? "true" : "false",
			 p->installed ? "installed = true\n" : "");
	if (n < 0)
		return vv_err(-ENOMEM, "out of memory");
	*len = (size_t)n;
	return 0;
}

enum { K_NAME, K_VERSION, K_WHEEL, K_SHA, K_PYTHON, K_REQPY, K_TREE, K_SITE, K_BIN, K_EXTRA,
       K_INSTALLED, K_N };
static const char *const pkg_keys[K_N] = {"name", "version", "wheel", "sha256", "python",
					  "requires-python", "tree", "site", "bin", "extra",
					  "installed"};

static int oid_val(const char *key, const char *value, vv_oid *out)
{
	if (vv_oid_from_hex(out, value, strlen(value)) < 0)
		return vv_err(-EINVAL, "%s '%.80s' is not a 64-digit hex id", key, value);
	return 0;
}

static int pkg_value(void *user, int k, const char *value, int lineno)
{
	struct vv_pkg *p = user;
	const char *key = pkg_keys[k];
	(void)lineno;
	char **str = k == K_NAME ? &p->name : k == K_VERSION ? &p->version
		   : k == K_WHEEL ? &p->wheel : k == K_REQPY ? &p->requires_python : NULL;
	if (str) {
		if (!*value && k != K_REQPY)
			return vv_err(-EINVAL, "empty %s", key);
		*str = strdup(value);
		return *str ? 0 : vv_err(-ENOMEM, "out of memory");
	}
	switch (k) {
	case K_SHA:
		return oid_val(key, value, &p->sha256);
	case K_TREE:
		return oid_val(key, value, &p->tree);
	case K_SITE:
		return oid_val(key, value, &p->site);
	case K_BIN:
		return oid_val(key, value, &p->bin);
	case K_EXTRA:
		return vv_parse_bool(value, &p->extra);
	case K_INSTALLED:
		return vv_parse_bool(value, &p->installed);
	case K_PYTHON: {
		char *end;
		if (strncmp(value, "3.", 2) || !value[2])
			return vv_err(-EINVAL, "python '%s' is not 3.N", value);
		long m = strtol(value + 2, &end, 10);
		if (*end || m < 0 || m > 999)
			return vv_err(-EINVAL, "python '%s' is not 3.N", value);
		p->minor = (int)m;
		return 0;
	}
	}
	return 0;
}

int vv_pkg_parse(const char *buf, size_t len, const char *what, struct vv_pkg *out)
{
	memset(out, 0, sizeof(*out));
	struct vv_ini_table t = {.section = "package", .keys = pkg_keys, .nkeys = K_N,
				 .value = pkg_value, .user = out};
	int line[K_N];
	int r = vv_ini_parse_table(buf, len, what, &t, line);
	static const int need[] = {K_NAME, K_VERSION, K_WHEEL, K_SHA, K_PYTHON, K_TREE};
	for (size_t i = 0; r == 0 && i < sizeof(need) / sizeof(need[0]); i++)
		if (!line[need[i]])
			r = vv_err(-EINVAL, "%s: no '%s'", what, pkg_keys[need[i]]);
	if (r < 0)
		vv_pkg_release(out);
	return r;
}

int vv_pkg_load(struct vv_store *st, const char *record, struct vv_pkg *out)
{
	char *buf = NULL, what[400];
	size_t len;
	snprintf(what, sizeof(what), "packages/%.300s", record);
	int r = vv_read_file_at(st->pkgfd, record, RECORD_MAX, &buf, &len);
	if (r < 0)
		return vv_err_prefix(r, "%s", what);
	r = vv_pkg_parse(buf, len, what, out);
	free(buf);
	return r == -EINVAL ? -EUCLEAN : r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A record's file name: three '@' and no leading dot (temp files start with one). */
static bool is_record_name(const char *s)
{
	int at = 0;
	if (s[0] == '.')
		return false;
	for (; *s; s++)
		at += *s == '@';
	return at == 3;
}

int vv_pkg_list(struct vv_store *st, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	DIR *d = vv_opendir_at(st->pkgfd, ".");
	if (!d)
		return vv_err_sys(-errno, "cannot list packages/");
	size_t cap = 0;
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (!is_record_name(de->d_name))
			continue;
		if ((r = VV_GROW(*names, *n, cap, 64)) < 0)
			break;
		if (!((*names)[*n] = strdup(de->d_name))) {
			r = vv_err(-ENOMEM, "out of memory");
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (r < 0) {
		vv_strv_free(*names, *n);
		*names = NULL;
		*n = 0;
		return r;
	}
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

/* ---------------------------------------------------------------- ingesting */

static int sha_of_file(const char *path, vv_oid *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vv_err_sys(-errno, "%s: cannot open", vv_base_name(path));
	uint64_t size;
	int r = vv_hash_fd(fd, out, &size);
	close(fd);
	return r < 0 ? vv_err_sys(r, "%s: cannot read", vv_base_name(path)) : 0;
}

/* The record for (minor, sha) among names, or NULL. */
static const char *find_by_sha(char **names, size_t n, int minor, const vv_oid *sha)
{
	char suffix[80], hex[VV_OID_HEX + 1];
	vv_oid_hex(sha, hex);
	snprintf(suffix, sizeof(suffix), "@3.%d@%s", minor, hex);
	size_t sl = strlen(suffix);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (l > sl && !strcmp(names[i] + l - sl, suffix))
			return names[i];
	}
	return NULL;
}

static int sub_id(struct vv_store *st, const vv_oid *root, const char *const *path, size_t n,
		  vv_oid *out)
{
	memset(out, 0, sizeof(*out));
	struct vv_tree *t = NULL;
	int r = vv_tree_get(st, root, &t);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct vv_tree_ent *e = vv_tree_find(t, path[i], strlen(path[i]));
		if (!e || e->kind != VV_DIR)
			break;
		if (i + 1 == n) {
			*out = e->oid;
			break;
		}
		struct vv_tree *next = NULL;
		r = vv_tree_get(st, &e->oid, &next);
		vv_tree_unref(t);
		t = next;
	}
	if (t)
		vv_tree_unref(t);
	return r;
}

/* Does root hold anything but bin/ and lib/python3.N/site-packages? */
static int has_extra(struct vv_store *st, const vv_oid *root, int minor, bool *extra)
{
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	*extra = true;
	struct vv_tree *t = NULL, *lib = NULL, *lpy = NULL;
	int r = vv_tree_get(st, root, &t);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->ents[i].name, "bin") && strcmp(t->ents[i].name, "lib"))
			goto out;
	const struct vv_tree_ent *e = vv_tree_find(t, "lib", 3);
	if (e) {
		if (e->kind != VV_DIR || (r = vv_tree_get(st, &e->oid, &lib)) < 0 || lib->n != 1 ||
		    strcmp(lib->ents[0].name, pyname) || lib->ents[0].kind != VV_DIR ||
		    (r = vv_tree_get(st, &lib->ents[0].oid, &lpy)) < 0 || lpy->n != 1 ||
		    strcmp(lpy->ents[0].name, "site-packages"))
			goto out;
	}
	*extra = false;
out:
	if (lpy)
		vv_tree_unref(lpy);
	if (lib)
		vv_tree_unref(lib);
	vv_tree_unref(t);
	return r;
}

int pkg_tree_parts(struct vv_store *st, struct vv_pkg *p)
{
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", p->minor);
	const char *sp[] = {"lib", pyname, "site-packages"}, *bin[] = {"bin"};
	int r;
	if ((r = sub_id(st, &p->tree, sp, 3, &p->site)) < 0 ||
	    (r = sub_id(st, &p->tree, bin, 1, &p->bin)) < 0)
		return r;
	return has_extra(st, &p->tree, p->minor, &p->extra);
}

int pkg_write(struct vv_store *st, const char *canon, const struct vv_pkg *p)
{
	char *text = NULL, rname[600];
	size_t len;
	int r;
	if ((r = vv_pkg_format(p, &text, &len)) < 0 ||
	    (r = vv_pkg_record_name(canon, p->version, p->minor, &p->sha256, rname,
				    sizeof(rname))) < 0)
		goto out;
	if ((r = vv_write_file_atomic(st->pkgfd, rname, text, len, 0644)) < 0)
		r = vv_err_prefix(r, "%s: cannot write packages/%s", p->wheel, rname);
out:
	free(text);
	return r;
}

/* Unpack the wheel and write its record (name rec_name filled in on success). */
static int unpack_and_record(struct vv_store *st, const char *path, const struct vv_python *py,
			     const char *canon, const vv_oid *sha, struct vv_pkg *p)
{
	const char *wname = vv_base_name(path);
	int64_t mtime = 0;
	int r = vv_wheel_mtime(path, &mtime);
	if (r < 0)
		return r;
	struct vv_tb *tb = vv_tb_new(mtime);
	if (!tb)
		return vv_err(-ENOMEM, "out of memory");
	struct vv_wheel_info info = {0};
	char *reqpy = NULL, c[CANON_MAX];
	if ((r = vv_wheel_install_ex(st, path, py, "venvctl", VV_WHEEL_REQUESTED, tb, &info)) < 0)
		goto out;
	if ((r = vv_dist_canonical(info.name, strlen(info.name), c, sizeof(c))) == 0 &&
	    strcmp(c, canon))
		r = vv_err(-EINVAL, "%s: the file name says %s, but METADATA says %s", wname,
			   canon, info.name);
	if (r < 0 || (r = vv_wheel_requires_python(path, &reqpy)) < 0)
		goto out;
	p->sha256 = *sha;
	p->minor = py->minor;
	if ((r = vv_tb_write(tb, st, &p->tree)) < 0) {
		r = vv_err_prefix(r, "%s", wname);
		goto out;
	}
	/* its modules' bytecode, compiled once for this X.Y (bytecode.h): an env made
	 * from records imports without compiling. Without it the record still works. */
	vv_oid with_pyc;
	if (vv_bytecode_add(st, py, &p->tree, mtime, &with_pyc) == 0)
		p->tree = with_pyc;
	else
		fprintf(stderr, "venvctl: %s: compiling its modules with %s: %s\n", wname, py->exe,
			vv_errmsg());
	if ((r = pkg_tree_parts(st, p)) < 0)
		goto out;
	p->name = info.name;
	p->version = info.version;
	info.name = info.version = NULL;
	p->requires_python = reqpy && *reqpy ? reqpy : NULL;
	if (!p->requires_python)
		free(reqpy);
	reqpy = NULL;
	if (!(p->wheel = strdup(wname))) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	r = pkg_write(st, canon, p);
out:
	free(reqpy);
	vv_wheel_info_release(&info);
	vv_tb_free(tb);
	return r;
}

int pkg_ingest(struct vv_store *st, const char *path, const struct vv_python *py,
	       const vv_oid *want, size_t nwant, char ***names, size_t *nnames,
	       struct vv_pkg *out)
{
	const char *wname = vv_base_name(path);
	char canon[CANON_MAX];
	struct utsname u;
	memset(out, 0, sizeof(*out));
	if (uname(&u) < 0)
		return vv_err_sys(-errno, "uname");
	int r = vv_tag_check(path, py->minor, u.machine, canon, sizeof(canon));
	if (r < 0)
		return r;
	vv_oid sha;
	if ((r = sha_of_file(path, &sha)) < 0)
		return r;
	if (nwant) {
		bool ok = false;
		for (size_t i = 0; i < nwant && !ok; i++)
			ok = vv_oid_eq(&want[i], &sha);
		if (!ok) {
			char hex[VV_OID_HEX + 1];
			vv_oid_hex(&sha, hex);
			return vv_err(-EINVAL, "%s: sha256 %s is not one of the requirement's --hash "
				      "values", wname, hex);
		}
	}
	if (!*names && (r = vv_pkg_list(st, names, nnames)) < 0)
		return r;
	const char *have = find_by_sha(*names, *nnames, py->minor, &sha);
	if (have) {
		if ((r = vv_pkg_load(st, have, out)) < 0)
			return r;
		return 0;
	}
	if ((r = unpack_and_record(st, path, py, canon, &sha, out)) < 0) {
		vv_pkg_release(out);
		return r;
	}
	out->ingested = true;
	return 0;
}

int vv_pkg_ingest(struct vv_store *st, const char *wheel_path, const struct vv_python *py,
		  const vv_oid *want, size_t nwant, struct vv_pkg *out)
{
	char **names = NULL;
	size_t n = 0;
	vv_err_clear();
	int r = pkg_ingest(st, wheel_path, py, want, nwant, &names, &n, out);
	vv_strv_free(names, n);
	return r;
}
