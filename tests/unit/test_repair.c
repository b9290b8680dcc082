/*
 * test_repair.c - fsck --repair on small hand-built stores: a clean store is left
 * alone; corrupt objects and stray entries go to quarantine/; missing and corrupt
 * objects come back from a directory source and from a wheel's members; a restored
 * tree that reveals a missing child is followed up in the next round; what no source
 * has ends up in STORE/damaged, which a later successful repair removes; a bad source
 * path fails before anything is changed.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/damaged.h"
#include "util/error.h"
#include "util/hash.h"
#include "ops/repair.h"
#include "ops/fsck.h"
#include "store/store.h"
#include "store/tree.h"

static bool exists_in(struct vv_store *st, const char *sub, const vv_oid *oid)
{
	char hex[VV_OID_HEX + 1], p[4096];
	vv_oid_hex(oid, hex);
	snprintf(p, sizeof(p), "%s/%s/%s", st->path, sub, hex);
	return access(p, F_OK) == 0;
}

struct log {
	int found, remaining, quarantined, restored;
};

static int on_found(const struct vv_fsck_problem *p, void *arg)
{
	(void)p;
	((struct log *)arg)->found++;
	return 0;
}

static int on_remaining(const struct vv_fsck_problem *p, void *arg)
{
	(void)p;
	((struct log *)arg)->remaining++;
	return 0;
}

static void on_action(void *arg, const char *line)
{
	struct log *l = arg;
	if (!strncmp(line, "quarantined ", 12))
		l->quarantined++;
	if (!strncmp(line, "restored object ", 16))
		l->restored++;
}

static int repair(struct vv_store *st, const char *const *src, size_t n, struct log *l,
		  struct vv_repair_result *res)
{
	struct vv_repair_opts o = {
		.sources = src, .nsources = n, .no_bundled = true, .found = on_found,
		.remaining = on_remaining, .action = on_action, .arg = l,
	};
	memset(l, 0, sizeof(*l));
	return vv_repair(st, &o, res);
}

static void test_clean(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid a = vt_put(st, "alpha\n");
	struct vv_tree_ent e[] = {vt_file_ent("a", a, 6)};
	vt_mkenv(st, "e", vt_tree(st, e, 1));
	struct log l;
	struct vv_repair_result res;
	assert_int_equal(repair(st, NULL, 0, &l, &res), 0);
	assert_int_equal(res.found, 0);
	assert_int_equal(res.remaining, 0);
	assert_int_equal(l.found + l.quarantined + l.restored, 0);
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", st->path, VV_QUARANTINE_DIR);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/%s", st->path, VV_DAMAGED_FILE);
	assert_int_equal(access(p, F_OK), -1);
	vt_store_free(st);
}

static void test_restore_from_dir_and_wheel(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	const char *ca = "alpha content\n", *cb = "beta content in a wheel\n",
		   *cc = "gamma, lost for good\n";
	vv_oid a = vt_put(st, ca), b = vt_put(st, cb), c = vt_put(st, cc);
	struct vv_tree_ent sub[] = {vt_file_ent("b.py", b, strlen(cb))};
	vv_oid subt = vt_tree(st, sub, 1);
	struct vv_tree_ent top[] = {vt_file_ent("a.txt", a, strlen(ca)),
				    vt_file_ent("c.txt", c, strlen(cc)), vt_dir_ent("pkg", subt)};
	vt_mkenv(st, "e", vt_tree(st, top, 3));

	vt_obj_drop(st, &a);                               /* missing */
	vt_obj_clobber(st, &b, "beta c0ntent in a wheel\n"); /* corrupt, same size */
	vt_obj_clobber(st, &c, "gamma");                   /* truncated */
	char stray[4096];
	snprintf(stray, sizeof(stray), "%s/objects/ab/not-an-object", st->path);
	vt_write_file(stray, "junk", 4);

	/* sources: a directory holding a's bytes, a wheel holding b's */
	char *dir = vt_tempdir();
	char p[4096];
	snprintf(p, sizeof(p), "%s/deep/er/copy-of-a", dir);
	vt_write_file(p, ca, strlen(ca));
	struct vt_member m[] = {{.name = "pkg/b.py", .data = cb}};
	char *whl = vt_wheel_build(dir, "pkg-1.0-py3-none-any.whl", m, 1, NULL);
	const char *src[] = {dir};

	struct log l;
	struct vv_repair_result res;
	assert_int_equal(repair(st, src, 1, &l, &res), 0);
	assert_true(res.found >= 4);
	assert_int_equal(l.found, (int)res.found);
	assert_int_equal(res.restored, 2);
	assert_int_equal(l.restored, 2);
	assert_int_equal(res.quarantined, 3); /* b, c, the stray */
	assert_int_equal(l.quarantined, 3);
	assert_true(exists_in(st, VV_QUARANTINE_DIR, &b));
	assert_true(exists_in(st, VV_QUARANTINE_DIR, &c));
	assert_int_equal(access(stray, F_OK), -1);
	/* c has no source: still damaged, listed */
	assert_int_equal(res.damaged, 1);
	assert_true(res.remaining >= 1);
	assert_true(l.remaining >= 1);
	struct vv_oidset d;
	assert_int_equal(vv_damaged_load(st, &d), 0);
	assert_int_equal(d.n, 1);
	assert_true(vv_oidset_has(&d, &c));
	vv_oidset_release(&d);
	assert_int_equal(vv_odb_has(&st->odb, &a), 1);
	char *buf;
	size_t len;
	assert_int_equal(vv_odb_read_obj(&st->odb, &b, 1 << 20, &buf, &len), 0);
	assert_memory_equal(buf, cb, strlen(cb));
	free(buf);

	/* a later repair with c's bytes as a single-file source: repaired, list gone */
	snprintf(p, sizeof(p), "%s/c-again", dir);
	vt_write_file(p, cc, strlen(cc));
	const char *src2[] = {p};
	assert_int_equal(repair(st, src2, 1, &l, &res), 0);
	assert_true(res.found >= 1);
	assert_int_equal(res.restored, 1);
	assert_int_equal(res.remaining, 0);
	assert_int_equal(res.damaged, 0);
	assert_int_equal(vv_fsck(st, NULL, NULL, NULL), 0);
	snprintf(p, sizeof(p), "%s/%s", st->path, VV_DAMAGED_FILE);
	assert_int_equal(access(p, F_OK), -1);
	free(whl);
	vt_rmtree(dir);
	vt_store_free(st);
}

