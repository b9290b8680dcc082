/*
 * test_pkg.c - package records: a wheel ingested once and recorded (record text,
 * re-ingest finds it), installed into envs by grafting the same trees a direct unpack
 * gives, namespace directories merged; requirement files resolved from the store and
 * find-links (pins, extras, hashes, comments, continuations, tag preference) and
 * every unmet line reported; lines with environment markers installed or skipped;
 * records made from what pip installed in an env (the env's own entries, found again,
 * never a --hash match, editable or escaping RECORDs refused); hostile wheels refused
 * with nothing added to the env;
 * gc keeping records' objects and dropping unused records on request.
 */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "env/env.h"
#include "util/error.h"
#include "ops/gc.h"
#include "util/hash.h"
#include "util/strv.h"
#include "ops/install.h"
#include "pkg/pkg.h"
#include "python/python.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"
#include "pkg/wheel.h"

#define SP "lib/python3.11/site-packages/"

struct ctx {
	struct vv_store *st;
	char *dir;   /* wheels (find-links) */
	char *work;  /* requirement files */
	struct vv_python py;
	vv_oid skel;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	c->st = vt_store_new();
	c->dir = vt_tempdir();
	c->work = vt_tempdir();
	c->py.major = 3;
	c->py.minor = 11;
	c->py.version = (char *)"3.11.7";
	struct vv_tb *tb = vv_tb_new(1000);
	struct vv_tree_ent d = {.kind = VV_DIR, .mode = 0755, .mtime_ns = 1000};
	assert_int_equal(vv_tb_add(tb, "bin", &d), 0);
	struct vv_tree_ent f = {.kind = VV_REG, .mode = 0644, .size = 6, .mtime_ns = 1000};
	assert_int_equal(vv_odb_put_buf(&c->st->odb, "x = 1\n", 6, &f.oid), 0);
	assert_int_equal(vv_tb_add(tb, SP "keep.py", &f), 0);
	assert_int_equal(vv_tb_write(tb, c->st, &c->skel), 0);
	vv_tb_free(tb);
	vt_mkenv(c->st, "e", c->skel);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	vt_store_free(c->st);
	vt_rmtree(c->dir);
	vt_rmtree(c->work);
	free(c);
	return 0;
}

static vv_oid env_root(struct ctx *c, const char *name)
{
	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(c->st, name, &cfg), 0);
	vv_oid r = cfg.root;
	vv_envcfg_release(&cfg);
	return r;
}

static size_t count_records(struct ctx *c)
{
	char **names;
	size_t n;
	assert_int_equal(vv_pkg_list(c->st, &names, &n), 0);
	vv_strv_free(names, n);
	return n;
}

/* A small wheel NAME-VERSION with module NAME (pkg dir NAME/) and optional console
 * script. tag: the file name's tags ("py3-none-any" when NULL). */
static char *wheel(struct ctx *c, const char *name, const char *version, const char *tag,
		   const char *script)
{
	char fname[200], mod[100], ep[300], di[200];
	snprintf(fname, sizeof(fname), "%s-%s-%s.whl", name, version, tag ? tag : "py3-none-any");
	snprintf(mod, sizeof(mod), "%s/__init__.py", name);
	snprintf(di, sizeof(di), "%s-%s.dist-info/entry_points.txt", name, version);
	snprintf(ep, sizeof(ep), "[console_scripts]\n%s = %s:main\n", script ? script : "", name);
	struct vt_member m[] = {{mod, "def main():\n    return 0\n", 0, 0}, {di, ep, 0, 0}};
	struct vt_wheel_opts o = {.name = name, .version = version};
	return vt_wheel_build(c->dir, fname, m, script ? 2 : 1, &o);
}

