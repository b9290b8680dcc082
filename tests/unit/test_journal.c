/*
 * test_journal.c - the journal format: the record parser (outside input after a
 * crash) reads every record kind, and truncated or malformed records are told apart
 * (0 = incomplete, -EUCLEAN = malformed); the writers produce exactly the bytes the
 * parser reads; a journal file is started for a root, appended to and read back, a
 * stale one yields nothing and a torn tail is cut off (vv_journal_read) or left alone
 * (vv_journal_scan). The `w` record naming a stage, the `n` record of a FIFO or socket,
 * the `c r` record of a RECORD template with its four values, and vv_jlost, which
 * follows the paths whose stage or object is gone through the records after them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
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

	/* a stored pyc: its per-entry values follow the id */
	const char *p = "c c 644 900 5 " HEX ",7,1,20 5:m.pyc\n";
	assert_int_equal(parse(p, &j), (int)strlen(p));
	assert_int_equal(j.kind, 'c');
	assert_int_equal(j.pyc.hdr, 7);
	assert_int_equal(j.pyc.nsub, 1);
	assert_int_equal(j.pyc.sufl, 20);
	assert_int_equal(parse("c c 644 900 5 " HEX " 5:m.pyc\n", &j), -EUCLEAN);
	assert_int_equal(parse("c f 644 900 5 " HEX ",7,1,20 5:m.pyc\n", &j), -EUCLEAN);

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
					&oid, NULL, NULL), 0);
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

/* `n KIND MODE MTIME PATH`: a FIFO ('p') or socket ('k'). Written and read back
 * exactly; any other kind, and anything malformed, is refused by writer and parser;
 * every strict prefix is incomplete. */
static void test_mknod_record(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(vv_journal_mknod(fd, "run/app.fifo", 'p', 0640,
					  1700000000000000001LL), 0);
	assert_int_equal(vv_journal_mknod(fd, "s k", 'k', 0755, -2), 0);
	assert_int_equal(vv_journal_mknod(fd, "x", 'f', 0644, 0), -EINVAL);
	assert_int_equal(vv_journal_mknod(fd, "x", 'd', 0755, 0), -EINVAL);
	const char *want = "n p 640 1700000000000000001 12:run/app.fifo\n"
			   "n k 755 -2 3:s k\n";
	size_t len;
	char *got = written(fd, 0, &len);
	assert_string_equal(got, want);
	struct vv_jrec j;
	int n = vv_journal_parse(got, len, &j);
	assert_int_equal(n, (int)strlen("n p 640 1700000000000000001 12:run/app.fifo\n"));
	assert_int_equal(j.op, 'n');
	assert_int_equal(j.kind, 'p');
	assert_int_equal(j.mode, 0640);
	assert_true(j.mtime_ns == 1700000000000000001LL);
	assert_int_equal(j.alen, 12);
	assert_memory_equal(j.a, "run/app.fifo", 12);
	assert_null(j.b);
	for (size_t k = 0; k < (size_t)n; k++)
		assert_int_equal(vv_journal_parse(got, k, &j), 0);
	assert_int_equal(vv_journal_parse(got + n, len - (size_t)n, &j), (int)(len - (size_t)n));
	assert_int_equal(j.kind, 'k');
	assert_int_equal(j.mode, 0755);
	assert_true(j.mtime_ns == -2);
	assert_memory_equal(j.a, "s k", 3);
	free(got);
	close(fd);
	vt_rmtree(dir);

	const char *bad[] = {
		"n f 644 0 1:a\n",    /* a kind with content */
		"n d 755 0 1:a\n",
		"n l 777 0 1:a\n",
		"n x 644 0 1:a\n",
		"n 644 0 1:a\n",      /* no kind */
		"n pp 644 0 1:a\n",
		"n p 10000 0 1:a\n",  /* mode > 07777 */
		"n p 644 00 1:a\n",   /* leading zero */
		"n p 644 0 0:\n",     /* empty path */
		"n p 644 0 1:a 1:b\n", /* a second path */
		"d p 644 0 1:a\n",    /* a kind in an old mkdir record */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &j);
		if (r != -EUCLEAN)
			fail_msg("record %zu (%s) gave %d", i, bad[i], r);
	}
}

