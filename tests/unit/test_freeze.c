/* test_freeze.c - pip freeze's lines from a tree: names and order, PEP 610 direct
 * references (archive, vcs, editable, subdirectory), .egg-info, what is left out per
 * Python and pip version and with --all, unreadable metadata, and env errors. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env/env.h"
#include "util/error.h"
#include "ops/freeze.h"
#include "store/store.h"

struct dist_spec {
	const char *dir;       /* NAME.dist-info or NAME.egg-info */
	const char *meta;      /* METADATA / PKG-INFO text, NULL: none */
	const char *direct;    /* direct_url.json text, NULL: none */
};

/* A root tree lib/python3.MINOR/site-packages holding the given dist dirs. */
static vv_oid make_root(struct vv_store *st, int minor, const struct dist_spec *d, size_t n)
{
	struct vv_tree_ent site[16];
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		struct vv_tree_ent files[2];
		size_t nf = 0;
		bool egg = strstr(d[i].dir, ".egg-info") != NULL;
		if (d[i].meta)
			files[nf++] = vt_file_ent(egg ? "PKG-INFO" : "METADATA", vt_put(st, d[i].meta),
						  strlen(d[i].meta));
		if (d[i].direct)
			files[nf++] = vt_file_ent("direct_url.json", vt_put(st, d[i].direct),
						  strlen(d[i].direct));
		site[i] = vt_dir_ent(d[i].dir, vt_tree(st, files, nf));
	}
	struct vv_tree_ent sp = vt_dir_ent("site-packages", vt_tree(st, site, n));
	char pyname[32];
	snprintf(pyname, sizeof(pyname), "python3.%d", minor);
	struct vv_tree_ent py = vt_dir_ent(pyname, vt_tree(st, &sp, 1));
	struct vv_tree_ent lib = vt_dir_ent("lib", vt_tree(st, &py, 1));
	return vt_tree(st, &lib, 1);
}

static char *freeze(struct vv_store *st, const vv_oid *root, int minor, bool all)
{
	char *out = NULL;
	size_t len = 0;
	if (vv_freeze_tree(st, root, minor, all, &out, &len) < 0)
		fail_msg("vv_freeze_tree: %s", vv_errmsg());
	assert_int_equal(strlen(out), len);
	return out;
}

static void expect(struct vv_store *st, const vv_oid *root, int minor, bool all, const char *want)
{
	char *got = freeze(st, root, minor, all);
	assert_string_equal(got, want);
	free(got);
}

