/*
 * test_rectpl.c - RECORD templates (pkg/rectpl.h), the one stored form of the
 * .dist-info/RECORD pip writes into every env: its console-script lines carry the hash
 * and size of a script whose first line is that env's interpreter path, so without a
 * template each env would hold its own copy of the whole RECORD. Against the RECORDs
 * pip 23.2.1 wrote for one wheel (two console scripts, CRLF lines, a quoted path with a
 * comma, pyc rows without hashes) in envs at a plain path, at a path with a space (pip's
 * /bin/sh trampoline) and run as python3.11: a template renders back to exactly those
 * bytes under the env's path, and under any other path to the same lines with each
 * script's hash and size as python/script.h shows the script there; envs at different
 * paths make one template; the size a stat computes from the tree entry alone is the
 * rendered size whenever it is not "unknown" (path lengths 1..300, shown sizes crossing
 * 100 and 1000 bytes); a line is left out only when it names a stored script with its
 * exact hash and size; and the parser, which reads store bytes, refuses every malformed
 * template, and every cut one short of its last field, without reading past it.
 */
#include "testutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/rectpl.h"
#include "python/script.h"
#include "util/error.h"
#include "util/hash.h"

#define HEAD 11 /* "VVREC1\n" and K */
#define SUB 8   /* OFF and NSIZE */

/* ---- the distribution: flask 3.1.3 with two console scripts ------------------------ */

#define BODY(fn)                                                                           \
	"# -*- coding: utf-8 -*-\n"                                                         \
	"import re\n"                                                                      \
	"import sys\n"                                                                     \
	"from flask.cli import " fn "\n"                                                   \
	"if __name__ == '__main__':\n"                                                     \
	"    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"          \
	"    sys.exit(" fn "())\n"

/* A console script: its RECORD path as written (quoted if CSV needs it), the path the
 * callback is asked about, and the stored bytes ("#!python" first line). */
struct script {
	const char *row;
	const char *path;
	const char *stored;
};

static const struct script FLASK[] = {
	{ "../../../bin/flask", "../../../bin/flask", "#!python\n" BODY("main") },
	{ "../../../bin/flask-admin", "../../../bin/flask-admin", "#!python\n" BODY("admin") },
};
static const struct script FLASK311[] = { /* pip run as bin/python3.11 */
	{ "../../../bin/flask", "../../../bin/flask", "#!python3.11\n" BODY("main") },
	{ "../../../bin/flask-admin", "../../../bin/flask-admin",
	  "#!python3.11\n" BODY("admin") },
};

/* A row that is "\1" and a digit stands for the line of that script. */
#define SCRIPT(i) ("\001" #i)

/* Every row of pip's RECORD after the scripts', the same in every env. */
#define REST                                                                               \
	"flask-3.1.3.dist-info/INSTALLER,sha256=zuuue4knoyJ-UwPPXg8fezS7VCrXJQrAP7zeNuwvFQg,4", \
	"flask-3.1.3.dist-info/METADATA,sha256=W6Da2yrTJkFtnvptqOFayk8fpAglyjzJ_kyj48xmccw,49", \
	"flask-3.1.3.dist-info/RECORD,,",                                                   \
	"flask-3.1.3.dist-info/REQUESTED,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0", \
	"flask-3.1.3.dist-info/WHEEL,sha256=CpUCUxeHQbRN5UGRQHYRJorO5Af-Qy_fHMctcQ8DSGI,82",    \
	"flask-3.1.3.dist-info/direct_url.json,sha256=vdNQarokMlICLlAJXZ8I5R0lU5aLVyPHAkUS3dLp6Ro,248", \
	"flask-3.1.3.dist-info/entry_points.txt,sha256=pgz0pF8d1Fmy1Seg9xy7ZKHJw3ILydiQxhxUcEPIpyg,67", \
	"flask/__init__.py,sha256=VTtXTVHhJRlGnEeneS8xr_Y3eBarkPwbcHpaK3LjfnI,54",           \
	"flask/__pycache__/__init__.cpython-311.pyc,,",                                     \
	"\"flask/__pycache__/a,b.cpython-311.pyc\",,",                                      \
	"flask/__pycache__/cli.cpython-311.pyc,,",                                          \
	"\"flask/a,b.py\",sha256=nia_NpkRxFwkPGhBR7I_yeHc_PJX0pmhxjIBam_NM_Q,6",             \
	"flask/cli.py,sha256=02C5ZlfhFE1R6v1YvGh-Nu1Fe0KTf9sA-UPRHSkP7zo,64"

static const char *const FLASK_ROWS[] = { SCRIPT(0), SCRIPT(1), REST, NULL };
static const char *const REST_ROWS[] = { REST, NULL };

/* What pip 23.2.1 wrote, byte for byte (CRLF), in three envs. */
#define ENV "/tmp/vvrec/env"
#define ENV_SP "/tmp/vvrec/my env"
#define ENV311 "/tmp/vvrec/e311"
static const char *const PIP_ENV[] = {
	"../../../bin/flask,sha256=ThVd-oc9zGfU7J7_PixffaYLMcN1qDrzVZ7H9s1qOdI,217",
	"../../../bin/flask-admin,sha256=q-qQqC8DBr1_zP4WHhI47r1DvYilg2gLMrZZSbiujW0,219", REST,
	NULL
};
static const char *const PIP_ENV_SP[] = {
	"../../../bin/flask,sha256=TVAIVbu-HZvbqtEW9N4QEYGDrjSXBXY9KpwEkycodWo,255",
	"../../../bin/flask-admin,sha256=1hqBF7vLlycmxiKhhPgCwrQg9eGb_mJT5f_Q0kkC1aA,257", REST,
	NULL
};
static const char *const PIP_ENV311[] = {
	"../../../bin/flask,sha256=CDu27gOZli4YFKhauUtlRZ44wEvWclWPYk0R7r8m3N0,222",
	"../../../bin/flask-admin,sha256=7kTKvb-9bs1Bepz077qiG5izysmVXoCcbp0Kfprd6NU,224", REST,
	NULL
};

