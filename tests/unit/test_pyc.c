/* test_pyc.c - the shared stored form of .pyc files (pyc.c), against the bytes real
 * CPythons write. Every interpreter found (python3.7 ... python3.13 on PATH, pyenv's
 * versions) compiles one source, with one mtime, under several env paths: short, over
 * 255 bytes (marshal's long string form), non-ASCII, and with a byte that is not UTF-8.
 * Their templates must be one object, and rendering any of them under another env's
 * path must give exactly the bytes that interpreter wrote there: timestamp pycs and
 * both hash-based modes. Truncated, cut or corrupt input is refused, never rendered. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "python/pyc.h"

static const char SRC[] =
	"\"\"\"module doc\"\"\"\n"
	"import os\n"
	"X = 'caf\\u00e9'\n"
	"def f(a, /, b, *, c=1):\n"
	"    def g():\n"
	"        return [i for i in range(a)] + [lambda: b]\n"
	"    return g\n"
	"class C:\n"
	"    def m(self):\n"
	"        try:\n"
	"            return {1: 2, 'k': (1.5, 2j, 10**30, -7, frozenset({1}))}\n"
	"        except Exception:\n"
	"            return None\n";

static const char SRC37[] = /* no positional-only parameters before 3.8 */
	"def f(a, b, *, c=1):\n"
	"    return [lambda: a + b + c, 10**30, 2j, frozenset({1})]\n"
	"class C:\n"
	"    x = 'caf\\u00e9'\n";

#define NENV 4

struct case_ {
	char *root;            /* temp dir */
	char *env[NENV];       /* env paths */
	char *pyc[NENV];       /* the pyc each env's compile wrote */
	size_t len[NENV];
};

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Compile mod.py under each env path with python; mode: "timestamp", "checked",
 * "unchecked". Returns 0 if the interpreter cannot do this mode. */
static int compile_all(const char *python, bool v37, const char *mode, struct case_ *c)
{
	c->root = vt_tempdir();
	char longname[300]; /* three 90-byte components: a path over 255 bytes */
	memset(longname, 'L', 272);
	longname[90] = longname[181] = '/';
	longname[272] = 0;
	const char *names[NENV] = { "a", longname, "\xc3\xabnv", "bad\xff" };
	char cmd[8192];
	int n = snprintf(cmd, sizeof(cmd),
			 "'%s' -c 'import py_compile as p, sys\n"
			 "m = sys.argv[1]\n"
			 "kw = {} if m == \"timestamp\" else {\"invalidation_mode\": "
			 "p.PycInvalidationMode.CHECKED_HASH if m == \"checked\" else "
			 "p.PycInvalidationMode.UNCHECKED_HASH}\n"
			 "for f in sys.argv[2:]: p.compile(f, doraise=True, **kw)' %s",
			 python, mode);
	for (int i = 0; i < NENV; i++) {
		if (asprintf(&c->env[i], "%s/%s", c->root, names[i]) < 0)
			fail();
		char *src;
		if (asprintf(&src, "%s/lib/pkg/mod.py", c->env[i]) < 0)
			fail();
		vt_write_file(src, v37 ? SRC37 : SRC, strlen(v37 ? SRC37 : SRC));
		struct timespec ts[2] = { { 1700000000, 0 }, { 1700000000, 0 } };
		assert_int_equal(utimensat(AT_FDCWD, src, ts, 0), 0);
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " '%s'", src);
		free(src);
	}
	if (system(cmd) != 0)
		return 0;
	for (int i = 0; i < NENV; i++) {
		char *pat;
		glob_t g;
		if (asprintf(&pat, "%s/lib/pkg/__pycache__/mod.*.pyc", c->env[i]) < 0)
			fail();
		assert_int_equal(glob(pat, 0, NULL, &g), 0);
		assert_int_equal(g.gl_pathc, 1);
		c->pyc[i] = read_all(g.gl_pathv[0], &c->len[i]);
		globfree(&g);
		free(pat);
	}
	return 1;
}

static void case_free(struct case_ *c)
{
	for (int i = 0; i < NENV; i++) {
		free(c->env[i]);
		free(c->pyc[i]);
	}
	vt_rmtree(c->root);
}

