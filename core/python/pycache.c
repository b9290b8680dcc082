/*
 * pycache.c - the cache of interpreter facts in the store, pythons/KEY (python.h).
 *
 * Learned facts (probe.c) are cached as pythons/<sha256 of the real executable path>,
 * together with the executable's stat identity: while that identity holds, the cache
 * is the truth and no process is started. The file also keeps the skeleton tree ids of
 * new envs (seed.h), which gc must keep (vv_python_cache_trees): this file is the only
 * one that knows the format. The marker values (struct vv_pyplatform) are a [markers]
 * section under their PEP 508 names; a file from before they were learned lacks it, and
 * its interpreter is run once more to learn them (its skeletons stay).
 */
#include "python/python.h"
#include "python/python_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/ini.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "store/store.h"

#define CACHE_MAX_SIZE 65536

struct ident {
	unsigned long long dev, ino, size;
	long long mtime_ns;
};

static void ident_of(const struct stat *sb, struct ident *id)
{
	id->dev = (unsigned long long)sb->st_dev;
	id->ino = (unsigned long long)sb->st_ino;
	id->size = (unsigned long long)sb->st_size;
	id->mtime_ns = (long long)sb->st_mtim.tv_sec * 1000000000LL + sb->st_mtim.tv_nsec;
}

