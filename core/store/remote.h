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
 * cache's object database (prefetch.h vv_prefetch_attach), every open or read of a
 * missing object fetches it first, with the objects its directory says will be
 * wanted next, so the rest of venvfs reads a remote store as a local one.
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

struct vv_prefetch;

struct vv_remote {
	char *url;            /* base URL, no trailing '/' */
	struct vv_odb *odb;   /* the cache's objects (borrowed) */
	int cachefd;          /* the cache store's directory (borrowed; -1: no marker) */
	struct vv_http_opts http;
	_Atomic uint64_t fetched, fetched_bytes, failed; /* counters for the log */
	/* set by prefetch.h's attach, freed by its detach: */
	struct vv_lru *lru;   /* the cache's size bound (lru.h), or NULL */
	struct vv_prefetch *pf; /* what the trees say about batches */
	/* told every failed fetch, with its message, when it happens (may be NULL) */
	void (*log)(const char *msg);
	/* guarded by lk: recent failures, per object and of the server as a whole, and
	 * the objects some thread is fetching now (others wait for them on cv) */
	pthread_mutex_t lk;
	pthread_cond_t cv;
	struct vv_remote_fail fails[VV_REMOTE_FAIL_RING];
	unsigned nextfail;
	struct vv_remote_fail down; /* unreachable: every fetch fails until it expires */
	vv_oid *inflight;
	size_t ninflight, capinflight;
};

/* A client for the directory published at url (http:// or https://), filling odb.
 * -EINVAL with a message for a URL of another scheme. */
int vv_remote_open(struct vv_remote **out, const char *url, struct vv_odb *odb,
		   const struct vv_http_opts *http);
/* Free r (after prefetch.h vv_prefetch_detach when it was attached). */
void vv_remote_close(struct vv_remote *r);

/* The current manifest's id, from HEAD. */
int vv_remote_head(struct vv_remote *r, vv_oid *out);

/*
 * Fetch objects oids[0..n) the cache lacks, VV_HTTP_PARALLEL at a time, each verified
 * against its name before it is linked. rcs[i] (rcs may be NULL) gets 0 once oids[i]
 * is in the cache (also when it already was, or another thread fetched it meanwhile),
 * -EUCLEAN when its body does not hash to its name, or http.h's codes; the message of
 * the first failure is set, and every failure met on the network now is told to
 * r->log. *fresh (may be NULL) tells whether the network was used. A failure within VV_REMOTE_FAIL_HOLD_NS (or any fetch while the server
 * was found unreachable that recently) fails again at once with the same code and
 * message. Returns 0 when every object is there, else the first failure's code.
 *
 * No fsync: a fetched object's bytes are written, then linked. What a kernel crash
 * could leave half written is handled by the cache's marker (vv_remote_cache_begin).
 */
int vv_remote_fetch_many(struct vv_remote *r, const vv_oid *oids, size_t n, int *rcs,
			 bool *fresh);
int vv_remote_fetch(struct vv_remote *r, const vv_oid *oid, bool *fresh);

/*
 * The cache's objects are written without fsync (a cache can fetch again), so the
 * cache store holds a marker, `unsynced`, naming the boot (the kernel's boot_id)
 * while a mount writes objects: begin checks it, and when a mount of another boot
 * left it (the kernel went down with objects maybe half on disk) it removes every
 * object before writing its own marker; end syncs the cache's filesystem and removes
 * it. A daemon that is killed leaves its objects whole in the page cache, so the next
 * mount of the same boot keeps them.
 */
int vv_remote_cache_begin(struct vv_remote *r, int cachefd);
int vv_remote_cache_end(struct vv_remote *r);

/* Parse HEAD's text: 0 and *out, or -EINVAL ("not a venvfs HEAD"). */
int vv_remote_head_parse(const char *buf, size_t len, vv_oid *out);
/* HEAD's text for id: VV_REMOTE_HEAD_MAGIC, a space, 64 hex digits, a newline. */
#define VV_REMOTE_HEAD_SIZE (sizeof(VV_REMOTE_HEAD_MAGIC) + VV_OID_HEX + 1)
void vv_remote_head_format(const vv_oid *id, char buf[VV_REMOTE_HEAD_SIZE + 1]);

#endif
