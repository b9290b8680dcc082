/*
 * test_seed.c - env skeletons: the right directories, pip installed once into the
 * store, deterministic ids across stores, idempotent re-seeding. Uses a hand-filled
 * interpreter description and a small pip wheel built by the test.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/error.h"
#include "util/hash.h"
#include "python/python.h"
#include "pkg/seed.h"
#include "store/store.h"
#include "store/tree.h"

struct ctx {
	struct vv_store *st;
	char *dir;
	char *wheel;
	char *exe;
};

static const struct vt_member pip_members[] = {
	{"pip/__init__.py", "__version__ = '9.0'\n", 0, 0},
	{"pip/_internal/cli/main.py", "def main():\n    return 0\n", 0, 0},
	{"pip-9.0.dist-info/entry_points.txt",
	 "[console_scripts]\npip = pip._internal.cli.main:main\n"
	 "pip3 = pip._internal.cli.main:main\npip3.9 = pip._internal.cli.main:main\n",
	 0, 0},
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	c->st = vt_store_new();
	c->dir = vt_tempdir();
	struct vt_wheel_opts o = {.name = "pip", .version = "9.0"};
	c->wheel = vt_wheel_build(c->dir, "pip-9.0-py3-none-any.whl", pip_members, 3, &o);
	assert_true(asprintf(&c->exe, "%s/python3.11", c->dir) > 0);
	vt_write_file(c->exe, "#!/bin/false\n", 13);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	vt_store_free(c->st);
	vt_rmtree(c->dir);
	free(c->wheel);
	free(c->exe);
	free(c);
	return 0;
}

/* A hand-filled interpreter (fields point into c; do not release). */
static struct vv_python fake_py(struct ctx *c, bool with_pip)
{
	struct vv_python py = {
		.exe = c->exe,
		.home = c->dir,
		.base_exe = c->exe,
		.version = (char *)"3.11.7",
		.major = 3,
		.minor = 11,
		.pip_wheel = with_pip ? c->wheel : NULL,
	};
	return py;
}

/* Kind of path under root, or 0 if absent; *sub gets a directory's tree id. */
static int kind_at(struct vv_store *st, const vv_oid *root, const char *path, vv_oid *sub)
{
	vv_oid cur = *root;
	char buf[512], *save = NULL;
	int kind = VV_DIR;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (kind != VV_DIR)
			return 0;
		struct vv_tree *t;
		assert_int_equal(vv_tree_get(st, &cur, &t), 0);
		const struct vv_tree_ent *e = vv_tree_find(t, p, strlen(p));
		if (!e) {
			vv_tree_unref(t);
			return 0;
		}
		kind = e->kind;
		cur = e->oid;
		vv_tree_unref(t);
	}
	if (sub)
		*sub = cur;
	return kind;
}

static size_t tree_size(struct vv_store *st, const vv_oid *oid)
{
	struct vv_tree *t;
	assert_int_equal(vv_tree_get(st, oid, &t), 0);
	size_t n = t->n;
	vv_tree_unref(t);
	return n;
}

static void check_dirs(struct vv_store *st, const vv_oid *root)
{
	vv_oid sub;
	assert_int_equal(tree_size(st, root), 3); /* bin, include, lib */
	assert_int_equal(kind_at(st, root, "bin", NULL), VV_DIR);
	assert_int_equal(kind_at(st, root, "include/python3.11", &sub), VV_DIR);
	assert_int_equal(tree_size(st, &sub), 0);
	assert_int_equal(kind_at(st, root, "lib", &sub), VV_DIR);
	assert_int_equal(tree_size(st, &sub), 1);
	assert_int_equal(kind_at(st, root, "lib/python3.11/site-packages", NULL), VV_DIR);
	assert_int_equal(kind_at(st, root, "pyvenv.cfg", NULL), 0);
	assert_int_equal(kind_at(st, root, "bin/python", NULL), 0);
}

