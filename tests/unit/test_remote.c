/* test_remote.c - the published store's HEAD file (store/remote.h): its text round
 * trips and the parser, which reads what an HTTP server says, takes exactly
 * "venvfs-manifest <64 lower-case hex>\n" and nothing else (wrong magic, case, length,
 * newline, extra bytes). Also the client refusing a URL that is not http(s) and
 * opening one that is (no request is made: no network needed). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "store/handle.h"
#include "store/remote.h"
#include "store/store.h"
#include "util/error.h"
#include "util/hash.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GOOD VV_REMOTE_HEAD_MAGIC " " HEX "\n"

/* Parse exactly len bytes from a heap buffer of that size (over-reads show). */
static int parse_exact(const char *buf, size_t len, vv_oid *out)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	int r = vv_remote_head_parse(copy, len, out);
	free(copy);
	return r;
}

static void expect_reject_len(const char *buf, size_t len)
{
	vv_oid out = { { 0 } }, zero = { { 0 } };
	vv_err_clear();
	int r = parse_exact(buf, len, &out);
	if (r != -EINVAL)
		fail_msg("HEAD of %zu bytes '%.*s' gave %d, want -EINVAL", len, (int)len, buf, r);
	assert_non_null(strstr(vv_errmsg(), "not a venvfs HEAD"));
	assert_true(vv_oid_eq(&out, &zero)); /* untouched */
}

static void expect_reject(const char *buf)
{
	expect_reject_len(buf, strlen(buf));
}

static void test_round_trip(void **state)
{
	(void)state;
	char buf[VV_REMOTE_HEAD_SIZE + 1];
	vv_oid ids[4], back;
	memset(&ids[0], 0, sizeof(ids[0]));
	memset(&ids[1], 0xff, sizeof(ids[1]));
	vv_hash_buf("venvfs", 6, &ids[2]);
	assert_int_equal(vv_oid_from_hex(&ids[3], HEX, VV_OID_HEX), 0);
	for (size_t i = 0; i < 4; i++) {
		memset(buf, 'X', sizeof(buf));
		vv_remote_head_format(&ids[i], buf);
		assert_int_equal(strlen(buf), VV_REMOTE_HEAD_SIZE);
		char hex[VV_OID_HEX + 1];
		vv_oid_hex(&ids[i], hex);
		assert_memory_equal(buf, "venvfs-manifest ", 16);
		assert_memory_equal(buf + 16, hex, VV_OID_HEX);
		assert_int_equal(buf[VV_REMOTE_HEAD_SIZE - 1], '\n');
		memset(&back, 0x55, sizeof(back));
		assert_int_equal(parse_exact(buf, VV_REMOTE_HEAD_SIZE, &back), 0);
		assert_true(vv_oid_eq(&back, &ids[i]));
	}
	vv_remote_head_format(&ids[3], buf);
	assert_string_equal(buf, GOOD);
}

static void test_rejects(void **state)
{
	(void)state;
	expect_reject_len("", 0);
	expect_reject("\n");
	expect_reject(VV_REMOTE_HEAD_MAGIC);
	expect_reject(VV_REMOTE_HEAD_MAGIC "\n");
	expect_reject(VV_REMOTE_HEAD_MAGIC " \n");
	/* the magic */
	expect_reject("venvfs-manifesT " HEX "\n");
	expect_reject("venvfs-manifests" HEX "\n");
	expect_reject("venvfs-tree 2\n" HEX "\n");
	expect_reject("Venvfs-manifest " HEX "\n");
	expect_reject(" venvfs-manifest " HEX "\n");
	expect_reject("venvfs-manifest  " HEX "\n");
	expect_reject("venvfs-manifest\t" HEX "\n");
	expect_reject("venvfs-manifest 1 " HEX "\n"); /* the manifest's own magic */
	/* the id: 64 hex digits exactly */
	expect_reject("venvfs-manifest " "0123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcde\n");             /* 63 */
	expect_reject("venvfs-manifest " HEX "0\n");                   /* 65 */
	expect_reject("venvfs-manifest " "0123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcdeg\n");            /* not hex */
	expect_reject("venvfs-manifest " "0123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcde \n");
	expect_reject("venvfs-manifest " "x123456789abcdef0123456789abcdef"
		      "0123456789abcdef0123456789abcdef\n");
	/* the newline, and nothing after it */
	expect_reject(VV_REMOTE_HEAD_MAGIC " " HEX);
	expect_reject(VV_REMOTE_HEAD_MAGIC " " HEX " ");
	expect_reject(VV_REMOTE_HEAD_MAGIC " " HEX "\r\n");
	expect_reject(VV_REMOTE_HEAD_MAGIC " " HEX "\n\n");
	expect_reject(VV_REMOTE_HEAD_MAGIC " " HEX "\nx");
	expect_reject(GOOD GOOD);
	expect_reject_len(GOOD "", VV_REMOTE_HEAD_SIZE + 1); /* its NUL counted */
	/* a NUL in place of each byte */
	char buf[VV_REMOTE_HEAD_SIZE + 1];
	for (size_t i = 0; i < VV_REMOTE_HEAD_SIZE; i++) {
		memcpy(buf, GOOD, sizeof(buf));
		buf[i] = '\0';
		expect_reject_len(buf, VV_REMOTE_HEAD_SIZE);
	}
	/* every strict prefix */
	for (size_t i = 0; i < VV_REMOTE_HEAD_SIZE; i++)
		expect_reject_len(GOOD, i);
}

/* The spelling HEAD is written in is lower case; object ids everywhere else venvfs
 * reads strictly (trees, history) refuse upper case. */
static void test_rejects_upper_case(void **state)
{
	(void)state;
	expect_reject("venvfs-manifest " "0123456789ABCDEF0123456789abcdef"
		      "0123456789abcdef0123456789abcdef\n");
	expect_reject("venvfs-manifest " "0123456789ABCDEF0123456789ABCDEF"
		      "0123456789ABCDEF0123456789ABCDEF\n");
}

static void test_open(void **state)
{
	(void)state;
	struct vv_store *st = vt_store_new();
	static const char *const bad[] = { "ftp://example.org/pub", "file:///srv/pub",
					   "/srv/pub", "example.org/pub", "", "http:/x",
					   "https:x", "gopher://h/", " http://x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct vv_remote *rm = (struct vv_remote *)0x1;
		vv_err_clear();
		assert_int_equal(vv_remote_open(&rm, bad[i], &st->odb, NULL), -EINVAL);
		assert_ptr_equal(rm, (struct vv_remote *)0x1); /* untouched */
		assert_non_null(strstr(vv_errmsg(), "not an http:// or https:// URL"));
		assert_non_null(strstr(vv_errmsg(), bad[i]));
	}

	/* an http URL opens without a request; trailing slashes go */
	struct vv_remote *rm = NULL;
	struct vv_http_opts o = { .connect_s = 3, .stall_s = 4 };
	assert_int_equal(vv_remote_open(&rm, "http://127.0.0.1:9/pub///", &st->odb, &o), 0);
	assert_string_equal(rm->url, "http://127.0.0.1:9/pub");
	assert_int_equal(rm->http.connect_s, 3);
	assert_int_equal(rm->http.stall_s, 4);
	assert_ptr_equal(rm->odb, &st->odb);
	vv_remote_close(rm);

	assert_int_equal(vv_remote_open(&rm, "https://example.invalid", &st->odb, NULL), 0);
	assert_string_equal(rm->url, "https://example.invalid");
	vv_remote_close(rm);
	vv_remote_close(NULL);
	vt_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_rejects_upper_case),
		cmocka_unit_test(test_open),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