/* `c r ...`: a RECORD template (pkg/rectpl.h) carries K, SUM, SMIN and SMAX after its
 * id, as its tree entry does. Written and read back exactly (the writer puts only the
 * values of the record's kind); every strict prefix is incomplete; a wrong number of
 * values, or one past 32 bits, is malformed. */
static void test_record_put(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	vv_oid oid;
	assert_int_equal(vv_oid_from_hex(&oid, HEX, VV_OID_HEX), 0);
	const char *path = "lib/python3.11/site-packages/flask-3.1.3.dist-info/RECORD";
	struct vv_recent rec = { 2, 434, 216, 218 }, max = { UINT32_MAX, UINT32_MAX, 0,
							     UINT32_MAX };
	struct vv_pycent pyc = { 7, 1, 20 };
	assert_int_equal(vv_journal_put(fd, path, 'r', 0644, 5012, 5, &oid, &pyc, &rec), 0);
	assert_int_equal(vv_journal_put(fd, "R", 'r', 0600, 0, -1, &oid, NULL, &max), 0);
	assert_int_equal(vv_journal_put(fd, "z", 'r', 0644, 1, 0, &oid, NULL, NULL), 0);
	assert_int_equal(vv_journal_put(fd, "f", 'f', 0644, 1, 0, &oid, &pyc, &rec), 0);
	assert_int_equal(vv_journal_put(fd, "m.pyc", 'c', 0644, 1, 0, &oid, &pyc, &rec), 0);
	const char *want =
		"c r 644 5012 5 " HEX ",2,434,216,218 57:" /* path */
		"lib/python3.11/site-packages/flask-3.1.3.dist-info/RECORD\n"
		"c r 600 0 -1 " HEX ",4294967295,4294967295,0,4294967295 1:R\n"
		"c r 644 1 0 " HEX ",0,0,0,0 1:z\n"
		"c f 644 1 0 " HEX " 1:f\n"
		"c c 644 1 0 " HEX ",7,1,20 5:m.pyc\n";
	assert_int_equal(strlen(path), 57);
	size_t len;
	char *got = written(fd, 0, &len);
	assert_string_equal(got, want);

	struct vv_jrec j;
	int n = vv_journal_parse(got, len, &j);
	assert_int_equal(n, (int)(strchr(got, '\n') + 1 - got));
	assert_int_equal(j.op, 'c');
	assert_int_equal(j.kind, 'r');
	assert_int_equal(j.mode, 0644);
	assert_int_equal(j.size, 5012);
	assert_true(j.mtime_ns == 5);
	assert_memory_equal(j.oidhex, HEX, VV_OID_HEX);
	assert_int_equal(j.rec.k, 2);
	assert_int_equal(j.rec.sum, 434);
	assert_int_equal(j.rec.smin, 216);
	assert_int_equal(j.rec.smax, 218);
	assert_int_equal(j.pyc.hdr, 0);
	assert_int_equal(j.alen, 57);
	assert_memory_equal(j.a, path, 57);
	for (size_t k = 0; k < (size_t)n; k++)
		if (vv_journal_parse(got, k, &j) != 0)
			fail_msg("prefix of %zu bytes is not incomplete", k);
	const char *p = got + n;
	n = vv_journal_parse(p, len - (size_t)(p - got), &j);
	assert_true(n > 0);
	assert_int_equal(j.rec.k, UINT32_MAX);
	assert_int_equal(j.rec.sum, UINT32_MAX);
	assert_int_equal(j.rec.smin, 0);
	assert_int_equal(j.rec.smax, UINT32_MAX);
	p += n;
	n = vv_journal_parse(p, len - (size_t)(p - got), &j);
	assert_true(n > 0);
	assert_int_equal(j.kind, 'r');
	assert_int_equal(j.rec.k, 0);
	assert_int_equal(j.rec.smax, 0);
	p += n;
	n = vv_journal_parse(p, len - (size_t)(p - got), &j);
	assert_true(n > 0);
	assert_int_equal(j.kind, 'f');
	assert_int_equal(j.rec.k, 0);
	p += n;
	n = vv_journal_parse(p, len - (size_t)(p - got), &j);
	assert_true(n > 0);
	assert_int_equal(j.kind, 'c');
	assert_int_equal(j.pyc.hdr, 7);
	assert_int_equal(j.rec.k, 0);
	assert_int_equal(j.rec.sum, 0);
	p += n;
	assert_true(p == got + len);
	free(got);
	close(fd);
	vt_rmtree(dir);

	const char *bad[] = {
		"c r 644 1 0 " HEX " 1:a\n",                  /* no values */
		"c r 644 1 0 " HEX ",1 1:a\n",                /* one */
		"c r 644 1 0 " HEX ",1,2,3 1:a\n",            /* three, like a pyc */
		"c r 644 1 0 " HEX ",1,2,3,4,5 1:a\n",        /* five */
		"c r 644 1 0 " HEX ",1,,3,4 1:a\n",           /* an empty one */
		"c r 644 1 0 " HEX ",1,2,3,4, 1:a\n",         /* a trailing comma */
		"c r 644 1 0 " HEX ",4294967296,2,3,4 1:a\n", /* past 32 bits */
		"c r 644 1 0 " HEX ",1,4294967296,3,4 1:a\n",
		"c r 644 1 0 " HEX ",1,2,4294967296,4 1:a\n",
		"c r 644 1 0 " HEX ",1,2,3,4294967296 1:a\n",
		"c r 644 1 0 " HEX ",1,2,3,99999999999999999999999 1:a\n",
		"c r 644 1 0 " HEX ",01,2,3,4 1:a\n",         /* leading zero */
		"c r 644 1 0 " HEX ",1,-2,3,4 1:a\n",         /* negative */
		"c r 644 1 0 " HEX " ,1,2,3,4 1:a\n",         /* a space before them */
		"c r 644 1 0 " HEX ",1,2,3,41:a\n",           /* no space after them */
		"c f 644 1 0 " HEX ",1,2,3,4 1:a\n",          /* values on a plain file */
		"c s 755 1 0 " HEX ",1,2,3,4 1:a\n",          /* on a script */
		"c c 644 1 0 " HEX ",1,2,3,4 1:a\n",          /* four on a pyc */
		"n r 644 0 1:a\n",                            /* a node without content */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &j);
		if (r != -EUCLEAN)
			fail_msg("record %zu (%s) gave %d", i, bad[i], r);
	}
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

