/*
 * test_wheel.c - wheel installation: layout, generated scripts, rewritten RECORD,
 * determinism, and refusal of every class of hostile wheel with a message that names
 * the wheel and the member. Wheels are built on the fly with libzip (testutil.h).
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/error.h"
#include "util/hash.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/wheel.h"

#define SP "lib/python3.11/site-packages/"

struct ctx {
	struct vv_store *st;
	char *dir;
	struct vv_python py;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	c->st = vt_store_new();
	c->dir = vt_tempdir();
	c->py.major = 3;
	c->py.minor = 11;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	vt_store_free(c->st);
	vt_rmtree(c->dir);
	free(c);
	return 0;
}

/* Install a wheel into a fresh builder; returns the result, *root on success. */
static int install(struct ctx *c, const char *path, vv_oid *root, struct vv_wheel_info *info)
{
	struct vv_tb *tb = vv_tb_new(0);
	assert_non_null(tb);
	struct vv_wheel_info tmp = {0};
	int r = vv_wheel_install(c->st, path, &c->py, "pip", tb, info ? info : &tmp);
	if (r == 0) {
		vv_oid o;
		assert_int_equal(vv_tb_write(tb, c->st, &o), 0);
		if (root)
			*root = o;
	}
	vv_wheel_info_release(&tmp);
	vv_tb_free(tb);
	return r;
}


/* Content of the file at path (must exist), malloc'd and NUL-terminated. */
static char *content(struct ctx *c, const vv_oid *root, const char *path, size_t *len)
{
	struct vv_tree_ent e;
	if (!vt_lookup(c->st, root, path, &e))
		fail_msg("'%s' missing", path);
	assert_true(e.kind == VV_REG || e.kind == VV_SCRIPT);
	char *buf;
	size_t l;
	assert_int_equal(vv_odb_read_obj(&c->st->odb, &e.oid, 1 << 28, &buf, &l), 0);
	assert_int_equal(l, e.size);
	char *z = malloc(l + 1);
	memcpy(z, buf, l);
	z[l] = 0;
	free(buf);
	if (len)
		*len = l;
	return z;
}

/* Count files (non-dirs) under a tree. */
static size_t count_files(struct ctx *c, const vv_oid *tree)
{
	struct vv_tree *t;
	assert_int_equal(vv_tree_get(c->st, tree, &t), 0);
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += t->ents[i].kind == VV_DIR ? count_files(c, &t->ents[i].oid) : 1;
	vv_tree_unref(t);
	return n;
}

