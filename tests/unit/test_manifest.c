/* test_manifest.c - a published store's manifest (ops/manifest.h). The parser reads
 * what an HTTP server hands a client, so besides round trips (no, one and several
 * envs; names with spaces and UTF-8; every env file key, [pyvenv.cfg] lines included)
 * it is held to its strictness: the magic, each "env NAME LEN" header (name, length,
 * newline), name order, the env text, nothing after the last env, and no strict prefix
 * of a valid manifest that reads as more than the whole envs it holds. The formatter
 * refuses unsorted names. vv_manifest_apply on a temp store: creates, replaces, leaves
 * alone and removes envs, and counts what it changed. */
#include "testutil.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "env/history.h"
#include "env/txn.h"
#include "ops/manifest.h"
#include "store/store.h"
#include "util/error.h"
#include "util/strv.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof(*(a)))

static vv_oid oid_of(unsigned char c)
{
	vv_oid o;
	memset(o.b, c, sizeof(o.b));
	return o;
}

/* A config as publish sends it: an owner always (vv_env_load sets one). */
static struct vv_envcfg cfg_of(unsigned char root)
{
	struct vv_envcfg c;
	memset(&c, 0, sizeof(c));
	c.python = (char *)"/usr/bin/python3";
	c.root = oid_of(root);
	c.owned = true;
	c.uid = getuid();
	c.gid = getgid();
	return c;
}

/* The envs/NAME text of cfg_of(root) (malloc'd, *len). */
static char *env_text(unsigned char root, size_t *len)
{
	struct vv_envcfg c = cfg_of(root);
	char *t = NULL;
	assert_int_equal(vv_envcfg_format(&c, &t, len), 0);
	return t;
}

/* Parse exactly len bytes from a heap copy of that size, so a read past the end is
 * seen by valgrind and the sanitizers. */
static int parse_exact(const char *buf, size_t len, struct vv_manifest *m)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	int r = vv_manifest_parse(copy, len, m);
	free(copy);
	return r;
}

/* buf must be refused with -EINVAL, an empty result and a message holding want. */
static void expect_reject_len(const char *buf, size_t len, const char *want)
{
	struct vv_manifest m;
	vv_err_clear();
	int r = parse_exact(buf, len, &m);
	if (r != -EINVAL)
		fail_msg("parse of %zu bytes gave %d (%s), want -EINVAL; input:\n%.*s", len, r,
			 r < 0 ? vv_errmsg() : "accepted", (int)len, buf);
	assert_int_equal(m.n, 0);
	assert_null(m.envs);
	if (want && !strstr(vv_errmsg(), want))
		fail_msg("message '%s' does not hold '%s'", vv_errmsg(), want);
}

static void expect_reject(const char *buf, const char *want)
{
	expect_reject_len(buf, strlen(buf), want);
}

/* A manifest text built by hand: the magic, then printf-style pieces (malloc'd). */
static char *handmade(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *handmade(size_t *len, const char *fmt, ...)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	assert_non_null(f);
	fputs(VV_MANIFEST_MAGIC, f);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
	*len = n;
	return p;
}

static void assert_same_cfg(const struct vv_envcfg *a, const struct vv_envcfg *b)
{
	assert_string_equal(a->python, b->python);
	assert_true(vv_oid_eq(&a->root, &b->root));
	assert_int_equal(a->system_site, b->system_site);
	assert_int_equal(a->without_pip, b->without_pip);
	assert_int_equal(!a->prompt, !b->prompt);
	if (a->prompt)
		assert_string_equal(a->prompt, b->prompt);
	assert_int_equal(a->locked, b->locked);
	assert_int_equal(a->owned, b->owned);
	if (a->owned) {
		assert_int_equal(a->uid, b->uid);
		assert_int_equal(a->gid, b->gid);
	}
	assert_int_equal(a->has_mode, b->has_mode);
	if (a->has_mode)
		assert_int_equal(a->mode, b->mode);
	assert_int_equal(!a->pykeys, !b->pykeys);
	if (a->pykeys)
		assert_string_equal(a->pykeys, b->pykeys);
	assert_int_equal(a->no_command, b->no_command);
	assert_int_equal(a->state, b->state);
}

