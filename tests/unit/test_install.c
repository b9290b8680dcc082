/*
 * test_install.c - `venvctl add` in core: wheels installed into an env made from a small
 * skeleton, a newer version replacing the older one's files (as pip's upgrade does),
 * and refusals (bad tags, a hostile wheel, uncommitted journal) that leave the env's
 * root unchanged. Wheels are built with libzip (testutil.h); the tags alone are
 * test_tags.c's.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/txn.h"
#include "env/env.h"
#include "util/error.h"
#include "util/hash.h"
#include "ops/install.h"
#include "store/store.h"
#include "store/tree.h"
#include "store/treebuild.h"

#define SP "lib/python3.11/site-packages/"
/* sha256 of the empty file, urlsafe base64 without padding */
#define EMPTY_B64 "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"

struct ctx {
	struct vv_store *st;
	char *dir;
	vv_oid skel;
};

static void put_file(struct vv_store *st, struct vv_tb *tb, const char *path, const char *text)
{
	struct vv_tree_ent e = {.kind = VV_REG, .mode = 0644, .size = strlen(text),
				.mtime_ns = 1000};
	assert_int_equal(vv_odb_put_buf(&st->odb, text, strlen(text), &e.oid), 0);
	assert_int_equal(vv_tb_add(tb, path, &e), 0);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	c->st = vt_store_new();
	c->dir = vt_tempdir();
	/* a skeleton: bin/, include/, an unrelated package in site-packages */
	struct vv_tb *tb = vv_tb_new(1000);
	struct vv_tree_ent d = {.kind = VV_DIR, .mode = 0755, .mtime_ns = 1000};
	assert_int_equal(vv_tb_add(tb, "bin", &d), 0);
	assert_int_equal(vv_tb_add(tb, "include", &d), 0);
	put_file(c->st, tb, SP "other/__init__.py", "x = 1\n");
	put_file(c->st, tb, SP "other-1.0.dist-info/RECORD", "other/__init__.py,,\n");
	/* an installed RECORD reaching outside site-packages and the env */
	put_file(c->st, tb, SP "evil-0.1.dist-info/RECORD",
		 "../../../../../../etc/passwd,,\n/etc/shadow,,\n../../../include,,\n"
		 "../../../bin,,\n./other/../other/__init__.py,,\nevil.py,,\n");
	put_file(c->st, tb, SP "evil.py", "e = 1\n");
	assert_int_equal(vv_tb_write(tb, c->st, &c->skel), 0);
	vv_tb_free(tb);
	struct vv_envcfg cfg = {.python = (char *)"/nonexistent/python3.11", .root = c->skel};
	assert_int_equal(vv_txn_create(c->st, "e", &cfg), 0);
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

static vv_oid env_root(struct ctx *c)
{
	struct vv_envcfg cfg;
	assert_int_equal(vv_env_load(c->st, "e", &cfg), 0);
	vv_oid r = cfg.root;
	vv_envcfg_release(&cfg);
	return r;
}


static int has(struct ctx *c, const vv_oid *root, const char *path)
{
	struct vv_tree_ent e;
	return vt_lookup(c->st, root, path, &e);
}

static char *content(struct ctx *c, const vv_oid *root, const char *path)
{
	struct vv_tree_ent e;
	if (!vt_lookup(c->st, root, path, &e))
		fail_msg("'%s' missing", path);
	char *buf;
	size_t l;
	assert_int_equal(vv_odb_read_obj(&c->st->odb, &e.oid, 1 << 20, &buf, &l), 0);
	char *z = malloc(l + 1);
	memcpy(z, buf, l);
	z[l] = 0;
	free(buf);
	return z;
}

static int add(struct ctx *c, const char *wheel, struct vv_installed **out)
{
	const char *w[] = {wheel};
	struct vv_installed *res = NULL;
	int r = vv_install_wheels(c->st, "e", w, 1, &res);
	if (out)
		*out = res;
	else
		vv_installed_free(res, 1);
	return r;
}

static const char entry_points[] = "[console_scripts]\ndemo = demo:main\n";

static void test_add_and_replace(void **state)
{
	struct ctx *c = *state;
	struct vt_member m1[] = {
		{"demo/__init__.py", "def main():\n    return 0\n", 0, 0},
		{"demo/old.py", "old = 1\n", 0, 0},
		{"demo/sub/x.py", "x = 1\n", 0, 0},
		{"demo-1.0.dist-info/entry_points.txt", entry_points, 0, 0},
	};
	char *w1 = vt_wheel_build(c->dir, "demo-1.0-py3-none-any.whl", m1, 4, NULL);
	struct vv_installed *res;
	assert_int_equal(add(c, w1, &res), 0);
	assert_string_equal(res[0].name, "demo");
	assert_string_equal(res[0].version, "1.0");
	assert_null(res[0].replaced);
	vv_installed_free(res, 1);

	vv_oid r1 = env_root(c);
	assert_false(vv_oid_eq(&r1, &c->skel));
	assert_true(has(c, &r1, SP "demo/old.py"));
	assert_true(has(c, &r1, SP "demo/sub/x.py"));
	assert_true(has(c, &r1, SP "other/__init__.py"));
	assert_true(has(c, &r1, "include"));
	struct vv_tree_ent e;
	assert_true(vt_lookup(c->st, &r1, "bin/demo", &e));
	assert_int_equal(e.kind, VV_SCRIPT);
	char *s = content(c, &r1, SP "demo-1.0.dist-info/INSTALLER");
	assert_string_equal(s, "venvctl\n");
	free(s);
	assert_true(vt_lookup(c->st, &r1, SP "demo-1.0.dist-info/REQUESTED", &e));
	assert_int_equal(e.size, 0);
	s = content(c, &r1, SP "demo-1.0.dist-info/RECORD");
	assert_non_null(strstr(s, "demo-1.0.dist-info/REQUESTED,sha256=" EMPTY_B64 ",0\n"));
	assert_non_null(strstr(s, "../../../bin/demo,sha256="));
	free(s);

	/* a newer version: the old files go, directories left empty go, new ones come */
	struct vt_member m2[] = {
		{"demo/__init__.py", "def main():\n    return 2\n", 0, 0},
		{"demo/new.py", "new = 1\n", 0, 0},
		{"demo-2.0.dist-info/entry_points.txt", entry_points, 0, 0},
	};
	struct vt_wheel_opts o2 = {.version = "2.0"};
	char *w2 = vt_wheel_build(c->dir, "Demo-2.0-py2.py3-none-any.whl", m2, 3, &o2);
	assert_int_equal(add(c, w2, &res), 0);
	assert_string_equal(res[0].version, "2.0");
	assert_string_equal(res[0].replaced, "1.0");
	vv_installed_free(res, 1);
	vv_oid r2 = env_root(c);
	assert_false(has(c, &r2, SP "demo/old.py"));
	assert_false(has(c, &r2, SP "demo/sub"));
	assert_false(has(c, &r2, SP "demo-1.0.dist-info"));
	assert_true(has(c, &r2, SP "demo/new.py"));
	assert_true(has(c, &r2, SP "demo-2.0.dist-info/REQUESTED"));
	assert_true(has(c, &r2, SP "other/__init__.py"));
	assert_true(has(c, &r2, "bin/demo"));
	s = content(c, &r2, SP "demo/__init__.py");
	assert_non_null(strstr(s, "return 2"));
	free(s);
	free(w1);
	free(w2);
}

static void test_refused(void **state)
{
	struct ctx *c = *state;
	struct vt_member m[] = {{"demo/a.py", "a = 1\n", 0, 0}};
	vv_oid before = env_root(c);

	char *w = vt_wheel_build(c->dir, "demo-1.0-cp27-cp27mu-linux_x86_64.whl", m, 1, NULL);
	assert_int_equal(add(c, w, NULL), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "demo-1.0-cp27-cp27mu-linux_x86_64.whl: not for this"));
	free(w);

	struct vt_wheel_opts o = {.bad_hash = "demo/a.py"};
	w = vt_wheel_build(c->dir, "demo-1.0-py3-none-any.whl", m, 1, &o);
	assert_int_equal(add(c, w, NULL), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "demo/a.py: sha256 does not match RECORD"));
	free(w);

	/* several wheels: one bad one stops all of them */
	char *good = vt_wheel_build(c->dir, "good-1.0-py3-none-any.whl",
				    (struct vt_member[]){{"good/__init__.py", "g = 1\n", 0, 0}}, 1,
				    &(struct vt_wheel_opts){.name = "good"});
	w = vt_wheel_build(c->dir, "demo-1.0-py3-none-any.whl", m, 1, &o);
	const char *both[] = {good, w};
	struct vv_installed *res = NULL;
	assert_int_equal(vv_install_wheels(c->st, "e", both, 2, &res), -EINVAL);
	assert_null(res);
	free(w);

	/* the file name must name the distribution inside */
	w = vt_wheel_build(c->dir, "other-1.0-py3-none-any.whl", m, 1, NULL);
	assert_int_equal(add(c, w, NULL), -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "METADATA says demo"));
	free(w);

	vv_oid after = env_root(c);
	assert_true(vv_oid_eq(&before, &after));

	/* uncommitted changes in the journal: -EBUSY, nothing written */
	char hex[VV_OID_HEX + 1], j[200];
	vv_oid_hex(&before, hex);
	snprintf(j, sizeof(j), "venvfs-journal 1 %s\nu 5:a.txt\n", hex);
	snprintf(hex, sizeof(hex), "%s/journal/e", c->st->path);
	vt_write_file(hex, j, strlen(j));
	assert_int_equal(add(c, good, NULL), -EBUSY);
	after = env_root(c);
	assert_true(vv_oid_eq(&before, &after));
	/* a journal with only its header is no obstacle, and it is removed */
	vt_write_file(hex, j, strchr(j, '\n') + 1 - j);
	assert_int_equal(add(c, good, NULL), 0);
	assert_int_equal(access(hex, F_OK), -1);
	free(good);

	assert_int_equal(vv_install_wheels(c->st, "nope", both, 1, &res), -ENOENT);
}

/* Replacing a distribution whose installed RECORD is hostile: only files inside the
 * env are taken out (here other/__init__.py, which it lists), never directories. */
static void test_hostile_record(void **state)
{
	struct ctx *c = *state;
	char *w = vt_wheel_build(c->dir, "evil-1.0-py3-none-any.whl",
				 (struct vt_member[]){{"evil2.py", "e = 2\n", 0, 0}}, 1,
				 &(struct vt_wheel_opts){.name = "evil"});
	struct vv_installed *res;
	assert_int_equal(add(c, w, &res), 0);
	assert_string_equal(res[0].replaced, "0.1");
	vv_installed_free(res, 1);
	vv_oid r = env_root(c);
	assert_true(has(c, &r, "include"));
	assert_true(has(c, &r, "bin"));
	assert_false(has(c, &r, SP "evil.py"));
	assert_false(has(c, &r, SP "evil-0.1.dist-info"));
	assert_false(has(c, &r, SP "other")); /* listed, so removed; emptied dir goes too */
	assert_true(has(c, &r, SP "other-1.0.dist-info/RECORD"));
	assert_true(has(c, &r, SP "evil2.py"));
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