#define STAGE "0123456789abcdef"

/* `w MODE STAGE PATH`: written as one line, read back field by field. */
static void test_stage_record(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	int fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(vv_journal_stage(fd, "lib/a b.py", 0755, STAGE), 0);
	assert_int_equal(vv_journal_stage(fd, "x", 04700, "fedcba9876543210"), 0);
	size_t len;
	char *got = written(fd, 0, &len);
	assert_string_equal(got, "w 755 " STAGE " 10:lib/a b.py\n"
				 "w 4700 fedcba9876543210 1:x\n");
	struct vv_jrec j;
	int n = vv_journal_parse(got, len, &j);
	assert_int_equal(n, (int)strlen("w 755 " STAGE " 10:lib/a b.py\n"));
	assert_int_equal(j.op, 'w');
	assert_int_equal(j.mode, 0755);
	assert_string_equal(j.stage, STAGE);
	assert_int_equal(j.alen, 10);
	assert_memory_equal(j.a, "lib/a b.py", 10);
	assert_null(j.b);
	int m = vv_journal_parse(got + n, len - (size_t)n, &j);
	assert_int_equal((size_t)(n + m), len);
	assert_int_equal(j.mode, 04700);
	assert_string_equal(j.stage, "fedcba9876543210");
	assert_int_equal(j.alen, 1);
	assert_memory_equal(j.a, "x", 1);
	free(got);
	close(fd);
	vt_rmtree(dir);
}