/* format -> parse -> the same envs, and formatting the parsed envs gives the same
 * bytes (the text is canonical, so a manifest's id is stable). */
static void round_trip(char *const *names, const struct vv_envcfg *cfgs, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	if (vv_manifest_format(NULL, 0, names, cfgs, n, &text, &len) < 0)
		fail_msg("vv_manifest_format: %s", vv_errmsg());
	assert_int_equal(len, strlen(text));
	assert_memory_equal(text, VV_MANIFEST_MAGIC, strlen(VV_MANIFEST_MAGIC));

	struct vv_manifest m;
	if (parse_exact(text, len, &m) < 0)
		fail_msg("vv_manifest_parse: %s\n%s", vv_errmsg(), text);
	assert_int_equal(m.n, n);
	char **pnames = calloc(n + 1, sizeof(*pnames));
	struct vv_envcfg *pcfgs = calloc(n + 1, sizeof(*pcfgs));
	assert_non_null(pnames);
	assert_non_null(pcfgs);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(m.envs[i].name, names[i]);
		assert_same_cfg(&m.envs[i].cfg, &cfgs[i]);
		pnames[i] = m.envs[i].name;
		pcfgs[i] = m.envs[i].cfg;
	}
	char *again = NULL;
	size_t alen = 0;
	assert_int_equal(vv_manifest_format(NULL, 0, pnames, pcfgs, n, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, text, len);
	free(again);
	free(pnames);
	free(pcfgs);
	vv_manifest_release(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.envs);
	free(text);
}

static void test_round_trip_empty(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 99;
	assert_int_equal(vv_manifest_format(NULL, 0, NULL, NULL, 0, &text, &len), 0);
	assert_string_equal(text, VV_MANIFEST_MAGIC);
	assert_int_equal(len, strlen(VV_MANIFEST_MAGIC));
	free(text);
	round_trip(NULL, NULL, 0);
	/* releasing an empty manifest twice is harmless */
	struct vv_manifest m;
	assert_int_equal(parse_exact(VV_MANIFEST_MAGIC, strlen(VV_MANIFEST_MAGIC), &m), 0);
	assert_int_equal(m.n, 0);
	vv_manifest_release(&m);
	vv_manifest_release(&m);
}

static void test_round_trip_one(void **state)
{
	(void)state;
	/* every key an env file has */
	struct vv_envcfg c = cfg_of(0xab);
	c.python = (char *)"/opt/py thon/bin/python3.12";
	c.system_site = true;
	c.without_pip = true;
	c.prompt = (char *)"my prompt; caf\xc3\xa9 [x]";
	c.locked = true;
	c.uid = 1234;
	c.gid = 5678;
	c.has_mode = true;
	c.mode = 02750;
	c.no_command = true;
	c.state = VV_ENV_MADE;
	c.pykeys = (char *)"virtualenv = 20.25.0\nbase-prefix = /usr\n"
			   "weird key = 50% off; a\tb\n";
	char *names[] = { (char *)"web" };
	round_trip(names, &c, 1);

	/* the least an env file says */
	struct vv_envcfg bare;
	memset(&bare, 0, sizeof(bare));
	bare.python = (char *)"/p";
	round_trip(names, &bare, 1);
}