struct dist {
	const struct script *scripts;
	size_t n;
	const char *const *rows;
	bool noeol; /* no line end after the last row */
};

static const struct dist FLASK_D = { FLASK, 2, FLASK_ROWS, false };
static const struct dist FLASK311_D = { FLASK311, 2, FLASK_ROWS, false };

/* ---- building RECORDs -------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void add(struct buf *b, const void *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void adds(struct buf *b, const char *s)
{
	add(b, s, strlen(s));
}

/* "sha256=HASH,SIZE" of data, as a RECORD writes it. */
static void add_field(struct buf *b, const void *data, size_t len)
{
	vv_oid h;
	char b64[44], num[24];
	vv_hash_buf(data, len, &h);
	vv_oid_b64(&h, b64);
	assert_int_equal(strlen(b64), 43);
	adds(b, "sha256=");
	adds(b, b64);
	snprintf(num, sizeof(num), ",%zu", len);
	adds(b, num);
}

/* A stored script as the env at env shows it (malloc'd). */
static char *show(const char *env, const char *stored, size_t *len)
{
	char *o = NULL;
	int r = vv_script_show(env, stored, strlen(stored), &o, len);
	if (r != 0)
		fail_msg("vv_script_show under '%s': %d (%s)", env, r, vv_errmsg());
	return o;
}

static size_t shown_len(const char *env, const char *stored)
{
	size_t l;
	free(show(env, stored, &l));
	return l;
}

/* The RECORD of d in the env at env, lines ended by eol: each script row with the hash
 * and size of the script as env shows it, or (blank) without them, as a template's
 * text has it. */
static char *record(const struct dist *d, const char *env, bool blank, const char *eol,
		    size_t *len)
{
	struct buf b = { 0 };
	add(&b, "", 0);
	for (const char *const *r = d->rows; *r; r++) {
		if (**r == '\001') {
			const struct script *s = &d->scripts[(*r)[1] - '0'];
			adds(&b, s->row);
			adds(&b, ",");
			if (!blank) {
				size_t sl;
				char *o = show(env, s->stored, &sl);
				add_field(&b, o, sl);
				free(o);
			}
		} else {
			adds(&b, *r);
		}
		if (r[1] || !d->noeol)
			adds(&b, eol);
	}
	*len = b.n;
	return b.p;
}

/* ---- the callback: a RECORD path to the stored script it names ------------------- */

struct lookup {
	const struct dist *d;
	enum { FIND, NONE, FAIL } mode;
	int fail_at;       /* FIND: from this call on (1-based) return -EIO; 0: never */
	const char *other; /* FIND: hand this over instead of every script found */
	int calls;
};

static int lookup(void *ctx, const char *path, size_t pathlen, char **script, size_t *len)
{
	struct lookup *l = ctx;
	l->calls++;
	if (l->mode == NONE)
		return 0;
	if (l->mode == FAIL || (l->fail_at && l->calls >= l->fail_at))
		return -EIO;
	for (size_t i = 0; i < l->d->n; i++) {
		const struct script *s = &l->d->scripts[i];
		if (strlen(s->path) == pathlen && !memcmp(s->path, path, pathlen)) {
			const char *src = l->other ? l->other : s->stored;
			*len = strlen(src);
			*script = malloc(*len);
			assert_non_null(*script);
			memcpy(*script, src, *len);
			return 1;
		}
	}
	return 0;
}

/* Make the template of rec (written at env): 1 expected, with K = k. */
static char *make1(const struct dist *d, const char *rec, size_t rl, const char *env,
		   size_t k, size_t *tl, struct vv_recent *ent)
{
	struct lookup l = { .d = d };
	char *tpl = NULL;
	int r = vv_rectpl_make(rec, rl, env, lookup, &l, &tpl, tl, ent);
	if (r != 1)
		fail_msg("make under '%s': %d (%s)", env, r, vv_errmsg());
	assert_non_null(tpl);
	assert_int_equal(ent->k, k);
	return tpl;
}

/* The template's rendering under env, with and without its entry values: the same. */
static char *render(const char *tpl, size_t tl, const struct vv_recent *ent, const char *env,
		    size_t *ol)
{
	/* an exact-size copy, so a sanitizer or valgrind sees any read past the end */
	char *copy = malloc(tl);
	assert_non_null(copy);
	memcpy(copy, tpl, tl);
	char *out = NULL, *out2 = NULL;
	size_t l2 = 0;
	int r = vv_rectpl_render(copy, tl, ent, env, &out, ol);
	if (r != 0)
		fail_msg("render under '%s': %d (%s)", env, r, vv_errmsg());
	assert_int_equal(vv_rectpl_render(copy, tl, NULL, env, &out2, &l2), 0);
	assert_int_equal(l2, *ol);
	assert_memory_equal(out2, out, l2);
	free(out2);
	free(copy);
	return out;
}

/* got is rec rendered under env: a line naming one of d's scripts is rec's up to the
 * field, then the sha256 and size of that script as env shows it, then rec's line
 * end; every other line is rec's byte for byte. Returns the script lines seen. */
