/*
 * freeze.c - `pip freeze`'s output computed from an env's committed tree (see freeze.h).
 *
 * Follows pip's operations/freeze.py: one FrozenRequirement per distribution found in
 * site-packages, keyed by its canonical name; `raw_name==version`, or a PEP 610
 * direct reference, or an editable location; sorted by raw_name.lower(). direct_url.json
 * is outside input (whatever an installer wrote), so its small JSON reader is strict
 * and bounded.
 */
#include "ops/freeze.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "env/env.h"
#include "util/error.h"
#include "pkg/tags.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"

#define META_MAX (16u << 20)
#define DIRECT_URL_MAX (1u << 20)
#define JSON_DEPTH 16

/* ---- direct_url.json --------------------------------------------------------------- */

struct direct_url {
	char *url, *subdirectory, *vcs, *commit_id, *hash;
	bool has_vcs, has_archive, has_dir, editable;
};

static void du_release(struct direct_url *d)
{
	free(d->url);
	free(d->subdirectory);
	free(d->vcs);
	free(d->commit_id);
	free(d->hash);
}

struct json {
	const char *p, *end;
	struct direct_url *du;
};

static void json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int json_u4(struct json *j, uint32_t *out)
{
	if (j->end - j->p < 4)
		return -EINVAL;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(j->p[i]);
		if (h < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)h;
	}
	j->p += 4;
	*out = v;
	return 0;
}