static void test_skeletons(void **state)
{
	struct ctx *c = *state;
	struct vv_python py = fake_py(c, true);
	if (vv_seed_ensure(c->st, &py) < 0)
		fail_msg("seed: %s", vv_errmsg());
	assert_false(vv_oid_is_zero(&py.skel_pip));
	assert_false(vv_oid_is_zero(&py.skel_nopip));
	assert_false(vv_oid_eq(&py.skel_pip, &py.skel_nopip));

	vv_oid sub;
	check_dirs(c->st, &py.skel_nopip);
	assert_int_equal(kind_at(c->st, &py.skel_nopip, "bin", &sub), VV_DIR);
	assert_int_equal(tree_size(c->st, &sub), 0);
	assert_int_equal(kind_at(c->st, &py.skel_nopip, "lib/python3.11/site-packages", &sub),
			 VV_DIR);
	assert_int_equal(tree_size(c->st, &sub), 0);

	check_dirs(c->st, &py.skel_pip);
	const vv_oid *p = &py.skel_pip;
	assert_int_equal(kind_at(c->st, p, "lib/python3.11/site-packages/pip/__init__.py", NULL),
			 VV_REG);
	assert_int_equal(
		kind_at(c->st, p, "lib/python3.11/site-packages/pip-9.0.dist-info/RECORD", NULL),
		VV_REG);
	assert_int_equal(kind_at(c->st, p, "bin/pip", NULL), VV_SCRIPT);
	assert_int_equal(kind_at(c->st, p, "bin/pip3", NULL), VV_SCRIPT);
	assert_int_equal(kind_at(c->st, p, "bin/pip3.11", NULL), VV_SCRIPT);
	assert_int_equal(kind_at(c->st, p, "bin/pip3.9", NULL), 0);

	/* the facts were cached */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/pythons", c->st->path);
	assert_int_equal(vt_count_files(dir), 1);
}

static void test_idempotent(void **state)
{
	struct ctx *c = *state;
	struct vv_python py = fake_py(c, true);
	assert_int_equal(vv_seed_ensure(c->st, &py), 0);
	vv_oid pip = py.skel_pip, nopip = py.skel_nopip;

	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/pythons", c->st->path);
	size_t objs = vt_count_files(c->st->path);
	struct stat before, after;
	assert_int_equal(vt_count_files(dir), 1);
	assert_int_equal(stat(dir, &before), 0);

	/* cached and present: nothing is rebuilt or rewritten (a rewrite of the facts
	 * file renames into pythons/ and so changes its mtime) */
	assert_int_equal(vv_seed_ensure(c->st, &py), 0);
	assert_true(vv_oid_eq(&pip, &py.skel_pip));
	assert_true(vv_oid_eq(&nopip, &py.skel_nopip));
	assert_int_equal(stat(dir, &after), 0);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	assert_int_equal(vt_count_files(c->st->path), objs);

	/* forgotten ids: rebuilt to the same ids, no new objects */
	struct vv_python py2 = fake_py(c, true);
	assert_int_equal(vv_seed_ensure(c->st, &py2), 0);
	assert_true(vv_oid_eq(&pip, &py2.skel_pip));
	assert_true(vv_oid_eq(&nopip, &py2.skel_nopip));
	assert_int_equal(vt_count_files(c->st->path), objs);

	/* ids that are not in the store (another store's cache): rebuilt */
	struct vv_store *other = vt_store_new();
	struct vv_python py3 = fake_py(c, true);
	py3.skel_pip = pip;
	py3.skel_nopip = nopip;
	assert_int_equal(vv_seed_ensure(other, &py3), 0);
	assert_int_equal(vv_odb_has(&other->odb, &pip), 1);
	assert_true(vv_oid_eq(&pip, &py3.skel_pip));
	assert_true(vv_oid_eq(&nopip, &py3.skel_nopip));
	vt_store_free(other);
}

static void test_without_pip_wheel(void **state)
{
	struct ctx *c = *state;
	struct vv_python py = fake_py(c, false);
	assert_int_equal(vv_seed_ensure(c->st, &py), 0);
	assert_true(vv_oid_eq(&py.skel_pip, &py.skel_nopip));
	check_dirs(c->st, &py.skel_nopip);
}

static void test_bad_pip_wheel(void **state)
{
	struct ctx *c = *state;
	char path[4096];
	snprintf(path, sizeof(path), "%s/pip-0-py3-none-any.whl", c->dir);
	vt_write_file(path, "junk", 4);
	struct vv_python py = fake_py(c, true);
	py.pip_wheel = path;
	assert_int_equal(vv_seed_ensure(c->st, &py), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "seeding pip: pip-0-py3-none-any.whl: "));
	assert_true(vv_oid_is_zero(&py.skel_pip));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_skeletons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_pip_wheel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_pip_wheel, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