static size_t check_lines(const struct dist *d, const char *rec, size_t rl, const char *got,
			  size_t gl, const char *env)
{
	const char *a = rec, *ae = rec + rl, *b = got, *be = got + gl;
	size_t seen = 0;
	while (a < ae) {
		const char *nl = memchr(a, '\n', (size_t)(ae - a)), *aend = nl ? nl + 1 : ae;
		assert_true(b < be);
		nl = memchr(b, '\n', (size_t)(be - b));
		const char *bend = nl ? nl + 1 : be;
		const struct script *s = NULL;
		for (size_t i = 0; i < d->n; i++) {
			size_t pl = strlen(d->scripts[i].row);
			if ((size_t)(aend - a) > pl + 8 && !memcmp(a, d->scripts[i].row, pl) &&
			    !memcmp(a + pl, ",sha256=", 8))
				s = &d->scripts[i];
		}
		if (!s) {
			assert_int_equal(bend - b, aend - a);
			assert_memory_equal(b, a, (size_t)(aend - a));
		} else {
			struct buf w = { 0 };
			size_t sl;
			char *o = show(env, s->stored, &sl);
			adds(&w, s->row);
			adds(&w, ",");
			add_field(&w, o, sl);
			free(o);
			const char *le = aend;
			if (le > a && le[-1] == '\n')
				le--;
			if (le > a && le[-1] == '\r')
				le--;
			add(&w, le, (size_t)(aend - le));
			if ((size_t)(bend - b) != w.n || memcmp(b, w.p, w.n))
				fail_msg("under '%s': line '%.*s', want '%s'", env, (int)(bend - b), b,
					 w.p);
			free(w.p);
			seen++;
		}
		a = aend;
		b = bend;
	}
	assert_true(b == be);
	return seen;
}

static unsigned digits(uint64_t v)
{
	unsigned d = 1;
	for (; v >= 10; v /= 10)
		d++;
	return d;
}

/* An env path of exactly n >= 1 bytes; with a space (pip's trampoline) when sp. */
static char *mkpath(size_t n, bool sp)
{
	char *p = malloc(n + 1);
	assert_non_null(p);
	memset(p, 'p', n);
	p[0] = '/';
	if (sp && n >= 3)
		p[1] = ' ';
	p[n] = 0;
	return p;
}

/* ---- the tests ------------------------------------------------------------------- */

/* pip's own bytes: the scripts as the mount shows them hash to what pip wrote, and the
 * RECORD makes a template that renders back exactly, with and without its entry. */
static void test_pip_records(void **state)
{
	(void)state;
	static const struct {
		const char *env;
		const char *const *rows;
		const struct dist *d;
	} c[] = {
		{ ENV, PIP_ENV, &FLASK_D },
		{ ENV_SP, PIP_ENV_SP, &FLASK_D },
		{ ENV311, PIP_ENV311, &FLASK311_D },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const struct dist *d = c[i].d;
		for (int crlf = 1; crlf >= 0; crlf--) {
			const char *eol = crlf ? "\r\n" : "\n";
			const struct dist pip = { d->scripts, d->n, c[i].rows, false };
			size_t rl, ml, tl, ol;
			char *rec = record(&pip, NULL, false, eol, &rl);
			/* vv_script_show gives the bytes pip wrote: the same RECORD */
			char *mine = record(d, c[i].env, false, eol, &ml);
			assert_int_equal(ml, rl);
			assert_memory_equal(mine, rec, rl);
			free(mine);

			struct vv_recent ent;
			char *tpl = make1(d, rec, rl, c[i].env, 2, &tl, &ent);
			uint32_t s0 = (uint32_t)strlen(d->scripts[0].stored);
			uint32_t s1 = (uint32_t)strlen(d->scripts[1].stored);
			assert_int_equal(ent.sum, s0 + s1);
			assert_int_equal(ent.smin, s0 < s1 ? s0 : s1);
			assert_int_equal(ent.smax, s0 > s1 ? s0 : s1);
			/* header, table, both scripts, the text without two 54-byte fields */
			size_t field = strlen("sha256=") + 43 + strlen(",217");
			assert_int_equal(tl, HEAD + 2 * SUB + s0 + s1 + rl - 2 * field);
			assert_memory_equal(tpl, "VVREC1\n\2\0\0\0", HEAD);
			assert_memory_equal(tpl + HEAD + 2 * SUB, d->scripts[0].stored, s0);
			assert_memory_equal(tpl + HEAD + 2 * SUB + s0, d->scripts[1].stored, s1);

			char *out = render(tpl, tl, &ent, c[i].env, &ol);
			assert_int_equal(ol, rl);
			assert_memory_equal(out, rec, rl);
			assert_int_equal(vv_rectpl_size(tl, &ent, c[i].env), rl);
			free(out);
			free(tpl);
			free(rec);
		}
	}
}

/* Rendered under other paths: shorter, longer, with a space, with sh's special
 * characters, longer than a #! line holds (trampoline), around that limit. Each script
 * line carries the script as that env shows it and every other byte is pip's; made
 * again from that rendering, at that path, it is the same template. */
