/*
 * test_tags.c - wheel file-name tags against CPython 3.minor on Linux: what fits and
 * what does not, which fit is preferred, the name the file carries (PEP 503), and the
 * refusals of names that are not wheel file names.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "pkg/tags.h"

static void test_tags(void **state)
{
	(void)state;
	char canon[64];
	static const char *const ok[] = {
		"a-1-py3-none-any.whl", "a-1-py2.py3-none-any.whl", "a-1-py311-none-any.whl",
		"a-1-py38-none-any.whl", "a-1-cp311-cp311-linux_x86_64.whl",
		"a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
		"a-1-cp38-abi3-manylinux2010_x86_64.whl", "a-1-cp311-none-any.whl",
		"a-1-1build-py3-none-any.whl", "dir/a-1-py3-none-any.whl",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (vv_tag_check(ok[i], 11, "x86_64", NULL, 0) != 0)
			fail_msg("refused %s: %s", ok[i], vv_errmsg());
	static const char *const bad[] = {
		"a-1-py2-none-any.whl", "a-1-py312-none-any.whl", "a-1-cp310-cp310-linux_x86_64.whl",
		"a-1-cp312-abi3-linux_x86_64.whl", "a-1-cp311-cp311-win_amd64.whl",
		"a-1-cp311-cp311-manylinux2014_aarch64.whl", "a-1-cp311-cp311-musllinux_1_1_x86_64.whl",
		"a-1-pp39-pypy39_pp73-any.whl", "a-py3-none-any.whl", "a-1-py3-none-any.zip",
		"a-1-2-3-py3-none-any.whl", "a b-1-py3-none-any.whl",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (vv_tag_check(bad[i], 11, "x86_64", NULL, 0) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(vv_tag_check("Foo.Bar_baz-1-py3-none-any.whl", 11, "x86_64",
				      canon, sizeof(canon)), 0);
	assert_string_equal(canon, "foo-bar-baz");
	assert_int_equal(vv_dist_canonical("A__b-.C", 7, canon, sizeof(canon)), 0);
	assert_string_equal(canon, "a-b-c");
	assert_int_equal(vv_dist_canonical("abcdef", 6, canon, 4), -ENAMETOOLONG);
}

/* The messages name the file and say why. */
static void test_messages(void **state)
{
	(void)state;
	assert_int_equal(vv_tag_check("/x/a-1-py3-none-any.zip", 11, "x86_64", NULL, 0),
			 -EINVAL);
	assert_non_null(strstr(vv_errmsg(), "a-1-py3-none-any.zip: not a wheel file name"));
	assert_int_equal(vv_tag_check("a-1-cp312-cp312-linux_x86_64.whl", 11, "x86_64", NULL,
				      0), -EINVAL);
	assert_string_equal(vv_errmsg(), "a-1-cp312-cp312-linux_x86_64.whl: not for this env "
			    "(CPython 3.11 on Linux x86_64): tags cp312-cp312-linux_x86_64");
	/* a name that does not fit canon: the wheel is named */
	char small[4];
	assert_int_equal(vv_tag_check("abcdef-1-py3-none-any.whl", 11, "x86_64", small,
				      sizeof(small)), -ENAMETOOLONG);
	assert_non_null(strstr(vv_errmsg(), "abcdef-1-py3-none-any.whl: "));
}

/* Scores order the fits: platform over any, own ABI over abi3 over none, cp3N over
 * py3N over py3, a newer py3N over an older one. */
static void test_scores(void **state)
{
	(void)state;
	static const char *const order[] = {
		"a-1-cp311-cp311-manylinux2014_x86_64.whl",
		"a-1-cp38-abi3-linux_x86_64.whl",
		"a-1-cp311-cp311-any.whl" /* own ABI, no platform: below every platform tag */,
	};
	int s0 = vv_tag_score(order[0], 11, "x86_64");
	int s1 = vv_tag_score(order[1], 11, "x86_64");
	int s2 = vv_tag_score(order[2], 11, "x86_64");
	assert_true(s0 > s1);
	assert_true(s1 > s2);
	int any_cp = vv_tag_score("a-1-cp311-none-any.whl", 11, "x86_64");
	int any_py11 = vv_tag_score("a-1-py311-none-any.whl", 11, "x86_64");
	int any_py38 = vv_tag_score("a-1-py38-none-any.whl", 11, "x86_64");
	int any_py3 = vv_tag_score("a-1-py3-none-any.whl", 11, "x86_64");
	assert_true(s2 > any_cp);
	assert_true(any_cp > any_py11);
	assert_true(any_py11 > any_py38);
	assert_true(any_py38 > any_py3);
	assert_true(any_py3 >= 0);
	/* a tag set scores by its best member */
	assert_int_equal(vv_tag_score("a-1-py3.cp311-none.cp311-any.linux_x86_64.whl", 11,
				      "x86_64"),
			 vv_tag_score("a-1-cp311-cp311-linux_x86_64.whl", 11, "x86_64"));
	assert_int_equal(vv_tag_score("a-1-cp311-cp311-win_amd64.whl", 11, "x86_64"), -EINVAL);
	/* the machine matters for platform tags only */
	assert_int_equal(vv_tag_score("a-1-py3-none-any.whl", 11, "aarch64"), any_py3);
	assert_int_equal(vv_tag_score("a-1-cp311-cp311-manylinux2014_x86_64.whl", 11,
				      "aarch64"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_scores),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
