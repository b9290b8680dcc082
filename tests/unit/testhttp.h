/*
 * testhttp.h - a small HTTP/1.1 server run inside a unit test, for the tests of the
 * HTTP client (test_http.c) and of a remote's cache (test_prefetch.c): plain sockets,
 * a thread per connection, keep-alive, on 127.0.0.1 with a port of its own. The server
 * reads each request's head and hands its target to the test's callback, which writes
 * the whole answer; it counts the connections it accepted and the requests it read.
 * Setup failures fail the test (cmocka).
 */
#ifndef VV_TESTHTTP_H
#define VV_TESTHTTP_H

#include <stdbool.h>
#include <stddef.h>

struct vt_http;

/* Answer one request for target (the path and query as sent) on fd; false closes the
 * connection. arg is the one given to vt_http_start. Runs on a connection's thread. */
typedef bool vt_http_answer_fn(struct vt_http *s, int fd, const char *target, void *arg);

/* Start a server on 127.0.0.1, port 0; vt_http_stop ends it and frees it. */
struct vt_http *vt_http_start(vt_http_answer_fn *answer, void *arg);
void vt_http_stop(struct vt_http *s);
int vt_http_port(const struct vt_http *s);
/* Connections accepted and requests read so far (either may be NULL). */
void vt_http_counts(struct vt_http *s, unsigned *accepted, unsigned *requests);

/* A port on 127.0.0.1 that nobody listens on (bound for a moment, then closed). */
int vt_http_unused_port(void);

/* Send all of buf on fd: 0, or -1 when the peer is gone. */
int vt_http_send_all(int fd, const void *buf, size_t len);
/* Wait until fd is readable (1), or the server stops or ms pass (0; -1: no limit). */
int vt_http_wait_readable(struct vt_http *s, int fd, int ms);

#endif
