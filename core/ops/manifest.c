/*
 * manifest.c - a published store's list of envs: its strict text form and applying it
 * to a client's cache store (manifest.h).
 */
#include "ops/manifest.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/txn.h"
#include "python/python.h"
#include "store/remote.h"
#include "store/store.h"
#include "util/fsutil.h"
#include "util/ini.h"
#include "util/error.h"
#include "util/strv.h"
#include "util/vec.h"

/* An env file bigger than this is not one venvfs wrote (env.c bounds the pykeys). */
#define ENV_TEXT_MAX (1u << 20)

void vv_manifest_release(struct vv_manifest *m)
{
	for (size_t i = 0; i < m->npy; i++) {
		free(m->pys[i].version);
		free(m->pys[i].exe);
	}
	free(m->pys);
	m->pys = NULL;
	m->npy = 0;
	for (size_t i = 0; i < m->n; i++) {
		free(m->envs[i].name);
		vv_envcfg_release(&m->envs[i].cfg);
	}
	free(m->envs);
	m->envs = NULL;
	m->n = 0;
}

/* One "env NAME LEN\n" header at p (line `line`); *name malloc'd, *len, *next. */
static int parse_header(const char *p, const char *end, int line, char **name,
			size_t *len, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return vv_err(-EINVAL, "manifest line %d: no newline", line);
	if ((size_t)(nl - p) < 4 || memcmp(p, "env ", 4))
		return vv_err(-EINVAL, "manifest line %d: expected \"env NAME LEN\"", line);
	const char *nm = p + 4;
	const char *sp = nl;
	while (sp > nm && sp[-1] != ' ')
		sp--;
	if (sp <= nm + 1)
		return vv_err(-EINVAL, "manifest line %d: expected \"env NAME LEN\"", line);
	size_t nlen = (size_t)(sp - 1 - nm);
	if (vv_env_name_check(nm, nlen) < 0)
		return vv_err_prefix(-EINVAL, "manifest line %d", line);
	/* LEN: decimal digits, no leading zero, at most ENV_TEXT_MAX */
	size_t v = 0, nd = (size_t)(nl - sp);
	if (nd == 0 || nd > 8 || (sp[0] == '0' && nd > 1))
		return vv_err(-EINVAL, "manifest line %d: bad length", line);
	for (const char *d = sp; d < nl; d++) {
		if (*d < '0' || *d > '9')
			return vv_err(-EINVAL, "manifest line %d: bad length", line);
		v = v * 10 + (size_t)(*d - '0');
	}
	if (v > ENV_TEXT_MAX || v > (size_t)(end - (nl + 1)))
		return vv_err(-EINVAL, "manifest line %d: env '%.*s' runs past the end", line,
			      (int)nlen, nm);
	if (!(*name = strndup(nm, nlen)))
		return vv_err(-ENOMEM, "out of memory");
	*len = v;
	*next = nl + 1;
	return 0;
}

static bool version_ok(const char *v, size_t n)
{
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '+' && v[i] != '-')
			return false; /* not strchr: it finds the NUL too */
	return true;
}

static bool exe_ok(const char *p, size_t n)
{
	return n > 1 && n < PATH_MAX && p[0] == '/' && !memchr(p, '\0', n);
}

/* One "python VERSION PATH\n" line at p, appended to m (paths increasing). */
static int parse_python(struct vv_manifest *m, size_t *cap, const char *p, const char *nl,
			int line)
{
	const char *v = p + 7, *sp = memchr(v, ' ', (size_t)(nl - v));
	if (!sp || !version_ok(v, (size_t)(sp - v)) || !exe_ok(sp + 1, (size_t)(nl - sp - 1)))
		return vv_err(-EINVAL, "manifest line %d: expected \"python VERSION /PATH\"",
			      line);
	size_t el = (size_t)(nl - sp - 1);
	if (m->npy) {
		const char *last = m->pys[m->npy - 1].exe;
		size_t ll = strlen(last);
		int c = memcmp(last, sp + 1, ll < el ? ll : el);
		if (c > 0 || (c == 0 && ll >= el))
			return vv_err(-EINVAL, "manifest line %d: interpreter out of order or named "
				      "twice", line);
	}
	if (VV_GROW(m->pys, m->npy, *cap, 4) < 0)
		return -ENOMEM;
	struct vv_manifest_py *py = &m->pys[m->npy];
	py->version = strndup(v, (size_t)(sp - v));
	py->exe = strndup(sp + 1, el);
	if (!py->version || !py->exe) {
		free(py->version);
		free(py->exe);
		return vv_err(-ENOMEM, "out of memory");
	}
	m->npy++;
	return 0;
}

