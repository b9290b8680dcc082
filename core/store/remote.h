/*
 * remote.h - a published store read over HTTP: the layout `venvctl publish` writes
 * (ops/publish.h) and the client that fills a local cache store from it.
 *
 * A published directory, served as plain files by any HTTP server:
 *   objects/ab/cdef...   objects exactly as in a store (odb.h): file contents, trees,
 *                        and the manifests; immutable, named by their SHA-256
 *   HEAD                 "venvfs-manifest <64 hex>\n": the current manifest
 *                        (ops/manifest.h), replaced atomically by each publish
 * Objects never change and HEAD is written last, so a client that read HEAD finds
 * every object that manifest reaches, whatever publishes run meanwhile.
 *
 * The client fetches objects on first use into a store of its own (the cache) and
 * verifies each against its name before anything links it there: a tampered or
 * damaged body is refused with -EUCLEAN and never reaches a reader. Attached to the
 * cache's object database (vv_remote_attach), every open or read of a missing object
 * fetches it first, so the rest of venvfs reads a remote store as a local one.
 */
#ifndef VV_REMOTE_H
#define VV_REMOTE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/http.h"
#include "util/hash.h"

struct vv_lru;
struct vv_odb;

/* HEAD's first word */
#define VV_REMOTE_HEAD_MAGIC "venvfs-manifest"

/* A failed fetch is answered from memory for this long (ns): a reader's retries and a
 * down server do not cost a timeout each. */
#define VV_REMOTE_FAIL_HOLD_NS 2000000000LL
#define VV_REMOTE_FAIL_RING 64

struct vv_remote_fail {
	vv_oid oid;
	int64_t at_ns;   /* CLOCK_MONOTONIC; 0: unused */
	int code;
	char msg[384];
};

struct vv_remote {
	char *url;            /* base URL, no trailing '/' */
	struct vv_odb *odb;   /* the cache's objects (borrowed) */
	struct vv_http_opts http;
	_Atomic uint64_t fetched, fetched_bytes, failed; /* counters for the log */
	struct vv_lru *lru;   /* the cache's size bound (lru.h; owned), or NULL */
	/* told every fetch the miss hook could not make, with its message (may be NULL) */
	void (*log)(const char *msg);
	/* recent failures (guarded by lk): per object, and the server as a whole */
	pthread_mutex_t lk;
	struct vv_remote_fail fails[VV_REMOTE_FAIL_RING];
	unsigned nextfail;
	struct vv_remote_fail down; /* unreachable: every fetch fails until it expires */
};

/* A client for the directory published at url (http:// or https://), filling odb.
 * -EINVAL with a message for a URL of another scheme. */
int vv_remote_open(struct vv_remote **out, const char *url, struct vv_odb *odb,
		   const struct vv_http_opts *http);
void vv_remote_close(struct vv_remote *r);

/* The current manifest's id, from HEAD. */
int vv_remote_head(struct vv_remote *r, vv_oid *out);

/* Fetch one object into the cache, verified. 0 once it is there (also when it
 * already was); -EUCLEAN when the body does not hash to oid; http.h's codes. A fetch
 * that failed within VV_REMOTE_FAIL_HOLD_NS (or any fetch while the server was found
 * unreachable that recently) fails again at once with the same code and message:
 * *fresh (may be NULL) tells whether this call tried the network. */
int vv_remote_fetch(struct vv_remote *r, const vv_oid *oid, bool *fresh);

/* Bound the cache to limit bytes of disk (lru.h), listing its objects now. */
int vv_remote_bound(struct vv_remote *r, uint64_t limit);

/* Make r the cache's miss hook: a missing object is fetched before odb gives up. A
 * fetch that fails is logged (r->log) and gives -EIO (-ENOMEM stays), whatever the
 * cause: to the process reading, a file it cannot get is an I/O error. */
void vv_remote_attach(struct vv_remote *r);

/* Parse HEAD's text: 0 and *out, or -EINVAL ("not a venvfs HEAD"). */
int vv_remote_head_parse(const char *buf, size_t len, vv_oid *out);
/* HEAD's text for id: VV_REMOTE_HEAD_MAGIC, a space, 64 hex digits, a newline. */
#define VV_REMOTE_HEAD_SIZE (sizeof(VV_REMOTE_HEAD_MAGIC) + VV_OID_HEX + 1)
void vv_remote_head_format(const vv_oid *id, char buf[VV_REMOTE_HEAD_SIZE + 1]);

#endif