static void test_ingest(void **state)
{
	struct ctx *c = *state;
	char *w = wheel(c, "demo", "1.0", NULL, "demo-run");
	struct vv_pkg p, q;
	if (vv_pkg_ingest(c->st, w, &c->py, NULL, 0, &p) < 0)
		fail_msg("%s", vv_errmsg());
	assert_true(p.ingested);
	assert_string_equal(p.name, "demo");
	assert_string_equal(p.version, "1.0");
	assert_string_equal(p.wheel, "demo-1.0-py3-none-any.whl");
	assert_int_equal(p.minor, 11);
	assert_false(p.extra);
	assert_false(vv_oid_is_zero(&p.site));
	assert_false(vv_oid_is_zero(&p.bin));
	assert_null(p.requires_python);
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &p.tree, SP "demo/__init__.py", &e));
	assert_true(vt_lookup(c->st, &p.tree, "bin/demo-run", &e));
	assert_int_equal(e.kind, VV_SCRIPT);
	assert_true(vt_lookup(c->st, &p.tree, SP "demo-1.0.dist-info/REQUESTED", &e));
	assert_int_equal(count_records(c), 1);

	/* The record is named after name, version, Python and the wheel's hash. */
	char rname[300];
	vv_oid sha;
	int fd = open(w, O_RDONLY);
	uint64_t sz;
	assert_int_equal(vv_hash_fd(fd, &sha, &sz), 0);
	close(fd);
	assert_true(vv_oid_eq(&sha, &p.sha256));
	assert_int_equal(vv_pkg_record_name("demo", "1.0", 11, &sha, rname, sizeof(rname)), 0);
	assert_int_equal(vv_pkg_load(c->st, rname, &q), 0);
	assert_true(vv_oid_eq(&q.tree, &p.tree));
	assert_true(vv_oid_eq(&q.site, &p.site));
	vv_pkg_release(&q);

	/* A second ingest finds the record and unpacks nothing. */
	assert_int_equal(vv_pkg_ingest(c->st, w, &c->py, NULL, 0, &q), 0);
	assert_false(q.ingested);
	assert_true(vv_oid_eq(&q.tree, &p.tree));
	vv_pkg_release(&q);
	assert_int_equal(count_records(c), 1);

	/* A wrong --hash refuses before unpacking. */
	vv_oid other = sha;
	other.b[0] ^= 1;
	assert_int_equal(vv_pkg_ingest(c->st, w, &c->py, &other, 1, &q), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "demo-1.0-py3-none-any.whl: sha256 "));

	/* The trees are what a direct unpack gives (directory mtimes: the wheel's). */
	int64_t mt;
	assert_int_equal(vv_wheel_mtime(w, &mt), 0);
	struct vv_tb *tb = vv_tb_new(mt);
	struct vv_wheel_info info = {0};
	assert_int_equal(vv_wheel_install_ex(c->st, w, &c->py, "venvctl", VV_WHEEL_REQUESTED, tb,
					     &info), 0);
	vv_oid direct;
	assert_int_equal(vv_tb_write(tb, c->st, &direct), 0);
	assert_true(vv_oid_eq(&direct, &p.tree));
	vv_tb_free(tb);
	vv_wheel_info_release(&info);

	/* Format and parse round-trip; strict parser. */
	char *text;
	size_t len;
	p.requires_python = strdup(">=3.8");
	assert_int_equal(vv_pkg_format(&p, &text, &len), 0);
	assert_int_equal(vv_pkg_parse(text, len, "t", &q), 0);
	assert_string_equal(q.requires_python, ">=3.8");
	assert_true(vv_oid_eq(&q.bin, &p.bin));
	vv_pkg_release(&q);
	free(text);
	static const char *const bad[][2] = {
		{"[package]\nname = a\n", "t: no 'version'"},
		{"[package]\nname = a\nname = b\n", "t:3: duplicate key 'name' (first set on line 2)"},
		{"[package]\nbogus = 1\n", "t:2: unknown key 'bogus' in [package] (known: name, "
		 "version, wheel, sha256, python, requires-python, tree, site, bin, extra, "
		 "installed)"},
		{"[other]\nname = a\n", "t:1: unknown section [other] (expected [package])"},
		{"name = a\n", "t:1: key 'name' outside a section (start with [package])"},
		{"[package]\npython = 2.7\n", "t:2: python '2.7' is not 3.N"},
		{"[package]\ntree = 12\n", "t:2: tree '12' is not a 64-digit hex id"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (vv_pkg_parse(bad[i][0], strlen(bad[i][0]), "t", &q) != -EINVAL)
			fail_msg("accepted '%s'", bad[i][0]);
		if (strcmp(vv_errmsg(), bad[i][1]))
			fail_msg("'%s': message '%s', want '%s'", bad[i][0], vv_errmsg(), bad[i][1]);
	}
	vv_pkg_release(&p);
	free(w);
}

static void test_install_graft(void **state)
{
	struct ctx *c = *state;
	char *a = wheel(c, "demo", "1.0", NULL, "demo-run");
	/* two distributions sharing a namespace directory ns/ */
	struct vt_member m1[] = {{"ns/one/__init__.py", "ONE = 1\n", 0, 0}};
	struct vt_member m2[] = {{"ns/two/__init__.py", "TWO = 2\n", 0, 0}};
	char *n1 = vt_wheel_build(c->dir, "ns_one-1.0-py3-none-any.whl", m1, 1,
				  &(struct vt_wheel_opts){.name = "ns_one"});
	char *n2 = vt_wheel_build(c->dir, "ns_two-1.0-py3-none-any.whl", m2, 1,
				  &(struct vt_wheel_opts){.name = "ns_two"});
	const char *w1[] = {a, n1};
	struct vv_installed *res;
	if (vv_install_wheels(c->st, "e", w1, 2, &res) < 0)
		fail_msg("%s", vv_errmsg());
	vv_installed_free(res, 2);
	const char *w2[] = {n2};
	if (vv_install_wheels(c->st, "e", w2, 1, &res) < 0)
		fail_msg("%s", vv_errmsg());
	vv_installed_free(res, 1);
	vv_oid r = env_root(c, "e");
	struct vv_tree_ent e, pe;
	assert_true(vt_lookup(c->st, &r, SP "keep.py", &e));
	assert_true(vt_lookup(c->st, &r, SP "ns/one/__init__.py", &e));
	assert_true(vt_lookup(c->st, &r, SP "ns/two/__init__.py", &e));
	assert_true(vt_lookup(c->st, &r, "bin/demo-run", &e));
	/* demo/ is the package's own tree, grafted by id */
	struct vv_pkg p;
	assert_int_equal(vv_pkg_ingest(c->st, a, &c->py, NULL, 0, &p), 0);
	assert_false(p.ingested);
	assert_true(vt_lookup(c->st, &r, SP "demo", &e));
	assert_true(vt_lookup(c->st, &p.site, "demo", &pe));
	assert_true(vv_oid_eq(&e.oid, &pe.oid));
	assert_true(vt_lookup(c->st, &r, SP "demo-1.0.dist-info", &e));
	assert_true(vt_lookup(c->st, &p.site, "demo-1.0.dist-info", &pe));
	assert_true(vv_oid_eq(&e.oid, &pe.oid));

	/* A file another distribution owns: refused, env unchanged. */
	struct vt_member m3[] = {{"demo/__init__.py", "x\n", 0, 0}};
	char *clash = vt_wheel_build(c->dir, "clash-1.0-py3-none-any.whl", m3, 1,
				     &(struct vt_wheel_opts){.name = "clash"});
	const char *w3[] = {clash};
	assert_int_equal(vv_install_wheels(c->st, "e", w3, 1, &res), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "clash-1.0-py3-none-any.whl: '" SP "demo/__init__.py' "
				"is already in the env"));
	vv_oid after = env_root(c, "e");
	assert_true(vv_oid_eq(&r, &after));

	/* Replacing: demo 2.0 takes demo 1.0's files out first. */
	char *b = wheel(c, "demo", "2.0", NULL, NULL);
	const char *w4[] = {b};
	if (vv_install_wheels(c->st, "e", w4, 1, &res) < 0)
		fail_msg("%s", vv_errmsg());
	assert_string_equal(res[0].replaced, "1.0");
	vv_installed_free(res, 1);
	r = env_root(c, "e");
	assert_false(vt_lookup(c->st, &r, SP "demo-1.0.dist-info", &e));
	assert_false(vt_lookup(c->st, &r, "bin/demo-run", &e));
	assert_true(vt_lookup(c->st, &r, SP "demo-2.0.dist-info/RECORD", &e));
	vv_pkg_release(&p);
	free(a);
	free(b);
	free(n1);
	free(n2);
	free(clash);
}