static void test_other_paths(void **state)
{
	(void)state;
	char *p113 = mkpath(113, false), *p114 = mkpath(114, false), *p115 = mkpath(115, false),
	     *p200 = mkpath(200, false), *p300s = mkpath(300, true);
	const char *paths[] = {
		"/e", "/home/someone/projects/webapp/.venv-with-a-much-longer-name-than-pip-saw",
		ENV_SP, "/srv/it's \"$HOME\" `x`\\y z", p113, p114, p115, p200, p300s, ENV,
	};
	const struct dist *ds[] = { &FLASK_D, &FLASK311_D };
	for (size_t di = 0; di < 2; di++) {
		const struct dist *d = ds[di];
		const struct dist pip = { d->scripts, 2, di ? PIP_ENV311 : PIP_ENV, false };
		const char *at = di ? ENV311 : ENV;
		size_t rl, tl;
		struct vv_recent ent;
		char *rec = record(&pip, NULL, false, "\r\n", &rl);
		char *tpl = make1(d, rec, rl, at, 2, &tl, &ent);
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			size_t ol, tl2;
			char *out = render(tpl, tl, &ent, paths[i], &ol);
			assert_int_equal(check_lines(d, rec, rl, out, ol, paths[i]), 2);
			uint64_t sz = vv_rectpl_size(tl, &ent, paths[i]);
			assert_true(sz == UINT64_MAX || sz == ol);
			struct vv_recent ent2;
			char *tpl2 = make1(d, out, ol, paths[i], 2, &tl2, &ent2);
			assert_int_equal(tl2, tl);
			assert_memory_equal(tpl2, tpl, tl);
			assert_memory_equal(&ent2, &ent, sizeof(ent));
			free(tpl2);
			free(out);
		}
		free(tpl);
		free(rec);
	}
	free(p113);
	free(p114);
	free(p115);
	free(p200);
	free(p300s);
}

/* The point of templates: envs at different paths that installed the same dist, each
 * RECORD written with its own path, make one template (one object in the store). */
static void test_one_template(void **state)
{
	(void)state;
	char *longp = mkpath(180, false);
	const char *paths[] = { ENV, ENV_SP, "/home/alice/.venvs/a", "/opt/venvs/b b", longp };
	for (int crlf = 0; crlf < 2; crlf++) {
		char *first = NULL;
		size_t fl = 0;
		struct vv_recent fe = { 0 };
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			size_t rl, tl;
			struct vv_recent ent;
			char *rec = record(&FLASK_D, paths[i], false, crlf ? "\r\n" : "\n", &rl);
			char *tpl = make1(&FLASK_D, rec, rl, paths[i], 2, &tl, &ent);
			if (!first) {
				first = tpl;
				fl = tl;
				fe = ent;
			} else {
				assert_int_equal(tl, fl);
				assert_memory_equal(tpl, first, tl);
				assert_memory_equal(&ent, &fe, sizeof(ent));
				free(tpl);
			}
			free(rec);
		}
		free(first);
	}
	free(longp);
}

/* A stored script of exactly n bytes with suffix sfx (malloc'd). */
static char *mkscript(const char *sfx, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	int h = snprintf(s, n + 1, "#!python%s\n", sfx);
	assert_true(h > 0 && (size_t)h <= n);
	memset(s + h, '#', n - (size_t)h);
	s[n - 1] = '\n';
	s[n] = 0;
	return s;
}

/* The RECORD of d made and rendered under a path of len bytes (with a space: sp): 1 if
 * vv_rectpl_size gave its size, 0 if "unknown" because the scripts' shown sizes have
 * different numbers of digits; anything else fails. */
static int size_at(const struct dist *d, size_t len, bool sp)
{
	char *env = mkpath(len, sp);
	size_t rl, tl, ol;
	struct vv_recent ent;
	char *rec = record(d, env, false, "\n", &rl);
	char *tpl = make1(d, rec, rl, env, d->n, &tl, &ent);
	char *out = render(tpl, tl, &ent, env, &ol);
	assert_int_equal(ol, rl);
	assert_memory_equal(out, rec, rl);
	unsigned lo = 99, hi = 0;
	for (size_t i = 0; i < d->n; i++) {
		unsigned dg = digits(shown_len(env, d->scripts[i].stored));
		lo = dg < lo ? dg : lo;
		hi = dg > hi ? dg : hi;
	}
	uint64_t sz = vv_rectpl_size(tl, &ent, env);
	if (lo != hi && sz != UINT64_MAX)
		fail_msg("path of %zu%s: size %llu with shown sizes of %u and %u digits", len,
			 sp ? " with a space" : "", (unsigned long long)sz, lo, hi);
	if (lo == hi && sz != rl)
		fail_msg("path of %zu%s: size %llu, rendered %zu", len, sp ? " with a space" : "",
			 (unsigned long long)sz, rl);
	free(out);
	free(tpl);
	free(rec);
	free(env);
	return lo == hi;
}

/* The size from the tree entry: the rendered size exactly when every script shows
 * with the same number of digits in its size, else "unknown". Scripts of a few bytes
 * and of nearly 1000, under paths of 1..300 bytes (plain #! lines up to 114 bytes,
 * then the trampoline; and with a space, the trampoline at every length), so shown
 * sizes cross 100 and 1000 one script at a time. */