static const struct dist_spec common[] = {
	{"zeta_lib-2.1.dist-info", "Metadata-Version: 2.1\nName: zeta_lib\nVersion: 2.1\n\nName: body\n", NULL},
	{"MixedCase_Pkg-1.0.dist-info", "Metadata-Version: 2.1\nname:   MixedCase-Pkg  \nVersion: 1.0\n", NULL},
	{"alpha.beta-0.5.dist-info", "Name: Alpha.Beta\r\nVersion: 0.5\r\n\r\n", NULL},
	{"aardvark-3.0.dist-info", "Name: aardvark\nVersion: 3.0\n",
	 "{\"archive_info\": {\"hash\": \"sha256=abc\", \"hashes\": {\"sha256\": \"abc\"}}, "
	 "\"url\": \"file:///w/aardvark-3.0-py3-none-any.whl\"}"},
	{"pip-23.2.1.dist-info", "Name: pip\nVersion: 23.2.1\n", NULL},
	{"setuptools-65.5.0.dist-info", "Name: setuptools\nVersion: 65.5.0\n", NULL},
	{"wheel-0.38.4.dist-info", "Name: wheel\nVersion: 0.38.4\n", NULL},
	{"Legacy.egg-info", "Metadata-Version: 1.0\nName: Legacy\nVersion: 0.1\n", NULL},
	{"nometa-1.0.dist-info", NULL, NULL},
	{"noversion-1.0.dist-info", "Name: noversion\n", NULL},
	{"wsgiref-0.1.dist-info", "Name: wsgiref\nVersion: 0.1\n", NULL},
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

static void test_order_and_skips(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r11 = make_root(st, 11, common, NCOMMON);
	const char *body = "aardvark @ file:///w/aardvark-3.0-py3-none-any.whl#sha256=abc\n"
			   "Alpha.Beta==0.5\n"
			   "Legacy==0.1\n"
			   "MixedCase-Pkg==1.0\n";
	char want[1024];
	/* Python 3.11, pip 23.2: pip, setuptools, wheel left out */
	snprintf(want, sizeof(want), "%szeta_lib==2.1\n", body);
	expect(st, &r11, 11, false, want);
	snprintf(want, sizeof(want), "%spip==23.2.1\nsetuptools==65.5.0\nwheel==0.38.4\n"
		 "zeta_lib==2.1\n", body);
	expect(st, &r11, 11, true, want);
	/* Python 3.12: only pip */
	vv_oid r12 = make_root(st, 12, common, NCOMMON);
	snprintf(want, sizeof(want), "%ssetuptools==65.5.0\nwheel==0.38.4\nzeta_lib==2.1\n", body);
	expect(st, &r12, 12, false, want);
	vt_store_free(st);
}

static void test_old_pip(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	const struct dist_spec d[] = {
		{"pip-23.0.1.dist-info", "Name: pip\nVersion: 23.0.1\n", NULL},
		{"setuptools-66.dist-info", "Name: setuptools\nVersion: 66\n", NULL},
		{"pkg_resources-0.0.0.dist-info", "Name: pkg_resources\nVersion: 0.0.0\n", NULL},
		{"b-1.dist-info", "Name: b\nVersion: 1\n", NULL},
	};
	/* pips before 23.1 leave out setuptools and pkg-resources even on 3.12 */
	vv_oid r = make_root(st, 12, d, 4);
	expect(st, &r, 12, false, "b==1\n");
	expect(st, &r, 12, true, "b==1\npip==23.0.1\npkg_resources==0.0.0\nsetuptools==66\n");
	vt_store_free(st);
}

static void test_direct_urls(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	const struct dist_spec d[] = {
		{"a-1.dist-info", "Name: a\nVersion: 1\n",
		 "{\"url\": \"https://g.example/a.git\", \"vcs_info\": {\"vcs\": \"git\", "
		 "\"commit_id\": \"deadbeef\", \"requested_revision\": \"main\"}, "
		 "\"subdirectory\": \"pkg\\/a\"}"},
		{"b-2.dist-info", "Name: b\nVersion: 2\n",
		 "{\"url\": \"file:///src/my%20b\", \"dir_info\": {\"editable\": true}}"},
		{"c-3.dist-info", "Name: c\nVersion: 3\n",
		 "{\"url\": \"file:///src/c\", \"dir_info\": {}}"},
		{"d-4.dist-info", "Name: d\nVersion: 4\n",
		 "{\"url\": \"https://x.example/d.zip\", \"archive_info\": {}, \"subdirectory\": \"s\"}"},
		/* unreadable or invalid direct_url.json: pip's own name==version */
		{"e-5.dist-info", "Name: e\nVersion: 5\n", "{\"url\": \"x\""},
		{"f-6.dist-info", "Name: f\nVersion: 6\n", "{\"url\": \"x\", \"dir_info\": {}, "
		 "\"archive_info\": {}}"},
		{"g-7.dist-info", "Name: g\nVersion: 7\n", "{\"url\": \"\\u00e9\\ud83d\\ude00\", "
		 "\"archive_info\": {\"hash\": \"md5=1\"}, \"n\": [1, -2.5e3, null, false]}"},
	};
	vv_oid r = make_root(st, 11, d, sizeof(d) / sizeof(d[0]));
	expect(st, &r, 11, false,
	       "a @ git+https://g.example/a.git@deadbeef#subdirectory=pkg/a\n"
	       "# Editable install with no version control (b==2)\n"
	       "-e /src/my b\n"
	       "c @ file:///src/c\n"
	       "d @ https://x.example/d.zip#subdirectory=s\n"
	       "e==5\n"
	       "f==6\n"
	       "g @ \xc3\xa9\xf0\x9f\x98\x80#md5=1\n");
	vt_store_free(st);
}

static void test_env(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid r = make_root(st, 11, common, 1);
	vt_mkenv(st, "e", r);
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(vv_freeze(st, "e", false, &out, &len), 0);
	assert_string_equal(out, "zeta_lib==2.1\n");
	free(out);
	vv_err_clear();
	assert_int_equal(vv_freeze(st, "nosuch", false, &out, &len), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "no env named 'nosuch'"));
	/* an env without lib/python3.N */
	vt_mkenv(st, "bare", vt_tree(st, NULL, 0));
	vv_err_clear();
	assert_int_equal(vv_freeze(st, "bare", false, &out, &len), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "env 'bare'"));
	/* no site-packages: nothing installed */
	struct vv_tree_ent py = vt_dir_ent("python3.11", vt_tree(st, NULL, 0));
	struct vv_tree_ent lib = vt_dir_ent("lib", vt_tree(st, &py, 1));
	vv_oid empty = vt_tree(st, &lib, 1);
	char *txt = freeze(st, &empty, 11, true);
	assert_string_equal(txt, "");
	free(txt);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_skips),
		cmocka_unit_test(test_old_pip),
		cmocka_unit_test(test_direct_urls),
		cmocka_unit_test(test_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
