/*
 * installed.c - a package record made from a distribution already installed in an
 * env's tree (pkg.h vv_pkg_from_installed).
 *
 * pip installing through the mount leaves every file of a distribution in the store as
 * an object, and the .dist-info's RECORD names each of them. So a record needs no wheel:
 * its tree is built from the env's own tree entries at the paths RECORD lists (content
 * ids, modes, mtimes, scripts kept in their neutral form), with the directories on the
 * way keeping their own mode and mtime. Nothing is copied and no file is read but the
 * .dist-info's METADATA, WHEEL, RECORD and direct_url.json.
 *
 * The record is named by the id of the RECORD object, which hashes every file the
 * distribution installed (as pip wrote them), so the same install seen twice is one
 * record. It says `installed = true`: its sha256 is not a wheel file's, so a `--hash`
 * requirement never matches it (only a wheel can prove its hash). The record's `wheel` is the
 * file name the wheel had, rebuilt from WHEEL's Tag lines (its tags are what tags.c
 * scores).
 *
 * A distribution that cannot be reproduced this way is not used (1, not an error): an
 * editable install, a RECORD naming a path outside the env, no WHEEL or METADATA, a
 * METADATA whose name or version is not the one asked for.
 */
#include "pkg/pkg.h"
#include "pkg/pkg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"
#include "util/strv.h"
#include "pkg/rectpl.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/tags.h"
#include "pkg/wheel.h"

#define CONTROL_MAX (4u << 20) /* METADATA, WHEEL, RECORD: megabytes at most */
#define PATH_BUF 4096
#define NOT_USABLE 1

/* The entry called name in the directory tree t, when a directory. */
static const struct vv_tree_ent *subdir(const struct vv_tree *t, const char *name)
{
	const struct vv_tree_ent *e = vv_tree_find(t, name, strlen(name));
	return e && e->kind == VV_DIR ? e : NULL;
}

/* The site-packages tree of root (laid out for 3.minor) into *out, or NULL. */
static int site_tree(struct vv_store *st, const vv_oid *root, int minor, struct vv_tree **out,
		     uint64_t *base)
{
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	const char *path[] = {"lib", pyname, "site-packages"};
	struct vv_tree *t = NULL;
	*out = NULL;
	*base = 0;
	int r = vv_tree_get(st, root, &t);
	for (size_t i = 0; r == 0 && i < 3; i++) {
		const struct vv_tree_ent *e = subdir(t, path[i]);
		struct vv_tree *next = NULL;
		if (!e)
			break;
		*base += e->pos + 1; /* its entries' numbers (store/times.h) */
		r = vv_tree_get(st, &e->oid, &next);
		vv_tree_unref(t);
		t = next;
		if (r == 0 && i == 2) {
			*out = t;
			return 0;
		}
	}
	if (t)
		vv_tree_unref(t);
	return r;
}

/* Is name ("NAME-VERSION.dist-info") the dist-info of canon at version? */
static bool distinfo_of(const char *name, const char *canon, const char *version)
{
	size_t n = strlen(name), sl = strlen(".dist-info");
	if (n <= sl || strcmp(name + n - sl, ".dist-info"))
		return false;
	const char *dash = memchr(name, '-', n - sl);
	if (!dash)
		return false;
	char c[CANON_MAX], ver[256];
	if (vv_dist_canonical(name, (size_t)(dash - name), c, sizeof(c)) < 0) {
		vv_err_clear();
		return false;
	}
	size_t vl = n - sl - (size_t)(dash + 1 - name);
	if (vl >= sizeof(ver))
		return false;
	memcpy(ver, dash + 1, vl);
	ver[vl] = 0;
	return !strcmp(c, canon) && pkg_same_version(ver, version);
}

/* A file of the dist-info directory d, whole (NUL-terminated), or NULL in *out when
 * absent. */