/* A string at j->p (after the opening quote); *out malloc'd UTF-8 when out != NULL. */
static int json_string(struct json *j, char **out)
{
	size_t cap = (size_t)(j->end - j->p) + 1, o = 0;
	char *s = out ? malloc(cap) : NULL;
	if (out && !s)
		return -ENOMEM;
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p++;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			if (s)
				s[o++] = (char)c;
			continue;
		}
		if (j->p >= j->end)
			goto bad;
		char e = *j->p++;
		uint32_t cp;
		const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", e);
		if (e && map && ((map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2) == 0) {
			if (s)
				s[o++] = map[1];
			continue;
		}
		if (e != 'u' || json_u4(j, &cp) < 0)
			goto bad;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo;
			if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
				goto bad;
			j->p += 2;
			if (json_u4(j, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
				goto bad;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			goto bad;
		}
		if (!s || cp == 0)
			continue; /* a NUL cannot be part of a C string: drop it */
		if (cp < 0x80) {
			s[o++] = (char)cp;
		} else if (cp < 0x800) {
			s[o++] = (char)(0xc0 | cp >> 6);
			s[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			s[o++] = (char)(0xe0 | cp >> 12);
			s[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			s[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			s[o++] = (char)(0xf0 | cp >> 18);
			s[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
			s[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			s[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	if (j->p >= j->end)
		goto bad;
	j->p++;
	if (s) {
		s[o] = 0;
		*out = s;
	}
	return 0;
bad:
	free(s);
	return -EINVAL;
}

/* Where a string value goes, by its key path ("url", "vcs_info.commit_id", ...). */
static char **du_slot(struct direct_url *d, const char *path)
{
	if (!strcmp(path, "url"))
		return &d->url;
	if (!strcmp(path, "subdirectory"))
		return &d->subdirectory;
	if (!strcmp(path, "vcs_info.vcs"))
		return &d->vcs;
	if (!strcmp(path, "vcs_info.commit_id"))
		return &d->commit_id;
	if (!strcmp(path, "archive_info.hash"))
		return &d->hash;
	return NULL;
}

static int json_value(struct json *j, const char *path, int depth)
{
	json_ws(j);
	if (j->p >= j->end || depth > JSON_DEPTH)
		return -EINVAL;
	char c = *j->p;
	int r;
	if (c == '{') {
		j->p++;
		json_ws(j);
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			return 0;
		}
		for (;;) {
			json_ws(j);
			if (j->p >= j->end || *j->p != '"')
				return -EINVAL;
			j->p++;
			char *key = NULL;
			if ((r = json_string(j, &key)) < 0)
				return r;
			char sub[128];
			int n = snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
			if (depth == 0 && !strcmp(key, "vcs_info"))
				j->du->has_vcs = true;
			else if (depth == 0 && !strcmp(key, "archive_info"))
				j->du->has_archive = true;
			else if (depth == 0 && !strcmp(key, "dir_info"))
				j->du->has_dir = true;
			free(key);
			if (n < 0 || (size_t)n >= sizeof(sub))
				sub[0] = '#'; /* too long to be a key we want */
			json_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return -EINVAL;
			j->p++;
			if ((r = json_value(j, sub, depth + 1)) < 0)
				return r;
			json_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == '}') {
				j->p++;
				return 0;
			}
			return -EINVAL;
		}
	}
	if (c == '[') {
		j->p++;
		json_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return 0;
		}
		for (;;) {
			if ((r = json_value(j, "#", depth + 1)) < 0)
				return r;
			json_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				return 0;
			}
			return -EINVAL;
		}
	}
	if (c == '"') {
		j->p++;
		char **slot = du_slot(j->du, path);
		char *v = NULL;
		if ((r = json_string(j, slot ? &v : NULL)) < 0)
			return r;
		if (slot) {
			free(*slot);
			*slot = v;
		}
		return 0;
	}
	static const char *const words[] = {"true", "false", "null"};
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(words[i]);
		if ((size_t)(j->end - j->p) >= l && !memcmp(j->p, words[i], l)) {
			j->p += l;
			if (i == 0 && !strcmp(path, "dir_info.editable"))
				j->du->editable = true;
			return 0;
		}
	}
	/* a number */
	const char *s = j->p;
	while (j->p < j->end && strchr("0123456789+-.eE", *j->p))
		j->p++;
	return j->p > s ? 0 : -EINVAL;
}

static int du_parse(const char *buf, size_t len, struct direct_url *d)
{
	struct json j = {.p = buf, .end = buf + len, .du = d};
	memset(d, 0, sizeof(*d));
	int r = json_value(&j, "", 0);
	json_ws(&j);
	if (r == 0 && j.p != j.end)
		r = -EINVAL;
	/* pip validates: a url and exactly one of the three infos */
	if (r == 0 && (!d->url || d->has_vcs + d->has_archive + d->has_dir != 1 ||
		       (d->has_vcs && (!d->vcs || !d->commit_id))))
		r = -EINVAL;
	if (r < 0) {
		du_release(d);
		memset(d, 0, sizeof(*d));
	}
	return r;
}

/* ---- distributions ------------------------------------------------------------------ */

struct dist {
	char *raw_name;
	char *version;
	char *canon;
	char *lower;   /* sort key: raw_name.lower() */
	char *text;    /* the lines pip prints, each ending in "\n" */
	size_t order;  /* position found, to keep the sort stable */
};

static void dist_release(struct dist *d)
{
	free(d->raw_name);
	free(d->version);
	free(d->canon);
	free(d->lower);
	free(d->text);
	memset(d, 0, sizeof(*d));
}

/* Header `key` of an email-style metadata file (up to the first blank line), stripped;
 * malloc'd or NULL. */
static char *meta_header(const char *buf, size_t len, const char *key)
{
	size_t kl = strlen(key);
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le == p || (le == p + 1 && *p == '\r'))
			break; /* the body starts */
		if ((size_t)(le - p) > kl && !strncasecmp(p, key, kl) && p[kl] == ':') {
			const char *vs = p + kl + 1, *ve = le;
			while (vs < ve && (*vs == ' ' || *vs == '\t'))
				vs++;
			while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			return strndup(vs, (size_t)(ve - vs));
		}
		p = nl ? nl + 1 : end;
	}
	return NULL;
}

/* file:// URL -> path, percent-decoded (pip's url_to_path); NULL if not a local URL. */
static char *url_to_path(const char *url)
{
	if (strncmp(url, "file://", 7))
		return NULL;
	const char *p = url + 7;
	if (!strncmp(p, "localhost/", 10))
		p += 9;
	if (*p != '/')
		return NULL;
	char *out = malloc(strlen(p) + 1), *o = out;
	if (!out)
		return NULL;
	for (; *p; p++) {
		int h1, h2;
		if (*p == '%' && (h1 = hexval(p[1])) >= 0 && (h2 = hexval(p[2])) >= 0) {
			*o++ = (char)(h1 << 4 | h2);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	return out;
}

/* The lines for one distribution (pip's FrozenRequirement.from_dist and __str__). */
static int dist_text(const char *name, const char *version, const struct direct_url *du,
		     char **out)
{
	int n;
	char *loc = du && du->has_dir && du->editable ? url_to_path(du->url) : NULL;
	if (loc) {
		n = asprintf(out, "# Editable install with no version control (%s==%s)\n-e %s\n",
			     name, version, loc);
		free(loc);
	} else if (du && du->has_vcs) {
		n = asprintf(out, "%s @ %s+%s@%s%s%s\n", name, du->vcs, du->url, du->commit_id,
			     du->subdirectory ? "#subdirectory=" : "",
			     du->subdirectory ? du->subdirectory : "");
	} else if (du) {
		const char *h = du->has_archive && du->hash ? du->hash : NULL;
		const char *sd = du->subdirectory;
		n = asprintf(out, "%s @ %s%s%s%s%s%s\n", name, du->url, h || sd ? "#" : "",
			     h ? h : "", h && sd ? "&" : "", sd ? "subdirectory=" : "", sd ? sd : "");
	} else {
		n = asprintf(out, "%s==%s\n", name, version);
	}
	if (n < 0) {
		*out = NULL;
		return vv_err(-ENOMEM, "out of memory");
	}
	return 0;
}

static int read_member(struct vv_store *st, const struct vv_tree *di, const char *name,
		       size_t maxlen, char **buf, size_t *len)
{
	*buf = NULL;
	const struct vv_tree_ent *e = vv_tree_find(di, name, strlen(name));
	if (!e || (e->kind != VV_REG && e->kind != VV_SCRIPT)) /* a 'c' is no dist-info file */
		return 0;
	int r = vv_odb_read_obj(&st->odb, &e->oid, maxlen, buf, len);
	return r == -EFBIG ? 0 : r;
}

/* One site-packages entry: a distribution into *d (raw_name NULL if it is none). */
static int read_dist(struct vv_store *st, const struct vv_tree_ent *e, struct dist *d)
{
	size_t nl = e->namelen;
	bool distinfo = nl > 10 && !strcmp(e->name + nl - 10, ".dist-info");
	bool egginfo = nl > 9 && !strcmp(e->name + nl - 9, ".egg-info");
	memset(d, 0, sizeof(*d));
	if (e->kind != VV_DIR || (!distinfo && !egginfo))
		return 0;
	struct vv_tree *di = NULL;
	char *meta = NULL, *dj = NULL;
	size_t mlen = 0, djlen = 0;
	struct direct_url du;
	bool have_du = false;
	char canon[256];
	int r = vv_tree_get(st, &e->oid, &di);
	if (r == 0)
		r = read_member(st, di, distinfo ? "METADATA" : "PKG-INFO", META_MAX, &meta, &mlen);
	if (r < 0 || !meta)
		goto out;
	d->raw_name = meta_header(meta, mlen, "Name");
	d->version = meta_header(meta, mlen, "Version");
	if (!d->raw_name || !*d->raw_name || !d->version || !*d->version ||
	    vv_dist_canonical(d->raw_name, strlen(d->raw_name), canon, sizeof(canon)) < 0) {
		dist_release(d); /* pip skips what it cannot read */
		goto out;
	}
	if (distinfo && (r = read_member(st, di, "direct_url.json", DIRECT_URL_MAX, &dj, &djlen)) < 0)
		goto out;
	have_du = dj && du_parse(dj, djlen, &du) == 0;
	if ((r = dist_text(d->raw_name, d->version, have_du ? &du : NULL, &d->text)) < 0)
		goto out;
	d->canon = strdup(canon);
	d->lower = strdup(d->raw_name);
	if (!d->canon || !d->lower) {
		r = vv_err(-ENOMEM, "out of memory");
		goto out;
	}
	for (char *p = d->lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
out:
	if (r < 0) {
		dist_release(d);
		r = vv_err_prefix(r, "site-packages/%s", e->name);
	}
	if (have_du)
		du_release(&du);
	if (di)
		vv_tree_unref(di);
	free(meta);
	free(dj);
	return r;
}

static int cmp_dist(const void *a, const void *b)
{
	const struct dist *x = a, *y = b;
	int c = strcmp(x->lower, y->lower);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* What pip freeze leaves out (without --all): python, wsgiref and argparse always;
 * pip 23.1+ also pip, plus setuptools, distribute and wheel below Python 3.12; older
 * pips pip, setuptools, distribute, wheel and pkg-resources on every Python. */
static bool skipped(const char *canon, int minor, const char *pipver, bool all)
{
	static const char *const stdlib[] = {"python", "wsgiref", "argparse"};
	for (size_t i = 0; i < 3; i++)
		if (!strcmp(canon, stdlib[i]))
			return true;
	if (all)
		return false;
	if (!strcmp(canon, "pip"))
		return true;
	bool old_pip = pipver && vv_version_cmp(pipver, "23.1") < 0;
	if ((old_pip || minor < 12) && (!strcmp(canon, "setuptools") ||
					!strcmp(canon, "distribute") || !strcmp(canon, "wheel")))
		return true;
	return old_pip && !strcmp(canon, "pkg-resources");
}

int vv_freeze_tree(struct vv_store *st, const vv_oid *root, int minor, bool all, char **out,
		   size_t *len)
{
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	const char *names[] = {"lib", pyname, "site-packages"};
	struct vv_tree *t = NULL;
	struct dist *ds = NULL;
	size_t n = 0;
	char *text = NULL;
	size_t tl = 0;
	*out = NULL;
	int r = vv_tree_get(st, root, &t);
	for (size_t i = 0; r == 0 && t && i < 3; i++) {
		const struct vv_tree_ent *e = vv_tree_find(t, names[i], strlen(names[i]));
		struct vv_tree *next = NULL;
		if (e && e->kind == VV_DIR)
			r = vv_tree_get(st, &e->oid, &next);
		vv_tree_unref(t);
		t = next;
	}
	if (r == 0 && t && !(ds = calloc(t->n ? t->n : 1, sizeof(*ds))))
		r = vv_err(-ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && t && i < t->n; i++) {
		struct dist d;
		if ((r = read_dist(st, &t->ents[i], &d)) < 0 || !d.raw_name)
			continue;
		/* keyed by canonical name: a later one replaces an earlier one, as in pip */
		size_t k = 0;
		while (k < n && strcmp(ds[k].canon, d.canon))
			k++;
		if (k < n)
			dist_release(&ds[k]);
		else
			n++;
		d.order = k;
		ds[k] = d;
	}
	const char *pipver = NULL;
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!strcmp(ds[i].canon, "pip"))
			pipver = ds[i].version;
	if (r == 0) {
		qsort(ds, n, sizeof(*ds), cmp_dist);
		FILE *f = open_memstream(&text, &tl);
		if (!f) {
			r = vv_err(-ENOMEM, "out of memory");
		} else {
			for (size_t i = 0; i < n; i++)
				if (!skipped(ds[i].canon, minor, pipver, all))
					fputs(ds[i].text, f);
			if (fclose(f) != 0)
				r = vv_err(-ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++)
		dist_release(&ds[i]);
	free(ds);
	if (t)
		vv_tree_unref(t);
	if (r < 0) {
		free(text);
		return r;
	}
	*out = text;
	if (len)
		*len = tl;
	return 0;
}

int vv_freeze(struct vv_store *st, const char *name, bool all, char **out, size_t *len)
{
	struct vv_envcfg cfg;
	*out = NULL;
	int r = vv_env_load(st, name, &cfg);
	if (r < 0)
		return r;
	int minor = vv_env_py_minor(st, &cfg.root);
	if (minor < 0)
		r = vv_err_prefix(minor, "env '%s'", name);
	else if ((r = vv_freeze_tree(st, &cfg.root, minor, all, out, len)) < 0)
		r = vv_err_prefix(r, "env '%s'", name);
	vv_envcfg_release(&cfg);
	return r;
}