/* RECORD lists every installed file exactly, with right hashes and sizes, sorted. */
static void verify_record(struct ctx *c, const vv_oid *root, const char *distinfo)
{
	char rp[256];
	snprintf(rp, sizeof(rp), SP "%s/RECORD", distinfo);
	size_t len;
	char *rec = content(c, root, rp, &len);
	assert_null(strchr(rec, '\r'));
	assert_int_equal(rec[len - 1], '\n');
	struct vv_record_row *rows;
	size_t n;
	assert_int_equal(vv_record_parse(rec, len, &rows, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			assert_true(strcmp(rows[i - 1].path, rows[i].path) < 0);
		char full[1024];
		if (!strncmp(rows[i].path, "../../../", 9))
			snprintf(full, sizeof(full), "%s", rows[i].path + 9);
		else
			snprintf(full, sizeof(full), SP "%s", rows[i].path);
		if (!strcmp(full, rp)) {
			assert_string_equal(rows[i].hash, "");
			assert_string_equal(rows[i].size, "");
			continue;
		}
		size_t fl;
		char *data = content(c, root, full, &fl);
		vv_oid oid;
		char b64[44], want[64];
		vv_hash_buf(data, fl, &oid);
		vv_oid_b64(&oid, b64);
		snprintf(want, sizeof(want), "sha256=%s", b64);
		assert_string_equal(rows[i].hash, want);
		assert_int_equal(strtoull(rows[i].size, NULL, 10), fl);
		free(data);
	}
	/* Every file in the tree is listed. */
	assert_int_equal(count_files(c, root), n);
	vv_record_free(rows, n);
	free(rec);
}

static const char ep_text[] =
	"[console_scripts]\n"
	"demo = demo.cli:main.run [extra]\n"
	"  demo-indented=demo.cli:other\n"
	"[gui_scripts]\n"
	"demo-gui=demo.gui:start\n"
	"[demo.plugins]\n"
	"x = y:z\n";

static const char demo_script[] =
	"#!python\n"
	"# -*- coding: utf-8 -*-\n"
	"import re\n"
	"import sys\n"
	"from demo.cli import main\n"
	"if __name__ == '__main__':\n"
	"    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
	"    sys.exit(main.run())\n";

static const struct vt_member demo_members[] = {
	{"demo/__init__.py", "print('hi')\n", 0, 0},
	{"demo/", NULL, 0, S_IFDIR | 0755},
	{"demo/run.sh", "#!/bin/sh\n", 0, S_IFREG | 0755},
	{"demo/we,ird \"name\".txt", "x", 0, 0},
	{"demo-1.0.data/scripts/demo-script", "#!python3 -u\r\nprint(1)\n", 0, S_IFREG | 0755},
	{"demo-1.0.data/scripts/plain.sh", "#!/bin/sh\necho\n", 0, S_IFREG | 0755},
	{"demo-1.0.data/scripts/short", "#!py", 0, 0},
	{"demo-1.0.data/purelib/demo_extra.py", "E = 1\n", 0, 0},
	{"demo-1.0.data/platlib/demo_plat.py", "P = 1\n", 0, 0},
	{"demo-1.0.data/headers/demo.h", "int x;\n", 0, 0},
	{"demo-1.0.data/data/share/demo/readme.txt", "read me\n", 0, 0},
	{"demo-1.0.dist-info/entry_points.txt", ep_text, 0, 0},
};
#define NDEMO (sizeof(demo_members) / sizeof(demo_members[0]))

static void test_layout(void **state)
{
	struct ctx *c = *state;
	char *w = vt_wheel_build(c->dir, "demo-1.0-py3-none-any.whl", demo_members, NDEMO, NULL);
	vv_oid root;
	struct vv_wheel_info info = {0};
	if (install(c, w, &root, &info) < 0)
		fail_msg("install: %s", vv_errmsg());
	assert_string_equal(info.name, "demo");
	assert_string_equal(info.version, "1.0");
	vv_wheel_info_release(&info);

	struct vv_tree_ent e;
	char *s;
	assert_true(vt_lookup(c->st, &root, SP "demo/__init__.py", &e));
	assert_int_equal(e.kind, VV_REG);
	assert_int_equal(e.mode, 0644);
	/* DOS time fields read as UTC, whatever $TZ is. */
	struct tm tm;
	time_t t = 1690000000;
	localtime_r(&t, &tm);
	assert_int_equal(e.mtime_ns, (int64_t)timegm(&tm) * 1000000000LL);
	assert_true(vt_lookup(c->st, &root, SP "demo/run.sh", &e));
	assert_int_equal(e.mode, 0755);
	assert_true(vt_lookup(c->st, &root, SP "demo/we,ird \"name\".txt", &e));

	/* .data schemes */
	assert_true(vt_lookup(c->st, &root, SP "demo_extra.py", &e));
	assert_true(vt_lookup(c->st, &root, SP "demo_plat.py", &e));
	assert_true(vt_lookup(c->st, &root, "include/site/python3.11/demo/demo.h", &e));
	s = content(c, &root, "share/demo/readme.txt", NULL);
	assert_string_equal(s, "read me\n");
	free(s);
	assert_false(vt_lookup(c->st, &root, SP "demo-1.0.data", &e));

	/* #!python first line rewritten; others kept */
	assert_true(vt_lookup(c->st, &root, "bin/demo-script", &e));
	assert_int_equal(e.kind, VV_SCRIPT);
	assert_int_equal(e.mode, 0755);
	s = content(c, &root, "bin/demo-script", NULL);
	assert_string_equal(s, "#!python\nprint(1)\n");
	free(s);
	assert_true(vt_lookup(c->st, &root, "bin/plain.sh", &e));
	assert_int_equal(e.kind, VV_REG);
	assert_int_equal(e.mode, 0755);
	assert_true(vt_lookup(c->st, &root, "bin/short", &e));
	assert_int_equal(e.kind, VV_REG);
	assert_int_equal(e.mode, 0644);

	/* entry points */
	assert_true(vt_lookup(c->st, &root, "bin/demo", &e));
	assert_int_equal(e.kind, VV_SCRIPT);
	assert_int_equal(e.mode, 0755);
	s = content(c, &root, "bin/demo", NULL);
	assert_string_equal(s, demo_script);
	free(s);
	s = content(c, &root, "bin/demo-gui", NULL);
	assert_non_null(strstr(s, "from demo.gui import start\n"));
	assert_non_null(strstr(s, "sys.exit(start())\n"));
	free(s);
	assert_true(vt_lookup(c->st, &root, "bin/demo-indented", &e));
	assert_false(vt_lookup(c->st, &root, "bin/x", &e));

	/* dist-info */
	s = content(c, &root, SP "demo-1.0.dist-info/INSTALLER", NULL);
	assert_string_equal(s, "pip\n");
	free(s);
	assert_true(vt_lookup(c->st, &root, SP "demo-1.0.dist-info/METADATA", &e));
	assert_true(vt_lookup(c->st, &root, SP "demo-1.0.dist-info/entry_points.txt", &e));
	verify_record(c, &root, "demo-1.0.dist-info");
	s = content(c, &root, SP "demo-1.0.dist-info/RECORD", NULL);
	assert_true(!strncmp(s, "../../../bin/demo,sha256=", 25)); /* sorted first */
	assert_non_null(strstr(s, "\n../../../include/site/python3.11/demo/demo.h,sha256="));
	assert_non_null(strstr(s, "\n\"demo/we,ird \"\"name\"\".txt\",sha256="));
	assert_non_null(strstr(s, "\ndemo-1.0.dist-info/RECORD,,\n"));
	assert_non_null(strstr(s, "\ndemo-1.0.dist-info/INSTALLER,sha256="));
	if (getenv("VT_SHOW"))
		printf("%s", s);
	free(s);
	free(w);
}

/* Same wheel, other store, other $TZ: byte-identical trees. */
static void test_deterministic(void **state)
{
	struct ctx *c = *state;
	char *w = vt_wheel_build(c->dir, "demo-1.0-py3-none-any.whl", demo_members, NDEMO, NULL);
	char *oldtz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	vv_oid a, b, d;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(install(c, w, &a, NULL), 0);
	assert_int_equal(install(c, w, &b, NULL), 0);
	struct ctx c2 = {.st = vt_store_new(), .py = c->py};
	setenv("TZ", "America/New_York", 1);
	tzset();
	assert_int_equal(install(&c2, w, &d, NULL), 0);
	vt_store_free(c2.st);
	if (oldtz)
		setenv("TZ", oldtz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(oldtz);
	assert_true(vv_oid_eq(&a, &b));
	assert_true(vv_oid_eq(&a, &d));
	free(w);
}

/* Build a wheel from members (+opts), install it, expect -EINVAL with a message naming
 * the wheel and what (member or reason). */
static void refused(struct ctx *c, const struct vt_member *m, size_t n,
		    const struct vt_wheel_opts *o, const char *what)
{
	char *w = vt_wheel_build(c->dir, "bad-1.0-py3-none-any.whl", m, n, o);
	int r = install(c, w, NULL, NULL);
	if (r != -EINVAL)
		fail_msg("expected -EINVAL for '%s', got %d (%s)", what, r, vv_errmsg());
	const char *msg = vv_errmsg();
	if (strncmp(msg, "bad-1.0-py3-none-any.whl: ", 26) || !strstr(msg, what))
		fail_msg("message '%s' does not name the wheel and '%s'", msg, what);
	free(w);
}

#define BASE {"demo/__init__.py", "", 0, 0}

static void test_dotdot(void **state)
{
	struct vt_member m[] = {BASE, {"demo/../../evil.py", "x", 0, 0}};
	refused(*state, m, 2, NULL, "demo/../../evil.py: '..'");
	struct vt_member m2[] = {BASE, {"demo-1.0.data/data/../../../etc/x", "x", 0, 0}};
	refused(*state, m2, 2, NULL, "demo-1.0.data/data/../../../etc/x: '..'");
}

static void test_absolute(void **state)
{
	struct vt_member m[] = {BASE, {"/etc/evil", "x", 0, 0}};
	refused(*state, m, 2, NULL, "/etc/evil: absolute");
}

static void test_bad_names(void **state)
{
	struct vt_member m[] = {BASE, {"demo\\evil.py", "x", 0, 0}};
	refused(*state, m, 2, NULL, "demo\\evil.py: backslash");
	struct vt_member m2[] = {BASE, {"demo//evil.py", "x", 0, 0}};
	refused(*state, m2, 2, NULL, "demo//evil.py: empty path component");
	struct vt_member m3[] = {BASE, {"demo/./evil.py", "x", 0, 0}};
	refused(*state, m3, 2, NULL, "demo/./evil.py: '.'");
	struct vt_member m4[] = {BASE, {"demo/a\nb", "x", 0, 0}};
	refused(*state, m4, 2, NULL, "demo/a?b: control character");
}

static void test_data_escape(void **state)
{
	struct vt_member m[] = {BASE, {"demo-1.0.data/evil/x", "x", 0, 0}};
	refused(*state, m, 2, NULL, "demo-1.0.data/evil/x: unknown .data scheme");
	struct vt_member m2[] = {BASE, {"other-1.0.data/purelib/x.py", "x", 0, 0}};
	refused(*state, m2, 2, NULL, "other-1.0.data/purelib/x.py: unexpected .data");
	struct vt_member m3[] = {BASE, {"demo-1.0.data/scripts/python3.11", "x", 0, 0}};
	refused(*state, m3, 2, NULL, "demo-1.0.data/scripts/python3.11: 'bin/python3.11' is reserved");
	struct vt_member m4[] = {BASE, {"demo-1.0.data/data/pyvenv.cfg", "x", 0, 0}};
	refused(*state, m4, 2, NULL, "demo-1.0.data/data/pyvenv.cfg: 'pyvenv.cfg' is reserved");
	struct vt_member m5[] = {BASE, {"demo-1.0.data/purelib/demo/__init__.py", "y", 0, 0}};
	refused(*state, m5, 2, NULL, "conflicts with another installed file");
}

static void test_symlink(void **state)
{
	struct vt_member m[] = {BASE, {"demo/link", "/etc/passwd", 0, S_IFLNK | 0777}};
	refused(*state, m, 2, NULL, "demo/link: symbolic link");
	struct vt_member m2[] = {BASE, {"demo/dev", "", 0, S_IFCHR | 0644}};
	refused(*state, m2, 2, NULL, "demo/dev: not a regular file");
	struct vt_member m3[] = {BASE, {"demo/fifo", "", 0, S_IFIFO | 0644}};
	refused(*state, m3, 2, NULL, "demo/fifo: not a regular file");
}

static void test_record_mismatch(void **state)
{
	struct vt_member m[] = {BASE, {"demo/a.py", "a = 1\n", 0, 0}};
	struct vt_wheel_opts o = {.bad_hash = "demo/a.py"};
	refused(*state, m, 2, &o, "demo/a.py: sha256 does not match RECORD");
	struct vt_wheel_opts o2 = {.bad_size = "demo/a.py"};
	refused(*state, m, 2, &o2, "demo/a.py: size 6 does not match RECORD (7)");
	struct vt_wheel_opts o3 = {.unlisted = "demo/a.py"};
	refused(*state, m, 2, &o3, "demo/a.py: not listed in RECORD");
	/* dist-info files are checked like any other member */
	struct vt_wheel_opts o4 = {.bad_hash = "demo-1.0.dist-info/METADATA"};
	refused(*state, m, 2, &o4, "demo-1.0.dist-info/METADATA: sha256 does not match");
}

static void test_duplicate(void **state)
{
	struct ctx *c = *state;
	struct vt_member m[] = {BASE, {"demo/dupA.py", "a", 0, 0}, {"demo/dupB.py", "b", 0, 0}};
	struct vt_wheel_opts o = {.store_only = true};
	char *w = vt_wheel_build(c->dir, "bad-1.0-py3-none-any.whl", m, 3, &o);
	/* local + central header of dupB, and its RECORD row (RECORD is stored) */
	assert_int_equal(vt_patch_file(w, "demo/dupB.py", "demo/dupA.py"), 3);
	int r = install(c, w, NULL, NULL);
	assert_int_equal(r, -EINVAL);
	if (!strstr(vv_errmsg(), "bad-1.0-py3-none-any.whl: demo/dupA.py: duplicate member"))
		fail_msg("message: %s", vv_errmsg());
	free(w);
}

static void test_distinfo(void **state)
{
	struct vt_member m[] = {BASE};
	struct vt_wheel_opts o = {.no_distinfo = true};
	refused(*state, m, 1, &o, "no .dist-info directory");
	struct vt_member m2[] = {BASE, {"other-2.0.dist-info/METADATA", "Name: other\n", 0, 0}};
	refused(*state, m2, 2, NULL, "more than one .dist-info directory");
	/* METADATA Name must match the dist-info directory */
	struct vt_wheel_opts o3 = {.name = "demo"};
	struct vt_member m3[] = {BASE};
	char *w;
	struct ctx *c = *state;
	w = vt_wheel_build(c->dir, "ok-1.0-py3-none-any.whl", m3, 1, &o3);
	assert_int_equal(install(c, w, NULL, NULL), 0);
	free(w);
}

static void test_entry_points(void **state)
{
	struct vt_member m[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
				       "[console_scripts]\n../x = demo:main\n", 0, 0}};
	refused(*state, m, 2, NULL, "entry_points.txt: bad entry point name '../x'");
	struct vt_member m2[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
					"[console_scripts]\n.. = demo:main\n", 0, 0}};
	refused(*state, m2, 2, NULL, "bad entry point name '..'");
	struct vt_member m3[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
					"[console_scripts]\nx = demo:main; import os\n", 0, 0}};
	/* inih treats " ;" as a comment, so only a bare ';' reaches the value */
	struct vt_member m4[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
					"[console_scripts]\nx = demo:main();import os\n", 0, 0}};
	refused(*state, m4, 2, NULL, "bad entry point 'x = demo:main();import os'");
	struct vt_member m5[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
					"[console_scripts]\nx = demo\n", 0, 0}};
	refused(*state, m5, 2, NULL, "bad entry point 'x = demo'");
	struct vt_member m6[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
					"[console_scripts]\nx = a:b\n[gui_scripts]\nx = a:c\n", 0, 0}};
	refused(*state, m6, 2, NULL, "entry point 'x' defined twice");
	struct vt_member m7[] = {BASE, {"demo-1.0.dist-info/entry_points.txt",
					"[console_scripts]\npython = a:b\n", 0, 0}};
	refused(*state, m7, 2, NULL, "'bin/python' is reserved");
	(void)m3;
}

