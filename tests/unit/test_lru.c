/*
 * test_lru.c - the size bound of a cache store (store/lru.h) on a temp store whose
 * objects are really there, so every removal is seen in objects/. Open counts what the
 * objects take on disk (st_blocks) and starts the use order from their access times;
 * an add over the bound removes the least recently used first, down to 90 % of it, and
 * never the object being added (not even when it alone is over the bound); a touch
 * moves an object to the front; a removed object can come back; limit 0 removes
 * nothing. Removal is the cache's only way to lose objects, and removing the wrong
 * one costs a fetch, or (the object just fetched) a read that fails, so the order is
 * what these tests pin down.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/lru.h"
#include "store/odb.h"
#include "store/store.h"
#include "util/error.h"
#include "util/hash.h"

#define OBJ_BYTES 8192

/* An object of OBJ_BYTES bytes, distinct per tag. */
static vv_oid put_obj(struct vv_store *st, unsigned tag)
{
	char *buf = malloc(OBJ_BYTES);
	assert_non_null(buf);
	for (size_t i = 0; i < OBJ_BYTES; i++)
		buf[i] = (char)('a' + (i + tag) % 26);
	snprintf(buf, 32, "object %u\n", tag);
	vv_oid oid;
	assert_int_equal(vv_odb_put_buf(&st->odb, buf, OBJ_BYTES, &oid), 0);
	free(buf);
	return oid;
}

/* What the object takes on disk, as lru.c counts it. */
static uint64_t disk_of(struct vv_store *st, const vv_oid *oid)
{
	char p[4096];
	vt_obj_path(st, oid, p, sizeof(p));
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	return (uint64_t)sb.st_blocks * 512;
}

static bool has(struct vv_store *st, const vv_oid *oid)
{
	int r = vv_odb_has(&st->odb, oid);
	assert_true(r == 0 || r == 1);
	return r == 1;
}

static void set_atime(struct vv_store *st, const vv_oid *oid, time_t sec)
{
	char p[4096];
	vt_obj_path(st, oid, p, sizeof(p));
	struct timespec ts[2] = { { sec, 0 }, { 0, UTIME_OMIT } };
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* Open counts the disk the objects take (st_blocks), and nothing while none are there. */
static void test_open_counts_used(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 0), 0);
	uint64_t empty = vv_lru_used(l); /* a new store may hold objects of its own */
	vv_lru_free(l);

	uint64_t sum = 0;
	vv_oid o[5];
	for (unsigned i = 0; i < 5; i++) {
		o[i] = put_obj(st, i);
		sum += disk_of(st, &o[i]);
	}
	assert_true(sum >= 5 * OBJ_BYTES); /* a real file system's blocks, not sizes */
	assert_int_equal(vv_lru_open(&l, &st->odb, 1000 * 1000 * 1000), 0);
	assert_int_equal(vv_lru_used(l), empty + sum);
	assert_int_equal(vv_lru_evicted(l), 0);
	/* touching known and unknown objects changes no count */
	vv_oid unknown;
	vv_hash_buf("never stored", 12, &unknown);
	vv_lru_touch(l, &o[2]);
	vv_lru_touch(l, &unknown);
	assert_int_equal(vv_lru_used(l), empty + sum);
	vv_lru_free(l);
	vv_lru_free(NULL);
	vt_store_free(st);
}

/* Adds over the bound remove the oldest first, down to 90 % of it. Sizes given to add
 * are the bound's units; the object files are what gets removed. */
static void test_add_evicts_oldest(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 0), 0);
	bool store_empty = vv_lru_used(l) == 0;
	vv_lru_free(l);
	assert_true(store_empty); /* the sums below count only these objects */

	assert_int_equal(vv_lru_open(&l, &st->odb, 1000), 0);
	vv_oid o[8];
	for (unsigned i = 0; i < 5; i++) {
		o[i] = put_obj(st, 100 + i);
		vv_lru_add(l, &o[i], 200);
	}
	/* exactly at the bound: nothing goes */
	assert_int_equal(vv_lru_used(l), 1000);
	assert_int_equal(vv_lru_evicted(l), 0);
	for (unsigned i = 0; i < 5; i++)
		assert_true(has(st, &o[i]));

	/* 1200 > 1000: the two oldest go, leaving 800 <= 900 */
	o[5] = put_obj(st, 105);
	vv_lru_add(l, &o[5], 200);
	assert_int_equal(vv_lru_used(l), 800);
	assert_int_equal(vv_lru_evicted(l), 2);
	assert_false(has(st, &o[0]));
	assert_false(has(st, &o[1]));
	for (unsigned i = 2; i < 6; i++)
		assert_true(has(st, &o[i]));

	/* one big add: 800 + 450 = 1250; 1050 after o[2], 850 after o[3] */
	o[6] = put_obj(st, 106);
	vv_lru_add(l, &o[6], 450);
	assert_int_equal(vv_lru_used(l), 850);
	assert_int_equal(vv_lru_evicted(l), 4);
	assert_false(has(st, &o[2]));
	assert_false(has(st, &o[3]));
	assert_true(has(st, &o[4]));
	assert_true(has(st, &o[5]));
	assert_true(has(st, &o[6]));

	/* adding an object tracked already replaces its size, not adds to it */
	vv_lru_add(l, &o[6], 400);
	assert_int_equal(vv_lru_used(l), 800);
	assert_int_equal(vv_lru_evicted(l), 4);
	vv_lru_free(l);
	vt_store_free(st);
}

