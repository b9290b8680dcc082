/*
 * test_tree.c - canonical tree bytes: exact serialization, round trips, name rules,
 * the strict parser against many malformed inputs, FIFOs and sockets (no content, REF
 * "-"), stored pycs and RECORD templates (REF with their per-entry values), and the
 * shared tree cache.
 * Format 2 (tree.h): a 'd' entry's SIZE counts everything below it, entries get their
 * depth-first numbers (pos, count) from it, and an env root may end in a times section;
 * format 1 trees from older stores still parse, and vv_tree_count walks them.
 */
#include "testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/hash.h"
#include "store/handle.h"
#include "store/odb.h"
#include "store/store.h"
#include "store/tree.h"

#define HDR "venvfs-tree 2\n"
#define HDR1 "venvfs-tree 1\n"
#define H64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static struct vv_tree_ent ent(const char *name, uint8_t kind, uint16_t mode, uint64_t size,
			      int64_t mtime, const char *target)
{
	struct vv_tree_ent e;
	memset(&e, 0, sizeof(e));
	e.name = name;
	e.kind = kind;
	e.mode = mode;
	e.size = size;
	e.mtime_ns = mtime;
	e.target = target;
	if (kind != VV_LNK)
		vv_hash_buf(name, strlen(name), &e.oid);
	return e;
}

static void test_serialize_exact(void **state)
{
	(void)state;
	struct vv_tree_ent e[3];
	e[0] = ent("a.py", VV_REG, 0644, 12, 1700000000123456789LL, NULL);
	vv_oid_from_hex(&e[0].oid, H64, VV_OID_HEX);
	e[1] = ent("bin", VV_DIR, 0755, 999, -5, NULL); /* its count: written as given */
	vv_oid_from_hex(&e[1].oid, H64, VV_OID_HEX);
	e[2] = ent("lib64", VV_LNK, 0777, 0, 0, "lib");
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(e, 3, NULL, 0, &buf, &len), 0);
	const char *want = HDR
		"f 644 12 1700000000123456789 " H64 " 4:a.py\n"
		"d 755 999 -5 " H64 " 3:bin\n"
		"l 777 3 0 3:lib 5:lib64\n";
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);

	assert_int_equal(vv_tree_serialize(NULL, 0, NULL, 0, &buf, &len), 0);
	assert_int_equal(len, strlen(HDR));
	assert_memory_equal(buf, HDR, len);
	free(buf);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct vv_tree_ent e[6];
	e[0] = ent("Z", VV_SCRIPT, 0755, 100, INT64_MAX, NULL);
	e[1] = ent("a b\nc", VV_REG, 0, 0, INT64_MIN, NULL);
	e[2] = ent("dir", VV_DIR, 07777, 41, 1, NULL);
	e[3] = ent("link", VV_LNK, 0777, 0, -1, "../target with spaces\nand 3:colons ");
	e[4] = ent("\xff\xfe", VV_REG, 0600, UINT64_MAX, 0, NULL);
	e[5] = ent("..x", VV_REG, 0644, 1, 2, NULL);
	vv_tree_sort(e, 6);
	assert_string_equal(e[0].name, "..x");
	assert_string_equal(e[1].name, "Z");
	assert_string_equal(e[5].name, "\xff\xfe");
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(e, 6, NULL, 0, &buf, &len), 0);
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(buf, len, &t), 0);
	assert_int_equal(t->n, 6);
	assert_int_equal(t->version, 2);
	assert_int_equal(t->count, 6 + 41);
	assert_null(t->times);
	assert_int_equal(t->timeslen, 0);
	for (size_t i = 0; i < 6; i++) {
		const struct vv_tree_ent *g = &t->ents[i];
		assert_string_equal(g->name, e[i].name);
		assert_int_equal(g->namelen, strlen(e[i].name));
		assert_int_equal(g->kind, e[i].kind);
		assert_int_equal(g->mode, e[i].mode);
		assert_true(g->mtime_ns == e[i].mtime_ns);
		if (g->kind == VV_LNK) {
			assert_string_equal(g->target, e[i].target);
			assert_int_equal(g->size, strlen(e[i].target));
			assert_true(vv_oid_is_zero(&g->oid));
		} else {
			assert_null(g->target);
			assert_true(vv_oid_eq(&g->oid, &e[i].oid));
			assert_true(g->size == e[i].size);
		}
	}
	/* Re-serializing the parsed entries gives the same bytes. */
	char *buf2;
	size_t len2;
	assert_int_equal(vv_tree_serialize(t->ents, t->n, NULL, 0, &buf2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf2);

	const struct vv_tree_ent *f = vv_tree_find(t, "dir", 3);
	assert_non_null(f);
	assert_int_equal(f->kind, VV_DIR);
	assert_null(vv_tree_find(t, "di", 2));
	assert_null(vv_tree_find(t, "dirx", 4));
	assert_non_null(vv_tree_find(t, "dirx", 3));
	assert_non_null(vv_tree_find(t, "\xff\xfe", 2));
	assert_non_null(vv_tree_find(t, "..x", 3));
	vv_tree_unref(t);
	free(buf);
}