static int control(struct vv_store *st, const struct vv_tree *d, const char *name, char **out,
		   size_t *len, vv_oid *oid)
{
	*out = NULL;
	const struct vv_tree_ent *e = vv_tree_find(d, name, strlen(name));
	if (!e || (e->kind != VV_REG && e->kind != VV_RECORD))
		return 0;
	if (oid)
		*oid = e->oid;
	size_t l;
	int r = vv_rectpl_read(st, e, CONTROL_MAX, out, &l); /* paths are what is read */
	if (r < 0)
		return vv_err_prefix(r, "%s", name);
	char *z = realloc(*out, l + 1);
	if (!z) {
		free(*out);
		*out = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	z[l] = 0;
	*out = z;
	if (len)
		*len = l;
	return 0;
}

/* Append s to the '.'-joined set list (a compressed tag part) unless it is there. */
static int tag_part_add(char *list, size_t size, const char *s, size_t n)
{
	for (const char *p = list; *p;) {
		const char *e = strchr(p, '.');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && !memcmp(p, s, n))
			return 0;
		p += l + (e != NULL);
	}
	size_t have = strlen(list);
	if (have + n + 2 > size)
		return -1;
	if (have)
		list[have++] = '.';
	memcpy(list + have, s, n);
	list[have + n] = 0;
	return 0;
}

/* The wheel file name NAME-VERSION-PY-ABI-PLAT.whl from METADATA's name and version
 * and WHEEL's Tag lines (PEP 427 compressed tag sets), or 1 when WHEEL has no tag. */
static int wheel_name(const char *name, const char *version, const char *wheel, char **out)
{
	char py[256] = "", abi[256] = "", plat[1024] = "";
	for (const char *l = wheel; *l;) {
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) : strlen(l);
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (ll > 4 && !strncasecmp(l, "Tag:", 4)) {
			const char *t = l + 4, *te = l + ll;
			while (t < te && (*t == ' ' || *t == '\t'))
				t++;
			while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
				te--;
			const char *d1 = memchr(t, '-', (size_t)(te - t));
			const char *d2 = d1 ? memchr(d1 + 1, '-', (size_t)(te - d1 - 1)) : NULL;
			if (!d2 || memchr(d2 + 1, '-', (size_t)(te - d2 - 1)) ||
			    tag_part_add(py, sizeof(py), t, (size_t)(d1 - t)) < 0 ||
			    tag_part_add(abi, sizeof(abi), d1 + 1, (size_t)(d2 - d1 - 1)) < 0 ||
			    tag_part_add(plat, sizeof(plat), d2 + 1, (size_t)(te - d2 - 1)) < 0)
				return NOT_USABLE;
		}
		if (!e)
			break;
		l = e + 1;
	}
	if (!*py || !*abi || !*plat)
		return NOT_USABLE;
	/* PEP 427 escaping: runs of -_. in the name become '_', '-' in the version '_' */
	char esc[256], ev[256];
	size_t k = 0;
	for (const char *s = name; *s && k + 1 < sizeof(esc); s++) {
		bool sep = *s == '-' || *s == '_' || *s == '.';
		if (!sep || !k || esc[k - 1] != '_')
			esc[k++] = sep ? '_' : *s;
	}
	esc[k] = 0;
	snprintf(ev, sizeof(ev), "%s", version);
	for (char *v = ev; *v; v++)
		if (*v == '-')
			*v = '_';
	if (asprintf(out, "%s-%s-%s-%s-%s.whl", esc, ev, py, abi, plat) < 0) {
		*out = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
}

/* RECORD's path (relative to site-packages) as a path relative to the env root, in
 * buf; false when it leaves the env or is absolute. */
static bool env_path(const char *row, int minor, char *buf, size_t size)
{
	const char *parts[128];
	size_t lens[128], n = 0;
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	const char *base[] = {"lib", pyname, "site-packages"};
	for (size_t i = 0; i < 3; i++) {
		parts[n] = base[i];
		lens[n++] = strlen(base[i]);
	}
	if (row[0] == '/' || !row[0])
		return false;
	for (const char *p = row; *p;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 2 && !memcmp(p, "..", 2)) {
			if (!n)
				return false;
			n--;
		} else if (l && !(l == 1 && *p == '.')) {
			if (n == 128)
				return false;
			parts[n] = p;
			lens[n++] = l;
		}
		if (!e)
			break;
		p = e + 1;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k + lens[i] + 2 > size)
			return false;
		if (i)
			buf[k++] = '/';
		memcpy(buf + k, parts[i], lens[i]);
		k += lens[i];
	}
	buf[k] = 0;
	return n > 0;
}