static void test_pip_names(void **state)
{
	/* pip's special case: pip, pip3, pip3.X for the running interpreter */
	struct ctx *c = *state;
	struct vt_member m[] = {
		{"pip/__init__.py", "", 0, 0},
		{"pip-9.0.dist-info/entry_points.txt",
		 "[console_scripts]\npip = pip._internal.cli.main:main\n"
		 "pip3 = pip._internal.cli.main:main\npip3.8 = pip._internal.cli.main:main\n",
		 0, 0},
	};
	struct vt_wheel_opts o = {.name = "pip", .version = "9.0"};
	char *w = vt_wheel_build(c->dir, "pip-9.0-py3-none-any.whl", m, 2, &o);
	vv_oid root;
	if (install(c, w, &root, NULL) < 0)
		fail_msg("%s", vv_errmsg());
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &root, "bin/pip", &e));
	assert_true(vt_lookup(c->st, &root, "bin/pip3", &e));
	assert_true(vt_lookup(c->st, &root, "bin/pip3.11", &e));
	assert_false(vt_lookup(c->st, &root, "bin/pip3.8", &e));
	verify_record(c, &root, "pip-9.0.dist-info");
	free(w);
}

static void test_not_a_zip(void **state)
{
	struct ctx *c = *state;
	char path[4096];
	snprintf(path, sizeof(path), "%s/junk-1.0-py3-none-any.whl", c->dir);
	vt_write_file(path, "this is not a zip file\n", 23);
	assert_int_equal(install(c, path, NULL, NULL), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "junk-1.0-py3-none-any.whl: "));

	/* truncated: a real wheel cut in half */
	char *w = vt_wheel_build(c->dir, "cut-1.0-py3-none-any.whl", demo_members, NDEMO, NULL);
	struct stat sb;
	assert_int_equal(stat(w, &sb), 0);
	assert_int_equal(truncate(w, sb.st_size / 2), 0);
	assert_int_equal(install(c, w, NULL, NULL), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "cut-1.0-py3-none-any.whl: "));
	free(w);

	snprintf(path, sizeof(path), "%s/missing.whl", c->dir);
	assert_int_equal(install(c, path, NULL, NULL), -ENOENT);
}