static int count_lines(const char *p, size_t len)
{
	int n = 0;
	for (size_t i = 0; i < len; i++)
		n += p[i] == '\n';
	return n;
}

int vv_manifest_parse(const char *buf, size_t len, struct vv_manifest *out)
{
	memset(out, 0, sizeof(*out));
	size_t ml = strlen(VV_MANIFEST_MAGIC);
	if (len < ml || memcmp(buf, VV_MANIFEST_MAGIC, ml))
		return vv_err(-EINVAL, "not a venvfs manifest (no \"venvfs-manifest 1\" line)");
	const char *p = buf + ml, *end = buf + len;
	int line = 2, r = 0;
	size_t cap = 0, pycap = 0;
	while (p < end && (size_t)(end - p) > 7 && !memcmp(p, "python ", 7)) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			r = vv_err(-EINVAL, "manifest line %d: no newline", line);
			break;
		}
		if ((r = parse_python(out, &pycap, p, nl, line)) < 0)
			break;
		p = nl + 1;
		line++;
	}
	while (r == 0 && p < end) {
		char *name = NULL;
		size_t tl = 0;
		const char *text = NULL;
		if ((r = parse_header(p, end, line, &name, &tl, &text)) < 0)
			break;
		if (out->n && strcmp(out->envs[out->n - 1].name, name) >= 0) {
			r = vv_err(-EINVAL, "manifest line %d: env '%s' is out of order or named "
				   "twice", line, name);
			free(name);
			break;
		}
		if ((r = VV_GROW(out->envs, out->n, cap, 16)) < 0) {
			free(name);
			break;
		}
		struct vv_manifest_env *e = &out->envs[out->n];
		e->name = name;
		if ((r = vv_envcfg_parse(text, tl, name, &e->cfg)) < 0) {
			free(name);
			r = vv_err_prefix(r, "manifest line %d", line);
			break;
		}
		out->n++;
		line += 1 + count_lines(text, tl);
		p = text + tl;
	}
	if (r < 0)
		vv_manifest_release(out);
	return r;
}

/* Append n bytes to *buf (used, cap). */
static int put(char **buf, size_t *used, size_t *cap, const char *p, size_t n)
{
	if (*used + n + 1 > *cap) {
		size_t c = *cap ? *cap : 256;
		while (c < *used + n + 1)
			c *= 2;
		char *nb = realloc(*buf, c);
		if (!nb)
			return vv_err(-ENOMEM, "out of memory");
		*buf = nb;
		*cap = c;
	}
	memcpy(*buf + *used, p, n);
	*used += n;
	return 0;
}