static char *reqfile(struct ctx *c, const char *name, const char *text)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", c->work, name) > 0);
	vt_write_file(p, text, strlen(text));
	return p;
}

static void test_resolve(void **state)
{
	struct ctx *c = *state;
	struct utsname u;
	assert_int_equal(uname(&u), 0);
	char plat[160];
	snprintf(plat, sizeof(plat), "cp311-cp311-linux_%s", u.machine);
	char *a = wheel(c, "alpha", "1.0", NULL, "alpha-run");
	char *b = wheel(c, "Beta.Thing", "2.0.1", NULL, NULL);
	char *g1 = wheel(c, "gamma", "3.0", NULL, NULL);
	char *g2 = wheel(c, "gamma", "3.0", plat, NULL); /* more specific: preferred */
	char *old = wheel(c, "alpha", "0.9", NULL, NULL);
	vv_oid sha;
	int fd = open(b, O_RDONLY);
	uint64_t sz;
	assert_int_equal(vv_hash_fd(fd, &sha, &sz), 0);
	close(fd);
	char hex[VV_OID_HEX + 1], text[1200];
	vv_oid_hex(&sha, hex);
	snprintf(text, sizeof(text),
		 "# pinned\n"
		 "alpha==1.0   # the app\n"
		 "\n"
		 "beta-thing[extra1, extra2] == 2.0.1 \\\n"
		 "    --hash=sha256:%s \\\n"
		 "    --hash sha256:%064d\n"
		 "Gamma==3.0\r\n", hex, 0);
	char *rf = reqfile(c, "reqs.txt", text);
	const char *links[] = {c->dir};
	struct vv_pkg *pk;
	size_t n;
	char *report, *skipped;
	if (vv_pkg_resolve(c->st, rf, links, 1, NULL, 0, &c->py, NULL, &pk, &n, &report,
			   &skipped) < 0)
		fail_msg("%s\n%s", vv_errmsg(), report ? report : "");
	assert_null(report);
	assert_null(skipped);
	assert_int_equal(n, 3);
	assert_string_equal(pk[0].name, "alpha");
	assert_string_equal(pk[0].version, "1.0");
	assert_string_equal(pk[1].name, "Beta.Thing");
	assert_true(vv_oid_eq(&pk[1].sha256, &sha));
	assert_string_equal(pk[2].wheel, strrchr(g2, '/') + 1);
	for (size_t i = 0; i < n; i++) {
		assert_true(pk[i].ingested);
		vv_pkg_release(&pk[i]);
	}
	free(pk);
	assert_int_equal(count_records(c), 3); /* only what was needed was ingested */

	/* Again without the wheels: everything comes from the store. */
	unlink(a);
	unlink(b);
	unlink(g1);
	unlink(g2);
	if (vv_pkg_resolve(c->st, rf, NULL, 0, NULL, 0, &c->py, NULL, &pk, &n, &report,
			   &skipped) < 0)
		fail_msg("%s\n%s", vv_errmsg(), report ? report : "");
	assert_int_equal(n, 3);
	assert_string_equal(pk[2].wheel, strrchr(g2, '/') + 1);
	for (size_t i = 0; i < n; i++) {
		assert_false(pk[i].ingested);
		vv_pkg_release(&pk[i]);
	}
	free(pk);

	/* Installed through the env: one commit with all of them. */
	struct vv_installed *res;
	size_t nres;
	if (vv_install_requirements(c->st, "e", rf, NULL, 0, NULL, &res, &nres, &report,
				    &skipped) < 0)
		fail_msg("%s", vv_errmsg());
	assert_int_equal(nres, 3);
	vv_installed_free(res, nres);
	vv_oid r = env_root(c, "e");
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &r, SP "alpha/__init__.py", &e));
	assert_true(vt_lookup(c->st, &r, SP "Beta.Thing/__init__.py", &e));
	assert_true(vt_lookup(c->st, &r, SP "gamma-3.0.dist-info/RECORD", &e));
	assert_true(vt_lookup(c->st, &r, "bin/alpha-run", &e));
	free(rf);
	free(a);
	free(b);
	free(g1);
	free(g2);
	free(old);
}