static void check_case(struct case_ *c, const char *python, const char *mode)
{
	char *t[NENV];
	size_t tl[NENV];
	struct vv_pycent e[NENV];
	for (int i = 0; i < NENV; i++) {
		assert_int_equal(vv_pyc_check(c->pyc[i], c->len[i]), 0);
		int r = vv_pyc_neutral(c->pyc[i], c->len[i], c->env[i], &t[i], &tl[i], &e[i]);
		if (r != 1)
			print_error("%s %s: env %d not neutralized\n", python, mode, i);
		assert_int_equal(r, 1);
		assert_true(e[i].nsub >= 1);
		assert_int_equal(e[i].sufl, strlen("/lib/pkg/mod.py"));
	}
	for (int i = 0; i < NENV; i++) {
		/* one object for every env, and one header word (same source, same mtime) */
		assert_int_equal(tl[i], tl[0]);
		assert_memory_equal(t[i], t[0], tl[0]);
		assert_int_equal(e[i].hdr, e[0].hdr);
		for (int j = 0; j < NENV; j++) {
			char *out;
			size_t ol;
			assert_int_equal(vv_pyc_size(tl[i], &e[i], c->env[j]), c->len[j]);
			assert_int_equal(vv_pyc_render(t[i], tl[i], &e[i], c->env[j], &out, &ol), 0);
			assert_int_equal(ol, c->len[j]);
			assert_memory_equal(out, c->pyc[j], ol);
			free(out);
		}
	}
	/* not under the env path: only the header word is taken out */
	char *t2;
	size_t tl2;
	struct vv_pycent e2;
	assert_int_equal(vv_pyc_neutral(c->pyc[0], c->len[0], "/elsewhere", &t2, &tl2, &e2), 1);
	assert_int_equal(e2.nsub, 0);
	char *out;
	size_t ol;
	assert_int_equal(vv_pyc_render(t2, tl2, &e2, "/anywhere", &out, &ol), 0);
	assert_int_equal(ol, c->len[0]);
	assert_memory_equal(out, c->pyc[0], ol);
	free(out);
	free(t2);
	/* every cut of a pyc is refused by the walk and never neutralized */
	for (size_t k = 0; k < c->len[0]; k += (k < 64 ? 1 : 7)) {
		assert_int_not_equal(vv_pyc_check(c->pyc[0], k), 0);
		assert_int_equal(vv_pyc_neutral(c->pyc[0], k, c->env[0], &t2, &tl2, &e2), 0);
	}
	/* a template that disagrees with its entry, or is cut, renders nothing */
	struct vv_pycent bad = e[0];
	bad.nsub++;
	assert_int_equal(vv_pyc_render(t[0], tl[0], &bad, c->env[0], &out, &ol), -EUCLEAN);
	bad = e[0];
	bad.sufl = 60000;
	assert_int_equal(vv_pyc_render(t[0], tl[0], &bad, c->env[0], &out, &ol), -EUCLEAN);
	assert_int_equal(vv_pyc_render(t[0], 20, &e[0], c->env[0], &out, &ol), -EUCLEAN);
	t[0][0] ^= 1;
	assert_int_equal(vv_pyc_render(t[0], tl[0], &e[0], c->env[0], &out, &ol), -EUCLEAN);
	for (int i = 0; i < NENV; i++)
		free(t[i]);
}

static void test_real_pythons(void **state)
{
	(void)state;
	const char *names[] = { "python3.7", "python3.8", "python3.9", "python3.10",
				"python3.11", "python3.12", "python3.13" };
	char *found[64];
	size_t nf = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		char *p = vt_find_in_path(names[i]);
		char *rp = p ? realpath(p, NULL) : NULL;
		if (rp && vt_is_elf(rp)) /* not a pyenv shim */
			found[nf++] = rp;
		else
			free(rp);
		free(p);
	}
	const char *home = getenv("HOME");
	char pat[4096];
	snprintf(pat, sizeof(pat), "%s/.pyenv/versions/3.*/bin/python3", home ? home : "/root");
	glob_t g;
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc && nf < 64; i++)
			found[nf++] = strdup(g.gl_pathv[i]);
		globfree(&g);
	}
	assert_true(nf > 0);
	size_t ran = 0;
	for (size_t i = 0; i < nf; i++) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd),
			 "'%s' -c 'import sys; sys.exit(0 if (3, 7) <= sys.version_info[:2] <= (3, 13) else 1)'",
			 found[i]);
		if (system(cmd) != 0) {
			free(found[i]);
			continue;
		}
		snprintf(cmd, sizeof(cmd), "'%s' -c 'import sys; sys.exit(sys.version_info[:2] == (3, 7))'",
			 found[i]);
		bool v37 = system(cmd) != 0;
		const char *modes[] = { "timestamp", "checked", "unchecked" };
		for (int m = 0; m < 3; m++) {
			struct case_ c = { 0 };
			assert_int_equal(compile_all(found[i], v37, modes[m], &c), 1);
			check_case(&c, found[i], modes[m]);
			case_free(&c);
			ran++;
		}
		free(found[i]);
	}
	print_message("%zu interpreter x mode cases\n", ran);
	assert_true(ran > 0);
}

static void test_not_pyc(void **state)
{
	(void)state;
	char *t;
	size_t tl;
	struct vv_pycent e;
	const char txt[] = "print('hello')\n";
	assert_int_equal(vv_pyc_neutral(txt, sizeof(txt) - 1, "/e", &t, &tl, &e), 0);
	assert_false(vv_pyc_magic_ok(txt, sizeof(txt) - 1));
	/* a known magic with an unknown flags word, and one with trailing bytes */
	char b[64] = { (char)0x6f, 0x0d, '\r', '\n', 4, 0, 0, 0 };
	b[16] = 'N';
	assert_true(vv_pyc_magic_ok(b, 17));
	assert_int_not_equal(vv_pyc_check(b, 17), 0);
	b[4] = 0;
	assert_int_equal(vv_pyc_check(b, 17), 0);
	assert_int_not_equal(vv_pyc_check(b, 18), 0);
	/* a reference to an object not seen yet, and nesting past the depth limit */
	memcpy(b + 16, "r\0\0\0\0", 5);
	assert_int_not_equal(vv_pyc_check(b, 21), 0);
	size_t deep = 16 + 5 * 3000 + 1;
	char *d = malloc(deep);
	memcpy(d, b, 16);
	for (size_t i = 0; i < 3000; i++)
		memcpy(d + 16 + 5 * i, "(\1\0\0\0", 5);
	d[deep - 1] = 'N';
	assert_int_not_equal(vv_pyc_check(d, deep), 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_pythons),
		cmocka_unit_test(test_not_pyc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