static void test_serialize_rejects(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len;
	struct vv_tree_ent e[2];
	e[0] = ent("b", VV_REG, 0644, 1, 0, NULL);
	e[1] = ent("a", VV_REG, 0644, 1, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 2, NULL, 0, &buf, &len), -EINVAL);
	e[1] = ent("b", VV_REG, 0644, 1, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 2, NULL, 0, &buf, &len), -EINVAL);
	e[0] = ent("a/b", VV_REG, 0644, 1, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 1, NULL, 0, &buf, &len), -EINVAL);
	e[0] = ent("..", VV_REG, 0644, 1, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 1, NULL, 0, &buf, &len), -EINVAL);
	e[0] = ent("x", 'q', 0644, 1, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 1, NULL, 0, &buf, &len), -EINVAL);
	e[0] = ent("x", VV_REG, 010000, 1, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 1, NULL, 0, &buf, &len), -EINVAL);
	e[0] = ent("x", VV_LNK, 0777, 0, 0, NULL);
	assert_int_equal(vv_tree_serialize(e, 1, NULL, 0, &buf, &len), -EINVAL);
	e[0] = ent("x", VV_LNK, 0777, 0, 0, "");
	assert_int_equal(vv_tree_serialize(e, 1, NULL, 0, &buf, &len), -EINVAL);
	assert_null(buf);
}

static void test_name_check(void **state)
{
	(void)state;
	char n[300];
	memset(n, 'x', sizeof(n));
	assert_int_equal(vv_name_check("a", 1), 0);
	assert_int_equal(vv_name_check("...", 3), 0);
	assert_int_equal(vv_name_check(".a", 2), 0);
	assert_int_equal(vv_name_check(n, 255), 0);
	assert_int_equal(vv_name_check(n, 256), -ENAMETOOLONG);
	assert_int_equal(vv_name_check("", 0), -EINVAL);
	assert_int_equal(vv_name_check(".", 1), -EINVAL);
	assert_int_equal(vv_name_check("..", 2), -EINVAL);
	assert_int_equal(vv_name_check("a/b", 3), -EINVAL);
	assert_int_equal(vv_name_check("/", 1), -EINVAL);
	assert_int_equal(vv_name_check("a\0b", 3), -EINVAL);
	/* len bounds the check: "ab/" checked as "ab". */
	assert_int_equal(vv_name_check("ab/", 2), 0);
}

static void expect_bad(const char *what, const char *buf, size_t len)
{
	struct vv_tree *t = NULL;
	vv_err_clear();
	int r = vv_tree_parse(buf, len, &t);
	if (r != -EUCLEAN)
		fail_msg("%s: parse returned %d, want -EUCLEAN", what, r);
	assert_null(t);
	if (!strstr(vv_errmsg(), "bad tree"))
		fail_msg("%s: message '%s'", what, vv_errmsg());
}

static void expect_good(const char *buf, size_t n)
{
	struct vv_tree *t = NULL;
	int r = vv_tree_parse(buf, strlen(buf), &t);
	if (r != 0)
		fail_msg("parse failed: %s", vv_errmsg());
	assert_int_equal(t->n, n);
	vv_tree_unref(t);
}

#define BAD(what, s) expect_bad(what, s, sizeof(s) - 1)
#define F(rest) "f 644 1 0 " H64 " " rest

