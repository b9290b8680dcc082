/*
 * test_stats.c - store accounting on small hand-built stores: counts and sharing across
 * envs with common subtrees, unreachable objects (fsck's tests are in test_fsck.c).
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"
#include "ops/fsck.h"
#include "ops/stats.h"
#include "store/store.h"
#include "store/tree.h"

static const struct vv_stats_env *env_of(const struct vv_stats *s, const char *name)
{
	for (size_t i = 0; i < s->nenvs; i++)
		if (!strcmp(s->envs[i].name, name))
			return &s->envs[i];
	fail_msg("no env %s in stats", name);
	return NULL;
}

static void test_stats_empty(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct vv_stats s;
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(s.objects, 0);
	assert_int_equal(s.nenvs, 0);
	assert_int_equal(s.logical, 0);
	assert_true(vv_stats_dedup_ratio(&s) == 1.0);
	vv_stats_release(&s);
	struct vv_fsck_summary sum;
	assert_int_equal(vv_fsck(st, NULL, NULL, &sum), 0);
	assert_int_equal(sum.problems, 0);
	vt_store_free(st);
}

static void test_stats_sharing(void **state)
{
	(void)state;
	struct vt_twoenvs f;
	vt_twoenvs_build(&f);
	struct vv_stats s;
	assert_int_equal(vv_stats_collect(f.st, &s), 0);

	/* 6 files + 3 trees in objects/ */
	assert_int_equal(s.objects, 9);
	assert_int_equal(s.trees, 3);
	assert_int_equal(s.file_objects, 5);
	assert_int_equal(s.file_bytes, 10 + 20 + 5 + 7 + 3);
	assert_int_equal(s.unreachable, 1);
	assert_int_equal(s.unreachable_bytes, 22);
	assert_int_equal(s.nenvs, 2);
	assert_int_equal(s.env_errors, 0);

	const struct vv_stats_env *a = env_of(&s, "a"), *b = env_of(&s, "b");
	assert_string_equal(s.envs[0].name, "a"); /* sorted */
	assert_int_equal(a->files, 4);
	assert_int_equal(a->logical, 10 + 20 + 5 + 7);
	assert_int_equal(a->unique, 7);
	assert_int_equal(a->unique_files, 1);
	assert_int_equal(b->files, 6);
	assert_int_equal(b->logical, 2 * 30 + 5 + 3);
	assert_int_equal(b->unique, 3);
	assert_int_equal(s.logical, a->logical + b->logical);

	/* stored bytes = every object file's size, trees included */
	uint64_t want = 10 + 20 + 5 + 7 + 3 + 22;
	vv_oid trees[] = {f.common, f.root_a, f.root_b};
	for (size_t i = 0; i < 3; i++) {
		char p[4096];
		struct stat sb;
		vt_obj_path(f.st, &trees[i], p, sizeof(p));
		assert_int_equal(stat(p, &sb), 0);
		want += (uint64_t)sb.st_size;
	}
	assert_int_equal(s.stored_bytes, want);
	assert_true(s.disk_bytes > 0);
	double ratio = vv_stats_dedup_ratio(&s);
	assert_true(ratio > 2.4 && ratio < 2.5); /* 110 / 45 */
	vv_stats_release(&s);
	vt_store_free(f.st);
}

/* Sharing is per object, also when two envs' trees differ but contain the same file. */
static void test_stats_unique_objects(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid big = vt_put(st, "0123456789012345678901234567890123456789"); /* 40 */
	vv_oid small = vt_put(st, "ab");
	struct vv_tree_ent t1[] = {vt_file_ent("big", big, 40)};
	struct vv_tree_ent t2[] = {vt_file_ent("big-renamed", big, 40), vt_file_ent("s", small, 2)};
	struct vv_tree_ent t3[] = {vt_file_ent("s", small, 2)};
	vt_mkenv(st, "one", vt_tree(st, t1, 1));
	vt_mkenv(st, "two", vt_tree(st, t2, 2));
	vt_mkenv(st, "three", vt_tree(st, t3, 1));
	struct vv_stats s;
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(env_of(&s, "one")->unique, 0);
	assert_int_equal(env_of(&s, "two")->unique, 0);
	assert_int_equal(env_of(&s, "three")->unique, 0);
	vv_stats_release(&s);

	/* The same root for two envs: everything shared. */
	struct vv_tree_ent t4[] = {vt_file_ent("only", vt_put(st, "only here"), 9)};
	vv_oid r4 = vt_tree(st, t4, 1);
	vt_mkenv(st, "four", r4);
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(env_of(&s, "four")->unique, 9);
	vv_stats_release(&s);
	vt_mkenv(st, "five", r4);
	assert_int_equal(vv_stats_collect(st, &s), 0);
	assert_int_equal(env_of(&s, "four")->unique, 0);
	assert_int_equal(env_of(&s, "five")->unique, 0);
	assert_int_equal(env_of(&s, "five")->files, 1);
	vv_stats_release(&s);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_empty),
		cmocka_unit_test(test_stats_sharing),
		cmocka_unit_test(test_stats_unique_objects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