int vv_manifest_format(const struct vv_manifest_py *pys, size_t npy, char *const *names,
		       const struct vv_envcfg *cfgs, size_t n, char **out, size_t *len)
{
	size_t ml = strlen(VV_MANIFEST_MAGIC), cap = ml + 1, used = ml;
	char *buf = malloc(cap);
	if (!buf)
		return vv_err(-ENOMEM, "out of memory");
	memcpy(buf, VV_MANIFEST_MAGIC, ml);
	int r = 0;
	for (size_t i = 0; i < npy && r == 0; i++) {
		const char *v = pys[i].version, *e = pys[i].exe;
		if (!version_ok(v, strlen(v)) || !exe_ok(e, strlen(e)) || strchr(e, '\n'))
			r = vv_err(-EINVAL, "manifest: interpreter '%s' (%s) cannot be written", e, v);
		else if (i && strcmp(pys[i - 1].exe, e) >= 0)
			r = vv_err(-EINVAL, "manifest: interpreter '%s' out of order", e);
		else if ((r = put(&buf, &used, &cap, "python ", 7)) == 0 &&
			 (r = put(&buf, &used, &cap, v, strlen(v))) == 0 &&
			 (r = put(&buf, &used, &cap, " ", 1)) == 0 &&
			 (r = put(&buf, &used, &cap, e, strlen(e))) == 0)
			r = put(&buf, &used, &cap, "\n", 1);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if (i && strcmp(names[i - 1], names[i]) >= 0) {
			r = vv_err(-EINVAL, "manifest: env '%s' out of order", names[i]);
			break;
		}
		if (strchr(names[i], '\n') || vv_env_name_check(names[i], strlen(names[i])) < 0) {
			r = vv_err(-EINVAL, "manifest: '%s' cannot be an env name", names[i]);
			break;
		}
		char *text;
		size_t tl;
		if ((r = vv_envcfg_format(&cfgs[i], &text, &tl)) < 0)
			break;
		char head[300];
		int hl = snprintf(head, sizeof(head), "env %s %zu\n", names[i], tl);
		if (hl < 0 || (size_t)hl >= sizeof(head)) {
			free(text);
			r = vv_err(-ENAMETOOLONG, "manifest: env name '%s' too long", names[i]);
			break;
		}
		if ((r = put(&buf, &used, &cap, head, (size_t)hl)) == 0)
			r = put(&buf, &used, &cap, text, tl);
		free(text);
	}
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

/* Does the env file of `name` in st already say what cfg says? */
static bool same_env(struct vv_store *st, const char *name, const struct vv_envcfg *cfg)
{
	struct vv_envcfg have;
	if (vv_env_load(st, name, &have) < 0)
		return false;
	/* what a manifest leaves out, the env file got when it was made (txn.h) */
	if (!cfg->owned)
		have.owned = false;
	if (!cfg->has_mode)
		have.has_mode = false;
	char *a = NULL, *b = NULL;
	size_t al = 0, bl = 0;
	bool same = vv_envcfg_format(&have, &a, &al) == 0 &&
		    vv_envcfg_format(cfg, &b, &bl) == 0 && al == bl && !memcmp(a, b, al);
	free(a);
	free(b);
	vv_envcfg_release(&have);
	return same;
}

static int apply_one(struct vv_store *st, const struct vv_manifest_env *e)
{
	if (same_env(st, e->name, &e->cfg))
		return 0;
	int r = vv_txn_create(st, e->name, &e->cfg);
	if (r != -EEXIST)
		return r < 0 ? r : 1;
	struct vv_txn t;
	if ((r = vv_txn_begin(st, e->name, VV_TXN_LOCKED_OK | VV_TXN_DISCARD, &t)) < 0)
		return r;
	r = vv_txn_commit(&t, &e->cfg, "publish", 0);
	vv_txn_end(&t);
	return r < 0 ? r : 1;
}

int vv_manifest_apply(struct vv_store *st, const struct vv_manifest *m, size_t *changed)
{
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < m->n && r == 0; i++) {
		int c = apply_one(st, &m->envs[i]);
		if (c < 0)
			r = vv_err_prefix(c, "env '%s'", m->envs[i].name);
		else
			n += (size_t)c;
	}
	char **have = NULL;
	size_t nhave = 0;
	if (r == 0 && (r = vv_env_list(st, &have, &nhave)) == 0) {
		/* both lists are sorted: walk them together */
		size_t j = 0;
		for (size_t i = 0; i < nhave && r == 0; i++) {
			while (j < m->n && strcmp(m->envs[j].name, have[i]) < 0)
				j++;
			if (j < m->n && !strcmp(m->envs[j].name, have[i]))
				continue;
			if ((r = vv_txn_remove(st, have[i])) < 0)
				r = vv_err_prefix(r, "removing env '%s'", have[i]);
			else
				n++;
		}
		vv_strv_free(have, nhave);
	}
	if (changed)
		*changed = n;
	return r;
}

/* ---- a mount of published envs ---- */

#define STATE_FILE "remote"
#define MANIFEST_MAX (64u << 20)

struct state {
	char *url;
	vv_oid manifest;
	bool has_manifest;
};

static const char *const state_keys[] = { "url", "manifest" };

static int state_value(void *user, int key, const char *value, int lineno)
{
	(void)lineno;
	struct state *s = user;
	if (key == 0)
		return (s->url = strdup(value)) ? 0 : vv_err(-ENOMEM, "out of memory");
	if (vv_oid_from_hex(&s->manifest, value, strlen(value)) < 0)
		return vv_err(-EINVAL, "bad manifest id '%s'", value);
	s->has_manifest = true;
	return 0;
}