static void test_unmet(void **state)
{
	struct ctx *c = *state;
	char *a = wheel(c, "alpha", "1.0", NULL, NULL);
	char *x = wheel(c, "other", "1.0", "cp27-cp27mu-linux_x86_64", NULL);
	vv_oid before = env_root(c, "e");
	char *rf = reqfile(c, "bad.txt",
			   "alpha==1.0\n"                              /* 1: fine */
			   "unpinned>=1.0\n"                           /* 2 */
			   "bare\n"                                    /* 3 */
			   "missing==4.2\n"                            /* 4 */
			   "alpha==1.0\n"                              /* 5: twice */
			   "marked==1.0; python_version <> \"3.8\"\n"  /* 6 */
			   "-e .\n"                                    /* 7 */
			   "star==1.*\n"                               /* 8 */
			   "url @ https://example.org/u.whl\n"         /* 9 */
			   "hashed==1.0 --hash=md5:abc\n"              /* 10 */
			   "other==1.0\n");                            /* 11: tags */
	const char *links[] = {c->dir};
	struct vv_pkg *pk;
	size_t n;
	char *report = NULL, *skipped = NULL;
	assert_int_equal(vv_pkg_resolve(c->st, rf, links, 1, NULL, 0, &c->py, NULL, &pk, &n,
					&report, &skipped), -ENOENT);
	assert_null(skipped);
	assert_non_null(strstr(vv_errmsg(), "bad.txt: 10 of 11 requirements cannot be met"));
	assert_non_null(report);
	static const char *const want[] = {
		"bad.txt:2: unpinned>=1.0: not pinned",
		"bad.txt:3: bare: not pinned",
		"bad.txt:4: missing==4.2: no wheel of missing 4.2 for CPython 3.11",
		"bad.txt:5: alpha==1.0: alpha is required twice (also line 1)",
		("bad.txt:6: marked==1.0; python_version <> \"3.8\": bad environment marker: "
		 "unknown operator at '<> \"3.8\"'"),
		"bad.txt:7: -e .: option '-e' is not supported",
		"bad.txt:8: star==1.*: not pinned to one version (a wildcard",
		"bad.txt:9: url @ https://example.org/u.whl: direct references",
		"bad.txt:10: hashed==1.0 --hash=md5:abc: --hash 'md5:abc' is not sha256",
		"bad.txt:11: other==1.0: no wheel of other 1.0",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (!strstr(report, want[i]))
			fail_msg("report lacks '%s':\n%s", want[i], report);
	assert_null(strstr(report, "bad.txt:1:"));
	free(report);

	/* Through the env: the same error, env unchanged. */
	struct vv_installed *res;
	size_t nres;
	assert_int_equal(vv_install_requirements(c->st, "e", rf, links, 1, NULL, &res, &nres,
						 &report, &skipped), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "env 'e': "));
	assert_non_null(report);
	free(report);
	vv_oid after = env_root(c, "e");
	assert_true(vv_oid_eq(&before, &after));

	/* A missing file is an error naming it. */
	assert_int_equal(vv_pkg_resolve(c->st, "/nonexistent/r.txt", NULL, 0, NULL, 0, &c->py,
					NULL, &pk, &n, &report, &skipped), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "requirements file '/nonexistent/r.txt'"));
	free(rf);
	free(a);
	free(x);
}

/* Lines with environment markers (evaluated for the env's Python 3.11.7 on this host):
 * a true one is installed, hashes after the marker still checked; a false one is
 * skipped and listed, even when no wheel of it exists; two pins of one package under
 * exclusive markers are not "required twice"; an undefined comparison or a malformed
 * marker makes the line unmet with its line number, nothing changes. */
