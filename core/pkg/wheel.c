/*
 * wheel.c - a wheel's .dist-info (wheel_int.h): the one NAME-VER.dist-info directory,
 * its control files (RECORD, WHEEL, METADATA) read and checked before anything is
 * installed, and the public calls that only read a wheel (its Requires-Python).
 *
 * Installing is wheelinst.c; the archive underneath is wheelzip.c.
 */
#include "pkg/wheel.h"
#include "pkg/wheel_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zip.h>

#include "util/error.h"
#include "util/fsutil.h"

/* The one top-level NAME-VER.dist-info/ directory. */
int wheel_find_distinfo(struct wheel *w)
{
	const char *found = NULL;
	size_t flen = 0;
	for (size_t i = 0; i < w->nm; i++) {
		const char *name = w->m[i].name, *slash = strchr(name, '/');
		if (!slash)
			continue;
		size_t tl = (size_t)(slash - name);
		if (tl <= 10 || memcmp(slash - 10, ".dist-info", 10))
			continue;
		if (!found) {
			found = name;
			flen = tl;
		} else if (tl != flen || memcmp(found, name, tl)) {
			return wheel_err(w, NULL, "more than one .dist-info directory ('%.*s', "
					 "'%.*s')", (int)flen, found, (int)tl, name);
		}
	}
	if (!found)
		return wheel_err(w, NULL, "no .dist-info directory");
	size_t stem = flen - 10;
	const char *dash = memchr(found, '-', stem);
	if (!dash || dash == found || (size_t)(dash - found) + 1 >= stem)
		return wheel_err(w, NULL, "bad .dist-info directory name '%.*s'", (int)flen, found);
	w->distinfo = strndup(found, flen);
	w->datadir = malloc(stem + 6);
	if (!w->distinfo || !w->datadir)
		return vv_err(-ENOMEM, "%s: out of memory", w->wname);
	memcpy(w->datadir, found, stem);
	memcpy(w->datadir + stem, ".data", 6);
	return 0;
}

/* See wheel.h. */
int vv_metadata_header(const char *text, const char *key, char **out)
{
	size_t kl = strlen(key);
	*out = NULL;
	for (const char *l = text; *l;) {
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) : strlen(l);
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		if (ll > kl && !strncasecmp(l, key, kl) && l[kl] == ':') {
			const char *v = l + kl + 1, *ve = l + ll;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (!(*out = strndup(v, (size_t)(ve - v))))
				return -ENOMEM;
			return 0;
		}
		if (!e)
			break;
		l = e + 1;
	}
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* PEP 508 names: ASCII letters, digits, '.', '_', '-', starting and ending alnum. */
static bool valid_dist_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 200 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool valid_version(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 200)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(".!+_-", s[i]))
			return false;
	return true;
}