static void test_stage_record_bad(void **state)
{
	(void)state;
	struct vv_jrec j;
	const char *bad[] = {
		"w 644 0123456789abcde 1:a\n",   /* 15 hex digits */
		"w 644 0123456789abcdef0 1:a\n", /* 17 */
		"w 644 0123456789ABCDEF 1:a\n",  /* uppercase */
		"w 644 0123456789abcdeg 1:a\n",  /* not hex */
		"w 644 0123456789abcd-f 1:a\n",
		"w 644 0123456789abcdef 0:\n",   /* empty path */
		"w 19999 0123456789abcdef 1:a\n", /* mode > 07777 */
		"w 0644 0123456789abcdef 1:a\n", /* leading zero */
		"w 644  0123456789abcdef 1:a\n", /* two spaces */
		"w 644 0123456789abcdef 1:a!",   /* no newline */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &j);
		if (r != -EUCLEAN)
			fail_msg("record %zu (%s) gave %d", i, bad[i], r);
	}
	/* a torn `w` record is incomplete at every length, never an error */
	const char *w = "w 644 " STAGE " 8:lib/x.py\n";
	for (size_t n = 0; n < strlen(w); n++) {
		int r = vv_journal_parse(w, n, &j);
		if (r != 0)
			fail_msg("prefix of %zu bytes gave %d", n, r);
	}
	assert_int_equal(parse(w, &j), (int)strlen(w));
}

struct stages_seen {
	int n;
	char ops[8];
	char stage[8][17];
};

static int see_stage(void *ctx, const struct vv_jrec *rec)
{
	struct stages_seen *s = ctx;
	if (s->n < 8) {
		s->ops[s->n] = rec->op;
		memcpy(s->stage[s->n], rec->stage, sizeof(rec->stage));
		s->n++;
	}
	return 0;
}

static off_t jsize(struct vv_store *st, const char *name)
{
	struct stat sb;
	assert_int_equal(fstatat(st->journalfd, name, &sb, 0), 0);
	return sb.st_size;
}

/* vv_journal_scan (gc, fsck: a mount may be appending) reads what vv_journal_read
 * reads and never cuts a torn tail; vv_journal_read cuts it. */
static void test_scan_leaves_tail(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid root, other;
	vv_hash_buf("root", 4, &root);
	vv_hash_buf("other", 5, &other);
	struct stages_seen s = { 0 };
	assert_int_equal(vv_journal_scan(st, "e", &root, see_stage, &s), 0); /* none yet */
	int fd = -1;
	assert_int_equal(vv_journal_open(st, "e", &root, &fd), 0);
	assert_int_equal(vv_journal_stage(fd, "a", 0644, STAGE), 0);
	assert_int_equal(vv_journal_mkdir(fd, "d", 0755, 1), 0);
	off_t whole = jsize(st, "e");
	const char torn[] = "w 644 01234";
	assert_int_equal(vv_write_all(fd, torn, sizeof(torn) - 1), 0);
	off_t with_tail = jsize(st, "e");
	assert_int_equal(with_tail, whole + (off_t)sizeof(torn) - 1);

	assert_int_equal(vv_journal_scan(st, "e", &root, see_stage, &s), 2);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.ops, "wd", 2);
	assert_string_equal(s.stage[0], STAGE);
	assert_int_equal(jsize(st, "e"), with_tail);
	/* a stale journal scans empty */
	struct stages_seen none = { 0 };
	assert_int_equal(vv_journal_scan(st, "e", &other, see_stage, &none), 0);
	assert_int_equal(none.n, 0);

	/* read: the same records, and the tail is gone */
	struct stages_seen r = { 0 };
	assert_int_equal(vv_journal_read(st, "e", &root, see_stage, &r), 2);
	assert_int_equal(r.n, 2);
	assert_memory_equal(r.ops, "wd", 2);
	assert_string_equal(r.stage[0], STAGE);
	assert_int_equal(jsize(st, "e"), whole);
	vv_journal_close(&fd);
	vt_store_free(st);
}

/* The records replay needs after a power loss: which boot wrote what follows, a
 * stage's seal, its first fsync. */