static void test_markers(void **state)
{
	struct ctx *c = *state;
	char *a = wheel(c, "alpha", "1.0", NULL, NULL);
	char *b = wheel(c, "beta", "2.0", NULL, NULL);
	char *g = wheel(c, "gamma", "3.0", NULL, NULL);
	vv_oid sha;
	int fd = open(b, O_RDONLY);
	uint64_t sz;
	assert_int_equal(vv_hash_fd(fd, &sha, &sz), 0);
	close(fd);
	char hex[VV_OID_HEX + 1], text[2000];
	vv_oid_hex(&sha, hex);
	snprintf(text, sizeof(text),
		 "alpha==1.0 ; python_version >= \"3.8\" and sys_platform == \"linux\"\n"  /* 1 */
		 "beta==2.0 ; python_version >= \"3.8\" and python_version < \"4.0\" \\\n"  /* 2 */
		 "    --hash=sha256:%064d \\\n"
		 "    --hash=sha256:%s\n"
		 "old==0.1 ; python_version < \"3.8\" \\\n"                                  /* 5 */
		 "    --hash=sha256:%064d\n"
		 "    # via beta\n"
		 "gamma==2.0 ; python_full_version < '3.11'\n"                              /* 8 */
		 "gamma==3.0 ; python_full_version >= '3.11'\n"                             /* 9 */
		 "win==1.0 ; platform_system == \"Windows\"   # no such wheel\n",           /* 10 */
		 0, hex, 0);
	char *rf = reqfile(c, "marked.txt", text);
	const char *links[] = {c->dir};
	struct vv_pkg *pk;
	size_t n;
	char *report = NULL, *skipped = NULL;
	if (vv_pkg_resolve(c->st, rf, links, 1, NULL, 0, &c->py, NULL, &pk, &n, &report,
			   &skipped) < 0)
		fail_msg("%s\n%s", vv_errmsg(), report ? report : "");
	assert_null(report);
	assert_int_equal(n, 3);
	assert_string_equal(pk[0].name, "alpha");
	assert_string_equal(pk[1].name, "beta");
	assert_true(vv_oid_eq(&pk[1].sha256, &sha));
	assert_string_equal(pk[2].name, "gamma");
	assert_string_equal(pk[2].version, "3.0");
	for (size_t i = 0; i < n; i++)
		vv_pkg_release(&pk[i]);
	free(pk);
	char *want;
	assert_true(asprintf(&want,
			     "%s:5: skipped old==0.1 (marker python_version < \"3.8\" is false)\n"
			     "%s:8: skipped gamma==2.0 (marker python_full_version < '3.11' is "
			     "false)\n"
			     "%s:10: skipped win==1.0 (marker platform_system == \"Windows\" is "
			     "false)\n", rf, rf, rf) > 0);
	assert_non_null(skipped);
	assert_string_equal(skipped, want);
	free(want);
	free(skipped);

	/* Through the env: the applying lines installed, the skipped ones listed. */
	struct vv_installed *res;
	size_t nres;
	if (vv_install_requirements(c->st, "e", rf, NULL, 0, NULL, &res, &nres, &report,
				    &skipped) < 0)
		fail_msg("%s\n%s", vv_errmsg(), report ? report : "");
	assert_int_equal(nres, 3);
	assert_non_null(skipped);
	assert_non_null(strstr(skipped, ":10: skipped win==1.0"));
	free(skipped);
	vv_installed_free(res, nres);
	vv_oid r = env_root(c, "e");
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &r, SP "alpha/__init__.py", &e));
	assert_true(vt_lookup(c->st, &r, SP "beta/__init__.py", &e));
	assert_true(vt_lookup(c->st, &r, SP "gamma-3.0.dist-info/RECORD", &e));
	assert_false(vt_lookup(c->st, &r, SP "old/__init__.py", &e));

	/* A wrong hash after a true marker, a malformed marker, `~=` on a string and a
	 * pin twice under markers that both hold: unmet, each with its line. */
	char *bad = reqfile(c, "badmark.txt",
			    "beta==2.0 ; os_name == \"posix\" --hash=sha256:"
			    "1111111111111111111111111111111111111111111111111111111111111111\n"
			    "alpha==1.0 ; python_version >= \"3.8\" and\n"
			    "gamma==3.0 ; platform_machine ~= \"1.0\"\n"
			    "alpha==1.0 ; python_version > \"3.9\"\n"
			    "alpha==1.0 ; python_version > \"3.10\"\n"
			    "skip==1.0 ; python_version < \"3\"\n");
	vv_oid before = env_root(c, "e");
	assert_int_equal(vv_install_requirements(c->st, "e", bad, links, 1, NULL, &res, &nres,
						 &report, &skipped), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "badmark.txt: 4 of 5 requirements cannot be met"));
	assert_null(skipped);
	static const char *const unmet[] = {
		"badmark.txt:1: beta==2.0 ; os_name == \"posix\" --hash=sha256:1111",
		"badmark.txt:2: alpha==1.0 ; python_version >= \"3.8\" and: bad environment "
		"marker: expected a marker variable or a quoted string at the end\n",
		"badmark.txt:3: gamma==3.0 ; platform_machine ~= \"1.0\": bad environment marker: "
		"'~=' compares versions (X.Y or longer on the right), not '",
		"badmark.txt:5: alpha==1.0 ; python_version > \"3.10\": alpha is required twice "
		"(also line 4)\n",
	};
	for (size_t i = 0; i < sizeof(unmet) / sizeof(*unmet); i++)
		if (!strstr(report, unmet[i]))
			fail_msg("report lacks '%s':\n%s", unmet[i], report);
	assert_null(strstr(report, "badmark.txt:4:"));
	assert_null(strstr(report, "badmark.txt:6:"));
	free(report);
	vv_oid after = env_root(c, "e");
	assert_true(vv_oid_eq(&before, &after));
	free(bad);
	free(rf);
	free(a);
	free(b);
	free(g);
}

/* Every hostile class: refused by `add` with wheel, member and reason named, nothing
 * added to the env and no package recorded. */
/* A root: the skeleton with wheel w installed by "pip" (as pip leaves it through the
 * mount: every file an object, RECORD naming each). */
static vv_oid pip_installed(struct ctx *c, const char *w)
{
	struct vv_tree *skel;
	assert_int_equal(vv_tree_get(c->st, &c->skel, &skel), 0);
	struct vv_tb *tb = vv_tb_new(2000);
	assert_int_equal(vv_tb_add_tree(tb, "", skel, NULL, NULL), 0);
	vv_tree_unref(skel);
	assert_int_equal(vv_tb_expand(tb, c->st, "bin"), 0);
	assert_int_equal(vv_tb_expand(tb, c->st, "lib"), 0);
	assert_int_equal(vv_tb_expand(tb, c->st, "lib/python3.11"), 0);
	assert_int_equal(vv_tb_expand(tb, c->st, "lib/python3.11/site-packages"), 0);
	struct vv_wheel_info info = {0};
	if (vv_wheel_install(c->st, w, &c->py, "pip", tb, &info) < 0)
		fail_msg("%s", vv_errmsg());
	vv_wheel_info_release(&info);
	vv_oid root;
	assert_int_equal(vv_tb_write(tb, c->st, &root), 0);
	vv_tb_free(tb);
	return root;
}

/* root with one more file, at path. */
static vv_oid with_file(struct ctx *c, const vv_oid *root, const char *path, const char *text)
{
	struct vv_tree *t;
	assert_int_equal(vv_tree_get(c->st, root, &t), 0);
	struct vv_tb *tb = vv_tb_new(2000);
	assert_int_equal(vv_tb_add_tree(tb, "", t, NULL, NULL), 0);
	vv_tree_unref(t);
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *sl = strchr(dir, '/'); sl; sl = strchr(sl + 1, '/')) {
		*sl = 0;
		assert_true(vv_tb_exists(tb, dir) >= 0);
		if (vv_tb_exists(tb, dir))
			assert_int_equal(vv_tb_expand(tb, c->st, dir), 0);
		*sl = '/';
	}
	struct vv_tree_ent f = {.kind = VV_REG, .mode = 0644, .size = strlen(text),
				.mtime_ns = 2000, .oid = vt_put(c->st, text)};
	assert_int_equal(vv_tb_add(tb, path, &f), 0);
	vv_oid out;
	assert_int_equal(vv_tb_write(tb, c->st, &out), 0);
	vv_tb_free(tb);
	return out;
}

