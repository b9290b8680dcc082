/*
 * test_journal.c - the journal record parser (outside input after a crash): every
 * record kind round-trips, and truncated or malformed records are told apart (0 =
 * incomplete, -EUCLEAN = malformed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "env/journal.h"

#define HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int parse(const char *s, struct vv_jrec *j)
{
	return vv_journal_parse(s, strlen(s), j);
}

static void test_records(void **state)
{
	(void)state;
	struct vv_jrec j;
	const char *c = "c f 644 12 1700000000000000000 " HEX " 8:a/b/c.py\n";
	assert_int_equal(parse(c, &j), (int)strlen(c));
	assert_int_equal(j.op, 'c');
	assert_int_equal(j.kind, 'f');
	assert_int_equal(j.mode, 0644);
	assert_int_equal(j.size, 12);
	assert_true(j.mtime_ns == 1700000000000000000LL);
	assert_int_equal(j.alen, 8);
	assert_memory_equal(j.a, "a/b/c.py", 8);

	const char *d = "d 755 -5 3:lib\n";
	assert_int_equal(parse(d, &j), (int)strlen(d));
	assert_int_equal(j.mode, 0755);
	assert_true(j.mtime_ns == -5);

	const char *l = "l 7 3:lib 5:lib64\n";
	assert_int_equal(parse(l, &j), (int)strlen(l));
	assert_memory_equal(j.a, "lib", 3);
	assert_memory_equal(j.b, "lib64", 5);

	/* names with spaces, colons and newlines are length-delimited */
	const char *r = "r 1 5:a b:c 3:x\ny\n";
	assert_int_equal(parse(r, &j), (int)strlen(r));
	assert_int_equal(j.flags, 1);
	assert_int_equal(j.blen, 3);
	assert_memory_equal(j.b, "x\ny", 3);

	assert_int_equal(parse("u 1:z\n", &j), 6);
	assert_int_equal(parse("a 600 0 1:z\n", &j), 12);
}

static void test_incomplete_and_malformed(void **state)
{
	(void)state;
	struct vv_jrec j;
	const char *c = "c f 644 12 1700000000000000000 " HEX " 8:a/b/c.py\n";
	/* every strict prefix is incomplete, never an error or a record */
	for (size_t n = 0; n < strlen(c); n++)
		assert_int_equal(vv_journal_parse(c, n, &j), 0);
	const char *bad[] = {
		"x 1:a\n",                       /* unknown op */
		"c q 644 0 0 " HEX " 1:a\n",     /* bad kind */
		"c f 19999 0 0 " HEX " 1:a\n",   /* mode > 07777 */
		"c f 644 00 0 " HEX " 1:a\n",    /* leading zero */
		"c f 644 0 0 zz" HEX " 1:a\n",   /* bad hex */
		"d 755 0 0:\n",                  /* empty path */
		"u 1:a!",                        /* missing newline */
		"r 9 1:a 1:b\n",                 /* bad flags */
		"c f 644 99999999999999999999999 0 " HEX " 1:a\n", /* overflow */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &j);
		if (r != -EUCLEAN)
			fail_msg("record %zu (%s) gave %d", i, bad[i], r);
	}
	/* NUL inside a path */
	const char nul[] = "u 3:a\0b\n";
	assert_int_equal(vv_journal_parse(nul, sizeof(nul) - 1, &j), -EUCLEAN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_incomplete_and_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