/* PEP 503 normalization, compared without allocating: runs of -_. are one '-'. */
static bool same_canonical(const char *a, size_t al, const char *b, size_t bl)
{
	size_t i = 0, j = 0;
	for (;;) {
		bool sa = i < al && strchr("-_.", a[i]), sb = j < bl && strchr("-_.", b[j]);
		if (sa || sb) {
			if (!(sa && sb))
				return false;
			while (i < al && strchr("-_.", a[i]))
				i++;
			while (j < bl && strchr("-_.", b[j]))
				j++;
			continue;
		}
		if (i == al || j == bl)
			return i == al && j == bl;
		char ca = a[i], cb = b[j];
		if (ca >= 'A' && ca <= 'Z')
			ca = (char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (char)(cb - 'A' + 'a');
		if (ca != cb)
			return false;
		i++;
		j++;
	}
}

int wheel_read_control(struct wheel *w)
{
	char path[600];
	const struct member *m;
	char *text = NULL, *v = NULL;
	size_t len;
	int r;

	/* RECORD */
	if ((r = wheel_load_record(w)) < 0)
		return r;

	/* WHEEL */
	snprintf(path, sizeof(path), "%s/WHEEL", w->distinfo);
	if (!(m = wheel_find_member(w, path)))
		return wheel_err(w, path, "missing");
	if ((r = wheel_read_member(w, m, MAX_SMALL, &text, &len)) < 0)
		return r;
	if ((r = vv_metadata_header(text, "Wheel-Version", &v)) < 0)
		goto oom;
	if (!v || !(v[0] == '1' && (v[1] == '.' || v[1] == 0))) {
		r = wheel_err(w, path, "unsupported Wheel-Version '%.40s'", v ? v : "");
		goto out;
	}
	free(v);
	if ((r = vv_metadata_header(text, "Root-Is-Purelib", &v)) < 0)
		goto oom;
	/* In a venv purelib and platlib are the same directory; only check the value. */
	if (!v || (strcasecmp(v, "true") && strcasecmp(v, "false"))) {
		r = wheel_err(w, path, "bad or missing Root-Is-Purelib");
		goto out;
	}
	free(v);
	v = NULL;
	free(text);

	/* METADATA */
	snprintf(path, sizeof(path), "%s/METADATA", w->distinfo);
	if (!(m = wheel_find_member(w, path)))
		return wheel_err(w, path, "missing");
	if ((r = wheel_read_member(w, m, MAX_RECORD, &text, &len)) < 0)
		return r;
	if (strlen(text) != len) {
		r = wheel_err(w, path, "NUL byte");
		goto out;
	}
	if ((r = vv_metadata_header(text, "Name", &w->name)) < 0 ||
	    (r = vv_metadata_header(text, "Version", &w->version)) < 0)
		goto oom;
	if (!w->name || !valid_dist_name(w->name)) {
		r = wheel_err(w, path, "missing or invalid Name");
		goto out;
	}
	if (!w->version || !valid_version(w->version)) {
		r = wheel_err(w, path, "missing or invalid Version");
		goto out;
	}
	const char *dash = strchr(w->distinfo, '-');
	if (!same_canonical(w->distinfo, (size_t)(dash - w->distinfo), w->name,
			    strlen(w->name))) {
		r = wheel_err(w, path, "Name '%s' does not match '%s'", w->name, w->distinfo);
		goto out;
	}
	r = 0;
	goto out;
oom:
	r = vv_err(-ENOMEM, "%s: out of memory", w->wname);
out:
	free(v);
	free(text);
	return r;
}

/* ---------------------------------------------------------------- public */

void wheel_free(struct wheel *w)
{
	if (w->za)
		zip_discard(w->za);
	for (size_t i = 0; i < w->nm; i++)
		free(w->m[i].name);
	free(w->m);
	free(w->byname);
	free(w->distinfo);
	free(w->datadir);
	vv_record_free(w->rec, w->nrec);
	free(w->name);
	free(w->version);
	for (size_t i = 0; i < w->nrows; i++)
		free(w->rows[i].path);
	free(w->rows);
}

void vv_wheel_info_release(struct vv_wheel_info *info)
{
	if (!info)
		return;
	free(info->name);
	free(info->version);
	info->name = info->version = NULL;
}

int vv_wheel_requires_python(const char *wheel_path, char **out)
{
	struct wheel w = {.wname = vv_base_name(wheel_path)};
	char path[600], *text = NULL;
	const struct member *m;
	*out = NULL;
	int r = wheel_open_zip(wheel_path, w.wname, &w.za);
	if (r < 0)
		return r;
	if ((r = wheel_scan(&w)) < 0 || (r = wheel_find_distinfo(&w)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/METADATA", w.distinfo);
	if (!(m = wheel_find_member(&w, path))) {
		r = wheel_err(&w, path, "missing");
		goto out;
	}
	if ((r = wheel_read_member(&w, m, MAX_RECORD, &text, NULL)) < 0)
		goto out;
	if (vv_metadata_header(text, "Requires-Python", out) < 0)
		r = vv_err(-ENOMEM, "%s: out of memory", w.wname);
	free(text);
out:
	wheel_free(&w);
	return r;
}