/* Distributions pip installed in an env become records made of the env's own entries:
 * found again by their RECORD, refused when editable or naming a path outside the env,
 * never a match for --hash, and found by requirement files given the env roots. */
static void test_installed(void **state)
{
	struct ctx *c = *state;
	char *w = wheel(c, "Pip_Made", "1.0", NULL, "pm-run");
	vv_oid root = pip_installed(c, w);
	struct vv_pkg p, q;
	size_t before = count_records(c);
	if (vv_pkg_from_installed(c->st, &root, 11, "pip-made", "1.0", &p) != 0)
		fail_msg("%s", vv_errmsg());
	assert_true(p.ingested);
	assert_true(p.installed);
	assert_string_equal(p.name, "Pip_Made");
	assert_string_equal(p.version, "1.0");
	assert_string_equal(p.wheel, "Pip_Made-1.0-py3-none-any.whl");
	assert_int_equal(p.minor, 11);
	assert_false(p.extra);
	assert_int_equal(count_records(c), before + 1);
	/* the env's own entries, by id: the package, its dist-info, its script; not keep.py */
	struct vv_tree_ent e, pe;
	assert_true(vt_lookup(c->st, &root, SP "Pip_Made/__init__.py", &e));
	assert_true(vt_lookup(c->st, &p.site, "Pip_Made/__init__.py", &pe));
	assert_true(vv_oid_eq(&e.oid, &pe.oid));
	assert_int_equal(e.mtime_ns, pe.mtime_ns);
	assert_true(vt_lookup(c->st, &root, SP "Pip_Made-1.0.dist-info", &e));
	assert_true(vt_lookup(c->st, &p.site, "Pip_Made-1.0.dist-info", &pe));
	assert_true(vv_oid_eq(&e.oid, &pe.oid));
	assert_true(vt_lookup(c->st, &root, "bin/pm-run", &e));
	assert_true(vt_lookup(c->st, &p.bin, "pm-run", &pe));
	assert_true(vv_oid_eq(&e.oid, &pe.oid));
	assert_false(vt_lookup(c->st, &p.site, "keep.py", &pe));
	/* the record's name is the RECORD's id: found again, not made twice */
	assert_true(vt_lookup(c->st, &root, SP "Pip_Made-1.0.dist-info/RECORD", &e));
	assert_true(vv_oid_eq(&p.sha256, &e.oid));
	assert_int_equal(vv_pkg_from_installed(c->st, &root, 11, "pip-made", "1.0.0", &q), 0);
	assert_false(q.ingested);
	assert_true(vv_oid_eq(&p.tree, &q.tree));
	assert_int_equal(count_records(c), before + 1);
	vv_pkg_release(&q);
	/* another version, another Python, another name: not there */
	assert_int_equal(vv_pkg_from_installed(c->st, &root, 11, "pip-made", "2.0", &q), 1);
	assert_int_equal(vv_pkg_from_installed(c->st, &root, 12, "pip-made", "1.0", &q), 1);
	assert_int_equal(vv_pkg_from_installed(c->st, &root, 11, "other", "1.0", &q), 1);

	/* an editable install points elsewhere: not used */
	vv_oid ed = with_file(c, &root, SP "Pip_Made-1.0.dist-info/direct_url.json",
			      "{\"url\": \"file:///src\", \"dir_info\": {\"editable\": true}}");
	assert_int_equal(vv_pkg_from_installed(c->st, &ed, 11, "pip-made", "1.0", &q), 1);

	/* a RECORD naming a path outside the env: not used, nothing recorded */
	const char *wh = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
	const char *md = "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n";
	const char *rec = "evil.py,,\n../../../../../etc/passwd,,\n";
	struct vv_tree_ent di[] = {vt_file_ent("METADATA", vt_put(c->st, md), strlen(md)),
				   vt_file_ent("RECORD", vt_put(c->st, rec), strlen(rec)),
				   vt_file_ent("WHEEL", vt_put(c->st, wh), strlen(wh))};
	struct vv_tree_ent sp[] = { /* in name order: vt_tree sorts in place */
		vt_dir_ent("evil-1.0.dist-info", vt_tree(c->st, di, 3)),
		vt_file_ent("evil.py", vt_put(c->st, "E = 1\n"), 6)};
	struct vv_tree_ent py[] = {vt_dir_ent("site-packages", vt_tree(c->st, sp, 2))};
	struct vv_tree_ent lib[] = {vt_dir_ent("python3.11", vt_tree(c->st, py, 1))};
	struct vv_tree_ent top[] = {vt_dir_ent("lib", vt_tree(c->st, lib, 1))};
	vv_oid eroot = vt_tree(c->st, top, 1);
	size_t nrec = count_records(c);
	assert_int_equal(vv_pkg_from_installed(c->st, &eroot, 11, "evil", "1.0", &q), 1);
	assert_int_equal(count_records(c), nrec);
	/* the same with an honest RECORD is a record */
	const char *ok = "evil.py,,\nevil-1.0.dist-info/RECORD,,\n";
	di[1] = vt_file_ent("RECORD", vt_put(c->st, ok), strlen(ok));
	sp[0] = vt_dir_ent("evil-1.0.dist-info", vt_tree(c->st, di, 3));
	py[0] = vt_dir_ent("site-packages", vt_tree(c->st, sp, 2));
	lib[0] = vt_dir_ent("python3.11", vt_tree(c->st, py, 1));
	top[0] = vt_dir_ent("lib", vt_tree(c->st, lib, 1));
	eroot = vt_tree(c->st, top, 1);
	if (vv_pkg_from_installed(c->st, &eroot, 11, "evil", "1.0", &q) != 0)
		fail_msg("%s", vv_errmsg());
	assert_int_equal(count_records(c), nrec + 1);
	assert_true(vt_lookup(c->st, &q.site, "evil.py", &pe));
	assert_false(vt_lookup(c->st, &q.site, "evil-1.0.dist-info/METADATA", &pe));
	vv_pkg_release(&q);

	/* requirement files: the env roots are the last source; --hash never matches */
	char *lw = wheel(c, "late", "2.0", NULL, NULL);
	vv_oid lroot = pip_installed(c, lw);
	char *rf = reqfile(c, "late.txt", "late==2.0\n");
	struct vv_pkg *pk;
	size_t n;
	char *report, *skipped;
	assert_int_equal(vv_pkg_resolve(c->st, rf, NULL, 0, NULL, 0, &c->py, NULL, &pk, &n,
					&report, &skipped), -ENOENT);
	free(report);
	vv_oid roots[] = {root, lroot};
	if (vv_pkg_resolve(c->st, rf, NULL, 0, roots, 2, &c->py, NULL, &pk, &n, &report,
			   &skipped) < 0)
		fail_msg("%s", vv_errmsg());
	assert_int_equal(n, 1);
	assert_string_equal(pk[0].name, "late");
	assert_true(pk[0].ingested);
	vv_pkg_release(&pk[0]);
	free(pk);
	/* recorded now: found without the roots next time */
	if (vv_pkg_resolve(c->st, rf, NULL, 0, NULL, 0, &c->py, NULL, &pk, &n, &report,
			   &skipped) < 0)
		fail_msg("%s", vv_errmsg());
	assert_int_equal(n, 1);
	vv_pkg_release(&pk[0]);
	free(pk);
	char hashed[300], hex[VV_OID_HEX + 1];
	vv_oid_hex(&p.sha256, hex);
	snprintf(hashed, sizeof(hashed), "pip-made==1.0 --hash=sha256:%s\n", hex);
	char *rh = reqfile(c, "hashed.txt", hashed);
	assert_int_equal(vv_pkg_resolve(c->st, rh, NULL, 0, &root, 1, &c->py, NULL, &pk, &n,
					&report, &skipped), -ENOENT);
	assert_non_null(report);
	free(report);
	vv_pkg_release(&p);
	free(rf);
	free(rh);
	free(w);
	free(lw);
}