static void test_round_trip_several(void **state)
{
	(void)state;
	char long_name[256];
	memset(long_name, 'n', 255);
	long_name[255] = '\0';
	/* strictly increasing in byte order: upper case before lower, UTF-8 after ASCII */
	char *names[] = {
		(char *)"My Env",               /* a space */
		(char *)"a  b ",                /* two spaces, a trailing one */
		(char *)"caf\xc3\xa9",          /* UTF-8 inside */
		(char *)"env 12",               /* looks like a header's tail */
		(char *)"n",
		long_name,                      /* the longest name */
		(char *)"x 0\tz",               /* a tab */
		(char *)"\xc3\xa9t\xc3\xa9",     /* UTF-8 sorts after ASCII (0xc3 > 'x') */
		(char *)"\xe2\x98\x83 snow",    /* and by its bytes */
	};
	struct vv_envcfg cfgs[ARRAY_LEN(names)];
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		cfgs[i] = cfg_of((unsigned char)(i + 1));
		if (i % 2)
			cfgs[i].pykeys = (char *)"virtualenv = 20.25.0\nversion_info = 3.12.1.final.0\n";
		if (i % 3 == 0)
			cfgs[i].prompt = (char *)"(\xc3\xa9t\xc3\xa9)";
	}
	round_trip(names, cfgs, ARRAY_LEN(names));
	round_trip(names, cfgs, 2);
	round_trip(names + 5, cfgs + 5, ARRAY_LEN(names) - 5);
}

static void test_rejects_magic(void **state)
{
	(void)state;
	const char *want = "not a venvfs manifest";
	expect_reject_len("", 0, want);
	expect_reject("venvfs-manifest 1", want);         /* no newline */
	expect_reject("venvfs-manifest", want);
	expect_reject("venvfs-manifest 2\n", want);
	expect_reject("venvfs-manifest 10\n", want);
	expect_reject("Venvfs-manifest 1\n", want);
	expect_reject("venvfs-manifest  1\n", want);
	expect_reject(" venvfs-manifest 1\n", want);
	expect_reject("venvfs-manifest 1\r\n", want);
	expect_reject("venvfs-tree 2\n", want);
	expect_reject("\xef\xbb\xbfvenvfs-manifest 1\n", want); /* a byte order mark */
	/* a NUL inside the magic */
	expect_reject_len("venvfs-manifest\0001\n", strlen(VV_MANIFEST_MAGIC), want);
}

static void test_rejects_header(void **state)
{
	(void)state;
	size_t tl, len;
	char *t = env_text(1, &tl);
	char *buf;
#define REJECT(want, ...)                                  \
	do {                                               \
		buf = handmade(&len, __VA_ARGS__);         \
		expect_reject_len(buf, len, want);         \
		free(buf);                                 \
	} while (0)

	/* the header line */
	REJECT("manifest line 2: no newline", "env a %zu", tl);
	REJECT("manifest line 2: no newline", "env");
	REJECT("manifest line 2", "\n");
	REJECT("manifest line 2", "env a\n%s", t);
	REJECT("manifest line 2", "env\n%s", t);
	REJECT("manifest line 2", "env \n%s", t);
	REJECT("manifest line 2", "env %zu\n%s", tl, t);           /* no name */
	REJECT("manifest line 2", "env  %zu\n%s", tl, t);          /* empty name */
	REJECT("manifest line 2", "envx a %zu\n%s", tl, t);
	REJECT("manifest line 2", "ENV a %zu\n%s", tl, t);
	REJECT("manifest line 2", " env a %zu\n%s", tl, t);
	REJECT("manifest line 2", "env\ta %zu\n%s", tl, t);
	REJECT("manifest line 2", "env a\t%zu\n%s", tl, t);
	REJECT("manifest line 2", "env a %zu\r\n%s", tl, t);
	REJECT("manifest line 2", "env a %zu \n%s", tl, t);        /* trailing blank */

	/* LEN: decimal, no sign, no leading zero, not over the bound, not past the end */
	REJECT("bad length", "env a 0%zu\n%s", tl, t);
	REJECT("bad length", "env a 00\n");
	REJECT("bad length", "env a +%zu\n%s", tl, t);
	REJECT("bad length", "env a -%zu\n%s", tl, t);
	REJECT("bad length", "env a %zux\n%s", tl, t);
	REJECT("bad length", "env a 0x%zx\n%s", tl, t);
	REJECT("bad length", "env a %zu.0\n%s", tl, t);
	REJECT("bad length", "env a 1e2\n%s", t);
	REJECT("bad length", "env a 999999999\n%s", t);          /* nine digits */
	REJECT("bad length", "env a 18446744073709551617\n%s", t); /* 2^64 + 1 */
	REJECT("runs past the end", "env a 99999999\n%s", t);
	REJECT("runs past the end", "env a %zu\n%s", tl + 1, t);
	REJECT("runs past the end", "env a %zu\n", tl);
	REJECT("runs past the end", "env a 1\n");
	/* too short: the env text is cut, or what is left is not a header */
	REJECT(NULL, "env a %zu\n%s", tl - 1, t);
	REJECT("manifest line 2", "env a 0\n");                    /* an empty env file */
	REJECT("manifest line 2", "env a 0\n%s", t);
#undef REJECT
	free(t);

	/* over the bound of an env file (1 MiB), though the bytes are there */
	size_t big = (1u << 20) + 1;
	char head[64];
	int hl = snprintf(head, sizeof(head), "%senv a %zu\n", VV_MANIFEST_MAGIC, big);
	char *b = malloc((size_t)hl + big);
	assert_non_null(b);
	memcpy(b, head, (size_t)hl);
	memset(b + hl, '\n', big);
	expect_reject_len(b, (size_t)hl + big, "manifest line 2");
	free(b);
}

