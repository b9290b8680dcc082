/*
 * test_times.c - an env root's times section (store/times.h): the encoding round trips
 * a realistic table and stays under 4 bytes an entry, the builder keeps number order,
 * copies renumber a range, lookups and apply, the strict decoder refuses every byte
 * string but the one encoding of a table (the section is outside input), and
 * vv_times_inline writes the values into the trees and shares what it did not touch.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/hash.h"
#include "store/handle.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/times.h"
#include "store/tree.h"

#define NS 1000000000LL

/* A pyc header word's seconds: floor(mtime / 1 s) modulo 2^32, as times.c says. */
static uint32_t secs32(int64_t mtime)
{
	int64_t s = mtime / NS;
	if (mtime % NS < 0)
		s--;
	return (uint32_t)(uint64_t)s;
}

/* A small deterministic generator (xorshift64). */
static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void encode(const struct vv_timesb *b, char **buf, size_t *len)
{
	if (vv_timesb_encode(b, buf, len) != 0)
		fail_msg("vv_timesb_encode: %s", vv_errmsg());
}

/* decode a copy of exactly len bytes (so a read past the end is an overread) */
static int decode(const void *buf, size_t len, uint64_t count, struct vv_times **out)
{
	void *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	*out = NULL;
	vv_err_clear();
	int r = vv_times_decode(copy, len, count, out);
	free(copy);
	if (r < 0)
		assert_null(*out);
	return r;
}

static void assert_same(const struct vv_times *t, const struct vv_timesb *b)
{
	assert_int_equal(t->n, b->n);
	for (size_t i = 0; i < b->n; i++) {
		if (t->idx[i] != b->idx[i] || t->mtime[i] != b->mtime[i] || t->hdr[i] != b->hdr[i])
			fail_msg("entry %zu: got %" PRIu32 " %" PRId64 " %" PRIu32 ", want %" PRIu32
				 " %" PRId64 " %" PRIu32, i, t->idx[i], t->mtime[i], t->hdr[i],
				 b->idx[i], b->mtime[i], b->hdr[i]);
	}
}

static void add(struct vv_timesb *b, uint64_t idx, int64_t mtime, uint32_t hdr)
{
	if (vv_timesb_add(b, idx, mtime, hdr) != 0)
		fail_msg("vv_timesb_add %" PRIu64 ": %s", idx, vv_errmsg());
}

/* Several runs with gaps, pip-like mtimes, header words near and far from their
 * mtime's seconds, negative mtimes, INT64_MIN next to INT64_MAX, the last number. */