/* Add the entry at path of root (and the directories on the way, with their own mode
 * and mtime) to tb. 1 when root has nothing at path (a file RECORD lists but the env
 * no longer has, such as bytecode never written). */
static int graft_path(struct vv_store *st, struct vv_tb *tb, const vv_oid *root,
		      const struct vv_times *times, const char *path)
{
	struct vv_tree *t = NULL;
	char prefix[PATH_BUF];
	uint64_t base = 0;
	int r = vv_tree_get(st, root, &t);
	for (const char *p = path; r == 0;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		const struct vv_tree_ent *found = vv_tree_find(t, p, l);
		size_t pl = (size_t)(p - path) + l;
		memcpy(prefix, path, pl);
		prefix[pl] = 0;
		if (!found) {
			r = NOT_USABLE;
			break;
		}
		/* the entry with the values the env's times section holds for it */
		struct vv_tree_ent resolved = *found, *ent = &resolved;
		vv_times_apply(times, base + found->pos, ent);
		base += found->pos + 1;
		if (!e) { /* the file itself */
			if (ent->kind == VV_DIR) {
				r = NOT_USABLE;
			} else if ((r = vv_tb_add(tb, path, ent)) == -EEXIST) {
				vv_err_clear();
				r = 0; /* listed twice */
			}
			break;
		}
		if (ent->kind != VV_DIR) {
			r = NOT_USABLE;
			break;
		}
		if (!(r = vv_tb_exists(tb, prefix))) {
			struct vv_tree_ent dir = *ent;
			memset(&dir.oid, 0, sizeof(dir.oid)); /* open: filled by later adds */
			r = vv_tb_add(tb, prefix, &dir);
		} else if (r == 1) {
			r = 0;
		}
		struct vv_tree *next = NULL;
		if (r == 0 && (r = vv_tree_get(st, &ent->oid, &next)) == 0) {
			vv_tree_unref(t);
			t = next;
		}
		p = e + 1;
	}
	if (t)
		vv_tree_unref(t);
	return r;
}

/* The record's trees from the env's entries at RECORD's paths. */
static int build_tree(struct vv_store *st, const vv_oid *root, const struct vv_times *times,
		      int minor, const char *record, size_t rlen, int64_t mtime, vv_oid *tree)
{
	struct vv_record_row *rows = NULL;
	size_t n = 0;
	int r = vv_record_parse(record, rlen, &rows, &n);
	if (r < 0) {
		vv_err_clear();
		return NOT_USABLE;
	}
	struct vv_tb *tb = vv_tb_new(mtime);
	if (!tb) {
		vv_record_free(rows, n);
		return vv_err(-ENOMEM, "out of memory");
	}
	size_t added = 0;
	for (size_t i = 0; r >= 0 && i < n; i++) {
		char path[PATH_BUF];
		if (!env_path(rows[i].path, minor, path, sizeof(path))) {
			r = NOT_USABLE;
			break;
		}
		if ((r = graft_path(st, tb, root, times, path)) == 0)
			added++;
		else if (r == NOT_USABLE)
			r = 0; /* not in the env (any more): pip's uninstall skips it too */
	}
	if (r == 0 && !added)
		r = NOT_USABLE;
	if (r == 0)
		r = vv_tb_write(tb, st, tree);
	vv_tb_free(tb);
	vv_record_free(rows, n);
	return r;
}

