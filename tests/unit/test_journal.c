/*
 * test_journal.c - the journal format: the record parser (outside input after a
 * crash) reads every record kind, and truncated or malformed records are told apart
 * (0 = incomplete, -EUCLEAN = malformed); the writers produce exactly the bytes the
 * parser reads; a journal file is started for a root, appended to and read back, a
 * stale one yields nothing and a torn tail is cut off.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "env/journal.h"
#include "store/store.h"
#include "util/fsutil.h"

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

/* Everything the writers appended to fd, from offset `from` on (NUL-terminated). */
static char *written(int fd, off_t from, size_t *len)
{
	struct stat s;
	assert_int_equal(fstat(fd, &s), 0);
	size_t n = (size_t)(s.st_size - from);
	char *buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, n, from), (ssize_t)n);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* The writers make exactly the records test_records reads (the on-disk format). */
static void test_writers(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	vv_oid oid;
	assert_int_equal(vv_oid_from_hex(&oid, HEX, VV_OID_HEX), 0);
	assert_int_equal(vv_journal_put(fd, "a/b/c.py", 'f', 0644, 12, 1700000000000000000LL,
					&oid), 0);
	assert_int_equal(vv_journal_mkdir(fd, "lib", 0755, -5), 0);
	assert_int_equal(vv_journal_symlink(fd, "lib64", "lib", 7), 0);
	assert_int_equal(vv_journal_rename(fd, "a b:c", "x\ny", 1), 0);
	assert_int_equal(vv_journal_remove(fd, "z"), 0);
	assert_int_equal(vv_journal_attr(fd, "z", 0600, 0), 0);
	const char *want =
		"c f 644 12 1700000000000000000 " HEX " 8:a/b/c.py\n"
		"d 755 -5 3:lib\n"
		"l 7 3:lib 5:lib64\n"
		"r 1 5:a b:c 3:x\ny\n"
		"u 1:z\n"
		"a 600 0 1:z\n";
	size_t len;
	char *got = written(fd, 0, &len);
	assert_string_equal(got, want);
	/* and they parse back to what was written */
	struct vv_jrec j;
	size_t off = 0;
	const char ops[] = "cdlrua";
	for (int i = 0; i < 6; i++) {
		int n = vv_journal_parse(got + off, len - off, &j);
		assert_true(n > 0);
		assert_int_equal(j.op, ops[i]);
		off += (size_t)n;
	}
	assert_int_equal(off, len);
	free(got);
	close(fd);
	vt_rmtree(dir);
}

struct seen {
	int n;
	char ops[16];
	int stop_at; /* stop (-EINTR) at this record, 0: never */
};

static int see(void *ctx, const struct vv_jrec *rec)
{
	struct seen *s = ctx;
	s->ops[s->n++] = rec->op;
	return s->n == s->stop_at ? -EINTR : 0;
}

static void test_file(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid root, other;
	vv_hash_buf("root", 4, &root);
	vv_hash_buf("other", 5, &other);
	struct seen s = { 0 };
	/* no journal: no records */
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 0);

	/* the first open starts one for the root: its header, then the records */
	int fd = -1;
	assert_int_equal(vv_journal_open(st, "e", &root, &fd), 0);
	assert_true(fd >= 0);
	int same = fd;
	assert_int_equal(vv_journal_open(st, "e", &root, &fd), 0);
	assert_int_equal(fd, same);
	assert_int_equal(vv_journal_mkdir(fd, "d", 0755, 1), 0);
	assert_int_equal(vv_journal_remove(fd, "d"), 0);
	assert_int_equal(vv_journal_datasync(st, fd, "e", true), 0);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&root, hex);
	char want[256];
	snprintf(want, sizeof(want), "venvfs-journal 1 %s\nd 755 1 1:d\nu 1:d\n", hex);
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_read_file_at(st->journalfd, "e", 1 << 20, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 2);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.ops, "du", 2);

	/* a callback's error stops the reading */
	struct seen stop = { .stop_at = 1 };
	assert_int_equal(vv_journal_read(st, "e", &root, see, &stop), -EINTR);
	assert_int_equal(stop.n, 1);

	/* a torn last record ends the records and is cut off */
	const char torn[] = "c f 644 1";
	assert_int_equal(vv_write_all(fd, torn, sizeof(torn) - 1), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 2);
	struct stat sb;
	assert_int_equal(fstatat(st->journalfd, "e", &sb, 0), 0);
	assert_int_equal((size_t)sb.st_size, strlen(want));

	/* read for another root, the journal is stale: nothing */
	memset(&s, 0, sizeof(s));
	assert_int_equal(vv_journal_read(st, "e", &other, see, &s), 0);
	assert_int_equal(s.n, 0);
	/* opened for another root, it starts over */
	vv_journal_close(&fd);
	assert_int_equal(fd, -1);
	assert_int_equal(vv_journal_open(st, "e", &other, &fd), 0);
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 0);
	assert_int_equal(vv_journal_read(st, "e", &other, see, &s), 0);
	/* a reset empties it for the (new) root and reopens it */
	assert_int_equal(vv_journal_attr(fd, "x", 0644, 2), 0);
	assert_int_equal(vv_journal_read(st, "e", &other, see, &s), 1);
	assert_int_equal(vv_journal_reset(st, "e", &root, &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 0);
	assert_int_equal(vv_journal_symlink(fd, "l", "t", 3), 0);
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 1);
	vv_journal_close(&fd);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_incomplete_and_malformed),
		cmocka_unit_test(test_writers),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