static void test_parse_valid(void **state)
{
	(void)state;
	expect_good(HDR, 0);
	expect_good(HDR F("1:a\n") F("1:b\n"), 2);
	expect_good(HDR "l 0 1 -9223372036854775808 1:x 1:l\n", 1);
	expect_good(HDR "f 7777 18446744073709551615 9223372036854775807 " H64 " 1:a\n", 1);
	expect_good(HDR "s 0 0 0 " H64 " 1:\n\n", 1);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	BAD("empty", "");
	BAD("bad header", "venvfs-tree 3\n");
	BAD("format 0 header", "venvfs-tree 0\n");
	BAD("header without newline", "venvfs-tree 2");
	BAD("format 1 header without newline", "venvfs-tree 1");
	BAD("header with trailing space", "venvfs-tree 2 \n");
	BAD("header with leading zero", "venvfs-tree 02\n");
	BAD("truncated entry", HDR "f 644 1 0 " H64);
	BAD("truncated id", HDR "f 644 1 0 e3b0c442 1:a\n");
	BAD("truncated name", HDR F("5:ab\n"));
	BAD("missing newline", HDR F("1:a"));
	BAD("trailing bytes", HDR F("1:a\n") "x");
	BAD("trailing newline", HDR F("1:a\n") "\n");
	BAD("unsorted", HDR F("1:b\n") F("1:a\n"));
	BAD("unsorted by length", HDR F("2:ab\n") F("1:a\n"));
	BAD("duplicate", HDR F("1:a\n") F("1:a\n"));
	BAD("slash in name", HDR F("3:a/b\n"));
	BAD("dot", HDR F("1:.\n"));
	BAD("dotdot", HDR F("2:..\n"));
	BAD("NUL in name", HDR F("3:a\0b\n"));
	BAD("empty name", HDR F("0:\n"));
	BAD("name too long", HDR F("256:") "x\n");
	BAD("name length mismatch", HDR F("2:a\n"));
	BAD("name length leading zero", HDR F("01:a\n"));
	BAD("name length missing colon", HDR F("1a\n"));
	BAD("bad kind", HDR "x 644 1 0 " H64 " 1:a\n");
	BAD("upper kind", HDR "F 644 1 0 " H64 " 1:a\n");
	BAD("mode > 07777", HDR "f 10000 1 0 " H64 " 1:a\n");
	BAD("mode not octal", HDR "f 648 1 0 " H64 " 1:a\n");
	BAD("mode leading zero", HDR "f 0644 1 0 " H64 " 1:a\n");
	BAD("mode empty", HDR "f  1 0 " H64 " 1:a\n");
	BAD("size leading zero", HDR "f 644 01 0 " H64 " 1:a\n");
	BAD("size plus sign", HDR "f 644 +1 0 " H64 " 1:a\n");
	BAD("size negative", HDR "f 644 -1 0 " H64 " 1:a\n");
	BAD("size overflow", HDR "f 644 18446744073709551616 0 " H64 " 1:a\n");
	BAD("size huge", HDR "f 644 99999999999999999999999 0 " H64 " 1:a\n");
	BAD("mtime overflow", HDR "f 644 1 9223372036854775808 " H64 " 1:a\n");
	BAD("mtime underflow", HDR "f 644 1 -9223372036854775809 " H64 " 1:a\n");
	BAD("mtime negative zero", HDR "f 644 1 -0 " H64 " 1:a\n");
	BAD("mtime leading zero", HDR "f 644 1 007 " H64 " 1:a\n");
	BAD("mtime bare minus", HDR "f 644 1 - " H64 " 1:a\n");
	BAD("double space", HDR "f  644 1 0 " H64 " 1:a\n");
	BAD("tab separator", HDR "f\t644 1 0 " H64 " 1:a\n");
	BAD("bad hex", HDR "f 644 1 0 "
	    "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1:a\n");
	BAD("upper-case hex", HDR "f 644 1 0 "
	    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 1:a\n");
	BAD("long hex", HDR "f 644 1 0 " H64 "0 1:a\n");
	BAD("dir bad hex", HDR "d 755 0 0 xyz 1:a\n");
	BAD("script bad hex", HDR "s 755 0 0 "
	    "-3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1:a\n");
	BAD("dir size leading zero", HDR "d 755 05 0 " H64 " 1:a\n");
	BAD("dir size overflow", HDR "d 755 18446744073709551616 0 " H64 " 1:a\n");
	/* the numbering (count) would pass 2^64 - 1 */
	BAD("dir count too large", HDR "d 755 18446744073709551615 0 " H64 " 1:a\n");
	BAD("dir counts too large", HDR "d 755 9223372036854775808 0 " H64 " 1:a\n"
	    "d 755 9223372036854775808 0 " H64 " 1:b\n");
	BAD("link without target", HDR "l 777 0 0 1:a\n");
	BAD("link empty target", HDR "l 777 0 0 0: 1:a\n");
	BAD("link size mismatch", HDR "l 777 4 0 3:abc 1:a\n");
	BAD("link target truncated", HDR "l 777 9 0 9:abc");
	BAD("link target NUL", HDR "l 777 3 0 3:a\0c 1:a\n");
	BAD("link target too long", HDR "l 777 4096 0 4096:x 1:a\n");
	BAD("link with oid", HDR "l 777 1 0 " H64 " 1:a\n");
	BAD("link no space after target", HDR "l 777 1 0 1:x1:a\n");
}

static void test_parse_unaligned_sizes(void **state)
{
	(void)state;
	/* Every prefix of a valid tree except those ending after the header or an entry is
	 * invalid; that includes every cut inside the times section or its line. */
	const char *good = HDR F("1:a\n") "l 777 3 5 3:abc 2:bc\n" "t 12\n0123456789ab";
	size_t n = strlen(good);
	for (size_t i = 0; i < n; i++) {
		if (i == strlen(HDR) || i == strlen(HDR F("1:a\n")) ||
		    i == strlen(HDR F("1:a\n") "l 777 3 5 3:abc 2:bc\n"))
			continue;
		char *copy = malloc(i ? i : 1);
		memcpy(copy, good, i);
		struct vv_tree *t = NULL;
		int r = vv_tree_parse(copy, i, &t);
		if (r != -EUCLEAN)
			fail_msg("prefix %zu parsed: %d", i, r);
		free(copy);
	}
	expect_good(good, 2);
}

/* FIFOs ('p') and sockets ('k') have no content: SIZE 0 and REF "-" whatever the entry
 * says, they parse back without an id, and "-" is their REF only. */
static void test_fifo_socket(void **state)
{
	(void)state;
	struct vv_tree_ent e[4];
	e[0] = ent("a.py", VV_REG, 0644, 12, 1, NULL);
	vv_oid_from_hex(&e[0].oid, H64, VV_OID_HEX);
	e[1] = ent("pipe", VV_FIFO, 0600, 99, 1700000000000000000LL, NULL); /* size, oid set */
	e[2] = ent("sock", VV_SOCK, 0755, 0, -3, NULL);
	e[3] = ent("z", VV_LNK, 0777, 0, 0, "pipe");
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(e, 4, NULL, 0, &buf, &len), 0);
	const char *want = HDR
		"f 644 12 1 " H64 " 4:a.py\n"
		"p 600 0 1700000000000000000 - 4:pipe\n"
		"k 755 0 -3 - 4:sock\n"
		"l 777 4 0 4:pipe 1:z\n";
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(buf, len, &t), 0);
	assert_int_equal(t->n, 4);
	for (size_t i = 1; i < 3; i++) {
		const struct vv_tree_ent *g = &t->ents[i];
		assert_string_equal(g->name, e[i].name);
		assert_int_equal(g->kind, e[i].kind);
		assert_int_equal(g->mode, e[i].mode);
		assert_true(g->mtime_ns == e[i].mtime_ns);
		assert_int_equal(g->size, 0);
		assert_true(vv_oid_is_zero(&g->oid));
		assert_null(g->target);
		assert_true(vv_kind_ok(g->kind) && vv_kind_special(g->kind));
		assert_false(vv_kind_has_oid(g->kind));
	}
	char *buf2;
	size_t len2;
	assert_int_equal(vv_tree_serialize(t->ents, t->n, NULL, 0, &buf2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	free(buf2);
	vv_tree_unref(t);
	free(buf);
	expect_good(HDR "k 0 0 -9223372036854775808 - 1:k\np 7777 0 9223372036854775807 - 1:p\n",
		    2);

	BAD("fifo with size", HDR "p 644 1 0 - 1:a\n");
	BAD("socket with size", HDR "k 644 18446744073709551615 0 - 1:a\n");
	BAD("fifo with oid", HDR "p 644 0 0 " H64 " 1:a\n");
	BAD("socket with target", HDR "k 644 0 0 1:x 1:a\n");
	BAD("fifo without ref", HDR "p 644 0 0 1:a\n");
	BAD("fifo double dash", HDR "p 644 0 0 -- 1:a\n");
	BAD("fifo dash without space", HDR "p 644 0 0 -1:a\n");
	BAD("fifo truncated after dash", HDR "p 644 0 0 -");
	BAD("file with dash", HDR "f 644 0 0 - 1:a\n");
	BAD("script with dash", HDR "s 755 0 0 - 1:a\n");
	BAD("dir with dash", HDR "d 755 0 0 - 1:a\n");
	BAD("link with dash", HDR "l 777 1 0 - 1:a\n");
	BAD("upper fifo kind", HDR "P 644 0 0 - 1:a\n");
}
/* A stored pyc ('c') carries HDR, NSUB and SUFL after its id; nothing else does. */
static void test_pyc_entry(void **state)
{
	(void)state;
	struct vv_tree_ent e = ent("m.cpython-311.pyc", VV_PYC, 0644, 900, 5, NULL);
	vv_oid_from_hex(&e.oid, H64, VV_OID_HEX);
	e.pyc = (struct vv_pycent){ 4294967295u, 2, 65535 };
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(&e, 1, NULL, 0, &buf, &len), 0);
	const char *want = HDR "c 644 900 5 " H64 ",4294967295,2,65535 17:m.cpython-311.pyc\n";
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(buf, len, &t), 0);
	assert_int_equal(t->ents[0].kind, VV_PYC);
	assert_int_equal(t->ents[0].pyc.hdr, 4294967295u);
	assert_int_equal(t->ents[0].pyc.nsub, 2);
	assert_int_equal(t->ents[0].pyc.sufl, 65535);
	assert_true(vv_kind_file(VV_PYC) && vv_kind_has_oid(VV_PYC));
	vv_tree_unref(t);
	free(buf);
	expect_good(HDR "c 644 0 0 " H64 ",0,0,0 1:a\n", 1);
	BAD("pyc without values", HDR "c 644 0 0 " H64 " 1:a\n");
	BAD("pyc with two values", HDR "c 644 0 0 " H64 ",1,2 1:a\n");
	BAD("pyc header too big", HDR "c 644 0 0 " H64 ",4294967296,0,0 1:a\n");
	BAD("pyc count too big", HDR "c 644 0 0 " H64 ",0,65536,0 1:a\n");
	BAD("pyc leading zero", HDR "c 644 0 0 " H64 ",01,0,0 1:a\n");
	BAD("pyc dash", HDR "c 644 0 0 - 1:a\n");
	BAD("file with values", HDR "f 644 0 0 " H64 ",0,0,0 1:a\n");
}