/* The record of the dist-info directory e of site (a dist of canon). */
static int from_distinfo(struct vv_store *st, const vv_oid *root, const struct vv_times *times,
			 int minor, const char *canon, const char *version,
			 const struct vv_tree_ent *e, struct vv_pkg *out)
{
	struct vv_tree *d = NULL;
	char *meta = NULL, *wheel = NULL, *record = NULL, *direct = NULL, *name = NULL,
	     *ver = NULL, *reqpy = NULL, c[CANON_MAX], rname[600];
	size_t rlen = 0;
	vv_oid rec_oid;
	struct vv_pkg p = {0};
	int r = vv_tree_get(st, &e->oid, &d);
	if (r < 0 || (r = control(st, d, "METADATA", &meta, NULL, NULL)) < 0 ||
	    (r = control(st, d, "WHEEL", &wheel, NULL, NULL)) < 0 ||
	    (r = control(st, d, "RECORD", &record, &rlen, &rec_oid)) < 0 ||
	    (r = control(st, d, "direct_url.json", &direct, NULL, NULL)) < 0)
		goto out;
	r = NOT_USABLE;
	/* an editable install is a pointer to a source tree elsewhere */
	if (!meta || !wheel || !record || (direct && strstr(direct, "\"editable\"")))
		goto out;
	if ((r = vv_metadata_header(meta, "Name", &name)) < 0 ||
	    (r = vv_metadata_header(meta, "Version", &ver)) < 0 ||
	    (r = vv_metadata_header(meta, "Requires-Python", &reqpy)) < 0) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	r = NOT_USABLE;
	if (!name || !ver || vv_dist_canonical(name, strlen(name), c, sizeof(c)) < 0 ||
	    strcmp(c, canon) || !pkg_same_version(ver, version)) {
		vv_err_clear();
		goto out;
	}
	if (vv_pkg_record_name(canon, ver, minor, &rec_oid, rname, sizeof(rname)) < 0) {
		vv_err_clear();
		goto out;
	}
	/* seen before: the same RECORD is the same files */
	if ((r = vv_pkg_load(st, rname, out)) != -ENOENT)
		goto out;
	vv_err_clear();
	p.sha256 = rec_oid;
	p.minor = minor;
	p.installed = true;
	if ((r = wheel_name(name, ver, wheel, &p.wheel)) != 0 ||
	    (r = build_tree(st, root, times, minor, record, rlen, e->mtime_ns, &p.tree)) != 0 ||
	    (r = pkg_tree_parts(st, &p)) < 0)
		goto out;
	p.name = name;
	p.version = ver;
	p.requires_python = reqpy && *reqpy ? reqpy : NULL;
	name = ver = NULL;
	if (p.requires_python)
		reqpy = NULL;
	if ((r = pkg_write(st, canon, &p)) == 0) {
		*out = p;
		p = (struct vv_pkg){0};
		out->ingested = true;
	}
out:
	vv_pkg_release(&p);
	free(meta);
	free(wheel);
	free(record);
	free(direct);
	free(name);
	free(ver);
	free(reqpy);
	if (d)
		vv_tree_unref(d);
	return r;
}

int vv_pkg_from_installed(struct vv_store *st, const vv_oid *root, int minor, const char *canon,
			  const char *version, struct vv_pkg *out)
{
	struct vv_tree *site = NULL, *rt = NULL;
	struct vv_times *times = NULL; /* the env's mtimes (store/times.h) */
	uint64_t base;
	memset(out, 0, sizeof(*out));
	int r = vv_tree_get(st, root, &rt);
	if (r == 0) {
		r = vv_times_of(rt, &times);
		vv_tree_unref(rt);
	}
	if (r == 0)
		r = site_tree(st, root, minor, &site, &base);
	if (r < 0 || !site) {
		vv_times_unref(times);
		return r < 0 ? r : NOT_USABLE;
	}
	r = NOT_USABLE;
	for (size_t i = 0; i < site->n && r == NOT_USABLE; i++) {
		struct vv_tree_ent e = site->ents[i];
		vv_times_apply(times, base + e.pos, &e);
		if (e.kind == VV_DIR && distinfo_of(e.name, canon, version))
			r = from_distinfo(st, root, times, minor, canon, version, &e, out);
	}
	vv_tree_unref(site);
	vv_times_unref(times);
	return r;
}