static void test_rejects_order_and_names(void **state)
{
	(void)state;
	size_t tl, len;
	char *t = env_text(7, &tl);
	char *buf;
#define REJECT(want, ...)                                  \
	do {                                               \
		buf = handmade(&len, __VA_ARGS__);         \
		expect_reject_len(buf, len, want);         \
		free(buf);                                 \
	} while (0)
#define ACCEPT(nenv, ...)                                          \
	do {                                                       \
		struct vv_manifest m_;                             \
		buf = handmade(&len, __VA_ARGS__);                 \
		if (parse_exact(buf, len, &m_) < 0)                \
			fail_msg("refused: %s", vv_errmsg());      \
		assert_int_equal(m_.n, nenv);                      \
		vv_manifest_release(&m_);                          \
		free(buf);                                         \
	} while (0)

	/* the second header's line number counts the first env's lines */
	int second = 3;
	for (size_t i = 0; i < tl; i++)
		second += t[i] == '\n';
	char want[96];
	snprintf(want, sizeof(want), "manifest line %d: env 'a' is out of order", second);

	ACCEPT(2, "env a %zu\n%senv b %zu\n%s", tl, t, tl, t);
	REJECT(want, "env b %zu\n%senv a %zu\n%s", tl, t, tl, t);
	snprintf(want, sizeof(want), "manifest line %d: env 'a' is out of order or named twice",
		 second);
	REJECT(want, "env a %zu\n%senv a %zu\n%s", tl, t, tl, t);
	/* a third env out of order after two in order */
	REJECT("out of order", "env a %zu\n%senv c %zu\n%senv b %zu\n%s", tl, t, tl, t, tl, t);
	REJECT("out of order", "env a %zu\n%senv b %zu\n%senv b %zu\n%s", tl, t, tl, t, tl, t);
	/* byte order, not locale order: 'B' < 'a', ASCII < UTF-8, a prefix first */
	ACCEPT(2, "env B %zu\n%senv a %zu\n%s", tl, t, tl, t);
	REJECT("out of order", "env a %zu\n%senv B %zu\n%s", tl, t, tl, t);
	ACCEPT(2, "env z %zu\n%senv \xc3\xa9 %zu\n%s", tl, t, tl, t);
	REJECT("out of order", "env \xc3\xa9 %zu\n%senv z %zu\n%s", tl, t, tl, t);
	ACCEPT(2, "env ab %zu\n%senv ab  %zu\n%s", tl, t, tl, t);   /* "ab" < "ab " */
	REJECT("out of order", "env ab  %zu\n%senv ab %zu\n%s", tl, t, tl, t);

	/* names an env cannot have */
	REJECT("manifest line 2", "env . %zu\n%s", tl, t);
	REJECT("manifest line 2", "env .. %zu\n%s", tl, t);
	REJECT("manifest line 2", "env a/b %zu\n%s", tl, t);
	REJECT("manifest line 2", "env / %zu\n%s", tl, t);
	REJECT("manifest line 2", "env .venvfs-root %zu\n%s", tl, t);
	REJECT("manifest line 2", "env .venvfs %zu\n%s", tl, t);
	REJECT("manifest line 2", "env .venvfs-x %zu\n%s", tl, t);
	snprintf(want, sizeof(want), "manifest line %d", second);
	REJECT(want, "env a %zu\n%senv b/c %zu\n%s", tl, t, tl, t);
	ACCEPT(1, "env .a %zu\n%s", tl, t);
	ACCEPT(1, "env ... %zu\n%s", tl, t);
	/* 256 bytes is one too many */
	char nm[257];
	memset(nm, 'n', 256);
	nm[256] = '\0';
	REJECT("manifest line 2", "env %s %zu\n%s", nm, tl, t);
	nm[255] = '\0';
	ACCEPT(1, "env %s %zu\n%s", nm, tl, t);
	/* a NUL in the name */
	buf = handmade(&len, "env a_b %zu\n%s", tl, t);
	*strchr(buf + strlen(VV_MANIFEST_MAGIC), '_') = '\0';
	expect_reject_len(buf, len, "manifest line 2");
	free(buf);
#undef REJECT
#undef ACCEPT
	free(t);
}