static void test_size(void **state)
{
	(void)state;
	static const struct {
		const char *sfx[3];
		size_t len[3];
		size_t n;
		bool straddles; /* some path length has sizes of two digit counts */
	} cfg[] = {
		{ { "", "3.11" }, { 9, 53 }, 2, true },
		{ { "3", "" }, { 880, 990 }, 2, true },
		{ { "", "3.11", "3" }, { 20, 40, 60 }, 3, true },
		{ { "" }, { 300 }, 1, false },
		{ { "", "3.11" }, { 70, 70 }, 2, false },
	};
	for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
		struct script sc[3];
		char *bodies[3], paths[3][32];
		for (size_t i = 0; i < cfg[c].n; i++) {
			bodies[i] = mkscript(cfg[c].sfx[i], cfg[c].len[i]);
			snprintf(paths[i], sizeof(paths[i]), "../../../bin/tool%zu", i);
			sc[i] = (struct script){ paths[i], paths[i], bodies[i] };
		}
		const char *rows[] = {
			SCRIPT(0),
			"pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0",
			cfg[c].n > 1 ? SCRIPT(1) : "pkg-1.0.dist-info/RECORD,,",
			cfg[c].n > 2 ? SCRIPT(2) : "pkg/x.py,,",
			NULL,
		};
		const struct dist d = { sc, cfg[c].n, rows, c % 2 == 1 };
		int straddled = 0, exact = 0;
		for (size_t len = 1; len <= 300; len++) {
			for (int sp = 0; sp < 2; sp++) {
				if (sp && len < 3)
					continue;
				if (size_at(&d, len, sp))
					exact++;
				else
					straddled++;
			}
		}
		assert_true(exact > 0);
		assert_int_equal(straddled > 0, cfg[c].straddles);
		for (size_t i = 0; i < cfg[c].n; i++)
			free(bodies[i]);
	}
}

/* A one-script RECORD whose script line is line (no other row names a script). */
static char *one_line(const char *line, size_t *len)
{
	struct buf b = { 0 };
	adds(&b, line);
	adds(&b, "\r\n");
	for (const char *const *r = REST_ROWS; *r; r++) {
		adds(&b, *r);
		adds(&b, "\r\n");
	}
	*len = b.n;
	return b.p;
}

static void expect_make(int want, const char *rec, size_t rl, const char *env,
			struct lookup *l, const char *what)
{
	char *tpl = (char *)"unset";
	size_t tl = 99;
	struct vv_recent ent;
	int r = vv_rectpl_make(rec, rl, env, lookup, l, &tpl, &tl, &ent);
	if (r != want)
		fail_msg("%s: make gave %d, want %d", what, r, want);
	assert_null(tpl);
	assert_int_equal(tl, 0);
	vv_err_clear();
}

/* The flask line of a RECORD at ENV with the field fld instead of pip's. */
static char *flask_line(const char *fld)
{
	static char line[512];
	snprintf(line, sizeof(line), "../../../bin/flask,%s", fld);
	return line;
}

/* Only a line naming a stored script with exactly that script's hash and size is left
 * out; a RECORD with no such line is stored as it is (0), callback errors propagate. */