/* A RECORD template ('r', pkg/rectpl.h) carries K, SUM, SMIN and SMAX after its id, each
 * a 32-bit number; no other kind takes four values. */
static void test_record_entry(void **state)
{
	(void)state;
	struct vv_tree_ent e[2];
	e[0] = ent("RECORD", VV_RECORD, 0644, 5012, 0, NULL);
	vv_oid_from_hex(&e[0].oid, H64, VV_OID_HEX);
	e[0].rec = (struct vv_recent){ 2, 434, 216, 218 };
	e[1] = ent("big", VV_RECORD, 0600, UINT64_MAX, -1, NULL);
	vv_oid_from_hex(&e[1].oid, H64, VV_OID_HEX);
	e[1].rec = (struct vv_recent){ 4294967295u, 4294967295u, 0, 4294967295u };
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(e, 2, NULL, 0, &buf, &len), 0);
	const char *want = HDR "r 644 5012 0 " H64 ",2,434,216,218 6:RECORD\n"
		"r 600 18446744073709551615 -1 " H64 ",4294967295,4294967295,0,4294967295"
		" 3:big\n";
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(buf, len, &t), 0);
	assert_int_equal(t->n, 2);
	assert_int_equal(t->count, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct vv_tree_ent *g = &t->ents[i];
		assert_int_equal(g->kind, VV_RECORD);
		assert_string_equal(g->name, e[i].name);
		assert_int_equal(g->mode, e[i].mode);
		assert_true(g->size == e[i].size);
		assert_true(g->mtime_ns == e[i].mtime_ns);
		assert_true(vv_oid_eq(&g->oid, &e[i].oid));
		assert_int_equal(g->rec.k, e[i].rec.k);
		assert_int_equal(g->rec.sum, e[i].rec.sum);
		assert_int_equal(g->rec.smin, e[i].rec.smin);
		assert_int_equal(g->rec.smax, e[i].rec.smax);
		assert_int_equal(g->pyc.hdr, 0);
		assert_int_equal(g->pyc.nsub, 0);
		assert_null(g->target);
	}
	assert_true(vv_kind_ok(VV_RECORD) && vv_kind_file(VV_RECORD) &&
		    vv_kind_has_oid(VV_RECORD) && !vv_kind_special(VV_RECORD));
	/* parsed entries serialize back to the same bytes */
	char *buf2;
	size_t len2;
	assert_int_equal(vv_tree_serialize(t->ents, t->n, NULL, 0, &buf2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	free(buf2);
	vv_tree_unref(t);
	free(buf);
	/* the values of other kinds stay out of an 'r' line, and its values out of theirs */
	struct vv_tree_ent f = ent("a", VV_REG, 0644, 1, 0, NULL);
	vv_oid_from_hex(&f.oid, H64, VV_OID_HEX);
	f.rec = (struct vv_recent){ 1, 2, 3, 4 };
	assert_int_equal(vv_tree_serialize(&f, 1, NULL, 0, &buf, &len), 0);
	assert_int_equal(len, strlen(HDR F("1:a\n")));
	assert_memory_equal(buf, HDR F("1:a\n"), len);
	free(buf);
	expect_good(HDR "r 644 0 0 " H64 ",0,0,0,0 1:a\n", 1);

	BAD("record without values", HDR "r 644 0 0 " H64 " 1:a\n");
	BAD("record with one value", HDR "r 644 0 0 " H64 ",1 1:a\n");
	BAD("record with three values", HDR "r 644 0 0 " H64 ",1,2,3 1:a\n");
	BAD("record with five values", HDR "r 644 0 0 " H64 ",1,2,3,4,5 1:a\n");
	BAD("record with an empty value", HDR "r 644 0 0 " H64 ",1,,3,4 1:a\n");
	BAD("record with a trailing comma", HDR "r 644 0 0 " H64 ",1,2,3, 1:a\n");
	BAD("record count too big", HDR "r 644 0 0 " H64 ",4294967296,0,0,0 1:a\n");
	BAD("record total too big", HDR "r 644 0 0 " H64 ",1,4294967296,0,0 1:a\n");
	BAD("record smallest too big", HDR "r 644 0 0 " H64 ",1,0,4294967296,0 1:a\n");
	BAD("record largest too big", HDR "r 644 0 0 " H64 ",1,0,0,4294967296 1:a\n");
	BAD("record value overflow", HDR "r 644 0 0 " H64 ",1,0,0,18446744073709551616 1:a\n");
	BAD("record leading zero", HDR "r 644 0 0 " H64 ",1,02,0,0 1:a\n");
	BAD("record negative", HDR "r 644 0 0 " H64 ",1,-2,0,0 1:a\n");
	BAD("record plus", HDR "r 644 0 0 " H64 ",+1,2,0,0 1:a\n");
	BAD("record space before values", HDR "r 644 0 0 " H64 " ,1,2,3,4 1:a\n");
	BAD("record semicolons", HDR "r 644 0 0 " H64 ";1;2;3;4 1:a\n");
	BAD("record no space before name", HDR "r 644 0 0 " H64 ",1,2,3,41:a\n");
	BAD("record truncated in values", HDR "r 644 0 0 " H64 ",1,2,3");
	BAD("record dash", HDR "r 644 0 0 - 1:a\n");
	BAD("record link target", HDR "r 644 1 0 1:x 1:a\n");
	BAD("upper record kind", HDR "R 644 0 0 " H64 ",1,2,3,4 1:a\n");
	BAD("pyc with four values", HDR "c 644 0 0 " H64 ",1,2,3,4 1:a\n");
	BAD("script with four values", HDR "s 755 0 0 " H64 ",1,2,3,4 1:a\n");
	BAD("dir with four values", HDR "d 755 0 0 " H64 ",1,2,3,4 1:a\n");
}

/* Format 1 trees (stores made before times sections) still parse: version 1, a 'd'
 * SIZE of 0 and no section; anything format 2 adds is refused in them. */
static void test_format1(void **state)
{
	(void)state;
	const char *v1 = HDR1 F("1:a\n") "d 755 0 7 " H64 " 1:b\n" "l 777 1 0 1:x 1:c\n";
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(v1, strlen(v1), &t), 0);
	assert_int_equal(t->version, 1);
	assert_int_equal(t->n, 3);
	assert_int_equal(t->count, 3); /* entries here only: format 1 does not say more */
	assert_null(t->times);
	assert_int_equal(t->timeslen, 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(t->ents[i].pos, i);
	assert_int_equal(t->ents[1].kind, VV_DIR);
	assert_int_equal(t->ents[1].size, 0);
	assert_true(t->ents[1].mtime_ns == 7);
	/* serializing writes format 2: the same entries under the new header */
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(t->ents, t->n, NULL, 0, &buf, &len), 0);
	assert_int_equal(len, strlen(v1));
	assert_memory_equal(buf, HDR, strlen(HDR));
	assert_memory_equal(buf + strlen(HDR), v1 + strlen(HDR1), len - strlen(HDR));
	free(buf);
	vv_tree_unref(t);

	assert_int_equal(vv_tree_parse(HDR1, strlen(HDR1), &t), 0);
	assert_int_equal(t->version, 1);
	assert_int_equal(t->n, 0);
	assert_int_equal(t->count, 0);
	vv_tree_unref(t);

	BAD("format 1 dir with size", HDR1 "d 755 5 0 " H64 " 1:a\n");
	BAD("format 1 dir with size 1", HDR1 F("1:a\n") "d 755 1 0 " H64 " 1:b\n");
	BAD("format 1 times section", HDR1 F("1:a\n") "t 1\nx");
	BAD("format 1 times section only", HDR1 "t 1\nx");
	BAD("format 1 truncated", HDR1 "d 755 0 0 " H64);
}

