/*
 * http.c - HTTP GET over libcurl with bounded waits and messages a user can act on
 * (http.h). Each thread keeps one multi handle and its easy handles (a pthread key
 * frees them): the multi handle's connection cache keeps connections to a server open
 * between calls, and a batch runs its transfers side by side.
 */
#include "store/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

struct tls {
	CURLM *m;
	CURL *easy[VV_HTTP_PARALLEL];
	char ebuf[VV_HTTP_PARALLEL][CURL_ERROR_SIZE];
};

static pthread_key_t tls_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void tls_free(void *p)
{
	struct tls *t = p;
	for (size_t i = 0; i < VV_HTTP_PARALLEL; i++)
		if (t->easy[i])
			curl_easy_cleanup(t->easy[i]);
	curl_multi_cleanup(t->m);
	free(t);
}

static void init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		init_rc = vv_err(-ENOMEM, "cannot initialize libcurl");
		return;
	}
	if (pthread_key_create(&tls_key, tls_free) != 0)
		init_rc = vv_err(-ENOMEM, "cannot make a thread key for HTTP");
}

int vv_http_init(void)
{
	pthread_once(&key_once, init_once);
	return init_rc;
}

static struct tls *thread_state(void)
{
	struct tls *t = pthread_getspecific(tls_key);
	if (t)
		return t;
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	if (!(t->m = curl_multi_init()) || pthread_setspecific(tls_key, t) != 0) {
		if (t->m)
			curl_multi_cleanup(t->m);
		free(t);
		return NULL;
	}
	return t;
}

/* libcurl's own low-speed check averages over several seconds; this one fails a
 * transfer as soon as no byte came for stall_ns. */
static int on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	struct vv_http_job *j = p;
	/* before the first byte, the connect may take its own bound too */
	int64_t limit = (int64_t)j->stall_ns + (j->any ? 0 : j->connect_ns);
	if (vv_mono_ns() - j->last_ns > limit) {
		j->stalled = true;
		return 1;
	}
	return 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *p)
{
	(void)buf;
	struct vv_http_job *j = p;
	j->last_ns = vv_mono_ns();
	j->any = true;
	return size * n;
}

static size_t on_body(char *buf, size_t size, size_t n, void *p)
{
	struct vv_http_job *j = p;
	size_t len = size * n;
	j->last_ns = vv_mono_ns();
	j->any = true;
	if (j->got + len > j->maxlen) {
		j->sink_err = -EFBIG;
		return 0;
	}
	j->got += len;
	int r = j->sink(buf, len, j->arg);
	if (r < 0) {
		j->sink_err = r;
		snprintf(j->msg, sizeof(j->msg), "%s", vv_errmsg());
		return 0;
	}
	return len;
}

/* The code for a finished transfer; its message in j->msg. */
static int finish(CURL *h, CURLcode c, struct vv_http_job *j, const char *ebuf,
		  unsigned stall_s)
{
	const char *url = j->url, *why = *ebuf ? ebuf : curl_easy_strerror(c);
	long status = 0;
	int rc;
	char m[sizeof(j->msg)];
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_WRITE_ERROR:
		if (j->sink_err == -EFBIG) {
			snprintf(m, sizeof(m), "GET %s: body longer than %llu bytes", url,
				 (unsigned long long)j->maxlen);
			rc = -EFBIG;
		} else if (j->sink_err < 0) {
			snprintf(m, sizeof(m), "GET %s: %.300s", url, j->msg);
			rc = j->sink_err;
		} else {
			snprintf(m, sizeof(m), "GET %s: %s", url, why);
			rc = -EIO;
		}
		break;
	case CURLE_HTTP_RETURNED_ERROR:
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status == 404 || status == 410) {
			snprintf(m, sizeof(m), "GET %s: HTTP %ld: not published there", url, status);
			rc = -ENOENT;
		} else {
			snprintf(m, sizeof(m), "GET %s: the server answered HTTP %ld", url, status);
			rc = -EIO;
		}
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		snprintf(m, sizeof(m), "GET %s: cannot reach the server: %s", url, why);
		rc = -EHOSTUNREACH;
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		if (!j->stalled) {
			snprintf(m, sizeof(m), "GET %s: %s", url, why);
			rc = -EIO;
			break;
		}
		/* fall through */
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(m, sizeof(m), "GET %s: timed out (no progress for %u s): %s", url, stall_s,
			 why);
		rc = -ETIMEDOUT;
		break;
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		snprintf(m, sizeof(m), "GET %s: body truncated: %s", url, why);
		rc = -EIO;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
		snprintf(m, sizeof(m), "GET %s: TLS: %s", url, why);
		rc = -EIO;
		break;
	case CURLE_OUT_OF_MEMORY:
		snprintf(m, sizeof(m), "GET %s: out of memory", url);
		rc = -ENOMEM;
		break;
	default:
		snprintf(m, sizeof(m), "GET %s: %s", url, why);
		rc = -EIO;
		break;
	}
	memcpy(j->msg, m, sizeof(m));
	return rc;
}

