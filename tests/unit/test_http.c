/*
 * test_http.c - HTTP GET over libcurl (store/http.h) against a small HTTP/1.1 server
 * run in this process (plain sockets, a thread per connection, on 127.0.0.1 port 0),
 * so every way a transfer can end is made on purpose, with no network and no
 * dependency: a body (keep-alive, Content-Length), an empty body, a body over maxlen
 * (-EFBIG, and exactly maxlen is fine), 404 and 410 (-ENOENT), 500 (-EIO), a body cut
 * short (-EIO), a server that stops sending (-ETIMEDOUT after stall_s), a port nobody
 * listens on (-EHOSTUNREACH) and a sink that stops the transfer (its own code). Every
 * failure's message starts "GET URL:". A batch of 20 jobs, good and bad mixed, gives
 * each job its own code and body; the server counts connections to show that
 * sequential requests reuse one (keep-alive), and a thread's own handles are freed
 * when it ends (valgrind).
 */
#include "testhttp.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/http.h"
#include "util/error.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof(*(a)))

/* ---- the server (testhttp.h) and its paths ---- */

#define BIG_LEN 100000

static struct vt_http *srv;

static int send_head(int fd, int status, const char *reason, size_t clen)
{
	char h[256];
	int n = snprintf(h, sizeof(h), "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
			 "Content-Type: text/plain\r\n\r\n", status, reason, clen);
	return vt_http_send_all(fd, h, (size_t)n);
}

/* Answer one request for target; false: close the connection. */
static bool answer(struct vt_http *s, int fd, const char *target, void *arg)
{
	(void)arg;
	char path[300];
	snprintf(path, sizeof(path), "%s", target);
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	if (!strcmp(path, "/ok")) {
		char body[512];
		int n = snprintf(body, sizeof(body), "hello from %s\n", target);
		return send_head(fd, 200, "OK", (size_t)n) == 0 &&
		       vt_http_send_all(fd, body, (size_t)n) == 0;
	}
	if (!strcmp(path, "/empty"))
		return send_head(fd, 200, "OK", 0) == 0;
	if (!strcmp(path, "/big")) {
		char *body = malloc(BIG_LEN);
		assert_non_null(body);
		memset(body, 'b', BIG_LEN);
		bool ok = send_head(fd, 200, "OK", BIG_LEN) == 0 &&
			  vt_http_send_all(fd, body, BIG_LEN) == 0;
		free(body);
		return ok;
	}
	if (!strcmp(path, "/gone"))
		return send_head(fd, 410, "Gone", 5) == 0 &&
		       vt_http_send_all(fd, "gone\n", 5) == 0;
	if (!strcmp(path, "/err"))
		return send_head(fd, 500, "Internal Server Error", 4) == 0 &&
		       vt_http_send_all(fd, "err\n", 4) == 0;
	if (!strcmp(path, "/trunc")) {
		char half[50];
		memset(half, 't', sizeof(half));
		send_head(fd, 200, "OK", 100);
		vt_http_send_all(fd, half, sizeof(half));
		return false;
	}
	if (!strcmp(path, "/stall") || !strcmp(path, "/stall10")) {
		send_head(fd, 200, "OK", 100);
		if (path[6])
			vt_http_send_all(fd, "0123456789", 10);
		vt_http_wait_readable(s, fd, 12000); /* until the client gives up */
		return false;
	}
	/* /missing, and anything else */
	return send_head(fd, 404, "Not Found", 10) == 0 &&
	       vt_http_send_all(fd, "not found\n", 10) == 0;
}

static void counts(unsigned *accepted, unsigned *requests)
{
	vt_http_counts(srv, accepted, requests);
}

static const char *url(const char *path)
{
	static char buf[8][128];
	static unsigned next;
	char *u = buf[next++ % 8];
	snprintf(u, sizeof(buf[0]), "http://127.0.0.1:%d%s", vt_http_port(srv), path);
	return u;
}