/* A 'd' entry's SIZE numbers the entries: pos is the depth-first number of an entry
 * (every earlier directory counts with everything below it), count the whole. */
static void test_pos_count(void **state)
{
	(void)state;
	const char *s = HDR F("1:a\n")
		"d 755 3 0 " H64 " 1:b\n"
		"d 755 0 0 " H64 " 1:c\n"
		"l 777 1 0 1:x 1:d\n"
		"d 755 10 0 " H64 " 1:e\n"
		"p 600 0 0 - 1:f\n"
		"c 644 0 0 " H64 ",0,0,0 1:g\n";
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(s, strlen(s), &t), 0);
	assert_int_equal(t->version, 2);
	assert_int_equal(t->n, 7);
	static const uint64_t want[] = { 0, 1, 5, 6, 7, 18, 19 };
	for (size_t i = 0; i < 7; i++)
		if (t->ents[i].pos != want[i])
			fail_msg("entry %zu: pos %llu, want %llu", i,
				 (unsigned long long)t->ents[i].pos, (unsigned long long)want[i]);
	assert_int_equal(t->count, 20);
	assert_int_equal(t->ents[1].size, 3);
	assert_int_equal(t->ents[4].size, 10);
	/* and the sizes come back out as they went in */
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(t->ents, t->n, NULL, 0, &buf, &len), 0);
	assert_int_equal(len, strlen(s));
	assert_memory_equal(buf, s, len);
	free(buf);
	vv_tree_unref(t);

	/* the largest count there is */
	const char *big = HDR "d 755 18446744073709551613 0 " H64 " 1:a\n";
	assert_int_equal(vv_tree_parse(big, strlen(big), &t), 0);
	assert_true(t->count == UINT64_MAX - 1);
	vv_tree_unref(t);
	/* an empty tree: nothing to number */
	assert_int_equal(vv_tree_parse(HDR, strlen(HDR), &t), 0);
	assert_int_equal(t->count, 0);
	vv_tree_unref(t);
}