/* A touch makes an object the most recent: the untouched go first. A touch of an
 * object removed already does not bring it back into the count. */
static void test_touch_changes_order(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 1000), 0);
	vv_oid o[6];
	for (unsigned i = 0; i < 5; i++) {
		o[i] = put_obj(st, 200 + i);
		vv_lru_add(l, &o[i], 200);
	}
	vv_lru_touch(l, &o[0]); /* order, oldest first: 2 3 4 0 1... */
	vv_lru_touch(l, &o[1]);
	vv_lru_touch(l, &o[1]); /* the most recent already */
	o[5] = put_obj(st, 205);
	vv_lru_add(l, &o[5], 200);
	assert_int_equal(vv_lru_evicted(l), 2);
	assert_true(has(st, &o[0]));
	assert_true(has(st, &o[1]));
	assert_false(has(st, &o[2]));
	assert_false(has(st, &o[3]));
	assert_true(has(st, &o[4]));
	assert_true(has(st, &o[5]));
	assert_int_equal(vv_lru_used(l), 800);

	vv_lru_touch(l, &o[2]); /* gone: ignored */
	assert_int_equal(vv_lru_used(l), 800);
	/* 4 is now the oldest, then 0: 800 + 300 = 1100 -> 900 */
	vv_oid n = put_obj(st, 206);
	vv_lru_add(l, &n, 300);
	assert_int_equal(vv_lru_used(l), 900);
	assert_int_equal(vv_lru_evicted(l), 3);
	assert_false(has(st, &o[4]));
	assert_true(has(st, &o[0]));
	assert_false(has(st, &o[2])); /* the touch did not make it come back */
	vv_lru_free(l);
	vt_store_free(st);
}

/* The object being added stays even when it alone is over the bound; the next add
 * removes it like any other. */
static void test_added_never_evicted(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 100), 0);
	vv_oid a = put_obj(st, 300), b = put_obj(st, 301), c = put_obj(st, 302);
	vv_lru_add(l, &a, 500);
	assert_true(has(st, &a));
	assert_int_equal(vv_lru_used(l), 500);
	assert_int_equal(vv_lru_evicted(l), 0);

	/* a goes, b is still over (its own add), stays */
	vv_lru_add(l, &b, 150);
	assert_false(has(st, &a));
	assert_true(has(st, &b));
	assert_int_equal(vv_lru_used(l), 150);
	assert_int_equal(vv_lru_evicted(l), 1);

	/* a and b together over it, c tiny: both others go */
	vv_lru_add(l, &c, 10);
	assert_false(has(st, &b));
	assert_true(has(st, &c));
	assert_int_equal(vv_lru_used(l), 10);
	assert_int_equal(vv_lru_evicted(l), 2);

	/* adding c again while it is the only one and over the bound: it stays */
	vv_lru_add(l, &c, 1000);
	assert_true(has(st, &c));
	assert_int_equal(vv_lru_used(l), 1000);
	assert_int_equal(vv_lru_evicted(l), 2);
	vv_lru_free(l);
	vt_store_free(st);
}

/* An object removed by the bound is fetched again later: it is tracked again, as the
 * most recent, and can be removed again. */