static void test_rejects_env_text(void **state)
{
	(void)state;
	size_t tl, len;
	char *t = env_text(3, &tl);
	static const char *const bad[] = {
		"[env]\npython = /usr/bin/python3\n",                         /* no root */
		"[env]\nroot = " "0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef\n",                          /* no python */
		"[env]\npython = python3\nroot = 0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef\n",                          /* relative */
		"[env]\npython = /p\nroot = 0123\n",                           /* short root */
		"[env]\npython = /p\nroot = 0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef\nbogus = 1\n",               /* unknown key */
		"[env]\npython = /p\nroot = 0123456789abcdef0123456789abcdef"
		"0123456789abcdef0123456789abcdef\nowner = me\n",
		"[other]\npython = /p\n",
		"garbage\n",
		"\n",
	};
	char *buf, want[64];
	int second = 3;
	for (size_t i = 0; i < tl; i++)
		second += t[i] == '\n';
	snprintf(want, sizeof(want), "manifest line %d: envs/x", second);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		buf = handmade(&len, "env x %zu\n%s", strlen(bad[i]), bad[i]);
		expect_reject_len(buf, len, "manifest line 2: envs/x");
		free(buf);
		/* after a good env the bad one is named by its own line */
		buf = handmade(&len, "env a %zu\n%senv x %zu\n%s", tl, t, strlen(bad[i]), bad[i]);
		expect_reject_len(buf, len, want);
		free(buf);
	}
	/* the env text is read within its LEN: a root key after it does not count */
	const char *noroot = bad[0];
	buf = handmade(&len, "env x %zu\n%sroot = 0123456789abcdef0123456789abcdef"
		       "0123456789abcdef0123456789abcdef\n", strlen(noroot), noroot);
	expect_reject_len(buf, len, NULL);
	free(buf);

	/* nothing follows the last env */
	static const char *const tails[] = { "\n", "x", " ", "env", "env b", "env b 1",
					     "\0", "venvfs-manifest 1\n" };
	for (size_t i = 0; i < ARRAY_LEN(tails); i++) {
		size_t xl = tails[i][0] ? strlen(tails[i]) : 1;
		buf = handmade(&len, "env a %zu\n%s", tl, t);
		char *more = realloc(buf, len + xl);
		assert_non_null(more);
		memcpy(more + len, tails[i], xl);
		expect_reject_len(more, len + xl, NULL);
		free(more);
	}
	/* right after the magic too */
	expect_reject(VV_MANIFEST_MAGIC "\n", "manifest line 2");
	expect_reject(VV_MANIFEST_MAGIC "x", "manifest line 2");
	free(t);
}