/* Section bytes for the tests: binary, with what the entry grammar uses ("\n", "t ",
 * NUL, digits), so only LEN says where they end. */
#define SECT "\x01\x00\x02t 1\n\x00\xff" "9"
#define SECT_LEN (sizeof(SECT) - 1)

static void test_times_section(void **state)
{
	(void)state;
	struct vv_tree_ent e[2];
	e[0] = ent("a.py", VV_REG, 0644, 12, 0, NULL);
	vv_oid_from_hex(&e[0].oid, H64, VV_OID_HEX);
	e[1] = ent("lib", VV_DIR, 0755, 4, 0, NULL);
	vv_oid_from_hex(&e[1].oid, H64, VV_OID_HEX);
	char *buf;
	size_t len;
	assert_int_equal(vv_tree_serialize(e, 2, SECT, SECT_LEN, &buf, &len), 0);
	static const char want[] = HDR
		"f 644 12 0 " H64 " 4:a.py\n"
		"d 755 4 0 " H64 " 3:lib\n"
		"t 10\n" SECT;
	assert_int_equal(SECT_LEN, 10);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(buf, want, len);

	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_parse(buf, len, &t), 0);
	assert_int_equal(t->n, 2);
	assert_int_equal(t->count, 2 + 4);
	assert_non_null(t->times);
	assert_int_equal(t->timeslen, SECT_LEN);
	assert_memory_equal(t->times, SECT, SECT_LEN);
	assert_string_equal(t->ents[1].name, "lib");
	/* round trip with the section */
	char *buf2;
	size_t len2;
	assert_int_equal(vv_tree_serialize(t->ents, t->n, t->times, t->timeslen, &buf2, &len2),
			 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	free(buf2);
	/* the section is part of the tree's bytes; without it the entries alone */
	assert_int_equal(vv_tree_serialize(t->ents, t->n, NULL, 0, &buf2, &len2), 0);
	assert_int_equal(len2, len - strlen("t 10\n") - SECT_LEN);
	assert_memory_equal(buf2, buf, len2);
	free(buf2);
	/* timeslen 0: no section, whatever times points at */
	assert_int_equal(vv_tree_serialize(t->ents, t->n, SECT, 0, &buf2, &len2), 0);
	assert_int_equal(len2, len - strlen("t 10\n") - SECT_LEN);
	free(buf2);
	vv_tree_unref(t);
	free(buf);

	/* a section in a tree without entries numbers nothing: refused */
	static const char only[] = HDR "t 1\n\n";
	assert_int_equal(vv_tree_parse(only, sizeof(only) - 1, &t), -EUCLEAN);

	BAD("section shorter than its length", HDR F("1:a\n") "t 3\nab");
	BAD("section longer than its length", HDR F("1:a\n") "t 1\nab");
	BAD("section length 0", HDR F("1:a\n") "t 0\n");
	BAD("section length 0 with bytes", HDR F("1:a\n") "t 0\nx");
	BAD("section length leading zero", HDR F("1:a\n") "t 01\nx");
	BAD("section length 00", HDR F("1:a\n") "t 00\n");
	BAD("section length negative", HDR F("1:a\n") "t -1\nx");
	BAD("section length plus", HDR F("1:a\n") "t +1\nx");
	BAD("section length empty", HDR F("1:a\n") "t \nx");
	BAD("section length huge", HDR F("1:a\n") "t 99999999999999999999999\nx");
	BAD("section without length", HDR F("1:a\n") "t");
	BAD("section without space", HDR F("1:a\n") "t1\nx");
	BAD("section double space", HDR F("1:a\n") "t  1\nx");
	BAD("section without newline", HDR F("1:a\n") "t 1");
	BAD("section CR LF", HDR F("1:a\n") "t 1\r\nx");
	BAD("section upper T", HDR F("1:a\n") "T 1\nx");
	BAD("anything after the section", HDR F("1:a\n") "t 2\nab\n");
	BAD("an entry after the section", HDR "t 2\nab" F("1:a\n"));
	BAD("two sections", HDR "t 1\na" "t 1\nb");
	BAD("section truncated", HDR F("1:a\n") "t 2\n");
}

/* vv_tree_write fills a 'd' entry given size 0 with its tree's count, and keeps any
 * other size. */