static void test_bomb(void **state)
{
	size_t len = 50u << 20;
	char *zeros = calloc(1, len);
	struct vt_member m[] = {BASE, {"demo/zeros.bin", zeros, len, 0}};
	refused(*state, m, 2, NULL, "demo/zeros.bin: compression ratio above 200:1");
	free(zeros);
}

static void test_record_parse(void **state)
{
	(void)state;
	struct vv_record_row *rows;
	size_t n;
	const char ok[] = "a,sha256=x,1\r\n\n\"b,\"\"c\"\"\",,\n\"multi\nline\",h,\nlast,,";
	assert_int_equal(vv_record_parse(ok, sizeof(ok) - 1, &rows, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(rows[0].path, "a");
	assert_string_equal(rows[0].hash, "sha256=x");
	assert_string_equal(rows[0].size, "1");
	assert_string_equal(rows[1].path, "b,\"c\"");
	assert_string_equal(rows[1].hash, "");
	assert_string_equal(rows[2].path, "multi\nline");
	assert_string_equal(rows[3].path, "last");
	vv_record_free(rows, n);
	/* exactly sized, no NUL after the last ',' (the sanitizers watch the end) */
	char *exact = malloc(sizeof(ok) - 1);
	memcpy(exact, ok, sizeof(ok) - 1);
	assert_int_equal(vv_record_parse(exact, sizeof(ok) - 1, &rows, &n), 0);
	assert_int_equal(n, 4);
	vv_record_free(rows, n);
	free(exact);
	assert_int_equal(vv_record_parse("", 0, &rows, &n), 0);
	assert_int_equal(n, 0);
	vv_record_free(rows, n);

	static const char *bad[] = {
		"a,b\n", "a,b,c,d\n", "a,b,c,\n", "\"a,b,c\n", "\"a\"x,b,c\n", "a\"b,c,d\n",
		"a\rb,c,d\n", "a,b,c\r", "\"a\"\"\",b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vv_record_parse(bad[i], strlen(bad[i]), &rows, &n) != -EINVAL)
			fail_msg("accepted bad RECORD #%zu", i);
		assert_non_null(strstr(vv_errmsg(), "line 1: "));
	}
	assert_int_equal(vv_record_parse("a,b,c\nx\0y,b,c\n", 14, &rows, &n), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "line 2: NUL"));
}

static void test_real_pip(void **state)
{
	struct ctx *c = *state;
	char *w = vt_find_wheel("/usr/share/python-wheels", "pip-");
	if (!w)
		skip();
	vv_oid root;
	struct vv_wheel_info info = {0};
	if (install(c, w, &root, &info) < 0)
		fail_msg("%s", vv_errmsg());
	assert_string_equal(info.name, "pip");
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &root, SP "pip/__init__.py", &e));
	assert_true(vt_lookup(c->st, &root, "bin/pip", &e));
	assert_int_equal(e.kind, VV_SCRIPT);
	assert_true(vt_lookup(c->st, &root, "bin/pip3", &e));
	assert_true(vt_lookup(c->st, &root, "bin/pip3.11", &e));
	char di[256];
	snprintf(di, sizeof(di), "pip-%s.dist-info", info.version);
	verify_record(c, &root, di);
	vv_wheel_info_release(&info);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absolute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_distinfo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pip_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_zip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bomb, setup, teardown),
		cmocka_unit_test(test_record_parse),
		cmocka_unit_test_setup_teardown(test_real_pip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