/* Every strict prefix of a valid manifest: refused, or (cut exactly after an env) the
 * envs before the cut and no more. Each prefix is parsed from a buffer of its size. */
static void test_prefixes(void **state)
{
	(void)state;
	char *names[] = { (char *)"alpha", (char *)"b e t a", (char *)"gamma \xc3\xa9" };
	struct vv_envcfg cfgs[3] = { cfg_of(1), cfg_of(2), cfg_of(3) };
	cfgs[1].pykeys = (char *)"virtualenv = 20.25.0\n";
	cfgs[2].prompt = (char *)"p";
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(vv_manifest_format(NULL, 0, names, cfgs, 3, &text, &len), 0);
	/* where a cut leaves whole envs: after the magic and after each env */
	size_t ends[4], nends = 0;
	ends[nends++] = strlen(VV_MANIFEST_MAGIC);
	for (size_t i = 0; i < 2; i++) {
		char *t;
		size_t tl;
		assert_int_equal(vv_envcfg_format(&cfgs[i], &t, &tl), 0);
		char head[300];
		int hl = snprintf(head, sizeof(head), "env %s %zu\n", names[i], tl);
		ends[nends] = ends[nends - 1] + (size_t)hl + tl;
		nends++;
		free(t);
	}
	size_t accepted = 0;
	for (size_t cut = 0; cut < len; cut++) {
		struct vv_manifest m;
		vv_err_clear();
		int r = parse_exact(text, cut, &m);
		size_t whole = SIZE_MAX;
		for (size_t k = 0; k < nends; k++)
			if (ends[k] == cut)
				whole = k;
		if (whole == SIZE_MAX) {
			if (r != -EINVAL)
				fail_msg("prefix of %zu bytes: %d, want -EINVAL", cut, r);
			assert_int_equal(m.n, 0);
			assert_null(m.envs);
			continue;
		}
		if (r != 0)
			fail_msg("prefix of %zu bytes (%zu envs): %s", cut, whole, vv_errmsg());
		assert_int_equal(m.n, whole);
		for (size_t i = 0; i < m.n; i++) {
			assert_string_equal(m.envs[i].name, names[i]);
			assert_true(vv_oid_eq(&m.envs[i].cfg.root, &cfgs[i].root));
		}
		vv_manifest_release(&m);
		accepted++;
	}
	assert_int_equal(accepted, nends);
	free(text);
}

static void test_format_refuses(void **state)
{
	(void)state;
	struct vv_envcfg cfgs[3] = { cfg_of(1), cfg_of(2), cfg_of(3) };
	char *out = NULL;
	size_t len = 0;
	char *unsorted[] = { (char *)"a", (char *)"c", (char *)"b" };
	vv_err_clear();
	assert_int_equal(vv_manifest_format(NULL, 0, unsorted, cfgs, 3, &out, &len), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "env 'b' out of order"));
	assert_null(out);
	char *twice[] = { (char *)"a", (char *)"a" };
	assert_int_equal(vv_manifest_format(NULL, 0, twice, cfgs, 2, &out, &len), -EINVAL);
	assert_null(out);
	char *reversed[] = { (char *)"b", (char *)"a" };
	assert_int_equal(vv_manifest_format(NULL, 0, reversed, cfgs, 2, &out, &len), -EINVAL);
	assert_null(out);
	/* byte order: "a" after "B", UTF-8 after ASCII */
	char *bytes[] = { (char *)"\xc3\xa9", (char *)"z" };
	assert_int_equal(vv_manifest_format(NULL, 0, bytes, cfgs, 2, &out, &len), -EINVAL);
	assert_null(out);
	char *upper[] = { (char *)"B", (char *)"a" };
	assert_int_equal(vv_manifest_format(NULL, 0, upper, cfgs, 2, &out, &len), 0);
	free(out);
	out = NULL;

	/* an env file that cannot be written is refused as vv_envcfg_format refuses it */
	struct vv_envcfg rel = cfg_of(4);
	rel.python = (char *)"python3";
	char *one[] = { (char *)"a" };
	assert_true(vv_manifest_format(NULL, 0, one, &rel, 1, &out, &len) < 0);
	assert_null(out);
	/* a name too long for a header */
	char nm[400];
	memset(nm, 'n', sizeof(nm) - 1);
	nm[sizeof(nm) - 1] = '\0';
	char *lng[] = { nm };
	assert_true(vv_manifest_format(NULL, 0, lng, cfgs, 1, &out, &len) < 0);
	assert_null(out);
}