static void test_write_fills_count(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid x = vt_put(st, "x"), inner, sub, top, top2, missing;
	struct vv_tree_ent in[] = { vt_file_ent("x", x, 1), vt_file_ent("y", x, 1) };
	assert_int_equal(vv_tree_write(st, in, 2, &inner), 0);
	/* 3 entries, one of them a dir with 2 */
	struct vv_tree_ent se[] = { vt_file_ent("a", x, 1), vt_dir_ent("d", inner),
				    vt_file_ent("z", x, 1) };
	assert_int_equal(vv_tree_write(st, se, 3, &sub), 0);
	assert_int_equal(se[1].size, 0); /* the caller's entries are left alone */
	struct vv_tree_ent te[] = { vt_file_ent("p", x, 1), vt_dir_ent("s", sub) };
	assert_int_equal(vv_tree_write(st, te, 2, &top), 0);

	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_get(st, &sub, &t), 0);
	assert_int_equal(t->count, 5);
	assert_int_equal(t->ents[1].size, 2);
	assert_int_equal(t->ents[2].pos, 4);
	vv_tree_unref(t);
	assert_int_equal(vv_tree_get(st, &top, &t), 0);
	assert_int_equal(t->version, 2);
	assert_int_equal(t->ents[1].size, 5);
	assert_int_equal(t->ents[1].pos, 1);
	assert_int_equal(t->count, 7);
	vv_tree_unref(t);
	uint64_t c = 0;
	assert_int_equal(vv_tree_count(st, &top, &c), 0);
	assert_int_equal(c, 7);

	/* the count given: the same tree */
	te[1].size = 5;
	assert_int_equal(vv_tree_write(st, te, 2, &top2), 0);
	assert_true(vv_oid_eq(&top, &top2));
	/* an empty directory counts 0 */
	vv_oid empty;
	assert_int_equal(vv_tree_empty(st, &empty), 0);
	struct vv_tree_ent ee = vt_dir_ent("e", empty);
	assert_int_equal(vv_tree_write(st, &ee, 1, &top2), 0);
	assert_int_equal(vv_tree_get(st, &top2, &t), 0);
	assert_int_equal(t->ents[0].size, 0);
	assert_int_equal(t->count, 1);
	vv_tree_unref(t);
	/* size 0 for a tree that is not there: nothing to count */
	vv_hash_buf("nope", 4, &missing);
	ee = vt_dir_ent("e", missing);
	assert_int_equal(vv_tree_write(st, &ee, 1, &top2), -ENOENT);
	vt_store_free(st);
}

static vv_oid put_raw(struct vv_store *st, const char *bytes)
{
	vv_oid o;
	assert_int_equal(vv_odb_put_buf(&st->odb, bytes, strlen(bytes), &o), 0);
	return o;
}

/* vv_tree_count: a format 2 tree says its count; a format 1 tree is walked, down
 * through format 1 and format 2 trees below it. */
