/*
 * test_damaged.c - the damaged-object list and the daemon's checked object open: id
 * sets, saving and loading STORE/damaged (atomic, removed when empty, strict parser),
 * and that missing, truncated and listed-and-corrupt objects give EIO while intact
 * ones (also listed ones that were restored) open, with list changes seen at once.
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
#include "store/store.h"

static vv_oid id_of(const char *s)
{
	vv_oid o;
	vv_hash_buf(s, strlen(s), &o);
	return o;
}

static void test_oidset(void **state)
{
	(void)state;
	struct vv_oidset s = {0};
	vv_oid a = id_of("a"), b = id_of("b"), c = id_of("c");
	assert_false(vv_oidset_has(&s, &a));
	for (int i = 0; i < 40; i++) {
		assert_int_equal(vv_oidset_add(&s, i % 2 ? &a : &b), 0);
	}
	vv_oidset_sort(&s);
	assert_int_equal(s.n, 2);
	assert_true(vv_oidset_has(&s, &a));
	assert_true(vv_oidset_has(&s, &b));
	assert_false(vv_oidset_has(&s, &c));
	vv_oidset_release(&s);
	assert_int_equal(s.n, 0);
}

static void test_save_load(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_oidset s = {0}, got;
	/* no file: empty */
	assert_int_equal(vv_damaged_load(st, &got), 0);
	assert_int_equal(got.n, 0);
	vv_oid a = id_of("x"), b = id_of("y");
	vv_oidset_add(&s, &b);
	vv_oidset_add(&s, &a);
	vv_oidset_add(&s, &b);
	assert_int_equal(vv_damaged_save(st, &s), 0);
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", st->path, VV_DAMAGED_FILE);
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 2 * (VV_OID_HEX + 1));
	assert_int_equal(vv_damaged_load(st, &got), 0);
	assert_int_equal(got.n, 2);
	assert_true(vv_oidset_has(&got, &a));
	assert_true(vv_oidset_has(&got, &b));
	vv_oidset_release(&got);
	/* empty: the file goes */
	s.n = 0;
	assert_int_equal(vv_damaged_save(st, &s), 0);
	assert_int_equal(stat(p, &sb), -1);
	assert_int_equal(errno, ENOENT);
	/* a bad line names the file and line */
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&a, hex);
	char buf[300];
	snprintf(buf, sizeof(buf), "%s\nnot-an-id\n", hex);
	vt_write_file(p, buf, strlen(buf));
	assert_int_equal(vv_damaged_load(st, &got), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "damaged:2: not an object id"));
	unlink(p);
	vv_oidset_release(&s);
	vt_store_free(st);
}

static void test_open_checked(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	const char *good = "intact content\n", *bad = "flipped content\n";
	vv_oid g = vt_put(st, good), b = vt_put(st, bad), t = vt_put(st, "to be truncated");
	vv_oid m = id_of("never stored");
	char p[4096];

	int fd = vv_obj_open_checked(st, &g, strlen(good), "env t");
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vv_obj_open_checked(st, &m, 12, "env t"), -EIO);
	assert_non_null(strstr(vv_errmsg(), "missing"));

	/* truncated: the size the tree records differs */
	vt_obj_path(st, &t, p, sizeof(p));
	assert_int_equal(truncate(p, 3), 0);
	assert_int_equal(vv_obj_open_checked(st, &t, strlen("to be truncated"), NULL), -EIO);

	/* a bit flip keeps the size: only caught once the object is on the list */
	vt_obj_path(st, &b, p, sizeof(p));
	chmod(p, 0644);
	vt_write_file(p, "flipped c0ntent\n", strlen(bad));
	fd = vv_obj_open_checked(st, &b, strlen(bad), NULL);
	assert_true(fd >= 0);
	close(fd);
	struct vv_oidset s = {0};
	vv_oidset_add(&s, &b);
	vv_oidset_add(&s, &g);
	assert_int_equal(vv_damaged_save(st, &s), 0);
	assert_int_equal(vv_obj_open_checked(st, &b, strlen(bad), NULL), -EIO);
	assert_non_null(strstr(vv_errmsg(), "corrupt"));
	/* listed but intact (restored since): served */
	fd = vv_obj_open_checked(st, &g, strlen(good), NULL);
	assert_true(fd >= 0);
	close(fd);
	/* repaired: the list goes, and so does the check (the object is still bad) */
	s.n = 0;
	assert_int_equal(vv_damaged_save(st, &s), 0);
	fd = vv_obj_open_checked(st, &b, strlen(bad), NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vv_obj_report_bad(st, &m, "env t", "is gone"), -EIO);
	vv_oidset_release(&s);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oidset),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_open_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