/* ---- vv_manifest_apply ---- */

static struct vv_manifest manifest_of(char *const *names, const struct vv_envcfg *cfgs,
				      size_t n)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(vv_manifest_format(NULL, 0, names, cfgs, n, &text, &len), 0);
	struct vv_manifest m;
	assert_int_equal(vv_manifest_parse(text, len, &m), 0);
	free(text);
	return m;
}

static char *env_names(struct vv_store *st)
{
	char **v = NULL;
	size_t n = 0;
	assert_int_equal(vv_env_list(st, &v, &n), 0);
	char *s = NULL;
	size_t sl = 0;
	FILE *f = open_memstream(&s, &sl);
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", v[i]);
	assert_int_equal(fclose(f), 0);
	vv_strv_free(v, n);
	return s;
}

static void assert_envs(struct vv_store *st, const char *want)
{
	char *have = env_names(st);
	assert_string_equal(have, want);
	free(have);
}

static ino_t env_ino(struct vv_store *st, const char *name)
{
	struct stat sb;
	assert_int_equal(fstatat(st->envfd, name, &sb, AT_SYMLINK_NOFOLLOW), 0);
	return sb.st_ino;
}

static void apply(struct vv_store *st, const struct vv_manifest *m, size_t want_changed)
{
	size_t changed = 12345;
	if (vv_manifest_apply(st, m, &changed) < 0)
		fail_msg("vv_manifest_apply: %s", vv_errmsg());
	assert_int_equal(changed, want_changed);
}