static void test_make_declines(void **state)
{
	(void)state;
	size_t rl, sl;
	char *rec;
	struct lookup l = { .d = &FLASK_D };

	/* no line names a script: the callback is not even asked (no "../" path) */
	const struct dist rest = { FLASK, 2, REST_ROWS, false };
	rec = record(&rest, ENV, false, "\r\n", &rl);
	expect_make(0, rec, rl, ENV, &l, "no scripts");
	assert_int_equal(l.calls, 0);
	free(rec);
	expect_make(0, "", 0, ENV, &l, "empty");
	assert_int_equal(l.calls, 0);

	/* the callback names no script */
	rec = record(&FLASK_D, ENV, false, "\r\n", &rl);
	l = (struct lookup){ .d = &FLASK_D, .mode = NONE };
	expect_make(0, rec, rl, ENV, &l, "callback says none");
	assert_int_equal(l.calls, 2);
	/* callback errors, on the first or the second script */
	l = (struct lookup){ .d = &FLASK_D, .mode = FAIL };
	expect_make(-EIO, rec, rl, ENV, &l, "callback fails");
	l = (struct lookup){ .d = &FLASK_D, .fail_at = 2 };
	expect_make(-EIO, rec, rl, ENV, &l, "callback fails second");
	/* the callback hands over something that is not a stored script */
	l = (struct lookup){ .d = &FLASK_D, .other = "#!/usr/bin/env python\nprint(1)\n" };
	expect_make(0, rec, rl, ENV, &l, "not a stored script");
	free(rec);
	/* ... even when the RECORD has the hash of those very bytes */
	struct buf f = { 0 };
	add_field(&f, l.other, strlen(l.other));
	rec = one_line(flask_line(f.p), &rl);
	free(f.p);
	expect_make(0, rec, rl, ENV, &l, "not a stored script, its hash");
	free(rec);

	/* the script was edited after pip wrote the RECORD: hash and size, hash, size */
	l = (struct lookup){ .d = &FLASK_D };
	char *edited = show(ENV, FLASK[0].stored, &sl);
	f = (struct buf){ 0 };
	add(&f, edited, sl);
	adds(&f, "# edited\n");
	struct buf fld = { 0 };
	add_field(&fld, f.p, f.n);
	rec = one_line(flask_line(fld.p), &rl);
	expect_make(0, rec, rl, ENV, &l, "edited script");
	free(rec);
	free(fld.p);
	f.p[0] = 'X'; /* same size, other bytes */
	fld = (struct buf){ 0 };
	add_field(&fld, f.p, sl);
	rec = one_line(flask_line(fld.p), &rl);
	expect_make(0, rec, rl, ENV, &l, "other hash, same size");
	free(rec);
	free(fld.p);
	free(f.p);
	fld = (struct buf){ 0 };
	add_field(&fld, edited, sl);
	char good[128], *comma = strrchr(fld.p, ',');
	snprintf(good, sizeof(good), "%s", fld.p);
	snprintf(comma, 24, ",%zu", sl + 1); /* same hash, size off by one */
	rec = one_line(flask_line(fld.p), &rl);
	expect_make(0, rec, rl, ENV, &l, "same hash, other size");
	free(rec);
	snprintf(comma, 24, ",0%zu", sl); /* the size with a leading zero */
	rec = one_line(flask_line(fld.p), &rl);
	expect_make(0, rec, rl, ENV, &l, "size with a leading zero");
	free(rec);
	free(fld.p);
	/* the right field makes a template (the cases above differ only in it) */
	rec = one_line(flask_line(good), &rl);
	size_t tl;
	struct vv_recent ent;
	free(make1(&FLASK_D, rec, rl, ENV, 1, &tl, &ent));
	free(rec);

	/* other hashes, other spellings of sha256 */
	const char *b64 = good + strlen("sha256=");
	char line[512];
	const char *alt[] = { "sha384=", "md5=", "SHA256=", "sha256:", "sha512=" };
	for (size_t i = 0; i < sizeof(alt) / sizeof(alt[0]); i++) {
		snprintf(line, sizeof(line), "../../../bin/flask,%s%s", alt[i], b64);
		rec = one_line(line, &rl);
		expect_make(0, rec, rl, ENV, &l, alt[i]);
		free(rec);
	}
	snprintf(line, sizeof(line), "../../../bin/flask,sha256=%.43s=,%zu", b64, sl);
	rec = one_line(line, &rl);
	expect_make(0, rec, rl, ENV, &l, "padded base64");
	free(rec);
	snprintf(line, sizeof(line), "../../../bin/flask,sha256=%.42s,%zu", b64, sl);
	rec = one_line(line, &rl);
	expect_make(0, rec, rl, ENV, &l, "short hash");
	free(rec);
	snprintf(line, sizeof(line), "../../../bin/flask,sha256=+%.42s,%zu", b64 + 1, sl);
	rec = one_line(line, &rl);
	expect_make(0, rec, rl, ENV, &l, "base64 that is not base64url");
	free(rec);
	snprintf(line, sizeof(line), "../../../bin/flask,%s ", good);
	rec = one_line(line, &rl);
	expect_make(0, rec, rl, ENV, &l, "trailing space");
	free(rec);

	/* a path without "../", even one the callback would name a script for */
	static const struct script inside[] = {
		{ "bin/flask", "bin/flask", "#!python\n" BODY("main") },
		{ "/tmp/vvrec/env/bin/flask", "/tmp/vvrec/env/bin/flask",
		  "#!python\n" BODY("main") },
	};
	const struct dist in = { inside, 2, FLASK_ROWS, false };
	l = (struct lookup){ .d = &in };
	rec = record(&in, ENV, false, "\r\n", &rl);
	expect_make(0, rec, rl, ENV, &l, "paths without ../");
	free(rec);

	/* a RECORD bigger than VV_RECTPL_MAX is stored as it is: pip's, with one long row
	 * after its own to make it one byte too big */
	rec = record(&FLASK_D, ENV, false, "\r\n", &rl);
	char *big = malloc(VV_RECTPL_MAX + 1);
	assert_non_null(big);
	memcpy(big, rec, rl);
	memset(big + rl, 'x', VV_RECTPL_MAX + 1 - rl);
	memcpy(big + VV_RECTPL_MAX - 1, "\r\n", 2);
	l = (struct lookup){ .d = &FLASK_D };
	expect_make(0, big, VV_RECTPL_MAX + 1, ENV, &l, "too big");
	assert_int_equal(l.calls, 0);
	free(big);
	free(rec);
	free(edited);

	/* a script path CSV quotes (it has a comma): whatever make decides, a template it
	 * makes renders back exactly */
	static const struct script quoted[] = {
		{ "\"../../../bin/fl,ask\"", "../../../bin/fl,ask", "#!python\n" BODY("main") },
	};
	const char *qrows[] = { SCRIPT(0), REST, NULL };
	const struct dist qd = { quoted, 1, qrows, false };
	l = (struct lookup){ .d = &qd };
	rec = record(&qd, ENV, false, "\r\n", &rl);
	char *tpl = NULL;
	int r = vv_rectpl_make(rec, rl, ENV, lookup, &l, &tpl, &tl, &ent);
	assert_true(r == 0 || r == 1);
	if (r == 1) {
		size_t ol;
		char *out = render(tpl, tl, &ent, ENV, &ol);
		assert_int_equal(ol, rl);
		assert_memory_equal(out, rec, rl);
		free(out);
	}
	free(tpl);
	free(rec);
}

/* One script line edited after pip wrote it (its hash is not the script's) stays in the
 * text as it is; the other is left out, and rendered for each env. */
static void test_one_line_kept(void **state)
{
	(void)state;
	size_t sl, rl, tl, ol;
	char *o = show(ENV, FLASK[1].stored, &sl);
	o[sl - 2] = 'X';
	struct buf line = { 0 };
	adds(&line, "../../../bin/flask-admin,");
	add_field(&line, o, sl);
	free(o);
	const char *rows[] = { SCRIPT(0), line.p, REST, NULL };
	const struct dist d = { FLASK, 1, rows, false }; /* only flask is rendered */
	char *rec = record(&d, ENV, false, "\r\n", &rl);
	struct lookup l = { .d = &FLASK_D };
	struct vv_recent ent;
	char *tpl = NULL;
	assert_int_equal(vv_rectpl_make(rec, rl, ENV, lookup, &l, &tpl, &tl, &ent), 1);
	assert_int_equal(l.calls, 2);
	assert_int_equal(ent.k, 1);
	assert_int_equal(ent.sum, strlen(FLASK[0].stored));
	assert_int_equal(ent.smin, ent.sum);
	assert_int_equal(ent.smax, ent.sum);
	char *out = render(tpl, tl, &ent, ENV, &ol);
	assert_int_equal(ol, rl);
	assert_memory_equal(out, rec, rl);
	free(out);
	out = render(tpl, tl, &ent, "/e", &ol);
	assert_int_equal(check_lines(&d, rec, rl, out, ol, "/e"), 1);
	free(out);
	free(tpl);
	free(rec);
	free(line.p);
}