static void test_hostile(void **state)
{
	struct ctx *c = *state;
	size_t big = 8u << 20;
	char *zeros = calloc(1, big);
#define B {"bad/__init__.py", "", 0, 0}
	static char ep1[] = "[console_scripts]\nsub/dir = bad:main\n";
	static char ep2[] = "[console_scripts]\n../../x = bad:main\n";
	struct {
		struct vt_member m[3];
		size_t n;
		struct vt_wheel_opts o;
		const char *want; /* after "bad-1.0-py3-none-any.whl: " */
	} cases[] = {
		{{B, {"bad/../../../x.py", "x", 0, 0}}, 2, {0}, "bad/../../../x.py: '..' component"},
		{{B, {"/etc/cron.d/x", "x", 0, 0}}, 2, {0}, "/etc/cron.d/x: absolute member name"},
		{{B, {"bad-1.0.data/data/../site/x", "x", 0, 0}}, 2, {0},
		 "bad-1.0.data/data/../site/x: '..' component"},
		{{B, {"bad-1.0.data/purelib/../../sibling/x.py", "x", 0, 0}}, 2, {0},
		 "bad-1.0.data/purelib/../../sibling/x.py: '..' component"},
		{{B, {"bad/l", "/etc/passwd", 0, S_IFLNK | 0777}}, 2, {0},
		 "bad/l: symbolic links are not allowed"},
		{{B, {"bad/dev", "", 0, S_IFCHR | 0644}}, 2, {0}, "bad/dev: not a regular file"},
		{{B, {"bad/blk", "", 0, S_IFBLK | 0644}}, 2, {0}, "bad/blk: not a regular file"},
		{{B, {"bad/fifo", "", 0, S_IFIFO | 0644}}, 2, {0}, "bad/fifo: not a regular file"},
		{{B, {"bad/a.py", "a\n", 0, 0}}, 2, {.bad_hash = "bad/a.py"},
		 "bad/a.py: sha256 does not match RECORD"},
		{{B, {"bad/a.py", "a\n", 0, 0}}, 2, {.bad_size = "bad/a.py"},
		 "bad/a.py: size 2 does not match RECORD (3)"},
		{{B, {"bad/a.py", "a\n", 0, 0}}, 2, {.unlisted = "bad/a.py"},
		 "bad/a.py: not listed in RECORD"},
		{{B, {"bad/a.py", "a\n", 0, 0}}, 2, {.no_hash = "bad/a.py"},
		 "bad/a.py: no hash in RECORD"},
		{{B, {"bad/a.py", "a\n", 0, 0}}, 2, {.other_hash = "bad/a.py"},
		 "bad/a.py: hash 'md5' in RECORD is not sha256"},
		{{B, {"bad-1.0.dist-info/INSTALLER", "evil\n", 0, 0}}, 2,
		 {.unlisted = "bad-1.0.dist-info/INSTALLER"},
		 "bad-1.0.dist-info/INSTALLER: not listed in RECORD"},
		{{B, {"bad/zeros.bin", zeros, big, 0}}, 2, {0},
		 "bad/zeros.bin: compression ratio above 200:1"},
		{{B}, 1, {.no_distinfo = true}, "no .dist-info directory"},
		{{B, {"evil-2.0.dist-info/METADATA", "Name: evil\n", 0, 0}}, 2, {0},
		 "more than one .dist-info directory"},
		{{B, {"bad-1.0.dist-info/entry_points.txt", ep1, 0, 0}}, 2, {0},
		 "bad-1.0.dist-info/entry_points.txt: bad entry point name 'sub/dir'"},
		{{B, {"bad-1.0.dist-info/entry_points.txt", ep2, 0, 0}}, 2, {0},
		 "bad-1.0.dist-info/entry_points.txt: bad entry point name '../../x'"},
	};
	vv_oid before = env_root(c, "e");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		cases[i].o.name = "bad";
		char *w = vt_wheel_build(c->dir, "bad-1.0-py3-none-any.whl", cases[i].m, cases[i].n,
					 &cases[i].o);
		const char *ws[] = {w};
		struct vv_installed *res = NULL;
		vv_err_clear();
		int r = vv_install_wheels(c->st, "e", ws, 1, &res);
		if (r != -EINVAL || !strstr(vv_errmsg(), "bad-1.0-py3-none-any.whl: ") ||
		    !strstr(vv_errmsg(), cases[i].want))
			fail_msg("case %zu: got %d '%s', want '%s'", i, r, vv_errmsg(), cases[i].want);
		assert_null(res);
		vv_oid after = env_root(c, "e");
		assert_true(vv_oid_eq(&before, &after));
		assert_int_equal(count_records(c), 0);
		unlink(w);
		free(w);
	}
	free(zeros);

	/* duplicate member names (patched after building: libzip refuses to write them) */
	struct vt_member m[] = {B, {"bad/dupA.py", "a", 0, 0}, {"bad/dupB.py", "b", 0, 0}};
	char *w = vt_wheel_build(c->dir, "bad-1.0-py3-none-any.whl", m, 3,
				 &(struct vt_wheel_opts){.name = "bad", .store_only = true});
	assert_int_equal(vt_patch_file(w, "bad/dupB.py", "bad/dupA.py"), 3);
	const char *ws[] = {w};
	struct vv_installed *res = NULL;
	assert_int_equal(vv_install_wheels(c->st, "e", ws, 1, &res), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "bad-1.0-py3-none-any.whl: bad/dupA.py: duplicate "
			       "member"));
	/* truncated, and not a zip at all */
	struct vt_member ok[] = {B, {"bad/a.py", "a = 1\n", 0, 0}};
	w = (free(w), vt_wheel_build(c->dir, "bad-1.0-py3-none-any.whl", ok, 2,
				     &(struct vt_wheel_opts){.name = "bad"}));
	struct stat sb;
	assert_int_equal(stat(w, &sb), 0);
	assert_int_equal(truncate(w, sb.st_size - 30), 0);
	ws[0] = w;
	assert_int_equal(vv_install_wheels(c->st, "e", ws, 1, &res), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "bad-1.0-py3-none-any.whl: not a valid wheel"));
	vt_write_file(w, "PK\3\4 nothing\n", 14);
	assert_int_equal(vv_install_wheels(c->st, "e", ws, 1, &res), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "bad-1.0-py3-none-any.whl: not a valid wheel"));
	vv_oid after = env_root(c, "e");
	assert_true(vv_oid_eq(&before, &after));
	assert_int_equal(count_records(c), 0);
	free(w);
