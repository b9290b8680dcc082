/*
 * http.h - HTTP GET for published stores (remote.h), over Debian's libcurl.
 *
 * One job: fetch a URL's body into a sink, with bounded waits, and turn every way it
 * can fail into one errno and one message that names the URL and the reason a user can
 * act on ("server refused the connection", "HTTP 404", "timed out: no byte for 30 s",
 * "body truncated", "TLS: ..."). Each thread keeps its own curl multi handle with a
 * few easy handles, so requests to the same server reuse their connections
 * (keep-alive) without a lock, and a batch of URLs runs several transfers at once.
 *
 * Codes: -ENOENT for HTTP 404 and 410 (the object or file is not published),
 * -ETIMEDOUT for a stalled or too slow transfer, -EHOSTUNREACH for a server that cannot
 * be reached (refused, unknown host, no route), -EIO for everything else (other HTTP
 * statuses, truncated bodies, TLS failures), and the sink's own code when it stops.
 */
#ifndef VV_HTTP_H
#define VV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives the body in pieces; a negative return stops the transfer with that code
 * (the sink sets the message). */
typedef int (*vv_http_sink)(const void *buf, size_t len, void *arg);

struct vv_http_opts {
	unsigned connect_s; /* connect within this (0: 10 s) */
	unsigned stall_s;   /* fail when no byte came for this long, headers or body
			       (0: 30 s) */
	const char *ca_file; /* trust the CA certificates in this PEM file, not the
				system's (NULL: the system's) */
};

/* Once per process, before any other thread calls vv_http_get (curl's global init). */
int vv_http_init(void);

/* GET url into sink. A body longer than maxlen fails with -EFBIG. Returns 0 or -errno
 * with a message "GET URL: REASON". */
int vv_http_get(const char *url, const struct vv_http_opts *o, uint64_t maxlen,
		vv_http_sink sink, void *arg);

/* One transfer of vv_http_get_many. */
struct vv_http_job {
	const char *url;
	vv_http_sink sink;
	void *arg;
	uint64_t maxlen;
	int rc;        /* out: 0 or the code vv_http_get would give */
	char msg[384]; /* out: its message when rc < 0 */
	/* private */
	uint64_t got;
	int sink_err;
	int64_t last_ns;  /* when the last byte came (CLOCK_MONOTONIC) */
	uint64_t stall_ns;
	int64_t connect_ns;
	bool any, stalled; /* a byte came; the transfer was stopped for stalling */
};

/* At most this many transfers at once. */
#define VV_HTTP_PARALLEL 8

/* Run every job, VV_HTTP_PARALLEL at most at once; each gets its rc and msg. Returns
 * 0 (look at the jobs) or -ENOMEM with a message. */
int vv_http_get_many(struct vv_http_job *jobs, size_t n, const struct vv_http_opts *o);

/* GET url into a malloc'd buffer (NUL-terminated; *len excludes the NUL). */
int vv_http_get_buf(const char *url, const struct vv_http_opts *o, size_t maxlen,
		    char **out, size_t *len);

#endif