/* vv_rectpl_text: the RECORD without the left-out fields, the template's tail. */
static void test_text(void **state)
{
	(void)state;
	const char *at_end[] = { "pkg/__init__.py,,", SCRIPT(1), NULL };
	const struct dist ds[] = {
		FLASK_D,
		{ FLASK, 2, at_end, true }, /* the last line names a script, no line end */
	};
	for (size_t i = 0; i < 2; i++) {
		for (int crlf = 0; crlf < 2; crlf++) {
			const char *eol = crlf ? "\r\n" : "\n";
			size_t rl, bl, tl, xl;
			char *rec = record(&ds[i], ENV, false, eol, &rl);
			char *blank = record(&ds[i], ENV, true, eol, &bl);
			struct vv_recent ent;
			char *tpl = make1(&FLASK_D, rec, rl, ENV, i ? 1 : 2, &tl, &ent);
			const char *text = NULL;
			assert_int_equal(vv_rectpl_text(tpl, tl, &text, &xl), 0);
			assert_int_equal(xl, bl);
			assert_memory_equal(text, blank, bl);
			assert_ptr_equal(text + xl, tpl + tl);
			/* the last field at the very end of the text renders there */
			size_t ol;
			char *out = render(tpl, tl, &ent, "/elsewhere", &ol);
			assert_int_equal(check_lines(&ds[i], rec, rl, out, ol, "/elsewhere"),
					 i ? 1 : 2);
			free(out);
			free(tpl);
			free(blank);
			free(rec);
		}
	}
}

/* ---- the strict parser ------------------------------------------------------------ */

static uint32_t get32(const char *p)
{
	return (uint32_t)(uint8_t)p[0] | (uint32_t)(uint8_t)p[1] << 8 |
	       (uint32_t)(uint8_t)p[2] << 16 | (uint32_t)(uint8_t)p[3] << 24;
}

static void put32(char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (char)(v >> (8 * i));
}

/* A copy of the template to break (exact size). */
static char *dup_tpl(const char *tpl, size_t tl)
{
	char *c = malloc(tl ? tl : 1);
	assert_non_null(c);
	memcpy(c, tpl, tl);
	return c;
}

/* Rendering (with ent, and without when ent_only is false) and, when text too, reading
 * the text of t (freed) are refused as malformed. */
static void refused(const char *what, char *t, size_t tl, const struct vv_recent *ent,
		    bool ent_only, bool text)
{
	char *out = NULL;
	size_t ol;
	for (int with = 1; with >= (ent_only ? 1 : 0); with--) {
		vv_err_clear();
		int r = vv_rectpl_render(t, tl, with ? ent : NULL, ENV, &out, &ol);
		if (r != -EUCLEAN)
			fail_msg("%s (%s entry): render gave %d", what, with ? "with" : "without",
				 r);
		if (!strstr(vv_errmsg(), "bad RECORD template"))
			fail_msg("%s: message '%s'", what, vv_errmsg());
	}
	const char *x;
	size_t xl;
	vv_err_clear();
	int r = vv_rectpl_text(t, tl, &x, &xl);
	if (text ? r != -EUCLEAN : r != 0)
		fail_msg("%s: text gave %d", what, r);
	vv_err_clear();
	free(t);
}

/* Rendering t (freed) succeeds, with or without ent. */
static void renders(const char *what, char *t, size_t tl, const struct vv_recent *ent)
{
	char *out = NULL;
	size_t ol;
	int r = vv_rectpl_render(t, tl, ent, ENV, &out, &ol);
	if (r != 0)
		fail_msg("%s: render gave %d (%s)", what, r, vv_errmsg());
	free(out);
	free(t);
}