static void test_apply(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();

	/* an empty cache gets every env, exactly as the manifest says */
	char *n1[] = { (char *)"a", (char *)"b env", (char *)"c" };
	struct vv_envcfg c1[3] = { cfg_of(1), cfg_of(2), cfg_of(3) };
	c1[0].prompt = (char *)"alpha";
	c1[1].pykeys = (char *)"virtualenv = 20.25.0\n";
	c1[2].locked = true;
	struct vv_manifest m1 = manifest_of(n1, c1, 3);
	apply(st, &m1, 3);
	assert_envs(st, "a,b env,c");
	for (size_t i = 0; i < 3; i++) {
		struct vv_envcfg have;
		assert_int_equal(vv_env_load(st, n1[i], &have), 0);
		assert_same_cfg(&have, &c1[i]);
		vv_envcfg_release(&have);
	}

	/* the same manifest again changes nothing: no env file is rewritten */
	ino_t ia = env_ino(st, "a"), ib = env_ino(st, "b env"), ic = env_ino(st, "c");
	apply(st, &m1, 0);
	assert_int_equal(env_ino(st, "a"), ia);
	assert_int_equal(env_ino(st, "b env"), ib);
	assert_int_equal(env_ino(st, "c"), ic);

	/* a keeps its root, "b env" moves to a new one, the locked c is replaced with
	 * another config, d is new; an env the cache has that the manifest never named
	 * goes too, and the store's own root env stays */
	vt_mkenv(st, "stray", oid_of(9));
	vt_mkenv(st, VV_ROOT_ENV, oid_of(10));
	char *n2[] = { (char *)"a", (char *)"b env", (char *)"c", (char *)"d" };
	struct vv_envcfg c2[4] = { cfg_of(1), cfg_of(4), cfg_of(3), cfg_of(5) };
	c2[0].prompt = (char *)"alpha";
	c2[1].pykeys = (char *)"virtualenv = 20.25.0\n";
	c2[2].locked = true;
	c2[2].prompt = (char *)"now with a prompt";
	struct vv_manifest m2 = manifest_of(n2, c2, 4);
	apply(st, &m2, 4); /* b, c, d, stray */
	assert_envs(st, "a,b env,c,d");
	assert_int_equal(env_ino(st, "a"), ia);
	for (size_t i = 0; i < 4; i++) {
		struct vv_envcfg have;
		assert_int_equal(vv_env_load(st, n2[i], &have), 0);
		assert_same_cfg(&have, &c2[i]);
		vv_envcfg_release(&have);
	}
	struct vv_envcfg gone;
	assert_int_equal(vv_env_load(st, "stray", &gone), -ENOENT);
	assert_int_equal(vv_env_load(st, VV_ROOT_ENV, &gone), 0);
	vv_envcfg_release(&gone);
	/* the replaced env's history records the move, as every env change does */
	struct vv_history h;
	assert_int_equal(vv_history_load(st, "b env", &h), 0);
	assert_int_equal(h.n, 1);
	vv_oid r2 = oid_of(2), r4 = oid_of(4);
	assert_true(vv_oid_eq(&h.ents[0].old_root, &r2));
	assert_true(vv_oid_eq(&h.ents[0].new_root, &r4));
	vv_history_release(&h);

	/* fewer envs: the ones dropped are removed, history included */
	char *n3[] = { (char *)"c" };
	struct vv_manifest m3 = manifest_of(n3, &c2[2], 1);
	apply(st, &m3, 3);
	assert_envs(st, "c");
	assert_int_equal(vv_history_load(st, "b env", &h), 0);
	assert_int_equal(h.n, 0);
	vv_history_release(&h);
	/* NULL for the count is fine; an empty manifest empties the cache */
	struct vv_manifest none;
	memset(&none, 0, sizeof(none));
	assert_int_equal(vv_manifest_apply(st, &none, NULL), 0);
	assert_envs(st, "");
	assert_int_equal(vv_env_load(st, VV_ROOT_ENV, &gone), 0);
	vv_envcfg_release(&gone);
	apply(st, &none, 0);

	vv_manifest_release(&m1);
	vv_manifest_release(&m2);
	vv_manifest_release(&m3);
	vt_store_free(st);
}

/* A cache env with changes a mount never committed is replaced all the same: the
 * manifest is what the cache serves. */
static void test_apply_discards_journal(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char *n[] = { (char *)"web" };
	struct vv_envcfg c = cfg_of(1);
	struct vv_manifest m = manifest_of(n, &c, 1);
	apply(st, &m, 1);
	char hex[VV_OID_HEX + 1], jb[160];
	vv_oid_hex(&c.root, hex);
	int jl = snprintf(jb, sizeof(jb), "venvfs-journal 1 %s\nrecord\n", hex);
	int fd = openat(st->journalfd, "web", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, jb, (size_t)jl), jl);
	close(fd);
	vv_manifest_release(&m);

	struct vv_envcfg c2 = cfg_of(2);
	m = manifest_of(n, &c2, 1);
	apply(st, &m, 1);
	vv_oid want = oid_of(2);
	vv_oid have = vt_env_root(st, "web");
	assert_true(vv_oid_eq(&have, &want));
	struct stat sb;
	assert_int_equal(fstatat(st->journalfd, "web", &sb, 0), -1);
	vv_manifest_release(&m);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_round_trip_one),
		cmocka_unit_test(test_round_trip_several),
		cmocka_unit_test(test_rejects_magic),
		cmocka_unit_test(test_rejects_header),
		cmocka_unit_test(test_rejects_order_and_names),
		cmocka_unit_test(test_rejects_env_text),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_apply_discards_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
