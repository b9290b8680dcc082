/*
 * hash.c - SHA-256 object ids over OpenSSL's EVP interface.
 *
 * This is the only file that includes OpenSSL headers; the rest of venvfs sees vv_oid
 * and the streaming vv_hasher. EVP failures in the void-returning functions can only
 * mean a broken crypto library (or no memory inside it), which we cannot recover from
 * sensibly, so they abort() rather than produce a wrong id.
 */
#include "util/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util/error.h"

#define HASH_BLOCK (256 * 1024)

struct vv_hasher {
	EVP_MD_CTX *ctx;
};

static void crypto_fail(const char *what)
{
	fprintf(stderr, "venvfs: fatal: sha-256 %s failed in libcrypto\n", what);
	abort();
}

vv_hasher *vv_hasher_new(void)
{
	vv_hasher *h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx) {
		free(h);
		return NULL;
	}
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void vv_hasher_update(vv_hasher *h, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (EVP_DigestUpdate(h->ctx, data, len) != 1)
		crypto_fail("update");
}

void vv_hasher_final(vv_hasher *h, vv_oid *out)
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(h->ctx, out->b, &n) != 1 || n != VV_OID_RAW)
		crypto_fail("final");
}

void vv_hasher_free(vv_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void vv_hash_buf(const void *data, size_t len, vv_oid *out)
{
	unsigned int n = 0;
	static const char empty[1];
	if (EVP_Digest(len ? data : empty, len, out->b, &n, EVP_sha256(), NULL) != 1 ||
	    n != VV_OID_RAW)
		crypto_fail("digest");
}

int vv_hash_fd(int fd, vv_oid *out, uint64_t *size_out)
{
	return vv_hash_fd_until(fd, out, size_out, NULL, NULL);
}

/* Holes are hashed from a buffer of zeros instead of being read. */
static const char zeros[HASH_BLOCK];

int vv_hash_fd_until(int fd, vv_oid *out, uint64_t *size_out, bool (*stop)(void *),
		     void *arg)
{
	vv_hasher *h = vv_hasher_new();
	if (!h)
		return vv_err(-ENOMEM, "cannot allocate sha-256 context");
	char *buf = malloc(HASH_BLOCK);
	if (!buf) {
		vv_hasher_free(h);
		return vv_err(-ENOMEM, "cannot allocate hash buffer");
	}
	/* Most files fit one block: one pread, and a short read is the end of the file
	 * (holes read as zeros). Bigger ones go on below, skipping holes. */
	ssize_t first = -1;
	errno = ECANCELED;
	if (!(stop && stop(arg)))
		while ((first = pread(fd, buf, HASH_BLOCK, 0)) < 0 && errno == EINTR)
			;
	if (first < 0) {
		int r = errno == ECANCELED ?
			vv_err(-ECANCELED, "hashing fd %d stopped at offset 0", fd) :
			vv_err_sys(-errno, "cannot read fd %d for hashing", fd);
		free(buf);
		vv_hasher_free(h);
		return r;
	}
	vv_hasher_update(h, buf, (size_t)first);
	/* [off, data_at) is a hole; the data run that follows ends at hole_at. SEEK_DATA
	 * moves the fd's offset: it is put back at the end */
	bool big = first == HASH_BLOCK;
	off_t saved = big ? lseek(fd, 0, SEEK_CUR) : -1;
	uint64_t off = (uint64_t)first, data_at = off, hole_at = off;
	bool sparse = true;
	int r = 0;
	while (big) {
		if (stop && stop(arg)) {
			r = vv_err(-ECANCELED, "hashing fd %d stopped at offset %llu", fd,
				   (unsigned long long)off);
			break;
		}
		if (sparse && off >= hole_at) {
			off_t d = lseek(fd, (off_t)off, SEEK_DATA);
			off_t e = d < 0 ? -1 : lseek(fd, d, SEEK_HOLE);
			struct stat sb;
			if (d < 0 && errno == ENXIO && fstat(fd, &sb) == 0) {
				/* a hole up to the end of the file */
				data_at = (uint64_t)sb.st_size;
				hole_at = UINT64_MAX;
			} else if (d < 0 || e < 0) {
				sparse = false; /* no SEEK_DATA here: read everything */
				data_at = off;
				hole_at = UINT64_MAX;
			} else {
				data_at = (uint64_t)d;
				hole_at = (uint64_t)e;
			}
		}
		if (off < data_at) {
			size_t z = data_at - off < HASH_BLOCK ? (size_t)(data_at - off) : HASH_BLOCK;
			vv_hasher_update(h, zeros, z);
			off += z;
			continue;
		}
		size_t want = HASH_BLOCK;
		if (hole_at != UINT64_MAX && hole_at - off < want)
			want = (size_t)(hole_at - off);
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = vv_err_sys(-errno, "cannot read fd %d for hashing at offset %llu", fd,
				       (unsigned long long)off);
			break;
		}
		if (n == 0)
			break;
		vv_hasher_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (r == 0) {
		vv_hasher_final(h, out);
		if (size_out)
			*size_out = off;
	}
	if (saved >= 0)
		(void)lseek(fd, saved, SEEK_SET);
	free(buf);
	vv_hasher_free(h);
	return r;
}

void vv_oid_hex(const vv_oid *oid, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < VV_OID_RAW; i++) {
		hex[2 * i] = digits[oid->b[i] >> 4];
		hex[2 * i + 1] = digits[oid->b[i] & 15];
	}
	hex[VV_OID_HEX] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vv_oid_from_hex(vv_oid *out, const char *hex, size_t len)
{
	if (len != VV_OID_HEX)
		return vv_err(-EINVAL, "bad object id: %zu characters, want %d", len, VV_OID_HEX);
	vv_oid tmp;
	for (size_t i = 0; i < VV_OID_RAW; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return vv_err(-EINVAL, "bad object id: non-hex character at %zu",
				      hi < 0 ? 2 * i : 2 * i + 1);
		tmp.b[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = tmp;
	return 0;
}

void vv_oid_b64(const vv_oid *oid, char *out)
{
	/* EVP_EncodeBlock writes standard base64 with '=' padding: 44 chars + NUL. */
	unsigned char tmp[4 * ((VV_OID_RAW + 2) / 3) + 1];
	int n = EVP_EncodeBlock(tmp, oid->b, VV_OID_RAW);
	if (n != 44)
		crypto_fail("base64 encode");
	for (int i = 0; i < 43; i++) {
		char c = (char)tmp[i];
		out[i] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[43] = 0;
}

bool vv_oid_eq(const vv_oid *a, const vv_oid *b)
{
	return memcmp(a->b, b->b, VV_OID_RAW) == 0;
}

bool vv_oid_is_zero(const vv_oid *oid)
{
	static const vv_oid zero;
	return memcmp(oid->b, zero.b, VV_OID_RAW) == 0;
}