/* st's `remote` file: 0 (s->url NULL when there is none) or -errno. */
static int state_load(struct vv_store *st, struct state *s)
{
	memset(s, 0, sizeof(*s));
	char *buf;
	size_t len;
	int r = vv_read_file_at(st->dirfd, STATE_FILE, 65536, &buf, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return vv_err_prefix(r, "cache '%s'", st->path);
	struct vv_ini_table t = { .section = "remote", .keys = state_keys, .nkeys = 2,
				  .value = state_value, .user = s };
	int lines[2];
	char fname[PATH_MAX + 16];
	snprintf(fname, sizeof(fname), "%s/%s", st->path, STATE_FILE);
	r = vv_ini_parse_table(buf, len, fname, &t, lines);
	free(buf);
	if (r < 0) {
		free(s->url);
		s->url = NULL;
	}
	return r;
}

int vv_manifest_cache_url(struct vv_store *st, char **url)
{
	struct state s;
	int r = state_load(st, &s);
	*url = r < 0 ? NULL : s.url;
	return r;
}

static int state_save(struct vv_store *st, const char *url, const vv_oid *id)
{
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(id, hex);
	int r = vv_ini_value_check("url", url, "remote URL");
	if (r < 0)
		return r;
	size_t n = strlen(url) + sizeof(hex) + 64;
	char *text = malloc(n);
	if (!text)
		return vv_err(-ENOMEM, "out of memory");
	int len = snprintf(text, n, "[remote]\nurl = %s\nmanifest = %s\n", url, hex);
	r = vv_write_file_atomic(st->dirfd, STATE_FILE, text, (size_t)len, 0644);
	free(text);
	return r < 0 ? vv_err_prefix(r, "cache '%s'", st->path) : 0;
}

/* Lines for the interpreters of m this host lacks. */
static char *python_warnings(const struct vv_manifest *m)
{
	char *w = NULL;
	size_t used = 0, cap = 0;
	for (size_t i = 0; i < m->npy; i++) {
		const struct vv_manifest_py *p = &m->pys[i];
		char line[PATH_MAX + 256];
		int n = 0;
		/* whether it is there, and its X.Y from its standard library: running it
		 * now would learn its facts before the mount does, from another starting
		 * point (pycache.c) */
		char xy[32], got[32];
		const char *dot = strchr(p->version, '.');
		dot = dot ? strchr(dot + 1, '.') : NULL;
		size_t xl = dot ? (size_t)(dot - p->version) : strlen(p->version);
		snprintf(xy, sizeof(xy), "%.*s", (int)(xl < sizeof(xy) ? xl : 0), p->version);
		if (vv_python_check_exe(p->exe) < 0)
			n = snprintf(line, sizeof(line), "remote: envs need Python %s at '%s', "
				     "which this host does not have: %s\n", p->version, p->exe,
				     vv_errmsg());
		else if (*xy && vv_python_stdlib_xy(p->exe, xy, got, sizeof(got)) == 0)
			n = snprintf(line, sizeof(line), "remote: envs need Python %s at '%s', "
				     "which is Python %s on this host (its standard library is "
				     "python%s): their packages are not on its path\n",
				     p->version, p->exe, got, got);
		if (n > 0 && put(&w, &used, &cap, line, strlen(line)) < 0)
			break;
	}
	if (w)
		w[used] = '\0';
	return w;
}

int vv_manifest_mount(struct vv_store *st, struct vv_remote *rm, const vv_oid *pin,
		      vv_oid *used, bool *stale, char **warnings)
{
	*stale = false;
	*warnings = NULL;
	struct state s;
	int r = state_load(st, &s);
	if (r < 0)
		return r;
	if (s.url && strcmp(s.url, rm->url)) {
		r = vv_err(-EINVAL, "'%s' is the cache of '%s', not of '%s': give another "
			   "--cache", st->path, s.url, rm->url);
		goto out;
	}
	vv_oid id;
	if (pin) {
		id = *pin;
	} else if ((r = vv_remote_head(rm, &id)) < 0) {
		if (!s.has_manifest || r == -EINVAL)
			goto out;
		/* the server is away: serve the snapshot the cache has */
		*used = s.manifest;
		*stale = true;
		r = 0;
		goto out;
	}
	char *buf;
	size_t len;
	if ((r = vv_odb_read_obj(&st->odb, &id, MANIFEST_MAX, &buf, &len)) < 0) {
		char hex[VV_OID_HEX + 1];
		vv_oid_hex(&id, hex);
		r = vv_err_prefix(r, "manifest %s", hex);
		goto out;
	}
	struct vv_manifest m;
	r = vv_manifest_parse(buf, len, &m);
	free(buf);
	if (r < 0)
		goto out;
	if ((r = vv_manifest_apply(st, &m, NULL)) == 0 && (r = state_save(st, rm->url, &id)) == 0) {
		*used = id;
		*warnings = python_warnings(&m);
	}
	vv_manifest_release(&m);
out:
	free(s.url);
	return r;
}
