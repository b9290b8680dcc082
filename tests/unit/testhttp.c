/*
 * testhttp.c - the in-process HTTP/1.1 test server of testhttp.h.
 */
#include "testhttp.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 1024

struct vt_http {
	int lfd, stop[2];
	int port;
	vt_http_answer_fn *answer;
	void *arg;
	pthread_t th;
	pthread_mutex_t lk;
	pthread_t conns[MAX_CONNS];
	size_t nconns;
	unsigned accepted, requests; /* guarded by lk */
};

struct conn {
	struct vt_http *s;
	int fd;
};

int vt_http_wait_readable(struct vt_http *s, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
			       { .fd = s->stop[0], .events = POLLIN } };
	for (;;) {
		int n = poll(p, 2, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (p[1].revents & POLLIN))
			return 0;
		return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
	}
}

int vt_http_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct vt_http *s = c->s;
	char buf[8192];
	size_t have = 0;
	for (;;) {
		char *end;
		buf[have] = '\0';
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (have == sizeof(buf) - 1 || !vt_http_wait_readable(s, c->fd, 10000))
				goto done;
			ssize_t n = recv(c->fd, buf + have, sizeof(buf) - 1 - have, 0);
			if (n <= 0)
				goto done;
			have += (size_t)n;
			buf[have] = '\0';
		}
		char method[16], target[1024];
		if (sscanf(buf, "%15s %1023s", method, target) != 2)
			goto done;
		pthread_mutex_lock(&s->lk);
		s->requests++;
		pthread_mutex_unlock(&s->lk);
		if (!s->answer(s, c->fd, target, s->arg))
			goto done;
		size_t used = (size_t)(end + 4 - buf);
		memmove(buf, buf + used, have - used);
		have -= used;
	}
done:
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct vt_http *s = arg;
	while (vt_http_wait_readable(s, s->lfd, -1)) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		struct conn *c = malloc(sizeof(*c));
		assert_non_null(c);
		*c = (struct conn){ .s = s, .fd = fd };
		pthread_mutex_lock(&s->lk);
		bool ok = s->nconns < MAX_CONNS &&
			  pthread_create(&s->conns[s->nconns], NULL, conn_main, c) == 0;
		if (ok) {
			s->nconns++;
			s->accepted++;
		}
		pthread_mutex_unlock(&s->lk);
		if (!ok) {
			close(fd);
			free(c);
		}
	}
	return NULL;
}

struct vt_http *vt_http_start(vt_http_answer_fn *answer, void *arg)
{
	struct vt_http *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->answer = answer;
	s->arg = arg;
	pthread_mutex_init(&s->lk, NULL);
	assert_int_equal(pipe(s->stop), 0);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 64), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, accept_main, s), 0);
	return s;
}

void vt_http_stop(struct vt_http *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	for (size_t i = 0; i < s->nconns; i++)
		pthread_join(s->conns[i], NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->lk);
	free(s);
}

int vt_http_port(const struct vt_http *s)
{
	return s->port;
}

void vt_http_counts(struct vt_http *s, unsigned *accepted, unsigned *requests)
{
	pthread_mutex_lock(&s->lk);
	if (accepted)
		*accepted = s->accepted;
	if (requests)
		*requests = s->requests;
	pthread_mutex_unlock(&s->lk);
}

int vt_http_unused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}