static void test_count_format1(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char hex[VV_OID_HEX + 1], hex2[VV_OID_HEX + 1], line[512];
	/* format 1 {x, y} */
	vv_oid in1 = put_raw(st, HDR1 F("1:x\n") F("1:y\n"));
	/* format 2 {q, r -> in1}: r's count found by walking in1 */
	struct vv_tree_ent m[] = { vt_file_ent("q", in1, 1), vt_dir_ent("r", in1) };
	vv_oid mid2, empty1, out1, top;
	assert_int_equal(vv_tree_write(st, m, 2, &mid2), 0);
	struct vv_tree *t = NULL;
	assert_int_equal(vv_tree_get(st, &mid2, &t), 0);
	assert_int_equal(t->ents[1].size, 2);
	assert_int_equal(t->count, 4);
	vv_tree_unref(t);
	empty1 = put_raw(st, HDR1);
	/* format 1 {d1 -> in1, d2 -> mid2, e -> empty1, f}: 4 + 2 + 4 + 0 */
	vv_oid_hex(&in1, hex);
	vv_oid_hex(&mid2, hex2);
	char e1hex[VV_OID_HEX + 1];
	vv_oid_hex(&empty1, e1hex);
	snprintf(line, sizeof(line), HDR1 "d 755 0 0 %s 2:d1\n" "d 755 0 0 %s 2:d2\n"
		 "d 755 0 0 %s 1:e\n" F("1:f\n"), hex, hex2, e1hex);
	out1 = put_raw(st, line);
	assert_int_equal(vv_tree_get(st, &out1, &t), 0);
	assert_int_equal(t->version, 1);
	assert_int_equal(t->count, 4);
	vv_tree_unref(t);
	uint64_t c = 0;
	assert_int_equal(vv_tree_count(st, &out1, &c), 0);
	assert_int_equal(c, 10);
	assert_int_equal(vv_tree_count(st, &in1, &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(vv_tree_count(st, &empty1, &c), 0);
	assert_int_equal(c, 0);
	/* a format 2 parent of it gets that count */
	struct vv_tree_ent te = vt_dir_ent("env", out1);
	assert_int_equal(vv_tree_write(st, &te, 1, &top), 0);
	assert_int_equal(vv_tree_get(st, &top, &t), 0);
	assert_int_equal(t->ents[0].size, 10);
	assert_int_equal(t->count, 11);
	vv_tree_unref(t);

	/* a format 2 tree is not walked: its count stands even if a subtree is missing */
	vv_oid missing, two, one;
	vv_hash_buf("nope", 4, &missing);
	vv_oid_hex(&missing, hex);
	snprintf(line, sizeof(line), HDR "d 755 9 0 %s 1:a\n", hex);
	two = put_raw(st, line);
	assert_int_equal(vv_tree_count(st, &two, &c), 0);
	assert_int_equal(c, 10);
	/* a format 1 tree over a missing one cannot be counted */
	snprintf(line, sizeof(line), HDR1 "d 755 0 0 %s 1:a\n", hex);
	one = put_raw(st, line);
	assert_int_equal(vv_tree_count(st, &one, &c), -ENOENT);
	vt_store_free(st);
}

/* A format 1 DAG whose every level names the one below twice: counted once per
 * tree (a walk of every path would take 2^62 steps), and a count past 2^64 refused. */
static void test_count_format1_dag(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	char hex[VV_OID_HEX + 1], line[512];
	vv_oid lvl = put_raw(st, HDR1); /* level 0: empty */
	uint64_t want = 0, c = 0;
	for (int k = 1; k <= 64; k++) {
		vv_oid_hex(&lvl, hex);
		snprintf(line, sizeof(line), HDR1 "d 755 0 0 %s 1:a\n" "d 755 0 0 %s 1:b\n", hex,
			 hex);
		lvl = put_raw(st, line);
		if (k <= 62) {
			want = 2 + 2 * want; /* 2^(k+1) - 2 */
			assert_int_equal(vv_tree_count(st, &lvl, &c), 0);
			assert_true(c == want);
		}
	}
	assert_true(want == (UINT64_C(1) << 63) - 2);
	assert_int_equal(vv_tree_count(st, &lvl, &c), -EUCLEAN);
	assert_non_null(strstr(vv_errmsg(), "more than 2^64 entries"));
	vt_store_free(st);
}

static void test_store_and_cache(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid empty, again;
	assert_int_equal(vv_tree_empty(st, &empty), 0);
	assert_int_equal(vv_tree_empty(st, &again), 0);
	assert_true(vv_oid_eq(&empty, &again));
	vv_oid want;
	vv_hash_buf(HDR, strlen(HDR), &want);
	assert_true(vv_oid_eq(&empty, &want));

	struct vv_tree_ent e[2];
	e[0] = ent("a", VV_DIR, 0755, 0, 7, NULL);
	e[0].oid = empty;
	e[1] = ent("b", VV_REG, 0644, 3, 8, NULL);
	vv_oid root;
	assert_int_equal(vv_tree_write(st, e, 2, &root), 0);

	struct vv_tree *t1 = NULL, *t2 = NULL, *te = NULL;
	assert_int_equal(vv_tree_get(st, &root, &t1), 0);
	assert_int_equal(vv_tree_get(st, &root, &t2), 0);
	assert_ptr_equal(t1, t2);
	assert_true(vv_oid_eq(&t1->oid, &root));
	assert_int_equal(t1->n, 2);
	assert_int_equal(vv_tree_get(st, &t1->ents[0].oid, &te), 0);
	assert_int_equal(te->n, 0);
	assert_true(vv_oid_eq(&te->oid, &empty));
	vv_tree_ref(t1);
	vv_tree_unref(t1);
	vv_tree_unref(t2);
	/* Still cached: the same pointer comes back. */
	struct vv_tree *t3 = NULL;
	assert_int_equal(vv_tree_get(st, &root, &t3), 0);
	assert_ptr_equal(t3, t1);
	vv_tree_unref(t3);
	vv_tree_unref(t1);

	/* A reference outlives the store (cache) closing. */
	vt_store_free(st);
	assert_int_equal(te->n, 0);
	vv_tree_unref(te);
}

static void test_get_errors(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	vv_oid o;
	struct vv_tree *t = NULL;
	vv_hash_buf("nope", 4, &o);
	assert_int_equal(vv_tree_get(st, &o, &t), -ENOENT);
	assert_null(t);

	/* A stored object that is not a tree. */
	assert_int_equal(vv_odb_put_buf(&st->odb, "not a tree", 10, &o), 0);
	assert_int_equal(vv_tree_get(st, &o, &t), -EUCLEAN);
	assert_null(t);
	char rel[8 + VV_OID_HEX + 2];
	vv_odb_obj_path(&o, rel);
	assert_non_null(strstr(vv_errmsg(), rel));

	/* A tree whose bytes were corrupted on disk. */
	vv_oid empty;
	assert_int_equal(vv_tree_empty(st, &empty), 0);
	char p[PATH_MAX];
	vv_odb_obj_path(&empty, rel);
	snprintf(p, sizeof(p), "%s/%s", st->path, rel);
	assert_int_equal(chmod(p, 0644), 0);
	vt_write_file(p, HDR "\n", 15);
	assert_int_equal(vv_tree_get(st, &empty, &t), -EUCLEAN);
	assert_null(t);
	vt_store_free(st);
}

static void test_many_trees(void **state)
{
	(void)state;
	/* Exercise cache growth: many distinct trees held at once, then released. */
	struct vv_store *st = vt_store_new();
	enum { N = 600 };
	struct vv_tree **held = calloc(N, sizeof(*held));
	vv_oid *ids = calloc(N, sizeof(*ids));
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "file%d", i);
		struct vv_tree_ent e = ent(name, VV_REG, 0644, (uint64_t)i, i, NULL);
		assert_int_equal(vv_tree_write(st, &e, 1, &ids[i]), 0);
		assert_int_equal(vv_tree_get(st, &ids[i], &held[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		struct vv_tree *t = NULL;
		assert_int_equal(vv_tree_get(st, &ids[i], &t), 0);
		assert_ptr_equal(t, held[i]);
		assert_int_equal(t->ents[0].size, (uint64_t)i);
		vv_tree_unref(t);
		vv_tree_unref(held[i]);
	}
	free(held);
	free(ids);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serialize_exact),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_serialize_rejects),
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_unaligned_sizes),
		cmocka_unit_test(test_fifo_socket),
		cmocka_unit_test(test_pyc_entry),
		cmocka_unit_test(test_record_entry),
		cmocka_unit_test(test_format1),
		cmocka_unit_test(test_pos_count),
		cmocka_unit_test(test_times_section),
		cmocka_unit_test(test_write_fills_count),
		cmocka_unit_test(test_count_format1),
		cmocka_unit_test(test_count_format1_dag),
		cmocka_unit_test(test_store_and_cache),
		cmocka_unit_test(test_get_errors),
		cmocka_unit_test(test_many_trees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