static void test_boot_seal_sync_records(void **state)
{
	(void)state;
	struct vv_jrec j;
	const char *b = "b 0f2a6c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b\n";
	assert_int_equal(parse(b, &j), (int)strlen(b));
	assert_int_equal(j.op, 'b');
	assert_string_equal(j.boot, "0f2a6c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
	const char *sr = "s 0123456789abcdef 12 " HEX "\n";
	assert_int_equal(parse(sr, &j), (int)strlen(sr));
	assert_int_equal(j.op, 's');
	assert_string_equal(j.stage, "0123456789abcdef");
	assert_int_equal(j.size, 12);
	assert_string_equal(j.oidhex, HEX);
	assert_null(j.a);
	const char *f = "f 0123456789abcdef\n";
	assert_int_equal(parse(f, &j), (int)strlen(f));
	assert_int_equal(j.op, 'f');
	assert_string_equal(j.stage, "0123456789abcdef");
	/* every strict prefix is incomplete */
	const char *all[] = { b, sr, f };
	for (size_t i = 0; i < 3; i++)
		for (size_t n = 0; n < strlen(all[i]); n++)
			assert_int_equal(vv_journal_parse(all[i], n, &j), 0);
	const char *bad[] = {
		"b 0F2A6C1E-3b4d-4e5f-8a9b-0c1d2e3f4a5b\n", /* upper case */
		"b 0f2a6c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5bX\n", /* too long */
		"b 0f2a6c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5\n",  /* too short */
		"s 0123456789abcdeg 12 " HEX "\n",         /* bad stage name */
		"s 0123456789abcdef 12 zz" HEX "\n",       /* bad hex */
		"s 0123456789abcdef -1 " HEX "\n",         /* bad size */
		"f 0123456789abcdef 1:a\n",                /* trailing path */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &j);
		if (r != -EUCLEAN)
			fail_msg("record %zu (%s) gave %d", i, bad[i], r);
	}
	/* the writers make what the parser reads */
	struct vv_store *st = vt_store_new();
	vv_oid root, oid;
	vv_hash_buf("root", 4, &root);
	vv_hash_buf("x", 1, &oid);
	int fd = -1;
	assert_int_equal(vv_journal_open(st, "e", &root, &fd), 0);
	/* a journal holding only its header and `b` records has nothing pending */
	assert_int_equal(vv_journal_boot(fd), 0);
	assert_int_equal(vv_journal_pending(st, "e", &root), 0);
	assert_int_equal(vv_journal_boot(fd), 0);
	assert_int_equal(vv_journal_pending(st, "e", &root), 0);
	assert_int_equal(vv_journal_sealed(fd, "0123456789abcdef", 1, &oid), 0);
	assert_int_equal(vv_journal_synced(fd, "0123456789abcdef"), 0);
	assert_int_equal(vv_journal_pending(st, "e", &root), 1);
	struct seen s = { 0 };
	assert_int_equal(vv_journal_read(st, "e", &root, see, &s), 4);
	assert_memory_equal(s.ops, "bbsf", 4);
	vv_journal_close(&fd);
	vt_store_free(st);
}

/* ---- vv_jlost ---- */

/* Feed one record (text) to l; missing: its stage or object cannot be found. */
static void lstep(struct vv_jlost *l, const char *rec, bool missing)
{
	struct vv_jrec j;
	int n = parse(rec, &j);
	if (n != (int)strlen(rec))
		fail_msg("record '%s' gave %d", rec, n);
	assert_int_equal(vv_jlost_step(l, &j, missing), 0);
}

/* l holds exactly the paths given (any order), NULL-terminated. */
static void lost_is(const struct vv_jlost *l, ...)
{
	va_list ap;
	va_start(ap, l);
	size_t want = 0;
	for (const char *p; (p = va_arg(ap, const char *)); want++) {
		size_t found = 0;
		for (size_t i = 0; i < l->n; i++)
			found += !strcmp(l->paths[i], p);
		if (found != 1)
			fail_msg("'%s' is lost %zu times", p, found);
	}
	va_end(ap);
	if (l->n != want) {
		for (size_t i = 0; i < l->n; i++)
			print_message("  lost: %s\n", l->paths[i]);
		fail_msg("%zu paths lost, want %zu", l->n, want);
	}
}

