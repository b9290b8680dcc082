/*
 * hash.h - SHA-256 object ids. The only file that talks to OpenSSL is hash.c.
 *
 * An object id (vv_oid) is the raw 32-byte SHA-256 of an object's bytes; its text form
 * is 64 lower-case hex digits, which is also its file name in the store. RECORD's
 * base64url form is the same digest (vv_oid_b64).
 */
#ifndef VV_HASH_H
#define VV_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VV_OID_RAW 32
#define VV_OID_HEX 64

typedef struct vv_oid {
	uint8_t b[VV_OID_RAW];
} vv_oid;

typedef struct vv_hasher vv_hasher;

/* Streaming hasher. new() returns NULL on OOM. final() may be called once. */
vv_hasher *vv_hasher_new(void);
void vv_hasher_update(vv_hasher *h, const void *data, size_t len);
void vv_hasher_final(vv_hasher *h, vv_oid *out);
void vv_hasher_free(vv_hasher *h);

void vv_hash_buf(const void *data, size_t len, vv_oid *out);

/* Hash everything readable from fd starting at offset 0 (pread; fd offset untouched).
 * *size_out gets the byte count. Returns 0 or -errno. */
int vv_hash_fd(int fd, vv_oid *out, uint64_t *size_out);
/* The same, asking stop(arg) before every block (stop may be NULL): -ECANCELED when it
 * says yes. Holes (SEEK_HOLE) are hashed as the zeros they read as, without reading
 * them, so a sparse file costs hashing, not I/O. */
int vv_hash_fd_until(int fd, vv_oid *out, uint64_t *size_out, bool (*stop)(void *),
		     void *arg);

/* hex must hold VV_OID_HEX + 1 bytes; NUL-terminated lower-case output. */
void vv_oid_hex(const vv_oid *oid, char *hex);
/* Parse exactly 64 hex digits (either case). Returns 0 or -EINVAL. */
int vv_oid_from_hex(vv_oid *out, const char *hex, size_t len);
/* base64url without padding (43 chars + NUL); out must hold 44 bytes. */
void vv_oid_b64(const vv_oid *oid, char *out);

bool vv_oid_eq(const vv_oid *a, const vv_oid *b);
bool vv_oid_is_zero(const vv_oid *oid);

#endif