static void test_readd_evicted(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 1000), 0);
	vv_oid o[6];
	for (unsigned i = 0; i < 6; i++) {
		o[i] = put_obj(st, 400 + i);
		vv_lru_add(l, &o[i], 200);
	}
	assert_false(has(st, &o[0]));
	assert_false(has(st, &o[1]));
	assert_int_equal(vv_lru_used(l), 800);

	/* o[0] comes back: 1000, at the bound, nothing goes */
	vv_oid again = put_obj(st, 400);
	assert_true(vv_oid_eq(&again, &o[0]));
	vv_lru_add(l, &o[0], 200);
	assert_true(has(st, &o[0]));
	assert_int_equal(vv_lru_used(l), 1000);
	assert_int_equal(vv_lru_evicted(l), 2);

	/* the next add removes 2 and 3, never 0, the most recent but one */
	vv_oid n = put_obj(st, 499);
	vv_lru_add(l, &n, 200);
	assert_int_equal(vv_lru_evicted(l), 4);
	assert_false(has(st, &o[2]));
	assert_false(has(st, &o[3]));
	assert_true(has(st, &o[0]));
	assert_true(has(st, &n));

	/* and it can be removed again once it is the oldest */
	for (unsigned i = 0; i < 3; i++) { /* 1000, 1200 -> 800 (4, 5 go), 1000 */
		vv_oid m = put_obj(st, 480 + i);
		vv_lru_add(l, &m, 200);
	}
	assert_false(has(st, &o[4]));
	assert_false(has(st, &o[5]));
	assert_true(has(st, &o[0]));
	vv_oid m = put_obj(st, 483); /* 1200: 0 and n go */
	vv_lru_add(l, &m, 200);
	assert_false(has(st, &o[0]));
	assert_false(has(st, &n));
	assert_int_equal(vv_lru_used(l), 800);
	assert_int_equal(vv_lru_evicted(l), 8);
	vv_lru_free(l);
	vt_store_free(st);
}

/* Limit 0 is no bound: nothing is ever removed however much is added. */
static void test_limit_zero(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid o[10];
	for (unsigned i = 0; i < 5; i++)
		o[i] = put_obj(st, 500 + i);
	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 0), 0);
	uint64_t used = vv_lru_used(l);
	for (unsigned i = 5; i < 10; i++) {
		o[i] = put_obj(st, 500 + i);
		vv_lru_add(l, &o[i], (uint64_t)1 << 40);
		used += (uint64_t)1 << 40;
	}
	assert_int_equal(vv_lru_used(l), used);
	assert_int_equal(vv_lru_evicted(l), 0);
	for (unsigned i = 0; i < 10; i++)
		assert_true(has(st, &o[i]));
	vv_lru_free(l);
	vt_store_free(st);
}

/* The order at open follows the objects' access times, oldest first; objects over
 * the bound already go at the first add. */
static void test_initial_order_atime(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid o[4];
	for (unsigned i = 0; i < 4; i++)
		o[i] = put_obj(st, 600 + i);
	uint64_t s = disk_of(st, &o[0]);
	assert_true(s > 0);
	for (unsigned i = 1; i < 4; i++)
		assert_int_equal(disk_of(st, &o[i]), s);
	/* oldest first: o[0], o[2], o[3], o[1] */
	set_atime(st, &o[0], 1000000000);
	set_atime(st, &o[1], 1000004000);
	set_atime(st, &o[2], 1000002000);
	set_atime(st, &o[3], 1000003000);

	struct vv_lru *l = NULL;
	assert_int_equal(vv_lru_open(&l, &st->odb, 10 * s), 0);
	assert_int_equal(vv_lru_used(l), 4 * s);
	/* 4s + 7s = 11s > 10s: o[0] (10s > 9s), then o[2] (9s): done */
	vv_oid n = put_obj(st, 699);
	vv_lru_add(l, &n, 7 * s);
	assert_int_equal(vv_lru_evicted(l), 2);
	assert_int_equal(vv_lru_used(l), 9 * s);
	assert_false(has(st, &o[0]));
	assert_false(has(st, &o[2]));
	assert_true(has(st, &o[3]));
	assert_true(has(st, &o[1]));
	assert_true(has(st, &n));
	vv_lru_free(l);

	/* opened with a bound the objects exceed already: nothing goes at open, all but
	 * the object added go at its add (they are older) */
	assert_int_equal(vv_lru_open(&l, &st->odb, s), 0);
	uint64_t used = vv_lru_used(l);
	assert_int_equal(used, 2 * s + disk_of(st, &n));
	assert_int_equal(vv_lru_evicted(l), 0);
	assert_true(has(st, &o[1]));
	vv_oid m = put_obj(st, 698);
	vv_lru_add(l, &m, s / 2);
	assert_false(has(st, &o[1]));
	assert_false(has(st, &o[3]));
	assert_false(has(st, &n));
	assert_true(has(st, &m));
	assert_int_equal(vv_lru_used(l), s / 2);
	assert_int_equal(vv_lru_evicted(l), 3);
	vv_lru_free(l);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_counts_used),
		cmocka_unit_test(test_add_evicts_oldest),
		cmocka_unit_test(test_touch_changes_order),
		cmocka_unit_test(test_added_never_evicted),
		cmocka_unit_test(test_readd_evicted),
		cmocka_unit_test(test_limit_zero),
		cmocka_unit_test(test_initial_order_atime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