#define W(path) "w 644 " STAGE " " path "\n"
#define C(path) "c f 644 0 0 " HEX " " path "\n"

static void test_jlost_follows_paths(void **state)
{
	(void)state;
	struct vv_jlost l = { 0 };
	/* present content is never lost; a missing stage is, until something else
	 * happens to its path */
	lstep(&l, W("3:a/y"), false);
	lost_is(&l, NULL);
	lstep(&l, W("3:a/x"), true);
	lost_is(&l, "a/x", NULL);
	lstep(&l, "a 600 5 3:a/x\n", false); /* chmod keeps the content */
	lost_is(&l, "a/x", NULL);
	lstep(&l, W("3:a/x"), true); /* lost again: still one path */
	lost_is(&l, "a/x", NULL);
	lstep(&l, "u 3:a/x\n", false);
	lost_is(&l, NULL);

	/* moved with a rename */
	lstep(&l, W("3:a/x"), true);
	lstep(&l, "r 0 3:a/x 3:b/y\n", false);
	lost_is(&l, "b/y", NULL);
	/* ... and with a rename of a directory above it, but not of "b2" */
	lstep(&l, C("4:b2/q"), true);
	lstep(&l, "r 1 1:b 1:z\n", false);
	lost_is(&l, "z/y", "b2/q", NULL);
	vv_jlost_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.paths);

	/* a rename that replaces the lost path's file clears it */
	lstep(&l, W("3:a/x"), true);
	lstep(&l, W("3:b/z"), false);
	lstep(&l, "r 0 3:b/z 3:a/x\n", false);
	lost_is(&l, NULL);
	/* ... unless the replacing file is the lost one */
	lstep(&l, W("3:a/x"), true);
	lstep(&l, "r 0 3:a/x 3:b/z\n", false);
	lost_is(&l, "b/z", NULL);
	vv_jlost_free(&l);

	/* RENAME_EXCHANGE swaps: a lost file, and the lost files of two directories */
	lstep(&l, W("3:a/x"), true);
	lstep(&l, "r 2 3:a/x 3:b/y\n", false);
	lost_is(&l, "b/y", NULL);
	lstep(&l, C("3:a/x"), true);
	lstep(&l, "r 2 3:a/x 3:b/y\n", false); /* both lost: both stay */
	lost_is(&l, "a/x", "b/y", NULL);
	lstep(&l, W("4:d1/f"), true);
	lstep(&l, W("6:d2/g/h"), true);
	lstep(&l, "r 2 2:d1 2:d2\n", false);
	lost_is(&l, "a/x", "b/y", "d2/f", "d1/g/h", NULL);
	vv_jlost_free(&l);

	/* removing a directory clears what is below it, and only that */
	lstep(&l, W("3:a/x"), true);
	lstep(&l, C("5:a/b/c"), true);
	lstep(&l, W("4:ab/x"), true);
	lstep(&l, "u 1:a\n", false);
	lost_is(&l, "ab/x", NULL);
	vv_jlost_free(&l);

	/* new content for the path clears it: `c`, `w`, a symlink or a mkdir there */
	const char *later[] = { C("3:a/x"), W("3:a/x"), "l 0 1:t 3:a/x\n", "d 755 0 3:a/x\n" };
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		lstep(&l, W("3:a/x"), true);
		lstep(&l, W("3:a/w"), true);
		lstep(&l, later[i], false);
		lost_is(&l, "a/w", NULL);
		vv_jlost_free(&l);
	}
	/* a missing `c` is lost like a missing `w` */
	lstep(&l, C("3:a/x"), true);
	lost_is(&l, "a/x", NULL);
	vv_jlost_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_boot_seal_sync_records),
		cmocka_unit_test(test_incomplete_and_malformed),
		cmocka_unit_test(test_writers),
		cmocka_unit_test(test_mknod_record),
		cmocka_unit_test(test_record_put),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_stage_record),
		cmocka_unit_test(test_stage_record_bad),
		cmocka_unit_test(test_scan_leaves_tail),
		cmocka_unit_test(test_jlost_follows_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
