/*
 * test_hash.c - SHA-256 ids against known vectors, hex and base64url forms, streaming
 * and fd hashing.
 */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/error.h"
#include "util/fsutil.h"
#include "util/hash.h"

#define EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define MILLION_A_HEX "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void hex_of(const void *data, size_t len, char *hex)
{
	vv_oid o;
	vv_hash_buf(data, len, &o);
	vv_oid_hex(&o, hex);
}

static void test_vectors(void **state)
{
	(void)state;
	char hex[VV_OID_HEX + 1];
	hex_of("", 0, hex);
	assert_string_equal(hex, EMPTY_HEX);
	hex_of(NULL, 0, hex);
	assert_string_equal(hex, EMPTY_HEX);
	hex_of("abc", 3, hex);
	assert_string_equal(hex, ABC_HEX);
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
}

static void test_b64(void **state)
{
	(void)state;
	vv_oid o;
	char b64[44];
	vv_hash_buf("", 0, &o);
	vv_oid_b64(&o, b64);
	assert_string_equal(b64, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
	vv_hash_buf("abc", 3, &o);
	vv_oid_b64(&o, b64);
	assert_string_equal(b64, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
	assert_int_equal(strlen(b64), 43);
}

static void test_hex_roundtrip(void **state)
{
	(void)state;
	vv_oid o, p;
	char hex[VV_OID_HEX + 1];
	vv_hash_buf("abc", 3, &o);
	vv_oid_hex(&o, hex);
	assert_int_equal(vv_oid_from_hex(&p, hex, strlen(hex)), 0);
	assert_true(vv_oid_eq(&o, &p));
	/* Upper case is accepted by the parser. */
	const char *up = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
	assert_int_equal(vv_oid_from_hex(&p, up, VV_OID_HEX), 0);
	assert_true(vv_oid_eq(&o, &p));
}

static void test_hex_rejects(void **state)
{
	(void)state;
	vv_oid p;
	memset(&p, 0x5a, sizeof(p));
	vv_oid before = p;
	assert_int_equal(vv_oid_from_hex(&p, ABC_HEX, 63), -EINVAL);
	assert_int_equal(vv_oid_from_hex(&p, ABC_HEX "0", 65), -EINVAL);
	assert_int_equal(vv_oid_from_hex(&p, "", 0), -EINVAL);
	char bad[VV_OID_HEX + 1];
	memcpy(bad, ABC_HEX, sizeof(bad));
	bad[63] = 'g';
	assert_int_equal(vv_oid_from_hex(&p, bad, VV_OID_HEX), -EINVAL);
	bad[63] = ' ';
	assert_int_equal(vv_oid_from_hex(&p, bad, VV_OID_HEX), -EINVAL);
	memcpy(bad, ABC_HEX, sizeof(bad));
	bad[0] = 0;
	assert_int_equal(vv_oid_from_hex(&p, bad, VV_OID_HEX), -EINVAL);
	/* Output untouched on failure. */
	assert_true(vv_oid_eq(&p, &before));
}

static void test_streaming_matches_oneshot(void **state)
{
	(void)state;
	size_t n = 1000000;
	char *a = malloc(n);
	assert_non_null(a);
	memset(a, 'a', n);
	vv_hasher *h = vv_hasher_new();
	assert_non_null(h);
	for (size_t off = 0; off < n; off += 777)
		vv_hasher_update(h, a + off, off + 777 <= n ? 777 : n - off);
	vv_hasher_update(h, a, 0);
	vv_oid s, o;
	vv_hasher_final(h, &s);
	vv_hasher_free(h);
	vv_hash_buf(a, n, &o);
	assert_true(vv_oid_eq(&s, &o));
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&o, hex);
	assert_string_equal(hex, MILLION_A_HEX);
	free(a);
}

static void test_hash_fd(void **state)
{
	(void)state;
	char *dir = vt_tempdir();
	char path[4096];
	snprintf(path, sizeof(path), "%s/f", dir);
	/* Larger than one 256 KiB block and not a multiple of it. */
	size_t n = 1000000;
	char *a = malloc(n);
	assert_non_null(a);
	memset(a, 'a', n);
	vt_write_file(path, a, n);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 12345, SEEK_SET), 12345);
	vv_oid o;
	uint64_t size = 0;
	assert_int_equal(vv_hash_fd(fd, &o, &size), 0);
	assert_int_equal(size, n);
	char hex[VV_OID_HEX + 1];
	vv_oid_hex(&o, hex);
	assert_string_equal(hex, MILLION_A_HEX);
	/* The fd offset is untouched. */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 12345);
	assert_int_equal(vv_hash_fd(fd, &o, NULL), 0);
	close(fd);

	vt_write_file(path, "", 0);
	fd = open(path, O_RDONLY);
	assert_int_equal(vv_hash_fd(fd, &o, &size), 0);
	assert_int_equal(size, 0);
	vv_oid_hex(&o, hex);
	assert_string_equal(hex, EMPTY_HEX);
	close(fd);
	free(a);
	vt_rmtree(dir);
}

static void test_hash_fd_error(void **state)
{
	(void)state;
	vv_oid o;
	char *dir = vt_tempdir();
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(vv_hash_fd(fd, &o, NULL), -EISDIR);
	assert_non_null(strstr(vv_errmsg(), "cannot read"));
	close(fd);
	assert_int_equal(vv_hash_fd(-1, &o, NULL), -EBADF);
	vt_rmtree(dir);
}

static void test_eq_zero(void **state)
{
	(void)state;
	vv_oid z = { { 0 } }, o;
	assert_true(vv_oid_is_zero(&z));
	vv_hash_buf("x", 1, &o);
	assert_false(vv_oid_is_zero(&o));
	assert_false(vv_oid_eq(&z, &o));
	z.b[31] = 1;
	assert_false(vv_oid_is_zero(&z));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_hex_roundtrip),
		cmocka_unit_test(test_hex_rejects),
		cmocka_unit_test(test_streaming_matches_oneshot),
		cmocka_unit_test(test_hash_fd),
		cmocka_unit_test(test_hash_fd_error),
		cmocka_unit_test(test_eq_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