static void test_strict(void **state)
{
	(void)state;
	size_t rl, tl;
	struct vv_recent ent;
	char *rec = record(&FLASK_D, ENV, false, "\r\n", &rl);
	char *tpl = make1(&FLASK_D, rec, rl, ENV, 2, &tl, &ent);
	uint32_t n0 = get32(tpl + HEAD + 4), n1 = get32(tpl + HEAD + SUB + 4);
	uint32_t off0 = get32(tpl + HEAD), off1 = get32(tpl + HEAD + SUB);
	size_t text = HEAD + 2 * SUB + n0 + n1, textlen = tl - text;
	assert_true(off0 < off1 && off1 <= textlen);
	char *t;

	/* the magic */
	for (size_t i = 0; i < 7; i++) {
		t = dup_tpl(tpl, tl);
		t[i] ^= 0x20;
		refused("magic", t, tl, &ent, false, true);
	}
	t = dup_tpl(tpl, tl);
	t[5] = '2';
	refused("VVREC2", t, tl, &ent, false, true);

	/* K: 0, one more than written, more than the bytes hold, the largest */
	const uint32_t ks[] = { 0, 3, (uint32_t)((tl - HEAD) / SUB + 1), UINT32_MAX };
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		t = dup_tpl(tpl, tl);
		put32(t + 7, ks[i]);
		refused("K", t, tl, &ent, false, true);
	}
	/* K = 1: the table's second entry is taken for script bytes (not a script) */
	t = dup_tpl(tpl, tl);
	put32(t + 7, 1);
	refused("K = 1", t, tl, &ent, false, false);

	/* a script's length past the end */
	const uint32_t past[] = { (uint32_t)(tl - HEAD - 2 * SUB + 1), UINT32_MAX };
	for (size_t i = 0; i < 2; i++) {
		t = dup_tpl(tpl, tl);
		put32(t + HEAD + 4, past[i]);
		refused("script 0 past the end", t, tl, &ent, false, true);
		t = dup_tpl(tpl, tl);
		put32(t + HEAD + SUB + 4, (uint32_t)(past[i] - (i ? 0 : n0)));
		refused("script 1 past the end", t, tl, &ent, false, true);
	}
	/* a script boundary moved by one: the second no longer starts with #!python (and
	 * the entry's smallest and largest no longer match) */
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + 4, n0 - 1);
	put32(t + HEAD + SUB + 4, n1 + 1);
	refused("boundary moved", t, tl, &ent, false, false);
	/* all of the text taken for the last script: offsets past the text */
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + SUB + 4, (uint32_t)(n1 + textlen));
	refused("no text", t, tl, &ent, false, true);

	/* offsets: equal, decreasing, past the text, far past it */
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + SUB, off0);
	refused("equal offsets", t, tl, &ent, false, true);
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + SUB, off0 - 1);
	refused("decreasing offsets", t, tl, &ent, false, true);
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + SUB, (uint32_t)textlen + 1);
	refused("offset past the text", t, tl, &ent, false, true);
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + SUB, UINT32_MAX);
	refused("offset far past the text", t, tl, &ent, false, true);
	t = dup_tpl(tpl, tl);
	put32(t + HEAD, UINT32_MAX);
	refused("first offset past the text", t, tl, &ent, false, true);
	/* the edges that are fine: a field at the very end, or at the very start */
	t = dup_tpl(tpl, tl);
	put32(t + HEAD + SUB, (uint32_t)textlen);
	renders("offset at the end", t, tl, &ent);
	t = dup_tpl(tpl, tl);
	put32(t + HEAD, 0);
	renders("offset 0", t, tl, &ent);

	/* an entry that does not describe the template */
	for (int f = 0; f < 4; f++) {
		for (int dv = -1; dv <= 1; dv += 2) {
			struct vv_recent e = ent;
			uint32_t *v = f == 0 ? &e.k : f == 1 ? &e.sum : f == 2 ? &e.smin : &e.smax;
			*v += (uint32_t)dv;
			refused("entry", dup_tpl(tpl, tl), tl, &e, true, false);
		}
	}
	struct vv_recent zero = { 0 };
	refused("zero entry", dup_tpl(tpl, tl), tl, &zero, true, false);
	renders("no entry", dup_tpl(tpl, tl), tl, NULL);

	/* embedded scripts that are not stored scripts */
	static const struct {
		size_t at;
		const char *with;
	} bad[] = {
		{ 0, "X" },           /* not "#!" */
		{ 2, "pythoN" },      /* not "#!python" */
		{ 8, "X" },           /* "#!pythonX" */
		{ 8, " " },           /* "#!python " */
		{ 8, "3.11" },        /* no line end after the suffix: "#!python3.11-*-..." */
		{ 8, "0123456789012345" }, /* a suffix longer than 15 */
	};
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			t = dup_tpl(tpl, tl);
			memcpy(t + HEAD + 2 * SUB + (s ? n0 : 0) + bad[i].at, bad[i].with,
			       strlen(bad[i].with));
			refused("not a stored script", t, tl, &ent, false, false);
		}
	}
	/* a script of 8 bytes: "#!python" without its line end */
	char small[HEAD + SUB + 8 + 4];
	memcpy(small, "VVREC1\n\1\0\0\0", HEAD);
	put32(small + HEAD, 0);
	put32(small + HEAD + 4, 8);
	memcpy(small + HEAD + SUB, "#!python", 8);
	memcpy(small + HEAD + SUB + 8, "a,\r\n", 4);
	refused("script without a line end", dup_tpl(small, sizeof(small)), sizeof(small), NULL,
		false, false);
	small[HEAD + SUB + 7] = '\n'; /* "#!pytho\n": not #!python either */
	refused("#!pytho", dup_tpl(small, sizeof(small)), sizeof(small), NULL, false, false);

	/* every cut: refused until the cut falls in the text after the last field; from
	 * there on, the full rendering less the bytes cut */
	size_t fl;
	char *full = render(tpl, tl, &ent, ENV, &fl);
	for (size_t n = 0; n < tl; n++) {
		t = dup_tpl(tpl, n);
		char *out = NULL;
		size_t ol;
		for (int with = 0; with < 2; with++) {
			vv_err_clear();
			int r = vv_rectpl_render(t, n, with ? &ent : NULL, ENV, &out, &ol);
			if (n < text + off1) {
				if (r != -EUCLEAN)
					fail_msg("cut at %zu: render gave %d", n, r);
			} else {
				if (r != 0)
					fail_msg("cut at %zu: render gave %d (%s)", n, r,
						 vv_errmsg());
				assert_int_equal(ol, fl - (tl - n));
				assert_memory_equal(out, full, ol);
				free(out);
				out = NULL;
			}
		}
		const char *x;
		size_t xl;
		int r = vv_rectpl_text(t, n, &x, &xl);
		assert_int_equal(r, n < text + off1 ? -EUCLEAN : 0);
		vv_err_clear();
		free(t);
	}
	free(full);
	free(tpl);
	free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pip_records),
		cmocka_unit_test(test_other_paths),
		cmocka_unit_test(test_one_template),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_make_declines),
		cmocka_unit_test(test_one_line_kept),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