#undef B
}

static void test_gc(void **state)
{
	struct ctx *c = *state;
	char *a = wheel(c, "alpha", "1.0", NULL, "alpha-run");
	char *b = wheel(c, "beta", "1.0", NULL, NULL);
	struct vv_pkg pa, pb;
	assert_int_equal(vv_pkg_ingest(c->st, a, &c->py, NULL, 0, &pa), 0);
	assert_int_equal(vv_pkg_ingest(c->st, b, &c->py, NULL, 0, &pb), 0);
	const char *ws[] = {a};
	struct vv_installed *res;
	assert_int_equal(vv_install_wheels(c->st, "e", ws, 1, &res), 0);
	vv_installed_free(res, 1);

	/* Records are roots: nothing of beta goes although no env uses it. */
	struct vv_gc_opts o = {.grace_s = 0};
	struct vv_gc_result gr;
	if (vv_gc(c->st, &o, &gr) < 0)
		fail_msg("%s", vv_errmsg());
	assert_int_equal(gr.packages, 2);
	assert_int_equal(vv_odb_has(&c->st->odb, &pb.tree), 1);
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &pb.site, "beta/__init__.py", &e));
	assert_int_equal(vv_odb_has(&c->st->odb, &e.oid), 1);

	/* --drop-packages, dry run: reports beta, removes nothing. */
	o.drop_packages = true;
	o.dry_run = true;
	assert_int_equal(vv_gc(c->st, &o, &gr), 0);
	assert_int_equal(gr.packages_dropped, 1);
	assert_int_equal(count_records(c), 2);
	/* for real (beta's record is older than a grace period of 0 s) */
	o.dry_run = false;
	o.now_s = time(NULL) + 10;
	assert_int_equal(vv_gc(c->st, &o, &gr), 0);
	assert_int_equal(gr.packages_dropped, 1);
	assert_int_equal(gr.packages, 1);
	assert_int_equal(count_records(c), 1);
	assert_int_equal(vv_odb_has(&c->st->odb, &pb.tree), 0);
	assert_int_equal(vv_odb_has(&c->st->odb, &pa.tree), 1);
	/* alpha's record stays usable */
	struct vv_pkg again;
	assert_int_equal(vv_pkg_ingest(c->st, a, &c->py, NULL, 0, &again), 0);
	assert_false(again.ingested);
	vv_pkg_release(&again);
	/* a damaged record stops gc: what it references is unknown */
	char p[4096];
	snprintf(p, sizeof(p), "%s/packages/x@1@3.11@%064d", c->st->path, 0);
	vt_write_file(p, "garbage\n", 8);
	o.drop_packages = false;
	assert_int_equal(vv_gc(c->st, &o, &gr), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "nothing deleted"));
	vv_pkg_release(&pa);
	vv_pkg_release(&pb);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ingest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_graft, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_markers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_installed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