static bool ident_eq(const struct ident *a, const struct ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

static bool streq_null(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

static void cache_key(const char *exe, char *hex)
{
	vv_oid oid;
	vv_hash_buf(exe, strlen(exe), &oid);
	vv_oid_hex(&oid, hex);
}

struct cache_parse {
	struct vv_python *py;
	struct ident id;
	unsigned seen;
};

enum { C_EXE, C_HOME, C_BASE, C_VERSION, C_PIP, C_SKEL_PIP, C_SKEL_NOPIP, C_DEV, C_INO,
       C_SIZE, C_MTIME, C_MARKERS, C_N = C_MARKERS + PYPLAT_N };
static const struct {
	const char *section, *key;
} cache_keys[C_MARKERS] = {
	{ "python", "exe" }, { "python", "home" }, { "python", "base-exe" },
	{ "python", "version" }, { "python", "pip-wheel" }, { "python", "skel-pip" },
	{ "python", "skel-nopip" }, { "stat", "dev" }, { "stat", "ino" }, { "stat", "size" },
	{ "stat", "mtime-ns" },
};
#define C_REQUIRED ((1u << C_MARKERS) - 1 - (1u << C_PIP) - (1u << C_SKEL_PIP) - \
		    (1u << C_SKEL_NOPIP))
#define C_ALL_MARKERS (((1u << PYPLAT_N) - 1) << C_MARKERS)

static const char *key_section(int k)
{
	return k < C_MARKERS ? cache_keys[k].section : "markers";
}

static const char *key_name(int k)
{
	return k < C_MARKERS ? cache_keys[k].key : python_plat_keys[k - C_MARKERS];
}

static int parse_num(const char *s, long long *out, bool sign)
{
	const char *p = s;
	if (sign && *p == '-')
		p++;
	if (!*p || strlen(p) > 19)
		return -EINVAL;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return -EINVAL;
	unsigned long long v = strtoull(p, NULL, 10);
	if (!sign)
		*out = (long long)v;
	else if (v > (unsigned long long)LLONG_MAX)
		return -EINVAL;
	else
		*out = *s == '-' ? -(long long)v : (long long)v;
	return 0;
}

static int cache_section(void *user, const char *section, int lineno)
{
	(void)user;
	(void)lineno;
	if (strcmp(section, "python") && strcmp(section, "stat") && strcmp(section, "markers"))
		return vv_err(-EINVAL, "unknown section [%s]", section);
	return 0;
}

static int cache_key_cb(void *user, const char *section, const char *key, const char *value,
			int lineno)
{
	struct cache_parse *p = user;
	struct vv_python *py = p->py;
	(void)lineno;
	int k = 0;
	while (k < C_N && (strcmp(key_section(k), section) || strcmp(key_name(k), key)))
		k++;
	if (k == C_N)
		return vv_err(-EINVAL, "unknown key '%s'", key);
	if (p->seen & (1u << k))
		return vv_err(-EINVAL, "duplicate key '%s'", key);
	p->seen |= 1u << k;
	long long v = 0;
	char **s = NULL;
	if (k >= C_MARKERS) {
		if (!python_plat_value_ok(value))
			return vv_err(-EINVAL, "bad %s '%.40s'", key, value);
		memcpy(python_plat_field(&py->plat, k - C_MARKERS), value, strlen(value) + 1);
		return 0;
	}
	switch (k) {
	case C_EXE: s = &py->exe; break;
	case C_HOME: s = &py->home; break;
	case C_BASE: s = &py->base_exe; break;
	case C_PIP: s = &py->pip_wheel; break;
	case C_VERSION:
		if (python_parse_version(value, &py->major, &py->minor) < 0)
			return vv_err(-EINVAL, "bad version '%s'", value);
		py->version = strdup(value);
		return py->version ? 0 : vv_err(-ENOMEM, "out of memory");
	case C_SKEL_PIP:
	case C_SKEL_NOPIP:
		if (vv_oid_from_hex(k == C_SKEL_PIP ? &py->skel_pip : &py->skel_nopip, value,
				    strlen(value)) < 0)
			return vv_err(-EINVAL, "bad object id '%s'", value);
		return 0;
	default:
		if (parse_num(value, &v, k == C_MTIME) < 0)
			return vv_err(-EINVAL, "bad number '%s'", value);
		if (k == C_DEV) p->id.dev = (unsigned long long)v;
		else if (k == C_INO) p->id.ino = (unsigned long long)v;
		else if (k == C_SIZE) p->id.size = (unsigned long long)v;
		else p->id.mtime_ns = v;
		return 0;
	}
	if (value[0] != '/')
		return vv_err(-EINVAL, "'%s' is not an absolute path", value);
	*s = strdup(value);
	return *s ? 0 : vv_err(-ENOMEM, "out of memory");
}

/* 0 and the cached facts (py->plat zero if the file has no [markers]), -ENOENT if there
 * are none, -EUCLEAN if the file is bad. */
static int cache_read(struct vv_store *st, const char *exe, struct vv_python *py,
		      struct ident *id)
{
	char key[VV_OID_HEX + 1], fname[VV_OID_HEX + 16];
	cache_key(exe, key);
	char *buf = NULL;
	size_t len = 0;
	int r = vv_read_file_at(st->pythonfd, key, CACHE_MAX_SIZE, &buf, &len);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : r;
	snprintf(fname, sizeof(fname), "pythons/%s", key);
	memset(py, 0, sizeof(*py));
	struct cache_parse p = { .py = py };
	struct vv_ini_cb cb = { .section = cache_section, .key = cache_key_cb, .user = &p };
	r = vv_ini_parse(buf, len, fname, &cb);
	free(buf);
	unsigned markers = p.seen & C_ALL_MARKERS;
	if (r == 0 && ((p.seen & C_REQUIRED) != C_REQUIRED ||
		       (markers && markers != C_ALL_MARKERS)))
		r = vv_err(-EUCLEAN, "%s: incomplete", fname);
	if (r == 0 && markers && !py->plat.implementation_name[0])
		r = vv_err(-EUCLEAN, "%s: no implementation_name", fname);
	if (r == 0 && strcmp(py->exe, exe))
		r = vv_err(-EUCLEAN, "%s: describes '%s', not '%s'", fname, py->exe, exe);
	if (r < 0) {
		vv_python_release(py);
		return r == -ENOMEM ? r : -EUCLEAN;
	}
	*id = p.id;
	return 0;
}

/* Cached facts for exe if they are still true (same inode, size and mtime; the pip wheel
 * still there). 1 fresh, 2 fresh but without the marker values (1 in a read-only
 * store), 0 missing or stale (*stale gets the old facts if readable). */
int python_cache_fresh(struct vv_store *st, const char *exe, struct vv_python *py,
		       struct vv_python *stale)
{
	struct vv_python c;
	struct ident id, now;
	struct stat sb;
	int r = cache_read(st, exe, &c, &id);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	bool fresh = stat(exe, &sb) == 0;
	if (fresh) {
		ident_of(&sb, &now);
		fresh = ident_eq(&id, &now) &&
			(!c.pip_wheel || (stat(c.pip_wheel, &sb) == 0 && S_ISREG(sb.st_mode)));
	}
	if (fresh) {
		*py = c;
		/* a read-only store could not keep what a run learns: asked every time */
		return c.plat.implementation_name[0] || st->readonly ? 1 : 2;
	}
	if (stale)
		*stale = c;
	else
		vv_python_release(&c);
	return 0;
}

static int append(char **buf, size_t *len, const char *section, const char *key,
		  const char *value)
{
	if (section) {
		char *nb;
		if (asprintf(&nb, "%s[%s]\n", *buf ? *buf : "", section) < 0)
			return vv_err(-ENOMEM, "out of memory");
		free(*buf);
		*buf = nb;
	}
	if (key) {
		int r = vv_ini_value_check(key, value, key);
		if (r < 0)
			return r;
		char *nb;
		if (asprintf(&nb, "%s%s = %s\n", *buf ? *buf : "", key, value) < 0)
			return vv_err(-ENOMEM, "out of memory");
		free(*buf);
		*buf = nb;
	}
	*len = strlen(*buf);
	return 0;
}

int vv_python_save(struct vv_store *st, const struct vv_python *py)
{
	if (st->readonly)
		return 0; /* facts stay in memory: learned again next time */
	if (!py->exe || py->exe[0] != '/' || !py->home || !py->base_exe || !py->version)
		return vv_err(-EINVAL, "incomplete interpreter facts");
	struct stat sb;
	if (stat(py->exe, &sb) < 0)
		return vv_err_sys(-errno, "cannot stat interpreter '%s'", py->exe);
	struct ident id;
	ident_of(&sb, &id);
	char *buf = NULL, num[4][32], skel[2][VV_OID_HEX + 1];
	size_t len = 0;
	snprintf(num[0], sizeof(num[0]), "%llu", id.dev);
	snprintf(num[1], sizeof(num[1]), "%llu", id.ino);
	snprintf(num[2], sizeof(num[2]), "%llu", id.size);
	snprintf(num[3], sizeof(num[3]), "%lld", id.mtime_ns);
	vv_oid_hex(&py->skel_pip, skel[0]);
	vv_oid_hex(&py->skel_nopip, skel[1]);
	int r = append(&buf, &len, "python", "exe", py->exe);
	if (!r) r = append(&buf, &len, NULL, "home", py->home);
	if (!r) r = append(&buf, &len, NULL, "base-exe", py->base_exe);
	if (!r) r = append(&buf, &len, NULL, "version", py->version);
	if (!r && py->pip_wheel) r = append(&buf, &len, NULL, "pip-wheel", py->pip_wheel);
	if (!r && !vv_oid_is_zero(&py->skel_pip))
		r = append(&buf, &len, NULL, "skel-pip", skel[0]);
	if (!r && !vv_oid_is_zero(&py->skel_nopip))
		r = append(&buf, &len, NULL, "skel-nopip", skel[1]);
	if (!r) r = append(&buf, &len, "stat", "dev", num[0]);
	if (!r) r = append(&buf, &len, NULL, "ino", num[1]);
	if (!r) r = append(&buf, &len, NULL, "size", num[2]);
	if (!r) r = append(&buf, &len, NULL, "mtime-ns", num[3]);
	/* unknown marker values (facts not from the probe) are left out: learned next time */
	struct vv_pyplatform plat = py->plat;
	for (int i = 0; i < PYPLAT_N && !r && plat.implementation_name[0]; i++) {
		const char *v = python_plat_field(&plat, i);
		if (!python_plat_value_ok(v))
			r = vv_err(-EINVAL, "bad %s '%.40s'", python_plat_keys[i], v);
		else
			r = append(&buf, &len, i ? NULL : "markers", python_plat_keys[i], v);
	}
	if (r < 0) {
		free(buf);
		return vv_err_prefix(r, "caching facts about '%s'", py->exe);
	}
	char key[VV_OID_HEX + 1];
	cache_key(py->exe, key);
	r = vv_write_file_atomic(st->pythonfd, key, buf, len, 0644);
	free(buf);
	if (r < 0)
		return vv_err_prefix(r, "caching facts about '%s'", py->exe);
	return 0;
}

/* Learned facts plus what the cache knew: skeletons survive as long as the interpreter
 * and its pip wheel are the same. Saves when anything changed. */
int python_merge_and_save(struct vv_store *st, struct vv_python *learned,
			  struct vv_python *cached, bool fresh)
{
	bool same = fresh && !strcmp(cached->version, learned->version) &&
		    streq_null(cached->pip_wheel, learned->pip_wheel);
	if (same) {
		learned->skel_pip = cached->skel_pip;
		learned->skel_nopip = cached->skel_nopip;
		if (!strcmp(cached->home, learned->home) &&
		    !strcmp(cached->base_exe, learned->base_exe) &&
		    !memcmp(&cached->plat, &learned->plat, sizeof(learned->plat)))
			return 0;
	}
	return vv_python_save(st, learned);
}

int vv_python_load(struct vv_store *st, const char *exe, const struct vv_pyowner *owner,
		   struct vv_python *out)
{
	memset(out, 0, sizeof(*out));
	if (!exe || exe[0] != '/')
		return vv_err(-EINVAL, "interpreter path '%s' is not absolute", exe ? exe : "");
	struct stat sb;
	if (stat(exe, &sb) < 0)
		return vv_err_sys(-errno, "interpreter '%s'", exe);
	struct vv_python stale = { 0 };
	int r = python_cache_fresh(st, exe, out, &stale);
	if (r < 0 || r == 1) {
		vv_python_release(&stale);
		return r < 0 ? r : 0;
	}
	bool nomarkers = r == 2;
	if (nomarkers) {
		stale = *out;
		memset(out, 0, sizeof(*out));
	}
	/* Stale, missing or without the marker values: ask the binary itself. Keep where
	 * it was reached from (home, base_exe) if the cache knew and that is still there;
	 * drop the skeletons unless only the marker values were missing. An env names it,
	 * so it runs only if it looks like CPython, and as the env's owner. Facts that
	 * only lack the marker values are still true: if the binary cannot tell them now,
	 * or they cannot be saved, they are used as they are (the values stay unknown). */
	struct vv_python py;
	if ((r = vv_python_check_exe(exe)) == 0 && (r = python_learn(exe, owner, &py)) < 0)
		r = vv_err_prefix(r, "learning about interpreter '%s'", exe);
	if (r < 0) {
		if (nomarkers) {
			*out = stale;
			vv_err_clear();
			return 0;
		}
		vv_python_release(&stale);
		return r;
	}
	if (stale.exe && !strcmp(stale.exe, py.exe) && stat(stale.base_exe, &sb) == 0) {
		char *h = py.home, *b = py.base_exe;
		py.home = stale.home;
		py.base_exe = stale.base_exe;
		stale.home = h;
		stale.base_exe = b;
	}
	r = python_merge_and_save(st, &py, &stale, nomarkers);
	vv_python_release(&stale);
	if (r < 0 && !nomarkers) {
		vv_python_release(&py);
		return r;
	}
	vv_err_clear();
	*out = py;
	return 0;
}

/* ---- what gc keeps ---- */

/* For gc, a file is read with a larger limit than cache_read's and for the keys below
 * only: one that is incomplete or too big to load as facts still names trees that must
 * be kept. */
#define TREES_MAX_SIZE ((size_t)1 << 20)

struct pyparse {
	vv_oid skel[2];
	bool have[2];
};

static int py_key(void *user, const char *section, const char *key, const char *value,
		  int lineno)
{
	struct pyparse *p = user;
	(void)lineno;
	if (!section || strcmp(section, "python"))
		return 0;
	int k = !strcmp(key, "skel-pip") ? 0 : !strcmp(key, "skel-nopip") ? 1 : -1;
	if (k < 0)
		return 0; /* the other facts are not gc's business */
	if (vv_oid_from_hex(&p->skel[k], value, strlen(value)) < 0)
		return vv_err(-EINVAL, "bad object id '%s' for %s", value, key);
	p->have[k] = true;
	return 0;
}

int vv_python_cache_trees(struct vv_store *st, const char *key,
			  struct vv_python_cache_trees *out)
{
	static const char *const what[2] = {"skel-pip", "skel-nopip"};
	char *buf = NULL, fname[300];
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	snprintf(fname, sizeof(fname), "pythons/%s", key);
	int r = vv_read_file_at(st->pythonfd, key, TREES_MAX_SIZE, &buf, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return vv_err_prefix(r, "%s", fname);
	struct pyparse p = {0};
	struct vv_ini_cb cb = {.key = py_key, .user = &p};
	r = vv_ini_parse(buf, len, fname, &cb);
	free(buf);
	if (r < 0)
		return r == -ENOMEM ? r : -EUCLEAN;
	for (int k = 0; k < 2; k++) {
		if (!p.have[k])
			continue;
		out->id[out->n] = p.skel[k];
		out->what[out->n++] = what[k];
	}
	return 0;
}