static void build_realistic(struct vv_timesb *b)
{
	int64_t m = 1700000000123456789LL;
	uint64_t idx = 0;
	/* runs of 1..40 entries with gaps of 1..20 */
	for (int run = 0; run < 30; run++) {
		uint64_t len = 1 + rnd() % 40;
		for (uint64_t j = 0; j < len; j++) {
			m += 200000 + (int64_t)(rnd() % 200000);
			uint32_t hdr = 0;
			if (j % 3 == 2)
				hdr = secs32(m) - (uint32_t)(rnd() % 3); /* source a little older */
			add(b, idx + j, m, hdr);
		}
		idx += len + 1 + rnd() % 20;
	}
	/* header words far from the mtime's seconds, both ways */
	add(b, idx++, 5, UINT32_MAX);
	add(b, idx++, (int64_t)UINT32_MAX * NS, 1);
	add(b, idx++, 1700000000 * NS, 1);
	idx += 3;
	/* before the epoch; a header word next to seconds 2^32 - 1 (-1 s) */
	add(b, idx++, -1, 7);
	add(b, idx++, -1500000000LL, 0);
	add(b, idx++, -NS, UINT32_MAX);
	/* the extremes next to each other: the difference wraps */
	add(b, idx++, INT64_MIN, 1);
	add(b, idx++, INT64_MAX, UINT32_MAX);
	add(b, idx++, INT64_MIN, 0);
	add(b, idx++, 0, 0);
	add(b, idx + 1000, 1, 0);
	/* the highest number, alone after a long gap */
	add(b, UINT32_MAX - 1, 2, 0);
	add(b, UINT32_MAX, INT64_MAX, 123);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct vv_timesb b = { 0 };
	build_realistic(&b);
	char *buf;
	size_t len;
	encode(&b, &buf, &len);
	assert_non_null(buf);
	struct vv_times *t;
	assert_int_equal(decode(buf, len, (uint64_t)UINT32_MAX + 1, &t), 0);
	assert_same(t, &b);
	/* a copy of the table encodes to the same bytes */
	struct vv_timesb b2 = { 0 };
	assert_int_equal(vv_timesb_copy(&b2, t, 0, (uint64_t)UINT32_MAX + 1, 0), 0);
	char *buf2;
	size_t len2;
	encode(&b2, &buf2, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	free(buf2);
	vv_timesb_free(&b2);
	vv_times_ref(t);
	vv_times_unref(t);
	vv_times_unref(t);
	vv_times_unref(NULL);
	/* the last number must be below count */
	assert_int_equal(decode(buf, len, UINT32_MAX, &t), -EUCLEAN);
	assert_int_equal(decode(buf, len, UINT64_MAX, &t), 0);
	vv_times_unref(t);
	free(buf);
	vv_timesb_free(&b);
	assert_int_equal(b.n, 0);
	assert_null(b.idx);

	/* one entry: 1 run at 0 of 1, mtime 1 (zigzag 2), no header word */
	add(&b, 0, 1, 0);
	encode(&b, &buf, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "\x01\x00\x01\x02\x00", 5);
	free(buf);
	vv_timesb_free(&b);
}

static void test_empty_builder(void **state)
{
	(void)state;
	struct vv_timesb b = { 0 };
	char *buf = (char *)"x";
	size_t len = 9;
	assert_int_equal(vv_timesb_encode(&b, &buf, &len), 0);
	assert_null(buf);
	assert_int_equal(len, 0);
	vv_timesb_free(&b);
	vv_timesb_free(&b);
}

static void test_add_order(void **state)
{
	(void)state;
	struct vv_timesb b = { 0 };
	assert_int_equal(vv_timesb_add(&b, (uint64_t)UINT32_MAX + 1, 1, 0), -EINVAL);
	assert_int_equal(vv_timesb_add(&b, UINT64_MAX, 1, 0), -EINVAL);
	assert_int_equal(b.n, 0);
	add(&b, 0, 1, 0);
	assert_int_equal(vv_timesb_add(&b, 0, 2, 0), -EINVAL); /* duplicate */
	add(&b, 5, 2, 0);
	assert_int_equal(vv_timesb_add(&b, 5, 3, 0), -EINVAL); /* duplicate */
	assert_int_equal(vv_timesb_add(&b, 4, 3, 0), -EINVAL); /* out of order */
	assert_int_equal(vv_timesb_add(&b, 0, 3, 0), -EINVAL);
	assert_int_equal(b.n, 2);
	/* grows past its first allocation */
	for (uint64_t i = 6; i < 1000; i++)
		add(&b, i, (int64_t)i, (uint32_t)i);
	add(&b, UINT32_MAX, 4, 0);
	assert_int_equal(vv_timesb_add(&b, UINT32_MAX, 5, 0), -EINVAL);
	assert_int_equal(vv_timesb_add(&b, (uint64_t)UINT32_MAX + 1, 5, 0), -EINVAL);
	assert_int_equal(b.n, 2 + 994 + 1);
	assert_int_equal(b.idx[b.n - 1], UINT32_MAX);
	assert_int_equal(b.idx[500], 504);
	assert_true(b.mtime[500] == 504 && b.hdr[500] == 504);
	vv_timesb_free(&b);
}

/* src: {2, 3, 4, 10, 11, 20} with header words on some */
static struct vv_times *copy_src(void)
{
	struct vv_timesb b = { 0 };
	static const uint32_t idx[] = { 2, 3, 4, 10, 11, 20 };
	for (size_t i = 0; i < 6; i++)
		add(&b, idx[i], 1000 + (int64_t)idx[i], i % 2 ? 50 + idx[i] : 0);
	char *buf;
	size_t len;
	encode(&b, &buf, &len);
	struct vv_times *t;
	assert_int_equal(decode(buf, len, 21, &t), 0);
	assert_same(t, &b);
	free(buf);
	vv_timesb_free(&b);
	return t;
}

static void test_copy(void **state)
{
	(void)state;
	struct vv_times *src = copy_src();
	struct vv_timesb b = { 0 };
	add(&b, 1, 99, 0);
	/* [3, 11) to 100: 3 -> 100, 4 -> 101, 10 -> 107; 2 and 11 stay out */
	assert_int_equal(vv_timesb_copy(&b, src, 3, 8, 100), 0);
	assert_int_equal(b.n, 4);
	assert_int_equal(b.idx[1], 100);
	assert_true(b.mtime[1] == 1003 && b.hdr[1] == 53);
	assert_int_equal(b.idx[2], 101);
	assert_true(b.mtime[2] == 1004 && b.hdr[2] == 0);
	assert_int_equal(b.idx[3], 107);
	assert_true(b.mtime[3] == 1010 && b.hdr[3] == 60);
	/* ranges with nothing in them, and no table at all, copy nothing */
	assert_int_equal(vv_timesb_copy(&b, src, 5, 5, 200), 0);
	assert_int_equal(vv_timesb_copy(&b, src, 21, 100, 200), 0);
	assert_int_equal(vv_timesb_copy(&b, src, 0, 2, 200), 0);
	assert_int_equal(vv_timesb_copy(&b, src, 2, 0, 200), 0);
	assert_int_equal(vv_timesb_copy(&b, src, (uint64_t)UINT32_MAX + 5, 10, 200), 0);
	assert_int_equal(vv_timesb_copy(&b, NULL, 0, 100, 200), 0);
	assert_int_equal(b.n, 4);
	/* renumbered down: [10, 21) to 150 */
	assert_int_equal(vv_timesb_copy(&b, src, 10, 11, 150), 0);
	assert_int_equal(b.n, 7);
	assert_int_equal(b.idx[4], 150);
	assert_int_equal(b.idx[5], 151);
	assert_int_equal(b.idx[6], 160);
	assert_true(b.mtime[6] == 1020 && b.hdr[6] == 70);
	/* renumbered below what the builder holds: refused */
	assert_int_equal(vv_timesb_copy(&b, src, 0, 21, 0), -EINVAL);
	vv_timesb_free(&b);
	/* renumbered past 2^32 - 1: refused */
	assert_int_equal(vv_timesb_copy(&b, src, 20, 1, UINT32_MAX), 0);
	assert_int_equal(b.idx[0], UINT32_MAX);
	vv_timesb_free(&b);
	assert_int_equal(vv_timesb_copy(&b, src, 10, 11, UINT32_MAX - 5), -EINVAL);
	vv_timesb_free(&b);
	vv_times_unref(src);
}

static void test_get_any_apply(void **state)
{
	(void)state;
	struct vv_times *t = copy_src();
	int64_t m = -1;
	uint32_t h = 9;
	assert_false(vv_times_get(NULL, 2, &m, &h));
	assert_false(vv_times_get(t, 0, &m, &h));
	assert_false(vv_times_get(t, 5, &m, &h));
	assert_false(vv_times_get(t, 21, &m, &h));
	assert_false(vv_times_get(t, (uint64_t)UINT32_MAX + 2, &m, &h));
	assert_true(m == -1 && h == 9);
	assert_true(vv_times_get(t, 2, &m, &h));
	assert_true(m == 1002 && h == 0);
	assert_true(vv_times_get(t, 3, &m, &h));
	assert_true(m == 1003 && h == 53);
	assert_true(vv_times_get(t, 20, &m, &h));
	assert_true(m == 1020 && h == 70);

	assert_false(vv_times_any(NULL, 0, 100));
	assert_true(vv_times_any(t, 0, 3));
	assert_false(vv_times_any(t, 0, 2));
	assert_false(vv_times_any(t, 5, 5));
	assert_true(vv_times_any(t, 5, 6));
	assert_true(vv_times_any(t, 11, 1));
	assert_false(vv_times_any(t, 12, 8));
	assert_true(vv_times_any(t, 12, 9));
	assert_false(vv_times_any(t, 21, UINT64_MAX - 21));
	assert_false(vv_times_any(t, 2, 0));
	assert_false(vv_times_any(t, (uint64_t)UINT32_MAX + 1, 10));

	/* apply: the mtime always, the header word only into a pyc */
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.kind = VV_REG;
	e.mtime_ns = 7;
	assert_true(vv_times_apply(t, 3, &e));
	assert_true(e.mtime_ns == 1003);
	assert_int_equal(e.pyc.hdr, 0);
	e.kind = VV_SCRIPT;
	assert_true(vv_times_apply(t, 11, &e));
	assert_true(e.mtime_ns == 1011);
	assert_int_equal(e.pyc.hdr, 0);
	e.kind = VV_DIR;
	assert_true(vv_times_apply(t, 10, &e));
	assert_true(e.mtime_ns == 1010);
	assert_int_equal(e.pyc.hdr, 0);
	e.kind = VV_PYC;
	e.pyc = (struct vv_pycent){ 0, 2, 3 };
	assert_true(vv_times_apply(t, 3, &e));
	assert_true(e.mtime_ns == 1003);
	assert_int_equal(e.pyc.hdr, 53);
	assert_int_equal(e.pyc.nsub, 2);
	assert_int_equal(e.pyc.sufl, 3);
	/* an entry without a header word: its pyc's word is 0 */
	assert_true(vv_times_apply(t, 4, &e));
	assert_true(e.mtime_ns == 1004);
	assert_int_equal(e.pyc.hdr, 0);
	/* not in the table: e is left alone */
	e.pyc.hdr = 77;
	assert_false(vv_times_apply(t, 5, &e));
	assert_false(vv_times_apply(NULL, 3, &e));
	assert_true(e.mtime_ns == 1004);
	assert_int_equal(e.pyc.hdr, 77);
	vv_times_unref(t);
}

static void expect_bad(const char *what, const void *buf, size_t len, uint64_t count)
{
	struct vv_times *t;
	int r = decode(buf, len, count, &t);
	if (r != -EUCLEAN)
		fail_msg("%s: decode returned %d, want -EUCLEAN", what, r);
	if (!strstr(vv_errmsg(), "bad times section"))
		fail_msg("%s: message '%s'", what, vv_errmsg());
}

static void expect_good(const char *what, const void *buf, size_t len, uint64_t count)
{
	struct vv_times *t;
	if (decode(buf, len, count, &t) != 0)
		fail_msg("%s: %s", what, vv_errmsg());
	vv_times_unref(t);
}

#define BAD(what, s, count) expect_bad(what, s, sizeof(s) - 1, count)
#define GOOD(what, s, count) expect_good(what, s, sizeof(s) - 1, count)

static void test_decode_rejects(void **state)
{
	(void)state;
	/* every cut of a valid encoding */
	struct vv_timesb b = { 0 };
	build_realistic(&b);
	char *buf;
	size_t len;
	encode(&b, &buf, &len);
	for (size_t i = 0; i < len; i++) {
		struct vv_times *t;
		int r = decode(buf, i, (uint64_t)UINT32_MAX + 1, &t);
		if (r != -EUCLEAN)
			fail_msg("prefix %zu of %zu decoded: %d", i, len, r);
	}
	/* a byte more */
	char *more = malloc(len + 1);
	memcpy(more, buf, len);
	more[len] = 0;
	expect_bad("trailing byte", more, len + 1, (uint64_t)UINT32_MAX + 1);
	free(more);
	free(buf);
	vv_timesb_free(&b);

	/* the smallest table, for reference: entry 0, mtime 1 */
	GOOD("one entry", "\x01\x00\x01\x02\x00", 1);
	BAD("empty", "", 1);
	BAD("count 0", "\x01\x00\x01\x02\x00", 0);
	BAD("trailing zero", "\x01\x00\x01\x02\x00\x00", 1);
	/* varints: one encoding each, 10 bytes at most, below 2^64 */
	BAD("non-minimal nruns", "\x81\x00\x00\x01\x02\x00", 1);
	BAD("non-minimal gap", "\x01\x80\x00\x01\x02\x00", 1);
	BAD("non-minimal length", "\x01\x00\x81\x00\x02\x00", 1);
	BAD("non-minimal mtime", "\x01\x00\x01\x82\x00\x00", 1);
	BAD("non-minimal zero mtime", "\x01\x00\x01\x80\x00\x00", 1);
	GOOD("10-byte mtime", "\x01\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00", 1);
	BAD("mtime above 2^64", "\x01\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02\x00", 1);
	BAD("11-byte mtime",
	    "\x01\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00\x00", 1);
	BAD("11-byte zero mtime",
	    "\x01\x00\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00\x00", 1);
	BAD("11-byte nruns", "\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00"
	    "\x00\x01\x02\x00", 1);
	BAD("truncated varint", "\x01\x00\x01\x82", 1);
	/* runs */
	BAD("nruns 0", "\x00", 1);
	BAD("nruns 0 with bytes", "\x00\x00\x01\x02\x00", 1);
	BAD("nruns 2 for one run", "\x02\x00\x01\x02\x00", 1);
	BAD("nruns huge", "\xff\xff\xff\xff\x0f\x00\x01\x02\x00", 1);
	GOOD("two runs", "\x02\x00\x01\x01\x01\x02\x02\x00", 3);
	BAD("later run with gap 0", "\x02\x00\x01\x00\x01\x02\x02\x00", 3);
	BAD("run of length 0", "\x01\x00\x00\x02\x00", 1);
	BAD("later run of length 0", "\x02\x00\x01\x01\x00\x02\x00", 3);
	GOOD("run at the end", "\x01\x04\x01\x02\x00", 5);
	BAD("run past count", "\x01\x05\x01\x02\x00", 5);
	GOOD("run up to count", "\x01\x02\x03\x02\x02\x02\x00", 5);
	BAD("run across count", "\x01\x03\x03\x02\x02\x02\x00", 5);
	BAD("later run past count", "\x02\x00\x01\x03\x01\x02\x02\x00", 4);
	BAD("gap past 2^64", "\x02\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x01"
	    "\x02\x02\x00", UINT64_MAX);
	/* numbers above 2^32 - 1 do not exist even when count allows them */
	BAD("number 2^32", "\x01\x80\x80\x80\x80\x10\x01\x02\x00", UINT64_MAX);
	GOOD("number 2^32 - 1", "\x01\xff\xff\xff\xff\x0f\x01\x02\x00", UINT64_MAX);
	/* two entries, bytes for one: the second mtime eats the bitmap */
	BAD("missing mtime", "\x01\x00\x02\x02\x00", 2);
	BAD("missing mtimes", "\x01\x00\x02\x02", 2);
	/* the header-word bitmap */
	BAD("missing bitmap", "\x01\x00\x01\x02", 1);
	BAD("padding bit 1", "\x01\x00\x01\x02\x02\x02", 1);
	BAD("padding bit 7", "\x01\x00\x01\x02\x80\x02", 1);
	GOOD("8 entries, all flagged", "\x01\x00\x08\x02\x02\x02\x02\x02\x02\x02\x02\xff"
	     "\x02\x02\x02\x02\x02\x02\x02\x02", 8);
	BAD("9 entries, padding bit set", "\x01\x00\x09\x02\x02\x02\x02\x02\x02\x02\x02\x02"
	    "\x00\x02", 9);
	/* header words: mtime 0 (seconds 0), word = zigzag delta */
	GOOD("header word 1", "\x01\x00\x01\x00\x01\x02", 1);
	GOOD("header word 2^32 - 1", "\x01\x00\x01\x00\x01\xfe\xff\xff\xff\x1f", 1);
	BAD("header word 0", "\x01\x00\x01\x00\x01\x00", 1);
	BAD("header word -1", "\x01\x00\x01\x00\x01\x01", 1);
	BAD("header word 2^32", "\x01\x00\x01\x00\x01\x80\x80\x80\x80\x20", 1);
	BAD("header delta 2^63 - 1",
	    "\x01\x00\x01\x00\x01\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 1);
	BAD("header delta -2^63",
	    "\x01\x00\x01\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 1);
	/* mtime 2 s (varint of zigzag 4e9: 80 d0 ac f3 0e): word 0 is delta -2 */
	BAD("header word 0 after 2 s", "\x01\x00\x01\x80\xd0\xac\xf3\x0e\x01\x03", 1);
	GOOD("header word 1 after 2 s", "\x01\x00\x01\x80\xd0\xac\xf3\x0e\x01\x01", 1);
	BAD("header delta 2^63 - 1 after 2 s", "\x01\x00\x01\x80\xd0\xac\xf3\x0e\x01"
	    "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01", 1);
	BAD("missing header word", "\x01\x00\x01\x00\x01", 1);
	BAD("header word then a byte", "\x01\x00\x01\x00\x01\x02\x00", 1);
}

/* times.h's figure: a pip-installed env (nanosecond mtimes a few hundred microseconds
 * apart, a third of the files pycs with header words) costs under 4 bytes an entry. */
static void test_size(void **state)
{
	(void)state;
	enum { N = 24000 };
	struct vv_timesb b = { 0 };
	int64_t m = 1712345678000000000LL + 123456789;
	uint64_t idx = 0;
	for (size_t i = 0; i < N; i++) {
		int64_t d = 200000 + (int64_t)(rnd() % 200000); /* ~300 us */
		if (rnd() % 50 == 0)
			d = -(int64_t)(rnd() % 5000000); /* now and then out of name order */
		m += d;
		uint32_t hdr = i % 3 == 2 ? secs32(m) - (uint32_t)(rnd() % 2) : 0;
		add(&b, idx, m, hdr);
		idx += 1 + (rnd() % 40 == 0); /* a few entries (directories) left out */
	}
	char *buf;
	size_t len;
	encode(&b, &buf, &len);
	if (len >= 4 * (size_t)N)
		fail_msg("%zu entries took %zu bytes (%.2f an entry)", (size_t)N, len,
			 (double)len / N);
	struct vv_times *t;
	assert_int_equal(decode(buf, len, idx, &t), 0);
	assert_same(t, &b);
	vv_times_unref(t);
	free(buf);
	vv_timesb_free(&b);
}

/* ---- vv_times_inline ---- */

static vv_oid lookup_oid(struct vv_store *st, const vv_oid *root, const char *path)
{
	struct vv_tree_ent e;
	if (!vt_lookup(st, root, path, &e))
		fail_msg("'%s' not found", path);
	return e.oid;
}

static void check_ent(struct vv_store *st, const vv_oid *root, const char *path,
		      int64_t mtime, uint32_t hdr)
{
	struct vv_tree_ent e;
	if (!vt_lookup(st, root, path, &e))
		fail_msg("'%s' not found", path);
	if (e.mtime_ns != mtime || e.pyc.hdr != hdr)
		fail_msg("'%s': mtime %" PRId64 " hdr %" PRIu32 ", want %" PRId64 " %" PRIu32,
			 path, e.mtime_ns, e.pyc.hdr, mtime, hdr);
}

struct env {
	vv_oid x, bin, sub, lib, plain, root;
	struct vv_tree_ent top[3];
};

/* bin/{u}, lib/{a.py, m.pyc, sub/{deep}}, top; all mtimes 0. Numbers: bin 0, bin/u 1,
 * lib 2, lib/a.py 3, lib/m.pyc 4, lib/sub 5, lib/sub/deep 6, top 7. */
static void build_env(struct vv_store *st, struct env *v, int64_t ma, int64_t mm,
		      uint32_t hm, int64_t mdeep)
{
	v->x = vt_put(st, "x");
	struct vv_tree_ent u = vt_file_ent("u", v->x, 1);
	v->bin = vt_tree(st, &u, 1);
	struct vv_tree_ent deep = vt_file_ent("deep", v->x, 1);
	deep.mtime_ns = mdeep;
	v->sub = vt_tree(st, &deep, 1);
	struct vv_tree_ent l[3] = { vt_file_ent("a.py", v->x, 1), vt_file_ent("m.pyc", v->x, 1),
				    vt_dir_ent("sub", v->sub) };
	l[0].mtime_ns = ma;
	l[1].kind = VV_PYC;
	l[1].mtime_ns = mm;
	l[1].pyc = (struct vv_pycent){ hm, 1, 0 };
	v->lib = vt_tree(st, l, 3);
	v->top[0] = vt_dir_ent("bin", v->bin);
	v->top[1] = vt_dir_ent("lib", v->lib);
	v->top[2] = vt_file_ent("top", v->x, 1);
	v->plain = vt_tree(st, v->top, 3); /* fills the directories' counts */
}

static vv_oid put_root(struct vv_store *st, const struct vv_tree_ent *ents, size_t n,
		       const struct vv_timesb *b)
{
	char *sect, *buf;
	size_t sl, len;
	encode(b, &sect, &sl);
	assert_int_equal(vv_tree_serialize(ents, n, sect, sl, &buf, &len), 0);
	vv_oid o;
	assert_int_equal(vv_odb_put_buf(&st->odb, buf, len, &o), 0);
	free(buf);
	free(sect);
	return o;
}

static void test_inline(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct env v;
	build_env(st, &v, 0, 0, 0, 0);
	assert_int_equal(v.top[0].size, 1);
	assert_int_equal(v.top[1].size, 4);
	const int64_t T = 1700000000 * NS;
	struct vv_timesb b = { 0 };
	add(&b, 2, T + 2, 0);                         /* lib */
	add(&b, 3, T + 3, 0);                         /* lib/a.py */
	add(&b, 4, T + 4, (uint32_t)(T / NS) - 1);    /* lib/m.pyc and its header word */
	add(&b, 6, -6, 0);                            /* lib/sub/deep */
	add(&b, 7, T + 7, 0);                         /* top */
	vv_oid root = put_root(st, v.top, 3, &b);
	vv_timesb_free(&b);

	struct vv_tree *t;
	struct vv_times *tm;
	assert_int_equal(vv_tree_get(st, &root, &t), 0);
	assert_int_equal(t->count, 8);
	assert_non_null(t->times);
	assert_int_equal(vv_times_of(t, &tm), 0);
	assert_non_null(tm);
	assert_int_equal(tm->n, 5);
	vv_times_unref(tm);
	vv_tree_unref(t);
	/* what the mount shows for the sectioned root */
	check_ent(st, &root, "lib", T + 2, 0);
	check_ent(st, &root, "lib/m.pyc", T + 4, (uint32_t)(T / NS) - 1);
	check_ent(st, &root, "lib/sub/deep", -6, 0);

	vv_oid out;
	assert_int_equal(vv_times_inline(st, &root, &out), 0);
	assert_false(vv_oid_eq(&out, &root));
	assert_false(vv_oid_eq(&out, &v.plain));
	assert_int_equal(vv_tree_get(st, &out, &t), 0);
	assert_null(t->times);
	assert_int_equal(t->timeslen, 0);
	assert_int_equal(t->version, 2);
	assert_int_equal(t->count, 8);
	/* the values are in the trees themselves now */
	assert_true(t->ents[1].mtime_ns == T + 2);
	assert_true(t->ents[2].mtime_ns == T + 7);
	assert_int_equal(t->ents[0].size, 1);
	assert_int_equal(t->ents[1].size, 4);
	vv_tree_unref(t);
	check_ent(st, &out, "bin", 0, 0);
	check_ent(st, &out, "bin/u", 0, 0);
	check_ent(st, &out, "lib", T + 2, 0);
	check_ent(st, &out, "lib/a.py", T + 3, 0);
	check_ent(st, &out, "lib/m.pyc", T + 4, (uint32_t)(T / NS) - 1);
	check_ent(st, &out, "lib/sub", 0, 0);
	check_ent(st, &out, "lib/sub/deep", -6, 0);
	check_ent(st, &out, "top", T + 7, 0);
	/* untouched subtrees keep their ids; the others are new */
	vv_oid bin = lookup_oid(st, &out, "bin");
	assert_true(vv_oid_eq(&bin, &v.bin));
	vv_oid lib = lookup_oid(st, &out, "lib");
	assert_false(vv_oid_eq(&lib, &v.lib));
	vv_oid sub = lookup_oid(st, &out, "lib/sub");
	assert_false(vv_oid_eq(&sub, &v.sub));

	/* exactly the trees one would write with those mtimes */
	struct env w;
	build_env(st, &w, T + 3, T + 4, (uint32_t)(T / NS) - 1, -6);
	w.top[1].mtime_ns = T + 2;
	w.top[2].mtime_ns = T + 7;
	vv_oid want = vt_tree(st, w.top, 3);
	assert_true(vv_oid_eq(&out, &want));
	assert_true(vv_oid_eq(&w.bin, &v.bin));

	/* no section: the root itself */
	vv_oid same;
	assert_int_equal(vv_times_inline(st, &v.plain, &same), 0);
	assert_true(vv_oid_eq(&same, &v.plain));
	assert_int_equal(vv_times_inline(st, &out, &same), 0);
	assert_true(vv_oid_eq(&same, &out));
	vt_store_free(st);
}

/* A section with values only for one subtree rewrites only its path; a section that
 * does not decode, or a root that is not there, is an error. */
static void test_inline_partial_and_errors(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	struct env v;
	build_env(st, &v, 0, 0, 0, 0);
	struct vv_timesb b = { 0 };
	add(&b, 1, 11, 0); /* bin/u */
	vv_oid root = put_root(st, v.top, 3, &b), out;
	vv_timesb_free(&b);
	assert_int_equal(vv_times_inline(st, &root, &out), 0);
	vv_oid lib = lookup_oid(st, &out, "lib"), bin = lookup_oid(st, &out, "bin");
	assert_true(vv_oid_eq(&lib, &v.lib));
	assert_false(vv_oid_eq(&bin, &v.bin));
	check_ent(st, &out, "bin/u", 11, 0);
	check_ent(st, &out, "bin", 0, 0);

	/* a number past the root's count (8) */
	add(&b, 8, 1, 0);
	root = put_root(st, v.top, 3, &b);
	vv_timesb_free(&b);
	assert_int_equal(vv_times_inline(st, &root, &out), -EUCLEAN);
	/* bytes that are no section */
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(v.top, 3, "\x00", 1, &buf, &len), 0);
	assert_int_equal(vv_odb_put_buf(&st->odb, buf, len, &root), 0);
	free(buf);
	assert_int_equal(vv_times_inline(st, &root, &out), -EUCLEAN);
	vv_hash_buf("nope", 4, &root);
	assert_int_equal(vv_times_inline(st, &root, &out), -ENOENT);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_empty_builder),
		cmocka_unit_test(test_add_order),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_get_any_apply),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_inline),
		cmocka_unit_test(test_inline_partial_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