static void test_tree_rounds(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	const char *cx = "x inside a lost tree\n";
	vv_oid x = vt_put(st, cx);
	struct vv_tree_ent sub[] = {vt_file_ent("x", x, strlen(cx))};
	vv_oid subt = vt_tree(st, sub, 1);
	struct vv_tree_ent top[] = {vt_dir_ent("d", subt)};
	vt_mkenv(st, "e", vt_tree(st, top, 1));
	/* keep copies of both, then lose both: the first check sees only the tree */
	char *dir = vt_tempdir();
	char *tb;
	size_t tl;
	assert_int_equal(vv_odb_read_obj(&st->odb, &subt, 1 << 20, &tb, &tl), 0);
	char p[4096];
	snprintf(p, sizeof(p), "%s/tree", dir);
	vt_write_file(p, tb, tl);
	free(tb);
	snprintf(p, sizeof(p), "%s/x", dir);
	vt_write_file(p, cx, strlen(cx));
	vt_obj_drop(st, &subt);
	vt_obj_drop(st, &x);
	const char *src[] = {dir};
	struct log l;
	struct vv_repair_result res;
	assert_int_equal(repair(st, src, 1, &l, &res), 0);
	assert_int_equal(res.found, 1);
	assert_int_equal(res.restored, 2);
	assert_int_equal(res.remaining, 0);
	assert_int_equal(vv_fsck(st, NULL, NULL, NULL), 0);
	vt_rmtree(dir);
	vt_store_free(st);
}

static void test_bad_source(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid a = vt_put(st, "alpha\n");
	struct vv_tree_ent e[] = {vt_file_ent("a", a, 6)};
	vt_mkenv(st, "e", vt_tree(st, e, 1));
	vt_obj_drop(st, &a);
	const char *src[] = {"/nonexistent/source/dir"};
	struct log l;
	struct vv_repair_result res;
	assert_int_equal(repair(st, src, 1, &l, &res), -ENOENT);
	assert_non_null(strstr(vv_errmsg(), "source '/nonexistent/source/dir'"));
	assert_int_equal(l.found, 0); /* failed before checking */
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", st->path, VV_DAMAGED_FILE);
	assert_int_equal(access(p, F_OK), -1);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_restore_from_dir_and_wheel),
		cmocka_unit_test(test_tree_rounds),
		cmocka_unit_test(test_bad_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