static const struct vv_http_opts opts = { .connect_s = 5, .stall_s = 5 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The message of the last failure names the URL: "GET URL: ..." holding want. */
static void expect_msg(const char *msg, const char *u, const char *want)
{
	char prefix[200];
	snprintf(prefix, sizeof(prefix), "GET %s: ", u);
	if (strncmp(msg, prefix, strlen(prefix)) || !strstr(msg, want))
		fail_msg("message '%s', want '%s...%s'", msg, prefix, want);
}

static void expect_get(const char *path, size_t maxlen, int want, const char *wantmsg)
{
	const char *u = url(path);
	char *buf = (char *)0x1;
	size_t len = 12345;
	vv_err_clear();
	int r = vv_http_get_buf(u, &opts, maxlen, &buf, &len);
	if (r != want)
		fail_msg("GET %s gave %d (%s), want %d", u, r, vv_errmsg(), want);
	assert_ptr_equal(buf, (char *)0x1); /* untouched on failure */
	assert_int_equal(len, 12345);
	expect_msg(vv_errmsg(), u, wantmsg);
}

/* ---- the tests ---- */

static int group_setup(void **state)
{
	(void)state;
	srv = vt_http_start(answer, NULL);
	return vv_http_init();
}

static int group_teardown(void **state)
{
	(void)state;
	vt_http_stop(srv);
	return 0;
}

/* A body comes back whole and NUL-terminated; maxlen is a bound on it, inclusive. */
static void test_ok(void **state)
{
	(void)state;
	const char *want = "hello from /ok?a=1\n";
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_http_get_buf(url("/ok?a=1"), &opts, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(buf, want); /* NUL right after the body */
	free(buf);

	/* exactly maxlen bytes is fine, one more is -EFBIG */
	assert_int_equal(vv_http_get_buf(url("/ok?a=1"), &opts, strlen(want), &buf, &len), 0);
	assert_int_equal(buf[len], '\0');
	free(buf);
	expect_get("/ok?a=1", strlen(want) - 1, -EFBIG, "body longer than");

	/* an empty body is an empty string, not NULL */
	buf = NULL;
	len = 7;
	assert_int_equal(vv_http_get_buf(url("/empty"), &opts, 100, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	/* a maxlen of 0 takes an empty body only */
	assert_int_equal(vv_http_get_buf(url("/empty"), &opts, 0, &buf, &len), 0);
	free(buf);
}

/* Each status and each way a body can go wrong has its code and its reason. */
static void test_codes(void **state)
{
	(void)state;
	expect_get("/missing", 4096, -ENOENT, "HTTP 404");
	expect_get("/gone", 4096, -ENOENT, "HTTP 410");
	expect_get("/err", 4096, -EIO, "HTTP 500");
	expect_get("/trunc", 4096, -EIO, "truncated");
	expect_get("/big", 1000, -EFBIG, "body longer than 1000 bytes");
	/* and the big body whole where maxlen allows it */
	char *buf = NULL;
	size_t len = 0;
	assert_int_equal(vv_http_get_buf(url("/big"), &opts, BIG_LEN, &buf, &len), 0);
	assert_int_equal(len, BIG_LEN);
	assert_int_equal(buf[0], 'b');
	assert_int_equal(buf[BIG_LEN - 1], 'b');
	assert_int_equal(buf[BIG_LEN], '\0');
	free(buf);
	/* the server is fine after all that */
	assert_int_equal(vv_http_get_buf(url("/ok"), &opts, 100, &buf, &len), 0);
	assert_string_equal(buf, "hello from /ok\n");
	free(buf);
}

/* Headers, then nothing: -ETIMEDOUT once stall_s passes, not sooner and not much
 * later. */
static void test_stall(void **state)
{
	(void)state;
	struct vv_http_opts o = { .connect_s = 5, .stall_s = 1 };
	const char *u = url("/stall");
	char *buf = NULL;
	size_t len = 0;
	double t0 = now_s();
	int r = vv_http_get_buf(u, &o, 4096, &buf, &len);
	double took = now_s() - t0;
	if (r != -ETIMEDOUT)
		fail_msg("stall gave %d (%s)", r, vv_errmsg());
	expect_msg(vv_errmsg(), u, "timed out");
	assert_true(took >= 0.9);
	assert_true(took < 3.5);

	/* a body that starts and then stops: timed out stall_s after its last byte
	 * (http.c counts from the last byte; libcurl's own low-speed check, which
	 * averages over ~5 s, took 7 s here) */
	u = url("/stall10");
	t0 = now_s();
	r = vv_http_get_buf(u, &o, 4096, &buf, &len);
	took = now_s() - t0;
	if (r != -ETIMEDOUT)
		fail_msg("stall10 gave %d (%s)", r, vv_errmsg());
	expect_msg(vv_errmsg(), u, "timed out");
	assert_true(took >= 0.9);
	assert_true(took < 3.5);
}

/* Nobody listens on the port: the server cannot be reached. */
static void test_refused(void **state)
{
	(void)state;
	char u[128];
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/ok", vt_http_unused_port());
	char *buf = NULL;
	size_t len = 0;
	vv_err_clear();
	assert_int_equal(vv_http_get_buf(u, &opts, 4096, &buf, &len), -EHOSTUNREACH);
	assert_null(buf);
	expect_msg(vv_errmsg(), u, "cannot reach the server");
}

struct acc {
	char buf[1024];
	size_t len;
	int fail; /* < 0: fail with this at the first piece */
	unsigned calls;
};

static int sink(const void *p, size_t len, void *arg)
{
	struct acc *a = arg;
	a->calls++;
	if (a->fail < 0)
		return vv_err(a->fail, "the sink is full (test)");
	if (a->len + len > sizeof(a->buf) - 1)
		return vv_err(-EOVERFLOW, "test buffer too small");
	memcpy(a->buf + a->len, p, len);
	a->len += len;
	a->buf[a->len] = '\0';
	return 0;
}

/* A sink's error stops the transfer and is what the caller gets, with its message. */
static void test_sink_error(void **state)
{
	(void)state;
	struct acc a = { .fail = -ENOSPC };
	const char *u = url("/ok?sink");
	vv_err_clear();
	assert_int_equal(vv_http_get(u, &opts, 4096, sink, &a), -ENOSPC);
	assert_int_equal(a.calls, 1);
	expect_msg(vv_errmsg(), u, "the sink is full (test)");

	/* the same in a batch, beside a job that works */
	struct acc b = { .fail = -EROFS }, c = { 0 };
	struct vv_http_job jobs[2] = {
		{ .url = url("/ok?b"), .sink = sink, .arg = &b, .maxlen = 4096 },
		{ .url = url("/ok?c"), .sink = sink, .arg = &c, .maxlen = 4096 },
	};
	assert_int_equal(vv_http_get_many(jobs, 2, &opts), 0);
	assert_int_equal(jobs[0].rc, -EROFS);
	expect_msg(jobs[0].msg, jobs[0].url, "the sink is full (test)");
	assert_int_equal(jobs[1].rc, 0);
	assert_string_equal(jobs[1].msg, "");
	assert_string_equal(c.buf, "hello from /ok?c\n");

	/* and a good body through vv_http_get */
	struct acc d = { 0 };
	assert_int_equal(vv_http_get(url("/ok?d"), &opts, 4096, sink, &d), 0);
	assert_string_equal(d.buf, "hello from /ok?d\n");
	/* nothing to do is fine */
	assert_int_equal(vv_http_get_many(NULL, 0, &opts), 0);
}

/* 20 jobs, more than run at once, good and bad mixed: each its own code and body. */
static void test_many(void **state)
{
	(void)state;
	static const char *const kinds[] = { "/ok", "/missing", "/ok", "/gone", "/err",
					     "/trunc", "/ok", "/big" };
	static const int want[] = { 0, -ENOENT, 0, -ENOENT, -EIO, -EIO, 0, -EFBIG };
	enum { N = 20 };
	struct vv_http_job jobs[N];
	struct acc acc[N];
	char urls[N][128];
	unsigned a0, r0, a1, r1;
	counts(&a0, &r0);
	memset(jobs, 0, sizeof(jobs));
	memset(acc, 0, sizeof(acc));
	for (size_t i = 0; i < N; i++) {
		snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d%s?job=%zu", vt_http_port(srv),
			 kinds[i % ARRAY_LEN(kinds)], i);
		jobs[i] = (struct vv_http_job){ .url = urls[i], .sink = sink, .arg = &acc[i],
						.maxlen = 1000, .rc = 77 };
		snprintf(jobs[i].msg, sizeof(jobs[i].msg), "stale");
	}
	assert_int_equal(vv_http_get_many(jobs, N, &opts), 0);
	for (size_t i = 0; i < N; i++) {
		int w = want[i % ARRAY_LEN(kinds)];
		if (jobs[i].rc != w)
			fail_msg("job %zu (%s) gave %d (%s), want %d", i, urls[i], jobs[i].rc,
				 jobs[i].msg, w);
		if (w == 0) {
			char body[200];
			snprintf(body, sizeof(body), "hello from %s\n", urls[i] + strlen(url("")));
			assert_string_equal(acc[i].buf, body);
			assert_string_equal(jobs[i].msg, "");
		} else {
			expect_msg(jobs[i].msg, urls[i],
				   w == -ENOENT ? "HTTP 4" : w == -EFBIG ? "body longer than 1000"
				   : i % ARRAY_LEN(kinds) == 4 ? "HTTP 500" : "truncated");
		}
	}
	counts(&a1, &r1);
	assert_int_equal(r1 - r0, N);
	/* at most VV_HTTP_PARALLEL at once: connections are reused within the batch too,
	 * except after the failures that close them */
	assert_true(a1 - a0 < N);
}

struct seq {
	unsigned n;
	int rc;
};

static void *seq_main(void *arg)
{
	struct seq *s = arg;
	for (unsigned i = 0; i < s->n && s->rc == 0; i++) {
		char path[64], *buf = NULL;
		size_t len = 0;
		snprintf(path, sizeof(path), "/ok?seq=%u", i);
		s->rc = vv_http_get_buf(url(path), &opts, 4096, &buf, &len);
		free(buf);
	}
	return NULL;
}

/* Sequential requests from one thread keep one connection open (the thread's own
 * handles, freed when the thread ends). */
static void test_keepalive(void **state)
{
	(void)state;
	unsigned a0, r0, a1, r1;
	counts(&a0, &r0);
	struct seq s = { .n = 10 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, seq_main, &s), 0);
	pthread_join(th, NULL);
	assert_int_equal(s.rc, 0);
	counts(&a1, &r1);
	assert_int_equal(r1 - r0, 10);
	assert_int_equal(a1 - a0, 1); /* a new thread: one new connection for all ten */

	/* the same from this thread, which made connections before */
	counts(&a0, &r0);
	s = (struct seq){ .n = 10 };
	seq_main(&s);
	assert_int_equal(s.rc, 0);
	counts(&a1, &r1);
	assert_int_equal(r1 - r0, 10);
	assert_true(a1 - a0 <= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_sink_error),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_keepalive),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