static void setup(CURL *h, struct vv_http_job *j, char *ebuf, unsigned connect_s,
		  unsigned stall_s, const char *ca_file)
{
	curl_easy_reset(h); /* options back to defaults; the connections stay */
	*ebuf = '\0';
	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, j);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)connect_s);
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	j->last_ns = vv_mono_ns(); /* the connect has its own bound */
	j->stall_ns = (uint64_t)stall_s * 1000000000u;
	j->connect_ns = (int64_t)connect_s * 1000000000;
	j->stalled = j->any = false;
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, j);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "venvfs/" VV_VERSION);
}

int vv_http_get_many(struct vv_http_job *jobs, size_t n, const struct vv_http_opts *o)
{
	int r = vv_http_init();
	if (r < 0)
		return r;
	struct tls *t = thread_state();
	if (!t)
		return vv_err(-ENOMEM, "out of memory for HTTP");
	unsigned connect_s = o && o->connect_s ? o->connect_s : 10;
	unsigned stall_s = o && o->stall_s ? o->stall_s : 30;
	bool busy[VV_HTTP_PARALLEL] = { false };
	size_t next = 0, active = 0;
	for (size_t i = 0; i < n; i++) {
		jobs[i].rc = 0;
		jobs[i].msg[0] = '\0';
		jobs[i].got = 0;
		jobs[i].sink_err = 0;
	}
	while (next < n || active) {
		for (size_t s = 0; s < VV_HTTP_PARALLEL && next < n; s++) {
			if (busy[s])
				continue;
			if (!t->easy[s] && !(t->easy[s] = curl_easy_init())) {
				if (active)
					break; /* go on with the handles there are */
				return vv_err(-ENOMEM, "out of memory for HTTP");
			}
			setup(t->easy[s], &jobs[next], t->ebuf[s], connect_s, stall_s,
			      o ? o->ca_file : NULL);
			if (curl_multi_add_handle(t->m, t->easy[s]) != CURLM_OK) {
				jobs[next].rc = -ENOMEM;
				snprintf(jobs[next].msg, sizeof(jobs[next].msg), "GET %s: out of memory",
					 jobs[next].url);
				next++;
				continue;
			}
			busy[s] = true;
			next++;
			active++;
		}
		int running;
		curl_multi_perform(t->m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(t->m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *h = msg->easy_handle;
			CURLcode c = msg->data.result;
			struct vv_http_job *j = NULL;
			curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&j);
			size_t s = 0;
			while (s < VV_HTTP_PARALLEL && t->easy[s] != h)
				s++;
			j->rc = finish(h, c, j, s < VV_HTTP_PARALLEL ? t->ebuf[s] : "", stall_s);
			curl_multi_remove_handle(t->m, h);
			if (s < VV_HTTP_PARALLEL)
				busy[s] = false;
			active--;
		}
		if (active)
			curl_multi_poll(t->m, NULL, 0, 1000, NULL);
	}
	return 0;
}

int vv_http_get(const char *url, const struct vv_http_opts *o, uint64_t maxlen,
		vv_http_sink sink, void *arg)
{
	struct vv_http_job j = { .url = url, .sink = sink, .arg = arg, .maxlen = maxlen };
	int r = vv_http_get_many(&j, 1, o);
	if (r < 0)
		return r;
	return j.rc < 0 ? vv_err(j.rc, "%s", j.msg) : 0;
}
struct membuf {
	char *p;
	size_t len, cap;
};

static int to_mem(const void *buf, size_t len, void *arg)
{
	struct membuf *m = arg;
	if (m->len + len + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + len + 1)
			cap *= 2;
		char *p = realloc(m->p, cap);
		if (!p)
			return vv_err(-ENOMEM, "out of memory");
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

int vv_http_get_buf(const char *url, const struct vv_http_opts *o, size_t maxlen,
		    char **out, size_t *len)
{
	struct membuf m = { 0 };
	int r = vv_http_get(url, o, maxlen, to_mem, &m);
	if (r == 0 && !m.p && !(m.p = malloc(1)))
		r = vv_err(-ENOMEM, "out of memory");
	if (r < 0) {
		free(m.p);
		return r;
	}
	m.p[m.len] = '\0';
	*out = m.p;
	*len = m.len;
	return 0;
}
